"""The typed graph: what checking a spec produces, and all that every backend reads.

A :class:`TypedNetwork` holds the network's parameters (their values, defaults and
declaration order), its inputs and outputs, and one :class:`Node` per application of a
layer, an op or a network, in the order they run; every :class:`Value` a node makes has an
inferred :class:`~netspec.types.Tensor` (dtype, shape, and where each dim came from).
Integer parameters stay symbols in the shapes, so generated code can follow a changed
parameter; :meth:`TypedNetwork.dim` substitutes their values for what a user reads.

Report, costs, build, diagram and export read this and nothing else of the check: no
backend re-reads the AST or re-derives a shape.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from itertools import chain
from operator import attrgetter
from typing import Any, NamedTuple

from .ast import Module
from .diagnostics import Reporter, Span
from .dims import Dim, substitute, total
from .kinds import Kind
from .types import Tensor, show_shape

# how a required fact (TypedNetwork.requires) relates its two sizes a and b
LESS_EQUAL = False  # a <= b
DIVIDES = True  # b divides a
EQUAL = "=="  # a == b
EQUAL_OR_ONE = "==1"  # a == b or a == 1 (torch broadcasts a 1 to b)
BROADCASTS = "~"  # a == b, a == 1 or b == 1 (torch broadcasts them: a block's sizes)


def fact_holds(a: int, b: int, how) -> bool:
    """Whether a required fact holds for the values ``a`` and ``b``."""
    if how == EQUAL:
        return a == b
    if how == EQUAL_OR_ONE:
        return a in (b, 1)
    if how == BROADCASTS:
        return a == b or 1 in (a, b)
    if how == DIVIDES:
        return b != 0 and a % b == 0
    return a <= b


@dataclass(eq=False)
class Value:
    tensor: Tensor | None  # None when it could not be inferred (the error is reported)
    node: "Node | None"  # the node that made it; None for an input
    index: int  # which of the node's results
    name: str  # what the spec calls it: `enc`, `enc.h_n`, an input's name

    def __repr__(self) -> str:  # `Value(logits: float32[batch, 10], Linear at line 50)`
        t = "?" if self.tensor is None else show_shape(self.tensor.shape, self.tensor.dtype)
        made = "an input" if self.node is None else f"{self.node.kind_name} at line {self.node.span.line}"
        return f"Value({self.name}: {t}, {made})"


class ParamUse(NamedTuple):
    """An argument given as a bare network parameter (``Linear(classes)``), and where."""

    name: str
    span: Span


_INPUTS, _STATE = attrgetter("inputs"), attrgetter("state")
_FRESH: Any = object()  # Node's default for the fields that take a new list or dict


@dataclass(eq=False, init=False)
class Node:
    """One application of a layer, an op or a network (``kind`` None, ``block`` set)."""

    kind: Kind | None
    args: Any  # the kind's validated Args; None until validated
    inputs: list[Value]
    state: dict[str, Value]  # tensors passed by keyword (h0, c0)
    span: Span
    binding: str | None  # the binding whose chain holds it
    alias: str | None = None  # its `as` name, or that of the group it is in
    group: tuple = ()  # (group id, repeat index) pairs from the outside in
    # (group id, repeat index, `as` name or None, whether a parenthesised group) per stage
    # around it, from the outside in: the levels of the built module's names (pycode)
    scopes: tuple = ()
    outputs: list[Value] = field(default_factory=list)
    params: Dim = 0
    error: str | None = None
    block: "TypedNetwork | None" = None  # the network used, instantiated at this use
    block_args: dict = field(default_factory=dict)  # block param -> value at this use
    block_symbols: dict = field(default_factory=dict)  # block symbol -> caller dim
    arg_params: dict[str, ParamUse] = field(default_factory=dict)  # argument -> parameter given bare
    in_place: bool = False  # the op writes its result into its first input (pycode.mark_in_place)
    shared: str | None = None  # the shared module it applies (`shared cell = ...`)
    loop: "Node | None" = None  # the scan that applies it at each position (its code is the loop's)
    times: Dim = 1  # how many times it runs per forward pass (a scan's step: once a position)
    shown: str | None = None  # how notes name it where an operator stands for it (`+` for add)

    def __init__(self, kind: Kind | None, args: Any, inputs: list[Value], state: dict[str, Value], span: Span,
                 binding: str | None, alias: str | None = None, group: tuple = (), scopes: tuple = (),
                 outputs: list[Value] = _FRESH, params: Dim = 0, error: str | None = None,
                 block: TypedNetwork | None = None, block_args: dict = _FRESH, block_symbols: dict = _FRESH,
                 arg_params: dict[str, ParamUse] = _FRESH, in_place: bool = False, shared: str | None = None,
                 loop: Node | None = None, times: Dim = 1, shown: str | None = None):
        # the __init__ dataclass would write, the fields set at once: a check makes a node per stage
        self.__dict__.update(
            kind=kind, args=args, inputs=inputs, state=state, span=span, binding=binding, alias=alias,
            group=group, scopes=scopes, outputs=[] if outputs is _FRESH else outputs, params=params,
            error=error, block=block, block_args={} if block_args is _FRESH else block_args,
            block_symbols={} if block_symbols is _FRESH else block_symbols,
            arg_params={} if arg_params is _FRESH else arg_params, in_place=in_place, shared=shared,
            loop=loop, times=times, shown=shown)

    def __repr__(self) -> str:  # `Node(Conv2d (conv1) at line 9: [1, 3, 8, 8] -> [1, 6, 8, 8])`
        def shapes(values) -> str:
            return ", ".join("?" if v.tensor is None else show_shape(v.tensor.shape) for v in values)

        label = self.alias or self.binding
        name = self.kind_name + (f" ({label})" if label else "")
        return f"Node({name} at line {self.span.line}: {shapes(self.inputs)} -> {shapes(self.outputs)})"

    @property
    def kind_name(self) -> str:
        return self.block.name if self.block is not None else self.kind.name

    @property
    def result_names(self) -> list[str]:
        """One name per result: the kind's for its arguments (`output`, `h_n`, `c_n`), or a
        network's output names."""
        if self.block is not None:
            names = [n for n, _ in self.block.outputs]
        elif self.args is not None:
            names = list(self.kind.result_names(self.args))
        else:
            names = list(self.kind.results)
        return [names[i] if i < len(names) else f"output{i}" for i in range(len(self.outputs))]

    @property
    def is_module(self) -> bool:
        """Whether the node is a submodule of the built module (a layer or a network)."""
        return self.block is not None or self.kind.is_module


