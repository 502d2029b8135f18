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
# the kinds whose saved tensors depend on more than the shapes (docs/costs.md): an einsum of
# three or more operands (opt_einsum may choose the order)
UNSTATED = {"einsum"}


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
        assert kind.name != "einsum" or ex["stage"].split('"')[1].split("->")[0].count(",") >= 2, ex["stage"]
        return
    assert stated == measured, (ex["stage"], ex["input"], mode, sorted(storages.values()))


# -- layers that fold a strided input into a matrix ---------------------------------------------

# (input, stage, the torch module and how it is called): a layer reading a transposed input
# keeps the input where torch's fold is a view, and the copy it makes where it is not (after a
# Sigmoid, which keeps its result: a view adds nothing, a copy its bytes)
FOLDS = [
    ("float32[2, 3, 4]", "Sigmoid -> transpose(0, 1) -> Linear(5)", lambda: nn.Linear(4, 5), lambda m, x: m(x.sigmoid().transpose(0, 1))),
    ("float32[2, 1, 4]", "Sigmoid -> transpose(0, 1) -> Linear(5, bias=false)", lambda: nn.Linear(4, 5, bias=False),
     lambda m, x: m(x.sigmoid().transpose(0, 1))),
    ("float32[2, 3, 4, 5]", "Sigmoid -> transpose(1, 2) -> Linear(2)", lambda: nn.Linear(5, 2), lambda m, x: m(x.sigmoid().transpose(1, 2))),
    ("float32[3, 2, 4]", "Sigmoid -> transpose(0, 1) -> GRU(5)", lambda: nn.GRU(4, 5), lambda m, x: m(x.sigmoid().transpose(0, 1))),
    ("float32[3, 2, 4]", "Sigmoid -> transpose(0, 1) -> GRU(5, batch_first=true)", lambda: nn.GRU(4, 5, batch_first=True),
     lambda m, x: m(x.sigmoid().transpose(0, 1))),
    ("float32[2, 3, 4]", "Sigmoid -> RNN(5, batch_first=true, bidirectional=true)",
     lambda: nn.RNN(4, 5, batch_first=True, bidirectional=True), lambda m, x: m(x.sigmoid())),
    ("float64[3, 2, 4]", "Sigmoid -> transpose(0, 1) -> LSTM(5, proj_size=2, bidirectional=true)",
     lambda: nn.LSTM(4, 5, proj_size=2, bidirectional=True).double(), lambda m, x: m(x.sigmoid().transpose(0, 1))),
    # an instance norm runs a batch norm over ``input.contiguous().view(1, N * C, ...)``: it
    # keeps its input where that is contiguous, and the copy where not
    ("float32[3, 1, 8, 9]", "Sigmoid -> InstanceNorm2d", lambda: nn.InstanceNorm2d(1), lambda m, x: m(x.sigmoid())),
    ("float32[3, 1, 8, 9]", "Sigmoid -> permute(2, 1, 0, 3) -> InstanceNorm2d", lambda: nn.InstanceNorm2d(1),
     lambda m, x: m(x.sigmoid().permute(2, 1, 0, 3))),
    ("float32[3, 2, 8, 9]", "Sigmoid -> permute(2, 1, 0, 3) -> InstanceNorm2d(affine=true)",
     lambda: nn.InstanceNorm2d(2, affine=True), lambda m, x: m(x.sigmoid().permute(2, 1, 0, 3))),
    ("float64[5, 2, 4]", "Sigmoid -> transpose(1, 2) -> InstanceNorm1d(track_running_stats=true)",
     lambda: nn.InstanceNorm1d(4, track_running_stats=True).double(), lambda m, x: m(x.sigmoid().transpose(1, 2))),
    ("float32[4, 3, 2]", "Sigmoid -> transpose(0, 2) -> InstanceNorm1d", lambda: nn.InstanceNorm1d(2),
     lambda m, x: m(x.sigmoid().transpose(0, 2))),
]


@pytest.mark.parametrize("grad", [True, False])
@pytest.mark.parametrize("input_type,stage,make,call", FOLDS, ids=[c[1] for c in FOLDS])
def test_folded_strided_input_saved_bytes_match_torch(input_type, stage, make, call, grad):
    result = check_text(f"network K {{\n    input x: {input_type}\n    out = x -> {stage}\n    output out\n}}\n",
                        "fold.net")
    assert not result.reporter.errors, [d.message for d in result.reporter.errors]
    (net,) = result.networks
    stated = sum(training_pass(net, (grad,)).per_node.values())
    torch.manual_seed(0)
    module = make().train()
    x = hand.random_input(*_parsed(input_type))
    if grad:
        x = x.clone().requires_grad_(True).clone()
    recorder = SavedStorages([module])
    with recorder.recording():
        flat(call(module, x))
    assert stated == recorder.total, sorted(recorder.storages.values())


def _parsed(t: str) -> tuple[str, tuple[int, ...]]:
    dtype, dims = t.rstrip("]").split("[")
    return dtype, tuple(int(d) for d in dims.split(","))


