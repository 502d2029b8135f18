"""`netspec explain FILE[:LINE]`: how each layer derived its result, step by step.

For every layer (or those of one line): its input and result types, which input dim it
reads as the batch, time or channels and why, each result dim with the formula that made
it and the numbers put in (``dim 2: (28 + 2*0 - 1*(5-1) - 1)//1 + 1 = 24``), and its weight
tensors. What is particular to a kind is its ``Kind.explain`` hook (kinds/why.py); the dims
a kind does not explain are told from where their size came from. Never imports torch.
"""

from __future__ import annotations

import re

from .costs import bound_args
from .dims import dividing, render
from .graph import Node, TypedNetwork
from .kinds.memory import trained
from .types import Tensor, show_shape

_DIM_LINE = re.compile(r"^(?:(\w+) )?dim (\d+):")


def explain_file(networks: list[TypedNetwork], line: int | None = None) -> list[str] | None:
    """Every network's explanation, under its name; None when ``line`` holds no layer."""
    out: list[str] = []
    for net in networks:
        lines = explain_network(net, line)
        if lines:
            out += [f"network {net.name}", ""] + lines
    return out if out or line is None else None


def layer_lines(networks: list[TypedNetwork]) -> list[int]:
    return sorted({node.span.line for net in networks for node in net.nodes})


def explain_network(net: TypedNetwork, line: int | None = None) -> list[str]:
    """The explanation of each layer of ``net`` (on ``line`` only, when given)."""
    out: list[str] = []
    for node in net.nodes:
        if line is None or node.span.line == line:
            out += explain_node(net, node) + [""]
    return out


def _shown(net: TypedNetwork, t: Tensor | None) -> Tensor | None:
    """The tensor with the network's parameters given their values, as a user reads it."""
    return None if t is None else Tensor(t.dtype, tuple(net.shape(t)), t.origins)


def _header(net: TypedNetwork, node: Node, ins: list, outs: list) -> str:
    label = node.alias or node.binding
    show = [("?" if t is None else show_shape(t.shape, t.dtype)) for t in ins]
    results = [("?" if t is None else show_shape(t.shape, t.dtype)) for t in outs]
    if len(outs) > 1:
        results = [f"{n}: {r}" for n, r in zip(node.result_names, results)]
    name = node.kind_name + (f" ({label})" if label else "")
    return f"{name}, line {node.span.line}: {', '.join(show) or '(no input)'} -> {', '.join(results)}"


def explain_node(net: TypedNetwork, node: Node) -> list[str]:
    ins = [_shown(net, v.tensor) for v in node.inputs]
    outs = [_shown(net, v.tensor) for v in node.outputs]
    out = [_header(net, node, ins, outs)]
    if node.error is not None or node.args is None or any(t is None for t in ins + outs):
        why_not = node.error if node.error not in (None, "not inferred") else "an earlier layer failed"
        return out + [f"  not inferred: {why_not}"]
    if node.block is not None:
        return out + [f"  the network {node.kind_name}, used as a stage: `netspec explain` its own lines"]
    a = bound_args(net, node.args)
    told = node.kind.explain(a, ins, outs)
    if not any(t.startswith("reads:") for t in told):
        told = _generic_reads(node, a, ins) + told
    multi = len(outs) > 1
    order = {(name if multi else None): r for r, name in enumerate(node.result_names)}
    dims = {}
    for t in told:
        m = _DIM_LINE.match(t)
        if m:
            dims[(order.get(m.group(1), 0), int(m.group(2)))] = t
        else:
            out.append(f"  {t}")
    for r, (name, t) in enumerate(zip(node.result_names, outs)):
        for i, d in enumerate(t.shape):
            if (r, i) not in dims:
                dims[(r, i)] = f"{name + ' ' if multi else ''}dim {i}: {render(d)}, {_where(ins, t, i)}"
    return out + [f"  {dims[k]}" for k in sorted(dims)] + _weights(node, a)


def _generic_reads(node: Node, a, ins: list) -> list[str]:
    if not ins:
        return []
    axis = node.kind.batch_axis(a, ins[0].rank)
    if axis is None:
        return ["reads: no dim as the batch in particular"]
    return [f"reads: dim {axis} as the batch (kept as it is)"]


def _where(ins: list, t: Tensor, i: int) -> str:
    """Where a result dim the kind did not explain got its size."""
    origin = t.origins[i]
    for k, x in enumerate(ins):
        for j in sorted(range(x.rank), key=lambda j: j != i):  # the same index first
            o = x.origins[j]
            if o is not None and o == origin and x.shape[j] == t.shape[i]:
                which = f"input {k} " if len(ins) > 1 else "input "
                return f"kept from {which}dim {j}" + (f" (its size from {origin})" if origin else "")
    return "set by this layer"


def _weights(node: Node, a) -> list[str]:
    with dividing():  # a size divided by a free parameter (`groups=g`): `c // g`
        tensors = trained(node.kind.weights(a))
    if len(tensors) > 2:
        return ["  weights:"] + [f"    {n} {show_shape(s)}" for n, s in tensors]
    if tensors:
        return ["  weights: " + ", ".join(f"{n} {show_shape(s)}" for n, s in tensors)]
    if node.params != 0:
        return [f"  parameters: {render(node.params)}"]
    return ["  weights: none"]
