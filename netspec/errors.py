"""Errors of how netspec was called, kept apart from what is wrong in a spec.

A spec's problems are diagnostics (netspec.diagnostics, exit status 1). A problem with the
call itself (no such file, a bad option, an output netspec may not replace) is a
:class:`UsageError`, which the command line prints on one line with exit status 2.
"""


class UsageError(Exception):
    """A problem with how netspec was called (exit status 2), not with a spec."""
