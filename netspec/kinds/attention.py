"""MultiheadAttention and torch's transformer layers and stacks, with torch's exact shapes.

A sequence is ``[L, N, E]`` (``[N, L, E]`` with batch_first) or an unbatched ``[L, E]``.
Attention keeps the query's shape; its weights are ``[N, L, S]`` (``[N, num_heads, L,
S]`` unaveraged, without N unbatched), S counting the key's steps plus one for
``add_bias_kv`` and one for ``add_zero_attn``. Masks are bool, or float of the query's
dtype: an attention mask ``[L, S]`` or ``[N * num_heads, L, S]`` (``[num_heads, L, S]``
unbatched), a key padding mask ``[N, S]`` (``[S]``).

FLOPs are what ``FlopCounterMode`` counts on torch's math path (as in training): the
projections, the two batched products of attention and the feed-forward matmuls. In
eval mode under ``no_grad`` torch may take a fused fast path
(``torch._native_multi_head_attention``, ``torch._transformer_encoder_layer_fwd``), and
with ``need_weights=false`` on the CPU a fused attention kernel, that the counter does not
look into; see docs/costs.md.
"""

from __future__ import annotations

from typing import ClassVar, Literal, NamedTuple, Optional

from .. import codes
from ..dims import Dim, exact_div
from ..types import FLOAT_DTYPES, ITEMSIZE, UNKNOWN, Tensor
from .args import after
from .base import Args, BoolArg, Construct, FloatArg, FloatLayer, SizeArg, TensorIn, Weight, indices, numel, register
from .memory import UNKNOWN as UNSTATED
from .memory import Saved, contiguous_strides, view_strides
from .recurrent import batch_first_output, check_sequence_layout

RANK_HELP = "attention takes [L, N, E] ([N, L, E] with batch_first=true) or an unbatched [L, E]"


# -- pure size functions ----------------------------------------------------------------------

def attention_params(E: Dim, bias: bool, kdim: Dim, vdim: Dim, add_bias_kv: bool = False) -> Dim:
    """nn.MultiheadAttention: the in-projections (one [3E, E] matrix when kdim = vdim = E,
    else [E, E], [E, kdim], [E, vdim]), their 3E bias, out_proj, and bias_k/bias_v."""
    total = E * E + E * kdim + E * vdim + E * E
    if bias:
        total = total + 3 * E + E
    if add_bias_kv:
        total = total + 2 * E
    return total


def attention_flops(N: Dim, L: Dim, S: Dim, S_total: Dim, E: Dim, kdim: Dim, vdim: Dim) -> Dim:
    """Matmul FLOPs of one attention: the query, key, value and output projections, then
    Q K^T and the weights times V over every head (their sizes add up to E)."""
    return 2 * N * (2 * L * E * E + S * E * kdim + S * E * vdim) + 4 * N * L * S_total * E


def attention_weights(E: Dim, bias: bool, kdim: Dim, vdim: Dim, add_bias_kv: bool = False) -> list[Weight]:
    """nn.MultiheadAttention's state_dict: one packed in-projection when kdim = vdim = E,
    else three; then bias_k and bias_v, then out_proj (a submodule, saved after)."""
    if kdim == E and vdim == E:
        out = [Weight("in_proj_weight", (3 * E, E))]
    else:
        out = [Weight("q_proj_weight", (E, E)), Weight("k_proj_weight", (E, kdim)), Weight("v_proj_weight", (E, vdim))]
    if bias:
        out.append(Weight("in_proj_bias", (3 * E,)))
    if add_bias_kv:
        out += [Weight("bias_k", (1, 1, E)), Weight("bias_v", (1, 1, E))]
    return out + linear_weights("out_proj", E, E, bias)


def linear_weights(prefix: str, n_in: Dim, n_out: Dim, bias: bool) -> list[Weight]:
    return [Weight(f"{prefix}.weight", (n_out, n_in))] + ([Weight(f"{prefix}.bias", (n_out,))] if bias else [])


def layer_norm_weights(prefix: str, E: Dim, bias: bool) -> list[Weight]:
    return [Weight(f"{prefix}.weight", (E,))] + ([Weight(f"{prefix}.bias", (E,))] if bias else [])


def encoder_layer_weights(E: Dim, F: Dim, bias: bool) -> list[Weight]:
    """nn.TransformerEncoderLayer's state_dict, in the order torch makes its submodules."""
    return ([w.under("self_attn") for w in attention_weights(E, bias, E, E)] + linear_weights("linear1", E, F, bias)
            + linear_weights("linear2", F, E, bias) + layer_norm_weights("norm1", E, bias)
            + layer_norm_weights("norm2", E, bias))


def decoder_layer_weights(E: Dim, F: Dim, bias: bool) -> list[Weight]:
    """nn.TransformerDecoderLayer's state_dict: self_attn, multihead_attn, the feed-forward, three norms."""
    attn = attention_weights(E, bias, E, E)
    return ([w.under("self_attn") for w in attn] + [w.under("multihead_attn") for w in attn]
            + linear_weights("linear1", E, F, bias) + linear_weights("linear2", F, E, bias)
            + layer_norm_weights("norm1", E, bias) + layer_norm_weights("norm2", E, bias)
            + layer_norm_weights("norm3", E, bias))


def stack_weights(layer: list[Weight], count, dim, norm: bool, E: Dim, bias: bool) -> list[Weight]:
    """nn.TransformerEncoder/Decoder: `layers.0.`, `layers.1.`, ... then the final norm."""
    out = [w.under(f"layers.{i}") for i in indices(count, dim) for w in layer]
    return out + (layer_norm_weights("norm", E, bias) if norm else [])


def layer_norm_params(E: Dim, bias: bool) -> Dim:
    return 2 * E if bias else E


def feedforward_params(E: Dim, F: Dim, bias: bool) -> Dim:
    return 2 * E * F + ((F + E) if bias else 0)


def encoder_layer_params(E: Dim, F: Dim, bias: bool) -> Dim:
    return attention_params(E, bias, E, E) + feedforward_params(E, F, bias) + 2 * layer_norm_params(E, bias)


def decoder_layer_params(E: Dim, F: Dim, bias: bool) -> Dim:
    return 2 * attention_params(E, bias, E, E) + feedforward_params(E, F, bias) + 3 * layer_norm_params(E, bias)


def encoder_layer_flops(N: Dim, S: Dim, E: Dim, F: Dim) -> Dim:
    return attention_flops(N, S, S, S, E, E, E) + 4 * N * S * E * F


def decoder_layer_flops(N: Dim, T: Dim, S: Dim, E: Dim, F: Dim) -> Dim:
    return attention_flops(N, T, T, T, E, E, E) + attention_flops(N, T, S, S, E, E, E) + 4 * N * T * E * F


class Steps(NamedTuple):
    """The sequence length and batch of a ``[L, N, E]`` / ``[N, L, E]`` / ``[L, E]`` tensor,
    and the axes they sit on (batch None when unbatched)."""

    length: Dim
    batch: Dim | None
    length_axis: int
    batch_axis: int | None


