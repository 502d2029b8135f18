"""The fast parser builds exactly the AST that Lark's parser builds, or declines.

netspec/fastparse.py is an optimisation: whenever it returns a module, Lark (the parser of
record for grammar/netspec.lark) must return an equal one, spans and `allow` comments
included. These tests compare the two on every spec, on every example of the language
documents, on generated programs, and on broken variants of them.
"""

from __future__ import annotations

import pathlib
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netspec import fastparse, limits, parser
from netspec.diagnostics import Reporter

ROOT = pathlib.Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.net"))
KEYWORDS = sorted(fastparse.KEYWORDS)


def lark_parse(text: str):
    """syntax.parse with the fast path switched off: Lark's module, or None on a syntax error."""
    saved = fastparse.parse
    fastparse.parse = lambda text, file: None
    try:
        return parser.parse(text, "t.net", Reporter())
    finally:
        fastparse.parse = saved


def fast_parse(text: str):
    return fastparse.parse(text, "t.net")


def agree(text: str):
    """Assert the fast parser's module equals Lark's whenever it returns one; return both."""
    fast = fast_parse(text)
    slow = lark_parse(text)
    if fast is not None:
        assert slow is not None, f"the fast parser accepted what Lark rejects:\n{text}"
        assert fast == slow, f"the two parsers built different modules:\n{text}"
    return fast, slow


def doc_examples() -> list[str]:
    out = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        if path.exists():
            for block in re.findall(r"```[a-z]*\n(.*?)```", path.read_text(), re.S):
                if "network" in block:
                    out.append(block)
    return out


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_every_spec_takes_the_fast_path_to_the_same_module(path):
    fast, slow = agree(path.read_text())
    assert slow is not None
    assert fast is not None, "the fast parser declined a spec in specs/"


def test_the_documents_examples_parse_alike():
    examples = doc_examples()
    assert len(examples) >= 5
    for text in examples:
        agree(text)


@pytest.mark.parametrize("text", [
    "",
    "   \n# only a comment\n",
    "network N {}",
    "network N() { }",
    "network N(a, b=2,) { input x: [a, b,] output x }",
    "network N { input x: float[1_000, 2] y = x -> f(1., 2.5e-3, 1e3, 1_0.0_1) output y }",
    "network N(q=1e999) { input x: float[2] y = x -> f(-1E999, 1_0e-999, 0e-999, 0.0) output y }",
    'network N { input x: float[2] y = x -> f("same", true, false, ()) output y }',
    "network N { input x: float[2] y = x -> f((1,), (1, 2), (1, 2,), (x -> A)) output y }",
    "network N { input x: float[2] y = (x) -> (A -> B(1) as b) * 2 as c : [2] output y }",
    "network N { input x: float[2] y = x : [2] -> A * -3 -> B * (n) output y.output, y }",
    "network N { input x: float[2] y = x -> A(k=-1 - -2 * 3 // 4 % 5 + (6 - 7)) output y }",
    "network N { input x: float[2] y = add(x, x -> ReLU, alpha=0.5) -> ReLU output y }",
    "network N {\r\n\tinput x: float[2]  # netspec: allow[shape, layout]\r\n\ty = x\r\n\toutput y\r\n}\r\n",
    "network N { input x: float[2] y = x -> A(b=(c -> D : [2]) : [3]) output y }",
    "network N { input x: float[2, 3] y = x[:, -1] + x[..., 0:2:1][None] - x[1:][::2] output y }",
    "network N { input x: float[2] y = -x ** 2 ** -1 / x @ x // 2 output y }",
    "network N { input x: float[2] param w: float[2] = normal(std=0.1) buffer b: [2] y = x * w output y }",
    "network N { input x: float[2] shared s = Linear(2) a, b = x -> s -> chunk(2) output a }",
    "network N { input x: float[2] param = x params = param shared = x buffers, buffer = x output param }",
    "network N { input x: float[2] y = x -> (Linear(2) as fc -> ReLU) * 2 as block{1} output y }",
    'network N { input x: float[2] y = x -> (Linear(2) as "block1-0" -> ReLU) * 2 as "b-"{1} output y }',
    'network N { input x: float[2] y = x -> Linear(2) as "" -> ReLU as "x.y" -> A as "é 1" output y }',
])
def test_corner_cases_parse_alike(text):
    fast, slow = agree(text)
    assert fast is not None and slow is not None


