"""`netspec check` never imports torch, nor pydantic's model layer.

A fresh interpreter installs an import hook that refuses torch and torchvision, and
pydantic itself (argument validation runs on pydantic-core alone, for start-up time), then
runs the command line's entry point on every spec, as a table, as JSON and with costs.
Any attempt to import torch, even one the code would catch, fails the test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = r"""
import importlib.abc, json, sys

attempts = []
REFUSED = ("torch", "torchvision", "pydantic")

class RefuseTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in REFUSED:
            attempts.append(name)
            raise ImportError(f"netspec check must not import {name}")
        return None

sys.meta_path.insert(0, RefuseTorch())
from netspec.cli import main
out_path, *specs = sys.argv[1:]
statuses = {}
for spec in specs:
    for options in ([], ["--json"], ["--costs"], ["--json", "--set", "num_classes=10"]):
        if "--set" in options and not spec.endswith("vgg16.net"):
            continue
        sys.argv = ["netspec", "check", *options, spec]
        statuses[" ".join([*options, spec])] = main()  # as the command runs, on sys.argv
during_check = list(attempts)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in REFUSED)
try:  # the hook itself works
    import torch  # noqa: F401
    refused = False
except ImportError:
    refused = True
with open(out_path, "w") as f:
    json.dump({"statuses": statuses, "attempts": during_check, "loaded": loaded, "refused": refused}, f)
"""


def test_check_never_imports_torch_or_pydantic_models(tmp_path, specs_dir):
    specs = sorted(str(p.relative_to(ROOT)) for p in specs_dir.glob("*.net"))
    assert specs
    out = tmp_path / "result.json"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(out), *specs], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["refused"] is True
    assert result["attempts"] == []
    assert result["loaded"] == []
    statuses = result["statuses"]
    for run, code in statuses.items():
        spec = run.split()[-1]
        assert code == (1 if spec.endswith("oops.net") else 0), run
    assert len(statuses) == 3 * len(specs) + 1
