"""`netspec fmt`: one canonical layout for a spec, driven by the AST and the token stream.

The layout (docs/language.md keeps to it):

- four spaces a level; one blank line between networks; blank lines between statements
  kept (at most one), none after a network's `{` or before its `}`;
- a chain stays on one line when it has at most three stages, fits in 100 columns and asserts
  a shape only at its end; otherwise it is written one stage a line, each continuation line
  led by `->` and indented one level more than its statement;
- the shape assertions that end lines line up within a paragraph (lines between blank
  lines), two spaces after the longest line's code;
- canonical spacing: `a + b`, `f(x, k=1)`, `input x: float[batch, 3]`, `x[:, -1]`,
  `Stage * 2 as name`, `x -> A : [batch, 4]`.

Every comment is kept where it belongs: a comment on a line of its own stays before the line
that follows it, a comment after code stays after the same token. A statement whose comments
cannot stay where they are in that layout (a comment inside an argument list, say), or whose
`# netspec: allow[...]` comment would govern other tokens than before, is kept as written.
Literals are written as spelled (`1_000`, `1e-5`). The result is parsed again and must give
the same AST and the same comments, or nothing is written (:class:`FormatError`).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, fields

from . import ast as A
from .ast import ALLOW_COMMENT, ATOM, CHAIN, OPERATOR_LEVEL, POSTFIX, POWER, PRODUCT, SUM, UNARY
from .diagnostics import Diagnostic, Reporter, Span
from .fastparse import _TOKENS

WIDTH = 100
INDENT = 4
MAX_ONE_LINE_STAGES = 3



class FormatError(Exception):
    """The spec cannot be formatted: it has syntax errors (``diagnostics``), or formatting
    would change what it means (a defect of the formatter, reported rather than written)."""

    def __init__(self, message: str, diagnostics: list[Diagnostic] | None = None):
        super().__init__(message)
        self.diagnostics = diagnostics or []


@dataclass
class _Token:
    text: str
    line: int
    col: int
    end_col: int
    start: int  # offsets in the text
    end: int


@dataclass
class _Comment:
    text: str
    line: int
    prev: int  # the index of the token before it (-1: none)
    own_line: bool


@dataclass
class _Line:
    indent: int
    code: str
    first: int = -1  # the first and the last token on the line (-1: none, e.g. a comment)
    last: int = -1
    asrt: str | None = None  # a shape assertion at the line's end, aligned in its paragraph
    comment: str | None = None


class _Source:
    """The tokens and comments of a text, and where each token starts and ends."""

    def __init__(self, text: str):
        self.text = text
        self.tokens: list[_Token] = []
        self.comments: list[_Comment] = []
        line, line_start = 1, 0
        for m in _TOKENS.finditer(text):
            g = m.lastindex  # the alternative that matched (group 1 is the blanks before it)
            if g == 2:  # a run of newlines
                line, line_start = line + m.end(2) - m.start(2), m.end(2)
                continue
            start, end = m.start(g), m.end(g)
            if g == 3:
                prev = len(self.tokens) - 1
                own = prev < 0 or self.tokens[prev].line != line
                self.comments.append(_Comment(m.group(g).rstrip(), line, prev, own))
                continue
            col = start - line_start + 1
            self.tokens.append(_Token(m.group(g), line, col, col + end - start, start, end))
        self.prevs = [c.prev for c in self.comments]  # ascending
        self.by_start = {(t.line, t.col): i for i, t in enumerate(self.tokens)}
        self.by_end = {(t.line, t.end_col): i for i, t in enumerate(self.tokens)}

    def between(self, lo: int, hi: int) -> list[_Comment]:
        """The comments after token ``lo`` (or a later one) and before token ``hi + 1``."""
        return self.comments[bisect_left(self.prevs, lo):bisect_right(self.prevs, hi)]

    def first(self, span: Span) -> int:
        return self.by_start[(span.line, span.column)]

    def last(self, span: Span) -> int:
        return self.by_end[(span.end_line, span.end_column)]


# -- expressions -----------------------------------------------------------------------------------

class _Writer:
    """Text for AST nodes, with the brackets precedence needs and canonical spacing."""

    def __init__(self, src: _Source):
        self.src = src

    def expr(self, node, need: int = SUM) -> str:
        text, level = self._expr(node)
        return f"({text})" if level < need else text

    def _expr(self, node) -> tuple[str, int]:
        kind = type(node)
        if kind in (A.Int, A.Float):
            return self.number(node)
        if kind is A.Str:
            return f'"{node.value}"', ATOM
        if kind is A.Bool:
            return ("true" if node.value else "false"), ATOM
        if kind is A.Ref:
            return node.text, ATOM
        if kind is A.Call:
            return f"{node.name}({self.args(node.args)})", ATOM
        if kind is A.Tuple:
            items = [self.expr(i, CHAIN) for i in node.items]
            return "(" + (f"{items[0]}," if len(items) == 1 else ", ".join(items)) + ")", ATOM
        if kind is A.Chain:
            return self.chain(node), CHAIN
        return self._operator(node)

    def _operator(self, node) -> tuple[str, int]:
        if isinstance(node, A.BinOp):
            level = OPERATOR_LEVEL[node.op]
            if node.op == "**":
                return f"{self.expr(node.left, POSTFIX)} ** {self.expr(node.right, UNARY)}", POWER
            right = PRODUCT if level == SUM else UNARY
            return f"{self.expr(node.left, level)} {node.op} {self.expr(node.right, right)}", level
        if isinstance(node, A.Neg):
            return "-" + self.expr(node.operand, UNARY), UNARY
        if isinstance(node, A.Subscript):
            return f"{self.expr(node.value, POSTFIX)}[{', '.join(self.item(i) for i in node.items)}]", POSTFIX
        raise FormatError(f"cannot format a {type(node).__name__}")

    def number(self, node) -> tuple[str, int]:
        """A number as spelled (`1_000`, `1e-5`); its signs folded into one `-` or none."""
        first, last = self.src.first(node.span), self.src.last(node.span)
        tokens = self.src.tokens[first:last + 1]
        digits = next(t.text for t in reversed(tokens) if t.text[0].isdigit())
        negative = sum(t.text == "-" for t in tokens) % 2 == 1
        return ("-" + digits, UNARY) if negative else (digits, ATOM)

    def item(self, node) -> str:
        if isinstance(node, A.Dots):
            return "..."
        if isinstance(node, A.Slice):
            parts = [("" if p is None else self.expr(p)) for p in (node.start, node.stop, node.step)]
            return ":".join(parts if node.step is not None else parts[:2])
        return self.expr(node)

    def args(self, args: list[A.Arg]) -> str:
        return ", ".join((f"{a.name}={self.expr(a.value, CHAIN)}" if a.name else self.expr(a.value, CHAIN))
                         for a in args)

    def tensor_type(self, tt: A.TensorType) -> str:
        return f"{tt.dtype or ''}[{', '.join(self.expr(d) for d in tt.dims)}]"

    def chain(self, ch: A.Chain) -> str:
        text = self.expr(ch.source)
        if ch.assertion is not None:
            text += " : " + self.tensor_type(ch.assertion)
        return text + "".join(" -> " + self.stage(s) for s in ch.stages)

    def core(self, core) -> str:
        if isinstance(core, A.StageGroup):
            return "(" + " -> ".join(self.stage(s) for s in core.stages) + ")"
        return core.name + (f"({self.args(core.args)})" if core.has_parens else "")

    def stage(self, st: A.Stage, with_assertion: bool = True) -> str:
        text = self.core(st.core)
        if st.repeat is not None:
            text += " * " + self.expr(st.repeat, UNARY)
        if st.alias is not None:
            name = f'"{st.alias}"' if st.alias_quoted else st.alias  # a quoted name stays quoted
            text += f" as {name}" + (f"{{{st.alias_start}}}" if st.alias_start is not None else "")
        if with_assertion and st.assertion is not None:
            text += " : " + self.tensor_type(st.assertion)
        return text

    def param(self, p: A.Param) -> str:
        return p.name + (f"={self.expr(p.default)}" if p.default is not None else "")


# -- statements and networks as lines ----------------------------------------------------------------

@dataclass
class _Unit:
    """A network's header, a statement, or a network's `}`: its tokens and its lines."""

    first: int
    last: int
    indent: int
    lines: list[_Line]
    top: bool = False  # a network's header or `}`, at the top level
    close: bool = False  # a network's `}`


class _Layout:
    def __init__(self, src: _Source, module: A.Module):
        self.src = src
        self.w = _Writer(src)
        self.module = module
        self.inner: dict[int, list[_Comment]] = {}  # unit index -> the comments inside it

    def units(self) -> list[_Unit]:
        out = []
        for net in self.module.networks:
            out.append(self.header(net))
            out.extend(self.statement(st) for st in net.statements)
            end = self.src.last(net.span)
            out.append(_Unit(end, end, 0, [_Line(0, "}", end, end)], top=True, close=True))
        return out

    def header(self, net: A.Network) -> _Unit:
        first = self.src.first(net.span)
        brace = (self.src.first(net.statements[0].span) if net.statements else self.src.last(net.span)) - 1
        params = [self.w.param(p) for p in net.params]
        one = f"network {net.name}" + (f"({', '.join(params)})" if params else "") + " {"
        commented = bool(self.src.between(first, brace - 1))
        if not params or (len(one) <= WIDTH and not commented):
            return _Unit(first, brace, 0, [_Line(0, one, first, brace)], top=True)
        lines = [_Line(0, f"network {net.name}(", first, first + 2)]
        for p, text in zip(net.params, params):
            last = self.src.last(p.span)
            last += self.src.tokens[last + 1].text == ","
            lines.append(_Line(INDENT, text + ",", self.src.first(p.span), last))
        lines.append(_Line(0, ") {", brace - 1, brace))
        return _Unit(first, brace, 0, lines, top=True)

    def statement(self, st) -> _Unit:
        first, last = self.src.first(st.span), self.src.last(st.span)
        w = self.w
        if isinstance(st, A.Binding):
            return _Unit(first, last, INDENT, self.binding(st, first, last))
        if isinstance(st, A.Input):
            code = f"input {st.name}: {w.tensor_type(st.type)}"
        elif isinstance(st, A.Output):
            code = "output " + ", ".join(r.text for r in st.refs)
        elif isinstance(st, A.TensorDecl):
            code = f"{st.kind} {st.name}: {w.tensor_type(st.type)}"
            code += f" = {w.expr(st.init)}" if st.init is not None else ""
        elif isinstance(st, A.SharedDecl):
            code = f"shared {st.name} = {w.core(st.layer)}"
        else:
            raise FormatError(f"cannot format a {type(st).__name__}")
        return _Unit(first, last, INDENT, [_Line(INDENT, code, first, last)])

    def binding(self, st: A.Binding, first: int, last: int) -> list[_Line]:
        w, ch = self.w, st.chain
        names = [n for n, _ in st.targets] or [st.name]
        head = ", ".join(names) + " = " + w.expr(ch.source)
        stages = ch.stages
        one = head + "".join(" -> " + w.stage(s, with_assertion=False) for s in stages)
        end = stages[-1].assertion if stages else ch.assertion
        asrt = w.tensor_type(end) if end is not None else None
        width = INDENT + len(one) + (len(asrt) + 4 if asrt else 0)
        inner = (ch.assertion is not None and stages) or any(s.assertion is not None for s in stages[:-1])
        commented = bool(self.src.between(first, last - 1))
        if not stages or (len(stages) <= MAX_ONE_LINE_STAGES and not inner and not commented and width <= WIDTH):
            return [_Line(INDENT, one, first, last, asrt)]
        head_asrt = w.tensor_type(ch.assertion) if ch.assertion is not None else None
        lines = [_Line(INDENT, head, first, self.src.first(stages[0].span) - 2, head_asrt)]
        for s in stages:
            text = "-> " + w.stage(s, with_assertion=False)
            asrt = w.tensor_type(s.assertion) if s.assertion is not None else None
            lines.append(_Line(2 * INDENT, text, self.src.first(s.span) - 1, self.src.last(s.span), asrt))
        return lines


# -- comments, blank lines, alignment ----------------------------------------------------------------

def _placeable(unit: _Unit, src: _Source) -> bool:
    """Whether every comment inside ``unit`` has a place in its lines, and every allow comment
    on its lines would govern the same tokens as before."""
    starts = {ln.first for ln in unit.lines}
    ends = {(ln.first, ln.last) for ln in unit.lines}
    lasts = {ln.last for ln in unit.lines}
    for c in src.between(unit.first, unit.last):
        if unit.first <= c.prev < unit.last and (c.prev + 1 not in starts if c.own_line else c.prev not in lasts):
            return False
        if unit.first <= c.prev <= unit.last and not c.own_line and ALLOW_COMMENT.search(c.text):
            line = src.tokens[c.prev].line
            head = next(i for i in range(unit.first, c.prev + 1) if src.tokens[i].line == line)
            if (head, c.prev) not in ends:
                return False
    return True


def _verbatim(unit: _Unit, src: _Source) -> list[_Line]:
    """The unit's lines as written: its tokens and comments on the same lines, only the
    indentation made the layout's (continuation lines one level in)."""
    text = src.text[src.tokens[unit.first].start:src.tokens[unit.last].end]
    raw = [line.strip() for line in text.split("\n")]
    lines = [_Line(unit.indent, raw[0], unit.first)] + [_Line(unit.indent + INDENT, line) for line in raw[1:]]
    lines[-1].last = unit.last
    return lines


