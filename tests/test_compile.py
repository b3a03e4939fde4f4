"""The compiler's guarantees: a plain GraphModule that PyTorch's tools accept, built only after
shapes and sizes are checked, initialised deterministically by the spec's rules."""

from __future__ import annotations

import copy
import math
import pickle
import re
import tracemalloc
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from torch import fx

import netspec

ROOT = Path(__file__).resolve().parents[1]
IMAGE = (1, 3, 64, 64)
TILE = (1, 1, 188, 188)


@pytest.fixture(scope="module")
def resnet() -> fx.GraphModule:
    torch.manual_seed(0)
    return netspec.build("resnet18", params={"num_classes": 10}).eval()


@pytest.fixture(scope="module")
def unet() -> fx.GraphModule:
    torch.manual_seed(0)
    return netspec.build("unet", params={"width": 4}).eval()


def _image(shape: tuple[int, ...] = IMAGE, seed: int = 1) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def _close(a: torch.Tensor, b: torch.Tensor, tol: float = 1e-5) -> bool:
    return a.shape == b.shape and torch.allclose(a, b, atol=tol, rtol=tol)


# --- the generated module ------------------------------------------------------------------------


def test_build_returns_a_graph_module_with_submodules_at_qualified_names(resnet):
    assert isinstance(resnet, fx.GraphModule)
    names = dict(resnet.named_modules())
    assert isinstance(names["layer2.0.downsample.0"], torch.nn.Conv2d)
    assert isinstance(names["layer4.1.bn2"], torch.nn.BatchNorm2d)
    assert list(resnet.state_dict())[:3] == ["conv1.weight", "bn1.weight", "bn1.bias"]
    assert resnet.meta["netspec"]["spec"] == "resnet18"


def test_generated_code_calls_the_submodules_directly(resnet):
    code = resnet.code
    assert "def forward(self, x):" in code
    assert "self.conv1(" in code and 'getattr(self.layer1, "0").conv2(' in code
    assert 'getattr(getattr(self.layer2, "0").downsample, "0")(' in code
    calls = [n for n in resnet.graph.nodes if n.op == "call_module"]
    leaves = [name for name, m in resnet.named_modules() if not list(m.children())]
    assert sorted(n.target for n in calls) == sorted(leaves)
    # Nothing between the spec and the tensors at call time: no lookups by name, no loops.
    assert not re.search(r"\bfor\b|\bwhile\b|getattr\(self, ", code)


def _spec_line(name: str, start: str) -> int:
    lines = (ROOT / "specs" / f"{name}.yaml").read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.startswith(start))


def test_print_readable_points_at_the_spec_lines(resnet):
    text = resnet.print_readable(print_output=False)
    assert f"resnet18.yaml:{_spec_line('resnet18', '  conv1:')} in conv1, code: conv1: {{op: Conv2d" in text
    assert f"resnet18.yaml:{_spec_line('resnet18', '      add:')} in layer3.1.add" in text
    assert f"resnet18.yaml:{_spec_line('resnet18', '  x:')} in x" in text  # the input guard
    for node in resnet.graph.nodes:
        if node.op in ("call_module", "call_function"):
            assert node.stack_trace and "resnet18.yaml" in node.stack_trace, node.name


# --- compatibility with PyTorch's tools ----------------------------------------------------------


def test_torch_jit_script(resnet, unet):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit.script is deprecated in torch 2.13
        warnings.simplefilter("ignore", FutureWarning)  # and in torch 2.14, with a FutureWarning
        # GraphModule's own __init__ annotates empty containers; TorchScript warns about torch's code.
        warnings.filterwarnings("ignore", message=".*instance-level annotations on empty non-base types")
        scripted = [torch.jit.script(model) for model in (resnet, unet)]
    x, tile = _image(), _image(TILE)
    assert torch.equal(scripted[0](x), resnet(x))
    assert torch.equal(scripted[1](tile), unet(tile))


def test_torch_compile_fullgraph(unet):
    torch._dynamo.reset()
    compiled = torch.compile(unet, fullgraph=True, backend="eager")  # fullgraph: a graph break raises
    tile = _image(TILE)
    assert torch.equal(compiled(tile), unet(tile))


