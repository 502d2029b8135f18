"""Generators of hostile spec files, and the driver that checks one of them.

Every generator takes a *source of choices* (:class:`Draw`): the same code runs under
hypothesis (``HypothesisDraw``, which shrinks a failing case to a small one) and under a
plain seeded ``random.Random`` (``RandomDraw``, for the long profile in scripts/fuzz.py,
without hypothesis's per-case overhead).

Cases:

- ``mutant``: a spec from specs/ after byte-level and token-level mutations (deletions,
  duplications, swaps, inserted grammar tokens, NUL and non-UTF-8 bytes, huge integers,
  cut-off files);
- ``generated``: a spec built from the grammar's pieces with random names, arguments and
  dims (often valid, often nearly valid), sometimes with a token-level mutation on top;
- ``valid``: chains of stages taken from the layer kinds' worked examples, which check;
- ``random``: random bytes, and random text over the grammar's characters.

The property (:func:`check_case`): ``netspec check`` exits 0 or 1, prints JSON whose
``ok`` agrees with the exit status, every diagnostic points inside the file (line 1 to the
number of lines, column 1 to the line's length + 1, end not before start, end column at
most the line's length + 1), nothing is written to stderr, no exception escapes, and the
case ends within a time bound. A case that checks is also built (in memory): the generator
raises nothing, and the module it writes passes :func:`check_module_ast`, the static check
of what a built module may contain.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import os
import random
import re
import signal
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.net"))
SPEC_BYTES = {p.name: p.read_bytes() for p in SPECS}

# CPU seconds one `netspec check` of a case may take (each of the --json and the text run),
# plus LAYER_SECONDS for each layer it checks: a spec may legitimately hold up to the layer
# limit (netspec.limits.MAX_LAYERS), which the checker goes through in linear time
TIME_LIMIT = float(os.environ.get("NETSPEC_FUZZ_TIME_LIMIT", "2.0"))
LAYER_SECONDS = 0.25e-3


def layers_checked(report: dict) -> int:
    """The layers a check went through, from its JSON report: each listed layer, and for a
    use of a network, that network's layers again (each use is checked on its own)."""
    listed = {n["name"]: [layer["kind"] for layer in n.get("layers", [])] for n in report.get("networks", [])}
    cost: dict[str, int] = {}
    for name in listed:  # bottom-up without recursion: repeat until no total changes
        cost[name] = len(listed[name])
    for _ in range(len(listed)):
        new = {name: sum(1 + cost.get(kind, 0) for kind in kinds) for name, kinds in listed.items()}
        if new == cost:
            break
        cost = new
    return sum(cost.values())


# -- sources of choices -----------------------------------------------------------------------

class Draw:
    """What a generator may ask for. Subclasses map it onto hypothesis or random."""

    def int(self, lo: int, hi: int) -> int:
        raise NotImplementedError

    def choice(self, seq):
        seq = list(seq)
        return seq[self.int(0, len(seq) - 1)]

    def chance(self, p: float) -> bool:
        return self.int(0, 999) < int(p * 1000)

    def raw(self, n: int) -> bytes:
        return bytes(self.int(0, 255) for _ in range(n))


class RandomDraw(Draw):
    def __init__(self, rng: random.Random):
        self.rng = rng

    def int(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)

    def raw(self, n: int) -> bytes:
        return self.rng.randbytes(n)


class HypothesisDraw(Draw):
    _ints: dict = {}

    def __init__(self, data):
        self.data = data

    def int(self, lo: int, hi: int) -> int:
        strategy = self._ints.get((lo, hi))
        if strategy is None:
            from hypothesis import strategies as st
            strategy = self._ints[(lo, hi)] = st.integers(lo, hi)
        return self.data.draw(strategy)

    def raw(self, n: int) -> bytes:
        from hypothesis import strategies as st
        return self.data.draw(st.binary(min_size=n, max_size=n))


# -- vocabulary -------------------------------------------------------------------------------

def _registry():
    from netspec.kinds import REGISTRY
    return REGISTRY


KIND_NAMES = sorted(_registry())

HUGE_INTS = [
    "9223372036854775807",            # int64 max
    "9223372036854775808",            # int64 max + 1
    "18446744073709551616",           # 2**64
    "1" + "0" * 30,                   # 10**30
    "1_000_000_000_000_000_000_000",
    "9" * 4400,                       # more digits than Python's int() converts by default
    "0" * 50 + "7",
    "1e999", "1e-999", "1.7976931348623157e309", "0.0", "1e5", "4_294_967_296",
]

