"""The table `netspec check` prints, read as a user reads it, against real torch: every
column of `--columns` (input and output shapes, kernel, parameters, their share, trainable)
row by row against forward hooks on the built module's leaf modules, with `--depth`
expanding blocks into the layers torch runs, and `--weights` against the module's
state_dict."""

from __future__ import annotations

import re

import pytest
from conftest import GOOD_SPECS, SPECS

torch = pytest.importorskip("torch")

from netspec import api  # noqa: E402
from netspec.dims import evaluate  # noqa: E402
from netspec.kinds import REGISTRY  # noqa: E402

ENV = {"batch": 2, "seq": 5, "h": 2, "w": 3}


def dims(path) -> list[str]:
    """--dim for each symbol of ENV the spec's inputs use."""
    inputs = "\n".join(line for line in path.read_text().splitlines() if line.strip().startswith("input "))
    return [a for k, v in ENV.items() if re.search(rf"\b{k}\b", inputs) for a in ("--dim", f"{k}={v}")]


COLUMNS = "input,output,kernel,params,percent,trainable"
DEEP = "9"  # deeper than any spec nests


def _section(text: str, title: str) -> list[str]:
    """The lines of the table titled ``network NAME...``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(rf"network {title}\b", line))
    end = next(i for i in range(start + 4, len(lines)) if lines[i].startswith("===="))
    return lines[start + 4:end]


def _inputs(net) -> list:
    out = []
    for v in net.inputs:
        shape = [d if isinstance(d, int) else evaluate(d, ENV) for d in net.shape(v.tensor)]
        dtype = getattr(torch, v.tensor.dtype)
        out.append(torch.zeros(shape, dtype=dtype) if not dtype.is_floating_point else torch.randn(shape, dtype=dtype))
    return out


def _shape(x) -> str:
    return str(list(x.shape)) if isinstance(x, torch.Tensor) else "?"


def _torch_rows(spec) -> list[tuple]:
    """(kind, input shape, output shape, kernel, params, percent, trainable) of every leaf
    module in the order a forward pass calls them."""
    module = spec.module().eval()
    total = sum(p.numel() for p in module.parameters())
    rows = []

    seen = set()

    def hook(m, args, out):
        again = id(m) in seen  # a module called again (shared): its parameters counted at its first call
        seen.add(id(m))
        n = 0 if again else sum(p.numel() for p in m.parameters())
        k = getattr(m, "kernel_size", None)
        if k is not None:
            k = list(k) if isinstance(k, tuple) else [k] * int(type(m).__name__[-2])
        first = out[0] if isinstance(out, tuple) else out
        rows.append((type(m).__name__, _shape(args[0]) if args else "?", _shape(first),
                     str(k) if k else "--", f"{n:,}", f"{100 * n / total:.2f}%",
                     "True" if not again and any(p.requires_grad for p in m.parameters()) else "--"))

    for m in module.modules():
        if not list(m.children()):
            m.register_forward_hook(hook)
    with torch.no_grad():
        module(*_inputs(spec.network()))
    return rows


# the layers torch.nn lacks, whose classes a built module defines (torchvision's
# StochasticDepth, LayerNorm2d, Permute): leaf modules too
OWN_CLASSES = {k.torch_name for k in REGISTRY.values() if k.is_module and k.support_code}


def _table_rows(lines: list[str]) -> list[tuple]:
    """The rows of layers that are torch modules (not ops, not networks used as stages)."""
    rows = []
    for line in lines:
        cells = re.split(r"\s{2,}", line.strip())
        kind = cells[0].split()[0]
        if len(cells) == 7 and (hasattr(torch.nn, kind) or kind in OWN_CLASSES) and cells[4] != "--":
            rows.append((kind, *cells[1:3], *cells[3:]))
    return rows


SINGLE_RESULT = [p for p in GOOD_SPECS if p.stem not in {"bilstm", "gru", "lstm_state", "charrnn", "rowlstm",
                                                         "qstencoder", "seq2seq_luong"}]


# where torch's leaf-module hooks cannot see the layers the table lists: attention runs its
# projections as functions (no hook)
HOOKS_DIFFER = {"vit_b_16": "MultiheadAttention's projections run as functions, not modules",
                "text_transformer": "the encoder layers' attention runs its projections as functions"}


@pytest.mark.parametrize("path", [pytest.param(p, marks=pytest.mark.xfail(strict=True, reason=HOOKS_DIFFER[p.stem]))
                                  if p.stem in HOOKS_DIFFER else p for p in SINGLE_RESULT],
                         ids=[p.stem for p in SINGLE_RESULT])
def test_columns_at_full_depth_match_torch(run_here, path):
    spec = api.load(path)
    done = run_here("check", path, "--columns", COLUMNS, "--depth", DEEP, *dims(path))
    assert done.returncode == 0, done.stdout
    stated = _table_rows(_section(done.stdout, spec.network().name))
    assert stated == _torch_rows(spec)


def test_depth_zero_shows_a_block_as_one_row_and_depth_one_expands_it(run_here):
    path = SPECS / "resnet18.net"
    flat = _section(run_here("check", path).stdout, "ResNet18")
    deep = _section(run_here("check", path, "--depth", "1").stdout, "ResNet18")
    blocks = [line for line in flat if line.startswith(("BasicBlock", "DownBlock"))]
    assert len(blocks) == 8
    assert not [line for line in flat if line.startswith("  ")]
    # each of the 5 BasicBlocks runs 7 layers, each of the 3 DownBlocks 9, indented under it
    assert len(deep) - len(flat) == 5 * 7 + 3 * 9
    assert [line.split()[:3] for line in deep if not line.startswith("  ")] == [line.split()[:3] for line in flat]
    assert _section(run_here("check", path, "--depth", "2").stdout, "ResNet18") == deep  # nothing nests deeper


def test_percent_adds_up(run_here):
    path = SPECS / "vgg16.net"
    rows = _section(run_here("check", path, "--columns", "percent").stdout, "VGG16")
    shares = [float(line.split()[-1].rstrip("%")) for line in rows if line.endswith("%")]
    assert abs(sum(shares) - 100) < 0.01 * len(shares)


def _weights(text: str, name: str) -> list[tuple[str, list[int], str]]:
    lines = text.splitlines()
    start = lines.index(f"weights of {name}")
    end = next(i for i in range(start + 4, len(lines)) if lines[i].startswith("===="))
    out = []
    for line in lines[start + 4:end]:
        tensor, shape, count = re.split(r"\s{2,}", line.strip())[:3]
        out.append((tensor, [int(s) for s in shape.split("[")[1].rstrip("]").split(",") if s], count))
    return out


@pytest.mark.parametrize("path", GOOD_SPECS, ids=[p.stem for p in GOOD_SPECS])
def test_weights_table_is_the_state_dict(run_here, path):
    spec = api.load(path)
    done = run_here("check", path, "--weights", *dims(path))
    assert done.returncode == 0
    module = spec.module()
    params = {name for name, _ in module.named_parameters()}
    expected = [(k, list(v.shape), f"{v.numel():,}" if k in params else "buffer")
                for k, v in module.state_dict().items()]
    assert _weights(done.stdout, spec.network().name) == expected
