"""The checker: the AST of a spec -> the typed graph, in one pass per network.

Every network is walked once in statement order. Each stage becomes a :class:`Node` whose
results are :class:`Value`s with an inferred :class:`~netspec.types.Tensor`: the stage's
arguments are bound (netspec.binder), its kind's shape rule runs (``kind.infer``, through
netspec.context), and a result seen before is reused (netspec.memo). Integer parameters
stay symbols in the shapes; ``TypedNetwork.dim`` gives them their values for what users read.

A network used as a stage is checked once on its own, generically and leniently (an
equation over its symbols that cannot be decided is assumed), and instantiated again at
each use with its input symbols unified against the caller's sizes, where everything is
checked.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from operator import is_
from typing import Any, NoReturn

from . import ast as A
from . import codes, declared, instances, limits, memo, operators, scan, sharing
from .ast import ATOM, OPERATOR_LEVEL, POSTFIX, UNARY
from .binder import Bound, KindSignature, NetworkSignature, bind, bind_plain
from .context import StageCtx
from .diagnostics import Diagnostic, Reporter, Span, suggest
from .dims import (
    Dim,
    Expr,
    NotConcrete,
    TooLarge,
    beyond_int64,
    compare,
    dividing,
    floordiv,
    is_dim,
    less_equal,
    lone_atom,
    numel_beyond_int64,
    render,
    rounding_help,
    show_size,
    sign,
    sym,
    symbol_set,
    symbols,
    total,
)
from .graph import (
    BROADCASTS,
    DIVIDES,
    EQUAL,
    EQUAL_OR_ONE,
    LESS_EQUAL,
    CheckResult,
    Node,
    ParamUse,
    TypedNetwork,
    Value,
)
from .inplace import (
    block_writes_into_saved,
    block_writes_into_view,
    refuse_block_write,
    refuse_block_write_saved,
    refuse_write_into_saved,
    refuse_write_into_view,
)
from .instances import Instances
from .kinds import REGISTRY, Fail, Kind, ValidationError, validation_messages
from .kinds.base import takes
from .limits import INT64_MAX, MAX_DIGITS, MAX_MAGNITUDE, MAX_REPEAT, MAX_SYMBOLS, MAX_USE_DEPTH, MAX_USES
from .parser import literal, parse
from .pycode import MAYBE_REFUSED, check_module_name, check_modules, check_name, mark_in_place
from .resume import Resume, Tracker
from .types import DTYPES, INT_DTYPES, Origin, Tensor
from .uses import UseCounter


def check_text(text: str, file: str, overrides: dict[str, Any] | None = None,
               reporter: Reporter | None = None, *, parser=None, memo: dict | None = None,
               resume: Resume | None = None, prove_uses: bool = True,
               instances: Instances | None = None) -> CheckResult:
    """Parse and check the text of a spec; ``overrides`` give parameters values (``--set``).
    ``parser`` stands in for netspec.parser.parse (the language server's, which reparses
    only the networks whose text changed); ``memo`` is the reuse memo of an earlier check of
    the same document with the same overrides (netspec.memo.keep_for_next_check);
    ``resume`` the state of its networks' checks kept from that check (netspec.resume);
    ``instances`` the checks of its networks at their uses kept from it (netspec.instances);
    ``prove_uses`` runs build's proof that each network's class serves its uses (the
    language server leaves it to `netspec check` and `build`: it costs as much as the check
    of a file of many uses)."""
    # Parsing and checking make many objects and few reference cycles: the cyclic
    # collector's passes over them cost a third of a large check, for nothing. Paused
    # here, and left as it was after.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _check_text(text, file, overrides, reporter or Reporter(), parser or parse, memo, resume, prove_uses,
                           instances)
    finally:
        if collecting:
            gc.enable()


def _check_text(text: str, file: str, overrides: dict[str, Any] | None, reporter: Reporter,
                parser=parse, memo: dict | None = None, resume: Resume | None = None,
                prove_uses: bool = True, instances: Instances | None = None) -> CheckResult:
    module = parser(text, file, reporter)
    if module is None:
        return CheckResult(None, [], reporter)
    for line, code in module.allowed:
        reporter.allow(file, line, code)
    checker = Checker(module, reporter, overrides, memo)
    checker.resume = resume
    if instances is not None:
        checker.instances = instances
        instances.start(checker)
    try:
        networks = checker.check()
    except RecursionError:
        reporter.error(codes.LIMIT, "the spec nests too deeply to check", Span(file, 1, 1, 1, 2))
        networks = []
    result = CheckResult(module, networks, reporter)
    if prove_uses:
        prove_uses_served(result, file)
    reporter.finish()
    return result


def prove_uses_served(result: CheckResult, file: str) -> bool:
    """Build's proof that each network's class serves its uses, run where a check without it
    accepted a spec whose networks are used with other arguments than they are checked with
    (``check_text(..., prove_uses=False)``, as the language server first publishes); its
    `build` errors join the result's diagnostics in check's order. Whether any did."""
    if not (result.ok and _uses_differ(result.networks)):
        return False
    before = len(result.reporter.items)
    _refuse_what_build_refuses(result, file)
    result.reporter.finish()
    return len(result.reporter.items) > before


def _uses_differ(networks: list[TypedNetwork]) -> bool:
    """Whether a network is used as a stage with arguments other than the ones it is
    checked with, so that its one class must be proven to serve the use."""
    by_name = {n.name: n for n in networks}
    return any(node.block is not None and by_name.get(node.block.name) not in (None, node.block)
               for net in networks for node in net.nodes)


def _refuse_what_build_refuses(result: CheckResult, file: str) -> None:
    """One verdict: a use that one class cannot serve (a `build` error) is an error of
    check too, found by the same proof build makes, so check never accepts what build
    refuses."""
    from .build import generate  # torch-free; only where a network's uses differ

    for d in generate(result, file).diagnostics:
        if d.code == codes.BUILD:
            result.reporter.add(d)


_LOADED_KINDS = REGISTRY.loaded
_new_tuple = tuple.__new__  # a named tuple made from its fields, as its class called with them does
_SCAN_NAME = scan.SCAN.name

# names an argument may use that no value, parameter or symbol defines: `None`, and a dtype
# (`to(float16)`, read as its canonical name, as `to("float16")`)
CONSTANTS: dict[str, Any] = {"None": None, **DTYPES}


class Results:
    """What a name in a network stands for: its primary value (what a pipe carries on) and
    every named result (`output`, `h_n`, `c_n`, a network's outputs)."""

    __slots__ = ("primary", "named")

    def __init__(self, primary: Value, named: dict[str, Value]):
        self.primary = primary
        self.named = named


# -- the whole file ------------------------------------------------------------------------------

class Checker:
    """Checks one parsed module: every network, with blocks instantiated at each use."""

    def __init__(self, module: A.Module, reporter: Reporter, overrides: dict[str, Any] | None = None,
                 memo: dict | None = None):
        self.module = module
        self.reporter = reporter
        self.overrides = overrides or {}
        self.asts: dict[str, A.Network] = {}
        self.layer_count = 0
        self._define_networks(module)
        self.binding_names: dict[int, set[str]] = {}  # id(binding AST) -> names its chain uses
        self.binding_refs: dict[int, list[A.Ref]] = {}  # id(binding AST) -> the references in its chain
        self.used_as_stage = self._find_uses()
        self.generic_results: dict[str, TypedNetwork | None] = {}
        self.active: list[str] = []  # the networks being checked, outermost first
        self._fewest: dict[str, int] = {}
        # applications seen, shared by the networks checked under the same parameter values
        # (every use of a network instantiates it again): see NetworkChecker.apply
        # (a rule reads which names are parameters: the memo kept between checks is keyed by them)
        params = frozenset(p.name for net in module.networks for p in net.params)
        self.applied: dict[tuple, dict] = {} if memo is None else memo.setdefault(params, {})
        # id(network AST) -> the names its outputs use, and its bindings' other names (_used_names)
        self.used_names: dict[int, tuple[set[str], list]] = {}
        self.too_deep = self._uses_nested_too_deep()
        self.uses, self.use_count = UseCounter(self.asts), 0  # uses of networks, bounded by MAX_USES
        if not self.too_deep:
            self.too_deep = self._too_many_uses()
        # the symbols that are sizes, at least 1: every name but the networks' parameters
        self.sizes = _Sizes({p.name for net in module.networks for p in net.params})
        self.resume: Resume | None = None  # the language server's: see netspec.resume
        self.instances = Instances()  # uses checked, by signature (netspec.instances)
        self.instances.start(self)

    def _define_networks(self, module: A.Module) -> None:
        for net in module.networks:
            if net.name in self.asts:
                self.reporter.error(codes.DUPLICATE, f"network `{net.name}` is defined twice", net.name_span,
                                    [f"first defined at line {self.asts[net.name].span.line}"],
                                    help="rename one of them")
                continue
            if net.name in REGISTRY:
                self.reporter.error(codes.DUPLICATE,
                                    f"network `{net.name}` has the name of a built-in {REGISTRY[net.name].what}",
                                    net.name_span, help="rename the network")
                continue
            self.asts[net.name] = net
        for net in module.networks:
            check_name(self.reporter, net.name, net.name_span, "a network")

    def _find_uses(self) -> set[str]:
        """Networks that some chain uses as a stage. The same pass over the text keeps the
        names each binding's chain refers to, for the unused-binding warning."""
        objs = tuple(st for net in self.asts.values() for st in (*net.bindings, *net.shared))
        got = _KEPT_USES.get("", objs, tuple(self.asts))  # the same statements of the same networks
        if got is None:
            got = _KEPT_USES.put("", objs, tuple(self.asts), self._read_uses())
        uses, self.binding_names, self.binding_refs = got
        self._statements = objs
        return uses

    def _read_uses(self) -> tuple[set[str], dict[int, set[str]], dict[int, list[A.Ref]]]:
        uses, names, refs = set(), {}, {}
        for net in self.asts.values():
            for b in net.bindings:
                found = b.references()
                uses.update(name for name in found.stages if name in self.asts)
                names[id(b)] = found.names
                refs[id(b)] = found.refs
            uses.update(d.layer.name for d in net.shared if d.layer.name in self.asts)
        return uses, names, refs

    def _uses_nested_too_deep(self) -> set[str]:
        """Networks whose uses nest more than MAX_USE_DEPTH deep (a network using a network
        using ...), found from the text without recursion. One error is reported for each
        network one level past the limit, at its use of a network at the limit; those above
        them are not checked (they could only fail alike)."""
        if len(self.asts) < 2:
            return set()
        # read from the networks' statements alone: kept for the same ones, in the same networks
        got = _KEPT_NESTING.get("", self._statements, self._networks_key())
        if got is None:
            got = _KEPT_NESTING.put("", self._statements, self._networks_key(), self._read_nesting())
        uses, depth = got
        for name, d in depth.items():
            if d == MAX_USE_DEPTH + 1:
                used, span = next((u, sp) for u, sp in uses[name].items() if depth.get(u) == MAX_USE_DEPTH)
                self.reporter.error(codes.LIMIT, f"networks are used inside one another more than {MAX_USE_DEPTH} deep",
                                    span, [f"`{used}` already nests uses {MAX_USE_DEPTH} deep"],
                                    help=f"netspec checks uses of networks nested at most {MAX_USE_DEPTH} deep; "
                                         "flatten some of them into one network")
        return {name for name, d in depth.items() if d > MAX_USE_DEPTH}

    def _read_nesting(self) -> tuple[dict[str, dict[str, Span]], dict[str, int]]:
        """Each network's uses of networks (the first place of each), and how deep they nest."""
        uses: dict[str, dict[str, Span]] = {}
        for name, ast in self.asts.items():
            found: dict[str, Span] = {}
            for node in A.walk([b.chain for b in ast.bindings]):
                if isinstance(node, (A.Call, A.StageCall)) and node.name in self.asts:
                    found.setdefault(node.name, node.span)
            uses[name] = found
        return uses, _use_depths(uses)

    def _networks_key(self) -> tuple:
        """What a pass over the statements (``_statements``) reads besides them: the networks'
        names, and how many of the statements each has."""
        return tuple((name, len(net.bindings), len(net.shared)) for name, net in self.asts.items())

    def _too_many_uses(self) -> set[str]:
        """The networks not checked because the uses of networks the file expands to pass
        MAX_USES (netspec.uses): the error is reported at the stage that passes it."""
        # it reads the networks' statements alone: kept for the same ones, in the same networks
        got = _KEPT_PAST.get("", self._statements, self._networks_key())
        if got is None:
            got = _KEPT_PAST.put("", self._statements, self._networks_key(), (self.uses.past_limit(),))
        past = got[0]
        if past is None:
            return set()
        self.reporter.error(codes.LIMIT, f"the spec uses networks more than {MAX_USES:,} times", past[0],
                            help=f"netspec checks at most {MAX_USES:,} uses of networks in a file, uses inside "
                                 "uses and repetitions counted; use fewer, or flatten some networks")
        self.use_count = MAX_USES + 1  # reported: each later use fails alike, silently
        return set(past[1])

    # -- the layer limit, counted before checking ----------------------------------------------
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
                if total > limits.MAX_LAYERS:
                    break
            self._fewest[name] = total
        return self._fewest[name]

    def _fewest_in_stages(self, stages: list[A.Stage]) -> int:
        total = 0
        for st in stages:
            times = st.repeat.value if isinstance(st.repeat, A.Int) and st.repeat.value > 0 else 1
            total += times * self.fewest_layers(st.core)
            if total > limits.MAX_LAYERS:
                break
        return total

    # -- checking --------------------------------------------------------------------------------
    def check(self) -> list[TypedNetwork]:
        out = []
        for name, ast in self.asts.items():
            if name in self.too_deep:
                continue
            net = self.generic(name) if name in self.used_as_stage else self.run_root(ast)
            if net is not None:
                out.append(net)
        return out

    def param_values(self, ast: A.Network, reporter: Reporter) -> tuple[dict, dict, dict]:
        """(values used in the body: ints as symbols, the ints' values, the defaults)."""
        params: dict[str, Any] = {}
        env: dict[str, Dim] = {}
        defaults: dict[str, Any] = {}
        seen: set[str] = set()
        for p in ast.params:
            if p.name in seen:
                reporter.error(codes.DUPLICATE, f"parameter `{p.name}` is declared twice", p.span,
                               help=f"remove one `{p.name}`, or rename it")
                continue
            seen.add(p.name)
            check_name(reporter, p.name, p.span, "a parameter")
            value = None
            if p.default is not None:
                value = literal(p.default, reporter)
                defaults[p.name] = value
            if p.name in self.overrides:
                value = self.overrides[p.name]
            if is_dim(value):
                params[p.name] = sym(p.name)
                env[p.name] = value
            elif value is None:
                params[p.name] = sym(p.name)  # free: checked generically
            else:
                params[p.name] = value
        return params, env, defaults

    def run_root(self, ast: A.Network) -> TypedNetwork:
        params, env, defaults = self.param_values(ast, self.reporter)
        generic = any(p.name not in env and isinstance(params.get(p.name), Expr) for p in ast.params)
        nc = NetworkChecker(self, ast, params, env, defaults, self.reporter, strict=not generic)
        nc.records = generic  # no caller checks it again: what it assumes, its class tests
        if self.resume is not None:
            nc.tracker = self.resume.track(self, nc)
        return nc.run_standalone()

    def generic(self, name: str) -> TypedNetwork | None:
        """A network used as a stage, checked once on its own over free symbols; None while
        it is being checked (a use of it then closes a cycle)."""
        if name in self.generic_results:
            return self.generic_results[name]
        ast = self.asts[name]
        params, env, defaults = self.param_values(ast, self.reporter)
        nc = NetworkChecker(self, ast, params, env, defaults, self.reporter, strict=False)
        if self.resume is not None:
            nc.tracker = self.resume.track(self, nc, generic=True)
        self.generic_results[name] = None  # guards recursion
        net = nc.run_standalone()
        net.generic = True
        self.generic_results[name] = net
        return net


class _Sizes:
    """The symbols that are sizes (at least 1): input symbols, not parameters, which may
    stand for any integer where a network is checked generically."""

    __slots__ = ("params",)

    def __init__(self, params: set[str]):
        self.params = params

    def __contains__(self, name: object) -> bool:
        return name not in self.params


class _Positive:
    """The sizes, and the integer parameters whose values are at least 1."""

    __slots__ = ("sizes", "env")

    def __init__(self, sizes: _Sizes, env: dict):
        self.sizes = sizes
        self.env = env

    def __contains__(self, name: object) -> bool:
        if name in self.sizes:
            return True
        v = self.env.get(name)
        return isinstance(v, int) and not isinstance(v, bool) and v >= 1


def _use_depths(uses: dict[str, dict[str, Span]]) -> dict[str, int]:
    """How deep each network's uses of networks nest (0: it uses none), without recursion;
    a cycle (an error of its own) is not followed."""
    depth: dict[str, int] = {}
    for root in uses:
        stack = [(root, iter(uses[root]))]
        on_path = {root}
        while stack:
            name, pending = stack[-1]
            child = next(pending, None)
            if child is None:
                stack.pop()
                on_path.discard(name)
                depth[name] = 1 + max((depth.get(u, 0) for u in uses[name] if u in depth), default=-1)
            elif child not in depth and child not in on_path:
                stack.append((child, iter(uses[child])))
                on_path.add(child)
    return depth


# -- one network -----------------------------------------------------------------------------

class NetworkChecker:
    """Checks the statements of one network: standalone, or instantiated at a use."""

    def __init__(self, checker: Checker, ast: A.Network, params: dict, param_env: dict,
                 defaults: dict, reporter: Reporter, strict: bool):
        self.checker = checker
        self.ast = ast
        self.reporter = reporter
        self.strict = strict
        self.net = TypedNetwork(ast.name, ast.span, params, param_env, defaults,
                                param_names=[p.name for p in ast.params],
                                param_refs=_param_refs(ast, params, checker.binding_refs))
        self.values: dict[str, Results] = {}
        self.shared: dict[str, A.SharedDecl] = {}  # shared modules by name
        self.shared_first: dict[str, Node] = {}  # the first use of each
        self.value_spans: dict[str, Span] = {}
        self.symbol_env: dict[str, Dim] = {}  # names of symbols -> dims (instantiation)
        self.symbols_refused = False  # past MAX_SYMBOLS: reported
        self.unknown_sizes: tuple[str, ...] = ()  # the stand-ins of its refused input dims (_refused_dim)
        self.binding: str | None = None
        self._group_counter = 0
        self._group_stack: list = []
        self._sources: dict = {}  # node -> the first node of the chain of layers that led to it
        self._applied: dict | None = None  # application key -> times seen, Applied or None
        self._same: dict[tuple, bool] = {}  # (a, b) -> what same(a, b) said
        self.here = ast.span  # the statement or stage being checked
        # the symbols a layout rule may take to be at least 1: sizes, and the parameters whose
        # values are (its decisions hold for every such value: none pins a parameter)
        self.positive = _Positive(checker.sizes, param_env)
        self.decider = None  # the Decide of this network's layout rules (StageCtx.decide)
        self.tracker: Tracker | None = None  # resumes the check after unchanged bindings (netspec.resume)
        # a network with free parameters that no caller checks again (a root, or a use in
        # one): an undecided fact over its parameters alone is required of them (the class
        # tests it, TypedNetwork.requires); one over its input symbols is not assumed
        self.records = False
        self.traced_facts: list | None = None  # while a rule is traced: its block facts (block_fact)
        self.validated_facts: list | None = None  # while arguments are validated: the facts required
        self._fact_list: list | None = None  # the requirements _fact_set holds (add_fact)
        self._fact_set: set = set()
        self.param_syms = {p for p, v in params.items() if isinstance(v, Expr)}

    # -- comparisons and concreteness ------------------------------------------------------------
    def compare(self, a: Dim, b: Dim) -> bool | None:
        """True when a == b for every value of the symbols (the parameters at their values),
        False when never, None when it depends on the values."""
        return compare(self.net.dim(a), self.net.dim(b), self.checker.sizes)

    def same(self, a: Dim, b: Dim, what: str = "the check", span: Span | None = None, notes=()) -> bool:
        """Whether a == b, proven or assumed (``notes``, or a function that gives them: where
        the two sizes came from, for an `unproven` warning that it is assumed)."""
        known = self._same.get((a, b))
        if known is not None:  # asked before in this network: its parameters already fixed
            return known
        verdict = self.compare(a, b)
        if verdict is None:
            verdict = self.assumes(a, b, EQUAL, what, span, notes)
        elif verdict and compare(a, b) is not True:
            self.fix(a, b)  # equal only for the parameters' values
        self._same[(a, b)] = verdict
        return verdict

    def fix(self, *dims: Dim, span: Span | None = None) -> None:
        """Record that the result depends on the values of the parameters in ``dims``, and
        where it was first needed (``span``, else the stage being checked)."""
        for d in dims:
            for s in symbols(d):
                if s in self.net.param_env:
                    self.net.fixed[s] = self.net.param_env[s]
                    self.net.pins.setdefault(s, span or self.here)

    def assumes(self, a: Dim, b: Dim, how, what: str, span: Span | None, notes=()) -> bool:
        """Whether an undecided fact (``a <= b``, ``b`` divides ``a``, ``a == b``, ``a`` is
        ``b`` or 1: graph.LESS_EQUAL ...) is assumed: in a block checked generically, always
        (each use checks it); where no caller checks it (``records``), required of the
        parameters when it is over them alone (the class tests it), else an `unproven`
        warning (with ``notes``, or what a function given there returns: where the sizes
        came from); never in a strict check."""
        if not self.records:
            if not self.strict:
                self.block_fact(a, b, how, what, span or self.here)
            return not self.strict
        if self.over_params(a, b):
            self.require(a, b, how, what, span or self.here)
            return True
        self.reporter.warning(codes.UNPROVEN, f"{what} assumes that {_fact_words(self.net, a, b, how)}, which "
                              "cannot be proven for every value of the symbols", span or self.here,
                              notes() if callable(notes) else notes, help="check that it holds; `# netspec: allow[unproven]` on the line accepts it")
        return True

    def block_fact(self, a: Dim, b: Dim, how, what: str, span: Span) -> None:
        """In a network checked generically (each use checks it with its values), an
        undecided fact it assumed: its class, which a user may also construct directly,
        tests it where its constructor is given every size in it (build)."""
        if self.traced_facts is not None:  # tracing (memo): kept for each reuse, which records it
            self.traced_facts.append((a, b, how, what))
            return
        self.add_fact((a, b, how, what, span.line))

    def add_fact(self, fact: tuple) -> None:
        """``fact`` appended to the network's requirements unless there: a set beside the list
        keeps a long chain of stages that require the same fact from scanning it each time."""
        reqs = self.net.requires
        if self._fact_list is not reqs or len(self._fact_set) != len(reqs):
            self._fact_list, self._fact_set = reqs, set(reqs)
        if fact not in self._fact_set:
            reqs.append(fact)
            self._fact_set.add(fact)

    def over_params(self, *dims: Dim) -> bool:
        return all(symbols(d) <= self.param_syms for d in dims)

    def require(self, a: Dim, b: Dim, how, what: str, span: Span) -> None:
        """A fact a stage needs (graph.LESS_EQUAL, DIVIDES, EQUAL, EQUAL_OR_ONE) that holds with the
        parameters' values and not for every value of them: the built class tests it
        (TypedNetwork.requires). A fact over a size the constructor is not given (an input
        symbol) fixes the parameters instead: the class then refuses their other values."""
        outside = (symbol_set(a) | symbol_set(b)) - self.param_syms
        if outside and not outside <= self.net.param_env.keys():
            self.fix(a, b, span=span)
            return
        fact = (a, b, how, what, span.line)
        if self.validated_facts is not None:  # kept for each reuse of the application (apply)
            self.validated_facts.append(fact)
        self.add_fact(fact)

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
        self.reporter.error(codes.UNPROVEN, f"{what} must be a known integer, but it is `{render(value)}`",
                            span, help="give it a concrete value, or a parameter with a default")
        raise Fail(what)

    def _over_parameters(self, divisor: Dim) -> bool:
        """Whether a floor division by ``divisor`` stays over it: a divisor of the network's
        parameters only, positive at their values (each use of a block checks the quotient
        at its own; the class computes it, `(h + s - 1) // s`, and tests the divisor)."""
        if not isinstance(divisor, Expr) or not symbols(divisor) <= set(self.net.params):
            return False
        value = self.net.dim(divisor)
        return not isinstance(value, int) or value > 0

    @contextmanager
    def fresh_facts(self):
        """Record afresh which parameters a result depends on (same() asked again), then
        keep those and the ones recorded before; yields the fresh record."""
        fixed, self.net.fixed = self.net.fixed, {}
        same, self._same = self._same, {}
        fresh = self.net.fixed
        try:
            yield fresh
        finally:
            self.net.fixed = fixed
            fixed.update(fresh)
            self._same = same

    # -- statements ------------------------------------------------------------------------------
    def run_standalone(self) -> TypedNetwork:
        first = None if self.tracker is None else self.tracker.restore()
        if first is None:
            for inp in self.ast.inputs:
                self.declare_input(inp)
        self.run_body(first)
        if self.tracker is not None:
            self.tracker.done()
        return self.net

    def declare_input(self, inp: A.Input) -> None:
        if inp.name in self.values or inp.name in self.net.params:
            what = "a parameter" if inp.name in self.net.params else "an input"
            self.reporter.error(codes.DUPLICATE, f"`{inp.name}` is defined twice", inp.name_span,
                                help=f"`{inp.name}` is already {what}: give this input another name")
            return
        check_name(self.reporter, inp.name, inp.name_span, "an input")
        dtype = self.dtype_of(inp.type)
        dims = [self._input_dim(inp, i, dexpr) for i, dexpr in enumerate(inp.type.dims)]
        for i, d in enumerate(dims):
            if sign(self.net.dim(d), self.checker.sizes) == -1:
                self.reporter.error(codes.SHAPE, f"input `{inp.name}` has a negative size {render(self.net.dim(d))}",
                                    inp.type.span, [f"dim {i} is declared `{_text(inp.type.dims[i])}`"],
                                    help="sizes are at least 0; check the sign")
        origin = Origin(f"input {inp.name}", inp.span)
        t = Tensor(dtype or "float32", tuple(dims), (origin,) * len(dims))
        shape = [self.net.dim(d) for d in dims]
        huge = [f"a size beyond int64: {show_size(v)}" for v in shape if beyond_int64(v, self.checker.sizes)]
        if not huge and numel_beyond_int64(shape, self.checker.sizes):
            huge = ["more than 2**63 - 1 elements"]
        if huge:
            self.reporter.error(codes.LIMIT, f"input `{inp.name}` has {huge[0]}", inp.type.span,
                                help=f"sizes must be at most 2**63 - 1 = {INT64_MAX}")
            t = None  # not inferred further: every use would repeat the error
        if self.symbols_refused:
            t = None  # past the limit on symbols: reported once
        self._define_input(inp, Value(t, None, 0, inp.name))

    def _input_dim(self, inp: A.Input, i: int, dexpr) -> Dim:
        """Dim ``i`` of an input's declared shape; a name no parameter has declares a symbol."""
        if isinstance(dexpr, A.Ref) and dexpr.attr is None and dexpr.name not in self.net.params:
            name = dexpr.name
            try:
                if name not in self.symbol_env:
                    self.declare_symbol(name, dexpr.span, (len(self.net.inputs), i))
                return self.symbol_env[name]
            except Fail:
                return self._refused_dim(inp, i)
        try:
            return self.dim_expr(dexpr, declare=True)
        except Fail:
            return self._refused_dim(inp, i)

    def _refused_dim(self, inp: A.Input, i: int) -> Dim:
        """A stand-in for an input dim whose declaration was refused (reported): a size named
        in words no spec can write, which a later diagnostic states only as a consequence of
        that error (the reporter drops such a diagnostic when the check is finished; a check
        resumed after the inputs, netspec.resume, tells the reporter the network's again)."""
        name = f"{inp.name}'s dim {i}"
        self.unknown_sizes += (name,)
        self.reporter.unknown_sizes.add(name)
        return sym(name)

    def declare_symbol(self, name: str, span: Span, where: tuple[int, int]) -> None:
        """A new symbolic dim of an input shape; past MAX_SYMBOLS in a network, a limit
        error (once: a later one fails alike)."""
        if len(self.symbol_env) >= MAX_SYMBOLS:
            if not self.symbols_refused:
                self.symbols_refused = True
                self.reporter.error(codes.LIMIT, f"network `{self.ast.name}` has more than {MAX_SYMBOLS:,} symbolic dims",
                                    span, help=f"netspec allows at most {MAX_SYMBOLS:,} symbols in a network's "
                                               "input shapes; give some dims numbers or parameters")
            raise Fail("symbols")
        check_name(self.reporter, name, span, "a symbolic dim")
        self.symbol_env[name] = sym(name)
        self.net.input_symbols.setdefault(name, where)

    def _define_input(self, inp: A.Input, v: Value) -> None:
        self.net.inputs.append(v)
        self.values[inp.name] = Results(v, {"output": v})
        self.value_spans[inp.name] = inp.span

    def dtype_of(self, tt: A.TensorType) -> str | None:
        if tt.dtype is None:
            return None
        if tt.dtype not in DTYPES:
            self.reporter.error(codes.DTYPE, f"unknown dtype `{tt.dtype}`", tt.dtype_span,
                                help=suggest(tt.dtype, DTYPES) or "use one of: " + ", ".join(sorted(DTYPES)))
            return None
        return DTYPES[tt.dtype]

    def run_body(self, first: int | None = None) -> None:
        """The statements; from binding ``first`` on where a kept state holds the rest."""
        if first is None:
            for decl in self.ast.tensors:
                declared.declare(self, decl)
            for sh in self.ast.shared:
                sharing.declare(self, sh)
        bindings = self.ast.bindings
        keep = -1 if self.tracker is None or self.tracker.at is None else self.tracker.at
        for i in range(first or 0, len(bindings)):
            if i == keep:
                self.tracker.keep(i)
            self.run_binding(bindings[i], i == first)
        if keep == len(bindings):
            self.tracker.keep(keep)
        for st in self.ast.outputs:
            for ref in st.refs:
                v = self.lookup(ref)
                if v is not None:
                    self.net.outputs.append((ref.text, v))
        if not self.ast.outputs:
            self.reporter.error(codes.OUTPUT, f"network `{self.ast.name}` has no `output` statement",
                                self.ast.name_span, help="name its results: `output logits`")
        mark_in_place(self.net, assumed=not self.strict and not self.records)
        check_modules(self.net, self.reporter)
        self.warn_unused()

    def warn_unused(self) -> None:
        # read from the text, not the inferred graph: a stage that failed still uses its inputs
        if not self.ast.outputs:
            return
        got = self.checker.used_names.get(id(self.ast))
        if got is None:  # once per network, not at each of its uses
            got = self.checker.used_names[id(self.ast)] = _used_names(self.ast, self.checker.binding_names)
        used, unused = got
        for name, span, b_span in unused:  # the bindings' names that no output uses, in order
            if self.value_spans.get(name) == b_span:
                self.reporter.warning(codes.UNUSED, f"`{name}` is computed but no output uses it",
                                      span, help="add it to `output`, or remove the binding")
        for inp in self.ast.inputs:
            if inp.name not in used:
                self.reporter.warning(codes.UNUSED, f"input `{inp.name}` is declared but no output uses it",
                                      inp.name_span, help="remove the input, or use it")
        for p in self.ast.params:
            if p.name not in self.net.param_refs:
                self.reporter.warning(codes.UNUSED, f"parameter `{p.name}` is declared but nothing uses it",
                                      p.span, help="remove the parameter, or use it in a size or an argument")

    def _definable(self, name: str, span: Span) -> bool:
        """Whether a binding may define ``name``: not an earlier value, parameter or symbol."""
        if name in self.values or name in self.net.params:
            first = self.value_spans.get(name)
            self.reporter.error(codes.DUPLICATE, f"`{name}` is defined twice", span,
                                [f"first defined at line {first.line}"] if first else [],
                                help="give the new value its own name")
            return False
        if name in self.symbol_env:
            self.reporter.error(codes.DUPLICATE, f"`{name}` is already a symbolic dim of an input",
                                span, help="give the value another name")
            return False
        if name in MAYBE_REFUSED or name.startswith("__"):  # else check_name passes it
            check_name(self.reporter, name, span, "a binding", submodule=True)
        return True

    def run_binding(self, b: A.Binding, first: bool = False) -> None:
        """``first``: the first binding of a resumed check, whose chain may resume too."""
        if b.targets:
            self.run_unpacking(b)
            return
        resumed = self.tracker is not None and first and self.tracker.chain is b.chain
        name = b.name
        if not resumed and not self._definable(name, b.name_span):
            return
        if not resumed:  # else defined in the state restored, inside its chain
            self.net.binding_names.append(name)
        self.binding = name
        try:
            res = self.chain(b.chain)
        except TooLarge as e:  # in a comparison or a use: at the stage being checked
            self.reporter.error(codes.LIMIT, str(e), self.here, help=limits.SIZE_HELP)
            res = None
        except Fail:
            res = None
        if res is None:
            poisoned = Value(None, None, 0, name)
            res = Results(poisoned, {"output": poisoned})
        self.binding = None
        self.values[name] = res
        self.value_spans[name] = b.span
        for key, v in res.named.items():
            if not v.name:
                v.name = name if key == "output" else f"{name}.{key}"

    def run_unpacking(self, b: A.Binding) -> None:
        """`q, k, v = ...`: each name takes one result of the chain's last stage, in order."""
        seen: set[str] = set()
        for name, span in b.targets:
            if name in seen:
                self.reporter.error(codes.DUPLICATE, f"`{name}` is named twice in one binding", span,
                                    help="give each result its own name")
            elif self._definable(name, span):
                seen.add(name)
                continue
            for other, _ in b.targets:  # refused: the names it would define read as failed values
                if other not in self.values and other not in self.net.params and other not in self.symbol_env:
                    self.values[other] = Results(Value(None, None, 0, other), {})
            return
        key = "_".join(t.strip("_") for t, _ in b.targets if t.strip("_")) or "unpacked"
        while key in self.values or key in self.net.binding_names or key in self.net.params:
            key += "_"  # the statement's key in the typed graph, as a binding's name is
        self.net.binding_names.append(key)
        self.net.unpacked[key] = [t for t, _ in b.targets]
        self.binding = key
        try:
            res = self.chain(b.chain)
            results = res.primary.node.outputs if res.primary.node is not None else [res.primary]
        except Fail:
            results = []
        self.binding = None
        if results and len(results) != len(b.targets):
            names = ", ".join(res.named) if len(results) > 1 else "one value"
            self.reporter.error(codes.UNPACK, f"{len(b.targets)} names for {len(results)} result(s) ({names})",
                                b.targets[0][1], help="name every result, `_` for one you do not use")
            results = None
        for i, (name, _) in enumerate(b.targets):
            v = results[i] if results else Value(None, None, 0, name)
            if not v.name:
                v.name = name
            self.values[name] = Results(v, {"output": v})
            if results is not None:  # a refused binding's names are not reported unused
                self.value_spans[name] = b.span

    # -- values --------------------------------------------------------------------------------
    def lookup(self, ref: A.Ref) -> Value | None:
        res = self.values.get(ref.name)
        if res is None:
            self.reporter.error(codes.UNKNOWN_NAME, f"no value named `{ref.name}`", ref.span,
                                help=suggest(ref.name, self.values, self.net.params)
                                or "define it with `name = ...` or `input name: ...` first")
            return None
        if ref.attr is None:
            return res.primary
        if ref.attr not in res.named and res.primary.tensor is None and res.primary.node is None:
            return res.primary  # a value that failed: its error is reported where it failed
        if ref.attr not in res.named:
            self.reporter.error(codes.UNKNOWN_ATTR, f"`{ref.name}` has no result `{ref.attr}`", ref.span,
                                [f"`{ref.name}` has: " + ", ".join(f"`{k}`" for k in res.named)],
                                help=suggest(ref.attr, res.named) or _results_help(ref, res.named))
            return None
        return res.named[ref.attr]

    def chain(self, ch: A.Chain) -> Results:
        tracker = self.tracker
        if tracker is not None and tracker.chain is ch:  # resumed inside it (netspec.resume)
            (start, res), tracker.chain = tracker.resumed, None
        else:
            src = ch.source
            res = self.values.get(src.name) if type(src) is A.Ref and src.attr is None else None
            if res is None or res.primary is None:  # else a value's name: what source returns, at once
                res = self.source(src)
            start = 0
            if ch.assertion is not None:
                self.assert_type(res.primary, ch.assertion, "the value")
        stages = ch.stages
        if tracker is None or tracker.stage_at is None:  # no state to keep inside it: the loop below, alone
            for st in stages[start:] if start else stages:
                res = self.stage(st, res.primary)
            return res
        keep = tracker.stage_mark(ch)
        for i in range(start, len(stages)):
            if i == keep:
                tracker.keep_stage(ch, i, res)
            res = self.stage(stages[i], res.primary)
        if keep == len(stages):
            tracker.keep_stage(ch, keep, res)
        return res

    def source(self, expr) -> Results:
        if isinstance(expr, A.Ref):
            v = self.lookup(expr)
            if v is None:
                raise Fail(expr.name)
            if expr.attr is None:
                return self.values[expr.name]
            return Results(v, {"output": v})
        if isinstance(expr, A.Chain):
            return self.chain(expr)
        if isinstance(expr, A.Call):
            return self.call(expr.name, expr.name_span, expr.span, expr.args, None, None)
        if isinstance(expr, (A.BinOp, A.Neg, A.Subscript)) and operators.is_tensor(expr, self.is_value):
            try:
                call = operators.as_call(expr, self.is_value)
            except operators.OperatorError as e:
                self.reporter.error(e.code, e.message, e.span, help=e.help)
                raise Fail("operator") from None
            first, *rest = call.args  # the tensor the operator is called on, piped
            piped = self.value(first.value)
            if not isinstance(piped, Value):
                self.reporter.error(codes.ARGUMENT, f"`{_text(first.value)}` is not a tensor", first.span,
                                    help="index and operate on tensor values; sizes take `+ - * // %`")
                raise Fail("operator")
            return self._operator_call(expr, call, rest, piped)
        self.reporter.error(codes.ARGUMENT, "a chain must start with a tensor value", expr.span,
                            help="start with an input or a binding: `x -> ...`")
        raise Fail("source")

    def _operator_call(self, expr, call: A.Call, rest: list[A.Arg], piped: Value) -> Results:
        """The op an operator stands for; its diagnostics name the operator (`+`), not the op."""
        return self.call(call.name, call.name_span, call.span, rest, piped, None, operators.label(expr))

    def stage(self, st: A.Stage, x: Value) -> Results:
        c = st.core
        if type(c) is A.StageCall and st.repeat is None and not st.alias and not st.alias_quoted \
                and st.assertion is None:  # one layer or op, unnamed (the commonest): the loop below, once
            self._group_counter += 1
            stack = self._group_stack
            stack.append((self._group_counter, 0, st.alias, False))
            try:
                return self.call(c.name, c.name_span, c.span, c.args, x, st)
            finally:
                stack.pop()
        if st.alias_quoted:
            check_module_name(self.reporter, st.alias, st.alias_span)
        elif st.alias:
            check_name(self.reporter, st.alias, st.alias_span, "a layer", submodule=True)
        count = 1 if st.repeat is None else self._repeat_count(st)
        self._group_counter += 1
        gid = self._group_counter
        res = None
        group = isinstance(st.core, A.StageGroup)
        for i in range(count):
            name = st.alias if st.alias_start is None or not st.alias else f"{st.alias}{st.alias_start + i}"
            self._group_stack.append((gid, i, name, group))
            try:
                if group:
                    for sub in st.core.stages:
                        res = self.stage(sub, x)
                        x = res.primary
                else:
                    c = st.core
                    res = self.call(c.name, c.name_span, c.span, c.args, x, st)
                    x = res.primary
            finally:
                self._group_stack.pop()
        if st.assertion is not None:
            self.assert_type(res.primary, st.assertion, "the stage's result")
        return res

    def _repeat_count(self, st: A.Stage) -> int:
        """How many times `Stage * N` runs its stage; refused past MAX_REPEAT or the layer limit."""
        if st.repeat is None:
            return 1
        try:
            count = self.concrete(self.dim_expr(st.repeat), "a repetition count", st.repeat.span)
        except Fail:
            count = 1
        if not 1 <= count <= MAX_REPEAT:
            self.reporter.error(codes.LIMIT if count > MAX_REPEAT else codes.VALUE,
                                f"a stage is repeated {count} times; the count must be 1 to {MAX_REPEAT}",
                                st.repeat.span, help=_repeat_help(count))
            raise Fail("repeat")  # the stages after it cannot be inferred
        if self.checker.layer_count + count * self.checker.fewest_layers(st.core) > limits.MAX_LAYERS:
            self.layer_limit(st.span, ahead=True)
        if self.checker.use_count + count * self.checker.uses.in_core(st.core) > MAX_USES:
            self.use_limit(st.span)
        return count

    def use_limit(self, span: Span) -> NoReturn:
        """Past MAX_USES: the error, once (every later use fails alike)."""
        if self.checker.use_count <= MAX_USES:
            self.checker.use_count = MAX_USES + 1
            self.reporter.error(codes.LIMIT, f"the spec uses networks more than {MAX_USES:,} times", span,
                                help=f"netspec checks at most {MAX_USES:,} uses of networks in a file, uses "
                                     "inside uses and repetitions counted; use fewer, or flatten some networks")
        raise Fail("limit")

    def layer_limit(self, span: Span, ahead: bool = False) -> NoReturn:
        """Past the layer limit: the error, once (every later stage fails alike). ``ahead``:
        the layers this stage would expand to are known to pass it before they are checked."""
        checker = self.checker
        if ahead:
            checker.layer_count = max(checker.layer_count, limits.MAX_LAYERS) + 1
        if checker.layer_count == limits.MAX_LAYERS + 1:
            self.reporter.error(codes.LIMIT, f"the spec has more than {limits.MAX_LAYERS:,} layers and ops", span,
                                help=f"netspec checks at most {limits.MAX_LAYERS:,} stages in a file, "
                                     "repetitions and uses of networks counted")
        raise Fail("limit")

    # -- calls: layers, ops, networks ----------------------------------------------------------
    def call(self, name: str, name_span: Span, span: Span, args: list[A.Arg], piped: Value | None,
             st: A.Stage | None, shown: str | None = None) -> Results:
        """A stage or source call; ``shown``: how its diagnostics and notes name it, for an
        operator (`+`) that stands for the op ``name``."""
        checker = self.checker
        self.here = span
        checker.layer_count += 1
        if checker.layer_count > limits.MAX_LAYERS:
            self.layer_limit(span)
        if name in self.shared:
            return sharing.apply(self, name, span, args, piped, st)
        if name == _SCAN_NAME and name not in checker.asts:
            return scan.apply(self, span, args, piped, st)
        if name in checker.asts:
            if checker.layer_count + checker.fewest_in_network(name) > limits.MAX_LAYERS:
                self.layer_limit(span, ahead=True)
            checker.use_count += 1
            if checker.use_count + checker.uses.in_network(name) > MAX_USES:
                self.use_limit(span)
            return self.use_network(name, span, args, piped, st)
        kind = _LOADED_KINDS.get(name)  # a kind imported already: at once
        if kind is None:
            kind = REGISTRY.get(name)
        if kind is None:
            what = "layer or network" if name[:1].isupper() else "op"
            self.reporter.error(codes.UNKNOWN_LAYER, f"unknown {what} `{name}`", name_span,
                                help=suggest(name, REGISTRY, checker.asts)
                                or "see docs/language.md for the layers and ops netspec knows")
            raise Fail(name)
        if piped is None and kind.needs_pipe:
            self.reporter.error(codes.ARGUMENT, f"`{name}` is a layer: it needs an input piped into it",
                                span, help=f"write `x -> {name}(...)`")
            raise Fail(name)
        bound = bind_plain(self, kind, args, piped) \
            or bind(self, KindSignature(kind, name, self.reporter, shown), args, piped, span)
        inputs = bound.inputs
        node = self._node(kind, inputs, bound.tensors, span, st, bound.params, shown)
        self.net.nodes.append(node)
        if bound.bad or (inputs[0].tensor is None if len(inputs) == 1 else _untyped(inputs)) \
                or (bound.tensors and _untyped(bound.tensors.values())):
            return self._poison(node, kind.results)
        return self._replayed(kind, node, bound, span, shown or name) \
            or self.apply(kind, node, bound, StageCtx(self, span, name, bound.spans, bound.inputs, label=shown))

    def _node(self, kind: Kind | None, inputs: list[Value], state: dict[str, Value], span: Span,
              st: A.Stage | None, arg_params: dict | None = None, shown: str | None = None) -> Node:
        # a stage belongs to the repetitions around it; a source (`cat(...)`) to none
        stack = self._group_stack
        arg_params = {} if arg_params is None else arg_params
        if st is not None and len(stack) == 1:  # a stage in no group: _alias and the tuples below, at once
            scope = stack[0]
            return Node(kind, None, inputs, state, span, self.binding, scope[2] or None, ((scope[0], scope[1]),),
                        (scope,), arg_params=arg_params, shown=shown)
        alias = self._alias(st) if stack else None
        if st is None or not stack:
            return Node(kind, None, inputs, state, span, self.binding, alias=alias, arg_params=arg_params,
                        shown=shown)
        return Node(kind, None, inputs, state, span, self.binding, alias=alias,
                    group=tuple([(g, i) for g, i, _, _ in stack]), scopes=tuple(stack), arg_params=arg_params,
                    shown=shown)

    def _replayed(self, kind: Kind, node: Node, bound: Bound, span: Span, kind_name: str) -> Results | None:
        """apply's way, without its StageCtx, for an application of one tensor that the memo
        holds in a check with the parameters' values, where nothing on that way reports or
        records anything: its rank passes, its inferred argument is read from the input (or
        was proven equal to it before), it writes into nothing. None where apply is to run
        (nothing done here then)."""
        inputs = bound.inputs
        if not self.strict or bound.tensors or len(inputs) != 1:
            return None
        t = inputs[0].tensor
        rank, ranks = len(t.shape), kind.ranks
        if not (rank >= kind.min_rank if ranks is None else rank in ranks):
            return None
        values = keyed = bound.values
        inferred = kind.inferred
        if inferred:  # _infer_size, where it neither reports nor compares anything anew
            actual, given = t.shape[kind.inferred_index(rank)], values.get(inferred)
            if given is None or (is_dim(given) and self._same.get((given, actual)) is True):
                keyed = dict(values)
                keyed[inferred] = actual
            elif is_dim(given):
                return None
        key = memo.application_key(kind.name, keyed, [t])
        seen = self._applied.get(key, 0) if self._applied is not None else self._seen(key)
        if not isinstance(seen, memo.Applied) or seen.writes:
            return None
        if keyed is not values:
            values[inferred] = actual
        node.args = seen.args
        return self._replay(node, seen, kind_name, span, _new_tuple(Origin, (kind_name, span)), [t])

    def apply(self, kind: Kind, node: Node, bound: Bound, ctx: StageCtx) -> Results:
        """The kind's rule on bound arguments: the node's results, or poisoned ones after an error."""
        values, in_types = bound.values, [v.tensor for v in bound.inputs]
        try:
            if in_types:
                rank, ranks = len(in_types[0].shape), kind.ranks
                if not (rank >= kind.min_rank if ranks is None else rank in ranks):
                    self.check_rank(kind, in_types[0], ctx, bound.inputs[0])
                if kind.inferred:
                    self._infer_size(kind, values, in_types[0], bound, ctx)
            if not self.strict:
                self._positive_quotients(kind, values, ctx.span)
            key = None if bound.tensors else memo.application_key(kind.name, values, in_types)
            applied = self._applied
            seen = applied.get(key, 0) if applied is not None and key is not None else self._seen(key)
            if isinstance(seen, memo.Applied):
                node.args = seen.args  # a failed node keeps its arguments, as on the path below
                if seen.writes:  # kind.writes_input(seen.args), recorded: else neither refuses anything
                    refuse_write_into_view(kind, seen.args, ctx, bound.inputs)
                    refuse_write_into_saved(kind, seen.args, ctx, bound.inputs, self.net)
                return self._replay(node, seen, ctx.kind_name, ctx.span, ctx.origin, in_types)
            raised, required, self.validated_facts = self.reporter.raised, len(self.net.requires), []
            try:
                a = node.args = self._validate(kind, values, bound.spans, ctx)
            finally:
                validated, self.validated_facts = self.validated_facts, None
            refuse_write_into_view(kind, a, ctx, bound.inputs)
            refuse_write_into_saved(kind, a, ctx, bound.inputs, self.net)
            outs = self.rule(kind, ctx, a, in_types)
            node.params = self._param_count(kind, a)
        except Fail as f:
            node.error = str(f)
            return self._poison(node, kind.results)
        except NotConcrete as e:
            self.reporter.error(codes.UNPROVEN, f"{ctx.kind_name} needs a known integer where `{render(e.dim)}` "
                                "stands", ctx.span, help="give the size a concrete value")
            node.error = "not concrete"
            return self._poison(node, kind.results)
        except OverflowError as e:
            self.reporter.error(codes.LIMIT, f"{ctx.kind_name}: {e}", ctx.span, help=limits.SIZE_HELP)
            node.error = "too large"
            return self._poison(node, kind.results)
        self._check_sizes(node, outs, ctx.span)
        if isinstance(seen, int) and self.reporter.raised == raised and self._same_facts(required, validated, ctx):
            # once each: a reuse requires each again, and a second time adds nothing
            facts = tuple(dict.fromkeys((x, y, how) for x, y, how, _, _ in validated))
            self._remember(key, seen + 1, kind, ctx, a, in_types, node.params, facts)
        node.outputs = [Value(t, node, i, "") for i, t in enumerate(outs)]
        return Results(node.outputs[0], dict(zip(kind.result_names(a), node.outputs)))

    def _same_facts(self, required: int, validated: list, ctx: StageCtx) -> bool:
        """Whether the application's result may be reused: the facts it recorded are only
        those its arguments required (_sizes_required), each named by the kind at the stage's
        line, which a reuse records again at its own (_replay)."""
        new = self.net.requires[required:]
        return all(f in validated for f in new) and all(
            what == ctx.kind_name and line == ctx.span.line for _, _, _, what, line in validated)

    def _positive_quotients(self, kind: Kind, values: dict, span: Span) -> None:
        """A size argument that a floor division over parameters without values computes
        (`Linear(c // s)`) may be 0, which torch refuses, as ``check --set`` does: the class
        tests that it is at least 1 (in a block, each use checks it too)."""
        if self.strict:
            return
        for name in kind.Args.sizes():
            if name == kind.inferred:
                continue  # read from the input, whose size its own stage states
            for d in _dims_in(values.get(name)):
                if not _has_floor(d) or less_equal(1, d, self.positive) is True:
                    continue
                if self.records:
                    self.require(1, d, LESS_EQUAL, f"{kind.name}'s {name}", span)
                else:
                    self.block_fact(1, d, LESS_EQUAL, f"{kind.name}'s {name}", span)

    def _param_count(self, kind: Kind, a) -> Dim:
        """The layer's parameter count; where it divides by a parameter's symbol (a
        convolution's `in_channels // groups` with `groups=g`), at that parameter's value,
        on which it then depends. NotConcrete when no value makes it known."""
        try:
            return kind.param_count(a)
        except NotConcrete:
            given = {k: v for k in a.model_fields for v in [getattr(a, k)] if isinstance(v, Expr)}
        for k in given:  # the fewest values first: one argument at its value
            try:
                count = kind.param_count(a.model_copy({k: self.net.dim(given[k])}))
            except NotConcrete:
                continue
            self.fix(given[k])
            return count
        try:
            count = kind.param_count(a.model_copy({k: self.net.dim(v) for k, v in given.items()}))
        except NotConcrete:
            if self.strict:
                raise
            with dividing():  # a free parameter (`groups=g`): `c // g`, exact at each use
                return kind.param_count(a)
        self.fix(*given.values())
        return count

    @staticmethod
    def rule(kind: Kind, ctx: StageCtx, a, in_types: list[Tensor]) -> list[Tensor]:
        """The kind's shape rule, its weights' sizes, and the memory layout of its results."""
        outs = kind.infer(ctx, a, in_types)
        ctx.check_weights(kind, a, in_types)
        values = kind.value_range(a, in_types)  # the elements' bounds, of an integer result
        return [t.with_strides(s).with_values(values if t.dtype in INT_DTYPES else None)
                for t, s in zip(outs, kind.layout(ctx, a, in_types, outs))]

    def _infer_size(self, kind: Kind, values: dict, t: Tensor, bound: Bound, ctx: StageCtx) -> None:
        """Fill in the argument read from the input (in_features); one given too is checked."""
        if not kind.inferred:
            return
        index = kind.inferred_index(t.rank)
        actual = t.shape[index]
        given = values.get(kind.inferred)
        if given is None:
            values[kind.inferred] = actual
            return
        if not is_dim(given):
            return  # a tuple (LayerNorm's normalized_shape) the kind checks; a non-size, validation
        if self.same(given, actual, ctx.kind_name, ctx.span,
                     lambda: [n for n in [ctx.origin_note(t, index)] if n] + self.story(bound.inputs[0])):
            values[kind.inferred] = actual
            return
        notes = [n for n in [ctx.origin_note(t, index)] if n] + self.story(bound.inputs[0])
        self.reporter.error(
            codes.SHAPE, f"{ctx.kind_name} was given {kind.inferred}={render(self.net.dim(given))}, "
            f"but its input {self.net.show(t)} has {render(self.net.dim(actual))} in dim {index}",
            bound.spans.get(kind.inferred, ctx.span), notes,
            help=f"drop `{kind.inferred}=` and let netspec infer it, or fix the input")
        raise Fail("inferred")

    def _validate(self, kind: Kind, values: dict, spans: dict[str, Span], ctx: StageCtx):
        """The kind's Args; each value pydantic refuses is an error at its argument. The
        values are validated once more with the network's parameter values put in: what
        torch gets (`GRU(hidden)` with `--set hidden=0`)."""
        a = self._validated(kind, values, spans, ctx, {})
        actual = {k: self._valued(v) for k, v in values.items()}
        if actual != values:
            self._validated(kind, actual, spans, ctx, values)
        self._sizes_required(kind, values, spans, ctx)
        return a

    def _sizes_required(self, kind: Kind, values: dict, spans: dict[str, Span], ctx: StageCtx) -> None:
        """A size argument given by the network's parameters (`Linear(h)`, `h + 1`), with
        values or free, in a root network or in one used as a stage (whose class may be
        constructed directly; each use checks its own values): the class refuses the
        values below 1, as check --set does."""
        for field in kind.Args.sizes():
            v = values.get(field)
            for d in v if isinstance(v, tuple) else (v,):
                if isinstance(d, Expr) and self.over_params(d) and less_equal(1, d, self.checker.sizes) is not True:
                    self.require(1, _scaled_symbol(d), LESS_EQUAL, ctx.kind_name, spans.get(field, ctx.span))

    def _valued(self, v):
        if isinstance(v, Expr):
            return self.net.dim(v)
        if isinstance(v, tuple):
            return tuple(self._valued(x) for x in v)
        return v

    def _validated(self, kind: Kind, values: dict, spans: dict[str, Span], ctx: StageCtx, written: dict):
        name, span = ctx.kind_name, ctx.span
        try:
            return kind.validate(values)
        except ValidationError as e:
            for r in validation_messages(e):
                if r.field is not None and r.field not in values:
                    self.reporter.error(codes.ARGUMENT, f"{ctx.quoted} needs `{r.field}`", span,
                                        help=f"pass it: {name}({', '.join(kind.positional) or r.field + '=...'})")
                    continue
                where = spans.get(r.field, span) if r.field else span
                message = f"{ctx.called(f'{r.field}=...')}: {r.message}" if r.field else f"{name}: {r.message}"
                notes = [f"`{r.field}` is `{_show_arg(written[r.field])}`, which is {_show_arg(values[r.field])} here"
                         ] if r.field in written and written[r.field] != values[r.field] else []
                fix = _takes_help(kind, r.field, ctx)
                self.reporter.error(r.code, message, where, notes, help=r.help or fix)
            raise Fail("args") from None
        except ValueError as e:
            self.reporter.error(codes.VALUE, f"{name}: {e}", span, help="check the values of its arguments")
            raise Fail("args") from None

    # -- reusing the result of an application seen before ----------------------------------------
    def _seen(self, key):
        """What the memo holds for an application: times seen, or its Applied result."""
        if key is None:
            return None
        if self._applied is None:
            # a rule reads the parameters' values (and whether equations may be assumed)
            env = (self.strict, self.records, tuple(sorted((k, memo.tagged(v)) for k, v in self.net.param_env.items())))
            self._applied = self.checker.applied.setdefault(env, {})
        return self._applied.get(key, 0)

    def _remember(self, key, seen: int, kind: Kind, ctx: StageCtx, a, in_types: list[Tensor], params: Dim,
                  required: tuple = ()) -> None:
        """Nothing was reported: this application's result is the same wherever it stands
        (with the facts its arguments require, ``required``, recorded again where it does)."""
        if memo.TRACE_AT and seen >= memo.TRACE_AT:
            self._applied[key] = self._trace(kind, ctx, a, in_types, params, required)
        else:
            self._applied[key] = seen

    def _trace(self, kind: Kind, ctx: StageCtx, a, in_types: list[Tensor], params: Dim,
               required: tuple = ()) -> memo.Applied | None:
        """The rule's result over inputs whose origins are placeholders: which dim of which
        input (or the layer itself) each result dim takes its origin from. None (never
        reused) when the rule does not run through the same way again."""
        raised, self.traced_facts = self.reporter.raised, []
        with self.fresh_facts() as fixed:  # the parameters the result depends on, all of them
            try:
                outs = self.rule(kind, ctx.traced(), a, memo.placeholders(in_types))
            except Exception:  # noqa: BLE001 - the rule went another way: keep nothing
                return None
            finally:
                facts, self.traced_facts = tuple(self.traced_facts), None
        if self.reporter.raised != raised:
            return None
        return memo.recorded(a, params, outs, kind.result_names(a), dict(fixed), facts, required,
                             kind.writes_input(a))

    def _replay(self, node: Node, seen: memo.Applied, kind_name: str, span: Span, origin: Origin,
                in_types: list[Tensor]) -> Results:
        """The memo's result of an application at this stage (``kind_name`` at ``span``, its
        own dims' ``origin``)."""
        node.args = seen.args
        node.params = seen.params
        if seen.fixed:
            self.net.fixed.update(seen.fixed)
            for p in seen.fixed:
                self.net.pins.setdefault(p, node.span)
        for a, b, how, what in seen.facts:
            self.block_fact(a, b, how, what, node.span)
        for a, b, how in seen.required:
            self.require(a, b, how, kind_name, span)
        if len(seen.outputs) == 1:  # the commonest: the lists and the dict below, at once
            v = Value(memo.replay_one(seen.outputs[0], in_types, origin), node, 0, "")
            node.outputs = [v]
            return Results(v, {seen.results[0]: v} if seen.results else {})
        outs = memo.replay(seen, in_types, origin)
        node.outputs = [Value(t, node, i, "") for i, t in enumerate(outs)]
        return Results(node.outputs[0], dict(zip(seen.results, node.outputs)))

    # -- checks around a rule --------------------------------------------------------------------
    def check_rank(self, kind: Kind, t: Tensor, ctx: StageCtx, v: Value) -> None:
        ranks = kind.ranks
        if t.rank >= kind.min_rank if ranks is None else t.rank in ranks:
            return
        want = f"at least {kind.min_rank}" if ranks is None else " or ".join(str(r) for r in ranks)
        self.reporter.error(codes.RANK, f"{ctx.kind_name} takes a tensor with {want} dims, received {t.rank}: "
                            f"{self.net.show(t)}", ctx.span, self.story(v), help=kind.rank_help or None)
        raise Fail("rank")

    def _check_sizes(self, node: Node, outs: list[Tensor], span: Span) -> None:
        for t in outs:
            shape = [self.net.dim(d) for d in t.shape]
            problem = next((f"a size beyond int64: {show_size(v)}" for v in shape
                            if beyond_int64(v, self.checker.sizes)), None)
            if problem is None and numel_beyond_int64(shape, self.checker.sizes):
                problem = "a tensor of more than 2**63 - 1 elements"
            if problem:
                self.reporter.error(codes.LIMIT, f"{node.kind_name} makes {problem}", span,
                                    help=f"sizes and element counts must be at most 2**63 - 1 = {INT64_MAX}")
                raise Fail("int64")
        params = self.net.dim(node.params)
        if isinstance(params, int) and params > 2**31:
            self.reporter.warning(codes.MEMORY, f"{node.kind_name} holds {params:,} parameters, past 2**31",
                                  span, help="check the sizes: a tensor this large rarely fits in memory")

    def param_use(self, expr) -> ParamUse | None:
        """An argument that is a bare reference to one of the network's parameters."""
        if (isinstance(expr, A.Ref) and expr.attr is None and expr.name in self.net.params
                and expr.name not in self.values):
            return _new_tuple(ParamUse, (expr.name, expr.span))  # ParamUse(expr.name, expr.span), at once
        return None

    def _alias(self, st: A.Stage | None) -> str | None:
        for _, _, alias, _ in reversed(self._group_stack):
            if alias:
                return alias
        return None

    def _poison(self, node: Node, results) -> Results:
        node.outputs = [Value(None, node, i, "") for i in range(len(results))]
        if node.error is None:
            node.error = "not inferred"
        return Results(node.outputs[0], dict(zip(results, node.outputs)))

    # -- networks used as stages -----------------------------------------------------------------
    def use_network(self, name: str, span: Span, args: list[A.Arg], piped: Value | None,
                    st: A.Stage | None) -> Results:
        ast = self.checker.asts[name]
        if name in self.checker.active or name == self.ast.name:
            chain = " -> ".join(self.checker.active + [self.ast.name, name])
            self.reporter.error(codes.RECURSION, f"network `{name}` uses itself: {chain}", span,
                                help="networks must form a tree of uses")
            raise Fail("recursion")
        generic = self.checker.generic(name)  # reports the block's own errors once
        if generic is None:  # `name` is being checked and uses this network: a cycle, which
            raise Fail("recursion")  # the use that closes it (an instantiation) reports
        node = self._node(None, [], {}, span, st)
        bound = bind(self, NetworkSignature(ast, self.reporter), args, piped, span)
        node.arg_params = bound.params
        self.net.nodes.append(node)  # after the chains among its arguments: in the order they run
        node.inputs = bound.inputs
        out_names = [r.text for o in ast.outputs for r in o.refs] or ["output"]
        if bound.bad or any(v.tensor is None for v in node.inputs):
            node.block = generic
            return self._poison(node, out_names)
        sub = self.instantiate(ast, bound.values, [v.tensor for v in node.inputs], span, node)
        if sub is None or not sub.ok:
            node.block = generic
            node.error = "the block does not check at this use"
            return self._poison(node, out_names)
        node.block = sub
        written = block_writes_into_view(node)
        if written is not None:
            refuse_block_write(self.reporter, node, name, *written)
            node.error = "writes into a piece of split or chunk"
            return self._poison(node, out_names)
        kept = block_writes_into_saved(node, self.net)
        if kept is not None:
            refuse_block_write_saved(self.reporter, node, name, *kept)
            node.error = "writes into a tensor saved for backward"
            return self._poison(node, out_names)
        node.params = total(n.params for n in (*sub.tensors, *sub.nodes))
        node.outputs = [Value(Tensor(v.tensor.dtype, v.tensor.shape, (Origin(name, span),) * v.tensor.rank,
                                     v.tensor.strides, v.tensor.batch), node, i, "")
                        for i, (_, v) in enumerate(sub.outputs)]
        results = dict(zip(out_names, node.outputs))
        if node.outputs:
            results.setdefault("output", node.outputs[0])
        return Results(node.outputs[0], results)

    def instantiate(self, ast: A.Network, given: dict, inputs: list[Tensor], span: Span,
                    node: Node) -> TypedNetwork | None:
        """Check network ``ast`` at one use: these parameter values, these inputs. Its
        diagnostics are reported at the use, each with where in the network it arose."""
        inner = Reporter()
        params = self._block_params(ast, given, span, inner)
        if params is None:
            return None
        node.block_args = dict(params)
        key = self.checker.instances.key(self, ast, params, inputs) if instances.REUSE else None
        sub = None if key is None else self._copied_instance(key, inputs, node)
        if sub is None:
            sub = self._instance(ast, params, inputs, inner, node, key)
        self.net.fixed.update(sub.fixed)  # the caller's parameters the use depends on
        for a, b, how, what, _ in sub.requires:  # over the caller's parameters
            self.require(a, b, how, f"{what} in {ast.name}", span)
        for p, where in sub.pins.items():
            self.net.pins.setdefault(p, where)
        self._report_use(ast, inner, span)
        return sub

    def _instance(self, ast: A.Network, params: dict, inputs: list[Tensor], inner: Reporter, node: Node,
                  key: tuple | None) -> TypedNetwork:
        """Network ``ast``'s body checked at this use; kept under ``key`` where it reported
        nothing (netspec.instances)."""
        checker = self.checker
        layers, uses = checker.layer_count, checker.use_count
        nc = NetworkChecker(checker, ast, params, self.net.param_env, {}, inner, strict=self.strict)
        nc.records, nc.param_syms = self.records, self.param_syms  # over the caller's parameters
        checker.active.append(self.ast.name)
        try:
            for inp, t in zip(ast.inputs, inputs):
                nc.unify_input(inp, t)
            nc.run_body()
        except Fail:
            pass  # an input that does not fit the block's declaration: reported below
        finally:
            checker.active.pop()
        node.block_symbols = dict(nc.symbol_env)
        nc.net.ok = not inner.errors
        checker.instances.checked += 1
        if key is not None and instances.clean(inner.items):
            checker.instances.keep(key, instances.Instance(
                instances.Plan(instances.copy_network(nc.net, {}, nc.net.param_env)), dict(nc.symbol_env),
                checker.layer_count - layers, checker.use_count - uses, checker.instances.closure(checker, ast.name)))
        return nc.net

    def _copied_instance(self, key: tuple, inputs: list[Tensor], node: Node) -> TypedNetwork | None:
        """A copy of a clean check of this use's signature, its inputs' origins put in; None
        where none is kept that serves this use (netspec.instances)."""
        checker = self.checker
        for kept in checker.instances.find(key) or ():
            if not instances.reusable(checker, kept):
                return None
            origins = instances.origin_map(kept.plan.net, inputs)
            if origins is None:
                continue
            checker.layer_count += kept.layers
            checker.use_count += kept.uses
            checker.instances.reused += 1
            node.block_symbols = dict(kept.symbols)
            return kept.plan.copy(origins, self.net.param_env)
        return None

    def _block_params(self, ast: A.Network, given: dict, span: Span, inner: Reporter) -> dict | None:
        params: dict[str, Any] = {}
        for p in ast.params:
            if p.name in given:
                params[p.name] = given[p.name]
            elif p.default is not None:
                params[p.name] = literal(p.default, inner)
            else:
                self.reporter.error(codes.PARAM, f"`{ast.name}` needs its parameter `{p.name}`", span,
                                    help=f"pass it: {ast.name}({p.name}=...)")
                return None
        return params

    def _report_use(self, ast: A.Network, inner: Reporter, span: Span) -> None:
        """A use's diagnostics at the use: "`B` does not check with these inputs: ..."."""
        own = set()
        if self.checker.generic_results.get(ast.name) is not None:
            own = {(d.code, d.span) for d in self.reporter.items}
        for d in inner.items:
            if d.code == codes.UNUSED or (d.code, d.span) in own:
                continue  # the block's own error, already reported at its line
            core, via = d.cause if d.cause is not None else (d.message, None)  # one line a level
            where = f"in `{ast.name}` at {d.span.where()}"
            notes = [f"{where}, which uses `{via}`" if via else f"{where}: {core}"] + d.notes
            self.reporter.add(Diagnostic(d.severity, d.code, f"`{ast.name}` does not check with these inputs: {core}",
                                         span, notes, d.help, cause=(core, ast.name)))

    def unify_input(self, inp: A.Input, t: Tensor) -> None:
        declared = self.dtype_of(inp.type)
        if declared is not None and declared != t.dtype:
            self.reporter.error(codes.DTYPE, f"input `{inp.name}` of `{self.ast.name}` is {declared}, received {t.dtype}",
                                inp.type.span)  # the caller reports it at the use, noting this line
        if len(inp.type.dims) != t.rank:
            self.reporter.error(codes.RANK, f"input `{inp.name}` of `{self.ast.name}` has {len(inp.type.dims)} dims "
                                f"[{', '.join(_text(d) for d in inp.type.dims)}], received {t.rank}: {self.net.show(t)}",
                                inp.type.span, help=_rank_help(inp, t.rank))
            raise Fail("rank")
        for i, dexpr in enumerate(inp.type.dims):
            if isinstance(dexpr, A.Ref) and dexpr.attr is None and dexpr.name not in self.net.params \
                    and dexpr.name not in self.symbol_env:
                self.symbol_env[dexpr.name] = t.shape[i]
                continue
            want = self.dim_expr(dexpr)
            if not self.same(want, t.shape[i]):
                need, got = self.net.dim(want), self.net.dim(t.shape[i])
                self.reporter.error(codes.SHAPE, f"input `{inp.name}` needs dim {i} = {render(need)}, "
                                    f"received {render(got)}", inp.type.span,
                                    help=rounding_help(got, need) or f"give `{inp.name}` a tensor whose dim {i} "
                                    f"is {render(need)}, or change its type in the network")
        given = Tensor(t.dtype, t.shape, t.origins, t.strides, t.batch, t.values)
        self._define_input(inp, Value(given, None, 0, inp.name))

    # -- argument values and dim expressions -----------------------------------------------------
    def value(self, expr) -> Any:
        """An argument's value: a Python literal, a dim, a tuple, or a tensor Value."""
        if isinstance(expr, A.Ref):  # the commonest argument (the AST's classes are disjoint)
            return self._ref_value(expr)
        if isinstance(expr, (A.Int, A.Float, A.Str, A.Bool)):
            return expr.value
        if isinstance(expr, A.Tuple):
            return tuple(self.value(e) for e in expr.items)
        if isinstance(expr, A.Call):
            return self.source(expr).primary
        if isinstance(expr, A.Chain):
            return self.chain(expr).primary
        if isinstance(expr, A.Neg) and isinstance(expr.operand, A.Float):
            return -expr.operand.value
        if isinstance(expr, (A.BinOp, A.Neg, A.Subscript)) and operators.is_tensor(expr, self.is_value):
            return self.source(expr).primary
        if isinstance(expr, (A.BinOp, A.Neg)):
            return self.number(expr) if _real(expr) else self.dim_expr(expr)
        raise Fail("value")

    def number(self, expr, whole=None) -> int | float:
        """Arithmetic on Python numbers (`0.5 ** 3`, `d ** -0.5`), as Python computes it; a
        parameter in it must have a known value, which the result then depends on."""
        whole = expr if whole is None else whole
        if isinstance(expr, (A.Int, A.Float)):
            return expr.value
        if isinstance(expr, A.Neg):
            return -self.number(expr.operand, whole)
        if isinstance(expr, A.Ref) and expr.attr is None:
            return self.concrete(self.dim_expr(expr), f"`{expr.name}` in `{_text(whole)}`", expr.span)
        if not isinstance(expr, A.BinOp) or expr.op == "@":
            self.reporter.error(codes.ARGUMENT, f"expected a number, received {_text(expr)}", expr.span,
                                help="arithmetic on numbers takes numbers and parameters with known values")
            raise Fail("number")
        left, right = self.number(expr.left, whole), self.number(expr.right, whole)
        try:
            out = _NUMBER_OPS[expr.op](left, right)
        except ZeroDivisionError:
            self.reporter.error(codes.VALUE, f"`{_text(expr)}` divides by zero", expr.span,
                                help="divide by a number other than 0")
            raise Fail("number") from None
        except OverflowError:
            out = None
        if not isinstance(out, (int, float)) or _oversized(out if isinstance(out, int) else 0) \
                or out in (float("inf"), float("-inf")):
            self.reporter.error(codes.VALUE, f"`{_text(expr)}` is not a finite real number", expr.span,
                                help="write the number itself")
            raise Fail("number")
        return out

    def is_value(self, name: str) -> bool:
        """Whether a bare name stands for a tensor value here: not a size (a parameter or a
        symbol) nor a constant; an unknown name too, so that it is reported as a value."""
        return name in self.values or not (name in self.net.params or name in self.symbol_env
                                           or name in CONSTANTS)

    def _ref_value(self, expr: A.Ref) -> Any:
        if expr.attr is None and expr.name not in self.values:
            if expr.name in self.net.params:
                return self.net.params[expr.name]
            if expr.name in self.symbol_env:
                return self.symbol_env[expr.name]
            if expr.name in CONSTANTS:
                return CONSTANTS[expr.name]
        v = self.lookup(expr)
        if v is None:
            raise Fail(expr.name)
        return v

    def dim_expr(self, expr, declare: bool = False) -> Dim:
        """Integer arithmetic over params and symbols; ``declare`` creates input symbols."""
        if isinstance(expr, A.Int):
            return expr.value
        if isinstance(expr, A.Ref) and expr.attr is None:
            return self._dim_name(expr, declare)
        if isinstance(expr, A.Neg):
            return -self.dim_expr(expr.operand, declare)
        if isinstance(expr, A.BinOp):
            return self._dim_binop(expr, declare)
        self.reporter.error(codes.ARGUMENT, f"expected an integer size, received {_text(expr)}", expr.span,
                            help="a size is a positive integer, a parameter or a symbolic dim, or arithmetic of them")
        raise Fail("dim")

    def _dim_name(self, expr: A.Ref, declare: bool) -> Dim:
        if expr.name in self.net.params:
            v = self.net.params[expr.name]
            if is_dim(v):
                return v
            self.reporter.error(codes.PARAM, f"parameter `{expr.name}` is {_kind_of(v)}, not an integer", expr.span,
                                help=f"give `{expr.name}` an integer default, or pass an integer for it")
            raise Fail(expr.name)
        if expr.name in self.symbol_env:
            return self.symbol_env[expr.name]
        if declare:
            self.declare_symbol(expr.name, expr.span, (len(self.net.inputs), -1))
            return self.symbol_env[expr.name]
        known = list(self.net.params) + list(self.symbol_env)
        self.reporter.error(codes.UNKNOWN_NAME, f"no parameter or symbolic dim named `{expr.name}`", expr.span,
                            help=suggest(expr.name, known) or "symbols come from the inputs' shapes")
        raise Fail(expr.name)

    def _refuse_non_integer(self, expr: A.BinOp) -> None:
        """A size's arithmetic that is not on integers: a tensor operator, or a float result."""
        if expr.op in ("/", "@"):
            self.reporter.error(codes.ARGUMENT, f"`{expr.op}` is an operator on tensors; `{_text(expr)}` has none",
                                expr.span, help="sizes divide with `//`" if expr.op == "/" else
                                "`@` multiplies matrices: give it tensors")
            raise Fail("size operator")
        if _real(expr):  # `8 ** 0.5`, `2 ** -1`, `n * 1.5`: torch refuses a float size
            value = _literal_number(expr)
            shown = f" is {value}," if value is not None else " is"
            self.reporter.error(codes.ARGUMENT, f"`{_text(expr)}`{shown} not an integer size", expr.span,
                                help="a size is a whole number: divide with `//`, and raise only to a power "
                                     "from 0 to 64")
            raise Fail("size")

    def _dim_binop(self, expr: A.BinOp, declare: bool) -> Dim:
        self._refuse_non_integer(expr)
        left = self.dim_expr(expr.left, declare)
        right = self.dim_expr(expr.right, declare)
        if expr.op == "**":
            return self._dim_power(expr, left, right)
        if expr.op in ("+", "-", "*"):
            try:
                result = left + right if expr.op == "+" else left - right if expr.op == "-" else left * right
                # far past int64; Python could not even print it past 4,300 digits
                problem = f"is larger than 10**{MAX_DIGITS}" if _oversized(self.net.dim(result)) else None
            except TooLarge as e:
                problem = f"is too large: {e}"
            if problem:
                self.reporter.error(codes.LIMIT, f"`{_text(expr)}` {problem}", expr.span,
                                    help=f"sizes must be at most 2**63 - 1 = {INT64_MAX}; {limits.SIZE_HELP}")
                raise Fail("size")
            return result
        if expr.op == "//" and self._over_parameters(right):
            if less_equal(1, right, self.checker.sizes) is not True:  # the class refuses a divisor below 1
                self.require(1, right, LESS_EQUAL, f"the divisor `{render(right)}`", expr.right.span)
            return floordiv(left, right)
        divisor = self.net.dim(right)
        if not isinstance(divisor, int):
            self.reporter.error(codes.UNPROVEN, f"`{_text(expr.right)}` must be a known integer to divide by",
                                expr.right.span, help="divide by a number or a network parameter, or declare the "
                                "quotient as a symbol of its own in the input's shape")
            raise Fail("div")
        if divisor <= 0:
            self.reporter.error(codes.VALUE, f"division by {divisor}", expr.right.span)
            raise Fail("div")
        self.concrete(right, "a divisor", expr.right.span)
        if expr.op == "//":
            return floordiv(left, divisor)
        left_v = self.known(left)
        if isinstance(left_v, int):
            return left_v % divisor
        return left - floordiv(left, divisor) * divisor

    def _dim_power(self, expr: A.BinOp, base: Dim, exponent: Dim) -> Dim:
        """``base ** exponent`` with a known exponent from 0 to 64."""
        n = self.net.dim(exponent)
        if not isinstance(n, int) or not 0 <= n <= 64:
            self.reporter.error(codes.VALUE if isinstance(n, int) else codes.UNPROVEN,
                                f"a size's exponent must be a known integer from 0 to 64, not `{_text(expr.right)}`",
                                expr.right.span, help="write the power as a product, or give the exponent a value")
            raise Fail("power")
        self.concrete(exponent, "an exponent", expr.right.span)
        result: Dim = 1
        for _ in range(n):
            result = result * base
            if _oversized(self.net.dim(result)):
                self.reporter.error(codes.LIMIT, f"`{_text(expr)}` is larger than 10**{MAX_DIGITS}", expr.span,
                                    help=f"sizes must be at most 2**63 - 1 = {INT64_MAX}")
                raise Fail("size")
        return result

    # -- assertions ------------------------------------------------------------------------------
    def assert_type(self, v: Value, tt: A.TensorType, what: str) -> None:
        if v.tensor is None:
            return
        t = v.tensor
        dtype = self.dtype_of(tt)
        if dtype is not None and dtype != t.dtype:
            self.reporter.error(codes.ASSERT, f"{what} is {t.dtype}, not {dtype}", tt.span,
                                self.story(v), help=f"write `: {t.dtype}[...]`, or convert the value")
        try:
            want = [self.dim_expr(d) for d in tt.dims]
        except Fail:
            return
        if len(want) != t.rank:
            self.reporter.error(codes.ASSERT, f"{what} has {t.rank} dims {self.net.show(t)}, "
                                f"the assertion has {len(want)}", tt.span, self.story(v),
                                help=f"write `: {self.net.show(t)}`")
            return
        for i, (w, d) in enumerate(zip(want, t.shape)):
            verdict = self.compare(w, d)
            if verdict is True and compare(w, d) is not True:
                self.fix(w, d, span=tt.dims[i].span)  # holds only for the parameters' values
            notes = self._assertion_notes(v, i)
            if verdict is True or (verdict is None and self.assumes(w, d, EQUAL, "the shape assertion",
                                                                 tt.dims[i].span, notes)):
                continue
            reason = "is not" if verdict is False else "cannot be proven equal to"
            self.reporter.error(codes.ASSERT, f"dim {i} of {what} is {render(self.net.dim(d))}, which {reason} "
                                f"{render(self.net.dim(w))}", tt.dims[i].span, notes(),
                                help=f"the inferred shape is {self.net.show(t)}")

    def _assertion_notes(self, v: Value, i: int):
        """A function giving the notes on where dim ``i`` of ``v``, which a shape assertion
        states, came from."""
        def notes() -> list[str]:
            t, o = v.tensor, v.tensor.origins[i]
            return ([f"dim {i} is {render(self.net.dim(t.shape[i]))}, set by {o}"] if o is not None else []) \
                + self.story(v)
        return notes

    def story(self, v: Value) -> list[str]:
        """Where a value came from, for notes: its source and the stage that made it."""
        node = v.node
        if node is None:
            span = self.value_spans.get(v.name)
            where = f" (line {span.line})" if span else ""
            return [f"{v.name} is {v.tensor.dtype}{self.net.show(v.tensor)}{where}"]
        notes = []
        first = self._source_of(node)
        if first is not None and first.tensor is not None:
            span = self.value_spans.get(first.name)
            where = f" (line {span.line})" if span else ""
            notes.append(f"{first.name} is {first.tensor.dtype}{self.net.show(first.tensor)}{where}")
        if v.tensor is not None:
            notes.append(f"{node.shown or node.kind_name} (line {node.span.line}) makes it "
                         f"{v.tensor.dtype}{self.net.show(v.tensor)}")
        return notes

    def _source_of(self, node: Node) -> Value | None:
        """The value the chain of layers that led to ``node`` started from (remembered, so
        that many errors along one long chain do not each walk all of it)."""
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
        return src.inputs[0] if src.inputs else None


# -- helpers ------------------------------------------------------------------------------------

_NUMBER_OPS = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
               "/": lambda a, b: a / b, "//": lambda a, b: a // b, "%": lambda a, b: a % b,
               "**": lambda a, b: a ** b}


