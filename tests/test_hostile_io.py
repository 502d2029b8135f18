"""Hostile input and surroundings: netspec answers with exit status 0, 1 or 2 and
diagnostics, in time and memory that grow with the input, never a traceback or a hang, and
never loses what a user had.

- Output: N diagnostics render from the lines split once (N splits of the whole file
  made 20,000 empty networks cost 35 s as text against 0.36 s as JSON); `did you mean`
  looks a name up in an index, not in every known name.
- Input is read once: a FIFO or a pipe works, `-` reads standard input (`<stdin>` in
  diagnostics); a file that is not UTF-8 is not opened a second time to show its lines
  (a FIFO then waited for a writer that never came).
- Output that cannot be written (a full disk, a closed stdout) is status 2 and one line
  on stderr; SIGINT and SIGTERM end the command with 130 and 143 at any moment and leave
  no temporary file.

Costs are measured in a fresh process (CPU time and peak RSS from getrusage).
"""

from __future__ import annotations

import builtins
import difflib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import ROOT, SPECS

from netspec import diagnostics
from netspec.diagnostics import suggest

LENET = SPECS / "lenet.net"
ENV = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc and /dev/full")

MEASURED = r"""
import json, resource, sys
sys.argv = ["netspec", *sys.argv[1:]]
from netspec.cli import main
code = main()
sys.stdout.flush()
u = resource.getrusage(resource.RUSAGE_SELF)
peak = u.ru_maxrss / 1024
try:  # ru_maxrss keeps the forking parent's peak across exec; VmHWM is this program's own
    peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")) / 1024
except (OSError, StopIteration):
    pass
print(json.dumps({"code": code, "cpu": u.ru_utime + u.ru_stime, "rss_mib": peak}), file=sys.stderr)
"""


def measured(*argv) -> dict:
    """`netspec ARGV` in a fresh process, its output thrown away: exit status, CPU seconds
    and peak RSS (MiB)."""
    proc = subprocess.run([sys.executable, "-c", MEASURED, *map(str, argv)], cwd=ROOT, env=ENV,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=300)
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    return json.loads(proc.stderr.strip().splitlines()[-1])


def netspec(*argv, **kw) -> subprocess.CompletedProcess:
    """The `netspec` command itself (its console entry point) in a fresh process."""
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    return subprocess.run([sys.executable, "-m", "netspec", *map(str, argv)], cwd=ROOT, env=ENV,
                          timeout=kw.pop("timeout", 120), **kw)


def empty_networks(n: int, sep: str = "\n") -> str:
    """n networks without outputs: one `output` error each."""
    return sep.join(f"network N{i}() {{}}" for i in range(n)) + "\n"


# -- output in linear time ----------------------------------------------------------------------

@pytest.mark.parametrize("argv", [["check"], ["check", "--costs"], ["build", "-o", "{tmp}/out.py"],
                                  ["diagram", "-o", "{tmp}/out.dot"]])
def test_diagnostics_render_from_lines_split_once(tmp_path, monkeypatch, capsys, argv):
    from netspec import ast
    from netspec.cli import main

    spec = tmp_path / "empty.net"
    spec.write_text(empty_networks(500))
    splits = []
    real = ast.source_lines
    monkeypatch.setattr(ast, "source_lines", lambda text: splits.append(len(text)) or real(text))
    args = [a.format(tmp=tmp_path) for a in argv]
    assert main([args[0], str(spec), *args[1:]]) == 1
    captured = capsys.readouterr()
    assert (captured.out + captured.err).count("error[output]") == 500
    assert len(splits) <= 1, f"the file was split into lines {len(splits)} times for 500 diagnostics"


@pytest.mark.parametrize("layout", ["lines", "one line"])
def test_twenty_thousand_diagnostics_cost_what_the_json_costs(tmp_path, layout):
    spec = tmp_path / "empty.net"
    spec.write_text(empty_networks(20_000, "\n" if layout == "lines" else " "))
    as_json = measured("check", "--json", spec)
    as_text = measured("check", spec)
    assert as_json["code"] == as_text["code"] == 1
    # split once per diagnostic, the text cost 35 s (one line: a 380 kB line copied 20,000 times)
    assert as_text["cpu"] < 3 * as_json["cpu"] + 2, (as_text, as_json)
    assert as_text["rss_mib"] < 2 * as_json["rss_mib"] + 100, (as_text, as_json)


def test_a_diagnostic_shows_a_window_of_a_long_line(tmp_path, capsys):
    from netspec.cli import main

    spec = tmp_path / "long.net"
    spec.write_text(empty_networks(2_000, " "))
    main(["check", str(spec)])
    shown = [line for line in capsys.readouterr().out.splitlines() if line.startswith(" 1 | ")]
    assert len(shown) == 2_000
    assert max(map(len, shown)) <= diagnostics.MAX_SHOWN + 10


