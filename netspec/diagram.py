"""`netspec diagram`: the typed graph drawn with Graphviz.

The drawing reads only the typed graph of :mod:`netspec.graph`: every label comes from the
kind (``Kind.label``), every shape from ``TypedNetwork.show``, every parameter count from
the node. Nothing here re-derives a shape.

- Inputs and outputs are green and orange boxes; a layer is a blue box with its kind, its
  key arguments and its parameter count; an op is a dashed grey box.
- An edge carries the shape that flows on it, as `netspec check` prints it, with the dtype
  where a layer changes it; a layer with several results (``output``, ``h_n``, ``c_n``)
  labels each edge with the result's name, and a named value read by another binding
  labels its edge with the name.
- ``Stage * N`` is drawn once with a ``×N`` badge when every repetition looks the same
  (same labels, same results, the same success or failure); ``unroll`` draws every
  repetition.
- A network used as a layer is one node, or with ``depth`` > 0 a cluster of its layers.
- Past limits.MAX_DRAWN_NODES nodes or MAX_DRAWN_EDGES edges the rest is left out and a
  note says how much; `dot` gets limits.DOT_TIMEOUT seconds (a dense graph of a few
  hundred edges can take it minutes), after which the command ends with a clear error.
- A spec with errors still draws what was inferred: the failing node is red with its
  message, the nodes after it are dashed, and errors that belong to no node are listed
  under the title.

The DOT text is deterministic: node ids ``n0, n1, ...`` in graph order, attributes sorted.
"""

from __future__ import annotations

import html
import shutil
import struct
import subprocess
import textwrap
import zlib
from dataclasses import dataclass, field
from typing import Any

from netspec.diagnostics import Diagnostic, Span, printable
from netspec.dims import render
from netspec.errors import UsageError
from netspec.fsutil import MARKER
from netspec.graph import CheckResult, Node, TypedNetwork, Value
from netspec.kinds.base import _show
from netspec.limits import DOT_TIMEOUT, MAX_DRAWN_EDGES, MAX_DRAWN_NODES

FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot"}
INSTALL_HINT = "install Graphviz (apt-get install graphviz, or brew install graphviz)"
WRAP = 46  # characters per line of an error message on a node
TITLE_WRAP = 48
LABEL_PAD = 3  # points around an edge label's text

FONT = "Helvetica"
GRAPH_ATTRS = {"fontname": FONT, "fontsize": "12", "nodesep": "0.5", "ranksep": "0.3",
               "labelloc": "t", "newrank": "true"}
NODE_ATTRS = {"fontname": FONT, "fontsize": "12", "shape": "box", "margin": "0.12,0.05",
              "style": "rounded,filled", "penwidth": "1.2"}
EDGE_ATTRS = {"fontname": FONT, "fontsize": "10", "fontcolor": "#333333", "color": "#555555",
              "arrowsize": "0.7"}
STYLES = {
    "input": {"fillcolor": "#d8efd3", "color": "#3b7a35", "penwidth": "1.6"},
    "output": {"fillcolor": "#fde3c4", "color": "#b5651d", "penwidth": "1.6"},
    "layer": {"fillcolor": "#dce7f7", "color": "#44679b"},
    "op": {"fillcolor": "#f6f6f6", "color": "#9a9a9a", "fontcolor": "#4d4d4d",
           "style": "rounded,filled,dashed"},
    "error": {"fillcolor": "#fde0e0", "color": "#c62828", "penwidth": "2"},
    "skipped": {"fillcolor": "#ffffff", "color": "#b0b0b0", "fontcolor": "#8a8a8a",
                "style": "rounded,filled,dashed"},
}
BLOCK_CLUSTER = {"style": "rounded,filled", "fillcolor": "#f4f7fc", "color": "#44679b", "label": ""}
TITLE_NODE = {"shape": "plaintext", "style": "solid", "margin": "0.05,0"}
REPEAT_CLUSTER = {"style": "rounded,dashed", "color": "#7a7a7a", "fontname": FONT,
                  "fontsize": "12", "labeljust": "r", "fontcolor": "#333333"}
NETWORK_CLUSTER = {"style": "rounded", "color": "#bbbbbb", "fontname": FONT, "fontsize": "12",
                   "labeljust": "l"}
ERROR_COLOR = "#b71c1c"
MUTED = "#5a5a5a"


# -- the picture, before it becomes DOT -----------------------------------------------------------

@dataclass
class _Node:
    id: str
    attrs: dict[str, str]


