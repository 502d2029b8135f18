"""Ops that reshape, reorder or join: permute, transpose, reshape, flatten, squeeze,
unsqueeze, select, cat, expand, repeat, contiguous; torchvision's Permute module."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Optional

from .. import codes, layout
from ..dims import Dim, Floor, compare, exact_div, floordiv, is_dim, lone_atom, ratio, render, rounding_help
from ..types import UNKNOWN, Tensor
from . import why
from .args import Before
from .base import Args, DimArg, Layer, Op, _show, numel, register
from .dense import FlattenRule
from .memory import axis, dropped, expanded, is_contiguous, permuted, reshaped


def _int_tuple(v):
    if not isinstance(v, tuple):
        raise ValueError(f"expected integers, received {_show(v)}")
    bad = next((i for i, x in enumerate(v) if not is_dim(x)), None)
    if bad is not None:
        raise ValueError(f"expected integers, but value {bad + 1} of {_show(v)} is {_show(v[bad])}")
    return v


IntTuple = Annotated[Any, Before(_int_tuple, "a tuple of integers")]


class DimsArgs(Args):
    dims: IntTuple


@register
class Permute(Op):
    name = "permute"
    keeps_values = True  # its elements are its input's
    Args = DimsArgs
    variadic = "dims"
    tracks_layout = True
    examples: ClassVar[list[dict]] = [{"stage": "permute(1, 0, 2)", "input": "float32[2, 3, 4]"},
                                      {"stage": "permute(0, 2, 3, 1)", "input": "float32[2, 3, 4, 5]"},
                                      {"stage": "permute((2, 0, 1))", "input": "int64[3, 4, 5]"},
                                      {"stage": "permute(-1, 0, -2)", "input": "float32[2, 3, 4]"}]

    def op_expr(self, a, inputs, code):
        return f"{inputs[0]}.permute({', '.join(code(d) for d in a.dims)})"

    def result_strides(self, a, inputs, outputs, strides):
        order = [axis(d, inputs[0].rank) for d in a.dims]
        return [None if None in order else permuted(strides[0], order)]

    def infer(self, ctx, a, inputs):
        (x,) = inputs
        if len(a.dims) != x.rank:
            raise ctx.fail(codes.RANK, f"{self.name} needs {x.rank} dims for {ctx.show_tensor(x)}, received {len(a.dims)}",
                           arg="dims", help=f"name each of the {x.rank} dims once, in the new order")
        order = [self.dim_index(ctx, d, x.rank, "dims") for d in a.dims]
        if len(set(order)) != len(order):
            raise ctx.fail(codes.VALUE, f"{self.name}: repeated dim in {tuple(a.dims)}", arg="dims",
                           help="name each dim once: permute takes an order of all the dims")
        return [reordered(ctx, x, order)]


# -- torchvision's Permute module, which a built module defines itself ---------------------------

PERMUTE = '''class Permute(nn.Module):
    """torchvision.ops.misc.Permute: the input with its dims in the order ``dims`` (a view)."""

    def __init__(self, dims) -> None:
        super().__init__()
        self.dims = dims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(self.dims)
'''


@register
class PermuteLayer(Layer):
    """torchvision.ops.misc.Permute(dims): the op ``permute`` as a module, which takes a
    place (a number) in an nn.Sequential, as in torchvision's ConvNeXt block. The built
    module needs only torch, so it defines the class itself (``support_code``)."""

    name = "Permute"
    keeps_values = True  # its elements are its input's
    torch_name = "Permute"
    support_code = PERMUTE
    Args = DimsArgs
    positional = ("dims",)
    torch_positional = ("dims",)
    tracks_layout = True
    examples: ClassVar[list[dict]] = [{"stage": "Permute((0, 2, 3, 1))", "input": "float32[2, 3, 4, 5]"},
                                      {"stage": "Permute(dims=(1, 0))", "input": "int64[3, 4]"},
                                      {"stage": "Permute((-1, 0, -2))", "input": "float64[2, 3, 4]"},
                                      {"stage": "Permute(())", "input": "float32[]"}]

    def batch_axis(self, a, rank):
        return None

    # the op's shape rule and strides, its messages naming this kind
    infer = Permute.infer
    result_strides = Permute.result_strides
    dim_index = Op.dim_index

    def is_view(self):
        return True


def reordered(ctx, x: Tensor, order: list[int]) -> Tensor:
    """``x`` with its dims in ``order``: a view, its strides reordered alike."""
    shape = tuple(x.shape[i] for i in order)
    strides = layout.normal_view(shape, layout.permuted(layout.strides_of(x), order), ctx.decide)
    return x.with_shape(shape, ctx.origin, keep={n: o for n, o in enumerate(order)}, strides=strides)


class TransposeArgs(Args):
    dim0: DimArg
    dim1: DimArg


@register
class Transpose(Op):
    name = "transpose"
    keeps_values = True  # its elements are its input's
    Args = TransposeArgs
    positional = ("dim0", "dim1")
    tracks_layout = True
    examples: ClassVar[list[dict]] = [{"stage": "transpose(0, 1)", "input": "float32[2, 3, 4]"},
                                      {"stage": "transpose(-1, 1)", "input": "float32[2, 3, 4, 5]"},
                                      {"stage": "transpose(-3, -1)", "input": "float32[2, 3, 4]"},
                                      {"stage": "transpose(1, 1)", "input": "float32[2, 3]"},
                                      {"stage": "transpose(0, -1)", "input": "float32[]"}]

    def op_expr(self, a, inputs, code):
        return f"{inputs[0]}.transpose({code(a.dim0)}, {code(a.dim1)})"

    def result_strides(self, a, inputs, outputs, strides):
        rank = inputs[0].rank
        i, j = axis(a.dim0, rank), axis(a.dim1, rank)
        if rank == 0:
            return [strides[0]]
        if i is None or j is None:
            return [None]
        order = list(range(rank))
        order[i], order[j] = order[j], order[i]
        return [permuted(strides[0], order)]

    def infer(self, ctx, a, inputs):
        (x,) = inputs
        i = self.dim_index(ctx, a.dim0, x.rank, "dim0")
        j = self.dim_index(ctx, a.dim1, x.rank, "dim1")
        if x.rank == 0:
            return [x]  # torch takes dim 0 (or -1) of a 0-dim tensor as itself
        order = list(range(x.rank))
        order[i], order[j] = order[j], order[i]
        return [reordered(ctx, x, order)]


class ShapeArgs(Args):
    shape: IntTuple


@register
class Reshape(Op):
    """``x.reshape(*shape)``: a view where torch's computeStride finds one (netspec.layout),
    else a contiguous copy."""

    name = "reshape"
    keeps_values = True  # its elements are its input's
    Args = ShapeArgs
    variadic = "shape"
    tracks_layout = True
    examples: ClassVar[list[dict]] = [{"stage": "reshape(-1, 4)", "input": "float32[2, 3, 4]"},
                                      {"stage": "reshape(6, 2, 2)", "input": "float32[2, 3, 4]"},
                                      {"stage": "reshape((4, -1))", "input": "int64[8, 2]"},
                                      {"stage": "reshape(-1)", "input": "float32[2, 3, 4]"},
                                      {"stage": "reshape((24,))", "input": "float32[2, 3, 4]"},
                                      {"stage": "reshape(-1, 1, 2)", "input": "bool[3, 4]"}]

    def op_expr(self, a, inputs, code):
        return f"{inputs[0]}.{self.name}({', '.join(code(d) for d in a.shape)})"

    def result_strides(self, a, inputs, outputs, strides):
        return reshaped(inputs, outputs, strides)

    def explain(self, a, inputs, outputs):
        x, y = inputs[0], outputs[0]
        out = [f"reads: the {x.rank} dims as one run of {why.product(x.shape)} elements, laid out again in the "
               "sizes given (a -1 takes what the others leave)"]
        for i, d in enumerate(a.shape):
            if isinstance(d, int) and d == -1:
                known = [y.shape[k] for k in range(y.rank) if k != i]
                out.append(why.line(i, f"({why.product(x.shape)}) // ({why.product(known)})", y.shape[i]))
        return out

    def infer(self, ctx, a, inputs):
        (x,) = inputs
        shape = list(a.shape)
        holes = self._holes(ctx, shape)
        if holes:
            shape[holes[0]] = self._hole_size(ctx, x, shape, holes[0])
        else:
            self._check_count(ctx, x, shape)
        keep = {}
        for i, d in enumerate(shape):
            if i < x.rank and compare(d, x.shape[i]) is True and numel(shape[:i]) == numel(x.shape[:i]):
                keep[i] = i
        batch = ctx.regroup_batch(self.name, x, shape, "shape")  # samples never mixed
        return [x.with_shape(tuple(shape), ctx.origin, keep=keep, strides=self.strides(ctx, a, x, shape),
                             batch=batch)]

    def strides(self, ctx, a, x: Tensor, shape: list):
        """A view's strides where torch's reshape finds a view, a contiguous copy's where not."""
        return layout.reshaped(x.shape, x.strides, shape, ctx.decide)

    @staticmethod
    def _holes(ctx, shape: list) -> list[int]:
        """Where the -1 stands (at most once); every other size an integer of at least 0."""
        for d in shape:
            if not is_dim(d):
                raise ctx.fail(codes.ARGUMENT, f"reshape takes integer sizes, received {d!r}", arg="shape")
        holes = [i for i, d in enumerate(shape) if isinstance(d, int) and d == -1]
        if len(holes) > 1:
            raise ctx.fail(codes.VALUE, "reshape: only one dimension can be -1", arg="shape")
        for d in shape:
            v = ctx.dim(d)
            if isinstance(v, int) and v < -1:
                raise ctx.fail(codes.VALUE, f"reshape: invalid size {v}", arg="shape")
        return holes

    @staticmethod
    def _hole_size(ctx, x: Tensor, shape: list, hole: int) -> Dim:
        """The size the -1 stands for: the input's elements over the other sizes."""
        total = numel(x.shape)
        known = numel(d for i, d in enumerate(shape) if i != hole)
        t_show, k_show = ctx.dim(total), ctx.dim(known)
        if isinstance(k_show, int) and k_show == 0:
            raise ctx.fail(codes.VALUE, "reshape: cannot infer -1 next to a size of 0", arg="shape")
        q = exact_div(t_show, k_show)
        q_param = exact_div(total, known)
        if q is None:
            r = ratio(t_show, k_show)
            if r is not None:  # the same fraction for every value of the symbols
                raise ctx.fail(codes.SHAPE, f"reshape({', '.join(render(d) for d in shape)}): "
                               f"{ctx.show_tensor(x)} has {render(t_show)} elements, not divisible by "
                               f"{render(k_show)}" + ("" if isinstance(t_show, int) else f" (the ratio is {r})"),
                               ctx.input_story(), arg="shape",
                               help="choose sizes whose product divides the input's number of elements")
            q_free = ctx.free_quotient(total, known, [d for i, d in enumerate(shape) if i != hole])
            if q_free is not None:
                return q_free  # over free parameters: the class computes it, and tests the facts
            q_param = _floor_quotient(total, k_show)
            ctx.fix(known)  # the divisor is the parameters' value
            if q_param is None:  # one diagnostic: the -1 is not a whole quotient of the symbols
                raise ctx.fail(codes.UNPROVEN, f"reshape: the -1 size, {render(t_show)} divided by "
                               f"{render(k_show)}, cannot be expressed as a dim",
                               [f"the input is {ctx.show_tensor(x)}"], arg="shape",
                               help="give the other sizes so that they divide the input's size exactly")
            ctx.warn(codes.UNPROVEN, f"reshape needs {render(t_show)} to be divisible by {render(k_show)}, "
                     "which cannot be proven for every value of the symbols",
                     [f"the input is {ctx.show_tensor(x)}"],
                     help="check that the sizes divide, or use sizes that make it exact")
        if q_param is None:
            others = [d for i, d in enumerate(shape) if i != hole]
            q_param = ctx.param_quotient(total, known, others)  # the class computes it, and tests the facts
        if q_param is None:
            ctx.fix(total, known)  # divides only for the parameters' values
        return q_param if q_param is not None else q

    @staticmethod
    def _check_count(ctx, x: Tensor, shape: list) -> None:
        """Without a -1, the sizes must hold as many elements as the input."""
        total, known = numel(x.shape), numel(shape)
        t_show, k_show = ctx.dim(total), ctx.dim(known)
        verdict = ctx.compare(total, known)
        if verdict is not False and compare(total, known) is not True and _whole_floor(ctx, total, shape, verdict):
            return  # as many exactly where a floor division among the sizes is whole: that is tested
        if verdict and compare(total, known) is not True:
            ctx.fix(total, known)  # equal only for the parameters' values
        if verdict is False:
            raise ctx.fail(codes.SHAPE, f"reshape to [{', '.join(render(ctx.dim(d)) for d in shape)}] "
                           f"needs {render(k_show)} elements, but {ctx.show_tensor(x)} has {render(t_show)}",
                           ctx.input_story(), arg="shape",
                           help="use -1 for the size netspec should infer")
        if verdict is None and not ctx.assume_equal(total, known) and ctx.warns_unproven():
            ctx.warn(codes.UNPROVEN, f"reshape needs {render(k_show)} elements, and the input has "
                     f"{render(t_show)}: equal only for some values of the symbols", ctx.input_story(), arg="shape",
                     help="use -1 for the size netspec should infer, or sizes whose product is the input's")


