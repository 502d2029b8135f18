"""Every word the grammar knows (grammar/netspec.lark: `network`, `input`, `true`, ...) and
`scan`, the op the built code defines a function for, tried as each kind of name a spec
gives: a binding, a parameter, a network, an `as` name and an input. Each is either a name
like any other (it checks, and the API builds it and takes its parameters by the spec's
names) or refused by a diagnostic with a code, the span of the name and a help line:
never a traceback, never a confusing error elsewhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from netspec.checker import check_text

GRAMMAR = Path(__file__).resolve().parents[1] / "grammar" / "netspec.lark"


def _keywords() -> list[str]:
    text = GRAMMAR.read_text()
    quoted = set(re.findall(r'"([a-z]+)"', text))
    terminals = set(re.findall(r"\(([a-z|]+)\)\(\?!", text)) | set(re.findall(r"/([a-z]+)\(\?!", text))
    words = quoted | {w for t in terminals for w in t.split("|")}
    return sorted(words | {"scan"})


ROLES = {
    "binding": ("network N {{\n    input x: float[batch, 8]\n    {w} = x -> Linear(4)\n    output {w}\n}}\n", 3),
    "parameter": ("network N({w}=4) {{\n    input x: float[batch, 8]\n    y = x -> Linear({w})\n    output y\n}}\n", 1),
    "network": ("network {w} {{\n    input x: float[batch, 8]\n    y = x -> Linear(4)\n    output y\n}}\n", 1),
    "as": ("network N {{\n    input x: float[batch, 8]\n    y = x -> Linear(4) as {w}\n    output y\n}}\n", 3),
    "input": ("network N {{\n    input {w}: float[batch, 8]\n    y = {w} -> Linear(4)\n    output y\n}}\n", 2),
}


def test_the_grammar_words_are_found():
    words = _keywords()
    assert {"network", "input", "output", "param", "buffer", "shared", "as", "true", "false"} <= set(words), words


@pytest.mark.parametrize("role", sorted(ROLES))
@pytest.mark.parametrize("word", _keywords())
def test_a_keyword_as_a_name_is_a_name_or_a_clear_refusal(word, role):
    template, line = ROLES[role]
    text = template.format(w=word)
    errors = check_text(text, "k.net").reporter.errors
    if not errors:
        return
    first = errors[0]
    assert first.code in ("reserved", "syntax"), (first.code, first.message)
    assert first.span.line == line and first.help and f"`{word}`" in first.message + first.help, \
        (first.message, first.help)


@pytest.mark.parametrize("word", ["true", "false"])
def test_a_literal_cannot_name_a_value(word):
    """`true` read as a name would be the literal wherever a value is read: refused where
    it is defined, whatever it names."""
    for role, (template, line) in ROLES.items():
        (first, *_) = check_text(template.format(w=word), "k.net").reporter.errors
        assert first.code == "reserved" and first.span.line == line and "literal" in first.message, (role, first)


def test_a_renamed_parameter_is_given_by_its_spec_name():
    """`scan` and `len` are taken in the built code (renamed `scan_`, `len_`); the API takes
    them by the names the spec gives them, as `check --set` does."""
    pytest.importorskip("torch")
    from netspec import api
    spec = api.loads("network N(scan=4) {\n    input x: float[batch, len]\n    y = x -> Linear(scan)\n"
                     "    output y\n}\n")
    m = spec.module(scan=5, len=3)
    assert (m.y.in_features, m.y.out_features) == (3, 5)