def steps(t: Tensor, batch_first: bool) -> Steps:
    if t.rank != 3:
        return Steps(t.shape[0], None, 0, None)
    length_axis, batch_axis = (1, 0) if batch_first else (0, 1)
    return Steps(t.shape[length_axis], t.shape[batch_axis], length_axis, batch_axis)


def batch_size(s: Steps) -> Dim:
    return 1 if s.batch is None else s.batch


# -- checks every attention shares ------------------------------------------------------------

def check_heads(ctx, name: str, embed_dim: Dim, heads: Dim, arg: str) -> int:
    """The number of heads: a known positive integer that divides the embedding."""
    h = ctx.concrete(heads, arg, arg)
    if h < 1:
        raise ctx.fail(codes.VALUE, f"{name}: {arg} must be positive, received {h}", arg=arg)
    e = ctx.dim(embed_dim)
    if isinstance(e, int):
        if e % h:
            fits = ", ".join(str(x) for x in range(1, min(e, 64) + 1) if e % x == 0)
            raise ctx.fail(codes.VALUE, f"{name}: the embedding size ({e}) must be divisible by {arg} ({h})",
                           ctx.input_story(), help=f"use a {arg} that divides {e}: {fits}", arg=arg)
        ctx.requires_divisible(embed_dim, heads)
    else:
        if ctx.warns_unproven(embed_dim, heads):
            ctx.warn(codes.UNPROVEN, f"{name}: whether the embedding size `{ctx.show(e)}` is divisible by {arg} "
                     f"({h}) depends on its value", ctx.input_story(), arg=arg,
                     help="give the size a concrete value to check it")
        if exact_div(e, h) is None:
            ctx.assume_divisible(embed_dim, heads, f"the embedding size of {name} must be divisible by {arg}")
    return h


def tensor_input(ctx, name: str, arg: str, given, q: Tensor, batch_first: bool, last: Dim, last_what: str,
                 last_arg: str | None = None) -> Tensor:
    """A sequence passed by keyword (a key, a value, a memory): the query's dtype and rank,
    its batch, the last dim ``last`` and the layout a sequence layer reads."""
    t = given.tensor
    if t.dtype != q.dtype:
        raise ctx.fail(codes.DTYPE, f"{name}: `{arg}` is {t.dtype} but the input is {q.dtype}", arg=arg,
                       help=f"give `{arg}` the input's dtype")
    if t.rank != q.rank:
        raise ctx.fail(codes.RANK, f"{name}: `{arg}` must have {q.rank} dims like the input "
                       f"{ctx.show_tensor(q)}, received {ctx.show_tensor(t)}", arg=arg, help=RANK_HELP)
    if t.rank == 3:
        check_sequence_layout(ctx, name, t, batch_first, arg=arg, notes=[f"{given.name} is {ctx.show_tensor(t)}"])
        qb, tb = steps(q, batch_first).batch, steps(t, batch_first).batch
        if not ctx.same(qb, tb):
            raise ctx.fail(codes.SHAPE, f"{name}: `{arg}` has batch {ctx.show(tb)} but the input has "
                           f"{ctx.show(qb)}", [f"{given.name} is {ctx.show_tensor(t)}"] + ctx.input_story(),
                           arg=arg, help="the batch dim is dim 0 with batch_first=true, else dim 1")
    check_last(ctx, name, arg, given.name, t, last, last_what, last_arg or arg)
    return t


def check_last(ctx, name: str, what: str, shown: str, t: Tensor, want: Dim, want_what: str, arg: str) -> None:
    if not ctx.same(t.shape[-1], want):
        raise ctx.fail(codes.SHAPE, f"{name}: the last dim of `{what}` is {ctx.show(t.shape[-1])}, but "
                       f"{want_what} is {ctx.show(want)}", [f"{shown} is {ctx.show_tensor(t)}"], arg=arg,
                       help=f"give `{what}` {ctx.show(want)} features, or pass the matching {want_what}")


def check_mask_dtype(ctx, name: str, arg: str, t: Tensor, q: Tensor) -> None:
    if t.dtype == "bool" or t.dtype == q.dtype:
        return
    if t.dtype in FLOAT_DTYPES:
        raise ctx.fail(codes.DTYPE, f"{name}: a float `{arg}` must have the input's dtype ({q.dtype}), "
                       f"received {t.dtype}", arg=arg, help=f"convert the mask to {q.dtype}, or use a bool mask")
    raise ctx.fail(codes.DTYPE, f"{name}: `{arg}` must be bool or float, received {t.dtype}", arg=arg,
                   help="use a bool mask (true where attention is not allowed) or a float mask that is added")


def check_mask_shape(ctx, name: str, arg: str, given, wants: list[tuple[str, tuple]], lengths: str) -> None:
    """``given`` must have one of the shapes ``wants`` (a description and the dims)."""
    t = given.tensor
    for _, want in wants:
        if t.rank == len(want) and all(ctx.same(g, w) for g, w in zip(t.shape, want)):
            return
    shown = " or ".join(f"{what} = [{', '.join(ctx.show(d) for d in want)}]" for what, want in wants)
    raise ctx.fail(codes.SHAPE, f"{name}: `{arg}` must be {shown}, received {ctx.show_tensor(t)}",
                   [f"{given.name} is {ctx.show_tensor(t)}"], arg=arg, help=f"{lengths}, N the batch")


class AttentionCall(NamedTuple):
    """One attention of a layer and the arguments that mask it."""

    mask: str  # the attention mask's argument
    padding: str  # the key padding mask's argument
    causal: str  # the is_causal flag's argument
    lengths: str = "L is the query's length, S the key's"  # what L and S are, for a help line


def check_masks(ctx, name: str, a, call: AttentionCall, q: Tensor, heads: int, L: Dim, S: Dim,
                N: Dim | None) -> None:
    """An attention's masks against torch's rules; is_causal needs the attention mask."""
    mask, padding = getattr(a, call.mask), getattr(a, call.padding)
    if mask is not None:
        check_mask_dtype(ctx, name, call.mask, mask.tensor, q)
        per_head = ("[N * num_heads, L, S]", (N * heads, L, S)) if N is not None else ("[num_heads, L, S]", (heads, L, S))
        check_mask_shape(ctx, name, call.mask, mask, [("[L, S]", (L, S)), per_head], call.lengths)
    if padding is not None:
        check_mask_dtype(ctx, name, call.padding, padding.tensor, q)
        check_mask_shape(ctx, name, call.padding, padding, [("[N, S]", (N, S)) if N is not None else ("[S]", (S,))],
                         call.lengths)
    if mask is not None and padding is not None and (mask.tensor.dtype == "bool") != (padding.tensor.dtype == "bool"):
        ctx.warn(codes.DTYPE, f"{name}: `{call.mask}` and `{call.padding}` are of different types (bool and "
                 "float); torch deprecates mixing them", arg=call.padding, help="give both masks one dtype")
    if getattr(a, call.causal) and mask is None:
        raise ctx.fail(codes.VALUE, f"{name}: {call.causal}=true needs `{call.mask}` (torch takes it as a hint "
                       "that the mask is causal)", arg=call.causal,
                       help=f"pass the causal mask as {call.mask}=..., made with "
                       "nn.Transformer.generate_square_subsequent_mask")


