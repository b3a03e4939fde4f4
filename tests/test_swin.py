"""The bundled Swin-T against torchvision itself: the same state_dict keys in order, torchvision's
weights loaded strictly, a fresh build's relative position index equal to torchvision's, equal
outputs in eval mode and (under one seed, stochastic depth and dropout drawing) in train mode, MACs
within 1% of torchvision's published figure, and builds that `torch.compile` (fullgraph) and
`torch.export` take. swin_s and swin_b are the same spec with other parameters; swin_v2_t (cosine
attention, the MLP's continuous position bias, post-norm blocks) is checked the same way.

The full-size network is compared once at 64 x 64 (the windows of every stage need padding there,
and the last two stages are covered by one window, so their shift is ignored); the other checks
use small variants.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

import netspec

torchvision = pytest.importorskip("torchvision")
from torchvision.models.swin_transformer import SwinTransformer  # noqa: E402

SMALL = {"embed_dim": 8, "depths": [2, 2, 2, 2], "num_heads": [1, 2, 2, 4], "num_classes": 5}


def _compare(ours: torch.nn.Module, theirs: torch.nn.Module, x: torch.Tensor, *, ordered: bool = True) -> None:
    ours_state, theirs_state = ours.state_dict(), theirs.state_dict()
    assert list(ours_state) == list(theirs_state) if ordered else sorted(ours_state) == sorted(theirs_state)
    assert all(ours_state[k].shape == v.shape for k, v in theirs_state.items())
    for key, value in theirs_state.items():  # built, not loaded: the index buffers are computed alike
        if key.endswith("relative_position_index"):
            assert torch.equal(ours_state[key], value), key
    ours.load_state_dict(theirs_state, strict=True)
    ours.eval(), theirs.eval()
    with torch.no_grad():
        assert torch.equal(ours(x), theirs(x))
    ours.train(), theirs.train()
    torch.manual_seed(7)
    trained = ours(x)
    torch.manual_seed(7)
    assert torch.equal(trained, theirs(x))


def _small(**params: Any) -> tuple[torch.nn.Module, torch.nn.Module]:
    params = {**SMALL, **params}
    ours = netspec.build("swin_t", params=params)
    theirs = SwinTransformer(
        patch_size=[params.get("patch_size", 4)] * 2,
        embed_dim=params["embed_dim"],
        depths=params["depths"],
        num_heads=params["num_heads"],
        window_size=[params.get("window_size", 7)] * 2,
        mlp_ratio=params.get("mlp_ratio", 4.0),
        dropout=params.get("dropout", 0.0),
        attention_dropout=params.get("attention_dropout", 0.0),
        stochastic_depth_prob=params.get("stochastic_depth_prob", 0.2),
        num_classes=params["num_classes"],
    )
    return ours, theirs


@pytest.mark.parametrize(("name", "weights"), [("swin_t", "Swin_T_Weights"), ("swin_v2_t", "Swin_V2_T_Weights")])
def test_bundled_swin_is_torchvisions(name: str, weights: str) -> None:
    ours = netspec.build(name)
    theirs = getattr(torchvision.models, name)()
    _compare(ours, theirs, torch.randn(1, 3, 64, 64))
    meta = getattr(torchvision.models, weights).IMAGENET1K_V1.meta
    assert netspec.count_params(name) == meta["num_params"]
    macs = netspec.summarize(name).totals.macs
    assert macs == pytest.approx(meta["_ops"] * 1e9, rel=0.01)


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("swin_s", {"depths": [2, 2, 18, 2], "stochastic_depth_prob": 0.3}),
        (
            "swin_b",
            {"embed_dim": 128, "depths": [2, 2, 18, 2], "num_heads": [4, 8, 16, 32], "stochastic_depth_prob": 0.5},
        ),
    ],
)
def test_swin_s_and_b_are_the_spec_with_other_parameters(name: str, params: dict[str, Any]) -> None:
    """Their layout, parameter count and MACs are torchvision's (outputs: the small variants below)."""
    weights = getattr(torchvision.models, f"Swin_{name[-1].upper()}_Weights").IMAGENET1K_V1
    assert netspec.count_params("swin_t", params=params) == weights.meta["num_params"]
    macs = netspec.summarize("swin_t", params=params).totals.macs
    assert macs == pytest.approx(weights.meta["_ops"] * 1e9, rel=0.01)
    with torch.device("meta"):
        theirs = getattr(torchvision.models, name)()
        ours = netspec.build("swin_t", params=params)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours_p = [m.p for m in ours.modules() if type(m).__name__ == "StochasticDepth"]
    assert ours_p[::2] == [m.p for m in theirs.modules() if type(m).__name__ == "StochasticDepth"]


@pytest.mark.parametrize("size", [(50, 38), (97, 64)])
def test_small_swin_with_dropout_draws_what_torchvision_draws(size: tuple[int, int]) -> None:
    """Odd map sizes (patch merging pads them), padded windows, dropout in the attention, the
    projection and the MLP, and stochastic depth that drops half the branches at the end."""
    ours, theirs = _small(dropout=0.1, attention_dropout=0.2, stochastic_depth_prob=0.5)
    _compare(ours, theirs, torch.randn(2, 3, *size))


def test_small_swin_with_other_windows_and_patches() -> None:
    ours, theirs = _small(window_size=4, patch_size=2, mlp_ratio=2.5)
    _compare(ours, theirs, torch.randn(2, 3, 20, 28))


