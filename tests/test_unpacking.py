"""Bindings of several names (`q, k, v = x -> chunk(3, dim=-1)`) against torch by hand."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from netspec import api  # noqa: E402

ATTENTION = """
network Attention(d=8) {
    input x: float[batch, seq, 8]
    q, k, v = x -> Linear(3 * d, bias=false) as qkv -> chunk(3, dim=-1)
    weights = q @ (k -> transpose(-2, -1)) / d ** 0.5 -> Softmax(-1)
    y = weights @ v                      : [batch, seq, d]
    out, h_n, c_n = y -> LSTM(4, batch_first=true) as lstm
    _, last = out -> GRU(3, batch_first=true) as gru
    output y, h_n, c_n, last
}
"""


class TorchAttention(nn.Module):
    def __init__(self, d=8):
        super().__init__()
        self.d = d
        self.qkv = nn.Linear(8, 3 * d, bias=False)
        self.lstm = nn.LSTM(d, 4, batch_first=True)
        self.gru = nn.GRU(4, 3, batch_first=True)

    def forward(self, x):
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        y = torch.softmax(q @ k.transpose(-2, -1) / self.d ** 0.5, dim=-1) @ v
        out, (h_n, c_n) = self.lstm(y)
        _, last = self.gru(out)
        return y, h_n, c_n, last


def test_unpacked_names_are_the_results_in_order():
    spec = api.loads(ATTENTION)
    assert spec.ok, spec.diagnostics
    built, ref = spec.module(), TorchAttention()
    ref.load_state_dict(built.state_dict(), strict=True)
    net = spec.network()
    for batch, seq in ((2, 5), (1, 3)):
        x = torch.randn(batch, seq, 8)
        got, want = built(x), ref(x)
        for (name, v), g, w in zip(net.outputs, got, want):
            torch.testing.assert_close(g, w)
            shape = [d if isinstance(d, int) else {"batch": batch, "seq": seq}[str(d)] for d in net.shape(v.tensor)]
            assert shape == list(w.shape), name
    assert net.total_params == sum(p.numel() for p in ref.parameters())


def test_a_networks_outputs_unpack():
    spec = api.loads("""
network Pair {
    input x: float[batch, 4]
    a = x -> Linear(2) as fa
    b = x -> Linear(3) as fb
    output a, b
}

network Outer {
    input x: float[batch, 4]
    left, right = x -> Pair as pair
    output right, left
}
""")
    assert spec.ok, spec.diagnostics
    m = spec.module("Outer")
    right, left = m(torch.randn(2, 4))
    assert tuple(right.shape) == (2, 3) and tuple(left.shape) == (2, 2)


@pytest.mark.parametrize("line, code", [
    ("a, b = x -> chunk(4, dim=-1)", "unpack"),
    ("a, b = x -> ReLU", "unpack"),
    ("b, b = x -> chunk(2, dim=-1)", "duplicate"),
    ("x, b = x -> chunk(2, dim=-1)", "duplicate"),
])
def test_unpacking_errors_have_help(line, code):
    spec = api.loads(f"network N {{\n    input x: float[batch, 4]\n    {line}\n    output b\n}}\n", strict=False)
    errors = [d for d in spec.diagnostics if d.severity == "error"]
    assert [d.code for d in errors] == [code] and errors[0].help, errors


def test_an_underscore_name_is_not_reported_unused():
    spec = api.loads("network N {\n    input x: float[batch, 4]\n    _, b = x -> chunk(2, dim=-1)\n    output b\n}\n")
    assert spec.ok and not spec.diagnostics, spec.diagnostics
