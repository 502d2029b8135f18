"""Indexing and positions: getitem (``x[:, -1]``, ``x[..., :k]``, ``x[None]``) and arange."""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar

from .. import codes, layout
from ..dims import Dim, Expr, compare, floordiv, is_dim, render
from ..types import Tensor
from .args import ArgTypeError, Before
from .base import Args, DimArg, Forward, Op, _show, is_tensor_value, register
from .memory import indexed

FULL = ("slice", None, None, None)


def _bound(v) -> bool:
    return v is None or is_dim(v)


INDEX = "integers, slices `a:b:c`, `...` and `None`"  # what `x[...]` takes, in words


def _item(v):
    if v is None or v == "..." or is_dim(v):
        return v
    if isinstance(v, tuple) and len(v) == 4 and v[0] == "slice":
        bad = [x for x in v[1:] if not _bound(x)]
        if not bad:
            return v
        _refuse(bad[0], "a slice's bound: an integer, or nothing")
    _refuse(v, "an index: an integer, a slice `a:b:c`, `...` or `None`")


def _refuse(v, expected: str):
    """Refuse an index item (or a slice's bound) ``v``; a tensor in the spec's terms."""
    if is_tensor_value(v):
        raise ArgTypeError(f"{_show(v)} cannot index here: netspec indexes with {INDEX}, not by a tensor's values",
                           help="write integers or slices in `[...]` (`x[0]`, `x[:, 1:3]`); indexing by a "
                           "tensor's values is not supported")
    raise ValueError(f"expected {expected}, received {_show(v)}")


def _index(v):
    if not isinstance(v, tuple) or (v and v[0] == "slice"):
        v = (v,)  # one item: x[1], x[None], x[1:3]
    return tuple(_item(x) for x in v)


class GetitemArgs(Args):
    index: Annotated[Any, Before(_index, INDEX)]


_SIMPLE = re.compile(r"-?(?:[0-9][0-9_.]*|[A-Za-z_][A-Za-z0-9_]*)")


def _subscript(item, code) -> str:
    """One item of ``x[...]`` as Python source; ``code`` renders a dim. A slice spaces its
    colons when a bound is more than a name or a number (`x[: self.k]`), as ruff formats it."""
    if item is None:
        return "None"
    if item == "...":
        return "..."
    if not isinstance(item, tuple):
        return code(item)
    parts = ["" if b is None else code(b) for b in item[1:]]
    if item[3] is None:
        parts.pop()
    if all(not p or _SIMPLE.fullmatch(p) for p in parts):
        return ":".join(parts)
    out = parts[0]
    for before, p in zip(parts, parts[1:]):  # ':' as a binary operator: spaced where it has an operand
        out += (" :" if before else ":") + (f" {p}" if p else "")
    return out


class Subscript(tuple):
    """The items of ``x[...]``, written by the built module's code once its dims read as
    Python (build.Scope.value asks ``render_code``)."""

    def render_code(self, value) -> str:
        items = [_subscript(i, value) for i in self]
        return ", ".join(items) if items else "()"


