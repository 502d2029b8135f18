"""Joining and cutting along a dim: stack, split, chunk, narrow."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any, ClassVar

from .. import codes, layout
from ..dims import Dim, compare, is_dim, render
from ..types import UNKNOWN, Tensor, promote_types
from .args import Before
from .base import Args, DimArg, Op, _show, register

# The most results a split or chunk may have: beyond it the spec is refused (a `limit`).
MAX_PIECES = 1024


@lru_cache(maxsize=None)
def piece_names(n: int) -> tuple[str, ...]:
    return tuple(f"output{i}" for i in range(n))


class StackArgs(Args):
    dim: DimArg = 0


@register
class Stack(Op):
    """``torch.stack((a, b, ...), dim)``: tensors of one shape joined along a new dim."""

    name = "stack"
    Args = StackArgs
    positional = ("dim",)
    min_inputs = 1
    max_inputs = None
    examples: ClassVar[list[dict]] = [{"stage": "stack", "input": "float32[2, 3]", "others": 1},
                                      {"stage": "stack(dim=2)", "input": "float32[2, 3]", "others": 2},
                                      {"stage": "stack(-1)", "input": "int64[4]", "others": 1},
                                      {"stage": "stack(1)", "input": "float32[2, 3]", "other_shapes": ["float64[2, 3]"]},
                                      {"stage": "stack(dim=-3)", "input": "float32[2, 3]", "others": 1},
                                      {"stage": "stack", "input": "float16[]", "other_shapes": ["int32[]"]},
                                      {"stage": "stack(0)", "input": "bool[3]"}]

    def is_view(self):
        return False

    def batch_axis(self, a, rank):
        return 0 if isinstance(a.dim, int) and rank >= 1 and a.dim % (rank + 1) != 0 else None

    def op_expr(self, a, inputs, code):
        tensors = f"({inputs[0]},)" if len(inputs) == 1 else f"({', '.join(inputs)})"
        return f"torch.stack({tensors}, dim={code(a.dim)})"

    def infer(self, ctx, a, inputs):
        first = inputs[0]
        d = self.dim_index(ctx, a.dim, first.rank, "dim", extra=1)
        dtype = first.dtype
        for k, t in enumerate(inputs):
            dtype = promote_types(dtype, t.dtype)
            if t.rank != first.rank:
                raise ctx.fail(codes.SHAPE, f"stack needs tensors of one shape: tensor {k} is {ctx.show_tensor(t)}, "
                               f"tensor 0 is {ctx.show_tensor(first)}", help="`cat` joins along an existing dim")
            for i in range(first.rank):
                if not ctx.same(t.shape[i], first.shape[i]):
                    notes = [n for n in (ctx.origin_note(first, i), ctx.origin_note(t, i)) if n]
                    raise ctx.fail(codes.SHAPE, f"stack needs tensors of one shape: dim {i} is {ctx.show(first.shape[i])} "
                                   f"in tensor 0 and {ctx.show(t.shape[i])} in tensor {k}", notes,
                                   help="`cat` joins along an existing dim")
        shape = first.shape[:d] + (len(inputs),) + first.shape[d:]
        keep = {n: (n if n < d else n - 1) for n in range(first.rank + 1) if n != d}
        return [first.with_shape(shape, ctx.origin, keep=keep, dtype=dtype)]

    def layout(self, ctx, a, inputs, outputs):
        """A new tensor: contiguous whatever its inputs' strides (tests/test_formats.py runs
        contiguous, channels-last and transposed inputs through torch), but of 5 dims, where
        torch keeps 4-dim channels-last inputs' order in a way netspec does not state."""
        if all(t.strides is None for t in inputs) or outputs[0].rank != 5:
            return [None]
        return [UNKNOWN]


# -- several results ------------------------------------------------------------------------------

