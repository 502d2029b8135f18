"""The layout of elementwise results (netspec.layout.iterated: TensorIterator's order of dims)
and the training memory that follows from it, against torch.

Random networks (seed printed, rotating; NETSPEC_SEED=N repeats one) make a tensor that
needs a gradient (a Linear), lay it out anew with views (permute, transpose, slices), run
elementwise kinds on it (activations, dropout, neg, a number, a product with a contiguous
copy, in either order of the operands), then a layer that reads its input as a matrix
(Linear, flatten then Linear, matmul), which copies an input it cannot view. The strides
netspec states for every result are compared with torch's ``.stride()`` (tests/observe.py),
the activation bytes of every new result with its storage's, and the bytes autograd saves
with what ``saved_tensors_hooks`` sees in a training step, at batch and seq 1, 2 and 3.
"""

from __future__ import annotations

import os
import random
import time
from itertools import product

import pytest

torch = pytest.importorskip("torch")
import test_specs_torch as hand  # noqa: E402
from observe import trace  # noqa: E402
from test_kinds_torch import run_stage  # noqa: E402
from test_layout import claims  # noqa: E402
from test_training_memory import measured_training  # noqa: E402

from netspec import api  # noqa: E402
from netspec.checker import check_text  # noqa: E402
from netspec.costs import layer_costs, network_training, training_pass  # noqa: E402
from netspec.dims import evaluate  # noqa: E402

UNARY = ["Sigmoid", "ReLU", "GELU", "Tanh", "SiLU", "LeakyReLU(0.1)", "Dropout(0.3)", "AlphaDropout(0.2)",
         "neg", "mul(2.0)", "add(1)", "rsub(1)", "pow(2)", "double -> float"]
SYMBOLS = ("batch", "seq")


def _views(rng: random.Random, sizes: list) -> tuple[str, list]:
    """A permute or a transpose of a tensor of ``sizes`` (literals and SYMBOLS) that keeps a
    literal size last (a Linear reads it)."""
    order = list(range(len(sizes)))
    rng.shuffle(order)
    if not isinstance(sizes[order[-1]], int):
        last = next(i for i in order if isinstance(sizes[i], int))
        order.remove(last)
        order.append(last)
    if rng.random() < 0.5:  # a transpose of the last dim with a literal one
        i = rng.choice([i for i in range(len(sizes) - 1) if isinstance(sizes[i], int)] or [len(sizes) - 1])
        order = list(range(len(sizes)))
        order[i], order[-1] = order[-1], order[i]
        return f"transpose({i}, {len(sizes) - 1})", [sizes[k] for k in order]
    return f"permute({', '.join(map(str, order))})", [sizes[k] for k in order]


def _slice(rng: random.Random, sizes: list) -> tuple[str, list]:
    """A slice of one literal dim: every other element, or all but one."""
    at = rng.choice([i for i, d in enumerate(sizes) if isinstance(d, int)])
    item = rng.choice(["::2", "1:", ":-1"])
    n = sizes[at]
    sizes = list(sizes)
    sizes[at] = (n + 1) // 2 if item == "::2" else n - 1
    return "[" + ", ".join(item if i == at else ":" for i in range(len(sizes))) + "]", sizes


