"""Sizes a network checked generically takes to be equal, where torch also broadcasts a 1.

In a network with a parameter without a default (or a network used as a stage), two sizes
that cannot be proven equal are assumed equal. Where torch also accepts one of them being
1 (elementwise arithmetic, `where`, `masked_fill`, the batch dims of `matmul`, a subscript
of `einsum`, `expand`), the stated size must be the one torch makes in both cases: the
size that is never 1. Each case is run in torch at values where the sizes are equal and
where one of them is 1; the expected shapes come from torch alone, and the stated dims are
evaluated here at the same values.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from netspec import api  # noqa: E402
from netspec.dims import render  # noqa: E402


def stated(spec, env: dict) -> list[list[int]]:
    """The stated shapes of the outputs at ``env`` (dims as Python integer expressions)."""
    return [[d if isinstance(d, int) else eval(render(d), {"__builtins__": {}}, dict(env))  # noqa: S307
             for d in v.tensor.shape] for _, v in spec.network().outputs]


def run(spec, params: dict, inputs: list) -> list[list[int]]:
    with torch.no_grad():
        out = spec.module(**params)(*inputs)
    return [list(o.shape) for o in (out if isinstance(out, tuple) else (out,))]


def randn(*shape):
    return torch.randn(*shape)


def mask(*shape):
    return torch.rand(*shape) < 0.5


# (spec body over a parameter n without a default, the inputs at (batch, n), torch's result)
CASES = {
    "add": ("input x: float32[batch, n]\n input y: float32[batch, 4]\n z = add(x, y)",
            lambda b, n: [randn(b, n), randn(b, 4)], lambda n, x, y: x + y),
    "mul of a declared param": ("input x: float32[batch, 4]\n param s: float[n] = ones\n z = s * x",
                                lambda b, n: [randn(b, 4)], lambda n, x: torch.ones(n) * x),
    "where": ("input c: bool[batch, n]\n input x: float32[batch, 4]\n z = where(c, x, 0.0)",
              lambda b, n: [mask(b, n), randn(b, 4)], lambda n, c, x: torch.where(c, x, 0.0)),
    "masked_fill": ("input x: float32[batch, n]\n input m: bool[batch, 4]\n z = masked_fill(x, m, 0.0)",
                    lambda b, n: [randn(b, n), mask(b, 4)], lambda n, x, m: x.masked_fill(m, 0.0)),
    "matmul": ("input x: float32[n, 3, 5]\n input y: float32[4, 5, 2]\n z = matmul(x, y)",
               lambda b, n: [randn(n, 3, 5), randn(4, 5, 2)], lambda n, x, y: x @ y),
    "einsum": ('input x: float32[n, 3, 5]\n input y: float32[4, 5, 2]\n z = einsum("bij,bjk->bik", x, y)',
               lambda b, n: [randn(n, 3, 5), randn(4, 5, 2)], lambda n, x, y: torch.einsum("bij,bjk->bik", x, y)),
    "expand": ("input x: float32[batch, n]\n z = x -> expand(-1, 4)",
               lambda b, n: [randn(b, n)], lambda n, x: x.expand(-1, 4)),
}


@pytest.mark.parametrize("n", [4, 1])
@pytest.mark.parametrize("case", sorted(CASES))
def test_a_size_that_may_be_1_broadcasts_to_the_other(case, n):
    body, make, expect = CASES[case]
    spec = api.loads(f"network Net(n) {{\n {body}\n output z\n}}\n")
    assert spec.ok, spec.diagnostics
    inputs = make(3, n)
    want = [list(expect(n, *inputs).shape)]
    assert stated(spec, {"batch": 3, "n": n}) == want
    assert run(spec, {"n": n}, inputs) == want


@pytest.mark.parametrize("a", [3, 1])
def test_expand_of_a_symbol_that_may_be_1_states_the_size_asked_for(a):
    """`expand(batch, -1)` of `[a, n]`: torch makes `batch` whether `a` is `batch` or 1."""
    spec = api.loads("network Net(n) {\n input x: float32[a, n]\n input y: float32[batch, n]\n"
                     " e = x -> expand(batch, -1)\n z = e + y\n output e, z\n}\n")
    assert spec.ok, spec.diagnostics
    x, y = randn(a, 2), randn(3, 2)
    want = [list(x.expand(3, -1).shape), list((x.expand(3, -1) + y).shape)]
    assert stated(spec, {"batch": 3, "a": a, "n": 2}) == want
    assert run(spec, {"n": 2}, [x, y]) == want


BLOCK = """
network Block(c) {
    input x: float32[batch, 4]
    param s: float[c] = ones
    y = s + x -> Linear(8)
    output y
}

network Top {
    input x: float32[batch, 4]
    y = x -> Block(c=1)
    z = x -> Block(c=4)
    output y, z
}
"""


def test_a_block_adding_a_parameter_sized_tensor_is_built_for_every_use():
    """The block's generic check states `s + x` as [batch, 4] (not [batch, c]), so the class
    builds `Linear(4, 8)` and serves the use at c=1 as well as at c=4."""
    spec = api.loads(BLOCK)
    assert spec.ok, spec.diagnostics
    x = randn(3, 4)
    fc = torch.nn.Linear(4, 8)
    want = [list(fc(torch.ones(c) + x).shape) for c in (1, 4)]
    assert stated(spec, {"batch": 3}) == want
    assert run(spec, {}, [x]) == want
    count = sum(p.numel() for p in fc.parameters())
    assert sum(p.numel() for p in spec.module().parameters()) == (count + 1) + (count + 4)


@pytest.mark.parametrize("n", [1, 2])
def test_expand_to_a_negative_size_is_refused_whatever_the_dim(n):
    """A size below -1 for an existing dim: torch refuses it at every size of the dim (1
    too), so check refuses it rather than assume the dim equal to it."""
    with pytest.raises(RuntimeError):
        torch.randn(3, n).expand(-1, -2)
    spec = api.loads("network Net(n) {\n input x: float32[batch, n]\n z = x -> expand(-1, -2)\n output z\n}\n",
                     strict=False)
    assert [d.code for d in spec.diagnostics if d.severity == "error"] == ["value"]
