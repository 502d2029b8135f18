"""Layers that write in place (``inplace=true``) where torch refuses it in a training step.

``split`` and ``chunk`` return their pieces as views of one tensor made by one call; torch
does not let a layer write into such a view, or into a view of one, in place while autograd
records ("Output 0 of SplitBackward0 is a view and is being modified inplace ... functions
that return multiple views"). A view that torch copies after all (``reshape`` of a strided
piece) is a new tensor, which may be written.
"""

from __future__ import annotations

from typing import NamedTuple
from weakref import WeakKeyDictionary

from . import codes
from .graph import Node, Value
from .kinds.memory import Unsure, contiguous_strides
from .types import FLOAT_DTYPES

_LIMIT = 20_000  # entries of each cache below; past it the cache starts again
_CONTIGUOUS: dict[tuple, tuple] = {}  # shape -> its contiguous strides


def _strides(t) -> tuple:
    if isinstance(t.strides, tuple):
        return t.strides
    got = _CONTIGUOUS.get(t.shape)
    if got is None:
        if len(_CONTIGUOUS) > _LIMIT:
            _CONTIGUOUS.clear()
        got = _CONTIGUOUS[t.shape] = contiguous_strides(t.shape)
    return got


def _viewed(v: Value, through_pieces: bool = False) -> tuple[Value, Node | None]:
    """Follow ``v`` back through views: the value reached, and the ``split`` or ``chunk`` it
    is a piece of (None where it is a new tensor or an input). With ``through_pieces`` a
    piece is followed on to the tensor it is cut from: the value reached is the storage."""
    v, source, _ = _viewed_in(v, through_pieces)
    return v, source


def _viewed_in(v: Value, through_pieces: bool = False) -> tuple[Value, Node | None, str | None]:
    """``_viewed``, and the name of the network used that holds the ``split`` or ``chunk``
    (the innermost; None where it is in the network of ``v``)."""
    while v.node is not None and v.tensor is not None:
        p = v.node
        if p.error is not None:
            return v, None, None
        if p.kind is None:  # a network used: follow its result inside, and out through an input
            inner, source, where = _viewed_in(p.block.outputs[v.index][1], through_pieces) \
                if p.block and v.index < len(p.block.outputs) else (v, None, None)
            given = [id(i) for i in p.block.inputs] if p.block else []
            if source is not None or inner.node is not None or id(inner) not in given:
                return v, source, (where or p.block.name) if source is not None else None
            v = p.inputs[given.index(id(inner))]
            continue
        if p.kind.multi_view and not through_pieces:
            return v, p, None
        in_t = [i.tensor for i in p.inputs]
        if not in_t or None in in_t or not p.kind.aliases_input(p.args, in_t):
            return v, None, None
        try:
            strides = p.kind.result_strides(p.args, in_t, [o.tensor for o in p.outputs], [_strides(t) for t in in_t])
        except Unsure:  # a view for some values of the sizes: torch refuses the write at those
            strides = [()] * len(p.outputs)
        if v.index >= len(strides) or strides[v.index] is None:
            return v, None, None
        v = p.inputs[0]
    return v, None, None


def multi_view_source(v: Value) -> tuple[Node, str | None] | None:
    """The ``split`` or ``chunk`` whose result ``v`` is, or is a view of, and the name of
    the network used that holds it (None: the network of ``v``); None if it is none."""
    _, source, where = _viewed_in(v)
    return None if source is None else (source, where)


def _pieces_note(source: Node, where: str | None) -> str:
    """The note on the ``split`` or ``chunk`` whose pieces are written: its line, and the
    network it is in where that is another one."""
    at = f"line {source.span.line}" + (f" of network `{where}`" if where else "")
    return (f"`{source.kind.name}` at {at} returns its pieces as views of one tensor; torch does not let a layer "
            "modify them in place")


def block_writes_into_view(use: Node) -> tuple[Node, tuple[Node, str | None]] | None:
    """(the in-place layer of the network used, the ``split`` or ``chunk`` outside and the
    network that holds it: multi_view_source) where the network writes in place into a
    piece it is given, or a view of one."""
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
    _refuse_write_into_overlap(kind, ctx, inputs[0])
    found = multi_view_source(inputs[0])
    if found is None:
        return
    raise ctx.fail(codes.VALUE, f"{kind.name}(inplace=true) would write into a piece of `{found[0].kind.name}`, "
                   "which torch refuses in a training step", [_pieces_note(*found)],
                   help=f"use `{kind.name}()`: write it out of place", arg="inplace")