@pytest.mark.slow
def test_torch_compile_inductor(request):
    # A cold inductor cache compiles C++ for minutes on 2 cores: run only when asked (`-m slow`).
    if "slow" not in request.config.option.markexpr or "not slow" in request.config.option.markexpr:
        pytest.skip("inductor compiles for minutes with a cold cache; run with `-m slow`")
    torch._dynamo.reset()
    torch.manual_seed(0)
    model = netspec.build("lenet5").eval()
    compiled = torch.compile(model, fullgraph=True)
    x = _image((2, 1, 28, 28))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # inductor's own use of torch.jit APIs
        assert _close(compiled(x), model(x))


def test_torch_export(resnet, unet):
    for model, x in ((resnet, _image()), (unet, _image(TILE))):
        program = torch.export.export(model, (x,))
        assert _close(program.module()(x), model(x))


def test_deepcopy_and_pickle(resnet, unet):
    for model, x in ((resnet, _image()), (unet, _image(TILE))):
        expected = model(x)
        clone = copy.deepcopy(model)
        assert torch.equal(clone(x), expected)
        restored = pickle.loads(pickle.dumps(model))
        assert isinstance(restored, fx.GraphModule)
        assert torch.equal(restored(x), expected)
        assert restored.code == model.code


def test_float64(resnet):
    x = _image()
    expected = resnet(x)
    doubled = copy.deepcopy(resnet).to(dtype=torch.float64)
    assert _close(doubled(x.double()).float(), expected)
    built = netspec.build("resnet18", params={"num_classes": 10}, dtype=torch.float64)
    assert {p.dtype for p in built.parameters()} == {torch.float64}
    assert built.eval()(x.double()).dtype == torch.float64


def test_channels_last_gives_the_same_outputs(resnet):
    x = _image()
    expected = resnet(x)
    model = copy.deepcopy(resnet).to(memory_format=torch.channels_last)
    assert model.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    assert _close(model(x.to(memory_format=torch.channels_last)), expected, 1e-4)


def test_autocast_bfloat16(resnet, unet):
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert resnet(_image()).dtype == torch.bfloat16
        assert unet(_image(TILE)).shape == (1, 2, 4, 4)


# --- shapes before weights -----------------------------------------------------------------------

HUGE = {
    "netspec": 1,
    "name": "huge",
    "inputs": {"x": ["N", 100_000]},
    "nodes": {f"fc{i}": {"op": "Linear", "out_features": 100_000} for i in range(1, 4)},
}
HUGE_COUNT = 3 * (100_000 * 100_000 + 100_000)


@pytest.fixture
def traced() -> Iterator[None]:
    tracemalloc.start()
    try:
        yield
    finally:
        tracemalloc.stop()


def test_counting_and_inferring_a_huge_model_allocates_nothing(traced):
    assert netspec.count_params(HUGE) == HUGE_COUNT
    shapes = netspec.infer_shapes(HUGE, inputs={"x": (8, 100_000)})
    assert shapes["fc3"] == (8, 100_000)
    assert tracemalloc.get_traced_memory()[1] < 50 * 2**20


def test_build_refuses_a_model_over_the_budget_before_allocating(traced):
    with pytest.raises(netspec.SpecError) as info:
        netspec.build(HUGE)
    assert tracemalloc.get_traced_memory()[1] < 50 * 2**20
    (diagnostic,) = info.value.diagnostics
    assert diagnostic.code == "NS190"
    assert f"{HUGE_COUNT:,} parameters" in diagnostic.message and "2,147,483,648" in diagnostic.message
    assert "`fc1`" in diagnostic.message and "max_params=" in diagnostic.hint


def test_max_params_override():
    small = {
        "netspec": 1,
        "name": "small",
        "inputs": {"x": ["N", 8]},
        "nodes": {"fc": {"op": "Linear", "out_features": 8}},
    }
    assert netspec.count_params(small) == 72
    with pytest.raises(netspec.SpecError, match="72 parameters and buffer elements, over the budget of 50"):
        netspec.build(small, max_params=50)
    assert sum(p.numel() for p in netspec.build(small, max_params=72).parameters()) == 72


BROKEN_RESNET = """\
netspec: 1
name: broken
inputs:
  x: [N, 64, 56, 56]
blocks:
  basic:
    params: {planes: int, stride: {type: int, default: 1}}
    nodes:
      conv1: {op: Conv2d, out_channels: $planes, kernel_size: 3, stride: $stride, padding: 1, bias: false}
      bn1: BatchNorm2d
      relu: ReLU
      conv2: {op: Conv2d, out_channels: $planes, kernel_size: 3, padding: 1, bias: false}
      bn2: BatchNorm2d
      add: {op: add, in: [bn2, x]}
      out: ReLU
nodes:
  layer1: {block: basic, repeat: 2, planes: 64}
  layer2: {block: basic, repeat: 2, planes: 128, stride: "${2 if i == 0 else 1}"}
"""