class _Attention(FloatLayer):
    """What the attention kinds share: sequence ranks, a batch axis, forward-only arguments."""

    ranks = (2, 3)
    rank_help = RANK_HELP
    dtype_kwarg = True
    forward_only: ClassVar[tuple[str, ...]] = ()  # arguments of the call, not the constructor

    def batch_axis(self, a, rank):
        return (0 if a.batch_first else 1) if rank == 3 else None

    def constructor_args(self, a):
        pos, kw = super().constructor_args(a)
        return pos, {k: v for k, v in kw.items() if k not in self.forward_only}

    def saved(self, a, inputs, outputs, grad):
        """Not stated: what torch keeps depends on the attention kernel it picks (math, flash,
        memory-efficient, a fused fast path), which depends on the device and the arguments."""
        return UNSTATED

    def keyword_args(self, a, state: dict[str, str], code) -> list[str]:
        """The masks, then the forward-only arguments given, by keyword."""
        out = [f"{n}={state[n]}" for n in self.state_inputs if n in state and n not in self.leading]
        out += [f"{n}={code(getattr(a, n))}" for n in self.forward_only if n in a.model_fields_set]
        return out

    leading: ClassVar[tuple[str, ...]] = ()  # tensors passed by position after the piped one

    def call_args(self, a, inputs, state, code):
        return list(inputs) + [state[n] for n in self.leading] + self.keyword_args(a, state, code)

    def plain_call(self, a) -> bool:
        return not any(n in a.model_fields_set for n in self.forward_only)

    def fingerprint(self, a, inputs, state):
        return super().fingerprint(a, inputs, state) + tuple((n, getattr(a, n)) for n in self.forward_only)

    def check_input(self, ctx, a, x: Tensor) -> None:
        self.check_dtype(ctx, x)
        if x.rank in (2, 3):
            check_sequence_layout(ctx, self.name, x, a.batch_first)


def _check_rates(dropout: float, **counts) -> None:
    if not 0.0 <= dropout <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {dropout}")
    for what, n in counts.items():
        if isinstance(n, int) and n < 1:
            raise ValueError(f"{what} must be at least 1, received {n}")


# -- what attention keeps for backward (torch's math path, on the CPU) -------------------------

def seq_first(t: Tensor, strides, batch_first: bool) -> tuple[tuple, tuple]:
    """A query, key or value as torch's attention reads it, [L, N, E], with its strides: an
    unbatched one gets a batch of 1, a batch-first one is transposed."""
    shape, strides = tuple(t.shape), tuple(strides)
    if t.rank == 2:
        return (shape[0], 1, shape[1]), (strides[0], strides[1] * shape[1], strides[1])
    if batch_first:
        return (shape[1], shape[0], shape[2]), (strides[1], strides[0], strides[2])
    return shape, strides


def folded(t: Tensor, strides, batch_first: bool, source, item: int) -> Saved:
    """A projection's input, [L, N, E] folded into [L * N, E] for its matrix product: kept as
    the tensor (an input by position, a tensor passed by keyword by name) where that is a
    view, else as the copy torch makes."""
    shape, st = seq_first(t, strides, batch_first)
    if view_strides(shape, st, (shape[0] * shape[1], shape[2])) is None:
        return Saved(extra=numel(shape) * item)
    return Saved(inputs=(source,)) if isinstance(source, int) else Saved(state=(source,))


def dropped(p: float, elements: Dim) -> Dim:
    """A dropout in training on the CPU keeps its mask (a zero scalar when p is 1) and its
    result is kept by the product that reads it."""
    if p <= 0:
        return 0
    return elements + (elements if p < 1 else 1)


def mask_of(p: float, elements: Dim) -> Dim:
    """The mask a dropout keeps in training on the CPU: none at p 0, a zero scalar at p 1."""
    return 0 if p <= 0 else (elements if p < 1 else 1)


def encoder_layer_kept(a, x: Tensor) -> Dim:
    """The elements a TransformerEncoderLayer makes and keeps in training, but the one its
    input costs (``encoder_layer_saved``): its self-attention on the math path (the packed
    projection of a batch, or the value of an unbatched input, and the scaled key; the
    scaled query, the weights, the output projection's input), a dropout's mask after it,
    the two norms' inputs and statistics, the first norm's result (the feed-forward's input,
    or with norm_first the attention's), the feed-forward's activation (a ReLU's result, a
    GELU's input, and with dropout its mask and result; a GELU's result without), and the
    mask of the dropout after it."""
    s = steps(x, a.batch_first)
    T, E, F, p = s.length * batch_size(s), a.d_model, a.dim_feedforward, a.dropout
    weights = batch_size(s) * a.nhead * s.length * s.length
    attention = (4 if x.rank == 3 else 2) * T * E + 2 * T * E + weights + dropped(p, weights)
    ff = T * F + (T * F + mask_of(p, T * F) if p > 0 else (T * F if a.activation == "gelu" else 0))
    return attention + 2 * mask_of(p, T * E) + 3 * T * E + 4 * T + ff


def decoder_layer_kept(a, x: Tensor, memory: Tensor) -> Dim:
    """The elements a TransformerDecoderLayer makes and keeps: an encoder layer's, and its
    cross-attention's (the key and value projected at once of a batch, or the value of an
    unbatched input, and the scaled key; the scaled query, the weights, the output
    projection's input), the dropout's mask after it, a third norm's input and statistics,
    and the query it reads (a norm's result)."""
    s, m = steps(x, a.batch_first), steps(memory, a.batch_first)
    N, E, p = batch_size(s), a.d_model, a.dropout
    T = s.length * N
    weights = N * a.nhead * s.length * m.length
    cross = (3 if x.rank == 3 else 2) * m.length * N * E + 2 * T * E + weights + dropped(p, weights)
    return encoder_layer_kept(a, x) + cross + mask_of(p, T * E) + 2 * T * E + 2 * T


def layer_input(a, x: Tensor, strides, item: int, source) -> Saved:
    """What a transformer layer's input costs: kept by the self-attention's projection where
    its fold is a view (else that copy), or by norm_first's norm; ``source`` is where it comes
    from (an input by position, a tensor by keyword), None for the new tensor a layer before
    it in a stack makes."""
    if source is None:
        return Saved(extra=numel(x.shape) * item)
    if a.norm_first:
        return Saved(inputs=(source,)) if isinstance(source, int) else Saved(state=(source,))
    return folded(x, strides, a.batch_first, source, item)


def memory_input(a, memory: Tensor, strides, item: int, source, layers: Dim) -> Saved:
    """The memory the cross-attention of each of ``layers`` decoder layers projects: kept
    once where its fold is a view, else each layer's copy; ``source`` None for the memory
    nn.Transformer's encoder makes."""
    shape, st = seq_first(memory, strides, a.batch_first)
    if view_strides(shape, st, (shape[0] * shape[1], shape[2])) is None:
        return Saved(extra=layers * numel(shape) * item)
    return Saved(state=(source,)) if source is not None else Saved(extra=numel(shape) * item)


