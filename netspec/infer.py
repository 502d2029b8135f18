"""Inference: AST -> typed graph, in one pass per network.

Every network is walked once in statement order. Each stage becomes a :class:`LayerNode`
whose outputs are :class:`Value`s with an inferred :class:`~netspec.types.Tensor`.
Integer parameters stay symbols in the shapes (so generated code can follow a changed
parameter); ``TypedNetwork.show`` substitutes their values for everything a user reads.

A network used as a stage is instantiated at each use with its input symbols unified
against the caller's sizes; a network checked on its own (a block) is checked generically,
leniently: an equation over its symbols that cannot be decided is assumed, and checked
again at every use.
"""

from __future__ import annotations

import gc
import keyword
import re
from dataclasses import dataclass, field
from typing import Any, NoReturn

from . import syntax as A
from .diagnostics import Diagnostic, Reporter, Span, suggest
from .dims import Dim, Expr, NotConcrete, compare, floordiv, render, substitute, sym, symbols
from .kinds import REGISTRY, Fail, Kind, TensorArg, ValidationError, validation_messages
from .types import DTYPES, Origin, Tensor, show_shape

BATCH_NAMES = frozenset({"batch", "batch_size", "B", "N"})
TIME_NAMES = frozenset({"seq", "seq_len", "time", "T"})
MAX_REPEAT = 10_000
MAX_USE_DEPTH = 100  # networks used inside networks used inside ...
MAX_LAYERS = A.MAX_LAYERS
INT64_MAX = 2**63 - 1
MAX_DIGITS = A.MAX_DIGITS
MAX_MAGNITUDE = 10**MAX_DIGITS  # arithmetic in a spec stops here, far past any size
# Names a built module cannot use: networks become classes, parameters and inputs become
# arguments, symbols and bindings become variables next to `self`, `torch` and `nn`.
RESERVED = frozenset(keyword.kwlist) | {"self", "super", "torch", "nn"}
# A binding made of layers and a stage's `as` name become submodules: nn.Module's own
# attributes would hide them (nn.Module.__getattr__ is only asked for names it lacks).
MODULE_ATTRS = frozenset("""
    T_destination add_module apply bfloat16 buffers call_super_init children compile cpu cuda
    double dump_patches eval extra_repr float forward get_buffer get_extra_state get_parameter
    get_submodule half ipu load_state_dict modules mtia named_buffers named_children
    named_modules named_parameters parameters register_backward_hook register_buffer
    register_forward_hook register_forward_pre_hook register_full_backward_hook
    register_full_backward_pre_hook register_load_state_dict_post_hook
    register_load_state_dict_pre_hook register_module register_parameter
    register_state_dict_post_hook register_state_dict_pre_hook requires_grad_ set_extra_state
    set_submodule share_memory state_dict to to_empty train training type xpu zero_grad
""".split())


def check_name(reporter: Reporter, name: str, span: Span, what: str, submodule: bool = False) -> None:
    """A `reserved` error for a name the generated Python module could not use."""
    if name in RESERVED or (name.startswith("__") and name.endswith("__")):
        why = "a Python keyword" if keyword.iskeyword(name) else "a name the built module itself uses"
    elif submodule and name in MODULE_ATTRS:
        why = "an attribute of torch's nn.Module"
    else:
        return
    reporter.error("reserved", f"`{name}` cannot name {what}: it is {why}", span,
                   help=f"rename it, e.g. `{name.strip('_')}_`")


# -- the typed graph --------------------------------------------------------------------------

@dataclass(eq=False)
class Value:
    tensor: Tensor | None  # None when it could not be inferred (the error is reported)
    node: "LayerNode | None"
    index: int
    name: str


@dataclass(eq=False)
class LayerNode:
    kind: Kind | None  # None for a network used as a stage
    args: Any
    inputs: list[Value]
    state: dict[str, Value]
    span: Span
    binding: str | None
    alias: str | None = None
    group: tuple = ()  # (group id, repeat index) pairs from the outside in
    outputs: list[Value] = field(default_factory=list)
    params: Dim = 0
    error: str | None = None
    block: "TypedNetwork | None" = None  # the instantiated sub-network
    block_args: dict = field(default_factory=dict)  # block param -> value at this use
    block_symbols: dict = field(default_factory=dict)  # block symbol -> caller dim
    arg_refs: dict = field(default_factory=dict)  # argument -> the A.Ref of the parameter given
    in_place: bool = False  # the op writes its result into its first input (see _mark_in_place)

    @property
    def kind_name(self) -> str:
        return self.block.name if self.block is not None else self.kind.name

    @property
    def result_names(self) -> list[str]:
        """One name per result: the kind's for its arguments (`output`, `h_n`, `c_n`), or a
        network's output names."""
        if self.block is not None:
            names = [n for n, _ in self.block.outputs]
        elif self.args is not None:
            names = list(self.kind.result_names(self.args))
        else:
            names = list(self.kind.results)
        return [names[i] if i < len(names) else f"output{i}" for i in range(len(self.outputs))]

    @property
    def is_module(self) -> bool:
        """Whether the node is a submodule of the built module (a layer or a network)."""
        return self.block is not None or self.kind.is_module


@dataclass
class BindingResult:
    primary: Value
    results: dict[str, Value]


# -- applications of a layer or op seen before --------------------------------------------------
# A spec repeats itself: the same layer with the same arguments on inputs of the same type. The
# rule's result then differs only in where its dims come from (origins name the layer and its
# line), so the TRACE_AT-th time an application is seen its rule is traced once more with
# placeholder origins, and later ones reuse the result with their own origins put in. Only
# an application that reported nothing is reused (no error or warning: the tracing run
# refuses any, silenced by an allow comment or not); one with initial state tensors never.
# TRACE_AT = 0 turns reuse off (tests compare the two).
TRACE_AT = 2


class _Slot(tuple):
    """A placeholder origin: dim ``dim`` of input ``input``."""

    __slots__ = ()

    def __new__(cls, k: int, j: int):
        return super().__new__(cls, (k, j))

    input = property(lambda self: self[0])
    dim = property(lambda self: self[1])


_SELF = Origin("<the layer itself>", Span("", 0, 0, 0, 0))  # placeholder for the layer's own


@dataclass(frozen=True)
class Applied:
    args: Any
    params: Dim
    outputs: tuple  # (dtype, shape, origins with placeholders) per result
    results: tuple[str, ...]
    fixed: dict  # parameter -> value: those the result depends on (TypedNetwork.fixed)


def _tagged(v):
    """A value as a memo key: 1, 1.0 and true are equal in Python but not as arguments."""
    if isinstance(v, tuple):
        return (tuple, tuple(_tagged(x) for x in v))
    if isinstance(v, float):
        return (float, repr(v))
    return (type(v), v)


def _application_key(name: str, values: dict[str, Any], inputs: list[Tensor]) -> tuple:
    return (name, tuple(sorted((k, _tagged(v)) for k, v in values.items())),
            tuple((t.dtype, t.shape) for t in inputs))


