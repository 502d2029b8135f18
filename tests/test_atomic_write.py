"""`netspec build` and `netspec diagram` never lose what a user had.

- A file netspec did not write is replaced only with --force (exit 2 and one line that
  names --force otherwise); a file it wrote is replaced without it.
- A write is atomic: a reader sees the old file or the new one, never a part of either;
  a write that fails or is interrupted (an error, Ctrl-C, the process killed) leaves the
  old file as it was and no temporary file behind (a killed process cannot clean up: its
  temporary file is a hidden one beside the output, and the output is untouched).
- A spec that does not build writes nothing.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from netspec import fsutil
from netspec.cli import main
from netspec.errors import UsageError
from netspec.fsutil import MARKER, is_generated, write_output

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")

# (command, output suffix): every kind of file netspec writes
OUTPUTS = [
    ("build", ".py"),
    ("diagram", ".dot"),
    pytest.param("diagram", ".svg", marks=needs_dot),
    pytest.param("diagram", ".png", marks=needs_dot),
    pytest.param("diagram", ".pdf", marks=needs_dot),
]


def run(*argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in argv])
        except SystemExit as e:
            code = e.code
    return code, out.getvalue(), err.getvalue()


def netspec(command: str, spec: Path, out: Path, *extra) -> tuple[int, str, str]:
    return run(command, spec, "-o", out, *extra)


def files_in(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir())


def assert_refused(code: int, err: str, path: Path):
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("netspec: error:") and "--force" in lines[0], err
    assert str(path) in lines[0]


USER_FILES = {
    "text": b"my own notes\n",
    "empty": b"",
    "python": b"import torch\n\nclass Mine:\n    pass\n",
    # a file that mentions netspec's marker without being netspec's output
    "mentions-the-marker": f"# my model; the old one said '{MARKER}'\nx = 1\n".encode(),
    "marker-later": b"x = 1\n# " + MARKER.encode() + b" from a.net -- do not edit.\n",
    "binary": bytes(range(256)) * 4,
}


@pytest.mark.parametrize("command,suffix", OUTPUTS)
def test_writes_a_new_file_and_nothing_else(tmp_path, command, suffix):
    out = tmp_path / f"lenet{suffix}"
    code, _, err = netspec(command, SPECS / "lenet.net", out)
    assert code == 0, err
    assert files_in(tmp_path) == [out.name]  # no temporary file left beside it
    assert out.stat().st_size > 0
    if suffix != ".pdf":  # a PDF has no room for the marker
        assert is_generated(out)


@pytest.mark.parametrize("command,suffix", OUTPUTS)
@pytest.mark.parametrize("kind", sorted(USER_FILES))
def test_never_replaces_a_file_it_did_not_write(tmp_path, command, suffix, kind):
    out = tmp_path / f"mine{suffix}"
    out.write_bytes(USER_FILES[kind])
    os.chmod(out, 0o640)
    before = out.stat()
    code, _, err = netspec(command, SPECS / "lenet.net", out)
    assert_refused(code, err, out)
    assert out.read_bytes() == USER_FILES[kind]
    after = out.stat()
    assert (after.st_ino, after.st_mtime_ns, after.st_mode) == (before.st_ino, before.st_mtime_ns, before.st_mode)
    assert files_in(tmp_path) == [out.name]


@pytest.mark.parametrize("command,suffix", OUTPUTS)
def test_force_replaces_it(tmp_path, command, suffix):
    out = tmp_path / f"mine{suffix}"
    out.write_bytes(b"my own notes\n")
    code, _, err = netspec(command, SPECS / "lenet.net", out, "--force")
    assert code == 0, err
    assert out.read_bytes() != b"my own notes\n"
    assert files_in(tmp_path) == [out.name]


@pytest.mark.parametrize("command,suffix", [o for o in OUTPUTS if getattr(o, "values", o)[1] != ".pdf"])
def test_replaces_its_own_output(tmp_path, command, suffix):
    out = tmp_path / f"model{suffix}"
    assert netspec(command, SPECS / "lenet.net", out)[0] == 0
    first = out.read_bytes()
    code, _, err = netspec(command, SPECS / "charrnn.net", out)
    assert code == 0, err
    assert out.read_bytes() != first and is_generated(out)


def test_a_pdf_it_wrote_needs_force_too(tmp_path):
    """A PDF carries no marker, so netspec cannot tell its own from a user's."""
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed")
    out = tmp_path / "model.pdf"
    assert netspec("diagram", SPECS / "lenet.net", out)[0] == 0
    first = out.read_bytes()
    code, _, err = netspec("diagram", SPECS / "charrnn.net", out)
    assert_refused(code, err, out)
    assert out.read_bytes() == first


