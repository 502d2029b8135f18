"""Static costs of a typed network: FLOPs, parameter bytes and activation bytes.

Every cost is a dim: an int when the sizes are known, otherwise a formula over the
network's symbols (``4718592 * batch``) that :func:`bind` turns into a number once the
symbols have values. The definitions (docs/costs.md) in short:

* ``flops``: what ``torch.utils.flop_counter.FlopCounterMode`` counts for a forward pass,
  2 per multiply-accumulate of a matrix product or convolution; the kind states it
  (``Kind.flops``), nothing else adds any.
* ``param_bytes``: the parameter count times the item size of the layer's float dtype
  (its input's, or its output's for an ``Embedding``; float32 when neither is a float).
* ``activation_bytes``: the bytes of every result of the layer (``output``, ``h_n``,
  ``c_n``), except where the result is the input's own storage (``Kind.aliases_input``:
  views and in-place layers; ``Node.in_place``: an add written into its input).

A network used as a layer costs the sum of its inner layers. This module only reads
the typed graph; it never imports torch.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, replace
from functools import lru_cache
from itertools import combinations
from typing import Mapping, NamedTuple
from weakref import WeakKeyDictionary

from .dims import (
    Dim,
    Expr,
    NotConcrete,
    TooLarge,
    dividing,
    divisor_symbols,
    is_short,
    less_equal,
    render,
    render_factor,
    show_int,
    substitute,
    sym,
    symbols,
)
from .graph import Node, TypedNetwork
from .kinds.base import Kind, numel
from .kinds.memory import (
    Autograd,
    Unsure,
    contiguous_strides,
    dropped,
    formatted_strides,
    held_strides,
    is_contiguous,
    iterated_strides,
    nbytes,
    trained,
    unknown_strides,
)
from .types import FLOAT_DTYPES, ITEMSIZE, Tensor

FIELDS = ("flops", "param_bytes", "activation_bytes")


@dataclass(frozen=True)
class Costs:
    """The three costs of a layer or a network; None where a layer could not be inferred."""

    flops: Dim | None
    param_bytes: Dim | None
    activation_bytes: Dim | None

    def __add__(self, other: "Costs") -> "Costs":
        return Costs(*(None if a is None or b is None else _bounded(operator.add, a, b)
                       for a, b in zip(self.values(), other.values())))

    def values(self) -> tuple:
        return (self.flops, self.param_bytes, self.activation_bytes)

    def map(self, f) -> "Costs":
        return Costs(*(None if v is None else _bounded(f, v) for v in self.values()))


def _bounded(f, *args) -> Dim | None:
    """A cost, or None (unknown, shown as `?`) when its formula passes the bounds on sizes
    (limits.MAX_TERMS, MAX_DEGREE, MAX_MAGNITUDE)."""
    try:
        return f(*args)
    except TooLarge:
        return None


ZERO = Costs(0, 0, 0)
UNKNOWN = Costs(None, None, None)


def param_dtype(node: Node) -> str:
    """The dtype of a layer's parameters: its input's float dtype (an Embedding: its output's)."""
    for v in node.inputs[:1] + node.outputs[:1]:
        if v.tensor is not None and v.tensor.dtype in FLOAT_DTYPES:
            return v.tensor.dtype
    return "float32"


_RAW: "WeakKeyDictionary[Node, Costs]" = WeakKeyDictionary()


def raw_costs(node: Node) -> Costs:
    """A layer's costs in the symbols of the network it sits in (parameters not substituted)."""
    known = _RAW.get(node)
    if known is None:
        known = _RAW[node] = _raw_costs(node)
    return known


def _raw_costs(node: Node) -> Costs:
    try:
        return _raw_costs_of(node)
    except TooLarge:
        return UNKNOWN


def _raw_costs_of(node: Node) -> Costs:
    if node.error is not None or not node.outputs or any(v.tensor is None for v in node.outputs):
        return UNKNOWN
    if node.block is not None:
        total = declared_costs(node.block)
        for inner in node.block.nodes:
            total = total + raw_costs(inner)
        weights = 0 if node.shared is not None and node.params == 0 else total.param_bytes  # a shared one's
        if node.times != 1:  # a network scanned: its work once a position, its weights once
            total = total.map(lambda d: d * node.times)
        return Costs(total.flops, weights, total.activation_bytes)
    kind, a = node.kind, node.args
    activation: Dim = 0
    if not kind.aliases_input(a, [v.tensor for v in node.inputs]) and not node.in_place:
        for i, v in enumerate(node.outputs):
            if i not in kind.held_elsewhere:  # a result that is another's storage (a scan's last state)
                activation = activation + tensor_bytes(v.tensor.shape, v.tensor.dtype)
    try:
        flops = kind.flops(a, [v.tensor for v in node.inputs], [v.tensor for v in node.outputs])
    except NotConcrete:  # a division by a parameter's symbol (`groups=g`): unknown in the symbols
        flops = None
    if node.times != 1 and flops is not None:  # a scan's step: once a position
        flops, activation = flops * node.times, activation * node.times
    return Costs(flops, node.params * ITEMSIZE[param_dtype(node)], activation)


@lru_cache(maxsize=4096)
def tensor_bytes(shape: tuple, dtype: str) -> Dim:
    """Elements times item size; most layers of a network share a few shapes."""
    return numel(shape) * ITEMSIZE[dtype]


def layer_costs(net: TypedNetwork, node: Node, env: Mapping[str, int] | None = None) -> Costs:
    """A layer's costs as a user reads them: parameters substituted, then the symbol values."""
    return raw_costs(node).map(lambda d: bind(net.dim(d), env))


def network_costs(net: TypedNetwork, env: Mapping[str, int] | None = None) -> Costs:
    total = declared_costs(net)
    for node in net.nodes:
        total = total + raw_costs(node)
    return total.map(lambda d: bind(net.dim(d), env))


def declared_costs(net: TypedNetwork) -> Costs:
    """The bytes of a network's declared params (buffers are state, not parameters)."""
    total: Dim = 0
    for d in net.tensors:
        if d.value.tensor is None:
            return UNKNOWN
        total = total + d.params * ITEMSIZE[d.value.tensor.dtype]
    return Costs(0, total, 0)


def bind(d: Dim, env: Mapping[str, int] | None) -> Dim:
    """Give symbols their values (those not in ``env`` stay symbols)."""
    return substitute(d, env) if env else d


# -- symbol values (`--dim NAME=INT`) ----------------------------------------------------------

def dim_symbols(networks: list[TypedNetwork]) -> set[str]:
    """The symbolic dims a user may give values: the symbols of the networks' input shapes."""
    return {name for net in networks for name in net.input_symbols}


def size_problems(net: TypedNetwork, env: Mapping[str, int]) -> list[str]:
    """Sizes that the symbol values make negative or zero: no forward pass has them."""
    if not env:
        return []
    out = []
    for node in net.nodes:
        for i, v in enumerate(node.outputs):
            if v.tensor is None:
                continue
            for k, d in enumerate(net.shape(v.tensor)):
                value = _bounded(bind, d, env)
                if isinstance(value, int) and value < 1 and isinstance(d, Expr) and symbols(d) & set(env):
                    which = f"result {i}" if len(node.outputs) > 1 else "result"
                    out.append(f"{net.name}: {node.kind_name} (line {node.span.line}) would have size "
                               f"{value}: dim {k} of its {which} is `{render(d)}`")
    return out


# -- presentation ------------------------------------------------------------------------------

def cost_json(d: Dim | None) -> int | str | None:
    """An int, a formula in the dim expression format, or None when unknown."""
    if d is None:
        return None
    return d if isinstance(d, int) and is_short(d) else render(d)  # huge: hex text


_SI = ("k", "M", "G", "T", "P", "E")
_BINARY = ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def human_flops(n: int) -> str:
    """4718592 -> '4.7 MFLOPs' (powers of 1000)."""
    return _scaled(n, 1000, [f"{p}FLOPs" for p in _SI], "FLOPs")


def human_bytes(n: int) -> str:
    """1258291 -> '1.2 MiB' (powers of 1024)."""
    return _scaled(n, 1024, list(_BINARY), "B")


def _scaled(n: int, base: int, units: list[str], unit: str) -> str:
    sign = "-" if n < 0 else ""
    n = abs(n)
    if n < base:
        return f"{sign}{n} {unit}"
    if n > 10**300:  # past a float's range: the largest unit, in integers
        return f"{sign}{show_int(n // base ** len(units))} {units[-1]}"
    value, i = float(n), -1
    while value >= base and i + 1 < len(units):
        value /= base
        i += 1
    if round(value, 1) >= base and i + 1 < len(units):
        value /= base
        i += 1
    return f"{sign}{value:.1f} {units[i]}"


def human(d: Dim | None, fmt) -> str:
    """A cost for people: '4.7 GFLOPs', or term by term '4.7 GFLOPs * batch + 1.0 kFLOPs'."""
    if d is None:
        return "?"
    if isinstance(d, int):
        return fmt(d)
    # highest degree first, as dims.render orders terms
    items = sorted(d.terms.items(), key=lambda mc: (-sum(p for _, p in mc[0]), not mc[0],
                                                    render(Expr({mc[0]: 1})) if mc[0] else ""))
    parts = []
    for mono, coeff in items:
        text = fmt(abs(coeff)) + (f" * {render_factor(mono)}" if mono else "")
        parts.append((coeff < 0, text))
    out = ("-" if parts[0][0] else "") + parts[0][1]
    for neg, text in parts[1:]:
        out += (" - " if neg else " + ") + text
    return out


# -- training memory ----------------------------------------------------------------------------
#
# What one training step holds (docs/costs.md): the parameters, their gradients, the optimizer's
# state, what autograd saves for backward, and the largest transient. Autograd saves tensors by
# reference, so the pass below follows every value to its storage (views and in-place results
# share their input's) and counts each saved storage once, at the first layer that saves it.

OPTIMIZERS = {"sgd": 0, "momentum": 1, "adam": 2}  # parameter-sized buffers each parameter keeps
ADAM_STEP_BYTES = 4  # torch.optim.Adam's `step`: a float32 scalar tensor per parameter tensor
DEFAULT_OPTIMIZER = "adam"
TRAINING_FIELDS = ("saved_bytes", "grad_bytes", "optimizer_bytes")
NETWORK_TRAINING_FIELDS = TRAINING_FIELDS + ("transient_bytes", "peak_bytes")


@dataclass(frozen=True)
class Training:
    """Training memory of a layer (saved, gradients, optimizer state) or a network (and the
    transient and the peak); None where a layer could not be inferred."""

    saved_bytes: Dim | None
    grad_bytes: Dim | None
    optimizer_bytes: Dim | None
    transient_bytes: Dim | None = None
    peak_bytes: Dim | None = None
    # where no one formula holds for every value of the symbols (torch views a tensor at batch 1
    # and copies it at 2 or more): (condition, Training) for each range of one symbol
    cases: tuple = ()

    def values(self, fields=TRAINING_FIELDS) -> tuple:
        return tuple(getattr(self, f) for f in fields)


MAX_CASE_SYMBOLS = 5  # a layer's symbols tried each at 1 and at least 2: 2 ** this cases at most


class _Held(NamedTuple):
    """Where a value lives: its storage (an id, and its bytes), its strides in elements, and
    whether it needs a gradient."""

    key: int
    nbytes: Dim
    strides: tuple
    grad: bool


class _Pass:
    """One forward pass of a network in training, in the order its layers run."""

    def __init__(self, values: Mapping[str, Dim] | None = None):
        self.values = dict(values or {})  # symbol values the pass is run with (a case: `batch` is 1)
        self.keys = 0
        self.saved: set[int] = set()  # storages some layer has saved
        self.ambiguous: set[int] = set()  # storages saved for some values of the symbols only
        self.fixed: Mapping[str, int] = {}  # the parameters of the network being run
        self.unsure = False  # whether something is unknown for a size that may be 1 (or unknown strides)
        self.per_node: dict[int, Dim] = {}  # id(node) -> the bytes it is first to save
        self.params: dict[int, int] = {}  # id(node) -> parameter tensors
        self.transient: Dim = 0
        self.last: dict[int, list[_Held]] = {}  # id(scan node) -> where its step's last results live
        self.ok = True

    def tensors(self, values) -> list[Tensor]:
        """The tensors of ``values``, with the symbol values of the pass."""
        return [_substituted(v.tensor, self.values) for v in values]

    def fresh(self, t: Tensor, grad: bool) -> _Held:
        """A new storage for ``t`` (a tensor with the symbol values of the pass)."""
        self.keys += 1
        # a new tensor is contiguous, unless its kind states other strides (LayerNorm2d's
        # result keeps the channels last; Kind.new_strides)
        return _Held(self.keys, nbytes(t), held_strides(t), grad)

    def declared(self, t: Tensor, param: bool) -> _Held:
        """A network's declared param or buffer: a layer that saves it saves no bytes of its
        own, as it saves no layer's weights (they are counted as parameters)."""
        h = self.fresh(_substituted(t, self.values), param)
        self.saved.add(h.key)
        return h

    def run(self, nodes: list[Node], held: dict[int, _Held], net: TypedNetwork) -> None:
        for node in nodes:
            if node.error is not None or not node.outputs or any(v.tensor is None for v in node.outputs):
                self.ok = False
            if not self.ok:
                return
            if node.loop is not None:
                self._scan_step(node, held, net)
            else:
                self._once(node, held, net)

    def _once(self, node: Node, held: dict[int, _Held], net: TypedNetwork) -> None:
        if node.block is not None:
            self._block(node, held)
        else:
            self._layer(node, held, net)

    def _scan_step(self, node: Node, held: dict[int, _Held], net: TypedNetwork) -> None:
        """A scan's step, run once a position (the built module's loop): each position is a
        view of the scanned sequence (``unbind``), the states of a position past the first are
        the previous position's results (the step's results in the order of the states it
        carries). The step saves the same at every position past the first (proven here on
        the second and third), so the whole loop saves the first position's bytes plus
        ``times - 1`` times a later one's; the stacked states (``stack``) save nothing.
        Unknown where the positions differ in a way these three do not show."""
        loop = node.loop
        seq, states = held[id(loop.inputs[0])], loop.inputs[1:]
        held[id(node.inputs[0])] = _Held(seq.key, seq.nbytes, dropped(seq.strides, [loop.args.dim]), seq.grad)
        first = [held[id(v)] for v in states]
        steps, own = [], []  # the bytes each position is first to save; which results it saved
        try:
            for _ in range(3):
                self._once(node, held, net)
                if not self.ok:
                    return
                steps.append(self.per_node[id(node)])
                outs = [held[id(v)] for v in node.outputs[:len(states)]]
                own.append(tuple(h.key in self.saved for h in outs))
                held.update((id(v), h) for v, h in zip(states, outs))
        finally:
            held.update((id(v), h) for v, h in zip(states, first))
        self.last[id(loop)] = outs  # the states after the last position: a later position's results
        same = all(s is not None for s in steps) and steps[1] == steps[2] and own[0] == own[2]
        self.per_node[id(node)] = steps[0] + (node.times - 1) * steps[1] if same else None

    def _block(self, node: Node, held: dict[int, _Held]) -> None:
        inner = dict(held)
        for outer, v in zip(node.inputs, node.block.inputs):
            inner[id(v)] = held[id(outer)]
        for d in node.block.tensors:  # the block's own params and buffers
            if d.value.tensor is None:
                self.ok = False
                return
            inner[id(d.value)] = self.declared(d.value.tensor, d.role == "param")
        self.run(node.block.nodes, inner, node.block)
        if not self.ok:
            return
        for v, (_, out) in zip(node.outputs, node.block.outputs):
            held[id(v)] = inner[id(out)]
        self.params[id(node)] = sum(self.params.pop(id(n), 0) for n in node.block.nodes) \
            + sum(d.role == "param" for d in node.block.tensors)
        self.per_node[id(node)] = _total(self.per_node.pop(id(n), 0) for n in node.block.nodes)

    def _layer(self, node: Node, held: dict[int, _Held], net: TypedNetwork) -> None:
        kind, a = node.kind, node.args
        ins = [held[id(v)] for v in node.inputs]
        state = {name: held[id(v)] for name, v in node.state.items() if id(v) in held}
        in_t, out_t = self.tensors(node.inputs), self.tensors(node.outputs)
        trains = node.params != 0
        grad = Autograd(tuple(h.grad for h in ins), frozenset(n for n, h in state.items() if h.grad), trains,
                        tuple(_contiguous(t.shape, h.strides) for t, h in zip(in_t, ins)),
                        tuple(h.strides for h in ins), tuple((n, h.strides) for n, h in state.items()),
                        frozenset(n for n, v in node.state.items() if node.inputs and v is node.inputs[0]))
        outs = self._results(node, in_t, out_t, ins, grad.records)
        for i, h in zip(kind.held_elsewhere, self.last.get(id(node), ())):  # a scan's last states:
            outs[i] = h  # its step's last results
        for v, h in zip(node.outputs, outs):
            held[id(v)] = h
        with dividing():  # a size divided by a free parameter (`groups=g`): `c // g`
            self.params[id(node)] = len(trained(kind.weights(bound_args(net, a)))) if trains else 0
        self.fixed = net.param_env
        self.per_node[id(node)] = self._saved(node, bound_args(net, a), grad, ins, state, outs) if grad.records else 0
        moving = [nbytes(t) for t, h in zip(in_t, ins) if h.grad] + [nbytes(t) for t in out_t] if grad.records else []
        self.transient = _larger(self.transient, _at_free_strides(net, sum(moving)))

    def _saved(self, node: Node, a, grad: Autograd, ins: list[_Held], state: dict, outs: list[_Held]) -> Dim | None:
        """The bytes the layer is the first to save; None where its kind cannot say. The kind
        reads its arguments with the network's parameters given their values (an LSTM's
        workspace depends on which of two sizes is larger)."""
        try:
            s = node.kind.saved(a, self.tensors(node.inputs), self.tensors(node.outputs), grad)
        except Unsure:  # a view or a copy, depending on the values of the symbols
            self.unsure = True
            return self._by_cases(node, a, grad, ins, state, outs)
        if s is None:
            return None
        kept = self._kept(s, ins, state, outs)
        if any(h.key in self.ambiguous for h in kept):
            self.unsure = True
            return None
        first: Dim = 0
        for h in kept:
            if h.key not in self.saved:
                self.saved.add(h.key)
                first = first + h.nbytes
        return first + s.extra

    @staticmethod
    def _kept(s, ins: list[_Held], state: dict, outs: list[_Held]) -> list[_Held]:
        return [ins[i] for i in s.inputs] + [state[n] for n in s.state if n in state] + [outs[i] for i in s.outputs]

    def _by_cases(self, node: Node, a, grad: Autograd, ins: list[_Held], state: dict,
                  outs: list[_Held]) -> Dim | None:
        """What a layer saves where torch views for some values of the symbols and copies for
        others (a size that may be 1): the layer is run with each symbol at 1 or at least 2
        (``s + 1``), and the bytes of the case of every symbol at least 2 are stated where
        they give every other case's. A storage saved in some cases only is kept apart
        (``ambiguous``): a later layer that saves it is unknown."""
        tensors = self.tensors((*node.inputs, *node.outputs))
        names = sorted(({n for t in tensors for d in t.shape for n in symbols(d)}
                        | {n for h in (*ins, *state.values()) for st in h.strides for n in symbols(st)})
                       - set(self.fixed))  # a parameter has its value in the kind's arguments
        if len(names) > MAX_CASE_SYMBOLS or any(n.startswith("?") for n in names):
            return None
        runs = []
        for ones in (set(c) for k in range(len(names) + 1) for c in combinations(names, k)):
            env = {n: 1 if n in ones else sym(n) + 1 for n in names}
            run = self._case(node, a, grad, ins, state, outs, env)
            if run is None:
                return None
            back = {n: sym(n) - 1 for n in names if n not in ones}
            runs.append((ones, run[0], substitute(run[1], back)))
        _, keys, general = runs[0]
        if any(substitute(general, dict.fromkeys(ones, 1)) != b for ones, _, b in runs[1:]):
            return None
        for _, case_keys, _ in runs[1:]:
            self.ambiguous |= case_keys ^ keys
        self.saved |= keys
        return general

    def _case(self, node: Node, a, grad: Autograd, ins: list[_Held], state: dict, outs: list[_Held], env: dict):
        """(the storages a layer saves first, their bytes and those it makes) with the
        symbols given the values ``env``; None where its kind cannot say."""
        def sub(d):
            return substitute(d, env)

        def tensor(t):
            return replace(t, shape=tuple(sub(d) for d in t.shape),
                           strides=tuple(sub(d) for d in t.strides) if isinstance(t.strides, tuple) else t.strides)

        def held(h):
            return h._replace(nbytes=sub(h.nbytes), strides=tuple(sub(d) for d in h.strides))

        ins, outs = [held(h) for h in ins], [held(h) for h in outs]
        state = {n: held(h) for n, h in state.items()}
        in_t = [tensor(t) for t in self.tensors(node.inputs)]
        grad = grad._replace(contiguous=tuple(_contiguous(t.shape, h.strides) for t, h in zip(in_t, ins)),
                             strides=tuple(h.strides for h in ins),
                             state_strides=tuple((n, h.strides) for n, h in state.items()))
        try:
            s = node.kind.saved(a, in_t, [tensor(t) for t in self.tensors(node.outputs)], grad)
        except Unsure:
            return None
        if s is None:
            return None
        kept = self._kept(s, ins, state, outs)
        if any(h.key in self.ambiguous for h in kept):
            return None
        fresh = {h.key: h.nbytes for h in kept if h.key not in self.saved}
        return frozenset(fresh), sum(fresh.values(), sub(0)) + s.extra

    def _results(self, node: Node, in_t: list, out_t: list, ins: list[_Held], records: bool) -> list[_Held]:
        kind, a = node.kind, node.args
        grads = [records and t.dtype in FLOAT_DTYPES for t in out_t]
        if ins and (node.in_place or kind.may_alias or kind.aliases_input(a, in_t)):
            try:
                strides = kind.result_strides(a, in_t, out_t, [h.strides for h in ins])
            except Unsure:  # a view of its input or a copy, depending on the values of the symbols:
                self.unsure = True  # a layer that saves either is unknown; their strides too
                outs = [_Held(h.key, h.nbytes, unknown_strides(t.rank), h.grad)
                        for t, h in zip(out_t, (self.fresh(t, g) for t, g in zip(out_t, grads)))]
                self.ambiguous |= {ins[0].key, *(h.key for h in outs)}
                return outs
            return [self.fresh(t, g) if s is None else _Held(ins[0].key, ins[0].nbytes, tuple(s), g)
                    for t, g, s in zip(out_t, grads, strides)]
        stated = kind.new_strides(a, in_t, out_t)
        if kind.iterates:  # laid out from the inputs' strides in this step (an elementwise op)
            stated = [iterated_strides(in_t, [h.strides for h in ins], t) if s is None else s
                      for t, s in zip(out_t, stated)]
        else:
            stated = [_laid_out(node, in_t, ins, t) if s is None else s for t, s in zip(out_t, stated)]
        return [self.fresh(t if s is None else replace(t, strides=tuple(s)), g) for t, g, s in zip(out_t, grads, stated)]


def _laid_out(node: Node, in_t: list, ins: list[_Held], t: Tensor) -> tuple | None:
    """The strides of a new result ``t`` in a training step, from its inputs' strides in that
    step (None: ``t``'s own): the memory format its first input suggests, or contiguous,
    where the kind's ``result_format`` says; else those ``layout`` states, where the kind
    states a rule of its own; else contiguous where every input is, and unknown where one
    is not (netspec does not assume a layer writes a contiguous result)."""
    kind = node.kind
    if kind.tracks_layout:
        return None
    how = kind.result_format(node.args, in_t[0].rank) if in_t else None
    if how == "format":
        return formatted_strides(in_t[0], ins[0].strides, t)
    if how == "contiguous" or isinstance(t.strides, tuple):
        return None if how is None else contiguous_strides(t.shape)
    if t.strides is None and type(kind).layout is not Kind.layout:
        return None  # the kind's own rule: a contiguous result
    if all(_contiguous(u.shape, h.strides) for u, h in zip(in_t, ins)):
        return None
    return unknown_strides(t.rank)


def _substituted(t: Tensor, values: Mapping[str, Dim]) -> Tensor:
    """``t`` with the symbols given ``values`` (its shape and stated strides)."""
    if not values:
        return t
    strides = tuple(substitute(d, values) for d in t.strides) if isinstance(t.strides, tuple) else t.strides
    return replace(t, shape=tuple(substitute(d, values) for d in t.shape), strides=strides)


def _contiguous(shape, strides) -> bool | None:
    """Whether a tensor is contiguous for every value of the symbols; None where that depends."""
    try:
        return is_contiguous(shape, strides)
    except Unsure:
        return None


def bound_args(net: TypedNetwork, a):
    """A layer's arguments with the network's parameters given their values (``num_layers=
    layers`` reads 2): what a user reads, and what a kind needs to list its weight tensors."""
    update = {n: net.dim(v) for n, v in a.__dict__.items() if n in a.model_fields and isinstance(v, Expr)}
    return a.model_copy(update) if update else a


def _total(values) -> Dim | None:
    """The sum of sizes, None (unknown) when one of them is."""
    out: Dim = 0
    for v in values:
        if v is None:
            return None
        out = out + v
    return out


def _at_free_strides(net: TypedNetwork, size: Dim) -> Dim:
    """``size`` with the values of the parameters it divides by (a stride or a window of a
    network checked generically: ``(h - 1) // stride + 1``), as the costs are stated, so
    that it compares with the sizes before it."""
    divisors = {s for s in divisor_symbols(size) if s in net.param_env}
    return substitute(size, {s: net.param_env[s] for s in divisors}) if divisors else size


def _larger(a: Dim, b: Dim) -> Dim:
    """The larger of two sizes; of two formulas, the one larger for every value of the symbols,
    else their sum (a bound that holds for every value)."""
    if isinstance(a, int) and isinstance(b, int):
        return max(a, b)
    names = symbols(a) | symbols(b)
    if less_equal(a, b, positive=names):
        return b
    if less_equal(b, a, positive=names):
        return a
    return a + b


_TRAIN: "WeakKeyDictionary[TypedNetwork, dict[tuple, _Pass]]" = WeakKeyDictionary()


def training_pass(net: TypedNetwork, inputs_grad: tuple[bool, ...] | None = None,
                  values: Mapping[str, Dim] | None = None) -> _Pass:
    """The network's training pass. Its inputs need no gradient (they are the data), unless it
    is used as a stage (its float inputs come from layers that train) or ``inputs_grad``
    says which do. ``values`` runs it with symbols given values (``{"batch": 1}``)."""
    key = tuple(sorted((values or {}).items()))
    if inputs_grad is None and key in _TRAIN.get(net, {}):
        return _TRAIN[net][key]
    p = _Pass(values)
    # a network checked on its own to be used as a stage reads values that need gradients
    flags = inputs_grad or tuple(net.generic and v.tensor is not None and v.tensor.dtype in FLOAT_DTYPES
                                 for v in net.inputs)
    try:
        held = {id(v): p.fresh(_substituted(v.tensor, p.values), g) for v, g in zip(net.inputs, flags)
                if v.tensor is not None}
        inputs = len(held)
        held.update({id(d.value): p.declared(d.value.tensor, d.role == "param") for d in net.tensors
                     if d.value.tensor is not None})  # a declared param is trained: it needs its gradient
        if inputs != len(net.inputs) or len(held) != inputs + len(net.tensors):
            p.ok = False
        else:
            p.run(net.nodes, held, net)
    except OverflowError:  # a size past the bounds of the algebra (limits.py): unknown
        p.ok = False
    if inputs_grad is None:
        _TRAIN.setdefault(net, {})[key] = p
    return p


def _optimizer(node_params: Dim, tensors: int, optimizer: str) -> Dim:
    buffers = OPTIMIZERS[optimizer] * node_params
    return buffers + (ADAM_STEP_BYTES * tensors if optimizer == "adam" else 0)


def layer_training(net: TypedNetwork, node: Node, optimizer: str = DEFAULT_OPTIMIZER,
                   env: Mapping[str, int] | None = None) -> Training:
    """A layer's training memory as a user reads it: what it is the first to save, its
    parameters' gradients, and the optimizer's state for them. Where no one formula of its
    saved bytes holds for every value of the symbols, ``cases`` states one for each range."""
    p = training_pass(net)
    if not p.ok or id(node) not in p.per_node:
        return Training(None, None, None)
    grads = raw_costs(node).param_bytes
    t = Training(p.per_node[id(node)], grads, _optimizer(grads, p.params.get(id(node), 0), optimizer))
    cases = _layer_cases(net, node, optimizer, env) if t.saved_bytes is None and p.unsure else []
    if len(cases) == 1:  # one formula after all, or the one range of the values given
        t = replace(t, saved_bytes=cases[0][1])
    bound = Training(*_bound(net, t.values(), env))
    if len(cases) > 1:
        return replace(bound, cases=tuple((when, replace(bound, saved_bytes=_bound(net, (v,), env)[0]))
                                          for when, v in cases))
    return bound


def _layer_cases(net: TypedNetwork, node: Node, optimizer: str, env: Mapping[str, int] | None) -> list:
    """[(condition, bytes)]: what a layer is first to save in each range of the network's
    training memory (:func:`training_cases`) that the values given are in; [] where unknown."""
    found = _ranges(net, network_costs(net).param_bytes, optimizer)
    if found is None:
        return []
    name, ranges = found
    cases = []
    for when, _ in ranges:
        saved = _range_pass(net, when).per_node.get(id(node))
        if saved is None:
            return []
        back = {n: sym(n) - 1 for n, v in when.items() if v is None}
        cases.append((when, (substitute(saved, back) if back else saved,)))
    return [(_condition(when), values[0]) for when, values in _merged(cases, name)
            if all(n not in (env or {}) or _in_range(env[n], v) for n, v in when.items())]


def network_training(net: TypedNetwork, optimizer: str = DEFAULT_OPTIMIZER,
                     env: Mapping[str, int] | None = None) -> Training:
    """The network's training memory; ``peak_bytes`` is parameters + gradients + optimizer
    state + saved + transient (docs/costs.md). Where no one formula holds for every value of
    the symbols, ``cases`` states one for each range of a symbol (:func:`training_cases`)."""
    params = network_costs(net).param_bytes
    values = _step(net, training_pass(net), params, optimizer)
    if values is None:
        return Training(None, None, None, None, None)
    if values[0] is None and training_pass(net).unsure:
        cases = [c for c in training_cases(net, params, optimizer)  # the ranges the values given are in
                 if all(n not in (env or {}) or _in_range(env[n], v) for n, v in c[1].items())]
        if len(cases) == 1:  # one formula after all, or the one range of the values given
            values = cases[0][2]
        elif cases:
            return Training(*_bound(net, values, env),
                            cases=tuple((text, Training(*_bound(net, case, env))) for text, _, case in cases))
    return Training(*_bound(net, values, env))


def _bound(net: TypedNetwork, values: tuple, env: Mapping[str, int] | None) -> tuple:
    return tuple(None if v is None else bind(net.dim(v), env) for v in values)


def _in_range(value: int, want: int | None) -> bool:
    """Whether a symbol's value is in a case's range: ``want`` 1, or None (at least 2)."""
    return value == 1 if want == 1 else value >= 2


def _step(net: TypedNetwork, p: _Pass, params: Dim | None, optimizer: str) -> tuple | None:
    """(saved, gradients, optimizer state, transient, peak) of a pass; None where unknown."""
    if not p.ok or params is None:
        return None
    try:
        saved = _total(p.per_node[id(node)] for node in net.nodes)
        tensors = sum(p.params.get(id(node), 0) for node in net.nodes) + sum(d.role == "param" for d in net.tensors)
        opt = _optimizer(params, tensors, optimizer)
        peak = None if saved is None else 2 * params + opt + saved + p.transient
        return (saved, params, opt, p.transient, peak)
    except OverflowError:
        return None


MAX_SPLIT_SYMBOLS = 2  # the most input symbols the training memory is split on, each at 1 and at least 2


def training_cases(net: TypedNetwork, params: Dim | None, optimizer: str) -> list[tuple[str, dict, tuple]]:
    """Training memory where torch views a tensor for some values of a symbol and copies it for
    others (a size 1): the pass run with an input symbol at 1, and at 2 or more (``s + 1``,
    written back in ``s``), each split again on another where it is still unknown (at most
    MAX_SPLIT_SYMBOLS); [(condition, the range {symbol: 1, or None for 2 or more}, values)],
    or [] where some range stays unknown. A range where some size of the network is below 1
    (a pool over `length` at `length = 1`) is left out: torch refuses those values."""
    found = _ranges(net, params, optimizer)
    if found is None:
        return []
    name, cases = found
    return [(_condition(when), when, values) for when, values in _merged(cases, name)]


def _ranges(net: TypedNetwork, params: Dim | None, optimizer: str) -> tuple[str, list] | None:
    """The symbol split on first, and [(range, values)] of every range that has values; None
    where some range stays unknown."""
    for name in sorted(dim_symbols([net])):
        cases = _split_cases(net, params, optimizer, {name: 1}) + _split_cases(net, params, optimizer, {name: None})
        if cases and all(c is not None for c in cases):
            return name, cases
    return None


def _range_pass(net: TypedNetwork, when: dict) -> _Pass:
    """The training pass in the range ``when`` (a symbol at 2 or more runs as ``s + 1``)."""
    values = {n: 1 if v == 1 else sym(n) + 1 for n, v in when.items()}
    # the network's parameters too: a block's sizes are formulas in them (`image_size // 16`)
    return training_pass(net, values={**_param_values(net), **values})


def _merged(cases: list, name: str) -> list:
    """One range for every value where the formula of ``name`` at 2 or more also gives the
    values at 1 (torch copies the same bytes it would view)."""
    if len(cases) != 2 or len(cases[0][0]) != 1 or len(cases[1][0]) != 1:
        return cases
    one, more = cases[0][1], cases[1][1]
    if all((a is None) == (b is None) and (a is None or substitute(b, {name: 1}) == a) for a, b in zip(one, more)):
        return [({}, more)]
    return cases


def _split_cases(net: TypedNetwork, params: Dim | None, optimizer: str, when: dict) -> list:
    """[(range, values)] of the pass in the range ``when``, split further on another symbol
    where it is unknown; a None entry where it stays unknown, none where no value of the range
    is possible."""
    if size_problems(net, {n: 1 for n, v in when.items() if v == 1}):
        return []  # a size below 1 in the whole range: check refuses those values, and so does torch
    values = {n: 1 if v == 1 else sym(n) + 1 for n, v in when.items()}
    sized = None if params is None else substitute(params, values)  # a norm's weights may follow the input's size
    step = _step(net, _range_pass(net, when), sized, optimizer)
    if step is not None and step[0] is not None:
        back = {n: sym(n) - 1 for n, v in when.items() if v is None}
        return [(when, tuple(substitute(v, back) if back else v for v in step))]
    if len(when) >= MAX_SPLIT_SYMBOLS or step is None:
        return [None]
    for name in sorted(dim_symbols([net]) - set(when)):
        cases = _split_cases(net, params, optimizer, {**when, name: 1}) \
            + _split_cases(net, params, optimizer, {**when, name: None})
        if all(c is not None for c in cases):
            return cases
    return [None]


def _param_values(net: TypedNetwork) -> dict[str, int]:
    return {n: v for n, v in net.param_env.items() if isinstance(v, int)}


def _condition(when: dict) -> str:
    return ", ".join(f"{n} = 1" if v == 1 else f"{n} >= 2" for n, v in when.items())
