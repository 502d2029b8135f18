"""Hostile input aimed at cost rather than syntax: each spec here once took seconds to
minutes, gigabytes, or ended in a traceback. Each is now refused with a `limit` error (or a
usage error, exit 2, for an option) at the place that passed a bound of netspec/limits.py,
and each case is measured in a fresh process: CPU time and peak RSS, not only its status.

- Symbolic sizes that double: a block concatenating its input with itself used `* 22`
  (a MemoryError after minutes), a `cat` of 100 copies used `* 2200` (a 4,300-digit
  ValueError), 21 bindings squaring a dim (a 25 MB module), twelve dims each a sum of
  twelve symbols flattened, 10,000 symbols flattened: bounded by MAX_TERMS, MAX_DEGREE,
  MAX_MAGNITUDE and MAX_SYMBOLS.
- A size past int64 for every value of its symbols (`2**70 * s`) is an error, and so is a
  tensor of more than 2**63 - 1 elements.
- Uses of networks are bounded by their expansion (MAX_USES) before they are checked.
- Huge numbers never reach float or Python's int-to-text limit; `--dim` validates its
  numbers; diagrams are bounded in nodes and edges and `dot` in time.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import ROOT
from test_hostile_io import ENV, MEASURED

from netspec import limits
from netspec.limits import INT64_MAX, MAX_DEGREE, MAX_SYMBOLS, MAX_TERMS, MAX_USES

CPU_S = 3.0  # each case, a fresh interpreter included (it starts in about 0.3 s)
RSS_MIB = 200


def measure(tmp_path, text: str, *argv: str) -> tuple[dict, list[dict]]:
    """`netspec ARGV FILE` on ``text`` in a fresh process: its measures (exit status, CPU
    seconds, peak RSS in MiB) and, for `check --json`, the diagnostics."""
    path = tmp_path / "hostile.net"
    path.write_text(text)
    args = [a.format(tmp=tmp_path) for a in argv]
    proc = subprocess.run([sys.executable, "-c", MEASURED, args[0], str(path), *args[1:]], cwd=ROOT, env=ENV,
                          capture_output=True, text=True, timeout=300)
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    m = json.loads(proc.stderr.strip().splitlines()[-1])
    assert m["code"] in (0, 1, 2), m
    assert m["cpu"] < CPU_S and m["rss_mib"] < RSS_MIB, m
    diags = json.loads(proc.stdout)["diagnostics"] if "--json" in args else []
    return m, diags


def limit_at(tmp_path, text: str, line: int | None = None, words: str = "") -> dict:
    m, diags = measure(tmp_path, text, "check", "--json")
    assert m["code"] == 1
    limits_found = [d for d in diags if d["code"] == "limit"]
    assert limits_found, [(d["code"], d["message"]) for d in diags]
    d = limits_found[0]
    assert words in d["message"], d["message"]
    if line is not None:
        assert d["line"] == line, d
    return d


def network(name: str, body: str, shape: str = "float[batch, 4, seq]") -> str:
    return f"network {name} {{\n    input x: {shape}\n{body}    output y\n}}\n"


# -- symbolic sizes that double ----------------------------------------------------------------

@pytest.mark.parametrize("times", [18, 22])
def test_a_block_concatenating_itself_used_many_times(tmp_path, times):
    text = (network("B", "    y = cat(x, x, x, dim=2) -> MaxPool1d(2)\n")
            + network("T", f"    y = x -> B * {times}\n"))
    d = limit_at(tmp_path, text, line=8, words=f"more than {MAX_TERMS:,} terms")
    assert d["notes"] and "MaxPool1d" in d["notes"][0]  # where in the block it passed


def test_floors_nested_in_floors(tmp_path):
    """`cat(x, x) -> MaxPool1d(3)` used `* 27`: a size of 27 floors each inside the next
    (found by the cost generator). Its sort key was once text, whose quotes were escaped
    again at each level: exponential in the depth (2 minutes and 1.7 GB)."""
    text = network("B", "    y = cat(x, x, dim=2) -> MaxPool1d(3)\n") + network("T", "    y = x -> B * 27\n")
    m, diags = measure(tmp_path, text, "check", "--json")
    assert m["code"] == 0 and diags == []


def test_a_cat_of_a_hundred_copies_used_2200_times(tmp_path):
    copies = ", ".join(["x"] * 100)
    text = network("B", f"    y = cat({copies}, dim=2)\n") + network("T", "    y = x -> B * 2200\n")
    limit_at(tmp_path, text, line=8)


def test_a_symbolic_size_past_int64_for_every_value(tmp_path):
    text = network("L", "    y = x -> ReLU\n", shape=f"float[batch, {2**70} * s]")
    limit_at(tmp_path, text, line=2, words="beyond int64")
    text = network("L", f"    y = x -> Linear({2**62} * s * 4)\n", shape="float[batch, s]")
    limit_at(tmp_path, text, line=3, words="beyond int64")


def test_a_symbolic_size_past_int64_through_the_api():
    from netspec import api

    spec = api.loads(network("L", "    y = x -> ReLU\n", shape=f"float[batch, {2**70} * s]"), strict=False)
    assert not spec.ok and [d.code for d in spec.diagnostics] == ["limit"]
    with pytest.raises(api.SpecError):
        spec.code  # noqa: B018 - the property raises


def test_bindings_that_square_a_dim(tmp_path):
    body = "    y0 = x -> flatten(1)\n" + "".join(
        f"    y{i + 1} = add(y{i} -> unsqueeze(2), y{i} -> unsqueeze(1)) -> flatten(1)\n" for i in range(21))
    text = network("S", body + "    y = y21\n", shape="float[batch, n]")
    limit_at(tmp_path, text, words=f"degree past {MAX_DEGREE}")
    m, _ = measure(tmp_path, text, "build", "-o", "{tmp}/out.py")
    assert m["code"] == 1 and not (tmp_path / "out.py").exists()


def test_twelve_sums_of_twelve_symbols_flattened(tmp_path):
    dims = ", ".join(" + ".join(f"s{i}_{j}" for j in range(12)) for i in range(12))
    text = network("F", "    y = x -> flatten(0)\n", shape=f"float[{dims}]")
    limit_at(tmp_path, text, line=3, words="terms")


def test_ten_thousand_symbols_flattened(tmp_path):
    dims = ", ".join(f"s{i}" for i in range(10_000))
    text = network("F", "    y = x -> flatten(0)\n", shape=f"float[{dims}]")
    limit_at(tmp_path, text, line=2, words=f"more than {MAX_SYMBOLS:,} symbolic dims")


def test_symbols_up_to_the_limit_are_checked(tmp_path):
    dims = ", ".join(f"s{i}" for i in range(MAX_SYMBOLS))
    m, diags = measure(tmp_path, network("F", "    y = x -> ReLU\n", shape=f"float[{dims}]"), "check", "--json")
    assert m["code"] == 0 and diags == []


# -- uses of networks, bounded before they are checked ------------------------------------------

def nested_uses(levels: int) -> str:
    parts = [network("N0", "    y = x -> Linear(4) -> ReLU\n", "float[batch, 4]")]
    for i in range(1, levels + 1):
        parts.append(network(f"N{i}", f"    y = x -> N{i - 1} -> N{i - 1}\n", "float[batch, 4]"))
    return "".join(parts)


def test_a_block_using_the_one_below_twice_fifteen_deep(tmp_path):
    limit_at(tmp_path, nested_uses(15), words=f"uses networks more than {MAX_USES:,} times")
    m, _ = measure(tmp_path, nested_uses(15), "check")
    assert m["cpu"] < 1.5, m  # refused before checking, not after 10,000 uses


def test_nested_uses_within_the_limit_check(tmp_path):
    m, diags = measure(tmp_path, nested_uses(8), "check", "--json")
    assert m["code"] == 0 and diags == []


# -- huge numbers ------------------------------------------------------------------------------

MAX = str(INT64_MAX)


@pytest.mark.parametrize("argv", [["check", "--costs"], ["check", "--json"], ["check"]])
def test_twenty_sizes_of_int64_max(tmp_path, argv):
    text = network("H", "    y = x -> ReLU\n", shape=f"float[{', '.join([MAX] * 20)}]")
    m, _ = measure(tmp_path, text, *argv)
    assert m["code"] == 1


@pytest.mark.parametrize("argv", [["check"], ["check", "--json"], ["check", "--costs"],
                                  ["build", "-o", "{tmp}/out.py"], ["diagram", "-o", "{tmp}/out.dot"]])
def test_three_hundred_sizes_of_int64_max_flattened(tmp_path, argv):
    text = network("H", "    y = x -> flatten(0)\n", shape=f"float[{', '.join([MAX] * 300)}]")
    m, _ = measure(tmp_path, text, *argv)
    assert m["code"] == 1


def test_the_limit_message_never_prints_a_huge_number(tmp_path):
    text = network("H", "    y = x -> flatten(1)\n", shape=f"float[1, {', '.join([MAX] * 300)}]")
    d = limit_at(tmp_path, text, line=2)
    assert len(d["message"]) < 200, d["message"]


def test_a_tensor_of_more_than_int64_elements(tmp_path):
    text = network("H", "    y = x -> ReLU\n", shape=f"float[batch, 4, {MAX}]")
    limit_at(tmp_path, text, line=2, words="more than 2**63 - 1 elements")


SMALL = network("L", "    y = x -> Linear(4)\n", "float[batch, 4]")


@pytest.mark.parametrize("value", ["9" * 4400, "9" * 320, str(INT64_MAX + 1), "1" + "0" * 19])
@pytest.mark.parametrize("costs", [[], ["--costs"]])
def test_dim_values_past_int64_are_usage_errors(tmp_path, value, costs):
    path = tmp_path / "small.net"
    path.write_text(SMALL)
    proc = subprocess.run([sys.executable, "-c", MEASURED, "check", str(path), *costs, "--dim", f"batch={value}"],
                          cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=60)
    assert "Traceback" not in proc.stderr
    m = json.loads(proc.stderr.strip().splitlines()[-1])
    assert m["code"] == 2 and m["cpu"] < CPU_S, m
    assert "past int64" in proc.stderr and len(proc.stderr) < 1000


def test_int64_max_as_a_dim_value_is_shown_with_costs(tmp_path):
    path = tmp_path / "small.net"
    path.write_text(SMALL)
    proc = subprocess.run([sys.executable, "-m", "netspec", "check", str(path), "--costs", "--dim", f"batch={MAX}"],
                          cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr


def test_set_values_past_int64_are_usage_errors(tmp_path):
    path = tmp_path / "p.net"
    path.write_text("network P(n=4) {\n    input x: float[batch, 4]\n    y = x -> Linear(n)\n    output y\n}\n")
    proc = subprocess.run([sys.executable, "-m", "netspec", "check", str(path), "--set", f"n={INT64_MAX + 1}"],
                          cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "past int64" in proc.stderr and "Traceback" not in proc.stderr


def test_costs_past_a_float_are_shown():
    from netspec.costs import human_bytes, human_flops

    for n in (10**309, 2**20_000):
        assert "EiB" in human_bytes(n) and "EFLOPs" in human_flops(n)
    assert human_bytes(1258291) == "1.2 MiB" and human_flops(4718592) == "4.7 MFLOPs"


def test_dims_print_huge_numbers_without_python_s_digit_limit():
    from netspec.dims import render, show_int

    n = 10**5000
    assert render(n) == hex(n) and eval(render(n)) == n  # still a Python integer
    assert show_int(n) == "at least 2**16609"


# -- diagrams ----------------------------------------------------------------------------------

def dense(n: int) -> str:
    lines = ["network D {", "    input x: float[batch, 4]", "    b0 = x -> ReLU"]
    lines += [f"    b{i} = cat(" + ", ".join(f"b{j}" for j in range(i)) + ", dim=1) -> ReLU" for i in range(1, n)]
    return "\n".join(lines + [f"    output b{n - 1}", "}", ""])


def test_a_diagram_past_its_bounds_is_drawn_in_part(tmp_path):
    layers = limits.MAX_DRAWN_NODES  # two stages each: twice the bound
    text = network("C", "    y = x" + " -> Linear(4) -> ReLU" * layers + "\n", "float[batch, 4]")
    m, _ = measure(tmp_path, text, "diagram", "-o", "{tmp}/out.dot")
    assert m["code"] == 0
    dot = (tmp_path / "out.dot").read_text()
    assert "not drawn: " in dot and dot.count("->") <= limits.MAX_DRAWN_EDGES


def test_dense_bindings_past_the_edge_bound(tmp_path):
    m, _ = measure(tmp_path, dense(50), "diagram", "-o", "{tmp}/out.dot")  # 1,225 edges
    dot = (tmp_path / "out.dot").read_text()
    assert m["code"] == 0 and "edges (at most" in dot
    assert dot.count("->") <= limits.MAX_DRAWN_EDGES + 1


def test_dot_past_its_time_is_a_clear_error(tmp_path, monkeypatch):
    from netspec import diagram

    with pytest.raises(diagram.DotTimeout, match="did not lay the diagram out in 0.01 s"):
        diagram.render_dot("digraph { " + " ".join(f"a{i} -> a{i + 1};" for i in range(5000)) + " }", "svg",
                           timeout=0.01)


def test_a_timeout_of_dot_ends_the_command_with_one_line(tmp_path):
    path = tmp_path / "dense.net"
    path.write_text(dense(12))
    code = ("import sys; from netspec import diagram, limits; diagram.DOT_TIMEOUT = 0.01; "
            "from netspec.cli import main; sys.exit(main(sys.argv[1:]))")
    proc = subprocess.run([sys.executable, "-c", code, "diagram", str(path), "-o", str(tmp_path / "d.svg")],
                          cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "did not lay the diagram out" in proc.stderr and not (tmp_path / "d.svg").exists()


def test_depth_on_nested_uses_is_bounded(tmp_path):
    m, _ = measure(tmp_path, nested_uses(9), "diagram", "--depth", "20", "-o", "{tmp}/out.dot")
    assert m["code"] == 0
    assert "not drawn: " in (tmp_path / "out.dot").read_text()


# -- export refuses what it cannot allocate -----------------------------------------------------

@pytest.mark.parametrize("text, dims", [
    (network("L", f"    y = x -> Linear({2**40})\n", "float[batch, 4]"), []),
    (SMALL, ["--dim", f"batch={10**15}"]),
])
def test_export_refuses_sizes_it_cannot_allocate(tmp_path, text, dims):
    pytest.importorskip("torch")
    path = tmp_path / "big.net"
    path.write_text(text)
    proc = subprocess.run([sys.executable, "-m", "netspec", "export", str(path), "-o", str(tmp_path / "m.pt2"), *dims],
                          cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert "more than this machine's" in proc.stderr and not (tmp_path / "m.pt2").exists()


# -- the bounds themselves ---------------------------------------------------------------------

def test_expressions_past_a_bound_are_refused_before_the_work():
    from netspec.dims import TooLarge, floordiv, sym

    a = sum(sym(f"a{i}") for i in range(40))
    b = sum(sym(f"b{i}") for i in range(40))
    with pytest.raises(TooLarge, match="terms"):
        a * b  # 1,600 terms: refused before a product is formed
    x = sym("x")
    for _ in range(6):  # degree 64 is allowed
        x = x * x
    with pytest.raises(TooLarge, match="degree"):
        x * x
    with pytest.raises(TooLarge, match="coefficient"):
        sym("x") * 10**101
    e = sym("s")
    with pytest.raises(TooLarge, match="terms"):
        for _ in range(40):  # a self-concatenation pooled: its floor atoms nest, doubling its size
            e = floordiv(3 * e, 2)
