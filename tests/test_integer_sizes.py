"""A size is an integer, as torch demands: arithmetic whose result is a float (`8 ** 0.5`,
`2 ** -1`, `n / 2`) is refused wherever a size is read, at the span of what was written,
with help; where an argument takes a number (Dropout's `p`) it stays legal, and the built
module gets the number Python computes."""

from __future__ import annotations

import pytest

from netspec.checker import check_text


def _spec(stage: str, params: str = "", input_type: str = "float[batch, 8]") -> str:
    return f"network N{params} {{\n    input x: {input_type}\n    y = x -> {stage}\n    output y\n}}\n"


def _underlined(text: str, span) -> str:
    assert span.line == span.end_line, span
    return text.split("\n")[span.line - 1][span.column - 1:span.end_column - 1]


@pytest.mark.parametrize("stage, params, words, written", [
    ("Linear(8 ** 0.5)", "", "expected an integer, received 2.828", "8 ** 0.5"),
    ("Linear(4 ** 0.5)", "", "expected an integer, received 2.0", "4 ** 0.5"),
    ("Linear(k ** 0.5)", "(k=4)", "expected an integer, received 2.0", "k ** 0.5"),
    # every value of a variadic argument is the argument; the message says which is wrong
    ("reshape(batch, 2 ** -1, -1)", "", "value 2 of (batch, 0.5, -1) is 0.5", "batch, 2 ** -1, -1"),
    ("repeat(1, 4 ** 0.5)", "", "value 2 of (1, 2.0) is 2.0", "1, 4 ** 0.5"),
    # read as a size (a repeat count, an assertion): the whole arithmetic, with its value
    ("Linear(8) * (4 ** 0.5)", "", "`4 ** 0.5` is 2.0, not an integer size", "4 ** 0.5"),
    ("Linear(8) : [batch, 8 ** 0.5]", "", "`8 ** 0.5` is 2.8284271247461903, not an integer size", "8 ** 0.5"),
    ("Linear(8) : [batch, k ** 0.5]", "(k)", "`k ** 0.5` is not an integer size", "k ** 0.5"),
    ("Linear(8) : [batch, 2 ** -1]", "", "`2 ** -1` is 0.5, not an integer size", "2 ** -1"),
])
def test_a_float_size_is_refused_where_it_is_written(stage, params, words, written):
    text = _spec(stage, params)
    errors = check_text(text, "n.net").reporter.errors
    assert len(errors) == 1, [d.message for d in errors]
    (d,) = errors
    assert d.code == "argument" and words in d.message and d.help, (d.message, d.help)
    assert _underlined(text, d.span) == written


def test_a_float_input_dim_is_refused():
    text = _spec("Linear(4)", input_type="float[batch, 2 ** -1]")
    (d,) = check_text(text, "n.net").reporter.errors
    assert "`2 ** -1` is 0.5, not an integer size" in d.message and d.help
    assert _underlined(text, d.span) == "2 ** -1"


def test_a_parameter_default_of_arithmetic_is_refused():
    (d,) = check_text(_spec("Linear(k)", "(k=2 ** 0.5)"), "n.net").reporter.errors
    assert d.code == "param" and d.help


def test_a_number_in_an_error_is_quoted_with_its_parentheses():
    (d,) = check_text(_spec("Dropout(1 / (k - k))", "(k)"), "n.net").reporter.errors
    assert "`1 / (k - k)`" in d.message, d.message


def test_torch_refuses_a_float_size_and_takes_a_float_probability():
    """The oracle: what netspec refuses above, torch refuses; what it keeps, torch runs."""
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError):
        torch.nn.Linear(8, 2 ** 0.5)
    with pytest.raises(TypeError):
        torch.zeros(2, 8).reshape(2, 2 ** -1, -1)
    from netspec import api
    spec = api.loads(_spec("Dropout(2 ** -1) -> Linear(2 ** 3)"))
    assert spec.ok, spec.diagnostics
    m = spec.module()
    assert m.y[0].p == 0.5 and isinstance(m.y[1].out_features, int) and m.y[1].out_features == 8
    assert m(torch.zeros(3, 8)).shape == (3, 8)
