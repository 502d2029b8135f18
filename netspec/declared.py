"""Tensors a network declares: `param w: float[4, 4] = normal(std=0.02)` and `buffer`.

A declared tensor is a value of the network like an input, made by the built module itself:
a ``param`` becomes an ``nn.Parameter`` (counted in the parameters, loaded from a
``state_dict`` under its own name), a ``buffer`` a registered buffer. Its sizes are model
sizes: numbers and network parameters, never a dim that varies with the data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import ast as A
from . import codes
from .dims import Dim, render, sign
from .graph import Declared, Value
from .kinds import Fail
from .kinds.base import numel
from .types import FLOAT_DTYPES, Origin, Tensor

if TYPE_CHECKING:
    from .checker import NetworkChecker

# init name -> its arguments with their defaults (None: required), as torch's in-place inits
INITS: dict[str, dict[str, float | None]] = {
    "zeros": {},
    "ones": {},
    "full": {"value": None},
    "normal": {"mean": 0.0, "std": 1.0},
    "uniform": {"a": 0.0, "b": 1.0},
    "trunc_normal": {"mean": 0.0, "std": 1.0, "a": -2.0, "b": 2.0},
}
INIT_HELP = "make it with one of: " + ", ".join(f"`{n}`" for n in INITS) + " (zeros when none is given)"


def declare(nc: NetworkChecker, decl: A.TensorDecl) -> None:
    """Check one declaration and make its value; errors are reported, the name poisoned."""
    if decl.name in nc.values or decl.name in nc.net.params or decl.name in nc.symbol_env:
        nc.reporter.error(codes.DUPLICATE, f"`{decl.name}` is defined twice", decl.name_span,
                          help="give the tensor its own name")
        return
    from .pycode import check_name
    check_name(nc.reporter, decl.name, decl.name_span, f"a {decl.kind}", submodule=True)
    try:
        t = _tensor(nc, decl)
        init = _init(nc, decl)
    except Fail:
        t, init = None, ("zeros", {})
    v = Value(t, None, 0, decl.name)
    count = numel(t.shape) if t is not None and decl.kind == "param" else 0
    nc.net.tensors.append(Declared(decl.kind, decl.name, v, init, decl.span, count))
    nc.values[decl.name] = _results(v)
    nc.value_spans[decl.name] = decl.span


def _results(v: Value):
    from .checker import Results
    return Results(v, {"output": v})


def _tensor(nc: NetworkChecker, decl: A.TensorDecl) -> Tensor:
    dtype = nc.dtype_of(decl.type) if decl.type.dtype is not None else "float32"
    if dtype is None:
        raise Fail("dtype")
    if decl.kind == "param" and dtype not in FLOAT_DTYPES:
        nc.reporter.error(codes.DTYPE, f"param `{decl.name}` is {dtype}: torch trains only floating-point parameters",
                          decl.type.span, help=f"declare it `buffer {decl.name}: ...`, or give it a float dtype")
        raise Fail("dtype")
    dims = [_size(nc, decl, d) for d in decl.type.dims]
    origin = Origin(f"{decl.kind} {decl.name}", decl.span)
    return Tensor(dtype, tuple(dims), (origin,) * len(dims))


def _size(nc: NetworkChecker, decl: A.TensorDecl, dexpr) -> Dim:
    from .checker import _names_in
    data = sorted(n for n in _names_in(dexpr) if n in nc.symbol_env and n not in nc.net.params)
    if data:
        nc.reporter.error(codes.SHAPE, f"{decl.kind} `{decl.name}` is sized by `{data[0]}`, a dim that varies "
                          "with the data", dexpr.span,
                          help="size it with numbers or network parameters: `network N(len=197) { param p: "
                               "float[1, len, 768] }`")
        raise Fail("size")
    d = nc.dim_expr(dexpr)
    if sign(nc.net.dim(d), nc.checker.sizes) == -1:
        nc.reporter.error(codes.SHAPE, f"{decl.kind} `{decl.name}` has a negative size {render(nc.net.dim(d))}",
                          dexpr.span, help="sizes are at least 0; check the sign")
        raise Fail("size")
    return d


def _init(nc: NetworkChecker, decl: A.TensorDecl) -> tuple[str, dict[str, float]]:
    """The init call, its arguments as numbers: `normal(std=0.02)` -> ("normal", {...})."""
    expr = decl.init
    if expr is None:
        return "zeros", {}
    if isinstance(expr, A.Ref) and expr.attr is None and expr.name in INITS:
        name, args = expr.name, []
    elif isinstance(expr, A.Call) and expr.name in INITS:
        name, args = expr.name, expr.args
    else:
        nc.reporter.error(codes.ARGUMENT, f"{decl.kind} `{decl.name}` cannot be made by this expression",
                          expr.span, help=INIT_HELP)
        raise Fail("init")
    return name, _init_args(nc, name, args, expr.span)


def _init_args(nc: NetworkChecker, name: str, args: list[A.Arg], span) -> dict[str, float]:
    known = INITS[name]
    given: dict[str, float] = {}
    for i, arg in enumerate(args):
        key = arg.name if arg.name is not None else (list(known)[i] if i < len(known) else None)
        if key not in known or key in given:
            what = f"`{arg.name}`" if arg.name else f"a {i + 1}th argument"
            nc.reporter.error(codes.ARGUMENT, f"{name} takes no {what}", arg.span,
                              help=f"{name} takes: " + (", ".join(known) or "no arguments"))
            raise Fail("init")
        value = nc.number(arg.value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            nc.reporter.error(codes.ARGUMENT, f"{name}({key}=...) must be a number", arg.span,
                              help=f"write a number: {name}({key}=0.02)")
            raise Fail("init")
        given[key] = float(value)
    missing = [k for k, v in known.items() if v is None and k not in given]
    if missing:
        nc.reporter.error(codes.ARGUMENT, f"{name} needs `{missing[0]}`", span, help=f"write {name}({missing[0]}=...)")
        raise Fail("init")
    if given.get("std", 1.0) <= 0:
        nc.reporter.error(codes.VALUE, f"{name}: std must be greater than 0", span, help="a spread is positive")
        raise Fail("init")
    if name in ("uniform", "trunc_normal") and given.get("a", known["a"]) >= given.get("b", known["b"]):
        nc.reporter.error(codes.VALUE, f"{name}: a must be below b", span, help="write the bounds low first")
        raise Fail("init")
    return given
