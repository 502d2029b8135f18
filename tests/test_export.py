"""`netspec export`: torch.export programs whose dynamic dims are the spec's symbols, and ONNX.

Every program is run at two batch sizes other than the one it was exported with and
compared with the module it came from. Set NETSPEC_EXPORT_ALL=1 to export every spec (the
default covers a convnet, a recurrent network, and one with several inputs and outputs).
"""

from __future__ import annotations

import functools
import importlib.util
import os
import zipfile

import pytest

torch = pytest.importorskip("torch")

from conftest import GOOD_SPECS, SPECS  # noqa: E402

from netspec import api  # noqa: E402
from netspec.export import (  # noqa: E402
    Exported,
    example_inputs,
    example_sizes,
    export_network,
    input_symbols,
    written_by_netspec,
)
from netspec.graph import TypedNetwork  # noqa: E402

ALL = os.environ.get("NETSPEC_EXPORT_ALL") == "1"
DEFAULT = {"lenet", "charrnn", "lstm_state"}
EXPORTED = [p for p in GOOD_SPECS if ALL or p.stem in DEFAULT]
HAS_ONNX = all(importlib.util.find_spec(m) is not None for m in ("onnx", "onnxscript"))


def check_program(result: Exported, sizes_list: list[dict[str, int]], net: TypedNetwork) -> None:
    """Run the program at other symbol sizes and compare its results with the module's."""
    import torch

    for sizes in sizes_list:
        inputs = example_inputs(net, sizes, seed=1)
        with torch.no_grad():
            want = result.module(*inputs)
            got = result.program.module()(*inputs)
        for a, b in zip(_flat(got), _flat(want)):
            torch.testing.assert_close(a, b)


def _flat(x) -> list:
    if isinstance(x, (tuple, list)):
        return [t for item in x for t in _flat(item)]
    return [x]


@functools.lru_cache(maxsize=None)
def exported(path):
    spec = api.load(path)
    net = spec.network()
    torch.manual_seed(0)
    module = spec.module().eval()
    sizes = example_sizes(net)
    return net, module, sizes, export_network(module, net, sizes)


@pytest.mark.parametrize("path", EXPORTED, ids=lambda p: p.stem)
def test_the_program_runs_at_other_batch_sizes_as_the_module_does(path):
    net, module, sizes, result = exported(path)
    assert "batch" in input_symbols(net)
    assert "batch" in result.dynamic, (result.dynamic, result.static)
    assert sizes["batch"] not in (2, 5)
    check_program(result, [{**sizes, "batch": 2}, {**sizes, "batch": 5}], net)


@pytest.mark.parametrize("path", EXPORTED, ids=lambda p: p.stem)
def test_dynamic_dims_are_the_spec_symbols_and_the_rest_is_static(path):
    """A dim the spec writes as a symbol is one symbolic size of the program, the same in every
    input that has it; a dim it gives a number is that number."""
    net, _, sizes, result = exported(path)
    program = result.program
    user = program.graph_signature.user_inputs
    fakes = {n.name: n.meta["val"] for n in program.graph.nodes if n.op == "placeholder"}
    seen: dict[str, object] = {}
    for v, name in zip(net.inputs, user):
        shape = fakes[name].shape
        for i, d in enumerate(net.shape(v.tensor)):
            if isinstance(d, int):
                assert shape[i] == d
                continue
            sym = str(d)
            if sym in result.static:
                assert shape[i] == result.static[sym] == sizes[sym]
                continue
            assert isinstance(shape[i], torch.SymInt), (sym, shape)
            expr = shape[i].node.expr
            assert seen.setdefault(sym, expr) == expr  # one size wherever the symbol appears
    assert set(seen) == set(result.dynamic)
    assert set(seen) | set(result.static) == set(input_symbols(net))


def test_a_recurrent_network_keeps_batch_dynamic_and_fixes_seq_as_torch_requires():
    """torch.export traces an LSTM step by step, which fixes the sequence length
    (pytorch/pytorch#115092): the program is dynamic in batch, static in seq."""
    net, _, sizes, result = exported(SPECS / "bilstm.net" if ALL else SPECS / "charrnn.net")
    assert set(result.dynamic) == {"batch"}
    assert result.static == {"seq": sizes["seq"]}


