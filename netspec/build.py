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

Dims are rendered with :func:`netspec.dims.render`, which gives Python integer expressions.
The output is deterministic, fits ruff's formatting (lines of at most 88 characters where
the names allow, splits with magic trailing commas), and passes ``ruff check``. Nothing in
this module imports torch.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from netspec import syntax as A
from netspec.diagnostics import Diagnostic
from netspec.dims import Dim, Expr, compare, render, substitute, sym, symbols
from netspec.fsutil import MARKER
from netspec.infer import CheckResult, LayerNode, TypedNetwork, Value
from netspec.kinds import Construct
from netspec.types import show_shape

WIDTH = 88
IND = "    "

# -- reserved names ---------------------------------------------------------------------------

KEYWORDS = frozenset("""
    False None True and as assert async await break class continue def del elif else except
    finally for from global if import in is lambda nonlocal not or pass raise return try while
    with yield
""".split())
# Python's builtins (3.10 to 3.13), written out so that the output does not depend on the
# Python that runs the build.
BUILTINS = frozenset("""
    ArithmeticError AssertionError AttributeError BaseException BaseExceptionGroup
    BlockingIOError BrokenPipeError BufferError BytesWarning ChildProcessError
    ConnectionAbortedError ConnectionError ConnectionRefusedError ConnectionResetError
    DeprecationWarning EOFError Ellipsis EncodingWarning EnvironmentError Exception
    ExceptionGroup False FileExistsError FileNotFoundError FloatingPointError FutureWarning
    GeneratorExit IOError ImportError ImportWarning IndentationError IndexError
    InterruptedError IsADirectoryError KeyError KeyboardInterrupt LookupError MemoryError
    ModuleNotFoundError NameError None NotADirectoryError NotImplemented NotImplementedError
    OSError OverflowError PendingDeprecationWarning PermissionError ProcessLookupError
    PythonFinalizationError RecursionError ReferenceError ResourceWarning RuntimeError
    RuntimeWarning StopAsyncIteration StopIteration SyntaxError SyntaxWarning SystemError
    SystemExit TabError TimeoutError True TypeError UnboundLocalError UnicodeDecodeError
    UnicodeEncodeError UnicodeError UnicodeTranslateError UnicodeWarning UserWarning
    ValueError Warning ZeroDivisionError abs aiter all anext any ascii bin bool breakpoint
    bytearray bytes callable chr classmethod compile complex copyright credits delattr dict
    dir divmod enumerate eval exec exit filter float format frozenset getattr globals hasattr
    hash help hex id input int isinstance issubclass iter len license list locals map max
    memoryview min next object oct open ord pow print property quit range repr reversed round
    set setattr slice sorted staticmethod str sum super tuple type vars zip
""".split())
# Names the generated module defines or imports, and names ruff refuses (E741, E742).
CODE_NAMES = frozenset({"torch", "nn", "F", "self", "l", "O", "I"})
# Attributes of an nn.Module instance (torch 2.x): a submodule or a stored value of that
# name would hide them or be hidden. tests/test_build.py compares this with torch's own.
MODULE_ATTRS = frozenset("""
    T_destination add_module apply bfloat16 buffers call_super_init children compile cpu cuda
    double dump_patches eval extra_repr float forward get_buffer get_extra_state
    get_parameter get_submodule half ipu load_state_dict modules mtia named_buffers
    named_children named_modules named_parameters parameters register_backward_hook
    register_buffer register_forward_hook register_forward_pre_hook
    register_full_backward_hook register_full_backward_pre_hook
    register_load_state_dict_post_hook register_load_state_dict_pre_hook register_module
    register_parameter register_state_dict_post_hook register_state_dict_pre_hook
    requires_grad_ set_extra_state set_submodule share_memory state_dict to to_empty train
    training type xpu zero_grad
    _apply _backward_hooks _backward_pre_hooks _buffers _call_impl _compiled_call_impl
    _forward_hooks _forward_hooks_always_called _forward_hooks_with_kwargs
    _forward_pre_hooks _forward_pre_hooks_with_kwargs _get_backward_hooks
    _get_backward_pre_hooks _get_name _is_full_backward_hook _load_from_state_dict
    _load_state_dict_post_hooks _load_state_dict_pre_hooks _maybe_warn_non_full_backward_hook
    _modules _named_members _non_persistent_buffers_set _parameters
    _register_load_state_dict_pre_hook _register_state_dict_hook _replicate_for_data_parallel
    _save_to_state_dict _slow_forward _state_dict_hooks _state_dict_pre_hooks _version
    _wrapped_call_impl
""".split())
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class Names:
    """One namespace of the generated code: spec names kept where they can be, else given
    a trailing ``_`` until they are free. Deterministic: the same order of requests gives
    the same names."""

    def __init__(self, reserved: Callable[[str], bool]):
        self.reserved = reserved
        self.taken: set[str] = set()

    def usable(self, name: str) -> bool:
        return (bool(_IDENT.match(name)) and not self.reserved(name) and name not in self.taken
                and not (name.startswith("__")))

    def add(self, name: str) -> str:
        if not _IDENT.match(name):
            raise ValueError(f"not an identifier: {name!r}")
        base = name
        if base.startswith("__") or not base.strip("_"):  # class-private names are mangled by Python
            base = base.lstrip("_") or "v"  # and `_` + "_" would be one of them: never usable
            if base[0].isdigit():  # `__9f` stripped is no identifier
                base = "v_" + base
        while not self.usable(base):
            base += "_"
        self.taken.add(base)
        return base

    def take(self, name: str) -> None:
        self.taken.add(name)


