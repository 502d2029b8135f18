"""The `netspec` command line: check, build, diagram, export, fmt, lsp, import.

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
from typing import TYPE_CHECKING, NoReturn

from netspec.errors import UsageError
from netspec.extras import install_line
from netspec.limits import INT64_MAX

if TYPE_CHECKING:
    from pathlib import Path


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # usage errors: one line, exit status 2
        from netspec.diagnostics import printable
        self.exit(2, f"netspec: error: {printable(message)}\n")


class _Help(argparse.RawDescriptionHelpFormatter):
    """Descriptions and epilogs keep their lines; option help is wrapped."""


EXIT_STATUS = """exit status:
  0  every spec checks (warnings allowed)
  1  a spec has errors{more}
  2  a usage error: no such file, a bad option or value
  130, 143  interrupted (SIGINT, SIGTERM)"""

MORE_HELP = """Run `netspec COMMAND --help` for a command's options. The language, the commands and
every diagnostic are described in README.md and docs/ (docs/language.md)."""


def _parser() -> argparse.ArgumentParser:
    """The command line. A command is a function in :data:`COMMANDS` that adds its parser
    with :func:`_command` (its one-line summary is listed by `netspec --help`) and sets
    ``run`` to the function that carries it out."""
    p = _Parser(prog="netspec", formatter_class=_Help, usage="netspec [--version] COMMAND ...",
                description="Declarative layer graphs for PyTorch: a static shape checker that never "
                            "imports torch,\nand modules, diagrams and exports built from the checked spec.")
    from netspec import __version__
    p.add_argument("--version", action="version", version=f"netspec {__version__}")
    sub = p.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND", help=argparse.SUPPRESS)
    for add in COMMANDS:
        add(sub)
    listed = [(a.dest, a.help) for a in sub._choices_actions]
    width = max(len(name) for name, _ in listed) + 2
    p.epilog = "commands:\n" + "\n".join(f"  {name:<{width}}{summary}" for name, summary in listed)
    p.epilog += "\n\n" + MORE_HELP
    return p


def _command(sub, name: str, summary: str, description: str, epilog: str):
    return sub.add_parser(name, prog=f"netspec {name}", help=summary, description=description, epilog=epilog,
                          formatter_class=_Help)


def _common(sp, quiet: str) -> None:
    sp.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="give a network parameter another value, in the language's syntax: 3, 0.5, true, "
                         '"same", (3, 5) (repeatable)')
    sp.add_argument("-q", "--quiet", action="store_true", help=quiet)


def _output(sp, metavar: str, what: str) -> None:
    sp.add_argument("-o", "--output", required=True, metavar=metavar, help=what)
    sp.add_argument("--force", action="store_true",
                    help="replace the output file even if netspec did not write it")


def _check_parser(sub) -> None:
    from netspec.report import COLUMNS, DEFAULT_COLUMNS

    c = _command(sub, "check", "check specs and print every layer's shape and parameter count",
                 "Parse and check spec files: every tensor's dtype and shape (with symbolic dims such as\n"
                 "batch), every layer's parameters, and every mistake as a diagnostic at its source line.\n"
                 "Needs nothing beyond netspec itself: torch is never imported.",
                 EXIT_STATUS.format(more="") + "\n\ncolumns (--columns, in the order given):\n"
                 + "\n".join(f"  {k:<12} {col.help}" for k, col in COLUMNS.items()))
    c.add_argument("files", nargs="+", metavar="FILE", help="spec files to check (- reads standard input)")
    c.add_argument("--json", action="store_true",
                   help="print one JSON object instead of tables (its schema: netspec/schema/check.schema.json)")
    c.add_argument("--columns", metavar="LIST", type=_column_list,
                   help=f"the table's columns, comma-separated (default: {','.join(DEFAULT_COLUMNS)}; see below)")
    c.add_argument("--costs", action="store_true",
                   help="add the FLOPs, parameter bytes and activation bytes columns (docs/costs.md)")
    c.add_argument("--depth", type=int, default=0, metavar="N",
                   help="expand networks used as stages N levels deep, a row per layer (0: one row each)")
    c.add_argument("--weights", action="store_true",
                   help="list every tensor of the built module's state_dict: name, shape, parameters")
    c.add_argument("--dim", action="append", default=[], metavar="NAME=INT",
                   help="give a symbolic dim a value in what is printed, e.g. --dim batch=32 (repeatable)")
    c.add_argument("--optimizer", choices=["sgd", "momentum", "adam"], default="adam",
                   help="with --costs: the optimizer whose state the training memory counts (default: adam)")
    _common(c, "print no tables: only diagnostics and the summary line")
    c.set_defaults(run=cmd_check)


def _column_list(text: str) -> tuple[str, ...]:
    from netspec.diagnostics import suggest
    from netspec.report import COLUMNS

    names = tuple(n.strip() for n in text.split(",") if n.strip())
    for n in names:
        if n not in COLUMNS:
            hint = suggest(n, sorted(COLUMNS))
            raise argparse.ArgumentTypeError(f"no column `{n}`" + (f" ({hint})" if hint else "")
                                             + "; the columns: " + ", ".join(COLUMNS))
    if not names:
        raise argparse.ArgumentTypeError("name at least one column")
    return names


def _build_parser(sub) -> None:
    b = _command(sub, "build", "write a spec's PyTorch module (a .py file that needs only torch)",
                 "Compile a spec to a Python module: one nn.Module class per network, with the spec's\n"
                 "names (docs/build.md). Writing it needs nothing beyond netspec; running it needs torch:\n"
                 "pip install 'netspec[torch]'.",
                 EXIT_STATUS.format(more=" (nothing is written)").replace("every spec checks", "written"))
    b.add_argument("file", metavar="FILE", help="the spec file")
    _output(b, "OUT.py", "the Python file to write")
    _common(b, "print nothing but diagnostics")
    b.set_defaults(run=cmd_build)


def _diagram_parser(sub) -> None:
    d = _command(sub, "diagram", "draw a spec's networks with Graphviz (.svg, .png, .pdf, .dot)",
                 "Draw a spec's networks (docs/diagrams.md). Needs the graphviz package:\n"
                 "pip install 'netspec[diagram]', and Graphviz's `dot` program for .svg, .png and .pdf.",
                 EXIT_STATUS.format(more=" (still drawn), or `dot` is missing (the .dot is written)")
                 .replace("every spec checks", "drawn"))
    d.add_argument("file", metavar="FILE", help="the spec file")
    _output(d, "OUT", "the file to write; its suffix picks the format: .svg, .png, .pdf or .dot")
    d.add_argument("--network", metavar="NAME",
                   help="draw this network (default: every network no other network uses)")
    d.add_argument("--rankdir", choices=["TB", "LR"], default="TB",
                   help="lay the graph out top to bottom (TB, the default) or left to right (LR)")
    d.add_argument("--depth", type=int, default=0, metavar="N",
                   help="expand networks used as layers N levels deep (0: one node each)")
    d.add_argument("--unroll", action="store_true",
                   help="draw every repetition of `Stage * N` (default: once, with a ×N badge)")
    _common(d, "print nothing but diagnostics")
    d.set_defaults(run=cmd_diagram)


def _export_parser(sub) -> None:
    e = _command(sub, "export", "write a torch.export program (and ONNX), dynamic in the spec's symbols",
                 "Export a network's built module with torch.export (docs/export.md). Needs torch:\n"
                 "pip install 'netspec[torch]'; --onnx needs pip install 'netspec[onnx]'.",
                 EXIT_STATUS.format(more=", or torch could not export it (nothing is written)")
                 .replace("every spec checks", "written"))
    e.add_argument("file", metavar="FILE", help="the spec file")
    _output(e, "OUT.pt2", "the torch.export program to write (.pt2)")
    e.add_argument("--network", metavar="NAME", help="the network to export (default: the one not used as a stage)")
    e.add_argument("--onnx", metavar="OUT.onnx", help="also write ONNX (needs the [onnx] extra)")
    e.add_argument("--dim", action="append", default=[], metavar="NAME=INT",
                   help="the example size of a symbolic dim, e.g. --dim seq=30 (repeatable)")
    _common(e, "print nothing but diagnostics")
    e.set_defaults(run=cmd_export)


def _explain_parser(sub) -> None:
    x = _command(sub, "explain", "show how every result dim of a layer was derived, step by step",
                 "For one layer (FILE:LINE) or every layer: each result dim's formula with its numbers,\n"
                 "which input dim the layer read as batch, time or channels and why, and its weight\n"
                 "shapes (docs/explain.md). Needs nothing beyond netspec itself.",
                 EXIT_STATUS.format(more=" (they are printed after what could be explained)")
                 .replace("a usage error:", "a usage error (a line with no layer):"))
    x.add_argument("target", metavar="FILE[:LINE]", help="a spec file, and the line of the layers to explain "
                   "(default: every layer)")
    _common(x, "print only the diagnostics")
    x.set_defaults(run=cmd_explain)


def cmd_explain(args) -> int:
    """`netspec explain FILE[:LINE]` (netspec/explain.py); never imports torch."""
    from netspec.explain import explain_file, layer_lines

    file, line = args.target, None
    head, _, tail = args.target.rpartition(":")
    if head and tail.isdigit() and not os.path.exists(args.target):
        file, line = head, int(tail)
    (spec,) = load(args, [file])
    lines = explain_file(spec.result.networks, line)
    if lines is None:
        shown = ", ".join(str(n) for n in layer_lines(spec.result.networks)) or "none"
        raise UsageError(f"{_printable(file)}:{line}: no layer on that line (layers are on lines {shown})")
    for text in lines:
        print(_printable(text))
    print_diagnostics(spec, spec.result.reporter.items, sys.stdout)
    return 0 if spec.ok else 1


def _import_parser(sub) -> None:
    i = _command(sub, "import", "write a spec for an existing PyTorch module",
                 "Trace a module with torch.fx (torch.export where fx cannot) and write the spec a person\n"
                 "would write: blocks used more than once as networks, names that load the module's\n"
                 "state_dict (docs/import.md).\n"
                 "Needs torch: pip install 'netspec[torch]'.",
                 EXIT_STATUS.format(more=": the module cannot be expressed (a clear error names what and where)")
                 .replace("every spec checks (warnings allowed)", "the spec was written and checks")
                 .replace("a spec has errors", "not imported"))
    i.add_argument("target", metavar="MODULE:CALLABLE", help="e.g. torchvision.models:resnet18")
    i.add_argument("-i", "--input", action="append", default=[], required=True, metavar='"NAME: TYPE"',
                   help='an input in the spec\'s syntax, e.g. -i "x: float[batch, 3, 224, 224]" (repeatable)')
    i.add_argument("-o", "--output", metavar="OUT.net", help="write the spec here (default: stdout)")
    i.add_argument("--name", help="the network's name (default: the module's class name)")
    i.add_argument("--arg", action="append", default=[], metavar="KEY=VALUE",
                   help="a keyword argument of the callable (repeatable)")
    i.add_argument("--partial", action="store_true",
                   help="write what can be imported, with the rest marked UNSUPPORTED(...)")
    i.add_argument("--force", action="store_true", help="overwrite a file netspec did not write")
    i.set_defaults(run=cmd_import)


def cmd_import(args) -> int:
    from netspec.importer.command import run

    return run(args)


def _fmt_parser(sub) -> None:
    f = _command(sub, "fmt", "rewrite specs in the canonical layout",
                 "Lay spec files out one way: a long chain one stage a line, shape assertions aligned,\n"
                 "canonical spacing; every comment kept where it was (docs/tools.md). A file is\n"
                 "rewritten in place, atomically; one with a syntax error is left alone.",
                 EXIT_STATUS.format(more=", or with --check/--diff: a file would change")
                 .replace("every spec checks (warnings allowed)", "every file is (now) formatted"))
    f.add_argument("files", nargs="+", metavar="FILE", help="spec files; - reads standard input, writes standard output")
    f.add_argument("--check", action="store_true", help="write nothing; exit 1 listing the files that would change")
    f.add_argument("--diff", action="store_true", help="write nothing; print a unified diff, exit 1 if any")
    _common(f, "print nothing but diagnostics")
    f.set_defaults(run=cmd_fmt)


def cmd_fmt(args) -> int:
    from netspec.fmt import run
    return run(args.files, args.check, args.diff)


def _lsp_parser(sub) -> None:
    s = _command(sub, "lsp", "run the language server on standard input and output",
                 "Speak the Language Server Protocol on stdin/stdout: check's diagnostics as you type,\n"
                 "hover with shapes, completion, go to definition, outline (docs/editors.md).\n"
                 "Needs pygls: pip install 'netspec[lsp]'.",
                 EXIT_STATUS.format(more=" (never: the server reports a spec's errors to the client)")
                 .replace("every spec checks (warnings allowed)", "the connection ended"))
    _common(s, "accepted for symmetry with the other commands; the server prints only protocol messages")
    s.set_defaults(run=cmd_lsp)


# The commands, in the order `netspec --help` lists them: each adds its parser (and its `run`).
COMMANDS = (_check_parser, _build_parser, _diagram_parser, _export_parser, _fmt_parser, _lsp_parser,
            _import_parser, _explain_parser)


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
               "networks": [network_json(n, env, args.weights, args.optimizer) for s in specs for n in s.result.networks]}
        sys.stdout.write(json.dumps(out) + "\n")
        return 0 if ok else 1
    if args.depth < 0:
        raise UsageError(f"--depth {args.depth}: give 0 or more")
    for s in specs:
        if not args.quiet:
            _print_tables(s, args, env)
        print_diagnostics(s, s.result.reporter.items, sys.stdout)
        if len(specs) > 1 and not (args.quiet and not s.result.reporter.items):
            print(_printable(f"{s.file}: {_counts(s)}"))
    if len(specs) == 1:
        print(_printable(f"{specs[0].file}: {_counts(specs[0])}"))
    else:
        failed = sum(not s.ok for s in specs)
        print(f"{len(specs)} files: {len(specs) - failed} ok" + (f", {failed} with errors" if failed else ""))
    return 0 if ok else 1


def _print_tables(spec, args, env) -> None:
    from netspec.report import network_table, weights_table

    color = color_on(sys.stdout)
    for net in spec.result.networks:
        print(network_table(net, color=color, costs=args.costs, env=env, columns=args.columns, depth=args.depth,
                                optimizer=args.optimizer))
        print()
        if args.weights:
            print(weights_table(net, env, color=color))
            print()


def _counts(spec) -> str:
    """`ok`, `ok, 1 warning`, `2 errors, 1 warning`: what one file's check found."""
    errors = len(spec.result.reporter.errors)
    warnings = len(spec.result.reporter.items) - errors
    shown = [_plural(errors, "error")] if errors else ["ok"]
    return ", ".join(shown + ([_plural(warnings, "warning")] if warnings else []))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


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
        print(_printable(f"{spec.file}: {_plural(errors, 'error')}; nothing written"), file=sys.stderr)
        return 1
    write_output(args.output, gen.code, force=args.force)
    names = ", ".join(i.class_name for i in gen.classes.values())
    if not args.quiet:
        print(_printable(f"wrote {args.output}: {names}"))
    return 0