def _place_inner(unit: _Unit, comments: list[_Comment], verbatim: bool) -> list[_Line]:
    """The unit's lines with the comments inside it (or after its last token) in place; the
    lines of a unit kept as written hold the comments inside it already."""
    before: dict[int, list[_Line]] = {}
    by_last = {ln.last: ln for ln in unit.lines if ln.last >= 0}
    indent = {ln.first: ln.indent for ln in unit.lines}
    for c in comments:
        if verbatim and c.prev != unit.last:
            continue
        if c.own_line and unit.first <= c.prev < unit.last:
            before.setdefault(c.prev + 1, []).append(_Line(indent[c.prev + 1], c.text))
        elif not c.own_line and unit.first <= c.prev <= unit.last:
            by_last[c.prev].comment = c.text
    out = []
    for ln in unit.lines:
        out.extend(before.get(ln.first, ()) if ln.first >= 0 else ())
        out.append(ln)
    return out


def _blank_between(prev: tuple | None, unit: _Unit, first_line: int) -> bool:
    if prev is None or unit.close:
        return False
    prev_unit, prev_line = prev
    if prev_unit is not None and prev_unit.top:
        return prev_unit.close
    return first_line - prev_line > 1


def _assemble(units: list[_Unit], src: _Source) -> list[_Line | None]:
    """Every unit's lines with their comments, and blank lines where they belong (None)."""
    comments = src.comments
    leading: dict[int, list[_Comment]] = {}
    for c in comments:
        if c.own_line:
            leading.setdefault(c.prev + 1, []).append(c)
    out: list[_Line | None] = []
    prev = None  # (the unit last written or None for a comment, its last source line)
    for u in units:
        for c in leading.get(u.first, ()):
            if _blank_between(prev, u, c.line) and out:
                out.append(None)
            out.append(_Line(INDENT if u.close else u.indent, c.text))
            prev = (None, c.line)
        if _blank_between(prev, u, src.tokens[u.first].line):
            out.append(None)
        verbatim = not _placeable(u, src)
        lines = _verbatim(u, src) if verbatim else u.lines
        out.extend(_place_inner(_Unit(u.first, u.last, u.indent, lines), src.between(u.first, u.last), verbatim))
        prev = (u, src.tokens[u.last].line)
    for c in leading.get(len(src.tokens), ()):
        if prev is not None and (prev[0] is not None and prev[0].close or c.line - prev[1] > 1):
            out.append(None)
        out.append(_Line(0, c.text))
        prev = (None, c.line)
    return out