NAMES = [
    "x", "y", "z", "out", "enc", "h", "w", "c", "batch", "seq", "B", "N", "T", "time", "planes",
    "hidden", "layers", "classes", "h_n", "c_n", "output", "input", "network", "as", "true", "false",
    # Python keywords, builtins and the names generated code uses itself
    "class", "def", "lambda", "None", "True", "import", "return", "self", "torch", "nn", "F",
    "forward", "super", "print", "len", "__init__", "__class__", "__import__", "eval", "exec",
    "_", "__", "x_1", "A" * 300,
] + KIND_NAMES

STRINGS = ['"same"', '"valid"', '"zeros"', '"reflect"', '"tanh"', '"relu"', '"none"', '""', '" "',
           '"SAME"', '"x\\"', '"é"', '"\t"', '"#"', '"' + "a" * 500 + '"']

PUNCT = ["->", "(", ")", "[", "]", "{", "}", ":", "*", "=", ",", ".", "//", "%", "+", "-",
         "- -", "()", "(,)", "[]", "{}", "#", "# netspec: allow[layout]", "# netspec: allow[", "\n", "\t",
         " ", "\r\n", "/", "**", "==", "'", "\\", "@", "$", "~"]

KEYWORDS = ["network", "input", "output", "as", "true", "false"]

NUMBERS = ["0", "1", "2", "3", "-1", "7", "64", "1_0", "0.5", "1e-5", "10000", "10001", "1000000"] + HUGE_INTS

# bytes no spec should contain; each must give a diagnostic, never a crash
BAD_BYTES = [
    b"\x00", b"\xff", b"\xfe", b"\x80", b"\xc3", b"\xc0\x80", b"\xed\xa0\x80",  # lone surrogate
    b"\xed\xbf\xbf", b"\xef\xbb\xbf", b"\xf4\x90\x80\x80", b"\r", b"\x0c", b"\x0b", b"\x1c",
    b"\x85", "\x85".encode(), "\u2028".encode(), "\u2029".encode(), "é".encode(), "\U0001f600".encode(),
    "\ufeff".encode(), "１".encode(), "ℕ".encode(), b"\x1b[31m", b"\x7f",
]

VOCAB = PUNCT + KEYWORDS + NAMES + NUMBERS + STRINGS

TOKEN_RE = re.compile(
    r'#[^\n]*|"[^"\n]*"|[A-Za-z_][A-Za-z0-9_]*'
    r"|[0-9][0-9_]*(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?|->|//|\s+|.", re.S)


def tokens(text: str) -> list[str]:
    return TOKEN_RE.findall(text)


# -- mutations --------------------------------------------------------------------------------

def _range(d: Draw, n: int, max_len: int | None = None) -> tuple[int, int]:
    i = d.int(0, n)
    j = d.int(i, min(n, i + (max_len if max_len is not None else n)))
    return i, j


def mutate_bytes(d: Draw, data: bytes) -> bytes:
    """One byte-level mutation."""
    op = d.int(0, 7)
    n = len(data)
    if op == 0:  # delete a range
        i, j = _range(d, n, d.choice([1, 8, 64, n]))
        return data[:i] + data[j:]
    if op == 1:  # duplicate a range
        i, j = _range(d, n, d.choice([1, 16, 256, n]))
        return data[:j] + data[i:j] + data[j:]
    if op == 2:  # swap two ranges
        i, j = _range(d, n, 64)
        k, m = _range(d, n, 64)
        if k < i:
            i, j, k, m = k, m, i, j
        if k < j:
            return data
        return data[:i] + data[k:m] + data[j:k] + data[i:j] + data[m:]
    if op == 3:  # insert a bad byte sequence
        i = d.int(0, n)
        return data[:i] + d.choice(BAD_BYTES) + data[i:]
    if op == 4:  # insert a grammar token
        i = d.int(0, n)
        return data[:i] + d.choice(VOCAB).encode() + data[i:]
    if op == 5:  # cut the file off
        return data[:d.int(0, n)]
    if op == 6:  # overwrite bytes with random ones
        i = d.int(0, n)
        k = d.int(1, 4)
        return data[:i] + d.raw(k) + data[i + k:]
    # flip one bit
    if not n:
        return data
    i = d.int(0, n - 1)
    return data[:i] + bytes([data[i] ^ (1 << d.int(0, 7))]) + data[i + 1:]


