"""Regenerate docs/diagrams.md and docs/diagrams/*.svg from every spec in specs/.

    python scripts/make_diagrams.py

Each picture is drawn by `netspec diagram` itself, so the page shows exactly what the
command draws. Needs Graphviz's `dot`.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from netspec.cli import main  # noqa: E402

SPECS = ROOT / "specs"
DOCS = ROOT / "docs"
OUT = DOCS / "diagrams"

# drawings beyond one per spec: (name, spec, extra options, what it shows)
EXTRA = [
    ("resnet18-depth1", "resnet18.net", ["--depth", "1"],
     "The same network with `--depth 1`: every block expanded into its layers, the residual "
     "connections visible. `layer1`'s two blocks are one repetition, drawn once."),
]
BROKEN = {"oops.net": "Broken on purpose: the LSTM would read the batch axis as time. The diagram "
                      "still draws what was inferred, marks the failing layer with its message and "
                      "dashes what could not be inferred after it."}

HEAD = """\
# Diagrams

`netspec diagram FILE -o OUT` draws a spec's networks with Graphviz. This page shows the
diagram of every spec in `specs/`. It is generated: regenerate it, and the pictures, with

<!-- illustrative: it rewrites this page's pictures; tests/test_diagram.py checks they are current -->
```sh
python scripts/make_diagrams.py
```

## The command

```
netspec diagram FILE -o OUT.{svg,png,pdf,dot} [--network NAME] [--rankdir TB|LR]
                [--depth N] [--unroll] [--set NAME=VALUE ...] [--force]
```

- The suffix of `OUT` picks the format: `.svg`, `.png` and `.pdf` are drawn by Graphviz's
  `dot`; `.dot` is the graph itself and needs no Graphviz. The DOT text is deterministic:
  the same spec gives the same bytes (nodes `n0, n1, ...` in graph order, attributes sorted).
- Without `--network`, every network that no other network uses is drawn (side by side
  when there are several); `--network NAME` draws one, a block included (with its symbolic
  sizes). An unknown name, or a file without networks, is a usage error (exit 2) whose one
  line lists the networks there are.
- `--depth N` expands networks used as layers `N` levels deep, each into a cluster of its
  layers; 0 (the default) draws each as one node.
- `Stage * N` is drawn once, with a `×N` badge, when every repetition has the same layers
  with the same results: the badge sits on the node, or on a dashed cluster around a
  repeated group; the parameter count is the total, with the count of each repetition in
  brackets. `--unroll` draws every repetition.
- `--rankdir LR` lays the graph out left to right (the default is top to bottom).

### What the picture says

- Inputs are green, outputs orange: each with its name, dtype and shape.
- A layer is a blue box: the name given with `as` (small, on top), its kind with its key
  arguments as written, parameters substituted (`LSTM 512, layers=2`; the argument read
  from the input, like `in_features`, is left out: the incoming edge shows it) and its
  parameter count (none for a layer without parameters). An op is a dashed grey box.
- Every edge carries the shape of the value on it, exactly as `netspec check` prints it,
  with the dtype where a layer changes it (`float32[batch, 30, 300]` out of an
  `Embedding`). A layer with several results labels each edge with the result it carries
  (`output`, `h_n`, `c_n`); a named value read by another binding carries its name.
- A spec with errors still draws: the layer where an error is reported is red with the
  message on it, layers that could not be inferred after it are dashed (`not inferred`,
  edges `?`), and errors that belong to no layer (a shape assertion, an unknown output) are
  listed under the network's title.

### Exit status and files

- 0: drawn. 1: drawn, but the spec has errors (printed to stderr), or the spec does not
  parse (nothing drawn). 2: usage error (bad option, unknown network, no such file, a file
  in the way).
- When `dot` is not installed, an `.svg`, `.png` or `.pdf` cannot be drawn: the `.dot` is
  written next to it instead (`out.svg` -> `out.dot`), one line on stderr says so and how to
  install Graphviz (`apt-get install graphviz`, `brew install graphviz`), and the exit
  status is 1.
- Files are written atomically, and never over a file netspec did not write unless
  `--force` is given. netspec marks what it writes (a `//` line in DOT, an XML comment in
  SVG, a `tEXt` chunk in PNG), so drawing again replaces its own files. A PDF has no room
  for the mark without rewriting its offsets: an existing PDF is replaced only with `--force`.

## The specs
"""


def first_comment(spec: Path) -> str:
    lines = []
    for line in spec.read_text().splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("# ").strip())
    return " ".join(lines)


def draw(spec: Path, out: Path, extra: list[str]) -> None:
    args = ["diagram", str(spec.relative_to(ROOT)), "-o", str(out.relative_to(ROOT)), *extra]
    status = main(args)
    if status == 2 or not out.exists():
        sys.exit(f"make_diagrams: `netspec {' '.join(args)}` failed")
    if status == 1 and spec.name not in BROKEN:
        sys.exit(f"make_diagrams: {spec.name} has errors")


def main_() -> int:
    if shutil.which("dot") is None:
        sys.exit("make_diagrams: Graphviz's `dot` is needed (apt-get install graphviz, brew install graphviz)")
    import os

    os.chdir(ROOT)
    OUT.mkdir(parents=True, exist_ok=True)
    page = [HEAD]
    specs = sorted(SPECS.glob("*.net"))
    for spec in specs:
        out = OUT / f"{spec.stem}.svg"
        draw(spec, out, [])
        about = BROKEN.get(spec.name) or first_comment(spec)
        page.append(f"### {spec.stem}\n\n{about}\n\n"
                    f"`netspec diagram specs/{spec.name} -o docs/diagrams/{out.name}`\n\n"
                    f"![{spec.stem}](diagrams/{out.name})\n")
        for name, base, extra, what in EXTRA:
            if base == spec.name:
                out = OUT / f"{name}.svg"
                draw(spec, out, extra)
                page.append(f"### {name}\n\n{what}\n\n"
                            f"`netspec diagram specs/{spec.name} -o docs/diagrams/{out.name} {' '.join(extra)}`\n\n"
                            f"![{name}](diagrams/{out.name})\n")
    wanted = {f"{s.stem}.svg" for s in specs} | {f"{name}.svg" for name, *_ in EXTRA}
    for old in OUT.glob("*.svg"):
        if old.name not in wanted:
            old.unlink()
    (DOCS / "diagrams.md").write_text("\n".join(page))
    print(f"wrote docs/diagrams.md and {len(wanted)} pictures in docs/diagrams/")
    return 0


if __name__ == "__main__":
    sys.exit(main_())
