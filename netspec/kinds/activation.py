"""The activations: elementwise layers, and the softmaxes over one dim."""

from __future__ import annotations

from typing import ClassVar, Literal, Optional

from .. import codes, layout
from ..dims import exact_div, floordiv
from ..types import Tensor
from .base import Args, BoolArg, DimArg, FloatArg, FloatLayer, Layer, SizeArg, Weight, register
from .memory import Saved, nbytes


class InplaceArgs(Args):
    inplace: BoolArg = False


class _Elementwise(FloatLayer):
    examples: ClassVar[list[dict]] = [{"stage": "", "input": "float32[2, 3]"},
                                      {"stage": "", "input": "float64[4]"}]
    # what the backward reads: the "input" or the "result"; with inplace=true the input is
    # gone, so torch keeps the "result", or a "copy" of the input made before it is written
    keeps: ClassVar[str] = "input"
    keeps_in_place: ClassVar[str] = "copy"
    iterates = True

    def infer(self, ctx, a, inputs):
        self.check_dtype(ctx, inputs[0])
        return [inputs[0]]

    def saved(self, a, inputs, outputs, grad):
        keeps = self.keeps_in_place if getattr(a, "inplace", False) is True else self.keeps
        if keeps == "copy":
            return Saved(extra=nbytes(inputs[0]))
        return Saved(outputs=(0,)) if keeps == "result" else Saved(inputs=(0,))

    def layout(self, ctx, a, inputs, outputs):
        (x,) = inputs
        if getattr(a, "inplace", False):
            return [x.strides]  # the input itself
        return [layout.elementwise(x, ctx.decide)]


@register
class ReLU(_Elementwise):
    name = "ReLU"
    torch_name = "ReLU"
    keeps = keeps_in_place = "result"
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
    keeps = "result"
    examples: ClassVar[list[dict]] = [{"stage": "Tanh", "input": "float32[2, 3]"}]


@register
class Sigmoid(_Elementwise):
    name = "Sigmoid"
    torch_name = "Sigmoid"
    keeps = "result"
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
    keeps = "result"

    def infer(self, ctx, a, inputs):
        x = inputs[0]
        self.check_dtype(ctx, x)
        if a.dim is None:
            ctx.warn(codes.VALUE, f"{self.name} without `dim`: torch picks one implicitly and warns",
                     help=f"pass the dim: {self.name}(-1)")
        else:
            d = ctx.concrete(a.dim, "dim", "dim")
            rank = max(x.rank, 1)
            if not -rank <= d < rank:
                raise ctx.fail(codes.RANK, f"dim={d} is out of range for {ctx.show_tensor(x)}", arg="dim")
        return [x]

    def batch_axis(self, a, rank):
        over = a.dim if isinstance(a.dim, int) else 0  # without `dim`, torch may pick dim 0
        return 0 if rank >= 2 and over % rank != 0 else None

    iterates = False  # not elementwise: a new, contiguous result

    def layout(self, ctx, a, inputs, outputs):
        return [None]


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



# -- more elementwise activations -------------------------------------------------------------


class _InplaceActivation(_Elementwise):
    Args = InplaceArgs
    positional = ("inplace",)


@register
class ReLU6(_InplaceActivation):
    name = "ReLU6"
    torch_name = "ReLU6"
    accepts_int = True  # torch's hardtanh clamps integers too
    examples: ClassVar[list[dict]] = [{"stage": "ReLU6", "input": "float32[2, 3]"},
                                      {"stage": "ReLU6(true)", "input": "float16[4, 2]"},
                                      {"stage": "ReLU6", "input": "int32[5]"}]


@register
class SiLU(_InplaceActivation):
    name = "SiLU"
    torch_name = "SiLU"
    examples: ClassVar[list[dict]] = [{"stage": "SiLU", "input": "float32[2, 3, 4]"},
                                      {"stage": "SiLU(inplace=true)", "input": "float64[3]"}]


@register
class Hardswish(_InplaceActivation):
    name = "Hardswish"
    torch_name = "Hardswish"
    examples: ClassVar[list[dict]] = [{"stage": "Hardswish", "input": "float32[2, 8, 3, 3]"},
                                      {"stage": "Hardswish(true)", "input": "bfloat16[4]"}]


