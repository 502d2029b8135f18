"""Diagnostics: spans, stable codes, and rustc-style rendering.

A :class:`Span` travels from the parser to every diagnostic. Codes are stable: tools and
tests match on them, and ``docs/errors.md`` documents each with an example and its fix.
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter
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
        # sizes a refused declaration left unknown (an input dim): a diagnostic whose message
        # states one is a consequence of that error, not a mistake of its own (finish drops it)
        self.unknown_sizes: set[str] = set()

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

    def finish(self) -> None:
        """The diagnostics as a check gives them, however it got them (checked afresh, or
        resumed from a kept state, netspec.resume): the ones that state a size a refused
        declaration left unknown dropped (consequences of that error), in the order of their
        places."""
        unknown = self.unknown_sizes
        if unknown:
            self.items[:] = [d for d in self.items if not any(name in d.message for name in unknown)]
        self.items.sort(key=lambda d: (d.span.line, d.span.column))

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


# -- `did you mean` ----------------------------------------------------------------------------

SUGGEST_SCAN = 200  # a pool of names this small is compared name by name
NEAR_LENGTH = 32  # names up to this long are indexed by every one-letter deletion
GRAM_POSTINGS = 64  # names read per trigram of the unknown name: the last ones given
GRAM_TOP = 4  # names sharing the most trigrams with the unknown name that are compared
_INDEXES: dict[int, tuple[tuple, "NameIndex"]] = {}  # id(pool) -> (fingerprint, index)
_LISTS: list[tuple[list[str], "NameIndex"]] = []  # recent list pools, compared by content
_CACHED = 4


def _deletions(low: str) -> list[str]:
    """``low`` and, for a name up to NEAR_LENGTH long, every way of deleting one letter."""
    if len(low) > NEAR_LENGTH:
        return [low]
    return [low, *{low[:i] + low[i + 1:] for i in range(len(low))}]


def _trigrams(low: str) -> list[str]:
    padded = f"^{low}$"
    return list(dict.fromkeys(padded[i:i + 3] for i in range(max(1, len(padded) - 2))))


class NameIndex:
    """Known names indexed for `did you mean`, so that an unknown name is compared with the
    few names near it rather than with every name: a name one edit away (a letter added,
    dropped, changed or two swapped, case aside) shares a one-letter deletion with it, and
    a name further away shares its rarer trigrams (indexed when first needed)."""

    __slots__ = ("names", "known", "near", "grams", "gram_count")

    def __init__(self, names: Iterable[str] = ()) -> None:
        self.names: list[str] = []  # in the order given
        self.known: set[str] = set()
        self.near: dict[str, str | list[str]] = {}  # a name or one deletion, lowered -> names
        self.grams: dict[str, list[str]] = {}  # a trigram of a lowered name -> names, in order
        self.gram_count = 0  # how many of ``names`` ``grams`` holds
        self.add(names)

    def add(self, names: Iterable[str]) -> None:
        near, known = self.near, self.known
        for name in names:
            if name in known or not isinstance(name, str):
                continue
            known.add(name)
            self.names.append(name)
            for key in _deletions(name.lower()):
                held = near.get(key)
                if held is None:
                    near[key] = name
                elif isinstance(held, str):
                    near[key] = [held, name]
                else:
                    held.append(name)

    def _index_grams(self) -> None:
        grams = self.grams
        for name in self.names[self.gram_count:]:
            for gram in _trigrams(name.lower()):
                grams.setdefault(gram, []).append(name)
        self.gram_count = len(self.names)

    def nearby(self, name: str) -> dict[str, float]:
        """Names one edit from ``name`` (case aside), each with 2 * m / (its length + the
        length of ``name``), m the length of a subsequence they share: a bound below
        difflib's ratio, which is what would have to be computed otherwise."""
        found: dict[str, float] = {}
        size = len(name)
        for key in _deletions(name.lower()):
            held = self.near.get(key)
            if held is None:
                continue
            for known in (held,) if isinstance(held, str) else held:
                score = 2 * len(key) / (size + len(known))
                if score > found.get(known, 0.0):
                    found[known] = score
        return found

    def sharing(self, name: str) -> list[str]:
        """The names sharing the most trigrams with ``name``, a third of its trigrams at
        least and two (ties by name): a name one edit away is found by :meth:`nearby`."""
        if self.gram_count < len(self.names):
            self._index_grams()
        grams = _trigrams(name.lower())
        counts: Counter = Counter()
        for gram in grams:
            names = self.grams.get(gram)
            if names:
                counts.update(names[-GRAM_POSTINGS:])
        need = max(2, len(grams) // 3)
        shared = [(-c, n) for n, c in counts.items() if c >= need]
        return [n for _, n in heapq.nsmallest(GRAM_TOP, shared)]


def _fingerprint(pool: dict) -> tuple:
    """What tells a dict seen before (by its id) from another that took its place: a pool
    given as a dict is taken to only grow."""
    return (next(iter(pool), None), len(pool), next(reversed(pool), None))


def _dict_index(pool: dict) -> NameIndex:
    held = _INDEXES.get(id(pool))
    first, size, last = _fingerprint(pool)
    if held is not None:
        (was_first, was_size, was_last), index = held
        if was_first == first and was_size <= size and was_last in pool:
            if size > was_size:  # the keys added since, read from the newest
                index.add(reversed(list(itertools.islice(reversed(pool), size - was_size))))
            _INDEXES[id(pool)] = ((first, size, last), index)
            return index
    while len(_INDEXES) >= _CACHED:
        del _INDEXES[next(iter(_INDEXES))]
    index = NameIndex(pool)
    _INDEXES[id(pool)] = ((first, size, last), index)
    return index


def _list_index(names: list[str]) -> NameIndex:
    for i, (seen, index) in enumerate(_LISTS):
        if len(seen) == len(names) and names == seen:
            return index
        if len(seen) < len(names) and names[:len(seen)] == seen:
            index.add(names[len(seen):])
            seen.extend(names[len(seen):])
            _LISTS.insert(0, _LISTS.pop(i))
            return index
    index = NameIndex(names)
    _LISTS.insert(0, (list(names), index))
    del _LISTS[_CACHED:]
    return index


def _pool(pool: Iterable[str]) -> tuple[list[str], NameIndex | None]:
    """(every name, when the pool is small enough to compare them all; else its index)."""
    if isinstance(pool, dict):
        if len(pool) <= SUGGEST_SCAN:
            return list(pool), None
        return [], _dict_index(pool)
    names = pool if isinstance(pool, list) else list(pool)
    if len(names) <= SUGGEST_SCAN:
        return names, None
    return [], _list_index(names)


def _ratios(query: str, names: Iterable[str]) -> list[tuple[float, str]]:
    """(difflib's ratio, name) for the names of ``names`` CUTOFF close to ``query`` or
    closer, with difflib.get_close_matches's quick tests first."""
    import difflib  # only once a name is unknown: its import costs every check's start-up time

    matcher = difflib.SequenceMatcher()
    matcher.set_seq2(query)
    found = []
    for x in names:
        matcher.set_seq1(x)
        if matcher.real_quick_ratio() >= CUTOFF and matcher.quick_ratio() >= CUTOFF:
            score = matcher.ratio()
            if score >= CUTOFF:
                found.append((score, x))
    return found


def _scored(name: str, pool: list[str]) -> list[tuple[float, str]]:
    """The names of ``pool`` close to ``name``; compared case aside when none is close as
    given (what `did you mean` always did)."""
    found = _ratios(name, pool)
    if found:
        return found
    lowered = {c.lower(): c for c in pool}
    return [(score, lowered[x]) for score, x in _ratios(name.lower(), lowered)]


CUTOFF = 0.6


def suggest(name: str, *pools: Iterable[str]) -> str | None:
    """`did you mean ...?` text for the (up to 3) closest known names in ``pools``, or None.

    A small pool is compared name by name (difflib's ratio); a large one through a
    :class:`NameIndex`, kept while the pool lives (a dict pool is taken to only grow), so
    that a spec with thousands of names and thousands of misspellings is checked in about
    linear time."""
    small: list[str] = []
    indexes = []
    for pool in pools:
        names, index = _pool(pool)
        small.extend(names)
        if index is not None:
            indexes.append((pool, index))
    scored = _scored(name, list(dict.fromkeys(small))) if small else []
    for pool, index in indexes:
        scored += [(score, n) for n, score in index.nearby(name).items()
                   if score >= CUTOFF and (n in pool if isinstance(pool, dict) else True)]
    if not scored and indexes:
        far = [n for pool, index in indexes for n in index.sharing(name)
               if (n in pool if isinstance(pool, dict) else True)]
        scored = _scored(name, list(dict.fromkeys(far)))
    if not scored:
        return None
    best: dict[str, float] = {}
    for score, n in scored:
        best[n] = max(score, best.get(n, 0.0))
    close = [n for _, n in heapq.nlargest(3, [(score, n) for n, score in best.items()])]
    return "did you mean " + " or ".join(f"`{c}`" for c in close) + "?"


# -- text for a terminal -----------------------------------------------------------------------

_CONTROLS = [*range(0x20), 0x7F, *range(0x80, 0xA0)]
_ESCAPES = {c: f"\\x{c:02x}" for c in _CONTROLS}
_TEXT = str.maketrans(_ESCAPES)
_LINES = str.maketrans({c: e for c, e in _ESCAPES.items() if c != 0x0A})
_LINE = str.maketrans({**_ESCAPES, 0x09: " "})  # a tab in a shown source line is layout


def printable(text: str, newlines: bool = False) -> str:
    """``text`` with every control character (C0, DEL, C1) written as ``\\xNN`` (a newline
    too, unless ``newlines``), so that what a spec or a path holds cannot move the cursor,
    retitle the window or recolour a terminal. Whatever netspec prints that comes from a
    spec or a path goes through this."""
    if text.isprintable():
        return text
    return text.translate(_LINES if newlines else _TEXT)


MAX_SHOWN = 160  # characters of a source line shown; a longer one is cut around the span


def _shown_line(text: str, column: int, width: int) -> tuple[str, int, int]:
    """The source line as shown (control characters escaped, tabs as one space, a long line
    cut around the span) and the span's column and width in it."""
    head = tail = ""
    start = 0
    if len(text) > MAX_SHOWN:  # a generated line: show a window around the span
        start = max(0, min(column - 1 - MAX_SHOWN // 3, len(text) - MAX_SHOWN))
        head = "…" if start else ""
        tail = "…" if start + MAX_SHOWN < len(text) else ""
        width = max(1, min(width, MAX_SHOWN - (column - start - 1)))  # not past the window
        text = text[start:start + MAX_SHOWN]
    first = column - 1 - start  # where the span starts in ``text``

    def at(i: int) -> int:  # where position i of ``text`` lands in the shown line
        return len(head) + len(text[:i].translate(_LINE)) + max(0, i - len(text))

    shown = head + text.translate(_LINE) + tail
    return shown, at(first) + 1, max(1, at(first + width) - at(first))


def render(diag: Diagnostic, lines: list[str] | None, color: bool = False) -> str:
    """rustc-style text: header, the source line with the span marked, notes, help.
    ``lines`` are the source's lines, split once (:func:`netspec.syntax.source_lines`) for
    every diagnostic of the file. What comes from the spec is shown :func:`printable`."""
    s = diag.span

    def paint(text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if color else text

    sev = paint(diag.severity, "1;31" if diag.severity == "error" else "1;33")
    out = [f"{printable(s.where())}: {sev}[{diag.code}]: {printable(diag.message)}"]
    if lines is not None and 1 <= s.line <= len(lines):
        raw = lines[s.line - 1]
        end = s.end_column if s.end_line == s.line else len(raw) + 1
        text, column, width = _shown_line(raw, s.column, max(1, end - s.column))
        gutter = str(s.line)
        pad = " " * len(gutter)
        out.append(f" {gutter} | {text}")
        marks = paint("^" * width, "1;31" if diag.severity == "error" else "1;33")
        out.append(f" {pad} | {' ' * (column - 1)}{marks}")
        prefix = f" {pad} "
    else:
        prefix = "  "
    for note in diag.notes:
        out.append(f"{prefix}= note: {printable(note)}")
    if diag.help:
        out.append(f"{prefix}= help: {printable(diag.help)}")
    return "\n".join(out)
