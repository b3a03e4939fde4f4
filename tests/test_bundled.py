"""Every bundled spec against its hand-written reference: size, layout, numbers, initialisation, geometry.

The tests loop over `netspec.list_specs()`, so a new bundled spec is tested as soon as its file exists;
it then needs a reference module in tests/reference_models.py, a golden and a small test input here.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from importlib import resources
from typing import Any

import pytest
import torch
from golden_util import check_golden, golden_lines
from reference_models import REFERENCE_MODELS
from torch import fx, nn

import netspec
from netspec._api import prepare
from netspec._shapes import node_macs

EXPECTED_SPECS = [
    "convnext_tiny",
    "deeplabv3_resnet50",
    "densenet121",
    "efficientnet_b0",
    "lab-resnet18",
    "lenet5",
    "m5",
    "regnet_y_400mf",
    "resnet18",
    "resnet34",
    "resnet50",
    "shufflenet_v2_x1_0",
    "swin_t",
    "swin_v2_t",
    "unet",
    "unet-same",
    "unet3d",
    "vgg11_bn",
    "vit_b_16",
]
SPECS = netspec.list_specs()

# Published parameter counts (torchvision, the U-Net paper, the lab's code); the other specs are
# checked against their reference module's own count.
PUBLISHED_PARAMETERS = {
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "unet": 31_030_658,
    "lab-resnet18": 11_182_730,
    "lenet5": 61_706,
    "efficientnet_b0": 5_288_548,
    "shufflenet_v2_x1_0": 2_278_604,
    "deeplabv3_resnet50": 39_638_869,  # torchvision's figure, 42,004,074, counts the auxiliary head
    "convnext_tiny": 28_589_128,
    "vit_b_16": 86_567_656,
    "densenet121": 7_978_856,
    "regnet_y_400mf": 4_344_144,
    "swin_t": 28_288_354,
    "swin_v2_t": 28_351_570,
}

# Specs too large to build twice at their defaults in a test run (VGG's classifier alone is 120 M
# parameters): every comparison builds them with these parameters instead.
TEST_PARAMS: dict[str, dict[str, Any]] = {"vgg11_bn": {"num_classes": 10}}

# Multiply-accumulates at the spec's example input (the usual "FLOPs" figures of torchvision's ResNets).
PUBLISHED_MACS = {"resnet18": 1_814_073_344, "resnet34": 3_663_761_408, "resnet50": 4_089_184_256}

# Warnings a bundled spec gives at its own example input, by node: M5 is run on one second of
# 8 kHz audio, at which two of its poolings drop trailing samples (as the published model does).
KNOWN_SIZE_WARNINGS = {"m5": {"pool2", "pool4"}}

# The output comparison runs each spec on a small input, with small widths where the spec has them.
SMALL_RUNS: dict[str, tuple[dict[str, Any], tuple[int, ...]]] = {
    "resnet18": ({}, (1, 3, 64, 64)),
    "resnet34": ({}, (1, 3, 64, 64)),
    "resnet50": ({}, (1, 3, 64, 64)),
    "unet": ({"width": 4}, (1, 1, 188, 188)),
    "unet-same": ({"width": 4}, (1, 1, 32, 32)),
    "lab-resnet18": ({}, (1, 3, 64, 64)),
    "lenet5": ({}, (1, 1, 28, 28)),
    "m5": ({}, (1, 1, 8000)),
    "unet3d": ({"width": 4}, (1, 1, 16, 16, 16)),
    "densenet121": ({"num_classes": 10}, (1, 3, 32, 32)),
    "vgg11_bn": ({"num_classes": 10}, (1, 3, 32, 32)),
    "regnet_y_400mf": ({"num_classes": 10}, (1, 3, 32, 32)),
    "efficientnet_b0": ({"num_classes": 10}, (2, 3, 32, 32)),
    "shufflenet_v2_x1_0": ({"num_classes": 10}, (2, 3, 32, 32)),
    "deeplabv3_resnet50": ({"num_classes": 5}, (1, 3, 33, 40)),
    "convnext_tiny": ({"num_classes": 10}, (1, 3, 32, 32)),
    "vit_b_16": ({"num_classes": 10}, (1, 3, 224, 224)),  # the position embedding fixes the size
    "swin_t": ({"num_classes": 10}, (1, 3, 64, 64)),  # windows padded from stage 1 on
    "swin_v2_t": ({"num_classes": 10}, (1, 3, 64, 64)),
}

# Specs whose reference draws its initial parameters in another order, so that one seed cannot
# give both the same parameters (their layout, weights and outputs are still compared).
DIFFERENT_DRAW_ORDER = {
    # torchvision builds a whole ResNet-50 (its classifier too, which it then drops) and initialises
    # it before it builds the head; a spec builds every module, then initialises.
    "deeplabv3_resnet50",
    # torchvision initialises each MLP as it builds it, and the patch projection and the head last.
    "vit_b_16",
    # torchvision draws each attention's bias table after its `qkv` and `proj`, which it registers after.
    "swin_t",
    "swin_v2_t",
}

RESNETS = ["resnet18", "resnet34", "resnet50"]


class ModelPairs:
    """Spec-built and reference modules, each built once under `torch.manual_seed(0)`."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, tuple[tuple[str, Any], ...]], tuple[fx.GraphModule, nn.Module]] = {}

    def get(self, name: str, **params: Any) -> tuple[fx.GraphModule, nn.Module]:
        params = {**TEST_PARAMS.get(name, {}), **params}
        key = (name, tuple(sorted(params.items())))
        if key not in self._cache:
            torch.manual_seed(0)
            built = netspec.build(name, params=params)
            torch.manual_seed(0)
            reference = REFERENCE_MODELS[name](**params)
            self._cache[key] = (built, reference)
        return self._cache[key]