def _fact_words(net: TypedNetwork, a: Dim, b: Dim, how) -> str:
    """A fact TypedNetwork.requires could hold, in words: "`d` is `4` or 1"."""
    x, y = f"`{render(net.dim(a))}`", f"`{render(net.dim(b))}`"
    if how == EQUAL:
        return f"{x} equals {y}"
    if how == BROADCASTS:
        return f"{x} and {y} broadcast"
    if how == EQUAL_OR_ONE:
        return f"{x} is {y} or 1"
    return f"{x} is divisible by {y}" if how == DIVIDES else f"{x} is at most {y}"


def _dims_in(v) -> list[Expr]:
    """The symbolic dims in an argument value: itself, or those of a tuple."""
    if isinstance(v, tuple):
        return [d for x in v for d in _dims_in(x)]
    return [v] if isinstance(v, Expr) else []


def _has_floor(d: Expr) -> bool:
    """Whether ``d`` holds a floor division (``c // s``)."""
    return any(not isinstance(atom, str) for mono in d.terms for atom, _ in mono)


def _untyped(values) -> bool:
    """Whether one of the values could not be inferred."""
    for v in values:
        if v.tensor is None:
            return True
    return False


def _real(expr) -> bool:
    """Whether arithmetic without tensors is on numbers, not sizes: it has a float, `/`, or
    a negative power."""
    for n in A.walk(expr):
        if isinstance(n, A.Float) or (isinstance(n, A.BinOp) and n.op == "/"):
            return True
        if isinstance(n, A.BinOp) and n.op == "**" and isinstance(n.right, (A.Neg, A.Int)) \
                and not (isinstance(n.right, A.Int) and n.right.value >= 0):
            return True
    return False


