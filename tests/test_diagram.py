"""`netspec diagram`: every layer drawn with its label, every edge with the shape check states.

The SVG that Graphviz draws is parsed as XML and compared with `netspec check`'s JSON
report (whose shapes tests/test_specs_torch.py proves against torch): each layer of the
report is a node whose text starts with its kind and shows its parameter count, and each
edge leaving a node carries one of that node's result shapes. DOT goldens in
tests/golden_dot pin the whole drawing; NETSPEC_UPDATE_GOLDEN=1 rewrites them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytest.importorskip("graphviz")

from netspec.api import check_file  # noqa: E402
from netspec.diagram import build, render_dot, select  # noqa: E402
from netspec.fsutil import MARKER  # noqa: E402
from netspec.report import network_json  # noqa: E402


def diagram_source(path: str, network: str | None = None, rankdir: str = "TB", depth: int = 0,
                   unroll: bool = False, overrides: dict | None = None):
    """(DOT text or None when nothing parsed, the checked spec): what `netspec diagram -o x.dot`
    draws, without the marker line."""
    spec = check_file(path, overrides)
    if spec.result.module is None:
        return None, spec
    nets = select(spec.result, path, network)
    return build(nets, spec.result, rankdir, depth, unroll, os.path.basename(path)).source, spec


ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
GOLDEN = Path(__file__).resolve().parent / "golden_dot"
SVG = "{http://www.w3.org/2000/svg}"
HAS_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAS_DOT, reason="Graphviz's dot is not installed")

# the drawings pinned by golden files: name -> (spec, options)
GOLDENS = {p.stem: (p.name, {}) for p in sorted(SPECS.glob("*.net"))}
GOLDENS.update({
    "resnet18-depth1": ("resnet18.net", {"depth": 1}),
    "vgg16-unroll": ("vgg16.net", {"unroll": True}),
    "lstm_state-LR": ("lstm_state.net", {"rankdir": "LR"}),
})


# -- reading an SVG ------------------------------------------------------------------------------

class Drawn:
    """The nodes and edges of a Graphviz SVG: ids, titles and text lines."""

    def __init__(self, svg: bytes):
        self.root = ET.fromstring(svg)
        self.nodes: dict[str, dict] = {}  # dot name (n3) -> {"id": ..., "texts": [...]}
        self.edges: list[dict] = []  # {"src", "dst", "texts"}
        self.clusters: list[list[str]] = []
        for g in self.root.iter(f"{SVG}g"):
            cls = g.get("class")
            title = g.find(f"{SVG}title")
            texts = [_text(t) for t in g.iter(f"{SVG}text")]
            if cls == "node":
                self.nodes[title.text] = {"id": g.get("id"), "texts": texts, "g": g}
            elif cls == "edge":
                src, dst = title.text.split("->")
                self.edges.append({"src": src, "dst": dst, "texts": texts})
            elif cls == "cluster":
                self.clusters.append(texts)

    def by_id(self, node_id: str) -> tuple[str, dict]:
        for name, node in self.nodes.items():
            if node["id"] == node_id:
                return name, node
        raise KeyError(node_id)

    def has_id(self, node_id: str) -> bool:
        return any(n["id"] == node_id for n in self.nodes.values())

    def into(self, name: str) -> list[dict]:
        return [e for e in self.edges if e["dst"] == name]

    def out_of(self, name: str) -> list[dict]:
        return [e for e in self.edges if e["src"] == name]


def _text(t) -> str:
    return "".join(t.itertext()).replace("\xa0", " ")


def shape_of(entry: dict) -> str:
    """A JSON tensor as `netspec check` prints a shape: `[batch, 3, 224, 224]`."""
    return "[" + ", ".join(str(d) for d in entry["shape"]) + "]"


def svg_of(spec: Path | str, **opts) -> tuple[Drawn, str]:
    source, _ = diagram_source(str(spec), **opts)
    return Drawn(render_dot(source, "svg")), source


def report_of(spec: Path) -> dict:
    """`netspec check --json`'s networks, by name."""
    loaded = check_file(str(spec))
    return {n.name: network_json(n) for n in loaded.result.networks}


# -- every layer and every edge, against the check report -----------------------------------------