@pytest.mark.parametrize("text", [
    # keywords where Lark's contextual lexer reads them as names: left to Lark
    "network N(input=1) { input x: float[as] y = x -> f(output=1) output y }",
    "network N { input x: float[2] true = x output true }",
    # syntax errors
    "network N { input x: float[2] y = x -> output y }",
    "network N { y = x -> A(1 2) output y }",
    "network N { y = x -> A * 2 + 1 output y }",
    "network N { y = [x] }",
    'network N { y = x -> f("a\\"b") output y }',
    "network N { y = x ~> A output y }",
    "network N { y = x -> A(k==1) output y }",
    "network N { y = x -> (A * 2 asx) output y }",
    "network N { y = x[] output y }",
    "network N { y = x[1:2:3:4] output y }",
    "network N { y = x -> A as a{} output y }",
    "network N { y = x -> A as a{b} output y }",
    'network N { y = x -> A as "a\\"); import os #" output y }',
    'network N { y = x -> A as "a"b output y }',
    'network N { y = x -> A as "a\nb" output y }',
    "network N { param w = x output w }",
    "network N { shared s: [2] output s }",
    "network N {",
    "network",
    "network N { y = " + "-" * 200 + "1 output y }",
    "network N { y = " + "+".join(["1"] * 300) + " output y }",
])
def test_what_the_fast_parser_declines_lark_decides(text):
    fast, _ = agree(text)
    assert fast is None


def test_long_chains_and_many_bindings_take_the_fast_path():
    chain = "network C { input x: float[batch, 8]\n y = x\n" + "".join(
        f"  -> Linear({i % 7 + 1})\n" for i in range(1000)) + " output y }\n"
    binds = "network B { input h0: float[batch, 8]\n" + "".join(
        f" h{i + 1} = add(h{i}, h{i} -> ReLU) : [batch, 8]\n" for i in range(1000)) + " output h1000 }\n"
    for text in (chain, binds):
        fast, slow = agree(text)
        assert fast is not None


# -- generated programs -------------------------------------------------------------------------
# Token lists drawn from the grammar (mostly valid programs), joined by random blanks and
# comments. NAMES never spell a keyword; WORDS sometimes do, where Lark's contextual lexer
# may read them either way.

NAMES = st.sampled_from(["x", "y", "h", "batch", "seq", "Linear", "Conv2d", "ReLU", "f", "a_1", "_b", "B2",
                         "trueish", "asx", "network_", "inputs", "params", "shared_", "buffer1"])
# `param`, `buffer` and `shared` start declarations but are names elsewhere, as Lark reads them
WORDS = st.one_of(NAMES, NAMES, NAMES, NAMES, NAMES, NAMES, st.sampled_from(KEYWORDS),
                  st.sampled_from(sorted(fastparse.DECLARATIONS)))
INTS = st.sampled_from(["0", "1", "7", "64", "1_000", "3_"])
FLOATS = st.sampled_from(["0.5", "1.", "2.5e-3", "1e3", "1_0.0_1", "3E+2"])
STRINGS = st.sampled_from(['"same"', '""', '"a b"'])


@st.composite
def expr(draw, w, depth=0):
    choices = ["int", "float", "str", "bool", "ref", "attr"]
    if depth < 3:
        choices += ["call", "paren", "tuple", "binop", "neg", "power", "subscript"]
    kind = draw(st.sampled_from(choices))
    if kind == "int":
        return [draw(INTS)]
    if kind == "float":
        return [draw(FLOATS)]
    if kind == "str":
        return [draw(STRINGS)]
    if kind == "bool":
        return [draw(st.sampled_from(["true", "false"]))]
    if kind == "ref":
        return [draw(w)]
    if kind == "attr":
        return [draw(w), ".", draw(w)]
    if kind == "call":
        return [draw(w), "(", *draw(arglist(w, depth + 1)), ")"]
    if kind == "paren":
        return ["(", *draw(chain(w, depth + 1)), ")"]
    if kind == "tuple":
        items = draw(st.lists(chain(w, depth + 1), max_size=3))
        out = ["("]
        for i, item in enumerate(items):
            out += ([","] if i else []) + item
        if len(items) == 1 or (items and draw(st.booleans())):
            out.append(",")
        return out + [")"]
    if kind == "binop":
        op = draw(st.sampled_from(["+", "-", "*", "/", "//", "%", "@"]))
        return [*draw(expr(w, depth + 1)), op, *draw(expr(w, depth + 1))]
    if kind == "power":
        return [*draw(expr(w, depth + 1)), "**", *draw(expr(w, depth + 1))]
    if kind == "subscript":
        return [*draw(expr(w, depth + 1)), "[", *draw(subscripts(w, depth + 1)), "]"]
    return ["-", *draw(expr(w, depth + 1))]


