"""Long sizes in generated code, written over named intermediate sizes.

A size a constructor needs can be a long polynomial of floor divisions (the rows a pool in
ceil mode leaves, over the parameters of a network built once for every use), which reads
badly inline. :class:`SizeNames` names each floor division of such a size as a local
variable of ``__init__``, one assignment per pooled or convolved size, inner ones first::

    rows1 = (rows + 2 * p - k) // s + 1
    self.fc = nn.Linear(c * rows1 * cols1, 10)

A size that fits is written as it is. The names are drawn from the input size a division
is over (``rows1``, ``rows2`` for the size pooled again), else ``size1``; the order of the
requests alone decides them, so the output is deterministic.
"""

from __future__ import annotations

from typing import Callable

from .dims import Dim, Expr, Floor, Max, maximum, render, sym, symbols

LONG = 50  # a size rendered longer than this is written over named sizes


class SizeNames:
    """The floor divisions named in one method, and the assignments that define them."""

    def __init__(self, usable: Callable[[str], bool], take: Callable[[str], str], inputs: list[str]):
        self.usable = usable  # whether a local name is free
        self.take = take  # reserve it
        self.inputs = inputs  # the input sizes a name may be drawn from, in order
        self.named: dict[Floor, str] = {}
        self.order: list[Floor] = []  # in the order of definition: inner ones first
        self.written = 0  # how many of them :meth:`fresh` has handed out

    def shorten(self, d: Dim) -> Dim:
        """``d`` over named sizes where it is long, else ``d`` itself."""
        if isinstance(d, int) or len(render(d)) <= LONG:
            return d
        return self._over_names(d)

    def _over_names(self, d: Dim) -> Dim:
        """``d`` with every floor division in it named."""
        if isinstance(d, int):
            return d
        floors = {atom for mono in d.terms for atom, _ in mono if isinstance(atom, Floor)}
        for atom in sorted(floors, key=self._rank):
            self._name(atom)
        total: Dim = 0
        for mono, coeff in d.terms.items():
            term: Dim = coeff
            for atom, power in mono:
                if isinstance(atom, Max):  # its arguments over names, itself written out
                    base = maximum(*(self._over_names(a) for a in atom.args))
                else:
                    base = sym(atom) if isinstance(atom, str) else sym(self.named[atom])
                for _ in range(power):
                    term = term * base
            total = total + term
        return total

    def _stem(self, atom: Floor) -> str | None:
        """The one input size the division is over, if one."""
        over = [s for s in self.inputs if s in symbols(atom.num)]
        return over[0] if len(over) == 1 else None

    def _rank(self, atom: Floor) -> tuple:
        """Divisions are named in the order of the input sizes they are over, then of their text."""
        stem = self._stem(atom)
        return (self.inputs.index(stem) if stem else len(self.inputs), render(_alone(atom)))

    def _name(self, atom: Floor) -> str:
        name = self.named.get(atom)
        if name is None:
            self._over_names(atom.num)  # the sizes it is over, first
            self._over_names(atom.den)
            stem = self._stem(atom) or "size"
            k = 1
            while not self.usable(f"{stem}{k}"):
                k += 1
            name = self.named[atom] = self.take(f"{stem}{k}")
            self.order.append(atom)
        return name

    def fresh(self) -> list[tuple[str, Dim]]:
        """The definitions named since the last call: written just before the first line
        that reads them."""
        new = self.order[self.written:]
        self.written = len(self.order)
        return [self._definition(a) for a in new]

    def _definition(self, atom: Floor) -> tuple[str, Dim]:
        """(name, its size over the names before it)."""
        return self.named[atom], _alone(Floor(self._over_names(atom.num), self._over_names(atom.den)))


def _alone(atom: Floor) -> Expr:
    """The size that is the division ``atom``."""
    return Expr({((atom, 1),): 1})