@dataclass(eq=False)
class TypedNetwork:
    name: str
    span: Span
    ast: A.Network
    params: dict[str, Any]  # name -> value used in the body (ints are symbols)
    param_env: dict[str, Dim]  # param symbol -> its value, for what users read
    param_defaults: dict[str, Any]
    inputs: list[Value] = field(default_factory=list)
    outputs: list[tuple[str, Value]] = field(default_factory=list)
    nodes: list[LayerNode] = field(default_factory=list)
    bindings: dict[str, BindingResult] = field(default_factory=dict)
    input_symbols: dict[str, tuple[int, int]] = field(default_factory=dict)  # sym -> (input, dim)
    # params whose values the checked shapes depend on (a size computed from them, an
    # equality proven only with their values): generated code must keep them
    fixed: dict[str, Any] = field(default_factory=dict)
    generic: bool = False
    ok: bool = True
    _dims: dict = field(default_factory=dict, repr=False)  # dim -> self.dim(dim), memoised

    # what a user reads: parameters substituted, canonical text
    def dim(self, d: Dim) -> Dim:
        if isinstance(d, int):
            return d
        out = self._dims.get(d)
        if out is None:
            out = self._dims[d] = substitute(d, self.param_env)
        return out

    def shape(self, t: Tensor) -> list[Dim]:
        return [self.dim(d) for d in t.shape]

    def show(self, t: Tensor | None) -> str:
        if t is None:
            return "?"
        return show_shape(self.shape(t))

    def uses(self) -> dict[int, int]:
        """How many times each value is read (by id): as a layer's input or initial state, or
        as an output of the network."""
        uses: dict[int, int] = {}
        for n in self.nodes:
            for v in (*n.inputs, *n.state.values()):
                uses[id(v)] = uses.get(id(v), 0) + 1
        for _, v in self.outputs:
            uses[id(v)] = uses.get(id(v), 0) + 1
        return uses

    @property
    def total_params(self) -> Dim:
        # each count with the parameters' values first (memoised, mostly ints), then the sum:
        # the same polynomial as substituting into the sum, without growing a 10k-term one
        total: Dim = 0
        for n in self.nodes:
            total = total + self.dim(n.params)
        return total


@dataclass
class CheckResult:
    module: A.Module | None
    networks: list[TypedNetwork]
    reporter: Reporter

    @property
    def ok(self) -> bool:
        return not self.reporter.errors


# -- the context a kind sees ------------------------------------------------------------------

class StageCtx:
    """What a kind may use while inferring: report at the stage, compare and show dims."""

    def __init__(self, checker: "NetworkChecker", span: Span, kind_name: str,
                 arg_spans: dict[str, Span], inputs: list[Value], tracing: bool = False):
        self.checker = checker
        self.span = span
        self.kind_name = kind_name
        self.arg_spans = arg_spans
        self.input_values = inputs
        # tracing (NetworkChecker._trace): origins are placeholders and nothing is reported
        self.tracing = tracing
        self.origin = _SELF if tracing else Origin(kind_name, span)

    # reporting
    def fail(self, code: str, message: str, notes=(), help: str | None = None,
             arg: str | None = None) -> Fail:
        if self.tracing:
            raise Fail(message)
        span = self.arg_spans.get(arg, self.span) if arg else self.span
        self.checker.reporter.error(code, message, span, notes, help)
        return Fail(message)

    def warn(self, code: str, message: str, notes=(), help: str | None = None,
             arg: str | None = None) -> None:
        if self.tracing:
            raise Fail(message)
        span = self.arg_spans.get(arg, self.span) if arg else self.span
        self.checker.reporter.warning(code, message, span, notes, help)

    def fail_unless_allowed(self, code: str, message: str, notes=(), help: str | None = None,
                            arg: str | None = None) -> None:
        """An error that stops the chain, unless an allow comment silences it on its line:
        then the check goes on as if it were fine."""
        span = self.arg_spans.get(arg, self.span) if arg else self.span
        if self.tracing or not self.checker.reporter.silenced(code, span):
            raise self.fail(code, message, notes, help, arg)

    # dims
    @property
    def strict(self) -> bool:
        """Whether an equation that cannot be decided is an error (False: a block checked
        generically, where it is assumed and checked again at every use)."""
        return self.checker.strict

    def dim(self, d: Dim) -> Dim:
        """``d`` with the parameters' values, to read (a decision taken on it: ``known``)."""
        return self.checker.net.dim(d)

    def fix(self, *dims: Dim) -> None:
        """Record that the result depends on the values of the parameters in ``dims``."""
        self.checker.fix(*dims)

    def show(self, d: Dim) -> str:
        return render(self.checker.net.dim(d))

    def show_tensor(self, t: Tensor) -> str:
        return t.dtype + self.checker.net.show(t)

    def same(self, a: Dim, b: Dim) -> bool:
        """Whether a == b may hold: provably, or assumed in a generic block check."""
        return self.checker.same(a, b)

    def concrete(self, d: Dim, what: str, arg: str | None = None) -> int:
        return self.checker.concrete(d, what, self.arg_spans.get(arg, self.span) if arg else self.span)

    def known(self, d: Dim) -> Dim:
        """``d`` with the parameters' values, for a decision that then depends on them."""
        return self.checker.known(d)

    def role(self, d: Dim) -> str | None:
        """'batch' or 'time' when the dim is exactly a symbol named like one."""
        d = self.checker.net.dim(d)
        if isinstance(d, Expr) and len(d.terms) == 1:
            ((mono, coeff),) = d.terms.items()
            if coeff == 1 and len(mono) == 1 and mono[0][1] == 1 and isinstance(mono[0][0], str):
                name = mono[0][0]
                if name in BATCH_NAMES:
                    return "batch"
                if name in TIME_NAMES:
                    return "time"
        return None

    def origin_note(self, t: Tensor, i: int) -> str | None:
        o = t.origins[i] if i < len(t.origins) else None
        if o is None:
            return None
        return f"dim {i} ({self.show(t.shape[i])}) comes from {o}"

    def input_story(self, index: int = 0) -> list[str]:
        """Notes on where the input came from: its source and the stage that shaped it."""
        v = self.input_values[index]
        return self.checker.story(v)


# -- the checker ------------------------------------------------------------------------------