# (first, second, what the first goes through before `matmul(y)`, the same in torch): a
# strided or broadcast operand is kept as a view where torch's fold or flattening makes one
MATMULS = [
    ("float32[3, 2, 4]", "float32[4, 5]", "Sigmoid -> transpose(0, 1)", lambda x: x.sigmoid().transpose(0, 1)),
    ("float32[2, 3, 4]", "float32[3, 5]", "Sigmoid -> transpose(1, 2)", lambda x: x.sigmoid().transpose(1, 2)),
    ("float32[1, 3, 4]", "float32[3, 5]", "Sigmoid -> transpose(1, 2)", lambda x: x.sigmoid().transpose(1, 2)),
    ("float32[2, 3, 4]", "float32[2, 3, 5]", "Sigmoid -> transpose(1, 2)", lambda x: x.sigmoid().transpose(1, 2)),
    ("float32[4, 3]", "float32[2, 4, 5]", "Sigmoid -> transpose(0, 1)", lambda x: x.sigmoid().transpose(0, 1)),
    ("float32[2, 1, 3, 4]", "float32[4]", "Sigmoid", lambda x: x.sigmoid()),
    ("float32[4]", "float32[2, 3, 4, 5]", "Sigmoid", lambda x: x.sigmoid()),
    ("float32[2, 1, 3, 4]", "float32[6, 4, 5]", "Sigmoid", lambda x: x.sigmoid()),
    ("float32[5, 4, 3]", "float32[5, 4, 2]", "Sigmoid -> transpose(1, 2)", lambda x: x.sigmoid().transpose(1, 2)),
]


@pytest.mark.parametrize("grads", [(True, True), (True, False), (False, True)])
@pytest.mark.parametrize("x_type,y_type,stage,call", MATMULS, ids=[f"{c[0]}@{c[1]}-{c[2]}" for c in MATMULS])
def test_strided_matmul_saved_bytes_match_torch(x_type, y_type, stage, call, grads):
    text = f"network K {{\n    input x: {x_type}\n    input y: {y_type}\n    out = x -> {stage} -> matmul(y)\n" \
           "    output out\n}\n"
    result = check_text(text, "matmul.net")
    assert not result.reporter.errors, [d.message for d in result.reporter.errors]
    (net,) = result.networks
    stated = sum(training_pass(net, grads).per_node.values())
    torch.manual_seed(0)
    x, y = (hand.random_input(*_parsed(t)) for t in (x_type, y_type))
    x, y = (t.clone().requires_grad_(True).clone() if g else t for t, g in zip((x, y), grads))
    recorder = SavedStorages()
    with recorder.recording():
        torch.matmul(call(x), y)
    assert stated == recorder.total, sorted(recorder.storages.values())


# (inputs, stage, the torch module and its call): attention with dropout in training, a key or
# value that is the query itself, or one tensor (torch's packed projections); encoder layers
ATTENTION = [
    ({"x": "float32[5, 3, 8]"}, "MultiheadAttention(2, dropout=0.5)", lambda: nn.MultiheadAttention(8, 2, dropout=0.5),
     lambda m, x: m(x, x, x)),
    ({"x": "float32[3, 5, 8]"}, "MultiheadAttention(2, dropout=0.25, batch_first=true, need_weights=false)",
     lambda: nn.MultiheadAttention(8, 2, dropout=0.25, batch_first=True), lambda m, x: m(x, x, x, need_weights=False)),
    ({"x": "float32[5, 3, 8]"}, "MultiheadAttention(2, key=x, value=x, need_weights=false)",
     lambda: nn.MultiheadAttention(8, 2), lambda m, x: m(x, x, x, need_weights=False)),
    ({"x": "float32[2, 3, 8]", "k": "float32[2, 5, 8]"}, "MultiheadAttention(4, key=k, batch_first=true)",
     lambda: nn.MultiheadAttention(8, 4, batch_first=True), lambda m, x, k: m(x, k, k)),
    ({"x": "float32[4, 2, 6]", "k": "float32[3, 2, 6]"},
     "MultiheadAttention(3, key=k, value=k, add_bias_kv=true, dropout=0.5, need_weights=false)",
     lambda: nn.MultiheadAttention(6, 3, add_bias_kv=True, dropout=0.5), lambda m, x, k: m(x, k, k, need_weights=False)),
    ({"x": "float32[4, 6]", "v": "float32[3, 6]"}, "MultiheadAttention(2, value=v, key=v, add_zero_attn=true)",
     lambda: nn.MultiheadAttention(6, 2, add_zero_attn=True), lambda m, x, v: m(x, v, v)),
    ({"x": "float32[5, 3, 8]"}, 'TransformerEncoderLayer(2, 16, 0.2, "gelu", norm_first=true)',
     lambda: nn.TransformerEncoderLayer(8, 2, 16, 0.2, "gelu", norm_first=True), lambda m, x: m(x)),
    ({"x": "float32[3, 5, 8]"}, 'TransformerEncoderLayer(2, 16, 0.0, batch_first=true)',
     lambda: nn.TransformerEncoderLayer(8, 2, 16, 0.0, batch_first=True), lambda m, x: m(x)),
    ({"x": "float32[3, 5, 8]"}, 'TransformerEncoder(2, 3, 16, 0.3, "gelu", batch_first=true, norm=true)',
     lambda: nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, 0.3, "gelu", batch_first=True), 3,
                                   norm=nn.LayerNorm(8)), lambda m, x: m(x)),
    ({"x": "float32[3, 5, 8]", "m": "float32[3, 4, 8]"}, 'TransformerDecoder(2, 2, 16, 0.2, "gelu", batch_first=true, memory=m)',
     lambda: nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, 16, 0.2, "gelu", batch_first=True), 2),
     lambda mod, x, m: mod(x, m)),
    ({"x": "float32[4, 2, 8]", "m": "float32[3, 2, 8]"}, "TransformerDecoder(2, 3, 16, 0.5, norm_first=true, memory=m)",
     lambda: nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, 16, 0.5, norm_first=True), 3),
     lambda mod, x, m: mod(x, m)),
]