def _render(lines: list[_Line | None]) -> str:
    """The text: assertions aligned within each paragraph, comments two spaces after code."""
    out: list[str] = []
    start = 0
    while start < len(lines):
        end = start
        while end < len(lines) and lines[end] is not None:
            end += 1
        para = lines[start:end]
        widths = [ln.indent + len(ln.code) for ln in para if ln.asrt is not None]
        column = max(widths, default=0) + 2
        for ln in para:
            text = " " * ln.indent + ln.code
            if ln.asrt is not None:
                text = text.ljust(column) + ": " + ln.asrt
            if ln.comment is not None:
                text += "  " + ln.comment
            out.append(text)
        if end < len(lines):
            out.append("")
        start = end + 1
    return "\n".join(out) + "\n" if out else ""


# -- the entry point -------------------------------------------------------------------------------

def _parse(text: str, file: str) -> A.Module:
    from .parser import parse

    reporter = Reporter()
    module = parse(text, file, reporter)
    if module is None:
        raise FormatError(f"{file} has syntax errors; not formatted", reporter.items)
    return module


_KEPT: dict[type, tuple[str, ...]] = {}


def _shape(node):
    """The AST without its spans: what formatting must keep."""
    if isinstance(node, list):
        return [_shape(n) for n in node]
    if isinstance(node, tuple):
        return tuple(_shape(n) for n in node if not isinstance(n, Span))
    if isinstance(node, A.Node):
        kind = type(node)
        kept = _KEPT.get(kind)
        if kept is None:
            kept = _KEPT[kind] = tuple(f.name for f in fields(node) if f.name != "span"
                                       and not f.name.endswith("_span") and f.name != "statements")
        return (kind.__name__,) + tuple(_shape(getattr(node, f)) for f in kept)
    return node


