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
from .kinds.memory import contiguous_strides


def _strides(t) -> tuple:
    return t.strides if isinstance(t.strides, tuple) else contiguous_strides(t.shape)


def multi_view_source(v: Value) -> Node | None:
    """The ``split`` or ``chunk`` whose result ``v`` is, or is a view of; None if it is none."""
    while v.node is not None and v.tensor is not None:
        p = v.node
        if p.kind is None or p.error is not None:
            return None
        if p.kind.multi_view:
            return p
        in_t = [i.tensor for i in p.inputs]
        if not in_t or None in in_t or not p.kind.aliases_input(p.args, in_t):
            return None
        strides = p.kind.result_strides(p.args, in_t, [o.tensor for o in p.outputs], [_strides(t) for t in in_t])
        if v.index >= len(strides) or strides[v.index] is None:
            return None
        v = p.inputs[0]
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
