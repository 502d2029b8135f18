"""Static costs (docs/costs.md) against what torch counts and allocates.

FLOPs are compared with ``torch.utils.flop_counter.FlopCounterMode`` on a real forward
pass. On the CPU, torch runs a float32 ``nn.LSTM`` through one fused oneDNN kernel that
the counter cannot look into (it counts 0); for such a recurrent module, and only where
the counter saw nothing inside it, the measurement adds the gate-matmul count written
below from the module's own weights (every weight matrix takes part in one
multiply-accumulate per element per step). Where the counter does see a recurrent
module's matmuls, that count is checked against the same formula, and one test turns
oneDNN off to show the counter and the formula agree on LSTMs too. Attention is counted on
torch's math path (``attention_math``: no fused fast path, scaled_dot_product_attention's
math backend), the path training takes; a test shows what the fused paths hide.

Activation bytes are compared with the bytes of the tensors that the layers of a real
forward pass return, recorded with forward hooks on every torch layer (a leaf module of
torch.nn) and, for ops that have no module (``cat``, ``add``, ``permute`` ...), with a
function mode that sees every torch call the forward makes outside a torch layer (the
zero ``c0`` a built module makes for an LSTM given ``h0`` alone is not a result; torch's composite
layers, MultiheadAttention and the transformers, count as one layer). A result counts when it does not
share storage with an input of its call; the one exception is what docs/costs.md defines
as a view although torch may copy: ``reshape``/``view``/``flatten`` of an input that is
not contiguous. The dropouts run in training mode (their eval-mode result is their input).
"""

from __future__ import annotations

import ast as pyast
import json
import math
import os
import re
from contextlib import contextmanager

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
import test_specs_torch as hand  # noqa: E402
from test_kinds_torch import EXAMPLES, example_spec, example_tensors, flat, parse_type, random_tensor  # noqa: E402
from test_kinds_torch import stage_call as torch_stage_call  # noqa: E402
from torch.overrides import TorchFunctionMode  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from netspec.checker import check_text  # noqa: E402
from netspec.costs import bind, declared_costs, human, human_bytes, human_flops, layer_costs, network_costs  # noqa: E402

# -- measuring torch ----------------------------------------------------------------------------

RECURRENT = (nn.RNNBase, nn.RNNCellBase)
# torch documents these as views that copy when their input is not contiguous; docs/costs.md
# counts them as views whatever the layout
MAY_COPY = {"reshape", "view", "flatten", "Flatten"}
# and this one as a copy, although torch returns an input that is already contiguous
COPIES = {"contiguous"}
# the zero c0 a built module makes for an LSTM given h0 alone: an initial state, not a
# layer's result (torch makes the same zeros inside the layer when no state is given)
STATE_ZEROS = {"new_zeros", "zeros", "zeros_like"}


def gate_matmul_flops(module: nn.Module, x) -> int:
    """FLOPs of a recurrent layer or cell, from torch's equations: at every step (each
    element of the input but the features), for each direction and layer, every weight
    matrix (W_ih, W_hh and an LSTM's projection W_hr) is one matrix-vector product."""
    steps = math.prod(x.shape[:-1])
    weights = sum(p.numel() for name, p in module.named_parameters() if name.startswith("weight"))
    return 2 * steps * weights


# torch modules that a netspec kind builds as one layer although they hold others: their
# results are the layer's, what they make inside is not counted (as inside an LSTM)
COMPOSITE = (nn.MultiheadAttention, nn.TransformerEncoderLayer, nn.TransformerDecoderLayer, nn.TransformerEncoder,
             nn.TransformerDecoder, nn.Transformer)
# the layers netspec knows that torch.nn lacks: torchvision's StochasticDepth, LayerNorm2d and
# Permute, or the classes of those names a built module defines; StochasticDepth is a layer
# like torch.nn's dropouts, that acts in training only
OUTSIDE_NN = {"StochasticDepth", "LayerNorm2d", "Permute"}


def _is_layer(m: nn.Module) -> bool:
    """A torch layer (nn.Linear, nn.LSTM, ...): a leaf module of torch.nn itself, one of
    torch's composite layers, or one of OUTSIDE_NN. Modules that a model defines (a built
    block, a model without layers) are code around layers."""
    if isinstance(m, COMPOSITE):
        return True
    torch_layer = type(m).__module__.startswith("torch.nn.") or type(m).__name__ in OUTSIDE_NN
    return torch_layer and next(m.children(), None) is None