class Checker:
    """Checks one parsed module: every network, with blocks instantiated at each use."""

    def __init__(self, module: A.Module, reporter: Reporter, overrides: dict[str, Any] | None = None):
        self.module = module
        self.reporter = reporter
        self.overrides = overrides or {}
        self.asts: dict[str, A.Network] = {}
        self.layer_count = 0
        for net in module.networks:
            if net.name in self.asts:
                reporter.error("duplicate", f"network `{net.name}` is defined twice", net.name_span,
                               [f"first defined at line {self.asts[net.name].span.line}"],
                               help="rename one of them")
                continue
            if net.name in REGISTRY:
                reporter.error("duplicate", f"network `{net.name}` has the name of a built-in {REGISTRY[net.name].what}",
                               net.name_span, help="rename the network")
                continue
            self.asts[net.name] = net
        for net in module.networks:
            check_name(reporter, net.name, net.name_span, "a network")
        self.binding_names: dict[int, set[str]] = {}  # id(binding AST) -> names its chain uses
        self.used_as_stage = self._find_uses()
        self.generic_results: dict[str, TypedNetwork] = {}
        self._active: list[str] = []
        self._instances: dict = {}
        self._fewest: dict[str, int] = {}
        # applications seen, shared by the networks checked under the same parameter values
        # (every use of a network instantiates it again): see NetworkChecker.call
        self.applied: dict[tuple, dict] = {}
        self.used_names: dict[int, set[str]] = {}  # id(network AST) -> names its outputs use
        self.too_deep = self._uses_nested_too_deep()

    def _find_uses(self) -> set[str]:
        """Networks that some chain uses as a stage. The same pass over the text keeps the
        names each binding's chain refers to, for the unused-binding warning."""
        uses = set()
        for net in self.asts.values():
            for b in net.bindings:
                names = set()
                for n in A.walk(b.chain):
                    if isinstance(n, A.Ref):
                        names.add(n.name)
                    elif isinstance(n, A.StageCall) and n.name in self.asts:
                        uses.add(n.name)
                self.binding_names[id(b)] = names
        return uses

    def _uses_nested_too_deep(self) -> set[str]:
        """Networks whose uses nest more than MAX_USE_DEPTH deep (a network using a network
        using ...), found from the text without recursion. One error is reported for each
        network one level past the limit, at its use of a network at the limit; those above
        them are not checked (they could only fail alike)."""
        if len(self.asts) < 2:
            return set()
        uses: dict[str, dict[str, Span]] = {}
        for name, ast in self.asts.items():
            found: dict[str, Span] = {}
            for node in A.walk([b.chain for b in ast.bindings]):
                if isinstance(node, (A.Call, A.StageCall)) and node.name in self.asts:
                    found.setdefault(node.name, node.span)
            uses[name] = found
        depth: dict[str, int] = {}
        for root in self.asts:
            stack = [(root, iter(uses[root]))]
            on_path = {root}
            while stack:
                name, pending = stack[-1]
                child = next(pending, None)
                if child is None:
                    stack.pop()
                    on_path.discard(name)
                    depth[name] = 1 + max((depth.get(u, 0) for u in uses[name] if u in depth), default=-1)
                elif child not in depth and child not in on_path:  # a cycle is an error of its own
                    stack.append((child, iter(uses[child])))
                    on_path.add(child)
        for name, d in depth.items():
            if d == MAX_USE_DEPTH + 1:
                used, span = next((u, sp) for u, sp in uses[name].items() if depth.get(u) == MAX_USE_DEPTH)
                self.reporter.error("limit", f"networks are used inside one another more than {MAX_USE_DEPTH} deep",
                                    span, [f"`{used}` already nests uses {MAX_USE_DEPTH} deep"],
                                    help=f"netspec checks uses of networks nested at most {MAX_USE_DEPTH} deep; "
                                         "flatten some of them into one network")
        return {name for name, d in depth.items() if d > MAX_USE_DEPTH}

    def fewest_layers(self, core: A.StageCall | A.StageGroup) -> int:
        """The fewest layers one pass through a stage's core counts: a layer or op one, a
        network one plus the fewest its chains count, a group the sum of its stages, each
        times its repetition count where that is a number. Checking stops at the layer limit;
        this bound lets a spec that would pass it many times over stop before checking."""
        if isinstance(core, A.StageGroup):
            return self._fewest_in_stages(core.stages)
        return 1 + (self.fewest_in_network(core.name) if core.name in self.asts else 0)

    def fewest_in_network(self, name: str) -> int:
        """The fewest layers a use of network ``name`` counts besides the use itself."""
        if name not in self._fewest:
            self._fewest[name] = 0  # a cycle counts nothing here; it is an error of its own
            total = 0
            for b in self.asts[name].bindings:
                total += self._fewest_in_stages(b.chain.stages)
                if total > MAX_LAYERS:
                    break
            self._fewest[name] = total
        return self._fewest[name]

    def _fewest_in_stages(self, stages: list[A.Stage]) -> int:
        total = 0
        for st in stages:
            times = st.repeat.value if isinstance(st.repeat, A.Int) and st.repeat.value > 0 else 1
            total += times * self.fewest_layers(st.core)
            if total > MAX_LAYERS:
                break
        return total

    def check(self) -> list[TypedNetwork]:
        out = []
        for name, ast in self.asts.items():
            if name in self.too_deep:
                continue
            generic = name in self.used_as_stage
            net = self.generic(name) if generic else self.run_root(ast)
            if net is not None:
                out.append(net)
        return out

    def param_values(self, ast: A.Network, reporter: Reporter) -> tuple[dict, dict, dict]:
        params: dict[str, Any] = {}
        env: dict[str, Dim] = {}
        defaults: dict[str, Any] = {}
        seen: set[str] = set()
        for p in ast.params:
            if p.name in seen:
                reporter.error("duplicate", f"parameter `{p.name}` is declared twice", p.span)
                continue
            seen.add(p.name)
            check_name(reporter, p.name, p.span, "a parameter")
            value = None
            if p.default is not None:
                value = literal(p.default, params, reporter)
                defaults[p.name] = value
            if p.name in self.overrides:
                value = self.overrides[p.name]
            if isinstance(value, int) and not isinstance(value, bool):
                params[p.name] = sym(p.name)
                env[p.name] = value
            elif value is None:
                params[p.name] = sym(p.name)  # free: checked generically
            else:
                params[p.name] = value
        return params, env, defaults

    def run_root(self, ast: A.Network) -> TypedNetwork | None:
        params, env, defaults = self.param_values(ast, self.reporter)
        generic = any(p.name not in env and isinstance(params.get(p.name), Expr) for p in ast.params)
        nc = NetworkChecker(self, ast, params, env, defaults, self.reporter, strict=not generic)
        return nc.run_standalone()

    def generic(self, name: str) -> TypedNetwork | None:
        if name in self.generic_results:
            return self.generic_results[name]
        ast = self.asts[name]
        params, env, defaults = self.param_values(ast, self.reporter)
        nc = NetworkChecker(self, ast, params, env, defaults, self.reporter, strict=False)
        self.generic_results[name] = None  # guards recursion
        net = nc.run_standalone()
        net.generic = True
        self.generic_results[name] = net
        return net


