"""Linear growth: whole-process `netspec check` of generated specs of 1k, 10k and 100k layers.

Three shapes of spec, each with the given number of layers:
  chain     one binding whose chain has N stages (Conv2d, BatchNorm2d, ReLU, ...)
  bindings  N bindings of one stage each, every fourth a residual `add` of two earlier values
  blocks    N/11 bindings, each a use of a 10-layer network (instantiated at every use)
For each it prints the median wall time, the time per layer (total / N) and the marginal
time per layer (above the start-up of a near-empty spec). Target (issue #6, item 2): 10k
layers check in 1 s or less on a 2-core machine, and time per layer that does not grow.

netspec refuses a spec of more than netspec.limits.MAX_LAYERS layers. A size past that limit
is checked by the same code with the limit raised for that process (marked `*`), so that
the growth of the checker itself can be seen; without the mark, it is the plain command.

Run: python benchmarks/bench_scale.py [--runs N] [--sizes 1000,10000,100000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

from _harness import ROOT, CommandFailed, compile_netspec, interleaved, load, machine, netspec_argv, versions

# `netspec check PATH` with the layer limit raised (for sizes past it), else the same code path
LIFTED = ("import sys; import netspec.limits as limits; limits.MAX_LAYERS = 10**7; "
          "from netspec.cli import main; sys.argv[0] = 'netspec'; sys.exit(main())")


def layer_limit() -> int:
    sys.path.insert(0, ROOT)
    from netspec.limits import MAX_LAYERS

    return MAX_LAYERS


def chain_spec(n: int) -> str:
    stages = []
    cycle = ["Conv2d(channels, 3, padding=1)", "BatchNorm2d(channels)", "ReLU"]
    for i in range(n):
        stages.append(f"        -> {cycle[i % 3]}")
    return ("network Chain(channels=8) {\n"
            "    input x: float[batch, channels, 32, 32]\n"
            "    y = x\n" + "\n".join(stages) + "\n"
            "    output y\n}\n")


def bindings_spec(n: int) -> str:
    lines = ["network Bindings(width=16) {", "    input x: float[batch, seq, width]", "    h0 = x"]
    for i in range(1, n + 1):
        if i % 4 == 0:
            lines.append(f"    h{i} = add(h{i - 1}, h{i - 3})")
        elif i % 4 == 1:
            lines.append(f"    h{i} = h{i - 1} -> Linear(width)")
        elif i % 4 == 2:
            lines.append(f"    h{i} = h{i - 1} -> LayerNorm(width)")
        else:
            lines.append(f"    h{i} = h{i - 1} -> ReLU")
    lines += [f"    output h{n}", "}"]
    return "\n".join(lines) + "\n"


BLOCK = """network Block(planes) {
    input x: float[batch, planes, h, w]
    out = x
        -> Conv2d(planes, 3, padding=1, bias=false)
        -> BatchNorm2d(planes)
        -> ReLU
        -> Conv2d(planes, 3, padding=1, bias=false)
        -> BatchNorm2d(planes)
        -> ReLU
        -> Conv2d(planes, 1, bias=false)
        -> BatchNorm2d(planes)
    y = add(out, x) -> ReLU
    output y
}
"""  # 10 layers: 9 stages and the add


def blocks_spec(n: int) -> str:
    # netspec counts a use as one layer and instantiates Block's 10 in it; Block is also
    # checked once on its own: n layers in all, as netspec counts them
    uses = max(1, (n - 10) // 11)
    lines = ["network Blocks(planes=8) {", "    input image: float[batch, planes, 16, 16]", "    b0 = image"]
    for i in range(1, uses + 1):
        lines.append(f"    b{i} = b{i - 1} -> Block(planes)")
    lines += [f"    output b{uses}", "}"]
    return BLOCK + "\n" + "\n".join(lines) + "\n"


SHAPES = {"chain": chain_spec, "bindings": bindings_spec, "blocks": blocks_spec}
EMPTY = "network Empty {\n    input x: float[batch, 4]\n    y = x -> ReLU\n    output y\n}\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5, help="measured runs of each spec (default 5)")
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--shapes", default=",".join(SHAPES))
    ap.add_argument("--keep", metavar="DIR", help="write the generated specs here and keep them")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    shapes = args.shapes.split(",")
    print(machine())
    print(versions("netspec", "lark", "pydantic"))
    compile_netspec()
    print(f"{args.runs} runs each, medians of whole processes (table output to /dev/null); {load()}\n")
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = args.keep or tmp
        os.makedirs(out_dir, exist_ok=True)
        empty = os.path.join(out_dir, "empty.net")
        with open(empty, "w") as f:
            f.write(EMPTY)
        commands = {"empty": netspec_argv("check", empty)}
        for shape in shapes:
            for n in sizes:
                path = os.path.join(out_dir, f"{shape}_{n}.net")
                with open(path, "w") as f:
                    f.write(SHAPES[shape](n))
                if n <= layer_limit():
                    commands[f"{shape} {n}"] = netspec_argv("check", path)
                else:
                    commands[f"{shape} {n}"] = [sys.executable, "-c", LIFTED, "check", path]
        base = interleaved({"empty": commands.pop("empty")}, runs=args.runs)["empty"].seconds
        print(f"near-empty spec: {base:.3f} s\n")
        print(f"{'spec':<10}{'layers':>9}{'wall':>9}{'wall range':>18}{'cpu':>9}{'peak RSS':>12}"
              f"{'per layer':>12}{'marginal':>12}")
        worst_10k = 0.0
        for shape in shapes:
            for n in sizes:
                argv = commands[f"{shape} {n}"]
                try:
                    s = interleaved({"run": argv}, runs=args.runs)["run"]
                except CommandFailed:
                    out = subprocess.run(argv, capture_output=True, text=True).stdout.strip().splitlines()
                    print(f"{shape:<10}{n:>9,}  the check failed: {out[-1] if out else '?'}", flush=True)
                    worst_10k = max(worst_10k, float("inf")) if n == 10_000 else worst_10k
                    continue
                per = s.seconds / n * 1e6
                marginal = (s.seconds - base) / n * 1e6
                if n == 10_000:
                    worst_10k = max(worst_10k, s.seconds)
                mark = "*" if argv[1] == "-c" else " "
                print(f"{shape:<10}{n:>8,}{mark}{s.seconds:>8.3f}s{s.spread:>18}{s.cpu:>8.3f}s"
                      f"{s.peak_mib:>8.1f} MiB{per:>9.1f} us{marginal:>9.1f} us", flush=True)
        if any(n > layer_limit() for n in sizes):
            print(f"\n* netspec refuses more than {layer_limit():,} layers; these ran with the limit raised")
        if 10_000 in sizes:
            print(f"\n10k layers: slowest shape {worst_10k:.3f} s "
                  f"(target <= 1 s: {'met' if worst_10k <= 1.0 else 'NOT met'})")
    print(f"after: {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