@pytest.mark.parametrize("types,stage,make,call", ATTENTION, ids=[c[1] for c in ATTENTION])
def test_attention_saved_bytes_match_torch(types, stage, make, call):
    decls = "".join(f"    input {n}: {t}\n" for n, t in types.items())
    result = check_text(f"network K {{\n{decls}    out = x -> {stage}\n    output out\n}}\n", "attention.net")
    assert not result.reporter.errors, [d.message for d in result.reporter.errors]
    (net,) = result.networks
    stated = sum(training_pass(net, tuple(n == "x" for n in types)).per_node.values())
    torch.manual_seed(0)
    module = make().train()
    tensors = [hand.random_input(*_parsed(t)) for t in types.values()]
    tensors[0] = tensors[0].clone().requires_grad_(True).clone()
    recorder = SavedStorages([module])
    with recorder.recording():
        flat(call(module, *tensors))
    assert stated == recorder.total, sorted(recorder.storages.values())


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("ids,offsets", [("int64", "int32"), ("int32", "int64")])
def test_embedding_bag_with_offsets_of_another_dtype(ids, offsets, mode):
    text = (f"network K {{\n    input x: {ids}[7]\n    input o: {offsets}[3]\n"
            f'    out = x -> EmbeddingBag(10, 4, mode="{mode}", offsets=o)\n    output out\n}}\n')
    result = check_text(text, "bag.net")
    assert not result.reporter.errors, [d.message for d in result.reporter.errors]
    (net,) = result.networks
    stated = sum(training_pass(net, (False, False)).per_node.values())
    torch.manual_seed(0)
    module = nn.EmbeddingBag(10, 4, mode=mode).train()
    x = torch.randint(0, 10, (7,), dtype=getattr(torch, ids))
    recorder = SavedStorages([module])
    with recorder.recording():
        module(x, torch.tensor([0, 2, 5], dtype=getattr(torch, offsets)))
    assert stated == recorder.total, sorted(recorder.storages.values())


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
        # or a view that is a copy for other values of the symbols, or strides netspec does not know
        unstated += ["unsure"] if training_pass(net).unsure else []
        assert unstated or any(n.block is not None for n in net.nodes), "unknown without a reason"
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


# -- a result whose kind states its strides: LayerNorm2d keeps the channels last ----------------

CHANNELS_LAST = [
    "LayerNorm2d -> Permute((0, 2, 3, 1)) -> Linear(6)",  # the permuted result is contiguous: a view for Linear
    "LayerNorm2d -> flatten(1) -> Linear(4)",  # not viewable as [N, C * H * W]: reshape copies
    "LayerNorm2d -> Flatten -> ReLU",
    "LayerNorm2d -> permute(0, 2, 3, 1) -> reshape(-1, 3) -> Linear(2)",  # a view all the way
]


@pytest.mark.parametrize("chain", CHANNELS_LAST)
def test_channels_last_result_training_memory_matches_torch(chain):
    from netspec import api

    text = f"network K {{\n    input x: float32[batch, 3, 4, 5]\n    y = x -> {chain}\n    output y\n}}\n"
    spec = api.loads(text, file="k.net")
    net = spec.network("K")
    torch.manual_seed(0)
    model = spec.module_class("K")()
    x = torch.randn(2, 3, 4, 5).requires_grad_(True).clone()
    assert network_training(net, "adam").saved_bytes is not None
    assert_training_matches(net, {"batch": 2}, model, [x])


# -- declared tensors that a layer saves: counted as parameters, not again as saved -------------

DECLARED = [
    ("network K {\n    input x: float32[batch, 4, 3, 3]\n    param s: float32[4, 1, 1] = ones\n"
     "    y = s * x\n    output y\n}\n", "K"),
    ("network B(dim) {\n    input x: float32[batch, dim, 3, 3]\n    param layer_scale: float32[dim, 1, 1] = full(0.5)\n"
     "    buffer m: float32[dim, 1, 1] = ones\n    y = layer_scale * (x -> Conv2d(dim, 1)) * m + x\n    output y\n}\n"
     "network K {\n    input x: float32[batch, 4, 3, 3]\n    y = x -> B(4) -> B(4)\n    output y\n}\n", "K"),
]


@pytest.mark.parametrize("text,name", DECLARED, ids=["network", "block"])
def test_saved_declared_tensors_are_not_counted_twice(text, name):
    from netspec import api

    spec = api.loads(text, file="k.net")
    net = spec.network(name)
    torch.manual_seed(0)
    model = spec.module_class(name)()
    x = torch.randn(2, 4, 3, 3).requires_grad_(True).clone()
    assert network_training(net, "adam").saved_bytes is not None
    assert_training_matches(net, {"batch": 2}, model, [x])


def test_convnext_training_memory_matches_torch():
    """ConvNeXt-Tiny (specs/convnext_tiny.net) at batch 1: its blocks' layer scales are saved
    by the products that read them, its LayerNorm2d results keep the channels last."""
    from netspec import api

    spec = api.load(hand.SPECS / "convnext_tiny.net")
    net = spec.network()
    torch.manual_seed(0)
    assert_training_matches(net, {"batch": 1}, spec.module(), [torch.randn(1, 3, 224, 224)])


# -- the CPU float32 LSTM: oneDNN's kernel and its workspace -------------------------------------

def _one_lstm_workspace(seq: int, batch: int, features: int, hidden: int) -> int:
    """The bytes of the workspace torch's oneDNN LSTM saves for one layer and direction: the
    one byte tensor among the tensors autograd packs."""
    torch.manual_seed(0)
    module = nn.LSTM(features, hidden).train()
    x = torch.randn(seq, batch, features).requires_grad_(True).clone()
    found = []

    def pack(t):
        if t.dtype == torch.uint8:
            found.append(t.untyped_storage().nbytes())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        module(x)
    assert len(found) == 1, found  # torch took oneDNN's path: one workspace
    return found[0]


