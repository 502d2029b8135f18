"""Code generation: the typed graph -> a Python module that needs only torch.

Every network of a checked spec becomes one ``nn.Module`` class (networks used as stages
included, defined before the classes that use them). Its ``__init__`` takes the network's
parameters as keyword arguments with the checked values as defaults, and constructs every
layer with its inferred sizes written out: a size that depends on a parameter is written
as an expression of it (``nn.Linear(4096, num_classes)``). Its ``forward`` takes the inputs
in declaration order and is plain torch calls, one statement per stage (or one per binding
built as a single module), each with its inferred shape and the spec line as a comment.

Names keep state_dicts compatible with hand-written models:

* a binding made only of layers, none named with ``as``, becomes one attribute named
  after the binding: the layer itself, or an ``nn.Sequential`` of its stages in order
  (repetitions expanded) when they pass one tensor from each to the next;
* a layer named with ``as`` becomes the attribute of that name (a group named with ``as``
  an ``nn.Sequential``);
* other layers are named ``<binding>_<kind>`` (``logits_linear``), numbered within the
  binding when the kind occurs more than once (``head_linear_0``, ``head_linear_1``);
* a network used as a stage becomes an instance of its class.

A name from the spec that the generated code cannot use as it is (a Python keyword or
builtin, ``self``, ``torch``, ``nn``, an attribute of ``nn.Module``, a name the code makes
itself) is renamed deterministically with a trailing ``_``.

A class is correct for the values of its parameters that the spec was checked with; where
a checked shape or size depends on a parameter's value (``net.fixed``: a stride, a
repetition count, an equality that holds only for the values), the root network's
``__init__`` refuses other values with a ``ValueError`` that says to rebuild with
``--set``. A network used as a stage is built once, generic over its parameters and the
input sizes its layers need (``DownBlock(planes=128, stride=2, inplanes=64)``); the build
proves that the class's code equals, at every use in the file, what the use was checked
with, and refuses the spec with a ``build`` diagnostic where it does not.

Dims are rendered with :func:`netspec.dims.render`, which gives Python integer expressions;
a long size a constructor needs is written over sizes ``__init__`` names first, one
assignment per floor division (netspec.sizenames: ``rows1 = (rows + s - 1) // s``).
The output is deterministic, fits ruff's formatting (lines of at most 88 characters where
the names allow, splits with magic trailing commas), and passes ``ruff check``. Nothing in
this module imports torch.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

from netspec import codes, pycode
from netspec.diagnostics import Diagnostic
from netspec.dims import Dim, Expr, compare, is_dim, render, substitute, sym, symbols
from netspec.fsutil import MARKER
from netspec.graph import (
    BROADCASTS,
    DIVIDES,
    EQUAL,
    EQUAL_OR_ONE,
    LESS_EQUAL,
    CheckResult,
    Node,
    TypedNetwork,
    Value,
    fact_holds,
)
from netspec.kinds import Construct
from netspec.pycode import Names, Planned, attribute, module_level, plan_modules, tree_paths
from netspec.sizenames import SizeNames
from netspec.types import show_shape

WIDTH = 88
IND = "    "

# -- code values ------------------------------------------------------------------------------

@dataclass(frozen=True)
class ParamRef:
    """A non-integer parameter given as an argument: the code names the parameter."""

    name: str


@dataclass(frozen=True)
class Raw:
    """Python source text, already rendered."""

    text: str


@dataclass
class Call:
    """``func(args..., key=value...)``, split one argument a line when it is too long."""

    func: str
    args: list = field(default_factory=list)
    kwargs: list = field(default_factory=list)  # [(name, value)]
    explode: bool = False  # always one argument a line (nn.Sequential)
    comments: list = field(default_factory=list)  # a comment for each argument when exploded


def pystr(s: str) -> str:
    """A double-quoted Python string literal, as ruff formats it."""
    r = repr(s)
    if r.startswith("'"):
        body = r[1:-1].replace("\\'", "'")
        if '"' in body:
            return r  # ruff keeps single quotes around a string with double quotes
        return '"' + body + '"'
    return r


def member(obj: str, name: str) -> str:
    """The expression for submodule ``name`` of ``obj``: ``obj.name``, or ``getattr(obj, "block1-0")``
    for a quoted `as` name (a string literal of a name the checker validated)."""
    return f"{obj}.{name}" if pycode.plain(name) else f"getattr({obj}, {pystr(name)})"


def _reach(tree: tuple, expr: str) -> dict[int, str]:
    """Each node of an nn.Sequential's children (by id) -> the expression that reaches it from
    ``expr``: ``[k]`` for a child numbered by its place, else its name."""
    out: dict[int, str] = {}
    for k, (name, child) in enumerate(tree):
        sub = f"{expr}[{k}]" if name == str(k) else member(expr, name)
        if isinstance(child, tuple):
            out.update(_reach(child, sub))
        else:
            out[id(child)] = sub
    return out


def _operand(text: str) -> str:
    """A rendered dim as an operand of ``%``: parenthesised unless a name or a number."""
    return text if text.isidentifier() or text.isdigit() else f"({text})"


def literal(v) -> str:
    """A Python literal for a parameter value or argument (no dims)."""
    if v is None or isinstance(v, bool):
        return repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if v != v:
            return 'float("nan")'
        if v in (float("inf"), float("-inf")):
            return 'float("inf")' if v > 0 else '-float("inf")'
        return repr(float(v))  # the value, not a literal's spelling (ast.SpelledFloat)
    if isinstance(v, str):
        return pystr(v)
    if isinstance(v, tuple):
        inner = ", ".join(literal(x) for x in v)
        return f"({inner},)" if len(v) == 1 else f"({inner})"
    raise TypeError(f"no literal for {type(v).__name__}")


def free_names(v) -> set[str]:
    """The spec names (symbols, parameters) a code value refers to."""
    if isinstance(v, Expr):
        return symbols(v)
    if isinstance(v, ParamRef):
        return {v.name}
    if isinstance(v, tuple):
        out: set[str] = set()
        for x in v:
            out |= free_names(x)
        return out
    if isinstance(v, Call):
        out = set()
        for x in v.args:
            out |= free_names(x)
        for _, x in v.kwargs:
            out |= free_names(x)
        return out
    return set()


class Scope:
    """How spec names read in one method: parameters and symbols -> Python expressions."""

    def __init__(self, names: dict[str, str]):
        self.names = names

    def dim(self, d: Dim) -> str:
        if isinstance(d, int):
            return str(d)
        env = {s: sym(self.names[s]) for s in symbols(d) if self.names.get(s, s) != s}
        return render(substitute(d, env) if env else d)

    def value(self, v) -> str:
        if isinstance(v, tuple) and hasattr(v, "render_code"):  # a value that writes itself (a subscript)
            return v.render_code(self.value)
        if isinstance(v, bool) or v is None:
            return literal(v)
        if isinstance(v, (int, Expr)):
            return self.dim(v)
        if isinstance(v, ParamRef):
            return self.names[v.name]
        if isinstance(v, Raw):
            return v.text
        if isinstance(v, tuple):
            inner = ", ".join(self.value(x) for x in v)
            return f"({inner},)" if len(v) == 1 else f"({inner})"
        if isinstance(v, Call):
            return flat(v, self)
        return literal(v)


def flat(c: Call, scope: Scope) -> str:
    parts = [scope.value(a) for a in c.args] + [f"{k}={scope.value(v)}" for k, v in c.kwargs]
    return f"{c.func}({', '.join(parts)})"


def _items(c: Call) -> list[tuple[str, Any]]:
    """(prefix, value) per argument: the keyword's ``name=`` or nothing."""
    return [("", a) for a in c.args] + [(f"{k}=", v) for k, v in c.kwargs]