@contextmanager
def attention_math():
    """Attention on torch's math path, the one whose matmuls FlopCounterMode counts (docs/costs.md):
    without the fused fast path that eval mode under no_grad may take, and with
    scaled_dot_product_attention's math backend (on the CPU its fused kernel, which
    MultiheadAttention uses with need_weights=false, is not counted)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    was = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with sdpa_kernel(SDPBackend.MATH):
            yield
    finally:
        torch.backends.mha.set_fastpath_enabled(was)


@contextmanager
def _global_hooks(pre, post):
    from torch.nn.modules.module import register_module_forward_hook, register_module_forward_pre_hook

    handles = [register_module_forward_pre_hook(pre), register_module_forward_hook(post)]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


class Flops:
    """FlopCounterMode's total of one call, plus the gate matmuls of fused recurrent modules."""

    def __init__(self):
        self.counted = 0
        self.fused: list[str] = []  # the recurrent modules the counter could not see into
        self.seen: list[tuple[str, int, int]] = []  # (module, counted, formula) where it could

    def run(self, call):
        stack = []
        with attention_math(), FlopCounterMode(display=False) as counter:
            def pre(m, args):
                if isinstance(m, RECURRENT):
                    stack.append(counter.get_total_flops())

            def post(m, args, out):
                if isinstance(m, RECURRENT):
                    counted = counter.get_total_flops() - stack.pop()
                    formula = gate_matmul_flops(m, args[0])
                    if counted == 0:
                        self.fused.append(type(m).__name__)
                        self.counted += formula
                    else:
                        self.seen.append((type(m).__name__, counted, formula))

            with _global_hooks(pre, post):
                result = call()
        self.counted += counter.get_total_flops()
        return result


def _storage(t) -> int:
    return t.untyped_storage().data_ptr()


class Allocations(TorchFunctionMode):
    """Bytes of the results of every torch layer and every torch call outside one."""

    def __init__(self):
        super().__init__()
        self.depth = 0
        self.calls: list[tuple[str, int]] = []  # (what, bytes it allocated for its results)

    def record(self, what: str, out, ins) -> None:
        outs = [t for t in flat(out) if isinstance(t, torch.Tensor)]
        if not outs or what in STATE_ZEROS:
            return
        tensors = [t for t in flat(list(ins)) if isinstance(t, torch.Tensor)]
        shared = {_storage(t) for t in tensors}
        contiguous = all(t.is_contiguous() for t in tensors)
        new = 0
        for t in outs:
            if (_storage(t) in shared and what not in COPIES) or (what in MAY_COPY and not contiguous):
                continue
            new += t.numel() * t.element_size()
        self.calls.append((what, new))

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if self.depth == 0:
            self.record(getattr(func, "__name__", str(func)), out, list(args) + list(kwargs.values()))
        return out

    @property
    def total(self) -> int:
        return sum(b for _, b in self.calls)

    def run(self, call):
        def pre(m, args):
            if _is_layer(m):
                self.depth += 1

        def post(m, args, out):
            if _is_layer(m):
                self.depth -= 1
                if self.depth == 0:  # not a layer inside a composite one
                    self.record(type(m).__name__, out, args)

        with _global_hooks(pre, post), self:
            return call()


@contextmanager
def dropout_training():
    """The dropouts as in training (they allocate their results): nn.Dropout, Dropout1d/2d/3d,
    AlphaDropout and StochasticDepth; everything else as it was."""
    from torch.nn.modules.module import register_module_forward_pre_hook

    def pre(m, args):
        if isinstance(m, nn.modules.dropout._DropoutNd) or type(m).__name__ == "StochasticDepth":
            m.train()

    handle = register_module_forward_pre_hook(pre)
    try:
        yield
    finally:
        handle.remove()


# -- every worked example of every kind ---------------------------------------------------------

def stage_call(text: str, env: dict):
    """The example's torch module (or None for an op) and a call that runs it on env's tensors
    (the independent translation of tests/test_kinds_torch.py)."""
    return torch_stage_call(text, env.get("x"), env)


def checked_example(kind, ex):
    text, stage, types = example_spec(kind, ex)
    result = check_text(text, "kind.net")
    assert not result.reporter.errors, [d.message for d in result.reporter.errors]
    (net,) = result.networks
    return net, net.nodes[-1], stage, types


