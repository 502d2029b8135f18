"""Binding a call's arguments to what the callee takes: one driver, two signatures.

A stage or a source calls a layer or op kind (``Conv2d(64, 3, stride=2)``, ``cat(a, b,
dim=1)``) or a network (``BasicBlock(128, stride=2)``, ``Decoder(memory=enc)``). Either way
the piped value comes first, then the arguments in order: each is evaluated, then placed
by the callee's :class:`Signature` (a positional value or tensor, a keyword value or tensor)
or reported where it does not fit. The result, :class:`Bound`, says which tensors go in,
which argument took which value, where each was written, and which arguments were given as
a bare network parameter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import ast as A
from . import codes
from .diagnostics import Reporter, Span, suggest
from .dims import is_dim
from .graph import ParamUse, Value
from .kinds import Fail, Kind, TensorArg

if TYPE_CHECKING:
    from .checker import NetworkChecker


class Bound:
    """What a call's arguments bound to (one is made for every stage checked)."""

    __slots__ = ("inputs", "tensors", "values", "spans", "params", "bad")

    def __init__(self) -> None:
        self.inputs: list[Value] = []  # tensors in order, the piped one first
        self.tensors: dict[str, Value] = {}  # tensors by keyword or input name
        self.values: dict[str, Any] = {}  # argument values by name
        self.spans: dict[str, Span] = {}  # where each argument was written
        self.params: dict[str, ParamUse] = {}  # argument -> parameter given bare
        self.bad = False  # an argument was refused (and reported)


class Signature:
    """What a callee takes; subclasses place each argument or report why it does not fit."""

    def __init__(self, name: str, reporter: Reporter):
        self.name = name
        self.reporter = reporter

    def error(self, message: str, span: Span, notes=(), help: str | None = None) -> None:
        self.reporter.error(codes.ARGUMENT, message, span, notes, help)

    def pipe(self, value: Value, bound: Bound) -> None:
        raise NotImplementedError

    def positional(self, value: Any, arg: A.Arg, bound: Bound) -> bool:
        """Place a positional argument; False when refused (reported)."""
        raise NotImplementedError

    def keyword(self, value: Any, arg: A.Arg, bound: Bound) -> bool:
        raise NotImplementedError

    def finish(self, bound: Bound, span: Span) -> None:
        """After every argument: what depends on all of them (positions, missing inputs)."""


def bind(network: "NetworkChecker", sig: Signature, args: list[A.Arg], piped: Value | None, span: Span) -> Bound:
    """Evaluate and place every argument of a call to ``sig``'s callee."""
    bound = Bound()
    if piped is not None:
        sig.pipe(piped, bound)
    given_bare: dict[Span, ParamUse] = {}
    for arg in args:
        try:
            value = network.value(arg.value)
        except Fail:
            bound.bad = True
            continue
        use = network.param_use(arg.value)
        if use is not None:
            given_bare[arg.span] = use
        place = sig.positional if arg.name is None else sig.keyword
        if not place(value, arg, bound):
            bound.bad = True
    sig.finish(bound, span)
    if given_bare:
        bound.params = {k: given_bare[s] for k, s in bound.spans.items() if s in given_bare}
    return bound


_LITERALS = frozenset({A.Int, A.Float, A.Str, A.Bool})
_new_tuple = tuple.__new__  # a named tuple made from its fields, as its class called with them does


