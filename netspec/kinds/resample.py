"""Resampling: Upsample and interpolate, PixelShuffle and PixelUnshuffle.

Upsample and interpolate size each spatial dim as torch does: the ``size`` given, or
``floor(input_size * scale_factor)`` computed in double precision (torch's own arithmetic,
in its Python code and in its kernels alike). A symbolic size has an exact formula only when
the scale is a small dyadic rational ``p / 2**k``: then the product is exact in doubles and
the size is ``(p * size) // 2**k``; any other scale needs a concrete size.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, ClassVar, Literal, Optional

from .. import codes
from ..dims import Dim, exact_div, floordiv
from ..types import Tensor
from .args import Before
from .base import (
    Args,
    BoolArg,
    DimOrTuple,
    FloatLayer,
    Forward,
    Layer,
    Op,
    SizeArg,
    _float,
    _show,
    normalize_tuple,
    register,
)

# -- pure shape functions (tested against torch over tables of cases) -------------------------

# a symbolic size times p / 2**k is exact in doubles while p * size < 2**53: p < 2**21 keeps
# every size below 2**32 exact
DYADIC_NUMERATOR_LIMIT = 2**21


def scaled_size(size: Dim, scale: float) -> Dim | None:
    """torch's output size for a scale factor, ``floor(size * scale)`` in double precision:
    a number for a concrete size; for a symbolic one ``(p * size) // 2**k`` when the scale is
    ``p / 2**k`` with a small p, else None (no exact formula)."""
    if isinstance(size, int):
        return math.floor(float(size) * scale)
    p, q = scale.as_integer_ratio()  # the double's exact value, in lowest terms
    if q & (q - 1) == 0 and abs(p) < DYADIC_NUMERATOR_LIMIT:
        return floordiv(size * p, q)
    return None


# -- Upsample and interpolate -----------------------------------------------------------------

Mode = Literal["nearest", "linear", "bilinear", "bicubic", "trilinear", "nearest-exact"]
MODE_RANK = {"linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5}  # the others take 3 to 5
MODE_LAYOUT = {3: "[N, C, L]", 4: "[N, C, H, W]", 5: "[N, C, D, H, W]"}


def _scale(v):
    if isinstance(v, tuple) and v:
        return tuple(_float(x) for x in v)
    return _float(v)


ScaleArg = Annotated[Any, Before(_scale, "a positive number or a tuple of them")]


class UpsampleArgs(Args):
    size: Optional[DimOrTuple] = None
    scale_factor: Optional[ScaleArg] = None
    mode: Mode = "nearest"
    align_corners: Optional[BoolArg] = None
    recompute_scale_factor: Optional[BoolArg] = None


class InterpolateArgs(UpsampleArgs):
    antialias: BoolArg = False


class _Resample:
    """What Upsample and interpolate share: the arguments' rules and the output sizes."""

    name: str

    def check_args(self, ctx, a, x: Tensor) -> None:
        want = MODE_RANK.get(a.mode)
        if want is not None and x.rank != want:
            raise ctx.fail(codes.RANK, f'{self.name}(mode="{a.mode}") takes a {want}-dim input {MODE_LAYOUT[want]}, '
                           f"received {ctx.show_tensor(x)}", ctx.input_story(), arg="mode",
                           help='linear takes [N, C, L], bilinear and bicubic [N, C, H, W], trilinear '
                           '[N, C, D, H, W]; "nearest" takes any of them')
        if (a.size is None) == (a.scale_factor is None):
            which = "both" if a.size is not None else "neither"
            raise ctx.fail(codes.ARGUMENT, f"{self.name} takes size or scale_factor, received {which}",
                           arg="scale_factor" if a.size is not None else None,
                           help="give the output size (size=...) or the factor (scale_factor=...)")
        if a.align_corners is not None and a.mode not in MODE_RANK:
            raise ctx.fail(codes.VALUE, f'{self.name}: align_corners is only for the interpolating modes (linear, '
                           f'bilinear, bicubic, trilinear), not "{a.mode}"', arg="align_corners",
                           help="drop align_corners")
        if a.recompute_scale_factor and a.size is not None:
            raise ctx.fail(codes.VALUE, f"{self.name}: recompute_scale_factor is not meaningful with an explicit size",
                           arg="recompute_scale_factor", help="drop recompute_scale_factor, or give scale_factor")
        if getattr(a, "antialias", False) and a.mode not in ("bilinear", "bicubic"):
            raise ctx.fail(codes.VALUE, f'{self.name}: antialias is only for the modes "bilinear" and "bicubic", '
                           f'not "{a.mode}"', arg="antialias")

    def check_layout(self, ctx, x: Tensor) -> None:
        """A `layout` error when a spatial dim holds the batch (named as one, or the samples
        merged into it): resampling it would blend or drop neighbouring samples."""
        ctx.refuse_batch_in(x, range(2, x.rank), "resizes {dim} as a spatial dim",
                            "it would blend or drop neighbouring samples")

    def out_sizes(self, ctx, a, x: Tensor) -> tuple:
        n = x.rank - 2
        which = "size" if a.size is not None else "scale_factor"
        try:
            given = normalize_tuple(getattr(a, which), n)
        except ValueError as e:
            raise ctx.fail(codes.ARGUMENT, f"{self.name}({which}=...): {e} for the {n} spatial dims of "
                           f"{ctx.show_tensor(x)}", arg=which) from None
        if which == "size":
            for v in given:
                if isinstance(ctx.dim(v), int) and ctx.dim(v) < 1:
                    raise ctx.fail(codes.VALUE, f"{self.name}: size must be positive, received {_show(v)}", arg="size")
            return given
        out = []
        for i, (size, scale) in enumerate(zip(x.shape[2:], given)):
            if not (scale > 0 and math.isfinite(scale)):
                raise ctx.fail(codes.VALUE, f"{self.name}: scale_factor must be a positive number, received {scale}",
                               arg="scale_factor")
            o = scaled_size(size, scale)
            if o is None:
                o = scaled_size(ctx.known(size), scale)
            if o is None:
                raise ctx.fail(codes.UNPROVEN, f"{self.name}: dim {i + 2} (`{ctx.show(size)}`) times {scale!r} has no "
                               "exact formula: torch floors the product in double precision", ctx.input_story(),
                               arg="scale_factor",
                               help="give the dim a concrete size, use size= for the output, or a scale p / 2**k "
                               "such as 2, 1.5 or 0.25")
            out.append(o)
        return tuple(out)

    def resample(self, ctx, a, x: Tensor) -> Tensor:
        self.check_args(ctx, a, x)
        self.check_layout(ctx, x)
        sizes = self.out_sizes(ctx, a, x)
        for i, o in enumerate(sizes):
            if ctx.requires_at_most(1, o) is False:  # the class tests it over parameters
                raise ctx.fail(codes.SIZE, f"{self.name} leaves no output: dim {i + 2} of {ctx.show_tensor(x)} becomes "
                               f"{ctx.show(o)}",
                               ctx.input_story(), arg="scale_factor",
                               help="use a larger scale_factor, or give the output size with size=")
        keep = {0: 0, 1: 1}
        if a.size is None:  # a factor of 1 keeps a dim's origin
            scales = normalize_tuple(a.scale_factor, x.rank - 2)
            keep.update({i + 2: i + 2 for i, s in enumerate(scales) if s == 1.0})
        return x.with_shape(x.shape[:2] + tuple(sizes), ctx.origin, keep=keep)


