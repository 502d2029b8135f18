"""Convolutions and pooling, with torch's exact output-size arithmetic."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from .. import codes
from ..dims import Dim, Expr, exact_div, floordiv, is_dim
from ..types import Tensor
from . import why
from .args import Takes
from .base import (
    Args,
    BoolArg,
    DimOrTuple,
    FloatLayer,
    SizeArg,
    SizeOrTuple,
    Weight,
    normalize_tuple,
    numel,
    register,
    takes_help,
)
from .memory import Saved, shape_bytes

# -- pure shape functions (tested against torch over tables of cases) -------------------------


def conv_out(size: Dim, kernel: Dim, stride: Dim, padding: Dim, dilation: Dim) -> Dim:
    """torch.nn.Conv*d: floor((L + 2p - d(k-1) - 1) / s) + 1; over a symbolic stride (a
    parameter of a network checked generically) as floor((L + 2p - d(k-1) - 1 + s) / s),
    one term, so that a product of such sizes (a Linear over a flatten) stays one term."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    if isinstance(stride, Expr):
        return floordiv(span + stride, stride)
    return floordiv(span, stride) + 1


def conv_transpose_out(size: Dim, kernel: int, stride: int, padding: int, dilation: int,
                       output_padding: int) -> Dim:
    """torch.nn.ConvTranspose*d: (L - 1)s - 2p + d(k - 1) + output_padding + 1."""
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


# -- what every n-dimensional window layer shares ---------------------------------------------