class NetworkChecker:
    def __init__(self, checker: Checker, ast: A.Network, params: dict, param_env: dict,
                 defaults: dict, reporter: Reporter, strict: bool):
        self.checker = checker
        self.ast = ast
        self.reporter = reporter
        self.strict = strict
        self.net = TypedNetwork(ast.name, ast.span, ast, params, param_env, defaults)
        self.values: dict[str, BindingResult] = {}
        self.value_spans: dict[str, Span] = {}
        self.symbol_env: dict[str, Dim] = {}  # names of symbols -> dims (instantiation)
        self.binding: str | None = None
        self._group_counter = 0
        self._group_stack: list = []
        self._sources: dict = {}  # node -> the first node of the chain of layers that led to it
        self._applied: dict | None = None  # _application_key -> times seen, Applied or None
        self._same: dict[tuple, bool] = {}  # (a, b) -> what same(a, b) said

    # -- comparisons and concreteness ------------------------------------------------------------
    def same(self, a: Dim, b: Dim) -> bool:
        known = self._same.get((a, b))
        if known is not None:  # asked before in this network: its parameters already fixed
            return known
        verdict = compare(self.net.dim(a), self.net.dim(b))
        if verdict is None:
            verdict = not self.strict
        elif verdict and compare(a, b) is not True:
            self.fix(a, b)  # equal only for the parameters' values
        self._same[(a, b)] = verdict
        return verdict

    def fix(self, *dims: Dim) -> None:
        """Record that the result depends on the values of the parameters in ``dims``."""
        for d in dims:
            for s in symbols(d):
                if s in self.net.param_env:
                    self.net.fixed[s] = self.net.param_env[s]

    def known(self, d: Dim) -> Dim:
        """``d`` with the parameters' values; a decision taken on it depends on them."""
        value = self.net.dim(d)
        if isinstance(value, int) and not isinstance(d, int):
            self.fix(d)
        return value

    def concrete(self, d: Dim, what: str, span: Span) -> int:
        value = self.net.dim(d)
        if isinstance(value, int):
            self.fix(d)
            return value
        self.reporter.error("unproven", f"{what} must be a known integer, but it is `{render(value)}`",
                            span, help="give it a concrete value, or a parameter with a default")
        raise Fail(what)

    # -- running -------------------------------------------------------------------------------
    def run_standalone(self) -> TypedNetwork:
        for inp in self.ast.inputs:
            self.declare_input(inp, None)
        self.run_body()
        return self.net

    def declare_input(self, inp: A.Input, given: Tensor | None) -> None:
        if inp.name in self.values or inp.name in self.net.params:
            self.reporter.error("duplicate", f"`{inp.name}` is defined twice", inp.name_span)
            return
        check_name(self.reporter, inp.name, inp.name_span, "an input")
        dtype = self.dtype_of(inp.type)
        dims: list[Dim] = []
        origin = Origin(f"input {inp.name}", inp.span)
        for i, dexpr in enumerate(inp.type.dims):
            if isinstance(dexpr, A.Ref) and dexpr.attr is None and dexpr.name not in self.net.params:
                name = dexpr.name
                if name not in self.symbol_env:
                    check_name(self.reporter, name, dexpr.span, "a symbolic dim")
                    self.symbol_env[name] = sym(name) if given is None else given.shape[i] if i < given.rank else sym(name)
                    self.net.input_symbols.setdefault(name, (len(self.net.inputs), i))
                dims.append(self.symbol_env[name])
                continue
            try:
                dims.append(self.dim_expr(dexpr, declare=True))
            except Fail:
                dims.append(sym(f"_{inp.name}_{i}"))
        for d in dims:
            if isinstance(d, int) and d < 0:
                self.reporter.error("shape", f"input `{inp.name}` has a negative size {d}", inp.type.span)
        t = Tensor(dtype or "float32", tuple(dims), (origin,) * len(dims))
        if given is not None:
            t = Tensor(t.dtype, t.shape, given.origins if given.rank == t.rank else t.origins)
        huge = [v for v in map(self.net.dim, dims) if isinstance(v, int) and v > INT64_MAX]
        if huge:
            self.reporter.error("limit", f"input `{inp.name}` has a size beyond int64: {huge[0]}", inp.type.span,
                                help=f"sizes must be at most 2**63 - 1 = {INT64_MAX}")
            t = None  # not inferred further: every use would repeat the error
        v = Value(t, None, 0, inp.name)
        self.net.inputs.append(v)
        self.values[inp.name] = BindingResult(v, {"output": v})
        self.value_spans[inp.name] = inp.span

    def dtype_of(self, tt: A.TensorType) -> str | None:
        if tt.dtype is None:
            return None
        if tt.dtype not in DTYPES:
            self.reporter.error("dtype", f"unknown dtype `{tt.dtype}`", tt.dtype_span,
                                help=suggest(tt.dtype, DTYPES) or "use one of: " + ", ".join(sorted(DTYPES)))
            return None
        return DTYPES[tt.dtype]

    def run_body(self) -> None:
        for st in self.ast.statements:
            if isinstance(st, A.Binding):
                self.run_binding(st)
        seen_out = False
        for st in self.ast.outputs:
            seen_out = True
            for ref in st.refs:
                v = self.lookup(ref)
                if v is not None:
                    self.net.outputs.append((ref.text, v))
        if not seen_out:
            self.reporter.error("output", f"network `{self.ast.name}` has no `output` statement",
                                self.ast.name_span,
                                help="name its results: `output logits`")
        self._mark_in_place()
        self.warn_unused()

    def _mark_in_place(self) -> None:
        """Mark the ops that may write their result into their first input, as torchvision's
        residual blocks do (`out += identity`): that input is a fresh result of a layer or op
        that does not keep it for backward (Kind.fresh_result), nothing else reads it, and
        it has the result's shape and dtype (nothing broadcast into it, no promotion)."""
        nodes = self.net.nodes
        if not any(n.kind is not None and n.kind.writes_in_place for n in nodes):
            return
        uses = self.net.uses()
        for n in nodes:
            if n.kind is None or not n.kind.writes_in_place or n.error is not None or len(n.outputs) != 1:
                continue
            v, out = n.inputs[0], n.outputs[0].tensor
            producer = v.node
            n.in_place = (producer is not None and producer.kind is not None and producer.kind.fresh_result
                          and producer.error is None and not producer.kind.aliases_input(producer.args)
                          and v.index == 0 and uses.get(id(v)) == 1 and v.tensor is not None
                          and out is not None and v.tensor.dtype == out.dtype and v.tensor.shape == out.shape)

    def warn_unused(self) -> None:
        # read from the text, not the inferred graph: a stage that failed still uses its inputs
        if not self.ast.outputs:
            return
        used = self.checker.used_names.get(id(self.ast))
        if used is None:  # once per network, not at each of its uses
            used = self.checker.used_names[id(self.ast)] = _used_names(self.ast, self.checker.binding_names)
        for b in self.ast.bindings:
            if b.name not in used and self.value_spans.get(b.name) == b.span:  # not one refused
                self.reporter.warning("unused", f"`{b.name}` is computed but no output uses it",
                                      b.name_span, help="add it to `output`, or remove the binding")
        for inp in self.ast.inputs:
            if inp.name not in used:
                self.reporter.warning("unused", f"input `{inp.name}` is declared but no output uses it",
                                      inp.name_span, help="remove the input, or use it")

    def run_binding(self, b: A.Binding) -> None:
        if b.name in self.values or b.name in self.net.params:
            first = self.value_spans.get(b.name)
            self.reporter.error("duplicate", f"`{b.name}` is defined twice", b.name_span,
                                [f"first defined at line {first.line}"] if first else [],
                                help="give the new value its own name")
            return
        if b.name in self.symbol_env:
            self.reporter.error("duplicate", f"`{b.name}` is already a symbolic dim of an input",
                                b.name_span, help="give the value another name")
            return
        check_name(self.reporter, b.name, b.name_span, "a binding", submodule=True)
        self.binding = b.name
        try:
            res = self.chain(b.chain)
        except Fail:
            res = None
        self.binding = None
        if res is None:
            poisoned = Value(None, None, 0, b.name)
            res = BindingResult(poisoned, {"output": poisoned})
        self.values[b.name] = res
        self.value_spans[b.name] = b.span
        for key, v in res.results.items():
            if not v.name:
                v.name = b.name if key == "output" else f"{b.name}.{key}"

    # -- values --------------------------------------------------------------------------------
    def lookup(self, ref: A.Ref) -> Value | None:
        res = self.values.get(ref.name)
        if res is None:
            self.reporter.error("unknown-name", f"no value named `{ref.name}`", ref.span,
                                help=suggest(ref.name, self.values, self.net.params) or "define it with `name = ...` or `input name: ...` first")
            return None
        if ref.attr is None:
            return res.primary
        if ref.attr not in res.results and res.primary.tensor is None and res.primary.node is None:
            return res.primary  # a value that failed: its error is reported where it failed
        if ref.attr not in res.results:
            self.reporter.error("unknown-attr", f"`{ref.name}` has no result `{ref.attr}`", ref.span,
                                [f"`{ref.name}` has: " + ", ".join(f"`{k}`" for k in res.results)],
                                help=suggest(ref.attr, res.results))
            return None
        return res.results[ref.attr]

    def chain(self, ch: A.Chain) -> BindingResult:
        res = self.source(ch.source)
        if ch.assertion is not None:
            self.assert_type(res.primary, ch.assertion, "the value")
        for st in ch.stages:
            res = self.stage(st, res.primary)
        return res

    def source(self, expr) -> BindingResult:
        if isinstance(expr, A.Ref):
            v = self.lookup(expr)
            if v is None:
                raise Fail(expr.name)
            if expr.attr is None:
                return self.values[expr.name]
            return BindingResult(v, {"output": v})
        if isinstance(expr, A.Chain):
            return self.chain(expr)
        if isinstance(expr, A.Call):
            return self.call(expr.name, expr.name_span, expr.span, expr.args, None, None, ())
        self.reporter.error("argument", "a chain must start with a tensor value", expr.span,
                            help="start with an input or a binding: `x -> ...`")
        raise Fail("source")

    def stage(self, st: A.Stage, x: Value) -> BindingResult:
        if st.alias:
            check_name(self.reporter, st.alias, st.alias_span, "a layer", submodule=True)
        count = 1
        if st.repeat is not None:
            try:
                count = self.concrete(self.dim_expr(st.repeat), "a repetition count", st.repeat.span)
            except Fail:
                count = 1
            if not 1 <= count <= MAX_REPEAT:
                self.reporter.error("limit" if count > MAX_REPEAT else "value",
                                    f"a stage is repeated {count} times; the count must be 1 to {MAX_REPEAT}",
                                    st.repeat.span)
                raise Fail("repeat")  # the stages after it cannot be inferred
            if self.checker.layer_count + count * self.checker.fewest_layers(st.core) > MAX_LAYERS:
                self._layer_limit(st.span, ahead=True)
        self._group_counter += 1
        gid = self._group_counter
        res = None
        for i in range(count):
            self._group_stack.append((gid, i, st.alias, count))
            try:
                if isinstance(st.core, A.StageGroup):
                    for sub in st.core.stages:
                        res = self.stage(sub, x)
                        x = res.primary
                else:
                    c = st.core
                    res = self.call(c.name, c.name_span, c.span, c.args, x, st, self._group_stack)
                    x = res.primary
            finally:
                self._group_stack.pop()
        if st.assertion is not None:
            self.assert_type(res.primary, st.assertion, "the stage's result")
        return res

    def _layer_limit(self, span: Span, ahead: bool = False) -> NoReturn:
        """Past the layer limit: the error, once (every later stage fails alike). ``ahead``:
        the layers this stage would expand to are known to pass it before they are checked."""
        if ahead:
            self.checker.layer_count = max(self.checker.layer_count, MAX_LAYERS) + 1
        if self.checker.layer_count == MAX_LAYERS + 1:
            self.reporter.error("limit", f"the spec has more than {MAX_LAYERS:,} layers and ops", span,
                                help=f"netspec checks at most {MAX_LAYERS:,} stages in a file, "
                                     "repetitions and uses of networks counted")
        raise Fail("limit")

    # -- calls: layers, ops, networks ----------------------------------------------------------
    def call(self, name: str, name_span: Span, span: Span, args: list[A.Arg], piped: Value | None,
             st: A.Stage | None, groups) -> BindingResult:
        self.checker.layer_count += 1
        if self.checker.layer_count > MAX_LAYERS:
            self._layer_limit(span)
        if name in self.checker.asts:
            if self.checker.layer_count + self.checker.fewest_in_network(name) > MAX_LAYERS:
                self._layer_limit(span, ahead=True)
            return self.block_call(name, span, args, piped, st, groups)
        kind = REGISTRY.get(name)
        if kind is None:
            what = "layer or network" if name[:1].isupper() else "op"
            self.reporter.error("unknown-layer", f"unknown {what} `{name}`", name_span,
                                help=suggest(name, REGISTRY, self.checker.asts) or "see docs/language.md for the layers and ops netspec knows")
            raise Fail(name)
        if piped is None and kind.needs_pipe:
            self.reporter.error("argument", f"`{name}` is a layer: it needs an input piped into it",
                                span, help=f"write `x -> {name}(...)`")
            raise Fail(name)
        inputs: list[Value] = [piped] if piped is not None else []
        values: dict[str, Any] = {}
        spans: dict[str, Span] = {}
        state: dict[str, Value] = {}
        positional: list[tuple[Any, Span]] = []
        refs: dict[Span, A.Ref] = {}
        bad = False
        for arg in args:
            try:
                value = self.value(arg.value)
            except Fail:
                bad = True
                continue
            if self._param_ref(arg.value):
                refs[arg.span] = arg.value
            if arg.name is None:
                if isinstance(value, Value):
                    if kind.max_inputs != 1:
                        inputs.append(value)
                        continue
                    self.reporter.error("argument", f"`{name}` takes no tensor as a positional argument",
                                        arg.span, help=f"pipe the tensor in: `x -> {name}(...)`")
                    bad = True
                    continue
                positional.append((value, arg.span))
                continue
            if arg.name in values or arg.name in state:
                self.reporter.error("argument", f"`{arg.name}` is given twice", arg.span)
                bad = True
                continue
            if isinstance(value, Value):
                if arg.name not in kind.state_inputs:
                    self.reporter.error("argument", f"`{name}` takes no tensor `{arg.name}`", arg.span,
                                        help=f"tensors it takes by keyword: {', '.join(kind.state_inputs)}"
                                        if kind.state_inputs else None)
                    bad = True
                    continue
                state[arg.name] = value
                values[arg.name] = TensorArg(value, arg.value.text if isinstance(arg.value, A.Ref) else arg.name)
                spans[arg.name] = arg.span
                continue
            fields = kind.Args.model_fields
            if arg.name not in fields:
                self.reporter.error("argument", f"`{name}` has no argument `{arg.name}`", arg.span,
                                    [f"`{name}` takes: " + ", ".join(fields)] if fields else [f"`{name}` takes no arguments"],
                                    help=suggest(arg.name, fields))
                bad = True
                continue
            values[arg.name] = value
            spans[arg.name] = arg.span
        if kind.variadic is not None:
            if positional and kind.variadic in values:
                self.reporter.error("argument", f"`{kind.variadic}` is given both by position and by keyword",
                                    spans[kind.variadic])
                bad = True
            if len(positional) == 1 and isinstance(positional[0][0], tuple):
                values[kind.variadic] = positional[0][0]
            elif positional:
                values[kind.variadic] = tuple(v for v, _ in positional)
            if positional:
                spans[kind.variadic] = positional[0][1]
            positional = []
        names = kind.positional
        if kind.size_first and positional and _is_size(positional[0][0]):
            # BatchNorm2d(64), LayerNorm(512): torch's own order, the size checked as given
            names = (kind.inferred, *kind.positional)
        if len(positional) > len(names):
            extra = positional[len(kind.positional)]
            taken = ", ".join(kind.positional) or "none"
            self.reporter.error("argument", f"`{name}` takes {len(kind.positional)} positional argument"
                                f"{'s' if len(kind.positional) != 1 else ''} ({taken}), received {len(positional)}",
                                extra[1], help="pass the others by keyword" if kind.positional else None)
            bad = True
        for (value, aspan), pname in zip(positional, names):
            if pname in values:
                self.reporter.error("argument", f"`{pname}` is given both by position and by keyword", aspan)
                bad = True
                continue
            values[pname] = value
            spans[pname] = aspan
        if True:
            if len(inputs) < kind.min_inputs:
                self.reporter.error("argument", f"`{name}` needs {kind.min_inputs} tensor input"
                                    f"{'s' if kind.min_inputs > 1 else ''}, received {len(inputs)}", span)
                bad = True
            elif kind.max_inputs is not None and len(inputs) > kind.max_inputs:
                self.reporter.error("argument", f"`{name}` takes {kind.max_inputs} tensor input"
                                    f"{'s' if kind.max_inputs > 1 else ''}, received {len(inputs)}", span,
                                    help="a piped value counts as the first")
                bad = True
        node = LayerNode(kind, None, inputs, state, span, self.binding,
                         alias=self._alias(st), group=tuple((g, i) for g, i, _, _ in groups))
        node.arg_refs = {k: refs[s] for k, s in spans.items() if s in refs}
        self.net.nodes.append(node)
        if bad or any(v.tensor is None for v in inputs) or any(v.tensor is None for v in state.values()):
            return self._poison(node, kind.results)
        ctx = StageCtx(self, span, name, spans, inputs)
        in_types = [v.tensor for v in inputs]
        try:
            if in_types:
                self.check_rank(kind, in_types[0], ctx, inputs[0])
            if kind.inferred and in_types:
                t = in_types[0]
                index = kind.inferred_index(t.rank)
                actual = t.shape[index]
                given = values.get(kind.inferred)
                if isinstance(given, tuple) or (given is not None and not _is_size(given)):
                    pass  # a tuple (LayerNorm's normalized_shape) the kind checks; a non-size, validation
                elif given is not None and not isinstance(given, TensorArg) and not self.same(given, actual):
                    notes = [n for n in [ctx.origin_note(t, index)] if n] + self.story(inputs[0])
                    self.reporter.error(
                        "shape", f"{name} was given {kind.inferred}={render(self.net.dim(given))}, "
                        f"but its input {self.net.show(t)} has {render(self.net.dim(actual))} in dim {index}",
                        spans.get(kind.inferred, span), notes,
                        help=f"drop `{kind.inferred}=` and let netspec infer it, or fix the input")
                    raise Fail("inferred")
                else:
                    values[kind.inferred] = actual
            key = None if state else _application_key(name, values, in_types)
            if key is not None and self._applied is None:
                # a rule reads the parameters' values (and whether equations may be assumed)
                env = (self.strict, tuple(sorted((k, _tagged(v)) for k, v in self.net.param_env.items())))
                self._applied = self.checker.applied.setdefault(env, {})
            seen = self._applied.get(key, 0) if key is not None else None
            if isinstance(seen, Applied):
                return self._reapply(node, seen, ctx, in_types)
            raised = self.reporter.raised
            try:
                a = kind.validate(values)
            except ValidationError as e:
                for field_name, msg in validation_messages(e):
                    where = spans.get(field_name, span)
                    if field_name is None:  # a rule over several arguments: a value torch refuses
                        self.reporter.error("value", f"{name}: {msg}", span)
                    elif field_name not in values:
                        msg = f"`{name}` needs `{field_name}`"
                        self.reporter.error("argument", msg, span,
                                            help=f"pass it: {name}({', '.join(kind.positional) or field_name + '=...'})")
                    else:
                        self.reporter.error("argument", f"{name}({field_name}=...): {msg}", where)
                raise Fail("args")
            except ValueError as e:
                self.reporter.error("value", f"{name}: {e}", span)
                raise Fail("args")
            node.args = a
            outs = kind.infer(ctx, a, in_types)
            node.params = kind.param_count(a)
        except Fail as f:
            node.error = str(f)
            return self._poison(node, kind.results)
        except NotConcrete as e:
            self.reporter.error("unproven", f"{name} needs a known integer where `{render(e.dim)}` stands", span,
                                help="give the size a concrete value")
            node.error = "not concrete"
            return self._poison(node, kind.results)
        except OverflowError:
            self.reporter.error("limit", f"{name}: a size is too large", span)
            return self._poison(node, kind.results)
        self._check_sizes(node, outs, span)
        if isinstance(seen, int) and self.reporter.raised == raised:
            # nothing reported: this application's result is the same wherever it stands
            seen += 1
            if TRACE_AT and seen >= TRACE_AT:
                self._applied[key] = self._trace(kind, ctx, a, in_types, node.params)
            else:
                self._applied[key] = seen
        node.outputs = [Value(t, node, i, "") for i, t in enumerate(outs)]
        results = dict(zip(kind.result_names(a), node.outputs))
        return BindingResult(node.outputs[0], results)

    # -- reusing the result of an application seen before ----------------------------------------
    def _trace(self, kind: Kind, ctx: StageCtx, a, in_types: list[Tensor], params: Dim) -> Applied | None:
        """The rule's result over inputs whose origins are placeholders: which dim of which
        input (or the layer itself) each result dim takes its origin from. None (never
        reused) when the rule does not run through the same way again."""
        traced = [Tensor(t.dtype, t.shape, tuple(_Slot(k, j) for j in range(t.rank))) for k, t in enumerate(in_types)]
        probe = StageCtx(self, ctx.span, ctx.kind_name, ctx.arg_spans, ctx.input_values, tracing=True)
        raised = self.reporter.raised
        # the parameters the result depends on, all of them (same() asked afresh)
        fixed, self.net.fixed = self.net.fixed, {}
        same, self._same = self._same, {}
        try:
            outs = kind.infer(probe, a, traced)
        except Exception:  # noqa: BLE001 - the rule went another way: keep nothing
            return None
        finally:
            fixed, self.net.fixed = self.net.fixed, fixed
            self.net.fixed.update(fixed)
            self._same = same
        if self.reporter.raised != raised:
            return None
        return Applied(a, params, tuple((t.dtype, t.shape, t.origins) for t in outs), kind.result_names(a), fixed)

    def _reapply(self, node: LayerNode, seen: Applied, ctx: StageCtx, in_types: list[Tensor]) -> BindingResult:
        node.args = seen.args
        node.params = seen.params
        self.net.fixed.update(seen.fixed)
        outs = []
        for dtype, shape, origins in seen.outputs:
            outs.append(Tensor(dtype, shape, tuple(
                in_types[o.input].origins[o.dim] if type(o) is _Slot else ctx.origin if o is _SELF else o
                for o in origins)))
        node.outputs = [Value(t, node, i, "") for i, t in enumerate(outs)]
        return BindingResult(node.outputs[0], dict(zip(seen.results, node.outputs)))

    def check_rank(self, kind: Kind, t: Tensor, ctx: StageCtx, v: Value) -> None:
        ranks = kind.ranks
        if ranks is None:
            ok = t.rank >= kind.min_rank
            want = f"at least {kind.min_rank}"
        else:
            ok = t.rank in ranks
            want = " or ".join(str(r) for r in ranks)
        if not ok:
            self.reporter.error("rank", f"{kind.name} takes a tensor with {want} dims, received {t.rank}: "
                                f"{self.net.show(t)}", ctx.span, self.story(v),
                                help=kind.rank_help or None)
            raise Fail("rank")

    def _check_sizes(self, node: LayerNode, outs: list[Tensor], span: Span) -> None:
        for t in outs:
            for d in t.shape:
                v = self.net.dim(d)
                if isinstance(v, int) and v > INT64_MAX:
                    self.reporter.error("limit", f"{node.kind_name} makes a size beyond int64: {v}", span,
                                        help=f"sizes must be at most 2**63 - 1 = {INT64_MAX}")
                    raise Fail("int64")
        params = self.net.dim(node.params)
        if isinstance(params, int) and params > 2**31:
            self.reporter.warning("memory", f"{node.kind_name} holds {params:,} parameters, past 2**31",
                                  span, help="check the sizes: a tensor this large rarely fits in memory")

    def _param_ref(self, expr) -> bool:
        """Whether an argument is a bare reference to one of the network's parameters."""
        return (isinstance(expr, A.Ref) and expr.attr is None and expr.name in self.net.params
                and expr.name not in self.values)

    def _alias(self, st: A.Stage | None) -> str | None:
        if st is not None and st.alias:
            return st.alias
        for _, _, alias, _ in reversed(self._group_stack):
            if alias:
                return alias
        return None

    def _poison(self, node: LayerNode, results) -> BindingResult:
        node.outputs = [Value(None, node, i, "") for i in range(len(results))]
        if node.error is None:
            node.error = "not inferred"
        return BindingResult(node.outputs[0], dict(zip(results, node.outputs)))

    def block_call(self, name: str, span: Span, args: list[A.Arg], piped: Value | None,
                   st: A.Stage | None, groups) -> BindingResult:
        ast = self.checker.asts[name]
        if name in self.checker._active or name == self.ast.name:
            chain = " -> ".join(self.checker._active + [self.ast.name, name])
            self.reporter.error("recursion", f"network `{name}` uses itself: {chain}", span,
                                help="networks must form a tree of uses")
            raise Fail("recursion")
        generic = self.checker.generic(name)  # reports the block's own errors once
        if generic is None:  # `name` is being checked and uses this network: a cycle, which
            raise Fail("recursion")  # the use that closes it (an instantiation) reports
        node = LayerNode(None, None, [], {}, span, self.binding, alias=self._alias(st),
                         group=tuple((g, i) for g, i, _, _ in groups))
        # arguments: piped -> first input, tensors by keyword -> other inputs, the rest params
        tensors: dict[str, Value] = {}
        params_given: dict[str, Any] = {}
        spans: dict[str, Span] = {}
        input_names = [i.name for i in ast.inputs]
        param_names = [p.name for p in ast.params]
        if piped is not None and input_names:
            tensors[input_names[0]] = piped
        pos_params = [p for p in param_names]
        pi = 0
        bad = False
        for arg in args:
            try:
                value = self.value(arg.value)
            except Fail:
                bad = True
                continue
            key = arg.name
            if key is None:
                if isinstance(value, Value):
                    free = [n for n in input_names if n not in tensors]
                    if not free:
                        self.reporter.error("argument", f"`{name}` takes no more tensor inputs", arg.span)
                        bad = True
                        continue
                    key = free[0]
                else:
                    if pi >= len(pos_params):
                        self.reporter.error("argument", f"`{name}` takes {len(pos_params)} parameters, "
                                            f"received more", arg.span)
                        bad = True
                        continue
                    key = pos_params[pi]
                    pi += 1
            if key in tensors or key in params_given:
                self.reporter.error("argument", f"`{key}` is given twice", arg.span)
                bad = True
                continue
            spans[key] = arg.span
            if self._param_ref(arg.value):
                node.arg_refs[key] = arg.value
            if key in input_names:
                if not isinstance(value, Value):
                    self.reporter.error("argument", f"input `{key}` of `{name}` needs a tensor", arg.span)
                    bad = True
                    continue
                tensors[key] = value
            elif key in param_names:
                if isinstance(value, Value):
                    self.reporter.error("argument", f"parameter `{key}` of `{name}` takes a value, not a tensor",
                                        arg.span)
                    bad = True
                    continue
                params_given[key] = value
            else:
                self.reporter.error("argument", f"`{name}` has no parameter or input `{key}`", arg.span,
                                    help=suggest(key, input_names + param_names))
                bad = True
        missing = [n for n in input_names if n not in tensors]
        if missing:
            self.reporter.error("argument", f"`{name}` needs its input{'s' if len(missing) > 1 else ''} "
                                + ", ".join(f"`{m}`" for m in missing), span,
                                help=f"pass them by keyword: {name}({missing[0]}=...)")
            bad = True
        self.net.nodes.append(node)  # after the chains among its arguments: in the order they run
        node.inputs = [tensors[n] for n in input_names if n in tensors]
        out_names = [r.text for o in ast.outputs for r in o.refs] or ["output"]
        if bad or any(v.tensor is None for v in node.inputs) or generic is None:
            node.block = generic
            return self._poison(node, out_names)
        sub = self.instantiate(ast, params_given, [tensors[n].tensor for n in input_names], span, node)
        if sub is None or not sub.ok:
            node.block = generic
            node.error = "the block does not check at this use"
            return self._poison(node, out_names)
        node.block = sub
        node.params = sum((n.params for n in sub.nodes), 0)
        outs = []
        for i, (oname, v) in enumerate(sub.outputs):
            t = v.tensor
            outs.append(Value(Tensor(t.dtype, t.shape, (Origin(name, span),) * t.rank), node, i, ""))
        node.outputs = outs
        results = dict(zip(out_names, outs))
        if outs:
            results.setdefault("output", outs[0])
        return BindingResult(outs[0], results)

    def instantiate(self, ast: A.Network, params_given: dict, inputs: list[Tensor], span: Span,
                    node: LayerNode) -> TypedNetwork | None:
        checker = self.checker
        inner = Reporter()
        params: dict[str, Any] = {}
        for p in ast.params:
            if p.name in params_given:
                params[p.name] = params_given[p.name]
            elif p.default is not None:
                value = literal(p.default, params, inner)
                params[p.name] = value if not isinstance(value, int) or isinstance(value, bool) else value
            else:
                self.reporter.error("param", f"`{ast.name}` needs its parameter `{p.name}`", span,
                                    help=f"pass it: {ast.name}({p.name}=...)")
                return None
        node.block_args = dict(params)
        nc = NetworkChecker(checker, ast, params, self.net.param_env, {}, inner, strict=self.strict)
        checker._active.append(self.ast.name)
        try:
            for inp, t in zip(ast.inputs, inputs):
                nc.unify_input(inp, t, span)
            nc.run_body()
        except Fail:
            pass  # an input that does not fit the block's declaration: reported below
        finally:
            checker._active.pop()
        node.block_symbols = dict(nc.symbol_env)
        nc.net.ok = not inner.errors
        self.net.fixed.update(nc.net.fixed)  # the caller's parameters the use depends on
        generic = checker.generic_results.get(ast.name)
        own = set()
        if generic is not None:
            own = {(d.code, d.span) for d in self.reporter.items}
        for d in inner.items:
            if d.code == "unused":
                continue
            if (d.code, d.span) in own:
                continue  # the block's own error, already reported at its line
            inner_use = _USE_FAILS.match(d.message)  # from a block this block uses: one line a level
            core = inner_use.group(2) if inner_use else d.message
            where = f"in `{ast.name}` at {d.span.where()}"
            notes = [f"{where}, which uses `{inner_use.group(1)}`" if inner_use else f"{where}: {core}"] + d.notes
            self.reporter.add(Diagnostic(d.severity, d.code, f"`{ast.name}` does not check with these inputs: {core}",
                                         span, notes, d.help))
        return nc.net

    def unify_input(self, inp: A.Input, t: Tensor, span: Span) -> None:
        declared = self.dtype_of(inp.type)
        if declared is not None and declared != t.dtype:
            self.reporter.error("dtype", f"input `{inp.name}` of `{self.ast.name}` is {declared}, received {t.dtype}",
                                inp.type.span)  # the caller reports it at the use, noting this line
        if len(inp.type.dims) != t.rank:
            self.reporter.error("rank", f"input `{inp.name}` of `{self.ast.name}` has {len(inp.type.dims)} dims "
                                f"[{', '.join(_text(d) for d in inp.type.dims)}], received {t.rank}: {self.net.show(t)}",
                                inp.type.span)
            raise Fail("rank")
        for i, dexpr in enumerate(inp.type.dims):
            if isinstance(dexpr, A.Ref) and dexpr.attr is None and dexpr.name not in self.net.params \
                    and dexpr.name not in self.symbol_env:
                self.symbol_env[dexpr.name] = t.shape[i]
                continue
            want = self.dim_expr(dexpr)
            if not self.same(want, t.shape[i]):
                self.reporter.error("shape", f"input `{inp.name}` needs dim {i} = {render(self.net.dim(want))}, "
                                    f"received {render(self.net.dim(t.shape[i]))}", inp.type.span)
        v = Value(Tensor(t.dtype, t.shape, t.origins), None, 0, inp.name)
        self.net.inputs.append(v)
        self.values[inp.name] = BindingResult(v, {"output": v})
        self.value_spans[inp.name] = inp.span

    # -- argument values and dim expressions -----------------------------------------------------
    def value(self, expr) -> Any:
        """An argument's value: a Python literal, a dim, a tuple, or a tensor Value."""
        if isinstance(expr, A.Int):
            return expr.value
        if isinstance(expr, A.Float):
            return expr.value
        if isinstance(expr, A.Str):
            return expr.value
        if isinstance(expr, A.Bool):
            return expr.value
        if isinstance(expr, A.Tuple):
            return tuple(self.value(e) for e in expr.items)
        if isinstance(expr, A.Ref):
            if expr.attr is None and expr.name not in self.values:
                if expr.name in self.net.params:
                    return self.net.params[expr.name]
                if expr.name in self.symbol_env:
                    return self.symbol_env[expr.name]
            v = self.lookup(expr)
            if v is None:
                raise Fail(expr.name)
            return v
        if isinstance(expr, (A.Chain, A.Call)):
            res = self.source(expr) if isinstance(expr, A.Call) else self.chain(expr)
            return res.primary
        if isinstance(expr, (A.BinOp, A.Neg)):
            return self.dim_expr(expr)
        raise Fail("value")

    def dim_expr(self, expr, declare: bool = False) -> Dim:
        """Integer arithmetic over params and symbols; ``declare`` creates input symbols."""
        if isinstance(expr, A.Int):
            return expr.value
        if isinstance(expr, A.Ref) and expr.attr is None:
            if expr.name in self.net.params:
                v = self.net.params[expr.name]
                if isinstance(v, (int, Expr)) and not isinstance(v, bool):
                    return v
                self.reporter.error("param", f"parameter `{expr.name}` is {_kind_of(v)}, not an integer",
                                    expr.span)
                raise Fail(expr.name)
            if expr.name in self.symbol_env:
                return self.symbol_env[expr.name]
            if declare:
                check_name(self.reporter, expr.name, expr.span, "a symbolic dim")
                self.symbol_env[expr.name] = sym(expr.name)
                self.net.input_symbols.setdefault(expr.name, (len(self.net.inputs), -1))
                return self.symbol_env[expr.name]
            known = list(self.net.params) + list(self.symbol_env)
            self.reporter.error("unknown-name", f"no parameter or symbolic dim named `{expr.name}`", expr.span,
                                help=suggest(expr.name, known) or "symbols come from the inputs' shapes")
            raise Fail(expr.name)
        if isinstance(expr, A.Neg):
            return -self.dim_expr(expr.operand, declare)
        if isinstance(expr, A.BinOp):
            left = self.dim_expr(expr.left, declare)
            right = self.dim_expr(expr.right, declare)
            if expr.op in ("+", "-", "*"):
                result = left + right if expr.op == "+" else left - right if expr.op == "-" else left * right
                if _oversized(self.net.dim(result)):
                    # far past int64; Python could not even print it past 4,300 digits
                    self.reporter.error("limit", f"`{_text(expr)}` is larger than 10**{MAX_DIGITS}", expr.span,
                                        help=f"sizes must be at most 2**63 - 1 = {INT64_MAX}")
                    raise Fail("size")
                return result
            divisor = self.net.dim(right)
            if not isinstance(divisor, int):
                self.reporter.error("unproven", f"`{_text(expr.right)}` must be a known integer to divide by",
                                    expr.right.span)
                raise Fail("div")
            if divisor <= 0:
                self.reporter.error("value", f"division by {divisor}", expr.right.span)
                raise Fail("div")
            self.concrete(right, "a divisor", expr.right.span)
            if expr.op == "//":
                return floordiv(left, divisor)
            left_v = self.known(left)
            if isinstance(left_v, int):
                return left_v % divisor
            return left - floordiv(left, divisor) * divisor
        self.reporter.error("argument", f"expected an integer size, received {_text(expr)}", expr.span)
        raise Fail("dim")

    # -- assertions ------------------------------------------------------------------------------
    def assert_type(self, v: Value, tt: A.TensorType, what: str) -> None:
        if v.tensor is None:
            return
        t = v.tensor
        dtype = self.dtype_of(tt)
        if dtype is not None and dtype != t.dtype:
            self.reporter.error("assert", f"{what} is {t.dtype}, not {dtype}", tt.span,
                                self.story(v), help=f"write `: {t.dtype}[...]`, or convert the value")
        try:
            want = [self.dim_expr(d) for d in tt.dims]
        except Fail:
            return
        if len(want) != t.rank:
            self.reporter.error("assert", f"{what} has {t.rank} dims {self.net.show(t)}, "
                                f"the assertion has {len(want)}", tt.span, self.story(v),
                                help=f"write `: {self.net.show(t)}`")
            return
        for i, (w, d) in enumerate(zip(want, t.shape)):
            verdict = compare(self.net.dim(w), self.net.dim(d))
            if verdict is True or (verdict is None and not self.strict):
                continue
            notes = []
            o = t.origins[i]
            if o is not None:
                notes.append(f"dim {i} is {render(self.net.dim(d))}, set by {o}")
            notes.extend(self.story(v))
            reason = "is not" if verdict is False else "cannot be proven equal to"
            self.reporter.error("assert", f"dim {i} of {what} is {render(self.net.dim(d))}, which {reason} "
                                f"{render(self.net.dim(w))}", tt.dims[i].span, notes,
                                help=f"the inferred shape is {self.net.show(t)}")

    def story(self, v: Value) -> list[str]:
        """Where a value came from, for notes: its source and the stage that made it."""
        notes = []
        node = v.node
        if node is None:
            span = self.value_spans.get(v.name)
            where = f" (line {span.line})" if span else ""
            notes.append(f"{v.name} is {v.tensor.dtype}{self.net.show(v.tensor)}{where}")
            return notes
        # walk back to the source through layers that keep the layout (remembered, so that
        # many errors along one long chain do not each walk all of it)
        src = node
        walked = []
        while src.inputs and src.inputs[0].node is not None:
            if src in self._sources:
                src = self._sources[src]
                break
            walked.append(src)
            src = src.inputs[0].node
        for n in walked:
            self._sources[n] = src
        first = src.inputs[0] if src.inputs else None
        if first is not None and first.tensor is not None:
            span = self.value_spans.get(first.name)
            where = f" (line {span.line})" if span else ""
            notes.append(f"{first.name} is {first.tensor.dtype}{self.net.show(first.tensor)}{where}")
        if v.tensor is not None:
            notes.append(f"{node.kind_name} (line {node.span.line}) makes it "
                         f"{v.tensor.dtype}{self.net.show(v.tensor)}")
        return notes


