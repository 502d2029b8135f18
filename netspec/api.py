"""The Python API: load a spec, read its typed graph, get a torch module for any network.

>>> from netspec import api
>>> spec = api.load("specs/vgg16.net", {"num_classes": 10})
>>> spec.network("VGG16").outputs[0][1].tensor.shape       # the typed graph
>>> model = spec.module("VGG16")                             # an nn.Module
>>> model = api.module("specs/resnet18.net", num_classes=10)

A module is made by executing the code ``netspec build`` writes (:attr:`Spec.code`) in a
fresh module namespace, so the API and the command can never disagree. torch is imported
only when a module is asked for.
"""

from __future__ import annotations

import itertools
import linecache
import os
import sys
import types
import weakref
from dataclasses import dataclass
from typing import Any

from netspec.build import BuildError, ClassInfo, Generated, generate
from netspec.diagnostics import Diagnostic, render
from netspec.infer import CheckResult, LayerNode, TypedNetwork, check_text
from netspec.source import check_overrides, read_source, shown_name
from netspec.syntax import source_lines

__all__ = ["Spec", "SpecError", "Observed", "load", "loads", "module"]

_counter = itertools.count()


class SpecError(Exception):
    """The spec has errors (or cannot be built); ``diagnostics`` lists them."""

    def __init__(self, diagnostics: list[Diagnostic], text: str = ""):
        self.diagnostics = diagnostics
        lines = source_lines(text)  # split once, at newlines only, as spans count lines
        shown = "\n\n".join(render(d, lines, color=False) for d in diagnostics if d.severity == "error")
        super().__init__(shown or "the spec has errors")


@dataclass
class Observed:
    """One node's results in a run of a built module (see :meth:`Spec.trace`)."""

    network: TypedNetwork  # the typed network the node belongs to (an instance for a block use)
    node: LayerNode
    outputs: list  # torch tensors, one per result of the node
    path: str  # the module path of the class instance that ran it ("" for the root)


class Spec:
    """A checked spec: its typed graph, its generated code, and modules built from it."""

    def __init__(self, file: str, text: str, result: CheckResult, overrides: dict[str, Any]):
        self.file = file
        self.text = text
        self.result = result
        self.overrides = dict(overrides)
        self._generated: Generated | None = None
        self._namespace: types.ModuleType | None = None

    # -- the typed graph -------------------------------------------------------------------------
    @property
    def ok(self) -> bool:
        return self.result.ok

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return list(self.result.reporter.items)

    @property
    def networks(self) -> dict[str, TypedNetwork]:
        """Every network by name: the roots, and the networks used as stages (checked
        generically, over free symbols)."""
        return {n.name: n for n in self.result.networks}

    def network(self, name: str | None = None) -> TypedNetwork:
        """A network by name; without a name, the one network not used as a stage."""
        nets = self.networks
        if name is None:
            roots = [n for n in nets.values() if not n.generic]
            if len(roots) != 1:
                names = ", ".join(n.name for n in roots) or "none"
                raise ValueError(f"{self.file} has {len(roots)} networks not used as stages ({names}); "
                                 "name the one you want")
            return roots[0]
        if name not in nets:
            raise KeyError(f"{self.file} has no network `{name}`; it has: {', '.join(nets)}")
        return nets[name]

    # -- code --------------------------------------------------------------------------------------
    @property
    def generated(self) -> Generated:
        if self._generated is None:
            if not self.result.ok:
                raise SpecError([d for d in self.result.reporter.items if d.severity == "error"], self.text)
            try:
                gen = generate(self.result, self.file)
            except BuildError as e:
                raise SpecError(e.diagnostics, self.text) from None
            if not gen.ok:
                raise SpecError(gen.diagnostics, self.text)
            self._generated = gen
        return self._generated

    @property
    def code(self) -> str:
        """The Python source `netspec build` writes for this spec."""
        return self.generated.code

    def class_info(self, name: str | None = None) -> ClassInfo:
        return self.generated.classes[self.network(name).name]

    def namespace(self) -> types.ModuleType:
        """The generated code, executed once in a fresh module (imports torch)."""
        if self._namespace is None:
            code = self.code
            modname = f"netspec_built_{next(_counter)}"
            filename = f"<netspec {os.path.basename(self.file)} #{modname[14:]}>"
            linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
            mod = types.ModuleType(modname, f"Built from {self.file} by netspec.")
            mod.__file__ = filename
            # tracebacks show the generated lines while anything made from them lives
            keeper = _SourceKeeper()
            weakref.finalize(keeper, linecache.cache.pop, filename, None)
            mod.__dict__["__netspec_source__"] = keeper
            exec(compile(code, filename, "exec"), mod.__dict__)
            self._namespace = mod
        return self._namespace

    def module_class(self, name: str | None = None) -> type:
        """The nn.Module subclass of a network."""
        info = self.class_info(name)
        return getattr(self.namespace(), info.class_name)

    def module(self, name: str | None = None, **params) -> Any:
        """An instance of a network's class; ``params`` go to its constructor (the network's
        parameters, and any input size its layers need, e.g. ``inplanes=64``)."""
        return self.module_class(name)(**params)

    # -- observing a run ---------------------------------------------------------------------------
    def trace(self, module, *inputs, network: str | None = None) -> tuple[Any, list[Observed]]:
        """Run ``module`` (built from this spec for ``network``) on ``inputs`` and record
        every node's results, in networks used as stages too: layers through forward
        hooks, ops by reading forward's local variables after their statement.

        Returns the module's result and the observations. The typed networks they name
        are the ones the spec was checked with: compare them when the module was made with
        the checked parameter values.
        """
        import torch

        net = self.network(network)
        infos = {i.class_name: i for i in self.generated.classes.values()}
        observed: list[Observed] = []
        hooks = []
        frames: dict[int, tuple] = {}  # id(module instance) -> (typed net, info, path)
        codes = set()

        def flat(result) -> list:
            if isinstance(result, (tuple, list)):
                return [t for r in result for t in flat(r)]
            return [result]

        def attach(mod, typed: TypedNetwork, path: str):
            info = infos[type(mod).__name__]
            frames[id(mod)] = (typed, info, path)
            codes.add(type(mod).forward.__code__)
            for node, site in zip(typed.nodes, info.sites):
                if site.module is None:
                    continue
                sub = mod.get_submodule(site.module)

                def hook(_m, _args, result, node=node, typed=typed, path=path):
                    observed.append(Observed(typed, node, flat(result), path))

                hooks.append(sub.register_forward_hook(hook))
                if node.block is not None:
                    attach(sub, node.block, f"{path}.{site.module}" if path else site.module)

        attach(module, net, "")
        pending: dict[int, int] = {}  # id(frame) -> last line seen

        def local_trace(frame, event, arg):
            if event not in ("line", "return"):
                return local_trace
            key = frame.f_locals.get("self")
            entry = frames.get(id(key))
            if entry is None:
                return local_trace
            typed, info, path = entry
            last = pending.get(id(frame))
            line = frame.f_lineno if event == "line" else sys.maxsize
            if last is not None:
                for node, site in zip(typed.nodes, info.sites):
                    if site.line and site.line <= last <= site.end < line:
                        values = [frame.f_locals[n] for n in site.names]
                        observed.append(Observed(typed, node, values, path))
            pending[id(frame)] = line
            return local_trace

        def global_trace(frame, event, arg):
            if event == "call" and frame.f_code in codes:
                return local_trace
            return None

        old = sys.gettrace()
        sys.settrace(global_trace)
        try:
            with torch.no_grad():
                result = module(*inputs)
        finally:
            sys.settrace(old)
            for h in hooks:
                h.remove()
        return result, observed


