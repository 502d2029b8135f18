"""Loops over time: `states, last = x -> scan(cell, h0)`.

``scan(step, state, dim=0)`` applies shared module ``step`` at each position of the piped
tensor along ``dim`` (that dim removed), carrying one state tensor from each position to
the next, and stacks the states it makes along ``dim``: the results are ``output`` (every
state, ``[T, ...]`` at ``dim``) and ``last`` (the state after the last position). The step
is a shared RNNCell or GRUCell (the state is its ``hx``) or a shared network of two inputs,
position then state, and one output, of the state's dtype and shape.

A shared LSTMCell carries the pair ``(h, c)``, as torch calls it:
`states, h, c = x -> scan(cell, (h0, c0))`; ``output`` stacks the h's (nn.LSTM's output)
and ``h``, ``c`` are the pair after the last position.

A shared network may carry several states: its inputs are the position then the states, its
outputs the states it makes, in that order: `states, h, c = x -> scan(step, (h0, c0))`.
``output`` stacks the first state; the others are named as the step's inputs name them.

The step is checked once, on one position, as a stage of its own (it shows in the table,
its parameters counted once); its costs are counted once per position. The built module
loops in Python through a small ``scan`` function it defines.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from . import ast as A
from . import codes
from .context import BATCH_NAMES
from .dims import render, sym
from .graph import Node, Value
from .kinds import Fail
from .kinds.base import REGISTRY, Args, DimArg, Forward, Op, StrArg
from .types import Origin, Tensor

if TYPE_CHECKING:
    from .checker import NetworkChecker, Results

SUPPORT = '''\
def scan(step, xs: torch.Tensor, state, dim: int, spread: bool = False):
    """Apply ``step`` at each position of ``xs`` along ``dim``, carrying ``state`` (a
    tensor, or an LSTMCell's pair (h, c); ``spread``: a tuple of states a network takes
    one by one); the states (the first of a tuple) stacked along ``dim``, and the last."""
    states = []
    for x in xs.unbind(dim):
        state = step(x, *state) if spread else step(x, state)
        states.append(state[0] if isinstance(state, tuple) else state)
    return torch.stack(states, dim), state
'''
# the step's states while it is checked: names no spec can write
_STATES = ("\x00scan state", "\x00scan state c")


def _placeholders(count: int) -> tuple[str, ...]:
    return _STATES if count <= 2 else tuple(f"\x00scan state {i}" for i in range(count))


@dataclass
class _StateRef(A.Ref):
    """The state while the step is checked: a placeholder name, shown in notes as the
    state's own name (or as `the state`)."""

    shown: str = ""

    @property
    def text(self) -> str:
        return self.shown


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


class ScanPair(Scan):
    """A scan of an LSTMCell: the state is the pair (h, c), as torch's cell takes it."""

    results: ClassVar[tuple[str, ...]] = ("output", "h", "c")
    held_elsewhere: ClassVar[tuple[int, ...]] = (1, 2)  # the last pair is the step's last results

    def op_expr(self, a, inputs, code):
        return f"scan(self.{a.step}, {inputs[0]}, ({inputs[1]}, {inputs[2]}), {a.dim})"

    def result_pattern(self, names):
        return f"{names[0]}, ({names[1]}, {names[2]})"


class ScanStates(Scan):
    """A scan of a network that carries several states, each given to it as an input of its
    own: ``results`` names them as the network's inputs do."""

    def __init__(self, names: tuple[str, ...]):
        self.results = ("output", *names)
        self.held_elsewhere = tuple(range(1, len(names) + 1))  # the step's last results

    def op_expr(self, a, inputs, code):
        return f"scan({', '.join(self._args(a, inputs))})"

    def forward(self, a, module, inputs, state, code, in_place=False):
        return Forward(callee="scan", args=self._args(a, inputs))  # a long line splits

    def _args(self, a, inputs) -> tuple[str, ...]:
        return (f"self.{a.step}", inputs[0], f"({', '.join(inputs[1:])})", str(a.dim), "spread=True")

    def result_pattern(self, names):
        return f"{names[0]}, ({', '.join(names[1:])})"


SCAN = Scan()
SCAN_PAIR = ScanPair()


