"""Tensor types: a dtype and a shape of dims, with where each dim came from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from .diagnostics import Span
from .dims import Dim, render

# dtype spellings -> torch's canonical name (without the `torch.` prefix)
DTYPES = {
    "float32": "float32", "float": "float32",
    "float16": "float16", "half": "float16",
    "bfloat16": "bfloat16",
    "float64": "float64", "double": "float64",
    "int64": "int64", "long": "int64",
    "int32": "int32", "int": "int32",
    "bool": "bool",
}
FLOAT_DTYPES = frozenset({"float32", "float16", "bfloat16", "float64"})
INT_DTYPES = frozenset({"int64", "int32"})
ITEMSIZE = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8, "int64": 8, "int32": 4,
            "bool": 1}


class Origin(NamedTuple):
    """Where a dim got its size: `Embedding (line 3)`, `input tokens (line 2)`. A named
    tuple, like Span: one is made for every layer a check goes through."""

    what: str
    span: Span

    def __str__(self) -> str:
        return f"{self.what} (line {self.span.line})"


class _Unknown:
    """The strides of a tensor whose memory layout netspec cannot state (netspec.layout)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __reduce__(self) -> str:
        return "UNKNOWN"


UNKNOWN = _Unknown()


@dataclass(frozen=True, init=False)
class Tensor:
    """A value's type: dtype, shape, where each dim came from, and its memory layout.

    ``strides``: None when the tensor has torch's default (contiguous) strides, a tuple of
    dims when netspec knows them (netspec.layout: a claim about every dim whose size is not
    1), or UNKNOWN.

    ``batch``: where the samples are when the batch dim was merged with others (a reshape,
    a flatten): ``(i, inner, batch)``, dim i holding ``inner`` elements of one sample, then
    ``inner`` of the next, ... (netspec.context.StageCtx.regroup_batch); None when a dim
    that is exactly the batch symbol says it, or nothing is known.

    ``values``: for an integer tensor whose elements netspec can bound, ``(lo, hi)``: every
    element is at least ``lo`` and below ``hi`` (``arange(seq)``: ``(0, seq)``; kept by the
    ops that only move elements, Kind.value_range); None when unknown.
    """

    dtype: str
    shape: tuple[Dim, ...]
    origins: tuple[Origin | None, ...]
    strides: Any = None
    batch: Any = None
    values: Any = None

    def __init__(self, dtype: str, shape: tuple[Dim, ...], origins: tuple[Origin | None, ...],
                 strides: Any = None, batch: Any = None, values: Any = None):
        # the generated __init__ of a frozen dataclass sets each field through
        # object.__setattr__; a check makes a tensor per stage, so the fields go in at once
        self.__dict__.update(dtype=dtype, shape=shape, origins=origins, strides=strides, batch=batch,
                             values=values)

    def __repr__(self) -> str:  # `Tensor(float32[batch, 10])`; the origins are for diagnostics
        return f"Tensor({show_shape(self.shape, self.dtype)})"

    @property
    def rank(self) -> int:
        return len(self.shape)

    def with_shape(self, shape, origin: Origin | None, keep: dict[int, int] | None = None,
                   dtype: str | None = None, strides: Any = None, batch: Any = None) -> "Tensor":
        """A new tensor (contiguous unless ``strides`` says otherwise); dims listed in ``keep``
        (new index -> old index) keep their origin, and the samples' place when they hold it."""
        keep = keep or {}
        origins = tuple(self.origins[keep[i]] if i in keep else origin for i in range(len(shape)))
        if batch is None and self.batch is not None:
            batch = next(((i, *self.batch[1:]) for i, old in keep.items()
                          if old == self.batch[0] and i < len(shape) and shape[i] == self.shape[old]), None)
        return Tensor(dtype or self.dtype, tuple(shape), origins, strides, batch)

    def with_strides(self, strides: Any) -> "Tensor":
        if strides is self.strides:
            return self
        return Tensor(self.dtype, self.shape, self.origins, strides, self.batch, self.values)

    def with_values(self, values: Any) -> "Tensor":
        """The same tensor, its elements known to lie in ``values`` (``(lo, hi)``), or unknown."""
        if values == self.values:
            return self
        return Tensor(self.dtype, self.shape, self.origins, self.strides, self.batch, values)


