"""netspec.ide in-process: the network-by-network parse against the whole-text parse, the
diagnostics' ranges and related places, hover, definition, outline and completion, and
positions in the three encodings. (The protocol itself: tests/test_lsp_protocol.py.)

Expected ranges are counted from each test's own text; expected shapes by hand.
"""

from __future__ import annotations

import base64
import json
import random
from pathlib import Path

import pytest

from netspec.checker import check_text
from netspec.ide.analysis import Analyzer, NetworkParser, diagnostics, network_starts
from netspec.ide.complete import complete
from netspec.ide.hover import hover
from netspec.ide.text import UTF8, UTF16, UTF32, Document, Position, Text
from netspec.kinds import REGISTRY

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.net"))
BROKEN = sorted((ROOT / "tests" / "broken").glob("*.net"))
CORPUS = ROOT / "tests" / "snapshots" / "fuzz_corpus.jsonl"


def _corpus() -> list[str]:
    cases = [json.loads(line) for line in CORPUS.read_text().splitlines() if line.strip()]
    return [base64.b64decode(c["data"]).decode("utf-8", "replace") for c in cases]


def _same_check(text: str, parser: NetworkParser) -> None:
    whole = check_text(text, "m.net")
    pieces = check_text(text, "m.net", parser=parser)
    assert [d.to_json() for d in pieces.reporter.items] == [d.to_json() for d in whole.reporter.items]
    assert (whole.module is None) == (pieces.module is None)
    if whole.module is not None:
        assert pieces.module.networks == whole.module.networks
        assert pieces.module.allowed == whole.module.allowed


def _edits(text: str, rng: random.Random, n: int) -> list[str]:
    """``n`` successive edits of a text: a character deleted, doubled or replaced, a line
    duplicated or dropped, a number changed."""
    out = []
    for _ in range(n):
        i = rng.randrange(len(text) + 1)
        op = rng.randrange(5)
        if op == 0:
            text = text[:i] + text[i + 1:]
        elif op == 1:
            text = text[:i] + text[i:i + 1] + text[i:]
        elif op == 2:
            text = text[:i] + rng.choice("()[]{},:->#\"x1 \n") + text[i + 1:]
        else:
            lines = text.split("\n")
            k = rng.randrange(len(lines))
            lines[k:k + 1] = [] if op == 3 else [lines[k], lines[k]]
            text = "\n".join(lines)
        out.append(text)
    return out