def apply(nc: NetworkChecker, span, args: list[A.Arg], piped: Value | None, st: A.Stage | None) -> Results:
    """`x -> scan(step, state, dim=0)`: check one step, then state the loop's results."""
    name, states, dim = _arguments(nc, span, args, piped)
    x = piped.tensor
    d = _dim(nc, dim, x.rank, span)
    _steps_not_samples(nc, piped, d, span)
    here = x.with_shape(x.shape[:d] + x.shape[d + 1:], None, keep={k - (k > d): k for k in range(x.rank) if k != d})
    step_node, outs = _step(nc, name, span, Value(here, piped.node, piped.index, piped.name), states)
    if outs is None:
        raise Fail("scan")
    for out, state in zip(outs, states):
        _same_state(nc, name, span, out, state)
    kind = _kind(nc, name, len(states))
    node = Node(kind, ScanArgs(step=name, dim=d), [piped, *states], {}, span, nc.binding, group=())
    step_node.times, step_node.loop = x.shape[d], node
    origin = Origin("scan", span)
    t = states[0].tensor  # the state stacked: the h of a pair
    batches = [_carried_batch(s.tensor, o.tensor) for s, o in zip(states, outs)]
    b = batches[0]
    stacked = Tensor(t.dtype, t.shape[:d] + (x.shape[d],) + t.shape[d:], t.origins[:d] + (origin,) + t.origins[d:],
                     batch=None if b is None else (b[0] + (b[0] >= d), *b[1:]))
    node.outputs = [Value(stacked, node, 0, "")] + [
        Value(s.tensor.with_shape(s.tensor.shape, origin, batch=sb), node, i + 1, "")
        for i, (s, sb) in enumerate(zip(states, batches))]
    nc.net.nodes.append(node)
    from .checker import Results
    return Results(node.outputs[0], dict(zip(kind.results, node.outputs)))


def _kind(nc: NetworkChecker, step: str, count: int) -> Scan:
    """The loop's kind: one state, an LSTMCell's pair, or a network's several states (named
    as its inputs name them, `output` excepted)."""
    network = nc.checker.asts.get(nc.shared[step].layer.name)
    if count == 1:
        return SCAN
    if network is None:
        return SCAN_PAIR
    names = tuple(inp.name for inp in network.inputs[1:])
    if "output" in names:
        names = tuple(f"state{i}" for i in range(count))
    return ScanStates(names)


_HELP = "write `states, last = x -> scan(cell, h0)` with `shared cell = RNNCell(...)` declared"


def _carried_batch(state: Tensor, out: Tensor):
    """Where the samples are in every state the loop makes: where the step's result has
    them, when the state it starts from has them there too (or says nothing)."""
    return out.batch if state.batch in (None, out.batch) else None


def _arguments(nc: NetworkChecker, span, args: list[A.Arg],
               piped: Value | None) -> tuple[str, tuple[Value, ...], A.Arg | None]:
    positional = [a for a in args if a.name is None]
    named = {a.name: a for a in args if a.name is not None}
    extra = sorted(set(named) - {"step", "state", "dim"})
    if piped is None or extra or len(positional) > 3:
        nc.reporter.error(codes.ARGUMENT, "scan takes a piped sequence, a shared step, a state and `dim`",
                          span, help=_HELP)
        raise Fail("scan")
    order = dict(zip(("step", "state", "dim"), positional))
    order.update(named)
    step, state = order.get("step"), order.get("state")
    if step is None or not isinstance(step.value, A.Ref) or step.value.name not in nc.shared:
        nc.reporter.error(codes.ARGUMENT, "scan's step must name a shared module", (step or span).span
                          if step else span, help=_HELP)
        raise Fail("scan")
    if state is None:
        nc.reporter.error(codes.ARGUMENT, "scan needs the state it starts from", span, help=_HELP)
        raise Fail("scan")
    states = _states(nc, state)
    if piped.tensor is None or any(v.tensor is None for v in states):
        raise Fail("scan")
    return step.value.name, states, order.get("dim")


def _states(nc: NetworkChecker, state: A.Arg) -> tuple[Value, ...]:
    """The state a scan starts from: one tensor, or a tuple `(h0, c0)` (an LSTMCell's pair,
    or a network's states)."""
    value = nc.value(state.value)
    values = value if isinstance(value, tuple) and len(value) >= 2 else (value,)
    if not all(isinstance(v, Value) for v in values):
        nc.reporter.error(codes.ARGUMENT, "scan's state must be a tensor, or a tuple `(h0, c0)` of tensors for "
                          "an LSTMCell or a network of several states", state.span,
                          help="give one state tensor, `scan(cell, h0)`, or a tuple of them, `scan(cell, (h0, c0))`")
        raise Fail("scan")
    return values


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