def _old_suggest(name: str, pool: list[str]) -> str | None:
    """`did you mean` as it was for a pool of up to 200 names: difflib on every name."""
    close = difflib.get_close_matches(name, pool, n=3, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in pool}
        close = [lowered[c] for c in difflib.get_close_matches(name.lower(), list(lowered), n=3, cutoff=0.6)]
    return "did you mean " + " or ".join(f"`{c}`" for c in close) + "?" if close else None


def _typo(rng: random.Random, word: str, one_edit: bool = False) -> str:
    """``word`` with a letter dropped, added, changed, two swapped (one edit), or in
    capitals or with a suffix."""
    i = rng.randrange(len(word))
    letter = rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789")
    edits = [word[:i] + word[i + 1:], word[:i] + letter + word[i:], word[:i] + letter + word[i + 1:],
             word[:i] + word[i + 1:i + 2] + word[i:i + 1] + word[i + 2:]]
    return rng.choice(edits if one_edit else [*edits, word.upper(), word + "_2"])


def _word(rng: random.Random) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz_0123456789") for _ in range(rng.randint(1, 14)))


def test_suggestions_for_a_small_set_are_what_they_were():
    """Up to SUGGEST_SCAN names every one is compared, as before the index."""
    rng = random.Random(7)
    for case in range(600):
        pool = list(dict.fromkeys(_word(rng) for _ in range(rng.choice([1, 5, 40, 200]))))
        name = _typo(rng, rng.choice(pool)) if case % 3 else _word(rng)
        assert suggest(name, pool) == _old_suggest(name, pool), (name, pool)
        assert suggest(name, dict.fromkeys(pool)) == _old_suggest(name, pool), (name, pool)


def test_ten_thousand_misspellings_of_ten_thousand_names_take_well_under_a_second():
    known = [f"hidden_{i}" for i in range(10_000)]
    misspelt = [f"hiden_{i}" for i in range(10_000)]  # a letter dropped
    unrelated = [f"qq{i}zz" for i in range(10_000)]
    start = time.process_time()
    hints = [suggest(name, known) for name in misspelt]
    spent = time.process_time() - start
    assert all(h is not None and h.startswith(f"did you mean `hidden_{i}`") for i, h in enumerate(hints)), hints[:3]
    assert spent < 1.0, f"{spent:.2f} s for 10,000 misspellings"
    start = time.process_time()
    assert all(suggest(name, known) is None for name in unrelated)
    assert time.process_time() - start < 1.0


def test_the_index_finds_every_name_one_edit_away():
    """Among 5,000 names, a misspelling one edit from a name of four letters or more is
    answered with that name, unless three others are as close."""
    rng = random.Random(3)
    known = list(dict.fromkeys(_word(rng) + str(i) for i in range(5_000)))
    for _ in range(2_000):
        word = rng.choice(known)
        name = _typo(rng, word, one_edit=True)
        if name in known or len(word) < 4:
            continue
        hint = suggest(name, known)
        assert hint is not None and (f"`{word}`" in hint or hint.count("`") == 6), (name, word, hint)


def test_a_dict_of_names_that_grows_is_indexed_as_it_grows():
    values: dict[str, int] = {}
    for i in range(1_000):
        values[f"layer{i}"] = i
        if i > 300 and i % 50 == 0:
            assert suggest(f"layr{i}", values).startswith(f"did you mean `layer{i}`")
            assert f"`layer{i + 1}`" not in (suggest(f"layr{i + 1}", values) or "")


def test_a_spec_with_ten_thousand_unknown_names_checks_in_linear_time(tmp_path):
    """Every other binding reads a name nothing defines: 10,000 suggestions among up to 20,000 names."""
    lines = ["network E {", "    input h0: float[batch, 8]"]
    n = 20_000
    lines += [f"    h{i} = {f'h{i - 1}' if i % 2 else f'q{i}'} -> ReLU" for i in range(1, n + 1)]
    spec = tmp_path / "unknown.net"
    spec.write_text("\n".join(lines + [f"    output h{n}", "}"]) + "\n")
    got = measured("check", "--json", spec)
    assert got["code"] == 1
    assert got["cpu"] < 15, got  # 47 s with every suggestion comparing 200 names
    assert got["rss_mib"] < 600, got


# -- input read once ------------------------------------------------------------------------------

NOT_UTF8 = b"network A {\n    input x: float[batch, 4]\xff\xfe\n    output x\n}\n"


