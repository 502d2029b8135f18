"""Padding against torch: the size rule and torch's limits by mode over a table of sizes and
pads (negative pads crop), through the `pad` op and the padding layers."""

from __future__ import annotations

import itertools

import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional
nn = torch.nn

from test_kinds_torch import check_one, parse_type, random_tensor, run_stage  # noqa: E402

from netspec.kinds.pad import pad_facts, pad_problem  # noqa: E402

MODES = ["constant", "reflect", "replicate", "circular"]
PADS = range(-7, 8)


def torch_pad(size: int, before: int, after: int, mode: str) -> int | None:
    """The size torch pads a dim of ``size`` to (a [1, 2, size] input), or None if it refuses."""
    try:
        return F.pad(torch.zeros(1, 2, size), (before, after), mode=mode).shape[-1]
    except RuntimeError:
        return None


def _wraps_right(size: int, before: int, after: int) -> bool:
    """Whether torch's circular pad of a [1, c, size] input, for one channel and for two, is
    the input, cropped by the negative pads, then wrapped around by the positive ones (index
    arithmetic by hand); where it is not, torch raises (one channel: the wrap overlaps what
    it reads) or returns uninitialized values."""
    for c in (1, 2):
        x = torch.arange(1.0, c * size + 1).reshape(1, c, size)
        core = x[..., max(-before, 0):size - max(-after, 0)]
        n = core.shape[-1]
        try:
            got = F.pad(x, (before, after), mode="circular")
        except RuntimeError:
            return False
        if n < 1:
            return False
        want = core[..., [i % n for i in range(-max(before, 0), n + max(after, 0))]]
        if got.shape != want.shape or not torch.equal(got, want):
            return False
    return True


@pytest.mark.parametrize("mode", MODES)
def test_pad_facts_are_torch_s_limits(mode):
    """The facts a class tests of a padding from parameters hold exactly where torch pads
    (with the values torch's circular pad gets right): the symbolic form of the rule."""
    for size, before, after in itertools.product(range(1, 8), PADS, PADS):
        holds = all(low <= high for low, high in pad_facts(mode, size, before, after))
        want = torch_pad(size, before, after, mode)
        ok = want is not None and (mode != "circular" or _wraps_right(size, before, after))
        if mode == "reflect" and size + before + after == 0:
            ok = False  # torch's 1-d reflection raises; netspec refuses the empty dim of the others too
        assert holds == ok, (size, before, after)


@pytest.mark.parametrize("mode", MODES)
def test_pad_rule_is_torch_s(mode):
    refused_more = 0
    for size, before, after in itertools.product(range(1, 8), PADS, PADS):
        want = torch_pad(size, before, after, mode)
        problem = pad_problem(mode, size, before, after)
        if problem is None:
            assert want == size + before + after, (mode, size, before, after)
            assert mode != "circular" or _wraps_right(size, before, after), (size, before, after)
        elif want is not None:
            # the one place netspec refuses more: a circular pad that crops the whole dim, or
            # wraps what is left more than once, where torch's values are not the wrapped input
            assert mode == "circular" and not _wraps_right(size, before, after), (size, before, after)
            refused_more += 1
    assert refused_more == 0 or mode == "circular"


def _spec(input_type: str, stage: str) -> str:
    return f"network K {{\n    input x: {input_type}\n    y = x -> {stage}\n    output y\n}}\n"


def refused_on_purpose(mode: str, sizes, pads) -> bool:
    """Where netspec refuses a padding torch runs (docs/language.md): a circular pad that
    crops a whole dim or wraps what is left more than once (torch's values are then not the
    wrapped input), a 2-d or 3-d reflection pad that leaves an empty dim."""
    for k, size in enumerate(sizes):
        before, after = pads[2 * k], pads[2 * k + 1]
        if mode == "circular" and not _wraps_right(size, before, after):
            return True
        if mode == "reflect" and size + before + after == 0:
            return True
    return False


@pytest.mark.parametrize("mode", MODES)
def test_the_checker_pads_as_torch(mode):
    """Through the checker: the op and the layer of each mode, over pads of two dims."""
    layer = {"constant": "ConstantPad2d", "reflect": "ReflectionPad2d", "replicate": "ReplicationPad2d"}.get(mode)
    for h, w in ((1, 1), (3, 5), (4, 2)):
        for pads in ((1, 1, 0, 0), (2, -1, 3, 1), (-1, -1, -2, 0), (4, 0, 0, 4), (-3, 1, 1, -4), (0, 5, 2, 2)):
            x = torch.zeros(2, 3, h, w)
            try:
                want = list(F.pad(x, pads, mode=mode).shape)
            except RuntimeError:
                want = None
            stages = [f'pad({pads}, mode="{mode}")']
            if layer:
                stages.append(f"{layer}({pads}, 0.5)" if mode == "constant" else f"{layer}({pads})")
            for stage in stages:
                result, errors = check_one(_spec(f"float32[2, 3, {h}, {w}]", stage))
                if want is None:
                    assert [d.code for d in result.reporter.errors] == ["size"], (stage, h, w, errors)
                    continue
                if errors and refused_on_purpose(mode, (w, h), pads):
                    continue
                assert not errors, (stage, h, w, errors)
                (net,) = result.networks
                assert net.shape(net.outputs[0][1].tensor) == want, (stage, h, w)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_non_constant_modes_take_the_ranks_torch_takes(mode):
    for rank in range(1, 7):
        for n in (1, 2, 3):
            shape = [3] * rank
            try:
                F.pad(torch.zeros(shape), (1, 1) * n, mode=mode)
                torch_ok = True
            except (RuntimeError, NotImplementedError):
                torch_ok = False
            result, errors = check_one(_spec(f"float32{shape}", f'pad({(1, 1) * n}, mode="{mode}")'))
            assert (not errors) == torch_ok, (mode, rank, n, errors)


def test_a_padding_of_the_wrong_length_is_refused():
    """torch's ZeroPad2d((1, 2)) pads the last dim only, as a ZeroPad1d would; netspec asks for
    the four sides its name promises."""
    result, _ = check_one(_spec("float32[2, 3, 4, 5]", "ZeroPad2d((1, 2))"))
    (err,) = result.reporter.errors
    assert err.code == "argument" and "4 values (left, right, top, bottom)" in err.message
    assert list(nn.ZeroPad2d((1, 2))(torch.zeros(2, 3, 4, 5)).shape) == [2, 3, 4, 8]


@pytest.mark.parametrize("stage,input_type", [("ZeroPad2d(1)", "bool[3, 4]"), ("ConstantPad1d(1, 2.5)", "int64[2, 3]"),
                                              ('pad((1, 1), mode="circular")', "bool[2, 3]"),
                                              ("ReplicationPad1d(2)", "int32[2, 3]")])
def test_dtypes_torch_pads(stage, input_type):
    result, errors = check_one(_spec(input_type, stage))
    assert not errors
    (net,) = result.networks
    (out,), _ = run_stage(stage, random_tensor(*parse_type(input_type)), {})
    assert (net.outputs[0][1].tensor.dtype, net.shape(net.outputs[0][1].tensor)) == \
        (str(out.dtype).removeprefix("torch."), list(out.shape))