def check_against_report(drawn: Drawn, net: dict, unrolled: bool) -> None:
    name = net["name"]
    for inp in net["inputs"]:
        _, node = drawn.by_id(f"{name}.input.{inp['name']}")
        assert node["texts"] == [inp["name"], inp["dtype"] + shape_of(inp)]
    for out in net["outputs"]:
        dot_name, node = drawn.by_id(f"{name}.output.{out['name']}")
        shown = out["dtype"] + shape_of(out) if out["shape"] is not None else "?"
        assert node["texts"] == [out["name"], shown]
        assert len(drawn.into(dot_name)) == 1
    for k, layer in enumerate(net["layers"]):
        node_id = f"{name}.{k}"
        if not unrolled and not drawn.has_id(node_id):
            continue  # a repetition drawn once
        dot_name, node = drawn.by_id(node_id)
        texts = node["texts"]
        assert any(t.split(" ")[0] == layer["kind"] for t in texts), (layer, texts)
        if unrolled and layer["params"] not in (0, None):
            count = f"{layer['params']:,}" if isinstance(layer["params"], int) else layer["params"]
            assert f"{count} params" in texts, (layer, texts)
        results = {o["name"]: o for o in layer["outputs"]}
        for e in drawn.out_of(dot_name):
            shape = e["texts"][-1]
            if len(results) > 1:  # output, h_n, c_n: each edge says which
                result = results[e["texts"][0]]
            else:
                (result,) = results.values()
            if result["shape"] is None:
                assert shape == "?"
            else:
                assert shape in (shape_of(result), result["dtype"] + shape_of(result)), (layer, e["texts"])
    for e in drawn.edges:  # edges out of inputs carry the input's shape
        src = drawn.nodes[e["src"]]["id"]
        m = re.fullmatch(rf"{name}\.input\.(\w+)", src)
        if m:
            inp = next(i for i in net["inputs"] if i["name"] == m.group(1))
            assert e["texts"][-1] == shape_of(inp)


@needs_dot
def test_every_layer_and_edge_unrolled(spec_file):
    """--unroll: one node per layer of the report, each edge the shape check infers."""
    report = report_of(spec_file)
    for net in select(check_file(str(spec_file)).result, str(spec_file), None):
        drawn, _ = svg_of(spec_file, network=net.name, unroll=True)
        check_against_report(drawn, report[net.name], unrolled=True)
        layers = [n for n in drawn.nodes.values() if re.fullmatch(rf"{net.name}\.\d+", n["id"] or "")]
        assert len(layers) == len(report[net.name]["layers"])


@needs_dot
def test_every_layer_and_edge_default(spec_file):
    """The default drawing (repetitions collapsed) states the same shapes."""
    report = report_of(spec_file)
    drawn, _ = svg_of(spec_file)
    for net in select(check_file(str(spec_file)).result, str(spec_file), None):
        check_against_report(drawn, report[net.name], unrolled=False)


@needs_dot
def test_blocks_drawn_on_their_own(specs_dir):
    """A network used as a layer can be drawn alone, with its symbolic shapes."""
    spec = specs_dir / "resnet18.net"
    report = report_of(spec)
    for name in ("BasicBlock", "DownBlock"):
        drawn, _ = svg_of(spec, network=name)
        check_against_report(drawn, report[name], unrolled=True)
        texts = [t for n in drawn.nodes.values() for t in n["texts"]]
        assert "Conv2d planes, 3, padding=1, bias=false" in texts


# -- recurrent results, repetitions, blocks -------------------------------------------------------

