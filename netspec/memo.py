"""Reusing the result of an application seen before.

A spec repeats itself: the same layer with the same arguments on inputs of the same type.
The rule's result (shapes, strides) then differs only in where its dims come from (origins name the layer and
its line), so the TRACE_AT-th time an application is seen its rule is traced once more with
placeholder origins (:class:`Slot`: dim j of input k, or :data:`SELF`: the layer itself),
and later ones reuse the result with their own origins put in. Only an application that
reported nothing is reused (no error or warning: the tracing run refuses any, silenced by
an allow comment or not); one with tensors passed by keyword never. TRACE_AT = 0 turns
reuse off (tests/test_reuse.py compares the two).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .diagnostics import Span
from .dims import Dim, Expr
from .types import Origin, Tensor

TRACE_AT = 2


class Slot(tuple):
    """A placeholder origin: dim ``dim`` of input ``input``."""

    __slots__ = ()

    def __new__(cls, k: int, j: int):
        return super().__new__(cls, (k, j))

    input = property(lambda self: self[0])
    dim = property(lambda self: self[1])


SELF = Origin("<the layer itself>", Span("", 0, 0, 0, 0))  # placeholder for the layer's own


@dataclass(frozen=True)
class Applied:
    """An application's result, to reuse: its arguments, parameter count, results (dtype,
    shape, origins with placeholders) and the parameters whose values it depends on."""

    args: Any
    params: Dim
    outputs: tuple
    results: tuple[str, ...]
    fixed: dict
    facts: tuple = ()  # (a, b, how, what): what a block checked generically assumed (block_fact)
    required: tuple = ()  # (a, b, how): what its arguments require of the parameters (require)
    writes: bool = False  # kind.writes_input(args): it writes into its input, which may be refused


def tagged(v):
    """A value as a memo key: 1, 1.0 and true are equal in Python but not as arguments."""
    if isinstance(v, tuple):
        return (tuple, tuple(tagged(x) for x in v))
    if isinstance(v, float):
        return (float, repr(v))
    return (type(v), v)


def application_key(name: str, values: dict[str, Any], inputs: list[Tensor]) -> tuple:
    """What an application's result depends on: the kind, the argument values, the inputs' types."""
    if not values:
        args = ()
    elif _PLAIN.issuperset(map(type, values.values())):  # each tagged with its type alone: at once
        args = tuple(sorted(zip(values, zip(map(type, values.values()), values.values()))))
    else:
        args = [(k, (type(v), v) if type(v) in _PLAIN else tagged(v)) for k, v in values.items()]
        args = tuple(sorted(args))
    if len(inputs) == 1:  # the commonest: one tensor in (the tuple below, made at once)
        t = inputs[0]
        return (name, args, ((t.dtype, t.shape, t.strides, t.batch, t.values),))
    return (name, args, tuple([(t.dtype, t.shape, t.strides, t.batch, t.values) for t in inputs]))


# the types that tagged() tags with themselves alone (a float is tagged with its repr, a
# tuple item by item); a subclass of them goes through tagged() (bool is not int's here)
_PLAIN = frozenset({int, bool, str, type(None), Expr})


def keep_for_next_check(applied: dict) -> None:
    """Drop from one memo what another check of the same document could not reuse: results
    that name a place in this text (an origin that is not a placeholder: its line may move).
    What is left depends only on its key and the memo's (parameter values and names), so
    the language server keeps it from one keystroke to the next."""
    for key, seen in list(applied.items()):
        if isinstance(seen, Applied) and any(type(o) is not Slot and o is not SELF
                                             for out in seen.outputs for o in out[2]):
            del applied[key]


def placeholders(inputs: list[Tensor]) -> list[Tensor]:
    """The inputs with every origin a Slot, for tracing a rule."""
    return [Tensor(t.dtype, t.shape, tuple(Slot(k, j) for j in range(t.rank)), t.strides, t.batch, t.values)
            for k, t in enumerate(inputs)]


def recorded(a, params: Dim, outs: list[Tensor], results: tuple[str, ...], fixed: dict,
             facts: tuple = (), required: tuple = (), writes: bool = False) -> Applied:
    return Applied(a, params, tuple((t.dtype, t.shape, t.origins, t.strides, t.batch, t.values, _whole(t.origins))
                                    for t in outs), results, fixed, facts, required, writes)


def _whole(origins: tuple) -> int:
    """``k`` where the origins are dims 0, 1, ... of input ``k`` in order (an elementwise
    result's): where that input has as many dims, its origins are the result's; else -1."""
    k = origins[0][0] if origins and type(origins[0]) is Slot else -1
    if k >= 0 and all(type(o) is Slot and o[0] == k and o[1] == j for j, o in enumerate(origins)):
        return k
    return -1


def replay(seen: Applied, inputs: list[Tensor], origin: Origin) -> list[Tensor]:
    """The results of ``seen`` on these inputs, with their origins and the layer's own put in."""
    return [replay_one(out, inputs, origin) for out in seen.outputs]


def replay_one(out: tuple, inputs: list[Tensor], origin: Origin) -> Tensor:
    """One result of an Applied (an item of its ``outputs``) on these inputs."""
    dtype, shape, origins, strides, batch, values, whole = out
    if whole >= 0 and len(inputs[whole].origins) == len(origins):
        mine = inputs[whole].origins  # what the tuple below would be, item for item
    else:
        mine = tuple([  # a Slot is (input, dim)
            inputs[o[0]].origins[o[1]] if type(o) is Slot else origin if o is SELF else o for o in origins])
    return Tensor(dtype, shape, mine, strides, batch, values)
