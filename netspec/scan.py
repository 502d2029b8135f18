"""Loops over time: `states, last = x -> scan(cell, h0)`.

``scan(step, state, dim=0)`` applies shared module ``step`` at each position of the piped
tensor along ``dim`` (that dim removed), carrying one state tensor from each position to
the next, and stacks the states it makes along ``dim``: the results are ``output`` (every
state, ``[T, ...]`` at ``dim``) and ``last`` (the state after the last position). The step
is a shared RNNCell or GRUCell (the state is its ``hx``) or a shared network of two inputs,
position then state, and one output, of the state's dtype and shape.

The step is checked once, on one position, as a stage of its own (it shows in the table,
its parameters counted once); its costs are counted once per position. The built module
loops in Python through a small ``scan`` function it defines.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from . import ast as A
from . import codes
from .context import BATCH_NAMES
from .dims import render, sym
from .graph import Node, Value
from .kinds import Fail
from .kinds.base import REGISTRY, Args, DimArg, Op, StrArg
from .types import Origin, Tensor

if TYPE_CHECKING:
    from .checker import NetworkChecker, Results

SUPPORT = '''\
def scan(step, xs: torch.Tensor, state: torch.Tensor, dim: int):
    """Apply ``step`` at each position of ``xs`` along ``dim``, carrying ``state``;
    the states stacked along ``dim``, and the last one."""
    states = []
    for x in xs.unbind(dim):
        state = step(x, state)
        states.append(state)
    return torch.stack(states, dim), state
'''
_STATE = "\x00scan state"  # the step's state while it is checked: no name a spec can write


class ScanArgs(Args):
    step: StrArg
    dim: DimArg = 0


class Scan(Op):
    """The loop itself in the typed graph (not a stage a spec names by kind: see apply)."""

    name = "scan"
    Args = ScanArgs
    results: ClassVar[tuple[str, ...]] = ("output", "last")
    held_elsewhere: ClassVar[tuple[int, ...]] = (1,)  # the last state is the step's last result
    support_code: ClassVar[str] = SUPPORT

    def is_view(self):
        return False  # the stacked states are a new tensor

    def op_expr(self, a, inputs, code):
        return f"scan(self.{a.step}, {inputs[0]}, {inputs[1]}, {a.dim})"

    def flops(self, a, inputs, outputs):
        return 0


SCAN = Scan()


def apply(nc: NetworkChecker, span, args: list[A.Arg], piped: Value | None, st: A.Stage | None) -> Results:
    """`x -> scan(step, state, dim=0)`: check one step, then state the loop's results."""
    name, state, dim = _arguments(nc, span, args, piped)
    x = piped.tensor
    d = _dim(nc, dim, x.rank, span)
    _steps_not_samples(nc, piped, d, span)
    here = x.with_shape(x.shape[:d] + x.shape[d + 1:], None, keep={k - (k > d): k for k in range(x.rank) if k != d})
    step_node, out = _step(nc, name, span, Value(here, piped.node, piped.index, piped.name), state)
    if out is None:
        raise Fail("scan")
    _same_state(nc, name, span, out, state)
    node = Node(SCAN, ScanArgs(step=name, dim=d), [piped, state], {}, span, nc.binding, group=())
    step_node.times, step_node.loop = x.shape[d], node
    origin = Origin("scan", span)
    t = state.tensor
    batch = _carried_batch(state.tensor, out.tensor)
    stacked = Tensor(t.dtype, t.shape[:d] + (x.shape[d],) + t.shape[d:], t.origins[:d] + (origin,) + t.origins[d:],
                     batch=None if batch is None else (batch[0] + (batch[0] >= d), *batch[1:]))
    node.outputs = [Value(stacked, node, 0, ""), Value(t.with_shape(t.shape, origin, batch=batch), node, 1, "")]
    nc.net.nodes.append(node)
    from .checker import Results
    return Results(node.outputs[0], {"output": node.outputs[0], "last": node.outputs[1]})


def _carried_batch(state: Tensor, out: Tensor):
    """Where the samples are in every state the loop makes: where the step's result has
    them, when the state it starts from has them there too (or says nothing)."""
    return out.batch if state.batch in (None, out.batch) else None


