"""Hand-written PyTorch modules that netspec's bundled specs are checked against.

Each class here is plain `torch.nn`, written directly from the published descriptions of the
architectures (and, for the lab models, from the lab's own code). A bundled spec matches its reference
when both have the same state_dict keys, shapes and dtypes in the same order, and give equal outputs
after loading one state_dict into both. Attribute names are therefore part of the contract.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "M5",
    "REFERENCE_MODELS",
    "BasicBlock",
    "BasicResidualBlock",
    "Bottleneck",
    "ClassifierBlock",
    "LabResNet18",
    "LeNet5",
    "PreparatoryBlock",
    "ResNet",
    "SameUNet",
    "UNet",
    "UNet3d",
    "lab_center_crop",
    "resnet18",
    "resnet34",
    "resnet50",
    "torchvision_model",
    "torchvision_segmentation",
]


# --------------------------------------------------------------------------------------------
# ResNet (He et al., 2015), with torchvision's names, construction order and initialisation
# --------------------------------------------------------------------------------------------


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with BatchNorm and an identity (or 1x1 projection) shortcut."""

    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def last_bn(self) -> nn.BatchNorm2d:
        """The BatchNorm closing the residual branch (zeroed by `zero_init_residual`)."""
        return self.bn2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + shortcut)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (carrying the stride), 1x1 expand by 4, with BatchNorm after each."""

    expansion = 4

    def __init__(self, in_planes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        out_planes = planes * self.expansion
        self.conv1 = nn.Conv2d(in_planes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out_planes, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def last_bn(self) -> nn.BatchNorm2d:
        """The BatchNorm closing the residual branch (zeroed by `zero_init_residual`)."""
        return self.bn3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + shortcut)


class ResNet(nn.Module):
    """ResNet with torchvision's state_dict layout, construction order and initialisation.

    Building modules in the same order as torchvision consumes the random generator in the same
    order, so the same seed gives bit-identical parameters.
    """

    def __init__(
        self,
        block: type[BasicBlock | Bottleneck],
        blocks_per_stage: list[int],
        num_classes: int = 1000,
        in_channels: int = 3,
        zero_init_residual: bool = False,
    ) -> None:
        super().__init__()
        self.in_planes = 64
        self.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = self._make_stage(block, 64, blocks_per_stage[0], stride=1)
        self.layer2 = self._make_stage(block, 128, blocks_per_stage[1], stride=2)
        self.layer3 = self._make_stage(block, 256, blocks_per_stage[2], stride=2)
        self.layer4 = self._make_stage(block, 512, blocks_per_stage[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)
        self._initialise(zero_init_residual)

    def _make_stage(self, block: type[BasicBlock | Bottleneck], planes: int, count: int, stride: int) -> nn.Sequential:
        out_planes = planes * block.expansion
        downsample = None
        if stride != 1 or self.in_planes != out_planes:
            # Built before the block's own layers, as torchvision does.
            downsample = nn.Sequential(
                nn.Conv2d(self.in_planes, out_planes, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_planes),
            )
        stage = [block(self.in_planes, planes, stride, downsample)]
        self.in_planes = out_planes
        stage += [block(self.in_planes, planes) for _ in range(1, count)]
        return nn.Sequential(*stage)

    def _initialise(self, zero_init_residual: bool) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.constant_(module.weight, 1)
                nn.init.constant_(module.bias, 0)
        if zero_init_residual:
            for module in self.modules():
                if isinstance(module, (BasicBlock, Bottleneck)):
                    nn.init.constant_(module.last_bn().weight, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(x)


def resnet18(num_classes: int = 1000, in_channels: int = 3, zero_init_residual: bool = False) -> ResNet:
    """ResNet-18: basic blocks, 2-2-2-2."""
    return ResNet(BasicBlock, [2, 2, 2, 2], num_classes, in_channels, zero_init_residual)


def resnet34(num_classes: int = 1000, in_channels: int = 3, zero_init_residual: bool = False) -> ResNet:
    """ResNet-34: basic blocks, 3-4-6-3."""
    return ResNet(BasicBlock, [3, 4, 6, 3], num_classes, in_channels, zero_init_residual)


def resnet50(num_classes: int = 1000, in_channels: int = 3, zero_init_residual: bool = False) -> ResNet:
    """ResNet-50: bottleneck blocks, 3-4-6-3."""
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes, in_channels, zero_init_residual)


# --------------------------------------------------------------------------------------------
# U-Net (Ronneberger et al., 2015), as drawn in the paper: unpadded convolutions, cropped skips
# --------------------------------------------------------------------------------------------


def lab_center_crop(skip: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Center-crop the last two dims of `skip` to `height` x `width` with the lab's formula.

    Rows `H//2 - h//2 : H//2 + h//2 + h%2` are kept, and likewise for columns.
    """
    big_h, big_w = skip.shape[-2], skip.shape[-1]
    top, bottom = big_h // 2 - height // 2, big_h // 2 + height // 2 + height % 2
    left, right = big_w // 2 - width // 2, big_w // 2 + width // 2 + width % 2
    return skip[..., top:bottom, left:right]


