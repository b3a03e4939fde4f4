"""`netspec.optimize` and `build(inference=True)`: the same outputs as eval mode, BatchNorm folded,
convolutions fused, and training refused."""

from __future__ import annotations

import copy
import io
import operator

import pytest
import torch
from torch import fx, nn

import netspec
from netspec._optimize import FusedConv2d, FusedConv3d, InferenceModule

# Width-like parameters lowered where a spec has them, so that every case runs in a fraction of a second.
SMALL = {"width": 4, "base_width": 8}


def _small_params(name: str) -> dict[str, int]:
    spec = netspec.load(name)
    return {k: v for k, v in SMALL.items() if k in spec.params}


def _example(name: str, params: dict[str, int], batch: int = 2) -> torch.Tensor:
    """An input at small sizes the network fits exactly (from its size lattice)."""
    spec = netspec.load(name)
    lattices = netspec.valid_sizes(name, params=params)
    ((_, dims),) = spec.inputs.items()
    shape = []
    for i, dim in enumerate(dims):
        if isinstance(dim, int):
            shape.append(dim)
        elif i == 0:
            shape.append(batch)
        elif isinstance(dim, str) and dim.startswith("$"):
            shape.append(int({**{p: d.default for p, d in spec.params.items()}, **params}[dim[1:]]))
        elif dim in lattices:
            shape.append(next(s for s in lattices[dim].exact if s >= 16))
        else:
            shape.append(32)
    return torch.randn(shape)


def _randomise_norms(model: nn.Module) -> None:
    """BatchNorm statistics that are not the identity, so that folding them is really checked."""
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                n = module.num_features
                module.running_mean.copy_(torch.rand(n, generator=generator) - 0.5)
                module.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
                if module.affine:
                    module.weight.copy_(torch.rand(n, generator=generator) + 0.5)
                    module.bias.copy_(torch.rand(n, generator=generator) - 0.5)


def _assert_close(actual: torch.Tensor, expected: torch.Tensor) -> None:
    scale = expected.abs().max().item()
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-5 * max(scale, 1e-6))


def _conv_then_norm(model: fx.GraphModule) -> list[str]:
    found = []
    for node in model.graph.nodes:
        target = model.get_submodule(node.target) if node.op == "call_module" else None
        if isinstance(target, nn.modules.batchnorm._BatchNorm):
            (source,) = node.all_input_nodes
            if source.op == "call_module" and isinstance(
                model.get_submodule(source.target), (nn.modules.conv._ConvNd, nn.Linear)
            ):
                found.append(node.target)
    return found


@pytest.mark.parametrize("name", netspec.list_specs())
def test_inference_build_matches_eval_mode(name):
    params = _small_params(name)
    torch.manual_seed(0)
    model = netspec.build(name, params=params)
    _randomise_norms(model)
    model.eval()
    x = _example(name, params)
    optimized = netspec.optimize(model, inputs={"x": tuple(x.shape)})
    assert isinstance(optimized, InferenceModule)
    with torch.no_grad():
        expected = model(x)
        actual = optimized(x)
    _assert_close(actual, expected)
    assert actual.is_contiguous()  # channels-last stays inside the network
    assert not _conv_then_norm(optimized)
    had_norms = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
    assert bool(optimized.meta["netspec_inference"]["folded"]) == had_norms


def test_resnet_graph_is_folded_and_fused():
    model = netspec.build("resnet18").eval()
    optimized = netspec.optimize(model)
    modules = dict(optimized.named_modules())
    assert not any(isinstance(m, nn.BatchNorm2d) for m in modules.values())
    assert not any(isinstance(m, nn.ReLU) for m in modules.values())  # each one runs inside its convolution
    fused = [m for m in modules.values() if isinstance(m, FusedConv2d)]
    assert len(fused) == 20  # every convolution, downsampling ones included
    residual = [m for m in fused if m.add]
    assert len(residual) == 8 and all(m.activation == ("relu", [], "") for m in residual)
    # The qualified names stay those of the spec; the residual add is the second argument.
    code = optimized.code
    assert 'getattr(self.layer1, "0").conv2(layer1_0_conv1, maxpool)' in code
    assert "bn1" not in code and " + " not in code
    assert "layer1.0.conv2.weight" in optimized.state_dict() and "layer1.0.bn2.weight" not in optimized.state_dict()
    assert model.get_submodule("layer1.0.bn2") is not None  # the original is left as it was


def test_inference_build_is_optimize_of_the_build(tmp_path):
    torch.manual_seed(0)
    model = netspec.build("unet-same", params={"width": 4})
    _randomise_norms(model)
    netspec.save_weights(model, tmp_path / "w.safetensors")
    shorthand = netspec.build("unet-same", params={"width": 4}, weights=tmp_path / "w.safetensors", inference=True)
    assert isinstance(shorthand, InferenceModule)
    x = torch.randn(1, 1, 32, 32)
    with torch.no_grad():
        _assert_close(shorthand(x), model.eval()(x))