def test_a_shape_mismatch_names_node_line_and_both_shapes(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN_RESNET)
    with pytest.raises(netspec.SpecError) as info:
        netspec.build(path)
    (diagnostic,) = [d for d in info.value.diagnostics if d.is_error]
    assert diagnostic.message == "`layer2.0.add`: cannot add [N, 128, 28, 28] and [N, 64, 56, 56]"
    add_line = BROKEN_RESNET.splitlines().index("      add: {op: add, in: [bn2, x]}") + 1
    assert Path(diagnostic.file).resolve() == path.resolve()
    assert (diagnostic.line, diagnostic.column, diagnostic.end_column) == (add_line, 12, 35)
    assert "projection" in diagnostic.hint
    rendered = str(info.value)
    assert f"broken.yaml:{add_line}:12" in rendered and "add: {op: add, in: [bn2, x]}" in rendered


def _concat_spec(skip: list) -> dict:
    return {
        "netspec": 1,
        "name": "crop",
        "inputs": {"x": ["N", 4, "H", "W"], "skip": ["N", 4, *skip]},
        "nodes": {"cat": {"op": "concat", "in": ["x", "skip"], "crop": "center"}},
    }


def test_concat_with_crop_needs_every_input_at_least_as_large_as_the_target():
    spec = _concat_spec([20, 20])  # symbolically the fixed 20 is the smaller size: `x` is cropped to it
    lattice = netspec.valid_sizes(spec)["H"]
    assert lattice.runs[0] == 20 and lattice.exact[:3] == (20, 22, 24)  # an odd difference is off-center
    with pytest.raises(netspec.SpecError) as info:
        netspec.validate(spec, inputs={"x": (1, 4, 16, 16)})
    first = info.value.diagnostics[0]
    assert first.message == "`cat` at H=16: the `concat` input sizes in dimension 2: 16 is smaller than 20"
    assert first.hint.startswith("`H` = 20 fits")
    (warning, _) = netspec.validate(spec, inputs={"x": (1, 4, 23, 23)})
    assert "differ by 3, an odd number" in warning.message and warning.hint.startswith("`H` = 22 or 24 fit")
    model = netspec.build(spec, inputs={"x": (1, 4, 24, 24)})
    assert model(torch.ones(1, 4, 24, 24), torch.zeros(1, 4, 20, 20)).shape == (1, 8, 20, 20)


def test_infer_shapes_concrete_and_symbolic():
    symbolic = netspec.infer_shapes("resnet18")
    assert str(symbolic["x"][2]) == "H" and symbolic["fc"][1] == 1000
    assert [str(d) for d in symbolic["layer2.0.add"]] == ["N", "128", "(H+7)//8", "(W+7)//8"]
    concrete = netspec.infer_shapes("resnet18", inputs={"x": (2, 3, 224, 224)})
    assert concrete["layer2.0.add"] == (2, 128, 28, 28) and concrete["fc"] == (2, 1000)
    assert netspec.infer_shapes("resnet18", params={"num_classes": 7}, inputs={"x": (1, 3, 64, 64)})["fc"] == (1, 7)
    with pytest.raises(netspec.SpecError, match="unknown input `y`"):
        netspec.infer_shapes("resnet18", inputs={"y": (1, 3, 64, 64)})
    with pytest.raises(netspec.SpecError, match=r"\[1, 4, 64, 64\] does not fit it"):
        netspec.infer_shapes("resnet18", inputs={"x": (1, 4, 64, 64)})


# --- initialisation ------------------------------------------------------------------------------

