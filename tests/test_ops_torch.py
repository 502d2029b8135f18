"""The tensor ops in networks: built, run by torch and compared with the check, over
symbolic sizes; what netspec proves about slices, pieces and positions of a symbolic dim,
and what it only assumes (with an `unproven` warning).
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from test_differential import differential  # noqa: E402

from netspec import api  # noqa: E402
from netspec.checker import check_text  # noqa: E402
from netspec.dims import evaluate  # noqa: E402

EVERY_OP = """
network Attention(heads=2, d=8, k=3) {
    input x: float[batch, seq, 16]
    input m: bool[batch, 1, seq]
    pos = arange(seq) -> unsqueeze(0) -> float -> unsqueeze(-1)
    h = add(x, pos) -> mul(0.5)
    qkv = h -> split(16, dim=-1)
    parts = h -> chunk(2, -1)
    q = qkv.output0 -> reshape(batch, seq, heads, d) -> transpose(1, 2)
    s = matmul(q, q -> transpose(-1, -2)) -> div(2.0) -> masked_fill(m -> unsqueeze(1), -10000.0) -> softmax(-1)
    o = einsum("bhqk,bhkd->bhqd", s, q) -> transpose(1, 2) -> reshape(batch, seq, 16)
    r = stack(o, x, dim=0) -> sum(0) -> var(-1, keepdim=true) -> pow(0.5) -> sub(x -> amax(-1, keepdim=true))
    w = parts.output1 -> getitem(("...", ("slice", None, k, None))) -> expand(2, -1, -1, -1) -> repeat(1, 1, 1, 2)
        -> contiguous -> amin(0) -> long -> to(float16) -> neg
    e = where(m, x -> narrow(-1, 0, 4) -> bmm(x -> narrow(-1, 0, 4) -> transpose(1, 2)), 0.0) -> std(dim=(1, 2))
    t = x -> getitem((("slice", None, None, None), -1)) -> log_softmax(1) -> mean(dim=None, keepdim=true)
    output o, r, w, e, t
}
"""


@pytest.mark.parametrize("batch,seq", [(1, 1), (2, 3), (3, 7)])
def test_a_network_of_every_op_runs_as_checked(batch, seq):
    torch.manual_seed(0)
    differential(EVERY_OP, {"batch": batch, "seq": seq}, "Attention")


def test_the_built_forward_reads_as_torch_is_written():
    code = api.loads(EVERY_OP, file="every.net").code
    for line in ("pos = torch.arange(seq, device=x.device)", "(qkv,) = h.split(16, dim=-1)",
                 "_parts_output0, parts_output1 = h.chunk(2, dim=-1)", "s = q @ s_0",
                 'o = torch.einsum("bhqk,bhkd->bhqd", s, q)', "r = torch.stack((o, x), dim=0)",
                 "**0.5  # [batch, seq, 1]", "w = parts_output1[..., : self.k]", "w = w.to(torch.float16)",
                 "e = torch.where(m, e_2, 0.0)", "t = x[:, -1]", "t = t.mean(dim=None, keepdim=True)"):
        assert line in code, line


# -- symbolic sizes: proven, assumed, refused ---------------------------------------------------

def _check(decl: str, chain: str):
    result = check_text(f"network K {{\n    input x: {decl}\n    out = {chain}\n    output out\n}}\n", "k.net")
    return result


def _stated(result, env):
    (net,) = result.networks
    return [evaluate(d, env) for d in net.outputs[0][1].tensor.shape]


SLICES = [
    # (input type, index, torch's index over x, proven for every n)
    ("float32[b, n + 3]", '(("slice", None, None, None), ("slice", 1, -1, None))', lambda x: x[:, 1:-1], True),
    ("float32[b, n + 3]", '(("slice", None, None, None), ("slice", None, 3, None))', lambda x: x[:, :3], True),
    ("float32[b, 2 * n + 2]", '("...", ("slice", 2, None, None))', lambda x: x[..., 2:], True),
    ("float32[b, n]", '("...", ("slice", None, None, 2))', lambda x: x[..., ::2], True),
    ("float32[b, n + 1]", '("...", ("slice", 1, None, 2))', lambda x: x[..., 1::2], True),
    ("float32[b, n + 1]", '("...", ("slice", -1, None, None))', lambda x: x[..., -1:], True),
    ("float32[b, n]", '("...", ("slice", None, 4, None))', lambda x: x[..., :4], False),
    # symbols are sizes, at least 1: n - 1 is never below 0 (an empty dim when n is 1)
    ("float32[b, n]", '("...", ("slice", None, -1, None))', lambda x: x[..., :-1], True),
    ("float32[b, n]", '("...", ("slice", 1, None, None))', lambda x: x[..., 1:], True),
    ("float32[b, n]", '(None, -1, None)', lambda x: x[None, -1, None], True),
]


@pytest.mark.parametrize("decl,index,real,proven", SLICES, ids=[s[1] for s in SLICES])
def test_slices_of_a_symbolic_dim(decl, index, real, proven):
    result = _check(decl, f"x -> getitem({index})")
    assert not result.reporter.errors
    warned = [d for d in result.reporter.items if d.code == "unproven"]
    assert bool(warned) != proven, [d.message for d in warned]
    compared = 0
    for n in range(1, 12):  # symbols are sizes, at least 1
        env = {"b": 2, "n": n}
        x = torch.randn(2, evaluate(result.networks[0].inputs[0].tensor.shape[1], env))
        want = list(real(x).shape)
        got = _stated(result, env)
        if proven:
            assert got == want, (n, got, want)
            compared += 1
        elif got == want:
            compared += 1
    assert compared >= 8  # an assumption that holds for most sizes (not for the smallest)


PIECES = [
    # (input type, stage, error code or None, torch's pieces)
    ("float32[b, n]", "chunk(1, 1)", None, lambda x: x.chunk(1, 1)),
    ("float32[b, n]", "split(n, 1)", None, lambda x: x.split(x.shape[1], 1)),
    ("float32[b, n]", "chunk(2, 1)", "unproven", None),
    ("float32[b, n]", "split(2, dim=1)", "unproven", None),
    ("float32[b, 2 * n]", "split((n, n), 1)", None, lambda x: x.split((x.shape[1] // 2,) * 2, 1)),
    ("float32[b, n]", "split((2, 3), 1)", "unproven", None),
    ("float32[b, n]", "split((n, 1), 1)", "shape", None),
    ("float32[b, 6]", "chunk(4, 1)", None, lambda x: x.chunk(4, 1)),
]


@pytest.mark.parametrize("decl,stage,code,real", PIECES, ids=[p[1] for p in PIECES])
def test_pieces_of_a_symbolic_dim(decl, stage, code, real):
    result = _check(decl, f"x -> {stage}")
    if code is not None:
        assert [d.code for d in result.reporter.errors] == [code]
        assert result.reporter.errors[0].help
        return
    assert not result.reporter.items
    (net,) = result.networks
    node = net.nodes[-1]
    for n in (1, 2, 5):
        env = {"b": 2, "n": n}
        x = torch.randn(*[evaluate(d, env) for d in net.inputs[0].tensor.shape])
        assert [[evaluate(d, env) for d in o.tensor.shape] for o in node.outputs] == \
               [list(t.shape) for t in real(x)]


POSITIONS = [
    ("arange(n)", True, lambda n: torch.arange(n)),
    ("arange(1, n + 1)", True, lambda n: torch.arange(1, n + 1)),
    ("arange(0, 2 * n, 2)", True, lambda n: torch.arange(0, 2 * n, 2)),
    ("arange(0, n, 3)", True, lambda n: torch.arange(0, n, 3)),
    ("arange(n + 5, 2, -2)", True, lambda n: torch.arange(n + 5, 2, -2)),
    ("arange(1, n)", True, lambda n: torch.arange(1, n)),  # n is at least 1: n - 1 is at least 0
]


@pytest.mark.parametrize("source,proven,real", POSITIONS, ids=[p[0] for p in POSITIONS])
def test_positions_of_a_symbolic_size(source, proven, real):
    result = check_text(f"network K {{\n    input x: float32[n]\n    pos = {source}\n    output pos\n}}\n", "k.net")
    assert not result.reporter.errors
    assert bool([d for d in result.reporter.items if d.code == "unproven"]) != proven
    for n in range(1, 9):
        assert _stated(result, {"n": n}) == list(real(n).shape)


def test_narrow_of_a_symbolic_dim():
    proven = _check("float32[b, n + 2]", "x -> narrow(1, -2, 2)")
    assert not proven.reporter.items
    assumed = _check("float32[b, n]", "x -> narrow(1, 1, 2)")
    assert [d.code for d in assumed.reporter.items] == ["unproven"]
    for n in range(1, 6):
        x = torch.randn(2, n + 2)
        assert _stated(proven, {"b": 2, "n": n}) == list(x.narrow(1, -2, 2).shape)


def test_an_index_has_one_ellipsis():
    """torch reads a second `...` its own way (as covering the same dims again); netspec
    refuses it, as Python's and NumPy's indexing do."""
    result = _check("float32[2, 3, 4]", 'x -> getitem(("...", 0, "..."))')
    assert [d.code for d in result.reporter.errors] == ["value"]


@pytest.mark.gpu
def test_positions_are_made_on_the_inputs_device():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    spec = api.loads("network P {\n    input x: float32[b, n]\n    y = add(x, arange(n) -> float)\n"
                     "    output y\n}\n", file="p.net")
    model = spec.module().cuda()
    y = model(torch.randn(2, 5, device="cuda"))
    assert y.device.type == "cuda" and list(y.shape) == [2, 5]


def test_add_writes_in_place_only_into_a_first_operand_of_the_result_dtype():
    text = """network P {
    input x: float32[b, 3]
    input y: float64[b, 3]
    same = add(x -> Linear(3), x)
    promoted = add(x -> Linear(3), y)
    output same, promoted
}
"""
    code = api.loads(text, file="p.net").code
    assert ".add_(x)" in code
    assert ".add_(y)" not in code and " + y" in code
    torch.manual_seed(0)
    differential(text, {"b": 2}, "P")