class Spatial(FloatLayer):
    """A layer over the last ``n`` dims of a batched ``[N, C, *spatial]`` or unbatched
    ``[C, *spatial]`` input: convolutions, pools, adaptive pools."""

    n: ClassVar[int]

    @property
    def ranks(self):  # batched or unbatched
        return (self.n + 1, self.n + 2)

    def check_input(self, ctx, x: Tensor) -> None:
        """A floating input whose spatial dims hold no batch (a dim named as one, or the
        samples merged into it): a window sliding across it would mix samples (a `layout`
        error, unless allowed on the line)."""
        self.check_dtype(ctx, x)
        ctx.refuse_batch_in(x, range(max(x.rank - self.n, 0), x.rank), "reads {dim} as a spatial dim",
                            "its window would slide across samples", first=x.rank == self.n + 2)

    def kernel_sizes(self, ctx, value, name: str = "kernel_size", low: int = 1) -> tuple:
        """A window size or an n-tuple of them (kernel_size, stride, dilation, a pool's
        padding), each a known integer, except a size given by the network's parameters,
        which stays a symbol (in a network checked generically, any symbolic size): the
        class is built over it (a size it leaves divides by it: ``(h - 1) // s + 1``), each
        use of a block checks its value, and the class tests that it is at least ``low``
        (torch's least value), as ``check --set`` does."""
        try:
            t = normalize_tuple(value, self.n)
        except ValueError as e:
            raise ctx.fail(codes.ARGUMENT, f"{self.name}({name}=...): {e}", arg=name) from None
        out = tuple(v if isinstance(v, Expr) and (not ctx.strict or ctx.over_params(v))
                    else ctx.concrete(v, name, name) for v in t)
        for v in out:
            ctx.requires_at_least(low, v)
        return out

    def conv_groups(self, ctx, a) -> None:
        """groups must divide both channel counts: a known integer checked as torch checks
        it, or a size of the block's own symbols that divides them for every value (a
        depthwise convolution of a generic block, `groups=c * t` over `c * t` channels)."""
        if isinstance(ctx.dim(a.groups), int) or not isinstance(a.groups, Expr):
            groups = ctx.concrete(a.groups, "groups", "groups")
            if groups < 1:
                raise ctx.fail(codes.VALUE, f"{self.name}: kernel_size, stride, dilation and groups must be positive")
            self.check_groups(ctx, groups, a.groups, in_channels=a.in_channels, out_channels=a.out_channels)
            return
        for what, value in (("in_channels", a.in_channels), ("out_channels", a.out_channels)):
            if exact_div(value, a.groups) is not None or what == "out_channels" and value == a.in_channels:
                continue
            if not ctx.strict:  # a block's free groups: each use checks it, the class tests it
                ctx.assume_divisible(value, a.groups, f"{self.name}'s {what} must be divisible by groups")
                continue
            raise ctx.fail(codes.UNPROVEN, f"{self.name}: {what} ({ctx.show(value)}) must be divisible by "
                           f"groups ({ctx.show(a.groups)}) for every value of the sizes, and netspec "
                           "cannot prove it", arg="groups",
                           help="give groups a known value, or a size that divides both channel counts")

    def check_groups(self, ctx, groups: int, given: Dim, **channels) -> None:
        """in_channels and out_channels must divide into ``groups`` (``given``: as the stage
        writes it), as torch's constructor says. Channels a symbol sizes (`c` of
        ``[batch, c, L]``) may not divide: an `unproven` warning, and the class, which is
        given ``c``, tests it (in a block, each use checks it and the class tests it)."""
        for what, value in channels.items():
            v = ctx.dim(value)
            if isinstance(v, int) and v % groups:
                raise ctx.fail(codes.VALUE, f"{self.name}: {what} ({v}) must be divisible by groups ({groups})",
                               arg="groups", help=f"use groups that divide {v}, or make {what} a multiple of {groups}")
            ctx.requires_divisible(value, given)
            if isinstance(v, int) or exact_div(v, groups) is not None or not ctx.warns_unproven(value, given):
                continue
            ctx.warn(codes.UNPROVEN, f"{self.name}: {what} (`{ctx.show(value)}`) must be divisible by groups "
                     f"({groups}), which cannot be proven for every value of the symbols", ctx.input_story(),
                     arg="groups", help=f"give {what} a multiple of {groups} (`{groups} * n` in the input's shape), "
                     "or groups that divide it")
            ctx.assume_divisible(value, given, f"{self.name}'s {what} must be divisible by groups")

    def positive_windows(self, ctx, *windows) -> None:
        """A kernel size, stride or dilation from a parameter without a value (a network
        checked generically) must be at least 1, as torch demands: the class tests it."""
        for v in windows:
            if not isinstance(v, int):
                ctx.requires_at_most(1, v, assume=True)

    def check_output(self, ctx, x: Tensor, sizes, too_small, windows=None) -> None:
        """Every output size must be at least 1: ``too_small(i, size)`` gives the message and
        the help for spatial dim ``i`` when it is not. Over a symbolic input a window of
        known size is assumed to fit (docs/language.md); one a parameter without a value
        sizes (``windows``: the dilated window of each dim; else the size's own) has no
        bound, so that the output may be empty for any input: an `unproven` warning."""
        for i, size in enumerate(sizes):
            verdict = ctx.requires_at_most(1, size)  # the class tests it over parameters
            if verdict is False:
                message, help = too_small(i, ctx.dim(size))
                raise ctx.fail(codes.SIZE, f"{self.name} leaves no output: {message}", ctx.input_story(), help=help)
            free = ctx.free_params(size if windows is None else windows[i])
            if verdict is None and free and ctx.warns_unproven(size):  # a window from a parameter: no bound
                names = ", ".join(f"`{p}`" for p in sorted(free))
                ctx.warn(codes.UNPROVEN, f"{self.name} leaves an output of `{ctx.show(size)}` in dim "
                         f"{x.rank - self.n + i}, at least 1 only where the input is at least its window: that "
                         f"depends on the values of {names}", ctx.input_story(),
                         help=f"give {names} a default (or a value with --set), or check that every input is "
                         "at least the window; `# netspec: allow[unproven]` on the line accepts it")


# -- convolutions -----------------------------------------------------------------------------

PaddingMode = Literal["zeros", "reflect", "replicate", "circular"]


class ConvArgs(Args):
    in_channels: SizeArg
    out_channels: SizeArg
    kernel_size: SizeOrTuple
    stride: SizeOrTuple = 1
    # as torch's Conv*d takes it; checked in infer
    padding: Annotated[Any, Takes("an integer, a tuple of integers, `same` or `valid`")] = 0
    dilation: SizeOrTuple = 1
    groups: SizeArg = 1
    bias: BoolArg = True
    padding_mode: PaddingMode = "zeros"