@pytest.mark.parametrize("kind,index,ex", EXAMPLES, ids=[f"{k.name}-{i}" for k, i, _ in EXAMPLES])
def test_example_costs_match_torch(kind, index, ex):
    net, node, stage, types = checked_example(kind, ex)
    stated = layer_costs(net, node)
    assert all(isinstance(v, int) for v in stated.values()), stated

    torch.manual_seed(0)
    env = example_tensors(types)
    module, call = stage_call(stage, env)

    flops = Flops()
    flops.run(call)
    assert stated.flops == flops.counted, (stage, flops.fused, flops.seen)
    for name, counted, formula in flops.seen:  # the formula itself, where the counter sees inside
        assert counted == formula, (name, counted, formula)
    if module is not None and not isinstance(module, RECURRENT):
        assert not flops.fused

    alloc = Allocations()
    with dropout_training():
        alloc.run(call)
    assert stated.activation_bytes == alloc.total, (stage, alloc.calls)

    param_bytes = sum(p.numel() * p.element_size() for p in module.parameters()) if module else 0
    assert stated.param_bytes == param_bytes


def test_examples_cover_flops_and_views():
    """The examples exercise what makes the counts differ: every kind with FLOPs has some,
    and views, in-place layers and fused recurrent layers all occur."""
    with_flops = set()
    aliasing = set()
    for kind, _, ex in EXAMPLES:
        net, node, _, _ = checked_example(kind, ex)
        c = layer_costs(net, node)
        if c.flops:
            with_flops.add(kind.name)
        if c.activation_bytes == 0:
            aliasing.add(kind.name)
    assert {"Linear", "Conv1d", "Conv2d", "RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell",
            "matmul", "bmm", "einsum"} <= with_flops
    assert {"permute", "transpose", "reshape", "flatten", "Flatten", "select", "squeeze", "unsqueeze",
            "ReLU", "Dropout", "expand", "narrow", "getitem", "split", "chunk", "einsum", "float", "to"} <= aliasing


@pytest.mark.parametrize("stage,input_type", [
    ("LSTM(100, bidirectional=true)", "float32[28, 2, 28]"),
    ("LSTM(12, 2, dropout=0.5)", "float32[30, 4, 30]"),
    ("LSTM(7, num_layers=2, batch_first=true)", "float32[3, 5, 4]"),
    ("LSTM(6)", "float32[5, 3]"),
])
def test_fused_lstm_counts_match_unfused(stage, input_type):
    """The fused CPU LSTM that the counter cannot see into: with oneDNN off, torch runs the
    same LSTM as separate matmuls, and the counter's total equals the stated FLOPs."""
    text = f"network K {{\n    input x: {input_type}\n    out = x -> {stage}\n    output out\n}}\n"
    result = check_text(text, "k.net")
    assert not result.reporter.errors
    (net,) = result.networks
    torch.manual_seed(0)
    x = random_tensor(*parse_type(input_type))
    module, call = stage_call(stage, {"x": x})
    fused = Flops()
    fused.run(call)
    if not fused.fused:
        pytest.skip("this torch build does not fuse the LSTM on the CPU")
    with torch.backends.mkldnn.flags(enabled=False):
        plain = Flops()
        plain.run(call)
    assert not plain.fused
    assert layer_costs(net, net.nodes[-1]).flops == plain.counted == fused.counted


@pytest.mark.parametrize("stage,input_type", [
    ("TransformerEncoderLayer(2, 16, batch_first=true)", "float32[3, 5, 8]"),
    ("MultiheadAttention(2, batch_first=true)", "float32[3, 5, 8]"),
    ("MultiheadAttention(2, need_weights=false)", "float32[5, 3, 8]"),
])
def test_attention_fast_paths_hide_what_the_math_path_counts(stage, input_type):
    """In eval mode under no_grad torch may run attention through a fused kernel
    (torch._transformer_encoder_layer_fwd, torch._native_multi_head_attention, the CPU's
    fused scaled_dot_product_attention) whose matmuls FlopCounterMode does not see; on the
    math path (attention_math), as in training, the counter's total is the stated FLOPs."""
    text = f"network K {{\n    input x: {input_type}\n    out = x -> {stage}\n    output out\n}}\n"
    result = check_text(text, "k.net")
    assert not result.reporter.errors
    (net,) = result.networks
    stated = layer_costs(net, net.nodes[-1]).flops
    torch.manual_seed(0)
    module, call = stage_call(stage, {"x": random_tensor(*parse_type(input_type))})
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        call()
    if counter.get_total_flops() == stated:
        pytest.skip("this torch build takes no fused path here")
    assert counter.get_total_flops() < stated
    with torch.no_grad():
        flops = Flops()
        flops.run(call)
    assert flops.counted == stated


