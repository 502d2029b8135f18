"""Reading spec files and `--set` values: the front's side of the command line and the API.

A file is read once (so a pipe or a FIFO works like a file), its bytes checked against the
size bound and decoded as UTF-8; a problem with the call itself (no such file, a folder, a
malformed `--set`) is a UsageError, a problem with the spec a diagnostic.
"""

from __future__ import annotations

import os
from typing import Any

from netspec import codes
from netspec.diagnostics import Reporter
from netspec.errors import UsageError
from netspec.limits import MAX_BYTES
from netspec.parser import decode, literal, parse


def read_spec(path: str, reporter: Reporter) -> tuple[str | None, str]:
    """(the text of a spec, or None with a diagnostic when its bytes are not UTF-8 or too
    many; the text to show beside diagnostics: the bytes decoded with any bad ones replaced)."""
    if not os.path.exists(path):
        raise UsageError(f"no such file: {path}")
    if os.path.isdir(path):
        raise UsageError(f"{path} is a directory, not a spec file")
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror or e}") from None
    text = decode(data, path, reporter)
    if text is not None:
        return text, text
    too_large = len(data) > MAX_BYTES
    return None, "" if too_large else data.decode("utf-8", "replace")


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
            return name, value
    limit = next((d for d in reporter.errors if d.code == codes.LIMIT), None)
    if limit is not None:  # the value nests too deeply or has too many digits
        raise UsageError(f"--set {name}: the value is too large: {limit.message}")
    shown = raw if len(raw) <= 60 else raw[:57] + "..."
    raise UsageError(f"--set {name}: {shown!r} is not a number, boolean, string or tuple")
