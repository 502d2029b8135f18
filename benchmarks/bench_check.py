"""`netspec check` on ResNet-18 against torchinfo's summary of torchvision's ResNet-18.

Both sides are whole processes, timed from spawn to exit and run interleaved; the figures
are medians. Target (issue #6, item 1): at least 20x faster and at least 10x less peak
memory than

    torchinfo.summary(torchvision.models.resnet18(), (1, 3, 224, 224))

Run: python benchmarks/bench_check.py [--runs N]   (needs the `bench` extra: torchinfo)
"""

from __future__ import annotations

import argparse
import importlib.util
import sys

from _harness import compile_netspec, interleaved, load, machine, netspec_argv, table, versions

TORCHINFO = ("import torch, torchvision, torchinfo\n"
             "torchinfo.summary(torchvision.models.resnet18(), (1, 3, 224, 224))\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7, help="measured runs of each command (default 7)")
    ap.add_argument("--spec", default="specs/resnet18.net")
    args = ap.parse_args()
    missing = [m for m in ("torch", "torchvision", "torchinfo") if importlib.util.find_spec(m) is None]
    if missing:
        print(f"needs {', '.join(missing)}: pip install -e '.[bench]'", file=sys.stderr)
        return 2
    print(machine())
    print(versions("netspec", "torch", "torchvision", "torchinfo", "lark", "pydantic"))
    compile_netspec()
    print(f"{args.runs} runs each, interleaved, medians of whole processes; {load()}\n")
    res = interleaved({
        "netspec check": netspec_argv("check", args.spec),
        "torchinfo.summary": [sys.executable, "-c", TORCHINFO],
    }, runs=args.runs)
    ours, theirs = res["netspec check"], res["torchinfo.summary"]
    print(table([ours, theirs]))
    speed = theirs.seconds / ours.seconds
    memory = theirs.peak_mib / ours.peak_mib
    print(f"\nspeed-up  {speed:6.1f}x  (target >= 20x: {'met' if speed >= 20 else 'NOT met'}); "
          f"in CPU time {theirs.cpu / ours.cpu:.1f}x")
    print(f"memory    {memory:6.1f}x less  (target >= 10x: {'met' if memory >= 10 else 'NOT met'})")
    print(f"after: {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
