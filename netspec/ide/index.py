"""What stands at each place of a checked spec: go to definition, the outline, and what hover
(netspec.ide.hover) describes.

:class:`Index` walks the AST of every network once and records each name, stage, argument
and dim with its offsets (an :class:`Occurrence`), then answers from the typed graph: a
value's dtype and shape and where each dim came from (the typed graph's origins), a stage's
input and output types and parameter count, a parameter's value, a symbolic dim's
declaration and its size at each use of the network. A network used as a stage is shown as
checked on its own (over free symbols), with the types it takes at each of its uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import ast as A
from ..checker import CONSTANTS
from ..diagnostics import Span
from ..dims import Dim, render
from ..graph import Node, TypedNetwork, Value

if TYPE_CHECKING:
    from .analysis import Analysis

MAX_USES = 6  # uses of a network listed in a hover


@dataclass
class Occurrence:
    """A place in the text and what stands there: ``what`` is one of value, param, symbol,
    stage, arg, dim, network, constant, unknown."""

    start: int
    end: int
    what: str
    net: A.Network
    name: str = ""
    extra: Any = None


@dataclass
class OutlineItem:
    name: str
    kind: str  # network, param, input, binding
    detail: str
    start: int
    end: int
    name_start: int
    name_end: int
    children: list["OutlineItem"] = field(default_factory=list)


class _Scope:
    """The names a network defines: values (inputs, bindings), parameters, symbolic dims."""

    def __init__(self, net: A.Network):
        self.params = {}
        for p in net.params:
            self.params.setdefault(p.name, p)
        self.values: dict[str, A.Node] = {}
        for st in [*net.inputs, *net.bindings]:
            self.values.setdefault(st.name, st)
        self.symbols: dict[str, Span] = {}
        for inp in net.inputs:
            for n in A.walk(inp.type.dims):
                if isinstance(n, A.Ref) and n.attr is None and n.name not in self.params:
                    self.symbols.setdefault(n.name, n.span)

    def classify(self, name: str, in_dims: bool) -> str:
        if in_dims:
            return "param" if name in self.params else "symbol"
        for what, names in (("value", self.values), ("param", self.params), ("symbol", self.symbols),
                            ("constant", CONSTANTS)):
            if name in names:
                return what
        return "unknown"


def name_span(span: Span, name: str) -> Span:
    """The span of a name that starts a longer span (a parameter `k=3`, an argument `k=3`)."""
    return Span(span.file, span.line, span.column, span.line, span.column + len(name))


def count(d: Dim) -> str:
    return f"{d:,}" if isinstance(d, int) else render(d)


class Index:
    """The occurrences of one checked version of a document, and the typed graph's answers."""

    def __init__(self, analysis: Analysis):
        self.analysis = analysis
        self.text = analysis.text
        result = analysis.result
        self.module = result.module
        self.occurrences: list[Occurrence] = []
        self.scopes: dict[int, _Scope] = {}
        self.networks: dict[str, A.Network] = {}
        self.typed = {tn.span: tn for tn in result.networks}
        self.nodes: dict[Span, list[tuple[TypedNetwork, Node]]] = {}
        self.uses: dict[Span, list[tuple[TypedNetwork, Node]]] = {}  # a network's span -> its uses
        self._values: dict[int, dict[str, Value]] = {}
        for tn in result.networks:
            self._add_nodes(tn)
        for net in self.module.networks if self.module is not None else []:
            self.networks.setdefault(net.name, net)
            self._walk_network(net)

    def _add_nodes(self, tn: TypedNetwork) -> None:
        for n in tn.nodes:
            self.nodes.setdefault(n.span, []).append((tn, n))
            if n.block is not None and not n.block.generic:
                self.uses.setdefault(n.block.span, []).append((tn, n))

    # -- the walk ------------------------------------------------------------------------------
    def _add(self, span: Span, what: str, net: A.Network, name: str = "", extra: Any = None) -> None:
        start, end = self.text.span(span)
        self.occurrences.append(Occurrence(start, end, what, net, name, extra))

    def _walk_network(self, net: A.Network) -> None:
        scope = self.scopes[id(net)] = _Scope(net)
        self._add(net.name_span, "network", net, net.name)
        for p in net.params:
            self._add(name_span(p.span, p.name), "param", net, p.name)
        for inp in net.inputs:
            self._add(inp.name_span, "value", net, inp.name)
            self._dims(net, scope, inp.type, ("input", inp))
        for b in net.bindings:
            self._add(b.name_span, "value", net, b.name)
            self._chain(net, scope, b.chain)
        for o in net.outputs:
            for r in o.refs:
                self._ref(net, scope, r, False)

    def _dims(self, net: A.Network, scope: _Scope, tt: A.TensorType, owner: tuple) -> None:
        for i, d in enumerate(tt.dims):
            bare = d.name if isinstance(d, A.Ref) and d.attr is None else ""
            self._add(d.span, "dim", net, bare, (owner, i))
            if not bare:
                self._expr(net, scope, d, True)

    def _chain(self, net: A.Network, scope: _Scope, ch: A.Chain) -> None:
        self._expr(net, scope, ch.source, False)
        if ch.assertion is not None:
            self._dims(net, scope, ch.assertion, ("source", ch.source))
        for st in ch.stages:
            self._stage(net, scope, st)

    def _stage(self, net: A.Network, scope: _Scope, st: A.Stage) -> None:
        core = st.core
        if isinstance(core, A.StageCall):
            self._add(core.name_span, "stage", net, core.name, core)
            if st.alias_span is not None:
                self._add(st.alias_span, "stage", net, core.name, core)
            self._args(net, scope, core.name, core.args)
        else:
            for sub in core.stages:
                self._stage(net, scope, sub)
        if st.repeat is not None:
            self._expr(net, scope, st.repeat, True)
        if st.assertion is not None:
            self._dims(net, scope, st.assertion, ("stage", st))

    def _args(self, net: A.Network, scope: _Scope, callee: str, args: list[A.Arg]) -> None:
        for a in args:
            if a.name is not None:
                self._add(name_span(a.span, a.name), "arg", net, a.name, callee)
            self._expr(net, scope, a.value, False)

    def _expr(self, net: A.Network, scope: _Scope, e, in_dims: bool) -> None:
        if isinstance(e, A.Ref):
            self._ref(net, scope, e, in_dims)
        elif isinstance(e, A.Call):
            self._add(e.name_span, "stage", net, e.name, e)
            self._args(net, scope, e.name, e.args)
        elif isinstance(e, A.Chain):
            self._chain(net, scope, e)
        elif isinstance(e, A.BinOp):
            self._expr(net, scope, e.left, in_dims)
            self._expr(net, scope, e.right, in_dims)
        elif isinstance(e, A.Neg):
            self._expr(net, scope, e.operand, in_dims)
        elif isinstance(e, A.Tuple):
            for item in e.items:
                self._expr(net, scope, item, in_dims)

    def _ref(self, net: A.Network, scope: _Scope, r: A.Ref, in_dims: bool) -> None:
        what = scope.classify(r.name, in_dims)
        self._add(r.span, what, net, r.name, r.attr if what == "value" else None)

    # -- finding -------------------------------------------------------------------------------
    def at(self, offset: int) -> Occurrence | None:
        """The innermost occurrence at an offset (one just past a name counts as on it)."""
        inside = [o for o in self.occurrences if o.start <= offset < o.end]
        if not inside:
            inside = [o for o in self.occurrences if o.start < o.end == offset]
        return min(inside, key=lambda o: o.end - o.start, default=None)

    def typed_of(self, net: A.Network) -> TypedNetwork | None:
        return self.typed.get(net.span)

    def values(self, tn: TypedNetwork) -> dict[str, Value]:
        """A typed network's values by the name the checker gave them (`enc`, `enc.h_n`, `x`)."""
        found = self._values.get(id(tn))
        if found is None:
            found = {v.name: v for v in tn.inputs}
            for n in tn.nodes:
                for v in n.outputs:
                    if v.name:
                        found.setdefault(v.name, v)
            self._values[id(tn)] = found
        return found

    def value_of(self, tn: TypedNetwork, net: A.Network, name: str, attr: str | None = None,
                 depth: int = 0) -> Value | None:
        """The value a name (and result ``attr``) stands for in a typed network of ``net``:
        an input, or what its binding's chain ends with (the last stage's results, or the
        value the chain starts from when it has no stage)."""
        values = self.values(tn)
        key = f"{name}.{attr}" if attr else name
        if key in values:
            return values[key]
        b = self.scopes[id(net)].values.get(name)
        if not isinstance(b, A.Binding) or depth > 50:
            return None
        node = self.result_node(tn, b.chain)
        if node is None:
            source = b.chain.source
            return self.value_of(tn, net, source.name, attr or source.attr, depth + 1) \
                if isinstance(source, A.Ref) else None
        names = node.result_names
        index = names.index(attr) if attr in names else 0 if attr is None else None
        return node.outputs[index] if index is not None and index < len(node.outputs) else None

    def result_node(self, tn: TypedNetwork, chain: A.Chain) -> Node | None:
        """The node that makes a chain's result: its last stage's (the last of a group, the
        last repetition), or its source's when it has no stage and is a call."""
        if chain.stages:
            st = chain.stages[-1]
            while isinstance(st.core, A.StageGroup) and st.core.stages:
                st = st.core.stages[-1]
            call = st.core if isinstance(st.core, A.StageCall) else None
        else:
            call = chain.source if isinstance(chain.source, A.Call) else None
        found = [n for n in tn.nodes if n.span == call.span] if call is not None else []
        return found[-1] if found else None

    # -- go to definition ----------------------------------------------------------------------
    def definition(self, offset: int) -> tuple[int, int] | None:
        """The offsets of the name that defines what stands at ``offset``."""
        o = self.at(offset)
        if o is None:
            return None
        span = self._definition(o)
        return None if span is None else self.text.span(span)

    def _definition(self, o: Occurrence) -> Span | None:
        scope = self.scopes[id(o.net)]
        what = o.what
        if what == "dim" and o.name:
            what = scope.classify(o.name, True)
        if what == "value" and o.name in scope.values:
            return scope.values[o.name].name_span
        if what == "param" and o.name in scope.params:
            return name_span(scope.params[o.name].span, o.name)
        if what == "symbol":
            return scope.symbols.get(o.name)
        if what in ("stage", "network") and o.name in self.networks:
            return self.networks[o.name].name_span
        if what == "arg" and o.extra in self.networks:
            callee = self.networks[o.extra]
            param = next((p for p in callee.params if p.name == o.name), None)
            if param is not None:
                return name_span(param.span, o.name)
            inp = next((i for i in callee.inputs if i.name == o.name), None)
            return inp.name_span if inp is not None else None
        return None

    # -- the outline ---------------------------------------------------------------------------
    def outline(self) -> list[OutlineItem]:
        """Networks, each with its parameters, inputs and bindings."""
        return [self._outline_network(net) for net in (self.module.networks if self.module else [])]

    def _item(self, name: str, kind: str, detail: str, span: Span, name_at: Span) -> OutlineItem:
        start, end = self.text.span(span)
        a, b = self.text.span(name_at)
        return OutlineItem(name, kind, detail, min(start, a), max(end, b), a, b)

    def _outline_network(self, net: A.Network) -> OutlineItem:
        tn = self.typed_of(net)
        detail = f"{count(tn.total_params)} parameters" if tn is not None and tn.ok else ""
        item = self._item(net.name, "network", detail, net.span, net.name_span)
        for p in net.params:
            default = "" if p.default is None else self.text.text[slice(*self.text.span(p.default.span))]
            item.children.append(self._item(p.name, "param", default, p.span, name_span(p.span, p.name)))
        for st, kind in [*((i, "input") for i in net.inputs), *((b, "binding") for b in net.bindings)]:
            v = self.value_of(tn, net, st.name) if tn is not None else None
            shown = f"{v.tensor.dtype}{tn.show(v.tensor)}" if v is not None and v.tensor is not None else ""
            item.children.append(self._item(st.name, kind, shown, st.span, st.name_span))
        return item
