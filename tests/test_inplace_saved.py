"""In-place layers on a tensor that an earlier layer saved for backward (netspec/inplace.py),
against torch.

In a training step torch refuses, at backward, a layer that wrote in place into a tensor
that another layer keeps for its gradient (a Sigmoid's result, a Linear's input): "one of the
variables needed for gradient computation has been modified by an inplace operation".
``check`` must refuse exactly that (with a code, a note and a help line), and what it accepts
must build and train. Every kind's worked examples are followed by ``ReLU(true)``; the torch
side runs the stage through the independent translation of tests/test_kinds_torch.py. A
network's inputs count as needing a gradient (any network may be used inside another), so
the torch side gives its inputs one.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from test_kinds_torch import EXAMPLES, example_spec, example_tensors, flat, stage_call  # noqa: E402

from netspec import api, codes  # noqa: E402
from netspec.checker import check_text  # noqa: E402

MODIFIED = "modified by an inplace operation"


def _grad_inputs(env: dict) -> dict:
    """The inputs as tensors that need a gradient and are not leaves (a leaf may not be written)."""
    return {k: v.detach().requires_grad_().clone() if v.is_floating_point() else v for k, v in env.items()}


def _backward_refused(a, b) -> bool:
    """Whether torch's backward through ``a`` and ``b`` fails on a tensor written in place."""
    try:
        (a.sum() + b.sum()).backward()
    except RuntimeError as e:
        assert MODIFIED in str(e), e
        return True
    return False


def _torch_refuses(stage: str, env: dict, index: int) -> bool | None:
    """Whether torch's training step fails at backward for ``stage -> ReLU(true)`` on its
    result ``index``; None where that does not apply (not a float result, or no backward)."""
    module, call = stage_call(stage, env.get("x"), env)
    if module is not None:
        module.train()
    outs = flat(call())
    if len(outs) <= index:
        return None
    out = outs[index]
    if not isinstance(out, torch.Tensor) or not out.is_floating_point() or not out.requires_grad:
        return None
    try:
        nn.ReLU(inplace=True)(out).sum().backward()
    except RuntimeError as e:
        if MODIFIED in str(e):
            return True
        return None  # another refusal (a view torch will not let be written): not this rule's
    return False


def _cases():
    for kind, index, ex in EXAMPLES:
        if ex["input"] is None or not ex["input"].startswith(("float", "bfloat")):
            continue
        for i in range(len(kind.results)):
            yield pytest.param(kind, ex, i, id=f"{kind.name}-{index}-{i}")


@pytest.mark.parametrize("kind,ex,result", list(_cases()))
def test_relu_in_place_after_every_kind(kind, ex, result):
    text, stage, types = example_spec(kind, ex)
    if len(kind.results) == 1:
        text = text.replace(f"-> {stage}\n", f"-> {stage} -> ReLU(true)\n")
    else:
        text = text.replace(f"-> {stage}\n", f"-> {stage}\n    r = out.{kind.results[result]} -> ReLU(true)\n")
        text = text.replace("    output out\n", "    output r\n")
    torch.manual_seed(0)
    env = _grad_inputs(example_tensors(types))
    try:
        refused = _torch_refuses(stage, env, result)
    except RuntimeError:
        pytest.skip("torch does not run this stage with a gradient")
    if refused is None:
        return
    errors = check_text(text, "saved.net").reporter.errors
    if refused:
        assert [d.code for d in errors] == [codes.VALUE], (stage, [d.message for d in errors])
        (d,) = errors
        assert "saved for backward" in d.message and d.notes and "out of place" in d.help, d
        return
    assert not errors, (stage, [d.message for d in errors])
    model = api.loads(text).module_class()().train()
    torch.manual_seed(0)
    out = model(*_grad_inputs(example_tensors(types)).values())
    (out[0] if isinstance(out, tuple) else out).sum().backward()


