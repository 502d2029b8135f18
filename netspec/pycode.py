"""The rules of the Python that `netspec build` writes, which the checker asks too.

A spec's names become Python names: networks become classes, parameters and inputs become
arguments, symbols and bindings become local variables beside ``self``, ``torch`` and ``nn``,
and a binding made of layers or a stage's ``as`` name becomes a submodule. The checker
refuses (`reserved`) a name no built module could use; the build renames what only its own
code would clash with (:class:`Names`). Where an op may write its result into its input
(``out.add_(x)``, as torchvision's residual blocks do) is decided here too, on the typed graph.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Callable, NamedTuple

from . import codes
from .diagnostics import Reporter, Span
from .graph import Node, TypedNetwork

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
CODE_NAMES = frozenset({"torch", "nn", "F", "self", "l", "O", "I", "scan"})
# Attributes of an nn.Module instance (torch 2.x): a submodule or a stored value of that
# name would hide them or be hidden (nn.Module.__getattr__ is only asked for names it
# lacks). The checker refuses the public ones; the build also steers clear of the private
# ones. tests/test_build.py compares the two sets with torch's own.
PUBLIC_MODULE_ATTRS = frozenset("""
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
""".split())
MODULE_ATTRS = PUBLIC_MODULE_ATTRS | frozenset("""
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
# Names a built module cannot use for a spec's name, whatever the build renames.
RESERVED = KEYWORDS | {"self", "super", "torch", "nn"}
# Words the grammar reads as literals wherever a name could stand (grammar/netspec.lark).
LITERALS = frozenset({"true", "false"})
# every name check_name may refuse, but for dunder names: a name outside it passes
MAYBE_REFUSED = RESERVED | PUBLIC_MODULE_ATTRS | LITERALS


def check_name(reporter: Reporter, name: str, span: Span, what: str, submodule: bool = False) -> None:
    """A `reserved` error for a name the generated Python module could not use, or that the
    spec itself reads as something else (`true`)."""
    if name in LITERALS:
        why = f"the boolean literal `{name}` wherever a value is read"
    elif name in RESERVED or (name.startswith("__") and name.endswith("__")):
        why = "a Python keyword" if name in KEYWORDS else "a name the built module itself uses"
    elif submodule and name in PUBLIC_MODULE_ATTRS:
        why = "an attribute of torch's nn.Module"
    else:
        return
    reporter.error(codes.RESERVED, f"`{name}` cannot name {what}: it is {why}", span,
                   help=f"rename it, e.g. `{name.strip('_')}_`")


def check_module_name(reporter: Reporter, name: str, span: Span) -> None:
    """A `reserved` error for a quoted `as` name (`as "block1-0"`) that torch cannot give a
    module: empty, holding `.`, an attribute of nn.Module, or with a character no one can see."""
    hidden = next((c for c in name if unicodedata.category(c)[0] in "CZ" and c != " "), None)
    if not name:
        why, fix = "an empty name names no module", "write a name, e.g. `as \"block1\"`"
    elif "." in name:
        why, fix = "torch joins module paths with `.`", f"write `as \"{name.replace('.', '_')}\"`"
    elif hidden is not None:
        why = f"it holds U+{ord(hidden):04X} ({unicodedata.name(hidden, 'a control character')}), which no one can see"
        fix = "write the name with visible characters and plain spaces"
    elif name in MODULE_ATTRS or (name.startswith("__") and name.endswith("__")):
        why, fix = "it is an attribute of torch's nn.Module", f"rename it, e.g. `as \"{name.strip('_')}_\"`"
    else:
        return
    shown = name if len(name) <= 40 else name[:37] + "..."
    reporter.error(codes.RESERVED, f"`\"{shown}\"` cannot name a layer: {why}", span, help=fix)


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def shown(name: str) -> str:
    """A module's name as a spec writes it: quoted unless a plain name (`"block1-0"`)."""
    return name if plain(name) else f'"{name}"'


def plain(name: str) -> bool:
    """Whether ``name`` can be written as a Python attribute (``self.name``); a module named
    otherwise (a quoted `as` name) is reached with ``getattr`` and made with ``add_module``."""
    return bool(_IDENT.match(name)) and name not in KEYWORDS


