"""The bundled ViT-B/16 and ConvNeXt-Tiny against torchvision itself: the same state_dict keys in
order, torchvision's weights loaded strictly, equal outputs in eval mode and (under one seed) in
train mode, MACs within 1% of torchvision's published figure, and builds that `torch.compile`
(fullgraph) and `torch.export` take.

The full-size networks are compared once each; the other checks use small variants of the same specs.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

import netspec

torchvision = pytest.importorskip("torchvision")


def _compare(ours: torch.nn.Module, theirs: torch.nn.Module, x: torch.Tensor, *, same_init: bool) -> None:
    ours_state, theirs_state = ours.state_dict(), theirs.state_dict()
    assert list(ours_state) == list(theirs_state)
    assert [v.shape for v in ours_state.values()] == [v.shape for v in theirs_state.values()]
    if same_init:
        for key, value in theirs_state.items():
            assert torch.equal(ours_state[key], value), key
    ours.load_state_dict(theirs_state, strict=True)
    ours.eval(), theirs.eval()
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x), rtol=0, atol=0)
    ours.train(), theirs.train()
    torch.manual_seed(7)
    trained = ours(x)
    torch.manual_seed(7)
    torch.testing.assert_close(trained, theirs(x), rtol=0, atol=0)


def _macs(name: str, **params: Any) -> int:
    macs = netspec.summarize(name, params=params).totals.macs
    assert macs is not None
    return macs


def test_convnext_tiny_is_torchvisions() -> None:
    torch.manual_seed(0)
    ours = netspec.build("convnext_tiny")
    torch.manual_seed(0)
    theirs = torchvision.models.convnext_tiny()
    _compare(ours, theirs, torch.randn(2, 3, 64, 64), same_init=True)
    assert "features.1.0.layer_scale" in ours.state_dict()
    meta = torchvision.models.ConvNeXt_Tiny_Weights.IMAGENET1K_V1.meta
    assert netspec.count_params("convnext_tiny") == meta["num_params"]
    assert _macs("convnext_tiny") == pytest.approx(meta["_ops"] * 1e9, rel=0.01)


def test_small_convnext_drops_the_same_branches_in_training() -> None:
    """Stochastic depth draws what torchvision's draws, block by block, with its linear schedule."""
    from torchvision.models.convnext import CNBlockConfig, ConvNeXt

    settings = [CNBlockConfig(8, 16, 1), CNBlockConfig(16, 32, 2), CNBlockConfig(32, 64, 2), CNBlockConfig(64, None, 1)]
    theirs = ConvNeXt(settings, stochastic_depth_prob=0.5, num_classes=5)
    ours = netspec.build(
        "convnext_tiny",
        params={"depths": [1, 2, 2, 1], "widths": [8, 16, 32, 64], "stochastic_depth_prob": 0.5, "num_classes": 5},
    )
    _compare(ours, theirs, torch.randn(4, 3, 32, 32), same_init=False)
    probabilities = [m.p for m in ours.modules() if type(m).__name__ == "StochasticDepth"]
    assert probabilities == [m.p for m in theirs.modules() if type(m).__name__ == "StochasticDepth"]


def _vit(**params: Any) -> tuple[torch.nn.Module, torch.nn.Module]:
    ours = netspec.build("vit_b_16", params=params)
    theirs = torchvision.models.VisionTransformer(
        image_size=params.get("image_size", 224),
        patch_size=params.get("patch_size", 16),
        num_layers=params.get("num_layers", 12),
        num_heads=params.get("num_heads", 12),
        hidden_dim=params.get("hidden_dim", 768),
        mlp_dim=params.get("mlp_dim", 3072),
        dropout=params.get("dropout", 0.0),
        num_classes=params.get("num_classes", 1000),
    )
    return ours, theirs


def test_vit_b_16_is_torchvisions() -> None:
    ours, theirs = _vit()
    _compare(ours, theirs, torch.randn(1, 3, 224, 224), same_init=False)
    assert list(ours.state_dict())[:4] == ["class_token", "conv_proj.weight", "conv_proj.bias", "encoder.pos_embedding"]
    meta = torchvision.models.ViT_B_16_Weights.IMAGENET1K_V1.meta
    assert netspec.count_params("vit_b_16") == meta["num_params"]
    assert _macs("vit_b_16") == pytest.approx(meta["_ops"] * 1e9, rel=0.01)


def test_small_vit_with_dropout_draws_what_torchvision_draws() -> None:
    small = {"image_size": 32, "num_layers": 2, "num_heads": 4, "hidden_dim": 64, "mlp_dim": 96, "num_classes": 7}
    ours, theirs = _vit(dropout=0.1, **small)
    _compare(ours, theirs, torch.randn(3, 3, 32, 32), same_init=False)


@pytest.mark.parametrize(
    ("name", "params", "shape"),
    [
        (
            "vit_b_16",
            {"image_size": 32, "num_layers": 2, "num_heads": 4, "hidden_dim": 64, "mlp_dim": 96},
            (2, 3, 32, 32),
        ),
        ("convnext_tiny", {"depths": [1, 1, 2, 1], "widths": [8, 16, 32, 64]}, (2, 3, 64, 64)),
    ],
)
def test_compiles_with_fullgraph_and_exports(name: str, params: dict[str, Any], shape: tuple[int, ...]) -> None:
    model = netspec.build(name, params={"num_classes": 5, **params}).eval()
    x = torch.randn(shape)
    with torch.no_grad():
        expected = model(x)
        compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
        torch.testing.assert_close(compiled(x), expected)
    batch = torch.export.Dim("batch", min=1, max=64)
    exported = torch.export.export(model, (x,), dynamic_shapes={"x": {0: batch}})
    torch.testing.assert_close(exported.module()(x), expected)
    torch.testing.assert_close(exported.module()(x[:1]), expected[:1])
