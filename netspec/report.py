"""What `netspec check` prints: the summary table, the weight tensors, and the JSON.

The table's columns are chosen as torchinfo's ``col_names`` are: :data:`COLUMNS` holds every
column (its heading, alignment, one cell per layer and, for a cost, a total line), and
``network_table(columns=...)`` shows any of them in any order; ``depth`` expands networks
used as stages into their layers. A new column is one :class:`Column` added to
:data:`COLUMNS`. The JSON follows the schema shipped in ``netspec/schema/check.schema.json``.
"""

from __future__ import annotations

import functools
import json
import textwrap
from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple

from netspec.costs import (
    DEFAULT_OPTIMIZER,
    NETWORK_TRAINING_FIELDS,
    TRAINING_FIELDS,
    Costs,
    bind,
    cost_json,
    human,
    human_bytes,
    human_flops,
    layer_costs,
    layer_training,
    network_costs,
    network_training,
)
from netspec.costs import FIELDS as COST_FIELDS
from netspec.diagnostics import printable
from netspec.dims import Dim, is_short, render
from netspec.graph import Node, TypedNetwork, Value
from netspec.types import Tensor, show_shape

# -- JSON -------------------------------------------------------------------------------------


def dim_json(d: Dim) -> int | str:
    """A dim as the JSON gives it: an int, or a Python integer expression (a huge int as text)."""
    return d if isinstance(d, int) and is_short(d) else render(d)  # huge: hex text


def tensor_json(net: TypedNetwork, name: str, t: Tensor | None, env: dict | None = None,
                vid: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "dtype": None, "shape": None}
    if t is not None:
        out["dtype"] = t.dtype
        out["shape"] = [dim_json(bind(d, env)) for d in net.shape(t)]
    if vid is not None:
        out["id"] = vid
    return out


def node_label(node: Node) -> str:
    """Where a node lives in the spec, as the user named it (`enc`, `logits`, `conv1`)."""
    return node.alias or node.binding or ""


def value_ids(net: TypedNetwork) -> dict[int, int]:
    """id(value) -> its number in the JSON: the inputs first, the declared tensors, then each
    layer's results in order."""
    ids: dict[int, int] = {}
    for v in [*net.inputs, *(d.value for d in net.tensors)]:
        ids[id(v)] = len(ids)
    for node in net.nodes:
        for v in node.outputs:
            ids[id(v)] = len(ids)
    return ids


def network_json(net: TypedNetwork, env: dict | None = None, weights: bool = False,
                 optimizer: str = DEFAULT_OPTIMIZER) -> dict[str, Any]:
    """The network object of the JSON report (netspec/schema/check.schema.json), with the
    costs of docs/costs.md (training memory for ``optimizer``); ``env`` gives symbols
    values; ``weights`` adds the state_dict."""
    from netspec.pycode import module_paths

    ids = value_ids(net)
    paths = module_paths(net)
    training = network_training(net, optimizer, env)
    out = {
        "name": net.name,
        "params": None if _any_failed(net) else dim_json(net.total_params),
        **costs_json(network_costs(net, env)),
        **{f: cost_json(v) for f, v in zip(NETWORK_TRAINING_FIELDS, training.values(NETWORK_TRAINING_FIELDS))},
        "inputs": [tensor_json(net, v.name, v.tensor, env, ids[id(v)]) for v in net.inputs],
        "outputs": [tensor_json(net, name, v.tensor, env, ids.get(id(v))) for name, v in net.outputs],
        "layers": [layer_json(net, node, env, ids, paths.get(id(node)), optimizer) for node in net.nodes],
        **({"tensors": [{**tensor_json(net, d.name, d.value.tensor, env, ids[id(d.value)]), "role": d.role,
                         "params": dim_json(net.dim(d.params))} for d in net.tensors]} if net.tensors else {}),
    }
    if training.cases:  # no one formula: one for each range of a symbol
        out["training_cases"] = [{"when": when, **{f: cost_json(v) for f, v in zip(
            NETWORK_TRAINING_FIELDS, case.values(NETWORK_TRAINING_FIELDS))}} for when, case in training.cases]
    if weights:
        out["weights"] = weights_json(net, env)
    return out


