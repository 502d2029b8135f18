"""Layer and op kinds, one class each, registered by name (the modules that define them are
imported on the first use of one of their names: see ``Registry`` in base.py and where.py)."""

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

# the modules that define kinds (where.py is made from them by scripts/make_kind_where.py)
KIND_MODULES = ("activation", "arith", "attention", "cast", "conv", "dense", "dropout", "index", "join", "linalg",
                "norm", "ops", "pad", "pool", "recurrent", "reduce", "resample")

__all__ = ["KIND_MODULES", "REGISTRY", "Args", "Construct", "Fail", "Forward", "Kind", "Layer", "Op", "TensorArg", "Weight", "register",
           "validation_messages", "ValidationError"]