def random_spec(rng: random.Random) -> str:
    """A network: a Linear, views, elementwise kinds, then a layer that folds its input."""
    sizes: list = rng.sample([*SYMBOLS, 4, 6], 4)
    if not isinstance(sizes[-1], int):
        sizes[-1] = 5
    lines = [f"h = x -> Linear({sizes[-1]})"]
    view, after = _views(rng, sizes)
    lines.append(f"t0 = h -> {view}")
    if rng.random() < 0.5:
        item, after = _slice(rng, after)
        lines.append(f"t{len(lines) - 1} = t{len(lines) - 2}{item}")
    for _ in range(rng.randint(1, 3)):
        t, new = f"t{len(lines) - 2}", f"t{len(lines) - 1}"
        pick = rng.random()
        if pick < 0.2:
            lines.append(f"{new} = {t} * ({t} -> contiguous)")
        elif pick < 0.3:
            lines.append(f"{new} = ({t} -> contiguous) + {t}")
        else:
            lines.append(f"{new} = {t} -> {rng.choice(UNARY)}")
    n = after[-1]
    fold = rng.choice(["Linear(3)", "flatten(0, 1) -> Linear(3)", f"reshape(-1, {n}) -> Linear(3)", "matmul(w)",
                       "transpose(0, 1) -> Linear(3)", "Sigmoid -> flatten(1, 2) -> Sigmoid"])
    lines.append(f"y = t{len(lines) - 2} -> {fold}")
    inputs = f"    input x: float32[{', '.join(map(str, sizes))}]\n"
    inputs += f"    input w: float32[{n}, 3]\n" if fold == "matmul(w)" else ""
    return "network K {\n" + inputs + "".join(f"    {line}\n" for line in lines) + "    output y\n}\n"


def _module(spec, net, env: dict):
    torch.manual_seed(0)
    model = spec.module_class("K")()
    inputs = [hand.random_input(*hand.concrete(net, v.tensor, env)) for v in net.inputs]
    return model, inputs


def _check_layout(spec, net, env: dict) -> None:
    """Every result's stated strides and activation bytes against the traced run."""
    model, inputs = _module(spec, net, env)
    model.train()
    _, observed = trace(spec, model, *inputs, network="K")
    for seen in observed:
        node = seen.node
        for value, actual in zip(node.outputs, seen.outputs):
            wrong = claims(net, value.tensor, actual, env)
            assert wrong is None, f"{node.kind_name} (line {node.span.line}) at {env}: {wrong}"
        stated = layer_costs(net, node).activation_bytes
        if stated != 0 and not node.kind.may_alias:  # new results: as many bytes as their storage
            made = sum(t.untyped_storage().nbytes() for t in seen.outputs)
            assert evaluate(stated, env) == made, f"{node.kind_name} (line {node.span.line}) at {env}"


def check_network(text: str, envs: list[dict], must_state: bool) -> None:
    spec = api.loads(text, file="k.net")
    net = spec.network("K")
    stated = network_training(net, "adam").saved_bytes
    assert stated is not None or (not must_state and training_pass(net).unsure), "unknown without a reason"
    for env in envs:
        _check_layout(spec, net, env)
        model, inputs = _module(spec, net, env)
        recorder, _, _ = measured_training(model, inputs)
        if stated is not None:
            assert evaluate(stated, env) == recorder.total, (env, sorted(recorder.storages.values()))


def _prefix(text: str, line: int, column: int) -> str:
    """The network up to the stage at ``line`` and ``column``, its result the output."""
    lines = text.split("\n")
    name, chain = (p.strip() for p in lines[line - 1].split("=", 1))
    before = lines[line - 1][:column - 1].rstrip().removesuffix("->").rstrip()
    if "->" in before:
        body, out = lines[:line - 1] + [before], name
    else:
        body, out = lines[:line - 1], chain.split("->")[0].strip()
    return "\n".join(body) + f"\n    output {out}\n}}\n"


def refused_as_torch_refuses(text: str, envs: list[dict]) -> bool:
    """False where check accepts ``text``. Where it refuses a stage for the memory layout of
    its input (Kind.refused_formats): the network up to that stage, built and run, and the
    stage then called in torch by hand (test_kinds_torch.run_stage) must raise, at every
    value of ``envs``, unless check says only that it may, or that it cannot tell the
    input's layout (a refusal that errs on the safe side: torch may run it)."""
    errors = check_text(text, "k.net").reporter.errors
    if not errors:
        return False
    (e,) = errors
    unsure = "cannot tell the memory layout" in e.message
    assert e.code == "value" and ("refuses an input laid out" in e.message or unsure), e.message
    line = text.split("\n")[e.span.line - 1]
    stage = line[e.span.column - 1:].split(" -> ")[0].strip()
    spec = api.loads(_prefix(text, e.span.line, e.span.column), file="k.net")
    for env in envs:
        model, inputs = _module(spec, spec.network("K"), env)
        x = model(*inputs)
        try:
            run_stage(stage, x, {})
        except RuntimeError as refusal:
            assert "memory format" in str(refusal), refusal
            continue
        assert unsure or "may be" in e.message, f"check refuses {stage} on strides {x.stride()} at {env}, torch runs it"
    return True