def lay_out(prefix: str, value, suffix: str, indent: str, scope: Scope, comment: str | None = None) -> list[str]:
    """Lines for ``prefix + value + suffix`` at ``indent``: one line when it fits (the
    comment after it, or above it when the line would be too long), else the call split
    one argument a line with a trailing comma, recursively."""
    if isinstance(value, Call):
        one = indent + prefix + flat(value, scope) + suffix
        if not value.explode and len(one) <= WIDTH:
            return _with_comment(one, comment, indent)
        lines = _with_comment(indent + prefix + value.func + "(", comment, indent)
        inner = indent + IND
        comments = value.comments or [None] * (len(value.args) + len(value.kwargs))
        for (key, v), note in zip(_items(value), comments):
            lines.extend(lay_out(key, v, ",", inner, scope, note))
        lines.append(indent + ")" + suffix)
        return lines
    text = value.text if isinstance(value, Raw) else scope.value(value)
    if isinstance(value, Expr) and not prefix and not comment and len(indent + text + suffix) > WIDTH:
        return split_sum(text, indent, suffix) or [indent + text + suffix]
    if isinstance(value, Raw) and len(indent + prefix + text + suffix) > WIDTH:
        lines = _split_last_call(indent + prefix, text, suffix, indent)
        if lines:
            return _with_comment(lines[0], comment, indent) + lines[1:]
    return _with_comment(indent + prefix + text + suffix, comment, indent)


def _split_last_call(head: str, text: str, suffix: str, indent: str) -> list[str] | None:
    """ruff's layout of a line too long that ends in a call whose arguments fit on a line of
    their own: ``a, b = x.chunk(`` / ``4, dim=2`` / ``)``; None otherwise."""
    if not text.endswith(")"):
        return None
    depth = 0
    for i in range(len(text) - 1, -1, -1):
        depth += {")": 1, "(": -1}.get(text[i], 0)
        if depth == 0:
            break
    args = text[i + 1:-1]
    if not i or not args or len(indent + IND + args) > WIDTH or len(head + text[:i + 1]) > WIDTH:
        return None
    return [head + text[:i + 1], indent + IND + args, indent + ")" + suffix]


def _top_level(text: str, ops: tuple[str, ...]) -> list[tuple[str, str]]:
    """``text`` cut at the operators ``ops`` outside parentheses: (operator, operand) pairs,
    the first with no operator."""
    pieces, depth, start, op, i = [], 0, 0, "", 0
    while i < len(text):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        hit = next((o for o in ops if depth == 0 and text.startswith(f" {o} ", i)), None)
        if hit:
            pieces.append((op, text[start:i]))
            op, start = hit, i + len(hit) + 2
            i = start
            continue
        i += 1
    return pieces + [(op, text[start:])]


def split_sum(text: str, indent: str, suffix: str = "") -> list[str] | None:
    """ruff's layout of an integer expression too long for one line, as an argument of its
    own: a line per term of its sum (operator first), a term too long a line per factor, a
    parenthesized factor too long opened over lines of its own; None where a name or a number
    alone does not fit."""
    if len(indent + text + suffix) <= WIDTH:
        return [indent + text + suffix]
    terms = _top_level(text, ("+", "-"))
    lines: list[str] = []
    for op, term in terms:
        lead = f"{op} " if op else ""
        got = [indent + lead + term] if len(terms) > 1 and len(indent + lead + term) <= WIDTH else \
            _split_product(term, indent, lead)
        if got is None:
            return None
        lines += got
    lines[-1] += suffix
    return None if any(len(line) > WIDTH for line in lines) else lines


def _wrapped(text: str) -> bool:
    """Whether ``text`` is one parenthesized expression."""
    depth = 0
    for i, ch in enumerate(text):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth == 0:
            return i == len(text) - 1 and ch == ")"
    return False


def _split_product(term: str, indent: str, lead: str) -> list[str] | None:
    lines: list[str] = []
    for by, factor in _top_level(term, ("*", "//", "%")):
        first = indent + (f"{by} " if by else lead)
        if len(first + factor) <= WIDTH:
            lines.append(first + factor)
            continue
        if not _wrapped(factor):
            return None
        inner = split_sum(factor[1:-1], indent + IND)
        if inner is None:
            return None
        lines += [first + "(", *inner, indent + ")"]
    return lines


def _with_comment(line: str, comment: str | None, indent: str) -> list[str]:
    if not comment:
        return [line]
    if len(line) + 2 + len(comment) + 2 <= WIDTH:
        return [f"{line}  # {comment}"]
    return [f"{indent}# {comment}", line]


# -- what the build records about each class -------------------------------------------------

@dataclass
class Site:
    """Where a node's results can be seen in a built module: a submodule (its forward
    hook gives every result), or a forward line after which local variables hold them."""

    module: str | None = None  # dotted path below the class's instance
    line: int = 0  # first and last line of the statement in the generated source, 1-based
    end: int = 0
    names: tuple[str, ...] = ()  # local variables, one per result


@dataclass
class ClassInfo:
    network: str  # the spec's name
    class_name: str
    params: dict[str, str]  # spec parameter -> keyword argument
    symbols: dict[str, str]  # input symbol the constructor needs -> keyword argument
    defaults: dict[str, Any]  # spec parameter -> default value (absent: required)
    checked: dict[str, Any]  # parameters the class accepts only with these values
    sites: list[Site]  # one per node of the network
    pinned: dict[str, int] = field(default_factory=dict)  # checked parameter -> the spec line that needs its value


