"""Reductions (sum, mean, amax, amin, var, std) and softmax, log_softmax as ops."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Optional

from .. import codes
from ..dims import is_dim
from ..types import FLOAT_DTYPES, Tensor
from .args import Before, after
from .arith import NumberArg
from .base import Args, BoolArg, DimArg, Op, _show, register
from .memory import Saved


def _dims(v):
    if v is None or is_dim(v) or (isinstance(v, tuple) and v and all(is_dim(x) for x in v)):
        return v
    raise ValueError(f"expected a dim or a tuple of dims, received {_show(v)}")


DimsArg = Annotated[Any, Before(_dims, "an integer, a tuple of integers or `None`")]


class ReduceArgs(Args):
    dim: DimsArg = None
    keepdim: BoolArg = False


def _need_float(ctx, name: str, x: Tensor, help: str) -> None:
    if x.dtype not in FLOAT_DTYPES:
        raise ctx.fail(codes.DTYPE, f"{name} needs a floating-point input, received {ctx.show_tensor(x)}",
                       ctx.input_story(), help=help)


class _Reduce(Op):
    """A reduction over ``dim`` (an int, a tuple, or every dim when omitted)."""
    contiguous_ranks = "every"  # a new result (ATen's resize_reduction), kept dims or not

    Args = ReduceArgs
    positional = ("dim", "keepdim")
    keepdim_needs_dim: ClassVar[bool] = True  # torch's x.sum(keepdim=True) is refused; amax's is not

    def is_view(self):
        return False

    def reduced(self, ctx, a, x: Tensor) -> list[int]:
        """The dims reduced, normalised; every dim when ``dim`` is omitted."""
        if a.dim is None:
            return list(range(x.rank))
        dims = a.dim if isinstance(a.dim, tuple) else (a.dim,)
        out = [self.dim_index(ctx, d, x.rank, "dim") for d in dims]
        for d in out:
            if out.count(d) > 1:
                raise ctx.fail(codes.VALUE, f"{self.name}: dim {d} appears more than once in {_show(a.dim)}", arg="dim")
        return out

    def batch_axis(self, a, rank):
        if a.dim is None or rank == 0:
            return None
        dims = a.dim if isinstance(a.dim, tuple) else (a.dim,)
        if any(not isinstance(d, int) for d in dims):
            return None
        return None if 0 in {d % rank for d in dims} else 0

    def result_dtype(self, ctx, x: Tensor) -> str:
        return x.dtype

    def infer(self, ctx, a, inputs):
        (x,) = inputs
        if a.keepdim and self.keepdim_needs_dim and "dim" not in a.model_fields_set:
            raise ctx.fail(codes.ARGUMENT, f"{self.name}(keepdim=true) needs `dim`", arg="keepdim",
                           help=f"reduce every dim with {self.name}(dim=None, keepdim=true)")
        dtype = self.result_dtype(ctx, x)
        gone = set(self.reduced(ctx, a, x)) if x.rank else set()
        if a.keepdim:
            shape = tuple(1 if i in gone else d for i, d in enumerate(x.shape))
            return [x.with_shape(shape, ctx.origin, keep={i: i for i in range(x.rank) if i not in gone},
                                 dtype=dtype)]
        kept = [i for i in range(x.rank) if i not in gone]
        return [x.with_shape(tuple(x.shape[i] for i in kept), ctx.origin,
                             keep={n: o for n, o in enumerate(kept)}, dtype=dtype)]

    def call_args(self, a, code) -> list[str]:
        args = []
        if a.dim is not None or a.keepdim:
            args.append(f"dim={code(a.dim)}")
        if a.keepdim:
            args.append("keepdim=True")
        return args

    def op_expr(self, a, inputs, code):
        return f"{inputs[0]}.{self.name}({', '.join(self.call_args(a, code))})"


def _examples(op: str, dtypes=("float32", "float64", "float16"), every="dim=None, ") -> list[dict]:
    f, g, h = dtypes
    return [{"stage": op, "input": f"{f}[2, 3, 4]"},
            {"stage": f"{op}(1)", "input": f"{g}[2, 3, 4]"},
            {"stage": f"{op}(-1, true)", "input": f"{f}[2, 3, 4]"},
            {"stage": f"{op}(dim=(0, 2))", "input": f"{h}[2, 3, 4]"},
            {"stage": f"{op}((1, -1), keepdim=true)", "input": f"{f}[2, 3, 4]"},
            {"stage": f"{op}({every}keepdim=true)", "input": f"{f}[2, 3]"},
            {"stage": f"{op}(0)", "input": f"{f}[]"}]


@register
class Sum(_Reduce):
    name = "sum"
    examples: ClassVar[list[dict]] = _examples("sum") + [{"stage": "sum(1)", "input": "int32[2, 3]"},
                                                         {"stage": "sum", "input": "bool[4]"},
                                                         {"stage": "sum(0)", "input": "bfloat16[2, 3]"}]

    def result_dtype(self, ctx, x):
        return x.dtype if x.dtype in FLOAT_DTYPES else "int64"  # integers and bools sum as int64


@register
class Mean(_Reduce):
    name = "mean"
    examples: ClassVar[list[dict]] = _examples("mean")

    def result_dtype(self, ctx, x):
        _need_float(ctx, "mean", x, "convert it first: `-> float() -> mean(...)`")
        return x.dtype


@register
class Amax(_Reduce):
    name = "amax"
    keepdim_needs_dim = False
    examples: ClassVar[list[dict]] = _examples("amax", every="") + [{"stage": "amax(1)", "input": "int64[2, 3]"},
                                                          {"stage": "amax", "input": "bool[3]"}]

    def saved(self, a, inputs, outputs, grad):
        return Saved(inputs=(0,), outputs=(0,))  # where the input equals the extreme


@register
class Amin(_Reduce):
    name = "amin"
    keepdim_needs_dim = False
    examples: ClassVar[list[dict]] = _examples("amin", every="") + [{"stage": "amin(0)", "input": "int32[2, 3]"}]

    def saved(self, a, inputs, outputs, grad):
        return Saved(inputs=(0,), outputs=(0,))  # where the input equals the extreme


class VarArgs(ReduceArgs):
    unbiased: Optional[BoolArg] = None
    correction: Optional[NumberArg] = None

    @after
    def _one_correction(self):
        if self.unbiased is not None and self.correction is not None:
            raise ValueError("give `unbiased` or `correction`, not both")


class _Var(_Reduce):
    Args = VarArgs
    positional = ("dim", "unbiased", "keepdim")

    def result_dtype(self, ctx, x):
        _need_float(ctx, self.name, x, f"convert it first: `-> float() -> {self.name}(...)`")
        return x.dtype

    def call_args(self, a, code):
        args = []
        if a.dim is not None or a.keepdim:
            args.append(f"dim={code(a.dim)}")
        if a.unbiased is not None:
            args.append(f"unbiased={a.unbiased}")
        if a.correction is not None:
            args.append(f"correction={code(a.correction)}")
        if a.keepdim:
            args.append("keepdim=True")
        return args


def _var_examples(op: str) -> list[dict]:
    return _examples(op) + [{"stage": f"{op}(1, false)", "input": "float32[2, 3]"},
                            {"stage": f"{op}(0, unbiased=true, keepdim=true)", "input": "float32[4, 3]"},
                            {"stage": f"{op}(correction=0)", "input": "float32[2, 3]"},
                            {"stage": f"{op}(dim=1, correction=2, keepdim=true)", "input": "bfloat16[2, 5]"},
                            {"stage": f"{op}(unbiased=false)", "input": "float64[3]"}]


@register
class Var(_Var):
    name = "var"
    examples: ClassVar[list[dict]] = _var_examples("var")

    def saved(self, a, inputs, outputs, grad):
        return Saved(inputs=(0,))


@register
class Std(_Var):
    name = "std"
    examples: ClassVar[list[dict]] = _var_examples("std")

    def saved(self, a, inputs, outputs, grad):
        return Saved(inputs=(0,), outputs=(0,))  # the gradient divides by the deviation


# -- softmax -----------------------------------------------------------------------------------

class SoftmaxDimArgs(Args):
    dim: DimArg


class _SoftmaxOp(Op):
    contiguous_ranks = "every"
    Args = SoftmaxDimArgs
    positional = ("dim",)

    def is_view(self):
        return False

    def batch_axis(self, a, rank):
        return 0 if rank >= 2 and isinstance(a.dim, int) and a.dim % rank != 0 else None

    def op_expr(self, a, inputs, code):
        return f"{inputs[0]}.{self.name}({code(a.dim)})"

    def saved(self, a, inputs, outputs, grad):
        return Saved(outputs=(0,))

    def infer(self, ctx, a, inputs):
        (x,) = inputs
        _need_float(ctx, self.name, x, f"convert it first: `-> float() -> {self.name}(...)`")
        self.dim_index(ctx, a.dim, x.rank, "dim")
        return [x]


@register
class SoftmaxOp(_SoftmaxOp):
    name = "softmax"
    examples: ClassVar[list[dict]] = [{"stage": "softmax(-1)", "input": "float32[2, 3]"},
                                      {"stage": "softmax(dim=0)", "input": "float16[4, 5, 6]"},
                                      {"stage": "softmax(1)", "input": "float64[2, 3, 4]"},
                                      {"stage": "softmax(0)", "input": "float32[]"}]


@register
class LogSoftmaxOp(_SoftmaxOp):
    name = "log_softmax"
    examples: ClassVar[list[dict]] = [{"stage": "log_softmax(-1)", "input": "float32[2, 3]"},
                                      {"stage": "log_softmax(dim=1)", "input": "bfloat16[4, 5, 6]"},
                                      {"stage": "log_softmax(0)", "input": "float64[3]"}]
