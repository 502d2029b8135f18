"""The language server's check resumed after a network's unchanged bindings (netspec.resume):
every version of a document, edited anywhere, checks to what a fresh check of its text
gives (diagnostics, JSON and table), and the bindings before an edit are not checked again.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from checked import everything

import netspec.instances as instances
from netspec import codes
from netspec.checker import check_text
from netspec.ide.analysis import Analyzer
from netspec.report import network_json, network_table

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.net"))

TEXT = """network Block(c) {
    input x: float[batch, seq, c]
    y = x -> Linear(c) -> ReLU
    output y
}

network Main(width=16, depth=2) {
    input x: float[batch, seq, width]
    a = x -> Linear(width)
    b = a -> Conv2d(3)
    unused = a -> ReLU
    q, k = a -> chunk(2, dim=-1)
    c = a -> ReLU(inplace=true)
    d = c + a
    e = d -> (Linear(width) -> ReLU) * depth
    f = cat(e, q, dim=-1) -> Linear(width)
    z = f -> Widget
    h = f -> LayerNorm(width)
    output h, k
}

network Uses {
    input x: float[batch, seq, 8]
    a = x -> Linear(8)
    b = a -> Block(8)
    c = b -> ReLU
    output c
}
"""


def _outputs(result) -> tuple:
    """What a check gives: diagnostics, each network's JSON and table, and the names of its
    values (what generated code and hover read; a value kept from an earlier check that a
    later binding named would show there)."""
    return ([d.to_json() for d in result.reporter.items],
            [(network_json(n), network_table(n), [[v.name for v in node.outputs] for node in n.nodes])
             for n in result.networks])


def _same_as_fresh(an: Analyzer, text: str) -> None:
    assert _outputs(an.analyze(text).result) == _outputs(check_text(text, "m.net"))


def _in(text: str, network: str, old: str, new: str) -> str:
    """``old`` replaced by ``new`` once, in network ``network``."""
    at = text.index(old, text.index(f"network {network}"))
    return text[:at] + new + text[at + len(old):]


EDITS = [  # (network, old, new), applied one after another
    ("Main", "LayerNorm(width)", "LayerNorm(17)"),  # the last binding: a shape error
    ("Main", "LayerNorm(17)", "LayerNorm(width)"),  # and back
    ("Main", "d = c + a", "d = c + b"),  # in the middle: b failed
    ("Main", "f = cat(e, q", "f = cat(e, k"),  # below it
    ("Main", "x -> Linear(width)", "x -> Linear(8)"),  # the first binding: every size below
    ("Main", "LayerNorm(width)", "LayerNorm(8)"),  # the last one
    ("Main", "    c = a -> ReLU(inplace=true)", "    cc = a -> ReLU(inplace=true)"),  # a name used below
    ("Main", "cc = a", "c = a"),
    ("Main", "Linear(8)", "Linear(width)"),
    ("Main", "output h, k", "output h, q"),  # the output only
    ("Main", "output h, q", "output h, k"),
    ("Main", "float[batch, seq, width]", "float[batch, 5, width]"),  # the input
    ("Main", "float[batch, 5, width]", "float[batch, seq, width]"),
    ("Main", "width=16", "width=12"),  # a parameter's default
    ("Main", "LayerNorm(8)", "LayerNorm(12)"),
    ("Main", "    unused = a -> ReLU\n", ""),  # a binding deleted
    ("Main", "    h = f", "    g = f -> ReLU\n    h = f"),  # and one inserted
    ("Main", "LayerNorm(12)", "LayerNorm(12)  # netspec: allow[" + str(codes.SHAPE) + "]"),  # an allow comment
    ("Main", "LayerNorm(12)", "LayerNorm(13)"),
    ("Block", "Linear(c) -> ReLU", "Linear(c) -> ReLU -> ReLU"),  # more layers before Main is checked
    ("Main", "LayerNorm(13)", "LayerNorm(12)"),
    ("Uses", "c = b -> ReLU", "c = b -> GELU"),  # after the use of a network
    ("Uses", "a = x -> Linear(8)", "a = x -> Linear(7)"),  # before it
    ("Main", "LayerNorm(12)", "LayerNorm(14)"),
]


def test_every_version_checks_as_a_fresh_check():
    """Edits at the top, in the middle and at the end of a network, of a name used below,
    of its inputs, parameters and outputs, bindings deleted and inserted, an allow comment,
    an edit in a network checked before it and in one that uses a network: each version's
    diagnostics, JSON and table are a fresh check's, and some versions were resumed."""
    text = TEXT
    an = Analyzer("m.net")
    _same_as_fresh(an, text)
    for network, old, new in EDITS:
        text = _in(text, network, old, new)
        _same_as_fresh(an, text)
    assert an.resume.resumed > 0


