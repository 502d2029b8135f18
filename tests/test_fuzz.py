"""Hostile input: `netspec check` on mutated, generated and random files never crashes.

The property (tests/fuzzgen.py, :func:`fuzzgen.check_case`): exit status 0 or 1, a JSON
report whose ``ok`` agrees with it, every diagnostic's span inside the file, nothing on
stderr, no exception, and each check within a CPU-time bound. Cases come from hypothesis
here (the quick profile; ``NETSPEC_FUZZ_SCALE=10`` runs ten times as many); the long
profile is ``python scripts/fuzz.py --cases 100000``.

Every input that once broke the property is kept in REGRESSIONS below.
"""

from __future__ import annotations

import json
import os
import random

import costgen
import fuzzgen
import pytest
from fuzzgen import SPEC_BYTES, HypothesisDraw, RandomDraw, check_case
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SCALE = float(os.environ.get("NETSPEC_FUZZ_SCALE", "1"))


def quick(n: int):
    """Hypothesis settings for ``n`` cases (times NETSPEC_FUZZ_SCALE); no per-example
    deadline: fuzzgen's own CPU-time bound applies to every case instead."""
    return settings(max_examples=max(1, int(n * SCALE)), deadline=None, derandomize=SCALE == 1,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much], database=None)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    wd = tmp_path_factory.mktemp("fuzz")
    fuzzgen.warm_up(wd)
    return wd


def assert_holds(data: bytes, workdir, **kw) -> fuzzgen.Outcome:
    out = check_case(data, workdir, **kw)
    assert out.problem is None, f"{out.problem}\n--- input ---\n{data[:3000]!r}"
    return out


# -- inputs that once broke the property -------------------------------------------------------

def _spec(body: str) -> bytes:
    return body.encode()


REGRESSIONS = {
    # `add` took a third tensor and crashed unpacking two
    "add-three-inputs": _spec("network A {\n  input x: float[b, 8]\n  y = x -> add(x, x)\n  output y\n}\n"),
    # an integer literal past Python's 4,300-digit conversion limit
    "huge-literal": _spec("network A {\n  input x: float[" + "9" * 4400 + "]\n  output x\n}\n"),
    "huge-literal-leading-zeros": _spec("network A(k=" + "0" * 5000 + "7) {\n  input x: float[k]\n  output x\n}\n"),
    "huge-literal-in-set-syntax": _spec("network A {\n  input x: float[2]\n  y = x -> reshape(" + "1" * 4301
                                        + ")\n  output y\n}\n"),
    # spec arithmetic that grows past what Python can print
    "huge-product": _spec("network A {\n  input x: float[" + " * ".join(["999999999999999999"] * 300)
                          + "]\n  output x\n}\n"),
    "huge-param-product": _spec("network A(k=999999999999999999) {\n  input x: float[b, 3]\n  y = x -> reshape(b, "
                                + "*".join(["k"] * 300) + ")\n  output y\n}\n"),
    # an input that does not fit a network used as a stage: the error was lost, then the
    # report crashed on the half-made layer
    "block-rank-mismatch": _spec("network B(c) {\n  input x: float[batch, c, 3 * c]\n  output x\n}\n"
                                 "network A {\n  input x: float[batch, 8]\n  z = x -> B(8)\n  output z\n}\n"),
    # permute and reshape took any value as a size
    "permute-float": _spec("network A {\n  input x: float[28, b, 28]\n  y = x -> permute(1, 0, 1e-999)\n"
                           "  output y\n}\n"),
    "reshape-tuple-in-tuple": _spec("network A {\n  input x: float[b, 8, 4]\n  y = x -> reshape(\"a\", (1, 2))\n"
                                    "  output y\n}\n"),
    "permute-bool": _spec("network A {\n  input x: float[b, 8, 4]\n  y = x -> permute(0, 1, true)\n  output y\n}\n"),
    # the end of a file cut short was marked one column past the line
    "cut-off": _spec("network A {\n  input x: float["),
    "cut-off-trailing-newlines": _spec("network A(k=3,\n\n\n"),
    # a form feed (white space to the parser, a line break to str.splitlines) shifted lines
    "form-feed": b"network A {\x0c\x0c\x0c",
    "line-separator": "network A {\u2028\u2028 input x: float[b]\n output y\n}\n".encode(),
    # bytes that are not UTF-8, and a NUL
    "nul": b"network A {\n  input x: float[b\x00]\n}\n",
    "lone-surrogate": b"network A {\n  input x\xed\xa0\x80: float[b]\n}\n",
    "bom-then-bad-byte": b"\xef\xbb\xbfnetwork A {\xff}\n",
    "crlf": b"network A {\r\n  input x: float[b, 3]\r\n  y = x -> Linear(2\r\n",
    "empty": b"",
    "only-whitespace": b" \n\t\r\n\x0c",
}