def _module_level(name: str) -> bool:
    return name in KEYWORDS or name in BUILTINS or name in CODE_NAMES


def _local(name: str) -> bool:
    return name in KEYWORDS or name in BUILTINS or name in CODE_NAMES or name == "_"


def _attribute(name: str) -> bool:
    return name in KEYWORDS or name in MODULE_ATTRS


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
        return repr(v)
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
    return _with_comment(indent + prefix + text + suffix, comment, indent)


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
    forward_first: int = 0  # first and last line of forward, 1-based
    forward_last: int = 0


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
    class_names = Names(lambda name: _module_level(name) or name in support)
    cls_of = {n.name: class_names.add(n.name) for n in nets}
    diagnostics: list[Diagnostic] = []
    infos: dict[str, ClassInfo] = {}
    bodies: list[list[str]] = []
    extra_fixed: dict[str, dict[str, Any]] = {n.name: {} for n in nets}
    # the classes of networks used as stages must serve every use: prove it first
    for net in nets:
        _check_uses(net, by_name, diagnostics, extra_fixed[net.name])
    if any(d.severity == "error" for d in diagnostics):
        return Generated("", {}, diagnostics)
    for net in order:
        gen = ClassGen(net, cls_of, infos, extra_fixed[net.name], set(cls_of.values()))
        bodies.append(gen.lines())
        infos[net.name] = gen.info
    header = [f"# {MARKER} from {source_name(file)} -- do not edit.",
              "import torch",
              "from torch import nn"]
    lines = list(header)
    for support in _support_code(nets):
        lines.extend(["", ""] + support.rstrip("\n").split("\n"))
    for net, body in zip(order, bodies):
        lines.extend(["", ""])
        start = len(lines)
        lines.extend(body)
        info = infos[net.name]
        info.forward_first += start
        info.forward_last += start
        for s in info.sites:
            if s.line:
                s.line += start
                s.end += start
    code = "\n".join(lines) + "\n"
    return Generated(code, {n.name: infos[n.name] for n in nets}, diagnostics)


