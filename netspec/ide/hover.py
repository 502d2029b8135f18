"""Hover text: what the typed graph knows about the value, stage, parameter, dim or argument
at a place, as markdown."""

from __future__ import annotations

from typing import Callable

from .. import ast as A
from ..checker import CONSTANTS
from ..dims import render
from ..graph import Node, TypedNetwork, Value
from ..kinds import REGISTRY
from ..kinds.base import takes
from .index import MAX_USES, Index, Occurrence, count

MAX_NODES = 4  # applications of one stage listed (a repeated stage makes several)


def hover(index: Index, offset: int) -> tuple[str, int, int] | None:
    """Markdown about what stands at ``offset``, and the offsets it is about."""
    o = index.at(offset)
    text = describe(index, o) if o is not None else None
    return (text, o.start, o.end) if text else None


def describe(index: Index, o: Occurrence) -> str | None:
    """The hover text for an occurrence, or None when nothing is known about it."""
    show = _SHOW.get(o.what)
    return show(index, o) if show is not None else None


def _type(tn: TypedNetwork, v: Value | None) -> str:
    if v is None or v.tensor is None:
        return "not inferred"
    return f"{v.tensor.dtype}{tn.show(v.tensor)}"


def _literal(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, tuple):
        return "(" + ", ".join(_literal(x) for x in v) + ("," if len(v) == 1 else "") + ")"
    return render(v) if isinstance(v, int) or hasattr(v, "terms") else repr(v)


def _code(text: str) -> str:
    return f"```netspec\n{text}\n```"


def _at_uses(index: Index, net: A.Network, show: Callable[[TypedNetwork, TypedNetwork, Node], str | None]) -> list[str]:
    """One line for each use of ``net`` as a stage (``show(caller, instance, use)``)."""
    lines = []
    uses = index.uses.get(net.span, [])
    for caller, use in uses[:MAX_USES]:
        shown = show(caller, use.block, use)
        if shown:
            lines.append(f"- line {use.span.line} (in `{caller.name}`): {shown}")
    if len(uses) > MAX_USES:
        lines.append(f"- … and {len(uses) - MAX_USES} more uses")
    return ["", "At its uses:", *lines] if lines else []


def _dims(tn: TypedNetwork, v: Value | None) -> list[str]:
    if v is None or v.tensor is None or not v.tensor.rank:
        return []
    t = v.tensor
    lines = [""]
    for i, d in enumerate(t.shape):
        o = t.origins[i]
        lines.append(f"- dim {i} = `{render(tn.dim(d))}`" + (f": {o}" if o is not None else ""))
    return lines


# -- values ----------------------------------------------------------------------------------------

def _value(index: Index, o: Occurrence) -> str | None:
    tn = index.typed_of(o.net)
    if tn is None:
        return None
    name = f"{o.name}.{o.extra}" if o.extra else o.name
    v = index.value_of(tn, o.net, o.name, o.extra)
    lines = [_code(f"{name}: {_type(tn, v)}")]
    if v is not None and v.node is not None:
        lines += ["", f"made by `{v.node.kind_name}` (line {v.node.span.line}) · "
                      f"{count(tn.dim(v.node.params))} parameters"]
    elif v is not None:
        lines += ["", f"input of `{tn.name}`"]
    lines += _dims(tn, v)
    lines += _at_uses(index, o.net, lambda caller, sub, use: f"`{_type(sub, index.value_of(sub, o.net, o.name, o.extra))}`")
    return "\n".join(lines)


# -- stages ----------------------------------------------------------------------------------------

def _kind_head(name: str, index: Index) -> list[str]:
    kind = REGISTRY.get(name)
    if kind is not None:
        own = " ".join((type(kind).__doc__ or "").strip().split("\n\n")[0].split())
        lines = [f"**{name}** · {kind.what}", "", kind.summary]
        return lines + (["", own] if own and own != kind.summary else [])
    if name in index.networks:
        return [f"**{name}** · network (line {index.networks[name].span.line})"]
    return []


def _application(tn: TypedNetwork, node: Node) -> str:
    ins = ", ".join(_type(tn, v) for v in [*node.inputs, *node.state.values()])
    outs = ", ".join(_type(tn, v) for v in node.outputs) or "not inferred"
    label = node.kind_name
    if node.kind is not None and node.args is not None:
        label = node.kind.label(node.args, tn.dim)
    return f"`{ins}` → `{outs}` · `{label}` · {count(tn.dim(node.params))} parameters"


def _nodes_at(tn: TypedNetwork, call) -> list[Node]:
    return [n for n in tn.nodes if n.span == call.span]


def _stage(index: Index, o: Occurrence) -> str | None:
    lines = _kind_head(o.name, index)
    entries = index.nodes.get(o.extra.span, [])
    if entries:
        lines.append("")
    for tn, node in entries[:MAX_NODES]:
        lines.append(f"- {_application(tn, node)}")
    if len(entries) > MAX_NODES:
        lines.append(f"- … {len(entries) - MAX_NODES} more")

    def at_use(caller, sub, use):
        found = _nodes_at(sub, o.extra)
        return _application(sub, found[-1]) if found else None

    lines += _at_uses(index, o.net, at_use)
    return "\n".join(lines) if lines else None


# -- parameters, symbols, dims ---------------------------------------------------------------------