class Names:
    """One namespace of the generated code: spec names kept where they can be, else given
    a trailing ``_`` until they are free. Deterministic: the same order of requests gives
    the same names."""

    def __init__(self, reserved: Callable[[str], bool], exact: bool = False):
        self.reserved = reserved
        self.exact = exact  # keep a name no attribute can spell as it is (a quoted `as` name)
        self.taken: set[str] = set()

    def usable(self, name: str) -> bool:
        return (bool(_IDENT.match(name)) and not self.reserved(name) and name not in self.taken
                and not (name.startswith("__")))

    def add(self, name: str) -> str:
        if self.exact and not plain(name):  # the checker refused duplicates: taken only by a made name
            while name in self.taken:
                name += "_"
            self.taken.add(name)
            return name
        if not _IDENT.match(name):
            raise ValueError(f"not an identifier: {name!r}")
        base = name
        if base.startswith("__") or not base.strip("_"):  # class-private names are mangled by Python
            base = base.lstrip("_") or "v"  # and `_` + "_" would be one of them: never usable
            if base[0].isdigit():  # `__9f` stripped is no identifier
                base = "v_" + base
        stem, k = base, 1
        while not self.usable(base):
            if stem.startswith("_"):  # a result nothing reads: `_x_2`, which linters read as a dummy
                k += 1
                base = f"{stem}_{k}"
            else:
                base += "_"
        self.taken.add(base)
        return base


def module_level(name: str) -> bool:
    """Whether a module-level name (a class) is taken by Python or the generated code."""
    return name in KEYWORDS or name in BUILTINS or name in CODE_NAMES


def local(name: str) -> bool:
    """Whether a local variable name of a generated method is taken."""
    return module_level(name) or name == "_"


def attribute(name: str) -> bool:
    """Whether an attribute name of a generated nn.Module is taken."""
    return name in KEYWORDS or name in MODULE_ATTRS


def mark_in_place(net: TypedNetwork, assumed: bool = False) -> None:
    """Mark the ops that may write their result into their first input, as torchvision's
    residual blocks do (`out += identity`): that input is a fresh result of a layer or op
    that does not keep it for backward (Kind.fresh_result), nothing else reads it, and
    it has the result's shape and dtype (nothing broadcast into it, no promotion). In a
    network checked generically (``assumed``: its equalities assumed, each use checking
    them, one class for all), the other inputs' sizes must be the result's or 1 as
    written: a size only assumed equal may be larger at a use, and broadcast into it."""
    nodes = net.nodes
    if not any(n.kind is not None and n.kind.writes_in_place for n in nodes):
        return
    uses = net.uses()
    for n in nodes:
        if n.kind is None or not n.kind.writes_in_place or n.error is not None or len(n.outputs) != 1:
            continue
        v, out = n.inputs[0], n.outputs[0].tensor
        producer = v.node
        n.in_place = (producer is not None and producer.kind is not None and producer.kind.fresh_result
                      and producer.error is None and not producer.kind.aliases_input(producer.args, [i.tensor for i in producer.inputs])
                      and v.index == 0 and uses.get(id(v)) == 1 and v.tensor is not None
                      and out is not None and v.tensor.dtype == out.dtype and v.tensor.shape == out.shape
                      and (not assumed or _written_fit(n, out)))


def _written_fit(n: Node, out) -> bool:
    """Whether every input after the first has, right-aligned, the result's sizes or 1."""
    for v in n.inputs[1:]:
        if v.tensor is None or any(d != o and d != 1 for d, o in zip(reversed(v.tensor.shape), reversed(out.shape))):
            return False
    return True


# -- the submodules of a built network ---------------------------------------------------------

class Planned(NamedTuple):
    """One submodule of a network's class: the name the spec gives it (or one made from
    the binding and the kind), its nodes, and whether it is an nn.Sequential of them."""

    name: str
    nodes: list[Node]
    seq: bool
    from_spec: bool  # the name is the spec's own: a binding's or an `as` name
    # an nn.Sequential's children in order: (name, Node or a nested list of children);
    # names are positions ("0", "1") or the spec's `as` names
    tree: tuple = ()
    whole: bool = True  # forward runs it as one call; else each layer through its path
    shared: bool = False  # one module applied by every node (`shared cell = ...`)


