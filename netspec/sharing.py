"""Shared modules: `shared cell = RNNCell(4, 3)`, one module applied wherever `cell` is a stage.

Every use of a shared module runs the same weights: its parameters are counted once and
the built class makes it once (an attribute named as declared) and calls it at each use.
Each use is checked as a stage of its own; the sizes every use needs of the module must be
the ones its first use gave it, or torch would refuse the call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import ast as A
from . import codes
from .graph import Node, Value
from .kinds import Fail
from .kinds.base import REGISTRY

if TYPE_CHECKING:
    from .checker import NetworkChecker, Results


def declare(nc: NetworkChecker, decl: A.SharedDecl) -> None:
    """Make ``decl``'s name a stage; a name that is already something is refused, and a
    refused declaration's uses fail quietly (its error says why)."""
    if _refused(nc, decl):
        if decl.name not in REGISTRY and decl.name not in nc.checker.asts:
            nc.shared.setdefault(decl.name, None)
        return
    nc.shared[decl.name] = decl


def _refused(nc: NetworkChecker, decl: A.SharedDecl) -> bool:
    from .pycode import check_name
    taken = decl.name in nc.values or decl.name in nc.net.params or decl.name in nc.shared \
        or decl.name in REGISTRY or decl.name in nc.checker.asts
    if decl.layer.name in nc.shared or decl.layer.name == decl.name:
        nc.reporter.error(codes.ARGUMENT, f"`{decl.name}` shares `{decl.layer.name}`, which is not a layer or a "
                          "network", decl.layer.name_span, help="share a layer or a network: `shared cell = RNNCell(3)`")
        return True
    kind = REGISTRY.get(decl.layer.name)
    if kind is not None and not kind.is_module:
        nc.reporter.error(codes.ARGUMENT, f"`{decl.layer.name}` is an op: it has no weights to share",
                          decl.layer.name_span, help="share a layer or a network; apply an op where it is needed")
        return True
    if taken:
        nc.reporter.error(codes.DUPLICATE, f"`{decl.name}` is already defined", decl.name_span,
                          help="give the shared module a name of its own")
        return True
    before = len(nc.reporter.errors)
    check_name(nc.reporter, decl.name, decl.name_span, "a shared module", submodule=True)
    return len(nc.reporter.errors) > before


def apply(nc: NetworkChecker, name: str, span, args: list[A.Arg], piped: Value | None,
          st: A.Stage | None) -> Results:
    """One use of shared module ``name``: its declaration's arguments, then this use's (state
    tensors such as `hx=`), checked as a stage; compared with the first use."""
    decl = nc.shared[name]
    if decl is None:
        raise Fail(name)
    if st is not None and st.alias is not None:
        alias = f'"{st.alias}"' if st.alias_quoted else st.alias
        nc.reporter.error(codes.DUPLICATE, f"`as {alias}` renames shared module `{name}`", st.alias_span,
                          help=f"a shared module is named where it is declared: drop `as {alias}`")
        raise Fail(name)
    before = len(nc.net.nodes)
    layer = decl.layer
    res = nc.call(layer.name, layer.name_span, span, [*layer.args, *args], piped, st)
    node = _made(nc, before)
    if node is None:
        return res
    node.shared, node.alias = name, None
    nc.net.shared_lines[name] = decl.span.line
    first = nc.shared_first.setdefault(name, node)
    if first is not node:
        node.params = 0  # the weights of the first use
        differs = _difference(first, node)
        if differs:
            nc.reporter.error(codes.SHAPE, f"shared `{name}` needs {differs} here, but its first use "
                              f"(line {first.span.line}) made it for another", span,
                              [f"`{name}` is declared at line {decl.span.line}"],
                              help="a shared module has one set of weights: give every use inputs of the "
                                   "same sizes, or declare a second module")
    return res


def _made(nc: NetworkChecker, before: int) -> Node | None:
    """The node a call appended (the last one: argument chains come before it)."""
    return nc.net.nodes[-1] if len(nc.net.nodes) > before else None


def _difference(first: Node, node: Node) -> str | None:
    """What the module would need to be at ``node`` that it is not at ``first``."""
    if first.block is not None or node.block is not None:
        if first.block_args != node.block_args:
            return ", ".join(f"{k}={v}" for k, v in node.block_args.items() if first.block_args.get(k) != v)
        return None
    if first.args is None or node.args is None:
        return None
    a, b = _constructed(first), _constructed(node)
    changed = [f"{k}={b[k]}" for k in b if a.get(k) != b[k]]
    return ", ".join(changed) or None


def _constructed(node: Node) -> dict:
    """What the torch constructor is given at ``node``: its arguments (inferred sizes written
    out), and the dtype of the input it is built for."""
    pos, kw = node.kind.constructor_args(node.args)
    out = {**dict(zip(node.kind.torch_positional, pos)), **kw}
    if node.inputs and node.inputs[0].tensor is not None:
        out["dtype"] = node.inputs[0].tensor.dtype
    return out
