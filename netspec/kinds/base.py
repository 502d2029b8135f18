"""The base of every layer and op kind, and the registry that names them.

One class per kind holds everything netspec knows about it: its arguments (declared like
a pydantic model, with torch's names and defaults: see args.py), its shape rule, its
parameter count, its FLOPs, its torch emission and its diagram label, and worked examples
that a test runs against the real torch module. Backends ask the kind; they never branch
on kind names.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, NamedTuple

from .. import codes, layout
from ..dims import Dim, Expr, is_dim, render
from ..types import FLOAT_DTYPES, UNKNOWN, Tensor
from .args import Args, ArgTypeError, ArgValueError, Before, Positive, ValidationError
from .memory import NOTHING, Autograd, Saved, Strides


class Registry(Mapping):
    """Every kind by its name and aliases. A module of kinds is imported when one of its
    names is first asked for, so a check imports the kinds its spec uses rather than all of
    them (a check's start-up time); ``kinds/where.py`` says which module defines each name,
    and tests/test_kinds_where.py keeps it true. Iterating lists every name; ``items()`` and
    ``values()`` import every module."""

    def __init__(self) -> None:
        self._kinds: dict[str, Kind] = {}
        self.loaded = self._kinds  # the kinds imported so far, by name (read only)

    @staticmethod
    def _where() -> dict[str, str]:
        from .where import MODULES

        return MODULES

    def __getitem__(self, name: str) -> Kind:
        kind = self._kinds.get(name)
        if kind is None:
            module = self._where().get(name) if isinstance(name, str) else None
            if module is None:
                raise KeyError(name)
            importlib.import_module(f"{__package__}.{module}")
            kind = self._kinds[name]
        return kind

    def __contains__(self, name: object) -> bool:
        return name in self._kinds or name in self._where()

    def get(self, name, default=None):
        kind = self._kinds.get(name)  # a kind imported already: once per stage checked
        return kind if kind is not None else Mapping.get(self, name, default)

    def __iter__(self):
        where = self._where()
        yield from where
        yield from (name for name in list(self._kinds) if name not in where)

    def __len__(self) -> int:
        return len(self._where().keys() | self._kinds.keys())

    def add(self, name: str, kind: Kind) -> None:
        self._kinds[name] = kind


REGISTRY = Registry()


def register(cls):
    """Class decorator: instantiate the kind once and register it under its name."""
    inst = cls()
    REGISTRY.add(cls.name, inst)
    for alias in cls.aliases:
        REGISTRY.add(alias, inst)
    return cls


class Fail(Exception):
    """Raised by a kind after it reported why it cannot infer its outputs."""


# -- argument types ---------------------------------------------------------------------------

def _dim(v):
    if not is_dim(v):
        raise ValueError(f"expected an integer, received {_show(v)}")
    return v


class SizeError(ValueError):
    """A size below 1: a value torch refuses (not a value of the wrong type)."""


def _size(v):
    v = _dim(v)
    if isinstance(v, int) and v < 1:
        raise SizeError(f"expected a positive size, received {v}")
    return v


def _size_or_tuple(v):
    if isinstance(v, tuple) and v and all(is_dim(x) for x in v):
        return tuple(_size(x) for x in v)
    return _size(v) if is_dim(v) else _dim_or_tuple(v)


def _dim_or_tuple(v):
    if is_dim(v):
        return v
    if isinstance(v, tuple) and v and all(is_dim(x) for x in v):
        return v
    raise ValueError(f"expected an integer or a tuple of integers, received {_show(v)}")


def _opt_dim_or_tuple(v):
    if v is None:
        return v
    if isinstance(v, tuple) and v and all(x is None or is_dim(x) for x in v):
        return v
    return _dim_or_tuple(v)


def _float(v):
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"expected a number, received {_show(v)}")
    return v if isinstance(v, float) else float(v)  # a float literal keeps its spelling (ast.SpelledFloat)


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


def is_tensor_value(v) -> bool:
    """Whether ``v`` is a tensor of the network (graph.Value), as an argument holds one
    where its kind takes a value (`x[b]`, `pad((t, 1))`)."""
    from ..graph import Value  # graph imports the kinds: loaded by the time a value exists

    return isinstance(v, Value)


def _show(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, tuple):
        return "(" + ", ".join(_show(x) for x in v) + ("," if len(v) == 1 else "") + ")"
    if isinstance(v, TensorArg) or is_tensor_value(v):
        return f"the tensor `{v.name}`" if v.name else "a tensor"
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


DimArg = Annotated[Any, Before(_dim, "an integer")]  # an integer: a dim index, a padding, ...
SizeArg = Annotated[Any, Before(_size, "a positive integer"), Positive()]  # a size: at least 1
SizeOrTuple = Annotated[Any, Before(_size_or_tuple, "a positive integer or a tuple of them"),
                        Positive()]  # sizes: kernel_size, stride
DimOrTuple = Annotated[Any, Before(_dim_or_tuple, "an integer or a tuple of integers")]
OptDimOrTuple = Annotated[Any, Before(_opt_dim_or_tuple, "an integer, a tuple of integers or `None`")]
FloatArg = Annotated[Any, Before(_float, "a number")]
BoolArg = Annotated[Any, Before(_bool, "true or false")]
StrArg = Annotated[Any, Before(_str, "a string")]
TensorIn = Annotated[Any, Before(_tensor, "a tensor value")]


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


class Weight(NamedTuple):
    """One tensor of a layer's state_dict: its name in torch's module (``weight_ih_l0``,
    ``self_attn.in_proj_weight``), its shape, whether it is a trained parameter (False: a
    buffer such as ``running_mean``), and its dtype when it is not the layer's float dtype
    (``num_batches_tracked`` is int64)."""

    name: str
    shape: tuple[Dim, ...]
    trainable: bool = True
    dtype: str | None = None

    def under(self, prefix: str) -> "Weight":
        return self._replace(name=f"{prefix}.{self.name}")


def indices(count, dim=None, start: int = 0) -> list[str]:
    """The indices ``start``..``count - 1`` as names take them (``l0``, ``layers.1``); a count
    that is not a known integer (in a network used as a stage) gives one index that says
    the range: ``[1..num_layers)``."""
    n = dim(count) if dim is not None else count
    if isinstance(n, int):
        return [str(i) for i in range(start, n)]
    return [f"[{start}..{render(n)})"]


class Forward(NamedTuple):
    """How a stage reads in a built module's ``forward``: a call of ``callee`` (a submodule)
    with ``args``, which a long line splits one argument a line, or one expression."""

    callee: str | None = None
    args: tuple[str, ...] = ()
    expr: str | None = None


class Construct(NamedTuple):
    """A constructor call among a layer's constructor arguments (TransformerEncoder takes an
    ``nn.TransformerEncoderLayer(...)``): ``func`` as Python source, then the values."""

    func: str
    args: tuple = ()
    kwargs: tuple[tuple[str, Any], ...] = ()


# -- the kind base ----------------------------------------------------------------------------

class Kind:
    """What every layer and op has: arguments, a shape rule, costs, a label, examples."""

    name: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    what: ClassVar[str]  # "layer" or "op", as messages name it
    is_module: ClassVar[bool]  # a submodule of the built nn.Module (with weights or state)
    needs_pipe: ClassVar[bool] = False  # an input must be piped into it (`x -> Linear(8)`)
    Args: ClassVar[type[Args]] = NoArgs
    positional: ClassVar[tuple[str, ...]] = ()  # the spec's positional order
    inferred: ClassVar[str | None] = None  # the argument read from the input
    state_inputs: ClassVar[tuple[str, ...]] = ()  # tensors passed by keyword (h0, c0)
    results: ClassVar[tuple[str, ...]] = ("output",)
    ranks: ClassVar[tuple[int, ...] | None] = None  # allowed ranks of the first input
    min_rank: ClassVar[int] = 0  # when ranks is None
    rank_help: ClassVar[str] = "bring the input to a rank it takes first (unsqueeze adds a dim, flatten merges dims)"
    variadic: ClassVar[str | None] = None  # an argument that takes every positional value
    min_inputs: ClassVar[int] = 1
    max_inputs: ClassVar[int | None] = 1  # tensors given by position beyond the piped one
    # the inferred argument may also come first by position, as in torch, when it looks
    # like a size (BatchNorm2d(64)); the positional table of docs/language.md still holds
    size_first: ClassVar[bool] = False
    # float arguments whose value changes a shape (Upsample's scale_factor): a network
    # parameter given for one is checked by the built class, as an integer size is
    shape_args: ClassVar[tuple[str, ...]] = ()
    # Worked examples, each run against the real torch module by tests/test_kinds_torch.py:
    # {"stage": "Conv2d(8, 3, stride=2)", "input": "float32[2, 3, 9, 9]"}, and for ops with
    # more tensors "others": N (copies of the input's type) or "other_shapes": ["float32[5, 1]"]
    examples: ClassVar[list[dict]] = []

    # -- arguments ----------------------------------------------------------------------------
    def validate(self, values: dict[str, Any]) -> Args:
        """Raise pydantic's ValidationError; the checker turns it into diagnostics."""
        return self.Args(**values)

    # -- the shape rule -----------------------------------------------------------------------
    def infer(self, ctx, a: Args, inputs: list[Tensor]) -> list[Tensor]:
        raise NotImplementedError

    def inferred_index(self, rank: int) -> int:
        """Which dim of the input gives the inferred argument (in_features: the last)."""
        return rank - 1

    def result_names(self, a: Args) -> tuple[str, ...]:
        """The names of the results with these arguments, one per tensor ``infer`` returns
        (``chunk(3)`` has three; an attention that returns no weights has one); ``results``
        names them before the arguments are known."""
        return self.results

    def batch_axis(self, a: Args, rank: int) -> int | None:
        """The dim of a ``rank``-dim input that the kind reads as the batch, whose samples
        it keeps apart; None when no dim is (an unbatched input, or an op that mixes dim 0)."""
        return None

    # -- memory layout (netspec.layout) ---------------------------------------------------------
    # Whether ``infer`` states its results' strides (``with_shape(..., strides=...)``): the
    # view ops, and layers whose results keep their input's layout.
    tracks_layout: ClassVar[bool] = False

    # Whether torch lays each result out from its inputs' strides, as TensorIterator does for
    # an elementwise op (layout.iterated; the inputs are its operands, in order): the costs
    # follow a training step's layout that way, where ``layout`` leaves it unstated.
    iterates: ClassVar[bool] = False

    # whether the results' elements are the first input's, moved (Kind.value_range)
    keeps_values: ClassVar[bool] = False

    def value_range(self, a: Args, inputs: list[Tensor]):
        """Bounds ``(lo, hi)`` on the elements of an integer result (Tensor.values), or None:
        the first input's when the kind only moves its elements."""
        return inputs[0].values if self.keeps_values and inputs else None

    # The ranks of the first input at which torch allocates every result in the memory format
    # that input suggests (layout.suggested: channels_last where the input is like it), and
    # those at which it allocates them contiguous whatever the input's strides; at other
    # ranks, contiguous results of contiguous inputs, others unstated (``result_format``);
    # "every" for every rank.
    format_ranks: ClassVar[tuple[int, ...]] = ()
    contiguous_ranks: ClassVar[tuple[int, ...] | str] = ()

    def result_format(self, a: Args, rank: int) -> str | None:
        """How torch lays out the new results of a first input of ``rank`` dims: "format"
        (layout.suggested), "contiguous", or None (unstated for a non-contiguous input).
        tests/test_layout.py runs every kind's examples on transposed and channels-last
        inputs through torch."""
        if rank in self.format_ranks:
            return "format"
        return "contiguous" if self.contiguous_ranks == "every" or rank in self.contiguous_ranks else None

    # The ranks of the first input at which torch refuses one that it reads as channels_last
    # (4 dims) or channels_last_3d (5 dims) ("Unsupported memory format"), each with the
    # layouts it takes there: `refuse_format` makes that a `value` error
    # (tests/test_formats.py runs each against torch).
    refused_formats: ClassVar[dict[int, str]] = {}

    def refuse_format(self, ctx, x: Tensor) -> None:
        """A `value` error where torch refuses the memory layout of the input ``x``
        (``refused_formats``), or may refuse it: where that depends on the values of the
        symbols or on strides netspec does not know, as for `view`."""
        takes = self.refused_formats.get(x.rank)
        like = False if takes is None else layout.like_channels_last(x, ctx.decide)
        if like is False:
            return
        fmt = "channels_last" if x.rank == 4 else "channels_last_3d"
        if x.strides is UNKNOWN:
            why = f"netspec cannot tell the memory layout of {ctx.show_tensor(x)}, and torch refuses one in {fmt}"
        else:
            why = f"torch refuses an input laid out as {fmt}{'' if like else ', which this one may be'}"
        notes = [f"{self.name} runs a {x.rank}-dim input {takes} (torch raises \"Unsupported memory format\")"]
        if isinstance(x.strides, tuple):
            notes.append(f"the input {ctx.show_tensor(x)} has strides ({', '.join(ctx.show(d) for d in x.strides)}): "
                         "dim 1 is innermost in memory, as the channels of a channels_last tensor are")
        raise ctx.fail(codes.VALUE, f"{self.name}: {why}", notes + ctx.layout_story(),
                       help="add `-> contiguous()` before it")

    def layout(self, ctx, a: Args, inputs: list[Tensor], outputs: list[Tensor]) -> list:
        """The strides of each result (Tensor.strides). Unless ``infer`` states them, or
        ``result_format`` does: the results of contiguous tensors are contiguous
        (tests/test_layout.py runs every kind's examples through torch), any other is UNKNOWN.
        First, an error where torch refuses the input's layout (``refused_formats``)."""
        if inputs:
            self.refuse_format(ctx, inputs[0])
        if self.tracks_layout:
            return [t.strides for t in outputs]
        how = self.result_format(a, inputs[0].rank) if inputs else None
        if how == "format":
            return [layout.suggested(inputs[0], t.shape, ctx.decide) for t in outputs]
        if how == "contiguous":
            return [None] * len(outputs)
        given = [getattr(a, n, None) for n in self.state_inputs]
        tensors = [*inputs, *(g.tensor for g in given if isinstance(g, TensorArg) and g.tensor is not None)]
        if all(t.strides is None for t in tensors):
            return [None] * len(outputs)
        return [UNKNOWN] * len(outputs)

    # -- costs --------------------------------------------------------------------------------
    def param_count(self, a: Args) -> Dim:
        return 0

    def weights(self, a: Args, dim=None) -> list[Weight]:
        """Every tensor of the torch module's state_dict, in its order: the parameters (whose
        elements add up to ``param_count``) and the buffers. ``dim`` maps a dim to what a
        user reads (a network's parameters substituted): a count that names tensors (an
        LSTM's layers) is read through it. tests/test_kinds_torch.py compares the list with
        the real module's state_dict on every example."""
        return []

    def kernel(self, a: Args) -> tuple | None:
        """The window of a convolution or a pool, one size a spatial dim; None for others."""
        k = getattr(a, "kernel_size", None)
        n = getattr(self, "n", None)
        if k is None or not isinstance(n, int):
            return None
        return k if isinstance(k, tuple) else (k,) * n

    def flops(self, a: Args, inputs: list[Tensor], outputs: list[Tensor]) -> Dim:
        return 0

    # Results that are storage the layer's work already made and counts elsewhere (a scan's
    # last state is its step's own result): they add no activation bytes.
    held_elsewhere: ClassVar[tuple[int, ...]] = ()

    def is_view(self) -> bool:
        """True when the result shares storage with the input (adds no activation bytes)."""
        return False

    # Whether the result is a new tensor that the layer does not keep for its backward pass
    # (a convolution keeps its input, not its output; a ReLU keeps its output): a later op
    # may then write into it, as torchvision's residual blocks do with `out += identity`.
    fresh_result: ClassVar[bool] = False

    # Whether the results are views of the input that one call returns together (``split``,
    # ``chunk``): in a training step torch refuses to write into one of them, or into a view
    # of one, in place (inplace.py)
    multi_view: ClassVar[bool] = False

    def writes_input(self, a: Args) -> bool:
        """True when the layer writes its result into its input in a training step
        (``inplace=true``), as opposed to returning the input itself."""
        return getattr(a, "inplace", False) is True and not self.is_view()

    # Whether the result may be the input itself, depending on the layout the input has in a
    # training step (``contiguous``): the costs ask ``result_strides``, which says (None: a copy).
    may_alias: ClassVar[bool] = False

    def aliases_input(self, a: Args, inputs: list[Tensor] | None = None) -> bool:
        """True when the layer's result is its input's own storage: a view, or a layer that
        writes in place (``inplace=true``). Such a result adds no activation bytes. With the
        input types (``inputs``) the answer may depend on them: a cast to the input's own
        dtype returns the input; without them it is the answer for any input."""
        return self.is_view() or getattr(a, "inplace", False) is True

    # -- training memory (kinds/memory.py, docs/costs.md) -------------------------------------
    def saved(self, a: Args, inputs: list[Tensor], outputs: list[Tensor], grad: Autograd) -> Saved | None:
        """What autograd keeps for the layer's backward in a training step: which inputs and
        results, and the bytes of what it makes inside and keeps. Asked only when autograd
        records the layer (``grad.records``: an input needs a gradient, or it has parameters);
        parameters it keeps are not listed (they are counted as parameters). None (UNKNOWN)
        where it cannot be stated exactly from the shapes: the costs then say "unknown"."""
        return NOTHING

    def results_kept(self, a: Args) -> tuple[int, ...]:
        """Results that the backward reads beyond those ``saved`` lists, where ``saved``
        cannot say (UNKNOWN) or counts them among the bytes it makes inside: a view of a
        tensor the layer keeps. A layer that writes in place into one fails (inplace.py)."""
        return ()

    def new_strides(self, a: Args, inputs: list[Tensor], outputs: list[Tensor]) -> list[Strides | None]:
        """The strides in elements of each new result, where a training step's memory needs
        more than ``layout`` states (UNKNOWN where it differs on another device); None: the
        result's Tensor.strides."""
        return [None] * len(outputs)

    def result_strides(self, a: Args, inputs: list[Tensor], outputs: list[Tensor],
                       strides: list[Strides]) -> list[Strides | None]:
        """For a layer whose results share the first input's storage (``aliases_input``, or
        an op written in place): each result's strides in elements, from the inputs'; None
        for a result that torch copies after all (``reshape`` of a transposed tensor)."""
        return [strides[0]] * len(outputs)

    def explain(self, a: Args, inputs: list[Tensor], outputs: list[Tensor]) -> list[str]:
        """How the layer derived its results (``netspec explain``, kinds/why.py): a ``reads:``
        line and ``dim i: formula = value`` lines; dims it leaves out are explained generically."""
        return []

    # An op that can write its result into its first input (Op.forward with in_place); the
    # checker marks where it may (Node.in_place: that input is a fresh result, fresh_result,
    # read by nothing else, of the result's own shape and dtype).
    writes_in_place: ClassVar[bool] = False

    # -- presentation -------------------------------------------------------------------------
    @property
    def summary(self) -> str:
        """One line of torch's documentation of the kind (kinds/summaries.py, generated by
        scripts/make_kind_summaries.py), else the first line of the class's docstring."""
        from .summaries import SUMMARIES

        found = SUMMARIES.get(self.name)
        if found:
            return found
        doc = (type(self).__doc__ or "").strip()
        return " ".join(doc.split("\n\n")[0].split())

    def arg_doc(self, field: str) -> str:
        """torch's line for an argument of the kind ("" where torch documents none)."""
        from .summaries import ARGUMENTS

        return ARGUMENTS.get(self.name, {}).get(field, "")

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
        parts = [show(x) for x in getattr(a, self.variadic)] if self.variadic in given else []
        named = self._label_positional(a, given, parts, show)
        named += sorted(n for n in given if n not in self.positional and n not in self.state_inputs
                        and n != self.inferred and n != self.variadic)
        for name in named:
            value = getattr(a, name)
            parts.append(name if value is True else f"{name}={show(value)}")
        return self.name + (" " + ", ".join(parts) if parts else "")

    def _label_positional(self, a: Args, given, parts: list[str], show) -> list[str]:
        """Append the positional arguments shown by position; return those shown by name."""
        fields = self.Args.model_fields
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
        return named

    # -- torch emission -----------------------------------------------------------------------
    def forward(self, a: Args, module: str, inputs: list[str], state: dict[str, str], code,
                in_place: bool = False) -> Forward:
        """The stage in ``forward``: ``module`` names its submodule (a layer's), ``inputs``
        and ``state`` are the expressions of its tensors, ``code`` renders a value (a dim,
        a literal) as Python source."""
        raise NotImplementedError

    def result_pattern(self, names: list[str]) -> str:
        """The assignment target that unpacks the result into the kind's results, one name
        per entry of ``results``: ``out, (h_n, c_n)`` for an LSTM."""
        return ", ".join(names)

    def fingerprint(self, a: Args, inputs: list[Tensor | None], state: tuple[str, ...]) -> tuple:
        """What the generated code of one application depends on, to compare a network's
        class with a use of it."""
        raise NotImplementedError


