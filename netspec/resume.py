"""Resuming a network's check after the bindings that did not change (the language server).

A keystroke changes one statement of one network. The statements before it are the same
objects as in the last version of the document (netspec.ide.analysis keeps the parse of
every statement whose text and place did not change), and checking them again binds and
replays the same values, nodes and diagnostics. :class:`Resume`, kept from one version to
the next, holds for each network checked on its own (a network used as a stage is, once,
over free symbols; not its instances at each use) the state of its check before the first
binding that changed in the last version (where the next keystroke most likely lands
again; after its last binding in its first check), and that of its check at each of its
last parameter values (_VERSIONS: an edit of a parameter's default, undone or typed again,
puts back the whole check of that value instead of checking every binding again, each of
which reads it); the next check of the network starts from the state of the version with
its parameters, or else the last one, when:

* every binding before that point is the same object as then, and none of them uses a
  network or a scan (their checks read other networks);
* the network has the same name and span, the same inputs (the same objects), and the same
  parameters as the check reads them: their names and places, and the values it takes
  them at (defaults and overrides put in, tagged: 1, 1.0 and true differ); and no tensor
  or shared declaration;
* the check around it is the same: the networks' names, every parameter name, the allow
  comments, the overrides, whether equations may be assumed, and the counts of layers and
  uses of networks when the network's check starts, and whether it is checked over free
  symbols (used as a stage).

Inside the binding that changed, where it is a chain (one name) whose name, source and
first stages are those of the last version (equal ASTs: the same text at the same place),
the state is kept before the first stage that changed, with the chain's value there (a long
chain edited near its end); the stages before it must not use a network or a scan either.

Otherwise the network is checked from its start, as always. What the state holds: the
checker's values, names and caches of the network, the typed network's lists (its nodes,
inputs, bindings, the parameters its shapes depend on), the counts, and the diagnostics
reported so far in the network, with the sizes its refused input dims left unknown (what
states one is dropped when the check is finished, Reporter.finish, as in a fresh check).
Later steps of the check (marking in-place ops, naming the modules, the unused-value
warnings) run over the whole network each time. tests/test_ide.py,
tests/test_resume.py and tests/test_param_edits.py compare every version's check with a
fresh check's.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from operator import is_
from typing import TYPE_CHECKING, Any

from . import ast as A
from .graph import TypedNetwork
from .memo import tagged
from .scan import SCAN

if TYPE_CHECKING:
    from .checker import Checker, NetworkChecker

# the checker's own state of a network, copied (containers) or taken as it is
_CHECKER_STATE = ("values", "value_spans", "symbol_env", "_sources", "_same")
_CHECKER_PLAIN = ("symbols_refused", "unknown_sizes", "_group_counter", "here")
# what a TypedNetwork is made with (the same in both checks): not restored
_MADE_WITH = {"name", "span", "params", "param_env", "param_defaults", "param_names", "param_refs", "generic"}
_NET_STATE = tuple(f.name for f in fields(TypedNetwork) if f.name not in _MADE_WITH)
_VERSIONS = 4  # the checks of a network kept: of its last versions whose parameters differ


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
    stage: int | None = None  # inside binding ``at``: before this stage of its chain
    res: Any = None  # the chain's value before ``stage`` (checker.Results)
    names: tuple = ()  # (value, its name then) of ``res``: a later version may name them


@dataclass
class Kept:
    """What the last check of a network leaves for the next one."""

    context: tuple
    same: tuple  # the network's name, span, parameters' names, places and values, and inputs (by identity)
    bindings: list[A.Binding]
    snapshot: Snapshot | None
    clean: int = 0  # of ``bindings``, how many first ones are known to use no network or scan


class Resume:
    """The last check of each network of one document, by name (kept by its Analyzer)."""

    def __init__(self) -> None:
        self.kept: dict[str, list[Kept]] = {}  # the latest first
        self.resumed = 0  # bindings not checked again, in all (for tests and benchmarks)
        self.stages = 0  # stages of a changed binding's chain not checked again, in all

    def track(self, checker: Checker, nc: NetworkChecker, generic: bool = False) -> Tracker | None:
        """The tracker of a network checked on its own (``generic``: over free symbols, as a
        network used as a stage is); None where it cannot be resumed."""
        ast = nc.ast
        if ast.tensors or ast.shared:
            self.kept.pop(ast.name, None)
            return None
        context = (tuple(checker.asts), frozenset(checker.sizes.params), tuple(checker.module.allowed),
                   tuple(sorted(checker.overrides.items(), key=lambda kv: kv[0])), nc.strict,
                   checker.layer_count, checker.use_count, generic)
        return Tracker(self, nc, context, (ast.name, ast.span, ast.name_span, _parameters(nc), None, *ast.inputs))

    def last(self, name: str, context: tuple, same: tuple) -> tuple[Kept | None, Kept | None]:
        """The latest check of network ``name``, and the latest whose context and network
        (name, span, parameters and inputs) are these: a version before the last where an
        edit changed a parameter's value and an edit since put it back."""
        kept = self.kept.get(name, [])
        return (kept[0] if kept else None,
                next((k for k in kept if k.context == context and _identical(k.same, same)), None))

    def add(self, name: str, kept: Kept) -> None:
        """A network's check, kept before the ones of its other parameters' values."""
        older = [k for k in self.kept.get(name, []) if k.context != kept.context or not _identical(k.same, kept.same)]
        self.kept[name] = [kept, *older[:_VERSIONS - 1]]


