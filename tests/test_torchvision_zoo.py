"""The bundled reproductions of torchvision's models against torchvision itself.

For each: torchvision's (randomly initialised) weights load strictly, outputs are equal in eval
mode and, under one seed, in train mode (dropout and stochastic depth draw the same numbers), the
MACs are within 1% of torchvision's own figure (`meta["_ops"]` of the weights enum, in GMACs at
the weights' input size), and the model builds with `torch.compile(fullgraph=True)` and
`torch.export`. Inputs are small; the MAC count is static and costs nothing at full size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
import torch

import netspec
from netspec._summary import summarize

torchvision = pytest.importorskip("torchvision")


@dataclass(frozen=True)
class Case:
    spec: str
    builder: Any  # torchvision's builder function
    weights: Any  # the weights enum entry whose meta["_ops"] is the published figure
    macs_input: tuple[int, ...]  # the input size torchvision's figure is measured at
    shape: tuple[int, ...]  # a small input for the numerical comparisons
    params: dict[str, Any] = field(default_factory=dict)  # for both: the spec's and torchvision's

    def pair(self, **extra: Any) -> tuple[torch.nn.Module, torch.nn.Module]:
        """(built, torchvision's) with torchvision's weights loaded strictly into ours."""
        params = self.params | extra
        theirs = self.builder(weights=None, **params)
        ours = netspec.build(self.spec, **params)
        ours.load_state_dict(theirs.state_dict(), strict=True)
        return ours, theirs


CASES = [
    Case(
        "efficientnet_b0",
        torchvision.models.efficientnet_b0,
        torchvision.models.EfficientNet_B0_Weights.IMAGENET1K_V1,
        (1, 3, 224, 224),
        (4, 3, 32, 32),
        {"num_classes": 10},
    ),
]
IDS = [case.spec for case in CASES]


def _out(value: Any) -> Any:
    """torchvision's segmentation models return a dict: its `out` (and `aux`) as ours returns them."""
    if isinstance(value, dict):
        return value["out"] if len(value) == 1 else (value["out"], value["aux"])
    return value


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_state_dict_keys_are_torchvisions_in_order(case: Case) -> None:
    with torch.device("meta"):
        ours = netspec.build(case.spec)
        theirs = case.builder(weights=None)
    assert list(ours.state_dict()) == list(theirs.state_dict())


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_outputs_equal_in_eval_and_under_one_seed_in_train(case: Case) -> None:
    ours, theirs = case.pair()
    x = torch.randn(case.shape, generator=torch.Generator().manual_seed(0))
    ours.eval(), theirs.eval()
    with torch.no_grad():
        torch.testing.assert_close(ours(x), _out(theirs(x)))
    ours.train(), theirs.train()
    for seed in (1, 2):
        torch.manual_seed(seed)
        expected = _out(theirs(x))
        torch.manual_seed(seed)
        torch.testing.assert_close(ours(x), expected)
    # train mode drew: a third seed gives another output
    torch.manual_seed(3)
    assert not torch.equal(_first(ours(x)), _first(expected))


def _first(value: Any) -> torch.Tensor:
    return value[0] if isinstance(value, tuple) else value


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_macs_are_within_one_percent_of_torchvisions(case: Case) -> None:
    macs = summarize(case.spec, input_shapes={"x": case.macs_input}).totals.macs
    published = case.weights.meta["_ops"] * 1e9
    assert abs(macs - published) <= 0.01 * published, (macs, published)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_builds_with_compile_fullgraph_and_export(case: Case) -> None:
    ours = netspec.build(case.spec, **case.params).eval()
    x = torch.randn(case.shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = ours(x)
        compiled = torch.compile(ours, fullgraph=True, backend="eager")
        torch.testing.assert_close(compiled(x), expected)
    exported = torch.export.export(ours, (x,))
    with torch.no_grad():
        torch.testing.assert_close(exported.module()(x), expected)


def test_the_zoo_pages_torchvision_figures_are_torchvisions() -> None:
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "tools" / "gen_zoo.py"
    spec = importlib.util.spec_from_file_location("gen_zoo", path)
    assert spec is not None and spec.loader is not None
    gen_zoo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen_zoo)
    assert set(gen_zoo.TORCHVISION_MACS) == {case.spec for case in CASES}
    for case in CASES:
        weights, gmacs = gen_zoo.TORCHVISION_MACS[case.spec]
        assert weights == f"{type(case.weights).__name__}.{case.weights.name}"
        assert gmacs == case.weights.meta["_ops"]