def _param(index: Index, o: Occurrence) -> str | None:
    tn = index.typed_of(o.net)
    if tn is None:
        return _code(f"parameter {o.name}")
    value = tn.param_env.get(o.name, tn.params.get(o.name))
    free = o.name not in tn.param_env and o.name not in tn.param_defaults and hasattr(value, "terms")
    lines = [_code(f"parameter {o.name}" + ("" if free else f" = {_literal(value)}"))]
    if o.name in tn.param_defaults:
        lines += ["", f"default: `{_literal(tn.param_defaults[o.name])}`"]
    if o.name in tn.fixed:
        where = tn.pins.get(o.name)
        lines += ["", "the checked shapes depend on its value"
                  + (f" (first at line {where.line})" if where is not None else "")]
    lines += _at_uses(index, o.net, lambda caller, sub, use: f"`{_literal(use.block_args[o.name])}`"
                      if o.name in use.block_args else None)
    return "\n".join(lines)


def _symbol(index: Index, o: Occurrence) -> str | None:
    tn = index.typed_of(o.net)
    lines = [_code(f"symbolic dim {o.name}")]
    if tn is not None and o.name in tn.input_symbols:
        k, j = tn.input_symbols[o.name]
        inp = tn.inputs[k] if k < len(tn.inputs) else None
        where = f"dim {j} of input `{inp.name}`" if inp is not None and j >= 0 else "an input's shape"
        lines += ["", f"declared by {where}: any size, the same wherever it is written"]

    def at_use(caller, sub, use):
        d = use.block_symbols.get(o.name)
        return None if d is None else f"`{render(caller.dim(d))}`"

    lines += _at_uses(index, o.net, at_use)
    return "\n".join(lines)


def _owner_value(index: Index, tn: TypedNetwork, net: A.Network, owner: tuple) -> Value | None:
    """The value a shape is written for: an input's, a chain source's, a stage's result."""
    what, node = owner
    if what == "input":
        return index.value_of(tn, net, node.name)
    if what == "source":
        if isinstance(node, A.Ref):
            return index.value_of(tn, net, node.name, node.attr)
        found = _nodes_at(tn, node) if isinstance(node, A.Call) else []
        return found[-1].outputs[0] if found and found[-1].outputs else None
    made = index.result_node(tn, A.Chain(node.span, node, None, [node]))
    return made.outputs[0] if made is not None and made.outputs else None


def _owner_name(owner: tuple) -> str:
    what, node = owner
    if what == "input":
        return f"input `{node.name}`"
    if what == "source":
        return f"`{node.text}`" if isinstance(node, A.Ref) else "the value"
    while isinstance(node.core, A.StageGroup) and node.core.stages:
        node = node.core.stages[-1]
    return f"the result of `{node.core.name}`" if isinstance(node.core, A.StageCall) else "the result"


def _dim_line(tn: TypedNetwork, v: Value | None, i: int) -> str | None:
    if v is None or v.tensor is None or i >= v.tensor.rank:
        return None
    origin = v.tensor.origins[i]
    return f"`{render(tn.dim(v.tensor.shape[i]))}`" + (f", set by {origin}" if origin is not None else "")


def _dim(index: Index, o: Occurrence) -> str | None:
    tn = index.typed_of(o.net)
    if tn is None:
        return None
    owner, i = o.extra
    v = _owner_value(index, tn, o.net, owner)
    shown = _dim_line(tn, v, i)
    lines = [f"dim {i} of {_owner_name(owner)}: {shown}" if shown else f"dim {i}: not inferred"]
    if o.name:
        what = index.scopes[id(o.net)].classify(o.name, True)
        more = _SHOW[what](index, Occurrence(o.start, o.end, what, o.net, o.name))
        lines += ["", more] if more else []
    elif owner[0] != "input":
        lines += _at_uses(index, o.net, lambda caller, sub, use: _dim_line(sub, _owner_value(index, sub, o.net, owner), i))
    return "\n".join(lines)


# -- arguments, networks, constants ----------------------------------------------------------------

def _arg(index: Index, o: Occurrence) -> str | None:
    kind = REGISTRY.get(o.extra)
    if kind is not None:
        f = kind.Args.model_fields.get(o.name)
        if f is None:
            return None
        default = "required" if f.is_required() else f"default `{_literal(f.default)}`"
        doc = kind.arg_doc(o.name)
        return "\n".join([_code(f"{o.extra}({o.name}=...)"), *(["", doc] if doc else []), "",
                          f"takes {takes(kind, o.name)}; {default}"])
    net = index.networks.get(o.extra)
    if net is None:
        return None
    p = next((p for p in net.params if p.name == o.name), None)
    if p is not None:
        return _code(f"parameter {o.name} of network {net.name}")
    return _code(f"input {o.name} of network {net.name}") if any(i.name == o.name for i in net.inputs) else None


def _network(index: Index, o: Occurrence) -> str | None:
    tn = index.typed_of(o.net)
    lines = [_code(f"network {o.name}")]
    if tn is None:
        return lines[0]
    lines.append("")
    lines += [f"- input `{v.name}`: `{_type(tn, v)}`" for v in tn.inputs]
    lines += [f"- output `{name}`: `{_type(tn, v)}`" for name, v in tn.outputs]
    lines += ["", f"{count(tn.total_params)} parameters"]
    if tn.generic:
        uses = len(index.uses.get(o.net.span, []))
        lines += ["", f"used as a stage ({uses} uses): checked on its own over free symbols, "
                      "and again at each use"]
    return "\n".join(lines)


def _constant(index: Index, o: Occurrence) -> str | None:
    value = CONSTANTS.get(o.name)
    return _code(f"dtype {value}") if isinstance(value, str) else None


_SHOW = {"value": _value, "stage": _stage, "param": _param, "symbol": _symbol, "dim": _dim, "arg": _arg,
         "network": _network, "constant": _constant}
