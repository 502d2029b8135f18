"""Every layer and op kind against real torch.

Each worked example of each kind (``Kind.examples``) becomes a one-network spec. The
checker's stated output shapes, dtypes and parameter count are compared with what torch
produces when the same stage text is translated *independently* (by this file, from the
spec text and torch's own constructor signatures) into a torch module or call and run
on a real tensor. Expected failures are checked the other way round: the checker reports
the error at the stage where torch raises.
"""

from __future__ import annotations

import ast as pyast
import re

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from netspec.dims import evaluate  # noqa: E402
from netspec.infer import check_text  # noqa: E402
from netspec.kinds import REGISTRY  # noqa: E402

KINDS = sorted({id(k): k for k in REGISTRY.values()}.values(), key=lambda k: k.name)
EXAMPLES = [(k, i, ex) for k in KINDS for i, ex in enumerate(k.examples)]

DTYPE = {"float32": torch.float32, "float": torch.float32, "float64": torch.float64,
         "double": torch.float64, "float16": torch.float16, "half": torch.float16, "bfloat16": torch.bfloat16,
         "int64": torch.int64, "long": torch.int64, "int32": torch.int32, "int": torch.int32,
         "bool": torch.bool}

# -- an independent translation of stage text to torch ------------------------------------------

# The constructor argument torch needs first and the spec leaves out: read from the input.
INFERRED = {
    "Linear": ("in_features", lambda s: s[-1]),
    "Conv1d": ("in_channels", lambda s: s[-2]),
    "Conv2d": ("in_channels", lambda s: s[-3]),
    "RNN": ("input_size", lambda s: s[-1]),
    "LSTM": ("input_size", lambda s: s[-1]),
    "GRU": ("input_size", lambda s: s[-1]),
    "RNNCell": ("input_size", lambda s: s[-1]),
    "LSTMCell": ("input_size", lambda s: s[-1]),
    "GRUCell": ("input_size", lambda s: s[-1]),
    "BatchNorm1d": ("num_features", lambda s: s[1]),
    "BatchNorm2d": ("num_features", lambda s: s[1]),
    "LayerNorm": ("normalized_shape", lambda s: s[-1]),
}
SIZE_FIRST = {"BatchNorm1d", "BatchNorm2d", "LayerNorm"}  # BatchNorm2d(64), as in torch
STATES = ("h0", "c0", "hx", "cx")


def parse_type(text: str) -> tuple[str, list[int]]:
    m = re.fullmatch(r"\s*(\w+)\[(.*)\]\s*", text)
    assert m, text
    dims = [int(d) for d in m.group(2).split(",") if d.strip()]
    return m.group(1), dims


def parse_call(text: str, env: dict | None = None) -> tuple[str, list, dict]:
    """`Conv2d(8, (3, 5), stride=2, bias=false)` -> ("Conv2d", [8, (3, 5)], {...}).

    Names resolve through ``env`` (tensors passed to the stage)."""
    env = env or {}
    src = re.sub(r"\btrue\b", "True", re.sub(r"\bfalse\b", "False", text))
    node = pyast.parse(src.strip(), mode="eval").body

    def value(n):
        if isinstance(n, pyast.Name):
            return n.id if n.id in DTYPE and n.id not in env else env[n.id]  # to(float16): a dtype's name
        return pyast.literal_eval(n)

    if isinstance(node, pyast.Name):
        return node.id, [], {}
    assert isinstance(node, pyast.Call) and isinstance(node.func, pyast.Name), text
    return node.func.id, [value(a) for a in node.args], {k.arg: value(k.value) for k in node.keywords}


def _is_size(v) -> bool:
    if isinstance(v, tuple):
        return bool(v) and all(_is_size(x) for x in v)
    return isinstance(v, int) and not isinstance(v, bool)


def build_layer(name: str, pos: list, kw: dict, in_shape) -> nn.Module:
    pos, kw = list(pos), dict(kw)
    if name in INFERRED:
        arg, read = INFERRED[name]
        if arg in kw:
            pos.insert(0, kw.pop(arg))
        elif not (name in SIZE_FIRST and pos and _is_size(pos[0])):
            pos.insert(0, read(list(in_shape)))
    return getattr(nn, name)(*pos, **kw)


