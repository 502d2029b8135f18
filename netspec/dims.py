"""Symbolic integer dimensions.

A dim is a plain ``int`` when it is concrete, or an :class:`Expr`: a polynomial with
integer coefficients over symbol names and floor-division atoms. Every ``Expr`` is kept in
one canonical form, so polynomials and floor divisions of polynomials by constants are
equal exactly when their canonical forms are equal, however they were reached (floors
nested in other ways may stay apart; ``compare`` then says it cannot tell):

* a floor atom ``N // c`` has ``c >= 2`` and every coefficient of ``N`` (the constant
  included) in ``[0, c)``; the rest of the quotient moves out of the atom:
  ``(3*h + 5) // 2 == h + 2 + (h + 1) // 2``;
* a factor common to ``c`` and every non-constant coefficient of ``N`` cancels, the
  constant rounding down: ``(2*h + 3) // 4 == (h + 1) // 2``;
* ``(N // a + M) // b`` collapses to ``(N + M*a) // (a*b)`` when ``M`` holds no floor
  atom, so a chain of strided convs stays one atom.

A floor atom may also divide by a symbolic divisor, ``N // s`` (a stride or a window that
is a parameter of a network checked generically, always at least 1): it is kept as it is
written, and becomes an ordinary floor when ``s`` gets a value (:func:`substitute`).

A max atom ``max(a, b)`` (:class:`Max`, made by :func:`maximum`) is the size torch's
broadcast makes of two sizes that may each be 1 (sizes are at least 1, and broadcast only
when equal or one is 1, so the result is the larger): its arguments are sorted, none
repeated, nested maxima flattened and an argument provably at most another dropped; it
becomes that argument, or an int, when substitution decides it.

Arithmetic on an ``Expr`` returns a plain ``int`` whenever the result is constant, so the
common, concrete case costs what Python's own integers cost.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from fractions import Fraction
from math import gcd, lcm
from typing import Container, Iterable, Iterator, Mapping, Union

from .limits import INT64_MAX, MAX_DEGREE, MAX_DIGITS, MAX_MAGNITUDE, MAX_TERMS

Dim = Union[int, "Expr"]

# A monomial is a sorted tuple of (atom, power); an atom is a symbol name (str) or a Floor.
Monomial = tuple


class Floor:
    """The atom ``num // den`` in canonical form (see the module docstring); ``den`` is an
    int of at least 2, or a symbolic divisor (then ``num`` may be an int)."""

    __slots__ = ("num", "den", "_key")

    def __init__(self, num: "Dim", den: "int | Expr"):
        self.num = num
        self.den = den
        self._key = ("~", _key_of(num), den if isinstance(den, int) else _key_of(den))

    def __hash__(self) -> int:
        return hash(self._key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Floor) and self._key == other._key


class Max:
    """The atom ``max(a, b, ...)`` of two or more sizes, in canonical form (see
    :func:`maximum`): ``args`` sorted by their keys, none repeated, at most one int."""

    __slots__ = ("args", "_key")

    def __init__(self, args: tuple):
        self.args = args
        self._key = ("max",) + tuple(_key_of(a) for a in args)

    def __hash__(self) -> int:
        return hash(self._key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Max) and self._key == other._key


def _key_of(d: "Dim") -> tuple:
    """An expression's canonical key; an int's, as the key of its one constant term."""
    return d._key if isinstance(d, Expr) else ((((), d),) if d else ())


def _atom_key(atom) -> tuple:
    # a floor atom sorts by its numerator's key itself: a text of it (repr) would escape the
    # quotes of the texts nested in it, doubling at each level of floors within floors
    if isinstance(atom, str):
        return (0, atom)
    if isinstance(atom, Max):
        return (2, atom._key[1:])
    if isinstance(atom.den, int):
        return (1, atom.num._key, 0, atom.den)
    return (1, _key_of(atom.num), 1, atom.den._key)


class TooLarge(OverflowError):
    """An expression past a bound of limits.py (terms, degree, coefficients): refused
    where it would be made, before the work to make it is done."""


_MONO_INFO: dict = {}  # monomial -> (sort key, terms, degree); a spec has few distinct monomials


def _mono_info(mono: Monomial) -> tuple:
    """A monomial's sort key, its size in terms (1, plus those of its floor atoms'
    numerators) and its degree (a floor atom counts its numerator's degree)."""
    info = _MONO_INFO.get(mono)
    if info is None:
        if len(_MONO_INFO) > 100_000:
            _MONO_INFO.clear()
        size, degree = 1, 0
        for atom, p in mono:
            if isinstance(atom, str):
                degree += p
            elif isinstance(atom, Max):
                size += sum(a._size for a in atom.args if isinstance(a, Expr))
                degree += p * max(a._degree if isinstance(a, Expr) else 0 for a in atom.args)
            else:
                for part in (atom.num, atom.den):
                    if isinstance(part, Expr):
                        size += part._size
                degree += p * (atom.num._degree if isinstance(atom.num, Expr) else 0)
        info = _MONO_INFO[mono] = (tuple((_atom_key(a), p) for a, p in mono), size, degree)
    return info


def _mono_key(mono: Monomial) -> tuple:
    return _mono_info(mono)[0]


def _refuse_coefficients(terms: dict) -> None:
    for c in terms.values():
        if c > MAX_MAGNITUDE or c < -MAX_MAGNITUDE:
            raise TooLarge(f"a size has a coefficient past 10**{MAX_DIGITS}")


def _mono_mul(a: Monomial, b: Monomial) -> Monomial:
    if not a:
        return b
    if not b:
        return a
    powers: dict = {}
    for atom, p in a + b:
        powers[atom] = powers.get(atom, 0) + p
    return tuple(sorted(powers.items(), key=lambda ap: _atom_key(ap[0])))


class Expr:
    """A non-constant symbolic dim. Build with :func:`sym`, combine with + - * //."""

    __slots__ = ("terms", "_key", "_hash", "_symbols", "_text", "_size", "_degree")

    def __init__(self, terms: dict):
        # terms: Monomial -> nonzero int; never constant-only (see _make). Past a bound of
        # limits.py (MAX_TERMS, MAX_DEGREE, MAX_MAGNITUDE) it raises TooLarge.
        self.terms = terms
        if len(terms) == 1:
            ((m, c),) = terms.items()
            key, self._size, self._degree = _mono_info(m)
            self._key = ((key, c),)
        else:
            keys, size, degree = [], 0, 0
            for m, c in terms.items():
                key, n, deg = _mono_info(m)
                keys.append((key, c))
                size += n
                if deg > degree:
                    degree = deg
            self._key = tuple(sorted(keys))
            self._size, self._degree = size, degree
        if self._size > MAX_TERMS:
            raise TooLarge(f"a size has more than {MAX_TERMS:,} terms")
        if self._degree > MAX_DEGREE:
            raise TooLarge(f"a size has a degree past {MAX_DEGREE}")
        _refuse_coefficients(terms)
        self._hash = hash(self._key)
        self._symbols = None  # the set of symbol names, computed when first asked
        self._text = None  # render(self), computed when first asked

    # -- construction -------------------------------------------------------------------
    @staticmethod
    def _make(terms: dict) -> Dim:
        terms = {m: c for m, c in terms.items() if c}
        if not terms:
            return 0
        if len(terms) == 1 and () in terms:
            return terms[()]
        return Expr(terms)

    @staticmethod
    def _terms(d: Dim) -> dict:
        if isinstance(d, Expr):
            return d.terms
        return {(): d} if d else {}

    # -- arithmetic -----------------------------------------------------------------------
    def __add__(self, other: Dim) -> Dim:
        if not isinstance(other, (int, Expr)):
            return NotImplemented
        terms = dict(self.terms)
        for m, c in Expr._terms(other).items():
            terms[m] = terms.get(m, 0) + c
        return Expr._make(terms)

    __radd__ = __add__

    def __neg__(self) -> Dim:
        return Expr._make({m: -c for m, c in self.terms.items()})

    def __sub__(self, other: Dim) -> Dim:
        if not isinstance(other, (int, Expr)):
            return NotImplemented
        return self + (-other)

    def __rsub__(self, other: Dim) -> Dim:
        return (-self) + other

    def __mul__(self, other: Dim) -> Dim:
        if isinstance(other, int):
            if other == 1:
                return self
            if other == 0:
                return 0
            # scaling keeps the monomials, so the canonical key keeps its order
            out = Expr.__new__(Expr)
            out.terms = {m: c * other for m, c in self.terms.items()}
            _refuse_coefficients(out.terms)
            out._key = tuple([(mk, c * other) for mk, c in self._key])
            out._hash = hash(out._key)
            out._symbols = self._symbols
            out._text = None
            out._size, out._degree = self._size, self._degree
            return out
        if not isinstance(other, Expr):
            return NotImplemented
        if len(self.terms) * len(other.terms) > MAX_TERMS or self._degree + other._degree > MAX_DEGREE:
            raise TooLarge(f"a product of sizes has more than {MAX_TERMS:,} terms or a degree past {MAX_DEGREE}")
        terms: dict = {}
        for m1, c1 in self.terms.items():
            for m2, c2 in other.terms.items():
                m = _mono_mul(m1, m2)
                terms[m] = terms.get(m, 0) + c1 * c2
        return Expr._make(terms)

    __rmul__ = __mul__

    def __floordiv__(self, other: Dim) -> Dim:
        if isinstance(other, Expr):
            q = exact_div(self, other)
            if q is None:
                if not _DIVIDING.get():
                    raise NotConcrete(other)
                return _floordiv_by(self, other)
            return q
        if not isinstance(other, int):
            return NotImplemented
        return floordiv(self, other)

    def __rfloordiv__(self, other: Dim) -> Dim:
        if not _DIVIDING.get() or not isinstance(other, int):
            raise NotConcrete(self)
        return _floordiv_by(other, self)

    # -- comparison -----------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        return isinstance(other, Expr) and self._key == other._key

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"Expr({render(self)!r})"

    def __str__(self) -> str:
        return render(self)


# Within `dividing()`, `a // b` with a symbolic `b` that does not divide `a` exactly is a
# floor atom over `b`, where it is otherwise NotConcrete.
_DIVIDING: ContextVar[bool] = ContextVar("dividing", default=False)


@contextmanager
def dividing() -> Iterator[None]:
    """Divisions by symbolic sizes give floor atoms over them (``c // g``) inside: for a
    count in a network checked generically, whose divisibility each use checks."""
    token = _DIVIDING.set(True)
    try:
        yield
    finally:
        _DIVIDING.reset(token)


class NotConcrete(Exception):
    """An operation needed a concrete integer where a symbolic dim stood."""

    def __init__(self, dim: Dim):
        super().__init__(render(dim))
        self.dim = dim


def sym(name: str) -> Expr:
    return Expr({((name, 1),): 1})


def is_dim(v) -> bool:
    """Whether ``v`` is a size: an int (not a bool) or a symbolic dim."""
    return isinstance(v, Expr) or (isinstance(v, int) and not isinstance(v, bool))


def floordiv(d: Dim, c: Dim) -> Dim:
    """``d // c`` for an integer divisor ``c > 0``, in canonical form; for a symbolic
    divisor (a size, at least 1), the exact quotient where there is one, else a floor atom
    over it (see the module docstring)."""
    if isinstance(c, Expr):
        return _floordiv_by(d, c)
    if isinstance(d, int):
        return d // c
    if c <= 0:
        raise ZeroDivisionError("floor division of a dim by a non-positive integer")
    if c == 1:
        return d
    quotient: dict = {}
    remainder: dict = {}
    for m, coeff in d.terms.items():
        q, r = divmod(coeff, c)
        if q:
            quotient[m] = q
        if r:
            remainder[m] = r
    rest = Expr._make(remainder)
    if isinstance(rest, int):  # only a constant remained: it is in [0, c), so its floor is 0
        return Expr._make(quotient)
    rest, c = _cancel(rest, c)
    collapsed = _collapse(rest, c)
    if collapsed is not None:
        return Expr._make(quotient) + collapsed
    atom = Floor(rest, c)
    quotient[((atom, 1),)] = quotient.get(((atom, 1),), 0) + 1
    return Expr._make(quotient)


def _cancel(rest: "Expr", c: int) -> tuple[Dim, int]:
    """A factor g of the divisor and of every non-constant coefficient cancels, the
    constant rounding down: (2*a + 3) // 4 == (a + 1) // 2."""
    g = c
    for m, coeff in rest.terms.items():
        if m:
            g = gcd(g, coeff)
    if g > 1:
        return Expr._make({m: v // g for m, v in rest.terms.items()}), c // g
    return rest, c


def _floordiv_by(d: Dim, c: "Expr") -> Dim:
    """``d // c`` for a symbolic divisor: the exact quotient where there is one, else a
    floor atom over ``c``, kept as written."""
    q = exact_div(d, c)
    if q is not None:
        return q
    return Expr({((Floor(d, c), 1),): 1})


def _collapse(rest: "Expr", c: int) -> Dim | None:
    """``(N // a + M) // c`` as ``(N + M*a) // (a*c)``, for M free of floor atoms; None when
    ``rest`` is not of that form."""
    floors = [m for m in rest.terms if any(isinstance(atom, Floor) for atom, _ in m)]
    if len(floors) != 1 or rest.terms[floors[0]] != 1:
        return None
    (mono,) = floors
    if len(mono) != 1 or mono[0][1] != 1 or not isinstance(mono[0][0].den, int):
        return None
    atom = mono[0][0]
    others = Expr._make({m: v for m, v in rest.terms.items() if m != mono})
    return floordiv(atom.num + others * atom.den, atom.den * c)


def exact_div(a: Dim, b: Dim) -> Dim | None:
    """``a / b`` when it is provably an integer for every value of the symbols, else None."""
    if isinstance(b, int):
        if b == 0:
            return None
        if isinstance(a, int):
            return a // b if a % b == 0 else None
        if all(c % b == 0 for c in a.terms.values()):
            return Expr._make({m: c // b for m, c in a.terms.items()})
        return None
    if a == b:
        return 1
    if len(b.terms) != 1:
        return _div_by_sum(a, b)
    return _div_by_term(a, b)


def _div_by_sum(a: Dim, b: "Expr") -> Dim | None:
    """``a / b`` for a ``b`` of several terms: a monomial quotient, proven by multiplying
    back: (504*h - 504) / (56*h - 56) == 9."""
    a_terms = Expr._terms(a)
    if not a_terms:
        return 0
    am, ac = min(a_terms.items(), key=lambda t: _mono_key(t[0]))
    for bm, bc in sorted(b.terms.items(), key=lambda t: _mono_key(t[0])):
        q = exact_div(Expr._make({am: ac}), Expr._make({bm: bc}))
        if q is not None:
            diff = b * q - a
            if isinstance(diff, int) and diff == 0:
                return q
    return None


def _div_by_term(a: Dim, b: "Expr") -> Dim | None:
    """``a / b`` for a ``b`` of one term: every term of ``a`` divided by it exactly."""
    ((bm, bc),) = b.terms.items()
    bpow = dict(bm)
    out: dict = {}
    for m, c in Expr._terms(a).items():
        if c % bc:
            return None
        powers = dict(m)
        for atom, p in bpow.items():
            if powers.get(atom, 0) < p:
                return None
            powers[atom] -= p
            if not powers[atom]:
                del powers[atom]
        mono = tuple(sorted(powers.items(), key=lambda ap: _atom_key(ap[0])))
        out[mono] = out.get(mono, 0) + c // bc
    return Expr._make(out)


def maximum(*dims: Dim, positive: Container[str] = ()) -> Dim:
    """The greatest of ``dims``, sizes (each at least 1): an int where they are, else the max
    atom of those not provably at most another (symbols in ``positive`` at least 1), nested
    maxima flattened: ``max(max(a, b), a)`` is ``max(a, b)``, ``max(h + 1, h)`` is ``h + 1``."""
    args: dict = {}
    for d in dims:
        for a in max_args(d):
            args[_key_of(a)] = a
    ints = [a for a in args.values() if isinstance(a, int)]
    kept = [a for a in args.values() if not isinstance(a, int)] + ([max(ints)] if ints else [])
    kept = [a for a in kept if not any(b is not a and less_equal(a, b, positive) is True for b in kept)]
    if len(kept) == 1:
        return kept[0]
    return Expr({((Max(tuple(sorted(kept, key=_key_of))), 1),): 1})


def max_args(d: Dim) -> tuple:
    """The arguments of ``d`` where it is one maximum (``(c, m)`` of ``max(c, m)``), else ``(d,)``."""
    lone = lone_atom(d)
    return lone[0].args if lone is not None and lone[1] == 1 and isinstance(lone[0], Max) else (d,)


def symbols(d: Dim) -> set[str]:
    """The symbol names in ``d``, those inside floor atoms included (a set of one's own)."""
    return set(symbol_set(d))


def symbol_set(d: Dim) -> frozenset[str]:
    """The symbol names in ``d``, as symbols() has them, not copied (not to be changed)."""
    if not isinstance(d, Expr):
        return _NO_SYMBOLS
    if d._symbols is None:
        d._symbols = frozenset(_collect_symbols(d))
    return d._symbols


_NO_SYMBOLS: frozenset[str] = frozenset()


def _collect_symbols(d: Expr) -> set[str]:
    out: set[str] = set()
    for m in d.terms:
        for atom, _ in m:
            if isinstance(atom, str):
                out.add(atom)
            elif isinstance(atom, Max):
                for a in atom.args:
                    out |= symbol_set(a)
            else:
                out |= symbols(atom.num) | symbols(atom.den)
    return out


def lone_atom(d: Dim) -> tuple[str | Floor | Max, int] | None:
    """``(atom, c)`` where ``d`` is ``c * atom`` for one symbol, floor division or maximum
    ``atom`` to the first power (``4 * h``, ``12 // s``), else None."""
    if not isinstance(d, Expr) or len(d.terms) != 1:
        return None
    ((mono, c),) = d.terms.items()
    return (mono[0][0], c) if len(mono) == 1 and mono[0][1] == 1 else None


def divisor_symbols(d: Dim) -> set[str]:
    """The symbols of the symbolic divisors of ``d``'s floor atoms (``s`` in ``h // s``)."""
    out: set[str] = set()
    for m in Expr._terms(d):
        for atom, _ in m:
            if isinstance(atom, Max):
                for a in atom.args:
                    out |= divisor_symbols(a)
            elif isinstance(atom, Floor):
                out |= divisor_symbols(atom.num)
                if not isinstance(atom.den, int):
                    out |= symbols(atom.den)
    return out


def substitute(d: Dim, env: Mapping[str, Dim]) -> Dim:
    """Replace symbols by dims (ints or exprs); symbols not in ``env`` stay."""
    if isinstance(d, int) or not env:
        return d
    if d._symbols is None:
        d._symbols = frozenset(_collect_symbols(d))
    if env.keys().isdisjoint(d._symbols):
        return d  # nothing to replace: d is already canonical
    total: Dim = 0
    for m, c in d.terms.items():
        term: Dim = c
        for atom, p in m:
            if isinstance(atom, str):
                base = env.get(atom)
                if base is None:
                    base = sym(atom)
            elif isinstance(atom, Max):
                base = maximum(*(substitute(a, env) for a in atom.args))
            else:
                base = floordiv(substitute(atom.num, env), substitute(atom.den, env))
            for _ in range(p):
                term = term * base
        total = total + term
    return total


def evaluate(d: Dim, env: Mapping[str, int]) -> int:
    """The integer value of ``d`` with every symbol given; KeyError names a missing one."""
    value = substitute(d, env)
    if not isinstance(value, int):
        raise KeyError(sorted(symbols(value))[0])
    return value


def compare(a: Dim, b: Dim, positive: Container[str] = ()) -> bool | None:
    """True when provably equal, False when provably different, None when unknown.
    Symbols in ``positive`` are sizes, at least 1 (see :func:`sign`)."""
    diff = a - b
    if isinstance(diff, int):
        return diff == 0
    return False if sign(diff, positive) in (1, -1) else None


def sign(d: Dim, positive: Container[str] = ()) -> int | None:
    """1 when ``d`` > 0 for every value of its symbols, -1 when < 0, 0 when it is 0, None
    when that depends on the values. Symbols in ``positive`` are at least 1 (sizes); any
    other symbol may be any integer."""
    if isinstance(d, int):
        return (d > 0) - (d < 0)
    coeffs = d.terms.values()
    if all(c > 0 for c in coeffs):
        low = least(d, positive)
        return 1 if low is not None and low > 0 else None
    if all(c < 0 for c in coeffs):
        low = least(-d, positive)
        return -1 if low is not None and low > 0 else None
    return None


def least(d: Dim, positive: Container[str] = ()) -> int | None:
    """A lower bound of ``d`` over every value of its symbols, when every coefficient but
    the constant's is positive and every symbol is in ``positive`` (each term at its least:
    a size at 1, a floor atom ``N // c`` at the floor of ``N``'s least over c); else None."""
    if isinstance(d, int):
        return d
    total = 0
    for mono, coeff in d.terms.items():
        if coeff < 0 and mono:
            return None
        term = coeff
        for atom, power in mono:
            if isinstance(atom, str):
                if atom not in positive:
                    return None
                continue  # at least 1
            if isinstance(atom, Max):  # at least its greatest known lower bound
                low = max((x for x in (least(a, positive) for a in atom.args) if x is not None), default=None)
                if low is None or low < 0:
                    return None
                term *= low ** power
                continue
            low = least(atom.num, positive)
            if low is None or low < 0:
                return None
            if not isinstance(atom.den, int):  # a symbolic divisor: 1 where N >= den, else 0
                den = least(atom.den, positive)
                if den is None or den < 1:
                    return None
                above = least(atom.num - atom.den, positive)
                term *= int(above is not None and above >= 0) ** power
                continue
            term *= (low // atom.den) ** power
        total += term
    return total


def ratio(a: Dim, b: Dim) -> Fraction | None:
    """``a / b`` when it is one rational number for every value of the symbols
    (``12 * batch / (5 * batch)`` is 12/5), else None."""
    if b == 0:
        return None
    if isinstance(a, int) and isinstance(b, int):
        return Fraction(a, b)
    if isinstance(a, int) or isinstance(b, int):
        return Fraction(0) if a == 0 else None
    mono, coeff = next(iter(b.terms.items()))
    r = Fraction(a.terms.get(mono, 0), coeff)
    if r == 0 or a * r.denominator - b * r.numerator != 0:
        return None
    return r


def total(dims: Iterable[Dim]) -> Dim:
    """The sum of ``dims``, as ``sum`` gives it, with the terms gathered into one polynomial
    (``sum`` makes a new one at each step: a block's parameter count at each of its uses)."""
    number, terms = 0, {}
    for d in dims:
        if isinstance(d, Expr):
            for m, c in d.terms.items():
                terms[m] = terms.get(m, 0) + c
        else:
            number += d
    if not terms:
        return number
    terms[()] = terms.get((), 0) + number
    return Expr._make(terms)


def _floors(d: Dim, dens: set[int], names: set[str]) -> None:
    """Collect the denominators (nested ones multiplied through) and the symbols of every
    floor atom of ``d``."""
    if not isinstance(d, Expr):
        return
    for m in d.terms:
        for atom, _ in m:
            if isinstance(atom, Max):
                for a in atom.args:
                    _floors(a, dens, names)
            elif isinstance(atom, Floor) and isinstance(atom.den, int):
                inner: set[int] = set()
                _floors(atom.num, inner, names)
                names |= symbols(atom.num)
                dens.add(atom.den * lcm(*inner) if inner else atom.den)


def equal_at_multiples(a: Dim, b: Dim) -> tuple[int, list[str]] | None:
    """Where ``a`` and ``b`` differ only because a division rounds down: (M, the symbols
    under the floors) such that with every one of those symbols ``s`` written ``M * s``,
    ``a == b`` for every value. None when the floors' common multiple does not make them
    equal, or there is no floor."""
    dens: set[int] = set()
    names: set[str] = set()
    _floors(a, dens, names)
    _floors(b, dens, names)
    if not dens or a == b:
        return None
    m = lcm(*dens)
    env = {s: sym(s) * m for s in names}
    return (m, sorted(names)) if substitute(a, env) == substitute(b, env) else None


def rounding_help(a: Dim, b: Dim) -> str | None:
    """A fix for two sizes that are equal only at some values of their symbols because a
    division rounds down (``h // 2`` and ``2 * (h // 4)``): declare the symbols multiples."""
    found = equal_at_multiples(a, b)
    if found is None:
        return None
    m, names = found
    which = " and ".join(f"`{s}`" for s in names)
    return (f"{render(a)} and {render(b)} differ where a division rounds down, and are equal "
            f"whenever {which} {'is a multiple' if len(names) == 1 else 'are multiples'} of {m}: "
            f"write {' and '.join(f'`{m} * {s}`' for s in names)} where the input's type names "
            f"{'it' if len(names) == 1 else 'them'}")


def product(dims: Iterable[Dim]) -> Dim:
    out: Dim = 1
    for d in dims:
        out = out * d
    return out


# -- rendering as a Python integer expression ------------------------------------------------

def _render_atom(atom, alone: bool) -> str:
    if isinstance(atom, str):
        return atom
    if isinstance(atom, Max):
        return f"max({', '.join(render(a) for a in atom.args)})"
    num = _operand(atom.num)
    text = f"{num} // {_operand(atom.den)}"
    return text if alone else f"({text})"


def _operand(d: Dim) -> str:
    """``d`` as the operand of a floor division: in parentheses unless it is one name or number."""
    text = render(d)
    if not isinstance(d, int) and (len(d.terms) > 1 or _has_coeff(d)):
        text = f"({text})"
    return text


def _has_coeff(e: Expr) -> bool:
    ((m, c),) = e.terms.items()
    return c != 1 or len(m) > 1 or any(p > 1 for _, p in m)


def _render_mono(m: Monomial, alone: bool) -> str:
    parts = []
    for atom, p in m:
        parts.extend([_render_atom(atom, alone and len(m) == 1 and p == 1)] * p)
    return " * ".join(parts)


def render_factor(m: Monomial) -> str:
    """A monomial written as a factor after `*`, each floor division in parentheses
    (`batch * (seq // 2)`; `(seq // 2)` alone)."""
    return _render_mono(m, alone=False)


def _order(item) -> tuple:
    m, _ = item
    return (-sum(p for _, p in m), _mono_key(m))


def render(d: Dim) -> str:
    """Canonical text: a valid Python integer expression over the symbol names."""
    if isinstance(d, int):
        return show_int(d, exact=True)
    if d._text is None:
        d._text = _render(d)
    return d._text


def _render(d: Expr) -> str:
    items = sorted(d.terms.items(), key=_order)
    const = d.terms.get((), 0)
    nonconst = [(m, c) for m, c in items if m]
    # Cosmetic: one floor atom plus a constant reads better with the constant inside.
    if (const and len(nonconst) == 1 and nonconst[0][1] == 1 and len(nonconst[0][0]) == 1
            and isinstance(nonconst[0][0][0][0], Floor) and nonconst[0][0][0][1] == 1
            and isinstance(nonconst[0][0][0][0].den, int)):
        atom = nonconst[0][0][0][0]
        return _render_shifted(atom, const)
    out = ""
    for i, (m, c) in enumerate(items):
        if not m:
            body = str(abs(c))
        else:
            mono = _render_mono(m, c == 1 or i > 0)
            body = mono if abs(c) == 1 else f"{abs(c)} * {_render_mono(m, False)}"
        if i == 0:
            out = f"-{body}" if c < 0 else body
        else:
            out += f" - {body}" if c < 0 else f" + {body}"
    return out


def _render_shifted(atom: Floor, const: int) -> str:
    num = atom.num + const * atom.den
    inner = render(num)
    if not isinstance(num, int) and (len(num.terms) > 1 or _has_coeff(num)):
        inner = f"({inner})"
    return f"{inner} // {atom.den}"


def less_equal(a: Dim, b: Dim, positive: Container[str] = ()) -> bool | None:
    """True when ``a <= b`` for every value of the symbols, False when ``a > b`` for every
    value, None when it depends (symbols in ``positive`` are sizes, at least 1)."""
    low = least(b - a, positive)
    if low is not None and low >= 0:
        return True
    low = least(a - b - 1, positive)
    if low is not None and low >= 0:
        return False
    return None


# -- sizes past int64, and numbers too long to print ------------------------------------------

_SHORT = 2**3000  # about 900 digits: decimal conversion stays quick, and under Python's limit


def is_short(n: int) -> bool:
    """Whether ``n`` prints in decimal (below 2**3000 in magnitude)."""
    return -_SHORT < n < _SHORT


def show_int(n: int, exact: bool = False) -> str:
    """``n`` in decimal; past 2**3000 (Python refuses decimal past 4,300 digits) as
    ``at least 2**K`` for people, or in hexadecimal, still a Python integer, when ``exact``."""
    if -_SHORT < n < _SHORT:
        return str(n)
    if exact:
        return hex(n)
    return f"{'-' if n < 0 else ''}at least 2**{abs(n).bit_length() - 1}"


def show_size(d: Dim) -> str:
    """A size for a message: a huge integer shortened (see :func:`show_int`)."""
    return show_int(d) if isinstance(d, int) else render(d)


def bounds(d: Dim, positive: Container[str] = ()) -> tuple[int, int] | None:
    """The least and the greatest value of ``d`` for sizes: every symbol in ``positive``
    between 1 and 2**63 - 1 (torch holds a size in an int64), each term at its least or its
    greatest as its sign asks; None where a symbol is not a size."""
    if isinstance(d, int):
        return d, d
    low = high = 0
    for mono, coeff in d.terms.items():
        lo = hi = 1
        for atom, power in mono:
            if isinstance(atom, str):
                if atom not in positive:
                    return None
                a = (1, INT64_MAX)
            elif isinstance(atom, Max):
                each = [bounds(x, positive) for x in atom.args]
                if None in each:
                    return None
                a = (max(b[0] for b in each), max(b[1] for b in each))
            else:
                inner = bounds(atom.num, positive)
                den = bounds(atom.den, positive)
                if inner is None or inner[0] < 0 or den is None or den[0] < 1:
                    return None
                a = (inner[0] // den[1], inner[1] // den[0])
            lo, hi = lo * a[0] ** power, hi * a[1] ** power
        low += coeff * (lo if coeff > 0 else hi)
        high += coeff * (hi if coeff > 0 else lo)
    return low, high


def beyond_int64(d: Dim, positive: Container[str] = ()) -> bool:
    """Whether ``d`` is past int64 for every value of its symbols (those in ``positive``
    sizes: at least 1 and, as torch holds them, at most 2**63 - 1): an int past it, or an
    expression whose least value is (``2**70 * w - h`` is, whatever ``h`` is)."""
    if isinstance(d, int):
        return d > INT64_MAX
    b = bounds(d, positive)
    return b is not None and b[0] > INT64_MAX


def numel_beyond_int64(shape: Iterable[Dim], positive: Container[str] = ()) -> bool:
    """Whether a tensor of this shape has more than 2**63 - 1 elements for every value of
    the symbols (torch counts elements in an int64). The product is capped as it goes, so
    a thousand dims cost what a thousand small multiplications cost."""
    total = 1
    for d in shape:
        b = bounds(d, positive)
        low = None if b is None else b[0]
        if low is None or low < 1:
            return False  # a size that may be 0: the tensor may be empty
        total = min(total * low, INT64_MAX + 1)
    return total > INT64_MAX
