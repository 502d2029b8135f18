"""Tensor types: a dtype and a shape of dims, with where each dim came from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

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


@dataclass(frozen=True)
class Tensor:
    dtype: str
    shape: tuple[Dim, ...]
    origins: tuple[Origin | None, ...]

    @property
    def rank(self) -> int:
        return len(self.shape)

    def with_shape(self, shape, origin: Origin | None, keep: dict[int, int] | None = None,
                   dtype: str | None = None) -> "Tensor":
        """A new tensor; dims listed in ``keep`` (new index -> old index) keep their origin."""
        keep = keep or {}
        origins = tuple(self.origins[keep[i]] if i in keep else origin for i in range(len(shape)))
        return Tensor(dtype or self.dtype, tuple(shape), origins)


def show_shape(shape, dtype: str | None = None) -> str:
    body = "[" + ", ".join(render(d) for d in shape) + "]"
    return f"{dtype}{body}" if dtype else body
