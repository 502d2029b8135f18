"""A fast path for parsing: a hand-written parser for the grammar in ``grammar/netspec.lark``.

Lark's LALR parser, with the positions every diagnostic needs, costs about 20 µs a token
in pure Python, which makes it the largest part of checking a big spec. This module reads
the same language with one regular expression for the tokens and a recursive-descent
parser over them (about a tenth of the cost), and builds exactly the AST that
:func:`netspec.parser.parse` builds from Lark's tree, spans included.

It is only a fast path. The grammar file stays the definition of the language and Lark
stays its parser of record: :func:`parse` returns ``None`` (declines) for anything it is
not certain of, and the caller then parses with Lark, which accepts or reports the error.
It declines on every syntax error, on a keyword spelled where Lark's contextual lexer might
read it as a name, and on nesting deep enough for Lark's depth limit to matter; so when it
returns a module, Lark would have returned the same one (tests/test_fastparse.py checks
this on every spec, on the language document's examples and on generated programs).
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from typing import NamedTuple

from .ast import (
    ALLOW_COMMENT,
    DECLARATIONS,
    KEYWORDS,
    Arg,
    Binding,
    Bool,
    Call,
    Chain,
    Dots,
    Float,
    Input,
    Int,
    Module,
    Neg,
    Network,
    Output,
    Param,
    Ref,
    SharedDecl,
    Slice,
    Stage,
    StageCall,
    StageGroup,
    Str,
    Subscript,
    TensorDecl,
    TensorType,
    Tuple,
    float_literal,
)
from .ast import BinOp as _BinOp
from .diagnostics import Span

# The terminals of grammar/netspec.lark (FLOAT before INT, `->` before `-`, as Lark orders
# them), each after the blanks that precede it. Every character but trailing blanks matches
# one alternative, so findall() skips nothing else; the last one catches what the grammar
# has no terminal for.
_TOKENS = re.compile(r"""
    ([ \t\f\r]*)
    (?:(\n+)
      |(\#[^\n]*)
      |([0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[0-9][0-9_]*[eE][-+]?[0-9]+)
      |([0-9][0-9_]*)
      |([A-Za-z_][A-Za-z0-9_]*)
      |("[^"\\\n]*")
      |(->|//|\*\*|\.\.\.|[-+*/%@=:,.()\[\]{}])
      |([^ \t\f\r]))
""", re.VERBOSE | re.DOTALL)

# Lark's tree for one level of this parser's depth count is at most 4 levels deep (chain ->
# stage -> stage_call -> kwarg -> chain), so below this bound Lark's own depth limit
# (limits.MAX_DEPTH * 4 tree levels) cannot be reached, and Python's recursion stays shallow.
_MAX_DEPTH = 80

_EOF = "$END"
_PRODUCT = frozenset({"*", "/", "//", "%", "@"})


class _Decline(Exception):
    """Not certain: leave this text to Lark."""


def parse(text: str, file: str) -> Module | None:
    """The module Lark would build from ``text``, or None to say: ask Lark."""
    try:
        return _Parser(text, file).module()
    except (_Decline, RecursionError):
        return None


def parse_statements(text: str, file: str, line: int, col: int) -> tuple[list, list] | None:
    """The statements in ``text`` (a part of a network's body that starts at ``line`` and
    ``col`` in the file) and its allow comments, as :func:`parse` would build them inside the
    network; None to say: parse the whole network."""
    try:
        p = _Parser(text, file, line, col)
        statements = []
        while p.types[p.i] != _EOF:
            statements.append(p.statement())
        return statements, p.allowed()
    except (_Decline, RecursionError):
        return None


# What body_statements reads: comments, strings and numbers (1-3, skipped), names (4) and the
# brackets and punctuation that separate statements (5); every other character is skipped.
_SPLIT = re.compile(r"""(\#[^\n]*)|("[^"\\\n]*")|([0-9][0-9_]*(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?)"""
                    r"|([A-Za-z_][A-Za-z0-9_]*)|([()\[\]{},=.])")
_NAME = 4


def body_statements(text: str) -> tuple[int, list[int]] | None:
    """Where each statement of a network's body starts, and where the body closes (offsets
    in ``text``: one network and the comments after it), read from the tokens alone: outside
    brackets, a statement starts at `input`, `output`, `param|buffer|shared NAME`, or the
    names before a binding's `=`. None where the text does not read so."""
    brace = body_open(text)
    if brace is None:
        return None
    split = body_split(text[brace:])
    if split is None:
        return None
    return brace + split[0], [brace + at for at in split[1]]


def body_open(text: str) -> int | None:
    """The offset of the `{` that opens the body of the network ``text`` begins with (the
    first outside brackets), read from the tokens of its header only."""
    depth, first = 0, True
    for m in _SPLIT.finditer(text):
        if m.lastindex <= 3:
            continue
        value = m.group()
        if first:
            if value != "network":
                return None
            first = False
        elif depth == 0 and value == "{":
            return m.start()
        else:
            depth += value in "(["
            depth -= value in ")]"
    return None


def body_split(body: str) -> tuple[int, list[int]] | None:
    """body_statements for a body alone (``body`` starts at its `{`): offsets in ``body``."""
    got = split_body(body)
    return None if got is None else (got.close, got.starts)


class Split(NamedTuple):
    """A body split into statements (:func:`body_split`: where it closes, where each
    statement starts), with the places where a split of the body edited may start from
    this one, or join it again (:func:`resplit_body`): the offset of a token the split
    stood on, where nothing read before it reads that token or one past it -> (the depth
    of brackets there, the token before it)."""

    close: int
    starts: list[int]
    marks: dict[int, tuple[int, str]]


_MARK_EVERY = 24  # tokens between two marks, at least
_WINDOW = 512  # characters past an edit first read by resplit_body (then twice as many, ...)


class _Walk:
    """body_split's walk over tokens ``toks`` (the token before the first one to read
    first), from token ``i``, with the statements' starts and the marks found so far."""

    __slots__ = ("toks", "i", "depth", "reach", "starts", "marks", "next_mark")

    def __init__(self, toks: list, depth: int, starts: list[int], marks: dict):
        self.toks, self.i, self.depth, self.reach = toks, 1, depth, 0
        self.starts, self.marks, self.next_mark = starts, marks, 1

    def run(self, complete: bool, rejoin=None) -> str:
        """Walks on: "end" where the tokens end or the body closes; "more" where the text
        goes on past ``toks`` (not ``complete``) and the walk needs a token past them (it
        stops before the token that asks, to go on once more are added); "rejoin" where
        ``rejoin(at, depth, before)`` says the walk stands where a split of the old text
        did, in the same state."""
        toks, i, depth, reach = self.toks, self.i, self.depth, self.reach
        starts, marks, n = self.starts, self.marks, len(toks)
        result = "end"
        while i < n and depth:
            kind, value, at = toks[i]
            if i > reach:
                if rejoin is not None and rejoin(at, depth, toks[i - 1][1]):
                    result = "rejoin"
                    break
                if i >= self.next_mark:
                    marks[at] = (depth, toks[i - 1][1])
                    self.next_mark = i + _MARK_EVERY
            if depth == 1 and kind == _NAME:
                after, read = _statement_at(toks, i)
                if read >= n and not complete:
                    result = "more"
                    break
                reach = max(reach, read)
                if after:
                    starts.append(at)
                    i = after
                    continue
            if value in "([{":
                depth += 1
            elif value in ")]}":
                depth -= 1
            i += 1
        if result == "end" and not complete and i >= n:
            result = "more"
        self.i, self.depth, self.reach = i, depth, reach
        return result

    def ended(self) -> int | None:
        """Where the body closes, after a walk to the end of all the tokens; None where the
        tokens do not read as one body (unclosed, something after it, no statement)."""
        toks = self.toks
        if self.depth or self.i != len(toks) or not self.starts or toks[-1][1] != "}":
            return None
        return toks[-1][2]


def _tokens(text: str) -> list:
    """The tokens body_split reads."""
    return [(m.lastindex, m.group(), m.start()) for m in _SPLIT.finditer(text) if m.lastindex > 3]


def _window(text: str, pos: int, end: int) -> tuple[list, int, bool]:
    """The tokens body_split reads from ``pos`` that start before ``end``; where to read on
    (the next one's start); whether they are all the text has."""
    toks = []
    for m in _SPLIT.finditer(text, pos):
        if m.start() >= end:
            return toks, m.start(), False
        if m.lastindex > 3:
            toks.append((m.lastindex, m.group(), m.start()))
    return toks, len(text), True


def split_body(body: str) -> Split | None:
    """:func:`body_split`, with the marks :func:`resplit_body` reuses."""
    toks = _tokens(body)
    walk = _Walk(toks or [(0, "", -1)], 1, [], {})
    walk.run(True)
    close = walk.ended()
    return None if close is None else Split(close, walk.starts, walk.marks)


def _common(old: str, new: str) -> tuple[int, int]:
    """The lengths of the longest common prefix, and of the longest common suffix of what
    follows it (slices compared by halves: each comparison runs in C)."""
    lo, hi = 0, min(len(old), len(new))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if old[lo:mid] == new[lo:mid]:
            lo = mid
        else:
            hi = mid - 1
    prefix = lo
    lo, hi = 0, min(len(old), len(new)) - prefix
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if old[len(old) - mid:len(old) - lo] == new[len(new) - mid:len(new) - lo]:
            lo = mid
        else:
            hi = mid - 1
    return prefix, lo


def resplit_body(old: str, split: Split, new: str) -> Split | None:
    """``split_body(new)``, where ``split`` is ``split_body(old)`` and ``new`` is ``old``
    edited: the walk starts again at the last mark a line or more before the first character
    that changed (the tokens and the walk before it are the same: no token reads past its
    line but a `,`-separated list of names, which the marks' rule stops at), and joins the
    old split again at its first mark past the last character that changed where it stands
    in the same state (everything after it is read alike), the old split's offsets from
    there shifted."""
    prefix, suffix = _common(old, new)
    line = new.rfind("\n", 0, prefix)
    keys = list(split.marks)
    k = bisect_right(keys, line) - 1
    if line < 0 or k < 0:
        return split_body(new)
    start = keys[k]
    depth, before = split.marks[start]
    shift, tail = len(new) - len(old), len(new) - suffix
    old_marks = split.marks

    def rejoin(at: int, depth: int, before: str) -> bool:
        return at >= tail and old_marks.get(at - shift) == (depth, before)

    end = tail + _WINDOW
    toks, pos, complete = _window(new, start, end)
    walk = _Walk([(0, before, -1)] + toks, depth, split.starts[:bisect_left(split.starts, start)],
                 {m: old_marks[m] for m in keys[:k]})
    got = walk.run(complete, rejoin)
    while got == "more":
        end = tail + 2 * (end - tail)
        toks, pos, complete = _window(new, pos, end)
        walk.toks += toks
        got = walk.run(complete, rejoin)
    if got == "end":
        close = walk.ended()
        return None if close is None else Split(close, walk.starts, walk.marks)
    at = walk.toks[walk.i][2]
    starts = walk.starts + [s + shift for s in split.starts[bisect_left(split.starts, at - shift):]]
    marks = walk.marks
    marks.update((m + shift, v) for m, v in old_marks.items() if m >= at - shift)
    return Split(split.close + shift, starts, marks) if starts else None


def _statement_at(toks: list, i: int) -> tuple[int, int]:
    """The index past the tokens that begin a statement at token ``i`` (a NAME), else 0;
    and the index of the last token read to tell."""
    word = toks[i][1]
    if toks[i - 1][1] in (".", "as"):  # an attribute or a name given (`enc.output`, `as input`)
        return 0, i
    if word in ("input", "output"):
        return i + 1, i
    if word in DECLARATIONS and i + 1 < len(toks) and toks[i + 1][0] == _NAME:
        return i + 2, i + 1  # past the name declared: `shared cell = ...` is one statement
    j = i + 1
    while j + 1 < len(toks) and toks[j][1] == "," and toks[j + 1][0] == _NAME:
        j += 2
    read = j + 1 if j >= len(toks) or toks[j][1] == "," else j
    return (j + 1 if j < len(toks) and toks[j][1] == "=" else 0), read


class _Parser:
    __slots__ = ("file", "types", "texts", "lines", "cols", "ends", "i", "depth", "comments", "text")

    def __init__(self, text: str, file: str, line: int = 1, col: int = 1):
        self.file = file
        self.text = text
        types: list[str] = []
        texts: list[str] = []
        lines: list[int] = []
        cols: list[int] = []
        ends: list[int] = []
        comments: list[tuple[int, str]] = []
        for blank, newline, comment, flt, integer, name, string, punct, _other in _TOKENS.findall(text):
            col += len(blank)
            if newline:  # a run of them at once
                line += len(newline)
                col = 1
                continue
            if name:
                kind, value = "NAME", name
            elif punct:
                kind = value = punct
            elif integer:
                kind, value = "INT", integer
            elif comment:
                comments.append((line, comment))
                col += len(comment)
                continue
            elif flt:
                kind, value = "FLOAT", flt
            elif string:
                kind, value = "STRING", string
            else:
                raise _Decline()
            types.append(kind)
            texts.append(value)
            lines.append(line)
            cols.append(col)
            col += len(value)
            ends.append(col)
        types.append(_EOF)
        texts.append("")
        lines.append(line)
        cols.append(0)
        ends.append(0)
        self.types, self.texts, self.lines, self.cols, self.ends = types, texts, lines, cols, ends
        self.comments = comments
        self.i = 0
        self.depth = 0

    # -- tokens ------------------------------------------------------------------------------
    def span(self, first: int, last: int) -> Span:
        """The span from token ``first`` to token ``last``, as Lark's propagated positions."""
        return Span(self.file, self.lines[first], self.cols[first], self.lines[last], self.ends[last])

    def expect(self, t: str) -> int:
        i = self.i
        if self.types[i] != t:
            raise _Decline()
        self.i = i + 1
        return i

    def keyword(self, word: str) -> bool:
        """Consume ``word`` when it comes next (Lark reads it as the keyword wherever it is expected)."""
        i = self.i
        if self.types[i] == "NAME" and self.texts[i] == word:
            self.i = i + 1
            return True
        return False

    def name(self, any_word: bool = False) -> int:
        """A NAME token. A keyword's spelling is a name to Lark only where no keyword can
        come; this parser takes it only after `network`, `input`, `.` and `as`."""
        i = self.i
        if self.types[i] != "NAME" or (not any_word and self.texts[i] in KEYWORDS):
            raise _Decline()
        self.i = i + 1
        return i

    def deeper(self) -> None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise _Decline()

    # -- module, network, statements -------------------------------------------------------------
    def module(self) -> Module:
        networks = []
        while self.types[self.i] != _EOF:
            networks.append(self.network())
        return Module(self.file, self.text, networks, self.allowed())

    def allowed(self) -> list[tuple[int, str]]:
        """(line, code) of each `# netspec: allow[code]` comment read."""
        allowed = []
        for line, comment in self.comments:
            m = ALLOW_COMMENT.search(comment)
            if m:
                for code in m.group(1).split(","):
                    allowed.append((line, code.strip()))
        return allowed

    def network(self) -> Network:
        first = self.i
        if not self.keyword("network"):
            raise _Decline()
        name = self.name(any_word=True)
        params: list[Param] = []
        if self.types[self.i] == "(":
            self.i += 1
            while self.types[self.i] != ")":
                params.append(self.param())
                if self.types[self.i] == ",":
                    self.i += 1
                elif self.types[self.i] != ")":
                    raise _Decline()
            self.i += 1
        self.expect("{")
        statements = []
        while self.types[self.i] != "}":
            statements.append(self.statement())
        last = self.expect("}")
        net = Network(self.span(first, last), self.texts[name], self.span(name, name), params)
        for st in statements:
            net.add(st)
        return net

    def param(self) -> Param:
        first = self.name()
        default = None
        if self.types[self.i] == "=":
            self.i += 1
            default = self.expr()
        return Param(self.span(first, self.i - 1), self.texts[first], default)

    def statement(self):
        first = self.i
        if self.keyword("input"):
            name = self.name(any_word=True)
            self.expect(":")
            tt = self.tensor_type()
            return Input(self.span(first, self.i - 1), self.texts[name], tt, self.span(name, name))
        if self.keyword("output"):
            refs = [self.ref()]
            while self.types[self.i] == ",":
                self.i += 1
                refs.append(self.ref())
            return Output(self.span(first, self.i - 1), refs)
        if self.texts[first] in DECLARATIONS and self.types[first] == "NAME" and self.types[first + 1] == "NAME":
            return self.declaration()
        names = [self.name()]
        while self.types[self.i] == ",":
            self.i += 1
            names.append(self.name())
        self.expect("=")
        chain = self.chain()
        targets = [(self.texts[n], self.span(n, n)) for n in names] if len(names) > 1 else []
        return Binding(self.span(first, self.i - 1), self.texts[names[0]], chain, self.span(names[0], names[0]),
                       targets)

    def declaration(self):
        """`param|buffer NAME: type (= expr)?` or `shared NAME = stage_core`."""
        first = self.i
        word = self.texts[first]
        self.i += 1
        name = self.name()
        if word == "shared":
            self.expect("=")
            core = self.stage_core()
            return SharedDecl(self.span(first, self.i - 1), self.texts[name], self.span(name, name), core)
        self.expect(":")
        tt = self.tensor_type()
        init = None
        if self.types[self.i] == "=":
            self.i += 1
            init = self.expr()
        return TensorDecl(self.span(first, self.i - 1), word, self.texts[name], self.span(name, name), tt, init)

    def tensor_type(self) -> TensorType:
        first = self.i
        dtype = dspan = None
        if self.types[first] == "NAME":
            self.name()
            dtype, dspan = self.texts[first], self.span(first, first)
        self.expect("[")
        dims = []
        while self.types[self.i] != "]":
            dims.append(self.expr())
            if self.types[self.i] == ",":
                self.i += 1
            elif self.types[self.i] != "]":
                raise _Decline()
        self.i += 1
        return TensorType(self.span(first, self.i - 1), dtype, dspan, dims)

    # -- chains and stages --------------------------------------------------------------------
    def chain(self) -> Chain:
        self.deeper()
        first = self.i
        source = self.expr()
        assertion = None
        if self.types[self.i] == ":":
            self.i += 1
            assertion = self.tensor_type()
        stages = []
        types = self.types
        while types[self.i] == "->":
            self.i += 1
            stages.append(self.stage())
        self.depth -= 1
        return Chain(self.span(first, self.i - 1), source, assertion, stages)

    def stage_core(self):
        first = self.i
        types = self.types
        if types[first] == "(":
            self.deeper()
            self.i += 1
            stages = [self.stage()]
            while types[self.i] == "->":
                self.i += 1
                stages.append(self.stage())
            self.expect(")")
            self.depth -= 1
            return StageGroup(self.span(first, self.i - 1), stages)
        name = self.name()
        args: list[Arg] = []
        if types[self.i] == "(":
            self.i += 1
            args = self.args()
        return StageCall(self.span(first, self.i - 1), self.texts[name], args, self.i - 1 != name,
                         self.span(name, name))

    def stage(self) -> Stage:
        first = self.i
        types = self.types
        st = Stage(None, self.stage_core())
        if types[self.i] == "*":
            self.i += 1
            self.deeper()
            st.repeat = self.unary()
            self.depth -= 1
        if self.keyword("as"):
            alias = self.i
            if types[alias] == "STRING":  # a quoted name, kept exactly
                self.i += 1
                st.alias, st.alias_quoted = self.texts[alias][1:-1], True
            else:
                st.alias = self.texts[self.name(any_word=True)]
            st.alias_span = self.span(alias, alias)
            if types[self.i] == "{":
                self.i += 1
                start = self.expect("INT")
                self.expect("}")
                st.alias_start = int(self.texts[start].replace("_", ""))
        if types[self.i] == ":":
            self.i += 1
            st.assertion = self.tensor_type()
        st.span = self.span(first, self.i - 1)
        return st

    def args(self) -> list[Arg]:
        """Arguments after `(`, up to and including `)`."""
        out = []
        types = self.types
        while types[self.i] != ")":
            first = self.i
            if types[first] == "NAME" and types[first + 1] == "=":
                self.name()
                self.i += 1
                value = _unwrap(self.chain())
                out.append(Arg(self.span(first, self.i - 1), self.texts[first], value))
            else:
                ch = self.chain()
                out.append(Arg(ch.span, None, _unwrap(ch)))
            if types[self.i] == ",":
                self.i += 1
            elif types[self.i] != ")":
                raise _Decline()
        self.i += 1
        return out

    # -- expressions --------------------------------------------------------------------------
    def expr(self):
        first = self.i
        types = self.types
        left = self.product()
        if types[self.i] not in ("+", "-"):
            return left
        depth = self.depth
        while types[self.i] in ("+", "-"):  # left-associative: each operator is one level more
            op = types[self.i]
            self.i += 1
            self.deeper()
            left = _BinOp(None, op, left, self.product())
            left.span = self.span(first, self.i - 1)
        self.depth = depth
        return left

    def product(self):
        first = self.i
        types = self.types
        left = self.unary()
        if types[self.i] not in _PRODUCT:
            return left
        depth = self.depth
        while types[self.i] in _PRODUCT:
            op = types[self.i]
            self.i += 1
            self.deeper()
            left = _BinOp(None, op, left, self.unary())
            left.span = self.span(first, self.i - 1)
        self.depth = depth
        return left

    def unary(self):
        first = self.i
        if self.types[first] == "-":
            self.i += 1
            self.deeper()
            inner = self.unary()
            self.depth -= 1
            span = self.span(first, self.i - 1)
            if isinstance(inner, (Int, Float)):
                return type(inner)(span, -inner.value)
            return Neg(span, inner)
        return self.power()

    def power(self):
        first = self.i
        base = self.postfix()
        if self.types[self.i] != "**":
            return base
        self.i += 1
        self.deeper()
        exponent = self.unary()
        self.depth -= 1
        return _BinOp(self.span(first, self.i - 1), "**", base, exponent)

    def postfix(self):
        first = self.i
        value = self.atom()
        types = self.types
        depth = self.depth
        while types[self.i] == "[":
            self.i += 1
            self.deeper()
            items = [self.subscript()]
            while types[self.i] == ",":
                self.i += 1
                if types[self.i] == "]":
                    break
                items.append(self.subscript())
            self.expect("]")
            value = Subscript(self.span(first, self.i - 1), value, items)
        self.depth = depth
        return value

    def subscript(self):
        """One item of `x[...]`: an expression, a slice `a:b:c` (each part optional) or `...`."""
        first = self.i
        types = self.types
        if types[first] == "...":
            self.i += 1
            return Dots(self.span(first, first))
        start = None if types[first] == ":" else self.expr()
        if types[self.i] != ":":
            return start
        parts = [start]
        while types[self.i] == ":" and len(parts) < 3:
            self.i += 1
            parts.append(None if types[self.i] in (":", ",", "]") else self.expr())
        return Slice(self.span(first, self.i - 1), *parts, *([None] * (3 - len(parts))))

    def atom(self):
        i = self.i
        t = self.types[i]
        if t == "NAME":
            text = self.texts[i]
            if text == "true" or text == "false":
                self.i = i + 1
                return Bool(self.span(i, i), text == "true")
            if self.types[i + 1] == "(":
                self.name()
                self.i += 1
                self.deeper()
                args = self.args()
                self.depth -= 1
                return Call(self.span(i, self.i - 1), text, args, self.span(i, i))
            return self.ref()
        if t == "INT":
            self.i = i + 1
            return Int(self.span(i, i), int(self.texts[i].replace("_", "")))
        if t == "FLOAT":
            self.i = i + 1
            return Float(self.span(i, i), float_literal(self.texts[i]))
        if t == "STRING":
            self.i = i + 1
            return Str(self.span(i, i), self.texts[i][1:-1])
        if t == "(":
            return self.paren()
        raise _Decline()

    def ref(self) -> Ref:
        first = self.name()
        attr = None
        if self.types[self.i] == ".":
            self.i += 1
            attr = self.texts[self.name(any_word=True)]
        return Ref(self.span(first, self.i - 1), self.texts[first], attr)

    def paren(self):
        """`(` chain `)`, or a tuple: `()`, `(a,)`, `(a, b)`, `(a, b,)`."""
        first = self.i
        self.i += 1
        types = self.types
        if types[self.i] == ")":
            self.i += 1
            return Tuple(self.span(first, self.i - 1), [])
        self.deeper()
        chains = [self.chain()]
        trailing = False
        while types[self.i] == ",":
            self.i += 1
            if types[self.i] == ")":
                trailing = True
                break
            chains.append(self.chain())
        self.expect(")")
        self.depth -= 1
        if len(chains) == 1 and not trailing:
            return _unwrap(chains[0])
        return Tuple(self.span(first, self.i - 1), [_unwrap(c) for c in chains])


def _unwrap(chain: Chain):
    if not chain.stages and chain.assertion is None:
        return chain.source
    return chain