def _support_code(nets: list[TypedNetwork]) -> list[str]:
    """The classes of layers torch.nn lacks that the networks use, each once, by name."""
    kinds = {n.kind.torch_name: n.kind for net in nets for n in net.nodes
             if n.kind is not None and n.kind.is_module and n.kind.support_code}
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

def layer_args(node: LayerNode, net: TypedNetwork, named: bool = True):
    """The node's validated arguments with non-integer parameters named (ParamRef)."""
    a = node.args
    if not named:
        return a
    update = {}
    for fname, ref in node.arg_refs.items():
        if fname in type(a).model_fields and not isinstance(net.params.get(ref.name), Expr):
            update[fname] = ParamRef(ref.name)
    return a.model_copy(update=update) if update else a


def constructor(node: LayerNode, net: TypedNetwork, infos: dict[str, ClassInfo], cls_of: dict[str, str]) -> Call:
    """The constructor call of a layer or network node, as a code value."""
    if node.block is not None:
        info = infos[node.block.name]
        kwargs = []
        for p, kw in info.params.items():
            ref = node.arg_refs.get(p)
            if ref is not None and not isinstance(net.params.get(ref.name), Expr):
                kwargs.append((kw, ParamRef(ref.name)))
            else:
                kwargs.append((kw, node.block_args[p]))
        for s, kw in info.symbols.items():
            kwargs.append((kw, node.block_symbols[s]))
        return Call(cls_of[node.block.name], [], kwargs)
    kind = node.kind
    pos, kw = kind.constructor_args(layer_args(node, net))
    kwargs = [(k, _code_value(v)) for k, v in kw.items()]
    if kind.dtype_kwarg and node.inputs and node.inputs[0].tensor.dtype != "float32":
        kwargs.append(("dtype", Raw(f"torch.{node.inputs[0].tensor.dtype}")))
    return Call(kind.module_class, [_code_value(v) for v in pos], kwargs)


def _code_value(v):
    """A kind's constructor value as a code value: a Construct becomes a Call."""
    if isinstance(v, Construct):
        return Call(v.func, [_code_value(a) for a in v.args], [(k, _code_value(x)) for k, x in v.kwargs])
    if isinstance(v, tuple):
        return tuple(_code_value(x) for x in v)
    return v


def fingerprint(node: LayerNode, net: TypedNetwork, named: bool) -> tuple:
    """What the generated code of a node depends on, for comparing a network's class with a
    use of it: its kind, its constructor's values, the op's arguments, the state given.
    ``named``: non-integer parameters as the class names them (ParamRef), else values."""
    if node.block is not None:
        args = []
        for k, v in sorted(node.block_args.items()):
            ref = node.arg_refs.get(k)
            if named and ref is not None and not isinstance(net.params.get(ref.name), Expr):
                v = ParamRef(ref.name)
            args.append((k, v))
        syms = tuple(sorted(node.block_symbols.items()))
        return ("block", node.block.name, tuple(args), syms)
    return node.kind.fingerprint(layer_args(node, net, named), [v.tensor for v in node.inputs],
                                 tuple(node.state))


# -- proving that a network's class serves every use -------------------------------------------

def _check_uses(net: TypedNetwork, by_name: dict, diagnostics: list, fixed: dict) -> None:
    for node in net.nodes:
        if node.block is None or node.block.name not in by_name:
            continue
        generic = by_name[node.block.name]
        if generic is node.block:
            continue
        problem = _compare_block(generic, node, net, fixed)
        if problem:
            notes = [f"`{generic.name}` is defined at line {generic.span.line}"]
            if generic.fixed:
                given = ", ".join(f"{k}={literal(v)}" for k, v in generic.fixed.items())
                notes.append(f"its class is built for {given}, the values its sizes were checked with")
            diagnostics.append(Diagnostic(
                "error", "build",
                f"`{generic.name}` is built as one class, and this use needs other code: {problem}",
                node.span, notes,
                help=f"give `{generic.name}` the arguments of its other uses, or define a network "
                     "of its own for this use"))