def flat(result) -> list:
    if isinstance(result, (tuple, list)):
        return [t for r in result for t in flat(r)]
    return [result]


def run_stage(text: str, x, env: dict):
    """Run one stage on torch; returns (list of result tensors, module or None)."""
    name, pos, kw = parse_call(text, env)
    if name[0].isupper():
        states = {k: kw.pop(k) for k in STATES if k in kw}
        module = build_layer(name, pos, kw, x.shape)
        if x.is_floating_point():
            module = module.to(x.dtype)
        module.eval()
        if name == "LSTM" and states:
            out = module(x, (states["h0"], states["c0"]))
        elif name == "LSTMCell" and states:
            out = module(x, (states["hx"], states["cx"]))
        elif states:
            out = module(x, next(iter(states.values())))
        else:
            out = module(x)
        return flat(out), module
    tensors = [x] if x is not None else []
    tensors += [p for p in pos if isinstance(p, torch.Tensor)]
    pos = [p for p in pos if not isinstance(p, torch.Tensor)]
    return flat(op_call(name, tensors, pos, kw)()), None


# ops that are torch functions of their tensors (torch.cat(tensors, dim), torch.add(x, y));
# every other op is a method of its first tensor (x.sum(1), x.masked_fill(mask, 0.0))
SEQUENCE_FUNCTIONS = {"cat", "stack"}
FUNCTIONS = {"add", "sub", "mul", "div", "pow", "neg", "where", "matmul", "bmm", "split"}


def torch_index(index):
    """The spec's index tuple as a Python subscript: ("slice", a, b, c) -> slice(a, b, c),
    "..." -> Ellipsis; one item stands alone."""
    def item(i):
        if isinstance(i, tuple):
            assert i[0] == "slice", i
            return slice(*i[1:])
        return Ellipsis if i == "..." else i
    if not isinstance(index, tuple) or (index and index[0] == "slice"):
        return item(index)
    return tuple(item(i) for i in index)


def op_call(name: str, tensors: list, pos: list, kw: dict):
    """A call of torch for the op ``name`` on ``tensors`` with the stage's other arguments."""
    if name in SEQUENCE_FUNCTIONS:
        return lambda: getattr(torch, name)(tensors, *pos, **kw)
    if name in FUNCTIONS:
        return lambda: getattr(torch, name)(*tensors, *pos, **kw)
    if name == "einsum":
        equation = pos[0] if pos else kw["equation"]
        return lambda: torch.einsum(equation, *tensors)
    if name == "arange":
        return lambda: torch.arange(*pos, **kw)
    first, *rest = tensors
    if name == "to":  # torch.float16, torch.half, torch.long, ...
        return lambda: first.to(getattr(torch, pos[0] if pos else kw["dtype"]))
    if name == "getitem":
        index = torch_index(pos[0] if pos else kw["index"])
        return lambda: first[index]
    return lambda: getattr(first, name)(*rest, *pos, **kw)


def random_tensor(dtype: str, shape):
    dt = DTYPE[dtype]
    if dt.is_floating_point:
        return torch.randn(tuple(shape), dtype=dt)
    if dt == torch.bool:
        return torch.rand(tuple(shape)) > 0.5
    return torch.randint(1, 3, tuple(shape), dtype=dt)  # valid ids for an Embedding of 3; never 0, a divisor


def torch_dtype_name(t) -> str:
    return str(t.dtype).removeprefix("torch.")


def check_one(text: str):
    result = check_text(text, "kind.net")
    errors = [f"{d.span.line}:{d.span.column} {d.code}: {d.message}" for d in result.reporter.errors]
    return result, errors


# -- the worked examples ------------------------------------------------------------------------

def example_spec(kind, ex) -> tuple[str, str, dict]:
    """The one-network spec of an example, the stage text torch runs, and the inputs' types.
    An example without an input (arange) starts its chain with the op."""
    stage = ex["stage"] or kind.name
    if ex["input"] is None:
        return f"network K {{\n    out = {stage}\n    output out\n}}\n", stage, {}
    types = {"x": ex["input"]}
    others = [ex["input"]] * ex.get("others", 0) + list(ex.get("other_shapes", []))
    names = [f"y{i}" for i in range(len(others))]
    types.update(zip(names, others))
    spec_stage = stage
    if names:
        extra = ", ".join(names)
        spec_stage = stage.replace("(", f"({extra}, ", 1) if "(" in stage else f"{stage}({extra})"
    decls = "\n".join(f"    input {n}: {t}" for n, t in types.items())
    text = f"network K {{\n{decls}\n    out = x -> {spec_stage}\n    output out\n}}\n"
    return text, spec_stage, types