# -- every spec, against the hand-written models of tests/test_specs_torch.py -------------------

def measure(model: nn.Module, inputs: list) -> tuple[Flops, Allocations]:
    flops = Flops()
    with torch.no_grad():
        flops.run(lambda: model(*inputs))
        alloc = Allocations()
        with dropout_training():
            alloc.run(lambda: model(*inputs))
    return flops, alloc


def assert_costs_match(net, env: dict, model: nn.Module, inputs: list) -> None:
    stated = network_costs(net, env)
    flops, alloc = measure(model, inputs)
    assert stated.flops == flops.counted, (flops.fused, flops.seen)
    for name, counted, formula in flops.seen:
        assert counted == formula, (name, counted, formula)
    assert stated.activation_bytes == alloc.total, alloc.calls
    assert stated.param_bytes == sum(p.numel() * p.element_size() for p in model.parameters())
    # the network's cost is the sum of its layers', and of its declared params (`param`)
    declared = declared_costs(net).map(lambda d: bind(net.dim(d), env))
    for field in ("flops", "param_bytes", "activation_bytes"):
        assert getattr(stated, field) == \
            getattr(declared, field) + sum(getattr(layer_costs(net, n, env), field) for n in net.nodes)


@pytest.mark.parametrize("stem", sorted(hand.MODELS))
def test_spec_costs_match_hand_written_model(stem):
    name, cls = hand.MODELS[stem]
    net = hand.checked(stem, name)
    env = hand.env_for(stem)
    torch.manual_seed(0)
    model = cls().eval()
    inputs = [hand.random_input(*hand.concrete(net, v.tensor, env)) for v in net.inputs]
    assert_costs_match(net, env, model, inputs)


@pytest.mark.parametrize("stem", ["charrnn", "bilstm", "gru", "lstm_state", "lenet"])
def test_spec_cost_formulas_hold_for_other_symbol_values(stem):
    name, cls = hand.MODELS[stem]
    net = hand.checked(stem, name)
    for env in ({"batch": 1, "seq": 1}, {"batch": 5, "seq": 11}):
        torch.manual_seed(0)
        model = cls().eval()
        inputs = [hand.random_input(*hand.concrete(net, v.tensor, env)) for v in net.inputs]
        assert_costs_match(net, env, model, inputs)


# -- the JSON fields ----------------------------------------------------------------------------

FORMULA = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def formula_value(value, env: dict) -> int:
    """A cost from the JSON: an int, or a Python integer expression over symbol names."""
    if isinstance(value, int):
        return value
    assert isinstance(value, str), value
    tree = pyast.parse(value, mode="eval")
    for node in pyast.walk(tree):
        assert isinstance(node, (pyast.Expression, pyast.BinOp, pyast.UnaryOp, pyast.Constant, pyast.Name,
                                 pyast.Load, pyast.Add, pyast.Sub, pyast.Mult, pyast.FloorDiv, pyast.USub)), \
            (value, type(node).__name__)
        if isinstance(node, pyast.Name):
            assert FORMULA.match(node.id) and node.id in env, (value, node.id)
        if isinstance(node, pyast.Constant):
            assert isinstance(node.value, int)
    return eval(compile(tree, "<cost>", "eval"), {"__builtins__": {}}, dict(env))


