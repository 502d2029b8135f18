"""Upsample and interpolate against torch: the output-size rule over a table of sizes and
scales (awkward floats included), symbolic sizes with dyadic scales, and every mode's rank.

torch sizes a scaled dim as floor(size * scale) in double precision. netspec states that
number for a concrete size and the formula (p * size) // 2**k for a symbolic size when the
scale is p / 2**k; for any other scale a symbolic size is an `unproven` error.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from test_kinds_torch import check_one  # noqa: E402

from netspec.dims import evaluate  # noqa: E402
from netspec.kinds.resample import scaled_size  # noqa: E402

SCALES = [0.1, 0.29, 1 / 3, 2 / 3, 0.5, 0.7, 0.999, 1.0, 1.1, 1.5, 2.0, 2.5, 7 / 3, 3.0, 0.25, 0.125, 1.75, 4.2]
SIZES = list(range(1, 41)) + [97, 100, 255, 1000, 1023, 4097, 10**5]
MODES_3D = ["nearest", "linear", "nearest-exact"]


def torch_size(size: int, scale: float, mode: str = "nearest", recompute=None) -> int | None:
    """The size torch gives a 3-dim [1, 1, size] input, or None when it refuses."""
    try:
        out = F.interpolate(torch.zeros(1, 1, size), scale_factor=scale, mode=mode,
                            recompute_scale_factor=recompute)
    except RuntimeError:
        return None
    return out.shape[-1]


@pytest.mark.parametrize("scale", SCALES, ids=[repr(s) for s in SCALES])
def test_scaled_size_of_concrete_sizes_is_torch_s(scale):
    for size in SIZES:
        for mode, recompute in (("nearest", None), ("linear", True), ("nearest-exact", False)):
            want = torch_size(size, scale, mode, recompute)
            got = scaled_size(size, scale)
            assert (got if got >= 1 else None) == want, (size, scale, mode)


def _spec(input_type: str, stage: str) -> str:
    return f"network K {{\n    input x: {input_type}\n    y = x -> {stage}\n    output y\n}}\n"


@pytest.mark.parametrize("scale", SCALES, ids=[repr(s) for s in SCALES])
def test_the_checker_states_torch_s_size(scale):
    """Through the checker, in every mode and both forms, for sizes torch keeps or refuses."""
    for size in (1, 3, 7, 10, 17, 29, 64, 101):
        for mode in MODES_3D:
            for stage in (f'Upsample(scale_factor={scale!r}, mode="{mode}")',
                          f'interpolate(scale_factor={scale!r}, mode="{mode}")'):
                result, errors = check_one(_spec(f"float32[2, 3, {size}]", stage))
                want = torch_size(size, scale, mode)
                if want is None:
                    assert [d.code for d in result.reporter.errors] == ["size"], (stage, size, errors)
                    continue
                assert not errors, (stage, size, errors)
                (net,) = result.networks
                assert net.shape(net.outputs[0][1].tensor) == [2, 3, want], (stage, size)


DYADIC = [0.5, 1.5, 2.0, 2.5, 0.25, 0.75, 3.0, 1.125, 0.0625]


@pytest.mark.parametrize("scale", DYADIC, ids=[repr(s) for s in DYADIC])
def test_dyadic_scales_of_symbolic_sizes_match_torch(scale):
    text = _spec("float32[batch, 3, h, w]", f'Upsample(scale_factor=({scale!r}, 2), mode="bilinear")')
    result, errors = check_one(text)
    assert not errors and not result.reporter.items, [d.message for d in result.reporter.items]
    (net,) = result.networks
    stated = net.shape(net.outputs[0][1].tensor)
    compared = 0
    for h in range(1, 60):
        env = {"batch": 2, "h": h, "w": 5}
        want = [evaluate(d, env) for d in stated]
        if want[2] < 1:
            with pytest.raises(RuntimeError):
                F.interpolate(torch.zeros(2, 3, h, 5), scale_factor=(scale, 2), mode="bilinear")
            continue
        got = F.interpolate(torch.zeros(2, 3, h, 5), scale_factor=(scale, 2), mode="bilinear")
        assert list(got.shape) == want, (h, want)
        compared += 1
    assert compared >= 30


@pytest.mark.parametrize("scale", [0.1, 0.29, 1 / 3, 0.7, 1.1, 2.2])
def test_other_scales_of_symbolic_sizes_are_unproven(scale):
    result, _ = check_one(_spec("float32[batch, 3, h]", f"Upsample(scale_factor={scale!r})"))
    (err,) = result.reporter.errors
    assert err.code == "unproven" and err.help and "size=" in err.help
    # a concrete size, or the output size itself, checks
    assert not check_one(_spec("float32[batch, 3, 12]", f"Upsample(scale_factor={scale!r})"))[1]
    assert not check_one(_spec("float32[batch, 3, h]", "Upsample(size=9)"))[1]


def test_a_parameter_size_is_computed_from_its_value():
    text = ("network K(n=10) {\n    input x: float32[2, 3, n]\n    y = x -> Upsample(scale_factor=0.29)\n"
            "    output y\n}\n")
    result, errors = check_one(text)
    assert not errors
    (net,) = result.networks
    assert net.shape(net.outputs[0][1].tensor) == [2, 3, torch_size(10, 0.29)]
    assert net.fixed == {"n": 10}  # the built class refuses another n


MODES = ["nearest", "linear", "bilinear", "bicubic", "trilinear", "nearest-exact"]


@pytest.mark.parametrize("mode", MODES)
def test_each_mode_takes_the_ranks_torch_takes(mode):
    for rank in (2, 3, 4, 5, 6):
        shape = [2, 3] + [4] * (rank - 2) if rank >= 2 else [4]
        x = torch.zeros(shape)
        try:
            F.interpolate(x, scale_factor=2, mode=mode)
            torch_ok = True
        except (RuntimeError, ValueError):
            torch_ok = False
        for stage in (f'Upsample(scale_factor=2, mode="{mode}")', f'interpolate(scale_factor=2, mode="{mode}")'):
            result, errors = check_one(_spec(f"float32{shape}", stage))
            assert (not errors) == torch_ok, (mode, rank, errors)
            if not torch_ok:
                assert result.reporter.errors[0].code == "rank"


ARGUMENT_CASES = [
    # (stage, input, code): torch refuses each
    ('Upsample(size=4, scale_factor=2)', "float32[1, 2, 3]", "argument"),
    ("Upsample", "float32[1, 2, 3]", "argument"),
    ('Upsample(scale_factor=2, align_corners=true)', "float32[1, 2, 3]", "value"),
    ('Upsample(size=5, recompute_scale_factor=true)', "float32[1, 2, 3]", "value"),
    ('interpolate(scale_factor=2, mode="linear", antialias=true)', "float32[1, 2, 3]", "value"),
    ("Upsample(size=(4, 5))", "float32[1, 2, 3]", "argument"),
    ("Upsample(scale_factor=(2, 2, 2))", "float32[1, 2, 3, 3]", "argument"),
    ("Upsample(scale_factor=0.1)", "float32[1, 2, 9]", "size"),
    ("Upsample(scale_factor=-2)", "float32[1, 2, 9]", "value"),
    ('Upsample(scale_factor=2, mode="bilinear")', "int64[1, 2, 3, 3]", "dtype"),
    ('interpolate(scale_factor=2)', "int32[1, 2, 3, 3]", "dtype"),
]


@pytest.mark.parametrize("stage,input_type,code", ARGUMENT_CASES, ids=[c[0] for c in ARGUMENT_CASES])
def test_arguments_torch_refuses_are_errors(stage, input_type, code):
    from test_kinds_torch import parse_type, random_tensor, run_stage

    result, _ = check_one(_spec(input_type, stage))
    assert [d.code for d in result.reporter.errors] == [code]
    with pytest.raises((RuntimeError, ValueError, TypeError)):
        run_stage(stage, random_tensor(*parse_type(input_type)), {})


def test_a_float_parameter_that_sets_a_scale_is_checked_by_the_built_class():
    """The stated shapes hold for the scale they were checked with: the class refuses another,
    as it refuses another value of an integer size (a rate such as Dropout's p stays free)."""
    from netspec import api

    text = ("network N(s=1.5, rate=0.1) {\n    input x: float[batch, 2, 4]\n"
            "    y = x -> Upsample(scale_factor=s) -> Dropout(rate) -> interpolate(scale_factor=s)\n"
            "    output y\n}\n")
    spec = api.loads(text, file="n.net")
    cls = spec.module_class("N")
    with pytest.raises(ValueError, match="rebuild with --set s="):
        cls(s=2.0)
    model = cls(rate=0.2).eval()
    assert list(model(torch.zeros(3, 2, 4)).shape) == [3, 2, 9]