# specs that check, whose module generation broke
BUILD_REGRESSIONS = {
    # a name whose class-private underscores stripped leave no identifier: the search for
    # a free name never ended
    "name-that-stripped-is-a-number": _spec("network w(AdaptiveAvgPool1d=1) {\n    input __9f: float32[(8), 4, batch, 8]\n"
                                            "    output __9f, __9f\n}\n"),
    # an allowed layout error stopped the check yet the spec passed, with no shapes to build
    "allowed-layout": _spec("network Oops {\n    input tokens: long[batch, seq]\n    out = tokens -> Embedding(1000, 64)"
                            " -> LSTM(128)# netspec: allow[layout] -> Linear(2)\n    output out\n}\n"),
}


@pytest.mark.parametrize("name", sorted(REGRESSIONS))
def test_regressions(name, workdir):
    assert_holds(REGRESSIONS[name], workdir)


@pytest.mark.parametrize("name", sorted(BUILD_REGRESSIONS))
def test_build_regressions(name, workdir):
    assert assert_holds(BUILD_REGRESSIONS[name], workdir).exit == 0


def test_regressions_are_diagnosed_not_accepted(workdir):
    """Each broken input above is an error the user is told about (an empty file declares no
    network, which the grammar allows)."""
    for name, data in REGRESSIONS.items():
        if name in ("empty", "only-whitespace"):
            continue
        out = check_case(data, workdir)
        assert out.exit == 1 and out.diagnostics >= 1, name


def test_cut_off_file_points_at_its_end(workdir, run_cli):
    path = workdir / "cut.net"
    path.write_bytes(b"network A {\n  input x: float[b, 3]\n  y = x -> Linear(\n\n\n")
    r = run_cli("check", "--json", path)
    (d,) = json.loads(r.stdout)["diagnostics"]
    assert (d["line"], d["column"], d["end_line"], d["end_column"]) == (3, 19, 3, 19)


def test_form_feed_does_not_shift_lines(workdir, run_cli):
    path = workdir / "ff.net"
    path.write_bytes(b"network A {\x0c\n  input x: float[b, 3]\n  y = x -> Foo\x0c\n  output y\n}\n")
    r = run_cli("check", path)
    assert r.returncode == 1
    assert f"{path}:3:12: error[unknown-layer]" in r.stdout
    assert " 3 |   y = x -> Foo" in r.stdout  # the source line shown is line 3 as counted


# -- the driver can fail -----------------------------------------------------------------------

def test_driver_reports_an_escaped_exception(workdir, monkeypatch):
    import netspec.api

    def boom(*a, **k):
        raise RuntimeError("boom")

    monkeypatch.setattr(netspec.api, "check_text", boom)
    out = check_case(SPEC_BYTES["lenet.net"], workdir)
    assert out.problem and "RuntimeError: boom" in out.problem


def test_driver_reports_a_slow_check(workdir, monkeypatch):
    import netspec.api

    def spin(*a, **k):
        while True:
            pass

    monkeypatch.setattr(netspec.api, "check_text", spin)
    out = check_case(SPEC_BYTES["lenet.net"], workdir, time_limit=0.2, layer_seconds=0)
    assert out.problem == "took more than 0.2 s"


def test_the_time_bound_grows_with_the_layers_checked():
    """A case's bound is TIME_LIMIT plus LAYER_SECONDS a layer checked, counted from the
    report: N's 3 ReLUs and 2 uses of B, each use checking B's 2 layers again, and B's own
    generic check: 3 + 2 * (1 + 2) + 2 = 11."""
    report = {"networks": [{"name": "B", "layers": [{"kind": "ReLU"}] * 2},
                           {"name": "N", "layers": [{"kind": "ReLU"}] * 3 + [{"kind": "B"}] * 2}]}
    assert fuzzgen.layers_checked(report) == 11
    assert fuzzgen.layers_checked({"networks": []}) == 0


def test_span_check_rejects_positions_outside_the_file():
    lines = ["network A {", "}"]
    good = {"file": "f", "line": 2, "column": 2, "end_line": 2, "end_column": 2}
    assert fuzzgen.span_problem(good, "f", lines) is None
    for bad in ({"line": 3}, {"line": 0}, {"column": 3, "end_column": 3}, {"end_line": 1},
                {"end_column": 3}, {"column": 0}, {"file": "g"}):
        assert fuzzgen.span_problem({**good, **bad}, "f", lines), bad


# -- the fuzz cases ----------------------------------------------------------------------------

