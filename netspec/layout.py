"""Memory layout: the strides torch gives a tensor, over symbolic sizes.

A tensor's strides (``Tensor.strides``) are None when it has torch's default, contiguous
strides; a tuple of dims when netspec knows them; or UNKNOWN. A stated stride is a claim
about every dim whose size is not 1: torch's strides of a dim of size 1 are arbitrary (they
never change which elements a view addresses, and ``is_contiguous`` ignores them), so
netspec does not state them, and tests compare the others with torch's ``.stride()``.

The view ops compute their strides as torch does (``inferUnsqueezeGeometry``,
``inferExpandGeometry``, ...); :func:`view` is torch's ``computeStride``
(aten/src/ATen/TensorUtils.cpp), which decides whether ``view`` can address the same
elements in a new shape, run over symbolic sizes. Its comparisons go through a
:class:`Decide`: True or False for every value of the symbols, or undecided; where one is
undecided, the sizes it depends on are split into cases (a size is 1, or at least 2) and
each case is run, so that the answer holds for every value or says that it does not.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

from .dims import Dim, substitute, sym
from .types import UNKNOWN, Tensor

# the most cases one view's sizes are split into before netspec stops trying to prove it
MAX_CASES = 32


class Undecided(Exception):
    """A comparison whose answer depends on the values of the symbols: ``diff`` is the
    difference of the two sides."""

    def __init__(self, diff: Dim):
        super().__init__()
        self.diff = diff


class Decide(NamedTuple):
    """How a layout rule compares dims: ``eq(a, b)`` and ``le(a, b)`` answer True, False or
    None (it depends on the values); ``splittable(d)`` names the size symbols ``d`` depends
    on (those a proof may split into cases)."""

    eq: Callable[[Dim, Dim], bool | None]
    le: Callable[[Dim, Dim], bool | None]
    splittable: Callable[[Dim], list[str]]


def default_strides(shape) -> tuple[Dim, ...]:
    """torch's contiguous strides: each the product of the later sizes (a size 0 counting as 1)."""
    out: list[Dim] = []
    stride: Dim = 1
    for d in reversed(shape):
        out.append(stride)
        stride = stride * (max(d, 1) if isinstance(d, int) else d)
    return tuple(reversed(out))


def strides_of(t: Tensor) -> Any:
    """The strides of ``t`` as dims, or UNKNOWN."""
    if t.strides is None:
        return default_strides(t.shape)
    return t.strides


def elementwise(t: Tensor, decide: Decide) -> Any:
    """The strides of an elementwise result of ``t`` alone (an activation, a cast): those
    of :func:`iterated`."""
    return iterated([t], t.shape, decide)


def iterated(operands: list[Tensor], shape, decide: Decide) -> Any:
    """The strides of the result of ``shape`` that torch's TensorIterator allocates for an
    elementwise op of ``operands`` (broadcast to ``shape``; TensorIteratorBase::
    reorder_dimensions and allocate_or_resize_outputs): the dims ordered by the operands'
    strides, the first operand deciding and the next breaking its ties (a broadcast dim,
    of stride 0, leaves the order to the next), and laid out densely in that order. So
    the result of one non-overlapping and dense operand has its strides, and that of
    contiguous operands is contiguous. UNKNOWN where an operand's strides are, or where the
    order depends on the values of the symbols in a way one formula does not state."""
    if any(t.strides is UNKNOWN for t in operands):
        return UNKNOWN
    if all(t.strides is None for t in operands):
        return None
    first = operands[0]
    if all(tuple(t.shape) == tuple(shape) and t.strides == first.strides for t in operands) \
            and is_dense(shape, first.strides, decide):
        return normal(shape, first.strides, decide)  # TensorIterator's fast set-up: the same strides

    def run(env: dict, eq: Callable, lt: Callable) -> tuple:
        full = [substitute(d, env) for d in shape]
        return _iterate(full, [_broadcast([substitute(d, env) for d in t.shape],
                                          [substitute(d, env) for d in strides_of(t)], full, eq)
                               for t in operands], eq, lt)

    cases = _split(run, decide)
    return UNKNOWN if cases is None else _one_formula(cases, shape, decide)


def _broadcast(shape, strides, full, eq: Callable) -> list:
    """An operand's strides as TensorIterator reads them over the result's ``full`` shape: 0
    for a new leading dim and for a dim of size 1 broadcast to more."""
    lead = len(full) - len(shape)
    return [0 if i < lead or (eq(shape[i - lead], 1) and not eq(full[i], 1)) else strides[i - lead]
            for i in range(len(full))]


