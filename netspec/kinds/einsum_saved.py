"""What ``torch.einsum`` keeps for backward (docs/costs.md).

torch's einsum (ATen's ``einsum`` in Linear.cpp) is a composite of ops autograd records one
by one. Each operand is taken apart with views (``diagonal`` for a repeated subscript,
``unsqueeze`` for the subscripts it lacks, ``permute`` to one order: the output's subscripts,
then the ellipsis if the output drops it, then the summed subscripts in alphabetical order),
which keep nothing. With two operands, a summed subscript that only one of them has (of size
other than 1) is summed away first (``sum`` keeps nothing; its result is a new tensor); then
``sumproduct_pair`` multiplies them: where no subscript of size other than 1 in both is
summed, an elementwise ``mul`` (keeping each operand for the other's gradient), else a
``bmm`` of each operand permuted to [both, one side's own, summed] and reshaped to three
dims: a view where ATen's computeStride finds one, else a copy, kept for the other's
gradient. The result is a view of the product (nothing more is kept). One operand keeps
nothing (views and a ``sum``).

Which path torch takes depends on which sizes are 1; a size given by symbols is decided for
each case of its symbols (each 1, or at least 2), and the statement is made only where the
formula of the general case holds in every one of them.

Three or more operands are not stated: ``torch.einsum`` takes their contraction order from
the opt_einsum package when it is installed (a path chosen from the sizes), else left to
right.
"""

from __future__ import annotations

from itertools import combinations
from typing import NamedTuple

from ..dims import Dim, least, substitute, sym, symbols
from .memory import Saved, contiguous_strides, elements, view_strides

MAX_SYMBOLS = 5  # the cases of each symbol (1, or at least 2) tried: 2 ** this at most


class Undecided(Exception):
    """A size that may or may not be 1 for the values its symbols take in the case tried."""


class _Op(NamedTuple):
    """An operand in the permuted order: its sizes and strides, whether it needs a gradient,
    and where it lives (the input's index, or None for a new tensor that ``sum`` made)."""

    shape: tuple
    strides: tuple
    grad: bool
    source: int | None


def _one(d: Dim) -> bool:
    """Whether a size is 1, its symbols standing for sizes of at least 2 (see ``einsum_saved``:
    each is ``s + 1`` with ``s`` at least 1); Undecided where that leaves it open."""
    if isinstance(d, int):
        return d == 1
    low = least(d, symbols(d))
    if low is None or low < 2:
        raise Undecided(d)
    return False


def order(labels: list[list[str]], out: list[str]) -> tuple[list[str], int]:
    """Every subscript in torch's permuted order and how many the output has: the output's
    (the ellipsis' dims spelt ``...i``), then the others in alphabetical order (ATen's
    A-Z, a-z), the ellipsis' first where the output drops it."""
    used = {lab for labs in labels for lab in labs}
    dots = sorted((lab for lab in used if lab.startswith("...")), key=lambda s: int(s[3:]))
    kept = [lab for s in out for lab in (dots if s == "..." else [s])]
    rest = [lab for lab in dots if lab not in kept] + sorted(lab for lab in used if lab not in kept and
                                                             not lab.startswith("..."))
    return kept + rest, len(kept)


def operand(labs: list[str], shape, strides, perm: list[str], grad: bool, source: int) -> _Op:
    """One operand after its diagonals, unsqueezes and permute, in the order ``perm``."""
    dims: dict[str, list] = {}
    for lab, d, s in zip(labs, shape, strides):
        if lab in dims:  # a repeated subscript: its diagonal, one dim of the two strides' sum
            dims[lab][1] = dims[lab][1] + s
        else:
            dims[lab] = [d, s]
    sizes = tuple(dims[lab][0] if lab in dims else 1 for lab in perm)
    steps = tuple(dims[lab][1] if lab in dims else 1 for lab in perm)
    return _Op(sizes, steps, grad, source)


def _summed(op: _Op, dims: list[int]) -> _Op:
    """``op.sum(dims, keepdim=True)``: a new contiguous tensor."""
    if not dims:
        return op
    shape = tuple(1 if i in dims else d for i, d in enumerate(op.shape))
    return _Op(shape, contiguous_strides(shape), op.grad, None)


def _plan(a: _Op, b: _Op, first_summed: int) -> tuple[_Op, _Op, list[int]]:
    """The contraction of two operands: each summed over the summed subscripts it has alone
    (of size other than 1), and the subscripts both have, summed by the product."""
    pair, a_only, b_only = [], [], []
    for i in range(first_summed, len(a.shape)):
        in_a, in_b = not _one(a.shape[i]), not _one(b.shape[i])
        if in_a and in_b:
            pair.append(i)
        elif in_a:
            a_only.append(i)
        elif in_b:
            b_only.append(i)
    return _summed(a, a_only), _summed(b, b_only), pair


