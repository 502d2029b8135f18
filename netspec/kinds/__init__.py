"""Layer and op kinds, one class each, registered by name."""

from . import arith, cast, conv, dense, index, join, linalg, norm, ops, recurrent, reduce  # noqa: F401  (registers every kind)
from .args import ValidationError
from .base import REGISTRY, Args, Construct, Fail, Forward, Kind, Layer, Op, TensorArg, register, validation_messages

__all__ = ["REGISTRY", "Args", "Construct", "Fail", "Forward", "Kind", "Layer", "Op", "TensorArg", "register",
           "validation_messages", "ValidationError"]
