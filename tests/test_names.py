"""Names that match the model zoo: indexed `as` names, named groups as nn.Sequential
levels, one-layer Sequentials, bindings of layers among ops numbered as torchvision numbers
a Sequential, and the build's warnings where a name differs from the spec's. Each built
module is compared with a hand-written torch module: the same state_dict keys, loaded
with strict=True, the same outputs."""

from __future__ import annotations

import re
from collections import OrderedDict

import pytest

from netspec import api, codes

torch = pytest.importorskip("torch")
nn = torch.nn

SPEC = """
network Layer(g=4) {
    input x: float[batch, c, h, w]
    new = x -> BatchNorm2d as norm1 -> ReLU as relu1 -> Conv2d(g, 3, padding=1, bias=false) as conv1
    y = cat(x, new, dim=1)
    output y
}
network Zoo {
    input x: float[batch, 3, 8, 8]
    features = x -> (
           Conv2d(8, 3, padding=1) as conv0
        -> (Layer * 3 as denselayer{1}) as denseblock1
        -> (BatchNorm2d as norm -> ReLU as relu -> Conv2d(8, 1) as conv) as transition1
        -> ((Conv2d(8, 1) -> BatchNorm2d -> ReLU6) -> (Conv2d(8, 3, groups=8) -> ReLU)) as conv
    ) as features
    head = features -> flatten(1) -> Linear(16) -> ReLU -> Linear(4)
    reg = head -> (Linear(1)) as reg
    two = reg -> Linear(3) * 2 as fc{1}
    mixed = two -> (Linear(3) as lin -> ReLU) as mix
    output mixed
}
"""


class Layer(nn.Module):
    def __init__(self, c, g=4):
        super().__init__()
        self.norm1, self.relu1 = nn.BatchNorm2d(c), nn.ReLU()
        self.conv1 = nn.Conv2d(c, g, 3, padding=1, bias=False)

    def forward(self, x):
        return torch.cat([x, self.conv1(self.relu1(self.norm1(x)))], 1)


class Zoo(nn.Module):
    def __init__(self):
        super().__init__()
        block = OrderedDict((f"denselayer{i + 1}", Layer(8 + 4 * i)) for i in range(3))
        self.features = nn.Sequential(OrderedDict([
            ("conv0", nn.Conv2d(3, 8, 3, padding=1)),
            ("denseblock1", nn.Sequential(block)),
            ("transition1", nn.Sequential(OrderedDict(norm=nn.BatchNorm2d(20), relu=nn.ReLU(),
                                                      conv=nn.Conv2d(20, 8, 1)))),
            ("conv", nn.Sequential(nn.Sequential(nn.Conv2d(8, 8, 1), nn.BatchNorm2d(8), nn.ReLU6()),
                                   nn.Sequential(nn.Conv2d(8, 8, 3, groups=8), nn.ReLU()))),
        ]))
        self.head = nn.Sequential(nn.Linear(288, 16), nn.ReLU(), nn.Linear(16, 4))
        self.reg = nn.Sequential(nn.Linear(4, 1))
        self.fc1, self.fc2 = nn.Linear(1, 3), nn.Linear(3, 3)
        self.mix = nn.Sequential(OrderedDict([("lin", nn.Linear(3, 3)), ("1", nn.ReLU())]))

    def forward(self, x):
        x = self.head(torch.flatten(self.features(x), 1))
        return self.mix(self.fc2(self.fc1(self.reg(x))))


def test_names_match_a_hand_written_module():
    torch.manual_seed(0)
    theirs = Zoo().eval()
    spec = api.loads(SPEC)
    ours = spec.module().eval()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict(), strict=True)
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x))
    assert "from collections import OrderedDict" in spec.code
    assert not [d for d in spec.generated.diagnostics if d.code == codes.RENAMED]


def test_a_binding_of_layers_among_ops_numbers_its_layers():
    spec = api.loads("""
    network Tagger {
        input tokens: long[seq, batch]
        input h0: float[1, batch, 8]
        input c0: float[1, batch, 8]
        out = tokens -> Embedding(50, 6) -> LSTM(8, h0=h0, c0=c0) -> Linear(5) -> softmax(-1)
        output out
    }""")
    model = spec.module().eval()
    assert set(model.state_dict()) >= {"out.0.weight", "out.1.weight_ih_l0", "out.2.weight"}
    assert "self.out[1](" in spec.code  # not one pipeline: each layer called by index
    tokens = torch.randint(0, 50, (7, 2))
    h0, c0 = torch.randn(1, 2, 8), torch.randn(1, 2, 8)
    with torch.no_grad():
        got = model(tokens, h0, c0)
        out, _ = model.out[1](model.out[0](tokens), (h0, c0))
        torch.testing.assert_close(got, model.out[2](out).softmax(-1))