def _folded(op: _Op, perm: list[int], sizes: tuple, item: int) -> tuple[int | None, Dim]:
    """``op.permute(perm).reshape(sizes)``: (the input it is a view of, 0), or (None, the
    bytes of the new tensor: a copy, or a view of a new tensor ``sum`` made)."""
    shape = tuple(op.shape[i] for i in perm)
    viewed = view_strides(shape, tuple(op.strides[i] for i in perm), sizes)
    if viewed is not None and op.source is not None:
        return op.source, 0
    return None, elements(op.shape if viewed is not None else sizes) * item


def _kept(op: _Op, item: int) -> tuple[int | None, Dim]:
    return (op.source, 0) if op.source is not None else (None, elements(op.shape) * item)


def _product(a: _Op, b: _Op, pair: list[int], item: int) -> list[tuple[int | None, Dim]]:
    """What ``sumproduct_pair`` keeps: for each operand kept (the other needs a gradient),
    the input it is a view of, or the bytes of a new tensor."""
    if not pair:  # mul keeps each operand for the other's gradient
        return [_kept(t, item) for t, other in ((a, b), (b, a)) if other.grad]
    lro, lo, ro = [], [], []
    for i in range(len(a.shape)):
        if i in pair:
            continue
        in_a, in_b = not _one(a.shape[i]), not _one(b.shape[i])
        (lro if in_a and in_b else lo if in_a else ro).append(i)
    size = {k: elements(t.shape[i] for i in dims) for k, t, dims in
            (("lro", a, lro), ("lo", a, lo), ("ro", b, ro), ("sum", a, pair))}
    left = _folded(a, lro + lo + pair + ro, (size["lro"], size["lo"], size["sum"]), item)
    right = _folded(b, lro + pair + ro + lo, (size["lro"], size["sum"], size["ro"]), item)
    return [kept for kept, other in ((left, b), (right, a)) if other.grad]


def pair_saved(labels: list[list[str]], out: list[str], shapes: list, strides: list, grads: list[bool],
               item: int) -> Saved:
    """What einsum of two operands keeps, deciding each size's 1-ness as ``_one`` does."""
    perm, first_summed = order(labels, out)
    a, b = (operand(labs, shape, st, perm, g, k)
            for k, (labs, shape, st, g) in enumerate(zip(labels, shapes, strides, grads)))
    a, b, pair = _plan(a, b, first_summed)
    inputs, extra = [], 0
    for source, nbytes in _product(a, b, pair, item):
        if source is not None and source not in inputs:
            inputs.append(source)
        extra = extra + nbytes
    return Saved(inputs=tuple(sorted(inputs)), extra=extra)


def einsum_saved(labels: list[list[str]], out: list[str], shapes: list, strides: list, grads: list[bool],
                 item: int) -> Saved | None:
    """What ``torch.einsum`` keeps for backward, or None (unknown): three or more operands,
    or a size whose 1-ness changes what torch keeps in a way the formula does not follow.
    Each symbol is tried at 1 and at ``s + 1`` (at least 2, where a view's strides can be
    compared); the statement is the formula of the case of every symbol at least 2, made
    only where it gives the bytes of every other case too."""
    if len(labels) == 1:
        return Saved()
    if len(labels) != 2:
        return None
    names = sorted(set().union(*(symbols(d) for shape in shapes for d in shape),
                               *(symbols(s) for st in strides for s in st)))
    if len(names) > MAX_SYMBOLS:
        return None
    cases = [ones for k in range(len(names) + 1) for ones in combinations(names, k)]
    try:
        results = [_case(labels, out, shapes, strides, grads, item, names, set(ones)) for ones in cases]
    except Undecided:
        return None
    general = results[0]
    for ones, case in zip(cases[1:], results[1:]):
        if case.inputs != general.inputs or case.extra != substitute(general.extra, dict.fromkeys(ones, 1)):
            return None
    return general


def _case(labels, out, shapes, strides, grads, item: int, names: list[str], ones: set) -> Saved:
    """``pair_saved`` with the symbols in ``ones`` at 1 and every other at least 2."""
    env = {n: 1 if n in ones else sym(n) + 1 for n in names}
    back = {n: sym(n) - 1 for n in names if n not in ones}
    saved = pair_saved(labels, out, [tuple(substitute(d, env) for d in s) for s in shapes],
                       [tuple(substitute(d, env) for d in s) for s in strides], grads, item)
    return saved._replace(extra=substitute(saved.extra, back))
