"""`netspec build` and the Python API, proven against torch.

Every spec in specs/ builds to a module whose every layer's result, run on real tensors,
has the shape and dtype `netspec check` states, and whose parameter count is the one it
states; the classic networks load torchvision's own state_dicts with strict=True and give
torchvision's outputs. The generated code of every spec is kept in tests/golden/;
regenerate it with ``NETSPEC_UPDATE_GOLDEN=1 python -m pytest tests/test_build.py`` and
review the diff.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import observe
import pytest

from netspec import api
from netspec.build import generate
from netspec.checker import check_text
from netspec.dims import evaluate
from netspec.errors import UsageError
from netspec.fsutil import MARKER, is_generated, write_output
from netspec.pycode import MODULE_ATTRS, PUBLIC_MODULE_ATTRS

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
GOLDEN = Path(__file__).resolve().parent / "golden"
GOOD = sorted(p for p in SPECS.glob("*.net") if p.name != "oops.net")
UPDATE = os.environ.get("NETSPEC_UPDATE_GOLDEN") == "1"
SYMBOLS = {"batch": 3, "seq": 7, "h": 2, "w": 3, "src_len": 5, "tgt_len": 4}  # every symbol of specs/


def cli(*args, cwd=ROOT, env=None) -> subprocess.CompletedProcess:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT) + os.pathsep + e.get("PYTHONPATH", "")
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "netspec", *map(str, args)], cwd=cwd, env=e,
                          capture_output=True, text=True, timeout=120)


def generated(path: Path) -> str:
    result = check_text(path.read_text(), str(path))
    assert result.ok, [d.message for d in result.reporter.items]
    return generate(result, str(path)).code


# -- golden files -------------------------------------------------------------------------------

@pytest.mark.parametrize("spec", GOOD, ids=[p.stem for p in GOOD])
def test_generated_code_matches_golden(spec):
    code = generated(spec)
    golden = GOLDEN / f"{spec.stem}.py"
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        golden.write_text(code)
    assert golden.exists(), f"no golden file {golden.name}: run with NETSPEC_UPDATE_GOLDEN=1"
    assert code == golden.read_text(), f"{spec.name} builds to other code than {golden.name}"


def test_every_golden_file_has_its_spec():
    stems = {p.stem for p in GOOD}
    assert {p.stem for p in GOLDEN.glob("*.py")} == stems


def _ruff() -> str:
    exe = Path(sys.executable).parent / "ruff"
    found = str(exe) if exe.exists() else shutil.which("ruff")
    if found is None:
        pytest.skip("ruff is not installed")
    return found


@pytest.mark.parametrize("config", ["project", "isolated"])
def test_golden_files_pass_ruff_check_and_format(config):
    ruff = _ruff()
    files = sorted(str(p) for p in GOLDEN.glob("*.py"))
    flags = ["--isolated"] if config == "isolated" else ["--config", str(ROOT / "pyproject.toml")]
    check = subprocess.run([ruff, "check", *flags, "--no-cache", *files], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    fmt = subprocess.run([ruff, "format", *flags, "--no-cache", "--check", "--diff", *files],
                         capture_output=True, text=True)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_build_is_byte_identical_across_runs_and_hash_seeds(tmp_path):
    outs = []
    for seed in ("0", "1", "12345"):
        out = tmp_path / f"resnet18_{seed}.py"
        r = cli("build", SPECS / "resnet18.net", "-o", out, env={"PYTHONHASHSEED": seed})
        assert r.returncode == 0, r.stderr
        outs.append(out.read_bytes())
    assert outs[0] == outs[1] == outs[2]
    assert outs[0].decode() == (GOLDEN / "resnet18.py").read_text()


def test_the_api_runs_the_code_the_command_writes(tmp_path):
    out = tmp_path / "vgg.py"
    assert cli("build", SPECS / "vgg16.net", "-o", out).returncode == 0
    assert out.read_text() == api.load(SPECS / "vgg16.net").code


# -- the command ---------------------------------------------------------------------------------

def test_build_writes_a_marked_module_and_says_so(tmp_path):
    out = tmp_path / "lenet.py"
    r = cli("build", SPECS / "lenet.net", "-o", out)
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"wrote {out}: LeNet\n"
    text = out.read_text()
    assert text.startswith(f"# {MARKER} from lenet.net -- do not edit.\n")
    assert is_generated(out)


def test_build_does_not_import_torch(tmp_path):
    out = tmp_path / "resnet.py"
    script = textwrap.dedent(f"""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == "torch" or name.startswith("torch."):
                    raise ImportError("netspec build imported torch")
        sys.meta_path.insert(0, Block())
        from netspec.cli import main
        code = main(["build", {str(SPECS / 'resnet18.net')!r}, "-o", {str(out)!r}])
        assert not any(m == "torch" or m.startswith("torch.") for m in sys.modules), "torch imported"
        sys.exit(code)
    """)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert out.exists()


def test_spec_errors_print_diagnostics_and_write_nothing(tmp_path):
    out = tmp_path / "oops.py"
    r = cli("build", SPECS / "oops.net", "-o", out)
    assert r.returncode == 1
    assert "error[layout]" in r.stderr and "oops.net:3:44" in r.stderr
    assert "Traceback" not in r.stderr
    assert not out.exists()


def test_refuses_to_overwrite_a_file_it_did_not_write(tmp_path):
    out = tmp_path / "model.py"
    out.write_text("# my own model\n")
    r = cli("build", SPECS / "lenet.net", "-o", out)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "--force" in r.stderr, r.stderr
    assert out.read_text() == "# my own model\n"
    r = cli("build", SPECS / "lenet.net", "-o", out, "--force")
    assert r.returncode == 0, r.stderr
    assert out.read_text() == (GOLDEN / "lenet.py").read_text()
    # a file netspec wrote is replaced without --force
    r = cli("build", SPECS / "vgg16.net", "-o", out)
    assert r.returncode == 0, r.stderr
    assert out.read_text() == (GOLDEN / "vgg16.py").read_text()


def test_refuses_to_write_over_the_spec_itself(tmp_path):
    spec = tmp_path / "lenet.net"
    spec.write_text((SPECS / "lenet.net").read_text())
    r = cli("build", spec, "-o", spec, "--force")
    assert r.returncode == 2 and "the spec itself" in r.stderr
    assert spec.read_text() == (SPECS / "lenet.net").read_text()


@pytest.mark.parametrize("case", ["directory", "no-dir", "missing-spec", "bad-set"])
def test_usage_errors_exit_2_with_one_line(tmp_path, case):
    args = {
        "directory": [SPECS / "lenet.net", "-o", tmp_path],
        "no-dir": [SPECS / "lenet.net", "-o", tmp_path / "nope" / "x.py"],
        "missing-spec": [tmp_path / "missing.net", "-o", tmp_path / "x.py"],
        "bad-set": [SPECS / "vgg16.net", "-o", tmp_path / "x.py", "--set", "nosuch=3"],
    }[case]
    r = cli("build", *args)
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith("netspec: error: ") and r.stderr.count("\n") == 1, r.stderr
    assert not (tmp_path / "x.py").exists()


def test_set_changes_the_defaults_of_the_built_class(tmp_path):
    out = tmp_path / "vgg.py"
    r = cli("build", SPECS / "vgg16.net", "-o", out, "--set", "num_classes=10")
    assert r.returncode == 0, r.stderr
    assert "num_classes: int = 10" in out.read_text()


# -- writing files ------------------------------------------------------------------------------

def test_write_output_is_atomic_when_the_write_fails(tmp_path, monkeypatch):
    out = tmp_path / "model.py"
    old = f"# {MARKER}\nold = 1\n"
    out.write_text(old)

    def fail(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(UsageError, match="No space left"):
        write_output(out, f"# {MARKER}\nnew = 2\n")
    assert out.read_text() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.py"], "a temporary file was left"


def test_write_output_keeps_a_link_and_the_mode(tmp_path):
    target = tmp_path / "real.py"
    target.write_text(f"# {MARKER}\n")
    os.chmod(target, 0o640)
    link = tmp_path / "link.py"
    link.symlink_to(target)
    write_output(link, f"# {MARKER}\nx = 1\n")
    assert link.is_symlink() and target.read_text().endswith("x = 1\n")
    assert (target.stat().st_mode & 0o777) == 0o640


def test_write_output_refuses_without_the_marker(tmp_path):
    out = tmp_path / "notes.txt"
    out.write_bytes(b"\x89PNG mine")
    with pytest.raises(UsageError, match="--force"):
        write_output(out, b"new")
    assert out.read_bytes() == b"\x89PNG mine"
    write_output(out, b"new", force=True)
    assert out.read_bytes() == b"new"


# -- the API ---------------------------------------------------------------------------------------

def test_api_loads_paths_and_text_with_overrides():
    spec = api.load(SPECS / "vgg16.net", {"num_classes": 10})
    net = spec.network()
    assert net.name == "VGG16" and net.param_env == {"num_classes": 10}
    text = (SPECS / "lenet.net").read_text()
    assert api.load(text).network().name == "LeNet"
    assert api.loads(text, file="lenet.net").code == (GOLDEN / "lenet.py").read_text()
    assert set(api.load(SPECS / "resnet18.net").networks) == {"BasicBlock", "DownBlock", "ResNet18"}


def test_api_reports_spec_errors():
    with pytest.raises(api.SpecError) as e:
        api.load(SPECS / "oops.net")
    assert e.value.diagnostics[0].code == "layout"
    assert "oops.net:3:44" in str(e.value)
    spec = api.load(SPECS / "oops.net", strict=False)
    assert not spec.ok
    with pytest.raises(api.SpecError):
        spec.module()
    with pytest.raises(UsageError):
        api.load("no/such/file.net")


def test_api_names_networks():
    spec = api.load(SPECS / "resnet18.net")
    assert spec.network().name == "ResNet18"
    with pytest.raises(KeyError, match="no network `Nope`"):
        spec.network("Nope")
    two = api.loads("network A { input x: float[2] \n y = x -> ReLU \n output y }\n"
                    "network B { input x: float[2] \n y = x -> Tanh \n output y }")
    with pytest.raises(ValueError, match="name the one you want"):
        two.network()
    assert two.network("B").name == "B"


# -- against torch ----------------------------------------------------------------------------------

torch = pytest.importorskip("torch")
nn = torch.nn


def random_inputs(net, env, device="cpu"):
    out = []
    for v in net.inputs:
        shape = [evaluate(d, env) for d in v.tensor.shape]
        dtype = getattr(torch, v.tensor.dtype)
        if dtype.is_floating_point:
            out.append(torch.randn(shape, dtype=dtype, device=device))
        elif dtype == torch.bool:
            out.append(torch.rand(shape, device=device) > 0.5)
        else:
            out.append(torch.randint(0, 2, shape, dtype=dtype, device=device))
    return out


def shapes_of(observed, env) -> tuple[list, list]:
    """(stated, actual) per observed node: (dtype, shape) of every result."""
    stated, actual = [], []
    for o in observed:
        where = f"{o.network.name}.{o.node.kind_name}:{o.node.span.line} {o.path}"
        stated.append((where, [(v.tensor.dtype, [evaluate(d, env) for d in v.tensor.shape])
                               for v in o.node.outputs]))
        actual.append((where, [(str(t.dtype).removeprefix("torch."), list(t.shape)) for t in o.outputs]))
    return stated, actual


def count_nodes(net) -> int:
    return sum(1 + (count_nodes(n.block) if n.block is not None else 0) for n in net.nodes)


def run_and_compare(spec: api.Spec, symbols: dict, device="cpu", **params):
    """Run the spec's module (made with ``params``) and compare every node with the typed
    graph, its shapes evaluated with the symbols and the parameters' values: the shapes
    are symbolic in the parameters the class does not fix."""
    net = spec.network()
    env = dict(symbols)
    env.update(net.param_env)
    env.update(params)
    model = spec.module(**params).to(device).eval()
    inputs = random_inputs(net, env, device)
    result, observed = observe.trace(spec, model, *inputs)
    stated, actual = shapes_of(observed, env)
    assert actual == stated
    assert len(observed) == count_nodes(net), "a node was not observed"
    results = result if isinstance(result, tuple) else (result,)
    assert len(results) == len(net.outputs)
    for r, (_, v) in zip(results, net.outputs):
        assert list(r.shape) == [evaluate(d, env) for d in v.tensor.shape]
        assert str(r.dtype).removeprefix("torch.") == v.tensor.dtype
        assert r.device.type == torch.device(device).type
    total = sum((n.params for n in (*net.tensors, *net.nodes)), 0)  # symbolic in the parameters
    assert sum(p.numel() for p in model.parameters()) == evaluate(total, env)
    return model, results


@pytest.mark.parametrize("spec", GOOD, ids=[p.stem for p in GOOD])
def test_every_spec_runs_as_checked(spec):
    torch.manual_seed(0)
    run_and_compare(api.load(spec), SYMBOLS)


@pytest.mark.parametrize("batch", [1, 5])
def test_symbols_are_read_from_the_inputs(batch):
    spec = api.load(SPECS / "qstencoder.net")
    assert "batch = question.shape[0]" in spec.code
    run_and_compare(spec, {"batch": batch})


def test_parameters_follow_the_constructor():
    # CharRNN without its shape assertions, which hold only for the default sizes
    free = re.sub(r"\s+: \[[^\]]*\]", "", (SPECS / "charrnn.net").read_text())
    spec = api.loads(free)
    assert spec.class_info().checked == {}
    model = spec.module(classes=6, hidden=5)
    out = model(torch.zeros(2, 3, dtype=torch.long))
    assert list(out.shape) == [6, 6]
    run_and_compare(spec, {"batch": 2, "seq": 3}, classes=6, hidden=5, layers=3)
    run_and_compare(api.load(SPECS / "keras_cnn.net"), {"batch": 2}, classes=7)


def test_an_assertion_pins_the_parameters_it_holds_for():
    """CharRNN asserts [batch, seq, 8] after its RNN: true for hidden=8 only. The class
    refuses another value, naming the value it needs and the line that needs it."""
    spec = api.load(SPECS / "charrnn.net")
    assert spec.class_info().checked == {"embedding": 10, "hidden": 8, "classes": 4}
    assert spec.class_info().pinned == {"embedding": 6, "hidden": 7, "classes": 8}
    with pytest.raises(ValueError, match=r"CharRNN needs hidden=8: line 7 of charrnn.net"):
        spec.module(hidden=5)
    spec.module(layers=3, vocab=9)  # nothing asserts these
    with pytest.raises(api.SpecError, match="is 5, which is not 8"):
        api.load(SPECS / "charrnn.net", {"hidden": 5})


def test_a_parameter_the_shapes_depend_on_is_refused_with_a_rebuild_hint():
    """A shape assertion that holds only for the stride's value pins it; without the
    assertion the class computes the sizes from the stride (`(16 - 3 + stride) // stride`)."""
    text = """
    network Strided(stride=2, classes=3) {
        input x: float[batch, 2, 16]
        y = x -> Conv1d(4, 3, stride=stride) : [batch, 4, 7]
        z = y -> Flatten -> Linear(classes)
        output z
    }"""
    spec = api.loads(text)
    assert spec.class_info().checked == {"stride": 2}
    with pytest.raises(ValueError, match="--set stride="):
        spec.module(stride=3)
    model = spec.module(classes=5)
    assert list(model(torch.zeros(2, 2, 16)).shape) == [2, 5]
    free = api.loads(text.replace(" : [batch, 4, 7]", ""))
    assert free.class_info().checked == {}
    assert list(free.module(stride=3)(torch.zeros(2, 2, 16)).shape) == [2, 3]
    assert list(free.module(stride=3).z[1].weight.shape) == [3, 20]  # 4 channels of (16 - 3) // 3 + 1 = 5
    run_and_compare(api.loads(text.replace("[batch, 4, 7]", "[batch, 4, 5]"), {"stride": 3}), {"batch": 2})


def test_equalities_proven_with_values_fix_the_parameters():
    text = """
    network Sum(a=4, b=2) {
        input x: float[batch, a]
        input y: float[batch, 2 * b]
        s = add(x, y)
        output s
    }"""
    spec = api.loads(text)
    assert spec.class_info().checked == {"a": 4, "b": 2}
    with pytest.raises(ValueError):
        spec.module(a=5)


def test_non_integer_parameters():
    text = """
    network Opts(drop=0.25, bi=true, mode="relu", hidden=6) {
        input x: float[seq, batch, 3]
        y = x -> RNN(hidden, nonlinearity=mode, bidirectional=bi) -> Dropout(drop)
        output y
    }"""
    spec = api.loads(text)
    code = spec.code
    assert "nn.Dropout(drop)" in code and "nonlinearity=mode" in code
    assert spec.class_info().checked == {"bi": True, "mode": "relu"}
    assert spec.module(drop=0.5).y[1].p == 0.5  # a rate is free
    with pytest.raises(ValueError, match="bi=True"):
        spec.module_class()(bi=False)  # the class is built for the checked value
    one_way = spec.module(bi=False)  # as `check --set bi=false` and `build --set bi=false`
    assert one_way.y[0].bidirectional is False
    assert list(one_way(torch.zeros(4, 2, 3)).shape) == [4, 2, 6]
    run_and_compare(spec, {"seq": 4, "batch": 2})


def test_names_that_python_or_torch_reserve_are_renamed():
    text = """
    network list {
        input id: float[batch, 4]
        input l: float[batch, 4]
        max = add(id, l) -> Linear(3)
        sum = max -> ReLU
        output sum
    }"""
    spec = api.loads(text)
    code = spec.code
    assert "class list_(nn.Module):" in code
    assert "def forward(self, id_: torch.Tensor, l_: torch.Tensor)" in code
    model = spec.module()
    assert set(model.state_dict()) == {"max.weight", "max.bias"}
    run_and_compare(spec, {"batch": 2})


QUOTED = [
    "block1-0", "class", "self", "5", "a b", "é 1 ✓", "'); import os; ('", "x#y", "a" * 2000,
]


def _quoted_spec(names: list[str]) -> str:
    layers = "\n".join(f'        -> Linear(4) as "{n}"' for n in names[:-1])
    return (f"network Q {{\n    input x: float[batch, 4]\n    y = x -> (\n{layers.replace('-> ', '', 1)}\n"
            f'    ) as "{names[-1]}"\n    z = y -> ReLU as "top-1" -> Linear(2) as "{names[0]}"\n    output z\n}}\n')


def _quoted_names_code(tmp_path, text: str) -> str:
    """The generated code of ``text``, after ruff check and ruff format pass it unchanged."""
    spec = api.loads(text)
    code = spec.code
    assert code == api.loads(text).code  # deterministic
    path = tmp_path / "q.py"
    path.write_text(code)
    ruff = _ruff()
    for args in (["check", "--isolated"], ["format", "--isolated", "--check", "--diff"]):
        r = subprocess.run([ruff, *args, "--no-cache", str(path)], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
    return code


def test_quoted_names_name_modules_exactly_and_never_steer_the_code(tmp_path):
    """A quoted `as` name is the module's name in torch, whatever its characters: the code
    reaches it with add_module/getattr and string literals, so that a name spelling Python
    (`'); import os; ('`) stays a string, and the state_dict holds the names as written."""
    import ast as pyast

    code = _quoted_names_code(tmp_path, _quoted_spec(QUOTED))
    tree = pyast.parse(code)
    imports = [n for n in pyast.walk(tree) if isinstance(n, (pyast.Import, pyast.ImportFrom))]
    assert sorted(pyast.unparse(n) for n in imports) == [
        "from collections import OrderedDict", "from torch import nn", "import torch"]
    assert not {n.id for n in pyast.walk(tree) if isinstance(n, pyast.Name)} - {"torch", "nn", "OrderedDict", "super",
                                                                                "self", "getattr", "x", "y", "z"}
    strings = {n.value for n in pyast.walk(tree) if isinstance(n, pyast.Constant) and isinstance(n.value, str)}
    assert set(QUOTED) - {"self", "a" * 2000} <= strings  # each a string literal, whole
    spec = api.loads(_quoted_spec(QUOTED))
    model, _ = run_and_compare(spec, {"batch": 2})
    outer, first = QUOTED[-1], QUOTED[0]
    want = {f"{outer}.{n}.{p}" for n in QUOTED[:-1] for p in ("weight", "bias")}
    want |= {f"{first}.weight", f"{first}.bias"} - {f"{outer}.{first}.weight"}
    assert set(model.state_dict()) == want | {f"{first}.weight", f"{first}.bias"}
    assert 'getattr(self, "block1-0")' in code and "getattr(self, \"'); import os; ('\")" not in code


def test_a_quoted_name_of_a_numbered_copy_or_a_place_reaches_its_module(tmp_path):
    """`as "b-"{1}` numbers copies `b-1`, `b-2`; a child named with a digit that is not its
    place keeps the name; a binding's unnamed layers are still reached by their places."""
    text = """
    network R {
        input x: float[batch, 4]
        y = x -> (Linear(4) as "1" -> ReLU as "0") as "g-1" -> (Linear(4) -> ReLU) * 2 as "b-"{1}
        z, h = y -> unsqueeze(1) -> GRU(4, batch_first=true)
        output z, h
    }"""
    code = _quoted_names_code(tmp_path, text)
    assert '("1", nn.Linear(4, 4)),' in code and 'getattr(self, "b-2")(y)' in code
    model, _ = run_and_compare(api.loads(text), {"batch": 2})
    assert {"g-1.1.weight", "b-1.0.weight", "b-2.0.weight", "z_h.weight_ih_l0"} <= set(model.state_dict())


