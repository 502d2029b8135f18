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

from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping
from weakref import WeakKeyDictionary

from .dims import Dim, Expr, render, substitute, symbols
from .graph import Node, TypedNetwork
from .kinds.base import numel
from .types import FLOAT_DTYPES, ITEMSIZE

FIELDS = ("flops", "param_bytes", "activation_bytes")


@dataclass(frozen=True)
class Costs:
    """The three costs of a layer or a network; None where a layer could not be inferred."""

    flops: Dim | None
    param_bytes: Dim | None
    activation_bytes: Dim | None

    def __add__(self, other: "Costs") -> "Costs":
        return Costs(*(None if a is None or b is None else a + b
                       for a, b in zip(self.values(), other.values())))

    def values(self) -> tuple:
        return (self.flops, self.param_bytes, self.activation_bytes)

    def map(self, f) -> "Costs":
        return Costs(*(None if v is None else f(v) for v in self.values()))


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
    if node.error is not None or not node.outputs or any(v.tensor is None for v in node.outputs):
        return UNKNOWN
    if node.block is not None:
        total = declared_costs(node.block)
        for inner in node.block.nodes:
            total = total + raw_costs(inner)
        return total
    kind, a = node.kind, node.args
    activation: Dim = 0
    if not kind.aliases_input(a, [v.tensor for v in node.inputs]) and not node.in_place:
        for v in node.outputs:
            activation = activation + tensor_bytes(v.tensor.shape, v.tensor.dtype)
    flops = kind.flops(a, [v.tensor for v in node.inputs], [v.tensor for v in node.outputs])
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
                value = bind(d, env)
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
    return d if isinstance(d, int) else render(d)


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
