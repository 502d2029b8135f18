"""docs/errors.md, the catalogue of diagnostics: every code in CODES has an example there,
each example really yields its code when checked, each fixed example checks cleanly, and
the page is what scripts/make_errors_doc.py generates today (so every message shown is
the tool's current output).
"""

from __future__ import annotations

import importlib.util
import json
import re

import pytest
from conftest import ROOT

from netspec.codes import CODES

DOC = ROOT / "docs" / "errors.md"
SCRIPT = ROOT / "scripts" / "make_errors_doc.py"

_SECTION = re.compile(r"^## `([a-z-]+)`$", re.M)
_FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```$", re.M | re.S)


def sections() -> dict[str, dict]:
    """code -> {"example": (text, encoding), "printed": text, "fixed": text} from the page."""
    text = DOC.read_text(encoding="utf-8")
    heads = list(_SECTION.finditer(text))
    out: dict[str, dict] = {}
    for i, head in enumerate(heads):
        body = text[head.end(): heads[i + 1].start() if i + 1 < len(heads) else len(text)]
        entry: dict = {}
        for info, block in _FENCE.findall(body):
            words = info.split()
            if words[:2] == ["net", "example"]:
                entry["example"] = (block, words[2] if len(words) > 2 else "utf-8")
            elif words[:2] == ["net", "fixed"]:
                entry["fixed"] = block
            elif words == ["text"]:
                entry["printed"] = block
        assert head.group(1) not in out, f"two sections for {head.group(1)}"
        out[head.group(1)] = entry
    return out


SECTIONS = sections() if DOC.exists() else {}


def test_every_code_has_an_example():
    assert list(SECTIONS) == list(CODES), "one section a code, in the order of CODES"
    for code, entry in SECTIONS.items():
        assert {"example", "printed", "fixed"} <= set(entry), f"{code}: {sorted(entry)}"


@pytest.fixture(scope="module")
def checked(run_cli, tmp_path_factory) -> dict[str, tuple[int, list[dict]]]:
    """name -> (exit status it alone would give, diagnostics): every example checked by one
    `netspec check --json` run, every fixed example by another."""
    directory = tmp_path_factory.mktemp("errors_doc")
    out = {}
    for suffix in ("", "-fixed"):
        names = []
        for code, entry in SECTIONS.items():
            text, encoding = entry["example"] if not suffix else (entry["fixed"], "utf-8")
            names.append(f"{code}{suffix}.net")
            (directory / names[-1]).write_bytes(text.encode(encoding))
        proc = run_cli("check", "--json", *names, cwd=directory)
        assert "Traceback" not in proc.stderr, proc.stderr
        report = json.loads(proc.stdout)
        for name in names:
            diags = [d for d in report["diagnostics"] if d["file"] == name]
            out[name] = (1 if any(d["severity"] == "error" for d in diags) else 0, diags)
        assert proc.returncode == max(out[name][0] for name in names)
    return out


@pytest.mark.parametrize("code", list(CODES))
def test_the_example_yields_its_code(code, checked):
    status, diags = checked[f"{code}.net"]
    printed = SECTIONS[code]["printed"]
    severity = re.search(rf"(error|warning)\[{re.escape(code)}\]", printed).group(1)
    assert (severity, code) in {(d["severity"], d["code"]) for d in diags}, diags
    assert status == (1 if any(d["severity"] == "error" for d in diags) else 0)
    # what the page shows is what was reported: same diagnostics, same places
    shown = re.findall(r"^[\w.-]+:(\d+):(\d+): (error|warning)\[([a-z-]+)\]", printed, re.M)
    assert shown == [(str(d["line"]), str(d["column"]), d["severity"], d["code"]) for d in diags]
    assert f"(exit status {status})" in DOC.read_text(encoding="utf-8").split(f"## `{code}`")[1].split("## ")[0]


@pytest.mark.parametrize("code", list(CODES))
def test_the_fixed_example_checks_cleanly(code, checked):
    assert checked[f"{code}-fixed.net"] == (0, [])


def test_the_encoding_example_is_not_utf8():
    text, encoding = SECTIONS["encoding"]["example"]
    assert encoding != "utf-8"
    with pytest.raises(UnicodeDecodeError):
        text.encode(encoding).decode("utf-8")


def test_the_page_is_up_to_date():
    spec = importlib.util.spec_from_file_location("make_errors_doc", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert DOC.read_text(encoding="utf-8") == module.render(), \
        "docs/errors.md is out of date: run python scripts/make_errors_doc.py"