class Layer(Kind):
    """A torch ``nn`` module: built once in ``__init__``, called in ``forward``."""

    what = "layer"
    is_module = True
    needs_pipe = True
    # Emission: the nn class and torch's positional order of its constructor.
    torch_name: ClassVar[str | None] = None
    torch_positional: ClassVar[tuple[str, ...]] = ()
    # Whether the torch constructor takes ``dtype=`` (a layer with weights or buffers): the
    # built module makes them in the input's dtype when it is not float32.
    dtype_kwarg: ClassVar[bool] = False
    # For a layer torch.nn lacks (torchvision's StochasticDepth): the Python source of the
    # class, named ``torch_name``, that a built module using it defines once.
    support_code: ClassVar[str | None] = None

    @property
    def module_class(self) -> str:
        """The class the built module constructs, as Python source."""
        return self.torch_name if self.support_code else f"nn.{self.torch_name}"

    def batch_axis(self, a: Args, rank: int) -> int | None:
        lowest = min(self.ranks) if self.ranks else self.min_rank
        return 0 if rank > lowest else None

    def constructor_args(self, a: Args) -> tuple[list[Any], dict[str, Any]]:
        """Positional and keyword values of the torch constructor, inferred sizes written out."""
        pos = [getattr(a, n) for n in self.torch_positional]
        kw = {n: getattr(a, n) for n in self.Args.model_fields
              if n in a.model_fields_set and n not in self.torch_positional
              and n not in self.state_inputs}
        return pos, kw

    def call_args(self, a: Args, inputs: list[str], state: dict[str, str], code) -> list[str]:
        """The arguments of the module's call: the input expressions, then any initial state."""
        return list(inputs)

    def with_dtype(self, pos: list[Any], kw: dict[str, Any], dtype) -> tuple[list[Any], dict[str, Any]]:
        """The constructor values with ``dtype`` (a value the build renders) where torch takes
        it: the constructor's own ``dtype=``, or the modules a Construct nests."""
        return pos, {**kw, "dtype": dtype}

    def plain_call(self, a: Args) -> bool:
        """Whether the built module is called on the piped tensor alone and returns its one
        result, so that an nn.Sequential can run it (MultiheadAttention is not: it takes
        the query as key and value too, and returns a pair)."""
        return True

    def forward(self, a, module, inputs, state, code, in_place=False):
        return Forward(callee=module, args=tuple(self.call_args(a, inputs, state, code)))

    def fingerprint(self, a, inputs, state):
        pos, kw = self.constructor_args(a)
        dtype = inputs[0].dtype if inputs and inputs[0] is not None else None
        return ("layer", self.name, tuple(pos), tuple(sorted(kw.items())), dtype, tuple(sorted(state)))