def plan_modules(net: TypedNetwork) -> list[Planned]:
    """The submodules of ``net``'s class, binding by binding (docs/build.md, Names):

    * a binding none of whose stages is named with `as` is one submodule named after it:
      its one layer, or an nn.Sequential of its layers numbered from 0 (run as one call
      when they pass one tensor from each to the next, else each layer by its index);
    * otherwise each run of layers under one `as` name is one (`as name{1}` numbers the
      copies of a repetition), and the other layers are named `<binding>_<kind>` (numbered
      when the kind occurs more than once). Within a named group every parenthesised
      group is a level of its own: an nn.Sequential, named by its `as` or its position."""
    by_binding: dict[str, list[Node]] = {}
    shared: dict[str, list[Node]] = {}
    for n in net.nodes:
        by_binding.setdefault(n.binding, []).append(n)
        if n.shared is not None:
            shared.setdefault(n.shared, []).append(n)
    planned = [Planned(name, nodes, False, True, shared=True) for name, nodes in shared.items()]
    for binding in net.binding_names:
        planned += _plan_binding(binding, by_binding.get(binding, []))
    return planned


def module_attributes(net: TypedNetwork) -> tuple[Names, list[tuple[str, Planned]]]:
    """The attribute of each submodule of ``net``'s built class, with its plan, in the order
    of plan_modules; declared tensors and the spec's own names are taken first, so that a
    generated name never takes one. Also the namespace of the class's attributes."""
    planned = plan_modules(net)
    attrs = Names(attribute, exact=True)
    for d in net.tensors:  # declared tensors keep their names: a state_dict's keys
        attrs.add(d.name)
    order = sorted(range(len(planned)), key=lambda i: (not planned[i].from_spec, i))
    names = {i: attrs.add(planned[i].name) for i in order}
    return attrs, [(names[i], unit) for i, unit in enumerate(planned)]


def module_paths(net: TypedNetwork) -> dict[int, str]:
    """id(node) -> the dotted path of its submodule in the built class (`features.3`,
    `features.denselayer1.conv1`), for every node that is a submodule."""
    paths = {}
    for attr, unit in module_attributes(net)[1]:
        inner = tree_paths(unit.tree)
        for n in unit.nodes:
            paths[id(n)] = ".".join((attr, *inner.get(id(n), ())))
    return paths


def levels(n: Node) -> tuple:
    """The scopes around a node from the outermost named one in: the levels of its name."""
    for j, scope in enumerate(n.scopes):
        if scope[2]:
            return n.scopes[j:]
    return ()


def _numbered(nodes: list[Node]) -> tuple:
    return tuple((str(k), n) for k, n in enumerate(nodes))


def _plan_binding(binding: str, nodes: list[Node]) -> list[Planned]:
    layers = [n for n in nodes if n.is_module and n.shared is None]
    if not layers:
        return []
    if not any(levels(n) for n in nodes):
        if len(layers) == 1:
            return [Planned(binding, layers, False, True)]
        whole = pipeline(layers)
        return [Planned(binding, layers, True, True, _numbered(layers), whole)]
    runs: list[tuple[str, list[Node]]] = []  # consecutive layers under one `as` name
    for i, n in enumerate(layers):
        lv = levels(n)
        if lv:
            if runs and runs[-1][0] == lv[0][2] and i and runs[-1][1][-1] is layers[i - 1]:
                runs[-1][1].append(n)
            else:
                runs.append((lv[0][2], [n]))
    counts: dict[str, int] = {}
    for n in layers:
        if not levels(n):
            counts[n.kind_name.lower()] = counts.get(n.kind_name.lower(), 0) + 1
    planned, seen = [], {}
    for n in layers:
        if levels(n):
            planned += [_named_unit(alias, run) for alias, run in runs if run[0] is n]
            continue
        k = n.kind_name.lower()
        seen[k] = seen.get(k, 0) + 1
        planned.append(Planned(f"{binding}_{k}" if counts[k] == 1 else f"{binding}_{k}_{seen[k] - 1}", [n],
                               False, False))
    return planned


def _named_unit(name: str, run: list[Node]) -> Planned:
    """The submodule of a run of layers under one `as` name: the layer itself, or an
    nn.Sequential (several layers, or a parenthesised group)."""
    if len(run) == 1 and not levels(run[0])[0][3]:
        return Planned(name, run, False, True)
    return Planned(name, run, True, True, _children(run, 1))


