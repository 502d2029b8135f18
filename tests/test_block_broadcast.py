"""A block's sizes that broadcast where either may be 1: the generic statement is exact.

A network used as a stage is checked once over its free parameters, and its class serves
every use. Where its body broadcasts two sizes of which either may be 1 (`[batch, m] +
[batch, c]`), torch makes the greater of the two (sizes broadcast when equal or one is 1),
so the generic check states `max(c, m)`, and a layer sized from that dim is built with it.
Each case builds the block's class and runs it in torch at values no use has, among them
`m = 1, c = 6` and `m = 6, c = 1`; the expected shapes and parameter counts come from
torch alone (the op applied to the same tensors, a hand-written `nn.Linear` after it), and
the stated dims are evaluated at the same values.
"""

from __future__ import annotations

import itertools
import re

import pytest

torch = pytest.importorskip("torch")

from netspec import api  # noqa: E402
from netspec.dims import evaluate  # noqa: E402

VALUES = [(1, 6), (6, 1), (6, 6), (1, 1), (4, 4)]
BATCH = 3


def randn(*shape):
    return torch.randn(*shape)


def positive(*shape):
    return torch.rand(*shape) + 0.5


def mask(*shape):
    return torch.rand(*shape) < 0.5


# name -> (the block's inputs and body binding z, its tensors at (m, c), torch's z)
CASES = {
    "add": ("input x: float32[batch, m]\n input y: float32[batch, c]\n z = add(x, y)",
            lambda m, c: [randn(BATCH, m), randn(BATCH, c)], lambda x, y: torch.add(x, y)),
    "+": ("input x: float32[batch, m]\n input y: float32[batch, c]\n z = x + y",
          lambda m, c: [randn(BATCH, m), randn(BATCH, c)], lambda x, y: x + y),
    "mul": ("input x: float32[batch, m]\n input y: float32[batch, c]\n z = mul(x, y)",
            lambda m, c: [randn(BATCH, m), randn(BATCH, c)], lambda x, y: torch.mul(x, y)),
    "sub": ("input x: float32[batch, m]\n input y: float32[batch, c]\n z = sub(x, y)",
            lambda m, c: [randn(BATCH, m), randn(BATCH, c)], lambda x, y: torch.sub(x, y)),
    "div": ("input x: float32[batch, m]\n input y: float32[batch, c]\n z = div(x, y)",
            lambda m, c: [randn(BATCH, m), positive(BATCH, c)], lambda x, y: torch.div(x, y)),
    "pow": ("input x: float32[batch, m]\n input y: float32[batch, c]\n z = pow(x, y)",
            lambda m, c: [positive(BATCH, m), randn(BATCH, c)], lambda x, y: torch.pow(x, y)),
    "where": ("input k: bool[batch, m]\n input y: float32[batch, c]\n z = where(k, y, 0.0)",
              lambda m, c: [mask(BATCH, m), randn(BATCH, c)], lambda k, y: torch.where(k, y, 0.0)),
    "masked_fill": ("input x: float32[batch, m]\n input k: bool[batch, c]\n z = masked_fill(x, k, 0.0)",
                    lambda m, c: [randn(BATCH, m), mask(BATCH, c)], lambda x, k: x.masked_fill(k, 0.0)),
    "matmul": ("input x: float32[m, 3, 5]\n input y: float32[c, 5, 2]\n z = matmul(x, y)",
               lambda m, c: [randn(m, 3, 5), randn(c, 5, 2)], lambda x, y: torch.matmul(x, y)),
    "einsum": ('input x: float32[m, 3, 5]\n input y: float32[c, 5, 2]\n z = einsum("bij,bjk->bik", x, y)',
               lambda m, c: [randn(m, 3, 5), randn(c, 5, 2)],
               lambda x, y: torch.einsum("bij,bjk->bik", x, y)),
}


def spec_text(body: str, tail: str = "") -> str:
    """The block over free parameters m and c, and a network that uses it at m = c = 4, so
    that the block is checked generically and built as one class."""
    inputs = [line.split(":")[0].split()[1] for line in body.split("\n") if line.strip().startswith("input")]
    types = [line.split(":", 1)[1].strip() for line in body.split("\n") if line.strip().startswith("input")]
    caller = [re.sub(r"\b[mc]\b", "4", t) for t in types]
    first, rest = inputs[0], inputs[1:]
    kwargs = "".join(f"{name}={name}, " for name in rest)
    return (f"network Blk(m, c) {{\n {body}\n w = z{tail}\n output w\n}}\n\n"
            f"network Top {{\n" + "".join(f" input {n}: {t}\n" for n, t in zip(inputs, caller))
            + f" w = {first} -> Blk({kwargs}m=4, c=4)\n output w\n}}\n")


def stated(net, env: dict) -> list[int]:
    (_, value), = net.outputs
    return [evaluate(d, env) for d in net.shape(value.tensor)]


def run(module, inputs) -> list[int]:
    with torch.no_grad():
        return list(module(*inputs).shape)


