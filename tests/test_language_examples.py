"""Every example network of the language reference checks exactly as the reference says.

The reference is docs/language.md: the examples of its "A first file" and "Examples"
sections must check as written, and the `Oops` example must give the one `layout` error
it shows, at line 3 column 44. Each example is also kept as a file in specs/, verbatim or as
`netspec fmt` lays it out (every spec in specs/ is formatted).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from netspec.checker import check_text

ROOT = Path(__file__).resolve().parent.parent
LANGUAGE = ROOT / "docs" / "language.md"
SPECS = ROOT / "specs"
EXPECTED = {"CharRNN", "RowLSTM", "QstEncoder", "LeNet", "VGG16", "Oops"}


def _examples() -> list[str]:
    text = LANGUAGE.read_text(encoding="utf-8")
    sections = re.findall(r"^## (A first file|Examples)\n(.*?)(?=^## )", text, flags=re.M | re.S)
    text = "".join(body for _, body in sections)
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.M | re.S)
    return [b for b in blocks if re.search(r"^\s*network\s+[A-Za-z_]\w*", b, flags=re.M)]


EXAMPLES = _examples()


def _name(block: str) -> str:
    return re.search(r"^\s*network\s+([A-Za-z_]\w*)", block, flags=re.M).group(1)


def test_the_reference_has_its_examples():
    assert {_name(b) for b in EXAMPLES} >= EXPECTED
    assert len(EXAMPLES) == len({_name(b) for b in EXAMPLES})


@pytest.mark.parametrize("block", EXAMPLES, ids=[_name(b) for b in EXAMPLES])
def test_example_checks_as_written(block):
    result = check_text(block, f"{_name(block).lower()}.net")
    items = [(d.severity, d.code, d.span.line, d.span.column, d.message) for d in result.reporter.items]
    if _name(block) == "Oops":
        assert len(items) == 1, items
        assert items[0][:4] == ("error", "layout", 3, 44)
    else:
        assert items == []
        assert result.ok
        assert result.networks and all(v.tensor is not None for n in result.networks for _, v in n.outputs)


@pytest.mark.parametrize("block", EXAMPLES, ids=[_name(b) for b in EXAMPLES])
def test_example_is_a_spec_file(block):
    from netspec.fmt import format_text

    texts = (block, format_text(block, f"{_name(block).lower()}.net"))
    matches = [p.name for p in SPECS.glob("*.net") if p.read_text(encoding="utf-8") in texts]
    assert matches, f"no file in specs/ holds the {_name(block)} example, verbatim or formatted"


def test_oops_through_the_cli(tmp_path, run_cli):
    (block,) = [b for b in EXAMPLES if _name(b) == "Oops"]
    spec = tmp_path / "oops.net"
    spec.write_text(block, encoding="utf-8")
    proc = run_cli("check", spec.name, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    out = proc.stdout
    lines = out.splitlines()
    # file, line, column and a stable code
    head = [i for i, line in enumerate(lines) if line.startswith("oops.net:3:44: error[layout]: ")]
    assert len(head) == 1, out
    i = head[0]
    # the source line, and a marker under the span (the LSTM stage, from column 44)
    source = block.splitlines()[2]
    src_at = next(j for j in range(i, len(lines)) if lines[j].endswith(source))
    mark = lines[src_at + 1]
    offset = len(lines[src_at]) - len(source)
    carets = mark[offset:]
    assert carets.lstrip(" ").startswith("^") and len(carets) - len(carets.lstrip(" ")) == 43, mark
    assert carets.strip() == "^" * len("LSTM(128)")
    rest = "\n".join(lines[src_at + 2:])
    # where the conflicting size came from, and a fix
    assert re.search(r"note: .*tokens.*int64\[batch, seq\].*line 2", rest), rest
    assert re.search(r"help: .*batch_first=true", rest), rest
    assert "1 error" in out

    proc = run_cli("check", "--json", spec.name, cwd=tmp_path)
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    assert report["ok"] is False
    (diag,) = report["diagnostics"]
    assert (diag["code"], diag["file"], diag["line"], diag["column"]) == ("layout", "oops.net", 3, 44)
    assert diag["end_line"] == 3 and diag["end_column"] == 44 + len("LSTM(128)")