# (seq, batch, input_size, hidden_size): a page each region, regions that cross pages, rows
# that oneDNN pads to 64 bytes and, where 4 * hidden or the wider size rounds to a multiple of
# 256 elements, by 64 bytes more (64, 128, 256, 512), input wider than hidden and not
WORKSPACES = [(3, 2, 5, 7), (1, 1, 1, 1), (5, 3, 64, 64), (2, 4, 255, 64), (7, 2, 3, 128), (4, 1, 300, 60),
              (3, 5, 17, 200), (9, 7, 256, 16), (40, 3, 8, 24), (2, 2, 512, 1), (16, 16, 33, 48), (1, 64, 4, 241)]


@pytest.mark.parametrize("seq,batch,features,hidden", WORKSPACES)
def test_onednn_lstm_workspace_matches_torch(seq, batch, features, hidden):
    from netspec.kinds.recurrent import onednn_lstm_workspace

    assert onednn_lstm_workspace(seq, batch, features, hidden) == _one_lstm_workspace(seq, batch, features, hidden)


@pytest.mark.parametrize("seed", range(3))
def test_onednn_lstm_workspace_formula_in_symbols(seed):
    """The workspace as a formula in seq, batch and the hidden size (the input as wide as
    the hidden state, so which is wider is known), evaluated at random values and at values
    where the rounding to pages and the padding of rows change, against torch."""
    import random

    from netspec.dims import evaluate, sym
    from netspec.kinds.recurrent import onednn_lstm_workspace

    formula = onednn_lstm_workspace(sym("seq"), sym("batch"), sym("h"), sym("h"))
    assert formula is not None
    rng = random.Random(seed)
    for _ in range(6):
        env = {"seq": rng.randint(1, 12), "batch": rng.randint(1, 9), "h": rng.choice([1, 15, 16, 17, 63, 64, 65, 100, 128])}
        assert evaluate(formula, env) == _one_lstm_workspace(env["seq"], env["batch"], env["h"], env["h"]), env


def test_onednn_lstm_workspace_unknown_where_the_wider_size_is():
    from netspec.dims import sym
    from netspec.kinds.recurrent import onednn_lstm_workspace

    assert onednn_lstm_workspace(sym("seq"), 2, sym("f"), sym("h")) is None
    assert onednn_lstm_workspace(sym("seq"), 2, 2 * sym("h"), sym("h")) is not None


def _lstm_case(rng) -> dict:
    return {"seq": rng.randint(1, 7), "batch": rng.randint(1, 5), "features": rng.randint(1, 40),
            "hidden": rng.choice([1, 3, 8, 16, 31, 64, 70]), "layers": rng.randint(1, 3),
            "bidirectional": rng.random() < 0.5, "batch_first": rng.random() < 0.5,
            "dropout": rng.choice([0.0, 0.0, 0.25, 1.0]), "bias": rng.random() < 0.7,
            "states": rng.choice(["none", "none", "both", "h0"]), "grad": rng.random() < 0.7,
            "unbatched": rng.random() < 0.15}


def _lstm_spec(c: dict) -> tuple[str, list[tuple[str, tuple]]]:
    D = 2 if c["bidirectional"] else 1
    x_shape = (c["seq"], c["features"]) if c["unbatched"] else \
        ((c["batch"], c["seq"], c["features"]) if c["batch_first"] else (c["seq"], c["batch"], c["features"]))
    state = (c["layers"] * D, c["hidden"]) if c["unbatched"] else (c["layers"] * D, c["batch"], c["hidden"])
    inputs = [("x", x_shape)] + [(n, state) for n in {"none": [], "both": ["h", "c"], "h0": ["h"]}[c["states"]]]
    args = [str(c["hidden"]), f"num_layers={c['layers']}", f"bias={str(c['bias']).lower()}",
            f"batch_first={str(c['batch_first']).lower()}", f"dropout={c['dropout']}",
            f"bidirectional={str(c['bidirectional']).lower()}"]
    args += [f"{k}0={k}" for k, _ in inputs[1:]]
    decls = "".join(f"    input {n}: float32[{', '.join(map(str, s))}]\n" for n, s in inputs)
    return f"network K {{\n{decls}    out = x -> LSTM({', '.join(args)})  # netspec: allow[value]\n" \
           "    output out\n}\n", inputs


@pytest.mark.parametrize("seed", range(int(os.environ.get("NETSPEC_LSTM_SEEDS", "30"))))
def test_onednn_lstm_saved_bytes_match_torch(seed):
    """Random float32 LSTMs (layers, directions, batch_first, dropout between layers, no bias,
    states given, an unbatched input, an input that needs no gradient): the stated bytes are
    those torch's oneDNN path saves, workspaces included. NETSPEC_LSTM_SEEDS=N runs more."""
    import random

    c = _lstm_case(random.Random(seed))
    text, inputs = _lstm_spec(c)
    result = check_text(text, "lstm.net")
    assert not result.reporter.errors, [d.message for d in result.reporter.errors]
    (net,) = result.networks
    stated = training_pass(net, tuple(c["grad"] if n == "x" else False for n, _ in inputs)).per_node.values()
    torch.manual_seed(seed)
    module = nn.LSTM(c["features"], c["hidden"], c["layers"], bias=c["bias"], batch_first=c["batch_first"],
                     dropout=c["dropout"], bidirectional=c["bidirectional"]).train()
    tensors = {n: torch.randn(*s) for n, s in inputs}
    if c["grad"]:
        tensors["x"] = tensors["x"].clone().requires_grad_(True).clone()
    recorder = SavedStorages([module])
    with recorder.recording():
        if c["states"] == "none":
            module(tensors["x"])
        else:  # the built module makes the zero c0 of an LSTM given h0 alone
            h = tensors["h"]
            module(tensors["x"], (h, tensors["c"] if "c" in tensors else h.new_zeros(h.shape)))
    assert None not in stated, c
    assert sum(stated) == recorder.total, (c, sorted(recorder.storages.values()))
    assert any("uint8" in what for _, what in recorder.storages.values()), "torch did not take oneDNN's path"