@dataclass
class Generated:
    code: str
    classes: dict[str, ClassInfo]  # by the spec's network name
    diagnostics: list[Diagnostic]

    @property
    def ok(self) -> bool:
        return not any(d.severity == "error" for d in self.diagnostics)


class BuildError(Exception):
    def __init__(self, diagnostics: list[Diagnostic]):
        super().__init__("; ".join(d.message for d in diagnostics))
        self.diagnostics = diagnostics


# -- the generator ----------------------------------------------------------------------------

def source_name(path: str) -> str:
    """The spec's file name for the header comment, printable and on one line."""
    name = os.path.basename(path) or path
    if not name.isprintable() or not name.isascii():
        name = ascii(name)[1:-1]
    return name


def doc_text(text: str) -> str:
    """``text`` for the inside of a triple-quoted docstring: a quote or a backslash from a
    file name is escaped, so the string ends where the generator ends it."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def generate(result: CheckResult, file: str) -> Generated:
    """The Python module for a checked spec. ``file`` names the spec in the header."""
    if not result.ok:
        raise ValueError("generate needs a spec that checks")
    nets = [n for n in result.networks]
    by_name = {n.name: n for n in nets}
    order = _dependency_order(nets, by_name)
    support = {n.kind.torch_name for net in nets for n in net.nodes
               if n.kind is not None and n.kind.is_module and n.kind.support_code}
    class_names = Names(lambda name: module_level(name) or name in support)
    cls_of = {n.name: class_names.add(n.name) for n in nets}
    diagnostics: list[Diagnostic] = []
    infos: dict[str, ClassInfo] = {}
    bodies: list[list[str]] = []
    extra_fixed: dict[str, dict[str, Any]] = {n.name: {} for n in nets}
    uses: dict[str, list[Diagnostic]] = {n.name: [] for n in nets}
    # the classes of networks used as stages must serve every use: proven with the input
    # sizes each class's constructor takes (its classes come first, in dependency order)
    for net in order:
        _check_uses(net, by_name, uses[net.name], extra_fixed[net.name],
                    {name: set(info.symbols) for name, info in infos.items()})
        gen = ClassGen(net, cls_of, infos, extra_fixed[net.name], set(cls_of.values()), diagnostics)
        bodies.append(gen.lines())
        infos[net.name] = gen.info
    refused = [d for net in nets for d in uses[net.name]]
    if refused:
        return Generated("", {}, refused)
    header = [f"# {MARKER} from {source_name(file)} -- do not edit.",
              "import torch",
              "from torch import nn"]
    if any("OrderedDict(" in line for body in bodies for line in body):
        header[1:1] = ["from collections import OrderedDict", ""]
    lines = list(header)
    for support in _support_code(nets):
        lines.extend(["", ""] + support.rstrip("\n").split("\n"))
    for net, body in zip(order, bodies):
        lines.extend(["", ""])
        start = len(lines)
        lines.extend(body)
        info = infos[net.name]
        for s in info.sites:
            if s.line:
                s.line += start
                s.end += start
    code = "\n".join(lines) + "\n"
    return Generated(code, {n.name: infos[n.name] for n in nets}, diagnostics)


def _support_code(nets: list[TypedNetwork]) -> list[str]:
    """The classes of layers torch.nn lacks that the networks use, each once, by name."""
    kinds = {n.kind.module_class if n.kind.is_module else n.kind.name: n.kind for net in nets for n in net.nodes
             if n.kind is not None and getattr(n.kind, "support_code", None)}
    return [kinds[name].support_code for name in sorted(kinds)]


def _dependency_order(nets: list[TypedNetwork], by_name: dict) -> list[TypedNetwork]:
    order: list[TypedNetwork] = []
    seen: set[str] = set()

    def visit(net: TypedNetwork):
        if net.name in seen:
            return
        seen.add(net.name)
        for n in net.nodes:
            if n.block is not None and n.block.name in by_name:
                visit(by_name[n.block.name])
        order.append(net)

    for net in nets:
        visit(net)
    return order


# -- layers as code values ---------------------------------------------------------------------

def layer_args(node: Node, net: TypedNetwork, named: bool = True):
    """The node's validated arguments with non-integer parameters named (ParamRef)."""
    a = node.args
    if not named:
        return a
    update = {}
    for fname, use in node.arg_params.items():
        if fname in type(a).model_fields and not isinstance(net.params.get(use.name), Expr):
            update[fname] = ParamRef(use.name)
    return a.model_copy(update=update) if update else a


def constructor(node: Node, net: TypedNetwork, infos: dict[str, ClassInfo], cls_of: dict[str, str]) -> Call:
    """The constructor call of a layer or network node, as a code value."""
    if node.block is not None:
        info = infos[node.block.name]
        kwargs = []
        for p, kw in info.params.items():
            use = node.arg_params.get(p)
            if use is not None and not isinstance(net.params.get(use.name), Expr):
                kwargs.append((kw, ParamRef(use.name)))
            else:
                kwargs.append((kw, node.block_args[p]))
        for s, kw in info.symbols.items():
            kwargs.append((kw, node.block_symbols[s]))
        return Call(cls_of[node.block.name], [], kwargs)
    kind = node.kind
    pos, kw = kind.constructor_args(layer_args(node, net))
    if kind.dtype_kwarg and node.inputs and node.inputs[0].tensor.dtype != "float32":
        pos, kw = kind.with_dtype(pos, kw, Raw(f"torch.{node.inputs[0].tensor.dtype}"))
    kwargs = [(k, _code_value(v)) for k, v in kw.items()]
    return Call(kind.module_class, [_code_value(v) for v in pos], kwargs)


def _code_value(v):
    """A kind's constructor value as a code value: a Construct becomes a Call."""
    if isinstance(v, Construct):
        return Call(v.func, [_code_value(a) for a in v.args], [(k, _code_value(x)) for k, x in v.kwargs])
    if isinstance(v, tuple):
        return tuple(_code_value(x) for x in v)
    return v


