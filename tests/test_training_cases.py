"""Training memory stated per range of a symbol (costs.training_cases), against torch.

Where torch views a tensor at batch 1 and copies it at 2 or more, no one formula in the
symbols may hold; netspec states one formula for each range (``batch = 1``, ``batch >= 2``),
or one formula where that of 2 or more gives the bytes at 1 too (vit_b_16).
Each is compared with what ``saved_tensors_hooks`` sees in a training step of the built
module at the symbols' values 1, 2 and 3, and the report shows the ranges.
"""

from __future__ import annotations

from itertools import product

import pytest

torch = pytest.importorskip("torch")
import test_specs_torch as hand  # noqa: E402
from test_training_memory import SavedStorages  # noqa: E402

from netspec import api  # noqa: E402
from netspec.costs import dim_symbols, network_training  # noqa: E402
from netspec.dims import evaluate  # noqa: E402

SPECS = ["gru", "qstencoder", "vit_b_16"]


def _saved(model, inputs) -> int:
    model.train()
    recorder = SavedStorages([model])
    with recorder.recording():
        model(*inputs)
    return recorder.total


def _in(when: dict, env: dict) -> bool:
    return all(env[n] == 1 if v == 1 else env[n] >= 2 for n, v in when.items())  # {}: every value


@pytest.mark.parametrize("stem", SPECS)
def test_saved_bytes_per_range_match_torch(stem):
    from netspec.costs import network_costs, training_cases

    spec = api.load(hand.SPECS / f"{stem}.net")
    net = spec.network()
    stated = network_training(net, "adam")
    assert stated.saved_bytes is not None or stated.cases, "unknown"
    cases = training_cases(net, network_costs(net).param_bytes, "adam")
    assert len(cases) == max(len(stated.cases), 1) and cases[0][2][0] is not None
    names = sorted(dim_symbols([net]))
    torch.manual_seed(0)
    model = spec.module_class(None)()
    for values in product((1, 2, 3), repeat=len(names)):
        env = dict(zip(names, values))
        (when, case), = [(w, c) for _, w, c in cases if _in(w, env)]  # exactly one range holds
        inputs = [hand.random_input(*hand.concrete(net, v.tensor, env)) for v in net.inputs]
        assert evaluate(net.dim(case[0]), env) == _saved(model, inputs), (env, when)
        assert network_training(net, "adam", env).saved_bytes == evaluate(net.dim(case[0]), env)


def test_ranges_in_the_report():
    """The text and the JSON report state each range's formula."""
    from netspec.report import network_json

    net = api.load(hand.SPECS / "qstencoder.net").network()
    data = network_json(net)
    assert data["saved_bytes"] is None
    assert [c["when"] for c in data["training_cases"]] == ["batch = 1", "batch >= 2"]
    assert all(isinstance(c["saved_bytes"], (int, str)) for c in data["training_cases"])


def test_block_checked_on_its_own_per_range_matches_torch():
    """vit_b_16's EncoderBlock, checked on its own (its input needs a gradient): three ranges
    of batch and seq, each against torch at 1, 2 and 3, and two widths."""
    from netspec.costs import network_costs, training_cases

    spec = api.load(hand.SPECS / "vit_b_16.net")
    net = spec.network("EncoderBlock")
    cases = training_cases(net, network_costs(net).param_bytes, "adam")
    assert [c[0] for c in cases] == ["batch = 1", "batch >= 2, seq = 1", "batch >= 2, seq >= 2"]
    symbols = spec.class_info("EncoderBlock").symbols
    for batch, seq, hidden in product((1, 2, 3), (1, 2, 3), (12, 24)):
        env = {"batch": batch, "seq": seq, "hidden": hidden}
        torch.manual_seed(0)
        model = spec.module_class("EncoderBlock")(**{kw: env[s] for s, kw in symbols.items()})
        x = torch.randn(batch, seq, hidden).requires_grad_(True)
        (when, case), = [(w, c) for _, w, c in cases if _in(w, env)]
        assert evaluate(net.dim(case[0]), env) == _saved(model, [x]), (env, when)