def test_optimized_module_refuses_training():
    optimized = netspec.build("lenet5", inference=True)
    with pytest.raises(RuntimeError, match=r"optimised for inference.*cannot train"):
        optimized.train()
    with pytest.raises(RuntimeError, match="computes no gradients"):
        optimized.requires_grad_()
    x = torch.randn(1, 1, 28, 28, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"input `x` requires grad.*torch\.no_grad"):
        optimized(x)
    assert not any(p.requires_grad for p in optimized.parameters())
    with torch.no_grad():
        optimized(x)  # fine without grad mode
    optimized.eval()  # eval() is train(False): allowed


def test_optimized_module_copies_saves_and_reloads():
    torch.manual_seed(0)
    model = netspec.build("unet", params={"width": 4}).eval()
    optimized = netspec.optimize(model)
    x = torch.randn(1, 1, 188, 188)
    with torch.no_grad():
        expected = optimized(x)
        _assert_close(copy.deepcopy(optimized)(x), expected)
        buffer = io.BytesIO()
        torch.save(optimized.state_dict(), buffer)
        buffer.seek(0)
        other = netspec.optimize(netspec.build("unet", params={"width": 4}).eval())
        other.load_state_dict(torch.load(buffer, weights_only=True))
        _assert_close(other(x), expected)  # the packed weights follow the loaded ones


def test_other_dtypes_fold_without_packing():
    torch.manual_seed(0)
    model = netspec.build("resnet18", dtype=torch.float64)
    _randomise_norms(model)
    model.eval()
    optimized = netspec.optimize(model)
    assert not optimized.meta["netspec_inference"]["fused"]
    assert not any(isinstance(m, nn.BatchNorm2d) for m in optimized.modules())
    x = torch.randn(1, 3, 32, 32, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(optimized(x), model(x), rtol=1e-10, atol=1e-10)


def _spec(inputs: list, nodes: dict) -> dict:
    return {"netspec": 1, "name": "opt-case", "inputs": {"x": inputs}, "nodes": nodes}


def _check_equal(spec: dict, x: torch.Tensor) -> InferenceModule:
    torch.manual_seed(0)
    model = netspec.build(spec)
    _randomise_norms(model)
    model.eval()
    optimized = netspec.optimize(model)
    with torch.no_grad():
        _assert_close(optimized(x), model(x))
    return optimized


def test_linear_norm_folds_only_over_features():
    flat = _check_equal(
        _spec(
            ["N", 8],
            {
                "fc": {"op": "Linear", "out_features": 6},
                "bn": "BatchNorm1d",
                "drop": "Dropout",
                "depth": {"op": "StochasticDepth", "p": 0.2},
            },
        ),
        torch.randn(4, 8),
    )
    assert flat.meta["netspec_inference"]["folded"] == ["bn -> fc"]
    assert flat.meta["netspec_inference"]["removed"] == ["drop", "depth"]
    # On [N, L, F] BatchNorm1d normalises L, not the linear layer's features: it must stay.
    sequence = _check_equal(
        _spec(["N", 5, 8], {"fc": {"op": "Linear", "out_features": 5}, "bn": "BatchNorm1d"}),
        torch.randn(4, 5, 8),
    )
    assert sequence.meta["netspec_inference"]["folded"] == []


def test_fusions_keep_semantics_of_other_activations_and_adds():
    nodes = {
        "conv": {"op": "Conv2d", "out_channels": 6, "kernel_size": 3, "padding": "same"},
        "act": {"op": "LeakyReLU", "negative_slope": 0.2},
        "conv2": {"op": "Conv2d", "out_channels": 6, "kernel_size": 1, "bias": False},
        "bn": "BatchNorm2d",
        "sum": {"op": "add", "in": ["bn", "act"]},
        "gelu": {"op": "GELU", "approximate": "tanh"},
        "conv3": {"op": "ConvTranspose2d", "out_channels": 4, "kernel_size": 2, "stride": 2, "bias": False},
        "bn3": "BatchNorm2d",
        "silu": "SiLU",
    }
    optimized = _check_equal(_spec(["N", 3, 10, 10], nodes), torch.randn(2, 3, 10, 10))
    report = optimized.meta["netspec_inference"]
    assert report["folded"] == ["bn -> conv2", "bn3 -> conv3"]
    # `add` then GELU is not one oneDNN kernel: the add is fused, the GELU runs after it.
    assert report["fused"] == ["conv + leaky_relu", "conv2 + add"]


class _Broadcast(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv(x) + self.pool(x))


def test_add_is_fused_only_where_shapes_are_known_equal():
    # A traced module has no static shapes: its add might broadcast, so it stays an add.
    model = _Broadcast().eval()
    optimized = netspec.optimize(model)
    assert optimized.meta["netspec_inference"]["fused"] == ["conv"]
    assert any(n.target is operator.add for n in optimized.graph.nodes)
    x = torch.randn(2, 4, 8, 8)
    with torch.no_grad():
        _assert_close(optimized(x), model(x))


def test_three_dimensional_convolutions_are_fused():
    optimized = netspec.build("unet3d", inference=True)
    assert any(isinstance(m, FusedConv3d) for m in optimized.modules())


def test_modules_that_are_not_built_by_netspec():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.LazyLinear(2))
    model(torch.randn(1, 3, 6, 6))
    _randomise_norms(model)
    model.eval()
    optimized = netspec.optimize(model)
    x = torch.randn(2, 3, 6, 6)
    with torch.no_grad():
        _assert_close(optimized(x), model(x))
    with pytest.raises(TypeError, match=r"built by `netspec\.build`"):
        netspec.optimize("resnet18")  # type: ignore[arg-type]


