"""Reading spec files and parameter values: the front's side of the command line and the API.

A file is read once (so a pipe, a FIFO and ``-`` for standard input work as a file does),
its bytes checked against the size bound and decoded as UTF-8; a problem with the call
itself (no such file, a folder, a malformed `--set`, an override the language has no
literal for) is a UsageError, a problem with the spec a diagnostic.
"""

from __future__ import annotations

import math
import os
import sys
from typing import Any

from netspec import ast as A
from netspec import codes
from netspec.diagnostics import Reporter
from netspec.errors import UsageError
from netspec.limits import INT64_MAX, MAX_BYTES, MAX_DEPTH
from netspec.parser import decode, literal, parse

STDIN = "-"  # the file name that reads standard input
STDIN_NAME = "<stdin>"  # what diagnostics call it
_stdin: tuple[Any, bytes] | None = None  # (the stream, what it held): read once


def shown_name(path: str) -> str:
    """A spec's name in diagnostics."""
    return STDIN_NAME if path == STDIN else path


def _read_stdin() -> bytes:
    global _stdin
    stream = sys.stdin
    if _stdin is not None and _stdin[0] is stream:
        return _stdin[1]
    if stream is None:
        raise UsageError(f"cannot read {STDIN_NAME}: it is closed")
    try:
        data = stream.buffer.read(MAX_BYTES + 1) if hasattr(stream, "buffer") else stream.read().encode()
    except (OSError, ValueError) as e:
        raise UsageError(f"cannot read {STDIN_NAME}: {getattr(e, 'strerror', None) or e}") from None
    _stdin = (stream, data)
    return data


def read_bytes(path: str) -> bytes:
    """The bytes of a spec (up to one past the size limit), read once: a pipe, a FIFO and
    ``-`` (standard input) work as a file does."""
    if path == STDIN:
        return _read_stdin()
    if not path:
        raise UsageError("the spec file name is empty")
    if not os.path.exists(path):
        raise UsageError(f"no such file: {path}")
    if os.path.isdir(path):
        raise UsageError(f"{path} is a directory, not a spec file")
    try:
        with open(path, "rb") as f:
            return f.read(MAX_BYTES + 1)
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror or e}") from None


def read_spec(path: str, reporter: Reporter) -> tuple[str | None, str]:
    """(the text of a spec, or None with a diagnostic when its bytes are not UTF-8 or too
    many; what diagnostics show of it: the bytes decoded with any bad ones replaced), from
    one read."""
    data = read_bytes(path)
    text = decode(data, shown_name(path), reporter)
    if text is not None:
        return text, text
    return None, "" if len(data) > MAX_BYTES else data.decode("utf-8", "replace")


def parse_set(item: str) -> tuple[str, Any]:
    """`NAME=VALUE` with VALUE in the language's literal syntax (3, 0.5, true, "same", (3, 5))."""
    name, eq, raw = item.partition("=")
    name = name.strip()
    if not eq or not name.isidentifier():
        raise UsageError(f"--set expects NAME=VALUE, got {item!r}")
    raw = raw.strip()
    reporter = Reporter()
    module = parse(f"network _set(v = {raw}) {{}}", "--set", reporter)
    if module is not None and not reporter.errors and module.networks[0].params:
        default = module.networks[0].params[0].default
        value = literal(default, reporter)
        if not reporter.errors and value is not None:
            problem = _unwritable(value)
            if problem is not None:  # an integer past int64: no size, no count
                raise UsageError(f"--set {name}: {problem} (at most 2**63 - 1)")
            return name, value
    limit = next((d for d in reporter.errors if d.code == codes.LIMIT), None)
    if limit is not None:  # the value nests too deeply or has too many digits
        raise UsageError(f"--set {name}: the value is too large: {limit.message}")
    shown = raw if len(raw) <= 60 else raw[:57] + "..."
    raise UsageError(f"--set {name}: {shown!r} is not a number, boolean, string or tuple")


def _unwritable(value: Any) -> str | None:
    """Why ``value`` is no value the language can write (a number, boolean, string or
    tuple of them, as `--set` takes), or None when it is one."""
    stack = [(value, 0)]
    while stack:
        v, depth = stack.pop()
        if depth > MAX_DEPTH:
            return f"its tuples nest over {MAX_DEPTH} deep"
        if isinstance(v, tuple):
            stack.extend((x, depth + 1) for x in v)
            continue
        problem = _unwritable_scalar(v)
        if problem is not None:
            return problem
    return None


def _unwritable_scalar(v: Any) -> str | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return "it is past int64" if abs(v) > INT64_MAX else None
    if isinstance(v, float):
        return None if math.isfinite(v) else f"{v} has no literal"
    if isinstance(v, str):
        return 'a string with `"`, a backslash or a newline has no literal' if any(c in v for c in '"\\\n') else None
    if v is None:
        return "None is no value (leave the parameter out to keep its default)"
    return f"type `{type(v).__name__}` is not a number, boolean, string or tuple"


def check_overrides(overrides: Any, module: A.Module | None = None) -> None:
    """Raise :class:`UsageError` for an override (a parameter value given to the Python
    API) that the language cannot write, or, given the parsed ``module``, that names no
    parameter of its networks (what `--set` does on the command line)."""
    if overrides is None:
        return
    if not isinstance(overrides, dict):
        raise UsageError(f"overrides must be a dict of parameter values, not a {type(overrides).__name__}")
    for name, value in overrides.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise UsageError(f"override {name!r}: a parameter name is an identifier")
        problem = _unwritable(value)
        if problem is not None:
            raise UsageError(f"override `{name}`: {problem}")
    if module is None:
        return
    known = {p.name for net in module.networks for p in net.params}
    for name in overrides:
        if name not in known:
            raise UsageError(f"override `{name}`: no network in {module.file} has a parameter `{name}`")
