"""The activations: elementwise layers, and the softmaxes over one dim."""

from __future__ import annotations

from typing import ClassVar, Literal, Optional

from .base import Args, BoolArg, DimArg, FloatLayer, register


class InplaceArgs(Args):
    inplace: BoolArg = False


class _Elementwise(FloatLayer):
    examples: ClassVar[list[dict]] = [{"stage": "", "input": "float32[2, 3]"},
                                      {"stage": "", "input": "float64[4]"}]

    def infer(self, ctx, a, inputs):
        self.check_dtype(ctx, inputs[0])
        return [inputs[0]]


@register
class ReLU(_Elementwise):
    name = "ReLU"
    torch_name = "ReLU"
    Args = InplaceArgs
    positional = ("inplace",)
    accepts_int = True
    examples: ClassVar[list[dict]] = [{"stage": "ReLU", "input": "float32[2, 3]"},
                                      {"stage": "ReLU(true)", "input": "float32[4, 1, 2]"},
                                      {"stage": "ReLU", "input": "int64[3]"}]

    def constructor_args(self, a):
        return ([], {"inplace": a.inplace}) if "inplace" in a.model_fields_set else ([], {})


@register
class Tanh(_Elementwise):
    name = "Tanh"
    torch_name = "Tanh"
    examples: ClassVar[list[dict]] = [{"stage": "Tanh", "input": "float32[2, 3]"}]


@register
class Sigmoid(_Elementwise):
    name = "Sigmoid"
    torch_name = "Sigmoid"
    examples: ClassVar[list[dict]] = [{"stage": "Sigmoid", "input": "float64[5, 1]"}]


class GELUArgs(Args):
    approximate: Literal["none", "tanh"] = "none"


@register
class GELU(_Elementwise):
    name = "GELU"
    torch_name = "GELU"
    Args = GELUArgs
    positional = ("approximate",)
    examples: ClassVar[list[dict]] = [{"stage": "GELU", "input": "float32[2, 3]"},
                                      {"stage": 'GELU("tanh")', "input": "float32[3]"}]


class SoftmaxArgs(Args):
    dim: Optional[DimArg] = None


class _Softmax(_Elementwise):
    Args = SoftmaxArgs
    positional = ("dim",)

    def infer(self, ctx, a, inputs):
        x = inputs[0]
        self.check_dtype(ctx, x)
        if a.dim is None:
            ctx.warn("value", f"{self.name} without `dim`: torch picks one implicitly and warns",
                     help=f"pass the dim: {self.name}(-1)")
        else:
            d = ctx.concrete(a.dim, "dim", "dim")
            rank = max(x.rank, 1)
            if not -rank <= d < rank:
                raise ctx.fail("rank", f"dim={d} is out of range for {ctx.show_tensor(x)}", arg="dim")
        return [x]

    def batch_axis(self, a, rank):
        over = a.dim if isinstance(a.dim, int) else 0  # without `dim`, torch may pick dim 0
        return 0 if rank >= 2 and over % rank != 0 else None


@register
class Softmax(_Softmax):
    name = "Softmax"
    torch_name = "Softmax"
    examples: ClassVar[list[dict]] = [{"stage": "Softmax(-1)", "input": "float32[2, 3]"},
                                      {"stage": "Softmax(dim=0)", "input": "float32[4, 5, 6]"},
                                      {"stage": "Softmax(-2)", "input": "float64[2, 3, 4]"}]


@register
class LogSoftmax(_Softmax):
    name = "LogSoftmax"
    torch_name = "LogSoftmax"
    examples: ClassVar[list[dict]] = [{"stage": "LogSoftmax(1)", "input": "float32[2, 3]"},
                                      {"stage": "LogSoftmax(dim=-1)", "input": "float64[3]"}]

