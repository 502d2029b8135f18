"""BatchNorm1d/2d/3d, LayerNorm, torchvision's LayerNorm2d, GroupNorm and InstanceNorm1d/2d/3d."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from .. import codes, layout
from ..dims import exact_div
from ..types import ITEMSIZE
from .args import Before, Takes
from .base import Args, BoolArg, FloatArg, FloatLayer, SizeArg, Weight, _float, _show, numel, register, takes_help
from .memory import Saved, nbytes


class BatchNormArgs(Args):
    num_features: SizeArg
    eps: FloatArg = 1e-5
    momentum: Annotated[Any, Takes("a number or `None` (a cumulative average)")] = 0.1  # checked in infer
    affine: BoolArg = True
    track_running_stats: BoolArg = True


def affine_weights(n, affine: bool, bias: bool) -> list[Weight]:
    """A norm's learned scale and shift, one value a feature."""
    if not affine:
        return []
    return [Weight("weight", (n,))] + ([Weight("bias", (n,))] if bias else [])


def running_stats(a) -> list[Weight]:
    """The buffers of a norm that tracks running statistics."""
    if not a.track_running_stats:
        return []
    n = a.num_features
    return [Weight("running_mean", (n,), False), Weight("running_var", (n,), False),
            Weight("num_batches_tracked", (), False, "int64")]


class _BatchNorm(FloatLayer):
    Args = BatchNormArgs
    fresh_result = True
    positional = ("eps", "momentum", "affine", "track_running_stats")
    inferred = "num_features"
    size_first = True
    torch_positional = ("num_features",)
    dtype_kwarg = True

    def inferred_index(self, rank):
        return 1

    def batch_axis(self, a, rank):
        return 0

    def infer(self, ctx, a, inputs):
        self.check_dtype(ctx, inputs[0])
        if a.momentum is not None and (isinstance(a.momentum, bool) or not isinstance(a.momentum, (int, float))):
            raise ctx.fail(codes.ARGUMENT, f"{self.name}(momentum=...): expected a number or None, received "
                           f"{_show(a.momentum)}", arg="momentum", help=takes_help(self, "momentum"))
        return [inputs[0]]

    def param_count(self, a):
        return 2 * a.num_features if a.affine else 0

    def weights(self, a, dim=None):
        return affine_weights(a.num_features, a.affine, getattr(a, "bias", True)) + running_stats(a)

    def saved(self, a, inputs, outputs, grad):
        """The input, and the batch's mean and inverse deviation of each channel."""
        x = inputs[0]
        return Saved(inputs=(0,), extra=2 * a.num_features * ITEMSIZE[x.dtype])


def _affine(channels, affine: bool, bias: bool) -> list:
    if not affine:
        return []
    return [("weight", (channels,))] + ([("bias", (channels,))] if bias else [])


@register
class BatchNorm1d(_BatchNorm):
    contiguous_ranks = (2, 3)
    name = "BatchNorm1d"
    torch_name = "BatchNorm1d"
    ranks = (2, 3)
    rank_help = "BatchNorm1d takes [batch, features] or [batch, channels, length]"
    examples: ClassVar[list[dict]] = [
        {"stage": "BatchNorm1d", "input": "float32[4, 10]"},
        {"stage": "BatchNorm1d(affine=false)", "input": "float32[4, 6, 9]"},
        {"stage": "BatchNorm1d(num_features=5, eps=0.001)", "input": "float64[3, 5]"},
        {"stage": "BatchNorm1d(6, 0.001, 0.1, false)", "input": "float32[2, 6, 3]"},
    ]


@register
class BatchNorm2d(_BatchNorm):
    format_ranks = (4,)  # torch's suggest_memory_format (layout.suggested)
    name = "BatchNorm2d"
    torch_name = "BatchNorm2d"
    ranks = (4,)
    rank_help = "BatchNorm2d takes [batch, channels, height, width]"
    examples: ClassVar[list[dict]] = [
        {"stage": "BatchNorm2d", "input": "float32[2, 8, 5, 5]"},
        {"stage": "BatchNorm2d(momentum=0.01, track_running_stats=false)", "input": "float32[2, 3, 4, 4]"},
        {"stage": "BatchNorm2d(8, 0.001, 0.2)", "input": "float32[2, 8, 3, 3]"},
        {"stage": "BatchNorm2d(affine=false)", "input": "float32[2, 4, 3, 3]"},
    ]


