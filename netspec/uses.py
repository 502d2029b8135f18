"""How many uses of networks checking a spec expands to, counted from its text.

Every use of a network is checked anew (its body instantiated with the caller's sizes), so
a network that uses the one below it twice, fifteen levels deep, expands to 65,534 uses from
a few hundred bytes. The count here is a lower bound, read before anything is checked: each
use counts one, plus the uses in the network it uses, times the count of a repetition
(`Block * 12`) where that is a number. The checker refuses a spec whose count passes
limits.MAX_USES before checking it, and counts the uses it checks as a backstop.
"""

from __future__ import annotations

from . import ast as A
from .diagnostics import Span
from .limits import MAX_REPEAT, MAX_USES

_PAST = MAX_USES + 1  # counts are capped here: past it, how far does not matter


class UseCounter:
    """The fewest uses of networks that checking each network once expands to."""

    def __init__(self, asts: dict[str, A.Network]):
        self.asts = asts
        self._known: dict[str, int] = {}

    def in_network(self, name: str) -> int:
        """The uses checking network ``name`` once expands to (its own uses, and theirs)."""
        if name not in self._known:
            self._known[name] = 0  # a cycle counts nothing here; it is an error of its own
            total = 0
            for b in self.asts[name].bindings:
                total = min(total + self.in_chain(b.chain), _PAST)
            self._known[name] = total
        return self._known[name]

    def in_chain(self, chain: A.Chain) -> int:
        return min(self._in_tree(chain.source) + self.in_stages(chain.stages), _PAST)

    def in_stages(self, stages: list[A.Stage]) -> int:
        total = 0
        for st in stages:
            times = _times(st)
            total = min(total + times * self.in_core(st.core), _PAST)
        return total

    def in_core(self, core: A.StageCall | A.StageGroup) -> int:
        if isinstance(core, A.StageGroup):
            return self.in_stages(core.stages)
        own = 1 + self.in_network(core.name) if core.name in self.asts else 0
        return min(own + self._in_tree(core.args), _PAST)

    def _in_tree(self, node) -> int:
        """Uses anywhere under ``node`` (arguments, sources), each counted once."""
        total = 0
        for n in A.walk(node):
            if isinstance(n, (A.Call, A.StageCall)) and n.name in self.asts:
                total = min(total + 1 + self.in_network(n.name), _PAST)
        return total

    def past_limit(self) -> tuple[Span, set[str]] | None:
        """Where the uses of the whole file (each network checked once) first pass
        MAX_USES: the stage, and the networks not to check (that one, and every later
        one that uses networks). None when the file stays within it."""
        total = 0
        names = list(self.asts)
        for i, name in enumerate(names):
            for b in self.asts[name].bindings:
                if self.asts.keys().isdisjoint(b.references().calls):
                    continue  # it uses no network
                for st in b.chain.stages:
                    times = _times(st)
                    total += times * self.in_core(st.core)
                    if total > MAX_USES:
                        return st.span, {name} | {n for n in names[i + 1:] if self.in_network(n)}
                total += self._in_tree(b.chain.source)
        return None


def _times(st: A.Stage) -> int:
    """A stage's repetition count where the text gives one the checker accepts, else 1 (a
    count past MAX_REPEAT is an error of its own, and nothing is repeated)."""
    if isinstance(st.repeat, A.Int) and 0 < st.repeat.value <= MAX_REPEAT:
        return st.repeat.value
    return 1