def _iterate(shape, strides: list, eq: Callable, lt: Callable) -> tuple:
    """reorder_dimensions' insertion sort (from the last dim, the fastest), then the dense
    strides of ``shape`` in that order."""
    def swap(a: int, b: int) -> int:
        for st in strides:
            if eq(st[a], 0) or eq(st[b], 0):
                continue
            if lt(st[a], st[b]):
                return -1
            if lt(st[b], st[a]):
                return 1
            if lt(shape[b], shape[a]):
                return 1
        return 0

    perm = list(range(len(shape) - 1, -1, -1))
    for i in range(1, len(shape)):
        moving = i
        for k in range(i - 1, -1, -1):
            c = swap(perm[k], perm[moving])
            if c > 0:
                perm[k], perm[moving] = perm[moving], perm[k]
                moving = k
            elif c < 0:
                break
    out: list[Dim] = [0] * len(shape)
    step: Dim = 1
    for d in perm:
        out[d] = step
        step = step * shape[d]
    return tuple(out)


def normal(shape, strides, decide: Decide) -> Any:
    """``strides`` as a Tensor holds them: None when provably contiguous."""
    if strides is None or strides is UNKNOWN:
        return strides
    return None if is_contiguous(shape, strides, decide) else tuple(strides)


def normal_view(shape, strides, decide: Decide) -> Any:
    """:func:`normal` for the strides of a view op, which computes those of its dims of size
    1 as torch does: for 4 or 5 dims (whose memory format torch reads from every stride,
    :func:`_format`) a tuple still where a dim of size 1 has a stride other than torch's
    default (a permute of [N, H, W, 1] to [N, 1, H, W] is channels_last to torch)."""
    out = normal(shape, strides, decide)
    if out is None and strides is not None and len(shape) in _CHANNELS_LAST_ORDER and any(
            decide.eq(size, 1) is True and decide.eq(s, d) is not True
            for size, s, d in zip(shape, strides, default_strides(shape))):
        return tuple(strides)
    return out


def is_contiguous(shape, strides, decide: Decide) -> bool:
    """Whether torch's ``is_contiguous`` holds for every value of the symbols (proven)."""
    if strides is None:
        return True
    if strides is UNKNOWN:
        return False
    expected: Dim = 1
    for size, stride in zip(reversed(shape), reversed(strides)):
        one = decide.eq(size, 1)
        if one is True:
            continue
        if decide.eq(stride, expected) is not True:
            return False  # a dim that may not be 1, with another stride
        expected = expected * size
    return True


def is_dense(shape, strides, decide: Decide) -> bool:
    """Whether torch's ``is_non_overlapping_and_dense`` holds for every value of the symbols:
    the dims whose size may not be 1, ordered by stride, step through memory without gaps."""
    if strides is None:
        return True
    if strides is UNKNOWN:
        return False
    dims = [i for i in range(len(shape)) if decide.eq(shape[i], 1) is not True]
    order: list[int] = []
    for i in dims:  # insertion sort by stride; an undecided order is no proof
        at = len(order)
        for k, j in enumerate(order):
            before = decide.le(strides[i], strides[j])
            if before is None:
                return False
            if before:
                at = k
                break
        order.insert(at, i)
    expected: Dim = 1
    for i in order:
        if decide.eq(strides[i], expected) is not True:
            return False
        expected = expected * shape[i]
    return True


# -- memory formats ---------------------------------------------------------------------------------

# the order ATen's is_channels_last_strides_2d / _3d walks the dims of a 4-dim / 5-dim tensor
_CHANNELS_LAST_ORDER = {4: (1, 3, 2, 0), 5: (1, 4, 3, 2, 0)}


def channels_last_strides(shape) -> tuple[Dim, ...]:
    """The strides of a new tensor of ``shape`` (4 or 5 dims) in torch's channels_last (or
    channels_last_3d) memory format: the channels fastest, then the spatial dims, then N."""
    out: list[Dim] = [0] * len(shape)
    step: Dim = 1
    for d in (1, *range(len(shape) - 1, 1, -1), 0):
        out[d] = step
        step = step * shape[d]
    return tuple(out)


def _like_channels_last(shape, strides, eq: Callable, lt: Callable) -> bool:
    """ATen's is_channels_last_strides_2d_s4 / _3d_s5 (c10/core/MemoryFormat.h), which
    decides ``suggest_memory_format``: the strides ascend in the order C, W, H, (D,) N, a dim
    of size 1 counting its stride alone; never for a channel stride of 0, an empty dim, or
    an N whose stride ties the channels' (the ambiguous N111 case torch reads as NCHW)."""
    order = _CHANNELS_LAST_ORDER.get(len(shape))
    if order is None or eq(strides[1], 0):
        return False
    low: Dim = 0
    for d in order:
        if eq(shape[d], 0) or lt(strides[d], low):
            return False
        if d == 0 and eq(low, strides[1]):
            return False
        low = strides[d] if eq(shape[d], 1) else strides[d] * shape[d]
    return True