def layer_json(net: TypedNetwork, node: Node, env: dict | None, ids: dict[int, int], module: str | None,
               optimizer: str = DEFAULT_OPTIMIZER) -> dict:
    kernel = node.kind.kernel(node.args) if node.kind is not None and node.args is not None else None
    training = layer_training(net, node, optimizer, env)
    cases = {"training_cases": [{"when": when, **{f: cost_json(v) for f, v in zip(TRAINING_FIELDS, case.values())}}
                                for when, case in training.cases]} if training.cases else {}
    return {
        "kind": node.kind_name,
        "name": node_label(node) or None,
        "module": module,
        "line": node.span.line,
        "params": None if node.error and node.is_module else dim_json(net.dim(node.params)),
        "kernel": [dim_json(net.dim(k)) for k in kernel] if kernel else None,
        **costs_json(layer_costs(net, node, env)),
        **{f: cost_json(v) for f, v in zip(TRAINING_FIELDS, training.values())},
        **cases,  # no one formula of the saved bytes: one for each range of a symbol
        "inputs": [ids.get(id(v)) for v in node.inputs],
        "tensors": {k: ids.get(id(v)) for k, v in node.state.items()},
        "outputs": [tensor_json(net, rname, v.tensor, env, ids[id(v)])
                    for rname, v in zip(node.result_names, node.outputs)],
    }


def weights_json(net: TypedNetwork, env: dict | None = None) -> list[dict]:
    from netspec.weights import network_weights

    return [{"name": e.name, "dtype": e.dtype, "shape": [dim_json(bind(d, env)) for d in e.shape],
             "trainable": e.trainable} for e in network_weights(net)]


def costs_json(c: Costs) -> dict[str, int | str | None]:
    return {name: cost_json(value) for name, value in zip(COST_FIELDS, c.values())}