def test_lstm_on_the_chain_of_ops_saves_no_workspace():
    """The float32 LSTM with a projection and the float64 LSTM run as a chain of ops (stated
    as RNN's and GRU's are): no oneDNN workspace among what they save."""
    for module, x in [(nn.LSTM(4, 6, proj_size=3), torch.randn(3, 2, 4)),
                      (nn.LSTM(4, 6).double(), torch.randn(3, 2, 4, dtype=torch.float64))]:
        recorder = SavedStorages([module.train()])
        with recorder.recording():
            module(x.requires_grad_(True).clone())
        assert not any("uint8" in what for _, what in recorder.storages.values())


@pytest.mark.parametrize("seed", range(4))
def test_lstm_with_onednn_off_saves_what_the_chain_of_ops_states(seed):
    """With oneDNN turned off torch runs a float32 LSTM as the chain of ops that netspec
    states for the float64 one: that statement, at float32, is what torch then saves."""
    import random

    from netspec.kinds.memory import Autograd
    from netspec.kinds.recurrent import _Recurrent

    c = _lstm_case(random.Random(100 + seed))
    c.update(states="none", grad=True, bias=True, unbatched=False)
    text, inputs = _lstm_spec(c)
    (net,) = check_text(text, "lstm.net").networks
    (node,) = net.nodes
    x_t = node.inputs[0].tensor
    s = _Recurrent.saved(node.kind, node.args, [x_t], [v.tensor for v in node.outputs], Autograd((True,), params=True))
    stated = s.extra + (4 * int(x_t.shape[0] * x_t.shape[1] * x_t.shape[2]) if s.inputs else 0)
    torch.manual_seed(seed)
    module = nn.LSTM(c["features"], c["hidden"], c["layers"], batch_first=c["batch_first"], dropout=c["dropout"],
                     bidirectional=c["bidirectional"]).train()
    recorder = SavedStorages([module])
    with torch.backends.mkldnn.flags(enabled=False), recorder.recording():
        module(torch.randn(*inputs[0][1]).requires_grad_(True).clone())
    assert stated == recorder.total, (c, sorted(recorder.storages.values()))
    assert not any("uint8" in what for _, what in recorder.storages.values())


# -- scan: a shared cell or network unrolled over the positions ---------------------------------

# (the cell, the dim scanned, the sequence's shape with `seq` at that dim, how the state starts,
# what reads the last state): each position is a view of the sequence, a later position's state
# is the previous one's result, the stacked states save nothing
SCANS = [
    ("RNNCell(5)", 0, "seq, 3, 4", "x -> select(0, 0) -> Linear(5)", "last -> Linear(2)"),
    ("GRUCell(5)", 0, "seq, 3, 4", "x -> select(0, 0) -> Linear(5)", "last -> Sigmoid"),
    ('RNNCell(5, nonlinearity="relu", bias=false)', 1, "3, seq, 4", "h", "last -> Linear(2)"),
    ("GRUCell(5, bias=false)", 1, "3, seq, 4", "h", "last -> Tanh"),
    ("RNNCell(5)", 0, "seq, 4", "h -> select(0, 0)", "last -> Sigmoid"),
    ("GRUCell(5)", 2, "3, 4, seq", "x -> select(2, 0) -> Tanh -> Linear(5)", "last + h"),
    ("GRUCell(5)", 0, "seq, 3, 4", "x -> Tanh -> select(0, 0) -> Linear(5)", "last -> Linear(2)"),
]


@pytest.mark.parametrize("cell,dim,shape,start,after", SCANS, ids=[f"{c[0]}-dim{c[1]}" for c in SCANS])
def test_scan_training_memory_matches_torch(cell, dim, shape, start, after):
    from netspec import api

    text = (f"network K {{\n    input x: float32[{shape}]\n    input h: float32[3, 5]\n"
            f"    shared cell = {cell}\n    h0 = {start}\n    states, last = x -> scan(cell, h0, dim={dim})\n"
            f"    y = {after}\n    output states\n    output y\n}}\n")
    spec = api.loads(text, file="k.net")
    net = spec.network("K")
    assert network_training(net, "adam").saved_bytes is not None
    for seq in (1, 2, 5):
        torch.manual_seed(seq)
        sizes = [seq if d == "seq" else int(d) for d in shape.split(", ")]
        assert_training_matches(net, {"seq": seq}, spec.module_class("K")(), [torch.randn(*sizes), torch.randn(3, 5)])


def test_scan_of_a_network_step_training_memory_matches_torch():
    """A GRU written from its equations (tests/test_scan.py) as the step: its layers save once
    a position."""
    import test_scan

    from netspec import api

    spec = api.loads(test_scan.GATES)
    net = spec.network("GRUByHand")
    assert network_training(net, "adam").saved_bytes is not None
    for seq, batch in [(1, 2), (2, 1), (4, 3)]:
        torch.manual_seed(seq)
        assert_training_matches(net, {"seq": seq, "batch": batch}, spec.module_class("GRUByHand")(),
                                [torch.randn(seq, batch, 4), torch.randn(batch, 3)])


# -- einsum: torch's contraction (permutes, sums, bmm of reshaped operands or their copies) -----

def _einsum_measured(equation: str, tensors: list, grads: list[bool], strided: list) -> int:
    """The storages torch's einsum saves, besides those the Sigmoid before each operand that
    needs a gradient already keeps (its result); ``strided`` makes each operand from it."""
    leaves = [t.clone().requires_grad_(g) for t, g in zip(tensors, grads)]
    results = [t.sigmoid() for t in leaves]
    recorder = SavedStorages()
    recorder.exclude |= {_key(r) for r, g in zip(results, grads) if g}
    with recorder.recording():
        torch.einsum(equation, *[f(r) for f, r in zip(strided, results)])
    return recorder.total


