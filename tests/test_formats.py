"""Memory formats torch refuses ("Unsupported memory format"): `check` refuses a layer on an
input laid out as torch refuses it (Kind.refused_formats), and accepts every other layout,
compared with hand-written torch calls on inputs of every order in memory.

max_pool3d of an unbatched [C, D, H, W] reads its memory format as a 4-dim tensor's and
refuses channels_last; pixel_shuffle and pixel_unshuffle of a 5-dim input refuse
channels_last_3d. Each case is run on inputs stored in every order of their dims (a permute
of a contiguous tensor), with sizes of 1, and with a size expanded (a stride of 0).
"""

from __future__ import annotations

import itertools

import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from netspec.checker import check_text  # noqa: E402
from netspec.types import UNKNOWN  # noqa: E402

# (stage, the same call in torch, a shape it takes, the dims that may be 1)
CASES = [
    ("MaxPool3d(1)", lambda t: F.max_pool3d(t, 1), [3, 2, 4, 5], (0, 1, 2, 3)),  # unbatched
    ("MaxPool3d((1, 2, 2))", lambda t: F.max_pool3d(t, (1, 2, 2)), [2, 3, 4, 4], (0, 1)),
    ("MaxPool3d(1)", lambda t: F.max_pool3d(t, 1), [2, 3, 2, 4, 5], (0, 1, 2, 3, 4)),  # batched: runs
    ("PixelShuffle(2)", lambda t: F.pixel_shuffle(t, 2), [2, 3, 4, 3, 2], (0, 1, 3, 4)),
    ("PixelShuffle(1)", lambda t: F.pixel_shuffle(t, 1), [2, 3, 2, 4, 3], (0, 1, 2, 3, 4)),
    ("PixelUnshuffle(2)", lambda t: F.pixel_unshuffle(t, 2), [2, 3, 2, 4, 2], (0, 1, 2)),
    ("PixelShuffle(2)", lambda t: F.pixel_shuffle(t, 2), [3, 4, 3, 2], (0,)),  # 4 dims: runs
    ("PixelUnshuffle(2)", lambda t: F.pixel_unshuffle(t, 2), [2, 3, 4, 2], (0, 1)),
]


def _spec(stored: list, prefix: str, stage: str) -> str:
    return (f"network K {{\n    input x: float32[{', '.join(map(str, stored))}]\n"
            f"    y = x -> {prefix}{stage}\n    output y\n}}\n")


def _inputs(shape: list, ones: tuple):
    """(spec of the input and the stages before the layer, the same tensor in torch, whether
    a dim is 1): every order in memory of ``shape`` and of it with one dim of ``ones`` at 1,
    and ``shape`` with a dim expanded from 1."""
    rank = len(shape)
    shapes = [shape] + [shape[:i] + [1] + shape[i + 1:] for i in ones if shape[i] != 1]
    orders = list(itertools.permutations(range(rank)))
    for sizes in shapes:  # every order of ``shape``; of each with a 1, one in five (always its own)
        for order in orders if sizes is shape else orders[::5]:
            back = [order.index(j) for j in range(rank)]
            stored = [sizes[i] for i in order]
            yield (stored, f"permute({', '.join(map(str, back))}) -> ", torch.randn(stored).permute(*back),
                   1 in sizes)
    for i in range(rank):
        one = shape[:i] + [1] + shape[i + 1:]
        yield one, f"expand({', '.join(map(str, shape))}) -> ", torch.randn(one).expand(*shape), False


def _runs(call, x) -> bool:
    try:
        call(x)
    except RuntimeError as e:
        assert "memory format" in str(e), e
        return False
    return True


@pytest.mark.parametrize("stage,call,shape,ones", CASES, ids=[f"{c[0]}-{len(c[2])}d" for c in CASES])
def test_check_refuses_exactly_the_layouts_torch_refuses(stage, call, shape, ones):
    """Accepted: torch runs it. Refused as a layout torch refuses: torch raises. Refused as a
    layout it may refuse: only where a dim is 1 (torch then reads the format from strides of
    dims of size 1, which netspec does not state), and never for every input."""
    tally = {"runs": 0, "refused": 0, "unsure": 0}
    for stored, prefix, x, has_one in _inputs(shape, ones):
        text = _spec(stored, prefix, stage)
        errors = check_text(text, "k.net").reporter.errors
        runs = _runs(call, x)
        if not errors:
            assert runs, f"check accepts, torch refuses:\n{text}"
            tally["runs"] += 1
            continue
        (e,) = errors
        assert e.code == "value" and "refuses an input laid out" in e.message, (text, e.message)
        if "may be" in e.message:
            assert has_one, f"unsure without a dim of 1:\n{text}\n{e.message}"
            tally["unsure"] += 1
        else:
            assert not runs, f"check refuses, torch runs it:\n{text}\n{e.message}"
            tally["refused"] += 1
    print(tally)
    assert tally["runs"] > 0, tally
    assert tally["unsure"] <= tally["refused"] + tally["runs"], tally


