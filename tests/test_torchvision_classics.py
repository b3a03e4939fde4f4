"""DenseNet-121, VGG-11-BN and RegNetY-400MF against torchvision itself: torchvision's state_dict keys in
order, strict loading of torchvision's weights, equal outputs, and under one seed equal parameters
(the same init draws in the same order)."""

from __future__ import annotations

import pytest
import torch

import netspec

torchvision = pytest.importorskip("torchvision")

NAMES = ["densenet121", "vgg11_bn", "regnet_y_400mf"]


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_gives_torchvisions_parameters(name: str) -> None:
    torch.manual_seed(0)
    ours = netspec.build(name, params={"num_classes": 10})
    torch.manual_seed(0)
    theirs = getattr(torchvision.models, name)(num_classes=10)
    ours_state, theirs_state = ours.state_dict(), theirs.state_dict()
    assert list(ours_state) == list(theirs_state)
    for key, value in theirs_state.items():
        assert torch.equal(ours_state[key], value), key
    assert netspec.count_params(name, params={"num_classes": 10}) == sum(p.numel() for p in theirs.parameters())


@pytest.mark.parametrize("name", NAMES)
def test_torchvision_weights_load_strictly_and_give_the_same_outputs(name: str) -> None:
    torch.manual_seed(1)
    theirs = getattr(torchvision.models, name)(num_classes=10).eval()
    ours = netspec.build(name, params={"num_classes": 10}).eval()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x), rtol=0, atol=0)
