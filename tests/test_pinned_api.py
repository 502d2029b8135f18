"""A parameter the built class pins by the kind of its use (a slice's bounds, a boolean or
string argument, a float scale factor, a convolution's groups): ``Spec.module(k=v)``,
``api.module(path, k=v)`` and ``api.load(path).module(k=v)`` take exactly the values
``check --set k=v`` takes, as ``netspec build --set k=v`` does.

Each case is tried over values through three doors: the check with the value as an
override, the API's module, and a translation written here by hand in torch (nn.LazyLinear
where a size follows from the value, so that no size comes from netspec). The three accept
the same values; where they do, the module's output shape is torch's and the one check
states. A value check refuses is refused by the API with the check's diagnostics."""

from __future__ import annotations

import pytest
from test_root_windows import _reference

torch = pytest.importorskip("torch")
nn = torch.nn
import oracle  # noqa: E402

from netspec import api  # noqa: E402

_net = oracle._net


class _Slice(nn.Module):
    def __init__(self, start, stop):
        super().__init__()
        self.start, self.stop = start, stop

    def forward(self, x):
        return x[:, self.start:self.stop]


def _seq(*layers):
    return nn.Sequential(*layers)


# name -> (spec, input shape, values tried (dicts), the hand-written translation)
CASES = {
    "slice-stop": (
        _net("S(k=3)", "input x: float[batch, 8]", "y = x[:, :k] -> Linear(4)", "output y"),
        [2, 8], [{"k": k} for k in range(-9, 11)],
        lambda v: _seq(_Slice(None, v["k"]), nn.LazyLinear(4))),
    "slice-bounds": (
        _net("B(a=1, b=5)", "input x: float[batch, 8]", "y = x[:, a:b] -> Linear(4)", "output y"),
        [2, 8], [{"a": a, "b": b} for a in range(-3, 10, 2) for b in (-1, 0, 2, 5, 9)],
        lambda v: _seq(_Slice(v["a"], v["b"]), nn.LazyLinear(4))),
    "ceil-mode": (
        _net("C(c=false)", "input x: float[batch, 2, 9]",
             "y = x -> MaxPool1d(2, ceil_mode=c) -> flatten(1) -> Linear(3)", "output y"),
        [2, 2, 9], [{"c": True}, {"c": False}],
        lambda v: _seq(nn.MaxPool1d(2, ceil_mode=v["c"]), nn.Flatten(), nn.LazyLinear(3))),
    "padding-string": (
        _net('P(pad="valid")', "input x: float[batch, 2, 9]",
             "y = x -> Conv1d(4, 3, padding=pad) -> flatten(1) -> Linear(3)", "output y"),
        [2, 2, 9], [{"pad": "same"}, {"pad": "valid"}, {"pad": "full"}],
        lambda v: _seq(nn.Conv1d(2, 4, 3, padding=v["pad"]), nn.Flatten(), nn.LazyLinear(3))),
    "scale-factor": (
        _net("U(s=2.0)", "input x: float[batch, 2, 9]",
             "y = x -> Upsample(scale_factor=s) -> flatten(1) -> Linear(3)", "output y"),
        [2, 2, 9], [{"s": s} for s in (0.05, 0.5, 1.5, 2.0, 2.5)],
        lambda v: _seq(nn.Upsample(scale_factor=v["s"]), nn.Flatten(), nn.LazyLinear(3))),
    "window-then-scale": (
        _net("W(k=3)", "input x: float[batch, 2, 9]",
             "y = x -> Conv1d(4, k) -> Upsample(scale_factor=1.5) -> flatten(1) -> Linear(3)", "output y"),
        [2, 2, 9], [{"k": k} for k in range(-1, 12)],
        lambda v: _seq(nn.Conv1d(2, 4, v["k"]), nn.Upsample(scale_factor=1.5), nn.Flatten(), nn.LazyLinear(3))),
    "groups": (
        _net("G(g=4)", "input x: float[batch, 8, 5]", "y = x -> Conv1d(12, 3, groups=g) -> flatten(1)", "output y"),
        [2, 8, 5], [{"g": g} for g in (-1, 0, 1, 2, 3, 4, 5, 8)],
        lambda v: _seq(nn.Conv1d(8, 12, 3, groups=v["g"]), nn.Flatten())),
}


def _errors(spec_or_error) -> list[tuple]:
    items = spec_or_error.diagnostics
    return [(d.code, d.message, d.span.line) for d in items if d.severity == "error"]


