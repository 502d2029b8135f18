"""Random valid netspec specs: stacks and graphs of every layer and op, for tests that run
them against torch.

    from hypothesis import given
    from netgen import specs

    @given(specs())
    def test_something(spec):
        text, symbols = spec          # the spec's text, and a value for each symbolic dim

:func:`specs` is a hypothesis strategy of :class:`GeneratedSpec`; :func:`generate` makes
one from any source of choices (:class:`Draw`: hypothesis's data, or a seeded
``random.Random`` for long runs without hypothesis's overhead).

A generated file has one network that is not used as a stage (the last; :attr:`root`
names it) and may define networks used as its stages (residual blocks repeated with
``* N``, chains over symbolic input sizes, blocks with two inputs and two outputs, blocks
scaling by a tensor of a parameter's size, used with it at 1 and at the input's size;
ceil-mode pools and transposed convolutions whose window, stride, output_padding, dilation
or groups are parameters, used with several values, then a Linear sized by what they leave;
network steps carrying two or three states through `scan`). Its
inputs are images, signals, sequences (either layout, with ``batch``/``seq`` symbols),
token ids or flat features, in float32, float64 or int64. Stages are drawn from every
layer kind and op with valid random arguments; values are bound, reused, concatenated
and added (from branches that keep the shapes the checker must prove equal); recurrent
layers expose ``output``/``h_n``/``c_n`` and sometimes take initial states; shared cells
are scanned over time (an LSTMCell carrying the pair ``(h, c)``); networks declare
``param`` and ``buffer`` tensors (every init) that are broadcast into values or put first
as a class token; sizes are sometimes the network's parameters.

The generator tracks each value's concrete shape (under :attr:`GeneratedSpec.symbols`) to
keep every argument valid for torch, and a structural key per dim to know which sizes the
checker can prove equal; it never asks netspec what a shape is. Symbols are at least 2,
so no symbolic size is 1 at run time. A spec it makes checks without errors, and without
``unproven`` warnings (facts the checker would have to assume).
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple

# -- sources of choices -------------------------------------------------------------------------


def _operand(text: str) -> str:
    """An operand of an infix operator: a bare name as it is, anything else in parentheses."""
    return text if text.replace(".", "_").isidentifier() else f"({text})"


class Draw:
    def int(self, lo: int, hi: int) -> int:
        raise NotImplementedError

    def choice(self, seq):
        seq = list(seq)
        return seq[self.int(0, len(seq) - 1)]

    def chance(self, p: float) -> bool:
        return self.int(0, 99) < int(p * 100)


class RandomDraw(Draw):
    def __init__(self, rng: random.Random):
        self.rng = rng

    def int(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)


class HypothesisDraw(Draw):
    _strategies: dict = {}

    def __init__(self, draw):
        self.draw = draw

    def int(self, lo: int, hi: int) -> int:
        s = self._strategies.get((lo, hi))
        if s is None:
            from hypothesis import strategies as st
            s = self._strategies[(lo, hi)] = st.integers(lo, hi)
        return self.draw(s)


class GeneratedSpec(NamedTuple):
    text: str
    symbols: dict[str, int]  # a value for every symbolic dim of the root network's inputs
    root: str = "Net"
    traps: frozenset = frozenset()  # what the spec holds that the checker may have to refuse (extended)
    required: dict = {}  # a value for each parameter of the root network without a default (extended)


@dataclass
class Options:
    max_stages: int = 10  # stages on the main path of the root network
    blocks: bool = True
    recurrent: bool = True
    conv: bool = True
    params: bool = True
    attention: bool = True
    # beyond what always checks: `view` after transpose and permute, `as` names (the same
    # one twice too), true shape assertions that may pin a parameter, parameters without
    # a default and parameters nothing uses; GeneratedSpec.traps names what it put in
    extended: bool = False


def specs(max_stages: int = 10, blocks: bool = True, recurrent: bool = True, conv: bool = True,
          params: bool = True, attention: bool = True):
    """A hypothesis strategy of :class:`GeneratedSpec`."""
    from hypothesis import strategies as st

    opts = Options(max_stages, blocks, recurrent, conv, params, attention)

    @st.composite
    def strategy(draw):
        return generate(HypothesisDraw(draw), opts)

    return strategy()


# -- shapes as the generator sees them ---------------------------------------------------------------

@dataclass(frozen=True)
class Dim:
    value: int  # under the chosen symbol values
    text: str | None  # how a spec writes it (`5`, `batch`, `batch * 4`), when it can
    key: Any  # dims with equal keys are provably equal to the checker
    role: str | None = None  # "batch" or "time": exactly a symbol the checker reads so

    @property
    def concrete(self) -> bool:
        """Provably equal to its value: a literal, or a parameter (checked with its value)."""
        return isinstance(self.key, int)

    @property
    def literal(self) -> bool:
        """A size the checker knows without a parameter's value."""
        return self.concrete and self.text == str(self.value)


def const(v: int) -> Dim:
    return Dim(v, str(v), v)


def derived(value: int, *key) -> Dim:
    return Dim(value, None, ("d",) + key)


def product(dims) -> Dim:
    # a size 1 drops out, a parameter's too: the checker reads dims with parameters' values
    dims = [d for d in dims if not (d.concrete and d.value == 1)] or [const(1)]
    if len(dims) == 1:
        return dims[0]  # the dim itself, with its role
    value = 1
    for d in dims:
        value *= d.value
    if all(d.literal for d in dims):
        return const(value)
    if all(d.concrete for d in dims):  # parameters among them: known by their values only
        return Dim(value, None, value)
    text = " * ".join(d.text for d in dims) if all(d.text for d in dims) else None
    return Dim(value, text, ("prod",) + tuple(d.key for d in dims))


@dataclass(frozen=True)
class Val:
    expr: str  # how the spec refers to it
    dtype: str
    shape: tuple[Dim, ...]
    strided: bool = False  # made by a transpose or a permute: maybe not contiguous

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def floating(self) -> bool:
        return self.dtype in ("float32", "float64")


@dataclass
class Stage:
    text: str
    apply: Callable[[Val], "Val | None"]  # the result type, or None when not valid for it
    results: tuple[str, ...] = ("output",)
    extra: dict = field(default_factory=dict)  # for recurrent layers: the other results
    reads: tuple[int, ...] = ()  # the input dims whose sizes it is built with (in_features, channels)


FLOAT = ("float32", "float64")
NAMES = ["a", "b", "feat", "out", "hidden", "stem", "head", "z", "sum", "max", "id", "len", "l", "I",
         "list", "F", "print", "range", "x2", "trunk", "mix", "proj", "mid", "low", "top", "res"]


# -- the generator -------------------------------------------------------------------------------------

