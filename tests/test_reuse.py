"""Reusing the result of a layer application seen before changes nothing a user can see.

The checker reuses the inferred result of an application (same layer, same argument
values, inputs of the same types) from the TRACE_AT-th time it sees it (netspec/memo.py).
Each spec here is checked with reuse off (TRACE_AT = 0), on from the first repeat
(TRACE_AT = 1) and as shipped; everything the check produces must be the same: every
diagnostic with its notes (which say where each size came from), every node's arguments,
parameter count and result types with the origin of every dim, the networks' outputs, the
parameters the shapes depend on, the JSON report and the generated module.

The specs: hand-written ones that repeat a layer over inputs with different histories, with
warnings, errors and allow comments; every worked example of every kind, applied to two
inputs and repeated; random valid networks (tests/netgen.py) and random sloppy ones
(tests/fuzzgen.py); the bundled specs and the broken ones.
"""

from __future__ import annotations

import random
from pathlib import Path

import fuzzgen
import netgen
import pytest

import netspec.checker as checker
import netspec.instances as instances
import netspec.memo as memo
from netspec.build import BuildError, generate
from netspec.checker import check_text
from netspec.kinds import REGISTRY, TensorArg
from netspec.report import network_json

ROOT = Path(__file__).resolve().parent.parent


def outcome(text: str, trace_at: int, monkeypatch) -> dict:
    monkeypatch.setattr(memo, "TRACE_AT", trace_at)
    monkeypatch.setattr(instances, "REUSE", False)  # every use checked: its applications reach the memo
    result = check_text(text, "case.net")
    nets = [_network(net) + (network_json(net),) for net in result.networks]
    code = None
    if result.ok and result.networks:
        try:
            code = generate(result, "case.net").code
        except BuildError as e:  # a spec check lets through and build refuses (the traps of tests/oracle.py)
            code = f"BuildError: {e}"
    return {"diagnostics": [d.to_json() | {"notes": d.notes, "help": d.help} for d in result.reporter.items],
            "networks": nets, "code": code}


def _network(net) -> tuple:
    """A typed network as plain values, with the network instantiated at each use."""
    nodes = [(n.kind_name, _args(n.args), n.params, n.error, n.span, n.alias,
              [(v.tensor.dtype, v.tensor.shape, v.tensor.origins) if v.tensor else None for v in n.outputs],
              _network(n.block) if n.block is not None else None)
             for n in net.nodes]
    outputs = [(name, v.tensor) for name, v in net.outputs]
    return (net.name, nodes, outputs, dict(net.fixed), net.total_params, list(net.requires))


def _args(a):
    if a is None:
        return None
    values = {k: (v.name, v.tensor) if isinstance(v, TensorArg) else v
              for k in a.model_fields for v in [getattr(a, k)]}
    return type(a).__name__, values, a.model_fields_set


def assert_same(text: str, monkeypatch) -> dict:
    off = outcome(text, 0, monkeypatch)
    assert outcome(text, 1, monkeypatch) == off
    assert outcome(text, 2, monkeypatch) == off
    return off


def reused(text: str, monkeypatch) -> int:
    """How many applications the check reused (with TRACE_AT = 1)."""
    monkeypatch.setattr(memo, "TRACE_AT", 1)
    monkeypatch.setattr(instances, "REUSE", False)
    count = 0
    original = checker.NetworkChecker._replay

    def counting(self, *a, **kw):
        nonlocal count
        count += 1
        return original(self, *a, **kw)

    monkeypatch.setattr(checker.NetworkChecker, "_replay", counting)
    check_text(text, "case.net")
    monkeypatch.setattr(checker.NetworkChecker, "_replay", original)
    return count


