"""What a layer keeps for its backward pass, and the memory layout of the tensors it reads.

A kind states what autograd saves when it runs in a training step (``Kind.saved``): which of
its inputs and results, and the bytes of the tensors it makes inside and keeps (a dropout's
mask, a max pool's indices, a norm's statistics). Autograd saves a tensor by reference, so
an input saved by two layers is kept once: the costs backend counts storages, and needs
to know which results share their input's storage and where a view would force torch to
copy (``reshape`` of a transposed tensor). For that it follows every value's strides, in
elements, through the views (``Kind.result_strides``); a result that is not a view is
contiguous. docs/costs.md says what is counted and how it is proven.
"""

from __future__ import annotations

from dataclasses import replace
from typing import NamedTuple

from .. import layout
from ..dims import Dim, compare, less_equal, sym, symbols
from ..types import ITEMSIZE, Tensor
from ..types import UNKNOWN as NOT_STATED  # strides a kind does not state (Tensor.strides)

Strides = tuple  # one Dim a dim of the tensor


class Autograd(NamedTuple):
    """What autograd knows when a layer runs: which inputs need a gradient (by position, and
    the tensors passed by keyword by name), whether the layer has parameters (they train),
    which inputs are contiguous in memory, each input's strides in elements, those of the
    tensors passed by keyword (by name), and which of those are the first input itself."""

    inputs: tuple[bool, ...] = ()
    state: frozenset = frozenset()
    params: bool = False
    contiguous: tuple[bool, ...] = ()
    strides: tuple = ()
    state_strides: tuple = ()  # (name, strides) pairs
    is_input: frozenset = frozenset()  # names of tensors passed by keyword that are input 0's value

    @property
    def records(self) -> bool:
        """Whether autograd records the layer at all: something it reads needs a gradient."""
        return any(self.inputs) or bool(self.state) or self.params

    def grad(self, i: int) -> bool:
        return i < len(self.inputs) and self.inputs[i]

    def is_contiguous(self, i: int) -> bool:
        """Whether input i is contiguous for every value of the symbols; Unsure where that
        depends on them (or on strides netspec does not know)."""
        if i >= len(self.contiguous):
            return True
        if self.contiguous[i] is None:
            raise Unsure(i)
        return self.contiguous[i]

    def strides_of(self, i: int | str, shape) -> Strides:
        """Input i's strides (a tensor passed by keyword: by name); those of a contiguous tensor
        of ``shape`` where they are not given. Unsure where netspec does not know them."""
        if isinstance(i, str):
            out = dict(self.state_strides).get(i) or contiguous_strides(shape)
        else:
            out = self.strides[i] if i < len(self.strides) else contiguous_strides(shape)
        if any(opaque(s) for s in out):
            raise Unsure(i)
        return out


class Saved(NamedTuple):
    """What a layer keeps for backward: inputs (by position), tensors passed by keyword (by
    name) and results (by position) kept as they are, and the bytes of tensors it makes
    inside and keeps (each a storage of its own)."""

    inputs: tuple[int, ...] = ()
    state: tuple[str, ...] = ()
    outputs: tuple[int, ...] = ()
    extra: Dim = 0

    def __add__(self, other: "Saved") -> "Saved":
        def merged(a: tuple, b: tuple) -> tuple:
            return a + tuple(x for x in b if x not in a)

        return Saved(merged(self.inputs, other.inputs), merged(self.state, other.state),
                     merged(self.outputs, other.outputs), self.extra + other.extra)


NOTHING = Saved()

# What a kind returns from ``Kind.saved`` when what torch keeps depends on more than the
# shapes (a fused kernel's workspace, the path a library picks): the costs say "unknown".
UNKNOWN = None


def trained(weights: list) -> list[tuple[str, tuple]]:
    """(name, shape) of each trained parameter tensor of ``Kind.weights``' list, whose entries
    are (name, shape) pairs or records (name, shape, trainable, ...) that list buffers too."""
    return [(w[0], w[1]) for w in weights if len(w) < 3 or w[2]]


def nbytes(t: Tensor) -> Dim:
    """Elements times item size: the bytes of a contiguous tensor of this type."""
    return elements(t.shape) * ITEMSIZE[t.dtype]


def shape_bytes(shape, dtype: str) -> Dim:
    """The bytes of a tensor of this shape and dtype that a layer makes inside."""
    return elements(shape) * ITEMSIZE[dtype]


def elements(shape) -> Dim:
    out: Dim = 1
    for d in shape:
        out = out * d
    return out


# -- strides -------------------------------------------------------------------------------------

class Unsure(Exception):
    """Whether torch views or copies (or whether a tensor is contiguous) depends on the values
    of the symbols (a size that may be 1: a size-1 dim's stride does not count), or on
    strides netspec does not know: what the layer keeps is unknown."""


_OPAQUE = "?stride"


def unknown_strides(rank: int) -> Strides:
    """Strides netspec does not know (a kind states UNKNOWN): a symbol each that no proof
    may assume anything of, so every decision that reads them is Unsure."""
    return tuple(sym(f"{_OPAQUE}{i}") for i in range(rank))


def opaque(d: Dim) -> bool:
    return any(n.startswith(_OPAQUE) for n in symbols(d))


def held_strides(t: Tensor) -> Strides:
    """The strides of a new tensor: its kind's (Tensor.strides), contiguous by default and
    where the layout does not state them (a new tensor of a kind that does not say otherwise
    with ``Kind.new_strides``)."""
    return t.strides if isinstance(t.strides, tuple) else contiguous_strides(t.shape)