def check_json(capsys, *args) -> tuple[int, dict]:
    from netspec.cli import main

    code = main(["check", "--json", *map(str, args)])
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("stem", sorted(hand.MODELS))
def test_json_costs_evaluate_to_what_torch_measures(stem, capsys):
    """The JSON's formulas, evaluated by Python with the symbols given values, equal torch's
    counts on the hand-written model (the large classics: the costs that the tests above
    measured); each network's cost is the sum of its layers'."""
    name, cls = hand.MODELS[stem]
    code, out = check_json(capsys, hand.SPECS / f"{stem}.net")
    assert code == 0
    (doc,) = [n for n in out["networks"] if n["name"] == name]
    env = hand.env_for(stem)
    for layer in doc["layers"]:
        for field in ("flops", "param_bytes", "activation_bytes"):
            assert field in layer and isinstance(layer[field], (int, str)), layer
    values = {f: formula_value(doc[f], env) for f in ("flops", "param_bytes", "activation_bytes")}
    for f, total in values.items():
        assert total == sum(formula_value(layer[f], env) for layer in doc["layers"]), f

    net = hand.checked(stem, name)
    assert values == dict(zip(("flops", "param_bytes", "activation_bytes"), network_costs(net, env).values()))
    if stem not in hand.BIG:
        torch.manual_seed(0)
        model = cls().eval()
        inputs = [hand.random_input(*hand.concrete(net, v.tensor, env)) for v in net.inputs]
        flops, alloc = measure(model, inputs)
        assert values["flops"] == flops.counted
        assert values["activation_bytes"] == alloc.total
        assert values["param_bytes"] == sum(p.numel() * p.element_size() for p in model.parameters())

    # --dim gives the symbols values: every cost and every shape becomes that number
    dims = [f"--dim={k}={v}" for k, v in env.items() if any(k in str(doc[f]) for f in values)
            or any(k in json.dumps(i["shape"]) for i in doc["inputs"])]
    code, bound = check_json(capsys, hand.SPECS / f"{stem}.net", *dims)
    assert code == 0
    (bdoc,) = [n for n in bound["networks"] if n["name"] == name]
    assert {f: bdoc[f] for f in values} == values
    for layer, blayer in zip(doc["layers"], bdoc["layers"]):
        for f in values:
            assert blayer[f] == formula_value(layer[f], env)
        for o, bo in zip(layer["outputs"], blayer["outputs"]):
            assert bo["shape"] == [formula_value(d, env) for d in o["shape"]]


def test_json_costs_of_a_generic_block_name_its_parameters(capsys):
    code, out = check_json(capsys, hand.SPECS / "resnet18.net")
    assert code == 0
    block = next(n for n in out["networks"] if n["name"] == "BasicBlock")
    # two 3x3 convs of planes -> planes channels over [batch, planes, h, w]: 2 * 9 * planes**2 MACs a pixel
    env = {"batch": 2, "planes": 3, "h": 5, "w": 4}
    assert formula_value(block["flops"], env) == 2 * 2 * (9 * 3 * 3) * 2 * 5 * 4
    assert formula_value(block["param_bytes"], env) == 4 * (2 * 9 * 3 * 3 + 2 * 2 * 3)


def test_json_costs_are_null_where_a_layer_is_not_inferred(capsys):
    code, out = check_json(capsys, hand.SPECS / "oops.net")
    assert code == 1
    (doc,) = out["networks"]
    kinds = {layer["kind"]: layer for layer in doc["layers"]}
    assert kinds["Embedding"]["flops"] == 0 and isinstance(kinds["Embedding"]["activation_bytes"], str)
    assert kinds["LSTM"]["flops"] is None and kinds["Linear"]["activation_bytes"] is None
    assert doc["flops"] is None and doc["param_bytes"] is None and doc["activation_bytes"] is None


# -- the table and the command line -------------------------------------------------------------

@pytest.mark.parametrize("n,text", [
    (0, "0 FLOPs"), (999, "999 FLOPs"), (1000, "1.0 kFLOPs"), (4_718_592, "4.7 MFLOPs"),
    (999_999, "1.0 MFLOPs"), (3_628_146_688, "3.6 GFLOPs"), (2 * 10**15, "2.0 PFLOPs"),
])
def test_human_flops(n, text):
    assert human_flops(n) == text