def mutate_tokens(d: Draw, text: str) -> str:
    """One token-level mutation: the result keeps most of the spec's structure."""
    toks = tokens(text)
    solid = [k for k, t in enumerate(toks) if not t.isspace()]
    if not solid:
        return text + d.choice(VOCAB)
    op = d.int(0, 6)
    k = d.choice(solid)
    if op == 0:  # delete tokens
        m = min(len(toks), k + d.choice([1, 1, 2, 5]))
        del toks[k:m]
    elif op == 1:  # duplicate tokens
        m = min(len(toks), k + d.choice([1, 2, 4, 12]))
        toks[m:m] = toks[k:m]
    elif op == 2:  # swap two tokens
        k2 = d.choice(solid)
        toks[k], toks[k2] = toks[k2], toks[k]
    elif op == 3:  # insert a token from the vocabulary
        toks.insert(k + d.int(0, 1), d.choice(VOCAB) + d.choice(["", " "]))
    elif op == 4:  # replace a token by one of the same class or any
        t = toks[k]
        if t[:1].isdigit():
            toks[k] = d.choice(NUMBERS)
        elif t[:1].isalpha() or t[:1] == "_":
            toks[k] = d.choice(NAMES + KEYWORDS)
        elif t.startswith('"'):
            toks[k] = d.choice(STRINGS + NUMBERS)
        else:
            toks[k] = d.choice(VOCAB)
    elif op == 5:  # a number becomes huge
        nums = [j for j in solid if toks[j][:1].isdigit()]
        toks[d.choice(nums) if nums else k] = d.choice(HUGE_INTS)
    else:  # cut off after a token
        del toks[k + 1:]
    return "".join(toks)


def mutant(d: Draw, base: bytes | None = None) -> bytes:
    """A spec from specs/ after 1 to 4 mutations."""
    data = base if base is not None else SPEC_BYTES[d.choice(sorted(SPEC_BYTES))]
    for _ in range(d.int(1, 4)):
        if d.chance(0.5):
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                data = mutate_bytes(d, data)
                continue
            data = mutate_tokens(d, text).encode("utf-8", "surrogatepass")
        else:
            data = mutate_bytes(d, data)
    return data


# -- grammar-aware generation -----------------------------------------------------------------

DTYPES = ["float", "float32", "float16", "half", "bfloat16", "float64", "double", "long", "int64",
          "int", "int32", "bool"]
SYMBOLS = ["batch", "seq", "h", "w", "c", "n", "B", "T", "time", "k"]


