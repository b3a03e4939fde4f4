"""The summary table: exact totals, folding by depth, block rows, JSON form."""

from __future__ import annotations

import json
import math

import pytest
from generated_specs import nested_repeat

import netspec
from netspec._summary import BYTES_PER_ELEMENT, summarize

# Published figures (torchvision; the U-Net paper's architecture), conv + linear MACs.
RESNET18_PARAMS = 11_689_512
RESNET18_MACS = 1_814_073_344
UNET_PARAMS = 31_030_658


@pytest.fixture(scope="module")
def resnet18():
    return summarize("resnet18")


def _rows(summary, kind=None):
    return {r.name: r for r in summary.rows if kind is None or r.kind == kind}


def test_resnet18_totals_are_exact(resnet18):
    totals = resnet18.totals
    assert totals.params == RESNET18_PARAMS
    assert totals.trainable_params == RESNET18_PARAMS
    assert totals.macs == RESNET18_MACS
    assert totals.param_bytes == RESNET18_PARAMS * BYTES_PER_ELEMENT
    assert totals.input_bytes == 3 * 224 * 224 * BYTES_PER_ELEMENT


def test_activation_memory_sums_every_node_output(resnet18):
    shapes = netspec.infer_shapes("resnet18", inputs={"x": (1, 3, 224, 224)})
    aliases = netspec._api.prepare("resnet18").graph.aliases  # block outputs, already counted as nodes
    elements = sum(math.prod(shape) for name, shape in shapes.items() if name != "x" and name not in aliases)
    assert resnet18.totals.activation_bytes == elements * BYTES_PER_ELEMENT


def test_node_rows_carry_shapes_params_and_macs(resnet18):
    rows = _rows(resnet18, "node")
    assert rows["conv1"].output == (1, 64, 112, 112)
    assert rows["conv1"].params == 64 * 3 * 7 * 7
    assert rows["conv1"].macs == 64 * 3 * 7 * 7 * 112 * 112
    assert rows["fc"].params == 512 * 1000 + 1000
    assert rows["layer2.0.downsample.0"].depth == 3
    assert sum(r.params for r in rows.values()) == RESNET18_PARAMS


def test_block_rows_sum_their_nodes(resnet18):
    nodes, blocks = _rows(resnet18, "node"), _rows(resnet18, "block")
    for name, row in blocks.items():
        members = [r for n, r in nodes.items() if n.startswith(name + ".")]
        assert row.params == sum(r.params for r in members), name
        assert row.macs == sum(r.macs for r in members), name
    assert blocks["layer1"].op == "stage"  # a block instance holding the stage's two basic blocks
    assert blocks["layer2.0"].op == "basic"
    assert blocks["layer2.0.downsample"].op == "projection"
    assert blocks["layer2"].output == (1, 128, 28, 28)  # the block's output, not its shortcut's


def test_rows_follow_the_tree(resnet18):
    names = [r.name for r in resnet18.rows]
    assert names[:6] == ["x", "conv1", "bn1", "relu", "maxpool", "layer1"]
    assert names.index("layer1") < names.index("layer1.0") < names.index("layer1.0.conv1") < names.index("layer1.1")


@pytest.mark.parametrize("depth", [0, 1, 2])
def test_depth_folds_rows_but_not_totals(resnet18, depth):
    folded = summarize("resnet18", depth=depth)
    assert folded.totals == resnet18.totals
    assert all(r.depth <= depth for r in folded.rows)
    assert all(r.folded == (r.kind == "block" and r.depth == depth) for r in folded.rows)


def test_depth_zero_has_one_row_per_top_level_node():
    summary = summarize("resnet18", depth=0)
    assert [r.name for r in summary.rows] == [
        "x",
        "conv1",
        "bn1",
        "relu",
        "maxpool",
        "layer1",
        "layer2",
        "layer3",
        "layer4",
        "avgpool",
        "flatten",
        "fc",
    ]
    assert summary.rows[5].params == 2 * (2 * 64 * 64 * 9 + 2 * 128)


def test_params_and_input_shapes_are_applied():
    summary = summarize("resnet18", params={"num_classes": 10}, inputs={"x": (2, 3, 64, 64)})
    rows = _rows(summary)
    assert rows["fc"].params == 512 * 10 + 10
    assert rows["conv1"].output == (2, 64, 32, 32)
    assert summary.totals.params == RESNET18_PARAMS - 513_000 + 5_130


@pytest.mark.parametrize("name", netspec.list_specs())
def test_params_agree_with_count_params(name):
    assert summarize(name).totals.params == netspec.count_params(name)


def test_unet_params_and_built_model_agree():
    assert summarize("unet").totals.params == UNET_PARAMS
    model = netspec.build("unet", params={"width": 4})
    assert summarize("unet", params={"width": 4}).totals.params == sum(p.numel() for p in model.parameters())


def test_render_shows_rows_and_totals(resnet18):
    text = resnet18.render()
    assert "Total parameters:      11,689,512" in text
    assert "Total MACs:            1,814,073,344 (1.81 G)" in text
    assert "\n  layer1.0 " in text and "\n    layer1.0.conv1 " in text
    folded = summarize("resnet18", depth=0).render()
    assert "stage (folded)" in folded and "layer1.0" not in folded
    assert "level x5 (folded)" in summarize("unet", depth=0).render()  # a repeat: its block and count


