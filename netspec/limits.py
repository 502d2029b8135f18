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
INT64_MAX = 2**63 - 1  # the largest size a tensor dim can have
MAX_MAGNITUDE = 10**MAX_DIGITS  # arithmetic in a spec stops here, far past any size