def stack_saved(a, x: Tensor, strides, item: int, source, layers: Dim, kept: Dim, norm: bool) -> Saved:
    """A stack of ``layers`` layers each keeping ``kept`` elements: the first reads ``x``, each
    after it the new tensor the one before makes; a final LayerNorm keeps its input and
    statistics."""
    fresh = numel(x.shape)
    extra = layers * kept + (layers - 1) * fresh + (fresh + 2 * numel(x.shape[:-1]) if norm else 0)
    return layer_input(a, x, strides, item, source) + Saved(extra=extra * item)


# -- MultiheadAttention -----------------------------------------------------------------------

class MultiheadAttentionArgs(Args):
    embed_dim: SizeArg
    num_heads: SizeArg
    dropout: FloatArg = 0.0
    bias: BoolArg = True
    add_bias_kv: BoolArg = False
    add_zero_attn: BoolArg = False
    kdim: Optional[SizeArg] = None
    vdim: Optional[SizeArg] = None
    batch_first: BoolArg = False
    key: TensorIn = None
    value: TensorIn = None
    key_padding_mask: TensorIn = None
    attn_mask: TensorIn = None
    need_weights: BoolArg = True
    average_attn_weights: BoolArg = True
    is_causal: BoolArg = False

    @after
    def _ranges(self):
        _check_rates(self.dropout, num_heads=self.num_heads)


@register
class MultiheadAttention(_Attention):
    """``query -> MultiheadAttention(num_heads, key=k, value=v)``: without ``key`` the
    query attends to itself, and ``value`` defaults to the key."""

    name = "MultiheadAttention"
    torch_name = "MultiheadAttention"
    Args = MultiheadAttentionArgs
    positional = ("num_heads", "dropout", "bias", "add_bias_kv", "add_zero_attn", "kdim", "vdim", "batch_first")
    inferred = "embed_dim"
    torch_positional = ("embed_dim", "num_heads")
    state_inputs = ("key", "value", "key_padding_mask", "attn_mask")
    forward_only = ("need_weights", "average_attn_weights", "is_causal")
    results = ("output", "weights")

    def layout(self, ctx, a, inputs, outputs):
        outs = super().layout(ctx, a, inputs, outputs)
        if a.batch_first and inputs[0].rank == 3:
            outs[0] = UNKNOWN  # torch attends over [L, N, E] and returns the output transposed
        return outs

    def new_strides(self, a, inputs, outputs):
        """In training torch attends over [L, N, E] and returns the output transposed."""
        return batch_first_output(a, inputs, outputs, super().new_strides(a, inputs, outputs))
    examples: ClassVar[list[dict]] = [
        {"stage": "MultiheadAttention(2)", "input": "float32[5, 3, 8]"},
        {"stage": "MultiheadAttention(4, batch_first=true, average_attn_weights=false)", "input": "float32[2, 6, 8]"},
        {"stage": "MultiheadAttention(2, key=k, value=v, kdim=5, vdim=3, add_bias_kv=true, add_zero_attn=true)",
         "input": "float32[4, 2, 6]", "tensors": {"k": "float32[7, 2, 5]", "v": "float32[7, 2, 3]"}},
        {"stage": "MultiheadAttention(3, bias=false, key=m, need_weights=false)", "input": "float64[4, 6]",
         "tensors": {"m": "float64[5, 6]"}},
        {"stage": "MultiheadAttention(2, key_padding_mask=pad, attn_mask=mask, batch_first=true)",
         "input": "float32[3, 4, 6]", "tensors": {"pad": "bool[3, 4]", "mask": "bool[6, 4, 4]"}},
        {"stage": "MultiheadAttention(2, attn_mask=causal, is_causal=true, need_weights=false)",
         "input": "float32[5, 2, 4]", "tensors": {"causal": "bool[5, 5]"}},
        {"stage": "MultiheadAttention(1, attn_mask=mask, average_attn_weights=false, key_padding_mask=pad)",
         "input": "float32[3, 4]", "tensors": {"mask": "float32[1, 3, 3]", "pad": "float32[3]"}},
        {"stage": "MultiheadAttention(2, 0.0, false, true, false, 3, 4, true, key=k, value=v)",
         "input": "float32[2, 3, 6]", "tensors": {"k": "float32[2, 5, 3]", "v": "float32[2, 5, 4]"}},
        {"stage": "MultiheadAttention(2, key=k, value=v, kdim=3, vdim=2, batch_first=true, need_weights=false)",
         "input": "float32[2, 3, 6]", "tensors": {"k": "float32[2, 5, 3]", "v": "float32[2, 5, 2]"}},
        {"stage": "MultiheadAttention(2, embed_dim=4, add_zero_attn=true)", "input": "float32[3, 1, 4]"},
    ]

    def result_names(self, a):
        return self.results if a.need_weights else self.results[:1]

    def results_kept(self, a):
        """The weights per head (``average_attn_weights=false``) are a view of the softmax
        that the product with the values keeps; averaged, they are a new tensor."""
        return (1,) if a.need_weights and not a.average_attn_weights else ()

    def result_pattern(self, names):
        return ", ".join(names) if len(names) > 1 else f"{names[0]}, _"  # torch returns (output, None)

    def plain_call(self, a):
        return False  # the query goes in as key and value too

    def call_args(self, a, inputs, state, code):
        q = inputs[0]
        k = state.get("key", q)
        v = state.get("value", k)
        return [q, k, v] + self.keyword_args(a, {n: s for n, s in state.items() if n not in ("key", "value")}, code)

    def infer(self, ctx, a, inputs):
        (q,) = inputs
        self.check_input(ctx, a, q)
        E = a.embed_dim
        heads = check_heads(ctx, self.name, E, a.num_heads, "num_heads")
        key = self._operand(ctx, a, q, "key", a.key, q, a.kdim, "kdim")
        value = self._operand(ctx, a, q, "value", a.value, key, a.vdim, "vdim")
        qs, ks = steps(q, a.batch_first), steps(key, a.batch_first)
        vs = steps(value, a.batch_first)
        if not ctx.same(ks.length, vs.length):
            raise ctx.fail(codes.SHAPE, f"{self.name}: key and value must have one length, received "
                           f"{ctx.show(ks.length)} and {ctx.show(vs.length)}",
                           arg="value" if a.value is not None else "key",
                           help="pass a value with one step per step of the key")
        check_masks(ctx, self.name, a, AttentionCall("attn_mask", "key_padding_mask", "is_causal"), q, heads,
                    qs.length, ks.length, qs.batch)
        out = q.with_shape(q.shape, ctx.origin, keep={i: i for i in range(q.rank - 1)})
        if not a.need_weights:
            return [out]
        extra = int(a.add_bias_kv) + int(a.add_zero_attn)
        S = ks.length + extra
        s_origin = ctx.origin if extra else key.origins[ks.length_axis]
        shape, origins = [qs.length, S], [q.origins[qs.length_axis], s_origin]
        if not a.average_attn_weights:
            shape, origins = [heads] + shape, [ctx.origin] + origins
        if qs.batch is not None:
            shape, origins = [qs.batch] + shape, [q.origins[qs.batch_axis]] + origins
        return [out, Tensor(q.dtype, tuple(shape), tuple(origins))]

    def _operand(self, ctx, a, q, arg, given, default: Tensor, size, size_arg) -> Tensor:
        """The key or the value: given by keyword, or the default (the query, the key)."""
        want = a.embed_dim if size is None else size
        what = "embed_dim" if size is None else size_arg
        if given is not None:
            return tensor_input(ctx, self.name, arg, given, q, a.batch_first, want, what)
        if size is not None:
            check_last(ctx, self.name, "key" if default is not q else "query", "it", default, want, what, size_arg)
        return default

    def saved(self, a, inputs, outputs, grad):
        """torch's math path in training (docs/costs.md): the projections' inputs (folded), the
        projected key and value (the packed projection of self-attention, or new ones with
        add_bias_kv / add_zero_attn), the scaled query (and key, through
        scaled_dot_product_attention), the attention weights (and a dropout's mask and
        result), and the input of the output projection."""
        q = inputs[0]
        item = ITEMSIZE[q.dtype]
        key = a.key.tensor if a.key is not None else q
        qs, ks = steps(q, a.batch_first), steps(key, a.batch_first)
        L, N, E, S = qs.length, batch_size(qs), a.embed_dim, ks.length
        S2 = S + int(a.add_bias_kv) + int(a.add_zero_attn)
        proj, k_kept, v_kept = self.projections(a, inputs, grad, item)
        if a.add_bias_kv or a.add_zero_attn:
            k_kept = v_kept = S2 * N * E  # the key and value with the bias or zeros appended: new tensors
        if not a.need_weights:
            k_kept = S2 * N * E  # scaled_dot_product_attention keeps the key scaled, not the key
        weights = N * a.num_heads * L * S2
        kept = k_kept + v_kept + 2 * L * N * E + weights + dropped(a.dropout, weights)
        return proj + Saved(extra=kept * item)

    def projections(self, a, inputs, grad, item) -> tuple[Saved, Dim, Dim]:
        """The inputs the query, key and value projections keep, and the elements of the
        projected key and value: torch projects all three at once for self-attention, key and
        value at once when they are one tensor (of a batch: an unbatched one is unsqueezed
        into three tensors), and each on its own otherwise (with kdim or vdim always)."""
        q = inputs[0]
        k_name = "key" if a.key is not None and "key" not in grad.is_input else 0
        k_t = a.key.tensor if a.key is not None else q
        v_name = "value" if a.value is not None and "value" not in grad.is_input else 0
        if a.value is None or (a.key is not None and a.value.name == a.key.name):
            v_name = k_name
        v_t = a.value.tensor if a.value is not None else k_t
        S, N, E = steps(k_t, a.batch_first).length, batch_size(steps(q, a.batch_first)), a.embed_dim

        def fold(t, name) -> Saved:
            return folded(t, grad.strides_of(name, t.shape), a.batch_first, name, item)

        packed = a.kdim in (None, E) and a.vdim in (None, E) and q.rank == 3
        if packed and k_name == 0 and v_name == 0:
            return fold(q, 0), 0, 3 * steps(q, a.batch_first).length * N * E  # one storage
        if packed and v_name == k_name:
            return fold(q, 0) + fold(k_t, k_name), 0, 2 * S * N * E
        return fold(q, 0) + fold(k_t, k_name) + fold(v_t, v_name), S * N * E, S * N * E

    def param_count(self, a):
        E = a.embed_dim
        kdim = E if a.kdim is None else a.kdim
        vdim = E if a.vdim is None else a.vdim
        return attention_params(E, a.bias, kdim, vdim, a.add_bias_kv)

    def weights(self, a, dim=None):
        E = a.embed_dim
        kdim = E if a.kdim is None else a.kdim
        vdim = E if a.vdim is None else a.vdim
        return attention_weights(E, a.bias, kdim, vdim, a.add_bias_kv)

    def flops(self, a, inputs, outputs):
        q = inputs[0]
        key = a.key.tensor if a.key is not None else q
        value = a.value.tensor if a.value is not None else key
        qs, ks = steps(q, a.batch_first), steps(key, a.batch_first)
        extra = int(a.add_bias_kv) + int(a.add_zero_attn)
        return attention_flops(batch_size(qs), qs.length, ks.length, ks.length + extra, a.embed_dim,
                               key.shape[-1], value.shape[-1])