@register
class BatchNorm3d(_BatchNorm):
    format_ranks = (5,)  # torch's suggest_memory_format (layout.suggested)
    name = "BatchNorm3d"
    torch_name = "BatchNorm3d"
    ranks = (5,)
    rank_help = "BatchNorm3d takes [batch, channels, depth, height, width]"
    examples: ClassVar[list[dict]] = [
        {"stage": "BatchNorm3d", "input": "float32[2, 4, 3, 5, 5]"},
        {"stage": "BatchNorm3d(6, 0.001, 0.2, false)", "input": "float64[2, 6, 2, 3, 3]"},
        {"stage": "BatchNorm3d(num_features=3, track_running_stats=false)", "input": "float32[2, 3, 2, 2, 2]"},
    ]


class LayerNormArgs(Args):
    normalized_shape: Annotated[Any, Takes("an integer or a tuple of integers: the sizes of the dims it normalizes")]
    eps: FloatArg = 1e-5
    elementwise_affine: BoolArg = True
    bias: BoolArg = True


@register
class LayerNorm(FloatLayer):
    contiguous_ranks = "every"  # torch normalizes a contiguous copy of its input
    name = "LayerNorm"
    torch_name = "LayerNorm"
    Args = LayerNormArgs
    fresh_result = True
    positional = ("eps", "elementwise_affine", "bias")
    torch_positional = ("normalized_shape",)
    inferred = "normalized_shape"
    dtype_kwarg = True
    size_first = True
    min_rank = 1
    examples: ClassVar[list[dict]] = [
        {"stage": "LayerNorm", "input": "float32[2, 5, 16]"},
        {"stage": "LayerNorm(normalized_shape=(5, 16))", "input": "float32[2, 5, 16]"},
        {"stage": "LayerNorm(elementwise_affine=false)", "input": "float32[3, 7]"},
        {"stage": "LayerNorm(bias=false, eps=0.0001)", "input": "float32[6]"},
        {"stage": "LayerNorm((3, 4), 0.001, true, false)", "input": "float32[2, 3, 4]"},
        {"stage": "LayerNorm(7, elementwise_affine=true)", "input": "float64[2, 7]"},
    ]

    def infer(self, ctx, a, inputs):
        (x,) = inputs
        self.check_dtype(ctx, x)
        shape = self._shape(a)
        if len(shape) > x.rank:
            raise ctx.fail(codes.RANK, f"LayerNorm normalizes {len(shape)} dims but its input "
                           f"{ctx.show_tensor(x)} has {x.rank}", arg="normalized_shape")
        tail = x.shape[x.rank - len(shape):]
        for i, (want, got) in enumerate(zip(shape, tail)):
            if not isinstance(want, int) and not hasattr(want, "terms"):
                raise ctx.fail(codes.ARGUMENT, "LayerNorm(normalized_shape=...): expected integers",
                               arg="normalized_shape", help=takes_help(self, "normalized_shape"))
            if not ctx.same(want, got):
                idx = x.rank - len(shape) + i
                notes = [n for n in [ctx.origin_note(x, idx)] if n]
                raise ctx.fail(codes.SHAPE, f"LayerNorm(normalized_shape={ctx.show(want) if len(shape) == 1 else shape}) "
                               f"does not match the input's trailing dims {ctx.show_tensor(x)}", notes,
                               arg="normalized_shape",
                               help="drop normalized_shape and let netspec infer the last dim")
        return [x]

    @staticmethod
    def _shape(a) -> tuple:
        s = a.normalized_shape
        return s if isinstance(s, tuple) else (s,)

    def param_count(self, a):
        if not a.elementwise_affine:
            return 0
        n = numel(self._shape(a))
        return 2 * n if a.bias else n

    def weights(self, a, dim=None):
        if not a.elementwise_affine:
            return []
        shape = tuple(self._shape(a))
        return [Weight("weight", shape)] + ([Weight("bias", shape)] if a.bias else [])

    def saved(self, a, inputs, outputs, grad):
        """The input, and the mean and inverse deviation of each normalized group of values."""
        x = inputs[0]
        groups = numel(x.shape[:x.rank - len(self._shape(a))])
        return Saved(inputs=(0,), extra=2 * groups * ITEMSIZE[x.dtype])


