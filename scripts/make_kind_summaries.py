"""Write netspec/kinds/summaries.py: one line of torch's documentation for every layer and op
kind, and one for each of its arguments that torch documents (its `Args:` sections).

The language server shows the line beside each kind it completes or hovers. It is read
here from torch's own docstrings (the class, function or method a kind builds or calls),
so the text is torch's and not a paraphrase; the few kinds torch documents nowhere
(indexing, torchvision's StochasticDepth, LayerNorm2d and Permute) have theirs in HAND
below.
tests/test_lsp.py checks that the file is what this script writes with the torch
installed, and that every registered kind has a line.

Run: python scripts/make_kind_summaries.py   (needs torch)
"""

from __future__ import annotations

import inspect
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "netspec", "kinds", "summaries.py")

# kinds whose torch object has no docstring of its own
HAND = {
    "getitem": "Indexes, slices or selects parts of a tensor: `x[...]` (`Tensor.__getitem__`).",
    "rsub": "`number - x`: the number minus each element (`torch.rsub`, Python's reflected subtraction).",
    "rdiv": "`number / x`: the number divided by each element (Python's reflected true division).",
    "rpow": "`number ** x`: the number to the power of each element (Python's reflected power).",
    "StochasticDepth": "Randomly drops whole rows (or the whole batch) of the input in training, "
                       "as torchvision.ops.StochasticDepth.",
    "LayerNorm2d": "Applies Layer Normalization over the channels (dim 1) of a [N, C, H, W] input, "
                   "as torchvision's LayerNorm2d (ConvNeXt's norm).",
    "Permute": "Returns a view of the input with its dimensions permuted, as torchvision.ops.misc.Permute.",
}
# torchvision's modules that netspec defines itself: their arguments are documented by the
# torch object of the kind named here (LayerNorm2d takes nn.LayerNorm's arguments)
ARGUMENTS_OF = {"LayerNorm2d": "LayerNorm", "Permute": "permute"}
# where that documentation says something else than the kind does
HAND_ARGUMENTS = {"LayerNorm2d": {"normalized_shape": "The size of the channels (dim 1), which it normalizes over "
                                                      "moved last (a tuple: the trailing dims of the input with its "
                                                      "channels moved last)."}}

_SIGNATURE = re.compile(r"^[\w.]+\(.*\)(\s*->\s*.*)?$")
_ROLE = re.compile(r":(?:attr|math|class|func|meth|ref|mod|obj):`(~?)([^`]*)`")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z`])")


def _role(m: re.Match) -> str:
    """`:class:`~torch.nn.X`` -> `X`; `:ref:`text <target>`` -> text; others keep their text."""
    short, text = m.group(1), m.group(2)
    if "<" in text:
        return text.split("<")[0].strip()
    return f"`{text.rsplit('.', 1)[-1] if short else text}`"


def _prose(doc: str) -> list[str]:
    """A docstring's paragraphs of prose: no signature line, note or argument list."""
    out = []
    for p in re.split(r"\n\s*\n", doc.strip()):
        lines = [line.strip() for line in p.strip().splitlines()]
        while lines and _SIGNATURE.match(lines[0]):
            lines.pop(0)  # `add(input, other, *, alpha=1) -> Tensor`, `__init__(...)`
        if lines and not lines[0].startswith(("..", "Args:")):
            out.append(" ".join(lines))
    return out


def clean(doc: str) -> str:
    """The first sentence of a docstring's first prose paragraph, as markdown."""
    paragraphs = _prose(doc)
    if not paragraphs:
        return ""
    text = _ROLE.sub(_role, paragraphs[0]).replace("``", "`")
    text = _SENTENCE_END.split(text, maxsplit=1)[0]
    return text if text.endswith((".", "!", "?")) else text + "."


def torch_object(name: str, kind):
    """What a kind builds or calls in torch: an nn class, a torch function, a Tensor method."""
    import torch
    import torch.nn.functional as F

    torch_name = getattr(kind, "torch_name", None)
    found = getattr(torch.nn, torch_name, None) if torch_name else None
    if found is not None:
        return found
    for owner in (torch, F, torch.Tensor):
        found = getattr(owner, name, None)
        if found is not None and (found.__doc__ or "").strip():
            return found
    return None


