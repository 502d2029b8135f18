"""A refused argument's help line says what the argument takes, in torch's terms, and no
diagnostic shows netspec's internals (a graph value's repr, getitem's slice tuples).

What a help line lists is checked against torch itself: torch refuses the value the spec
gave and accepts each value the help line names. The lists are read from the help line
netspec prints; the verdicts on them come from torch alone.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from netspec.checker import check_text  # noqa: E402
from netspec.kinds import REGISTRY  # noqa: E402
from netspec.kinds.args import Args  # noqa: E402
from netspec.kinds.base import takes  # noqa: E402

BROKEN = Path(__file__).resolve().parent / "broken"

SPEC = """network N {{
    input x: float[2, 3, 8, 8]
    input s: float[2, 5]
    input t: float[2, 5]
    input i: long[2]
    y = {}
    output y
}}
"""


def _only_error(stage: str):
    (d,) = check_text(SPEC.format(stage), "n.net").reporter.errors
    return d


def _listed(help: str) -> list[Any]:
    """The values a help line `... takes one of `a`, `b` or `c`` names (`None` as None)."""
    m = re.search(r"takes one of (.*)$", help)
    assert m, help
    return [None if v == "None" else v for v in re.findall(r"`([^`]+)`", m.group(1))]


def _refuses(make) -> bool:
    try:
        make()
    except (ValueError, RuntimeError, TypeError, NotImplementedError):
        return True
    return False


# -- every argument of every kind says what it takes -----------------------------------------

@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_argument_says_what_it_takes(name):
    kind = REGISTRY[name]
    for field in kind.Args.model_fields:
        words = takes(kind, field)
        assert words and "its type" not in words, (name, field, words)


def test_an_argument_whose_annotation_says_nothing_is_refused_when_its_class_is_built():
    class Mute(Args):
        x: Any = 0

    with pytest.raises(TypeError, match="does not say what it takes"):
        Mute(x=1)


# -- help lines of real diagnostics, checked against torch ------------------------------------

def test_conv_padding_mode():
    d = _only_error('x -> Conv2d(8, 3, padding_mode="zero")')
    modes = _listed(d.help)
    assert d.help.startswith("`padding_mode` takes one of") and len(modes) >= 2, d.help
    x = torch.randn(1, 3, 8, 8)
    assert _refuses(lambda: torch.nn.Conv2d(3, 8, 3, padding_mode="zero")(x))
    for mode in modes:
        assert torch.nn.Conv2d(3, 8, 3, padding=1, padding_mode=mode)(x).shape == (1, 8, 8, 8), mode


def test_conv_transpose_padding_mode():
    d = _only_error('x -> ConvTranspose2d(8, 3, padding_mode="zero")')
    assert "`padding_mode` takes only `zeros`" in d.help, d.help
    x = torch.randn(1, 3, 8, 8)
    assert torch.nn.ConvTranspose2d(3, 8, 3, padding_mode="zeros")(x).shape == (1, 8, 10, 10)
    for mode in ("zero", "reflect", "replicate", "circular"):  # what a plain Conv2d takes besides
        assert _refuses(lambda mode=mode: torch.nn.ConvTranspose2d(3, 8, 3, padding_mode=mode)(x)), mode


def test_upsample_mode():
    d = _only_error('x -> Upsample(scale_factor=2, mode="cubic")')
    modes = _listed(d.help)
    assert d.help.startswith("`mode` takes one of") and len(modes) >= 2, d.help
    assert _refuses(lambda: torch.nn.Upsample(scale_factor=2, mode="cubic")(torch.randn(1, 3, 4, 4)))
    for mode in modes:  # each mode works on the input of some rank (linear 3, bilinear 4, ...)
        works = [r for r in (3, 4, 5) if not _refuses(
            lambda r=r, mode=mode: torch.nn.Upsample(scale_factor=2, mode=mode)(torch.randn(*(1, 2, 4, 4, 4)[:r])))]
        assert works, mode


def test_div_rounding_mode():
    d = _only_error('div(s, t, rounding_mode="round")')
    modes = _listed(d.help)
    assert d.help.startswith("`rounding_mode` takes one of") and None in modes, d.help
    a, b = torch.randn(2, 5), torch.randn(2, 5) + 3
    assert _refuses(lambda: torch.div(a, b, rounding_mode="round"))
    for mode in modes:
        assert torch.div(a, b, rounding_mode=mode).shape == (2, 5), mode


def test_pad_mode():
    d = _only_error('s -> pad((1, 1), mode="zeros")')
    modes = _listed(d.help)
    assert d.help.startswith("`mode` takes one of") and len(modes) >= 2, d.help
    x = torch.randn(1, 2, 5)
    assert _refuses(lambda: torch.nn.functional.pad(x, (1, 1), mode="zeros"))
    for mode in modes:
        assert torch.nn.functional.pad(x, (1, 1), mode=mode).shape == (1, 2, 7), mode


def test_transformer_activation():
    d = _only_error('s -> TransformerEncoderLayer(4, 2, activation="tanh")')
    modes = _listed(d.help)
    assert d.help.startswith("`activation` takes one of") and modes, d.help
    assert _refuses(lambda: torch.nn.TransformerEncoderLayer(4, 2, activation="tanh"))
    for mode in modes:
        layer = torch.nn.TransformerEncoderLayer(4, 2, activation=mode, batch_first=True)
        assert layer(torch.randn(2, 3, 4)).shape == (2, 3, 4), mode


def test_layer_norm_eps():
    # LayerNorm's first positional argument in a spec is eps (normalized_shape is inferred)
    d = _only_error('s -> LayerNorm("a")')
    assert d.help == "`eps` takes a number", d.help
    x = torch.randn(2, 5)
    assert _refuses(lambda: torch.nn.LayerNorm(5, eps="a")(x))
    assert torch.nn.LayerNorm(5, eps=1e-3)(x).shape == (2, 5)


def test_layer_norm_normalized_shape():
    d = _only_error('s -> LayerNorm(normalized_shape="a")')
    assert d.help.startswith("`normalized_shape` takes an integer or a tuple of integers"), d.help
    x = torch.randn(2, 5)
    assert _refuses(lambda: torch.nn.LayerNorm("a")(x))
    assert torch.nn.LayerNorm(5)(x).shape == torch.nn.LayerNorm((5,))(x).shape == (2, 5)


def test_conv_padding():
    d = _only_error('x -> Conv2d(8, 3, padding="full")')
    assert d.help == "`padding` takes an integer, a tuple of integers, `same` or `valid`", d.help
    x = torch.randn(1, 3, 8, 8)
    assert _refuses(lambda: torch.nn.Conv2d(3, 8, 3, padding="full")(x))
    for padding in (1, (1, 2), "same", "valid"):
        assert torch.nn.Conv2d(3, 8, 3, padding=padding)(x).dim() == 4, padding


def test_conv_transpose_padding_takes_no_string():
    d = _only_error("x -> ConvTranspose2d(8, 3, padding=(1, \"a\"))")
    assert d.help == "give the padding as an integer or a tuple of integers", d.help
    assert takes(REGISTRY["ConvTranspose2d"], "padding") == "an integer or a tuple of integers"
    x = torch.randn(1, 3, 8, 8)
    for padding in ("same", "valid"):
        assert _refuses(lambda padding=padding: torch.nn.ConvTranspose2d(3, 8, 3, padding=padding)(x)), padding
    for padding in (1, (1, 2)):
        assert torch.nn.ConvTranspose2d(3, 8, 3, padding=padding)(x).dim() == 4, padding


def test_batch_norm_momentum():
    d = _only_error('x -> BatchNorm2d(momentum="x")')
    assert d.help.startswith("`momentum` takes a number or `None`"), d.help
    assert '"x"' in d.message, d.message
    x = torch.randn(2, 3, 8, 8)
    assert _refuses(lambda: torch.nn.BatchNorm2d(3, momentum="x")(x))
    for momentum in (0.5, None):
        assert torch.nn.BatchNorm2d(3, momentum=momentum)(x).shape == x.shape, momentum


# -- indexing by a tensor ---------------------------------------------------------------------

@pytest.mark.parametrize("stage, tensor", [("s[t]", "t"), ("s[i]", "i"), ("s[0, t]", "t"), ("s[t:3]", "t"),
                                           ("s[:, 1:i]", "i")])
def test_indexing_by_a_tensor_says_so_in_the_specs_terms(stage, tensor):
    d = _only_error(stage)
    assert d.code == "argument"
    assert f"the tensor `{tensor}` cannot index here" in d.message, d.message
    assert "slice" in d.message and "`...`" in d.message and "Value(" not in d.message, d.message
    assert '("slice"' not in d.message, d.message
    assert "integers or slices" in d.help and "not supported" in d.help, d.help


def test_a_bad_index_is_told_in_the_specs_terms():
    d = _only_error("s[1.5]")
    assert '("slice"' not in d.message and "received 1.5" in d.message, d.message
    assert d.help == "indexing `[...]` takes integers, slices `a:b:c`, `...` and `None`", d.help


# -- no diagnostic shows a graph value's repr -------------------------------------------------

HAND = ["s[t]", "s[(t, 0)]", "s -> pad((t, 1))", "s -> Linear(4, bias=(t,))", "s -> reshape((t, 5))",
        "s -> permute((t, 0))", "x -> Conv2d(8, (t, 3))", "s -> sum(dim=(t,))", "s -> Dropout(p=(t,))"]


def _shown(r) -> list[str]:
    return [text for d in r.reporter.items for text in (d.message, d.help or "", *d.notes)]


@pytest.mark.parametrize("stage", HAND)
def test_a_tensor_where_a_value_belongs_is_named_as_written(stage):
    r = check_text(SPEC.format(stage), "n.net")
    texts = _shown(r)
    assert r.reporter.errors and not any("Value(" in t for t in texts), texts
    assert any("the tensor `t`" in t for t in texts), texts


@pytest.mark.parametrize("path", sorted(BROKEN.glob("*.net")), ids=lambda p: p.stem)
def test_no_broken_file_shows_a_graph_value(path):
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        pytest.skip("not UTF-8: its diagnostic is about the bytes")
    texts = _shown(check_text(text, path.name))
    assert not any("Value(" in t for t in texts), texts
