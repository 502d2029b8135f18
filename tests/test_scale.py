"""The checker's work grows linearly with the size of a spec.

Not a timing: the work a check does is counted, deterministically, as the lines netspec's
own code executes plus the function calls made anywhere (library code included), for specs
of n, 2n and 4n layers. Linear work makes the second doubling cost twice what the first
did (a ratio of 2: fixed costs cancel); quadratic work makes it cost more, up to 4 times.
The ratio must stay under 2.2 for long chains, many bindings, many uses of a network, a
spec full of misspellings and one full of errors whose notes trace a long chain (the
quadratic versions of the last two, a suggestion compared with every earlier name and a
walk back along the whole chain for every error, gave 3.6 and 2.3).
benchmarks/bench_scale.py measures the time.
"""

from __future__ import annotations

import os
import sys

import pytest

import netspec
from netspec import diagnostics
from netspec.checker import check_text
from netspec.diagnostics import Reporter
from netspec.report import network_json, network_table

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent / "benchmarks"))
import bench_scale  # noqa: E402


def errors_spec(n: int) -> str:
    """Every other binding reads a name nothing defines: n/2 errors, each with a suggestion search."""
    lines = ["network E {", "    input h0: float[batch, 8]"]
    for i in range(1, n + 1):
        lines.append(f"    h{i} = {f'h{i - 1}' if i % 2 else f'q{i}'} -> ReLU")
    return "\n".join(lines + [f"    output h{n}", "}"]) + "\n"


def story_spec(n: int) -> str:
    """A long chain of bindings with a wrong layer hanging off each: n/2 errors whose notes
    say where the chain started."""
    lines = ["network S {", "    input h0: float[batch, 8, 8]", "    a0 = h0"]
    for i in range(1, n // 2 + 1):
        lines += [f"    a{i} = a{i - 1} -> ReLU", f"    e{i} = a{i} -> Linear(4, in_features=3)"]
    outputs = ", ".join(f"e{i}" for i in range(1, n // 2 + 1))
    return "\n".join(lines + [f"    output {outputs}", "}"]) + "\n"


SHAPES = {**bench_scale.SHAPES, "errors": errors_spec, "error notes": story_spec}
PACKAGE = os.path.dirname(netspec.__file__)


def work(text: str) -> int:
    """Lines of netspec executed plus calls made anywhere by a check and its table and JSON."""
    count = 0

    def local(frame, event, arg):
        nonlocal count
        if event == "line":
            count += 1
        return local

    def called(frame, event, arg):
        nonlocal count
        count += 1
        return local if frame.f_code.co_filename.startswith(PACKAGE) else None

    sys.settrace(called)
    try:
        result = check_text(text, "scale.net", None, Reporter())
        for net in result.networks:
            network_table(net)
            network_json(net)
    finally:
        sys.settrace(None)
    return count


@pytest.mark.parametrize("shape", SHAPES)
def test_doubling_the_layers_again_costs_twice_as_much_again(shape):
    n = 250
    w1, w2, w4 = (work(SHAPES[shape](k)) for k in (n, 2 * n, 4 * n))
    ratio = (w4 - w2) / (w2 - w1)
    assert ratio < 2.2, f"{shape}: going from {2 * n} to {4 * n} layers cost {ratio:.2f}x going from {n} to {2 * n}"


def test_a_suggestion_compares_a_bounded_number_of_names(monkeypatch):
    import difflib  # netspec.diagnostics imports it where a suggestion is made

    seen = []

    class Counting(difflib.SequenceMatcher):
        def set_seq1(self, a):
            seen.append(a)
            super().set_seq1(a)

    monkeypatch.setattr(difflib, "SequenceMatcher", Counting)
    names = [f"value{i}" for i in range(10_000)]
    assert diagnostics.suggest("valu9999", names).startswith("did you mean `value9999`")
    assert diagnostics.suggest("vaule_99", names) is not None  # two edits: through the trigrams
    assert len(seen) <= diagnostics.SUGGEST_SCAN