# -- torchvision's LayerNorm2d, which a built module defines itself ----------------------------

LAYER_NORM_2D = '''class LayerNorm2d(nn.LayerNorm):
    """torchvision.models.convnext.LayerNorm2d: an nn.LayerNorm over the channels (dim 1)
    of [N, C, H, W], computed with the channels moved last; the result keeps them last in
    memory."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        w, b = self.weight, self.bias
        x = nn.functional.layer_norm(x, self.normalized_shape, w, b, self.eps)
        return x.permute(0, 3, 1, 2)
'''

# the input's dims with the channels moved last, as LayerNorm2d normalizes them
CHANNELS_LAST = (0, 2, 3, 1)


@register
class LayerNorm2d(LayerNorm):
    """torchvision's LayerNorm2d (ConvNeXt's norm): nn.LayerNorm's arguments and weights,
    normalizing the channels of [N, C, H, W]; normalized_shape is the channel dim. The
    built module needs only torch, so it defines the class itself (``support_code``)."""

    name = "LayerNorm2d"
    torch_name = "LayerNorm2d"
    support_code = LAYER_NORM_2D
    ranks = (4,)
    rank_help = "LayerNorm2d takes [batch, channels, height, width]"
    tracks_layout = True
    examples: ClassVar[list[dict]] = [
        {"stage": "LayerNorm2d", "input": "float32[2, 8, 5, 5]"},
        {"stage": "LayerNorm2d(eps=1e-6)", "input": "float32[2, 3, 4, 1]"},
        {"stage": "LayerNorm2d(6, 0.001, true, false)", "input": "float64[1, 6, 2, 3]"},
        {"stage": "LayerNorm2d(normalized_shape=(3, 4))", "input": "float32[2, 4, 5, 3]"},
        {"stage": "LayerNorm2d(elementwise_affine=false)", "input": "float32[3, 2, 1, 1]"},
    ]

    def inferred_index(self, rank):
        return 1

    def batch_axis(self, a, rank):
        return 0

    def infer(self, ctx, a, inputs):
        (x,) = inputs
        self.check_dtype(ctx, x)
        shape = self._shape(a)
        last = tuple(x.shape[i] for i in CHANNELS_LAST)
        if len(shape) > len(last):
            raise ctx.fail(codes.RANK, f"LayerNorm2d normalizes {len(shape)} dims but its input "
                           f"{ctx.show_tensor(x)} has {x.rank}", arg="normalized_shape")
        for i, (want, got) in enumerate(zip(shape, last[len(last) - len(shape):])):
            if not isinstance(want, int) and not hasattr(want, "terms"):
                raise ctx.fail(codes.ARGUMENT, "LayerNorm2d(normalized_shape=...): expected integers",
                               arg="normalized_shape", help=takes_help(self, "normalized_shape"))
            if not ctx.same(want, got):
                idx = CHANNELS_LAST[len(last) - len(shape) + i]
                notes = [n for n in [ctx.origin_note(x, idx)] if n]
                raise ctx.fail(codes.SHAPE, f"LayerNorm2d(normalized_shape={ctx.show(want) if len(shape) == 1 else shape})"
                               f" does not match the trailing dims of its input {ctx.show_tensor(x)} with the "
                               "channels moved last", notes, arg="normalized_shape",
                               help="drop normalized_shape and let netspec infer the channels")
        # torch's layer_norm writes a new tensor in the channels-last order it normalizes
        strides = layout.permuted(layout.default_strides(last), (0, 3, 1, 2))
        return [x.with_strides(layout.normal(x.shape, strides, ctx.decide))]

    def saved(self, a, inputs, outputs, grad):
        """The input (a view of it), and the mean and inverse deviation of each normalized
        group of values."""
        x = inputs[0]
        last = tuple(x.shape[i] for i in CHANNELS_LAST)
        groups = numel(last[:len(last) - len(self._shape(a))])
        return Saved(inputs=(0,), extra=2 * groups * ITEMSIZE[x.dtype])


# -- GroupNorm --------------------------------------------------------------------------------


def _group_eps(v):
    """GroupNorm's eps: a number, but not a bare integer, which in torch's order would be the
    num_channels this language infers (`GroupNorm(32, 64)` means eps=64 here)."""
    if isinstance(v, int) and not isinstance(v, bool):
        raise ValueError(f"expected a float, received {v}; torch's second argument, num_channels, is "
                         f"inferred from the input here: leave it out, or pass num_channels={v}")
    return _float(v)