def test_to_dict_is_json(resnet18):
    data = json.loads(json.dumps(resnet18.to_dict()))
    assert data["spec"] == "resnet18"
    assert data["inputs"] == {"x": [1, 3, 224, 224]}
    assert data["totals"]["macs"] == RESNET18_MACS
    assert data["rows"][1] == {
        "name": "conv1",
        "depth": 0,
        "kind": "node",
        "op": "Conv2d",
        "output": [1, 64, 112, 112],
        "params": 9408,
        "macs": 118_013_952,
        "folded": False,
    }


def test_invalid_specs_raise_spec_errors():
    with pytest.raises(netspec.SpecError):
        summarize("resnet18", params={"num_clases": 10})
    with pytest.raises(ValueError, match="depth"):
        summarize("lenet5", depth=-1)


def test_summary_and_validate_agree_on_a_spec_without_dims(tmp_path) -> None:
    """A symbolic size without `dims`: both warn NS212, and the summary runs at the smallest size that fits."""
    import netspec
    from netspec._summary import summarize

    path = tmp_path / "nodims.yaml"
    path.write_text(
        "netspec: 1\nname: nodims\ninputs: {x: [N, 3, H, W]}\nnodes:\n"
        "  conv: {op: Conv2d, out_channels: 8, kernel_size: 5, stride: 2}\n"
        "  pool: {op: MaxPool2d, kernel_size: 2}\n"
        "  gap: {op: AdaptiveAvgPool2d, output_size: 1}\n  flat: {op: Flatten}\n  fc: {op: Linear, out_features: 10}\n"
    )
    found = netspec.validate(str(path))
    table = summarize(str(path))
    assert [(d.code, d.line, d.column) for d in found] == [("NS212", 3, 20), ("NS212", 3, 23)]
    assert [d.message for d in table.warnings] == [d.message for d in found]
    assert table.inputs["x"] == (1, 3, 7, 7)  # (7 - 5) // 2 + 1 = 2, pooled to 1: the smallest exact fit
    assert "`H` = 7" in found[0].message
    assert table.to_dict()["warnings"][0]["code"] == "NS212"
    with_dims = path.read_text().replace("nodes:", "dims: {H: 11, W: 11}\nnodes:")
    path.write_text(with_dims)
    assert netspec.validate(str(path)) == [] and summarize(str(path)).warnings == []


@pytest.mark.parametrize("layout", ["sequence", "flat", "parallel"])
def test_summary_work_is_linear_in_nodes_and_instances(layout):
    """Doubling the instances at most a little more than doubles the summary's steps."""
    small, large = (summarize(nested_repeat(n, layout), inputs={"x": (1, 8)}) for n in (400, 800))
    assert len(large.rows) >= 1.99 * len(small.rows)  # the rows double, but for x, `body`, the join and head
    assert large.work <= 2.1 * small.work, (small.work, large.work)


@pytest.mark.parametrize("layout", ["sequence", "flat", "parallel"])
def test_block_rows_come_from_the_instance_tree(layout):
    summary = summarize(nested_repeat(2, layout), inputs={"x": (1, 8)})
    rows = [(r.name, r.depth, r.kind, r.op) for r in summary.rows]
    if layout == "flat":  # the instances' modules are numbered into the repeat: no row of their own
        assert rows == [
            ("x", 0, "input", "input"),
            ("body", 0, "block", "unit x2"),
            ("body.0", 1, "block", "inner"),
            ("body.0.fc", 2, "node", "Linear"),
            ("body.0.act", 2, "node", "ReLU"),
            ("body.1", 1, "node", "add"),
            ("body.2", 1, "block", "inner"),
            ("body.2.fc", 2, "node", "Linear"),
            ("body.2.act", 2, "node", "ReLU"),
            ("body.3", 1, "node", "add"),
            ("head", 0, "node", "Linear"),
        ]
        graph = netspec._api.prepare(nested_repeat(2, layout)).graph
        assert graph.instances["body"].members == ["body[0]", "body[1]"]
        second = graph.instances["body[1]"]
        assert (second.numbered, second.container, second.output) == (True, False, "body.3")
        assert second.members == ["body.2", "body.3"] and graph.instance_of("body.3") is second
        return
    nested = [
        ("body", 0, "block", "unit x2"),
        ("body.0", 1, "block", "unit"),
        ("body.0.pre", 2, "block", "inner"),
        ("body.0.pre.fc", 3, "node", "Linear"),
        ("body.0.pre.act", 3, "node", "ReLU"),
        ("body.0.skip", 2, "node", "add"),
        ("body.1", 1, "block", "unit"),
        ("body.1.pre", 2, "block", "inner"),
        ("body.1.pre.fc", 3, "node", "Linear"),
        ("body.1.pre.act", 3, "node", "ReLU"),
        ("body.1.skip", 2, "node", "add"),
    ]
    joined = [("body", 0, "node", "add")] if layout == "parallel" else []  # the node that joins the instances
    assert rows == [("x", 0, "input", "input"), *nested, *joined, ("head", 0, "node", "Linear")]
    block = {r.name: r for r in summary.rows if r.kind == "block"}
    assert block["body.0"].params == block["body.0.pre"].params == 8 * 8 + 8
    assert block["body"].params == 2 * (8 * 8 + 8)


def test_a_summary_expands_the_spec_once(monkeypatch):
    """The example sizes and the table are inferred from one expansion (a repeat makes it the main cost)."""
    import netspec._api as api

    calls = []
    real = api.expand
    monkeypatch.setattr(api, "expand", lambda *args, **kwargs: calls.append(args) or real(*args, **kwargs))
    summary = summarize(nested_repeat(3, "sequence"))  # `N` has no `dims`: its size is chosen, then used
    assert len(calls) == 1 and summary.inputs == {"x": (1, 8)}
