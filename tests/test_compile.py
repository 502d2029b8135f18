"""torch.compile(module, fullgraph=True) works for the module built from every spec.

fullgraph=True makes Dynamo fail instead of falling back to Python at a graph break, so a
pass proves the whole forward is captured as one graph. By default every spec is compiled
with the aot_eager backend (Dynamo's capture and AOTAutograd's tracing, no code
generation) and one small spec with the default inductor backend; NETSPEC_COMPILE_ALL=1
compiles every spec with inductor. Every compiled module must give the module's results.

Dynamo marks its support for RNN, GRU and LSTM modules experimental and captures them only
with ``torch._dynamo.config.allow_rnn = True``, which the recurrent specs set (as a user
of them must; the README says so).
"""

from __future__ import annotations

import os

import pytest

torch = pytest.importorskip("torch")

from conftest import GOOD_SPECS  # noqa: E402

from netspec import api  # noqa: E402
from netspec.export import example_inputs, example_sizes  # noqa: E402

ALL = os.environ.get("NETSPEC_COMPILE_ALL") == "1"
INDUCTOR = [p for p in GOOD_SPECS if ALL or p.stem == "keras_cnn"]


def _flat(x) -> list:
    if isinstance(x, (tuple, list)):
        return [t for item in x for t in _flat(item)]
    return [x]


def _has_recurrent_layer(net) -> bool:
    return any(isinstance(m, torch.nn.RNNBase) for m in net.modules())


def compiled_matches(path, backend: str) -> None:
    spec = api.load(path)
    net = spec.network()
    torch.manual_seed(0)
    module = spec.module().eval()
    sizes = example_sizes(net, {"batch": 2})
    inputs = example_inputs(net, sizes)
    torch._dynamo.reset()
    with torch._dynamo.config.patch(allow_rnn=_has_recurrent_layer(module)):
        compiled = torch.compile(module, fullgraph=True, backend=backend)
        with torch.no_grad():
            got = compiled(*inputs)
    with torch.no_grad():
        want = module(*inputs)
    for a, b in zip(_flat(got), _flat(want), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_every_spec_compiles_to_one_graph(good_spec):
    compiled_matches(good_spec, "aot_eager")


@pytest.mark.parametrize("path", INDUCTOR, ids=lambda p: p.stem)
def test_inductor_compiles_the_whole_forward(path):
    compiled_matches(path, "inductor")


def test_a_graph_break_fails_the_compile():
    """The property the tests rely on: with fullgraph=True a break is an error, not a fallback."""
    class Breaks(torch.nn.Module):
        def forward(self, x):
            torch._dynamo.graph_break()
            return x + 1

    torch._dynamo.reset()
    with pytest.raises(Exception, match="(?i)graph.?break"):
        torch.compile(Breaks(), fullgraph=True, backend="aot_eager")(torch.ones(2))
