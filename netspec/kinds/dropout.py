"""Dropout, the channel dropouts, AlphaDropout and torchvision's StochasticDepth."""

from __future__ import annotations

from typing import ClassVar, Literal

from .. import codes, layout
from ..types import ITEMSIZE, UNKNOWN
from .args import ArgValueError, after
from .base import Args, BoolArg, FloatArg, FloatLayer, numel, register
from .memory import NOTHING, Saved


class DropoutArgs(Args):
    p: FloatArg = 0.5
    inplace: BoolArg = False

    @after
    def _range(self):
        if not 0.0 <= self.p <= 1.0:
            raise ArgValueError("p", f"dropout probability has to be between 0 and 1, but got {self.p}",
                                help="p is a probability: give a number from 0 to 1")


def kept_or_dense(kind, ctx, a, inputs) -> list:
    """A dropout's result: the input itself in eval mode, the input times a mask in training
    (layout.iterated): the input's strides where it is non-overlapping and dense (so both
    agree), else unstated (the costs follow the training step's, Kind.iterates)."""
    x = inputs[0]
    if kind.aliases_input(a, inputs) or layout.is_dense(x.shape, x.strides, ctx.decide):
        return [x.strides]
    return [UNKNOWN]


@register
class Dropout(FloatLayer):
    name = "Dropout"
    torch_name = "Dropout"
    Args = DropoutArgs
    positional = ("p", "inplace")
    examples: ClassVar[list[dict]] = [
        {"stage": "Dropout(0.5)", "input": "float32[3, 4]"},
        {"stage": "Dropout", "input": "float64[2, 2, 2]"},
        {"stage": "Dropout(0.2, true)", "input": "float32[2, 3]"},
    ]

    def infer(self, ctx, a, inputs):
        self.check_dtype(ctx, inputs[0])
        return [inputs[0]]

    iterates = True  # in training: the input times a mask (TensorIterator's layout)

    def aliases_input(self, a, inputs=None):
        return a.inplace or a.p == 0.0  # torch returns the input itself when p is 0

    def layout(self, ctx, a, inputs, outputs):
        return kept_or_dense(self, ctx, a, inputs)

    def writes_input(self, a):
        return a.inplace is True and a.p != 0.0

    def saved(self, a, inputs, outputs, grad):
        """The mask torch multiplies by (in the input's dtype): one element per element, or
        per channel (the feature dropouts); at p=1 a 0-dim zero; nothing at p=0."""
        x = inputs[0]
        if a.p == 0.0:
            return NOTHING
        count = 1 if a.p == 1.0 else self.mask_elements(x)
        return Saved(extra=count * ITEMSIZE[x.dtype])

    def mask_elements(self, x):
        return numel(x.shape)

    def constructor_args(self, a):
        pos, kw = [], {}
        if "p" in a.model_fields_set:
            pos.append(a.p)
        if "inplace" in a.model_fields_set:
            kw["inplace"] = a.inplace
        return pos, kw


class _FeatureDropout(Dropout):
    """Zeroes whole channels: [N, C, *spatial] or unbatched [C, *spatial], n spatial dims."""

    n: ClassVar[int]

    @property
    def ranks(self):
        return (self.n + 1, self.n + 2)

    @property
    def rank_help(self):
        spatial = ("L", "H, W", "D, H, W")[self.n - 1]
        return f"{self.name} takes [N, C, {spatial}] or [C, {spatial}]"

    def mask_elements(self, x):
        """One a channel of each sample: N * C, or C unbatched (Dropout2d reads a 3-dim
        input as [N, C, L])."""
        batched = x.rank == self.n + 2 or (self.n == 2 and x.rank == 3)
        return x.shape[0] * x.shape[1] if batched else x.shape[0]


@register
class Dropout1d(_FeatureDropout):
    name = "Dropout1d"
    torch_name = "Dropout1d"
    n = 1
    examples: ClassVar[list[dict]] = [{"stage": "Dropout1d(0.2)", "input": "float32[2, 3, 5]"},
                                      {"stage": "Dropout1d", "input": "float32[4, 6]"},
                                      {"stage": "Dropout1d(0.5, true)", "input": "float64[2, 2, 3]"}]


@register
class Dropout2d(_FeatureDropout):
    name = "Dropout2d"
    torch_name = "Dropout2d"
    n = 2
    examples: ClassVar[list[dict]] = [{"stage": "Dropout2d(0.3)", "input": "float32[2, 3, 4, 4]"},
                                      {"stage": "Dropout2d(p=0.1, inplace=true)", "input": "float32[1, 2, 3, 5]"},
                                      {"stage": "Dropout2d(0.0)", "input": "float32[3, 4, 4]"}]

    def infer(self, ctx, a, inputs):
        (x,) = inputs
        if x.rank == 3:
            # torch reads a 3-dim input as [N, C, L] and warns that this will change
            ctx.warn(codes.VALUE, "Dropout2d on a 3-dim input: torch drops channels of [N, C, L] (as Dropout1d), "
                     "not of an unbatched [C, H, W], and warns that this will change", ctx.input_story(),
                     help="use Dropout1d for [N, C, L]; for one image, add its batch dim with `unsqueeze(0)`")
        return super().infer(ctx, a, inputs)

    def batch_axis(self, a, rank):
        return 0  # torch reads a 3-dim input as [N, C, L] too


