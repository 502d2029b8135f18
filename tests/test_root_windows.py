"""A root network whose parameters give a convolution's or a pool's window (kernel_size,
stride, padding, dilation), a floor division by a sum of them (`24 // (h + 1)`, a -1 next
to `h + 1`), a narrow's start (from either end) or a size: its class computes every size
from its parameters, and takes exactly the values ``check --set`` takes.

Each case is tried over a grid of values, the spec's defaults among them and the edges
(0 and -1, a size of 1, the largest window the input takes and one past it), through three
doors: ``check --set`` (api.loads with overrides), the built class's constructor, and a
translation written here by hand in torch (nn.LazyLinear where a size follows from the
window, so that no size is computed by netspec or copied from it). The three accept the
same values; where they do, the output shapes agree with each other and with the shape
check states, and the class's parameter count with the reference's and with check's.
"""

from __future__ import annotations

import itertools
import os
import random
import time
import warnings

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
import oracle  # noqa: E402

from netspec import api  # noqa: E402

_net = oracle._net


class _Reshape(nn.Module):
    def __init__(self, *sizes):
        super().__init__()
        self.sizes = sizes

    def forward(self, x):
        return x.reshape(x.shape[0], *self.sizes)


class _Narrow(nn.Module):
    def __init__(self, start, length):
        super().__init__()
        self.start, self.length = start, length

    def forward(self, x):
        return x.narrow(1, self.start, self.length)


def _seq(*layers):
    return nn.Sequential(*layers)


