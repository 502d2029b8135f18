"""What `netspec check` prints: the torchinfo-style table and the JSON contract."""

from __future__ import annotations

from typing import Any

from netspec.costs import FIELDS as COST_FIELDS
from netspec.costs import Costs, bind, cost_json, human, human_bytes, human_flops, layer_costs, network_costs
from netspec.diagnostics import printable
from netspec.dims import Dim, render
from netspec.graph import Node, TypedNetwork, Value
from netspec.types import Tensor, show_shape


def dim_json(d: Dim) -> int | str:
    """A dim as LANGUAGE.md's JSON wants it: an int, or a Python integer expression."""
    return d if isinstance(d, int) else render(d)


def tensor_json(net: TypedNetwork, name: str, t: Tensor | None, env: dict | None = None) -> dict[str, Any]:
    if t is None:
        return {"name": name, "dtype": None, "shape": None}
    return {"name": name, "dtype": t.dtype, "shape": [dim_json(bind(d, env)) for d in net.shape(t)]}


def node_label(node: Node) -> str:
    """Where a node lives in the spec, as the user named it (`enc`, `logits`, `conv1`)."""
    return node.alias or node.binding or ""


def network_json(net: TypedNetwork, env: dict | None = None) -> dict[str, Any]:
    """LANGUAGE.md's network object, with the costs of docs/costs.md; ``env`` gives symbols values."""
    return {
        "name": net.name,
        "params": dim_json(net.total_params),
        **costs_json(network_costs(net, env)),
        "inputs": [tensor_json(net, v.name, v.tensor, env) for v in net.inputs],
        "outputs": [tensor_json(net, name, v.tensor, env) for name, v in net.outputs],
        "layers": [
            {
                "kind": node.kind_name,
                "line": node.span.line,
                "params": dim_json(net.dim(node.params)),
                **costs_json(layer_costs(net, node, env)),
                "outputs": [tensor_json(net, rname, v.tensor, env)
                            for rname, v in zip(node.result_names, node.outputs)],
            }
            for node in net.nodes
        ],
        **({"tensors": [{**tensor_json(net, d.name, d.value.tensor, env), "role": d.role,
                         "params": dim_json(net.dim(d.params))} for d in net.tensors]} if net.tensors else {}),
    }


def costs_json(c: Costs) -> dict[str, int | str | None]:
    return {name: cost_json(value) for name, value in zip(COST_FIELDS, c.values())}


# -- the table --------------------------------------------------------------------------------

def _fmt_count(d: Dim) -> str:
    return f"{d:,}" if isinstance(d, int) else render(d)


def _value_text(net: TypedNetwork, v: Value, with_dtype: bool, env: dict | None, shape_texts: dict) -> str:
    """A value's type as the table shows it; ``shape_texts`` keeps each shape's text (a big
    network repeats a few shapes thousands of times)."""
    t = v.tensor
    if t is None:
        return "?"
    shape = shape_texts.get(t.shape)
    if shape is None:
        shape = shape_texts[t.shape] = show_shape([bind(d, env) for d in net.shape(t)])
    return f"{t.dtype}{shape}" if with_dtype else shape


def network_table(net: TypedNetwork, color: bool = False, width: int = 100, costs: bool = False,
                  env: dict | None = None) -> str:
    """The summary table; ``costs`` adds FLOPs and memory columns, ``env`` gives symbols values."""
    def bold(s: str) -> str:
        return f"\x1b[1m{s}\x1b[0m" if color else s

    rows = _rows(net, costs, env, color)
    c1 = max([len("Layer (kind, name, line)")] + [len(r[0]) for r in rows]) + 2
    c2 = max([len("Output shape")] + [len(r[1]) for r in rows]) + 2
    c3 = max([len("Param #")] + [len(r[2]) for r in rows])
    heads = COST_HEADS if costs else ()
    cw = [max([len(h)] + [len(r[3 + k]) for r in rows]) + 2 for k, h in enumerate(heads)]
    total = c1 + c2 + c3 + sum(cw)
    rule = "=" * total
    head = f"{'Layer (kind, name, line)':<{c1}}{'Output shape':<{c2}}{'Param #':>{c3}}" + \
        "".join(f"{h:>{w}}" for h, w in zip(heads, cw))
    out = [bold(printable(_title(net))), rule, bold(head), rule]
    for r in rows:
        out.append((f"{r[0]:<{c1}}{r[1]:<{c2}}{r[2]:>{c3}}" + "".join(f"{c:>{w}}" for c, w in zip(r[3:], cw)))
                   .rstrip())
    out += [rule, f"Total params: {_fmt_count(net.total_params)}"]
    if costs:
        c = network_costs(net, env)
        out.append(f"Total FLOPs: {_total(c.flops, human_flops)}")
        out.append(f"Params size: {_total(c.param_bytes, human_bytes)}")
        out.append(f"Activations: {_total(c.activation_bytes, human_bytes)}")
    out.append("-" * total)
    return "\n".join(out)


