"""A network used as a stage is built as one class that serves every use whose arguments
differ only in values: kernel size, stride, groups (depthwise), expansion, as torchvision's
MobileNet and EfficientNet blocks do.

Each use is proven against an independent translation: the torch modules written here by
hand for that use's values (not read from netspec's output). Check's stated output shape and
parameter count of every use must be torch's; the built model, with the hand-written
modules' weights copied in, must compute what they compute.
"""

from __future__ import annotations

import inspect
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from netspec import api
from netspec.dims import evaluate, render

torch = pytest.importorskip("torch")
nn = torch.nn

MOBILE = """
network ConvBN(cin, cout, k=3, s=1, g=1) {
    input x: float[batch, cin, h, w]
    y = x -> Conv2d(cout, k, stride=s, padding=k // 2, groups=g, bias=false) -> BatchNorm2d(cout) -> ReLU6
    output y
}
network Block(c, out, k=3, s=1, e=1) {
    input x: float[batch, c, h, w]
    y = x -> ConvBN(c, c * e, 1) -> ConvBN(c * e, c * e, k, s, c * e) -> Conv2d(out, 1, bias=false)
        -> BatchNorm2d(out)
    output y
}
network Dw(c, k=3, g=1) {
    input x: float[batch, c, h, w]
    y = x -> Conv2d(c, k, padding=k // 2, groups=g) -> ConvBN(c, c)
    output y
}
network Net {
    input x: float[batch, 3, 32, 32]
    y = x -> ConvBN(3, 16, 3, 2) -> Block(16, 16, 3, 1, 1) -> Block(16, 24, 3, 2, 6) -> Block(24, 24, 5, 1, 6)
        -> Block(24, 40, 5, 2, 4) -> Dw(40, k=5, g=40) -> Dw(40) -> Dw(40, 3, 8)
    output y
}
"""


def conv_bn(cin, cout, k=3, s=1, g=1):
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride=s, padding=k // 2, groups=g, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU6())


def block(c, out, k=3, s=1, e=1):
    return nn.Sequential(conv_bn(c, c * e, 1), conv_bn(c * e, c * e, k, s, c * e),
                         nn.Conv2d(c * e, out, 1, bias=False), nn.BatchNorm2d(out))