@st.composite
def subscripts(draw, w, depth):
    """The items of `x[...]`: expressions, slices with parts left out, `...`."""
    out = []
    for i in range(draw(st.integers(1, 3))):
        out += [","] if i else []
        kind = draw(st.sampled_from(["expr", "slice", "dots"]))
        if kind == "dots":
            out.append("...")
            continue
        part = draw(st.one_of(st.just([]), expr(w, depth + 1)))
        out += part
        if kind == "slice":
            for _ in range(draw(st.integers(1, 2))):
                out += [":", *draw(st.one_of(st.just([]), expr(w, depth + 1)))]
        elif not part:
            out.append("0")
    if draw(st.integers(0, 4)) == 0:
        out.append(",")
    return out


@st.composite
def arglist(draw, w, depth):
    out = []
    for i in range(draw(st.integers(0, 3))):
        if i:
            out.append(",")
        if draw(st.booleans()):
            out += [draw(w), "="]
        out += draw(chain(w, depth))
    if out and draw(st.booleans()):
        out.append(",")
    return out


@st.composite
def tensor_type(draw, w, depth):
    out = [draw(w)] if draw(st.booleans()) else []
    out.append("[")
    for i in range(draw(st.integers(0, 3))):
        out += ([","] if i else []) + draw(expr(w, depth + 1))
    return out + ["]"]


@st.composite
def stage(draw, w, depth):
    if depth < 3 and draw(st.integers(0, 4)) == 0:
        out = ["(", *draw(stage(w, depth + 1))]
        for _ in range(draw(st.integers(0, 2))):
            out += ["->", *draw(stage(w, depth + 1))]
        out.append(")")
    else:
        out = [draw(w)]
        if draw(st.booleans()):
            out += ["(", *draw(arglist(w, depth + 1)), ")"]
    if draw(st.integers(0, 3)) == 0:
        out += ["*", *draw(expr(w, depth + 2))]
    if draw(st.integers(0, 3)) == 0:
        out += ["as", draw(st.one_of(w, STRINGS))]
        if draw(st.integers(0, 2)) == 0:
            out += ["{", draw(INTS), "}"]
    if draw(st.integers(0, 4)) == 0:
        out += [":", *draw(tensor_type(w, depth))]
    return out


@st.composite
def chain(draw, w, depth=0):
    out = draw(expr(w, depth))
    if draw(st.integers(0, 4)) == 0:
        out += [":", *draw(tensor_type(w, depth))]
    for _ in range(draw(st.integers(0, 3 if depth < 3 else 0))):
        out += ["->", *draw(stage(w, depth))]
    return out


@st.composite
def program(draw, w):
    toks = []
    for _ in range(draw(st.integers(1, 2))):
        toks += ["network", draw(w)]
        if draw(st.booleans()):
            toks.append("(")
            for i in range(draw(st.integers(0, 3))):
                toks += ([","] if i else []) + [draw(w)]
                if draw(st.booleans()):
                    toks += ["=", *draw(expr(w, 1))]
            toks.append(")")
        toks.append("{")
        for _ in range(draw(st.integers(0, 4))):
            which = draw(st.sampled_from(["input", "binding", "binding", "output", "tensor", "shared"]))
            if which == "input":
                toks += ["input", draw(w), ":", *draw(tensor_type(w, 0))]
            elif which == "binding":
                toks.append(draw(w))
                for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):
                    toks += [",", draw(w)]
                toks += ["=", *draw(chain(w, 0))]
            elif which == "tensor":
                toks += [draw(st.sampled_from(["param", "buffer"])), draw(w), ":", *draw(tensor_type(w, 0))]
                if draw(st.booleans()):
                    toks += ["=", *draw(expr(w, 1))]
            elif which == "shared":
                toks += ["shared", draw(w), "=", *draw(stage(w, 1))]
            else:
                toks += ["output", draw(w)]
                if draw(st.booleans()):
                    toks += [",", draw(w), ".", draw(w)]
        toks.append("}")
    return toks


SEPARATORS = st.sampled_from([" ", " ", " ", "\n", "\t", "  ", "\r\n", " # a comment\n",
                              "  # netspec: allow[shape]\n", "\n\n    "])


