"""Whole-process timing and peak memory, shared by the benchmark scripts.

Every sample is one fresh process. A small wrapper process starts the command, times it
from spawn to exit, and reads the child's peak resident set size with
``getrusage(RUSAGE_CHILDREN)``, so each figure covers exactly one run of the command
(interpreter start-up, imports, work and exit included). Commands being compared run
interleaved (A, B, A, B, ...) so that drift in the machine's load hits both alike, and
the figures reported are medians.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_WRAPPER = r"""
import resource, subprocess, sys, time
t = time.perf_counter()
r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
dt = time.perf_counter() - t
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
sys.stderr.buffer.write(r.stderr[-4000:])
print(dt, ru.ru_utime + ru.ru_stime, ru.ru_maxrss, r.returncode)
"""


@dataclass
class Sample:
    seconds: float  # wall clock, spawn to exit
    cpu: float  # user + system time of the process
    peak_mib: float


@dataclass
class Series:
    name: str
    samples: list[Sample]

    @property
    def seconds(self) -> float:
        return statistics.median(s.seconds for s in self.samples)

    @property
    def cpu(self) -> float:
        return statistics.median(s.cpu for s in self.samples)

    @property
    def peak_mib(self) -> float:
        return statistics.median(s.peak_mib for s in self.samples)

    @property
    def spread(self) -> str:
        times = sorted(s.seconds for s in self.samples)
        return f"{times[0]:.3f}-{times[-1]:.3f} s"


class CommandFailed(RuntimeError):
    pass


def measure(argv: list[str], ok_codes=(0,)) -> Sample:
    """Run ``argv`` once in a fresh process; its wall time and peak RSS."""
    r = subprocess.run([sys.executable, "-c", _WRAPPER, *argv], cwd=ROOT,
                       capture_output=True, text=True)
    if r.returncode != 0 or not r.stdout.strip():
        raise CommandFailed(f"the timing wrapper failed for {argv}:\n{r.stderr}")
    seconds, cpu, peak_kib, code = r.stdout.split()
    if int(code) not in ok_codes:
        raise CommandFailed(f"{' '.join(argv)} exited with {code}:\n{r.stderr}")
    return Sample(float(seconds), float(cpu), int(peak_kib) / 1024)


def interleaved(commands: dict[str, list[str]], runs: int, warmup: int = 1,
                ok_codes=(0,)) -> dict[str, Series]:
    """Run every command ``runs`` times, interleaved, after ``warmup`` unrecorded rounds."""
    out = {name: Series(name, []) for name in commands}
    names = list(commands)
    for i in range(warmup + runs):
        order = names if i % 2 == 0 else names[::-1]
        for name in order:
            sample = measure(commands[name], ok_codes)
            if i >= warmup:
                out[name].samples.append(sample)
    return out


def netspec_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "netspec", *args]


def compile_netspec() -> None:
    """Write netspec's bytecode, as installing the package does, so that no run compiles it
    (the interpreter may be told not to write bytecode, and the source tree is not installed)."""
    import compileall
    compileall.compile_dir(os.path.join(ROOT, "netspec"), quiet=1)


def load() -> str:
    """The machine's load averages, which say whether other work shared the cores."""
    try:
        return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "load average unknown"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kib = int(f.readline().split()[1])
            mem = f", {kib / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return (f"{cpu}, {cores} cores{mem}; {platform.system()} {platform.release()}; "
            f"Python {platform.python_version()}")


def versions(*modules: str) -> str:
    from importlib.metadata import PackageNotFoundError, version
    parts = []
    for m in modules:
        if m == "netspec":
            sys.path.insert(0, ROOT)
            import netspec
            parts.append(f"netspec {netspec.__version__}")
            continue
        try:
            parts.append(f"{m} {version(m)}")
        except PackageNotFoundError:
            parts.append(f"{m} (not installed)")
    return ", ".join(parts)


def table(series: list[Series]) -> str:
    width = max(len(s.name) for s in series) + 2
    rows = [f"{'':<{width}}{'wall':>9}{'wall range':>18}{'cpu':>9}{'peak RSS':>12}"]
    for s in series:
        rows.append(f"{s.name:<{width}}{s.seconds:>8.3f}s{s.spread:>18}{s.cpu:>8.3f}s{s.peak_mib:>8.1f} MiB")
    return "\n".join(rows)
