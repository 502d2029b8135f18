"""Functional calls and tensor methods of a traced forward, mapped to the language's ops.

A handler gets the call's arguments (fx nodes for tensors and traced sizes, Python values
for the rest) and returns what the spec writes: a stage piped from the first tensor
(``Pipe``), or an op over several tensors written as a chain's source (``Source``).
"""

from __future__ import annotations

import operator
from typing import Any, Callable, NamedTuple

import torch
import torch.fx as fx
import torch.nn.functional as F

from .table import literal


class Pipe(NamedTuple):
    """A stage applied to ``node`` (the piped tensor)."""

    node: fx.Node
    text: str


class Source(NamedTuple):
    """An op over several tensors: ``render(names)`` writes it, names in ``nodes``' order."""

    nodes: list[fx.Node]
    render: Callable[[list[str]], str]


class Refused(Exception):
    """A call the table has no way to write; the message says why."""


def _kw(node: fx.Node, i: int, name: str, default: Any = None) -> Any:
    if len(node.args) > i:
        return node.args[i]
    return node.kwargs.get(name, default)


def _activation(kind: str) -> Callable:
    def handle(node, ctx):
        inplace = _kw(node, 1, "inplace", False)
        return Pipe(node.args[0], f"{kind}(inplace=true)" if inplace is True else kind)
    return handle


def _plain(kind: str) -> Callable:
    return lambda node, ctx: Pipe(node.args[0], kind)


def _dim_op(op: str, names: tuple[str, ...], defaults: tuple = ()) -> Callable:
    """An op whose arguments after the tensor are integers (or tuples), by position."""
    def handle(node, ctx):
        vals = [_kw(node, i + 1, n, defaults[i] if i < len(defaults) else None) for i, n in enumerate(names)]
        while vals and (vals[-1] is None or (len(defaults) >= len(vals) and vals[-1] == defaults[len(vals) - 1])):
            vals.pop()
        if any(isinstance(v, fx.Node) for v in vals):
            raise Refused(f"`{op}` with an argument computed in forward")
        return Pipe(node.args[0], f"{op}({', '.join(literal(v) for v in vals)})" if vals else op)
    return handle


def _flatten(node, ctx):
    start, end = _kw(node, 1, "start_dim", 0), _kw(node, 2, "end_dim", -1)
    args = [literal(start)] + ([literal(end)] if end != -1 else [])
    return Pipe(node.args[0], f"flatten({', '.join(args)})")


def _reshape(node, ctx):
    sizes = node.args[1:]
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list, fx.Node)) and not ctx.is_scalar_int(sizes[0]):
        sizes = sizes[0]
        if isinstance(sizes, fx.Node):
            sizes = [ctx.size_expr(sizes, i) for i in range(len(ctx.value(sizes)))]
    parts = [ctx.size_expr(s) if isinstance(s, fx.Node) else literal(s) for s in sizes]
    return Pipe(node.args[0], f"reshape({', '.join(parts)})")


def _expand(node, ctx):
    sizes = node.args[1:]
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = sizes[0]
    parts = [ctx.size_expr(s) if isinstance(s, fx.Node) else literal(s) for s in sizes]
    return Pipe(node.args[0], f"expand({', '.join(parts)})")


def _permute(node, ctx):
    dims = node.args[1:]
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = dims[0]
    return Pipe(node.args[0], f"permute({', '.join(literal(d) for d in dims)})")


def _reduce(op: str) -> Callable:
    def handle(node, ctx):
        dim, keep = _kw(node, 1, "dim"), _kw(node, 2, "keepdim", False)
        if isinstance(dim, list):
            dim = tuple(dim)
        args = ([literal(dim)] if dim is not None else []) + (["keepdim=true"] if keep else [])
        return Pipe(node.args[0], f"{op}({', '.join(args)})" if args else op)
    return handle


def _arith(op: str, symbol: str) -> Callable:
    def handle(node, ctx):
        a, b = node.args[0], node.args[1]
        tensors = [x for x in (a, b) if ctx.is_tensor(x)]
        if len(tensors) == 2:
            return Source([a, b], lambda names: f"{op}({names[0]}, {names[1]})")
        if len(tensors) == 1 and ctx.is_tensor(a) and isinstance(b, (int, float)) and not isinstance(b, bool):
            return Pipe(a, f"{op}({literal(b)})")
        raise Refused(f"`{symbol}` with a tensor on the right of a number")
    return handle


