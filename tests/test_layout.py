"""Memory layout (netspec.layout) against torch: the strides netspec states for a result,
and whether torch's `.view` refuses, compared with real torch.

A stated layout is a claim: None (contiguous) means torch's result is contiguous, a tuple
of strides means torch's strides equal them on every dim whose size is not 1; UNKNOWN
claims nothing (a `view` of it is refused).
"""

from __future__ import annotations

import collections
import itertools
import math
import random

import pytest

torch = pytest.importorskip("torch")
from test_kinds_torch import EXAMPLES, check_one, example_spec, example_tensors, parse_type, stage_call  # noqa: E402

from netspec.dims import evaluate  # noqa: E402
from netspec.types import UNKNOWN  # noqa: E402


def claims(net, tensor, actual, env: dict | None = None) -> str | None:
    """What is wrong with netspec's stated layout of ``tensor`` for torch's ``actual``."""
    if tensor.strides is UNKNOWN or actual.numel() == 0:  # no memory, no layout to state
        return None
    if tensor.strides is None:
        return None if actual.is_contiguous() else f"stated contiguous, torch's strides {actual.stride()}"
    stated = [evaluate(net.dim(s), env or {}) for s in tensor.strides]
    for size, want, got in zip(actual.shape, stated, actual.stride()):
        if size != 1 and want != got:
            return f"stated strides {stated}, torch's {actual.stride()}"
    return None


def _flat(result) -> list:
    if isinstance(result, (tuple, list)):
        return [t for r in result for t in _flat(r)]
    return [result] if isinstance(result, torch.Tensor) else []


def _stored(types: dict, layout: str) -> tuple | None:
    """The order in memory of the dims of the example's input ``x`` in ``layout`` (outermost
    first): every dim reversed ("transposed"), or the channels last ("channels_last", an input
    of 4 or 5 dims); None where the example has no such input."""
    rank = len(parse_type(types["x"])[1]) if "x" in types else 0
    if layout == "transposed" and rank >= 2:
        return tuple(reversed(range(rank)))
    if layout == "channels_last" and rank in (4, 5):
        return (0, *range(2, rank), 1)
    return None


def _read_through(text: str, types: dict, stored: tuple) -> str:
    """The example's spec with ``x`` read from an input of its dims in the order ``stored``,
    permuted back: the same shape, its strides those of that order."""
    dtype, shape = types["x"].split("[", 1)
    dims = shape.rstrip("]").split(", ")
    back = ", ".join(str(stored.index(j)) for j in range(len(stored)))
    text = text.replace(f"input x: {types['x']}", f"input x: {dtype}[{', '.join(dims[i] for i in stored)}]", 1)
    return text.replace("out = x -> ", f"out = x -> permute({back}) -> ", 1)


@pytest.mark.parametrize("layout", ["contiguous", "transposed", "channels_last"])
@pytest.mark.parametrize("kind,index,ex", EXAMPLES, ids=[f"{k.name}-{i}" for k, i, _ in EXAMPLES])
def test_stated_layout_of_every_example_is_torchs(kind, index, ex, layout):
    """Every kind's worked examples, in training and in eval mode, on contiguous inputs, on
    an input whose strides are reversed (a permuted tensor), and on a channels-last input
    (an NHWC tensor permuted to NCHW; torch's convolutions, pools and norms keep that
    format): the layout netspec states for each result is torch's."""
    text, stage, types = example_spec(kind, ex)
    stored = None
    if layout != "contiguous":
        stored = _stored(types, layout)
        if stored is None:
            pytest.skip(f"no input that can be {layout}")
        if kind.name == "view":
            pytest.skip("torch refuses these views: test_view_refused_exactly_where_torch_refuses")
        text = _read_through(text, types, stored)
    result, errors = check_one(text)
    assert not errors or stored is not None, (text, errors)
    if errors:  # a layout torch refuses (Kind.refused_formats): torch must raise on it
        assert len(errors) == 1 and " value: " in errors[0], (text, errors)
    (net,) = result.networks
    node = net.nodes[-1]
    for training in (True, False):
        torch.manual_seed(0)
        env = example_tensors(types)
        if stored is not None:
            env["x"] = env["x"].permute(*stored).contiguous().permute(*(stored.index(j) for j in range(len(stored))))
        module, call = stage_call(stage, env.get("x"), env)
        if module is not None:
            module.train(training)
        with torch.set_grad_enabled(training):  # eval without grad: torch's fast paths
            try:
                outs = _flat(call())
            except RuntimeError as e:  # max_pool3d of an unbatched [C, D, H, W] like channels_last
                assert errors, f"check accepts {stage} on {ex['input']} ({layout}), torch refuses: {e}"
                continue
            assert not errors, f"check refuses {stage} on {ex['input']} ({layout}), torch runs it: {errors}"
        for value, actual in zip(node.outputs, outs):
            wrong = claims(net, value.tensor, actual)
            assert wrong is None, f"{stage} on {ex['input']} (training={training}): {wrong}"


# -- random chains of views, against torch's .view -------------------------------------------------