def test_stochastic_depth_grows_linearly_over_the_blocks() -> None:
    ours, theirs = _small(stochastic_depth_prob=0.5)
    ours_p = [m.p for m in ours.modules() if type(m).__name__ == "StochasticDepth"]
    theirs_p = [m.p for m in theirs.modules() if type(m).__name__ == "StochasticDepth"]
    assert ours_p[::2] == ours_p[1::2] == theirs_p  # one module per branch, the same probability


def test_compiles_with_fullgraph_and_exports() -> None:
    model = netspec.build("swin_t", params={**SMALL, "depths": [1, 2, 1, 1]}).eval()  # one shifted block
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = model(x)
        compiled = torch.compile(model, fullgraph=True, backend="eager")
        torch.testing.assert_close(compiled(x), expected)
    batch = torch.export.Dim("batch", min=1, max=64)
    exported = torch.export.export(model, (x,), dynamic_shapes={"x": {0: batch}})
    torch.testing.assert_close(exported.module()(x), expected)
    torch.testing.assert_close(exported.module()(x[:1]), expected[:1])


def test_from_module_imports_torchvisions_swin_with_the_window_ops() -> None:
    """torchvision keeps its window functions whole under fx; the importer says them with the window
    ops, so the spec it writes builds, loads torchvision's weights strictly and computes the same."""
    theirs = SwinTransformer([4, 4], 8, [2, 2, 2, 2], [1, 2, 2, 4], [7, 7], stochastic_depth_prob=0.5, num_classes=5)
    text = netspec.from_module(theirs, inputs={"x": [2, 3, 64, 64]})
    for op in ("window_partition", "window_mask", "window_reverse", "patch_merge", "RelativePositionIndex"):
        assert f"op: {op}" in text or f": {op}\n" in text  # `{op: name, ...}`, or the bare name
    ours = netspec.build(netspec.loads(text))
    # The imported spec lists a patch merging's `norm` before its `reduction`, in the order it runs them.
    _compare(ours, theirs, torch.randn(2, 3, 50, 64), ordered=False)


def test_from_module_imports_torchvisions_swin_v2_with_the_window_ops() -> None:
    """Swin v2's attention is said with the window ops too: the coords table and the index are the
    buffer ops (a fresh build computes torchvision's), `qkv` applies its weight and a bias whose key
    part is zeroed in every forward, and the spec computes what torchvision computes, padded windows,
    shifts, dropout and stochastic depth included."""
    from torchvision.models.swin_transformer import PatchMergingV2, SwinTransformerBlockV2

    theirs = SwinTransformer(
        [4, 4],
        8,
        [2, 2, 2, 2],
        [1, 2, 2, 4],
        [4, 4],
        dropout=0.1,
        attention_dropout=0.2,
        stochastic_depth_prob=0.5,
        num_classes=5,
        block=SwinTransformerBlockV2,
        downsample_layer=PatchMergingV2,
    )
    text = netspec.from_module(theirs, inputs={"x": [2, 3, 32, 32]})
    for op in ("RelativeCoordsTable", "RelativePositionIndex", "linear", "normalize", "window_mask", "patch_merge"):
        assert f"op: {op}" in text or f": {op}\n" in text
    ours = netspec.build(netspec.loads(text))
    fresh = ours.state_dict()
    for key, value in theirs.state_dict().items():  # the buffers of a fresh build are torchvision's
        if key.endswith(("relative_coords_table", "relative_position_index")):
            assert torch.equal(fresh[key], value), key
    with torch.no_grad():  # a key bias that the weights hold is still zeroed by the forward
        for module in theirs.modules():
            if type(module).__name__ == "ShiftedWindowAttentionV2":
                module.qkv.bias.normal_()
    _compare(ours, theirs, torch.randn(2, 3, 44, 60), ordered=False)


def test_from_module_imports_swin_v2_attention_without_a_qkv_bias() -> None:
    from torchvision.models.swin_transformer import ShiftedWindowAttentionV2

    theirs = torch.nn.Sequential(ShiftedWindowAttentionV2(8, [4, 3], [2, 1], 2, qkv_bias=False, proj_bias=False))
    ours = netspec.build(netspec.loads(netspec.from_module(theirs, inputs={"x": [2, 10, 12, 8]})))
    _compare(ours, theirs, torch.randn(2, 10, 12, 8), ordered=False)


V2_SMALL = {"embed_dim": 8, "depths": [1, 2, 1, 1], "num_heads": [1, 2, 2, 4], "num_classes": 5}


def test_small_swin_v2_with_dropout_draws_what_torchvision_draws() -> None:
    from torchvision.models.swin_transformer import PatchMergingV2, SwinTransformerBlockV2

    params = {**V2_SMALL, "dropout": 0.1, "attention_dropout": 0.2, "stochastic_depth_prob": 0.5, "window_size": 4}
    ours = netspec.build("swin_v2_t", params=params)
    theirs = SwinTransformer(
        [4, 4],
        8,
        params["depths"],
        params["num_heads"],
        [4, 4],
        dropout=0.1,
        attention_dropout=0.2,
        stochastic_depth_prob=0.5,
        num_classes=5,
        block=SwinTransformerBlockV2,
        downsample_layer=PatchMergingV2,
    )
    _compare(ours, theirs, torch.randn(2, 3, 44, 60))


def test_swin_v2_compiles_with_fullgraph_and_exports() -> None:
    model = netspec.build("swin_v2_t", params=V2_SMALL).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = model(x)
        compiled = torch.compile(model, fullgraph=True, backend="eager")
        torch.testing.assert_close(compiled(x), expected)
    batch = torch.export.Dim("batch", min=1, max=64)
    exported = torch.export.export(model, (x,), dynamic_shapes={"x": {0: batch}})
    torch.testing.assert_close(exported.module()(x[:1]), expected[:1])
