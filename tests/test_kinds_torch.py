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
import inspect
import re

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from netspec.checker import check_text  # noqa: E402
from netspec.dims import evaluate  # noqa: E402
from netspec.kinds import REGISTRY, Construct  # noqa: E402

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
    "Conv3d": ("in_channels", lambda s: s[-4]),
    "ConvTranspose1d": ("in_channels", lambda s: s[-2]),
    "ConvTranspose2d": ("in_channels", lambda s: s[-3]),
    "ConvTranspose3d": ("in_channels", lambda s: s[-4]),
    "RNN": ("input_size", lambda s: s[-1]),
    "LSTM": ("input_size", lambda s: s[-1]),
    "GRU": ("input_size", lambda s: s[-1]),
    "RNNCell": ("input_size", lambda s: s[-1]),
    "LSTMCell": ("input_size", lambda s: s[-1]),
    "GRUCell": ("input_size", lambda s: s[-1]),
    "BatchNorm1d": ("num_features", lambda s: s[1]),
    "BatchNorm2d": ("num_features", lambda s: s[1]),
    "BatchNorm3d": ("num_features", lambda s: s[1]),
    "GroupNorm": ("num_channels", lambda s: s[1]),
    "InstanceNorm1d": ("num_features", lambda s: s[-2]),
    "InstanceNorm2d": ("num_features", lambda s: s[-3]),
    "InstanceNorm3d": ("num_features", lambda s: s[-4]),
    "LayerNorm": ("normalized_shape", lambda s: s[-1]),
    "LayerNorm2d": ("normalized_shape", lambda s: s[1]),  # the channels of [N, C, H, W]
}
SIZE_FIRST = {"BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LayerNorm", "LayerNorm2d",  # BatchNorm2d(64), as in torch
              "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d"}
STATES = ("h0", "c0", "hx", "cx")
for _name in ("MultiheadAttention",):
    INFERRED[_name] = ("embed_dim", lambda s: s[-1])
for _name in ("TransformerEncoderLayer", "TransformerDecoderLayer", "TransformerEncoder", "TransformerDecoder",
              "Transformer"):
    INFERRED[_name] = ("d_model", lambda s: s[-1])

# Arguments of a layer's call rather than its constructor (torch's forward signatures).
CALL_ONLY = {"need_weights", "average_attn_weights", "is_causal", "src_is_causal", "tgt_is_causal",
             "memory_is_causal"}
# Tensors a layer's call takes by position after the piped one; the other tensors given to a
# stage (masks) go to the call by keyword. MultiheadAttention's key defaults to the query and
# its value to the key (docs/language.md).
LEADING = {"MultiheadAttention": ("key", "value"), "TransformerDecoderLayer": ("memory",),
           "TransformerDecoder": ("memory",), "Transformer": ("tgt",)}
# nn.TransformerEncoder/Decoder take a built layer and a count: the stage gives the layer's
# arguments with num_layers after nhead, and norm=true for the final LayerNorm that
# nn.Transformer gives its encoder and decoder (docs/language.md).
STACKS = {"TransformerEncoder": "TransformerEncoderLayer", "TransformerDecoder": "TransformerDecoderLayer"}
STACK_ORDER = ("nhead", "num_layers", "dim_feedforward", "dropout", "activation", "layer_norm_eps", "batch_first",
               "norm_first", "bias")
STACK_OWN = ("enable_nested_tensor", "mask_check")


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


def torch_class(name: str):
    """The torch module class of a layer: torch.nn's, or torchvision's for what torch.nn lacks."""
    if name == "StochasticDepth":
        import torchvision

        return torchvision.ops.StochasticDepth
    if name == "LayerNorm2d":
        from torchvision.models.convnext import LayerNorm2d

        return LayerNorm2d
    if name == "Permute":
        from torchvision.ops.misc import Permute

        return Permute
    return getattr(nn, name)


def build_layer(name: str, pos: list, kw: dict, in_shape) -> nn.Module:
    pos, kw = list(pos), dict(kw)
    if name in STACKS:
        return build_stack(name, pos, kw, in_shape)
    cls = torch_class(name)
    if name in INFERRED:
        arg, read = INFERRED[name]
        if arg in kw:
            value = kw.pop(arg)
        elif name in SIZE_FIRST and pos and _is_size(pos[0]):
            value = None  # given first, as in torch
        else:
            value = read(list(in_shape))
        # the spec's positional order is torch's without the inferred argument: put it back
        # at its place in torch's order (GroupNorm's num_channels is second), or by name
        params = list(inspect.signature(cls).parameters)
        index = params.index(arg) if arg in params else 0
        if value is not None and len(pos) >= index:
            pos.insert(index, value)
        elif value is not None:
            kw[arg] = value
    return cls(*pos, **kw)


def build_stack(name: str, pos: list, kw: dict, in_shape) -> nn.Module:
    kw = dict(zip(STACK_ORDER, pos)) | kw
    d_model = kw.pop("d_model", in_shape[-1])
    num_layers = kw.pop("num_layers")
    outer = {k: kw.pop(k) for k in STACK_OWN if k in kw}
    if kw.pop("norm", False):
        outer["norm"] = nn.LayerNorm(d_model, eps=kw.get("layer_norm_eps", 1e-5), bias=kw.get("bias", True))
    return getattr(nn, name)(getattr(nn, STACKS[name])(d_model, **kw), num_layers, **outer)


def flat(result) -> list:
    if isinstance(result, (tuple, list)):
        return [t for r in result for t in flat(r) if t is not None]
    return [result]


def stage_call(text: str, x, env: dict):
    """One stage as torch runs it: (its module, or None for an op; a call that runs it)."""
    name, pos, kw = parse_call(text, env)
    if name[0].isupper():
        # tensors given by keyword: a state (h0), a key or mask, or one a call takes by keyword
        # (EmbeddingBag's offsets)
        tensors = {k: kw.pop(k) for k in list(kw) if isinstance(kw[k], torch.Tensor)}
        call_kw = {k: kw.pop(k) for k in CALL_ONLY if k in kw}
        module = build_layer(name, pos, kw, x.shape)
        if x.is_floating_point():
            module = module.to(x.dtype)
        module.eval()
        return module, lambda: _call_layer(name, module, x, tensors, call_kw)
    tensors = [x] if x is not None else []
    tensors += [p for p in pos if isinstance(p, torch.Tensor)]
    pos = [p for p in pos if not isinstance(p, torch.Tensor)]
    return None, op_call(name, tensors, pos, kw)


def _call_layer(name: str, module, x, tensors: dict, call_kw: dict):
    tensors = dict(tensors)
    if name == "LSTM" and tensors:
        return module(x, (tensors["h0"], tensors["c0"]))
    if name == "LSTMCell" and tensors:
        return module(x, (tensors["hx"], tensors["cx"]))
    if any(k in tensors for k in STATES):
        return module(x, next(iter(tensors.values())))
    if name == "MultiheadAttention":
        key = tensors.pop("key", x)
        return module(x, key, tensors.pop("value", key), **tensors, **call_kw)
    leading = [tensors.pop(k) for k in LEADING.get(name, ()) if k in tensors]
    return module(x, *leading, **tensors, **call_kw)


def run_stage(text: str, x, env: dict):
    """Run one stage on torch; returns (list of result tensors, module or None)."""
    module, call = stage_call(text, x, env)
    return flat(call()), module


# ops that are torch functions of their tensors (torch.cat(tensors, dim), torch.add(x, y));
# every other op is a method of its first tensor (x.sum(1), x.masked_fill(mask, 0.0))
SEQUENCE_FUNCTIONS = {"cat", "stack"}
FUNCTIONS = {"add", "sub", "mul", "div", "pow", "neg", "where", "matmul", "bmm", "split", "rsub"}
# a number on the left of an operator, as Python evaluates `2 / x` and `2 ** x`
REFLECTED = {"rdiv": lambda x, other: other / x, "rpow": lambda x, other: other ** x}


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
    if name in REFLECTED:
        return lambda: REFLECTED[name](*tensors, *pos, **kw)
    if name == "einsum":
        equation = pos[0] if pos else kw["equation"]
        return lambda: torch.einsum(equation, *tensors)
    if name == "arange":
        return lambda: torch.arange(*pos, **kw)
    if name in ("interpolate", "pad"):
        return lambda: getattr(torch.nn.functional, name)(*tensors, *pos, **kw)
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