def _children(nodes: list[Node], depth: int) -> tuple:
    """The children of an nn.Sequential whose nodes share their first ``depth`` levels:
    consecutive nodes under one level (one `as` name, or one parenthesised group) are one
    child; a child is named by its `as` name, else by its position."""
    runs: list[tuple[object, str | None, list[Node]]] = []
    for n in nodes:
        lv = levels(n)
        if len(lv) <= depth:
            runs.append((None, None, [n]))
            continue
        gid, i, name, _ = lv[depth]
        key = name or (gid, i)
        if runs and runs[-1][0] == key:
            runs[-1][2].append(n)
        else:
            runs.append((key, name, [n]))
    out = []
    for k, (_, name, run) in enumerate(runs):
        lv = levels(run[0])
        leaf = len(run) == 1 and (len(lv) <= depth or not lv[depth][3])
        out.append((name or str(k), run[0] if leaf else _children(run, depth + 1)))
    return tuple(out)


def tree_paths(tree: tuple, prefix: tuple = ()) -> dict[int, tuple[str, ...]]:
    """Each node of an nn.Sequential's children (by id) -> its path of child names."""
    out: dict[int, tuple[str, ...]] = {}
    for name, child in tree:
        if isinstance(child, tuple):
            out.update(tree_paths(child, prefix + (name,)))
        else:
            out[id(child)] = prefix + (name,)
    return out


def tree_duplicates(tree: tuple) -> list[tuple[str, Node]]:
    """(name, a node under it) for each name that two children of one level share."""
    seen: set[str] = set()
    out = []
    for name, child in tree:
        if name in seen:
            out.append((name, child if isinstance(child, Node) else next(iter(_leaves(child)))))
        seen.add(name)
        if isinstance(child, tuple):
            out += tree_duplicates(child)
    return out


def _leaves(tree: tuple):
    for _, child in tree:
        if isinstance(child, tuple):
            yield from _leaves(child)
        else:
            yield child


def pipeline(nodes: list[Node]) -> bool:
    """Whether the nodes pass one tensor each to the next: an nn.Sequential can run them."""
    if len(nodes) == 1:
        return True
    for i, n in enumerate(nodes):
        if n.state or len(n.inputs) != 1 or len(n.outputs) != 1:
            return False
        if n.kind is not None and n.args is not None and not n.kind.plain_call(n.args):
            return False
        if i and n.inputs[0] is not nodes[i - 1].outputs[0]:
            return False
    return True


def check_modules(net: TypedNetwork, reporter: Reporter) -> None:
    """Names the built class could not hold: one `as` name for two modules (they would
    share weights, or one would be lost), or for layers that are not one pipeline."""
    if _named_by_bindings_alone(net):
        return
    first: dict[str, Node] = {}
    for unit in plan_modules(net):
        for name, node in tree_duplicates(unit.tree):
            reporter.error(codes.DUPLICATE, f"`{shown(name)}` names two modules in `{shown(unit.name)}` of `{net.name}`",
                           node.span, help="give each its own name; a module used twice would share its weights")
        if unit.from_spec and unit.name in first:
            reporter.error(codes.DUPLICATE, f"`{shown(unit.name)}` names two modules of `{net.name}`",
                           _alias_span(unit), [f"`{shown(unit.name)}` also names the module at line "
                                               f"{first[unit.name].span.line}"],
                           help="give each its own name; a module used twice would share its weights")
        elif unit.from_spec:
            first[unit.name] = unit.nodes[0]
        if len(unit.nodes) > 1 and unit.whole and not unit.shared and not (unit.seq and pipeline(unit.nodes)):
            reporter.error(codes.DUPLICATE, f"`as {shown(unit.name)}` names layers that do not form one pipeline",
                           _alias_span(unit), [f"{n.kind_name} (line {n.span.line})" for n in unit.nodes][:4],
                           help="name each layer on its own, or only a run of layers that pass one tensor on")


def _named_by_bindings_alone(net: TypedNetwork) -> bool:
    """Whether no node has an `as` name (then none has a named level: levels()) or applies a
    shared module, and no two bindings have one name: then each submodule is one binding's,
    named after it (its layers numbered from 0, or run each by its index where they are not
    one pipeline), and check_modules has nothing to report."""
    for n in net.nodes:
        if n.alias is not None or n.shared is not None:
            return False
    return len(set(net.binding_names)) == len(net.binding_names)


def _alias_span(unit: Planned) -> Span:
    return unit.nodes[0].span
