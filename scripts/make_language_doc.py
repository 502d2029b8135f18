"""Write the list of layers and ops into docs/language.md, from the registry (netspec.kinds).

The list sits between the `<!-- kinds:start -->` and `<!-- kinds:end -->` lines of the page;
the rest of the page is written by hand. tests/test_docs.py checks the list is current: run
this after adding or changing a kind.

    python scripts/make_language_doc.py
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from netspec.kinds import REGISTRY, Kind  # noqa: E402

DOC = ROOT / "docs" / "language.md"
START, END = "<!-- kinds:start -->", "<!-- kinds:end -->"
GROUPS = {  # kinds/<module>.py -> the heading its kinds are listed under
    "dense": "Dense and embedding", "conv": "Convolution", "pool": "Pooling", "norm": "Normalisation",
    "dropout": "Dropout", "activation": "Activations", "recurrent": "Recurrent layers and cells",
    "attention": "Attention and transformers", "resample": "Resampling", "pad": "Padding",
    "ops": "Shape ops", "index": "Indexing", "join": "Joining and splitting", "arith": "Arithmetic",
    "linalg": "Matrix products", "reduce": "Reductions", "cast": "Casts",
}


def literal(v) -> str:
    """A default as the language writes it."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, tuple):
        return "(" + ", ".join(literal(x) for x in v) + ("," if len(v) == 1 else "") + ")"
    return str(v)


def signature(kind: Kind) -> str:
    """`hidden_size, num_layers=1, ...; dim=...`: the positional arguments in order, then
    the keyword-only ones; an argument without a default that may be left out is `[name]`."""
    fields = kind.Args.model_fields
    skip = {kind.inferred, *kind.state_inputs}

    def arg(name: str) -> str:
        f = fields[name]
        if f.required:
            return f"*{name}" if name == kind.variadic else name
        return f"[{name}]" if f.default is None else f"{name}={literal(f.default)}"

    positional = [arg(n) for n in kind.positional if n in fields]
    keyword = [arg(n) for n in fields if n not in kind.positional and n not in skip]
    return ", ".join(positional) + ("; " if positional and keyword else "") + ", ".join(keyword)


def tensors(kind: Kind) -> str:
    """What a kind reads: the piped tensor, others by position, and by keyword."""
    if kind.what == "layer" or kind.max_inputs == 1:
        n = "1"
    elif kind.max_inputs is None:
        n = f"{kind.min_inputs} or more"
    else:
        n = str(kind.max_inputs) if kind.min_inputs == kind.max_inputs else f"{kind.min_inputs}-{kind.max_inputs}"
    return n + "".join(f", {s}=" for s in kind.state_inputs)


def row(kind: Kind) -> str:
    name = f"`{kind.name}`" + "".join(f" (`{a}`)" for a in kind.aliases)
    inferred = f"`{kind.inferred}`" if kind.inferred else ""
    results = ", ".join(kind.results)
    example = f"`{kind.examples[0]['stage']}`" if kind.examples else ""
    return f"| {name} | {signature(kind)} | {inferred} | {tensors(kind)} | {results} | {example} |"


def kinds_section() -> str:
    kinds = sorted({id(k): k for k in REGISTRY.values()}.values(), key=lambda k: k.name)
    groups: dict[str, list[Kind]] = {}
    for k in kinds:
        module = type(k).__module__.rsplit(".", 1)[-1]
        groups.setdefault(GROUPS.get(module, module.capitalize()), []).append(k)
    order = [g for g in GROUPS.values() if g in groups] + sorted(g for g in groups if g not in GROUPS.values())
    out = [START, "",
           f"{len(kinds)} kinds. Arguments before `;` may be given by position, in this order; the",
           "others by keyword only. `[name]` may be left out (torch's `None`). *Inferred* is the",
           "argument read from the input (give it and it is checked). *Tensors*: how many are given",
           "by position (the piped one first), and those given by keyword.", ""]
    for g in order:
        out += [f"#### {g}", "", "| kind | arguments | inferred | tensors | results | example |",
                "|---|---|---|---|---|---|"]
        out += [row(k) for k in groups[g]] + [""]
    out.append(END)
    return "\n".join(out)


def render(text: str) -> str:
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return head + kinds_section() + tail


def main() -> None:
    DOC.write_text(render(DOC.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"wrote {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
