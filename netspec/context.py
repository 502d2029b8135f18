"""The context a layer or op kind sees while its shape rule runs (``kind.infer(ctx, a, inputs)``).

Through it a rule reports at the stage or at one argument's span, reads sizes with the
network's parameters substituted, asks whether two sizes are equal (proven, or assumed in a
generic check of a network used as a stage), and notes which parameters a decision depended
on. A rule never reaches past it into the checker.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from . import codes, memo
from .codes import Code
from .diagnostics import Span
from .dims import (
    Dim,
    Expr,
    compare,
    exact_div,
    floordiv,
    is_dim,
    less_equal,
    max_args,
    maximum,
    product,
    render,
    sym,
    symbols,
)
from .graph import BROADCASTS, DIVIDES, EQUAL, EQUAL_OR_ONE, LESS_EQUAL
from .kinds import Fail, Layer
from .kinds.base import numel
from .layout import Decide, is_contiguous
from .types import UNKNOWN, Origin, Tensor

if TYPE_CHECKING:
    from .checker import NetworkChecker
    from .graph import Value

# Symbols named like these are batch or time axes (docs/language.md, "Layout").
BATCH_NAMES = frozenset({"batch", "batch_size", "B", "N"})
TIME_NAMES = frozenset({"seq", "seq_len", "time", "T"})
# ... and like these spatial axes; each of the three varies with the data, so no layer's
# weights may be sized by one (StageCtx.check_weights)
SPATIAL_NAMES = frozenset({"h", "w", "height", "width", "H", "W"})
DATA_ROLES = (("batch", BATCH_NAMES), ("time", TIME_NAMES), ("spatial", SPATIAL_NAMES))


_origin = tuple.__new__  # a named tuple made from its fields at once, as Origin(...) does


class StageCtx:
    """What a kind may use while inferring: report at the stage, compare and show dims."""

    def __init__(self, network: "NetworkChecker", span: Span, kind_name: str,
                 arg_spans: dict[str, Span], inputs: "list[Value]", tracing: bool = False,
                 label: str | None = None):
        self._nc = network
        self.span = span
        # how messages name the stage: the kind's name, or for an operator that stands for
        # it the operator as the spec writes it (``label``: `+`, indexing `[...]`)
        self.kind_name = label or kind_name
        self.label = label
        self.arg_spans = arg_spans
        self.input_values = inputs
        # tracing (memo): origins are placeholders and nothing is reported
        self.tracing = tracing
        self.origin = memo.SELF if tracing else _origin(Origin, (self.kind_name, span))  # Origin(kind_name, span)

    def traced(self) -> "StageCtx":
        """The same stage, for tracing its rule over placeholder origins (netspec.memo)."""
        return StageCtx(self._nc, self.span, self.kind_name, self.arg_spans, self.input_values, tracing=True,
                        label=self.label)

    @property
    def quoted(self) -> str:
        """The stage's name quoted in a sentence: `add`, or the operator's label (`+`)."""
        return self.label or f"`{self.kind_name}`"

    def called(self, args: str) -> str:
        """The call a message quotes, ``div(rounding_mode="floor")``; an operator's label
        alone, as the spec writes no arguments to it."""
        return self.label or f"{self.kind_name}({args})"

    # -- reporting --------------------------------------------------------------------------------
    def _span(self, arg: str | None) -> Span:
        return self.arg_spans.get(arg, self.span) if arg else self.span

    def fail(self, code: Code, message: str, notes=(), help: str | None = None, arg: str | None = None) -> Fail:
        """Report an error at the stage (or at argument ``arg``); raise what it returns."""
        if self.tracing:
            raise Fail(message)
        self._nc.reporter.error(code, message, self._span(arg), notes, help)
        return Fail(message)

    def warn(self, code: Code, message: str, notes=(), help: str | None = None, arg: str | None = None) -> None:
        if self.tracing:
            raise Fail(message)
        self._nc.reporter.warning(code, message, self._span(arg), notes, help)

    def fail_unless_allowed(self, code: Code, message: str, notes=(), help: str | None = None,
                            arg: str | None = None) -> None:
        """An error that stops the chain, unless an allow comment silences it on its line:
        then the check goes on as if it were fine."""
        if self.tracing or not self._nc.reporter.silenced(code, self._span(arg)):
            raise self.fail(code, message, notes, help, arg)

    def assume_divisible(self, size: Dim, by: Dim, what: str) -> None:
        """Go on assuming ``size % by == 0``, which the check cannot decide: the built class
        tests it in its constructor, so that it refuses the sizes where it fails
        (``what`` says which sizes, for its message). Such an application is never reused."""
        if self.tracing:
            raise Fail(what)
        assumed = (size, by, what, self.span.line)
        if assumed not in self._nc.net.assumed:
            self._nc.net.assumed.append(assumed)

    def requires_at_most(self, a: Dim, b: Dim, assume: bool = False) -> bool | None:
        """``less_equal(a, b)`` for a fact the stage needs (an error where it is False). Where
        it holds with the parameters' values but not for every value of them, the built
        class tests it in its constructor, refusing the values ``check --set`` refuses.
        ``assume``: in a network checked generically, a fact over parameters without values
        (undecided) is taken to hold, and the class tests it too (each use checks it)."""
        verdict = self.less_equal(a, b)
        if verdict is None and assume and not self.strict:
            verdict = True
        if verdict is True and less_equal(a, b, self._nc.positive) is not True:
            self._require(a, b, False)
        if verdict is None:
            return self.assume_at_most(a, b)
        return verdict

    def over_params(self, d: Dim) -> bool:
        """Whether ``d`` is a size of the network's parameters alone (``k + 1``), one its
        class can compute from its constructor's arguments."""
        return bool(symbols(d)) and self._nc.over_params(d)

    def requires_at_least(self, low: int, d: Dim) -> None:
        """A window size of the parameters (a kernel, a stride: ``low`` 1; a pool's padding:
        0) that torch refuses below ``low``: the class tests it, as ``check --set`` refuses
        such values (a parameter whose value is 1 may be given 0), unless no value of them
        is below it."""
        if isinstance(d, Expr) and self.over_params(d):
            self.requires_for_every_value(low, d)

    def requires_for_every_value(self, a: Dim, b: Dim) -> None:
        """``a <= b``, true with the parameters' values: the class tests it for the values it
        is given, unless it holds for every value of the parameters (none taken to be
        positive because its value is: the class may be given another)."""
        if less_equal(a, b, self._nc.checker.sizes) is not True:
            self._require(a, b, False)

    def class_tests_at_most(self, a: Dim, b: Dim) -> None:
        """In a network checked generically, a fact ``a <= b`` over its parameters and input
        sizes that holds for some of their values only (each use checks it with its own): the
        built class tests it too, where its constructor is given every size in it (a pad
        smaller than the dim it reflects), so that it refuses what torch would refuse."""
        nc = self._nc
        if nc.strict or less_equal(a, b, nc.positive) is True:
            return
        if self.tracing:
            raise Fail("a fact the class tests")  # such an application is never reused
        nc.add_fact((a, b, LESS_EQUAL, self.kind_name, self.span.line))

    def assume_at_most(self, a: Dim, b: Dim) -> bool | None:
        """``less_equal(a, b)``, for a fact the stated shape rests on: where it is undecided
        and the network's free parameters must make it hold, the class requires it (True)."""
        verdict = self.less_equal(a, b)
        if verdict is None and self._nc.records and self._nc.over_params(a, b):
            self._untraced_fact()
            self._nc.require(a, b, LESS_EQUAL, self.kind_name, self.span)
            return True
        if verdict is None and self.generic:  # each use checks it; the class tests it too
            self._nc.block_fact(a, b, LESS_EQUAL, self.kind_name, self.span)
        return verdict

    @property
    def generic(self) -> bool:
        """Whether the network is checked generically (used as a stage: each use checks
        what it assumes; its class tests it, where its constructor has the sizes)."""
        return not self._nc.strict and not self._nc.records

    def free_params(self, d: Dim) -> set[str]:
        """The network's parameters without a value in ``d`` (a window one gives)."""
        return symbols(self.dim(d)) & self._nc.param_syms

    def assume_divides(self, size: Dim, by: Dim) -> bool:
        """For ``size % by == 0``, which the rule cannot decide: whether it is an `unproven`
        warning (the rule's own, with its notes: ``warns_unproven``); where it is not, it
        is required of the free parameters, or assumed by a network checked generically,
        and the built class tests it."""
        if self.warns_unproven(size, by):
            return True
        if not self.strict:
            if self._nc.records:
                self._untraced_fact()
            self._nc.assumes(size, by, DIVIDES, self.kind_name, self.span)
        return False

    def _untraced_fact(self) -> None:
        if self.tracing:
            raise Fail("a fact required of the parameters")  # such an application is never reused

    def assume_equal(self, a: Dim, b: Dim) -> bool:
        """Whether ``a == b``, which the rule could not decide, is assumed: in a block checked
        generically (each use checks it), or required of the network's free parameters
        where it is over them alone (the class tests it); never in a strict check."""
        if self._nc.records:
            self._untraced_fact()  # required of the parameters, or warned about
        return self._nc.assumes(a, b, EQUAL, self.kind_name, self.span, lambda: self.size_notes(a, b))

    def warns_unproven(self, *dims: Dim) -> bool:
        """Whether a fact a rule cannot decide (over ``dims``, when given) is an `unproven`
        warning: in a strict check, and where no caller checks the network again, unless it
        is over its parameters alone (required of them instead); never in a block checked
        generically, where each use checks it."""
        nc = self._nc
        return nc.strict or (nc.records and not (dims and nc.over_params(*dims)))

    def requires_divisible(self, size: Dim, by: Dim) -> None:
        """The stage needs ``size`` divisible by ``by``, and found it so with the parameters'
        values: where it does not hold for every value of them, the built class tests it."""
        if exact_div(self.dim(size), self.dim(by)) is not None and exact_div(size, by) is None:
            self._require(size, by, True)
        elif exact_div(size, by) is None and self._nc.records and self._nc.over_params(size, by) \
                and not isinstance(self.dim(size), int):
            self._require(size, by, True)  # undecided, required of the free parameters
        elif self.generic and exact_div(self.dim(size), self.dim(by)) is None:
            # undecided in a block: each use checks it, the class tests it
            self._nc.block_fact(size, by, DIVIDES, self.kind_name, self.span)

    def param_quotient(self, total: Dim, known: Dim, factors=None) -> Dim | None:
        """``total // known`` as the built class computes it from its parameters, where the
        quotient is whole only for the parameters' values (a -1 size): the part ``P`` of
        ``known`` over parameters with values (``h``, ``a * b``, ``h + 1``; positive at them)
        leaves ``T = total / (known / P)`` over those parameters alone; then ``T // P``, and
        the class tests that ``P`` divides ``T`` and that each size of ``factors`` (the sizes
        multiplied into ``known``; else each parameter of ``P``) is at least 1 (check --set
        refuses the values where they are not). None where the quotient is not so expressed
        (the parameters are then fixed)."""
        env = self._nc.net.param_env
        by = _param_part(known, env)
        rest = None if by is None else exact_div(known, by)
        part = None if rest is None else exact_div(total, rest)
        if part is None or not (symbols(part) | symbols(by)) <= env.keys():
            return None
        value = self.dim(by)
        if not isinstance(value, int) or value < 1 or exact_div(self.dim(part), value) is None:
            return None
        self._require_sizes([sym(name) for name in sorted(symbols(by))] if factors is None else factors, env.keys())
        self.requires_divisible(part, by)
        return floordiv(part, by)

    def free_quotient(self, total: Dim, known: Dim, factors) -> Dim | None:
        """``total // known`` where ``known`` is sizes ``total`` shares times a part over the
        free parameters (no values: ``h`` of ``reshape(batch, h, -1)`` of ``[batch, 12]`` in
        a network with ``h`` and no default): ``12 // h``, which the class computes; that
        ``h`` divides 12 and that each size of ``factors`` over the parameters is at least 1
        are required of the parameters, or assumed in a block checked generically (the
        class tests them). None elsewhere, and in a strict check."""
        nc = self._nc
        free = nc.param_syms - nc.net.param_env.keys()
        by = None if nc.strict or not free else _param_part(known, free)
        rest = None if by is None else exact_div(known, by)
        part = None if rest is None else exact_div(total, rest)
        if part is None or not symbols(by) <= free or not symbols(part) <= nc.param_syms:
            return None
        self._require_sizes(factors, nc.param_syms)
        self.assume_divides(part, by)
        return floordiv(part, by)

    def _require_sizes(self, sizes, names) -> None:
        """Each of ``sizes`` over the parameters ``names`` that is not at least 1 for every
        value of them is required to be (sizes: a class given 0 refuses it, as check --set does)."""
        for size in sizes:
            if isinstance(size, Expr) and symbols(size) <= names and less_equal(1, size) is not True:
                self._require(1, size, False)

    def _require(self, a: Dim, b: Dim, divides: bool) -> None:
        if self.tracing:
            raise Fail("a fact that holds for the parameters' values")  # such an application is never reused
        self._nc.require(a, b, divides, self.kind_name, self.span)

    # -- dims -------------------------------------------------------------------------------------
    @property
    def strict(self) -> bool:
        """Whether an equation that cannot be decided is an error (False: a block checked
        generically, where it is assumed and checked again at every use)."""
        return self._nc.strict

    def dim(self, d: Dim) -> Dim:
        """``d`` with the parameters' values, to read (a decision taken on it: ``known``)."""
        return self._nc.net.dim(d)

    def fix(self, *dims: Dim) -> None:
        """Record that the result depends on the values of the parameters in ``dims``."""
        self._nc.fix(*dims)

    def show(self, d: Dim) -> str:
        return render(self._nc.net.dim(d))

    def show_tensor(self, t: Tensor) -> str:
        return t.dtype + self._nc.net.show(t)

    def compare(self, a: Dim, b: Dim) -> bool | None:
        """True when a == b for every value of the symbols (sizes are at least 1), False
        when never, None when it depends on the values; parameters at their values."""
        return self._nc.compare(a, b)

    def less_equal(self, a: Dim, b: Dim) -> bool | None:
        """True when a <= b for every value of the symbols (sizes are at least 1), False
        when never, None when it depends on the values; parameters at their values."""
        return less_equal(self.dim(a), self.dim(b), self._nc.checker.sizes)

    @property
    def decide(self) -> Decide:
        """The comparisons a layout rule decides with (netspec.layout): for every value of
        the sizes and of the parameters (each at least 1), so that none is pinned."""
        nc = self._nc
        if nc.decider is None:
            positive = nc.positive
            nc.decider = Decide(lambda a, b: compare(a, b, positive), lambda a, b: less_equal(a, b, positive),
                                lambda d: sorted(s for s in symbols(d) if s in positive))
        return nc.decider

    def same(self, a: Dim, b: Dim) -> bool:
        """Whether a == b may hold: provably, or assumed (in a generic block check; over the
        parameters alone where the network's free parameters are required to make it hold)."""
        self._untraced(a, b)
        return self._nc.same(a, b, self.kind_name, self.span, lambda: self.size_notes(a, b))

    def _untraced(self, a: Dim, b: Dim) -> None:
        """An application whose facts would be required of the parameters is never reused."""
        if self.tracing and self._nc.records and self._nc.compare(a, b) is None:
            raise Fail("a fact required of the parameters")

    def broadcast_size(self, size: Dim, d: Dim, to_d: bool, stated: bool = False) -> bool | None:
        """What torch makes of ``size`` and ``d``, two sizes neither known to be 1: None when
        they cannot broadcast, else whether it is ``d`` (``to_d``, the rule's choice where
        the check is not recorded) rather than ``size``. Where no caller checks the network,
        the one kept must never be 1 for any value (unless the stage states it, ``stated``:
        expand's size; else the size depends on which is 1, an `unproven` error) and the
        other is required to be it or 1 (of the free parameters, or warned about)."""
        nc = self._nc
        if self.generic and nc.compare(size, d) is None:  # each use decides which is kept
            # The class tests that torch broadcasts them; where both may be 1, the size is
            # neither one (broadcast_max), and the other one kept is torch's result. A
            # maximum broadcasts with each of its arguments where they broadcast together.
            if size not in max_args(d) and d not in max_args(size):
                nc.block_fact(size, d, BROADCASTS, self.kind_name, self.span)
            return to_d
        if not nc.records or nc.compare(size, d) is not None:
            return to_d if self.same(size, d) else None
        self._untraced(size, d)
        to_d = stated or compare(d, 1, _ALL_POSITIVE) is False
        kept, other = (d, size) if to_d else (size, d)
        if not stated and compare(kept, 1, _ALL_POSITIVE) is not False:
            names = ", ".join(f"`{s}`" for s in sorted(symbols(size) | symbols(d)))
            raise self.fail(codes.UNPROVEN, f"{self.kind_name}: the size `{self.show(size)}` meets "
                            f"`{self.show(d)}`, and either may be 1: the result is the other one, so its "
                            f"size depends on the values of {names}", self.size_notes(size, d),
                            help="give the parameters defaults (or values with --set), or size both with "
                            "the same parameter")
        never_one = compare(other, 1, _ALL_POSITIVE) is False  # then it must be the one kept
        nc.assumes(other, kept, EQUAL if never_one else EQUAL_OR_ONE, self.kind_name, self.span,
                   lambda: self.size_notes(size, d))
        return to_d

    def broadcast_max(self, size: Dim, d: Dim) -> Dim | None:
        """In a generic check, the size torch makes of ``size`` and ``d``, which broadcast_size
        allowed and which may each be 1: ``max(size, d)`` (broadcast sizes are equal or one is
        1, and sizes are at least 1, which the class tests where it is not known: torch keeps
        a size of 0). None where the one broadcast_size kept is torch's result for every
        value: one of them is never 1, or they are provably equal."""
        nc = self._nc
        if not self.generic or nc.compare(size, d) is not None:
            return None
        if nc.compare(size, 1) is False or nc.compare(d, 1) is False:
            return None
        for x in (*max_args(size), *max_args(d)):  # a maximum is at least 1 where its arguments are
            if less_equal(1, self.dim(x), nc.checker.sizes) is not True:
                nc.block_fact(1, x, LESS_EQUAL, self.kind_name, self.span)
        return maximum(size, d, positive=nc.checker.sizes)

    def concrete(self, d: Dim, what: str, arg: str | None = None) -> int:
        return self._nc.concrete(d, what, self._span(arg))

    def known(self, d: Dim) -> Dim:
        """``d`` with the parameters' values, for a decision that then depends on them."""
        return self._nc.known(d)

    def role(self, d: Dim) -> str | None:
        """'batch' or 'time' when the dim is exactly a symbol named like one."""
        d = self._nc.net.dim(d)
        if isinstance(d, Expr) and len(d.terms) == 1:
            ((mono, coeff),) = d.terms.items()
            if coeff == 1 and len(mono) == 1 and mono[0][1] == 1 and isinstance(mono[0][0], str):
                name = mono[0][0]
                if name in BATCH_NAMES:
                    return "batch"
                if name in TIME_NAMES:
                    return "time"
        return None

    def batch_dim(self, t: Tensor) -> tuple[int, Dim] | None:
        """The one dim of ``t`` that is a batch symbol (by name), and that symbol; None when
        no dim, or more than one, holds a batch symbol."""
        found = []
        for i, d in enumerate(t.shape):
            names = symbols(self.dim(d)) & BATCH_NAMES
            if names:
                found.append((i, names))
        if len(found) != 1 or self.role(t.shape[found[0][0]]) != "batch":
            return None
        return found[0][0], self.dim(t.shape[found[0][0]])

    def batch_place(self, t: Tensor) -> tuple[int, Dim, Dim] | None:
        """Where the samples of ``t`` are: (dim, elements of one sample in a row, the batch
        symbol); a dim that is exactly the batch symbol holds them one by one."""
        if t.batch is not None:
            return t.batch
        found = self.batch_dim(t)
        return None if found is None else (found[0], 1, found[1])

    def regroup_batch(self, name: str, x: Tensor, shape, arg: str, merges: bool = False):
        """Where the samples are once ``x`` is laid out again in ``shape`` (row-major, as
        reshape reads it): ``Tensor.batch`` of the result, or None when unknown. A `layout`
        error when the new dim that holds the batch symbol would hold parts of several
        samples (docs/language.md, "Layout"). Sample ``s`` is, in flat order, runs of
        ``inner * R`` elements (R: those after its dim) every ``batch * inner * R``; a slice
        of new dim j (S elements after it) is one sample's exactly when m = inner * R / S is
        an integer and the new dim is a multiple of m * batch; then m is its new ``inner``.
        ``merges``: the new shape only merges adjacent dims (flatten), which never mixes
        samples: where netspec cannot follow it, it says nothing."""
        found = self.batch_place(x)
        new = [self.dim(d) for d in shape]
        holders = [j for j, d in enumerate(new) if found and symbols(d) & symbols(found[2])]
        if found is None or len(holders) != 1:
            return None
        (i, inner, batch), j = found, holders[0]
        if self.decide.eq(numel(new), numel([self.dim(d) for d in x.shape])) is not True:
            return None  # a shape that rests on an unproven fact (its warning says which)
        m = _quotient([inner, *(self.dim(d) for d in x.shape[i + 1:])], new[j + 1:])
        if m is not None and _quotient([new[j]], [batch, m]) is not None:
            return j, m, batch
        if merges:
            return None
        shown = ", ".join(render(d) for d in new)
        where = f"is dim {i}" if x.batch is None else f"is merged into dim {i}"
        fix = f"bring the batch dim first with `-> transpose(0, {i})` before it, or " if i and x.batch is None else ""
        self.fail_unless_allowed(
            codes.LAYOUT, f"{name}({shown}): dim {j} holds `{render(batch)}`, but its slices would hold "
            f"parts of several samples (the batch of {self.show_tensor(x)} {where})", self.input_story(),
            help=f"split dim {i} back into the dims it was merged from, then bring the batch dim first with "
            "`transpose` before merging again; if this is meant, add `# netspec: allow[layout]` to the line"
            if x.batch is not None else
            f"{fix}keep dim {i} whole in the new shape; if this is meant, add `# netspec: allow[layout]` to the line",
            arg=arg)
        return None

    def sliced_batch(self, name: str, x: Tensor, d: int, start: Dim, size: Dim, step: int = 1,
                     arg: str | None = None) -> Dim | None:
        """Where the samples are in a slice of dim ``d`` of ``x`` (elements ``start``,
        ``start + step``, ...: ``size`` of them) when ``x``'s batch is merged into that dim:
        the slice's ``inner`` (``Tensor.batch`` of its dim), or None. The samples keep their
        order when the slice begins where a run of every sample begins (``start`` a multiple
        of ``batch * inner``) and the step divides ``inner``. A `layout` error when the result
        would be read as samples it does not hold: a slice that does not keep them whose
        size still holds the batch symbol, or a dim that is exactly the batch symbol holding
        several elements of one sample in a row."""
        if x.batch is None or x.batch[0] != d or self.dim(size) == 0:
            return None  # nothing merged there, or nothing left
        if self.role(x.shape[d]) == "batch" and self.dim(x.batch[1]) == 1:
            return None  # a dim that is exactly the batch makes no claim once cut
        _, inner, batch = x.batch
        inner = self.dim(inner)
        aligned = _quotient([self.dim(start)], [batch, inner]) is not None
        m = _quotient([inner], [step]) if aligned else None
        if m is not None and (self.role(size) != "batch" or m == 1):
            return m
        if not symbols(self.dim(size)) & symbols(batch) and self.role(size) != "batch":
            return None  # a few rows no longer named by the batch: nothing claims they are samples
        if m is not None:
            why = f"dim {d} of the result is `{self.show(size)}`, but holds {render(m)} elements of one sample in a row"
        elif aligned:
            why = (f"its step {step} skips samples" if inner == 1 else
                   f"its step {step} does not divide {render(inner)}, the elements each sample has in a row there")
        else:
            why = (f"it starts at {render(self.dim(start))}, not where a run of every sample begins (a multiple of "
                   f"`{render(numel([batch, inner]))}`)")
        self.fail_unless_allowed(
            codes.LAYOUT, f"{name}: the samples of {self.show_tensor(x)} are merged into dim {d} ("
            f"{'one element of each in turn' if inner == 1 else f'{render(inner)} elements of one, then the next'}"
            f"), and the slice would not keep them apart: {why}", self.input_story(),
            help=f"split dim {d} back into the dims it was merged from (`reshape`) and slice the one you mean; "
            "if this is meant, add `# netspec: allow[layout]` to the line", arg=arg)
        return None

    def refuse_batch_in(self, x: Tensor, dims, reads: str, harm: str, layout: str = "[batch, channels, *spatial]",
                        first: bool = True) -> None:
        """A `layout` error (unless allowed on the line) when one of ``dims`` of ``x`` holds
        the batch, a dim named as one or the samples merged into it, and the layer reads
        across it: "{kind} {reads}, but it is `batch`: {harm}", ``{dim}`` in ``reads`` naming
        the dim; the help lays the input out as ``layout``, bringing a named batch dim first
        with `transpose` when ``first``."""
        for k in dims:
            named = self.role(x.shape[k]) == "batch"
            if not named and (x.batch is None or x.batch[0] != k):
                continue
            what = f"it is `{self.show(x.shape[k])}`" if named else "the samples are merged into it"
            fix = (f"bring the batch dim first with `-> transpose(0, {k})`, or " if named and first else "" if named else
                   f"split dim {k} back into the dims it was merged from (`reshape`) and ")
            self.fail_unless_allowed(
                codes.LAYOUT, f"{self.kind_name} {reads.format(dim=f'dim {k} of {self.show_tensor(x)}')}, but {what}: {harm}",
                self.input_story(), help=f"{fix}lay the input out as {layout}; if this is meant, "
                "add `# netspec: allow[layout]` to the line")

    def data_symbol(self, d: Dim) -> tuple[str, str] | None:
        """The first symbol of ``d`` (parameters at their values) named like an axis that
        varies with the data, and its role: ("seq", "time"); a network parameter's name
        never is one."""
        for name in sorted(s for s in symbols(self.dim(d)) if s in self._nc.checker.sizes):
            for role, names in DATA_ROLES:
                if name in names:
                    return name, role
        return None

    def check_weights(self, kind, a, inputs: list[Tensor]) -> None:
        """A `layout` error when a layer's constructor would need a dim that varies with the
        data (docs/language.md, "Layout"): its weights or buffers would be sized by it."""
        if not isinstance(kind, Layer):
            return
        pos, kw = kind.constructor_args(a)
        given = [*zip(kind.torch_positional, pos), *kw.items()]
        given.sort(key=lambda item: item[0] != kind.inferred)  # the size read from the input first
        for name, v in given:
            found = next(filter(None, (self.data_symbol(d) for d in _dims(v))), None)
            if found is None:
                continue
            sym, role = found
            why = f"the module would be built for one value of `{sym}`, a {role} dim that varies with the data"
            if name == kind.inferred and inputs:
                x = inputs[0]
                index = kind.inferred_index(x.rank) % max(x.rank, 1)
                raise self.fail(codes.LAYOUT, f"{self.kind_name} reads {name} from dim {index} of its input "
                                f"{self.show_tensor(x)}: {why}", self.input_story(),
                                help=self._relayout_help(x, index, sym))
            shown = ", ".join(self.show(d) for d in _dims(v))
            raise self.fail(codes.LAYOUT, f"{self.kind_name}: {name}={shown}: {why}", self._symbol_notes(sym),
                            arg=name, help=f"size it with a literal or a network parameter, not with `{sym}`")

    def _symbol_notes(self, name: str) -> list[str]:
        """Where the symbolic dim ``name`` comes from: the input whose shape declares it."""
        where = self._nc.net.input_symbols.get(name)
        inputs = self._nc.ast.inputs
        if where is None or not 0 <= where[0] < len(inputs) or where[1] < 0:
            return []
        inp = inputs[where[0]]
        return [f"`{name}` is dim {where[1]} of input {inp.name} (line {inp.span.line})"]

    def _relayout_help(self, x: Tensor, index: int, sym: str) -> str:
        """How to give a layer that reads its size from dim ``index`` a dim of a fixed size."""
        fixed = [j for j in range(x.rank) if j != index and self.data_symbol(x.shape[j]) is None]
        if fixed:
            j = fixed[-1]
            return (f"put `-> transpose({min(index, j)}, {max(index, j)})` before it, so that it reads "
                    f"`{self.show(x.shape[j])}`")
        return (f"give the input a dim of a fixed size there (a literal or a network parameter), "
                f"or pool over `{sym}` first")

    # -- notes ------------------------------------------------------------------------------------
    def origin_note(self, t: Tensor, i: int) -> str | None:
        o = t.origins[i] if i < len(t.origins) else None
        if o is None:
            return None
        return f"dim {i} ({self.show(t.shape[i])}) comes from {o}"

    def size_notes(self, *dims: Dim) -> list[str]:
        """Notes on where each of ``dims`` came from: the origin of the first dim of an input
        that is it (one a stage's argument gives needs none); where none is found, where
        each input came from."""
        notes: list[str] = []
        for d in dims:
            for v in self.input_values:
                t = v.tensor
                found = None if t is None else next((i for i, s in enumerate(t.shape) if s == d), None)
                note = None if found is None else self.origin_note(t, found)
                if note is not None:
                    if note not in notes:
                        notes.append(note)
                    break
        return notes or self._stories()

    def layout_story(self) -> list[str]:
        """Where the input's memory layout came from: the first of the stages before it that
        left it other than contiguous."""
        v = self.input_values[0]
        maker = None
        while v.tensor is not None and v.tensor.strides is not None:
            if v.node is None:
                return [f"`{v.name}` is not contiguous where this network is used"] if v.name else []
            maker = v.node
            if not v.node.inputs:
                break
            v = v.node.inputs[0]
        if maker is None:
            return []
        t = maker.outputs[0].tensor
        if t.strides is UNKNOWN:
            how = "with a memory layout netspec cannot state"
        elif is_contiguous(t.shape, t.strides, self.decide):  # a permute that moves a dim of size 1
            how = (f"with the strides ({', '.join(self.show(d) for d in t.strides)}): contiguous but for the stride "
                   "of a dim of size 1, from which torch reads its memory format too")
        else:
            how = "not contiguous"
        return [f"{maker.shown or maker.kind_name} (line {maker.span.line}) leaves its result {how}"]

    def _stories(self) -> list[str]:
        """Notes on where each input came from."""
        return [n for i in range(len(self.input_values)) for n in self.input_story(i)]

    def input_story(self, index: int = 0) -> list[str]:
        """Notes on where the input came from: its source and the stage that shaped it."""
        return self._nc.story(self.input_values[index])


