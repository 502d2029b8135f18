"""Checking a document as it changes, and its diagnostics in an editor's terms.

A keystroke changes one network. :class:`NetworkParser` parses a text network by network
(each padded with the newlines before it, so that every span stays where it is) and keeps
the AST of each network whose text and first line are those of the last parse; only the
changed one is parsed again. It stands in for ``netspec.parser.parse`` in the check
(``check_text(..., parser=)``) and builds the same module: a text it cannot split safely,
or one with a network that does not parse, is left to ``parse`` (from the first network
that does not parse, the networks before it blanked out: the same diagnostic, at the same
place, sooner). tests/test_lsp.py compares the two over every spec, the broken specs, the
fuzz corpus and their edits.

:class:`Analyzer` checks one document; :func:`diagnostics` turns a check's diagnostics into
ranges (offsets), with related places for the notes that name a line, the notes in the
message and the help apart (the language server shows it as a hint).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from .. import ast as A
from .. import fastparse, limits, memo
from ..ast import Module
from ..checker import check_text, prove_uses_served
from ..diagnostics import Reporter
from ..instances import Instances
from ..parser import parse, parse_statements
from ..resume import Resume
from .text import Text

if TYPE_CHECKING:
    from ..graph import CheckResult
    from .index import Index

_MEMO_LIMIT = 100_000  # applications kept between checks; past it the memo starts again

_SCAN = re.compile(r'[()\[\]{}"#\n]')
_NETWORK = re.compile(r"network(?![A-Za-z0-9_])")
_LINE_NETWORK = re.compile(r"\nnetwork(?![A-Za-z0-9_])")  # where _NETWORK may match after a newline


def network_starts(text: str) -> list[int]:
    """Where each top-level piece of the text starts: 0, and each line that begins with
    the keyword ``network`` outside every bracket, string and comment (counted as the
    parser's screening counts them)."""
    if _LINE_NETWORK.search(text) is None:  # no line begins with it: one piece (no scan)
        return [0]
    starts = [0]
    depth = 0
    in_comment = in_string = False
    for m in _SCAN.finditer(text):
        ch = m.group()
        if ch == "\n":
            in_comment = in_string = False
            if depth == 0 and _NETWORK.match(text, m.end()):
                starts.append(m.end())
        elif in_comment:
            continue
        elif in_string:
            in_string = ch != '"'
        elif ch == "#":
            in_comment = True
        elif ch == '"':
            in_string = True
        elif ch in "([{":
            depth += 1
        else:
            depth = max(0, depth - 1)
    return starts


def _plain(text: str) -> bool:
    """Whether the text passes the screens that ``parse`` applies to a text as a whole."""
    return len(text) <= limits.MAX_BYTES and "\x00" not in text and text.count("->") <= limits.MAX_LAYERS


class NetworkParser:
    """``parse``, network by network, keeping the AST of each network whose text did not
    change (nor its first line). Callable as ``parse`` is."""

    def __init__(self) -> None:
        self._file: str | None = None
        self._kept: dict[tuple[int, str], tuple[list, list]] = {}  # (first line, text) -> (networks, allowed)
        self._parts: dict[tuple, Any] = {}  # a network's header or statement -> its parse (see _by_statement)
        self._fresh: dict[tuple, Any] = {}  # the parts the latest text has
        self._bodies: dict[tuple, Any] = {}  # (line, text) of a body from its `{` -> its parse
        self._fresh_bodies: dict[tuple, Any] = {}  # the bodies the latest text has
        self.parsed = 0  # networks parsed again, in all (for tests and benchmarks)
        self.parts_parsed = 0  # headers and statements parsed again, in all
        self.bodies_split = 0  # bodies split into statements again, in all
        self.whole_parsed = 0  # networks parsed again whole (not statement by statement), in all
        self.bodies_resplit = 0  # of them, split from the split of a body of the last text
        self._splits: dict[int, tuple] = {}  # the i-th network -> its body split last, and its split

    def __call__(self, text: str, file: str, reporter: Reporter) -> Module | None:
        if file != self._file:
            self._file, self._kept, self._parts, self._fresh_bodies, self._splits = file, {}, {}, {}, {}
        if len(self._parts) > 2 * len(self._fresh) + 1000:  # stale parts: drop them
            self._parts = self._fresh
        self._fresh = {}
        self._bodies, self._fresh_bodies = self._fresh_bodies, {}
        if not _plain(text):
            self._kept = {}
            return parse(text, file, reporter)
        starts = network_starts(text)
        kept: dict[tuple[int, str], tuple[list, list]] = {}
        networks: list = []
        allowed: list = []
        line, pos = 1, 0
        for i, start in enumerate(starts):
            line += text.count("\n", pos, start)
            pos = start
            piece = text[start:starts[i + 1] if i + 1 < len(starts) else len(text)]
            got = self._kept.get((line, piece)) or self._parse(piece, line, file, i)
            if got is None:
                self._kept = kept
                return self._rest(text, start, line, file, reporter, networks, allowed)
            kept[(line, piece)] = got
            networks += got[0]
            allowed += got[1]
        self._kept = kept
        return Module(file, text, networks, allowed)

    def _parse(self, piece: str, line: int, file: str, i: int) -> tuple[list, list] | None:
        self.parsed += 1
        got = self._by_statement(piece, line, file, i)
        if got is not None:
            return got
        self.whole_parsed += 1
        module = parse("\n" * (line - 1) + piece, file, Reporter())
        return None if module is None else (module.networks, module.allowed)

    def _by_statement(self, piece: str, line: int, file: str, i: int) -> tuple[list, list] | None:
        """A network parsed statement by statement, each statement whose text and place did
        not change kept: its header (the body blanked out), then each statement apart, as
        the whole network would parse (None where one does not, or the body cannot be split).
        A body whose text and place did not change (an edit in the header) is kept whole."""
        brace = fastparse.body_open(piece)
        if brace is None:
            return None
        key = (line + piece.count("\n", 0, brace), piece[brace:])
        column = brace - piece.rfind("\n", 0, brace)
        body = self._bodies.get(key)
        if body is None or body[4] not in (None, column):  # a statement on the `{` line moved
            body = self._body(key, column, file, self._splits.get(i))
        if body is None:
            return None
        self._splits[i] = key[1], body[5]
        self._fresh_bodies[key] = body
        (close, first), statements, allowed, parts, _, _ = body
        self._fresh.update(parts)
        close, first = brace + close, brace + first
        blank = piece[first:close]  # blanked to its newlines, and blanks before the `}` where it stands
        header = piece[:first] + "\n" * blank.count("\n") + " " * (len(blank) - blank.rfind("\n") - 1) + piece[close:]
        got = self._piece(("header", line, header), lambda: parse("\n" * (line - 1) + header, file, Reporter()))
        if got is None or len(got.networks) != 1:
            return None
        h = got.networks[0]
        net = A.Network(h.span, h.name, h.name_span, h.params)
        net.add_all(statements)
        return [net], sorted(list(got.allowed) + allowed, key=lambda a: a[0])

    def _body(self, key: tuple[int, str], column: int, file: str,
              last: tuple[str, fastparse.Split] | None = None) -> tuple | None:
        """A body's statements, each parsed apart (``key``: the line of its `{` and its text
        from there; ``column``: the `{`'s; ``last``: a body split before (the last one of the
        network at the same place in the text: most likely this one before an edit) and its
        split, to split this one from): ((close, first statement) offsets in the body, the statements,
        their allow comments, the parts parsed, the column where a statement stands on the
        `{` line, else None, and the split)."""
        line, text = key
        self.bodies_split += 1
        if last is not None:
            self.bodies_resplit += 1
            split = fastparse.resplit_body(last[0], last[1], text)
        else:
            split = fastparse.split_body(text)
        if split is None:
            return None
        close, starts = split.close, split.starts
        statements, allowed, parts = [], [], {}
        at, counted = line, 0
        for start, end in zip(starts, starts[1:] + [close]):
            at, counted = at + text.count("\n", counted, start), start
            newline = text.rfind("\n", 0, start)
            col = start - newline if newline >= 0 else column + start
            part = (at, col, text[start:end])
            got = self._piece(part, lambda part=part: parse_statements(part[2], file, part[0], part[1]))
            if got is None:
                return None
            parts[part] = got
            statements += got[0]
            allowed += got[1]
        on_brace_line = "\n" not in text[:starts[0]]
        return (close, starts[0]), statements, allowed, parts, column if on_brace_line else None, split

    def _piece(self, key: tuple, parse_it):
        """A header's or a statement's parse, kept while its text and place stay the same."""
        if key not in self._parts:
            self.parts_parsed += 1
            self._parts[key] = parse_it()
        self._fresh[key] = self._parts[key]
        return self._fresh[key]

    def _rest(self, text: str, start: int, line: int, file: str, reporter: Reporter,
              networks: list, allowed: list) -> Module | None:
        """From a piece that does not parse: the rest of the text, the pieces before blanked
        out (each parsed whole, so the parser stands where it stands there in the text)."""
        module = parse("\n" * (line - 1) + text[start:], file, reporter)
        if module is None:
            return None
        return Module(file, text, networks + module.networks, allowed + module.allowed)


@dataclass
class Analysis:
    """One version of a document, checked."""

    text: Text
    file: str
    result: CheckResult
    seconds: float = 0.0  # how long the check took
    proven: bool = False  # build's proof of the networks' uses run (Analyzer.prove)

    @cached_property
    def index(self) -> Index:
        from .index import Index

        return Index(self)


class Analyzer:
    """Checks one document's versions, reusing what did not change."""

    def __init__(self, file: str, overrides: dict[str, Any] | None = None):
        self.file = file
        self.overrides = overrides or {}
        self.parser = NetworkParser()
        self.last: Analysis | None = None
        self.last_parsed: Analysis | None = None  # the latest version that parsed
        self.memo: dict = {}  # the reuse memo, kept from one version to the next (netspec.memo)
        self.resume = Resume()  # each network's check before its bindings that changed (netspec.resume)
        self.instances = Instances()  # the checks of networks at their uses (netspec.instances)

    def analyze(self, text: str) -> Analysis:
        if self.last is not None and self.last.text.text == text:
            return self.last
        import time

        t = time.perf_counter()
        if sum(len(m) for by_params in self.memo.values() for m in by_params.values()) > _MEMO_LIMIT:
            self.memo = {}
        result = check_text(text, self.file, self.overrides, parser=self.parser, memo=self.memo,
                            resume=self.resume, prove_uses=False, instances=self.instances)  # build's proof: `netspec check`'s
        for by_params in self.memo.values():
            for applied in by_params.values():
                memo.keep_for_next_check(applied)
        self.last = Analysis(Text(text), self.file, result, time.perf_counter() - t)
        if result.module is not None:
            self.last_parsed = self.last
        return self.last

    def prove(self, analysis: Analysis) -> bool:
        """Build's proof that each network's class serves its uses, which ``analyze`` leaves
        out (it costs as much as the check of a file of many uses): run once per version,
        its `build` errors joined to the version's diagnostics, which are then those of
        `netspec check`. Whether it added any (the server then publishes again)."""
        if analysis.proven:
            return False
        analysis.proven = True
        return prove_uses_served(analysis.result, self.file)


# -- diagnostics -----------------------------------------------------------------------------------

SEVERITY = {"error": 1, "warning": 2}  # LSP's DiagnosticSeverity


@dataclass
class Related:
    start: int
    end: int
    message: str


@dataclass
class Diag:
    """A diagnostic as an editor shows it: offsets, severity (1 error, 2 warning), code, the
    message with its notes, the places its notes name, and its help (the fix)."""

    start: int
    end: int
    severity: int
    code: str
    message: str
    related: list[Related] = field(default_factory=list)
    help: str = ""


_LINE_NOTE = re.compile(r"\bline (\d+)(?:, column (\d+))?")


def _note_place(text: Text, file: str, note: str) -> tuple[int, int] | None:
    """The place a note names: ``FILE:LINE:COLUMN`` of this file, or ``line N[, column C]``."""
    where = re.search(re.escape(file) + r":(\d+):(\d+)", note) if file else None
    if where:
        line, column = int(where.group(1)), int(where.group(2))
        start = text.offset(line, column)
        return start, max(start, text.line_text(line)[1])
    m = _LINE_NOTE.search(note)
    if m is None:
        return None
    line = int(m.group(1))
    if not 1 <= line <= len(text.line_starts()):
        return None
    first, last = text.line_text(line)
    if m.group(2):
        first = text.offset(line, int(m.group(2)))
    return first, max(first, last)


def diagnostics(analysis: Analysis) -> list[Diag]:
    """The check's diagnostics, as ``netspec check`` reports them, in an editor's terms."""
    text, out = analysis.text, []
    for d in analysis.result.reporter.items:
        start, end = text.span(d.span)
        lines = [d.message] + [f"note: {n}" for n in d.notes]
        related = []
        for note in d.notes:
            place = _note_place(text, analysis.file, note)
            if place is not None:
                related.append(Related(place[0], place[1], note))
        out.append(Diag(start, end, SEVERITY.get(d.severity, 1), str(d.code), "\n".join(lines), related,
                        d.help or ""))
    return out