@register
class Hardsigmoid(_InplaceActivation):
    name = "Hardsigmoid"
    torch_name = "Hardsigmoid"
    examples: ClassVar[list[dict]] = [{"stage": "Hardsigmoid", "input": "float32[2, 5]"},
                                      {"stage": "Hardsigmoid(inplace=true)", "input": "float64[2, 2, 2]"}]


@register
class Mish(_InplaceActivation):
    name = "Mish"
    torch_name = "Mish"
    examples: ClassVar[list[dict]] = [{"stage": "Mish", "input": "float32[3, 4]"},
                                      {"stage": "Mish(true)", "input": "float32[2]"}]


class LeakyReLUArgs(Args):
    negative_slope: FloatArg = 0.01
    inplace: BoolArg = False


@register
class LeakyReLU(_Elementwise):
    name = "LeakyReLU"
    torch_name = "LeakyReLU"
    keeps_in_place = "result"
    Args = LeakyReLUArgs
    positional = ("negative_slope", "inplace")
    examples: ClassVar[list[dict]] = [{"stage": "LeakyReLU", "input": "float32[2, 3]"},
                                      {"stage": "LeakyReLU(0.2, true)", "input": "float32[2, 4, 5]"},
                                      {"stage": "LeakyReLU(negative_slope=0.1)", "input": "float16[6]"}]


class ELUArgs(Args):
    alpha: FloatArg = 1.0
    inplace: BoolArg = False


@register
class ELU(_Elementwise):
    name = "ELU"
    torch_name = "ELU"
    keeps_in_place = "result"
    Args = ELUArgs
    positional = ("alpha", "inplace")
    examples: ClassVar[list[dict]] = [{"stage": "ELU", "input": "float32[2, 3]"},
                                      {"stage": "ELU(0.5, true)", "input": "float64[3, 2]"},
                                      {"stage": "ELU(alpha=2.0)", "input": "float32[4]"}]


class SoftplusArgs(Args):
    beta: FloatArg = 1.0
    threshold: FloatArg = 20.0


@register
class Softplus(_Elementwise):
    name = "Softplus"
    torch_name = "Softplus"
    Args = SoftplusArgs
    positional = ("beta", "threshold")
    examples: ClassVar[list[dict]] = [{"stage": "Softplus", "input": "float32[2, 3]"},
                                      {"stage": "Softplus(2.0, 10.0)", "input": "float64[5]"},
                                      {"stage": "Softplus(threshold=5)", "input": "float32[2, 2, 2]"}]


class PReLUArgs(Args):
    num_parameters: SizeArg = 1
    init: FloatArg = 0.25


@register
class PReLU(_Elementwise):
    """One learned slope, or one a channel (dim 1; a 1-dim input has one channel)."""

    name = "PReLU"
    torch_name = "PReLU"
    Args = PReLUArgs
    positional = ("num_parameters", "init")
    dtype_kwarg = True
    examples: ClassVar[list[dict]] = [{"stage": "PReLU", "input": "float32[2, 3]"},
                                      {"stage": "PReLU(4, 0.1)", "input": "float32[2, 4, 5, 5]"},
                                      {"stage": "PReLU(num_parameters=3)", "input": "float64[2, 3]"},
                                      {"stage": "PReLU(init=0.5)", "input": "float32[]"}]

    def infer(self, ctx, a, inputs):
        (x,) = inputs
        self.check_dtype(ctx, x)
        n = ctx.known(a.num_parameters)  # a size: a symbol, as a channel count, is fine
        if isinstance(n, int) and n < 1:
            raise ctx.fail(codes.VALUE, f"PReLU: num_parameters must be positive, received {n}", arg="num_parameters")
        if n == 1:
            return [x]
        if x.rank == 0:
            raise ctx.fail(codes.RANK, f"PReLU(num_parameters={ctx.show(n)}) needs a channel dim, but its input is 0-dim",
                           ctx.input_story(), arg="num_parameters", help="use num_parameters=1 for one slope")
        channels = x.shape[1] if x.rank >= 2 else 1
        if not ctx.same(channels, a.num_parameters):
            where = "dim 1" if x.rank >= 2 else "a 1-dim input, which has one channel"
            notes = [o for o in [ctx.origin_note(x, 1) if x.rank >= 2 else None] if o] + ctx.input_story()
            raise ctx.fail(codes.SHAPE, f"PReLU has num_parameters={ctx.show(n)}, but its input {ctx.show_tensor(x)} has "
                           f"{ctx.show(channels)} channels ({where})", notes, arg="num_parameters",
                           help="give one parameter a channel, or num_parameters=1 for one slope")
        return [x]

    def param_count(self, a):
        return a.num_parameters

    def weights(self, a, dim=None):
        return [Weight("weight", (a.num_parameters,))]