def _follow(line: str) -> str:
    """The line of the function an alias names, or of the in-place method an op copies."""
    import torch

    alias = re.match(r"Alias for `torch\.([\w.]+)`", line)
    if alias:
        target = torch
        for part in alias.group(1).split("."):
            target = getattr(target, part)
        return clean(target.__doc__ or "")
    copy = re.match(r"Out-of-place version of `(?:torch\.Tensor\.)?(\w+)`", line)
    if copy:
        return clean(getattr(torch.Tensor, copy.group(1)).__doc__ or "")
    return line


_SECTION = re.compile(r"^(Args|Arguments|Parameters|Keyword args|Keyword arguments):\s*$")
_ARG = re.compile(r"^(\w+)\s*(?:\(([^)]*)\))?\s*:\s*(.*)$")
_DEFAULT = re.compile(r"\s*Default:.*$")


def _arg_texts(doc: str) -> dict[str, str]:
    """The entries of a docstring's `Args:` and `Keyword arguments:` sections: `name (type):
    text` and the lines indented under it, by name."""
    out: dict[str, str] = {}
    indent = current = None
    for line in inspect.cleandoc(doc).splitlines():
        lead, body = len(line) - len(line.lstrip()), line.strip()
        if _SECTION.match(line):
            indent, current = -1, None  # the entries' indent is the first one's
            continue
        if indent is None or not body:
            continue
        m = _ARG.match(body)
        if lead == 0:
            indent = current = None  # the section ended
        elif m and indent in (-1, lead):
            indent, current = lead, m.group(1)
            out.setdefault(current, m.group(3))
        elif current is not None and lead > indent:
            out[current] += " " + body
    return out


def arg_lines(kind, obj) -> dict[str, str]:
    """torch's line for each argument of a kind that torch documents (a module's tensors
    passed by keyword are documented by its forward)."""
    texts = _arg_texts(getattr(obj, "__doc__", None) or "") if obj is not None else {}
    forward = getattr(obj, "forward", None) if isinstance(obj, type) else None
    for name, text in _arg_texts(getattr(forward, "__doc__", None) or "").items():
        texts.setdefault(name, text)
    out = {}
    for name in kind.Args.model_fields:
        text = texts.get(name, "")
        text = _SENTENCE_END.split(_ROLE.sub(_role, text).replace("``", "`"), maxsplit=1)[0]
        text = _DEFAULT.sub("", text).strip()
        if text:
            out[name] = text[0].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")
    return out


def summary(name: str, kind) -> str:
    """The line for a kind registered as ``name``: HAND, else torch's docstring."""
    if name in HAND:
        return HAND[name]
    obj = torch_object(name, kind)
    return _follow(clean(obj.__doc__ or "")) if obj is not None else ""


def render(lines: dict[str, str], args: dict[str, dict[str, str]]) -> str:
    body = "".join(f"    {name!r}: {text!r},\n" for name, text in sorted(lines.items()))
    arg_body = "".join(f"    {name!r}: {{\n" + "".join(f"        {a!r}: {t!r},\n" for a, t in texts.items()) + "    },\n"
                       for name, texts in sorted(args.items()) if texts)
    return ('"""One line of torch\'s documentation for each kind, and for each argument torch documents\n'
            '(generated by scripts/make_kind_summaries.py; regenerate it, never edit it by hand)."""\n\n'
            "SUMMARIES: dict[str, str] = {\n" + body + "}\n\n"
            "ARGUMENTS: dict[str, dict[str, str]] = {\n" + arg_body + "}\n")


def generate() -> str:
    sys.path.insert(0, ROOT)
    from netspec.kinds import REGISTRY

    lines = {name: summary(name, kind) for name, kind in REGISTRY.items()}
    args = {name: arg_lines(kind, torch_object(ARGUMENTS_OF.get(name, name), REGISTRY[ARGUMENTS_OF.get(name, name)]))
            for name, kind in REGISTRY.items()}
    for name, texts in HAND_ARGUMENTS.items():
        args[name].update(texts)
    missing = sorted(name for name, line in lines.items() if not line)
    if missing:
        raise SystemExit(f"no documentation line for: {', '.join(missing)}; add one to HAND")
    return render(lines, args)


def main() -> int:
    text = generate()
    with open(OUT, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"wrote {os.path.relpath(OUT, ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
