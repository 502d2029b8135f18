"""Operators on tensors (`a + b`, `2 - x`, `q @ k`, `x ** 2`, `x[:, -1]`) against Python itself.

A netspec operator expression is also Python: the oracle is Python's own parser and
torch's own operators, evaluating the very same text on real tensors. Whatever Python
evaluates at every size, netspec must accept with the dtype and shape torch gives, and
the built module must compute the same values; netspec refuses only what torch refuses
at some sizes (the symbols `b` and `n` stand for every size).
Random expressions (seed printed, rotating) reach every operator, both operand orders,
integer and floating tensors, Python numbers, and subscripts with slices, `...` and None.
"""

from __future__ import annotations

import os
import random
import re
import time

import pytest

torch = pytest.importorskip("torch")

from netspec import api  # noqa: E402
from netspec.checker import check_text  # noqa: E402
from netspec.dims import evaluate  # noqa: E402

# the inputs: name -> (spec type, torch dtype, shape over the sizes)
INPUTS = {
    "x": ("float32[b, n]", torch.float32, "bn"),
    "y": ("float32[n]", torch.float32, "n"),
    "h": ("float16[b, 1]", torch.float16, "b1"),
    "i": ("int64[b, n]", torch.int64, "bn"),
    "k": ("int32[n]", torch.int32, "n"),
    "w": ("float32[n, n]", torch.float32, "nn"),
}
SAMPLES = [{"b": 3, "n": 4}, {"b": 2, "n": 7}, {"b": 5, "n": 2}, {"b": 1, "n": 1}]
GRID = [{"b": b, "n": n} for b in range(1, 7) for n in range(1, 9)]


def spec_of(expr: str, names: list[str]) -> str:
    decls = "\n".join(f"    input {n}: {INPUTS[n][0]}" for n in names)
    return f"network E {{\n{decls}\n    out = {expr}\n    output out\n}}\n"


def tensors(names: list[str], sizes: dict, seed: int = 0) -> dict:
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for n in names:
        _, dtype, dims = INPUTS[n]
        shape = tuple(sizes.get(d, 1) for d in dims)
        if dtype.is_floating_point:
            out[n] = (torch.rand(shape, generator=gen) * 2 + 0.5).to(dtype)  # away from 0
        else:
            out[n] = torch.randint(1, 4, shape, generator=gen, dtype=dtype)  # never 0
    return out


def python_value(expr: str, env: dict):
    """What Python and torch make of the text, or the exception torch raises."""
    try:
        return eval(expr, {"__builtins__": {}}, env), None  # noqa: S307 (test text)
    except (RuntimeError, TypeError, IndexError, ValueError, ZeroDivisionError) as e:
        return None, e


def agree(expr: str) -> str:
    """Check ``expr`` with netspec and with Python; the outcome, for the caller's counts."""
    names = [n for n in INPUTS if n in _words(expr)]
    result = check_text(spec_of(expr, names), "e.net")
    errors = [d for d in result.reporter.items if d.severity == "error"]
    if errors:
        failing = next((s for s in GRID if python_value(expr, tensors(names, s))[1] is not None), None)
        assert failing is not None, f"netspec refuses `{expr}`, which torch evaluates at every size: " \
                                    f"{[d.message for d in errors]}"
        return "refused"
    (net,) = result.networks
    t = net.outputs[0][1].tensor
    if any(d.code == "unproven" for d in result.reporter.items):  # an assumption, stated: it must be needed
        assert _assumption_needed(expr), f"`{expr}`: an assumption that always holds"
        return "assumed"
    model = api.loads(spec_of(expr, names)).module("E")
    for sizes in SAMPLES:
        env = tensors(names, sizes)
        expected, raised = python_value(expr, env)
        assert raised is None, f"netspec accepts `{expr}`, which torch refuses at {sizes}: {raised}"
        assert t.dtype == str(expected.dtype).removeprefix("torch."), expr
        assert [evaluate(net.dim(d), sizes) for d in t.shape] == list(expected.shape), (expr, sizes)
        got = model(*[env[n] for n in names])
        assert got.dtype == expected.dtype and got.shape == expected.shape, expr
        torch.testing.assert_close(got, expected, equal_nan=True, rtol=1e-3, atol=1e-3, msg=expr)
    return "ran"


def _holds(expr: str, names: list[str], net, t, sizes: dict) -> bool:
    value, raised = python_value(expr, tensors(names, sizes))
    return raised is None and [evaluate(net.dim(d), sizes) for d in t.shape] == list(value.shape)