@register
class Upsample(_Resample, FloatLayer):
    """torch.nn.Upsample: [N, C, *spatial] resized to size=, or by scale_factor= (see the
    module's docstring for the size rule)."""
    contiguous_ranks = (3,)
    format_ranks = (4, 5)  # torch's suggest_memory_format (layout.suggested)

    name = "Upsample"
    torch_name = "Upsample"
    Args = UpsampleArgs
    shape_args = ("scale_factor",)
    fresh_result = True
    positional = ("size", "scale_factor", "mode", "align_corners", "recompute_scale_factor")
    ranks = (3, 4, 5)
    rank_help = "Upsample takes [N, C, L], [N, C, H, W] or [N, C, D, H, W]"
    examples: ClassVar[list[dict]] = [
        {"stage": "Upsample(scale_factor=2)", "input": "float32[2, 3, 4, 5]"},
        {"stage": 'Upsample(scale_factor=1.5, mode="linear", align_corners=true)', "input": "float32[2, 3, 7]"},
        {"stage": 'Upsample((5, 9), mode="bilinear")', "input": "float32[1, 2, 3, 4]"},
        {"stage": 'Upsample(scale_factor=(2, 0.5, 1.5), mode="trilinear", align_corners=false)',
         "input": "float64[1, 2, 3, 4, 5]"},
        {"stage": 'Upsample(size=7, mode="nearest-exact")', "input": "float32[2, 3, 4]"},
        {"stage": 'Upsample(scale_factor=0.29, mode="bicubic", recompute_scale_factor=true)',
         "input": "float32[1, 2, 17, 30]"},
        {"stage": "Upsample(scale_factor=0.1)", "input": "float32[1, 1, 19, 31, 40]"},
    ]

    def infer(self, ctx, a, inputs):
        (x,) = inputs
        self.check_dtype(ctx, x)
        return [self.resample(ctx, a, x)]

    def batch_axis(self, a, rank):
        return 0


