"""Positions in a spec's text, three ways, and an open document that takes an editor's changes.

netspec's spans count lines at ``\\n`` only and columns in characters, from 1, with an end
column one past the last character. An offset is an index into the text. An LSP position
counts lines at ``\\n``, ``\\r\\n`` and ``\\r`` and columns in the units of the position
encoding agreed with the client (UTF-16 code units unless it asked for UTF-8 or UTF-32),
from 0. Everything goes through offsets, so that a tab, a form feed, a character outside
the Basic Multilingual Plane or a lone ``\\r`` lands where the editor shows it.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from typing import NamedTuple

from ..diagnostics import Span

UTF8, UTF16, UTF32 = "utf-8", "utf-16", "utf-32"
_LSP_BREAK = re.compile(r"\r\n|\r|\n")


class Position(NamedTuple):
    """An LSP position: a line and a column in the encoding's units, both from 0."""

    line: int
    character: int


def units(s: str, encoding: str) -> int:
    """How many units of ``encoding`` the characters of ``s`` take."""
    if encoding == UTF32 or s.isascii():
        return len(s)
    if encoding == UTF16:
        return len(s) + sum(1 for c in s if ord(c) > 0xFFFF)
    return len(s.encode("utf-8", "surrogatepass"))


def _chars(s: str, count: int, encoding: str) -> int:
    """How many characters of ``s`` take ``count`` units (a position inside a character
    counts as the character's start; past the end, the end)."""
    if encoding == UTF32 or s.isascii():
        return max(0, min(count, len(s)))
    total = 0
    for i, c in enumerate(s):
        width = units(c, encoding)
        if total + width > count:
            return i
        total += width
    return len(s)


class Text:
    """A text, with its netspec and LSP line starts found when first needed."""

    __slots__ = ("text", "_lines", "_lsp")

    def __init__(self, text: str):
        self.text = text
        self._lines: list[int] | None = None  # offsets where netspec's lines start
        self._lsp: list[int] | None = None  # offsets where the editor's lines start

    def __len__(self) -> int:
        return len(self.text)

    def line_starts(self) -> list[int]:
        if self._lines is None:
            self._lines = [0] + [m.end() for m in re.finditer("\n", self.text)]
        return self._lines

    def lsp_starts(self) -> list[int]:
        if self._lsp is None:
            self._lsp = [0] + [m.end() for m in _LSP_BREAK.finditer(self.text)]
        return self._lsp

    # -- netspec's lines and columns -------------------------------------------------------------
    def line_end(self, line: int) -> int:
        """The offset just past the last character of netspec line ``line`` (before its ``\\n``)."""
        starts = self.line_starts()
        return starts[line] - 1 if line < len(starts) else len(self.text)

    def offset(self, line: int, column: int) -> int:
        """The offset of netspec's (line, column), clamped into the text."""
        starts = self.line_starts()
        if line < 1:
            return 0
        if line > len(starts):
            return len(self.text)
        start = starts[line - 1]
        return min(start + max(column, 1) - 1, self.line_end(line))

    def span(self, span: Span) -> tuple[int, int]:
        """The offsets a span covers (start, end), clamped into the text."""
        start = self.offset(span.line, span.column)
        end = self.offset(span.end_line, span.end_column)
        return start, max(start, end)

    def line_of(self, offset: int) -> int:
        """netspec's line (from 1) of an offset."""
        return bisect_right(self.line_starts(), offset)

    def line_text(self, line: int) -> tuple[int, int]:
        """The offsets of netspec line ``line``'s text, without leading and trailing blanks."""
        starts = self.line_starts()
        if not 1 <= line <= len(starts):
            return len(self.text), len(self.text)
        start, end = starts[line - 1], self.line_end(line)
        body = self.text[start:end]
        lead = len(body) - len(body.lstrip())
        return start + lead, start + len(body.rstrip())

    # -- the editor's positions ----------------------------------------------------------------
    def position(self, offset: int, encoding: str = UTF16) -> Position:
        """The LSP position of an offset."""
        offset = max(0, min(offset, len(self.text)))
        starts = self.lsp_starts()
        line = bisect_right(starts, offset) - 1
        if offset > starts[line] and self.text[offset - 1] == "\r" and self.text[offset:offset + 1] == "\n":
            offset -= 1  # between the two characters of a `\r\n`: the end of the line
        return Position(line, units(self.text[starts[line]:offset], encoding))

    def _lsp_line(self, line: int) -> tuple[int, int]:
        """The offsets of LSP line ``line``'s characters, without its line break."""
        starts = self.lsp_starts()
        start = starts[line]
        if line + 1 >= len(starts):
            return start, len(self.text)
        end = starts[line + 1]
        end -= 2 if self.text[end - 2:end] == "\r\n" else 1
        return start, end

    def offset_at(self, position: Position, encoding: str = UTF16) -> int:
        """The offset of an LSP position, clamped into the text (a column past the end of
        its line is the line's end, a line past the last the text's end)."""
        line, character = position
        if line < 0:
            return 0
        if line >= len(self.lsp_starts()):
            return len(self.text)
        start, end = self._lsp_line(line)
        return start + _chars(self.text[start:end], character, encoding)


class Document:
    """An open document: its text, its version, and its changes applied as the editor sends them."""

    def __init__(self, uri: str, text: str, version: int | None = None, encoding: str = UTF16):
        self.uri = uri
        self.text = Text(text)
        self.version = version
        self.encoding = encoding

    @property
    def source(self) -> str:
        return self.text.text

    def change(self, start: Position | None, end: Position | None, new: str) -> None:
        """Replace the range from ``start`` to ``end`` with ``new`` (the whole text when no range)."""
        if start is None or end is None:
            self.text = Text(new)
            return
        a = self.text.offset_at(start, self.encoding)
        b = self.text.offset_at(end, self.encoding)
        a, b = min(a, b), max(a, b)
        old = self.text.text
        self.text = Text(old[:a] + new + old[b:])
