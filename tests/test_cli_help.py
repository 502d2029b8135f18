"""What the command line says about itself: bare `netspec` and `--help` list every command
with one line, every option of every command has help, each command's help states its exit
statuses and the extra it needs, a missing extra's message gives the pip line, and the
summary lines of `check` (one per file, then `11 ok, 1 with errors`) and `--quiet`."""

from __future__ import annotations

import argparse
import json
import re
import sys

import pytest
from conftest import ALL_SPECS, GOOD_SPECS, SPECS

from netspec import cli

LENET = SPECS / "lenet.net"
OOPS = SPECS / "oops.net"


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    (action,) = [a for a in cli._parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


COMMANDS = sorted(_subparsers())


def test_the_commands_are_the_ones_users_read_about():
    assert {"check", "build", "diagram", "export"} <= set(COMMANDS)


@pytest.mark.parametrize("argv", [[], ["--help"], ["-h"]])
def test_bare_netspec_and_help_list_every_command(run_here, argv):
    done = run_here(*argv)
    assert done.returncode == 0
    assert done.stderr == ""
    listed = done.stdout.split("commands:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    names = [line.split()[0] for line in listed]
    assert sorted(names) == COMMANDS
    for line in listed:  # one line each: the name, then a summary
        assert len(line.split(None, 1)[1]) > 20, line
    assert "netspec COMMAND --help" in done.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_every_option_has_help(command):
    parser = _subparsers()[command]
    assert parser.description, command
    for action in parser._actions:
        assert action.help and action.help != argparse.SUPPRESS, (command, action.option_strings or action.dest)


@pytest.mark.parametrize("command", COMMANDS)
def test_help_states_exit_statuses(run_here, command):
    done = run_here(command, "--help")
    assert done.returncode == 0
    text = done.stdout
    assert "exit status:" in text, command
    statuses = re.findall(r"^  (\d+)  ", text.split("exit status:", 1)[1], re.M)
    assert statuses[:3] == ["0", "1", "2"], text


def test_check_help_states_exit_statuses_and_columns(run_here):
    text = run_here("check", "--help").stdout
    assert "0  every spec checks" in text
    assert "1  a spec has errors" in text
    assert "2  a usage error" in text
    from netspec.report import COLUMNS
    for key in COLUMNS:
        assert re.search(rf"^  {key} +\S", text, re.M), key


@pytest.mark.parametrize("command,extra", [("build", "torch"), ("diagram", "diagram"), ("export", "torch")])
def test_help_names_the_extra(run_here, command, extra):
    text = run_here(command, "--help").stdout
    assert f"pip install 'netspec[{extra}]'" in text


def test_diagram_help_lists_its_formats(run_here):
    text = " ".join(run_here("diagram", "--help").stdout.split())
    assert ".svg, .png, .pdf or .dot" in text


def test_missing_extra_gives_the_pip_line(run_here, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "graphviz", None)  # `import graphviz` raises ImportError
    done = run_here("diagram", LENET, "-o", tmp_path / "x.svg")
    assert done.returncode == 2
    assert done.stderr.strip().endswith(": " + cli.install_line("diagram")), done.stderr
    assert not (tmp_path / "x.svg").exists()


class _Dist:
    def __init__(self, direct_url: dict | None):
        self.text = None if direct_url is None else json.dumps(direct_url)

    def read_text(self, name):
        return self.text


@pytest.mark.parametrize("direct_url,line", [
    (None, "pip install 'netspec[onnx]'"),
    ({"url": "https://example.org/netspec.whl", "archive_info": {}}, "pip install 'netspec[onnx]'"),
    ({"url": "file:///src/netspec", "dir_info": {}}, "pip install '/src/netspec[onnx]'"),
    ({"url": "file:///src/netspec", "dir_info": {"editable": True}}, "pip install -e '/src/netspec[onnx]'"),
])
def test_install_line_names_where_netspec_came_from(monkeypatch, direct_url, line):
    from importlib import metadata

    monkeypatch.setattr(metadata, "distribution", lambda name: _Dist(direct_url))
    from netspec.extras import install_line

    assert install_line("onnx") == line


# -- summary lines and --quiet ----------------------------------------------------------------

def test_one_summary_line_per_file_then_the_count(run_here):
    done = run_here("check", *ALL_SPECS)
    assert done.returncode == 1
    lines = done.stdout.rstrip().splitlines()
    bad = [p for p in ALL_SPECS if p == OOPS]
    assert lines[-1] == f"{len(ALL_SPECS)} files: {len(ALL_SPECS) - len(bad)} ok, {len(bad)} with errors"
    for p in GOOD_SPECS:
        assert f"{p}: ok" in lines
    assert f"{OOPS}: 1 error" in lines


def test_quiet_prints_only_diagnostics_and_summary(run_here):
    done = run_here("check", "-q", LENET, OOPS)
    assert done.returncode == 1
    assert "Layer (kind, name, line)" not in done.stdout
    assert "error[layout]" in done.stdout
    lines = done.stdout.rstrip().splitlines()
    assert f"{LENET}: ok" not in lines  # a clean file says nothing with --quiet
    assert lines[-2:] == [f"{OOPS}: 1 error", "2 files: 1 ok, 1 with errors"]
    assert run_here("check", "--quiet", LENET).stdout == f"{LENET}: ok\n"


def test_diagram_says_what_it_wrote(run_here, tmp_path):
    out = tmp_path / "lenet.dot"
    done = run_here("diagram", LENET, "-o", out)
    if done.returncode == 2 and "graphviz" in done.stderr:
        pytest.skip("the graphviz package is not installed")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"wrote {out}: LeNet\n"
    assert out.exists()
    quiet = run_here("diagram", LENET, "-o", out, "--quiet")
    assert quiet.returncode == 0 and quiet.stdout == ""


def test_a_built_module_without_torch_says_how_to_install_it(monkeypatch):
    import importlib.util

    from netspec import api
    from netspec.extras import install_line

    spec = api.load(LENET)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    with pytest.raises(ImportError, match=re.escape(install_line("torch"))):
        spec.module()
