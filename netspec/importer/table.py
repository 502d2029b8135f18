"""What a torch module or call becomes in a spec: the layer kinds of netspec's registry
(looked up by their torch class, arguments read from the module's attributes) and a table
of functions and tensor methods mapped to the language's ops.

Integers written into a stage are marked as slots (``\\x00name=value\\x00``) so that a
network's uses can be compared and the integers that vary between them made parameters.
"""

from __future__ import annotations

import json
import re
from typing import Any

import torch

from netspec.kinds import REGISTRY
from netspec.kinds.base import Layer

# window arguments written as one integer when every dim has the same value
_SQUARE = {"kernel_size", "stride", "padding", "dilation", "output_size", "output_padding"}
SLOT = re.compile(r"\x00([A-Za-z_][A-Za-z0-9_]*)=(-?\d+)\x00")


def slot(hint: str, value: int) -> str:
    return f"\x00{hint}={value}\x00"


def literal(v: Any, hint: str | None = None) -> str:
    """A value as the spec writes it; an integer with a hint becomes a slot."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return slot(hint, v) if hint else str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (tuple, list)):
        inner = ", ".join(literal(x) for x in v)
        return f"({inner},)" if len(v) == 1 else f"({inner})"
    raise TypeError(f"no literal for {type(v).__name__}")


def _layer_table() -> dict[type, Layer]:
    table = {}
    for kind in set(REGISTRY.values()):
        if isinstance(kind, Layer) and kind.torch_name and not kind.support_code:
            cls = getattr(torch.nn, kind.torch_name, None)
            if isinstance(cls, type):
                table[cls] = kind
    return table


_LAYERS: dict[type, Layer] | None = None


# Kinds whose built module defines its class itself (``support_code``), by the class they
# stand for outside torch.nn: (module, class name). The module is looked up only when the
# model has imported it.
_OUTSIDE = {"StochasticDepth": ("torchvision.ops", "StochasticDepth"),
            "LayerNorm2d": ("torchvision.models.convnext", "LayerNorm2d"),
            "Permute": ("torchvision.ops.misc", "Permute")}


def layer_kind(module: torch.nn.Module) -> Layer | None:
    """The kind of a torch.nn module netspec knows (its exact class), else None."""
    global _LAYERS
    if _LAYERS is None:
        _LAYERS = _layer_table()
    kind = _LAYERS.get(type(module))
    if kind is None:
        import sys

        for name, (where, cls) in _OUTSIDE.items():
            if type(module) is getattr(sys.modules.get(where), cls, None) or _built_class(module, name):
                return REGISTRY[name]
    return kind


def _built_class(module, name: str) -> bool:
    """Whether ``module`` is an instance of the class of that name that a module netspec
    built defines itself (its ``support_code``, loaded by netspec.api: its code's file is
    ``<netspec ...>``)."""
    forward = getattr(type(module), "forward", None)
    code = getattr(forward, "__code__", None)
    return type(module).__name__ == name and code is not None and code.co_filename.startswith("<netspec ")


def _attribute(module, field: str):
    v = getattr(module, field)
    if field == "bias" and (v is None or isinstance(v, torch.Tensor)):
        return v is not None
    if isinstance(v, torch.Tensor):
        raise TypeError(field)
    if isinstance(v, list):
        v = tuple(v)
    if field in _SQUARE and isinstance(v, tuple) and v and all(x == v[0] for x in v):
        v = v[0]
    return v


def layer_args(kind: Layer, module) -> dict[str, Any]:
    """The module's constructor arguments that differ from the kind's defaults, in the
    kind's field order (the argument the input gives, and initial states, left out)."""
    out = {}
    fields = kind.Args.model_fields
    for name, field in fields.items():
        if name == kind.inferred or name in kind.state_inputs or not hasattr(module, name):
            continue
        try:
            v = _attribute(module, name)
        except TypeError:
            continue
        if not field.required and _same(v, field.default):
            continue
        if name == "stride" and field.default is None and _same(v, out.get("kernel_size")):
            continue  # a pool's stride defaults to its kernel size
        if not field.required and field.default is None and kind.inferred \
                and _same(v, getattr(module, kind.inferred, None)):
            continue  # an attention's kdim and vdim default to its embed_dim
        out[name] = v
    return out