def json_schema() -> dict:
    """The JSON Schema of `netspec check --json`'s output (shipped with the package)."""
    from importlib import resources  # only for --json; it costs a check's start-up time

    text = resources.files("netspec").joinpath("schema", "check.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


# -- the table: its columns -------------------------------------------------------------------


@dataclass
class Table:
    """What every cell of one network's table reads: the network shown (its totals), the
    values given to symbols, and the shape texts made so far (a big network repeats a few
    shapes thousands of times)."""

    net: TypedNetwork
    env: dict | None = None
    shape_texts: dict = field(default_factory=dict)
    optimizer: str = DEFAULT_OPTIMIZER  # whose state the training memory counts

    def value_text(self, net: TypedNetwork, v: Value, with_dtype: bool) -> str:
        t = v.tensor
        if t is None:
            return "?"
        key = (id(net), t.shape)
        shape = self.shape_texts.get(key)
        if shape is None:
            shape = self.shape_texts[key] = show_shape([bind(d, self.env) for d in net.shape(t)])
        return f"{t.dtype}{shape}" if with_dtype else shape

    def costs(self, net: TypedNetwork, node: Node) -> Costs:
        return layer_costs(net, node, self.env)

    @functools.cached_property
    def total_params(self) -> Dim:
        return self.net.total_params


Cells = Callable[[Table, TypedNetwork, Node], list[str]]


class Column(NamedTuple):
    """One column of the table: ``key`` names it in ``--columns``; ``cells`` gives a layer's
    lines (one per result for the output column); ``total`` the line under the table."""

    key: str
    head: str
    align: str  # "<" or ">"
    help: str
    cells: Cells
    total: Callable[[Table], str] | None = None


def _output_cells(t: Table, net: TypedNetwork, node: Node) -> list[str]:
    in_dtype = node.inputs[0].tensor.dtype if node.inputs and node.inputs[0].tensor else None
    lines = []
    for name, v in zip(node.result_names, node.outputs):
        changed = v.tensor is not None and v.tensor.dtype != in_dtype
        text = t.value_text(net, v, changed)
        lines.append(f"{name}: {text}" if len(node.outputs) > 1 else text)
    return lines


def _input_cells(t: Table, net: TypedNetwork, node: Node) -> list[str]:
    lines = [t.value_text(net, v, False) for v in node.inputs]
    return lines + [f"{k}: {t.value_text(net, v, False)}" for k, v in node.state.items()]


def _param_cells(t: Table, net: TypedNetwork, node: Node) -> list[str]:
    if not node.is_module:
        return ["--"]
    return ["?" if node.error else _fmt_count(net.dim(node.params))]


def _total_params(t: Table) -> str:
    """The network's parameters; a layer that could not be inferred has a count nobody knows."""
    return _fmt_count(t.total_params) + (" + ? (layers not inferred)" if _any_failed(t.net) else "")


def _any_failed(net: TypedNetwork) -> bool:
    return any(n.error and n.is_module for n in net.nodes)


def _percent_cells(t: Table, net: TypedNetwork, node: Node) -> list[str]:
    n, total = net.dim(node.params), t.total_params
    if not node.is_module or node.error or not isinstance(n, int) or not isinstance(total, int):
        return ["--"]
    return [f"{100 * n / total:.2f}%" if total else "0.00%"]


def _kernel_cells(t: Table, net: TypedNetwork, node: Node) -> list[str]:
    kernel = node.kind.kernel(node.args) if node.kind is not None and node.args is not None else None
    return [show_shape([net.dim(k) for k in kernel]) if kernel else "--"]


def _trainable_cells(t: Table, net: TypedNetwork, node: Node) -> list[str]:
    n = net.dim(node.params)
    return ["--" if not node.is_module or n == 0 else "True"]


def _cost_column(key: str, head: str, fld: str, fmt, total_label: str, help: str) -> Column:
    def cells(t: Table, net: TypedNetwork, node: Node) -> list[str]:
        return [human(getattr(t.costs(net, node), fld), fmt)]

    def total(t: Table) -> str:
        return f"{total_label}: {_total(getattr(network_costs(t.net, t.env), fld), fmt)}"

    return Column(key, head, ">", help, cells, total)


def _saved_cells(t: Table, net: TypedNetwork, node: Node) -> list[str]:
    """What a layer is the first to save for backward in training (docs/costs.md)."""
    m = layer_training(net, node, t.optimizer, t.env)
    if m.saved_bytes is None and m.cases:  # one formula for each range of a symbol, a line each
        return [f"{when}: {_shown(case.saved_bytes)}" for when, case in m.cases]
    saved = m.saved_bytes
    return ["unknown" if saved is None and t.costs(net, node).flops is not None else human(saved, human_bytes)]


def _training_total(t: Table) -> str:
    """One training step's memory: "unknown" where a layer cannot state it."""
    m = network_training(t.net, t.optimizer, t.env)

    def line(label: str, field: str) -> str:
        d = getattr(m, field)
        if d is None and m.cases:  # one formula for each range of a symbol
            return label + ":" + "".join(f"\n  {when}: {_shown(getattr(case, field))}" for when, case in m.cases)
        return f"{label}: {_shown(d)}"

    return "\n".join([line("Saved for backward", "saved_bytes"), line("Gradients", "grad_bytes"),
                      line(f"Optimizer state ({t.optimizer})", "optimizer_bytes"),
                      line("Training step peak (estimate)", "peak_bytes")])


def _shown(d: Dim | None) -> str:
    return _total(d, human_bytes) if d is not None else "unknown"


COLUMNS: dict[str, Column] = {c.key: c for c in [
    Column("input", "Input shape", "<", "the shapes a layer reads (its tensors given by keyword by name)",
           _input_cells),
    Column("output", "Output shape", "<", "the shape of every result (the dtype where it changes)", _output_cells),
    Column("kernel", "Kernel", "<", "the window of a convolution or a pool", _kernel_cells),
    Column("params", "Param #", ">", "parameters (-- for an op, which has none)", _param_cells),
    Column("percent", "Param %", ">", "the layer's share of the network's parameters", _percent_cells),
    Column("trainable", "Trainable", ">", "True where the layer has trained parameters", _trainable_cells),
    _cost_column("flops", "FLOPs", "flops", human_flops, "Total FLOPs", "forward FLOPs (docs/costs.md)"),
    _cost_column("param_bytes", "Params size", "param_bytes", human_bytes, "Params size",
                 "bytes of the parameters"),
    _cost_column("activations", "Activations", "activation_bytes", human_bytes, "Activations",
                 "bytes of the results of a forward pass"),
    Column("saved", "Saved", ">", "bytes the layer is first to save for backward in training, and the training "
           "step's totals (docs/costs.md)", _saved_cells, _training_total),
]}
DEFAULT_COLUMNS = ("output", "params")
COST_COLUMNS = ("flops", "param_bytes", "activations", "saved")


def choose_columns(names: list[str] | None = None, costs: bool = False) -> tuple[str, ...]:
    """The columns shown: ``names`` (default: output shape and parameters), then the costs'
    with ``costs``. An unknown name raises KeyError with the names there are."""
    chosen = list(names) if names else list(DEFAULT_COLUMNS)
    for name in chosen:
        if name not in COLUMNS:
            raise KeyError(name)
    if costs:
        chosen += [c for c in COST_COLUMNS if c not in chosen]
    return tuple(dict.fromkeys(chosen))


# -- the table: its rows ----------------------------------------------------------------------

LAYER_HEAD = "Layer (kind, name, line)"
LONG_CELL = 80  # a longer cell is a note under the table (its formula in full)
NOTE_WIDTH = 80  # an error under a layer wraps at the table's width, or at this in a narrow table


class Row(NamedTuple):
    layer: str
    cells: dict[str, str]
    note: str | None = None  # an error under a layer: wrapped to the table's width, never widening it


def network_table(net: TypedNetwork, color: bool = False, width: int = 100, costs: bool = False,
                  env: dict | None = None, columns: tuple[str, ...] | None = None, depth: int = 0,
                  optimizer: str = DEFAULT_OPTIMIZER) -> str:
    """The summary table: ``columns`` (default :data:`DEFAULT_COLUMNS`; ``costs`` adds the
    cost columns), ``env`` gives symbols values, ``depth`` expands networks used as stages
    that many levels deep, ``optimizer`` names the optimizer whose state the training
    memory counts. An error under a layer is wrapped to the table's width (``width`` is kept
    for callers; the table is as wide as its cells)."""
    def bold(s: str) -> str:
        return f"\x1b[1m{s}\x1b[0m" if color else s

    keys = choose_columns(list(columns) if columns else None, costs)
    cols = [COLUMNS[k] for k in keys]
    t = Table(net, env, optimizer=optimizer)
    rows, notes = _footnoted(_rows(t, keys, depth), {c.key: c.head for c in cols})
    widths = [max([len(LAYER_HEAD)] + [len(r.layer) for r in rows if r.note is None])]
    widths += [max([len(c.head)] + [len(r.cells.get(c.key, "")) for r in rows]) for c in cols]
    total = sum(widths) + 2 * len(cols)
    rule = "=" * total
    head = _line(widths, [LAYER_HEAD] + [c.head for c in cols], ["<"] + [c.align for c in cols])
    out = [bold(printable(_title(net))), rule, bold(head), rule]
    for r in rows:
        if r.note is not None:
            out += _note_lines(r.note, widths[0] + 2, max(total, NOTE_WIDTH), color)
            continue
        out.append(_line(widths, [r.layer] + [r.cells.get(c.key, "") for c in cols],
                         ["<"] + [c.align for c in cols]))
    out += [rule, f"Total params: {_total_params(t)}"]
    totals = "\n".join(c.total(t) for c in cols if c.total is not None).splitlines()
    out += [w for line in totals for w in _hanging(line, max(total, NOTE_WIDTH))]
    out.append("-" * total)
    for n, (layer, head, text) in enumerate(notes, 1):
        out += _hanging(f"[{n}] {layer.strip()}, {head}: {text}", max(total, NOTE_WIDTH))
    return "\n".join(out)


def _footnoted(rows: list[Row], heads: dict[str, str]) -> tuple[list[Row], list[tuple[str, str, str]]]:
    """Rows whose cost cells are longer than LONG_CELL (a formula of many terms: a workspace
    rounded to pages) show ``[n]`` instead, the whole text listed under the table as note n, so one
    cell never widens the table."""
    notes: list[tuple[str, str, str]] = []
    out, layer = [], ""
    for r in rows:
        layer = r.layer or layer
        cells = dict(r.cells)
        for key, text in r.cells.items():
            if key in COST_COLUMNS and len(text) > LONG_CELL:
                notes.append((layer, heads.get(key, key), text))
                cells[key] = f"[{len(notes)}]"
        out.append(r._replace(cells=cells))
    return out, notes


def _hanging(line: str, width: int) -> list[str]:
    """A line under the table wrapped at the table's width, later lines indented."""
    if len(line) <= width:
        return [line]
    return textwrap.wrap(line, width, subsequent_indent="    ", break_long_words=False, break_on_hyphens=False)


def _line(widths: list[int], texts: list[str], aligns: list[str]) -> str:
    """One line of the table: the layer column, then each column 2 spaces from the last."""
    parts = [f"{texts[0]:<{widths[0]}}"]
    for w, text, align in zip(widths[1:], texts[1:], aligns[1:]):
        parts.append("  " + (f"{text:<{w}}" if align == "<" else f"{text:>{w}}"))
    return "".join(parts).rstrip()


def _note_lines(note: str, indent: int, total: int, color: bool) -> list[str]:
    lines = textwrap.wrap(note, max(total - indent, 30), break_long_words=True, break_on_hyphens=False)
    pad = " " * indent
    return [pad + (f"\x1b[2m{line}\x1b[0m" if color else line) for line in lines]


def _rows(t: Table, keys: tuple[str, ...], depth: int) -> list[Row]:
    """Inputs, a row per result of each layer (with an error note under it), outputs."""
    net = t.net
    rows = [Row(f"{v.name} (input)", {"output": t.value_text(net, v, True)}) for v in net.inputs]
    rows += [Row(f"{d.name} ({d.role})", {"output": t.value_text(net, d.value, True),
                                          "params": _fmt_count(net.dim(d.params))}) for d in net.tensors]
    for node in net.nodes:
        rows += _node_rows(t, net, node, keys, depth, 0)
    rows += [Row(f"{oname} (output)", {"output": t.value_text(net, v, True)}) for oname, v in net.outputs]
    return rows


def _node_rows(t: Table, net: TypedNetwork, node: Node, keys: tuple[str, ...], depth: int,
               level: int) -> list[Row]:
    label = node_label(node)
    indent = "  " * (level + max(0, len(node.group) - 1))  # nested groups and stages indent
    name = f"{indent}{node.kind_name}" + (f" ({label})" if label else "") + f" :{node.span.line}"
    cells = {k: COLUMNS[k].cells(t, net, node) for k in keys}
    rows = [Row(name if i == 0 else "", {k: lines[i] for k, lines in cells.items() if i < len(lines)})
            for i in range(max([1] + [len(v) for v in cells.values()]))]
    if node.error:
        rows.append(Row("", {}, printable(_error_note(node))))
    if node.block is not None and level < depth and node.error is None:
        for inner in node.block.nodes:
            rows += _node_rows(t, node.block, inner, keys, depth, level + 1)
    return rows


def _error_note(node: Node) -> str:
    """What the table says under a layer that could not be inferred: the error's message,
    or where to read it (a diagnostic below names the argument the message is about)."""
    if node.error == "not inferred":
        return "not inferred: a value it reads failed above"
    if " " not in node.error or node.error == "not concrete":
        return f"error: see the diagnostic at line {node.span.line} below"
    return f"error: {node.error}"


# -- the weight tensors -----------------------------------------------------------------------


def weights_table(net: TypedNetwork, env: dict | None = None, color: bool = False) -> str:
    """Every tensor of the built module's state_dict: name, shape (with its dtype where it is
    not float32), element count, and whether it is trained (a buffer is not)."""
    from netspec.weights import network_weights

    entries = network_weights(net)
    rows = []
    for e in entries:
        shape = show_shape([bind(d, env) for d in e.shape], None if e.dtype == "float32" else e.dtype)
        count = _numel(e.shape, env)
        rows.append((printable(e.name), shape, _fmt_count(count) if e.trainable else "buffer",
                     f"{e.node.kind_name if e.node else 'declared'} :{e.line}"))
    heads = ("Tensor (state_dict name)", "Shape", "Param #", "Layer")
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(heads)]
    total = sum(widths) + 2 * (len(widths) - 1)
    aligns = ["<", "<", ">", "<"]
    head = _line(widths, list(heads), aligns)
    out = [f"\x1b[1mweights of {net.name}\x1b[0m" if color else f"weights of {net.name}", "=" * total,
           f"\x1b[1m{head}\x1b[0m" if color else head, "=" * total]
    out += [_line(widths, list(r), aligns) for r in rows]
    trained = sum(e.trainable for e in entries)
    out += ["=" * total, f"{trained} parameter tensor{'s' * (trained != 1)}, {len(entries) - trained} "
            f"buffer{'s' * (len(entries) - trained != 1)}", "-" * total]
    return "\n".join(out)