@pytest.mark.parametrize("n,text", [
    (0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (1_258_291, "1.2 MiB"),
    (1024**2 - 1, "1.0 MiB"), (553_430_176, "527.8 MiB"), (3 * 1024**4, "3.0 TiB"),
])
def test_human_bytes(n, text):
    assert human_bytes(n) == text


def test_human_formulas_scale_each_term():
    from netspec.dims import sym

    d = 4_358_144 * sym("batch") * sym("seq") + 268_288 * sym("batch")
    assert human(d, human_flops) == "4.4 MFLOPs * batch * seq + 268.3 kFLOPs * batch"
    assert human(2048 * sym("h") - 1024, human_bytes) == "2.0 KiB * h - 1.0 KiB"


@pytest.mark.parametrize("seq", [1, 2, 5, 8])
def test_human_formulas_read_as_python_mean_the_value(seq):
    """A term over a floor division reads, as Python would read it, as the value it states:
    `256 B * (seq // 2)`, never `256 B * seq // 2` (which is `(256 * seq) // 2`)."""
    from netspec.dims import evaluate, floordiv, sym

    for d in (256 * floordiv(sym("seq"), 2), 256 * floordiv(3 * sym("seq"), 2) * sym("seq")):
        text = human(d, human_bytes).replace(" B", "")
        assert eval(text, {"seq": seq}) == evaluate(d, {"seq": seq}), text


def test_costs_table(run_cli):
    r = run_cli("check", "--costs", "specs/lenet.net")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    head = next(line for line in lines if line.startswith("Layer"))
    assert re.search(r"Param #\s+FLOPs\s+Params size\s+Activations\s+Saved$", head), head
    conv = next(line for line in lines if line.startswith("Conv2d (logits) :6"))
    assert "235.2 kFLOPs * batch" in conv and "624 B" in conv
    assert "Total FLOPs: 833.0 kFLOPs * batch" in lines
    assert "Params size: 241.0 KiB (246,824)" in lines
    # without --costs the table keeps its three columns
    plain = run_cli("check", "specs/lenet.net").stdout
    assert "FLOPs" not in plain and "Total params: 61,706" in plain


def test_dim_turns_the_table_into_numbers(run_cli):
    """Totals with the symbols given values, against torch's count on the hand-written LeNet."""
    r = run_cli("check", "--costs", "--dim", "batch=2", "specs/lenet.net")
    assert r.returncode == 0, r.stderr
    total = next(line for line in r.stdout.splitlines() if line.startswith("Total FLOPs:"))
    exact = int(re.search(r"\(([\d,]+)\)", total).group(1).replace(",", ""))
    flops, alloc = measure(hand.LeNet().eval(), [torch.randn(2, 1, 28, 28)])
    assert exact == flops.counted
    acts = next(line for line in r.stdout.splitlines() if line.startswith("Activations:"))
    assert int(re.search(r"\(([\d,]+)\)", acts).group(1).replace(",", "")) == alloc.total
    assert "image (input)             float32[2, 1, 28, 28]" in r.stdout
    assert "batch" not in r.stdout


@pytest.mark.parametrize("args,message", [
    (["--dim", "bach=3", "specs/lenet.net"], "no input of the checked networks has a symbolic dim `bach`"),
    (["--dim", "batch=x", "specs/lenet.net"], "is not a positive integer"),
    (["--dim", "batch=0", "specs/lenet.net"], "is not a positive integer"),
    (["--dim", "batch", "specs/lenet.net"], "--dim expects NAME=INT"),
    (["--dim", "classes=3", "specs/keras_cnn.net"], "is a network parameter; give it with --set classes=3"),
])
def test_bad_dim_is_a_usage_error(run_cli, args, message):
    r = run_cli("check", *args)
    assert r.returncode == 2
    assert r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1 and message in r.stderr, r.stderr


def test_dim_that_leaves_no_output_is_a_usage_error(run_cli, tmp_path):
    spec = tmp_path / "conv.net"
    spec.write_text("network C {\n    input x: float[batch, 3, h, w]\n    y = x -> Conv2d(4, 5)\n    output y\n}\n")
    ok = run_cli("check", "--json", "--dim", "h=9", "--dim", "w=5", str(spec))
    assert ok.returncode == 0, ok.stderr
    (doc,) = json.loads(ok.stdout)["networks"]
    # a [batch, 4, 5, 1] result, 3 * 5 * 5 multiply-accumulates for each element
    assert doc["flops"] == f"{2 * (4 * 5 * 1) * (3 * 5 * 5)} * batch"
    assert doc["outputs"][0]["shape"] == ["batch", 4, 5, 1]
    bad = run_cli("check", "--dim", "h=3", str(spec))
    assert bad.returncode == 2
    assert "Conv2d (line 3) would have size -1" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


# -- dtypes -------------------------------------------------------------------------------------

@pytest.mark.parametrize("stage,input_type", [
    ("Linear(5)", "bfloat16[3, 4]"),
    ("Linear(5)", "float16[2, 3, 4]"),
    ("Conv2d(3, 3, padding=1)", "bfloat16[1, 2, 6, 6]"),
    ("Conv1d(4, 2)", "float64[2, 3, 7]"),
    ("LSTM(4, num_layers=2)", "bfloat16[5, 2, 3]"),
    ("LSTM(4, bidirectional=true)", "float64[5, 2, 3]"),
    ("GRU(4)", "float16[5, 2, 3]"),
    ("LSTMCell(4)", "float64[2, 3]"),
    ("LayerNorm", "float16[2, 3, 8]"),
    ("BatchNorm2d", "float64[2, 3, 4, 4]"),
    ("Embedding(10, 6)", "int32[2, 5]"),
    ("ReLU", "int64[3, 4]"),
    ("cat(x, dim=1)", "bfloat16[2, 3]"),
])
def test_costs_follow_the_dtype(stage, input_type):
    """Parameters take the input's float dtype (an Embedding's are float32), results their own."""
    text = f"network K {{\n    input x: {input_type}\n    out = x -> {stage}\n    output out\n}}\n"
    result = check_text(text, "k.net")
    assert not result.reporter.errors, [d.message for d in result.reporter.errors]
    (net,) = result.networks
    stated = network_costs(net)
    torch.manual_seed(0)
    x = random_tensor(*parse_type(input_type))
    if stage.startswith("cat"):  # x -> cat(x, dim=1)
        module, call = None, lambda: torch.cat([x, x], dim=1)
    else:
        module, call = stage_call(stage, {"x": x})
    flops, alloc = Flops(), Allocations()
    flops.run(call)
    with dropout_training():
        alloc.run(call)
    assert stated.flops == flops.counted
    assert stated.activation_bytes == alloc.total, alloc.calls
    assert stated.param_bytes == (sum(p.numel() * p.element_size() for p in module.parameters()) if module else 0)


# -- the modules netspec builds -----------------------------------------------------------------

def built(path, name: str, overrides=None):
    """The checked network and the class netspec generates for it (`netspec build`'s code)."""
    from netspec import api

    spec = api.load(path, overrides)
    return spec.network(name), spec.module_class(name)


@pytest.mark.parametrize("stem", sorted(hand.MODELS))
def test_spec_costs_match_the_built_module(stem):
    name, _ = hand.MODELS[stem]
    net, cls = built(hand.SPECS / f"{stem}.net", name)
    env = hand.env_for(stem)
    torch.manual_seed(0)
    model = cls().eval()
    inputs = [hand.random_input(*hand.concrete(net, v.tensor, env)) for v in net.inputs]
    assert_costs_match(net, env, model, inputs)


@pytest.mark.parametrize("stem", sorted(hand.HANDWRITTEN))
def test_handwritten_model_specs_costs_match_the_built_module(stem):
    """The specs tests/test_handwritten_models.py proves against hand-written modules (a
    U-Net, a Transformer text classifier, a Luong-attention seq2seq), at both of its symbol
    assignments."""
    import test_handwritten_models as handwritten

    net, cls = built(hand.SPECS / f"{stem}.net", None)
    for env, make in handwritten.CASES[stem][1]:
        torch.manual_seed(0)
        assert_costs_match(net, env, cls().eval(), make())


# -- random networks ----------------------------------------------------------------------------

RANDOM_SEEDS = int(os.environ.get("NETSPEC_COST_SEEDS", "40"))


@pytest.mark.parametrize("seed", range(RANDOM_SEEDS))
def test_random_network_costs_match_the_built_module(seed):
    """Random specs of tests/netgen.py (every layer and op, blocks, recurrent states), built by
    netspec and run at the generator's symbol values. NETSPEC_COST_SEEDS=N runs more."""
    import netgen


    case = netgen.sample(seed)
    spec = netgen.load_or_skip(case, f"random-{seed}.net")
    net = spec.network(case.root)
    torch.manual_seed(seed)
    # a layer whose size is an input's symbol takes the symbol's value as a constructor argument
    sizes = {kw: case.symbols[s] for s, kw in spec.class_info(case.root).symbols.items()}
    model = spec.module_class(case.root)(**sizes).eval()
    inputs = [hand.random_input(*hand.concrete(net, v.tensor, case.symbols)) for v in net.inputs]
    assert_costs_match(net, case.symbols, model, inputs)