def test_a_spec_that_does_not_build_writes_nothing(tmp_path):
    out = tmp_path / "model.py"
    assert netspec("build", SPECS / "oops.net", out)[0] == 1
    assert files_in(tmp_path) == []
    # and an earlier output stays as it was
    assert netspec("build", SPECS / "lenet.net", out)[0] == 0
    before = out.read_bytes()
    code, _, err = netspec("build", SPECS / "oops.net", out)
    assert code == 1 and "nothing written" in err
    assert out.read_bytes() == before and files_in(tmp_path) == ["model.py"]
    broken = tmp_path / "broken.net"
    broken.write_text("network A {\n    input x: float[batch\n}\n")
    dot = tmp_path / "broken.dot"
    assert netspec("diagram", broken, dot)[0] == 1
    assert not dot.exists()


@pytest.mark.parametrize("command,suffix", [("build", ".py"), ("diagram", ".dot")])
def test_never_writes_over_the_spec(tmp_path, command, suffix):
    spec = tmp_path / f"lenet{suffix}"
    spec.write_bytes((SPECS / "lenet.net").read_bytes())
    for extra in ((), ("--force",)):
        code, _, err = netspec(command, spec, spec, *extra)
        assert code == 2, err
        assert spec.read_bytes() == (SPECS / "lenet.net").read_bytes()
    link = tmp_path / f"link{suffix}"
    link.symlink_to(spec)
    code, _, err = netspec(command, spec, link, "--force")
    assert code == 2, err
    assert spec.read_bytes() == (SPECS / "lenet.net").read_bytes()


@pytest.mark.parametrize("command,suffix", [("build", ".py"), ("diagram", ".dot")])
def test_paths_it_cannot_write(tmp_path, command, suffix):
    spec = SPECS / "lenet.net"
    d = tmp_path / f"dir{suffix}"
    d.mkdir()
    code, _, err = netspec(command, spec, d)
    assert code == 2 and "directory" in err and files_in(d) == []
    code, _, err = netspec(command, spec, tmp_path / "missing" / f"x{suffix}")
    assert code == 2 and "no such directory" in err and not (tmp_path / "missing").exists()
    fifo = tmp_path / f"fifo{suffix}"
    os.mkfifo(fifo)
    code, _, err = netspec(command, spec, fifo, "--force")
    assert code == 2 and "not a regular file" in err
    assert fifo.is_fifo()
    dangling = tmp_path / f"dangling{suffix}"
    dangling.symlink_to(tmp_path / "nowhere" / "x")
    code, _, err = netspec(command, spec, dangling)
    assert code == 2, err
    assert dangling.is_symlink() and not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize("command,suffix", [("build", ".py"), ("diagram", ".dot")])
def test_a_link_is_followed_and_kept(tmp_path, command, suffix):
    mine = tmp_path / f"mine{suffix}"
    mine.write_bytes(b"mine\n")
    link = tmp_path / f"link{suffix}"
    link.symlink_to(mine)
    code, _, err = netspec(command, SPECS / "lenet.net", link)
    assert_refused(code, err, link)
    assert mine.read_bytes() == b"mine\n" and link.is_symlink()
    theirs = tmp_path / f"theirs{suffix}"
    assert netspec(command, SPECS / "lenet.net", theirs)[0] == 0
    link.unlink()
    link.symlink_to(theirs)
    code, _, err = netspec(command, SPECS / "charrnn.net", link)
    assert code == 0, err
    assert link.is_symlink() and b"charrnn" in theirs.read_bytes()