class _Conv(Spatial):
    Args = ConvArgs
    fresh_result = True
    positional = ("out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "bias",
                  "padding_mode")
    inferred = "in_channels"
    torch_positional = ("in_channels", "out_channels", "kernel_size")
    dtype_kwarg = True

    def inferred_index(self, rank):
        return rank - self.n - 1

    def infer(self, ctx, a, inputs):
        (x,) = inputs
        self.check_input(ctx, x)
        k = self.kernel_sizes(ctx, a.kernel_size)
        s = self.kernel_sizes(ctx, a.stride, "stride")
        d = self.kernel_sizes(ctx, a.dilation, "dilation")
        known = [v for v in map(ctx.dim, (*k, *s, *d)) if isinstance(v, int)]  # free: at each use
        if min(known, default=1) < 1:
            raise ctx.fail(codes.VALUE, f"{self.name}: kernel_size, stride, dilation and groups must be positive")
        # a kernel size, stride or dilation from a parameter: at least 1, which the class
        # tests where needed
        self.positive_windows(ctx, *k, *s, *d)
        self.conv_groups(ctx, a)
        out_spatial = self._spatial(ctx, a, x.shape[-self.n:], k, s, d)
        self.check_output(ctx, x, out_spatial, lambda i, v: (
            f"input {ctx.show_tensor(x)} is too small for kernel_size={a.kernel_size} (output size {v} in dim "
            f"{x.rank - self.n + i})", "use a smaller kernel or stride, or pad the input"),
            [dd * (kk - 1) + 1 for kk, dd in zip(k, d)])
        shape = x.shape[:-self.n - 1] + (a.out_channels,) + tuple(out_spatial)
        keep = {i: i for i in range(x.rank - self.n - 1)}
        return [x.with_shape(shape, ctx.origin, keep=keep)]

    def _spatial(self, ctx, a, spatial, k, s, d) -> tuple:
        """The output's spatial sizes under the padding given (a size, a tuple, "same", "valid")."""
        pad = a.padding
        if isinstance(pad, str):
            if pad not in ("same", "valid"):
                raise ctx.fail(codes.VALUE, f'{self.name}: padding must be "same", "valid", an integer or a tuple, '
                               f'received "{pad}"', arg="padding", help=takes_help(self, "padding"))
            if pad == "same" and any([ctx.requires_at_most(v, 1, assume=True) is False for v in s]):
                raise ctx.fail(codes.VALUE, f'{self.name}: padding="same" is not supported for strided '
                               f"convolutions (stride={a.stride})", arg="padding",
                               help="use an explicit padding, or stride=1")
            if pad == "same":
                return tuple(spatial)
            return tuple(conv_out(L, k[i], s[i], 0, d[i]) for i, L in enumerate(spatial))
        try:
            p = normalize_tuple(pad, self.n)
        except ValueError as e:
            raise ctx.fail(codes.ARGUMENT, f"{self.name}(padding=...): {e}", arg="padding",
                           help=takes_help(self, "padding")) from None
        if not all(is_dim(v) for v in p):
            raise ctx.fail(codes.ARGUMENT, f"{self.name}(padding=...): expected an integer, a tuple or "
                           '"same"/"valid"', arg="padding", help=takes_help(self, "padding"))
        low = min((v for v in map(ctx.dim, p) if isinstance(v, int)), default=0)
        if low < 0:
            raise ctx.fail(codes.VALUE, f"{self.name}: padding must not be negative (received {low})",
                           arg="padding", help="give a padding of 0 or more")
        for v in p:
            ctx.requires_at_least(0, v)
        return tuple(conv_out(L, k[i], s[i], p[i], d[i]) for i, L in enumerate(spatial))

    def param_count(self, a):
        per = numel(normalize_tuple(a.kernel_size, self.n))
        return a.out_channels * (a.in_channels // a.groups) * per + (a.out_channels if a.bias else 0)

    def weights(self, a, dim=None):
        k = normalize_tuple(a.kernel_size, self.n)
        weight = Weight("weight", (a.out_channels, a.in_channels // a.groups) + tuple(k))
        return [weight] + ([Weight("bias", (a.out_channels,))] if a.bias else [])

    def flops(self, a, inputs, outputs):
        per = numel(normalize_tuple(a.kernel_size, self.n))
        return 2 * numel(outputs[0].shape) * (a.in_channels // a.groups) * per

    def explain(self, a, inputs, outputs):
        x, y = inputs[0], outputs[0]
        k, s, d = (normalize_tuple(v, self.n) for v in (a.kernel_size, a.stride, a.dilation))
        c = x.rank - self.n - 1
        out = [why.spatial_reads(self.name, x.rank, self.n, "in_channels"),
               why.line(c, "out_channels", y.shape[c])]
        for i in range(self.n):
            at, L = x.rank - self.n + i, why.num(x.shape[x.rank - self.n + i])
            if a.padding == "same":  # torch pads dilation*(kernel_size-1) in all, the odd one on the right
                total = d[i] * (k[i] - 1)
                out.append(why.line(at, f"({L} + {total} - {d[i]}*({k[i]}-1) - 1)//1 + 1", y.shape[at])
                           + f'  (padding="same": {total} in all)')
                continue
            p = 0 if a.padding == "valid" else normalize_tuple(a.padding, self.n)[i]
            out.append(why.line(at, f"({L} + 2*{why.num(p)} - {why.num(d[i])}*({k[i]}-1) - 1)//{s[i]} + 1",
                                y.shape[at]))
        return out

    def saved(self, a, inputs, outputs, grad):
        """The input the convolution reads: the input itself, or the padded copy torch makes
        first for a padding_mode other than zeros (whose reflection or replication keeps the
        input too) and for a "same" padding that is odd in some dim."""
        x = inputs[0]
        grow = self._copy_padding(a)
        if grow is None:
            return Saved(inputs=(0,))
        spatial = tuple(L + g for L, g in zip(x.shape[-self.n:], grow))
        copy = shape_bytes(x.shape[:-self.n] + spatial, x.dtype)
        keeps_input = a.padding_mode in ("reflect", "replicate") and grad.grad(0)
        return Saved(inputs=(0,) if keeps_input else (), extra=copy)

    def _copy_padding(self, a) -> tuple | None:
        """How much each spatial dim of the padded copy grows, or None when torch pads inside
        the convolution (no copy)."""
        k = normalize_tuple(a.kernel_size, self.n)
        d = normalize_tuple(a.dilation, self.n)
        if a.padding == "same":
            total = [d[i] * (k[i] - 1) for i in range(self.n)]
        elif a.padding == "valid":
            total = [0] * self.n
        else:
            total = [2 * p for p in normalize_tuple(a.padding, self.n)]
        if a.padding_mode != "zeros":
            return tuple(total)
        if a.padding == "same" and any(t % 2 for t in total):
            return tuple(t % 2 for t in total)  # the odd one more on the right; the rest inside
        return None


@register
class Conv1d(_Conv):
    name = "Conv1d"
    torch_name = "Conv1d"
    n = 1
    examples: ClassVar[list[dict]] = [
        {"stage": "Conv1d(8, 3)", "input": "float32[2, 4, 20]"},
        {"stage": "Conv1d(6, 5, stride=2, padding=1, dilation=2)", "input": "float32[1, 3, 31]"},
        {"stage": 'Conv1d(4, 3, padding="same", bias=false)', "input": "float32[2, 2, 9]"},
        {"stage": 'Conv1d(4, 4, padding="valid", groups=2)', "input": "float32[6, 9]"},
        {"stage": "Conv1d(4, (3,), stride=(2,), padding=(1,), dilation=(2,), in_channels=3)", "input": "float32[2, 3, 17]"},
    ]


@register
class Conv2d(_Conv):
    format_ranks = (4,)  # torch's suggest_memory_format (layout.suggested)
    name = "Conv2d"
    torch_name = "Conv2d"
    n = 2
    examples: ClassVar[list[dict]] = [
        {"stage": "Conv2d(6, 5, padding=2)", "input": "float32[2, 1, 28, 28]"},
        {"stage": "Conv2d(8, (3, 5), stride=(2, 1), padding=(1, 2))", "input": "float32[1, 3, 17, 19]"},
        {"stage": "Conv2d(4, 3, dilation=2, groups=2, bias=false)", "input": "float32[2, 4, 15, 16]"},
        {"stage": 'Conv2d(5, 4, padding="same", dilation=(1, 2))', "input": "float32[1, 2, 10, 11]"},
        {"stage": "Conv2d(3, 2, stride=3)", "input": "float64[2, 9, 10]"},
        {"stage": 'Conv2d(2, 3, padding=1, padding_mode="reflect")', "input": "float32[1, 2, 6, 6]"},
        {"stage": "Conv2d(6, (3, 2), stride=(1, 2), padding=(2, 0), dilation=(2, 3), groups=3)", "input": "float32[2, 3, 12, 13]"},
        {"stage": 'Conv2d(4, 3, padding="valid", in_channels=2)', "input": "float32[1, 2, 7, 8]"},
        {"stage": "Conv2d(8, 3, 2, 1, 1, 2, false)", "input": "float32[1, 4, 9, 9]"},
    ]


@register
class Conv3d(_Conv):
    name = "Conv3d"
    torch_name = "Conv3d"
    n = 3
    examples: ClassVar[list[dict]] = [
        {"stage": "Conv3d(4, 3)", "input": "float32[2, 3, 6, 7, 8]"},
        {"stage": "Conv3d(6, (3, 1, 2), stride=(1, 2, 3), padding=(1, 0, 2), dilation=(2, 1, 1), groups=3)",
         "input": "float32[1, 3, 7, 8, 9]"},
        {"stage": 'Conv3d(2, 3, padding="same", bias=false)', "input": "float64[2, 5, 5, 6]"},
        {"stage": 'Conv3d(4, 2, padding=1, padding_mode="replicate", in_channels=2)', "input": "float32[1, 2, 4, 4, 4]"},
        {"stage": 'Conv3d(4, 3, 2, "valid", 1, 1, false)', "input": "float32[1, 2, 7, 7, 7]"},
    ]


# -- transposed convolutions ------------------------------------------------------------------


class ConvTransposeArgs(Args):
    in_channels: SizeArg
    out_channels: SizeArg
    kernel_size: SizeOrTuple
    stride: SizeOrTuple = 1
    # a string is refused in infer, as torch does
    padding: Annotated[Any, Takes("an integer or a tuple of integers")] = 0
    output_padding: DimOrTuple = 0
    groups: SizeArg = 1
    bias: BoolArg = True
    dilation: SizeOrTuple = 1
    # torch takes only "zeros" (checked in infer)
    padding_mode: Annotated[PaddingMode, Takes("only `zeros` (torch's transposed convolutions pad with zeros)")] = "zeros"


class _ConvTranspose(Spatial):
    """A transposed convolution: each input position spreads a kernel over the output, so
    the output grows with the stride (the inverse of a convolution's size rule)."""

    Args = ConvTransposeArgs
    fresh_result = True
    # torch's order: groups and bias come before dilation here, unlike Conv*d
    positional = ("out_channels", "kernel_size", "stride", "padding", "output_padding", "groups", "bias",
                  "dilation", "padding_mode")
    inferred = "in_channels"
    torch_positional = ("in_channels", "out_channels", "kernel_size")
    dtype_kwarg = True

    def inferred_index(self, rank):
        return rank - self.n - 1

    def infer(self, ctx, a, inputs):
        (x,) = inputs
        self.check_input(ctx, x)
        self._no_string_padding(ctx, a)
        k, s, p, d, op = (self.kernel_sizes(ctx, v, name, low) for name, v, low in (
            ("kernel_size", a.kernel_size, 1), ("stride", a.stride, 1), ("padding", a.padding, 0),
            ("dilation", a.dilation, 1), ("output_padding", a.output_padding, 0)))
        self._check_windows(ctx, k, s, p, d, op)
        self.positive_windows(ctx, *k, *s, *d)
        self.conv_groups(ctx, a)  # a block's free groups too, as a convolution's
        out = [conv_transpose_out(L, k[i], s[i], p[i], d[i], op[i]) for i, L in enumerate(x.shape[-self.n:])]
        self.check_output(ctx, x, out, lambda i, v: (
            f"padding={a.padding} takes more than input {ctx.show_tensor(x)} makes (output size {v} in dim "
            f"{x.rank - self.n + i})", "use a smaller padding, or a larger stride or kernel"))
        shape = x.shape[:-self.n - 1] + (a.out_channels,) + tuple(out)
        return [x.with_shape(shape, ctx.origin, keep={i: i for i in range(x.rank - self.n - 1)})]

    def _no_string_padding(self, ctx, a) -> None:
        """padding an integer or a tuple, padding_mode "zeros", as torch demands."""
        if isinstance(a.padding, str):
            raise ctx.fail(codes.VALUE, f'{self.name} takes no string padding (received "{a.padding}")',
                           arg="padding", help="give the padding as an integer or a tuple of integers")
        if not all(is_dim(v) for v in (a.padding if isinstance(a.padding, tuple) else (a.padding,))):
            raise ctx.fail(codes.ARGUMENT, f"{self.name}(padding=...): expected an integer or a tuple of integers",
                           arg="padding", help="give the padding as an integer or a tuple of integers")
        if a.padding_mode != "zeros":
            raise ctx.fail(codes.VALUE, f'{self.name}: only padding_mode="zeros" is supported, received '
                           f'"{a.padding_mode}"', arg="padding_mode", help="drop the padding_mode argument")

    def _check_windows(self, ctx, k, s, p, d, op) -> None:
        """kernel_size, stride and dilation positive, padding and output_padding not negative,
        and output_padding below stride or dilation, refused where torch refuses them. In a
        network checked generically any of them may be a parameter (the output's size is a
        polynomial in them); each use checks its values, and the class tests that
        ``output_padding`` is below the stride or the dilation, as torch does."""
        def known(values):
            return [v for v in map(ctx.dim, values) if isinstance(v, int)] or [1]
        if min(known((*k, *s, *d))) < 1:
            raise ctx.fail(codes.VALUE, f"{self.name}: kernel_size, stride and dilation must be positive")
        for name, values in (("padding", p), ("output_padding", op)):
            if min(known(values)) < 0:
                raise ctx.fail(codes.VALUE, f"{self.name}: {name} must not be negative", arg=name)
        for i in range(self.n):
            if ctx.less_equal(op[i] + 1, s[i]) is False and ctx.less_equal(op[i] + 1, d[i]) is False:
                o, st, di = (ctx.dim(v) for v in (op[i], s[i], d[i]))
                raise ctx.fail(codes.VALUE, f"{self.name}: output_padding ({o}) must be smaller than either "
                               f"stride ({st}) or dilation ({di})", arg="output_padding",
                               help=f"use an output_padding below {max(st, di)}" if isinstance(st, int)
                               and isinstance(di, int) else "use an output_padding below the stride")
            # below either: with 0 <= op, 1 <= s and 1 <= d (tested first), `op // s` is 0
            # exactly when op < s, so the class tests that one of the quotients is 0
            ctx.requires_for_every_value(floordiv(op[i], s[i]) * floordiv(op[i], d[i]), 0)

    def param_count(self, a):
        per = numel(normalize_tuple(a.kernel_size, self.n))
        return a.in_channels * (a.out_channels // a.groups) * per + (a.out_channels if a.bias else 0)

    def weights(self, a, dim=None):
        k = normalize_tuple(a.kernel_size, self.n)
        weight = Weight("weight", (a.in_channels, a.out_channels // a.groups) + tuple(k))
        return [weight] + ([Weight("bias", (a.out_channels,))] if a.bias else [])

    def flops(self, a, inputs, outputs):
        # torch's count for a transposed convolution: every input element meets the kernel
        # once per output channel of its group
        per = numel(normalize_tuple(a.kernel_size, self.n))
        return 2 * numel(inputs[0].shape) * (a.out_channels // a.groups) * per

    def explain(self, a, inputs, outputs):
        x, y = inputs[0], outputs[0]
        k, s, d, p, op = (normalize_tuple(v, self.n) for v in (a.kernel_size, a.stride, a.dilation, a.padding,
                                                                a.output_padding))
        c = x.rank - self.n - 1
        out = [why.spatial_reads(self.name, x.rank, self.n, "in_channels"),
               why.line(c, "out_channels", y.shape[c])]
        for i in range(self.n):
            at, L = x.rank - self.n + i, why.num(x.shape[x.rank - self.n + i])
            out.append(why.line(at, f"({L} - 1)*{s[i]} - 2*{why.num(p[i])} + {d[i]}*({k[i]}-1) + {why.num(op[i])} + 1",
                                y.shape[at]))
        return out

    def saved(self, a, inputs, outputs, grad):
        return Saved(inputs=(0,))


@register
class ConvTranspose1d(_ConvTranspose):
    name = "ConvTranspose1d"
    torch_name = "ConvTranspose1d"
    n = 1
    examples: ClassVar[list[dict]] = [
        {"stage": "ConvTranspose1d(4, 3)", "input": "float32[2, 3, 10]"},
        {"stage": "ConvTranspose1d(6, 4, stride=3, padding=2, output_padding=2, dilation=2)", "input": "float32[1, 2, 7]"},
        {"stage": "ConvTranspose1d(4, 3, stride=2, groups=2, bias=false)", "input": "float64[4, 5]"},
        {"stage": "ConvTranspose1d(2, 5, 2, 1, 1, 1, true, 1)", "input": "float32[1, 3, 6]"},
        {"stage": "ConvTranspose1d(3, (2,), stride=(2,), padding=(1,), output_padding=(1,), in_channels=2)",
         "input": "float32[3, 2, 4]"},
    ]


@register
class ConvTranspose2d(_ConvTranspose):
    format_ranks = (4,)  # torch's suggest_memory_format (layout.suggested)
    name = "ConvTranspose2d"
    torch_name = "ConvTranspose2d"
    n = 2
    examples: ClassVar[list[dict]] = [
        {"stage": "ConvTranspose2d(8, 4, stride=2, padding=1)", "input": "float32[2, 16, 7, 7]"},
        {"stage": "ConvTranspose2d(6, (3, 2), stride=(2, 3), padding=(1, 0), output_padding=(1, 2), dilation=(1, 2), groups=3)",
         "input": "float32[1, 3, 5, 6]"},
        {"stage": "ConvTranspose2d(3, 3, stride=2, output_padding=1, bias=false)", "input": "float64[2, 4, 5]"},
        {"stage": "ConvTranspose2d(4, 3, 2, 1, 1, 2, false, 1)", "input": "float32[1, 2, 6, 6]"},
        {"stage": 'ConvTranspose2d(2, 1, padding_mode="zeros", in_channels=5)', "input": "float32[1, 5, 3, 4]"},
    ]


@register
class ConvTranspose3d(_ConvTranspose):
    name = "ConvTranspose3d"
    torch_name = "ConvTranspose3d"
    n = 3
    examples: ClassVar[list[dict]] = [
        {"stage": "ConvTranspose3d(4, 2, stride=2)", "input": "float32[2, 3, 3, 4, 5]"},
        {"stage": "ConvTranspose3d(6, (3, 1, 2), stride=(2, 1, 2), padding=(1, 0, 1), output_padding=(1, 0, 0), "
                  "dilation=(1, 2, 1), groups=2)", "input": "float32[1, 4, 3, 3, 4]"},
        {"stage": "ConvTranspose3d(2, 3, 1, 1, 0, 1, true, 2)", "input": "float64[3, 2, 3, 4]"},
    ]
