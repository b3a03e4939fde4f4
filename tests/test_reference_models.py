"""The hand-written reference modules: sizes, layouts (goldens), geometry and initialisation."""

from __future__ import annotations

import json
import math
from collections.abc import Callable

import golden_util
import pytest
import torch
from golden_util import check_golden, golden_lines
from reference_models import (
    M5,
    REFERENCE_MODELS,
    BasicBlock,
    Bottleneck,
    LabResNet18,
    LeNet5,
    SameUNet,
    UNet,
    UNet3d,
    lab_center_crop,
    resnet18,
    resnet34,
    resnet50,
)
from torch import nn

TORCHVISION_RESNET18_JSON = golden_util.GOLDEN_DIR / "torchvision-resnet18-state-dict.json"


def _on_meta(factory: Callable[[], nn.Module]) -> nn.Module:
    """Build a module without allocating or initialising real memory (layout checks only)."""
    with torch.device("meta"):
        return factory()


def _parameter_count(model: nn.Module) -> int:
    return sum(parameter.numel() for parameter in model.parameters())


# ------------------------------------------------------------------ sizes and layouts


@pytest.mark.parametrize(
    ("factory", "parameters", "entries"),
    [
        pytest.param(resnet18, 11_689_512, 122, id="resnet18"),
        pytest.param(lambda: resnet18(num_classes=10), 11_181_642, 122, id="resnet18-10"),
        pytest.param(resnet34, 21_797_672, 218, id="resnet34"),
        pytest.param(resnet50, 25_557_032, 320, id="resnet50"),
        pytest.param(UNet, 31_030_658, None, id="unet"),
        pytest.param(lambda: UNet(in_channels=3), 31_031_810, None, id="unet-3ch"),
        pytest.param(LabResNet18, 11_182_730, None, id="lab-resnet18"),
        pytest.param(LeNet5, 61_706, None, id="lenet5"),
    ],
)
def test_parameter_counts_match_the_reference_figures(
    factory: Callable[[], nn.Module], parameters: int, entries: int | None
) -> None:
    model = _on_meta(factory)
    assert _parameter_count(model) == parameters
    if entries is not None:
        assert len(model.state_dict()) == entries


@pytest.mark.parametrize("name", sorted(REFERENCE_MODELS))
def test_state_dict_layout_matches_golden(name: str) -> None:
    model = _on_meta(REFERENCE_MODELS[name])
    check_golden(name, golden_lines(model.state_dict()))


def test_resnet18_golden_equals_torchvision_state_dict() -> None:
    reference = json.loads(TORCHVISION_RESNET18_JSON.read_text(encoding="utf-8"))
    expected = [f"{key}\t{'x'.join(map(str, shape)) or '-'}\t{dtype}" for key, shape, dtype in reference["entries"]]
    assert golden_util.golden_path("resnet18").read_text(encoding="utf-8").splitlines() == expected
    model = _on_meta(resnet18)
    assert golden_lines(model.state_dict()) == expected
    assert _parameter_count(model) == reference["parameters"]


def test_in_channels_changes_only_the_stem() -> None:
    model = _on_meta(lambda: resnet18(in_channels=1))
    assert model.conv1.weight.shape == (64, 1, 7, 7)
    assert _parameter_count(model) == 11_689_512 - 64 * 2 * 7 * 7


# ------------------------------------------------------------------ forward shapes


@pytest.mark.parametrize(
    ("factory", "input_shape", "output_shape"),
    [
        pytest.param(resnet18, (1, 3, 224, 224), (1, 1000), id="resnet18"),
        pytest.param(lambda: resnet50(num_classes=7), (2, 3, 64, 64), (2, 7), id="resnet50"),
        pytest.param(LabResNet18, (1, 3, 224, 224), (1, 10), id="lab-resnet18"),
        pytest.param(LeNet5, (2, 1, 28, 28), (2, 10), id="lenet5"),
        pytest.param(M5, (2, 1, 8000), (2, 35), id="m5"),
        pytest.param(lambda: UNet(width=4), (1, 1, 572, 572), (1, 2, 388, 388), id="unet-572"),
        pytest.param(
            lambda: UNet(in_channels=3, num_classes=5, width=2, depth=2),
            (1, 3, 92, 92),
            (1, 5, 52, 52),
            id="unet-depth2",
        ),
        pytest.param(lambda: SameUNet(width=4), (1, 1, 64, 48), (1, 2, 64, 48), id="unet-same"),
        pytest.param(lambda: UNet3d(width=4), (1, 1, 32, 32, 32), (1, 2, 32, 32, 32), id="unet3d"),
    ],
)
def test_forward_output_shape(
    factory: Callable[[], nn.Module], input_shape: tuple[int, ...], output_shape: tuple[int, ...]
) -> None:
    torch.manual_seed(0)
    model = factory().eval()
    with torch.no_grad():
        output = model(torch.randn(input_shape))
    assert output.shape == output_shape


