"""Usage errors: a missing or unreadable file, a directory, a bad option value, an unknown
network. Each exits with status 2 and says what is wrong in one line on stderr, with no
traceback and nothing on stdout; nothing is written.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest
from conftest import SPECS

LENET = SPECS / "lenet.net"
VGG16 = SPECS / "vgg16.net"  # has a parameter: num_classes
UNREADABLE_PROC = Path("/proc/self/mem")  # exists, opens, and fails to read at offset 0


def has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def assert_usage_error(proc, *words: str) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout[-500:], proc.stderr[-500:])
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    (line,) = lines
    assert line.startswith("netspec: error: ")
    assert len(line) < 300, line
    for w in words:
        assert w in line, line
    assert proc.stdout == ""
    return line


# -- files -------------------------------------------------------------------------------------

COMMANDS = ["check"]
if has("netspec.build"):
    COMMANDS.append("build")
if has("netspec.diagram"):
    COMMANDS.append("diagram")


def command(name: str, spec, tmp_path: Path, *extra: str) -> list[str]:
    """A full command line for `name` on `spec`, writing (if at all) under tmp_path."""
    out = {"check": [], "build": ["-o", str(tmp_path / "out.py")], "diagram": ["-o", str(tmp_path / "out.dot")]}
    return [name, str(spec), *out[name], *extra]


@pytest.mark.parametrize("cmd", COMMANDS)
def test_missing_file(run_cli, tmp_path, cmd):
    missing = tmp_path / "nope.net"
    assert_usage_error(run_cli(*command(cmd, missing, tmp_path)), "no such file", str(missing))
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("cmd", COMMANDS)
def test_directory(run_cli, tmp_path, cmd):
    assert_usage_error(run_cli(*command(cmd, SPECS, tmp_path)), str(SPECS), "directory")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("cmd", COMMANDS)
def test_unreadable_file(run_cli, tmp_path, cmd):
    if os.name != "posix" or not UNREADABLE_PROC.exists():
        pytest.skip("needs /proc")
    assert_usage_error(run_cli(*command(cmd, UNREADABLE_PROC, tmp_path)), "cannot read", str(UNREADABLE_PROC))


@pytest.mark.skipif(os.name != "posix" or (hasattr(os, "geteuid") and os.geteuid() == 0),
                    reason="needs POSIX permissions, which root ignores")
def test_file_without_read_permission(run_cli, tmp_path):
    spec = tmp_path / "secret.net"
    spec.write_text(LENET.read_text())
    spec.chmod(0)
    try:
        assert_usage_error(run_cli("check", spec), "cannot read", str(spec))
    finally:
        spec.chmod(0o644)


def test_one_missing_file_among_good_ones(run_cli, tmp_path):
    assert_usage_error(run_cli("check", LENET, tmp_path / "nope.net"), "no such file")


# -- options -----------------------------------------------------------------------------------

@pytest.mark.parametrize("item,words", [
    ("num_classes", ["--set expects NAME=VALUE", "'num_classes'"]),
    ("=3", ["--set expects NAME=VALUE"]),
    ("num classes=3", ["--set expects NAME=VALUE"]),
    ("num_classes=abc", ["--set num_classes", "'abc'", "not a number, boolean, string or tuple"]),
    ("num_classes=", ["--set num_classes", "not a number"]),
    ("num_classes=x -> ReLU", ["--set num_classes", "not a number"]),
    ("num_classes=(3,", ["--set num_classes", "not a number"]),
    ("nope=3", ["--set nope", "no network", "`nope`"]),
    ("num_classes=" + "(" * 50_000 + "1" + ")" * 50_000, ["--set num_classes", "nest deeper"]),
    ("num_classes=" + "-" * 10_000 + "1", ["--set num_classes", "nest deeper"]),
    ("num_classes=" + "9" * 5_000, ["--set num_classes", "digits"]),
    ("num_classes=x " + "-" * 10_000, ["--set num_classes", "..."]),
], ids=["no-equals", "no-name", "space-in-name", "a-name-as-value", "empty", "a-chain", "unclosed",
        "unknown-parameter", "deep-brackets", "many-minus-signs", "thousands-of-digits", "long-junk"])
def test_bad_set(run_here, tmp_path, item, words):
    assert_usage_error(run_here(*command("check", VGG16, tmp_path, "--set", item)), *words)


@pytest.mark.parametrize("item", ["num_classes", "num_classes=abc", "nope=3"])
@pytest.mark.parametrize("cmd", [c for c in COMMANDS if c != "check"])
def test_bad_set_writes_nothing(run_here, tmp_path, cmd, item):
    assert_usage_error(run_here(*command(cmd, VGG16, tmp_path, "--set", item)), "--set")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("item,words", [
    ("batch", ["--dim expects NAME=INT"]),
    ("batch=x", ["--dim batch", "not a positive integer"]),
    ("batch=0", ["--dim batch", "not a positive integer"]),
    ("batch=-3", ["--dim batch", "not a positive integer"]),
    ("bacth=3", ["--dim bacth", "did you mean `batch`?"]),
])
def test_bad_dim(run_here, item, words):
    assert_usage_error(run_here("check", LENET, "--dim", item), *words)


@pytest.mark.parametrize("argv,words", [
    (["check"], ["required", "FILE"]),
    (["check", "--bogus", str(LENET)], ["unrecognized arguments: --bogus"]),
    (["frobnicate", str(LENET)], ["invalid choice", "frobnicate"]),
])
def test_bad_command_line(run_here, argv, words):
    assert_usage_error(run_here(*argv), *words)


def test_a_bad_option_in_a_fresh_interpreter(run_cli):
    """The in-process runs above, once as the command itself: status, one line, no traceback."""
    assert_usage_error(run_cli("check", VGG16, "--set", "num_classes=abc"), "--set num_classes")
    assert_usage_error(run_cli("check", "--bogus", LENET), "--bogus")


def test_a_good_command_still_works(run_cli):
    """The counterpart: the same spec and option, well formed, check cleanly."""
    proc = run_cli("check", VGG16, "--set", "num_classes=10", "--dim", "batch=2")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""


# -- build and diagram -------------------------------------------------------------------------

@pytest.mark.skipif(not has("netspec.diagram"), reason="netspec.diagram is not there")
@pytest.mark.parametrize("name", ["Nope", "lenet", ""])
def test_diagram_of_an_unknown_network(run_here, tmp_path, name):
    out = tmp_path / "lenet.dot"
    line = assert_usage_error(run_here("diagram", LENET, "-o", out, "--network", name), "LeNet")
    assert not out.exists()
    assert "no network" in line


@pytest.mark.skipif(not has("netspec.build"), reason="netspec.build is not there")
def test_build_keeps_a_file_it_did_not_write(run_cli, tmp_path):
    out = tmp_path / "mine.py"
    out.write_text("# my own work\n")
    assert_usage_error(run_cli("build", LENET, "-o", out), str(out), "--force")
    assert out.read_text() == "# my own work\n"


@pytest.mark.skipif(not has("netspec.build"), reason="netspec.build is not there")
def test_build_into_a_directory_or_nowhere(run_cli, tmp_path):
    assert_usage_error(run_cli("build", LENET, "-o", tmp_path), str(tmp_path))
    assert_usage_error(run_cli("build", LENET, "-o", tmp_path / "no" / "such" / "x.py"), "cannot write")


@pytest.mark.parametrize("cmd,suffix", [("build", ".py"), ("diagram", ".dot"), ("export", ".pt2")])
def test_an_output_name_that_names_no_file(run_here, tmp_path, cmd, suffix):
    """`-o newdir/` wrote a file named `newdir`; `-o ''` and a missing folder are refused too."""
    before = sorted(os.listdir(tmp_path))
    assert_usage_error(run_here(cmd, LENET, "-o", f"{tmp_path}/newdir/"), "newdir/", "not a folder")
    (tmp_path / "there").mkdir()
    assert_usage_error(run_here(cmd, LENET, "-o", f"{tmp_path}/there/"), "there/", "not a folder")
    assert_usage_error(run_here(cmd, LENET, "-o", ""), "-o ''", "empty")
    assert_usage_error(run_here(cmd, LENET, "-o", tmp_path / "missing" / f"x{suffix}"), "no such directory")
    assert sorted(os.listdir(tmp_path)) == sorted([*before, "there"])
    assert os.listdir(tmp_path / "there") == []


# -- the Python API's overrides -----------------------------------------------------------------

VGG16_TEXT = VGG16.read_text()


@pytest.mark.parametrize("value,words", [
    ([10], "type `list`"), ({"a": 1}, "type `dict`"), ({10}, "type `set`"), (None, "None"),
    (object(), "type `object`"), (b"10", "type `bytes`"), (float("nan"), "nan"), (2**70, "int64"),
    ((10, [1]), "type `list`"), ('say "hi"', "string"),
])
@pytest.mark.parametrize("how", ["path", "text", "module"])
def test_an_override_the_language_cannot_write_is_a_usage_error(value, words, how):
    """A list or dict raised a raw `TypeError: unhashable`, None made the parameter free."""
    from netspec import api
    from netspec.errors import UsageError

    with pytest.raises(UsageError) as e:
        if how == "path":
            api.load(VGG16, {"num_classes": value})
        elif how == "text":
            api.load(VGG16_TEXT, {"num_classes": value})
        else:
            api.module(VGG16, overrides={"num_classes": value})
    assert "`num_classes`" in str(e.value) and words in str(e.value), str(e.value)


@pytest.mark.parametrize("how", ["path", "text"])
def test_an_override_of_no_parameter_is_a_usage_error(how):
    from netspec import api
    from netspec.errors import UsageError

    with pytest.raises(UsageError, match="no network in .* has a parameter `num_clases`"):
        api.load(VGG16 if how == "path" else VGG16_TEXT, {"num_clases": 10})
    with pytest.raises(UsageError, match="parameter name"):
        api.load(VGG16, {3: 10})
    assert api.load(VGG16, {"num_classes": 10}).network("VGG16").param_env == {"num_classes": 10}