@needs_dot
def test_recurrent_results_are_separate_labelled_edges(specs_dir):
    report = report_of(specs_dir / "qstencoder.net")["QstEncoder"]
    lstm = next(i for i, layer in enumerate(report["layers"]) if layer["kind"] == "LSTM")
    want = {o["name"]: shape_of(o) for o in report["layers"][lstm]["outputs"]}
    drawn, _ = svg_of(specs_dir / "qstencoder.net")
    name, node = drawn.by_id(f"QstEncoder.{lstm}")
    assert node["texts"][0] == "LSTM 512, layers=2"
    out = drawn.out_of(name)
    assert sorted(tuple(e["texts"]) for e in out) == [("c_n", want["c_n"]), ("h_n", want["h_n"])]
    cat = {drawn.nodes[e["dst"]]["texts"][0] for e in out}
    assert cat == {"cat dim=2"}

    report = report_of(specs_dir / "lstm_state.net")["LSTMWithState"]
    want = {o["name"]: shape_of(o) for o in report["layers"][1]["outputs"]}
    drawn, _ = svg_of(specs_dir / "lstm_state.net")
    name, node = drawn.by_id("LSTMWithState.1")
    edges = {e["texts"][0]: (e["texts"][1], drawn.nodes[e["dst"]]["id"]) for e in drawn.out_of(name)}
    assert edges == {"output": (want["output"], "LSTMWithState.2"),
                     "h_n": (want["h_n"], "LSTMWithState.output.enc.h_n"),
                     "c_n": (want["c_n"], "LSTMWithState.output.enc.c_n")}
    into = sorted(drawn.nodes[e["src"]]["id"] for e in drawn.into(name))
    assert into == ["LSTMWithState.0", "LSTMWithState.input.c0", "LSTMWithState.input.h0"]


@needs_dot
def test_repetitions_collapse_with_a_badge(specs_dir):
    spec = specs_dir / "vgg16.net"
    layers = report_of(spec)["VGG16"]["layers"]
    drawn, _ = svg_of(spec)
    assert sorted(c[0] for c in drawn.clusters) == ["×2", "×2", "×3", "×3", "×3"]
    # 5 stages of (Conv2d -> ReLU) * N drawn once each: 13 + 13 layers become 5 + 5
    assert len(drawn.nodes) == len(layers) - 16 + 2
    first_conv = drawn.by_id("VGG16.0")[1]["texts"]
    a, b = layers[0]["params"], layers[2]["params"]
    assert first_conv == ["Conv2d 64, 3, padding=1", f"{a + b:,} params ({a:,} + {b:,})"]
    last_conv = drawn.by_id("VGG16.24")[1]["texts"]  # the last stage: layers 24 to 29
    each = layers[24]["params"]
    assert layers[26]["params"] == layers[28]["params"] == each
    assert last_conv == ["Conv2d 512, 3, padding=1", f"{3 * each:,} params (3 × {each:,})"]
    unrolled, _ = svg_of(spec, unroll=True)
    assert unrolled.clusters == []
    assert len(unrolled.nodes) == len(layers) + 2


@needs_dot
def test_single_node_repetition_gets_a_badge(specs_dir):
    spec = specs_dir / "resnet18.net"
    layers = report_of(spec)["ResNet18"]["layers"]
    drawn, _ = svg_of(spec)
    texts = drawn.by_id("ResNet18.4")[1]["texts"]
    each = layers[4]["params"]
    assert texts == ["BasicBlock planes=64 ×2", f"{2 * each:,} params (2 × {each:,})"]
    assert not drawn.has_id("ResNet18.5")
    # the value `layer1` (the second block's result) leaves the node drawn for both blocks,
    # named, since `layer2` reads it
    name, _ = drawn.by_id("ResNet18.4")
    (e,) = drawn.out_of(name)
    assert drawn.nodes[e["dst"]]["id"] == "ResNet18.6"
    assert e["texts"] == ["layer1", shape_of(layers[5]["outputs"][0])]
    # within a binding, no name
    name, _ = drawn.by_id("ResNet18.0")
    assert [e["texts"] for e in drawn.out_of(name)] == [[shape_of(layers[0]["outputs"][0])]]