def example_tensors(types: dict[str, str]) -> dict:
    """Random tensors of the given types; `offsets` are the starts of equal bags of `x`."""
    env = {n: random_tensor(*parse_type(t)) for n, t in types.items()}
    if "offsets" in env:
        bags, n = env["offsets"].numel(), env["x"].numel()
        env["offsets"] = (torch.arange(bags) * n // max(bags, 1)).reshape(env["offsets"].shape).to(env["offsets"].dtype)
    return env


def torch_dtype_name(t) -> str:
    return str(t.dtype).removeprefix("torch.")


def check_one(text: str):
    result = check_text(text, "kind.net")
    errors = [f"{d.span.line}:{d.span.column} {d.code}: {d.message}" for d in result.reporter.errors]
    return result, errors


# -- the worked examples ------------------------------------------------------------------------

def example_spec(kind, ex) -> tuple[str, str, dict]:
    """The one-network spec of an example, the stage text torch runs, and the inputs' types.
    An example's "tensors" ({"offsets": "int64[3]"}) are inputs its stage names by keyword;
    an example without an input (arange) starts its chain with the op."""
    stage = ex["stage"] or kind.name
    if ex["input"] is None:
        return f"network K {{\n    out = {stage}\n    output out\n}}\n", stage, {}
    types = {"x": ex["input"]}
    types.update(ex.get("tensors", {}))  # tensors the stage names: keys, masks, a memory
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
    env = example_tensors(types)
    outs, module = run_stage(stage, env.get("x"), env)

    stated = [(o.tensor.dtype, net.shape(o.tensor)) for o in node.outputs]
    actual = [(torch_dtype_name(t), list(t.shape)) for t in outs]
    assert stated == actual, f"{stage} on {ex['input']}"
    torch_params = sum(p.numel() for p in module.parameters()) if module is not None else 0
    assert net.dim(node.params) == torch_params
    assert net.total_params == torch_params

    if module is not None:
        # the emission path (constructor_args) builds the same module, with torch's names
        pos, kw = kind.constructor_args(node.args)
        emitted = emit(kind, pos, kw)
        assert {k: tuple(v.shape) for k, v in emitted.state_dict().items()} == \
               {k: tuple(v.shape) for k, v in module.state_dict().items()}
        dtype = env["x"].dtype
        if kind.dtype_kwarg and dtype != torch.float32:  # and makes its weights in the input's dtype
            typed = emit(kind, *kind.with_dtype(pos, kw, dtype))
            assert {p.dtype for p in typed.parameters()} <= {dtype}
            assert {k: tuple(v.shape) for k, v in typed.state_dict().items()} == \
                   {k: tuple(v.shape) for k, v in module.state_dict().items()}


def materialize(v):
    """A constructor value as torch: a Construct (a module the layer's constructor takes) built."""
    if isinstance(v, Construct):
        assert v.func.startswith("nn."), v.func
        return getattr(nn, v.func.removeprefix("nn."))(*map(materialize, v.args),
                                                        **{k: materialize(x) for k, x in v.kwargs})
    return v


def emit(kind, pos, kw) -> nn.Module:
    """The module a built module constructs for a layer with these constructor values."""
    return emitted_class(kind)(*map(materialize, pos), **{k: materialize(v) for k, v in kw.items()})


def emitted_class(kind):
    """The class a built module constructs for a layer: torch.nn's, or the one it defines."""
    if kind.support_code is None:
        return getattr(nn, kind.torch_name)
    scope = {"torch": torch, "nn": nn}
    exec(compile(kind.support_code, f"<{kind.name}>", "exec"), scope)  # noqa: S102 (netspec's own code)
    return scope[kind.torch_name]


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
        _, pos, kw = parse_call(ex["stage"] or kind.name, {n: n for n in ex.get("tensors", {})})
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
    ("float32[2, 3, 4, 5]", "LayerNorm2d(3, 0.001, true, false)",
     lambda: torch_class("LayerNorm2d")(3, eps=0.001, elementwise_affine=True, bias=False)),
    ("float32[2, 3, 4, 5]", "LayerNorm2d(0.001, false)",
     lambda: torch_class("LayerNorm2d")(3, eps=0.001, elementwise_affine=False)),
    ("float32[2, 3, 4, 5]", "Permute((0, 2, 3, 1))", lambda: torch_class("Permute")([0, 2, 3, 1])),
    ("float32[2, 6, 3]", "BatchNorm1d(6, 0.001, 0.1, false)", lambda: nn.BatchNorm1d(6, eps=0.001, affine=False)),
    ("float32[2, 6, 3]", "BatchNorm1d(0.001, 0.1, false)", lambda: nn.BatchNorm1d(6, eps=0.001, affine=False)),
    ("float32[2, 3, 4, 5]", "Flatten(1, 2)", lambda: nn.Flatten(1, 2)),
    ("float32[1, 2, 7, 7, 7]", "Conv3d(4, 3, 2, 1, 2, 2, false)", lambda: nn.Conv3d(2, 4, 3, 2, 1, 2, 2, False)),
    ("float32[1, 2, 6, 6]", "ConvTranspose2d(4, 3, 2, 1, 1, 2, false, 2)",
     lambda: nn.ConvTranspose2d(2, 4, 3, 2, 1, 1, 2, False, 2)),
    ("float32[1, 3, 6]", "ConvTranspose1d(2, 5, 2, 1, 1, 1, true, 1)", lambda: nn.ConvTranspose1d(3, 2, 5, 2, 1, 1, 1, True, 1)),
    ("float32[2, 3, 6]", "MultiheadAttention(2, 0.5, false, true, false, 6, 6, true)",
     lambda: nn.MultiheadAttention(6, 2, 0.5, False, True, False, 6, 6, True)),
    ("float32[2, 6, 8]", 'TransformerEncoderLayer(4, 32, 0.25, "gelu", 1e-6, true, false, false)',
     lambda: nn.TransformerEncoderLayer(8, 4, 32, 0.25, "gelu", 1e-6, True, False, False)),
    ("float32[2, 6, 8]", 'TransformerDecoderLayer(4, 32, 0.25, "gelu", 1e-6, false, true, false, memory=x)',
     lambda: nn.TransformerDecoderLayer(8, 4, 32, 0.25, "gelu", 1e-6, False, True, False)),
    ("float32[2, 6, 8]", 'TransformerEncoder(4, 2, 32, 0.25, "gelu", 1e-6, true, false, true)',
     lambda: nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 4, 32, 0.25, "gelu", 1e-6, True, False, True), 2)),
    ("float32[2, 6, 8]", 'TransformerDecoder(4, 2, 32, 0.25, "gelu", 1e-6, false, true, false, memory=x)',
     lambda: nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 4, 32, 0.25, "gelu", 1e-6, False, True, False), 2)),
    ("float32[5, 2, 8]", 'Transformer(4, 1, 2, 16, 0.25, "gelu", tgt=x)', lambda: nn.Transformer(8, 4, 1, 2, 16, 0.25, "gelu")),
    ("float32[2, 4, 5]", "LeakyReLU(0.2, true)", lambda: nn.LeakyReLU(negative_slope=0.2, inplace=True)),
    ("float32[2, 3]", "ELU(0.5, true)", lambda: nn.ELU(alpha=0.5, inplace=True)),
    ("float32[5]", "Softplus(2.0, 10.0)", lambda: nn.Softplus(beta=2.0, threshold=10.0)),
    ("float32[2, 4, 5]", "PReLU(4, 0.1)", lambda: nn.PReLU(num_parameters=4, init=0.1)),
    ("float32[2, 8, 3]", "GLU(1)", lambda: nn.GLU(dim=1)),
    ("float32[2, 3]", "ReLU6(true)", lambda: nn.ReLU6(inplace=True)),
    ("float32[2, 3, 4, 4]", "Dropout2d(0.3, true)", lambda: nn.Dropout2d(p=0.3, inplace=True)),
    ("float32[4, 3]", 'StochasticDepth(0.2, "batch")', lambda: torch_class("StochasticDepth")(p=0.2, mode="batch")),
    ("float32[2, 6, 2, 3, 3]", "BatchNorm3d(6, 0.001, 0.2, false)",
     lambda: nn.BatchNorm3d(6, eps=0.001, momentum=0.2, affine=False)),
    ("float32[2, 6, 7]", "GroupNorm(3, 0.001, false)", lambda: nn.GroupNorm(3, 6, eps=0.001, affine=False)),
    ("float32[2, 4, 5]", "InstanceNorm1d(4, 0.001, 0.2, true, true)",
     lambda: nn.InstanceNorm1d(4, eps=0.001, momentum=0.2, affine=True, track_running_stats=True)),
    ("float32[2, 4, 5]", "InstanceNorm1d(0.001, 0.2, true)",
     lambda: nn.InstanceNorm1d(4, eps=0.001, momentum=0.2, affine=True)),
    ("float32[1, 2, 9, 8]", "LPPool2d(3.0, (3, 2), (2, 1), true)",
     lambda: nn.LPPool2d(norm_type=3.0, kernel_size=(3, 2), stride=(2, 1), ceil_mode=True)),
    ("float32[2, 7, 8, 9]", "MaxPool3d(3, 2, 1, 2, false, true)",
     lambda: nn.MaxPool3d(3, stride=2, padding=1, dilation=2, ceil_mode=True)),
    ("float32[2, 5, 6, 7]", "AvgPool3d(3, 2, 1, true, false, 2)",
     lambda: nn.AvgPool3d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False, divisor_override=2)),
    ("float32[1, 2, 3]", "Upsample(7)", lambda: nn.Upsample(size=7)),
    ("float32[2, 8, 3, 4]", "PixelShuffle(2)", lambda: nn.PixelShuffle(upscale_factor=2)),
    ("float32[2, 2, 4, 6]", "PixelUnshuffle(2)", lambda: nn.PixelUnshuffle(downscale_factor=2)),
    ("float32[2, 3, 4, 4]", "ConstantPad2d((1, 2, 3, 4), -1.5)", lambda: nn.ConstantPad2d(padding=(1, 2, 3, 4), value=-1.5)),
    ("float32[2, 3, 5]", "ReflectionPad1d(3)", lambda: nn.ReflectionPad1d(padding=3)),
    ("float32[2, 3, 4, 4]", "ZeroPad2d((1, 0, 2, 1))", lambda: nn.ZeroPad2d(padding=(1, 0, 2, 1))),
    ("float32[4, 6, 5]", "Unflatten(1, (2, 3))", lambda: nn.Unflatten(dim=1, unflattened_size=(2, 3))),
    ("int32[2, 5]", 'EmbeddingBag(10, 3, 1.0, 3.0, true, "sum", true)',
     lambda: nn.EmbeddingBag(10, 3, max_norm=1.0, norm_type=3.0, scale_grad_by_freq=True, mode="sum", sparse=True)),
]
# how the hand-written module is called on the input (as its key and value, its memory, its target)
POSITIONAL_CALLS = {nn.MultiheadAttention: lambda m, x: m(x, x, x), nn.TransformerDecoderLayer: lambda m, x: m(x, x),
                    nn.TransformerDecoder: lambda m, x: m(x, x), nn.Transformer: lambda m, x: m(x, x)}