def test_a_name_the_build_changes_is_a_warning():
    spec = api.loads("""
    network Renamed {
        input x: float[batch, 4]
        y = x -> Linear(4) as _modules -> ReLU as act -> Linear(2)
        output y
    }""")
    warned = [d for d in spec.generated.diagnostics if d.code == codes.RENAMED]
    assert [d.severity for d in warned] == ["warning", "warning"]
    built = re.match(r"`_modules` is built as `(\w+)`", warned[0].message).group(1)
    assert built != "_modules"
    assert "built as `y_linear`" in warned[1].message and warned[1].span.line == 4
    assert set(spec.module().state_dict()) == {f"{built}.weight", f"{built}.bias", "y_linear.weight",
                                               "y_linear.bias"}


def test_two_children_of_one_level_cannot_share_a_name():
    result = api.loads("""
    network Dup {
        input x: float[batch, 4]
        y = x -> (Linear(4) as a -> Linear(4) as b -> Linear(4) as a) as g
        output y
    }""", strict=False).result
    assert [d.code for d in result.reporter.errors] == [codes.DUPLICATE]
    assert "`a` names two modules in `g`" in result.reporter.errors[0].message


def test_a_depthwise_block_over_its_own_sizes_builds_for_every_use():
    spec = api.loads("""
    network Expand(out, t=6, stride=1) {
        input x: float[batch, c, h, w]
        y = x -> Conv2d(c * t, 1, bias=false) -> BatchNorm2d -> ReLU6
              -> Conv2d(c * t, 3, stride=stride, padding=1, groups=c * t, bias=false) -> BatchNorm2d
              -> Conv2d(out, 1, bias=false)
        output y
    }
    network Top {
        input x: float[batch, 3, 16, 16]
        y = x -> Conv2d(8, 3) -> Expand(12, stride=2) -> Expand(16, t=4)
        output y
    }""")
    model = spec.module().eval()
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d) and m.groups > 1]
    assert [(m.in_channels, m.groups) for m in convs] == [(48, 48), (48, 48)]
    assert model(torch.randn(2, 3, 16, 16)).shape == (2, 16, 7, 7)
    refused = api.loads("""
    network Odd {
        input x: float[batch, c, h, w]
        y = x -> Conv2d(c + 1, 3, groups=c)
        output y
    }""", strict=False).result
    assert [d.code for d in refused.reporter.errors] == [codes.UNPROVEN]


@pytest.mark.parametrize("head, size, name", [
    ("N", "len", "len"), ("N", "scan", "scan"), ("N(len=4)", "n", "len"), ("N(scan=4)", "n", "scan"),
])
def test_a_constructor_keyword_renamed_is_warned_of(head, size, name):
    """A parameter or an input symbol named like a builtin or a name the generated code
    takes (`len`, `scan`) is the constructor's keyword `len_`: warned of as a `renamed`
    name, as a renamed submodule is, at its declaration; the class takes the new keyword."""
    value = name if size == "n" else "4"
    spec = api.loads(f"network {head} {{\n    input x: float[batch, {size}]\n    y = x -> Linear({value})\n"
                     "    output y\n}\n")
    (warned,) = [d for d in spec.generated.diagnostics if d.code == codes.RENAMED]
    assert warned.severity == "warning" and warned.message.startswith(f"`{name}` is built as `{name}_`"), warned
    assert warned.span.line == (2 if size == name else 1) and f"keyword `{name}_`" in warned.notes[0]
    assert f"{name}_: int" in spec.code
    m = spec.module_class()(**{f"{name}_": 5, **({"n": 3} if size == "n" else {})})
    assert m.y.in_features == (5 if size == name else 3)


def test_a_constructor_keyword_kept_is_not_warned_of():
    spec = api.loads("network N(k=4) {\n    input x: float[batch, n]\n    y = x -> Linear(k)\n    output y\n}\n")
    assert not [d for d in spec.generated.diagnostics if d.code == codes.RENAMED]
