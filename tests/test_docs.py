"""The docs run: every Python and shell block of README.md and docs/*.md is executed, in
order, page by page, and where a block shows what it prints, the printed text must be the
same byte for byte.

- A shell block is fenced ```sh (or ```console), or is a bare fence whose first line starts
  with `$ `. Lines starting with `$ ` are commands; the lines after one, up to the next, are
  what it prints (stdout and stderr together). A ```sh block without `$ ` lines is a script
  that must exit 0.
- A ```python block runs in one namespace per page (a later block sees an earlier one's
  names). A block with `>>> ` lines is a doctest: each shown result must be printed exactly.
- Both run in a fresh directory holding `specs/` (so `specs/lenet.net` resolves), with
  `netspec` and `python` on PATH running this checkout.
- A spec (a bare fence or ```net, starting with `network` or a comment) must check
  without errors (errors.md's ```net example blocks are tests/test_errors_doc.py's).
- A spec after a line `<!-- file: NAME -->` is also written to NAME in that directory, for
  the blocks after it to use.
- A block right after a line `<!-- illustrative: why -->` is not run: an excerpt, a
  synopsis, a long benchmark, a command that installs or regenerates the docs themselves.
"""

from __future__ import annotations

import doctest
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.M | re.S)
ILLUSTRATIVE = re.compile(r"^<!--\s*illustrative\b.*-->\s*$")
FILE = re.compile(r"^<!--\s*file:\s*(\S+)\s*-->\s*$")
SHELL = {"sh", "console", "shell", "bash"}


