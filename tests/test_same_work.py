"""Built modules do the same work as the hand-written torch equivalents.

A timing can only show that two modules are close within the machine's noise; this shows
what they do. For each model of benchmarks/bench_modules.py (ResNet-18 and VGG16 against
torchvision's models, the VQA question encoder and a bidirectional-LSTM classifier against
the modules as people write them) one forward pass of the built module dispatches the same
aten ops, in the same order, on the same shapes, as the reference, and makes no more
module calls. That includes the residual adds, which the builder writes in place as
torchvision does; the cases where writing in place would be wrong get the ordinary add,
and training through an in-place add gives torchvision's gradients.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from netspec import api  # noqa: E402
from netspec.build import generate  # noqa: E402
from netspec.checker import check_text  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
import bench_modules  # noqa: E402


@pytest.mark.parametrize("name", list(bench_modules.MODELS))
def test_built_module_dispatches_the_reference_ops(name):
    spec, make_reference, make_input = bench_modules.MODELS[name]
    torch.manual_seed(0)
    reference = make_reference().eval()
    built = api.module(ROOT / spec).eval()
    bench_modules.same_weights(built, reference)
    x = make_input(torch, 2)
    ops, calls = bench_modules.dispatched(built, x)
    ref_ops, ref_calls = bench_modules.dispatched(reference, x)
    assert len(ops) > 5
    assert bench_modules.op_differences(ops, ref_ops) == []
    assert ops == ref_ops
    assert calls <= ref_calls
    with torch.inference_mode():
        assert torch.allclose(built(x), reference(x), rtol=1e-4, atol=1e-5)


def test_op_differences_names_in_place_forms():
    a = [("aten.conv2d", ((1,),)), ("aten.add_", ((2,), (2,)))]
    b = [("aten.conv2d", ((1,),)), ("aten.add", ((2,), (2,)))]
    assert bench_modules.op_differences(b, a) == ["aten.add where the reference runs aten.add_ ((2,), (2,))"]
    assert bench_modules.op_differences(a, a) == []
    assert bench_modules.op_differences(a[:1], a)[0].startswith("delete")


def test_training_through_in_place_adds_gives_torchvision_gradients():
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(0)
    reference = torchvision.models.resnet18().train()
    built = api.module(ROOT / "specs/resnet18.net").train()
    built.load_state_dict(reference.state_dict())
    x = torch.randn(2, 3, 64, 64)
    target = torch.tensor([1, 7])
    for m in (built, reference):
        torch.nn.functional.cross_entropy(m(x), target).backward()
    for (name, p), (ref_name, q) in zip(built.named_parameters(), reference.named_parameters()):
        assert name == ref_name
        assert torch.allclose(p.grad, q.grad, rtol=1e-4, atol=1e-5), name


def _code(text: str) -> str:
    result = check_text(text, "case.net")
    assert result.ok, [d.message for d in result.reporter.items]
    return generate(result, "case.net").code


def test_resnet18_residual_adds_are_in_place():
    code = _code((ROOT / "specs/resnet18.net").read_text())
    assert code.count(".add_(") == 2 and " + " not in code.split("def forward")[1]


WRITABLE = ("""
network N {
    input x: float[batch, 4]
    a = x -> Linear(4)
    y = add(a, x)
    output y
}
""", [(4,)])

NOT_WRITABLE = {
    # ReLU keeps its result for backward: writing into it breaks autograd
    "kept_for_backward": ("""
network N {
    input x: float[batch, 4]
    a = x -> Linear(4) -> ReLU
    y = add(a, x)
    output y
}
""", [(4,)]),
    # `a` is an output too: writing into it would change it
    "read_again": ("""
network N {
    input x: float[batch, 4]
    a = x -> Linear(4)
    y = add(a, x)
    output y, a
}
""", [(4,)]),
    # the caller's tensor
    "an_input": ("""
network N {
    input x: float[batch, 4]
    input z: float[batch, 4]
    y = add(x, z)
    output y
}
""", [(4,), (4,)]),
    # the result is larger than the first operand
    "broadcast_into": ("""
network N {
    input x: float[batch, 3, 4]
    a = x -> select(1, 0) -> unsqueeze(1) -> Linear(4)
    y = add(a, x)
    output y
}
""", [(3, 4)]),
    # a layer that already wrote into its own input
    "aliasing_layer": ("""
network N {
    input x: float[batch, 4]
    a = x -> Linear(4) -> Dropout(0.5, inplace=true)
    y = add(a, x)
    output y
}
""", [(4,)]),
}


def _run_training_step(code: str, shapes: list[tuple[int, ...]]) -> None:
    scope: dict = {}
    exec(compile(code, "built.py", "exec"), scope)  # noqa: S102 - our own generated module
    module = scope["N"]().train()
    inputs = [torch.randn(2, *shape, requires_grad=True) for shape in shapes]
    out = module(*inputs)
    outs = out if isinstance(out, tuple) else (out,)
    sum(o.sum() for o in outs).backward()
    assert all(t.grad is not None for t in inputs)


def test_add_into_a_fresh_unshared_result_is_in_place():
    text, shapes = WRITABLE
    code = _code(text)
    assert "y = a.add_(x)" in code
    _run_training_step(code, shapes)


@pytest.mark.parametrize("name", sorted(NOT_WRITABLE))
def test_add_stays_out_of_place_where_writing_would_be_wrong(name):
    text, shapes = NOT_WRITABLE[name]
    code = _code(text)
    assert ".add_(" not in code
    assert " + " in code
    _run_training_step(code, shapes)
