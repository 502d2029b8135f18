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
    show_int,
    substitute,
    sym,
    symbols,
)
from .graph import Node, TypedNetwork
from .kinds.base import numel
from .kinds.memory import Autograd, Unsure, dropped, held_strides, is_contiguous, nbytes, trained, unknown_strides
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
        text = fmt(abs(coeff)) + (f" * {render(Expr({mono: 1}))}" if mono else "")
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

    def __init__(self):
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

    def fresh(self, t: Tensor, grad: bool) -> _Held:
        self.keys += 1
        # a new tensor is contiguous, unless its kind states other strides (LayerNorm2d's
        # result keeps the channels last; Kind.new_strides)
        return _Held(self.keys, nbytes(t), held_strides(t), grad)

    def declared(self, t: Tensor, param: bool) -> _Held:
        """A network's declared param or buffer: a layer that saves it saves no bytes of its
        own, as it saves no layer's weights (they are counted as parameters)."""
        h = self.fresh(t, param)
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
        in_t = [v.tensor for v in node.inputs]
        out_t = [v.tensor for v in node.outputs]
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
            s = node.kind.saved(a, [v.tensor for v in node.inputs], [v.tensor for v in node.outputs], grad)
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
        tensors = [v.tensor for v in (*node.inputs, *node.outputs)]
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
        in_t = [tensor(v.tensor) for v in node.inputs]
        grad = grad._replace(contiguous=tuple(_contiguous(t.shape, h.strides) for t, h in zip(in_t, ins)),
                             strides=tuple(h.strides for h in ins),
                             state_strides=tuple((n, h.strides) for n, h in state.items()))
        try:
            s = node.kind.saved(a, in_t, [tensor(v.tensor) for v in node.outputs], grad)
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
        if ins and (node.in_place or kind.aliases_input(a, in_t)):
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
        return [self.fresh(t if s is None else replace(t, strides=tuple(s)), g) for t, g, s in zip(out_t, grads, stated)]


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


_TRAIN: "WeakKeyDictionary[TypedNetwork, _Pass]" = WeakKeyDictionary()


def training_pass(net: TypedNetwork, inputs_grad: tuple[bool, ...] | None = None) -> _Pass:
    """The network's training pass. Its inputs need no gradient (they are the data), unless it
    is used as a stage (its float inputs come from layers that train) or ``inputs_grad``
    says which do."""
    if inputs_grad is None and net in _TRAIN:
        return _TRAIN[net]
    p = _Pass()
    # a network checked on its own to be used as a stage reads values that need gradients
    flags = inputs_grad or tuple(net.generic and v.tensor is not None and v.tensor.dtype in FLOAT_DTYPES
                                 for v in net.inputs)
    try:
        held = {id(v): p.fresh(v.tensor, g) for v, g in zip(net.inputs, flags) if v.tensor is not None}
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
        _TRAIN[net] = p
    return p


def _optimizer(node_params: Dim, tensors: int, optimizer: str) -> Dim:
    buffers = OPTIMIZERS[optimizer] * node_params
    return buffers + (ADAM_STEP_BYTES * tensors if optimizer == "adam" else 0)


def layer_training(net: TypedNetwork, node: Node, optimizer: str = DEFAULT_OPTIMIZER,
                   env: Mapping[str, int] | None = None) -> Training:
    """A layer's training memory as a user reads it: what it is the first to save, its
    parameters' gradients, and the optimizer's state for them."""
    p = training_pass(net)
    if not p.ok or id(node) not in p.per_node:
        return Training(None, None, None)
    grads = raw_costs(node).param_bytes
    t = Training(p.per_node[id(node)], grads, _optimizer(grads, p.params.get(id(node), 0), optimizer))
    return Training(*(None if v is None else bind(net.dim(v), env) for v in t.values()))


def network_training(net: TypedNetwork, optimizer: str = DEFAULT_OPTIMIZER,
                     env: Mapping[str, int] | None = None) -> Training:
    """The network's training memory; ``peak_bytes`` is parameters + gradients + optimizer
    state + saved + transient (docs/costs.md)."""
    p = training_pass(net)
    params = network_costs(net).param_bytes
    if not p.ok or params is None:
        return Training(None, None, None, None, None)
    try:
        saved = _total(p.per_node[id(node)] for node in net.nodes)
        tensors = sum(p.params.get(id(node), 0) for node in net.nodes) + sum(d.role == "param" for d in net.tensors)
        opt = _optimizer(params, tensors, optimizer)
        peak = None if saved is None else 2 * params + opt + saved + p.transient
        values = (saved, params, opt, p.transient, peak)
        return Training(*(None if v is None else bind(net.dim(v), env) for v in values))
    except OverflowError:
        return Training(None, None, None, None, None)