def _literal_number(expr) -> int | float | None:
    """What arithmetic on literal numbers comes to, as Python computes it; None where it
    names anything else or has no finite real value."""
    if isinstance(expr, (A.Int, A.Float)):
        return expr.value
    if isinstance(expr, A.Neg):
        v = _literal_number(expr.operand)
        return None if v is None else -v
    if not isinstance(expr, A.BinOp) or expr.op not in _NUMBER_OPS:
        return None
    left, right = _literal_number(expr.left), _literal_number(expr.right)
    if left is None or right is None or (expr.op == "**" and abs(right) > 64):
        return None
    try:
        out = _NUMBER_OPS[expr.op](left, right)
    except (ArithmeticError, ValueError):
        return None
    return out if isinstance(out, (int, float)) and abs(out) < float("inf") else None


def _oversized(d: Dim) -> bool:
    """An integer (or a coefficient of a symbolic dim) beyond 10**MAX_DIGITS."""
    if isinstance(d, Expr):
        return any(abs(c) > MAX_MAGNITUDE for c in d.terms.values())
    return isinstance(d, int) and abs(d) > MAX_MAGNITUDE


class _Kept:
    """The result of a pass over a network's statements, kept by network name for the next
    check of the same statements: the same objects (an AST is not changed once built, and
    the language server keeps each statement whose text did not change; the entry holds
    them, so no other object can have their ids), with ``extra`` equal. Read only."""

    def __init__(self, limit: int = 64):
        self.limit = limit
        self.kept: dict[str, tuple] = {}

    def get(self, name: str, objs: tuple, extra: Any) -> Any:
        got = self.kept.get(name)
        if got is None or got[1] != extra or len(got[0]) != len(objs) or not all(map(is_, got[0], objs)):
            return None
        return got[2]

    def put(self, name: str, objs: tuple, extra: Any, value: Any) -> Any:
        if len(self.kept) >= self.limit:
            self.kept.clear()
        self.kept[name] = (objs, extra, value)
        return value