def _parameters(nc: NetworkChecker) -> tuple:
    """What a network's check reads of its parameters: their names and places, and the
    values it takes them at (tagged: 1, 1.0 and true differ), defaults and overrides put in."""
    net = nc.net
    return (tuple((p.name, p.span) for p in nc.ast.params),
            *(tuple((k, tagged(v)) for k, v in d.items()) for d in (net.params, net.param_env, net.param_defaults)))


def _first_changed_stage(b: A.Binding, old: A.Binding) -> int | None:
    """The index of the first stage of ``b``'s chain that is not ``old``'s (their count where
    one chain extends the other); None where the bindings differ before their stages."""
    if b.targets or old.targets or b.name != old.name or b.name_span != old.name_span:
        return None
    ch, och = b.chain, old.chain
    if ch.source != och.source or ch.assertion != och.assertion:
        return None
    return next((i for i, (s, o) in enumerate(zip(ch.stages, och.stages)) if s != o),
                min(len(ch.stages), len(och.stages)))


def _identical(a: tuple | list, b: tuple | list) -> bool:
    return len(a) == len(b) and all(x is y or (not isinstance(x, A.Node) and x == y) for x, y in zip(a, b))


class Tracker:
    """One network's check: restores the kept state, and keeps the state for the next."""

    def __init__(self, resume: Resume, nc: NetworkChecker, context: tuple, same: tuple):
        self.resume, self.nc, self.context, self.same = resume, nc, context, same
        self.start_items = len(nc.reporter.items)
        self.start_layers, self.start_uses = nc.checker.layer_count, nc.checker.use_count
        bindings = nc.ast.bindings
        latest, self.last = resume.last(nc.ast.name, context, same)
        last = self.last or latest
        # where to keep the state: the first binding that changed since the last version
        # (since the one resumed from, where there is one); after the last binding in a first
        # check (for an edit of the header)
        self.at: int | None = len(bindings)
        self.stage_at: int | None = None  # inside binding ``at``: its chain's first stage that changed
        if last is not None:
            old = last.bindings
            same = list(map(is_, bindings, old))  # the first that is not the same object, at once
            self.at = same.index(False) if False in same else len(same)
            if self.at < min(len(bindings), len(old)):
                self.stage_at = _first_changed_stage(bindings[self.at], old[self.at])
        # the first bindings known to use no network or scan: those of the last version's
        # before ``at`` (the same objects), where the networks' names are the same
        self.clean = 0 if last is None or last.context[0] != context[0] else min(last.clean, self.at)
        self.snapshot: Snapshot | None = None
        self.restored = False
        self.chain: A.Chain | None = None  # the chain restored into: (its stage, its value) in ``resumed``
        self.resumed: tuple | None = None

    def restore(self) -> int | None:
        """The kept state put back: the number of bindings it holds (declarations included),
        or None where nothing is kept that this version can start from."""
        last = self.last
        if last is None or last.snapshot is None or self.at is None or not self._holds(last.snapshot):
            return None
        snap, nc = last.snapshot, self.nc
        for name, v in snap.checker.items():
            setattr(nc, name, _copied(v))
        for name, v in snap.net.items():
            setattr(nc.net, name, _copied(v))
        nc.checker.layer_count, nc.checker.use_count = snap.layers, snap.uses
        for d in snap.items:
            nc.reporter.add(d)
        # the sizes its refused input dims left unknown (declared before the kept state): what
        # states one is dropped when the check is finished, as in a fresh check
        nc.reporter.unknown_sizes.update(nc.unknown_sizes)
        self.snapshot, self.restored = snap, True
        self.resume.resumed += snap.at
        if snap.stage is not None:
            for v, name in snap.names:
                v.name = name
            self.chain = nc.ast.bindings[snap.at].chain
            self.resumed = (snap.stage, snap.res)
            self.resume.stages += snap.stage
        return snap.at

    def _holds(self, snap: Snapshot) -> bool:
        """Whether this version can start from ``snap``: its bindings before it are the same
        objects, and inside a binding, the stages before it are the same."""
        if snap.stage is None or snap.at < self.at:
            return snap.at <= self.at
        return snap.at == self.at and self.stage_at is not None and snap.stage <= self.stage_at

    def keep(self, i: int) -> None:
        """Before binding ``i`` (``at``; the count of bindings: after the last): keep the state
        here, where none of the bindings before it uses a network or a scan."""
        if self.snapshot is not None:
            return  # what was restored is kept
        asts, bindings, clean = self.nc.checker.asts, self.nc.ast.bindings, self.clean
        while clean < i:
            calls = bindings[clean].references().calls
            if not asts.keys().isdisjoint(calls) or SCAN.name in calls:
                return
            clean = self.clean = clean + 1
        self.snapshot = self._take(i)

    def stage_mark(self, ch: A.Chain) -> int:
        """Before which stage of ``ch`` to keep the state: the first that changed, where
        ``ch`` is the chain of the binding that changed; else -1."""
        if self.stage_at is None or self.restored or self.snapshot is None:
            return -1
        b = self.nc.ast.bindings[self.at]
        return self.stage_at if ch is b.chain and not b.targets else -1

    def keep_stage(self, ch: A.Chain, stage: int, res: Any) -> None:
        """Before stage ``stage`` of the chain of binding ``at`` (the state before the binding
        is kept): keep the state here, where the chain so far uses no network or scan."""
        calls = self.nc.checker.asts.keys() | {SCAN.name}
        for n in A.walk([ch.source, ch.stages[:stage]]):
            if isinstance(n, (A.StageCall, A.Call)) and n.name in calls:
                return
        snap = self._take(self.at)
        snap.stage, snap.res = stage, res
        snap.names = tuple((v, v.name) for v in (res.primary, *res.named.values()))
        self.snapshot = snap

    def _take(self, i: int) -> Snapshot:
        nc = self.nc
        return Snapshot(i, {name: _copied(getattr(nc, name)) for name in _CHECKER_STATE + _CHECKER_PLAIN},
                        {name: _copied(getattr(nc.net, name)) for name in _NET_STATE},
                        nc.checker.layer_count, nc.checker.use_count, nc.reporter.items[self.start_items:])

    def done(self) -> None:
        """The network checked: what the next version can start from."""
        self.resume.add(self.nc.ast.name, Kept(self.context, self.same, list(self.nc.ast.bindings), self.snapshot,
                                               self.clean))