def _einsum_stated(equation: str, types: list[str], stages: list[str], grads: list[bool]):
    """The einsum's own saved bytes in a network that runs each operand through a Sigmoid and
    ``stages`` first (None: unknown)."""
    decls = "".join(f"    input x{k}: {t}\n" for k, t in enumerate(types))
    pre = "".join(f"    v{k} = x{k} -> Sigmoid{s}\n" for k, s in enumerate(stages))
    others = "".join(f", v{k}" for k in range(1, len(types)))
    text = f'network K {{\n{decls}{pre}    out = v0 -> einsum("{equation}"{others})\n    output out\n}}\n'
    result = check_text(text, "einsum.net")
    assert not result.reporter.errors, [d.message for d in result.reporter.errors]
    (net,) = result.networks
    return net, training_pass(net, tuple(grads)).per_node[id(net.nodes[-1])]


def _transposed(i: int, j: int):
    return lambda t: t.transpose(i, j)


def _same(t):
    return t


# (equation, the operands' shapes, which are transposed (dims) after their Sigmoid): broadcast,
# repeated and summed-out subscripts, an ellipsis, one and two operands, strided operands
EINSUMS = [
    ("ij,jk->ik", [(3, 5), (5, 4)], [None, None]),
    ("ij,jk->ik", [(3, 5), (5, 4)], [(0, 1), None]),
    ("ij,jk->ki", [(3, 5), (5, 4)], [None, (0, 1)]),
    ("bhqd,bhkd->bhqk", [(2, 3, 4, 5), (2, 3, 6, 5)], [None, None]),
    ("bhqd,bhkd->bhqk", [(2, 3, 4, 5), (2, 3, 6, 5)], [(1, 2), None]),
    ("bij,bjk->bik", [(1, 3, 5), (2, 5, 4)], [None, None]),
    ("ij,ij->ij", [(3, 4), (1, 4)], [None, None]),
    ("i,j->ij", [(5,), (4,)], [None, None]),
    ("ii,ij->j", [(3, 3), (3, 4)], [None, None]),
    ("iij,jk->ik", [(3, 3, 4), (4, 2)], [None, None]),
    ("ij,k->i", [(3, 4), (5,)], [None, None]),
    ("ijk,jl->il", [(3, 4, 5), (4, 2)], [None, None]),
    ("...ij,...jk->...ik", [(2, 3, 5), (5, 4)], [None, None]),
    ("...ij,...jk", [(2, 1, 3, 5), (4, 5, 6)], [None, None]),
    ("...i,...i->...", [(2, 3, 4), (3, 4)], [None, None]),
    ("b...d,b...e->bde", [(2, 3, 4, 5), (2, 3, 4, 6)], [(1, 2), None]),
    ("Ab,bA", [(3, 4), (4, 3)], [None, (0, 1)]),
    ("ij->ji", [(3, 4)], [None]),
    ("ii->i", [(3, 3)], [None]),
    ("ijk->", [(2, 3, 4)], [(0, 2)]),
]


@pytest.mark.parametrize("grads", [(True, True), (True, False), (False, True)])
@pytest.mark.parametrize("equation,shapes,transposes", EINSUMS, ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in EINSUMS])
def test_einsum_saved_bytes_match_torch(equation, shapes, transposes, grads):
    grads = list(grads[:len(shapes)])
    if not any(grads):
        pytest.skip("nothing needs a gradient: autograd records nothing")
    types, stages, strided = [], [], []
    for shape, t in zip(shapes, transposes):
        before = list(shape)
        if t is not None:  # declared with the two dims swapped, so that the transpose gives `shape`
            before[t[0]], before[t[1]] = before[t[1]], before[t[0]]
        types.append(f"float32[{', '.join(map(str, before))}]")
        stages.append(f" -> transpose({t[0]}, {t[1]})" if t is not None else "")
        strided.append(_transposed(*t) if t is not None else _same)
    _, stated = _einsum_stated(equation, types, stages, grads)
    torch.manual_seed(0)
    tensors = [hand.random_input(*_parsed(t)) for t in types]
    assert stated == _einsum_measured(equation, tensors, grads, strided)


# (equation, the operands' dims in symbols): stated in the symbols, right at each value of
# them, 1 included (where torch's path changes: a dim of 1 is no longer contracted by bmm)
SYMBOLIC_EINSUMS = [
    ("bhqd,bhkd->bhqk", ["batch, 4, seq, 8", "batch, 4, seq, 8"]),
    ("bhqk,bhkd->bhqd", ["batch, 2, seq, seq", "batch, 2, seq, 3"]),
    ("...ij,...kj->...ik", ["batch, seq, 8", "batch, seq, 8"]),
    ("ij,jk->ik", ["batch, n", "n, 5"]),
    ("bi,bj->bij", ["batch, 3", "batch, 4"]),
    ("bnd,de->bne", ["batch, seq, 8", "8, 6"]),
    ("bnd,bnd->bn", ["batch, seq, 4", "batch, seq, 4"]),
]


@pytest.mark.parametrize("grads", [(True, True), (False, True)])
@pytest.mark.parametrize("equation,dims", SYMBOLIC_EINSUMS, ids=[c[0] for c in SYMBOLIC_EINSUMS])
def test_einsum_saved_bytes_in_symbols_match_torch(equation, dims, grads):
    from netspec.dims import evaluate

    _, stated = _einsum_stated(equation, [f"float32[{d}]" for d in dims], ["", ""], list(grads))
    assert stated is not None, equation
    for values in [(1, 1, 1), (1, 3, 2), (2, 1, 3), (3, 4, 1)]:
        env = dict(zip(("batch", "seq", "n"), values))
        shapes = [tuple(env[d] if d in env else int(d) for d in t.split(", ")) for t in dims]
        tensors = [torch.randn(*s) for s in shapes]
        assert evaluate(stated, env) == _einsum_measured(equation, tensors, list(grads), [_same, _same]), env


