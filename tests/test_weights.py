"""The state_dict netspec states without torch (`check --weights`, netspec.weights) against
the real one: every kind's worked examples through this suite's independent translation of
the stage text (tests/test_kinds_torch.py), the flags that change a composite layer's
tensors, every spec's built module, and random networks of tests/netgen.py."""

from __future__ import annotations

import os

import pytest

torch = pytest.importorskip("torch")

from test_kinds_torch import EXAMPLES, FLAG_CASES, check_one, example_spec, example_tensors, run_stage  # noqa: E402

from netspec import api  # noqa: E402
from netspec.dims import evaluate  # noqa: E402
from netspec.weights import layer_weights, network_weights  # noqa: E402


def torch_state(module) -> list[tuple[str, list[int], str, bool]]:
    """(name, shape, dtype, trainable) of every tensor of a module's state_dict, in order."""
    params = {name for name, _ in module.named_parameters()}
    return [(k, list(v.shape), str(v.dtype).removeprefix("torch."), k in params)
            for k, v in module.state_dict().items()]


def stated(entries, env: dict | None = None) -> list[tuple[str, list[int], str, bool]]:
    def size(d):
        return d if isinstance(d, int) else evaluate(d, env or {})

    return [(e.name, [size(d) for d in e.shape], e.dtype, e.trainable) for e in entries]


@pytest.mark.parametrize("kind,index,ex", EXAMPLES, ids=[f"{k.name}-{i}" for k, i, _ in EXAMPLES])
def test_example_weights_match_torch(kind, index, ex):
    text, stage, types = example_spec(kind, ex)
    result, errors = check_one(text)
    assert not errors, (text, errors)
    (net,) = result.networks
    node = net.nodes[-1]
    torch.manual_seed(0)
    env = example_tensors(types)
    _, module = run_stage(stage, env.get("x"), env)
    got = stated(layer_weights(net, node))
    assert got == (torch_state(module) if module is not None else [])
    # the trained tensors add up to the parameter count the table states
    assert sum(evaluate_numel(s) for _, s, _, trainable in got if trainable) == net.dim(node.params)


def evaluate_numel(shape: list[int]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


@pytest.mark.parametrize("stage,tensors", FLAG_CASES, ids=[s for s, _ in FLAG_CASES])
def test_composite_layer_weights_match_torch_for_every_flag(stage, tensors):
    types = {"x": "float32[5, 3, 8]"} | tensors
    decls = "\n".join(f"    input {n}: {t}" for n, t in types.items())
    result, errors = check_one(f"network K {{\n{decls}\n    out = x -> {stage}\n    output out\n}}\n")
    assert not errors, errors
    (net,) = result.networks
    env = example_tensors(types)
    _, module = run_stage(stage, env["x"], env)
    assert stated(layer_weights(net, net.nodes[-1])) == torch_state(module)


def test_every_kind_with_parameters_declares_them():
    """A kind whose examples have parameters names them: no layer is left with an empty list."""
    for kind, _, ex in EXAMPLES:
        text, _, _ = example_spec(kind, ex)
        result, errors = check_one(text)
        (net,) = result.networks
        node = net.nodes[-1]
        if net.dim(node.params):
            assert layer_weights(net, node), kind.name


def test_spec_weights_match_the_built_module(good_spec):
    spec = api.load(good_spec)
    for name, net in spec.networks.items():
        if net.generic:
            continue
        torch.manual_seed(0)
        assert stated(network_weights(net)) == torch_state(spec.module(name)), name


RANDOM_SEEDS = int(os.environ.get("NETSPEC_WEIGHT_SEEDS", "30"))


@pytest.mark.parametrize("seed", range(RANDOM_SEEDS))
def test_random_network_weights_match_the_built_module(seed):
    """Random specs (every layer and op, blocks, repetitions, `as` names); the sizes an
    input's symbol gives are evaluated at the generator's values."""
    import netgen

    case = netgen.sample(seed)
    spec = netgen.load_or_skip(case, f"random-{seed}.net")
    net = spec.network(case.root)
    sizes = {kw: case.symbols[s] for s, kw in spec.class_info(case.root).symbols.items()}
    model = spec.module_class(case.root)(**sizes)
    assert stated(network_weights(net), case.symbols) == torch_state(model)


def test_a_symbolic_layer_count_names_its_range():
    """In a network used as a stage, a count that is a free parameter cannot be unrolled: the
    index says the range."""
    text = """
network Enc(layers) {
    input x: float[seq, batch, 8]
    y = x -> LSTM(4, num_layers=layers)
    output y
}
network Top {
    input x: float[seq, batch, 8]
    y = x -> Enc(2)
    output y
}
"""
    spec = api.loads(text)
    names = [e.name for e in network_weights(spec.networks["Enc"])]
    assert names[:2] == ["y.weight_ih_l0", "y.weight_hh_l0"]
    assert "y.weight_ih_l[1..layers)" in names
    top = [e.name for e in network_weights(spec.network("Top"))]
    assert "y.y.weight_ih_l1" in top and not any("[" in n for n in top)
