"""The context a layer or op kind sees while its shape rule runs (``kind.infer(ctx, a, inputs)``).

Through it a rule reports at the stage or at one argument's span, reads sizes with the
network's parameters substituted, asks whether two sizes are equal (proven, or assumed in a
generic check of a network used as a stage), and notes which parameters a decision depended
on. A rule never reaches past it into the checker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import memo
from .codes import Code
from .diagnostics import Span
from .dims import Dim, Expr, less_equal, render
from .kinds import Fail
from .types import Origin, Tensor

if TYPE_CHECKING:
    from .checker import NetworkChecker
    from .graph import Value

# Symbols named like these are batch or time axes (docs/language.md, "Layout").
BATCH_NAMES = frozenset({"batch", "batch_size", "B", "N"})
TIME_NAMES = frozenset({"seq", "seq_len", "time", "T"})


class StageCtx:
    """What a kind may use while inferring: report at the stage, compare and show dims."""

    def __init__(self, network: "NetworkChecker", span: Span, kind_name: str,
                 arg_spans: dict[str, Span], inputs: "list[Value]", tracing: bool = False):
        self._nc = network
        self.span = span
        self.kind_name = kind_name
        self.arg_spans = arg_spans
        self.input_values = inputs
        # tracing (memo): origins are placeholders and nothing is reported
        self.tracing = tracing
        self.origin = memo.SELF if tracing else Origin(kind_name, span)

    def traced(self) -> "StageCtx":
        """The same stage, for tracing its rule over placeholder origins (netspec.memo)."""
        return StageCtx(self._nc, self.span, self.kind_name, self.arg_spans, self.input_values, tracing=True)

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

    def same(self, a: Dim, b: Dim) -> bool:
        """Whether a == b may hold: provably, or assumed in a generic block check."""
        return self._nc.same(a, b)

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

    # -- notes ------------------------------------------------------------------------------------
    def origin_note(self, t: Tensor, i: int) -> str | None:
        o = t.origins[i] if i < len(t.origins) else None
        if o is None:
            return None
        return f"dim {i} ({self.show(t.shape[i])}) comes from {o}"

    def input_story(self, index: int = 0) -> list[str]:
        """Notes on where the input came from: its source and the stage that shaped it."""
        return self._nc.story(self.input_values[index])
