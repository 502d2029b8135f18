"""Training memory (docs/costs.md) against what torch keeps in a real training step.

What autograd saves for backward is measured with ``torch.autograd.graph.saved_tensors_hooks``
on a forward pass in training mode: every tensor autograd packs, counted once per storage
(a saved tensor is often a view of an input, a result or a parameter), leaving out the
storages of parameters and buffers (counted as parameters). The stated bytes must equal
that count for every worked example of every kind (with every float input needing a
gradient, only the first, and none), for every spec in specs/ and for random networks of
tests/netgen.py, built by netspec. Attention runs on torch's math path, as docs/costs.md
defines (``attention_math``). Gradients and optimizer state are compared with what one
``backward`` and one optimizer step leave behind.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
import test_specs_torch as hand  # noqa: E402
from test_costs import attention_math  # noqa: E402
from test_kinds_torch import EXAMPLES, example_spec, example_tensors, flat  # noqa: E402
from test_kinds_torch import stage_call as torch_stage_call  # noqa: E402

from netspec.checker import check_text  # noqa: E402
from netspec.costs import network_training, training_pass  # noqa: E402
from netspec.kinds.memory import trained  # noqa: E402
from netspec.types import FLOAT_DTYPES  # noqa: E402

# -- measuring torch ----------------------------------------------------------------------------


def _key(t) -> int:
    return t.untyped_storage().data_ptr()


class SavedStorages:
    """Every storage autograd packs during a call, but those of parameters and buffers."""

    def __init__(self, modules=()):
        self.exclude = {_key(p) for m in modules for p in [*m.parameters(), *m.buffers()]}
        self.storages: dict[int, tuple[int, str]] = {}  # key -> (bytes, what: for messages)

    def pack(self, t):
        k = _key(t)
        if k not in self.exclude and k not in self.storages:
            self.storages[k] = (t.untyped_storage().nbytes(), f"{list(t.shape)} {t.dtype}")
        return t

    @contextmanager
    def recording(self):
        with attention_math(), torch.autograd.graph.saved_tensors_hooks(self.pack, lambda t: t):
            yield

    @property
    def total(self) -> int:
        return sum(b for b, _ in self.storages.values())


# -- every worked example of every kind --------------------------------------------------------

GRADS = ("all", "first", "none")
# the kinds whose saved tensors depend on more than the shapes (docs/costs.md)
UNSTATED = {"LSTM", "GRU", "RNN", "LSTMCell", "GRUCell", "RNNCell", "EmbeddingBag", "einsum", "matmul", "Linear",
            "MultiheadAttention", "Transformer", "TransformerEncoder", "TransformerEncoderLayer",
            "TransformerDecoder", "TransformerDecoderLayer", "rpow", "scan"}


def _needs(types: dict, mode: str) -> dict[str, bool]:
    floats = {n: t.split("[")[0] in FLOAT_DTYPES | {"float", "double", "half"} for n, t in types.items()}
    if mode == "all":
        return floats
    if mode == "first":
        return {n: f and n == "x" for n, f in floats.items()}
    return dict.fromkeys(types, False)


def example_saved(kind, ex, mode: str) -> tuple[int, int, dict]:
    """(stated, measured, what torch saved) for one example in one gradient mode."""
    text, stage, types = example_spec(kind, ex)
    result = check_text(text, "kind.net")
    assert not result.reporter.errors, [d.message for d in result.reporter.errors]
    (net,) = result.networks
    needs = _needs(types, mode)
    stated = training_pass(net, tuple(needs[v.name] for v in net.inputs))
    assert stated.ok
    values = list(stated.per_node.values())
    stated_bytes = None if None in values else sum(values)

    torch.manual_seed(0)
    env = example_tensors(types)
    for name, t in env.items():
        if needs[name]:  # a value made by an earlier layer: it needs a gradient, and is no leaf
            env[name] = t.clone().requires_grad_(True).clone()
    module, call = torch_stage_call(stage, env.get("x"), env)
    if module is not None:
        module.train()
    recorder = SavedStorages([module] if module is not None else [])
    with recorder.recording():
        flat(call())
    return stated_bytes, recorder.total, recorder.storages


@pytest.mark.parametrize("mode", GRADS)
@pytest.mark.parametrize("kind,index,ex", EXAMPLES, ids=[f"{k.name}-{i}" for k, i, _ in EXAMPLES])
def test_example_saved_bytes_match_torch(kind, index, ex, mode):
    stated, measured, storages = example_saved(kind, ex, mode)
    if stated is None:  # a kind that says it cannot state it: only those documented so
        assert kind.name in UNSTATED, (kind.name, ex["stage"])
        return
    assert stated == measured, (ex["stage"], ex["input"], mode, sorted(storages.values()))


# -- parameter tensors ---------------------------------------------------------------------------

LAYERS = [(k, i, ex) for k, i, ex in EXAMPLES if ex["stage"] and ex["stage"][0].isupper()]


@pytest.mark.parametrize("kind,index,ex", LAYERS, ids=[f"{k.name}-{i}" for k, i, _ in LAYERS])
def test_weights_match_the_state_dict(kind, index, ex):
    """Every parameter tensor a kind names (the optimizer keeps state per tensor) is torch's,
    by name and shape, in order."""
    text, stage, types = example_spec(kind, ex)
    (net,) = check_text(text, "kind.net").networks
    (node,) = net.nodes
    env = example_tensors(types)
    module, _ = torch_stage_call(stage, env.get("x"), env)
    expected = [(n, tuple(p.shape)) for n, p in module.named_parameters()]
    assert [(n, tuple(s)) for n, s in trained(node.kind.weights(node.args))] == expected


# -- views: the strides the pass follows --------------------------------------------------------

VIEWS = [(k, i, ex) for k, i, ex in EXAMPLES if k.is_view() and ex["input"] is not None]


@pytest.mark.parametrize("kind,index,ex", VIEWS, ids=[f"{k.name}-{i}" for k, i, _ in VIEWS])
@pytest.mark.parametrize("layout", ["contiguous", "transposed"])
def test_view_strides_match_torch(kind, index, ex, layout):
    """Each view's stated strides (in elements) are torch's, from a contiguous input and from
    one whose last two dims are transposed; where torch copies, the stated strides are None."""
    from netspec.kinds.memory import contiguous_strides

    text, stage, types = example_spec(kind, ex)
    result = check_text(text, "kind.net")
    (net,) = result.networks
    (node,) = net.nodes
    env = example_tensors(types)
    x = env["x"]
    if layout == "transposed":
        if x.dim() < 2:
            pytest.skip("one dim: nothing to transpose")
        x = x.transpose(-1, -2).contiguous().transpose(-1, -2)  # the same shape, column-major
    strides = tuple(x.stride())  # the layout the stated strides start from
    if layout == "contiguous":
        assert strides == contiguous_strides(node.inputs[0].tensor.shape) or 0 in x.shape
    env["x"] = x
    if layout == "transposed":  # torch's view refuses such an input; the built module calls reshape
        stage = stage.replace("view(", "reshape(")
    _, call = torch_stage_call(stage, x, env)
    outs = flat(call())
    stated = node.kind.result_strides(node.args, [v.tensor for v in node.inputs], [v.tensor for v in node.outputs],
                                      [strides] + [None] * (len(node.inputs) - 1))
    for out, s in zip(outs, stated):
        shares = out.untyped_storage().data_ptr() == x.untyped_storage().data_ptr()
        if s is None:
            assert not shares, (stage, "torch made a view")
        else:
            assert shares, (stage, "torch copied")
            sized = [(st, n) for st, n in zip(out.stride(), out.shape) if n != 1]
            assert [(s_, n) for s_, n in zip(s, out.shape) if n != 1] == sized, (stage, s, out.stride())


# -- whole networks: the specs and random ones, built by netspec --------------------------------

def measured_training(model: nn.Module, inputs: list) -> tuple[SavedStorages, int, dict]:
    """What one training step keeps: the saved storages of the forward pass, then the bytes of
    the parameters' gradients after backward, and of each optimizer's state after one step."""
    model.train()
    recorder = SavedStorages([model])
    with recorder.recording():
        outs = [t for t in flat(model(*inputs)) if t.is_floating_point() and t.requires_grad]
    loss = sum(t.float().sum() for t in outs)
    grads = 0
    if outs:
        loss.backward()
        # a parameter of a branch no output reads gets no gradient in torch; the statement
        # counts every parameter's (docs/costs.md), so such a one counts as if it had one
        grads = sum(p.numel() * p.element_size() for p in model.parameters())
    states = {}
    if grads:
        for p in model.parameters():
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        for name, opt in OPTIMIZERS.items():
            o = opt(model.parameters())
            o.step()
            states[name] = sum(t.numel() * t.element_size() for s in o.state.values() for t in s.values()
                               if isinstance(t, torch.Tensor))
    return recorder, grads, states


OPTIMIZERS = {"sgd": lambda ps: torch.optim.SGD(ps, lr=0.1), "momentum": lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9),
              "adam": torch.optim.Adam}


def assert_training_matches(net, env: dict, model: nn.Module, inputs: list) -> None:
    from netspec.dims import evaluate

    stated = network_training(net, "adam")
    recorder, grads, states = measured_training(model, inputs)
    if stated.saved_bytes is None:  # a layer whose kind cannot state it
        unstated = [n.kind.name for n in net.nodes if n.kind is not None and n.kind.name in UNSTATED]
        assert unstated or any(n.block is not None for n in net.nodes), "unknown without a reason"
        if stated.grad_bytes is None:  # the whole pass is unknown (a scan's step): nothing more stated
            return
    else:
        assert evaluate(stated.saved_bytes, env) == recorder.total, sorted(recorder.storages.values())
    if grads:  # a network whose outputs need a gradient trains every parameter that reaches them
        assert evaluate(stated.grad_bytes, env) == grads
        for name, state in states.items():
            assert evaluate(network_training(net, name).optimizer_bytes, env) == state, name


@pytest.mark.parametrize("stem", sorted(hand.MODELS))
def test_spec_training_memory_matches_torch(stem):
    from test_costs import built

    name, _ = hand.MODELS[stem]
    net, cls = built(hand.SPECS / f"{stem}.net", name)
    env = hand.env_for(stem)
    torch.manual_seed(0)
    model = cls()
    inputs = [hand.random_input(*hand.concrete(net, v.tensor, env)) for v in net.inputs]
    assert_training_matches(net, env, model, inputs)


@pytest.mark.parametrize("stem", sorted(hand.HANDWRITTEN))
def test_handwritten_model_specs_training_memory_matches_torch(stem):
    """The specs tests/test_handwritten_models.py proves against hand-written modules, built,
    at both of its symbol assignments."""
    import test_handwritten_models as handwritten
    from test_costs import built

    net, cls = built(hand.SPECS / f"{stem}.net", None)
    for env, make in handwritten.CASES[stem][1]:
        torch.manual_seed(0)
        assert_training_matches(net, env, cls(), make())


RANDOM_SEEDS = int(os.environ.get("NETSPEC_MEMORY_SEEDS", "30"))


@pytest.mark.parametrize("seed", range(RANDOM_SEEDS))
def test_random_network_training_memory_matches_torch(seed):
    """Random specs of tests/netgen.py, built by netspec. NETSPEC_MEMORY_SEEDS=N runs more."""
    import netgen


    case = netgen.sample(seed)
    spec = netgen.load_or_skip(case, f"random-{seed}.net")
    net = spec.network(case.root)
    torch.manual_seed(seed)
    sizes = {kw: case.symbols[s] for s, kw in spec.class_info(case.root).symbols.items()}
    model = spec.module_class(case.root)(**sizes)
    inputs = [hand.random_input(*hand.concrete(net, v.tensor, case.symbols)) for v in net.inputs]
    assert_training_matches(net, case.symbols, model, inputs)