# -- transformer layers -----------------------------------------------------------------------

Activation = Literal["relu", "gelu"]
LAYER_ARGS = ("dim_feedforward", "dropout", "activation", "layer_norm_eps", "batch_first", "norm_first", "bias")


class TransformerArgs(Args):
    """What every transformer layer and stack takes to build its layers."""

    d_model: SizeArg
    nhead: SizeArg
    dim_feedforward: SizeArg = 2048
    dropout: FloatArg = 0.1
    activation: Activation = "relu"
    layer_norm_eps: FloatArg = 1e-5
    batch_first: BoolArg = False
    norm_first: BoolArg = False
    bias: BoolArg = True

    @after
    def _ranges(self):
        _check_rates(self.dropout, nhead=self.nhead)
        if isinstance(self.dim_feedforward, int) and self.dim_feedforward < 0:
            raise ValueError(f"dim_feedforward must not be negative, received {self.dim_feedforward}")


class EncoderMasks(Args):
    src_mask: TensorIn = None
    src_key_padding_mask: TensorIn = None
    is_causal: BoolArg = False


class DecoderMasks(Args):
    memory: TensorIn = None
    tgt_mask: TensorIn = None
    memory_mask: TensorIn = None
    tgt_key_padding_mask: TensorIn = None
    memory_key_padding_mask: TensorIn = None
    tgt_is_causal: BoolArg = False
    memory_is_causal: BoolArg = False