def test_unet3d_default_width_runs_on_its_volume() -> None:
    model = UNet3d().eval()
    with torch.no_grad():
        assert model(torch.zeros(1, 1, 32, 32, 32)).shape == (1, 2, 32, 32, 32)


# ------------------------------------------------------------------ U-Net skips


def test_lab_crop_keeps_rows_88_to_479_of_568() -> None:
    rows = torch.arange(568).view(1, 1, 568, 1).expand(1, 1, 568, 568)
    cropped = lab_center_crop(rows, 392, 392)
    assert cropped.shape == (1, 1, 392, 392)
    assert cropped[0, 0, 0, 0].item() == 88
    assert cropped[0, 0, -1, 0].item() == 479


def test_lab_crop_of_odd_target_takes_the_extra_row_after_the_center() -> None:
    values = torch.arange(10).view(1, 10, 1).expand(1, 10, 10)
    assert lab_center_crop(values, 3, 3)[0, :, 0].tolist() == [4, 5, 6]


def _record_inputs_and_outputs(model: nn.Module, names: list[str]) -> dict[str, tuple]:
    """Forward hooks storing (inputs, output) of the named submodules."""
    records: dict[str, tuple] = {}
    modules = dict(model.named_modules())
    for name in names:
        modules[name].register_forward_hook(
            lambda _module, inputs, output, name=name: records.__setitem__(name, (inputs, output))
        )
    return records


@pytest.mark.parametrize(
    ("factory", "size", "crops"),
    [
        pytest.param(lambda: UNet(width=2, depth=2), 92, True, id="unet"),
        pytest.param(lambda: SameUNet(width=2, depth=2), 16, False, id="unet-same"),
    ],
)
def test_decoder_concatenates_upsampled_then_skip(factory: Callable[[], nn.Module], size: int, crops: bool) -> None:
    model = factory().eval()
    records = _record_inputs_and_outputs(
        model, ["enc.0", "enc.1", "dec.0.up", "dec.1.up", "dec.0.conv1", "dec.1.conv1"]
    )
    with torch.no_grad():
        model(torch.randn(1, 1, size, size))
    # dec.j takes its skip from enc[depth - 1 - j].
    for j, skip_level in ((0, "enc.1"), (1, "enc.0")):
        conv_input = records[f"dec.{j}.conv1"][0][0]
        upsampled = records[f"dec.{j}.up"][1]
        skip = records[skip_level][1]
        if crops:
            skip = lab_center_crop(skip, upsampled.shape[-2], upsampled.shape[-1])
        assert torch.equal(conv_input, torch.cat([upsampled, skip], dim=1))


def test_paper_unet_has_no_pool_on_level_zero() -> None:
    model = _on_meta(UNet)
    assert not hasattr(model.enc[0], "pool")
    assert all(isinstance(level.pool, nn.MaxPool2d) for level in model.enc[1:])


# ------------------------------------------------------------------ torchvision-style ResNet


def test_same_seed_gives_identical_parameters() -> None:
    torch.manual_seed(1234)
    first = resnet18().state_dict()
    torch.manual_seed(1234)
    second = resnet18().state_dict()
    assert all(torch.equal(first[key], second[key]) for key in first)