def _compare_block(generic: TypedNetwork, use: LayerNode, caller: TypedNetwork, fixed: dict) -> str | None:
    inst = use.block
    if len(generic.nodes) != len(inst.nodes):
        return (f"it has {len(inst.nodes)} layers and ops here and {len(generic.nodes)} in the class "
                "(a repetition count that depends on a parameter)")
    env: dict[str, Any] = {}
    for p, v in use.block_args.items():
        env[p] = v
    for s, v in use.block_symbols.items():
        env.setdefault(s, v)
    dim_env = {k: v for k, v in env.items() if isinstance(v, (int, Expr)) and not isinstance(v, bool)}

    def evaluate(v):
        if isinstance(v, Expr):
            return substitute(v, dim_env)
        if isinstance(v, ParamRef):
            return env.get(v.name, v)
        if isinstance(v, tuple):
            return tuple(evaluate(x) for x in v)
        return v

    def same(g, i) -> bool:
        if isinstance(g, tuple) and isinstance(i, tuple):
            return len(g) == len(i) and all(same(x, y) for x, y in zip(g, i))
        g_dim = isinstance(g, (int, Expr)) and not isinstance(g, bool)
        i_dim = isinstance(i, (int, Expr)) and not isinstance(i, bool)
        if g_dim and i_dim:
            if compare(g, i) is True:
                return True
            if compare(caller.dim(g), caller.dim(i)) is True:
                for s in symbols(g) | symbols(i):
                    if s in caller.param_env:
                        fixed[s] = caller.param_env[s]
                return True
            return False
        if type(g) is not type(i):
            return False
        return g == i

    for g, i in zip(generic.nodes, inst.nodes):
        fg = evaluate(fingerprint(g, generic, True))
        fi = fingerprint(i, inst, False)
        if fg[:2] != fi[:2]:
            return f"line {g.span.line} has {fi[1]} here and {fg[1]} in the class"
        if not same(fg, fi):
            return (f"{g.kind_name} at line {g.span.line} gets other arguments here "
                    "(a size or value the class computes from a parameter's default)")
    return None


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


def _annotation(net: TypedNetwork, p: str) -> str:
    has, v = _param_default(net, p)
    if not has or isinstance(v, int) and not isinstance(v, bool):
        return "int"
    return {bool: "bool", float: "float", str: "str", tuple: "tuple"}.get(type(v), "int")


def _refs(net: A.Network) -> dict[str, set]:
    """Every reference to a parameter in a network's body: name -> spans."""
    out: dict[str, set] = {}
    params = {p.name for p in net.params}
    stack: list = [b.chain for b in net.bindings]
    stack += [d for i in net.inputs for d in i.type.dims]
    while stack:
        x = stack.pop()
        if isinstance(x, A.Ref):
            if x.attr is None and x.name in params:
                out.setdefault(x.name, set()).add(x.span)
        elif isinstance(x, A.Chain):
            stack.append(x.source)
            if x.assertion is not None:
                stack.extend(x.assertion.dims)
            stack.extend(x.stages)
        elif isinstance(x, A.Stage):
            stack.append(x.core)
            if x.repeat is not None:
                stack.append(x.repeat)
            if x.assertion is not None:
                stack.extend(x.assertion.dims)
        elif isinstance(x, A.StageGroup):
            stack.extend(x.stages)
        elif isinstance(x, (A.StageCall, A.Call)):
            stack.extend(a.value for a in x.args)
        elif isinstance(x, A.Tuple):
            stack.extend(x.items)
        elif isinstance(x, A.BinOp):
            stack.extend([x.left, x.right])
        elif isinstance(x, A.Neg):
            stack.append(x.operand)
    return out


