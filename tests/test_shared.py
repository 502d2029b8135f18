"""Shared modules (`shared cell = RNNCell(3)`) against torch written by hand.

The oracles: nn.RNN, whose weights copied into the one shared cell must give the same
outputs as the unrolled spec; and modules that call one torch layer twice.
"""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from netspec import api  # noqa: E402

SPECS = Path(__file__).resolve().parent.parent / "specs"


def test_the_unrolled_hello_cell_is_nn_rnn():
    spec = api.load(str(SPECS / "hello_rnncell.net"))
    assert spec.ok, spec.diagnostics
    built = spec.module()
    rnn = nn.RNN(4, 3)
    assert spec.network().total_params == 27 == sum(p.numel() for p in rnn.parameters())
    assert sorted(built.state_dict()) == ["cell.bias_hh", "cell.bias_ih", "cell.weight_hh", "cell.weight_ih"]
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(built.cell, name).copy_(getattr(rnn, f"{name}_l0"))
    for batch in (1, 3):
        x, h0 = torch.randn(5, batch, 4), torch.randn(batch, 3)
        expected, _ = rnn(x, h0.unsqueeze(0))
        torch.testing.assert_close(built(x, h0), expected)


SIAMESE = """
network Twin {
    input a: float[batch, 6]
    input b: float[batch, 6]
    shared encoder = Linear(4)
    ea = a -> encoder -> ReLU
    eb = b -> encoder -> ReLU
    d = ea - eb
    output d
}
"""


class TorchTwin(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Linear(6, 4)

    def forward(self, a, b):
        return torch.relu(self.encoder(a)) - torch.relu(self.encoder(b))


def test_a_shared_layer_is_one_module_called_twice():
    spec = api.loads(SIAMESE)
    assert spec.ok, spec.diagnostics
    built, ref = spec.module(), TorchTwin()
    ref.load_state_dict(built.state_dict(), strict=True)
    a, b = torch.randn(2, 6), torch.randn(2, 6)
    torch.testing.assert_close(built(a, b), ref(a, b))
    assert spec.network().total_params == sum(p.numel() for p in ref.parameters()) == 28


def test_a_shared_network_is_one_module():
    spec = api.loads("""
network Block(width) {
    input x: float[batch, width]
    y = x -> Linear(width) as fc -> Tanh
    output y
}

network Deep {
    input x: float[batch, 5]
    shared block = Block(5)
    y = x -> block -> block -> block
    output y
}
""")
    assert spec.ok, spec.diagnostics
    assert spec.network().name == "Deep"  # a network used only by a shared declaration is not a root
    built = spec.module()
    assert sorted(built.state_dict()) == ["block.fc.bias", "block.fc.weight"]
    fc = built.block.fc
    x = torch.randn(3, 5)
    expected = x
    for _ in range(3):
        expected = torch.tanh(fc(expected))
    torch.testing.assert_close(built(x), expected)
    assert spec.network("Deep").total_params == 30


@pytest.mark.parametrize("body, code", [
    ("shared enc = Linear(4)\n    y = x -> enc\n    z = w -> enc\n    o = cat(y, z)", "shape"),
    ("shared enc = ReLU\n    o = x -> enc", None),
    ("shared enc = transpose(0, 1)\n    o = x -> enc", "argument"),
    ("shared enc = Linear(4)\n    o = x -> enc as other", "duplicate"),
    ("shared x = Linear(4)\n    o = w -> x", "duplicate"),
    ("shared enc = enc\n    o = x -> ReLU", "argument"),
])
def test_shared_modules_torch_would_refuse_are_errors_with_help(body, code):
    text = f"network N {{\n    input x: float[batch, 6]\n    input w: float[batch, 5]\n    {body}\n    output o\n}}\n"
    spec = api.loads(text, strict=False)
    errors = [d for d in spec.diagnostics if d.severity == "error"]
    assert [d.code for d in errors] == ([code] if code else []), errors
    assert all(d.help for d in errors)
