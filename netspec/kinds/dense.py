"""Linear, Embedding, EmbeddingBag, Flatten and Unflatten."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, Optional

from .. import codes
from ..dims import compare, exact_div, floordiv, is_dim, render
from ..types import INT_DTYPES, ITEMSIZE, Tensor
from . import why
from .args import ArgValueError, Before, after
from .base import Args, BoolArg, DimArg, FloatArg, FloatLayer, Layer, SizeArg, TensorIn, Weight, _show, numel, register
from .memory import Saved, nbytes, reshaped, view_strides


class LinearArgs(Args):
    in_features: SizeArg
    out_features: SizeArg
    bias: BoolArg = True


@register
class Linear(FloatLayer):
    name = "Linear"
    torch_name = "Linear"
    Args = LinearArgs
    fresh_result = True
    positional = ("out_features", "bias")
    inferred = "in_features"
    torch_positional = ("in_features", "out_features")
    dtype_kwarg = True

    def layout(self, ctx, a, inputs, outputs):
        return [None]  # torch folds the input into a matrix: a new, contiguous result
    min_rank = 1
    examples: ClassVar[list[dict]] = [
        {"stage": "Linear(10)", "input": "float32[4, 7]"},
        {"stage": "Linear(3, bias=false)", "input": "float32[2, 5, 6]"},
        {"stage": "Linear(5, in_features=8)", "input": "float64[8]"},
        {"stage": "Linear(3, false)", "input": "float32[2, 1, 2, 4]"},
    ]

    def infer(self, ctx, a, inputs):
        (x,) = inputs
        self.check_dtype(ctx, x)
        return [x.with_shape(x.shape[:-1] + (a.out_features,), ctx.origin,
                             keep={i: i for i in range(x.rank - 1)})]

    def param_count(self, a):
        return a.in_features * a.out_features + (a.out_features if a.bias else 0)

    def weights(self, a, dim=None):
        return [Weight("weight", (a.out_features, a.in_features))] + ([Weight("bias", (a.out_features,))] if a.bias else [])

    def flops(self, a, inputs, outputs):
        return 2 * numel(outputs[0].shape) * a.in_features

    def explain(self, a, inputs, outputs):
        x = inputs[0]
        return [f"reads: the last dim (dim {x.rank - 1}) as in_features; the dims before it are kept as they are "
                "(any number of them: batch, time, ...)",
                why.line(x.rank - 1, "out_features", outputs[0].shape[-1])]

    def saved(self, a, inputs, outputs, grad):
        """The input, for the weight's gradient. Of 3 or more dims torch folds it into a matrix
        [rows, in_features] first (``reshape``): the input's storage where that is a view
        (ATen's computeStride), else the copy it makes."""
        x = inputs[0]
        if x.rank >= 3 and view_strides(x.shape, grad.strides_of(0, x.shape),
                                        (numel(x.shape[:-1]), x.shape[-1])) is None:
            return Saved(extra=nbytes(x))
        return Saved(inputs=(0,))


class EmbeddingArgs(Args):
    num_embeddings: SizeArg
    embedding_dim: SizeArg
    padding_idx: Optional[DimArg] = None
    max_norm: Optional[FloatArg] = None
    norm_type: FloatArg = 2.0
    scale_grad_by_freq: BoolArg = False
    sparse: BoolArg = False

    @after
    def _padding(self):
        check_padding_idx(self.num_embeddings, self.padding_idx)


def check_padding_idx(n, p) -> None:
    if isinstance(n, int) and isinstance(p, int) and not -n <= p < n:
        raise ArgValueError("padding_idx", f"padding_idx must be within num_embeddings ({n}), received {p}",
                            help=f"give an index from {-n} to {n - 1}, or leave padding_idx out")


def require_padding_idx(ctx, name: str, n, p) -> None:
    """check_padding_idx where num_embeddings or padding_idx comes from parameters: the
    built class tests it with their values."""
    if p is None:
        return
    least = p + 1 if isinstance(ctx.dim(p), int) and ctx.dim(p) >= 0 else -p
    if ctx.requires_at_most(least, n) is False:
        raise ctx.fail(codes.VALUE, f"{name}: padding_idx ({ctx.show(p)}) must be within num_embeddings "
                       f"({ctx.show(n)})", arg="padding_idx", help="give a smaller padding_idx, or more rows")


@register
class Embedding(Layer):
    contiguous_ranks = "every"  # rows of the weight gathered anew (tests/test_formats.py)
    name = "Embedding"
    torch_name = "Embedding"
    Args = EmbeddingArgs
    positional = ("num_embeddings", "embedding_dim", "padding_idx", "max_norm", "norm_type",
                  "scale_grad_by_freq", "sparse")
    torch_positional = ("num_embeddings", "embedding_dim")
    examples: ClassVar[list[dict]] = [
        {"stage": "Embedding(100, 16)", "input": "int64[4, 9]"},
        {"stage": "Embedding(10, 3, padding_idx=0)", "input": "int32[5]"},
        {"stage": "Embedding(7, 2)", "input": "int64[2, 3, 4]"},
        {"stage": "Embedding(10, 4, 0)", "input": "int64[3, 2]"},
        {"stage": "Embedding(10, 3, padding_idx=-1)", "input": "int64[2]"},
    ]

    def infer(self, ctx, a, inputs):
        (x,) = inputs
        check_ids(ctx, self.name, x)
        require_padding_idx(ctx, self.name, a.num_embeddings, a.padding_idx)
        check_rows(ctx, self.name, x, a.num_embeddings)
        return [Tensor("float32", x.shape + (a.embedding_dim,),
                       x.origins + (ctx.origin,), batch=x.batch)]

    def param_count(self, a):
        return a.num_embeddings * a.embedding_dim

    def weights(self, a, dim=None):
        return [Weight("weight", (a.num_embeddings, a.embedding_dim))]

    def saved(self, a, inputs, outputs, grad):
        return Saved(inputs=(0,))  # the ids: the rows of the weight's gradient

    def explain(self, a, inputs, outputs):
        x = inputs[0]
        return [f"reads: every element as an id (a row of the weight); its {x.rank} dims are kept",
                why.line(x.rank, "embedding_dim (a new last dim)", outputs[0].shape[-1])]


def check_rows(ctx, name: str, x: Tensor, rows) -> None:
    """Ids netspec can bound (Tensor.values: ``arange(seq)`` is 0 to seq - 1) must be rows of
    the table: an error where they provably are not, an `unproven` warning stating the
    condition where it depends on the symbols (the built class tests one over parameters)."""
    if x.values is None:
        return
    lo, hi = x.values
    facts = ((ctx.less_equal(0, lo), f"the ids start at `{render(lo)}`", f"`{render(lo)} >= 0`"),
             (ctx.requires_at_most(hi, rows), f"the ids reach `{ctx.show(hi - 1)}` and the table has "
              f"{ctx.show(rows)} rows (num_embeddings)", f"`{render(hi)} <= {render(rows)}`"))
    for fact, said, needs in facts:
        if fact is False:
            raise ctx.fail(codes.VALUE, f"{name}: {said}: an id past the table", ctx.input_story(),
                           arg="num_embeddings", help=f"make num_embeddings at least {ctx.show(hi)}, or the ids fewer")
        if fact is None and ctx.warns_unproven():
            ctx.warn(codes.UNPROVEN, f"{name}: {said}: each is a row only when {needs}, which cannot be proven for "
                     "every value of the symbols", ctx.input_story(), arg="num_embeddings",
                     help="torch raises IndexError where it fails; keep it so, and `# netspec: allow[unproven]` "
                     "on the line accepts it")


def check_ids(ctx, name: str, x: Tensor) -> None:
    if x.dtype not in INT_DTYPES:
        raise ctx.fail(codes.DTYPE, f"{name} needs integer ids (int64 or int32), received {x.dtype}",
                       ctx.input_story(),
                       help="declare the input as `long[...]`, or use Linear for float features")


class EmbeddingBagArgs(Args):
    num_embeddings: SizeArg
    embedding_dim: SizeArg
    max_norm: Optional[FloatArg] = None
    norm_type: FloatArg = 2.0
    scale_grad_by_freq: BoolArg = False
    mode: Literal["mean", "sum", "max"] = "mean"
    sparse: BoolArg = False
    include_last_offset: BoolArg = False
    padding_idx: Optional[DimArg] = None
    offsets: TensorIn = None
    per_sample_weights: TensorIn = None

    @after
    def _rules(self):
        check_padding_idx(self.num_embeddings, self.padding_idx)
        if self.mode == "max" and self.sparse:
            raise ValueError('mode="max" does not support sparse weights')
        if self.mode == "max" and self.scale_grad_by_freq:
            raise ValueError('mode="max" does not support scaling the gradient by the frequency')


@register
class EmbeddingBag(Layer):
    """Sums, averages or takes the max of the embeddings of each bag of ids: a 2-dim input
    [B, N] is B bags of N ids; a 1-dim input is cut into bags where ``offsets=`` starts them.
    The result is float32[bags, embedding_dim]."""

    name = "EmbeddingBag"
    torch_name = "EmbeddingBag"
    Args = EmbeddingBagArgs
    positional = ("num_embeddings", "embedding_dim", "max_norm", "norm_type", "scale_grad_by_freq", "mode",
                  "sparse")
    torch_positional = ("num_embeddings", "embedding_dim")
    state_inputs = ("offsets", "per_sample_weights")
    ranks = (1, 2)
    rank_help = "EmbeddingBag takes [bags, ids], or [ids] with offsets="
    examples: ClassVar[list[dict]] = [
        {"stage": "EmbeddingBag(100, 16)", "input": "int64[4, 9]"},
        {"stage": 'EmbeddingBag(10, 3, 1.0, 2.0, false, "max")', "input": "int32[2, 5]"},
        {"stage": 'EmbeddingBag(10, 4, mode="sum", offsets=offsets)', "input": "int64[7]",
         "tensors": {"offsets": "int64[3]"}},
        {"stage": "EmbeddingBag(10, 4, include_last_offset=true, padding_idx=0, offsets=offsets)",
         "input": "int32[9]", "tensors": {"offsets": "int32[4]"}},
        {"stage": 'EmbeddingBag(10, 2, mode="sum", per_sample_weights=w)', "input": "int64[3, 4]",
         "tensors": {"w": "float32[3, 4]"}},
        {"stage": 'EmbeddingBag(8, 3, mode="sum", sparse=true, offsets=offsets, per_sample_weights=w)',
         "input": "int64[6]", "tensors": {"offsets": "int64[2]", "w": "float32[6]"}},
    ]

    def infer(self, ctx, a, inputs):
        (x,) = inputs
        check_ids(ctx, self.name, x)
        if x.rank == 2:
            ctx.refuse_batch_in(x, [1], "reduces {dim} as the ids of each bag", "each bag would hold the ids of "
                                "several samples", layout="[batch, ids]")
            if a.offsets is not None:
                raise ctx.fail(codes.ARGUMENT, "EmbeddingBag takes offsets= only with a 1-dim input: a 2-dim input "
                               f"{ctx.show_tensor(x)} is {ctx.show(x.shape[0])} bags of {ctx.show(x.shape[1])} ids",
                               arg="offsets", help="drop offsets=, or give the ids as one 1-dim tensor")
            if ctx.dim(x.shape[1]) == 0:
                raise ctx.fail(codes.SIZE, f"EmbeddingBag: bags of 0 ids in {ctx.show_tensor(x)}", ctx.input_story())
            bags, origin = x.shape[0], x.origins[0]
        else:
            bags, origin = self._bags(ctx, a, x)
        if a.per_sample_weights is not None:
            self._check_weights(ctx, a, x)
        return [Tensor("float32", (bags, a.embedding_dim), (origin, ctx.origin))]

    def _bags(self, ctx, a, x: Tensor):
        """The number of bags of a 1-dim input: one a start in offsets (less the last one with
        include_last_offset, which ends the last bag)."""
        if a.offsets is None:
            raise ctx.fail(codes.ARGUMENT, f"EmbeddingBag on a 1-dim input {ctx.show_tensor(x)} needs offsets=, "
                           "where each bag starts", ctx.input_story(),
                           help="pass offsets=o (a 1-dim integer tensor), or give 2-dim ids [bags, ids]")
        t = a.offsets.tensor
        if t.rank != 1:
            raise ctx.fail(codes.RANK, f"EmbeddingBag: offsets must be 1-dim, received {ctx.show_tensor(t)}", arg="offsets")
        if t.dtype not in INT_DTYPES:
            raise ctx.fail(codes.DTYPE, f"EmbeddingBag: offsets must be integers (int64 or int32), received {t.dtype}",
                           arg="offsets")
        if not a.include_last_offset:
            return t.shape[0], t.origins[0]
        bags = t.shape[0] - 1
        if isinstance(ctx.dim(bags), int) and ctx.dim(bags) < 0:
            raise ctx.fail(codes.SIZE, "EmbeddingBag with include_last_offset needs at least one offset", arg="offsets")
        return bags, ctx.origin

    def _check_weights(self, ctx, a, x: Tensor) -> None:
        t = a.per_sample_weights.tensor
        if a.mode != "sum":
            raise ctx.fail(codes.VALUE, f'EmbeddingBag takes per_sample_weights only with mode="sum", not "{a.mode}"',
                           arg="per_sample_weights", help='use mode="sum", or drop the weights')
        if t.dtype != "float32":
            raise ctx.fail(codes.DTYPE, f"EmbeddingBag: per_sample_weights must be float32, as its weights, received "
                           f"{t.dtype}", arg="per_sample_weights")
        if t.rank != x.rank or not all(ctx.same(w, d) for w, d in zip(t.shape, x.shape)):
            raise ctx.fail(codes.SHAPE, f"EmbeddingBag: per_sample_weights must have the ids' shape "
                           f"{ctx.show_tensor(x)}, received {ctx.show_tensor(t)}", arg="per_sample_weights",
                           help="give one weight an id")

    def call_args(self, a, inputs, state, code):
        return [inputs[0]] + [f"{n}={state[n]}" for n in self.state_inputs if n in state]

    def param_count(self, a):
        return a.num_embeddings * a.embedding_dim

    def weights(self, a, dim=None):
        return [Weight("weight", (a.num_embeddings, a.embedding_dim))]

    def saved(self, a, inputs, outputs, grad):
        """torch's CPU embedding_bag keeps the ids, the offsets and per_sample_weights given,
        and what it makes, in the ids' dtype (int64 when the offsets' differs): the offsets
        of a 2-dim input (one a bag), the bag of each id (ids + 1, not in "sum" mode), each
        bag's size (one more with include_last_offset), the index of each maximum ("max":
        one an output element; else one a bag)."""
        x = inputs[0]
        mixed = a.offsets is not None and a.offsets.tensor.dtype != x.dtype
        bags, n = outputs[0].shape[0], numel(x.shape)
        made = (bags if x.rank == 2 else 0) + (0 if a.mode == "sum" else n + 1)
        made = made + bags + (1 if a.include_last_offset and x.rank == 1 else 0)
        made = made + (numel(outputs[0].shape) if a.mode == "max" else bags)
        given = tuple(name for name in self.state_inputs if getattr(a, name) is not None)
        return Saved(inputs=(0,), state=given, extra=made * ITEMSIZE["int64" if mixed else x.dtype])


class FlattenArgs(Args):
    start_dim: DimArg = 1
    end_dim: DimArg = -1


def flatten_shape(ctx, x: Tensor, start, end, arg_start: str, arg_end: str) -> Tensor:
    rank = max(x.rank, 1)
    s = ctx.concrete(start, "start_dim", arg_start)
    e = ctx.concrete(end, "end_dim", arg_end)
    for v, which in ((s, arg_start), (e, arg_end)):
        if not -rank <= v < rank:
            raise ctx.fail(codes.RANK, f"{which}={v} is out of range for a tensor with {x.rank} dims "
                           f"{ctx.show_tensor(x)}", arg=which)
    s, e = s % rank, e % rank
    if x.rank == 0:
        return x.with_shape((1,), ctx.origin)
    if s > e:
        raise ctx.fail(codes.VALUE, f"start_dim ({s}) comes after end_dim ({e})", arg=arg_start,
                       help="name the first dim to merge, then the last (counted alike from the end when negative)")
    shape = x.shape[:s] + (numel(x.shape[s:e + 1]),) + x.shape[e + 1:]
    keep = {i: i for i in range(s)}
    keep.update({i: i + (e - s) for i in range(s + 1, len(shape))})
    if s == e:
        keep[s] = s
    batch = ctx.regroup_batch("flatten", x, shape, arg_start, merges=True)  # adjacent dims: never mixes samples
    return x.with_shape(shape, ctx.origin, keep=keep, batch=batch)


class FlattenRule:
    """What the Flatten layer and the `flatten` op share: the shape rule, its explanation
    and the strides of the result (a view where torch's flatten is one)."""

    def infer(self, ctx, a, inputs):
        return [flatten_shape(ctx, inputs[0], a.start_dim, a.end_dim, "start_dim", "end_dim")]

    def explain(self, a, inputs, outputs):
        x = inputs[0]
        if x.rank == 0 or not isinstance(a.start_dim, int) or not isinstance(a.end_dim, int):
            return []
        start, end = a.start_dim % x.rank, a.end_dim % x.rank
        return why.flattened(x, start, end, outputs[0], start)

    def result_strides(self, a, inputs, outputs, strides):
        return reshaped(inputs, outputs, strides)


@register
class Flatten(FlattenRule, Layer):
    name = "Flatten"
    keeps_values = True  # its elements are its input's
    torch_name = "Flatten"
    Args = FlattenArgs
    positional = ("start_dim", "end_dim")
    torch_positional = ()
    examples: ClassVar[list[dict]] = [
        {"stage": "Flatten", "input": "float32[2, 3, 4, 5]"},
        {"stage": "Flatten(0)", "input": "float32[2, 3, 4]"},
        {"stage": "Flatten(1, 2)", "input": "int64[2, 3, 4, 5]"},
        {"stage": "Flatten(-3, -2)", "input": "float32[2, 3, 4, 5]"},
        {"stage": "Flatten(end_dim=1)", "input": "float32[2, 3, 4]"},
        {"stage": "Flatten(start_dim=2)", "input": "float32[2, 3, 4, 5]"},
    ]

    def batch_axis(self, a, rank):
        start = a.start_dim if isinstance(a.start_dim, int) else 0
        return 0 if rank >= 2 and start % rank >= 1 else None

    def is_view(self):
        return True


# -- Unflatten --------------------------------------------------------------------------------


def _sizes(v):
    if not isinstance(v, tuple) or not v or not all(is_dim(x) for x in v):
        raise ValueError(f"expected a tuple of sizes, received {_show(v)}")
    return v


class UnflattenArgs(Args):
    dim: DimArg
    unflattened_size: Annotated[Any, Before(_sizes, "a tuple of sizes")]


@register
class Unflatten(Layer):
    """Splits one dim into several: their product must be the dim's size (-1, once, stands
    for what the others leave). A view of its input."""

    name = "Unflatten"
    torch_name = "Unflatten"
    Args = UnflattenArgs
    positional = ("dim", "unflattened_size")
    torch_positional = ("dim", "unflattened_size")
    min_rank = 1
    examples: ClassVar[list[dict]] = [
        {"stage": "Unflatten(1, (2, 3))", "input": "float32[4, 6, 5]"},
        {"stage": "Unflatten(-1, (4, -1))", "input": "int64[2, 12]"},
        {"stage": "Unflatten(dim=0, unflattened_size=(2, 1, 3))", "input": "float32[6]"},
        {"stage": "Unflatten(-2, (-1, 2, 2))", "input": "bool[3, 8, 1]"},
        {"stage": "Unflatten(1, (5,))", "input": "float64[2, 5]"},
    ]

    def infer(self, ctx, a, inputs):
        (x,) = inputs
        d = ctx.concrete(a.dim, "dim", "dim")
        if not -x.rank <= d < x.rank:
            raise ctx.fail(codes.RANK, f"Unflatten: dim={d} is out of range for {ctx.show_tensor(x)}", arg="dim")
        i = d % x.rank
        sizes = self._sizes(ctx, a, x, i)
        shape = x.shape[:i] + sizes + x.shape[i + 1:]
        keep = {k: k for k in range(i)}
        keep.update({k + len(sizes) - 1: k for k in range(i + 1, x.rank)})
        if len(sizes) == 1:
            keep[i] = i
        batch = ctx.regroup_batch("Unflatten", x, shape, "unflattened_size")  # samples never mixed
        return [x.with_shape(shape, ctx.origin, keep=keep, batch=batch)]

    def _sizes(self, ctx, a, x: Tensor, i: int) -> tuple:
        """The sizes the dim splits into, -1 worked out; their product is the dim's size."""
        sizes = list(a.unflattened_size)
        holes = [k for k, v in enumerate(sizes) if isinstance(v, int) and v == -1]
        if len(holes) > 1:
            raise ctx.fail(codes.VALUE, "Unflatten: only one size can be -1", arg="unflattened_size")
        for v in sizes:
            if isinstance(ctx.dim(v), int) and ctx.dim(v) < -1:
                raise ctx.fail(codes.VALUE, f"Unflatten: invalid size {ctx.show(v)}", arg="unflattened_size")
        size = x.shape[i]
        known = numel(v for k, v in enumerate(sizes) if k not in holes)
        if holes:
            sizes[holes[0]] = self._hole(ctx, x, i, known, [v for k, v in enumerate(sizes) if k not in holes])
            return tuple(sizes)
        verdict = compare(ctx.dim(size), ctx.dim(known))
        if verdict is False:
            notes = [o for o in [ctx.origin_note(x, i)] if o] + ctx.input_story()
            raise ctx.fail(codes.SHAPE, f"Unflatten: the sizes ({', '.join(render(ctx.dim(v)) for v in sizes)}) "
                           f"multiply to {ctx.show(known)}, but dim {i} of {ctx.show_tensor(x)} is "
                           f"{ctx.show(size)}", notes, arg="unflattened_size",
                           help="use -1 for the size netspec should work out")
        if verdict and compare(size, known) is not True:
            ctx.fix(size, known)  # equal only for the parameters' values
        if verdict is None and ctx.warns_unproven():
            ctx.warn(codes.UNPROVEN, f"Unflatten needs dim {i} (`{ctx.show(size)}`) to be {ctx.show(known)}, "
                     "equal only for some values of the symbols", ctx.size_notes(size), arg="unflattened_size",
                     help="use -1 for the size netspec should work out")
        return tuple(sizes)

    def _hole(self, ctx, x: Tensor, i: int, known, factors: list) -> Any:
        size = x.shape[i]
        q = exact_div(size, known)
        if q is not None:
            return q
        sv, kv = ctx.dim(size), ctx.dim(known)
        if isinstance(kv, int) and kv == 0:
            raise ctx.fail(codes.VALUE, "Unflatten: cannot work out -1 next to a size of 0", arg="unflattened_size")
        if not isinstance(kv, int):
            q = ctx.free_quotient(size, known, factors)  # over free parameters: computed, its facts tested
            if q is not None:
                return q
        if isinstance(sv, int) and isinstance(kv, int):
            if sv % kv:
                notes = [o for o in [ctx.origin_note(x, i)] if o] + ctx.input_story()
                raise ctx.fail(codes.SHAPE, f"Unflatten: dim {i} of {ctx.show_tensor(x)} ({sv}) is not divisible by "
                               f"{kv}", notes, arg="unflattened_size", help="give sizes that divide the dim")
            q = ctx.param_quotient(size, known, factors)  # the class computes it, and tests the facts
            if q is not None:
                return q
            ctx.fix(size, known)  # divides only for the parameters' values
            return sv // kv
        if not isinstance(kv, int):
            raise ctx.fail(codes.UNPROVEN, f"Unflatten: the -1 size, {render(sv)} divided by {render(kv)}, cannot be "
                           "expressed as a dim", ctx.input_story(), arg="unflattened_size",
                           help="give the other sizes so that they divide the dim exactly")
        ctx.fix(known)
        if ctx.assume_divides(size, kv):
            ctx.warn(codes.UNPROVEN, f"Unflatten needs dim {i} (`{render(sv)}`) to be divisible by {kv}, which "
                     "cannot be proven for every value of the symbols", ctx.input_story(), arg="unflattened_size",
                     help="check that the sizes divide, or use sizes that make it exact")
        return floordiv(size, kv)

    def batch_axis(self, a, rank):
        at = a.dim if isinstance(a.dim, int) else 0
        return 0 if rank >= 2 and at % rank >= 1 else None

    def result_strides(self, a, inputs, outputs, strides):
        return reshaped(inputs, outputs, strides)

    def is_view(self):
        return True