CONFIG = ("in_features", "out_features", "in_channels", "out_channels", "kernel_size", "stride", "padding",
          "output_padding", "dilation", "groups", "ceil_mode", "count_include_pad", "divisor_override", "input_size",
          "hidden_size", "num_layers", "bias", "batch_first", "bidirectional", "proj_size", "nonlinearity",
          "padding_idx", "normalized_shape", "eps", "affine", "elementwise_affine", "start_dim", "end_dim",
          "embed_dim", "num_heads", "kdim", "vdim", "dropout", "add_zero_attn", "_qkv_same_embed_dim", "p",
          "norm_first", "activation_relu_or_gelu", "activation", "d_model", "nhead", "inplace", "negative_slope",
          "alpha", "beta", "threshold", "num_parameters", "init", "dim", "mode", "num_groups", "num_channels",
          "num_features", "momentum", "track_running_stats", "norm_type", "size", "scale_factor", "align_corners",
          "recompute_scale_factor", "upscale_factor", "downscale_factor", "value", "unflattened_size",
          "num_embeddings", "embedding_dim", "max_norm", "scale_grad_by_freq", "include_last_offset", "sparse")


@pytest.mark.parametrize("input_type,stage,make", POSITIONAL, ids=[s for _, s, _ in POSITIONAL])
def test_positional_order_matches_torch_constructor(input_type, stage, make):
    text = f"network K {{\n    input x: {input_type}\n    out = x -> {stage}\n    output out\n}}\n"
    result, errors = check_one(text)
    assert not errors, errors
    (net,) = result.networks
    node = net.nodes[-1]
    module = make().eval()
    x = random_tensor(*parse_type(input_type))
    outs = flat(POSITIONAL_CALLS.get(type(module), lambda m, x: m(x))(module, x))
    assert [net.shape(o.tensor) for o in node.outputs] == [list(t.shape) for t in outs]
    assert net.dim(node.params) == sum(p.numel() for p in module.parameters())
    # the arguments the checker read are the ones the hand-written constructor got, in every
    # module the layer holds
    pos, kw = node.kind.constructor_args(node.args)
    emitted = emit(node.kind, pos, kw)
    pairs = list(zip(emitted.modules(), module.modules()))
    assert len(pairs) == len(list(module.modules()))
    for mine, theirs in pairs:
        assert type(mine).__name__ == type(theirs).__name__  # StochasticDepth: the built module's own class
        for attr in CONFIG:
            if hasattr(theirs, attr) and not isinstance(getattr(theirs, attr), (torch.Tensor, nn.Module)):
                assert getattr(mine, attr) == getattr(theirs, attr), (type(theirs).__name__, attr)


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
    ("ConvTranspose1d(4, 3, stride=2, padding=1, output_padding=1)", 1),
    ("ConvTranspose2d(4, (3, 2), stride=(2, 3), padding=(1, 0), dilation=(1, 2), output_padding=(1, 1))", 2),
    ("Conv2d(4, 3, stride=2) -> ConvTranspose2d(3, 3, stride=2, padding=1)", 2),
    ("Conv3d(4, 3, stride=2, padding=1)", 3),
    ("ConvTranspose3d(2, (2, 3, 1), stride=(2, 1, 3), padding=(0, 1, 0))", 3),
    ("MaxPool3d((1, 3, 2), stride=(1, 2, 2), padding=(0, 1, 1))", 3),
    ("AvgPool3d(2, stride=(1, 2, 3), ceil_mode=true)", 3),
    ("AdaptiveMaxPool3d((2, 1, 3))", 3),
    ("LPPool1d(2, 3, stride=2)", 1),
    ("LPPool2d(2, (2, 3), ceil_mode=true)", 2),
    ("Upsample(scale_factor=1.5)", 2),
    ('Conv2d(4, 3) -> Upsample(scale_factor=(0.5, 2.5), mode="bilinear")', 2),
    ('interpolate(scale_factor=0.75, mode="linear")', 1),
    ("Upsample(size=(6, 4)) -> PixelUnshuffle(2) -> PixelShuffle(2)", 2),
]
SIZES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 16, 17, 23, 31, 32]