@pytest.mark.parametrize("kind,index,ex", EXAMPLES,
                         ids=[f"{k.name}-{i}" for k, i, _ in EXAMPLES])
def test_example_matches_torch(kind, index, ex):
    text, stage, types = example_spec(kind, ex)
    result, errors = check_one(text)
    assert not errors, (text, errors)
    (net,) = result.networks
    node = net.nodes[-1]
    assert node.kind is kind

    torch.manual_seed(0)
    env = {n: random_tensor(*parse_type(t)) for n, t in types.items()}
    outs, module = run_stage(stage, env.get("x"), env)

    stated = [(o.tensor.dtype, net.shape(o.tensor)) for o in node.outputs]
    actual = [(torch_dtype_name(t), list(t.shape)) for t in outs]
    assert stated == actual, f"{stage} on {ex['input']}"
    torch_params = sum(p.numel() for p in module.parameters()) if module is not None else 0
    assert net.dim(node.params) == torch_params
    assert net.total_params == torch_params

    if module is not None:
        # the emission path (constructor_args) builds the same module
        pos, kw = kind.constructor_args(node.args)
        emitted = getattr(nn, kind.torch_name)(*pos, **kw)
        assert {k: tuple(v.shape) for k, v in emitted.state_dict().items()} == \
               {k: tuple(v.shape) for k, v in module.state_dict().items()}


def test_every_kind_has_examples():
    assert KINDS
    for kind in KINDS:
        assert kind.examples, f"{kind.name} has no worked example"
        assert all(ex.get("stage", "") or kind.name for ex in kind.examples)


# arguments that change no shape and no parameter count; every other argument of a kind
# must appear (by keyword or by position) in one of its examples
NO_SHAPE_EFFECT = {"inplace", "p", "eps", "momentum", "track_running_stats", "approximate",
                   "max_norm", "norm_type", "scale_grad_by_freq", "sparse", "count_include_pad",
                   "divisor_override", "return_indices", "dropout", "padding_mode"}


def _covered(kind) -> set[str]:
    names: set[str] = set()
    for ex in kind.examples:
        _, pos, kw = parse_call(ex["stage"] or kind.name)
        names |= set(kw)
        order = kind.positional
        if kind.name in SIZE_FIRST and pos and _is_size(pos[0]):
            order = (kind.inferred, *order)
        if kind.variadic:
            order = (kind.variadic,)
        names |= set(order[:len(pos)])
        if kind.inferred:
            names.add(kind.inferred)  # read from the input in every example
    return names


@pytest.mark.parametrize("kind", KINDS, ids=[k.name for k in KINDS])
def test_examples_cover_every_shape_argument(kind):
    fields = set(kind.Args.model_fields) - set(kind.state_inputs) - NO_SHAPE_EFFECT
    missing = fields - _covered(kind)
    assert not missing, f"{kind.name}: no example uses {sorted(missing)}"


# -- positional order: hand-written torch calls, not the translator ----------------------------

