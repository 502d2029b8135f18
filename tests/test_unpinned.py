"""A size a root network's class computes from its parameters where check found it whole
or in order only for their values (a -1 in reshape or Unflatten, `12 // h`, `12 // (h + 1)`; an arange's
span, a narrow's bounds): the class takes every value ``check --set`` accepts, instead of
being fixed to the checked one, and refuses exactly the values check --set refuses, with
a ValueError naming the parameters and the fact.

Random values of the parameters (seed printed, rotating; NETSPEC_SEED=N repeats one) are
tried through both doors; where both accept, torch runs the class and the output has the
shape check --set states, and the one the spec means (written here by hand).
"""

from __future__ import annotations

import os
import random
import time

import pytest

torch = pytest.importorskip("torch")
import oracle  # noqa: E402

from netspec import api  # noqa: E402
from netspec.build import generate  # noqa: E402

_net = oracle._net

_P = "network P(h=4) {\n  input x: float[batch, 12]\n  y = x -> reshape(batch, h, -1) -> Linear(5)\n  output y\n}\n"

# name -> (spec, its input shape, the parameters that take random values, the fact the
# class states when it refuses, the output shape the spec means, from the values and batch)
SPECS = {
    "reshape-hole": (_P, [2, 12], ("h",), "needs 12 divisible by h", lambda v: [2, v["h"], 5]),
    "reshape-hole-scaled": (_net("S(h=3)", "input x: float[batch, 6, 4]",
                                 "y = x -> reshape(batch, 2, h, -1) -> Linear(3)", "output y"),
                            [2, 6, 4], ("h",), "needs 12 divisible by h", lambda v: [2, 2, v["h"], 3]),
    "reshape-two-params": (_net("R(a=2, b=3)", "input x: float[batch, 24]",
                                "y = x -> reshape(batch, a, b, -1) -> Linear(4)", "output y"),
                           [2, 24], ("a", "b"), "needs 24 divisible by a * b",
                           lambda v: [2, v["a"], v["b"], 4]),
    "reshape-hole-read": (_net("Q(h=2)", "input x: float[batch, 12]",
                               "y = x -> reshape(batch, h, -1) -> flatten(1) -> Linear(3)", "output y"),
                          [2, 12], ("h",), "needs 12 divisible by h", lambda v: [2, 3]),
    "unflatten-hole": (_net("W(h=3)", "input x: float[batch, 12, 5]", "y = x -> Unflatten(1, (h, -1)) -> Linear(3)",
                            "output y"), [2, 12, 5], ("h",), "needs 12 divisible by h", lambda v: [2, v["h"], 12 // v["h"], 3]),
    "unflatten-hole-read": (_net("V(h=3)", "input x: float[batch, 12, 5]",
                                 "y = x -> Unflatten(1, (2, h, -1)) -> flatten(2) -> Linear(2)", "output y"),
                            [2, 12, 5], ("h",), "needs 6 divisible by h", lambda v: [2, 2, 2]),
    "arange-span": (_net("A(a=3, b=7)", "input x: float[batch, 4]", "i = arange(a, b) -> float",
                         "y = x -> Linear(3)", "output i", "output y"),
                    [2, 4], ("a", "b"), "needs 0 <= -a + b", lambda v: [v["b"] - v["a"]]),
    "narrow-bounds": (_net("N(width=6, k=4)", "input x: float[batch, 5]", "y = x -> Linear(width) -> narrow(1, 1, k)",
                           "output y"), [2, 5], ("width", "k"), "needs k + 1 <= width", lambda v: [2, v["k"]]),
    "reshape-by-sum": (_net("K(h=3)", "input x: float[batch, 12]", "y = x -> reshape(batch, h + 1, -1) -> Linear(3)",
                            "output y"), [2, 12], ("h",), "needs 12 divisible by h + 1", lambda v: [2, v["h"] + 1, 3]),
    "block-use": (_P + _net("U(size=4)", "input x: float[batch, 12]", "y = x -> P(h=size)", "output y"),
                  [2, 12], ("size",), "needs 12 divisible by size", lambda v: [2, v["size"], 5]),
}


def _seed() -> int:
    seed = int(os.environ.get("NETSPEC_SEED", time.time_ns() % 2**32))
    print(f"seed {seed} (NETSPEC_SEED={seed} repeats it)")
    return seed


def _try(name: str, values: dict[str, int]) -> bool:
    text, shape, _, fact, meant = SPECS[name]
    checked = api.loads(text, values, strict=False)
    spec = api.loads(text)
    info = spec.class_info()
    assert info.checked == {}, f"{name}: the class is fixed to {info.checked}"
    kwargs = {info.params[p]: v for p, v in values.items()}
    if not checked.ok:
        with pytest.raises(ValueError) as e:
            spec.module_class()(**kwargs)
        assert fact in str(e.value) and all(f"{info.params[p]}=" in str(e.value) for p in values), str(e.value)
        return False
    model = spec.module_class()(**kwargs).eval()  # accepted by both: it runs with the stated shapes
    with torch.no_grad():
        y = model(torch.randn(*shape))
    y = y[0] if isinstance(y, tuple) else y
    (_, out), = checked.network().outputs[:1]
    assert list(y.shape) == oracle.shape_of(out.tensor, {"batch": 2, **values}), (name, values)
    assert list(y.shape) == meant(values), (name, values)
    return True


@pytest.mark.parametrize("name", list(SPECS))
def test_check_set_refuses_exactly_what_the_class_refuses(name):
    params = SPECS[name][2]
    rng = random.Random(f"{name} {_seed()}")
    seen = set()
    for _ in range(16):
        seen.add(_try(name, {p: rng.randint(1, 12) for p in params}))
    for p in params:  # 1 divides every size, 5 none of these
        seen.add(_try(name, {q: 1 for q in params}))
        seen.add(_try(name, {q: 5 if q == p else 1 for q in params}))
    assert seen == {True, False}, f"{name}: the values tried never reach both answers"


def test_the_issue_example_builds_for_other_values():
    """`P(h=3)`: check --set h=3 accepts, so the class builds it and torch runs it; it
    computes the -1 as `12 // h` instead of refusing every value but 4."""
    spec = api.loads(_P)
    code = generate(spec.result, "p.net").code
    assert "holds only for that value" not in code
    assert "nn.Linear(12 // h, 5)" in code and "if 12 % h:" in code
    model = spec.module_class()(h=3)
    assert list(model(torch.randn(2, 12)).shape) == [2, 3, 5]
    with pytest.raises(ValueError, match="needs 1 <= h"):
        spec.module_class()(h=0)
    assert not api.loads(_P, {"h": 0}, strict=False).ok


def test_a_use_with_other_arguments_runs_each():
    """Two uses of the network with other arguments: one class, each use at its own size."""
    text = _P + _net("Top", "input x: float[batch, 12]", "a = x -> P(h=3)", "b = x -> P(h=6)",
                     "y = cat(a, b, dim=1)", "output y")
    model = api.loads(text).module_class()()
    assert list(model(torch.randn(2, 12)).shape) == [2, 9, 5]


def test_a_quotient_by_a_sum_is_computed_with_its_guard():
    """`12 // (h + 1)`: the class computes the -1 from `h` and tests the divisor, and
    refuses `h = -1` (a divisor of 0) as check --set does, with a ValueError, not a
    ZeroDivisionError."""
    text = _net("K(h=3)", "input x: float[batch, 12]", "y = x -> reshape(batch, h + 1, -1) -> Linear(3)",
                "output y")
    spec = api.loads(text)
    assert spec.class_info().checked == {}
    assert "nn.Linear(12 // (h + 1), 3)" in spec.code
    assert list(spec.module_class()(h=1)(torch.randn(2, 12)).shape) == [2, 2, 3]
    for h in (-1, -2, 4):
        assert not api.loads(text, {"h": h}, strict=False).ok
        with pytest.raises(ValueError, match=f"received h={h}"):
            spec.module_class()(h=h)