class _Gen:
    """Builds one spec from grammar pieces; ``sloppy`` makes near misses more likely."""

    def __init__(self, d: Draw, sloppy: float):
        self.d = d
        self.sloppy = sloppy

    def slip(self) -> bool:
        return self.d.chance(self.sloppy)

    def name(self, pool=None) -> str:
        d = self.d
        if pool and not self.slip():
            return d.choice(pool)
        if d.chance(0.6):
            return d.choice(NAMES)
        first = d.choice("abcxyzABC_")
        return first + "".join(d.choice("abcdefxyz_019") for _ in range(d.int(0, 8)))

    def dim(self, symbols, params, depth=0) -> str:
        d = self.d
        r = d.int(0, 9)
        if r < 4:
            return str(d.choice([1, 2, 3, 4, 5, 8, 10, 16, 28, 32, 64]))
        if r < 6:
            return d.choice(symbols or SYMBOLS)
        if r == 6 and params:
            return d.choice(params)
        if r == 7 and depth < 3:
            op = d.choice(["+", "-", "*", "//", "%"])
            return f"{self.dim(symbols, params, depth + 1)} {op} {self.dim(symbols, params, depth + 1)}"
        if r == 8 and depth < 3:
            return f"({self.dim(symbols, params, depth + 1)})"
        return d.choice(["0", "-1", "-3", "1000000", d.choice(HUGE_INTS)] if self.slip() else ["2", "7"])

    def tensor_type(self, symbols, params, dtype=True) -> str:
        d = self.d
        rank = d.int(0, 5) if self.slip() else d.int(1, 4)
        dims = ", ".join(self.dim(symbols, params) for _ in range(rank))
        dt = ""
        if dtype:
            dt = d.choice(DTYPES) if not self.slip() else self.name()
        return f"{dt}[{dims}]"

    def value(self, symbols, params, values, depth=0) -> str:
        """An argument value: a literal, a dim, a tuple, a string, or (rarely) a tensor."""
        d = self.d
        r = d.int(0, 11)
        if r < 5:
            return self.dim(symbols, params, depth)
        if r == 5:
            return d.choice(["true", "false"])
        if r == 6:
            return d.choice(["0.5", "0.1", "1e-5", "0.0", "1.5", "-0.5"])
        if r == 7:
            return d.choice(STRINGS)
        if r == 8 and depth < 2:
            n = d.int(0, 4)
            items = [self.value(symbols, params, values, depth + 1) for _ in range(n)]
            return "(" + ", ".join(items) + ("," if n == 1 else "") + ")"
        if r == 9 and values:
            return self.ref(values)
        if r == 10 and values and depth < 2:
            return self.chain(symbols, params, values, [], depth + 1)
        return d.choice(params) if params else "1"

    def ref(self, values) -> str:
        d = self.d
        v = d.choice(values)
        if d.chance(0.2):
            v += "." + d.choice(["output", "h_n", "c_n", "h", "c", "x"])
        return v

    def stage(self, symbols, params, values, blocks, depth=0) -> str:
        from netspec.kinds import REGISTRY
        d = self.d
        r = d.int(0, 9)
        if r == 0 and depth < 2:
            inner = " -> ".join(self.stage(symbols, params, values, blocks, depth + 1)
                                for _ in range(d.int(1, 3)))
            core = f"({inner})"
        elif r == 1 and blocks:
            bname, bparams = d.choice(blocks)
            args = [self.value(symbols, params, values) for _ in bparams if not self.slip()]
            core = f"{bname}({', '.join(args)})" if args or d.chance(0.5) else bname
        else:
            kname = d.choice(KIND_NAMES) if not (self.slip() and d.chance(0.3)) else self.name()
            kind = REGISTRY.get(kname)
            fields = list(kind.Args.model_fields) if kind else []
            fields = fields or ["x", "dim", "inplace"]
            positional = list(kind.positional) if kind else []
            args = []
            npos = d.int(0, min(len(positional), 3)) if positional else d.int(0, 2 if kind and kind.variadic else 0)
            if kind and kind.variadic:
                npos = d.int(0, 4)
            for _ in range(npos):
                args.append(self.value(symbols, params, values))
            for _ in range(d.int(0, 2)):
                key = d.choice(fields) if not self.slip() else self.name()
                args.append(f"{key}={self.value(symbols, params, values)}")
            if kind and kind.max_inputs != 1 and values and d.chance(0.5):
                args.insert(0, self.ref(values))
            core = f"{kname}({', '.join(args)})" if args or d.chance(0.3) else kname
        out = core
        if d.chance(0.15):
            out += f" * {d.choice(['2', '3', '0', '-1', 'layers', '10001']) if self.slip() else d.int(1, 3)}"
        if d.chance(0.15):
            out += f" as {self.name()}"
        if d.chance(0.2):
            out += f" : {self.tensor_type(symbols, params, dtype=d.chance(0.3))}"
        return out

    def chain(self, symbols, params, values, blocks, depth=0) -> str:
        d = self.d
        if d.chance(0.15) and len(values) >= 1:
            op = d.choice(["cat", "add"])
            srcs = [self.ref(values) for _ in range(d.int(1, 3))]
            extra = f", dim={d.int(-2, 3)}" if op == "cat" else ""
            source = f"{op}({', '.join(srcs)}{extra})"
        else:
            source = self.ref(values) if values else self.name()
        parts = [source]
        if d.chance(0.15):
            parts.append(f" : {self.tensor_type(symbols, params, dtype=d.chance(0.5))}")
        for _ in range(d.int(0, 5)):
            parts.append("\n        -> " + self.stage(symbols, params, values, blocks, depth))
        return "".join(parts)

    def network(self, name: str, blocks) -> tuple[str, list[str]]:
        d = self.d
        params = []
        plist = ""
        if d.chance(0.6):
            items = []
            for _ in range(d.int(0, 4)):
                p = self.name(["hidden", "classes", "planes", "layers", "k", "p", "mode"])
                params.append(p)
                items.append(p if d.chance(0.3) else f"{p}={self.value([], [], [])}")
            plist = "(" + ", ".join(items) + ")"
        symbols = [s for s in SYMBOLS if s not in params]
        lines = [f"network {name}{plist} {{"]
        values = []
        for _ in range(d.int(0, 3) if self.slip() else d.int(1, 2)):
            iname = self.name(["x", "tokens", "image", "h0", "c0", "y"])
            lines.append(f"    input {iname}: {self.tensor_type(symbols, params)}")
            values.append(iname)
        for _ in range(d.int(0, 5)):
            bname = self.name(["out", "enc", "feat", "logits", "z", "h"])
            lines.append(f"    {bname} = {self.chain(symbols, params, values, blocks)}")
            values.append(bname)
        if values and not (self.slip() and d.chance(0.3)):
            outs = [self.ref(values) for _ in range(d.int(1, 2))]
            lines.append(f"    output {', '.join(outs)}")
        lines.append("}")
        return "\n".join(lines) + "\n", params


def generated(d: Draw, sloppy: float | None = None) -> bytes:
    """A spec made of the grammar's pieces: one to three networks, later ones may use earlier."""
    if sloppy is None:
        sloppy = d.choice([0.0, 0.05, 0.2, 0.5])
    g = _Gen(d, sloppy)
    blocks: list[tuple[str, list[str]]] = []
    parts = []
    for _ in range(d.int(1, 3)):
        name = g.name(["Block", "Net", "Encoder", "Model", "Head"])
        text, params = g.network(name, blocks)
        parts.append(text)
        blocks.append((name, params))
    if d.chance(0.1):  # a network used before it is declared, or by itself
        parts.reverse()
    text = "\n".join(parts)
    if d.chance(0.25):
        text = mutate_tokens(d, text)
    return text.encode("utf-8", "surrogatepass")


