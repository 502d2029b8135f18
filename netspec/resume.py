"""Resuming a network's check after the bindings that did not change (the language server).

A keystroke changes one statement of one network. The statements before it are the same
objects as in the last version of the document (netspec.ide.analysis keeps the parse of
every statement whose text and place did not change), and checking them again binds and
replays the same values, nodes and diagnostics. :class:`Resume`, kept from one version to
the next, holds for each network checked on its own (not used as a stage) the state of its
check before the first binding that changed in the last version (where the next keystroke
most likely lands again); the next check of the network starts from that state, when:

* every binding before that point is the same object as then, and none of them uses a
  network or a scan (their checks read other networks);
* the network has the same name, span, parameters and inputs (the same objects), and no
  tensor or shared declaration;
* the check around it is the same: the networks' names, every parameter name, the allow
  comments, the overrides, whether equations may be assumed, and the counts of layers and
  uses of networks when the network's check starts.

Otherwise the network is checked from its start, as always. What the state holds: the
checker's values, names and caches of the network, the typed network's lists (its nodes,
inputs, bindings, the parameters its shapes depend on), the counts, and the diagnostics
reported so far in the network. Later steps of the check (marking in-place ops, naming the
modules, the unused-value warnings) run over the whole network each time. tests/test_ide.py
compares every version's diagnostics, JSON and table with a fresh check's.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from . import ast as A
from .graph import TypedNetwork
from .scan import SCAN

if TYPE_CHECKING:
    from .checker import Checker, NetworkChecker

# the checker's own state of a network, copied (containers) or taken as it is
_CHECKER_STATE = ("values", "value_spans", "symbol_env", "_sources", "_same")
_CHECKER_PLAIN = ("symbols_refused", "_group_counter", "here")
# what a TypedNetwork is made with (the same in both checks): not restored
_MADE_WITH = {"name", "span", "params", "param_env", "param_defaults", "param_names", "param_refs", "generic"}
_NET_STATE = tuple(f.name for f in fields(TypedNetwork) if f.name not in _MADE_WITH)


def _copied(v: Any) -> Any:
    return v.copy() if isinstance(v, (list, dict, set)) else v


@dataclass
class Snapshot:
    """A network's check before binding ``at``."""

    at: int
    checker: dict[str, Any]
    net: dict[str, Any]
    layers: int  # Checker.layer_count
    uses: int  # Checker.use_count
    items: list  # the diagnostics reported in the network so far, in order


@dataclass
class Kept:
    """What the last check of a network leaves for the next one."""

    context: tuple
    same: tuple  # the network's name, span, parameters and inputs (compared by identity)
    bindings: list[A.Binding]
    snapshot: Snapshot | None


class Resume:
    """The last check of each network of one document, by name (kept by its Analyzer)."""

    def __init__(self) -> None:
        self.kept: dict[str, Kept] = {}
        self.resumed = 0  # bindings not checked again, in all (for tests and benchmarks)

    def track(self, checker: Checker, nc: NetworkChecker) -> Tracker | None:
        """The tracker of a network checked on its own; None where it cannot be resumed."""
        ast = nc.ast
        if ast.tensors or ast.shared:
            self.kept.pop(ast.name, None)
            return None
        context = (tuple(checker.asts), frozenset(checker.sizes.params), tuple(checker.module.allowed),
                   tuple(sorted(checker.overrides.items(), key=lambda kv: kv[0])), nc.strict,
                   checker.layer_count, checker.use_count)
        return Tracker(self, nc, context, (ast.name, ast.span, ast.name_span, *ast.params, None, *ast.inputs))


def _identical(a: tuple | list, b: tuple | list) -> bool:
    return len(a) == len(b) and all(x is y or (not isinstance(x, A.Node) and x == y) for x, y in zip(a, b))


class Tracker:
    """One network's check: restores the kept state, and keeps the state for the next."""

    def __init__(self, resume: Resume, nc: NetworkChecker, context: tuple, same: tuple):
        self.resume, self.nc, self.context, self.same = resume, nc, context, same
        self.start_items = len(nc.reporter.items)
        self.start_layers, self.start_uses = nc.checker.layer_count, nc.checker.use_count
        bindings = nc.ast.bindings
        last = resume.kept.get(nc.ast.name)
        self.last = last if last is not None and last.context == context and _identical(last.same, same) else None
        # where to keep the state: the first binding that changed since the last version
        self.at: int | None = None
        if last is not None:
            old = last.bindings
            self.at = next((i for i, (b, o) in enumerate(zip(bindings, old)) if b is not o),
                           min(len(bindings), len(old)))
        self.snapshot: Snapshot | None = None

    def restore(self) -> int | None:
        """The kept state put back: the number of bindings it holds (declarations included),
        or None where nothing is kept that this version can start from."""
        last = self.last
        if last is None or last.snapshot is None or self.at is None or last.snapshot.at > self.at:
            return None
        snap, nc = last.snapshot, self.nc
        for name, v in snap.checker.items():
            setattr(nc, name, _copied(v))
        for name, v in snap.net.items():
            setattr(nc.net, name, _copied(v))
        nc.checker.layer_count, nc.checker.use_count = snap.layers, snap.uses
        for d in snap.items:
            nc.reporter.add(d)
        self.snapshot = snap
        self.resume.resumed += snap.at
        return snap.at

    def keep(self, i: int) -> None:
        """Before binding ``i`` (``at``; the count of bindings: after the last): keep the state
        here, where none of the bindings before it uses a network or a scan."""
        if self.snapshot is not None:
            return  # what was restored is kept
        asts = self.nc.checker.asts
        for b in self.nc.ast.bindings[:i]:
            calls = b.references().calls
            if not asts.keys().isdisjoint(calls) or SCAN.name in calls:
                return
        self.snapshot = self._take(i)

    def _take(self, i: int) -> Snapshot:
        nc = self.nc
        return Snapshot(i, {name: _copied(getattr(nc, name)) for name in _CHECKER_STATE + _CHECKER_PLAIN},
                        {name: _copied(getattr(nc.net, name)) for name in _NET_STATE},
                        nc.checker.layer_count, nc.checker.use_count, nc.reporter.items[self.start_items:])

    def done(self) -> None:
        """The network checked: what the next version can start from."""
        self.resume.kept[self.nc.ast.name] = Kept(self.context, self.same, list(self.nc.ast.bindings), self.snapshot)