@dataclass
class _Cluster:
    name: str
    attrs: dict[str, str]
    items: list = field(default_factory=list)  # _Node | _Cluster, in graph order
    children: dict = field(default_factory=dict)  # key -> _Cluster
    same: list = field(default_factory=list)  # lists of node ids drawn side by side


@dataclass
class _Scope:
    """One network being drawn: the top network, or a block expanded inside it."""

    net: TypedNetwork
    prefix: str  # for the SVG ids: "ResNet18", "ResNet18.4"
    depth: int  # how many more levels of blocks to expand


def _esc(text: str) -> str:
    """Text for an HTML-like label: markup escaped, and no control character (a string a
    spec gives is drawn as `netspec check` prints it)."""
    return html.escape(printable(text), quote=True)


def _html(lines: list[str], left: bool = False) -> str:
    """An HTML-like label of lines, centred, or flush left (with a cluster's label)."""
    if left:
        return "<" + "".join(line + '<BR ALIGN="LEFT"/>' for line in lines) + ">"
    return "<" + "<BR/>".join(lines) + ">"


def _small(text: str, color: str = MUTED, size: int = 10) -> str:
    return f'<FONT POINT-SIZE="{size}" COLOR="{color}">{_esc(text)}</FONT>'


def _count(d) -> str:
    return f"{d:,}" if isinstance(d, int) else render(d)


def _contains(outer: Span, inner: Span) -> bool:
    return (outer.file == inner.file
            and (outer.line, outer.column) <= (inner.line, inner.column)
            and (inner.end_line, inner.end_column) <= (outer.end_line, outer.end_column))


def _extent(s: Span) -> tuple[int, int]:
    return (s.end_line - s.line, s.end_column - s.column)


def node_label(net: TypedNetwork, node: Node) -> str:
    """The kind and key arguments of a node, parameters substituted: `LSTM 512, layers=2`."""
    if node.block is not None:
        args = ", ".join(f"{k}={_show(_dim_of(net, v))}" for k, v in node.block_args.items())
        return node.block.name + (" " + args if args else "")
    if node.args is None:  # its arguments did not validate
        return node.kind.name
    return node.kind.label(node.args, net.dim)


def _dim_of(net: TypedNetwork, v: Any) -> Any:
    if isinstance(v, tuple):
        return tuple(_dim_of(net, x) for x in v)
    if isinstance(v, bool) or not hasattr(v, "terms"):
        return v
    return net.dim(v)


def shape_text(net: TypedNetwork, v: Value, with_dtype: bool = False) -> str:
    """A value's shape as `netspec check` prints it; `?` when it was not inferred."""
    if v.tensor is None:
        return "?"
    return (v.tensor.dtype if with_dtype else "") + net.show(v.tensor)


def title_of(net: TypedNetwork) -> tuple[str, str]:
    """`ResNet18(num_classes=1000)` and `11,689,512 params`."""
    shown = []
    for p in net.param_names:
        value = net.param_env.get(p, net.params.get(p))
        shown.append(f"{p}={_show(_dim_of(net, value)) if value is not None else '?'}")
    head = net.name + (f"({', '.join(shown)})" if shown else "")
    return head, f"{_count(net.total_params)} params"


# -- repetitions -----------------------------------------------------------------------------------

def _signature(net: TypedNetwork, node: Node) -> tuple:
    return (node.kind_name, node_label(net, node), len(node.group), node.error is None,
            tuple(shape_text(net, v, True) for v in node.outputs))


def collapse(net: TypedNetwork) -> tuple[dict[int, Node], dict[int, int]]:
    """Repetitions drawn once: (id of a hidden node -> the node drawn for it, group id -> N).

    A group ``Stage * N`` collapses when every repetition has the same nodes with the same
    labels and results, failing or not alike (one repetition that fails where the others do
    not keeps them all); the first repetition is drawn for all of them.
    """
    groups: dict[int, dict[int, list[Node]]] = {}
    for node in net.nodes:
        for gid, i in node.group:
            groups.setdefault(gid, {}).setdefault(i, []).append(node)
    hidden: dict[int, Node] = {}
    counts: dict[int, int] = {}
    for gid in sorted(groups):  # outer groups get their ids first
        reps = groups[gid]
        if len(reps) < 2 or any(id(n) in hidden for n in reps[0]):
            continue
        first = reps[0]
        same = all(len(r) == len(first) and all(_signature(net, a) == _signature(net, b)
                                                for a, b in zip(r, first))
                   for r in reps.values())
        if not same:
            continue
        counts[gid] = len(reps)
        for i, r in reps.items():
            if i:
                for a, b in zip(r, first):
                    hidden[id(a)] = b
    return hidden, counts


