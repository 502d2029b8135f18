"""Loops over time (`states, last = x -> scan(cell, h0)`) against torch's recurrent layers.

The oracles are nn.RNN and nn.GRU holding the same weights as the scanned cell, a GRU
step written from its gate equations as a network, compared with nn.GRU, and a scanned
LSTMCell (the pair (h, c) carried) against a hand-written loop over nn.LSTMCell and against
nn.LSTM; FLOPs against torch's FlopCounterMode on the built module.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from netspec import api  # noqa: E402
from netspec.dims import evaluate  # noqa: E402

CELL = """
network Scanned {
    input xs: float[seq, batch, 4]
    input h0: float[batch, 3]
    shared cell = %s(3)
    states, last = xs -> scan(cell, h0)
    output states, last
}
"""


@pytest.mark.parametrize("cell, layer", [("RNNCell", nn.RNN), ("GRUCell", nn.GRU)])
def test_a_scanned_cell_is_torchs_recurrent_layer(cell, layer):
    spec = api.loads(CELL % cell)
    assert spec.ok, spec.diagnostics
    built, ref = spec.module(), layer(4, 3)
    net = spec.network()
    assert net.total_params == sum(p.numel() for p in ref.parameters())
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(built.cell, name).copy_(getattr(ref, f"{name}_l0"))
    for seq, batch in ((5, 1), (2, 4)):
        xs, h0 = torch.randn(seq, batch, 4), torch.randn(batch, 3)
        states, last = built(xs, h0)
        want, h_n = ref(xs, h0.unsqueeze(0))
        torch.testing.assert_close(states, want)
        torch.testing.assert_close(last, h_n[0])
        env = {"seq": seq, "batch": batch}
        assert [[evaluate(net.dim(d), env) for d in v.tensor.shape] for _, v in net.outputs] == \
               [list(states.shape), list(last.shape)]


GATES = """
# A GRU step from its equations (r, z, n as torch.nn.GRU defines them)
network GRUStep(hidden=3) {
    input x: float[batch, d]
    input h: float[batch, hidden]
    r = (x -> Linear(hidden) as ir) + (h -> Linear(hidden) as hr) -> Sigmoid
    z = (x -> Linear(hidden) as iz) + (h -> Linear(hidden) as hz) -> Sigmoid
    n = (x -> Linear(hidden) as in_) + r * (h -> Linear(hidden) as hn) -> Tanh
    h_next = (1 - z) * n + z * h
    output h_next
}