def _cat(node, ctx):
    parts = list(_kw(node, 0, "tensors"))
    dim = _kw(node, 1, "dim", 0)
    if not all(ctx.is_tensor(p) for p in parts):
        raise Refused("torch.cat of values that are not tensors of the forward")
    return Source(parts, lambda names: f"cat({', '.join(names)}{f', dim={dim}' if dim else ''})")


def _stack(node, ctx):
    parts = list(_kw(node, 0, "tensors"))
    dim = _kw(node, 1, "dim", 0)
    if not all(ctx.is_tensor(p) for p in parts):
        raise Refused("torch.stack of values that are not tensors of the forward")
    return Source(parts, lambda names: f"stack({', '.join(names)}{f', dim={dim}' if dim else ''})")


def _getitem_tensor(node, ctx):
    """``x[:, -1]``, ``x[-1]``: one integer index, every other dim whole, is ``select``; other
    indexes by integers, slices, ``None`` and ``...`` are the language's subscript
    (``x[:, :seq]``), sizes read in forward written in the symbols."""
    index = node.args[1]
    index = index if isinstance(index, tuple) else (index,)
    ints = [i for i, v in enumerate(index) if isinstance(v, int) and not isinstance(v, bool)]
    whole = all(isinstance(v, slice) and v == slice(None) for i, v in enumerate(index) if i not in ints)
    if len(ints) == 1 and whole and Ellipsis not in index:
        return Pipe(node.args[0], f"select({ints[0]}, {index[ints[0]]})")
    parts = ", ".join(_index_part(v, ctx) for v in index)
    return Source([node.args[0]], lambda names: f"{names[0]}[{parts}]")


def _index_part(v, ctx) -> str:
    if v is None:
        return "None"
    if v is Ellipsis:
        return "..."
    if isinstance(v, slice):
        ends = [_bound(b, ctx) for b in (v.start, v.stop, v.step)]
        return ":".join(ends[:2]) + (f":{ends[2]}" if ends[2] else "")
    if isinstance(v, int) and not isinstance(v, bool):
        return str(v)
    if isinstance(v, fx.Node) and ctx.is_scalar_int(v):
        return ctx.size_expr(v)
    raise Refused("an index by a tensor or a list")


def _bound(b, ctx) -> str:
    if b is None:
        return ""
    if isinstance(b, fx.Node):
        return ctx.size_expr(b)
    if isinstance(b, int) and not isinstance(b, bool):
        return str(b)
    raise Refused("a slice bound that is not an integer")


def _matmul(op: str) -> Callable:
    def handle(node, ctx):
        a, b = node.args[0], node.args[1]
        if not (ctx.is_tensor(a) and ctx.is_tensor(b)):
            raise Refused(f"`{op}` of values that are not both tensors of the forward")
        return Source([a, b], lambda names: f"{op}({names[0]}, {names[1]})")
    return handle


def _softmax(op: str) -> Callable:
    def handle(node, ctx):
        dim = _kw(node, 1, "dim")
        if dim is None:
            raise Refused(f"{op} without dim")
        return Pipe(node.args[0], f"{op}({literal(dim)})")
    return handle


def _dropout(node, ctx):
    p = _kw(node, 1, "p", 0.5)
    return Pipe(node.args[0], "Dropout" if p == 0.5 else f"Dropout({literal(float(p))})")


def _adaptive_pool(kind: str) -> Callable:
    def handle(node, ctx):
        size = _kw(node, 1, "output_size")
        if isinstance(size, (list, tuple)) and all(s == size[0] for s in size):
            size = size[0]
        return Pipe(node.args[0], f"{kind}({literal(size)})")
    return handle


def _pool(kind: str) -> Callable:
    def handle(node, ctx):
        k = _kw(node, 1, "kernel_size")
        stride = _kw(node, 2, "stride")
        padding = _kw(node, 3, "padding", 0)
        args = [literal(_square(k))]
        if stride not in (None, [], ()) and _square(stride) != _square(k):
            args.append(f"stride={literal(_square(stride))}")
        if _square(padding) != 0:
            args.append(f"padding={literal(_square(padding))}")
        return Pipe(node.args[0], f"{kind}({', '.join(args)})")
    return handle


def _square(v):
    if isinstance(v, (list, tuple)) and v and all(x == v[0] for x in v):
        return v[0]
    return tuple(v) if isinstance(v, list) else v