def fingerprint(node: Node, net: TypedNetwork, named: bool, needs: dict[str, set] | None = None) -> tuple:
    """What the generated code of a node depends on, for comparing a network's class with a
    use of it: its kind, its constructor's values, the op's arguments, the state given.
    ``named``: non-integer parameters as the class names them (ParamRef), else values.
    ``needs``: the input sizes each network's class takes; a network's other sizes are read
    from its input when it runs, so they need not agree."""
    if node.block is not None:
        args = []
        for k, v in sorted(node.block_args.items()):
            use = node.arg_params.get(k)
            if named and use is not None and not isinstance(net.params.get(use.name), Expr):
                v = ParamRef(use.name)
            args.append((k, v))
        needed = (needs or {}).get(node.block.name)
        syms = tuple(sorted((k, v) for k, v in node.block_symbols.items() if needed is None or k in needed))
        return ("block", node.block.name, tuple(args), syms)
    return node.kind.fingerprint(layer_args(node, net, named), [v.tensor for v in node.inputs],
                                 tuple(node.state))


# -- proving that a network's class serves every use -------------------------------------------

def _check_uses(net: TypedNetwork, by_name: dict, diagnostics: list, fixed: dict, needs: dict[str, set]) -> None:
    for node in net.nodes:
        if node.block is None or node.block.name not in by_name:
            continue
        generic = by_name[node.block.name]
        if generic is node.block:
            continue
        problem = _compare_block(generic, node, net, fixed, needs)
        if problem:
            notes = [f"`{generic.name}` is defined at line {generic.span.line}"]
            if generic.fixed:
                given = ", ".join(f"{k}={literal(v)}" for k, v in generic.fixed.items())
                notes.append(f"its class is built for {given}, the values its sizes were checked with")
            diagnostics.append(Diagnostic(
                "error", codes.BUILD,
                f"`{generic.name}` is built as one class, and this use needs other code: {problem}",
                node.span, notes,
                help=f"give `{generic.name}` the arguments of its other uses, or define a network "
                     "of its own for this use"))


def _compare_block(generic: TypedNetwork, use: Node, caller: TypedNetwork, fixed: dict,
                   needs: dict[str, set]) -> str | None:
    """Why the class of ``generic`` would not compute what ``use`` was checked with, or None.
    Equalities that hold only for the caller's parameter values go into ``fixed``."""
    inst = use.block
    if len(generic.nodes) != len(inst.nodes):
        return (f"it has {len(inst.nodes)} layers and ops here and {len(generic.nodes)} in the class "
                "(a repetition count that depends on a parameter)")
    env: dict[str, Any] = dict(use.block_args)
    for s, v in use.block_symbols.items():
        env.setdefault(s, v)
    at_use = _AtUse(env, caller, fixed, use.span.line)
    unmet = _unmet_requirement(generic, at_use)
    if unmet:
        return unmet
    for g, i in zip(generic.nodes, inst.nodes):
        fg = at_use.evaluate(fingerprint(g, generic, True, needs))
        fi = fingerprint(i, inst, False, needs)
        if fg[:2] != fi[:2]:
            return f"line {g.span.line} has {fi[1]} here and {fg[1]} in the class"
        if not at_use.same(fg, fi):
            return (f"{g.kind_name} at line {g.span.line} gets other arguments here "
                    "(a size or value the class computes from a parameter's default)")
    return None


def _unmet_requirement(generic: TypedNetwork, at_use: "_AtUse") -> str | None:
    """A fact the class tests in its constructor (TypedNetwork.requires) that this use's
    values do not meet (the use checked by another rule: ConvTranspose's output_padding below
    the dilation where the class tests it against the stride)."""
    for size, by, how, what, line in generic.requires:
        a, b = at_use.evaluate(size), at_use.evaluate(by)
        if isinstance(a, int) and isinstance(b, int) and not fact_holds(a, b, how):
            _, fact = _fact_test(render(size), render(by), how)
            return f"its class tests {fact} for {what} at line {line}, which this use's values do not meet"
    return None


class _AtUse:
    """A class's code values evaluated at one use, compared with what the use was checked with."""

    def __init__(self, env: dict[str, Any], caller: TypedNetwork, fixed: dict, line: int):
        self.line = line  # the use's line: a parameter fixed here is pinned there
        self.env = env
        self.dims = {k: v for k, v in env.items() if is_dim(v)}
        self.caller = caller
        self.fixed = fixed

    def evaluate(self, v):
        if isinstance(v, Expr):
            return substitute(v, self.dims)
        if isinstance(v, ParamRef):
            return self.env.get(v.name, v)
        if isinstance(v, tuple):
            return tuple(self.evaluate(x) for x in v)
        return v

    def same(self, g, i) -> bool:
        if isinstance(g, tuple) and isinstance(i, tuple):
            return len(g) == len(i) and all(self.same(x, y) for x, y in zip(g, i))
        if not (is_dim(g) and is_dim(i)):
            return type(g) is type(i) and g == i
        if compare(g, i) is True:
            return True
        if compare(self.caller.dim(g), self.caller.dim(i)) is True:
            for s in symbols(g) | symbols(i):
                if s in self.caller.param_env:
                    self.fixed[s] = (self.caller.param_env[s], self.line)
            return True
        return False


# -- one class ---------------------------------------------------------------------------------

def _is_int_param(net: TypedNetwork, p: str) -> bool:
    return isinstance(net.params.get(p), Expr)


def _param_default(net: TypedNetwork, p: str):
    """(has default, value): the value the network was checked with."""
    if p in net.param_env:
        return True, net.param_env[p]
    v = net.params.get(p)
    if isinstance(v, Expr):
        return False, None
    return True, v


def _sets_a_shape(net: TypedNetwork, p: str) -> bool:
    """Whether parameter ``p`` is given to an argument whose float value changes a shape
    (``Kind.shape_args``: Upsample's scale_factor)."""
    return any(ref.name == p and name in n.kind.shape_args
               for n in net.nodes if n.kind is not None for name, ref in n.arg_params.items())


def _annotation(net: TypedNetwork, p: str) -> str:
    has, v = _param_default(net, p)
    if not has or isinstance(v, int) and not isinstance(v, bool):
        return "int"
    return next((name for t, name in ((bool, "bool"), (float, "float"), (str, "str"), (tuple, "tuple"))
                 if isinstance(v, t)), "int")


