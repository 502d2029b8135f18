"""Every bound netspec puts on what it reads and computes, in one place.

A spec is text from anywhere: CI runs `netspec check` on files other people wrote. Past
each bound the checker stops with a `limit` error at the span that passed it, quickly,
instead of running out of time or memory (README, "Robustness").
"""

MAX_BYTES = 16 * 1024 * 1024  # a spec file
MAX_DEPTH = 100  # nesting of parentheses, chains and expressions
MAX_DIGITS = 100  # a number literal; sizes stop at int64 (19 digits) long before this
MAX_LAYERS = 200_000  # layer and op instances in a file, repeats and network uses expanded
MAX_REPEAT = 10_000  # the count of `Stage * N`
MAX_USE_DEPTH = 100  # networks used inside networks used inside ...
MAX_SYMBOLS = 1_000  # distinct symbolic dims in the input shapes of one network
MAX_USES = 10_000  # uses of networks in a file, uses inside uses and repetitions expanded
INT64_MAX = 2**63 - 1  # the largest size a tensor dim can have
MAX_MAGNITUDE = 10**MAX_DIGITS  # arithmetic in a spec stops here, far past any size
# A symbolic size (a polynomial over the symbols, with floor divisions) is bounded in
# its terms (those inside floor divisions counted), its degree and its coefficients
# (MAX_MAGNITUDE): a size of a real network has a handful of terms and a degree of a few
# (a flattened image is c * h * w); past these an expression only grows by doubling
# (a self-concatenation, a squaring), so the bounds refuse it within a few more stages.
MAX_TERMS = 1_000
MAX_DEGREE = 64
MAX_DRAWN_NODES = 500  # nodes of a diagram (ResNet-18 drawn in full has 71); the rest is left out
MAX_DRAWN_EDGES = 1_000  # edges of a diagram; the rest is left out
DOT_TIMEOUT = 60  # seconds Graphviz's `dot` gets to lay a diagram out
SIZE_HELP = (f"netspec bounds symbolic sizes (at most {MAX_TERMS:,} terms, degree {MAX_DEGREE}, "
             f"coefficients of {MAX_DIGITS} digits); give some symbols or parameters values, "
             "or check what keeps doubling a size")