def _whole_floor(ctx, total: Dim, shape: list, verdict: bool | None) -> bool:
    """Whether the sizes of ``shape`` hold ``total`` elements exactly where one of them, a
    floor division ``a // b``, is whole (``reshape(batch, 12 // s, s)`` of ``[batch, 12]``:
    where ``s`` divides 12), and that fact is then the stage's: required of the parameters
    (the class tests it, with ``1 <= s`` from the division), assumed by a block checked
    generically, or, undecided where nothing tests it, left to the count's own warning
    (False)."""
    for i, d in enumerate(shape):
        atom = _floor_atom(d)
        if atom is None or compare(total * atom.den, numel(shape[:i] + shape[i + 1:]) * atom.num) is not True:
            continue
        if verdict:  # whole at the parameters' values
            ctx.requires_divisible(atom.num, atom.den)
            return True
        return not ctx.assume_divides(atom.num, atom.den)
    return False


def _floor_atom(d: Dim):
    """The floor division ``d`` is, alone (``12 // s``), or None."""
    lone = lone_atom(d)
    return lone[0] if lone is not None and lone[1] == 1 and isinstance(lone[0], Floor) else None


@register
class View(Reshape):
    """``x.view(*shape)``: torch's view, which refuses a tensor whose memory does not hold
    the new shape's dims at fixed strides (a transposed tensor whose transposed dims it
    merges): then an error, where it may be refused for some values of the symbols too."""

    name = "view"
    examples: ClassVar[list[dict]] = [{"stage": "view(2, -1, 3)", "input": "float32[3, 4, 2]"},
                                      {"stage": "view(-1)", "input": "float32[2, 3]"},
                                      {"stage": "view(4, 1, -1)", "input": "int64[2, 2, 5]"}]

    def strides(self, ctx, a, x: Tensor, shape: list):
        verdict = layout.view(x.shape, x.strides, shape, ctx.decide)
        if verdict.viewable == "always":
            return verdict.strides
        shape = ", ".join(render(ctx.dim(d)) for d in a.shape)
        if x.strides is UNKNOWN:
            why, notes = f"netspec cannot tell the memory layout of {ctx.show_tensor(x)}", []
        else:
            when = "" if verdict.viewable == "never" else " for some values of the symbols"
            why = f"torch refuses it{when}: its input is not contiguous"
            notes = [f"the input {ctx.show_tensor(x)} has strides ({', '.join(ctx.show(d) for d in x.strides)}): "
                     f"the dims view({shape}) merges are not one block of memory"]
        raise ctx.fail(codes.VALUE, f"view({shape}): {why}", notes + ctx.layout_story(), arg="shape",
                       help="use reshape, or `-> contiguous()` before it")