def _concrete(text: str, batch: int, seq: int) -> str:
    return text.replace("batch", str(batch)).replace("seq", str(seq))


def _random_round(make, round_: int) -> str:
    """One round's random network (its seed rotates and is printed), checked against torch
    with batch and seq symbolic at 1, 2 and 3."""
    seed = int(os.environ.get("NETSPEC_SEED", time.time_ns() % 2**32)) + round_
    print(f"seed {seed} (NETSPEC_SEED={seed - round_} repeats it)")
    text = make(random.Random(seed))
    print(text)
    envs = [dict(zip(("batch", "seq"), v)) for v in product((1, 2, 3), repeat=2)]
    if not refused_as_torch_refuses(text, envs):
        check_network(text, envs, must_state=False)
    return text


@pytest.mark.parametrize("round_", range(int(os.environ.get("NETSPEC_LAYOUT_ROUNDS", "6"))))
def test_random_elementwise_layout_and_training_memory_match_torch(round_):
    text = _random_round(random_spec, round_)
    for batch, seq in ((2, 3), (1, 2)):  # literal sizes: nothing depends on a symbol's value
        check_network(_concrete(text, batch, seq), [{}], must_state=True)


CHAINS = [  # (input, what follows a Linear `h`, whether it is stated with symbols)
    ("float32[batch, seq, 5]", "y = h -> transpose(0, 1) -> Sigmoid -> Linear(4)", False),  # a view at batch 1
    ("float32[batch, seq, 5]", "y = h -> transpose(1, 2) -> Tanh -> transpose(1, 2) -> Linear(4)", True),
    ("float32[batch, 6, 5]", "y = h -> transpose(1, 2) -> Dropout(0.2) -> flatten(1) -> Linear(4)", True),
    ("float32[batch, seq, 5]", "y = h -> transpose(0, 1) -> GELU -> matmul(w)", True),
    ("float32[batch, 6, 5]", "y = h -> transpose(1, 2) -> double -> float -> Linear(4)", True),
    ("float32[batch, 4, 6]", "y = h -> permute(2, 0, 1) -> neg -> mul(3) -> reshape(-1, 4) -> Linear(2)", False),
    ("float32[batch, seq, 5]", "y = h -> transpose(0, 1) -> contiguous -> Linear(4)", False),
    # neither dense nor in order: TensorIterator's result is dense, in the input's order of dims
    ("float32[batch, 6, 5]", "t = h -> transpose(1, 2)\n    y = t[:, :, ::2] -> Sigmoid -> flatten(1) -> Linear(4)", True),
    ("float32[batch, 6, 5]", "t = h -> transpose(1, 2)\n    y = t[:, 1:, ::2] -> Tanh -> Dropout -> flatten(1) -> Linear(4)",
     True),
    ("float32[batch, 6, 5]", "t = h -> transpose(1, 2)\n    u = t[:, :, ::2]\n    y = u * (u -> Sigmoid) -> flatten(1) -> Tanh",
     True),
]


@pytest.mark.parametrize("x_type,body,known", CHAINS, ids=[c[1].splitlines()[-1].split("= ", 1)[1].strip() for c in CHAINS])
def test_elementwise_layout_then_a_fold_matches_torch(x_type, body, known):
    """An elementwise result keeps its input's order of dims, so the fold after it copies."""
    other = "    input w: float32[5, 3]\n" if "matmul" in body else ""
    text = (f"network K {{\n    input x: {x_type}\n{other}    h = x -> Linear({x_type[-2]})\n"
            f"    {body}\n    output y\n}}\n")
    envs = [dict(zip(("batch", "seq"), v)) for v in product((1, 2, 3), repeat=2)]
    check_network(text, envs, must_state=known)
    check_network(_concrete(text, 2, 3), [{}], must_state=True)


