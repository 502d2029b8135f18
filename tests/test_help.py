"""Every error has a help line: over the broken specs of tests/broken/ and the fuzz corpus
of tests/snapshots/fuzz_corpus.jsonl (mutants and generated specs), every error check
reports says how to fix it.

PENDING lists the errors that have none yet (by code, or by message for one site); the
test fails on any other error without help, and on a PENDING entry no error needs any more:
remove it when its sites give help.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

from netspec.checker import check_text

TESTS = Path(__file__).resolve().parent

# code -> why its errors have no help yet; (code, message pattern) for one site of a code
PENDING: dict = {}


def _specs() -> list[tuple[str, str]]:
    out = [(p.name, p.read_bytes().decode("utf-8", "replace")) for p in sorted((TESTS / "broken").glob("*.net"))]
    for n, line in enumerate((TESTS / "snapshots" / "fuzz_corpus.jsonl").read_text().splitlines()):
        data = base64.b64decode(json.loads(line)["data"])
        out.append((f"fuzz corpus line {n + 1}", data.decode("utf-8", "replace")))
    return out


def _pending(code: str, message: str):
    for key in PENDING:
        if key == code or (isinstance(key, tuple) and key[0] == code and re.search(key[1], message)):
            return key
    return None


def test_every_error_has_a_help_line():
    without, used, errors = [], set(), 0
    for name, text in _specs():
        for d in check_text(text, name).reporter.errors:
            errors += 1
            if d.help:
                continue
            key = _pending(d.code, d.message)
            if key is None:
                without.append(f"{name}:{d.span.line}: error[{d.code}] {d.message}")
            used.add(key)
    assert errors >= 200, f"only {errors} errors looked at"
    assert not without, f"{len(without)} error(s) without a help line:\n" + "\n".join(without[:20])
    stale = [k for k in PENDING if k not in used]
    assert not stale, f"PENDING entries no error needs any more (remove them): {stale}"


# an identifier of netspec's own (a placeholder dim such as `_x_1`) or `<...>` in a message
_INTERNAL = re.compile(r"(?<![\w.$])_\w+|<[a-z][^<>=]*>")


def _internal_names(name: str, text: str) -> list[str]:
    out = []
    for d in check_text(text, name).reporter.items:
        for part in (d.message, d.help or "", *d.notes):
            out += [f"{name}:{d.span.line}: {d.code}: {part}" for m in _INTERNAL.findall(part) if m not in text]
    return out


def test_no_diagnostic_shows_an_internal_name():
    """Every message, note and help speaks in the spec's own terms: a name the spec does not
    contain (a placeholder netspec made for a refused dim) never reaches the user."""
    hits = [h for name, text in _specs() for h in _internal_names(name, text)]
    assert not hits, f"{len(hits)} diagnostic part(s) with an internal name:\n" + "\n".join(hits[:20])


def test_a_refused_input_dim_is_reported_once():
    """What is said about a size the spec never wrote (corpus cases like `float[batch, 28,
    0.0]`) is a consequence of the error on it: not reported; the stages' own mistakes are."""
    text = ("network N {\n    input image: float[batch, 28, 0.0]\n"
            "    y = image -> permute(1, 0, 2) : [28, batch, 28] -> Linear(4) -> Dropout(1.5)\n    output y\n}\n")
    items = check_text(text, "n.net").reporter.items
    assert [(d.code, d.span.line) for d in items] == [("argument", 2), ("value", 3)], [d.message for d in items]
    assert not _internal_names("n.net", text)
