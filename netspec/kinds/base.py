"""The base of every layer and op kind, and the registry that names them.

One class per kind holds everything netspec knows about it: its arguments (declared like
a pydantic model, with torch's names and defaults: see args.py), its shape rule, its
parameter count, its FLOPs, its torch emission and its diagram label, and worked examples
that a test runs against the real torch module. Backends ask the kind; they never branch
on kind names.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from ..dims import Dim, Expr, render
from ..types import Tensor
from .args import Args, Before, ValidationError

REGISTRY: dict[str, "Kind"] = {}


def register(cls):
    """Class decorator: instantiate the kind once and register it under its name."""
    inst = cls()
    REGISTRY[cls.name] = inst
    for alias in cls.aliases:
        REGISTRY[alias] = inst
    return cls


class Fail(Exception):
    """Raised by a kind after it reported why it cannot infer its outputs."""


# -- argument types ---------------------------------------------------------------------------

def _is_dim(v) -> bool:
    return isinstance(v, Expr) or (isinstance(v, int) and not isinstance(v, bool))


def _dim(v):
    if not _is_dim(v):
        raise ValueError(f"expected an integer, received {_show(v)}")
    return v


def _dim_or_tuple(v):
    if _is_dim(v):
        return v
    if isinstance(v, tuple) and v and all(_is_dim(x) for x in v):
        return v
    raise ValueError(f"expected an integer or a tuple of integers, received {_show(v)}")


def _opt_dim_or_tuple(v):
    if v is None:
        return v
    if isinstance(v, tuple) and v and all(x is None or _is_dim(x) for x in v):
        return v
    return _dim_or_tuple(v)


def _float(v):
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"expected a number, received {_show(v)}")
    return float(v)


def _bool(v):
    if not isinstance(v, bool):
        raise ValueError(f"expected true or false, received {_show(v)}")
    return v


def _str(v):
    if not isinstance(v, str):
        raise ValueError(f"expected a string, received {_show(v)}")
    return v


def _tensor(v):
    if not isinstance(v, TensorArg):
        raise ValueError(f"expected a tensor value, received {_show(v)}")
    return v


def _show(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, tuple):
        return "(" + ", ".join(_show(x) for x in v) + ("," if len(v) == 1 else "") + ")"
    if isinstance(v, TensorArg):
        return f"the tensor `{v.name}`"
    if isinstance(v, (int, Expr)):
        return render(v)
    return repr(v)


def _map_dims(v, dim):
    """A value with every dim in it passed through ``dim``."""
    if isinstance(v, Expr):
        return dim(v)
    if isinstance(v, tuple):
        return tuple(_map_dims(x, dim) for x in v)
    return v


DimArg = Annotated[Any, Before(_dim)]
DimOrTuple = Annotated[Any, Before(_dim_or_tuple)]
OptDimOrTuple = Annotated[Any, Before(_opt_dim_or_tuple)]
FloatArg = Annotated[Any, Before(_float)]
BoolArg = Annotated[Any, Before(_bool)]
StrArg = Annotated[Any, Before(_str)]
TensorIn = Annotated[Any, Before(_tensor)]


class TensorArg:
    """A tensor passed by keyword (an initial state): the value and its inferred type."""

    __slots__ = ("value", "name")

    def __init__(self, value, name: str):
        self.value = value
        self.name = name

    @property
    def tensor(self) -> Tensor | None:
        return self.value.tensor


class NoArgs(Args):
    pass


# -- the kind base ----------------------------------------------------------------------------

class Kind:
    name: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    category: ClassVar[str] = "layer"  # "layer" (an nn module) or "op" (a torch function)
    Args: ClassVar[type[Args]] = NoArgs
    positional: ClassVar[tuple[str, ...]] = ()  # the spec's positional order
    inferred: ClassVar[str | None] = None  # the argument read from the input
    state_inputs: ClassVar[tuple[str, ...]] = ()  # tensors passed by keyword (h0, c0)
    results: ClassVar[tuple[str, ...]] = ("output",)
    ranks: ClassVar[tuple[int, ...] | None] = None  # allowed ranks of the first input
    min_rank: ClassVar[int] = 0  # when ranks is None
    rank_help: ClassVar[str] = ""
    variadic: ClassVar[str | None] = None  # an op argument that takes every positional value
    min_inputs: ClassVar[int] = 1
    max_inputs: ClassVar[int | None] = 1
    # Emission: the nn class and torch's positional order of its constructor.
    torch_name: ClassVar[str | None] = None
    torch_positional: ClassVar[tuple[str, ...]] = ()
    # the inferred argument may also come first by position, as in torch, when it looks
    # like a size (BatchNorm2d(64)); the positional table of LANGUAGE.md still holds
    size_first: ClassVar[bool] = False
    # Worked examples, each run against the real torch module by tests/test_kinds_torch.py:
    # {"stage": "Conv2d(8, 3, stride=2)", "input": "float32[2, 3, 9, 9]"}, and for ops with
    # more tensors "others": N (copies of the input's type) or "other_shapes": ["float32[5, 1]"]
    examples: ClassVar[list[dict]] = []

    # -- arguments ----------------------------------------------------------------------------
    def validate(self, values: dict[str, Any]) -> Args:
        """Raise pydantic's ValidationError; the engine turns it into diagnostics."""
        return self.Args(**values)

    # -- the shape rule -----------------------------------------------------------------------
    def infer(self, ctx, a: Args, inputs: list[Tensor]) -> list[Tensor]:
        raise NotImplementedError

    def inferred_index(self, rank: int) -> int:
        """Which dim of the input gives the inferred argument (in_features: the last)."""
        return rank - 1

    # -- costs --------------------------------------------------------------------------------
    def param_count(self, a: Args) -> Dim:
        return 0

    def flops(self, a: Args, inputs: list[Tensor], outputs: list[Tensor]) -> Dim:
        return 0

    def is_view(self) -> bool:
        """True when the result shares storage with the input (adds no activation bytes)."""
        return False

    # Whether the result is a new tensor that the layer does not keep for its backward pass
    # (a convolution keeps its input, not its output; a ReLU keeps its output): a later op
    # may then write into it, as torchvision's residual blocks do with `out += identity`.
    fresh_result: ClassVar[bool] = False

    def aliases_input(self, a: Args) -> bool:
        """True when the layer's result is its input's own storage: a view, or a layer that
        writes in place (``inplace=true``). Such a result adds no activation bytes."""
        return self.is_view() or getattr(a, "inplace", False) is True

    # -- presentation -------------------------------------------------------------------------
    def label(self, a: Args, dim=None) -> str:
        """Kind and key arguments, as a diagram shows them: `Conv2d 64, 3, stride=2, bias=false`.

        The arguments given are shown; the inferred one is left out (the input's shape says
        it). The first positional argument and the required ones go by position while they
        come in order, the rest by name, flags by their name alone. ``dim`` maps a dim to
        what a user reads (a network's parameters substituted).
        """
        def show(v) -> str:
            return _show(_map_dims(v, dim) if dim is not None else v)

        given = a.model_fields_set
        fields = self.Args.model_fields
        parts = []
        if self.variadic and self.variadic in given:
            parts.extend(show(x) for x in getattr(a, self.variadic))
        named = []
        by_position = not parts
        for k, name in enumerate(self.positional):
            if name not in given or name == self.inferred:
                by_position = False
                continue
            value = getattr(a, name)
            first = k == 0 and self.max_inputs == 1
            if by_position and (first or fields[name].is_required()) and not isinstance(value, bool):
                parts.append(show(value))
            else:
                by_position = False
                named.append(name)
        named += sorted(n for n in given if n not in self.positional and n not in self.state_inputs
                        and n != self.inferred and n != self.variadic)
        for name in named:
            value = getattr(a, name)
            parts.append(name if value is True else f"{name}={show(value)}")
        return self.name + (" " + ", ".join(parts) if parts else "")

    # -- torch emission -----------------------------------------------------------------------
    def constructor_args(self, a: Args) -> tuple[list[Any], dict[str, Any]]:
        """Positional and keyword values of the torch constructor, inferred sizes written out."""
        pos = [getattr(a, n) for n in self.torch_positional]
        kw = {n: getattr(a, n) for n in self.Args.model_fields
              if n in a.model_fields_set and n not in self.torch_positional
              and n not in self.state_inputs}
        return pos, kw

    # Whether the torch constructor takes ``dtype=`` (a layer with weights or buffers): the
    # built module makes them in the input's dtype when it is not float32.
    dtype_kwarg: ClassVar[bool] = False

    def call_args(self, a: Args, inputs: list[str], state: dict[str, str], code) -> list[str]:
        """The arguments of the module's call in ``forward``: the input expressions, then any
        initial state. ``state`` maps a state input (``h0``) to its expression; ``code``
        renders a value (a dim, a literal) as Python source."""
        return list(inputs)

    def result_pattern(self, names: list[str]) -> str:
        """The assignment target that unpacks the module's result into the kind's results,
        one name per entry of ``results``: ``out, (h_n, c_n)`` for an LSTM."""
        return ", ".join(names)

    def op_expr(self, a: Args, inputs: list[str], code) -> str:
        """An op's ``forward`` expression over its input expressions."""
        raise NotImplementedError(f"{self.name} is not an op")

    # An op that can write its result into its first input (op_expr_in_place); the checker
    # marks where it may (LayerNode.in_place: that input is a fresh result, fresh_result,
    # read by nothing else, of the result's own shape and dtype).
    writes_in_place: ClassVar[bool] = False

    def op_expr_in_place(self, a: Args, inputs: list[str], code) -> str:
        """The ``forward`` expression that writes the op's result into its first input."""
        raise NotImplementedError(f"{self.name} has no in-place form")