POSITIONAL = [
    ("float32[2, 7]", "Linear(3, false)", lambda: nn.Linear(7, 3, False)),
    ("float32[1, 4, 9, 9]", "Conv2d(8, 3, 2, 1, 1, 2, false)", lambda: nn.Conv2d(4, 8, 3, 2, 1, 1, 2, False)),
    ("float32[1, 2, 11, 12]", "MaxPool2d(3, 2, 1, 2, false, true)",
     lambda: nn.MaxPool2d(3, stride=2, padding=1, dilation=2, ceil_mode=True)),
    ("float32[1, 2, 11, 12]", "AvgPool2d(3, 2, 1, true, false, 2)",
     lambda: nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False, divisor_override=2)),
    ("float32[3, 5, 2]", 'RNN(4, 2, "relu", false, true, 0.0, true)',
     lambda: nn.RNN(2, 4, num_layers=2, nonlinearity="relu", bias=False, batch_first=True, bidirectional=True)),
    ("float32[3, 5, 2]", "LSTM(6, 2, true, true, 0.0, true, 3)",
     lambda: nn.LSTM(2, 6, num_layers=2, batch_first=True, bidirectional=True, proj_size=3)),
    ("float32[3, 5, 2]", "GRU(5, 2, false, true)", lambda: nn.GRU(2, 5, num_layers=2, bias=False, batch_first=True)),
    ("float32[3, 2]", 'RNNCell(4, false, "relu")', lambda: nn.RNNCell(2, 4, bias=False, nonlinearity="relu")),
    ("int64[3, 2]", "Embedding(10, 4, 0)", lambda: nn.Embedding(10, 4, padding_idx=0)),
    ("float32[2, 3, 4]", "LayerNorm((3, 4), 0.001, true, false)",
     lambda: nn.LayerNorm((3, 4), eps=0.001, elementwise_affine=True, bias=False)),
    ("float32[2, 6, 3]", "BatchNorm1d(6, 0.001, 0.1, false)", lambda: nn.BatchNorm1d(6, eps=0.001, affine=False)),
    ("float32[2, 6, 3]", "BatchNorm1d(0.001, 0.1, false)", lambda: nn.BatchNorm1d(6, eps=0.001, affine=False)),
    ("float32[2, 3, 4, 5]", "Flatten(1, 2)", lambda: nn.Flatten(1, 2)),
]


@pytest.mark.parametrize("input_type,stage,make", POSITIONAL, ids=[s for _, s, _ in POSITIONAL])
def test_positional_order_matches_torch_constructor(input_type, stage, make):
    text = f"network K {{\n    input x: {input_type}\n    out = x -> {stage}\n    output out\n}}\n"
    result, errors = check_one(text)
    assert not errors, errors
    (net,) = result.networks
    node = net.nodes[-1]
    module = make().eval()
    x = random_tensor(*parse_type(input_type))
    outs = flat(module(x))
    assert [net.shape(o.tensor) for o in node.outputs] == [list(t.shape) for t in outs]
    assert net.dim(node.params) == sum(p.numel() for p in module.parameters())
    # the arguments the checker read are the ones the hand-written constructor got
    pos, kw = node.kind.constructor_args(node.args)
    emitted = getattr(nn, node.kind.torch_name)(*pos, **kw)
    for attr in ("in_features", "out_features", "in_channels", "out_channels", "kernel_size", "stride",
                 "padding", "dilation", "groups", "ceil_mode", "count_include_pad", "divisor_override",
                 "input_size", "hidden_size", "num_layers", "bias", "batch_first", "bidirectional",
                 "proj_size", "nonlinearity", "padding_idx", "normalized_shape", "eps", "affine",
                 "elementwise_affine", "start_dim", "end_dim"):
        if hasattr(module, attr) and not isinstance(getattr(module, attr), torch.Tensor):
            assert getattr(emitted, attr) == getattr(module, attr), attr


# -- symbolic sizes: the conv and pool arithmetic over a table of concrete sizes ---------------

SYMBOLIC = [
    ("Conv1d(4, 3)", 1),
    ("Conv1d(4, 5, stride=3, padding=2, dilation=2)", 1),
    ("Conv2d(4, (3, 2), stride=(2, 3), padding=(1, 0), dilation=(1, 2))", 2),
    ('Conv2d(4, 4, padding="same", dilation=2)', 2),
    ('Conv2d(4, 3, stride=2, padding="valid")', 2),
    ("MaxPool1d(3)", 1),
    ("MaxPool1d(3, stride=2, padding=1, dilation=2)", 1),
    ("MaxPool2d(2, stride=2, padding=1, ceil_mode=true)", 2),
    ("MaxPool2d(3, stride=2, ceil_mode=true)", 2),
    ("AvgPool1d(4, stride=3, padding=2, ceil_mode=true)", 1),
    ("AvgPool2d((3, 2), stride=(2, 1), padding=1)", 2),
    ("AdaptiveAvgPool2d((3, 2))", 2),
    ("Conv2d(4, 3, stride=2) -> MaxPool2d(2) -> Conv2d(4, 3, padding=1, stride=2)", 2),
]
SIZES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 16, 17, 23, 31, 32]