# a tensor that another layer reads and saves (or does not), then written in place
SHARED = [
    ("a = y -> Linear(3)", True),  # Linear keeps its input
    ("a = y -> Sigmoid", False),  # Sigmoid keeps its result, not its input
    ("a = y -> Tanh", False),
    ("a = y -> GELU", True),  # GELU keeps its input
    ("a = y -> LayerNorm(6)", True),
    ("a = y -> mul(y)", True),
    ("a = y -> add(y)", False),  # add keeps nothing
    ("a = y -> Dropout(0.5)", False),  # Dropout keeps its mask
    ("a = y -> transpose(0, 1) -> Linear(3)", True),  # a view of it, kept
    ("a = y -> Softmax(1)", False),  # Softmax keeps its result
]
SHARED_TORCH = {
    "a = y -> Linear(3)": lambda y: nn.Linear(6, 3)(y),
    "a = y -> Sigmoid": torch.sigmoid,
    "a = y -> Tanh": torch.tanh,
    "a = y -> GELU": nn.GELU(),
    "a = y -> LayerNorm(6)": nn.LayerNorm(6),
    "a = y -> mul(y)": lambda y: y * y,
    "a = y -> add(y)": lambda y: y + y,
    "a = y -> Dropout(0.5)": nn.Dropout(0.5),
    "a = y -> transpose(0, 1) -> Linear(3)": lambda y: nn.Linear(4, 3)(y.transpose(0, 1)),
    "a = y -> Softmax(1)": nn.Softmax(1),
}


@pytest.mark.parametrize("reader,expected", SHARED, ids=[r for r, _ in SHARED])
def test_write_into_a_tensor_another_layer_read(reader, expected):
    text = (f"network Net {{\n    input x: float32[4, 6]\n    y = x -> Linear(6)\n    {reader}\n"
            "    b = y -> ReLU(true)\n    output a, b\n}\n")
    torch.manual_seed(0)
    y = nn.Linear(6, 6)(torch.randn(4, 6))
    a = SHARED_TORCH[reader](y)
    b = nn.ReLU(inplace=True)(y)
    refused = _backward_refused(a, b)
    assert refused == expected  # the table says what torch does
    errors = check_text(text, "saved.net").reporter.errors
    if refused:
        assert [(d.code, d.span.line) for d in errors] == [(codes.VALUE, 5)], [d.message for d in errors]
        assert "line 4" in errors[0].notes[0]
        return
    assert not errors, [d.message for d in errors]
    model = api.loads(text).module_class()().train()
    a, b = model(torch.randn(4, 6))
    (a.sum() + b.sum()).backward()


# what torchvision's models do: ReLU(inplace=True) after a Conv, a BatchNorm, a Linear, a
# MaxPool and a residual add; each checks and trains
ACCEPTED = [
    "x -> Conv2d(4, 3) -> BatchNorm2d -> ReLU(true)",
    "x -> Conv2d(4, 3) -> ReLU(true) -> MaxPool2d(2)",
    "x -> Conv2d(4, 3, padding=1) -> MaxPool2d(2) -> ReLU(true)",
    "x -> Flatten -> Linear(5) -> ReLU(true) -> Dropout(0.5) -> Linear(3) -> ReLU(true)",
    "x -> Conv2d(3, 3, padding=1) -> add(x) -> ReLU(true)",
    "x -> Conv2d(4, 1) -> BatchNorm2d -> ReLU6(true)",
]


@pytest.mark.parametrize("chain", ACCEPTED)
def test_torchvision_patterns_stay_accepted(chain):
    text = f"network Net {{\n    input x: float32[2, 3, 8, 8]\n    out = {chain}\n    output out\n}}\n"
    errors = check_text(text, "saved.net").reporter.errors
    assert not errors, [d.message for d in errors]
    model = api.loads(text).module_class()().train()
    model(torch.randn(2, 3, 8, 8)).sum().backward()


# the order matters: a layer that reads the tensor after it is written saves what it reads;
# a network used saves what its layers save, its inputs and its results among them
ORDERED = [
    ("b = y -> ReLU(true)\n    a = y -> Linear(3)", False,
     lambda y: (nn.ReLU(inplace=True)(y), nn.Linear(6, 3)(y))[::-1]),
    ("a = y -> Dense\n    b = y -> ReLU(true)", True, lambda y: (nn.Linear(6, 3)(y), nn.ReLU(inplace=True)(y))),
    ("a = y -> Squash\n    b = a -> ReLU(true)", True,
     lambda y: (torch.sigmoid(y), None)),
    ("a = y -> Dense\n    b = a -> ReLU(true)", False, lambda y: (nn.Linear(6, 3)(y), None)),
    # a network used that writes in place into the tensor it is given
    ("a = y -> Linear(3)\n    b = y -> Act", True, lambda y: (nn.Linear(6, 3)(y), nn.ReLU(inplace=True)(y))),
    ("a = y -> Sigmoid\n    b = y -> Act", False, lambda y: (torch.sigmoid(y), nn.ReLU(inplace=True)(y))),
    ("a = y -> Squash\n    b = a -> Act", True, lambda y: (torch.sigmoid(y), None)),
]
BLOCK_DEFS = '''network Act {
    input t: float[n, k]
    out = t -> ReLU(true)
    output out
}

network Dense {
    input t: float[n, 6]
    out = t -> Linear(3)
    output out
}

network Squash {
    input t: float[n, 6]
    out = t -> Sigmoid
    output out
}

'''


