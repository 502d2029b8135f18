"""Completion: what may be written at a place, read from the text before it.

The text an editor completes in is mostly one that does not parse (`x -> Con`), so the
place is read lexically, from the start of the network the cursor is in: the brackets open
there (and the name before each `(`), the word being typed and what stands before it.

- after `->` (or `(` opening a group of stages): layer kinds, ops and the document's networks;
- inside `Kind(` after `(` or `,`: the kind's argument names (`name=`), then values;
- inside `[...]` of a shape: the network's parameters and symbolic dims;
- after `:` of an input or an assertion: the dtypes;
- at the start of a statement: the keywords;
- elsewhere in an expression: the network's values and parameters, ops, networks, constants.

Each kind comes with its line of torch's documentation (kinds/summaries.py); each argument
with what it takes, its default, and torch's line for it where the kind has one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..kinds import REGISTRY
from ..kinds.base import Kind, takes
from ..types import DTYPES
from .analysis import network_starts

# LSP's CompletionItemKind
FUNCTION, FIELD, VARIABLE, CLASS, MODULE, KEYWORD, CONSTANT, TYPE_PARAMETER = 3, 5, 6, 7, 9, 14, 21, 25

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*$")
_NAME_BEFORE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*$")
_NETWORK = re.compile(r"^network\s+([A-Za-z_][A-Za-z0-9_]*)\s*(?:\(([^)]*)\))?", re.M)
_INPUT = re.compile(r"^\s*input\s+([A-Za-z_][A-Za-z0-9_]*)\s*:\s*[A-Za-z_0-9]*\s*\[([^\]\n]*)\]", re.M)
_BINDING = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=(?!=)", re.M)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
KEYWORDS = ("network", "input", "output")
LITERALS = ("true", "false", "None")


@dataclass
class Item:
    label: str
    kind: int
    detail: str = ""
    documentation: str = ""
    insert: str = ""  # the text to insert, when it is not the label
    sort: str = ""  # the order among the items (the label's when empty)


@dataclass
class Place:
    """What the text before the cursor says about it."""

    word: str  # the part of a name typed so far
    before: str  # the text before that word, in its network, comments and strings blanked
    brackets: list[tuple[str, str]]  # the brackets open at the cursor, outermost first: ("(", callee) or ("[", "")
    # (a network's braces are not among them)
    network: str  # the text of the network the cursor is in, up to the cursor


def _blank(text: str) -> tuple[str, list[tuple[str, str]], bool]:
    """The text with comments and strings blanked, the brackets left open at its end, and
    whether the end is inside a comment or a string."""
    out, stack = [], []
    in_comment = in_string = False
    for ch in text:
        if ch == "\n":
            in_comment = in_string = False
        elif in_comment or (in_string and ch != '"'):
            out.append(" ")
            continue
        elif ch == '"':
            in_string = not in_string
        elif ch == "#":
            in_comment = True
            out.append(" ")
            continue
        elif ch in "([":
            m = _NAME_BEFORE.search("".join(out[-64:])) if ch == "(" else None
            stack.append((ch, m.group(1) if m else ""))
        elif ch in ")]" and stack:
            stack.pop()
        out.append(ch)
    return "".join(out), stack, in_comment or in_string


def place(text: str, offset: int) -> Place | None:
    """The place at ``offset``; None inside a comment or a string."""
    starts = network_starts(text[:offset])
    head = text[starts[-1]:offset]
    blanked, stack, quiet = _blank(head)
    if quiet:
        return None
    m = _WORD.search(blanked)
    word = m.group() if m else ""
    return Place(word, blanked[:len(blanked) - len(word)], stack, head)


# -- what a network defines, read from its text ---------------------------------------------------

def _names(net_text: str) -> tuple[list[str], list[str], list[str]]:
    """The values (inputs, bindings), parameters and symbolic dims of a network's text."""
    params, values, symbols = [], [], []
    m = _NETWORK.search(net_text)
    if m and m.group(2):
        params = [p.split("=")[0].strip() for p in m.group(2).split(",") if p.split("=")[0].strip()]
    for inp in _INPUT.finditer(net_text):
        values.append(inp.group(1))
        symbols += [s for s in _IDENT.findall(inp.group(2)) if s not in params and s not in symbols]
    values += [b.group(1) for b in _BINDING.finditer(net_text) if b.group(1) not in values]
    return values, params, symbols


def networks(text: str) -> list[str]:
    return list(dict.fromkeys(m.group(1) for m in _NETWORK.finditer(text)))


# -- the items ---------------------------------------------------------------------------------------

def _signature(kind: Kind) -> str:
    parts = []
    for name in kind.Args.model_fields:
        if name == kind.inferred:
            continue
        f = kind.Args.model_fields[name]
        parts.append(name if f.is_required() else f"{name}={_show(f.default)}")
    return f"{kind.name}({', '.join(parts)})"