class _Transformer(_Attention):
    inferred = "d_model"
    torch_positional = ("d_model", "nhead")

    def heads(self, ctx, a) -> int:
        return check_heads(ctx, self.name, a.d_model, a.nhead, "nhead")

    def result_format(self, a, rank):
        """Contiguous after the LayerNorm that ends each layer, whatever the input's strides
        (tests/test_formats.py); with norm_first a layer ends in a sum with its input, whose
        strides it may keep (unstated), unless a final LayerNorm follows (``norm=true``, and
        nn.Transformer's own)."""
        ends_in_norm = not getattr(a, "norm_first", False) or getattr(a, "norm", False) is True
        return "contiguous" if ends_in_norm or self.name == "Transformer" else None

    def check_encoder(self, ctx, a, x: Tensor, heads: int, call: AttentionCall) -> None:
        s = steps(x, a.batch_first)
        check_masks(ctx, self.name, a, call, x, heads, s.length, s.length, s.batch)

    def check_decoder(self, ctx, a, tgt: Tensor, memory_arg: str, heads: int, calls) -> None:
        """The decoder's memory and the masks of its self- and cross-attention."""
        given = getattr(a, memory_arg)
        if given is None:
            raise ctx.fail(codes.ARGUMENT, f"`{self.name}` needs the encoder's output: `{memory_arg}=`",
                           help=f"pass it: {self.name}(..., {memory_arg}=memory)")
        memory = tensor_input(ctx, self.name, memory_arg, given, tgt, a.batch_first, a.d_model, "d_model")
        t, m = steps(tgt, a.batch_first), steps(memory, a.batch_first)
        self_call, cross_call = calls
        check_masks(ctx, self.name, a, self_call, tgt, heads, t.length, t.length, t.batch)
        check_masks(ctx, self.name, a, cross_call, tgt, heads, t.length, m.length, t.batch)

    def layer_construct(self, a, cls: str) -> Construct:
        """``nn.TransformerEncoderLayer(d_model, nhead, ...)`` with the layer arguments given."""
        kw = tuple((n, getattr(a, n)) for n in LAYER_ARGS if n in a.model_fields_set)
        return Construct(cls, (a.d_model, a.nhead), kw)

    def norm_construct(self, a) -> Construct:
        """The final LayerNorm that nn.Transformer builds for its encoder and decoder."""
        kw = tuple((t, getattr(a, n)) for t, n in (("eps", "layer_norm_eps"), ("bias", "bias"))
                   if n in a.model_fields_set)
        return Construct("nn.LayerNorm", (a.d_model,), kw)

    def with_dtype(self, pos, kw, dtype):
        def typed(v):
            return v._replace(kwargs=v.kwargs + (("dtype", dtype),)) if isinstance(v, Construct) else v

        if not any(isinstance(v, Construct) for v in list(pos) + list(kw.values())):
            return super().with_dtype(pos, kw, dtype)
        return [typed(v) for v in pos], {k: typed(v) for k, v in kw.items()}


SELF = "L and S are both the input's length"
ENCODER_CALL = AttentionCall("src_mask", "src_key_padding_mask", "is_causal", SELF)
DECODER_CALLS = (AttentionCall("tgt_mask", "tgt_key_padding_mask", "tgt_is_causal", "L and S are both the target's length"),
                 AttentionCall("memory_mask", "memory_key_padding_mask", "memory_is_causal",
                               "L is the target's length, S the memory's (the source's)"))


class EncoderLayerArgs(TransformerArgs, EncoderMasks):
    pass


@register
class TransformerEncoderLayer(_Transformer):
    name = "TransformerEncoderLayer"
    torch_name = "TransformerEncoderLayer"
    Args = EncoderLayerArgs
    positional = ("nhead",) + LAYER_ARGS
    state_inputs = ("src_mask", "src_key_padding_mask")
    forward_only = ("is_causal",)
    examples: ClassVar[list[dict]] = [
        {"stage": "TransformerEncoderLayer(2, dim_feedforward=16)", "input": "float32[5, 3, 8]"},
        {"stage": 'TransformerEncoderLayer(4, 32, 0.0, "gelu", 1e-6, true, true, false)', "input": "float32[2, 6, 8]"},
        {"stage": "TransformerEncoderLayer(2, dim_feedforward=8, src_mask=mask, src_key_padding_mask=pad)",
         "input": "float64[4, 2, 6]", "tensors": {"mask": "float64[4, 4]", "pad": "float64[2, 4]"}},
        {"stage": "TransformerEncoderLayer(3, dim_feedforward=4, src_mask=mask, is_causal=true, bias=false)",
         "input": "float32[5, 6]", "tensors": {"mask": "bool[3, 5, 5]"}},
        {"stage": "TransformerEncoderLayer(2, 12, batch_first=true, src_key_padding_mask=pad, d_model=4)",
         "input": "float32[3, 5, 4]", "tensors": {"pad": "bool[3, 5]"}},
    ]

    def saved(self, a, inputs, outputs, grad):
        x = inputs[0]
        return stack_saved(a, x, grad.strides_of(0, x.shape), ITEMSIZE[x.dtype], 0, 1, encoder_layer_kept(a, x), False)

    def infer(self, ctx, a, inputs):
        (x,) = inputs
        self.check_input(ctx, a, x)
        self.check_encoder(ctx, a, x, self.heads(ctx, a), ENCODER_CALL)
        return [x.with_shape(x.shape, ctx.origin, keep={i: i for i in range(x.rank)})]

    def param_count(self, a):
        return encoder_layer_params(a.d_model, a.dim_feedforward, a.bias)

    def weights(self, a, dim=None):
        return encoder_layer_weights(a.d_model, a.dim_feedforward, a.bias)

    def flops(self, a, inputs, outputs):
        s = steps(inputs[0], a.batch_first)
        return encoder_layer_flops(batch_size(s), s.length, a.d_model, a.dim_feedforward)


class DecoderLayerArgs(TransformerArgs, DecoderMasks):
    pass


@register
class TransformerDecoderLayer(_Transformer):
    """``tgt -> TransformerDecoderLayer(nhead, memory=m)``."""

    name = "TransformerDecoderLayer"
    torch_name = "TransformerDecoderLayer"
    Args = DecoderLayerArgs
    positional = ("nhead",) + LAYER_ARGS
    state_inputs = ("memory", "tgt_mask", "memory_mask", "tgt_key_padding_mask", "memory_key_padding_mask")
    leading = ("memory",)
    forward_only = ("tgt_is_causal", "memory_is_causal")
    examples: ClassVar[list[dict]] = [
        {"stage": "TransformerDecoderLayer(2, dim_feedforward=16, memory=m)", "input": "float32[5, 3, 8]",
         "tensors": {"m": "float32[7, 3, 8]"}},
        {"stage": 'TransformerDecoderLayer(4, 8, 0.0, "gelu", 1e-6, true, true, false, memory=m)',
         "input": "float32[2, 3, 8]", "tensors": {"m": "float32[2, 4, 8]"}},
        {"stage": "TransformerDecoderLayer(2, dim_feedforward=8, memory=m, tgt_mask=causal, tgt_is_causal=true, "
                  "memory_mask=mm, tgt_key_padding_mask=tp, memory_key_padding_mask=mp)",
         "input": "float64[4, 2, 6]", "tensors": {"m": "float64[3, 2, 6]", "causal": "float64[4, 4]",
                                                 "mm": "float64[4, 4, 3]", "tp": "float64[2, 4]",
                                                 "mp": "float64[2, 3]"}},
        {"stage": "TransformerDecoderLayer(3, dim_feedforward=5, memory=m, memory_mask=mm, memory_is_causal=true)",
         "input": "float32[4, 6]", "tensors": {"m": "float32[4, 6]", "mm": "bool[4, 4]"}},
    ]

    def saved(self, a, inputs, outputs, grad):
        x, memory = inputs[0], a.memory.tensor
        item = ITEMSIZE[x.dtype]
        return (stack_saved(a, x, grad.strides_of(0, x.shape), item, 0, 1, decoder_layer_kept(a, x, memory), False)
                + memory_input(a, memory, grad.strides_of("memory", memory.shape), item, "memory", 1))

    def infer(self, ctx, a, inputs):
        (x,) = inputs
        self.check_input(ctx, a, x)
        self.check_decoder(ctx, a, x, "memory", self.heads(ctx, a), DECODER_CALLS)
        return [x.with_shape(x.shape, ctx.origin, keep={i: i for i in range(x.rank)})]

    def param_count(self, a):
        return decoder_layer_params(a.d_model, a.dim_feedforward, a.bias)

    def weights(self, a, dim=None):
        return decoder_layer_weights(a.d_model, a.dim_feedforward, a.bias)

    def flops(self, a, inputs, outputs):
        t, m = steps(inputs[0], a.batch_first), steps(a.memory.tensor, a.batch_first)
        return decoder_layer_flops(batch_size(t), t.length, m.length, a.d_model, a.dim_feedforward)