class Op(Kind):
    """A torch function applied to values: an expression in ``forward``, no submodule."""

    what = "op"
    is_module = False

    def is_view(self):
        return True

    def dim_index(self, ctx, value, rank: int, arg: str, extra: int = 0) -> int:
        """A dim argument normalised to 0..rank-1+extra, or a `rank` error."""
        d = ctx.concrete(value, arg, arg)
        top = max(rank + extra, 1)
        if not -top <= d < top:
            raise ctx.fail(codes.RANK, f"{self.name}: dim {d} is out of range for a tensor with {rank} dims "
                           f"(expected {-top} to {top - 1})", arg=arg,
                           help="count dims from 0 for the first, or from -1 for the last")
        return d % top

    def op_expr(self, a: Args, inputs: list[str], code) -> str:
        """The op's ``forward`` expression over its input expressions."""
        raise NotImplementedError

    def op_expr_in_place(self, a: Args, inputs: list[str], code) -> str:
        """The ``forward`` expression that writes the op's result into its first input."""
        raise NotImplementedError(f"{self.name} has no in-place form")

    def forward(self, a, module, inputs, state, code, in_place=False):
        return Forward(expr=self.op_expr_in_place(a, inputs, code) if in_place else self.op_expr(a, inputs, code))

    def fingerprint(self, a, inputs, state):
        return ("op", self.name, tuple((f, getattr(a, f)) for f in type(a).model_fields), len(inputs))


