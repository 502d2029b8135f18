"""Checking a network once for each distinct way it is used, and copying the result.

Every use of a network instantiates it again (netspec.checker.NetworkChecker.instantiate):
its body checked with the caller's sizes. Uses with the same signature (the same network,
argument values and input types, under the same caller: its parameters' values, whether
equations may be assumed, the networks being checked around it) check to the same typed
network, but for where its dims come from: a dim that comes from an input carries the
input's origin at that use. So a use whose signature was checked before, cleanly (nothing
reported but the unused-value warnings a use leaves out), takes a copy of that check: new
nodes and values, the inputs' origins put in (each origin object of the earlier use's
inputs, the one at the same place in this use's inputs; a use whose origins cannot be
mapped so, one object to two, is checked anew), the same facts for the caller, and the same
counts of layers and uses (where they would pass a limit, the use is checked anew, and
reports it).

:class:`Instances` holds those checks. A check makes its own; the language server keeps
one from a version of the document to the next (the uses of the last two versions), where
a network's check is kept while the text of it and of every network it uses, inside
others included, is the same (the same AST objects), and so is the check around it (the
networks' names, the parameters' names, the overrides). REUSE = False turns it off
(tests/test_instances.py compares the two).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import ast as A
from . import codes
from .graph import Node, TypedNetwork, Value
from .kinds.base import TensorArg
from .memo import tagged
from .types import Tensor

if TYPE_CHECKING:
    from .checker import Checker, NetworkChecker

REUSE = True
_TEMPLATES = 4  # copies kept of one signature's check, for inputs whose origins map differently


@dataclass
class Instance:
    """A clean check of a network at one use, to copy: never handed to a node itself."""

    plan: Plan  # of a copy of the check, never handed to a node
    symbols: dict  # the block's symbols -> the caller's dims (Node.block_symbols)
    layers: int  # layers and ops it counted (Checker.layer_count)
    uses: int  # uses of networks it counted (Checker.use_count)
    asts: tuple  # the ASTs it was checked from (kept alive: the key holds their ids)


class Instances:
    """The clean checks of networks at their uses, by signature."""

    def __init__(self) -> None:
        self.fresh: dict[tuple, list[Instance]] = {}  # those this check used or made
        self.old: dict[tuple, list[Instance]] = {}  # those of the last check
        self.reused = 0  # uses copied, in all (for tests and benchmarks)
        self.checked = 0  # uses checked, in all
        self._context: tuple | None = None
        self._closure: dict[str, tuple] = {}

    def start(self, checker: Checker) -> None:
        """A new check: the last one's instances are kept for this one, and its own."""
        self.old, self.fresh = self.fresh, {}
        overrides = tuple(sorted((k, repr(v)) for k, v in checker.overrides.items()))
        self._context = (tuple(checker.asts), frozenset(checker.sizes.params), overrides)
        self._closure = {}

    def closure(self, checker: Checker, name: str) -> tuple:
        """The ASTs of network ``name`` and of every network it uses, inside others too."""
        got = self._closure.get(name)
        if got is None:
            asts, seen, todo = [], {name}, [name]
            while todo:
                ast = checker.asts[todo.pop()]
                asts.append(ast)
                for n in A.walk(ast):
                    if isinstance(n, (A.Call, A.StageCall)) and n.name in checker.asts and n.name not in seen:
                        seen.add(n.name)
                        todo.append(n.name)
            got = self._closure[name] = tuple(asts)
        return got

    def key(self, nc: NetworkChecker, ast: A.Network, params: dict, inputs: list[Tensor]) -> tuple:
        """A use's signature: what its check depends on besides its inputs' origins."""
        checker = nc.checker
        net = nc.net
        return (self._context, tuple(id(a) for a in self.closure(checker, ast.name)),
                tuple((k, tagged(v)) for k, v in params.items()),
                tuple((t.dtype, t.shape, t.strides, t.batch, t.values) for t in inputs),
                nc.strict, nc.records, frozenset(nc.param_syms),
                tuple(sorted((k, tagged(v)) for k, v in net.param_env.items())),
                tuple(checker.active), nc.ast.name)

    def find(self, key: tuple) -> list[Instance] | None:
        got = self.fresh.get(key)
        if got is None:
            got = self.old.get(key)
            if got is not None:
                self.fresh[key] = got
        return got

    def keep(self, key: tuple, instance: Instance) -> None:
        kept = self.fresh.setdefault(key, self.old.get(key) or [])
        if len(kept) < _TEMPLATES:
            kept.append(instance)


def clean(items: list) -> bool:
    """Whether a use reported nothing (an unused value's warning is the network's own)."""
    return all(d.code == codes.UNUSED for d in items)


def reusable(checker: Checker, instance: Instance) -> bool:
    """Whether a copy of ``instance`` checks as this use would: every network it uses has
    been checked on its own already (a use would check it first, reporting its errors), and
    its counts stay within the limits."""
    from . import limits

    if any(checker.generic_results.get(a.name) is None for a in instance.asts):
        return False
    return (checker.layer_count + instance.layers <= limits.MAX_LAYERS
            and checker.use_count + instance.uses <= limits.MAX_USES)


