"""Broken specs in tests/broken/ carry their expected diagnostics beside the line that
causes them, as a comment at the end of that line:

    a = x -> Linear(16, in_features=7)      # error: shape
    c = x -> reshape(batch, 5, -1)           # warning: unproven

A file whose bytes cannot hold such a comment (not UTF-8, a NUL byte) has a sidecar
``NAME.expect`` instead, one ``LINE: SEVERITY: CODE`` a line (``#`` starts a comment).

What `netspec check --json` reports for each file must equal the expectation exactly, as
a multiset of (line, severity, code): nothing missing, and nothing extra, so a mistake
never drags follow-on errors after it. Together the files use every code in CODES.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from netspec.api import check_file
from netspec.checker import check_text
from netspec.codes import CODES
from netspec.diagnostics import render

BROKEN = Path(__file__).resolve().parent / "broken"
FILES = sorted(BROKEN.glob("*.net"))
SEVERITIES = ("error", "warning")

# Specs the checker lets through today (the traps of tests/oracle.py): each file states the
# diagnostic the checker should give. Remove a file from here once the checker gives it.
PENDING: dict[str, str] = {}


def _cases():
    for p in FILES:
        reason = PENDING.get(p.name)
        yield pytest.param(p, id=p.stem, marks=[pytest.mark.xfail(strict=True, reason=reason)] if reason else [])

# the last comment on a line, when it is nothing but expectations
_EXPECT = re.compile(r"#\s*((?:error|warning):\s*[a-z-]+(?:\s*;\s*(?:error|warning):\s*[a-z-]+)*)\s*$")
_ITEM = re.compile(r"(error|warning):\s*([a-z-]+)")


def expected(path: Path) -> Counter:
    """(line, severity, code) -> how many times, from the sidecar or the inline comments."""
    out: Counter = Counter()
    sidecar = path.with_suffix(".expect")
    if sidecar.exists():
        for raw in sidecar.read_text().splitlines():
            entry = raw.split("#", 1)[0].strip()
            if entry:
                line, severity, code = (part.strip() for part in entry.split(":"))
                assert severity in SEVERITIES, raw
                out[(int(line), severity, code)] += 1
        return out
    for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), 1):
        hash_at = line.rfind("#")
        m = _EXPECT.match(line[hash_at:]) if hash_at >= 0 else None
        if m:
            for severity, code in _ITEM.findall(m.group(1)):
                out[(number, severity, code)] += 1
    return out


@pytest.fixture(scope="module")
def reported(run_cli) -> dict[str, Counter]:
    """Every broken file checked by one `netspec check --json` run."""
    proc = run_cli("check", "--json", *FILES)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    out: dict[str, Counter] = {p.name: Counter() for p in FILES}
    for d in json.loads(proc.stdout)["diagnostics"]:
        out[Path(d["file"]).name][(d["line"], d["severity"], d["code"])] += 1
    return out


@pytest.mark.parametrize("path", list(_cases()))
def test_reports_exactly_what_the_file_expects(path: Path, reported):
    want, got = expected(path), reported[path.name]
    missing, extra = want - got, got - want
    assert not missing and not extra, f"missing: {sorted(missing)}; not expected: {sorted(extra)}"


def test_expectations_are_read():
    """The reader itself: every file but the one proving `allow` expects something, and the
    syntax a comment uses is not silently ignored."""
    for path in FILES:
        if path.stem != "layout_allowed":
            assert expected(path), f"{path.name} expects no diagnostic"
    for path in FILES:
        if path.with_suffix(".expect").exists():
            continue
        for number, line in enumerate(path.read_text().split("\n"), 1):
            if re.search(r"#\s*(error|warning)\b", line):
                assert (number, *_ITEM.search(line[line.rfind("#"):]).groups()) in expected(path), \
                    f"{path.name}:{number}: an expectation the reader does not take"


def test_pending_files_exist():
    assert set(PENDING) <= {p.name for p in FILES}


def test_every_code_has_a_broken_file():
    used = {code for path in FILES for (_, _, code) in expected(path)}
    assert used >= set(CODES), f"no broken file shows: {sorted(set(CODES) - used)}"
    assert used <= set(CODES), f"unknown codes expected: {sorted(used - set(CODES))}"


def test_one_file_reports_many_independent_errors(reported):
    errors = [k for k in reported["multiple.net"].elements() if k[1] == "error"]
    assert len({code for _, _, code in errors}) >= 5
    assert len(errors) == len(set(errors)), "one line reported twice"


def test_allow_comment_silences_layout_on_its_line_only():
    path = BROKEN / "layout_allowed.net"
    text = path.read_text()
    assert "# netspec: allow[layout]" in text
    assert not check_text(text, path.name).reporter.items
    without = text.replace("# netspec: allow[layout]", "")
    items = check_text(without, path.name).reporter.items
    line = next(i for i, s in enumerate(text.split("\n"), 1) if "allow[layout]" in s)
    assert [(d.span.line, d.code) for d in items] == [(line, "layout")]
    # another code on the same line is not silenced
    other = text.replace("allow[layout]", "allow[shape]")
    assert [d.code for d in check_text(other, path.name).reporter.items] == ["layout"]


def test_an_allowed_layout_is_checked_on_as_torch_runs_it():
    """A silenced layout error is not a stop: every shape after it is inferred (as torch
    computes it, reading batch as time) and the spec builds."""
    torch = pytest.importorskip("torch")
    from netspec import api

    path = BROKEN / "layout_allowed.net"
    result = check_text(path.read_text(), path.name)
    (net,) = result.networks
    shapes = {name: net.show(v.tensor) for name, v in net.outputs}
    assert shapes == {"out": "[batch, seq, 2]"}
    module = api.loads(path.read_text(), file=path.name).module("LayoutAllowed")
    out = module(torch.randint(0, 1000, (3, 5)))
    assert tuple(out.shape) == (3, 5, 2)
    lstm = torch.nn.LSTM(64, 128)  # torch's own reading of [3, 5, 64]: seq 3, batch 5
    assert tuple(lstm(torch.zeros(3, 5, 64))[0].shape) == (3, 5, 128)


def test_allow_does_not_silence_an_error_that_stops_the_check():
    """Only warnings and the layout error can be allowed: a shape error leaves nothing to
    infer after it, so its allow comment is ignored and the check fails."""
    text = ("network N {\n    input x: float[batch, 4]\n"
            "    y = x -> Linear(3, in_features=5)   # netspec: allow[shape]\n    output y\n}\n")
    assert [(d.severity, d.code) for d in check_text(text, "n.net").reporter.items] == [("error", "shape")]


# -- what the rendered text says -----------------------------------------------------------

def rendered(name: str) -> list[str]:
    ld = check_file(str(BROKEN / name))
    return [render(d, ld.lines) for d in ld.result.reporter.items]


def by_code(name: str, code: str) -> str:
    texts = [t for t in rendered(name) if f"[{code}]" in t.split("\n", 1)[0]]
    assert texts, f"{name} reports no {code}"
    return texts[0]


def test_shape_error_marks_the_argument_and_says_where_the_size_came_from():
    text = by_code("shapes.net", "shape")
    lines = text.split("\n")
    src = (BROKEN / "shapes.net").read_text().split("\n")
    number = next(i for i, s in enumerate(src, 1) if "in_features=7" in s)
    col = src[number - 1].index("in_features=7") + 1
    assert lines[0].startswith(f"{BROKEN / 'shapes.net'}:{number}:{col}: error[shape]: ")
    assert "in_features=7" in lines[0] and "10" in lines[0]
    assert lines[1] == f" {number} | {src[number - 1]}"
    marks = lines[2].split("|", 1)[1]
    assert marks == " " + " " * (col - 1) + "^" * len("in_features=7")
    input_line = next(i for i, s in enumerate(src, 1) if "input x:" in s)
    notes = [ln for ln in lines if ln.lstrip().startswith("= note:")]
    assert any("comes from input x" in n and f"(line {input_line})" in n for n in notes), notes
    assert any(ln.lstrip().startswith("= help:") and "in_features" in ln for ln in lines)


def test_shape_error_after_a_layer_names_that_layer_and_its_line():
    text = [t for t in rendered("shapes.net") if "num_features=6" in t.split("\n")[0]][0]
    src = (BROKEN / "shapes.net").read_text().split("\n")
    conv = next(i for i, s in enumerate(src, 1) if "Conv2d(8, 3)" in s)
    assert f"= note: dim 1 (8) comes from Conv2d (line {conv})" in text


def test_syntax_errors_say_what_was_expected_in_plain_words():
    unclosed_text = by_code("syntax_unclosed.net", "syntax")
    unclosed = unclosed_text.split("\n")[0]
    assert "unexpected `output`" in unclosed and "expected `)` or `,`" in unclosed
    assert "= note: the `(` at line 5, column 20 is not closed" in unclosed_text
    arrow = by_code("syntax_missing_arrow.net", "syntax")
    assert "expected `,` or `=`" in arrow.split("\n")[0]
    assert "= help: `Linear` starts a new binding here; if it is a stage, join it with `->`" in arrow
    early = by_code("syntax_early_end.net", "syntax").split("\n")[0]
    assert "the file ends early: expected" in early and "`}`" in early
    for text in (unclosed, arrow, early):
        assert "Token" not in text and "$END" not in text and "__ANON" not in text


@pytest.mark.parametrize("name,code,hint", [
    ("unknown_names.net", "unknown-name", "did you mean `hidden`?"),
    ("unknown_names.net", "unknown-layer", "did you mean `Linear`?"),
    ("unknown_names.net", "unknown-attr", "did you mean `h_n`?"),
    ("arguments.net", "argument", "did you mean `bias`?"),
    ("dtypes.net", "dtype", "= help: integer ids"),
])
def test_suggestions(name, code, hint):
    texts = [t for t in rendered(name) if f"[{code}]" in t.split("\n", 1)[0]]
    assert any(hint in t for t in texts), texts


def test_unknown_attr_lists_the_results_the_value_has():
    text = by_code("unknown_names.net", "unknown-attr")
    assert "= note: `enc` has: `output`, `h_n`, `c_n`" in text


def test_layout_error_has_a_fix():
    text = by_code("layout.net", "layout")
    assert "= help: pass batch_first=true, or put `-> transpose(0, 1)` before the LSTM" in text
    assert "allow[layout]" in text


def test_encoding_error_shows_the_line_with_the_bad_byte_replaced():
    text = rendered("encoding.net")[0]
    assert text.split("\n")[0].endswith("error[encoding]: byte 0xe9 is not valid UTF-8")
    assert ":3:" in text.split("\n")[0]
    assert "\ufffd" in text.split("\n")[1]


def test_block_errors_point_into_the_block():
    text = by_code("blocks.net", "shape")
    src = (BROKEN / "blocks.net").read_text().split("\n")
    inner = next(i for i, s in enumerate(src, 1) if "in_features=512" in s)
    assert f"blocks.net:{inner}:" in text  # the note names the line inside `Head`


# -- the one shape an `unproven` warning states, against torch -------------------------------

def test_unproven_reshape_states_the_shape_torch_gives_when_the_fact_holds():
    torch = pytest.importorskip("torch")
    result = check_text((BROKEN / "unproven.net").read_text(), "unproven.net")
    net = result.networks[0]
    node = next(n for n in net.nodes if n.kind is not None and n.kind.name == "reshape" and n.span.line == 7)
    from netspec.dims import evaluate

    for batch, seq in [(2, 10), (3, 5), (1, 35)]:
        shape = [evaluate(net.dim(d), {"batch": batch, "seq": seq}) for d in node.outputs[0].tensor.shape]
        assert shape == list(torch.zeros(batch, seq).reshape(batch, 5, -1).shape)
