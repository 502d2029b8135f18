"""Matrix products: matmul, bmm, einsum.

FLOPs are what torch.utils.flop_counter.FlopCounterMode counts: 2 per multiply-accumulate
of the matrix products torch runs (mm, bmm), nothing for a matrix-vector product (mv,
dot), which the counter does not count.
"""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple

from .. import codes
from ..dims import Dim
from ..types import FLOAT_DTYPES, ITEMSIZE, UNKNOWN, Tensor, placed
from .arith import broadcast, broadcast_to
from .base import Args, Op, StrArg, numel, register
from .einsum_saved import einsum_saved, operand, order
from .memory import Saved, expanded, unknown_strides, view_strides


def _same_dtype(ctx, name: str, tensors: list[Tensor], floats_only: bool = False) -> str:
    first = tensors[0]
    for k, t in enumerate(tensors):
        if t.dtype != first.dtype:
            raise ctx.fail(codes.DTYPE, f"{name} needs one dtype: tensor {k} is {t.dtype}, tensor 0 is {first.dtype}",
                           help="convert one of them first: `-> to(float32)`")
        if t.dtype == "bool" or (floats_only and t.dtype not in FLOAT_DTYPES):
            raise ctx.fail(codes.DTYPE, f"{name} needs {'floating-point' if floats_only else 'numeric'} tensors, "
                           f"received {ctx.show_tensor(t)} (tensor {k})", ctx.input_story(k),
                           help="convert it first: `-> float()`")
    return first.dtype


def _contract(ctx, name: str, a: Tensor, b: Tensor, ia: int, ib: int) -> None:
    """A `shape` error unless dim ``ia`` of ``a`` and dim ``ib`` of ``b`` (the summed ones) agree."""
    if not ctx.same(a.shape[ia], b.shape[ib]):
        notes = [n for n in (ctx.origin_note(a, ia), ctx.origin_note(b, ib)) if n]
        raise ctx.fail(codes.SHAPE, f"{name}: {ctx.show_tensor(a)} and {ctx.show_tensor(b)} cannot be multiplied: "
                       f"dim {ia} of the first is {ctx.show(a.shape[ia])}, dim {ib} of the second is "
                       f"{ctx.show(b.shape[ib])}", notes, help="the first's last dim must be the second's "
                       + ("only dim" if b.rank == 1 else "second-to-last"))


def _each_other(grad) -> Saved:
    """A product keeps each operand for the other's gradient: only those some gradient reads."""
    return Saved(inputs=tuple(i for i, other in ((0, 1), (1, 0)) if grad.grad(other)))


class _Operand(NamedTuple):
    """A matmul operand as torch sees it: its shape, its strides, whether it needs a gradient."""

    shape: tuple
    strides: tuple
    grad: bool

    @property
    def rank(self) -> int:
        return len(self.shape)

    def mT(self) -> "_Operand":
        return _Operand(self.shape[:-2] + self.shape[-1:] + self.shape[-2:-1],
                        self.strides[:-2] + self.strides[-1:] + self.strides[-2:-1], self.grad)


def _should_fold(x: _Operand, y: _Operand, rank1: int) -> bool:
    """ATen's should_fold: the operand of 3 or more dims (transposed when it is the second)
    folds into a matrix against one of at most 2 dims when the smaller needs a gradient, or
    when the first is no matrix and the larger's dims are contiguous (no copy)."""
    larger = x.rank >= y.rank
    t1 = x if larger else y.mT()
    small = y if larger else x
    if not (t1.rank >= 3 and small.rank <= 2):
        return False
    if small.grad:
        return True
    if rank1 == 2:
        return False
    return all(t1.strides[i] == t1.strides[i + 1] * t1.shape[i + 1] for i in range(t1.rank - 1))


def _folded(x: _Operand, y: _Operand, item: int) -> Saved:
    """``mm``/``mv`` of the larger folded into [rows, k] (``reshape``) and the smaller: each
    kept for the other's gradient, the folded one as a view of its operand or as its copy."""
    transpose = y.rank > x.rank
    big, small = (y.mT(), x) if transpose else (x, y)
    b, s = (1, 0) if transpose else (0, 1)
    out = Saved(inputs=(s,)) if big.grad else Saved()
    if small.grad:
        view = view_strides(big.shape, big.strides, (numel(big.shape[:-1]), big.shape[-1]))
        out = out + (Saved(inputs=(b,)) if view is not None else Saved(extra=numel(big.shape) * item))
    return out