class Refusal(NamedTuple):
    """One argument refused by validation: which (None: the arguments together), why, the
    code (``argument``: a wrong type or name; ``value``: a value torch refuses) and a fix."""

    field: str | None
    message: str
    code: codes.Code
    help: str | None


def validation_messages(err: ValidationError) -> list[Refusal]:
    out = []
    for e in err.errors():
        field = str(e["loc"][0]) if e.get("loc") else None
        msg = e["msg"]
        for prefix in ("Value error, ", "Assertion failed, "):
            if msg.startswith(prefix):
                msg = msg[len(prefix):]
        cause = (e.get("ctx") or {}).get("error")
        if isinstance(cause, ArgValueError):
            out.append(Refusal(cause.field, msg, codes.VALUE, cause.help))
        elif isinstance(cause, ArgTypeError):
            out.append(Refusal(field, msg, codes.ARGUMENT, cause.help))
        elif isinstance(cause, SizeError):
            out.append(Refusal(field, msg, codes.VALUE, "sizes are at least 1"))
        else:
            out.append(Refusal(field, msg, codes.VALUE if field is None else codes.ARGUMENT, None))
    return out


def takes(kind: "Kind", field: str) -> str:
    """What an argument of ``kind`` takes, in words ("a positive integer", "one of `zeros`,
    `reflect`, `replicate` or `circular`"), as its annotation says (kinds/args.py ``words``)."""
    return kind.Args.takes(field)