@pytest.mark.parametrize(("name", "why"), [
    ('""', "empty"), ('"x.y"', "joins module paths"), ('"__class__"', "attribute of torch's nn.Module"),
    ('"forward"', "attribute of torch's nn.Module"), ('"_parameters"', "attribute of torch's nn.Module"),
    ('"a\tb"', "U\\+0009"), ('"a\u200bb"', "U\\+200B"), ('"a\x7fb"', "U\\+007F"),
])
def test_a_quoted_name_torch_cannot_hold_is_refused(name, why):
    result = check_text(f"network N {{ input x: float[2, 4] y = x -> Linear(4) as {name} output y }}", "t.net")
    errors = [d for d in result.reporter.items if d.severity == "error"]
    assert [d.code for d in errors] == ["reserved"], [d.message for d in errors]
    assert re.search(why, errors[0].message) and errors[0].help and errors[0].span.column == 56


@pytest.mark.parametrize("name", ['"a\\"); import os #"', '"a\nb"', '"a"b"'])
def test_a_name_that_would_leave_its_quotes_does_not_parse(name):
    result = check_text(f"network N {{ input x: float[2, 4] y = x -> Linear(4) as {name} output y }}", "t.net")
    assert [d.code for d in result.reporter.items if d.severity == "error"] == ["syntax"]


