"""Layer and op kinds, one class each, registered by name."""

from . import (  # noqa: F401  (registers every kind)
    activation,
    arith,
    attention,
    cast,
    conv,
    dense,
    dropout,
    index,
    join,
    linalg,
    norm,
    ops,
    pad,
    pool,
    recurrent,
    reduce,
    resample,
)
from .args import ValidationError
from .base import (
    REGISTRY,
    Args,
    Construct,
    Fail,
    Forward,
    Kind,
    Layer,
    Op,
    TensorArg,
    Weight,
    register,
    validation_messages,
)

__all__ = ["REGISTRY", "Args", "Construct", "Fail", "Forward", "Kind", "Layer", "Op", "TensorArg", "Weight", "register",
           "validation_messages", "ValidationError"]