class Chain:
    """A random chain of view ops over a tensor whose dims are literals or the symbols
    ``b`` and ``s``: the stages as spec text, and the same ops as torch calls."""

    def __init__(self, rng: random.Random, symbolic: bool):
        self.rng = rng
        names = ["b", "s"] if symbolic else []
        sizes = [rng.choice([1, 2, 3, 4, 6]) for _ in range(rng.randint(2, 4))]
        for name in names:
            sizes[rng.randrange(len(sizes))] = name
        self.input = sizes
        self.dims: list = list(sizes)  # each a literal or a product of symbols and literals
        self.stages: list[str] = []
        self.calls: list = []

    def add(self, stage: str, call, dims: list, sized: bool = False) -> None:
        """A stage; ``call(t)`` runs it, or ``call(t, env)`` where ``sized`` (its sizes
        need the symbols' values)."""
        self.stages.append(stage)
        self.calls.append(call if sized else (lambda t, env: call(t)))
        self.dims = dims

    def step(self) -> None:
        rng, dims = self.rng, self.dims
        rank = len(dims)
        moves = ["view"] * 4 + ["reshape", "contiguous", "ReLU", "flatten", "unsqueeze"]
        if rank >= 2:
            moves += ["transpose"] * 4 + ["permute", "permute", "select"]
        if any(isinstance(d, int) and d >= 2 for d in dims):
            moves += ["slice", "narrow"]
        if 1 in dims:
            moves += ["squeeze", "expand"] if rank >= 2 else ["expand"]
        getattr(self, "_" + rng.choice(moves))(rank)

    def _transpose(self, rank):
        i, j = self.rng.sample(range(rank), 2)
        d = list(self.dims)
        d[i], d[j] = d[j], d[i]
        self.add(f"transpose({i}, {j})", lambda t: t.transpose(i, j), d)

    def _permute(self, rank):
        order = list(range(rank))
        self.rng.shuffle(order)
        self.add(f"permute({', '.join(map(str, order))})", lambda t: t.permute(*order), [self.dims[k] for k in order])

    def _contiguous(self, rank):
        self.add("contiguous()", lambda t: t.contiguous(), list(self.dims))

    def _ReLU(self, rank):
        self.add("ReLU", torch.relu, list(self.dims))

    def _select(self, rank):
        i = self.rng.randrange(rank)
        self.add(f"select({i}, 0)", lambda t: t.select(i, 0), self.dims[:i] + self.dims[i + 1:])

    def _slice(self, rank):
        i = self.rng.choice([k for k, d in enumerate(self.dims) if isinstance(d, int) and d >= 2])
        start, step = self.rng.choice([(0, 2), (1, 1), (1, 2)])
        items = ", ".join(['("slice", None, None, None)'] * i + [f'("slice", {start}, None, {step})'])
        size = len(range(start, self.dims[i], step))
        index = (slice(None),) * i + (slice(start, None, step),)
        self.add(f"getitem(({items},))", lambda t: t[index], self.dims[:i] + [size] + self.dims[i + 1:])

    def _narrow(self, rank):
        i = self.rng.choice([k for k, d in enumerate(self.dims) if isinstance(d, int) and d >= 2])
        n = self.rng.randrange(1, self.dims[i])
        self.add(f"narrow({i}, 0, {n})", lambda t: t.narrow(i, 0, n), self.dims[:i] + [n] + self.dims[i + 1:])

    def _unsqueeze(self, rank):
        i = self.rng.randrange(rank + 1)
        self.add(f"unsqueeze({i})", lambda t: t.unsqueeze(i), self.dims[:i] + [1] + self.dims[i:])

    def _squeeze(self, rank):
        i = self.rng.choice([k for k, d in enumerate(self.dims) if d == 1])
        self.add(f"squeeze({i})", lambda t: t.squeeze(i), self.dims[:i] + self.dims[i + 1:])

    def _expand(self, rank):
        i = self.rng.choice([k for k, d in enumerate(self.dims) if d == 1])
        sizes = [-1] * rank
        sizes[i] = 3
        self.add(f"expand({', '.join(map(str, sizes))})", lambda t: t.expand(*sizes),
                 self.dims[:i] + [3] + self.dims[i + 1:])

    def _flatten(self, rank):
        s = self.rng.randrange(rank)
        e = self.rng.randrange(s, rank)
        merged = _product(self.dims[s:e + 1])
        self.add(f"flatten({s}, {e})", lambda t: t.flatten(s, e), self.dims[:s] + [merged] + self.dims[e + 1:])

    def _view(self, rank, name="view"):
        new = list(self.dims)
        for _ in range(self.rng.randint(1, 2)):
            new = _regroup(self.rng, new) or [1]
        shown = [_show(d) for d in new]
        if len(new) > 1 and self.rng.random() < 0.4:
            shown[self.rng.randrange(len(new))] = "-1"
        self.add(f"{name}({', '.join(shown)})", lambda t, env: getattr(t, name)(*[_value(d, env) for d in new]), new,
                 sized=True)

    def _reshape(self, rank):
        self._view(rank, "reshape")


def _product(dims: list):
    return tuple(d for g in dims for d in (g if isinstance(g, tuple) else (g,)))


def _show(d) -> str:
    return " * ".join(str(x) for x in d) if isinstance(d, tuple) else str(d)


def _value(d, env: dict) -> int:
    factors = d if isinstance(d, tuple) else (d,)
    return math.prod(env[x] if isinstance(x, str) else x for x in factors)