# name -> (spec, input shape, values tried per parameter, the hand-written translation)
CASES = {
    "conv-kernel-stride": (
        _net("N(k=3, s=1)", "input x: float[batch, 3, 12, 10]",
             "y = x -> Conv2d(4, k, stride=s) -> MaxPool2d(k) -> flatten(1) -> Linear(5)", "output y"),
        [2, 3, 12, 10], {"k": range(-1, 8), "s": range(-1, 5)},
        lambda v: _seq(nn.Conv2d(3, 4, v["k"], stride=v["s"]), nn.MaxPool2d(v["k"]), nn.Flatten(),
                       nn.LazyLinear(5))),
    "conv-padding-dilation": (
        _net("D(k=2, p=1, d=1)", "input x: float[batch, 2, 9, 7]",
             "y = x -> Conv2d(3, (k + 1, 3), padding=p, dilation=d) -> flatten(1) -> Linear(4)", "output y"),
        [2, 2, 9, 7], {"k": range(-2, 9), "p": range(-1, 3), "d": range(0, 4)},
        lambda v: _seq(nn.Conv2d(2, 3, (v["k"] + 1, 3), padding=v["p"], dilation=v["d"]), nn.Flatten(),
                       nn.LazyLinear(4))),
    "conv1d-same": (
        _net("S(k=3, d=2)", "input x: float[batch, 2, 11]",
             "y = x -> Conv1d(4, k, padding=\"same\", dilation=d) -> flatten(1) -> Linear(3)", "output y"),
        [2, 2, 11], {"k": range(-1, 7), "d": range(-1, 4)},
        lambda v: _seq(nn.Conv1d(2, 4, v["k"], padding="same", dilation=v["d"]), nn.Flatten(),
                       nn.LazyLinear(3))),
    "max-pool-window": (
        _net("P(k=3, s=2, p=1, d=1)", "input x: float[batch, 2, 11, 8]",
             "y = x -> MaxPool2d(k, stride=s, padding=p, dilation=d) -> flatten(1) -> Linear(3)", "output y"),
        [2, 2, 11, 8], {"k": range(0, 10), "s": range(0, 4), "p": range(-1, 4), "d": range(0, 3)},
        lambda v: _seq(nn.MaxPool2d(v["k"], stride=v["s"], padding=v["p"], dilation=v["d"]), nn.Flatten(),
                       nn.LazyLinear(3))),
    "avg-pool-ceil": (
        _net("A(k=2, s=3)", "input x: float[batch, 3, 10]",
             "y = x -> AvgPool1d(k, s, ceil_mode=true) -> flatten(1) -> Linear(2)", "output y"),
        [2, 3, 10], {"k": range(-1, 13), "s": range(-1, 6)},
        lambda v: _seq(nn.AvgPool1d(v["k"], v["s"], ceil_mode=True), nn.Flatten(), nn.LazyLinear(2))),
    "conv-transpose": (
        _net("T(k=3, s=2, p=1)", "input x: float[batch, 2, 5, 4]",
             "y = x -> ConvTranspose2d(3, k, stride=s, padding=p) -> flatten(1) -> Linear(2)", "output y"),
        [2, 2, 5, 4], {"k": range(-1, 5), "s": range(-1, 4), "p": range(-1, 6)},
        lambda v: _seq(nn.ConvTranspose2d(2, 3, v["k"], stride=v["s"], padding=v["p"]), nn.Flatten(),
                       nn.LazyLinear(2))),
    "conv-transpose-output-padding": (
        _net("U(s=2, op=1, d=1)", "input x: float[batch, 2, 5, 4]",
             "y = x -> ConvTranspose2d(3, 3, stride=s, output_padding=op, dilation=d) -> flatten(1) -> Linear(2)",
             "output y"),
        [2, 2, 5, 4], {"s": range(0, 5), "op": range(-1, 6), "d": range(0, 5)},
        lambda v: _seq(nn.ConvTranspose2d(2, 3, 3, stride=v["s"], output_padding=v["op"], dilation=v["d"]),
                       nn.Flatten(), nn.LazyLinear(2))),
    "reshape-by-sum": (
        _net("R(h=3)", "input x: float[batch, 12]", "y = x -> reshape(batch, h + 1, -1) -> Linear(3)", "output y"),
        [2, 12], {"h": range(-3, 14)},
        lambda v: _seq(_Reshape(v["h"] + 1, -1), nn.LazyLinear(3))),
    "floor-division-by-sum": (
        _net("F(h=3)", "input x: float[batch, 12]", "y = x -> Linear(24 // (h + 1)) -> Linear(24 // h)", "output y"),
        [2, 12], {"h": range(-3, 27)},
        lambda v: _seq(nn.Linear(12, 24 // (v["h"] + 1)), nn.Linear(24 // (v["h"] + 1), 24 // v["h"]))),
    "narrow-start": (
        _net("W(t=-3, k=2)", "input x: float[batch, 6]", "y = x -> narrow(1, t, k) -> Linear(4)", "output y"),
        [2, 6], {"t": range(-8, 8), "k": range(-1, 8)},
        lambda v: _seq(_Narrow(v["t"], v["k"]), nn.LazyLinear(4))),
}

MAX_TRIED = 120  # value tuples per case: all of a small grid, else a sample with the defaults


def _seed() -> int:
    seed = int(os.environ.get("NETSPEC_SEED", time.time_ns() % 2**32))
    print(f"seed {seed} (NETSPEC_SEED={seed} repeats it)")
    return seed


def _values(name: str, grid: dict, defaults: dict) -> list[dict]:
    """Every value tuple of a small grid; else each parameter swept over its range with the
    others at their defaults (the largest window each takes, and one past it), and a
    sample of the rest."""
    names = list(grid)
    every = [dict(zip(names, t)) for t in itertools.product(*grid.values())]
    if len(every) <= MAX_TRIED:
        return every
    sweeps = [{**defaults, p: v} for p, values in grid.items() for v in values]
    rng = random.Random(f"{name} {_seed()}")
    return sweeps + rng.sample(every, MAX_TRIED - len(sweeps))


def _reference(make, values: dict, x):
    """The hand-written model and its output, or None where torch refuses the values."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = make(values)
            y = x
            for layer in model:
                y = layer(y)
                if y.numel() == 0:
                    return None  # sizes are at least 1 (torch takes a Linear of no features)
    except (RuntimeError, ValueError, IndexError, ZeroDivisionError):
        return None
    return model, y


def _built(spec, values: dict):
    info = spec.class_info()
    try:
        return spec.module_class()(**{info.params[p]: v for p, v in values.items()})
    except ValueError as e:
        assert "needs" in str(e) and "received" in str(e), str(e)
        return None


def _count(model) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.fixture
def one_thread():
    """Tiny convolutions: one thread each is fastest on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("name", list(CASES))
def test_class_check_and_torch_take_the_same_values(name, one_thread):
    text, shape, grid, make = CASES[name]
    spec = api.loads(text)
    assert spec.class_info().checked == {}, f"{name}: the class is fixed to {spec.class_info().checked}"
    torch.manual_seed(0)
    x = torch.randn(*shape)
    verdicts = set()
    for values in _values(name, grid, spec.class_info().defaults):
        checked = api.loads(text, values, strict=False)
        model = _built(spec, values)
        ref = _reference(make, values, x)
        verdicts.add(checked.ok)
        assert checked.ok == (model is not None) == (ref is not None), \
            (name, values, checked.ok, model is not None, ref is not None)
        if model is None:
            continue
        with torch.no_grad():
            y = model.eval()(x)
        (_, out), = checked.network().outputs
        assert list(y.shape) == list(ref[1].shape) == oracle.shape_of(out.tensor, {"batch": shape[0], **values})
        assert _count(model) == _count(ref[0]) == checked.network().total_params, (name, values)
    assert verdicts == {True, False}, f"{name}: the values tried never reach both answers"


def test_the_issue_example_is_computed_not_pinned():
    """`Conv2d(8, k)` in a root network: `N(k=8)` builds and runs, as `check --set k=8`
    accepts; the class writes the sizes from `k` and no pin."""
    text = _net("N(k=3)", "input x: float[batch, 3, 32, 32]", "y = x -> Conv2d(8, k) -> flatten(1) -> Linear(10)",
                "output y")
    spec = api.loads(text)
    assert "holds only for that value" not in spec.code
    assert api.loads(text, {"k": 8}).ok
    y = spec.module_class()(k=8)(torch.randn(2, 3, 32, 32))
    assert list(y.shape) == [2, 10]
    with pytest.raises(ValueError, match=r"needs 1 <= k; received k=0"):
        spec.module_class()(k=0)
    with pytest.raises(ValueError, match=r"needs k <= 32; received k=33"):
        spec.module_class()(k=33)


def test_a_negative_conv_padding_is_refused():
    """torch refuses a negative padding when the convolution runs: check refuses it first,
    written or from a parameter, and the class tests it."""
    bad = api.loads(_net("B", "input x: float[batch, 3, 8, 8]", "y = x -> Conv2d(4, 3, padding=-1)", "output y"),
                    strict=False)
    assert [d.code for d in bad.result.reporter.errors] == ["value"]
    assert "padding must not be negative" in bad.result.reporter.errors[0].message