# -- stacks -----------------------------------------------------------------------------------

STACK_POSITIONAL = ("nhead", "num_layers") + LAYER_ARGS


class StackArgs(Args):
    num_layers: SizeArg
    norm: BoolArg = False

    @after
    def _layers(self):
        _check_rates(0.0, num_layers=self.num_layers)


class EncoderArgs(TransformerArgs, StackArgs):
    mask: TensorIn = None
    src_key_padding_mask: TensorIn = None
    is_causal: BoolArg = False
    enable_nested_tensor: BoolArg = True
    mask_check: BoolArg = True


@register
class TransformerEncoder(_Transformer):
    """``nn.TransformerEncoder(nn.TransformerEncoderLayer(d_model, nhead, ...), num_layers)``;
    ``norm=true`` adds the final LayerNorm that nn.Transformer gives its encoder."""

    name = "TransformerEncoder"
    torch_name = "TransformerEncoder"
    Args = EncoderArgs
    positional = STACK_POSITIONAL
    state_inputs = ("mask", "src_key_padding_mask")
    forward_only = ("is_causal",)
    examples: ClassVar[list[dict]] = [
        {"stage": "TransformerEncoder(2, 3, dim_feedforward=16)", "input": "float32[5, 2, 8]"},
        {"stage": 'TransformerEncoder(4, 2, 8, 0.0, "gelu", 1e-6, true, true, false, norm=true)',
         "input": "float32[2, 5, 8]"},
        {"stage": "TransformerEncoder(2, num_layers=2, dim_feedforward=4, norm=true, bias=false, mask=mask, "
                  "is_causal=true, src_key_padding_mask=pad, enable_nested_tensor=false)",
         "input": "float64[4, 2, 6]", "tensors": {"mask": "bool[4, 4]", "pad": "bool[2, 4]"}},
        {"stage": "TransformerEncoder(1, 1, dim_feedforward=6, mask_check=false)", "input": "float32[3, 5]"},
    ]

    def constructor_args(self, a):
        pos = [self.layer_construct(a, "nn.TransformerEncoderLayer"), a.num_layers]
        kw = {"norm": self.norm_construct(a)} if a.norm else {}
        kw.update({n: getattr(a, n) for n in ("enable_nested_tensor", "mask_check") if n in a.model_fields_set})
        return pos, kw

    def infer(self, ctx, a, inputs):
        (x,) = inputs
        self.check_input(ctx, a, x)
        self.check_encoder(ctx, a, x, self.heads(ctx, a), AttentionCall("mask", "src_key_padding_mask", "is_causal", SELF))
        return [x.with_shape(x.shape, ctx.origin, keep={i: i for i in range(x.rank)})]

    def saved(self, a, inputs, outputs, grad):
        x = inputs[0]
        return stack_saved(a, x, grad.strides_of(0, x.shape), ITEMSIZE[x.dtype], 0, a.num_layers,
                           encoder_layer_kept(a, x), a.norm)

    def param_count(self, a):
        norm = layer_norm_params(a.d_model, a.bias) if a.norm else 0
        return a.num_layers * encoder_layer_params(a.d_model, a.dim_feedforward, a.bias) + norm

    def weights(self, a, dim=None):
        layer = encoder_layer_weights(a.d_model, a.dim_feedforward, a.bias)
        return stack_weights(layer, a.num_layers, dim, a.norm, a.d_model, a.bias)

    def flops(self, a, inputs, outputs):
        s = steps(inputs[0], a.batch_first)
        return a.num_layers * encoder_layer_flops(batch_size(s), s.length, a.d_model, a.dim_feedforward)


class DecoderArgs(TransformerArgs, StackArgs, DecoderMasks):
    pass


@register
class TransformerDecoder(_Transformer):
    """``nn.TransformerDecoder(nn.TransformerDecoderLayer(d_model, nhead, ...), num_layers)``."""

    name = "TransformerDecoder"
    torch_name = "TransformerDecoder"
    Args = DecoderArgs
    positional = STACK_POSITIONAL
    state_inputs = TransformerDecoderLayer.state_inputs
    leading = ("memory",)
    forward_only = TransformerDecoderLayer.forward_only
    examples: ClassVar[list[dict]] = [
        {"stage": "TransformerDecoder(2, 2, dim_feedforward=16, memory=m)", "input": "float32[5, 3, 8]",
         "tensors": {"m": "float32[6, 3, 8]"}},
        {"stage": 'TransformerDecoder(4, 1, 8, 0.0, "gelu", 1e-6, true, true, false, norm=true, memory=m, '
                  "tgt_mask=causal, tgt_is_causal=true)",
         "input": "float32[2, 3, 8]", "tensors": {"m": "float32[2, 4, 8]", "causal": "float32[3, 3]"}},
        {"stage": "TransformerDecoder(2, num_layers=2, dim_feedforward=4, norm=true, bias=false, memory=m, "
                  "memory_key_padding_mask=mp, memory_mask=mm, memory_is_causal=true)", "input": "float64[3, 6]",
         "tensors": {"m": "float64[5, 6]", "mp": "bool[5]", "mm": "bool[3, 5]"}},
    ]

    def constructor_args(self, a):
        pos = [self.layer_construct(a, "nn.TransformerDecoderLayer"), a.num_layers]
        return pos, ({"norm": self.norm_construct(a)} if a.norm else {})

    def saved(self, a, inputs, outputs, grad):
        x, memory = inputs[0], a.memory.tensor
        item = ITEMSIZE[x.dtype]
        layers = stack_saved(a, x, grad.strides_of(0, x.shape), item, 0, a.num_layers,
                             decoder_layer_kept(a, x, memory), a.norm)
        return layers + memory_input(a, memory, grad.strides_of("memory", memory.shape), item, "memory", a.num_layers)

    def infer(self, ctx, a, inputs):
        (x,) = inputs
        self.check_input(ctx, a, x)
        self.check_decoder(ctx, a, x, "memory", self.heads(ctx, a), DECODER_CALLS)
        return [x.with_shape(x.shape, ctx.origin, keep={i: i for i in range(x.rank)})]

    def param_count(self, a):
        norm = layer_norm_params(a.d_model, a.bias) if a.norm else 0
        return a.num_layers * decoder_layer_params(a.d_model, a.dim_feedforward, a.bias) + norm

    def weights(self, a, dim=None):
        layer = decoder_layer_weights(a.d_model, a.dim_feedforward, a.bias)
        return stack_weights(layer, a.num_layers, dim, a.norm, a.d_model, a.bias)

    def flops(self, a, inputs, outputs):
        t, m = steps(inputs[0], a.batch_first), steps(a.memory.tensor, a.batch_first)
        return a.num_layers * decoder_layer_flops(batch_size(t), t.length, m.length, a.d_model, a.dim_feedforward)