@pytest.mark.parametrize("stages,n", SYMBOLIC, ids=[s for s, _ in SYMBOLIC])
def test_symbolic_sizes_match_torch(stages, n):
    spatial = ["h", "w"][:n]
    text = (f"network K {{\n    input x: float32[2, 3, {', '.join(spatial)}]\n"
            f"    out = x -> {stages}\n    output out\n}}\n")
    result, errors = check_one(text)
    assert not errors, errors
    unproven = [d for d in result.reporter.items if d.code == "unproven"]
    (net,) = result.networks
    stated = net.shape(net.outputs[0][1].tensor)
    compared = 0
    for size in SIZES:
        env = {"h": size, "w": size + 1}
        want = [evaluate(d, env) for d in stated]
        x = torch.randn(2, 3, *[env[s] for s in spatial])
        try:
            y = x
            for st in stages.split("->"):
                (y,), _ = run_stage(st.strip(), y, {})
        except RuntimeError:
            # torch refuses exactly the sizes for which the stated shape has no positive size
            assert min(want) < 1 or unproven, (size, want)
            continue
        assert min(want) >= 1, (size, want)
        for got, stated_dim in zip(y.shape, want):
            if unproven and got != stated_dim:
                continue  # the warning said this size depends on a fact netspec could not prove
            assert got == stated_dim, (size, want, list(y.shape))
            compared += 1
    assert compared >= len(SIZES) * len(stated) // 2


# -- initial states -----------------------------------------------------------------------------

STATE_CASES = [
    # (inputs, stage, ok)
    ({"x": "float32[7, 3, 5]", "h": "float32[4, 3, 6]", "c": "float32[4, 3, 6]"},
     "LSTM(6, num_layers=2, bidirectional=true, h0=h, c0=c)", True),
    ({"x": "float32[3, 7, 5]", "h": "float32[2, 3, 2]", "c": "float32[2, 3, 6]"},
     "LSTM(6, num_layers=2, batch_first=true, proj_size=2, h0=h, c0=c)", True),
    ({"x": "float32[3, 7, 5]", "h": "float32[2, 3, 6]", "c": "float32[2, 3, 6]"},
     "LSTM(6, num_layers=2, batch_first=true, proj_size=2, h0=h, c0=c)", False),
    ({"x": "float32[3, 7, 5]", "h": "float32[2, 7, 6]", "c": "float32[2, 7, 6]"},
     "LSTM(6, num_layers=2, batch_first=true, h0=h, c0=c)", False),
    ({"x": "float32[3, 7, 5]", "h": "float32[4, 3, 6]"},
     "GRU(6, num_layers=2, batch_first=true, bidirectional=true, h0=h)", True),
    ({"x": "float32[3, 7, 5]", "h": "float32[2, 3, 6]"},
     "GRU(6, num_layers=2, batch_first=true, bidirectional=true, h0=h)", False),
    ({"x": "float32[7, 5]", "h": "float32[1, 4]"}, 'RNN(4, nonlinearity="relu", h0=h)', True),
    ({"x": "float32[7, 5]", "h": "float32[1, 1, 4]"}, "RNN(4, h0=h)", False),
    ({"x": "float32[3, 5]", "h": "float32[3, 4]", "c": "float32[3, 4]"}, "LSTMCell(4, hx=h, cx=c)", True),
    ({"x": "float32[3, 5]", "h": "float32[2, 4]"}, "GRUCell(4, hx=h)", False),
    ({"x": "float32[5]", "h": "float32[4]"}, "RNNCell(4, hx=h)", True),
]


@pytest.mark.parametrize("types,stage,ok", STATE_CASES, ids=[f"{s}-{'ok' if o else 'bad'}" for _, s, o in STATE_CASES])
def test_initial_states_match_torch(types, stage, ok):
    decls = "\n".join(f"    input {n}: {t}" for n, t in types.items())
    text = f"network K {{\n{decls}\n    out = x -> {stage}\n    output out\n}}\n"
    result, errors = check_one(text)
    env = {n: random_tensor(*parse_type(t)) for n, t in types.items()}
    if ok:
        assert not errors, errors
        (net,) = result.networks
        node = net.nodes[-1]
        outs, module = run_stage(stage, env["x"], env)
        assert [net.shape(o.tensor) for o in node.outputs] == [list(t.shape) for t in outs]
        assert net.dim(node.params) == sum(p.numel() for p in module.parameters())
    else:
        assert errors, f"the checker accepted {stage} with {types}"
        assert all(e.startswith(f"{len(types) + 2}:") for e in errors), errors
        with pytest.raises(RuntimeError):
            run_stage(stage, env["x"], env)