class _AllPositive:
    """Every symbol a size, at least 1 (a parameter, too, once a class is built with it)."""

    def __contains__(self, name: object) -> bool:
        return True


_ALL_POSITIVE = _AllPositive()


def _quotient(num: list, den: list) -> Dim | None:
    """The product of ``num`` divided by that of ``den`` when it is a dim (factors equal on
    both sides cancelled first: netspec divides a polynomial by a monomial, not by another
    polynomial), else None."""
    num, rest = list(num), []
    for d in den:
        if d in num:
            num.remove(d)
        else:
            rest.append(d)
    q = numel(num)
    for d in rest:  # one factor at a time: a monomial, or a polynomial that divides exactly
        q = exact_div(q, d)
        if q is None:
            return None
    return q


def _dims(v) -> list[Dim]:
    """The dims in an argument value: itself, or those of a tuple."""
    if isinstance(v, tuple):
        return [d for item in v for d in _dims(item)]
    return [v] if is_dim(v) and not isinstance(v, bool) else []


def _param_part(known: Dim, env) -> Dim | None:
    """The part of ``known`` over the parameters with values: ``known`` over what every
    term shares of its coefficient and of other atoms (``h`` of ``2 * batch * h``, ``h + 1``
    of ``batch * h + batch``); None for an int."""
    if not isinstance(known, Expr):
        return None
    terms = list(known.terms.items())
    shared: dict = {}
    for atom, power in terms[0][0]:
        if not (isinstance(atom, str) and atom in env):
            shared[atom] = min([power] + [dict(m).get(atom, 0) for m, _ in terms[1:]])
    coefficient = math.gcd(*(c for _, c in terms))
    rest = coefficient * product(sym(a) if isinstance(a, str) else Expr({((a, 1),): 1})
                                 for a, p in shared.items() for _ in range(p))
    return exact_div(known, rest)