def _floor_quotient(total: Dim, k: Dim) -> Dim | None:
    """``total // k`` as a dim: for an integer ``k``, or one term ``c * m`` whose symbols ``m``
    divide ``total`` exactly (``batch * seq // (5 * batch) == seq // 5``); else None."""
    if isinstance(k, int):
        return floordiv(total, k)
    if len(k.terms) != 1:
        return None
    ((_, coeff),) = k.terms.items()
    if coeff < 1:
        return None
    part = exact_div(total, exact_div(k, coeff))
    return None if part is None else floordiv(part, coeff)


class FlattenOpArgs(Args):
    start_dim: DimArg = 0
    end_dim: DimArg = -1


@register
class FlattenOp(FlattenRule, Op):
    name = "flatten"
    keeps_values = True  # its elements are its input's
    Args = FlattenOpArgs
    positional = ("start_dim", "end_dim")
    examples: ClassVar[list[dict]] = [{"stage": "flatten(1)", "input": "float32[2, 3, 4, 5]"},
                                      {"stage": "flatten", "input": "float32[2, 3]"},
                                      {"stage": "flatten(1, -2)", "input": "float32[2, 3, 4, 5]"},
                                      {"stage": "flatten(0, 1)", "input": "float32[2, 3, 4]"},
                                      {"stage": "flatten(-2)", "input": "float32[2, 3, 4]"}]

    def op_expr(self, a, inputs, code):
        args = []
        if "start_dim" in a.model_fields_set or "end_dim" in a.model_fields_set:
            args.append(code(a.start_dim))
        if "end_dim" in a.model_fields_set:
            args.append(code(a.end_dim))
        return f"{inputs[0]}.flatten({', '.join(args)})"

    def layout(self, ctx, a, inputs, outputs):
        (x,), (out,) = inputs, outputs
        return [layout.reshaped(x.shape, x.strides, out.shape, ctx.decide)]