_KEPT_PARAM_REFS, _KEPT_USED_NAMES, _KEPT_USES, _KEPT_PAST, _KEPT_NESTING = _Kept(), _Kept(), _Kept(1), _Kept(1), _Kept(1)


def _param_refs(ast: A.Network, params: dict, chain_refs: dict[int, list[A.Ref]]) -> dict[str, set[Span]]:
    """Every reference to a parameter in a network's body and input shapes: name -> spans
    (``chain_refs``: the references of each binding's chain, already read). It depends on
    the inputs, declared tensors and bindings, and on the parameters' names alone."""
    if not params:
        return {}
    objs, names = (*ast.inputs, *ast.tensors, *ast.bindings), frozenset(params)
    got = _KEPT_PARAM_REFS.get(ast.name, objs, names)
    if got is None:
        got = _KEPT_PARAM_REFS.put(ast.name, objs, names, _read_param_refs(ast, params, chain_refs))
    return got


def _read_param_refs(ast: A.Network, params: dict, chain_refs: dict[int, list[A.Ref]]) -> dict[str, set[Span]]:
    out: dict[str, set[Span]] = {}
    roots = [d for i in (*ast.inputs, *ast.tensors) for d in i.type.dims] \
        + [t.init for t in ast.tensors if t.init is not None] \
        + [b.chain for b in ast.bindings if id(b) not in chain_refs]
    refs = [n for n in A.walk(roots) if isinstance(n, A.Ref)]
    for b in ast.bindings:
        refs += chain_refs.get(id(b), ())
    for n in refs:
        if n.attr is None and n.name in params:
            out.setdefault(n.name, set()).add(n.span)
    return out