def bind_plain(network: "NetworkChecker", kind: Kind, args: list[A.Arg], piped: Value | None) -> Bound | None:
    """The commonest call bound at once: every argument a literal, a parameter or a symbol
    (by position or by keyword), or a tensor value named bare (by position, to a kind that
    joins several), each placed where KindSignature places it. None where an argument is
    anything else or would be refused: ``bind`` then binds the call (and reports), as if
    this had not run (nothing here reports, nor changes the network's state)."""
    if kind.variadic is not None:
        return None
    bound = Bound()
    inputs = bound.inputs
    if piped is not None:
        inputs.append(piped)
    given: list[tuple[Any, Span]] = []
    bare: dict[Span, ParamUse] = {}
    for arg in args:
        value = _plain_value(network, arg.value, bare, arg.span)
        if value is _NOT_PLAIN:
            return None
        if isinstance(value, Value):
            # by position, to a kind that takes several, after no value but an equation
            if arg.name is not None or kind.max_inputs == 1 or (given and any(not isinstance(v, str) for v, _ in given)):
                return None
            inputs.append(value)
        elif arg.name is None:
            given.append((value, arg.span))
        elif arg.name in bound.values or arg.name not in kind.Args.model_fields:
            return None
        else:
            bound.values[arg.name] = value
            bound.spans[arg.name] = arg.span
    n = len(inputs)
    if n < kind.min_inputs or (kind.max_inputs is not None and n > kind.max_inputs):
        return None
    if given and not _place_given(kind, given, bound):
        return None
    if bare:
        bound.params = {k: bare[s] for k, s in bound.spans.items() if s in bare}
    return bound


_NOT_PLAIN: Any = object()  # what _plain_value returns for an argument bind_plain leaves to bind


def _plain_value(network: "NetworkChecker", expr, bare: dict, at: Span) -> Any:
    """The value of an argument that ``network.value`` evaluates without reporting: a
    literal, or a bare name of a value, a parameter (noted in ``bare`` at the argument's
    span ``at``, as ``network.param_use`` notes it) or a symbol; _NOT_PLAIN for anything else."""
    t = type(expr)
    if t in _LITERALS:
        return expr.value
    if t is not A.Ref or expr.attr is not None:
        return _NOT_PLAIN
    name = expr.name
    res = network.values.get(name)
    if res is not None:
        return _NOT_PLAIN if res.primary is None else res.primary  # a value that is none: bind's Fail
    params = network.net.params
    if name in params:
        bare[at] = _new_tuple(ParamUse, (name, expr.span))
        return params[name]
    return network.symbol_env.get(name, _NOT_PLAIN)


def _place_given(kind: Kind, given: list[tuple[Any, Span]], bound: Bound) -> bool:
    """KindSignature.finish's placing of the positional values, where each fits (else False)."""
    names = kind.positional
    if kind.size_first and _is_size(given[0][0]):
        names = (kind.inferred, *names)
    if len(given) > len(names):
        return False
    values, spans = bound.values, bound.spans
    for (value, aspan), name in zip(given, names):
        if name in values:
            return False
        values[name] = value
        spans[name] = aspan
    return True


