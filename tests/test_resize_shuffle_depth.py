"""`interpolate`, `ChannelShuffle` and `StochasticDepth`: shapes against torch's own, equal outputs
against torchvision's implementations, the same random draws under one seed, compile and export."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import netspec
from netspec._dims import sym
from netspec._modules import StochasticDepth

torchvision = pytest.importorskip("torchvision")
from torchvision.models.shufflenetv2 import channel_shuffle  # noqa: E402 - after the importorskip guard
from torchvision.ops import StochasticDepth as TorchvisionStochasticDepth  # noqa: E402

FIXTURE = Path(__file__).parent / "specs" / "valid" / "resize_shuffle_depth.yaml"


def _spec(nodes: str, inputs: str = "x: [N, 4, H, W]") -> netspec.Spec:
    return netspec.loads(f"name: t\ninputs:\n  {inputs}\nnodes:\n{nodes}")


# --- interpolate --------------------------------------------------------------------------------


def test_resize_to_another_node_keeps_the_input_size_symbolically() -> None:
    shapes = netspec.infer_shapes(FIXTURE)
    h, w = sym("H"), sym("W")
    assert shapes["out"] == (sym("N"), 2, h, w)
    assert shapes["fixed"][2:] == (16, 16)


@pytest.mark.parametrize("size", [(37, 50), (100, 100), (33, 64), (9, 17)])
def test_resize_to_another_node_equals_interpolate_at_any_size(size: tuple[int, int]) -> None:
    model = netspec.build(FIXTURE).eval()
    x = torch.randn(2, 3, *size)
    with torch.no_grad():
        out, double, fixed = model(x)
        down = model.down(_trunk(model, x))
    assert out.shape == (2, 2, *size)
    torch.testing.assert_close(out, F.interpolate(down, size=size, mode="bilinear", align_corners=False))
    torch.testing.assert_close(double, F.interpolate(down, scale_factor=2.0))
    torch.testing.assert_close(fixed, F.interpolate(down, size=(16, 16), mode="bicubic"))


def _trunk(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The fixture's `res`, computed from its modules by hand (in eval mode)."""
    stem = model.stem(x)
    return model.drop(model.branch(model.shuffle(model.grouped(stem)))) + stem


@settings(max_examples=40, deadline=None)
@given(
    size=st.integers(1, 40),
    scale=st.sampled_from([0.5, 1.5, 2.0, 3.0, 0.25, 1.25]),
    mode=st.sampled_from(["nearest", "linear", "area", "nearest-exact"]),
)
def test_scale_factor_shape_rule_is_torchs(size: int, scale: float, mode: str) -> None:
    spec = _spec(f"  up: {{op: interpolate, scale_factor: [{scale}], mode: {mode}}}\n", "x: [N, 2, L]")
    if int(size * scale) < 1:  # an empty output: torch refuses it (or, in `area` mode, returns it)
        with pytest.raises(netspec.SpecError):
            netspec.infer_shapes(spec, inputs={"x": (1, 2, size)})
        return
    expected = F.interpolate(torch.zeros(1, 2, size), scale_factor=scale, mode=mode).shape[-1]
    symbolic = netspec.infer_shapes(spec)["up"][-1]
    assert symbolic.evaluate({"L": size}) == expected
    assert netspec.infer_shapes(spec, inputs={"x": (1, 2, size)})["up"] == (1, 2, expected)


def test_interpolate_counts_no_macs_and_no_parameters() -> None:
    spec = _spec("  up: {op: interpolate, scale_factor: [2, 2], mode: bilinear}\n")
    assert netspec.count_params(spec) == 0
    from netspec._summary import summarize

    assert summarize(spec, inputs={"x": (1, 4, 8, 8)}).totals.macs == 0


# --- ChannelShuffle -----------------------------------------------------------------------------


@pytest.mark.parametrize(("channels", "groups"), [(8, 2), (12, 3), (6, 6), (5, 1)])
def test_channel_shuffle_is_torchvisions(channels: int, groups: int) -> None:
    spec = _spec(f"  shuffle: {{op: ChannelShuffle, groups: {groups}}}\n", f"x: [N, {channels}, H, W]")
    model = netspec.build(spec)
    x = torch.randn(2, channels, 5, 3)
    assert torch.equal(model(x), channel_shuffle(x, groups))