def test_a_dtype_other_than_float32_builds_layers_in_it():
    text = """
    network Double {
        input x: double[batch, 4]
        y = x -> Linear(3) -> BatchNorm1d -> LayerNorm
        output y
    }"""
    spec = api.loads(text)
    assert "dtype=torch.float64" in spec.code
    run_and_compare(spec, {"batch": 3})


ATTENTION = """
network Attn(heads=2, ff=16) {
    input src: float[seq, batch, 8]
    input tgt: float[tlen, batch, 8]
    input mem: float[mlen, batch, 6]
    input pad: bool[batch, seq]
    input causal: bool[tlen, tlen]
    input cross: float[tlen, mlen]
    input vol: float[batch, 2, 4, 5, 6]

    enc = src -> TransformerEncoder(heads, 2, ff, 0.0, norm=true, src_key_padding_mask=pad) as encoder
    att = tgt -> MultiheadAttention(heads, key=mem, kdim=6, vdim=6, attn_mask=cross, average_attn_weights=false)
    blocks = att.output -> (TransformerEncoderLayer(heads, ff, 0.0) -> ReLU) * 2 as blocks
    again = src -> MultiheadAttention(heads, need_weights=false) * 2 -> TransformerEncoderLayer(heads, ff) as last
    dec = tgt -> TransformerDecoder(heads, 2, ff, memory=enc, tgt_mask=causal, tgt_is_causal=true)
    step = tgt -> TransformerDecoderLayer(heads, ff, batch_first=false, memory=src, memory_key_padding_mask=pad)
    full = src -> Transformer(heads, 1, 1, ff, tgt=tgt, src_key_padding_mask=pad) as model
    up = vol -> Conv3d(4, 3, padding=1) -> ConvTranspose3d(2, 2, stride=2) as up3
    flat = vol -> select(2, 0) -> ConvTranspose2d(4, 3, stride=2, output_padding=1) -> flatten(2)
        -> ConvTranspose1d(2, 4, stride=3, padding=1, groups=2) * 2
    output enc, att.weights, blocks, again, dec, step, full, up, flat
}
"""