class ClassGen:
    def __init__(self, net: TypedNetwork, cls_of: dict[str, str], infos: dict[str, ClassInfo],
                 extra_fixed: dict[str, Any], class_names: set[str]):
        self.net = net
        self.cls_of = cls_of
        self.infos = infos
        self.class_names = class_names
        self.index = {id(n): i for i, n in enumerate(net.nodes)}
        self.param_names = [p.name for p in net.ast.params]
        # which parameters the class must refuse other values of
        self.checked = self._checked(extra_fixed)
        self.sites: list[Site] = [Site() for _ in net.nodes]
        self.units = self._units()  # (attr, nodes, sequential)
        self.info = ClassInfo(net.name, cls_of[net.name], {}, {}, {}, self.checked, self.sites)

    # -- which parameter values the class depends on ----------------------------------------
    def _checked(self, extra_fixed: dict) -> dict[str, Any]:
        net = self.net
        if net.generic:
            return {}  # proven at every use instead (_check_uses)
        out = {}
        fixed = dict(net.fixed)
        fixed.update(extra_fixed)
        uses = _refs(net.ast)
        named = set()
        for n in net.nodes:
            for r in n.arg_refs.values():
                named.add(r.span)
        for p in self.param_names:
            if _is_int_param(net, p):
                if p in fixed:
                    out[p] = fixed[p]
                continue
            spans = uses.get(p, set())
            if not spans:
                continue
            has, v = _param_default(net, p)
            if isinstance(v, float) and spans <= named:
                continue  # a rate or an epsilon: no shape depends on it, every use names it
            out[p] = v
        return out

    # -- attribute names -----------------------------------------------------------------------
    def _units(self) -> list[tuple[str, list[LayerNode], bool]]:
        net = self.net
        attrs = Names(_attribute)
        units: list[tuple[str, list[LayerNode], bool]] = []
        by_binding: dict[str, list[LayerNode]] = {}
        for n in net.nodes:
            by_binding.setdefault(n.binding, []).append(n)
        planned: list[tuple[str, list[LayerNode], bool, bool]] = []  # name, nodes, seq, from spec
        for b in net.ast.bindings:
            nodes = by_binding.get(b.name, [])
            layers = [n for n in nodes if n.is_module]
            if not layers:
                continue
            if len(layers) == len(nodes) and all(n.alias is None for n in nodes) and self._pipeline(nodes):
                planned.append((b.name, nodes, len(nodes) > 1, True))
                continue
            # aliased runs first, then the rest by kind
            runs: list[tuple[str, list[LayerNode]]] = []
            for n in layers:
                if n.alias is not None:
                    if runs and runs[-1][0] == n.alias and runs[-1][1][-1] is self._prev_layer(n, layers):
                        runs[-1][1].append(n)
                    else:
                        runs.append((n.alias, [n]))
            counts: dict[str, int] = {}
            for n in layers:
                if n.alias is None:
                    k = self._kind_slug(n)
                    counts[k] = counts.get(k, 0) + 1
            seen: dict[str, int] = {}
            for n in layers:
                if n.alias is not None:
                    for alias, run in runs:
                        if run[0] is n:
                            planned.append((alias, run, len(run) > 1, True))
                    continue
                k = self._kind_slug(n)
                i = seen.get(k, 0)
                seen[k] = i + 1
                name = f"{b.name}_{k}" if counts[k] == 1 else f"{b.name}_{k}_{i}"
                planned.append((name, [n], False, False))
        first: dict[str, LayerNode] = {}
        for name, nodes, _, from_spec in planned:
            if not from_spec:
                continue
            if name in first:
                raise BuildError([Diagnostic(
                    "error", "duplicate", f"`{name}` names two modules of `{net.name}`",
                    nodes[0].span, [f"`{name}` also names the module at line {first[name].span.line}"],
                    help="give each its own name; a module used twice would share its weights")])
            first[name] = nodes[0]
        # spec names first, so that a generated name never takes one
        order = sorted(range(len(planned)), key=lambda i: (not planned[i][3], i))
        names: dict[int, str] = {}
        for i in order:
            names[i] = attrs.add(planned[i][0])
        for i, (_, nodes, seq, _) in enumerate(planned):
            if len(nodes) > 1 and not (seq and self._pipeline(nodes)):
                raise BuildError([Diagnostic(
                    "error", "build", f"`as {planned[i][0]}` names layers that do not form one pipeline",
                    nodes[0].span, help="name each layer on its own")])
            units.append((names[i], nodes, seq))
            for k, n in enumerate(nodes):
                self.sites[self.index[id(n)]] = Site(module=f"{names[i]}.{k}" if seq else names[i])
        self.attrs = attrs
        return units

    def _prev_layer(self, n: LayerNode, layers: list[LayerNode]) -> LayerNode | None:
        i = layers.index(n)
        return layers[i - 1] if i else None

    @staticmethod
    def _kind_slug(n: LayerNode) -> str:
        return n.kind_name.lower()

    def _pipeline(self, nodes: list[LayerNode]) -> bool:
        """Whether the nodes pass one tensor each to the next: an nn.Sequential can run them."""
        if len(nodes) == 1:
            return True
        for i, n in enumerate(nodes):
            if n.state or len(n.inputs) != 1 or len(n.outputs) != 1:
                return False
            if i and n.inputs[0] is not nodes[i - 1].outputs[0]:
                return False
        return True

    # -- the class ------------------------------------------------------------------------------
    def lines(self) -> list[str]:
        net = self.net
        # constructor values first: they say which input symbols __init__ needs
        ctor_calls = []
        for attr, nodes, seq in self.units:
            calls = [constructor(n, net, self.infos, self.cls_of) for n in nodes]
            if seq:
                call = Call("nn.Sequential", calls, [], explode=True,
                            comments=[f"line {n.span.line}" for n in nodes])
                comment = None
            else:
                call = calls[0]
                comment = f"line {nodes[0].span.line}"
            ctor_calls.append((attr, call, comment))
        init_free: set[str] = set()
        for _, call, _ in ctor_calls:
            init_free |= free_names(call)
        params = set(self.param_names)
        ctor_symbols = sorted((s for s in init_free - params), key=self._symbol_order)
        # forward: which names it reads
        fwd = ForwardGen(self)
        fwd_body = fwd.statements()
        fwd_free = fwd.free
        fwd_symbols = sorted(fwd_free - params, key=self._symbol_order)
        stored_symbols = [s for s in fwd_symbols if net.input_symbols.get(s, (0, -1))[1] < 0]
        for s in stored_symbols:
            if s not in ctor_symbols:
                ctor_symbols.append(s)
        # __init__'s own names
        local = Names(lambda n: _local(n) or n in self.class_names)
        init_names: dict[str, str] = {}
        for p in self.param_names:
            init_names[p] = local.add(p)
        for s in ctor_symbols:
            init_names[s] = local.add(s)
        self.info.params = {p: init_names[p] for p in self.param_names}
        self.info.symbols = {s: init_names[s] for s in ctor_symbols}
        for p in self.param_names:
            has, v = _param_default(net, p)
            if has:
                self.info.defaults[p] = v
        # values forward reads from self
        stored: dict[str, str] = {}
        for name in sorted(fwd_free & params, key=self.param_names.index) + stored_symbols:
            stored[name] = self.attrs.add(name)
        init_scope = Scope(init_names)
        # forward's names: inputs, symbols read from inputs
        fwd_names = fwd.finish(stored)

        out: list[str] = []
        out.append(f"class {self.cls_of[net.name]}(nn.Module):")
        doc = f"{net.name}: {source_name(net.span.file)}, line {net.span.line}."
        out.append(f'{IND}"""{doc_text(doc)}"""')
        out.append("")
        # __init__
        sig = [Raw("self"), Raw("*")]
        for p in self.param_names:
            text = f"{init_names[p]}: {_annotation(net, p)}"
            has, v = _param_default(net, p)
            if has:
                text += f" = {literal(v)}"
            sig.append(Raw(text))
        for s in ctor_symbols:
            sig.append(Raw(f"{init_names[s]}: int"))
        if len(sig) == 2:
            sig = [Raw("self")]
        out.extend(lay_out("def ", Call("__init__", sig), " -> None:", IND, init_scope))
        body = IND * 2
        out.append(f"{body}super().__init__()")
        for p, value in self.checked.items():
            kw = init_names[p]
            test = f"{kw} is not {literal(value)}" if isinstance(value, bool) else f"{kw} != {literal(value)}"
            out.append(f"{body}if {test}:")
            msg = (f"{self.cls_of[net.name]} was built for {kw}={literal(value)}; "
                   f"rebuild it with --set {p}=...")
            out.extend(lay_out("raise ", Call("ValueError", [Raw(pystr(msg))]), "", body + IND, init_scope))
        for name, attr in stored.items():
            out.append(f"{body}self.{attr} = {init_names[name]}")
        for attr, call, comment in ctor_calls:
            out.extend(lay_out(f"self.{attr} = ", call, "", body, init_scope, comment))
        out.append("")
        # forward
        self.info.forward_first = len(out) + 1
        inputs = [Raw("self")] + [Raw(f"{fwd_names[v.name]}: torch.Tensor") for v in net.inputs]
        ret = "torch.Tensor" if len(net.outputs) == 1 else "tuple[torch.Tensor, ...]"
        out.extend(lay_out("def ", Call("forward", inputs), f" -> {ret}:", IND, init_scope))
        base = len(out)
        for line in fwd.render(fwd_body):
            out.append(line)
        for site in self.sites:
            if site.line:
                site.line += base
                site.end += base
        self.info.forward_last = len(out)
        return out

    def _symbol_order(self, s: str):
        pos = self.net.input_symbols.get(s)
        return (0, pos, s) if pos is not None else (1, (0, 0), s)


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
        self.local = Names(lambda n: _local(n) or n in cls.class_names)
        self.names: dict[str, str] = {}
        for v in self.net.inputs:
            self.names[v.name] = self.local.add(v.name)
        self.binding_var: dict[str, str] = {}
        for b in self.net.ast.bindings:
            self.binding_var[b.name] = self.local.add(b.name)
        self.symbol_var: dict[str, str] = {}
        for s in sorted(self.net.input_symbols, key=cls._symbol_order):
            self.symbol_var[s] = self.local.add(s)
        self.var: dict[int, str] = {id(v): self.names[v.name] for v in self.net.inputs}
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
        uses = net.uses()
        unit_of = {}
        for attr, nodes, seq in self.cls.units:
            for n in nodes:
                unit_of[id(n)] = (attr, nodes, seq)
        by_binding: dict[str, list[LayerNode]] = {}
        for n in net.nodes:
            by_binding.setdefault(n.binding, []).append(n)
        stmts: list[Stmt] = []
        for b in net.ast.bindings:
            nodes = by_binding.get(b.name, [])
            bvar = self.binding_var[b.name]
            temps = 0
            k = 0
            while k < len(nodes):
                n = nodes[k]
                unit = unit_of.get(id(n))
                if unit is not None and unit[2]:  # an nn.Sequential: one call for the run
                    attr, run, _ = unit
                    last = run[-1]
                    src = self.var[id(n.inputs[0])]
                    value = Call(f"self.{attr}", [Raw(src)])
                    first_line, last_line = run[0].span.line, last.span.line
                    where = f"line {first_line}" if first_line == last_line else f"lines {first_line}-{last_line}"
                    k += len(run)
                    node = last
                else:
                    value = self._node_value(n, unit)
                    where = f"line {n.span.line}"
                    k += 1
                    node = n
                is_last = k >= len(nodes)
                results = node.outputs
                if is_last:
                    if len(results) == 1:
                        name = bvar if uses.get(id(results[0])) else self.local.add("_" + b.name)
                        names = [name]
                    else:
                        names = [self.local.add(f"{b.name}_{_slug(r)}") if uses.get(id(v))
                                 else self.local.add(f"_{b.name}_{_slug(r)}")
                                 for r, v in zip(self._result_names(node), results)]
                else:
                    nxt = nodes[k]
                    primary = results[0]
                    if uses.get(id(primary)) == 1 and nxt.inputs and nxt.inputs[0] is primary:
                        names = [bvar]
                    else:
                        names = [self.local.add(f"{b.name}_{temps}")]
                        temps += 1
                    names += [self.local.add(f"_{b.name}_{_slug(r)}")
                              for r in self._result_names(node)[1:]]
                for v, nm in zip(results, names):
                    self.var[id(v)] = nm
                target = self._pattern(node, names)
                comment = ", ".join(self._shape(v) for v in results) + f"  ({where})"
                idx = self.cls.index[id(node)]
                stmts.append(Stmt(target, value, comment, None if node.is_module else idx, tuple(names)))
        outs = [self.var[id(v)] for _, v in net.outputs]
        stmts.append(Stmt("", Raw(", ".join(outs)), None))
        return stmts

    def _result_names(self, node: LayerNode) -> list[str]:
        return node.result_names

    def _pattern(self, node: LayerNode, names: list[str]) -> str:
        if node.block is not None or len(names) == 1:
            return ", ".join(names)
        return node.kind.result_pattern(names)

    def _shape(self, v: Value) -> str:
        t = v.tensor
        return show_shape(t.shape, None if t.dtype == "float32" else t.dtype)

    def _node_value(self, n: LayerNode, unit) -> Any:
        ins = [self.var[id(v)] for v in n.inputs]
        if n.block is not None:
            return Call(f"self.{unit[0]}", [Raw(x) for x in ins])
        state = {k: self.var[id(v)] for k, v in n.state.items()}
        fwd = n.kind.forward(n.args, f"self.{unit[0]}" if unit else "", ins, state, self.code, n.in_place)
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