@pytest.mark.parametrize("stages,n", SYMBOLIC, ids=[s for s, _ in SYMBOLIC])
def test_symbolic_sizes_match_torch(stages, n):
    spatial = ["h", "w", "d"][:n]
    text = (f"network K {{\n    input x: float32[2, 3, {', '.join(spatial)}]\n"
            f"    out = x -> {stages}\n    output out\n}}\n")
    result, errors = check_one(text)
    assert not errors, errors
    unproven = [d for d in result.reporter.items if d.code == "unproven"]
    (net,) = result.networks
    stated = net.shape(net.outputs[0][1].tensor)
    compared = 0
    for size in SIZES:
        env = {"h": size, "w": size + 1, "d": size + 2}
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


# -- parameter counts of the composite layers, every flag that changes them ---------------------

def _flag_cases() -> list[tuple[str, dict]]:
    """(stage, tensors beyond x: float32[5, 3, 8]) over every combination of the arguments
    that change a parameter count."""
    cases = []
    for bias in ("true", "false"):
        for kv in ("true", "false"):
            for dims, tensors in (("", {}), (", key=k, value=v, kdim=5, vdim=3",
                                             {"k": "float32[7, 3, 5]", "v": "float32[7, 3, 3]"}),
                                  (", kdim=8, vdim=8", {})):
                cases.append((f"MultiheadAttention(2, bias={bias}, add_bias_kv={kv}{dims})", tensors))
        memory = {"m": "float32[6, 3, 8]"}
        cases.append((f"TransformerEncoderLayer(2, 12, bias={bias})", {}))
        cases.append((f"TransformerDecoderLayer(4, 6, bias={bias}, memory=m)", memory))
        for norm in ("true", "false"):
            for layers in (1, 3):
                cases.append((f"TransformerEncoder(2, {layers}, 10, bias={bias}, norm={norm})", {}))
                cases.append((f"TransformerDecoder(2, {layers}, 10, bias={bias}, norm={norm}, memory=m)", memory))
        for enc, dec in ((1, 2), (3, 1)):
            cases.append((f"Transformer(4, {enc}, {dec}, 6, bias={bias}, tgt=t)", {"t": "float32[4, 3, 8]"}))
    return cases


FLAG_CASES = _flag_cases()


@pytest.mark.parametrize("stage,tensors", FLAG_CASES, ids=[s for s, _ in FLAG_CASES])
def test_parameter_counts_match_torch_for_every_flag_combination(stage, tensors):
    types = {"x": "float32[5, 3, 8]"} | tensors
    decls = "\n".join(f"    input {n}: {t}" for n, t in types.items())
    result, errors = check_one(f"network K {{\n{decls}\n    out = x -> {stage}\n    output out\n}}\n")
    assert not errors, errors
    (net,) = result.networks
    env = {n: random_tensor(*parse_type(t)) for n, t in types.items()}
    outs, module = run_stage(stage, env["x"], env)
    assert net.dim(net.nodes[-1].params) == sum(p.numel() for p in module.parameters())
    assert [net.shape(o.tensor) for o in net.nodes[-1].outputs] == [list(t.shape) for t in outs]


# -- the transposed convolution's size rule over a table of cases ------------------------------

TRANSPOSED = [  # (size, kernel, stride, padding, dilation, output_padding)
    (L, k, st, p, d, op)
    for L in (1, 2, 3, 7)
    for k in (1, 2, 3, 5)
    for st in (1, 2, 3)
    for p in (0, 1, 2)
    for d in (1, 2)
    for op in (0, 1, 2)
    if op < st or op < d
]


def test_conv_transpose_out_matches_torch():
    """conv_transpose_out, concrete and symbolic, against the size torch's ConvTranspose1d
    makes; where the rule gives less than 1, torch refuses the input."""
    from netspec.dims import sym
    from netspec.kinds.conv import conv_transpose_out

    refused = 0
    for L, k, st, p, d, op in TRANSPOSED:
        want = conv_transpose_out(L, k, st, p, d, op)
        assert evaluate(conv_transpose_out(sym("L"), k, st, p, d, op), {"L": L}) == want
        layer = nn.ConvTranspose1d(1, 1, k, stride=st, padding=p, output_padding=op, dilation=d, bias=False)
        try:
            got = layer(torch.zeros(1, 1, L)).shape[-1]
        except RuntimeError:
            assert want < 1, (L, k, st, p, d, op, want)
            refused += 1
            continue
        assert got == want, (L, k, st, p, d, op)
    assert refused and refused < len(TRANSPOSED) // 4


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


# -- tensors by keyword: EmbeddingBag's offsets and per_sample_weights ---------------------------

BAG_CASES = [
    # (inputs, stage, ok)
    ({"x": "int64[7]", "offsets": "int64[3]"}, "EmbeddingBag(10, 4, offsets=offsets)", True),
    ({"x": "int64[7]", "offsets": "int32[3]"}, "EmbeddingBag(10, 4, include_last_offset=true, offsets=offsets)",
     True),
    ({"x": "int32[2, 5]", "w": "float32[2, 5]"}, 'EmbeddingBag(10, 4, mode="sum", per_sample_weights=w)', True),
    ({"x": "int64[6]", "offsets": "int64[2]", "w": "float32[6]"},
     'EmbeddingBag(10, 4, mode="sum", offsets=offsets, per_sample_weights=w)', True),
    ({"x": "int64[7]"}, "EmbeddingBag(10, 4)", False),
    ({"x": "int64[2, 5]", "offsets": "int64[2]"}, "EmbeddingBag(10, 4, offsets=offsets)", False),
    ({"x": "int64[7]", "offsets": "int64[1, 3]"}, "EmbeddingBag(10, 4, offsets=offsets)", False),
    ({"x": "int64[7]", "offsets": "float32[3]"}, "EmbeddingBag(10, 4, offsets=offsets)", False),
    ({"x": "int64[7]", "offsets": "int64[0]"}, "EmbeddingBag(10, 4, include_last_offset=true, offsets=offsets)",
     False),
    ({"x": "int64[2, 5]", "w": "float32[2, 5]"}, "EmbeddingBag(10, 4, per_sample_weights=w)", False),
    ({"x": "int64[2, 5]", "w": "float32[2, 4]"}, 'EmbeddingBag(10, 4, mode="sum", per_sample_weights=w)', False),
    ({"x": "int64[2, 5]", "w": "float64[2, 5]"}, 'EmbeddingBag(10, 4, mode="sum", per_sample_weights=w)', False),
]


@pytest.mark.parametrize("types,stage,ok", BAG_CASES, ids=[f"{s}-{'ok' if o else 'bad'}" for _, s, o in BAG_CASES])
def test_embedding_bag_tensors_match_torch(types, stage, ok):
    decls = "\n".join(f"    input {n}: {t}" for n, t in types.items())
    text = f"network K {{\n{decls}\n    out = x -> {stage}\n    output out\n}}\n"
    result, errors = check_one(text)
    torch.manual_seed(0)
    env = example_tensors(types)
    if ok:
        assert not errors, errors
        (net,) = result.networks
        node = net.nodes[-1]
        outs, module = run_stage(stage, env["x"], env)
        assert [(o.tensor.dtype, net.shape(o.tensor)) for o in node.outputs] == \
               [(torch_dtype_name(t), list(t.shape)) for t in outs]
        assert net.dim(node.params) == sum(p.numel() for p in module.parameters())
    else:
        assert errors, f"the checker accepted {stage} with {types}"
        assert all(e.startswith(f"{len(types) + 2}:") for e in errors), errors
        with pytest.raises((RuntimeError, ValueError)):
            run_stage(stage, env["x"], env)