HAND_WRITTEN = {
    "residual": """
network Res(c=8) {
    input x: float[batch, c, 16, 16]
    input y: float[4, c, 16, 16]
    a = x -> Conv2d(c, 3, padding=1) -> BatchNorm2d(c) -> ReLU
    b = a -> Conv2d(c, 3, padding=1) -> BatchNorm2d(c) -> ReLU
    s = add(a, b) -> Conv2d(c, 3, padding=1) -> BatchNorm2d(c)
    t = y -> Conv2d(c, 3, padding=1) -> BatchNorm2d(c) -> ReLU
    u = s -> (Conv2d(c, 3, padding=1) -> ReLU) * 3 -> flatten(1) -> Linear(10)
    output u, t
}
""",
    "broadcast": """
network B {
    input x: float[batch, 1, 5]
    input y: float[3, 5]
    input z: float[batch, 3, 5]
    a = add(x, y)
    b = add(x, y)
    c = add(z, y)
    d = add(x, y) -> Linear(5, 4)
    e = c -> Linear(5, 4)
    output a, b, d, e
}
""",
    "recurrent": """
network R(h=6) {
    input ids: long[batch, seq]
    input ids2: long[batch, seq]
    e = ids -> Embedding(50, 8)
    f = ids2 -> Embedding(50, 8)
    r1 = e -> LSTM(h, batch_first=true)
    r2 = f -> LSTM(h, batch_first=true)
    r3 = e -> LSTM(h, batch_first=true)
    g = r3.output -> select(1, -1) -> Linear(3)
    output r1.h_n, r2.c_n, g
}
""",
    "warnings_and_errors": """
network W {
    input x: float[batch, 3, 8, 8]
    a = x -> Dropout(0.5) -> MaxPool2d(2) -> Conv2d(4, 3)
    b = x -> Dropout(0.5) -> MaxPool2d(2) -> Conv2d(4, 3)
    c = x -> Dropout(1.5)
    d = x -> Dropout(1.5)
    e = x -> Conv2d(4, 9)
    f = x -> Conv2d(4, 9)
    g = a -> Linear(4, 2) -> reshape(batch, 3, 4)
    h = b -> Linear(4, 2) -> reshape(batch, 3, 4)
    i = x -> flatten(1) -> Linear(20000000)
    j = x -> flatten(1) -> Linear(20000000)
    k = x -> flatten(1) -> Linear(20000000)
    l = x -> Conv2d(4, 3, stride=1) -> Linear(2, bias=true)
    m = x -> Conv2d(4, 3, stride=1) -> Linear(2, bias=true)
    n = x -> Conv2d(4, 3, stride=1) -> Linear(2, bias=1)
    o = x -> Conv2d(4, 3, stride=true)
    output a, b
}
""",
    "allow_comments": """
network L {
    input x: float[batch, seq, 8]
    a = x -> LSTM(4)  # netspec: allow[layout]
    b = x -> LSTM(4)
    c = x -> LSTM(4)  # netspec: allow[layout]
    d = x -> LSTM(4)
    e = x -> Linear(3)
    f = x -> Linear(3)
    output a.output, c.output, f
}
""",
    "blocks": """
network Block(c=4) {
    input x: float[batch, c, 8, 8]
    y = x -> Conv2d(c, 3, padding=1) -> ReLU -> Conv2d(c, 3, padding=1)
    output y
}
network Net {
    input x: float[batch, 4, 8, 8]
    a = x -> Block -> Block -> Block(4) -> Conv2d(4, 3, padding=1)
    b = a -> Block(c=4) -> Conv2d(4, 3, padding=1) -> Block
    output b
}
""",
    "parameters": """
network Block(c=4, k=3) {
    input x: float[batch, c, 8, 8]
    y = x -> Conv2d(c, k, padding=1) -> BatchNorm2d(c) -> ReLU -> reshape(batch, c * 64)
    output y
}
network Net(w=4, n=2) {
    input x: float[batch, w, 8, 8]
    a = x -> Block(w) -> reshape(batch, w, 8, 8) -> Block(c=w) -> reshape(batch, 4, 8, 8) -> Block(4)
    b = x -> Block(w, k=3) -> Linear(n) -> Linear(n)
    c = x -> Block -> Linear(n) -> Linear(2)
    output a, b, c
}
""",
    # (Pair's adds, checked generically, record a broadcast its class tests and are never
    # reused; the ReLUs after them are)
    "strictness": """
network Pair {
    input x: float[batch, 8]
    input y: float[seq, 8]
    z = add(x, y) -> ReLU
    w = add(x, y) -> ReLU
    output z, w
}
network Net {
    input x: float[batch, 8]
    input y: float[seq, 8]
    p = x -> Pair(y=y)
    z = add(x, y) -> ReLU
    output z
}
""",
    # (an application whose facts the class tests, `1 <= k` of a kernel from a parameter, is
    # never reused: the ReLUs are, under the parameters' values)
    # (each Linear(width) requires 1 <= width of the class's width, at its own line: a reused
    # application records it again where it stands)
    "required_sizes": """
network Wide(width=16) {
    input x: float[batch, 8]
    a = x -> Linear(width) -> ReLU -> Linear(width)
    b = a -> Linear(width)
    c = b -> Linear(width)
        -> Linear(width)
    output c
}
""",
    "parameter_values": """
network Block(k=3) {
    input x: float[batch, 2, 9, 9]
    y = x -> Conv2d(4, k) -> Conv2d(4, k)
    output y
}
network Net(k=5) {
    input x: float[batch, 2, 9, 9]
    a = x -> Block -> Conv2d(4, k)
    b = x -> Conv2d(4, k) -> Conv2d(4, k)
    c = x -> ReLU
    d = x -> ReLU
    output a, b, c, d
}
""",
    # add's equality k == 4 holds only for the caller's parameter value (k is its `n`): each
    # use of Pair must record that the caller's `n` is fixed, reused or not
    "fixed_by_equality": """
network Pair {
    input x: float[batch, k]
    input y: float[batch, 4]
    a = add(x, y)
    b = add(x, y)
    output a, b
}
network Net(n=4) {
    input x: float[batch, n]
    input y: float[batch, 4]
    p = x -> Pair(y=y)
    q = x -> Pair(y=y)
    output p.a, q.b
}
""",
}