@pytest.mark.parametrize("lines,expected,call", ORDERED, ids=[u.replace("\n    ", "; ") for u, _, _ in ORDERED])
def test_order_and_networks_used(lines, expected, call):
    text = BLOCK_DEFS + (f"network Net {{\n    input x: float32[4, 6]\n    y = x -> Linear(6)\n    {lines}\n"
                         "    output a, b\n}\n")
    torch.manual_seed(0)
    y = nn.Linear(6, 6)(torch.randn(4, 6))
    a, b = call(y)
    if b is None:
        b = nn.ReLU(inplace=True)(a)
    refused = _backward_refused(a, b)
    assert refused == expected  # the table says what torch does
    errors = check_text(text, "saved.net").reporter.errors
    assert [d.code for d in errors] == ([codes.VALUE] if refused else []), [d.message for d in errors]
    if not refused:
        model = api.loads(text).module_class("Net")().train()
        a, b = model(torch.randn(4, 6))
        (a.sum() + b.sum()).backward()


def test_one_application_saved_or_not_by_whether_its_inputs_need_a_gradient():
    """The same `mul` application three times (the third replayed from the memo, sharing the
    second's arguments): on `x` twice (both operands need a gradient: each keeps the other),
    then `u` times a buffer (only `u` needs one: the buffer is kept, `u` is not). What a
    layer saves is worked out once per application and gradient pattern, so writing `u` in
    place is accepted, as torch does; kept by the first pattern alone, it would be refused."""
    text = """network Net {
    input x: float32[4, 6]
    buffer m: float32[4, 6]
    u = x -> Linear(6)
    a1 = x -> mul(x)
    a2 = x -> mul(x)
    c = a2 -> ReLU(true)
    a3 = u -> mul(m)
    d = u -> ReLU(true)
    output a1, c, a3, d
}
"""
    x = torch.randn(4, 6, requires_grad=True)
    u = nn.Linear(6, 6)(x)
    a3 = u * torch.zeros(4, 6)
    assert not _backward_refused(a3, nn.ReLU(inplace=True)(u))
    result = check_text(text, "saved.net")
    assert not result.reporter.errors, [d.message for d in result.reporter.errors]
    nodes = {n.binding: n for n in result.networks[0].nodes}
    assert nodes["a3"].args is nodes["a2"].args  # the case this test is about: one Args object
    model = api.loads(text).module_class()().train()
    a1, c, a3, d = model(torch.randn(4, 6, requires_grad=True))
    (a1.sum() + c.sum() + a3.sum() + d.sum()).backward()


@pytest.mark.parametrize("dtype", ["int64", "float32"])
def test_an_integer_input_needs_no_gradient(dtype):
    """An integer input cannot need a gradient, so what a layer computes from it alone is not
    kept for backward: writing the Sigmoid's result in place is accepted, as torch does. The
    same network on a float input is refused by both."""
    text = f"""network Net {{
    input ids: {dtype}[4, 6]
    y = ids -> to(float32) -> Sigmoid -> ReLU(true) -> Linear(3)
    output y
}}
"""
    ids = torch.randint(0, 5, (4, 6)).to(getattr(torch, dtype))
    if ids.is_floating_point():
        ids.requires_grad_()
    s = ids.to(torch.float32).sigmoid()
    refused = _backward_refused(nn.Linear(6, 3)(nn.ReLU(inplace=True)(s)), torch.zeros(()))
    assert refused == (dtype == "float32")
    errors = check_text(text, "saved.net").reporter.errors
    assert [e.code for e in errors] == ([codes.VALUE] if refused else [])