def _in_order(shape, strides, order, eq: Callable) -> bool:
    """Whether the dims not of size 1, taken in ``order`` (fastest first), step through memory
    densely: torch's is_contiguous (or is_channels_last_contiguous) of those strides."""
    expected: Dim = 1
    for d in order:
        if eq(shape[d], 1):
            continue
        if not eq(strides[d], expected):
            return False
        expected = expected * shape[d]
    return True


def _format(shape, strides, eq: Callable, lt: Callable) -> bool | None:
    """Whether torch reads a tensor of these strides as channels_last; None where that turns
    on the strides of its dims of size 1, which netspec does not state: where the tensor is
    contiguous, or channels-last contiguous, in its other dims, torch's own allocation of it
    may have given those dims either format's strides, and the answers differ."""
    if all(eq(a, b) for a, b in zip(strides, default_strides(shape))):
        return False  # torch's default strides, those of a tensor stated contiguous (None)
    given = _like_channels_last(shape, strides, eq, lt)
    rank = len(shape)
    canonical = [(tuple(range(rank - 1, -1, -1)), default_strides(shape)),
                 ((1, *range(rank - 1, 1, -1), 0), channels_last_strides(shape))]
    for order, other in canonical:
        if _in_order(shape, strides, order, eq) and _like_channels_last(shape, other, eq, lt) != given:
            return None
    return given


def suggested(t: Tensor, shape, decide: Decide) -> Any:
    """The strides of a result of ``shape`` that torch allocates in the memory format its
    input ``t`` suggests (``suggest_memory_format``; convolutions, pools, batch and group
    norms, upsampling, padding of 4-dim and 5-dim tensors on the CPU): channels_last strides
    where ``t``'s are like channels_last, contiguous ones otherwise. A tensor stated
    contiguous (None) has torch's default strides, which never are; a tuple of strides
    states those of the dims not of size 1 (the others are read as either format's, see
    :func:`_format`), so channels_last strides stay a tuple even where they are contiguous
    too, and so does a result whose format is unsure where both agree. UNKNOWN where
    ``t``'s strides are, or where the format depends on the values of the symbols or on
    strides of dims of size 1 (:func:`_format`) and the two layouts differ in a dim that
    is not 1."""
    if t.strides is None or len(shape) not in _CHANNELS_LAST_ORDER:
        return None
    if t.strides is UNKNOWN:
        return UNKNOWN

    def run(env: dict, eq: Callable, lt: Callable) -> bool | None:
        return _format([substitute(d, env) for d in t.shape], [substitute(d, env) for d in t.strides], eq, lt)

    cases = _split(run, decide)
    if cases is None:
        return UNKNOWN
    last = channels_last_strides(shape)
    if all(like is False for _, like in cases):
        return None  # allocated contiguous: torch's default strides
    if any(like is not True and not _same_layout(shape, last, env, decide) for env, like in cases):
        return UNKNOWN
    # channels_last, or either where the two agree in every dim not 1: the strides of those
    # dims as stated, the others' unstated (a later format read from them is unsure)
    return last


def like_channels_last(t: Tensor, decide: Decide) -> bool | None:
    """Whether torch's ``suggest_memory_format`` reads ``t`` (4 or 5 dims) as channels_last
    (or channels_last_3d) for every value of the symbols: True, False (never, and for a
    tensor of another rank), or None where that depends on the values of the symbols, on
    strides of dims of size 1 (:func:`_format`), or on strides netspec does not know."""
    shape, strides = t.shape, t.strides
    if strides is None or len(shape) not in _CHANNELS_LAST_ORDER:
        return False
    if strides is UNKNOWN:
        return None

    def run(env: dict, eq: Callable, lt: Callable) -> bool | None:
        return _format([substitute(d, env) for d in shape], [substitute(d, env) for d in strides], eq, lt)

    cases = _split(run, decide)
    if cases is None:
        return None
    verdicts = {like for _, like in cases}
    return verdicts.pop() if len(verdicts) == 1 else None


def _same_layout(shape, strides, env: dict, decide: Decide) -> bool:
    """Whether ``strides`` are contiguous ones in the case ``env`` (every dim not 1)."""
    full = [substitute(d, env) for d in shape]
    return is_contiguous(full, [substitute(d, env) for d in strides], decide)