class KindSignature(Signature):
    """A layer's or an op's arguments: ``kind.positional`` by position, its Args fields by
    keyword, tensors piped, by position (ops that join several: ``cat``) or by keyword
    (a layer's ``h0=``)."""

    def __init__(self, kind: Kind, name: str, reporter: Reporter, label: str | None = None):
        self.name, self.reporter = name, reporter  # Signature.__init__, one is made per stage
        # how a message quotes the callee: `add`, or the operator that stands for it (`+`)
        self.quoted = label or f"`{name}`"
        self.kind = kind
        self.given: list[tuple[Any, Span]] = []  # positional values, placed in finish()

    def pipe(self, value, bound):
        bound.inputs.append(value)

    def positional(self, value, arg, bound):
        if not isinstance(value, Value):
            self.given.append((value, arg.span))
            return True
        if self.kind.max_inputs != 1:
            bound.inputs.append(value)
            if self.given and any(not isinstance(v, str) for v, _ in self.given):
                # `sub(2.0, x)` would read as x - 2.0 (an equation may come first: einsum)
                self.error(f"{self.quoted} takes its tensors before its other arguments", arg.span,
                           help=f"put the tensors first: {self.name}(x, y, ...)")
                return False
            return True
        self.error(f"{self.quoted} takes no tensor as a positional argument", arg.span,
                   help=f"pipe the tensor in: `x -> {self.name}(...)`")
        return False

    def keyword(self, value, arg, bound):
        kind, key = self.kind, arg.name
        if key in bound.values or key in bound.tensors:
            self.error(f"`{key}` is given twice", arg.span, help=_twice_help(key))
            return False
        if isinstance(value, Value):
            if key not in kind.state_inputs:
                self.error(f"{self.quoted} takes no tensor `{key}`", arg.span, help=self._tensor_help(key))
                return False
            bound.tensors[key] = value
            bound.values[key] = TensorArg(value, arg.value.text if isinstance(arg.value, A.Ref) else key)
        else:
            fields = kind.Args.model_fields
            if key not in fields:
                self.error(f"{self.quoted} has no argument `{key}`", arg.span,
                           [f"{self.quoted} takes: " + ", ".join(fields)] if fields else
                           [f"{self.quoted} takes no arguments"], help=suggest(key, fields) or (
                               f"remove `{key}=...`; {self.quoted} takes " + ", ".join(f"`{f}`" for f in fields)
                               if fields else f"remove `{key}=...`: write {self.quoted} alone"))
                return False
            bound.values[key] = value
        bound.spans[key] = arg.span
        return True

    def _tensor_help(self, key: str) -> str:
        """How to pass what ``key=tensor`` meant, for a kind that takes no tensor ``key``."""
        kind = self.kind
        if kind.state_inputs:
            return f"tensors it takes by keyword: {', '.join(kind.state_inputs)}"
        if key in kind.Args.model_fields:
            return f"`{key}` takes a value, not a tensor: a number, a parameter or a symbolic dim"
        if kind.max_inputs != 1:
            return f"pass the tensor by position: `{self.name}(x, y)`"
        return f"{self.quoted} takes one tensor, piped in: `x -> {self.name}(...)`"

    def finish(self, bound, span):
        given = self._variadic(bound)
        names = self.kind.positional
        if self.kind.size_first and given and _is_size(given[0][0]):
            # BatchNorm2d(64), LayerNorm(512): torch's own order, the size checked as given
            names = (self.kind.inferred, *self.kind.positional)
        if len(given) > len(names):
            self._too_many(given)
            bound.bad = True
        for (value, aspan), name in zip(given, names):
            if name in bound.values:
                self.error(f"`{name}` is given both by position and by keyword", aspan,
                           help=f"this positional value is `{name}`: remove it or the `{name}=` keyword")
                bound.bad = True
                continue
            bound.values[name] = value
            bound.spans[name] = aspan
        if not bound.bad and not self._input_count(len(bound.inputs), span):  # one a refused argument left
            bound.bad = True

    def _variadic(self, bound: Bound) -> list[tuple[Any, Span]]:
        """An argument that takes every positional value (``permute(1, 0, 2)``); the
        positional values left for the others."""
        variadic, given = self.kind.variadic, self.given
        if variadic is None or not given:
            return given
        if variadic in bound.values:
            self.error(f"`{variadic}` is given both by position and by keyword", bound.spans[variadic],
                       help=f"the positional values are `{variadic}`: remove them or the `{variadic}=` keyword")
            bound.bad = True
        if len(given) == 1 and isinstance(given[0][0], tuple):
            bound.values[variadic] = given[0][0]
        else:
            bound.values[variadic] = tuple(v for v, _ in given)
        first, last = given[0][1], given[-1][1]  # the argument is every value: `reshape(b, 2, -1)`
        bound.spans[variadic] = first._replace(end_line=last.end_line, end_column=last.end_column)
        return []

    def _too_many(self, given: list[tuple[Any, Span]]) -> None:
        taken = self.kind.positional
        self.error(f"{self.quoted} takes {len(taken)} positional argument{'s' if len(taken) != 1 else ''} "
                   f"({', '.join(taken) or 'none'}), received {len(given)}", given[len(taken)][1],
                   help="pass the others by keyword" if taken else
                   f"{self.quoted} takes its arguments by keyword: write `name=value`")

    def _input_count(self, n: int, span: Span) -> bool:
        kind = self.kind
        if n < kind.min_inputs:
            self.error(f"{self.quoted} needs {kind.min_inputs} tensor input"
                       f"{'s' if kind.min_inputs > 1 else ''}, received {n}", span,
                       help=f"pipe one in (`x -> {self.name}(...)`) and pass the others first: "
                       f"`{self.name}(y, ...)`" if kind.min_inputs > 1 else f"pipe one in: `x -> {self.name}(...)`")
            return False
        if kind.max_inputs is not None and n > kind.max_inputs:
            self.error(f"{self.quoted} takes {kind.max_inputs} tensor input"
                       f"{'s' if kind.max_inputs > 1 else ''}, received {n}", span,
                       help="a piped value counts as the first")
            return False
        return True