@st.composite
def spaced(draw, tokens):
    seps = draw(st.lists(SEPARATORS, min_size=len(tokens) + 1, max_size=len(tokens) + 1))
    return seps[0] + "".join(t + s for t, s in zip(tokens, seps[1:]))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_generated_programs_take_the_fast_path_to_the_same_module(data):
    text = data.draw(spaced(data.draw(program(NAMES))))
    fast, slow = agree(text)
    if slow is not None:
        assert fast is not None, f"the fast parser declined a program Lark accepts:\n{text}"


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_programs_spelling_keywords_as_names_never_parse_differently(data):
    agree(data.draw(spaced(data.draw(program(WORDS)))))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_broken_programs_never_parse_differently(data):
    tokens = data.draw(program(WORDS))
    for _ in range(data.draw(st.integers(1, 3))):
        op = data.draw(st.sampled_from(["delete", "duplicate", "swap", "insert"]))
        i = data.draw(st.integers(0, max(0, len(tokens) - 1)))
        if op == "delete" and tokens:
            del tokens[i]
        elif op == "duplicate" and tokens:
            tokens.insert(i, tokens[i])
        elif op == "swap" and len(tokens) > 1:
            j = data.draw(st.integers(0, len(tokens) - 1))
            tokens[i], tokens[j] = tokens[j], tokens[i]
        else:
            tokens.insert(i, data.draw(st.sampled_from(["(", ")", ",", "->", "=", ":", "[", "]", "{", "}",
                                                         "*", "-", "as", "input", "1", "x", ".", "~", "\\"])))
    agree(data.draw(spaced(tokens)))


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_character_level_damage_never_parses_differently(data):
    path = data.draw(st.sampled_from(SPECS))
    text = path.read_text()
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(text)))
        ch = data.draw(st.sampled_from(list("()[]{},:=-> *.#\"\n\t0123456789abx_\x0b\u00e9")))
        if data.draw(st.booleans()):
            text = text[:i] + ch + text[i:]
        else:
            text = text[:i] + text[i + 1:]
    agree(text)


def _nesting_reference(text: str):
    """The bracket-depth scan, one character at a time: (line, column) of the first bracket
    past limits.MAX_DEPTH outside strings and comments, or None."""
    depth, line, col = 0, 1, 0
    in_comment = in_string = False
    for ch in text:
        col += 1
        if ch == "\n":
            line, col = line + 1, 0
            in_comment = in_string = False
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
            if depth > limits.MAX_DEPTH:
                return line, col
        elif ch in ")]}":
            depth = max(0, depth - 1)
    return None


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["(", "((((((((((", ")", "[", "]", "{", "}", '"', "#", "\n", "x", " ", "\t", "é"]),
                max_size=400))
def test_the_nesting_limit_is_found_where_a_character_scan_finds_it(parts):
    text = "".join(parts)
    reporter = Reporter()
    ok = parser._nesting_ok(text, "t.net", reporter)
    expected = _nesting_reference(text)
    assert ok == (expected is None)
    if expected is not None:
        (d,) = reporter.items
        assert (d.code, d.span.line, d.span.column) == ("limit", *expected)


# -- splitting an edited body from the split of the body before the edit ----------------------------

def _resplit_agrees(old: str, new: str) -> fastparse.Split | None:
    """resplit_body(old, split_body(old), new) finds split_body(new)'s statements; the split
    it gives (None where ``new`` does not split)."""
    split = fastparse.split_body(old)
    assert split is not None
    got = fastparse.resplit_body(old, split, new)
    want = fastparse.body_split(new)
    assert (None if got is None else (got.close, got.starts)) == want
    return got


_NAMES = ", ".join(f"a{i}" for i in range(40))
_ARGS = ", ".join("x" for _ in range(40))


@pytest.mark.parametrize("old, edit", [
    # a string closed at the end of its line: the names after its `"` no longer split statements
    ('{\n    y = f("a, b) c = g(' + _ARGS + ")\n    output y\n}\n", ('x)\n', 'x)")\n')),
    # a list of names that becomes the targets of a binding on the next line: the names
    # before the edit start a statement (each name reads the list to its end)
    ("{\n    input x: float[1]\n    output " + _NAMES + "\n    b = x\n}\n", ("    b = x", "    , b = x")),
    # a newline deleted between two statements, and one put in the middle of a statement
    ("{\n    input x: float[1]\n    a = x -> f(" + _ARGS + ")\n    b = a\n    output b\n}\n", (")\n    b", ")    b")),
    ("{\n    input x: float[1]\n    a = x -> f(" + _ARGS + ")\n    b = a\n    output b\n}\n", ("x, x)", "x,\n    c = x)")),
    # inside a comment, at the very start and the very end, unicode before the edit
    ("{  # é\n    input x: float[1]\n    a = x -> f(" + _ARGS + ")  # a = b\n    output a\n}\n", ("# a = b", "# a = c, d = e")),
    ("{\n    input x: float[1]\n    a = x -> f(" + _ARGS + ")\n    output a\n}\n", ("{\n", "{  b = x\n")),
    ("{\n    input x: float[1]\n    a = x -> f(" + _ARGS + ")\n    output a\n}\n", ("}\n", "}\n# end\n")),
    ("{\n    input x: float[1]  # é\n    a = x -> f(" + _ARGS + ")\n    output a\n}\n", ("output a", "output a, é")),
    # a number that reads further once edited (`1e` + `5`), and a bracket closed early
    ("{\n    input x: float[1]\n    a = x -> f(" + _ARGS + ", 1ex)\n    output a\n}\n", ("1ex", "1e5")),
    ("{\n    input x: float[1]\n    a = x -> f(" + _ARGS + ")\n    output a\n}\n", ("x, x, x)", "x), x, x)")),
])
def test_a_resplit_body_splits_as_the_whole_body_does(old, edit):
    at = old.rindex(edit[0])
    _resplit_agrees(old, old[:at] + edit[1] + old[at + len(edit[0]):])


