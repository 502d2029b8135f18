"""Padding: ZeroPad, ConstantPad, ReflectionPad and ReplicationPad (1d to 3d), and `pad`.

torch's pad list names the last dim first: ``(left, right)`` for the last dim, then ``(top,
bottom)`` for the one before, then ``(front, back)``. A negative pad crops. Each padded dim
becomes ``size + before + after``, with torch's limits by mode: a constant pad may crop the
dim to nothing (not further), reflection needs each pad smaller than the dim and leaves at
least 1, replication leaves at least 1, a circular pad may not crop the whole dim nor wrap
around what the crops leave more than once.

In a network checked generically a padding from the network's parameters stays a symbol:
the padded size is the sum, and the class tests the facts torch asks of the padding
(``pad_facts``), each use checking them with its values.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, Optional

from .. import codes
from ..dims import Dim, Expr, is_dim
from ..types import Tensor
from .args import Before
from .base import Args, DimOrTuple, FloatArg, Forward, Layer, Op, _show, register
from .memory import Saved

PadMode = Literal["constant", "reflect", "replicate", "circular"]
SIDES = ("left", "right", "top", "bottom", "front", "back")


# -- the pure shape rule (tested against torch over tables of cases) --------------------------


def padded(size: Dim, before: Dim, after: Dim) -> Dim:
    return size + before + after


def pad_problem(mode: str, size: int, before: int, after: int) -> str | None:
    """Why torch refuses to pad a dim of ``size`` by (before, after) in ``mode``, or None.

    A circular pad wraps what the negative pads leave of the dim: one that crops all of it,
    or wraps what is left more than once, is refused too, where torch raises or returns
    uninitialized values."""
    out = size + before + after
    kept = size + min(before, 0) + min(after, 0)  # what the negative pads leave of the input
    if mode == "reflect" and max(before, after) >= size:
        return f"reflection padding ({before}, {after}) must be smaller than the dim ({size})"
    if mode == "circular" and kept >= 1 and max(before, after) > kept:
        left = "the dim" if kept == size else f"what the crop leaves of the dim ({kept} of {size})"
        return f"circular padding ({before}, {after}) would wrap around {left} more than once"
    if mode == "constant" and kept < 0:
        return f"padding ({before}, {after}) crops more than the dim ({size})"
    if mode == "circular" and kept < 1:
        return f"circular padding ({before}, {after}) crops all of the dim ({size})"
    if mode in ("reflect", "replicate") and out < 1:
        return f"padding ({before}, {after}) leaves {out} of the dim ({size})"
    return None


def pad_facts(mode: str, size: Dim, before: Dim, after: Dim) -> list[tuple[Dim, Dim]]:
    """``pad_problem``'s tests as the facts ``low <= high`` a padding must meet, for a
    padding or a size that is a symbol: reflection pads smaller than the dim, what the
    negative pads leave at least 0 (constant) or 1 (circular) and, circular, at least each
    pad; the padded size at least 1 (reflect, replicate). What the crops leave is the least
    of ``size``, ``size + before``, ``size + after`` and ``size + before + after``."""
    out = size + before + after
    if mode == "reflect":
        facts = [(before + 1, size), (after + 1, size), (1, out)]
    elif mode == "replicate":
        facts = [(1, out)]
    else:
        least = 1 if mode == "circular" else 0
        facts = [(least - before, size), (least - after, size), (least, out)]  # what the crops leave
        if mode == "circular":  # each pad at most what the crops leave
            facts += [(before, size), (after, size), (before - after, size), (after - before, size)]
    return list(dict.fromkeys(facts))


def _check_pad(ctx, who: str, mode: str, x: Tensor, i: int, before: Dim, after: Dim, arg: str) -> None:
    """Refuse what torch refuses of padding dim ``i`` of ``x``; a fact over the network's
    parameters that holds with their values (or, checked generically, without them) is one
    the class tests."""
    values = [ctx.dim(v) for v in (x.shape[i], before, after)]
    if all(isinstance(v, int) for v in values):
        problem = pad_problem(mode, *values)
    else:
        problem = None
    broken = []
    for low, high in pad_facts(mode, x.shape[i], before, after):
        if ctx.requires_at_most(low, high, assume=True) is False:
            broken.append((low, high))
        else:
            ctx.class_tests_at_most(low, high)
    if problem is None and broken:
        low, high = broken[0]
        problem = f"padding ({ctx.show(before)}, {ctx.show(after)}) needs {ctx.show(low)} <= {ctx.show(high)}"
    if problem is not None:
        raise ctx.fail(codes.SIZE, f"{who}: {problem}, dim {i} of {ctx.show_tensor(x)}", ctx.input_story(), arg=arg,
                       help="use a smaller padding, or pad a larger input")


def pad_shape(ctx, who: str, mode: str, x: Tensor, pads: tuple[Dim, ...], arg: str) -> Tensor:
    """``x`` padded by torch's pad list ``pads`` (the last dim first) in ``mode``."""
    shape = list(x.shape)
    keep = {}
    for k in range(len(pads) // 2):
        i = x.rank - 1 - k
        before, after = pads[2 * k], pads[2 * k + 1]
        _check_pad(ctx, who, mode, x, i, before, after, arg)
        shape[i] = padded(x.shape[i], before, after)
        if isinstance(before, int) and isinstance(after, int) and before == after == 0:
            keep[i] = i
    keep.update({i: i for i in range(x.rank - len(pads) // 2)})
    ctx.refuse_batch_in(x, [i for i in range(x.rank) if i not in keep], "extends or crops {dim}",
                        "it would shift the samples, or add rows that are not samples")
    return x.with_shape(tuple(shape), ctx.origin, keep=keep)


def pad_sizes(ctx, values, arg: str) -> tuple[Dim, ...]:
    """Pad sizes as known integers, except in a network checked generically (``not
    ctx.strict``), where a size given by the network's parameters stays a symbol."""
    return tuple(v if isinstance(v, Expr) and not ctx.strict else ctx.concrete(v, arg, arg) for v in values)


# -- the layers ----------------------------------------------------------------------------------


class PadArgs(Args):
    padding: DimOrTuple


class ConstantPadArgs(PadArgs):
    value: FloatArg


class _Pad(Layer):
    """A padding layer over the last ``n`` dims."""

    n: ClassVar[int]
    mode: ClassVar[str]
    Args = PadArgs
    fresh_result = True
    positional = ("padding",)
    torch_positional = ("padding",)

    def pads(self, ctx, a) -> tuple[Dim, ...]:
        p = a.padding
        if is_dim(p):
            p = (p,) * (2 * self.n)
        elif len(p) != 2 * self.n:
            raise ctx.fail(codes.ARGUMENT, f"{self.name}(padding=...): expected an integer or {2 * self.n} values "
                           f"({', '.join(SIDES[:2 * self.n])}), received {len(p)}", arg="padding")
        return pad_sizes(ctx, p, "padding")

    def infer(self, ctx, a, inputs):
        (x,) = inputs
        if self.mode != "constant" and x.dtype == "bool":
            raise ctx.fail(codes.DTYPE, f"{self.name} takes numbers, not bool", ctx.input_story(),
                           help="convert the mask to a number type first, or pad it with a ConstantPad")
        return [pad_shape(ctx, self.name, self.mode, x, self.pads(ctx, a), "padding")]

    def batch_axis(self, a, rank):
        return 0 if rank >= self.n + 2 else None

    def result_format(self, a, rank):
        """A new tensor in the memory format the input suggests (ATen's constant_pad_nd, and
        the reflection and replication pads of a batched input); contiguous at 3 dims. A
        padding with no size above 0 is a clone of the input instead, which keeps its
        strides: unstated."""
        p = a.padding if isinstance(a.padding, tuple) else (a.padding,)
        if not all(isinstance(v, int) for v in p) or not any(v > 0 for v in p):
            return None
        if rank in (4, 5) and (self.mode == "constant" or rank == self.n + 2):
            return "format"
        return "contiguous" if rank == 3 or (self.mode == "constant" and rank < 4) else None


class _ConstantPad(_Pad):
    """Pads with a constant: any dtype, any rank from n on (torch pads the last n dims)."""

    mode = "constant"

    @property
    def min_rank(self):
        return self.n


class _ZeroPad(_ConstantPad):
    pass


class _ValuePad(_ConstantPad):
    Args = ConstantPadArgs
    positional = ("padding", "value")
    torch_positional = ("padding", "value")


class _FramePad(_Pad):
    """Reflects or replicates the border: [N, C, *spatial] or unbatched [C, *spatial]."""

    def saved(self, a, inputs, outputs, grad):
        return Saved(inputs=(0,))  # the backward reads the input it reflected or replicated

    @property
    def ranks(self):
        return (self.n + 1, self.n + 2)

    @property
    def rank_help(self):
        spatial = ("W", "H, W", "D, H, W")[self.n - 1]
        return f"{self.name} takes [N, C, {spatial}] or [C, {spatial}]"


class _ReflectionPad(_FramePad):
    mode = "reflect"


class _ReplicationPad(_FramePad):
    mode = "replicate"


@register
class ZeroPad1d(_ZeroPad):
    name = "ZeroPad1d"
    torch_name = "ZeroPad1d"
    n = 1
    examples: ClassVar[list[dict]] = [{"stage": "ZeroPad1d(2)", "input": "float32[2, 3, 5]"},
                                      {"stage": "ZeroPad1d((1, -2))", "input": "int64[4, 6]"},
                                      {"stage": "ZeroPad1d(padding=(0, 3))", "input": "bool[5]"}]


@register
class ZeroPad2d(_ZeroPad):
    name = "ZeroPad2d"
    torch_name = "ZeroPad2d"
    n = 2
    examples: ClassVar[list[dict]] = [{"stage": "ZeroPad2d(1)", "input": "float32[2, 3, 4, 4]"},
                                      {"stage": "ZeroPad2d((1, 2, 0, 3))", "input": "float64[3, 5, 6]"},
                                      {"stage": "ZeroPad2d((-1, -1, 2, -2))", "input": "float32[4, 5]"}]


@register
class ZeroPad3d(_ZeroPad):
    name = "ZeroPad3d"
    torch_name = "ZeroPad3d"
    n = 3
    examples: ClassVar[list[dict]] = [{"stage": "ZeroPad3d(1)", "input": "float32[1, 2, 3, 4, 4]"},
                                      {"stage": "ZeroPad3d((1, 0, 0, 2, 3, 1))", "input": "float32[2, 3, 3, 3]"}]


@register
class ConstantPad1d(_ValuePad):
    name = "ConstantPad1d"
    torch_name = "ConstantPad1d"
    n = 1
    examples: ClassVar[list[dict]] = [{"stage": "ConstantPad1d(2, 0.5)", "input": "float32[2, 3, 5]"},
                                      {"stage": "ConstantPad1d((3, -1), value=1)", "input": "int32[4, 6]"}]


@register
class ConstantPad2d(_ValuePad):
    name = "ConstantPad2d"
    torch_name = "ConstantPad2d"
    n = 2
    examples: ClassVar[list[dict]] = [{"stage": "ConstantPad2d((1, 2, 3, 4), -1.5)", "input": "float32[2, 3, 4, 4]"},
                                      {"stage": "ConstantPad2d(padding=1, value=2.0)", "input": "float16[3, 5]"}]


@register
class ConstantPad3d(_ValuePad):
    name = "ConstantPad3d"
    torch_name = "ConstantPad3d"
    n = 3
    examples: ClassVar[list[dict]] = [{"stage": "ConstantPad3d(1, 0.0)", "input": "float32[2, 2, 3, 3]"},
                                      {"stage": "ConstantPad3d((0, 1, 2, 0, 1, 1), 3.5)", "input": "float64[1, 2, 2, 2, 2]"}]


@register
class ReflectionPad1d(_ReflectionPad):
    name = "ReflectionPad1d"
    torch_name = "ReflectionPad1d"
    n = 1
    examples: ClassVar[list[dict]] = [{"stage": "ReflectionPad1d(3)", "input": "float32[2, 3, 5]"},
                                      {"stage": "ReflectionPad1d((4, -2))", "input": "int64[3, 5]"}]


@register
class ReflectionPad2d(_ReflectionPad):
    name = "ReflectionPad2d"
    torch_name = "ReflectionPad2d"
    n = 2
    examples: ClassVar[list[dict]] = [{"stage": "ReflectionPad2d(1)", "input": "float32[2, 3, 4, 4]"},
                                      {"stage": "ReflectionPad2d((3, 0, 1, 2))", "input": "float64[2, 3, 4]"}]


@register
class ReflectionPad3d(_ReflectionPad):
    name = "ReflectionPad3d"
    torch_name = "ReflectionPad3d"
    n = 3
    examples: ClassVar[list[dict]] = [{"stage": "ReflectionPad3d(1)", "input": "float32[1, 2, 3, 3, 3]"},
                                      {"stage": "ReflectionPad3d((2, 1, 0, 1, 1, -1))", "input": "float32[2, 2, 3, 4]"}]


@register
class ReplicationPad1d(_ReplicationPad):
    name = "ReplicationPad1d"
    torch_name = "ReplicationPad1d"
    n = 1
    examples: ClassVar[list[dict]] = [{"stage": "ReplicationPad1d(4)", "input": "float32[2, 3, 2]"},
                                      {"stage": "ReplicationPad1d((-3, 1))", "input": "float16[3, 5]"}]


@register
class ReplicationPad2d(_ReplicationPad):
    name = "ReplicationPad2d"
    torch_name = "ReplicationPad2d"
    n = 2
    examples: ClassVar[list[dict]] = [{"stage": "ReplicationPad2d(2)", "input": "float32[2, 3, 1, 4]"},
                                      {"stage": "ReplicationPad2d((0, 1, 5, 0))", "input": "int32[2, 3, 4]"}]


@register
class ReplicationPad3d(_ReplicationPad):
    name = "ReplicationPad3d"
    torch_name = "ReplicationPad3d"
    n = 3
    examples: ClassVar[list[dict]] = [{"stage": "ReplicationPad3d(1)", "input": "float32[1, 2, 2, 3, 3]"},
                                      {"stage": "ReplicationPad3d((1, 2, 0, 0, 3, 1))", "input": "float64[2, 1, 2, 2]"}]


# -- the op --------------------------------------------------------------------------------------


def _pad_list(v):
    if not isinstance(v, tuple) or not v or not all(is_dim(x) for x in v):
        raise ValueError(f"expected a tuple of integers, received {_show(v)}")
    return v


# the ranks torch's non-constant modes take, by the number of padded dims
FRAME_RANKS = {1: (2, 3), 2: (3, 4), 3: (4, 5)}


class PadOpArgs(Args):
    pad: Annotated[Any, Before(_pad_list, "a tuple of integers, two per padded dim")]
    mode: PadMode = "constant"
    value: Optional[FloatArg] = None


@register
class Pad(Op):
    """torch.nn.functional.pad: the pad list pads the last dims (the last first)."""

    name = "pad"
    Args = PadOpArgs
    fresh_result = True
    positional = ("pad", "mode", "value")
    examples: ClassVar[list[dict]] = [
        {"stage": "pad((1, 2))", "input": "float32[2, 3, 4]"},
        {"stage": 'pad((1, 1, 2, 0), "reflect")', "input": "float32[2, 3, 4, 5]"},
        {"stage": 'pad(pad=(-1, 2, 1, 1, 0, 1), mode="constant", value=0.5)', "input": "float32[2, 3, 4, 5]"},
        {"stage": 'pad((3, 4), mode="circular")', "input": "float64[2, 5]"},
        {"stage": 'pad((1, 1, 1, 1, 1, 1), mode="replicate")', "input": "float32[1, 2, 3, 3, 3]"},
        {"stage": "pad((0, 0, 0, 0, 2, 1), value=1)", "input": "int64[4, 2, 3]"},
    ]

    def is_view(self):
        return False

    def infer(self, ctx, a, inputs):
        (x,) = inputs
        pads = pad_sizes(ctx, a.pad, "pad")
        if len(pads) % 2:
            raise ctx.fail(codes.VALUE, f"pad takes pairs (before, after), the last dim first; received {len(pads)} "
                           "values", arg="pad")
        dims = len(pads) // 2
        if dims > x.rank:
            raise ctx.fail(codes.RANK, f"pad pads {dims} dims, but its input {ctx.show_tensor(x)} has {x.rank}",
                           ctx.input_story(), arg="pad")
        if a.mode != "constant":
            self._check_frame(ctx, a, x, dims)
        return [pad_shape(ctx, "pad", a.mode, x, pads, "pad")]

    def _check_frame(self, ctx, a, x: Tensor, dims: int) -> None:
        """What torch asks of the reflect, replicate and circular modes."""
        if a.value not in (None, 0.0):
            raise ctx.fail(codes.VALUE, f'pad: mode "{a.mode}" takes no value', arg="value",
                           help='drop value, or use mode="constant"')
        ranks = FRAME_RANKS.get(dims, ())
        if x.rank not in ranks:
            want = " or ".join(map(str, ranks)) if ranks else "2 to 5"
            raise ctx.fail(codes.RANK, f'pad with mode "{a.mode}" pads the last {dims} dims of a {want}-dim input, '
                           f"received {ctx.show_tensor(x)}", ctx.input_story(), arg="pad",
                           help="pad 1 dim of 2- or 3-dim input, 2 of a 3- or 4-dim one, 3 of a 4- or 5-dim one")
        if x.dtype == "bool" and a.mode != "circular":
            raise ctx.fail(codes.DTYPE, f'pad with mode "{a.mode}" takes numbers, not bool', ctx.input_story(),
                           help='convert the mask to a number type first, or use mode="constant"')

    def call_args(self, a, inputs, code) -> tuple[str, ...]:
        given = [f"{n}={code(getattr(a, n))}" for n in ("mode", "value") if n in a.model_fields_set]
        return (inputs[0], code(a.pad), *given)

    def op_expr(self, a, inputs, code):
        return f"nn.functional.pad({', '.join(self.call_args(a, inputs, code))})"

    def forward(self, a, module, inputs, state, code, in_place=False):
        # a call, which a long line splits one argument a line
        return Forward(callee="nn.functional.pad", args=self.call_args(a, inputs, code))

    def batch_axis(self, a, rank):
        return 0 if rank > len(a.pad) // 2 else None

    def saved(self, a, inputs, outputs, grad):
        """Reflection and replication keep the input; a constant or circular pad nothing."""
        return Saved(inputs=(0,)) if a.mode in ("reflect", "replicate") else Saved()
