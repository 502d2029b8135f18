"""What a spec or a path holds never reaches a terminal as a control character.

Every control character (C0, DEL, C1; a lone CR too) that comes from a spec or a file
name is printed as ``\\xNN``: in diagnostics (message, shown line, notes, help), in the
summary table, in file names in messages, in diagram labels. A tab in a shown source line
is layout and is shown as a space. The mark under a shown line stays under the text it
marks. JSON stays exact (json.dumps escapes what it must).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, SPECS

from netspec import codes
from netspec.diagnostics import Diagnostic, Span, printable, render

# sets the window title, erases the line, moves up a line and turns the text green
HOSTILE = "\x1b]0;title\x07\x1b[2K\x1b[1A\x1b[32m all good"
RAW_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")  # anything but a newline
NETSPEC_COLORS = ("\x1b[1;31m", "\x1b[1;33m", "\x1b[1m", "\x1b[2m", "\x1b[0m")  # what netspec paints with

EVIL = f'''network Evil(mode = "{HOSTILE}") {{
    input x: float[batch, 8, 16]
    h = x -> Linear(4) -> nope   # {HOSTILE}
    c = x -> Conv1d(4, 3, padding=mode)   # {HOSTILE}
    z = x -> \rMissing
    y = \rwhat -> ReLU
    output h, c, z, y
}}
'''


def assert_no_raw_control(text: str, where: str = "") -> None:
    found = RAW_CONTROL.search(text)
    assert found is None, f"{where}: raw {found.group()!r} at {found.start()}: {text[max(0, found.start() - 80):found.start() + 40]!r}"


@pytest.fixture
def run(capsys):
    from netspec.cli import main

    def go(*argv) -> tuple[int, str]:
        capsys.readouterr()
        try:
            code = main([str(a) for a in argv])
        except SystemExit as e:
            code = e.code
        out, err = capsys.readouterr()
        return code, out + err

    return go


@pytest.fixture
def evil(tmp_path) -> Path:
    spec = tmp_path / "evil.net"
    spec.write_text(EVIL, newline="")
    return spec


@pytest.fixture
def evil_name(tmp_path) -> Path:
    spec = tmp_path / f"evil{HOSTILE}\rname\x9b.net"
    spec.write_text(EVIL, newline="")
    return spec


def commands(spec: Path, tmp: Path) -> list[list]:
    return [["check", spec], ["check", "--costs", spec], ["build", spec, "-o", tmp / "out.py"],
            ["diagram", spec, "-o", tmp / "out.dot"],
            ["check", spec, "--set", f'mode="{HOSTILE}\r"'],
            ["check", SPECS / "vgg16.net", "--set", f"num_classes=\x1b[2K{HOSTILE}"],
            ["check", spec, "--dim", "x\x1b[2K=3"], ["check", spec, f"--bogus{HOSTILE}"]]


def test_a_hostile_spec_prints_no_control_character(run, evil, tmp_path):
    for argv in commands(evil, tmp_path):
        code, text = run(*argv)
        assert code in (1, 2), (argv, text)
        assert_no_raw_control(text, " ".join(map(str, argv)))
    code, text = run("check", evil)
    assert "\\x1b]0;title\\x07\\x1b[2K\\x1b[1A\\x1b[32m all good" in text  # shown, escaped
    assert 'network Evil(mode="\\x1b]0;title' in text  # the table's title
    assert "\\x0dMissing" in text and "\\x0dwhat" in text  # a lone CR


def test_a_hostile_file_name_prints_no_control_character(run, evil_name, tmp_path):
    missing = tmp_path / f"gone{HOSTILE}.net"
    for argv in [*commands(evil_name, tmp_path), ["check", missing], ["build", missing, "-o", tmp_path / "m.py"],
                 ["build", SPECS / "lenet.net", "-o", tmp_path / f"out{HOSTILE}.py"],
                 ["build", SPECS / "lenet.net", "-o", tmp_path / f"no{HOSTILE}" / "x.py"]]:
        code, text = run(*argv)
        assert_no_raw_control(text, " ".join(map(str, argv)))
    code, text = run("check", evil_name)
    assert "evil\\x1b]0;title" in text and "\\x0dname\\x9b.net:3:27: error[unknown-layer]" in text


def test_json_keeps_the_text_exact(run, evil_name):
    code, text = run("check", "--json", evil_name)
    assert code == 1
    assert_no_raw_control(text, "json")
    report = json.loads(text)
    assert {d["file"] for d in report["diagnostics"]} == {str(evil_name)}
    assert any(HOSTILE in d["message"] for d in report["diagnostics"])


def test_the_command_in_a_terminal_paints_only_its_own_colours(evil_name, tmp_path):
    """In a terminal (a pty) with colours on: netspec's own SGR codes, and nothing else raw."""
    pty = pytest.importorskip("pty")
    env = dict(os.environ, PYTHONPATH=str(ROOT), TERM="xterm")
    env.pop("NO_COLOR", None)
    for argv in [["check", evil_name], ["build", evil_name, "-o", tmp_path / "x.py"]]:
        master, slave = pty.openpty()
        proc = subprocess.Popen([sys.executable, "-m", "netspec", *map(str, argv)], cwd=ROOT, env=env,
                                stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        os.close(master)
        assert proc.wait(timeout=60) == 1
        text = b"".join(chunks).decode("utf-8", "replace")
        assert "\x1b[1;31m" in text  # colours on
        for code in NETSPEC_COLORS:
            text = text.replace(code, "")
        assert_no_raw_control(text.replace("\r\n", "\n"), " ".join(map(str, argv)))


def test_diagram_labels_hold_no_control_character(run, evil, tmp_path):
    dot = tmp_path / "out.dot"
    code, _ = run("diagram", evil, "-o", dot)
    assert code == 1
    source = dot.read_text()
    assert_no_raw_control(source.replace("\t", " "), "DOT")
    assert "\\x1b]0;title\\x07" in source
    if shutil.which("dot"):
        code, text = run("diagram", evil, "-o", tmp_path / "out.svg")
        assert code == 1 and "dot failed" not in text, text
        assert_no_raw_control((tmp_path / "out.svg").read_text().replace("\t", " "), "SVG")


# -- the mark under an escaped line ------------------------------------------------------------------

def marked(text: str) -> tuple[str, str]:
    """(the shown line, what the carets under it mark)."""
    lines = text.splitlines()
    i = next(k for k, line in enumerate(lines) if line.lstrip().startswith("|") and "^" in line)
    shown, marks = lines[i - 1], lines[i]
    start = marks.index("^")
    return shown, shown[start:start + marks.count("^")]


@pytest.mark.parametrize("line,span,expected", [
    ("    y = \rwhat -> ReLU", (10, 14), "what"),  # after a lone CR (shown as 4 characters)
    ("    y = x\x1b[2K -> \x07what", (19, 23), "what"),
    ("\t\ty = \x1b -> what", (7, 8), "\\x1b"),  # the escape itself is marked whole; tabs are spaces
    ("a\x9bb\x7fc", (2, 5), "\\x9bb\\x7f"),
    ("x" * 200 + "\x1b" * 10 + "what" + "y" * 200, (211, 215), "what"),  # a window of a long line
    ("\x1b" * 300 + "what", (301, 305), "what"),
    ("short", (7, 9), ""),  # past the end: the carets go where the text would be
])
def test_the_mark_stays_under_what_it_marks(line, span, expected):
    d = Diagnostic("error", codes.SYNTAX, "m", Span("f.net", 1, span[0], 1, span[1]))
    text = render(d, [line])
    shown, under = marked(text)
    assert_no_raw_control(text)
    assert under == expected, text
    if not expected:
        assert text.splitlines()[2].index("^") == len(" 1 | ") + span[0] - 1


def test_the_source_line_rule_is_the_one_documented():
    assert printable("a\tb\nc\rd\x00e\x1b\x7f\x85\x9fé…") == "a\\x09b\\x0ac\\x0dd\\x00e\\x1b\\x7f\\x85\\x9fé…"
    assert printable("line\nnext\x1b", newlines=True) == "line\nnext\\x1b"
    assert "\\x1b" in (ROOT / "README.md").read_text()