def origin_map(net: TypedNetwork, inputs: list[Tensor]) -> dict[int, Any] | None:
    """Each origin object of ``net``'s inputs -> the one at its place in ``inputs``; None
    where one object would take two origins, or an input without one would take one."""
    mapped: dict[int, Any] = {}
    for v, t in zip(net.inputs, inputs):
        if v.tensor is None or len(v.tensor.origins) != len(t.origins):
            return None
        for old, new in zip(v.tensor.origins, t.origins):
            if old is None:
                if new is not None:
                    return None
                continue
            if mapped.setdefault(id(old), new) != new:
                return None
    return mapped


def copy_network(net: TypedNetwork, origins: dict[int, Any], param_env: dict) -> TypedNetwork:
    """A copy of ``net`` with new nodes and values, ``origins`` put in (each origin object of
    ``net``'s inputs, by its id), over the caller's ``param_env``."""
    return Plan(net).copy(origins, param_env)


_new = object.__new__


def _shallow(obj):
    new = object.__new__(type(obj))
    new.__dict__.update(obj.__dict__)
    return new


_COPIED = ("params", "binding_names", "shared_lines", "output_names", "input_symbols", "fixed", "pins", "assumed",
           "requires", "_dims")


class Plan:
    """A network's copy, worked out once: its values in order, what each node reads and
    makes (by position), and where each value's tensor has an origin of the inputs (of
    the network copied, which a network used inside it passes on)."""

    def __init__(self, net: TypedNetwork, inputs: set[int] | None = None):
        if inputs is None:  # the ids of the origin objects of the inputs
            inputs = {id(o) for v in net.inputs if v.tensor is not None for o in v.tensor.origins if o is not None}
        self.net = net
        self._index: dict[int, int] = {}
        self._values: list[Value] = []
        nodes = {id(n): i for i, n in enumerate(net.nodes)}
        self.inputs = [self._at(v) for v in net.inputs]
        self.nodes = [(n, [self._at(v) for v in n.inputs], self._state(n),
                       [self._at(v) for v in n.outputs], nodes.get(id(n.loop)) if n.loop is not None else None,
                       Plan(n.block, inputs) if n.block is not None and not n.block.generic else None)
                      for n in net.nodes]
        self.outputs = [(name, self._at(v)) for name, v in net.outputs]
        self.tensors = [(d, self._at(d.value)) for d in net.tensors]
        self.values = [(v, nodes.get(id(v.node), -1),
                        [] if v.tensor is None else [j for j, o in enumerate(v.tensor.origins) if id(o) in inputs])
                       for v in self._values]
        del self._index, self._values

    def _state(self, n: Node) -> tuple | None:
        """A node's tensors passed by keyword, and its arguments that hold them: positions."""
        if not n.state:
            return None
        held = [] if n.args is None else [(k, a.name, self._at(a.value)) for k in n.args.model_fields
                                          for a in [getattr(n.args, k)] if isinstance(a, TensorArg)]
        return {k: self._at(v) for k, v in n.state.items()}, held

    def _at(self, v: Value) -> int:
        i = self._index.get(id(v))
        if i is None:
            i = self._index[id(v)] = len(self._values)
            self._values.append(v)
        return i

    def copy(self, origins: dict[int, Any], param_env: dict) -> TypedNetwork:
        nodes = [_shallow(n) for n, *_ in self.nodes]
        values = []
        for v, node, mapped in self.values:
            new = _new(type(v))  # _shallow(v), at once
            new.__dict__.update(v.__dict__)
            if mapped and origins:
                t = v.tensor
                at = list(t.origins)
                for j in mapped:
                    at[j] = origins[id(at[j])]
                new.tensor = Tensor(t.dtype, t.shape, tuple(at), t.strides, t.batch, t.values)
            if node >= 0:
                new.node = nodes[node]
            values.append(new)
        at = values.__getitem__
        for n, (_, ins, state, outs, loop, sub) in zip(nodes, self.nodes):
            n.inputs = list(map(at, ins))  # [values[i] for i in ins], at once
            n.outputs = list(map(at, outs))
            if state is not None:  # tensors passed by keyword: the arguments hold them too
                n.state = {k: values[i] for k, i in state[0].items()}
                if state[1]:
                    n.args = n.args.model_copy({k: TensorArg(values[i], name) for k, name, i in state[1]})
            n.block_args, n.block_symbols, n.arg_params = dict(n.block_args), dict(n.block_symbols), dict(n.arg_params)
            if loop is not None:
                n.loop = nodes[loop]
            if sub is not None:
                n.block = sub.copy(origins, param_env)
        return self._network(nodes, values, param_env)

    def _network(self, nodes: list[Node], values: list[Value], param_env: dict) -> TypedNetwork:
        net = self.net
        new = _shallow(net)
        new.param_env = param_env
        new.nodes = nodes
        new.inputs = [values[i] for i in self.inputs]
        new.outputs = [(name, values[i]) for name, i in self.outputs]
        new.tensors = []
        for d, i in self.tensors:
            declared = _shallow(d)
            declared.value = values[i]
            new.tensors.append(declared)
        for name in _COPIED:
            setattr(new, name, getattr(net, name).copy())
        new.unpacked = {k: list(v) for k, v in net.unpacked.items()}
        return new
