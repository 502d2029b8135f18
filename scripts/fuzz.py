"""The long fuzz profile: many hostile spec files through `netspec check`, in process.

    python scripts/fuzz.py --cases 100000 [--jobs 2] [--seed 1] [--kind mutant]
    python scripts/fuzz.py --oracle --cases 20000 [--jobs 2] [--seed 1] [--kind netgen]
    python scripts/fuzz.py --oracle --seed 1 --case 661      # one case again, in full

With ``--oracle`` the cases (tests/oracle.py: mutants, generated and valid specs, random
networks of tests/netgen.py with view, `as`, assertions and parameters, and the directed
traps) go through the oracle: every spec that checks is built and run by torch and
compared with what check stated. The run prints how many checked and ran, the findings
by the trap they are an instance of, and every finding no known trap explains (written
to --failures); exit status 1 when there is one.

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
import pickle
import random
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import fuzzgen  # noqa: E402

OPEN = "open"  # a finding no known trap explains


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


def isolated(oracle, case, limit: float):
    """``oracle.run(case)`` in a forked child, so that a case on which torch dies (a
    segfault inside a kernel) is a ``crash`` finding of that case, not a lost work unit
    that leaves the pool waiting forever. The worker itself never runs torch, so the
    fork copies no thread pool in use."""
    if not hasattr(os, "fork"):
        return oracle.run(case, time_limit=limit)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: run the case, send the outcome back, never return into the pool
        status = 1
        try:
            os.close(read)
            with os.fdopen(write, "wb") as pipe:
                out = oracle.run(case, time_limit=limit)
                out.warnings = tuple(str(code) for code in out.warnings)  # plain text crosses the pipe
                pickle.dump(out, pipe)
            status = 0
        except BaseException:  # noqa: BLE001 - said on stderr; the parent reports the case
            traceback.print_exc()
        finally:
            os._exit(status)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    if data and not os.WIFSIGNALED(status):
        return pickle.loads(data)
    died = signal.Signals(os.WTERMSIG(status)).name if os.WIFSIGNALED(status) else f"exit {os.WEXITSTATUS(status)}"
    crash = oracle.Finding("crash", "?", f"the process running the case died ({died}) inside check, build or torch")
    return oracle.Outcome(checked=True, findings=[crash])


def oracle_work(job: tuple[int, int, int, str | None, float]) -> dict:
    """Oracle cases ``first`` to ``first + count`` of the run seeded ``seed``."""
    import oracle

    seed, first, count, only, limit = job
    kinds: Counter = Counter()
    findings: Counter = Counter()
    failures, examples = [], {}
    checked = ran = skipped = 0
    slowest = (0.0, "", b"")
    total = 0.0
    for index in range(first, first + count):
        case = oracle.make_case(seed, index, only)
        out = isolated(oracle, case, limit)
        kinds[case.kind.split()[0]] += 1
        checked += out.checked
        ran += out.ran
        skipped += len(out.skipped)
        total += out.seconds
        if out.seconds > slowest[0]:
            slowest = (out.seconds, str(case), case.data)
        for f in out.findings:
            findings[(f.trap or OPEN, f.what)] += 1
            entry = {"case": index, "kind": case.kind, "problem": oracle.report(case, f), "data": case.data}
            if f.trap is None:
                failures.append(entry)
            else:
                examples.setdefault(f.trap, entry)
    return {"kinds": kinds, "findings": findings, "failures": failures, "examples": examples, "checked": checked,
            "ran": ran, "skipped": skipped, "slowest": slowest, "seconds": total}


def oracle_main(a) -> int:
    import oracle
    import torch  # noqa: F401 - imported once here, not in every worker after the fork

    if a.case is not None:  # one case again, in full
        case = oracle.make_case(a.seed, a.case, a.kind)
        out = oracle.run(case, time_limit=a.time_limit)
        print(f"{case}: {'checked' if out.checked else 'refused by check'}; {out.ran} run(s); "
              f"warnings: {', '.join(out.warnings) or 'none'}")
        for why in out.skipped:
            print(f"  skipped: {why}")
        for f in out.findings:
            print(f"  [{f.trap or OPEN}] {f}")
        print("--- spec ---\n" + case.data.decode("utf-8", "replace"))
        return 1 if any(f.trap is None for f in out.findings) else 0
    jobs = [(a.seed, first, min(a.chunk, a.cases - first), a.kind, a.time_limit) for first in range(0, a.cases, a.chunk)]
    start = time.perf_counter()
    sums: dict = {"kinds": Counter(), "findings": Counter(), "failures": [], "examples": {}, "checked": 0, "ran": 0,
                  "skipped": 0, "slowest": (0.0, "", b"")}
    ctx = mp.get_context("fork") if hasattr(os, "fork") else mp.get_context()
    with ctx.Pool(a.jobs) as pool:
        for r in pool.imap_unordered(oracle_work, jobs):
            for k in ("kinds", "findings"):
                sums[k].update(r[k])
            for k in ("checked", "ran", "skipped"):
                sums[k] += r[k]
            sums["failures"] += r["failures"]
            for trap, entry in r["examples"].items():
                sums["examples"].setdefault(trap, entry)
            sums["slowest"] = max(sums["slowest"], r["slowest"], key=lambda x: x[0])
            done = sum(sums["kinds"].values())
            el = time.perf_counter() - start
            print(f"  {done:>7} cases  {el:7.1f} s  {done / el:7.1f} cases/s  {len(sums['failures'])} open",
                  file=sys.stderr, flush=True)
    return oracle_summary(a, sums, time.perf_counter() - start)


def oracle_summary(a, sums: dict, elapsed: float) -> int:
    done = sum(sums["kinds"].values())
    print(f"cases:        {done} ({', '.join(f'{k} {v}' for k, v in sorted(sums['kinds'].items()))})")
    print(f"checked:      {sums['checked']}; assignments run through torch: {sums['ran']}; "
          f"skipped: {sums['skipped']}")
    print(f"wall time:    {elapsed:.1f} s with {a.jobs} processes ({done / elapsed:.1f} cases/s)")
    print(f"slowest case: {sums['slowest'][0]:.3f} s ({sums['slowest'][1]})")
    print(f"findings:     {sum(sums['findings'].values())}")
    for (trap, what), n in sorted(sums["findings"].items(), key=lambda kv: (kv[0][0] == OPEN, -kv[1])):
        print(f"  {n:>6}  {trap:<22} {what}")
    out = Path(a.failures)
    entries = sums["failures"] + [dict(e, kind=f"{e['kind']} (first {t})") for t, e in sums["examples"].items()]
    for e in entries:
        out.mkdir(parents=True, exist_ok=True)
        stem = f"oracle-{e['case']:07d}"
        (out / f"{stem}.net").write_bytes(e["data"])
        (out / f"{stem}.txt").write_text(f"{e['kind']}\n{e['problem']}\n")
    if entries:
        print(f"open findings, and the first case of each trap, written to {out}/")
    return 1 if sums["failures"] else 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", type=int, default=100_000)
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--oracle", action="store_true", help="build and run every case that checks (tests/oracle.py)")
    p.add_argument("--case", type=int, help="with --oracle: run this one case and show it in full")
    p.add_argument("--kind", help=f"only this kind of case: {', '.join(fuzzgen.KINDS_OF_CASE)}; "
                   "with --oracle: mutant, generated, valid, netgen, trap")
    p.add_argument("--time-limit", type=float, default=fuzzgen.TIME_LIMIT,
                   help="CPU seconds one check may take, plus %s ms a layer it checks (default %%(default)s)"
                   % (fuzzgen.LAYER_SECONDS * 1000))
    p.add_argument("--chunk", type=int, default=500, help="cases per work unit")
    p.add_argument("--failures", default="fuzz-failures", help="folder for failing cases")
    a = p.parse_args(argv)
    if a.oracle:
        if a.time_limit == fuzzgen.TIME_LIMIT:
            import oracle
            a.time_limit = oracle.TIME_LIMIT
        return oracle_main(a)
    if a.kind is not None and a.kind not in fuzzgen.KINDS_OF_CASE:
        p.error(f"--kind: choose from {', '.join(fuzzgen.KINDS_OF_CASE)}")

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