class OptDimArgs(Args):
    dim: Optional[DimArg] = None


@register
class Squeeze(Op):
    name = "squeeze"
    keeps_values = True  # its elements are its input's
    Args = OptDimArgs
    positional = ("dim",)
    examples: ClassVar[list[dict]] = [{"stage": "squeeze(1)", "input": "float32[2, 1, 3]"},
                                      {"stage": "squeeze", "input": "float32[1, 2, 1, 3]"},
                                      {"stage": "squeeze(0)", "input": "float32[2, 3]"},
                                      {"stage": "squeeze(-2)", "input": "float32[2, 1, 3]"},
                                      {"stage": "squeeze(dim=-1)", "input": "float32[2, 3, 1]"}]

    def result_strides(self, a, inputs, outputs, strides):
        return reshaped(inputs, outputs, strides)

    def op_expr(self, a, inputs, code):
        return f"{inputs[0]}.squeeze({'' if a.dim is None else code(a.dim)})"

    def infer(self, ctx, a, inputs):
        (x,) = inputs
        if a.dim is None:
            drop = []
            for i, d in enumerate(x.shape):
                v = ctx.known(d)  # squeezed or kept by its value
                if v == 1:
                    drop.append(i)
                elif not isinstance(v, int):
                    ctx.warn(codes.UNPROVEN, f"squeeze: whether dim {i} (`{render(v)}`) is 1 is unknown; "
                             "netspec keeps it", ctx.size_notes(d), help="name the dim to squeeze: squeeze(dim)")
        else:
            i = self.dim_index(ctx, a.dim, x.rank, "dim")
            v = ctx.known(x.shape[i]) if x.rank else 1
            if not isinstance(v, int):
                ctx.warn(codes.UNPROVEN, f"squeeze({i}): whether dim {i} (`{render(v)}`) is 1 is unknown; "
                         "netspec keeps it", ctx.size_notes(x.shape[i]), arg="dim",
                         help=f"where dim {i} is always 1, declare it 1 where it comes from; "
                         "else remove the squeeze")
            drop = [i] if v == 1 and x.rank else []
        kept = [i for i in range(x.rank) if i not in drop]
        return [x.with_shape(tuple(x.shape[i] for i in kept), ctx.origin,
                             keep={n: o for n, o in enumerate(kept)})]

    def layout(self, ctx, a, inputs, outputs):
        (x,), (out,) = inputs, outputs
        if a.dim is None:
            drop = [i for i, d in enumerate(x.shape) if ctx.known(d) == 1]
        else:
            drop = [self.dim_index(ctx, a.dim, x.rank, "dim")] if out.rank < x.rank else []
        return [layout.squeezed(x, out, drop, ctx.decide)]