@pytest.mark.parametrize("spec", sorted(SPEC_BYTES))
@quick(25)
@given(data=st.data())
def test_mutated_specs(spec, data, workdir):
    assert_holds(fuzzgen.mutant(HypothesisDraw(data), SPEC_BYTES[spec]), workdir)


# A generated spec takes hundreds of choices; made by hypothesis one by one they would cost
# more than the check. Hypothesis draws a seed instead (the failing spec is printed whole).
SEEDS = st.integers(0, 2**64 - 1)


@quick(250)
@given(seed=SEEDS)
def test_generated_specs(seed, workdir):
    assert_holds(fuzzgen.generated(RandomDraw(random.Random(seed))), workdir)


@quick(100)
@given(seed=SEEDS)
def test_valid_specs_check(seed, workdir):
    out = assert_holds(fuzzgen.valid(RandomDraw(random.Random(seed)), hostile_names=False), workdir)
    assert out.exit == 0, "a spec built from the kinds' worked examples must check"


@quick(100)
@given(seed=SEEDS)
def test_valid_specs_with_hostile_names(seed, workdir):
    """Keywords, builtins and the generated code's own names: refused, or built safely."""
    assert_holds(fuzzgen.valid(RandomDraw(random.Random(seed)), hostile_names=True), workdir)


@quick(100)
@given(seed=SEEDS)
def test_mutated_valid_specs(seed, workdir):
    d = RandomDraw(random.Random(seed))
    assert_holds(fuzzgen.mutant(d, fuzzgen.valid(d)), workdir)


@quick(100)
@given(raw=st.binary(max_size=400))
def test_random_bytes(raw, workdir):
    assert_holds(raw, workdir)


@quick(100)
@given(data=st.data())
def test_random_grammar_text(data, workdir):
    assert_holds(fuzzgen.random_bytes(HypothesisDraw(data)), workdir)


SET_VALUES = st.one_of(
    st.sampled_from(["3", "-1", "0", "1e999", "9" * 5000, '"same"', "true", "(1, 2)", "(", ")", "", "x", "a=b",
                     '"unterminated', "1 -> ReLU", "{}", "\x00", "\u2028", "# comment", "()", "(,)"]),
    st.text(max_size=30),
)


@quick(60)
@given(name=st.sampled_from(["vocab", "hidden", "layers", "nope", "", "1x", "a b"]), value=SET_VALUES)
def test_set_values(name, value, workdir):
    """`--set` takes text from the command line: a usage error (2) or a check (0, 1)."""
    assert_holds(SPEC_BYTES["charrnn.net"], workdir, extra=("--set", f"{name}={value}"), exits=(0, 1, 2))


# -- in a fresh interpreter: nothing but diagnostics on the terminal ---------------------------

def test_no_traceback_in_a_subprocess(workdir, run_cli):
    """The in-process driver catches what escapes `main`; this shows what a user's terminal
    gets for the same inputs: diagnostics on stdout, nothing on stderr."""
    d = RandomDraw(random.Random(20240))
    cases = list(REGRESSIONS.values()) + [fuzzgen.any_case(d)[1] for _ in range(10)]
    paths = []
    for k, data in enumerate(cases):
        path = workdir / f"sub{k}.net"
        path.write_bytes(data)
        paths.append(path)
    for args in (("check", *paths), ("check", "--json", *paths)):
        r = run_cli(*args)
        assert r.returncode == 1, r.stderr
        assert "Traceback" not in r.stderr + r.stdout
        assert r.stderr == ""
    report = json.loads(r.stdout)
    files = {x["file"] for x in report["diagnostics"]}
    assert files == {str(p) for p, data in zip(paths, cases) if check_case(data, workdir).exit == 1}


# -- cost: constructions that once took minutes or gigabytes, at growing sizes ------------------

@pytest.mark.parametrize("kind", [*costgen.CONSTRUCTIONS, "mixed"])
def test_costly_specs(kind, workdir):
    """Each construction of tests/costgen.py at a few sizes, up to past every bound: exit 0
    or 1, no traceback, CPU time and peak RSS within a linear function of the file's size
    (measured in a fresh process). NETSPEC_FUZZ_SCALE=10 runs ten times as many; the long
    profile is scripts/cost_fuzz.py."""
    rng = random.Random(f"{kind}-{os.environ.get('NETSPEC_COST_SEED', '0')}")
    for _ in range(max(1, int(2 * SCALE))):
        _, data = costgen.costly(RandomDraw(rng), kind)
        out = costgen.cost_case(data, workdir)
        assert out.problem is None, f"{out.problem}\n--- input ---\n{data[:3000]!r}"
