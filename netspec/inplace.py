"""Layers that write in place (``inplace=true``) where torch refuses it in a training step.

``split`` and ``chunk`` return their pieces as views of one tensor made by one call; torch
does not let a layer write into such a view, or into a view of one, in place while autograd
records ("Output 0 of SplitBackward0 is a view and is being modified inplace ... functions
that return multiple views"). A view that torch copies after all (``reshape`` of a strided
piece) is a new tensor, which may be written.
"""

from __future__ import annotations

from . import codes
from .graph import Node, Value
from .kinds.memory import Unsure, contiguous_strides


def _strides(t) -> tuple:
    return t.strides if isinstance(t.strides, tuple) else contiguous_strides(t.shape)


def _viewed(v: Value) -> tuple[Value, Node | None]:
    """Follow ``v`` back through views: the value reached, and the ``split`` or ``chunk`` it
    is a piece of (None where it is a new tensor or an input)."""
    while v.node is not None and v.tensor is not None:
        p = v.node
        if p.error is not None:
            return v, None
        if p.kind is None:  # a network used: follow its result inside, and out through an input
            inner, source = _viewed(p.block.outputs[v.index][1]) if p.block and v.index < len(p.block.outputs) \
                else (v, None)
            given = [id(i) for i in p.block.inputs] if p.block else []
            if source is not None or inner.node is not None or id(inner) not in given:
                return v, source
            v = p.inputs[given.index(id(inner))]
            continue
        if p.kind.multi_view:
            return v, p
        in_t = [i.tensor for i in p.inputs]
        if not in_t or None in in_t or not p.kind.aliases_input(p.args, in_t):
            return v, None
        try:
            strides = p.kind.result_strides(p.args, in_t, [o.tensor for o in p.outputs], [_strides(t) for t in in_t])
        except Unsure:  # a view for some values of the sizes: torch refuses the write at those
            strides = [()] * len(p.outputs)
        if v.index >= len(strides) or strides[v.index] is None:
            return v, None
        v = p.inputs[0]
    return v, None


def multi_view_source(v: Value) -> Node | None:
    """The ``split`` or ``chunk`` whose result ``v`` is, or is a view of; None if it is none."""
    return _viewed(v)[1]


def block_writes_into_view(use: Node) -> tuple[Node, Node] | None:
    """(the in-place layer of the network used, the ``split`` or ``chunk`` outside) where the
    network writes in place into a piece it is given, or a view of one."""
    sub = use.block
    given = {id(v): i for i, v in enumerate(sub.inputs)}
    for n in sub.nodes:
        if n.kind is None or n.args is None or not n.inputs or not n.kind.writes_input(n.args):
            continue
        v, _ = _viewed(n.inputs[0])
        if v.node is None and id(v) in given and given[id(v)] < len(use.inputs):
            source = multi_view_source(use.inputs[given[id(v)]])
            if source is not None:
                return n, source
    return None


def refuse_write_into_view(kind, a, ctx, inputs: list[Value]) -> None:
    """An error when the layer writes in place into a piece of ``split`` or ``chunk``."""
    if not inputs or not kind.writes_input(a):
        return
    source = multi_view_source(inputs[0])
    if source is None:
        return
    name = source.kind.name
    raise ctx.fail(codes.VALUE, f"{kind.name}(inplace=true) would write into a piece of `{name}`, which torch "
                   "refuses in a training step", [f"`{name}` at line {source.span.line} returns its pieces as views "
                                                   "of one tensor; torch does not let a layer modify them in place"],
                   help=f"use `{kind.name}()`: write it out of place", arg="inplace")


def refuse_block_write(reporter, use: Node, name: str, layer: Node, source: Node) -> None:
    """The error for a network used on a piece that it writes into in place."""
    piece = source.kind.name
    reporter.error(codes.VALUE, f"`{name}` writes into a piece of `{piece}` in place ({layer.kind.name}(inplace=true) "
                   f"at line {layer.span.line}), which torch refuses in a training step", use.span,
                   [f"`{piece}` at line {source.span.line} returns its pieces as views of one tensor; torch does not "
                    "let a layer modify them in place"],
                   help=f"use `{layer.kind.name}()` in `{name}`: write it out of place")