@register
class Getitem(Op):
    """Basic indexing, as Python and torch read ``x[...]``: an integer selects (and drops) a
    dim, a slice keeps part of one (steps > 0), None inserts a dim of 1, ``...`` stands for
    the dims no other item names. The result is a view."""

    name = "getitem"
    keeps_values = True  # its elements are its input's
    Args = GetitemArgs
    positional = ("index",)
    examples: ClassVar[list[dict]] = [
        {"stage": 'getitem((("slice", None, None, None), -1))', "input": "float32[2, 5]"},
        {"stage": 'getitem(("...", ("slice", None, 3, None)))', "input": "float32[2, 3, 5]"},
        {"stage": 'getitem(("slice", 1, 10, 2))', "input": "float32[12, 2]"},
        {"stage": "getitem(None)", "input": "float32[2, 3]"},
        {"stage": "getitem((None, \"...\", None))", "input": "int64[4]"},
        {"stage": "getitem(1)", "input": "float32[3, 4]"},
        {"stage": "getitem((-1, -2))", "input": "float32[3, 4]"},
        {"stage": 'getitem((("slice", -3, None, None), ("slice", None, -1, 2)))', "input": "float32[5, 6]"},
        {"stage": 'getitem(("slice", -100, 100, 3))', "input": "float32[7]"},
        {"stage": 'getitem(("slice", 4, 2, None))', "input": "float32[7]"},
        {"stage": 'getitem(("slice", 9, None, None))', "input": "float32[7]"},
        {"stage": 'getitem((("slice", None, None, 3), "...", 0, None))', "input": "bool[7, 2, 3]"},
        {"stage": "getitem(())", "input": "float32[2]"},
        {"stage": 'getitem("...")', "input": "float32[]"},
        {"stage": "getitem(index=(0, 1, 2))", "input": "float16[2, 3, 4]"},
        {"stage": 'getitem((0, "...", None, 1))', "input": "float32[2, 3, 4, 5]"},
    ]

    def batch_axis(self, a, rank):
        return 0 if rank >= 1 and a.index and a.index[0] == FULL else None

    def label(self, a, dim=None):
        def show(v) -> str:
            return render(dim(v) if dim is not None and isinstance(v, Expr) else v)
        return f"getitem [{', '.join(_subscript(i, show) for i in a.index)}]"

    def result_strides(self, a, inputs, outputs, strides):
        return [indexed(a.index, inputs[0].shape, strides[0])]

    def op_expr(self, a, inputs, code):
        return f"{inputs[0]}[{code(Subscript(a.index))}]"

    def infer(self, ctx, a, inputs):
        (x,) = inputs
        items = a.index
        if items.count("...") > 1:  # torch's reading of a second one is its own: refused, as NumPy does
            raise ctx.fail(codes.VALUE, f"{ctx.kind_name}: an index can have only one `...`", arg="index",
                           help="keep one `...`: it stands for every dim the other indices leave out")
        used = sum(1 for i in items if i is not None and i != "...")
        if used > x.rank:
            raise ctx.fail(codes.RANK, f"{ctx.kind_name}: {used} indices for {ctx.show_tensor(x)}, which has "
                           f"{x.rank} dims",
                           arg="index", help=f"index at most {x.rank} dims; `None` adds a dim")
        shape: list[Dim] = []
        keep: dict[int, int] = {}
        batch = None  # where the samples are, when a slice cuts the dim they are merged into
        d = 0  # the input dim the next item indexes
        for item in items:
            if item is None:
                shape.append(1)
            elif item == "...":  # the dims no other item names
                for _ in range(x.rank - used):
                    keep[len(shape)] = d
                    shape.append(x.shape[d])
                    d += 1
            elif isinstance(item, tuple):
                size = self.slice_size(ctx, x, d, item)
                if compare(size, x.shape[d]) is True:
                    keep[len(shape)] = d
                else:
                    batch = self.sliced_batch(ctx, x, d, item, size, len(shape)) or batch
                shape.append(size)
                d += 1
            else:
                self.check_int(ctx, x, d, item)
                d += 1
        for k in range(d, x.rank):
            keep[len(shape)] = k
            shape.append(x.shape[k])
        return [x.with_shape(tuple(shape), ctx.origin, keep=keep, batch=batch)]

    def sliced_batch(self, ctx, x: Tensor, d: int, item, size: Dim, at: int):
        """``Tensor.batch`` of the result when the slice cuts the dim that holds the merged
        batch (its dim ``at``); a `layout` error when the cut would not keep the samples."""
        if x.batch is None or x.batch[0] != d:
            return None
        _, start, _, step = item
        if start is None:
            start = 0
        elif ctx.less_equal(start, -1):  # counted from the end (slice_size warned if it may pass the start)
            start = x.shape[d] + start
        step = 1 if step is None else ctx.concrete(step, "a slice step")
        inner = ctx.sliced_batch(ctx.kind_name, x, d, start, size, step, arg="index")
        return None if inner is None else (at, inner, x.batch[2])

    def layout(self, ctx, a, inputs, outputs):
        return [layout.indexed(inputs[0], outputs[0], a.index, ctx.decide)]

    def check_int(self, ctx, x: Tensor, d: int, i) -> None:
        n, v = ctx.dim(x.shape[d]), ctx.dim(i)
        if not isinstance(n, int) and isinstance(v, int):  # a symbolic size: the index must fit every value
            need = v + 1 if v >= 0 else -v
            fits = ctx.assume_at_most(need, x.shape[d])
            if fits is False:
                raise ctx.fail(codes.VALUE, f"{ctx.kind_name}: index {v} is out of range for dim {d} of size "
                               f"{ctx.show(n)}",
                               [n for n in [ctx.origin_note(x, d)] if n], arg="index",
                               help=f"the dim must have at least {need} elements for this index")
            if fits is None:
                self.assume(ctx, x, d, f"the size {ctx.show(n)} is at least {need}, so index {v} exists")
            return
        if isinstance(n, int) and isinstance(v, int):
            ctx.fix(x.shape[d], i)
            if not -n <= v < n:
                raise ctx.fail(codes.VALUE, f"{ctx.kind_name}: index {v} is out of range for dim {d} of size {n}",
                               [n for n in [ctx.origin_note(x, d)] if n], arg="index",
                               help=f"an index into a dim of size {n} is {-n} to {n - 1}")

    def slice_size(self, ctx, x: Tensor, d: int, item) -> Dim:
        """Python's slice length over a dim: bounds counted from the end when negative,
        clamped to the dim, ceil((stop - start) / step) elements (none when stop <= start)."""
        _, start, stop, step = item
        n = x.shape[d]
        step = 1 if step is None else ctx.concrete(step, "a slice step", "index")
        if step <= 0:
            raise ctx.fail(codes.VALUE, f"{ctx.kind_name}: the slice step must be greater than zero, received {step}",
                           arg="index", help="flip the tensor instead: torch does not take negative steps")
        if start is None and stop is None and step == 1:
            return n  # the dim itself
        lo = 0 if start is None else self.clamp(ctx, x, d, start)
        hi = n if stop is None else self.clamp(ctx, x, d, stop)
        span = hi - lo
        order = ctx.assume_at_most(lo, hi)
        if order is False:
            return 0
        if order is None:
            self.assume(ctx, x, d, f"the slice's stop ({render(ctx.dim(hi))}) is at least its start "
                        f"({render(ctx.dim(lo))})")
        ctx.fix(span)
        return floordiv(span + step - 1, step)

    def clamp(self, ctx, x: Tensor, d: int, v) -> Dim:
        """A slice bound as an offset into the dim: from the end when negative, then clamped
        to 0..size."""
        n = x.shape[d]
        if ctx.less_equal(v, -1):
            w = n + v
            inside = ctx.assume_at_most(-v, n)
            if inside is None:
                self.assume(ctx, x, d, f"{render(ctx.dim(-v))} is at most the size {ctx.show(n)}")
            ctx.fix(v, n)
            return w if inside is not False else 0
        inside = ctx.assume_at_most(v, n)
        if inside is None:
            self.assume(ctx, x, d, f"{render(ctx.dim(v))} is at most the size {ctx.show(n)}")
        ctx.fix(v, n)
        return v if inside is not False else n

    def assume(self, ctx, x: Tensor, d: int, fact: str) -> None:
        """A fact the slice's size depends on that cannot be proven: an `unproven` warning,
        and the size stated as if it holds (a block checked for every size assumes it)."""
        if ctx.warns_unproven():
            ctx.warn(codes.UNPROVEN, f"{ctx.kind_name}: the size of dim {d} of the result assumes that {fact}, "
                     "which cannot be proven for every value of the symbols",
                     [f"the input is {ctx.show_tensor(x)}"], arg="index",
                     help="check that it holds; `# netspec: allow[unproven]` on the line accepts it")