network GRUByHand {
    input xs: float[seq, batch, 4]
    input h0: float[batch, 3]
    shared step = GRUStep(3)
    states, last = xs -> scan(step, h0)
    output states
}
"""


def test_a_gru_written_from_its_equations_is_nn_gru():
    spec = api.loads(GATES)
    assert spec.ok, spec.diagnostics
    built, ref = spec.module("GRUByHand"), nn.GRU(4, 3)
    assert spec.network("GRUByHand").total_params == sum(p.numel() for p in ref.parameters())
    w_ih, w_hh = ref.weight_ih_l0.chunk(3), ref.weight_hh_l0.chunk(3)
    b_ih, b_hh = ref.bias_ih_l0.chunk(3), ref.bias_hh_l0.chunk(3)
    with torch.no_grad():
        for k, (i, h) in enumerate((("ir", "hr"), ("iz", "hz"), ("in_", "hn"))):
            getattr(built.step, i).weight.copy_(w_ih[k])
            getattr(built.step, i).bias.copy_(b_ih[k])
            getattr(built.step, h).weight.copy_(w_hh[k])
            getattr(built.step, h).bias.copy_(b_hh[k])
    xs, h0 = torch.randn(6, 2, 4), torch.randn(2, 3)
    torch.testing.assert_close(built(xs, h0), ref(xs, h0.unsqueeze(0))[0])


def test_the_steps_flops_count_once_a_position():
    spec = api.loads(CELL % "GRUCell")
    net, built = spec.network(), spec.module()
    from netspec.costs import network_costs
    stated = network_costs(net, {"seq": 7, "batch": 2}).flops
    counter = FlopCounterMode(display=False)
    with counter:
        built(torch.randn(7, 2, 4), torch.randn(2, 3))
    assert stated == counter.get_total_flops()


@pytest.mark.parametrize("body, code", [
    ("states, last = xs -> scan(Linear, h0)", "argument"),
    ("shared cell = RNNCell(5)\n    states, last = xs -> scan(cell, h0)", "shape"),
    ("shared cell = LSTMCell(3)\n    states, last = xs -> scan(cell, h0)", "argument"),
    ("shared cell = RNNCell(3)\n    states, last = xs -> scan(cell, h0, dim=3)", "rank"),
    ("shared cell = RNNCell(3)\n    states, last = xs -> scan(cell)", "argument"),
    ("shared cell = RNNCell(3)\n    states, last = xs -> scan(cell, (h0, h0))", "argument"),
    ("shared cell = LSTMCell(3)\n    states, last = xs -> scan(cell, (h0, h0, h0))", "argument"),
    ("shared cell = LSTMCell(3)\n    states, last = xs -> scan(cell, (h0, 3))", "argument"),
    ("shared cell = LSTMCell(3)\n    c0 = h0 -> Linear(4)\n    states, last = xs -> scan(cell, (h0, c0))",
     "shape"),
    ("shared cell = LSTMCell(3)\n    states, last = xs -> scan(cell, (h0, h0 -> double))", "shape"),
    ("shared cell = LSTMCell(5)\n    states, last = xs -> scan(cell, (h0, h0))", "shape"),
])
def test_scans_torch_would_refuse_are_errors_with_help(body, code):
    text = f"network N {{\n    input xs: float[seq, batch, 4]\n    input h0: float[batch, 3]\n    {body}\n" \
           "    output states, last\n}\n"
    spec = api.loads(text, strict=False)
    errors = [d for d in spec.diagnostics if d.severity == "error"]
    assert [d.code for d in errors][:1] == [code], errors
    assert all(d.help for d in errors)


# -- an LSTMCell carries the pair (h, c) -------------------------------------------------------------

LSTM = """
network ScannedLSTM {
    input xs: float[seq, batch, 4]
    input h0: float[batch, 3]
    input c0: float[batch, 3]
    shared cell = LSTMCell(3)
    states, h, c = xs -> scan(cell, (h0, c0))
    output states, h, c
}
"""


class HandLoop(nn.Module):
    """The loop written by hand: one nn.LSTMCell applied at every step, carrying (h, c)."""

    def __init__(self):
        super().__init__()
        self.cell = nn.LSTMCell(4, 3)

    def forward(self, xs, h0, c0):
        h, c, hs = h0, c0, []
        for t in range(xs.shape[0]):
            h, c = self.cell(xs[t], (h, c))
            hs.append(h)
        return torch.stack(hs), h, c


def test_a_scanned_lstm_cell_is_a_loop_over_nn_lstm_cell():
    spec = api.loads(LSTM)
    assert spec.ok, spec.diagnostics
    built, ref = spec.module(), HandLoop()
    net = spec.network()
    assert net.total_params == sum(p.numel() for p in ref.parameters()) == 4 * 3 * (4 + 3 + 2)
    built.load_state_dict(ref.state_dict(), strict=True)
    for seq, batch in ((5, 1), (2, 4), (1, 3)):
        xs, h0, c0 = torch.randn(seq, batch, 4), torch.randn(batch, 3), torch.randn(batch, 3)
        got, want = built(xs, h0, c0), ref(xs, h0, c0)
        assert len(got) == 3
        for g, w in zip(got, want):
            torch.testing.assert_close(g, w, rtol=0, atol=0)
        env = {"seq": seq, "batch": batch}
        assert [[evaluate(net.dim(d), env) for d in v.tensor.shape] for _, v in net.outputs] == \
               [[seq, batch, 3], [batch, 3], [batch, 3]] == [list(t.shape) for t in got]
        assert [v.tensor.dtype for _, v in net.outputs] == ["float32"] * 3


def test_a_scanned_lstm_cell_is_nn_lstm_with_its_weights():
    spec = api.loads(LSTM)
    built, ref = spec.module(), nn.LSTM(4, 3)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(built.cell, name).copy_(getattr(ref, f"{name}_l0"))
    xs, h0, c0 = torch.randn(6, 2, 4), torch.randn(2, 3), torch.randn(2, 3)
    states, h, c = built(xs, h0, c0)
    want, (h_n, c_n) = ref(xs, (h0.unsqueeze(0), c0.unsqueeze(0)))
    torch.testing.assert_close(states, want)
    torch.testing.assert_close(h, h_n[0])
    torch.testing.assert_close(c, c_n[0])


def test_a_scan_along_another_dim_and_its_results_by_name():
    text = """
