"""A fact a stage needs that the check proves with the parameters' values only (an index
into a dim a parameter sizes, channels a parameter sizes divided into groups or heads):
`check --set` refuses exactly the values the built class refuses in its constructor, with
a ValueError naming the parameter and the fact, and the values both accept run in torch
with the shapes check --set states.

For each spec, random values of its parameters are tried through both doors; every expected
shape comes from torch.
"""

from __future__ import annotations

import random

import pytest

torch = pytest.importorskip("torch")
import oracle  # noqa: E402

from netspec import api  # noqa: E402
from netspec.build import generate  # noqa: E402


def _net(head: str, *body: str) -> str:
    return oracle._net(head, *body)


# name -> (spec, its input shapes as functions of the parameters and the symbols, the
# parameters that take random values, the fact the class states when it refuses)
SPECS = {
    "select": (_net("Sel(width=4)", "input x: float[batch, 8]", "y = x -> Linear(width) -> select(1, 3)",
                    "output y"), ["float[batch, 8]"], ("width",), "needs 4 <= width"),
    "select-from-end": (_net("SelEnd(width=6)", "input x: float[batch, 8]",
                             "y = x -> Linear(width) -> select(-1, -5)", "output y"),
                        ["float[batch, 8]"], ("width",), "needs 5 <= width"),
    "select-two-params": (_net("SelTwo(a=3, b=3)", "input x: float[batch, 8]", "p = x -> Linear(a)",
                               "q = x -> Linear(b)", "y = cat(p, q, dim=1) -> select(1, 5)", "output y"),
                          ["float[batch, 8]"], ("a", "b"), "needs 6 <= a + b"),
    "conv-groups": (_net("Groups(width=4)", "input x: float[batch, 3, 9]",
                         "y = x -> Conv1d(width, 3) -> Conv1d(6, 1, groups=2)", "output y"),
                    ["float[batch, 3, 9]"], ("width",), "needs width divisible by 2"),
    "group-norm": (_net("GN(width=6)", "input x: float[batch, 3, 5, 5]",
                        "y = x -> Conv2d(width, 3) -> GroupNorm(3)", "output y"),
                   ["float[batch, 3, 5, 5]"], ("width",), "needs width divisible by 3"),
    "attention-heads": (_net("Att(width=6)", "input x: float[batch, seq, 5]",
                             "y = x -> Linear(width) -> MultiheadAttention(3, batch_first=true, need_weights=false)",
                             "output y"),
                        ["float[batch, seq, 5]"], ("width",), "needs width divisible by 3"),
    "block-use": ("network Pick(k=4) {\n    input x: float[batch, 8]\n"
                  "    y = x -> Linear(k) -> select(1, 2)\n    output y\n}\n"
                  + _net("UsesPick(size=4)", "input x: float[batch, 8]", "y = x -> Pick(k=size)", "output y"),
                  ["float[batch, 8]"], ("size",), "needs 3 <= size"),
    # the heads a parameter of the caller gives a block: the fact is over both parameters
    "block-heads": ("network Att(heads=2) {\n    input x: float[batch, seq, d]\n"
                    "    y = x -> MultiheadAttention(heads, batch_first=true, need_weights=false)\n    output y\n}\n"
                    + _net("Top(width=8, h=4)", "input x: float[batch, seq, 5]", "y = x -> Linear(width) -> Att(heads=h)",
                           "output y"),
                    ["float[batch, seq, 5]"], ("width",), "needs width divisible by h"),
    # torch's value checks over sizes a parameter gives (issue 14): its own message otherwise
    "lstm-proj": (_net("Proj(ch=6)", "input x: float[batch, seq, 4]",
                       "y = x -> LSTM(ch, proj_size=5, batch_first=true)", "output y"),
                  ["float[batch, seq, 4]"], ("ch",), "needs 6 <= ch"),
    "instance-norm": (_net("Inst(ch=6)", "input x: float[batch, 3, 7]",
                           "y = x -> Linear(ch) -> Conv1d(3, 4) -> InstanceNorm1d(affine=true)", "output y"),
                      ["float[batch, 3, 7]"], ("ch",), "<= ch"),
    "reflection-pad": (_net("Refl(width=6)", "input x: float[batch, 3, 4]",
                            "y = x -> Linear(width) -> ReflectionPad1d((4, 2))", "output y"),
                       ["float[batch, 3, 4]"], ("width",), "needs 5 <= width"),
    "replication-pad": (_net("Repl(width=6)", "input x: float[batch, 3, 4]",
                             "y = x -> Linear(width) -> ReplicationPad1d((-6, 2))", "output y"),
                        ["float[batch, 3, 4]"], ("width",), "needs 5 <= width"),
    "circular-pad": (_net("Circ(width=6)", "input x: float[batch, 3, 4]",
                          'y = x -> Linear(width) -> pad((6, 0), mode="circular")', "output y"),
                     ["float[batch, 3, 4]"], ("width",), "needs 6 <= width"),
    "zero-pad-crop": (_net("Crop(width=6)", "input x: float[batch, 3, 4]",
                           "y = x -> Linear(width) -> ZeroPad1d((-3, -2))", "output y"),
                      ["float[batch, 3, 4]"], ("width",), "<= width"),
    "conv-output": (_net("ConvOut(width=6)", "input x: float[batch, 3, 4]",
                         "y = x -> Linear(width) -> Conv1d(4, 5)", "output y"),
                    ["float[batch, 3, 4]"], ("width",), "needs 5 <= width"),
    "conv-output-strided": (_net("ConvStride(width=12)", "input x: float[batch, 3, 4]",
                                 "y = x -> Linear(width) -> Conv1d(4, 5, stride=2, dilation=2)", "output y"),
                            ["float[batch, 3, 4]"], ("width",), "needs 5 <= (width + 1) // 2"),
    "embedding-padding-idx": (_net("Emb(vocab=8)", "input x: int64[batch, seq]",
                                   "y = x -> Embedding(vocab, 4, padding_idx=5)", "output y"),
                              ["int64[batch, seq]"], ("vocab",), "needs 6 <= vocab"),
    "upsample-output": (_net("Up(width=8)", "input x: float[batch, 3, 4]",
                             "y = x -> Linear(width) -> Upsample(scale_factor=0.25)", "output y"),
                        ["float[batch, 3, 4]"], ("width",), "needs 1 <= "),
}