class DimArgs(Args):
    dim: DimArg


@register
class Unsqueeze(Op):
    name = "unsqueeze"
    keeps_values = True  # its elements are its input's
    Args = DimArgs
    positional = ("dim",)
    examples: ClassVar[list[dict]] = [{"stage": "unsqueeze(0)", "input": "float32[2, 3]"},
                                      {"stage": "unsqueeze(-1)", "input": "float32[2, 3]"},
                                      {"stage": "unsqueeze(3)", "input": "float32[2, 3, 4]"},
                                      {"stage": "unsqueeze(-4)", "input": "float32[2, 3, 4]"}]

    def result_strides(self, a, inputs, outputs, strides):
        return reshaped(inputs, outputs, strides)

    def op_expr(self, a, inputs, code):
        return f"{inputs[0]}.unsqueeze({code(a.dim)})"

    def infer(self, ctx, a, inputs):
        (x,) = inputs
        i = self.dim_index(ctx, a.dim, x.rank, "dim", extra=1)
        shape = x.shape[:i] + (1,) + x.shape[i:]
        keep = {n: (n if n < i else n - 1) for n in range(len(shape)) if n != i}
        return [x.with_shape(shape, ctx.origin, keep=keep)]

    def layout(self, ctx, a, inputs, outputs):
        (x,) = inputs
        strides = layout.unsqueezed(x.shape, layout.strides_of(x), self.dim_index(ctx, a.dim, x.rank, "dim", extra=1))
        return [layout.normal(outputs[0].shape, strides, ctx.decide)]


class SelectArgs(Args):
    dim: DimArg
    index: DimArg


