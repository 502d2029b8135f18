"""Tracing a torch module with torch.fx, and running the traced graph on sample inputs.

Every submodule is a leaf of the trace: the root's graph calls its children, and a child
that is not a layer netspec knows is traced in turn when it is written as a network. Each
graph runs twice, on inputs whose symbolic dims take two different values, so that a size
read from a tensor (``x.size(0)``) can be written as the symbol it follows.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from typing import Any, Iterator, NamedTuple

import torch
import torch.fx as fx

BATCH_NAMES = {"batch", "batch_size", "B", "N", "bs"}


class Unsupported(Exception):
    """What the importer cannot express: ``what`` names the module or call, ``where`` its
    source location, ``reason`` says why."""

    def __init__(self, what: str, where: str, reason: str):
        super().__init__(f"{what}{f' ({where})' if where else ''}: {reason}")
        self.what, self.where, self.reason = what, where, reason


class _LeafTracer(fx.Tracer):
    """Every submodule is a leaf: a module's graph calls its children."""

    def __init__(self, stack_traces: bool = False):
        super().__init__()
        self.record_stack_traces = stack_traces

    def is_leaf_module(self, m, qualname) -> bool:
        return True


def module_where(module: torch.nn.Module) -> str:
    """Where a module's class is defined: ``file:line``."""
    import inspect

    cls = type(module)
    try:
        return f"{inspect.getsourcefile(cls)}:{inspect.getsourcelines(cls)[1]}"
    except (OSError, TypeError):
        return cls.__module__


def node_where(module: torch.nn.Module, node: fx.Node) -> str:
    """The source line of a traced call: the last frame of its stack trace, from a second
    trace that records them (only for a message: recording costs an import of torch.export)."""
    try:
        graph = _LeafTracer(stack_traces=True).trace(module)
        trace = next((n.stack_trace for n in graph.nodes if n.name == node.name), None) or ""
    except Exception:  # the first trace succeeded; the location is a courtesy
        trace = ""
    import os

    torch_dir = os.path.dirname(torch.__file__)
    found = [f for f in re.findall(r'File "([^"]+)", line (\d+)', trace) if not f[0].startswith(torch_dir)]
    return f"{found[-1][0]}:{found[-1][1]}" if found else module_where(module)


def trace(module: torch.nn.Module, path: str, samples: list[tuple]) -> fx.GraphModule:
    """The module's fx graph, its children as leaves; where torch.fx cannot trace it, the
    graph torch.export makes on the two ``samples`` (netspec/importer/exported.py);
    Unsupported when neither can."""
    try:
        graph = _LeafTracer().trace(module)
    except Exception as e:  # fx reports control flow on values, unsupported calls, ...
        from .exported import exported_graph

        message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        with exporting():
            graph = exported_graph(module, samples, f"{type(module).__name__} `{path or 'the model'}`",
                                   module_where(module), message)
        gm = fx.GraphModule(module, graph)
        gm.meta["exported"] = True  # its graph holds only for the sizes that stayed static
        return gm
    gm = fx.GraphModule(module, graph)
    chain_cats(gm)
    return gm


CATS = (torch.cat, torch.concat)


def chain_cats(gm: fx.GraphModule) -> None:
    """Concatenations that extend one another, as a DenseNet block makes them (each layer
    given the list of all earlier maps, the block returning them all): each written as the
    one before and what it adds (``cat(cat_2, denselayer3)``), a list that a submodule only
    concatenates first made a ``cat`` of its own, so that a spec writes each once."""
    graph, made, changed = gm.graph, {}, False
    for n in list(graph.nodes):
        if n.op == "call_module" and len(n.args) == 1 and not n.kwargs and isinstance(n.args[0], (list, tuple)) \
                and len(n.args[0]) > 1:
            dim = _joins(gm.get_submodule(n.target))
            if dim is None:
                continue
            with graph.inserting_before(n):
                cat = graph.call_function(torch.cat, (list(n.args[0]), dim))
            n.args, n, changed = ([cat],), cat, True
        if n.op != "call_function" or n.target not in CATS or not n.args or not isinstance(n.args[0], (list, tuple)):
            continue
        parts, dim = tuple(n.args[0]), n.args[1] if len(n.args) > 1 else n.kwargs.get("dim", 0)
        if not isinstance(dim, int) or set(n.kwargs) - {"dim"}:
            continue
        before = made.get((dim, parts[:-1]))
        if before is not None and len(parts) > 2:
            n.args, n.kwargs, changed = ([before, parts[-1]], dim), {}, True
        made[(dim, parts)] = n
    if changed:
        gm.recompile()