class ClassGen:
    def __init__(self, net: TypedNetwork, cls_of: dict[str, str], infos: dict[str, ClassInfo],
                 extra_fixed: dict[str, Any], class_names: set[str], diagnostics: list[Diagnostic] | None = None):
        self.net = net
        self.diagnostics = diagnostics if diagnostics is not None else []  # warnings about names
        self.cls_of = cls_of
        self.infos = infos
        self.class_names = class_names
        self.index = {id(n): i for i, n in enumerate(net.nodes)}
        self.param_names = net.param_names
        # which parameters the class must refuse other values of
        self.checked = self._checked(extra_fixed)
        self.sites: list[Site] = [Site() for _ in net.nodes]
        self.units = self._units()  # (attr, plan)
        self.info = ClassInfo(net.name, cls_of[net.name], {}, {}, {}, {p: v for p, (v, _) in self.checked.items()},
                              self.sites, {p: line for p, (_, line) in self.checked.items()})

    # -- which parameter values the class depends on ----------------------------------------
    def _checked(self, extra_fixed: dict) -> dict[str, tuple[Any, int]]:
        """The parameters the class accepts only with the values it was checked with:
        parameter -> (value, the spec line that needs that value)."""
        net = self.net
        if net.generic:
            return {}  # proven at every use instead (_check_uses)
        fixed = {p: (v, net.pins[p].line if p in net.pins else net.span.line) for p, v in net.fixed.items()}
        fixed.update(extra_fixed)
        named = {use.span for n in net.nodes for use in n.arg_params.values()}
        out = {}
        for p in self.param_names:
            if _is_int_param(net, p):
                if p in fixed:
                    out[p] = fixed[p]
                continue
            spans = net.param_refs.get(p, set())
            if not spans:
                continue
            has, v = _param_default(net, p)
            if isinstance(v, float) and spans <= named and not _sets_a_shape(net, p):
                continue  # a rate or an epsilon: no shape depends on it, every use names it
            out[p] = (v, min(s.line for s in spans))
        return out

    # -- attribute names -----------------------------------------------------------------------
    def _units(self) -> list[tuple[str, Planned]]:
        """(attribute, plan) per submodule of the class; each node's module path and the
        expression forward calls it by."""
        planned = plan_modules(self.net)
        # spec names first, so that a generated name never takes one
        self.attrs = attrs = Names(attribute, exact=True)
        self.tensor_attrs = {d.name: attrs.add(d.name) for d in self.net.tensors}
        order = sorted(range(len(planned)), key=lambda i: (not planned[i].from_spec, i))
        names = {i: attrs.add(planned[i].name) for i in order}
        self.callee: dict[int, str] = {}  # id(node) -> the module expression forward calls
        units = []
        for i, unit in enumerate(planned):
            if unit.from_spec and names[i] != unit.name:
                self._renamed(unit.name, names[i], unit.nodes[0])
            elif not unit.from_spec and self.net.dim(unit.nodes[0].params) != 0:
                self._unnamed(names[i], unit.nodes[0])
            unit = unit._replace(tree=self._rename_tree(unit.tree, names[i]))
            units.append((names[i], unit))
            paths, reach = tree_paths(unit.tree), _reach(unit.tree, member("self", names[i]))
            for n in unit.nodes:
                path = paths.get(id(n), ())
                self.sites[self.index[id(n)]] = Site(module=".".join((names[i], *path)))
                self.callee[id(n)] = reach.get(id(n), member("self", names[i]))
        return units

    def _rename_tree(self, tree: tuple, where: str) -> tuple:
        """The children's names, each usable as a submodule's name (a name of nn.Module's
        own gets a trailing `_`, and a warning; a quoted name is kept as it is)."""
        names = Names(attribute, exact=True)
        out = []
        for name, child in tree:
            new = name if name.isdigit() else names.add(name)
            if new != name:
                self._renamed(f"{where}.{name}", f"{where}.{new}", child if isinstance(child, Node) else None)
            out.append((new, self._rename_tree(child, f"{where}.{new}") if isinstance(child, tuple) else child))
        return tuple(out)

    def _renamed(self, written: str, built: str, node: Node | None) -> None:
        self.diagnostics.append(Diagnostic(
            "warning", codes.RENAMED, f"`{written}` is built as `{built}`: the name is taken in the "
            "generated module", node.span if node is not None else self.net.span,
            [f"its state_dict keys begin `{built}.`"], help=f"rename `{written.split('.')[-1]}` in the spec"))

    def _renamed_keyword(self, written: str, built: str) -> None:
        """A parameter or an input symbol the constructor takes under another name (`len_`)."""
        where = self.net.input_symbols.get(written)  # (input, dim); None for a parameter
        t = self.net.inputs[where[0]].tensor if where is not None else None
        origin = t.origins[where[1]] if t is not None else None
        span = origin.span if origin is not None else self.net.span
        self.diagnostics.append(Diagnostic(
            "warning", codes.RENAMED, f"`{written}` is built as `{built}`: the name is taken in the "
            "generated module", span, [f"the class's constructor takes it as the keyword `{built}`"],
            help=f"rename `{written}` in the spec"))

    def _unnamed(self, built: str, node: Node) -> None:
        self.diagnostics.append(Diagnostic(
            "warning", codes.RENAMED, f"this {node.kind_name} is built as `{built}`: its binding names "
            "other stages with `as`, and this one has no name", node.span,
            [f"its state_dict keys begin `{built}.`"],
            help=f"name it: `{node.kind_name}(...) as <name>`"))

    # -- the class ------------------------------------------------------------------------------
    def lines(self) -> list[str]:
        ctor_calls = self._constructors()
        fwd = ForwardGen(self)
        fwd_body = fwd.statements()
        init_names, ctor_symbols, stored = self._names(ctor_calls, fwd.free)
        fwd_names = fwd.finish(stored)  # forward's names: inputs, symbols read from inputs
        init_scope = Scope(init_names)
        net = self.net
        doc = f"{net.name}: {source_name(net.span.file)}, line {net.span.line}."
        out = [f"class {self.cls_of[net.name]}(nn.Module):", f'{IND}"""{doc_text(doc)}"""', ""]
        out += self._init_lines(init_names, ctor_symbols, stored, ctor_calls, init_scope)
        out.append("")
        inputs = [Raw("self")] + [Raw(f"{fwd_names[v.name]}: torch.Tensor") for v in net.inputs]
        ret = "torch.Tensor" if len(net.outputs) == 1 else "tuple[torch.Tensor, ...]"
        out.extend(lay_out("def ", Call("forward", inputs), f" -> {ret}:", IND, init_scope))
        base = len(out)
        out.extend(fwd.render(fwd_body))
        for site in self.sites:
            if site.line:
                site.line += base
                site.end += base
        return out

    def _constructors(self) -> list[tuple[str, Call, str | None]]:
        """(attribute, constructor call, comment) per declared tensor and submodule, in order;
        a buffer's attribute is None (its call registers it)."""
        out = [tensor_constructor(d, self.tensor_attrs[d.name]) for d in self.net.tensors]
        for attr, unit in self.units:
            if unit.seq:
                out.append((attr, self._sequential(unit.tree), None))
            else:
                node = unit.nodes[0]
                line = self.net.shared_lines.get(node.shared, node.span.line)
                out.append((attr, constructor(node, self.net, self.infos, self.cls_of), f"line {line}"))
        return out

    def _sequential(self, tree: tuple) -> Call:
        """An nn.Sequential of the children: positional when they are numbered 0, 1, ...,
        else from an OrderedDict of their names, as torchvision writes its models."""
        calls, notes = [], []
        for _, child in tree:
            if isinstance(child, tuple):
                calls.append(self._sequential(child))
                notes.append(None)
            else:
                calls.append(constructor(child, self.net, self.infos, self.cls_of))
                notes.append(f"line {child.span.line}")
        names = [name for name, _ in tree]
        if names == [str(k) for k in range(len(names))]:
            return Call("nn.Sequential", calls, [], explode=True, comments=notes)
        if all(pycode.plain(name) for name in names):
            return Call("nn.Sequential", [Call("OrderedDict", [], list(zip(names, calls)), explode=True,
                                               comments=notes)])
        pairs = [Call("", [Raw(pystr(name)), c]) for name, c in zip(names, calls)]
        return Call("nn.Sequential", [Call("OrderedDict", [Call("", pairs, explode=True, comments=notes)])])

    def _names(self, ctor_calls, fwd_free: set[str]) -> tuple[dict[str, str], list[str], dict[str, str]]:
        """__init__'s keyword names (parameters, then the input sizes its layers need), the
        input symbols it takes, and the values forward reads from self (name -> attribute)."""
        net, params = self.net, set(self.param_names)
        init_free: set[str] = set()
        for _, call, _ in ctor_calls:
            init_free |= free_names(call)
        ctor_symbols = sorted((s for s in init_free - params), key=self._symbol_order)
        fwd_symbols = sorted(fwd_free - params, key=self._symbol_order)
        stored_symbols = [s for s in fwd_symbols if net.input_symbols.get(s, (0, -1))[1] < 0]
        ctor_symbols += [s for s in stored_symbols if s not in ctor_symbols]
        self.local = local = Names(lambda n: pycode.local(n) or n in self.class_names)
        init_names = {name: local.add(name) for name in [*self.param_names, *ctor_symbols]}
        for name, built in init_names.items():
            if built != name:
                self._renamed_keyword(name, built)
        self.info.params = {p: init_names[p] for p in self.param_names}
        self.info.symbols = {s: init_names[s] for s in ctor_symbols}
        for p in self.param_names:
            has, v = _param_default(net, p)
            if has:
                self.info.defaults[p] = v
        stored = {name: self.attrs.add(name)
                  for name in sorted(fwd_free & params, key=self.param_names.index) + stored_symbols}
        return init_names, ctor_symbols, stored

    def _init_lines(self, init_names: dict[str, str], ctor_symbols: list[str], stored: dict[str, str],
                    ctor_calls, scope: Scope) -> list[str]:
        net, body = self.net, IND * 2
        sig = [Raw("self"), Raw("*")]
        for p in self.param_names:
            has, v = _param_default(net, p)
            sig.append(Raw(f"{init_names[p]}: {_annotation(net, p)}" + (f" = {literal(v)}" if has else "")))
        sig += [Raw(f"{init_names[s]}: int") for s in ctor_symbols]
        out = lay_out("def ", Call("__init__", sig if len(sig) > 2 else [Raw("self")]), " -> None:", IND, scope)
        out.append(f"{body}super().__init__()")
        for p, (value, line) in self.checked.items():
            kw = init_names[p]
            test = f"{kw} is not {literal(value)}" if isinstance(value, bool) else f"{kw} != {literal(value)}"
            out.append(f"{body}if {test}:")
            msg = (f"{self.cls_of[net.name]} needs {kw}={literal(value)}: line {line} of "
                   f"{source_name(net.span.file)} holds only for that value; rebuild with --set {p}=...")
            out.extend(lay_out("raise ", Call("ValueError", [Raw(pystr(msg))]), "", body + IND, scope))
        sizes = SizeNames(lambda n: self.local.usable(n) and n not in init_names, self.local.add, ctor_symbols)
        out += self._required_lines(init_names, scope, sizes)
        out += self._assumed_lines(init_names, scope)
        out += [f"{body}self.{attr} = {init_names[name]}" for name, attr in stored.items()]
        ctor_calls = [(attr, _shorten(call, sizes), comment) for attr, call, comment in ctor_calls]
        out += [f"{body}{name} = {scope.dim(d)}" for name, d in sizes.fresh()]  # long sizes, named
        for attr, call, comment in ctor_calls:
            if attr and not pycode.plain(attr):  # a quoted `as` name: torch's, no attribute spells it
                call = Call("self.add_module", [Raw(pystr(attr)), call])
            out.extend(lay_out(f"self.{attr} = " if attr and pycode.plain(attr) else "", call, "", body, scope,
                               comment))
        return out

    def _required_lines(self, init_names: dict[str, str], scope: Scope, sizes: SizeNames) -> list[str]:
        """A test per fact a stage needs that the check found true with the parameters'
        values only, or that a network with free parameters assumed of them
        (TypedNetwork.requires): the class refuses the values ``check --set`` refuses, or
        those where the stated shapes would not hold, naming the parameters and the fact."""
        out, body, net, tested = [], IND * 2, self.net, set()
        for size, by, how, what, line in net.requires:
            names = sorted(free_names(size) | free_names(by))
            if not set(names) <= set(init_names):
                continue  # not over the parameters alone: they are fixed instead (checker.require)
            if set(names) <= set(self.checked):
                continue  # the class takes these parameters at their checked values only
            if how is LESS_EQUAL:
                size, by = _constant_left(size, by)
            _, fact = _fact_test(scope.dim(size), scope.dim(by), how)  # the message spells a long size out
            size, by = sizes.shorten(size), sizes.shorten(by)  # the test: over named sizes
            a, b = scope.dim(size), scope.dim(by)
            test, _ = _fact_test(a, b, how, nonzero=f"{b} < 1" in tested)  # a test above keeps b from 0
            if test in tested:
                continue  # the same fact from another stage: one test
            tested.add(test)
            out += [f"{body}{name} = {scope.dim(d)}" for name, d in sizes.fresh()]
            out.append(f"{body}if {test}:")
            said = f"{self.cls_of[net.name]}: {what} (line {line} of {source_name(net.span.file)}) needs {fact}"
            received = ", ".join(f"{init_names[n]}={{{init_names[n]}}}" for n in names)
            msg = said.replace("{", "{{").replace("}", "}}") + "; received " + received  # an f-string
            out.extend(lay_out("raise ", Call("ValueError", [Raw("f" + pystr(msg))]), "", body + IND, scope))
        return out

    def _assumed_lines(self, init_names: dict[str, str], scope: Scope) -> list[str]:
        """A test per divisibility the check assumed (TypedNetwork.assumed): the class refuses
        the sizes where it fails, naming the line, before torch's constructor would."""
        out, body, net = [], IND * 2, self.net
        for size, by, what, line in net.assumed:
            if not free_names(size) | free_names(by) <= set(init_names):
                continue  # a size forward reads from its input: the layer's own constructor says it
            a, b = scope.dim(size), scope.dim(by)
            out.append(f"{body}if {_not_zero(b)}{_operand(a)} % {_operand(b)}:")
            said = f"{self.cls_of[net.name]}: {what} (line {line} of {source_name(net.span.file)}); received "
            fields = [x if x.isdigit() else f"{{{x}}}" for x in (a, b)]  # a number is written as it is
            msg = said.replace("{", "{{").replace("}", "}}") + " and ".join(fields)  # an f-string
            out.extend(lay_out("raise ", Call("ValueError", [Raw("f" + pystr(msg))]), "", body + IND, scope))
        return out

    def _symbol_order(self, s: str):
        pos = self.net.input_symbols.get(s)
        return (0, pos, s) if pos is not None else (1, (0, 0), s)