# -- arange --------------------------------------------------------------------------------------

class ArangeArgs(Args):
    start: DimArg = 0
    end: DimArg
    step: DimArg = 1


@register
class Arange(Op):
    """``torch.arange(end)`` or ``torch.arange(start, end, step)``: int64 positions, made on
    the device of the network's first input. It starts a chain: ``arange(seq) -> unsqueeze(0)``."""

    name = "arange"
    Args = ArangeArgs
    positional = ("start", "end", "step")
    min_inputs = 0
    max_inputs = 0
    examples: ClassVar[list[dict]] = [{"stage": "arange(5)", "input": None},
                                      {"stage": "arange(2, 9)", "input": None},
                                      {"stage": "arange(1, 10, 3)", "input": None},
                                      {"stage": "arange(10, 1, -3)", "input": None},
                                      {"stage": "arange(start=3, end=3)", "input": None},
                                      {"stage": "arange(0, 7, step=2)", "input": None}]

    def validate(self, values):
        if "end" not in values and "start" in values:  # arange(end)
            values = {("end" if k == "start" else k): v for k, v in values.items()}
        return super().validate(values)

    def is_view(self):
        return False

    def op_expr(self, a, inputs, code, device: str | None = None):
        args = [code(a.end)] if "start" not in a.model_fields_set and "step" not in a.model_fields_set \
            else [code(a.start), code(a.end)] + ([code(a.step)] if "step" in a.model_fields_set else [])
        return f"torch.arange({', '.join(args + ([f'device={device}'] if device else []))})"

    def forward(self, a, module, inputs, state, code, in_place=False):
        return Forward(expr=self.op_expr(a, inputs, code, state.get("device")))

    def value_range(self, a, inputs):
        """``start`` to ``end`` (excluded) with a positive step, ``end`` (excluded) to ``start``
        with a negative one."""
        if not isinstance(a.step, int):
            return None
        return (a.start, a.end) if a.step > 0 else (a.end + 1, a.start + 1)

    def infer(self, ctx, a, inputs):
        step = ctx.concrete(a.step, "arange's step", "step")
        if step == 0:
            raise ctx.fail(codes.VALUE, "arange: the step must not be 0", arg="step")
        span = a.end - a.start if step > 0 else a.start - a.end
        order = ctx.less_equal(0, span)
        if order is False:
            raise ctx.fail(codes.VALUE, f"arange: from {render(ctx.dim(a.start))} to {render(ctx.dim(a.end))} "
                           f"is against the step {step}", arg="end")
        if order is None:
            ctx.warn(codes.UNPROVEN, f"arange needs {render(ctx.dim(a.end))} to be "
                     f"{'at least' if step > 0 else 'at most'} {render(ctx.dim(a.start))}, which cannot be "
                     "proven for every value of the symbols", help="torch raises where it does not hold")
        if order is True:
            ctx.requires_at_most(0, span)  # the class tests it where the values alone make it hold
        else:
            ctx.fix(span)
        count = floordiv(span + abs(step) - 1, abs(step))
        return [Tensor("int64", (count,), (ctx.origin,))]
