"""Pooling, with torch's exact output-size arithmetic."""

from __future__ import annotations

from typing import Any, ClassVar, Optional

from .. import codes
from ..dims import Dim, Expr, floordiv, less_equal, symbols
from . import why
from .base import Args, BoolArg, DimArg, DimOrTuple, FloatArg, OptDimOrTuple, SizeOrTuple, normalize_tuple, register
from .conv import Spatial
from .memory import Saved, nbytes, shape_bytes

# -- pure shape functions (tested against torch over tables of cases) -------------------------


def pool_out(size: Dim, kernel: Dim, stride: Dim, padding: Dim, dilation: Dim, ceil_mode: bool) -> Dim:
    """torch's pooling_output_shape, for a symbolic size and, in a network checked
    generically, a symbolic window, stride, padding or dilation (see conv_out)."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    if not ceil_mode:
        return floordiv(span + stride, stride) if isinstance(stride, Expr) else floordiv(span, stride) + 1
    return ceil_pool_out(size, kernel, stride, padding, dilation)


def ceil_pool_out(size: Dim, kernel: Dim, stride: Dim, padding: Dim, dilation: Dim) -> Dim:
    """ceil mode: torch counts ``A + 1`` windows, ``A = ceil(span / s)``, and drops the last
    when it starts in the right padding, ``A * s >= L + p``. With ``n = L + p - 1`` and the
    window's reach ``g = d(k - 1) + 1 - p`` (at least 1, as padding is at most half the
    window), ``A = floor((n - g + s) / s)`` is at most ``B = floor(n / s) + 1``, the count of
    starts inside the input or its left padding, and the rule is ``min(A + 1, B)``: ``B``
    where ``g <= s``, ``A + 1`` where ``g >= s``, whatever the size. Where which one holds
    depends on a window, stride, padding or dilation that is a symbol, the count is
    ``floor((n - max(g - s, 0) + s) / s)`` with ``max(g - s, 0) = (g - s) * (2g // (g + s + 1))``
    (the floor is 1 exactly when ``g > s``, for ``g, s >= 0``): exact for every value that
    torch accepts (``2p <= k``, the class tests it). A symbol of the padding alone may be 0,
    so only the window's, the stride's and the dilation's symbols are taken to be sizes."""
    n = size + padding - 1
    reach = dilation * (kernel - 1) + 1 - padding
    windows = symbols(kernel) | symbols(stride) | symbols(dilation)  # each at least 1, as torch demands
    fits = less_equal(reach, stride, windows)
    if fits is True:
        past = 0
    elif fits is False:
        past = reach - stride
    else:
        past = (reach - stride) * floordiv(2 * reach, reach + stride + 1)
    if isinstance(stride, Expr):
        return floordiv(n - past + stride, stride)
    return floordiv(n - past, stride) + 1


def adaptive_out(size: Dim, out: Any) -> Dim:
    return size if out is None else out


# -- pooling ----------------------------------------------------------------------------------


class MaxPoolArgs(Args):
    kernel_size: SizeOrTuple
    stride: OptDimOrTuple = None
    padding: DimOrTuple = 0
    dilation: SizeOrTuple = 1
    return_indices: BoolArg = False
    ceil_mode: BoolArg = False


class AvgPool1dArgs(Args):
    kernel_size: SizeOrTuple
    stride: OptDimOrTuple = None
    padding: DimOrTuple = 0
    ceil_mode: BoolArg = False
    count_include_pad: BoolArg = True


class AvgPool2dArgs(AvgPool1dArgs):
    divisor_override: Optional[DimArg] = None


class _Pool(Spatial):
    positional = ("kernel_size", "stride", "padding", "dilation", "return_indices", "ceil_mode")
    torch_positional = ("kernel_size",)
    has_dilation: ClassVar[bool] = True

    def infer(self, ctx, a, inputs):
        (x,) = inputs
        self.check_input(ctx, x)
        if getattr(a, "return_indices", False):
            raise ctx.fail(codes.VALUE, f"{self.name}(return_indices=true) is not supported",
                           arg="return_indices", help="use the pooled values alone")
        # in a network checked generically a window, stride, padding or dilation from a
        # parameter stays a symbol (each use checks its value), in ceil mode too (see
        # ceil_pool_out); the class tests the facts torch demands of them
        k = self.kernel_sizes(ctx, a.kernel_size, "kernel_size")
        s = k if a.stride is None else self.kernel_sizes(ctx, a.stride, "stride")
        p = self.kernel_sizes(ctx, getattr(a, "padding", 0), "padding", low=0)  # LPPool has none
        d = self.kernel_sizes(ctx, a.dilation, "dilation") if self.has_dilation else (1,) * self.n
        self.positive_windows(ctx, *k, *s)
        self._check_windows(ctx, k, s, p, d)
        out = []
        for i, size in enumerate(x.shape[-self.n:]):
            o = pool_out(size, k[i], s[i], p[i], d[i], a.ceil_mode)
            self.check_output(ctx, x, [o], lambda _, v, i=i: (
                f"input {ctx.show_tensor(x)} is smaller than its window ({ctx.show(k[i])})",
                "remove the pooling, or use a smaller window"), [d[i] * (k[i] - 1) + 1])
            out.append(o)
        shape = x.shape[:-self.n] + tuple(out)
        return [x.with_shape(shape, ctx.origin, keep={i: i for i in range(x.rank - self.n)})]

    def _check_windows(self, ctx, k, s, p, d) -> None:
        """kernel_size, stride and dilation positive, padding not negative and at most half
        the kernel size (``2p <= k``, torch's ``pad <= k / 2``; with a dilation of at least
        1 that also keeps it within half the effective window), refused where torch refuses
        them. A parameter of a network checked generically may give any of them: each use
        checks its values, and the class tests a fact its parameters' values meet but that
        does not hold for every value (``if k < 2 * p: raise ValueError(...)``)."""
        known = [v for v in map(ctx.dim, (*k, *s, *d)) if isinstance(v, int)]
        if min(known, default=1) < 1 or min((v for v in map(ctx.dim, p) if isinstance(v, int)), default=0) < 0:
            raise ctx.fail(codes.VALUE, f"{self.name}: kernel_size, stride and dilation must be positive, "
                           "padding not negative")
        for i in range(self.n):
            for low, high in ((1, d[i]), (0, p[i])):
                if not isinstance(high, int):
                    ctx.requires_at_most(low, high, assume=True)
            if p[i] != 0 and ctx.requires_at_most(2 * p[i], k[i], assume=True) is False:  # k >= 1 is tested
                pi, ki = ctx.dim(p[i]), ctx.dim(k[i])
                raise ctx.fail(codes.VALUE, f"{self.name}: padding ({ctx.show(pi)}) should be at most half of the "
                               f"kernel size ({ctx.show(ki)})", arg="padding",
                               help=f"use a padding of at most {ki // 2} there, or a larger kernel"
                               if isinstance(ki, int) else "use a smaller padding, or a larger kernel")

    def explain(self, a, inputs, outputs):
        x, y = inputs[0], outputs[0]
        k = normalize_tuple(a.kernel_size, self.n)
        s = k if a.stride is None else normalize_tuple(a.stride, self.n)
        p = normalize_tuple(getattr(a, "padding", 0), self.n)
        d = normalize_tuple(a.dilation, self.n) if self.has_dilation else (1,) * self.n
        out = [why.spatial_reads(self.name, x.rank, self.n, "channels (kept)")]
        for i in range(self.n):
            at, L = x.rank - self.n + i, why.num(x.shape[x.rank - self.n + i])
            span = f"{L} + 2*{why.num(p[i])} - {why.num(d[i])}*({why.num(k[i])}-1) - 1"
            if not a.ceil_mode:
                out.append(why.line(at, f"({span})//{s[i]} + 1", y.shape[at]))
                continue
            # ceil mode: one window more where the division leaves a rest, unless that last
            # window would start in the right padding (torch's pooling_output_shape)
            up = f"-(-({span})//{s[i]}) + 1"
            out.append(why.line(at, f"{up} - (({up} - 1)*{s[i]} >= {L} + {p[i]})", y.shape[at]))
        return out

    def saved(self, a, inputs, outputs, grad):
        """The input, and for a max pool the int64 index of each maximum."""
        indices = shape_bytes(outputs[0].shape, "int64") if self.name.startswith("Max") else 0
        return Saved(inputs=(0,), extra=indices)


@register
class MaxPool1d(_Pool):
    contiguous_ranks = (3,)
    name = "MaxPool1d"
    torch_name = "MaxPool1d"
    Args = MaxPoolArgs
    n = 1
    examples: ClassVar[list[dict]] = [
        {"stage": "MaxPool1d(2)", "input": "float32[2, 3, 9]"},
        {"stage": "MaxPool1d(3, stride=2, padding=1, dilation=2, ceil_mode=true)", "input": "float32[1, 2, 14]"},
        {"stage": "MaxPool1d(4, 1, 2)", "input": "float32[2, 7]"},
    ]


@register
class MaxPool2d(_Pool):
    format_ranks = (4,)  # torch's suggest_memory_format (layout.suggested)
    name = "MaxPool2d"
    torch_name = "MaxPool2d"
    Args = MaxPoolArgs
    n = 2
    examples: ClassVar[list[dict]] = [
        {"stage": "MaxPool2d(2, 2)", "input": "float32[2, 3, 224, 224]"},
        {"stage": "MaxPool2d(3, stride=2, ceil_mode=true)", "input": "float32[1, 4, 13, 14]"},
        {"stage": "MaxPool2d((2, 3), padding=(1, 1), dilation=(1, 2))", "input": "float32[3, 11, 12]"},
        {"stage": "MaxPool2d(2, stride=2, padding=1, ceil_mode=true)", "input": "float32[1, 1, 5, 6]"},
        {"stage": "MaxPool2d((3, 2), stride=(2, 1), padding=(1, 0), dilation=(2, 1), ceil_mode=true)",
         "input": "float32[2, 3, 10, 7]"},
        {"stage": "MaxPool2d(3, 2, 1, 2, false, true)", "input": "float32[1, 2, 11, 12]"},
    ]


@register
class AvgPool1d(_Pool):
    name = "AvgPool1d"
    torch_name = "AvgPool1d"
    Args = AvgPool1dArgs
    positional = ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad")
    n = 1
    has_dilation = False
    examples: ClassVar[list[dict]] = [
        {"stage": "AvgPool1d(3)", "input": "float32[2, 3, 10]"},
        {"stage": "AvgPool1d(4, stride=3, padding=2, ceil_mode=true)", "input": "float32[1, 2, 12]"},
        {"stage": "AvgPool1d(2, 1, 1, true)", "input": "float32[3, 5]"},
    ]


@register
class AvgPool2d(_Pool):
    format_ranks = (4,)  # torch's suggest_memory_format (layout.suggested)
    name = "AvgPool2d"
    torch_name = "AvgPool2d"
    Args = AvgPool2dArgs
    positional = ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override")
    n = 2
    has_dilation = False
    examples: ClassVar[list[dict]] = [
        {"stage": "AvgPool2d(2, stride=2)", "input": "float32[2, 6, 28, 28]"},
        {"stage": "AvgPool2d((3, 2), stride=(2, 1), padding=1, ceil_mode=true)", "input": "float32[1, 2, 9, 8]"},
        {"stage": "AvgPool2d(3, divisor_override=2, count_include_pad=false)", "input": "float32[2, 7, 7]"},
        {"stage": "AvgPool2d(3, 2, 1, true, false, 2)", "input": "float32[1, 2, 11, 12]"},
    ]


@register
class MaxPool3d(_Pool):
    format_ranks = (5,)  # torch's suggest_memory_format (layout.suggested)
    # max_pool3d of an unbatched [C, D, H, W] reads its memory format as a 4-dim tensor's
    refused_formats: ClassVar[dict[int, str]] = {4: "only contiguous or channels_last_3d"}
    name = "MaxPool3d"
    torch_name = "MaxPool3d"
    Args = MaxPoolArgs
    n = 3
    examples: ClassVar[list[dict]] = [
        {"stage": "MaxPool3d(2)", "input": "float32[2, 3, 4, 6, 6]"},
        {"stage": "MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))", "input": "float32[1, 2, 3, 9, 8]"},
        {"stage": "MaxPool3d(3, 2, 1, 2, false, true)", "input": "float32[2, 7, 8, 9]"},
    ]


@register
class AvgPool3d(_Pool):
    contiguous_ranks = (5,)
    name = "AvgPool3d"
    torch_name = "AvgPool3d"
    Args = AvgPool2dArgs
    positional = ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override")
    n = 3
    has_dilation = False
    examples: ClassVar[list[dict]] = [
        {"stage": "AvgPool3d(2, stride=2)", "input": "float32[2, 3, 4, 4, 4]"},
        {"stage": "AvgPool3d((2, 3, 3), stride=(1, 2, 2), padding=1, ceil_mode=true)", "input": "float32[1, 2, 5, 7, 6]"},
        {"stage": "AvgPool3d(3, 2, 1, true, false, 2)", "input": "float64[2, 5, 6, 7]"},
    ]


class LPPoolArgs(Args):
    norm_type: FloatArg
    kernel_size: DimOrTuple
    stride: OptDimOrTuple = None
    ceil_mode: BoolArg = False


class _LPPool(_Pool):
    """The p-norm of each window: torch's avg_pool of x**p without padding, so its sizes."""

    Args = LPPoolArgs
    positional = ("norm_type", "kernel_size", "stride", "ceil_mode")
    torch_positional = ("norm_type", "kernel_size")
    has_dilation = False

    def saved(self, a, inputs, outputs, grad):
        """torch computes (sign(y) * relu(|y|) * window) ** (1 / p) with y the average pool of
        x ** p: it keeps x, x ** p, and four tensors of the output's size (sign(y), relu's
        result, y, and the product raised to 1 / p)."""
        x = inputs[0]
        return Saved(inputs=(0,), extra=nbytes(x) + 4 * nbytes(outputs[0]))


@register
class LPPool1d(_LPPool):
    name = "LPPool1d"
    torch_name = "LPPool1d"
    n = 1
    examples: ClassVar[list[dict]] = [
        {"stage": "LPPool1d(2, 3)", "input": "float32[2, 3, 10]"},
        {"stage": "LPPool1d(1.5, 4, stride=3, ceil_mode=true)", "input": "float32[3, 11]"},
    ]


@register
class LPPool2d(_LPPool):
    format_ranks = (4,)  # torch's suggest_memory_format (layout.suggested)
    name = "LPPool2d"
    torch_name = "LPPool2d"
    n = 2
    examples: ClassVar[list[dict]] = [
        {"stage": "LPPool2d(2, 2)", "input": "float32[2, 3, 8, 8]"},
        {"stage": "LPPool2d(3.0, (3, 2), (2, 1), true)", "input": "float64[1, 2, 9, 8]"},
        {"stage": "LPPool2d(norm_type=1, kernel_size=3, stride=2)", "input": "float32[2, 7, 7]"},
    ]


@register
class LPPool3d(_LPPool):
    contiguous_ranks = (5,)
    name = "LPPool3d"
    torch_name = "LPPool3d"
    n = 3
    examples: ClassVar[list[dict]] = [
        {"stage": "LPPool3d(2, 2)", "input": "float32[2, 3, 4, 4, 4]"},
        {"stage": "LPPool3d(2, (1, 2, 2), stride=(1, 2, 1), ceil_mode=true)", "input": "float32[2, 3, 5, 5]"},
    ]


class AdaptiveArgs(Args):
    output_size: OptDimOrTuple


class AdaptiveMaxArgs(AdaptiveArgs):
    return_indices: BoolArg = False


class _Adaptive(Spatial):
    positional = ("output_size",)
    torch_positional = ("output_size",)

    def infer(self, ctx, a, inputs):
        (x,) = inputs
        self.check_input(ctx, x)
        if getattr(a, "return_indices", False):
            raise ctx.fail(codes.VALUE, f"{self.name}(return_indices=true) is not supported", arg="return_indices")
        if a.output_size is None:
            sizes = (None,) * self.n
        else:
            try:
                sizes = normalize_tuple(a.output_size, self.n)
            except ValueError as e:
                raise ctx.fail(codes.ARGUMENT, f"{self.name}(output_size=...): {e}", arg="output_size") from None
        out = []
        for size, o in zip(x.shape[-self.n:], sizes):
            if o is not None:
                v = ctx.dim(o)
                if isinstance(v, int) and v < 1:
                    raise ctx.fail(codes.VALUE, f"{self.name}: output_size must be positive", arg="output_size")
            out.append(adaptive_out(size, o))
        keep = {i: i for i in range(x.rank - self.n)}
        for i, o in enumerate(sizes):
            if o is None:
                keep[x.rank - self.n + i] = x.rank - self.n + i
        return [x.with_shape(x.shape[:-self.n] + tuple(out), ctx.origin, keep=keep)]

    def explain(self, a, inputs, outputs):
        x, y = inputs[0], outputs[0]
        sizes = a.output_size if isinstance(a.output_size, (tuple, list)) else (a.output_size,) * self.n
        out = [why.spatial_reads(self.name, x.rank, self.n, "channels (kept)")]
        for i, want in enumerate(sizes):
            at = x.rank - self.n + i
            out.append(why.line(at, "None: the input's size, kept" if want is None else "output_size", y.shape[at]))
        return out

    def saved(self, a, inputs, outputs, grad):
        """The input, and for a max pool the int64 index of each maximum; an average pool to
        one value a channel is a mean, which keeps nothing."""
        out = outputs[0]
        if self.name.startswith("AdaptiveMax"):
            return Saved(inputs=(0,), extra=shape_bytes(out.shape, "int64"))
        if all(d == 1 for d in out.shape[-self.n:]):
            return Saved()
        return Saved(inputs=(0,))


@register
class AdaptiveAvgPool1d(_Adaptive):
    name = "AdaptiveAvgPool1d"
    torch_name = "AdaptiveAvgPool1d"
    Args = AdaptiveArgs
    n = 1
    examples: ClassVar[list[dict]] = [{"stage": "AdaptiveAvgPool1d(5)", "input": "float32[2, 3, 17]"},
                                      {"stage": "AdaptiveAvgPool1d((3,))", "input": "float32[4, 9]"},
                                      {"stage": "AdaptiveAvgPool1d(6)", "input": "float32[1, 2, 4]"}]


@register
class AdaptiveAvgPool2d(_Adaptive):
    format_ranks = (4,)  # torch's suggest_memory_format (layout.suggested)
    name = "AdaptiveAvgPool2d"
    torch_name = "AdaptiveAvgPool2d"
    Args = AdaptiveArgs
    n = 2
    examples: ClassVar[list[dict]] = [
        {"stage": "AdaptiveAvgPool2d((7, 7))", "input": "float32[2, 512, 14, 13]"},
        {"stage": "AdaptiveAvgPool2d(1)", "input": "float32[3, 5, 6]"},
        {"stage": "AdaptiveAvgPool2d((3, 4))", "input": "float32[1, 2, 9, 8]"},
        {"stage": "AdaptiveAvgPool2d(output_size=(1, 5))", "input": "float32[2, 3, 4]"},
    ]


@register
class AdaptiveMaxPool1d(_Adaptive):
    name = "AdaptiveMaxPool1d"
    torch_name = "AdaptiveMaxPool1d"
    Args = AdaptiveMaxArgs
    n = 1
    examples: ClassVar[list[dict]] = [{"stage": "AdaptiveMaxPool1d(4)", "input": "float32[2, 3, 10]"},
                                      {"stage": "AdaptiveMaxPool1d(output_size=1)", "input": "float32[3, 8]"}]


@register
class AdaptiveMaxPool2d(_Adaptive):
    format_ranks = (4,)  # torch's suggest_memory_format (layout.suggested)
    name = "AdaptiveMaxPool2d"
    torch_name = "AdaptiveMaxPool2d"
    Args = AdaptiveMaxArgs
    n = 2
    examples: ClassVar[list[dict]] = [{"stage": "AdaptiveMaxPool2d((2, 3))", "input": "float32[2, 3, 10, 9]"},
                                      {"stage": "AdaptiveMaxPool2d(5)", "input": "float32[2, 3, 4]"}]



@register
class AdaptiveAvgPool3d(_Adaptive):
    contiguous_ranks = (5,)
    name = "AdaptiveAvgPool3d"
    torch_name = "AdaptiveAvgPool3d"
    Args = AdaptiveArgs
    n = 3
    examples: ClassVar[list[dict]] = [{"stage": "AdaptiveAvgPool3d(1)", "input": "float32[2, 4, 3, 5, 5]"},
                                      {"stage": "AdaptiveAvgPool3d((2, 3, 4))", "input": "float32[3, 5, 7, 9]"}]


@register
class AdaptiveMaxPool3d(_Adaptive):
    contiguous_ranks = (5,)
    name = "AdaptiveMaxPool3d"
    torch_name = "AdaptiveMaxPool3d"
    Args = AdaptiveMaxArgs
    n = 3
    examples: ClassVar[list[dict]] = [{"stage": "AdaptiveMaxPool3d((1, 2, 2))", "input": "float32[2, 3, 4, 6, 6]"},
                                      {"stage": "AdaptiveMaxPool3d(output_size=3)", "input": "float64[2, 5, 4, 3]"}]