# -- channels-last and permuted inputs of convolutions, pools and norms ------------------------------

# (stage, the channels of its result (None: its input's), what it needs of its input's spatial
# sizes: "" nothing, "2" at least 2 each, "n" more than one value per channel)
SPATIAL = [("Conv2d(4, 3, padding=1)", 4, ""), ("Conv2d(2, 1)", 2, ""), ("Conv2d(4, 3, stride=2, padding=1)", 4, ""),
           ("ConvTranspose2d(3, 2, stride=2)", 3, ""), ("BatchNorm2d", None, "n"), ("GroupNorm(1)", None, "n"),
           ("InstanceNorm2d", None, "n"), ("AdaptiveAvgPool2d(2)", None, ""), ("AdaptiveMaxPool2d((1, 3))", None, ""),
           ("Upsample(scale_factor=2)", None, ""), ('Upsample(scale_factor=2, mode="bilinear")', None, ""),
           ("ZeroPad2d(1)", None, ""), ("ReplicationPad2d((1, 0, 2, 1))", None, ""),
           ("MaxPool2d(2)", None, "2"), ("AvgPool2d(2)", None, "2"), ("LPPool2d(2, 2)", None, "2"),
           ("ReflectionPad2d(1)", None, "2"), ("Dropout2d(0.3)", None, ""), ("LayerNorm2d", None, ""),
           # kinds torch refuses on some layouts (Kind.refused_formats): a MaxPool3d reads the
           # 4-dim tensor as an unbatched [C, D, H, W]; a shuffle of a 5-dim view of it
           ("MaxPool3d(1)", None, ""), ("MaxPool3d((1, 2, 2))", None, "2"),
           ("unsqueeze(2) -> PixelShuffle(1) -> squeeze(2)", None, ""),
           ("unsqueeze(2) -> PixelUnshuffle(1) -> squeeze(2)", None, "")]
SHRINK = ("Pool", "stride=2", "(2, 3)", "(2,", "-1")  # stages after which a spatial size may be 1
UNSTATED = ("MaxPool3d", "Shuffle", "unsqueeze(0)")  # after which a layout may be unknown
REDUCE = ["sum(1, keepdim=true)", "mean((2, 3), keepdim=true)", "amax(1, keepdim=true)", "mean(-1, keepdim=true)",
          "var(2, keepdim=true)"]
# NHWC to NCHW: channels-last strides (mostly), the spatial dims swapped, or a contiguous copy
INTO_NCHW = ["permute(0, 3, 1, 2)"] * 3 + ["permute(0, 3, 2, 1)", "transpose(1, 3)", "permute(0, 3, 1, 2) -> contiguous"]


def _spatial_stage(rng: random.Random, roomy: bool, whole: bool) -> tuple[str, int | None]:
    """A convolution, pool, norm, reduction that keeps its dims, or elementwise kind that an
    input fits: spatial sizes at least 2 (``roomy``), more than one value per channel (``whole``)."""
    pick = rng.random()
    if pick < 0.55:
        stage, out, needs = rng.choice([s for s in SPATIAL if (roomy or s[2] != "2") and (whole or s[2] != "n")])
        return stage, out
    if pick < 0.75:
        stage = rng.choice(REDUCE)
        return stage, 1 if "(1," in stage else None
    return rng.choice(["ReLU", "Sigmoid", "Dropout(0.2)", "neg"]), None