ACTIVATIONS = [
    ("ReLU", {}),
    ("ReLU6", {}),
    ("SiLU", {}),
    ("Sigmoid", {}),
    ("Tanh", {}),
    ("Hardswish", {}),
    ("Hardsigmoid", {}),
    ("LeakyReLU", {"negative_slope": 0.2}),
    ("GELU", {"approximate": "tanh"}),
]


@pytest.mark.parametrize(("activation", "args"), ACTIVATIONS, ids=[a for a, _ in ACTIVATIONS])
def test_every_fused_activation_matches_eager_packed_and_unpacked(activation, args):
    nodes = {
        "conv": {"op": "Conv2d", "out_channels": 6, "kernel_size": 3, "padding": 1, "bias": False},
        "bn": "BatchNorm2d",
        "act": {"op": activation, **args},
    }
    x = torch.randn(2, 3, 9, 9)
    optimized = _check_equal(_spec(["N", 3, "H", "W"], nodes), x)
    fused = [m for m in optimized.modules() if isinstance(m, FusedConv2d)]
    assert len(fused) == 1 and fused[0].activation is not None

    # In float64 oneDNN's packed kernel does not apply: the same conv and activation run in torch.
    reference = copy.deepcopy(optimized).to(torch.float64)
    assert fused[0]._packed is not None
    assert [m._packed for m in reference.modules() if isinstance(m, FusedConv2d)] == [None]
    with torch.no_grad():
        torch.testing.assert_close(reference(x.double()), optimized(x).double(), rtol=1e-5, atol=1e-5)


def test_requires_grad_false_is_accepted():
    model = netspec.build("lenet5")
    model.eval()
    optimized = netspec.optimize(model)
    assert optimized.requires_grad_(False) is optimized
    assert not any(p.requires_grad for p in optimized.parameters())


def _input_shapes(model: nn.Module, x: torch.Tensor) -> dict[str, tuple[int, ...]]:
    """The input shape each fused convolution receives in a forward of `x`."""
    seen: dict[str, tuple[int, ...]] = {}

    def record(name: str, args: tuple[torch.Tensor, ...]) -> None:
        seen.setdefault(name, tuple(args[0].shape))

    hooks = [
        m.register_forward_pre_hook(lambda _, args, name=name: record(name, args))
        for name, m in model.named_modules()
        if isinstance(m, FusedConv2d)
    ]
    with torch.no_grad():
        model(x)
    for hook in hooks:
        hook.remove()
    return seen


def test_weights_are_packed_for_the_shapes_the_convolutions_receive():
    # oneDNN packs a weight for one input shape; at another it reorders it on every call. Packed from
    # the static shapes at the spec's sizes (224x224, batch 1), a forward there packs nothing more.
    torch.manual_seed(0)
    model = netspec.build("resnet18")
    _randomise_norms(model)
    model.eval()
    optimized = netspec.optimize(model)
    fused = {name: m for name, m in optimized.named_modules() if isinstance(m, FusedConv2d)}
    assert all(m._packed is not None and list(m._packed) == [m.packed_for] for m in fused.values())
    x = torch.randn(1, 3, 224, 224)
    seen = _input_shapes(optimized, x)
    assert seen == {name: m.packed_for for name, m in fused.items()}
    assert seen["conv1"] == (1, 3, 224, 224) and seen["layer4.1.conv2"] == (1, 512, 7, 7)
    assert all(len(m._packed) == 1 for m in fused.values())  # the forward packed nothing more
    # Another size is packed once, on the first call that meets it, and computes the same.
    small = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        _assert_close(optimized(small), model(small))
        optimized(small)
        _assert_close(optimized(x), model(x))
    assert all(
        list(m._packed) == [m.packed_for, shape]
        for m, shape in zip(fused.values(), _input_shapes(optimized, small).values())
    )
    # The sizes given to `optimize` (or `build(inputs=...)`) decide the packing instead.
    at_batch_8 = netspec.optimize(model, inputs={"x": (8, 3, 96, 128)})
    assert at_batch_8.get_submodule("layer1.0.conv1").packed_for == (8, 64, 24, 32)
    built = netspec.build("resnet18", inputs={"x": (2, 3, 64, 64)}, inference=True)
    assert built.get_submodule("conv1").packed_for == (2, 3, 64, 64)
    # Copies, `.to()` and loaded weights pack again for the same shape.
    for other in (copy.deepcopy(optimized), optimized.to(torch.float32)):
        assert list(other.get_submodule("conv1")._packed) == [(1, 3, 224, 224)]


