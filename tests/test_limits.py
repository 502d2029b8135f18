"""Limits: specs too large or too deep to check get one clear `limit` diagnostic and exit
status 1, never a Python traceback (RecursionError, MemoryError, ValueError from a
thousand-digit number) and never a hang. The limits themselves are read from netspec, so
the tests follow a changed limit; 100,000 nested parentheses, 10,000 minus signs and chains
of stages one past the layer limit are far past every limit.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netspec import limits
from netspec.limits import INT64_MAX, MAX_LAYERS, MAX_REPEAT, MAX_USE_DEPTH

HEAD = "network L {\n    input x: float[batch, 4]\n"
TAIL = "    output y\n}\n"


def spec(body: str) -> str:
    return HEAD + body + TAIL


@pytest.fixture
def check(run_cli, tmp_path: Path):
    """Write a spec, run `netspec check --json` on it; returns (exit status, diagnostics)."""

    def run(text: str | bytes, *extra: str) -> tuple[int, list[dict]]:
        path = tmp_path / "limit.net"
        if isinstance(text, str):
            path.write_text(text, encoding="utf-8")
        else:
            path.write_bytes(text)
        proc = run_cli("check", "--json", path, *extra)
        assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
        assert proc.returncode in (0, 1), (proc.returncode, proc.stderr[-2000:])
        return proc.returncode, json.loads(proc.stdout)["diagnostics"]

    return run


def assert_one_limit(result, line: int | None = None, words: str | None = None) -> dict:
    status, diags = result
    assert status == 1
    assert [d["code"] for d in diags] == ["limit"], [(d["code"], d["message"][:200]) for d in diags]
    (d,) = diags
    assert d["severity"] == "error"
    if line is not None:
        assert d["line"] == line
    if words is not None:
        assert words in d["message"], d["message"]
    return d


# -- nesting: no recursion anywhere, however deep -----------------------------------------------

N_PARENS = 100_000
N_STAGES = MAX_LAYERS + 1
N_MINUS = 10_000
N_DEEP = 10_000

DEEP = {
    "parentheses": spec("    y = " + "(" * N_PARENS + "x" + ")" * N_PARENS + " -> ReLU\n"),
    "nested chains": spec("    y = " + "(" * N_STAGES + "x" + " -> ReLU)" * N_STAGES + "\n"),
    "nested stage groups": spec("    y = x -> " + "(" * N_DEEP + "ReLU" + ")" * N_DEEP + "\n"),
    "nested repeated groups": spec("    y = x -> " + "(" * N_DEEP + "ReLU" + ") * 1" * N_DEEP + "\n"),
    "nested tuple literals": spec("    y = x -> Linear(4, bias=" + "(" * N_DEEP + "1," + ")" * N_DEEP + ")\n"),
    "nested op calls": spec("    y = " + "add(" * N_DEEP + "x" + ", x)" * N_DEEP + "\n"),
    "nested assertion dims": HEAD.replace("float[batch, 4]", "float[batch, " + "(" * N_DEEP + "4" + ")" * N_DEEP + "]")
    + "    y = x\n" + TAIL,
    "nested parameter default": "network L(k=" + "(" * N_DEEP + "1" + ")" * N_DEEP + ") {\n"
    + "    input x: float[batch, 4]\n    y = x\n" + TAIL,
}


@pytest.mark.parametrize("text", DEEP.values(), ids=DEEP.keys())
def test_deep_brackets_are_a_limit(check, text):
    assert_one_limit(check(text), words=f"deeper than {limits.MAX_DEPTH}")


FLAT_DEEP = {
    # no bracket at all, yet each builds a tree as deep as it is long
    "unary minus signs": spec("    y = x -> Linear(" + "-" * N_MINUS + "4)\n"),
    "a long sum": spec("    y = x -> reshape(batch, " + " + ".join(["1"] * N_DEEP) + ")\n"),
    "a long product": spec("    y = x -> reshape(" + " * ".join(["batch"] * N_DEEP) + ")\n"),
    "a long dim expression": HEAD.replace("float[batch, 4]", "float[batch, " + " - ".join(["9"] * N_DEEP) + "]")
    + "    y = x\n" + TAIL,
}


@pytest.mark.parametrize("text", FLAT_DEEP.values(), ids=FLAT_DEEP.keys())
def test_deep_expressions_are_a_limit(check, text):
    line = next(i for i, s in enumerate(text.split("\n"), 1) if len(s) > 1000)
    assert_one_limit(check(text), line=line, words=f"deeper than {limits.MAX_DEPTH}")


def test_brackets_in_comments_and_strings_do_not_count(check):
    deep = "(" * N_PARENS
    text = spec(f"    # {deep}\n    y = x -> unsqueeze(1) -> Conv1d(4, 1, padding=\"same\") -> ReLU   # {deep} -> ReLU\n")
    status, diags = check(text)
    assert (status, diags) == (0, [])


# -- the number of layers -----------------------------------------------------------------------

def test_a_chain_past_the_layer_limit_is_found_before_parsing(check):
    d = assert_one_limit(check(spec("    y = x" + " -> ReLU" * N_STAGES + "\n")), line=3,
                         words=f"more than {MAX_LAYERS:,} layers")
    assert d["column"] == len("    y = x") + 8 * MAX_LAYERS + 2  # the arrow one past the limit


def test_stages_past_the_limit_on_their_own_lines(check):
    assert_one_limit(check(spec("    y = x\n" + "        -> ReLU\n" * N_STAGES)),
                     line=3 + MAX_LAYERS + 1, words="layers")


def test_arrows_in_comments_do_not_count(check):
    text = spec("    # " + "-> " * (2 * MAX_LAYERS) + "\n    y = x -> ReLU\n")
    assert check(text) == (0, [])


def test_bindings_past_the_limit(check):
    body = "    y0 = x\n" + "".join(f"    y{i + 1} = y{i} -> ReLU\n" for i in range(MAX_LAYERS + 1))
    assert_one_limit(check(spec(body + f"    y = y{MAX_LAYERS + 1}\n")), words="layers")


def test_repetitions_count_as_layers_and_stop_at_once(check):
    """10**12 layers written in one line: one error, after at most MAX_LAYERS layers checked."""
    body = "    y = x -> " + "(" * 4 + "ReLU" + ") * 1000" * 4 + "\n"
    assert_one_limit(check(spec(body)), line=3, words="layers")


def nested_networks(n: int) -> list[str]:
    """Networks N0 ... N{n-1}, each using the one before; N{i} is defined at line 5i + 1."""
    parts = ["network N0 {\n    input x: float[batch, 4]\n    y = x -> ReLU\n    output y\n}\n"]
    for i in range(1, n):
        parts.append(f"network N{i} {{\n    input x: float[batch, 4]\n    y = x -> N{i - 1}\n    output y\n}}\n")
    return parts


@pytest.mark.parametrize("order", ["used first", "users first"])
def test_a_deep_tree_of_network_uses_is_a_limit(check, order):
    """3,000 networks each using the one before: no RecursionError; one limit error, at the
    use in the first network past MAX_USE_DEPTH, whatever order they are written in."""
    parts = nested_networks(3000)
    if order == "users first":
        parts.reverse()
    d = assert_one_limit(check("".join(parts)), words=f"more than {MAX_USE_DEPTH} deep")
    lines = "".join(parts).split("\n")
    assert lines[d["line"] - 1].strip() == f"y = x -> N{MAX_USE_DEPTH}"
    # at the limit itself, every network checks
    assert check("".join(nested_networks(MAX_USE_DEPTH + 1))) == (0, [])


def test_networks_used_as_layers_count_as_layers(check):
    """50 networks each using the one before 1,000 times, 1000**50 layers and uses: the limit
    (on uses, the first passed) is found before the layers are checked, and reported once."""
    parts = ["network N0 {\n    input x: float[batch, 4]\n    y = x -> ReLU\n    output y\n}\n"]
    for i in range(1, 50):
        parts.append(f"network N{i} {{\n    input x: float[batch, 4]\n    y = x -> N{i - 1} * 1000\n"
                     "    output y\n}\n")
    d = assert_one_limit(check("".join(parts)), line=13, words="uses networks more than")
    assert d["notes"] == [] and d["end_column"] - d["column"] == len("N1 * 1000")  # the whole stage


def test_networks_used_past_the_limit_in_checked_layers(check):
    """Uses whose layers the bound cannot see (a repetition count from a parameter) pass the
    limit as they are checked: the same one error."""
    parts = ["network N0(k=1) {\n    input x: float[batch, 4]\n    y = x -> ReLU * k\n    output y\n}\n",
             f"network N1 {{\n    input x: float[batch, 4]\n    y = x -> N0(k={MAX_REPEAT}) * {MAX_LAYERS // MAX_REPEAT}\n"
             "    output y\n}\n"]
    assert_one_limit(check("".join(parts)), words="layers")


def test_exactly_the_limit_of_repetitions_checks(check):
    assert MAX_REPEAT <= MAX_LAYERS
    assert check(spec(f"    y = x -> ReLU * {MAX_REPEAT}\n")) == (0, [])
    assert_one_limit(check(spec(f"    y = x -> ReLU * {MAX_REPEAT + 1}\n")), line=3,
                     words=f"repeated {MAX_REPEAT + 1} times")


def test_a_huge_repetition_count(check):
    assert_one_limit(check(spec("    y = x -> ReLU * 100000000000000\n")), line=3, words="repeated")


# -- file size ----------------------------------------------------------------------------------

def test_a_file_past_the_size_limit(check):
    filler = ("#" + " " * 98 + "\n").encode()
    data = spec("    y = x\n").encode() + filler * (limits.MAX_BYTES // len(filler) + 1)
    assert len(data) > limits.MAX_BYTES
    assert_one_limit(check(data), line=1, words="larger than")


# -- sizes --------------------------------------------------------------------------------------

def test_an_input_size_beyond_int64(check):
    text = HEAD.replace("float[batch, 4]", f"float[batch, {INT64_MAX + 1}]") + "    y = x -> ReLU\n" + TAIL
    assert_one_limit(check(text), line=2, words="beyond int64")


def test_a_layer_size_beyond_int64(check):
    assert_one_limit(check(spec(f"    y = x -> Linear({INT64_MAX + 1}) -> ReLU\n")), line=3,
                     words="beyond int64")


def test_int64_max_itself_is_a_size(check):
    text = HEAD.replace("float[batch, 4]", "float[batch, 1]") + f"    y = x -> Linear({INT64_MAX})\n" + TAIL
    status, diags = check(text)
    assert status == 0 and [d["code"] for d in diags] == ["memory"]


def test_elements_past_int64_are_a_limit(check):
    """torch counts a tensor's elements in an int64: 4 * (2**63 - 1) of them is no tensor."""
    assert_one_limit(check(spec(f"    y = x -> reshape(batch, 4, 1) -> Linear({INT64_MAX})\n")), line=3,
                     words="more than 2**63 - 1 elements")


