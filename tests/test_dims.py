"""Property tests of netspec.dims: symbolic dims agree with Python's integers.

Random expressions over a few symbols (+, -, *, and floor division by a positive
constant) are built twice: as dims, and as plain Python arithmetic on random values.
Evaluation, rendering, canonical forms, comparison and exact division must all agree.
"""

from __future__ import annotations

import ast

from hypothesis import given, settings
from hypothesis import strategies as st

from netspec.dims import compare, evaluate, exact_div, floordiv, render, substitute, sym, symbols

NAMES = ("a", "b", "h")

leaves = st.one_of(st.sampled_from(NAMES), st.integers(-6, 9))


def _extend(children):
    return st.one_of(
        st.tuples(st.sampled_from(["+", "-", "*"]), children, children),
        st.tuples(st.just("//"), children, st.integers(1, 7)),
    )


trees = st.recursive(leaves, _extend, max_leaves=7)
polynomials = st.recursive(leaves, lambda ch: st.tuples(st.sampled_from(["+", "-", "*"]), ch, ch), max_leaves=6)
envs = st.fixed_dictionaries({n: st.integers(-40, 60) for n in NAMES})
positive_envs = st.fixed_dictionaries({n: st.integers(1, 60) for n in NAMES})


def build(t):
    """The tree as a dim."""
    if isinstance(t, str):
        return sym(t)
    if isinstance(t, int):
        return t
    op, left, right = t
    x = build(left)
    if op == "//":
        return x // right
    y = build(right)
    return x + y if op == "+" else x - y if op == "-" else x * y


def value(t, env):
    """The tree as plain Python integer arithmetic."""
    if isinstance(t, str):
        return env[t]
    if isinstance(t, int):
        return t
    op, left, right = t
    x = value(left, env)
    if op == "//":
        return x // right
    y = value(right, env)
    return x + y if op == "+" else x - y if op == "-" else x * y


settings.register_profile("netspec", max_examples=300, deadline=None)
settings.load_profile("netspec")


@given(trees, envs)
def test_evaluate_matches_python(t, env):
    assert evaluate(build(t), env) == value(t, env)


