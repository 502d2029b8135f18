"""Observing a run of a built module: every node's results, as torch computed them.

:func:`trace` runs a module built from a spec and records, for every node of the typed
graph (in networks used as stages too), the tensors it produced: a layer's through a
forward hook on its submodule, an op's by reading forward's local variables right after
its statement. ``ClassInfo.sites`` (what the build records about where each node's results
are in the generated code) says which submodule or which lines and variables to look at.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from netspec.graph import Node, TypedNetwork


@dataclass
class Observed:
    """One node's results in a run of a built module."""

    network: TypedNetwork  # the typed network the node belongs to (an instance for a block use)
    node: Node
    outputs: list  # torch tensors, one per result of the node
    path: str  # the module path of the class instance that ran it ("" for the root)
    values: list | None = None  # copies of them as they were made (a later op may write into them in place)

    def __post_init__(self) -> None:
        if self.values is None:
            self.values = [t.detach().clone() if hasattr(t, "detach") else t for t in self.outputs]


def _flat(result) -> list:
    """A module's results as a flat list; None, a result torch leaves out (attention weights
    not asked for), is none."""
    if result is None:
        return []
    if isinstance(result, (tuple, list)):
        return [t for r in result for t in _flat(r)]
    return [result]


class _Recorder:
    def __init__(self, spec):
        self.infos = {i.class_name: i for i in spec.generated.classes.values()}
        self.observed: list[Observed] = []
        self.hooks: list = []
        self.frames: dict[int, tuple] = {}  # id(module instance) -> (typed net, info, path)
        self.codes: set = set()
        self.pending: dict[int, int] = {}  # id(frame) -> last line seen
        self.looped: set[int] = set()  # scan steps already observed

    def attach(self, mod, typed: TypedNetwork, path: str) -> None:
        """Hooks on the layers of ``mod`` (and of the networks it uses, recursively)."""
        info = self.infos[type(mod).__name__]
        self.frames[id(mod)] = (typed, info, path)
        self.codes.add(type(mod).forward.__code__)
        by_module: dict[str, list] = {}  # a shared module's nodes, in the order its calls run
        for node, site in zip(typed.nodes, info.sites):
            if site.module is not None:
                by_module.setdefault(site.module, []).append(node)
        for name, nodes in by_module.items():
            sub = mod.get_submodule(name)
            calls = [0]

            def hook(_m, _args, result, nodes=nodes, calls=calls, typed=typed, path=path):
                node = nodes[calls[0] % len(nodes)]
                if node.loop is not None and id(node) in self.looped:
                    return  # a scan's step: observed at its first position (each has its shape)
                self.looped.update([id(node)] if node.loop is not None else [])
                calls[0] += 1
                self.observed.append(Observed(typed, node, _flat(result), path))

            self.hooks.append(sub.register_forward_hook(hook))
            if nodes[0].block is not None:
                self.attach(sub, nodes[0].block, f"{path}.{name}" if path else name)

    def local_trace(self, frame, event, arg):
        """After each statement of a built forward, the ops whose statement just ended."""
        entry = self.frames.get(id(frame.f_locals.get("self"))) if event in ("line", "return") else None
        if entry is None:
            return self.local_trace
        typed, info, path = entry
        last = self.pending.get(id(frame))
        line = frame.f_lineno if event == "line" else sys.maxsize
        if last is not None:
            for node, site in zip(typed.nodes, info.sites):
                if site.line and site.line <= last <= site.end < line:
                    self.observed.append(Observed(typed, node, [frame.f_locals[n] for n in site.names], path))
        self.pending[id(frame)] = line
        return self.local_trace

    def global_trace(self, frame, event, arg):
        if event == "call" and frame.f_code in self.codes:
            return self.local_trace
        return None


def trace(spec, module, *inputs, network: str | None = None) -> tuple[Any, list[Observed]]:
    """Run ``module`` (built from ``spec`` for ``network``) on ``inputs``; return its result
    and every node's observed results. The typed networks they name are the ones the spec
    was checked with: compare them when the module was made with the checked values."""
    import torch

    rec = _Recorder(spec)
    rec.attach(module, spec.network(network), "")
    old = sys.gettrace()
    sys.settrace(rec.global_trace)
    try:
        with torch.no_grad():
            result = module(*inputs)
    finally:
        sys.settrace(old)
        for h in rec.hooks:
            h.remove()
    return result, rec.observed