def test_attention_and_transposed_convolutions_build_and_run_as_checked():
    """Every new kind in one spec, with `as` names, repeated stages and parameters: the
    built module runs with the stated shapes and parameter count; the stacks are torch's own
    objects, whose state_dict names are torch's, loaded strictly into torch's own module."""
    spec = api.loads(ATTENTION)
    code = spec.code
    assert "nn.TransformerEncoder(  # line 11" in code and "nn.TransformerEncoderLayer(8, heads," in code
    assert "norm=nn.LayerNorm(8)" in code
    assert "need_weights=False" in code and "_ = self." in code
    symbols = {"seq": 5, "batch": 3, "tlen": 4, "mlen": 7}
    torch.manual_seed(0)
    model, _ = run_and_compare(spec, symbols)
    run_and_compare(spec, symbols, ff=10)  # the feed-forward width is free, the heads are not
    assert spec.class_info().checked == {"heads": 2}

    theirs = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, 0.0), 2, norm=nn.LayerNorm(8))
    assert list(model.encoder.state_dict()) == list(theirs.state_dict())
    assert "layers.0.self_attn.in_proj_weight" in model.encoder.state_dict()
    theirs.load_state_dict(model.encoder.state_dict(), strict=True)
    model.eval()
    theirs.eval()
    src = torch.randn(5, 3, 8)
    with torch.no_grad():
        assert torch.equal(model.encoder(src), theirs(src))
    assert isinstance(model.blocks, nn.Sequential) and len(model.blocks) == 4
    assert isinstance(model.model, nn.Transformer) and isinstance(model.up3, nn.ConvTranspose3d)