# -- the drawing -----------------------------------------------------------------------------------

class Drawing:
    """Builds the nodes, clusters and edges of one diagram from typed networks."""

    def __init__(self, errors: list[Diagnostic], depth: int = 0, unroll: bool = False):
        self.errors = errors
        self.depth = depth
        self.unroll = unroll
        self.counter = 0
        self.clusters = 0
        self.root = _Cluster("", {})
        self.edges: list[tuple[str, str, dict[str, str]]] = []
        self.src: dict[int, str] = {}  # id(Value) -> the dot node that makes it
        self.alias: dict[int, Value] = {}  # id(Value) -> the value it stands for
        self.owner: dict[int, Node] = {}  # id(Diagnostic) -> the node it is drawn on
        self.loose: list[Diagnostic] = []  # errors that belong to no drawn node
        self.left_out = [0, 0]  # layers and edges past MAX_DRAWN_NODES and MAX_DRAWN_EDGES

    def _id(self) -> str:
        nid = f"n{self.counter}"
        self.counter += 1
        return nid

    # -- errors ------------------------------------------------------------------------------
    def place_errors(self, nodes: list[Node]) -> None:
        """Each error goes on the innermost node whose span holds it; among the repetitions of
        a stage (one span), on the first that failed."""
        def rank(node: Node) -> tuple:
            failed = node.error is not None and not _upstream_failed(node)
            return (_extent(node.span), not failed)

        for d in self.errors:
            best = None
            for node in nodes:
                if _contains(node.span, d.span) and (best is None or rank(node) < rank(best)):
                    best = node
            if best is None:
                self.loose.append(d)
            else:
                self.owner[id(d)] = best

    def messages(self, node: Node) -> list[str]:
        return [d.message for d in self.errors if self.owner.get(id(d)) is node]

    # -- values ------------------------------------------------------------------------------
    def resolve(self, v: Value) -> Value:
        while id(v) in self.alias:
            v = self.alias[id(v)]
        return v

    def edge(self, v: Value, net: TypedNetwork, dst: str, consumer: Node | None) -> None:
        """An edge from whatever makes ``v`` (as ``net`` sees it) to ``dst``."""
        origin = self.resolve(v)
        src = self.src.get(id(origin))
        if src is None:
            return  # made by nothing drawn (a value that failed before any node)
        if len(self.edges) >= MAX_DRAWN_EDGES:
            self.left_out[1] += 1
            return
        lines = []
        maker = origin.node
        if maker is not None and len(maker.outputs) > 1:
            lines.append(maker.result_names[origin.index])
        elif v.node is not None and v.node.binding and consumer is not None \
                and consumer.binding != v.node.binding:
            lines.append(v.node.binding)  # a named value read by another binding
        changed = False
        if maker is not None and v.tensor is not None:
            first = maker.inputs[0].tensor if maker.inputs else None
            changed = first is None or first.dtype != v.tensor.dtype
        lines.append(shape_text(net, v, changed))
        # a table with padding keeps the labels of parallel edges (h_n, c_n) apart
        rows = "<TR><TD>" + "<BR/>".join(_esc(line) for line in lines) + "</TD></TR>"
        attrs = {"label": f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="{LABEL_PAD}">'
                          f'{rows}</TABLE>>'}
        if v.tensor is None:
            attrs.update(style="dashed", color="#b0b0b0", fontcolor="#8a8a8a")
        self.edges.append((src, dst, attrs))

    # -- networks ----------------------------------------------------------------------------
    def network(self, net: TypedNetwork, cluster: _Cluster) -> None:
        scope = _Scope(net, net.name, self.depth)
        for v in net.inputs:
            nid = self._id()
            label = _html([f"<B>{_esc(v.name)}</B>", _esc(shape_text(net, v, True))])
            cluster.items.append(_Node(nid, {"label": label, "id": f"{net.name}.input.{v.name}",
                                             **STYLES["input"]}))
            self.src[id(v)] = nid
        self.body(scope, cluster)
        for name, v in net.outputs:
            nid = self._id()
            label = _html([f"<B>{_esc(name)}</B>", _esc(shape_text(net, v, True))])
            cluster.items.append(_Node(nid, {"label": label, "id": f"{net.name}.output.{name}",
                                             **STYLES["output"]}))
            self.edge(v, net, nid, None)

    def body(self, scope: _Scope, cluster: _Cluster) -> None:
        net = scope.net
        hidden, counts = ({}, {}) if self.unroll else collapse(net)
        members: dict[int, list[Node]] = {}  # id(node drawn) -> the repetitions it stands for
        drawn_in_group: dict[int, int] = {}  # group id -> nodes drawn in it
        for node in net.nodes:
            shown = node
            while id(shown) in hidden:
                shown = hidden[id(shown)]
            members.setdefault(id(shown), []).append(node)
            if id(node) not in hidden:
                for gid, _ in node.group:
                    if gid in counts:
                        drawn_in_group[gid] = drawn_in_group.get(gid, 0) + 1
        for index, node in enumerate(net.nodes):
            if id(node) in hidden:
                for mine, theirs in zip(node.outputs, hidden[id(node)].outputs):
                    self.alias[id(mine)] = theirs
                continue
            if self.counter >= MAX_DRAWN_NODES:
                self.left_out[0] += 1  # not drawn, nor the blocks inside it
                continue
            place, badges = self._place(scope, node, cluster, counts, drawn_in_group)
            reps = members[id(node)]
            expand = (node.block is not None and scope.depth > 0 and node.block.ok
                      and not node.error and len(node.block.inputs) == len(node.inputs))
            if expand:
                self.block(scope, index, node, reps, badges, place)
            else:
                self.layer(scope, index, node, reps, badges, place)

    def _place(self, scope: _Scope, node: Node, cluster: _Cluster, counts: dict[int, int],
               drawn_in_group: dict[int, int]) -> tuple[_Cluster, list[str]]:
        """The cluster a drawn node goes in (a dashed ×N box per repetition of several
        nodes), and the ×N badges of repetitions of it alone."""
        place = cluster
        badges = []
        for gid, _ in node.group:
            if gid not in counts:
                continue
            if drawn_in_group[gid] > 1:
                key = (scope.prefix, gid)
                if key not in place.children:
                    sub = _Cluster(self._cluster_name(), {"label": f"×{counts[gid]}", **REPEAT_CLUSTER})
                    place.children[key] = sub
                    place.items.append(sub)
                place = place.children[key]
            else:
                badges.append(f"×{counts[gid]}")
        return place, badges

    def block(self, scope: _Scope, index: int, node: Node, reps: list[Node],
              badges: list[str], place: _Cluster) -> None:
        net, sub = scope.net, node.block
        head = node_label(net, node) + "".join(" " + b for b in badges)
        lines = [f"<B>{_esc(head)}</B>"]
        who = node.alias or node.binding
        if who:
            lines.insert(0, _small(who, size=9))
        params = self.params_text(net, reps)
        if params:
            lines.append(_small(params))
        cluster = _Cluster(self._cluster_name(), dict(BLOCK_CLUSTER))
        place.items.append(cluster)
        # the title is a node beside the block's first layer, not the cluster's label, so that
        # edges coming into the block never cross its text
        title = self._id()
        cluster.items.append(_Node(title, {"label": _html(lines, left=True), "id": f"{scope.prefix}.{index}",
                                           **TITLE_NODE}))
        for inner, outer in zip(sub.inputs, node.inputs):
            self.alias[id(inner)] = outer
        self.body(_Scope(sub, f"{scope.prefix}.{index}", scope.depth - 1), cluster)
        first = _first_node(cluster.items[1:])
        if first is not None:
            cluster.same.append([title, first])
        for outer, (_, inner) in zip(node.outputs, sub.outputs):
            self.alias[id(outer)] = inner

    def layer(self, scope: _Scope, index: int, node: Node, reps: list[Node],
              badges: list[str], place: _Cluster) -> None:
        net = scope.net
        nid = self._id()
        head = node_label(net, node) + "".join(" " + b for b in badges)
        lines = []
        if node.alias:
            lines.append(_small(node.alias, size=9))
        lines.append(_esc(head))
        style = "layer" if node.is_module else "op"
        params = self.params_text(net, reps)
        if node.is_module and params and not node.error:
            lines.append(_small(params))
        messages = self.messages(node)
        if node.error and not messages:
            if _upstream_failed(node) or node.error == "not inferred":
                style = "skipped"
                lines.append(_small("not inferred", "#8a8a8a"))
            else:
                messages = [node.error]
        if messages:
            style = "error"
            for m in messages:
                lines.extend(_small(part, ERROR_COLOR) for part in textwrap.wrap(m, WRAP))
        attrs = {"label": _html(lines), "id": f"{scope.prefix}.{index}", **NODE_ATTRS_OVERRIDE.get(style, {}),
                 **STYLES[style]}
        place.items.append(_Node(nid, attrs))
        for v in node.outputs:
            self.src[id(v)] = nid
        for v in [*node.inputs, *node.state.values()]:
            self.edge(v, net, nid, node)

    def params_text(self, net: TypedNetwork, reps: list[Node]) -> str:
        """`9,408 params`, `38,720 params (1,792 + 36,928)` for a repetition; '' for none."""
        counts = [net.dim(n.params) for n in reps]
        total = net.dim(sum((n.params for n in reps), 0))
        if total == 0:
            return ""
        text = f"{_count(total)} params"
        if len(counts) > 1:
            if all(c == counts[0] for c in counts):
                text += f" ({len(counts)} × {_count(counts[0])})"
            elif len(counts) <= 3:
                text += " (" + " + ".join(_count(c) for c in counts) + ")"
            else:
                text += f" in {len(counts)}"
        return text

    def _cluster_name(self) -> str:
        self.clusters += 1
        return f"cluster_{self.clusters - 1}"


