"""Every tensor of a built module's state_dict, named and shaped from the typed graph.

A layer kind declares its tensors (``Kind.weights``: ``weight_ih_l0 [4 * hidden,
input_size]``, buffers such as ``running_mean`` too); this module puts them under the
attribute the build gives the layer (``features.0.weight``, ``layer1.0.conv1.weight``, the
layers of a network used as a stage under that stage's attribute), so that the list is the
built module's ``state_dict()`` in its order, without torch. tests/test_weights.py compares
it with the real ``state_dict()`` of every spec's module and of every kind's examples.
"""

from __future__ import annotations

from typing import NamedTuple

from netspec.costs import bound_args, param_dtype
from netspec.dims import Dim, NotConcrete, dividing
from netspec.graph import Node, TypedNetwork
from netspec.pycode import module_attributes, tree_paths


class Entry(NamedTuple):
    """One tensor of the state_dict: its dotted name, shape (the network's parameters
    substituted), dtype, whether it is a trained parameter (not a buffer), and the
    top-level layer of the network that holds it."""

    name: str
    shape: tuple[Dim, ...]
    dtype: str
    trainable: bool
    node: Node | None  # None for a tensor the network declares (`param`, `buffer`)
    line: int = 0  # the line of the layer or declaration that holds it


def layer_weights(net: TypedNetwork, node: Node, prefix: str = "") -> list[Entry]:
    """The tensors of one node (a layer, or a network used as a stage), named below
    ``prefix``; none for an op or a node that could not be inferred."""
    if node.error is not None or node.args is None and node.block is None:
        return []
    if node.block is not None:
        return [e._replace(node=node, line=node.span.line) for e in network_weights(node.block, prefix)]
    dtype = param_dtype(node)
    out = []
    try:
        tensors = node.kind.weights(node.args, net.dim)
    except NotConcrete:  # a size divided by a parameter's symbol (`groups=g`): at its value,
        with dividing():  # or over it where it has none (`c // g`)
            tensors = node.kind.weights(bound_args(net, node.args), net.dim)
    for w in tensors:
        out.append(Entry(prefix + w.name, tuple(net.dim(d) for d in w.shape), w.dtype or dtype, w.trainable, node,
                         node.span.line))
    return out


def network_weights(net: TypedNetwork, prefix: str = "") -> list[Entry]:
    """The state_dict of ``net``'s built module, in order: submodule by submodule as the
    build assigns them in ``__init__``."""
    out: list[Entry] = []
    for role in ("param", "buffer"):  # a module's own parameters, then its buffers, then its children
        for d in net.tensors:
            if d.role == role and d.value.tensor is not None:
                t = d.value.tensor
                out.append(Entry(prefix + d.name, tuple(net.dim(x) for x in t.shape), t.dtype, role == "param",
                                 None, d.span.line))
    seen: set[str] = set()
    for attr, unit in module_attributes(net)[1]:
        inner = tree_paths(unit.tree)
        for n in unit.nodes:
            path = ".".join((attr, *inner.get(id(n), ())))
            if path not in seen:  # a shared module's uses: one module
                seen.add(path)
                out += layer_weights(net, n, f"{prefix}{path}.")
    return out