@register
class Interpolate(_Resample, Op):
    """torch.nn.functional.interpolate: Upsample's rule as a function, and ``antialias``."""
    contiguous_ranks = (3,)
    format_ranks = (4, 5)  # torch's suggest_memory_format (layout.suggested)

    name = "interpolate"
    Args = InterpolateArgs
    shape_args = ("scale_factor",)
    fresh_result = True
    positional = ("size", "scale_factor", "mode", "align_corners", "recompute_scale_factor", "antialias")
    ranks = (3, 4, 5)
    rank_help = "interpolate takes [N, C, L], [N, C, H, W] or [N, C, D, H, W]"
    examples: ClassVar[list[dict]] = [
        {"stage": "interpolate(scale_factor=2)", "input": "float32[2, 3, 8]"},
        {"stage": 'interpolate(size=(6, 10), mode="bicubic", align_corners=true, antialias=true)',
         "input": "float32[1, 3, 12, 20]"},
        {"stage": 'interpolate(scale_factor=(0.5, 2.5), mode="bilinear", recompute_scale_factor=true)',
         "input": "float64[2, 1, 9, 5]"},
        {"stage": "interpolate(4)", "input": "float32[1, 2, 3, 5, 2]"},
        {"stage": 'interpolate(scale_factor=0.3333333333333333, mode="nearest-exact")', "input": "float32[1, 2, 10]"},
    ]

    def is_view(self):
        return False

    def infer(self, ctx, a, inputs):
        (x,) = inputs
        if x.dtype not in ("float32", "float64", "float16", "bfloat16"):
            raise ctx.fail(codes.DTYPE, f"interpolate needs a floating-point input, received {x.dtype}",
                           ctx.input_story(), help="convert the value to float")
        return [self.resample(ctx, a, x)]

    def call_args(self, a, inputs, code) -> tuple[str, ...]:
        given = [f"{n}={code(getattr(a, n))}" for n in self.Args.model_fields if n in a.model_fields_set]
        return (inputs[0], *given)

    def op_expr(self, a, inputs, code):
        return f"nn.functional.interpolate({', '.join(self.call_args(a, inputs, code))})"

    def forward(self, a, module, inputs, state, code, in_place=False):
        # a call, which a long line splits one argument a line
        return Forward(callee="nn.functional.interpolate", args=self.call_args(a, inputs, code))

    def batch_axis(self, a, rank):
        return 0


# -- PixelShuffle and PixelUnshuffle ----------------------------------------------------------


