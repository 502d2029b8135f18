"""`netspec export`: a network as a torch.export program (``.pt2``) and, optionally, ONNX.

The module is the one ``netspec build`` writes (made through :mod:`netspec.api`). Its
example inputs come from the checked input types, and every symbolic dim of an input
(``batch``, ``seq``, ...) is a ``torch.export.Dim`` of the same name, shared by every input
that has it. Where torch cannot keep a symbol dynamic it says so and suggests a fix (a
recurrent layer, for one, is traced step by step, which fixes the sequence length:
pytorch/pytorch#115092); netspec applies torch's suggestion, exports again and says which
dims ended up static. ``--dim NAME=SIZE`` chooses the example size of a symbol.

ONNX is written with ``torch.onnx.export(..., dynamo=True)`` from the same module, inputs
and dynamic dims, so the ONNX inputs carry the symbols' names; it needs the ``onnx`` and
``onnxscript`` packages. Both files carry the netspec marker (an ``extra/netspec`` entry
in the ``.pt2`` archive, the model's ``doc_string`` in ONNX), and, as every netspec
output, replace an existing file only when netspec wrote it or ``--force`` is given.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from dataclasses import dataclass, field
from typing import Any

from netspec.dims import Expr, evaluate, render, symbols
from netspec.errors import UsageError
from netspec.fsutil import MARKER
from netspec.graph import TypedNetwork

# Example sizes tried for a symbol, in order, when --dim does not give one: distinct from
# each other (so torch does not take two symbols for one) and never 0 or 1, which torch
# would specialise.
_FIRST_TRIES = {"batch": 3, "seq": 7}
_TRIES = (5, 8, 16, 32, 64, 128, 224, 256, 512)
_PT2_MARK = "netspec"  # the archive's extra file that holds the marker


class ExportFailed(Exception):
    """torch could not export the module; the message says why, in one paragraph."""


@dataclass
class Exported:
    program: Any  # torch.export.ExportedProgram
    module: Any  # the nn.Module exported
    inputs: tuple  # the example inputs
    dynamic_shapes: tuple  # the dynamic_shapes the program was exported with
    dynamic: dict[str, tuple[int, int | None]] = field(default_factory=dict)  # symbol -> (min, max)
    static: dict[str, int] = field(default_factory=dict)  # symbols torch fixed -> their size


# -- example inputs ------------------------------------------------------------------------------

def input_symbols(net: TypedNetwork) -> list[str]:
    """The symbols of the network's input dims, in the order they first appear."""
    out: list[str] = []
    for v in net.inputs:
        if v.tensor is None:
            continue
        for d in net.shape(v.tensor):
            for s in sorted(symbols(d)):
                if s not in out:
                    out.append(s)
    return out


def example_sizes(net: TypedNetwork, given: dict[str, int] | None = None) -> dict[str, int]:
    """A size for every input symbol: ``given`` ones, else the first tried size that gives
    every layer of the network a positive size."""
    from netspec.costs import size_problems

    env = dict(given or {})
    taken = set(env.values())
    for s in input_symbols(net):
        if s in env:
            continue
        tries = [_FIRST_TRIES[s]] if s in _FIRST_TRIES else []
        tries += [t for t in _TRIES if t not in tries]
        for t in tries:
            if t in taken:
                continue
            if not size_problems(net, {**env, s: t}):
                env[s] = t
                taken.add(t)
                break
        else:
            raise UsageError(f"no example size for `{s}` gives every layer of {net.name} a positive size; "
                             f"give one with --dim {s}=SIZE")
    return env


def memory_needed(net: TypedNetwork, sizes: dict[str, int]) -> int | None:
    """The bytes torch allocates before it exports: the parameters and the example inputs
    (the export itself traces with fake tensors). None when a size is unknown."""
    from netspec.costs import network_costs
    from netspec.types import ITEMSIZE

    total = network_costs(net, sizes).param_bytes
    if not isinstance(total, int):
        return None
    for v in net.inputs:
        if v.tensor is None:
            return None
        n = ITEMSIZE[v.tensor.dtype]
        for d in net.shape(v.tensor):
            n *= evaluate(d, sizes)
        total += n
    return total


def physical_memory() -> int | None:
    """The bytes this process may have: the machine's memory, or less where a control
    group or an address-space limit says so."""
    found = []
    try:
        found.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, OSError, ValueError):
        pass
    try:
        with open("/sys/fs/cgroup/memory.max") as f:
            found.append(int(f.read().strip()))
    except (OSError, ValueError):  # no cgroup v2, or "max"
        pass
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if soft != resource.RLIM_INFINITY:
            found.append(soft)
    except (ImportError, OSError, ValueError):
        pass
    return min(found) if found else None