@register
class Dropout3d(_FeatureDropout):
    name = "Dropout3d"
    torch_name = "Dropout3d"
    n = 3
    examples: ClassVar[list[dict]] = [{"stage": "Dropout3d(0.3)", "input": "float32[2, 3, 2, 4, 4]"},
                                      {"stage": "Dropout3d(inplace=true)", "input": "float32[2, 3, 2, 2]"}]


@register
class AlphaDropout(Dropout):
    """Dropout that keeps a SELU network's mean and variance: any rank, as Dropout."""

    name = "AlphaDropout"
    torch_name = "AlphaDropout"
    examples: ClassVar[list[dict]] = [{"stage": "AlphaDropout(0.2)", "input": "float32[3, 4]"},
                                      {"stage": "AlphaDropout", "input": "float64[2, 2, 2]"},
                                      {"stage": "AlphaDropout(0.1, true)", "input": "float32[5]"}]

    def aliases_input(self, a, inputs=None):
        return a.p == 0.0  # torch's AlphaDropout takes `inplace` but never writes in place

    def writes_input(self, a):
        return False


# -- torchvision's StochasticDepth, which a built module defines itself -----------------------

STOCHASTIC_DEPTH = '''class StochasticDepth(nn.Module):
    """torchvision.ops.StochasticDepth: in training, zeroes each row of the input (mode
    "row") or all of it (mode "batch") with probability p and scales what it keeps by
    1 / (1 - p); the input itself in eval mode or when p is 0."""

    def __init__(self, p: float, mode: str) -> None:
        super().__init__()
        self.p = p
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and self.p != 0.0:
            survival = 1.0 - self.p
            size = (1,) * x.ndim
            if self.mode != "batch":
                size = (x.shape[0],) + size[1:]
            noise = x.new_empty(size).bernoulli_(survival)
            if survival != 0.0:
                noise = noise.div_(survival)
            return x * noise
        return x
'''


class StochasticDepthArgs(Args):
    p: FloatArg
    mode: Literal["batch", "row"]

    @after
    def _range(self):
        if not 0.0 <= self.p <= 1.0:
            raise ArgValueError("p", f"drop probability has to be between 0 and 1, but got {self.p}",
                                help="p is a probability: give a number from 0 to 1")


@register
class StochasticDepth(FloatLayer):
    """torchvision.ops.StochasticDepth(p, mode): drops whole samples (mode "row") or the whole
    batch (mode "batch") of a residual branch in training. The built module needs only
    torch, so it defines the class itself (``support_code``), as torchvision computes it."""

    name = "StochasticDepth"
    torch_name = "StochasticDepth"
    support_code = STOCHASTIC_DEPTH
    Args = StochasticDepthArgs
    positional = ("p", "mode")
    torch_positional = ("p", "mode")
    examples: ClassVar[list[dict]] = [{"stage": 'StochasticDepth(0.2, "row")', "input": "float32[4, 3, 5, 5]"},
                                      {"stage": 'StochasticDepth(0.5, mode="batch")', "input": "float64[2, 6]"},
                                      {"stage": 'StochasticDepth(0.0, "row")', "input": "float32[3]"},
                                      {"stage": 'StochasticDepth(p=0.1, mode="batch")', "input": "float32[]"}]

    def infer(self, ctx, a, inputs):
        (x,) = inputs
        self.check_dtype(ctx, x)
        if a.mode == "row" and x.rank == 0:
            raise ctx.fail(codes.RANK, 'StochasticDepth(mode="row") drops rows of dim 0, but its input is 0-dim',
                           ctx.input_story(), arg="mode", help='use mode="batch" for a 0-dim input')
        return [x]

    iterates = True  # in training: the input times a mask (TensorIterator's layout)

    def aliases_input(self, a, inputs=None):
        return a.p == 0.0  # torchvision returns the input itself when p is 0

    def layout(self, ctx, a, inputs, outputs):
        return kept_or_dense(self, ctx, a, inputs)

    def saved(self, a, inputs, outputs, grad):
        """The mask torch multiplies by: one element a row of dim 0 (mode "row"), or one."""
        x = inputs[0]
        if a.p == 0.0:
            return NOTHING
        return Saved(extra=(x.shape[0] if a.mode == "row" else 1) * ITEMSIZE[x.dtype])
