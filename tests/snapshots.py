"""Golden outputs of every command over a fixed corpus, to prove a change keeps them.

For every spec in ``specs/`` and ``tests/broken/`` the full outputs are kept as files under
``tests/snapshots/`` (reviewed in the diff when they change); for the fuzz corpus
(``tests/snapshots/fuzz_corpus.jsonl``: mutants, generated and random files, and random
valid networks, fixed once) a hash of each output is kept beside the case.

The outputs: `check` (text, with and without ``--costs``), `check --json`, `build` (the
module, or what it printed), and `diagram` as DOT. Regenerate after a reviewed change:

    python tests/snapshots.py --regen
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "tests" / "snapshots"
CORPUS = HERE / "fuzz_corpus.jsonl"
SPEC_DIRS = {"specs": ROOT / "specs", "broken": ROOT / "tests" / "broken"}


def _run(argv: list[str]) -> str:
    """netspec.cli.main in this process: exit status, stdout and stderr as one text."""
    from netspec.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as e:
            code = e.code
    return f"exit {code}\n--- stdout\n{out.getvalue()}--- stderr\n{err.getvalue()}"


def outputs(name: str) -> dict[str, str]:
    """Every command's output on the spec file ``name`` in the current directory."""
    got = {
        "check.txt": _run(["check", name]),
        "costs.txt": _run(["check", "--costs", name]),
        "json.txt": _run(["check", "--json", name]),
    }
    with tempfile.TemporaryDirectory() as tmp:
        built = os.path.join(tmp, "out.py")
        log = _run(["build", name, "-o", built])
        got["build.txt"] = log + (Path(built).read_text() if os.path.exists(built) else "")
        dot = os.path.join(tmp, "out.dot")
        log = _run(["diagram", name, "-o", dot])
        got["diagram.txt"] = log + (Path(dot).read_text() if os.path.exists(dot) else "")
    return {k: v.replace(tmp, "<tmp>") for k, v in got.items()}


@contextlib.contextmanager
def _cwd(path: Path):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def spec_cases() -> list[tuple[str, Path]]:
    """(snapshot folder, spec file) for every spec kept in full."""
    out = []
    for group, folder in SPEC_DIRS.items():
        for p in sorted(folder.glob("*.net")):
            out.append((f"{group}/{p.stem}", p))
    return out


def spec_outputs(spec: Path) -> dict[str, str]:
    with _cwd(spec.parent):
        return outputs(spec.name)


def corpus() -> list[dict]:
    return [json.loads(line) for line in CORPUS.read_text().splitlines() if line.strip()]


def corpus_hashes(data: bytes) -> dict[str, str]:
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "case.net").write_bytes(data)
        with _cwd(Path(tmp)):
            got = outputs("case.net")
    return {k: hashlib.sha256(v.encode()).hexdigest()[:16] for k, v in got.items()}


def make_corpus(n_fuzz: int = 160, n_valid: int = 40, seed: int = 20261129) -> list[bytes]:
    """The corpus, drawn once (kept in the file: later changes to the generators do not move it)."""
    import random

    sys.path.insert(0, str(ROOT / "tests"))
    import fuzzgen
    import netgen

    rng = random.Random(seed)
    d = fuzzgen.RandomDraw(rng)
    cases = [fuzzgen.any_case(d)[1] for _ in range(n_fuzz)]
    cases += [netgen.sample(seed + i).text.encode() for i in range(n_valid)]
    return cases


def regenerate() -> None:
    for key, spec in spec_cases():
        folder = HERE / key
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.iterdir():
            old.unlink()
        for fname, text in spec_outputs(spec).items():
            (folder / fname).write_text(text)
    cases = [base64.b64decode(c["data"]) for c in corpus()] if CORPUS.exists() else make_corpus()
    with CORPUS.open("w") as f:
        for data in cases:
            row = {"data": base64.b64encode(data).decode(), "hashes": corpus_hashes(data)}
            f.write(json.dumps(row, sort_keys=True) + "\n")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    if sys.argv[1:] != ["--regen"]:
        sys.exit("usage: python tests/snapshots.py --regen")
    regenerate()
