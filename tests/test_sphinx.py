"""The Sphinx extension: a docs folder built with `sphinx-build`, as a project builds its docs.

The page shows the spec's diagram (an inline SVG) and its table (the shapes of `netspec
check`); a spec with errors fails the build with its diagnostics, also when the build is
run again without the page changing, and passes once the spec is fixed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("sphinx")
pytestmark = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")

ROOT = Path(__file__).resolve().parent.parent

PAGE = """\
Models
======

.. netspec:: models/model.net
   :network: Net
   :depth: 1
   :direction: lr

.. code-block:: netspec

   network N {
       input x: float[batch, 4]
   }
"""

GOOD = """\
network Block(width) {
    input x: float[batch, width]
    y = x -> Linear(width) -> ReLU
    output y
}

network Net {
    input x: float[batch, 12]
    h = x -> Linear(24) -> Block(24) as block  : [batch, 24]
    out = h -> Linear(3)                         : [batch, 3]
    output out
}
"""


def _build(src: Path, out: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", str(src), str(out)],
                          capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture
def docs(tmp_path):
    src = tmp_path / "docs"
    (src / "models").mkdir(parents=True)
    (src / "conf.py").write_text('extensions = ["netspec.sphinx"]\nproject = "t"\n')
    (src / "index.rst").write_text(PAGE)
    return src


def test_the_page_shows_the_diagram_and_the_table(docs, tmp_path):
    (docs / "models" / "model.net").write_text(GOOD)
    r = _build(docs, tmp_path / "html")
    assert r.returncode == 0, r.stderr
    html = (tmp_path / "html" / "index.html").read_text()
    svg = html[html.index('<div class="netspec-diagram">'):]
    assert svg.count("<svg") == 1 and "</svg>" in svg and "<?xml" not in html
    assert "Linear" in svg[:svg.index("</svg>")] and "block" in svg[:svg.index("</svg>")]
    assert 'class="edge"' in svg  # drawn by dot, nodes and edges
    table = html[html.index('<table class="netspec-table'):]
    table = table[:table.index("</table>")]
    cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td>(.*?)</td>", table, flags=re.S)]
    assert "x (input)" in cells and "float32[batch, 12]" in cells
    assert "[batch, 24]" in cells and "[batch, 3]" in cells
    assert "312" in cells and "600" in cells  # Linear(24): 12*24+24, Block's Linear(24): 24*24+24
    assert "network Net" in table
    assert 'class="highlight-netspec' in html  # the code block, highlighted by the netspec lexer
    assert '<span class="kd">network</span>' in html and '<span class="nc">N</span>' in html
    assert '<span class="k">input</span>' in html and '<span class="kt">float</span>' in html


def test_a_spec_with_errors_fails_the_build_until_it_is_fixed(docs, tmp_path):
    model = docs / "models" / "model.net"
    model.write_text(GOOD.replace(": [batch, 3]", ": [batch, 4]"))
    out = tmp_path / "html"
    for _ in range(2):  # the second build reads nothing again, and fails again
        r = _build(docs, out)
        assert r.returncode == 1
        assert "index.rst:4: ERROR: netspec:" in r.stderr and "error[assert]" in r.stderr
        assert "which is not 4" in r.stderr and "the docs show specs with errors" in r.stderr
    model.write_text(GOOD)
    r = _build(docs, out)
    assert r.returncode == 0, r.stderr


def test_an_unknown_network_is_an_error_of_the_page(docs, tmp_path):
    (docs / "models" / "model.net").write_text(GOOD)
    (docs / "index.rst").write_text(PAGE.replace(":network: Net", ":network: Nope"))
    r = _build(docs, tmp_path / "html")
    assert "no network `Nope`" in r.stderr and "available: Block, Net" in r.stderr