@dataclass(eq=False)
class Declared:
    """A tensor the network declares (`param`, `buffer`): an attribute of the built module
    under its own name, with the call that makes its first value."""

    role: str  # "param" | "buffer"
    name: str
    value: Value
    init: tuple[str, dict[str, float]]  # ("zeros", {}), ("normal", {"std": 0.02}), ...
    span: Span
    params: Dim = 0  # its element count for a param, 0 for a buffer


@dataclass(eq=False)
class TypedNetwork:
    name: str
    span: Span
    params: dict[str, Any]  # name -> value used in the body (ints are symbols)
    param_env: dict[str, Dim]  # param symbol -> its value, for what users read
    param_defaults: dict[str, Any]
    param_names: list[str] = field(default_factory=list)  # in declaration order
    param_refs: dict[str, set[Span]] = field(default_factory=dict)  # every use of a parameter in the body
    binding_names: list[str] = field(default_factory=list)  # in statement order
    unpacked: dict[str, list[str]] = field(default_factory=dict)  # `a, b = ...`: binding -> its names
    shared_lines: dict[str, int] = field(default_factory=dict)  # shared module -> its declaration's line
    output_names: list[str] = field(default_factory=list)  # as the output statement names them
    inputs: list[Value] = field(default_factory=list)
    outputs: list[tuple[str, Value]] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    tensors: list[Declared] = field(default_factory=list)  # declared params and buffers
    input_symbols: dict[str, tuple[int, int]] = field(default_factory=dict)  # sym -> (input, dim)
    # params whose values the checked shapes depend on (a size computed from them, an
    # equality proven only with their values): generated code must keep them
    fixed: dict[str, Any] = field(default_factory=dict)
    pins: dict[str, Span] = field(default_factory=dict)  # fixed param -> where it was first needed
    # (size, divisor, what, line): a divisibility the check assumed, tested by the built class
    assumed: list[tuple] = field(default_factory=list)
    # (a, b, how, what, line): a fact a stage needs (how: LESS_EQUAL, DIVIDES, EQUAL,
    # EQUAL_OR_ONE, BROADCASTS) that holds with the parameters' values and not for every
    # value of them, that a network with free parameters assumed of them, or that a network
    # checked generically assumed (each use checks it); the built class tests it
    requires: list[tuple] = field(default_factory=list)
    generic: bool = False  # used as a stage: checked over free symbols, instantiated at each use
    ok: bool = True
    _dims: dict = field(default_factory=dict, repr=False)  # dim -> self.dim(dim), memoised

    def __repr__(self) -> str:
        """The summary table `netspec check` prints for the network."""
        from netspec.report import network_table

        return network_table(self)

    # what a user reads: parameters substituted, canonical text
    def dim(self, d: Dim) -> Dim:
        if isinstance(d, int):
            return d
        out = self._dims.get(d)
        if out is None:
            out = self._dims[d] = substitute(d, self.param_env)
        return out

    def shape(self, t: Tensor) -> list[Dim]:
        return [self.dim(d) for d in t.shape]

    def show(self, t: Tensor | None) -> str:
        if t is None:
            return "?"
        return show_shape(self.shape(t))

    def uses(self) -> dict[int, int]:
        """How many times each value is read (by id): as a layer's input or initial state, or
        as an output of the network."""
        nodes = self.nodes  # each counted at once
        read = Counter(map(id, chain.from_iterable(map(_INPUTS, nodes))))
        read.update(id(v) for state in filter(None, map(_STATE, nodes)) for v in state.values())
        read.update(id(v) for _, v in self.outputs)
        return dict(read)

    @property
    def total_params(self) -> Dim:
        # each count with the parameters' values first (memoised, mostly ints), then the sum:
        # the same polynomial as substituting into the sum, without growing a 10k-term one
        return total(self.dim(n.params) for n in (*self.tensors, *self.nodes))


@dataclass
class CheckResult:
    module: Module | None  # None when the text did not parse
    networks: list[TypedNetwork]
    reporter: Reporter

    @property
    def ok(self) -> bool:
        return not self.reporter.errors
