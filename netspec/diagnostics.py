"""Diagnostics: spans, stable codes, and rustc-style rendering.

A :class:`Span` travels from the parser to every diagnostic. Codes are stable: tools and
tests match on them, and ``docs/errors.md`` documents each with an example and its fix.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Iterable, NamedTuple

from .codes import SILENCEABLE_ERRORS, Code


class Span(NamedTuple):
    """Where a piece of a spec stands. A named tuple: a check makes one for every node of
    the AST, and a tuple is made and hashed several times faster than a frozen dataclass."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int  # one past the last column, as Lark reports it

    def where(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass
class Diagnostic:
    severity: str  # "error" | "warning"
    code: str
    message: str
    span: Span
    notes: list[str] = field(default_factory=list)
    help: str | None = None
    # for a diagnostic reported at a use of a network: (the message it had inside, the
    # network), so a use of that use reports one line a level (not in the JSON)
    cause: tuple[str, str] | None = field(default=None, compare=False)

    def to_json(self) -> dict:
        s = self.span
        return {
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "file": s.file,
            "line": s.line,
            "column": s.column,
            "end_line": s.end_line,
            "end_column": s.end_column,
            "notes": list(self.notes),
            "help": self.help,
        }


class Reporter:
    """Collects diagnostics; suppresses exact repeats so one cause is reported once."""

    def __init__(self) -> None:
        self.items: list[Diagnostic] = []
        self._seen: set = set()
        self.allowed: dict[str, set[tuple[str, int]]] = {}
        # every diagnostic raised, repeats and silenced ones included: a result computed
        # while none was raised does not depend on where it was computed
        self.raised = 0

    def allow(self, file: str, line: int, code: str) -> None:
        self.allowed.setdefault(code, set()).add((file, line))

    def silenced(self, code: str, span: Span, severity: str = "error") -> bool:
        """Whether an allow comment on the span's line silences this diagnostic."""
        return ((span.file, span.line) in self.allowed.get(code, ())
                and (severity == "warning" or code in SILENCEABLE_ERRORS))

    def add(self, diag: Diagnostic) -> None:
        if type(diag.code) is not Code:  # a bare string would be a new, undocumented code
            raise TypeError(f"diagnostic code {diag.code!r} is not one of netspec.codes")
        self.raised += 1
        key = (diag.code, diag.span, diag.message)
        if key in self._seen:
            return
        if self.silenced(diag.code, diag.span, diag.severity):
            return
        self._seen.add(key)
        self.items.append(diag)

    def error(self, code: str, message: str, span: Span, notes: Iterable[str] = (),
              help: str | None = None) -> Diagnostic:
        d = Diagnostic("error", code, message, span, list(notes), help)
        self.add(d)
        return d

    def warning(self, code: str, message: str, span: Span, notes: Iterable[str] = (),
                help: str | None = None) -> Diagnostic:
        d = Diagnostic("warning", code, message, span, list(notes), help)
        self.add(d)
        return d

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "error"]


SUGGEST_POOL = 200  # names compared for a suggestion: the last ones given


def suggest(name: str, choices: Iterable[str]) -> str | None:
    """`did you mean ...?` text for the closest known names, or None.

    Only the last SUGGEST_POOL choices are compared (callers list the nearest definitions
    last), so that a spec with thousands of names and thousands of misspellings is not
    checked in quadratic time."""
    pool = list(choices)
    if len(pool) > SUGGEST_POOL:
        pool = pool[-SUGGEST_POOL:]
    close = difflib.get_close_matches(name, pool, n=3, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in pool}
        close = difflib.get_close_matches(name.lower(), list(lowered), n=3, cutoff=0.6)
        close = [lowered[c] for c in close]
    if not close:
        return None
    return "did you mean " + " or ".join(f"`{c}`" for c in close) + "?"


MAX_SHOWN = 160  # characters of a source line shown; a longer one is cut around the span


def render(diag: Diagnostic, lines: list[str] | None, color: bool = False) -> str:
    """rustc-style text: header, the source line with the span marked, notes, help."""
    s = diag.span

    def paint(text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if color else text

    sev = paint(diag.severity, "1;31" if diag.severity == "error" else "1;33")
    out = [f"{s.where()}: {sev}[{diag.code}]: {diag.message}"]
    if lines is not None and 1 <= s.line <= len(lines):
        text = lines[s.line - 1].rstrip("\n").expandtabs(1)
        gutter = str(s.line)
        pad = " " * len(gutter)
        end = s.end_column if s.end_line == s.line else len(text) + 1
        width = max(1, end - s.column)
        column = s.column
        if len(text) > MAX_SHOWN:  # a generated line: show a window around the span
            start = max(0, min(column - 1 - MAX_SHOWN // 3, len(text) - MAX_SHOWN))
            shown = text[start:start + MAX_SHOWN]
            text = ("…" if start else "") + shown + ("…" if start + MAX_SHOWN < len(text) else "")
            column = column - start + (1 if start else 0)
            width = max(1, min(width, MAX_SHOWN - (column - 1)))
        out.append(f" {gutter} | {text}")
        marks = paint("^" * width, "1;31" if diag.severity == "error" else "1;33")
        out.append(f" {pad} | {' ' * (column - 1)}{marks}")
        prefix = f" {pad} "
    else:
        prefix = "  "
    for note in diag.notes:
        out.append(f"{prefix}= note: {note}")
    if diag.help:
        out.append(f"{prefix}= help: {diag.help}")
    return "\n".join(out)
