"""The language server's check after an edit of a network's parameters (netspec.resume):
a network's check is kept for each of its last parameter values, so that an edit undone,
or a value typed again, puts the whole check back instead of checking every binding. Every
version of a document, over random series of edits (the parameters' defaults, the digits
of arguments, names) of the 1,000-binding benchmark's spec (40 bindings here) and of every
spec, checks to what a fresh check of its text gives: diagnostics, every node and value
with the origin of each dim, costs and facts (tests/checked.py), and hover at every name.
"""

from __future__ import annotations

import os
import random
import re
import sys
import time
from pathlib import Path

import pytest
from checked import everything

from netspec.checker import check_text
from netspec.ide.analysis import Analyzer
from netspec.ide.hover import hover

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.net"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_scale import bindings_spec  # noqa: E402

BASE = int(os.environ.get("NETSPEC_SEED", time.time_ns() % 2**32))  # rotates; printed by each test


def _rng(offset: int) -> random.Random:
    print(f"seed {BASE + offset} (NETSPEC_SEED={BASE} repeats the run)")
    return random.Random(BASE + offset)


def _hovers(analysis) -> list:
    index = analysis.index
    return [hover(index, o.start) for o in index.occurrences]


def _same_as_fresh(an: Analyzer, text: str, hovers: bool = True) -> None:
    got = an.analyze(text)
    an.prove(got)  # build's proof of the uses, the language server's second publication
    assert everything(got.result) == everything(check_text(text, "m.net"))
    if hovers and got.result.module is not None:
        assert _hovers(got) == _hovers(Analyzer("m.net").analyze(text))


PARAMS = """network Main(width=16, k=3) {
    input x: float[batch, 8, 20]
    a = x -> Conv1d(width, k)
    b = a -> Linear(width)
    c = b -> LayerNorm(width)
    d = c -> ReLU
    output d
}
"""


def test_a_parameter_edited_and_put_back():
    """`k` changes the Conv1d's result (then makes it too small: an error), `width` makes
    an argument 0 (an error), and each is put back: every version a fresh check's, and the
    versions put back restore the whole check of that value."""
    an = Analyzer("m.net")
    _same_as_fresh(an, PARAMS)
    for old, new in [("k=3", "k=5"), ("k=3", "k=30"), ("width=16", "width=0"), ("width=16", "width=7")]:
        edited = PARAMS.replace(old, new)
        assert edited != PARAMS
        _same_as_fresh(an, edited)
        for text in [PARAMS, edited, PARAMS]:  # undone, typed again, undone
            resumed = an.resume.resumed
            _same_as_fresh(an, text)
            assert an.resume.resumed == resumed + 4  # its 4 bindings put back


def _bindings_edit(rng: random.Random, text: str, history: list[str]) -> str:
    """One edit of the bindings spec: the parameter's default (from a few values: 0 is an
    error, 2.5 too, and it refuses the input dim that reads it), the size of a binding's
    Linear (a shape error below it) and back, a binding's source renamed (an unknown name)
    and back, or a version before put back (undo)."""
    what = rng.randrange(4)
    if what == 0:
        return re.sub(r"width=[\d.]+", f"width={rng.choice([16, 12, 0, 5, 2.5])}", text, count=1)
    if what == 1:
        sizes = [m.start(1) for m in re.finditer(r"Linear\((width|7)\)", text)]
        at = rng.choice(sizes)
        return text[:at] + ("7" if text[at] == "w" else "width") + text[text.index(")", at):]
    if what == 2:
        names = [m.start(1) for m in re.finditer(r"= ([hq])\d+ ->", text)]
        at = rng.choice(names)
        return text[:at] + ("q" if text[at] == "h" else "h") + text[at + 1:]
    return rng.choice(history[-4:])


@pytest.mark.parametrize("seed", range(3))
def test_random_edits_of_the_bindings_spec(seed):
    rng = _rng(seed)
    text = bindings_spec(40)
    an = Analyzer("m.net")
    history = [text]
    _same_as_fresh(an, text)
    for _ in range(30):
        text = _bindings_edit(rng, text, history)
        history.append(text)
        _same_as_fresh(an, text)


_HEADER_DIGITS = re.compile(r"(?<==)\d+(?:\.\d+)?(?=[,)])")


def _header_digits(text: str) -> list[tuple[int, int]]:
    """The digits of the parameters' defaults: (start, end) of each number."""
    out = []
    for m in re.finditer(r"^network \w+\(([^)]*)\)", text, re.M):
        out += [(m.start(1) + d.start(), m.start(1) + d.end()) for d in _HEADER_DIGITS.finditer(m.group(1))]
    return out


_INPUT_DIMS = re.compile(r"^\s*input \w+: \w*\[([^\]]*)\]", re.M)
_REFUSED = "0.5 * "  # put before an input dim: a size that is no integer, refused


def _input_dim_edit(rng: random.Random, text: str) -> str | None:
    """An input's dim refused (``0.5 * 224``), or one refused so put back; None where no
    input has dims."""
    starts = []
    for m in _INPUT_DIMS.finditer(text):
        at = m.start(1)
        for dim in m.group(1).split(","):
            starts.append(at + len(dim) - len(dim.lstrip()))
            at += len(dim) + 1
    if not starts:
        return None
    at = rng.choice(starts)
    if text.startswith(_REFUSED, at):
        return text[:at] + text[at + len(_REFUSED):]
    return text[:at] + _REFUSED + text[at:]


def _spec_edit(rng: random.Random, text: str, original: str, history: list[str]) -> str:
    """A parameter's default (2.5 refuses the input dims that read it), a digit of an
    argument, the first letter of a stage's kind (an unknown layer) changed, an input's dim
    refused or put back (the bindings below it, edited next, read it), or a version before
    put back."""
    header = _header_digits(text)
    what = rng.randrange(5)
    if what == 0 and header:
        start, end = rng.choice(header)
        return text[:start] + str(rng.choice([1, 2, 3, 7, 0, 2.5, text[start:end]])) + text[end:]
    if what == 4:
        edited = _input_dim_edit(rng, text)
        if edited is not None:
            return edited
    if what == 1:
        digits = [m.start() for m in re.finditer(r"(?:(?<=[(=])|(?<=, ))[0-9]", text)]
        at = rng.choice(digits)
        return text[:at] + rng.choice("1237") + text[at + 1:]
    if what == 2 and "-> " in text:
        kinds = [m.end() for m in re.finditer(r"-> ", text)]
        at = rng.choice(kinds)
        return text[:at] + ("Q" if text[at] != "Q" else original[at]) + text[at + 1:]
    return rng.choice(history[-4:] + [original])


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_random_edits_of_every_spec(path):
    original = text = path.read_text()
    rng = _rng(SPECS.index(path))
    an = Analyzer("m.net")
    history = [text]
    _same_as_fresh(an, text, hovers=False)
    for i in range(10):
        text = _spec_edit(rng, text, original, history)
        history.append(text)
        _same_as_fresh(an, text, hovers=i % 4 == 0)