def dw(c, k=3, g=1):
    return nn.Sequential(nn.Conv2d(c, c, k, padding=k // 2, groups=g), conv_bn(c, c))


# Net's uses, written by hand from the spec's text: (the stage, its hand-written module)
USES = [("ConvBN", lambda: conv_bn(3, 16, 3, 2)), ("Block", lambda: block(16, 16, 3, 1, 1)),
        ("Block", lambda: block(16, 24, 3, 2, 6)), ("Block", lambda: block(24, 24, 5, 1, 6)),
        ("Block", lambda: block(24, 40, 5, 2, 4)), ("Dw", lambda: dw(40, k=5, g=40)),
        ("Dw", lambda: dw(40)), ("Dw", lambda: dw(40, 3, 8))]


def _count(m) -> int:
    return sum(p.numel() for p in m.parameters())


def _copy_weights(src, dst) -> None:
    """The hand-written modules' tensors into the built model, in order, shape by shape."""
    a, b = list(src.state_dict().values()), dst.state_dict()
    assert len(a) == len(b)
    for (name, t), v in zip(b.items(), a):
        assert t.shape == v.shape, name
        t.copy_(v)


def test_one_class_per_block_serves_every_use():
    spec = api.loads(MOBILE)
    assert spec.ok, spec.diagnostics
    code = spec.code
    for cls in ("ConvBN", "Block", "Dw", "Net"):
        assert len(re.findall(rf"^class {cls}\(nn\.Module\)", code, re.M)) == 1
    assert "groups=g" in code and "padding=k // 2" in code and "g=c * e" in code
    for cls, params in (("ConvBN", "cin cout k s g"), ("Block", "c out k s e"), ("Dw", "c k g")):
        assert list(inspect.signature(spec.module_class(cls)).parameters) == params.split()


def test_every_use_states_torch_shapes_and_counts():
    spec = api.loads(MOBILE)
    net = spec.network("Net")
    x = torch.randn(2, 3, 32, 32)
    torch.manual_seed(0)
    hand = [make() for _, make in USES]
    assert [n.kind_name for n in net.nodes] == [name for name, _ in USES]
    for node, module in zip(net.nodes, hand):
        x = module(x)
        assert tuple(node.outputs[0].tensor.shape[1:]) == tuple(x.shape[1:]), node
        assert net.dim(node.params) == _count(module), node
    assert net.total_params == sum(_count(m) for m in hand)


def test_the_built_model_computes_what_the_hand_written_one_does():
    spec = api.loads(MOBILE)
    model = spec.module("Net").eval()
    torch.manual_seed(0)
    hand = nn.Sequential(*(make() for _, make in USES)).eval()
    for m in hand.modules():  # running statistics other than the defaults
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
    with torch.no_grad():
        _copy_weights(hand, model)
        x = torch.randn(2, 3, 32, 32)
        assert torch.allclose(model(x), hand(x), atol=1e-5)
    assert _count(model) == _count(hand)


def test_groups_a_use_does_not_divide_is_refused_at_the_use():
    spec = api.loads(MOBILE.replace("Dw(40, 3, 8)", "Dw(40, 3, 3)"), strict=False)
    (d,) = [d for d in spec.diagnostics if d.severity == "error"]
    assert d.code == "value" and "`Dw` does not check with these inputs" in d.message
    assert "in_channels (40) must be divisible by groups (3)" in d.message
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(40, 40, 3, groups=3)  # torch refuses it too


def test_groups_from_a_parameter_of_a_root_network():
    """`groups=g` with g's default: the count at that value, which the class then pins."""
    text = ("network G(g=4) {\n    input x: float[batch, 8, 9, 9]\n"
            "    y = x -> Conv2d(8, 3, groups=g) -> Conv2d(12, 1, groups=g)\n    output y\n}\n")
    spec = api.loads(text)
    assert spec.ok, spec.diagnostics
    hand = nn.Sequential(nn.Conv2d(8, 8, 3, groups=4), nn.Conv2d(8, 12, 1, groups=4))
    assert spec.network().total_params == _count(hand)
    assert tuple(spec.network().outputs[0][1].tensor.shape[1:]) == tuple(hand(torch.randn(1, 8, 9, 9)).shape[1:])
    assert _count(spec.module()) == _count(hand)
    with pytest.raises(ValueError, match="g=4"):
        spec.module_class()(g=2)  # the class is built for the checked value
    halves = nn.Sequential(nn.Conv2d(8, 8, 3, groups=2), nn.Conv2d(8, 12, 1, groups=2))
    assert api.loads(text, {"g": 2}).ok
    assert _count(spec.module(g=2)) == _count(halves)  # what `check --set g=2` takes, built for it


# -- a divisibility the check assumes: the class tests it -----------------------------------------

ATTENTION_ROOT = """
network Enc(heads=4) {
    input x: float[batch, seq, hidden]
    y = x -> LayerNorm(hidden) -> MultiheadAttention(heads, batch_first=true, need_weights=false) -> Linear(hidden)
    output y
}
"""

ATTENTION_BLOCK = """
network Att(heads=2) {
    input x: float[batch, seq, d]
    y = x -> MultiheadAttention(heads, batch_first=true, need_weights=false)
    output y
}
network Net {
    input x: float[batch, seq, 12]
    y = x -> Att(3) -> Linear(8) -> Att(4) -> Att
    output y
}
"""


def test_attention_over_a_symbol_size_the_class_refuses_what_torch_refuses():
    """A root network whose embedding size is an input symbol: check warns that divisibility
    depends on it; the class refuses exactly the sizes torch's constructor refuses."""
    spec = api.loads(ATTENTION_ROOT)
    assert spec.ok and [d.code for d in spec.diagnostics] == ["unproven"]
    for hidden in (8, 12, 16):
        model = spec.module(hidden=hidden)
        hand = nn.MultiheadAttention(hidden, 4, batch_first=True)
        assert _count(model) == 2 * hidden + _count(hand) + hidden * hidden + hidden
        assert model(torch.randn(2, 5, hidden)).shape == (2, 5, hidden)
    for hidden in (6, 9, 13):
        with pytest.raises(AssertionError, match="divisible by num_heads"):
            nn.MultiheadAttention(hidden, 4)
        with pytest.raises(ValueError, match=rf"divisible by num_heads \(line 4 of .*\); received {hidden} and 4"):
            spec.module(hidden=hidden)


def test_a_generic_block_with_attention_is_one_class_tested_per_use():
    """Att is checked for every `d` and built once; each use is checked with its own sizes and
    runs; the class tests the divisibility itself for values no use gives it."""
    spec = api.loads(ATTENTION_BLOCK)
    assert spec.ok and not spec.diagnostics, spec.diagnostics
    assert len(re.findall(r"^class Att\(nn\.Module\)", spec.code, re.M)) == 1
    assert "if not heads or d % heads:" in spec.code
    hand = [nn.MultiheadAttention(12, 3), nn.Linear(12, 8), nn.MultiheadAttention(8, 4), nn.MultiheadAttention(8, 2)]
    net = spec.network("Net")
    assert net.total_params == sum(_count(m) for m in hand)
    assert spec.module("Net")(torch.randn(2, 5, 12)).shape == (2, 5, 8)
    att = spec.module_class("Att")
    assert _count(att(heads=5, d=10)) == _count(nn.MultiheadAttention(10, 5))
    with pytest.raises(ValueError, match="received 10 and 4"):
        att(heads=4, d=10)
    bad = api.loads(ATTENTION_BLOCK.replace("Att(4)", "Att(5)"), strict=False)
    (d,) = [d for d in bad.diagnostics if d.severity == "error"]
    assert "`Att` does not check with these inputs" in d.message and "divisible by num_heads (5)" in d.message


# -- a kernel size from a parameter, followed by a block that needs the size it leaves ---------------

KERNEL_THEN_BLOCK = """
network Inner {
    input x: float[batch, c, a, b]
    y = x -> LayerNorm(b) -> Conv2d(c, 1)
    output y
}
network Block(c, k) {
    input x: float[batch, c, rows, cols]
    y = x -> Conv2d(c, k, padding=k // 3) -> Inner
    output y
}
network Net {
    input x: float[batch, 8, 16, 16]
    y = x -> Block(8, 3) -> Block(8, 5) -> Block(8, 1) -> Block(8, 4)
    output y
}
"""


def test_a_kernel_size_from_a_parameter_feeds_a_nested_block():
    """Block's class is built over k: Inner's LayerNorm gets the width k leaves, computed in
    the class from k, right for every use (16, 16, 14, 14, 13)."""
    spec = api.loads(KERNEL_THEN_BLOCK)
    assert spec.ok, spec.diagnostics
    assert len(re.findall(r"^class Block\(nn\.Module\)", spec.code, re.M)) == 1
    assert list(inspect.signature(spec.module_class("Block")).parameters) == ["c", "k", "cols"]
    width, hand = 16, []
    for k in (3, 5, 1, 4):
        p = k // 3
        width = width + 2 * p - k + 1
        hand.append(nn.Sequential(nn.Conv2d(8, 8, k, padding=p), nn.LayerNorm(width), nn.Conv2d(8, 8, 1)))
    net = spec.network("Net")
    assert tuple(net.outputs[0][1].tensor.shape[1:]) == (8, width, width) == (8, 13, 13)
    assert [net.dim(n.params) for n in net.nodes] == [_count(m) for m in hand]
    model = spec.module("Net").eval()
    reference = nn.Sequential(*hand).eval()
    with torch.no_grad():
        _copy_weights(reference, model)
        x = torch.randn(2, 8, 16, 16)
        assert torch.allclose(model(x), reference(x), atol=1e-5)


# -- built code: ruff-clean under the project's config and an isolated (88-column) one ----------

def _assert_formatted(code: str, tmp_path) -> None:
    """The generated module passes `ruff check` and `ruff format --check` as it is."""
    exe = Path(sys.executable).parent / "ruff"
    ruff = str(exe) if exe.exists() else shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed")
    path = tmp_path / "built.py"
    path.write_text(code)
    for flags in (["--isolated"], ["--config", str(Path(__file__).parents[1] / "pyproject.toml")]):
        for cmd in (["check"], ["format", "--check", "--diff"]):
            r = subprocess.run([ruff, *cmd, *flags, "--no-cache", str(path)], capture_output=True, text=True)
            assert r.returncode == 0, r.stdout + r.stderr


def _load_and_compare(model, hand, x: dict) -> None:
    """The hand-written module's state_dict loads strictly into the built one (same names,
    same shapes), and both compute the same outputs."""
    torch.manual_seed(1)
    for p in hand.parameters():  # weights other than the initial ones (LayerNorm's are ones)
        p.data.uniform_(-0.5, 0.5)
    model.load_state_dict(hand.state_dict(), strict=True)
    model.eval()
    hand.eval()
    with torch.no_grad():
        got, want = model(**x), hand(**x)
    for g, w in zip(got, want):
        assert g.shape == w.shape
        assert torch.allclose(g, w, atol=1e-5)


# -- a stride from a parameter, followed by constructors that read the size it leaves ----------

STRIDE_THEN_SIZE = """
network Inner {
    input x: float[batch, c, a, b]
    y = x -> LayerNorm(b) -> Conv2d(c, 1)
    output y
}
network Down(c, s=1) {
    input x: float[batch, c, rows, cols]
    y = x -> Conv2d(c, 3, stride=s, padding=1) -> Inner
    output y
}
network Head(c, s=1) {
    input x: float[batch, c, rows, cols]
    y = x -> Conv2d(c, 3, stride=s) -> Flatten -> Linear(10)
    output y
}
network Net {
    input x: float[batch, 4, 20, 20]
    y = x -> Down(4, 2) -> Down(4) -> Down(4, 3)
    z = x -> Head(4, 3)
    w = y -> Head(4)
    output z, w
}
"""


class _Holder(nn.Module):
    """Submodules under the names given, as the built class names them; its forward is
    its `y`'s."""

    def __init__(self, **modules):
        super().__init__()
        for name, m in modules.items():
            setattr(self, name, m)

    def forward(self, x):
        return self.y(x)


def _hand_down(c: int, s: int, width: int) -> tuple[nn.Module, int]:
    """Down(c, s) by hand for an input `width` wide: (module, the width it leaves)."""
    out = (width + 2 * 1 - 3) // s + 1  # torch's Conv2d output size, padding 1, kernel 3
    inner = _Holder(y=nn.Sequential(nn.LayerNorm(out), nn.Conv2d(c, c, 1)))
    return _Holder(y=nn.Sequential(nn.Conv2d(c, c, 3, stride=s, padding=1), inner)), out


def _hand_head(c: int, s: int, width: int) -> nn.Module:
    out = (width - 3) // s + 1
    return _Holder(y=nn.Sequential(nn.Conv2d(c, c, 3, stride=s), nn.Flatten(), nn.Linear(c * out * out, 10)))


class _HandStrideNet(nn.Module):
    def __init__(self):
        super().__init__()
        downs, width = [], 20
        for s in (2, 1, 3):
            m, width = _hand_down(4, s, width)
            downs.append(m)
        self.width = width
        self.y = nn.Sequential(*downs)
        self.z = _hand_head(4, 3, 20)
        self.w = _hand_head(4, 1, width)

    def forward(self, x):
        y = self.y(x)
        return self.z(x), self.w(y)


def test_a_stride_from_a_parameter_feeds_constructors_that_read_the_size_it_leaves(tmp_path):
    """Down and Head are one class each over their stride: the width a strided conv leaves
    is computed in __init__ from the stride (`(cols + s - 1) // s`), for a nested block's
    LayerNorm and for a Linear over a flatten, right at every use."""
    spec = api.loads(STRIDE_THEN_SIZE)
    assert spec.ok and not spec.diagnostics, spec.diagnostics
    code = spec.code
    for cls in ("Down", "Head"):
        assert len(re.findall(rf"^class {cls}\(nn\.Module\)", code, re.M)) == 1
    assert "Inner(c=c, b=(cols + s - 1) // s)" in code
    assert "nn.Linear(c * ((cols + s - 3) // s) * ((rows + s - 3) // s), 10)" in code
    assert list(inspect.signature(spec.module_class("Down")).parameters) == ["c", "s", "cols"]
    assert list(inspect.signature(spec.module_class("Head")).parameters) == ["c", "s", "rows", "cols"]
    hand = _HandStrideNet()
    assert hand.width == 4  # 20 -> 10 -> 10 -> 4
    net = spec.network("Net")
    x = torch.randn(2, 4, 20, 20)
    z, w = hand(x)
    shapes = {name: tuple(v.tensor.shape[1:]) for name, v in net.outputs}
    assert shapes == {"z": tuple(z.shape[1:]), "w": tuple(w.shape[1:])} == {"z": (10,), "w": (10,)}
    assert tuple(net.nodes[2].outputs[0].tensor.shape[1:]) == tuple(hand.y(x).shape[1:]) == (4, 4, 4)
    assert [net.dim(n.params) for n in net.nodes] == [_count(m) for m in (*hand.y, hand.z, hand.w)]
    _load_and_compare(spec.module("Net"), hand, {"x": x})
    _assert_formatted(code, tmp_path)


@pytest.mark.parametrize("s,width", [(4, 13), (5, 7), (1, 3)])
def test_the_strided_class_serves_values_no_use_gives(s, width):
    """The class computes the width for any stride and input width, as torch's conv leaves it."""
    spec = api.loads(STRIDE_THEN_SIZE)
    model = spec.module_class("Down")(c=2, s=s, cols=width).eval()
    hand, _ = _hand_down(2, s, width)
    x = torch.randn(1, 2, width, width)
    _load_and_compare(model, hand.eval(), {"x": x})


# -- groups from a parameter without a default --------------------------------------------------

GROUPS_FREE = """
network Dw(c, g) {
    input x: float[batch, c, rows, cols]
    y = x -> Conv2d(c, 3, padding=1, groups=g) -> Conv2d(c * 2, 1, groups=g, bias=false)
    output y
}
network Net {
    input x: float[batch, 8, 10, 10]
    y = x -> Dw(8, 8) -> Dw(16, 2) -> Dw(32, 1)
    output y
}
"""


def _hand_dw(c: int, g: int) -> nn.Module:
    return _Holder(y=nn.Sequential(nn.Conv2d(c, c, 3, padding=1, groups=g),
                                   nn.Conv2d(c, c * 2, 1, groups=g, bias=False)))


def test_groups_from_a_parameter_without_a_default(tmp_path):
    """`groups=g` with no default: Dw checks over any g (the divisibility assumed, tested by
    the class), each use with its own g; its parameter count is a formula in c and g."""
    spec = api.loads(GROUPS_FREE)
    assert spec.ok and not spec.diagnostics, spec.diagnostics
    code = spec.code
    assert len(re.findall(r"^class Dw\(nn\.Module\)", code, re.M)) == 1
    assert "groups=g" in code and "if not g or c % g:" in code
    assert list(inspect.signature(spec.module_class("Dw")).parameters) == ["c", "g"]
    hand = _Holder(y=nn.Sequential(_hand_dw(8, 8), _hand_dw(16, 2), _hand_dw(32, 1)))
    net = spec.network("Net")
    x = torch.randn(2, 8, 10, 10)
    assert tuple(net.outputs[0][1].tensor.shape[1:]) == tuple(hand.y(x).shape[1:]) == (64, 10, 10)
    assert [net.dim(n.params) for n in net.nodes] == [_count(m) for m in hand.y]
    count = spec.network("Dw").total_params  # over the free c and g
    for c, g in ((8, 8), (12, 3), (6, 1), (10, 5)):
        assert evaluate(count, {"c": c, "g": g}) == _count(_hand_dw(c, g))
    _load_and_compare(spec.module("Net"), hand, {"x": x})
    _assert_formatted(code, tmp_path)


def test_free_groups_that_do_not_divide_are_refused_at_the_use_and_by_the_class():
    bad = api.loads(GROUPS_FREE.replace("Dw(16, 2)", "Dw(16, 3)"), strict=False)
    (d,) = [d for d in bad.diagnostics if d.severity == "error"]
    assert "`Dw` does not check with these inputs" in d.message and "divisible by groups (3)" in d.message
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(16, 16, 3, groups=3)  # torch refuses it too
    cls = api.loads(GROUPS_FREE).module_class("Dw")
    with pytest.raises(ValueError, match=r"divisible by groups \(line 4 of .*\); received 16 and 3"):
        cls(c=16, g=3)
    assert _count(cls(c=12, g=3)) == _count(_hand_dw(12, 3))


# -- a pooling window and stride from parameters ----------------------------------------------

POOL_PARAMS = """
network Pool(c, k=2, s=1) {
    input x: float[batch, c, rows, cols]
    y = x -> MaxPool2d(k) -> AvgPool2d(3, stride=s, padding=1) -> Flatten -> Linear(6)
    output y
}
network Net {
    input x: float[batch, 3, 12, 12]
    a = x -> Pool(3)
    b = x -> Pool(3, 3, 2)
    c = x -> Pool(3, 4, 1)
    d = x -> Pool(3, k=5, s=3)
    output a, b, c, d
}
"""

POOL_USES = [(2, 1), (3, 2), (4, 1), (5, 3)]  # (k, s) of Net's uses, from the spec's text


def _hand_pool(c: int, k: int, s: int, width: int) -> nn.Module:
    after_max = (width - k) // k + 1  # torch's MaxPool2d: stride = kernel_size
    after_avg = (after_max + 2 * 1 - 3) // s + 1
    return _Holder(y=nn.Sequential(nn.MaxPool2d(k), nn.AvgPool2d(3, stride=s, padding=1), nn.Flatten(),
                                   nn.Linear(c * after_avg * after_avg, 6)))


class _HandPoolNet(nn.Module):
    def __init__(self):
        super().__init__()
        for name, (k, s) in zip("abcd", POOL_USES):
            setattr(self, name, _hand_pool(3, k, s, 12))

    def forward(self, x):
        return tuple(getattr(self, name)(x) for name in "abcd")


def test_a_pooling_window_from_a_parameter_varies_per_use(tmp_path):
    """MaxPool2d(k) and AvgPool2d(stride=s) in one class: the sizes they leave are computed
    from k and s (`rows // k`), not from their defaults; the Linear after them is right at
    every use (in_features 108, 12, 27, 3)."""
    spec = api.loads(POOL_PARAMS)
    assert spec.ok and not spec.diagnostics, spec.diagnostics
    code = spec.code
    assert len(re.findall(r"^class Pool\(nn\.Module\)", code, re.M)) == 1
    assert "nn.MaxPool2d(k)" in code and "stride=s" in code
    # each size the pools leave is named in __init__, one assignment a pool, inner ones first
    assert "rows1 = rows // k\n        rows2 = (rows1 + s - 1) // s\n" in code
    assert "cols1 = cols // k\n        cols2 = (cols1 + s - 1) // s\n" in code
    assert "nn.Linear(c * cols2 * rows2, 6)" in code
    hand = _HandPoolNet()
    assert [m.y[3].in_features for m in (hand.a, hand.b, hand.c, hand.d)] == [108, 12, 27, 3]
    net = spec.network("Net")
    assert [net.dim(n.params) for n in net.nodes] == [_count(m) for m in (hand.a, hand.b, hand.c, hand.d)]
    x = torch.randn(2, 3, 12, 12)
    outs = hand(x)
    assert [tuple(v.tensor.shape[1:]) for _, v in net.outputs] == [tuple(o.shape[1:]) for o in outs]
    _load_and_compare(spec.module("Net"), hand, {"x": x})
    _assert_formatted(code, tmp_path)


POOL_CEIL = """
network Down(k, s) {
    input x: float[batch, c, rows, cols]
    y = x -> MaxPool2d(k, stride=s, padding=1, ceil_mode=true) -> Flatten -> Linear(10)
    output y
}
network Net {
    input x: float[batch, 3, 32, 32]
    y = x -> Down(3, 2)
    z = x -> Down(2, 2)
    output y, z
}
"""


def test_a_long_size_is_written_over_named_sizes(tmp_path):
    """The size a ceil-mode pool with padding leaves, over the class's k and s, is a long
    polynomial of floor divisions: __init__ names each division (one assignment a size,
    over the names before it) and the Linear reads the names, every line within 88
    characters, and ruff format changes nothing at 88 or at the project's 120. torch's own
    pool decides the in_features the class must give, at every k, s and size it accepts."""
    spec = api.loads(POOL_CEIL)
    assert spec.ok and not spec.diagnostics, spec.diagnostics
    code = spec.code
    assert code == api.loads(POOL_CEIL).code
    init = code[code.index("class Down"):code.index("def forward")]
    named = re.findall(r"^ {8}(\w+) = (.*)$", init, re.M)
    assert [n for n, _ in named] == ["size1", "rows1", "cols1"], named
    assert "nn.Linear(c * cols1 * rows1, 10)" in init
    assert "//" not in init[init.index("self.y"):]  # the constructors read names only
    lines = [ln for ln in code.splitlines() if not ln.lstrip().startswith(('f"', '"'))]  # messages: one string
    assert max(map(len, lines)) <= 88
    _assert_formatted(code, tmp_path)  # at 88 (isolated) and at the project's 120
    down = spec.module_class("Down")
    tried = 0
    for k in (2, 3, 4):
        for s in (1, 2, 3):
            for rows, cols in ((k, k + 1), (7, 9), (12, 5), (31, 32)):
                try:
                    pooled = nn.MaxPool2d(k, stride=s, padding=1, ceil_mode=True)(torch.zeros(1, 3, rows, cols))
                except RuntimeError:
                    continue
                model = down(k=k, s=s, c=3, rows=rows, cols=cols)
                assert model.y[2].in_features == pooled.numel(), (k, s, rows, cols)
                assert tuple(model(torch.randn(2, 3, rows, cols)).shape) == (2, 10)
                tried += 1
    assert tried >= 30

def test_a_pooling_window_from_a_parameter_states_its_sizes_in_the_class():
    """The generic check states the pool's output over k (`rows // k`), where it used k's
    default (`rows // 2`); torch agrees at every k."""
    text = ("network P(c, k=2) {\n    input x: float[batch, c, rows, cols]\n"
            "    y = x -> MaxPool2d(k)\n    output y\n}\n")
    spec = api.loads(text)
    (out,) = [v.tensor for _, v in spec.network("P").outputs]
    assert [render(d) for d in out.shape[2:]] == ["rows // k", "cols // k"]
    for k, rows, cols in ((2, 9, 8), (3, 12, 7), (5, 5, 14)):
        got = nn.MaxPool2d(k)(torch.randn(1, 2, rows, cols)).shape[2:]
        assert tuple(got) == tuple(evaluate(d, {"k": k, "rows": rows, "cols": cols}) for d in out.shape[2:])


def test_free_groups_state_their_count_as_a_formula_in_every_report(tmp_path):
    """Costs, weights, JSON and explain of a block with free `groups=g` state the weight's
    size as `c // g` (torch's: in_channels / groups per group), never a traceback."""
    spec_file = tmp_path / "dw.net"
    spec_file.write_text(GROUPS_FREE)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    runs = [["check", "--costs", "--weights"], ["check", "--json"], ["explain", f"{spec_file}:4"]]
    outs = []
    for args in runs:
        args = args if args[0] == "explain" else [*args, str(spec_file)]
        r = subprocess.run([sys.executable, "-m", "netspec", *args], capture_output=True, text=True, env=env,
                           timeout=120)
        assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
        outs.append(r.stdout)
    weight = nn.Conv2d(12, 12, 3, groups=3).weight.shape  # c=12, g=3: [12, 4, 3, 3]
    assert tuple(weight) == (12, 12 // 3, 3, 3)
    assert "[c, c // g, 3, 3]" in outs[0] and '"params": "11 * c * (c // g) + c"' in outs[1]
    assert "weight [c, c // g, 3, 3]" in outs[2]


# -- a size the spec divides by a parameter itself --------------------------------------------

LAYER_NORM_OVER_STRIDE = """
network Down(c, s=1) {
    input x: float[batch, c, rows, cols]
    y = x -> Conv2d(c, 3, stride=s, padding=1) -> LayerNorm((c, (rows - 1) // s + 1, (cols - 1) // s + 1))
    output y
}
network Net {
    input x: float[batch, 4, 16, 16]
    y = x -> Down(4, 2) -> Down(4) -> Down(4, 3)
    output y
}
"""


def test_a_size_written_over_a_stride_parameter_is_computed_by_the_class(tmp_path):
    """`LayerNorm((c, (rows - 1) // s + 1, ...))`: a floor division by a parameter written in
    the spec stays over it in the generic check (it was taken at s's default), so one class
    serves strides 2, 1 and 3 (widths 8, 8, 3)."""
    spec = api.loads(LAYER_NORM_OVER_STRIDE)
    assert spec.ok and not spec.diagnostics, spec.diagnostics
    code = spec.code
    assert "nn.LayerNorm((c, (rows - 1) // s + 1, (cols - 1) // s + 1))" in code
    width, layers = 16, []
    for s in (2, 1, 3):
        width = (width + 2 - 3) // s + 1
        layers.append(_Holder(y=nn.Sequential(nn.Conv2d(4, 4, 3, stride=s, padding=1), nn.LayerNorm((4, width, width)))))
    hand = _Holder(y=nn.Sequential(*layers))
    net = spec.network("Net")
    x = torch.randn(2, 4, 16, 16)
    assert tuple(net.outputs[0][1].tensor.shape[1:]) == tuple(hand(x).shape[1:]) == (4, 3, 3)
    assert [net.dim(n.params) for n in net.nodes] == [_count(m) for m in layers]
    _load_and_compare(spec.module("Net"), hand, {"x": x})
    _assert_formatted(code, tmp_path)


# -- a ceil-mode pooling window and stride from parameters ------------------------------------

CEIL_POOL = """
network CeilMax(c, k=2, s=2) {
    input x: float[batch, c, rows, cols]
    y = x -> MaxPool2d(k, stride=s, ceil_mode=true) -> Flatten -> Linear(5)
    output y
}
network CeilAvg(c, s=2) {
    input x: float[batch, c, rows, cols]
    y = x -> AvgPool2d(2, stride=s, padding=1, ceil_mode=true) -> Flatten -> Linear(5)
    output y
}
network CeilOwn(c, k=2) {
    input x: float[batch, c, cols]
    y = x -> MaxPool1d(k, ceil_mode=true) -> Linear(4)
    output y
}
network Net {
    input x: float[batch, 3, 9, 8]
    a = x -> CeilMax(3)
    b = x -> CeilMax(3, 1, 2)
    c = x -> CeilMax(3, 3, 2)
    d = x -> CeilMax(3, 1, 1)
    e = x -> CeilMax(3, 4, 3)
    f = x -> CeilAvg(3)
    g = x -> CeilAvg(3, 1)
    h = x -> CeilAvg(3, 3)
    output a, b, c, d, e, f, g, h
}
"""

CEIL_MAX_USES = [(2, 2), (1, 2), (3, 2), (1, 1), (4, 3)]  # (k, s) of Net's uses, from the spec's text
CEIL_AVG_USES = [2, 1, 3]


def _torch_pool_size(pool: nn.Module, rows: int, cols: int) -> tuple[int, int]:
    """The spatial size torch's pool leaves, by running it."""
    return tuple(pool(torch.zeros(1, 1, rows, cols)).shape[2:])


def _unclipped(h: int, k: int, s: int, p: int) -> int:
    """torch's ceil-mode count before it drops a last window that starts in the right
    padding (its documented formula), to tell which uses meet that rule."""
    return -(-(h + 2 * p - (k - 1) - 1) // s) + 1


def _hand_window(layer: nn.Module, c: int, rows: int, cols: int, out: int = 5) -> nn.Module:
    """The layer, then a Linear over the size torch's layer leaves (by running it)."""
    oh, ow = layer(torch.zeros(1, c, rows, cols)).shape[2:]
    return _Holder(y=nn.Sequential(layer, nn.Flatten(), nn.Linear(c * oh * ow, out)))


class _Uses(nn.Module):
    """Hand-written uses, one attribute each (a, b, ...), all run on the one input."""

    def __init__(self, uses: list[nn.Module]):
        super().__init__()
        self.names = "abcdefghijklmnopqrstuvwxyz"[: len(uses)]
        for name, use in zip(self.names, uses):
            setattr(self, name, use)

    def forward(self, x):
        return tuple(getattr(self, name)(x) for name in self.names)


def _hand_ceil_net() -> nn.Module:
    pools = [nn.MaxPool2d(k, stride=s, ceil_mode=True) for k, s in CEIL_MAX_USES]
    pools += [nn.AvgPool2d(2, stride=s, padding=1, ceil_mode=True) for s in CEIL_AVG_USES]
    return _Uses([_hand_window(pool, 3, 9, 8) for pool in pools])


def test_ceil_mode_windows_and_strides_from_parameters_are_one_class(tmp_path):
    """MaxPool2d(k, stride=s, ceil_mode=true) and AvgPool2d(stride=s, padding=1, ceil_mode=true)
    in one class each: the size they leave is computed from k and s, torch's last-window rule
    included, right at every use (some drop the last window, some do not; k and s at 1)."""
    spec = api.loads(CEIL_POOL)
    assert spec.ok and not spec.diagnostics, spec.diagnostics
    code = spec.code
    for cls in ("CeilMax", "CeilAvg", "CeilOwn"):
        assert len(re.findall(rf"^class {cls}\(nn\.Module\)", code, re.M)) == 1
    assert "nn.MaxPool2d(k, stride=s, ceil_mode=True)" in code
    drops = [_unclipped(h, k, s, 0) != _torch_pool_size(nn.MaxPool2d(k, s, ceil_mode=True), 9, 8)[i]
             for k, s in CEIL_MAX_USES for i, h in enumerate((9, 8))]
    drops += [_unclipped(h, 2, s, 1) != _torch_pool_size(nn.AvgPool2d(2, s, 1, ceil_mode=True), 9, 8)[i]
              for s in CEIL_AVG_USES for i, h in enumerate((9, 8))]
    assert any(drops) and not all(drops)  # the rule fires at some uses and not at others
    hand = _hand_ceil_net()
    net = spec.network("Net")
    assert [net.dim(n.params) for n in net.nodes] == [_count(getattr(hand, n)) for n in hand.names]
    x = torch.randn(2, 3, 9, 8)
    outs = hand(x)
    assert [tuple(v.tensor.shape[1:]) for _, v in net.outputs] == [tuple(o.shape[1:]) for o in outs]
    _load_and_compare(spec.module("Net"), hand, {"x": x})


@pytest.mark.parametrize("k,s", [(1, 1), (1, 2), (2, 2), (3, 2), (2, 3), (5, 2), (4, 4), (1, 4)])
def test_the_ceil_mode_class_serves_values_no_use_gives(k, s):
    """The class's sizes for any window, stride and input size are torch's, whether its
    last-window rule fires or not."""
    spec = api.loads(CEIL_POOL)
    fired = set()
    for rows, cols in ((1, 1), (4, 5), (7, 6), (9, 8), (10, 13)):
        pool = nn.MaxPool2d(k, stride=s, ceil_mode=True)
        try:
            size = _torch_pool_size(pool, rows, cols)
        except RuntimeError:
            continue  # torch refuses a window past the input; so does check at a use
        fired |= {_unclipped(h, k, s, 0) != got for h, got in zip((rows, cols), size)}
        model = spec.module_class("CeilMax")(c=2, k=k, s=s, rows=rows, cols=cols)
        _load_and_compare(model, _hand_window(pool, 2, rows, cols), {"x": torch.randn(2, 2, rows, cols)})
        avg = nn.AvgPool2d(2, stride=s, padding=1, ceil_mode=True)
        model = spec.module_class("CeilAvg")(c=2, s=s, rows=rows, cols=cols)
        _load_and_compare(model, _hand_window(avg, 2, rows, cols), {"x": torch.randn(2, 2, rows, cols)})
    # torch drops a last window only where the stride passes the window, at some sizes
    assert fired == ({True, False} if k < s else {False})


def test_a_ceil_mode_window_that_is_its_stride_states_a_plain_size():
    """MaxPool1d(k, ceil_mode=true): the stride is the window, so the last window always
    starts inside the input; the generic check states ceil(cols / k), torch's at every k."""
    spec = api.loads(CEIL_POOL)
    size = spec.network("CeilOwn").nodes[0].outputs[0].tensor.shape[-1]
    assert render(size) == "(cols + k - 1) // k"
    assert "nn.Linear((cols + k - 1) // k, 4)" in spec.code
    for k, cols in ((1, 5), (2, 5), (3, 9), (4, 6), (5, 5)):
        got = nn.MaxPool1d(k, ceil_mode=True)(torch.randn(1, 2, cols)).shape[-1]
        assert got == evaluate(size, {"k": k, "cols": cols})


# -- a transposed convolution's window, stride, dilation and output_padding from parameters ------

UP = """
network Up(c, k=3, s=2, op=0, d=1) {
    input x: float[batch, c, rows, cols]
    y = x -> ConvTranspose2d(c, k, stride=s, padding=1, output_padding=op, dilation=d) -> Flatten -> Linear(4)
    output y
}
network Net {
    input x: float[batch, 3, 5, 4]
    a = x -> Up(3)
    b = x -> Up(3, 3, 3, 2)
    c = x -> Up(3, 2, 1, 0)
    d = x -> Up(3, 1, 1, 0)
    e = x -> Up(3, 4, 2, 1, 2)
    output a, b, c, d, e
}
"""

UP_USES = [(3, 2, 0, 1), (3, 3, 2, 1), (2, 1, 0, 1), (1, 1, 0, 1), (4, 2, 1, 2)]  # (k, s, op, d), from the text


def _hand_up(c: int, k: int, s: int, op: int, d: int, rows: int, cols: int) -> nn.Module:
    up = nn.ConvTranspose2d(c, c, k, stride=s, padding=1, output_padding=op, dilation=d)
    return _hand_window(up, c, rows, cols, out=4)


def _hand_up_net() -> nn.Module:
    return _Uses([_hand_up(3, *use, 5, 4) for use in UP_USES])


def test_a_transposed_convolutions_stride_from_a_parameter_is_one_class():
    """ConvTranspose2d over k, s, output_padding and dilation: one class, its sizes
    polynomials in them (`(rows - 1) * s - 2 + d * (k - 1) + op + 1`), right at every use;
    the class tests that output_padding is below the stride or the dilation, as torch's
    layer does when it runs."""
    spec = api.loads(UP)
    assert spec.ok and not spec.diagnostics, spec.diagnostics
    code = spec.code
    assert len(re.findall(r"^class Up\(nn\.Module\)", code, re.M)) == 1
    assert all(f"{arg},\n" in code for arg in ("k", "stride=s", "output_padding=op", "dilation=d"))
    assert "if 0 < (op // d) * (op // s):" in code  # op below s or d: one quotient is 0
    hand = _hand_up_net()
    net = spec.network("Net")
    assert [net.dim(n.params) for n in net.nodes] == [_count(getattr(hand, n)) for n in hand.names]
    x = torch.randn(2, 3, 5, 4)
    outs = hand(x)
    assert [tuple(v.tensor.shape[1:]) for _, v in net.outputs] == [tuple(o.shape[1:]) for o in outs]
    _load_and_compare(spec.module("Net"), hand, {"x": x})
    cls = spec.module_class("Up")
    for k, s, op, d, rows, cols in ((2, 4, 3, 1, 3, 6), (5, 1, 0, 3, 2, 2), (2, 3, 1, 1, 1, 1)):
        _load_and_compare(cls(c=2, k=k, s=s, op=op, d=d, rows=rows, cols=cols),
                          _hand_up(2, k, s, op, d, rows, cols), {"x": torch.randn(1, 2, rows, cols)})
    with pytest.raises(RuntimeError, match="output padding must be smaller than either stride or dilation"):
        nn.ConvTranspose2d(2, 2, 3, stride=2, output_padding=2)(torch.zeros(1, 2, 3, 3))
    with pytest.raises(ValueError, match=r"needs \(op // d\) \* \(op // s\) <= 0; received d=1, op=2, s=2"):
        cls(c=2, k=3, s=2, op=2, d=1, rows=3, cols=3)
    _load_and_compare(cls(c=2, k=3, s=1, op=1, d=2, rows=3, cols=3),  # below the dilation only
                      _hand_up(2, 3, 1, 1, 2, 3, 3), {"x": torch.randn(1, 2, 3, 3)})


def test_an_output_padding_torch_refuses_is_refused_at_the_use():
    bad = api.loads(UP.replace("Up(3, 3, 3, 2)", "Up(3, 3, 3, 3)"), strict=False)
    (d,) = [d for d in bad.diagnostics if d.severity == "error"]
    assert d.code == "value" and "`Up` does not check with these inputs" in d.message
    assert "output_padding (3) must be smaller than either stride (3) or dilation (1)" in d.message


def test_an_output_padding_below_the_dilation_only_is_served_by_the_class():
    """The class tests that output_padding is below the stride or the dilation: a use
    whose output_padding is below its dilation only (torch runs it) gets the class too."""
    text = UP.replace("Up(3, 4, 2, 1, 2)", "Up(3, 3, 1, 1, 2)")
    spec = api.loads(text)
    hand = _hand_up(3, 3, 1, 1, 2, 5, 4)
    x = torch.randn(2, 3, 5, 4)
    (_, e), = [(n, v) for n, v in spec.network("Net").outputs if n == "e"]
    assert tuple(e.tensor.shape[1:]) == tuple(hand(x).shape[1:])
    assert list(spec.module("Net")(x)[4].shape) == list(hand(x).shape)


UP_GROUPS = """
network UpG(c, g) {
    input x: float[batch, c, rows, cols]
    y = x -> ConvTranspose2d(c * 2, 2, stride=2, groups=g)
    output y
}
network Net {
    input x: float[batch, 4, 3, 3]
    y = x -> UpG(4, 1) -> UpG(8, 4) -> UpG(16, 16)
    output y
}
"""


def test_a_transposed_convolutions_free_groups_are_one_class():
    """`groups=g` with no default on a ConvTranspose2d: assumed to divide the channels, each
    use checked with its own g, tested by the class."""
    spec = api.loads(UP_GROUPS)
    assert spec.ok and not spec.diagnostics, spec.diagnostics
    assert len(re.findall(r"^class UpG\(nn\.Module\)", spec.code, re.M)) == 1 and "if not g or c % g:" in spec.code
    hand = [nn.ConvTranspose2d(c, 2 * c, 2, stride=2, groups=g) for c, g in ((4, 1), (8, 4), (16, 16))]
    net = spec.network("Net")
    assert [net.dim(n.params) for n in net.nodes] == [_count(m) for m in hand]
    reference = _Holder(y=nn.Sequential(*(_Holder(y=m) for m in hand)))
    x = torch.randn(2, 4, 3, 3)
    assert tuple(net.outputs[0][1].tensor.shape[1:]) == tuple(reference(x).shape[1:]) == (32, 24, 24)
    _load_and_compare(spec.module("Net"), reference, {"x": x})
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.ConvTranspose2d(6, 12, 2, groups=4)
    with pytest.raises(ValueError, match=r"divisible by groups \(line 4 of .*\); received 6 and 4"):
        spec.module_class("UpG")(c=6, g=4)
    bad = api.loads(UP_GROUPS.replace("UpG(8, 4)", "UpG(8, 3)"), strict=False)
    (d,) = [d for d in bad.diagnostics if d.severity == "error"]
    assert "`UpG` does not check with these inputs" in d.message and "divisible by groups (3)" in d.message


# -- a pooling padding, and a convolution's or pool's dilation, from parameters ------------------

PAD_DIL = """
network PadMax(c, k=3, s=2, p=1, d=1) {
    input x: float[batch, c, rows, cols]
    y = x -> MaxPool2d(k, stride=s, padding=p, dilation=d) -> Flatten -> Linear(5)
    output y
}
network PadAvg(c, k=4, p=2) {
    input x: float[batch, c, rows, cols]
    y = x -> AvgPool2d(k, stride=2, padding=p) -> Flatten -> Linear(5)
    output y
}
network PadCeil(c, k=3, s=2, p=1, d=1) {
    input x: float[batch, c, rows, cols]
    y = x -> MaxPool2d(k, stride=s, padding=p, dilation=d, ceil_mode=true) -> Flatten -> Linear(5)
    output y
}
network Dil(c, d=1) {
    input x: float[batch, c, rows, cols]
    y = x -> Conv2d(c, 3, stride=2, padding=d, dilation=d) -> Flatten -> Linear(5)
    output y
}
network Net {
    input x: float[batch, 3, 11, 10]
    a = x -> PadMax(3)
    b = x -> PadMax(3, 4, 2, 2)
    c = x -> PadMax(3, 3, 1, 0, 2)
    d = x -> PadAvg(3)
    e = x -> PadAvg(3, 3, 0)
    f = x -> PadAvg(3, 5, 1)
    g = x -> PadCeil(3)
    h = x -> PadCeil(3, 2, 2, 1)
    i = x -> PadCeil(3, 3, 1, 1, 2)
    j = x -> PadCeil(3, 2, 3, 0, 3)
    k = x -> Dil(3)
    l = x -> Dil(3, 2)
    m = x -> Dil(3, 3)
    output a, b, c, d, e, f, g, h, i, j, k, l, m
}
"""

# Net's uses, the torch layer of each written by hand from the spec's text
PAD_DIL_USES = [
    nn.MaxPool2d(3, stride=2, padding=1), nn.MaxPool2d(4, stride=2, padding=2),
    nn.MaxPool2d(3, stride=1, padding=0, dilation=2),
    nn.AvgPool2d(4, stride=2, padding=2), nn.AvgPool2d(3, stride=2, padding=0), nn.AvgPool2d(5, stride=2, padding=1),
    nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True), nn.MaxPool2d(2, stride=2, padding=1, ceil_mode=True),
    nn.MaxPool2d(3, stride=1, padding=1, dilation=2, ceil_mode=True),
    nn.MaxPool2d(2, stride=3, padding=0, dilation=3, ceil_mode=True),
    nn.Conv2d(3, 3, 3, stride=2, padding=1), nn.Conv2d(3, 3, 3, stride=2, padding=2, dilation=2),
    nn.Conv2d(3, 3, 3, stride=2, padding=3, dilation=3),
]


def _hand_pad_dil_net() -> nn.Module:
    return _Uses([_hand_window(layer, 3, 11, 10) for layer in PAD_DIL_USES])


def test_pool_padding_and_dilations_from_parameters_are_one_class():
    """A MaxPool2d's padding and dilation, an AvgPool2d's padding (at half the kernel at some
    uses), in ceil mode too, and a Conv2d's dilation: one class each, whose Linear reads the
    size the class computes from them, right at every use; the class tests 2 * p <= k."""
    spec = api.loads(PAD_DIL)
    assert spec.ok and not spec.diagnostics, spec.diagnostics
    code = spec.code
    for cls in ("PadMax", "PadAvg", "PadCeil", "Dil"):
        assert len(re.findall(rf"^class {cls}\(nn\.Module\)", code, re.M)) == 1
    assert "nn.MaxPool2d(k, stride=s, padding=p, dilation=d)" in code
    assert "nn.Conv2d(c, c, 3, stride=2, padding=d, dilation=d)" in code
    assert code.count("if k < 2 * p:") == 3
    hand = _hand_pad_dil_net()
    net = spec.network("Net")
    assert [net.dim(n.params) for n in net.nodes] == [_count(getattr(hand, n)) for n in hand.names]
    x = torch.randn(2, 3, 11, 10)
    outs = hand(x)
    assert [tuple(v.tensor.shape[1:]) for _, v in net.outputs] == [tuple(o.shape[1:]) for o in outs]
    _load_and_compare(spec.module("Net"), hand, {"x": x})


def _torch_or_none(rows: int, cols: int, **kwargs):
    """nn.MaxPool2d(**kwargs), where torch runs it and every window reaches the input (a
    window wholly in the padding gives -inf, which the comparison cannot tell from itself)."""
    try:
        layer = nn.MaxPool2d(**kwargs)
        y = layer(torch.zeros(1, 2, rows, cols))
    except (RuntimeError, ValueError):
        return None
    return layer if bool(torch.isfinite(y).all()) else None


@pytest.mark.parametrize("ceil", [False, True])
def test_the_padded_pool_class_serves_values_no_use_gives(ceil):
    """Over windows, strides, paddings (0 to past half the window) and dilations no use gives,
    the class's sizes are torch's, ceil mode's last-window rule included; where torch refuses
    a padding past half the kernel, so does the class."""
    spec = api.loads(PAD_DIL)
    cls = spec.module_class("PadCeil" if ceil else "PadMax")
    ran = refused = 0
    fired = set()
    for k, s, p, d in ((1, 1, 0, 1), (2, 3, 1, 1), (3, 1, 1, 2), (4, 3, 2, 1), (5, 2, 2, 2), (2, 2, 1, 3),
                       (3, 2, 2, 1), (4, 1, 3, 2), (2, 4, 0, 2)):
        for rows, cols in ((1, 2), (5, 6), (9, 7), (12, 13)):
            layer = _torch_or_none(rows, cols, kernel_size=k, stride=s, padding=p, dilation=d, ceil_mode=ceil)
            if 2 * p > k:
                assert layer is None  # torch: pad should be at most half of the kernel size
                with pytest.raises(ValueError, match=rf"needs 2 \* p <= k; received k={k}, p={p}"):
                    cls(c=2, k=k, s=s, p=p, d=d, rows=rows, cols=cols)
                refused += 1
            elif layer is not None:
                model = cls(c=2, k=k, s=s, p=p, d=d, rows=rows, cols=cols)
                _load_and_compare(model, _hand_window(layer, 2, rows, cols), {"x": torch.randn(2, 2, rows, cols)})
                size = _torch_pool_size(layer, rows, cols)
                fired |= {-(-(h + 2 * p - d * (k - 1) - 1) // s) + 1 != got for h, got in zip((rows, cols), size)}
                ran += 1
    assert ran > 20 and refused > 0
    assert fired == {True, False} or not ceil  # in ceil mode, torch drops a last window at some values


def test_the_dilated_convolution_class_serves_values_no_use_gives():
    cls = api.loads(PAD_DIL).module_class("Dil")
    for d, rows, cols in ((4, 3, 5), (5, 11, 4), (1, 1, 1), (6, 2, 9)):
        layer = nn.Conv2d(2, 2, 3, stride=2, padding=d, dilation=d)
        _load_and_compare(cls(c=2, d=d, rows=rows, cols=cols), _hand_window(layer, 2, rows, cols),
                          {"x": torch.randn(1, 2, rows, cols)})


@pytest.mark.parametrize("use,k,p", [("PadMax(3, 3, 1, 2)", 3, 2), ("PadAvg(3, 2, 2)", 2, 2),
                                     ("PadCeil(3, 5, 1, 3)", 5, 3)])
def test_a_pool_padding_past_half_the_kernel_is_refused_at_the_use(use, k, p):
    """torch refuses it; so does check, at the use, with the use's values."""
    with pytest.raises(RuntimeError, match="pad should be at most half of"):
        nn.MaxPool2d(k, padding=p)(torch.zeros(1, 1, 9, 9))
    bad = api.loads(PAD_DIL.replace("PadAvg(3, 5, 1)", use), strict=False)
    (d,) = [d for d in bad.diagnostics if d.severity == "error"]
    assert d.code == "value" and d.span.line == 29 and "does not check with these inputs" in d.message
    assert f"padding ({p}) should be at most half of the kernel size ({k})" in d.message


FREE_PAD_DIL = """
network Free(c, p, d) {
    input x: float[batch, c, rows, cols]
    y = x -> MaxPool2d(3, stride=2, padding=p, dilation=d) -> Conv2d(c, 3, dilation=d) -> Flatten -> Linear(5)
    output y
}
network Net {
    input x: float[batch, 3, 21, 20]
    a = x -> Free(3, 0, 1)
    b = x -> Free(3, 1, 2)
    output a, b
}
"""


def test_a_free_padding_and_dilation_are_tested_by_the_class():
    """A padding and a dilation with no default: the class tests 0 <= p, 2 * p <= 3 and
    1 <= d, refusing the values torch refuses; at the others its sizes are torch's."""
    spec = api.loads(FREE_PAD_DIL)
    assert spec.ok and not spec.diagnostics, spec.diagnostics
    cls = spec.module_class("Free")
    for p, d, rows, cols in ((0, 1, 30, 31), (1, 2, 30, 31), (1, 3, 17, 29), (0, 4, 30, 31)):
        pool, conv = nn.MaxPool2d(3, 2, p, d), nn.Conv2d(2, 2, 3, dilation=d)
        size = nn.Sequential(pool, conv, nn.Flatten())(torch.zeros(1, 2, rows, cols)).shape[1]
        hand = _Holder(y=nn.Sequential(pool, conv, nn.Flatten(), nn.Linear(size, 5)))
        _load_and_compare(cls(c=2, p=p, d=d, rows=rows, cols=cols), hand, {"x": torch.randn(2, 2, rows, cols)})
    for p, d, fact in ((2, 1, r"2 \* p <= 3"), (-1, 1, "0 <= p"), (0, 0, "1 <= d")):
        with pytest.raises(RuntimeError):
            nn.MaxPool2d(3, 2, p, d)(torch.zeros(1, 2, 30, 31))
        with pytest.raises(ValueError, match=rf"MaxPool2d \(line 4 of .*\) needs {fact}"):
            cls(c=2, p=p, d=d, rows=30, cols=31)


@pytest.mark.parametrize("g", [0, 3, 4])
def test_a_divisibility_by_a_parameter_of_zero_is_refused_as_torch_refuses_it(g):
    """The class tests `4 divisible by g` where a use leaves g free; at g = 0 that is a
    ValueError naming a fact (there, that g is at least 1), as torch's own refusal is, never a
    ZeroDivisionError."""
    text = """network B(g=2) {
  input x: float[batch, 4, 8, 8]
  y = x -> Conv2d(4, 3, padding=1, groups=g)
  output y
}
network Top {
  input x: float[batch, 4, 8, 8]
  y = x -> B(g=2) -> B(g=4)
  output y
}
"""
    try:
        torch.nn.Conv2d(4, 4, 3, padding=1, groups=g)
        torch_refuses = False
    except ValueError:
        torch_refuses = True
    spec = api.loads(text)
    if torch_refuses:
        with pytest.raises(ValueError, match=r"needs 1 <= g" if g < 1 else "needs 4 divisible by g"):
            spec.module("B", g=g)
    else:
        assert spec.module("B", g=g)(torch.randn(2, 4, 8, 8)).shape == (2, 4, 8, 8)


# -- a padding layer's padding from a parameter ------------------------------------------------

PADS = """
network Refl(p, q) {
    input x: float[batch, c, l]
    y = x -> ReflectionPad1d((p, q)) -> Flatten -> Linear(5)
    output y
}
network Repl(p) {
    input x: float[batch, c, rows, cols]
    y = x -> ReplicationPad2d((p, 1, -p, 0)) -> Flatten -> Linear(5)
    output y
}
network Zero(p) {
    input x: float[batch, c, rows, cols]
    y = x -> ConstantPad2d((p, 1, -p, 2), 0.5) -> Flatten -> Linear(5)
    output y
}
network Circ(p) {
    input x: float[batch, c, l]
    y = x -> pad((p, -1), "circular") -> Flatten -> Linear(5)
    output y
}
network Net {
    input x: float[batch, 3, 7]
    input z: float[batch, 3, 6, 5]
    a = x -> Refl(2, 3)
    b = x -> Refl(6, -2)
    c = z -> Repl(2)
    d = z -> Repl(-3)
    e = z -> Zero(1)
    f = z -> Zero(-4)
    g = x -> Circ(3)
    output a, b, c, d, e, f, g
}
"""

# the padding layer (a function for the pad op) each class's use runs, by class, as torch writes it
PAD_LAYERS = {
    "Refl": lambda p, q=None: nn.ReflectionPad1d((p, q)),
    "Repl": lambda p: nn.ReplicationPad2d((p, 1, -p, 0)),
    "Zero": lambda p: nn.ConstantPad2d((p, 1, -p, 2), 0.5),
    "Circ": lambda p: (lambda x: nn.functional.pad(x, (p, -1), mode="circular")),
}


class _PadHand(nn.Module):
    """A padding (a layer or a function) before `y`, a Flatten and a Linear over what it leaves."""

    def __init__(self, pad, x: torch.Tensor):
        super().__init__()
        self.pad = pad
        size = pad(x).flatten(1).shape[1]
        self.y = nn.Sequential(nn.Flatten(), nn.Linear(size, 5))

    def forward(self, x):
        return self.y(self.pad(x))


def _wraps_right(size: int, before: int, after: int) -> bool:
    from test_pad_torch import _wraps_right as wraps

    return wraps(size, before, after)


def _pad_hand(name: str, values: tuple, x: torch.Tensor) -> nn.Module:
    """The hand-written use: the layer inside `y` as the built class names it, or the pad
    function before it (state_dict names match the class's either way); torch's error where
    it refuses the padding."""
    pad = PAD_LAYERS[name](*values)
    if name == "Circ" and not _wraps_right(x.shape[-1], values[0], -1):
        # torch raises, or returns uninitialized values (tests/test_pad_torch.py)
        raise ValueError("a circular pad that crops all of the dim, or wraps it more than once")
    if isinstance(pad, nn.Module):
        size = pad(x).flatten(1).shape[1]
        return _Holder(y=nn.Sequential(pad, nn.Flatten(), nn.Linear(size, 5)))
    return _PadHand(pad, x)


def _pad_kwargs(name: str, values: tuple, x: torch.Tensor) -> dict:
    sizes = dict(zip(("l",) if x.dim() == 3 else ("rows", "cols"), x.shape[2:]))
    params = dict(zip(("p", "q"), values))
    return {"c": x.shape[1], **params, **({"l_": sizes["l"]} if "l" in sizes else sizes)}


def test_one_padding_class_serves_every_use():
    """Each padding class is built once, over its padding's symbols; each use's module
    computes what the same padding written by hand computes."""
    spec = api.loads(PADS)
    assert spec.ok and not spec.diagnostics, spec.diagnostics
    code = spec.code
    for cls in PAD_LAYERS:
        assert len(re.findall(rf"^class {cls}\(nn\.Module\)", code, re.M)) == 1
    assert "nn.ReflectionPad1d((p, q))" in code and "nn.ConstantPad2d((p, 1, -p, 2), 0.5)" in code
    for name, values, x in (("Refl", (2, 3), torch.randn(2, 3, 7)), ("Refl", (6, -2), torch.randn(2, 3, 7)),
                            ("Repl", (2,), torch.randn(2, 3, 6, 5)), ("Repl", (-3,), torch.randn(2, 3, 6, 5)),
                            ("Zero", (1,), torch.randn(2, 3, 6, 5)), ("Zero", (-4,), torch.randn(2, 3, 6, 5)),
                            ("Circ", (3,), torch.randn(2, 3, 7))):
        model = spec.module_class(name)(**_pad_kwargs(name, values, x))
        _load_and_compare(model, _pad_hand(name, values, x), {"x": x})


def _pad_values(name: str):
    if name == "Refl":
        return [(p, q) for p in range(-3, 8) for q in (-4, -1, 0, 2, 6)]
    return [(p,) for p in range(-8, 9)]


@pytest.mark.parametrize("name", list(PAD_LAYERS))
def test_a_padding_class_refuses_what_torch_refuses(name):
    """Over paddings and sizes no use gives (negative ones crop), the class builds exactly
    where torch pads, with torch's sizes, and refuses the rest in its constructor (a
    reflection pad not below the dim, a crop past the dim, nothing left)."""
    cls = api.loads(PADS).module_class(name)
    ran = refused = 0
    for values in _pad_values(name):
        for shape in ((1, 2, 1), (1, 2, 4), (1, 2, 7)) if name in ("Refl", "Circ") else ((1, 2, 1, 3), (1, 2, 5, 2)):
            x = torch.randn(*shape)
            try:
                hand = _pad_hand(name, values, x)
                hand(x)
            except (RuntimeError, ValueError, IndexError):
                with pytest.raises(ValueError, match=r"needs .* <= "):
                    cls(**_pad_kwargs(name, values, x))
                refused += 1
                continue
            _load_and_compare(cls(**_pad_kwargs(name, values, x)), hand, {"x": x})
            ran += 1
    assert ran > 10 and refused > 3


@pytest.mark.parametrize("use,problem", [("Refl(7, 0)", r"reflection padding \(7, 0\) must be smaller"),
                                         ("Repl(-6)", r"padding \(-6, 1\) leaves 0 of the dim \(5\)"),
                                         ("Zero(-7)", r"padding \(-7, 1\) crops more than the dim \(5\)"),
                                         ("Circ(8)", r"circular padding \(8, -1\) would wrap around what the crop")])
def test_a_padding_torch_refuses_is_refused_at_the_use(use, problem):
    """A use whose values torch refuses (it raises; a circular pad of one channel too) is a
    `size` error at the use, in torch's terms."""
    name, values = use.split("(")[0], tuple(int(v) for v in use[use.index("(") + 1:-1].split(","))
    shape = (1, 3, 7) if name in ("Refl", "Circ") else (1, 3, 6, 5)
    with pytest.raises(RuntimeError):
        PAD_LAYERS[name](*values)(torch.zeros(1, 1, 7) if name == "Circ" else torch.zeros(*shape))
    bad = PADS.replace("g = x -> Circ(3)", f"g = {'x' if len(shape) == 3 else 'z'} -> {use}")
    spec = api.loads(bad, strict=False)
    errors = [d for d in spec.diagnostics if d.severity == "error"]
    assert len(errors) == 1 and errors[0].code == "size", spec.diagnostics
    assert "does not check with these inputs" in errors[0].message
    assert re.search(problem, errors[0].message), errors[0].message


# -- a stride from a parameter under padding="same" ------------------------------------------

SAME_STRIDE = """
network Same(c, s) {
    input x: float[batch, c, l]
    y = x -> Conv1d(c, 3, stride=s, padding="same", dilation=2) -> Flatten -> Linear(5)
    output y
}
network Net {
    input x: float[batch, 3, 7]
    y = x -> Same(3, 1)
    output y
}
"""


def test_a_same_padded_stride_from_a_parameter_must_be_1():
    """torch refuses padding="same" with a stride past 1 (and a stride below 1): the class,
    built over `s`, tests `1 <= s` and `s <= 1`; at s=1 it computes what torch computes."""
    spec = api.loads(SAME_STRIDE)
    assert spec.ok and not spec.diagnostics, spec.diagnostics
    cls = spec.module_class("Same")
    for c, length in ((3, 7), (2, 1), (4, 12)):
        x = torch.randn(2, c, length)
        conv = nn.Conv1d(c, c, 3, padding="same", dilation=2)
        hand = _Holder(y=nn.Sequential(conv, nn.Flatten(), nn.Linear(conv(x).flatten(1).shape[1], 5)))
        _load_and_compare(cls(c=c, s=1, l_=length), hand, {"x": x})
    for s, fact in ((2, r"s <= 1"), (3, r"s <= 1"), (0, r"1 <= s")):
        with pytest.raises((ValueError, RuntimeError)):
            nn.Conv1d(3, 3, 3, stride=s, padding="same", dilation=2)(torch.zeros(1, 3, 7))
        with pytest.raises(ValueError, match=rf"Conv1d \(line 4 of .*\) needs {fact}"):
            cls(c=3, s=s, l_=7)


def test_a_same_padded_stride_past_1_is_refused_at_the_use():
    spec = api.loads(SAME_STRIDE.replace("Same(3, 1)", "Same(3, 2)"), strict=False)
    errors = [d for d in spec.diagnostics if d.severity == "error"]
    assert len(errors) == 1 and errors[0].code == "value", spec.diagnostics
    assert 'padding="same" is not supported for strided convolutions' in errors[0].message
