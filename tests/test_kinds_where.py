"""The registry imports a module of kinds on the first use of one of its names, reading
netspec/kinds/where.py: that file must name every kind's module, and a check must import
only the modules of the kinds its spec uses."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import make_kind_where  # noqa: E402


def test_where_names_every_kinds_module():
    assert make_kind_where.OUT.read_text(encoding="utf-8") == make_kind_where.text(), (
        "netspec/kinds/where.py is out of date: python scripts/make_kind_where.py")


def test_every_name_resolves_to_its_kind():
    from netspec.kinds import REGISTRY
    from netspec.kinds.where import MODULES

    assert len(MODULES) > 100 and set(REGISTRY) == set(MODULES)
    for name in MODULES:
        kind = REGISTRY[name]
        assert name == kind.name or name in kind.aliases
    assert "Conv9d" not in REGISTRY and REGISTRY.get("Conv9d") is None


PROBE = """
import sys
from netspec.checker import check_text
r = check_text("network N {\\n    input x: float[batch, 4]\\n    y = x -> Linear(3) -> ReLU\\n    output y\\n}\\n", "n.net")
assert not r.reporter.errors, r.reporter.errors
print(sorted(m.rsplit(".", 1)[1] for m in sys.modules if m.startswith("netspec.kinds.")))
"""


def test_a_check_imports_only_the_kinds_it_uses():
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    loaded = set(ast.literal_eval(out))
    assert {"dense", "activation"} <= loaded
    assert not loaded & {"attention", "recurrent", "resample", "pad", "linalg"}, loaded