def test_packed_weights_per_shape_are_bounded():
    spec = _spec(["N", 3, "H", "W"], {"conv": {"op": "Conv2d", "out_channels": 4, "kernel_size": 1}, "act": "ReLU"})
    torch.manual_seed(0)
    model = netspec.build(spec).eval()
    optimized = netspec.optimize(model)
    (conv,) = [m for m in optimized.modules() if isinstance(m, FusedConv2d)]
    assert conv.packed_for is None and conv._packed == {}  # no sizes in the spec: packed when called
    with torch.no_grad():
        for size in range(3, 15):
            x = torch.randn(1, 3, size, size)
            _assert_close(optimized(x), model(x))
    assert list(conv._packed) == [(1, 3, size, size) for size in range(7, 15)]  # the last 8


def test_optimize_refuses_inputs_it_does_not_have():
    model = netspec.build("lenet5").eval()
    with pytest.raises(ValueError, match=r"no input named 'y'; the inputs are \['x'\]"):
        netspec.optimize(model, inputs={"y": (1, 1, 28, 28)})
    with pytest.raises(ValueError, match=r"input `x` has 4 dims, not 2"):
        netspec.optimize(model, inputs={"x": (1, 28)})
    with pytest.raises(ValueError, match=r"input `x` has shape \[1, 1, -5, 28\]; sizes are integers >= 0"):
        netspec.optimize(model, inputs={"x": (1, 1, -5, 28)})
    empty = netspec.optimize(model, inputs={"x": (0, 1, 28, 28)})  # an empty batch: packed when called
    assert all(m.packed_for is None for m in empty.modules() if isinstance(m, FusedConv2d))
    with torch.no_grad():
        assert empty(torch.randn(0, 1, 28, 28)).shape == (0, 10)


@pytest.mark.parametrize(("name", "convolutions", "residual"), [("resnet18", 20, 8), ("resnet50", 53, 16)])
def test_resnet_graph_has_no_layout_conversion_inside(name, convolutions, residual):
    # The speed rests on this: no BatchNorm, every convolution one packed oneDNN kernel with its ReLU
    # or residual add + ReLU, and the activations in one layout (channels-last) from the first
    # convolution to the pooling: one conversion, before the classifier, and none between layers.
    optimized = netspec.build(name, inputs={"x": (1, 3, 64, 64)}, inference=True)
    kinds = [type(optimized.get_submodule(n.target)) for n in optimized.graph.nodes if n.op == "call_module"]
    assert kinds.count(FusedConv2d) == convolutions
    assert not {nn.BatchNorm2d, nn.ReLU, nn.Conv2d} & set(kinds)
    fused = [m for m in optimized.modules() if isinstance(m, FusedConv2d)]
    assert sum(m.add for m in fused) == residual
    assert all(m.activation == ("relu", [], "") for m in fused if m.add)
    plain = [n for n, m in optimized.named_modules() if isinstance(m, FusedConv2d) and m.activation is None]
    assert plain and all(".downsample." in n for n in plain)  # only the shortcut projections have no ReLU
    calls = [n for n in optimized.graph.nodes if n.op in ("call_method", "call_function")]
    conversions = [n for n in calls if n.target in ("contiguous", "to", "to_dense", "to_mkldnn")]
    assert [n.args[0].name for n in conversions] == ["flatten"]
    assert not [n for n in calls if n.target in (operator.add, torch.add, torch.relu)]


def test_a_fused_convolution_pickled_without_its_packing_shape_loads():
    optimized = netspec.build("lenet5", inference=True)
    (conv, *_) = [m for m in optimized.modules() if isinstance(m, FusedConv2d)]
    state = conv.__getstate__()
    assert "_packed" not in state  # the packed weights are opaque oneDNN tensors: rebuilt on loading
    del state["packed_for"]
    restored = FusedConv2d.__new__(FusedConv2d)
    restored.__setstate__(state)
    assert restored.packed_for is None and restored._packed == {}
    x = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        _assert_close(restored(x), conv(x))
