"""Reading spec files and `--set` values, with usage errors kept apart from spec errors."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from netspec import ast as A
from netspec import codes
from netspec.checker import check_text, literal
from netspec.diagnostics import Reporter
from netspec.graph import CheckResult
from netspec.limits import MAX_BYTES
from netspec.parser import decode, parse


class UsageError(Exception):
    """A problem with how netspec was called (exit status 2), not with a spec."""


@dataclass
class Loaded:
    path: str
    text: str
    result: CheckResult

    @property
    def lines(self) -> list[str]:
        return A.source_lines(self.text)


def read_spec(path: str, reporter: Reporter) -> str | None:
    """The text of a spec; None (with a diagnostic) when its bytes are not UTF-8."""
    if not os.path.exists(path):
        raise UsageError(f"no such file: {path}")
    if os.path.isdir(path):
        raise UsageError(f"{path} is a directory, not a spec file")
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror or e}") from None
    return decode(data, path, reporter)


def load(path: str, overrides: dict[str, Any] | None = None) -> Loaded:
    """Parse and check one spec file."""
    reporter = Reporter()
    text = read_spec(path, reporter)
    if text is None:  # not UTF-8, or too large: show the lines with the bad bytes replaced
        shown = ""
        if not any(d.code == codes.LIMIT for d in reporter.items):
            with open(path, "rb") as f:
                shown = f.read().decode("utf-8", "replace")
        return Loaded(path, shown, CheckResult(None, [], reporter))
    return Loaded(path, text, check_text(text, path, overrides, reporter))


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
        value = literal(default, {}, reporter)
        if not reporter.errors and value is not None:
            return name, value
    limit = next((d for d in reporter.errors if d.code == codes.LIMIT), None)
    if limit is not None:  # the value nests too deeply or has too many digits
        raise UsageError(f"--set {name}: the value is too large: {limit.message}")
    shown = raw if len(raw) <= 60 else raw[:57] + "..."
    raise UsageError(f"--set {name}: {shown!r} is not a number, boolean, string or tuple")