def validation_messages(err: ValidationError) -> list[tuple[str | None, str]]:
    out = []
    for e in err.errors():
        field = str(e["loc"][0]) if e.get("loc") else None
        msg = e["msg"]
        for prefix in ("Value error, ", "Assertion failed, "):
            if msg.startswith(prefix):
                msg = msg[len(prefix):]
        out.append((field, msg))
    return out


def normalize_tuple(v, n: int) -> tuple:
    """Keras's standardize_tuple: an int becomes an n-tuple; a tuple must have length n."""
    if isinstance(v, tuple):
        if len(v) != n:
            raise ValueError(f"expected {n} values, received {len(v)}")
        return v
    return (v,) * n


def pyval(v) -> str:
    """A Python literal (or a dim expression over parameter and symbol names) for code."""
    if v is None or isinstance(v, bool):
        return repr(v)
    if isinstance(v, (int, Expr)):
        return render(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        return repr(v)
    if isinstance(v, tuple):
        inner = ", ".join(pyval(x) for x in v)
        return f"({inner},)" if len(v) == 1 else f"({inner})"
    raise TypeError(f"no literal for {type(v).__name__}")


class FloatLayer(Kind):
    """A layer with float parameters: refuses integer input, keeps the input's dtype."""

    accepts_int: ClassVar[bool] = False

    def check_dtype(self, ctx, t: Tensor) -> None:
        from ..types import FLOAT_DTYPES

        if t.dtype not in FLOAT_DTYPES and not self.accepts_int:
            raise ctx.fail("dtype", f"{self.name} needs a floating-point input, received {t.dtype}",
                           ctx.input_story(),
                           help="integer ids go through `Embedding` first" if t.dtype in ("int64", "int32")
                           else "convert the value to float")


def numel(shape) -> Dim:
    out: Dim = 1
    for d in shape:
        out = out * d
    return out