@given(trees, st.integers(1, 9), envs)
def test_floordiv_matches_python(t, c, env):
    d = build(t)
    assert evaluate(floordiv(d, c), env) == value(t, env) // c
    assert evaluate(d // c, env) == value(t, env) // c


@given(trees, positive_envs)
def test_render_is_a_python_expression_over_the_symbols(t, env):
    d = build(t)
    text = render(d)
    tree = ast.parse(text, mode="eval")
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert names == symbols(d) <= set(NAMES)
    assert not any(isinstance(n, (ast.Call, ast.Attribute, ast.Subscript)) for n in ast.walk(tree))
    assert eval(compile(tree, "<dim>", "eval"), {"__builtins__": {}}, dict(env)) == evaluate(d, env)
    assert str(d) == text


@given(trees, trees, positive_envs)
def test_render_keeps_precedence_in_context(t, u, env):
    """Rendered text pasted into a larger expression still means the same dim."""
    d, e = build(t), build(u)
    for combined, expect in ((f"({render(d)}) * ({render(e)})", d * e),
                             (f"({render(d)}) - ({render(e)})", d - e),
                             (f"({render(d)}) // 3", floordiv(d, 3))):
        assert eval(combined, {"__builtins__": {}}, dict(env)) == evaluate(expect, env)


# -- canonical forms ------------------------------------------------------------------------------

def _has_floor(t) -> bool:
    return not isinstance(t, (str, int)) and (t[0] == "//" or _has_floor(t[1]) or _has_floor(t[2]))


def rewrite(t, draw):
    """An expression equal to ``t`` for every value of the symbols, written differently."""
    if isinstance(t, (str, int)):
        rule = draw(st.integers(0, 3))
        if rule == 1:
            return ("+", t, 0)
        if rule == 2:
            return ("*", 1, t)
        if rule == 3:
            k = draw(st.integers(1, 5))
            return ("//", ("*", t, k), k)
        return t
    op, left, right = t
    left = rewrite(left, draw)
    if op != "//":
        right = rewrite(right, draw)
    rule = draw(st.integers(0, 7))
    if rule == 1 and op in "+*":
        return (op, right, left)  # commutativity
    if rule == 2 and op == "-":
        return ("+", left, ("*", -1, right))
    if rule == 3 and op == "*" and not isinstance(left, (str, int)) and left[0] in "+-":
        return (left[0], ("*", left[1], right), ("*", left[2], right))  # distributivity
    if rule == 4 and op == "//" and not isinstance(left, (str, int)) and left[0] == "//" \
            and not _has_floor(left[1]):
        return ("//", left[1], left[2] * right)  # (x // a) // b == x // (a * b)
    if rule == 5 and op == "//":
        k = draw(st.integers(-4, 4))
        return ("-", ("//", ("+", left, k * right), right), k)  # (x + k*c) // c - k
    if rule == 6 and op == "+" and not isinstance(left, (str, int)) and left[0] == "+":
        return ("+", left[1], ("+", left[2], right))  # associativity
    if rule == 7 and op == "//" and not _has_floor(left):
        k = draw(st.integers(1, 4))
        return ("//", ("//", ("*", left, k), k), right)
    return (op, left, right)


@given(trees, st.data())
def test_equal_expressions_have_one_canonical_form(t, data):
    u = rewrite(t, data.draw)
    d, e = build(t), build(u)
    assert d == e, (render(d), render(e), u)
    assert hash(d) == hash(e)
    assert render(d) == render(e)
    assert compare(d, e) is True


@given(polynomials, st.integers(1, 9), st.integers(-5, 5), polynomials)
def test_the_documented_floor_rules(t, c, k, m):
    x, poly = build(t), build(m)
    # the quotient's integer part moves out of the atom
    assert floordiv(x + k * c, c) == floordiv(x, c) + k
    # nested floors by constants collapse into one
    for a in (2, 3):
        assert floordiv(floordiv(x, a) + k, c) == floordiv(x + k * a, a * c)
        assert floordiv(floordiv(x, a) + poly, c) == floordiv(x + poly * a, a * c)
    # a common factor cancels
    assert floordiv(x * c, c * 3) == floordiv(x, 3)
    assert floordiv(floordiv(x, 2), 3) == floordiv(x, 6)


def test_documented_examples():
    h = sym("h")
    assert floordiv(3 * h + 5, 2) == h + 2 + floordiv(h + 1, 2)
    assert render(floordiv(3 * h + 5, 2)) == "h + (h + 1) // 2 + 2"
    # a chain of strided convolutions stays one atom
    x = h
    for _ in range(3):
        x = floordiv(x + 2 - 3, 2) + 1
    assert len([m for m in x.terms if m]) == 1


# -- comparison and exact division ---------------------------------------------------------------

@given(trees, trees, st.lists(envs, min_size=5, max_size=5))
def test_compare_is_never_wrong(t, u, sample):
    d, e = build(t), build(u)
    verdict = compare(d, e)
    if verdict is True:
        assert all(value(t, env) == value(u, env) for env in sample)
    elif verdict is False:
        assert all(value(t, env) != value(u, env) for env in sample)


@given(trees, st.integers(-5, 5), st.lists(envs, min_size=5, max_size=5))
def test_compare_with_a_shift(t, k, sample):
    d = build(t)
    verdict = compare(d + k, d)
    assert verdict is (k == 0)
    if k:
        assert all(value(t, env) + k != value(t, env) for env in sample)


@given(trees, st.one_of(st.integers(-6, 9).filter(bool), trees), envs)
def test_exact_div_is_exact(t, u, env):
    a = build(t)
    b = build(u) if not isinstance(u, int) else u
    q = exact_div(a, b)
    if q is not None:
        assert evaluate(q * b, env) == evaluate(a, env)
    if b != 0 and (isinstance(b, int) or len(b.terms) == 1):
        assert exact_div(a * b, b) == a  # a monomial divisor always divides its multiples


@given(trees, positive_envs)
def test_substitute_then_evaluate(t, env):
    d = build(t)
    partial = substitute(d, {"a": env["a"]})
    assert "a" not in symbols(partial)
    assert evaluate(partial, env) == evaluate(d, env)
    # substituting an expression for a symbol composes
    e = substitute(d, {"h": sym("b") + 1})
    assert evaluate(e, env) == value(t, {**env, "h": env["b"] + 1})


def test_total_is_sum():
    """dims.total gathers the terms once; it must be what `sum` gives, in every mix."""
    import random

    from netspec.dims import sym, total

    a, b = sym("a"), sym("b")
    rng = random.Random(7)
    pool = [0, 1, 5, -3, a, b, a * b, 2 * a + 1, -a, a * a - b + 4]
    for _ in range(300):
        dims = [rng.choice(pool) for _ in range(rng.randrange(6))]
        assert total(dims) == sum(dims, 0), dims
        assert type(total(dims)) is type(sum(dims, 0))


def test_sizes_equal_only_at_multiples_are_found_and_the_fix_holds():
    """`h // 2` and `2 * (h // 4)` (a U-Net's skip and its upsampled map) are equal exactly
    when h % 4 is 0 or 1; written with h a multiple of 4 they are equal for every value."""
    from netspec.dims import equal_at_multiples, rounding_help

    h, w = sym("h"), sym("w")
    cases = [
        (floordiv(h, 2), 2 * floordiv(h, 4), 4),
        (floordiv(h - 1, 2) + 1, floordiv(h, 2), 2),            # a stride-2 3x3 conv (padding 0) vs a pool
        (h, 2 * floordiv(h, 2), 2),
        (floordiv(floordiv(h, 2), 2) * 4, h, 4),
    ]
    for a, b, m in cases:
        assert equal_at_multiples(a, b) == (m, ["h"])
        assert any(evaluate(a, {"h": v}) != evaluate(b, {"h": v}) for v in range(1, 20))
        assert all(evaluate(a, {"h": m * v}) == evaluate(b, {"h": m * v}) for v in range(1, 50))
        assert f"`{m} * h`" in rounding_help(a, b)
    for a, b in [(h, w), (floordiv(h, 2), floordiv(h, 3)), (h, h + 1), (floordiv(h, 2), floordiv(h, 2))]:
        assert equal_at_multiples(a, b) is None and rounding_help(a, b) is None


# -- floor division by a symbolic divisor (a stride or window of a generic block) ----------------

def test_a_floor_over_a_symbolic_divisor_is_python_floor_division_at_every_value():
    from netspec.dims import dividing, least

    h, w, s, k = sym("h"), sym("w"), sym("s"), sym("k")
    sizes = [floordiv(h + s - 1, s), floordiv(h - 3, s) + 1, floordiv(h, k), floordiv(15, s),
             w * floordiv(h + s - 3, s) * floordiv(w + s - 3, s), floordiv(floordiv(h, k) + s - 1, s)]
    for size in sizes:
        text = render(size)
        for hv, wv, sv, kv in ((9, 4, 1, 1), (16, 16, 2, 3), (7, 31, 5, 2), (3, 3, 3, 4)):
            env = {"h": hv, "w": wv, "s": sv, "k": kv}
            assert evaluate(size, env) == eval(text, {}, env), text  # noqa: S307 - a rendered size
    assert floordiv(h * s + 2 * s, s) == h + 2  # exact: no atom
    assert compare(floordiv(h + s - 1, s), floordiv(h + s - 1, s)) is True
    assert substitute(floordiv(h + s - 1, s), {"s": 1}) == h
    assert least(floordiv(h + s - 1, s), {"h", "s"}) == 1  # a conv's output over a stride: at least 1
    assert symbols(floordiv(h, k)) == {"h", "k"}
    with dividing():
        assert render(h // k) == "h // k"


def test_a_maximum_is_canonical_and_decided_by_substitution():
    from netspec.dims import least, maximum

    m, c, h = sym("m"), sym("c"), sym("h")
    most = maximum(m, c)
    assert most == maximum(c, m) == maximum(most, m) == maximum(c, most, m)
    assert render(most) == "max(c, m)" and render(8 * most + 8) == "8 * max(c, m) + 8"
    assert maximum(h + 1, h, positive={"h"}) == h + 1  # one argument provably the greater
    assert maximum(3, 5, m) == maximum(5, m) and maximum(3, 5) == 5
    assert substitute(most, {"m": 1, "c": 6}) == 6 and substitute(most, {"m": 6, "c": 1}) == 6
    assert substitute(most, {"m": c}) == c
    assert compare(most, m) is None and compare(most, maximum(c, m)) is True
    assert least(most, {"m", "c"}) == 1 and least(most) is None
    assert symbols(most // 2) == {"c", "m"}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 4)), min_size=2, max_size=4),
       st.integers(1, 9), st.integers(1, 9))
def test_a_maximum_evaluates_to_the_greatest_of_its_arguments(args, m, c):
    from netspec.dims import maximum

    dims = [a * sym("m") + b * sym("c") + k for a, b, k in args]
    env = {"m": m, "c": c}
    assert evaluate(maximum(*dims, positive={"m", "c"}), env) == max(evaluate(d, env) for d in dims)
    assert evaluate(maximum(*dims) // 2 + 1, env) == max(evaluate(d, env) for d in dims) // 2 + 1
