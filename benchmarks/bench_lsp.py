"""Latency of a keystroke in the language server, in-process: the change applied to the
open document, the document checked again and its diagnostics made (what `netspec lsp` does
before it publishes them; the JSON-RPC around it is left out).

Specs: specs/resnet18.net, and the 1,000-layer specs of bench_scale.py (one chain of 1,000
stages; 1,000 one-stage bindings; 90 uses of a 10-layer network). Each edit is made at a
place in the last network: a digit of a size typed (a value not among the last eight, so
no check kept for a value typed before serves it), the same edit undone (the server keeps
a network's check for its last parameter values), and a character of a name typed and
undone (which breaks the spec, then mends it). The figures are medians over the runs,
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


def _edits(text: str) -> list[tuple[str, int, str, str]]:
    """(what, start, old, digits to type): the last digit written after `(`, `=` or `, `
    (a size, in the last network), typed over with values in turn; the first letter of the
    last stage's kind."""
    digit = [m.start() for m in re.finditer(r"(?:(?<=[(=])|(?<=, ))[0-9]", text)][-1]
    name = text.rindex("-> ") + 3
    return [("a digit", digit, text[digit], "".join(d for d in "23456789" if d != text[digit])[:8]),
            ("a name", name, text[name], "Q")]


def _change(doc: Document, an: Analyzer, at: int, old: str, new: str) -> tuple[float, float]:
    """One change (``old`` at ``at`` replaced by ``new``) and its check: wall and CPU seconds."""
    t, c = time.perf_counter(), time.process_time()
    doc.change(doc.text.position(at), doc.text.position(at + len(old)), new)
    diagnostics(an.analyze(doc.source))
    return time.perf_counter() - t, time.process_time() - c


def measure(text: str, runs: int) -> dict[str, tuple[float, float]]:
    """Per edit: the median milliseconds of a change, wall clock and CPU time of this process
    (the CPU figure is the one to read on a machine that others share). A digit's typing
    and its undoing are reported apart; a name's are taken together."""
    doc = Document("file:///bench.net", text)
    an = Analyzer("/bench.net")
    diagnostics(an.analyze(doc.source))
    times: dict[str, list[tuple[float, float]]] = {}
    for what, at, old, typed in _edits(text):
        for i in range(runs + 1):
            new = typed[i % len(typed)]
            there, back = _change(doc, an, at, old, new), _change(doc, an, at, new, old)
            if i:
                names = ("a digit", "undone") if what == "a digit" else (what, what)
                times.setdefault(names[0], []).append(there)
                times.setdefault(names[1], []).append(back)
    got = {what: (statistics.median(w for w, _ in ts) * 1000, statistics.median(c for _, c in ts) * 1000)
           for what, ts in times.items()}
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