class _Pieces(Op):
    """An op whose results are pieces of its input along ``dim``, views of it, named
    ``output0``, ``output1``, ...; a binding exposes each (`parts.output1`)."""

    results = ("output0",)
    multi_view = True

    def result_pattern(self, names):
        return f"({names[0]},)" if len(names) == 1 else ", ".join(names)  # torch returns a tuple

    def batch_axis(self, a, rank):
        return 0 if isinstance(a.dim, int) and rank >= 2 and a.dim % rank != 0 else None

    def layout(self, ctx, a, inputs, outputs):
        return [layout.kept(inputs[0], out, ctx.decide) for out in outputs]

    def pieces(self, ctx, a, x: Tensor, d: int, sizes: list[Dim]) -> list[Tensor]:
        if len(sizes) > MAX_PIECES:
            raise ctx.fail(codes.LIMIT, f"{self.name} makes {len(sizes)} results; netspec allows at most {MAX_PIECES}",
                           help="cut into fewer, larger pieces")
        keep = {i: i for i in range(x.rank) if i != d}
        out, start = [], 0
        for s in sizes:
            inner = ctx.sliced_batch(self.name, x, d, start, s, arg="dim")
            out.append(x.with_shape(x.shape[:d] + (s,) + x.shape[d + 1:], ctx.origin, keep=keep,
                                    batch=None if inner is None else (d, inner, x.batch[2])))
            start = start + s
        return out

    def axis(self, ctx, a, x: Tensor) -> int:
        if x.rank == 0:
            raise ctx.fail(codes.RANK, f"{self.name} needs a tensor with at least one dim, received {ctx.show_tensor(x)}",
                           help="unsqueeze it first: `-> unsqueeze(0)`")
        return self.dim_index(ctx, a.dim, x.rank, "dim")

    def unproven(self, ctx, x: Tensor, d: int, what: str):
        return ctx.fail(codes.UNPROVEN, f"{self.name}: {what} depends on the size of dim {d} of "
                        f"{ctx.show_tensor(x)}, which is not a known integer", ctx.input_story(), arg="dim",
                        help="give that dim a concrete size (an input size or an assertion), or use `narrow`")


def _sizes_arg(v):
    if is_dim(v) or (isinstance(v, tuple) and v and all(is_dim(x) for x in v)):
        return v
    raise ValueError(f"expected a size or a tuple of sizes, received {_show(v)}")


class SplitArgs(Args):
    split_size_or_sections: Annotated[Any, Before(_sizes_arg, "a positive integer or a tuple of them")]
    dim: DimArg = 0


@register
class Split(_Pieces):
    """``x.split(size, dim)``: pieces of ``size`` (the last one shorter); or
    ``x.split((a, b, c), dim)``: pieces of those sizes, which must add up to the dim."""

    name = "split"
    Args = SplitArgs
    positional = ("split_size_or_sections", "dim")
    examples: ClassVar[list[dict]] = [{"stage": "split(3)", "input": "float32[10, 2]"},
                                      {"stage": "split(2, dim=1)", "input": "float32[3, 4]"},
                                      {"stage": "split((3, 7))", "input": "int64[10]"},
                                      {"stage": "split((1, 2, 1), -1)", "input": "float32[2, 4]"},
                                      {"stage": "split(5, 1)", "input": "float32[2, 3]"},
                                      {"stage": "split(split_size_or_sections=4, dim=-2)", "input": "float16[8, 3]"},
                                      {"stage": "split(0)", "input": "float32[0, 3]"},
                                      {"stage": "split((2,), 0)", "input": "float32[2, 3]"}]

    def result_names(self, a):
        s = a.split_size_or_sections
        return piece_names(len(s) if isinstance(s, tuple) else MAX_PIECES)

    def op_expr(self, a, inputs, code):
        return f"{inputs[0]}.split({code(a.split_size_or_sections)}, dim={code(a.dim)})"

    def infer(self, ctx, a, inputs):
        (x,) = inputs
        d = self.axis(ctx, a, x)
        n = x.shape[d]
        s = a.split_size_or_sections
        if isinstance(s, tuple):
            return self.pieces(ctx, a, x, d, self.sections(ctx, x, d, s))
        total = ctx.dim(n)
        if not isinstance(total, int):
            if compare(ctx.dim(s), total) is not True:
                raise self.unproven(ctx, x, d, "the number of pieces")
            ctx.fix(s, n)  # split(seq) of seq: one piece
            return self.pieces(ctx, a, x, d, [n])
        ctx.fix(n)
        size = ctx.concrete(s, "the split size", "split_size_or_sections")
        if size < 0 or (size == 0 and total):
            raise ctx.fail(codes.VALUE, f"split: a size of {size} cannot cut dim {d} of size {total}",
                           arg="split_size_or_sections", help="sizes are at least 1 (0 only for a dim of size 0)")
        if total == 0:
            return self.pieces(ctx, a, x, d, [0])
        return self.pieces(ctx, a, x, d, [min(size, total - i) for i in range(0, total, size)])

    def sections(self, ctx, x: Tensor, d: int, sizes: tuple) -> list[Dim]:
        total: Dim = 0
        for s in sizes:
            v = ctx.dim(s)
            if isinstance(v, int) and v < 0:
                raise ctx.fail(codes.VALUE, f"split: the size {v} is negative", arg="split_size_or_sections")
            total = total + s
        verdict = compare(ctx.dim(total), ctx.dim(x.shape[d]))
        if verdict is None and ctx.assume_equal(total, x.shape[d]):
            return list(sizes)
        if verdict is not True:
            notes = [n for n in [ctx.origin_note(x, d)] if n]
            code = codes.SHAPE if verdict is False else codes.UNPROVEN
            raise ctx.fail(code, f"split: the sizes {_show(sizes)} add up to {render(ctx.dim(total))}, "
                           f"{'not' if verdict is False else 'not provably'} the size of dim {d} of "
                           f"{ctx.show_tensor(x)}", notes, arg="split_size_or_sections",
                           help="the sizes must add up to the dim's size")
        ctx.fix(total, x.shape[d])
        return list(sizes)


