"""Elementwise arithmetic: add, sub, mul, div, pow, neg, where, masked_fill.

Shapes broadcast as torch's do (sizes match from the last dim; a size 1 stretches), and
dtypes follow torch's type promotion (netspec.types.result_type): a tensor with dims
outranks a 0-dim tensor, which outranks a Python number, and a lower class only raises
the category (an int tensor times 0.5 is float32; a float16 tensor times 0.5 stays float16).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, Optional

from .. import codes, layout
from ..dims import Dim, Expr, render
from ..types import Tensor, broadcast_batch, category, result_type
from .args import Before, Takes
from .base import Args, Op, _show, register
from .memory import NOTHING, Saved, nbytes


def _number(v):
    if isinstance(v, bool) or not isinstance(v, (int, float, Expr)):
        raise ValueError(f"expected a number, received {_show(v)}")
    return v


NumberArg = Annotated[Any, Before(_number, "a number")]


def number_code(v, code) -> str:
    """A number as Python source that stays one operand beside an operator."""
    text = code(v)
    if isinstance(v, Expr) and (len(v.terms) > 1 or any(c != 1 for c in v.terms.values())
                                or any(len(m) != 1 or m[0][1] != 1 for m in v.terms)):
        return f"({text})"
    return text


def broadcast_to(ctx, size: Dim, d: Dim) -> bool:
    """Whether ``d`` is the size torch makes of ``size`` and ``d``, two sizes ``same``
    allowed that are not provably equal: ``size`` may be 1, which torch broadcasts to
    ``d``, and ``d`` is never 1, so ``d`` is the result whether they are equal or not
    (``[batch, n] + [batch, 4]`` with a parameter ``n``: 4, also at ``n = 1``)."""
    return ctx.compare(size, d) is not True and ctx.compare(size, 1) is not False and ctx.compare(d, 1) is False


def broadcast(ctx, name: str, tensors: list[Tensor], shown: list[Tensor] | None = None
              ) -> tuple[tuple[Dim, ...], tuple]:
    """torch's broadcast of several shapes, and the origin of each result dim; a `shape`
    error, with notes on where the sizes came from, when two sizes differ and neither is 1.
    ``shown``: the tensors whose leading dims ``tensors`` are (matmul's batch dims), as the
    error names them."""
    rank = max(t.rank for t in tensors)
    shape: list[Dim] = []
    origins = []
    for i in range(rank):
        size: Dim = 1
        origin = None
        owner = None  # the tensor the size so far comes from
        for k, t in enumerate(tensors):
            ti = i - (rank - t.rank)
            d = t.shape[ti] if ti >= 0 else 1
            here = t.origins[ti] if ti >= 0 else None
            if owner is None or ctx.dim(size) == 1:
                if owner is not None:
                    ctx.known(size)  # broadcast because of its value
                size, origin, owner = d, here, k
            elif ctx.dim(d) == 1:
                ctx.known(d)
            elif (to_d := ctx.broadcast_size(size, d, broadcast_to(ctx, size, d))) is not None:
                if to_d:
                    size, origin, owner = d, here, k
                elif (most := ctx.broadcast_max(size, d)) is not None:
                    size, origin = most, ctx.origin  # neither size: this stage's own
            else:
                first = tensors[owner]
                fi = i - (rank - first.rank)
                notes = [n for n in (ctx.origin_note(first, fi) if fi >= 0 else None,
                                     ctx.origin_note(t, ti) if ti >= 0 else None) if n]
                a, b = (shown[owner], shown[k]) if shown else (first, t)
                raise ctx.fail(codes.SHAPE, f"{name} cannot broadcast {ctx.show_tensor(a)} with "
                               f"{ctx.show_tensor(b)}: {'batch ' if shown else ''}dim {i} is "
                               f"{render(ctx.dim(size))} and {render(ctx.dim(d))}", notes,
                               help="sizes must match or be 1")
        shape.append(size)
        origins.append(origin)
    return tuple(shape), tuple(origins)


# -- binary arithmetic ----------------------------------------------------------------------------

# None: the second operand is a tensor input; a spec writes a number (or a tensor) here
class OtherArgs(Args):
    other: Annotated[Optional[NumberArg], Takes("a number")] = None


class _Binary(Op):
    """``op(x, y)`` of two tensors, or ``x -> op(number)``: the second operand is a tensor
    input or the number argument (``operand``), never both."""

    min_inputs = 1
    max_inputs = 2
    Args = OtherArgs
    positional = ("other",)
    operand: ClassVar[str] = "other"
    symbol: ClassVar[str]
    fresh_result = True
    iterates = True

    def layout(self, ctx, a, inputs, outputs):
        return [layout.iterated(list(inputs), outputs[0].shape, ctx.decide)]

    def is_view(self):
        return False

    def batch_axis(self, a, rank):
        return 0 if rank >= 1 else None

    def operands(self, ctx, a, inputs: list[Tensor]) -> list:
        value = getattr(a, self.operand)
        if len(inputs) == 2:
            if value is not None:
                raise ctx.fail(codes.ARGUMENT, f"{ctx.quoted} takes one second operand, a tensor or a number, "
                               "received both", arg=self.operand)
            return list(inputs)
        if value is None:
            raise ctx.fail(codes.ARGUMENT, f"{ctx.quoted} needs a second operand",
                           help=f"write a tensor or a number on each side of {ctx.label}" if ctx.label else
                           f"pass a tensor, `{self.name}(x, y)`, or a number, `x -> {self.name}(2)`")
        return [inputs[0], value]

    def result_dtype(self, ctx, a, ops: list) -> str:
        return result_type(*ops)

    def infer(self, ctx, a, inputs):
        ops = self.operands(ctx, a, inputs)
        dtype = self.result_dtype(ctx, a, ops)
        shape, origins = broadcast(ctx, ctx.kind_name, [t for t in ops if isinstance(t, Tensor)])
        return [Tensor(dtype, shape, origins, batch=broadcast_batch(ops, shape))]

    def right(self, a, inputs, code) -> str:
        return inputs[1] if len(inputs) == 2 else number_code(getattr(a, self.operand), code)

    def op_expr(self, a, inputs, code):
        return f"{inputs[0]} {self.symbol} {self.right(a, inputs, code)}"


_ARITH_EXAMPLES = [
    {"stage": "{op}", "input": "float32[2, 3]", "others": 1},
    {"stage": "{op}", "input": "float32[4, 1, 3]", "other_shapes": ["float32[5, 1]"]},
    {"stage": "{op}", "input": "float32[3, 1]", "other_shapes": ["float32[1, 4]"]},
    {"stage": "{op}", "input": "float32[5]", "other_shapes": ["float32[2, 3, 5]"]},
    {"stage": "{op}", "input": "int32[2, 3]", "other_shapes": ["float16[3]"]},
    {"stage": "{op}", "input": "float16[2, 3]", "other_shapes": ["float64[]"]},
    {"stage": "{op}", "input": "int32[4]", "other_shapes": ["int64[]"]},
    {"stage": "{op}", "input": "bfloat16[2, 1]", "other_shapes": ["float16[3]"]},
    {"stage": "{op}(2)", "input": "int32[2, 3]"},
    {"stage": "{op}(0.5)", "input": "int64[3]"},
    {"stage": "{op}(0.5)", "input": "float16[2, 3]"},
    {"stage": "{op}(other=3)", "input": "float64[2]"},
]


def _examples(op: str, skip=()) -> list[dict]:
    out = []
    for ex in _ARITH_EXAMPLES:
        ex = dict(ex, stage=ex["stage"].format(op=op))
        if ex["stage"] not in skip:
            out.append(ex)
    return out


@register
class Add(_Binary):
    name = "add"
    symbol = "+"
    writes_in_place = True
    examples: ClassVar[list[dict]] = _examples("add") + [
        {"stage": "add", "input": "bool[2, 3]", "others": 1},
        {"stage": "add(1)", "input": "bool[3]"},
    ]

    def op_expr_in_place(self, a, inputs, code):
        return f"{inputs[0]}.add_({self.right(a, inputs, code)})"
    # add and sub keep nothing: the gradient passes through (Kind.saved's default)


@register
class Sub(_Binary):
    name = "sub"
    symbol = "-"
    examples: ClassVar[list[dict]] = _examples("sub")

    def result_dtype(self, ctx, a, ops):
        for k, t in enumerate(ops):
            if isinstance(t, Tensor) and t.dtype == "bool":
                raise ctx.fail(codes.DTYPE, f"{ctx.kind_name}: subtraction with a bool tensor (operand {k}) is not "
                               "supported", ctx.input_story(k) if k < len(ctx.input_values) else [],
                               help="convert it first: `-> int()` or `-> float()`")
        return result_type(*ops)


@register
class Mul(_Binary):
    name = "mul"
    symbol = "*"
    examples: ClassVar[list[dict]] = _examples("mul") + [{"stage": "mul", "input": "bool[3]", "others": 1}]

    def saved(self, a, inputs, outputs, grad):
        """Each tensor's gradient is the other times the result's: the other is kept."""
        if len(inputs) < 2:
            return NOTHING  # times a number
        return Saved(inputs=tuple(i for i, g in ((1, grad.grad(0)), (0, grad.grad(1))) if g))


class DivArgs(OtherArgs):
    rounding_mode: Optional[Literal["trunc", "floor"]] = None


@register
class Div(_Binary):
    name = "div"
    symbol = "/"
    Args = DivArgs
    examples: ClassVar[list[dict]] = _examples("div") + [
        {"stage": "div", "input": "int64[2, 3]", "others": 1},
        {"stage": "div", "input": "bool[3]", "others": 1},
        {"stage": 'div(rounding_mode="floor")', "input": "int64[2, 3]", "others": 1},
        {"stage": 'div(2, rounding_mode="trunc")', "input": "int32[4]"},
        {"stage": 'div(2.5, rounding_mode="floor")', "input": "int32[4]"},
    ]

    def result_dtype(self, ctx, a, ops):
        dtype = result_type(*ops)
        if a.rounding_mode is None:
            return dtype if category(dtype) == 2 else "float32"  # true division
        if dtype == "bool":
            mode = f'rounding_mode="{a.rounding_mode}"'
            raise ctx.fail(codes.DTYPE, f"{ctx.called(mode)} of bool tensors is not supported",
                           help="convert them first: `-> int()`")
        return dtype

    def saved(self, a, inputs, outputs, grad):
        """x / y: x's gradient reads y, y's reads x and y."""
        if len(inputs) < 2:
            return NOTHING  # by a number
        return Saved(inputs=(1,) + ((0,) if grad.grad(1) else ()))

    def op_expr(self, a, inputs, code):
        if a.rounding_mode is None:
            return super().op_expr(a, inputs, code)
        right = inputs[1] if len(inputs) == 2 else code(a.other)
        return f'torch.div({inputs[0]}, {right}, rounding_mode="{a.rounding_mode}")'


class PowArgs(Args):
    exponent: Annotated[Optional[NumberArg], Takes("a number")] = None  # None: a tensor exponent


@register
class Pow(_Binary):
    name = "pow"
    symbol = "**"
    Args = PowArgs
    positional = ("exponent",)
    operand = "exponent"
    examples: ClassVar[list[dict]] = _examples("pow", skip=("pow(other=3)",)) + [
        {"stage": "pow(exponent=3)", "input": "float64[2]"},
        {"stage": "pow(2)", "input": "bool[3]"},
        {"stage": "pow(-1)", "input": "float32[3]"},
        {"stage": "pow", "input": "int64[3]", "other_shapes": ["float32[]"]},
    ]

    def saved(self, a, inputs, outputs, grad):
        """x ** y: x's gradient reads x and y, y's the result too; torch keeps all three."""
        if len(inputs) < 2:
            return Saved(inputs=(0,))  # to a number
        return Saved(inputs=(0, 1), outputs=(0,))

    def op_expr(self, a, inputs, code):
        right = self.right(a, inputs, code)
        # as ruff formats a power: hugged when both operands are simple (names, numbers)
        return f"{inputs[0]} ** {right}" if right.startswith("(") else f"{inputs[0]}**{right}"

    def result_dtype(self, ctx, a, ops):
        dtype = result_type(*ops)
        if dtype == "bool":
            raise ctx.fail(codes.DTYPE, f"{ctx.kind_name} of bool tensors is not supported",
                           help="convert them first: `-> int()`")
        e = ops[1]
        if category(dtype) < 2 and isinstance(e, int) and e < 0:
            raise ctx.fail(codes.VALUE, f"{ctx.kind_name}: an integer tensor to a negative integer power ({e}) is "
                           "not allowed", arg="exponent", help=f"make the tensor float first (`-> float()`), or write {e}.0")
        return dtype


class _Reflected:
    """``number op x``, as Python calls it on a number on the left (``2 - x`` is
    ``x.__rsub__(2)``): the tensor is the one input, the number its ``other``; the shape and
    dtype rules are the forward op's, with the operands' order swapped back for what runs."""

    max_inputs = 1
    forward_name: ClassVar[str]

    def operands(self, ctx, a, inputs):
        if a.other is None:
            raise ctx.fail(codes.ARGUMENT, f"{ctx.quoted} needs the number on the left of `{self.symbol}`",
                           help=f"write it as `2 {self.symbol} x`, or `x -> {self.name}(2)`")
        return [inputs[0], a.other]

    def op_expr(self, a, inputs, code):
        return f"{number_code(a.other, code)} {self.symbol} {inputs[0]}"


def _reflected_examples(op: str) -> list[dict]:
    return [{"stage": f"{op}(2)", "input": "int32[2, 3]"}, {"stage": f"{op}(2.5)", "input": "int64[3]"},
            {"stage": f"{op}(0.5)", "input": "float16[2, 3]"}, {"stage": f"{op}(other=3)", "input": "float64[2]"},
            {"stage": f"{op}(2)", "input": "float32[]"}]


@register
class Rsub(_Reflected, Sub):
    """``2 - x``: the number minus the tensor (torch.rsub)."""

    name = "rsub"
    examples: ClassVar[list[dict]] = _reflected_examples("rsub")


@register
class Rdiv(_Reflected, Div):
    """``2 / x``: the number divided by the tensor, true division."""

    name = "rdiv"

    def saved(self, a, inputs, outputs, grad):
        """torch computes ``x.reciprocal() * number``: the reciprocal keeps its own result,
        a new tensor of the input's size (the product by a number keeps nothing)."""
        return Saved(extra=nbytes(inputs[0])) if grad.inputs[0] else NOTHING
    Args = OtherArgs
    examples: ClassVar[list[dict]] = _reflected_examples("rdiv") + [{"stage": "rdiv(2)", "input": "bool[3]"}]

    def result_dtype(self, ctx, a, ops):
        dtype = result_type(*ops)
        return dtype if category(dtype) == 2 else "float32"


class RpowArgs(Args):
    other: Annotated[Optional[NumberArg], Takes("a number")] = None


@register
class Rpow(_Reflected, Pow):
    """``2 ** x``: the number raised to the tensor's powers."""

    name = "rpow"
    iterates = False  # torch's pow(Scalar, Tensor) allocates a contiguous result, then computes into it

    def layout(self, ctx, a, inputs, outputs):
        return [None]

    def saved(self, a, inputs, outputs, grad):
        """``pow(number, x)`` keeps the exponent and its result for the exponent's gradient."""
        return Saved(inputs=(0,), outputs=(0,)) if grad.inputs[0] else NOTHING
    Args = RpowArgs
    positional = ("other",)
    operand = "other"
    examples: ClassVar[list[dict]] = _reflected_examples("rpow") + [{"stage": "rpow(2)", "input": "bool[3]"},
                                                                   {"stage": "rpow(-2)", "input": "int64[3]"}]

    def op_expr(self, a, inputs, code):
        left = number_code(a.other, code)
        if left.startswith("-"):  # `-2 ** x` would be -(2 ** x)
            left = f"({left})"
        return f"{left} ** {inputs[0]}" if left.startswith("(") else f"{left}**{inputs[0]}"

    def result_dtype(self, ctx, a, ops):
        return result_type(*ops)


@register
class Neg(Op):
    name = "neg"
    fresh_result = True
    iterates = True
    layout = _Binary.layout
    examples: ClassVar[list[dict]] = [{"stage": "neg", "input": "float32[2, 3]"},
                                      {"stage": "neg", "input": "int32[4]"},
                                      {"stage": "neg", "input": "bfloat16[]"}]

    def is_view(self):
        return False

    def batch_axis(self, a, rank):
        return 0 if rank >= 1 else None

    def op_expr(self, a, inputs, code):
        return f"-{inputs[0]}"

    def infer(self, ctx, a, inputs):
        (x,) = inputs
        if x.dtype == "bool":
            raise ctx.fail(codes.DTYPE, f"{ctx.kind_name} of a bool tensor is not supported", ctx.input_story(),
                           help="convert it first: `-> int()` or `-> float()`")
        return [x]


# -- selection --------------------------------------------------------------------------------

def _need_bool(ctx, name: str, t: Tensor, what: str, index: int) -> None:
    if t.dtype != "bool":
        raise ctx.fail(codes.DTYPE, f"{name} needs a bool {what}, received {ctx.show_tensor(t)}",
                       ctx.input_story(index), help="compare to make one, or convert it: `-> bool()`")


@register
class Where(Op):
    """``torch.where(condition, input, other)``: ``other`` may be a number."""

    name = "where"
    min_inputs = 2
    max_inputs = 3
    Args = OtherArgs
    positional = ("other",)
    iterates = True
    layout = _Binary.layout
    examples: ClassVar[list[dict]] = [
        {"stage": "where", "input": "bool[2, 3]", "other_shapes": ["float32[2, 3]", "float32[2, 3]"]},
        {"stage": "where", "input": "bool[2, 1]", "other_shapes": ["float32[3]", "float64[4, 1, 1]"]},
        {"stage": "where(0.0)", "input": "bool[2, 1]", "other_shapes": ["float16[3]"]},
        {"stage": "where(1.5)", "input": "bool[3]", "other_shapes": ["int32[2, 3]"]},
        {"stage": "where(other=2)", "input": "bool[3]", "other_shapes": ["int32[3]"]},
        {"stage": "where", "input": "bool[]", "other_shapes": ["int64[3]", "float32[]"]},
    ]

    def is_view(self):
        return False

    def batch_axis(self, a, rank):
        return 0 if rank >= 1 else None

    def op_expr(self, a, inputs, code):
        other = [] if len(inputs) == 3 else [number_code(a.other, code)]
        return f"torch.where({', '.join(list(inputs) + other)})"

    def saved(self, a, inputs, outputs, grad):
        return Saved(inputs=(0,))  # the condition routes the gradient

    def infer(self, ctx, a, inputs):
        cond, *values = inputs
        _need_bool(ctx, "where", cond, "condition", 0)
        if len(values) == 2 and a.other is not None:
            raise ctx.fail(codes.ARGUMENT, "`where` takes `other` once: a tensor or a number, received both",
                           arg="other")
        if len(values) == 1:
            if a.other is None:
                raise ctx.fail(codes.ARGUMENT, "`where` needs `other`",
                               help="pass a tensor or a number: where(c, x, 0.0)")
            values.append(a.other)
        dtype = result_type(*values)
        shape, origins = broadcast(ctx, "where", [cond] + [v for v in values if isinstance(v, Tensor)])
        return [Tensor(dtype, shape, origins, batch=broadcast_batch([cond, *values], shape))]


class MaskedFillArgs(Args):
    value: NumberArg


@register
class MaskedFill(Op):
    """``x.masked_fill(mask, value)``: the mask broadcasts with ``x``; the result keeps
    ``x``'s dtype (the value is converted to it)."""

    name = "masked_fill"
    min_inputs = 2
    max_inputs = 2
    Args = MaskedFillArgs
    positional = ("value",)
    examples: ClassVar[list[dict]] = [
        {"stage": "masked_fill(0.0)", "input": "float32[2, 3]", "other_shapes": ["bool[2, 3]"]},
        {"stage": "masked_fill(-10000.0)", "input": "float16[2, 1, 3]", "other_shapes": ["bool[4, 1]"]},
        {"stage": "masked_fill(value=0.5)", "input": "int64[3]", "other_shapes": ["bool[2, 3]"]},
        {"stage": "masked_fill(2)", "input": "bool[3]", "other_shapes": ["bool[]"]},
    ]

    def is_view(self):
        return False

    def batch_axis(self, a, rank):
        return 0 if rank >= 1 else None

    def op_expr(self, a, inputs, code):
        return f"{inputs[0]}.masked_fill({inputs[1]}, {code(a.value)})"

    def layout(self, ctx, a, inputs, outputs):
        return [None]  # torch fills a contiguous copy of the input

    def saved(self, a, inputs, outputs, grad):
        return Saved(inputs=(1,))  # the mask zeroes the gradient where it filled

    def infer(self, ctx, a, inputs):
        x, mask = inputs
        _need_bool(ctx, "masked_fill", mask, "mask", 1)
        shape, origins = broadcast(ctx, "masked_fill", [x, mask])
        return [Tensor(x.dtype, shape, origins, batch=broadcast_batch([x, mask], shape))]