def _numel(shape, env) -> Dim:
    n: Dim = 1
    for d in shape:
        n = n * bind(d, env)
    return n


# -- helpers ----------------------------------------------------------------------------------


def _fmt_count(d: Dim) -> str:
    return f"{d:,}" if isinstance(d, int) else render(d)
def table_data(net: TypedNetwork, costs: bool = False, env: dict | None = None) -> tuple[str, list[str], list[tuple]]:
    """The summary table as data, for a renderer of its own (the Sphinx directive): the
    title, the column heads, and the rows (the table's last row gives the total parameters)."""
    keys = choose_columns(None, costs)
    cols = [COLUMNS[k] for k in keys]
    t = Table(net, env)
    rows = [tuple([r.layer] + [r.cells.get(c.key, "") for c in cols]) for r in _rows(t, keys, 0) if r.note is None]
    total = ["Total params"] + [_total_params(t) if c.key == "params" else "" for c in cols]
    rows.append(tuple(total))
    return printable(_title(net)), [LAYER_HEAD] + [c.head for c in cols], rows


def _title(net: TypedNetwork) -> str:
    title = f"network {net.name}"
    if net.param_env or net.params:
        shown = [f"{p}={_lit(net.param_env.get(p, net.params.get(p)))}" for p in net.param_names]
        title += "(" + ", ".join(shown) + ")"
    return title


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