def _example_stages():
    """(stage, input type, batch axis, result dtype) of every one-input worked example; the
    axis is the one the kind reads as the batch (Kind.batch_axis), None where it has none."""
    from netspec.checker import check_text
    from netspec.kinds import REGISTRY
    out = []
    for kind in {id(k): k for k in REGISTRY.values()}.values():
        for ex in kind.examples:
            if ex.get("others") or ex.get("other_shapes") or ex.get("tensors") or ex["input"] is None:
                continue
            result = check_text(f"network E {{\n input x: {ex['input']}\n y = x -> {ex['stage']}\n output y\n}}\n", "e")
            (node,) = result.networks[0].nodes
            out.append((ex["stage"], ex["input"], kind.batch_axis(node.args, node.inputs[0].tensor.rank),
                        node.outputs[0].tensor.dtype))
    return sorted(out, key=lambda e: e[:2])


ELEMENTWISE = ["ReLU", "Tanh", "Sigmoid", "GELU", "Dropout(0.1)", "ReLU(inplace=true)", "Softmax(-1)"]
IN_PLACE_AFTER = ("GELU", "Dropout(0.1)")


def valid(d: Draw, hostile_names: bool | None = None) -> bytes:
    """Stages from the kinds' worked examples, each on its own input, with elementwise layers
    between them: the spec checks, so the generator exercises the successful paths (and the
    build) too. With ``hostile_names`` the names come from NAMES (keywords, builtins, the
    generated code's own names): then the spec checks or is refused for a name."""
    if hostile_names is None:
        hostile_names = d.chance(0.3)
    used: set[str] = set()

    def name(plain: str) -> str:
        if not hostile_names or d.chance(0.5):
            return plain
        pool = [n for n in NAMES if n not in KEYWORDS and n not in used and n not in KIND_NAMES]
        used.add(n := d.choice(pool))
        return n

    examples = _example_stages()
    lines = [f"network {name(f'V{d.int(0, 99)}')} {{"]
    outs = []
    batch = name("batch")
    for k in range(d.int(1, 4)):
        stage, inp, axis, result = d.choice(examples)
        dtype, _, rest = inp.partition("[")
        dims = [x.strip() for x in rest.rstrip("]").split(",")]
        # the dim the kind reads as the batch: keep it concrete or make it a symbol
        if axis is not None and d.chance(0.5):
            dims[axis] = batch
        x, y = name(f"x{k}"), name(f"y{k}")
        lines.append(f"    input {x}: {dtype}[{', '.join(dims)}]")
        chain = [stage]
        for _ in range(d.int(0, 2)):
            layer = d.choice(ELEMENTWISE)
            # in place only over a result nothing saved for backward (GELU and Dropout keep
            # their input and mask; a Sigmoid, a Softmax or a worked example may keep theirs)
            chain.append(layer if layer != "ReLU(inplace=true)" or chain[-1] in IN_PLACE_AFTER else "ReLU")
        if not result.startswith("float") or stage.startswith(("RNN", "LSTM", "GRU")):
            chain = [stage]
        if hostile_names and d.chance(0.3):
            chain[0] += f" as {name('layer')}"
        lines.append(f"    {y} = {x} -> " + " -> ".join(chain))
        outs.append(y)
    lines.append(f"    output {', '.join(outs)}")
    lines.append("}")
    return ("\n".join(lines) + "\n").encode()


GRAMMAR_CHARS = "abcxyzNTB_019 ->()[]{}:*=,.#\"\n\t+%/"


def random_bytes(d: Draw) -> bytes:
    if d.chance(0.5):
        return d.raw(d.int(0, 200))
    return "".join(d.choice(GRAMMAR_CHARS) for _ in range(d.int(0, 200))).encode()


KINDS_OF_CASE = ("mutant", "generated", "valid", "random")


def any_case(d: Draw, kind: str | None = None) -> tuple[str, bytes]:
    kind = kind or d.choice(["mutant"] * 5 + ["generated"] * 3 + ["valid", "random"])
    if kind == "mutant":
        return kind, mutant(d)
    if kind == "generated":
        return kind, generated(d)
    if kind == "valid":
        return kind, valid(d) if not d.chance(0.3) else mutant(d, valid(d))
    return kind, random_bytes(d)


# -- what a built module may contain ---------------------------------------------------------