def test_a_network_defined_later_is_no_longer_an_unknown_layer():
    """`Widget` is an unknown layer in `Main` until a network of that name is added below."""
    an = Analyzer("m.net")
    text = TEXT
    _same_as_fresh(an, text)
    text = _in(text, "Main", "LayerNorm(width)", "LayerNorm(9)")
    _same_as_fresh(an, text)
    text += "\nnetwork Widget {\n    input x: float[batch, seq, 16]\n    output x\n}\n"
    _same_as_fresh(an, text)
    assert "unknown layer or network `Widget`" not in str(check_text(text, "m.net").reporter.items)


def test_typing_a_stage_character_by_character():
    """A stage typed one character at a time at the end of a binding, then deleted: most
    versions do not parse, or name an unknown layer, or a wrong size."""
    an = Analyzer("m.net")
    text = TEXT
    _same_as_fresh(an, text)
    at = text.index("LayerNorm(width)") + len("LayerNorm(width)")
    typed = " -> Linear(32)"
    for i in range(1, len(typed) + 1):
        _same_as_fresh(an, text[:at] + typed[:i] + text[at:])
    for i in range(len(typed) - 1, -1, -1):
        _same_as_fresh(an, text[:at] + typed[:i] + text[at:])


def _bindings(n: int) -> str:
    lines = ["network Bindings(width=16) {", "    input x: float[batch, seq, width]", "    h0 = x"]
    lines += [f"    h{i} = h{i - 1} -> " + ("Linear(width)", "LayerNorm(width)", "ReLU")[i % 3] for i in range(1, n + 1)]
    return "\n".join(lines + [f"    output h{n}", "}", ""])