class GLUArgs(Args):
    dim: DimArg = -1


@register
class GLU(FloatLayer):
    """Splits ``dim`` into halves a and b and returns a * sigmoid(b): that dim halves."""

    name = "GLU"
    torch_name = "GLU"
    Args = GLUArgs
    positional = ("dim",)
    min_rank = 1
    examples: ClassVar[list[dict]] = [{"stage": "GLU", "input": "float32[2, 6]"},
                                      {"stage": "GLU(1)", "input": "float32[2, 8, 3]"},
                                      {"stage": "GLU(dim=-3)", "input": "float64[4, 3, 5]"},
                                      {"stage": "GLU(0)", "input": "float32[2]"}]

    def infer(self, ctx, a, inputs):
        (x,) = inputs
        self.check_dtype(ctx, x)
        d = ctx.concrete(a.dim, "dim", "dim")
        if not -x.rank <= d < x.rank:
            raise ctx.fail(codes.RANK, f"GLU: dim={d} is out of range for {ctx.show_tensor(x)}", arg="dim")
        i = d % x.rank
        kept = halves_apart(ctx, x, i)
        if kept is None:
            ctx.refuse_batch_in(x, [i], "halves {dim}", "the first half of the samples would be gated by the second",
                                layout="[batch, features] and halve the features (`GLU(-1)`)", first=False)
        size = x.shape[i]
        half = exact_div(size, 2)
        if half is None:
            v = ctx.known(size)
            if isinstance(v, int) and v % 2:
                notes = [o for o in [ctx.origin_note(x, i)] if o] + ctx.input_story()
                raise ctx.fail(codes.SHAPE, f"GLU halves dim {i}, but its size is {v}, which is odd", notes,
                               help="GLU splits the dim into two halves: give it an even size "
                               "(a layer before it with twice the features it should keep)")
            if isinstance(v, int):
                half = v // 2
            else:
                if ctx.assume_divides(size, 2):
                    ctx.warn(codes.UNPROVEN, f"GLU halves dim {i} (`{ctx.show(size)}`), which must be even; "
                             "that cannot be proven for every value of the symbols", ctx.input_story(),
                             help="give the dim an even size, e.g. `2 * n`")
                half = floordiv(size, 2)
        shape = x.shape[:i] + (half,) + x.shape[i + 1:]
        return [x.with_shape(shape, ctx.origin, keep={k: k for k in range(x.rank) if k != i}, batch=kept)]

    def batch_axis(self, a, rank):
        over = a.dim if isinstance(a.dim, int) else 0
        return 0 if rank >= 2 and over % rank != 0 else None

    def layout(self, ctx, a, inputs, outputs):
        """torch's TensorIterator over the two halves (views of the input, its strides), as
        an elementwise op of them (layout.iterated; tests/test_formats.py)."""
        (x,) = inputs
        half = x.with_shape(outputs[0].shape, ctx.origin, strides=layout.strides_of(x))
        return [layout.iterated([half, half], outputs[0].shape, ctx.decide)]

    def saved(self, a, inputs, outputs, grad):
        return Saved(inputs=(0,))


def halves_apart(ctx, x: Tensor, i: int):
    """``Tensor.batch`` of GLU's result when dim ``i`` holds the samples merged after an even
    number of runs of every sample (``[2 * k, batch]`` flattened): element j and its gate
    j + size / 2 are then the same sample's, in the same place; else None."""
    if x.batch is None or x.batch[0] != i or ctx.role(x.shape[i]) == "batch":
        return None
    _, inner, batch = x.batch
    runs = exact_div(ctx.dim(x.shape[i]), ctx.dim(batch) * ctx.dim(inner))
    return x.batch if runs is not None and exact_div(runs, 2) is not None else None


@register
class Identity(Layer):
    """Returns its input, of any dtype and rank."""

    name = "Identity"
    torch_name = "Identity"
    examples: ClassVar[list[dict]] = [{"stage": "Identity", "input": "float32[2, 3]"},
                                      {"stage": "Identity", "input": "int64[4]"},
                                      {"stage": "Identity", "input": "bool[]"}]

    def infer(self, ctx, a, inputs):
        return [inputs[0]]

    def is_view(self):
        return True