def _shorten(v, sizes: SizeNames):
    """A constructor's value with each long size in it written over named sizes
    (netspec.sizenames), whose assignments ``sizes`` then holds."""
    if isinstance(v, Call):
        return Call(v.func, [_shorten(a, sizes) for a in v.args], [(k, _shorten(x, sizes)) for k, x in v.kwargs],
                    v.explode, v.comments)
    if isinstance(v, Expr):
        return sizes.shorten(v)
    if type(v) is tuple:
        return tuple(_shorten(x, sizes) for x in v)
    return v


def _not_zero(b: str) -> str:
    """The test before ``a % b`` that a divisor of 0 fails (as unmet, not ZeroDivisionError)."""
    return "" if b.isdigit() else f"not {_operand(b)} or "


def _constant_left(size: Dim, by: Dim) -> tuple[Dim, Dim]:
    """``size <= by`` with the constant of ``by`` moved to the left: ``5 <= width`` rather
    than ``1 <= width - 4``, and ``k <= 32`` rather than ``-32 <= -k``."""
    c = by.terms.get((), 0) if isinstance(by, Expr) else 0
    if c:
        size, by = size - c, by - c
    if isinstance(size, int) and isinstance(by, Expr) and all(v < 0 for v in by.terms.values()):
        return -by, -size  # `k <= 32` rather than `-32 <= -k`
    return size, by