class _SourceKeeper:
    """Held by a built module's globals: its source leaves linecache when they go."""


def _is_text(source) -> bool:
    return isinstance(source, str) and ("\n" in source or "{" in source)


def load(source: str | os.PathLike, overrides: dict[str, Any] | None = None, *, strict: bool = True) -> Spec:
    """Parse and check a spec: a path, or the text of a spec (any string with a ``{`` or a
    newline). ``overrides`` gives parameters values, as ``--set`` does. With ``strict``
    (the default) a spec with errors raises :class:`SpecError`; a missing or unreadable
    file, or an override that names no parameter or has a value the language cannot write
    (a list, a dict, None), raises :class:`netspec.source.UsageError`."""
    if _is_text(source):
        return loads(source, overrides, strict=strict)
    path = os.fspath(source)
    from netspec.diagnostics import Reporter

    check_overrides(overrides)
    reporter = Reporter()
    text, shown = read_source(path, reporter)
    name = shown_name(path)
    if text is None:
        result = CheckResult(None, [], reporter)
    else:
        result = check_text(text, name, overrides, reporter)
    check_overrides(overrides, result.module)
    spec = Spec(name, text or "", result, overrides or {})
    if strict and not result.ok:
        raise SpecError([d for d in result.reporter.items if d.severity == "error"], shown)
    return spec


def loads(text: str, overrides: dict[str, Any] | None = None, *, file: str = "<string>",
          strict: bool = True) -> Spec:
    """Parse and check the text of a spec."""
    check_overrides(overrides)
    result = check_text(text, file, overrides)
    check_overrides(overrides, result.module)
    spec = Spec(file, text, result, overrides or {})
    if strict and not result.ok:
        raise SpecError([d for d in result.reporter.items if d.severity == "error"], text)
    return spec


def module(source: str | os.PathLike, name: str | None = None, overrides: dict[str, Any] | None = None,
           **params) -> Any:
    """Shorthand: ``load(source, overrides).module(name, **params)``."""
    return load(source, overrides).module(name, **params)