def random_spatial_spec(rng: random.Random) -> str:
    """A network: an NHWC tensor made by a Linear, permuted to NCHW (mostly channels-last
    strides, else another order), convolutions, pools and norms (and their mixes with
    elementwise kinds and reductions that keep their dims), then a layer that reads the
    result as a matrix, which views it or copies it as its strides allow."""
    c, a, b = rng.choice([3, 4]), rng.choice(["seq", 4, 5]), rng.choice([4, 6])
    unbatched = rng.random() < 0.25  # an [H, W, C] input, a batch of one made by unsqueeze
    lines = [f"h = x -> Linear({c}){' -> unsqueeze(0)' if unbatched else ''}", f"t0 = h -> {rng.choice(INTO_NCHW)}"]
    literal = roomy = isinstance(a, int)
    whole = True  # b is at least 4
    for _ in range(rng.randint(1, 3)):
        t, new = f"t{len(lines) - 2}", f"t{len(lines) - 1}"
        stage, out = _spatial_stage(rng, roomy, whole)
        c = out or c
        if any(k in stage for k in SHRINK):
            roomy = whole = False
        lines.append(f"{new} = {t} -> {stage}")
    folds = ["permute(0, 2, 3, 1) -> Linear(3)", "transpose(1, 3) -> Linear(3)", f"reshape(-1, {c}) -> Linear(3)",
             "permute(0, 2, 3, 1) -> flatten(0, 2) -> Linear(3)"]
    if literal:
        folds.append("flatten(1) -> Linear(3)")
    keeps = rng.choice(["Sigmoid -> ", "ReLU -> "])  # a kind that saves its result: a copy after it shows
    lines.append(f"y = t{len(lines) - 2} -> {keeps}{rng.choice(folds)}")
    inputs = f"    input x: float32[{'' if unbatched else 'batch, '}{a}, {b}, 5]\n"
    return "network K {\n" + inputs + "".join(f"    {line}\n" for line in lines) + "    output y\n}\n"


@pytest.mark.parametrize("round_", range(int(os.environ.get("NETSPEC_LAYOUT_ROUNDS", "6"))))
def test_random_channels_last_layout_and_training_memory_match_torch(round_):
    """Random networks of :func:`random_spatial_spec`: the strides stated for every result,
    its activation bytes and the bytes a training step saves, against torch's, at batch and
    seq 1, 2 and 3 and with both literal; unknown only with a reason (training_pass.unsure)."""
    text = _random_round(random_spatial_spec, round_)
    # stated, with every size literal, unless a size of 1 leaves torch's format to strides
    # netspec does not state (a batch of 1, or a spatial size shrunk to 1)
    shrinks = any(k in text for k in SHRINK + UNSTATED)
    for batch, seq in ((2, 3), (1, 2), (1, 1)):
        concrete = _concrete(text, batch, seq)
        if not refused_as_torch_refuses(concrete, [{}]):
            check_network(concrete, [{}], must_state=batch > 1 and not shrinks)