def _fact_test(a: str, b: str, how, nonzero: bool = False) -> tuple[str, str]:
    """The test that fails where a required fact (TypedNetwork.requires) does not hold, and
    the fact in words."""
    if how == EQUAL:
        a, b = (b, a) if a.isdigit() else (a, b)  # `n == 4`
        return f"{a} != {b}", f"{a} == {b}"
    if how == EQUAL_OR_ONE:
        return f"{a} not in ({b}, 1)", f"{a} == {b} or {a} == 1"
    if how == BROADCASTS:
        return f"{a} != {b} and 1 not in ({a}, {b})", f"{a} == {b}, {a} == 1 or {b} == 1"
    if how == DIVIDES:
        return f"{'' if nonzero else _not_zero(b)}{_operand(a)} % {_operand(b)}", f"{a} divisible by {b}"
    return f"{b} < {a}", f"{a} <= {b}"


@dataclass
class Stmt:
    target: str  # assignment target, or "" for a return
    value: Any  # Call or Raw
    comment: str | None
    node: int | None = None  # the node whose results the target holds (op nodes)
    names: tuple[str, ...] = ()


class ForwardGen:
    """The forward method: one statement per stage, or per binding built as one module."""

    def __init__(self, cls: ClassGen):
        self.cls = cls
        self.net = cls.net
        self.free: set[str] = set()  # spec names (params, symbols) forward reads
        self.local = Names(lambda n: pycode.local(n) or n in cls.class_names)
        self.names: dict[str, str] = {}
        for v in self.net.inputs:
            self.names[v.name] = self.local.add(v.name)
        self.binding_var: dict[str, str] = {}
        self.target_var: dict[str, str] = {}  # `q, k = ...`: the variables of the names
        for binding in self.net.binding_names:
            if binding in self.net.unpacked:
                self.target_var.update({t: self.local.add(t) for t in self.net.unpacked[binding] if t.strip("_")})
            else:
                self.binding_var[binding] = self.local.add(binding)
        self.symbol_var: dict[str, str] = {}
        for s in sorted(self.net.input_symbols, key=cls._symbol_order):
            self.symbol_var[s] = self.local.add(s)
        self.var: dict[int, str] = {id(v): self.names[v.name] for v in self.net.inputs}
        for d in self.net.tensors:
            self.var[id(d.value)] = f"self.{cls.tensor_attrs[d.name]}"
        self.scope_names: dict[str, str] = {}
        self._pending: list[tuple[str, str]] = []  # (placeholder, spec name) of dims

    # placeholders for dims: rendered once the names forward reads are known
    def code(self, v) -> str:
        names = free_names(v)
        self.free |= names
        key = f"\x00{len(self._pending)}\x00"
        self._pending.append((key, v))
        return key

    def statements(self) -> list[Stmt]:
        net = self.net
        self.uses = net.uses()
        self.unit_of = {id(n): (attr, unit) for attr, unit in self.cls.units for n in unit.nodes}
        by_binding: dict[str, list[Node]] = {}
        for n in net.nodes:
            if n.loop is None:  # a scan's step runs inside the scan's code
                by_binding.setdefault(n.binding, []).append(n)
        stmts: list[Stmt] = []
        for binding in net.binding_names:
            stmts += self._binding_statements(binding, by_binding.get(binding, []))
        outs = [self.var[id(v)] for _, v in net.outputs]
        stmts.append(Stmt("", Raw(", ".join(outs)), None))
        return stmts

    def _binding_statements(self, binding: str, nodes: list[Node]) -> list[Stmt]:
        """One statement per stage of a binding, or one per run of stages built as one
        nn.Sequential; the binding's last result takes the binding's name."""
        stmts = []
        self.temps = 0
        k = 0
        while k < len(nodes):
            n = nodes[k]
            unit = self.unit_of.get(id(n))
            if unit is not None and unit[1].seq and unit[1].whole:  # an nn.Sequential: one call for the run
                attr, run = unit[0], unit[1].nodes
                value = Call(member("self", attr), [Raw(self.var[id(n.inputs[0])])])
                first_line, last_line = run[0].span.line, run[-1].span.line
                where = f"line {first_line}" if first_line == last_line else f"lines {first_line}-{last_line}"
                k += len(run)
                node = run[-1]
            else:
                value = self._node_value(n, unit)
                where = f"line {n.span.line}"
                k += 1
                node = n
            names = self._result_vars(binding, node, nodes[k] if k < len(nodes) else None)
            for v, nm in zip(node.outputs, names):
                self.var[id(v)] = nm
            comment = ", ".join(self._shape(v) for v in node.outputs) + f"  ({where})"
            idx = self.cls.index[id(node)]
            stmts.append(Stmt(self._pattern(node, names), value, comment, None if node.is_module else idx,
                              tuple(names)))
        return stmts

    def _result_vars(self, binding: str, node: Node, nxt: Node | None) -> list[str]:
        """The variables a statement assigns: the binding's own name for its last result (or
        for a result only the next stage reads), a numbered temporary otherwise, and `_`-names
        for results nothing reads."""
        results, uses = node.outputs, self.uses
        targets = self.net.unpacked.get(binding)
        if nxt is None and targets is not None:  # `q, k, v = ...`: the spec's names
            return [self.target_var[t] if uses.get(id(v)) and t in self.target_var
                    else self.local.add(f"_{t.strip('_') or 'unused'}") for t, v in zip(targets, results)]
        if nxt is None:
            if len(results) == 1:
                return [self.binding_var[binding] if uses.get(id(results[0])) else self.local.add("_" + binding)]
            return [self.local.add(f"{binding}_{_slug(r)}") if uses.get(id(v))
                    else self.local.add(f"_{binding}_{_slug(r)}")
                    for r, v in zip(self._result_names(node), results)]
        primary = results[0]
        if uses.get(id(primary)) == 1 and nxt.inputs and nxt.inputs[0] is primary and binding in self.binding_var:
            names = [self.binding_var[binding]]
        else:
            names = [self.local.add(f"{binding}_{self.temps}")]
            self.temps += 1
        return names + [self.local.add(f"_{binding}_{_slug(r)}") for r in self._result_names(node)[1:]]

    def _result_names(self, node: Node) -> list[str]:
        return node.result_names

    def _pattern(self, node: Node, names: list[str]) -> str:
        if node.block is not None:
            return ", ".join(names)
        return node.kind.result_pattern(names)

    def _shape(self, v: Value) -> str:
        t = v.tensor
        return show_shape(t.shape, None if t.dtype == "float32" else t.dtype)

    def _node_value(self, n: Node, unit) -> Any:
        ins = [self.var[id(v)] for v in n.inputs]
        if n.block is not None:
            return Call(self.cls.callee[id(n)], [Raw(x) for x in ins])
        state = {k: self.var[id(v)] for k, v in n.state.items()}
        if not ins and self.net.inputs:  # a tensor made from nothing (arange): on the inputs' device
            state["device"] = f"{self.names[self.net.inputs[0].name]}.device"
        fwd = n.kind.forward(n.args, self.cls.callee[id(n)] if unit else "", ins, state, self.code, n.in_place)
        if fwd.expr is not None:
            return Raw(fwd.expr)
        return Call(fwd.callee, [Raw(x) for x in fwd.args])

    def finish(self, stored: dict[str, str]) -> dict[str, str]:
        """Name what forward reads: parameters and stored symbols from self, the other
        symbols from the inputs' shapes."""
        net = self.net
        reads = []
        for name in sorted(self.free, key=self.cls._symbol_order):
            if name in stored:
                self.scope_names[name] = f"self.{stored[name]}"
            else:
                var = self.symbol_var[name]
                self.scope_names[name] = var
                i, d = net.input_symbols[name]
                reads.append((var, net.inputs[i].name, d))
        self.reads = reads
        return self.names

    def render(self, stmts: list[Stmt]) -> list[str]:
        scope = Scope(self.scope_names)
        values = {key: scope.value(v) for key, v in self._pending}

        def fill(text: str) -> str:
            if "\x00" not in text:
                return text
            return re.sub(r"\x00\d+\x00", lambda m: values[m.group(0)], text)

        body = IND * 2
        out: list[str] = []
        for var, inp, d in self.reads:
            out.append(f"{body}{var} = {self.names[inp]}.shape[{d}]")
        for st in stmts:
            value = _fill_value(st.value, fill)
            if not st.target:
                out.extend(lay_out("return ", value, "", body, scope))
                continue
            first = len(out) + 1
            out.extend(lay_out(f"{st.target} = ", value, "", body, scope, st.comment))
            if st.node is not None:
                self.cls.sites[st.node] = Site(line=first, end=len(out), names=st.names)
        return out