def _step(nc: NetworkChecker, name: str, span, here: Value,
          states: tuple[Value, ...]) -> tuple[Node | None, list[Value] | None]:
    """The step applied to one position and the state, as a stage; its node and the states
    it makes."""
    from . import sharing
    from .checker import Results
    decl = nc.shared[name]
    if decl is None:
        raise Fail("scan")
    kind = REGISTRY.get(decl.layer.name)
    _state_count(nc, decl.layer.name, kind, len(states), span)
    keywords = kind.state_inputs if kind is not None else (None,) * len(states)
    shown = ("the state",) if len(states) == 1 else ("the state h", "the state c") if len(states) == 2 \
        else tuple(f"state {i}" for i in range(len(states)))
    placeholders = _placeholders(len(states))
    args = [A.Arg(span, kw, _StateRef(span, ph, shown=v.name or default))
            for kw, ph, v, default in zip(keywords, placeholders, states, shown)]
    for ph, state in zip(placeholders, states):
        nc.values[ph] = Results(state, {"output": state})
    before = len(nc.net.nodes)
    try:
        res = sharing.apply(nc, name, span, args, here, None)
    finally:
        for ph in placeholders[:len(states)]:
            del nc.values[ph]
    node = nc.net.nodes[-1] if len(nc.net.nodes) > before else None
    if node is None or res.primary.tensor is None:
        return node, None
    _made_states(nc, decl.layer.name, node, len(states), span)
    return node, [res.primary] if len(states) == 1 else list(node.outputs[:len(states)])


def _made_states(nc: NetworkChecker, layer: str, node: Node, count: int, span) -> None:
    """An `argument` error unless a network step makes as many states as it takes (the loop
    carries what it returns)."""
    if node.block is None or len(node.outputs) == count:
        return
    nc.reporter.error(codes.ARGUMENT, f"`{layer}` takes {count} state{'s' * (count > 1)} and makes "
                      f"{len(node.outputs)}: scan "
                      "carries each state it makes into the next position", span,
                      help=f"give `{layer}` one output per state, in the order of its state inputs")
    raise Fail("scan")


def _state_count(nc: NetworkChecker, layer: str, kind, given: int, span) -> None:
    """An `argument` error unless the step carries as many state tensors as scan gives it:
    one for an RNNCell or a GRUCell, the pair (h, c) for an LSTMCell, one per input after the
    position for a network."""
    network = nc.checker.asts.get(layer) if kind is None else None
    takes = len(kind.state_inputs) if kind is not None else max(len(network.inputs) - 1, 1) if network else 1
    if takes == given:
        return
    if network is not None:
        message = f"`{layer}` takes {takes} state{'s' if takes > 1 else ''} after the position; scan received {given}"
        fix = (f"give scan one state for each state input of `{layer}`: `scan(step, (h0, c0))` for a network of "
               "(position, h, c) -> (h, c)")
    elif takes == 2:
        message = f"`{layer}` carries the pair (h, c); scan received " + \
            ("one state tensor" if given == 1 else f"{given} state tensors")
        fix = "give scan the pair it starts from: `states, h, c = x -> scan(cell, (h0, c0))`"
    else:
        message = (f"scan carries one state tensor through `{layer}`" if takes == 1 and given == 2 else
                   f"scan carries one state tensor; `{layer}` takes {takes or 'no'} state tensors")
        fix = ("scan an RNNCell or a GRUCell with one state, an LSTMCell with a pair `(h0, c0)`, or a network of "
               "(position, state) -> state")
    nc.reporter.error(codes.ARGUMENT, message, span, help=fix)
    raise Fail("scan")


def _same_state(nc: NetworkChecker, name: str, span, out: Value, state: Value) -> None:
    a, b = out.tensor, state.tensor
    if a.dtype != b.dtype or a.rank != b.rank or not all(nc.same(x, y) for x, y in zip(a.shape, b.shape)):
        nc.reporter.error(codes.SHAPE, f"scan: `{name}` makes {nc.net.show(a)} from the state "
                          f"{nc.net.show(b)}, so the state it carries would change", span,
                          help="the step must return a state of the dtype and shape it takes")
        raise Fail("scan")