def takes_help(kind: "Kind", field: str) -> str:
    """The help line for a refused argument: what it takes."""
    return f"`{field}` takes {takes(kind, field)}"


def normalize_tuple(v, n: int) -> tuple:
    """Keras's standardize_tuple: an int becomes an n-tuple; a tuple must have length n."""
    if isinstance(v, tuple):
        if len(v) != n:
            raise ValueError(f"expected {n} values, received {len(v)}")
        return v
    return (v,) * n


class FloatLayer(Layer):
    """A layer with float parameters: refuses integer input, keeps the input's dtype."""

    accepts_int: ClassVar[bool] = False  # int64 and int32 too (ReLU); never bool

    def check_dtype(self, ctx, t: Tensor) -> None:
        if t.dtype == "bool" and self.accepts_int:
            raise ctx.fail(codes.DTYPE, f"{self.name} takes numbers, not bool", ctx.input_story(),
                           help="convert the mask to a number type first")
        if t.dtype not in FLOAT_DTYPES and not self.accepts_int:
            raise ctx.fail(codes.DTYPE, f"{self.name} needs a floating-point input, received {t.dtype}",
                           ctx.input_story(),
                           help="integer ids go through `Embedding` first" if t.dtype in ("int64", "int32")
                           else "convert the value to float")


def numel(shape) -> Dim:
    out: Dim = 1
    for d in shape:
        out = out * d
    return out