@needs_dot
def test_depth_expands_blocks_into_clusters(specs_dir):
    spec = specs_dir / "resnet18.net"
    result = check_file(str(spec)).result
    net = next(n for n in result.networks if n.name == "ResNet18")
    drawn, source = svg_of(spec, depth=1)
    assert len(drawn.clusters) == 7  # layer1 (x2, drawn once), 3 DownBlocks, 3 BasicBlocks
    for k, node in enumerate(net.nodes):
        if node.block is None or k == 5:  # layer1's second block is the first one's repetition
            continue
        title = drawn.by_id(f"ResNet18.{k}")[1]["texts"]
        assert title[1].startswith(node.block.name + " planes=")
        sub = node.block
        for j, inner in enumerate(sub.nodes):
            name, drawn_node = drawn.by_id(f"ResNet18.{k}.{j}")
            assert inner.kind.label(inner.args, sub.dim) in drawn_node["texts"]
            for e in drawn.into(name):  # inside a block too, edges carry the inferred shapes
                shapes = {sub.show(v.tensor) for v in [*inner.inputs]}
                assert e["texts"][-1] in shapes
        # the block's input reaches two layers inside: conv1 and the shortcut, which is
        # `add` itself in a BasicBlock and the downsample conv in a DownBlock
        entered = sorted(drawn.nodes[e["dst"]]["id"] for e in drawn.edges
                         if drawn.nodes[e["dst"]]["id"].startswith(f"ResNet18.{k}.")
                         and not drawn.nodes[e["src"]]["id"].startswith(f"ResNet18.{k}."))
        if node.block.name == "BasicBlock":
            shortcut = next(j for j, n in enumerate(sub.nodes) if n.kind.name == "add")
        else:
            shortcut = next(j for j, n in enumerate(sub.nodes) if n.alias == "downsample")
        want = sorted([f"ResNet18.{k}.0", f"ResNet18.{k}.{shortcut}"])
        assert entered == want
    # cluster membership, from the DOT text: every inner node sits in its block's cluster
    clusters = _dot_clusters(source)
    ids = dict(re.findall(r'^\s*(n\d+) \[.*\bid="([^"]+)"', source, re.M))
    for members in clusters.values():
        prefixes = {ids[m].rsplit(".", 1)[0] for m in members if ids[m].count(".") == 2}
        assert len(prefixes) <= 1


def _dot_clusters(source: str) -> dict[str, list[str]]:
    """cluster name -> the nodes declared directly inside it."""
    stack: list[str] = []
    out: dict[str, list[str]] = {}
    for line in source.splitlines():
        m = re.match(r"\s*subgraph (cluster_\d+) \{", line)
        if m:
            stack.append(m.group(1))
            out[m.group(1)] = []
            continue
        if line.strip() == "}" and stack:
            stack.pop()
            continue
        m = re.match(r"\s*(n\d+) \[", line)
        if m and stack:
            out[stack[-1]].append(m.group(1))
    return out


NESTED = """
network Inner(width) {
    input x: float[batch, width]
    y = x -> Linear(width) -> ReLU
    output y
}
network Mid(width) {
    input x: float[batch, width]
    y = x -> Inner(width) -> Inner(width) as second
    output y
}
network Top {
    input x: float[batch, 8]
    y = x -> Mid(8) -> Linear(2)
    output y
}
"""


@needs_dot
def test_depth_counts_levels(tmp_path):
    spec = tmp_path / "nested.net"
    spec.write_text(NESTED)
    flat, _ = svg_of(spec)
    assert flat.clusters == []
    assert flat.by_id("Top.0")[1]["texts"] == ["Mid width=8", "144 params"]
    one, _ = svg_of(spec, depth=1)
    assert len(one.clusters) == 1
    assert one.by_id("Top.0.1")[1]["texts"] == ["second", "Inner width=8", "72 params"]
    two, _ = svg_of(spec, depth=2)
    assert len(two.clusters) == 3
    assert two.by_id("Top.0.1")[1]["texts"] == ["second", "Inner width=8", "72 params"]  # its title
    assert two.by_id("Top.0.1.0")[1]["texts"] == ["Linear 8", "72 params"]
    name, _ = two.by_id("Top.1")
    (e,) = two.into(name)
    assert two.nodes[e["src"]]["id"] == "Top.0.1.1" and e["texts"] == ["[batch, 8]"]


# -- errors ----------------------------------------------------------------------------------------