FUNCTIONS: dict[Any, Callable] = {
    F.max_pool2d: _pool("MaxPool2d"), F.max_pool1d: _pool("MaxPool1d"),
    F.avg_pool2d: _pool("AvgPool2d"), F.avg_pool1d: _pool("AvgPool1d"),
    torch.max_pool2d: _pool("MaxPool2d"), torch.max_pool1d: _pool("MaxPool1d"),
    torch.flatten: _flatten,
    torch.relu: _activation("ReLU"), F.relu: _activation("ReLU"),
    torch.sigmoid: _plain("Sigmoid"), F.sigmoid: _plain("Sigmoid"),
    torch.tanh: _plain("Tanh"), F.tanh: _plain("Tanh"),
    F.gelu: _plain("GELU"), F.silu: _activation("SiLU"), F.relu6: _activation("ReLU6"),
    F.hardswish: _activation("Hardswish"), F.hardsigmoid: _activation("Hardsigmoid"),
    F.dropout: _dropout,
    F.softmax: _softmax("softmax"), torch.softmax: _softmax("softmax"),
    F.log_softmax: _softmax("log_softmax"), torch.log_softmax: _softmax("log_softmax"),
    F.adaptive_avg_pool2d: _adaptive_pool("AdaptiveAvgPool2d"),
    F.adaptive_avg_pool1d: _adaptive_pool("AdaptiveAvgPool1d"),
    operator.add: _arith("add", "+"), torch.add: _arith("add", "+"),
    operator.mul: _arith("mul", "*"), torch.mul: _arith("mul", "*"),
    operator.sub: _arith("sub", "-"), torch.sub: _arith("sub", "-"),
    operator.truediv: _arith("div", "/"), torch.div: _arith("div", "/"),
    torch.cat: _cat, torch.concat: _cat, torch.stack: _stack,
    torch.bmm: _matmul("bmm"), torch.matmul: _matmul("matmul"), operator.matmul: _matmul("matmul"),
    torch.transpose: _dim_op("transpose", ("dim0", "dim1")),
    torch.reshape: _reshape,
    torch.permute: _permute,
    torch.squeeze: _dim_op("squeeze", ("dim",)),
    torch.unsqueeze: _dim_op("unsqueeze", ("dim",)),
    torch.mean: _reduce("mean"), torch.sum: _reduce("sum"),
    torch.select: _dim_op("select", ("dim", "index")),
    torch.chunk: _dim_op("chunk", ("chunks", "dim"), (None, 0)),
    torch.split: _dim_op("split", ("split_size_or_sections", "dim"), (None, 0)),
}

METHODS: dict[str, Callable] = {
    "view": _reshape, "reshape": _reshape, "expand": _expand, "flatten": _flatten, "permute": _permute,
    "transpose": _dim_op("transpose", ("dim0", "dim1")),
    "squeeze": _dim_op("squeeze", ("dim",)), "unsqueeze": _dim_op("unsqueeze", ("dim",)),
    "mean": _reduce("mean"), "sum": _reduce("sum"),
    "contiguous": _plain("contiguous"),
    "relu": _activation("ReLU"), "sigmoid": _plain("Sigmoid"), "tanh": _plain("Tanh"),
    "softmax": _softmax("softmax"), "log_softmax": _softmax("log_softmax"),
    "select": _dim_op("select", ("dim", "index")),
    "chunk": _dim_op("chunk", ("chunks", "dim"), (None, 0)),
    "bmm": _matmul("bmm"), "matmul": _matmul("matmul"),
    "split": _dim_op("split", ("split_size_or_sections", "dim"), (None, 0)),
    "add": _arith("add", "+"), "mul": _arith("mul", "*"), "sub": _arith("sub", "-"), "div": _arith("div", "/"),
    "add_": _arith("add", "+="), "mul_": _arith("mul", "*="), "relu_": _plain("ReLU(inplace=true)"),
}


def call_name(node: fx.Node) -> str:
    """How the forward wrote the call, for messages."""
    if node.op == "call_method":
        return f"Tensor.{node.target}"
    t = node.target
    mod = getattr(t, "__module__", None) or ""
    name = getattr(t, "__name__", str(t))
    if mod == "_operator":
        return f"operator.{name}"
    if mod.startswith("torch.nn.functional"):
        return f"F.{name}"
    return f"{mod.replace('torch._C._VariableFunctions', 'torch')}.{name}" if mod else name


def handler(node: fx.Node) -> Callable | None:
    if node.op == "call_method":
        return METHODS.get(node.target)
    if node.target is operator.getitem:
        return _getitem_tensor
    return FUNCTIONS.get(node.target)
