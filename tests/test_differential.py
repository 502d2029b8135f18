"""Differential testing: random networks, checked by netspec and run by torch.

For every network tests/netgen.py makes, `netspec check` must accept it (no error, no
fact it would have to assume); `netspec build` must build it; and the built module, run
on real random tensors with the generated symbol values, must produce for every node (in
networks used as stages too) results of exactly the dtypes and shapes the check stated,
and hold exactly the number of parameters it stated. The same holds again with every
integer parameter the class does not fix set to another value: the stated shapes are
symbolic in those parameters, so the check must be right for every value of them.

A few hundred networks run by default; ``NETSPEC_DIFF_EXAMPLES=20000`` runs that many.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
import netgen  # noqa: E402
import observe  # noqa: E402
from hypothesis import HealthCheck, given, note, reject, settings  # noqa: E402

from netspec import api  # noqa: E402
from netspec.checker import check_text  # noqa: E402
from netspec.dims import evaluate  # noqa: E402

EXAMPLES = int(os.environ.get("NETSPEC_DIFF_EXAMPLES", "300"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 1000,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much], print_blob=True)


def inputs_for(net, env, gen: torch.Generator) -> list:
    out = []
    for v in net.inputs:
        shape = [evaluate(d, env) for d in v.tensor.shape]
        dtype = getattr(torch, v.tensor.dtype)
        if dtype.is_floating_point:
            out.append(torch.randn(shape, generator=gen).to(dtype))
        else:
            out.append(torch.randint(0, 2, shape, generator=gen, dtype=dtype))
    return out


def count_nodes(net) -> int:
    return sum(1 + (count_nodes(n.block) if n.block is not None else 0) for n in net.nodes)


def run(spec: api.Spec, symbols: dict[str, int], params: dict, root: str) -> None:
    """Build the root network with ``params``, run it, compare every node with the check."""
    net = spec.network(root)
    info = spec.class_info(root)
    env = dict(symbols)
    env.update(net.param_env)
    env.update(params)
    kwargs = {info.params[p]: v for p, v in params.items()}
    for s, kw in info.symbols.items():  # input sizes the constructor needs
        kwargs[kw] = env[s]
    model = spec.module(root, **kwargs).eval()
    gen = torch.Generator().manual_seed(0)
    inputs = inputs_for(net, env, gen)
    result, observed = observe.trace(spec, model, *inputs, network=root)
    for o in observed:
        stated = [(v.tensor.dtype, [evaluate(d, env) for d in v.tensor.shape]) for v in o.node.outputs]
        actual = [(str(t.dtype).removeprefix("torch."), list(t.shape)) for t in o.outputs]
        assert actual == stated, (f"{o.network.name}: {o.node.kind_name} at line {o.node.span.line} "
                                  f"({o.path or 'root'}): check says {stated}, torch made {actual}")
    # a scanned network step's nodes run once per position, each compared above
    assert len({(id(o.node), o.path) for o in observed}) == count_nodes(net), "a node's results were not observed"
    results = result if isinstance(result, tuple) else (result,)
    assert [list(r.shape) for r in results] == [[evaluate(d, env) for d in v.tensor.shape] for _, v in net.outputs]
    total = sum((n.params for n in (*net.tensors, *net.nodes)), 0)  # declared params count too
    assert sum(p.numel() for p in model.parameters()) == evaluate(total, env), "parameter count"


# what check says of a layer sized by a data axis (batch, time, spatial)
DATA_SIZED = "the module would be built for one value of"
# ... and of a `view` torch refuses, or of a layout it does not state
VIEW_REFUSED = re.compile(r"view\([^)]*\): (torch refuses it|netspec cannot tell the memory layout)")


def differential(text: str, symbols: dict[str, int], root: str = "Net", log=lambda _: None) -> None:
    log(text)
    log(f"symbols: {symbols}")
    result = check_text(text, "random.net")
    problems = [f"{d.span.line}: {d.severity}[{d.code}] {d.message}" for d in result.reporter.items
                if d.severity == "error" or d.code == "unproven"]
    if any(DATA_SIZED in p or VIEW_REFUSED.search(p) or netgen.READS_ACROSS_BATCH.search(p) for p in problems):
        # the generator sized a layer by a data axis, wrote `view` of a tensor that may not
        # be contiguous, or a layer that reads across the batch: check refuses them by
        # design (tests/test_layout.py proves it)
        reject()
    assert not problems, problems
    spec = api.loads(text, file="random.net")
    log(spec.code)
    run(spec, symbols, {}, root)
    # every integer parameter the class accepts freely, at another value: run where check
    # --set accepts it, refused by the class where check --set refuses it (a window too large)
    info = spec.class_info(root)
    net = spec.network(root)
    free = {p: 2 * v for p, v in net.param_env.items() if p not in info.checked}
    if free and api.loads(text, free, file="random.net", strict=False).ok:
        run(spec, symbols, free, root)
    elif free:
        with pytest.raises(ValueError, match=r"\(line \d+ of random\.net\) needs "):
            run(spec, symbols, free, root)


@SETTINGS
@given(netgen.specs())
def test_random_networks_run_as_checked(spec):
    torch.manual_seed(0)
    differential(spec.text, spec.symbols, spec.root, note)


@SETTINGS
@given(netgen.specs(max_stages=4, blocks=False, params=False))
def test_random_small_stacks_run_as_checked(spec):
    torch.manual_seed(0)
    differential(spec.text, spec.symbols, spec.root, note)


def test_generated_code_of_random_networks_passes_ruff(tmp_path):
    """A sample of random networks' modules: ruff check and ruff format accept them."""
    exe = Path(sys.executable).parent / "ruff"
    if not exe.exists():
        pytest.skip("ruff is not installed")
    files = []
    for seed in range(200):
        spec = netgen.sample(seed)
        path = tmp_path / f"net_{seed}.py"
        try:
            path.write_text(api.loads(spec.text, file=f"net_{seed}.net").code)
        except api.SpecError as e:
            assert DATA_SIZED in str(e) or VIEW_REFUSED.search(str(e)) or netgen.READS_ACROSS_BATCH.search(str(e)), e
            continue
        files.append(str(path))
        if len(files) == 40:
            break
    check = subprocess.run([str(exe), "check", "--isolated", "--no-cache", *files], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
    fmt = subprocess.run([str(exe), "format", "--isolated", "--no-cache", "--check", "--diff", *files],
                         capture_output=True, text=True)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


# -- what the random networks found, kept as examples ----------------------------------------------

REGRESSIONS = {
    # a -1 whose quotient the checker had to divide a polynomial by another to find:
    # (63*batch*h - 63*batch) / (7*batch*h - 7*batch) == 9
    "reshape_polynomial_quotient": ("""
network Sub {
    input x: float32[a, b, c, d]
    y = x -> view(a, b, c, -1, 1)
    output y
}
network Net(width=11) {
    input x: float32[batch, 3, h, 8]
    y = x -> transpose(1, 3) -> Linear(width, false) -> Conv2d(7, (2, 5), padding=(0, 1)) -> Sub
    output y
}
""", {"batch": 2, "h": 6}),
    # a ceil-mode window from a parameter over two dims, its size read by a Linear: one class
    # for k = 1, 4 and 2 (the last window dropped at some), its in_features an expression
    # longer than a line
    "ceil_window_parameter": ("""
network Ceil1(k=2) {
    input x: float64[ceil1_0, ceil1_1, ceil1_2, ceil1_3]
    y = x -> MaxPool2d(k, stride=3, ceil_mode=true) -> Flatten -> Linear(6)
    output y
}
network Net {
    input image: float64[batch, 5, 5, 10]
    out = image -> Ceil1(k=1)
    mix = image -> Ceil1(k=4)
    sum = image -> Ceil1
    output out, mix, sum
}
""", {"batch": 2}),
}


@pytest.mark.parametrize("name", sorted(REGRESSIONS))
def test_regressions(name):
    text, symbols = REGRESSIONS[name]
    differential(text, symbols)


def test_a_size_longer_than_a_line_is_formatted_code(tmp_path):
    """The class's Linear reads a size (a polynomial in k and the input's sizes) too long for
    one line: the build splits it as ruff formats it."""
    exe = Path(sys.executable).parent / "ruff"
    if not exe.exists():
        pytest.skip("ruff is not installed")
    code = api.loads(REGRESSIONS["ceil_window_parameter"][0]).code
    assert max(map(len, code.splitlines())) <= 88
    path = tmp_path / "ceil.py"
    path.write_text(code)
    for args in (["check"], ["format", "--check", "--diff"]):
        out = subprocess.run([str(exe), *args, "--isolated", "--no-cache", str(path)], capture_output=True, text=True)
        assert out.returncode == 0, out.stdout + out.stderr


def test_the_generator_is_reproducible_and_varied():
    a, b = netgen.sample(7), netgen.sample(7)
    assert a == b
    texts = {netgen.sample(seed).text for seed in range(200)}
    assert len(texts) == 200
    joined = "\n".join(texts)
    for word in ("Conv2d", "Conv1d", "LSTM", "GRU", "cat(", "add(", "network Res", "network Pair", " * ",
                 "reshape(", "Embedding", "MaxPool", "BatchNorm", "as ", "h0=", "Conv3d", "ConvTranspose",
                 "MultiheadAttention", "TransformerEncoderLayer", ".weights", "key_padding_mask=", "Pad",
                 "pad(", "Upsample", "interpolate(", "PixelShuffle", "Unflatten", "GLU", "GroupNorm",
                 "InstanceNorm", "LPPool", "StochasticDepth", "LayerNorm2d", "Permute(", "permute(", "    param ",
                 "    buffer ", "LayerNorm2d(normalized_shape=(", "-> expand(", "scan("):
        assert word in joined, f"no generated network has {word!r}"
    assert re.search(r"= \w+ -> scan\(\w+, \(\w+, \w+\)\)", joined), "no generated network scans an LSTMCell"
    # blocks over the arguments that change a shape, used with several values, and steps
    # carrying several states
    assert re.search(r"Pool[12]d\(k[,)][^\n]*ceil_mode=true\) -> [^\n]*Linear", joined), "no ceil-mode window parameter"
    assert re.search(r"ConvTranspose[12]d\([^\n]*stride=s[^\n]*output_padding=op", joined), "no transposed stride parameter"
    assert re.search(r"shared \w+ = Step\d+", joined), "no scanned network step"


def test_the_generator_writes_nothing_check_refuses():
    """Every generated spec checks: no error, no `unproven` warning, none refused by design
    (a layer sized by a data axis, a `view` of what may not be contiguous); torchvision's
    LayerNorm2d and Permute, declared params and buffers, scanned LSTMCells, blocks over
    ceil-mode windows and transposed strides and network steps among them."""
    seen = dict.fromkeys(("LayerNorm2d", "Permute(", "    param ", "    buffer ", "LSTMCell", "network Ceil",
                          "network Up", "network Step"), 0)
    for seed in range(150):
        spec = netgen.sample(seed)
        result = check_text(spec.text, f"random-{seed}.net")
        problems = [f"{d.span.line}: {d.severity}[{d.code}] {d.message}" for d in result.reporter.items
                    if d.severity == "error" or d.code == "unproven"]
        assert not problems, (seed, problems)
        for word in seen:
            seen[word] += word in spec.text
    assert all(n >= 3 for n in seen.values()), seen


def test_ceil_mode_pairs_reach_every_relation_and_torchs_last_window_rule():
    """The (window, stride) pairs the generator gives a ceil-mode pool block: k = s, k > s
    and k < s among them, every one run by torch, and torch's last-window rule (a window
    that would start in the right padding is dropped) firing at some, as the generator says."""
    rng = netgen.RandomDraw(random.Random(3))
    relations, fired = set(), set()
    for _ in range(150):
        sizes, pad = [rng.int(1, 9) for _ in range(rng.int(1, 2))], rng.int(0, 1)
        for k, s in netgen._ceil_pairs(rng, sizes, pad, rng.choice(["ks", "k", "k=s", "s"])):
            relations.add((k > s) - (k < s))
            pool = torch.nn.MaxPool1d(k, stride=s, padding=pad, ceil_mode=True)
            for size in sizes:
                got = pool(torch.zeros(1, 1, size)).shape[-1]
                unclipped = -(-(size + 2 * pad - k) // s) + 1  # torch's documented count before the rule
                assert (got != unclipped) == netgen._ceil_drops(size, k, s, pad), (size, k, s, pad)
                fired.add(got != unclipped)
    assert relations == {-1, 0, 1} and fired == {True, False}
