"""The checker is never wrong: what `check` accepts, torch runs with exactly those shapes.

The quick profile runs a few hundred cases of tests/oracle.py (mutants and generated specs
of the fuzz suite, random networks of tests/netgen.py with `view`, `as` names, shape
assertions and parameters, and the directed traps) from a seed that changes every day; the
test prints it, and each finding says how to run its case again. The long profile is
``python scripts/fuzz.py --oracle --cases 20000``. ``NETSPEC_ORACLE_SEED`` and
``NETSPEC_ORACLE_CASES`` choose the seed and the number of cases.

Findings that are instances of a trap the checker does not refuse yet (OPEN_TRAPS) are
counted, not failed; every other finding fails. The directed traps below are xfail until
the checker refuses them: remove a trap from OPEN_TRAPS and its mark when it does.
"""

from __future__ import annotations

import base64
import os
import time
from collections import Counter
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
import netgen  # noqa: E402
import oracle  # noqa: E402
import snapshots  # noqa: E402

from netspec import api  # noqa: E402
from netspec.api import check_file  # noqa: E402

SEED = int(os.environ.get("NETSPEC_ORACLE_SEED", int(time.time() // 86400)))
CASES = int(os.environ.get("NETSPEC_ORACLE_CASES", "400"))
BROKEN = Path(__file__).resolve().parent / "broken"

# the traps of the issue "The checker is never wrong" that check still lets through, and
# what the oracle found beyond them (tests/oracle.py, classify)
OPEN_TRAPS: dict[str, str] = {}  # none: every trap is refused or answered
# what check answers with a warning, not an error: the fact depends on a value, and the
# `unproven` warning says which (an index into a size nothing bounds: `select(1, 3)` of
# `[batch, n]` fails where n <= 3, as the warning states); a run that fails where check
# warned so is what check said, not a finding
ANSWERED_BY_WARNING = {"unproven"}
OPEN_LABELS = {t.name for t in oracle.TRAPS if t.label in OPEN_TRAPS}


def _xfail_open(trap: oracle.Trap):
    marks = []
    if trap.name in OPEN_LABELS:
        marks.append(pytest.mark.xfail(strict=True, reason=f"trap {trap.label}: {OPEN_TRAPS[trap.label]}"))
    return pytest.param(trap, id=trap.name, marks=marks)


# -- the quick profile -----------------------------------------------------------------------------

def test_quick_profile():
    print(f"oracle seed {SEED} ({CASES} cases): NETSPEC_ORACLE_SEED={SEED} reruns them")
    unexplained, counts, kinds = [], Counter(), Counter()
    checked = ran = 0
    for index in range(CASES):
        case = oracle.make_case(SEED, index)
        out = oracle.run(case)
        kinds[case.kind.split()[0]] += 1
        checked += out.checked
        ran += out.ran
        for f in out.findings:
            counts[f.trap or "unexplained"] += 1
            if f.trap not in OPEN_TRAPS and f.trap not in ANSWERED_BY_WARNING:
                unexplained.append(oracle.report(case, f))
    print(f"kinds: {dict(kinds)}; checked: {checked}; runs: {ran}; findings: {dict(counts)}")
    assert not unexplained, f"seed {SEED}: {len(unexplained)} finding(s)\n\n" + "\n\n".join(unexplained[:5])
    assert checked >= CASES // 3 and ran >= CASES // 3, f"seed {SEED}: too few cases checked ({checked}) or run ({ran})"


# -- the oracle finds what it is meant to find ----------------------------------------------------

@pytest.mark.parametrize("trap", [t for t in oracle.TRAPS
                                  if t.label not in ("assert-pins", "pinned-parameters", "unused-parameter")],
                         ids=lambda t: t.name)
def test_check_refuses_the_trap_or_the_oracle_finds_it(trap):
    """The oracle can fail: on every trap check lets through, it reports that trap."""
    found = set()
    for seed in range(6):
        out = oracle.run_case(trap.text.encode(), seed, overrides=dict(trap.overrides))
        if not out.checked:
            return
        found |= {f.trap for f in out.findings}
    assert trap.label in found, f"the oracle found {found or 'nothing'} in\n{trap.text}"


def test_the_oracle_finds_nothing_in_what_is_right():
    """Specs that are right, in every way the oracle looks at."""
    texts = [
        oracle._net("Right(width=6)", "input x: float[batch, seq, 4]", "input h: float[1, batch, 5]",
                    "enc = x -> GRU(5, batch_first=true, h0=h)",
                    "y = enc.output -> Linear(width) -> transpose(1, 2) -> reshape(batch, -1) -> Softmax(1)",
                    "z = enc.h_n -> select(0, 0) -> view(batch, 5) : [batch, 5]", "output y, z"),
        oracle._net("Image(classes=10)", "input img: float[batch, 3, h, w]",
                    "y = img -> Conv2d(8, 3, padding=1) -> MaxPool2d(2) -> AdaptiveAvgPool2d(1) -> flatten(1)"
                    " -> Linear(classes) : [batch, classes]", "output y"),
    ]
    for text in texts:
        for seed in range(4):
            out = oracle.run_case(text.encode(), seed)
            assert out.checked and out.ran == 2 and not out.findings, (text, [str(f) for f in out.findings])


def test_an_attention_size_the_check_cannot_decide_is_refused_by_the_class():
    """The embedding size an input symbol gives attention: check warns that its divisibility
    by the heads depends on it, and the class refuses the sizes where it fails (no torch
    constructor error); the oracle runs the sizes where it holds."""
    text = oracle._net("Enc(heads=2)", "input x: float[batch, seq, hidden]",
                       "y = x -> MultiheadAttention(heads, batch_first=true, need_weights=false) -> Linear(3)",
                       "output y")
    refused = ran = 0
    for seed in range(6):
        out = oracle.run_case(text.encode(), seed)
        assert out.checked and not out.findings, [str(f) for f in out.findings]
        refused += sum("the class refuses the sizes" in s for s in out.skipped)
        ran += out.ran
    assert refused and ran


def test_every_good_spec_runs_as_checked_up_to_pinned_parameters(good_spec):
    """The specs of specs/ (those small enough to run here): nothing but the assertions
    that pin a parameter the class does not (trap pinned-parameters)."""
    out = oracle.run_case(good_spec.read_bytes(), 0)
    assert out.checked
    assert all(f.trap == "pinned-parameters" for f in out.findings), [str(f) for f in out.findings]
    assert out.ran or all("too large" in s or "parameters" in s for s in out.skipped), out.skipped


def test_a_stated_size_no_value_can_satisfy_is_skipped_and_said():
    """Each size can be at least 1, but not both at once: the case is skipped, and says so."""
    out = oracle.run_case(b"network N {\n    input x: float[batch, n - m, m - n + 1]\n    output x\n}\n", 0)
    assert out.checked and not out.ran and not out.findings
    assert len(out.skipped) == 2 and all("no values of batch, m, n" in s for s in out.skipped), out.skipped


def test_dims_are_read_as_integer_expressions_only():
    from netspec.dims import maximum, sym

    assert oracle.formula("(h - 3) // 2 + 1")[1] == {"h"}
    assert oracle.formula("8 * max(c, m) + 8")[1] == {"c", "m"}
    assert oracle.value(2 * maximum(sym("c"), sym("m")) + 1, {"c": 1, "m": 6}) == 13
    for bad in ("h / 2", "h ** 2", "f(h)", "h.x", "1.5 * h", "[h]", "max(h)", "max(h, key=c)", "min(h, c)"):
        with pytest.raises((ValueError, SyntaxError)):
            oracle.formula(bad)


def test_cases_are_reproducible():
    for index in range(30):
        a, b = oracle.make_case(11, index), oracle.make_case(11, index)
        assert (a.kind, a.data, a.hint) == (b.kind, b.data, b.hint)
    assert {oracle.make_case(11, i).kind.split()[0] for i in range(60)} == set(oracle.KINDS)


def test_the_extended_generator_reaches_its_traps():
    seen: Counter = Counter()
    for seed in range(400):
        g = netgen.sample(seed, netgen.Options(extended=True))
        seen.update(g.traps)
        seen["required"] += bool(g.required)
        seen["view"] += "view(" in g.text
        seen["assert"] += "] ->" in g.text or "]\n" in g.text
    for what in ("view-after-transpose", "duplicate-as", "as-binding-name", "assert-pins-param", "unused-param",
                 "required", "view", "assert"):
        assert seen[what] >= 1, f"the extended generator never makes {what}: {dict(seen)}"
    assert netgen.sample(5) == netgen.sample(5)


# -- the traps, as the checker should treat them -----------------------------------------------------

def _checked(trap: oracle.Trap):
    return api.loads(trap.text, dict(trap.overrides), strict=False)


# traps check now answers otherwise than by refusing the spec: the class refuses the pinned
# value (assert-pins, pinned-parameters), or a warning says it (unused-parameter)
ANSWERED = ("assert-pins", "pinned-parameters", "unused-parameter")
WARNED = ("select-on-symbol",)  # an index that exists only at some sizes: an `unproven` warning
REFUSED = [t for t in oracle.TRAPS if t.label not in ANSWERED and t.name not in WARNED]


@pytest.mark.parametrize("trap", [_xfail_open(t) for t in REFUSED])
def test_check_refuses_the_trap(trap):
    spec = _checked(trap)
    assert not spec.ok, f"check accepts\n{trap.text}"


@pytest.mark.parametrize("name", WARNED)
def test_check_states_the_assumption_of_the_trap(name):
    trap = next(t for t in oracle.TRAPS if t.name == name)
    spec = _checked(trap)
    assert spec.ok and [d.code for d in spec.diagnostics] == ["unproven"], spec.diagnostics


def test_check_refuses_a_recurrent_layer_of_no_size():
    spec = api.loads(oracle._net("Zero", "input x: float[seq, batch, 3]", "y = x -> GRU(0)", "output y"),
                     strict=False)
    assert [d.code for d in spec.diagnostics if d.severity == "error"] == ["value"]


def test_an_assertion_pins_the_parameter_it_depends_on(run_cli, tmp_path):
    trap = next(t for t in oracle.TRAPS if t.name == "assert-pins-parameter")
    path = tmp_path / "hello.net"
    path.write_text(trap.text)
    assert run_cli("check", path, "--set", "hidden_size=5").returncode == 1
    with pytest.raises(ValueError, match="hidden_size"):
        api.load(str(path)).module(hidden_size=5)
    with pytest.raises(ValueError, match="hidden_size"):
        api.load(str(path)).module_class()(hidden_size=5)


def test_a_range_checked_with_a_parameter_pins_it():
    trap = next(t for t in oracle.TRAPS if t.name == "select-range-on-parameter")
    assert not api.loads(trap.text, {"width": 2}, strict=False).ok
    with pytest.raises(ValueError, match="width"):
        api.loads(trap.text).module(width=2)


def test_a_parameter_nothing_reads_is_reported():
    trap = next(t for t in oracle.TRAPS if t.name == "unused-parameter")
    spec = _checked(trap)
    assert any(d.code == "unused" and "input_size" in d.message for d in spec.diagnostics), spec.diagnostics


# -- diagnostics: a help line, and a note on where a size came from ------------------------------------

def _diagnostics_of(path) -> list:
    return check_file(str(path)).diagnostics


def help_net(line_text: str):
    """The diagnostics of tests/broken/help.net on the line holding ``line_text``."""
    lines = (BROKEN / "help.net").read_text().split("\n")
    number = next(i for i, s in enumerate(lines, 1) if line_text in s)
    return [d for d in _diagnostics_of(BROKEN / "help.net") if d.span.line == number]


@pytest.mark.parametrize("stage", ["Dropout(1.5)", "MaxPool2d(2, padding=2)", "select(1, 30)", "GRUCell(5, hx=h)",
                                   "permute(0, 2, 1)"])
def test_the_error_says_how_to_fix_it(stage):
    (d,) = help_net(stage)
    assert d.help, f"{d.code}: {d.message}"


@pytest.mark.xfail(strict=True, reason="a wrong hx is reported with no note on where it came from")
def test_a_wrong_state_says_where_it_came_from():
    (d,) = help_net("GRUCell(5, hx=h)")
    assert any("input h" in n for n in d.notes), d.notes


@pytest.mark.xfail(strict=True, reason="the note after `cat` traces only its first input")
def test_the_note_after_cat_traces_every_input():
    (d,) = help_net("cat(a, b, dim=1)")
    notes = " ".join(d.notes)
    assert "a is float32[batch, 3]" in notes and "b is float32[batch, 5]" in notes, d.notes


def test_an_argument_on_its_own_line_is_pointed_at():
    (d,) = _diagnostics_of(BROKEN / "traps_arg_line.net")
    assert d.span.line == 5 and "proj_size" in d.message


SIZE_CODES = ("shape", "assert", "size", "layout")  # about sizes that came from elsewhere


def corpus_and_broken_diagnostics(tmp_path) -> list:
    out = []
    for p in sorted(BROKEN.glob("*.net")):
        out += [(p.name, d) for d in _diagnostics_of(p)]
    for i, row in enumerate(snapshots.corpus()):
        p = tmp_path / "case.net"
        p.write_bytes(base64.b64decode(row["data"]))
        out += [(f"corpus case {i}", d) for d in _diagnostics_of(p)]
    return out


def _assumed(d) -> bool:
    """An `unproven` warning: a fact about sizes that came from elsewhere, which the stated
    shape assumes (its errors are about a size written where they point: a divisor)."""
    return d.code == "unproven" and d.severity == "warning"


def _lacking(tmp_path):
    diags = corpus_and_broken_diagnostics(tmp_path)
    no_help = Counter(f"{d.severity}[{d.code}]" for _, d in diags
                      if (d.severity == "error" or _assumed(d)) and not d.help)
    no_note = Counter(f"{d.severity}[{d.code}]" for _, d in diags
                      if (d.code in SIZE_CODES or _assumed(d)) and not d.notes)
    return diags, no_help, no_note


def test_every_error_and_unproven_warning_has_a_help_line(tmp_path):
    diags, no_help, _ = _lacking(tmp_path)
    assert sum(map(_assumed, (d for _, d in diags))) >= 8
    assert not no_help, f"{sum(no_help.values())} without help: {no_help.most_common()}"


def test_every_size_diagnostic_says_where_the_size_came_from(tmp_path):
    diags, _, no_note = _lacking(tmp_path)
    assert any(d.code in SIZE_CODES for _, d in diags)
    assert not no_note, f"{sum(no_note.values())} without a note: {no_note.most_common()}"


@pytest.mark.parametrize("stage", ["add(x, y)", "cat(x, y, dim=0)", "einsum("])
def test_an_assumed_broadcast_traces_both_sizes(stage):
    """A broadcast (or a match) assumed over two inputs' symbols: the warning's notes say
    where each of the two sizes came from."""
    src = (BROKEN / "unproven.net").read_text().split("\n")
    number = next(i for i, s in enumerate(src, 1) if stage in s)
    x = next(i for i, s in enumerate(src, 1) if "input x: float[batch, n]" in s)
    (d,) = [d for d in _diagnostics_of(BROKEN / "unproven.net") if d.span.line == number]
    assert d.code == "unproven" and d.severity == "warning", d.message
    assert f"dim 1 (n) comes from input x (line {x})" in d.notes, d.notes
    assert f"dim 1 (4) comes from input y (line {x + 1})" in d.notes, d.notes