def placed(shape, found) -> Any:
    """``Tensor.batch`` of a result of ``shape`` from candidates ``(tensor, its dim, the
    result's dim)``: where a tensor's samples are (its ``batch``) when that dim is kept whole
    in the result, and every tensor that says where they are agrees; else None."""
    out = set()
    for t, i, k in found:
        if t.batch is not None and t.batch[0] == i and 0 <= k < len(shape) and shape[k] == t.shape[i]:
            out.add((k, *t.batch[1:]))
    return out.pop() if len(out) == 1 else None


def broadcast_batch(tensors, shape) -> Any:
    """``Tensor.batch`` of an elementwise result of ``tensors`` (aligned from the right)."""
    return placed(shape, [(t, t.batch[0], t.batch[0] + len(shape) - t.rank)
                          for t in tensors if isinstance(t, Tensor) and t.batch is not None])


def show_shape(shape, dtype: str | None = None) -> str:
    body = "[" + ", ".join(render(d) for d in shape) + "]"
    return f"{dtype}{body}" if dtype else body


# -- type promotion (torch.result_type) ---------------------------------------------------------

# each dtype's category (bool < integer < floating point) and its rank within it
_CATEGORY = {"bool": 0, "int32": 1, "int64": 1, "float16": 2, "bfloat16": 2, "float32": 2, "float64": 2}
_WIDTH = {"bool": 0, "int32": 1, "int64": 2, "float16": 1, "bfloat16": 1, "float32": 2, "float64": 3}


def category(dtype: str) -> int:
    """0 for bool, 1 for an integer dtype, 2 for a floating-point one."""
    return _CATEGORY[dtype]


def promote_types(a: str, b: str) -> str:
    """torch.promote_types over netspec's dtypes: the higher category wins, then the wider
    dtype; float16 with bfloat16 is float32."""
    if a == b:
        return a
    if _CATEGORY[a] != _CATEGORY[b]:
        return a if _CATEGORY[a] > _CATEGORY[b] else b
    if {a, b} == {"float16", "bfloat16"}:
        return "float32"
    return a if _WIDTH[a] > _WIDTH[b] else b


def _combine(higher: str | None, lower: str | None) -> str | None:
    """c10's combine_categories: a lower priority class only raises the category."""
    if higher is None:
        return lower
    if lower is None or _CATEGORY[higher] == 2:
        return higher
    if higher == "bool" or _CATEGORY[lower] == 2:
        return promote_types(higher, lower)
    return higher


def scalar_dtype(value) -> str:
    """The dtype a Python number takes part in promotion with: bool, int64, or the default
    float dtype (float32)."""
    if isinstance(value, bool):
        return "bool"
    return "float32" if isinstance(value, float) else "int64"


def result_type(*operands) -> str:
    """torch.result_type of tensors (Tensor) and Python numbers (int, float, a symbolic dim
    counts as an int). Tensors with dims come first, then 0-dim tensors, then numbers; a
    later class changes the result only when its category is higher."""
    dims = zero = wrapped = None
    for op in operands:
        if isinstance(op, Tensor):
            if op.rank:
                dims = op.dtype if dims is None else promote_types(dims, op.dtype)
            else:
                zero = op.dtype if zero is None else promote_types(zero, op.dtype)
        else:
            dt = scalar_dtype(op)
            wrapped = dt if wrapped is None else promote_types(wrapped, dt)
    out = _combine(dims, _combine(zero, wrapped))
    assert out is not None, "result_type of nothing"
    return out