@pytest.fixture(scope="module")
def pairs() -> Iterator[ModelPairs]:
    yield ModelPairs()


def _parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _perturb(model: nn.Module, seed: int = 2) -> None:
    """Move every parameter and running statistic away from its initial value, so that loading
    a state_dict is what makes two models agree (BatchNorm's initial 0/1 statistics would not)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for key, tensor in model.state_dict().items():
            if not tensor.is_floating_point():
                continue
            noise = torch.randn(tensor.shape, generator=generator)
            if key.endswith("running_var"):
                tensor.copy_(noise.abs() + 0.5)
                continue
            scale = tensor.std().item() if tensor.numel() > 1 else 0.0
            tensor.add_(0.1 * noise * (scale if scale > 0 else 1.0))


def _outputs_after_loading(
    pairs: ModelPairs, name: str, params: dict[str, Any], shape: tuple[int, ...]
) -> torch.Tensor:
    """Load a perturbed reference state_dict into the spec-built model (strict) and compare outputs."""
    built, reference = (copy.deepcopy(m) for m in pairs.get(name, **params))
    _perturb(reference)
    built.load_state_dict(reference.state_dict(), strict=True)
    built.eval()
    reference.eval()
    x = torch.randn(shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = reference(x)
        actual = built(x)
    torch.testing.assert_close(actual, expected)
    return actual


# ------------------------------------------------------------------ the registry


def test_the_bundled_specs_are_the_expected_ones() -> None:
    assert SPECS == EXPECTED_SPECS


def test_the_specs_are_package_data() -> None:
    shipped = {entry.name for entry in resources.files("netspec.specs").iterdir()}
    assert {f"{name}.yaml" for name in EXPECTED_SPECS} <= shipped


def test_every_spec_has_a_reference_and_a_small_run() -> None:
    assert set(REFERENCE_MODELS) == set(SPECS), "add a reference module to tests/reference_models.py"
    assert set(SMALL_RUNS) == set(SPECS), "add a small test input to SMALL_RUNS in tests/test_bundled.py"


# ------------------------------------------------------------------ every spec


@pytest.mark.parametrize("name", SPECS)
def test_spec_validates_without_unexpected_warnings(name: str) -> None:
    assert netspec.load(name).warnings == []
    warnings = netspec.validate(name)
    assert {w.code for w in warnings} <= {"NS211"}, [str(w.message) for w in warnings]
    warned_nodes = {w.message.split("`")[1] for w in warnings}  # the node, named first (its path may be a block's)
    assert warned_nodes == KNOWN_SIZE_WARNINGS.get(name, set()), [w.message for w in warnings]


@pytest.mark.parametrize("name", SPECS)
def test_parameter_count_matches_the_reference(name: str, pairs: ModelPairs) -> None:
    built, reference = pairs.get(name)
    expected = PUBLISHED_PARAMETERS.get(name, _parameter_count(reference))
    assert _parameter_count(reference) == expected
    assert netspec.count_params(name, params=TEST_PARAMS.get(name, {})) == expected
    assert _parameter_count(built) == expected


@pytest.mark.parametrize("name", SPECS)
def test_state_dict_layout_matches_golden(name: str, pairs: ModelPairs) -> None:
    built, reference = pairs.get(name)
    if name in TEST_PARAMS:  # the golden is at the defaults: compare with the reference at the same parameters
        assert golden_lines(built.state_dict()) == golden_lines(reference.state_dict())
    else:
        check_golden(name, golden_lines(built.state_dict()))


@pytest.mark.parametrize("name", [n for n in SPECS if n not in DIFFERENT_DRAW_ORDER])
def test_same_seed_gives_the_reference_parameters(name: str, pairs: ModelPairs) -> None:
    built, reference = pairs.get(name)
    expected = reference.state_dict()
    for key, tensor in built.state_dict().items():
        assert torch.equal(tensor, expected[key]), f"`{key}` differs from the reference built under the same seed"


@pytest.mark.parametrize("name", SPECS)
def test_outputs_equal_the_reference(name: str, pairs: ModelPairs) -> None:
    params, shape = SMALL_RUNS[name]
    _outputs_after_loading(pairs, name, params, shape)


# ------------------------------------------------------------------ parameters of the specs


@pytest.mark.parametrize(
    ("name", "params", "shape", "output"),
    [
        pytest.param("resnet18", {"num_classes": 10, "in_channels": 1}, (1, 1, 64, 64), (1, 10), id="resnet18-gray"),
        pytest.param("unet", {"width": 2}, (1, 1, 572, 572), (1, 2, 388, 388), id="unet-572"),
        pytest.param(
            "unet", {"width": 4, "in_channels": 3, "num_classes": 3}, (1, 3, 204, 204), (1, 3, 20, 20), id="unet-rgb"
        ),
        pytest.param(
            "unet-same", {"width": 4, "depth": 3, "num_classes": 5}, (1, 1, 24, 40), (1, 5, 24, 40), id="unet-same-d3"
        ),
        pytest.param("m5", {"width": 8, "num_classes": 10}, (2, 1, 8000), (2, 10), id="m5-narrow"),
        pytest.param("lab-resnet18", {}, (1, 3, 224, 224), (1, 10), id="lab-resnet18-224"),
    ],
)
def test_outputs_equal_the_reference_with_parameters(
    name: str, params: dict[str, Any], shape: tuple[int, ...], output: tuple[int, ...], pairs: ModelPairs
) -> None:
    assert _outputs_after_loading(pairs, name, params, shape).shape == output


@pytest.mark.parametrize("name", RESNETS)
def test_zero_init_residual_gives_the_reference_parameters(name: str) -> None:
    torch.manual_seed(0)
    built = netspec.build(name, params={"zero_init_residual": True})
    torch.manual_seed(0)
    reference = REFERENCE_MODELS[name](zero_init_residual=True)
    expected = reference.state_dict()
    for key, tensor in built.state_dict().items():
        assert torch.equal(tensor, expected[key]), key
    last_bn = "bn3" if name == "resnet50" else "bn2"
    for stage in range(1, 5):
        assert not built.get_submodule(f"layer{stage}.0.{last_bn}").weight.detach().any()


@pytest.mark.parametrize(
    ("name", "params", "expected"),
    [
        pytest.param("resnet18", {"num_classes": 10}, 11_181_642, id="resnet18-10"),
        pytest.param("unet", {"in_channels": 3}, 31_031_810, id="unet-rgb"),
    ],
)
def test_parameter_count_with_parameters(name: str, params: dict[str, Any], expected: int) -> None:
    assert netspec.count_params(name, params=params) == expected
    with torch.device("meta"):
        reference = REFERENCE_MODELS[name](**params)
    assert _parameter_count(reference) == expected


def test_in_channels_changes_the_stem(pairs: ModelPairs) -> None:
    resnet, _ = pairs.get("resnet18", num_classes=10, in_channels=1)
    assert resnet.get_submodule("conv1").weight.shape == (64, 1, 7, 7)
    assert resnet.get_submodule("fc").weight.shape == (10, 512)
    unet, _ = pairs.get("unet", width=4, in_channels=3, num_classes=3)
    assert unet.get_submodule("enc.0.conv1").weight.shape == (4, 3, 3, 3)


@pytest.mark.parametrize("name", [n for n in SPECS if "num_classes" in netspec.load(n).params])
def test_num_classes_changes_the_head(name: str) -> None:
    (output,) = prepare(name, {"num_classes": 7}, None, concrete=True).outputs
    assert output[1] == 7


@pytest.mark.parametrize("name", RESNETS)
def test_resnet_macs_match_the_published_figures(name: str) -> None:
    info = prepare(name, None, None, concrete=True)
    assert sum(node_macs(node) or 0 for node in info.nodes.values()) == PUBLISHED_MACS[name]


# ------------------------------------------------------------------ U-Net geometry


def test_unet_input_sizes() -> None:
    heights = netspec.valid_sizes("unet")["H"]
    assert {188, 204, 572} <= set(heights.exact)
    assert 572 in heights
    assert 172 not in heights.runs
    assert 256 in heights.runs
    assert 256 not in heights


def test_unet_same_fits_multiples_of_16() -> None:
    heights = netspec.valid_sizes("unet-same")["H"]
    assert heights.exact == tuple(range(16, heights.limit + 1, 16))
