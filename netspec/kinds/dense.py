"""Linear, Embedding, Flatten, Dropout and the activations."""

from __future__ import annotations

from typing import ClassVar, Literal, Optional

from ..types import INT_DTYPES, Tensor
from .args import after
from .base import Args, BoolArg, DimArg, FloatArg, FloatLayer, Layer, numel, register


class LinearArgs(Args):
    in_features: DimArg
    out_features: DimArg
    bias: BoolArg = True


@register
class Linear(FloatLayer):
    name = "Linear"
    torch_name = "Linear"
    Args = LinearArgs
    fresh_result = True
    positional = ("out_features", "bias")
    inferred = "in_features"
    torch_positional = ("in_features", "out_features")
    dtype_kwarg = True
    min_rank = 1
    examples: ClassVar[list[dict]] = [
        {"stage": "Linear(10)", "input": "float32[4, 7]"},
        {"stage": "Linear(3, bias=false)", "input": "float32[2, 5, 6]"},
        {"stage": "Linear(5, in_features=8)", "input": "float64[8]"},
        {"stage": "Linear(3, false)", "input": "float32[2, 1, 2, 4]"},
    ]

    def infer(self, ctx, a, inputs):
        (x,) = inputs
        self.check_dtype(ctx, x)
        return [x.with_shape(x.shape[:-1] + (a.out_features,), ctx.origin,
                             keep={i: i for i in range(x.rank - 1)})]

    def param_count(self, a):
        return a.in_features * a.out_features + (a.out_features if a.bias else 0)

    def flops(self, a, inputs, outputs):
        return 2 * numel(outputs[0].shape) * a.in_features


class EmbeddingArgs(Args):
    num_embeddings: DimArg
    embedding_dim: DimArg
    padding_idx: Optional[DimArg] = None
    max_norm: Optional[FloatArg] = None
    norm_type: FloatArg = 2.0
    scale_grad_by_freq: BoolArg = False
    sparse: BoolArg = False

    @after
    def _padding(self):
        n, p = self.num_embeddings, self.padding_idx
        if isinstance(n, int) and isinstance(p, int) and not -n <= p < n:
            raise ValueError(f"padding_idx must be within num_embeddings ({n}), received {p}")


@register
class Embedding(Layer):
    name = "Embedding"
    torch_name = "Embedding"
    Args = EmbeddingArgs
    positional = ("num_embeddings", "embedding_dim", "padding_idx", "max_norm", "norm_type",
                  "scale_grad_by_freq", "sparse")
    torch_positional = ("num_embeddings", "embedding_dim")
    examples: ClassVar[list[dict]] = [
        {"stage": "Embedding(100, 16)", "input": "int64[4, 9]"},
        {"stage": "Embedding(10, 3, padding_idx=0)", "input": "int32[5]"},
        {"stage": "Embedding(7, 2)", "input": "int64[2, 3, 4]"},
        {"stage": "Embedding(10, 4, 0)", "input": "int64[3, 2]"},
        {"stage": "Embedding(10, 3, padding_idx=-1)", "input": "int64[2]"},
    ]

    def infer(self, ctx, a, inputs):
        (x,) = inputs
        if x.dtype not in INT_DTYPES:
            raise ctx.fail("dtype", f"Embedding needs integer ids (int64 or int32), received {x.dtype}",
                           ctx.input_story(),
                           help="declare the input as `long[...]`, or use Linear for float features")
        return [Tensor("float32", x.shape + (a.embedding_dim,),
                       x.origins + (ctx.origin,))]

    def param_count(self, a):
        return a.num_embeddings * a.embedding_dim


class FlattenArgs(Args):
    start_dim: DimArg = 1
    end_dim: DimArg = -1


def flatten_shape(ctx, x: Tensor, start, end, arg_start: str, arg_end: str) -> Tensor:
    rank = max(x.rank, 1)
    s = ctx.concrete(start, "start_dim", arg_start)
    e = ctx.concrete(end, "end_dim", arg_end)
    for v, which in ((s, arg_start), (e, arg_end)):
        if not -rank <= v < rank:
            raise ctx.fail("rank", f"{which}={v} is out of range for a tensor with {x.rank} dims "
                           f"{ctx.show_tensor(x)}", arg=which)
    s, e = s % rank, e % rank
    if x.rank == 0:
        return x.with_shape((1,), ctx.origin)
    if s > e:
        raise ctx.fail("value", f"start_dim ({s}) comes after end_dim ({e})", arg=arg_start)
    shape = x.shape[:s] + (numel(x.shape[s:e + 1]),) + x.shape[e + 1:]
    keep = {i: i for i in range(s)}
    keep.update({i: i + (e - s) for i in range(s + 1, len(shape))})
    if s == e:
        keep[s] = s
    return x.with_shape(shape, ctx.origin, keep=keep)


@register
class Flatten(Layer):
    name = "Flatten"
    torch_name = "Flatten"
    Args = FlattenArgs
    positional = ("start_dim", "end_dim")
    torch_positional = ()
    examples: ClassVar[list[dict]] = [
        {"stage": "Flatten", "input": "float32[2, 3, 4, 5]"},
        {"stage": "Flatten(0)", "input": "float32[2, 3, 4]"},
        {"stage": "Flatten(1, 2)", "input": "int64[2, 3, 4, 5]"},
        {"stage": "Flatten(-3, -2)", "input": "float32[2, 3, 4, 5]"},
        {"stage": "Flatten(end_dim=1)", "input": "float32[2, 3, 4]"},
        {"stage": "Flatten(start_dim=2)", "input": "float32[2, 3, 4, 5]"},
    ]

    def infer(self, ctx, a, inputs):
        return [flatten_shape(ctx, inputs[0], a.start_dim, a.end_dim, "start_dim", "end_dim")]

    def batch_axis(self, a, rank):
        start = a.start_dim if isinstance(a.start_dim, int) else 0
        return 0 if rank >= 2 and start % rank >= 1 else None

    def is_view(self):
        return True


class DropoutArgs(Args):
    p: FloatArg = 0.5
    inplace: BoolArg = False

    @after
    def _range(self):
        if not 0.0 <= self.p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {self.p}")


@register
class Dropout(FloatLayer):
    name = "Dropout"
    torch_name = "Dropout"
    Args = DropoutArgs
    positional = ("p", "inplace")
    examples: ClassVar[list[dict]] = [
        {"stage": "Dropout(0.5)", "input": "float32[3, 4]"},
        {"stage": "Dropout", "input": "float64[2, 2, 2]"},
        {"stage": "Dropout(0.2, true)", "input": "float32[2, 3]"},
    ]

    def infer(self, ctx, a, inputs):
        self.check_dtype(ctx, inputs[0])
        return [inputs[0]]

    def aliases_input(self, a, inputs=None):
        return a.inplace or a.p == 0.0  # torch returns the input itself when p is 0

    def constructor_args(self, a):
        pos, kw = [], {}
        if "p" in a.model_fields_set:
            pos.append(a.p)
        if "inplace" in a.model_fields_set:
            kw["inplace"] = a.inplace
        return pos, kw


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

