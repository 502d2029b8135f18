"""`netspec explain`: every number it shows against torch.

For every worked example of every kind, each ``dim i: ... = N`` line of the explanation must
state the size torch's result has in that dim, and where the line shows arithmetic (the
formula with the numbers put in), Python's evaluation of that text must give the same size:
the formula is checked on its own, not through netspec's shape rule. The window layers
(convolutions, transposed convolutions, pools) must show the arithmetic for every spatial
dim; reshape's -1 and flatten's product likewise.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
from test_kinds_torch import EXAMPLES, example_spec, example_tensors, flat  # noqa: E402
from test_kinds_torch import stage_call as torch_stage_call  # noqa: E402

from netspec.checker import check_text  # noqa: E402
from netspec.explain import explain_node  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

LINE = re.compile(r"^\s+(?:(\w+) )?dim (\d+): (?:(.*) = (-?\d+)\b|(\S+?)(?:,|$))")
ARITHMETIC = re.compile(r"[0-9+\-*/() <>=]+")
# the kinds whose explanation must show the arithmetic of each spatial dim
WINDOWS = ("Conv", "ConvTranspose", "MaxPool", "AvgPool", "LPPool")

RUNNABLE = [(k, i, ex) for k, i, ex in EXAMPLES if ex["input"] is not None]


def explained(kind, ex):
    text, stage, types = example_spec(kind, ex)
    result = check_text(text, "kind.net")
    assert not result.reporter.errors, [d.message for d in result.reporter.errors]
    (net,) = result.networks
    (node,) = net.nodes
    return node, explain_node(net, node), stage, types


@pytest.mark.parametrize("kind,index,ex", RUNNABLE, ids=[f"{k.name}-{i}" for k, i, _ in RUNNABLE])
def test_explained_sizes_are_torchs(kind, index, ex):
    node, lines, stage, types = explained(kind, ex)
    env = example_tensors(types)
    _, call = torch_stage_call(stage, env.get("x"), env)
    results = dict(zip(node.result_names, flat(call())))
    first = node.result_names[0]
    formulas = 0
    for text in lines:
        m = LINE.match(text)
        if not m:
            continue
        name, dim, formula, value = m.group(1) or first, int(m.group(2)), m.group(3) or "", m.group(4) or m.group(5)
        actual = results[name].shape[dim]
        assert value == str(actual), (stage, text, actual)
        if ARITHMETIC.fullmatch(formula) and re.search(r"[0-9]", formula):
            assert eval(formula) == actual, (stage, text, actual)  # noqa: S307 (digits and operators only)
            formulas += 1 if re.search(r"[-+*/]", formula) else 0
    stated = {(m.group(1) or first, int(m.group(2))) for m in map(LINE.match, lines) if m}
    assert stated == {(n, d) for n in node.result_names for d in range(results[n].dim())}, lines  # every dim
    if kind.name.rstrip("123d").endswith(WINDOWS) and not kind.name.startswith("Adaptive"):
        assert formulas == getattr(kind, "n", 0), lines  # the arithmetic of every spatial dim


@pytest.mark.parametrize("kind", sorted({k.name for k, _, _ in RUNNABLE if k.name in (
    "Linear", "Embedding", "Flatten", "flatten", "reshape", "LSTM", "GRU", "RNN", "LSTMCell", "Conv2d", "MaxPool2d")}))
def test_explanations_say_how_the_input_is_read(kind):
    for k, _, ex in RUNNABLE:
        if k.name == kind:
            _, lines, _, _ = explained(k, ex)
            assert any(t.strip().startswith("reads:") for t in lines), lines


def test_explain_names_the_weights_of_a_layer():
    from netspec import api
    from netspec.explain import explain_network

    net = api.load("specs/bilstm.net").result.networks[-1]
    text = "\n".join(explain_network(net, 5))
    assert "weight_ih_l1_reverse [1024, 512]" in text and "output dim 2: 2*256 = 512" in text


def run(*args):
    return subprocess.run([sys.executable, "-m", "netspec", *args], capture_output=True, text=True)


def test_explain_command():
    r = run("explain", "specs/lenet.net:6")
    assert r.returncode == 0, r.stderr
    assert "dim 2: (28 + 2*2 - 1*(5-1) - 1)//1 + 1 = 28" in r.stdout
    assert "weights: weight [6, 1, 5, 5], bias [6]" in r.stdout
    assert "line 7" not in r.stdout  # one line's layers
    every = run("explain", "specs/lenet.net")
    lines = [i for i, text in enumerate((ROOT / "specs" / "lenet.net").read_text().split("\n"), 1)
             if "->" in text]  # the spec's stages, one a line
    assert every.returncode == 0 and f"Linear (logits), line {lines[-1]}" in every.stdout
    nothing = run("explain", "specs/lenet.net:2")
    assert nothing.returncode == 2
    shown = ", ".join(map(str, lines))
    assert f"no layer on that line (layers are on lines {shown})" in nothing.stderr
    broken = run("explain", "specs/oops.net")
    assert broken.returncode == 1 and "error[layout]" in broken.stdout


def test_explain_does_not_import_torch():
    code = ("import sys; from netspec.cli import main; main(['explain', 'specs/resnet18.net']); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