def _oversized(d: Dim) -> bool:
    """An integer (or a coefficient of a symbolic dim) beyond 10**MAX_DIGITS."""
    if isinstance(d, Expr):
        return any(abs(c) > MAX_MAGNITUDE for c in d.terms.values())
    return isinstance(d, int) and abs(d) > MAX_MAGNITUDE


_USE_FAILS = re.compile(r"`(\w+)` does not check with these inputs: (.*)", re.DOTALL)


def _used_names(ast: A.Network, known: dict[int, set[str]]) -> set[str]:
    """The names the network's outputs depend on, read from its text (``known``: the names
    in each binding's chain, by the binding's id, where already read)."""
    deps: dict[str, set[str]] = {}
    for b in ast.bindings:
        names = known.get(id(b))
        deps.setdefault(b.name, set()).update(names if names is not None else _names_in(b.chain))
    used: set[str] = set()
    stack = [r.name for o in ast.outputs for r in o.refs]
    while stack:
        name = stack.pop()
        if name not in used:
            used.add(name)
            stack.extend(deps.get(name, ()))
    return used


def _names_in(node) -> set[str]:
    """Every name a part of the AST refers to (values, parameters and symbols alike)."""
    return {n.name for n in A.walk(node) if isinstance(n, A.Ref)}


