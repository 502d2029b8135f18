"""The specs of torchvision's models: each spec's main network, with its default
parameters, is torchvision's ``models.<name>()`` with its defaults. Built by netspec, it
loads the torchvision model's state_dict (random weights) with ``strict=True``, has the
same number of parameters, and computes the same outputs in eval mode on a
[2, 3, 224, 224] image."""

from __future__ import annotations

from pathlib import Path

import pytest

from netspec import api

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

SPECS = Path(__file__).resolve().parent.parent / "specs"

# spec file -> torchvision's constructor keywords beyond weights=None
MODELS = {
    "squeezenet1_0": {},
    "googlenet": {"aux_logits": False, "init_weights": True},
    "densenet121": {},
    "mobilenet_v2": {},
    "efficientnet_b0": {},
    "vit_b_16": {},
}


def randomized(model):
    """The model with its zero-initialised tensors (biases, ViT's class token and head) and
    its norms' running statistics made random, so that every weight shows in the output."""
    with torch.no_grad():
        for p in model.parameters():
            if not p.any():
                p.normal_(std=0.02)
        for name, b in model.named_buffers():
            if name.endswith("running_mean"):
                b.normal_(std=0.1)
            elif name.endswith("running_var"):
                b.uniform_(0.5, 1.5)
    return model


@pytest.mark.parametrize("name", sorted(MODELS))
def test_spec_is_torchvisions_model(name):
    torch.manual_seed(0)
    reference = randomized(getattr(torchvision.models, name)(weights=None, **MODELS[name])).eval()
    model = api.load(SPECS / f"{name}.net").module().eval()
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    theirs = {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    assert ours == theirs
    model.load_state_dict(reference.state_dict(), strict=True)
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in reference.parameters())
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        expected = reference(x)
        got = model(x)
    assert got.shape == expected.shape == (2, 1000)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-4)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_checked_parameter_count_is_torchvisions(name):
    reference = getattr(torchvision.models, name)(weights=None, **MODELS[name])
    spec = api.load(SPECS / f"{name}.net")
    assert spec.network().total_params == sum(p.numel() for p in reference.parameters())


def test_the_models_page_is_up_to_date():
    import subprocess
    import sys

    root = SPECS.parent
    r = subprocess.run([sys.executable, str(root / "scripts" / "make_models_doc.py"), "--check"],
                       capture_output=True, text=True, cwd=root)
    assert r.returncode == 0, r.stderr