def _used_names(ast: A.Network, known: dict[int, set[str]]) -> tuple[set[str], list]:
    """The names the network's outputs depend on, read from its text (``known``: the names
    in each binding's chain, by the binding's id, where already read); and (name, its span,
    the binding's span) for each name a binding defines that they do not, unless it starts
    with `_`, in order. From its bindings and outputs alone."""
    objs = (*ast.bindings, *ast.outputs)
    got = _KEPT_USED_NAMES.get(ast.name, objs, None)
    if got is None:
        used = _read_used_names(ast, known)
        unused = [(name, span, b.span) for b in ast.bindings for name, span in b.targets or [(b.name, b.name_span)]
                  if name not in used and not name.startswith("_")]
        got = _KEPT_USED_NAMES.put(ast.name, objs, None, (used, unused))
    return got


def _read_used_names(ast: A.Network, known: dict[int, set[str]]) -> set[str]:
    deps: dict[str, set[str]] = {}
    for b in ast.bindings:
        names = known.get(id(b))
        for target in [t for t, _ in b.targets] or [b.name]:
            deps.setdefault(target, set()).update(names if names is not None else _names_in(b.chain))
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


def _scaled_symbol(d: Expr) -> Expr:
    """``h`` for ``4 * h`` (at least 1 exactly when ``h`` is): one test for every multiple."""
    lone = lone_atom(d)
    if lone is not None and lone[1] > 0 and isinstance(lone[0], str):
        return sym(lone[0])
    return d


