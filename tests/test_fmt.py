"""`netspec fmt`: idempotent, keeps every comment, and a formatted spec checks the same.

Proof over every spec in specs/, every file in tests/broken/ that parses and every spec of the
fuzz corpus that parses: formatting twice gives what formatting once gave; the comments
(read by Lark's own lexer, not by the formatter) are the same texts in the same order; the
check gives the same networks (shapes, dtypes, parameter counts, costs) and the same
diagnostics (severity, code, message, notes, help), line numbers aside.
"""

from __future__ import annotations

import base64
import json
import os
import re
import stat
from pathlib import Path

import pytest

from netspec.checker import check_text
from netspec.fmt import FormatError, format_text
from netspec.report import network_json

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.net"))


def _corpus() -> list[tuple[str, str]]:
    texts = []
    for path in sorted((ROOT / "tests" / "broken").glob("*.net")):
        try:
            texts.append((f"broken/{path.name}", path.read_text(encoding="utf-8")))
        except UnicodeDecodeError:
            continue
    with open(ROOT / "tests" / "snapshots" / "fuzz_corpus.jsonl") as f:
        for i, line in enumerate(f):
            try:
                texts.append((f"fuzz{i}", base64.b64decode(json.loads(line)["data"]).decode("utf-8")))
            except UnicodeDecodeError:
                continue
    return [(n, t) for n, t in texts if check_text(t, "spec.net").module is not None]  # those that parse


CORPUS = [(p.name, p.read_text()) for p in SPECS] + _corpus()


def _lark_comments(text: str) -> list[str]:
    """The comments as Lark's lexer reads them (the parser of record, not the formatter's tokens)."""
    from netspec import parser

    parser._comments.clear()
    parser._parser().parse(text)
    return [str(t).rstrip() for t in parser._comments]


def _lines_out(text):
    """A message with its line numbers taken out: formatting may move lines, nothing else."""
    if not isinstance(text, str):
        return text
    return re.sub(r"spec\.net:\d+:\d+", "spec.net:L:C", re.sub(r"\blines? \d+", "line N", text))


def _checked(text: str):
    result = check_text(text, "spec.net")
    diagnostics = [(d.severity, d.code, _lines_out(d.message), [_lines_out(n) for n in d.notes], _lines_out(d.help))
                   for d in result.reporter.items]
    networks = []
    for net in result.networks:
        data = network_json(net)
        for layer in data["layers"]:
            del layer["line"]
        networks.append(data)
    return diagnostics, json.dumps(networks, sort_keys=True, default=str)


def test_the_corpus_is_large():
    assert len(SPECS) >= 10 and len(CORPUS) >= 100


@pytest.mark.parametrize("name,text", CORPUS, ids=[n for n, _ in CORPUS])
def test_formatting_is_idempotent_keeps_comments_and_checks_the_same(name, text):
    out = format_text(text, "spec.net")
    assert format_text(out, "spec.net") == out
    assert _lark_comments(out) == _lark_comments(text)
    assert _checked(out) == _checked(text)


@pytest.mark.parametrize("spec", SPECS, ids=[p.stem for p in SPECS])
def test_every_spec_is_formatted(spec):
    text = spec.read_text()
    assert format_text(text, spec.name) == text, f"run `netspec fmt specs/{spec.name}`"


# -- the layout ------------------------------------------------------------------------------------

MESSY = """\
# top
network   T( n = 4 ,m=-(2) ) {   # header
  input x : float[batch,n*2]
  param w: float[n * 2, n]=normal(std=1e-5)
  buffer b : float[ n ]
  shared cell=Linear(4)
  a,b2 = x->Linear( 4 )->Linear(4)   # t1
  # before the next binding
  c = x[:, -1] + (x @ w)[..., :2]**2 - -x[None] * 3
      # inside the chain
      -> Linear(4,
                bias=false)   # after the stage
      -> cell as c1{1} : [batch, 4]
  d = (a -> ReLU) + ((b2)) -> (ReLU -> Tanh) * (n+1) as blk
  e = x[1:2:3, ::2, 3:] -> Linear(1_000)


  output c,d
}
# tail
"""

FORMATTED = """\
# top
network T(n=4, m=-2) {  # header
    input x: float[batch, n * 2]
    param w: float[n * 2, n] = normal(std=1e-5)
    buffer b: float[n]
    shared cell = Linear(4)
    a, b2 = x -> Linear(4) -> Linear(4)  # t1
    # before the next binding
    c = x[:, -1] + (x @ w)[..., :2] ** 2 - -x[None] * 3
        # inside the chain
        -> Linear(4, bias=false)  # after the stage
        -> cell as c1{1}  : [batch, 4]
    d = (a -> ReLU) + b2 -> (ReLU -> Tanh) * (n + 1) as blk
    e = x[1:2:3, ::2, 3:] -> Linear(1_000)

    output c, d
}

# tail
"""


def test_the_canonical_layout():
    assert format_text(MESSY) == FORMATTED
    assert format_text(FORMATTED) == FORMATTED


def test_long_chains_one_stage_a_line_with_aligned_assertions():
    text = ("network N {\n    input x: float[batch, 8]\n"
            "    y = x -> Linear(16) : [batch, 16] -> ReLU -> Linear(4) -> ReLU -> Linear(2) : [batch, 2]\n"
            "    output y\n}\n")
    assert format_text(text) == (
        "network N {\n    input x: float[batch, 8]\n    y = x\n"
        "        -> Linear(16)  : [batch, 16]\n        -> ReLU\n        -> Linear(4)\n        -> ReLU\n"
        "        -> Linear(2)   : [batch, 2]\n    output y\n}\n")