def _upstream_failed(node: Node) -> bool:
    """Whether the node was not inferred because a value it reads was not."""
    return any(v.tensor is None for v in [*node.inputs, *node.state.values()])


def _first_node(items: list) -> str | None:
    for item in items:
        found = item.id if isinstance(item, _Node) else _first_node(item.items)
        if found is not None:
            return found
    return None


NODE_ATTRS_OVERRIDE: dict[str, dict[str, str]] = {"op": {"fontsize": "11"}, "skipped": {"fontsize": "11"}}


def _drawn_nodes(net: TypedNetwork, depth: int) -> list[Node]:
    """The nodes a diagram of ``net`` may draw: its own, and those of blocks it expands,
    up to MAX_DRAWN_NODES (blocks used twice, twenty levels deep, are a million nodes)."""
    out: list[Node] = []
    stack = [(iter(net.nodes), depth)]
    while stack and len(out) <= MAX_DRAWN_NODES:
        nodes, level = stack[-1]
        node = next(nodes, None)
        if node is None:
            stack.pop()
            continue
        out.append(node)
        if node.block is not None and level > 0 and node.block.ok:
            stack.append((iter(node.block.nodes), level - 1))
    return out


def left_out_lines(drawing: "Drawing") -> list[str]:
    """The note under the title when the bounds left part of the graph out."""
    layers, edges = drawing.left_out
    if not layers and not edges:
        return []
    parts = [f"{layers:,} layers and ops"] if layers else []
    parts += [f"{edges:,} edges"] if edges else []
    return [_small(f"not drawn: {' and '.join(parts)} (at most {MAX_DRAWN_NODES:,} nodes and "
                   f"{MAX_DRAWN_EDGES:,} edges are drawn; pick one network with --network, or fewer "
                   "levels with --depth)", ERROR_COLOR, 11)]