# --- StochasticDepth ----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["row", "batch"])
@pytest.mark.parametrize("p", [0.0, 0.2, 0.5, 1.0])
def test_stochastic_depth_draws_what_torchvision_draws(mode: str, p: float) -> None:
    ours, theirs = StochasticDepth(p, mode).train(), TorchvisionStochasticDepth(p, mode).train()
    x = torch.randn(16, 3, 4, 4)
    for seed in range(5):
        torch.manual_seed(seed)
        expected = theirs(x)
        torch.manual_seed(seed)
        assert torch.equal(ours(x), expected)
    # and the stream after the draws is the same
    torch.manual_seed(7)
    theirs(x)
    after_theirs = torch.rand(3)
    torch.manual_seed(7)
    ours(x)
    assert torch.equal(torch.rand(3), after_theirs)


def test_stochastic_depth_is_the_identity_in_eval_and_drops_whole_rows_in_training() -> None:
    model = netspec.build(_spec("  drop: {op: StochasticDepth, p: 0.5}\n"))
    x = torch.rand(64, 4, 3, 3) + 1.0
    model.eval()
    assert torch.equal(model(x), x)
    model.train()
    torch.manual_seed(0)
    out = model(x)
    kept = out.flatten(1).ne(0).all(1)
    dropped = out.flatten(1).eq(0).all(1)
    assert bool((kept | dropped).all()) and 0 < int(kept.sum()) < 64
    torch.testing.assert_close(out[kept], x[kept] * 2)


def test_stochastic_depth_in_batch_mode_drops_all_or_nothing() -> None:
    model = netspec.build(_spec("  drop: {op: StochasticDepth, p: 0.5, mode: batch}\n")).train()
    x = torch.rand(8, 4, 2, 2) + 1.0
    seen = set()
    for seed in range(10):
        torch.manual_seed(seed)
        out = model(x)
        assert torch.equal(out, torch.zeros_like(x)) or torch.equal(out, x * 2)
        seen.add(bool(out.any()))
    assert seen == {True, False}


def test_stochastic_depth_refuses_bad_arguments_when_built_in_code() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        StochasticDepth(-0.1)
    with pytest.raises(ValueError, match='"row" or "batch"'):
        StochasticDepth(0.1, "rows")  # type: ignore[arg-type]


# --- the three together -------------------------------------------------------------------------


def test_fixture_compiles_fullgraph_and_exports_with_dynamic_sizes() -> None:
    model = netspec.build(FIXTURE).eval()
    x = torch.randn(2, 3, 37, 50)
    expected = model(x)
    compiled = torch.compile(model, fullgraph=True, backend="eager")
    for a, b in zip(compiled(x), expected):
        torch.testing.assert_close(a, b)
    h, w = torch.export.Dim("h", min=16, max=512), torch.export.Dim("w", min=16, max=512)
    exported = torch.export.export(model, (x,), dynamic_shapes={"x": {2: h, 3: w}})
    y = torch.randn(2, 3, 45, 61)
    for a, b in zip(exported.module()(y), model(y)):
        torch.testing.assert_close(a, b)


def test_fixture_runs_in_training_with_the_same_draws_as_its_modules() -> None:
    model = netspec.build(FIXTURE).train()
    x = torch.randn(4, 3, 21, 30)
    torch.manual_seed(3)
    first = model(x)[0]
    torch.manual_seed(3)
    assert torch.equal(model(x)[0], first)


def test_python_export_copies_stochastic_depth_and_trains_alike() -> None:
    from netspec._export import export_python

    source = export_python(FIXTURE)
    assert "class StochasticDepth(nn.Module):" in source and "import netspec" not in source
    namespace: dict = {"__name__": "exported"}
    exec(compile(source, "exported.py", "exec"), namespace)
    exported, built = namespace["ResizeShuffleDepth"](), netspec.build(FIXTURE)
    exported.load_state_dict(built.state_dict(), strict=True)
    x = torch.randn(8, 3, 21, 30)
    for mode in (True, False):
        exported.train(mode), built.train(mode)
        torch.manual_seed(5)
        expected = built(x)
        torch.manual_seed(5)
        for a, b in zip(exported(x), expected):
            assert torch.equal(a, b)