def test_built_embedding_bag_takes_its_tensors_by_keyword():
    from netspec import api

    text = ('network Net {\n    input ids: int64[n]\n    input starts: int64[bags]\n    input w: float32[n]\n'
            '    y = ids -> EmbeddingBag(10, 4, mode="sum", offsets=starts, per_sample_weights=w)\n'
            '    z = ids -> unsqueeze(0) -> EmbeddingBag(10, 3)\n    output y, z\n}\n')
    spec = api.loads(text, file="bag.net")
    assert "offsets=starts, per_sample_weights=w" in spec.code.replace("\n", " ").replace("  ", "")
    model = spec.module("Net")
    y, z = model(torch.tensor([1, 2, 3, 4, 5, 6, 7]), torch.tensor([0, 3]), torch.ones(7))
    assert list(y.shape) == [2, 4] and list(z.shape) == [1, 3]


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
    ({"x": "float32[2, 3, 4]"}, "x", ["Permute((1, 0))"], "rank", 0),
    ({"x": "float32[2, 3, 4]"}, "x", ["Permute((0, 0, 1))"], "value", 0),
    ({"x": "float32[2, 8, 3]"}, "x", ["LayerNorm2d"], "rank", 0),
    ({"x": "float32[2, 8, 3, 3]"}, "x", ["LayerNorm2d(7)"], "shape", 0),
    ({"x": "float32[2, 8, 3, 3]"}, "x", ["LayerNorm2d(normalized_shape=(8, 3))"], "shape", 0),
    ({"x": "float32[2, 8, 3, 3]"}, "x", ["Conv2d(4, 1)", "LayerNorm2d(8)"], "shape", 1),
    ({"x": "int64[2, 8, 3, 3]"}, "x", ["LayerNorm2d"], "dtype", 0),
    ({"x": "float32[2, 3, 4]"}, "x", ["unsqueeze(4)"], "rank", 0),
    ({"x": "float32[2, 3, 4]"}, "x", ["squeeze(-4)"], "rank", 0),
    ({"x": "float32[2, 3]"}, "x", ["select(1, 3)"], "value", 0),
    ({"x": "float32[2, 3]"}, "x", ["Softmax(dim=2)"], "rank", 0),
    ({"x": "float32[2, 3, 4, 5]"}, "x", ["Flatten(2, 1)"], "value", 0),
    ({"x": "float32[2, 3]"}, "x", ["Embedding(10, 4)"], "dtype", 0),
    ({"x": "int64[2, 3]"}, "x", ["Linear(4)"], "dtype", 0),
    ({"x": "bool[2, 3]"}, "x", ["ReLU"], "dtype", 0),
    ({"x": "bool[2, 3]"}, "x", ["ReLU6"], "dtype", 0),
    ({"x": "int64[2, 3]"}, "x", ["SiLU"], "dtype", 0),
    ({"x": "int32[2, 3]"}, "x", ["GLU"], "dtype", 0),
    ({"x": "float32[2, 5]"}, "x", ["GLU"], "shape", 0),
    ({"x": "float32[2, 4]"}, "x", ["Linear(6)", "GLU", "GLU"], "shape", 2),
    ({"x": "float32[2, 4]"}, "x", ["GLU(2)"], "rank", 0),
    ({"x": "float32[2, 3, 4]"}, "x", ["PReLU(4)"], "shape", 0),
    ({"x": "float32[5]"}, "x", ["PReLU(5)"], "shape", 0),
    ({"x": "float32[]"}, "x", ["PReLU(2)"], "rank", 0),
    ({"x": "float32[2, 3, 4, 5]"}, "x", ["Dropout1d"], "rank", 0),
    ({"x": "float32[2, 3]"}, "x", ['StochasticDepth(1.5, "row")'], "value", 0),
    ({"x": "float32[2, 3]"}, "x", ['StochasticDepth(0.5, "col")'], "argument", 0),
    ({"x": "float32[2, 3, 4, 4]"}, "x", ["BatchNorm3d"], "rank", 0),
    ({"x": "float32[2, 4, 5]"}, "x", ["GroupNorm(3)"], "value", 0),
    ({"x": "float32[2, 4, 5]"}, "x", ["Conv1d(6, 1)", "GroupNorm(4)"], "value", 1),
    ({"x": "float32[2, 4, 5]"}, "x", ["GroupNorm(2, num_channels=6)"], "shape", 0),
    ({"x": "float32[4]"}, "x", ["GroupNorm(2)"], "rank", 0),
    ({"x": "int64[2, 4]"}, "x", ["GroupNorm(2)"], "dtype", 0),
    ({"x": "float32[1, 3]"}, "x", ["GroupNorm(3)"], "size", 0),
    ({"x": "float32[1, 4, 3]"}, "x", ["Linear(1)", "GroupNorm(4)"], "size", 1),
    ({"x": "float32[2, 3, 1]"}, "x", ["InstanceNorm1d"], "size", 0),
    ({"x": "float32[2, 3, 4, 4]"}, "x", ["Conv2d(3, 4)", "InstanceNorm2d"], "size", 1),
    ({"x": "float32[2, 3, 5]"}, "x", ["InstanceNorm1d(affine=true, num_features=4)"], "shape", 0),
    ({"x": "float32[4, 4]"}, "x", ["InstanceNorm2d"], "rank", 0),
    ({"x": "float32[2, 4, 4]"}, "x", ["MaxPool3d(2)"], "rank", 0),
    ({"x": "float32[1, 2, 2, 4, 4]"}, "x", ["AvgPool3d(3)"], "size", 0),
    ({"x": "float32[1, 2, 2, 2]"}, "x", ["LPPool2d(2, 3)"], "size", 0),
    ({"x": "float32[1, 2, 4, 4]"}, "x", ['Upsample(scale_factor=2, mode="trilinear")'], "rank", 0),
    ({"x": "float32[1, 2, 4]"}, "x", ['Upsample(scale_factor=2, mode="linear")', "Conv1d(3, 9)"], "size", 1),
    ({"x": "float32[1, 2, 9, 9]"}, "x", ['interpolate(scale_factor=0.1, mode="bicubic")'], "size", 0),
    ({"x": "float32[1, 2, 9, 9]"}, "x", ['interpolate(size=(3, 3), scale_factor=2)'], "argument", 0),
    ({"x": "float32[2, 6, 3, 3]"}, "x", ["PixelShuffle(2)"], "shape", 0),
    ({"x": "float32[2, 4, 3, 3]"}, "x", ["PixelShuffle(2)", "PixelShuffle(2)"], "shape", 1),
    ({"x": "float32[8, 3]"}, "x", ["PixelShuffle(2)"], "rank", 0),
    ({"x": "float32[2, 4, 3, 3]"}, "x", ["PixelShuffle(0)"], "value", 0),
    ({"x": "float32[2, 4, 3, 4]"}, "x", ["PixelUnshuffle(2)"], "shape", 0),
    ({"x": "float32[2, 4, 4, 6]"}, "x", ["PixelUnshuffle(4)"], "shape", 0),
    ({"x": "float32[2, 3, 5]"}, "x", ["ReflectionPad1d(5)"], "size", 0),
    ({"x": "float32[2, 3, 4, 5]"}, "x", ["ReflectionPad2d((1, 1, 4, 0))"], "size", 0),
    ({"x": "float32[2, 3, 5]"}, "x", ["ReplicationPad1d((-5, 0))"], "size", 0),
    ({"x": "float32[2, 3, 5]"}, "x", ["ZeroPad1d((-6, 0))"], "size", 0),
    ({"x": "float32[2, 3, 5]"}, "x", ["ZeroPad1d(-2)", "ZeroPad1d(-1)"], "size", 1),
    ({"x": "float32[4, 5]"}, "x", ["ReflectionPad2d(1)"], "rank", 0),
    ({"x": "bool[2, 3, 5]"}, "x", ["ReflectionPad1d(1)"], "dtype", 0),
    ({"x": "float32[3]"}, "x", ["ZeroPad2d(1)"], "rank", 0),
    ({"x": "float32[2, 3, 4]"}, "x", ["pad((1, 1, 1))"], "value", 0),
    ({"x": "float32[2, 3, 4, 5]"}, "x", ['pad((1, 1), mode="reflect")'], "rank", 0),
    ({"x": "float32[2, 3, 4]"}, "x", ['pad((1, 1), mode="reflect", value=1.0)'], "value", 0),
    ({"x": "float32[1, 2, 5]"}, "x", ['pad((6, 0), mode="circular")'], "size", 0),
    ({"x": "float32[5]"}, "x", ["pad((1, 1, 1, 1))"], "rank", 0),
    ({"x": "bool[2, 3, 5]"}, "x", ['pad((1, 1), "replicate")'], "dtype", 0),
    ({"x": "float32[2, 6]"}, "x", ["Unflatten(1, (4, -1))"], "shape", 0),
    ({"x": "float32[2, 6]"}, "x", ["Unflatten(1, (2, 4))"], "shape", 0),
    ({"x": "float32[2, 4]"}, "x", ["Linear(6)", "Unflatten(-1, (4, 2))"], "shape", 1),
    ({"x": "float32[2, 6]"}, "x", ["Unflatten(1, (-1, -1))"], "value", 0),
    ({"x": "float32[2, 6]"}, "x", ["Unflatten(1, (-2, -3))"], "value", 0),
    ({"x": "float32[2, 6]"}, "x", ["Unflatten(2, (2, 3))"], "rank", 0),
    ({"x": "float32[2, 6]"}, "x", ["Unflatten(1, 6)"], "argument", 0),
    ({"x": "float32[2, 3]"}, "x", ["EmbeddingBag(10, 4)"], "dtype", 0),
    ({"x": "int64[2, 3, 4]"}, "x", ["EmbeddingBag(10, 4)"], "rank", 0),
    ({"x": "int64[7]"}, "x", ["EmbeddingBag(10, 4)"], "argument", 0),
    ({"x": "int64[2, 3]"}, "x", ['EmbeddingBag(10, 4, mode="max", sparse=true)'], "value", 0),
    ({"x": "int64[2, 3]"}, "x", ['EmbeddingBag(10, 4, mode="max", scale_grad_by_freq=true)'], "value", 0),
    ({"x": "float32[3, 4]"}, "x", ["LPPool2d(2, 2)"], "rank", 0),
    ({"x": "float32[2, 3, 5, 5]"}, "x", ["BatchNorm2d(num_features=4)"], "shape", 0),
    ({"x": "float32[2, 7]"}, "x", ["LayerNorm(8)"], "shape", 0),
    ({"x": "float32[7]"}, "x", ["Linear(4)", "LSTM(6)"], "rank", 1),
    ({"x": "float32[2, 5, 7]"}, "x", ["LSTM(6, proj_size=6)"], "value", 0),
    ({"x": "float32[2, 5, 7]"}, "x", ["LSTM(6, input_size=5)"], "shape", 0),
    # transposed convolutions
    ({"x": "float32[1, 4, 5, 5]"}, "x", ["ConvTranspose2d(6, 3, stride=2, output_padding=2)"], "value", 0),
    ({"x": "float32[1, 4, 5, 5]"}, "x", ["ConvTranspose2d(6, 3, output_padding=1)"], "value", 0),
    ({"x": "float32[1, 4, 5, 5]"}, "x", ['ConvTranspose2d(6, 3, padding="same")'], "value", 0),
    ({"x": "float32[1, 4, 5, 5]"}, "x", ['ConvTranspose2d(6, 3, padding_mode="reflect")'], "value", 0),
    ({"x": "float32[1, 4, 5, 5]"}, "x", ["ConvTranspose2d(6, 3, padding=true)"], "argument", 0),
    ({"x": "float32[1, 4, 5, 5]"}, "x", ["ConvTranspose2d(6, 3, padding=(1, 1, 1))"], "argument", 0),
    ({"x": "float32[1, 4, 5, 5]"}, "x", ["ConvTranspose2d(6, 3, groups=4)"], "value", 0),
    ({"x": "float32[1, 4, 5]"}, "x", ["ConvTranspose1d(6, 3, padding=-1)"], "value", 0),
    ({"x": "float32[1, 4, 1]"}, "x", ["ConvTranspose1d(6, 1, padding=1)"], "size", 0),
    ({"x": "float32[1, 4, 5, 5]"}, "x", ["ConvTranspose2d(6, 3, in_channels=3)"], "shape", 0),
    ({"x": "float32[4, 5, 5]"}, "x", ["ConvTranspose3d(6, 3)"], "rank", 0),
    ({"x": "float32[1, 3, 4, 4, 4]"}, "x", ["Conv3d(4, 3, stride=2)", "Conv3d(4, 2)"], "size", 1),
    # attention: the embedding, the key and value, the masks
    ({"x": "float32[5, 3, 9]"}, "x", ["MultiheadAttention(2)"], "value", 0),
    ({"x": "float32[5, 3, 8]", "k": "float32[7, 3, 6]", "v": "float32[7, 3, 3]"}, "x",
     ["MultiheadAttention(2, key=k, value=v, kdim=5, vdim=3)"], "shape", 0),
    ({"x": "float32[5, 3, 8]", "k": "float32[7, 3, 5]", "v": "float32[7, 3, 5]"}, "x",
     ["MultiheadAttention(2, key=k, value=v, kdim=5, vdim=3)"], "shape", 0),
    ({"x": "float32[5, 3, 8]"}, "x", ["MultiheadAttention(2, kdim=5)"], "shape", 0),
    ({"x": "float32[5, 3, 8]", "k": "float32[7, 4, 8]"}, "x", ["MultiheadAttention(2, key=k)"], "shape", 0),
    ({"x": "float32[5, 3, 8]", "k": "float32[7, 3, 8]", "v": "float32[6, 3, 8]"}, "x",
     ["MultiheadAttention(2, key=k, value=v)"], "shape", 0),
    ({"x": "float32[5, 3, 8]", "k": "float64[7, 3, 8]"}, "x", ["MultiheadAttention(2, key=k)"], "dtype", 0),
    ({"x": "float32[5, 3, 8]", "k": "float32[7, 8]"}, "x", ["MultiheadAttention(2, key=k)"], "rank", 0),
    ({"x": "float32[5, 3, 8]", "m": "bool[5, 6]"}, "x", ["MultiheadAttention(2, attn_mask=m)"], "shape", 0),
    ({"x": "float32[5, 3, 8]", "m": "bool[2, 5, 5]"}, "x", ["MultiheadAttention(2, attn_mask=m)"], "shape", 0),
    ({"x": "float32[5, 3, 8]", "m": "bool[6, 5, 5]"}, "x", ["MultiheadAttention(2, batch_first=true, attn_mask=m)"],
     "shape", 0),
    ({"x": "float32[5, 8]", "m": "bool[4, 5, 5]"}, "x", ["MultiheadAttention(2, attn_mask=m)"], "shape", 0),
    ({"x": "float32[5, 3, 8]", "m": "bool[1, 3, 5, 5]"}, "x", ["MultiheadAttention(2, attn_mask=m)"], "shape", 0),
    ({"x": "float32[5, 3, 8]", "m": "int64[5, 5]"}, "x", ["MultiheadAttention(2, attn_mask=m)"], "dtype", 0),
    ({"x": "float32[5, 3, 8]", "m": "float64[5, 5]"}, "x", ["MultiheadAttention(2, attn_mask=m)"], "dtype", 0),
    ({"x": "float32[5, 3, 8]", "m": "float64[5, 5]"}, "x",
     ["MultiheadAttention(2, attn_mask=m, need_weights=false)"], "dtype", 0),
    ({"x": "float32[5, 3, 8]", "p": "bool[3, 4]"}, "x", ["MultiheadAttention(2, key_padding_mask=p)"], "shape", 0),
    ({"x": "float32[5, 3, 8]", "p": "bool[5, 3]"}, "x", ["MultiheadAttention(2, key_padding_mask=p)"], "shape", 0),
    ({"x": "float32[5, 8]", "p": "bool[1, 5]"}, "x", ["MultiheadAttention(2, key_padding_mask=p)"], "shape", 0),
    ({"x": "float32[5, 3, 8]"}, "x", ["MultiheadAttention(2, is_causal=true)"], "value", 0),
    ({"x": "float32[5, 3, 8]"}, "x", ["MultiheadAttention(2, is_causal=true, need_weights=false)"], "value", 0),
    ({"x": "float32[5, 3, 8, 1]"}, "x", ["MultiheadAttention(2)"], "rank", 0),
    ({"x": "float32[5, 3, 8]"}, "x", ["MultiheadAttention(2, embed_dim=4)"], "shape", 0),
    # transformers
    ({"x": "float32[5, 3, 6]"}, "x", ["TransformerEncoderLayer(4, 8)"], "value", 0),
    ({"x": "float32[5, 3, 8]", "m": "bool[5, 4]"}, "x", ["TransformerEncoderLayer(2, 8, src_mask=m)"], "shape", 0),
    ({"x": "float32[5, 3, 8]", "p": "bool[3, 4]"}, "x", ["TransformerEncoderLayer(2, 8, src_key_padding_mask=p)"],
     "shape", 0),
    ({"x": "float32[5, 3, 8]"}, "x", ["TransformerEncoderLayer(2, 8, is_causal=true)"], "value", 0),
    ({"x": "float32[5, 3, 8]"}, "x", ["TransformerEncoder(2, 2, 8, is_causal=true)"], "value", 0),
    ({"x": "float32[5, 3, 8]", "m": "float64[5, 5]"}, "x", ["TransformerEncoder(2, 1, 8, mask=m)"], "dtype", 0),
    ({"x": "float32[5, 3, 8]"}, "x", ["TransformerDecoderLayer(2, 8)"], "argument", 0),
    ({"x": "float32[5, 3, 8]", "m": "float32[7, 3, 6]"}, "x", ["TransformerDecoderLayer(2, 8, memory=m)"], "shape", 0),
    ({"x": "float32[5, 3, 8]", "m": "float32[7, 4, 8]"}, "x", ["TransformerDecoder(2, 1, 8, memory=m)"], "shape", 0),
    ({"x": "float32[5, 3, 8]", "m": "float32[7, 3, 8]", "mm": "bool[5, 5]"}, "x",
     ["TransformerDecoder(2, 1, 8, memory=m, memory_mask=mm)"], "shape", 0),
    ({"x": "float32[5, 3, 8]", "m": "float32[7, 3, 8]"}, "x",
     ["TransformerDecoderLayer(2, 8, memory=m, tgt_is_causal=true)"], "value", 0),
    ({"x": "float32[5, 3, 8]"}, "x", ["Transformer(2, 1, 1, 8)"], "argument", 0),
    ({"x": "float32[5, 3, 8]", "t": "float32[4, 2, 8]"}, "x", ["Transformer(2, 1, 1, 8, tgt=t)"], "shape", 0),
    ({"x": "float32[5, 3, 8]", "t": "float32[4, 8]"}, "x", ["Transformer(2, 1, 1, 8, tgt=t)"], "rank", 0),
    ({"x": "float32[5, 3, 8]", "t": "float32[4, 3, 6]"}, "x", ["Transformer(2, 1, 1, 8, tgt=t)"], "shape", 0),
    ({"x": "float32[5, 3, 8]", "t": "float32[4, 3, 8]", "tm": "bool[4, 5]"}, "x",
     ["Transformer(2, 1, 1, 8, tgt=t, tgt_mask=tm)"], "shape", 0),
    ({"x": "float32[5, 3, 8]", "t": "float32[4, 3, 8]"}, "x", ["Transformer(2, 1, 1, 8, tgt=t, src_is_causal=true)"],
     "value", 0),
    ({"x": "float32[5, 3, 12]", "t": "float32[4, 3, 12]"}, "x", ["Transformer(tgt=t)"], "value", 0),
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