def _show(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    return "None" if v is None else str(v)


def kind_items(layers: bool = True, ops: bool = True) -> list[Item]:
    items = []
    for name, kind in sorted(REGISTRY.items()):
        if (kind.what == "layer" and not layers) or (kind.what == "op" and not ops):
            continue
        items.append(Item(name, CLASS if kind.what == "layer" else FUNCTION,
                          f"{kind.what} · {_signature(kind)}", kind.summary))
    return items


def arg_items(callee: str, text: str) -> list[Item]:
    """The argument names a kind or a network of the text takes, as `name=`."""
    kind = REGISTRY.get(callee)
    if kind is None:
        return _network_arg_items(callee, text)
    items = []
    for i, (name, f) in enumerate(kind.Args.model_fields.items()):
        if name == kind.inferred:
            continue
        default = "required" if f.is_required() else f"default {_show(f.default)}"
        doc = kind.arg_doc(name)
        items.append(Item(f"{name}=", FIELD, f"{takes(kind, name)}; {default}",
                          (f"{doc}\n\n" if doc else "") + f"`{_signature(kind)}`", sort=f"0{i:03d}"))
    return items


def _network_arg_items(callee: str, text: str) -> list[Item]:
    for m in _NETWORK.finditer(text):
        if m.group(1) == callee:
            end = network_starts(text[m.end():] + "\nnetwork")[1:2]
            body = text[m.start():m.end() + end[0]] if end else text[m.start():]
            values, params, _ = _names(body)
            inputs = [v for v in values if re.search(rf"^\s*input\s+{v}\b", body, re.M)]
            return ([Item(f"{p}=", FIELD, f"parameter of network {callee}", sort=f"0{i:03d}")
                     for i, p in enumerate(params)]
                    + [Item(f"{v}=", FIELD, f"input of network {callee}", sort=f"1{i:03d}")
                       for i, v in enumerate(inputs)])
    return []


def _stage_items(text: str) -> list[Item]:
    return kind_items() + [Item(n, MODULE, "network") for n in networks(text)]


def _scope_items(p: Place, values: bool = True) -> list[Item]:
    vals, params, symbols = _names(p.network)
    items = [Item(v, VARIABLE, "value", sort=f"0{v}") for v in vals] if values else []
    items += [Item(q, CONSTANT, "parameter", sort=f"1{q}") for q in params]
    items += [Item(s, TYPE_PARAMETER, "symbolic dim", sort=f"1{s}") for s in symbols]
    return items


def _symbol_items(text: str, p: Place) -> list[Item]:
    """The symbolic dims the document's other networks declare (`batch`, `seq`)."""
    _, params, own = _names(p.network)
    seen = set(params) | set(own)
    items = []
    for inp in _INPUT.finditer(text):
        for s in _IDENT.findall(inp.group(2)):
            if s not in seen:
                seen.add(s)
                items.append(Item(s, TYPE_PARAMETER, "symbolic dim", sort=f"2{s}"))
    return items


def _dtype_items() -> list[Item]:
    return [Item(d, CONSTANT, f"dtype {t}") for d, t in DTYPES.items()]


def _expression_items(p: Place, text: str) -> list[Item]:
    items = _scope_items(p) + kind_items(layers=False)
    items += [Item(n, MODULE, "network", sort=f"2{n}") for n in networks(text)]
    return items + [Item(c, KEYWORD, "literal", sort=f"3{c}") for c in LITERALS] + _dtype_items()


def complete(text: str, offset: int) -> tuple[list[Item], int]:
    """The items that may be written at ``offset``, and the offset where the word they
    replace starts."""
    p = place(text, offset)
    if p is None:
        return [], offset
    start = offset - len(p.word)
    before = p.before.rstrip()
    inner = p.brackets[-1] if p.brackets else None
    if before.endswith("->") or (inner == ("(", "") and before.endswith("(") and before[:-1].rstrip().endswith("->")):
        return _stage_items(text), start
    if "{" not in p.before:
        return [], start  # a network's name or its parameters: new names
    if inner is not None and inner[0] == "[":
        return _scope_items(p, values=False) + _symbol_items(text, p), start
    if before.endswith(":") and not before.endswith("::"):
        return _dtype_items(), start
    if inner is not None and inner[1] and before.endswith(("(", ",")):
        return arg_items(inner[1], text) + _expression_items(p, text), start
    if not p.brackets and not p.before.rpartition("\n")[2].strip():
        return [Item(k, KEYWORD, "keyword") for k in KEYWORDS] + _scope_items(p), start
    return _expression_items(p, text), start
