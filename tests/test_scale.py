"""The checker's work grows linearly with the size of a spec.

Not a timing: the number of Python function calls a check makes is deterministic, so a
spec four times larger must take about four times as many calls (under 5x), for long chains,
many bindings, many uses of a network, and a spec full of errors alike; quadratic work
anywhere (a scan of all earlier values per binding, a suggestion compared against every
name per error) shows as a ratio near 16. benchmarks/bench_scale.py measures the time.
"""

from __future__ import annotations

import cProfile
import pstats
import sys

import pytest

from netspec import diagnostics
from netspec.diagnostics import Reporter
from netspec.infer import check_text
from netspec.report import network_json, network_table

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent / "benchmarks"))
import bench_scale  # noqa: E402


def errors_spec(n: int) -> str:
    """Every other binding reads a name nothing defines: n/2 errors, each with a suggestion search."""
    lines = ["network E {", "    input h0: float[batch, 8]"]
    for i in range(1, n + 1):
        lines.append(f"    h{i} = {f'h{i - 1}' if i % 2 else f'q{i}'} -> ReLU")
    return "\n".join(lines + [f"    output h{n}", "}"]) + "\n"


SHAPES = {**bench_scale.SHAPES, "errors": errors_spec}


def calls(text: str) -> int:
    """Python function calls made by a check and its table and JSON reports."""
    profile = cProfile.Profile()
    profile.enable()
    result = check_text(text, "scale.net", None, Reporter())
    for net in result.networks:
        network_table(net)
        network_json(net)
    profile.disable()
    return pstats.Stats(profile).total_calls


@pytest.mark.parametrize("shape", SHAPES)
def test_four_times_the_layers_take_four_times_the_work(shape):
    small, large = 500, 2000
    ratio = calls(SHAPES[shape](large)) / calls(SHAPES[shape](small))
    assert ratio < 5, f"{shape}: {ratio:.2f}x the calls for 4x the layers"


def test_a_suggestion_compares_a_bounded_number_of_names(monkeypatch):
    seen = []
    real = diagnostics.difflib.get_close_matches

    def counting(word, possibilities, *args, **kwargs):
        seen.append(len(possibilities))
        return real(word, possibilities, *args, **kwargs)

    monkeypatch.setattr(diagnostics.difflib, "get_close_matches", counting)
    names = [f"value{i}" for i in range(10_000)]
    assert diagnostics.suggest("valu9999", names).startswith("did you mean `value9999`")
    assert seen and max(seen) <= diagnostics.SUGGEST_POOL