SYMBOLIC = [  # (input, stages, the same in torch, the symbol's values)
    ("float32[c, 4, 5, 3]", "permute(0, 3, 1, 2) -> MaxPool3d(1)", lambda t: F.max_pool3d(t.permute(0, 3, 1, 2), 1),
     "refused"),
    ("float32[c, 4, 5, 3]", "permute(0, 3, 2, 1) -> MaxPool3d(1)", lambda t: F.max_pool3d(t.permute(0, 3, 2, 1), 1),
     "runs"),
    ("float32[n, 4, 4, 4, 8]", "permute(0, 4, 1, 2, 3) -> PixelShuffle(2)",
     lambda t: F.pixel_shuffle(t.permute(0, 4, 1, 2, 3), 2), "refused"),
    ("float32[n, 4, 4, 4, 8]", "permute(0, 4, 1, 2, 3) -> contiguous() -> PixelShuffle(2)",
     lambda t: F.pixel_shuffle(t.permute(0, 4, 1, 2, 3).contiguous(), 2), "runs"),
    ("float32[n, c, 4, 4, 4]", "Linear(8) -> permute(0, 4, 1, 2, 3) -> PixelUnshuffle(2)", None, "refused"),
]


@pytest.mark.parametrize("x_type,stages,call,verdict", SYMBOLIC, ids=[s[1] for s in SYMBOLIC])
def test_symbolic_sizes_refused_where_torch_refuses_at_every_value(x_type, stages, call, verdict):
    """With a symbol in the shape, the verdict holds at each value tried, 1 among them."""
    text = f"network K {{\n    input x: {x_type}\n    y = x -> {stages}\n    output y\n}}\n"
    errors = check_text(text, "k.net").reporter.errors
    assert [e.code for e in errors] == (["value"] if verdict == "refused" else []), [e.message for e in errors]
    if call is None:  # a Linear first: the module's weights in torch by hand
        linear = torch.nn.Linear(4, 8)
        call = lambda t: F.pixel_unshuffle(linear(t).permute(0, 4, 1, 2, 3), 2)  # noqa: E731
    for value in (1, 2, 3):
        dims = [value if d in ("c", "n") else int(d) for d in x_type.split("[")[1].rstrip("]").split(", ")]
        assert _runs(call, torch.randn(dims)) == (verdict == "runs"), (stages, value)


# (input, stages before a view, the same in torch); a permute that moves a dim of size 1 keeps
# the stride torch gives it, from which torch reads the memory format of what follows
MOVED_ONES = [
    ("float32[3, 4, 5, 1]", "permute(0, 3, 1, 2) -> Conv2d(2, 1)",
     lambda t: torch.nn.Conv2d(1, 2, 1)(t.permute(0, 3, 1, 2))),
    ("float32[3, 4, 5, 1]", "permute(0, 3, 1, 2) -> contiguous() -> Conv2d(2, 1)",
     lambda t: torch.nn.Conv2d(1, 2, 1)(t.permute(0, 3, 1, 2).contiguous())),
    ("float32[3, 4, 5, 1]", "permute(0, 3, 1, 2) -> MaxPool2d(1)", lambda t: F.max_pool2d(t.permute(0, 3, 1, 2), 1)),
    ("float32[2, 3, 4, 5, 1]", "permute(0, 4, 1, 2, 3) -> MaxPool3d(1)",
     lambda t: F.max_pool3d(t.permute(0, 4, 1, 2, 3), 1)),
    ("float32[3, 4, 5, 1]", "permute(0, 3, 1, 2) -> Upsample(scale_factor=2)",
     lambda t: F.interpolate(t.permute(0, 3, 1, 2), scale_factor=2)),
]