def test_a_resplit_reads_only_around_the_edit():
    """A digit edited near the end of a 1,000-stage chain: the split is found from a place
    just before the edit, and joins the old one again just after it."""
    body = "{\n    input x: float[b, 8, 32, 32]\n    y = x\n" + "".join(
        f"        -> Conv2d(8, {3 + i % 2}, padding=1)\n" for i in range(1000)) + "    output y\n}\n"
    at = body.index("3, padding", len(body) // 2)
    read = []
    window = fastparse._window
    fastparse._window = lambda *a: read.append(a[1:]) or window(*a)
    try:
        got = _resplit_agrees(body, body[:at] + "7" + body[at + 1:])
    finally:
        fastparse._window = window
    assert got is not None and len(read) == 1 and at - 200 < read[0][0] < at < read[0][1] < at + 1000


def _bodies() -> list[str]:
    """The body of every network in specs/ (from its `{`, with the comments after it)."""
    from netspec.ide.analysis import network_starts

    out = []
    for path in SPECS:
        text = path.read_text()
        starts = network_starts(text) + [len(text)]
        for a, b in zip(starts, starts[1:]):
            brace = fastparse.body_open(text[a:b])
            if brace is not None and fastparse.split_body(text[a + brace:b]) is not None:
                out.append(text[a + brace:b])
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_resplits_after_random_edits_split_as_the_whole_body_does(data):
    """A series of random edits (brackets, strings, comments, names, `=`, `,`, newlines,
    unicode), each body split from the last one's split, compared with a fresh split; the
    text after an edit read a few characters at a time, or all at once."""
    body = data.draw(st.sampled_from(_bodies()))
    window = fastparse._WINDOW
    fastparse._WINDOW = data.draw(st.sampled_from([1, 7, 512]))
    try:
        _random_edits(data, body)
    finally:
        fastparse._WINDOW = window


def _random_edits(data, body: str) -> None:
    split = fastparse.split_body(body)
    pieces = st.sampled_from(["\n", " ", ",", "=", "a", "(", ")", "[", "]", "{", "}", '"', "#", ".", "as",
                              "output", "1e", "5", "\\", "x = ", "é", "->", "\n    b = a\n"])
    for _ in range(8):
        start = data.draw(st.integers(1, len(body)))
        end = data.draw(st.integers(start, min(len(body), start + 20)))
        new = body[:start] + "".join(data.draw(st.lists(pieces, max_size=3))) + body[end:]
        got = fastparse.resplit_body(body, split, new)
        want = fastparse.body_split(new)
        assert (None if got is None else (got.close, got.starts)) == want
        if got is not None:
            body, split = new, got


def test_a_float_literal_past_float_range_keeps_its_spelling_in_both_parsers():
    """`1e999` is inf and `1e-999` is 0.0, as Python reads them; the value keeps the
    literal's spelling, which messages quote, and both parsers give the same."""
    import math

    text = "network N { input x: float[2] y = x -> f(1e999, 1_0E-999, 0e-999, 2.5) output y }"
    for module in (fast_parse(text), lark_parse(text)):
        args = [a.value.value for a in module.networks[0].bindings[0].chain.stages[0].core.args]
        assert [str(v) for v in args] == ["1e999", "1_0E-999", "0.0", "2.5"]
        assert math.isinf(args[0]) and args[1] == 0.0 and type(args[2]) is float and type(args[3]) is float
        negated = -args[0]
        assert str(negated) == "-1e999" and str(-negated) == "1e999" and negated == float("-inf")
