"""The window ops against torch and torchvision: `window_partition`, `window_reverse`, `window_mask`,
`patch_merge`, `index_select`, `scale` and `RelativePositionIndex`.

Each op's static shape rule must give the shape torch computes; `window_partition` is checked
against a token-by-token reference, the others against torchvision's Swin code, and
tests/specs/valid/window_attention.yaml (shifted-window attention written with these ops) against
torchvision's `ShiftedWindowAttention`, bit for bit, at sizes that need padding and at sizes where
one window covers the map (so that the shift is ignored).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import netspec

torchvision = pytest.importorskip("torchvision")
from torchvision.models import swin_transformer as tv_swin  # noqa: E402

from netspec._windows import relative_position_index  # noqa: E402

FIXTURE = Path(__file__).parent / "specs" / "valid" / "window_attention.yaml"


def _spec(inputs: dict[str, list[Any]], nodes: dict[str, Any], outputs: list[str] | None = None) -> Any:
    data: dict[str, Any] = {"name": "t", "inputs": inputs, "nodes": nodes}
    if outputs:
        data["outputs"] = outputs
    return netspec.load(data)


def _partition_reference(x: torch.Tensor, window: list[int], shift: list[int]) -> torch.Tensor:
    """Token by token: window (b, i, j), token (r, c) is the padded map at the shifted place."""
    batch, height, width, channels = x.shape
    wh, ww = window
    full_h, full_w = -(-height // wh) * wh, -(-width // ww) * ww
    padded = torch.zeros(batch, full_h, full_w, channels)
    padded[:, :height, :width] = x
    sh = 0 if wh >= full_h else shift[0]
    sw = 0 if ww >= full_w else shift[1]
    out = torch.empty(batch * (full_h // wh) * (full_w // ww), wh * ww, channels)
    k = 0
    for b in range(batch):
        for i in range(full_h // wh):
            for j in range(full_w // ww):
                for r in range(wh):
                    for c in range(ww):
                        out[k, r * ww + c] = padded[b, (i * wh + r + sh) % full_h, (j * ww + c + sw) % full_w]
                k += 1
    return out


@st.composite
def windows(draw: st.DrawFn) -> tuple[list[int], list[int], list[int]]:
    shape = [draw(st.integers(1, 2)), draw(st.integers(1, 9)), draw(st.integers(1, 9)), draw(st.integers(1, 3))]
    window = [draw(st.integers(1, 5)), draw(st.integers(1, 5))]
    shift = [draw(st.integers(0, window[0] - 1)), draw(st.integers(0, window[1] - 1))]
    return shape, window, shift


@settings(max_examples=25, deadline=None)
@given(windows())
def test_partition_and_reverse_match_the_reference_and_undo_each_other(
    case: tuple[list[int], list[int], list[int]],
) -> None:
    shape, window, shift = case
    args = {"window_size": window, "shift_size": shift}
    spec = _spec(
        {"x": shape},
        {
            "windows": {"op": "window_partition", **args},
            "back": {"op": "window_reverse", "in": ["windows", "x"], **args},
        },
        ["windows", "back"],
    )
    x = torch.randn(shape)
    cut, back = netspec.build(spec)(x)
    shapes = netspec.infer_shapes(spec)
    assert tuple(cut.shape) == shapes["windows"] and tuple(back.shape) == shapes["back"] == tuple(shape)
    assert torch.equal(cut, _partition_reference(x, window, shift))
    assert torch.equal(back, x)


def _attention(height: int, width: int, window: int, shift: int, dim: int = 32, heads: int = 4) -> None:
    spec = netspec.load(FIXTURE)
    params = {"dim": dim, "heads": heads, "window": window, "shift": shift}
    ours = netspec.build(spec, params=params, inputs={"x": [2, height, width, dim]})
    theirs = tv_swin.ShiftedWindowAttention(dim, [window, window], [shift, shift], heads)
    state = ours.state_dict()
    assert list(state) == ["attn." + k for k in theirs.state_dict()]
    assert torch.equal(state["attn.relative_position_index"], theirs.relative_position_index)
    ours.load_state_dict({"attn." + k: v for k, v in theirs.state_dict().items()}, strict=True)
    x = torch.randn(2, height, width, dim)
    assert torch.equal(ours(x), theirs(x))


@pytest.mark.parametrize(
    ("height", "width", "window", "shift"),
    [(14, 14, 7, 3), (14, 14, 7, 0), (10, 17, 7, 3), (5, 9, 7, 3), (7, 7, 7, 3), (9, 6, 4, 2), (8, 8, 4, 1)],
)
def test_shifted_window_attention_is_torchvisions(height: int, width: int, window: int, shift: int) -> None:
    _attention(height, width, window, shift)


def test_the_shift_applies_along_one_axis_when_one_window_covers_the_other() -> None:
    """A 5 x 20 map with 7 x 7 windows: padded to 7 x 21, shifted along the width only."""
    _attention(5, 20, 7, 3, dim=8, heads=2)
    scores = torch.randn(6, 2, 49, 49)
    like = torch.zeros(2, 5, 20, 8)
    masked = netspec._windows.window_mask(scores, like, [7, 7], [3, 3])
    assert not torch.equal(masked, scores)
    assert torch.equal(netspec._windows.window_mask(scores, like, [7, 7], [0, 0]), scores)


@pytest.mark.parametrize("window", [[7, 7], [3, 5], [1, 4], [2, 1]])
def test_relative_position_index_is_torchvisions(window: list[int]) -> None:
    spec = _spec({"x": [1, 2]}, {"index": {"op": "RelativePositionIndex", "window_size": window}}, ["index"])
    built = netspec.build(spec)
    theirs = tv_swin.ShiftedWindowAttention(8, window, [0, 0], 2).relative_position_index
    assert netspec.infer_shapes(spec)["index"] == tuple(theirs.shape)
    assert built.index.dtype == torch.int64 and torch.equal(built.index, theirs)
    assert "index" in built.state_dict()
    kept = _spec({"x": [1, 2]}, {"index": {"op": "RelativePositionIndex", "window_size": window, "persistent": False}})
    assert "index" not in netspec.build(kept).state_dict()


@pytest.mark.parametrize("window", [[7, 7], [3, 5], [1, 4]])
def test_relative_position_index_in_maxvits_layout(window: list[int]) -> None:
    from torchvision.models.maxvit import _get_relative_position_index

    node = {"op": "RelativePositionIndex", "window_size": window, "flat": False}
    spec = _spec({"x": [1, 2]}, {"index": node}, ["index"])
    theirs = _get_relative_position_index(*window)
    assert netspec.infer_shapes(spec)["index"] == tuple(theirs.shape)
    built = netspec.build(spec).index
    assert built.dtype == torch.int64 and torch.equal(built, theirs)


@pytest.mark.parametrize("shape", [[2, 8, 8, 3], [1, 7, 5, 4], [3, 2, 6, 6, 2], [1, 1, 1, 1]])
def test_patch_merge_is_torchvisions(shape: list[int]) -> None:
    spec = _spec({"x": shape}, {"merged": {"op": "patch_merge"}})
    x = torch.randn(shape)
    out = netspec.build(spec)(x)
    expected = tv_swin._patch_merging_pad(x)
    assert tuple(out.shape) == tuple(expected.shape) == netspec.infer_shapes(spec)["merged"]
    assert torch.equal(out, expected)


def test_symbolic_sizes_count_the_padded_windows() -> None:
    spec = _spec(
        {"x": ["N", "H", "W", 16]},
        {
            "windows": {"op": "window_partition", "window_size": [7, 7], "shift_size": [3, 3]},
            "back": {"op": "window_reverse", "in": ["windows", "x"], "window_size": [7, 7], "shift_size": [3, 3]},
            "merged": {"op": "patch_merge", "in": "x"},
        },
        ["back", "merged"],
    )
    shapes = netspec.infer_shapes(spec)
    count = shapes["windows"][0]
    for height, width, expected in [(7, 7, 1), (8, 7, 2), (14, 15, 6), (1, 22, 4)]:
        assert count.evaluate({"N": 3, "H": height, "W": width}) == 3 * expected
    assert shapes["windows"][1:] == (49, 16)
    assert [str(d) for d in shapes["back"]] == ["N", "H", "W", "16"]
    merged = shapes["merged"]
    assert merged[3] == 64
    assert [merged[i].evaluate({"N": 1, "H": 7, "W": 8}) for i in (1, 2)] == [4, 4]


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_index_select_picks_rows_by_a_buffer(dim: int) -> None:
    spec = _spec(
        {"x": [4, 5, 6]},
        {
            "index": {"op": "RelativePositionIndex", "window_size": [1, 2]},
            "picked": {"op": "index_select", "in": ["x", "index"], "dim": dim},
        },
    )
    x = torch.randn(4, 5, 6)
    out = netspec.build(spec)(x)
    expected = torch.index_select(x, dim, torch.tensor([1, 0, 2, 1]))
    assert tuple(out.shape) == netspec.infer_shapes(spec)["picked"] and torch.equal(out, expected)


def test_scale_multiplies_by_a_number() -> None:
    spec = _spec({"x": [2, 3]}, {"scaled": {"op": "scale", "by": 32**-0.5}})
    x = torch.randn(2, 3)
    assert torch.equal(netspec.build(spec)(x), x * 32**-0.5)


def test_window_attention_counts_the_projections_and_both_products() -> None:
    """At 14 x 14 with 7 x 7 windows: 4 windows of 49 tokens, 4 heads of width 8; the window ops
    themselves count no MACs and hold no parameters (the index is a buffer)."""
    tokens = 4 * 49
    projections = tokens * 32 * 96 + tokens * 32 * 32
    products = 2 * 4 * 4 * 49 * 49 * 8  # scores and the weighted sum, per window and head
    assert netspec.summarize(FIXTURE).totals.macs == projections + products
    assert netspec.count_params(FIXTURE) == 13 * 13 * 4 + 32 * 96 + 96 + 32 * 32 + 32


def test_window_ops_compile_fullgraph_and_export() -> None:
    model = netspec.build(FIXTURE, params={"dim": 16, "heads": 2}, inputs={"x": [2, 10, 12, 16]}).eval()
    x = torch.randn(2, 10, 12, 16)
    with torch.no_grad():
        expected = model(x)
        compiled = torch.compile(model, fullgraph=True, backend="eager")
        torch.testing.assert_close(compiled(x), expected, rtol=0, atol=0)
    batch = torch.export.Dim("batch", min=1, max=16)
    exported = torch.export.export(model, (x,), dynamic_shapes={"x": {0: batch}})
    torch.testing.assert_close(exported.module()(x), expected)
    torch.testing.assert_close(exported.module()(x[:1]), expected[:1])


FIXTURE_V2 = Path(__file__).parent / "specs" / "valid" / "window_attention_v2.yaml"


@pytest.mark.parametrize(
    ("height", "width", "window", "shift"), [(16, 16, 8, 4), (10, 19, 8, 4), (5, 9, 4, 2), (8, 8, 8, 4)]
)
def test_swin_v2_attention_is_torchvisions(height: int, width: int, window: int, shift: int) -> None:
    """Cosine attention, the clamped learned scale and the MLP's position bias from the coordinates table."""
    spec = netspec.load(FIXTURE_V2)
    ours = netspec.build(spec, params={"window": window, "shift": shift}, inputs={"x": [2, height, width, 32]})
    theirs = tv_swin.ShiftedWindowAttentionV2(32, [window, window], [shift, shift], 4)
    state = ours.state_dict()
    assert list(state) == ["attn." + k for k in theirs.state_dict()]
    for key in ("relative_coords_table", "relative_position_index"):  # computed alike in a fresh build
        assert torch.equal(state["attn." + key], theirs.state_dict()[key])
    ours.load_state_dict({"attn." + k: v for k, v in theirs.state_dict().items()}, strict=True)
    x = torch.randn(2, height, width, 32)
    with torch.no_grad():
        assert torch.equal(ours(x), theirs(x))