def _refuse_write_into_overlap(kind, ctx, v: Value) -> None:
    """An error where elements of the tensor written in place share memory (a stride of 0
    over a dim of more than one: `expand`), which torch refuses in any mode."""
    t = v.tensor
    if t is None or not isinstance(t.strides, tuple):
        return
    if any(s == 0 and not (isinstance(d, int) and d <= 1) for s, d in zip(t.strides, t.shape)):
        raise ctx.fail(codes.VALUE, f"{kind.name}(inplace=true) would write into a tensor whose elements share "
                       "memory, which torch refuses", ["`expand` makes a view that repeats each element without "
                                                       "copying it"],
                       help=f"use `{kind.name}()`: write it out of place, or `-> contiguous()` before it",
                       arg="inplace")


def refuse_block_write(reporter, use: Node, name: str, layer: Node, found: tuple[Node, str | None]) -> None:
    """The error for a network used on a piece that it writes into in place (``found``:
    the ``split`` or ``chunk`` and the network that holds it, multi_view_source)."""
    reporter.error(codes.VALUE, f"`{name}` writes into a piece of `{found[0].kind.name}` in place "
                   f"({layer.kind.name}(inplace=true) at line {layer.span.line}), which torch refuses in a training "
                   "step", use.span, [_pieces_note(*found)],
                   help=f"use `{layer.kind.name}()` in `{name}`: write it out of place")


# -- in-place writes into a tensor that an earlier layer saved for backward --------------------
# A network's floating-point inputs count as needing a gradient: any network may be used inside
# another on a tensor that needs one, and a layer that saves what it reads then keeps it.

def _base(v: Value) -> int:
    """The id of the storage ``v`` is: the value that views of it (and pieces) lead back to."""
    return id(_viewed(v, through_pieces=True)[0])


# id(a layer's Args) -> (the Args, {Autograd: its _Positions}). A layer's Args object is its
# own, or one it shares with the layers the checker replayed from the same application
# (netspec.memo: the same kind, arguments and input types, in one environment of parameter
# values), so what autograd keeps for it is the same at each: worked out once.
_BY_ARGS: dict[int, tuple] = {}


class _Positions(NamedTuple):
    """What a layer saves, by position: inputs, tensors passed by keyword, results; None
    (``inputs``) where its kind cannot say; and the results it keeps beyond those."""

    inputs: tuple | None
    state: tuple
    outputs: tuple
    kept: tuple


def _positions(n: Node, net, grad) -> _Positions:
    hit = _BY_ARGS.get(id(n.args))
    if hit is None or hit[0] is not n.args:
        if len(_BY_ARGS) > _LIMIT:
            _BY_ARGS.clear()
        hit = _BY_ARGS[id(n.args)] = (n.args, {})
    got = hit[1].get(grad)
    if got is None:
        got = hit[1][grad] = _worked_out(n, net, grad)
    return got


def _worked_out(n: Node, net, grad) -> _Positions:
    from .costs import bound_args

    try:
        s = n.kind.saved(bound_args(net, n.args), [v.tensor for v in n.inputs], [v.tensor for v in n.outputs], grad)
    except Exception:  # noqa: BLE001 - a kind that cannot say for these sizes
        s = None
    kept = tuple(n.kind.results_kept(n.args))
    if s is None:
        return _Positions(None, (), (), kept)
    return _Positions(tuple(s.inputs), tuple(s.state), tuple(s.outputs), kept)


def _recorded_saves(n: Node, net, grad) -> list[Value]:
    """The inputs and results that autograd keeps for ``n``'s backward in a training step;
    where its kind cannot say (kinds/memory.py's UNKNOWN: the bytes depend on more than the
    shapes) its inputs: each such kind keeps what it reads, and none keeps its result."""
    p = _positions(n, net, grad)
    kept = [n.outputs[i] for i in p.kept if i < len(n.outputs)]
    if p.inputs is None:
        return [*n.inputs, *n.state.values(), *kept]
    return kept + ([n.inputs[i] for i in p.inputs if i < len(n.inputs)] + [n.state[k] for k in p.state if k in n.state]
            + [n.outputs[i] for i in p.outputs if i < len(n.outputs)])


def _needs(grads: dict[int, bool], v: Value) -> bool:
    """Whether ``v`` needs a gradient: as worked out, or for a network's input, whenever its
    dtype can have one (an integer tensor never does)."""
    return grads.get(id(v), v.tensor is None or v.tensor.dtype in FLOAT_DTYPES)


def _saves(net, nodes: list[Node], grads: dict[int, bool], out: dict[int, Node]) -> None:
    """Fill ``out``: the storage (``_base``) of each tensor that one of ``nodes`` saves for
    backward, with the layer that saves it; ``grads`` says which values need a gradient."""
    from .kinds.memory import Autograd

    for n in nodes:
        if n.error is not None or not n.outputs or any(v.tensor is None for v in n.outputs):
            continue
        if n.kind is None:
            _block_saves(n, grads, out)
            continue
        grad = Autograd(tuple(_needs(grads, v) for v in n.inputs),
                        frozenset(k for k, v in n.state.items() if _needs(grads, v)), n.params != 0)
        for v in n.outputs:
            grads[id(v)] = grad.records and v.tensor.dtype in FLOAT_DTYPES
        if grad.records and n.args is not None and n.loop is None:
            for v in _recorded_saves(n, net, grad):
                out.setdefault(_base(v), n)