def divided(ctx, kind: str, x: Tensor, i: int, by: int, what: str) -> Dim:
    """Dim ``i`` of ``x`` divided by ``by``, which torch needs exact: a `shape` error when the
    size is known and does not divide, an `unproven` warning when it is symbolic."""
    size = x.shape[i]
    q = exact_div(size, by)
    if q is not None:
        return q
    v = ctx.known(size)
    if isinstance(v, int):
        if v % by:
            notes = [o for o in [ctx.origin_note(x, i)] if o] + ctx.input_story()
            raise ctx.fail(codes.SHAPE, f"{kind} needs {what} (dim {i}, {v}) divisible by {by}", notes,
                           help=f"give dim {i} a multiple of {by}")
        return v // by
    if ctx.assume_divides(size, by):
        ctx.warn(codes.UNPROVEN, f"{kind} needs {what} (dim {i}, `{ctx.show(size)}`) divisible by {by}, which "
                 "cannot be proven for every value of the symbols", ctx.input_story(),
                 help=f"give dim {i} a size that is a multiple of {by}")
    return floordiv(size, by)


class _Shuffle(Layer):
    """Moves pixels between the channels and the last two dims of [*, C, H, W]; any dtype."""

    fresh_result = True
    min_rank = 3
    factor: ClassVar[str]

    def factor_of(self, ctx, a) -> int:
        r = ctx.concrete(getattr(a, self.factor), self.factor, self.factor)
        if r < 1:
            raise ctx.fail(codes.VALUE, f"{self.name}: {self.factor} must be positive, received {r}", arg=self.factor)
        return r


class PixelShuffleArgs(Args):
    upscale_factor: SizeArg


@register
class PixelShuffle(_Shuffle):
    """[*, C * r**2, H, W] -> [*, C, H * r, W * r]."""
    contiguous_ranks = (3,)
    format_ranks = (4,)  # torch's suggest_memory_format (layout.suggested)
    refused_formats: ClassVar[dict[int, str]] = {5: "only contiguous or channels_last"}

    name = "PixelShuffle"
    torch_name = "PixelShuffle"
    Args = PixelShuffleArgs
    positional = ("upscale_factor",)
    torch_positional = ("upscale_factor",)
    factor = "upscale_factor"
    examples: ClassVar[list[dict]] = [{"stage": "PixelShuffle(2)", "input": "float32[2, 8, 3, 4]"},
                                      {"stage": "PixelShuffle(3)", "input": "float64[18, 2, 2]"},
                                      {"stage": "PixelShuffle(upscale_factor=1)", "input": "int64[1, 2, 3, 4, 5]"}]

    def infer(self, ctx, a, inputs):
        (x,) = inputs
        r = self.factor_of(ctx, a)
        c = divided(ctx, "PixelShuffle", x, x.rank - 3, r * r, "the channels")
        shape = x.shape[:-3] + (c, x.shape[-2] * r, x.shape[-1] * r)
        return [x.with_shape(shape, ctx.origin, keep={i: i for i in range(x.rank - 3)})]


class PixelUnshuffleArgs(Args):
    downscale_factor: SizeArg


@register
class PixelUnshuffle(_Shuffle):
    """[*, C, H * r, W * r] -> [*, C * r**2, H, W]."""
    contiguous_ranks = (3,)
    format_ranks = (4,)  # torch's suggest_memory_format (layout.suggested)
    refused_formats: ClassVar[dict[int, str]] = {5: "only contiguous or channels_last"}

    name = "PixelUnshuffle"
    torch_name = "PixelUnshuffle"
    Args = PixelUnshuffleArgs
    positional = ("downscale_factor",)
    torch_positional = ("downscale_factor",)
    factor = "downscale_factor"
    examples: ClassVar[list[dict]] = [{"stage": "PixelUnshuffle(2)", "input": "float32[2, 3, 4, 6]"},
                                      {"stage": "PixelUnshuffle(3)", "input": "bool[2, 9, 3]"},
                                      {"stage": "PixelUnshuffle(downscale_factor=2)", "input": "float32[1, 2, 1, 8, 2]"}]

    def infer(self, ctx, a, inputs):
        (x,) = inputs
        r = self.factor_of(ctx, a)
        h = divided(ctx, "PixelUnshuffle", x, x.rank - 2, r, "the height")
        w = divided(ctx, "PixelUnshuffle", x, x.rank - 1, r, "the width")
        shape = x.shape[:-3] + (x.shape[-3] * (r * r), h, w)
        return [x.with_shape(shape, ctx.origin, keep={i: i for i in range(x.rank - 3)})]