# -- failures and interruptions in the middle of a write ------------------------------------------

class Boom(Exception):
    pass


@pytest.mark.parametrize("command,suffix", [("build", ".py"), ("diagram", ".dot")])
@pytest.mark.parametrize("where", ["write", "fsync", "chmod", "replace"])
@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch, command, suffix, where, error):
    out = tmp_path / f"model{suffix}"
    assert netspec(command, SPECS / "charrnn.net", out)[0] == 0
    before = out.read_bytes()

    def fail(*a, **k):
        raise error

    if where == "write":  # the disk fills in the middle of the data
        real = os.fdopen

        def fdopen(fd, *a, **k):
            f = real(fd, *a, **k)
            inner = f.write

            def write(data):
                inner(data[: len(data) // 2])
                raise error
            f.write = write
            return f
        monkeypatch.setattr(fsutil.os, "fdopen", fdopen)
    else:
        monkeypatch.setattr(fsutil.os, where, fail)
    code, _, err = netspec(command, SPECS / "lenet.net", out)
    monkeypatch.undo()
    if isinstance(error, KeyboardInterrupt):
        assert code == 130
    else:
        assert code == 2 and "No space left" in err and len(err.strip().splitlines()) == 1, err
    assert out.read_bytes() == before
    assert files_in(tmp_path) == [out.name]


KILLED = r"""
import os, sys
sys.path.insert(0, sys.argv[1])
from netspec import fsutil
def die(fd):
    os._exit(9)  # killed after the data went to the temporary file, before it replaced the output
fsutil.os.fsync = die
from netspec.cli import main
main(sys.argv[2:])
"""


@pytest.mark.parametrize("command,suffix", [("build", ".py"), ("diagram", ".dot")])
def test_a_killed_process_leaves_the_old_file(tmp_path, command, suffix):
    out = tmp_path / f"model{suffix}"
    assert netspec(command, SPECS / "charrnn.net", out)[0] == 0
    before = out.read_bytes()
    r = subprocess.run([sys.executable, "-c", KILLED, str(ROOT), command, str(SPECS / "lenet.net"), "-o", str(out)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 9, r.stderr
    assert out.read_bytes() == before
    left = [p for p in files_in(tmp_path) if p != out.name]
    assert all(p.startswith(f".{out.name}.") and p.endswith(".tmp") for p in left), left


def test_readers_see_the_old_file_or_the_new_one(tmp_path):
    """While one file is rewritten again and again, every read gets one whole version."""
    out = tmp_path / "model.py"
    versions = [f"# {MARKER}\n".encode() + bytes([65 + k]) * (1 << 20) for k in range(3)]
    write_output(out, versions[0])
    stop = threading.Event()
    seen: list[bytes] = []
    bad: list[int] = []

    def reader():
        while not stop.is_set():
            data = out.read_bytes()
            if data not in versions:
                bad.append(len(data))
            elif not seen or seen[-1] != data:
                seen.append(data)

    t = threading.Thread(target=reader)
    t.start()
    try:
        for i in range(60):
            write_output(out, versions[i % 3])
    finally:
        stop.set()
        t.join()
    assert not bad, f"partial reads of {bad[:5]} bytes"
    assert len(seen) > 1
    assert files_in(tmp_path) == ["model.py"]


def test_write_output_refuses_what_it_did_not_write(tmp_path):
    for name, data in USER_FILES.items():
        out = tmp_path / f"{name}.py"
        out.write_bytes(data)
        with pytest.raises(UsageError, match="--force"):
            write_output(out, f"# {MARKER}\n")
        assert out.read_bytes() == data


def test_is_generated_reads_the_marker_where_netspec_puts_it(tmp_path):
    p = tmp_path / "f"
    for data, expected in [
        (f"# {MARKER} from a.net -- do not edit.\nimport torch\n", True),
        (f"// {MARKER} from a.net\ndigraph netspec {{}}\n", True),
        (f'<?xml version="1.0"?>\n<!-- {MARKER} -->\n<svg/>\n', True),
        (f"x = 1\n# {MARKER}\n", False),
        (f"# not {MARKER}\n", False),
        (f'"""{MARKER}"""\n', False),
        (f"#{MARKER}\n", False),
        ("", False),
    ]:
        p.write_text(data)
        assert is_generated(p) is expected, data


def test_the_marker_is_recognised_exactly(tmp_path):
    """The marker line is netspec's own, whole: a longer name after it is someone else's."""
    import struct
    import zlib

    def png(software: bytes) -> bytes:
        ihdr = b"IHDR" + struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
        text = b"tEXt" + b"Software\0" + software

        def chunk(body):
            return struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
        return fsutil.PNG_SIGNATURE + chunk(ihdr) + chunk(text)

    p = tmp_path / "f"
    for data, expected in [
        (f"# {MARKER}\n".encode(), True),
        (f"# {MARKER} from x.net -- do not edit.\r\nimport torch\n".encode(), True),
        (f"// {MARKER}\ndigraph netspec {{}}\n".encode(), True),
        (f"<!-- {MARKER} -->\n<svg/>\n".encode(), True),
        (png(MARKER.encode()), True),
        (f"# {MARKER}trum-cli 2.1 from x.net -- do not edit.\n".encode(), False),
        (f"# {MARKER}-tools\n".encode(), False),
        (f"# {MARKER} from x.net -- do not edit. Edited by hand.\n".encode(), False),
        (f"# {MARKER} from x.net\n".encode(), False),
        (f"// {MARKER}trum\n".encode(), False),
        (f"<!-- {MARKER}trum -->\n".encode(), False),
        (f'<?xml version="1.0"?>\n<!-- {MARKER}trum -->\n<svg/>\n'.encode(), False),
        (png(MARKER.encode() + b"trum"), False),
    ]:
        p.write_bytes(data)
        assert is_generated(p) is expected, data


@pytest.mark.parametrize("command,suffix", [("build", ".py"), ("diagram", ".dot")])
def test_a_file_of_another_generator_needs_force(tmp_path, command, suffix):
    out = tmp_path / f"model{suffix}"
    theirs = f"{'#' if suffix == '.py' else '//'} {MARKER}trum-cli 2.1 from x.net -- do not edit.\n".encode()
    out.write_bytes(theirs)
    code, _, err = netspec(command, SPECS / "lenet.net", out)
    assert_refused(code, err, out)
    assert out.read_bytes() == theirs
    assert netspec(command, SPECS / "lenet.net", out, "--force")[0] == 0
    assert is_generated(out)


@pytest.mark.parametrize("command,suffix", OUTPUTS)
def test_a_read_only_file_needs_force_even_when_netspec_wrote_it(tmp_path, command, suffix):
    out = tmp_path / f"model{suffix}"
    assert netspec(command, SPECS / "charrnn.net", out, "--force")[0] == 0
    before = out.read_bytes()
    os.chmod(out, 0o444)
    code, _, err = netspec(command, SPECS / "lenet.net", out)
    assert_refused(code, err, out)
    assert ("read-only" in err or suffix == ".pdf") and out.read_bytes() == before  # a PDF is unmarked
    code, _, err = netspec(command, SPECS / "lenet.net", out, "--force")
    assert code == 0, err
    assert out.read_bytes() != before and (out.stat().st_mode & 0o777) == 0o444  # replaced, still read-only
    assert files_in(tmp_path) == [out.name]


@pytest.mark.parametrize("length", [253, 255])
def test_an_output_name_as_long_as_a_name_may_be(tmp_path, length):
    """The temporary name beside it must fit NAME_MAX too (`.NAME.XXXXXXXX.tmp` did not)."""
    out = tmp_path / ("m" * (length - 3) + ".py")
    code, _, err = netspec("build", SPECS / "lenet.net", out)
    assert code == 0, err
    assert is_generated(out) and files_in(tmp_path) == [out.name]
    wide = tmp_path / ("é" * ((length - 3) // 2) + ".py")  # two bytes a letter: NAME_MAX counts bytes
    code, _, err = netspec("build", SPECS / "lenet.net", wide)
    assert code == 0, err
    assert len(os.fsencode(fsutil._temporary_name(str(tmp_path), str(wide)).rsplit("/", 1)[1])) <= 255