# -- the view ops, as torch computes their strides -------------------------------------------------

def permuted(strides, order) -> Any:
    if strides is UNKNOWN:
        return UNKNOWN
    return tuple(strides[i] for i in order)


def unsqueezed(shape, strides, dim: int) -> Any:
    """inferUnsqueezeGeometry: the new dim's stride is size * stride of the dim it goes
    before, or 1 at the end."""
    if strides is UNKNOWN:
        return UNKNOWN
    new = 1 if dim >= len(shape) else shape[dim] * strides[dim]
    return tuple(strides[:dim]) + (new,) + tuple(strides[dim:])


def dropped(strides, dims) -> Any:
    """The strides without ``dims`` (select, squeeze)."""
    if strides is UNKNOWN:
        return UNKNOWN
    return tuple(s for i, s in enumerate(strides) if i not in dims)


def expanded(shape, strides, sizes, decide: Decide) -> Any:
    """inferExpandGeometry: a stretched or new dim of size > 1 has stride 0; a new dim of
    size 1 takes the stride the next dim spans."""
    if strides is UNKNOWN:
        return UNKNOWN
    rank, new = len(shape), len(sizes)
    out: list[Dim] = [0] * new
    for i in range(new - 1, -1, -1):
        old = i - (new - rank)
        size = shape[old] if old >= 0 else 1
        stride = strides[old] if old >= 0 else sizes[i + 1] * out[i + 1] if i + 1 < new else 1
        target = sizes[i]
        if decide.eq(size, target) is not True:
            stride = 0  # 1 stretched to target (a size checked before)
        out[i] = stride
    return tuple(out)


# -- computeStride ------------------------------------------------------------------------------

def _compute(oldshape, oldstride, newshape, eq: Callable, lt: Callable):
    """torch's computeStride, step by step: the strides, or None where torch refuses."""
    if not oldshape:
        return (1,) * len(newshape)
    numel: Dim = 1
    for d in oldshape:
        numel = numel * d
    if eq(numel, 0):
        if len(oldshape) == len(newshape) and all(isinstance(a, int) and a == b for a, b in zip(oldshape, newshape)):
            return tuple(oldstride)
        return default_strides(newshape)
    out: list[Dim] = [0] * len(newshape)
    view_d = len(newshape) - 1
    base = oldstride[-1]
    tensor_numel: Dim = 1
    view_numel: Dim = 1
    for tensor_d in range(len(oldshape) - 1, -1, -1):
        tensor_numel = tensor_numel * oldshape[tensor_d]
        if tensor_d == 0 or (not eq(oldshape[tensor_d - 1], 1)
                             and not eq(oldstride[tensor_d - 1], tensor_numel * base)):
            while view_d >= 0 and (lt(view_numel, tensor_numel) or eq(newshape[view_d], 1)):
                out[view_d] = view_numel * base
                view_numel = view_numel * newshape[view_d]
                view_d -= 1
            if not eq(view_numel, tensor_numel):
                return None
            if tensor_d > 0:
                base = oldstride[tensor_d - 1]
                tensor_numel = 1
                view_numel = 1
    if view_d != -1:
        return None
    return tuple(out)


class ViewVerdict(NamedTuple):
    """What :func:`view` found: ``always`` (torch views it for every value of the symbols),
    ``never`` or ``sometimes`` (``None`` when netspec could not tell), and the strides of
    the view where it always is one (UNKNOWN when they depend on the values)."""

    viewable: str  # "always", "never", "sometimes"
    strides: Any = UNKNOWN


def view(shape, strides, newshape, decide: Decide) -> ViewVerdict:
    """Whether torch's ``view`` of a tensor of ``shape`` and ``strides`` to ``newshape``
    (as many elements) succeeds for every value of the symbols, and the view's strides."""
    if strides is None:
        return ViewVerdict("always", None)
    if strides is UNKNOWN:
        return ViewVerdict("sometimes")
    cases = _cases(list(shape), list(strides), list(newshape), decide)
    if cases is None:
        return ViewVerdict("sometimes")
    results = [r for _, r in cases]
    if all(r is None for r in results):
        return ViewVerdict("never")
    if any(r is None for r in results):
        return ViewVerdict("sometimes")
    return ViewVerdict("always", _one_formula(cases, newshape, decide))


