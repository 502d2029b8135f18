"""What `netspec check` prints: the torchinfo-style table and the JSON contract."""

from __future__ import annotations

from typing import Any

from netspec.dims import Dim, render
from netspec.infer import LayerNode, TypedNetwork, Value
from netspec.types import Tensor


def dim_json(d: Dim) -> int | str:
    """A dim as LANGUAGE.md's JSON wants it: an int, or a Python integer expression."""
    return d if isinstance(d, int) else render(d)


def tensor_json(net: TypedNetwork, name: str, t: Tensor | None) -> dict[str, Any]:
    if t is None:
        return {"name": name, "dtype": None, "shape": None}
    return {"name": name, "dtype": t.dtype, "shape": [dim_json(d) for d in net.shape(t)]}


def result_names(node: LayerNode) -> list[str]:
    """The names of a node's results: `output` / `h_n` / `c_n`, or a block's outputs."""
    if node.block is not None:
        names = [n for n, _ in node.block.outputs]
    else:
        names = list(node.kind.results)
    return [names[i] if i < len(names) else f"output{i}" for i in range(len(node.outputs))]


def node_label(node: LayerNode) -> str:
    """Where a node lives in the spec, as the user named it (`enc`, `logits`, `conv1`)."""
    return node.alias or node.binding or ""


def network_json(net: TypedNetwork) -> dict[str, Any]:
    return {
        "name": net.name,
        "params": dim_json(net.total_params),
        "inputs": [tensor_json(net, v.name, v.tensor) for v in net.inputs],
        "outputs": [tensor_json(net, name, v.tensor) for name, v in net.outputs],
        "layers": [
            {
                "kind": node.kind_name,
                "line": node.span.line,
                "params": dim_json(net.dim(node.params)),
                "outputs": [tensor_json(net, rname, v.tensor)
                            for rname, v in zip(result_names(node), node.outputs)],
            }
            for node in net.nodes
        ],
    }


# -- the table --------------------------------------------------------------------------------

def _fmt_count(d: Dim) -> str:
    return f"{d:,}" if isinstance(d, int) else render(d)


def _value_text(net: TypedNetwork, v: Value, with_dtype: bool) -> str:
    if v.tensor is None:
        return "?"
    shape = net.show(v.tensor)
    return f"{v.tensor.dtype}{shape}" if with_dtype else shape


def network_table(net: TypedNetwork, color: bool = False, width: int = 100) -> str:
    def bold(s: str) -> str:
        return f"\x1b[1m{s}\x1b[0m" if color else s

    def dim_(s: str) -> str:
        return f"\x1b[2m{s}\x1b[0m" if color else s

    rows: list[tuple[str, str, str]] = []
    for v in net.inputs:
        rows.append((f"{v.name} (input)", _value_text(net, v, True), ""))
    for node in net.nodes:
        head = node.kind_name
        label = node_label(node)
        depth = max(0, len(node.group) - 1)  # every stage opens a group; nested ones indent
        name = f"{'  ' * depth}{head}" + (f" ({label})" if label else "") + f" :{node.span.line}"
        names = result_names(node)
        for i, v in enumerate(node.outputs):
            in_dtype = node.inputs[0].tensor.dtype if node.inputs and node.inputs[0].tensor else None
            changed = v.tensor is not None and v.tensor.dtype != in_dtype
            text = _value_text(net, v, changed)
            if len(node.outputs) > 1:
                text = f"{names[i]}: {text}"
            params = "" if i else (_fmt_count(net.dim(node.params)) if node.is_layer else "--")
            rows.append((name if i == 0 else "", text, params))
        if node.error:
            rows.append(("", dim_(f"(error: {node.error})"), ""))
    for oname, v in net.outputs:
        rows.append((f"{oname} (output)", _value_text(net, v, True), ""))
    c1 = max([len("Layer (kind, name, line)")] + [len(r[0]) for r in rows]) + 2
    c2 = max([len("Output shape")] + [len(r[1]) for r in rows]) + 2
    c3 = max([len("Param #")] + [len(r[2]) for r in rows])
    total = c1 + c2 + c3
    rule = "=" * total
    thin = "-" * total
    head = f"{'Layer (kind, name, line)':<{c1}}{'Output shape':<{c2}}{'Param #':>{c3}}"
    title = f"network {net.name}"
    if net.param_env or net.params:
        shown = []
        for p in net.ast.params:
            val = net.param_env.get(p.name, net.params.get(p.name))
            shown.append(f"{p.name}={_lit(val)}")
        title += "(" + ", ".join(shown) + ")"
    out = [bold(title), rule, bold(head), rule]
    for r in rows:
        out.append(f"{r[0]:<{c1}}{r[1]:<{c2}}{r[2]:>{c3}}".rstrip())
    out.append(rule)
    out.append(f"Total params: {_fmt_count(net.total_params)}")
    out.append(thin)
    return "\n".join(out)


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
