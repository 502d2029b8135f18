"""Declared tensors (`param`, `buffer`) against modules written by hand in torch.

The oracle is an independent torch module with the same tensors under the same names: the
built module's state_dict loads into it strictly (names, shapes, dtypes), both compute the
same outputs, and the parameter counts agree with torch's own count.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from netspec import api  # noqa: E402

VIT_HEAD = """
network Embed(dim=8, length=5) {
    input x: float[batch, 4, dim]
    param class_token: float[1, 1, dim]
    param pos_embedding: float[1, length, dim] = normal(std=0.02)
    y = cat(class_token -> expand(batch, -1, -1), x, dim=1) + pos_embedding
    output y
}

network Head(dim=8, length=5, classes=3) {
    input x: float[batch, 4, dim]
    buffer step: int64[1] = zeros
    param scale: float[dim] = full(0.5)
    z = x -> Embed(dim, length) as embed
    y = z[:, 0] * scale -> Linear(classes) as fc   : [batch, classes]
    output y
}
"""


class TorchEmbed(nn.Module):
    def __init__(self, dim=8, length=5):
        super().__init__()
        self.class_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embedding = nn.Parameter(torch.empty(1, length, dim).normal_(std=0.02))

    def forward(self, x):
        return torch.cat([self.class_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embedding


class TorchHead(nn.Module):
    def __init__(self, dim=8, length=5, classes=3):
        super().__init__()
        self.register_buffer("step", torch.zeros(1, dtype=torch.int64))
        self.scale = nn.Parameter(torch.full((dim,), 0.5))
        self.embed = TorchEmbed(dim, length)
        self.fc = nn.Linear(dim, classes)

    def forward(self, x):
        return self.fc(self.embed(x)[:, 0] * self.scale)


def test_declared_tensors_load_into_a_torch_module_and_compute_the_same():
    spec = api.loads(VIT_HEAD)
    assert spec.ok, spec.diagnostics
    built = spec.module("Head")
    ref = TorchHead()
    ref.load_state_dict(built.state_dict(), strict=True)
    assert sorted(built.state_dict()) == sorted(ref.state_dict())
    x = torch.randn(2, 4, 8)
    torch.testing.assert_close(built(x), ref(x))
    net = spec.network("Head")
    assert net.total_params == sum(p.numel() for p in ref.parameters())
    assert sum(p.numel() for p in built.parameters()) == sum(p.numel() for p in ref.parameters())


def test_inits_are_torchs():
    spec = api.loads("""
network Inits {
    input x: float[batch, 4]
    param z: float[4]
    param o: float[4] = ones
    param f: float[4] = full(value=-1.5)
    param n: float[4000] = normal(mean=3.0, std=0.5)
    param u: float[4000] = uniform(-2, -1)
    param t: float[4000] = trunc_normal(std=1.0, a=-0.5, b=0.5)
    param h: float16[2, 2] = ones
    y = x * z + o * f
    w = n[:4] + u[:4] + t[:4] + h[0, 0] + h[1, 1] + h[0, 1] + h[1, 0]
    output y, w
}
""")
    assert spec.ok, spec.diagnostics
    m = spec.module("Inits")
    assert torch.equal(m.z, torch.zeros(4)) and torch.equal(m.o, torch.ones(4))
    assert torch.equal(m.f, torch.full((4,), -1.5))
    assert abs(m.n.mean().item() - 3.0) < 0.1 and abs(m.n.std().item() - 0.5) < 0.1
    assert m.u.min() >= -2 and m.u.max() <= -1
    assert m.t.min() >= -0.5 and m.t.max() <= 0.5
    assert m.h.dtype == torch.float16 and m.h.requires_grad
    y, w = m(torch.randn(3, 4))
    assert y.shape == (3, 4) and w.shape == (4,)


def test_a_declared_tensor_of_no_dims_is_built():
    """torch.zeros() takes no size: a 0-dim tensor is built as torch.zeros(()), with every init."""
    spec = api.loads("""