def _random_einsum(rng) -> tuple[str, list[list[int]], list]:
    """An equation torch may accept: one to three operands of up to three subscripts (repeats
    and sizes of 1 among them), sometimes an ellipsis, an explicit or implicit output; each
    operand's shape as declared, and the dims transposed to make it (or None)."""
    sizes = {lab: rng.choice([1, 2, 3, 4]) for lab in "abcdeA"}
    ellipsis = [rng.choice([1, 2, 3]) for _ in range(rng.randint(0, 2))] if rng.random() < 0.3 else None
    terms, shapes = [], []
    for _ in range(rng.choice([1, 2, 2, 2, 3])):
        labels = [rng.choice("abcdeA") for _ in range(rng.randint(0, 3))]
        shape = [sizes[lab] if rng.random() > 0.15 else 1 for lab in labels]
        for i, lab in enumerate(labels):  # a repeated subscript takes a diagonal: equal sizes
            shape[i] = shape[labels.index(lab)]
        term = "".join(labels)
        if ellipsis is not None and rng.random() < 0.8:
            width, at = rng.randint(0, len(ellipsis)), rng.randint(0, len(labels))
            term = term[:at] + "..." + term[at:]
            shape = shape[:at] + [d if rng.random() > 0.2 else 1 for d in ellipsis[len(ellipsis) - width:]] + shape[at:]
        terms.append(term)
        shapes.append(shape)
    equation = ",".join(terms)
    if rng.random() < 0.7:
        out = [lab for lab in dict.fromkeys(c for t in terms for c in t if c != ".") if rng.random() < 0.5]
        rng.shuffle(out)
        text = "".join(out)
        if "..." in equation and rng.random() < 0.7:
            at = rng.randint(0, len(text))
            text = text[:at] + "..." + text[at:]
        equation += "->" + text
    strided = []
    for shape in shapes:  # some operands transposed after their Sigmoid: declared with the dims swapped
        if len(shape) >= 2 and rng.random() < 0.4:
            i, j = sorted(rng.sample(range(len(shape)), 2))
            shape[i], shape[j] = shape[j], shape[i]
            strided.append((i, j))
        else:
            strided.append(None)
    return equation, shapes, strided


EINSUM_SEEDS = int(os.environ.get("NETSPEC_EINSUM_SEEDS", "40"))


@pytest.mark.parametrize("seed", range(EINSUM_SEEDS))
def test_random_einsum_saved_bytes_match_torch(seed):
    """Random equations (NETSPEC_EINSUM_SEEDS=N runs more), operands strided or not, each
    needing a gradient or not: one or two operands stated and right, three unknown."""
    import random

    rng = random.Random(seed)
    for _ in range(50):  # the first equation torch accepts
        equation, shapes, transposes = _random_einsum(rng)
        try:
            torch.einsum(equation, *[torch.empty(s).transpose(*t) if t else torch.empty(s)
                                     for s, t in zip(shapes, transposes)])
            break
        except RuntimeError:
            continue
    else:
        pytest.skip("no equation torch accepts")
    grads = [rng.random() < 0.6 for _ in shapes]
    grads[0] = grads[0] or not any(grads)
    types = [f"float32[{', '.join(map(str, s))}]" for s in shapes]
    stages = [f" -> transpose({t[0]}, {t[1]})" if t else "" for t in transposes]
    _, stated = _einsum_stated(equation, types, stages, grads)
    if len(shapes) >= 3:
        assert stated is None, equation
        return
    torch.manual_seed(seed)
    tensors = [torch.randn(list(s)) for s in shapes]
    strided = [_transposed(*t) if t else _same for t in transposes]
    assert stated == _einsum_measured(equation, tensors, grads, strided), (equation, shapes, transposes, grads)


# an einsum of one operand that keeps every subscript is a view: what reads it next sees its
# strides (a Linear folds a transposed input with a copy, but at batch 1 with a view of the
# Sigmoid's result, which the Sigmoid keeps already: no formula holds at every batch, unknown)
EINSUM_VIEWS = [("einsum(\"bij->bji\") -> Linear(3)", False), ("einsum(\"bii->bi\") -> Linear(2)", True),
                ("einsum(\"bi...->b...i\") -> Linear(3)", False), ("einsum(\"bij->bij\") -> Linear(3)", True)]


@pytest.mark.parametrize("chain,known", EINSUM_VIEWS, ids=[c[0] for c in EINSUM_VIEWS])
def test_einsum_view_training_memory_matches_torch(chain, known):
    from netspec import api

    text = f"network K {{\n    input x: float32[batch, 3, 3]\n    y = x -> Linear(3) -> Sigmoid -> {chain}\n    output y\n}}\n"
    spec = api.loads(text, file="k.net")
    net = spec.network("K")
    assert (network_training(net, "adam").saved_bytes is not None) == known
    measured = {}
    for batch in (1, 2, 3):
        torch.manual_seed(batch)
        model, x = spec.module_class("K")(), torch.randn(batch, 3, 3)
        measured[batch] = measured_training(model, [x])[0].total
        if known:
            assert_training_matches(net, {"batch": batch}, model, [x])
    if not known:  # torch's bytes are not one polynomial of degree 1 in batch: truly unknown
        assert measured[3] - measured[2] != measured[2] - measured[1]


