"""netspec: a declarative layer-graph language and static shape checker for PyTorch.

``netspec check`` never imports torch; the torch-facing parts (``netspec.api.module``)
import it only when called.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