SMALL = {
    "resnet18": {"num_classes": 10},
    "resnet34": {"num_classes": 10},
    "resnet50": {"num_classes": 10},
    "unet": {"width": 4},
    "unet-same": {"width": 4},
    "unet3d": {"width": 4},
    "lab-resnet18": {},
    "lenet5": {},
    "m5": {},
    "efficientnet_b0": {"num_classes": 10},
    "shufflenet_v2_x1_0": {"num_classes": 10},
    "deeplabv3_resnet50": {"num_classes": 5},
    "convnext_tiny": {"depths": [1, 1, 2, 1], "widths": [8, 16, 32, 64], "num_classes": 10},
    "swin_v2_t": {"embed_dim": 8, "depths": [2, 2, 2, 2], "num_heads": [1, 1, 2, 2], "num_classes": 10},
    "swin_t": {"embed_dim": 8, "depths": [2, 2, 2, 2], "num_heads": [1, 1, 2, 2], "num_classes": 10},
    "vit_b_16": {"image_size": 32, "num_layers": 2, "num_heads": 2, "hidden_dim": 16, "mlp_dim": 32, "num_classes": 10},
    "densenet121": {"num_classes": 10, "block_config": [1, 1, 1, 1]},
    "vgg11_bn": {"num_classes": 10, "cfg": [8, 0, 16, 0]},
    "regnet_y_400mf": {"num_classes": 10, "depths": [1, 1, 1, 1]},
}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_same_seed_gives_bit_identical_parameters(name):
    states = []
    for _ in range(2):
        torch.manual_seed(1234)
        states.append(netspec.build(name, params=SMALL[name]).state_dict())
    assert list(states[0]) == list(states[1])
    for key, value in states[0].items():
        assert torch.equal(value, states[1][key]), key
    torch.manual_seed(4321)
    other = netspec.build(name, params=SMALL[name]).state_dict()
    assert any(not torch.equal(v, other[k]) for k, v in states[0].items() if v.is_floating_point())


def test_every_bundled_spec_has_small_parameters_in_this_test():
    assert set(SMALL) == set(netspec.list_specs())


def test_init_policies_from_the_spec():
    torch.manual_seed(0)
    model = netspec.build("resnet50", params={"num_classes": 10})
    conv = model.get_submodule("layer3.0.conv2").weight  # 256 outputs, 3x3: fan_out 2304
    expected = math.sqrt(2 / (conv.shape[0] * conv.shape[2] * conv.shape[3]))
    assert conv.std().item() == pytest.approx(expected, rel=0.05)
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            assert torch.all(module.weight == 1) and torch.all(module.bias == 0), name
    assert not torch.all(model.fc.weight == 0)


def test_zero_init_residual_through_a_nodes_pattern():
    model = netspec.build("resnet18", params={"num_classes": 10, "zero_init_residual": True})
    for i, j in ((1, 0), (2, 1), (4, 1)):
        block = model.get_submodule(f"layer{i}.{j}")
        assert torch.all(block.bn2.weight == 0) and torch.all(block.bn1.weight == 1)
    bottleneck = netspec.build("resnet50", params={"num_classes": 10, "zero_init_residual": True})
    block = bottleneck.get_submodule("layer1.0")
    assert torch.all(block.bn3.weight == 0) and torch.all(block.bn2.weight == 1)


def _with_init(rule: str) -> str:
    return f"""\
netspec: 1
name: init
inputs:
  x: [N, 3, 8, 8]
nodes:
  conv: {{op: Conv2d, out_channels: 4, kernel_size: 3}}
init:
  - {rule}
"""


def test_init_arguments_are_checked():
    with pytest.raises(
        netspec.SpecError, match=r"`mode` of `kaiming_normal` must be one of \['fan_in', 'fan_out'\], got 'fan_middle'"
    ):
        netspec.build(netspec.loads(_with_init("{ops: [Conv2d], weight: {kaiming_normal: {mode: fan_middle}}}")))
    with pytest.raises(netspec.SpecError, match="init function `normal` has no argument `sigma`"):
        netspec.build(netspec.loads(_with_init("{ops: [Conv2d], weight: {normal: {sigma: 1}}}")))
    model = netspec.build(netspec.loads(_with_init("{ops: [Conv2d], weight: {constant: {value: 0.5}}, bias: zeros}")))
    assert torch.all(model.conv.weight == 0.5) and torch.all(model.conv.bias == 0)


# --- the input guard -----------------------------------------------------------------------------


def test_a_3d_input_is_refused_naming_the_input_and_the_shape(resnet):
    with pytest.raises(ValueError) as info:
        resnet(torch.randn(3, 64, 64))
    message = str(info.value)
    assert "input `x` expects shape [N, 3, H, W], got [3, 64, 64]" in message
    assert "x.unsqueeze(0)" in message