# -- expected failures: the checker reports where torch raises ----------------------------------

FAILURES = [
    # (inputs, source, stages, code, index of the failing stage)
    ({"x": "float32[4, 7]"}, "x", ["Linear(3)", "Linear(5, in_features=4)"], "shape", 1),
    ({"x": "float32[4, 7]"}, "x", ["Linear(3, in_features=6)"], "shape", 0),
    ({"x": "float32[2, 3, 4]", "y": "float32[2, 5, 4]"}, None, ["cat(x, y, dim=2)"], "shape", 0),
    ({"x": "float32[2, 3, 4]", "y": "float32[2, 3]"}, None, ["cat(x, y, dim=1)"], "rank", 0),
    ({"x": "float32[1, 3, 8, 8]"}, "x", ["Conv2d(4, 3, stride=2)", "Conv2d(8, 5)"], "size", 1),
    ({"x": "float32[1, 3, 8, 8]"}, "x", ["Conv2d(4, 3, in_channels=4)"], "shape", 0),
    ({"x": "float32[1, 3, 8, 8]"}, "x", ["Conv2d(4, 3, groups=2)"], "value", 0),
    ({"x": "float32[1, 3, 8, 8]"}, "x", ['Conv2d(4, 3, stride=2, padding="same")'], "value", 0),
    ({"x": "float32[3, 8]"}, "x", ["Conv2d(4, 3)"], "rank", 0),
    ({"x": "float32[1, 2, 2, 2]"}, "x", ["MaxPool2d(3)"], "size", 0),
    ({"x": "float32[1, 2, 9, 9]"}, "x", ["MaxPool2d(3, padding=2)"], "value", 0),
    ({"x": "float32[2, 3]", "y": "float32[4, 3]"}, None, ["add(x, y)"], "shape", 0),
    ({"x": "float32[2, 3, 4]"}, "x", ["reshape(5, -1)"], "shape", 0),
    ({"x": "float32[2, 3, 4]"}, "x", ["reshape(4, 5)"], "shape", 0),
    ({"x": "float32[]", "y": "float32[]"}, None, ["cat(x, y)"], "rank", 0),
    ({"x": "float32[2, 3, 4]"}, "x", ["permute(1, 0)"], "rank", 0),
    ({"x": "float32[2, 3, 4]"}, "x", ["transpose(0, 3)"], "rank", 0),
    ({"x": "float32[2, 3, 4]"}, "x", ["unsqueeze(4)"], "rank", 0),
    ({"x": "float32[2, 3, 4]"}, "x", ["squeeze(-4)"], "rank", 0),
    ({"x": "float32[2, 3]"}, "x", ["select(1, 3)"], "value", 0),
    ({"x": "float32[2, 3]"}, "x", ["Softmax(dim=2)"], "rank", 0),
    ({"x": "float32[2, 3, 4, 5]"}, "x", ["Flatten(2, 1)"], "value", 0),
    ({"x": "float32[2, 3]"}, "x", ["Embedding(10, 4)"], "dtype", 0),
    ({"x": "int64[2, 3]"}, "x", ["Linear(4)"], "dtype", 0),
    ({"x": "float32[2, 3, 5, 5]"}, "x", ["BatchNorm2d(num_features=4)"], "shape", 0),
    ({"x": "float32[2, 7]"}, "x", ["LayerNorm(8)"], "shape", 0),
    ({"x": "float32[7]"}, "x", ["Linear(4)", "LSTM(6)"], "rank", 1),
    ({"x": "float32[2, 5, 7]"}, "x", ["LSTM(6, proj_size=6)"], "value", 0),
    ({"x": "float32[2, 5, 7]"}, "x", ["LSTM(6, input_size=5)"], "shape", 0),
    # tensor ops
    ({"x": "float32[2, 3]", "y": "float32[4, 3]"}, None, ["mul(x, y)"], "shape", 0),
    ({"x": "float32[2, 3]", "y": "float32[2]"}, None, ["sub(x, y)"], "shape", 0),
    ({"x": "bool[3]", "y": "bool[3]"}, None, ["sub(x, y)"], "dtype", 0),
    ({"x": "int64[3]"}, "x", ["pow(-1)"], "value", 0),
    ({"x": "bool[3]"}, "x", ["neg"], "dtype", 0),
    ({"c": "int64[3]", "x": "float32[3]", "y": "float32[3]"}, None, ["where(c, x, y)"], "dtype", 0),
    ({"c": "bool[2, 3]", "x": "float32[4]", "y": "float32[3]"}, None, ["where(c, x, y)"], "shape", 0),
    ({"x": "float32[3]", "m": "int64[3]"}, None, ["masked_fill(x, m, 0.0)"], "dtype", 0),
    ({"x": "float32[2, 3]", "y": "float32[4, 5]"}, None, ["matmul(x, y)"], "shape", 0),
    ({"x": "float32[2, 3, 4]", "y": "float32[3, 4, 5]"}, None, ["matmul(x, y)"], "shape", 0),
    ({"x": "float32[]", "y": "float32[3]"}, None, ["matmul(x, y)"], "rank", 0),
    ({"x": "float32[2, 3]", "y": "float64[3, 2]"}, None, ["matmul(x, y)"], "dtype", 0),
    ({"x": "float32[2, 3, 4]", "y": "float32[3, 4, 5]"}, None, ["bmm(x, y)"], "shape", 0),
    ({"x": "float32[2, 3, 4]", "y": "float32[2, 5, 6]"}, None, ["bmm(x, y)"], "shape", 0),
    ({"x": "float32[3, 4]", "y": "float32[3, 4, 5]"}, None, ["bmm(x, y)"], "rank", 0),
    ({"x": "float32[2, 3]", "y": "float32[4, 5]"}, None, ['einsum("ij,jk->ik", x, y)'], "shape", 0),
    ({"x": "float32[2, 3]"}, "x", ['einsum("ii->i")'], "shape", 0),
    ({"x": "float32[2, 3]"}, "x", ['einsum("ijk")'], "rank", 0),
    ({"x": "float32[2, 3]"}, "x", ['einsum("ij->ik")'], "value", 0),
    ({"x": "float32[2, 3]", "y": "float32[3]"}, None, ['einsum("ij->i", x, y)'], "argument", 0),
    ({"x": "float32[2, 3]"}, "x", ["mean(1)", "long", "mean(0)"], "dtype", 2),
    ({"x": "int64[2, 3]"}, "x", ["var(1)"], "dtype", 0),
    ({"x": "int32[2, 3]"}, "x", ["softmax(1)"], "dtype", 0),
    ({"x": "float32[2, 3]"}, "x", ["sum((1, 1))"], "value", 0),
    ({"x": "float32[2, 3]"}, "x", ["amax(2)"], "rank", 0),
    ({"x": "float32[2, 3]"}, "x", ["sum(keepdim=true)"], "argument", 0),
    ({"x": "float32[2, 3]"}, "x", ["var(1, unbiased=true, correction=0)"], "value", 0),
    ({"x": "float32[]"}, "x", ["chunk(2)"], "rank", 0),
    ({"x": "float32[4]"}, "x", ["chunk(0)"], "value", 0),
    ({"x": "float32[]"}, "x", ["split(1)"], "rank", 0),
    ({"x": "float32[10]"}, "x", ["split((3, 6))"], "shape", 0),
    ({"x": "float32[10]"}, "x", ["split(0)"], "value", 0),
    ({"x": "float32[2, 3]", "y": "float32[3, 2]"}, None, ["stack(x, y)"], "shape", 0),
    ({"x": "float32[2, 3]", "y": "float32[2]"}, None, ["stack(x, y)"], "shape", 0),
    ({"x": "float32[2, 3]"}, "x", ["stack(dim=3)"], "rank", 0),
    ({"x": "float32[10]"}, "x", ["narrow(0, 8, 3)"], "value", 0),
    ({"x": "float32[10]"}, "x", ["narrow(0, -11, 1)"], "value", 0),
    ({"x": "float32[3, 2]"}, "x", ["expand(3, 4)"], "shape", 0),
    ({"x": "float32[3, 1]"}, "x", ["expand(4)"], "rank", 0),
    ({"x": "float32[3, 1]"}, "x", ["expand(-1, 3, 4)"], "value", 0),
    ({"x": "float32[3, 1]"}, "x", ["repeat(2)"], "rank", 0),
    ({"x": "float32[2, 3]"}, "x", ["getitem((0, 3))"], "value", 0),
    ({"x": "float32[2, 3]"}, "x", ["getitem((0, 1, 2))"], "rank", 0),
    ({"x": "float32[4]"}, "x", ['getitem(("slice", None, None, 0))'], "value", 0),
    ({"x": "float32[4]"}, "x", ['getitem(("slice", None, None, -1))'], "value", 0),
    ({}, None, ["arange(5, 1)"], "value", 0),
    ({}, None, ["arange(0, 5, 0)"], "value", 0),
    ({"x": "float32[3]"}, "x", ['to("float8")'], "argument", 0),
]