network Scalars {
    input x: float[batch, 3]
    param a: float[]
    param b: double[] = full(2.0)
    buffer c: long[] = ones
    param d: float[] = normal(std=0.02)
    param e: float[] = uniform
    param f: float[] = trunc_normal(std=0.5)
    y = x * a + c + d * e * f
    z = y -> double -> mul(b)
    output z
}
""")
    assert spec.ok, spec.diagnostics
    m = spec.module()
    shapes = {k: (tuple(v.shape), v.dtype) for k, v in m.state_dict().items()}
    assert shapes == {"a": ((), torch.float32), "b": ((), torch.float64), "c": ((), torch.int64),
                      "d": ((), torch.float32), "e": ((), torch.float32), "f": ((), torch.float32)}
    assert m.b.item() == 2.0 and m.c.item() == 1 and m.a.item() == 0.0
    assert sum(p.numel() for p in m.parameters()) == 5 == spec.network().total_params
    assert m(torch.randn(4, 3)).shape == (4, 3)


@pytest.mark.parametrize("decl, code", [
    ("param k: int64[4]", "dtype"),
    ("param k: float[batch, 4]", "shape"),
    ("param k: float[4] = randn", "argument"),
    ("param k: float[4] = normal(std=0)", "value"),
    ("param k: float[4] = normal(sigma=1.0)", "argument"),
    ("param k: float[4] = uniform(1.0, 0.5)", "value"),
    ("param k: float[4] = full", "argument"),
    ("param x: float[4]", "duplicate"),
    ("param k: float[-4]", "shape"),
])
def test_declarations_torch_would_refuse_are_errors_with_help(decl, code):
    spec = api.loads(f"network N {{\n    input x: float[batch, 4]\n    {decl}\n    y = x -> ReLU\n    output y\n}}\n",
                     strict=False)
    errors = [d for d in spec.diagnostics if d.severity == "error"]
    assert [d.code for d in errors] == [code], errors
    assert errors[0].help and errors[0].span.line == 3


def test_each_use_of_a_block_has_its_own_declared_tensors():
    spec = api.loads("""
network Scale(dim) {
    input x: float[batch, dim]
    param gamma: float[dim] = ones
    y = x * gamma
    output y
}

network Two {
    input x: float[batch, 6]
    y = x -> Scale(6) as first -> Scale(6) as second
    output y
}
""")
    assert spec.ok, spec.diagnostics
    m = spec.module("Two")
    assert sorted(m.state_dict()) == ["first.gamma", "second.gamma"]
    net = spec.network("Two")
    assert net.total_params == 12 == sum(p.numel() for p in m.parameters())


def test_the_weights_list_is_the_built_state_dict():
    from netspec.weights import network_weights
    spec = api.loads(VIT_HEAD)
    built = spec.module("Head")
    listed = [(e.name, tuple(e.shape), e.dtype) for e in network_weights(spec.network("Head"))]
    real = [(k, tuple(v.shape), str(v.dtype).removeprefix("torch.")) for k, v in built.state_dict().items()]
    assert listed == real


@pytest.mark.parametrize("params", ["", "(n_out)", "(n_out=2)"])
def test_a_declared_tensor_expanded_over_the_batch_in_a_network_with_parameters(params):
    """`expand(batch, ...)` of a dim of 1 broadcasts it: never an equality `batch == 1` to
    assume, whether the network has a parameter without a default or not. The stated shape
    is torch's for the same expand of a tensor of the declared shape."""
    spec = api.loads(f"""
network Net{params} {{
    input x: float32[batch, 3, 4]
    param gamma: float[1, 1, 4] = ones
    a = cat(gamma -> expand(batch, -1, -1), x, dim=1)
    output a
}}
""")
    assert spec.ok, spec.diagnostics
    stated = [[d if isinstance(d, int) else str(d) for d in node.outputs[0].tensor.shape] for node in spec.network().nodes]
    batch = 3
    expanded = torch.ones(1, 1, 4).expand(batch, -1, -1)
    joined = torch.cat([expanded, torch.randn(batch, 3, 4)], dim=1)
    assert stated == [["batch", 1, 4], ["batch", 4, 4]]
    assert [list(expanded.shape), list(joined.shape)] == [[batch if d == "batch" else d for d in s] for s in stated]
    kwargs = {"n_out": 2} if params == "(n_out)" else {}
    assert list(spec.module(**kwargs)(torch.randn(batch, 3, 4)).shape) == list(joined.shape)