def test_a_wrong_channel_count_is_refused(resnet):
    with pytest.raises(
        ValueError, match=r"input `x` expects shape \[N, 3, H, W\], got \[1, 1, 64, 64\].*channels\) is 1, not 3"
    ):
        resnet(torch.randn(1, 1, 64, 64))


# --- the cost of building ------------------------------------------------------------------------

TENSORS_READ_OUT_OF_ORDER = """
netspec: 1
name: tensors
inputs: {x: [N, 4]}
nodes:
  lin: {op: Linear, out_features: 4}
  gain: {op: Parameter, shape: [1, 4], init: ones}
  scale: {op: Parameter, shape: [1, 4], init: ones}
  shift: {op: Buffer, shape: [1, 4], init: {constant: 0.5}}
  temp: {op: Buffer, shape: [1, 4], init: zeros, persistent: false}
  blk: {block: b}
  a: {op: add, in: [lin, shift]}
  m: {op: mul, in: [a, scale]}
  g: {op: mul, in: [m, gain]}
  t: {op: add, in: [g, temp]}
  out: {op: add, in: [t, blk]}
blocks:
  b:
    nodes:
      bias: {op: Parameter, shape: [1, 4], init: zeros}
      relu: {op: ReLU, in: bias}
"""


def test_the_built_module_holds_what_a_graph_module_made_from_its_targets_holds() -> None:
    """The modules are handed over at once; the result is what `GraphModule(root, graph)` makes."""
    from netspec._api import prepare
    from netspec._compile import forward_graph, make_modules

    spec = netspec.loads(TENSORS_READ_OUT_OF_ORDER)
    torch.manual_seed(0)
    built = netspec.build(spec)
    torch.manual_seed(0)
    info = prepare(spec)
    root = make_modules(info)
    reference = fx.GraphModule(root, forward_graph(info))
    reference._modules = dict(root._modules)  # as `build` keeps them: in spec order
    assert list(built.state_dict()) == list(reference.state_dict())
    assert [name for name, _ in built.named_buffers()] == [name for name, _ in reference.named_buffers()]
    assert all(torch.equal(a, b) for a, b in zip(built.state_dict().values(), reference.state_dict().values()))
    assert built._non_persistent_buffers_set == reference._non_persistent_buffers_set == {"temp"}
    assert built.code == reference.code
    x = torch.randn(2, 4)
    assert torch.equal(built(x), reference(x))


def test_building_generates_the_code_once_with_the_collector_paused(monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    import netspec._compile as compile_module

    compiled: list[int] = []
    real_recompile = fx.GraphModule.recompile

    def recompile(self: fx.GraphModule) -> object:
        compiled.append(len(self.graph.nodes))
        return real_recompile(self)

    collector: list[bool] = []
    real_instantiate = compile_module.instantiate
    monkeypatch.setattr(fx.GraphModule, "recompile", recompile)
    monkeypatch.setattr(
        compile_module, "instantiate", lambda info: collector.append(gc.isenabled()) or real_instantiate(info)
    )
    monkeypatch.setattr(fx.graph_module, "_copy_attr", lambda *args: pytest.fail("a target was copied on its own"))
    assert gc.isenabled()
    model = netspec.build("resnet18", params={"num_classes": 10})
    assert [n for n in compiled if n] == [len(model.graph.nodes)]  # the empty graph it starts from aside
    assert gc.isenabled() and collector and not any(collector)


def test_a_spec_on_one_line_gives_each_node_a_short_stack_trace() -> None:
    """A stack trace quotes the node's part of a long line, not the line: a spec written as one line
    of JSON would otherwise put a copy of itself in every node's trace (2 GB for 8,000 nodes)."""
    import json

    nodes = {f"r{i}": {"op": "ReLU", "in": "x"} for i in range(300)}
    nodes["out"] = {"op": "concat", "in": list(nodes), "dim": 1}
    spec = netspec.loads(json.dumps({"netspec": 1, "name": "wide", "inputs": {"x": ["N", 4]}, "nodes": nodes}))
    model = netspec.build(spec)
    traces = [n.stack_trace for n in model.graph.nodes if n.stack_trace]
    assert len(traces) > 300 and max(len(t) for t in traces) < 300
    relu = next(n for n in model.graph.nodes if n.target == "r7")
    assert (
        relu.stack_trace is not None
        and '{"op": "ReLU", "in": "x"}, "r8"' in relu.stack_trace
        and relu.stack_trace.endswith(" ...\n")
    )
