"""The long cost profile: specs aimed at cost (tests/costgen.py) through `netspec check`,
each in a fresh process, measured (CPU time, peak RSS) against a linear bound in the file's
size.

    python scripts/cost_fuzz.py --cases 300 [--seed 1] [--kind nested]

Prints the cases by construction, the slowest case, the largest memory and every case that
broke the property (written to --failures); exit status 1 when one did.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import costgen  # noqa: E402
from fuzzgen import RandomDraw  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", type=int, default=300)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--kind", choices=[*costgen.CONSTRUCTIONS, "mixed"])
    p.add_argument("--failures", default="cost-failures")
    args = p.parse_args()
    d = RandomDraw(random.Random(args.seed))
    kinds, exits = Counter(), Counter()
    slowest = largest = None
    failures = []
    start = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        for case in range(args.cases):
            kind, data = costgen.costly(d, args.kind)
            out = costgen.cost_case(data, Path(tmp))
            kinds[kind] += 1
            exits[out.exit] += 1
            if slowest is None or out.cpu > slowest[0].cpu:
                slowest = (out, kind, case)
            if largest is None or out.rss_mib > largest[0].rss_mib:
                largest = (out, kind, case)
            if out.problem:
                failures.append((case, kind, out.problem, data))
    print(f"{args.cases} cases in {time.time() - start:.0f} s (seed {args.seed}): "
          + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
    print("exit status: " + ", ".join(f"{k}: {n}" for k, n in sorted(exits.items(), key=str)))
    for label, (out, kind, case) in (("slowest", slowest), ("largest memory", largest)):
        print(f"{label}: case {case} ({kind}, {out.size:,} bytes): {out.cpu:.2f} s CPU, {out.rss_mib:.0f} MiB")
    if failures:
        folder = Path(args.failures)
        folder.mkdir(exist_ok=True)
        for case, kind, problem, data in failures:
            (folder / f"case{case}-{kind}.net").write_bytes(data)
            print(f"case {case} ({kind}): {problem}")
        return 1
    print("no case broke the property")
    return 0


if __name__ == "__main__":
    sys.exit(main())