@register
class Select(Op):
    name = "select"
    keeps_values = True  # its elements are its input's
    Args = SelectArgs
    positional = ("dim", "index")
    examples: ClassVar[list[dict]] = [{"stage": "select(0, -1)", "input": "float32[28, 2, 200]"},
                                      {"stage": "select(1, 2)", "input": "float32[2, 3, 4]"},
                                      {"stage": "select(-1, 0)", "input": "float32[2, 3, 4]"},
                                      {"stage": "select(-2, -3)", "input": "float32[2, 3, 4]"}]

    def op_expr(self, a, inputs, code):
        return f"{inputs[0]}.select({code(a.dim)}, {code(a.index)})"

    def result_strides(self, a, inputs, outputs, strides):
        i = axis(a.dim, inputs[0].rank)
        return [None if i is None else dropped(strides[0], [i])]

    def infer(self, ctx, a, inputs):
        (x,) = inputs
        if x.rank == 0:
            raise ctx.fail(codes.RANK, "select needs a tensor with at least one dim")
        i = self.dim_index(ctx, a.dim, x.rank, "dim")
        size = ctx.dim(x.shape[i])
        idx = ctx.concrete(a.index, "index", "index")
        if isinstance(size, int) and not -size <= idx < size:
            raise ctx.fail(codes.VALUE, f"select: index {idx} is out of range for dim {i} of size {size}",
                           arg="index", help=f"an index into a dim of size {size} is {-size} to {size - 1}")
        need = idx + 1 if idx >= 0 else -idx
        fits = ctx.requires_at_most(a.index + 1 if idx >= 0 else -a.index, x.shape[i])  # the index as written
        if fits is False:
            raise ctx.fail(codes.VALUE, f"select: index {idx} is out of range for dim {i} of size {ctx.show(size)}",
                           arg="index", help=f"the dim must have at least {need} elements for this index")
        if fits is None and ctx.warns_unproven():
            ctx.warn(codes.UNPROVEN, f"select: index {idx} exists only when dim {i} ({ctx.show(size)}) has at least "
                     f"{need} elements, which cannot be proven for every value of the symbols",
                     [f"the input is {ctx.show_tensor(x)}"], arg="index",
                     help="check that it holds; `# netspec: allow[unproven]` on the line accepts it")
        kept = [k for k in range(x.rank) if k != i]
        return [x.with_shape(tuple(x.shape[k] for k in kept), ctx.origin,
                             keep={n: o for n, o in enumerate(kept)})]

    def layout(self, ctx, a, inputs, outputs):
        i = self.dim_index(ctx, a.dim, inputs[0].rank, "dim")
        return [layout.selected(inputs[0], outputs[0], i, ctx.decide)]


class CatArgs(Args):
    dim: DimArg = 0