network ByName {
    input xs: double[batch, seq, 5]
    shared cell = LSTMCell(2, bias=false)
    h0 = xs -> select(1, 0) -> Linear(2)
    c0 = xs -> select(1, 0) -> Linear(2)
    r = xs -> scan(cell, state=(h0, c0), dim=1)
    y = r.output -> Linear(1)
    output y, r.h, r.c
}
"""
    spec = api.loads(text)
    assert spec.ok, spec.diagnostics
    net, built = spec.network(), spec.module()
    xs = torch.randn(3, 4, 5, dtype=torch.float64)
    ref = nn.LSTMCell(5, 2, bias=False, dtype=torch.float64)
    ref.load_state_dict(built.cell.state_dict(), strict=True)
    y, h, c = built(xs)
    h0, c0 = built.h0(xs[:, 0]), built.c0(xs[:, 0])
    hs, (hh, cc) = [], (h0, c0)
    for t in range(4):
        hh, cc = ref(xs[:, t], (hh, cc))
        hs.append(hh)
    torch.testing.assert_close(y, built.y(torch.stack(hs, 1)))
    torch.testing.assert_close((h, c), (hh, cc))
    env = {"batch": 3, "seq": 4}
    assert [([evaluate(net.dim(d), env) for d in v.tensor.shape], v.tensor.dtype) for _, v in net.outputs] == \
           [([3, 4, 1], "float64"), ([3, 2], "float64"), ([3, 2], "float64")]


def test_a_scanned_lstm_cells_flops_count_once_a_position():
    spec = api.loads(LSTM)
    net, built = spec.network(), spec.module()
    from netspec.costs import network_costs
    stated = network_costs(net, {"seq": 7, "batch": 2}).flops
    counter = FlopCounterMode(display=False)
    with counter:
        built(torch.randn(7, 2, 4), torch.randn(2, 3), torch.randn(2, 3))
    assert stated == counter.get_total_flops() == 7 * 2 * 2 * 4 * 3 * (4 + 3)


def test_a_scanned_lstm_cells_module_is_formatted(tmp_path):
    import subprocess
    import sys
    from pathlib import Path
    exe = Path(sys.executable).parent / "ruff"
    if not exe.exists():
        pytest.skip("ruff is not installed")
    path = tmp_path / "scanned.py"
    code = api.loads(LSTM).code
    assert code == api.loads(LSTM).code  # deterministic
    path.write_text(code)
    for args in (["check"], ["format", "--check", "--diff"]):
        out = subprocess.run([str(exe), *args, "--isolated", "--no-cache", str(path)], capture_output=True, text=True)
        assert out.returncode == 0, out.stdout + out.stderr


# -- a network step that carries several states -------------------------------------------------

NET_STATES = """
# An LSTM step from its equations (i, f, g, o as torch.nn.LSTM orders its gates), and a
# running sum of the h's: three states
network LSTMStep(hidden=3) {
    input x: float[batch, d]
    input h: float[batch, hidden]
    input c: float[batch, hidden]
    input total: float[batch, hidden]
    gates = (x -> Linear(4 * hidden) as ih) + (h -> Linear(4 * hidden) as hh)
    i, f, g, o = gates -> chunk(4, 1)
    c_next = (f -> Sigmoid) * c + (i -> Sigmoid) * (g -> Tanh)
    h_next = (o -> Sigmoid) * (c_next -> Tanh)
    total_next = total + h_next
    output h_next, c_next, total_next
}

network Scanned {
    input xs: float[seq, batch, 4]
    input h0: float[batch, 3]
    input c0: float[batch, 3]
    input t0: float[batch, 3]
    shared step = LSTMStep(3)
    r = xs -> scan(step, (h0, c0, t0))
    states, h, c, total = xs -> scan(step, (h0, c0, t0), dim=0)
    y = r.output -> Linear(2)
    output y, r.h, r.c, r.total, states, h, c, total
}
"""


class HandStep(nn.Module):
    """The step written by hand in torch: the gates, then the three states it makes."""

    def __init__(self):
        super().__init__()
        self.ih, self.hh = nn.Linear(4, 12), nn.Linear(3, 12)

    def forward(self, x, h, c, total):
        i, f, g, o = (self.ih(x) + self.hh(h)).chunk(4, 1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, c, total + h


class HandScanned(nn.Module):
    def __init__(self):
        super().__init__()
        self.step = HandStep()
        self.y = nn.Linear(3, 2)

    def forward(self, xs, h0, c0, t0):
        state, hs = (h0, c0, t0), []
        for t in range(xs.shape[0]):
            state = self.step(xs[t], *state)
            hs.append(state[0])
        states = torch.stack(hs)
        h, c, total = state
        return self.y(states), h, c, total, states, h, c, total


def test_a_network_step_carries_several_states():
    spec = api.loads(NET_STATES)
    assert spec.ok and not spec.diagnostics, spec.diagnostics
    built, ref = spec.module("Scanned"), HandScanned()
    net = spec.network("Scanned")
    assert net.total_params == sum(p.numel() for p in ref.parameters())  # the step counted once
    from netspec.costs import network_costs
    assert network_costs(net, {"seq": 2, "batch": 1}).param_bytes == 4 * sum(p.numel() for p in ref.parameters())
    torch.manual_seed(0)
    for p in ref.parameters():
        p.data.uniform_(-0.5, 0.5)
    built.load_state_dict(ref.state_dict(), strict=True)
    for seq, batch in ((5, 2), (1, 1), (3, 4)):
        args = (torch.randn(seq, batch, 4), torch.randn(batch, 3), torch.randn(batch, 3), torch.randn(batch, 3))
        got, want = built(*args), ref(*args)
        assert len(got) == len(want) == 8
        for g, w in zip(got, want):
            torch.testing.assert_close(g, w, rtol=0, atol=0)
        env = {"seq": seq, "batch": batch}
        assert [[evaluate(net.dim(d), env) for d in v.tensor.shape] for _, v in net.outputs] == \
               [list(t.shape) for t in got]


def test_a_network_step_of_two_states_is_nn_lstm_with_its_weights():
    text = NET_STATES.replace("    input total: float[batch, hidden]\n", "").replace(
        "    total_next = total + h_next\n", "").replace("output h_next, c_next, total_next", "output h_next, c_next")
    text = text[:text.index("network Scanned")] + """