class _PaperEncoderLevel(nn.Module):
    """Optional 2x2 max-pool, then two unpadded 3x3 convolutions (with bias), each with ReLU."""

    def __init__(self, in_channels: int, out_channels: int, pooled: bool) -> None:
        super().__init__()
        self.pooled = pooled
        if pooled:
            self.pool = nn.MaxPool2d(2)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3)
        self.relu2 = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pooled:
            x = self.pool(x)
        x = self.relu1(self.conv1(x))
        return self.relu2(self.conv2(x))


class _PaperDecoderLevel(nn.Module):
    """2x2 up-convolution halving the width, cropped skip appended, two unpadded 3x3 conv + ReLU."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(in_channels, out_channels, 2, stride=2)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3)
        self.relu2 = nn.ReLU()

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = self.up(x)
        skip = lab_center_crop(skip, x.shape[-2], x.shape[-1])
        x = torch.cat([x, skip], dim=1)
        x = self.relu1(self.conv1(x))
        return self.relu2(self.conv2(x))


class UNet(nn.Module):
    """The paper's U-Net: `depth` pooling steps, widths `width * 2**k`; 1x572x572 -> 2x388x388."""

    def __init__(self, in_channels: int = 1, num_classes: int = 2, width: int = 64, depth: int = 4) -> None:
        super().__init__()
        self.depth = depth
        widths = [width * 2**k for k in range(depth + 1)]
        self.enc = nn.ModuleList(
            _PaperEncoderLevel(in_channels if k == 0 else widths[k - 1], widths[k], pooled=k > 0)
            for k in range(depth + 1)
        )
        self.dec = nn.ModuleList(_PaperDecoderLevel(widths[depth - j], widths[depth - j - 1]) for j in range(depth))
        self.head = nn.Conv2d(width, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for level in self.enc:
            x = level(x)
            skips.append(x)
        for j, level in enumerate(self.dec):
            x = level(x, skips[self.depth - 1 - j])
        return self.head(x)


# --------------------------------------------------------------------------------------------
# "Same" U-Net: padded 3x3 convolutions without bias + BatchNorm, uncropped skips (2-D and 3-D)
# --------------------------------------------------------------------------------------------

_CONV = {2: nn.Conv2d, 3: nn.Conv3d}
_BATCH_NORM = {2: nn.BatchNorm2d, 3: nn.BatchNorm3d}
_MAX_POOL = {2: nn.MaxPool2d, 3: nn.MaxPool3d}
_CONV_TRANSPOSE = {2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}


class _SameEncoderLevel(nn.Module):
    """Optional 2x max-pool, then twice (padded 3x3 conv without bias, BatchNorm, ReLU)."""

    def __init__(self, in_channels: int, out_channels: int, pooled: bool, dims: int) -> None:
        super().__init__()
        self.pooled = pooled
        if pooled:
            self.pool = _MAX_POOL[dims](2)
        self.conv1 = _CONV[dims](in_channels, out_channels, 3, padding=1, bias=False)
        self.bn1 = _BATCH_NORM[dims](out_channels)
        self.relu1 = nn.ReLU()
        self.conv2 = _CONV[dims](out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = _BATCH_NORM[dims](out_channels)
        self.relu2 = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pooled:
            x = self.pool(x)
        x = self.relu1(self.bn1(self.conv1(x)))
        return self.relu2(self.bn2(self.conv2(x)))


class _SameDecoderLevel(nn.Module):
    """2x up-convolution (with bias) halving the width, skip appended, two padded conv-BN-ReLU."""

    def __init__(self, in_channels: int, out_channels: int, dims: int) -> None:
        super().__init__()
        self.up = _CONV_TRANSPOSE[dims](in_channels, out_channels, 2, stride=2)
        self.conv1 = _CONV[dims](in_channels, out_channels, 3, padding=1, bias=False)
        self.bn1 = _BATCH_NORM[dims](out_channels)
        self.relu1 = nn.ReLU()
        self.conv2 = _CONV[dims](out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = _BATCH_NORM[dims](out_channels)
        self.relu2 = nn.ReLU()

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = torch.cat([self.up(x), skip], dim=1)
        x = self.relu1(self.bn1(self.conv1(x)))
        return self.relu2(self.bn2(self.conv2(x)))


class _SameUNetBase(nn.Module):
    """Padded U-Net over `dims` spatial dimensions; output size equals input size."""

    def __init__(self, in_channels: int, num_classes: int, width: int, depth: int, dims: int) -> None:
        super().__init__()
        self.depth = depth
        widths = [width * 2**k for k in range(depth + 1)]
        self.enc = nn.ModuleList(
            _SameEncoderLevel(in_channels if k == 0 else widths[k - 1], widths[k], pooled=k > 0, dims=dims)
            for k in range(depth + 1)
        )
        self.dec = nn.ModuleList(
            _SameDecoderLevel(widths[depth - j], widths[depth - j - 1], dims=dims) for j in range(depth)
        )
        self.head = _CONV[dims](width, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for level in self.enc:
            x = level(x)
            skips.append(x)
        for j, level in enumerate(self.dec):
            x = level(x, skips[self.depth - 1 - j])
        return self.head(x)


class SameUNet(_SameUNetBase):
    """2-D padded U-Net ("unet-same"): sizes must be multiples of `2**depth`; output size = input."""

    def __init__(self, in_channels: int = 1, num_classes: int = 2, width: int = 64, depth: int = 4) -> None:
        super().__init__(in_channels, num_classes, width, depth, dims=2)


class UNet3d(_SameUNetBase):
    """3-D padded U-Net for volumes such as [N, 1, 32, 32, 32]; output size = input size."""

    def __init__(self, in_channels: int = 1, num_classes: int = 2, width: int = 16, depth: int = 3) -> None:
        super().__init__(in_channels, num_classes, width, depth, dims=3)


# --------------------------------------------------------------------------------------------
# The lab's ResNet18 (lab 7), kept exactly as the lab writes it, biases included
# --------------------------------------------------------------------------------------------


class PreparatoryBlock(nn.Module):
    """The lab's stem: 7x7 conv (stride 2, with bias), BatchNorm, ReLU, 3x3 max-pool (stride 2)."""

    def __init__(self, in_channels: int = 3) -> None:
        super().__init__()
        self.mod = nn.Sequential(
            nn.Conv2d(in_channels=in_channels, out_channels=64, kernel_size=7, stride=2, padding=3),
            nn.BatchNorm2d(64),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        )

    def forward(self, data: torch.Tensor) -> torch.Tensor:
        return self.mod(data)


class ClassifierBlock(nn.Module):
    """The lab's head: global average pool, flatten, linear."""

    def __init__(self, in_channels: int, num_classes: int = 10) -> None:
        super().__init__()
        self.mod = nn.Sequential(
            nn.AdaptiveAvgPool2d((1, 1)),
            nn.Flatten(),
            nn.Linear(in_channels, num_classes),
        )

    def forward(self, data: torch.Tensor) -> torch.Tensor:
        return self.mod(data)


class BasicResidualBlock(nn.Module):
    """The lab's residual block: conv1 keeps its bias, conv2 has none; a downsampling block's
    shortcut is a 1x1 stride-2 conv with bias and no BatchNorm."""

    def __init__(self, in_channels: int, out_channels: int, downsampling: bool = False) -> None:
        super().__init__()
        stride_first_layer = 2 if downsampling else 1
        self.conv1 = nn.Conv2d(
            in_channels=in_channels,
            out_channels=out_channels,
            kernel_size=3,
            padding=1,
            stride=stride_first_layer,
        )
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(
            in_channels=out_channels,
            out_channels=out_channels,
            kernel_size=3,
            padding=1,
            bias=False,
        )
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.downsampling = downsampling
        if downsampling:
            self.conv_skip = nn.Conv2d(
                in_channels=in_channels,
                out_channels=out_channels,
                kernel_size=1,
                stride=2,
                padding=0,
            )

    def forward(self, data: torch.Tensor) -> torch.Tensor:
        out1 = data
        if self.downsampling:
            out1 = self.conv_skip(out1)
        out2 = self.conv1(data)
        out2 = self.bn1(out2)
        out2 = F.relu(out2)
        out2 = self.conv2(out2)
        out2 = self.bn2(out2)
        out2 += out1
        return F.relu(out2)


class LabResNet18(nn.Module):
    """The lab's ResNet18: stem, eight residual blocks (three of them downsampling), classifier."""

    def __init__(self, num_classes: int = 10, in_channels: int = 3) -> None:
        super().__init__()
        self.prep = PreparatoryBlock(in_channels)
        self.blocks = nn.Sequential(
            BasicResidualBlock(64, 64),
            BasicResidualBlock(64, 64),
            BasicResidualBlock(64, 128, downsampling=True),
            BasicResidualBlock(128, 128),
            BasicResidualBlock(128, 256, downsampling=True),
            BasicResidualBlock(256, 256),
            BasicResidualBlock(256, 512, downsampling=True),
            BasicResidualBlock(512, 512),
        )
        self.classifier = ClassifierBlock(512, num_classes)

    def forward(self, data: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.blocks(self.prep(data)))


# --------------------------------------------------------------------------------------------
# LeNet-5 and M5
# --------------------------------------------------------------------------------------------


class LeNet5(nn.Module):
    """LeNet-5 for 1x28x28 digits: two tanh conv + average-pool stages, three linear layers."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.act1 = nn.Tanh()
        self.pool1 = nn.AvgPool2d(2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.act2 = nn.Tanh()
        self.pool2 = nn.AvgPool2d(2)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.act3 = nn.Tanh()
        self.fc2 = nn.Linear(120, 84)
        self.act4 = nn.Tanh()
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(self.act1(self.conv1(x)))
        x = self.pool2(self.act2(self.conv2(x)))
        x = self.flatten(x)
        x = self.act3(self.fc1(x))
        x = self.act4(self.fc2(x))
        return self.fc3(x)


class M5(nn.Module):
    """M5 (Dai et al., 2017): a 1-D CNN on raw 8 kHz waveforms [N, 1, 8000], four conv-BN-ReLU-pool
    stages (the first with an 80-sample kernel, stride 16), global average pool, linear."""

    def __init__(self, num_classes: int = 35, in_channels: int = 1, width: int = 32) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(in_channels, width, 80, stride=16)
        self.bn1 = nn.BatchNorm1d(width)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool1d(4)
        self.conv2 = nn.Conv1d(width, width, 3)
        self.bn2 = nn.BatchNorm1d(width)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool1d(4)
        self.conv3 = nn.Conv1d(width, 2 * width, 3)
        self.bn3 = nn.BatchNorm1d(2 * width)
        self.relu3 = nn.ReLU()
        self.pool3 = nn.MaxPool1d(4)
        self.conv4 = nn.Conv1d(2 * width, 2 * width, 3)
        self.bn4 = nn.BatchNorm1d(2 * width)
        self.relu4 = nn.ReLU()
        self.pool4 = nn.MaxPool1d(4)
        self.gap = nn.AdaptiveAvgPool1d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(2 * width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(self.relu1(self.bn1(self.conv1(x))))
        x = self.pool2(self.relu2(self.bn2(self.conv2(x))))
        x = self.pool3(self.relu3(self.bn3(self.conv3(x))))
        x = self.pool4(self.relu4(self.bn4(self.conv4(x))))
        return self.fc(self.flatten(self.gap(x)))


# --------------------------------------------------------------------------------------------
# torchvision's own models, for the bundled specs that reproduce them
# --------------------------------------------------------------------------------------------


def torchvision_model(builder: str) -> Callable[..., nn.Module]:
    """A factory of torchvision's `builder` (randomly initialised), taking the spec's parameters.

    torchvision is imported when a model is made, so this module imports without it.
    """

    def make(**params: object) -> nn.Module:
        import torchvision

        if params.pop("in_channels", 3) != 3:
            raise ValueError(f"torchvision's {builder} takes 3 input channels only")
        if builder.startswith("regnet") and torch.get_default_device().type == "meta":
            # RegNet computes its stage widths with tensors, which the meta device cannot read back.
            params["block_params"] = _regnet_params(builder)
            return torchvision.models.RegNet(**params)  # type: ignore[arg-type]
        return getattr(torchvision.models, builder)(weights=None, **params)

    make.__name__ = builder
    return make


def _regnet_params(builder: str) -> object:
    from torchvision.models import regnet

    with torch.device("cpu"):
        if builder == "regnet_y_400mf":
            return regnet.BlockParams.from_init_params(
                depth=16, w_0=48, w_a=27.89, w_m=2.09, group_width=8, se_ratio=0.25
            )
    raise ValueError(f"no block parameters for {builder}")


def torchvision_segmentation(builder: str) -> Callable[..., nn.Module]:
    """torchvision's segmentation `builder` (no pretrained backbone), returning its `out` tensor
    as the spec does instead of a dict; its state_dict is torchvision's."""

    def make(**params: object) -> nn.Module:
        import torchvision

        if params.pop("in_channels", 3) != 3:
            raise ValueError(f"torchvision's {builder} takes 3 input channels only")
        model = getattr(torchvision.models.segmentation, builder)(weights=None, weights_backbone=None, **params)
        base = type(model)

        class OutOnly(base):  # type: ignore[misc, valid-type]
            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return base.forward(self, x)["out"]

        model.__class__ = OutOnly
        return model

    make.__name__ = builder
    return make


# Bundled spec name -> reference module built with its default arguments.
REFERENCE_MODELS: dict[str, Callable[..., nn.Module]] = {
    "resnet18": resnet18,
    "resnet34": resnet34,
    "resnet50": resnet50,
    "unet": UNet,
    "unet-same": SameUNet,
    "lab-resnet18": LabResNet18,
    "lenet5": LeNet5,
    "m5": M5,
    "unet3d": UNet3d,
    "efficientnet_b0": torchvision_model("efficientnet_b0"),
    "shufflenet_v2_x1_0": torchvision_model("shufflenet_v2_x1_0"),
    "deeplabv3_resnet50": torchvision_segmentation("deeplabv3_resnet50"),
    "convnext_tiny": torchvision_model("convnext_tiny"),
    "vit_b_16": torchvision_model("vit_b_16"),
    "densenet121": torchvision_model("densenet121"),
    "vgg11_bn": torchvision_model("vgg11_bn"),
    "regnet_y_400mf": torchvision_model("regnet_y_400mf"),
    "swin_t": torchvision_model("swin_t"),
    "swin_v2_t": torchvision_model("swin_v2_t"),
}