SPATIAL_CHAINS = [  # (input, what follows a Linear `h` and the permute of its NHWC result to NCHW)
    ("float32[batch, 6, 7, 3]", "Conv2d(4, 3) -> ReLU -> flatten(1) -> Linear(2)"),
    ("float32[batch, 6, 7, 3]", "MaxPool2d(2) -> Sigmoid -> flatten(1) -> Linear(2)"),
    ("float32[batch, 6, 7, 3]", "AvgPool2d(2) -> Sigmoid -> flatten(1) -> Linear(2)"),
    ("float32[batch, 6, 7, 3]", "BatchNorm2d -> Sigmoid -> permute(0, 2, 3, 1) -> Linear(2)"),
    ("float32[batch, 6, 7, 3]", "AdaptiveAvgPool2d(2) -> Sigmoid -> flatten(1) -> Linear(2)"),
    ("float32[batch, seq, 7, 3]", "GroupNorm(3) -> Tanh -> reshape(-1, 3) -> Linear(2)"),
    ("float32[batch, seq, 7, 3]", "ZeroPad2d(1) -> Conv2d(2, 1) -> Sigmoid -> permute(0, 2, 3, 1) -> Linear(2)"),
    ("float32[batch, 6, 7, 3]", "Upsample(scale_factor=2) -> ReLU -> flatten(2) -> Linear(2)"),
    ("float32[batch, 6, 7, 3]", "InstanceNorm2d -> Sigmoid -> flatten(1) -> Linear(2)"),  # contiguous
    ("float32[batch, 6, 7, 3]", "sum(1, keepdim=true) -> Sigmoid -> flatten(2) -> Linear(2)"),  # contiguous
    ("float32[batch, 6, 7, 3]", "LayerNorm2d -> Sigmoid -> flatten(1) -> Linear(2)"),
    # an [N, C, 1, 1] result of a channels-last input: torch reads its format from the strides
    # of its dims of size 1, which netspec does not state, so a padding after it is unknown
    ("float32[batch, 6, 7, 3]", "AdaptiveAvgPool2d(1) -> ZeroPad2d(1) -> Sigmoid -> flatten(1) -> Linear(2)"),
    ("float32[batch, 6, 7, 3]", "AdaptiveMaxPool2d(1) -> Conv2d(4, 1) -> ZeroPad2d(1) -> Sigmoid -> flatten(1) -> Linear(2)"),
    # where both formats agree in every dim not 1, the result is stated either way
    ("float32[batch, 6, 7, 3]", "AdaptiveAvgPool2d(1) -> Conv2d(4, 1) -> Sigmoid -> flatten(1) -> Linear(2)"),
    ("float32[batch, 6, 7, 3]", "AdaptiveAvgPool2d(1) -> Dropout(0.3) -> Upsample(scale_factor=2) -> Sigmoid -> flatten(1) -> Linear(2)"),
]


@pytest.mark.parametrize("x_type,body", SPATIAL_CHAINS, ids=[c[1] for c in SPATIAL_CHAINS])
def test_channels_last_layout_then_a_fold_matches_torch(x_type, body):
    """A convolution, pool or norm of a channels-last input writes a channels-last result (or
    a contiguous one, by its kind), so the fold after it views or copies as torch does;
    where torch's format turns on strides netspec does not state, the bytes are unknown."""
    text = (f"network K {{\n    input x: {x_type}\n    h = x -> Linear(3) -> permute(0, 3, 1, 2)\n"
            f"    y = h -> {body}\n    output y\n}}\n")
    envs = [dict(zip(("batch", "seq"), v)) for v in product((1, 2, 3), repeat=2)]
    check_network(text, envs, must_state=False)
    unknown = "Pool2d(1)" in body and "ZeroPad2d" in body
    for batch, seq in ((2, 3), (1, 2), (1, 1)):
        check_network(_concrete(text, batch, seq), [{}], must_state=not unknown)
    if unknown:
        net = api.loads(_concrete(text, 2, 3), file="k.net").network("K")
        assert network_training(net, "adam").saved_bytes is None and training_pass(net).unsure


def test_a_layer_whose_format_depends_on_more_than_strides_is_unknown():
    """torch's Conv3d on the CPU writes a channels-last result of a channels-last input at
    batch 2 and a contiguous one at batch 1 (its path depends on the batch and the threads),
    so netspec states neither: the fold after it, which views one and copies the other, is
    unknown, where it used to be taken as contiguous."""
    conv = torch.nn.Conv3d(3, 4, 3)
    formats = {n: conv(torch.randn(n, 4, 5, 6, 3).permute(0, 4, 1, 2, 3)).is_contiguous() for n in (1, 2)}
    assert formats[1] != formats[2], formats  # torch's own dependence on the batch size
    text = ("network K {\n    input x: float32[2, 4, 5, 6, 3]\n    h = x -> Linear(3) -> permute(0, 4, 1, 2, 3)\n"
            "    y = h -> Conv3d(4, 3) -> Sigmoid -> flatten(1) -> Linear(2)\n    output y\n}\n")
    net = api.loads(text, file="k.net").network("K")
    assert network_training(net, "adam").saved_bytes is None
    assert training_pass(net).unsure