@pytest.mark.parametrize("name", sorted(HAND_WRITTEN))
def test_hand_written_specs_check_the_same_with_reuse(name, monkeypatch):
    text = HAND_WRITTEN[name]
    assert_same(text, monkeypatch)
    assert reused(text, monkeypatch) > 0, "the spec must exercise reuse"


def test_origins_come_from_each_application_own_inputs(monkeypatch):
    """The reused LSTM of `r2` names `ids2`'s line as its batch dim's origin, not `ids`'s."""
    off = assert_same(HAND_WRITTEN["recurrent"], monkeypatch)
    _, nodes, *_ = off["networks"][0]
    lstms = [n for n in nodes if n[0] == "LSTM"]
    batch_origin = [n[6][0][2][0] for n in lstms]  # output's dim 0 with batch_first
    assert [o.span.line for o in batch_origin] == [3, 4, 3]
    layer_origin = [n[6][0][2][2] for n in lstms]  # the hidden size: the layer's own line
    assert [o.span.line for o in layer_origin] == [7, 8, 9]


def _example_specs():
    """Each worked example of each kind, applied to two inputs of its type and repeated."""
    out = []
    for kind in sorted({id(k): k for k in REGISTRY.values()}.values(), key=lambda k: k.name):
        for i, ex in enumerate(kind.examples):
            stage = ex["stage"]
            if ex["input"] is None:  # an op that starts a chain (arange)
                lines = [f"    v{r} = {stage}" for r in range(2)] + ["    output v0"]
                out.append((f"{kind.name}-{i}", "network Ex {\n" + "\n".join(lines) + "\n}\n"))
                continue
            others = ex.get("other_shapes") or [ex["input"]] * ex.get("others", 0)
            lines = [f"    input x{j}: {ex['input']}" for j in range(2)]
            lines += [f"    input o{j}: {t}" for j, t in enumerate(others)]
            lines += [f"    input {n}: {t}" for n, t in ex.get("tensors", {}).items()]
            extra = "".join(f", o{j}" for j in range(len(others)))
            for j in range(2):
                for r in range(2):
                    if not kind.is_module and others:  # an op of several tensors: all by position
                        name, _, rest = stage.partition("(")
                        call = f"{name}(x{j}{extra}" + (", " + rest if rest != ")" and rest else ")")
                        lines.append(f"    v{j}{r} = {call}")
                    else:
                        lines.append(f"    v{j}{r} = x{j} -> {stage}")
            lines.append("    output x0")
            out.append((f"{kind.name}-{i}", "network Ex {\n" + "\n".join(lines) + "\n}\n"))
    return out


def _takes_tensors(name: str) -> bool:
    """Whether the example passes tensors by keyword (a key, a mask): such an application is
    never reused (its result depends on those tensors too)."""
    kind, _, i = name.rpartition("-")
    return bool(REGISTRY[kind].examples[int(i)].get("tensors"))


@pytest.mark.parametrize("name,text", _example_specs(), ids=[n for n, _ in _example_specs()])
def test_kind_examples_check_the_same_with_reuse(name, text, monkeypatch):
    assert_same(text, monkeypatch)


def test_examples_reach_reuse(monkeypatch):
    specs = [(name, text) for name, text in _example_specs() if not _takes_tensors(name)]
    hits = sum(1 for _, text in specs if reused(text, monkeypatch))
    assert hits >= len(specs) * 3 // 4


@pytest.mark.parametrize("seed", range(60))
def test_random_networks_check_the_same_with_reuse(seed, monkeypatch):
    assert_same(netgen.sample(seed).text, monkeypatch)


@pytest.mark.parametrize("seed", range(150))
def test_random_sloppy_specs_check_the_same_with_reuse(seed, monkeypatch):
    d = fuzzgen.RandomDraw(random.Random(seed))
    text = fuzzgen.generated(d).decode("utf-8", "replace")
    assert_same(text, monkeypatch)


SPEC_FILES = sorted(ROOT.glob("specs/*.net")) + sorted(ROOT.glob("tests/broken/*.net"))


@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_spec_files_check_the_same_with_reuse(path, monkeypatch):
    assert_same(path.read_text(encoding="utf-8", errors="replace"), monkeypatch)
