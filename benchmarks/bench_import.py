"""Import speed: `netspec import torchvision.models:resnet50 ...`, whole process.

What a user waits for: the interpreter, torch's and torchvision's import, building the
model, tracing it and writing the spec (and checking it, which the command does before
it prints). `python -c "import torch, torchvision"` runs interleaved with it: the part of
the time that is torch's own import and that no importer can avoid.

Run: python benchmarks/bench_import.py [--runs N] [--model resnet50]
"""

from __future__ import annotations

import argparse
import sys

from _harness import compile_netspec, interleaved, load, machine, netspec_argv, table, versions


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5, help="measured runs of each command (default 5)")
    ap.add_argument("--model", default="resnet50", help="a torchvision.models factory (default resnet50)")
    args = ap.parse_args()
    print(machine())
    print(versions("netspec", "torch", "torchvision"))
    compile_netspec()
    print(f"{args.runs} runs each, interleaved, medians of whole processes; {load()}\n")
    ours = f"netspec import torchvision.models:{args.model}"
    commands = {
        ours: netspec_argv("import", f"torchvision.models:{args.model}", "-i", "x: float[batch, 3, 224, 224]"),
        'python -c "import torch, torchvision"': [sys.executable, "-c", "import torch, torchvision"],
    }
    res = interleaved(commands, runs=args.runs)
    print(table(list(res.values())))
    whole, base = res[ours], res['python -c "import torch, torchvision"']
    print(f"\n{ours}: {whole.seconds:.2f} s wall ({whole.cpu:.2f} s cpu), of which importing torch and "
          f"torchvision is {base.seconds:.2f} s ({base.cpu:.2f} s cpu): the import itself takes "
          f"{whole.seconds - base.seconds:.2f} s ({whole.cpu - base.cpu:.2f} s cpu)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
