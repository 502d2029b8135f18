"""The short ways a keystroke's check takes compute what the long ways do.

* ``binder.bind_plain`` places the arguments of the commonest calls (literals, parameters,
  symbols, tensors named bare) at once: every call it binds is bound to what ``bind`` with a
  KindSignature gives, over every spec, the broken specs and the benchmarks' specs.
* ``NetworkChecker._replayed`` replays an application the memo holds without apply's
  StageCtx: every spec checks to the same with it and without it, and an argument that
  differs from the input's size after the same application was replayed is still refused.
* ``network_starts`` returns at once where no line begins with ``network``, and reads a run
  of newlines at once: the pieces are those a character-by-character reading finds.
* ``resume.Tracker`` starts from the bindings the last version knew to use no network
  (``Kept.clean``) only where the networks' names are the same: a network defined after a
  binding named it is used there, in every later version.
* The passes that count the uses of networks against MAX_USES and their nesting against
  MAX_USE_DEPTH are kept for the same statements in the same networks only: a count, a
  network's name, or a statement changed, they are read again.
Each version is compared with a fresh check of its text (tests/checked.py).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from checked import everything

from netspec import binder, checker, codes, uses
from netspec.checker import check_text
from netspec.ide.analysis import Analyzer, network_starts
from netspec.limits import MAX_DEPTH

ROOT = Path(__file__).resolve().parent.parent
TEXTS = sorted((ROOT / "specs").glob("*.net")) + sorted((ROOT / "tests" / "broken").glob("*.net"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_scale import bindings_spec, blocks_spec, chain_spec  # noqa: E402


def _tagged(d: dict) -> list:
    return [(k, type(v), v) for k, v in d.items()]


def _bound(b: binder.Bound) -> tuple:
    return (b.inputs, b.tensors, _tagged(b.values), list(b.spans.items()), list(b.params.items()), b.bad)


def test_plain_calls_are_bound_as_bind_binds_them(monkeypatch):
    real = binder.bind_plain
    served = declined = 0

    def both(network, kind, args, piped):
        nonlocal served, declined
        got = real(network, kind, args, piped)
        if got is None:
            declined += 1
            return None
        served += 1
        before = len(network.reporter.items)
        want = binder.bind(network, binder.KindSignature(kind, kind.name, network.reporter), args, piped,
                           network.here)
        assert len(network.reporter.items) == before  # bind refuses nothing bind_plain takes
        assert _bound(got) == _bound(want)
        return got

    monkeypatch.setattr(checker, "bind_plain", both)
    texts = [p.read_bytes().decode("utf-8", "replace") for p in TEXTS] + [bindings_spec(60), chain_spec(60), blocks_spec(60)]
    for text in texts:
        check_text(text, "m.net")
    assert served > 1000 and declined > 100  # both ways taken, many times


SIZES = """network N(w=16) {
    input x: float[b, w]
    a = x -> LayerNorm(w)
    c = a -> LayerNorm(w)
    d = c -> LayerNorm(w)
    e = d -> LayerNorm(8)
    f = d -> Linear(4, in_features=w)
    g = f -> Linear(4, in_features=4) -> Linear(4, in_features=4) -> Linear(4, in_features=5)
    output e, g
}
"""


def test_applications_replayed_without_apply_check_alike(monkeypatch):
    texts = [p.read_bytes().decode("utf-8", "replace") for p in TEXTS] + [
        bindings_spec(60), chain_spec(60), blocks_spec(60), SIZES, SIZES.replace("w=16", "w=8")]
    fast = [everything(check_text(text, "m.net")) for text in texts]
    monkeypatch.setattr(checker.NetworkChecker, "_replayed", lambda *args: None)
    assert fast == [everything(check_text(text, "m.net")) for text in texts]
    refused = [(d.span.line, d.message) for d in check_text(SIZES, "m.net").reporter.items]
    assert [(line, m.split(",")[0]) for line, m in refused] == [
        (6, "LayerNorm was given normalized_shape=8"), (8, "Linear was given in_features=5")]


def _starts_by_characters(text: str) -> list[int]:
    """Each line that begins with the keyword `network` outside brackets, strings and
    comments, read one character at a time."""
    starts, depth, in_comment, in_string = [0], 0, False, False
    for i, ch in enumerate(text):
        if ch == "\n":
            in_comment = in_string = False
            if depth == 0 and re.match(r"network(?![A-Za-z0-9_])", text[i + 1:i + 9]):
                starts.append(i + 1)
        elif in_comment:
            continue
        elif in_string:
            in_string = ch != '"'
        elif ch == "#":
            in_comment = True
        elif ch == '"':
            in_string = True
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(0, depth - 1)
    return starts


CORNERS = [
    "",
    "network A {\n}\n",
    "network A {\n}\n\n\n\nnetwork B {\n}\n\n",
    "network A {\n  y = x -> f(\n\n\nnetwork B)\n}\nnetwork C {}\n",
    'network A {\n  y = x -> f("(\n\n")\nnetwork B {}\n',
    "network A { # (\n\n\nnetwork B {}\nnetworks\nnetwork_ C\nnetwork\n",
    "\n\n\n\nnetwork A {}\n)))\n\n\nnetwork B {}\n[[\n\n\n\nnetwork C\n",
]


@pytest.mark.parametrize("text", CORNERS + [p.read_bytes().decode("utf-8", "replace") for p in TEXTS] + [blocks_spec(30)])
def test_network_starts_are_those_read_character_by_character(text):
    assert network_starts(text) == _starts_by_characters(text)


MAIN = """network Main(w=4) {
    input x: float[batch, 4]
    h = x -> Foo
    y = h -> Linear(w)
    output y
}
"""
FOO = """
network Foo {
    input x: float[batch, 4]
    y = x -> Linear(4)
    output y
}
"""


def test_bindings_known_clean_only_under_the_same_network_names():
    """`Foo` is an unknown layer, then a network (Main's statements the same objects), then
    a network whose result changes: Main's check sees each, as a fresh check does."""
    an = Analyzer("m.net")
    versions = [MAIN, MAIN.replace("w=4", "w=5"), MAIN.replace("w=4", "w=5") + FOO,
                MAIN.replace("w=4", "w=6") + FOO, MAIN.replace("w=4", "w=6") + FOO.replace("Linear(4)", "Linear(8)"),
                MAIN.replace("w=4", "w=7") + FOO.replace("Linear(4)", "Linear(8)"),
                MAIN.replace("w=4", "w=6") + FOO.replace("Linear(4)", "Linear(3)")]
    for text in versions:
        assert everything(an.analyze(text).result) == everything(check_text(text, "m.net"))


USES = """network B {
    input x: float[2]
    y = x -> ReLU
    output y
}

network Main {
    input x: float[2]
    a = x -> B * 6
    b = a -> B * 3
    output b
}
"""


def test_the_uses_limit_is_counted_again_for_other_statements(monkeypatch):
    for module, name in [(uses, "MAX_USES"), (checker, "MAX_USES")]:
        monkeypatch.setattr(module, name, 10)
    monkeypatch.setattr(uses, "_PAST", 11)
    an = Analyzer("m.net")
    versions = [USES, USES.replace("B * 3", "B * 5"),  # 9 uses, then 11: past the limit
                USES.replace("B * 3", "B * 5").replace("network B", "network C"),  # no network B: no uses
                USES.replace("B * 3", "B * 5"), USES]
    checked, limited = [], []
    for text in versions:  # the versions in turn, then fresh checks (which keep passes of their own)
        got = an.analyze(text).result
        checked.append(everything(got))
        limited.append(any("uses networks more than" in d.message for d in got.reporter.items))
    assert checked == [everything(check_text(text, "m.net")) for text in versions]
    assert limited == [False, True, False, True, False]


NESTED = """network C {
    input x: float[2]
    y = x -> ReLU
    output y
}

network B {
    input x: float[2]
    y = x -> C
    output y
}

network A {
    input x: float[2]
    y = x -> B
    output y
}
"""


def test_the_nesting_of_uses_is_read_again_for_other_networks(monkeypatch):
    """A uses B uses C: two levels, past a limit of one; with C renamed, B's `C` is no
    network and the uses nest one level (the statements the same objects)."""
    monkeypatch.setattr(checker, "MAX_USE_DEPTH", 1)
    an = Analyzer("m.net")
    versions = [NESTED, NESTED.replace("network C", "network D"), NESTED, NESTED.replace("network A", "network E")]
    checked, nested = [], []
    for text in versions:  # the versions in turn, then fresh checks (which keep passes of their own)
        got = an.analyze(text).result
        checked.append(everything(got))
        nested.append(any("used inside one another" in d.message for d in got.reporter.items))
    assert checked == [everything(check_text(text, "m.net")) for text in versions]
    assert nested == [True, False, True, True]


@pytest.mark.parametrize("blank", ["", "\n\n\n", "\n" * 500])
@pytest.mark.parametrize("deep", [True, False])
def test_brackets_nesting_too_deep_reported_where_they_do_after_runs_of_newlines(blank, deep):
    """The parser's screen reads a run of newlines as one (a blanked body): the error, where
    brackets nest past MAX_DEPTH, stands at the bracket that passes it, lines counted."""
    opens = MAX_DEPTH if deep else MAX_DEPTH - 1  # the body's `{` nests one level too
    text = (f"network A {{{blank}\n    # ((((\n{blank}    y = x -> f({blank}" + "(" * (opens - 1) + "1"
            + ")" * opens + f"\n{blank}    output y\n}}\n")
    got = [d for d in check_text(text, "m.net").reporter.items if d.code == codes.LIMIT]
    if not deep:
        assert got == []
        return
    comment = text.index("#")
    brackets = [i for i, ch in enumerate(text) if ch in "({" and not comment <= i < text.index("\n", comment)]
    at = brackets[MAX_DEPTH]  # the one past MAX_DEPTH open
    line, column = text.count("\n", 0, at) + 1, at - text.rfind("\n", 0, at)
    assert [(d.span.line, d.span.column) for d in got] == [(line, column)]