# -- layout: attention reads [seq, batch, E] unless batch_first, as recurrent layers do -----------

LAYOUT = [
    # (inputs, stage, the text the error points at: the stage, or the tensor argument)
    ({"x": "float32[batch, seq, 8]"}, "MultiheadAttention(2)", "MultiheadAttention(2)"),
    ({"x": "float32[seq, batch, 8]"}, "MultiheadAttention(2, batch_first=true)", None),
    ({"x": "float32[seq, batch, 8]", "k": "float32[batch, seq, 8]"}, "MultiheadAttention(2, key=k)", "key=k"),
    ({"x": "float32[seq, batch, 8]", "k": "float32[seq, batch, 8]", "v": "float32[batch, seq, 8]"},
     "MultiheadAttention(2, key=k, value=v)", "value=v"),
    ({"x": "float32[N, T, 8]"}, "TransformerEncoderLayer(2, 8)", None),
    ({"x": "float32[T, B, 8]"}, "TransformerEncoder(2, 1, 8, batch_first=true)", None),
    ({"x": "float32[seq, batch, 8]", "m": "float32[batch, seq, 8]"}, "TransformerDecoderLayer(2, 8, memory=m)",
     "memory=m"),
    ({"x": "float32[batch, seq, 8]", "m": "float32[time, batch, 8]"},
     "TransformerDecoder(2, 1, 8, memory=m, batch_first=true)", "memory=m"),
    ({"x": "float32[seq, batch, 8]", "t": "float32[batch, seq, 8]"}, "Transformer(2, 1, 1, 8, tgt=t)", "tgt=t"),
]
SIZES_OF = {"batch": 2, "seq": 3, "time": 5, "N": 2, "T": 4, "B": 3}


