"""Dropout."""

from __future__ import annotations

from typing import ClassVar

from .args import after
from .base import Args, BoolArg, FloatArg, FloatLayer, register


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

    def aliases_input(self, a):
        return a.inplace or a.p == 0.0  # torch returns the input itself when p is 0

    def constructor_args(self, a):
        pos, kw = [], {}
        if "p" in a.model_fields_set:
            pos.append(a.p)
        if "inplace" in a.model_fields_set:
            kw["inplace"] = a.inplace
        return pos, kw
