"""Round trips: generated valid specs load, and `to_dict` gives back an equal `Spec` through Python, JSON and YAML."""

from __future__ import annotations

import json
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import netspec
from netspec import Spec

PROPERTY = settings(
    max_examples=60, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow]
)

RESIDUAL = {
    "params": {"planes": "int", "act": {"type": "bool", "default": True}},
    "nodes": {
        "conv": {"op": "Conv2d", "out_channels": "$planes", "kernel_size": 3, "padding": 1, "bias": False},
        "bn": "BatchNorm2d",
        "add": {"op": "add", "in": ["bn", "x"]},
        "relu": {"op": "ReLU", "when": "$act"},
    },
}
SHAPE_KEEPING = st.sampled_from(
    [
        "ReLU",
        "GELU",
        "Tanh",
        "Identity",
        {"op": "Dropout", "p": 0.25},
        {"op": "LeakyReLU", "negative_slope": 0.1},
        "BatchNorm2d",
    ]
)


@st.composite
def layer(draw: st.DrawFn, channels: int) -> tuple[Any, int]:
    """One node (any valid form) and the channel count after it."""
    kind = draw(st.sampled_from(["conv", "width_conv", "keep", "residual", "repeat"]))
    if kind == "conv":
        out, kernel = draw(st.integers(1, 8)), draw(st.sampled_from([1, 3, 5]))
        node = {"op": "Conv2d", "out_channels": out, "kernel_size": kernel, "padding": kernel // 2}
        if draw(st.booleans()):
            node["in_channels"] = channels
        return node, out
    if kind == "width_conv":
        return {"op": "Conv2d", "out_channels": "${width * 2 if wide else width}", "kernel_size": 1}, -1
    if kind == "keep":
        return draw(SHAPE_KEEPING), channels
    count = draw(st.integers(0, 3)) if kind == "repeat" else None
    node = {"block": "residual", "planes": channels, "act": "${i % 2 == 0}" if count else draw(st.booleans())}
    if count is not None:
        node["repeat"] = count
    return node, channels


@st.composite
def specs(draw: st.DrawFn) -> dict[str, Any]:
    """A valid spec: a chain of layers with random valid arguments, residual blocks, repeats and params."""
    width, wide = draw(st.integers(1, 8)), draw(st.booleans())
    in_channels = channels = draw(st.integers(1, 4))
    nodes: dict[str, Any] = {}
    for k in range(draw(st.integers(1, 8))):
        node, out = draw(layer(channels))
        channels = (width * 2 if wide else width) if out == -1 else out
        nodes[draw(st.sampled_from(["n", "layer", "conv_", "b"])) + str(k)] = node
    return {
        "netspec": 1,
        "name": draw(st.sampled_from(["net", "generated", "chain"])),
        "params": {"width": width, "wide": {"type": "bool", "default": wide, "doc": "double the width"}},
        "inputs": {"x": ["N", in_channels, "H", "W"]},
        "dims": {"H": 8, "W": 8},
        "blocks": {"residual": RESIDUAL},
        "nodes": list(nodes.values()) if draw(st.booleans()) else nodes,
    }


@PROPERTY
@given(specs())
def test_generated_spec_round_trips(data: dict[str, Any]) -> None:
    spec = netspec.load(data)
    assert netspec.validate(spec) == spec.warnings
    plain = spec.to_dict()
    assert Spec.model_validate(plain) == spec
    assert Spec.model_validate(json.loads(json.dumps(plain))) == spec
    assert netspec.loads(yaml.safe_dump(plain, sort_keys=False)) == spec
    assert netspec.loads(json.dumps(plain)) == spec


def test_bundled_specs_round_trip() -> None:
    for name in netspec.list_specs():
        spec = netspec.load(name)
        plain = spec.to_dict()
        assert "extends" not in plain and "remove" not in plain  # a loaded spec is complete
        assert netspec.loads(yaml.safe_dump(plain, sort_keys=False)) == spec, name
        assert Spec.model_validate(json.loads(json.dumps(plain))) == spec, name


def test_equality_ignores_where_a_spec_came_from() -> None:
    text = "name: t\ninputs: {x: [N, 4]}\nnodes: [ReLU]\n"
    a, b = netspec.loads(text), netspec.loads("\n\n" + text)
    assert a.source.span(("name",)) != b.source.span(("name",))
    assert a == b
    assert a != netspec.loads(text.replace("ReLU", "Tanh"))
