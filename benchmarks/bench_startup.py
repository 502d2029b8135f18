"""Start-up: `netspec check` of a small spec, whole process.

Target (issue #6, item 3): 0.3 s or less, with no torch imported. The bare interpreter
(`python -c pass`) runs interleaved with it as the floor no command can go under, and
`python -c "import torch"` as what any tool that builds the model pays before it starts.

Run: python benchmarks/bench_startup.py [--runs N] [--spec specs/charrnn.net]
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys

from _harness import ROOT, compile_netspec, interleaved, load, machine, netspec_argv, table, versions

PROBE = """
import sys
from netspec.cli import main
code = main(["check", sys.argv[1]])
heavy = sorted(m for m in ("torch", "numpy", "torchvision") if m in sys.modules)
print(",".join(heavy) or "-")
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=21, help="measured runs of each command (default 21)")
    ap.add_argument("--spec", default="specs/charrnn.net")
    args = ap.parse_args()
    print(machine())
    print(versions("netspec", "lark", "pydantic"))
    compile_netspec()
    print(f"{args.runs} runs each, interleaved, medians of whole processes; {load()}\n")
    probe = subprocess.run([sys.executable, "-c", PROBE, args.spec], cwd=ROOT, capture_output=True, text=True)
    heavy = probe.stdout.strip().splitlines()[-1] if probe.stdout.strip() else "?"
    commands = {
        f"netspec check {args.spec}": netspec_argv("check", args.spec),
        "python -c pass": [sys.executable, "-c", "pass"],
    }
    if importlib.util.find_spec("torch") is not None:
        commands['python -c "import torch"'] = [sys.executable, "-c", "import torch"]
    res = interleaved(commands, runs=args.runs)
    print(table(list(res.values())))
    ours = res[f"netspec check {args.spec}"]
    bare = res["python -c pass"]
    print(f"\nnetspec check: {ours.seconds:.3f} s, of which {ours.seconds - bare.seconds:.3f} s above the bare "
          f"interpreter (target <= 0.3 s: {'met' if ours.seconds <= 0.3 else 'NOT met'})")
    torch = res.get('python -c "import torch"')
    if torch is not None:
        print(f"import torch alone takes {torch.seconds / ours.seconds:.1f}x as long")
    print(f"heavy modules imported by check: {heavy}")
    print(f"after: {load()}")
    return 0 if heavy == "-" else 1


if __name__ == "__main__":
    sys.exit(main())