def test_a_size_computed_beyond_int64(check):
    text = "network L(n=4294967296) {\n    input x: float[batch, 4]\n    y = x -> Linear(n * n * 2)\n" + TAIL
    assert_one_limit(check(text), line=3, words="beyond int64")


def test_a_size_with_a_negative_term_beyond_int64(check):
    """A size is at most 2**63 - 1, so ``2**70 * w - h`` is past int64 whatever ``h`` is;
    ``2**62 * w - h`` is not (w = 1, h = 1 is a size)."""
    past = HEAD.replace("float[batch, 4]", f"float[batch, {2**70} * w - h]") + "    y = x -> ReLU\n" + TAIL
    assert_one_limit(check(past), line=2, words="beyond int64")
    within = HEAD.replace("float[batch, 4]", f"float[batch, {2**62} * w - h]") + "    y = x -> ReLU\n" + TAIL
    status, diags = check(within)
    assert status == 0 and not [d for d in diags if d["severity"] == "error"]


def test_a_number_of_thousands_of_digits(check):
    """Python refuses to turn an int of more than 4,300 digits into text: no ValueError."""
    assert_one_limit(check(spec("    y = x -> Linear(" + "9" * 5000 + ")\n")), line=3)


def test_a_sum_of_huge_numbers(check):
    big = "9" * 90
    text = spec("    y = x -> Linear(" + " * ".join([big] * 60) + ")\n")
    assert_one_limit(check(text), line=3)


