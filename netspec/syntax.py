"""Parsing: ``.net`` text -> AST dataclasses that carry spans.

The grammar lives in ``grammar/netspec.lark`` (shipped in the wheel as
``netspec/grammar/netspec.lark``) and is parsed with Lark's LALR parser. Parser errors
become ``syntax`` diagnostics that say in plain words what was expected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Union

from . import codes
from .diagnostics import Reporter, Span

MAX_DEPTH = 100  # nesting of parentheses, chains and expressions
MAX_BYTES = 16 * 1024 * 1024
MAX_LAYERS = 200_000  # layer and op instances in a file, repeats and network uses expanded


# -- AST --------------------------------------------------------------------------------------

@dataclass
class Node:
    span: Span


@dataclass
class Int(Node):
    value: int


@dataclass
class Float(Node):
    value: float


@dataclass
class Str(Node):
    value: str


@dataclass
class Bool(Node):
    value: bool


@dataclass
class Ref(Node):
    name: str
    attr: str | None = None

    @property
    def text(self) -> str:
        return f"{self.name}.{self.attr}" if self.attr else self.name


@dataclass
class Arg(Node):
    name: str | None
    value: "Expr"


@dataclass
class Call(Node):
    name: str
    args: list[Arg]
    name_span: Span


@dataclass
class BinOp(Node):
    op: str  # + - * // %
    left: "Expr"
    right: "Expr"


@dataclass
class Neg(Node):
    operand: "Expr"


@dataclass
class Tuple(Node):
    items: list["Expr"]


@dataclass
class TensorType(Node):
    dtype: str | None
    dtype_span: Span | None
    dims: list["Expr"]


@dataclass
class StageCall(Node):
    name: str
    args: list[Arg]
    has_parens: bool
    name_span: Span


@dataclass
class StageGroup(Node):
    stages: list["Stage"]


@dataclass
class Stage(Node):
    core: Union[StageCall, StageGroup]
    repeat: "Expr | None" = None
    alias: str | None = None
    alias_span: Span | None = None
    assertion: TensorType | None = None


@dataclass
class Chain(Node):
    source: "Expr"
    assertion: TensorType | None
    stages: list[Stage]


Expr = Union[Int, Float, Str, Bool, Ref, Call, BinOp, Neg, Tuple, Chain]


@dataclass
class Param(Node):
    name: str
    default: Expr | None


@dataclass
class Input(Node):
    name: str
    type: TensorType
    name_span: Span


@dataclass
class Binding(Node):
    name: str
    chain: Chain
    name_span: Span


@dataclass
class Output(Node):
    refs: list[Ref]


@dataclass
class Network(Node):
    name: str
    name_span: Span
    params: list[Param]
    inputs: list[Input] = field(default_factory=list)
    bindings: list[Binding] = field(default_factory=list)
    outputs: list[Output] = field(default_factory=list)
    statements: list[Node] = field(default_factory=list)


_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}


def walk(node):
    """Every AST node under ``node`` (itself included), without recursion."""
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, list):
            stack.extend(n)
            continue
        if not isinstance(n, Node):
            continue
        yield n
        fields = _CHILD_FIELDS.get(type(n))
        if fields is None:  # the fields that can hold nodes: not spans, names or numbers
            fields = _CHILD_FIELDS[type(n)] = tuple(
                f for f, spec in n.__dataclass_fields__.items()
                if f != "span" and not f.endswith("_span") and spec.type not in ("str", "int", "bool", "float",
                                                                                  "str | None", "int | None"))
        for f in fields:
            v = getattr(n, f)
            if v is not None:
                stack.append(v)


@dataclass
class Module:
    file: str
    text: str
    networks: list[Network]
    allowed: list[tuple[int, str]]  # (line, code) from `# netspec: allow[code]` comments

    @property
    def lines(self) -> list[str]:
        return source_lines(self.text)


def source_lines(text: str) -> list[str]:
    """The lines that spans count: split at `\n` only (as Lark counts them), so a form feed
    or a Unicode line separator inside a line does not shift the line numbers."""
    return [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]


# -- the parser -------------------------------------------------------------------------------

def grammar_path() -> Path:
    packaged = Path(__file__).parent / "grammar" / "netspec.lark"
    if packaged.exists():
        return packaged
    return Path(__file__).resolve().parent.parent / "grammar" / "netspec.lark"


_comments: list = []


@lru_cache(maxsize=1)
def _parser():
    import lark

    return lark.Lark.open(
        str(grammar_path()),
        parser="lalr",
        propagate_positions=True,
        maybe_placeholders=False,
        lexer_callbacks={"COMMENT": _comments.append},
        cache=False,
    )


_ALLOW = re.compile(r"#\s*netspec:\s*allow\[([A-Za-z0-9_\- ,]+)\]")

_TOKEN_WORDS = {
    "NAME": "a name",
    "INT": "an integer",
    "FLOAT": "a number",
    "STRING": "a string",
    "LPAR": "`(`",
    "RPAR": "`)`",
    "LSQB": "`[`",
    "RSQB": "`]`",
    "LBRACE": "`{`",
    "RBRACE": "`}`",
    "COMMA": "`,`",
    "COLON": "`:`",
    "EQUAL": "`=`",
    "DOT": "`.`",
    "MINUS": "`-`",
    "PLUS": "`+`",
    "STAR": "`*`",
    "SLASH": "`/`",
    "PERCENT": "`%`",
    "__ANON_0": "`->`",
    "__ANON_1": "`//`",
    "NETWORK": "`network`",
    "INPUT": "`input`",
    "OUTPUT": "`output`",
    "AS": "`as`",
    "TRUE": "`true`",
    "FALSE": "`false`",
    "$END": "the end of the file",
}


def _word(term: str) -> str:
    if term in _TOKEN_WORDS:
        return _TOKEN_WORDS[term]
    return f"`{term.lower()}`" if term.isupper() else term


def _describe_expected(expected) -> str:
    words = sorted({_word(t) for t in expected})
    if len(words) > 6:
        words = words[:6] + ["…"]
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " or " + words[-1]


def _line_col_end(text: str, line: int, column: int) -> tuple[int, int]:
    lines = text.split("\n")  # lines as Lark counts them: only `\n` ends one
    line = max(1, min(line, len(lines)))
    width = len(lines[line - 1])
    column = max(1, min(column, width + 1))
    return line, column


def _end_of_text(text: str) -> tuple[int, int]:
    """The position just after the last character that is not white space (an empty span
    there marks where the file ends early)."""
    lines = text.rstrip().split("\n")
    return len(lines), len(lines[-1]) + 1


_NESTING_CHARS = re.compile(r'[()\[\]{}"#\n]')


def _nesting_ok(text: str, file: str, reporter: Reporter) -> bool:
    depth = 0
    line, line_start = 1, 0
    in_comment = in_string = False
    for m in _NESTING_CHARS.finditer(text):  # only the characters that matter, not every one
        ch = m.group()
        if ch == "\n":
            line, line_start = line + 1, m.end()
            in_comment = in_string = False
            continue
        if in_comment:
            continue
        if in_string:
            in_string = ch != '"'
            continue
        if ch == "#":
            in_comment = True
        elif ch == '"':
            in_string = True
        elif ch in "([{":
            depth += 1
            if depth > MAX_DEPTH:
                col = m.start() - line_start + 1
                reporter.error(
                    codes.LIMIT, f"brackets nest deeper than {MAX_DEPTH} levels",
                    Span(file, line, col, line, col + 1),
                    help="split the expression into named bindings")
                return False
        elif ch in ")]}":
            depth = max(0, depth - 1)
    return True


_STRING_OR_COMMENT = re.compile(r'"[^"\n]*"|#[^\n]*')


def _stages_ok(text: str, file: str, reporter: Reporter) -> bool:
    """At most MAX_LAYERS `->` outside comments and strings (every stage but a chain's source
    follows one), so that a spec too large to check is refused before it is parsed."""
    if text.count("->") <= MAX_LAYERS:
        return True
    count = 0
    for number, line in enumerate(text.split("\n"), 1):
        code = _STRING_OR_COMMENT.sub(lambda m: " " * len(m.group()), line)
        n = code.count("->")
        if count + n > MAX_LAYERS:
            col = 0
            for _ in range(MAX_LAYERS - count + 1):
                col = code.index("->", col) + 2
            reporter.error(codes.LIMIT, f"the spec has more than {MAX_LAYERS:,} layers and ops",
                           Span(file, number, col - 1, number, col + 1),
                           help=f"netspec checks at most {MAX_LAYERS:,} stages in a file, "
                                "repetitions and uses of networks counted")
            return False
        count += n
    return True


MAX_DIGITS = 100  # a number literal; sizes stop at int64 (19 digits) long before this
_LONG_NUMBER = re.compile(r"(?<![A-Za-z0-9_])[0-9][0-9_]{%d,}" % MAX_DIGITS)


def _numbers_ok(text: str, file: str, reporter: Reporter) -> bool:
    """No number literal longer than MAX_DIGITS, outside comments and strings: Python would
    refuse to convert one of thousands of digits, and nothing needs one."""
    if not _LONG_NUMBER.search(text):
        return True
    for number, line in enumerate(text.split("\n"), 1):
        code = re.sub(r'"[^"\n]*"|#[^\n]*', lambda m: " " * len(m.group()), line)
        m = _LONG_NUMBER.search(code)
        if m:
            reporter.error(codes.LIMIT, f"a number has more than {MAX_DIGITS} digits",
                           Span(file, number, m.start() + 1, number, m.end() + 1),
                           help="sizes and arguments must be at most 2**63 - 1")
            return False
    return True


def decode(data: bytes, file: str, reporter: Reporter) -> str | None:
    """UTF-8 text of a spec file (a leading BOM dropped); None with an ``encoding`` error."""
    if len(data) > MAX_BYTES:
        reporter.error(codes.LIMIT, f"the file is larger than {MAX_BYTES // (1024 * 1024)} MiB",
                       Span(file, 1, 1, 1, 2), help="split the spec into smaller files")
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        start = 3 if data.startswith(b"\xef\xbb\xbf") and e.start >= 3 else 0
        before = data[start:e.start].decode("utf-8", "replace")
        line = before.count("\n") + 1
        col = len(before) - (before.rfind("\n") + 1) + 1
        reporter.error(codes.ENCODING, f"byte 0x{data[e.start]:02x} is not valid UTF-8",
                       Span(file, line, col, line, col + 1),
                       help="save the file as UTF-8")
        return None


def parse(text: str, file: str, reporter: Reporter) -> Module | None:
    """Parse ``text``; on error report a ``syntax`` diagnostic and return None."""
    if len(text) > MAX_BYTES:
        reporter.error(codes.LIMIT, f"the file is larger than {MAX_BYTES // (1024 * 1024)} MiB",
                       Span(file, 1, 1, 1, 2))
        return None
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        col = text.index("\x00") - (text.rfind("\n", 0, text.index("\x00")) + 1) + 1
        reporter.error(codes.SYNTAX, "the file contains a NUL byte", Span(file, line, col, line, col + 1),
                       help="netspec files are plain UTF-8 text")
        return None
    if not _nesting_ok(text, file, reporter) or not _stages_ok(text, file, reporter):
        return None
    if not _numbers_ok(text, file, reporter):
        return None
    from . import fastparse  # the same AST, faster; it leaves what it is unsure of to Lark

    module = fastparse.parse(text, file)
    if module is not None:
        return module
    import lark

    parser = _parser()
    _comments.clear()
    try:
        tree = parser.parse(text)
    except lark.exceptions.UnexpectedInput as e:
        reporter.add(_syntax_diagnostic(e, text, file))
        return None
    allowed = []
    for tok in _comments:
        m = _ALLOW.search(str(tok))
        if m:
            for code in m.group(1).split(","):
                allowed.append((tok.line, code.strip()))
    builder = _Builder(file)
    try:
        networks = builder.transform(tree)
    except _DepthError as e:
        reporter.error(codes.LIMIT, f"expressions nest deeper than {MAX_DEPTH} levels", e.span,
                       help="split the expression into named bindings")
        return None
    return Module(file, text, networks, allowed)


def _syntax_diagnostic(e, text: str, file: str):
    import lark

    from .diagnostics import Diagnostic

    line, col = _line_col_end(text, getattr(e, "line", 1) or 1, getattr(e, "column", 1) or 1)
    if isinstance(e, lark.exceptions.UnexpectedToken) and e.token.type == "$END":
        line, col = _end_of_text(text)
        msg = f"the file ends early: expected {_describe_expected(e.expected)}"
        end = col
    elif isinstance(e, lark.exceptions.UnexpectedToken):
        tok = str(e.token)
        what = _word(e.token.type)
        what = what if what == f"`{tok}`" else f"{what} `{tok}`"
        msg = f"unexpected {what}: expected {_describe_expected(e.expected)}"
        end = col + max(1, len(tok.splitlines()[0]) if tok else 1)
        if e.token.type == "NAME" and tok in {"network", "input", "output", "as", "true", "false"}:
            msg = f"`{tok}` is a keyword here: expected {_describe_expected(e.expected)}"
    elif isinstance(e, lark.exceptions.UnexpectedCharacters):
        ch = text[e.pos_in_stream] if 0 <= e.pos_in_stream < len(text) else "?"
        shown = ch if ch.isprintable() else repr(ch)
        msg = f"unexpected character `{shown}`"
        if e.allowed:
            msg += f": expected {_describe_expected(e.allowed)}"
        end = col + 1
    else:  # UnexpectedEOF
        line, col = _end_of_text(text)
        msg = "the file ends early"
        end = col
    help_ = None
    history = getattr(e, "token_history", None) or []
    if set(getattr(e, "expected", ())) == {"EQUAL"} and history and history[-1].type == "NAME":
        name = str(history[-1])
        help_ = f"`{name}` starts a new binding here; if it is a stage, join it with `->`: `... -> {name}`"
    elif "`->`" in msg or "`)`" in msg:
        help_ = "stages are joined with `->`; check the brackets around this point"
    notes = []
    token = getattr(e, "token", None)
    upto = getattr(token, "start_pos", None) if token is not None and token.type != "$END" else len(text)
    opened = _open_brackets(text, upto if isinstance(upto, int) else getattr(e, "pos_in_stream", 0) or 0)
    closers = {"(": "RPAR", "[": "RSQB", "{": "RBRACE"}
    expected = set(getattr(e, "expected", None) or getattr(e, "allowed", None) or ())
    if opened and opened[-1][0] < line and closers[opened[-1][2]] in expected:
        o_line, o_col, o_char = opened[-1]  # the parser would close it here: say where it opened
        notes.append(f"the `{o_char}` at line {o_line}, column {o_col} is not closed")
    return Diagnostic("error", codes.SYNTAX, msg, Span(file, line, col, line, end), notes, help_)


def _open_brackets(text: str, upto: int) -> list[tuple[int, int, str]]:
    """(line, column, bracket) of every bracket still open at offset ``upto``."""
    stack: list[tuple[int, int, str]] = []
    line, col = 1, 0
    in_comment = in_string = False
    for ch in text[:upto]:
        col += 1
        if ch == "\n":
            line, col = line + 1, 0
            in_comment = in_string = False
        elif in_comment:
            continue
        elif in_string:
            in_string = ch != '"'
        elif ch == "#":
            in_comment = True
        elif ch == '"':
            in_string = True
        elif ch in "([{":
            stack.append((line, col, ch))
        elif ch in ")]}" and stack:
            stack.pop()
    return stack


class _DepthError(Exception):
    def __init__(self, span: Span):
        self.span = span


def _build_transformer():
    import lark

    class Builder(lark.Transformer_NonRecursive):
        def __init__(self, file: str):
            super().__init__()
            self.file = file

        def _span(self, meta) -> Span:
            return Span(self.file, meta.line, meta.column, meta.end_line, meta.end_column)

        def _tok_span(self, tok) -> Span:
            return Span(self.file, tok.line, tok.column, tok.end_line, tok.end_column)

        def start(self, items):
            return list(items)

        @lark.v_args(meta=True)
        def network(self, meta, items):
            name = items[0]
            params: list[Param] = []
            rest = items[1:]
            if rest and isinstance(rest[0], list):
                params = rest[0]
                rest = rest[1:]
            net = Network(self._span(meta), str(name), self._tok_span(name), params)
            for st in rest:
                net.statements.append(st)
                if isinstance(st, Input):
                    net.inputs.append(st)
                elif isinstance(st, Binding):
                    net.bindings.append(st)
                elif isinstance(st, Output):
                    net.outputs.append(st)
            return net

        def param_list(self, items):
            return list(items)

        @lark.v_args(meta=True)
        def param(self, meta, items):
            default = items[1] if len(items) > 1 else None
            return Param(self._span(meta), str(items[0]), default)

        @lark.v_args(meta=True)
        def input_decl(self, meta, items):
            return Input(self._span(meta), str(items[0]), items[1], self._tok_span(items[0]))

        @lark.v_args(meta=True)
        def binding(self, meta, items):
            return Binding(self._span(meta), str(items[0]), items[1], self._tok_span(items[0]))

        @lark.v_args(meta=True)
        def output_decl(self, meta, items):
            return Output(self._span(meta), list(items))

        @lark.v_args(meta=True)
        def tensor_type(self, meta, items):
            dtype = dspan = None
            if items and isinstance(items[0], lark.Token):
                dtype, dspan = str(items[0]), self._tok_span(items[0])
                items = items[1:]
            return TensorType(self._span(meta), dtype, dspan, list(items))

        @lark.v_args(meta=True)
        def chain(self, meta, items):
            source = items[0]
            assertion = None
            rest = items[1:]
            if rest and isinstance(rest[0], TensorType):
                assertion, rest = rest[0], rest[1:]
            return Chain(self._span(meta), source, assertion, list(rest))

        def assertion(self, items):
            return items[0]

        @lark.v_args(meta=True)
        def stage(self, meta, items):
            st = Stage(self._span(meta), items[0])
            for item in items[1:]:
                if isinstance(item, tuple) and item[0] == "repeat":
                    st.repeat = item[1]
                elif isinstance(item, tuple) and item[0] == "alias":
                    st.alias, st.alias_span = item[1], item[2]
                elif isinstance(item, TensorType):
                    st.assertion = item
            return st

        def repeat(self, items):
            return ("repeat", items[0])

        def alias(self, items):
            return ("alias", str(items[0]), self._tok_span(items[0]))

        @lark.v_args(meta=True)
        def stage_call(self, meta, items):
            name = items[0]
            args = [a if isinstance(a, Arg) else Arg(a.span, None, _unwrap(a)) for a in items[1:]]
            has_parens = meta.end_column != name.end_column or meta.end_line != name.end_line
            return StageCall(self._span(meta), str(name), args, has_parens, self._tok_span(name))

        @lark.v_args(meta=True)
        def stage_group(self, meta, items):
            return StageGroup(self._span(meta), list(items))

        @lark.v_args(meta=True)
        def call(self, meta, items):
            name = items[0]
            args = [a if isinstance(a, Arg) else Arg(a.span, None, _unwrap(a)) for a in items[1:]]
            return Call(self._span(meta), str(name), args, self._tok_span(name))

        @lark.v_args(meta=True)
        def kwarg(self, meta, items):
            return Arg(self._span(meta), str(items[0]), _unwrap(items[1]))

        @lark.v_args(meta=True)
        def ref(self, meta, items):
            return Ref(self._span(meta), str(items[0]), str(items[1]) if len(items) > 1 else None)

        def _bin(self, op, meta, items):
            return BinOp(self._span(meta), op, items[0], items[1])

        @lark.v_args(meta=True)
        def add(self, meta, items):
            return self._bin("+", meta, items)

        @lark.v_args(meta=True)
        def sub(self, meta, items):
            return self._bin("-", meta, items)

        @lark.v_args(meta=True)
        def mul(self, meta, items):
            return self._bin("*", meta, items)

        @lark.v_args(meta=True)
        def floordiv(self, meta, items):
            return self._bin("//", meta, items)

        @lark.v_args(meta=True)
        def mod(self, meta, items):
            return self._bin("%", meta, items)

        @lark.v_args(meta=True)
        def neg(self, meta, items):
            inner = items[0]
            if isinstance(inner, (Int, Float)):
                return type(inner)(self._span(meta), -inner.value)
            return Neg(self._span(meta), inner)

        @lark.v_args(meta=True)
        def int_lit(self, meta, items):
            return Int(self._span(meta), int(str(items[0]).replace("_", "")))

        @lark.v_args(meta=True)
        def float_lit(self, meta, items):
            return Float(self._span(meta), float(str(items[0]).replace("_", "")))

        @lark.v_args(meta=True)
        def string_lit(self, meta, items):
            return Str(self._span(meta), str(items[0])[1:-1])

        @lark.v_args(meta=True)
        def true_lit(self, meta, items):
            return Bool(self._span(meta), True)

        @lark.v_args(meta=True)
        def false_lit(self, meta, items):
            return Bool(self._span(meta), False)

        @lark.v_args(meta=True)
        def paren(self, meta, items):
            chain = items[0]
            if not chain.stages and chain.assertion is None:
                return chain.source
            return chain

        @lark.v_args(meta=True)
        def tuple_lit(self, meta, items):
            return Tuple(self._span(meta), [_unwrap(c) for c in items])

    return Builder


def _unwrap(chain):
    if isinstance(chain, Chain) and not chain.stages and chain.assertion is None:
        return chain.source
    return chain


class _Builder:
    _cls = None

    def __init__(self, file: str):
        if _Builder._cls is None:
            _Builder._cls = _build_transformer()
        self._impl = _Builder._cls(file)
        self.file = file

    def transform(self, tree):
        _check_depth(tree, self.file)
        return self._impl.transform(tree)


def _check_depth(tree, file: str) -> None:
    """Reject trees deeper than MAX_DEPTH before anything walks them recursively."""
    import lark

    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH * 4:
            meta = node.meta
            raise _DepthError(Span(file, getattr(meta, "line", 1), getattr(meta, "column", 1),
                                   getattr(meta, "line", 1), getattr(meta, "column", 1) + 1))
        for child in node.children:
            if isinstance(child, lark.Tree):
                stack.append((child, depth + 1))