@pytest.mark.parametrize("types,stage,at", LAYOUT, ids=[s for _, s, _ in LAYOUT])
def test_attention_reading_batch_as_time_is_a_layout_error(types, stage, at):
    """A batch symbol where attention reads the sequence (or a time symbol as the batch) is a
    `layout` error at the stage or at the tensor argument, with the recurrent layers' help;
    the allow comment accepts it, and where the error is the piped input's, torch runs the
    stage with the shapes the check then states."""
    decls = "\n".join(f"    input {n}: {t}" for n, t in types.items())
    line = f"    out = x -> {stage}"
    text = f"network K {{\n{decls}\n{line}\n    output out\n}}\n"
    result, _ = check_one(text)
    (d,) = result.reporter.errors
    assert d.code == "layout" and d.span.line == len(types) + 2, d.message
    start = line.index(at if at is not None else stage) + 1
    assert start <= d.span.column < start + len(at or stage), (d.span, d.message)
    assert "batch_first" in d.help and "allow[layout]" in d.help
    if at is not None and not at.startswith(stage.split("(")[0]):
        return  # a key or memory laid out otherwise has another batch than the input: torch refuses it
    allowed, errors = check_one(text.replace(line, line + "  # netspec: allow[layout]"))
    assert not errors, errors
    (net,) = allowed.networks
    env = {n: random_tensor(*parse_type(re.sub(r"[A-Za-z_]+(?=[,\]])", lambda m: str(SIZES_OF[m.group(0)]), t)))
           for n, t in types.items()}
    outs, _ = run_stage(stage, env["x"], env)
    assert [[evaluate(dim, SIZES_OF) for dim in net.shape(o.tensor)] for o in net.nodes[-1].outputs] == \
           [list(t.shape) for t in outs]


