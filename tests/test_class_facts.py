"""Facts a built class tests in its constructor, so that a class constructed with any values
gives exactly the shapes its network states, or refuses the values with a ValueError that
names the fact; each tried against torch at real values (the expected shapes come from a
translation written here by hand, never from netspec).

* `reshape(batch, 12 // s, s)` with a free parameter: as many elements exactly where `s`
  divides 12;
* a bare free parameter as a size (`Linear(h)`, `reshape(batch, h, -1)`, `Unflatten(1, (h,
  -1))`), in a root network and in one used as a stage: at least 1, and the divisibility;
* a long size in a message: spelled out over the parameters, not by its name in the code.
"""

from __future__ import annotations

import itertools
import re

import pytest
from test_generic_blocks import POOL_CEIL

torch = pytest.importorskip("torch")
nn = torch.nn
import oracle  # noqa: E402

from netspec import api  # noqa: E402

_net = oracle._net


def _stated(spec, name: str, env: dict) -> list[int]:
    (_, out), = spec.network(name).outputs
    return oracle.shape_of(out.tensor, env)


def _construct(spec, name: str, values: dict):
    """The class built directly with ``values``, or the ValueError it raises (which must
    name a fact and the values received)."""
    try:
        return spec.module_class(name)(**values)
    except ValueError as e:
        assert "needs" in str(e) and "received" in str(e), str(e)
        return e


FLOOR = _net("N(s)", "input x: float[batch, 12]", "y = x -> reshape(batch, 12 // s, s) -> flatten(1) -> Linear(4)",
             "output y")


