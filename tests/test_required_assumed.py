"""Facts a check used to assume silently, each now proven, tested by the built class (and by
`check --set` at given values), or an `unproven` warning with a help line and a note:

- a convolution's groups over channels a symbol sizes (`Conv1d(8, 3, groups=2)` over
  `[batch, c, L]`): torch refuses channels that do not divide at construction;
- a kernel size or stride from a parameter without a value: torch refuses one below 1, and
  over a symbolic length the output is at least 1 only where the input is at least the
  window, which no value bounds;
- a floor division by a parameter (`Linear(16 // s)`): the divisor and the quotient, a
  size, must be at least 1; a size a parameter halves (GLU) must be even;
- a network used as a stage, whose class a user may also construct directly: the class
  tests the facts its generic check assumed (an equality, a divisibility, a bound).

Every expected shape and parameter count comes from torch modules written here by hand.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
import oracle  # noqa: E402

from netspec import api, codes  # noqa: E402

nn = torch.nn
F = torch.nn.functional
_net = oracle._net


def _unproven(spec) -> list:
    return [d for d in spec.diagnostics if d.severity == "warning" and d.code == codes.UNPROVEN]


def _refused(cls, kwargs: dict, *said: str) -> None:
    """The class refuses ``kwargs`` with a ValueError of its own (a spec line, the fact)."""
    with pytest.raises(ValueError) as e:
        cls(**kwargs)
    text = str(e.value)
    assert "line " in text and all(s in text for s in said), text


def _count(m) -> int:
    return sum(p.numel() for p in m.parameters())


def _same_as_hand(model, hand, *xs) -> None:
    """The built module and the hand-written one: the same output shape and parameter count."""
    model.eval()
    hand.eval()
    with torch.no_grad():
        assert list(model(*xs).shape) == list(hand(*xs).shape)
    assert _count(model) == _count(hand)


# -- (a) groups over channels a symbol sizes ------------------------------------------------

GROUPS = _net("G", "input x: float[batch, c, 9]", "y = x -> Conv1d(8, 3, groups=2)", "output y")


@pytest.mark.parametrize("text", [GROUPS, _net("G(g=2)", "input x: float[batch, c, 9]",
                                               "y = x -> Conv1d(8, 3, groups=g)", "output y")])
def test_groups_over_symbolic_channels_warn_and_the_class_tests_them(text):
    spec = api.loads(text)
    (w,) = _unproven(spec)
    assert "in_channels" in w.message and "divisible by groups (2)" in w.message, w.message
    assert w.help and w.notes and "float32[batch, c, 9]" in w.notes[0]
    cls = spec.module_class()
    _refused(cls, {"c": 3}, "in_channels must be divisible by groups", "line 3")
    for c in (2, 4, 6):
        _same_as_hand(cls(c=c), nn.Conv1d(c, 8, 3, groups=2), torch.randn(2, c, 9))


# -- (b) windows from parameters without values ---------------------------------------------

@pytest.mark.parametrize("stage, hand", [
    ("Conv1d(4, k)", lambda k: nn.Conv1d(3, 4, k)),
    ("Conv1d(4, 3, stride=k)", lambda k: nn.Conv1d(3, 4, 3, stride=k)),
    ("MaxPool1d(k)", lambda k: nn.MaxPool1d(k)),
    ("AvgPool1d(2, stride=k)", lambda k: nn.AvgPool1d(2, stride=k)),
    ("ConvTranspose1d(4, 2, stride=k)", lambda k: nn.ConvTranspose1d(3, 4, 2, stride=k)),
])
def test_a_window_from_a_free_parameter_below_1_is_refused_by_the_class(stage, hand):
    spec = api.loads(_net("K(k)", "input x: float[batch, 3, 9]", f"y = x -> {stage}", "output y"))
    assert spec.ok, spec.diagnostics
    cls = spec.module_class()
    for k in (0, -1):
        _refused(cls, {"k": k}, "needs 1 <= k", f"k={k}")
    for k in (1, 2, 3):
        _same_as_hand(cls(k=k), hand(k), torch.randn(2, 3, 9))


def test_a_kernel_from_a_free_parameter_over_a_symbolic_length_is_unproven():
    spec = api.loads(_net("K(k)", "input x: float[batch, 3, L]", "y = x -> Conv1d(4, k)", "output y"))
    (w,) = _unproven(spec)
    assert "`k`" in w.message and "L - k + 1" in w.message, w.message
    assert w.help and "default" in w.help and w.notes and "float32[batch, 3, L]" in w.notes[0]
    # a window of known size over a symbolic length is assumed to fit (docs/language.md), and a
    # free stride does not make it fit less: no warning
    for stage in ("Conv1d(4, 3)", "Conv1d(4, 3, stride=k)"):
        assert not _unproven(api.loads(_net("S(k)", "input x: float[batch, 3, L]", f"y = x -> {stage}",
                                            "output y")))


# -- (c) floor divisions over parameters -----------------------------------------------------

DIVIDED = _net("Q(s)", "input x: float[batch, 8]", "y = x -> Linear(16 // s)", "output y")


def test_a_divisor_and_a_quotient_over_a_parameter_are_at_least_1():
    spec = api.loads(DIVIDED)
    assert spec.ok and not _unproven(spec), spec.diagnostics
    cls = spec.module_class()
    for s in range(-2, 40):
        checked = api.loads(DIVIDED, {"s": s}, strict=False)
        if not checked.ok:  # check --set refuses it: so does the class, before torch
            _refused(cls, {"s": s}, f"s={s}", "needs 1 <= ")
            continue
        _same_as_hand(cls(s=s), nn.Linear(8, 16 // s), torch.randn(2, 8))
    _refused(cls, {"s": 0}, "the divisor `s`")


def test_a_size_a_free_parameter_gives_that_glu_halves_is_tested_by_the_class():
    text = _net("H(n)", "input x: float[batch, 8]", "y = x -> Linear(n) -> GLU", "output y")
    spec = api.loads(text)
    assert spec.ok and not _unproven(spec), spec.diagnostics
    cls = spec.module_class()
    for n in (1, 3, 7):
        _refused(cls, {"n": n}, "GLU", "n divisible by 2", f"n={n}")
    for n in (2, 6):
        _same_as_hand(cls(n=n), nn.Sequential(nn.Linear(8, n), nn.GLU()), torch.randn(2, 8))


# -- a block's class constructed directly ------------------------------------------------------

BLOCK = """
network Blk(m) {
    input x: float[batch, c, L]
    p = x -> Conv1d(m, 1)
    j = cat(p, x, dim=2)
    h = j -> GLU(1)
    y = h -> select(1, 2)
    output y
}
network Top {
    input x: float[batch, 8, 5]
    y = x -> Blk(m=8)
    output y
}
"""


class _HandBlk(nn.Module):
    """Blk written by hand: a 1x1 convolution, joined with the input along the length, GLU
    over the channels, channel 2."""

    def __init__(self, m: int, c: int):
        super().__init__()
        self.p = nn.Conv1d(c, m, 1)

    def forward(self, x):
        return F.glu(torch.cat([self.p(x), x], 2), 1).select(1, 2)


@pytest.mark.parametrize("kwargs, said", [
    ({"m": 6, "c": 8}, ("cat (line 5", "c == m", "c=8", "m=6")),  # the channels of both must be equal
    ({"m": 7, "c": 7}, ("GLU (line 6", "m divisible by 2", "m=7")),  # GLU halves the channels
    ({"m": 4, "c": 4}, ("select (line 7", "3 <= m // 2", "m=4")),  # select(1, 2) needs 3 after GLU
])
def test_a_blocks_class_constructed_directly_tests_what_its_check_assumed(kwargs, said):
    cls = api.loads(BLOCK).module_class("Blk")
    _refused(cls, kwargs, *said)


@pytest.mark.parametrize("m", [6, 8, 10])
def test_a_blocks_class_constructed_directly_with_values_that_hold_is_torchs(m):
    spec = api.loads(BLOCK)
    model = spec.module_class("Blk")(m=m, c=m)
    x = torch.randn(2, m, 5)
    _same_as_hand(model, _HandBlk(m, m), x)
    (_, out), = spec.network("Blk").outputs
    with torch.no_grad():
        assert list(model.eval()(x).shape) == oracle.shape_of(out.tensor, {"batch": 2, "m": m, "c": m, "L": 5})