def _shape(text: str, env: dict) -> list[int]:
    dims = text[text.index("[") + 1:-1].split(", ")
    return [env[d] if d in env else int(d) for d in dims]


def _try(name: str, values: dict[str, int]) -> None:
    text, inputs, _, fact = SPECS[name]
    checked = api.loads(text, values, strict=False)
    spec = api.loads(text)
    info = spec.class_info()
    cls = spec.module_class()
    kwargs = {info.params[p]: v for p, v in values.items()}
    if not checked.ok:
        with pytest.raises(ValueError) as e:
            cls(**kwargs)
        assert fact in str(e.value) and all(f"{info.params[p]}=" in str(e.value) for p in values), str(e.value)
        return
    model = cls(**kwargs).eval()  # accepted by both: it runs with the shapes check --set states
    env = {"batch": 2, "seq": 3}
    xs = [torch.randint(0, 2, _shape(t, env)) if t.startswith("int") else torch.randn(*_shape(t, env))
          for t in inputs]  # ids 0 and 1: rows of any table
    with torch.no_grad():
        y = model(*xs)
    y = y[0] if isinstance(y, tuple) else y
    (_, out), = checked.network().outputs[:1]
    assert list(y.shape) == oracle.shape_of(out.tensor, {**env, **values}), (name, values)


@pytest.mark.parametrize("name", list(SPECS))
def test_check_set_refuses_exactly_what_the_class_refuses(name):
    _, _, params, _ = SPECS[name]
    rng = random.Random(name)
    seen = set()
    for _ in range(12):
        values = {p: rng.randint(1, 12) for p in params}
        _try(name, values)
        seen.add(api.loads(SPECS[name][0], values, strict=False).ok)
    assert seen == {True, False}, f"{name}: the values tried never reach both answers"


def test_the_class_states_the_fact_over_its_parameters_only():
    """A fact over a size the constructor is not given (an input symbol) fixes the parameter
    instead: the class refuses its other values, and says to rebuild with --set."""
    text = _net("SymWidth(width=4)", "input x: float[batch, d]", "p = x -> Linear(width)",
                "y = cat(p, x, dim=1) -> select(1, 4)", "output y")
    spec = api.loads(text)
    assert spec.ok, spec.diagnostics
    assert spec.class_info().checked == {"width": 4}
    code = generate(spec.result, "sym.net").code
    assert "needs width=4" in code and "needs 5 <= " not in code