class NetworkSignature(Signature):
    """A network's inputs and parameters: the piped value is its first input, further
    tensors fill its other inputs in order, other values its parameters in order; both go by
    name too."""

    def __init__(self, net: A.Network, reporter: Reporter):
        super().__init__(net.name, reporter)
        self.input_names = [i.name for i in net.inputs]
        self.param_names = [p.name for p in net.params]
        self.next_param = 0

    def pipe(self, value, bound):
        if self.input_names:
            bound.tensors[self.input_names[0]] = value

    def positional(self, value, arg, bound):
        if isinstance(value, Value):
            free = [n for n in self.input_names if n not in bound.tensors]
            if not free:
                self.error(f"`{self.name}` takes no more tensor inputs", arg.span,
                           help=self._inputs_help())
                return False
            return self._place(free[0], value, arg, bound)
        if self.next_param >= len(self.param_names):
            self.error(f"`{self.name}` takes {len(self.param_names)} parameters, received more", arg.span,
                       help=self._inputs_help())
            return False
        self.next_param += 1
        return self._place(self.param_names[self.next_param - 1], value, arg, bound)

    def keyword(self, value, arg, bound):
        return self._place(arg.name, value, arg, bound)

    def _place(self, key: str, value, arg: A.Arg, bound: Bound) -> bool:
        if key in bound.tensors or key in bound.values:
            self.error(f"`{key}` is given twice", arg.span, help=_twice_help(key))
            return False
        bound.spans[key] = arg.span
        if key in self.input_names:
            if not isinstance(value, Value):
                self.error(f"input `{key}` of `{self.name}` needs a tensor", arg.span,
                           help=f"pass a value defined in this network: `{key}=x`")
                return False
            bound.tensors[key] = value
        elif key in self.param_names:
            if isinstance(value, Value):
                self.error(f"parameter `{key}` of `{self.name}` takes a value, not a tensor", arg.span,
                           help=f"pass a number or a parameter: `{key}=3`; tensors go to its inputs: "
                           + ", ".join(f"`{n}`" for n in self.input_names))
                return False
            bound.values[key] = value
        else:
            self.error(f"`{self.name}` has no parameter or input `{key}`", arg.span,
                       help=suggest(key, self.input_names + self.param_names) or self._inputs_help())
            return False
        return True

    def _inputs_help(self) -> str:
        names = ", ".join(f"`{n}`" for n in self.input_names) or "none"
        params = ", ".join(f"`{n}`" for n in self.param_names) or "none"
        return f"`{self.name}` takes the inputs {names} and the parameters {params}: remove the others"

    def finish(self, bound, span):
        missing = [n for n in self.input_names if n not in bound.tensors]
        if missing:
            self.error(f"`{self.name}` needs its input{'s' if len(missing) > 1 else ''} "
                       + ", ".join(f"`{m}`" for m in missing), span,
                       help=f"pass them by keyword: {self.name}({missing[0]}=...)")
            bound.bad = True
        bound.inputs = [bound.tensors[n] for n in self.input_names if n in bound.tensors]


def _is_size(v) -> bool:
    """An int, a symbolic dim or a tuple of them: what a size argument looks like."""
    if isinstance(v, tuple):
        return bool(v) and all(_is_size(x) for x in v)
    return is_dim(v)


def _twice_help(key: str) -> str:
    return f"remove one of the two `{key}=`"
