"""A network checked with free parameters (no default, no caller to check it again): every
fact over its parameters that the check assumes (an equality, a size that is another or 1,
a slice or index that needs a dim of at least k elements, a shape assertion) is required of
them. The built class tests each in its constructor, and accepts exactly the values where
`check --set` accepts and states the shapes the generic check stated; with those torch
runs with those shapes. A size that depends on which of two parameters is 1 is an error
with a fix; a fact over the input symbols stays an `unproven` warning, as without
parameters.

Random values of the parameters (seed printed, rotating); every expected shape comes from
torch or from the check run with the values.
"""

from __future__ import annotations

import os
import random
import time

import pytest

torch = pytest.importorskip("torch")
import oracle  # noqa: E402

from netspec import api, codes  # noqa: E402

_net = oracle._net

# name -> (spec, its parameters without defaults)
SPECS = {
    # the audit's cases
    "add-literal": (_net("AddLit(n)", "input x: float[batch, n]", "input y: float[batch, 4]", "z = x + y",
                         "output z"), ("n",)),
    "slice": (_net("Slice(n)", "input x: float[batch, n]", "z = x[:, :3]", "output z"), ("n",)),
    "assertion": (_net("Asserted(n)", "input x: float[batch, 4]", "z = x -> ReLU : [batch, n]", "output z"),
                  ("n",)),
    # and their kin
    "add-sum": (_net("AddSum(a, b)", "input x: float[batch, a + 1]", "input y: float[batch, b]", "z = y + x",
                     "output z"), ("a", "b")),
    "slice-both-ends": (_net("Ends(n)", "input x: float[batch, n]", "z = x[:, 1:-2]", "output z"), ("n",)),
    "slice-by-param": (_net("ByParam(n, k)", "input x: float[batch, n]", "z = x[:, k:]", "output z"), ("n", "k")),
    "index": (_net("Index(n)", "input x: float[batch, n]", "z = x[:, 4]", "output z"), ("n",)),
    "select": (_net("Sel(n)", "input x: float[batch, 8]", "z = x -> Linear(n) -> select(1, -3)", "output z"),
               ("n",)),
    "expand": (_net("Expand(n)", "input x: float[batch, n]", "z = x -> expand(-1, 5)", "output z"), ("n",)),
    "expand-to-param": (_net("ExpandTo(n)", "input x: float[batch, 4]", "z = x -> expand(-1, n)", "output z"),
                        ("n",)),
    "cat": (_net("Cat(a, b)", "input x: float[batch, a]", "input y: float[batch, b]", "z = cat(x, y, dim=0)",
                 "output z"), ("a", "b")),
    "matmul": (_net("Mm(a, b)", "input x: float[batch, a]", "input w: float[b, 3]", "z = x @ w", "output z"),
               ("a", "b")),
    "linear-in": (_net("LinIn(a, b)", "input x: float[batch, a]", "z = x -> Linear(3, in_features=b)",
                       "output z"), ("a", "b")),
    "group-norm": (_net("GN(width)", "input x: float[batch, 3, 5, 5]", "z = x -> Conv2d(width, 3) -> GroupNorm(3)",
                        "output z"), ("width",)),
    "block": ("network Blk(m) {\n    input x: float[batch, c]\n    p = x -> Linear(m)\n    y = p + x\n"
              "    output y\n}\n" + _net("UsesBlk(n)", "input x: float[batch, 6]", "y = x -> Blk(m=n)", "output y"),
              ("n",)),
}


def _seed() -> int:
    seed = int(os.environ.get("NETSPEC_SEED", time.time_ns() % 2**32))
    print(f"seed {seed} (NETSPEC_SEED={seed} repeats it)")
    return seed


def _warnings(spec) -> list:
    return [d for d in spec.result.reporter.items if d.severity == "warning"]


def _outputs(spec, env: dict) -> list[list[int]]:
    return [oracle.shape_of(v.tensor, env) for _, v in spec.network().outputs]


def _try(name: str, values: dict[str, int]) -> bool:
    """Both doors at ``values``; whether the class accepted them."""
    text, _ = SPECS[name]
    generic = api.loads(text)
    env = {"batch": 2, "c": 6, **values}
    stated = _outputs(generic, env)
    checked = api.loads(text, values, strict=False)
    holds = checked.ok and _outputs(checked, env) == stated
    info = generic.class_info()
    kwargs = {info.params[p]: v for p, v in values.items()}
    cls = generic.module_class()
    if not holds:
        with pytest.raises(ValueError) as e:
            cls(**kwargs)
        said = str(e.value)
        assert "line " in said and "needs" in said and any(f"{info.params[p]}=" in said for p in values), said
        return False
    model = cls(**kwargs).eval()
    xs = [torch.randn(*oracle.shape_of(v.tensor, env)) for v in generic.network().inputs]
    with torch.no_grad():
        y = model(*xs)
    ys = y if isinstance(y, tuple) else (y,)
    assert [list(t.shape) for t in ys] == stated, (name, values)
    return True


@pytest.mark.parametrize("name", sorted(SPECS))
def test_the_class_accepts_exactly_the_values_where_the_stated_shapes_hold(name):
    text, params = SPECS[name]
    spec = api.loads(text)
    assert spec.ok and not _warnings(spec), spec.diagnostics
    rng = random.Random(f"{_seed()}{name}")
    seen = {_try(name, {p: rng.randint(1, 9) for p in params}) for _ in range(14)}
    edges = [{p: v for p in params} for v in (1, 3, 4, 5)]
    seen |= {_try(name, values) for values in edges}
    assert seen == {True, False}, f"{name}: the values tried never reach both answers"


def test_a_size_that_depends_on_which_parameter_is_1_is_an_error_with_a_fix():
    text = _net("AddTwo(a, b)", "input x: float[batch, a]", "input y: float[batch, b]", "z = x + y", "output z")
    spec = api.loads(text, strict=False)
    (err,) = spec.result.reporter.errors
    assert err.code == codes.UNPROVEN and "`a`" in err.message and "`b`" in err.message
    assert err.help and "default" in err.help and len(err.notes) == 2
    for a, b in ((1, 3), (3, 1), (3, 3)):  # with values, the check states torch's size
        checked = api.loads(text, {"a": a, "b": b})
        y = torch.randn(2, a) + torch.randn(2, b)
        assert _outputs(checked, {"batch": 2, "a": a, "b": b}) == [list(y.shape)]


def _unproven(text: str) -> list[str]:
    spec = api.loads(text)
    return [d.message for d in _warnings(spec) if d.code == codes.UNPROVEN]


def test_a_fact_over_an_input_symbol_warns_as_without_parameters():
    body = ("input x: float[batch, d]", "y = x -> Linear(k)", "z = x[:, :3]", "output y, z")
    without = _unproven(_net("Plain(k=4)", *body))
    assert without and _unproven(_net("Free(k)", *body)) == without
    added = _unproven(_net("AddSym(k)", "input x: float[batch, d]", "input y: float[batch, 4]",
                           "z = x + y -> Linear(k)", "output z"))
    assert added == ["`+` assumes that `d` is `4` or 1, which cannot be proven for every value of the symbols"]
