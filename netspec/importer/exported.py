"""The fallback where torch.fx cannot trace a forward (Python control flow on a shape, a
call fx refuses): torch.export with the input dims that follow a symbol dynamic
(``torch.export.Dim``), its program unflattened back into the module's own submodules, and
its ATen calls written as the torch functions and tensor methods the importer's table knows.

torch.export resolves control flow that depends on static sizes for the sizes given, and
refuses what depends on a dynamic one; either way what it returns is the forward's graph
for every value of the symbols.
"""

from __future__ import annotations

import operator

import torch
import torch.fx as fx
import torch.nn.functional as F

from .trace import Unsupported

aten = torch.ops.aten

# An ATen overload -> ("function", torch function) or ("method", tensor method name).
ATEN = {
    aten.relu.default: ("function", torch.relu), aten.relu_.default: ("function", torch.relu),
    aten.sigmoid.default: ("function", torch.sigmoid), aten.tanh.default: ("function", torch.tanh),
    aten.gelu.default: ("function", F.gelu), aten.silu.default: ("function", F.silu),
    aten.hardtanh.default: ("function", F.hardtanh),
    aten.add.Tensor: ("function", operator.add), aten.add_.Tensor: ("function", operator.add),
    aten.sub.Tensor: ("function", operator.sub), aten.mul.Tensor: ("function", operator.mul),
    aten.div.Tensor: ("function", operator.truediv),
    aten.view.default: ("method", "view"), aten.reshape.default: ("function", torch.reshape),
    aten.expand.default: ("method", "expand"),
    aten.flatten.using_ints: ("function", torch.flatten),
    aten.cat.default: ("function", torch.cat), aten.stack.default: ("function", torch.stack),
    aten.transpose.int: ("function", torch.transpose), aten.permute.default: ("function", torch.permute),
    aten.mean.dim: ("function", torch.mean), aten.sum.dim_IntList: ("function", torch.sum),
    aten.select.int: ("function", torch.select),
    aten.squeeze.dim: ("function", torch.squeeze), aten.unsqueeze.default: ("function", torch.unsqueeze),
    aten.softmax.int: ("function", torch.softmax), aten.log_softmax.int: ("function", torch.log_softmax),
    aten.dropout.default: ("function", F.dropout),
    aten.max_pool2d.default: ("function", F.max_pool2d), aten.avg_pool2d.default: ("function", F.avg_pool2d),
    aten.adaptive_avg_pool2d.default: ("function", F.adaptive_avg_pool2d),
    aten.contiguous.default: ("method", "contiguous"),
}


def _dynamic(samples: list[tuple]) -> tuple:
    """One ``torch.export.Dim`` for each pair of sizes a dim takes in the two samples, shared
    by every dim that takes the same pair (the same symbol); dims that keep one size are static."""
    dims: dict[tuple[int, int], object] = {}
    spec = []
    for t0, t1 in zip(*samples):
        per = {}
        for j, (a, b) in enumerate(zip(t0.shape, t1.shape)):
            if a != b:
                per[j] = dims.setdefault((a, b), torch.export.Dim(f"s{len(dims)}"))
        spec.append(per or None)
    return tuple(spec)


def exported_graph(module: torch.nn.Module, samples: list[tuple], what: str, where: str,
                   fx_message: str) -> fx.Graph:
    """The forward's graph by torch.export, calling the module's own submodules; Unsupported
    when torch.export cannot export it either."""
    try:
        program = torch.export.export(module, samples[0], dynamic_shapes=_dynamic(samples), strict=False)
        graph = torch.export.unflatten(program).graph
    except Exception as e:  # the forward's own error, or one torch.export raises
        message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise Unsupported(what, where, f"torch.fx cannot trace its forward ({fx_message}), and torch.export "
                          f"with the symbols' dims dynamic cannot export it ({message})") from None
    for node in graph.nodes:
        if node.op == "call_function" and node.target in ATEN:
            how, target = ATEN[node.target]
            node.op, node.target = ("call_method" if how == "method" else "call_function"), target
    return graph
