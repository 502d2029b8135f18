"""The long fuzz profile: many hostile spec files through `netspec check`, in process.

    python scripts/fuzz.py --cases 100000 [--jobs 2] [--seed 1] [--kind mutant]

Runs the same generators and the same properties as tests/test_fuzz.py (see
tests/fuzzgen.py), driven by seeded ``random.Random`` instead of hypothesis so a case costs
only the check itself. Every failing case is written to --failures (default
fuzz-failures/) with what broke; the run prints cases per second, the failures, and the
slowest case. Exit status 1 when any case failed.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import fuzzgen  # noqa: E402


def work(job: tuple[int, int, int, str | None, float]) -> dict:
    """Run ``count`` cases from ``seed``; return the figures and the failing cases."""
    seed, first, count, only, limit = job
    rng = random.Random(seed)
    d = fuzzgen.RandomDraw(rng)
    failures = []
    kinds: Counter = Counter()
    exits: Counter = Counter()
    slowest = (0.0, "", b"")
    total = 0.0
    with tempfile.TemporaryDirectory(prefix="netspec-fuzz-") as tmp:
        wd = Path(tmp)
        fuzzgen.warm_up(wd)
        for k in range(count):
            kind, data = fuzzgen.any_case(d, only)
            out = fuzzgen.check_case(data, wd, time_limit=limit)
            kinds[kind] += 1
            exits[out.exit] += 1
            total += out.seconds
            if out.seconds > slowest[0]:
                slowest = (out.seconds, kind, data)
            if out.problem:
                failures.append({"case": first + k, "kind": kind, "problem": out.problem, "data": data})
    return {"kinds": kinds, "exits": exits, "failures": failures, "slowest": slowest, "seconds": total}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", type=int, default=100_000)
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--kind", choices=fuzzgen.KINDS_OF_CASE, help="only this kind of case")
    p.add_argument("--time-limit", type=float, default=fuzzgen.TIME_LIMIT,
                   help="CPU seconds one check may take, plus %s ms a layer it checks (default %%(default)s)"
                   % (fuzzgen.LAYER_SECONDS * 1000))
    p.add_argument("--chunk", type=int, default=500, help="cases per work unit")
    p.add_argument("--failures", default="fuzz-failures", help="folder for failing cases")
    a = p.parse_args(argv)

    jobs = []
    first = 0
    while first < a.cases:
        n = min(a.chunk, a.cases - first)
        jobs.append((a.seed * 1_000_003 + first, first, n, a.kind, a.time_limit))
        first += n

    start = time.perf_counter()
    kinds: Counter = Counter()
    exits: Counter = Counter()
    failures: list[dict] = []
    slowest = (0.0, "", b"")
    done = 0
    out = Path(a.failures)
    ctx = mp.get_context("fork") if hasattr(os, "fork") else mp.get_context()
    with ctx.Pool(a.jobs) as pool:
        for r in pool.imap_unordered(work, jobs):
            kinds.update(r["kinds"])
            exits.update(r["exits"])
            failures.extend(r["failures"])
            for f in r["failures"]:  # on disk at once: a long run can be looked into while it runs
                out.mkdir(parents=True, exist_ok=True)
                stem = f"case-{f['case']:07d}"
                (out / f"{stem}.net").write_bytes(f["data"])
                (out / f"{stem}.txt").write_text(f"{f['kind']}\n{f['problem']}\n")
            if r["slowest"][0] > slowest[0]:
                slowest = r["slowest"]
            done += sum(r["kinds"].values())
            el = time.perf_counter() - start
            print(f"  {done:>7} cases  {el:7.1f} s  {done / el:7.1f} cases/s  {len(failures)} failing",
                  file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - start

    print(f"cases:        {done} ({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))})")
    print(f"exit status:  {', '.join(f'{k}: {v}' for k, v in sorted(exits.items(), key=str))}")
    print(f"wall time:    {elapsed:.1f} s with {a.jobs} processes ({done / elapsed:.1f} cases/s)")
    print(f"slowest case: {slowest[0]:.3f} s ({slowest[1]}; time limit {a.time_limit} s "
          f"+ {fuzzgen.LAYER_SECONDS * 1000} ms a layer)")
    print(f"failing:      {len(failures)}")
    if failures:
        problems: Counter = Counter()
        for f in failures:
            problems[f["problem"].splitlines()[-1][:160]] += 1
        for msg, n in problems.most_common(20):
            print(f"  {n:>6}  {msg}")
        print(f"failing cases written to {out}/")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