def _title(net: TypedNetwork) -> str:
    title = f"network {net.name}"
    if net.param_env or net.params:
        shown = [f"{p}={_lit(net.param_env.get(p, net.params.get(p)))}" for p in net.param_names]
        title += "(" + ", ".join(shown) + ")"
    return title


def _rows(net: TypedNetwork, costs: bool, env: dict | None, color: bool) -> list[tuple[str, ...]]:
    """The table's rows: inputs, a row per result of each node (and one for its error), outputs."""
    rows: list[tuple[str, ...]] = []
    shape_texts: dict = {}
    blank = ("",) * (len(COST_HEADS) if costs else 0)
    for v in net.inputs:
        rows.append((f"{v.name} (input)", _value_text(net, v, True, env, shape_texts), "", *blank))
    for d in net.tensors:
        rows.append((f"{d.name} ({d.role})", _value_text(net, d.value, True, env, shape_texts),
                     _fmt_count(net.dim(d.params)), *blank))
    for node in net.nodes:
        rows += _node_rows(net, node, costs, env, shape_texts, blank)
        if node.error:
            error = printable(f"(error: {node.error})")
            rows.append(("", f"\x1b[2m{error}\x1b[0m" if color else error, "", *blank))
    for oname, v in net.outputs:
        rows.append((f"{oname} (output)", _value_text(net, v, True, env, shape_texts), "", *blank))
    return rows


def _node_rows(net: TypedNetwork, node: Node, costs: bool, env: dict | None, shape_texts: dict,
               blank: tuple) -> list[tuple[str, ...]]:
    label = node_label(node)
    depth = max(0, len(node.group) - 1)  # every stage opens a group; nested ones indent
    name = f"{'  ' * depth}{node.kind_name}" + (f" ({label})" if label else "") + f" :{node.span.line}"
    names = node.result_names
    in_dtype = node.inputs[0].tensor.dtype if node.inputs and node.inputs[0].tensor else None
    rows = []
    for i, v in enumerate(node.outputs):
        changed = v.tensor is not None and v.tensor.dtype != in_dtype
        text = _value_text(net, v, changed, env, shape_texts)
        if len(node.outputs) > 1:
            text = f"{names[i]}: {text}"
        params = "" if i else (_fmt_count(net.dim(node.params)) if node.is_module else "--")
        extra = _cost_cells(layer_costs(net, node, env)) if costs and i == 0 else blank
        rows.append((name if i == 0 else "", text, params, *extra))
    return rows


COST_HEADS = ("FLOPs", "Params size", "Activations")


def _cost_cells(c: Costs) -> tuple[str, str, str]:
    return (human(c.flops, human_flops), human(c.param_bytes, human_bytes),
            human(c.activation_bytes, human_bytes))


def _total(d: Dim | None, fmt) -> str:
    """A rounded total with the exact count beside it: '4.7 MFLOPs (4,718,592)'."""
    text = human(d, fmt)
    return f"{text} ({d:,})" if isinstance(d, int) and not text.startswith(f"{d} ") else text


def _lit(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, tuple):
        return "(" + ", ".join(_lit(x) for x in v) + ")"
    if isinstance(v, float):
        return repr(v)
    return render(v) if v is not None else "?"
