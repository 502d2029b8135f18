"""The `netspec` command line: check, build, diagram."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, NoReturn

from netspec.process import UsageError  # light: `netspec` installs its handlers before the checker loads


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # usage errors: one line, exit status 2
        from netspec.diagnostics import printable
        self.exit(2, f"netspec: error: {printable(message)}\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="netspec", description="Declarative layer graphs with static shape checking.")
    from netspec import __version__
    p.add_argument("--version", action="version", version=f"netspec {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def common(sp):
        sp.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="override a network parameter (repeatable)")

    c = sub.add_parser("check", help="parse and check specs, print every shape")
    c.add_argument("files", nargs="+", metavar="FILE")
    c.add_argument("--json", action="store_true", help="print the machine-readable report")
    c.add_argument("--costs", action="store_true", help="add FLOPs and memory columns to the table")
    c.add_argument("--dim", action="append", default=[], metavar="NAME=INT",
                   help="give a symbolic dim a value in the report, e.g. --dim batch=32 (repeatable)")
    common(c)
    c.set_defaults(run=cmd_check)

    b = sub.add_parser("build", help="compile a spec to a PyTorch module")
    b.add_argument("file", metavar="FILE")
    b.add_argument("-o", "--output", required=True, metavar="OUT.py")
    b.add_argument("--force", action="store_true", help="overwrite a file netspec did not write")
    common(b)
    b.set_defaults(run=lambda a: _lazy("netspec.build", "cmd_build", a))

    d = sub.add_parser("diagram", help="draw a spec with Graphviz")
    d.add_argument("file", metavar="FILE")
    d.add_argument("-o", "--output", required=True, metavar="OUT")
    d.add_argument("--network", metavar="NAME")
    d.add_argument("--rankdir", choices=["TB", "LR"], default="TB")
    d.add_argument("--depth", type=int, default=0, metavar="N",
                   help="expand networks used as layers N levels deep (0: one node each)")
    d.add_argument("--unroll", action="store_true",
                   help="draw every repetition of `Stage * N` (default: once, with a ×N badge)")
    d.add_argument("--force", action="store_true", help="overwrite a file netspec did not write")
    common(d)
    d.set_defaults(run=lambda a: _lazy("netspec.diagram", "cmd_diagram", a))

    e = sub.add_parser("export", help="export a network with torch.export (and ONNX), dynamic in its symbols")
    e.add_argument("file", metavar="FILE")
    e.add_argument("-o", "--output", required=True, metavar="OUT.pt2")
    e.add_argument("--network", metavar="NAME", help="the network to export (default: the one not used as a stage)")
    e.add_argument("--onnx", metavar="OUT.onnx", help="also write ONNX (needs the onnx and onnxscript packages)")
    e.add_argument("--dim", action="append", default=[], metavar="NAME=INT",
                   help="the example size of a symbolic dim, e.g. --dim seq=30 (repeatable)")
    e.add_argument("--force", action="store_true", help="overwrite a file netspec did not write")
    common(e)
    e.set_defaults(run=lambda a: _lazy("netspec.export", "cmd_export", a))
    return p


def _lazy(module: str, func: str, args) -> int:
    import importlib
    return getattr(importlib.import_module(module), func)(args)


def overrides_of(args) -> dict[str, Any]:
    from netspec.source import parse_set
    return dict(parse_set(item) for item in args.set)


def check_overrides(overrides: dict[str, Any], loaded: list) -> None:
    known = {p.name for ld in loaded if ld.result.module
             for net in ld.result.module.networks for p in net.params}
    parsed = all(ld.result.module is not None for ld in loaded)
    for name in overrides:
        if parsed and name not in known:
            raise UsageError(f"--set {name}: no network in the given files has a parameter `{name}`")


def dim_values(items: list[str], loaded: list) -> dict[str, int]:
    """`--dim NAME=INT` values for the symbolic dims of the checked networks (docs/costs.md)."""
    if not items:
        return {}
    from netspec.costs import dim_symbols, size_problems
    from netspec.diagnostics import suggest
    networks = [n for ld in loaded for n in ld.result.networks]
    known = dim_symbols(networks)
    params = {p.name for ld in loaded if ld.result.module for net in ld.result.module.networks for p in net.params}
    env: dict[str, int] = {}
    for item in items:
        name, eq, raw = item.partition("=")
        name, raw = name.strip(), raw.strip()
        if not eq or not name.isidentifier():
            raise UsageError(f"--dim expects NAME=INT, got {item!r}")
        digits = raw.replace("_", "")
        value = int(digits) if digits.isascii() and digits.isdigit() else None
        if value is None or value < 1:
            raise UsageError(f"--dim {name}: {raw!r} is not a positive integer")
        if name not in known and all(ld.result.module is not None for ld in loaded):
            if name in params:
                raise UsageError(f"--dim {name}: `{name}` is a network parameter; give it with --set {name}={raw}")
            hint = suggest(name, sorted(known))
            raise UsageError(f"--dim {name}: no input of the checked networks has a symbolic dim `{name}`"
                             + (f" ({hint})" if hint else ""))
        env[name] = value
    for net in networks:
        problems = size_problems(net, env)
        if problems:
            raise UsageError(f"--dim: {problems[0]}")
    return env


def color_on(stream) -> bool:
    return (stream is not None and stream.isatty()  # None: the stream is closed
            and os.environ.get("NO_COLOR") is None and os.environ.get("TERM") != "dumb")


def print_diagnostics(loaded, stream, color: bool) -> None:
    from netspec.diagnostics import render
    lines = loaded.lines  # split once for every diagnostic
    for d in loaded.result.reporter.items:
        print(render(d, lines, color=color), file=stream)
        print(file=stream)


def cmd_check(args) -> int:
    from netspec.source import load
    overrides = overrides_of(args)
    loaded = [load(f, overrides) for f in args.files]
    check_overrides(overrides, loaded)
    env = dim_values(args.dim, loaded)
    ok = all(ld.result.ok for ld in loaded)
    if args.json:
        from netspec.report import network_json
        out = {"ok": ok,
               "diagnostics": [d.to_json() for ld in loaded for d in ld.result.reporter.items],
               "networks": [network_json(n, env) for ld in loaded for n in ld.result.networks]}
        sys.stdout.write(json.dumps(out) + "\n")
        return 0 if ok else 1
    from netspec.report import network_table
    color = color_on(sys.stdout)
    for ld in loaded:
        for net in ld.result.networks:
            print(network_table(net, color=color, costs=args.costs, env=env))
            print()
        print_diagnostics(ld, sys.stdout, color)
    errors = sum(len(ld.result.reporter.errors) for ld in loaded)
    warnings = sum(len(ld.result.reporter.items) for ld in loaded) - errors
    from netspec.diagnostics import printable
    files = printable(", ".join(ld.path for ld in loaded))
    if errors:
        print(f"{files}: {errors} error(s), {warnings} warning(s)")
    else:
        print(f"{files}: ok" + (f", {warnings} warning(s)" if warnings else ""))
    return 0 if ok else 1


def _tune_process() -> None:
    """Settings for the `netspec` process itself (not for a program calling main(argv))."""
    import gc

    # A command allocates many objects that live to its end and makes few reference cycles:
    # the cyclic collector's passes cost a quarter of a large check and free next to nothing
    # in a process that exits when the command is done.
    gc.disable()


def console() -> NoReturn:
    """The `netspec` command (its console script and `python -m netspec`): main() on the
    command line's arguments, under netspec.process's handling of signals and of output
    that cannot be written, then the process ends."""
    from netspec import process
    process.run(main)


def main(argv: list[str] | None = None) -> int:
    """Run one command (``argv``, else the command line's) and return its exit status."""
    if argv is None:
        _tune_process()
    args = _parser().parse_args(argv)
    try:
        from netspec.fsutil import check_target
        check_target(getattr(args, "output", None), "-o")
        check_target(getattr(args, "onnx", None), "--onnx")
        return args.run(args)
    except UsageError as e:
        from netspec.diagnostics import printable
        print(f"netspec: error: {printable(str(e))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
