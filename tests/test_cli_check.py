"""`netspec check` as a user runs it: a separate process, exit statuses, table and JSON.

The JSON is validated against its schema (netspec/schema/check.schema.json) and, beyond
what a schema can say, every dim is an int or a Python integer expression over the names of
the network's symbols, every id names a value of the network, and the graph the ids describe
is the one the spec wires.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from schema import assert_valid

from netspec.codes import CODES

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
GOOD = sorted(p for p in SPECS.glob("*.net") if p.name != "oops.net")
TORCH_DTYPES = {"float32", "float16", "bfloat16", "float64", "int64", "int32", "bool"}

TOP_KEYS = {"ok", "diagnostics", "networks"}
DIAGNOSTIC_KEYS = {"severity", "code", "message", "file", "line", "column", "end_line", "end_column",
                   "notes", "help"}
NETWORK_KEYS = {"name", "params", "inputs", "outputs", "layers"}
LAYER_KEYS = {"kind", "name", "module", "line", "params", "kernel", "inputs", "tensors", "outputs"}
TENSOR_KEYS = {"name", "dtype", "shape", "id"}


# -- the JSON contract --------------------------------------------------------------------------

def _dim_names(text: str) -> set[str]:
    """The names in a dim expression, after checking it is integer arithmetic and nothing else
    (`max(c, m)`, two broadcast sizes where either may be 1, the one call)."""
    tree = ast.parse(text, mode="eval")
    allowed = (ast.Expression, ast.Name, ast.Load, ast.BinOp, ast.UnaryOp, ast.Add, ast.Sub,
               ast.Mult, ast.FloorDiv, ast.Mod, ast.USub, ast.Constant)
    calls = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            assert isinstance(node.func, ast.Name) and node.func.id == "max" and len(node.args) >= 2 \
                and not node.keywords, f"{text!r} calls something other than max"
            calls.add(id(node.func))
            continue
        assert isinstance(node, allowed), f"{text!r} has {type(node).__name__}"
        if isinstance(node, ast.Constant):
            assert type(node.value) is int, text
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in calls}


def _check_dim(d, names: set[str]) -> None:
    if isinstance(d, str):
        used = _dim_names(d)
        assert used, f"{d!r} is a constant written as a string"
        assert used <= names, f"{d!r} uses {used - names}, not a symbol of the network"
    else:
        assert type(d) is int, d


def _check_tensor(t: dict, names: set[str], inferred: bool = True) -> None:
    assert set(t) == TENSOR_KEYS, t
    assert isinstance(t["name"], str) and t["name"]
    if not inferred and t["dtype"] is None:
        assert t["shape"] is None  # a value the failed check could not infer
        return
    assert t["dtype"] in TORCH_DTYPES, t
    assert isinstance(t["shape"], list)
    for d in t["shape"]:
        _check_dim(d, names)


# The costs (docs/costs.md), with one training step's memory; each holds a dim, or null where
# a failed check (or a layer whose saved tensors are not stated) leaves it unknown. Any other
# key breaks the contract.
EXTENSION_KEYS = {"flops", "param_bytes", "activation_bytes",
                  "saved_bytes", "grad_bytes", "optimizer_bytes", "transient_bytes", "peak_bytes"}


def _check_extensions(obj: dict, names: set[str], ok: bool) -> None:
    for key in set(obj) & EXTENSION_KEYS:
        if obj[key] is None and (not ok or key in ("saved_bytes", "peak_bytes")):  # or a kind says unknown
            continue
        _check_dim(obj[key], names)


def validate_report(report: dict, param_names: dict[str, set[str]]) -> None:
    assert_valid(report)
    assert set(report) == TOP_KEYS
    assert type(report["ok"]) is bool
    assert isinstance(report["diagnostics"], list) and isinstance(report["networks"], list)
    for d in report["diagnostics"]:
        assert set(d) == DIAGNOSTIC_KEYS, d
        assert d["severity"] in ("error", "warning")
        assert d["code"] in CODES
        for key in ("message", "file"):
            assert isinstance(d[key], str) and d[key]
        for key in ("line", "column", "end_line", "end_column"):
            assert type(d[key]) is int and d[key] >= 1
        assert (d["end_line"], d["end_column"]) >= (d["line"], d["column"])
        assert isinstance(d["notes"], list) and all(isinstance(n, str) for n in d["notes"])
        assert d["help"] is None or isinstance(d["help"], str)
    assert report["ok"] == (not any(d["severity"] == "error" for d in report["diagnostics"]))
    for net in report["networks"]:
        assert NETWORK_KEYS <= set(net), net.keys()
        assert set(net) - NETWORK_KEYS <= EXTENSION_KEYS | {"weights", "tensors", "training_cases"}, \
            set(net) - NETWORK_KEYS
        for case in net.get("training_cases", []):  # present only where no one formula holds
            assert set(case) == {"when", *EXTENSION_KEYS} - {"flops", "param_bytes", "activation_bytes"}, case
            assert net["saved_bytes"] is None and isinstance(case["when"], str)
        for t in net.get("tensors", []):  # declared params and buffers, present only when there are some
            assert {"name", "dtype", "shape", "role", "params"} <= set(t), t
            assert t["role"] in ("param", "buffer")
        assert isinstance(net["name"], str)
        symbols = {d for t in net["inputs"] for d in t["shape"] if isinstance(d, str)}
        symbols = {n for d in symbols for n in _dim_names(d)}
        # a network checked generically (free parameters) states sizes over its parameters
        names = symbols | param_names.get(net["name"], set())
        if net["params"] is not None or report["ok"]:  # null only where a layer failed
            _check_dim(net["params"], names)
        _check_extensions(net, names, report["ok"])
        for case in net.get("training_cases", []):
            _check_extensions(case, names, report["ok"])
        for t in net["inputs"]:
            _check_tensor(t, names)
        for t in net["outputs"]:
            _check_tensor(t, names, inferred=report["ok"])
        assert isinstance(net["layers"], list)
        for layer in net["layers"]:
            assert LAYER_KEYS <= set(layer), layer.keys()
            assert set(layer) - LAYER_KEYS <= EXTENSION_KEYS | {"training_cases"}, set(layer) - LAYER_KEYS
            _check_extensions(layer, names, report["ok"])
            for case in layer.get("training_cases", []):  # present only where no one formula holds
                assert set(case) == {"when", "saved_bytes", "grad_bytes", "optimizer_bytes"}, case
                assert layer["saved_bytes"] is None and isinstance(case["when"], str)
                assert case["saved_bytes"] is not None, case
                _check_extensions(case, names, report["ok"])
            assert isinstance(layer["kind"], str) and layer["kind"]
            assert type(layer["line"]) is int and layer["line"] >= 1
            if layer["params"] is not None or report["ok"]:
                _check_dim(layer["params"], names)
            assert isinstance(layer["outputs"], list) and layer["outputs"]
            for t in layer["outputs"]:
                _check_tensor(t, names, inferred=report["ok"])
        _check_ids(net)


def _check_ids(net: dict) -> None:
    """Ids number the inputs, the declared tensors, then every layer's results, in order; a
    layer reads only values made before it; a network output is one of them."""
    made = [t["id"] for t in net["inputs"] + net.get("tensors", [])]
    assert made == list(range(len(made)))
    for layer in net["layers"]:
        for ref in layer["inputs"] + list(layer["tensors"].values()):
            assert ref is None or ref in made, (layer, made)
        ids = [t["id"] for t in layer["outputs"]]
        assert ids == list(range(len(made), len(made) + len(ids)))
        made += ids
    for t in net["outputs"]:
        assert t["id"] is None or t["id"] in made


def _param_names(paths) -> dict[str, set[str]]:
    from netspec.checker import check_text

    out: dict[str, set[str]] = {}
    for p in paths:
        module = check_text(Path(p).read_text(), str(p)).module
        for net in module.networks:
            out[net.name] = {q.name for q in net.params}
    return out


@pytest.fixture(scope="module")
def good_table(run_cli):
    return run_cli("check", *GOOD)


@pytest.fixture(scope="module")
def good_json(run_cli):
    return run_cli("check", "--json", *GOOD)


# -- exit statuses ------------------------------------------------------------------------------

def test_good_specs_check_clean(good_table):
    proc = good_table
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stderr == ""
    lines = proc.stdout.rstrip().splitlines()
    assert lines[-1] == f"{len(GOOD)} files: {len(GOOD)} ok"
    for spec in GOOD:  # a line for each file
        assert f"{spec}: ok" in lines
    assert "error" not in proc.stdout


def test_oops_is_exit_1(run_cli):
    for args in (["check", "specs/oops.net"], ["check", "specs/lenet.net", "specs/oops.net"]):
        proc = run_cli(*args)
        assert proc.returncode == 1, args
        assert "Traceback" not in proc.stderr


USAGE_ERRORS = [
    (["check", "specs/no_such_spec.net"], "no such file"),
    (["check", "specs"], "directory"),
    (["check", "--set", "hidden", "specs/charrnn.net"], "NAME=VALUE"),
    (["check", "--set", "nope=3", "specs/charrnn.net"], "nope"),
    (["check", "--bogus", "specs/charrnn.net"], "--bogus"),
]
MORE_USAGE_ERRORS = [
    (["check", "specs/lenet.net", "specs/no_such_spec.net"], "no such file"),
    (["check", "--set", "hidden=[1]", "specs/charrnn.net"], "hidden"),
    (["check", "--set", "=3", "specs/charrnn.net"], "NAME=VALUE"),
    (["check", "--json", "--set", "nope=3", "specs/charrnn.net"], "nope"),
    (["check"], "FILE"),
    (["frobnicate", "specs/charrnn.net"], "frobnicate"),
]


@pytest.mark.parametrize("args,message", USAGE_ERRORS, ids=[" ".join(a) for a, _ in USAGE_ERRORS])
def test_usage_errors_are_exit_2(run_cli, args, message):
    proc = run_cli(*args)
    assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
    assert proc.stderr.startswith("netspec: error:"), proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


@pytest.mark.parametrize("args,message", MORE_USAGE_ERRORS, ids=[" ".join(a) for a, _ in MORE_USAGE_ERRORS])
def test_more_usage_errors_are_exit_2(capsys, monkeypatch, args, message):
    """The same, in this process (a subprocess each would cost more than it proves)."""
    from netspec.cli import main

    monkeypatch.chdir(ROOT)
    try:
        status = main(args)
    except SystemExit as e:
        status = e.code
    out, err = capsys.readouterr()
    assert status == 2, (args, out, err)
    assert err.startswith("netspec: error:") and message in err
    assert out == ""


# -- JSON -----------------------------------------------------------------------------------------

def test_json_matches_the_contract(good_json):
    proc = good_json
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["ok"] is True and report["diagnostics"] == []
    validate_report(report, _param_names(GOOD))
    names = {n["name"] for n in report["networks"]}
    assert {"LeNet", "VGG16", "CharRNN", "RowLSTM", "QstEncoder", "ResNet18", "BasicBlock"} <= names
    # what docs/language.md's example promises, read through the contract
    (rnn,) = [n for n in report["networks"] if n["name"] == "CharRNN"]
    assert rnn["inputs"] == [{"name": "chars", "dtype": "int64", "shape": ["batch", "seq"], "id": 0}]
    # chars (0) -> Embedding (1) -> RNN (output 2, h_n 3) -> Linear (4) -> reshape (5)
    assert rnn["outputs"] == [{"name": "logits", "dtype": "float32", "shape": ["batch * seq", 4], "id": 5}]
    assert [(layer["kind"], layer["inputs"], layer["module"]) for layer in rnn["layers"]] == [
        ("Embedding", [0], "logits.0"), ("RNN", [1], "logits.1"), ("Linear", [2], "logits.2"),
        ("reshape", [4], None)]  # a binding without `as` names: one Sequential numbered from 0
    recurrent = [layer for layer in rnn["layers"] if layer["kind"] == "RNN"][0]
    assert [t["name"] for t in recurrent["outputs"]] == ["output", "h_n"]
    assert recurrent["outputs"][1]["shape"] == [2, "batch", 8]


def test_json_of_a_spec_with_errors(run_cli):
    proc = run_cli("check", "--json", "specs/oops.net")
    report = json.loads(proc.stdout)
    validate_report(report, _param_names([SPECS / "oops.net"]))
    assert report["ok"] is False
    (diag,) = report["diagnostics"]
    assert (diag["severity"], diag["code"], diag["file"], diag["line"], diag["column"]) == \
           ("error", "layout", "specs/oops.net", 3, 44)


def test_set_changes_shapes_and_params_as_torch_does(run_cli):
    torch = pytest.importorskip("torch")
    nn = torch.nn
    proc = run_cli("check", "--json", "--set", "hidden=16", "--set", "layers=3", "specs/lstm_state.net")
    assert proc.returncode == 0, proc.stdout
    (net,) = json.loads(proc.stdout)["networks"]

    embed, lstm, fc = nn.Embedding(1000, 64), nn.LSTM(64, 16, num_layers=3, dropout=0.1), nn.Linear(16, 1000)
    assert net["params"] == sum(p.numel() for m in (embed, lstm, fc) for p in m.parameters())

    env = {"batch": 3, "seq": 5}

    def size(shape):
        return [d if isinstance(d, int) else eval(d, {"__builtins__": {}}, env) for d in shape]

    tokens, h0, c0 = (torch.zeros(size(t["shape"]), dtype=getattr(torch, t["dtype"])) for t in net["inputs"])
    assert list(h0.shape) == [3, 3, 16]
    out, (h_n, c_n) = lstm(embed(tokens), (h0, c0))
    results = [fc(out), h_n, c_n]
    assert [(t["dtype"], size(t["shape"])) for t in net["outputs"]] == \
           [(str(r.dtype).removeprefix("torch."), list(r.shape)) for r in results]

    # an override that contradicts a shape assertion of the spec is a spec error
    proc = run_cli("check", "--set", "hidden=16", "specs/charrnn.net")
    assert proc.returncode == 1
    assert "charrnn.net:7:" in proc.stdout and "error[assert]" in proc.stdout


# -- the table ------------------------------------------------------------------------------------

def test_table_lists_every_layer_and_the_total(good_table, good_json):
    table = good_table.stdout
    report = json.loads(good_json.stdout)
    lines = table.splitlines()
    at = 0
    for net in report["networks"]:
        at = next(i for i in range(at, len(lines)) if re.match(rf"network {net['name']}\b", lines[i]))
        for layer in net["layers"]:
            row = re.compile(rf"^\s*{re.escape(layer['kind'])}( \([^)]*\))? :{layer['line']}\s")
            at = next((i for i in range(at + 1, len(lines)) if row.match(lines[i])), None)
            assert at is not None, f"{net['name']}: no row for {layer['kind']} at line {layer['line']}"
            params = layer["params"]
            shown = f"{params:,}" if isinstance(params, int) else params
            assert lines[at].endswith(shown) or (params == 0 and lines[at].endswith("--")), lines[at]
        total = net["params"]
        total_text = f"{total:,}" if isinstance(total, int) else total
        at = next(i for i in range(at, len(lines)) if lines[i].startswith("Total params:"))
        assert lines[at] == f"Total params: {total_text}"


def test_no_colour_when_stdout_is_not_a_terminal(run_cli, good_table):
    proc = run_cli("check", "specs/oops.net")
    for text in (proc.stdout, proc.stderr, good_table.stdout, good_table.stderr):
        assert "\x1b" not in text


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_colour_on_a_terminal():
    """The other side of the test above: on a terminal the table is coloured."""
    master, slave = os.openpty()
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env["PYTHONPATH"] = str(ROOT)
    env["TERM"] = "xterm"
    proc = subprocess.Popen([sys.executable, "-m", "netspec", "check", "specs/lenet.net"], cwd=ROOT, env=env,
                            stdout=slave, stderr=subprocess.DEVNULL)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.wait(timeout=60) == 0
    assert b"\x1b[" in b"".join(chunks)


# -- the console script ---------------------------------------------------------------------------

def test_console_script_is_declared(capsys):
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["netspec"] == "netspec.cli:console"
    module, _, func = project["scripts"]["netspec"].partition(":")
    assert callable(getattr(__import__(module, fromlist=[func]), func))
    from netspec.cli import main  # what the console script runs on the command line's arguments
    assert main(["check", str(SPECS / "lenet.net")]) == 0
    assert "Total params: 61,706" in capsys.readouterr().out


# -- ending the process -------------------------------------------------------------------------

ATEXIT_PROBE = """
import atexit, sys
atexit.register(lambda: print("teardown ran", file=sys.stderr))
{imports}
from netspec.cli import console
sys.argv = ["netspec", *sys.argv[1:]]
console()
"""


def _probe(imports: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", ATEXIT_PROBE.format(imports=imports), *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture
def big_spec(tmp_path) -> Path:
    """3000 layers: a table and a report far larger than a pipe's buffer."""
    lines = ["network Big {", "    input x: float[batch, 8]", "    h0 = x"]
    lines += [f"    h{i} = h{i - 1} -> Linear(8)" for i in range(1, 3001)]
    lines += ["    output h3000", "}"]
    spec = tmp_path / "big.net"
    spec.write_text("\n".join(lines) + "\n")
    return spec