class Gen:
    def __init__(self, d: Draw, opts: Options, taken: set[str], symbols: dict[str, int], depth: int = 0):
        self.d = d
        self.opts = opts
        self.taken = taken  # names used anywhere in this network
        self.symbols = symbols
        self.depth = depth
        self.params: list[tuple[str, str | None]] = []  # (name, default text; None: none)
        self.inputs: list[str] = []
        self.lines: list[str] = []
        self.values: list[Val] = []  # bound values the network may reuse
        self.blocks: list[str] = []  # texts of networks used as stages
        self.block_names: set[str] = set()
        self.counter = 0
        self.traps: set[str] = set()  # shared by the networks of one file
        self.aliases: list[str] = []  # `as` names given in this network
        self.required: dict[str, int] = {}  # parameters without a default -> the value assumed

    # -- names and values ------------------------------------------------------------------------
    def fresh(self, pool=None) -> str:
        pool = pool or NAMES
        for _ in range(4):
            name = self.d.choice(pool)
            if name not in self.taken:
                self.taken.add(name)
                return name
        self.counter += 1
        while f"v{self.counter}" in self.taken:
            self.counter += 1
        self.taken.add(f"v{self.counter}")
        return f"v{self.counter}"

    def size(self, lo: int, hi: int) -> tuple[str, Dim]:
        """A layer size: a literal, or sometimes a parameter of the network."""
        v = self.d.int(lo, hi)
        if self.opts.params and self.depth == 0 and self.d.chance(0.2):
            name = self.fresh(["width", "hidden_size", "units", "ch", "n_out", "k_out"])
            if self.opts.extended and self.d.chance(0.3):  # no default: a symbol to the checker
                self.params.append((name, None))
                self.required[name] = v
                return name, Dim(v, name, ("param", name))
            self.params.append((name, str(v)))
            return name, Dim(v, name, v)
        return str(v), const(v)

    # -- stages ------------------------------------------------------------------------------------
    def stage(self, v: Val, only_preserving: bool = False, keep_last: bool = False) -> Stage | None:
        """A random stage valid for ``v`` (None when none was found)."""
        makers = self.makers(v, only_preserving, keep_last)
        if self.opts.extended and v.strided and not only_preserving:
            makers += [self.reshape] * 3  # `view` (mostly) of a transposed tensor
        for _ in range(6):
            if not makers:
                return None
            maker = self.d.choice(makers)
            st = _sized_by_model(maker(v))
            if st is not None and st.apply(v) is not None:
                return st
        return None

    def makers(self, v: Val, only_preserving: bool, keep_last: bool) -> list:
        m: list = []
        if not v.floating:
            if v.dtype == "int64" and not only_preserving and v.rank >= 1:
                m += [self.embedding] * 4 + ([self.embedding_bag] if v.rank == 2 else [])
            if not only_preserving:
                m += [self.permute, self.transpose, self.reshape, self.flatten_op, self.unsqueeze, self.pad,
                      self.unflatten, self.scalar_op, self.reduce_op, self.getitem_op, self.expand_op, self.cast_op]
            return m + [self.identity]
        m += [self.activation] * 3 + [self.dropout, self.layernorm, self.channel_dropout, self.groupnorm,
                                      self.scalar_op]
        if v.rank in (2, 3, 4):
            m += [self.batchnorm, self.instancenorm]
        if v.rank == 4:
            m += [self.layernorm2d] * 2
        if not keep_last and v.rank >= 1:
            m += [self.linear] * 3
        if self.opts.attention and v.rank in (2, 3):
            m += [self.attention]  # keeps the shape
        conv = self.opts.conv and _batch_in_front(v)  # no window slides across samples
        if only_preserving:
            if conv and v.rank in (3, 4, 5):
                m += [self.conv_same] * 2
            return m
        m += [self.permute, self.transpose, self.reshape, self.flatten_op, self.flatten_layer,
              self.unsqueeze, self.squeeze, self.select, self.softmax, self.unflatten, self.glu, self.pad]
        m += [self.reduce_op, self.softmax_op, self.expand_op, self.getitem_op, self.getitem_op, self.narrow_op,
              self.pieces_op, self.repeat_op, self.cast_op, self.contiguous_op]
        if conv:
            m += self.conv_makers(v)
        if self.opts.recurrent and v.rank in (1, 2):
            m += [self.cell]
        return m

    def conv_makers(self, v: Val) -> list:
        m: list = []
        if v.rank in (2, 3, 4):
            m += [self.conv] * 3 + [self.pool] * 2 + [self.adaptive, self.lppool]
        if v.rank in (3, 4):
            m += [self.upsample, self.upsample] + [self.pixel_shuffle] * 3
        if v.rank == 5:
            m += [self.conv] * 3
        if v.rank in (2, 3, 4, 5):
            m += [self.conv_transpose]
        if v.rank in (3, 4, 5):
            m += [self.conv_same]
        return m

    # layers and ops: each returns a Stage with its args fixed, valid for the current value
    def activation(self, v: Val) -> Stage:
        text = self.d.choice(["ReLU", "ReLU(inplace=true)", "Tanh", "Sigmoid", "GELU", 'GELU("tanh")',
                              "ReLU(true)", "ReLU6", "SiLU", "Hardswish(true)", "Hardsigmoid", "Mish",
                              "LeakyReLU(0.2)", "ELU(alpha=0.5)", "Softplus(2.0)", "PReLU", "PReLU(init=0.1)"])
        if v.rank >= 2 and v.shape[1].text and self.d.chance(0.2):  # a slope a channel
            key = v.shape[1].key
            return Stage(f"PReLU({v.shape[1].text})",
                         lambda x: x if x.floating and x.rank >= 2 and x.shape[1].key == key else None, reads=(1,))
        return Stage(text, lambda x: x if x.floating else None)

    def identity(self, v: Val) -> Stage:
        return Stage("Identity", lambda x: x)

    def softmax(self, v: Val) -> Stage:
        dim = self.d.int(-v.rank, v.rank - 1) if v.rank else 0
        name = self.d.choice(["Softmax", "LogSoftmax"])
        return Stage(f"{name}({dim})" if self.d.chance(0.5) else f"{name}(dim={dim})",
                     lambda x: x if x.floating and (-max(x.rank, 1) <= dim < max(x.rank, 1)) else None)

    def dropout(self, v: Val) -> Stage:
        if self.opts.params and self.depth == 0 and self.d.chance(0.3):
            name = self.fresh(["rate", "drop", "p_drop"])
            self.params.append((name, "0.25"))
            return Stage(f"Dropout({name})", lambda x: x if x.floating else None)
        p = self.d.choice(["0.0", "0.1", "0.5"])
        return Stage(self.d.choice([f"Dropout({p})", "Dropout", f"Dropout(p={p})"]),
                     lambda x: x if x.floating else None)

    def channel_dropout(self, v: Val) -> Stage | None:
        """The dropouts of whole channels or samples, each on the ranks it takes."""
        options = [("AlphaDropout(0.1)", range(0, 9)), ('StochasticDepth(0.2, "row")', range(1, 9)),
                   ('StochasticDepth(0.5, mode="batch")', range(0, 9)), ("Dropout1d(0.1)", (2, 3)),
                   ("Dropout2d(p=0.2)", (4,)), ("Dropout3d", (4, 5))]
        usable = [(t, r) for t, r in options if v.rank in r]
        if not usable:
            return None
        text, ranks = self.d.choice(usable)
        return Stage(text, lambda x: x if x.floating and x.rank in ranks else None)

    def groupnorm(self, v: Val) -> Stage | None:
        if v.rank < 2:
            return None
        c = v.shape[1]
        groups = self.d.choice([g for g in (1, 2, 3, 4) if c.value % g == 0]) if c.concrete else 1
        text = f"GroupNorm({groups}{self.d.choice(['', ', affine=false', ', eps=0.001', ', bias=false'])})"
        key = c.key

        def apply(x):
            if not x.floating or x.rank < 2 or (groups > 1 and x.shape[1].key != key) or _batch_behind(x, 1):
                return None  # a batch in a dim it normalizes over: check refuses it by design
            return x if math.prod(d.value for d in x.shape) > groups else None  # torch: more than one value
        return Stage(text, apply, reads=(1,))

    def instancenorm(self, v: Val) -> Stage | None:
        n = 2 if v.rank == 4 or (v.rank == 3 and self.d.chance(0.4)) else 1
        if v.rank not in (n + 1, n + 2):
            return None
        channels = v.shape[v.rank - n - 1]
        opts = ["", "(affine=true)", "(track_running_stats=true)", "(eps=0.001, affine=true, bias=false)"]
        if channels.text:
            opts.append(f"({channels.text})")
        text = f"InstanceNorm{n}d" + self.d.choice(opts)

        def apply(x):
            if not x.floating or x.rank not in (n + 1, n + 2) or math.prod(d.value for d in x.shape[-n:]) < 2:
                return None  # torch needs more than one value a channel
            if _batch_behind(x, x.rank - n):
                return None  # a batch in a spatial dim it normalizes over: refused by design
            if text.endswith(f"({channels.text})") and x.shape[x.rank - n - 1].key != channels.key:
                return None
            return x
        return Stage(text, apply, reads=(-n - 1,))

    def layernorm(self, v: Val) -> Stage | None:
        if v.rank == 0:
            return None
        if v.rank >= 2 and v.shape[-1].concrete and v.shape[-2].concrete and self.d.chance(0.3):
            a, b = v.shape[-2].value, v.shape[-1].value
            text = f"LayerNorm(normalized_shape=({a}, {b}))"

            def apply(x):
                ok = x.floating and x.rank >= 2 and x.shape[-2].key == a and x.shape[-1].key == b
                return x if ok else None
            return Stage(text, apply, reads=(-2, -1))
        text = self.d.choice(["LayerNorm", "LayerNorm(elementwise_affine=false)", "LayerNorm(eps=0.001)",
                              "LayerNorm(bias=false)"])
        return Stage(text, lambda x: x if x.floating and x.rank >= 1 else None, reads=(-1,))

    def layernorm2d(self, v: Val) -> Stage | None:
        """torchvision's LayerNorm2d over the channels (dim 1) of [N, C, H, W]; its result
        keeps the channels last in memory (strided)."""
        if v.rank != 4:
            return None
        c, w = v.shape[1], v.shape[3]
        options = ["LayerNorm2d", "LayerNorm2d(eps=1e-6)", "LayerNorm2d(elementwise_affine=false)",
                   "LayerNorm2d(bias=false)", "LayerNorm2d(1e-5, false)"]
        sized: dict = {}  # the dims a given normalized_shape names: index -> key
        given = self.d.choice([0, 1, 2, 2]) if c.concrete and c.text else 0
        if given == 2 and w.concrete and w.text:
            options = [f"LayerNorm2d(normalized_shape=({w.text}, {c.text}))"]  # the last two, channels last
            sized = {3: w.key, 1: c.key}
        elif given:
            options = [f"LayerNorm2d({c.text})", f"LayerNorm2d(normalized_shape={c.text}, bias=false)"]
            sized = {1: c.key}
        text = self.d.choice(options)

        def apply(x):
            if not x.floating or x.rank != 4 or any(x.shape[i].key != k for i, k in sized.items()):
                return None
            return Val(x.expr, x.dtype, x.shape, True)
        return Stage(text, apply, reads=(1, 3) if 3 in sized else (1,))

    def batchnorm(self, v: Val) -> Stage | None:
        name = "BatchNorm2d" if v.rank == 4 else "BatchNorm1d"
        if v.rank == 4:
            ranks = (4,)
        elif v.rank in (2, 3):
            ranks = (2, 3)
        else:
            return None
        opts = ["", "(affine=false)", "(momentum=0.2)", "(eps=0.001, track_running_stats=false)"]
        if v.shape[1].text:
            opts.append(f"({v.shape[1].text})")
        text = name + self.d.choice(opts)
        key = v.shape[1].key

        def apply(x):
            if not x.floating or x.rank not in ranks:
                return None
            if text.endswith(f"({v.shape[1].text})") and x.shape[1].key != key:
                return None
            if "track_running_stats=false" in text:  # batch statistics need two values a channel
                values = 1
                for i, dd in enumerate(x.shape):
                    values *= dd.value if i != 1 else 1
                if values < 2:
                    return None
            return x
        return Stage(text, apply, reads=(1,))

    def linear(self, v: Val) -> Stage:
        text_n, n = self.size(1, 12)
        bias = self.d.choice(["", "", ", bias=false", ", false"])
        return Stage(f"Linear({text_n}{bias})",
                     lambda x: Val(x.expr, x.dtype, x.shape[:-1] + (n,)) if x.floating and x.rank >= 1 else None,
                     reads=(-1,))

    def embedding(self, v: Val) -> Stage:
        vocab = self.d.int(2, 20)
        text_e, e = self.size(1, 10)
        extra = self.d.choice(["", "", f", padding_idx={self.d.int(0, vocab - 1)}", ", max_norm=1.0"])
        return Stage(f"Embedding({vocab}, {text_e}{extra})",
                     lambda x: Val(x.expr, "float32", x.shape + (e,)) if x.dtype == "int64" else None)

    def flatten_layer(self, v: Val) -> Stage | None:
        if v.rank < 1:
            return None
        s = self.d.int(-v.rank, v.rank - 1)
        e = self.d.int(-v.rank, v.rank - 1)
        if s % v.rank > e % v.rank:
            s, e = e, s
        text = self.d.choice([f"Flatten({s}, {e})", f"Flatten(start_dim={s}, end_dim={e})"])
        if s == 1 and e == -1:
            text = self.d.choice(["Flatten", text])
        return Stage(text, lambda x: _flatten(x, s, e))

    def flatten_op(self, v: Val) -> Stage | None:
        if v.rank < 1:
            return None
        s = self.d.int(-v.rank, v.rank - 1)
        if self.d.chance(0.5):
            return Stage(f"flatten({s})", lambda x: _flatten(x, s, -1))
        e = self.d.int(-v.rank, v.rank - 1)
        if s % v.rank > e % v.rank:
            s, e = e, s
        return Stage(f"flatten({s}, {e})", lambda x: _flatten(x, s, e))

    def permute(self, v: Val) -> Stage | None:
        layer = self.d.chance(0.35)  # torchvision's Permute module: the order as one tuple
        if v.rank < 2 and not layer:
            return None
        order = list(range(v.rank))
        for i in range(len(order) - 1, 0, -1):
            j = self.d.int(0, i)
            order[i], order[j] = order[j], order[i]
        if self.d.chance(0.3):
            order = [o - v.rank if self.d.chance(0.5) else o for o in order]
        text = "permute(" + ", ".join(map(str, order)) + ")"
        if layer:
            dims = "(" + ", ".join(map(str, order)) + ("," if len(order) == 1 else "") + ")"
            text = self.d.choice([f"Permute({dims})", f"Permute(dims={dims})"])
        rank = v.rank
        moved = [o % rank for o in order] != list(range(rank))
        return Stage(text, lambda x: Val(x.expr, x.dtype, tuple(x.shape[o] for o in order), moved)
                     if x.rank == rank else None)

    def transpose(self, v: Val) -> Stage | None:
        if v.rank < 2:
            return None
        i, j = self.d.int(-v.rank, v.rank - 1), self.d.int(-v.rank, v.rank - 1)

        def apply(x):
            if not (-x.rank <= i < x.rank and -x.rank <= j < x.rank):
                return None
            s = list(x.shape)
            s[i], s[j] = s[j], s[i]
            return Val(x.expr, x.dtype, tuple(s), i % x.rank != j % x.rank)
        return Stage(f"transpose({i}, {j})", apply)

    def unsqueeze(self, v: Val) -> Stage | None:
        if v.rank >= 5:
            return None
        i = self.d.int(-v.rank - 1, v.rank)

        def apply(x):
            if not -x.rank - 1 <= i <= x.rank or x.rank >= 5:
                return None
            k = i % (x.rank + 1)
            return Val(x.expr, x.dtype, x.shape[:k] + (const(1),) + x.shape[k:])
        return Stage(f"unsqueeze({i})", apply)

    def squeeze(self, v: Val) -> Stage | None:
        ones = [i for i, d in enumerate(v.shape) if d.concrete and d.value == 1]
        if not ones:
            return None
        if self.d.chance(0.5):
            i = self.d.choice(ones)
            i = i - v.rank if self.d.chance(0.5) else i

            def apply(x):
                if not -x.rank <= i < x.rank or not (x.shape[i].concrete and x.shape[i].value == 1):
                    return None
                k = i % x.rank
                return Val(x.expr, x.dtype, x.shape[:k] + x.shape[k + 1:])
            return Stage(f"squeeze({i})", apply)

        def apply_all(x):
            if not all(d.concrete for d in x.shape):
                return None  # whether a symbolic dim is 1 is unknown: netspec warns
            return Val(x.expr, x.dtype, tuple(d for d in x.shape if not (d.concrete and d.value == 1)))
        return Stage("squeeze", apply_all)

    def select(self, v: Val) -> Stage | None:
        if v.rank < 1:
            return None
        dim = self.d.int(-v.rank, v.rank - 1)
        size = v.shape[dim].value
        index = self.d.int(-size, size - 1)

        def apply(x):
            if not -x.rank <= dim < x.rank or not -x.shape[dim].value <= index < x.shape[dim].value:
                return None
            if not x.shape[dim].concrete and (index not in (0, -1) or not _at_least_one(x.shape[dim])):
                return None  # exists only at some sizes: netspec warns
            k = dim % x.rank
            return Val(x.expr, x.dtype, x.shape[:k] + x.shape[k + 1:])
        return Stage(f"select({dim}, {index})", apply)

    def reshape_name(self, v: Val) -> str:
        name = self.d.choice(["reshape", "reshape", "view"])
        if self.opts.extended and v.strided and self.d.chance(0.8):
            name = "view"
        if name == "view" and not self.opts.extended:
            # only the extended specs hold views the checker may refuse; the generator does not
            # follow every op's memory layout, and a contiguous tensor is one torch always views
            return "contiguous -> view"
        if name == "view" and v.strided:
            self.traps.add("view-after-transpose")
        return name

    def reshape(self, v: Val) -> Stage | None:
        if v.rank == 0:
            return None
        name = self.reshape_name(v)
        if all(d.concrete for d in v.shape):
            total = 1
            for d in v.shape:
                total *= d.value
            dims = _factor(self.d, total)
            if self.d.chance(0.5) and len(dims) > 0:
                hole = self.d.int(0, len(dims) - 1)
                texts = [str(x) if i != hole else "-1" for i, x in enumerate(dims)]
            else:
                texts = [str(x) for x in dims]
            target = tuple(const(x) for x in dims)

            def apply_c(x):
                t = 1
                for dd in x.shape:
                    if not dd.concrete:
                        return None
                    t *= dd.value
                return Val(x.expr, x.dtype, target) if t == total else None
            return Stage(f"{name}({', '.join(texts)})", apply_c)
        # keep a prefix of dims the spec can write, -1 for the rest and factors of what is concrete
        k = self.d.int(0, v.rank - 1)
        prefix = v.shape[:k]
        if any(d.text is None for d in prefix):
            return None
        rest = v.shape[k:]
        coeff = 1
        for d in rest:
            if d.concrete:
                coeff *= d.value
        suffix = _factor(self.d, coeff)[:2] if self.d.chance(0.6) else []
        suffix_prod = 1
        for s in suffix:
            suffix_prod *= s
        texts = [d.text for d in prefix] + ["-1"] + [str(s) for s in suffix]
        prefix_keys = tuple(d.key for d in prefix)
        rest_keys = tuple(d.key for d in rest)

        def apply(x):
            if tuple(d.key for d in x.shape[:k]) != prefix_keys or tuple(d.key for d in x.shape[k:]) != rest_keys:
                return None
            if suffix and any(_holds_batch(d) for d in x.shape[k + 1:]):
                return None  # the batch dim not outermost in what is split again: samples would mix
            merged = product(x.shape[k:])
            hole_value = merged.value // suffix_prod
            symbolic = [d for d in x.shape[k:] if not d.concrete]
            if suffix_prod == 1:
                hole = merged
            elif len(symbolic) == 1 and suffix_prod == coeff:
                hole = symbolic[0]  # the concrete part divided away: the dim itself
                if hole.role == "batch" and x.shape[k].key != hole.key:
                    return None  # the batch dim would take parts of other samples (a `layout` error)
            else:
                hole = Dim(hole_value, None, ("div", merged.key, suffix_prod))
            return Val(x.expr, x.dtype, tuple(x.shape[:k]) + (hole,) + tuple(const(s) for s in suffix))
        return Stage(f"{name}({', '.join(texts)})", apply)

    # tensor ops
    def scalar_op(self, v: Val) -> Stage:
        """Arithmetic with a number: the shape stays; an integer tensor divided, or times a
        float, becomes float32 (torch's promotion)."""
        if v.floating:
            text = self.d.choice(["mul(0.5)", "mul(2)", "sub(1)", "add(0.25)", "div(3)", "pow(2)", "neg",
                                  "mul(-1.5)", "sub(other=2)", "pow(exponent=0.5)"])
            return Stage(text, lambda x: x if x.floating else None)
        # integer results stay ids an Embedding may read (0 and 1), so only float ones
        text = self.d.choice(["div(2)", "mul(0.5)", "add(0.5)", "sub(1.5)", "pow(0.5)"])
        return Stage(text, lambda x: Val(x.expr, "float32", x.shape) if x.dtype == "int64" else None)

    def reduce_op(self, v: Val) -> Stage | None:
        if v.rank == 0:
            return None
        names = ["sum", "mean", "amax", "amin", "var", "std"] if v.floating else ["amax", "amin"]
        name = self.d.choice(names)
        rank = v.rank
        dims = sorted({self.d.int(0, rank - 1) for _ in range(self.d.int(1, min(2, rank)))})
        spelled = [d - rank if self.d.chance(0.3) else d for d in dims]
        keep = self.d.chance(0.4)
        dim_text = str(spelled[0]) if len(spelled) == 1 else "(" + ", ".join(map(str, spelled)) + ")"
        extra = ""
        if name in ("var", "std"):
            extra = self.d.choice(["", ", correction=0", ", unbiased=false"])
        if keep:
            text = self.d.choice([f"{name}({dim_text}, keepdim=true{extra})", f"{name}(dim={dim_text}, keepdim=true{extra})"])
        else:
            text = f"{name}({dim_text}{extra})"

        def apply(x):
            if x.rank != rank or (name in ("mean", "var", "std") and not x.floating):
                return None
            if keep:
                shape = tuple(const(1) if i in dims else d for i, d in enumerate(x.shape))
            else:
                shape = tuple(d for i, d in enumerate(x.shape) if i not in dims)
            return Val(x.expr, x.dtype, shape)
        return Stage(text, apply)

    def softmax_op(self, v: Val) -> Stage | None:
        if v.rank == 0:
            return None
        dim = self.d.int(-v.rank, v.rank - 1)
        name = self.d.choice(["softmax", "log_softmax"])
        return Stage(f"{name}({dim})", lambda x: x if x.floating and -x.rank <= dim < x.rank else None)

    def expand_op(self, v: Val) -> Stage | None:
        ones = [i for i, d in enumerate(v.shape) if d.literal and d.value == 1]
        lead = self.d.int(0, 1) if v.rank < 4 else 0
        if not ones and not lead:
            return None
        sizes = {i: self.d.int(2, 4) for i in ones if self.d.chance(0.7)}
        new = [self.d.int(1, 3) for _ in range(lead)]
        texts = [str(n) for n in new] + [str(sizes[i]) if i in sizes else "-1" for i in range(v.rank)]
        rank = v.rank

        def apply(x):
            if x.rank != rank or any(not (x.shape[i].literal and x.shape[i].value == 1) for i in sizes):
                return None
            shape = tuple(const(n) for n in new) + tuple(const(sizes[i]) if i in sizes else d
                                                         for i, d in enumerate(x.shape))
            return Val(x.expr, x.dtype, shape)
        # then contiguous: an in-place layer after it (ReLU(inplace=true)) would write into
        # elements that share memory, which torch refuses
        return Stage(f"expand({', '.join(texts)}) -> contiguous", apply)

    def getitem_op(self, v: Val) -> Stage | None:
        """``x[...]`` as the op: full slices, integers, slices of known dims, None, and `...`
        before the items (which then index the last dims) or after them."""
        if v.rank == 0:
            return None
        m = self.d.int(1, v.rank)
        dots = self.d.choice([None, None, "first", "last"]) if m < v.rank else None
        items: list[tuple[str, tuple]] = []  # (text, what it does)
        for d in (v.shape[v.rank - m:] if dots == "first" else v.shape[:m]):
            if self.d.chance(0.1):
                items.append(("None", ("new",)))
            items.append(self.index_item(d))
        if dots:
            items.insert(0 if dots == "first" else len(items), ('"..."', ("dots",)))
        rank = v.rank
        text = "getitem((" + ", ".join(t for t, _ in items) + ("," if len(items) == 1 else "") + "))"
        return Stage(text, lambda x: _index(x, [it for _, it in items]) if x.rank == rank else None)

    def index_item(self, d: Dim) -> tuple[str, tuple]:
        """One item indexing ``d``: the whole dim, an integer, or a slice of a known size."""
        r = self.d.int(0, 9)
        at_least_one = _at_least_one(d)
        if r >= 6 and isinstance(d.key, tuple) and d.key[0] == "param":
            # a parameter without a default: the class requires `k <= width` of it
            k = self.d.int(1, d.value)
            return f'("slice", None, {k}, None)', ("first", k)
        if r < 3 or (r >= 6 and not d.concrete) or (r < 6 and not at_least_one):
            return '("slice", None, None, None)', ("keep",)
        if r < 6:
            return str(self.d.choice([0, -1])), ("int",)
        n = d.value
        bounds = (self.d.choice([None, self.d.int(-n, n)]), self.d.choice([None, self.d.int(-n - 1, n + 1)]),
                  self.d.choice([None, None, self.d.int(1, 3)]))
        if not range(*slice(*bounds).indices(n)):  # no empty dims: the layers after need sizes
            bounds = (None, None, bounds[2])
        return "(" + ", ".join(['"slice"'] + ["None" if b is None else str(b) for b in bounds]) + ")", \
            ("slice", slice(*bounds))

    def narrow_op(self, v: Val) -> Stage | None:
        known = [i for i, d in enumerate(v.shape) if d.concrete and d.value >= 1]
        if not known:
            return None
        i = self.d.choice(known)
        n = v.shape[i].value
        start = self.d.int(0, n - 1)
        length = self.d.int(1, n - start)
        spelled = start - n if self.d.chance(0.3) else start
        rank = v.rank

        def apply(x):
            if x.rank != rank or not (x.shape[i].concrete and x.shape[i].value == n):
                return None
            d = const(length) if x.shape[i].literal else Dim(length, None, length)
            return Val(x.expr, x.dtype, x.shape[:i] + (d,) + x.shape[i + 1:])
        return Stage(f"narrow({i}, {spelled}, {length})", apply)

    def pieces_op(self, v: Val) -> Stage | None:
        """split or chunk in a pipe: the first piece flows on."""
        known = [i for i, d in enumerate(v.shape) if d.literal and d.value >= 1]
        if not known:
            return None
        i = self.d.choice(known)
        n = v.shape[i].value
        if self.d.chance(0.5):
            size = self.d.int(1, n + 1)
            first = min(size, n)
            text = self.d.choice([f"split({size}, dim={i})", f"split({size}, {i})"])
        else:
            c = self.d.int(1, 4)
            first = -(-n // c)
            text = f"chunk({c}, {i})"
        rank = v.rank

        def apply(x):
            if x.rank != rank or not (x.shape[i].literal and x.shape[i].value == n):
                return None
            return Val(x.expr, x.dtype, x.shape[:i] + (const(first),) + x.shape[i + 1:])
        return Stage(text, apply)

    def repeat_op(self, v: Val) -> Stage | None:
        if v.rank >= 4:
            return None
        lead = [self.d.int(1, 2) for _ in range(self.d.int(0 if v.rank else 1, 1))]
        counts = [self.d.choice([1, 1, 2]) for _ in range(v.rank)]
        rank = v.rank

        def apply(x):
            if x.rank != rank:
                return None
            shape = tuple(const(c) for c in lead) + tuple(d if c == 1 else product([d, const(c)])
                                                          for d, c in zip(x.shape, counts))
            return Val(x.expr, x.dtype, shape)
        return Stage(f"repeat({', '.join(map(str, lead + counts))})", apply)

    def cast_op(self, v: Val) -> Stage:
        # to a float dtype only: a float made integer would be no id an Embedding may read
        target = self.d.choice(["float32", "float64"])
        text = self.d.choice({"float32": ["float", "to(float32)", 'to("float")'],
                              "float64": ["double", "to(float64)"]}[target])
        return Stage(text, lambda x: Val(x.expr, target, x.shape))

    def contiguous_op(self, v: Val) -> Stage:
        return Stage("contiguous", lambda x: x)

    # convolution and pooling
    def conv(self, v: Val) -> Stage | None:
        n = _spatial_dims(self.d, v)
        if v.rank < n + 1:
            return None
        spatial = v.shape[-n:]
        text_out, out = self.size(1, 8)
        k = [self.d.int(1, 5) for _ in range(n)]
        s = [self.d.choice([1, 1, 2, 3]) for _ in range(n)]
        dil = [self.d.choice([1, 1, 2]) for _ in range(n)]
        p = [self.d.int(0, 2) for _ in range(n)]
        windows = self.window_params(spatial, ("kernel_size", "stride", "padding", "dilation"))
        for name, xs in zip(("kernel_size", "stride", "padding", "dilation"), (k, s, p, dil)):
            if name in windows:
                xs[:] = [xs[0]] * n  # one parameter gives every spatial dim's
        for i, L in enumerate(spatial):
            while L.value + 2 * p[i] < dil[i] * (k[i] - 1) + 1:
                if dil[i] > 1:
                    dil[i] = 1
                elif k[i] > 1:
                    k[i] -= 1
                else:
                    p[i] += 1
        windows = self.name_windows(windows, {"kernel_size": k, "stride": s, "padding": p, "dilation": dil})
        in_ch = v.shape[-n - 1]
        groups = 1
        if in_ch.concrete and out.concrete and self.d.chance(0.25):
            for g in (3, 2):
                if in_ch.value % g == 0 and out.value % g == 0:
                    groups = g
                    break
        name = f"Conv{n}d"
        tup = (lambda xs: str(xs[0]) if n == 1 or len(set(xs)) == 1 else "(" + ", ".join(map(str, xs)) + ")")
        args = [text_out, windows.get("kernel_size", tup(k))] + _window_args(
            windows, tup, (("stride", s, 1), ("padding", p, 0), ("dilation", dil, 1)))
        if groups > 1:
            args.append(f"groups={groups}")
        if self.d.chance(0.2):
            args.append("bias=false")
        if self.d.chance(0.1) and all(x >= 1 for x in p) and all(2 * p[i] < k[i] for i in range(n)):
            args.append('padding_mode="reflect"' if all(L.value > p[i] for i, L in enumerate(spatial)) else
                        'padding_mode="zeros"')
        if self.d.chance(0.15) and in_ch.text:
            args.append(f"in_channels={in_ch.text}")
        text = f"{name}({', '.join(args)})"
        kk, ss, pp, dd = tuple(k), tuple(s), tuple(p), tuple(dil)
        in_key = in_ch.key

        def apply(x):
            if not x.floating or x.rank not in (n + 1, n + 2) or _batch_behind(x, x.rank - n):
                return None  # (a window over a dim that holds the batch: check refuses it by design)
            if "in_channels=" in text and x.shape[-n - 1].key != in_key:
                return None
            if groups > 1 and not (x.shape[-n - 1].concrete and x.shape[-n - 1].value % groups == 0):
                return None
            outs = []
            for i, L in enumerate(x.shape[-n:]):
                o = _conv_out(L, kk[i], ss[i], pp[i], dd[i])
                if o is None or windows and not L.concrete:
                    return None  # (a window from a parameter: over sizes the class knows)
                if 'reflect' in text and L.value <= pp[i]:
                    return None
                outs.append(_by_params(o) if windows else o)
            return Val(x.expr, x.dtype, x.shape[:-n - 1] + (out,) + tuple(outs))
        return Stage(text, apply, reads=(-n - 1,))

    def window_params(self, spatial, names) -> dict[str, str]:
        """Which window arguments of a root network's convolution or pool its parameters
        give (its class computes the sizes they leave, and takes other values of them):
        over sizes the class is given (concrete), sometimes."""
        if not (self.opts.params and self.depth == 0 and all(L.concrete for L in spatial) and self.d.chance(0.25)):
            return {}
        chosen = [name for name in names if self.d.chance(0.5)] or [self.d.choice(names)]
        return {name: "" for name in chosen}

    def name_windows(self, windows: dict, values: dict) -> dict[str, str]:
        """The parameters for the chosen window arguments (declared with their values as
        defaults); none where the fitting made the dims differ."""
        if any(len(set(values[name])) > 1 for name in windows):
            return {}
        out = {}
        for name in windows:
            param = self.fresh({"kernel_size": ["k", "kernel", "ks"], "stride": ["s", "step", "stride"],
                                "padding": ["pad", "p", "padding"], "dilation": ["dil", "dilation"]}[name])
            self.params.append((param, str(values[name][0])))
            out[name] = param
        return out

    def conv_same(self, v: Val) -> Stage | None:
        """A convolution that keeps the spatial sizes: only the channels may change."""
        n = {4: 2, 5: 3}.get(v.rank, 1)
        if v.rank < n + 1:
            return None
        k = self.d.choice([1, 3, 5])
        c = v.shape[-n - 1]
        if self.d.chance(0.5) and c.text:
            text_out, out = c.text, c
        else:
            text_out, out = self.size(1, 8)
        pad = self.d.choice(['"same"', str((k - 1) // 2)])
        text = f"Conv{n}d({text_out}, {k}, padding={pad})"

        def apply(x):
            if not x.floating or x.rank not in (n + 1, n + 2) or _batch_behind(x, x.rank - n):
                return None  # (a window over a dim that holds the batch: check refuses it by design)
            return Val(x.expr, x.dtype, x.shape[:-n - 1] + (out,) + x.shape[-n:])
        return Stage(text, apply, reads=(-n - 1,))

    def conv_transpose(self, v: Val) -> Stage | None:
        """ConvTranspose1d/2d/3d: sizes grow with the stride; kept small."""
        n = _spatial_dims(self.d, v)
        if v.rank < n + 1:
            return None
        text_out, out = self.size(1, 6)
        k = [self.d.int(1, 4) for _ in range(n)]
        s = [self.d.choice([1, 1, 2, 3]) for _ in range(n)]
        dil = [self.d.choice([1, 1, 2]) for _ in range(n)]
        p = [self.d.int(0, 2) for _ in range(n)]
        op = [self.d.int(0, max(s[i], dil[i]) - 1) if self.d.chance(0.4) else 0 for i in range(n)]
        for i, L in enumerate(v.shape[-n:]):
            while p[i] and _transposed_size(L.value, k[i], s[i], p[i], dil[i], op[i]) < 1:
                p[i] -= 1
        in_ch = v.shape[-n - 1]
        groups = 1
        if in_ch.concrete and out.concrete and self.d.chance(0.25):
            groups = next((g for g in (2, 3) if in_ch.value % g == 0 and out.value % g == 0), 1)
        args = [text_out, _tup(k)] + [f"{name}={_tup(xs)}" for name, xs, default in (
            ("stride", s, 1), ("padding", p, 0), ("output_padding", op, 0), ("dilation", dil, 1))
            if any(x != default for x in xs)]
        args += [f"groups={groups}"] * (groups > 1) + ["bias=false"] * self.d.chance(0.2)
        text = f"ConvTranspose{n}d({', '.join(args)})"

        def apply(x):
            if not x.floating or x.rank not in (n + 1, n + 2) or _batch_behind(x, x.rank - n):
                return None  # (a window over a dim that holds the batch: check refuses it by design)
            if groups > 1 and not (x.shape[-n - 1].concrete and x.shape[-n - 1].value % groups == 0):
                return None
            outs = [_conv_transpose_out(L, k[i], s[i], p[i], dil[i], op[i]) for i, L in enumerate(x.shape[-n:])]
            if None in outs or _volume(outs) > 4096:  # keep repeated upsampling small
                return None
            return Val(x.expr, x.dtype, x.shape[:-n - 1] + (out,) + tuple(outs))
        return Stage(text, apply, reads=(-n - 1,))

    def pool(self, v: Val) -> Stage | None:
        n = 2 if v.rank == 4 or (v.rank == 3 and self.d.chance(0.4)) else 1
        if v.rank < n + 1:
            return None
        spatial = v.shape[-n:]
        kind = self.d.choice(["MaxPool", "AvgPool"])
        k = [self.d.int(1, 4) for _ in range(n)]
        windows = self.window_params(spatial, ("kernel_size", "stride", "padding", "dilation")[:4 if kind == "MaxPool"
                                                                                              else 3])
        if "kernel_size" in windows:
            k = [min(k[0], *(L.value for L in spatial))] * n
        for i, L in enumerate(spatial):
            k[i] = min(k[i], L.value)
        stride = [self.d.int(1, 3) for _ in range(n)] if self.d.chance(0.6) or "stride" in windows else None
        p = [self.d.int(0, k[i] // 2) for i in range(n)]
        dil = [self.d.choice([1, 1, 2]) for _ in range(n)] if kind == "MaxPool" else [1] * n
        for name, xs in (("stride", stride), ("padding", p), ("dilation", dil)):
            if name in windows:
                xs[:] = [min(xs)] * n  # one parameter gives every spatial dim's
        for i, L in enumerate(spatial):
            while L.value + 2 * p[i] < dil[i] * (k[i] - 1) + 1:
                dil[i] = 1
                if L.value + 2 * p[i] < k[i]:
                    k[i] -= 1
                    p[i] = min(p[i], k[i] // 2)
        windows = self.name_windows(windows, {"kernel_size": k, "stride": stride, "padding": p, "dilation": dil})
        ceil = all(L.literal for L in spatial) and self.d.chance(0.3)
        tup = (lambda xs: str(xs[0]) if n == 1 or len(set(xs)) == 1 else "(" + ", ".join(map(str, xs)) + ")")
        args = [windows.get("kernel_size", tup(k))]
        if stride:
            st = windows.get("stride", tup(stride))
            args.append(self.d.choice([f"stride={st}", st]) if not any(p) and not ceil and "padding" not in windows
                        else f"stride={st}")
        args += _window_args(windows, tup, (("padding", p, 0), ("dilation", dil, 1)))
        if ceil:
            args.append("ceil_mode=true")
        if kind == "AvgPool" and self.d.chance(0.2):
            args.append("count_include_pad=false")
        text = f"{kind}{n}d({', '.join(args)})"
        ss = tuple(stride) if stride else tuple(k)

        def apply(x):
            if not x.floating or x.rank not in (n + 1, n + 2) or _batch_behind(x, x.rank - n):
                return None  # (a window over a dim that holds the batch: check refuses it by design)
            outs = []
            for i, L in enumerate(x.shape[-n:]):
                if ceil and not L.literal:
                    return None
                o = _pool_out(L, k[i], ss[i], p[i], dil[i], ceil)
                if o is None or windows and not L.concrete:
                    return None  # (a window from a parameter: over sizes the class knows)
                outs.append(_by_params(o) if windows else o)
            return Val(x.expr, x.dtype, x.shape[:-n] + tuple(outs))
        return Stage(text, apply)

    def adaptive(self, v: Val) -> Stage | None:
        n = 2 if v.rank == 4 or (v.rank == 3 and self.d.chance(0.4)) else 1
        if v.rank < n + 1:
            return None
        sizes = [self.d.choice([None, 1, 2, 3]) if n == 2 else self.d.choice([1, 2, 3, 4]) for _ in range(n)]
        if all(s is None for s in sizes):
            sizes[0] = 2
        kind = self.d.choice(["AdaptiveAvgPool", "AdaptiveMaxPool"])
        if n == 1:
            arg = str(sizes[0])
        else:
            arg = "(" + ", ".join("None" if s is None else str(s) for s in sizes) + ")"
            if None in sizes:
                return None  # the language has no None literal
            if sizes[0] == sizes[1] and self.d.chance(0.5):
                arg = str(sizes[0])

        def apply(x):
            if not x.floating or x.rank not in (n + 1, n + 2) or _batch_behind(x, x.rank - n):
                return None  # (a window over a dim that holds the batch: check refuses it by design)
            return Val(x.expr, x.dtype, x.shape[:-n] + tuple(const(s) for s in sizes))
        return Stage(f"{kind}{n}d({arg})", apply)

    # attention
    def attention(self, v: Val) -> Stage | None:
        """MultiheadAttention (self-attention) or a TransformerEncoderLayer: keeps the shape."""
        if not v.floating or v.rank not in (2, 3) or not v.shape[-1].concrete:
            return None
        E = v.shape[-1]
        h = self.d.choice([x for x in (1, 2, 3, 4) if E.value % x == 0])
        bfs = [bf for bf in (False, True) if _layout_ok(v, bf)]
        if not bfs:
            return None
        bf = self.d.choice(bfs)
        args = [str(h)]
        if self.d.chance(0.5):
            kind = "TransformerEncoderLayer"
            args.append(self.d.choice([str(self.d.int(1, 12)), f"dim_feedforward={self.d.int(1, 12)}"]))
            options = ['activation="gelu"', "norm_first=true", "bias=false", "dropout=0.0", "layer_norm_eps=1e-6"]
        else:
            kind = "MultiheadAttention"
            options = ["bias=false", "add_bias_kv=true", "add_zero_attn=true", "dropout=0.1", "need_weights=false",
                       "average_attn_weights=false"]
        args += [o for o in options if self.d.chance(0.2)]
        if bf:
            args.append("batch_first=true")
        text = f"{kind}({', '.join(args)})"

        def apply(x):
            ok = x.floating and x.rank in (2, 3) and x.shape[-1].key == E.key and _layout_ok(x, bf)
            return x if ok else None
        return Stage(text, apply)

    def attention_binding(self, v: Val):
        """A bound MultiheadAttention: sometimes over a key (and value) of its own, with masks,
        exposing ``output`` and ``weights``."""
        if self.depth != 0 or not v.floating or v.rank not in (2, 3) or not v.shape[-1].concrete:
            return None
        bfs = [bf for bf in (False, True) if _layout_ok(v, bf)]
        if not bfs:
            return None
        bf = self.d.choice(bfs)
        E = v.shape[-1].value
        h = self.d.choice([x for x in (1, 2, 4) if E % x == 0])
        L, N = (v.shape[0], None) if v.rank == 2 else ((v.shape[1], v.shape[0]) if bf else (v.shape[0], v.shape[1]))
        args = [str(h)] + (["batch_first=true"] if bf else [])
        S = L
        if (N is None or N.text) and self.d.chance(0.5):
            S = const(self.d.int(1, 5))
            args += self.attention_memory(v.dtype, S, N, bf, E)
        if L.text and S.text and self.d.chance(0.3):
            mask = self.fresh(["mask", "attn_mask", "causal"])
            self.inputs.append(f"    input {mask}: {self.d.choice(['bool', v.dtype])}[{L.text}, {S.text}]")
            args.append(f"attn_mask={mask}")
        if S.text and (N is None or N.text) and self.d.chance(0.3):
            pad = self.fresh(["pad", "padding", "kpm"])
            dims = [S.text] if N is None else [N.text, S.text]
            self.inputs.append(f"    input {pad}: bool[{', '.join(dims)}]")
            args.append(f"key_padding_mask={pad}")
        extra = 0
        for flag in ("add_bias_kv", "add_zero_attn"):
            if self.d.chance(0.2):
                args.append(f"{flag}=true")
                extra += 1
        weights = self.d.chance(0.8)
        average = not self.d.chance(0.3)
        if not weights:
            args.append("need_weights=false")
        elif not average:
            args.append("average_attn_weights=false")
        name = self.fresh()
        self.lines.append(f"    {name} = {v.expr} -> MultiheadAttention({', '.join(args)})")
        out = Val(f"{name}.output" if self.d.chance(0.5) else name, v.dtype, v.shape)
        vals = [out]
        if weights:
            shape = (L, _sum_dims([S, const(extra)]) if extra else S)
            shape = shape if average else (const(h),) + shape
            vals.append(Val(f"{name}.weights", v.dtype, shape if N is None else (N,) + shape))
        self.values.extend(vals)
        nxt = self.d.choice(vals) if self.d.chance(0.3) else out
        return nxt, [x for x in vals if x is not nxt and self.d.chance(0.3)]

    def attention_memory(self, dtype: str, S: Dim, N: Dim | None, bf: bool, E: int) -> list[str]:
        """A key (and maybe a value) as inputs of the network: their arguments."""
        kdim = self.d.choice([E, self.d.int(1, 6)])
        key = self.fresh(["key", "memory", "mem", "k"])
        lead = [S.text] if N is None else ([N.text, S.text] if bf else [S.text, N.text])
        self.inputs.append(f"    input {key}: {dtype}[{', '.join(lead + [str(kdim)])}]")
        args = [f"key={key}"] + ([f"kdim={kdim}"] if kdim != E else [])
        if self.d.chance(0.5):
            vdim = self.d.choice([E, self.d.int(1, 6)])
            value = self.fresh(["value", "val", "v"])
            self.inputs.append(f"    input {value}: {dtype}[{', '.join(lead + [str(vdim)])}]")
            args += [f"value={value}"] + ([f"vdim={vdim}"] if vdim != E else [])
        elif kdim != E:
            args.append(f"vdim={kdim}")  # the value is the key
        return args
    def lppool(self, v: Val) -> Stage | None:
        n = 2 if v.rank == 4 or (v.rank == 3 and self.d.chance(0.4)) else 1
        if v.rank < n + 1:
            return None
        k = [min(self.d.int(1, 3), L.value) for L in v.shape[-n:]]
        s = [self.d.int(1, 3) for _ in range(n)]
        ceil = all(L.literal for L in v.shape[-n:]) and self.d.chance(0.3)
        tup = (lambda xs: str(xs[0]) if n == 1 or len(set(xs)) == 1 else "(" + ", ".join(map(str, xs)) + ")")
        text = f"LPPool{n}d({self.d.choice(['2', '1.5', '3.0'])}, {tup(k)}, stride={tup(s)}" + \
            (", ceil_mode=true)" if ceil else ")")

        def apply(x):
            if not x.floating or x.rank not in (n + 1, n + 2) or (ceil and not all(L.literal for L in x.shape[-n:])) \
                    or _batch_behind(x, x.rank - n):
                return None
            outs = [_pool_out(L, k[i], s[i], 0, 1, ceil) for i, L in enumerate(x.shape[-n:])]
            return None if None in outs else Val(x.expr, x.dtype, x.shape[:-n] + tuple(outs))
        return Stage(text, apply)

    def upsample(self, v: Val) -> Stage | None:
        """Upsample or interpolate of [N, C, L] or [N, C, H, W]: by a size, or by scales that
        are exact for symbolic sizes (p / 2**k) and any scale for literal ones."""
        n = v.rank - 2
        modes = ["nearest", "nearest-exact"] + (["linear"] if n == 1 else ["bilinear", "bicubic"])
        mode = self.d.choice(modes)
        align = ", align_corners=true" if mode in ("linear", "bilinear", "bicubic") and self.d.chance(0.3) else ""
        form = self.d.choice(["Upsample", "interpolate"])
        if all(L.literal for L in v.shape[2:]) and self.d.chance(0.3):
            sizes = tuple(self.d.int(1, 9) for _ in range(n))
            arg = f"size={sizes[0] if n == 1 else sizes}"
            rank = v.rank
            return Stage(f'{form}({arg}, mode="{mode}"{align})',
                         lambda x: Val(x.expr, x.dtype, x.shape[:2] + tuple(const(z) for z in sizes))
                         if x.floating and x.rank == rank else None)
        scales = [self.d.choice([0.5, 1.5, 2.0, 2.5] + ([0.7, 1.3, 0.29] if L.literal else [])) for L in v.shape[2:]]
        arg = repr(scales[0]) if len(set(scales)) == 1 else "(" + ", ".join(map(repr, scales)) + ")"
        rank = v.rank

        def apply(x):
            if not x.floating or x.rank != rank:
                return None
            outs = [_scaled(L, s) for L, s in zip(x.shape[2:], scales)]
            return None if None in outs else Val(x.expr, x.dtype, x.shape[:2] + tuple(outs))
        return Stage(f'{form}(scale_factor={arg}, mode="{mode}"{align})', apply)

    def pixel_shuffle(self, v: Val) -> Stage | None:
        c, h, w = v.shape[-3:]
        options = [("shuffle", r) for r in (2, 3) if c.concrete and c.value % (r * r) == 0]
        options += [("unshuffle", r) for r in (2, 3) if h.concrete and w.concrete and h.value % r == w.value % r == 0]
        if not options:
            return None
        which, r = self.d.choice(options)
        if which == "shuffle":

            def shuffle(x):
                if x.rank < 3 or x.shape[-3].key != c.key:
                    return None
                return Val(x.expr, x.dtype, x.shape[:-3] + (_divided(c, r * r), product([x.shape[-2], const(r)]),
                                                            product([x.shape[-1], const(r)])))
            return Stage(f"PixelShuffle({r})", shuffle)

        def unshuffle(x):
            if x.rank < 3 or (x.shape[-2].key, x.shape[-1].key) != (h.key, w.key):
                return None
            return Val(x.expr, x.dtype, x.shape[:-3] + (product([x.shape[-3], const(r * r)]), _divided(h, r),
                                                        _divided(w, r)))
        return Stage(f"PixelUnshuffle(downscale_factor={r})", unshuffle)

    def unflatten(self, v: Val) -> Stage | None:
        if v.rank == 0 or v.rank >= 5:
            return None
        i = self.d.int(0, v.rank - 1)
        size = v.shape[i]
        if size.concrete:
            parts = [const(f) for f in _factor(self.d, size.value)]
            texts = [str(p.value) for p in parts]
            if self.d.chance(0.4):
                texts[self.d.int(0, len(texts) - 1)] = "-1"
        else:
            parts, texts = [const(1), size], ["1", "-1"]
        dim = i - v.rank if self.d.chance(0.4) else i
        sizes = "(" + ", ".join(texts) + ("," if len(texts) == 1 else "") + ")"
        key = size.key
        return Stage(f"Unflatten({dim}, {sizes})",
                     lambda x: Val(x.expr, x.dtype, x.shape[:i] + tuple(parts) + x.shape[i + 1:])
                     if x.rank == v.rank and x.shape[i].key == key else None)

    def glu(self, v: Val) -> Stage | None:
        even = [i for i, d in enumerate(v.shape) if d.concrete and d.value % 2 == 0]
        if not even:
            return None
        i = self.d.choice(even)
        size = v.shape[i]
        rank = v.rank
        text = "GLU" if i == rank - 1 and self.d.chance(0.5) else f"GLU({self.d.choice([i, i - rank])})"
        return Stage(text, lambda x: Val(x.expr, x.dtype, x.shape[:i] + (_divided(size, 2),) + x.shape[i + 1:])
                     if x.floating and x.rank == rank and x.shape[i].key == size.key else None)

    def pad(self, v: Val) -> Stage | None:
        """A padding layer or the pad op over the last one or two dims; pads from -1 to 2
        that torch's rules for the mode allow at these sizes."""
        n = 2 if v.rank >= 3 and self.d.chance(0.5) else 1
        family = self.d.choice(["Zero", "Constant", "Reflection", "Replication", "op"])
        mode = {"Reflection": "reflect", "Replication": "replicate"}.get(family, "constant")
        if family == "op":
            mode = self.d.choice(["constant", "constant", "reflect", "replicate", "circular"])
        frame = mode != "constant"
        if v.rank < max(n, 1) or (frame and v.rank not in (n + 1, n + 2)) or (frame and not v.floating):
            return None
        pads = []
        for L in reversed(v.shape[-n:]):  # the last dim first, as torch lists them
            pair = (self.d.int(-1, 2), self.d.int(-1, 2))
            if not _pad_ok(mode, L.value, *pair):
                pair = (0, 1) if _pad_ok(mode, L.value, 0, 1) else (0, 0)
            pads += pair
        text = _pad_text(family, n, mode, tuple(pads), self.d)
        rank = v.rank
        keys = tuple(L.key for L in v.shape[-n:])

        def apply(x):
            if x.rank != rank or tuple(L.key for L in x.shape[-n:]) != keys or _batch_behind(x, rank - n):
                return None  # a pad over the batch: check refuses it by design
            shape = list(x.shape)
            for k in range(n):
                shape[rank - 1 - k] = _padded(x.shape[rank - 1 - k], pads[2 * k] + pads[2 * k + 1])
            return Val(x.expr, x.dtype, tuple(shape))
        return Stage(text, apply)

    def embedding_bag(self, v: Val) -> Stage:
        text_e, e = self.size(1, 8)
        mode = self.d.choice(["", ', mode="sum"', ', mode="max"'])
        return Stage(f"EmbeddingBag({self.d.int(2, 20)}, {text_e}{mode})",
                     lambda x: Val(x.expr, "float32", (x.shape[0], e))
                     if x.dtype == "int64" and x.rank == 2 and not _holds_batch(x.shape[1]) else None)

    # recurrent
    def recurrent(self, v: Val) -> tuple[Stage, dict] | None:
        if not v.floating or v.rank not in (2, 3):
            return None
        kind = self.d.choice(["RNN", "LSTM", "GRU"])
        bfs = [bf for bf in (False, True) if _layout_ok(v, bf)]
        if not bfs:
            return None
        bf = self.d.choice(bfs)
        text_h, hidden = self.size(2, 8)
        layers = self.d.choice([1, 1, 2])
        bi = self.d.chance(0.4)
        args = [text_h]
        if layers != 1:
            args.append(f"num_layers={layers}")
        if bf:
            args.append("batch_first=true")
        if bi:
            args.append("bidirectional=true")
        if layers > 1 and self.d.chance(0.3):
            args.append("dropout=0.1")
        if kind == "RNN" and self.d.chance(0.3):
            args.append('nonlinearity="relu"')
        if self.d.chance(0.15):
            args.append("bias=false")
        proj = None
        if kind == "LSTM" and hidden.concrete and hidden.value > 2 and self.d.chance(0.3):
            proj = self.d.int(1, hidden.value - 1)
            args.append(f"proj_size={proj}")
        D = 2 if bi else 1
        h_out = const(proj) if proj else hidden
        batched = v.rank == 3
        state_shape = None
        if batched:
            b_axis = 0 if bf else 1
            state_shape = (const(D * layers), v.shape[b_axis], h_out)
        else:
            state_shape = (const(D * layers), h_out)
        return kind, args, bf, hidden, h_out, D, layers, state_shape

    # -- chains ------------------------------------------------------------------------------------
    def chain(self, v: Val, n: int, only_preserving=False, keep_last=False) -> tuple[list[str], Val]:
        """Up to ``n`` stages from ``v``, some grouped and repeated."""
        parts: list[str] = []
        for _ in range(n):
            if self.d.chance(0.15):
                group, w = self.group(v, only_preserving, keep_last)
                if group:
                    parts.append(group)
                    v = w
                    continue
            st = self.stage(v, only_preserving, keep_last)
            if st is None:
                break
            w = st.apply(v)
            text = st.text
            if self.d.chance(0.1):
                again = st.apply(w)
                if again is not None and again.shape == w.shape:
                    count = self.d.int(2, 3)
                    text = f"{text} * {count}"
            alias = None
            if self.depth == 0 and self.d.chance(0.08):
                alias = self.fresh(["fc", "conv", "norm", "act", "lin", "layer_a", "layer_b", "block"])
            elif self.opts.extended and self.d.chance(0.1):
                alias = self.extended_alias()
            if alias:
                text = f"{text} as {alias}"
                self.aliases.append(alias)
            if self.d.chance(0.1) and all(dd.text for dd in w.shape):
                text += f" : {_type(w, self.d.chance(0.3))}"
            elif self.opts.extended and all(dd.text for dd in w.shape) and self.d.chance(0.25):
                text += f" : {self.assertion(w)}"
            parts.append(text)
            v = w
        return parts, v

    def source(self, v: Val) -> str:
        """How a chain starts from ``v``: its name, with a shape assertion sometimes (extended)."""
        if self.opts.extended and all(dd.text for dd in v.shape) and self.d.chance(0.15):
            return f"{v.expr} : {self.assertion(v)}"
        return v.expr

    def extended_alias(self) -> str:
        """An `as` name: new, one this network already gave (``duplicate-as``: two modules
        of one name, unless the two layers follow each other), or a binding's name."""
        if self.aliases and self.d.chance(0.3):
            self.traps.add("duplicate-as")
            return self.d.choice(self.aliases)
        bound = [v.expr for v in self.values if "." not in v.expr and v.expr not in self.inputs_names()]
        if bound and self.d.chance(0.2):
            self.traps.add("as-binding-name")
            return self.d.choice(bound)
        return self.fresh(["fc", "conv", "norm", "act", "lin", "layer_a", "layer_b", "block"])

    def inputs_names(self) -> set[str]:
        return {line.split()[1].rstrip(":") for line in self.inputs}

    def assertion(self, v: Val) -> str:
        """A true shape assertion for ``v``: symbols and parameters by name, a parameter's
        size sometimes by its value (``assert-pins-param``: true for that value only), a
        number sometimes as a sum."""
        texts = []
        for dd in v.shape:
            if dd.concrete and dd.text != str(dd.value) and self.d.chance(0.3):
                self.traps.add("assert-pins-param")
                texts.append(str(dd.value))
            elif dd.literal and dd.value > 1 and self.d.chance(0.15):
                texts.append(f"{dd.value - 1} + 1")
            else:
                texts.append(dd.text)
        body = "[" + ", ".join(texts) + "]"
        return v.dtype + body if self.d.chance(0.3) else body

    def group(self, v: Val, only_preserving: bool, keep_last: bool) -> tuple[str | None, Val]:
        """``(A -> B) * N``: stages that, applied again, keep their result's shape."""
        stages = []
        w = v
        for _ in range(self.d.int(1, 3)):
            st = self.stage(w, only_preserving, keep_last)
            if st is None:
                break
            stages.append(st)
            w = st.apply(w)
        if not stages:
            return None, v
        count = 1
        x = w
        for _ in range(self.d.int(1, 2)):
            y = x
            for st in stages:
                y = st.apply(y) if y is not None else None
            if y is None or y.shape != x.shape:
                break
            count += 1
            x = y
        text = "(" + " -> ".join(st.text for st in stages) + ")"
        if count > 1:
            text += f" * {count}"
        return text, x

    def branch_to(self, v: Val, cat_dim: int | None) -> tuple[str, Val]:
        """A chain from ``v`` that keeps every dim but ``cat_dim`` (None: every dim)."""
        rank = v.rank
        last = cat_dim is not None and cat_dim % rank == rank - 1
        channel = cat_dim is not None and rank in (3, 4) and cat_dim % rank == 1
        parts = []
        w = v
        for _ in range(self.d.int(0, 3)):
            if last and v.floating and self.d.chance(0.5):
                st = _sized_by_model(self.linear(w))
            elif channel and v.floating and self.opts.conv and _batch_in_front(w) and self.d.chance(0.5):
                st = _sized_by_model(self.conv_same(w))
            elif v.floating:
                st = self.stage(w, only_preserving=True, keep_last=True)
            else:
                st = None
            if st is None:
                continue
            nxt = st.apply(w)
            if nxt is None:
                continue
            parts.append(st.text)
            w = nxt
        text = w.expr if not parts else f"{v.expr} -> " + " -> ".join(parts)
        return text, Val(v.expr, w.dtype, w.shape)

    # -- the body ------------------------------------------------------------------------------------
    def bind(self, chain_text: str, result: Val, names: dict | None = None) -> Val:
        name = self.fresh()
        self.lines.append(f"    {name} = {chain_text}")
        val = Val(name, result.dtype, result.shape)
        self.values.append(val)
        return val

    def body(self, start: Val, steps: int) -> list[Val]:
        """Bindings from ``start``: chains, graphs, recurrent layers and networks as stages."""
        v = start
        outs: list[Val] = []
        budget = steps
        while budget > 0:
            r = self.d.int(0, 99)
            if r < 45:
                n = self.d.int(1, min(4, budget))
                parts, w = self.chain(v, n)
                if not parts:
                    budget -= 1
                    continue
                v = self.bind(f"{self.source(v)} -> " + " -> ".join(parts), w)
                budget -= len(parts)
            elif r < 60:
                v = self.merge(v)
                budget -= 1
            elif r < 74 and (self.opts.recurrent or self.opts.attention):
                attention = self.opts.attention and (r < 66 or not self.opts.recurrent)
                got = self.attention_binding(v) if attention else self.recurrent_binding(v)
                budget -= 1
                if got is not None:
                    v, others = got
                    outs.extend(others)
            elif r < 84 and self.opts.blocks and self.depth <= 1:
                w = self.block_use(v)
                budget -= 1
                if w is not None:
                    v = w
            elif r < 92 and len(self.values) > 1:
                v = self.d.choice(self.values)  # reuse an earlier binding
                budget -= 1
            else:
                if self.opts.recurrent and v.floating and v.rank in (1, 2) and self.d.chance(0.5):
                    w = self.cell_binding(v)
                    if w is not None:
                        v = w
                elif self.opts.recurrent and v.floating and v.rank == 3 and self.d.chance(0.5):
                    v = self.scan_binding(v) or v
                budget -= 1
        outs.append(v)
        return outs

    def merge(self, v: Val) -> Val:
        """cat or add of branches from ``v`` (inline chains or bound values), or of ``v``
        and a tensor the network declares."""
        if self.d.chance(0.2):
            w = self.declared_binding(v)
            if w is not None:
                return w
        if v.rank == 0 or (not v.floating and self.d.chance(0.5)):
            text, w = self.branch_to(v, None)
            return self.bind(f"{text} -> unsqueeze(0)" if v.rank == 0 else text,
                             Val(v.expr, w.dtype, ((const(1),) + w.shape) if v.rank == 0 else w.shape))
        r = self.d.int(0, 9)
        if v.floating and r < 2:
            return self.product_merge(v)
        if v.floating and r < 3:
            return self.stack_merge(v)
        if r < 4 and any(d.literal and d.value >= 2 for d in v.shape):
            return self.pieces_binding(v)
        if self.d.chance(0.5) and v.floating:
            return self.elementwise_merge(v)
        dim = self.d.int(-v.rank, v.rank - 1)
        branches = [self.branch_to(v, dim) for _ in range(self.d.int(1, 3))]
        k = dim % v.rank
        total = []
        texts = []
        for text, w in branches:
            if any(w.shape[i].key != branches[0][1].shape[i].key for i in range(v.rank) if i != k):
                return v
            total.append(w.shape[k])
            texts.append(text)
        if self.d.chance(0.3) and len(texts) > 1:
            bound = self.bind(texts[-1], branches[-1][1])
            texts[-1] = bound.expr
        merged = _sum_dims(total)
        shape = branches[0][1].shape[:k] + (merged,) + branches[0][1].shape[k + 1:]
        dim_text = self.d.choice([f"dim={dim}", str(dim)]) if dim != 0 else self.d.choice(["dim=0", "0", ""])
        args = ", ".join(texts + ([dim_text] if dim_text else []))
        return self.bind(f"cat({args})", Val(v.expr, v.dtype, shape))

    def declare(self, dtype: str, sizes: list[str], init: str | None = None) -> str:
        """A `param` (floats) or `buffer` declaration of this network, with ``init`` or a
        random one; its name."""
        name = self.fresh(["pos_embedding", "class_token", "scale", "shift", "gamma", "offset", "table",
                           "running", "prior"])
        role = "buffer" if dtype == "int64" or self.d.chance(0.3) else "param"
        spelled = {"float32": self.d.choice(["float", "float32"]), "float64": self.d.choice(["double", "float64"]),
                   "int64": self.d.choice(["long", "int64"])}[dtype]
        inits = ["", " = zeros", " = ones", " = full(2)", " = full(0.5)", " = normal(std=0.02)", " = normal(0.0, 1.0)",
                 " = uniform(a=-0.1, b=0.1)", " = trunc_normal(std=0.02)", " = trunc_normal(0.0, 1.0, -2.0, 2.0)",
                 " = uniform"]
        self.lines.append(f"    {role} {name}: {spelled}[{', '.join(sizes)}]{self.d.choice(inits) if init is None else init}")
        return name

    def declared_binding(self, v: Val) -> Val | None:
        """``v`` and a tensor the network declares: broadcast into it elementwise (a scale, a
        position embedding), or a class token expanded over the batch and put first."""
        if v.floating and v.rank >= 2 and self.d.chance(0.4):
            return self.class_token(v)
        keep = self.d.int(0, v.rank)  # the declared tensor's rank: v's trailing dims, some of them 1
        sizes = [d.text if d.concrete and d.text and self.d.chance(0.7) else "1" for d in v.shape[v.rank - keep:]]
        if v.floating:
            name = self.declare(v.dtype, sizes)
            op = self.d.choice(["+", "*", "-", "add", "mul"])
        else:  # integer ids stay ids an Embedding may read (0 and 1): plus zeros, times ones
            op = self.d.choice(["+", "*", "add", "mul"])
            name = self.declare(v.dtype, sizes, self.d.choice(["", " = zeros"]) if op in ("+", "add") else " = ones")
        a, b = (v.expr, name) if self.d.chance(0.6) else (name, v.expr)
        text = f"{op}({a}, {b})" if op.isalpha() else f"{a} {op} {b}"
        return self.bind(text, Val(v.expr, v.dtype, v.shape))

    def class_token(self, v: Val) -> Val | None:
        """`cat(token -> expand(n, -1, ...), v, dim=1)`: a learned first position."""
        first, second = v.shape[0], v.shape[1]
        if not (first.text or "").isidentifier() and not first.literal:
            return None
        if any(not (d.concrete and d.text) for d in v.shape[2:]) or _holds_batch(second):
            return None
        name = self.declare(v.dtype, ["1", "1"] + [d.text for d in v.shape[2:]])
        expand = ", ".join([first.text] + ["-1"] * (v.rank - 1))
        return self.bind(f"cat({name} -> expand({expand}), {v.expr}, dim=1)",
                         Val(v.expr, v.dtype, (first, _sum_dims([const(1), second])) + v.shape[2:]))

    def elementwise_merge(self, v: Val) -> Val:
        """add, mul or sub of two branches of ``v``, one of them sometimes broadcast."""
        a_text, a = self.branch_to(v, None)
        b_text, b = self.branch_to(v, None)
        if a.shape != b.shape:
            return v
        result = a
        op = self.d.choice(["add", "add", "mul", "sub"])
        if self.d.chance(0.3):
            # broadcast: a reduction that keeps its dim as 1
            i = self.d.int(0, v.rank - 1)
            b_text = f"{b_text} -> {self.d.choice(['amax', 'mean', 'sum'])}({i}, keepdim=true)"
            b = Val(b.expr, b.dtype, b.shape[:i] + (const(1),) + b.shape[i + 1:])
            if self.d.chance(0.5):
                (a_text, a), (b_text, b) = (b_text, b), (a_text, a)
        elif self.opts.conv and v.rank in (3, 4) and _batch_in_front(v) and self.d.chance(0.3):
            # broadcast: the pooled branch is 1 in every spatial dim
            n = v.rank - 2
            b_text = f"{b_text} -> {self.d.choice(['AdaptiveAvgPool', 'AdaptiveMaxPool'])}{n}d(1)"
            b = Val(b.expr, b.dtype, b.shape[:2] + (const(1),) * n)
            if self.d.chance(0.5):
                (a_text, a), (b_text, b) = (b_text, b), (a_text, a)
        if self.d.chance(0.3):
            bound = self.bind(b_text, b)
            b_text = bound.expr
        if self.d.chance(0.4):  # the infix form: `(a) + (b)`
            symbol = {"add": "+", "mul": "*", "sub": "-"}[op]
            return self.bind(f"{_operand(a_text)} {symbol} {_operand(b_text)}", Val(v.expr, v.dtype, result.shape))
        return self.bind(f"{op}({a_text}, {b_text})", Val(v.expr, v.dtype, result.shape))

    def product_merge(self, v: Val) -> Val:
        """A matrix product of two branches of ``v``: matmul (a vector's dot product, or
        the last two dims against their transpose), bmm, or the same as an einsum."""
        a_text, a = self.branch_to(v, None)
        b_text, b = self.branch_to(v, None)
        if a.shape != b.shape or v.rank == 0:
            return v
        if v.rank == 1:
            return self.bind(f"matmul({a_text}, {b_text})", Val(v.expr, v.dtype, ()))
        shape = a.shape[:-1] + (b.shape[-2],)
        kind = self.d.choice(["matmul", "matmul", "einsum"] + (["bmm"] if v.rank == 3 else []))
        if kind == "einsum":
            return self.bind(f'einsum("...ij,...kj->...ik", {a_text}, {b_text})', Val(v.expr, v.dtype, shape))
        swap = "transpose(1, 2)" if kind == "bmm" else self.d.choice(["transpose(-1, -2)", f"transpose({v.rank - 1}, -2)"])
        if kind == "matmul" and self.d.chance(0.5):  # the infix form: `(a) @ (b -> transpose)`
            return self.bind(f"{_operand(a_text)} @ ({b_text} -> {swap})", Val(v.expr, v.dtype, shape))
        return self.bind(f"{kind}({a_text}, {b_text} -> {swap})", Val(v.expr, v.dtype, shape))

    def stack_merge(self, v: Val) -> Val:
        branches = [self.branch_to(v, None) for _ in range(self.d.int(1, 3))]
        if any(w.shape != branches[0][1].shape for _, w in branches):
            return v
        shape = branches[0][1].shape  # a branch keeps the rank, not always the channels
        dim = self.d.int(-v.rank - 1, v.rank)
        k = dim % (v.rank + 1)
        shape = shape[:k] + (const(len(branches)),) + shape[k:]
        dim_text = self.d.choice([f"dim={dim}", str(dim)]) if dim != 0 else self.d.choice(["dim=0", "0", ""])
        args = ", ".join([t for t, _ in branches] + ([dim_text] if dim_text else []))
        return self.bind(f"stack({args})", Val(v.expr, branches[0][1].dtype, shape))

    def pieces_binding(self, v: Val) -> Val:
        """split or chunk bound to a name: every piece is a value (`parts.output1`)."""
        i = self.d.choice([i for i, d in enumerate(v.shape) if d.literal and d.value >= 2])
        n = v.shape[i].value
        if self.d.chance(0.5):
            size = self.d.int(1, n)
            sizes = [min(size, n - j) for j in range(0, n, size)]
            text = f"split({size}, dim={i})"
        elif self.d.chance(0.5):
            c = self.d.int(2, 4)
            step = -(-n // c)
            sizes = [min(step, n - j) for j in range(0, n, step)]
            text = f"chunk({c}, {i})"
        else:
            cut = self.d.int(1, n - 1)
            sizes = [cut, n - cut]
            text = f"split(({cut}, {n - cut}), {i - v.rank})"
        name = self.fresh()
        self.lines.append(f"    {name} = {v.expr} -> {text}")
        pieces = [Val(f"{name}.output{j}", v.dtype, v.shape[:i] + (const(s),) + v.shape[i + 1:])
                  for j, s in enumerate(sizes)]
        self.values.extend(pieces)
        return self.d.choice(pieces)

    def recurrent_binding(self, v: Val):
        if not v.floating or (v.rank and _data_sized(v.shape[-1])):
            return None
        if v.rank not in (2, 3):
            return None
        got = self.recurrent(v)
        if got is None:
            return None
        kind, args, bf, hidden, h_out, D, layers, state_shape = got
        # initial states from the network's inputs, when the spec can write their shape
        if self.depth == 0 and all(dd.text for dd in state_shape) and self.d.chance(0.35):
            which = ["h0", "c0"] if kind == "LSTM" else ["h0"]
            given = [w for w in which if self.d.chance(0.7)] or [which[0]]
            for w in given:
                shape = state_shape if w == "h0" else state_shape[:-1] + (hidden,)
                if w == "c0" and any(dd.text is None for dd in shape):
                    continue
                name = self.fresh(["h_init", "c_init", "state0", "s0", "h", "c"])
                self.inputs.append(f"    input {name}: {v.dtype}[{', '.join(dd.text for dd in shape)}]")
                args.append(f"{w}={name}")
        text = f"{kind}({', '.join(args)})"
        out_shape = v.shape[:-1] + (product([const(D), h_out]),)
        name = self.fresh()
        lead = ""
        if self.d.chance(0.3):
            parts, w = self.chain(v, 1, only_preserving=True, keep_last=True)
            if parts and w.shape == v.shape:
                lead = " -> " + " -> ".join(parts)
        self.lines.append(f"    {name} = {v.expr}{lead} -> {text}")
        out = Val(f"{name}.output" if self.d.chance(0.5) else name, v.dtype, out_shape)
        h_n = Val(f"{name}.h_n", v.dtype, state_shape)
        vals = [out, h_n]
        if kind == "LSTM":
            vals.append(Val(f"{name}.c_n", v.dtype, state_shape[:-1] + (hidden,)))
        self.values.extend(vals)
        nxt = self.d.choice(vals) if self.d.chance(0.4) else out
        others = [x for x in vals if x is not nxt and self.d.chance(0.3)]
        return nxt, others

    def cell_binding(self, v: Val) -> Val | None:
        if _data_sized(v.shape[-1]):
            return None
        kind = self.d.choice(["RNNCell", "LSTMCell", "GRUCell"])
        text_h, hidden = self.size(2, 8)
        args = [text_h]
        if kind == "RNNCell" and self.d.chance(0.3):
            args.append('nonlinearity="relu"')
        if self.d.chance(0.2):
            args.append("bias=false")
        name = self.fresh()
        shape = v.shape[:-1] + (hidden,)
        self.lines.append(f"    {name} = {v.expr} -> {kind}({', '.join(args)})")
        if kind == "LSTMCell":
            h, c = Val(f"{name}.h", v.dtype, shape), Val(f"{name}.c", v.dtype, shape)
            self.values.extend([h, c])
            return self.d.choice([h, c])
        val = Val(name, v.dtype, shape)
        self.values.append(val)
        return val

    def scan_binding(self, v: Val, network: bool = False) -> Val | None:
        """A shared RNNCell, GRUCell or LSTMCell, or a network step carrying several states
        (always where ``network``), scanned over dim 0 of ``[T, B, F]``, its state (an
        LSTMCell's pair (h, c)) started from the first position through a Linear."""
        first = v.shape[0]
        if first.role == "batch":
            return None  # the state would carry one sample into the next (a `layout` error)
        if _data_sized(v.shape[-1]):
            return None  # the cell and the Linear are sized by the last dim
        if not (first.concrete or (first.text or "").isidentifier()):
            return None  # select(0, 0) of a size that may be 0: netspec warns
        if network or self.d.chance(0.4):
            return self.step_scan_binding(v)
        kind = self.d.choice(["RNNCell", "GRUCell", "LSTMCell"])
        text_h, hidden = self.size(2, 8)
        cell = self.fresh(["cell", "step", "shared_cell"])  # not a kind's name (`sum`): a module's
        starts = [self.fresh() for _ in range(2 if kind == "LSTMCell" else 1)]
        states, lasts = self.fresh(), [self.fresh() for _ in starts]
        self.lines.append(f"    shared {cell} = {kind}({text_h})")
        for start in starts:
            self.lines.append(f"    {start} = {v.expr} -> select(0, 0) -> Linear({text_h})")
        state = starts[0] if len(starts) == 1 else f"({', '.join(starts)})"
        self.lines.append(f"    {', '.join([states] + lasts)} = {v.expr} -> scan({cell}, {state})")
        self.values.extend(Val(last, v.dtype, (v.shape[1], hidden)) for last in lasts)
        val = Val(states, v.dtype, v.shape[:2] + (hidden,))
        self.values.append(val)
        return val

    def step_scan(self, v: Val, name: str, n_states: int) -> int:
        """A network step over one position of ``v`` (``[B, F]``) carrying ``n_states``
        states of its parameter's size ``hidden`` (h, c and maybe a running sum), h from
        Linears of x and of h (sometimes through stages that keep its shape); its size."""
        hidden = self.d.int(2, 6)
        b, f = f"{name.lower()}_0", f"{name.lower()}_1"
        sub = Gen(self.d, self.opts, {"x", "h", "c", "t", b, f}, self.symbols, self.depth + 1)
        rows = v.shape[1]  # the caller's batch, mostly: a stage must not read it as time
        h = Val("h", v.dtype, (Dim(rows.value, b, ("dsym" if _data_sized(rows) else "bsym", b), rows.role or
                                   ("batch" if _holds_batch(rows) else None)), Dim(hidden, "hidden", hidden)))
        parts, w = sub.chain(h, self.d.int(0, 2), only_preserving=True, keep_last=True)
        lead = "".join(f" -> {p}" for p in parts) if w.shape == h.shape else ""
        mix = self.d.choice(["(f -> Sigmoid) * c + h_new", "c + h_new", "c * (h_new -> Sigmoid)"])
        lines = [f"    input x: {v.dtype}[{b}, {f}]"] + [f"    input {s}: {v.dtype}[{b}, hidden]" for s in "hct"[:n_states]]
        lines += ["    f = x -> Linear(hidden)", f"    h_new = f + (h{lead} -> Linear(hidden)) -> Tanh",
                  f"    c_new = {mix}"] + ["    t_new = t + h_new"] * (n_states == 3)
        outs = ", ".join(["h_new", "c_new", "t_new"][:n_states])
        self.blocks.append(f"network {name}(hidden={hidden}) {{\n" + "\n".join(lines) + f"\n    output {outs}\n}}\n")
        return hidden

    def step_scan_binding(self, v: Val) -> Val | None:
        """``states, h, c = xs -> scan(step, (h0, c0))`` over a network step carrying two or
        three states, each started from the first position through a Linear."""
        n_states = self.d.choice([2, 2, 3])
        name = self.fresh_block("step")
        hidden = self.step_scan(v, name, n_states)
        use = self.d.choice([name, f"{name}({hidden})", f"{name}(hidden={hidden})"])
        step = self.fresh(["step", "shared_step", "stepper"])
        starts = [self.fresh() for _ in range(n_states)]
        states, lasts = self.fresh(), [self.fresh() for _ in starts]
        self.lines.append(f"    shared {step} = {use}")
        for start in starts:
            self.lines.append(f"    {start} = {v.expr} -> select(0, 0) -> Linear({hidden})")
        self.lines.append(f"    {', '.join([states] + lasts)} = {v.expr} -> scan({step}, ({', '.join(starts)}))")
        self.values.extend(Val(last, v.dtype, (v.shape[1], const(hidden))) for last in lasts)
        val = Val(states, v.dtype, v.shape[:2] + (const(hidden),))
        self.values.append(val)
        return val

    def cell(self, v: Val) -> Stage | None:
        kind = self.d.choice(["RNNCell", "GRUCell", "LSTMCell"])
        text_h, hidden = self.size(2, 8)
        return Stage(f"{kind}({text_h})",
                     lambda x: Val(x.expr, x.dtype, x.shape[:-1] + (hidden,)) if x.floating and x.rank in (1, 2) else None,
                     reads=(-1,))

    # -- networks used as stages ----------------------------------------------------------------------
    def block_use(self, v: Val) -> Val | None:
        if not v.floating or v.rank == 0:
            return None
        windowed = ["ceil", "up"] * 2 if v.rank in (3, 4) and _batch_in_front(v) else []
        kind = self.d.choice(["residual", "chain", "pair", "scale"] + windowed + ["step"] * (v.rank == 3))
        if kind == "step":
            return self.scan_binding(v, self.d.chance(0.7))
        name = self.fresh_block(kind)
        syms = [f"{name.lower()}_{i}" for i in range(v.rank)]
        if kind in ("ceil", "up"):
            return (self.ceil_block if kind == "ceil" else self.up_block)(name, syms, v)
        if kind == "residual":
            return self.residual_block(name, syms, v)
        if kind == "scale":
            return self.scale_block(name, syms, v)
        if kind == "pair":
            return self.pair_block(name, syms, v)
        return self.chain_block(name, syms, v)

    def fresh_block(self, kind: str) -> str:
        base = {"residual": "Res", "chain": "Sub", "pair": "Pair", "scale": "Scale", "ceil": "Ceil", "up": "Up",
                "step": "Step"}[kind]
        i = 1
        while f"{base}{i}" in self.block_names:
            i += 1
        self.block_names.add(f"{base}{i}")
        return f"{base}{i}"

    def _block_input(self, syms, v: Val, role_names: bool) -> tuple[str, Val]:
        dims = []
        texts = []
        for s, d in zip(syms, v.shape):
            key = ("dsym", s, HOLDS_BATCH) if _holds_batch(d) else ("dsym" if _data_sized(d) else "bsym", s)
            dims.append(Dim(d.value, s, key, d.role))
            texts.append(s)
        return f"{v.dtype}[{', '.join(texts)}]", Val("x", v.dtype, tuple(dims))

    def uses(self, v: Val, name: str, names: tuple[str, ...], defaults: tuple, values: list[tuple], shape) -> Val:
        """Bindings of ``v`` through the block ``name`` once per tuple of its parameters'
        ``values`` (by position, by name, or nothing where they are its defaults); the
        result of each is ``shape(values)``; the last one's value."""
        val = v
        for vals in values:
            if vals == defaults and self.d.chance(0.5):
                call = name
            elif self.d.chance(0.5):
                call = f"{name}({', '.join(map(str, vals))})"
            else:
                call = f"{name}({', '.join(f'{n}={x}' for n, x in zip(names, vals))})"
            val = self.bind(f"{v.expr} -> {call}", Val(v.expr, v.dtype, shape(vals)))
        return val

    def reader(self, v: Val, n: int) -> tuple[str, Callable] | None:
        """What follows a block's window over the last ``n`` dims of ``v`` and reads the size
        it leaves: Flatten -> Linear (dims from 1 on), a Linear over the last dim (one spatial
        dim), or nothing where those sizes vary with the data; the text, and the result's shape
        given the channels (dim 1) the window leaves."""
        width = self.d.int(2, 6)
        if v.rank == n + 2 and not any(_data_sized(dd) for dd in v.shape[1:]) and self.d.chance(0.8):
            return f" -> Flatten -> Linear({width})", lambda ch: (v.shape[0], const(width))
        if n == 1 and not _data_sized(v.shape[-1]) and self.d.chance(0.8):
            return f" -> Linear({width})", lambda ch: (v.shape[0], ch, const(width))
        return None

    def ceil_block(self, name: str, syms, v: Val) -> Val | None:
        """A ceil-mode MaxPool or AvgPool whose window and/or stride are the block's
        parameters, then a layer sized by what it leaves, used with two or three (k, s)
        pairs (k = s, k > s, k < s; torch's last-window rule fires at some): the generic
        check must state the size torch's rule leaves at every use."""
        n = v.rank - 2
        if n not in (1, 2) or not v.floating or not _batch_in_front(v):
            return None
        got = self.reader(v, n)
        if got is None:
            return None
        tail, shape = got
        pad = self.d.choice([0, 0, 1])
        mode = self.d.choice(["ks", "ks", "k", "k=s", "s"])  # which are parameters (k=s: no stride given)
        pairs = _ceil_pairs(self.d, [dd.value for dd in v.shape[-n:]], pad, mode)
        if len(pairs) < 2:
            return None
        names = ("k",) if mode == "k=s" else tuple(mode)
        uses = [tuple(pr[0 if nm == "k" else 1] for nm in names) for pr in pairs]
        kind = self.d.choice(["MaxPool", "AvgPool"])
        window = "k" if "k" in names else str(pairs[0][0])
        stride = "" if mode == "k=s" else f", stride={'s' if 's' in names else pairs[0][1]}"
        padding = f", padding={pad}" if pad else ""
        typ, _ = self._block_input(syms, v, False)
        params = ", ".join(f"{nm}={x}" for nm, x in zip(names, uses[0]))
        self.blocks.append(f"network {name}({params}) {{\n    input x: {typ}\n"
                           f"    y = x -> {kind}{n}d({window}{stride}{padding}, ceil_mode=true){tail}\n"
                           f"    output y\n}}\n")
        order = self.d.choice([uses, uses[1:] + uses[:1]])
        return self.uses(v, name, names, uses[0], order, lambda vals: shape(v.shape[1]))

    def up_block(self, name: str, syms, v: Val) -> Val | None:
        """A ConvTranspose1d/2d whose kernel, stride, output_padding, dilation and groups are
        some of the block's parameters, used with two or three sets of values (output_padding
        below the stride at every use, or below the dilation where the stride is 1), then a
        layer sized by what it leaves where that does not vary with the data."""
        n = v.rank - 2
        in_ch = v.shape[1] if n in (1, 2) else None
        if in_ch is None or not v.floating or not _batch_in_front(v) or _data_sized(in_ch):
            return None
        tail, shape = self.reader(v, n) or ("", None)
        out_ch = self.d.int(1, 8)
        names = tuple(nm for nm in ("k", "s", "op", "d", "g") if self.d.chance(0.6)) or ("s",)
        mode = self.d.choice(["stride", "dilation"])
        sets = _up_sets(self.d, in_ch.value if in_ch.concrete else 1, out_ch, mode)
        pad = self.d.choice([0, 0, 1])
        sets = [st for st in sets if all(_transposed_size(L.value, st["k"], st["s"], pad, st["d"], st["op"]) >= 1
                                         for L in v.shape[-n:])]
        fixed = sets[0] if sets else None
        if fixed is None or (fixed["op"] < fixed["s"]) != (mode == "stride"):
            return None  # the defaults meet the fact the class tests, and every use meets it
        sets = [st for st in sets if all(st[nm] == fixed[nm] for nm in fixed if nm not in names)]
        uses = list(dict.fromkeys(tuple(st[nm] for nm in names) for st in sets))[:3]
        if len(uses) < 2:
            return None
        arg = {nm: nm if nm in names else str(fixed[nm]) for nm in fixed}
        layer = (f"ConvTranspose{n}d({out_ch}, {arg['k']}, stride={arg['s']}, padding={pad}, "
                 f"output_padding={arg['op']}, dilation={arg['d']}, groups={arg['g']})")
        typ, _ = self._block_input(syms, v, False)
        params = ", ".join(f"{nm}={x}" for nm, x in zip(names, uses[0]))
        self.blocks.append(f"network {name}({params}) {{\n    input x: {typ}\n    y = x -> {layer}{tail}\n"
                           f"    output y\n}}\n")

        def result(vals):
            st = {**fixed, **dict(zip(names, vals))}
            if shape is not None:
                return shape(const(out_ch))
            outs = [_conv_transpose_out(L, st["k"], st["s"], pad, st["d"], st["op"]) for L in v.shape[-n:]]
            return v.shape[:1] + (const(out_ch),) + tuple(outs)
        return self.uses(v, name, names, uses[0], uses, result)

    def residual_block(self, name: str, syms, v: Val) -> Val | None:
        typ, x = self._block_input(syms, v, False)
        sub = Gen(self.d, self.opts, {"x", "y", "out"} | set(syms), self.symbols, self.depth + 1)
        sub.traps = self.traps
        parts = []
        w = x
        for _ in range(self.d.int(1, 3)):
            st = sub.stage(w, only_preserving=True, keep_last=True)
            if st is None:
                break
            parts.append(st.text)
            w = st.apply(w)
        if not parts or w.shape != x.shape:
            return None
        width = ""
        self.blocks.append(
            f"network {name}{width} {{\n    input x: {typ}\n    out = x -> {' -> '.join(parts)}\n"
            f"    y = add(out, x) -> ReLU\n    output y\n}}\n")
        count = self.d.choice(["", "", " * 2", " * 3"])
        return self.bind(f"{v.expr} -> {name}{count}", v)

    def pair_block(self, name: str, syms, v: Val) -> Val | None:
        if _data_sized(v.shape[-1]):
            return None  # its Linear is sized by the last dim
        typ, x = self._block_input(syms, v, False)
        width_text, width = self.size(2, 6)
        other_text, other = self.branch_to(v, None)
        if other.shape != v.shape:
            return None
        self.blocks.append(
            f"network {name}(width) {{\n    input a: {typ}\n    input b: {typ}\n"
            f"    s = add(a, b) -> Linear(width)\n    d = cat(a, b, dim=-1)\n    output s, d\n}}\n")
        primary = Val(v.expr, v.dtype, v.shape[:-1] + (width,))  # the first output, s
        bound = self.bind(f"{v.expr} -> {name}({width_text}, b={other_text})" if self.d.chance(0.5)
                          else f"{v.expr} -> {name}(width={width_text}, b={other_text})", primary)
        last = v.shape[-1]
        s = Val(f"{bound.expr}.s", v.dtype, v.shape[:-1] + (width,))
        d = Val(f"{bound.expr}.d", v.dtype, v.shape[:-1] + (_sum_dims([last, last]),))
        self.values.extend([s, d])
        return self.d.choice([s, d])

    def scale_block(self, name: str, syms, v: Val) -> Val | None:
        """A block that scales (or shifts) its input by a declared tensor of its parameter's
        size ``c``, used with ``c`` = 1 (broadcast) or the last dim, then a Linear: the
        block's generic check must state the product's last dim as the input's (never 1),
        not ``c`` (1 at one use), or the class's Linear reads the wrong size. In the extended
        specs the block's input names its last dim too, a size that may be 1 as ``c`` may:
        the product is then ``max(c, n)``, and the class's Linear is built with it."""
        last = v.shape[-1]
        if not last.literal or last.value < 2 or last.role:
            return None
        symbolic = self.opts.extended and self.d.chance(0.5)
        typ = f"{v.dtype}[{', '.join([*syms[:-1], syms[-1] if symbolic else str(last.value)])}]"
        c = self.d.choice([1, last.value])
        op = self.d.choice(["*", "+", "mul", "add"])
        a, b = ("x", "s") if self.d.chance(0.5) else ("s", "x")
        text = f"{op}({a}, {b})" if op.isalpha() else f"{a} {op} {b}"
        width = self.d.int(2, 6)
        self.blocks.append(f"network {name}(c) {{\n    input x: {typ}\n    param s: {v.dtype}[c] = ones\n"
                           f"    y = {text} -> Linear({width})\n    output y\n}}\n")
        return self.bind(f"{v.expr} -> {name}(c={c})", Val(v.expr, v.dtype, v.shape[:-1] + (const(width),)))

    def chain_block(self, name: str, syms, v: Val) -> Val | None:
        typ, x = self._block_input(syms, v, False)
        sub = Gen(self.d, self.opts, {"x"} | set(syms), self.symbols, self.depth + 1)
        sub.block_names = self.block_names  # one namespace of networks for the file
        sub.traps = self.traps
        sub.values.append(x)
        if self.depth == 0 and self.d.chance(0.5):
            w = sub.body(x, self.d.int(1, 4))[-1]  # bindings, merges, recurrent layers, blocks
            if w.expr == "x":
                return None
            lines = "\n".join(sub.lines)
            out = w.expr
        else:
            parts, w = sub.chain(x, self.d.int(1, 4))
            if not parts:
                return None
            lines = f"    y = x -> {' -> '.join(parts)}"
            out = "y"
        self.blocks.extend(sub.blocks)  # the networks it uses, defined before it
        self.blocks.append(f"network {name} {{\n    input x: {typ}\n{lines}\n    output {out}\n}}\n")
        # the result's sizes, in the caller's terms: block symbols are the caller's dims
        env = {xd.key: d for xd, d in zip(x.shape, v.shape)}
        shape = tuple(_rekey(dd, env) for dd in w.shape)
        return self.bind(f"{v.expr} -> {name}", Val(v.expr, w.dtype, shape))


# -- shape rules the generator needs (torch's) -------------------------------------------------------

def _window_args(windows: dict, tup, pairs) -> list[str]:
    """A window layer's `name=value` arguments: a parameter's name, or the values where
    they are not the default."""
    return [f"{name}={windows.get(name, tup(xs))}" for name, xs, default in pairs
            if name in windows or any(x != default for x in xs)]


def _by_params(d: Dim) -> Dim:
    """A size a window from a parameter leaves: known by the parameters' values only."""
    return Dim(d.value, None, d.value) if d.concrete else d


def _conv_out(L: Dim, k: int, s: int, p: int, d: int) -> Dim | None:
    value = (L.value + 2 * p - d * (k - 1) - 1) // s + 1
    if value < 1:
        return None
    if s == 1 and 2 * p == d * (k - 1):
        return L
    if L.concrete:
        return const(value) if L.literal else Dim(value, None, value)
    return derived(value, "conv", L.key, k, s, p, d)


def _transposed_size(L: int, k: int, s: int, p: int, d: int, op: int) -> int:
    return (L - 1) * s - 2 * p + d * (k - 1) + op + 1


def _conv_transpose_out(L: Dim, k: int, s: int, p: int, d: int, op: int) -> Dim | None:
    value = _transposed_size(L.value, k, s, p, d, op)
    if value < 1:
        return None
    if s == 1 and d * (k - 1) + op == 2 * p:
        return L
    if L.concrete:
        return const(value) if L.literal else Dim(value, None, value)
    return derived(value, "convT", L.key, k, s, p, d, op)


def _tup(xs) -> str:
    """A window argument as a spec writes it: one size, or a tuple when they differ."""
    return str(xs[0]) if len(set(xs)) == 1 else "(" + ", ".join(map(str, xs)) + ")"


def _volume(dims) -> int:
    out = 1
    for d in dims:
        out *= d.value
    return out


def _spatial_dims(d: Draw, v: Val) -> int:
    """How many trailing dims a convolution of ``v`` treats as spatial."""
    if v.rank == 5:
        return 3
    return 2 if v.rank == 4 or (v.rank == 3 and d.chance(0.4)) else 1


def _pool_out(L: Dim, k: int, s: int, p: int, d: int, ceil: bool) -> Dim | None:
    span = L.value + 2 * p - d * (k - 1) - 1
    if span < 0:
        return None
    if ceil:
        out = -(-span // s) + 1
        if (out - 1) * s >= L.value + p:
            out -= 1
    else:
        out = span // s + 1
    if out < 1:
        return None
    if s == 1 and 2 * p == d * (k - 1) and not ceil:
        return L
    if L.concrete:
        return const(out) if L.literal else Dim(out, None, out)
    return derived(out, "pool", L.key, k, s, p, d, ceil)


def _ceil_pairs(d: Draw, sizes: list[int], pad: int, mode: str) -> list[tuple[int, int]]:
    """Two or three (window, stride) pairs of a ceil-mode pool that torch runs over every
    size of ``sizes`` with ``pad`` (at most half the window), one of them only where
    ``mode`` is "k" or "s" (the other a literal), equal where it is "k=s"; k = s, k > s and
    k < s among them, and one where torch drops a last window that starts in the padding."""
    def valid(k, s):
        return 2 * pad <= k <= min(sizes) + 2 * pad and (mode != "k=s" or k == s)
    every = [(k, s) for k in range(1, 6) for s in range(1, 5) if valid(k, s)]
    if not every:
        return []
    first = d.choice(every)
    same = {"k": 1, "s": 0}.get(mode)  # the index of the literal, shared by every use
    pool = [pr for pr in every if pr != first and (same is None or pr[same] == first[same])]
    drops = [pr for pr in pool if any(_ceil_drops(L, *pr, pad) for L in sizes)]
    out = [first]
    for group in (drops, [pr for pr in pool if pr[0] < pr[1]], [pr for pr in pool if pr[0] >= pr[1]]):
        left = [pr for pr in group if pr not in out]
        if left and len(out) < 3 and d.chance(0.8):
            out.append(d.choice(left))
    return out


def _up_sets(d: Draw, in_ch: int, out_ch: int, mode: str) -> list[dict]:
    """Values of a transposed convolution's k, s, op, d and g that torch accepts: output_padding
    below the stride (mode "stride") or, with stride 1, below the dilation ("dilation"),
    groups dividing both channel counts; a random first one, then random others."""
    groups = [g for g in (1, 2, 3, 4) if in_ch % g == 0 and out_ch % g == 0]
    every = []
    for k in range(1, 4):
        for s in ((1,) if mode == "dilation" else (1, 2, 3)):
            for dil in ((2, 3) if mode == "dilation" else (1, 2)):
                limit = dil if mode == "dilation" else s
                every += [dict(k=k, s=s, op=op, d=dil, g=g) for op in range(limit) for g in groups]
    # the first (the block's defaults) meets only the fact its mode says, which the class tests
    first = d.choice([st for st in every if (st["op"] < st["s"]) == (mode == "stride")])
    return [first] + [d.choice(every) for _ in range(8)]


def _ceil_drops(L: int, k: int, s: int, p: int) -> bool:
    """Whether torch's ceil-mode pool drops a last window that would start in the right padding."""
    return (-(-(L + 2 * p - k) // s)) * s >= L + p


def _scaled(L: Dim, scale: float) -> Dim | None:
    """torch's size for a scale factor, floor(L * scale) in doubles; a symbolic size only by a
    scale the checker has an exact formula for (p / 2**k)."""
    value = math.floor(L.value * scale)
    if value < 1:
        return None
    if scale == 1.0:
        return L
    if L.concrete:
        return const(value) if L.literal else Dim(value, None, value)
    if scale not in (0.5, 1.5, 2.0, 2.5):
        return None
    return derived(value, "scale", L.key, scale)


def _divided(L: Dim, by: int) -> Dim:
    """A concrete size divided exactly (the generator divides only those)."""
    value = L.value // by
    return const(value) if L.literal else Dim(value, None, value)


def _padded(L: Dim, total: int) -> Dim:
    if total == 0:
        return L
    value = L.value + total
    if L.concrete:
        return const(value) if L.literal else Dim(value, None, value)
    return derived(value, "pad", L.key, total)


def _pad_ok(mode: str, size: int, before: int, after: int) -> bool:
    """torch's limits on one dim's pads, and a result of at least one."""
    if mode == "reflect" and max(before, after) >= size:
        return False
    kept = size + min(before, 0) + min(after, 0)  # what the crops leave, which a circular pad wraps
    if mode == "circular" and max(before, after) > kept:
        return False  # torch raises, or returns uninitialized values
    return kept >= 1 and size + before + after >= 1


def _pad_text(family: str, n: int, mode: str, pads: tuple, d: Draw) -> str:
    if family == "op":
        extra = f', mode="{mode}"' if mode != "constant" or d.chance(0.3) else ""
        if mode == "constant" and d.chance(0.3):
            extra += ", value=0.5"
        return f"pad({pads}{extra})"
    arg = str(pads[0]) if len(set(pads)) == 1 and d.chance(0.5) else str(pads)
    return f"ConstantPad{n}d({arg}, 1.5)" if family == "Constant" else f"{family}Pad{n}d({arg})"
def _index(x: Val, items: list[tuple]) -> Val | None:
    """Python's basic indexing of ``x`` by items ("keep",), ("int",), ("slice", slice),
    ("first", k) (`:k` of a parameter's size, at least k), ("new",), ("dots",)."""
    used = sum(1 for it in items if it[0] in ("keep", "int", "slice", "first"))
    shape: list[Dim] = []
    k = 0
    for it in items:
        if it[0] == "new":
            shape.append(const(1))
        elif it[0] == "dots":
            shape.extend(x.shape[k:k + x.rank - used])
            k += x.rank - used
        else:
            d = x.shape[k]
            k += 1
            if it[0] == "first":
                shape.append(const(it[1]))
                continue
            if it[0] == "slice" and not d.concrete:
                return None
            if it[0] == "keep" or (it[0] == "slice" and it[1] == slice(None)):
                shape.append(d)
            elif it[0] == "slice":
                n = len(range(*it[1].indices(d.value)))
                shape.append(const(n) if d.literal else Dim(n, None, n))
    return Val(x.expr, x.dtype, tuple(shape) + x.shape[k:])


def _flatten(x: Val, s: int, e: int) -> Val | None:
    rank = max(x.rank, 1)
    if not (-rank <= s < rank and -rank <= e < rank):
        return None
    s, e = s % rank, e % rank
    if x.rank == 0:
        return Val(x.expr, x.dtype, (const(1),))
    if s > e:
        return None
    merged = product(x.shape[s:e + 1]) if e > s else x.shape[s]
    return Val(x.expr, x.dtype, x.shape[:s] + (merged,) + x.shape[e + 1:])


def _sum_dims(dims: list[Dim]) -> Dim:
    if len(dims) == 1:
        return dims[0]
    value = sum(d.value for d in dims)
    if all(d.literal for d in dims):
        return const(value)
    if all(d.concrete for d in dims):
        return Dim(value, None, value)
    return Dim(value, None, ("sum",) + tuple(sorted((repr(d.key) for d in dims))))


def _rekey(d: Dim, env: dict) -> Dim:
    """A block's result dim in the caller's terms."""
    if isinstance(d.key, tuple) and d.key in env:
        return env[d.key]
    if d.concrete:
        return d
    if isinstance(d.key, tuple) and d.key[:1] == ("prod",):
        # a product of the block's symbols: the caller's dims multiplied (a factor 1 drops
        # out, and what is left may be a batch or time dim, as the checker reads it)
        parts = [env.get(k, const(k) if isinstance(k, int) else None) for k in d.key[1:]]
        if all(p is not None for p in parts):
            return product(parts)
    return Dim(d.value, None, ("block", repr(d.key), tuple(sorted(repr(k) for k in env))))


def _factor(d: Draw, n: int) -> list[int]:
    """A random factorisation of ``n`` into 1 to 3 factors."""
    out = []
    rest = n
    for _ in range(d.int(0, 2)):
        divisors = [x for x in range(2, rest + 1) if rest % x == 0 and x <= 64]
        if not divisors:
            break
        f = d.choice(divisors)
        out.append(f)
        rest //= f
    out.append(rest)
    order = list(range(len(out)))
    for i in range(len(order) - 1, 0, -1):
        j = d.int(0, i)
        order[i], order[j] = order[j], order[i]
    return [out[i] for i in order]


# symbols the checker reads as axes that vary with the data (batch, time, spatial) by their
# names: no layer may be sized by one (docs/language.md, "Layout")
DATA_SYMBOLS = ("batch", "seq", "h", "w")


def _at_least_one(d: Dim) -> bool:
    """Whether the checker knows ``d`` is at least 1: a known size, or an input symbol (a
    block's symbol may stand for a size of its caller that is not, `2 * h - 4`)."""
    return d.concrete or (isinstance(d.key, tuple) and d.key[0] == "sym" and (d.text or "").isidentifier())


def _data_sized(d: Dim) -> bool:
    """Whether ``d`` varies with the data as the checker reads it: it holds a data symbol,
    or a block's symbol that stands for a dim that does."""
    if isinstance(d.key, int):
        return False
    text = repr(d.key).replace("\\", "")  # keys nest the reprs of other keys
    return "'dsym'" in text or any(f"('sym', '{name}')" in text for name in DATA_SYMBOLS)


def _batch_in_front(v: Val) -> bool:
    """No dim but the first holds the batch (is it, or has it merged in): a convolution, pool
    or resampling reads none as a spatial dim."""
    return not any(_holds_batch(d) for d in v.shape[1:])


def _batch_behind(v: Val, first: int) -> bool:
    """Whether a dim from ``first`` on holds the batch (a norm over it mixes samples)."""
    return any(_holds_batch(d) for d in v.shape[first:])


HOLDS_BATCH = "holds-batch"  # in the key of a block's symbol for a dim that holds the caller's batch


def _holds_batch(d: Dim) -> bool:
    text = repr(d.key).replace("\\", "")
    return d.role == "batch" or "('sym', 'batch')" in text or HOLDS_BATCH in text


def _sized_by_model(st: Stage | None) -> Stage | None:
    """``st``, refusing (where it is applied) a value whose dims it is built with vary with
    the data: a layer sized by a data axis, which the checker refuses by design."""
    if st is None or not st.reads:
        return st
    inner = st.apply

    def apply(x: Val):
        if any(-x.rank <= i < x.rank and _data_sized(x.shape[i]) for i in st.reads):
            return None
        return inner(x)
    st.apply = apply
    return st


def _layout_ok(v: Val, bf: bool) -> bool:
    if v.rank == 2:  # unbatched [L, E]: the samples would be the steps of one sequence
        return not _holds_batch(v.shape[0])
    if v.rank != 3:
        return True
    t, b = (1, 0) if bf else (0, 1)
    return not _holds_batch(v.shape[t]) and v.shape[b].role != "time"


def _type(v: Val, dtype: bool) -> str:
    body = "[" + ", ".join(d.text for d in v.shape) + "]"
    return (v.dtype + body) if dtype else body


# -- the root network ---------------------------------------------------------------------------------

def _input(d: Draw, opts: Options, symbols: dict[str, int]) -> tuple[str, Val]:
    """The root network's first input: its declaration and its value."""
    def sym(name, lo, hi, role=None):
        value = symbols.setdefault(name, d.int(lo, hi))
        return Dim(value, name, ("sym", name), role)

    def size(lo, hi):
        return const(d.int(lo, hi))

    batch = sym("batch", 2, 4, "batch")
    families = ["flat", "tokens", "seq"]
    if opts.conv:
        families += ["image", "image", "signal", "volume"]
    fam = d.choice(families)
    dtype = "float64" if d.chance(0.15) else "float32"
    if fam == "flat":
        shape = (batch, size(1, 12))
    elif fam == "tokens":
        dtype = "int64"
        shape = (batch, sym("seq", 2, 5, "time"))
    elif fam == "seq":
        seq = sym("seq", 2, 5, "time")
        shape = (seq, batch, size(1, 6)) if d.chance(0.5) else (batch, seq, size(1, 6))
    elif fam == "image":
        h = sym("h", 5, 12) if d.chance(0.6) else size(5, 12)
        w = sym("w", 5, 12) if d.chance(0.5) else size(5, 12)
        shape = (batch, size(1, 4), h, w)
        if d.chance(0.15):
            shape = shape[1:]  # unbatched
    elif fam == "volume":
        depth = sym("depth", 3, 6) if d.chance(0.5) else size(3, 6)
        shape = (batch, size(1, 3), depth, size(3, 6), size(3, 6))
    else:
        L = sym("length", 5, 16) if d.chance(0.6) else size(5, 16)
        shape = (batch, size(1, 4), L)
    name = d.choice(["x", "image", "tokens", "signal", "frames", "id", "inp", "volume"])
    spelled = {"float32": d.choice(["float", "float32"]), "float64": d.choice(["double", "float64"]),
               "int64": d.choice(["long", "int64"])}[dtype]
    decl = f"    input {name}: {spelled}[{', '.join(x.text for x in shape)}]"
    return decl, Val(name, dtype, shape)


def generate(d: Draw, opts: Options | None = None) -> GeneratedSpec:
    """One random spec whose root network checks and runs."""
    opts = opts or Options()
    symbols: dict[str, int] = {}
    decl, x = _input(d, opts, symbols)
    g = Gen(d, opts, {x.expr} | set(symbols) | {"Net"}, symbols)
    g.taken |= {"batch", "seq", "h", "w", "length", "depth"}
    g.inputs.append(decl)
    g.values.append(x)
    steps = d.int(1, opts.max_stages)
    outs = g.body(x, steps)
    outputs = []
    for o in outs:
        if o.expr not in outputs:
            outputs.append(o.expr)
    if opts.extended and d.chance(0.15):  # a parameter nothing reads
        g.params.append((g.fresh(["spare", "unused_width", "extra"]), str(d.int(1, 9))))
        g.traps.add("unused-param")
    params = ""
    if g.params:
        params = "(" + ", ".join(n if v is None else f"{n}={v}" for n, v in g.params) + ")"
    body = "\n".join(g.inputs + [""] + g.lines + ["", f"    output {', '.join(outputs)}"])
    text = _out_of_place("".join(b + "\n" for b in g.blocks) + f"network Net{params} {{\n{body}\n}}\n")
    return GeneratedSpec(text, dict(symbols), "Net", frozenset(g.traps), dict(g.required))


def _out_of_place(text: str) -> str:
    """In a training step torch refuses a layer that writes in place into a tensor an earlier
    layer saved for backward (a Sigmoid's result, a Linear's input), or into a piece of
    `split` or `chunk` (or a view of one), and check refuses both. The generator does not
    follow what each layer saves or which values are views, so its activations write out of
    place (tests/test_inplace_saved.py proves the in-place cases against torch)."""
    return re.sub(r"\b(ReLU|Hardswish)\((inplace=)?true\)", r"\1", text)


def sample(seed: int, opts: Options | None = None) -> GeneratedSpec:
    """A spec from a seeded ``random.Random``: for long runs and for reproducing one case."""
    return generate(RandomDraw(random.Random(seed)), opts)


# a `layout` error on a layer that reads across the batch: a norm, pad or resampling over a
# dim that holds it, a slice that would not keep the samples merged into a dim apart
READS_ACROSS_BATCH = re.compile(r"would depend on the others|would blend or drop|would shift the samples"
                                r"|would not keep them apart")


def load_or_skip(case: GeneratedSpec, file: str):
    """The checked spec of a generated case, or a skip where check refuses it by design: a
    layer sized by a data axis, a `view` torch may refuse (tests/test_layout.py), or a layer
    that reads across the batch (a norm, a pad, a resampling over it, a slice that splits it)."""
    import pytest

    from netspec import api

    try:
        return api.loads(case.text, file=file)
    except api.SpecError as e:
        assert "the module would be built for one value of" in str(e) or re.search(
            r"view\([^)]*\): (torch refuses it|netspec cannot tell the memory layout)", str(e)) or READS_ACROSS_BATCH.search(
            str(e)), e
        pytest.skip("check refuses this random network by design")