def test_the_bindings_before_the_edit_are_not_checked_again():
    text = _bindings(30)
    an = Analyzer("m.net")
    an.analyze(text)
    last = text.replace("h30 = h29 -> Linear(width)", "h30 = h29 -> Linear(7)")
    an.analyze(last)  # the first version that changed there: its state is kept
    assert an.resume.resumed == 0
    _same_as_fresh(an, text)
    assert an.resume.resumed == 30  # h0 to h29
    _same_as_fresh(an, last.replace("h14 = h13 -> ReLU", "h14 = h13 -> GELU"))  # above the kept state
    assert an.resume.resumed == 30
    _same_as_fresh(an, text.replace("h14 = h13 -> ReLU", "h14 = h13 -> SiLU"))
    assert an.resume.resumed == 30 + 14


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_size_edits_in_every_spec(path):
    """Each spec, a digit changed in one line after another from the bottom up and from the
    top down (each edit undone before the next): every version as a fresh check."""
    text = path.read_text()
    an = Analyzer("m.net")
    _same_as_fresh(an, text)
    lines = text.split("\n")
    places = [i for i, line in enumerate(lines) if "=" in line and any(ch.isdigit() for ch in line)]
    places = places[::max(1, len(places) // 6)]
    for i in [*reversed(places), *places]:
        line = lines[i]
        j = max(k for k, ch in enumerate(line) if ch.isdigit())
        edited = lines[:i] + [line[:j] + ("7" if line[j] != "7" else "3") + line[j + 1:]] + lines[i + 1:]
        _same_as_fresh(an, "\n".join(edited))
        _same_as_fresh(an, text)


def test_a_binding_that_uses_a_network_is_checked_again():
    """`b` uses `Block`: an edit in `Block` changes `b` though `Uses` did not change."""
    an = Analyzer("m.net")
    text = TEXT
    for edited in [_in(text, "Uses", "c = b -> ReLU", "c = b -> GELU"), text,
                   _in(text, "Block", "Linear(c)", "Linear(5)")]:
        _same_as_fresh(an, edited)


def test_the_layers_counted_before_a_network(monkeypatch):
    """A layer added to a network checked before `Main` brings `Main` past the layer limit
    at a binding after the kept state."""
    from netspec import limits

    monkeypatch.setattr(limits, "MAX_LAYERS", 12)
    text = """network Block(c) {
    input x: float[batch, c]
    y = x -> (Linear(c) -> ReLU) * 2
    output y
}

network Main {
    input x: float[batch, 8]
    h1 = x -> ReLU
    h2 = h1 -> ReLU
    h3 = h2 -> ReLU
    output h3
}

network Uses {
    input x: float[batch, 8]
    y = x -> Block(8)
    output y
}
"""
    an = Analyzer("m.net")
    for edited in [text, text.replace("h3 = h2 -> ReLU", "h3 = h2 -> GELU"), text,
                   text.replace("ReLU) * 2", "ReLU) * 5")]:
        _same_as_fresh(an, edited)
    assert [d.span.line for d in check_text(text, "m.net").reporter.items] == []
    assert [(d.span.line, d.message) for d in check_text(edited, "m.net").reporter.items][:1] == [
        (11, "the spec has more than 12 layers and ops")]


def _chain(n: int) -> str:
    stages = "".join(f"\n        -> {('Linear(width)', 'LayerNorm(width)', 'ReLU')[i % 3]}" for i in range(n))
    return f"network Chain(width=16) {{\n    input x: float[batch, seq, width]\n    y = x{stages}\n    output y\n}}\n"


def test_a_long_chain_resumes_before_the_stage_that_changed():
    """A chain of 31 stages edited at its end: the check resumes inside the chain, before
    the first stage that changed, and every version is a fresh check's: a wrong size, an
    unknown layer, the chain cut short there (its value then is the binding's, named) and
    grown again, an edit above the kept stage, the name of the binding changed."""
    text = _chain(31)
    last = text.rindex("-> ") + 3  # the 31st stage: Linear(width)
    an = Analyzer("m.net")
    _same_as_fresh(an, text)
    _same_as_fresh(an, text[:last] + "Linear(7)" + text[last + len("Linear(width)"):])
    assert an.resume.stages == 0  # the first version changed there: the state is kept
    _same_as_fresh(an, text)
    assert an.resume.stages == 30
    _same_as_fresh(an, text[:last] + "Qinear(width)" + text[last + len("Linear(width)"):])
    assert an.resume.stages == 2 * 30
    cut = text[:text.rindex("\n        -> ")] + "\n" + text[text.rindex("\n    output"):]  # a blank line left
    _same_as_fresh(an, cut)  # 30 stages: the value kept is the binding's, named `y`
    assert an.resume.stages == 3 * 30
    _same_as_fresh(an, text)  # and the 31st back: that value is the 30th stage's again
    assert an.resume.stages == 4 * 30
    _same_as_fresh(an, text.replace("-> LayerNorm(width)", "-> LayerNorm(9)", 1))  # above: from the start
    assert an.resume.stages == 4 * 30
    _same_as_fresh(an, text.replace("    y = x", "    z = x").replace("output y", "output z"))
    _same_as_fresh(an, text)


def test_a_chain_that_uses_a_network_is_not_resumed_inside():
    """A network used in the chain before the stage that changed: the check runs the
    binding again (the network's check may have changed), and the versions are fresh checks'."""
    text = TEXT.replace("e = d -> (Linear(width) -> ReLU) * depth", "e = d -> Block(width) -> ReLU -> ReLU")
    an = Analyzer("m.net")
    for edited in [text, text.replace("-> ReLU -> ReLU", "-> ReLU -> GELU"), text]:
        _same_as_fresh(an, edited)
    assert an.resume.stages == 0
    for edited in [_in(text, "Block", "Linear(c) -> ReLU", "Linear(c) -> GELU"),
                   _in(text, "Block", "Linear(c) -> ReLU", "Linear(c) -> GELU").replace("-> ReLU -> ReLU", "-> ReLU -> SiLU")]:
        _same_as_fresh(an, edited)


def test_a_network_used_as_a_stage_resumes_its_own_check():
    """`Block2` is used by `Uses2`: its own check (over free symbols) resumes after its
    unchanged bindings too; no longer used (checked as a root, its parameter free) and used
    again, each version is a fresh check's."""
    text = """network Block2(c) {
    input x: float[batch, seq, c]
    a = x -> Linear(c)
    b = a -> ReLU
    y = b -> Linear(c)
    output y
}

network Uses2 {
    input x: float[batch, seq, 8]
    y = x -> Block2(8)
    output y
}
"""
    an = Analyzer("m.net")
    _same_as_fresh(an, text)
    _same_as_fresh(an, text.replace("y = b -> Linear(c)", "y = b -> Linear(7)"))
    _same_as_fresh(an, text)
    assert an.resume.resumed == 2  # `a` and `b` of Block2
    unused = text.replace("y = x -> Block2(8)", "y = x -> ReLU")
    for edited in [unused, unused.replace("y = b -> Linear(c)", "y = b -> Linear(7)"), text, unused, text]:
        _same_as_fresh(an, edited)


def test_statements_split_from_the_last_split_over_edits_that_move_them():
    """A body split from the split of the version before it (netspec.fastparse.resplit_body):
    edits that merge two statements (a newline deleted), split one, open and close a string
    and a comment, at the very start and the very end of the text, after unicode: every
    version is a fresh check's, and its body was split from the last one's, its statements
    parsed apart (a wrong split would not parse so, or not as a fresh check)."""
    text = "# é ünïcode\n" + _bindings(40).replace("h20 = h19 -> ReLU", 'h20 = h19 -> ReLU as "act"') + _chain(40)
    edits = [
        ("\n    h31 = h30", "    h31 = h30"),  # two bindings on one line: not a statement
        ("    h31 = h30", "\n    h31 = h30"),
        ("h12 = h11 -> ", "h12 = h11\n    q = h11 -> "),  # a binding split in two
        ("\n    q = h11 -> ", " -> "),
        ('as "act"', 'as "act'),  # a string left open (a syntax error: the network parsed whole)
        ('as "act', 'as "act"'),
        ("h24 = h23 -> Linear(width)", "h24 = h23 -> Linear(width)  # h25 = h24"),  # a comment
        ("  # h25 = h24", ""),
        ("# é ünïcode\n", ""),  # the very start
        ("network Bindings", "# é\nnetwork Bindings"),
        ("    output y\n}\n", "    output y\n}\n# the end\n"),  # the very end
        ("-> Linear(width)\n    output y", "-> Linear(7)\n    output y"),  # the chain's last stage
        ("-> Linear(7)\n    output y", "-> Linear(width)\n    output y"),
        ("h39 = h38 -> Linear(width)", "h39 = h38 -> Linéar(width)"),  # unicode in a name: parsed whole
        ("h39 = h38 -> Linéar(width)", "h39 = h38 -> Linear(width)"),
    ]
    an = Analyzer("m.net")
    _same_as_fresh(an, text)
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
        resplit, whole = an.parser.bodies_resplit, an.parser.whole_parsed
        _same_as_fresh(an, text)
        if new == "# é\nnetwork Bindings":  # a comment added before the network: only it parsed
            continue
        assert an.parser.bodies_resplit > resplit
        assert an.parser.whole_parsed == whole or 'as "act\n' in text or "Linéar" in text, (old, new)


BLOCKS = """network Inner(c) {
    input x: float[batch, c, h, w]
    y = x -> Conv2d(c, 3, padding=1) -> ReLU
    output y
}

network Block(c, k=3) {
    input x: float[batch, c, h, w]
    out = x -> Inner(c) -> Conv2d(c, k, padding=k // 2) -> BatchNorm2d(c)
    y = add(out, x) -> ReLU
    output y
}

network Main {
    input image: float[batch, 8, 32, 32]
    a = image -> Block(8) -> Block(8) -> Block(8)
    b = a -> MaxPool2d(2) -> Block(8) -> Block(8)
    c = b -> Block(8) -> Block(8)
    output c
}
"""

BLOCK_EDITS = [  # (network, old, new), applied one after another
    ("Block", "BatchNorm2d(c)", "BatchNorm2d(5)"),  # the body: an error at every use
    ("Block", "BatchNorm2d(5)", "BatchNorm2d(c)"),  # and back
    ("Inner", "padding=1", "padding=0"),  # a network used inside the one used: other shapes
    ("Inner", "padding=0", "padding=1"),
    ("Block", "network Block(c, k=3)", "network Block(d, k=3)"),  # a parameter renamed: `c` unknown
    ("Block", "float[batch, c, h, w]", "float[batch, d, h, w]"),
    ("Block", "Inner(c) -> Conv2d(c, k, padding=k // 2) -> BatchNorm2d(c)",
     "Inner(d) -> Conv2d(d, k, padding=k // 2) -> BatchNorm2d(d)"),
    ("Main", "b = a -> MaxPool2d(2) -> Block(8) -> Block(8)", "b = a -> MaxPool2d(2) -> Block(8, k=5) -> Block(8)"),
    ("Main", "Block(8, k=5)", "Block(8, k=1)"),  # a use's argument changed
    ("Main", "c = b -> Block(8) -> Block(8)", "c = b -> Block(8) -> Block(8) -> Block(8)"),  # a use added
    ("Main", "c = b -> Block(8) -> Block(8) -> Block(8)", "c = b -> Block(8)"),  # two removed
    ("Main", "MaxPool2d(2)", "MaxPool2d(4)"),  # the uses after it: another shape
    ("Main", "float[batch, 8, 32, 32]", "float[batch, 8, 32, 30]"),  # the input: every use
    ("Main", "image -> Block(8)", "image -> Block(7)"),  # a use that does not check, before clean ones
    ("Main", "image -> Block(7)", "image -> Block(8)"),
    ("Main", "network Main {", "network Main(h=2) {"),  # a parameter named as the networks' symbol
    ("Main", "network Main(h=2) {", "network Main {"),
    ("Block", "y = add(out, x) -> ReLU", "y = add(out, x) -> ReLU(inplace=true)"),
    ("Inner", "-> ReLU\n", "-> GELU\n"),
]


def _same_as_fresh_without_copies(an: Analyzer, text: str, monkeypatch) -> None:
    """The language server's check (uses copied from the last version) is a fresh check's,
    made without copying any use (netspec.instances)."""
    got = everything(an.analyze(text).result)
    monkeypatch.setattr(instances, "REUSE", False)
    fresh = everything(check_text(text, "m.net"))
    monkeypatch.setattr(instances, "REUSE", True)
    assert got == fresh


def test_edits_of_networks_used_as_stages(monkeypatch):
    """Edits in a network used at many uses, in one used inside it, and at the uses: every
    version as a fresh check that copies nothing, and uses copied from the last version."""
    text = BLOCKS
    an = Analyzer("m.net")
    _same_as_fresh_without_copies(an, text, monkeypatch)
    for network, old, new in BLOCK_EDITS:
        text = _in(text, network, old, new)
        _same_as_fresh_without_copies(an, text, monkeypatch)
    checked = an.instances.checked
    _same_as_fresh_without_copies(an, _in(text, "Main", "output c", "output  c"), monkeypatch)
    assert an.instances.checked == checked  # an edit that changes no use: every use copied


def test_a_symbol_named_as_a_parameter_elsewhere(monkeypatch):
    """`n` is a size (at least 1) until another network names a parameter `n`: then the
    uses of `Head`, unchanged, no longer prove that `narrow` stays within dim 0."""
    text = """network Head {
    input x: float[n, 8]
    y = x -> narrow(0, 0, 1) -> Linear(8)
    output y
}

network Main {
    input x: float[n, 8]
    a = x -> Head
    b = x -> Head
    output a, b
}

network Spare(m=1) {
    input x: float[batch, m]
    output x
}
"""
    an = Analyzer("m.net")
    for edited in [text, text.replace("Spare(m=1)", "Spare(m=1, n=2)"), text]:
        _same_as_fresh_without_copies(an, edited, monkeypatch)
    assert an.instances.reused > 0


REFUSED = """network Above(w=8) {
    input y: float[batch, w]
    h = y -> Linear(w)
    output h
}

network N(n=4) {
    input x: float[batch, 8 ** (n - 4)]
    a = x -> Linear(8)
    b = x -> LayerNorm(3)
    c = x -> LayerNorm(4) -> Linear(2)
    d = c -> Linear(2)
    output a, b, d
}

network Below {
    input z: float[batch, 4]
    e = z -> Linear(4)
    output e
}
"""

REFUSED_EDITS = [  # (network, old, new): `x`'s dim 1 is refused while `n` is not 4 or more
    ("N", "n=4", "n=3"),  # 8 ** -1: not an integer size
    ("N", "LayerNorm(4)", "LayerNorm(5)"),  # a binding below the input that reads the dim
    ("N", "LayerNorm(5)", "LayerNorm(6)"),  # the same binding again: resumed before it
    ("N", "Linear(2)\n    output", "Linear(3)\n    output"),  # the last one
    ("Below", "Linear(4)", "Linear(5)"),  # a network below
    ("Above", "Linear(w)", "Linear(9)"),  # and one above
    ("N", "LayerNorm(6)", "LayerNorm(7)"),
    ("N", "n=3", "n=4"),  # the dim is 1 again
    ("N", "LayerNorm(7)", "LayerNorm(8)"),
    ("N", "n=4", "n=3"),  # refused again: the check kept at n=3
    ("N", "LayerNorm(8)", "LayerNorm(9)"),
    ("N", "n=3", "n=4.5"),  # a parameter that is no integer: refused too
    ("N", "LayerNorm(3)", "LayerNorm(2)"),
    ("N", "LayerNorm(9)", "LayerNorm(1)"),
    ("N", "n=4.5", "n=5"),  # 8
    ("N", "LayerNorm(1)", "LayerNorm(8)"),
    ("N", "8 ** (n - 4)]", "8 ** 0.5]"),  # a refused dim written in the input
    ("N", "LayerNorm(8)", "LayerNorm(7)"),
    ("N", "8 ** 0.5]", "8 ** (n - 4)]"),
]


def test_a_refused_input_dim_as_a_fresh_check():
    """What states a size a refused input dim left unknown (`x's dim 1`) is a consequence of
    the error on the dim, dropped in a fresh check: a check resumed after the input (the
    input not declared again) drops it too. Every version, the dim refused and accepted by
    turns, edited below the input and in the networks around it, is a fresh check's."""
    text = REFUSED
    an = Analyzer("m.net")
    _same_as_fresh(an, text)
    resumed = []
    for network, old, new in REFUSED_EDITS:
        text = _in(text, network, old, new)
        before = an.resume.resumed
        _same_as_fresh(an, text)
        resumed.append(an.resume.resumed > before)
        if "n=3" in text or "n=4.5" in text:
            assert not any("x's dim" in d.message for d in an.last.result.reporter.items)
    assert sum(resumed) >= 5, resumed
