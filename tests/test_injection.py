"""Code generation that text in a spec cannot steer.

Text from a spec reaches a built module through names (networks, parameters, inputs,
symbols, bindings, `as` names), string values (arguments, parameter defaults, `--set`),
comments and the spec's file name. Each case below puts a hostile value in one of those
places and builds. The build either refuses with a diagnostic (and writes nothing), or
writes a module that

- parses into only the node types, names and attributes a built module uses
  (:func:`check_module_ast`): no name it does not define or import from torch, no dunder
  attribute but ``super().__init__``, only torch's own ``nn`` classes and tensor methods;
- imports and runs under an audit hook that forbids starting processes, writing or
  removing files and opening sockets, and leaves no marker file behind;
- computes exactly what the same spec with plain names computes: the same parameters
  (seeded alike) and the same outputs for the same inputs.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fuzzgen import check_module_ast, time_bound

from netspec.cli import main
from netspec.kinds import REGISTRY

ROOT = Path(__file__).resolve().parent.parent

# -- the static check (fuzzgen.check_module_ast) ------------------------------------------------

def test_the_static_check_catches_injected_code():
    clean = "import torch\nfrom torch import nn\n\n\nclass A(nn.Module):\n    def forward(self, x):\n        return x\n"
    assert check_module_ast(clean) == []
    for bad in ("import os\n", "__import__('os').system('x')\n", "x = eval('1')\n", "print(1)\n",
                "class B(nn.Module):\n    y = open('f', 'w')\n", "A.__dict__\n", "torch.load('f')\n",
                "nn.Module.__subclasses__()\n", "x = lambda: 1\n", "def f():\n    pass\n",
                "class C(nn.Module):\n    def forward(self, x=exec('1')):\n        return x\n",
                "x = (1).__class__\n", "x = [1]\n", "getattr(torch, 'load')('f')\n",
                "x = nn.functional.unfold(1)\n", "x = nn.utils\n", "x = f\"{open('f')}\"\n",
                "x = f\"{A!r}\"\n", "x = f\"{A:{open('f')}}\"\n", "x = f\"{A.__dict__}\"\n"):
        assert check_module_ast(clean + bad), bad
    assert check_module_ast(clean + "x = 1\ny = f\"{x} and {A}\"\n") == []  # fields that are plain names


# -- building -----------------------------------------------------------------------------------

@dataclass
class Built:
    exit: int
    stdout: str
    stderr: str
    out: Path
    code: str | None = None
    classes: list[str] = field(default_factory=list)


def build(spec: Path, out: Path, *extra: str) -> Built:
    o, e = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(o), contextlib.redirect_stderr(e), time_bound(20):  # a hang fails
        try:
            code = main(["build", str(spec), "-o", str(out), *extra])
        except SystemExit as x:
            code = x.code
    b = Built(code, o.getvalue(), e.getvalue(), out)
    assert "Traceback" not in b.stderr
    if code == 0:
        b.code = out.read_text()
        b.classes = b.stdout.strip().rpartition(": ")[2].split(", ")
    return b


def assert_refused(b: Built, codes: set[str] | None = None):
    """Exit 1 with a diagnostic (of one of ``codes``), or 2 for a usage error; nothing written."""
    assert b.exit in (1, 2), b.stdout
    assert not b.out.exists()
    if b.exit == 1:
        found = {line.split("[", 1)[1].split("]", 1)[0] for line in b.stderr.splitlines() if ": error[" in line}
        assert found, b.stderr
        if codes is not None:
            assert found & codes, (found, b.stderr)
    else:
        assert b.stderr.startswith("netspec: error:") and len(b.stderr.strip().splitlines()) == 1, b.stderr


# -- running: one fresh interpreter for a batch of built modules, under an audit hook ----------

RUNNER = r'''
import importlib.util, json, os, sys
sys.dont_write_bytecode = True
import torch
FORBIDDEN = ("os.system", "os.exec", "os.spawn", "os.posix_spawn", "os.fork", "os.forkpty", "subprocess.",
             "socket.", "os.remove", "os.unlink", "os.rename", "os.rmdir", "os.mkdir", "shutil.", "os.kill",
             "os.chmod", "os.truncate", "os.putenv", "os.unsetenv", "ctypes.", "builtins.input", "pty.", "webbrowser.")
seen = []
def hook(event, args):
    bad = event.startswith(FORBIDDEN)
    if event == "open":
        mode, flags = args[1], args[2]
        bad = bool((mode and any(c in mode for c in "wax+")) or (flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)))
    if bad:
        seen.append(event)
        raise PermissionError(f"forbidden while running a built module: {event}")
sys.addaudithook(hook)
results = []
for case in json.loads(sys.stdin.read()):
    r = {"id": case["id"]}
    try:
        spec = importlib.util.spec_from_file_location(f"built_{case['id']}", case["path"])
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        torch.manual_seed(0)
        model = getattr(mod, case["class"])(**case.get("kwargs", {})).eval()
        if not case["inputs"]:  # built and instantiated only
            r["params"] = [[list(p.shape), p.double().sum().item()] for p in model.state_dict().values()]
            raise StopIteration
        torch.manual_seed(1)
        xs = [torch.randn(s, dtype=getattr(torch, d)) for d, s in case["inputs"]]
        with torch.no_grad():
            out = model(*xs)
        outs = out if isinstance(out, tuple) else (out,)
        r["outputs"] = [[list(o.shape), o.double().sum().item(), o.double().abs().sum().item()] for o in outs]
        r["params"] = [[list(p.shape), p.double().sum().item()] for p in model.state_dict().values()]
    except StopIteration:
        pass
    except BaseException as e:
        r["error"] = f"{type(e).__name__}: {e}"
    r["forbidden"] = list(seen)
    seen.clear()
    results.append(r)
print(json.dumps(results))
'''


def run_modules(cases: list[dict]) -> dict:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    r = subprocess.run([sys.executable, "-c", RUNNER], input=json.dumps(cases), capture_output=True, text=True,
                       env=env, timeout=600, cwd=cases[0]["cwd"] if cases else None)
    assert r.returncode == 0, r.stderr[-3000:]
    return {x["id"]: x for x in json.loads(r.stdout)}


# -- the cases -------------------------------------------------------------------------------------

# A network with every kind of name in it; the slots are filled with plain names for the
# reference build and with one hostile value at a time for the others.
TEMPLATE = """\
network {net}({p}=4, {mode}="zeros") {{
    input {x}: float[{b}, 3]
    {h} = {x} -> Linear({p}) as {fc} -> ReLU
    {y} = {h} -> reshape({b}, {p}) -> Linear(2)
    output {y}
}}
"""
PLAIN = {"net": "Net", "p": "p", "mode": "mode", "x": "x", "b": "batch", "h": "h", "fc": "fc", "y": "y"}
INPUTS = [["float32", [2, 3]]]

HOSTILE_NAMES = [
    # Python keywords and soft keywords
    "class", "def", "import", "lambda", "None", "True", "False", "return", "yield", "pass", "async", "await",
    "global", "del", "match", "case", "type", "_",
    # builtins that would run or reach anything
    "exec", "eval", "compile", "open", "print", "getattr", "setattr", "globals", "locals", "vars", "object",
    "super", "input", "breakpoint", "ValueError", "float", "tuple", "int", "str", "__import__", "__builtins__",
    # what generated code itself uses
    "self", "torch", "nn", "F", "forward", "__init__", "__class__", "__dict__", "__name__", "_modules",
    "training", "state_dict", "cuda", "to", "l", "O", "I",
    # names of the other slots (collisions), of the class, and of layers
    "Net", "x", "h", "y", "fc", "p", "Linear", "ReLU", "reshape",
    # names that stop being identifiers, or collide, once class-private underscores go
    "__", "__9f", "__x", "_1",
]
SLOTS = list(PLAIN)


def spec_with(**names) -> str:
    return TEMPLATE.format(**{**PLAIN, **names})


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    wd = tmp_path_factory.mktemp("reference")
    spec = wd / "ref.net"
    spec.write_text(spec_with())
    b = build(spec, wd / "ref.py")
    assert b.exit == 0, b.stderr
    return b


@pytest.fixture(scope="module")
def marker_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("marker")


def payload(marker_dir: Path, quote: str = "'") -> str:
    """Python that would create the marker file if it ran."""
    q = quote
    return f"__import__({q}os{q}).system({q}touch {marker_dir / 'PWNED'}{q})"


def finish(cases: list[tuple[str, Built]], reference: Built, marker_dir: Path, tmp: Path,
           kwargs: dict | None = None, other_networks: frozenset = frozenset()):
    """For every case that built: the AST check, then all of them run in one interpreter,
    compared with the reference; the marker file must not exist. ``other_networks``: cases
    whose spec means another network (a name that now refers to another slot's value): those
    are imported and instantiated only."""
    built = [(cid, b) for cid, b in cases if b.exit == 0]
    for cid, b in built:
        problems = check_module_ast(b.code)
        assert not problems, (cid, problems, b.code)
    batch = [{"id": "reference", "path": str(reference.out), "class": reference.classes[-1], "inputs": INPUTS,
              "cwd": str(tmp)}]
    batch += [{"id": cid, "path": str(b.out), "class": b.classes[-1], "kwargs": kwargs or {},
               "inputs": [] if cid in other_networks else INPUTS} for cid, b in built]
    results = run_modules(batch)
    ref = results["reference"]
    assert "error" not in ref, ref
    for cid, _ in built:
        r = results[cid]
        assert not r["forbidden"] and "error" not in r, (cid, r)
        if cid not in other_networks:
            assert r["outputs"] == ref["outputs"] and r["params"] == ref["params"], cid
    assert not (marker_dir / "PWNED").exists()
    assert not (tmp / "PWNED").exists()
    return results


def test_hostile_names_in_every_place(reference, marker_dir, tmp_path):
    cases = []
    refused = 0
    collisions = set()
    for slot in SLOTS:
        for name in HOSTILE_NAMES:
            if name == PLAIN[slot]:
                continue
            cid = f"{slot}-{name}"
            if name in PLAIN.values():
                collisions.add(cid)
            spec = tmp_path / f"{cid}.net"
            spec.write_text(spec_with(**{slot: name}))
            b = build(spec, tmp_path / f"{cid}.py")
            if b.exit != 0:
                assert_refused(b)
                refused += 1
            cases.append((cid, b))
    finish(cases, reference, marker_dir, tmp_path, other_networks=frozenset(collisions))
    built = len(cases) - refused
    assert built > 50 and refused > 50  # both outcomes are exercised


def test_renamed_names_keep_the_contract(tmp_path):
    """Spec names Python cannot use as they are get a trailing `_` (class, keyword
    argument, attribute); the class keeps working with the renamed keyword."""
    spec = tmp_path / "print.net"
    spec.write_text(spec_with(net="print", p="len", fc="l", h="exec"))
    b = build(spec, tmp_path / "print.py")
    assert b.exit == 0, b.stderr
    assert b.classes == ["print_"]
    assert "def __init__(self, *, len_: int = 4" in b.code
    assert "self.l = nn.Linear(3, len_)" in b.code  # an attribute may be `l`; a variable may not
    assert "exec_ = self.l(x)" in b.code
    assert not check_module_ast(b.code)


STRING_PAYLOADS = [
    "'); {p}; ('",
    "''' + {p} + '''",
    "{{{p}}}",
    "%s%s%n",
    "\r{p}",
    "\u2028{p}",
    "\x0c{p}",
    "# {p}",
    "\t; {p}",
    "é́\u202e{p}",
]


def test_hostile_strings(reference, marker_dir, tmp_path):
    p = payload(marker_dir)
    cases = []
    for k, raw in enumerate(STRING_PAYLOADS):
        s = raw.format(p=p)
        # as a parameter default the generated __init__ writes out
        spec = tmp_path / f"default{k}.net"
        spec.write_text(spec_with().replace('"zeros"', '"' + s + '"'))
        b = build(spec, tmp_path / f"default{k}.py")
        assert b.exit == 0, b.stderr
        tree = ast.parse(b.code)
        defaults = [ast.literal_eval(d) for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)
                    for d in f.args.kw_defaults if d is not None]
        assert s in defaults  # the string arrives as it was written, and as data
        cases.append((f"default{k}", b))
        # as a string argument torch would receive: refused, torch takes only its own values
        for arg in ("padding", "padding_mode"):
            spec = tmp_path / f"arg{k}{arg}.net"
            spec.write_text("network Net {\n    input x: float[batch, 3, 9]\n"
                            f'    y = x -> Conv1d(4, 3, {arg}="{s}")\n    output y\n}}\n')
            assert_refused(build(spec, tmp_path / f"arg{k}{arg}.py"), {"value", "argument"})
        spec = tmp_path / f"gelu{k}.net"
        spec.write_text(f'network Net(a="{s}") {{\n    input x: float[batch, 3]\n'
                        "    y = x -> GELU(approximate=a)\n    output y\n}\n")
        assert_refused(build(spec, tmp_path / f"gelu{k}.py"), {"value", "argument"})
        # by --set
        b = build(tmp_path / "default0.net", tmp_path / f"set{k}.py", "--set", f'mode="{s}"')
        if b.exit == 0:
            cases.append((f"set{k}", b))
        else:
            assert_refused(b)
    finish(cases, reference, marker_dir, tmp_path)


def test_set_values_that_are_not_literals_are_usage_errors(tmp_path, marker_dir):
    spec = tmp_path / "net.net"
    spec.write_text(spec_with())
    p = payload(marker_dir, '"')
    for value in (p, f'"x" + {p}', f"({p},)", f"4; {p}", f'"\\"; {p}"', "4 -> ReLU", f"x.{p}"):
        b = build(spec, tmp_path / "set.py", "--set", f"mode={value}")
        assert_refused(b)
        assert b.exit == 2, b.stderr
    for name in ('mode"', "import os", "p; x", "__import__('os')"):
        assert_refused(build(spec, tmp_path / "set.py", "--set", f"{name}=3"))


def test_comments_do_not_reach_the_output(reference, marker_dir, tmp_path):
    p = payload(marker_dir)
    lines = spec_with().splitlines()
    hostile = [f'{line}  # """ + {p} + """ \' + {p} + \'' for line in lines]
    hostile.insert(0, f"# netspec: allow[unused] {p}")
    hostile[2] += "\\"  # a comment ending in a backslash
    spec = tmp_path / "ref.net"  # the reference's file name, so that only the comments differ
    spec.write_text("\n".join(hostile[1:]) + "\n")
    b = build(spec, tmp_path / "commented.py")
    assert b.exit == 0, b.stderr
    assert b.code == reference.code
    spec.write_text("\n".join(hostile) + "\n")
    b = build(spec, tmp_path / "commented2.py")
    assert b.exit == 0, b.stderr
    assert "PWNED" not in b.code and "allow" not in b.code
    finish([("comments", b)], reference, marker_dir, tmp_path)


def hostile_file_names() -> list[str]:
    # a file name holds no `/`: these create PWNED in the directory the module runs in
    p = '__import__("os").system("touch PWNED")'
    return [
        f'x"; {p}; ".net',
        f'a"""+{p}+""".net',
        f"a'''+{p}+'''.net",
        "x\nimport os\nos.system('touch PWNED')\n#.net",
        f"x\r{p}.net",
        "trailing backslash\\",
        "named escape \\N.net",
        "\\x00 and \\u0000.net",
        f"\u2028{p}.net",
        "\u202eten.py",
        " -- do not edit.net",
        "é.net",
    ]


def test_hostile_file_names(reference, marker_dir, tmp_path):
    """The file name goes into the header comment and each class's docstring."""
    cases = []
    for k, name in enumerate(hostile_file_names()):
        spec = tmp_path / name
        spec.write_text(spec_with())
        b = build(spec, tmp_path / f"file{k}.py")
        assert b.exit == 0, (name, b.stderr)
        assert not check_module_ast(b.code), (name, check_module_ast(b.code))
        tree = ast.parse(b.code)
        assert len(b.code.splitlines()[0]) > 10 and b.code.splitlines()[1] == "import torch"  # one header line
        doc = ast.get_docstring(tree.body[-1])
        assert doc is not None and doc.startswith("Net: ") and doc.endswith(", line 1."), doc
        cases.append((f"file{k}", b))
    raw = os.fsencode(tmp_path) + b"/\xff\xfe bytes.net"  # a name that is not UTF-8
    with open(raw, "w") as f:
        f.write(spec_with())
    b = build(Path(os.fsdecode(raw)), tmp_path / "bytes.py")
    assert b.exit == 0, b.stderr
    cases.append(("bytes", b))
    finish(cases, reference, marker_dir, tmp_path)


def test_hostile_names_in_a_network_used_as_a_stage(marker_dir, tmp_path):
    """Block classes take keyword arguments named after their parameters and symbols."""
    names = ["self", "super", "exec", "print", "__init__", "torch", "class", "F", "l", "forward", "x", "Net"]
    cases = []
    ref_spec = tmp_path / "blockref.net"

    def block_spec(param: str, sym: str, block: str) -> str:
        return (f"network {block}({param}) {{\n    input x: float[batch, {sym}]\n"
                f"    y = x -> Linear({param}) -> ReLU\n    output y\n}}\n"
                f"network Net {{\n    input x: float[batch, 3]\n    y = x -> {block}(5) -> {block}(4)\n"
                "    output y\n}\n")

    ref_spec.write_text(block_spec("width", "c", "Block"))
    ref = build(ref_spec, tmp_path / "blockref.py")
    assert ref.exit == 0, ref.stderr
    for k, name in enumerate(names):
        for variant in (block_spec(name, "c", "Block"), block_spec("width", name, "Block"),
                        block_spec("width", "c", name)):
            spec = tmp_path / f"block{k}-{len(cases)}.net"
            spec.write_text(variant)
            b = build(spec, spec.with_suffix(".py"))
            if b.exit == 0:
                cases.append((spec.stem, b))
            else:
                assert_refused(b)
    assert cases
    for cid, b in cases:
        assert not check_module_ast(b.code), cid
    batch = [{"id": "reference", "path": str(ref.out), "class": ref.classes[-1], "inputs": INPUTS,
              "cwd": str(tmp_path)}]
    batch += [{"id": cid, "path": str(b.out), "class": b.classes[-1], "inputs": INPUTS} for cid, b in cases]
    results = run_modules(batch)
    for cid, _ in cases:
        r = results[cid]
        assert not r["forbidden"] and "error" not in r, (cid, r)
        assert r["outputs"] == results["reference"]["outputs"], cid
        assert r["params"] == results["reference"]["params"], cid
    assert not (marker_dir / "PWNED").exists()


def test_floats_and_huge_values_are_literals(marker_dir, tmp_path):
    spec = tmp_path / "f.net"
    spec.write_text("network Net(eps=1e999, big=9223372036854775807) {\n    input x: float[batch, 3]\n"
                    "    y = x -> LayerNorm(eps=eps)\n    output y\n}\n")
    b = build(spec, tmp_path / "f.py")
    assert b.exit == 0, b.stderr
    assert 'eps: float = float("inf")' in b.code
    assert not check_module_ast(b.code)


def test_hostile_file_names_in_a_diagram(tmp_path):
    """The DOT file names the spec in its first line, a comment: a newline in the file name
    must not end the comment and put text into the graph."""
    for k, name in enumerate(hostile_file_names() + ['x\ndigraph evil { n [label="PWNED"] }\n#.net']):
        spec = tmp_path / name
        spec.write_text(spec_with())
        out = tmp_path / f"d{k}.dot"
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
            code = main(["diagram", str(spec), "-o", str(out)])
        assert code == 0, err.getvalue()
        lines = out.read_text().splitlines()
        assert lines[0].startswith("// Generated by netspec from "), name
        assert lines[1] == "digraph netspec {", name
        assert "PWNED" not in "\n".join(lines[1:])


def _with_kwarg(stage: str, key: str, value: str) -> str:
    if stage.endswith(")"):
        inner = stage[stage.index("(") + 1:-1]
        return f"{stage[:stage.index('(')]}({inner}{', ' if inner.strip() else ''}{key}={value})"
    return f"{stage}({key}={value})"


def test_every_argument_refuses_a_string_torch_does_not_take(tmp_path):
    """No argument of any layer or op lets an arbitrary string through to the code."""
    s = '"zz\'); __import__(\'os\').system(\'touch PWNED\'); (\'"'
    seen = set()
    checked = 0
    for kind in REGISTRY.values():
        if id(kind) in seen:
            continue
        seen.add(id(kind))
        ex = next((e for e in kind.examples if not e.get("others") and not e.get("other_shapes")
                   and not e.get("tensors")), None)
        if ex is None:
            continue
        tensors = "".join(f"    input {n}: {t}\n" for n, t in ex.get("tensors", {}).items())
        for field_name in kind.Args.model_fields:
            spec = tmp_path / f"{kind.name}-{field_name}.net"
            source = "" if ex["input"] is None else "x -> "  # an op that starts a chain (arange): no input
            decl = "" if ex["input"] is None else f"    input x: {ex['input']}\n"
            spec.write_text(f"network Net {{\n{decl}{tensors}"
                            f"    y = {source}{_with_kwarg(ex['stage'], field_name, s)}\n    output y\n}}\n")
            b = build(spec, spec.with_suffix(".py"))
            assert_refused(b, {"argument", "value"})
            checked += 1
    assert checked > 100