def _batched(x: _Operand, y: _Operand, batch: tuple, item: int) -> Saved:
    """``bmm`` of both expanded to the broadcast batch and flattened to [batch, n, m]."""
    rows = numel(batch)
    n = x.shape[-2] if x.rank > 1 else 1
    shape1 = tuple(batch) + (n, x.shape[-1])
    t1 = (shape1, expanded(x.shape, x.strides, shape1), (rows, n, x.shape[-1]))
    if y.rank == 1:  # a vector: [..., m] expanded, then a column [..., m, 1]
        shape2 = tuple(batch) + y.shape
        t2 = (shape2 + (1,), expanded(y.shape, y.strides, shape2) + (1,), (rows, y.shape[0], 1))
    else:
        shape2 = tuple(batch) + y.shape[-2:]
        t2 = (shape2, expanded(y.shape, y.strides, shape2), (rows,) + y.shape[-2:])
    out = Saved()
    for i, (shape, strides, flat), other in ((0, t1, y), (1, t2, x)):
        if other.grad:
            view = view_strides(shape, strides, flat)
            out = out + (Saved(inputs=(i,)) if view is not None else Saved(extra=numel(flat) * item))
    return out


@register
class Matmul(Op):
    """``a @ b`` with torch.matmul's rules: a 1-D operand is a row (first) or a column
    (second) vector, removed from the result; the dims before the last two broadcast."""

    name = "matmul"
    min_inputs = 2
    max_inputs = 2
    examples: ClassVar[list[dict]] = [
        {"stage": "matmul", "input": "float32[3, 5]", "other_shapes": ["float32[5, 4]"]},
        {"stage": "matmul", "input": "float32[5]", "other_shapes": ["float32[5]"]},
        {"stage": "matmul", "input": "float32[3, 5]", "other_shapes": ["float32[5]"]},
        {"stage": "matmul", "input": "float32[5]", "other_shapes": ["float32[5, 4]"]},
        {"stage": "matmul", "input": "float64[2, 3, 5]", "other_shapes": ["float64[2, 5, 4]"]},
        {"stage": "matmul", "input": "float32[2, 3, 5]", "other_shapes": ["float32[5, 4]"]},
        {"stage": "matmul", "input": "float32[3, 5]", "other_shapes": ["float32[2, 5, 4]"]},
        {"stage": "matmul", "input": "float32[2, 1, 3, 5]", "other_shapes": ["float32[6, 5, 4]"]},
        {"stage": "matmul", "input": "float16[2, 3, 5]", "other_shapes": ["float16[5]"]},
        {"stage": "matmul", "input": "float32[5]", "other_shapes": ["float32[2, 5, 4]"]},
        {"stage": "matmul", "input": "int64[2, 3]", "other_shapes": ["int64[3, 2]"]},
    ]

    def is_view(self):
        return False

    def batch_axis(self, a, rank):
        return 0 if rank >= 2 else None

    def op_expr(self, a, inputs, code):
        return f"{inputs[0]} @ {inputs[1]}"

    def infer(self, ctx, a, inputs):
        x, y = inputs
        for k, t in enumerate(inputs):
            if t.rank == 0:
                raise ctx.fail(codes.RANK, f"{ctx.kind_name} needs tensors with at least 1 dim, tensor {k} is "
                               f"{ctx.show_tensor(t)}",
                               help="unsqueeze it, or use `mul` for a scalar")
        dtype = _same_dtype(ctx, ctx.kind_name, inputs)
        _contract(ctx, ctx.kind_name, x, y, x.rank - 1, max(y.rank - 2, 0))
        bx = Tensor(dtype, x.shape[:-2], x.origins[:-2])
        by = Tensor(dtype, y.shape[:-2], y.origins[:-2])
        shape, origins = broadcast(ctx, ctx.kind_name, [bx, by], shown=[x, y])
        if x.rank >= 2:
            shape, origins = shape + (x.shape[-2],), origins + (x.origins[-2],)
        if y.rank >= 2:
            shape, origins = shape + (y.shape[-1],), origins + (y.origins[-1],)
        return [Tensor(dtype, shape, origins, batch=_matmul_batch(x, y, shape))]

    def saved(self, a, inputs, outputs, grad):
        """Each operand for the other's gradient, as the matrix product torch runs reads it
        (ATen's matmul, docs/costs.md): of 3 or more dims folded into a matrix, or expanded to
        the broadcast batch and flattened; a view of the operand where ``reshape`` makes one,
        else the copy it makes."""
        x, y = (_Operand(t.shape, grad.strides_of(i, t.shape), grad.grad(i)) for i, t in enumerate(inputs))
        item = ITEMSIZE[outputs[0].dtype]
        if x.rank <= 2 and y.rank <= 2:
            return _each_other(grad)  # dot, mv, mm (a vector first as a 1-row view)
        if _should_fold(x, y, len(inputs[0].shape)):
            return _folded(x, y, item)
        batch = outputs[0].shape[:outputs[0].rank - (x.rank > 1) - (y.rank > 1)]
        return _batched(x, y, batch, item)

    def flops(self, a, inputs, outputs):
        x, y = inputs
        if y.rank == 1:
            return 0  # a matrix-vector product (mv, dot): not counted
        return 2 * numel(outputs[0].shape) * x.shape[-1]