def export_cli(capsys, *args) -> tuple[int, str, str]:
    """`netspec export ARGS` in this process (the torch it needs is loaded already)."""
    from netspec.cli import main

    code = main(["export", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_command_writes_a_program_that_loads_and_runs(run_cli, capsys, tmp_path):
    out = tmp_path / "lenet.pt2"
    r = run_cli("export", SPECS / "lenet.net", "-o", out)  # the installed command, in its own process
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"wrote {out}: LeNet(image: float32[batch, 1, 28, 28]) -> logits: float32[batch, 10]")
    assert "dynamic: batch" in r.stdout
    assert written_by_netspec(str(out))
    program = torch.export.load(str(out))
    module = api.module(SPECS / "lenet.net").eval()
    module.load_state_dict(program.state_dict)
    for batch in (1, 4):
        x = torch.randn(batch, 1, 28, 28)
        with torch.no_grad():
            torch.testing.assert_close(program.module()(x), module(x))

    # writing again over its own file is fine; over someone else's file it needs --force
    assert export_cli(capsys, SPECS / "lenet.net", "-o", out)[0] == 0
    mine = tmp_path / "mine.pt2"
    with zipfile.ZipFile(mine, "w") as z:
        z.writestr("notes.txt", "my own archive")
    before = mine.read_bytes()
    code, _, err = export_cli(capsys, SPECS / "lenet.net", "-o", mine)
    assert code == 2 and "--force" in err
    assert mine.read_bytes() == before
    assert export_cli(capsys, SPECS / "lenet.net", "-o", mine, "--force")[0] == 0
    assert written_by_netspec(str(mine))


def test_the_command_refuses_bad_input_without_a_traceback(run_cli, tmp_path):
    out = tmp_path / "x.pt2"
    spec_error = run_cli("export", SPECS / "oops.net", "-o", out)
    assert spec_error.returncode == 1
    assert "error[layout]" in spec_error.stderr and "nothing written" in spec_error.stderr
    no_network = run_cli("export", SPECS / "lenet.net", "-o", out, "--network", "Nope")
    assert no_network.returncode == 2 and "Nope" in no_network.stderr
    bad_dim = run_cli("export", SPECS / "lenet.net", "-o", out, "--dim", "batch=0")
    assert bad_dim.returncode == 2 and "--dim" in bad_dim.stderr
    assert all("Traceback" not in r.stderr for r in (spec_error, no_network, bad_dim))
    assert not out.exists()


@pytest.mark.skipif(not HAS_ONNX, reason="needs the onnx and onnxscript packages")
def test_onnx_inputs_and_outputs_carry_the_spec_names(capsys, tmp_path):
    import onnx

    pt2, path = tmp_path / "charrnn.pt2", tmp_path / "charrnn.onnx"
    code, _, err = export_cli(capsys, SPECS / "charrnn.net", "-o", pt2, "--onnx", path)
    assert code == 0, err
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    assert written_by_netspec(str(path))
    # its own .onnx is replaced; someone else's (here: the same model without the marker) is not
    assert export_cli(capsys, SPECS / "charrnn.net", "-o", pt2, "--onnx", path)[0] == 0
    theirs = tmp_path / "theirs.onnx"
    model.doc_string = "exported by hand"
    onnx.save(model, str(theirs))
    before = theirs.read_bytes()
    code, _, err = export_cli(capsys, SPECS / "charrnn.net", "-o", tmp_path / "b.pt2", "--onnx", theirs)
    assert code == 2 and "--force" in err and theirs.read_bytes() == before

    def dims(v):
        return [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]

    assert [(i.name, dims(i)) for i in model.graph.input] == [("chars", ["batch", 7])]
    assert [o.name for o in model.graph.output] == ["logits"]

    if importlib.util.find_spec("onnxruntime") is None:
        pytest.skip("onnxruntime is not installed: the ONNX file was checked, not run")
    import onnxruntime

    program = torch.export.load(str(pt2))
    module = api.module(SPECS / "charrnn.net").eval()
    module.load_state_dict(program.state_dict)
    session = onnxruntime.InferenceSession(str(path))
    for batch in (2, 5):
        x = torch.randint(0, 4, (batch, 7))
        with torch.no_grad():
            want = module(x)
        (got,) = session.run(None, {"chars": x.numpy()})
        torch.testing.assert_close(torch.from_numpy(got), want, rtol=1e-4, atol=1e-5)
