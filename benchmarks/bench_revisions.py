"""The cost of a change: `netspec check` at two git revisions of this repository, same specs.

Each revision is checked out into a temporary worktree (`git worktree add --detach`), its
bytecode written as an install writes it, and the two run interleaved (A, B, A, B, ...)
as whole processes; the figures are medians, and the ratio B/A is taken pair by pair (its
median is printed), so that drift in the machine's load cancels. A change that only moves
code (issue 13: the house a newcomer can read) should show a ratio of 1 within the spread.

The specs: specs/resnet18.net as it is in the older revision (start-up dominates), and a
chain of N layers (Conv2d, BatchNorm2d, ReLU; benchmarks/bench_scale.py), which every
revision of the language reads (the checker's work per layer dominates).

Run: python benchmarks/bench_revisions.py OLD NEW [--runs N] [--layers N]
     (e.g. `53afc0b HEAD`, or `C^ C` for one commit C)
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import subprocess
import sys
import tempfile

from _harness import ROOT, interleaved, load, machine
from bench_scale import chain_spec


def _worktree(rev: str, where: str) -> str:
    path = os.path.join(where, rev.replace("/", "_").replace("^", "_parent"))
    subprocess.run(["git", "-C", ROOT, "worktree", "add", "--detach", "-q", path, rev], check=True)
    compileall.compile_dir(os.path.join(path, "netspec"), quiet=1)
    return path


def _argv(tree: str, spec: str) -> list[str]:
    # the tree's own package first on the path, whatever is installed
    code = f"import sys; sys.path.insert(0, {tree!r}); from netspec.cli import main; sys.exit(main())"
    return [sys.executable, "-c", code, "check", spec]


def _ratio(a, b) -> str:
    pairs = sorted(y.cpu / x.cpu for x, y in zip(a.samples, b.samples))
    return f"{statistics.median(pairs):.3f} (pairs {pairs[0]:.3f}-{pairs[-1]:.3f})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--runs", type=int, default=15, help="measured runs of each command (default 15)")
    ap.add_argument("--layers", type=int, default=10_000, help="layers of the chain spec (default 10000)")
    args = ap.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        trees = {}
        try:
            for rev in (args.old, args.new):
                trees[rev] = _worktree(rev, tmp)
            chain = os.path.join(tmp, "chain.net")
            with open(chain, "w") as f:
                f.write(chain_spec(args.layers))
            resnet = os.path.join(trees[args.old], "specs", "resnet18.net")
            print(f"{args.runs} runs each, interleaved, medians of whole processes; {load()}\n")
            print(f"{'spec':<22}{'cpu ' + args.old:>18}{'cpu ' + args.new:>18}   cpu ratio new/old")
            for name, spec in (("specs/resnet18.net", resnet), (f"{args.layers:,}-layer chain", chain)):
                res = interleaved({rev: _argv(tree, spec) for rev, tree in trees.items()}, runs=args.runs)
                a, b = res[args.old], res[args.new]
                print(f"{name:<22}{a.cpu:>17.3f}s{b.cpu:>17.3f}s   {_ratio(a, b)}")
        finally:
            for tree in trees.values():
                subprocess.run(["git", "-C", ROOT, "worktree", "remove", "--force", tree], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