def test_attention_in_another_dtype_builds_every_nested_module_in_it():
    text = """
    network Double {
        input x: double[seq, batch, 8]
        input t: double[tlen, batch, 8]
        a = x -> TransformerEncoder(2, 1, 16, norm=true)
        b = t -> TransformerDecoder(2, 1, 16, memory=a) -> MultiheadAttention(4, key=x)
        c = x -> Transformer(2, 1, 1, 16, tgt=t) -> permute(1, 2, 0) -> ConvTranspose1d(3, 2)
        output b.output, c
    }"""
    spec = api.loads(text)
    model, _ = run_and_compare(spec, {"seq": 4, "batch": 2, "tlen": 3})
    assert {p.dtype for p in model.parameters()} == {torch.float64}
    assert "nn.LayerNorm(8, dtype=torch.float64)" in spec.code


def test_missing_initial_states_start_at_zero():
    text = """
    network States(hidden=5) {
        input x: float[seq, batch, 3]
        input h: float[2, batch, 4]
        input c: float[1, batch, 6]
        input hx: float[batch, 4]
        a = x -> LSTM(hidden, bidirectional=true, proj_size=4, h0=h)
        b = x -> LSTM(6, c0=c)
        cell = x -> select(0, 0) -> LSTMCell(4, hx=hx)
        output a.output, a.c_n, b.h_n, cell.c
    }"""
    spec = api.loads(text)
    assert "new_zeros" in spec.code and "zeros_like" in spec.code
    run_and_compare(spec, {"seq": 3, "batch": 2})