def _feed(fifo: Path, data: bytes) -> threading.Thread:
    def write():
        with open(fifo, "wb") as f:
            f.write(data)

    t = threading.Thread(target=write, daemon=True)
    t.start()
    return t


def _release(fifo: Path, writer: threading.Thread) -> None:
    """A writer still waiting for a reader gets one, so that no thread is left blocked."""
    if writer.is_alive():
        fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        writer.join(5)
        os.close(fd)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
@pytest.mark.parametrize("data,status", [(NOT_UTF8, 1), (LENET.read_bytes(), 0)])
@pytest.mark.parametrize("json_out", [False, True])
def test_a_fifo_is_read_once(tmp_path, data, status, json_out):
    fifo = tmp_path / "spec.net"
    os.mkfifo(fifo)
    writer = _feed(fifo, data)
    try:
        proc = netspec("check", *(["--json"] if json_out else []), fifo, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("netspec waited on the FIFO: it opened it a second time")
    finally:
        _release(fifo, writer)
    assert proc.returncode == status, proc.stderr
    out = proc.stdout.decode()
    if status:
        assert "encoding" in out and str(fifo) in out
        if not json_out:
            assert "input x: float[batch, 4]" in out  # the line, shown from the one read


def test_a_file_that_is_not_utf8_is_opened_once(tmp_path, monkeypatch):
    from netspec.api import check_file

    spec = tmp_path / "latin1.net"
    spec.write_bytes(NOT_UTF8)
    opened = []
    real = builtins.open
    monkeypatch.setattr(builtins, "open", lambda f, *a, **k: opened.append(str(f)) or real(f, *a, **k))
    loaded = check_file(str(spec))
    monkeypatch.undo()
    assert opened.count(str(spec)) == 1
    assert "float[batch, 4]" in loaded.lines[1]


@pytest.mark.parametrize("data", [LENET.read_bytes(), NOT_UTF8, b"network A {\n    output nope\n}\n"])
def test_dash_reads_stdin_and_names_it(data):
    proc = netspec("check", "-", input=data)
    out = proc.stdout.decode()
    assert "Traceback" not in proc.stderr.decode()
    if data == LENET.read_bytes():
        assert proc.returncode == 0 and "<stdin>: ok" in out and "Total params: 61,706" in out
    else:
        assert proc.returncode == 1 and "\n<stdin>:2:" in "\n" + out and "<stdin>: 1 error\n" in out
    js = json.loads(netspec("check", "--json", "-", input=data).stdout)
    assert all(d["file"] == "<stdin>" for d in js["diagnostics"])


def test_dash_twice_reads_stdin_once(tmp_path):
    proc = netspec("check", "-", "-", input=LENET.read_bytes())
    assert proc.returncode == 0 and proc.stdout.decode().count("Total params: 61,706") == 2


def test_build_from_stdin(tmp_path):
    out = tmp_path / "lenet.py"
    proc = netspec("build", "-", "-o", out, input=LENET.read_bytes())
    assert proc.returncode == 0, proc.stderr
    assert out.read_text().startswith("# Generated by netspec from <stdin> -- do not edit.\n")


def test_closed_stdin_is_a_usage_error():
    proc = netspec("check", "-", stdin=subprocess.DEVNULL, preexec_fn=lambda: os.close(0))
    assert proc.returncode == 2
    assert proc.stderr.decode().strip() == "netspec: error: cannot read <stdin>: it is closed"


# -- output that cannot be written ---------------------------------------------------------------

def _one_error_line(proc, words: str) -> None:
    err = proc.stderr.decode() if isinstance(proc.stderr, bytes) else proc.stderr
    assert "Traceback" not in err
    assert err.strip().splitlines() == [f"netspec: error: cannot write the output: {words}"], err


@linux_only
@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
@pytest.mark.parametrize("argv", [["check", LENET], ["check", "--json", LENET], ["check", SPECS / "oops.net"],
                                  ["build", LENET, "-o", "{tmp}/lenet.py"], ["check", "{big}"]])
def test_a_full_stdout_is_status_2_and_one_line(tmp_path, argv):
    big = tmp_path / "big.net"
    big.write_text(empty_networks(3_000))  # output far past any buffer
    args = [str(a).format(tmp=tmp_path, big=big) for a in argv]
    with open("/dev/full", "w") as full:
        proc = netspec(*args, stdout=full, stderr=subprocess.PIPE)
    assert proc.returncode == 2
    _one_error_line(proc, "No space left on device")


@pytest.mark.parametrize("argv", [["check", LENET], ["check", "--json", LENET], ["check", SPECS / "oops.net"]])
def test_a_closed_stdout_is_status_2_and_one_line(argv):
    proc = netspec(*argv, stdout=subprocess.DEVNULL, preexec_fn=lambda: os.close(1))
    assert proc.returncode == 2
    _one_error_line(proc, "standard output is closed")
    both = netspec(*argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   preexec_fn=lambda: (os.close(1), os.close(2)))
    assert both.returncode == 2


@linux_only
@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
def test_a_full_stderr_changes_nothing(tmp_path):
    with open("/dev/full", "w") as full:
        bad = netspec("build", SPECS / "oops.net", "-o", tmp_path / "x.py", stderr=full)
        good = netspec("build", LENET, "-o", tmp_path / "lenet.py", stderr=full)
    assert bad.returncode == 1 and not (tmp_path / "x.py").exists()
    assert good.returncode == 0 and (tmp_path / "lenet.py").exists()


# -- signals -------------------------------------------------------------------------------------

SIGNALLED_WRITE = r"""
import os, signal, sys
sys.path.insert(0, sys.argv[1])
from netspec import fsutil, cli
sig, entry = getattr(signal, sys.argv[2]), sys.argv[3]
real = fsutil.os.fsync
def fsync(fd):  # the whole module is in the temporary file: the signal comes now
    real(fd)
    os.kill(os.getpid(), sig)
fsutil.os.fsync = fsync
sys.argv = ["netspec", *sys.argv[4:]]
cli.console() if entry == "console" else cli.main()
print("not ended", file=sys.stderr)
"""


def _big_spec(tmp_path: Path, n: int = 2_000) -> Path:
    lines = ["network Big {", "    input x: float[batch, 8]", "    h0 = x"]
    lines += [f"    h{i} = h{i - 1} -> Linear(8)" for i in range(1, n + 1)]
    spec = tmp_path / "big.net"
    spec.write_text("\n".join(lines + [f"    output h{n}", "}"]) + "\n")
    return spec


@pytest.mark.parametrize("sig,status", [("SIGINT", 130), ("SIGTERM", 143)])
def test_a_signal_in_the_middle_of_a_write_leaves_no_temporary_file(tmp_path, sig, status):
    out = tmp_path / "out" / "model.py"
    out.parent.mkdir()
    assert netspec("build", LENET, "-o", out).returncode == 0
    before = out.read_bytes()
    proc = subprocess.run([sys.executable, "-c", SIGNALLED_WRITE, str(ROOT), sig, "console", "build",
                           str(_big_spec(tmp_path)), "-o", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == status, proc.stderr
    assert "Traceback" not in proc.stderr and "not ended" not in proc.stderr
    assert out.read_bytes() == before
    assert os.listdir(out.parent) == ["model.py"]


def test_sigterm_in_a_write_of_the_python_api_leaves_no_temporary_file(tmp_path):
    """Without the command's handlers, SIGTERM still kills the process, after the cleanup."""
    out = tmp_path / "out" / "model.py"
    out.parent.mkdir()
    assert netspec("build", LENET, "-o", out).returncode == 0
    before = out.read_bytes()
    proc = subprocess.run([sys.executable, "-c", SIGNALLED_WRITE, str(ROOT), "SIGTERM", "main", "build",
                           str(_big_spec(tmp_path)), "-o", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGTERM, proc.stderr
    assert out.read_bytes() == before
    assert os.listdir(out.parent) == ["model.py"]


def _handles_sigterm(pid: int) -> bool:
    """Whether the process has its own SIGTERM handler (netspec's, installed first thing)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("SigCgt:"):
                return bool(int(line.split()[1], 16) >> (signal.SIGTERM - 1) & 1)
    except (FileNotFoundError, ProcessLookupError):
        return True
    return False


@linux_only
@pytest.mark.parametrize("sig,status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_at_any_moment_ends_with_its_status(tmp_path, sig, status):
    """From the moment netspec's code runs: imports, checking, generating, writing."""
    spec = _big_spec(tmp_path, 1_500)
    out = tmp_path / "out"
    out.mkdir()
    statuses = []
    for delay in [0, 0.005, 0.02, 0.05, 0.1, 0.2, 0.4, 0.7, 1.0, 1.5]:
        proc = subprocess.Popen([sys.executable, "-m", "netspec", "build", str(spec), "-o", str(out / "m.py")],
                                cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        while not _handles_sigterm(proc.pid) and proc.poll() is None:
            time.sleep(0.0005)
        assert proc.poll() is None, "the command ended without ever handling SIGTERM"
        time.sleep(delay)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=120)
        statuses.append(proc.returncode)
        assert proc.returncode in (status, 0), (delay, proc.returncode, err[-2000:])  # 0: it had finished
        assert b"Traceback" not in err, err[-2000:]
        assert [p for p in os.listdir(out) if p != "m.py"] == []
    assert statuses.count(status) >= 5, statuses
