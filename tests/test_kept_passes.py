"""The passes over a network's statements that a check keeps for the next check of the same
statements (checker._Kept: the parameters' references, the names the outputs use, the
networks used as stages), and check_modules' early answer for a network whose modules are
named by its bindings alone: each gives what the full pass gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from netspec import checker, codes, pycode
from netspec.checker import check_text
from netspec.ide.analysis import Analyzer
from netspec.report import network_json, network_table

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.net"))
BROKEN = sorted((ROOT / "tests" / "broken").glob("*.net"))

BASE = """network Block(c) {
    input x: float[batch, c]
    y = x -> Linear(c)
    output y
}

network N(w=4, r=0.5) {
    input x: float[batch, w]
    h = x -> Linear(w) -> Dropout(r)
    u = x -> ReLU
    b = h -> Block(w)
    output b
}
"""

# each a version of BASE after the one before; the statements whose text and place did not
# change are the same objects in the language server's parse
VERSIONS = [
    BASE,
    BASE.replace("w=4", "w=5"),  # a new value: the body kept
    BASE.replace("w=4", "w=6").replace("r=0.5", "q=0.5"),  # a parameter renamed: `r` unknown
    BASE.replace("w=4", "w=6").replace("r=0.5", "q=0.5").replace("Dropout(r)", "Dropout(q)"),
    BASE.replace("w=4", "w=6").replace("r=0.5", "q=0.5").replace("Dropout(r)", "Dropout(q)")
    .replace("output b", "output u"),  # other values unused
    BASE.replace("output b", "output u, b"),
    BASE.replace("Dropout(r)", "Dropout(r) as drop").replace("ReLU", "ReLU as drop"),
    BASE.replace("b = h -> Block(w)", "b = h -> ReLU\n    b2 = h -> Block(w)"),  # Block used, then not
    BASE.replace("b = h -> Block(w)", "b = h -> ReLU"),
    BASE,
]


def _outputs(result) -> tuple:
    return ([d.to_json() for d in result.reporter.items],
            [(network_json(n), network_table(n)) for n in result.networks])


def test_versions_kept_are_fresh_checks():
    an = Analyzer("m.net")
    for text in VERSIONS:
        assert _outputs(an.analyze(text).result) == _outputs(check_text(text, "m.net"))


def test_versions_kept_are_checks_without_kept_passes(monkeypatch):
    got = []
    an = Analyzer("m.net")
    for text in VERSIONS:
        got.append(_outputs(an.analyze(text).result))
    monkeypatch.setattr(checker._Kept, "get", lambda self, name, objs, extra: None)
    an = Analyzer("m.net")
    assert [_outputs(an.analyze(text).result) for text in VERSIONS] == got


def test_kept_pass_is_for_the_same_objects_only():
    kept = checker._Kept(limit=2)
    a, b = [1000], [1000]
    kept.put("n", (a,), "x", "value")
    assert kept.get("n", (a,), "x") == "value"
    assert kept.get("n", (b,), "x") is None  # equal, not the same object
    assert kept.get("n", (a,), "y") is None
    assert kept.get("n", (a, a), "x") is None
    assert kept.get("m", (a,), "x") is None


@pytest.mark.parametrize("path", SPECS + BROKEN, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_modules_named_by_bindings_alone_report_nothing(path, monkeypatch):
    """check_modules' early answer is the full check's: the same diagnostics without it."""
    text = path.read_bytes().decode("utf-8", "replace")
    fast = _outputs(check_text(text, "m.net"))
    monkeypatch.setattr(pycode, "_named_by_bindings_alone", lambda net: False)
    assert _outputs(check_text(text, "m.net")) == fast


def test_modules_named_twice_are_still_reported():
    """No `as` name, but an unpacking's key (`q_k`) is a binding's name too: two modules
    named alike, which the early answer leaves to the full check."""
    text = ("network N {\n    input x: float[2, 4]\n    q, k = x -> chunk(2, dim=1)\n"
            "    q_k = x -> Linear(4)\n    output q_k, k\n}\n")
    found = [(d.code, d.message) for d in check_text(text, "m.net").reporter.items]
    assert (codes.DUPLICATE, "`q_k` names two modules of `N`") in found
