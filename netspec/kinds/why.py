"""Helpers for ``Kind.explain``: how a layer derived each result dim, as lines a user reads.

A kind's ``explain(a, inputs, outputs)`` returns lines such as ``dim 2: (28 + 2*0 -
1*(5-1) - 1)//1 + 1 = 24`` (the formula with the numbers, then its value) and ``reads: ...``
(which input dim it takes as the batch, time or channels, and why); netspec.explain adds the
dims a kind does not mention and the weight shapes. The arithmetic in a line evaluates, as
Python, to the value after ``=``: tests/test_explain.py holds torch to it.
"""

from __future__ import annotations

from ..dims import Dim, render


def num(d: Dim) -> str:
    """A size inside a formula: a number, or a symbol, or a parenthesized expression."""
    text = render(d)
    return text if isinstance(d, int) or text.isidentifier() else f"({text})"


def line(dim: int, formula: str, value: Dim, result: str | None = None) -> str:
    return f"{result + ' ' if result else ''}dim {dim}: {formula} = {render(value)}"


def spatial_reads(name: str, rank: int, n: int, channels: str) -> str:
    """How a window layer reads [N, C, *spatial] or unbatched [C, *spatial]."""
    spatial = ("dim " if n == 1 else "dims ") + ", ".join(str(i) for i in range(rank - n, rank))
    if rank == n + 2:
        return (f"reads: dim 0 as the batch, dim 1 as {channels}, {spatial} as spatial "
                f"({name} takes [N, C, *spatial]; {rank} dims: batched)")
    return (f"reads: dim 0 as {channels}, {spatial} as spatial, no batch "
            f"({name} takes [N, C, *spatial]; {rank} dims: unbatched)")


def product(dims) -> str:
    """``2*3*4``: the sizes a flatten or a reshape multiplies (1 for none)."""
    return "*".join(num(d) for d in dims) or "1"


def flattened(x, start: int, end: int, y, result_dim: int) -> list[str]:
    return [f"reads: dims {start} to {end} of {x.rank} as one (start_dim {start}, end_dim {end})",
            line(result_dim, product(x.shape[start:end + 1]), y.shape[result_dim])]