# -- a size that may be 1: torch views where it copies at other sizes ----------------------------
# A stated formula holds at every value of its symbols: each chain runs at every symbol 1, 2
# and 3 (torch reshapes a [1, a, b] transposed tensor as a view, one of [2, a, b] as a copy).
# ``known``: whether the saved bytes are stated (else unknown, never wrong).

SYMBOLIC = [
    ("float32[batch, 5, seq]", "", 'einsum("bij->bji") -> Linear(4)', True),
    ("float32[batch, seq, 5]", "", "transpose(0, 1) -> Linear(4)", True),
    ("float32[batch, seq, 5]", "", "transpose(0, 1) -> flatten(0, 1) -> Linear(4)", False),
    ("float32[seq, batch, 5]", "", "transpose(0, 1) -> RNN(6, batch_first=true)", True),
    ("float32[batch, seq, 5]", "", "RNN(6, batch_first=true) -> Linear(4)", True),
    # oneDNN's LSTM copies a strided input once, not once a direction: the same bytes at batch 1
    ("float32[batch, seq, 5]", "", "Linear(5) -> LSTM(6, batch_first=true, bidirectional=true)", True),
    ("float32[batch, seq, 5]", "", "MultiheadAttention(1, batch_first=true) -> Linear(4)", True),
    # a two-operand einsum's result is a permuted view of its product: unknown strides
    ("float32[batch, seq, 5]", "w: float32[5, 4]", 'einsum("bij,jk->bik", w) -> Linear(3)', False),
    ("float32[batch, seq, 5]", "w: float32[5, 4]", 'einsum("bij,jk->bik", w) -> flatten(1) -> Sigmoid', True),
]


def _symbolic_spec(x_type: str, other: str, chain: str) -> str:
    inputs = f"    input x: {x_type}\n" + (f"    input {other}\n" if other else "")
    return f"network K {{\n{inputs}    y = x -> {chain}\n    output y\n}}\n"


def _run_symbolic(text: str, expect_stated: bool | None, symbols=("batch", "seq")) -> None:
    from itertools import product

    from netspec import api
    from netspec.dims import evaluate

    spec = api.loads(text, file="k.net")
    net = spec.network("K")
    stated = network_training(net, "adam").saved_bytes
    if expect_stated is not None:
        assert (stated is not None) == expect_stated, stated
    for values in product((1, 2, 3), repeat=len(symbols)):
        env = dict(zip(symbols, values))
        torch.manual_seed(0)
        model = spec.module_class("K")()
        inputs = [hand.random_input(*hand.concrete(net, v.tensor, env)) for v in net.inputs]
        recorder, _, _ = measured_training(model, inputs)
        if stated is not None:
            assert evaluate(stated, env) == recorder.total, (env, sorted(recorder.storages.values()))


@pytest.mark.parametrize("x_type,other,chain,known", SYMBOLIC, ids=[c[2] for c in SYMBOLIC])
def test_formula_holds_where_a_size_is_1(x_type, other, chain, known):
    _run_symbolic(_symbolic_spec(x_type, other, chain), known)


def test_storage_viewed_at_1_and_copied_at_2_saved_twice_is_unknown():
    """Two Linear layers read one transposed input: at batch 1 both save the input itself (one
    storage), at 2 each its own copy; no one formula holds, so it is unknown."""
    text = ("network K {\n    input x: float32[batch, seq, 5]\n    t = x -> transpose(0, 1)\n"
            "    y = (t -> Linear(4)) + (t -> Linear(4))\n    output y\n}\n")
    _run_symbolic(text, False)


@pytest.mark.parametrize("seed", range(12))
def test_random_einsum_then_fold_training_memory_matches_torch(seed):
    """A two-operand einsum's result is a permuted view of its product: a layer after it that
    folds it (Linear, flatten then Linear) is stated only where that is proven, and then
    matches what saved_tensors_hooks sees at batch 1, 2 and 3."""
    import random

    rng = random.Random(seed)
    out = "".join(rng.sample("bik", 3))
    equation = rng.choice(["bij,jk->", "bji,jk->", "bij,kj->"]) + out
    x_type = "float32[batch, 5, 3]" if equation.startswith("bji") else "float32[batch, 3, 5]"
    w_type = "float32[4, 5]" if ",kj" in equation else "float32[5, 4]"
    chains = ["Linear(2)", "Sigmoid -> Linear(2)"] if out[-1] != "b" else []
    chains += ["flatten(1) -> Linear(2)"] if out[0] == "b" else ["flatten(0, 1) -> Linear(2)"] if out[-1] != "b" else []
    chains = chains or ["transpose(1, 2) -> Linear(2)"]
    chain = f'einsum("{equation}", w) -> {rng.choice(chains)}'
    _run_symbolic(_symbolic_spec(x_type, f"w: {w_type}", chain), None, ("batch",))


@pytest.mark.parametrize("stage", ["GRU(6, batch_first=true, bidirectional=true)",
                                   "RNN(6, batch_first=true, bidirectional=true)"])
def test_bidirectional_batch_first_fold_is_unknown_and_truly_differs_at_batch_1(stage):
    """A bidirectional layer over a batch-first input copies it once a direction, but at batch 1
    the transposed input folds as a view: torch keeps it once. No formula in batch holds."""
    from netspec import api

    text = f"network K {{\n    input x: float32[batch, 4, 5]\n    y = x -> Linear(5) -> {stage}\n    output y\n}}\n"
    spec = api.loads(text, file="k.net")
    net = spec.network("K")
    assert network_training(net, "adam").saved_bytes is None
    assert training_pass(net).unsure
    measured = {}
    for batch in (1, 2, 3):
        torch.manual_seed(batch)
        model = spec.module_class("K")()
        measured[batch] = measured_training(model, [torch.randn(batch, 4, 5)])[0].total
    assert measured[3] - measured[2] != measured[2] - measured[1], measured