def reshaped(shape, strides, newshape, decide: Decide) -> Any:
    """The strides of torch's ``reshape``: the view's where one exists, a contiguous copy's
    where none does; UNKNOWN when they differ with the values of the symbols."""
    if strides is None or strides is UNKNOWN:
        return strides
    cases = _cases(list(shape), list(strides), list(newshape), decide)
    if cases is None:
        return UNKNOWN
    copies = [(env, r if r is not None else default_strides([substitute(d, env) for d in newshape]))
              for env, r in cases]
    return _one_formula(copies, newshape, decide)


def _cases(shape, strides, newshape, decide: Decide) -> list | None:
    """computeStride in every case of the sizes it needs split: [(substitution, result)];
    None past MAX_CASES or where an undecided comparison has no size to split on."""
    def run(env: dict, eq: Callable, lt: Callable):
        return _compute(*[[substitute(d, env) for d in xs] for xs in (shape, strides, newshape)], eq, lt)

    return _split(run, decide)


def _split(run: Callable, decide: Decide) -> list | None:
    """``run(substitution, eq, lt)`` in every case of the sizes it needs split (a size is 1,
    or at least 2) to decide its comparisons: [(substitution, result)]; None past
    MAX_CASES or where an undecided comparison has no size to split on."""
    done: list = []
    pending: list[dict] = [{}]
    while pending:
        env = pending.pop()
        try:
            done.append((env, run(env, _strict(decide.eq), _strict(_lt(decide)))))
        except Undecided as u:
            names = [n for n in decide.splittable(u.diff) if n not in env]  # each size split once
            if not names or len(done) + len(pending) + 2 > MAX_CASES:
                return None
            name = names[0]
            one = {**{k: substitute(v, {name: 1}) for k, v in env.items()}, name: 1}
            more = {**{k: substitute(v, {name: sym(name) + 1}) for k, v in env.items()}, name: sym(name) + 1}
            pending += [one, more]
    return done


def _strict(f: Callable) -> Callable:
    def decided(a: Dim, b: Dim) -> bool:
        verdict = f(a, b)
        if verdict is None:
            raise Undecided(a - b)
        return verdict
    return decided


def _lt(decide: Decide) -> Callable:
    return lambda a, b: decide.le(a + 1, b)


def _one_formula(cases: list, newshape, decide: Decide) -> Any:
    """One formula for the strides of every case: that of the case where every split size
    is at least 2, written back in the original symbols, when it gives each case's strides
    (dims of size 1 aside); else UNKNOWN."""
    if len(cases) == 1:
        return normal(newshape, cases[0][1], decide)
    general = [c for c in cases if not any(isinstance(v, int) for v in c[0].values())]
    if not general:
        return UNKNOWN
    env, strides = general[0]
    back = {name: sym(name) - (v - sym(name)) for name, v in env.items()}
    formula = tuple(substitute(s, back) for s in strides)
    for case_env, case_strides in cases:
        shape = [substitute(d, case_env) for d in newshape]
        for j, stride in enumerate(case_strides):
            if decide.eq(shape[j], 1) is not True and decide.eq(substitute(formula[j], case_env), stride) is not True:
                return UNKNOWN
    return normal(newshape, formula, decide)


# -- the other views ----------------------------------------------------------------------------

def kept(t: Tensor, out: Tensor, decide: Decide) -> Any:
    """A view that keeps every dim and its stride (narrow, split, chunk)."""
    return normal(out.shape, strides_of(t), decide)


def selected(t: Tensor, out: Tensor, dim: int, decide: Decide) -> Any:
    """``select(dim, i)``: the dim dropped, the others keep their strides."""
    return normal(out.shape, dropped(strides_of(t), {dim}), decide)


def squeezed(t: Tensor, out: Tensor, drop: list[int], decide: Decide) -> Any:
    """``squeeze``: the dims ``drop`` (of size 1) dropped."""
    return normal(out.shape, dropped(strides_of(t), set(drop)), decide)


def indexed(t: Tensor, out: Tensor, items, decide: Decide) -> Any:
    """Basic indexing ``x[items]``: an integer drops a dim, a slice multiplies its stride
    by the step, None inserts a dim of 1, ``...`` keeps the dims no other item names."""
    strides = strides_of(t)
    if strides is UNKNOWN:
        return UNKNOWN
    used = sum(1 for i in items if i is not None and i != "...")
    new: list[Dim] = []
    d = 0
    for item in items:
        if item is None:
            new.append(1)
        elif item == "...":
            new.extend(strides[d:d + t.rank - used])
            d += t.rank - used
        elif isinstance(item, tuple):
            step = item[3] if item[3] is not None else 1
            new.append(strides[d] * step)
            d += 1
        else:
            d += 1
    new.extend(strides[d:])
    return normal(out.shape, new, decide) if len(new) == out.rank else UNKNOWN