def test_convolutions_use_kaiming_fan_out_and_batch_norms_start_neutral() -> None:
    torch.manual_seed(0)
    model = resnet18()
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            fan_out = module.out_channels * math.prod(module.kernel_size)
            expected = math.sqrt(2.0 / fan_out)
            # Relative sampling error of a std from n samples is about 1/sqrt(2n) (n >= 8192 here).
            assert module.weight.std().item() == pytest.approx(expected, rel=0.05), name
        elif isinstance(module, nn.BatchNorm2d):
            assert torch.all(module.weight == 1) and torch.all(module.bias == 0), name
    bound = 1 / math.sqrt(512)
    assert model.fc.weight.abs().max().item() <= bound
    assert model.fc.weight.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.05)


@pytest.mark.parametrize(
    ("factory", "block_type", "last_bn"),
    [
        pytest.param(resnet18, BasicBlock, "bn2", id="basic"),
        pytest.param(resnet50, Bottleneck, "bn3", id="bottleneck"),
    ],
)
def test_zero_init_residual_zeroes_the_last_bn_of_each_block(
    factory: Callable[..., nn.Module], block_type: type, last_bn: str
) -> None:
    model = factory(zero_init_residual=True)
    blocks = [module for module in model.modules() if isinstance(module, block_type)]
    assert len(blocks) in (8, 16)
    for block in blocks:
        assert torch.all(getattr(block, last_bn).weight == 0)
        assert torch.all(block.bn1.weight == 1)
        if block.downsample is not None:
            assert torch.all(block.downsample[1].weight == 1)
    assert torch.all(resnet18().layer1[0].bn2.weight == 1)


def test_stage_builds_downsample_before_the_first_block(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[tuple[int, ...]] = []
    original = nn.Conv2d.reset_parameters

    def record(conv: nn.Conv2d) -> None:
        built.append(tuple(conv.weight.shape))
        original(conv)

    monkeypatch.setattr(nn.Conv2d, "reset_parameters", record)
    _on_meta(resnet18)
    first_of_layer2 = built.index((128, 64, 1, 1))
    assert built[first_of_layer2 + 1] == (128, 64, 3, 3)
    assert built[0] == (64, 3, 7, 7)


def test_bottleneck_carries_the_stride_on_its_3x3() -> None:
    block = _on_meta(resnet50).layer2[0]
    assert block.conv1.stride == (1, 1)
    assert block.conv2.stride == (2, 2)
    assert block.downsample[0].stride == (2, 2)
    assert _on_meta(resnet50).layer1[0].downsample is not None
    assert _on_meta(resnet18).layer1[0].downsample is None


# ------------------------------------------------------------------ the lab's ResNet18


def test_lab_blocks_keep_the_labs_biases() -> None:
    model = _on_meta(LabResNet18)
    assert model.prep.mod[0].bias is not None
    for block in model.blocks:
        assert block.conv1.bias is not None
        assert block.conv2.bias is None
    downsampling = [block for block in model.blocks if block.downsampling]
    assert [block.conv_skip.out_channels for block in downsampling] == [128, 256, 512]
    assert all(block.conv_skip.bias is not None for block in downsampling)


# ------------------------------------------------------------------ golden helper


def test_golden_lines_format_scalars_with_a_dash() -> None:
    state = {"w": torch.zeros(2, 3), "n": torch.tensor(0, dtype=torch.int64)}
    assert golden_lines(state) == ["w\t2x3\tfloat32", "n\t-\tint64"]


def test_check_golden_reports_the_accept_command_and_accepts(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(golden_util, "GOLDEN_DIR", tmp_path)
    monkeypatch.delenv(golden_util.ACCEPT_ENV, raising=False)
    with pytest.raises(AssertionError, match="NETSPEC_ACCEPT_GOLDEN=1 python -m pytest"):
        check_golden("demo", ["a\t1\tfloat32"])
    monkeypatch.setenv(golden_util.ACCEPT_ENV, "1")
    check_golden("demo", ["a\t1\tfloat32"])
    monkeypatch.delenv(golden_util.ACCEPT_ENV)
    check_golden("demo", ["a\t1\tfloat32"])
    with pytest.raises(AssertionError, match=r"(?s)-a\t1\tfloat32.*\+a\t2\tfloat32.*test_reference_models"):
        check_golden("demo", ["a\t2\tfloat32"])
