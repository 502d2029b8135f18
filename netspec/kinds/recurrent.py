"""RNN, LSTM, GRU and their cells, with torch's exact result shapes.

``output`` is ``[seq, batch, D * H_out]`` (``[batch, seq, ...]`` with batch_first), and
``h_n``/``c_n`` are ``[D * num_layers, batch, H_out]`` / ``[..., hidden]`` whatever
batch_first says; an unbatched input drops the batch dim everywhere. H_out is proj_size
when an LSTM projects, else hidden_size.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from .. import codes
from ..dims import Dim, floordiv, less_equal, render, symbols
from ..types import ITEMSIZE, UNKNOWN, Tensor
from . import why
from .args import after
from .base import (
    Args,
    ArgValueError,
    BoolArg,
    DimArg,
    FloatArg,
    FloatLayer,
    SizeArg,
    TensorIn,
    Weight,
    indices,
    numel,
    register,
)
from .memory import UNKNOWN as UNSTATED
from .memory import Saved, contiguous_strides, is_contiguous, permuted, view_strides


def batch_first_output(a, inputs, outputs, outs: list) -> list:
    """``outs`` with the first result's strides made those of a batch-first result that
    torch computes as [seq, batch, ...] and returns transposed (recurrent layers, attention)."""
    if a.batch_first and inputs[0].rank == 3:
        y = outputs[0].shape
        outs[0] = permuted(contiguous_strides((y[1], y[0], *y[2:])), (1, 0, 2))
    return outs


def check_sequence_layout(ctx, name: str, x: Tensor, batch_first: bool, arg: str | None = None,
                          notes=None) -> None:
    """A `layout` error when a layer that reads ``[seq, batch, ...]`` (``[batch, seq, ...]``
    with batch_first) would read a dim that holds the batch (named as one, or the samples
    merged into it) as time, or a time dim as batch: torch runs such a model silently and
    wrong. An allow comment on the line silences it. ``arg`` names a tensor passed by
    keyword (an attention's key), ``notes`` say where it came from; without ``arg`` the
    tensor is the input."""
    if x.rank == 2:  # unbatched [L, E], whatever batch_first says
        check_unbatched_layout(ctx, name, x, arg, notes)
        return
    time_axis, batch_axis = (1, 0) if batch_first else (0, 1)
    merged = merged_into(x, time_axis)
    if ctx.role(x.shape[time_axis]) == "batch" or merged:
        axis, reads_as = time_axis, "time"
    elif ctx.role(x.shape[batch_axis]) == "time":
        axis, reads_as = batch_axis, "batch"
    else:
        return
    bf = "true" if batch_first else "false"
    fix = "pass batch_first=false" if batch_first else "pass batch_first=true"
    where = f"dim {axis}" if arg is None else f"dim {axis} of `{arg}`"
    move = f"put `-> transpose(0, 1)` before the {name}" if arg is None else f"transpose `{arg}` first"
    if merged:
        fix, move = f"split dim {axis} back into the dims it was merged from (`reshape`)", f"put the batch at dim {batch_axis}"
    ctx.fail_unless_allowed(
        codes.LAYOUT,
        f"{name} reads {where} as {reads_as} (batch_first={bf}), but dim {axis} is "
        f"`{ctx.show(x.shape[axis])}`{MERGED if merged else ''}",
        ctx.input_story() if arg is None else (notes or [f"`{arg}` is {ctx.show_tensor(x)}"]),
        help=f"{fix}, or {move}; if this is meant, add `# netspec: allow[layout]` to the line", arg=arg)


MERGED = ", which holds the samples merged with another dim: each step would be a part of another sample"


def merged_into(x: Tensor, k: int) -> bool:
    """Whether dim ``k`` of ``x`` holds its samples merged with another dim (Tensor.batch)."""
    return x.batch is not None and x.batch[0] == k


def sequence_dims(a, x: Tensor) -> tuple[Dim, Dim]:
    """(seq, batch) of a recurrent layer's input; an unbatched one has a batch of 1."""
    if x.rank == 2:
        return x.shape[0], 1
    return (x.shape[1], x.shape[0]) if a.batch_first else (x.shape[0], x.shape[1])


def folds_as_view(a, x: Tensor, strides) -> bool:
    """Whether torch's CPU recurrent layer reads its input, transposed to [seq, batch, features]
    and folded into [seq * batch, features], as a view (else it copies it once a direction)."""
    if x.rank == 2:
        return True
    shape, strides = tuple(x.shape), tuple(strides)
    if a.batch_first:
        shape, strides = (shape[1], shape[0], shape[2]), (strides[1], strides[0], strides[2])
    return view_strides(shape, strides, (shape[0] * shape[1], shape[2])) is not None


def check_unbatched_layout(ctx, name: str, x: Tensor, arg: str | None = None, notes=None) -> None:
    """A `layout` error when a layer reads a 2-dim ``[L, E]`` as one unbatched sequence whose
    steps are a dim named as a batch: each sample would be a time step of one sequence."""
    merged = merged_into(x, 0)
    if ctx.role(x.shape[0]) != "batch" and not merged:
        return
    where = "dim 0" if arg is None else f"dim 0 of `{arg}`"
    holds = ", which holds the samples merged with another dim" if merged else ""
    ctx.fail_unless_allowed(
        codes.LAYOUT, f"{name} reads {ctx.show_tensor(x)} as one unbatched sequence: {where} is "
        f"`{ctx.show(x.shape[0])}`{holds}, read as time, so the samples would be steps of one sequence",
        ctx.input_story() if arg is None else (notes or [f"`{arg}` is {ctx.show_tensor(x)}"]),
        help=("split dim 0 back into the dims it was merged from (`reshape`), a sequence for each sample"
              if merged else "give each sample a sequence of its own: `-> unsqueeze(1)` ([batch, 1, features]) "
              "with batch_first=true, or `-> unsqueeze(0)` without") +
        "; if this is meant, add `# netspec: allow[layout]` to the line", arg=arg)


class RNNBaseArgs(Args):
    input_size: SizeArg
    hidden_size: SizeArg
    num_layers: SizeArg = 1
    bias: BoolArg = True
    batch_first: BoolArg = False
    dropout: FloatArg = 0.0
    bidirectional: BoolArg = False
    h0: TensorIn = None

    @after
    def _ranges(self):
        if not 0.0 <= self.dropout <= 1.0:
            raise ArgValueError("dropout", f"dropout should be a number in range [0, 1], received {self.dropout}",
                                help="dropout is a probability: give a number from 0 to 1")


class RNNArgs(RNNBaseArgs):
    nonlinearity: Literal["tanh", "relu"] = "tanh"


class LSTMArgs(RNNBaseArgs):
    proj_size: DimArg = 0
    c0: TensorIn = None

    @after
    def _proj(self):
        p, h = self.proj_size, self.hidden_size
        fix = "give 0 (no projection) or a size smaller than hidden_size"
        if isinstance(p, int) and p < 0:
            raise ArgValueError("proj_size", "proj_size should be a positive integer or zero to disable projections",
                                help=fix)
        if isinstance(p, int) and isinstance(h, int) and p >= h:
            raise ArgValueError("proj_size", f"proj_size ({p}) has to be smaller than hidden_size ({h})", help=fix)


class _Recurrent(FloatLayer):
    gates: ClassVar[int]
    inferred = "input_size"
    torch_positional = ("input_size", "hidden_size")
    ranks = (2, 3)
    rank_help = "a recurrent layer takes [seq, batch, features] (or [batch, seq, features] with batch_first=true)"
    state_inputs = ("h0",)
    results = ("output", "h_n")
    dtype_kwarg = True

    def call_args(self, a, inputs, state, code):
        if "h0" in state:
            return [inputs[0], state["h0"]]
        return list(inputs)

    def result_pattern(self, names):
        return f"{names[0]}, {names[1]}"

    def explain(self, a, inputs, outputs):
        x = inputs[0]
        D, h_out = self.directions(a), self.h_out(a)
        if x.rank == 3:
            t, b = (1, 0) if a.batch_first else (0, 1)
            layout = "[batch, seq, features]: batch_first=true" if a.batch_first else \
                "[seq, batch, features]: batch_first=false, the default"
            reads = [f"reads: dim {t} as time, dim {b} as the batch, dim 2 as input_size ({layout})",
                     "the states are [num_layers * directions, batch, hidden] whatever batch_first says"]
        else:
            reads = ["reads: dim 0 as time, dim 1 as input_size (2 dims: unbatched)"]
        out = reads + [why.line(x.rank - 1, f"{D}*{why.num(h_out)}", outputs[0].shape[-1], "output")
                       + ("  (directions * H_out: both directions side by side)" if D == 2 else "")]
        for name, y in zip(self.results[1:], outputs[1:]):
            out.append(why.line(0, f"{why.num(a.num_layers)}*{D}", y.shape[0], name) + "  (num_layers * directions)")
            size = "proj_size" if name != "c_n" and getattr(a, "proj_size", 0) != 0 else "hidden_size"
            out.append(why.line(y.rank - 1, size, y.shape[-1], name))
        return out

    def saved(self, a, inputs, outputs, grad):
        """What torch's CPU implementation keeps (docs/costs.md): each layer's input (folded
        into [seq * batch, features], a copy per direction where that is no view), each
        step's gates and the hidden states it reads, the zero initial states it makes, and
        the dropout masks between layers. A float32 or bfloat16 LSTM without projection runs
        as oneDNN kernels instead (``LSTM.saved``)."""
        x = inputs[0]
        seq, batch = sequence_dims(a, x)
        D, L, h_out = self.directions(a), a.num_layers, self.h_out(a)
        kept = L * D * batch * self.step_elements(a, seq) + self.zero_states(a, batch)
        between = seq * batch * D * h_out  # a later layer's input, made by the one before
        if a.dropout > 0:
            kept = kept + (L - 1) * (between + (between if a.dropout < 1 else 1))
        else:
            kept = kept + (L - 1) * between
        given = tuple(n for n in self.state_inputs if getattr(a, n, None) is not None)
        if folds_as_view(a, x, grad.strides_of(0, x.shape)):
            return Saved(inputs=(0,), state=given, extra=kept * ITEMSIZE[x.dtype])
        return Saved(state=given, extra=(kept + D * numel(x.shape)) * ITEMSIZE[x.dtype])

    def step_elements(self, a, seq: Dim) -> Dim:
        """The elements a direction of a layer keeps over the sequence, per batch element."""
        raise NotImplementedError

    def zero_states(self, a, batch: Dim) -> Dim:
        """The elements of the zero initial states torch makes for those not given."""
        return 0 if a.h0 is not None else a.num_layers * self.directions(a) * batch * a.hidden_size

    def h_out(self, a) -> Dim:
        return a.hidden_size

    def batch_axis(self, a, rank):
        return (0 if a.batch_first else 1) if rank == 3 else None

    def layout(self, ctx, a, inputs, outputs):
        outs = super().layout(ctx, a, inputs, outputs)
        if a.batch_first and inputs[0].rank == 3:
            outs[0] = UNKNOWN  # torch runs [seq, batch, ...] and returns `output` transposed
        return outs

    def new_strides(self, a, inputs, outputs):
        """Torch runs [seq, batch, ...] on the CPU and returns ``output`` transposed."""
        return batch_first_output(a, inputs, outputs, super().new_strides(a, inputs, outputs))

    def directions(self, a) -> int:
        return 2 if a.bidirectional else 1

    def infer(self, ctx, a, inputs):
        (x,) = inputs
        self.check_dtype(ctx, x)
        self.check_layout(ctx, a, x)
        D = self.directions(a)
        h_out = self.h_out(a)
        layers = a.num_layers
        batched = x.rank == 3
        if batched:
            b_axis = self.batch_axis(a, x.rank)
            batch = x.shape[b_axis]
            out_shape = list(x.shape[:2]) + [D * h_out]
            output = x.with_shape(tuple(out_shape), ctx.origin, keep={0: 0, 1: 1})
            state = (D * layers, batch, h_out)
            h_n = Tensor(x.dtype, state, (ctx.origin, x.origins[b_axis], ctx.origin))
        else:
            output = x.with_shape((x.shape[0], D * h_out), ctx.origin, keep={0: 0})
            h_n = Tensor(x.dtype, (D * layers, h_out), (ctx.origin, ctx.origin))
        results = [output, h_n]
        if "c_n" in self.results:
            c_shape = h_n.shape[:-1] + (a.hidden_size,)
            results.append(Tensor(x.dtype, c_shape, h_n.origins))
        for name, want in zip(("h0", "c0"), results[1:]):
            given = getattr(a, name, None)
            if given is not None:
                self.check_state(ctx, name, given, want, x)
        if isinstance(a.dropout, float) and a.dropout > 0 and ctx.dim(layers) == 1:
            ctx.warn(codes.VALUE, f"{self.name}(dropout={a.dropout}) with num_layers=1 does nothing: "
                     "torch applies dropout between layers", arg="dropout",
                     help="add layers, or drop the dropout argument")
        return results

    def check_state(self, ctx, name: str, given, want: Tensor, x: Tensor) -> None:
        t = given.tensor
        if t.dtype != x.dtype:
            raise ctx.fail(codes.DTYPE, f"{name} is {t.dtype} but the input is {x.dtype}", arg=name)
        same_rank = t.rank == want.rank
        if not same_rank or not all(ctx.same(g, w) for g, w in zip(t.shape, want.shape)):
            notes = [f"{given.name} is {ctx.show_tensor(t)}"]
            notes.append(f"{self.name} needs [D * num_layers, batch, {'hidden' if name == 'c0' else 'H_out'}] = "
                         f"{ctx.show_tensor(want)}")
            raise ctx.fail(codes.SHAPE, f"{name} of {self.name} must be {ctx.show_tensor(want)}, received "
                           f"{ctx.show_tensor(t)}", notes, arg=name,
                           help="the initial state is laid out [num_layers * directions, batch, hidden] "
                           "whatever batch_first says")

    def check_layout(self, ctx, a, x: Tensor) -> None:
        if x.rank in (2, 3):
            check_sequence_layout(ctx, self.name, x, a.batch_first)

    def param_count(self, a):
        D = self.directions(a)
        g = self.gates * a.hidden_size
        h_out = self.h_out(a)
        per_dir_rest = g * (D * h_out) + g * h_out
        per_dir_first = g * a.input_size + g * h_out
        bias = 2 * g if a.bias else 0
        proj = a.hidden_size * h_out if getattr(a, "proj_size", 0) != 0 else 0
        first = D * (per_dir_first + bias + proj)
        rest = (a.num_layers - 1) * D * (per_dir_rest + bias + proj)
        return first + rest

    def weights(self, a, dim=None):
        """torch's names, layer by layer and direction by direction: weight_ih_l0,
        weight_hh_l0, bias_ih_l0, bias_hh_l0 (weight_hr_l0 with a projection), then
        the reverse direction's with a `_reverse` suffix."""
        g, h_out = self.gates * a.hidden_size, self.h_out(a)
        proj = getattr(a, "proj_size", 0) != 0
        out = []
        for k, layer in enumerate(["0"] + indices(a.num_layers, dim, 1)):
            width = a.input_size if k == 0 else self.directions(a) * h_out
            for suffix in ("", "_reverse")[:self.directions(a)]:
                out += [Weight(f"weight_ih_l{layer}{suffix}", (g, width)),
                        Weight(f"weight_hh_l{layer}{suffix}", (g, h_out))]
                if a.bias:
                    out += [Weight(f"bias_ih_l{layer}{suffix}", (g,)), Weight(f"bias_hh_l{layer}{suffix}", (g,))]
                if proj:
                    out.append(Weight(f"weight_hr_l{layer}{suffix}", (a.proj_size, a.hidden_size)))
        return out

    def flops(self, a, inputs, outputs):
        x = inputs[0]
        steps = numel(x.shape[:-1])  # seq * batch (or seq when unbatched)
        D = self.directions(a)
        g = self.gates * a.hidden_size
        h_out = self.h_out(a)
        proj = a.hidden_size * h_out if getattr(a, "proj_size", 0) != 0 else 0
        first = g * a.input_size + g * h_out + proj
        rest = g * (D * h_out) + g * h_out + proj
        return 2 * steps * D * (first + (a.num_layers - 1) * rest)

    def label(self, a, dim=None):
        def txt(d) -> str:
            return render(dim(d) if dim is not None else d)

        parts = [self.name, txt(a.hidden_size)]
        extra = []
        if txt(a.num_layers) != "1":
            extra.append(f"layers={txt(a.num_layers)}")
        if a.bidirectional:
            extra.append("bidirectional")
        if a.batch_first:
            extra.append("batch_first")
        if a.dropout:
            extra.append(f"dropout={a.dropout:g}")
        if getattr(a, "proj_size", 0):
            extra.append(f"proj={txt(a.proj_size)}")
        return " ".join(parts) + (", " + ", ".join(extra) if extra else "")


@register
class RNN(_Recurrent):
    name = "RNN"
    torch_name = "RNN"
    Args = RNNArgs
    gates = 1
    positional = ("hidden_size", "num_layers", "nonlinearity", "bias", "batch_first", "dropout", "bidirectional")
    examples: ClassVar[list[dict]] = [
        {"stage": "RNN(8, num_layers=2, batch_first=true)", "input": "float32[3, 5, 10]"},
        {"stage": 'RNN(4, nonlinearity="relu", bidirectional=true)', "input": "float32[6, 2, 3]"},
        {"stage": "RNN(5, bias=false)", "input": "float32[7, 3]"},
        {"stage": 'RNN(4, 2, "relu", false, true, 0.0, true)', "input": "float32[3, 5, 2]"},
    ]

    def step_elements(self, a, seq):
        return seq * a.hidden_size  # each step's result, which the next step reads


@register
class LSTM(_Recurrent):
    name = "LSTM"
    torch_name = "LSTM"
    Args = LSTMArgs
    gates = 4
    positional = ("hidden_size", "num_layers", "bias", "batch_first", "dropout", "bidirectional", "proj_size")
    state_inputs = ("h0", "c0")
    results = ("output", "h_n", "c_n")
    examples: ClassVar[list[dict]] = [
        {"stage": "LSTM(100, bidirectional=true)", "input": "float32[28, 2, 28]"},
        {"stage": "LSTM(12, 2, dropout=0.5)", "input": "float32[30, 4, 30]"},
        {"stage": "LSTM(10, num_layers=3, proj_size=4, bidirectional=true, batch_first=true)",
         "input": "float32[2, 6, 5]"},
        {"stage": "LSTM(6, proj_size=2)", "input": "float64[5, 3]"},
        {"stage": "LSTM(6, 2, false, true, 0.0, true, 3)", "input": "float32[3, 5, 2]"},
        {"stage": "LSTM(5, num_layers=2, bidirectional=true, proj_size=3, input_size=6)", "input": "float32[4, 6]"},
    ]

    def h_out(self, a):
        return a.proj_size if a.proj_size != 0 else a.hidden_size

    def infer(self, ctx, a, inputs):
        """torch needs proj_size < hidden_size; where the sizes come from parameters, the
        built class tests it with their values (LSTMArgs refuses it for known sizes)."""
        p, h = a.proj_size, a.hidden_size
        if ctx.dim(p) != 0 and ctx.requires_at_most(p + 1, h) is False:
            raise ctx.fail(codes.VALUE, f"{self.name}(proj_size=...): proj_size ({ctx.show(p)}) has to be smaller "
                           f"than hidden_size ({ctx.show(h)})", arg="proj_size",
                           help="give 0 (no projection) or a size smaller than hidden_size")
        return super().infer(ctx, a, inputs)

    def saved(self, a, inputs, outputs, grad):
        """torch's CPU LSTM without a projection runs through oneDNN in float32
        (``onednn_saved``); in bfloat16 it does where the processor has bfloat16 instructions
        and runs the chain of ops elsewhere, so that one is not stated. Any other LSTM runs
        the chain of ops (``_Recurrent.saved``)."""
        x = inputs[0]
        if a.proj_size != 0 or x.dtype not in ("float32", "bfloat16"):
            return super().saved(a, inputs, outputs, grad)
        if x.dtype != "float32":
            return UNSTATED
        return self.onednn_saved(a, x, grad.strides_of(0, x.shape))

    def onednn_saved(self, a, x: Tensor, strides) -> Saved | None:
        """What torch's CPU float32 LSTM keeps (aten/src/ATen/native/mkldnn/RNN.cpp): one oneDNN
        primitive a layer and direction, each keeping its input, its h0 and c0 (views of the
        states given or of the zeros made for them), its output [seq, batch, hidden], its last
        h and c, its workspace (``onednn_lstm_workspace``) and, without bias, the zeros torch
        passes as biases (shaped as weight_ih and weight_hh). The input is copied where it is
        not contiguous as [seq, batch, features]; the two directions' outputs are concatenated
        for the next layer, and a dropout between layers keeps its mask and its result. The
        result of a one-direction LSTM is its last layer's output itself. None where the
        workspace depends on which of input_size and hidden_size is larger, and that is unknown."""
        seq, batch = sequence_dims(a, x)
        D, L, H, F = self.directions(a), a.num_layers, a.hidden_size, a.input_size
        first = onednn_lstm_workspace(seq, batch, F, H)
        if first is None:
            return UNSTATED
        workspace = D * (first + (L - 1) * onednn_lstm_workspace(seq, batch, D * H, H))
        between = seq * batch * D * H  # a later layer's input, made by the one before
        outputs = L * D * seq * batch * H - (between if D == 1 else 0)  # D == 1: the last is the result
        kept = outputs + L * D * 2 * batch * H + self.zero_states(a, batch)
        if a.dropout > 0:
            kept = kept + (L - 1) * (between + (between if a.dropout < 1 else 1))
        elif D == 2:
            kept = kept + (L - 1) * between
        if not a.bias:
            kept = kept + D * 4 * H * (F + H) + (L - 1) * D * 4 * H * (D * H + H)
        given = tuple(n for n in self.state_inputs if getattr(a, n, None) is not None)
        result = (0,) if D == 1 else ()
        shape, st = tuple(x.shape), tuple(strides)
        if a.batch_first and x.rank == 3:
            shape, st = (shape[1], shape[0], shape[2]), (st[1], st[0], st[2])
        if is_contiguous(shape, st):
            return Saved(inputs=(0,), state=given, outputs=result, extra=kept * 4 + workspace)
        return Saved(state=given, outputs=result, extra=(kept + numel(x.shape)) * 4 + workspace)

    def step_elements(self, a, seq):
        """Each step: its four gates and the tanh of its cell state, the hidden state before
        the projection (with one), and (but the last) its results h and c, read by the next."""
        proj = seq * a.hidden_size if a.proj_size != 0 else 0
        return 5 * seq * a.hidden_size + (seq - 1) * (a.hidden_size + self.h_out(a)) + proj

    def zero_states(self, a, batch):
        n = a.num_layers * self.directions(a) * batch
        return (0 if a.h0 is not None else n * self.h_out(a)) + (0 if a.c0 is not None else n * a.hidden_size)

    def call_args(self, a, inputs, state, code):
        h0, c0 = state.get("h0"), state.get("c0")
        if h0 is None and c0 is None:
            return list(inputs)
        # torch takes both states or neither: the missing one starts at zero, as torch's own
        # default does, made like the given one (its dtype and device)
        if c0 is None:
            c0 = f"{h0}.new_zeros((*{h0}.shape[:-1], {code(a.hidden_size)}))"
        if h0 is None:
            h0 = f"{c0}.new_zeros((*{c0}.shape[:-1], {code(self.h_out(a))}))"
        return [inputs[0], f"({h0}, {c0})"]

    def result_pattern(self, names):
        return f"{names[0]}, ({names[1]}, {names[2]})"


PAGE = 4096  # oneDNN aligns each region of an RNN's workspace to a page


def onednn_lstm_workspace(seq: Dim, batch: Dim, input_size: Dim, hidden: Dim) -> Dim | None:
    """The bytes of the workspace of oneDNN's float32 LSTM primitive for training, one layer
    and one direction (oneDNN 3.12, src/cpu/rnn/rnn_utils: ``set_workspace_sizes`` and
    ``set_offsets``): seven regions, each starting on a page (``rnd_up`` to 4096 bytes): the
    gates (seq * batch rows of 4 * hidden), the hidden states (seq * batch rows of hidden),
    the states, their gradients as layer state and as iteration state (each (layers + 1) *
    (seq + 1) * batch rows of the wider of input_size and hidden, with one layer), the cell
    states and their gradients (as many rows, of hidden). The rows of the matrices a GEMM
    reads are padded by ``good_ld``. None where which of input_size and hidden is wider is
    unknown."""
    names = symbols(input_size) | symbols(hidden)
    if less_equal(input_size, hidden, positive=names):
        wide = hidden
    elif less_equal(hidden, input_size, positive=names):
        wide = input_size
    else:
        return None
    steps, states = seq * batch, 2 * (seq + 1) * batch

    def pages(elements: Dim) -> Dim:  # float32 elements, rounded up to whole pages
        return floordiv(4 * elements + PAGE - 1, PAGE)

    regions = (pages(steps * good_ld(4 * hidden)) + pages(steps * good_ld(hidden))
               + 3 * pages(states * good_ld(wide)) + 2 * pages(states * hidden))
    return PAGE * regions


def good_ld(n: Dim) -> Dim:
    """oneDNN's ``get_good_ld`` for 4-byte elements: n rounded up to a multiple of 16 (64
    bytes), plus 16 where that is a multiple of 256 (against 4K aliasing)."""
    blocks = floordiv(n + 15, 16)
    return 16 * blocks + 16 * (floordiv(blocks, 16) - floordiv(blocks - 1, 16))


@register
class GRU(_Recurrent):
    name = "GRU"
    torch_name = "GRU"
    Args = RNNBaseArgs
    gates = 3
    positional = ("hidden_size", "num_layers", "bias", "batch_first", "dropout", "bidirectional")
    examples: ClassVar[list[dict]] = [
        {"stage": "GRU(16)", "input": "float32[9, 2, 8]"},
        {"stage": "GRU(7, num_layers=2, bidirectional=true, batch_first=true, bias=false)",
         "input": "float32[3, 4, 5]"},
        {"stage": "GRU(5, 2, false, true)", "input": "float32[3, 5, 2]"},
        {"stage": "GRU(4, batch_first=true)", "input": "float32[2, 3]"},
    ]

    def step_elements(self, a, seq):
        """Each step: its three hidden gates, the new gate, a copy of the hidden state before
        the update is written over it, and (but the last) its result, read by the next."""
        return (7 * seq - 1) * a.hidden_size


# -- cells ------------------------------------------------------------------------------------


class CellArgs(Args):
    input_size: SizeArg
    hidden_size: SizeArg
    bias: BoolArg = True
    hx: TensorIn = None


class RNNCellArgs(CellArgs):
    nonlinearity: Literal["tanh", "relu"] = "tanh"


class LSTMCellArgs(CellArgs):
    cx: TensorIn = None


class _Cell(FloatLayer):
    gates: ClassVar[int]
    kept: ClassVar[int] = 0  # the [batch, hidden] tensors the cell makes and keeps
    inferred = "input_size"
    torch_positional = ("input_size", "hidden_size")
    ranks = (1, 2)
    rank_help = "a cell takes one step: [batch, features] or [features]"
    state_inputs = ("hx",)
    results = ("h",)
    dtype_kwarg = True

    def call_args(self, a, inputs, state, code):
        names = [state.get(n) for n in self.state_inputs]
        if all(n is None for n in names):
            return list(inputs)
        if len(names) == 1:
            return [inputs[0], names[0]]
        given = next(n for n in names if n is not None)  # LSTMCell: h and c have one shape
        hx, cx = (n if n is not None else f"torch.zeros_like({given})" for n in names)
        return [inputs[0], f"({hx}, {cx})"]

    def infer(self, ctx, a, inputs):
        (x,) = inputs
        self.check_dtype(ctx, x)
        h = x.with_shape(x.shape[:-1] + (a.hidden_size,), ctx.origin, keep={i: i for i in range(x.rank - 1)})
        results = [h] * len(self.results)
        for name in self.state_inputs:
            given = getattr(a, name, None)
            if given is None:
                continue
            t = given.tensor
            if t.rank != h.rank or not all(ctx.same(g, w) for g, w in zip(t.shape, h.shape)) or t.dtype != h.dtype:
                raise ctx.fail(codes.SHAPE, f"{name} of {self.name} must be {ctx.show_tensor(h)}, received "
                               f"{ctx.show_tensor(t)}", [f"{given.name or name} is {ctx.show_tensor(t)}"], arg=name,
                               help=f"a cell's state is [batch, hidden_size] in the input's dtype: give "
                                    f"{self.name} a hidden_size of {ctx.show(t.shape[-1])}, or a state of that shape")
        return results

    def param_count(self, a):
        g = self.gates * a.hidden_size
        return g * a.input_size + g * a.hidden_size + (2 * g if a.bias else 0)

    def weights(self, a, dim=None):
        g = self.gates * a.hidden_size
        out = [Weight("weight_ih", (g, a.input_size)), Weight("weight_hh", (g, a.hidden_size))]
        return out + ([Weight("bias_ih", (g,)), Weight("bias_hh", (g,))] if a.bias else [])

    def explain(self, a, inputs, outputs):
        x = inputs[0]
        reads = ("reads: dim 0 as the batch, dim 1 as input_size (one step: [batch, features])" if x.rank == 2
                 else "reads: dim 0 as input_size (one step, unbatched: [features])")
        return [reads] + [why.line(x.rank - 1, "hidden_size", y.shape[-1], name)
                          for name, y in zip(self.results, outputs)]

    def saved(self, a, inputs, outputs, grad):
        """What torch's CPU cell keeps (docs/costs.md): the input and the states it reads (the
        zeros torch or the built module makes for those not given), and what ``kept`` says."""
        x = inputs[0]
        unit = numel(x.shape[:-1]) * a.hidden_size
        given = tuple(n for n in self.state_inputs if getattr(a, n, None) is not None)
        zeros = unit if len(given) < len(self.state_inputs) else 0  # LSTMCell: one zeros for h and c
        return Saved(inputs=(0,), state=given, extra=(self.kept * unit + zeros) * ITEMSIZE[x.dtype])

    def flops(self, a, inputs, outputs):
        steps = numel(inputs[0].shape[:-1])
        g = self.gates * a.hidden_size
        return 2 * steps * (g * a.input_size + g * a.hidden_size)


@register
class RNNCell(_Cell):
    contiguous_ranks = "every"  # whatever its inputs' strides (tests/test_formats.py)
    name = "RNNCell"
    torch_name = "RNNCell"
    Args = RNNCellArgs
    gates = 1
    positional = ("hidden_size", "bias", "nonlinearity")

    def saved(self, a, inputs, outputs, grad):
        return super().saved(a, inputs, outputs, grad) + Saved(outputs=(0,))  # its result, for the activation
    examples: ClassVar[list[dict]] = [{"stage": "RNNCell(8)", "input": "float32[3, 5]"},
                                      {"stage": 'RNNCell(4, nonlinearity="relu", bias=false)', "input": "float32[6]"},
                                      {"stage": "RNNCell(hidden_size=3, input_size=5)", "input": "float64[2, 5]"}]


@register
class LSTMCell(_Cell):
    contiguous_ranks = "every"  # whatever its inputs' strides (tests/test_formats.py)
    name = "LSTMCell"
    torch_name = "LSTMCell"
    Args = LSTMCellArgs
    gates = 4
    kept = 5  # the four gates and the tanh of the cell state
    positional = ("hidden_size", "bias")
    state_inputs = ("hx", "cx")
    results = ("h", "c")
    examples: ClassVar[list[dict]] = [{"stage": "LSTMCell(8)", "input": "float32[3, 5]"},
                                      {"stage": "LSTMCell(3, bias=false)", "input": "float32[4]"}]


@register
class GRUCell(_Cell):
    name = "GRUCell"
    torch_name = "GRUCell"
    Args = CellArgs
    gates = 3
    kept = 6  # the three hidden gates, the new gate and a copy of the state before the update
    positional = ("hidden_size", "bias")
    examples: ClassVar[list[dict]] = [{"stage": "GRUCell(6)", "input": "float32[2, 4]"},
                                      {"stage": "GRUCell(3, false)", "input": "float32[5]"}]