@register
class Bmm(Op):
    """``torch.bmm(a, b)``: [B, n, m] @ [B, m, p] -> [B, n, p], no broadcasting."""

    name = "bmm"
    min_inputs = 2
    max_inputs = 2
    ranks = (3,)
    rank_help = "bmm takes [batch, n, m] and [batch, m, p]; `matmul` broadcasts other ranks"
    examples: ClassVar[list[dict]] = [
        {"stage": "bmm", "input": "float32[2, 3, 5]", "other_shapes": ["float32[2, 5, 4]"]},
        {"stage": "bmm", "input": "float64[1, 1, 1]", "others": 1},
        {"stage": "bmm", "input": "bfloat16[4, 2, 3]", "other_shapes": ["bfloat16[4, 3, 6]"]},
    ]

    def is_view(self):
        return False

    def batch_axis(self, a, rank):
        return 0

    def op_expr(self, a, inputs, code):
        return f"torch.bmm({inputs[0]}, {inputs[1]})"

    def saved(self, a, inputs, outputs, grad):
        return _each_other(grad)

    def infer(self, ctx, a, inputs):
        x, y = inputs
        if y.rank != 3:
            raise ctx.fail(codes.RANK, f"bmm takes 3-dim tensors, the second is {ctx.show_tensor(y)}",
                           help=self.rank_help)
        dtype = _same_dtype(ctx, "bmm", inputs)
        if not ctx.same(x.shape[0], y.shape[0]):
            notes = [n for n in (ctx.origin_note(x, 0), ctx.origin_note(y, 0)) if n]
            raise ctx.fail(codes.SHAPE, f"bmm needs equal batch sizes: {ctx.show(x.shape[0])} in {ctx.show_tensor(x)} "
                           f"and {ctx.show(y.shape[0])} in {ctx.show_tensor(y)}", notes,
                           help="`matmul` broadcasts a batch of 1; bmm does not")
        _contract(ctx, "bmm", x, y, 2, 1)
        return [Tensor(dtype, (x.shape[0], x.shape[1], y.shape[2]), (x.origins[0], x.origins[1], y.origins[2]))]

    def flops(self, a, inputs, outputs):
        return 2 * numel(outputs[0].shape) * inputs[0].shape[2]


# -- einsum ---------------------------------------------------------------------------------------

def _letters(ctx, term: str, k: int) -> tuple[list[str], bool]:
    """The subscripts of one operand's term, ``...`` as one entry; whether it has one."""
    out: list[str] = []
    rest = term
    while rest:
        if rest.startswith("..."):
            if "..." in out:
                raise ctx.fail(codes.VALUE, f"einsum: operand {k} has more than one ellipsis", arg="equation")
            out.append("...")
            rest = rest[3:]
        elif rest[0] == ".":
            raise ctx.fail(codes.VALUE, f"einsum: a '.' in operand {k} that is not part of an ellipsis",
                           arg="equation")
        elif rest[0].isascii() and rest[0].isalpha():
            out.append(rest[0])
            rest = rest[1:]
        else:
            raise ctx.fail(codes.VALUE, f"einsum: invalid subscript {rest[0]!r}; subscripts are letters a-z, A-Z",
                           arg="equation")
    return out, "..." in out


