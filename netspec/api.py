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

import functools
import importlib.util
import itertools
import linecache
import os
import types
import weakref
from typing import TYPE_CHECKING, Any

from netspec import ast as A
from netspec.checker import check_text
from netspec.diagnostics import Diagnostic, Reporter, render
from netspec.graph import CheckResult, TypedNetwork
from netspec.source import check_overrides, read_spec, shown_name

if TYPE_CHECKING:
    from netspec.build import ClassInfo, Generated

__all__ = ["PinnedValueError", "Spec", "SpecError", "check_file", "from_module", "load", "loads", "module"]

_counter = itertools.count()


class SpecError(Exception):
    """The spec has errors (or cannot be built); ``diagnostics`` lists them."""

    def __init__(self, diagnostics: list[Diagnostic], text: str = ""):
        self.diagnostics = diagnostics
        lines = A.source_lines(text)  # split once, at newlines only, as spans count lines
        shown = "\n\n".join(render(d, lines, color=False) for d in diagnostics if d.severity == "error")
        super().__init__(shown or "the spec has errors")


class Spec:
    """A checked spec: its typed graph, its generated code, and modules built from it."""

    def __init__(self, file: str, text: str, result: CheckResult, overrides: dict[str, Any]):
        self.file = file
        self.text = text  # the text as read (bytes that are not UTF-8 shown replaced)
        self.result = result
        self.overrides = dict(overrides)
        self._generated: Generated | None = None
        self._namespace: types.ModuleType | None = None
        self._specs: dict[str, Spec] = {}  # checked again with values of pinned parameters (module)

    def __repr__(self) -> str:
        """What `netspec check FILE` prints: each network's table, the diagnostics, and the
        summary line."""
        from netspec.report import network_table

        parts = [network_table(n) for n in self.result.networks]
        parts += [render(d, self.lines, color=False) for d in self.result.reporter.items]
        errors = len(self.result.reporter.errors)
        warnings = len(self.result.reporter.items) - errors
        counts = [f"{errors} error{'s' * (errors != 1)}"] if errors else ["ok"]
        counts += [f"{warnings} warning{'s' * (warnings != 1)}"] if warnings else []
        return "\n\n".join(parts + [f"{self.file}: {', '.join(counts)}"])

    # -- the typed graph -------------------------------------------------------------------------
    @property
    def ok(self) -> bool:
        return self.result.ok

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return list(self.result.reporter.items)

    @functools.cached_property
    def lines(self) -> list[str]:
        """The lines diagnostics count, to show beside them: split once for all of them."""
        return A.source_lines(self.text)

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
            from netspec.build import BuildError, generate

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
            if importlib.util.find_spec("torch") is None:
                from netspec.extras import install_line
                raise ImportError(f"a built module needs torch: {install_line('torch')}")
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
        parameters, and any input size its layers need, e.g. ``inplanes=64``), by the names
        the spec gives them (a name the built code renames, `len` or `scan`, is `len_` there).

        A parameter the class takes at its checked value only (``ClassInfo.checked``: a
        slice's bounds, a boolean or string argument, an equality that holds for the value)
        given another value is what ``check --set`` does: the spec is checked again with the
        network's parameters in ``params`` as overrides, and built for them; where that
        check has errors, :class:`PinnedValueError` (a :class:`SpecError`) gives them."""
        info = self.class_info(name)
        spec_names = {**info.symbols, **info.params}
        params = {spec_names.get(k, k): v for k, v in params.items()}
        changed = pinned_changes(info, params)
        if not changed:
            return self.module_class(name)(**params)
        given = {p: params[kw] for p, kw in info.params.items() if kw in params}
        return self._specialized(info, given, changed).module_class(info.network)(**params)

    def _specialized(self, info: ClassInfo, given: dict[str, Any], changed: list[str]) -> Spec:
        """This spec checked again with ``given`` over its overrides (as ``load`` with them
        would), one per set of values; PinnedValueError where that check has errors."""
        overrides = {**self.overrides, **given}
        key = repr(sorted(overrides.items()))
        cache = self._specs
        if key not in cache:
            check_overrides(overrides)
            result = check_text(self.text, self.file, overrides)
            errors = [d for d in result.reporter.items if d.severity == "error"]
            if errors:
                raise PinnedValueError(info, given, changed, errors, self)
            cache[key] = Spec(self.file, self.text, result, overrides)
        return cache[key]


def pinned_changes(info: ClassInfo, params: dict[str, Any]) -> list[str]:
    """The parameters among ``params`` (by keyword) that the class pins (ClassInfo.checked)
    and that are given another value (a bool for an int, or 1 for True, is another)."""
    out = []
    for p, value in info.checked.items():
        kw = info.params.get(p, p)
        if kw in params and (type(params[kw]) is not type(value) or params[kw] != value):
            out.append(p)
    return out


class PinnedValueError(SpecError, ValueError):
    """``Spec.module`` was given a value of a parameter the class pins, and the spec checked
    with that value has errors (``diagnostics``): what ``load`` with the value raises, and
    a ValueError, as the class's own refusal is."""

    def __init__(self, info: ClassInfo, given: dict[str, Any], changed: list[str], errors: list[Diagnostic],
                 spec: Spec):
        super().__init__(errors, spec.text)
        from netspec.build import literal, source_name

        p = changed[0]
        sets = " ".join(f"--set {q}={_written(given[q])}" for q in changed)
        line = info.pinned.get(p)
        where = f": line {line} of {source_name(spec.file)} holds only for that value" if line else ""
        self.args = (f"{info.class_name} needs {info.params.get(p, p)}={literal(info.checked[p])}{where}, and "
                     f"`check {sets}` refuses the spec:\n\n{self.args[0]}",)


def _written(value: Any) -> str:
    """A value as ``--set`` takes it: the language's literals (``true``, ``"same"``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value + '"'
    return repr(value)


class _SourceKeeper:
    """Held by a built module's globals: its source leaves linecache when they go."""


def _is_text(source) -> bool:
    return isinstance(source, str) and ("\n" in source or "{" in source)


def unknown_overrides(overrides: dict[str, Any], results: list[CheckResult]) -> list[str]:
    """The names among ``overrides`` that no network of the parsed specs has as a parameter
    (none when a spec did not parse: its parameters are unknown)."""
    if any(r.module is None for r in results):
        return []
    known = {p.name for r in results for net in r.module.networks for p in net.params}
    return [name for name in overrides if name not in known]


def check_file(path: str | os.PathLike, overrides: dict[str, Any] | None = None) -> Spec:
    """Read and check a spec file, whatever its diagnostics (see ``Spec.ok``); a missing or
    unreadable file raises :class:`netspec.errors.UsageError`."""
    path = os.fspath(path)
    reporter = Reporter()
    text, shown = read_spec(path, reporter)
    name = shown_name(path)
    result = CheckResult(None, [], reporter) if text is None else check_text(text, name, overrides, reporter)
    return Spec(name, shown, result, overrides or {})


def load(source: str | os.PathLike, overrides: dict[str, Any] | None = None, *, strict: bool = True) -> Spec:
    """Parse and check a spec: a path, or the text of a spec (any string with a ``{`` or a
    newline). ``overrides`` gives parameters values, as ``--set`` does. With ``strict``
    (the default) a spec with errors raises :class:`SpecError`; a missing or unreadable
    file, or an override that names no parameter or has a value the language cannot write
    (a list, a dict, None), raises :class:`netspec.errors.UsageError`."""
    if _is_text(source):
        return loads(source, overrides, strict=strict)
    check_overrides(overrides)
    spec = check_file(source, overrides)
    check_overrides(overrides, spec.result.module)
    if strict and not spec.ok:
        raise SpecError([d for d in spec.result.reporter.items if d.severity == "error"], spec.text)
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


def from_module(module: Any, inputs: dict[str, str], name: str | None = None, *, partial: bool = False) -> str:
    """The text of a spec for a torch module (``netspec import``): ``inputs`` maps input
    names to types in the spec's syntax (``{"x": "float[batch, 3, 224, 224]"}``). Raises
    :class:`netspec.importer.Unsupported` for a module or call the language cannot express,
    unless ``partial``. Imports torch."""
    from netspec.importer import from_module as imported

    return imported(module, inputs, name, partial=partial)
