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

from typing import NamedTuple

from ..dims import Dim, Expr, exact_div, least, less_equal, symbols
from ..types import ITEMSIZE, Tensor

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
        return i >= len(self.contiguous) or self.contiguous[i]

    def strides_of(self, i: int | str, shape) -> Strides:
        """Input i's strides (a tensor passed by keyword: by name); those of a contiguous tensor
        of ``shape`` where they are not known."""
        if isinstance(i, str):
            return dict(self.state_strides).get(i) or contiguous_strides(shape)
        return self.strides[i] if i < len(self.strides) else contiguous_strides(shape)


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

def contiguous_strides(shape) -> Strides:
    out: list[Dim] = []
    step: Dim = 1
    for d in reversed(tuple(shape)):
        out.append(step)
        step = step * d
    return tuple(reversed(out))


def is_contiguous(shape, strides: Strides) -> bool:
    """torch's is_contiguous: the strides of the dims of size other than 1 are row-major."""
    step: Dim = 1
    for d, s in zip(reversed(tuple(shape)), reversed(tuple(strides))):
        if d == 1:
            continue
        if s != step:
            return False
        step = step * d
    return True


def _less(a: Dim, b: Dim) -> bool:
    """a < b for sizes: exact for numbers; for formulas, when a <= b holds for every value of
    the symbols (all at least 1) and the two differ."""
    if isinstance(a, int) and isinstance(b, int):
        return a < b
    if a == b:
        return False
    names = symbols(a) | symbols(b) if isinstance(a, Expr) or isinstance(b, Expr) else set()
    if less_equal(a, b, positive=names):
        return True
    # b a multiple of a by a factor of at least 1 (hidden <= seq * batch * hidden)
    q = exact_div(b, a)
    low = None if q is None else least(q, positive=names)
    return low is not None and low >= 1


def view_strides(shape, strides: Strides, new_shape) -> Strides | None:
    """The strides of ``reshape(new_shape)`` as a view, or None where torch must copy (a port of
    ATen's computeStride)."""
    shape, strides, new_shape = tuple(shape), tuple(strides), tuple(new_shape)
    if not shape:
        return (1,) * len(new_shape)
    if elements(shape) == 0:
        return strides if shape == new_shape else contiguous_strides(new_shape)
    out: list[Dim] = [0] * len(new_shape)
    view_d = len(new_shape) - 1
    base = strides[-1]
    tensor_numel: Dim = 1
    view_numel: Dim = 1
    for d in range(len(shape) - 1, -1, -1):
        tensor_numel = tensor_numel * shape[d]
        if d == 0 or (shape[d - 1] != 1 and strides[d - 1] != tensor_numel * base):
            while view_d >= 0 and (_less(view_numel, tensor_numel) or new_shape[view_d] == 1):
                out[view_d] = view_numel * base
                view_numel = view_numel * new_shape[view_d]
                view_d -= 1
            if view_numel != tensor_numel:
                return None
            if d > 0:
                base = strides[d - 1]
                tensor_numel = 1
                view_numel = 1
    return tuple(out) if view_d == -1 else None


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