@pytest.mark.parametrize("s", range(-1, 15))
def test_a_floor_division_in_a_reshape_is_tested(s):
    """`reshape(batch, 12 // s, s)` of `[batch, 12]` holds 12 elements exactly where s
    divides 12: no `unproven` warning, the class tests `12 % s` (and s >= 1), and at the
    values it takes, torch's shape is the stated one."""
    spec = api.loads(FLOOR)
    assert not spec.diagnostics, spec.diagnostics
    x = torch.randn(2, 12)
    try:
        ref = nn.Sequential(nn.Flatten(), nn.LazyLinear(4))
        want = list(ref(x.reshape(2, 12 // s, s)).shape) if s >= 1 else None
    except RuntimeError:
        want = None
    got = _construct(spec, "N", {"s": s})
    if want is None:
        assert isinstance(got, ValueError), s
        assert "needs 1 <= s" in str(got) if s < 1 else "needs 12 divisible by s; received s=" in str(got)
        assert not api.loads(FLOOR.replace("N(s)", f"N(s={s})"), strict=False).ok  # as check --set refuses it
    else:
        assert not isinstance(got, ValueError), (s, got)
        assert list(got(x).shape) == want == _stated(spec, "N", {"batch": 2, "s": s})


FREE = {
    "root-linear": (_net("N(h)", "input x: float[batch, 12]", "y = x -> Linear(h)", "output y"), "N",
                    lambda h: nn.Linear(12, h)),
    "root-reshape": (_net("N(h)", "input x: float[batch, 12]", "y = x -> reshape(batch, h, -1) -> Linear(h)",
                          "output y"), "N",
                     lambda h: nn.Sequential(nn.Unflatten(1, (h, 12 // h)), nn.Linear(12 // h, h))),
    "block-linear": (_net("Blk(h)", "input x: float[batch, 12]", "y = x -> Linear(h)", "output y")
                     + _net("Top", "input x: float[batch, 12]", "y = x -> Blk(h=3)", "output y"), "Blk",
                     lambda h: nn.Linear(12, h)),
    "block-reshape": (_net("Blk(h)", "input x: float[batch, 12]", "y = x -> reshape(batch, h, -1) -> Linear(h)",
                           "output y")
                      + _net("Top", "input x: float[batch, 12]", "y = x -> Blk(h=4)", "output y"), "Blk",
                      lambda h: nn.Sequential(nn.Unflatten(1, (h, 12 // h)), nn.Linear(12 // h, h))),
    "root-unflatten": (_net("N(h)", "input x: float[batch, 12]", "y = x -> Unflatten(1, (h, -1)) -> Linear(h)",
                            "output y"), "N",
                       lambda h: nn.Sequential(nn.Unflatten(1, (h, 12 // h)), nn.Linear(12 // h, h))),
    "block-unflatten": (_net("Blk(h)", "input x: float[batch, 12]", "y = x -> Unflatten(1, (h, -1)) -> Linear(h)",
                             "output y")
                        + _net("Top", "input x: float[batch, 12]", "y = x -> Blk(h=6)", "output y"), "Blk",
                        lambda h: nn.Sequential(nn.Unflatten(1, (h, 12 // h)), nn.Linear(12 // h, h))),
}


@pytest.mark.parametrize("case", sorted(FREE))
def test_a_bare_free_parameter_as_a_size_is_tested(case):
    """A free `h` as a layer's size or a reshape's: the class refuses h < 1 (torch would
    build an empty layer) and, for the reshape, h not dividing 12 (torch refuses it when
    it runs); at every other value it gives torch's shape, which is the stated one."""
    text, name, make = FREE[case]
    spec = api.loads(text)
    assert spec.ok and not spec.diagnostics, spec.diagnostics
    x = torch.randn(2, 12)
    for h in range(-1, 14):
        got = _construct(spec, name, {"h": h})
        if h < 1 or (not case.endswith("linear") and 12 % h):
            assert isinstance(got, ValueError), (case, h)
            continue
        assert not isinstance(got, ValueError), (case, h, got)
        want = list(make(h)(x).shape)
        assert list(got(x).shape) == want == _stated(spec, name, {"batch": 2, "h": h}), (case, h)


def test_a_long_size_in_a_message_is_spelled_out():
    """The rows a ceil-mode pool leaves is long: the code computes it as a named size
    (`rows1`), and the class's message spells it out over the parameters and input sizes,
    which the reader knows. That expression is torch's: evaluated at values torch takes,
    it is the rows torch's pool leaves."""
    spec = api.loads(POOL_CEIL)
    code = spec.code
    assert "rows1 = " in code  # the computation keeps its name
    messages = re.findall(r'f"Down: MaxPool2d \(line 4 of <string>\) needs 1 <= (.*); received cols=\{cols\}, k', code)
    messages += re.findall(r'f"Down: MaxPool2d \(line 4 of <string>\) needs 1 <= (.*); received k=\{k\}, rows', code)
    assert len(messages) == 2 and not any(re.search(r"\b(rows|cols|size)\d", m) for m in messages), messages
    cols_said, rows_said = messages
    for k, s, rows in itertools.product((2, 3, 4), (1, 2, 3), (1, 2, 5, 9)):
        try:
            pooled = nn.MaxPool2d(k, stride=s, padding=1, ceil_mode=True)(torch.zeros(1, 1, rows, rows))
        except RuntimeError:
            continue
        env = {"k": k, "s": s, "rows": rows, "cols": rows}
        assert eval(rows_said, {"__builtins__": {}}, env) == pooled.shape[2], (k, s, rows)  # noqa: S307
        assert eval(cols_said, {"__builtins__": {}}, env) == pooled.shape[3], (k, s, rows)  # noqa: S307
    with pytest.raises(RuntimeError):  # no rows left: torch refuses the pool
        nn.MaxPool2d(4, stride=1, padding=1, ceil_mode=True)(torch.zeros(1, 3, 1, 4))
    with pytest.raises(ValueError, match=r"needs 1 <= \(-k \* .*rows.*; received k=4, rows=1, s=1"):
        spec.module_class("Down")(k=4, s=1, c=3, rows=1, cols=4)


@pytest.mark.parametrize("head", ["N(h)", "N(h=4)"])
def test_a_size_multiplied_into_a_minus_one_reshape_is_at_least_one(head):
    """`reshape(batch, h - 1, -1)`: the -1 is `12 // (h - 1)`, computed by the class for a
    free `h` and for one with a value alike; the class refuses h - 1 < 1 (torch cannot
    infer the -1 beside a 0) and h - 1 not dividing 12, and at every other value gives
    torch's shape, the stated one."""
    spec = api.loads(_net(head, "input x: float[batch, 12]", "y = x -> reshape(batch, h - 1, -1) -> flatten(1)",
                          "output y"))
    assert spec.ok and not spec.diagnostics, spec.diagnostics
    x = torch.randn(2, 12)
    for h in range(-1, 15):
        got = _construct(spec, "N", {"h": h})
        if h - 1 < 1 or 12 % (h - 1):
            assert isinstance(got, ValueError), h
            assert "needs 2 <= h" in str(got) if h - 1 < 1 else "divisible" in str(got), (h, got)
            continue
        assert not isinstance(got, ValueError), (h, got)
        want = list(x.reshape(2, h - 1, -1).flatten(1).shape)
        assert list(got(x).shape) == want == _stated(spec, "N", {"batch": 2, "h": h}), h


NARROW_END = _net("N(s=2)", "input x: float[batch, 8]",
                  "y = x -> AvgPool1d(3, stride=s) -> narrow(1, -3, 3)", "output y")


@pytest.mark.parametrize("s", range(1, 7))
def test_a_start_from_the_end_is_tested(s):
    """`narrow(1, -3, 3)` after a pool whose length depends on `s`: the start counted from
    the end exists only where the pooled length is at least 3. The class refuses exactly
    the values at which torch's narrow raises, and at the others gives torch's shape."""
    spec = api.loads(NARROW_END)
    assert not spec.diagnostics, spec.diagnostics
    x = torch.randn(2, 8)
    try:
        want = list(nn.AvgPool1d(3, stride=s)(x).narrow(1, -3, 3).shape)
    except (RuntimeError, IndexError):
        want = None
    got = _construct(spec, "N", {"s": s})
    if want is None:
        assert isinstance(got, ValueError), f"s={s}: the class took a value torch's narrow refuses"
    else:
        assert not isinstance(got, ValueError), got
        assert list(got(x).shape) == want
