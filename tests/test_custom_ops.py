"""Custom ops: registered classes and functions, their checked arguments and shape rules, plugins."""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Callable, Iterator

import pytest
import torch
from torch import nn

import netspec
from netspec import _ops


class ChannelScale(nn.Module):
    """Multiply each channel by a learned factor."""

    def __init__(self, channels: int, start: float = 1.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.full((channels,), start))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight[:, None, None]


def shifted_relu(x: torch.Tensor, *, shift: float = 0.0) -> torch.Tensor:
    """ReLU of `x - shift`."""
    return torch.relu(x - shift)


def keep_shape(inputs, args, check):
    return inputs[0]


@pytest.fixture
def register() -> Iterator[Callable]:
    """`netspec.register_op` that unregisters what it registered when the test ends."""
    names: list[str] = []

    def register_op(name: str, *args, **kwargs):
        names.append(name)
        return netspec.register_op(name, *args, **kwargs)

    yield register_op
    for name in names:
        _ops.unregister_op(name)


def _spec(nodes: dict, inputs: list | None = None) -> dict:
    return {"netspec": 1, "name": "custom", "inputs": {"x": inputs or ["N", 4, "H", "W"]}, "nodes": nodes}


def test_a_registered_module_class_in_a_spec(register):
    register("ChannelScale", ChannelScale, shape=keep_shape)
    spec = _spec(
        {
            "conv": {"op": "Conv2d", "out_channels": 6, "kernel_size": 1},
            "scale": {"op": "ChannelScale", "channels": 6, "start": 2.0},
        }
    )
    model = netspec.build(spec)
    assert isinstance(model.scale, ChannelScale) and torch.all(model.scale.weight == 2)
    assert "self.scale(" in model.code
    assert netspec.count_params(spec) == 4 * 6 + 6 + 6
    x = torch.randn(1, 4, 5, 5)
    assert torch.allclose(model(x), model.conv(x) * 2)


def test_a_registered_function_decorator(register):
    decorated = register("shifted_relu", shape=keep_shape)(shifted_relu)
    assert decorated is shifted_relu
    model = netspec.build(_spec({"act": {"op": "shifted_relu", "shift": 0.5}}))
    x = torch.randn(1, 4, 3, 3)
    assert torch.equal(model(x), torch.relu(x - 0.5))
    assert not list(model.parameters())


def test_arguments_of_custom_ops_are_checked_against_the_signature(register):
    register("ChannelScale", ChannelScale, shape=keep_shape)
    register("shifted_relu", shifted_relu, shape=keep_shape)
    with pytest.raises(netspec.SpecError, match="did you mean `channels`"):
        netspec.load(_spec({"scale": {"op": "ChannelScale", "chanels": 4}}))
    with pytest.raises(netspec.SpecError, match="shift"):
        netspec.load(_spec({"act": {"op": "shifted_relu", "shift": "high"}}))
    with pytest.raises(netspec.SpecError, match="channels"):
        netspec.load(_spec({"scale": {"op": "ChannelScale"}}))  # required, and not inferable


def test_the_shape_rule_is_used_in_inference(register):
    calls = []

    def halve(inputs, args, check):
        calls.append(inputs[0])
        n, c, h, w = inputs[0]
        return (n, c, h // 2, w // 2)

    register("Halve", lambda x: x[..., ::2, ::2], shape=halve)
    shapes = netspec.infer_shapes(_spec({"halved": "Halve"}))
    assert [str(d) for d in shapes["halved"]] == ["N", "4", "H//2", "W//2"]
    assert netspec.infer_shapes(_spec({"halved": "Halve"}), inputs={"x": (1, 4, 8, 8)})["halved"] == (1, 4, 4, 4)
    assert len(calls) == 2


def test_without_a_shape_rule_only_concrete_sizes_work(register):
    register("ChannelScale", ChannelScale)
    spec = _spec({"scale": {"op": "ChannelScale", "channels": 4}})
    assert netspec.infer_shapes(spec, inputs={"x": (2, 4, 3, 3)})["scale"] == (2, 4, 3, 3)  # run on meta tensors
    with pytest.raises(netspec.SpecError, match="has no shape rule"):
        netspec.infer_shapes(spec)


def test_a_spec_can_only_name_registered_ops(monkeypatch):
    def forbidden(*args):
        raise AssertionError("os.system was called")

    monkeypatch.setattr(os, "system", forbidden)
    for name in ("os.system", "torch.nn.Conv2d", "__import__", "eval"):
        with pytest.raises(netspec.SpecError) as info:
            netspec.build(_spec({"bad": {"op": name}}))
        assert info.value.diagnostics[0].code == "NS141", name
    with pytest.raises(netspec.SpecError, match=r"`os\.system` is not an op: ops are names from the catalog"):
        netspec.load(_spec({"bad": {"op": "os.system"}}))


def test_unregistering_removes_the_op(register):
    register("ChannelScale", ChannelScale, shape=keep_shape)
    _ops.unregister_op("ChannelScale")
    register("ChannelScale2", ChannelScale, shape=keep_shape)  # the fixture still has one to remove
    with pytest.raises(netspec.SpecError, match="unknown op `ChannelScale`"):
        netspec.load(_spec({"scale": {"op": "ChannelScale", "channels": 4}}))
    _ops.register_op("ChannelScale", ChannelScale, shape=keep_shape)  # so that the fixture can remove it


PLUGIN = '''
import torch
from torch import nn


class PluginGate(nn.Module):
    """Gate each value by a sigmoid of itself."""

    def __init__(self, scale: float = 1.0) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.scale * x)
'''


@pytest.fixture
def plugin_on_path(tmp_path, monkeypatch) -> Iterator[None]:
    """An installed distribution, on sys.path, declaring a `netspec.ops` entry point."""
    (tmp_path / "netspec_test_plugin.py").write_text(PLUGIN)
    dist_info = tmp_path / "netspec_test_plugin-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: netspec-test-plugin\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text(
        textwrap.dedent("""\
            [netspec.ops]
            PluginGate = netspec_test_plugin:PluginGate
        """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(_ops, "_plugins_scanned", False)
    monkeypatch.setattr(_ops, "_plugins_loaded", set())
    yield
    if "PluginGate" in _ops._registered:
        _ops.unregister_op("PluginGate")
    sys.modules.pop("netspec_test_plugin", None)


def test_a_plugin_op_is_found_through_its_entry_point(plugin_on_path):
    assert "PluginGate" not in _ops._registered
    model = netspec.build(_spec({"gate": {"op": "PluginGate", "scale": 2.0}}, ["N", 4, 3, 3]))
    assert type(model.gate).__name__ == "PluginGate" and model.gate.scale == 2.0
    x = torch.randn(1, 4, 3, 3)
    assert torch.allclose(model(x), x * torch.sigmoid(2 * x))


def test_plugins_through_a_patched_entry_point_list(monkeypatch):
    class Entry:
        name, value = "PatchedScale", "somewhere:ChannelScale"

        def load(self):
            return ChannelScale

    monkeypatch.setattr(
        _ops.importlib.metadata, "entry_points", lambda group: [Entry()] if group == "netspec.ops" else []
    )
    monkeypatch.setattr(_ops, "_plugins_scanned", False)
    monkeypatch.setattr(_ops, "_plugins_loaded", set())
    try:
        spec = _spec({"scale": {"op": "PatchedScale", "channels": 4}}, ["N", 4, 2, 2])
        assert netspec.count_params(spec) == 4
    finally:
        _ops.unregister_op("PatchedScale")
