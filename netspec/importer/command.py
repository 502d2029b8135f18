"""`netspec import MODULE:CALLABLE -i "x: float[batch, 3, 224, 224]" [-o OUT.net]`."""

from __future__ import annotations

import ast
import importlib
import os
import sys

from netspec.errors import UsageError


def parse_inputs(items: list[str]) -> dict[str, str]:
    """``-i "x: float[batch, 3]"`` values -> {name: type}."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, typ = item.partition(":")
        name = name.strip()
        if not sep or not name.isidentifier() or not typ.strip():
            raise UsageError(f"-i {item!r}: expected NAME: TYPE, e.g. -i \"x: float[batch, 3, 224, 224]\"")
        if name in out:
            raise UsageError(f"-i: the input `{name}` is given twice")
        out[name] = typ.strip()
    return out


def parse_args(items: list[str]) -> dict[str, object]:
    """``--arg key=value`` values -> keyword arguments (Python literals, else strings)."""
    out: dict[str, object] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip().isidentifier():
            raise UsageError(f"--arg {item!r}: expected KEY=VALUE, e.g. --arg num_classes=10")
        try:
            out[key.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            out[key.strip()] = value.strip()
    return out


def load_callable(target: str):
    """``package.module:Name`` -> the object (the current directory is importable)."""
    modname, sep, attr = target.partition(":")
    if not sep or not modname or not attr:
        raise UsageError(f"{target!r}: expected MODULE:CALLABLE, e.g. torchvision.models:resnet18")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        obj = importlib.import_module(modname)
    except ImportError as e:
        raise UsageError(f"cannot import {modname}: {e}") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise UsageError(f"{modname} has no attribute {attr}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise UsageError(f"{target} is not callable")
    return obj


def run(args) -> int:
    import torch

    from netspec import api
    from netspec.cli import print_diagnostics
    from netspec.fsutil import write_output
    from netspec.importer import Unsupported, from_module

    inputs = parse_inputs(args.input)
    factory = load_callable(args.target)
    try:
        model = factory(**parse_args(args.arg))
    except Exception as e:  # the user's code: say what it raised, without a traceback
        print(f"netspec: import error: calling {args.target} raised {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    if not isinstance(model, torch.nn.Module):
        raise UsageError(f"{args.target} returned {type(model).__name__}, not a torch.nn.Module")
    try:
        text = from_module(model, inputs, args.name, partial=args.partial, origin=args.target)
    except Unsupported as e:
        print(f"netspec: import error: {e}", file=sys.stderr)
        print("  = help: --partial writes the rest of the spec with this part marked", file=sys.stderr)
        return 1
    except api.SpecError as e:
        raise UsageError(f"-i: {e}") from None
    except Exception as e:  # the model's own code failed under tracing: say so, no traceback
        print(f"netspec: import error: {args.target}: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    spec = api.loads(text, file=args.output or "<import>", strict=False)
    if not spec.ok:
        print_diagnostics(spec, spec.diagnostics, sys.stderr)
        if not args.partial:
            return 1
    if args.output:
        write_output(args.output, text, force=args.force)
        print(f"wrote {args.output}: {spec.network().name if spec.ok else 'a partial spec'}")
    else:
        sys.stdout.write(text)
    return 0 if spec.ok else 1
