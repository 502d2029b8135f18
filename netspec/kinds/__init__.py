"""Layer and op kinds, one class each, registered by name."""

from . import activation, attention, conv, dense, dropout, norm, ops, pad, pool, recurrent, resample  # noqa: F401
from .args import ValidationError
from .base import REGISTRY, Args, Construct, Fail, Forward, Kind, Layer, Op, TensorArg, register, validation_messages

__all__ = ["REGISTRY", "Args", "Construct", "Fail", "Forward", "Kind", "Layer", "Op", "TensorArg", "register",
           "validation_messages", "ValidationError"]