class GroupNormArgs(Args):
    num_groups: SizeArg
    num_channels: SizeArg
    eps: Annotated[Any, Before(_group_eps, "a float such as `1e-5` (torch's num_channels is inferred here)")] = 1e-5
    affine: BoolArg = True
    bias: BoolArg = True


@register
class GroupNorm(FloatLayer):
    """Normalizes groups of the channels (dim 1) of [N, C, *]; num_channels is dim 1."""
    contiguous_ranks = (3,)
    format_ranks = (4, 5)  # torch's suggest_memory_format (layout.suggested)

    name = "GroupNorm"
    torch_name = "GroupNorm"
    Args = GroupNormArgs
    fresh_result = True
    positional = ("num_groups", "eps", "affine")
    inferred = "num_channels"
    torch_positional = ("num_groups", "num_channels")
    dtype_kwarg = True
    min_rank = 2
    rank_help = "GroupNorm takes [batch, channels, *]"
    examples: ClassVar[list[dict]] = [
        {"stage": "GroupNorm(2)", "input": "float32[2, 4, 5, 5]"},
        {"stage": "GroupNorm(3, 0.001, false)", "input": "float32[2, 6, 7]"},
        {"stage": "GroupNorm(num_groups=1, num_channels=5, bias=false)", "input": "float64[3, 5]"},
        {"stage": "GroupNorm(4, affine=true, eps=1e-6)", "input": "float32[1, 8, 2, 2, 2]"},
    ]

    def inferred_index(self, rank):
        return 1

    def batch_axis(self, a, rank):
        return 0

    def infer(self, ctx, a, inputs):
        (x,) = inputs
        self.check_dtype(ctx, x)
        ctx.refuse_batch_in(x, range(2, x.rank), "normalizes over {dim}",
                            "each sample's result would depend on the others")
        groups = ctx.concrete(a.num_groups, "num_groups", "num_groups")
        if groups < 1:
            raise ctx.fail(codes.VALUE, f"GroupNorm: num_groups must be positive, received {groups}", arg="num_groups")
        channels = a.num_channels
        if exact_div(channels, groups) is None:
            v = ctx.dim(channels)
            if isinstance(v, int) and v % groups:
                notes = [o for o in [ctx.origin_note(x, 1)] if o] + ctx.input_story()
                raise ctx.fail(codes.VALUE, f"GroupNorm: num_channels ({v}) must be divisible by num_groups ({groups})",
                               notes, arg="num_groups", help="use a number of groups that divides the channels")
            ctx.requires_divisible(channels, a.num_groups)
            if not isinstance(v, int) and ctx.warns_unproven(channels, a.num_groups):
                ctx.warn(codes.UNPROVEN, f"GroupNorm needs num_channels (`{ctx.show(channels)}`) divisible by "
                         f"num_groups ({groups}), which cannot be proven for every value of the symbols",
                         ctx.input_story(), arg="num_groups",
                         help="check that it holds; `# netspec: allow[unproven]` on the line accepts it")
        # torch's own count (F.group_norm): batch * channels a group * spatial elements
        values = ctx.dim(x.shape[0] * numel(x.shape[2:]) * channels)
        if isinstance(values, int) and values == groups:
            raise ctx.fail(codes.SIZE, f"GroupNorm({groups}) on {ctx.show_tensor(x)} normalizes single values: torch "
                           "needs more than one value a channel", ctx.input_story(),
                           help="use fewer groups, or a larger input")
        return [x]

    def param_count(self, a):
        if not a.affine:
            return 0
        return 2 * a.num_channels if a.bias else a.num_channels

    def weights(self, a, dim=None):
        return affine_weights(a.num_channels, a.affine, a.bias)

    def saved(self, a, inputs, outputs, grad):
        """The input, and the mean and inverse deviation of each group of each sample."""
        x = inputs[0]
        return Saved(inputs=(0,), extra=2 * x.shape[0] * a.num_groups * ITEMSIZE[x.dtype])


# -- InstanceNorm -----------------------------------------------------------------------------


class InstanceNormArgs(BatchNormArgs):
    affine: BoolArg = False
    track_running_stats: BoolArg = False
    bias: BoolArg = True