@pytest.mark.parametrize("need_weights", [True, False])
def test_attention_weights_are_a_result_only_when_torch_returns_them(need_weights):
    flag = "true" if need_weights else "false"
    text = f"""network W {{
    input x: float32[5, 3, 8]
    a = x -> MultiheadAttention(2, need_weights={flag})
    b = a.output -> Linear(3)
    w = a.weights
    output b, w
}}
"""
    result, errors = check_one(text)
    module = nn.MultiheadAttention(8, 2).eval()
    _, weights = module(*[torch.randn(5, 3, 8)] * 3, need_weights=need_weights)
    if need_weights:
        assert not errors, errors
        (net,) = result.networks
        assert net.shape(dict(net.outputs)["w"].tensor) == list(weights.shape)
    else:
        assert weights is None
        assert [(e.code, e.span.line) for e in result.reporter.errors] == [("unknown-attr", 5)]


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
    env = example_tensors(types)
    x = env.get(source) if source else None
    for i, st in enumerate(stages):
        if i < index:
            x = run_stage(st, x, env)[0][0]
            continue
        with pytest.raises((RuntimeError, ValueError, IndexError, TypeError, AssertionError, AttributeError)):
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


# -- StochasticDepth: the class a built module defines computes what torchvision does -----------

SD_CASES = [(0.5, "row", (8, 3, 4), "float32"), (0.2, "batch", (4, 5), "float32"), (0.0, "row", (3, 2), "float32"),
            (1.0, "row", (4, 2), "float32"), (1.0, "batch", (3,), "float32"), (0.3, "batch", (), "float64"),
            (0.7, "row", (6,), "float64"), (0.25, "row", (16, 2, 2, 2), "bfloat16")]


@pytest.mark.parametrize("p,mode,shape,dtype", SD_CASES, ids=[f"{m}-{p}-{len(s)}d-{d}" for p, m, s, d in SD_CASES])
def test_stochastic_depth_computes_as_torchvision(p, mode, shape, dtype):
    torchvision = pytest.importorskip("torchvision")
    ours = emitted_class(REGISTRY["StochasticDepth"])(p, mode)
    theirs = torchvision.ops.StochasticDepth(p, mode)
    x = torch.randn(shape).to(DTYPE[dtype])
    for training in (True, False):
        ours.train(training)
        theirs.train(training)
        for seed in range(4):
            torch.manual_seed(seed)
            a = ours(x)
            torch.manual_seed(seed)
            b = theirs(x)
            assert a.dtype == b.dtype and torch.equal(a, b), (training, seed)
            if not training or p == 0.0:
                assert a is x and b is x  # the input itself, as torchvision returns it
            else:
                assert a is not x


def test_stochastic_depth_on_a_0_dim_input_in_row_mode_fails_as_torchvision():
    torchvision = pytest.importorskip("torchvision")
    text = 'network K {\n    input x: float32[]\n    y = x -> StochasticDepth(0.5, "row")\n    output y\n}\n'
    result, _ = check_one(text)
    assert [d.code for d in result.reporter.errors] == ["rank"]
    with pytest.raises(IndexError):
        torchvision.ops.StochasticDepth(0.5, "row").train()(torch.randn(()))


def test_built_module_defines_stochastic_depth_and_runs_as_torchvision():
    """A built module with StochasticDepth needs only torch, passes the injection check, and
    draws the same rows as torchvision's layer in training."""
    torchvision = pytest.importorskip("torchvision")
    from fuzzgen import check_module_ast

    from netspec import api

    text = ('network Net {\n    input x: float32[batch, 3, 8]\n'
            '    y = x -> StochasticDepth(0.5, "row")\n    z = x -> StochasticDepth(0.4, mode="batch")\n'
            '    output y, z\n}\n')
    spec = api.loads(text, file="sd.net")
    assert spec.code.count("class StochasticDepth(nn.Module):") == 1
    assert check_module_ast(spec.code) == []
    model = spec.module("Net").train()
    x = torch.randn(64, 3, 8)
    torch.manual_seed(1)
    y, z = model(x)
    torch.manual_seed(1)
    want_y = torchvision.ops.StochasticDepth(0.5, "row").train()(x)
    want_z = torchvision.ops.StochasticDepth(0.4, "batch").train()(x)
    assert torch.equal(y, want_y) and torch.equal(z, want_z)
    assert 0 < int((y == 0).all(dim=(1, 2)).sum()) < 64  # rows were dropped, not all of them
    y, z = model.eval()(x)
    assert y is x and z is x


@pytest.mark.parametrize("stage,input_type", [("Dropout2d", "float32[2, 3]"), ("Dropout3d", "float32[2, 3, 4]"),
                                              ("Dropout2d", "float32[1, 2, 3, 4, 5]")])
def test_ranks_torch_deprecates_are_errors(stage, input_type):
    """torch runs a channel dropout on these ranks with a warning that they will be errors."""
    text = f"network K {{\n    input x: {input_type}\n    y = x -> {stage}\n    output y\n}}\n"
    result, _ = check_one(text)
    assert [d.code for d in result.reporter.errors] == ["rank"]
    with pytest.warns(UserWarning, match="deprecated"):
        run_stage(stage, random_tensor(*parse_type(input_type)), {})


def test_group_norm_in_torch_order_is_refused_with_a_fix():
    """`GroupNorm(32, 64)` is torch's (num_groups, num_channels); here num_channels is inferred,
    so the 64 would be eps: an error that says so, not a silent eps=64."""
    text = "network K {\n    input x: float32[2, 64, 3]\n    y = x -> GroupNorm(32, 64)\n    output y\n}\n"
    result, _ = check_one(text)
    (err,) = result.reporter.errors
    assert err.code == "argument" and "num_channels=64" in err.message
    assert err.span.column == text.splitlines()[2].index("64") + 1
    fixed = text.replace("GroupNorm(32, 64)", "GroupNorm(32, num_channels=64)")
    assert not check_one(fixed)[1]
    assert not check_one(text.replace("GroupNorm(32, 64)", "GroupNorm(32, 0.001)"))[1]


# -- symbolic sizes that split: exact where the symbols divide, a warning where they may not -----

SPLITS = [
    # (input type, stage, warned): the stated shape against torch at several values of n
    ("float32[2, 2 * n]", "GLU", False),
    ("float32[2, n]", "GLU", True),
    ("float32[2, 4 * n, 3, 3]", "PixelShuffle(2)", False),
    ("float32[2, n, 3, 3]", "PixelShuffle(2)", True),
    ("float32[2, 3, 2 * n, 6]", "PixelUnshuffle(2)", False),
    ("float32[2, 3, n, 6]", "PixelUnshuffle(2)", True),
    ("float32[2, 4 * n, 3]", "Unflatten(1, (n, -1))", False),
    ("float32[2, 3 * n, 3]", "Unflatten(1, (-1, 3))", False),
    ("float32[2, n, 3]", "Unflatten(1, (2, -1))", True),
    ("float32[2, 6 * n]", "Unflatten(-1, (2, 3, n))", False),
    ("float32[2, 8, n]", "GroupNorm(4)", False),
    ("float32[2, n, 5]", "GroupNorm(2)", True),
]


@pytest.mark.parametrize("input_type,stage,warned", SPLITS, ids=[f"{s}-{t}" for t, s, _ in SPLITS])
def test_symbolic_splits_match_torch(input_type, stage, warned):
    text = f"network K {{\n    input x: {input_type}\n    y = x -> {stage}\n    output y\n}}\n"
    result, errors = check_one(text)
    assert not errors, errors
    assert [d.code for d in result.reporter.items] == (["unproven"] if warned else [])
    (net,) = result.networks
    stated = net.shape(net.outputs[0][1].tensor)
    ran = 0
    for n in range(1, 17):
        dims = [evaluate(d, {"n": n}) for d in net.inputs[0].tensor.shape]
        x = torch.randn(dims)
        try:
            (y,), _ = run_stage(stage.replace("n,", f"{n},").replace("n)", f"{n})"), x, {})
        except (RuntimeError, ValueError):
            assert warned, (n, stage)  # only where the warning said the sizes may not divide
            continue
        assert list(y.shape) == [evaluate(d, {"n": n}) for d in stated], (n, stage)
        ran += 1
    assert ran >= 4
