"""Against torchvision itself, where it is installed: same keys, same weights load, same parameters under one seed.

torchvision is not a dependency (and its PyPI build does not load beside every torch build), so
these tests skip without it; tests/test_bundled.py proves the same against a hand-written
torchvision-style reference everywhere.
"""

from __future__ import annotations

import pytest
import torch

import netspec

try:
    import torchvision
except Exception as exc:
    pytest.skip(f"torchvision is not usable here: {exc}", allow_module_level=True)

NAMES = ["resnet18", "resnet34", "resnet50"]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("zero_init_residual", [False, True])
def test_same_seed_gives_torchvisions_parameters(name: str, zero_init_residual: bool) -> None:
    torch.manual_seed(0)
    ours = netspec.build(name, params={"zero_init_residual": zero_init_residual})
    torch.manual_seed(0)
    theirs = getattr(torchvision.models, name)(zero_init_residual=zero_init_residual)
    ours_state, theirs_state = ours.state_dict(), theirs.state_dict()
    assert list(ours_state) == list(theirs_state)
    for key, value in theirs_state.items():
        assert torch.equal(ours_state[key], value), key


@pytest.mark.parametrize("name", NAMES)
def test_torchvision_weights_load_strictly_and_give_the_same_outputs(name: str) -> None:
    theirs = getattr(torchvision.models, name)(num_classes=10).eval()
    ours = netspec.build(name, params={"num_classes": 10}).eval()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x))