def _takes_help(kind: Kind, field: str | None, ctx: StageCtx) -> str:
    """A help line for an argument validation refused: what it takes; for the operand of an
    operator (`x + "a"`), what each side of the operator takes."""
    if field is None:
        return "check the values of its arguments"
    if ctx.label is not None and field == getattr(kind, "operand", None):
        return f"each side of {ctx.label} takes a tensor or {takes(kind, field)}"
    if ctx.label is not None:  # what the operator's own syntax gives: `x[...]`'s index
        return f"{ctx.label} takes {takes(kind, field)}"
    return f"`{field}` takes {takes(kind, field)}"


def _show_arg(v) -> str:
    """An argument's value as the spec writes it: a size, or a tuple of them."""
    if isinstance(v, tuple):
        return "(" + ", ".join(map(_show_arg, v)) + ("," if len(v) == 1 else "") + ")"
    return render(v) if is_dim(v) else str(v)


def _text(expr) -> str:
    """An expression as the spec writes it, with the parentheses its meaning needs."""
    if isinstance(expr, (A.Int, A.Float)):
        return str(expr.value)
    if isinstance(expr, A.Bool):
        return "true" if expr.value else "false"
    if isinstance(expr, A.Str):
        return f'"{expr.value}"'
    if isinstance(expr, A.Ref):
        return expr.text
    if isinstance(expr, A.Tuple):
        return "(" + ", ".join(_text(e) for e in expr.items) + ("," if len(expr.items) == 1 else "") + ")"
    if isinstance(expr, A.Neg):
        return f"-{_grouped(expr.operand, UNARY)}"
    if isinstance(expr, A.BinOp):
        level = OPERATOR_LEVEL.get(expr.op, 0)
        if expr.op == "**":  # right-associative: its left side is an atom, its right a unary
            return f"{_grouped(expr.left, POSTFIX)} ** {_grouped(expr.right, UNARY)}"
        return f"{_grouped(expr.left, level)} {expr.op} {_grouped(expr.right, level + 1)}"
    return "..."