@register
class Cat(Op):
    name = "cat"
    Args = CatArgs
    positional = ("dim",)
    min_inputs = 1
    max_inputs = None
    examples: ClassVar[list[dict]] = [{"stage": "cat(dim=2)", "input": "float32[2, 3, 4]", "others": 1},
                                      {"stage": "cat(dim=-1)", "input": "float32[2, 5]", "others": 2},
                                      {"stage": "cat(dim=1)", "input": "float32[2, 3, 4]",
                                       "other_shapes": ["float32[2, 5, 4]", "float32[2, 1, 4]"]},
                                      {"stage": "cat(-2)", "input": "int64[1, 2]", "other_shapes": ["int64[4, 2]"]},
                                      {"stage": "cat", "input": "float32[3]", "other_shapes": ["float32[4]"]}]

    def is_view(self):
        return False

    def op_expr(self, a, inputs, code):
        tensors = f"({inputs[0]},)" if len(inputs) == 1 else f"({', '.join(inputs)})"
        return f"torch.cat({tensors}, dim={code(a.dim)})"

    def result_format(self, a, rank):
        """A new tensor in the memory format its inputs suggest (ATen's cat): contiguous but
        at 4 and 5 dims, where channels-last inputs may make it channels-last (``layout``)."""
        return None if rank in (4, 5) else "contiguous"

    def layout(self, ctx, a, inputs, outputs):
        """At 4 and 5 dims, ATen's compute_output_memory_format: contiguous where an input
        suggests it, channels_last (or _3d) where every input does; unknown where netspec
        cannot tell one input's format (layout.like_channels_last)."""
        shape = outputs[0].shape
        if len(shape) not in (4, 5):
            return super().layout(ctx, a, inputs, outputs)
        likes = [layout.like_channels_last(t, ctx.decide) for t in inputs]
        if False in likes:
            return [None]
        return [layout.channels_last_strides(shape) if all(likes) else UNKNOWN]

    def infer(self, ctx, a, inputs):
        first = inputs[0]
        for k, t in enumerate(inputs):
            if t.rank == 0:
                raise ctx.fail(codes.RANK, f"cat cannot join a 0-dim tensor (tensor {k})",
                               help="unsqueeze it first: `-> unsqueeze(0)`")
        d = self.dim_index(ctx, a.dim, first.rank, "dim")
        total: Dim = 0
        for k, t in enumerate(inputs):
            if t.dtype != first.dtype:
                raise ctx.fail(codes.DTYPE, f"cat needs one dtype: tensor {k} is {t.dtype}, tensor 0 is {first.dtype}",
                               help="convert the tensors to one dtype first")
            if t.rank != first.rank:
                raise ctx.fail(codes.RANK, f"cat needs tensors with the same number of dims: tensor {k} is "
                               f"{ctx.show_tensor(t)}, tensor 0 is {ctx.show_tensor(first)}",
                               help="bring the tensors to one rank first (unsqueeze adds a dim, flatten merges dims)")
            for i in range(first.rank):
                if i != d and not ctx.same(t.shape[i], first.shape[i]):
                    notes = [n for n in (ctx.origin_note(first, i), ctx.origin_note(t, i)) if n]
                    hint = rounding_help(ctx.dim(first.shape[i]), ctx.dim(t.shape[i]))
                    raise ctx.fail(codes.SHAPE, f"cat along dim {d}: dim {i} differs, {ctx.show(first.shape[i])} "
                                   f"in tensor 0 and {ctx.show(t.shape[i])} in tensor {k}", notes,
                                   help=f"every dim but {d} must match" + (f"; {hint}" if hint else ""))
            total = total + t.shape[d]
        shape = first.shape[:d] + (total,) + first.shape[d + 1:]
        return [first.with_shape(shape, ctx.origin, keep={i: i for i in range(first.rank) if i != d},
                                 batch=self._batch(ctx, inputs, d))]

    @staticmethod
    def _batch(ctx, inputs: list, d: int):
        """Where the samples are in the result: tensors whose batch dim is the one joined, with
        one sample's elements lying together alike, keep them in the same order, each after
        the other."""
        places = [ctx.batch_place(t) for t in inputs]
        if any(p is None or p[0] != d for p in places) or len({(p[1], p[2]) for p in places}) != 1:
            return None
        return places[0]


class SizeArgs(Args):
    size: IntTuple


@register
class Expand(Op):
    """``x.expand(*sizes)``: a view with size-1 dims stretched, -1 keeping a dim, and new
    leading dims."""

    name = "expand"
    keeps_values = True  # its elements are its input's
    Args = SizeArgs
    variadic = "size"
    examples: ClassVar[list[dict]] = [{"stage": "expand(2, -1, 4)", "input": "float32[3, 1]"},
                                      {"stage": "expand(3, 2)", "input": "float32[3, 2]"},
                                      {"stage": "expand((3, 0))", "input": "int64[3, 1]"},
                                      {"stage": "expand(5, 2, 3)", "input": "float32[]"},
                                      {"stage": "expand(-1, -1)", "input": "bool[2, 1]"}]

    def result_strides(self, a, inputs, outputs, strides):
        return [expanded(inputs[0].shape, strides[0], outputs[0].shape)]

    def op_expr(self, a, inputs, code):
        return f"{inputs[0]}.expand({', '.join(code(d) for d in a.size)})"

    def infer(self, ctx, a, inputs):
        (x,) = inputs
        new = len(a.size) - x.rank
        if new < 0:
            raise ctx.fail(codes.RANK, f"expand needs at least {x.rank} sizes for {ctx.show_tensor(x)}, "
                           f"received {len(a.size)}", arg="size")
        shape: list[Dim] = []
        keep = {}
        for i, d in enumerate(a.size):
            v = ctx.dim(d)
            if i < new:
                if isinstance(v, int) and v < 0:
                    raise ctx.fail(codes.VALUE, f"expand: size {v} for the new leading dim {i}; a new dim needs its size",
                                   arg="size")
                shape.append(d)
                continue
            old = x.shape[i - new]
            if isinstance(v, int) and v < -1:
                raise ctx.fail(codes.VALUE, f"expand: size {v} for dim {i - new} of {ctx.show_tensor(x)}", arg="size",
                               help="-1 keeps a dim; a dim of size 1 takes any size of 0 or more")
            if (isinstance(v, int) and v == -1) or v == old:
                shape.append(old)
                keep[i] = i - new
            elif ctx.known(old) == 1:
                shape.append(d)  # a dim of 1 broadcast: never an equality to assume
            elif ctx.broadcast_size(old, d, True, stated=True) is not None:
                shape.append(d)  # equal, or old is 1 and broadcast: d either way
            else:
                notes = [n for n in [ctx.origin_note(x, i - new)] if n]
                raise ctx.fail(codes.SHAPE, f"expand: dim {i - new} of {ctx.show_tensor(x)} is {ctx.show(old)}, not 1, "
                               f"and cannot become {render(v)}", notes, arg="size",
                               help="only a dim of size 1 expands; -1 keeps a dim")
        return [x.with_shape(tuple(shape), ctx.origin, keep=keep)]

    def layout(self, ctx, a, inputs, outputs):
        (x,), (out,) = inputs, outputs
        strides = layout.expanded(x.shape, layout.strides_of(x), out.shape, ctx.decide)
        return [layout.normal(out.shape, strides, ctx.decide)]