def _stage_columns(line: str, stages: list[str]) -> list[tuple[int, int]]:
    cols, at = [], 0
    for st in stages:
        i = line.index(st, at)
        cols.append((i + 1, i + 1 + len(st)))  # 1-based, end exclusive
        at = i + len(st)
    return cols


@pytest.mark.parametrize("types,source,stages,code,index", FAILURES,
                         ids=[" -> ".join(s) for _, _, s, _, _ in FAILURES])
def test_error_where_torch_raises(types, source, stages, code, index):
    decls = "".join(f"    input {n}: {t}\n" for n, t in types.items())
    chain = " -> ".join(([source] if source else []) + stages)
    line = f"    out = {chain}"
    text = f"network K {{\n{decls}{line}\n    output out\n}}\n"
    result, _ = check_one(text)
    errors = result.reporter.errors
    assert errors, f"no error for {chain}"
    first = errors[0]
    lo, hi = _stage_columns(line, stages)[index]
    assert first.code == code, (first.code, first.message)
    assert first.span.line == len(types) + 2
    assert lo <= first.span.column < hi, (first.span, (lo, hi), first.message)

    # torch runs the stages before `index` and raises at `index`
    torch.manual_seed(0)
    env = {n: random_tensor(*parse_type(t)) for n, t in types.items()}
    x = env.get(source) if source else None
    for i, st in enumerate(stages):
        if i < index:
            x = run_stage(st, x, env)[0][0]
            continue
        with pytest.raises((RuntimeError, ValueError, IndexError, TypeError, AttributeError)):
            run_stage(st, x, env)