def _grouped(expr, level: int) -> str:
    """``expr`` in parentheses where it binds more loosely than ``level`` (the grammar's levels, ast.py)."""
    own = UNARY if isinstance(expr, A.Neg) else OPERATOR_LEVEL.get(expr.op, 0) if isinstance(expr, A.BinOp) else ATOM
    return f"({_text(expr)})" if own < level else _text(expr)


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


def _results_help(ref: A.Ref, named) -> str:
    """How to read a result ``ref`` names that its value does not have."""
    if list(named) == ["output"]:
        return (f"`{ref.name}` is one tensor: write `{ref.name}`; named results such as `h_n` are read "
                "from the value a layer with several results makes (`enc = x -> LSTM(64)`, then `enc.h_n`)")
    return "read one of its results: " + ", ".join(f"`{ref.name}.{k}`" for k in named)


def _repeat_help(count: int) -> str:
    if count > MAX_REPEAT:
        return f"repeat at most {MAX_REPEAT} times, or split the network into blocks used in turn"
    return "write a count of at least 1, or remove `* ...` to run the stage once"


def _rank_help(inp: A.Input, rank: int) -> str:
    dims = len(inp.type.dims)
    return (f"`{inp.name}` takes a tensor of {dims} dim{'s' if dims != 1 else ''}, this one has {rank}: "
            f"reshape, flatten or select it first, or declare `{inp.name}` with {rank} dims")