def test_networks_as_stages_with_several_inputs_outputs_and_sizes():
    text = """
    network Head(k=3) {
        input x: float[batch, c, l]
        y = x -> Conv1d(4, k) -> Flatten -> Linear(3)
        output y
    }
    network Pair(w) {
        input a: float[batch, f]
        input b: float[batch, f]
        s = add(a, b) -> Linear(w)
        d = cat(a, b, dim=1)
        output s, d
    }
    network Top {
        input x: float[batch, 8]
        p = x -> Pair(3, b=x)
        q = p.d -> unsqueeze(1) -> Head -> unsqueeze(1) -> Head
        output p.s, q
    }"""
    spec = api.loads(text)
    code = spec.code
    assert "def __init__(self, *, k: int = 3, c: int, l_: int) -> None:" in code
    assert "Pair(w=3, f=8)" in code and "Head(k=3, c=1, l_=16)" in code
    run_and_compare(spec, {"batch": 2})


def test_a_class_that_cannot_serve_every_use_is_refused(tmp_path):
    """An Unflatten's inferred size (`-1`) from a parameter: the class computes it at the
    parameter's default (`l // k` taken at k=1), and a use with k=3 needs another Linear."""
    text = """network Head(k=1) {
    input x: float[batch, c, l]
    y = x -> Unflatten(2, (k, -1)) -> Linear(3)
    output y
}
network Top {
    input x: float[batch, 1, 9]
    y = x -> Head
    z = x -> Head(k=3)
    output y, z
}
"""
    spec_file = tmp_path / "top.net"
    spec_file.write_text(text)
    r = cli("build", spec_file, "-o", tmp_path / "top.py")
    assert r.returncode == 1
    assert "error[build]" in r.stderr and "top.net:9:14" in r.stderr and "k=1" in r.stderr
    assert not (tmp_path / "top.py").exists()
    checked = cli("check", spec_file)  # one verdict: check refuses what build refuses
    assert checked.returncode == 1 and "top.net:9:14: error[build]" in checked.stdout + checked.stderr