network Scanned {
    input xs: float[seq, batch, 4]
    input h0: float[batch, 3]
    input c0: float[batch, 3]
    shared step = LSTMStep(3)
    states, h, c = xs -> scan(step, (h0, c0))
    output states, h, c
}
"""
    spec = api.loads(text)
    assert spec.ok and not spec.diagnostics, spec.diagnostics
    built, ref = spec.module("Scanned"), nn.LSTM(4, 3)
    assert spec.network("Scanned").total_params == sum(p.numel() for p in ref.parameters())
    with torch.no_grad():
        for ours, theirs in (("ih", "ih"), ("hh", "hh")):
            getattr(built.step, ours).weight.copy_(getattr(ref, f"weight_{theirs}_l0"))
            getattr(built.step, ours).bias.copy_(getattr(ref, f"bias_{theirs}_l0"))
    xs, h0, c0 = torch.randn(6, 2, 4), torch.randn(2, 3), torch.randn(2, 3)
    states, h, c = built(xs, h0, c0)
    want, (h_n, c_n) = ref(xs, (h0.unsqueeze(0), c0.unsqueeze(0)))
    torch.testing.assert_close(states, want)
    torch.testing.assert_close((h, c), (h_n[0], c_n[0]))
    counter = FlopCounterMode(display=False)
    with counter:
        built(torch.randn(7, 2, 4), torch.randn(2, 3), torch.randn(2, 3))
    from netspec.costs import network_costs
    assert network_costs(spec.network("Scanned"), {"seq": 7, "batch": 2}).flops == counter.get_total_flops()


def test_a_network_step_of_several_states_builds_formatted_code(tmp_path):
    import subprocess
    import sys
    from pathlib import Path
    code = api.loads(NET_STATES).code
    assert "scan(self.step, xs, (h0, c0, t0), 0, spread=True)" in code
    exe = Path(sys.executable).parent / "ruff"
    if not exe.exists():
        pytest.skip("ruff is not installed")
    path = tmp_path / "scanned.py"
    path.write_text(code)
    for args in (["check"], ["format", "--check", "--diff"]):
        out = subprocess.run([str(exe), *args, "--isolated", "--no-cache", str(path)], capture_output=True, text=True)
        assert out.returncode == 0, out.stdout + out.stderr


STEP2 = """
network Step {
    input x: float[batch, 4]
    input h: float[batch, 3]
    input c: float[batch, 3]
    h2 = (x -> Linear(3)) + h
    output %s
}
network Step1 {
    input x: float[batch, 4]
    input h: float[batch, 3]
    output h, x
}
network N {
    input xs: float[seq, batch, 4]
    input h0: float[batch, 3]
    shared step = Step
    shared one = Step1
    %s
    output states
}
"""


@pytest.mark.parametrize("outputs, body, code", [
    ("h2, c", "states, h = xs -> scan(step, h0)", "argument"),  # two states taken, one given
    ("h2, c", "states, h, c, d = xs -> scan(step, (h0, h0, h0))", "argument"),  # three given
    ("h2", "states, h, c = xs -> scan(step, (h0, h0))", "argument"),  # one state made
    ("h2, x", "states, h, c = xs -> scan(step, (h0, h0))", "shape"),  # a state of another size
    ("h2, c", "states, h = xs -> scan(one, h0)", "argument"),  # one state taken, two made
])
def test_network_steps_that_do_not_carry_their_states_are_errors_with_help(outputs, body, code):
    spec = api.loads(STEP2 % (outputs, body), strict=False)
    errors = [d for d in spec.diagnostics if d.severity == "error"]
    assert [d.code for d in errors][:1] == [code], errors
    assert all(d.help for d in errors)
