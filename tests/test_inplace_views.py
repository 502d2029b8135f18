"""In-place layers on the pieces of ``split`` and ``chunk`` (netspec/inplace.py), against torch.

torch refuses, in a training step, a layer that writes in place into a view returned by a
function that returns several views, or into a view of one. ``check`` must refuse exactly
what torch refuses (with a code, a note and a help line), and what it accepts must build
and train. The torch side of each case is written by hand.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from netspec import api, codes  # noqa: E402
from netspec.checker import check_text  # noqa: E402

# (the pieces, what reads the first one, the same in torch on h = x @ w)
CASES = [
    ("split(3, dim=1)", "ReLU(true)", lambda h: nn.ReLU(inplace=True)(h.split(3, 1)[0])),
    ("split(6, dim=1)", "ReLU(true)", lambda h: nn.ReLU(inplace=True)(h.split(6, 1)[0])),
    ("chunk(2, dim=1)", "transpose(0, 1) -> SiLU(inplace=true)",
     lambda h: nn.SiLU(inplace=True)(h.chunk(2, 1)[0].transpose(0, 1))),
    ("chunk(2, dim=0)", "reshape(-1) -> ReLU(true)", lambda h: nn.ReLU(inplace=True)(h.chunk(2, 0)[0].reshape(-1))),
    ("split(3, dim=1)", "unsqueeze(0) -> LeakyReLU(0.1, true)",
     lambda h: nn.LeakyReLU(0.1, inplace=True)(h.split(3, 1)[0].unsqueeze(0))),
    ("split(3, dim=1)", "Dropout(0.5, true)", lambda h: nn.Dropout(0.5, inplace=True)(h.split(3, 1)[0])),
    ("split(3, dim=1)", "Identity -> ReLU(true)", lambda h: nn.ReLU(inplace=True)(nn.Identity()(h.split(3, 1)[0]))),
    # a copy, or a new tensor, may be written; so may a piece where nothing is written
    ("split(3, dim=1)", "reshape(-1) -> ReLU(true)", lambda h: nn.ReLU(inplace=True)(h.split(3, 1)[0].reshape(-1))),
    ("split(3, dim=1)", "Linear(2, bias=false) -> ReLU(true)",
     lambda h: nn.ReLU(inplace=True)(h.split(3, 1)[0] @ torch.randn(3, 2))),
    ("split(3, dim=1)", "ReLU", lambda h: nn.ReLU()(h.split(3, 1)[0])),
    ("split(3, dim=1)", "Dropout(0.0, true)", lambda h: nn.Dropout(0.0, inplace=True)(h.split(3, 1)[0])),
    ("split(3, dim=1)", "AlphaDropout(0.5, true)", lambda h: nn.AlphaDropout(0.5, inplace=True)(h.split(3, 1)[0])),
]


def _spec(pieces: str, stage: str) -> str:
    return (f"network Net {{\n    input x: float32[4, 6]\n    parts = x -> Linear(6) -> {pieces}\n"
            f"    out = parts.output0 -> {stage}\n    output out\n}}\n")


def _torch_refuses(call) -> bool:
    torch.manual_seed(0)
    h = torch.randn(4, 6) @ torch.randn(6, 6, requires_grad=True)
    try:
        call(h).sum().backward()
    except RuntimeError as e:
        assert "modified inplace" in str(e), e
        return True
    return False


@pytest.mark.parametrize("pieces,stage,call", CASES, ids=[f"{p} {s}" for p, s, _ in CASES])
def test_check_refuses_what_torch_refuses(pieces, stage, call):
    text = _spec(pieces, stage)
    errors = check_text(text, "views.net").reporter.errors
    if _torch_refuses(call):
        assert [d.code for d in errors] == [codes.VALUE], [d.message for d in errors]
        (d,) = errors
        assert d.span.line == 4 and d.notes and "out of place" in d.help, d
        return
    assert not errors, [d.message for d in errors]
    model = api.loads(text).module_class()().train()
    torch.manual_seed(0)
    out = model(torch.randn(4, 6))
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


# networks used as stages: one that writes in place into the piece it is given, one that
# returns a piece (or a view of one) that the caller writes into; and one that does neither
BLOCKS = '''network Act {
    input t: float[n, 4]
    out = t -> ReLU(true)
    output out
}

network Cut {
    input t: float[n, 8]
    parts = t -> split(4, dim=1)
    output parts.output1
}

network Pass {
    input t: float[n, 4]
    out = t -> transpose(0, 1)
    output out
}

network Net {
    input x: float32[3, 8]
    USE
    output out
}
'''
BLOCK_CASES = [
    ("parts = x -> Linear(8) -> split(4, dim=1)\n    out = parts.output1 -> Act",
     lambda h: nn.ReLU(inplace=True)(h.split(4, 1)[1])),
    ("out = x -> Linear(8) -> Cut -> ReLU(true)", lambda h: nn.ReLU(inplace=True)(h.split(4, 1)[1])),
    ("parts = x -> Linear(8) -> split(4, dim=1)\n    out = parts.output0 -> Pass -> ReLU(true)",
     lambda h: nn.ReLU(inplace=True)(h.split(4, 1)[0].transpose(0, 1))),
    ("out = x -> Linear(4) -> Pass -> ReLU(true)", lambda h: nn.ReLU(inplace=True)(h[:, :4].clone().transpose(0, 1))),
]


@pytest.mark.parametrize("use,call", BLOCK_CASES, ids=[u.splitlines()[-1].strip() for u, _ in BLOCK_CASES])
def test_networks_used_on_pieces(use, call):
    text = BLOCKS.replace("USE", use)
    errors = check_text(text, "views.net").reporter.errors
    torch.manual_seed(0)
    h = torch.randn(3, 8) @ torch.randn(8, 8, requires_grad=True)
    try:
        call(h).sum().backward()
        refused = False
    except RuntimeError as e:
        assert "modified inplace" in str(e), e
        refused = True
    assert [d.code for d in errors] == ([codes.VALUE] if refused else []), [d.message for d in errors]
    if not refused:
        model = api.loads(text).module_class("Net")().train()
        model(torch.randn(3, 8)).sum().backward()



@pytest.mark.parametrize("use", ["out = x -> Linear(8) -> Cut -> ReLU(true)", "out = x -> Linear(8) -> Cut -> Act"])
def test_the_note_names_the_network_that_holds_the_split(use):
    """A piece cut in another network: the note gives the line of its `split` and the
    network whose line that is; a split in the network itself needs no name."""
    text = BLOCKS.replace("USE", use)
    (d,) = check_text(text, "views.net").reporter.errors
    line = next(i for i, s in enumerate(text.split("\n"), 1) if "split(4" in s)
    assert d.notes and d.notes[0].startswith(f"`split` at line {line} of network `Cut` returns its pieces"), d.notes
    (d,) = check_text(BLOCKS.replace("USE", BLOCK_CASES[0][0]), "views.net").reporter.errors
    assert "of network" not in d.notes[0], d.notes

# an expanded view repeats its elements: torch refuses a write in place into it, in any mode
OVERLAP_CASES = [
    ("expand(5, 2, 3) -> ReLU(inplace=true)", lambda x: nn.ReLU(inplace=True)(x.expand(5, 2, 3))),
    ("expand(4, -1) -> unsqueeze(0) -> ReLU(true)", lambda x: nn.ReLU(inplace=True)(x.expand(4, -1).unsqueeze(0))),
    ("expand(5, 2, 3) -> contiguous -> ReLU(true)", lambda x: nn.ReLU(inplace=True)(x.expand(5, 2, 3).contiguous())),
    ("expand(1, 3) -> ReLU(true)", lambda x: nn.ReLU(inplace=True)(x.expand(1, 3))),
]


@pytest.mark.parametrize("stage,call", OVERLAP_CASES, ids=[s for s, _ in OVERLAP_CASES])
def test_a_write_into_an_expanded_view_is_refused_as_torch_does(stage, call):
    shape = [] if stage.startswith("expand(5") else [1, 3]
    text = (f"network E {{\n    input x: float32[{', '.join(map(str, shape))}]\n"
            f"    y = x -> {stage}\n    output y\n}}\n")
    result = check_text(text, "e.net")
    try:
        with torch.no_grad():
            call(torch.randn(shape))
        torch_ok = True
    except RuntimeError as e:
        assert "single memory location" in str(e)
        torch_ok = False
    errors = [d for d in result.reporter.items if d.severity == "error"]
    assert (not errors) == torch_ok, [d.message for d in errors]
    if errors:
        assert errors[0].code == codes.VALUE and errors[0].help and errors[0].notes
    else:
        with torch.no_grad():
            assert api.loads(text).module()(torch.randn(shape)).shape == call(torch.randn(shape)).shape
