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


# -- a layer's saved bytes per range ---------------------------------------------------------

def _first_saved_by(model, path: str, inputs) -> int:
    """The bytes of the storages autograd first packs while the submodule ``path`` runs: what
    that layer is the first to save."""
    model.train()
    recorder = SavedStorages([model])
    marks: list[set] = []
    inner = model.get_submodule(path)
    handles = [inner.register_forward_pre_hook(lambda *_: marks.append(set(recorder.storages))),
               inner.register_forward_hook(lambda *_: marks.append(set(recorder.storages)))]
    try:
        with recorder.recording():
            model(*inputs)
    finally:
        for h in handles:
            h.remove()
    before, after = marks  # the layer runs once
    return sum(recorder.storages[k][0] for k in after - before)


def _built(spec, net, block: str | None, env: dict):
    """The built module (a block with its symbols' values) and random inputs at ``env``; a
    block's float input needs a gradient (it comes from layers that train)."""
    torch.manual_seed(0)
    inputs = [hand.random_input(*hand.concrete(net, v.tensor, env)) for v in net.inputs]
    if block is None:
        return spec.module_class(None)(), inputs
    symbols = spec.class_info(block).symbols
    model = spec.module_class(block)(**{kw: env[s] for s, kw in symbols.items()})
    return model, [x.requires_grad_(True) if x.is_floating_point() else x for x in inputs]


@pytest.mark.parametrize("stem, block", [("gru", None), ("qstencoder", None), ("vit_b_16", "EncoderBlock")])
def test_layer_saved_bytes_per_range_match_torch(stem, block):
    """The GRU, LSTM and attention layers whose saved bytes have no one formula: each range's
    formula against the bytes torch first packs inside that layer, at the symbols' values 1, 2
    and 3 (a block's width at 12 and 24), and the report at those values states that range's."""
    from netspec.costs import layer_training
    from netspec.pycode import module_paths

    spec = api.load(hand.SPECS / f"{stem}.net")
    net = spec.network(block)
    paths = module_paths(net)
    layers = [(node, layer_training(net, node, "adam")) for node in net.nodes]
    layers = [(node, t) for node, t in layers if t.cases]
    assert layers and all(t.saved_bytes is None and id(node) in paths for node, t in layers)
    names = sorted(dim_symbols([net]))
    widths = spec.class_info(block).symbols if block else {}
    for values in product(*[(12, 24) if n in widths else (1, 2, 3) for n in names]):
        env = dict(zip(names, values))
        model, inputs = _built(spec, net, block, env)
        for node, t in layers:
            (when, case), = [(w, c) for w, c in t.cases if _in(_range(w), env)]  # exactly one range holds
            stated = evaluate(net.dim(case.saved_bytes), env)
            assert stated == _first_saved_by(model, paths[id(node)], inputs), (node.kind_name, env, when)
            assert layer_training(net, node, "adam", env).saved_bytes == stated


def _range(when: str) -> dict:
    """`batch = 1, seq >= 2` as {symbol: 1, or None for 2 or more}."""
    parts = [p.split(" = ") if " = " in p else [p.split(" >= ")[0], None] for p in when.split(", ")]
    return {n: 1 if v == "1" else None for n, v in parts}


# -- a range no value of which torch runs -----------------------------------------------------

POOLED = """network Pooled {
    input x: float[batch, seq, 8]
    y = x -> GRU(16, batch_first=true, bidirectional=true)
    z = y.output -> transpose(1, 2) -> MaxPool1d(2) -> flatten(1)
    output z
}
"""


def test_a_range_where_a_size_is_below_1_is_left_out():
    """The pool over `seq` has `seq // 2` = 0 at `seq = 1`: check refuses `--dim seq=1` and
    torch refuses the input, so the range `batch >= 2, seq = 1` is not stated, in the network's
    totals nor in the GRU's row; the ranges left match torch at every value it runs."""
    from netspec.costs import layer_training, size_problems
    from netspec.pycode import module_paths

    spec = api.loads(POOLED, file="pooled.net")
    net = spec.network()
    assert size_problems(net, {"seq": 1}) and not size_problems(net, {"seq": 2})
    stated = network_training(net, "adam")
    assert [when for when, _ in stated.cases] == ["batch = 1", "batch >= 2, seq >= 2"]
    gru = next(node for node in net.nodes if node.kind_name == "GRU")
    layer = layer_training(net, gru, "adam")
    assert [when for when, _ in layer.cases] == ["batch = 1", "batch >= 2, seq >= 2"]
    model = spec.module_class(None)()
    with pytest.raises(RuntimeError):  # what the left-out range would be
        model(torch.randn(2, 1, 8))
    for batch, seq in product((1, 2, 3), (2, 3, 4)):
        env = {"batch": batch, "seq": seq}
        (case,), (mine,) = ([c for w, c in cases if _in(_range(w), env)] for cases in (stated.cases, layer.cases))
        inputs = [torch.randn(batch, seq, 8)]
        assert evaluate(net.dim(case.saved_bytes), env) == _saved(model, inputs), env
        assert evaluate(net.dim(mine.saved_bytes), env) == _first_saved_by(model, module_paths(net)[id(gru)], inputs)