def test_quoted_names_stay_quoted():
    text = ('network N {\n    input x: float[batch, 8]\n    y = x  ->  (Linear(4) as "block1-0"->ReLU as "class") '
            '* 2 as "b-"{1} -> Linear(2)   as "é 1"\n    z = y -> ReLU as "plain"\n    output z\n}\n')
    out = format_text(text)
    assert out == ('network N {\n    input x: float[batch, 8]\n    y = x -> (Linear(4) as "block1-0" -> ReLU as "class") '
                   '* 2 as "b-"{1} -> Linear(2) as "é 1"\n    z = y -> ReLU as "plain"\n    output z\n}\n')
    assert format_text(out) == out and _checked(out) == _checked(text)


def test_operators_keep_their_grouping():
    text = "network N(a=1, b=2) {\n    input x: float[(a + b) * 2, a - (b - 1), -(a ** 2), (-a) ** 2]\n}\n"
    out = format_text(text)
    assert "[(a + b) * 2, a - (b - 1), -a ** 2, (-a) ** 2]" in out


def test_a_comment_the_layout_cannot_hold_keeps_the_statement_as_written():
    text = ("network N {\n    input x: float[batch, 8]\n"
            "    y = x -> Linear(4,   # four\n               bias=false)\n    output y\n}\n")
    out = format_text(text)
    assert "    y = x -> Linear(4,   # four\n        bias=false)\n" in out
    assert format_text(out) == out


def test_an_allow_comment_governs_the_same_tokens():
    """Breaking the chain would move `LSTM` off the allow comment's line: the line is kept."""
    text = ("network Oops {\n    input tokens: long[batch, seq]\n"
            "    out = tokens\n        -> Embedding(1000, 64) -> LSTM(128) -> Linear(2)  # netspec: allow[layout]\n"
            "        -> ReLU\n    output out\n}\n")
    out = format_text(text)
    assert "-> Embedding(1000, 64) -> LSTM(128) -> Linear(2)  # netspec: allow[layout]\n" in out
    assert _checked(out) == _checked(text) and not _checked(text)[0]


def test_a_syntax_error_is_refused_with_its_diagnostic():
    with pytest.raises(FormatError) as e:
        format_text("network N {\n    y = x ->\n}\n", "bad.net")
    assert [d.code for d in e.value.diagnostics] == ["syntax"]


# -- the command -----------------------------------------------------------------------------------

UGLY = "network N {\n  input x: float[batch,8]\n  y = x->Linear(4)\n  output y\n}\n"
PRETTY = "network N {\n    input x: float[batch, 8]\n    y = x -> Linear(4)\n    output y\n}\n"


def test_fmt_rewrites_in_place_and_check_lists_what_would_change(run_cli, tmp_path):
    ugly, pretty = tmp_path / "ugly.net", tmp_path / "pretty.net"
    ugly.write_text(UGLY)
    pretty.write_text(PRETTY)
    r = run_cli("fmt", "--check", ugly, pretty)
    assert r.returncode == 1 and f"would reformat {ugly}" in r.stdout and str(pretty) not in r.stdout
    assert ugly.read_text() == UGLY
    r = run_cli("fmt", "--diff", ugly)
    assert r.returncode == 1 and r.stdout.startswith(f"--- {ugly}\n")
    assert "\n-  y = x->Linear(4)\n" in r.stdout and "\n+    y = x -> Linear(4)\n" in r.stdout
    assert ugly.read_text() == UGLY
    mode = stat.S_IMODE(ugly.stat().st_mode)
    r = run_cli("fmt", ugly, pretty)
    assert r.returncode == 0, r.stderr
    assert ugly.read_text() == PRETTY and stat.S_IMODE(ugly.stat().st_mode) == mode
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left
    assert run_cli("fmt", "--check", ugly, pretty).returncode == 0


def test_fmt_reads_standard_input(tmp_path):
    import subprocess
    import sys

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-m", "netspec", "fmt", "-"], input=UGLY, capture_output=True,
                       text=True, env=env, timeout=60)
    assert r.returncode == 0 and r.stdout == PRETTY


def test_fmt_refuses_a_spec_with_syntax_errors(run_cli, tmp_path):
    bad = tmp_path / "bad.net"
    bad.write_text("network N {\n  y = x ->\n}\n")
    r = run_cli("fmt", bad)
    assert r.returncode == 1 and "error[syntax]" in r.stderr
    assert bad.read_text() == "network N {\n  y = x ->\n}\n"


def test_comments_among_parameters_put_one_parameter_on_a_line():
    text = "network A(\n  a=1, # first\n  b=2 # second\n) {\n}\n"
    assert format_text(text) == "network A(\n    a=1,  # first\n    b=2,  # second\n) {\n}\n"


def test_only_comments_and_windows_line_ends():
    assert format_text("# only\n\n\n# two\n") == "# only\n\n# two\n"
    assert format_text("network A {\r\n  input x: float[3]  # c\r\n  output x\r\n}\r\n") == \
        "network A {\n    input x: float[3]  # c\n    output x\n}\n"


def test_the_layout_example_of_the_docs_is_formatted():
    text = (ROOT / "docs" / "tools.md").read_text()
    (block,) = re.findall(r"^```\n(network .*?)^```", text, flags=re.M | re.S)
    assert format_text(block) == block
    assert check_text(block, "block.net").ok


def test_an_allow_comment_shared_by_two_statements_is_refused_not_moved():
    text = "network A {\n    input x: float[3] y = x -> Linear(3)  # netspec: allow[unused]\n    output y\n}\n"
    with pytest.raises(FormatError, match="allow comment"):
        format_text(text)