class _InstanceNorm(_BatchNorm):
    """Normalizes each channel of each sample over its n spatial dims: [N, C, *spatial] or
    unbatched [C, *spatial]; num_features is the channel dim."""

    Args = InstanceNormArgs
    n: ClassVar[int]

    @property
    def ranks(self):
        return (self.n + 1, self.n + 2)

    @property
    def rank_help(self):
        spatial = ("L", "H, W", "D, H, W")[self.n - 1]
        return f"{self.name} takes [N, C, {spatial}] or [C, {spatial}]"

    def inferred_index(self, rank):
        return rank - self.n - 1

    def batch_axis(self, a, rank):
        return 0 if rank == self.n + 2 else None

    def infer(self, ctx, a, inputs):
        out = super().infer(ctx, a, inputs)
        x = inputs[0]
        ctx.refuse_batch_in(x, range(x.rank - self.n, x.rank), "normalizes over {dim} as a spatial dim",
                            "each sample's result would depend on the others")
        # torch raises in training, and in eval without running stats (the class tests it
        # where parameters size the spatial dims)
        if ctx.requires_at_most(2, numel(x.shape[-self.n:])) is False:
            raise ctx.fail(codes.SIZE, f"{self.name} needs more than one spatial element a channel, but its input "
                           f"is {ctx.show_tensor(x)}", ctx.input_story(),
                           help="instance statistics need several values; use a larger input, or no norm here")
        return out

    def param_count(self, a):
        if not a.affine:
            return 0
        return 2 * a.num_features if a.bias else a.num_features

    def saved(self, a, inputs, outputs, grad):
        """torch runs a batch norm over [1, N * C, *spatial]: the input, the mean and inverse
        deviation of each of the N * C channels, and the N * C copies it makes of the running
        statistics (track_running_stats) and of the weight (affine). torch reshapes
        ``input.contiguous()``: a strided input is copied, and the copy is what it keeps."""
        x = inputs[0]
        channels = (x.shape[0] if x.rank == self.n + 2 else 1) * a.num_features
        copies = 2 + 2 * int(a.track_running_stats) + int(a.affine)
        stats = copies * channels * ITEMSIZE[x.dtype]
        if not grad.is_contiguous(0):
            return Saved(extra=nbytes(x) + stats)
        return Saved(inputs=(0,), extra=stats)


@register
class InstanceNorm1d(_InstanceNorm):
    contiguous_ranks = (3,)
    name = "InstanceNorm1d"
    torch_name = "InstanceNorm1d"
    n = 1
    examples: ClassVar[list[dict]] = [
        {"stage": "InstanceNorm1d", "input": "float32[2, 3, 8]"},
        {"stage": "InstanceNorm1d(4, 0.001, 0.2, true, true)", "input": "float32[2, 4, 5]"},
        {"stage": "InstanceNorm1d(affine=true, bias=false)", "input": "float64[3, 6]"},
    ]


@register
class InstanceNorm2d(_InstanceNorm):
    contiguous_ranks = (4,)
    name = "InstanceNorm2d"
    torch_name = "InstanceNorm2d"
    n = 2
    examples: ClassVar[list[dict]] = [
        {"stage": "InstanceNorm2d", "input": "float32[2, 3, 4, 4]"},
        {"stage": "InstanceNorm2d(num_features=5, affine=true)", "input": "float32[5, 3, 2]"},
        {"stage": "InstanceNorm2d(eps=0.01, track_running_stats=true)", "input": "float64[1, 2, 3, 3]"},
        {"stage": "InstanceNorm2d(3, affine=true, bias=false)", "input": "float32[2, 3, 2, 5]"},
    ]


@register
class InstanceNorm3d(_InstanceNorm):
    contiguous_ranks = (5,)
    name = "InstanceNorm3d"
    torch_name = "InstanceNorm3d"
    n = 3
    examples: ClassVar[list[dict]] = [
        {"stage": "InstanceNorm3d", "input": "float32[2, 3, 2, 3, 4]"},
        {"stage": "InstanceNorm3d(2, affine=true)", "input": "float32[2, 2, 2, 2]"},
        {"stage": "InstanceNorm3d(momentum=0.5, affine=true, bias=false)", "input": "float32[1, 3, 2, 2, 3]"},
    ]