class RepeatArgs(Args):
    repeats: IntTuple


@register
class Repeat(Op):
    """``x.repeat(*repeats)``: a new tensor with each dim repeated; extra leading counts make
    new dims."""

    name = "repeat"
    keeps_values = True  # its elements are its input's
    Args = RepeatArgs
    variadic = "repeats"
    examples: ClassVar[list[dict]] = [{"stage": "repeat(2, 1, 4)", "input": "float32[3, 1]"},
                                      {"stage": "repeat(2, 3)", "input": "int64[3, 2]"},
                                      {"stage": "repeat((1, 0))", "input": "float32[3, 2]"},
                                      {"stage": "repeat(2)", "input": "float32[]"}]

    def is_view(self):
        return False

    def op_expr(self, a, inputs, code):
        return f"{inputs[0]}.repeat({', '.join(code(d) for d in a.repeats)})"

    def infer(self, ctx, a, inputs):
        (x,) = inputs
        new = len(a.repeats) - x.rank
        if new < 0:
            raise ctx.fail(codes.RANK, f"repeat needs at least {x.rank} counts for {ctx.show_tensor(x)}, "
                           f"received {len(a.repeats)}", arg="repeats")
        for r in a.repeats:
            v = ctx.dim(r)
            if isinstance(v, int) and v < 0:
                raise ctx.fail(codes.VALUE, f"repeat: the count {v} is negative", arg="repeats")
        shape = tuple(r if i < new else x.shape[i - new] * r for i, r in enumerate(a.repeats))
        keep = {i: i - new for i, r in enumerate(a.repeats) if i >= new and r == 1}
        place = ctx.batch_place(x)  # a repeated batch dim holds the samples in the same order, again
        batch = None if place is None else (place[0] + new, *place[1:])
        return [x.with_shape(shape, ctx.origin, keep=keep, batch=batch)]


@register
class Contiguous(Op):
    """``x.contiguous()``: its activation bytes are counted as a copy (docs/costs.md), although
    torch returns an input that is already contiguous; what a training step keeps follows
    torch (``may_alias``)."""

    name = "contiguous"
    keeps_values = True  # its elements are its input's
    examples: ClassVar[list[dict]] = [{"stage": "contiguous", "input": "float32[2, 3]"},
                                      {"stage": "contiguous()", "input": "int64[]"}]

    def is_view(self):
        return False

    def batch_axis(self, a, rank):
        return 0 if rank >= 1 else None

    may_alias = True

    def result_strides(self, a, inputs, outputs, strides):
        """The input itself where its strides in the training step are contiguous, a copy
        where they are not (Unsure where that depends on the values of the symbols)."""
        return [strides[0] if is_contiguous(inputs[0].shape, strides[0]) else None]

    def op_expr(self, a, inputs, code):
        return f"{inputs[0]}.contiguous()"

    def infer(self, ctx, a, inputs):
        return [inputs[0]]

    def layout(self, ctx, a, inputs, outputs):
        """torch's default strides, or, for 4 or 5 dims, the input's own where they are
        contiguous (torch returns the input, and reads its memory format from the strides
        of its dims of size 1 too: a permuted [N, H, W, 1] is channels_last)."""
        (x,) = inputs
        if isinstance(x.strides, tuple) and x.rank in (4, 5) and layout.is_contiguous(x.shape, x.strides, ctx.decide):
            return [x.strides]
        return [None]
