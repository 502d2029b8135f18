"""The `netspec` command line: check, build, diagram, export.

Every subcommand is here; each loads its spec files through one helper (:func:`load`:
`--set` values, the check, unknown parameter names refused) and prints diagnostics through
one (:func:`print_diagnostics`), then calls its backend's plain functions: netspec.report,
netspec.build, netspec.diagram, netspec.export. Exit status: 0 ok, 1 the spec has errors (or
a backend failed), 2 a usage error (netspec.errors.UsageError).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import NoReturn

from netspec.errors import UsageError
from netspec.limits import INT64_MAX


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # usage errors: one line, exit status 2
        from netspec.diagnostics import printable
        self.exit(2, f"netspec: error: {printable(message)}\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="netspec", description="Declarative layer graphs with static shape checking.")
    from netspec import __version__
    p.add_argument("--version", action="version", version=f"netspec {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _check_parser(sub)
    _build_parser(sub)
    _diagram_parser(sub)
    _export_parser(sub)
    return p


def _common(sp) -> None:
    sp.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="override a network parameter (repeatable)")


def _check_parser(sub) -> None:
    c = sub.add_parser("check", help="parse and check specs, print every shape")
    c.add_argument("files", nargs="+", metavar="FILE")
    c.add_argument("--json", action="store_true", help="print the machine-readable report")
    c.add_argument("--costs", action="store_true", help="add FLOPs and memory columns to the table")
    c.add_argument("--dim", action="append", default=[], metavar="NAME=INT",
                   help="give a symbolic dim a value in the report, e.g. --dim batch=32 (repeatable)")
    _common(c)
    c.set_defaults(run=cmd_check)


def _build_parser(sub) -> None:
    b = sub.add_parser("build", help="compile a spec to a PyTorch module")
    b.add_argument("file", metavar="FILE")
    b.add_argument("-o", "--output", required=True, metavar="OUT.py")
    b.add_argument("--force", action="store_true", help="overwrite a file netspec did not write")
    _common(b)
    b.set_defaults(run=cmd_build)


def _diagram_parser(sub) -> None:
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
    _common(d)
    d.set_defaults(run=cmd_diagram)


def _export_parser(sub) -> None:
    e = sub.add_parser("export", help="export a network with torch.export (and ONNX), dynamic in its symbols")
    e.add_argument("file", metavar="FILE")
    e.add_argument("-o", "--output", required=True, metavar="OUT.pt2")
    e.add_argument("--network", metavar="NAME", help="the network to export (default: the one not used as a stage)")
    e.add_argument("--onnx", metavar="OUT.onnx", help="also write ONNX (needs the onnx and onnxscript packages)")
    e.add_argument("--dim", action="append", default=[], metavar="NAME=INT",
                   help="the example size of a symbolic dim, e.g. --dim seq=30 (repeatable)")
    e.add_argument("--force", action="store_true", help="overwrite a file netspec did not write")
    _common(e)
    e.set_defaults(run=cmd_export)


# -- loading and reporting, for every command ------------------------------------------------------

def load(args, files: list[str]) -> list:
    """Check each spec file with the command's `--set` values; a name no network of the
    files has as a parameter is a usage error."""
    from netspec.api import check_file, unknown_overrides
    from netspec.source import parse_set

    overrides = dict(parse_set(item) for item in args.set)
    specs = [check_file(f, overrides) for f in files]
    for name in unknown_overrides(overrides, [s.result for s in specs]):
        raise UsageError(f"--set {name}: no network in the given files has a parameter `{name}`")
    return specs


def color_on(stream) -> bool:
    return (stream is not None and stream.isatty()  # None: the stream is closed
            and os.environ.get("NO_COLOR") is None and os.environ.get("TERM") != "dumb")


def print_diagnostics(spec, diagnostics, stream) -> None:
    from netspec.diagnostics import render

    color = color_on(stream)
    lines = spec.lines
    for d in diagnostics:
        print(render(d, lines, color=color), file=stream)
        print(file=stream)


def dim_values(items: list[str], specs: list) -> dict[str, int]:
    """`--dim NAME=INT` values for the symbolic dims of the checked networks (docs/costs.md)."""
    if not items:
        return {}
    from netspec.costs import dim_symbols, size_problems
    from netspec.diagnostics import suggest
    networks = [n for s in specs for n in s.result.networks]
    known = dim_symbols(networks)
    params = {p.name for s in specs if s.result.module for net in s.result.module.networks for p in net.params}
    parsed = all(s.result.module is not None for s in specs)
    env: dict[str, int] = {}
    for item in items:
        name, raw, value = _dim_value(item)
        if name not in known and parsed:
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


def _dim_value(item: str) -> tuple[str, str, int]:
    name, eq, raw = item.partition("=")
    name, raw = name.strip(), raw.strip()
    if not eq or not name.isidentifier():
        raise UsageError(f"--dim expects NAME=INT, got {item!r}")
    digits = raw.replace("_", "").lstrip("0")
    shown = raw if len(raw) <= 40 else raw[:37] + "..."
    if not (digits.isascii() and digits.isdigit()):
        raise UsageError(f"--dim {name}: {shown!r} is not a positive integer")
    if len(digits) > len(str(INT64_MAX)) or int(digits) > INT64_MAX:  # checked before int() reads 4,300 digits
        raise UsageError(f"--dim {name}: {shown!r} is past int64 (at most 2**63 - 1)")
    return name, raw, int(digits)


# -- the commands ----------------------------------------------------------------------------------

def cmd_check(args) -> int:
    specs = load(args, args.files)
    env = dim_values(args.dim, specs)
    ok = all(s.ok for s in specs)
    if args.json:
        from netspec.report import network_json
        out = {"ok": ok,
               "diagnostics": [d.to_json() for s in specs for d in s.result.reporter.items],
               "networks": [network_json(n, env) for s in specs for n in s.result.networks]}
        sys.stdout.write(json.dumps(out) + "\n")
        return 0 if ok else 1
    from netspec.report import network_table
    color = color_on(sys.stdout)
    for s in specs:
        for net in s.result.networks:
            print(network_table(net, color=color, costs=args.costs, env=env))
            print()
        print_diagnostics(s, s.result.reporter.items, sys.stdout)
    errors = sum(len(s.result.reporter.errors) for s in specs)
    warnings = sum(len(s.result.reporter.items) for s in specs) - errors
    files = _printable(", ".join(s.file for s in specs))
    if errors:
        print(f"{files}: {errors} error(s), {warnings} warning(s)")
    else:
        print(f"{files}: ok" + (f", {warnings} warning(s)" if warnings else ""))
    return 0 if ok else 1


def cmd_build(args) -> int:
    from netspec.build import BuildError, Generated, generate
    from netspec.fsutil import write_output

    if os.path.exists(args.output) and os.path.exists(args.file) and os.path.samefile(args.output, args.file):
        raise UsageError(f"{args.output} is the spec itself; write the module to another file")
    (spec,) = load(args, [args.file])
    diagnostics = list(spec.result.reporter.items)
    gen = None
    if spec.ok:
        try:
            gen = generate(spec.result, spec.file)
        except BuildError as e:
            gen = Generated("", {}, e.diagnostics)
        diagnostics += gen.diagnostics
    print_diagnostics(spec, diagnostics, sys.stderr)
    if gen is None or not gen.ok:
        errors = sum(d.severity == "error" for d in diagnostics)
        print(_printable(f"{spec.file}: {errors} error(s); nothing written"), file=sys.stderr)
        return 1
    write_output(args.output, gen.code, force=args.force)
    names = ", ".join(i.class_name for i in gen.classes.values())
    print(_printable(f"wrote {args.output}: {names}"))
    return 0


def cmd_diagram(args) -> int:
    """0 drawn, 1 drawn with errors in the spec (or no `dot`: the .dot written instead)."""
    try:
        import graphviz
    except ImportError:
        raise UsageError("netspec diagram needs the graphviz Python package: pip install 'netspec[diagram]'") from None
    from netspec import diagram

    out = Path(args.output)
    fmt = diagram.FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise UsageError(f"-o {args.output}: the suffix picks the format, one of " + ", ".join(diagram.FORMATS))
    if args.depth < 0:
        raise UsageError(f"--depth {args.depth}: give 0 or more")
    (spec,) = load(args, [args.file])
    nets = diagram.select(spec.result, args.file, args.network) if spec.result.module is not None else []
    print_diagnostics(spec, spec.result.reporter.items, sys.stderr)
    if spec.result.module is None:
        print(f"netspec: {_printable(spec.file)} does not parse; nothing drawn", file=sys.stderr)
        return 1
    g = diagram.build(nets, spec.result, args.rankdir, args.depth, args.unroll, os.path.basename(spec.file))
    status = 0 if spec.ok else 1
    try:
        data = diagram.mark(g.source.encode(), "dot") if fmt == "dot" else diagram.mark(diagram.render_dot(g.source, fmt), fmt)
    except graphviz.ExecutableNotFound:
        return _diagram_without_dot(args, out, g.source)
    except graphviz.CalledProcessError as e:
        lines = (e.stderr or b"").decode(errors="replace").strip().splitlines()
        print(_printable(f"netspec: dot failed: {lines[-1] if lines else e}"), file=sys.stderr)
        return 1
    except diagram.DotTimeout as e:
        print(f"netspec: {e}; nothing written (draw less: --network, --depth 0, or write .dot)", file=sys.stderr)
        return 1
    _write(out, data, args)
    return status


def _diagram_without_dot(args, out: Path, source: str) -> int:
    from netspec import diagram

    dot_path = out.with_suffix(".dot")
    _write(dot_path, diagram.mark(source.encode(), "dot"), args)
    print(_printable(f"netspec: Graphviz's `dot` is not installed, so {out} was not drawn; wrote {dot_path}: ")
          + diagram.INSTALL_HINT, file=sys.stderr)
    return 1


def _write(path, data: bytes, args) -> None:
    from netspec.fsutil import write_output

    write_output(path, data, args.force, source=args.file)


def cmd_export(args) -> int:
    from netspec import api, export

    _export_usage(args)
    (spec,) = load(args, [args.file])
    print_diagnostics(spec, spec.result.reporter.items, sys.stderr)
    if not spec.ok:
        print(_printable(f"{spec.file}: {len(spec.result.reporter.errors)} error(s); nothing written"), file=sys.stderr)
        return 1
    try:
        net = spec.network(args.network)
    except (KeyError, ValueError) as e:
        raise UsageError(str(e).strip("'\"")) from None
    sizes = export.example_sizes(net, dim_values(args.dim, [spec]))
    try:
        export.refuse_unallocatable(net, sizes)
    except export.ExportFailed as e:
        print(_printable(f"{spec.file}: cannot export {net.name}: {e}"), file=sys.stderr)
        return 1
    try:
        module = spec.module(net.name)
    except api.SpecError as e:
        print_diagnostics(spec, e.diagnostics, sys.stderr)
        print(_printable(f"{spec.file}: the module cannot be built; nothing written"), file=sys.stderr)
        return 1
    except TypeError as e:  # a network used as a stage needs its input sizes as arguments
        raise UsageError(f"{net.name} cannot be made on its own ({e}); export the network that uses it") from None
    except (MemoryError, RuntimeError) as e:  # the allocator: parameters past what the machine has
        print(_printable(f"{spec.file}: cannot export {net.name}: torch could not make the module: "
                         f"{export.first_paragraph(e)}", newlines=True), file=sys.stderr)
        return 1
    try:
        result = export.export_network(module, net, sizes)
    except export.ExportFailed as e:
        print(_printable(f"{spec.file}: torch.export could not export {net.name}: {e}", newlines=True), file=sys.stderr)
        return 1
    written = _export_files(args, net, result)
    if written is None:
        return 1
    print(_printable(export.summary(net, result, written), newlines=True))
    return 0


def _export_usage(args) -> None:
    """What export needs before anything is loaded: distinct outputs, torch (and onnx)."""
    import importlib.util

    for out in filter(None, [args.output, args.onnx]):
        if os.path.exists(out) and os.path.exists(args.file) and os.path.samefile(out, args.file):
            raise UsageError(f"{out} is the spec itself; write the export to another file")
    if args.onnx and args.output and os.path.abspath(args.onnx) == os.path.abspath(args.output):
        raise UsageError("-o and --onnx name the same file")
    missing = [m for m in (["torch"] + (["onnx", "onnxscript"] if args.onnx else []))
               if importlib.util.find_spec(m) is None]
    if missing:
        raise UsageError(f"netspec export{' --onnx' if args.onnx else ''} needs {', '.join(missing)}: "
                         f"pip install {' '.join(missing)}")


def _export_files(args, net, result) -> list[str] | None:
    """Write the .pt2 (and the ONNX file); the paths written, or None when ONNX failed."""
    from netspec import export

    export.write(args.output, export.pt2_bytes(result, args.file, net.name), args.force)
    if not args.onnx:
        return [args.output]
    try:
        data = export.onnx_bytes(result, net, args.file)
    except Exception as e:  # noqa: BLE001 - the ONNX exporter raises many kinds
        print(_printable(f"wrote {args.output}"), file=sys.stderr)
        print(_printable(f"{args.file}: torch.onnx.export could not export {net.name}: {export.first_paragraph(e)}"),
              file=sys.stderr)
        return None
    export.write(args.onnx, data, args.force)
    return [args.output, args.onnx]


def _printable(text: str, newlines: bool = False) -> str:
    """Text for the terminal: a control character from a spec or a path shown escaped."""
    from netspec.diagnostics import printable
    return printable(text, newlines)


# -- the process ----------------------------------------------------------------------------------

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