def test_a_padding_from_a_parameter_serves_every_use(tmp_path):
    """A ZeroPad1d's padding `k // 2` stays a symbol: one class serves k=2, k=0 and k=-5 (a
    crop), each as torch pads (the Linear reads the size the padding leaves)."""
    text = """network Head(k=2) {
    input x: float[batch, c, l]
    y = x -> ZeroPad1d(k // 2) -> Flatten -> Linear(3)
    output y
}
network Top {
    input x: float[batch, 1, 9]
    y = x -> Head
    z = x -> Head(k=0)
    w = x -> Head(k=-5)
    output y, z, w
}
"""
    spec_file = tmp_path / "top.net"
    spec_file.write_text(text)
    r = cli("build", spec_file, "-o", tmp_path / "top.py")
    assert r.returncode == 0, r.stderr
    code = (tmp_path / "top.py").read_text()
    assert code.count("class Head(nn.Module)") == 1 and "nn.ZeroPad1d(k // 2)" in code
    namespace: dict = {}
    exec(compile(code, "top.py", "exec"), namespace)
    top = namespace["Top"]()
    x = torch.randn(2, 1, 9)
    for name, k in (("y", 2), ("z", 0), ("w", -5)):
        pad = torch.nn.ZeroPad1d(k // 2)
        size = pad(x).flatten(1).shape[1]  # 9 + 2 * (k // 2), as torch pads it
        linear = getattr(top, name).y[2]
        assert linear.in_features == size
        assert getattr(top, name)(x).shape == (2, 3)


def test_nn_module_attributes_are_all_reserved():
    names = {n for n in dir(torch.nn.Module()) if not (n.startswith("__") and n.endswith("__"))}
    assert names <= MODULE_ATTRS, sorted(names - MODULE_ATTRS)
    public = {n for n in names if not n.startswith("_")}
    assert public <= PUBLIC_MODULE_ATTRS, sorted(public - PUBLIC_MODULE_ATTRS)  # the checker refuses these


# -- torchvision -------------------------------------------------------------------------------------

torchvision = pytest.importorskip("torchvision")


# the adaptive pools let a small image stand in for 224x224: the same modules, less time
@pytest.mark.parametrize("name,size", [("vgg16", 32), ("alexnet", 64), ("resnet18", 64)])
def test_loads_torchvision_state_dict_strictly_and_agrees(name, size):
    torch.manual_seed(0)
    reference = getattr(torchvision.models, name)(weights=None).eval()
    model = api.load(SPECS / f"{name}.net").module().eval()
    model.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        expected = reference(x)
        got = model(x)
    assert got.shape == expected.shape == (2, 1000)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


# -- devices ------------------------------------------------------------------------------------------

INITIAL_VALUES = ("torch.zeros(", "torch.ones(", "torch.empty(", "torch.full(")
FACTORIES = ("torch.zeros(", "torch.ones(", "torch.empty(", "torch.full(", "torch.tensor(", "torch.arange(",
             "torch.rand", "device", ".cuda(", ".to(", ".cpu(")


def test_a_built_module_holds_no_device_and_makes_tensors_only_from_its_inputs():
    states = api.loads("""
    network States(hidden=5) {
        input x: float[seq, batch, 3]
        input h: float[1, batch, 5]
        input hx: float[batch, 4]
        a = x -> LSTM(hidden, h0=h)
        b = x -> select(0, 0) -> LSTMCell(4, hx=hx)
        output a.c_n, b.c
    }""")
    codes = [p.read_text() for p in GOLDEN.glob("*.py")] + [states.code]
    for code in codes:
        # a declared param or buffer starts from a tensor made in __init__ (its initial value)
        forward = "".join(part.split("\nclass ")[0] for part in code.split("def forward")[1:])
        assert not [f for f in FACTORIES if f in forward]
        assert not [f for f in FACTORIES if f in code and f not in INITIAL_VALUES]
    assert "h.new_zeros((*h.shape[:-1], self.hidden))" in states.code
    assert "torch.zeros_like(hx)" in states.code
    model = api.load(SPECS / "lstm_state.net").module()
    assert {p.device.type for p in model.parameters()} == {"cpu"}
    # the module follows .to(dtype) and what it makes follows its inputs
    run = states.module().double()
    x = torch.randn(3, 2, 3, dtype=torch.float64)
    c_n, c = run(x, torch.randn(1, 2, 5, dtype=torch.float64), torch.randn(2, 4, dtype=torch.float64))
    assert c_n.dtype == c.dtype == torch.float64


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("spec", ["resnet18", "qstencoder", "lstm_state", "gru"])
def test_modules_run_on_the_gpu(spec):
    torch.manual_seed(0)
    model, results = run_and_compare(api.load(SPECS / f"{spec}.net"), SYMBOLS, device="cuda")
    assert all(r.is_cuda for r in results)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_tensors_made_in_forward_follow_the_input_device_and_dtype():
    text = """
    network States(hidden=5) {
        input x: double[seq, batch, 3]
        input h: double[1, batch, 5]
        y = x -> LSTM(hidden, h0=h)
        output y.c_n
    }"""
    spec = api.loads(text)
    model, (c_n,) = run_and_compare(spec, {"seq": 3, "batch": 2}, device="cuda")
    assert c_n.is_cuda and c_n.dtype == torch.float64
