"""Parsing: ``.net`` text -> the AST (netspec.ast), with spans.

The grammar lives in ``grammar/netspec.lark`` (shipped in the wheel as
``netspec/grammar/netspec.lark``) and is parsed with Lark's LALR parser, after a hand-written
fast path (netspec.fastparse) that builds the same AST for the texts it is sure of. Before
either, the text is screened against the bounds of netspec.limits, so that no parser
sees a text too deep or too large. Parser errors become ``syntax`` diagnostics that say in
plain words what was expected.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

from . import ast as A
from . import codes, fastparse, limits
from .ast import ALLOW_COMMENT, KEYWORDS, Module
from .diagnostics import Diagnostic, Reporter, Span
from .limits import MAX_BYTES, MAX_DEPTH, MAX_DIGITS

if TYPE_CHECKING:
    from pathlib import Path


def grammar_path() -> Path:
    from pathlib import Path  # only when Lark parses: its import costs start-up time

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
    "__ANON_2": "`**`",
    "__ANON_3": "`...`",
    "AT": "`@`",
    "TENSOR_KIND": "`param` or `buffer`",
    "SHARED": "`shared`",
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


# where these may all come, a statement may start: said in two words, not five
_STATEMENT_START = frozenset({"NAME", "INPUT", "OUTPUT", "TENSOR_KIND", "SHARED"})


def _describe_expected(expected) -> str:
    expected = set(expected)
    statement = _STATEMENT_START <= expected
    words = sorted({_word(t) for t in expected - _STATEMENT_START} if statement else {_word(t) for t in expected})
    if statement:
        words.append("a statement")
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


_NEWLINE_RUNS = re.compile(r"\n\n+")


def _nesting_ok(text: str, file: str, reporter: Reporter) -> bool:
    if "\n\n\n" in text and _too_deep(_NEWLINE_RUNS.sub("\n", text)) is None:
        return True  # a run of newlines read as one (a blanked body's lines at once): the same verdict
    where = _too_deep(text)
    if where is None:
        return True
    line, col = where
    reporter.error(codes.LIMIT, f"brackets nest deeper than {MAX_DEPTH} levels", Span(file, line, col, line, col + 1),
                   help="split the expression into named bindings")
    return False


def _too_deep(text: str) -> tuple[int, int] | None:
    """Where brackets first nest deeper than MAX_DEPTH (line, column), outside strings and
    comments; None where they never do."""
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
                return line, m.start() - line_start + 1
        elif ch in ")]}":
            depth = max(0, depth - 1)
    return None


_STRING_OR_COMMENT = re.compile(r'"[^"\n]*"|#[^\n]*')


def _stages_ok(text: str, file: str, reporter: Reporter) -> bool:
    """At most limits.MAX_LAYERS `->` outside comments and strings (every stage but a chain's source
    follows one), so that a spec too large to check is refused before it is parsed."""
    if text.count("->") <= limits.MAX_LAYERS:
        return True
    count = 0
    for number, line in enumerate(text.split("\n"), 1):
        code = _STRING_OR_COMMENT.sub(lambda m: " " * len(m.group()), line)
        n = code.count("->")
        if count + n > limits.MAX_LAYERS:
            col = 0
            for _ in range(limits.MAX_LAYERS - count + 1):
                col = code.index("->", col) + 2
            reporter.error(codes.LIMIT, f"the spec has more than {limits.MAX_LAYERS:,} layers and ops",
                           Span(file, number, col - 1, number, col + 1),
                           help=f"netspec checks at most {limits.MAX_LAYERS:,} stages in a file, "
                                "repetitions and uses of networks counted")
            return False
        count += n
    return True


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


def _screened(text: str, file: str, reporter: Reporter) -> bool:
    """Whether the text passes the screens run before any parser reads it (size, NUL
    bytes, nesting, stages, number lengths); else the error is reported."""
    if len(text) > MAX_BYTES:
        reporter.error(codes.LIMIT, f"the file is larger than {MAX_BYTES // (1024 * 1024)} MiB",
                       Span(file, 1, 1, 1, 2))
        return False
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        col = text.index("\x00") - (text.rfind("\n", 0, text.index("\x00")) + 1) + 1
        reporter.error(codes.SYNTAX, "the file contains a NUL byte", Span(file, line, col, line, col + 1),
                       help="netspec files are plain UTF-8 text")
        return False
    return _nesting_ok(text, file, reporter) and _stages_ok(text, file, reporter) and _numbers_ok(text, file, reporter)


def parse_statements(text: str, file: str, line: int, col: int) -> tuple[list, list] | None:
    """The statements of a part of a network's body that starts at ``line`` and ``col``,
    and its allow comments, as :func:`parse` reads them inside the network; None where the
    part does not pass the screens or the fast path is unsure (parse the whole network then)."""
    if not _screened(text, file, Reporter()):
        return None
    return fastparse.parse_statements(text, file, line, col)


def parse(text: str, file: str, reporter: Reporter) -> Module | None:
    """Parse ``text``; on error report a ``syntax`` diagnostic and return None."""
    if not _screened(text, file, reporter):
        return None
    module = fastparse.parse(text, file)  # the same AST, faster; what it is unsure of goes to Lark
    if module is not None:
        return module
    import lark

    from .lark_tree import DepthError, to_ast

    parser = _parser()
    _comments.clear()
    try:
        tree = parser.parse(text)
    except lark.exceptions.UnexpectedInput as e:
        reporter.add(_syntax_diagnostic(e, text, file))
        return None
    allowed = []
    for tok in _comments:
        m = ALLOW_COMMENT.search(str(tok))
        if m:
            for code in m.group(1).split(","):
                allowed.append((tok.line, code.strip()))
    try:
        networks = to_ast(tree, file)
    except DepthError as e:
        reporter.error(codes.LIMIT, f"expressions nest deeper than {MAX_DEPTH} levels", e.span,
                       help="split the expression into named bindings")
        return None
    return Module(file, text, networks, allowed)


def _syntax_diagnostic(e, text: str, file: str):
    import lark

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
        if e.token.type == "NAME" and tok in KEYWORDS:
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
    notes = []
    token = getattr(e, "token", None)
    upto = getattr(token, "start_pos", None) if token is not None and token.type != "$END" else len(text)
    opened = _open_brackets(text, upto if isinstance(upto, int) else getattr(e, "pos_in_stream", 0) or 0)
    closers = {"(": "RPAR", "[": "RSQB", "{": "RBRACE"}
    expected = set(getattr(e, "expected", None) or getattr(e, "allowed", None) or ())
    unclosed = opened[-1] if opened and closers[opened[-1][2]] in expected else None
    if unclosed is not None and unclosed[0] < line:  # the parser would close it here: say where it opened
        notes.append(f"the `{unclosed[2]}` at line {unclosed[0]}, column {unclosed[1]} is not closed")
    help_ = _syntax_help(e, text, expected, unclosed)
    return Diagnostic("error", codes.SYNTAX, msg, Span(file, line, col, line, end), notes, help_)


def _syntax_help(e, text: str, expected: set, unclosed) -> str:
    """How to fix a syntax error: the likeliest mistake at this point, else what to write."""
    import lark

    token = getattr(e, "token", None)
    history = getattr(e, "token_history", None) or []
    previous = str(history[-1]) if history else ""
    if isinstance(e, lark.exceptions.UnexpectedCharacters):
        return _character_help(text[e.pos_in_stream] if 0 <= e.pos_in_stream < len(text) else "", expected)
    if token is None or token.type == "$END":
        if unclosed is not None:
            return f"close the `{unclosed[2]}` opened at line {unclosed[0]}, or finish what it holds"
        return f"the text stops mid-statement: finish it with {_describe_expected(expected)}"
    if str(token) in KEYWORDS and "NAME" in expected:
        return f"`{token}` is a keyword: name the value otherwise, e.g. `{token}_`"
    if previous in KEYWORDS and token.type == "EQUAL":
        return f"`{previous}` is a keyword: name the value otherwise, e.g. `{previous}_ = ...`"
    if unclosed is not None and unclosed[0] < token.line and unclosed[2] != "{":
        return f"close the `{unclosed[2]}` opened at line {unclosed[0]} before this point"
    if expected <= {"EQUAL", "COMMA"} and previous in KEYWORDS:
        return f"`{previous}` cannot start a statement: write `name = ...`, `input ...` or `output ...`"
    if expected <= {"EQUAL", "COMMA"} and history and history[-1].type == "NAME":
        return f"`{previous}` starts a new binding here; if it is a stage, join it with `->`: `... -> {previous}`"
    return _expected_help(expected, token)


def _character_help(ch: str, expected: set) -> str:
    if ch == '"':
        return "a string is written on one line between two `\"`, with no `\\` inside: `\"relu\"`"
    if not ch.isascii() or not ch.isprintable():
        return (f"remove the character (U+{ord(ch or '?'):04X}): outside comments and strings, "
                "netspec text is plain ASCII")
    return f"remove `{ch}`" + (f"; {_describe_expected(expected)} may come here" if expected else "")


_CONTEXT_HELP = (  # (what the parser expects, how the construct there is written)
    ({"NETWORK"}, "a spec is a list of networks, each `network Name(param=default, ...) { statements }`"),
    ({"LSQB"}, "a tensor type is a dtype and its dims in brackets: `input x: float[batch, 3, 32, 32]`"),
    ({"LPAR", "LBRACE"}, "a network is written `network Name(param=default, ...) { statements }`"),
    ({"LBRACE"}, "the network's statements follow its parameters in braces: `network Name(k=3) { ... }`"),
    ({"NAME"}, "write a name here: letters, digits and `_`, not starting with a digit"),
)


def _expected_help(expected: set, token) -> str:
    for keys, help_ in _CONTEXT_HELP:
        if expected and expected <= keys:
            return help_
    if "__ANON_0" in expected or "RPAR" in expected:
        return "stages are joined with `->`; check the brackets around this point"
    return f"write {_describe_expected(expected)} here, or remove `{str(token).splitlines()[0][:20]}`"


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


def literal(expr, reporter: Reporter):
    """A parameter default or a --set value: a number, boolean, string or tuple of them."""
    if isinstance(expr, (A.Int, A.Float, A.Str, A.Bool)):
        return expr.value
    if isinstance(expr, A.Tuple):
        return tuple(literal(e, reporter) for e in expr.items)
    if isinstance(expr, A.Neg):
        v = literal(expr.operand, reporter)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return -v
    reporter.error(codes.PARAM, "a parameter default must be a number, boolean, string or tuple", expr.span,
                   help="write the value itself (`k=3`, `mode=\"relu\"`, `kernel=(3, 3)`); a size computed from "
                   "other parameters is written where it is used (`Linear(k * 2)`)")
    return None