def _assumption_needed(expr: str) -> bool:
    """An `unproven` warning is justified when the shape it states fails at some size, for the
    expression or for one of its subscripted parts (`y[:2]` in `y[:2][0]`)."""
    import ast
    parts = [expr] + [ast.get_source_segment(expr, node) for node in ast.walk(ast.parse(expr, mode="eval"))
                      if isinstance(node, ast.Subscript)]
    for part in parts:
        names = [n for n in INPUTS if n in _words(part)]
        result = check_text(spec_of(part, names), "e.net")
        if result.networks and not any(d.severity == "error" for d in result.reporter.items):
            (net,) = result.networks
            t = net.outputs[0][1].tensor
            if any(not _holds(part, names, net, t, s) for s in GRID):
                return True
    return False


def _words(expr: str) -> set[str]:
    import re
    return set(re.findall(r"[A-Za-z_]\w*", expr))


CASES = [
    "x + y", "y + x", "x - y", "x * 2", "2 * x", "1 - x", "2 / x", "x / 2", "2 ** x", "x ** 2",
    "-x", "-x ** 2", "(-x) ** 2", "x ** -1", "2 ** -x", "x @ w", "x @ w @ w", "i // 2", "x // 2",
    "i / 2", "2 / i", "1 - i", "2 ** k", "k ** 2", "i * 0.5", "h + x", "h * i", "x + i",
    "x[:, -1]", "x[..., 0]", "x[None]", "x[1:, :2]", "x[::2]", "x[:, ::-1]", "x[0, 0]",
    "x[:, 1:3] + y[1:3]", "(x @ w)[:, 0]", "x[-1] * 2", "y[None, :, None]", "x[..., None, :]",
    "x - -x", "x - 2 * -y", "2 - 3 * x", "1 / (1 + 2 ** -x)", "k - 1", "-k + i",
    # refused by torch, so by netspec
    "x @ y @ y", "x @ i", "x + w", "x[0, 0, 0]", "k ** -1", "i @ i",
]


@pytest.mark.parametrize("expr", CASES)
def test_operators_read_as_python_reads_them(expr):
    agree(expr)


# -- random expressions ------------------------------------------------------------------------

def random_expr(rng: random.Random, depth: int = 0) -> str:
    """A random operator expression over the inputs, numbers and subscripts."""
    if depth >= 3 or rng.random() < 0.3:
        return rng.choice([rng.choice(["x", "y", "h", "i", "k"]), rng.choice(["x", "i", "y"]),
                           rng.choice(["2", "3", "0.5", "1.5"]), f"{rng.choice(['x', 'y', 'w'])}{subscript(rng)}"])
    kind = rng.random()
    if kind < 0.15:
        return f"-{random_expr(rng, depth + 1)}"
    if kind < 0.25:
        return f"({random_expr(rng, depth + 1)}){subscript(rng)}"
    op = rng.choice(["+", "-", "*", "/", "**", "@", "//"])
    left, right = random_expr(rng, depth + 1), random_expr(rng, depth + 1)
    if op in ("**", "//"):
        right = rng.choice(["2", "3", "0.5"])  # torch refuses data-dependent int powers and divides by 0
    return f"({left} {op} {right})" if rng.random() < 0.5 else f"{left} {op} {right}"


def subscript(rng: random.Random) -> str:
    items = rng.choice([[":", "-1"], ["..."], ["None"], ["1:"], ["::2"], [":", "None"], ["0"], [":2", "..."]])
    return "[" + ", ".join(items) + "]"


def test_random_operator_expressions_agree_with_python():
    seed = int(os.environ.get("NETSPEC_SEED", time.time_ns() % 2**32))
    print(f"seed {seed} (NETSPEC_SEED={seed} repeats it)")
    rng = random.Random(seed)
    seen = {"ran": 0, "refused": 0, "assumed": 0}
    for _ in range(int(os.environ.get("NETSPEC_OPERATOR_CASES", "150"))):
        expr = random_expr(rng)
        if all(c not in expr for c in "xyhikw"):
            continue
        seen[agree(expr)] += 1
    assert seen["ran"] > 20 and seen["refused"] > 5, seen


def test_sizes_keep_integer_arithmetic_and_refuse_tensor_operators():
    ok = check_text("network S(d = 8) {\n    input x: float[b, d * 2 ** 2]\n    y = x -> Linear(d // 2 ** 1)\n"
                    "    output y\n}\n", "s.net")
    assert ok.ok and ok.networks[0].dim(ok.networks[0].inputs[0].tensor.shape[1]) == 32
    float_input = check_text("network S(d = 8) {\n    input x: float[b, d / 2]\n    output x\n}\n", "s.net")
    assert "sizes divide with `//`" in "".join(d.help or "" for d in float_input.reporter.items)
    for bad, words in [("d / 2", "expected an integer, received 4.0"), ("d @ d", "`@` multiplies matrices"),
                       ("2 ** b", "exponent must be a known integer"), ("2 ** 99", "from 0 to 64")]:
        r = check_text(f"network S(d = 8) {{\n    input x: float[b, 4]\n    y = x -> Linear({bad})\n"
                       f"    output y\n}}\n", "s.net")
        text = "\n".join(f"{d.message} {d.help}" for d in r.reporter.items)
        assert not r.ok and words in text, text


