"""Casts: float(), double(), half(), bfloat16(), long(), int(), bool() and to(dtype)."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from .. import layout
from ..types import DTYPES
from .args import Before
from .base import Args, Op, _show, register


class _Cast(Op):
    """A conversion to one dtype; torch returns the input itself when it already has it."""

    target: ClassVar[str]
    iterates = True  # a copy that keeps the input's order of dims (memory_format=preserve)

    def layout(self, ctx, a, inputs, outputs):
        x = inputs[0]
        return [x.strides if self.aliases_input(a, inputs) else layout.elementwise(x, ctx.decide)]

    def dtype_of(self, a) -> str:
        return self.target

    def is_view(self):
        return False

    def aliases_input(self, a, inputs=None):
        return bool(inputs) and inputs[0] is not None and inputs[0].dtype == self.dtype_of(a)

    def batch_axis(self, a, rank):
        return 0 if rank >= 1 else None

    def op_expr(self, a, inputs, code):
        return f"{inputs[0]}.{self.name}()"

    def infer(self, ctx, a, inputs):
        (x,) = inputs
        return [x.with_shape(x.shape, None, keep={i: i for i in range(x.rank)}, dtype=self.dtype_of(a))]


def _cast(name: str, target: str, examples: list[dict]):
    cls = type(f"Cast_{name}", (_Cast,), {"name": name, "target": target, "examples": examples,
                                         "__doc__": f"``x.{name}()``: the tensor as {target}."})
    return register(cls)


_cast("float", "float32", [{"stage": "float", "input": "int64[2, 3]"}, {"stage": "float()", "input": "float32[3]"},
                           {"stage": "float", "input": "bool[]"}])
_cast("double", "float64", [{"stage": "double", "input": "float32[2, 3]"}, {"stage": "double", "input": "int32[4]"}])
_cast("half", "float16", [{"stage": "half", "input": "float32[2, 3]"}, {"stage": "half", "input": "float16[3]"}])
_cast("bfloat16", "bfloat16", [{"stage": "bfloat16", "input": "float32[2, 3]"},
                               {"stage": "bfloat16", "input": "int64[3]"}])
_cast("long", "int64", [{"stage": "long", "input": "float32[2, 3]"}, {"stage": "long", "input": "bool[3]"},
                        {"stage": "long", "input": "int64[3]"}])
_cast("int", "int32", [{"stage": "int", "input": "int64[2, 3]"}, {"stage": "int()", "input": "float16[3]"}])
_cast("bool", "bool", [{"stage": "bool", "input": "int64[2, 3]"}, {"stage": "bool", "input": "float32[3]"}])


def _dtype(v):
    if not isinstance(v, str) or v not in DTYPES:
        raise ValueError(f"expected a dtype ({', '.join(DTYPES)}), received {_show(v)}")
    return DTYPES[v]


class ToArgs(Args):
    dtype: Annotated[Any, Before(_dtype, "a dtype, e.g. `float32`")]


@register
class To(_Cast):
    """``x.to(dtype)``: the dtype by name, `to(float16)`, or as a string, `to("float16")`."""

    name = "to"
    Args = ToArgs
    positional = ("dtype",)
    examples: ClassVar[list[dict]] = [{"stage": 'to("float16")', "input": "float32[2, 3]"},
                                      {"stage": 'to("int64")', "input": "float32[3]"},
                                      {"stage": 'to(dtype="bool")', "input": "int32[3]"},
                                      {"stage": 'to("double")', "input": "bfloat16[2]"},
                                      {"stage": 'to("float32")', "input": "float32[2]"},
                                      {"stage": "to(half)", "input": "float32[2, 3]"},
                                      {"stage": "to(long)", "input": "bool[2]"}]

    def dtype_of(self, a) -> str:
        return a.dtype

    def op_expr(self, a, inputs, code):
        return f"{inputs[0]}.to(torch.{a.dtype})"
