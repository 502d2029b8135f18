"""Type promotion against torch: netspec.types.result_type over every pair of dtypes and
ranks against torch.result_type, and the dtype (or the refusal) of every arithmetic op
over every pair against what the op makes on real tensors.
"""

from __future__ import annotations

import itertools

import pytest

torch = pytest.importorskip("torch")

from netspec.checker import check_text  # noqa: E402
from netspec.types import Tensor, promote_types, result_type  # noqa: E402

DTYPES = ["bool", "int32", "int64", "float16", "bfloat16", "float32", "float64"]
NUMBERS = [2, -1, 0, 2.5, -0.5]


def real(dtype: str, rank: int):
    """A tensor of ``dtype`` with ``rank`` dims (0 or 1), holding values no op refuses."""
    shape = (3,) * rank
    if dtype == "bool":
        return torch.ones(shape, dtype=torch.bool)
    return torch.full(shape, 2, dtype=getattr(torch, dtype))


def spec_type(dtype: str, rank: int) -> str:
    return f"{dtype}[{', '.join(['3'] * rank)}]"


def test_promote_types_matches_torch():
    for a, b in itertools.product(DTYPES, DTYPES):
        want = str(torch.promote_types(getattr(torch, a), getattr(torch, b))).removeprefix("torch.")
        assert promote_types(a, b) == want, (a, b)


def test_result_type_of_tensors_matches_torch():
    for (a, ra), (b, rb) in itertools.product(itertools.product(DTYPES, (0, 1)), repeat=2):
        want = str(torch.result_type(real(a, ra), real(b, rb))).removeprefix("torch.")
        got = result_type(Tensor(a, (3,) * ra, (None,) * ra), Tensor(b, (3,) * rb, (None,) * rb))
        assert got == want, (a, ra, b, rb)


def test_result_type_with_numbers_matches_torch():
    for (a, ra), n in itertools.product(itertools.product(DTYPES, (0, 1)), NUMBERS):
        want = str(torch.result_type(real(a, ra), n)).removeprefix("torch.")
        assert result_type(Tensor(a, (3,) * ra, (None,) * ra), n) == want, (a, ra, n)


def _checked(decls: dict[str, str], chain: str):
    lines = "\n".join(f"    input {n}: {t}" for n, t in decls.items())
    result = check_text(f"network K {{\n{lines}\n    out = {chain}\n    output out\n}}\n", "k.net")
    errors = [d for d in result.reporter.errors]
    if errors:
        return None, errors
    (net,) = result.networks
    return net.outputs[0][1].tensor.dtype, []


def _torch_dtype(fn, *args, **kwargs):
    """The dtype of ``fn(*args)`` on real tensors, or what torch raised."""
    try:
        return str(fn(*args, **kwargs).dtype).removeprefix("torch."), None
    except (RuntimeError, TypeError) as e:
        return None, e


def _agree(stated, errors, actual, raised, what):
    if raised is not None:
        assert errors and errors[0].code in ("dtype", "value"), f"{what}: torch raised {raised}, netspec said {stated}"
    else:
        assert not errors, f"{what}: torch made {actual}, netspec said {[e.message for e in errors]}"
        assert stated == actual, f"{what}: torch made {actual}, netspec said {stated}"


OPS = ["add", "sub", "mul", "div", "pow"]


@pytest.mark.parametrize("op", OPS)
def test_arithmetic_of_two_tensors_matches_torch(op):
    for (a, ra), (b, rb) in itertools.product(itertools.product(DTYPES, (0, 1)), repeat=2):
        stated, errors = _checked({"x": spec_type(a, ra), "y": spec_type(b, rb)}, f"{op}(x, y)")
        actual, raised = _torch_dtype(getattr(torch, op), real(a, ra), real(b, rb))
        _agree(stated, errors, actual, raised, f"{op}({a}[{ra}], {b}[{rb}])")


@pytest.mark.parametrize("op", OPS)
def test_arithmetic_with_a_number_matches_torch(op):
    for (a, ra), n in itertools.product(itertools.product(DTYPES, (0, 1)), NUMBERS):
        stated, errors = _checked({"x": spec_type(a, ra)}, f"x -> {op}({n})")
        actual, raised = _torch_dtype(getattr(torch, op), real(a, ra), n)
        _agree(stated, errors, actual, raised, f"{op}({a}[{ra}], {n})")


@pytest.mark.parametrize("mode", ["floor", "trunc"])
def test_div_with_a_rounding_mode_matches_torch(mode):
    for (a, ra), (b, rb) in itertools.product(itertools.product(DTYPES, (0, 1)), repeat=2):
        stated, errors = _checked({"x": spec_type(a, ra), "y": spec_type(b, rb)}, f'div(x, y, rounding_mode="{mode}")')
        actual, raised = _torch_dtype(torch.div, real(a, ra), real(b, rb), rounding_mode=mode)
        _agree(stated, errors, actual, raised, f"div({a}[{ra}], {b}[{rb}], {mode})")


def test_where_matches_torch():
    for (a, ra), (b, rb) in itertools.product(itertools.product(DTYPES, (0, 1)), repeat=2):
        decls = {"c": "bool[3]", "x": spec_type(a, ra), "y": spec_type(b, rb)}
        stated, errors = _checked(decls, "where(c, x, y)")
        actual, raised = _torch_dtype(torch.where, real("bool", 1), real(a, ra), real(b, rb))
        _agree(stated, errors, actual, raised, f"where({a}[{ra}], {b}[{rb}])")
    for (a, ra), n in itertools.product(itertools.product(DTYPES, (0, 1)), NUMBERS):
        stated, errors = _checked({"c": "bool[3]", "x": spec_type(a, ra)}, f"where(c, x, {n})")
        actual, raised = _torch_dtype(torch.where, real("bool", 1), real(a, ra), n)
        _agree(stated, errors, actual, raised, f"where({a}[{ra}], {n})")


def test_unary_ops_and_reductions_match_torch():
    calls = {"neg": lambda t: t.neg(), "sum": lambda t: t.sum(0), "mean": lambda t: t.mean(0),
             "amax": lambda t: t.amax(0), "var": lambda t: t.var(0), "softmax": lambda t: t.softmax(0),
             "log_softmax": lambda t: t.log_softmax(0), "float": lambda t: t.float(), "long": lambda t: t.long()}
    stages = {"neg": "neg", "sum": "sum(0)", "mean": "mean(0)", "amax": "amax(0)", "var": "var(0)",
              "softmax": "softmax(0)", "log_softmax": "log_softmax(0)", "float": "float", "long": "long"}
    for name, dtype in itertools.product(calls, DTYPES):
        stated, errors = _checked({"x": spec_type(dtype, 1)}, f"x -> {stages[name]}")
        actual, raised = _torch_dtype(calls[name], real(dtype, 1))
        _agree(stated, errors, actual, raised, f"{name}({dtype})")


def test_a_number_may_not_come_before_a_tensor():
    """`sub(2.0, x)` is torch's 2.0 - x; netspec reads tensors first, so it refuses it
    rather than read x - 2.0."""
    _, errors = _checked({"x": "float32[3]"}, "sub(2.0, x)")
    assert [e.code for e in errors] == ["argument"]
    assert "before" in errors[0].message