@pytest.mark.parametrize("window", [[8, 8], [3, 5], [2, 7]])
def test_relative_coords_table_is_torchvisions(window: list[int]) -> None:
    spec = _spec({"x": [1, 2]}, {"table": {"op": "RelativeCoordsTable", "window_size": window}}, ["table"])
    theirs = tv_swin.ShiftedWindowAttentionV2(8, window, [0, 0], 2).relative_coords_table
    assert netspec.infer_shapes(spec)["table"] == tuple(theirs.shape)
    assert torch.equal(netspec.build(spec).table, theirs)


def test_normalize_clamp_and_exp_equal_torch() -> None:
    spec = _spec(
        {"x": [2, 3, 5]},
        {
            "unit": {"op": "normalize", "dim": -1},
            "low": {"op": "clamp", "in": "x", "max": 0.5},
            "band": {"op": "clamp", "in": "x", "min": -0.25, "max": 0.25},
            "grown": {"op": "exp", "in": "x"},
        },
        ["unit", "low", "band", "grown"],
    )
    x = torch.randn(2, 3, 5)
    unit, low, band, grown = netspec.build(spec)(x)
    assert torch.equal(unit, torch.nn.functional.normalize(x, dim=-1))
    assert torch.equal(low, x.clamp(max=0.5)) and torch.equal(band, x.clamp(-0.25, 0.25))
    assert torch.equal(grown, x.exp())
    assert all(shape == (2, 3, 5) for shape in netspec.infer_shapes(spec).values())