def format_text(text: str, file: str = "<string>") -> str:
    """The canonical layout of a spec's text. Raises :class:`FormatError` when the spec
    has syntax errors (with their diagnostics), or when the result would not parse to the
    same AST with the same comments."""
    module = _parse(text, file)
    src = _Source(text)
    units = _Layout(src, module).units()
    out = _render(_assemble(units, src))
    try:
        again = _parse(out, file)
    except FormatError:
        again = None
    if again is None or _shape(again.networks) != _shape(module.networks):
        raise FormatError(f"{file}: formatting would change the spec; left as it is")
    again_src = _Source(out)
    if [c.text for c in again_src.comments] != [c.text for c in src.comments]:
        raise FormatError(f"{file}: formatting would move or lose a comment; left as it is")
    if _governed(again_src) != _governed(src):
        raise FormatError(f"{file}: formatting would change what an allow comment governs (put each "
                          "statement with one on a line of its own); left as it is")
    return out


def _governed(src: _Source) -> list[tuple[str, tuple[str, ...]]]:
    """Each allow comment with the tokens of its line: what it silences."""
    lines: dict[int, list[str]] = {}
    for t in src.tokens:
        lines.setdefault(t.line, []).append(t.text)
    return [(c.text, tuple(lines[src.tokens[c.prev].line])) for c in src.comments
            if not c.own_line and ALLOW_COMMENT.search(c.text)]