def _same(a, b) -> bool:
    return type(a) is type(b) and a == b or (isinstance(a, (int, float)) and not isinstance(a, bool)
                                             and isinstance(b, (int, float)) and not isinstance(b, bool) and a == b)


# An integer keyword argument that may be left at its default: ``\x02default\x03, name=slot\x02``.
# Uses of one network that differ only in such an argument (a stride of 1 or 2) share it;
# :func:`finish` drops the argument where it keeps its default.
OPTIONAL = re.compile(r"\x02(-?\d+)\x03([^\x02]*)\x02")


def is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def stage_text(kind_name: str, positional: tuple[str, ...], required: set[str], args: dict[str, Any],
               optional: dict[str, int]) -> str:
    """``Kind(a, b, key=value)``: the required arguments by position while they come in the
    kind's positional order, the rest by keyword; integers become slots, and the integer
    arguments in ``optional`` (name -> default) may be dropped by :func:`finish`."""
    parts, by_position = [], True
    order = [n for n in positional if n in args] + [n for n in args if n not in positional]
    for name in order:
        v = args[name]
        text = literal(v, name if is_int(v) else None)
        if by_position and name in positional and name in required and positional.index(name) == len(parts):
            parts.append(f", {text}")
        else:
            by_position = False
            kw = f", {name}={text}"
            parts.append(f"\x02{optional[name]}\x03{kw}\x02" if name in optional and is_int(v) else kw)
    return f"{kind_name}({''.join(parts)})"


class _FirstLayer:
    """A transformer stack's or layer's constructor arguments, which torch keeps only in its
    (first) layer's modules; every other attribute is the module's own."""

    def __init__(self, module):
        layer = module.layers[0] if isinstance(module.__dict__.get("_modules", {}).get("layers"),
                                               torch.nn.ModuleList) else module
        act = layer.activation
        values = {"nhead": layer.self_attn.num_heads, "dim_feedforward": layer.linear1.out_features,
                  "dropout": layer.dropout.p, "layer_norm_eps": layer.norm1.eps,
                  "batch_first": layer.self_attn.batch_first, "norm_first": layer.norm_first,
                  "bias": layer.linear1.bias is not None,
                  "activation": act if isinstance(act, str) else getattr(act, "__name__", act)}
        if layer is not module:
            values.update(num_layers=module.num_layers, norm=module.norm is not None)
        self.__dict__.update(values=values, module=module)

    def __getattr__(self, name):
        values = self.__dict__["values"]
        return values[name] if name in values else getattr(self.__dict__["module"], name)


_STACKS = (torch.nn.TransformerEncoder, torch.nn.TransformerDecoder, torch.nn.TransformerEncoderLayer,
           torch.nn.TransformerDecoderLayer)


def layer_stage(kind: Layer, module) -> str:
    if type(module) in _STACKS:
        module = _FirstLayer(module)
    fields = kind.Args.model_fields
    args = layer_args(kind, module)
    optional = {n: f.default for n, f in fields.items() if not f.required and is_int(f.default)
                and n != kind.inferred and hasattr(module, n)}
    for n in optional:
        try:
            v = _attribute(module, n)
        except TypeError:
            continue
        if n not in args and is_int(v):
            args[n] = v
    ordered = {n: args[n] for n in fields if n in args}
    required = {n for n, f in fields.items() if f.required}
    return stage_text(kind.name, kind.positional, required, ordered, optional)


def finish(text: str) -> str:
    """The text as written: optional arguments at their defaults dropped, empty argument
    lists removed."""
    def keep(m) -> str:
        value = m.group(2).split("=", 1)[1]
        return "" if value == m.group(1) else m.group(2)

    text = OPTIONAL.sub(keep, text).replace("(, ", "(")
    return re.sub(r"\b([A-Z]\w*)\(\)", r"\1", text)