def refuse_unallocatable(net: TypedNetwork, sizes: dict[str, int]) -> None:
    """ExportFailed, before torch allocates anything, when the parameters and example
    inputs need more bytes than the machine has (torch would fail in its allocator)."""
    from netspec.costs import human_bytes

    need, have = memory_needed(net, sizes), physical_memory()
    if need is not None and have is not None and need > have:
        given = ", ".join(f"{k}={v}" for k, v in sizes.items())
        raise ExportFailed(f"its parameters and example inputs{f' ({given})' if given else ''} need "
                           f"{human_bytes(need)}, more than this machine's {human_bytes(have)} of memory; "
                           "give smaller sizes (--set, --dim)")


def example_inputs(net: TypedNetwork, sizes: dict[str, int], seed: int = 0) -> tuple:
    """Random tensors of the network's input types (integer ids are 0 or 1)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    out = []
    for v in net.inputs:
        shape = [evaluate(d, sizes) for d in net.shape(v.tensor)]
        dtype = getattr(torch, v.tensor.dtype)
        if dtype.is_floating_point:
            out.append(torch.randn(shape, generator=g).to(dtype))
        elif dtype == torch.bool:
            out.append(torch.randint(0, 2, shape, generator=g).bool())
        else:
            out.append(torch.randint(0, 2, shape, generator=g, dtype=dtype))
    return tuple(out)


def dynamic_shapes(net: TypedNetwork) -> tuple:
    """One ``{dim: torch.export.Dim}`` per input: a dim that is a symbol gets the Dim of
    that name (the same object wherever the symbol appears); other dims stay static."""
    from torch.export import Dim

    dims: dict[str, Any] = {}
    out = []
    for v in net.inputs:
        spec = {}
        for i, d in enumerate(net.shape(v.tensor)):
            if isinstance(d, Expr) and len(d.terms) == 1:
                ((mono, coeff),) = d.terms.items()
                if coeff == 1 and len(mono) == 1 and mono[0][1] == 1 and isinstance(mono[0][0], str):
                    name = mono[0][0]
                    if name not in dims:
                        dims[name] = Dim(name, min=1)
                    spec[i] = dims[name]
        out.append(spec or None)
    return tuple(out)


# -- exporting -----------------------------------------------------------------------------------

@contextlib.contextmanager
def _quiet():
    """torch's warnings and progress lines would bury netspec's own output."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with contextlib.redirect_stdout(io.StringIO()):
            yield


