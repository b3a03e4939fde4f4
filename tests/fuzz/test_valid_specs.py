"""Generated valid specs build, and the static figures match the built model exactly.

For chains, residual blocks (`add`), U-Net-like levels (`concat` with `crop: center`) and repeats
with index-dependent arguments: `infer_shapes` equals the shapes of the real forward pass for every
module and every output, and `count_params` equals the built model's parameter count.
"""

from __future__ import annotations

from typing import Any

import torch
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import netspec
from netspec._api import prepare

PROPERTY = settings(
    max_examples=40, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow]
)

BLOCKS = {
    "res": {
        "params": {"ch": "int"},
        "nodes": {
            "conv1": {"op": "Conv2d", "out_channels": "$ch", "kernel_size": 3, "padding": 1, "bias": False},
            "bn1": "BatchNorm2d",
            "relu": "ReLU",
            "conv2": {"op": "Conv2d", "out_channels": "$ch", "kernel_size": 3, "padding": 1, "bias": False},
            "add": {"op": "add", "in": ["conv2", "x"]},
        },
    },
    "level": {
        "params": {"ch": "int"},
        "nodes": {
            "down": {"op": "Conv2d", "out_channels": "$ch", "kernel_size": 3},
            "pool": {"op": "MaxPool2d", "kernel_size": 2},
            "mid": {"op": "Conv2d", "out_channels": "$ch", "kernel_size": 3, "padding": 1},
            "up": {"op": "ConvTranspose2d", "out_channels": "$ch", "kernel_size": 2, "stride": 2},
            "cat": {"op": "concat", "in": ["up", "down"], "crop": "center"},
        },
    },
}


@st.composite
def valid_specs(draw: st.DrawFn) -> tuple[dict[str, Any], tuple[int, ...]]:
    """A spec and its input shape; channels and size are tracked so that every layer fits."""
    channels, size = draw(st.integers(1, 3)), draw(st.sampled_from([8, 10, 12, 16]))
    shape = (2, channels, size, size)
    nodes: dict[str, Any] = {}
    for index in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["conv", "act", "norm", "res", "repeat", "level", "pool"]))
        name = f"{kind}{index}"
        if kind == "conv":
            width, kernel = draw(st.integers(1, 6)), draw(st.sampled_from([1, 3]))
            nodes[name] = {"op": "Conv2d", "out_channels": width, "kernel_size": kernel, "padding": kernel // 2}
            channels = width
        elif kind == "act":
            nodes[name] = draw(st.sampled_from(["ReLU", "Tanh", "GELU", "Identity"]))
        elif kind == "norm":
            nodes[name] = "BatchNorm2d"
        elif kind == "res":
            nodes[name] = {"block": "res", "ch": channels, "repeat": draw(st.integers(1, 2))}
        elif kind == "repeat":
            count, base = draw(st.integers(1, 3)), draw(st.integers(1, 4))
            nodes[name] = {
                "op": "Conv2d",
                "repeat": count,
                "out_channels": f"${{{base} * (i + 1)}}",
                "kernel_size": 3,
                "padding": 1,
            }
            channels = base * count
        elif kind == "level" and size >= 6:
            width = draw(st.integers(1, 4))
            nodes[name] = {"block": "level", "ch": width}
            size, channels = 2 * ((size - 2) // 2), 2 * width
        elif kind == "pool" and size >= 4 and size % 2 == 0:
            nodes[name] = {"op": "MaxPool2d", "kernel_size": 2}
            size //= 2
        else:
            nodes[name] = "ReLU"
    spec = {"netspec": 1, "name": "generated", "inputs": {"x": list(shape)}, "blocks": BLOCKS, "nodes": nodes}
    if len(nodes) > 1 and draw(st.booleans()):
        spec["outputs"] = [next(iter(nodes)), list(nodes)[-1]]
    return spec, shape


def forward_shapes(module: torch.nn.Module, shape: tuple[int, ...]) -> tuple[dict[str, tuple[int, ...]], Any]:
    seen: dict[str, tuple[int, ...]] = {}
    hooks = [
        child.register_forward_hook(lambda _m, _i, out, name=name: seen.__setitem__(name, tuple(out.shape)))
        for name, child in module.named_modules()
        if name and not list(child.children())
    ]
    with torch.no_grad():
        output = module.eval()(torch.randn(shape))
    for hook in hooks:
        hook.remove()
    return seen, output


@PROPERTY
@given(valid_specs())
def test_generated_spec_builds_and_matches_its_static_figures(case: tuple[dict[str, Any], tuple[int, ...]]) -> None:
    data, shape = case
    spec = netspec.loads(yaml.safe_dump(data, sort_keys=False))
    netspec.validate(spec)
    module = netspec.build(spec)
    static = netspec.infer_shapes(spec)
    seen, output = forward_shapes(module, shape)
    assert seen and all(tuple(static[name]) == actual for name, actual in seen.items()), (seen, static)
    outputs = output if isinstance(output, tuple) else (output,)
    names = prepare(spec).graph.outputs  # qualified names: a block's output is its last node
    assert [tuple(o.shape) for o in outputs] == [tuple(static[name]) for name in names]
    assert netspec.count_params(spec) == sum(p.numel() for p in module.parameters())


def test_output_shapes_of_a_repeat_and_a_level() -> None:
    data = {"netspec": 1, "name": "g", "inputs": {"x": [1, 3, 12, 12]}, "blocks": BLOCKS,
            "nodes": {"c": {"op": "Conv2d", "repeat": 2, "out_channels": "${2 * (i + 1)}", "kernel_size": 3, "padding": 1},
                      "u": {"block": "level", "ch": 3}}}  # fmt: skip
    spec = netspec.loads(yaml.safe_dump(data, sort_keys=False))
    module = netspec.build(spec)
    assert (
        tuple(module(torch.randn(1, 3, 12, 12)).shape) == tuple(netspec.infer_shapes(spec)["u.cat"]) == (1, 6, 10, 10)
    )
