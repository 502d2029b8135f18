"""An ``nn.Sequential`` that holds other ``nn.Sequential``s or names its modules, written as
a group named with ``as``: ``(Conv2d(64, 7) as conv0 -> (DenseLayer * 6 as denselayer{1})
as denseblock1) as features``. Inside it every stage is a child, named by its ``as`` or
numbered by its place, and every parenthesised group is a child ``nn.Sequential`` of its
own, so the built module's state_dict keys are the original's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

from ..pycode import RESERVED
from .table import SLOT, finish

# The language's words: a module torch names so is written quoted (`as "input"`), as is one
# named with a Python keyword (`as "class"`).
WORDS = {"network", "input", "output", "as", "true", "false"}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_QUOTABLE = re.compile(r'[^"\\\x00-\x1f\x7f]+\Z')


def written(name: str) -> str:
    """A module's name as a spec writes it after `as`: quoted where torch's name is none a
    spec can spell (`as "block1-0"`), so that the built module's state_dict keys are torch's."""
    return name if _NAME.match(name) and name not in WORDS and name not in RESERVED else f'"{name}"'


def quotable(name: str) -> bool:
    """Whether a quoted `as` name can hold ``name``: no `"`, `\\` or control character."""
    return bool(_QUOTABLE.match(name))


@dataclass
class Group:
    """The children of one ``nn.Sequential``: (stage text or Group, name or None when the
    child is numbered by its place)."""

    parts: list[tuple[object, str | None]] = field(default_factory=list)

    def resolved(self, sub: Callable[[str], str]) -> list[tuple[object, str | None]]:
        """The parts with tokens resolved, runs of one stage written as a repetition
        (numbered copies as ``* n``, copies named ``prefix1, prefix2, ...`` as ``* n as prefix{1}``)."""
        parts = [(p if isinstance(p, Group) else sub(p), n) for p, n in self.parts]
        out, i = [], 0
        while i < len(parts):
            n = _run(parts, i)
            text, name = parts[i]
            if n == 1:
                out.append((text, name))
            elif name is None:
                out.append((f"{text} * {n}", None))
            else:
                prefix, first = _numbered(name)
                out.append((f"{text} * {n} as {written(prefix)}{{{first}}}", ""))
            i += n
        return out

    def render(self, sub: Callable[[str], str]) -> str:
        return "(" + " -> ".join(_part(p, n, sub) for p, n in self.resolved(sub)) + ")"


def _part(p, name, sub) -> str:
    text = p.render(sub) if isinstance(p, Group) else p
    return f"{text} as {written(name)}" if name else text


LINE = 100  # the width a line of a group may take, its indentation included
_NUMBERED = re.compile(r"^(.*?)(\d+)$")


def _numbered(name: str | None) -> tuple[str, int] | tuple[None, None]:
    m = _NUMBERED.match(name or "")
    if not m or not m.group(1) or (m.group(2).startswith("0") and m.group(2) != "0"):
        return None, None
    return m.group(1), int(m.group(2))


def _run(parts, i: int) -> int:
    """How many parts from ``i`` repeat the stage at ``i``: unnamed copies, or copies named
    with one prefix and consecutive numbers."""
    text, name = parts[i]
    if isinstance(text, Group):
        return 1
    prefix, first = _numbered(name)
    n = 1
    while i + n < len(parts) and _same(parts[i + n][0], text):
        other = parts[i + n][1]
        if name is None and other is None:
            n += 1
        elif prefix is not None and _numbered(other) == (prefix, first + n):
            n += 1
        else:
            break
    return n if name is None or prefix is not None else 1


def _same(a, b) -> bool:
    """The same stage, whatever the hints its integers carry."""
    return isinstance(a, str) and SLOT.sub(r"\2", a) == SLOT.sub(r"\2", b)


def visible(text: str) -> str:
    """The text as it will be printed: slots as their values, optional arguments as written."""
    return finish(SLOT.sub(lambda m: m.group(2), text))


def group_lines(g: Group, name: str | None, sub: Callable[[str], str], width: int, indent: int = 4) -> list[str]:
    """``(...) as name`` on one line when it fits in ``width``, else one child a line (a
    child group on one line when it fits in the line it starts, ``indent`` + 7 in)."""
    one = _part(g, name, sub)
    if len(visible(one)) <= width:
        return [one]
    lines = ["("]
    for k, (p, n) in enumerate(g.resolved(sub)):
        lead = "       " if k == 0 else "    -> "
        inner = group_lines(p, n, sub, LINE - indent - 7, indent + 7) if isinstance(p, Group) \
            else [_part(p, n, sub)]
        lines.append(lead + inner[0])
        lines += ["       " + line for line in inner[1:]]
    lines.append(f") as {written(name)}" if name else ")")
    return lines