def build(networks: list[TypedNetwork], result: CheckResult, rankdir: str = "TB", depth: int = 0,
          unroll: bool = False, source_name: str = "") -> Any:
    """The graphviz.Digraph of ``networks`` (one, or several side by side)."""
    import graphviz

    errors = [d for d in result.reporter.items if d.severity == "error"]
    drawing = Drawing(errors, depth, unroll)
    drawing.place_errors([n for net in networks for n in _drawn_nodes(net, depth)])
    if source_name and not source_name.isprintable():  # a newline would end the DOT comment
        source_name = ascii(source_name)[1:-1]
    comment = MARKER + (f" from {source_name}" if source_name else "")
    g = graphviz.Digraph(name="netspec", comment=comment)
    g.attr("graph", rankdir=rankdir, **GRAPH_ATTRS)
    g.attr("node", **NODE_ATTRS)
    g.attr("edge", **EDGE_ATTRS)
    single = len(networks) == 1
    for net in networks:
        if single:
            target = drawing.root
        else:
            target = _Cluster(drawing._cluster_name(), {**NETWORK_CLUSTER})
            drawing.root.items.append(target)
        drawing.network(net, target)
        mine = [d for d in drawing.loose if single or _contains(net.span, d.span)]
        label = title_lines(net) + error_lines(mine) + left_out_lines(drawing)
        drawing.left_out = [0, 0]
        if single:
            g.attr("graph", label=_html(label))
        else:
            target.attrs["label"] = _html(label, left=True)
        drawing.loose = [d for d in drawing.loose if d not in mine]
    if drawing.loose:  # errors outside the networks drawn
        drawing.root.items.append(_Node(drawing._id(), {"label": _html(error_lines(drawing.loose)), "shape": "note",
                                                        "id": "errors", **STYLES["error"]}))
    _emit(g, drawing.root)
    for src, dst, attrs in drawing.edges:
        g.edge(src, dst, **attrs)
    return g