# torch's in-place inits, by the spec's name for them
_INIT_FUNCS = {"normal": "nn.init.normal_", "uniform": "nn.init.uniform_", "trunc_normal": "nn.init.trunc_normal_"}


def tensor_constructor(d, attr: str) -> tuple[str | None, Call, str]:
    """A declared tensor's first value: `nn.Parameter(torch.zeros(1, 1, dim))`, or
    `self.register_buffer("name", torch.zeros(...))` for a buffer."""
    t = d.value.tensor
    shape = list(t.shape) if t is not None else []
    dtype = [] if t is None or t.dtype == "float32" else [("dtype", Raw(f"torch.{t.dtype}"))]
    name, args = d.init
    if not shape:
        shape = [()]  # a 0-dim tensor: torch.zeros(()), as torch.zeros() takes no size
    if name in ("zeros", "ones"):
        made = Call(f"torch.{name}", shape, dtype)
    elif name == "full":
        made = Call("torch.full", [tuple(x for x in shape if x != ()), args["value"]], dtype)
    else:
        made = Call(_INIT_FUNCS[name], [Call("torch.empty", shape, dtype)], list(args.items()))
    comment = f"line {d.span.line}"
    if d.role == "buffer":
        return None, Call("self.register_buffer", [Raw(pystr(attr)), made]), comment
    return attr, Call("nn.Parameter", [made]), comment


def _fill_value(v, fill):
    if isinstance(v, Raw):
        return Raw(fill(v.text))
    if isinstance(v, Call):
        return Call(v.func, [_fill_value(a, fill) for a in v.args],
                    [(k, _fill_value(x, fill)) for k, x in v.kwargs], v.explode, v.comments)
    return v


def _slug(result: str) -> str:
    return re.sub(r"\W", "_", result)
