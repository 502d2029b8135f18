"""Shared fixtures: where the specs live, and running the CLI in a fresh interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
ALL_SPECS = sorted(SPECS.glob("*.net"))
GOOD_SPECS = [p for p in ALL_SPECS if p.name != "oops.net"]


def pytest_generate_tests(metafunc):
    """`spec_file` runs a test over every spec, `good_spec` over every spec that must check."""
    if "spec_file" in metafunc.fixturenames:
        metafunc.parametrize("spec_file", ALL_SPECS, ids=[p.stem for p in ALL_SPECS])
    if "good_spec" in metafunc.fixturenames:
        metafunc.parametrize("good_spec", GOOD_SPECS, ids=[p.stem for p in GOOD_SPECS])


@pytest.fixture(scope="session")
def specs_dir() -> Path:
    return SPECS


@pytest.fixture(scope="session")
def run_cli():
    """Run `python -m netspec ARGS` from the repository root; returns the CompletedProcess."""

    def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
        env = dict(os.environ)
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        env.pop("NO_COLOR", None)
        return subprocess.run([sys.executable, "-m", "netspec", *map(str, args)], cwd=cwd or ROOT,
                              env=env, capture_output=True, text=True, timeout=120)

    return run


class Done:
    """What a command run in this process left: exit status, stdout, stderr (as a
    CompletedProcess has them). An exception that escapes fails the test as a traceback would."""

    def __init__(self, returncode: int, stdout: str, stderr: str):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


@pytest.fixture
def run_here(capsys):
    """`netspec ARGS` in this process: the same code path as the command, without starting
    an interpreter for each of the many option cases."""
    from netspec.cli import main

    def run(*args) -> Done:
        capsys.readouterr()
        try:
            status = main([str(a) for a in args])
        except SystemExit as e:  # argparse's own exit for a bad command line
            status = e.code
        out, err = capsys.readouterr()
        return Done(status, out, err)

    return run