def _regroup(rng: random.Random, dims: list) -> list:
    """A new shape of as many elements: two adjacent dims merged, a literal split, or a 1
    put in or taken out."""
    choice = rng.choice([0, 0, 0, 1, 2, 3])
    if choice == 0 and len(dims) >= 2:
        i = rng.randrange(len(dims) - 1)
        return dims[:i] + [_product(dims[i:i + 2])] + dims[i + 2:]
    splittable = [k for k, d in enumerate(dims) if isinstance(d, int) and d in (4, 6)]
    if choice == 1 and splittable:
        i = rng.choice(splittable)
        return dims[:i] + [2, dims[i] // 2] + dims[i + 1:]
    if choice == 2 and 1 in dims:
        i = dims.index(1)
        return dims[:i] + dims[i + 1:]
    i = rng.randrange(len(dims) + 1)
    return dims[:i] + [1] + dims[i:]


def _torch_run(chain: Chain, env: dict):
    """Each stage's result in torch, up to the first that raises: (results, its index or None)."""
    t = torch.randn([_value(d, env) for d in chain.input])
    results = []
    for k, call in enumerate(chain.calls):
        try:
            t = call(t, env)
        except RuntimeError:
            return results, k
        results.append(t)
    return results, None


def _judge(chain: Chain, symbolic: bool) -> str:
    """Check the chain, run it in torch at every value of b and s in 1..3, and compare:
    what check accepts torch views with the stated layout at every step; a `view` check
    refuses torch refuses (for a literal shape; at some values, for a symbolic one)."""
    text = (f"network L {{\n    input x: float[{', '.join(map(str, chain.input))}]\n"
            f"    y = x -> {' -> '.join(chain.stages)}\n    output y\n}}\n")
    result, errors = check_one(text)
    (net,) = result.networks
    envs = [dict(zip("bs", v)) for v in itertools.product((1, 2, 3), repeat=2)] if symbolic else [{}]
    runs = [(env, *_torch_run(chain, env)) for env in envs]
    if not errors:
        for env, results, raised in runs:
            assert raised is None, f"check accepts, torch raises at {chain.stages[raised]} ({env}):\n{text}"
            for node, actual in zip(net.nodes, results):
                wrong = claims(net, node.outputs[0].tensor, actual, env)
                assert wrong is None, f"{node.kind_name} (line {node.span.line}) at {env}: {wrong}\n{text}"
        return "accepted"
    (error,) = errors
    at = next(k for k, n in enumerate(net.nodes) if n.error)
    assert chain.stages[at].startswith("view("), (text, errors)
    raised = [r if r is not None and r <= at else None for _, _, r in runs]  # what follows is not checked
    assert set(raised) <= {at, None}, f"torch raises at {raised}, check at {at}:\n{text}\n{errors}"
    if "cannot tell" in error:
        return "unknown"
    assert at in raised, f"check refuses the view, torch views it at every value:\n{text}\n{errors}"
    if not symbolic or "for some values" not in error:
        assert set(raised) == {at}, f"check says torch always refuses, torch views it at some values:\n{text}\n{errors}"
    return "refused"


@pytest.mark.parametrize("symbolic", [False, True], ids=["literal", "symbolic"])
def test_view_refused_exactly_where_torch_refuses(symbolic):
    """Random chains of transpose, permute, contiguous, view, reshape, flatten, slices,
    select, narrow, squeeze, unsqueeze, expand and an activation: netspec's verdict on every
    `view`, and the layout it states for every step, against torch."""
    verdicts = collections.Counter()
    for seed in range(300):  # scripts and longer runs: any range of seeds
        rng = random.Random(seed)
        chain = Chain(rng, symbolic)
        for _ in range(rng.randint(2, 6)):
            chain.step()
        verdicts[_judge(chain, symbolic)] += 1
    assert verdicts["refused"] >= 20 and verdicts["accepted"] >= 100, verdicts
    assert verdicts["unknown"] <= verdicts["refused"], verdicts


# -- the batch through a reshape, against torch ----------------------------------------------------

def _batch_case(rng: random.Random) -> tuple[list, list]:
    """A shape with `batch` among literal dims, and a new shape of as many elements: the
    old dims regrouped, or `batch` put elsewhere with -1 taking the rest."""
    old: list = [rng.choice([1, 2, 3, 4]) for _ in range(rng.randint(1, 3))]
    old.insert(rng.randrange(len(old) + 1), "batch")
    if rng.random() < 0.3:
        old.insert(rng.randrange(len(old) + 1), "seq")
    if rng.random() < 0.5:
        new = list(old)
        for _ in range(rng.randint(1, 2)):
            new = _regroup(rng, [(d,) if d == "batch" else d for d in new])
            new = [d[0] if isinstance(d, tuple) and len(d) == 1 else d for d in new]
        return old, new
    left = math.prod(d for d in old if isinstance(d, int))
    rest = []
    for _ in range(rng.randint(0, 2)):  # sizes that divide what is left: -1 is exact
        rest.append(rng.choice([k for k in (1, 2, 3, 4) if left % k == 0]))
        left //= rest[-1]
    new = [*rest, -1]
    new.insert(rng.randrange(len(new) + 1), "batch")
    return old, new


def _mixes(old: list, new: list, batch: int, seq: int) -> bool:
    """Whether torch's reshape puts elements of several samples in one slice along the new
    dim that holds the batch (each element holds its sample's index)."""
    env = {"batch": batch, "seq": seq}
    shape = [env.get(d, d) for d in old]
    at = old.index("batch")
    x = torch.arange(batch).reshape([batch if k == at else 1 for k in range(len(old))]).expand(shape)
    sizes = [_value(d, env) if d != -1 else -1 for d in new]
    y = x.reshape(sizes)
    j = next(k for k, d in enumerate(new) if "batch" in (d if isinstance(d, tuple) else (d,)))
    for k in range(y.shape[j]):
        if y.select(j, k).unique().numel() > 1:
            return True
    return False


def test_a_reshape_that_moves_the_batch_is_refused_exactly_where_torch_mixes_samples():
    """Random reshapes of a tensor with a `batch` dim: netspec's `layout` error exactly
    where torch's result mixes samples in the slices of the dim the shape calls batch."""
    verdicts = collections.Counter()
    for seed in range(400):
        rng = random.Random(seed)
        old, new = _batch_case(rng)
        shown = ", ".join(_show(d) for d in new)
        text = (f"network B {{\n    input x: float[{', '.join(map(str, old))}]\n"
                f"    y = x -> reshape({shown})\n    output y\n}}\n")
        _, errors = check_one(text)
        assert all(" layout: " in e for e in errors), (text, errors)
        mixes = any(_mixes(old, new, b, n) for b, n in ((2, 3), (3, 2), (5, 4)))
        assert bool(errors) == mixes, f"check {'refuses' if errors else 'accepts'}, torch mixes: {mixes}\n{text}"
        verdicts[bool(errors)] += 1
    assert verdicts[True] >= 50 and verdicts[False] >= 50, verdicts


def _merged_case(rng: random.Random) -> tuple[list, str, list]:
    """A shape with `batch`, a first step that merges a run of adjacent dims holding it (a
    flatten or a reshape: never mixes samples), and a new shape with `batch` elsewhere."""
    old, _ = _batch_case(rng)
    while len(old) < 3:
        old.insert(rng.randrange(len(old) + 1), rng.choice([2, 3]))
    at = old.index("batch")
    a = rng.randint(max(0, at - 2), min(at, len(old) - 2))
    b = rng.randint(max(at + 1, a + 2), min(len(old), at + 3))
    if rng.random() < 0.5:
        first = f"flatten({a}, {b - 1})"
    else:
        merged = old[:a] + [tuple(x for d in old[a:b] for x in (d if isinstance(d, tuple) else (d,)))] + old[b:]
        first = f"reshape({', '.join(_show(d) for d in merged)})"
    left = math.prod(d for d in old if isinstance(d, int))
    rest = []
    for _ in range(rng.randint(0, 2)):
        rest.append(rng.choice([k for k in (1, 2, 3, 4) if left % k == 0]))
        left //= rest[-1]
    new = [*rest, -1]
    new.insert(rng.randrange(len(new) + 1), "batch")
    return old, first, new


def test_the_batch_is_followed_through_a_merge():
    """A flatten or reshape that merges the batch dim with its neighbours, maybe elementwise
    ops (one that adds the tensor to itself too), then a reshape that names `batch` again:
    the `layout` error exactly where torch's result (the two reshapes are one, read
    row-major) mixes samples in the slices of that dim."""
    verdicts = collections.Counter()
    for seed in range(300):
        rng = random.Random(seed)
        old, first, new = _merged_case(rng)
        middle = rng.choice(["", " -> ReLU", " -> mul(2.0)", f" -> add(x -> {first})", " -> sub(1.0) -> Sigmoid"])
        text = (f"network B {{\n    input x: float[{', '.join(map(str, old))}]\n"
                f"    y = x -> {first}{middle} -> reshape({', '.join(_show(d) for d in new)})\n    output y\n}}\n")
        _, errors = check_one(text)
        assert all(" layout: " in e and "reshape(" in e.split(" layout: ")[1][:9] for e in errors), (text, errors)
        mixes = any(_mixes(old, new, b, n) for b, n in ((2, 3), (3, 2), (5, 4)))
        assert bool(errors) == mixes, f"check {'refuses' if errors else 'accepts'}, torch mixes: {mixes}\n{text}"
        verdicts[bool(errors)] += 1
    assert verdicts[True] >= 50 and verdicts[False] >= 50, verdicts


def _repeated_case(rng: random.Random) -> tuple[list, int, str, list]:
    """A shape with `batch`, its batch dim repeated or joined to itself ``count`` times, and
    a new shape of as many elements with `batch` somewhere."""
    old = [rng.choice([1, 2, 3]) for _ in range(rng.randint(1, 2))]
    at = rng.randrange(len(old) + 1)
    old.insert(at, "batch")
    count = rng.choice([2, 3])
    if rng.random() < 0.5:
        step = f"repeat({', '.join(str(count) if k == at else '1' for k in range(len(old)))})"
    else:
        step = f"cat({', '.join(['x'] * count)}, dim={at})"
    left = count * math.prod(d for d in old if isinstance(d, int))
    rest = []
    for _ in range(rng.randint(0, 2)):
        rest.append(rng.choice([k for k in (1, 2, 3, 4) if left % k == 0]))
        left //= rest[-1]
    new = [*rest, -1]
    new.insert(rng.randrange(len(new) + 1), "batch")
    return old, count, step, new


def _mixes_repeated(old: list, count: int, new: list, batch: int) -> bool:
    shape = [batch if d == "batch" else d for d in old]
    at = old.index("batch")
    x = torch.arange(batch).reshape([batch if k == at else 1 for k in range(len(old))]).expand(shape)
    y = x.repeat([count if k == at else 1 for k in range(len(old))]).reshape([batch if d == "batch" else d for d in new])
    j = new.index("batch")
    return any(y.select(j, k).unique().numel() > 1 for k in range(y.shape[j]))


def test_the_batch_is_followed_through_repeat_and_cat():
    """The batch dim repeated (`repeat`, or `cat` of a tensor with itself along it), then a
    reshape that names `batch`: the `layout` error exactly where torch mixes samples."""
    verdicts = collections.Counter()
    for seed in range(200):
        rng = random.Random(seed)
        old, count, step, new = _repeated_case(rng)
        source = step if step.startswith("cat(") else f"x -> {step}"
        text = (f"network B {{\n    input x: float[{', '.join(map(str, old))}]\n"
                f"    y = {source} -> reshape({', '.join(map(str, new))})\n    output y\n}}\n")
        _, errors = check_one(text)
        assert all(" layout: " in e for e in errors), (text, errors)
        mixes = any(_mixes_repeated(old, count, new, b) for b in (2, 3, 5))
        assert bool(errors) == mixes, f"check {'refuses' if errors else 'accepts'}, torch mixes: {mixes}\n{text}"
        verdicts[bool(errors)] += 1
    assert verdicts[True] >= 30 and verdicts[False] >= 30, verdicts


# -- the batch through einsum, slices, pieces, scan and resampling, against torch -------------------

ENVS = ({"batch": 2, "seq": 3}, {"batch": 3, "seq": 2}, {"batch": 5, "seq": 4})


def _in_order(fn, shape: list, at: int, out_dim: int, env: dict) -> bool | None:
    """Whether slice k of dim ``out_dim`` of ``fn(x)`` depends on sample k of ``x`` (along
    its dim ``at``) and on no other sample, for every k (changing one sample at a time); None
    when torch refuses the computation at these sizes."""
    gen = torch.Generator().manual_seed(0)
    x = torch.rand([_value(d, env) for d in shape], generator=gen, dtype=torch.float64)
    try:
        y = fn(x)
    except RuntimeError:
        return None
    for s in range(env["batch"]):
        x2 = x.clone()
        x2.select(at, s).add_(1.0)
        moved = ((fn(x2) - y).abs() > 1e-9).movedim(out_dim, 0)
        touched = moved.reshape(moved.shape[0], -1).any(1)
        if any(bool(v) for k, v in enumerate(touched) if k != s):
            return False
    return True


def _merge(rng: random.Random) -> tuple[list, str, list, int]:
    """A shape with `batch` (and literal dims around it), a flatten that merges a run of
    adjacent dims holding it, the merged shape, and the merged dim's index."""
    old, _ = _batch_case(rng)
    while len(old) < 3:
        old.insert(rng.randrange(len(old) + 1), rng.choice([2, 3]))
    at = old.index("batch")
    a = rng.randint(max(0, at - 2), min(at, len(old) - 2))
    b = rng.randint(max(at + 1, a + 2), min(len(old), at + 3))
    merged = old[:a] + [tuple(old[a:b])] + old[b:]
    return old, f"flatten({a}, {b - 1})", merged, a


def _batch_shape(rng: random.Random, left: int) -> list:
    """A new shape naming `batch` somewhere, literal dims that divide ``left``, -1 for the rest."""
    rest = []
    for _ in range(rng.randint(0, 2)):
        rest.append(rng.choice([k for k in (1, 2, 3, 4) if left % k == 0]))
        left //= rest[-1]
    new = [*rest, -1]
    new.insert(rng.randrange(len(new) + 1), "batch")
    return new


def _concrete(new: list, env: dict) -> list:
    return [env[d] if isinstance(d, str) else d for d in new]


def _verdict(text: str, fn, old: list, out_dim: int) -> tuple[list, list]:
    """Check's errors on ``text`` and torch's verdicts (in order, or None where it refuses)
    on ``fn`` at each of ENVS."""
    result, errors = check_one(text)
    return errors, [_in_order(fn, old, old.index("batch"), out_dim, env) for env in ENVS]


def test_the_batch_is_followed_through_einsum():
    """A merge of the batch dim with its neighbours, an einsum that permutes the dims and may
    contract a literal one with a weight (keeping the merged one), then a reshape naming
    `batch`: the `layout` error exactly where torch's result is not one sample per slice."""
    verdicts = collections.Counter()
    w = torch.rand(4, 2, dtype=torch.float64) + 0.5
    for seed in range(150):
        rng = random.Random(seed)
        old, first, merged, a = _merge(rng)
        letters = "abcdefg"[:len(merged)]
        out = list(letters)
        ints = [k for k, d in enumerate(merged) if isinstance(d, int) and k != a]
        sizes = list(merged)
        contract = rng.choice(ints) if ints and rng.random() < 0.6 else None
        if contract is not None:
            out[contract], sizes[contract] = "z", 2
        order = list(range(len(out)))
        rng.shuffle(order)
        equation = f"{letters}{f',{letters[contract]}z' if contract is not None else ''}->{''.join(out[k] for k in order)}"
        new = _batch_shape(rng, math.prod(d for k, d in enumerate(sizes) if isinstance(d, int)))
        weight = ", w" if contract is not None else ""
        decl = f"    input w: float[{merged[contract] if contract is not None else 1}, 2]\n"
        text = (f"network B {{\n    input x: float[{', '.join(map(str, old))}]\n{decl}"
                f"    y = x -> {first} -> einsum(\"{equation}\"{weight}) -> reshape({', '.join(map(str, new))})\n"
                "    output y\n}\n")

        def fn(x, equation=equation, contract=contract, new=new, merged=merged, a=a, old=old):
            env = {"batch": x.shape[old.index("batch")]}
            y = x.flatten(a, a + len(merged[a]) - 1)
            ops = [y] if contract is None else [y, w[:merged[contract]]]
            return torch.einsum(equation, *ops).reshape(_concrete(new, env))
        errors, torch_says = _verdict(text, fn, old, new.index("batch"))
        assert all(" layout: " in e and "reshape(" in e for e in errors), (text, errors)
        assert None not in torch_says, text
        assert bool(errors) == (False in torch_says), f"check: {errors}; torch in order: {torch_says}\n{text}"
        verdicts[bool(errors)] += 1
    assert verdicts[True] >= 30 and verdicts[False] >= 30, verdicts


def _slice_bounds(rng: random.Random, run: tuple) -> tuple[str, str] | None:
    """A start and a length (as dims) of a slice of a merged dim of the factors ``run``,
    in range at every size of ENVS."""
    total = _show(run)
    inner = _show(run[run.index("batch") + 1:] or (1,))
    starts = ["0", "1", inner, "batch", f"{inner} * batch", f"{total} - batch", f"{total} - {inner} * batch"]
    start = rng.choice(starts)
    length = rng.choice(["batch", f"{total} - ({start})", "2", f"{inner} * batch", "2 * batch"])
    for env in ENVS:
        s, n, t = (eval(e, {}, dict(env)) for e in (start, length, total))  # noqa: S307 - our own text
        if not (0 <= s and 0 <= n and s + n <= t):
            return None
    return start, length


def _slice_step(rng: random.Random, a: int, start: str, length: str, run: tuple) -> tuple[str, object, str]:
    """The spec's stage that slices dim ``a`` so, torch's, and what names the result."""
    form = rng.choice(["narrow", "getitem", "split", "chunk"])
    if form == "narrow":
        return f"narrow({a}, {start}, {length})", lambda y, e: y.narrow(a, e(start), e(length)), ""
    if form == "getitem":
        full = '("slice", None, None, None), ' * a
        return (f'getitem(({full}("slice", {start}, {start} + {length}, None),))',
                lambda y, e: y[(slice(None),) * a + (slice(e(start), e(start) + e(length)),)], "")
    if form == "chunk":
        return f"chunk(1, dim={a})", lambda y, e: y.chunk(1, a)[0], ".output0"
    rest = f"{_show(run)} - ({start}) - ({length})"
    sections = [s for s in (start, length, rest) if s != "0"]
    pick = sections.index(length) if start != "0" else 0
    return (f"split(({', '.join(sections)}), dim={a})",
            lambda y, e: y.split([e(s) for s in sections], a)[pick], f".output{pick}")


def test_the_batch_is_followed_through_slices_and_pieces():
    """A merge of the batch dim with its neighbours, a slice of the merged dim (narrow, a
    subscript, a piece of split or chunk), then the slice itself where it is `batch` or a
    reshape naming `batch`: the `layout` error exactly where torch's result is not one
    sample per slice; where torch cannot reshape at some sizes, check says so too."""
    verdicts = collections.Counter()
    for seed in range(300):
        rng = random.Random(seed)
        old, first, merged, a = _merge(rng)
        bounds = _slice_bounds(rng, merged[a])
        if bounds is None:
            continue
        start, length = bounds
        stage, cut, field = _slice_step(rng, a, start, length, merged[a])
        if stage.startswith("chunk"):
            length = _show(merged[a])  # the one piece is the whole dim
        left = math.prod(d for k, d in enumerate(merged) if isinstance(d, int) and k != a)
        new = None if length == "batch" else _batch_shape(rng, left)
        tail = "" if new is None else f" -> reshape({', '.join(map(str, new))})"
        text = (f"network B {{\n    input x: float[{', '.join(map(str, old))}]\n    p = x -> {first} -> {stage}\n"
                f"    y = p{field}{tail}\n    output y\n}}\n")

        def fn(x, a=a, merged=merged, cut=cut, new=new, old=old):
            env = {"batch": x.shape[old.index("batch")], "seq": x.shape[old.index("seq")] if "seq" in old else 0}
            y = cut(x.flatten(a, a + len(merged[a]) - 1), lambda expr: eval(expr, {}, dict(env)))  # noqa: S307
            return y if new is None else y.reshape(_concrete(new, env))
        result, errors = check_one(text)
        errors = [e for e in errors if " unknown-attr: " not in e]  # the pieces of a refused split
        torch_says = [_in_order(fn, old, old.index("batch"), a if new is None else new.index("batch"), env)
                      for env in ENVS]
        if None in torch_says:  # torch cannot reshape it at some sizes: an error or an `unproven` warning
            assert errors or any(d.code == "unproven" for d in result.reporter.items), text
            verdicts["torch refuses"] += 1
            continue
        assert all(" layout: " in e for e in errors), (text, errors)
        assert bool(errors) == (False in torch_says), f"check: {errors}; torch in order: {torch_says}\n{text}"
        verdicts[bool(errors)] += 1
    assert verdicts[True] >= 20 and verdicts[False] >= 20, verdicts


def test_the_batch_is_followed_through_scan():
    """A sequence whose samples are merged with a literal dim ([seq, batch * k, F]), scanned
    over time by a shared GRUCell from a state made from its first step: the stacked states
    and the last one, reshaped to name `batch`: the `layout` error exactly where torch's
    result is not one sample per slice."""
    verdicts = collections.Counter()
    cell, lin = torch.nn.GRUCell(4, 5).double(), torch.nn.Linear(4, 5).double()
    for seed in range(60):
        rng = random.Random(seed)
        run = [rng.choice([1, 2, 3]) for _ in range(rng.randint(0, 2))]
        run.insert(rng.randrange(len(run) + 1), "batch")
        old = ["seq", *run, 4]
        which = rng.choice(["states", "last"])
        left = math.prod(d for d in run if isinstance(d, int)) * 5
        new = _batch_shape(rng, left)
        if which == "states" and rng.random() < 0.5:
            new.insert(0, "seq")
        text = (f"network B {{\n    input x: float[{', '.join(map(str, old))}]\n"
                f"    m = x -> flatten(1, {len(run)})\n    h0 = m -> select(0, 0) -> Linear(5)\n"
                "    shared cell = GRUCell(5)\n    states, last = m -> scan(cell, h0)\n"
                f"    y = {which} -> reshape({', '.join(map(str, new))})\n    output y\n}}\n")

        def fn(x, run=run, which=which, new=new, old=old):
            env = {"batch": x.shape[old.index("batch")], "seq": x.shape[0]}
            m = x.flatten(1, len(run))
            h, states = lin(m[0]), []
            for step in m.unbind(0):
                h = cell(step, h)
                states.append(h)
            y = torch.stack(states) if which == "states" else h
            return y.reshape(_concrete(new, env))
        _, errors = check_one(text)
        assert all(" layout: " in e and "reshape(" in e for e in errors), (text, errors)
        with torch.no_grad():
            torch_says = [_in_order(fn, old, old.index("batch"), new.index("batch"), env) for env in ENVS]
        assert None not in torch_says, text
        assert bool(errors) == (False in torch_says), f"check: {errors}; torch in order: {torch_says}\n{text}"
        verdicts[bool(errors)] += 1
    assert verdicts[True] >= 10 and verdicts[False] >= 10, verdicts


def _blends(mode: str, shape: list, k: int, env: dict) -> bool:
    """Whether torch's interpolation makes an element of dim ``k`` from two samples."""
    x = torch.zeros([_value(d, env) for d in shape], dtype=torch.float64)
    outs = []
    for s in (0, 1):
        x2 = x.clone()
        x2.select(k, s).fill_(1.0)
        outs.append(torch.nn.functional.interpolate(x2, scale_factor=2, mode=mode) != 0)
    return bool((outs[0] & outs[1]).any())


def test_resampling_refuses_a_spatial_dim_that_holds_the_batch():
    """Upsample and interpolate over [N, C, *spatial] with the batch named or merged in some
    dim, then a reshape naming `batch`: refused (at the resampling) exactly where a spatial
    dim holds the samples, where an interpolating mode blends neighbouring samples in torch;
    anything accepted is one sample per slice in torch."""
    verdicts = collections.Counter()
    for seed in range(120):
        rng = random.Random(seed)
        rank = rng.choice([3, 4])
        old = [rng.choice([1, 2, 3]) for _ in range(rank)]
        old[rng.randrange(rank)] = "batch"
        at, first, shape = old.index("batch"), "", list(old)
        if rng.random() < 0.4:  # merge the batch with a literal dim put beside it
            old.insert(at + rng.choice([0, 1]), 2)
            a = min(at, old.index("batch"))
            first, shape = f" -> flatten({a}, {a + 1})", old[:a] + [tuple(old[a:a + 2])] + old[a + 2:]
        holder = next(k for k, d in enumerate(shape) if "batch" in (d if isinstance(d, tuple) else (d,)))
        mode = rng.choice(["nearest", "linear" if rank == 3 else "bilinear"])
        stage = rng.choice(["Upsample", "interpolate"]) + f'(scale_factor=2, mode="{mode}")'
        left = math.prod(d for d in old if isinstance(d, int)) * 2 ** (rank - 2)
        new = _batch_shape(rng, left)
        text = (f"network B {{\n    input x: float[{', '.join(map(str, old))}]\n"
                f"    y = x{first} -> {stage} -> reshape({', '.join(map(str, new))})\n    output y\n}}\n")
        _, errors = check_one(text)
        refused = [e for e in errors if " layout: " in e and ("Upsample" in e or "interpolate" in e)]
        assert bool(refused) == (holder >= 2), (text, errors)
        if holder >= 2 and mode != "nearest":
            env = {"batch": 3}
            assert _blends(mode, [_value(d, env) for d in shape], holder, env), text
        if not errors:

            def fn(x, mode=mode, new=new, shape=shape, old=old):
                env = {"batch": x.shape[old.index("batch")]}
                y = x.reshape([_value(d, env) for d in shape])
                y = torch.nn.functional.interpolate(y, scale_factor=2, mode=mode)
                return y.reshape(_concrete(new, env))
            torch_says = [_in_order(fn, old, old.index("batch"), new.index("batch"), env) for env in ENVS]
            assert False not in torch_says and None not in torch_says, (text, torch_says)
        verdicts["refused" if refused else "other error" if errors else "accepted"] += 1
    assert verdicts["refused"] >= 20 and verdicts["accepted"] >= 20, verdicts


NORMS_AND_PADS = {  # stage: (the ranks it takes, the dims it reads across, the dim it reads its size from, torch's)
    "GroupNorm(1, affine=false)": ((3, 4), lambda r: range(2, r), lambda r: 1,
                                   lambda c: torch.nn.GroupNorm(1, c, affine=False)),
    "InstanceNorm1d": ((2, 3), lambda r: [r - 1], lambda r: r - 2, lambda c: torch.nn.InstanceNorm1d(c)),
    "InstanceNorm2d": ((3, 4), lambda r: [r - 2, r - 1], lambda r: r - 3, lambda c: torch.nn.InstanceNorm2d(c)),
    "ConstantPad1d((1, -1), 0.5)": ((2, 3, 4), lambda r: [r - 1], lambda r: None,
                                    lambda c: torch.nn.ConstantPad1d((1, -1), 0.5)),
    'pad((0, 0, 2, -2), mode="constant")': ((2, 3, 4), lambda r: [r - 2], lambda r: None,
                                            lambda c: lambda x: torch.nn.functional.pad(x, (0, 0, 2, -2))),
}


def test_norms_and_pads_refuse_a_dim_that_holds_the_batch():
    """GroupNorm, InstanceNorm and pads given the batch (named, or merged with a literal dim)
    in some dim: refused exactly where the layer reads across a dim that holds it; there, in
    torch, a sample's result depends on other samples (or the samples shift); anything
    accepted keeps one sample per slice of its batch dim in torch."""
    verdicts = collections.Counter()
    for seed in range(120):
        rng = random.Random(seed)
        stage = rng.choice(sorted(NORMS_AND_PADS))
        ranks, across, sized, layer = NORMS_AND_PADS[stage]
        rank = rng.choice(ranks)
        old = [rng.choice([2, 3]) for _ in range(rank)]
        holder = rng.choice([k for k in range(rank) if k != sized(rank)])  # not its size: a data-sized layer
        old[holder] = "batch"
        first = ""
        if rng.random() < 0.3 and holder + 1 < rank and holder + 1 != sized(rank):  # merged with the dim after
            old.insert(holder + 1, 2)
            first = f" -> flatten({holder}, {holder + 1})"
        text = (f"network B {{\n    input x: float[{', '.join(map(str, old))}]\n    y = x{first} -> {stage}\n"
                "    output y\n}\n")
        _, errors = check_one(text)
        assert all(" layout: " in e for e in errors), (text, errors)
        assert bool(errors) == (holder in across(rank)), (text, errors)
        if not first:
            module = layer(old[sized(rank)] if sized(rank) is not None else 1)
            torch_says = [_in_order(module, old, holder, holder, env) for env in ENVS]
            assert (False in torch_says) == bool(errors), (text, torch_says)
        verdicts["refused" if errors else "accepted"] += 1
    assert verdicts["refused"] >= 20 and verdicts["accepted"] >= 20, verdicts


def _gru(c: int, **kw):
    gru = torch.nn.GRU(c, 3, **kw).double()
    return lambda x: gru(x)[0]


def _attention(c: int):
    mha = torch.nn.MultiheadAttention(c, 1).double()
    return lambda x: mha(x, x, x, need_weights=False)[0]


READERS = {  # stage: (the ranks it takes, the dims it reads along, the dim it reads its size from, torch's)
    "Conv1d(3, 3, padding=1)": ((3,), lambda r: [2], lambda r: 1, lambda c: torch.nn.Conv1d(c, 3, 3, padding=1)),
    "Conv2d(2, 3, padding=1)": ((4,), lambda r: [2, 3], lambda r: 1, lambda c: torch.nn.Conv2d(c, 2, 3, padding=1)),
    "ConvTranspose1d(2, 2)": ((3,), lambda r: [2], lambda r: 1, lambda c: torch.nn.ConvTranspose1d(c, 2, 2)),
    "MaxPool1d(2)": ((2, 3), lambda r: [r - 1], lambda r: None, lambda c: torch.nn.MaxPool1d(2)),
    "AvgPool2d(2)": ((3, 4), lambda r: [r - 2, r - 1], lambda r: None, lambda c: torch.nn.AvgPool2d(2)),
    "LPPool2d(2, 2)": ((3, 4), lambda r: [r - 2, r - 1], lambda r: None, lambda c: torch.nn.LPPool2d(2, 2)),
    "AdaptiveAvgPool1d(1)": ((2, 3), lambda r: [r - 1], lambda r: None, lambda c: torch.nn.AdaptiveAvgPool1d(1)),
    "AdaptiveMaxPool2d(1)": ((3, 4), lambda r: [r - 2, r - 1], lambda r: None,
                             lambda c: torch.nn.AdaptiveMaxPool2d(1)),
    "GLU(1)": ((2, 3), lambda r: [1], lambda r: None, lambda c: torch.nn.GLU(1)),
    "GRU(4, 3)": ((2, 3), lambda r: [0], lambda r: r - 1, _gru),
    "GRU(4, 3, batch_first=true)": ((3,), lambda r: [1], lambda r: 2, lambda c: _gru(c, batch_first=True)),
    "MultiheadAttention(1)": ((2, 3), lambda r: [0], lambda r: r - 1, _attention),
    "EmbeddingBag(10, 3)": ((2,), lambda r: [1], lambda r: None, lambda c: torch.nn.EmbeddingBag(10, 3).double()),
}
READER_ENVS = ({"batch": 2}, {"batch": 4})


def _samples_meet(fn, shape: list, at: int, env: dict, ids: bool) -> bool | None:
    """Whether some element of ``fn(x)`` depends on two samples of ``x`` (along its dim
    ``at``): the elements each sample's change moves overlap. None when torch refuses."""
    gen = torch.Generator().manual_seed(0)
    sizes = [_value(d, env) for d in shape]
    x = torch.randint(0, 9, sizes, generator=gen) if ids else torch.rand(sizes, generator=gen, dtype=torch.float64)
    try:
        y = fn(x)
    except RuntimeError:
        return None
    seen = torch.zeros(y.shape, dtype=torch.int64)
    for s in range(env["batch"]):
        x2 = x.clone()
        row = x2.select(at, s)
        row.copy_((row + 1) % 10 if ids else row + torch.rand(row.shape, generator=gen, dtype=torch.float64) + 1)
        seen += ((fn(x2) - y).abs() > 1e-9).long()
    return bool((seen > 1).any())


def _reader_spec(rng: random.Random, stage: str, old: list, first: str) -> tuple[str, bool]:
    """The spec of ``x -> first -> stage``, the stage written directly or in a network used
    as a stage (which checks it with its input's samples where they are); and which."""
    dtype = "long" if stage.startswith("EmbeddingBag") else "float"
    top = f"    input x: {dtype}[{', '.join(map(str, old))}]\n"
    if rng.random() < 0.5:
        return f"network B {{\n{top}    y = x{first} -> {stage}\n    output y\n}}\n", False
    rank = len(old) - (1 if first else 0)
    dims = ", ".join(f"d{k}" for k in range(rank))
    block = f"network S {{\n    input v: {dtype}[{dims}]\n    y = v -> {stage}\n    output y\n}}\n\n"
    return f"{block}network B {{\n{top}    y = x{first} -> S\n    output y\n}}\n", True


def test_every_layer_that_reads_along_a_dim_refuses_one_that_holds_the_batch():
    """Convolutions, pools (LPPool, adaptive), GLU, recurrent and attention
    layers (along time), EmbeddingBag (along a bag), given the batch (named, or merged with a
    literal dim) in some dim, written directly or inside a network used as a stage: refused
    exactly where the layer reads along the dim that holds it; there, in torch, an element
    of the result depends on two samples; anything accepted keeps every sample's result
    apart from the others'."""
    verdicts = collections.Counter()
    for seed in range(240):
        rng = random.Random(seed)
        stage = rng.choice(sorted(READERS))
        ranks, along, sized, layer = READERS[stage]
        rank = rng.choice(ranks)
        old: list = [4] * rank
        holder = rng.choice([k for k in range(rank) if k != sized(rank)])  # not its size: a data-sized layer
        old[holder], first, at = "batch", "", holder
        if rng.random() < 0.4:  # merged with a literal dim: before it, or after it where that still mixes
            after = rng.random() < 0.5 and stage.startswith(("GRU", "Multi", "Embedding", "GLU"))
            old.insert(holder + after, 2)
            at = holder + (not after)
            first = f" -> flatten({holder}, {holder + 1})"
        text, blocked = _reader_spec(rng, stage, old, first)
        _, errors = check_one(text)
        assert all(" layout: " in e for e in errors), (text, errors)
        gated = stage == "GLU(1)" and first and not after  # the halves are the same samples'
        assert bool(errors) == (holder in along(rank) and not gated), (text, errors)
        module = layer(4)
        module = module.double() if isinstance(module, torch.nn.Module) else module
        fn = (lambda x, m=module, h=holder: m(x.flatten(h, h + 1))) if first else module
        with torch.no_grad():
            torch_says = [_samples_meet(fn, old, at, env, "long" in text) for env in READER_ENVS]
        assert any(v is not None for v in torch_says), text
        assert (True in torch_says) == bool(errors) and (False not in torch_says or not errors), (text, torch_says)
        verdicts[("refused" if errors else "accepted", "merged" if first else "named", blocked)] += 1
    assert len(verdicts) == 8 and min(verdicts.values()) >= 5, verdicts
