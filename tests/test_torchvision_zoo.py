"""The bundled reproductions of torchvision's models against torchvision itself.

For each: torchvision's (randomly initialised) weights load strictly, outputs are equal in eval
mode and, under one seed, in train mode (dropout and stochastic depth draw the same numbers), the
MACs are within 1% of torchvision's own figure (`meta["_ops"]` of the weights enum, in GMACs at
the weights' input size), and the model builds with `torch.compile(fullgraph=True)` and
`torch.export`. Inputs are small; the MAC count is static and costs nothing at full size.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import torch

import netspec
from netspec._summary import summarize

torchvision = pytest.importorskip("torchvision")

ROOT = Path(__file__).resolve().parents[1]
segmentation = torchvision.models.segmentation


@dataclass(frozen=True)
class Case:
    spec: str  # a bundled name or a file
    builder: Any  # torchvision's builder function (without pretrained weights)
    weights: Any  # the weights enum entry whose meta["_ops"] is the published figure, if it is this model's
    macs_input: tuple[int, ...]  # the input size torchvision's figure is measured at
    shape: tuple[int, ...]  # a small input for the numerical comparisons
    params: dict[str, Any] = field(default_factory=dict)  # for both: the spec's and torchvision's
    draws: bool = True  # whether training draws random numbers (dropout, stochastic depth)
    label: str = ""  # the test id, when the spec's name is not enough

    @property
    def id(self) -> str:
        return self.label or Path(self.spec).stem

    def pair(self, **extra: Any) -> tuple[torch.nn.Module, torch.nn.Module]:
        """(built, torchvision's) with torchvision's weights loaded strictly into ours."""
        params = self.params | extra
        theirs = self.builder(weights=None, **params)
        ours = netspec.build(self.spec, params=params)
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
    Case(
        "shufflenet_v2_x1_0",
        torchvision.models.shufflenet_v2_x1_0,
        torchvision.models.ShuffleNet_V2_X1_0_Weights.IMAGENET1K_V1,
        (1, 3, 224, 224),
        (2, 3, 32, 32),
        {"num_classes": 10},
        draws=False,
    ),
    Case(  # torchvision's default without weights: no auxiliary head
        "deeplabv3_resnet50",
        functools.partial(segmentation.deeplabv3_resnet50, weights_backbone=None, aux_loss=False),
        None,
        (1, 3, 520, 520),
        (2, 3, 37, 45),
        {"num_classes": 5, "aux_loss": False},
    ),
    Case(  # the bundled spec's `aux_loss` parameter: torchvision's auxiliary head
        "deeplabv3_resnet50",
        functools.partial(segmentation.deeplabv3_resnet50, weights_backbone=None),
        None,
        (1, 3, 520, 520),
        (2, 3, 35, 27),
        {"num_classes": 5, "aux_loss": True},
        label="deeplabv3_resnet50-aux_loss",
    ),
    Case(  # with the auxiliary head, as torchvision's weights (and their published figure) have it
        str(ROOT / "examples" / "deeplabv3_resnet50_aux.yaml"),
        functools.partial(segmentation.deeplabv3_resnet50, weights_backbone=None, aux_loss=True),
        segmentation.DeepLabV3_ResNet50_Weights.COCO_WITH_VOC_LABELS_V1,
        (1, 3, 520, 520),
        (2, 3, 29, 21),
        {"num_classes": 5},
    ),
]
IDS = [case.id for case in CASES]


def _out(value: Any) -> Any:
    """torchvision's segmentation models return a dict: its `out` (and `aux`) as ours returns them."""
    if isinstance(value, dict):
        assert list(value) == ["out", "aux"][: len(value)]
        return value["out"] if len(value) == 1 else (value["out"], value["aux"])
    return value


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_state_dict_keys_are_torchvisions_in_order(case: Case) -> None:
    with torch.device("meta"):
        ours = netspec.build(case.spec, params=case.params)
        theirs = case.builder(weights=None, **case.params)
    assert list(ours.state_dict()) == list(theirs.state_dict())


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_outputs_equal_in_eval_and_under_one_seed_in_train(case: Case) -> None:
    ours, theirs = case.pair()
    x = torch.randn(case.shape, generator=torch.Generator().manual_seed(0))
    ours.eval(), theirs.eval()
    with torch.no_grad():
        torch.testing.assert_close(ours(x), _out(theirs(x)))
    ours.train(), theirs.train()
    torch.manual_seed(1)
    expected = _out(theirs(x))
    torch.manual_seed(1)
    torch.testing.assert_close(ours(x), expected)
    if case.draws:  # train mode drew: another seed gives another output
        torch.manual_seed(2)
        assert not torch.equal(_first(ours(x)), _first(expected))


def _first(value: Any) -> torch.Tensor:
    return value[0] if isinstance(value, tuple) else value


PUBLISHED = [case for case in CASES if case.weights is not None]


@pytest.mark.parametrize("case", PUBLISHED, ids=[case.id for case in PUBLISHED])
def test_macs_are_within_one_percent_of_torchvisions(case: Case) -> None:
    macs = summarize(case.spec, inputs={"x": case.macs_input}).totals.macs
    published = case.weights.meta["_ops"] * 1e9
    assert abs(macs - published) <= 0.01 * published, (macs, published)


BUNDLED = [case for case in CASES if "/" not in case.spec and not case.label]  # the others add nothing new to compile


@pytest.mark.parametrize("case", BUNDLED, ids=[case.id for case in BUNDLED])
def test_builds_with_compile_fullgraph_and_export(case: Case) -> None:
    ours = netspec.build(case.spec, params=case.params).eval()
    x = torch.randn(case.shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = ours(x)
        compiled = torch.compile(ours, fullgraph=True, backend="eager")
        torch.testing.assert_close(compiled(x), expected)
    exported = torch.export.export(ours, (x,))
    with torch.no_grad():
        torch.testing.assert_close(exported.module()(x), expected)


def _gen_zoo() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen_zoo", ROOT / "tools" / "gen_zoo.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ZOO_FIGURES = _gen_zoo().TORCHVISION_MACS


@pytest.mark.parametrize("name", sorted(ZOO_FIGURES))
def test_the_zoo_pages_torchvision_figures_are_torchvisions(name: str) -> None:
    """Every figure docs/zoo.md quotes is torchvision's, and the spec it names counts within 1% of it."""
    weights_name, gmacs, source = ZOO_FIGURES[name]
    enum_name, member = weights_name.split(".")
    enum = getattr(torchvision.models, enum_name, None) or getattr(segmentation, enum_name)
    weights = enum[member]
    assert gmacs == weights.meta["_ops"]
    counted = str(ROOT / source) if source else name
    transforms = weights.transforms()  # the figure is measured at the weights' input size: the spec's `dims`
    size = getattr(transforms, "crop_size", None) or transforms.resize_size
    assert (netspec.load(counted).dims["H"], netspec.load(counted).dims["W"]) == (size[0], size[-1])
    macs = summarize(counted).totals.macs
    assert abs(macs - gmacs * 1e9) <= 0.01 * gmacs * 1e9, (macs, gmacs)


@pytest.mark.parametrize("size", [(1, 1), (8, 8), (33, 47), (100, 100)])
def test_deeplab_output_has_the_input_size_at_any_size(size: tuple[int, int]) -> None:
    with torch.device("meta"):
        model = netspec.build("deeplabv3_resnet50", params={"num_classes": 3}).eval()
    assert netspec.infer_shapes("deeplabv3_resnet50", inputs={"x": (1, 3, *size)})["out"] == (1, 21, *size)
    assert model(torch.empty(1, 3, *size, device="meta")).shape == (1, 3, *size)


def test_shufflenet_splits_and_shuffles_with_ops() -> None:
    from collections import Counter

    from netspec._api import prepare

    ops = Counter(node.node.op.name for node in prepare("shufflenet_v2_x1_0", None, None).nodes.values())
    assert ops["chunk"] == 3 + 7 + 3  # every unit but a stage's first splits its input in halves
    assert ops["ChannelShuffle"] == 4 + 8 + 4
    assert not {"pad", "crop", "Unflatten", "slice"} & set(ops)


def test_deeplab_with_resnet101s_layers_is_torchvisions_deeplabv3_resnet101() -> None:
    with torch.device("meta"):
        ours = netspec.build("deeplabv3_resnet50", params={"layers": [3, 4, 23, 3]})
        theirs = segmentation.deeplabv3_resnet101(weights=None, weights_backbone=None)
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == [
        (k, v.shape) for k, v in theirs.state_dict().items()
    ]
