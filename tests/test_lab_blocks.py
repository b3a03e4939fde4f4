"""The lab's building blocks, written as specs, equal the lab's own modules (same weights, same outputs)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from reference_models import BasicResidualBlock, ClassifierBlock, PreparatoryBlock
from torch import nn

import netspec

LAB = Path(__file__).resolve().parent / "specs" / "lab"


class ConvBlockDownsample(nn.Module):
    """The lab's contracting U-Net block, as the lab writes it."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.mod = nn.Sequential(
            nn.Conv2d(in_channels=in_channels, out_channels=out_channels, kernel_size=3),
            nn.ReLU(),
            nn.Conv2d(in_channels=out_channels, out_channels=out_channels, kernel_size=3),
            nn.ReLU(),
        )
        self.downsample = nn.MaxPool2d(kernel_size=2)

    def forward(self, data: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.mod(data)
        return out, self.downsample(out)


class ConvBlockUpsample(nn.Module):
    """The lab's expanding U-Net block, with its center crop, as the lab writes it."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.upsample = nn.ConvTranspose2d(in_channels=in_channels, out_channels=out_channels, kernel_size=2, stride=2)
        self.conv = nn.Sequential(
            nn.Conv2d(in_channels=in_channels, out_channels=out_channels, kernel_size=3),
            nn.ReLU(),
            nn.Conv2d(in_channels=out_channels, out_channels=out_channels, kernel_size=3),
            nn.ReLU(),
        )

    def forward(self, data: torch.Tensor, data_from_downsample: torch.Tensor) -> torch.Tensor:
        out = self.upsample(data)
        h, w = out.shape[2], out.shape[3]
        H, W = data_from_downsample.shape[2], data_from_downsample.shape[3]
        cropped = data_from_downsample[
            :, :, H // 2 - h // 2 : H // 2 + (h // 2 + h % 2), W // 2 - w // 2 : W // 2 + (w // 2 + w % 2)
        ]
        return self.conv(torch.cat([out, cropped], dim=1))


def _same_weights(built: nn.Module, reference: nn.Module) -> None:
    assert list(built.state_dict()) == list(reference.state_dict())
    built.load_state_dict(reference.state_dict(), strict=True)
    built.eval()
    reference.eval()


def test_conv_block_downsample_returns_both_outputs_like_the_lab():
    torch.manual_seed(0)
    reference = ConvBlockDownsample(3, 8)
    built = netspec.build(LAB / "conv_block_downsample.yaml", params={"out": 8})
    _same_weights(built, reference)
    data = torch.rand(1, 3, 92, 92)
    for got, want in zip(built(data), reference(data), strict=True):
        torch.testing.assert_close(got, want)
    shapes = netspec.infer_shapes(LAB / "conv_block_downsample.yaml", inputs={"data": (1, 3, 572, 572)})
    assert shapes["mod"] == (1, 64, 568, 568) and shapes["downsample"] == (1, 64, 284, 284)


def test_conv_block_upsample_crops_like_the_lab():
    torch.manual_seed(0)
    reference = ConvBlockUpsample(16, 8)
    built = netspec.build(LAB / "conv_block_upsample.yaml", params={"in_channels": 16, "out": 8})
    _same_weights(built, reference)
    data, skip = torch.rand(1, 16, 28, 28), torch.rand(1, 8, 81, 81)  # odd sizes: the crop's h % 2 matters
    torch.testing.assert_close(built(data, skip), reference(data, skip))
    shapes = netspec.infer_shapes(
        LAB / "conv_block_upsample.yaml", inputs={"data": (1, 128, 196, 196), "data_from_downsample": (1, 64, 568, 568)}
    )
    assert shapes["cat"] == (1, 128, 392, 392) and shapes["conv"] == (1, 64, 388, 388)


@pytest.mark.parametrize("downsampling", [False, True])
def test_the_lab_residual_block(downsampling: bool):
    spec = {
        "name": "lab-block",
        "inputs": {"x": ["N", 64, "H", "W"]},
        "extends": None,
        "blocks": netspec.load("lab-resnet18").to_dict()["blocks"],
        "nodes": {"block": {"block": "residual", "out": 128 if downsampling else 64, "downsampling": downsampling}},
        "params": {"num_classes": 10},
    }
    torch.manual_seed(0)
    reference = BasicResidualBlock(64, 128 if downsampling else 64, downsampling=downsampling)
    built = netspec.build(spec)
    reference_state = {f"block.{k}": v for k, v in reference.state_dict().items()}
    assert list(built.state_dict()) == list(reference_state)
    built.load_state_dict(reference_state, strict=True)
    built.eval()
    reference.eval()
    data = torch.rand(2, 64, 16, 16)
    torch.testing.assert_close(built(data), reference(data))


def test_the_lab_stem_and_classifier_blocks_keep_the_lab_names():
    built = netspec.build("lab-resnet18")
    assert list(built.prep.state_dict()) == list(PreparatoryBlock().state_dict())
    assert list(built.classifier.state_dict()) == list(ClassifierBlock(512).state_dict())