@pytest.mark.parametrize("x_type,stages,call", MOVED_ONES, ids=[s[1] for s in MOVED_ONES])
def test_view_after_a_moved_dim_of_size_1_refused_where_torch_refuses(x_type, stages, call):
    """A view of the result that merges every dim but the first: accepted only where torch
    views it (a permute of [N, H, W, 1] to [N, 1, H, W] is channels_last to torch, which
    writes the convolution's result in that format)."""
    dims = [int(d) for d in x_type.split("[")[1].rstrip("]").split(", ")]
    text = f"network K {{\n    input x: {x_type}\n    y = x -> {stages} -> view({dims[0]}, -1)\n    output y\n}}\n"
    errors = check_text(text, "k.net").reporter.errors
    out = call(torch.randn(dims))
    try:
        out.view(dims[0], -1)
    except RuntimeError:
        assert [e.code for e in errors] == ["value"], f"check accepts a view torch refuses: strides {out.stride()}"
    else:
        assert not errors, f"check refuses a view torch takes: strides {out.stride()}: {[e.message for e in errors]}"


# -- the memory format of cat's result (ATen's compute_output_memory_format) --------------------

def _stored_as(how: str, rank: int) -> tuple:
    """The order in memory of a tensor's dims: contiguous, channels-last, or transposed."""
    if how == "last":
        return (0, *range(2, rank), 1)
    if how == "swapped":
        return (*range(rank - 2), rank - 1, rank - 2)
    return tuple(range(rank))


CAT_SHAPES = [[2, 3, 4, 5], [1, 3, 4, 5], [2, 1, 4, 5], [2, 3, 1, 1], [1, 1, 2, 1], [2, 3, 2, 4, 5], [1, 2, 1, 3, 1]]


def _joined(op: str, shape: list[int], orders: list[list[int]], dim: int):
    """Two inputs of ``shape``, each stored in its order of dims and permuted back, joined
    by ``op`` along ``dim``: the spec's text, its network, the stated result, and the torch
    tensors laid out alike."""
    rank = len(shape)
    decls, uses, tensors = [], [], []
    for name, order in zip("pq", orders):
        back = [order.index(j) for j in range(rank)]
        decls.append(f"    input {name}: float32[{', '.join(str(shape[i]) for i in order)}]")
        uses.append(f"    {name}2 = {name} -> permute({', '.join(map(str, back))})")
        tensors.append(torch.randn([shape[i] for i in order]).permute(*back))
    text = "network K {\n" + "\n".join(decls + uses) + f"\n    y = {op}(p2, q2, dim={dim})\n    output y\n}}\n"
    result = check_text(text, "k.net")
    assert not result.reporter.errors, text
    (net,) = result.networks
    return text, net, net.nodes[-1].outputs[0].tensor, tensors


@pytest.mark.parametrize("shape", CAT_SHAPES, ids=[str(s) for s in CAT_SHAPES])
def test_cat_of_4_and_5_dims_is_laid_out_as_torch_lays_it_out(shape):
    """cat of two tensors, each contiguous, channels-last or with its last dims swapped,
    along each dim: the strides netspec states (or unknown) against torch's."""
    from test_layout import claims

    rank = len(shape)
    for hows in itertools.product(("plain", "last", "swapped"), repeat=2):
        orders = [_stored_as(h, rank) for h in hows]
        for dim in range(rank):
            text, net, stated, tensors = _joined("cat", shape, orders, dim)
            wrong = claims(net, stated, torch.cat(tensors, dim))
            assert wrong is None, f"{hows} along {dim}: {wrong}\n{text}"
            # every format is told apart where no dim is 1
            assert 1 in shape or stated.strides is not UNKNOWN, f"{hows} along {dim}: unknown"


STACK_SHAPES = [[2, 3, 4], [1, 3, 4], [2, 1, 4], [3, 1, 1], [2, 3], [4], [3, 2, 4, 5], [1, 2, 1, 3]]


@pytest.mark.parametrize("shape", STACK_SHAPES, ids=[str(s) for s in STACK_SHAPES])
def test_stack_is_laid_out_as_torch_lays_it_out(shape):
    """stack of two tensors, each contiguous, channels-last (of 3 or 4 dims: dim 1 innermost)
    or with its last dims swapped, along each new dim: the strides netspec states against
    torch's, stated for every result of up to 4 dims."""
    from test_layout import claims

    rank = len(shape)
    for hows in itertools.product(("plain", "last", "swapped"), repeat=2):
        if rank < 2 and hows != ("plain", "plain"):
            continue
        orders = [_stored_as(h, rank) for h in hows]
        for dim in range(rank + 1):
            text, net, stated, tensors = _joined("stack", shape, orders, dim)
            wrong = claims(net, stated, torch.stack(tensors, dim))
            assert wrong is None, f"{hows} along {dim}: {wrong}\n{text}"
            assert rank == 4 or stated.strides is not UNKNOWN, f"{hows} along {dim}: unknown"