# -- the command -----------------------------------------------------------------------------------

def _refused(shown: str, text: str, e: FormatError, err) -> None:
    from .diagnostics import render

    lines = A.source_lines(text)
    for d in e.diagnostics:
        print(render(d, lines, color=False), file=err)
        print(file=err)
    print(f"netspec: {e}" if not e.diagnostics else f"netspec: {shown} does not parse; not formatted", file=err)


def format_file(path: str, check: bool = False, diff: bool = False, out=None, err=None) -> str:
    """Format one spec file (``-``: standard input to standard output): ``"unchanged"``,
    ``"changed"`` (written, or with ``check``/``diff`` reported) or ``"refused"`` (syntax
    errors, printed on ``err``)."""
    import difflib
    import sys

    from .diagnostics import printable
    from .fsutil import write_output
    from .source import STDIN, read_spec, shown_name

    out, err = out or sys.stdout, err or sys.stderr
    reporter = Reporter()
    text, shown = read_spec(path, reporter)
    name = shown_name(path)
    try:
        if text is None:
            raise FormatError(f"{name} cannot be read as a spec", reporter.items)
        formatted = format_text(text, name)
    except FormatError as e:
        _refused(name, shown, e, err)
        return "refused"
    changed = formatted != text
    if diff and changed:
        out.writelines(difflib.unified_diff(text.splitlines(True), formatted.splitlines(True),
                                            f"{name}", f"{name} (formatted)"))
    elif check and changed:
        print(printable(f"would reformat {name}"), file=out)
    elif path == STDIN and not check:
        out.write(formatted)
    elif changed:
        write_output(path, formatted, generated=lambda _: True)  # a spec is the user's own file
    return "changed" if changed else "unchanged"


def run(files: list[str], check: bool = False, diff: bool = False) -> int:
    """`netspec fmt`: 0 when every file is formatted (or, with ``check``/``diff``, already
    was), 1 when one would change under ``check``/``diff`` or has syntax errors."""
    import sys

    results = [format_file(f, check, diff) for f in files]
    refused = results.count("refused")
    changed = results.count("changed")
    if any(f != "-" for f in files):
        verb = "would be reformatted" if check or diff else "reformatted"
        print(f"{changed} file(s) {verb}, {results.count('unchanged')} unchanged"
              + (f", {refused} with syntax errors" if refused else ""), file=sys.stderr)
    return 1 if refused or ((check or diff) and changed) else 0
