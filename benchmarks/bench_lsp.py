"""Latency of a keystroke in the language server, in-process: the change applied to the
open document, the document checked again and its diagnostics made (what `netspec lsp` does
before it publishes them; the JSON-RPC around it is left out).

Specs: specs/resnet18.net, and the 1,000-layer specs of bench_scale.py (one chain of 1,000
stages; 1,000 one-stage bindings; 90 uses of a 10-layer network). Each edit is typed and
then undone (two changes), at a place in the last network: a digit of a size, a character
of a name (which breaks the spec, then mends it). The figures are medians over the runs,
after one warm-up, of the wall clock and of the process's CPU time (the one to read on a
shared machine); targets (issue 19): 10 ms for resnet18, 50 ms for 1,000 layers.

Run: python benchmarks/bench_lsp.py [--runs N]
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import statistics
import sys
import time

from _harness import ROOT, machine, versions
from bench_scale import bindings_spec, blocks_spec, chain_spec

sys.path.insert(0, ROOT)

from netspec.ide.analysis import Analyzer, diagnostics  # noqa: E402
from netspec.ide.text import Document  # noqa: E402


def _edits(text: str) -> list[tuple[str, int, int, str]]:
    """(what, start, end, new): the last digit written after `(`, `=` or `, ` (a size, in
    the last network) changed; the first letter of the last stage's kind changed."""
    digit = [m.start() for m in re.finditer(r"(?:(?<=[(=])|(?<=, ))[0-9]", text)][-1]
    name = text.rindex("-> ") + 3
    return [("a digit", digit, digit + 1, "7" if text[digit] != "7" else "5"), ("a name", name, name + 1, "Q")]


def measure(text: str, runs: int) -> dict[str, tuple[float, float]]:
    """Per edit: the median milliseconds of a change, wall clock and CPU time of this process
    (the CPU figure is the one to read on a machine that others share)."""
    doc = Document("file:///bench.net", text)
    an = Analyzer("/bench.net")
    diagnostics(an.analyze(doc.source))
    got = {}
    for what, start, end, new in _edits(text):
        wall, cpu = [], []
        for i in range(runs + 1):
            for a, b, s in ((start, end, new), (start, start + len(new), text[start:end])):
                t, c = time.perf_counter(), time.process_time()
                doc.change(doc.text.position(a), doc.text.position(b), s)
                diagnostics(an.analyze(doc.source))
                if i:
                    wall.append(time.perf_counter() - t)
                    cpu.append(time.process_time() - c)
        got[what] = (statistics.median(wall) * 1000, statistics.median(cpu) * 1000)
    t, c = time.perf_counter(), time.process_time()
    Analyzer("/bench.net").analyze(text)
    got["whole check"] = ((time.perf_counter() - t) * 1000, (time.process_time() - c) * 1000)
    return got


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    print(machine())
    print(versions("netspec", "lark", "pydantic"))
    gc.disable()  # as `netspec check` runs; the server checks with the collector paused too
    cases = [("specs/resnet18.net", open(os.path.join(ROOT, "specs", "resnet18.net")).read(), 10),
             ("1,000-layer chain", chain_spec(1000), 50),
             ("1,000 bindings", bindings_spec(1000), 50),
             ("1,000 layers in blocks", blocks_spec(1000), 50)]
    print(f"median of {args.runs} runs, milliseconds per change (apply the edit, check, diagnostics);")
    print("wall clock and CPU time of the process; the whole check of the text from nothing, for comparison\n")
    print(f"{'spec':<24}{'edit':<10}{'wall':>8}{'cpu':>8}{'target':>8}   {'whole check wall/cpu':>20}")
    for name, text, target in cases:
        got = measure(text, args.runs)
        whole = got.pop("whole check")
        for what, (wall, cpu) in got.items():
            print(f"{name:<24}{what:<10}{wall:>8.1f}{cpu:>8.1f}{target:>8}   {whole[0]:>12.1f} / {whole[1]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