def _block_saves(use: Node, grads: dict[int, bool], out: dict[int, Node]) -> None:
    """A network used: what its layers save, as the caller's tensors (its inputs, its results)."""
    sub = use.block
    if sub is None:
        return
    inner_grads = {id(v): _needs(grads, o) for v, o in zip(sub.inputs, use.inputs)}
    for d in sub.tensors:
        inner_grads[id(d.value)] = d.role == "param"
    inner: dict[int, Node] = {}
    _saves(sub, sub.nodes, inner_grads, inner)
    outer = {id(v): o for v, o in zip(sub.inputs, use.inputs)}
    outer.update({_base(v): o for (_, v), o in zip(sub.outputs, use.outputs)})
    for key in inner:
        if key in outer:
            out.setdefault(_base(outer[key]), use)
    for (_, v), o in zip(sub.outputs, use.outputs):
        grads[id(o)] = _needs(inner_grads, v)


class _Progress:
    """What the layers of a network checked so far save: how many nodes were read, which
    values need a gradient, and the storage each saved tensor is (with its saver)."""

    def __init__(self) -> None:
        self.read = 0
        self.grads: dict[int, bool] = {}
        self.saved: dict[int, Node] = {}


_PROGRESS: WeakKeyDictionary = WeakKeyDictionary()


def _saved_so_far(net) -> dict[int, Node]:
    """The storage of each tensor that the network's layers before the last saved; read
    once per node as the checker appends them (the last is the layer being checked)."""
    p = _PROGRESS.setdefault(net, _Progress())
    for d in net.tensors:
        p.grads.setdefault(id(d.value), d.role == "param")
    end = len(net.nodes)
    while end > p.read and not net.nodes[end - 1].outputs and end == len(net.nodes):
        end -= 1  # the layer being checked: no results yet
    _saves(net, net.nodes[p.read:end], p.grads, p.saved)
    p.read = end
    return p.saved


def refuse_write_into_saved(kind, a, ctx, inputs: list[Value], net) -> None:
    """An error when the layer writes in place into a tensor (or a view of one) that an
    earlier layer saved for its backward pass: torch's training step fails at backward."""
    if not inputs or not kind.writes_input(a):
        return
    saver = _saved_so_far(net).get(_base(inputs[0]))
    if saver is None:
        return
    what = saver.kind.name if saver.kind is not None else saver.block.name
    raise ctx.fail(codes.VALUE, f"{kind.name}(inplace=true) would write into a tensor that `{what}` saved for "
                   "backward, which torch refuses in a training step",
                   [f"`{what}` at line {saver.span.line} keeps this tensor to compute its gradient; writing it in "
                    "place changes what the backward pass reads"],
                   help=f"use `{kind.name}()`: write it out of place", arg="inplace")


def block_writes_into_saved(use: Node, net) -> tuple[Node, Node] | None:
    """(the in-place layer of the network used, the caller's layer that saved the tensor)
    where the network writes in place into a tensor it is given (or a view of one) that a
    layer before it saved for backward."""
    sub = use.block
    given = {id(v): i for i, v in enumerate(sub.inputs)}
    saved = None
    for n in sub.nodes:
        if n.kind is None or n.args is None or not n.inputs or not n.kind.writes_input(n.args):
            continue
        v, _ = _viewed(n.inputs[0], through_pieces=True)
        if v.node is None and id(v) in given and given[id(v)] < len(use.inputs):
            saved = _saved_so_far(net) if saved is None else saved
            saver = saved.get(_base(use.inputs[given[id(v)]]))
            if saver is not None:
                return n, saver
    return None


def refuse_block_write_saved(reporter, use: Node, name: str, layer: Node, saver: Node) -> None:
    """The error for a network used on a tensor a layer saved, that it writes into in place."""
    what = saver.kind.name if saver.kind is not None else saver.block.name
    reporter.error(codes.VALUE, f"`{name}` writes in place ({layer.kind.name}(inplace=true) at line "
                   f"{layer.span.line}) into a tensor that `{what}` saved for backward, which torch refuses in a "
                   "training step", use.span,
                   [f"`{what}` at line {saver.span.line} keeps this tensor to compute its gradient; writing it in "
                    "place changes what the backward pass reads"],
                   help=f"use `{layer.kind.name}()` in `{name}`: write it out of place")