def _arguments(nc: NetworkChecker, span, args: list[A.Arg], piped: Value | None) -> tuple[str, Value, A.Arg | None]:
    help_ = "write `states, last = x -> scan(cell, h0)` with `shared cell = RNNCell(...)` declared"
    positional = [a for a in args if a.name is None]
    named = {a.name: a for a in args if a.name is not None}
    extra = sorted(set(named) - {"step", "state", "dim"})
    if piped is None or extra or len(positional) > 3:
        nc.reporter.error(codes.ARGUMENT, "scan takes a piped sequence, a shared step, a state and `dim`",
                          span, help=help_)
        raise Fail("scan")
    order = dict(zip(("step", "state", "dim"), positional))
    order.update(named)
    step, state = order.get("step"), order.get("state")
    if step is None or not isinstance(step.value, A.Ref) or step.value.name not in nc.shared:
        nc.reporter.error(codes.ARGUMENT, "scan's step must name a shared module", (step or span).span
                          if step else span, help=help_)
        raise Fail("scan")
    if state is None:
        nc.reporter.error(codes.ARGUMENT, "scan needs the state it starts from", span, help=help_)
        raise Fail("scan")
    value = nc.value(state.value)
    if not isinstance(value, Value) or piped.tensor is None or value.tensor is None:
        if not isinstance(value, Value):
            nc.reporter.error(codes.ARGUMENT, "scan's state must be a tensor", state.span, help=help_)
        raise Fail("scan")
    return step.value.name, value, order.get("dim")


def _dim(nc: NetworkChecker, dim: A.Arg | None, rank: int, span) -> int:
    if rank < 1:
        nc.reporter.error(codes.RANK, "scan needs a sequence of at least one dim", span,
                          help="pipe a sequence into it: `[seq, batch, features]`")
        raise Fail("scan")
    d = 0 if dim is None else nc.concrete(nc.dim_expr(dim.value), "scan's dim", dim.span)
    if not -rank <= d < rank:
        nc.reporter.error(codes.RANK, f"scan: dim {d} is out of range for a tensor with {rank} dims",
                          dim.span if dim else span, help=f"give a dim from {-rank} to {rank - 1}")
        raise Fail("scan")
    return d % rank


def _steps_not_samples(nc: NetworkChecker, piped: Value, d: int, span) -> None:
    """A `layout` error when the dim scanned is named as a batch, or holds the samples merged
    with another dim: the state would carry one sample into the next (unless an allow
    comment on the line says it is meant)."""
    x = piped.tensor
    size = nc.net.dim(x.shape[d])
    name = next((n for n in sorted(BATCH_NAMES) if size == sym(n)), None)
    merged = x.batch is not None and x.batch[0] == d
    if (name is None and not merged) or nc.reporter.silenced(codes.LAYOUT, span):
        return
    which = f"`{name}`" if name is not None else f"`{render(size)}`, the samples merged into it"
    nc.reporter.error(codes.LAYOUT, f"scan steps along dim {d}, which is {which}: the state would carry one "
                      "sample into the next", span, nc.story(piped),
                      help="scan along the time dim (`dim=1` for [batch, seq, ...]), or transpose it first; "
                      "if this is meant, add `# netspec: allow[layout]` to the line")
    raise Fail("scan")


def _step(nc: NetworkChecker, name: str, span, here: Value, state: Value) -> tuple[Node | None, Value | None]:
    """The step applied to one position and the state, as a stage; its node and result."""
    from . import sharing
    from .checker import Results
    decl = nc.shared[name]
    if decl is None:
        raise Fail("scan")
    kind = REGISTRY.get(decl.layer.name)
    if kind is not None and len(kind.state_inputs) != 1:
        nc.reporter.error(codes.ARGUMENT, f"scan carries one state tensor; `{decl.layer.name}` takes "
                          f"{len(kind.state_inputs) or 'no'} state tensors", span,
                          help="scan an RNNCell or a GRUCell, or a network of (position, state) -> state")
        raise Fail("scan")
    ref = A.Ref(span, _STATE)
    arg = A.Arg(span, kind.state_inputs[0] if kind is not None else None, ref)
    nc.values[_STATE] = Results(state, {"output": state})
    before = len(nc.net.nodes)
    try:
        res = sharing.apply(nc, name, span, [arg], here, None)
    finally:
        del nc.values[_STATE]
    node = nc.net.nodes[-1] if len(nc.net.nodes) > before else None
    return node, res.primary if node is not None and res.primary.tensor is not None else None


def _same_state(nc: NetworkChecker, name: str, span, out: Value, state: Value) -> None:
    a, b = out.tensor, state.tensor
    if a.dtype != b.dtype or a.rank != b.rank or not all(nc.same(x, y) for x, y in zip(a.shape, b.shape)):
        nc.reporter.error(codes.SHAPE, f"scan: `{name}` makes {nc.net.show(a)} from the state "
                          f"{nc.net.show(b)}, so the state it carries would change", span,
                          help="the step must return a state of the dtype and shape it takes")
        raise Fail("scan")