def parse_einsum(ctx, equation: str, count: int) -> tuple[list[list[str]], list[str]]:
    """The operands' subscripts and the output's, ``...`` kept as an entry; the implicit
    output (no ``->``) is the ellipsis, then the letters used once, in alphabetical order."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = [_letters(ctx, t, k)[0] for k, t in enumerate(lhs.split(","))]
    if len(terms) != count:
        raise ctx.fail(codes.ARGUMENT, f"einsum: the equation {equation!r} has {len(terms)} operand"
                       f"{'s' if len(terms) != 1 else ''}, received {count} tensor{'s' if count != 1 else ''}",
                       arg="equation")
    used = [s for t in terms for s in t if s != "..."]
    if arrow:
        out, _ = _letters(ctx, rhs, -1)
        for s in out:
            if s != "..." and s not in used:
                raise ctx.fail(codes.VALUE, f"einsum: output subscript {s} appears in no operand", arg="equation")
            if out.count(s) > 1:
                raise ctx.fail(codes.VALUE, f"einsum: output subscript {s} appears more than once", arg="equation")
    else:
        once = sorted(s for s in set(used) if used.count(s) == 1)
        out = (["..."] if any("..." in t for t in terms) else []) + once
    return terms, out


def _expand_terms(ctx, terms, tensors: list[Tensor]) -> tuple[list[list[str]], int]:
    """Each operand's subscripts with the ellipsis spelt out as labels ``...0``, ``...1``,
    right-aligned across operands; and how many dims the ellipsis covers."""
    width = 0
    for k, (t, x) in enumerate(zip(terms, tensors)):
        letters = len([s for s in t if s != "..."])
        if letters > x.rank or ("..." not in t and letters != x.rank):
            raise ctx.fail(codes.RANK, f"einsum: operand {k} has {len(t) if '...' not in t else letters} subscript"
                           f"{'s' if letters != 1 else ''} for {ctx.show_tensor(x)}", arg="equation")
        width = max(width, x.rank - letters)
    out = []
    for t, x in zip(terms, tensors):
        n = x.rank - len([s for s in t if s != "..."])
        dots = [f"...{i}" for i in range(width - n, width)]
        out.append([lab for s in t for lab in (dots if s == "..." else [s])])
    return out, width


class EinsumArgs(Args):
    equation: StrArg


@register
class Einsum(Op):
    """``torch.einsum(equation, *tensors)``: every size of a subscript must agree (a size 1
    broadcasts between operands), and ``...`` dims broadcast."""

    name = "einsum"
    Args = EinsumArgs

    def layout(self, ctx, a, inputs, outputs):
        return [UNKNOWN]  # torch.einsum returns a permuted view of its product

    def new_strides(self, a, inputs, outputs):
        """Of two or more operands, a permuted view of the product whose strides netspec does
        not follow: unknown, so that no later fold of it is taken as a view."""
        return [None if len(inputs) == 1 else unknown_strides(outputs[0].rank)]
    positional = ("equation",)
    min_inputs = 1
    max_inputs = None
    examples: ClassVar[list[dict]] = [
        {"stage": 'einsum("ij,jk->ik")', "input": "float32[3, 5]", "other_shapes": ["float32[5, 4]"]},
        {"stage": 'einsum("bhqd,bhkd->bhqk")', "input": "float32[2, 3, 4, 5]", "other_shapes": ["float32[2, 3, 6, 5]"]},
        {"stage": 'einsum("ij,jk")', "input": "float32[3, 5]", "other_shapes": ["float32[5, 4]"]},
        {"stage": 'einsum("i,i->")', "input": "float64[5]", "others": 1},
        {"stage": 'einsum("i,i->i")', "input": "float32[5]", "others": 1},
        {"stage": 'einsum("i,j->ij")', "input": "float32[5]", "other_shapes": ["float32[4]"]},
        {"stage": 'einsum("ij->ji")', "input": "float32[2, 3]"},
        {"stage": 'einsum("ii->i")', "input": "float32[3, 3]"},
        {"stage": 'einsum("ii")', "input": "float32[3, 3]"},
        {"stage": 'einsum("ij->")', "input": "float16[2, 3]"},
        {"stage": 'einsum("ij,jk,kl->il")', "input": "float32[3, 5]",
         "other_shapes": ["float32[5, 4]", "float32[4, 2]"]},
        {"stage": 'einsum("ij,kl,jk->il")', "input": "float32[3, 5]",
         "other_shapes": ["float32[4, 2]", "float32[5, 4]"]},
        {"stage": 'einsum("...ij,...jk->...ik")', "input": "float32[2, 3, 5]", "other_shapes": ["float32[5, 4]"]},
        {"stage": 'einsum("...ij,...jk")', "input": "float32[2, 1, 3, 5]", "other_shapes": ["float32[4, 5, 6]"]},
        {"stage": 'einsum("i...j,j")', "input": "float32[3, 4, 5]", "other_shapes": ["float32[5]"]},
        {"stage": 'einsum("...i,...i->...")', "input": "float32[2, 3, 4]", "other_shapes": ["float32[3, 4]"]},
        {"stage": 'einsum("bij,bjk->bik")', "input": "float32[1, 3, 5]", "other_shapes": ["float32[2, 5, 4]"]},
        {"stage": 'einsum("ij,jk->ik")', "input": "float32[3, 1]", "other_shapes": ["float32[5, 4]"]},
        {"stage": 'einsum("ij,k->i")', "input": "float32[3, 4]", "other_shapes": ["float32[5]"]},
        {"stage": 'einsum("Ab,bA")', "input": "float32[3, 4]", "other_shapes": ["float32[4, 3]"]},
        {"stage": 'einsum("b j, b j -> b")', "input": "float32[2, 3]", "others": 1},
        {"stage": 'einsum("i,i,i->")', "input": "float32[2]", "others": 2},
        {"stage": 'einsum("...ij->...")', "input": "float32[2, 3, 4]"},
        {"stage": 'einsum("ij->...ij")', "input": "float32[3, 4]"},
    ]

    def is_view(self):
        return False

    def saved(self, a, inputs, outputs, grad):
        """What torch's contraction keeps (kinds/einsum_saved.py): nothing for one operand; for
        two, each operand (or the copy or sum torch makes of it) that the other's gradient
        reads; unknown for three or more (opt_einsum may choose the order)."""
        terms, out = parse_einsum(None, a.equation, len(inputs))
        labels, _ = _expand_terms(None, terms, inputs)
        return einsum_saved(labels, out, [t.shape for t in inputs],
                            [grad.strides_of(i, t.shape) for i, t in enumerate(inputs)],
                            [grad.grad(i) for i in range(len(inputs))], ITEMSIZE[outputs[0].dtype])

    def op_expr(self, a, inputs, code):
        return f"torch.einsum({code(a.equation)}, {', '.join(inputs)})"

    def infer(self, ctx, a, inputs):
        dtype = _same_dtype(ctx, "einsum", inputs, floats_only=True)
        terms, out = parse_einsum(ctx, a.equation, len(inputs))
        labels, width = _expand_terms(ctx, terms, inputs)
        sizes: dict[str, tuple[Dim, object]] = {}  # label -> (size, origin)
        for k, (labs, x) in enumerate(zip(labels, inputs)):
            seen: dict[str, int] = {}
            for i, lab in enumerate(labs):
                if lab in seen and not ctx.same(x.shape[seen[lab]], x.shape[i]):
                    raise ctx.fail(codes.SHAPE, f"einsum: subscript {lab} is repeated in operand {k} with sizes "
                                   f"{ctx.show(x.shape[seen[lab]])} and {ctx.show(x.shape[i])}",
                                   arg="equation", help="a repeated subscript takes a diagonal: the sizes must match")
                seen.setdefault(lab, i)
                self._merge(ctx, sizes, lab, x, i, inputs, labels)
        kept = [lab for s in out for lab in ([f"...{i}" for i in range(width)] if s == "..." else [s])]
        shape = tuple(sizes[lab][0] for lab in kept)
        origins = tuple(sizes[lab][1] for lab in kept)
        return [Tensor(dtype, shape, origins, batch=_einsum_batch(inputs, labels, kept, shape))]

    @staticmethod
    def _merge(ctx, sizes: dict, lab: str, x: Tensor, i: int, inputs, labels) -> None:
        """Broadcast the size of ``lab`` seen so far with dim ``i`` of ``x``."""
        d = x.shape[i]
        if lab not in sizes or ctx.dim(sizes[lab][0]) == 1:
            sizes[lab] = (d, x.origins[i])
            return
        if ctx.dim(d) == 1:
            return
        to_d = ctx.broadcast_size(sizes[lab][0], d, broadcast_to(ctx, sizes[lab][0], d))
        if to_d is not None:
            if to_d:
                sizes[lab] = (d, x.origins[i])  # a size that may be 1 broadcast to one that is not
            elif (most := ctx.broadcast_max(sizes[lab][0], d)) is not None:
                sizes[lab] = (most, ctx.origin)  # both may be 1: the greater
            return
        what = "the dims under `...`" if lab.startswith("...") else f"subscript {lab}"
        raise ctx.fail(codes.SHAPE, f"einsum: {what} has size {ctx.show(sizes[lab][0])} in one operand and "
                       f"{ctx.show(d)} in {ctx.show_tensor(x)}", [n for n in [ctx.origin_note(x, i)] if n],
                       arg="equation", help="the sizes of a subscript must match or be 1")

    def aliases_input(self, a, inputs=None):
        """One operand with every subscript kept: torch returns a view (a permutation, a
        diagonal) of it."""
        if not inputs or len(inputs) != 1 or inputs[0] is None:
            return False
        labels, kept = self._labels(a, inputs)
        return set(labels[0]) == kept

    def result_strides(self, a, inputs, outputs, strides):
        """A view of one operand: its dims in the output's order, a repeated subscript's
        diagonal one dim whose stride is the sum of the two."""
        terms, out = parse_einsum(None, a.equation, len(inputs))
        labels, _ = _expand_terms(None, terms, inputs)
        perm, _ = order(labels, out)
        return [operand(labels[0], inputs[0].shape, strides[0], perm, False, 0).strides]

    def _labels(self, a, inputs) -> tuple[list[list[str]], set[str]]:
        terms, out = parse_einsum(None, a.equation, len(inputs))
        labels, width = _expand_terms(None, terms, inputs)
        return labels, {lab for s in out for lab in ([f"...{i}" for i in range(width)] if s == "..." else [s])}

    def flops(self, a, inputs, outputs):
        labels, kept = self._labels(a, inputs)
        return einsum_flops(labels, inputs, kept)


def einsum_flops(labels: list[list[str]], inputs: list[Tensor], kept: set[str]) -> Dim:
    """What FlopCounterMode counts for torch's einsum: the operands contracted left to right,
    each pair that sums over a subscript of size other than 1 in both as one bmm,
    2 x (dims in both) x (dims in the left only) x (summed dims) x (dims in the right only);
    a pair with nothing summed in both is a product of elements (0)."""
    def dims(k: int) -> dict[str, Dim]:
        out: dict[str, Dim] = {}
        for lab, d in zip(labels[k], inputs[k].shape):
            out[lab] = d
        return {lab: d for lab, d in out.items() if d != 1}

    total: Dim = 0
    left = dims(0)
    for k in range(1, len(inputs)):
        right = dims(k)
        later = {lab for labs in labels[k + 1:] for lab in labs} | kept
        summed = [lab for lab in left if lab in right and lab not in later]
        if summed:
            both = numel(d for lab, d in left.items() if lab in right and lab not in summed)
            lo = numel(d for lab, d in left.items() if lab not in right and lab in later)
            ro = numel(d for lab, d in right.items() if lab not in left and lab in later)
            total = total + 2 * both * lo * numel(left[lab] for lab in summed) * ro
        left = {lab: d for lab, d in {**right, **left}.items() if lab in later}
    return total


def _einsum_batch(inputs: list[Tensor], labels: list[list[str]], kept: list[str], shape) -> Any:
    """Where the samples are in an einsum's result: an operand's dim that holds them merged
    keeps them where its subscript is kept (summed over, it holds them no more)."""
    found = [(t, t.batch[0], kept.index(labs[t.batch[0]]) if labs[t.batch[0]] in kept else -1)
             for t, labs in zip(inputs, labels) if t.batch is not None]
    return placed(shape, found)


def _matmul_batch(x: Tensor, y: Tensor, shape) -> Any:
    """Where the samples are in ``x @ y``: a row dim of ``x`` that holds them stays a row dim,
    a batch dim of either stays a batch dim (aligned from the right)."""
    rows = len(shape) - (2 if y.rank >= 2 else 1)
    lead = len(shape) - (x.rank >= 2) - (y.rank >= 2)
    found = [(t, t.batch[0], t.batch[0] + lead - (t.rank - 2)) for t in (x, y)
             if t.batch is not None and t.batch[0] < t.rank - 2]
    if x.batch is not None and x.rank >= 2 and x.batch[0] == x.rank - 2:
        found.append((x, x.batch[0], rows))
    return placed(shape, found)