def test_built_code_writes_the_operators():
    code = api.loads(spec_of("1 / (1 + 2 ** -x) + x[:, -1:] @ w[:1]", ["x", "w"])).code
    for line in ("= -x", "= 2**", ".add_(1)", "= 1 / ", "x[:, -1:]", "w[:1]", " @ "):
        assert line in code, (line, code)


_OPERATOR_SPEC = ("network N {{\n    input a: float[batch, 3]\n    input b: float[batch, 5]\n"
                  "    input t: bool[batch, 3]\n    y = {}\n    output y\n}}\n")
# what the operators stand for: never a word of what a user who wrote the operator is told
_OP_NAMES = re.compile(r"(?<![\w`])(add|sub|mul|div|matmul|pow|rsub|rdiv|rpow|neg|getitem)(?![\w])")


@pytest.mark.parametrize("expr, shown", [
    ("a + b", "`+`"), ("a - b", "`-`"), ("a * b", "`*`"), ("a / b", "`/`"), ("a // b", "`//`"), ("a ** b", "`**`"),
    ("a @ b", "`@`"), ("a % b", "`%`"), ("a @ 2", "`@`"), ("2 @ a", "`@`"), ("t - t", "`-`"), ("2 - t", "`-`"),
    ("-t", "unary `-`"), ("t ** -1", "`**`"), ('a + "x"', "`+`"), ('a ** "x"', "`**`"), ("a + None", "`+`"),
    ("t // t", "`//`"), ("t ** t", "`**`"), ("t @ t", "`@`"), ("a[1.5]", "indexing"),
    ("a[:, 7]", "indexing"), ("a[0, 0, 0]", "indexing"), ("a[::-1]", "indexing"), ("a[..., ..., 0]", "indexing"),
    ("(a * 2)[:, 1:] -> Linear(4, in_features=7)", "indexing `[...]` (line 5) makes it"),
])
def test_an_operator_error_names_the_operator_as_written(expr, shown):
    r = check_text(_OPERATOR_SPEC.format(expr), "n.net")
    errors = r.reporter.errors
    assert len(errors) == 1, [d.message for d in errors]
    (d,) = errors
    said = " ".join([d.message, *d.notes])
    assert shown in said, said
    assert not _OP_NAMES.search(said) and not re.search(r"`(add|sub|mul|div|matmul|pow|neg|getitem)\b", d.help or ""), \
        (said, d.help)
    assert d.help, d.message


@pytest.mark.parametrize("expr, said", [
    # an op called by name inside an operator's operand keeps its name: the error is its own
    ("a + add(b, a)", "add cannot broadcast float32[batch, 5] with float32[batch, 3]"),
    ("a * (b -> mul(a))", "mul cannot broadcast float32[batch, 5] with float32[batch, 3]"),
    ("a + (a -> getitem((0, 0, 0)))", "getitem: 3 indices for float32[batch, 3]"),
    ("a + a[0, 0, 0]", "indexing `[...]`: 3 indices for float32[batch, 3]"),
    # a reflected op called by name is named as written
    ("t -> rsub(2)", "rsub: subtraction with a bool tensor"),
    ('t -> div(t, rounding_mode="floor")', 'div(rounding_mode="floor") of bool tensors'),
    ("t // t", "`//` of bool tensors"),
    ('a -> add("x")', 'add(other=...): expected a number, received "x"'),
    ('a + "x"', '`+`: expected a number, received "x"'),
])
def test_an_error_names_the_op_or_operator_the_spec_wrote(expr, said):
    r = check_text(_OPERATOR_SPEC.format(expr), "n.net")
    (d,) = r.reporter.errors
    assert d.message.startswith(said), d.message


def test_an_operand_refused_by_type_says_what_each_side_takes():
    (op,) = check_text(_OPERATOR_SPEC.format('a ** "x"'), "n.net").reporter.errors
    (call,) = check_text(_OPERATOR_SPEC.format('a -> pow(exponent="x")'), "n.net").reporter.errors
    assert op.help == "each side of `**` takes a tensor or a number", op.help
    assert call.help == "`exponent` takes a number", call.help
