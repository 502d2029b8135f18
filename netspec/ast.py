"""The AST of a spec: dataclasses that carry the span of the text they were parsed from.

``netspec.parser`` builds it from text (a fast hand-written parser, with Lark's LALR parser
over grammar/netspec.lark as the parser of record); the checker reads it. Every node has a
:class:`~netspec.diagnostics.Span`; names of nodes follow the grammar's rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Union

from .diagnostics import Span

KEYWORDS = frozenset({"network", "input", "output", "as", "true", "false"})
# `# netspec: allow[code, ...]` silences those diagnostics on its line
ALLOW_COMMENT = re.compile(r"#\s*netspec:\s*allow\[([A-Za-z0-9_\- ,]+)\]")


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
