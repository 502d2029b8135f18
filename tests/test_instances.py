"""Checking a network once for each distinct way it is used changes nothing a user can see.

A use of a network whose signature (the network, its argument values, its inputs' types,
the caller's parameters) was checked cleanly before takes a copy of that check, with its
inputs' origins put in (netspec/instances.py). Each spec here is checked with that reuse
off and on, and everything the check gives must be the same (tests/checked.py: every
diagnostic, node, value, origin, cost and fact, in uses of networks too) and so must the
generated module.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from checked import everything

import netspec.instances as instances
from netspec import limits
from netspec.build import BuildError, generate
from netspec.checker import Checker, check_text
from netspec.diagnostics import Reporter
from netspec.parser import parse

ROOT = Path(__file__).resolve().parent.parent
FILES = sorted((ROOT / "specs").glob("*.net")) + [
    p for p in sorted((ROOT / "tests" / "broken").glob("*.net")) if p.stem != "encoding"]  # not UTF-8

BLOCK = """network Block(c, k=3) {
    input x: float[batch, c, h, w]
    out = x -> Conv2d(c, k, padding=k // 2) -> BatchNorm2d(c) -> ReLU
    y = add(out, x) -> ReLU
    output y
}
"""

CASES = {
    # uses with two input shapes, inputs whose dims come from different layers (the first
    # use's from an input, a pool and a conv; the later ones' from one use), other arguments
    "shapes": BLOCK + """
network Main {
    input image: float[batch, 3, 32, 32]
    stem = image -> Conv2d(8, 3, padding=1) -> MaxPool2d(2)
    a = stem -> Block(8) -> Block(8) -> Block(8)
    b = a -> MaxPool2d(2) -> Block(8) -> Block(8)
    c = b -> Block(8, k=5) -> Block(8, 5) -> Block(c=8)
    d = c -> Conv2d(16, 1) -> Block(16) -> Block(16)
    output d
}
""",
    # a network used inside one used many times, with its own parameters
    "nested": BLOCK + """
network Pair(c) {
    input x: float[batch, c, h, w]
    y = x -> Block(c) -> Block(c, k=1)
    output y
}

network Main(width=8) {
    input image: float[batch, width, 16, 16]
    a = image -> Pair(width) -> Pair(width) -> Pair(width)
    b = a -> AvgPool2d(2) -> Pair(width) -> Pair(width)
    output b
}
""",
    # a use that does not check (a size it cannot take), between uses that do, and a
    # network with an unused value (its warning is the network's own)
    "errors": """network Lin(n) {
    input x: float[batch, 8]
    spare = x -> ReLU
    y = x -> Linear(n)
    output y
}

network Main {
    input x: float[batch, 8]
    input z: float[batch, 9]
    a = x -> Lin(8) -> Lin(8)
    b = z -> Lin(8)
    c = a -> Lin(8) -> Lin(8)
    output b, c
}
""",
    # free parameters no caller checks again: the facts the uses need are required of them
    "free": """network Grouped(c, g) {
    input x: float[batch, c, h, w]
    y = x -> Conv2d(c, 3, padding=1, groups=g) -> ReLU
    output y
}

network Main(width, groups) {
    input x: float[batch, width, 16, 16]
    a = x -> Grouped(width, groups) -> Grouped(width, groups) -> Grouped(width, groups)
    output a
}
""",
    # a repetition whose count is a parameter: more layers than the text shows ahead
    "repeat": """network Rep(k) {
    input x: float[batch, 8]
    y = x -> (Linear(8) -> ReLU) * k
    output y
}

network Main {
    input x: float[batch, 8]
    a = x -> Rep(3) -> Rep(3) -> Rep(3) -> Rep(3) -> Rep(3)
    output a
}
""",
    # a shared module inside a network used several times, and ops that write in place
    "shared": """network Step {
    input x: float[batch, 4]
    input h0: float[batch, 3]
    shared cell = RNNCell(3)
    h1 = x -> cell(hx=h0)
    h2 = x -> cell(hx=h1)
    output h2
}

network Main {
    input x: float[batch, 4]
    input h: float[batch, 3]
    a = Step(x, h)
    b = Step(x, a)
    c = Step(x, b) -> ReLU(inplace=true)
    d = add(c, b) -> ReLU(inplace=true)
    output d
}
""",
}


def outcome(text: str, reuse: bool, monkeypatch) -> tuple:
    monkeypatch.setattr(instances, "REUSE", reuse)
    result = check_text(text, "case.net")
    code = None
    if result.ok and result.networks:
        try:
            code = generate(result, "case.net").code
        except BuildError as e:
            code = f"BuildError: {e}"
    return everything(result), code


def reused(text: str, monkeypatch) -> int:
    monkeypatch.setattr(instances, "REUSE", True)
    checker = Checker(parse(text, "case.net", Reporter()), Reporter())
    checker.check()
    return checker.instances.reused


@pytest.mark.parametrize("name", CASES)
def test_hand_written_uses(name, monkeypatch):
    text = CASES[name]
    assert outcome(text, True, monkeypatch) == outcome(text, False, monkeypatch)
    assert reused(text, monkeypatch) > 0


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_spec(path, monkeypatch):
    text = path.read_text()
    assert outcome(text, True, monkeypatch) == outcome(text, False, monkeypatch)


def test_resnet18_copies_the_uses_it_repeats(monkeypatch):
    """layer1's two BasicBlock(64) uses have one signature: the second is a copy."""
    assert reused((ROOT / "specs" / "resnet18.net").read_text(), monkeypatch) == 1


@pytest.mark.parametrize("max_layers", range(16, 37, 2))
def test_a_copy_that_would_pass_the_layer_limit_is_checked(max_layers, monkeypatch):
    """Past the layer limit within a use's layers (a repetition counted by a parameter, which
    the bound checked before a use does not see): that use is checked, and reports it."""
    monkeypatch.setattr(limits, "MAX_LAYERS", max_layers)
    text = CASES["repeat"]
    off = outcome(text, False, monkeypatch)
    assert any("layers and ops" in d[0]["message"] for d in off[0][0])
    assert outcome(text, True, monkeypatch) == off
