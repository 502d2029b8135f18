"""Operators on tensors: `a + b`, `q @ k`, `-x`, `x ** 2`, `x[:, -1]`, read as the ops they stand for.

The same operators compute sizes (``2 * d``, ``seq // 2``) where no operand is a tensor; an
expression with a tensor operand is the op Python would call on it, as a call the checker
binds and checks like any other (``a + b`` is ``add(a, b)``, ``x[:, -1]`` is ``getitem``).
This module only rewrites the AST; it decides nothing about shapes.
"""

from __future__ import annotations

from typing import Callable

from . import ast as A
from . import codes

# the op each operator calls on a tensor on its left, and on a number on its left (Python's
# reflected operators: `2 - x` is x.__rsub__(2)); `//` is torch's floor division
FORWARD = {"+": "add", "-": "sub", "*": "mul", "/": "div", "@": "matmul", "**": "pow", "//": "div"}
REFLECTED = {"+": "add", "*": "mul", "-": "rsub", "/": "rdiv", "**": "rpow"}
WORDS = {"+": "add", "-": "subtract", "*": "multiply", "/": "divide", "@": "matrix-multiply",
         "**": "raise", "//": "floor-divide", "%": "take the remainder of"}


class OperatorError(Exception):
    """An operator that has no tensor op for its operands: the message, where, and a fix."""

    def __init__(self, message: str, span, help: str):
        super().__init__(message)
        self.message, self.span, self.help = message, span, help
        self.code = codes.ARGUMENT


def is_tensor(expr, is_value: Callable[[str], bool]) -> bool:
    """Whether ``expr`` makes a tensor: a value's name, a call or chain, an index of one,
    or an operator with such an operand. ``is_value(name)``: the name is not a size."""
    if isinstance(expr, A.Ref):
        return expr.attr is not None or is_value(expr.name)
    if isinstance(expr, (A.Call, A.Chain, A.Subscript)):
        return True
    if isinstance(expr, A.BinOp):
        return is_tensor(expr.left, is_value) or is_tensor(expr.right, is_value)
    if isinstance(expr, A.Neg):
        return is_tensor(expr.operand, is_value)
    return False


def as_call(expr, is_value: Callable[[str], bool]) -> A.Call:
    """The op call that a tensor operator expression stands for; its first argument is the
    tensor the op is called on (the checker pipes it in)."""
    if isinstance(expr, A.Subscript):
        return _call(expr, "getitem", [expr.value, A.Tuple(_items_span(expr), [_item(i) for i in expr.items])])
    if isinstance(expr, A.Neg):
        return _call(expr, "neg", [expr.operand])
    op = expr.op
    if op == "@" and not (is_tensor(expr.left, is_value) and is_tensor(expr.right, is_value)):
        number = expr.right if is_tensor(expr.left, is_value) else expr.left
        what = f"but `{number.text}` is not one" if isinstance(number, A.Ref) else "not a number"
        raise OperatorError(f"`@` multiplies two tensors, {what}", number.span,
                            "write a tensor on each side of `@`; scale by a number with `*`")
    if is_tensor(expr.left, is_value):
        if op not in FORWARD:
            raise OperatorError(f"`{op}` cannot {WORDS[op]} tensors", expr.span,
                                "netspec uses `%` for sizes only")
        extra = [A.Arg(expr.span, "rounding_mode", A.Str(expr.span, "floor"))] if op == "//" else []
        return _call(expr, FORWARD[op], [expr.left, expr.right], extra)
    if op not in REFLECTED:
        raise OperatorError(f"`{op}` cannot {WORDS[op]} a number by a tensor", expr.span,
                            "put the tensor on the left" if op == "@" else
                            "write it with the tensor on the left, or as sizes only")
    # the tensor first, as the op takes it: `2 * x` is mul(x, 2), `2 - x` is rsub(x, 2)
    return _call(expr, REFLECTED[op], [expr.right, expr.left])


def label(expr) -> str:
    """How a diagnostic names the op an operator expression stands for: the operator as the
    spec writes it (`+`, `//`), never the op's own name (add, div)."""
    if isinstance(expr, A.Subscript):
        return "indexing `[...]`"
    if isinstance(expr, A.Neg):
        return "unary `-`"
    return f"`{expr.op}`"


def _call(expr, name: str, operands: list, extra: list | None = None) -> A.Call:
    args = [A.Arg(o.span, None, o) for o in operands] + (extra or [])
    return A.Call(expr.span, name, args, expr.span)


def _none(span) -> A.Ref:
    return A.Ref(span, "None", None)


def _item(item):
    """One subscript item as getitem's index reads it: a size, None, "..." or a slice tuple."""
    if isinstance(item, A.Dots):
        return A.Str(item.span, "...")
    if isinstance(item, A.Slice):
        parts = [p if p is not None else _none(item.span) for p in (item.start, item.stop, item.step)]
        return A.Tuple(item.span, [A.Str(item.span, "slice"), *parts])
    return item


def _items_span(expr: A.Subscript):
    first, last = expr.items[0].span, expr.items[-1].span
    return first._replace(end_line=last.end_line, end_column=last.end_column)
