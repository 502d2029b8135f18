"""Specs aimed at cost, not syntax: the constructions that once made a few hundred bytes
take minutes or gigabytes, composed at growing sizes.

- ``selfcat``: a block concatenating its input with itself, pooled, used ``* n`` (its
  size's terms double at each use);
- ``squares``: bindings that square a dim (its degree doubles at each);
- ``sums``: dims that are sums of many symbols, flattened (a product of sums);
- ``nested``: each network using the one below it two or three times, n levels deep;
- ``symbols``: an input of n distinct symbols, flattened;
- ``names``: n bindings reading misspelt names (n suggestions over n names);
- ``dense``: every binding reading every binding before it;
- ``literals``: sizes of int64's maximum and numbers of many digits, flattened, multiplied;
- ``mixed``: several of them in one file.

The property (:func:`cost_case`): run in a fresh process, `netspec check` exits 0 or 1
with no traceback, within a CPU time and a peak RSS that grow linearly with the file's
size. tests/test_fuzz.py runs a few cases; ``python scripts/cost_fuzz.py --cases N`` the
long profile (figures in docs/robustness.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from fuzzgen import Draw

ROOT = Path(__file__).resolve().parent.parent
INT64_MAX = 2**63 - 1

# The bound, for one `netspec check` in a fresh interpreter (about 0.3 s and 30 MiB of it):
# a constant, plus a cost a byte of the file (a plain 1 MB spec of 100,000 layers takes
# about 5 s and 1 GB, so these are far above what a file of real layers costs per byte).
CPU_BASE_S, CPU_PER_BYTE_S = 2.0, 2e-5
RSS_BASE_MIB, RSS_PER_BYTE_MIB = 150.0, 2e-3


def _net(name: str, body: list[str], shape: str = "float[batch, 4, seq]", output: str = "y") -> str:
    return "\n".join([f"network {name} {{", f"    input x: {shape}", *body, f"    output {output}", "}", ""])


def selfcat(d: Draw, n: int, tag: str = "") -> str:
    copies = ", ".join(["x"] * d.int(2, 6))
    block = _net(f"B{tag}", [f"    y = cat({copies}, dim=2) -> MaxPool1d({d.int(2, 3)})"])
    return block + _net(f"T{tag}", [f"    y = x -> B{tag} * {n}"])


def squares(d: Draw, n: int, tag: str = "") -> str:
    body = ["    y0 = x -> flatten(1)"]
    body += [f"    y{i + 1} = add(y{i} -> unsqueeze(2), y{i} -> unsqueeze(1)) -> flatten(1)" for i in range(n)]
    return _net(f"S{tag}", body + [f"    y = y{n}"], shape=d.choice(["float[batch, n]", "float[batch, 3]"]))


def sums(d: Draw, n: int, tag: str = "") -> str:
    m = d.int(2, max(2, n))
    dims = ", ".join(" + ".join(f"s{tag}{i}_{j}" for j in range(m)) for i in range(n))
    return _net(f"F{tag}", [f"    y = x -> flatten({d.int(0, 1) if n > 1 else 0})"], shape=f"float[{dims}]")


def nested(d: Draw, n: int, tag: str = "") -> str:
    k = d.int(2, 3)
    parts = [_net(f"N{tag}0", ["    y = x -> Linear(4) -> ReLU"], "float[batch, 4]")]
    for i in range(1, n + 1):
        uses = " -> ".join([f"N{tag}{i - 1}"] * k)
        parts.append(_net(f"N{tag}{i}", [f"    y = x -> {uses}"], "float[batch, 4]"))
    return "".join(parts)


def symbols(d: Draw, n: int, tag: str = "") -> str:
    dims = ", ".join(f"s{tag}{i}" for i in range(n * d.int(1, 50)))
    return _net(f"Y{tag}", [f"    y = x -> {d.choice(['flatten(0)', 'ReLU', 'reshape(-1)'])}"], shape=f"float[{dims}]")


def names(d: Draw, n: int, tag: str = "") -> str:
    body = [f"    value_{tag}{i} = x -> ReLU" for i in range(n)]
    body += [f"    wrong_{tag}{i} = valeu_{tag}{i} -> ReLU" for i in range(n)]
    return _net(f"M{tag}", body + ["    y = x"], "float[batch, 4]")


def dense(d: Draw, n: int, tag: str = "") -> str:
    body = ["    b0 = x -> ReLU"]
    body += [f"    b{i} = cat(" + ", ".join(f"b{j}" for j in range(i)) + ", dim=1) -> ReLU" for i in range(1, n)]
    return _net(f"D{tag}", body + [f"    y = b{n - 1}"], "float[batch, 4]")


def literals(d: Draw, n: int, tag: str = "") -> str:
    big = d.choice([str(INT64_MAX), str(2**62), "9" * d.int(1, 120), str(10**18)])
    dims = ", ".join([big] * n)
    stage = d.choice(["ReLU", "flatten(0)", f"Linear({big})", f"reshape(-1) -> Linear({big} * {big})"])
    return _net(f"L{tag}", [f"    y = x -> {stage}"], shape=f"float[{dims}]")


CONSTRUCTIONS = {"selfcat": selfcat, "squares": squares, "sums": sums, "nested": nested, "symbols": symbols,
                 "names": names, "dense": dense, "literals": literals}
# a size for each construction at which it passes every bound, and then some
GROWTH = {"selfcat": 40, "squares": 40, "sums": 40, "nested": 30, "symbols": 400, "names": 5000, "dense": 120,
          "literals": 800}


def costly(d: Draw, kind: str | None = None) -> tuple[str, bytes]:
    """A spec of one construction (or ``mixed``: several in one file) at a random size,
    up to past every bound."""
    kind = kind or d.choice([*CONSTRUCTIONS, "mixed"])
    if kind == "mixed":
        parts = [CONSTRUCTIONS[k](d, d.int(1, GROWTH[k]), str(i)) for i, k in
                 enumerate(d.choice(list(CONSTRUCTIONS)) for _ in range(d.int(2, 4)))]
        return kind, "".join(parts).encode()
    n = d.int(1, GROWTH[kind])
    return kind, CONSTRUCTIONS[kind](d, n).encode()


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


@dataclass
class CostOutcome:
    size: int  # bytes
    cpu: float  # seconds
    rss_mib: float
    exit: int | None
    problem: str | None  # None when the property holds


def bounds(size: int) -> tuple[float, float]:
    """The CPU seconds and MiB a file of ``size`` bytes may take."""
    return CPU_BASE_S + CPU_PER_BYTE_S * size, RSS_BASE_MIB + RSS_PER_BYTE_MIB * size


def cost_case(data: bytes, workdir: Path, argv: tuple[str, ...] = ("check", "--json")) -> CostOutcome:
    """`netspec ARGV FILE` on ``data`` in a fresh process, under a hard CPU limit of ten
    times the bound: the property, measured."""
    path = workdir / "costly.net"
    path.write_bytes(data)
    cpu_bound, rss_bound = bounds(len(data))
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    try:
        proc = subprocess.run([sys.executable, "-c", MEASURED, argv[0], str(path), *argv[1:]], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=10 * cpu_bound + 30)
    except subprocess.TimeoutExpired:
        return CostOutcome(len(data), float("inf"), 0.0, None, "did not finish")
    lines = proc.stderr.strip().splitlines()
    if "Traceback" in proc.stderr or not lines or not lines[-1].startswith("{"):
        return CostOutcome(len(data), 0.0, 0.0, None, f"no measure; stderr: {proc.stderr[-1500:]}")
    m = json.loads(lines[-1])
    out = CostOutcome(len(data), m["cpu"], m["rss_mib"], m["code"], None)
    if m["code"] not in (0, 1):
        out.problem = f"exit status {m['code']}: {proc.stderr[-500:]}"
    elif "--json" in argv and json.loads(proc.stdout).get("ok") is not (m["code"] == 0):
        out.problem = "the JSON report disagrees with the exit status"
    elif m["cpu"] > cpu_bound:
        out.problem = f"{m['cpu']:.2f} s of CPU time for {len(data):,} bytes, past {cpu_bound:.2f} s"
    elif m["rss_mib"] > rss_bound:
        out.problem = f"{m['rss_mib']:.0f} MiB for {len(data):,} bytes, past {rss_bound:.0f} MiB"
    return out