def params(module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.fixture(scope="module")
def specs():
    return {}


def load(specs, key: str, text: str):
    if key not in specs:
        spec = api.loads(text)
        assert spec.ok, spec.diagnostics
        specs[key] = spec
    return specs[key]


@pytest.mark.parametrize("m, c", VALUES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_the_block_states_what_torch_makes_at_any_sizes_its_class_takes(specs, case, m, c):
    body, make, op = CASES[case]
    spec = load(specs, case, spec_text(body))
    inputs = make(m, c)
    want = list(op(*inputs).shape)
    assert stated(spec.network("Blk"), {"batch": BATCH, "m": m, "c": c}) == want
    assert run(spec.module_class("Blk")(m=m, c=c), inputs) == want
    assert run(spec.module("Blk", m=m, c=c), inputs) == want


@pytest.mark.parametrize("m, c", VALUES)
@pytest.mark.parametrize("case", ["add", "mul", "where", "matmul", "einsum"])
def test_a_layer_sized_from_the_broadcast_dim_is_built_with_torch_s_size(specs, case, m, c):
    """`-> Linear(8)` after the broadcast reads its in_features from the broadcast dim: the
    class builds it with the size torch makes, at every value it takes."""
    body, make, op = CASES[case]
    spec = load(specs, case + " -> Linear", spec_text(body, " -> Linear(8)" if case in ("add", "mul", "where")
                                                      else " -> transpose(0, 2) -> Linear(8)"))
    inputs = make(m, c)
    z = op(*inputs)
    if z.dim() == 3:
        z = z.transpose(0, 2)
    fc = torch.nn.Linear(z.shape[-1], 8)  # torch's own layer after torch's own result
    want = list(fc(z).shape)
    net = spec.network("Blk")
    env = {"batch": BATCH, "m": m, "c": c}
    assert stated(net, env) == want
    module = spec.module_class("Blk")(m=m, c=c)
    assert run(module, inputs) == want
    assert params(module) == params(fc) == evaluate(net.total_params, env)


@pytest.mark.parametrize("m, c", [(2, 3), (6, 4), (0, 1), (1, 0)])
def test_the_class_refuses_sizes_torch_does_not_broadcast_or_that_are_not_sizes(specs, m, c):
    """Sizes that do not broadcast, and a size of 0 (torch's broadcast keeps a 0 where the
    other is 1, which `max` would not state): a ValueError from the constructor."""
    spec = load(specs, "add", spec_text(CASES["add"][0]))
    with pytest.raises(ValueError):
        spec.module_class("Blk")(m=m, c=c)


def test_a_size_that_is_never_1_is_kept_as_it_was():
    """`[batch, m] + [batch, 4]`: 4 whatever `m` is (4 or 1), as before; no maximum."""
    spec = api.loads(spec_text("input x: float32[batch, m]\n input y: float32[batch, 4]\n z = x + y"))
    assert spec.ok, spec.diagnostics
    x = randn(BATCH, 1)
    want = list((x + randn(BATCH, 4)).shape)
    net = spec.network("Blk")
    assert stated(net, {"batch": BATCH, "m": 1, "c": 1}) == want
    assert "max" not in spec.code


def test_a_parameter_named_max_does_not_hide_the_maximum():
    """The built code renames a parameter that would hide Python's `max`."""
    text = spec_text(CASES["add"][0], " -> Linear(8)").replace("m", "max")
    assert "max, c" in text and "max=4" in text
    spec = api.loads(text)
    assert spec.ok, spec.diagnostics
    x, y = randn(BATCH, 1), randn(BATCH, 6)
    fc = torch.nn.Linear((x + y).shape[-1], 8)
    module = spec.module("Blk", max=1, c=6)
    assert run(module, [x, y]) == list(fc(x + y).shape)
    assert params(module) == params(fc)


POOLED = """
network Blk(m, c, k, s) {
    input x: float32[batch, 2, m]
    input y: float32[batch, 2, c]
    z = add(x, y) -> MaxPool1d(k, stride=s, ceil_mode=true) -> flatten(1) -> Linear(8)
    output z
}

network Top {
    input x: float32[batch, 2, 6]
    input y: float32[batch, 2, 6]
    z = x -> Blk(y=y, m=6, c=6, k=2, s=2)
    output z
}
"""


@pytest.mark.parametrize("m, c, k, s", [(1, 6, 3, 2), (6, 1, 3, 2), (1, 7, 2, 3), (5, 5, 5, 1), (1, 1, 1, 1)])
def test_a_long_size_over_the_maximum_is_built_with_torch_s_size(m, c, k, s):
    """The pooled width over `max(c, m)` is long: the class writes it over named sizes."""
    spec = api.loads(POOLED)
    assert spec.ok, spec.diagnostics
    x, y = randn(BATCH, 2, m), randn(BATCH, 2, c)
    z = torch.nn.functional.max_pool1d(x + y, k, stride=s, ceil_mode=True).flatten(1)
    fc = torch.nn.Linear(z.shape[1], 8)
    module = spec.module("Blk", m=m, c=c, k=k, s=s)
    assert run(module, [x, y]) == list(fc(z).shape)
    assert params(module) == params(fc) == evaluate(spec.network("Blk").total_params, {"m": m, "c": c, "k": k, "s": s})


CHAIN = """
network Blk(m, c) {
    input x: float32[batch, m]
    input y: float32[batch, c]
    z = add(x, y)
    w = z + x
    v = w * y -> Linear(5)
    output w, v
}

network Top {
    input x: float32[batch, 6]
    input y: float32[batch, 1]
    w, v = x -> Blk(y=y, m=6, c=1)
    output w, v
}
"""


@pytest.mark.parametrize("m, c", VALUES)
def test_a_maximum_broadcast_again_stays_torch_s_size(m, c):
    """`(x + y) + x` and then `* y`: the greater of the sizes each time, in torch as stated."""
    spec = api.loads(CHAIN)
    assert spec.ok, spec.diagnostics
    x, y = randn(BATCH, m), randn(BATCH, c)
    w = (x + y) + x
    fc = torch.nn.Linear((w * y).shape[-1], 5)
    want = [list(w.shape), list(fc(w * y).shape)]
    net = spec.network("Blk")
    env = {"batch": BATCH, "m": m, "c": c}
    assert [[evaluate(d, env) for d in net.shape(v.tensor)] for _, v in net.outputs] == want
    module = spec.module_class("Blk")(m=m, c=c)
    with torch.no_grad():
        assert [list(t.shape) for t in module(x, y)] == want
    assert params(module) == params(fc)


def test_the_table_and_the_hover_state_the_maximum():
    from netspec.ide.analysis import Analyzer
    from netspec.ide.hover import hover

    text = spec_text(CASES["add"][0], " -> Linear(8)")
    assert "[batch, max(c, m)]" in str(api.loads(text))
    got = hover(Analyzer("m.net").analyze(text).index, text.index("Linear"))
    assert got is not None and "`float32[batch, max(c, m)]` → `float32[batch, 8]`" in got[0]


SCALED = """
network Bc(c) {
    input x: float32[batch, n]
    param s: float[c] = ones
    y = s * x -> Linear(3)
    output y
}

network Top {
    input x: float32[batch, 5]
    y = x -> Bc(c=1)
    z = x -> Bc(c=5)
    output y, z
}
"""


def test_uses_at_a_size_of_1_and_at_the_input_s_are_served_by_one_class():
    """`s * x` of `[c]` and `[batch, n]`: `max(c, n)` serves the use at c=1 (torch: 5) and
    at c=5 alike, where one stated size, `c`, would have needed two classes."""
    spec = api.loads(SCALED)
    assert spec.ok, spec.diagnostics
    x = randn(BATCH, 5)
    fcs = [torch.nn.Linear((torch.ones(c) * x).shape[-1], 3) for c in (1, 5)]
    want = [list(fc(torch.ones(c) * x).shape) for fc, c in zip(fcs, (1, 5))]
    with torch.no_grad():
        assert [list(t.shape) for t in spec.module()(x)] == want
    assert params(spec.module()) == 1 + 5 + sum(params(fc) for fc in fcs)
    for c, n in ((1, 7), (7, 1), (7, 7)):
        xn = randn(BATCH, n)
        fc = torch.nn.Linear((torch.ones(c) * xn).shape[-1], 3)
        module = spec.module_class("Bc")(c=c, n=n)
        assert run(module, [xn]) == list(fc(torch.ones(c) * xn).shape)
        assert params(module) == c + params(fc)


def test_the_built_code_holds_nothing_but_what_a_built_module_may():
    """`max(c, m)` is the one builtin the maximum adds to the code (tests/fuzzgen.py's audit)."""
    import fuzzgen

    for text in (spec_text(CASES["add"][0], " -> Linear(8)"), POOLED, SCALED, CHAIN):
        code = api.loads(text).code
        assert "max(" in code
        assert fuzzgen.check_module_ast(code) == []


THREE = """
network W(m, c, k) {
    input q: bool[batch, m]
    input x: float32[batch, c]
    input y: float32[batch, k]
    z = where(q, x, y) -> Linear(4)
    output z
}

network Top {
    input q: bool[batch, 3]
    input x: float32[batch, 3]
    input y: float32[batch, 3]
    z = q -> W(x=x, y=y, m=3, c=3, k=3)
    output z
}
"""


def test_three_sizes_the_class_takes_exactly_where_torch_broadcasts_them():
    """`where` of three sizes, each maybe 1: the class refuses exactly the sizes torch does
    not broadcast, and elsewhere builds its Linear with torch's size."""
    cls = api.loads(THREE).module_class("W")
    for m, c, k in itertools.product([1, 2, 3], [1, 3], [1, 2, 3]):
        q, x, y = mask(2, m), randn(2, c), randn(2, k)
        try:
            width = torch.where(q, x, y).shape[-1]
        except RuntimeError:
            with pytest.raises(ValueError):
                cls(m=m, c=c, k=k)
            continue
        module = cls(m=m, c=c, k=k)
        fc = torch.nn.Linear(width, 4)
        assert run(module, [q, x, y]) == list(fc(torch.where(q, x, y)).shape)
        assert params(module) == params(fc)