def _joins(module: torch.nn.Module) -> int | None:
    """The dim a submodule concatenates the list it is given along, if that is all it does
    with it (:func:`join_first_input`)."""
    if type(module).__module__.startswith("torch.nn"):
        return None
    try:
        return join_first_input(fx.GraphModule(module, _LeafTracer().trace(module)))
    except Exception:  # not traceable: the call is refused where it is written
        return None


def join_first_input(gm: fx.GraphModule) -> int | None:
    """A forward that takes a list of tensors and only concatenates it (``torch.cat(inputs,
    1)``, a DenseNet layer) rewritten to take the concatenation: the graph's first input is
    that tensor and the ``cat`` is gone. Returns the dim concatenated along, or None (graph
    unchanged) when the forward does anything else with the list."""
    first = next((n for n in gm.graph.nodes if n.op == "placeholder"), None)
    users = list(first.users) if first is not None else []
    if len(users) != 1 or users[0].op != "call_function" or users[0].target not in (torch.cat, torch.concat):
        return None
    cat = users[0]
    given = cat.args[0] if cat.args else cat.kwargs.get("tensors")
    dim = cat.args[1] if len(cat.args) > 1 else cat.kwargs.get("dim", 0)
    if given is not first or not isinstance(dim, int) or len(cat.args) + len(cat.kwargs) > 2:
        return None
    cat.replace_all_uses_with(first)
    gm.graph.erase_node(cat)
    gm.recompile()
    return dim


class Runs(NamedTuple):
    """Each node's value in two runs of a graph."""

    values: list[dict[fx.Node, Any]]


class _Recorder(fx.Interpreter):
    def __init__(self, gm):
        super().__init__(gm)
        self.seen: dict[fx.Node, Any] = {}

    def run_node(self, n):
        out = super().run_node(n)
        self.seen[n] = out
        return out


def meta_copy(module: torch.nn.Module) -> torch.nn.Module:
    """A copy of the module whose weights and buffers are on the meta device: a run
    computes shapes and dtypes, no data. The module itself is left as it is."""
    import copy

    memo: dict[int, Any] = {}
    for t in [*module.parameters(), *module.buffers()]:
        meta = torch.empty_like(t, device="meta")
        memo[id(t)] = torch.nn.Parameter(meta, t.requires_grad) if isinstance(t, torch.nn.Parameter) else meta
    return copy.deepcopy(module, memo)


EXPORTING = False  # torch.export records what forward calls: the norms run as they are


@contextmanager
def exporting() -> Iterator[None]:
    global EXPORTING
    before, EXPORTING = EXPORTING, True
    try:
        yield
    finally:
        EXPORTING = before


@contextmanager
def quick_meta_norms() -> Iterator[None]:
    """Eval-mode batch norm on meta tensors runs through a slow Python decomposition (a
    twentieth of a second a call); its result is a tensor like its input, so on meta tensors
    it is made directly, after the check torch makes of the channels."""
    import torch.nn.functional as F

    original = F.batch_norm

    def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, *args, **kwargs):
        if EXPORTING or input.device.type != "meta" or training or running_mean is None or input.dim() < 2 \
                or input.shape[1] != running_mean.numel():
            return original(input, running_mean, running_var, weight, bias, training, *args, **kwargs)
        return torch.empty_like(input)

    F.batch_norm = batch_norm
    try:
        yield
    finally:
        F.batch_norm = original


def run_twice(gm: fx.GraphModule, samples: list[tuple]) -> Runs:
    """Run the graph on each set of sample inputs (in eval mode, without gradients)."""
    values = []
    with torch.no_grad():
        for args in samples:
            rec = _Recorder(gm)
            rec.run(*args)
            values.append(rec.seen)
    return Runs(values)


def sample_values(symbols: list[str]) -> list[dict[str, int]]:
    """Two values for every symbol, different from each other and from the other symbols'."""
    runs: list[dict[str, int]] = [{}, {}]
    others = 0
    for s in symbols:
        if s in BATCH_NAMES:
            pair = (2, 3)
        else:
            pair = (11 + 4 * others, 16 + 4 * others)
            others += 1
        runs[0][s], runs[1][s] = pair
    return runs


def make_input(dtype: str, shape: tuple[int, ...]) -> torch.Tensor:
    return torch.zeros(shape, dtype=getattr(torch, dtype), device="meta")