# -- memory -------------------------------------------------------------------------------------

def test_parameters_past_2_31_elements_are_a_warning(check):
    status, diags = check(spec("    y = x -> Linear(65536) -> Linear(32768)\n"))
    assert status == 0
    assert [(d["severity"], d["code"], d["column"]) for d in diags] == [("warning", "memory", 31)]
    assert "2,147,516,416 parameters" in diags[0]["message"]  # 65536 * 32768 + 32768


def test_parameters_at_2_31_elements_are_not(check):
    # 32767 * 65536 + 65536 = 2**31 exactly: not past it
    text = HEAD.replace("float[batch, 4]", "float[batch, 32767]") + "    y = x -> Linear(65536)\n" + TAIL
    assert check(text) == (0, [])


# -- the text report copes too -------------------------------------------------------------------

def test_text_report_of_a_deep_spec(run_cli, tmp_path):
    path = tmp_path / "deep.net"
    path.write_text(DEEP["parentheses"])
    proc = run_cli("check", path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"{path}:3:" in proc.stdout and "error[limit]" in proc.stdout


def test_a_long_line_is_shown_around_its_span():
    """A generated line of 100,000 characters is cut to a window; the marks stay under
    the span."""
    from netspec.diagnostics import MAX_SHOWN, Diagnostic, Span, render

    line = "".join(chr(ord("a") + i % 26) for i in range(100_000))
    for column in (1, 50, 5_000, 99_990, 100_000):
        d = Diagnostic("error", "limit", "too long", Span("f.net", 1, column, 1, column + 3))
        _, shown, marks = render(d, [line]).split("\n")
        shown, marks = shown.split(" | ", 1)[1], marks.split(" | ", 1)[1]
        assert len(shown) <= MAX_SHOWN + 2
        at = marks.index("^")
        assert shown[at:at + marks.count("^")] == line[column - 1:column - 1 + marks.count("^")]