@needs_dot
def test_a_spec_with_errors_still_draws(specs_dir, run_cli, tmp_path):
    spec = specs_dir / "oops.net"
    drawn, _ = svg_of(spec)
    loaded = check_file(str(spec))
    (error,) = loaded.result.reporter.errors
    name, lstm = drawn.by_id("Oops.1")
    assert lstm["texts"][0] == "LSTM 128"
    assert " ".join(lstm["texts"][1:]) == error.message
    assert lstm["g"].find(f"{SVG}path").get("fill") == "#fde0e0"
    assert drawn.by_id("Oops.2")[1]["texts"] == ["Linear", "not inferred"]
    assert drawn.by_id("Oops.0")[1]["texts"] == ["Embedding 1000, 64", "64,000 params"]
    (e,) = drawn.into(name)
    assert e["texts"] == ["float32[batch, seq, 64]"]

    out = tmp_path / "oops.svg"
    r = run_cli("diagram", spec, "-o", out)
    assert r.returncode == 1
    assert "error[layout]" in r.stderr and r.stdout == f"wrote {out}: Oops\n"
    assert out.exists() and MARKER in out.read_text()


BAD = """network Bad(hidden=16, note="<B>&'</FONT>") {
    input x: float[batch, 8]
    a = x -> Linear(hidden) : [batch, 17] -> ReLU
    output a, zz
}
"""


@needs_dot
def test_errors_on_no_node_are_listed_and_text_is_escaped(tmp_path):
    """An error that belongs to no layer (an assertion, an output) is listed under the title;
    text from the spec reaches the picture as text, never as markup."""
    spec = tmp_path / "bad.net"
    spec.write_text(BAD)
    result = check_file(str(spec)).result
    assert sorted(d.code for d in result.reporter.errors) == ["assert", "unknown-name"]
    drawn, _ = svg_of(spec)
    graph = drawn.root.find(f"{SVG}g")
    title = [_text(t) for t in graph.findall(f"{SVG}text")]
    assert title[0] == "Bad(hidden=16, note=\"<B>&'</FONT>\")"
    joined = " ".join(" ".join(title).split())  # long lines wrap
    assert "line 3: error[assert]: dim 1 of the stage's result is 16, which is not 17" in joined
    assert "line 4: error[unknown-name]: no value named `zz`" in joined
    assert drawn.by_id("Bad.0")[1]["texts"] == ["Linear 16", "144 params"]  # drawn as inferred


REPEAT_FAILS = """network Rep {
    input x: float[batch, 3, 7, 7]
    y = x -> Conv2d(8, 3) * 4
    output y
}
"""


@needs_dot
def test_the_repetition_that_fails_is_the_one_marked(tmp_path):
    """Four repetitions share one span; the error is drawn on the fourth, which failed."""
    spec = tmp_path / "rep.net"
    spec.write_text(REPEAT_FAILS)
    (error,) = check_file(str(spec)).result.reporter.errors
    drawn, _ = svg_of(spec)
    for k in range(3):
        assert drawn.by_id(f"Rep.{k}")[1]["g"].find(f"{SVG}path").get("fill") == "#dce7f7"
    name, failed = drawn.by_id("Rep.3")
    assert failed["g"].find(f"{SVG}path").get("fill") == "#fde0e0"
    assert " ".join(failed["texts"][1:]) == error.message
    (e,) = drawn.into(name)
    assert e["texts"] == ["[batch, 8, 1, 1]"]  # 7 -> 5 -> 3 -> 1, and a 3x3 kernel no longer fits


TWO_ROOTS = """network A {
    input x: float[batch, 4]
    y = x -> Linear(2)
    output y, nope
}
network B {
    input x: float[batch, 4]
    y = x -> Linear(3)
    output y
}
"""


@needs_dot
def test_several_networks_side_by_side(tmp_path):
    spec = tmp_path / "two.net"
    spec.write_text(TWO_ROOTS)
    drawn, _ = svg_of(spec)
    assert sorted(c[0] for c in drawn.clusters) == ["A", "B"]
    a = next(c for c in drawn.clusters if c[0] == "A")
    b = next(c for c in drawn.clusters if c[0] == "B")
    assert "line 4: error[unknown-name]: no value named `nope`" in a and not any("error" in t for t in b)
    assert drawn.by_id("A.0")[1]["texts"] == ["Linear 2", "10 params"]
    assert drawn.by_id("B.0")[1]["texts"] == ["Linear 3", "15 params"]
    only_b, _ = svg_of(spec, network="B")
    assert only_b.clusters == [] and not only_b.has_id("A.0")


# -- determinism and goldens -----------------------------------------------------------------------