@pytest.mark.parametrize("path", SPECS + BROKEN, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_network_parser_checks_as_parse_does(path):
    """The same networks and the same diagnostics as the whole-text parse, through a run of
    edits that reuses the networks that did not change."""
    text = path.read_bytes().decode("utf-8", "replace")
    parser = NetworkParser()
    _same_check(text, parser)
    for edited in _edits(text, random.Random(path.name), 12):
        _same_check(edited, parser)


def test_network_parser_over_the_fuzz_corpus():
    parser = NetworkParser()
    for text in _corpus():
        _same_check(text, parser)


def test_network_parser_parses_only_what_changed():
    text = (ROOT / "specs" / "resnet18.net").read_text()
    an = Analyzer("resnet18.net")
    an.analyze(text)
    pieces = len(network_starts(text))
    assert an.parser.parsed == pieces
    an.analyze(text.replace("num_classes=1000", "num_classes=10"))
    assert an.parser.parsed == pieces + 1  # the last network only


def test_an_edit_in_a_statement_parses_that_statement_only():
    """Inside the network that changed, the header and the statements whose text and place
    did not change are kept; an edit that adds a line moves (and parses again) the ones
    below it only."""
    text = (ROOT / "specs" / "resnet18.net").read_text()
    an = Analyzer("resnet18.net")
    an.analyze(text)
    before = an.parser.parts_parsed
    assert before > 20
    at = text.rindex("Linear(")
    an.analyze(text[:at] + text[at:].replace("Linear(", "Linear( ", 1))
    assert an.parser.parts_parsed == before + 1
    lines = text.splitlines(keepends=True)
    last_network = max(i for i, line in enumerate(lines) if line.startswith("network"))
    below = sum(1 for line in lines[last_network + 3:] if "=" in line or line.lstrip().startswith(("input", "output")))
    before = an.parser.parts_parsed
    edited = "".join(lines[:last_network + 2] + ["\n"] + lines[last_network + 2:])
    _same_check(edited, NetworkParser())
    an.analyze(edited)
    assert before < an.parser.parts_parsed <= before + below + 1


def test_an_edit_in_a_header_keeps_the_body():
    """A parameter's default changed: the header is parsed again, the body (same text, same
    place) is kept whole, and the networks are the whole-text parse's."""
    text = (ROOT / "specs" / "resnet18.net").read_text()
    an = Analyzer("m.net")
    an.analyze(text)
    before, split = an.parser.parts_parsed, an.parser.bodies_split
    edited = text.replace("num_classes=1000", "num_classes=10")
    assert edited != text
    an.analyze(edited)
    assert (an.parser.parts_parsed, an.parser.bodies_split) == (before + 1, split)
    an.analyze(text)
    assert (an.parser.parts_parsed, an.parser.bodies_split) == (before + 1, split)
    _same_check(edited, an.parser)
    # a statement on the line of the `{` moves with the header: parsed again where it stands
    one_line = "network N(w=4) { input x: float[w]\n    y = x -> Linear(w)\n    output y\n}\n"
    split = an.parser.bodies_split
    for version in [one_line, one_line.replace("w=4", "w=16"), one_line.replace("w=4", "w=8"), one_line]:
        assert an.analyze(version).result.module.networks == check_text(version, "m.net").module.networks
    assert an.parser.bodies_split == split + 3  # the last one kept: its `{` where the one before had it


def _outputs(result) -> tuple:
    from netspec.report import network_json, network_table

    return ([d.to_json() for d in result.reporter.items],
            [(network_json(n), network_table(n)) for n in result.networks])


@pytest.mark.parametrize("path", SPECS + BROKEN[::4], ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_the_memo_kept_between_versions_changes_nothing(path):
    """The language server keeps the reuse memo from one version of a document to the next:
    every version's diagnostics, JSON and table are a fresh check's."""
    text = path.read_bytes().decode("utf-8", "replace")
    an = Analyzer("m.net")
    layers = 0
    for edited in [text, *_edits(text, random.Random(path.name + "memo"), 8), text]:
        fresh = check_text(edited, "m.net")
        assert _outputs(an.analyze(edited).result) == _outputs(fresh)
        layers += sum(len(n.nodes) for n in fresh.networks)
    assert any(an.memo.values()) or not layers, "nothing was kept"


def test_network_starts_skip_brackets_strings_and_comments():
    text = 'network A {\n}\n# network B\nnetwork C(k=(\nnetwork)) {\n}\nnetwork D {\n  x = "\nnetwork"\n}\n'
    starts = network_starts(text)
    assert [text[s:s + 9] for s in starts] == ["network A", "network C", "network D"]


# -- diagnostics -------------------------------------------------------------------------------------

SHAPE_BUG = """\
network Net {
    input x: float[batch, 3, 32, 32]
    y = x -> Conv2d(8, 3) : [batch, 9, 30, 30]
    output y
}
"""


def test_diagnostic_range_notes_and_help():
    a = Analyzer("/tmp/m.net").analyze(SHAPE_BUG)
    (d,) = diagnostics(a)
    nine = SHAPE_BUG.index("9,")
    assert (d.start, d.end, d.severity, d.code) == (nine, nine + 1, 1, "assert")
    assert d.message.splitlines()[0] == "dim 1 of the stage's result is 8, which is not 9"
    assert "note: dim 1 is 8, set by Conv2d (line 3)" in d.message.splitlines()
    assert d.help  # the help stays apart: the server shows it as a hint
    line3 = SHAPE_BUG.index("y = x")
    line2 = SHAPE_BUG.index("input x")
    places = {r.message: (r.start, r.end) for r in d.related}
    assert places["dim 1 is 8, set by Conv2d (line 3)"] == (line3, SHAPE_BUG.index("\n", line3))
    assert places["x is float32[batch, 3, 32, 32] (line 2)"] == (line2, SHAPE_BUG.index("\n", line2))


def test_diagnostics_of_a_text_that_does_not_parse():
    text = "network A {\n    input x: float[4]\n    y = x -> ReLU(\n}\n"
    (d,) = [d for d in diagnostics(Analyzer("m.net").analyze(text)) if d.severity == 1]
    assert d.code == "syntax"
    assert text.index("\n", text.index("ReLU(")) <= d.start <= text.index("}") + 1


# -- hover, definition, outline ------------------------------------------------------------------------

SPEC = """\
network Block(width, k=3) {
    input x: float[batch, width, n]
    h = x -> Conv1d(width, k, padding=1) as conv
    output h
}

network Top {
    input img: float[batch, 4, 10]
    feats = img -> Block(width=4) -> Flatten()
    output feats
}
"""


@pytest.fixture(scope="module")
def index():
    return Analyzer("m.net").analyze(SPEC).index


def _hover(index, needle: str, delta: int = 0) -> str:
    got = hover(index, SPEC.index(needle) + delta)
    assert got is not None, needle
    return got[0]


def test_hover_layer_value_and_dims(index):
    text = _hover(index, "Conv1d")
    assert "float32[batch, width, n]" in text  # over the free symbols, k = 3 and padding 1 keep n
    assert "at its uses" in text.lower() and "float32[batch, 4, 10]" in text  # at Top's use
    assert "3 * width * width + width parameters" in text  # weight [width, width, 3], bias [width]
    assert f"{4 * 4 * 3 + 4} parameters" in text  # at the use, width = 4
    flat = _hover(index, "Flatten")
    assert "float32[batch, 40]" in flat  # 4 * 10
    assert "float32[batch, 40]" in _hover(index, "output feats", 7)
    dim = _hover(index, "width, n]", 0)
    assert dim.startswith("dim 1 of input `x`") and "parameter width" in dim
    n = _hover(index, "n]")
    assert "symbolic dim n" in n and "dim 2 of input `x`" in n and "`10`" in n  # 10 at Top's use


def test_hover_parameter_and_argument(index):
    k = _hover(index, "k=3")
    assert "parameter k = 3" in k
    pad = _hover(index, "padding=1")
    assert "Conv1d(padding=...)" in pad and "default `0`" in pad


def test_definitions(index):
    def target(needle: str, delta: int = 0) -> str:
        found = index.definition(SPEC.index(needle) + delta)
        assert found is not None, needle
        return SPEC[found[0]:found[1]] + "@" + str(found[0])

    assert target("output h", 7) == f"h@{SPEC.index('h = x')}"
    assert target("x -> Conv1d") == f"x@{SPEC.index('x: float')}"
    assert target("width, k, padding") == f"width@{SPEC.index('width, k=3')}"
    assert target("k, padding") == f"k@{SPEC.index('k=3')}"
    assert target("Block(width=4)") == f"Block@{SPEC.index('Block(width, k')}"
    assert target("width=4") == f"width@{SPEC.index('width, k=3')}"  # a network's parameter by name
    assert target("n]") == f"n@{SPEC.index('n]')}"


def test_outline(index):
    outline = index.outline()
    assert [(i.name, i.kind) for i in outline] == [("Block", "network"), ("Top", "network")]
    block, top = outline
    assert [(c.name, c.kind) for c in block.children] == [("width", "param"), ("k", "param"), ("x", "input"),
                                                          ("h", "binding")]
    assert [(c.name, c.detail) for c in top.children] == [("img", "float32[batch, 4, 10]"),
                                                          ("feats", "float32[batch, 40]")]
    assert top.detail == f"{4 * 4 * 3 + 4} parameters"
    assert SPEC[top.name_start:top.name_end] == "Top"


# -- completion --------------------------------------------------------------------------------------

def _labels(text: str) -> list[str]:
    items, start = complete(text, len(text))
    return [i.label for i in items]


def test_completion_contexts():
    head = "network A(k=2) {\n    input x: float[batch, 8]\n"
    assert {"Conv2d", "Linear", "ReLU", "add"} <= set(_labels(head + "    y = x -> Con"))
    assert "A" in _labels(head + "    y = x -> ")  # the document's networks
    assert _labels(head + "    y = x -> Linear(")[:2] == ["out_features=", "bias="]  # in_features is inferred
    assert "x" in _labels(head + "    y = x -> Linear(")
    assert set(_labels(head + "    input z: float[")) == {"k", "batch"}
    assert "float32" in _labels(head + "    input z: ")
    assert _labels(head + "    ")[:3] == ["network", "input", "output"]
    assert _labels("network B(") == []
    assert "k" in _labels("# a comment first\n" + head + "    y = x -> Linear(")  # the parameter
    block = SPEC[:SPEC.index("Block(width=4)") + len("Block(")]
    assert _labels(block)[:3] == ["width=", "k=", "x="]  # a network's parameters, then its inputs
    assert _labels(head + "    # -> Con") == [] and _labels(head + '    y = "Con') == []


def test_completion_range_and_documentation():
    text = "network A {\n    input x: float[4]\n    y = x -> Conv2"
    items, start = complete(text, len(text))
    assert start == text.index("Conv2")
    conv = next(i for i in items if i.label == "Conv2d")
    assert conv.documentation == REGISTRY["Conv2d"].summary and "convolution" in conv.documentation


def test_every_kind_has_a_documentation_line():
    from netspec.kinds.summaries import SUMMARIES

    assert set(SUMMARIES) == set(REGISTRY)
    assert all(line.strip() for line in SUMMARIES.values())


def test_summaries_are_what_the_script_writes():
    pytest.importorskip("torch")
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_kind_summaries", ROOT / "scripts" / "make_kind_summaries.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert (ROOT / "netspec" / "kinds" / "summaries.py").read_text() == script.generate()


# -- positions ---------------------------------------------------------------------------------------

def test_positions_in_three_encodings():
    text = Text("a\U0001F600b\r\nc\rd\né")
    b = text.text.index("b")
    assert text.position(b, UTF16) == Position(0, 3)
    assert text.position(b, UTF8) == Position(0, 5)
    assert text.position(b, UTF32) == Position(0, 2)
    assert text.position(text.text.index("d")) == Position(2, 0)  # a lone \r ends a line
    assert text.position(len(text.text), UTF8) == Position(3, 2)
    for enc in (UTF8, UTF16, UTF32):
        for off in range(len(text.text) + 1):
            if text.text[off - 1:off + 1] != "\r\n":
                assert text.offset_at(text.position(off, enc), enc) == off
    assert text.offset_at(Position(0, 2), UTF16) == 1  # inside the surrogate pair: its start


def test_document_changes():
    doc = Document("u", "ab\ncd\n")
    doc.change(Position(1, 0), Position(1, 1), "XY")
    doc.change(Position(0, 2), Position(1, 0), "")
    assert doc.source == "abXYd\n"
    doc.change(None, None, "new")
    assert doc.source == "new"


def test_the_latency_benchmark_runs():
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_lsp import measure

    got = measure((ROOT / "specs" / "resnet18.net").read_text(), runs=1)
    assert set(got) == {"a digit", "undone", "a name", "whole check"} and all(w > 0 and c >= 0 for w, c in got.values())


def test_argument_documentation():
    text = "network A {\n    input x: float[1, 3, 8, 8]\n    y = x -> Conv2d(4, "
    items, _ = complete(text, len(text))
    stride = next(i for i in items if i.label == "stride=")
    assert stride.documentation.startswith("Stride of the convolution.")  # torch's Args: line
    assert "a positive integer or a tuple of them; default 1" == stride.detail


@pytest.mark.parametrize("path", SPECS + BROKEN[:12], ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_place_answers_without_error(path):
    """Hover, definition and completion at every offset of a spec, and the outline, never
    raise (an answer may be empty); a definition is a name of the same text."""
    text = path.read_bytes().decode("utf-8", "replace")
    analysis = Analyzer(path.name).analyze(text)
    if analysis.result.module is None:
        return
    index = analysis.index
    index.outline()
    for offset in range(0, len(text) + 1, 3):
        hover(index, offset)
        found = index.definition(offset)
        if found is not None:
            assert text[found[0]:found[1]].isidentifier()
        complete(text, offset)


def test_the_fuzz_corpus_answers_without_error():
    rng = random.Random(19)
    for text in _corpus():
        analysis = Analyzer("m.net").analyze(text)
        diagnostics(analysis)
        for offset in rng.sample(range(len(text) + 1), min(10, len(text) + 1)):
            complete(text, offset)
            if analysis.result.module is not None:
                hover(analysis.index, offset)
                analysis.index.definition(offset)
        if analysis.result.module is not None:
            analysis.index.outline()


def test_lsp_without_pygls_is_a_usage_error():
    import subprocess
    import sys

    code = "import sys; sys.modules['pygls'] = None; from netspec.cli import main; sys.exit(main(['lsp']))"
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 2 and r.stdout == ""
    assert "needs pygls" in r.stderr and "[lsp]'" in r.stderr and "pip install" in r.stderr


def test_the_memo_kept_drops_results_that_name_a_place():
    """A kept result may only hold placeholder origins: one that names a place in the text
    (its line may move with the next edit) is dropped, counts and placeholders are kept."""
    from netspec import memo
    from netspec.diagnostics import Span
    from netspec.types import Origin

    here = Origin("input x", Span("m.net", 2, 5, 2, 6))
    ours = memo.Applied(None, 0, (("float32", (4,), (memo.Slot(0, 0),), None),), ("output",), {})
    placed = memo.Applied(None, 0, (("float32", (4, 3), (memo.SELF, here), None),), ("output",), {})
    applied = {"a": 3, "b": ours, "c": placed}
    memo.keep_for_next_check(applied)
    assert applied == {"a": 3, "b": ours}