ALLOWED_NODES = (
    ast.Module, ast.Expr, ast.Import, ast.ImportFrom, ast.alias, ast.ClassDef, ast.FunctionDef,
    ast.arguments, ast.arg, ast.Assign, ast.If, ast.Raise, ast.Return, ast.Compare, ast.Call,
    ast.keyword, ast.Attribute, ast.Name, ast.Constant, ast.Tuple, ast.BinOp, ast.UnaryOp,
    ast.Subscript, ast.Slice, ast.Starred, ast.Load, ast.Store, ast.Add, ast.Sub, ast.Mult,
    ast.FloorDiv, ast.Mod, ast.USub, ast.NotEq, ast.IsNot, ast.Lt, ast.BoolOp, ast.And, ast.Or, ast.Not, ast.NotIn, ast.Eq, ast.Div, ast.Pow,
    ast.MatMult,
    # an f-string whose fields are plain names (a class refusing sizes names the values it got)
    ast.JoinedStr, ast.FormattedValue,
)
# builtins a built module may read; every other name must be one it defines
# (`max`: a size two broadcast sizes make where either may be 1, in a network used as a stage)
BUILTIN_NAMES = {"super", "ValueError", "float", "tuple", "int", "bool", "str", "max"}
# nn.Parameter and nn.init's in-place inits make a network's declared tensors (`param`)
NN_CLASSES = {k.torch_name for k in _registry().values() if k.is_module} | {"Module", "Sequential", "Parameter",
                                                                              "init"}
NN_FUNCTIONS = {"interpolate", "pad",  # the ops `interpolate` and `pad`
                "layer_norm"}  # LayerNorm2d, the class a built module defines for torchvision's layer
# the bases a class of a built module may have: nn.Module, and nn.LayerNorm for LayerNorm2d
# (torchvision's subclass, whose constructor and weights are nn.LayerNorm's)
CLASS_BASES = (["nn.Module"], ["nn.LayerNorm"])
TORCH_ATTRS = {"Tensor", "cat", "float16", "bfloat16", "float64", "int64", "int32", "bool", "float32",
               "stack", "where", "div", "bmm", "einsum", "arange",
               "zeros", "ones", "full", "empty", "int8", "uint8", "int16", "complex64"}  # declared tensors
INIT_FUNCTIONS = {"normal_", "uniform_", "trunc_normal_"}
TENSOR_METHODS = {"permute", "transpose", "reshape", "view", "flatten", "squeeze", "unsqueeze", "select", "new_zeros", "add_",
                  "shape", "sum", "mean", "amax", "amin", "var", "std", "softmax", "log_softmax", "split", "chunk",
                  "narrow", "expand", "repeat", "contiguous", "masked_fill", "float", "double", "half", "bfloat16",
                  "long", "int", "bool", "to", "device",
                  # StochasticDepth, the class a built module defines for torchvision's layer
                  "ndim", "new_empty", "bernoulli_", "div_"}


def check_module_ast(code: str) -> list[str]:
    """What in ``code`` a built module has no business containing (empty: nothing)."""
    tree = ast.parse(code)
    problems = []
    defined = {"torch", "nn", "OrderedDict"}
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            defined.add(node.name)
        elif isinstance(node, ast.arg):
            defined.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            defined.add(node.id)
    for node in ast.walk(tree):
        if not isinstance(node, ALLOWED_NODES):
            problems.append(f"node {type(node).__name__} at line {getattr(node, 'lineno', '?')}")
        if isinstance(node, ast.FormattedValue) and (not isinstance(node.value, ast.Name) or node.conversion != -1
                                                     or node.format_spec is not None):
            problems.append(f"an f-string field {ast.unparse(node.value)!r} that is not a plain name")
        if isinstance(node, ast.Import) and [a.name for a in node.names] != ["torch"]:
            problems.append(f"import of {[a.name for a in node.names]}")
        if isinstance(node, ast.ImportFrom) and (node.module, [a.name for a in node.names]) not in (
                ("torch", ["nn"]), ("collections", ["OrderedDict"])):  # a Sequential of named children
            problems.append(f"import from {node.module}")
        if isinstance(node, ast.alias) and node.asname is not None:
            problems.append(f"import as {node.asname}")
        if isinstance(node, ast.Name) and node.id not in defined and node.id not in BUILTIN_NAMES:
            problems.append(f"name {node.id!r} that the module does not define")
        if isinstance(node, ast.ClassDef):
            if [ast.unparse(b) for b in node.bases] not in CLASS_BASES or node.decorator_list or node.keywords:
                problems.append(f"class {node.name} is not a plain nn.Module")
            for stmt in node.body:
                ok_doc = isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and stmt is node.body[0]
                if not (ok_doc or isinstance(stmt, ast.FunctionDef)):
                    problems.append(f"class body statement {ast.unparse(stmt)[:60]!r}")
        if isinstance(node, ast.FunctionDef):
            if node.name not in ("__init__", "forward") or node.decorator_list:
                problems.append(f"function {node.name}")
            if any(d is not None and not isinstance(d, ast.Constant | ast.UnaryOp | ast.Tuple | ast.Call)
                   for d in node.args.defaults + node.args.kw_defaults):
                problems.append(f"a default of {node.name} that is not a literal")
        if isinstance(node, ast.Expr) and not isinstance(node.value, ast.Constant) \
                and ast.unparse(node) != "super().__init__()":
            problems.append(f"expression statement {ast.unparse(node)[:60]!r}")
        if isinstance(node, ast.Attribute):
            base = node.value
            if node.attr.startswith("__") and not (node.attr == "__init__" and isinstance(base, ast.Call)
                                                   and ast.unparse(base) == "super()"):
                problems.append(f"dunder attribute {node.attr}")
            elif isinstance(base, ast.Name) and base.id == "nn" and node.attr not in NN_CLASSES | {"functional"}:
                problems.append(f"nn.{node.attr}")
            elif ast.unparse(base) == "nn.functional":
                if node.attr not in NN_FUNCTIONS:
                    problems.append(f"nn.functional.{node.attr}")
            elif ast.unparse(base) == "nn.init":
                if node.attr not in INIT_FUNCTIONS:
                    problems.append(f"nn.init.{node.attr}")
            elif isinstance(base, ast.Name) and base.id == "torch" and node.attr not in TORCH_ATTRS:
                problems.append(f"torch.{node.attr}")
            elif not (isinstance(base, ast.Name) and base.id in ("self", "nn", "torch")) \
                    and node.attr not in TENSOR_METHODS and node.attr != "__init__":
                problems.append(f"attribute .{node.attr} of {ast.unparse(base)[:40]}")
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Name) and f.id not in {"super", "ValueError", "float", "OrderedDict", "max"} | defined:
                problems.append(f"call of {f.id}")
            if isinstance(f, ast.Name) and f.id == "float" and [ast.literal_eval(a) for a in node.args] != ["inf"]:
                problems.append("float() of something other than inf")
    return problems