@pytest.mark.parametrize("golden", sorted(GOLDENS))
def test_dot_golden(golden):
    spec, opts = GOLDENS[golden]
    source, _ = diagram_source(str(SPECS / spec), **opts)
    path = GOLDEN / f"{golden}.dot"
    if os.environ.get("NETSPEC_UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(source, encoding="utf-8")
    assert path.exists(), f"no golden {path.name}: run with NETSPEC_UPDATE_GOLDEN=1"
    assert source == path.read_text(encoding="utf-8")


def test_dot_is_byte_identical_across_runs(tmp_path):
    """Two fresh interpreters with different hash seeds write the same bytes."""
    outs = []
    for seed in ("1", "2"):
        out = tmp_path / f"r{seed}.dot"
        env = dict(os.environ, PYTHONHASHSEED=seed, PYTHONPATH=str(ROOT))
        r = subprocess.run([sys.executable, "-m", "netspec", "diagram", str(SPECS / "resnet18.net"),
                            "-o", str(out), "--depth", "1"], env=env, cwd=ROOT, capture_output=True, timeout=120)
        assert r.returncode == 0, r.stderr
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    assert outs[0].startswith(f"// {MARKER}".encode())
    ids = re.findall(rb"^\s*(n\d+) \[", outs[0], re.M)
    assert ids == [f"n{i}".encode() for i in range(len(ids))]


def test_attributes_are_sorted():
    source, _ = diagram_source(str(SPECS / "lenet.net"))
    for attrs in re.findall(r"^\s*n\d+ \[label=<.*?> (.*)\]$", source, re.M):
        names = re.findall(r'(\w+)=(?:"[^"]*"|\S+)', attrs)
        assert names == sorted(names)


# -- the command -------------------------------------------------------------------------------------

@needs_dot
@pytest.mark.parametrize("suffix,magic", [(".svg", b"<?xml"), (".png", b"\x89PNG"), (".pdf", b"%PDF"),
                                          (".dot", b"// " + MARKER.encode())])
def test_formats_from_the_suffix(run_cli, tmp_path, suffix, magic):
    out = tmp_path / f"lenet{suffix}"
    r = run_cli("diagram", SPECS / "lenet.net", "-o", out)
    assert r.returncode == 0, r.stderr
    assert out.read_bytes().startswith(magic)
    assert r.stdout == f"wrote {out}: LeNet\n" and r.stderr == ""


def test_rankdir(tmp_path):
    source, _ = diagram_source(str(SPECS / "lenet.net"), rankdir="LR")
    assert "rankdir=LR" in source


def test_missing_dot_writes_the_dot_file(run_cli, tmp_path):
    """Without Graphviz's `dot` on PATH, the .dot is written and one line says how to install it."""
    out = tmp_path / "lenet.svg"
    env = dict(os.environ, PATH=str(tmp_path / "empty"), PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-m", "netspec", "diagram", str(SPECS / "lenet.net"), "-o", str(out)],
                       env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    assert not out.exists()
    dot = tmp_path / "lenet.dot"
    source, _ = diagram_source(str(SPECS / "lenet.net"))
    assert dot.read_text() == source
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "apt-get install graphviz" in lines[0] and "brew install graphviz" in lines[0]
    assert str(dot) in lines[0]


@needs_dot
def test_never_overwrites_a_file_netspec_did_not_write(run_cli, tmp_path):
    for suffix in (".svg", ".dot", ".png", ".pdf"):
        out = tmp_path / f"mine{suffix}"
        out.write_bytes(b"precious")
        r = run_cli("diagram", SPECS / "lenet.net", "-o", out)
        assert r.returncode == 2 and "--force" in r.stderr and len(r.stderr.strip().splitlines()) == 1
        assert out.read_bytes() == b"precious"
        r = run_cli("diagram", SPECS / "lenet.net", "-o", out, "--force")
        assert r.returncode == 0
        assert out.read_bytes() != b"precious"
        # a file netspec wrote is replaced without --force, except a PDF (no room for a marker)
        r = run_cli("diagram", SPECS / "charrnn.net", "-o", out)
        assert r.returncode == (2 if suffix == ".pdf" else 0), (suffix, r.stderr)


def test_usage_errors(run_cli, tmp_path):
    r = run_cli("diagram", SPECS / "resnet18.net", "-o", tmp_path / "x.svg", "--network", "ResNet")
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        "netspec: error: --network ResNet: " + str(SPECS / "resnet18.net")
        + " has no network `ResNet` (available: BasicBlock, DownBlock, ResNet18)"]
    empty = tmp_path / "empty.net"
    empty.write_text("# nothing here\n")
    r = run_cli("diagram", empty, "-o", tmp_path / "x.svg")
    assert r.returncode == 2 and "defines no network" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = run_cli("diagram", SPECS / "lenet.net", "-o", tmp_path / "x.jpg")
    assert r.returncode == 2 and ".svg" in r.stderr
    r = run_cli("diagram", SPECS / "lenet.net", "-o", tmp_path / "x.svg", "--depth", "-1")
    assert r.returncode == 2
    r = run_cli("diagram", SPECS / "lenet.net", "-o", tmp_path / "x.svg", "--set", "nope=3")
    assert r.returncode == 2
    assert not any(tmp_path.glob("x.*"))


def test_a_spec_that_does_not_parse_draws_nothing(run_cli, tmp_path):
    spec = tmp_path / "broken.net"
    spec.write_text("network Broken {\n    input x: float[batch\n}\n")
    out = tmp_path / "broken.svg"
    r = run_cli("diagram", spec, "-o", out)
    assert r.returncode == 1
    assert "error[syntax]" in r.stderr and "nothing drawn" in r.stderr
    assert not out.exists()


def test_set_changes_the_drawing(run_cli, tmp_path):
    out = tmp_path / "c.dot"
    r = run_cli("diagram", SPECS / "lstm_state.net", "-o", out, "--set", "hidden=32")
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    assert "LSTM 32, layers=2, dropout=0.1" in text and "[seq, batch, 32]" in text
    assert "LSTM 128" not in text


def test_check_does_not_import_graphviz():
    code = ("import sys; from netspec.cli import main; main(['check', 'specs/lenet.net']); "
            "print('graphviz' in sys.modules, 'netspec.diagram' in sys.modules, file=sys.stderr)")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert r.stderr.strip() == "False False"


def test_docs_show_every_spec():
    page = (ROOT / "docs" / "diagrams.md").read_text()
    for spec in sorted(SPECS.glob("*.net")):
        svg = ROOT / "docs" / "diagrams" / f"{spec.stem}.svg"
        assert f"diagrams/{spec.stem}.svg" in page
        assert svg.exists() and MARKER in svg.read_text()[:4096]


@needs_dot
def test_docs_pictures_are_current():
    """The committed SVGs say what netspec draws now (text for text; the geometry may
    differ between Graphviz versions): run scripts/make_diagrams.py after a change."""
    import importlib.util

    from netspec.cli import _parser

    loader = importlib.util.spec_from_file_location("make_diagrams", ROOT / "scripts" / "make_diagrams.py")
    script = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(script)
    drawings = {p.stem: (p.name, []) for p in SPECS.glob("*.net")}
    drawings.update({name: (spec, extra) for name, spec, extra, _ in script.EXTRA})
    assert sorted(p.stem for p in (ROOT / "docs" / "diagrams").glob("*.svg")) == sorted(drawings)
    for name, (spec, extra) in sorted(drawings.items()):
        svg = ROOT / "docs" / "diagrams" / f"{name}.svg"
        a = _parser().parse_args(["diagram", spec, "-o", "x.svg", *extra])
        fresh, _ = svg_of(SPECS / spec, depth=a.depth, unroll=a.unroll, rankdir=a.rankdir)
        committed = Drawn(svg.read_bytes())
        assert sorted(n["texts"] for n in committed.nodes.values()) == \
            sorted(n["texts"] for n in fresh.nodes.values()), svg.name
        assert sorted(e["texts"] for e in committed.edges) == sorted(e["texts"] for e in fresh.edges), svg.name


def test_build_is_usable_on_its_own():
    """The library entry point: networks in, a graphviz.Digraph out."""
    loaded = check_file(str(SPECS / "charrnn.net"))
    g = build(loaded.result.networks, loaded.result)
    assert g.source == diagram_source(str(SPECS / "charrnn.net"))[0].replace(
        "// Generated by netspec from charrnn.net\n", "// Generated by netspec\n")
