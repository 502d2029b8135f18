"""Highlighting: the Pygments lexer and the TextMate grammar read every spec without a gap.

The lexer is tested as a class (the package here is installed in editable mode from
another checkout, whose entry points are not this one's); that its entry point resolves is
tested by installing pyproject.toml's entry points as package metadata in a temporary folder
and asking Pygments, in a fresh interpreter, for the lexer named `netspec`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pygments = pytest.importorskip("pygments")
from pygments.token import Comment, Error, Keyword, Name, Operator  # noqa: E402

from netspec.pygments_lexer import NetspecLexer  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.net"))


def _doc_blocks() -> list[tuple[str, str]]:
    """The spec blocks of the docs: fenced as `net ...` or `netspec`, or unmarked and starting
    as a spec does (a comment or a network; not a shell session)."""
    docs = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]
    blocks = []
    for doc in docs:
        text = doc.read_text(encoding="utf-8")
        for i, (info, body) in enumerate(re.findall(r"^```([^\n]*)\n(.*?)^```", text, flags=re.M | re.S)):
            words = info.split()
            if (words and words[0] in ("net", "netspec")) or (not words and re.match(r"\s*(#|network\s)", body)):
                blocks.append((f"{doc.name}#{i}", body))
    return blocks


TEXTS = [(p.name, p.read_text(encoding="utf-8")) for p in SPECS] + _doc_blocks()


def test_there_are_doc_blocks():
    assert len(_doc_blocks()) >= 30


@pytest.mark.parametrize("name,text", TEXTS, ids=[n for n, _ in TEXTS])
def test_the_lexer_reads_every_spec_without_error_tokens(name, text):
    tokens = list(NetspecLexer(stripnl=False).get_tokens(text))
    errors = [v for t, v in tokens if t in Error]
    assert errors == []
    assert "".join(v for _, v in tokens) == (text if text.endswith("\n") else text + "\n")  # nothing lost


def test_token_classes():
    text = ("network Net(n=2) {  # netspec: allow[unused]\n    input x: float[batch, 4]\n"
            "    param w: float[4, 4] = zeros()\n    y = x @ w -> Linear(n) as fc : [batch, n]\n    output y\n}\n")
    tokens = [(t, v) for t, v in NetspecLexer().get_tokens(text) if v.strip()]
    assert (Keyword.Declaration, "network") in tokens and (Name.Class, "Net") in tokens
    assert (Comment.Special, "# netspec: allow[unused]") in tokens
    assert (Keyword.Type, "float") in tokens and (Keyword.Declaration, "param") in tokens
    assert (Name.Class, "Linear") in tokens and (Name.Function, "zeros") in tokens
    assert (Operator, "->") in tokens and (Operator, "@") in tokens and (Name.Label, "fc") in tokens


def test_a_quoted_module_name_is_a_label():
    text = 'network N {\n    input x: float[2, 4]\n    y = x -> Linear(4) as "block1-0" -> ReLU as fc\n    output y\n}\n'
    tokens = [(t, v) for t, v in NetspecLexer().get_tokens(text) if v.strip()]
    assert (Name.Label, '"block1-0"') in tokens and (Name.Label, "fc") in tokens
    grammar = (ROOT / "editors" / "netspec.tmLanguage.json").read_text()
    alias = next(p for p in _textmate_patterns() if p.pattern.startswith(r"\b(as)"))
    assert alias.search(text).group(2) == '"block1-0"' and "entity.name.tag.alias" in grammar


def test_a_character_the_language_lacks_is_an_error_token():
    tokens = list(NetspecLexer().get_tokens("network N { y = x $ 2 }\n"))
    assert [v for t, v in tokens if t in Error] == ["$"]


def test_the_entry_point_names_the_lexer(tmp_path):
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    points = project["project"]["entry-points"]["pygments.lexers"]
    assert points == {"netspec": "netspec.pygments_lexer:NetspecLexer"}
    info = tmp_path / "netspec_highlight-0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: netspec-highlight\nVersion: 0.0\n")
    (info / "entry_points.txt").write_text("[pygments.lexers]\n"
                                           + "".join(f"{k} = {v}\n" for k, v in points.items()))
    code = ("from pygments.lexers import get_lexer_by_name, get_lexer_for_filename\n"
            "print(type(get_lexer_by_name('netspec')).__module__, type(get_lexer_for_filename('m.net')).__name__)")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)]))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["netspec.pygments_lexer", "NetspecLexer"]


# -- the TextMate grammar --------------------------------------------------------------------------

def _textmate_patterns() -> list[re.Pattern]:
    grammar = json.loads((ROOT / "editors" / "netspec.tmLanguage.json").read_text())
    assert grammar["scopeName"] == "source.netspec" and "net" in grammar["fileTypes"]

    def expand(rule):
        if "include" in rule:
            return expand(grammar["repository"][rule["include"][1:]])
        if "patterns" in rule:
            return [p for r in rule["patterns"] for p in expand(r)]
        return [re.compile(rule["match"])]

    return [p for rule in grammar["patterns"] for p in expand(rule)]


@pytest.mark.parametrize("name,text", TEXTS, ids=[n for n, _ in TEXTS])
def test_the_textmate_grammar_covers_every_character(name, text):
    """Scanned as an editor scans a line (the earliest match, the first rule on a tie), every
    character but blanks falls in a match."""
    patterns = _textmate_patterns()
    for line in text.split("\n"):
        pos = 0
        while pos < len(line):
            found = [m for m in (p.search(line, pos) for p in patterns) if m and m.end() > m.start()]
            m = min(found, key=lambda m: m.start(), default=None)
            gap = line[pos:m.start() if m else len(line)]
            assert not gap.strip(), f"no rule matches {gap.strip()!r} in {line!r}"
            pos = m.end() if m else len(line)
