"""Lark's parse tree of a spec -> the AST (netspec.ast), for the parser of record.

Imported only when the fast path (netspec.fastparse) leaves a text to Lark, so that
checking a spec does not import Lark at all in the common case.
"""

from __future__ import annotations

import lark

from .ast import (
    Arg,
    Binding,
    BinOp,
    Bool,
    Call,
    Chain,
    Dots,
    Float,
    Input,
    Int,
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
from .diagnostics import Span
from .limits import MAX_DEPTH


class DepthError(Exception):
    def __init__(self, span: Span):
        self.span = span


class Builder(lark.Transformer_NonRecursive):
    """Lark's parse tree -> the AST, one method a grammar rule (propagate_positions gives
    every rule its span)."""

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
            net.add(st)
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
        *names, chain = items
        targets = [(str(n), self._tok_span(n)) for n in names] if len(names) > 1 else []
        return Binding(self._span(meta), str(names[0]), chain, self._tok_span(names[0]), targets)

    @lark.v_args(meta=True)
    def tensor_decl(self, meta, items):
        kind, name, tt, *init = items
        return TensorDecl(self._span(meta), str(kind), str(name), self._tok_span(name), tt, init[0] if init else None)

    @lark.v_args(meta=True)
    def shared_decl(self, meta, items):
        _, name, layer = items
        return SharedDecl(self._span(meta), str(name), self._tok_span(name), layer)

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
                st.alias, st.alias_span, st.alias_start, st.alias_quoted = item[1:]
            elif isinstance(item, TensorType):
                st.assertion = item
        return st

    def repeat(self, items):
        return ("repeat", items[0])

    def alias(self, items):
        start = int(str(items[1]).replace("_", "")) if len(items) > 1 else None
        name, quoted = str(items[0]), items[0].type == "STRING"
        return ("alias", name[1:-1] if quoted else name, self._tok_span(items[0]), start, quoted)

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
    def truediv(self, meta, items):
        return self._bin("/", meta, items)

    @lark.v_args(meta=True)
    def matmul(self, meta, items):
        return self._bin("@", meta, items)

    @lark.v_args(meta=True)
    def pow(self, meta, items):
        return self._bin("**", meta, items)

    @lark.v_args(meta=True)
    def subscript(self, meta, items):
        return Subscript(self._span(meta), items[0], [_unwrap(i) for i in items[1:]])

    @lark.v_args(meta=True)
    def slice(self, meta, items):
        parts = list(items) + [None] * (3 - len(items))
        return Slice(self._span(meta), *parts)

    def part(self, items):
        return _unwrap(items[0]) if items else None

    @lark.v_args(meta=True)
    def dots(self, meta, items):
        return Dots(self._span(meta))

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
        return Float(self._span(meta), float_literal(str(items[0])))

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


def _unwrap(chain):
    if isinstance(chain, Chain) and not chain.stages and chain.assertion is None:
        return chain.source
    return chain


def to_ast(tree, file: str) -> list[Network]:
    """The networks of a parse tree; raises DepthError for a tree nested too deeply."""
    _check_depth(tree, file)
    return Builder(file).transform(tree)


def _check_depth(tree, file: str) -> None:
    """Reject trees deeper than MAX_DEPTH before anything walks them recursively."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH * 4:
            meta = node.meta
            raise DepthError(Span(file, getattr(meta, "line", 1), getattr(meta, "column", 1),
                                   getattr(meta, "line", 1), getattr(meta, "column", 1) + 1))
        for child in node.children:
            if isinstance(child, lark.Tree):
                stack.append((child, depth + 1))