class Block:
    def __init__(self, page: Path, line: int, lang: str, body: str, illustrative: bool, file: str | None = None):
        self.page, self.line, self.lang, self.body, self.illustrative = page, line, lang, body, illustrative
        self.file = file  # the name it is saved as, for the blocks after it

    @property
    def kind(self) -> str | None:
        if self.lang == "python":
            return "python"
        if self.lang in SHELL or (self.lang == "" and self.body.startswith("$ ")):
            return "shell"
        if self.lang in ("", "net") and self.body.lstrip().startswith(("network", "#")):
            return "spec"
        return None

    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    out = []
    for m in FENCE.finditer(text):
        before = [line for line in text[:m.start()].splitlines() if line.strip()]
        illustrative = bool(before) and bool(ILLUSTRATIVE.match(before[-1]))
        file = FILE.match(before[-1]) if before else None
        line = text.count("\n", 0, m.start()) + 1
        out.append(Block(page, line, m.group(1).strip(), m.group(2), illustrative, file and file.group(1)))
    return out


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    """A fresh directory with specs/, and PATH and PYTHONPATH set to run this checkout."""
    (tmp_path / "specs").symlink_to(ROOT / "specs")
    bin_dir = tmp_path / ".bin"
    bin_dir.mkdir()
    for name, command in (("netspec", f'"{sys.executable}" -m netspec'), ("python", f'"{sys.executable}"')):
        shim = bin_dir / name
        shim.write_text(f'#!/bin/sh\nexec {command} "$@"\n')
        shim.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("PYTHONPATH", str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def transcript(body: str) -> list[tuple[str, str]]:
    """(command, what it prints) for each `$ ` line of a shell block."""
    out: list[tuple[str, list[str]]] = []
    for line in body.splitlines():
        if line.startswith("$ "):
            out.append((line[2:], []))
        elif out:
            out[-1][1].append(line)
    return [(cmd, "\n".join(lines)) for cmd, lines in out]


def run_shell(block: Block, cwd: Path) -> None:
    steps = transcript(block.body)
    if not steps:
        proc = subprocess.run(["bash", "-euo", "pipefail", "-c", block.body], cwd=cwd, capture_output=True,
                              text=True, timeout=300)
        assert proc.returncode == 0, f"{block.where()}: exit {proc.returncode}\n{proc.stdout}{proc.stderr}"
        return
    for command, shown in steps:
        proc = subprocess.run(["bash", "-c", command], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, timeout=300)
        printed = proc.stdout.rstrip("\n")
        assert printed == shown, f"{block.where()}: `{command}` printed:\n{printed}\n--- the page shows:\n{shown}"


def run_python(block: Block, namespace: dict) -> None:
    if ">>> " not in block.body:
        code = compile(block.body, block.where(), "exec")
        exec(code, namespace)
        return
    test = doctest.DocTestParser().get_doctest(block.body, namespace, block.where(), str(block.page), block.line)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    report: list[str] = []
    runner.run(test, out=report.append, clear_globs=False)
    assert runner.failures == 0, "".join(report)


def check_spec(block: Block) -> None:
    from netspec import api

    spec = api.loads(block.body, file=block.where(), strict=False)
    assert spec.ok, repr(spec)


def test_every_page_has_its_blocks_found():
    found = {p.name: [b.kind for b in blocks(p)] for p in PAGES}
    assert {"python", "shell", "spec"} <= set(found["README.md"])


def test_illustrative_blocks_say_why():
    skipped = [b for p in PAGES for b in blocks(p) if b.kind is not None and b.illustrative]
    for b in skipped:
        text = b.page.read_text(encoding="utf-8").splitlines()
        marker = [line for line in text[:b.line - 1] if line.strip()][-1]
        assert re.match(r"<!--\s*illustrative:\s*\S", marker), f"{b.where()}: say why it does not run"


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_page_runs(page, workdir):
    namespace: dict = {"__name__": "__docs__"}
    ran = 0
    for block in blocks(page):
        if block.file is not None:
            (workdir / block.file).write_text(block.body, encoding="utf-8")
        if block.kind is None or block.illustrative:
            continue
        if block.kind == "python":
            run_python(block, namespace)
        elif block.kind == "spec":
            check_spec(block)
        else:
            run_shell(block, workdir)
        ran += 1
    if not ran:
        pytest.skip(f"{page.name} has no block to run")


def test_a_wrong_transcript_or_doctest_fails(workdir):
    page = ROOT / "README.md"
    with pytest.raises(AssertionError, match="printed"):
        run_shell(Block(page, 1, "", "$ netspec check -q specs/lenet.net\nspecs/lenet.net: 1 error\n", False), workdir)
    run_shell(Block(page, 1, "", "$ netspec check -q specs/lenet.net\nspecs/lenet.net: ok\n", False), workdir)
    with pytest.raises(AssertionError):
        run_shell(Block(page, 1, "sh", "netspec check -q specs/oops.net\n", False), workdir)
    with pytest.raises(AssertionError, match="Failed example"):
        run_python(Block(page, 1, "python", ">>> 1 + 1\n3\n", False), {})
    run_python(Block(page, 1, "python", ">>> 1 + 1\n2\n", False), {})


def test_the_list_of_layers_and_ops_is_current():
    """docs/language.md lists every kind the registry holds, as scripts/make_language_doc.py
    writes the list: run it after adding or changing a kind."""
    import importlib.util

    loader = importlib.util.spec_from_file_location("make_language_doc", ROOT / "scripts" / "make_language_doc.py")
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)
    text = module.DOC.read_text(encoding="utf-8")
    assert module.render(text) == text, "docs/language.md's list is stale: run python scripts/make_language_doc.py"


def test_nothing_refers_outside_the_project():
    """The docs, the code and the tests read nothing beside the repository."""
    paths = [*PAGES, *(ROOT / "netspec").rglob("*.py"), *(ROOT / "tests").glob("*.py"), *(ROOT / "scripts").glob("*.py")]
    outside = ["../" + "shared", '"shared" / ' + '"design"']  # spelt so that this file does not match
    for path in paths:
        text = path.read_text(encoding="utf-8")
        assert not [o for o in outside if o in text], path