def _is_size(v) -> bool:
    """An int, a symbolic dim or a tuple of them: what a size argument looks like."""
    if isinstance(v, tuple):
        return bool(v) and all(_is_size(x) for x in v)
    return isinstance(v, Expr) or (isinstance(v, int) and not isinstance(v, bool))


def _text(expr) -> str:
    if isinstance(expr, (A.Int, A.Float)):
        return str(expr.value)
    if isinstance(expr, A.Ref):
        return expr.text
    if isinstance(expr, A.Neg):
        return f"-{_text(expr.operand)}"
    if isinstance(expr, A.BinOp):
        return f"{_text(expr.left)} {expr.op} {_text(expr.right)}"
    return "..."


def _kind_of(v) -> str:
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, float):
        return "a float"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, tuple):
        return "a tuple"
    return type(v).__name__


def literal(expr, params: dict, reporter: Reporter):
    """A parameter default or a --set value: a constant, possibly using earlier params."""
    if isinstance(expr, (A.Int, A.Float, A.Str, A.Bool)):
        return expr.value
    if isinstance(expr, A.Tuple):
        return tuple(literal(e, params, reporter) for e in expr.items)
    if isinstance(expr, A.Neg):
        v = literal(expr.operand, params, reporter)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return -v
    reporter.error("param", "a parameter default must be a number, boolean, string or tuple", expr.span)
    return None


def check_text(text: str, file: str, overrides: dict[str, Any] | None = None,
               reporter: Reporter | None = None) -> CheckResult:
    # Parsing and checking make many objects and few reference cycles: the cyclic
    # collector's passes over them cost a third of a large check, for nothing. Paused
    # here, and left as it was after.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _check_text(text, file, overrides, reporter or Reporter())
    finally:
        if collecting:
            gc.enable()


def _check_text(text: str, file: str, overrides: dict[str, Any] | None, reporter: Reporter) -> CheckResult:
    module = A.parse(text, file, reporter)
    if module is None:
        return CheckResult(None, [], reporter)
    for line, code in module.allowed:
        reporter.allow(file, line, code)
    checker = Checker(module, reporter, overrides)
    try:
        networks = checker.check()
    except RecursionError:
        reporter.error("limit", "the spec nests too deeply to check", Span(file, 1, 1, 1, 2))
        networks = []
    reporter.items.sort(key=lambda d: (d.span.line, d.span.column))
    return CheckResult(module, networks, reporter)
