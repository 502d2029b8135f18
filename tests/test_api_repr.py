"""API objects print as the command line does: a spec as `netspec check FILE`, a typed
network as its table, a value, a node and a tensor in a line (never a nested dump)."""

from __future__ import annotations

import pytest
from conftest import ALL_SPECS, SPECS

from netspec import api


@pytest.mark.parametrize("path", ALL_SPECS, ids=[p.stem for p in ALL_SPECS])
def test_a_spec_prints_what_check_prints(run_here, path):
    spec = api.load(path, strict=False)
    assert repr(spec) + "\n" == run_here("check", path).stdout


def test_a_network_prints_its_table(run_here):
    spec = api.load(SPECS / "resnet18.net", {"num_classes": 10})
    net = spec.network()
    text = run_here("check", SPECS / "resnet18.net", "--set", "num_classes=10").stdout
    assert repr(net) in text
    assert repr(net).startswith("network ResNet18(num_classes=10)\n")
    assert str(net) == repr(net)


def test_values_nodes_and_tensors_print_in_a_line():
    net = api.load(SPECS / "charrnn.net").network()
    (name, value), = net.outputs
    assert repr(value) == "Value(logits: float32[batch * seq, classes], reshape at line 9)"
    assert repr(value.tensor) == "Tensor(float32[batch * seq, classes])"
    assert repr(net.inputs[0]) == "Value(chars: int64[batch, seq], an input)"
    assert repr(net.nodes[1]) == ("Node(RNN (logits) at line 7: [batch, seq, embedding] -> "
                                  "[batch, seq, hidden], [layers, batch, hidden])")
    assert len(repr(net.outputs)) < 100