@pytest.mark.parametrize(("rows", "fits"), [(49, True), (50, True), (48, False)])
def test_index_select_refuses_an_index_past_the_table_as_torch_does(rows: int, fits: bool) -> None:
    # A window of 4 x 4 has offsets in 7 x 7 = 49 rows of the bias table.
    spec = netspec.load(
        {
            "name": "t",
            "inputs": {"x": ["N", 8]},
            "nodes": {
                "table": {"op": "Parameter", "shape": [rows, 2], "init": "ones"},
                "index": {"op": "RelativePositionIndex", "window_size": [4, 4]},
                "bias": {"op": "index_select", "in": ["table", "index"]},
            },
            "outputs": ["bias"],
        }
    )
    table = torch.ones(rows, 2)
    index = relative_position_index([4, 4])
    if fits:
        netspec.validate(spec)
        assert tuple(netspec.build(spec)(torch.zeros(1, 8)).shape) == tuple(torch.index_select(table, 0, index).shape)
    else:
        with pytest.raises(IndexError, match="index out of range in self"):
            torch.index_select(table, 0, index)
        with pytest.raises(netspec.SpecError, match="index out of range in self"):
            netspec.validate(spec)
        with pytest.raises(netspec.SpecError, match="index out of range in self"):
            netspec.export_python(spec)  # refused as validation refuses it, not in the exporter


def test_linear_applies_the_tensors_other_nodes_give() -> None:
    spec = _spec(
        {"x": [2, 5, 3]},
        {
            "weight": {"op": "Parameter", "shape": [4, 3], "init": "ones"},
            "bias": {"op": "Parameter", "shape": [4], "init": {"constant": 0.5}},
            "out": {"op": "linear", "in": ["x", "weight", "bias"]},
            "plain": {"op": "linear", "in": ["x", "weight"]},
        },
        ["out", "plain"],
    )
    model = netspec.build(spec)
    x = torch.randn(2, 5, 3)
    out, plain = model(x)
    assert torch.equal(out, torch.nn.functional.linear(x, model.weight, model.bias))
    assert torch.equal(plain, x @ model.weight.T) and tuple(out.shape) == netspec.infer_shapes(spec)["out"]
    assert netspec.summarize(spec).totals.macs == 2 * (2 * 5 * 4 * 3)