def test_sizes_reached_two_ways_are_proven_equal():
    """Equal sizes written differently check as equal (no `assert` or `shape` error), and torch agrees."""
    text = """network K {
    input x: float32[1, 2, 2 * h]
    input y: float32[1, 2, 3 * h + 5]
    a = x -> MaxPool1d(4)                      : [1, 2, h // 2]
    b = x -> MaxPool1d(2) -> MaxPool1d(2)
    s = add(a, b)
    c = y -> AvgPool1d(2) -> AvgPool1d(3)
    d = y -> AvgPool1d(6)                      : [1, 2, (3 * h + 5) // 6]
    t = add(c, d)
    output s, t
}
"""
    result, errors = check_one(text)
    assert not errors, errors
    (net,) = result.networks
    stated = [net.shape(v.tensor) for _, v in net.outputs]
    for h in range(1, 13):
        x, y = torch.randn(1, 2, 2 * h), torch.randn(1, 2, 3 * h + 5)
        if 2 * h < 4:
            continue  # torch refuses a window larger than the input
        s = nn.MaxPool1d(4)(x) + nn.MaxPool1d(2)(nn.MaxPool1d(2)(x))
        t = nn.AvgPool1d(3)(nn.AvgPool1d(2)(y)) + nn.AvgPool1d(6)(y)
        assert [[evaluate(d, {"h": h}) for d in shape] for shape in stated] == [list(s.shape), list(t.shape)]
