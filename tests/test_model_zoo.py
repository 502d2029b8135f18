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
    "convnext_tiny": {},
}


def randomized(model):
    """The model with its zero-initialised tensors (biases, ViT's class token and head), the
    layer scales that ConvNeXt starts at 1e-6 (its blocks would hardly reach the output) and
    its norms' running statistics made random, so that every weight shows in the output."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("layer_scale"):
                p.uniform_(0.1, 0.5)
            elif not p.any():
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


def test_convnext_blocks_are_configured_as_torchvisions():
    """What a state_dict does not hold: each block's stochastic depth (its probability growing
    with the block's depth, in torchvision's arithmetic), the layer scale's start value and
    the norms' eps; and the modules' kinds, in torchvision's order."""
    reference = torchvision.models.convnext_tiny(weights=None)
    model = api.load(SPECS / "convnext_tiny.net").module()

    def config(m):
        found = {k: getattr(m, k) for k in ("p", "mode", "eps", "kernel_size", "stride", "padding", "groups",
                                             "normalized_shape", "dims", "start_dim") if hasattr(m, k)}
        if isinstance(m, torch.nn.Linear):
            found["shape"] = tuple(m.weight.shape)
        return type(m).__name__, {k: list(v) if isinstance(v, tuple) and k == "dims" else v for k, v in found.items()}

    ours = [(name, config(m)) for name, m in model.named_modules() if name]
    theirs = [(name, config(m)) for name, m in reference.named_modules() if name]
    # torchvision's stem is a Conv2dNormActivation, a Sequential of its own
    theirs = [(n, ("Sequential", {}) if c[0] == "Conv2dNormActivation" else c) for n, c in theirs]
    assert ours == theirs
    scales = {n: p for n, p in model.named_parameters() if n.endswith("layer_scale")}
    assert len(scales) == 18 and all(torch.equal(p, torch.full_like(p, 1e-6)) for p in scales.values())
