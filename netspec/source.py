"""Reading spec files and `--set` values, with usage errors kept apart from spec errors."""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from netspec import syntax as A
from netspec.diagnostics import Reporter
from netspec.infer import CheckResult, check_text, literal
from netspec.process import UsageError  # defined where the command can import it early


@dataclass
class Loaded:
    path: str  # as diagnostics name it: the path given, or STDIN_NAME
    text: str  # what diagnostics show: the spec, with bytes that are not UTF-8 replaced
    result: CheckResult

    @cached_property
    def lines(self) -> list[str]:
        """The lines diagnostics show, split once for all of them."""
        return A.source_lines(self.text)


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
        data = stream.buffer.read(A.MAX_BYTES + 1) if hasattr(stream, "buffer") else stream.read().encode()
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
            return f.read(A.MAX_BYTES + 1)
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror or e}") from None


def read_source(path: str, reporter: Reporter) -> tuple[str | None, str]:
    """(the text of a spec, or None with a diagnostic when its bytes are not UTF-8 or too
    many; what diagnostics show of it), from one read."""
    data = read_bytes(path)
    text = A.decode(data, shown_name(path), reporter)
    if text is not None:
        return text, text
    if any(d.code == "limit" for d in reporter.items):
        return None, ""
    return None, data.decode("utf-8", "replace")  # the lines, with the bad bytes replaced


def read_spec(path: str, reporter: Reporter) -> str | None:
    """The text of a spec; None (with a diagnostic) when its bytes are not UTF-8."""
    return read_source(path, reporter)[0]


def load(path: str, overrides: dict[str, Any] | None = None) -> Loaded:
    """Parse and check one spec file (``-``: standard input), read once."""
    reporter = Reporter()
    name = shown_name(path)
    text, shown = read_source(path, reporter)
    if text is None:
        return Loaded(name, shown, CheckResult(None, [], reporter))
    return Loaded(name, text, check_text(text, name, overrides, reporter))


def parse_set(item: str) -> tuple[str, Any]:
    """`NAME=VALUE` with VALUE in the language's literal syntax (3, 0.5, true, "same", (3, 5))."""
    name, eq, raw = item.partition("=")
    name = name.strip()
    if not eq or not name.isidentifier():
        raise UsageError(f"--set expects NAME=VALUE, got {item!r}")
    raw = raw.strip()
    reporter = Reporter()
    module = A.parse(f"network _set(v = {raw}) {{}}", "--set", reporter)
    if module is not None and not reporter.errors and module.networks[0].params:
        default = module.networks[0].params[0].default
        value = literal(default, {}, reporter)
        if not reporter.errors and value is not None:
            return name, value
    limit = next((d for d in reporter.errors if d.code == "limit"), None)
    if limit is not None:  # the value nests too deeply or has too many digits
        raise UsageError(f"--set {name}: the value is too large: {limit.message}")
    shown = raw if len(raw) <= 60 else raw[:57] + "..."
    raise UsageError(f"--set {name}: {shown!r} is not a number, boolean, string or tuple")


INT64 = 2**63 - 1


def _unwritable(value: Any) -> str | None:
    """Why ``value`` is no value the language can write (a number, boolean, string or
    tuple of them, as `--set` takes), or None when it is one."""
    stack = [(value, 0)]
    while stack:
        v, depth = stack.pop()
        if depth > A.MAX_DEPTH:
            return f"its tuples nest over {A.MAX_DEPTH} deep"
        if isinstance(v, tuple):
            stack.extend((x, depth + 1) for x in v)
        elif isinstance(v, bool):
            continue
        elif isinstance(v, int):
            if abs(v) > INT64:
                return "it is past int64"
        elif isinstance(v, float):
            if not math.isfinite(v):
                return f"{v} has no literal"
        elif isinstance(v, str):
            if any(c in v for c in '"\\\n'):
                return 'a string with `"`, a backslash or a newline has no literal'
        elif v is None:
            return "None is no value (leave the parameter out to keep its default)"
        else:
            return f"type `{type(v).__name__}` is not a number, boolean, string or tuple"
    return None


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