def _decide(*dims) -> layout.Decide:
    """Comparisons for every value of the size symbols (each at least 1); the opaque stride
    symbols are never assumed anything of, nor split into cases."""
    names = {n for d in dims for n in symbols(d) if not n.startswith(_OPAQUE)}
    return layout.Decide(lambda a, b: compare(a, b, names), lambda a, b: less_equal(a, b, positive=names),
                         lambda d: sorted(n for n in symbols(d) if n in names))

def iterated_strides(inputs: list[Tensor], strides: list[Strides], out: Tensor) -> Strides:
    """The strides of an elementwise result of ``inputs`` (layout.iterated, TensorIterator's
    order) from the strides the inputs have in a training step; unknown strides where they
    depend on the values of the symbols in a way one formula does not state."""
    if any(opaque(s) for st in strides for s in st):
        return unknown_strides(out.rank)
    operands = [replace(t, strides=tuple(st)) for t, st in zip(inputs, strides)]
    dims = [d for t in operands for d in (*t.shape, *t.strides)]
    got = layout.iterated(operands, out.shape, _decide(*dims, *out.shape))
    if got is NOT_STATED:
        return unknown_strides(out.rank)
    return contiguous_strides(out.shape) if got is None else tuple(got)


def formatted_strides(x: Tensor, strides: Strides, out: Tensor) -> Strides:
    """The strides of a result that torch allocates in the memory format of an input ``x``
    with the strides ``strides`` in a training step (layout.suggested: channels_last where
    ``x``'s strides are like it); unknown strides where netspec cannot tell."""
    if any(opaque(s) for s in strides):
        return unknown_strides(out.rank)
    x = replace(x, strides=tuple(strides))
    got = layout.suggested(x, out.shape, _decide(*x.shape, *x.strides, *out.shape))
    if got is NOT_STATED:
        return unknown_strides(out.rank)
    return contiguous_strides(out.shape) if got is None else tuple(got)


def contiguous_strides(shape) -> Strides:
    out: list[Dim] = []
    step: Dim = 1
    for d in reversed(tuple(shape)):
        out.append(step)
        step = step * d
    return tuple(reversed(out))


def is_contiguous(shape, strides: Strides) -> bool:
    """torch's is_contiguous (the strides of the dims of size other than 1 are row-major) for
    every value of the symbols; Unsure where it holds for some values only. A tensor viewed
    as one dim with stride 1 in every case is contiguous; one never viewable so is not."""
    shape, strides = tuple(shape), tuple(strides)
    decide = _decide(*shape, *strides)
    if layout.is_contiguous(shape, strides, decide):
        return True
    verdict = layout.view(shape, strides, (elements(shape),), decide)
    if verdict.viewable == "never":
        return False
    if verdict.viewable == "always" and verdict.strides is not NOT_STATED:
        step = (verdict.strides or (1,))[0]
        if step == 1:
            return True
        if decide.le(2, elements(shape)) is True and decide.eq(step, 1) is False:
            return False
    raise Unsure(shape)


def view_strides(shape, strides: Strides, new_shape) -> Strides | None:
    """The strides of ``reshape(new_shape)`` as a view, or None where torch must copy (ATen's
    computeStride, netspec.layout.view), for every value of the symbols: Unsure where torch
    views for some values and copies for others (a size that may be 1)."""
    shape, strides, new_shape = tuple(shape), tuple(strides), tuple(new_shape)
    verdict = layout.view(shape, strides, new_shape, _decide(*shape, *strides, *new_shape))
    if verdict.viewable == "never":
        return None
    if verdict.viewable == "sometimes" or verdict.strides is NOT_STATED:
        raise Unsure(shape)
    return contiguous_strides(new_shape) if verdict.strides is None else tuple(verdict.strides)


def permuted(strides: Strides, order) -> Strides:
    return tuple(strides[i] for i in order)


def dropped(strides: Strides, dims) -> Strides:
    """The strides without the dims in ``dims`` (a select, an integer index)."""
    return tuple(s for i, s in enumerate(strides) if i not in set(dims))


def axis(v, rank: int) -> int | None:
    """A dim argument as an index from 0, or None when it is not a number."""
    return v % rank if isinstance(v, int) and rank > 0 else None


def reshaped(inputs, outputs, strides) -> list:
    """A reshape, flatten, squeeze or unsqueeze: a view where ATen's computeStride finds one."""
    return [view_strides(inputs[0].shape, strides[0], outputs[0].shape)]


def expanded(shape, strides: Strides, new_shape) -> Strides:
    """``expand``: new leading dims and dims of size 1 grown read one element again (stride 0)."""
    lead = len(new_shape) - len(shape)
    kept = tuple(0 if d == 1 and n != 1 else s for d, n, s in zip(shape, new_shape[lead:], strides))
    return (0,) * lead + kept


def indexed(index, shape, strides: Strides) -> Strides | None:
    """Basic indexing ``x[...]``: an integer drops a dim, a slice of step k multiplies its
    stride by k, None inserts a dim of 1, ``...`` keeps the dims no other item names."""
    used = sum(1 for i in index if i is not None and i != "...")
    out: list[Dim] = []
    d = 0
    for item in index:
        if item is None:
            out.append(1)
        elif item == "...":
            out.extend(strides[d:d + len(shape) - used])
            d += len(shape) - used
        elif isinstance(item, tuple):
            step = item[3] if item[3] is not None else 1
            if not isinstance(step, int):
                return None
            out.append(strides[d] * step)
            d += 1
        else:
            d += 1
    return tuple(out) + tuple(strides[d:])