def cmd_diagram(args) -> int:
    """0 drawn, 1 drawn with errors in the spec (or no `dot`: the .dot written instead)."""
    try:
        import graphviz
    except ImportError:
        raise UsageError(f"netspec diagram needs the graphviz Python package: {install_line('diagram')}") from None
    from pathlib import Path  # here, not at the top: its import costs every check's start-up time

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
    if not args.quiet:
        drawn = ", ".join(n.name for n in nets) or "nothing"
        print(_printable(f"wrote {out}: {drawn}"))
    return status


def _diagram_without_dot(args, out: Path, source: str) -> int:
    from netspec import diagram

    dot_path = out.with_suffix(".dot")
    _write(dot_path, diagram.mark(source.encode(), "dot"), args)
    print(_printable(f"netspec: Graphviz's `dot` is not installed, so {out} was not drawn; wrote {dot_path}: ")
          + diagram.INSTALL_HINT, file=sys.stderr)
    return 1


def cmd_lsp(args) -> int:
    """The language server (netspec.lsp), until its client asks it to exit."""
    import gc

    from netspec.source import parse_set

    overrides = dict(parse_set(item) for item in args.set)
    try:
        from netspec import lsp
    except ImportError as e:
        from netspec.extras import install_line
        raise UsageError(f"the language server needs pygls ({e}): {install_line('lsp')}") from None
    gc.enable()  # a long-lived process: the cyclic collector earns its keep
    return lsp.main(overrides)


def _write(path, data: bytes, args) -> None:
    from netspec.fsutil import write_output

    write_output(path, data, args.force, source=args.file)


def cmd_export(args) -> int:
    from netspec import api, export

    _export_usage(args)
    (spec,) = load(args, [args.file])
    print_diagnostics(spec, spec.result.reporter.items, sys.stderr)
    if not spec.ok:
        errors = _plural(len(spec.result.reporter.errors), "error")
        print(_printable(f"{spec.file}: {errors}; nothing written"), file=sys.stderr)
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
    if not args.quiet:
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
        extra = "onnx" if args.onnx else "torch"
        raise UsageError(f"netspec export{' --onnx' if args.onnx else ''} needs {', '.join(missing)}: "
                         f"{install_line(extra)}")


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
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:  # bare `netspec`: what there is to run
        parser.print_help()
        return 0
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

