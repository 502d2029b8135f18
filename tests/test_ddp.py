"""A built module trains under DistributedDataParallel: gloo backend, two processes here.

Each rank trains the module built from a spec on its own batches for a few SGD steps. The
ranks must end with equal parameters and see equal, synchronised gradients at every step,
and those gradients must be the average of the two ranks' local gradients, which this
process computes again without DDP from the same start.
"""

from __future__ import annotations

import os
import socket

import pytest

torch = pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")

from conftest import SPECS  # noqa: E402

from netspec import api  # noqa: E402
from netspec.export import example_inputs, example_sizes  # noqa: E402

WORLD = 2
STEPS = 3
LR = 0.1
SPEC_FILES = ["lenet.net", "charrnn.net"]  # a convnet, and a recurrent net with an embedding

if not dist.is_available() or not dist.is_gloo_available():
    pytest.skip("torch.distributed with gloo is not available", allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _batch(net, rank: int, step: int):
    sizes = example_sizes(net, {"batch": 4})
    return example_inputs(net, sizes, seed=1000 * step + rank)


def _loss(out):
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return sum(o.float().pow(2).mean() for o in outs)


def _fresh(path):
    spec = api.load(path)
    torch.manual_seed(0)
    return spec, spec.network(), spec.module().train()


def _train(rank: int, port: int, paths: list[str], out_dir: str) -> None:
    """One rank: train a DDP-wrapped module for each spec in turn, save what it saw."""
    from torch.nn.parallel import DistributedDataParallel

    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    try:
        for i, path in enumerate(paths):
            _, net, module = _fresh(path)
            ddp = DistributedDataParallel(module)
            opt = torch.optim.SGD(ddp.parameters(), lr=LR)
            grads, losses = [], []
            for step in range(STEPS):
                opt.zero_grad()
                loss = _loss(ddp(*_batch(net, rank, step)))
                loss.backward()
                grads.append([p.grad.detach().clone() for p in module.parameters()])
                losses.append(loss.item())
                opt.step()
            torch.save({"params": [p.detach().clone() for p in module.parameters()], "grads": grads,
                        "losses": losses}, os.path.join(out_dir, f"spec{i}-rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Every spec of SPEC_FILES trained by two ranks in one launch (starting processes is slow)."""
    import torch.multiprocessing as mp

    out = tmp_path_factory.mktemp("ddp")
    paths = [str(SPECS / name) for name in SPEC_FILES]
    mp.spawn(_train, args=(_free_port(), paths, str(out)), nprocs=WORLD, join=True)
    return {name: [torch.load(out / f"spec{i}-rank{r}.pt") for r in range(WORLD)]
            for i, name in enumerate(SPEC_FILES)}


@pytest.mark.parametrize("name", SPEC_FILES)
def test_ddp_training_keeps_ranks_in_step_with_averaged_gradients(name, trained):
    ranks = trained[name]

    # the ranks saw different data, and still agree on every gradient and parameter
    assert ranks[0]["losses"] != ranks[1]["losses"]
    for step in range(STEPS):
        for a, b in zip(ranks[0]["grads"][step], ranks[1]["grads"][step], strict=True):
            torch.testing.assert_close(a, b)
    for a, b in zip(ranks[0]["params"], ranks[1]["params"], strict=True):
        torch.testing.assert_close(a, b)

    # the same training without DDP: average the ranks' local gradients by hand
    _, net, module = _fresh(str(SPECS / name))
    opt = torch.optim.SGD(module.parameters(), lr=LR)
    for step in range(STEPS):
        local = []
        for rank in range(WORLD):
            module.zero_grad()
            _loss(module(*_batch(net, rank, step))).backward()
            local.append([p.grad.detach().clone() for p in module.parameters()])
        for p, *gs in zip(module.parameters(), *local, strict=True):
            p.grad = sum(gs) / WORLD
        for mine, theirs in zip([p.grad for p in module.parameters()], ranks[0]["grads"][step], strict=True):
            torch.testing.assert_close(mine, theirs, rtol=1e-4, atol=1e-6)
        opt.step()
    for mine, theirs in zip(module.parameters(), ranks[0]["params"], strict=True):
        torch.testing.assert_close(mine.detach(), theirs, rtol=1e-4, atol=1e-6)