# -- the driver -------------------------------------------------------------------------------

class CaseTimeout(BaseException):  # not an Exception: no `except Exception` may swallow it
    pass


@dataclass
class Outcome:
    exit: int | None
    seconds: float
    problem: str | None  # None when every property holds
    diagnostics: int = 0


def file_lines(data: bytes) -> list[str]:
    """The file's lines as diagnostics count them: split at newlines only, a leading BOM
    dropped, undecodable bytes shown as U+FFFD (as the `encoding` diagnostic counts them)."""
    text = data.decode("utf-8-sig", "replace") if data.startswith(b"\xef\xbb\xbf") else data.decode("utf-8", "replace")
    return text.split("\n")


def span_problem(diag: dict, path: str, lines: list[str]) -> str | None:
    """Why a diagnostic's position is not inside the file, or None."""
    if diag["file"] != path:
        return f"diagnostic names file {diag['file']!r}, not {path!r}"
    line, col, end_line, end_col = diag["line"], diag["column"], diag["end_line"], diag["end_column"]
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (line, col, end_line, end_col)):
        return "a position is not an integer"
    n = len(lines)
    if not 1 <= line <= n:
        return f"line {line} is outside 1..{n}"
    if not 1 <= col <= len(lines[line - 1]) + 1:
        return f"column {col} is outside line {line} (1..{len(lines[line - 1]) + 1})"
    if not 1 <= end_line <= n:
        return f"end line {end_line} is outside 1..{n}"
    if (end_line, end_col) < (line, col):
        return f"the span ends ({end_line}:{end_col}) before it starts ({line}:{col})"
    if not 1 <= end_col <= len(lines[end_line - 1]) + 1:
        return f"end column {end_col} is outside line {end_line} (1..{len(lines[end_line - 1]) + 1})"
    return None