def first_paragraph(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return text.split("\n\n")[0].strip()


def export_network(module, net: TypedNetwork, sizes: dict[str, int]) -> Exported:
    """torch.export ``module`` (built for ``net``) with the spec's symbols as dynamic dims."""
    import torch
    from torch.export.dynamic_shapes import refine_dynamic_shapes_from_suggested_fixes

    module = module.eval()
    try:
        inputs = example_inputs(net, sizes)
    except (MemoryError, RuntimeError) as e:  # the allocator: sizes past what the machine has
        raise ExportFailed(f"the example inputs could not be made: {first_paragraph(e)}") from e
    shapes = dynamic_shapes(net)
    for _ in range(len(sizes) + 2):
        try:
            with _quiet():
                program = torch.export.export(module, inputs, dynamic_shapes=shapes)
            break
        except Exception as e:  # torch raises several kinds; a suggested fix says what to change
            message = str(e)
            if "Suggested fixes" not in message:
                raise ExportFailed(first_paragraph(e)) from e
            # torch's parser reads every line after the heading: give it the fixes alone
            fixes = message.split("Suggested fixes:", 1)[1].strip().split("\n\n")[0]
            try:
                refined = refine_dynamic_shapes_from_suggested_fixes("Suggested fixes:\n" + fixes, shapes)
            except Exception:
                raise ExportFailed(first_paragraph(e)) from e
            if _describe(refined) == _describe(shapes):
                raise ExportFailed(first_paragraph(e)) from e
            shapes = tuple(refined)
    else:
        raise ExportFailed("torch.export kept asking for other dynamic dims")
    result = Exported(program, module, inputs, shapes)
    _read_dims(result, net)
    return result


def _describe(shapes) -> list:
    return [None if s is None else sorted((k, repr(v)) for k, v in s.items()) for s in shapes]


def _read_dims(result: Exported, net: TypedNetwork) -> None:
    """Which symbols the program keeps dynamic (with torch's range) and which torch fixed."""
    import torch

    placeholders = [n for n in result.program.graph.nodes if n.op == "placeholder"]
    user = result.program.graph_signature.user_inputs
    vals = {n.name: n.meta.get("val") for n in placeholders}
    ranges = result.program.range_constraints
    for v, name in zip(net.inputs, user):
        fake = vals.get(name)
        if fake is None:
            continue
        for i, d in enumerate(net.shape(v.tensor)):
            sym = render(d) if isinstance(d, Expr) else ""
            if not sym.isidentifier():  # a number, or an expression of symbols: not a Dim of its own
                continue
            size = fake.shape[i]
            if isinstance(size, torch.SymInt):
                vr = ranges.get(size.node.expr)
                lo = int(vr.lower) if vr is not None and getattr(vr.lower, "is_Integer", False) else 1
                hi = int(vr.upper) if vr is not None and getattr(vr.upper, "is_Integer", False) else None
                result.dynamic.setdefault(sym, (lo, hi))
            else:  # a symbol torch fixed
                result.static.setdefault(sym, int(size))


def pt2_bytes(result: Exported, source: str, network: str) -> bytes:
    import torch

    buf = io.BytesIO()
    torch.export.save(result.program, buf,
                      extra_files={_PT2_MARK: f"{MARKER} from {os.path.basename(source)}, network {network}\n"})
    return buf.getvalue()


def onnx_bytes(result: Exported, net: TypedNetwork, source: str) -> bytes:
    import torch

    with _quiet():
        program = torch.onnx.export(
            result.module, result.inputs, dynamic_shapes=result.dynamic_shapes, dynamo=True,
            input_names=[v.name for v in net.inputs],
            output_names=[name for name, _ in net.outputs])
    proto = program.model_proto
    proto.doc_string = f"{MARKER} from {os.path.basename(source)}, network {net.name}"
    return proto.SerializeToString()


def written_by_netspec(path: str) -> bool:
    """Whether an existing ``.pt2`` or ``.onnx`` file carries the netspec marker."""
    import zipfile

    from netspec.fsutil import is_generated

    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as z:
                for name in z.namelist():
                    if name.endswith(f"/extra/{_PT2_MARK}") and MARKER.encode() in z.read(name)[:4096]:
                        return True
        except (OSError, zipfile.BadZipFile):
            return False
        return False
    if _is_onnx_by_netspec(path):
        return True
    return is_generated(path)


def _is_onnx_by_netspec(path: str) -> bool:
    """An ONNX model whose doc_string (written near the start: protobuf writes fields in
    number order) begins with the marker."""
    try:
        with open(path, "rb") as f:
            if MARKER.encode() not in f.read(4096):
                return False
        import onnx

        model = onnx.load_model(path, load_external_data=False)
    except Exception:  # not ONNX, unreadable, or onnx missing: not netspec's
        return False
    return model.doc_string.startswith(MARKER)


def write(path: str, data: bytes, force: bool) -> None:
    """Write an export, replacing only a file netspec wrote (unless ``force``)."""
    from netspec.fsutil import write_output

    write_output(path, data, force=force, generated=written_by_netspec)


# -- what the command says ----------------------------------------------------------------------

def _shown_type(net: TypedNetwork, v) -> str:
    return f"{v.tensor.dtype}{net.show(v.tensor)}" if v.tensor is not None else "?"


def summary(net: TypedNetwork, result: Exported, written: list[str]) -> str:
    """What `netspec export` prints: the files, the signature, and which symbols stayed dynamic."""
    ins = ", ".join(f"{v.name}: {_shown_type(net, v)}" for v in net.inputs)
    outs = ", ".join(f"{name}: {_shown_type(net, v)}" for name, v in net.outputs)
    lines = [f"wrote {' and '.join(written)}: {net.name}({ins}) -> {outs}"]
    if result.dynamic:
        lines.append("dynamic: " + ", ".join(
            f"{s} ({lo}..{hi if hi is not None else 'any'})" for s, (lo, hi) in result.dynamic.items()))
    if result.static:
        lines.append("static: " + ", ".join(f"{s} = {n}" for s, n in result.static.items())
                     + " (torch.export fixed " + ("these sizes" if len(result.static) > 1 else "this size")
                     + "; choose another with --dim NAME=SIZE)")
    return "\n".join(lines)
