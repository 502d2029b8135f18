"""BatchNorm1d/2d and LayerNorm."""

from __future__ import annotations

from typing import Any, ClassVar

from .. import codes
from .base import Args, BoolArg, FloatArg, FloatLayer, SizeArg, numel, register


class BatchNormArgs(Args):
    num_features: SizeArg
    eps: FloatArg = 1e-5
    momentum: Any = 0.1
    affine: BoolArg = True
    track_running_stats: BoolArg = True


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
            raise ctx.fail(codes.ARGUMENT, f"{self.name}(momentum=...): expected a number", arg="momentum")
        return [inputs[0]]

    def param_count(self, a):
        return 2 * a.num_features if a.affine else 0


@register
class BatchNorm1d(_BatchNorm):
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


class LayerNormArgs(Args):
    normalized_shape: Any
    eps: FloatArg = 1e-5
    elementwise_affine: BoolArg = True
    bias: BoolArg = True


@register
class LayerNorm(FloatLayer):
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
                               arg="normalized_shape")
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