@pytest.mark.parametrize("name", list(CASES))
def test_module_takes_the_values_check_takes(name):
    text, shape, tried, make = CASES[name]
    spec = api.loads(text)
    torch.manual_seed(0)
    x = torch.randn(*shape)
    verdicts = set()
    for values in tried:
        checked = api.loads(text, values, strict=False)
        ref = _reference(make, values, x)
        verdicts.add(checked.ok)
        if not checked.ok:
            with pytest.raises(ValueError) as refused:
                spec.module(**values)
            if set(values) & set(spec.class_info().checked):  # pinned: the check's own errors
                assert isinstance(refused.value, api.SpecError), (name, values)
                assert _errors(refused.value) == _errors(checked), (name, values)
            else:  # computed: the class tests the fact
                assert "needs" in str(refused.value) and "received" in str(refused.value), (name, values)
            assert ref is None, (name, values, "torch takes a value check refuses")
            continue
        assert ref is not None, (name, values, "check takes a value torch refuses")
        model = spec.module(**values)
        with torch.no_grad():
            y = model.eval()(x)
        (_, out), = checked.network().outputs
        assert list(y.shape) == list(ref[1].shape) == oracle.shape_of(out.tensor, {"batch": shape[0]}), \
            (name, values)
        assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in ref[0].parameters())
    assert verdicts == {True, False} or name in ("ceil-mode",), f"{name}: the values never reach both answers"


def test_every_door_of_the_api_agrees(tmp_path):
    """`api.module(path, k=v)`, `api.load(path).module(k=v)` and `Spec.module(k=v)` build
    for a value of a kind-pinned parameter that `check --set` takes; the built class
    itself still refuses it (it was built for the checked value), saying to rebuild."""
    text, shape, _, _ = CASES["slice-stop"]
    path = tmp_path / "s.net"
    path.write_text(text)
    x = torch.randn(*shape)
    assert list(api.module(path, k=6)(x).shape) == [2, 4]
    assert list(api.load(path).module(k=6)(x).shape) == [2, 4]
    assert list(api.module(path, None, {"k": 5}, k=6)(x).shape) == [2, 4]
    spec = api.load(path)
    assert spec.class_info().checked == {"k": 3}
    assert spec.module(k=6) is not spec.module(k=6)  # a fresh module each time, one check
    assert len(spec._specs) == 1
    with pytest.raises(ValueError, match="rebuild with --set k="):
        spec.module_class()(k=6)


def test_a_refused_value_raises_what_load_raises(tmp_path):
    """A value check refuses: Spec.module raises a SpecError whose diagnostics are those
    `load` with the value raises, and which is a ValueError naming the pin, as the class's
    own refusal is."""
    text = _net("S(k=3)", "input x: float[batch, 8]", "y = x[:, :k] -> Linear(4)", "output y")
    path = tmp_path / "s.net"
    path.write_text(text)
    with pytest.raises(api.SpecError) as loaded:
        api.load(path, {"k": 0})
    with pytest.raises(api.PinnedValueError) as built:
        api.load(path).module(k=0)
    assert isinstance(built.value, ValueError)
    assert _errors(built.value) == _errors(loaded.value) != []
    assert str(built.value).startswith("S needs k=3: line 3 of s.net holds only for that value, "
                                       "and `check --set k=0` refuses the spec:")
    assert str(loaded.value) in str(built.value)


def test_an_equality_pin_is_refused_everywhere():
    """A shape assertion that holds for the parameter's value only: check --set, load, the
    API's module and the class refuse another value alike."""
    text = _net("A(h=3)", "input x: float[batch, 6]", "y = x -> Linear(h) : [batch, 3]", "output y")
    spec = api.loads(text)
    assert spec.class_info().checked == {"h": 3}
    assert not api.loads(text, {"h": 4}, strict=False).ok
    with pytest.raises(api.SpecError, match="is 4, which is not 3"):
        api.loads(text, {"h": 4})
    with pytest.raises(ValueError, match=r"(?s)A needs h=3: line 3 of <string>.*is 4, which is not 3") as refused:
        spec.module(h=4)
    assert _errors(refused.value) == _errors(api.loads(text, {"h": 4}, strict=False))
    with pytest.raises(ValueError, match="A needs h=3: line 3 of <string> holds only for that value; rebuild"):
        spec.module_class()(h=4)
    assert list(spec.module(h=3)(torch.randn(2, 6)).shape) == [2, 3]
