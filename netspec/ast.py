"""The AST of a spec: dataclasses that carry the span of the text they were parsed from.

``netspec.parser`` builds it from text (a fast hand-written parser, with Lark's LALR parser
over grammar/netspec.lark as the parser of record); the checker reads it. Every node has a
:class:`~netspec.diagnostics.Span`; names of nodes follow the grammar's rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NamedTuple, Union

from .diagnostics import Span

KEYWORDS = frozenset({"network", "input", "output", "as", "true", "false"})
# words that start a declaration where a statement starts, and are names everywhere else
DECLARATIONS = frozenset({"param", "buffer", "shared"})
# `# netspec: allow[code, ...]` silences those diagnostics on its line
ALLOW_COMMENT = re.compile(r"#\s*netspec:\s*allow\[([A-Za-z0-9_\- ,]+)\]")
# precedence levels of the grammar, loosest first (fmt writes by them, check quotes by them)
CHAIN, SUM, PRODUCT, UNARY, POWER, POSTFIX, ATOM = range(7)
OPERATOR_LEVEL = {"+": SUM, "-": SUM, "*": PRODUCT, "/": PRODUCT, "//": PRODUCT, "%": PRODUCT, "@": PRODUCT, "**": POWER}


@dataclass
class Node:
    span: Span


@dataclass
class Int(Node):
    value: int


@dataclass
class Float(Node):
    value: float  # a SpelledFloat where the literal is past float's range


class SpelledFloat(float):
    """A float literal past float's range, with the value Python reads (`1e999` is inf,
    `1e-999` is 0.0), that keeps its spelling: a message quotes the literal as the spec
    writes it, not as `inf`. A float in every other way (arithmetic makes plain floats)."""

    __slots__ = ("text",)

    def __new__(cls, value: float, text: str) -> "SpelledFloat":
        out = super().__new__(cls, value)
        out.text = text
        return out

    def __repr__(self) -> str:
        return self.text

    __str__ = __repr__

    def __neg__(self) -> "SpelledFloat":
        return SpelledFloat(-float(self), self.text[1:] if self.text.startswith("-") else "-" + self.text)

    def __reduce__(self):
        return SpelledFloat, (float(self), self.text)


def float_literal(text: str) -> float:
    """A FLOAT token's value: a float, or a SpelledFloat where the literal is past float's
    range (it overflows to inf, or its digits are not all zero and it underflows to 0.0)."""
    value = float(text.replace("_", ""))
    if value in (float("inf"), float("-inf")) or (value == 0 and re.search(r"[1-9]", re.split("[eE]", text)[0])):
        return SpelledFloat(value, text)
    return value


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
    op: str  # + - * / // % @ **: sizes, or tensors (add, sub, mul, div, matmul, pow)
    left: "Expr"
    right: "Expr"


@dataclass
class Neg(Node):
    operand: "Expr"


@dataclass
class Tuple(Node):
    items: list["Expr"]


@dataclass
class Slice(Node):
    """`start:stop:step` in a subscript, each part optional."""

    start: "Expr | None"
    stop: "Expr | None"
    step: "Expr | None"


@dataclass
class Dots(Node):
    """`...` in a subscript."""


@dataclass
class Subscript(Node):
    """`x[:, -1]`: a tensor indexed as Python indexes it (the op `getitem`)."""

    value: "Expr"
    items: list["Expr"]  # an index, a Slice, Dots, or `None` (a Ref) for a new axis


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
    alias_start: int | None = None  # `as name{1}`: each repetition a module, numbered from it
    alias_quoted: bool = False  # `as "block1-0"`: a name torch allows that a spec name cannot be


@dataclass
class Chain(Node):
    source: "Expr"
    assertion: TensorType | None
    stages: list[Stage]


Expr = Union[Int, Float, Str, Bool, Ref, Call, BinOp, Neg, Tuple, Chain, Subscript]


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
    # `q, k, v = ...`: every name (the first is ``name``) with its span, one per result
    targets: list[tuple[str, Span]] = field(default_factory=list)

    def references(self) -> References:
        """What the chain refers to and calls; read once (an AST is not changed once built,
        and the language server keeps the statements that did not change between checks)."""
        got = self.__dict__.get("_references")
        if got is None:
            refs, stages, calls = [], set(), set()
            for n in walk(self.chain):
                if isinstance(n, Ref):
                    refs.append(n)
                elif isinstance(n, StageCall):
                    stages.add(n.name)
                    calls.add(n.name)
                elif isinstance(n, Call):
                    calls.add(n.name)
            got = self.__dict__["_references"] = References(refs, {r.name for r in refs}, stages, calls)
        return got


class References(NamedTuple):
    """A binding's references (``refs``), the names they refer to, the names of the stages
    its chain calls (``stages``) and of everything it calls, stages and sources (``calls``)."""

    refs: list[Ref]
    names: set[str]
    stages: set[str]
    calls: set[str]


@dataclass
class TensorDecl(Node):
    """`param w: float[4, 4] = normal(std=0.02)`: a learnable tensor (or a `buffer`) of the
    built module, with the call that makes its first value (zeros when none is given)."""

    kind: str  # "param" | "buffer"
    name: str
    name_span: Span
    type: TensorType
    init: "Expr | None"


@dataclass
class SharedDecl(Node):
    """`shared cell = RNNCell(8)`: one module, built once, applied wherever ``name`` is a stage."""

    name: str
    name_span: Span
    layer: StageCall


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
    tensors: list[TensorDecl] = field(default_factory=list)
    shared: list[SharedDecl] = field(default_factory=list)

    def add(self, st: Node) -> None:
        """Add a statement, in order, to the list of its kind too."""
        self.add_all([st])

    def add_all(self, statements: list[Node]) -> None:
        """Add statements, in order, each to the list of its kind too."""
        self.statements += statements
        lists = {Input: self.inputs, Binding: self.bindings, Output: self.outputs, TensorDecl: self.tensors,
                 SharedDecl: self.shared}
        for st in statements:
            lists[type(st)].append(st)


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