class ChunkArgs(Args):
    chunks: DimArg
    dim: DimArg = 0


@register
class Chunk(_Pieces):
    """``x.chunk(chunks, dim)``: pieces of ceil(size / chunks), the last one shorter; fewer
    than ``chunks`` pieces where that size covers the dim sooner (10 in 3: 4, 4, 2; 6 in 4:
    2, 2, 2); ``chunks`` empty pieces of a dim of size 0."""

    name = "chunk"
    Args = ChunkArgs
    positional = ("chunks", "dim")
    examples: ClassVar[list[dict]] = [{"stage": "chunk(3)", "input": "float32[10]"},
                                      {"stage": "chunk(3)", "input": "float32[2, 5]"},
                                      {"stage": "chunk(4, dim=1)", "input": "float32[2, 6]"},
                                      {"stage": "chunk(2, -1)", "input": "bfloat16[3, 8]"},
                                      {"stage": "chunk(1, 1)", "input": "float32[2, 3]"},
                                      {"stage": "chunk(chunks=3, dim=0)", "input": "int64[0, 2]"},
                                      {"stage": "chunk(5)", "input": "float32[3]"}]

    def result_names(self, a):
        return piece_names(a.chunks if isinstance(a.chunks, int) and 0 < a.chunks <= MAX_PIECES else MAX_PIECES)

    def op_expr(self, a, inputs, code):
        return f"{inputs[0]}.chunk({code(a.chunks)}, dim={code(a.dim)})"

    def infer(self, ctx, a, inputs):
        (x,) = inputs
        chunks = ctx.concrete(a.chunks, "the number of chunks", "chunks")
        if chunks < 1:
            raise ctx.fail(codes.VALUE, f"chunk: the number of chunks must be at least 1, received {chunks}", arg="chunks")
        d = self.axis(ctx, a, x)
        n = x.shape[d]
        if chunks == 1:
            return self.pieces(ctx, a, x, d, [n])
        total = ctx.known(n)
        if not isinstance(total, int):
            raise self.unproven(ctx, x, d, f"the number and sizes of {chunks} chunks")
        if total == 0:
            return self.pieces(ctx, a, x, d, [0] * chunks)
        size = -(-total // chunks)
        return self.pieces(ctx, a, x, d, [min(size, total - i) for i in range(0, total, size)])


class NarrowArgs(Args):
    dim: DimArg
    start: DimArg
    length: DimArg


@register
class Narrow(Op):
    """``x.narrow(dim, start, length)``: ``length`` elements from ``start`` (negative: from
    the end), a view."""

    name = "narrow"
    keeps_values = True  # its elements are its input's
    Args = NarrowArgs
    positional = ("dim", "start", "length")
    examples: ClassVar[list[dict]] = [{"stage": "narrow(0, 1, 2)", "input": "float32[4, 3]"},
                                      {"stage": "narrow(-1, -3, 2)", "input": "float32[2, 10]"},
                                      {"stage": "narrow(1, 0, 0)", "input": "int64[2, 3]"},
                                      {"stage": "narrow(dim=1, start=3, length=0)", "input": "float32[2, 3]"},
                                      {"stage": "narrow(0, -4, 4)", "input": "float32[4]"}]

    def batch_axis(self, a, rank):
        return 0 if isinstance(a.dim, int) and rank >= 2 and a.dim % rank != 0 else None

    def op_expr(self, a, inputs, code):
        return f"{inputs[0]}.narrow({code(a.dim)}, {code(a.start)}, {code(a.length)})"

    def layout(self, ctx, a, inputs, outputs):
        return [layout.kept(inputs[0], outputs[0], ctx.decide)]

    @staticmethod
    def _any_end(ctx, t: Dim, length: Dim, n: Dim) -> tuple:
        """A start ``t`` from the parameters, whichever end it counts from (torch adds ``n``
        to a negative one): the class tests ``-n <= t``, ``t + length <= n`` and
        ``0 <= t * (t + length)`` (a negative start leaves ``length`` elements exactly
        when ``t + length <= 0``; the product is negative exactly between), for every value
        of the parameters."""
        return (0, length), (-n, t), (t + length, n), (0, t * (t + length))

    def infer(self, ctx, a, inputs):
        (x,) = inputs
        if x.rank == 0:
            raise ctx.fail(codes.RANK, "narrow needs a tensor with at least one dim",
                           help="unsqueeze it first: `-> unsqueeze(0)`")
        d = self.dim_index(ctx, a.dim, x.rank, "dim")
        n = x.shape[d]
        start = a.start
        if ctx.less_equal(start, -1):  # counted from the end
            start = n + start
        size, first, length = ctx.show(n), render(ctx.dim(a.start)), render(ctx.dim(a.length))
        checks = ((ctx.assume_at_most(0, start), f"start {first} is out of range for dim {d} of size {size}"),
                  (ctx.assume_at_most(0, a.length), f"length {length} is negative"),
                  (ctx.assume_at_most(start + a.length, n),
                   f"start {first} + length {length} exceeds dim {d} of size {size}"))
        for fact, problem in checks:
            if fact is False:
                raise ctx.fail(codes.VALUE, f"narrow: {problem}", [f"the input is {ctx.show_tensor(x)}"], arg="start")
            if fact is None and ctx.warns_unproven():
                ctx.warn(codes.UNPROVEN, f"narrow: whether {problem} depends on the values of the symbols; "
                         "netspec assumes it does not", [f"the input is {ctx.show_tensor(x)}"], arg="start",
                         help="check that it holds; `# netspec: allow[unproven]` on the line accepts it")
        if ctx.over_params(a.start):
            facts = self._any_end(ctx, a.start, a.length, n)
        else:
            ctx.fix(a.start)  # which end it counts from
            facts = ((0, start), (0, a.length), (start + a.length, n))  # a start from the end: n - k >= 0
        for lo, hi in facts:
            if ctx.less_equal(lo, hi) is True:
                ctx.requires_for_every_value(lo, hi)  # the class tests it where the values alone make it hold
            else:
                ctx.fix(lo, hi)
        keep = {i: i for i in range(x.rank) if i != d}
        inner = ctx.sliced_batch("narrow", x, d, start, a.length, arg="start")
        return [x.with_shape(x.shape[:d] + (a.length,) + x.shape[d + 1:], ctx.origin, keep=keep,
                             batch=None if inner is None else (d, inner, x.batch[2]))]
