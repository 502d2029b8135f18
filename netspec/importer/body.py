"""One module's forward as a network body: the traced graph's calls grouped into chains.

A node continues the chain of the tensor it is applied to when that tensor is read by it
alone; a value read more than once, an op over several tensors, a layer with several
results and an ``nn.Sequential`` start or end a binding. Layers keep their attribute
names with ``as``, a ``Sequential`` becomes a binding of its own name (built as one
``nn.Sequential``, so the state_dict keys match), and a submodule of another class
becomes a network used as a stage (a token the importer replaces with its use).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.fx as fx

from . import calls
from .groups import WORDS, Group, quotable
from .table import SLOT, layer_kind, layer_stage, literal, slot
from .trace import Unsupported, module_where, node_where


def spec_name(name: str) -> str:
    return f"{name}_" if name in WORDS else name


class Scope:
    """The symbols a network can write sizes with, each with its two sample values."""

    def __init__(self, symbols: list[tuple[str, tuple[int, int]]]):
        self.symbols = [(n, v) for n, v in symbols if v[0] != v[1]]

    def express(self, v0: int, v1: int) -> str | None:
        """A size seen as ``v0`` and ``v1`` in the two runs, written in the symbols."""
        if v0 == v1:
            return str(v0)
        for name, (s0, s1) in self.symbols:
            if (s0, s1) == (v0, v1):
                return name
        for name, (s0, s1) in self.symbols:
            if v0 % s0 == 0 and v1 % s1 == 0 and v0 // s0 == v1 // s1:
                return f"{v0 // s0} * {name}"
        for i, (a, (a0, a1)) in enumerate(self.symbols):
            for b, (b0, b1) in self.symbols[i + 1:]:
                if (a0 * b0, a1 * b1) == (v0, v1):
                    return f"{a} * {b}"
        return None

    def shape(self, t0: torch.Tensor, t1: torch.Tensor) -> str | None:
        if t0.dim() != t1.dim():
            return None
        dims = [self.express(a, b) for a, b in zip(t0.shape, t1.shape)]
        return None if None in dims or not dims else f"[{', '.join(dims)}]"


@dataclass
class Stmt:
    name: str
    source: str
    stages: list[tuple[str, str | None]] = field(default_factory=list)
    group: bool = False  # an nn.Sequential: its stages may be written with repetition
    shape: str | None = None
    comments: list[str] = field(default_factory=list)
    targets: list[str] | None = None  # the names of an op's several results (`a, b = x -> chunk(2)`)


@dataclass
class Instance:
    """One module written as a network: its class, inputs and statements."""

    cls: type
    module: Any
    path: str
    inputs: list[str]
    stmts: list[Stmt]
    outputs: list[str]
    inner: list[Instance]
    children: set[str]
    notes: list[str] = field(default_factory=list)
    tensors: list[str] = field(default_factory=list)  # `param NAME: dtype[sizes]`, `buffer ...`
    text: str = ""  # the resolved body (inputs, statements, outputs) with slots
    use: str = ""  # the stage that uses it, once its network is known
    joined: int | None = None  # its first input: a list of tensors concatenated along this dim


@dataclass
class _Item:
    kind: str  # "name" | "stage" | "source" | "multi" | "ref" | "scalar" | "group"
    pipe: fx.Node | None = None
    text: str = ""
    alias: str | None = None
    nodes: list[fx.Node] = field(default_factory=list)
    render: Any = None
    stages: list[str] = field(default_factory=list)
    base: fx.Node | None = None
    path: tuple = ()
    comment: str | None = None


class Body:
    """The network body of one traced module (``gm``) run twice (``runs``)."""

    def __init__(self, importer, module, path: str, gm: fx.GraphModule, runs, in_names: list[str],
                 in_decls: list[str], scope: Scope, shapes: bool):
        self.imp, self.module, self.path, self.gm = importer, module, path, gm
        self.v0, self.v1 = runs.values
        self.in_names, self.in_decls, self.scope, self.shapes = in_names, in_decls, scope, shapes
        self.items: dict[fx.Node, _Item] = {}
        self.inner: list[Instance] = []
        self.children: set[str] = set()
        self.called: set[str] = set()
        self.notes: list[str] = []  # with --partial: what the spec leaves out
        self.tensors: dict[str, str] = {}  # a parameter or buffer read in forward -> its declaration
        self.refused: dict[fx.Node, Unsupported] = {}  # with --partial: calls into a container refused
        self.shared: dict[str, str | None] = {}  # a module with weights called more than once -> its declaration

    # -- what each node is ----------------------------------------------------------------------
    def value(self, node) -> Any:
        return self.v0[node]

    def is_tensor(self, node) -> bool:
        return isinstance(node, fx.Node) and isinstance(self.v0.get(node), torch.Tensor)

    def is_scalar_int(self, node) -> bool:
        return isinstance(node, fx.Node) and isinstance(self.v0.get(node), int)

    def size_expr(self, node, index: int | None = None) -> str:
        a, b = self.v0[node], self.v1[node]
        if index is not None:
            a, b = a[index], b[index]
        if not isinstance(a, int):
            raise calls.Refused("a size that is not an integer")
        text = self.scope.express(a, b)
        if text is None:
            raise calls.Refused(f"a size ({a}, then {b}) that follows the input in a way the symbols "
                                "cannot write")
        return text

    def build(self) -> Instance:
        nodes = list(self.gm.graph.nodes)
        skip = self._zero_states(nodes)
        needed = self._needed(nodes, skip)
        runs, absorbed = self._indexed_runs(nodes, needed)
        self._find_shared(nodes, needed)
        outputs: list[fx.Node] = []
        for node in nodes:
            if node not in needed or node in absorbed:
                continue
            if node.op == "output":
                res = node.args[0]
                outputs = list(res) if isinstance(res, (tuple, list)) else [res]
                continue
            if node in runs:
                self.items[node] = self._indexed(runs[node], skip)
                continue
            self.items[node] = self._item_or_stub(node, skip)
        self._uncalled()
        stmts, names, tail = self._chains([n for n in nodes if n in self.items], outputs, needed)
        out_names = []
        for o in outputs:
            if o in tail:
                self._named(o, names, tail)
            if not isinstance(o, fx.Node) or o not in self.items:
                raise Unsupported(f"the output of `{self.path or type(self.module).__name__}`",
                                  module_where(self.module), "forward returns something that is not a tensor")
            name = names[o]
            if "." in name or o.op == "placeholder":
                taken = {st.name for st in stmts} | set(self.in_names) | set(self.shared) | set(self.tensors)
                short = spec_name(name.rpartition(".")[2] if "." in name else o.name + "_out")
                stmts.append(Stmt(short if short not in taken else spec_name(o.name + "_out"), name))
                name = stmts[-1].name
            out_names.append(name)
        return Instance(type(self.module), self.module, self.path, self.in_decls, stmts, out_names,
                        self.inner, self.children, self.notes,
                        list(self.tensors.values()) + [d for d in self.shared.values() if d])

    def _uncalled(self) -> None:
        """A submodule with weights that forward (in eval mode) never calls would be missing
        from the built module, whose state_dict would then not load strictly."""
        for name in self.module.state_dict(keep_vars=True):
            if "." not in name and name not in self.children:
                err = Unsupported(f"`self.{name}`", module_where(self.module), "a parameter or buffer that forward "
                                  "(in eval mode) never reads, so the built module could not load the state_dict "
                                  "strictly")
                if not self.imp.partial:
                    raise err
                self.notes.append(f"# netspec import: error: {err}")
        for name, child in self.module.named_children():
            if name not in self.children and any(True for _ in child.state_dict()):
                err = Unsupported(f"{type(child).__name__} `{self._qual(name)}`", module_where(child),
                                  "it holds weights but forward (in eval mode) never calls it, so the "
                                  "built module could not load the state_dict strictly; construct the "
                                  "model without it (e.g. --arg aux_logits=False)")
                if not self.imp.partial:
                    raise err
                self.notes.append(f"# netspec import: error: {err}")

    def _zero_states(self, nodes) -> set[fx.Node]:
        """Recurrent layers given all-zero initial states, which are torch's default: the
        state is left out."""
        skip = set()
        for n in nodes:
            if n.op == "call_module" and len(n.args) > 1:
                states = [s for s in _flat(n.args[1:]) if isinstance(s, fx.Node)]
                mod = self.gm.get_submodule(n.target)
                if isinstance(mod, torch.nn.RNNBase) and states and all(_zeros(s) for s in states):
                    skip.add(n)
        return skip

    def _needed(self, nodes, skip) -> set[fx.Node]:
        seen: set[fx.Node] = set()
        stack = [n for n in nodes if n.op == "output"]
        while stack:
            n = stack.pop()
            if n in seen:
                continue
            seen.add(n)
            args = n.args[:1] if n in skip else (n.args, n.kwargs)
            stack.extend(x for x in _flat(args) if isinstance(x, fx.Node))
        return seen

    def _item_or_stub(self, node, skip) -> _Item:
        try:
            return self._item(node, skip)
        except calls.Refused as e:
            err = Unsupported(f"`{calls.call_name(node)}`", node_where(self.module, node), str(e))
        except Unsupported as e:
            err = e
        if not self.imp.partial:
            raise err
        pipe = next((x for x in _flat(node.args) if self.is_tensor(x)), None)
        text = f"UNSUPPORTED({_quote(err.what)})"
        comment = f"# netspec import: error: {err}"
        return _Item("stage", pipe, text, comment=comment) if pipe is not None else \
            _Item("source", text=text, nodes=[], render=lambda names: text, comment=comment)

    def _item(self, node, skip) -> _Item:
        if node in self.refused:
            raise self.refused[node]
        if node.op == "placeholder":
            return _Item("name", text=self.in_names[len([x for x in self.items if x.op == "placeholder"])])
        if node.op == "get_attr":
            return self._declared(node)
        if node.op == "call_module":
            return self._module(node, skip)
        if not isinstance(self.v0.get(node), (torch.Tensor, tuple, list)) or _ints(self.v0.get(node)):
            return _Item("scalar")
        if node.target is _getitem and node.args[0] in self.items and (
                self.items[node.args[0]].kind in ("multi", "part")
                or (self.items[node.args[0]].kind == "group" and isinstance(self.v0[node.args[0]], tuple))):
            return self._getitem(node)
        handle = calls.handler(node)
        if handle is None:
            raise calls.Refused("netspec's language has no op for this call")
        res = handle(node, self)
        if isinstance(res, calls.Source):
            return _Item("source", nodes=res.nodes, render=res.render)
        return _Item("multi" if isinstance(self.v0[node], (tuple, list)) else "stage", res.node, res.text)

    def _declared(self, node) -> _Item:
        """A parameter or buffer of this module read in forward (a class token, a position
        embedding): a ``param`` or ``buffer`` declaration of that name, its sizes as slots (so
        that sizes varying between a network's uses become its parameters)."""
        value, name = self.v0[node], node.target
        if "." in name or not isinstance(value, torch.Tensor) or name not in dict(self.module.state_dict(keep_vars=True)):
            raise Unsupported(f"`self.{name}`", node_where(self.module, node),
                              "forward reads a tensor that is not a parameter or saved buffer of this module "
                              "itself; only those can be declared")
        if name in WORDS or not name.isidentifier():
            raise Unsupported(f"`self.{name}`", node_where(self.module, node), "a name a spec cannot declare")
        what = "param" if isinstance(value, torch.nn.Parameter) else "buffer"
        dims = ", ".join(slot(f"{name}__size{i}", int(d)) for i, d in enumerate(value.shape))
        self.tensors[name] = f"{what} {name}: {_dtype_name(value.dtype)}[{dims}]"
        self.children.add(name)
        return _Item("name", text=name)

    def _getitem(self, node) -> _Item:
        base = self.items[node.args[0]]
        root = node.args[0] if base.kind in ("multi", "group") else base.base
        path = (base.path if base.kind == "part" else ()) + (node.args[1],)
        value = self.v0[node]
        if isinstance(value, (tuple, list)):
            return _Item("part", base=root, path=path)
        if root.op != "call_module":
            if len(path) != 1:
                raise calls.Refused("a result of a result of an op")
            return _Item("piece", base=root, path=path)
        kind = layer_kind(self.gm.get_submodule(root.target))
        index = _flat_index(self.v0[root], path)
        return _Item("ref", base=root, text=kind.results[index])

    def _module(self, node, skip) -> _Item:
        target = node.target
        mod = self.gm.get_submodule(target)
        what = f"{type(mod).__name__} `{self._qual(target)}`"
        if node.args and isinstance(node.args[0], (list, tuple)) and target not in self.shared:
            return self._list_call(node, mod, what)
        if not node.args or not self.is_tensor(node.args[0]):
            raise Unsupported(what, node_where(self.module, node), "a module called with something other "
                              "than a tensor first (a list, a keyword) cannot be imported yet")
        kind = layer_kind(mod)
        if target in self.shared:
            return self._shared_use(node, mod, kind, skip, what)
        alias = None if target in self.called else target
        self.called.add(target)
        self.children.add(target)
        extra = [x for x in _flat(node.args[1:]) + _flat(node.kwargs) if isinstance(x, fx.Node)]
        if kind is not None:
            multi = isinstance(self.v0[node], tuple)
            text = self._layer(kind, mod, target, target)
            item = _Item("multi" if multi else "stage", node.args[0], text, alias)
            if (len(node.args) > 1 or node.kwargs) and node not in skip:
                self._states(node, kind, item, what)
            return item
        if _plain_sequential(mod):
            return self._sequential(node, mod, what)
        if type(mod).__module__.startswith("torch.nn"):
            raise Unsupported(what, module_where(mod), f"netspec has no layer kind for torch.nn.{type(mod).__name__}")
        if extra:
            return self._block_of_several(node, mod, alias, what)
        if len(node.args) > 1 or node.kwargs:
            given = [_shown(a) for a in node.args[1:]] + [f"{k}={_shown(v)}" for k, v in node.kwargs.items()]
            raise Unsupported(what, node_where(self.module, node), f"a submodule called with values other than "
                              f"tensors ({', '.join(given)}) cannot be imported yet")
        inst = self.imp.block(mod, self._qual(target), [[self.v0[node.args[0]]], [self.v1[node.args[0]]]])
        self.inner.append(inst)
        return _Item("stage", node.args[0], self.imp.token(inst), alias)

    def _list_call(self, node, mod, what) -> _Item:
        """A submodule called with a list of tensors that its forward concatenates (a DenseNet
        layer, ``layer(features)``): the ``cat`` written here, piped into its network."""
        parts = list(node.args[0])
        if len(node.args) > 1 or node.kwargs or not parts or not all(self.is_tensor(p) for p in parts) \
                or layer_kind(mod) is not None or type(mod).__module__.startswith("torch.nn"):
            raise Unsupported(what, node_where(self.module, node), "a module called with something other "
                              "than a tensor first (a list, a keyword) cannot be imported yet")
        alias = None if node.target in self.called else node.target
        self.called.add(node.target)
        self.children.add(node.target)
        inst = self.imp.block(mod, self._qual(node.target), [[[self.v0[p] for p in parts]],
                                                             [[self.v1[p] for p in parts]]])
        self.inner.append(inst)
        token = self.imp.token(inst)
        if len(parts) == 1:
            return _Item("stage", parts[0], token, alias)
        dim = f", dim={inst.joined}" if inst.joined else ""
        tail = f" -> {token}" + (f" as {alias}" if alias else "")
        return _Item("source", nodes=parts, render=lambda names: f"cat({', '.join(names)}{dim}){tail}")

    def _block_of_several(self, node, mod, alias, what) -> _Item:
        """A submodule called with several tensors (``self.up(x, skip)``): a network whose
        first input is piped, the others given by keyword (``Up(skip=x2)``)."""
        if node.kwargs or not all(self.is_tensor(a) for a in node.args):
            raise Unsupported(what, node_where(self.module, node), "a submodule called with something other "
                              "than tensors by position cannot be imported yet")
        inst = self.imp.block(mod, self._qual(node.target), [[self.v0[a] for a in node.args],
                                                             [self.v1[a] for a in node.args]])
        self.inner.append(inst)
        token, names = self.imp.token(inst), [d.partition(":")[0] for d in inst.inputs[1:]]
        item = _Item("stage", node.args[0], token, alias, nodes=list(node.args[1:]))
        item.render = lambda vals: token + "\x04" + ", ".join(f"{n}={v}" for n, v in zip(names, vals)) + "\x04"
        return item

    def _find_shared(self, nodes, needed) -> None:
        """A module with weights that forward calls at several places: one ``shared``
        declaration, each call a use of its name."""
        count: dict[str, int] = {}
        for n in nodes:
            if n in needed and n.op == "call_module" and "." not in n.target:
                count[n.target] = count.get(n.target, 0) + 1
        for target, k in count.items():
            if k > 1 and any(True for _ in self.gm.get_submodule(target).state_dict()):
                self.shared[spec_name(target)] = None

    def _shared_use(self, node, mod, kind, skip, what) -> _Item:
        name = spec_name(node.target)
        self.called.add(node.target)
        self.children.add(node.target)
        if self.shared[name] is None:
            if kind is not None:
                text = self._layer(kind, mod, name, node.target)
            elif len(node.args) == 1 and not node.kwargs and not type(mod).__module__.startswith("torch.nn"):
                inst = self.imp.block(mod, self._qual(node.target), [[self.v0[node.args[0]]], [self.v1[node.args[0]]]],
                                      fixed=True)
                self.inner.append(inst)
                text = self.imp.token(inst)
            else:
                raise Unsupported(what, node_where(self.module, node), "a module called at several places "
                                  "that is neither a layer kind nor a module of one tensor cannot be shared")
            self.shared[name] = f"shared {name} = {text}"
        item = _Item("multi" if isinstance(self.v0[node], tuple) else "stage", node.args[0], name)
        if (len(node.args) > 1 or node.kwargs) and node not in skip:
            if kind is None:
                raise Unsupported(what, node_where(self.module, node), "a shared module called with more than "
                                  "one tensor cannot be imported yet")
            self._states(node, kind, item, what)
        return item

    def _states(self, node, kind, item: _Item, what: str) -> None:
        """The tensors a layer's forward takes after the input, by keyword (``lstm(x, (h0, c0))``:
        ``LSTM(8, h0=h0, c0=c0)``), and its forward-only arguments (``need_weights=false``); a
        key and value that are the query itself are left out (self-attention)."""
        given = list(zip(kind.state_inputs, _flat(node.args[1:])))
        if len(_flat(node.args[1:])) > len(kind.state_inputs):
            given = []
        given += list(node.kwargs.items())
        states, names, extra = [], [], []
        for name, v in given:
            if v is None or (name in ("key", "value") and v is node.args[0]):
                continue
            if name in kind.state_inputs and self.is_tensor(v):
                states.append(v)
                names.append(name)
            elif name in getattr(kind, "forward_only", ()) and not isinstance(v, fx.Node):
                extra.append(f"{name}={literal(v)}")
            else:
                raise Unsupported(what, node_where(self.module, node), f"a layer called with `{name}`, which "
                                  "netspec cannot pass to it")
        head, _, tail = item.text.partition("(")
        args = [tail[:-1]] if tail else []
        item.nodes = states
        item.render = lambda vals: f"{head}({', '.join(args + extra + [f'{n}={v}' for n, v in zip(names, vals)])})"

    def _sequential(self, node, mod, what) -> _Item:
        if len(mod) == 0:
            raise Unsupported(what, module_where(mod), "an empty nn.Sequential has nothing to write")
        x0, x1 = self.v0[node.args[0]], self.v1[node.args[0]]
        path = self._qual(node.target)
        if _numbered_only(mod):
            stages = []
            for i, child in enumerate(mod):
                text, x0, x1 = self._child(child, f"{path}.{i}", x0, x1)
                stages.append(text)
            return _Item("group", node.args[0], stages=stages, alias=node.target)
        group, _, _ = self._group(mod, path, x0, x1)
        return _Item("group", node.args[0], stages=[(group, node.target)], alias=node.target)

    def _group(self, mod, path: str, x0, x1) -> tuple[Group, Any, Any]:
        """An nn.Sequential with nested Sequentials or named modules: a group named with ``as``."""
        group = Group()
        for i, (name, child) in enumerate(mod.named_children()):
            cpath = f"{path}.{name}"
            if not quotable(name):  # `as "block1-0"` holds any other name torch allows
                raise Unsupported(f"{type(child).__name__} `{cpath}`", module_where(mod),
                                  f"torch names it {name!r}; a spec's quoted name holds no `\"`, `\\` "
                                  "or control character")
            if _plain_sequential(child) and len(child):
                text, x0, x1 = self._group(child, cpath, x0, x1)
            else:
                text, x0, x1 = self._child(child, cpath, x0, x1)
            group.parts.append((text, None if name == str(i) else name))
        return group, x0, x1

    def _child(self, child, path: str, x0, x1) -> tuple[str, Any, Any]:
        """One module of an nn.Sequential as a stage, and its outputs on the two samples."""
        kind = layer_kind(child)
        if kind is not None:
            hint = re.sub(r"[^A-Za-z0-9_]", "_", path.removeprefix(f"{self.path}."))  # `block1-0`: a quoted name
            hint = f"_{hint}" if hint[:1].isdigit() else hint
            text = self._layer(kind, child, hint, path.removeprefix(f"{self.path}."))
        elif type(child).__module__.startswith("torch.nn"):
            raise Unsupported(f"{type(child).__name__} `{path}`", module_where(child),
                              f"netspec has no layer kind for torch.nn.{type(child).__name__}")
        else:
            inst = self.imp.block(child, path, [[x0], [x1]])
            self.inner.append(inst)
            text = self.imp.token(inst)
        with torch.no_grad():
            x0, x1 = child(x0), child(x1)
        if not isinstance(x0, torch.Tensor):
            raise Unsupported(f"{type(child).__name__} `{path}`", module_where(child),
                              "a module inside an nn.Sequential returns more than one tensor")
        return text, x0, x1

    # -- modules of a container called one by one ---------------------------------------------
    def _indexed_runs(self, nodes, needed) -> tuple[dict, set]:
        """Calls into a container (``self.enc[0](x)``, ``for layer in self.layers``), each module
        once, in order, on the one before's result: one chain named after the container,
        written at its last call; the earlier calls (and the first results they pass on) are
        absorbed into it."""
        by_parent: dict[str, list[fx.Node]] = {}
        for n in nodes:
            if n in needed and n.op == "call_module" and "." in n.target:
                by_parent.setdefault(n.target.rpartition(".")[0], []).append(n)
        runs, absorbed = {}, set()
        for parent, called in by_parent.items():
            try:
                self._check_run(parent, called, needed)
            except Unsupported as err:
                if not self.imp.partial:
                    raise
                self.refused.update((n, err) for n in called)  # each call stubbed on its own
                continue
            for a, b in zip(called, called[1:]):
                absorbed.add(a)
                if b.args[0] is not a:
                    absorbed.add(b.args[0])
            runs[called[-1]] = (parent, called)
        return runs, absorbed

    def _check_run(self, parent: str, called: list[fx.Node], needed) -> None:
        container = self.module.get_submodule(parent)
        what = f"{type(container).__name__} `{self._qual(parent)}`"
        where = node_where(self.module, called[0])
        if "." in parent or not isinstance(container, (torch.nn.Sequential, torch.nn.ModuleList)):
            raise Unsupported(what, where, "forward calls a module inside a container other than an nn.Sequential "
                              "or nn.ModuleList that is its own attribute; no `as` name can write its place")
        ok = [n.target for n in called] == [f"{parent}.{i}" for i in range(len(container))]
        for a, b in zip(called, called[1:]):
            first = b.args[0] if b.args else None
            via = first if first is not a and isinstance(first, fx.Node) and first.target is _getitem \
                and first.args == (a, 0) else None
            ok = ok and (first is a or via is not None) and \
                {u for u in a.users if u in needed} == {via or b} and (via is None or len(via.users) == 1)
        if not ok:
            raise Unsupported(what, where, "forward calls the modules of a container other than each once, in "
                              "order, each on the one before's first result; only that is a chain a spec can write")

    def _indexed(self, run, skip) -> _Item:
        parent, called = run
        self.children.add(parent)
        self.called.add(parent)
        stages, states, renders = [], [], []
        for n in called:
            mod = self.gm.get_submodule(n.target)
            kind = layer_kind(mod)
            if kind is None:
                return self._indexed_group(parent, called)
            text = self._layer(kind, mod, n.target.replace(".", "_"), n.target)
            item = _Item("stage", None, text)
            if (len(n.args) > 1 or n.kwargs) and n not in skip:
                self._states(n, kind, item, f"{type(mod).__name__} `{self._qual(n.target)}`")
            renders.append((len(states), len(item.nodes), item.render, text))
            states += item.nodes
            stages.append(text)
        if len(called) == 1:
            return self._indexed_group(parent, called)
        item = _Item("group", called[0].args[0], stages=stages, alias=parent, nodes=states)
        if states:
            item.render = lambda vals: [r(vals[i:i + k]) if r else t for i, k, r, t in renders]
        return item

    def _indexed_group(self, parent: str, called: list[fx.Node]) -> _Item:
        """A container of other modules, or of one: a group named with ``as`` (each module
        passing one tensor to the next)."""
        first = called[0].args[0]
        x0, x1 = self.v0[first], self.v1[first]
        group = Group()
        for n in called:
            if len(n.args) != 1 or n.kwargs:
                raise Unsupported(f"{type(self.gm.get_submodule(n.target)).__name__} `{self._qual(n.target)}`",
                                  node_where(self.module, n), "a module of a container called with more than "
                                  "one tensor cannot be imported yet")
            text, x0, x1 = self._child(self.gm.get_submodule(n.target), self._qual(n.target), x0, x1)
            group.parts.append((text, None))
        return _Item("group", first, stages=[(group, parent)], alias=parent)

    def _layer(self, kind, mod, hint: str, target: str) -> str:
        """A layer's stage, its integers as slots hinted ``hint__argument``."""
        try:
            text = layer_stage(kind, mod)
        except TypeError as e:  # an attribute the kind's arguments cannot hold
            raise Unsupported(f"{type(mod).__name__} `{self._qual(target)}`", module_where(mod),
                              f"its arguments cannot be read back from its attributes ({e})") from None
        return SLOT.sub(lambda m: slot(f"{hint}__{m.group(1)}", int(m.group(2))), text)

    def _qual(self, target: str) -> str:
        return f"{self.path}.{target}" if self.path else target

    # -- chains ---------------------------------------------------------------------------------
    def _chains(self, order, outputs, needed) -> tuple[list[Stmt], dict, dict]:
        users = {n: sum(1 for u in n.users if u in needed and (u.op == "output" or (
                        u in self.items and self.items[u].kind != "scalar"))) for n in order}
        names: dict[fx.Node, str] = {}
        stmts: list[Stmt] = []
        tail: dict[fx.Node, Stmt] = {}  # a node that ends a statement -> the statement
        ends = {n for n in order if self.items[n].kind in ("multi", "group")} | set(outputs)
        for n in order:
            it = self.items[n]
            if it.kind == "name":
                names[n] = spec_name(it.text)
            elif it.kind == "ref":
                names[n] = f"{self._named(it.base, names, tail)}.{it.text}"
            elif it.kind == "piece":
                names[n] = self._piece(it, tail)
            elif it.kind in ("stage", "multi", "group"):
                self._pipe(n, it, tail, users, ends, names, stmts)
            elif it.kind == "source":
                stmt = Stmt(self._stmt_name(n.name), it.render([self._named(x, names, tail) for x in it.nodes]))
                self._add(n, stmt, stmts, tail, names, it.comment)
        return stmts, names, tail

    def _piece(self, it, tail) -> str:
        """A result of an op with several (``chunk``): a name of the statement's targets."""
        stmt = tail[it.base]
        stmt.targets = stmt.targets or ["_"] * len(self.v0[it.base])
        index = it.path[0]
        stmt.targets[index] = f"{stmt.name}{index}"
        return stmt.targets[index]

    def _pipe(self, n, it, tail, users, ends, names, stmts) -> None:
        p = it.pipe
        if it.render is not None and it.kind == "group":
            it.stages = it.render([self._named(x, names, tail) for x in it.nodes])
        elif it.render is not None:
            it.text = it.render([self._named(x, names, tail) for x in it.nodes])
        stmt = tail.get(p)
        if stmt is not None and it.kind != "group" and users.get(p) == 1 and p not in ends:
            del tail[p]
            stmt.stages.append((it.text, it.alias))
            if it.comment:
                stmt.comments.append(it.comment)
            tail[n] = stmt
            names[n] = stmt.name
            stmt.shape = self._shape(n)
            return
        if it.kind == "group":
            stages = [s if isinstance(s, tuple) else (s, None) for s in it.stages]
            stmt = Stmt(spec_name(it.alias), self._named(p, names, tail), stages, group=True)
        else:
            stmt = Stmt(self._stmt_name(n.name), self._named(p, names, tail), [(it.text, it.alias)])
        self._add(n, stmt, stmts, tail, names, it.comment)

    def _stmt_name(self, name: str) -> str:
        """A binding's name: the node's, unless a shared module or declared tensor has it."""
        name = spec_name(name)
        return f"{name}_out" if name in self.shared or name in self.tensors else name

    def _named(self, p, names, tail) -> str:
        """The name of a value another statement reads: a statement ends there, and is
        named after the node that ends it (its own name for an nn.Sequential)."""
        stmt = tail.get(p)
        if stmt is not None and not stmt.group:
            stmt.name = self._stmt_name(p.name)
            names[p] = stmt.name
        return names[p]

    def _add(self, n, stmt, stmts, tail, names, comment) -> None:
        if comment:
            stmt.comments.append(comment)
        stmt.shape = self._shape(n)
        stmts.append(stmt)
        tail[n] = stmt
        names[n] = stmt.name

    def _shape(self, n) -> str | None:
        if not self.shapes or not self.is_tensor(n):
            return None
        return self.scope.shape(self.v0[n], self.v1[n])


_getitem = __import__("operator").getitem
def _shown(v) -> str:
    """An argument in a message: as the spec would write it, else its type."""
    try:
        return literal(v)
    except TypeError:
        return type(v).__name__


def _dtype_name(dt) -> str:
    return str(dt).removeprefix("torch.")


def _plain_sequential(mod) -> bool:
    """An nn.Sequential (or a subclass such as torchvision's Conv2dNormActivation) that runs
    its modules one after another."""
    return isinstance(mod, torch.nn.Sequential) and type(mod).forward is torch.nn.Sequential.forward


def _numbered_only(mod) -> bool:
    """An nn.Sequential of two or more numbered modules, none a Sequential: a binding of its
    own name (its modules numbered from 0) writes it."""
    names = [name for name, _ in mod.named_children()]
    return len(mod) >= 2 and names == [str(i) for i in range(len(mod))] and \
        not any(_plain_sequential(c) for c in mod)


_SAME_VALUES = {"to", "cuda", "cpu", "float", "double", "half", "contiguous", "detach", "requires_grad_"}


def _zeros(n: fx.Node) -> bool:
    """Whether a traced value is a tensor of zeros made in forward (``torch.zeros(...)``,
    moved or cast): an initial state torch would make itself."""
    while n.op == "call_method" and n.target in _SAME_VALUES:
        n = n.args[0]
    return (n.op == "call_function" and n.target in (torch.zeros, torch.zeros_like)) or (
        n.op == "call_method" and n.target == "new_zeros")


def _flat(x) -> list:
    if isinstance(x, (tuple, list)):
        return [y for v in x for y in _flat(v)]
    if isinstance(x, dict):
        return [y for v in x.values() for y in _flat(v)]
    if isinstance(x, slice):
        return _flat([x.start, x.stop, x.step])
    return [x]


def _ints(v) -> bool:
    return isinstance(v, (tuple, list, torch.Size)) and all(isinstance(x, int) for x in v)


def _flat_index(value, path: tuple) -> int:
    """The position, among the leaves of a nested tuple, of the leaf at ``path``."""
    index = 0
    for step in path:
        for before in value[:step]:
            index += len(_flat(before)) if isinstance(before, (tuple, list)) else 1
        value = value[step]
    return index


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "/").replace('"', "'").replace("\n", " ") + '"'