def _fill_value(v, fill):
    if isinstance(v, Raw):
        return Raw(fill(v.text))
    if isinstance(v, Call):
        return Call(v.func, [_fill_value(a, fill) for a in v.args],
                    [(k, _fill_value(x, fill)) for k, x in v.kwargs], v.explode, v.comments)
    return v


def _slug(result: str) -> str:
    return re.sub(r"\W", "_", result)


# -- the command --------------------------------------------------------------------------------

def cmd_build(args) -> int:
    import sys

    from netspec.cli import check_overrides, color_on, overrides_of
    from netspec.diagnostics import printable
    from netspec.diagnostics import render as render_diagnostic
    from netspec.fsutil import write_output
    from netspec.source import UsageError, load

    overrides = overrides_of(args)
    if os.path.exists(args.output) and os.path.exists(args.file) and os.path.samefile(args.output, args.file):
        raise UsageError(f"{args.output} is the spec itself; write the module to another file")
    loaded = load(args.file, overrides)
    check_overrides(overrides, [loaded])
    color = color_on(sys.stderr)
    diagnostics = list(loaded.result.reporter.items)
    gen = None
    if loaded.result.ok:
        try:
            gen = generate(loaded.result, loaded.path)
        except BuildError as e:
            gen = Generated("", {}, e.diagnostics)
        diagnostics += gen.diagnostics
    for d in diagnostics:
        print(render_diagnostic(d, loaded.lines, color=color), file=sys.stderr)
        print(file=sys.stderr)
    if gen is None or not gen.ok:
        errors = sum(d.severity == "error" for d in diagnostics)
        print(printable(f"{loaded.path}: {errors} error(s); nothing written"), file=sys.stderr)
        return 1
    write_output(args.output, gen.code, force=args.force)
    names = ", ".join(i.class_name for i in gen.classes.values())
    print(printable(f"wrote {args.output}: {names}"))
    return 0