@contextlib.contextmanager
def time_bound(seconds: float):
    """Raise CaseTimeout inside the block once it has used ``seconds`` of CPU time, or ten
    times that of wall-clock time (a hang). CPU time is the bound: a machine busy with other
    work must not fail a case. Only in the main thread; elsewhere the caller's measurement
    still catches a slow case once it ends."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def fire(signum, frame):
        raise CaseTimeout()

    old_prof = signal.signal(signal.SIGPROF, fire)
    old_alrm = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    signal.setitimer(signal.ITIMER_REAL, 10 * seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGPROF, old_prof)
        signal.signal(signal.SIGALRM, old_alrm)


def run_main(argv: list[str]) -> tuple[int | None, str, str, str | None]:
    """netspec.cli.main in this process: (exit, stdout, stderr, traceback of an escaped exception)."""
    from netspec.cli import main
    out, err = io.StringIO(), io.StringIO()
    code: int | None = None
    tb = None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
        except CaseTimeout:
            raise
        except BaseException:  # noqa: B036 - any escape is the failure being looked for
            tb = traceback.format_exc()
    return code, out.getvalue(), err.getvalue(), tb


def check_case(data: bytes, workdir: Path, name: str = "case.net", extra: tuple[str, ...] = (),
               time_limit: float = TIME_LIMIT, exits: tuple[int, ...] = (0, 1), build: bool = True,
               layer_seconds: float = LAYER_SECONDS) -> Outcome:
    """Write ``data`` to ``workdir/name``, run `check --json` and `check` on it, and test the
    properties; when it checks, generate its module too (:func:`build_problem`). A run may
    take ``time_limit`` CPU seconds plus ``layer_seconds`` a layer checked; it is stopped at
    the most the layer limit allows. Returns an Outcome whose ``problem`` says what broke,
    or None."""
    from netspec.limits import MAX_LAYERS

    most = time_limit + layer_seconds * MAX_LAYERS
    path = workdir / name
    path.write_bytes(data)
    spath = str(path)
    lines = file_lines(data)
    seconds = 0.0

    def timed(argv):
        nonlocal seconds
        start = time.process_time()  # CPU time: what the run costs, whatever else the machine runs
        try:
            with time_bound(most):
                return run_main(argv)
        finally:
            seconds = max(seconds, time.process_time() - start)

    try:
        code, out, err, tb = timed(["check", "--json", spath, *extra])
        if tb is None and code in (0, 1):
            code2, out2, err2, tb2 = timed(["check", spath, *extra])
        else:
            code2, out2, err2, tb2 = code, "", "", None
    except CaseTimeout:
        return Outcome(None, seconds, f"took more than {most} s")

    def fail(msg: str) -> Outcome:
        return Outcome(code, seconds, msg)

    if tb is not None or tb2 is not None:
        return fail("exception escaped:\n" + (tb or tb2))
    if code not in exits:
        return fail(f"exit status {code} (stderr: {err.strip()[:500]!r})")
    if code2 != code:
        return fail(f"`check` exits {code2} but `check --json` exits {code}")
    if code == 2:  # a usage error: one line on stderr, no report
        if "Traceback" in err or not err.startswith("netspec: error:"):
            return fail(f"usage error not reported as one: {err!r}")
        return Outcome(code, seconds, None)
    if err or err2:
        return fail(f"wrote to stderr: {(err or err2)[:500]!r}")
    if "Traceback" in out2:
        return fail("the report contains a traceback")
    try:
        report = json.loads(out)
    except ValueError as e:
        return fail(f"--json printed no JSON object: {e}: {out[:300]!r}")
    diags = report.get("diagnostics")
    if not isinstance(diags, list):
        return fail("the JSON report has no diagnostics list")
    has_error = any(x["severity"] == "error" for x in diags)
    if report.get("ok") is not (code == 0) or has_error is not (code == 1):
        return fail(f"exit {code} disagrees with ok={report.get('ok')} and the diagnostics")
    for x in diags:
        why = span_problem(x, spath, lines)
        if why:
            return fail(f"[{x['code']}] {x['message']!r}: {why}")
    layers = layers_checked(report)
    bound = time_limit + layer_seconds * layers
    if seconds > bound:
        return fail(f"a check of {layers} layers took {seconds:.2f} s of CPU time, more than {bound:.2f} s")
    if code == 0 and build and not extra:
        why = build_problem(spath, lines, bound)
        if why:
            return fail(why)
    return Outcome(code, seconds, None, len(diags))


def build_problem(spath: str, lines: list[str], time_limit: float) -> str | None:
    """Generate the module of a spec that checks (in memory): no exception, diagnostics
    inside the file, and code that passes :func:`check_module_ast`. None when all hold."""
    from netspec.api import check_file
    from netspec.build import BuildError, generate
    start = time.process_time()
    try:
        with time_bound(time_limit):
            loaded = check_file(spath)
            try:
                gen = generate(loaded.result, spath)
            except BuildError as e:
                diags = e.diagnostics
                code = None
            else:
                diags, code = gen.diagnostics, gen.code if gen.ok else None
    except CaseTimeout:
        return f"build took more than {time_limit} s"
    except Exception:
        return "build raised:\n" + traceback.format_exc()
    for d in diags:
        why = span_problem(d.to_json(), spath, lines)
        if why:
            return f"build [{d.code}] {d.message!r}: {why}"
    if code is not None:
        try:
            problems = check_module_ast(code)
        except SyntaxError as e:
            return f"the built module does not parse: {e}"
        if problems:
            return f"the built module contains {problems[:5]}"
    if time.process_time() - start > time_limit:
        return f"build took {time.process_time() - start:.2f} s of CPU time, more than {time_limit} s"
    return None


def warm_up(workdir: Path) -> None:
    """Import and build everything a first check builds, so that cost is not timed in a case."""
    for data in SPEC_BYTES.values():
        check_case(data, workdir, time_limit=60.0)