def test_the_command_skips_the_interpreter_teardown_and_loses_no_output(big_spec, capsys):
    spec = big_spec
    proc = _probe("", "check", "--json", str(spec))
    assert proc.returncode == 0, proc.stderr
    assert "teardown ran" not in proc.stderr  # ended at once, every byte flushed before:
    from netspec.cli import main
    assert main(["check", "--json", str(spec)]) == 0
    assert json.loads(proc.stdout) == json.loads(capsys.readouterr().out)
    assert len(json.loads(proc.stdout)["networks"][0]["layers"]) == 3000
    oops = _probe("", "check", "specs/oops.net")
    assert oops.returncode == 1 and "teardown ran" not in oops.stderr and "error" in oops.stdout


def test_a_process_that_imported_torch_ends_normally():
    pytest.importorskip("torch")
    proc = _probe("import torch", "check", "specs/lenet.net")
    assert proc.returncode == 0
    assert "teardown ran" in proc.stderr


def test_a_reader_that_goes_away_is_no_error(big_spec):
    """`netspec check big.net | head`: the table does not fit the pipe, the reader stops."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "netspec", "check", str(big_spec)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.read(10)
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 0
    assert err == b""


def test_schema_lists_every_code_and_dtype():
    from netspec.report import json_schema
    from netspec.types import DTYPES

    defs = json_schema()["$defs"]
    assert set(defs["diagnostic"]["properties"]["code"]["enum"]) == set(CODES)
    assert set(defs["dtype"]["enum"]) == set(DTYPES.values())


def test_json_with_weights_follows_the_schema(run_cli):
    proc = run_cli("check", "--json", "--weights", "specs/resnet18.net", "specs/bilstm.net")
    assert proc.returncode == 0, proc.stderr
    report = assert_valid(json.loads(proc.stdout))
    validate_report(report, _param_names(["specs/resnet18.net", "specs/bilstm.net"]))
    (resnet,) = [n for n in report["networks"] if n["name"] == "ResNet18"]
    assert resnet["weights"][0] == {"name": "conv1.weight", "dtype": "float32", "shape": [64, 3, 7, 7],
                                    "trainable": True}  # torchvision's resnet18 names it so
    assert sum(w["trainable"] for w in resnet["weights"]) == 62  # torchvision's resnet18: 62 parameter tensors


def test_a_long_formula_is_a_note_under_the_table(run_cli):
    """A CPU float32 LSTM saves a workspace rounded to pages: a formula of many terms. Its
    cell shows `[1]` and the formula is listed whole under the table, every line no wider
    than the table's rule, so one cell never widens the table."""
    out = run_cli("check", "specs/bilstm.net", "--costs").stdout
    lines = out.splitlines()
    rule = next(line for line in lines if line.startswith("="))
    assert all(len(line) <= len(rule) for line in lines), max(lines, key=len)
    row = next(line for line in lines if line.startswith("LSTM (enc) :5"))
    assert row.endswith("[1]")
    at = next(i for i, line in enumerate(lines) if line.startswith("[1] LSTM (enc) :5, Saved: "))
    note = " ".join(line.strip() for line in lines[at:] if line.startswith(("[1]", "    ")))
    assert note.count("//") >= 4 and not any(line.startswith("[2]") for line in lines)
    saved = next(line for line in lines if line.startswith("Saved for backward: "))
    assert len(saved) <= len(rule) and lines[lines.index(saved) + 1].startswith("    ")


def test_the_json_of_a_block_whose_sizes_broadcast_states_their_maximum(run_cli, tmp_path):
    """`[batch, m] + [batch, c]` in a block: `max(c, m)` in the JSON, within its schema."""
    path = tmp_path / "blk.net"
    path.write_text("network Blk(m, c) {\n input x: float32[batch, m]\n input y: float32[batch, c]\n"
                    " z = add(x, y) -> Linear(8)\n output z\n}\n\nnetwork Top {\n input x: float32[batch, 6]\n"
                    " input y: float32[batch, 6]\n z = x -> Blk(y=y, m=6, c=6)\n output z\n}\n")
    proc = run_cli("check", "--json", str(path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    validate_report(report, _param_names([path]))
    (blk,) = [n for n in report["networks"] if n["name"] == "Blk"]
    assert blk["layers"][0]["outputs"][0]["shape"] == ["batch", "max(c, m)"]
    assert blk["params"] == "8 * max(c, m) + 8"