class FullArgs(Args):
    """nn.Transformer's arguments, in its order."""

    d_model: SizeArg
    nhead: SizeArg = 8
    num_encoder_layers: SizeArg = 6
    num_decoder_layers: SizeArg = 6
    dim_feedforward: SizeArg = 2048
    dropout: FloatArg = 0.1
    activation: Activation = "relu"
    layer_norm_eps: FloatArg = 1e-5
    batch_first: BoolArg = False
    norm_first: BoolArg = False
    bias: BoolArg = True
    tgt: TensorIn = None
    src_mask: TensorIn = None
    tgt_mask: TensorIn = None
    memory_mask: TensorIn = None
    src_key_padding_mask: TensorIn = None
    tgt_key_padding_mask: TensorIn = None
    memory_key_padding_mask: TensorIn = None
    src_is_causal: BoolArg = False
    tgt_is_causal: BoolArg = False
    memory_is_causal: BoolArg = False

    @after
    def _ranges(self):
        TransformerArgs._ranges(self)
        _check_rates(0.0, num_encoder_layers=self.num_encoder_layers, num_decoder_layers=self.num_decoder_layers)


@register
class Transformer(_Transformer):
    """``src -> Transformer(nhead, ..., tgt=t)``: nn.Transformer, whose result has the
    target's shape."""

    name = "Transformer"
    torch_name = "Transformer"
    Args = FullArgs
    # torch's order up to activation; custom_encoder and custom_decoder follow, which a
    # spec cannot give, so the rest go by keyword
    positional = ("nhead", "num_encoder_layers", "num_decoder_layers", "dim_feedforward", "dropout", "activation")
    state_inputs = ("tgt", "src_mask", "tgt_mask", "memory_mask", "src_key_padding_mask", "tgt_key_padding_mask",
                    "memory_key_padding_mask")
    leading = ("tgt",)
    forward_only = ("src_is_causal", "tgt_is_causal", "memory_is_causal")
    examples: ClassVar[list[dict]] = [
        {"stage": "Transformer(2, 1, 2, 16, tgt=t)", "input": "float32[5, 3, 8]", "tensors": {"t": "float32[4, 3, 8]"}},
        {"stage": 'Transformer(4, 2, 1, 8, 0.0, "gelu", layer_norm_eps=1e-6, batch_first=true, norm_first=true, '
                  "bias=false, tgt=t)", "input": "float32[2, 5, 8]", "tensors": {"t": "float32[2, 3, 8]"}},
        {"stage": "Transformer(num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=4, tgt=t, src_mask=sm, "
                  "tgt_mask=tm, tgt_is_causal=true, memory_mask=mm, src_key_padding_mask=sp, "
                  "tgt_key_padding_mask=tp, memory_key_padding_mask=mp)", "input": "float64[5, 2, 8]",
         "tensors": {"t": "float64[3, 2, 8]", "sm": "bool[16, 5, 5]", "tm": "bool[3, 3]", "mm": "bool[3, 5]",
                     "sp": "bool[2, 5]", "tp": "bool[2, 3]", "mp": "bool[2, 5]"}},
        {"stage": "Transformer(2, 1, 1, 6, tgt=t, src_mask=sm, src_is_causal=true, memory_mask=mm, "
                  "memory_is_causal=true, d_model=4)", "input": "float32[5, 4]",
         "tensors": {"t": "float32[2, 4]", "sm": "float32[5, 5]", "mm": "float32[2, 5]"}},
    ]

    def saved(self, a, inputs, outputs, grad):
        """nn.Transformer's encoder on the source, with its final norm, whose result is the
        memory of its decoder on the target, with its final norm."""
        src, tgt = inputs[0], a.tgt.tensor
        item = ITEMSIZE[src.dtype]
        encoder = stack_saved(a, src, grad.strides_of(0, src.shape), item, 0, a.num_encoder_layers,
                              encoder_layer_kept(a, src), True)
        decoder = stack_saved(a, tgt, grad.strides_of("tgt", tgt.shape), item, "tgt", a.num_decoder_layers,
                              decoder_layer_kept(a, tgt, src), True)
        memory = memory_input(a, src, contiguous_strides(src.shape), item, None, a.num_decoder_layers)
        return encoder + decoder + memory

    def infer(self, ctx, a, inputs):
        (src,) = inputs
        self.check_input(ctx, a, src)
        heads = self.heads(ctx, a)
        self.check_encoder(ctx, a, src, heads, AttentionCall("src_mask", "src_key_padding_mask", "src_is_causal",
                                                                  "L and S are both the source's length"))
        if a.tgt is None:
            raise ctx.fail(codes.ARGUMENT, f"`{self.name}` needs the target sequence: `tgt=`",
                           help=f"pass it: src -> {self.name}(..., tgt=tgt)")
        tgt = tensor_input(ctx, self.name, "tgt", a.tgt, src, a.batch_first, a.d_model, "d_model")
        t, s = steps(tgt, a.batch_first), steps(src, a.batch_first)
        self_call, cross_call = DECODER_CALLS
        check_masks(ctx, self.name, a, self_call, tgt, heads, t.length, t.length, t.batch)
        check_masks(ctx, self.name, a, cross_call, tgt, heads, t.length, s.length, t.batch)
        return [tgt.with_shape(tgt.shape, ctx.origin, keep={i: i for i in range(tgt.rank)})]

    def param_count(self, a):
        E, F, bias = a.d_model, a.dim_feedforward, a.bias
        return (a.num_encoder_layers * encoder_layer_params(E, F, bias) + layer_norm_params(E, bias)
                + a.num_decoder_layers * decoder_layer_params(E, F, bias) + layer_norm_params(E, bias))

    def weights(self, a, dim=None):
        E, F, bias = a.d_model, a.dim_feedforward, a.bias
        encoder = stack_weights(encoder_layer_weights(E, F, bias), a.num_encoder_layers, dim, True, E, bias)
        decoder = stack_weights(decoder_layer_weights(E, F, bias), a.num_decoder_layers, dim, True, E, bias)
        return [w.under("encoder") for w in encoder] + [w.under("decoder") for w in decoder]

    def flops(self, a, inputs, outputs):
        s, t = steps(inputs[0], a.batch_first), steps(a.tgt.tensor, a.batch_first)
        N, E, F = batch_size(s), a.d_model, a.dim_feedforward
        return (a.num_encoder_layers * encoder_layer_flops(N, s.length, E, F)
                + a.num_decoder_layers * decoder_layer_flops(N, t.length, s.length, E, F))