def error_lines(errors: list[Diagnostic]) -> list[str]:
    """Errors that belong to no node, as lines under a network's title."""
    out = []
    for d in errors:
        for i, line in enumerate(textwrap.wrap(f"line {d.span.line}: error[{d.code}]: {d.message}", 88)):
            out.append(_small(line if i == 0 else "    " + line, ERROR_COLOR, 11))
    return out


def title_lines(net: TypedNetwork) -> list[str]:
    """The network's name and parameters (wrapped: a title no wider than a column of layers)."""
    head, params = title_of(net)
    return [f'<FONT POINT-SIZE="14"><B>{_esc(line)}</B></FONT>'
            for line in textwrap.wrap(head, TITLE_WRAP, break_on_hyphens=False)] + [_small(params, size=11)]


def _emit(g, cluster: _Cluster) -> None:
    for item in cluster.items:
        if isinstance(item, _Node):
            g.node(item.id, **item.attrs)
        else:
            import graphviz

            sub = graphviz.Digraph(name=item.name)
            sub.attr("graph", **item.attrs)
            _emit(sub, item)
            for ids in item.same:
                row = graphviz.Digraph()
                row.attr("graph", rank="same")
                for nid in ids:
                    row.node(nid)
                sub.subgraph(row)
            g.subgraph(sub)


# -- the command -----------------------------------------------------------------------------------

def select(result: CheckResult, path: str, name: str | None) -> list[TypedNetwork]:
    """The networks to draw: the one named, or every network no other network uses."""
    nets = result.networks
    available = ", ".join(n.name for n in nets) or "none"
    if name is not None:
        chosen = [n for n in nets if n.name == name]
        if not chosen:
            raise UsageError(f"--network {name}: {path} has no network `{name}` (available: {available})")
        return chosen
    if not nets:
        raise UsageError(f"{path} defines no network to draw (available: none)")
    return [n for n in nets if not n.generic] or nets


class DotTimeout(Exception):
    """`dot` did not finish within limits.DOT_TIMEOUT seconds."""


def render_dot(source: str, fmt: str, timeout: float | None = None) -> bytes:
    """Run Graphviz's `dot` on DOT text, within ``timeout`` seconds (DOT_TIMEOUT by
    default; DotTimeout past it). Raises graphviz.ExecutableNotFound without `dot`, and
    graphviz.CalledProcessError when it fails."""
    import graphviz

    exe = shutil.which("dot")
    if exe is None:
        raise graphviz.ExecutableNotFound(["dot"])
    limit = DOT_TIMEOUT if timeout is None else timeout
    try:
        proc = subprocess.run([exe, f"-T{fmt}"], input=source.encode(), capture_output=True, timeout=limit)
    except subprocess.TimeoutExpired:  # run() has killed it
        raise DotTimeout(f"Graphviz's `dot` did not lay the diagram out in {limit:g} s") from None
    if proc.returncode:
        raise graphviz.CalledProcessError(proc.returncode, [exe, f"-T{fmt}"], output=proc.stdout, stderr=proc.stderr)
    return proc.stdout


def mark(data: bytes, fmt: str) -> bytes:
    """The file with netspec's marker near its start, in the format's own comment syntax.

    DOT gets a `//` line, SVG an XML comment, PNG a tEXt chunk. A PDF keeps no comment
    there without breaking its byte offsets, so it goes unmarked: an existing PDF is
    replaced only with --force.
    """
    if fmt == "dot":
        return data if data.startswith(f"// {MARKER}".encode()) else f"// {MARKER}\n".encode() + data
    if fmt == "svg":
        head, sep, rest = data.partition(b"?>")
        comment = f"\n<!-- {MARKER} -->".encode()
        return head + sep + comment + rest if sep else f"<!-- {MARKER} -->\n".encode() + data
    if fmt == "png" and data.startswith(PNG_SIGNATURE):
        at = len(PNG_SIGNATURE) + 8 + 13 + 4  # after the IHDR chunk, which must come first
        body = b"tEXt" + b"Software\0" + MARKER.encode()
        chunk = struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
        return data[:at] + chunk + data[at:]
    return data


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