# (stage, the input's shape, tensors the stage names): layers whose results torch writes
# contiguous whatever their input's strides (Kind.result_format "contiguous")
CONTIGUOUS = [
    ("Embedding(5, 3)", "int64", [2, 3, 4], {}),
    ("Embedding(5, 3)", "int64", [1, 3], {}),
    ("RNNCell(3)", "float32", [2, 4], {}),
    ('RNNCell(3, nonlinearity="relu")', "float32", [1, 4], {}),
    ("LSTMCell(3)", "float32", [3, 4], {}),
    ("LSTMCell(3)", "float32", [1, 4], {}),
    ("TransformerEncoderLayer(2, 8, 0.0)", "float32", [3, 2, 4], {}),
    ("TransformerEncoderLayer(2, 8, 0.0, batch_first=true)", "float32", [2, 1, 4], {}),
    ("TransformerEncoder(2, 2, 8, 0.0)", "float32", [3, 1, 4], {}),
    ("TransformerEncoder(2, 1, 8, 0.0, norm_first=true, norm=true)", "float32", [3, 2, 4], {}),
    ("TransformerDecoderLayer(2, 8, 0.0, memory=m)", "float32", [3, 2, 4], {"m": [5, 2, 4]}),
    ("TransformerDecoder(2, 1, 8, 0.0, batch_first=true, memory=m)", "float32", [2, 3, 4], {"m": [2, 5, 4]}),
    ("Transformer(2, 1, 1, 8, 0.0, norm_first=true, tgt=m)", "float32", [3, 2, 4], {"m": [5, 2, 4]}),
]


@pytest.mark.parametrize("stage,dtype,shape,others", CONTIGUOUS, ids=[c[0] for c in CONTIGUOUS])
def test_layers_that_write_contiguous_results_do_for_every_input_order(stage, dtype, shape, others):
    """The layer on its input stored in every order of its dims, in training and in eval
    without gradients (torch's fast paths): netspec states contiguous results, and torch's
    are."""
    from test_kinds_torch import flat, stage_call
    from test_layout import claims

    rank = len(shape)
    for order in itertools.permutations(range(rank)):
        back = [order.index(j) for j in range(rank)]
        decls = [f"    input x: {dtype}[{', '.join(str(shape[i]) for i in order)}]"]
        decls += [f"    input {n}: float32[{', '.join(map(str, s))}]" for n, s in others.items()]
        text = ("network K {\n" + "\n".join(decls) + f"\n    y = x -> permute({', '.join(map(str, back))}) -> {stage}\n"
                "    output y\n}\n")
        result = check_text(text, "k.net")
        assert not result.reporter.errors, (text, [e.message for e in result.reporter.errors])
        (net,) = result.networks
        outs = net.nodes[-1].outputs
        assert all(v.tensor.strides is None for v in outs), (text, [v.tensor.strides for v in outs])
        base = torch.randint(0, 5, [shape[i] for i in order]) if dtype == "int64" else torch.randn([shape[i] for i in order])
        env = {n: torch.randn(s) for n, s in others.items()}
        for training in (True, False):
            torch.manual_seed(0)
            module, call = stage_call(stage, base.permute(*back), env)
            module.train(training)
            with torch.set_grad_enabled(training):
                actual = flat(call())
            for value, t in zip(outs, actual):
                assert claims(net, value.tensor, t) is None, (order, training, t.stride())


GLU_SHAPES = [[4], [2, 6], [1, 4], [4, 1], [2, 4, 3], [1, 2, 2], [2, 3, 2, 4], [2, 1, 2, 2]]


@pytest.mark.parametrize("shape", GLU_SHAPES, ids=[str(s) for s in GLU_SHAPES])
def test_glu_is_laid_out_as_torch_lays_it_out(shape):
    """GLU along each even dim of an input stored in every order: the strides netspec states
    against torch's (F.glu), stated wherever no dim is 1."""
    from test_layout import claims

    rank = len(shape)
    for order in itertools.permutations(range(rank)):
        back = [order.index(j) for j in range(rank)]
        x = torch.randn([shape[i] for i in order]).permute(*back)
        for dim in (d for d in range(rank) if shape[d] % 2 == 0):
            text = (f"network K {{\n    input x: float32[{', '.join(str(shape[i]) for i in order)}]\n"
                    f"    y = x -> permute({', '.join(map(str, back))}) -> GLU({dim})\n    output y\n}}\n")
            result = check_text(text, "k.net")
            assert not result.reporter.errors, text
            (net,) = result.networks
            stated = net.nodes[-1].outputs[0].tensor
            assert claims(net, stated, F.glu(x, dim)) is None, (order, dim, stated.strides, F.glu(x, dim).stride())
            assert 1 in shape or stated.strides is not UNKNOWN, (order, dim)
