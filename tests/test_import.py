"""Import: PyTorch modules of odd shapes become specs that build into the same computation."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
import yaml
from torch import nn
from torch.nn import functional as F

import netspec
from netspec._cli import main
from netspec._ops import unregister_op

ROOT = Path(__file__).resolve().parents[1]


def _imported(module: nn.Module, **shapes: list[int]) -> tuple[str, torch.fx.GraphModule]:
    """Import (which verifies), then check once more here: strict load and equal outputs."""
    return _same(netspec.from_module(module, inputs=shapes), module, **shapes)


def _same(text: str, module: nn.Module, **shapes: list[int]) -> tuple[str, torch.fx.GraphModule]:
    built = netspec.build(netspec.loads(text), weights=module.state_dict(), inputs=shapes)
    examples = [torch.randn(s) for s in shapes.values()]
    module.eval()
    with torch.no_grad():
        expected, actual = module(*examples), built.eval()(*examples)
    expected = list(expected.values()) if isinstance(expected, dict) else expected
    expected = list(expected) if isinstance(expected, (tuple, list)) else [expected]
    actual = list(actual) if isinstance(actual, tuple) else [actual]
    assert len(expected) == len(actual) and all(torch.equal(a, b) for a, b in zip(expected, actual))
    return text, built


def _code_lines(text: str) -> int:
    return sum(1 for line in text.splitlines() if line.strip() and not line.strip().startswith("#"))


def _nodes(text: str) -> dict:
    return yaml.safe_load(text)["nodes"]


class Shared(nn.Module):
    """One activation module called twice."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 8)
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.fc(self.act(x)))


def test_a_module_called_twice() -> None:
    text, built = _imported(Shared(), x=[2, 8])
    assert list(_nodes(text)) == ["act", "fc", "act_1"]
    assert set(built.state_dict()) == {"fc.weight", "fc.bias"}


class TiedLinear(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.fc(x))


def test_shared_weights_are_refused() -> None:
    with pytest.raises(netspec.ModuleImportError, match=r"`fc` \(Linear\) is called 2 times and has weights"):
        netspec.from_module(TiedLinear(), inputs={"x": [1, 4]})


class Functional(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.other = nn.Conv2d(3, 8, 1)
        self.fc = nn.Linear(16, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.conv(x))
        y = torch.cat([y, torch.sigmoid(self.other(x))], dim=1)
        y = F.max_pool2d(y, 2)
        y = F.adaptive_avg_pool2d(y, (1, 1))
        y = y.flatten(1)
        return F.log_softmax(self.fc(y), dim=1)


def test_functional_calls_become_ops() -> None:
    text, _ = _imported(Functional(), x=[2, 3, 8, 8])
    nodes = _nodes(text)
    assert nodes["relu"] == "ReLU"
    assert nodes["cat"] == {"op": "concat", "in": ["relu", "sigmoid"]}
    assert nodes["max_pool2d"] == {"op": "MaxPool2d", "kernel_size": 2}
    assert nodes["flatten"] == "Flatten"
    assert nodes["log_softmax"] == {"op": "LogSoftmax", "dim": 1}


class InPlace(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(4, 4)
        self.b = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.a(x)
        y += self.b(x)
        y = y.relu_()
        y *= torch.tanh(y)
        return y.view(y.size(0), -1)


def test_in_place_ops() -> None:
    text, _ = _imported(InPlace(), x=[3, 4])
    nodes = _nodes(text)
    assert nodes["add"] == {"op": "add", "in": ["a", "b"]}
    assert nodes["relu"] == {"op": "ReLU", "inplace": True}
    assert nodes["mul"] == {"op": "mul", "in": ["relu", "tanh"]}
    assert yaml.safe_load(text)["inputs"] == {"x": ["N", 4]}


class TwoHeads(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.trunk = nn.Linear(4, 6)
        self.head = nn.Linear(6, 2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.trunk(x)
        return h, self.head(h)


class UsesTuple(nn.Module):
    """Unpacks and indexes a submodule's tuple, and returns a dict."""

    def __init__(self) -> None:
        super().__init__()
        self.inner = TwoHeads()
        self.extra = nn.Linear(6, 3)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        pair = self.inner(x)
        hidden, logits = pair
        return {"logits": logits, "extra": self.extra(pair[0] + hidden)}


def test_tuple_outputs_and_getitem() -> None:
    text, _built = _imported(TwoHeads(), x=[2, 4])
    assert yaml.safe_load(text)["outputs"] == ["trunk", "head"]


def test_a_module_that_returns_a_dict() -> None:
    text, _built = _imported(UsesTuple(), x=[2, 4])
    spec = yaml.safe_load(text)
    assert spec["outputs"] == ["inner.head", "extra"]
    assert "# the dict's keys: logits, extra" in text
    assert spec["blocks"]["two_heads"]["output"] == "trunk"


def test_nested_sequentials() -> None:
    model = nn.Sequential(
        nn.Sequential(nn.Linear(4, 8), nn.ReLU()),
        nn.Sequential(nn.Linear(8, 8), nn.ReLU()),
        nn.Sequential(nn.Linear(8, 8), nn.ReLU()),
        nn.Linear(8, 2),
    )
    text, built = _imported(model, x=[2, 4])
    spec = yaml.safe_load(text)
    assert len(spec["blocks"]) == 1  # the three inner Sequentials are one block
    assert set(built.state_dict()) == set(model.state_dict())


def test_a_chain_of_equal_layers_is_a_repeat() -> None:
    model = nn.Sequential(nn.Linear(4, 16), nn.Sequential(*[nn.Linear(16, 16) for _ in range(4)]), nn.Linear(16, 2))
    text, _ = _imported(model, x=[2, 4])
    assert {"op": "Linear", "repeat": 4, "out_features": 16} in yaml.safe_load(text)["nodes"]


class Scale(nn.Module):
    def __init__(self, channels: int = 4) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.rand(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cumsum(x, dim=1) * self.weight


class WithCustom(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.scale = Scale()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale(self.fc(x))


def test_a_module_not_in_the_catalog_is_a_clear_error() -> None:
    with pytest.raises(netspec.ModuleImportError) as info:
        netspec.from_module(WithCustom(), inputs={"x": [2, 4]})
    (problem,) = info.value.problems
    assert "in `scale` (Scale)" in problem
    assert "the catalog has no op for `torch.cumsum`" in problem
    assert f"{Path(__file__).name}:" in problem and "return torch.cumsum(x, dim=1) * self.weight" in problem
    assert 'netspec.register_op("Scale", Scale)' in problem


def test_a_registered_module_is_kept_as_one_node() -> None:
    netspec.register_op("Scale", Scale)
    try:
        text, _built = _imported(WithCustom(), x=[2, 4])
        assert _nodes(text)["scale"] == "Scale"
    finally:
        unregister_op("Scale")


class TrainsDifferently(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.fc(x)
        if self.training:  # what the eval-mode trace cannot see
            x = torch.relu(x)
        return x


def test_a_difference_fails_the_import() -> None:
    with pytest.raises(netspec.ModuleImportError, match="train: output 0 differs"):
        netspec.from_module(TrainsDifferently(), inputs={"x": [8, 4]})


def test_wrong_input_names() -> None:
    with pytest.raises(netspec.ModuleImportError, match="the forward takes x, the inputs given are image, mask"):
        netspec.from_module(Shared(), inputs={"image": [1, 8], "mask": [1, 8]})


def test_unet_reference() -> None:
    from reference_models import UNet

    text, _built = _imported(UNet(width=4, depth=3), x=[1, 1, 92, 92])
    bundled = (ROOT / "specs" / "unet.yaml").read_text()
    assert _code_lines(text) <= 1.5 * _code_lines(bundled)
    spec = yaml.safe_load(text)
    assert spec["nodes"]["enc"]["repeat"] == 4 and spec["nodes"]["dec"]["repeat"] == 3
    assert spec["nodes"]["dec"]["in"] == ["enc", "enc.${2 - i}"]
    assert {"op": "crop", "in": ["skip", "up"]} in spec["blocks"]["paper_decoder_level"]["nodes"].values()
    assert spec["inputs"]["x"] == ["N", "$in_channels", "H", "W"]


def test_torchvision_resnet18() -> None:
    torchvision = pytest.importorskip("torchvision")
    model = torchvision.models.resnet18(num_classes=10)
    text, built = _imported(model, x=[2, 3, 16, 16])
    bundled = (ROOT / "specs" / "resnet18.yaml").read_text()
    assert _code_lines(text) <= 1.5 * _code_lines(bundled)
    spec = yaml.safe_load(text)
    assert spec["params"] == {"num_classes": 10}
    assert spec["nodes"]["fc"] == {"op": "Linear", "out_features": "$num_classes"}
    assert spec["nodes"]["layer2"]["repeat"] == 2
    assert spec["nodes"]["layer2"]["stride"] == "${2 if i == 0 else 1}"
    assert "# torchvision.models.resnet.BasicBlock" in text
    built.load_state_dict(model.state_dict(), strict=True)


@pytest.mark.parametrize(("name", "size"), [("squeezenet1_1", 48)])
def test_torchvision_sample(name: str, size: int) -> None:
    torchvision = pytest.importorskip("torchvision")
    model = torchvision.models.get_model(name, num_classes=7)
    shape = [1, 3, 2, size, size] if name == "r3d_18" else [1, 3, size, size]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    text = netspec.from_module(model, inputs={"x": shape})
    assert model.training  # the caller's module is given back as it was: mode, weights and statistics
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    _same(text, model, x=shape)


def test_torchvision_maxvit_reads_its_square_index_buffer() -> None:
    """MaxViT's relative position index is int64 [T, T]: a `RelativePositionIndex` in that layout,
    which a fresh build computes as torchvision does."""
    maxvit = pytest.importorskip("torchvision.models.maxvit")
    torch.manual_seed(0)
    model = maxvit.MaxVit((32, 32), 8, 2, [8, 16], [1, 2], 4, 0.2, num_classes=5)
    text = netspec.from_module(model, inputs={"x": [2, 3, 32, 32]})
    assert "{op: RelativePositionIndex, window_size: [2, 2], flat: false}" in text
    fresh = netspec.build(netspec.loads(text)).state_dict()
    for key, value in model.state_dict().items():
        if key.endswith("relative_position_index"):
            assert value.shape == (4, 4) and torch.equal(fresh[key], value), key
    _same(text, model, x=[2, 3, 32, 32])


def test_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(ROOT / "tests")
    out, weights = tmp_path / "unet.yaml", tmp_path / "unet.safetensors"
    argv = ["import", "reference_models:UNet", "-p", "width=4", "-p", "depth=2", "--input-shape", "x=1,1,44,44"]
    assert main([*argv, "-o", str(out), "--weights", str(weights)]) == 0
    text = out.read_text()
    assert "name: unet" in text and "width: 4" in text
    model = netspec.build(out, weights=weights)
    assert model(torch.randn(1, 1, 44, 44)).shape == (1, 2, 4, 4)


def test_cli_errors(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(ROOT / "tests")
    monkeypatch.setitem(sys.modules, "odd_models", sys.modules[__name__])
    assert main(["import", "odd_models:WithCustom", "--input-shape", "x=1,4"]) == 1
    assert "register_op" in capsys.readouterr().err
    assert main(["import", "reference_models", "--input-shape", "x=1,4"]) == 2
    assert main(["import", "reference_models:Nope", "--input-shape", "x=1,4"]) == 2
    assert "cannot find" in capsys.readouterr().err


def test_the_guide_shows_what_the_importer_writes(capsys: pytest.CaptureFixture[str]) -> None:
    import re

    page = (ROOT / "docs" / "import.md").read_text()
    code = re.search(r"```python\n(.*?)```", page, re.DOTALL)
    shown = re.search(r"prints\n\n```yaml\n(.*?)```", page, re.DOTALL)
    assert code and shown
    exec(compile(code.group(1), "import.md", "exec"), {"__name__": "__doc_example__"})
    assert capsys.readouterr().out.strip() == shown.group(1).strip()


class TensorOps(nn.Module):
    """Learned tensors, tensor methods with the batch as a size, `x[:, 0]`, chunks and their ports."""

    def __init__(self) -> None:
        super().__init__()
        self.token = nn.Parameter(torch.randn(1, 1, 8))
        self.register_buffer("offset", torch.randn(1, 1, 8))
        self.proj = nn.Linear(8, 8)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n = x.shape[0]
        tokens = x.flatten(2).permute(0, 2, 1)  # [N, HW, C]
        tokens = torch.cat([self.token.expand(n, -1, -1), tokens], dim=1) + self.offset
        first = self.proj(tokens[:, 0])
        left, right = tokens.chunk(2, dim=2)
        pooled = (left * right).mean(1)
        return first, pooled.reshape(n, 2, -1)[:, 1:]


class ConstantTensors(nn.Module):
    """Learned tensors created with one value: a fresh build of the import holds the same values."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1))
        self.layer_scale = nn.Parameter(torch.full((4, 1, 1), 1e-6))
        self.register_buffer("shift", torch.full((4, 1, 1), -0.1))
        self.noise = nn.Parameter(torch.randn(4, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.layer_scale + self.shift + self.noise) * self.scale


def test_constant_learned_tensors_keep_their_value_without_weights() -> None:
    text, _ = _imported(ConstantTensors(), x=[2, 4, 3, 3])
    nodes = _nodes(text)
    assert nodes["scale"]["init"] == {"constant": 1.0}
    assert nodes["layer_scale"]["init"] == {"constant": 1e-06}
    assert nodes["shift"]["init"] == {"constant": -0.1}
    assert "init" not in nodes["noise"]  # random values leave no rule to write
    fresh = netspec.build(netspec.loads(text))
    original = ConstantTensors()
    for name in ("scale", "layer_scale", "shift"):
        assert torch.equal(
            fresh.get_buffer(name) if name == "shift" else fresh.get_parameter(name), getattr(original, name)
        )


def test_tensor_ops_ports_and_learned_tensors() -> None:
    model = TensorOps()
    text, built = _imported(model, x=[3, 8, 2, 2])
    nodes = _nodes(text)
    assert nodes["token"] == {"op": "Parameter", "shape": [1, 1, 8]}
    assert nodes["offset"] == {"op": "Buffer", "shape": [1, 1, 8]}
    assert nodes["expand"] == {"op": "expand", "size": ["N", -1, -1]}
    assert nodes["index"] == {"op": "index", "dim": 1, "index": 0}
    assert nodes["chunk"] == {"op": "chunk", "in": "add", "dim": 2, "chunks": 2}
    assert nodes["mul"]["in"] == ["chunk:0", "chunk:1"]
    assert nodes["mean"] == {"op": "mean", "dim": 1}
    assert nodes["reshape"] == {"op": "reshape", "shape": ["N", 2, -1]}
    assert nodes["slice"] == {"op": "slice", "dim": 1, "start": 1}
    assert set(built.state_dict()) == set(model.state_dict())
    assert yaml.safe_load(text)["inputs"]["x"][0] == "N"
    out = built(torch.randn(5, 8, 2, 2))  # the batch is free
    assert out[0].shape == (5, 8)


class Resized(nn.Module):
    """`F.interpolate` by a scale, by a size, and to the size of another tensor."""

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return (
            F.interpolate(x, scale_factor=2),
            F.interpolate(x, size=3, mode="bilinear", align_corners=True),
            F.interpolate(x, size=skip.shape[2:], mode="bilinear"),
            F.interpolate(x, size=(5, 7)),
        )


def test_interpolate_by_scale_size_and_the_size_of_another_input() -> None:
    text, _ = _imported(Resized(), x=[1, 2, 4, 4], skip=[1, 3, 8, 6])
    assert _nodes(text) == {
        "interpolate": {"op": "interpolate", "scale_factor": [2.0, 2.0]},
        "interpolate_1": {"op": "interpolate", "in": "x", "mode": "bilinear", "align_corners": True, "size": [3, 3]},
        "interpolate_2": {"op": "interpolate", "in": ["x", "skip"], "mode": "bilinear"},
        "interpolate_3": {"op": "interpolate", "in": "x", "size": [5, 7]},
    }


class Antialiased(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=0.5, mode="bilinear", antialias=True)


def test_interpolate_with_antialias_is_refused_by_name() -> None:
    with pytest.raises(netspec.ModuleImportError) as info:
        netspec.from_module(Antialiased(), inputs={"x": [1, 2, 4, 4]})
    assert any("`F.interpolate` with `antialias`" in p for p in info.value.problems)


class MyReLU(nn.ReLU):
    """A subclass of a catalog class that keeps its `forward`: imported as that op."""


class Linear(nn.Module):
    """Not `nn.Linear`, but its namesake with its arguments and weights: imported as `Linear`."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.randn(out_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias)


def test_subclasses_and_namesakes_of_catalog_classes() -> None:
    text, _ = _imported(nn.Sequential(Linear(4, 3), MyReLU()), x=[2, 4])
    assert yaml.safe_load(text)["nodes"] == [{"op": "Linear", "out_features": 3}, "ReLU"]


class Unused(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.head = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.fc(x)
        return out


class AddNumber(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.add(x, 1)


class AddBroadcast(nn.Module):
    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return x + y


class KeywordCall(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.fc(input=x)
        return out


@pytest.mark.parametrize(
    ("module", "shapes", "message"),
    [
        (nn.Linear(4, 3), {"x": [2, 5]}, "the module fails on inputs of shape x=[2, 5]: RuntimeError: "),
        (Unused(), {"x": [2, 4]}, "the forward (in eval mode) never calls `head`, whose weights a spec cannot hold"),
        (AddNumber(), {"x": [2, 4]}, "of a tensor and a number"),
        (KeywordCall(), {"x": [2, 4]}, "`fc` is called with keyword arguments"),
    ],
)
def test_what_cannot_be_imported_is_named(module: nn.Module, shapes: dict[str, list[int]], message: str) -> None:
    with pytest.raises(netspec.ModuleImportError) as info:
        netspec.from_module(module, inputs=shapes)
    assert any(message in problem for problem in info.value.problems), info.value.problems


def test_repeat_parameters_take_the_type_of_their_values() -> None:
    from netspec._import import _param_type

    assert _param_type([True, False]) == "bool"
    assert _param_type([1, 2]) == "int"
    assert _param_type([1, 2.5]) == "float"
    assert _param_type(["a", "b"]) == "str"
    assert _param_type([[1, 2], [3]]) == "list[int]"
    assert _param_type([1, "a"]) is None


class DataDependent(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x if x.sum() > 0 else -x


class AddAlpha(nn.Module):
    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.add(x, y, alpha=2)


def test_untraceable_forwards_and_add_with_alpha_are_named() -> None:
    with pytest.raises(netspec.ModuleImportError, match=r"torch\.fx cannot trace `DataDependent`: TraceError"):
        netspec.from_module(DataDependent(), inputs={"x": [2, 4]})
    with pytest.raises(netspec.ModuleImportError) as info:
        netspec.from_module(AddAlpha(), inputs={"x": [2, 4], "y": [2, 4]})
    assert any("`add` with `alpha`" in problem for problem in info.value.problems)


class PassThrough(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.fc(x).contiguous()], dim=1)


def test_identity_methods_and_a_concatenation_of_one_tensor_are_the_tensor() -> None:
    text, _ = _imported(PassThrough(), x=[2, 4])
    assert yaml.safe_load(text)["nodes"] == {"fc": {"op": "Linear", "out_features": 4}}


class DenseLayer(nn.Module):
    """Concatenates everything it is given, then adds `growth` channels (DenseNet's layer)."""

    def __init__(self, channels: int, growth: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(channels)
        self.conv = nn.Conv1d(channels, growth, 3, padding=1)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        out: torch.Tensor = self.conv(F.relu(self.norm(torch.cat(features, 1))))
        return out


class DenseStage(nn.ModuleDict):
    def __init__(self, layers: int, channels: int, growth: int) -> None:
        super().__init__({f"layer{k + 1}": DenseLayer(channels + k * growth, growth) for k in range(layers)})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for layer in self.values():
            features.append(layer(features))
        return torch.cat(features, 1)


class LeakyStage(DenseStage):
    """A dense stage that also gives its first layer's output: it is no plain chain."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # type: ignore[override]
        features = [x]
        for layer in self.values():
            features.append(layer(features))
        return torch.cat(features, 1), features[1]


class Leaky(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stage = LeakyStage(2, 4, 2)
        self.head = nn.Conv1d(2, 2, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out, first = self.stage(x)
        return out, self.head(first)


def test_dense_connectivity_becomes_a_chain_under_a_name_template() -> None:
    model = nn.Sequential(nn.Conv1d(2, 4, 1), DenseStage(3, 4, 2), DenseStage(5, 10, 2))
    text, built = _imported(model, x=[2, 2, 8])
    spec = yaml.safe_load(text)
    assert set(spec["blocks"]) == {"dense_layer", "dense_stage"}
    layer = spec["blocks"]["dense_layer"]["nodes"]
    assert spec["blocks"]["dense_layer"]["inputs"] == ["features"] and list(layer)[-1] == "cat"
    assert layer["cat"] == {"op": "concat", "in": ["features", "conv"]}
    stage = spec["blocks"]["dense_stage"]
    assert stage["params"] == {"num_layers": 5} or stage["params"] == {"num_layers": 3}
    assert stage["nodes"] == {"layer${i}": {"block": "dense_layer", "repeat": {"count": "$num_layers", "start": 1}}}
    assert set(built.state_dict()) == set(model.state_dict())


def test_a_dense_stage_whose_values_are_used_elsewhere_keeps_its_concatenations() -> None:
    text, _ = _imported(Leaky(), x=[2, 4, 8])
    blocks = yaml.safe_load(text)["blocks"]
    assert blocks["dense_layer"]["nodes"]["cat"] == {"op": "concat", "in": ["features0", "features1"]}


class Numbered(nn.Module):
    """Chained layers named `step1`, `step2`, ... with widths that follow the index."""

    def __init__(self) -> None:
        super().__init__()
        for k in range(1, 4):
            self.add_module(f"step{k}", nn.Linear(4, 4))
        for k in range(2):
            self.add_module(f"wide{k}", nn.Linear(4, 4 * (k + 1)))
        self.head = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.wide1(self.wide0(self.step3(self.step2(self.step1(x))))))


def test_numbered_chains_are_repeats_under_a_name_template() -> None:
    text, _ = _imported(Numbered(), x=[2, 4])
    nodes = _nodes(text)
    assert nodes["step${i}"] == {"op": "Linear", "repeat": {"count": 3, "start": 1}, "out_features": 4}
    assert nodes["wide${i}"] == {"op": "Linear", "repeat": 2, "out_features": "${4 if i == 0 else 8}"}
    assert nodes["head"] == {"op": "Linear", "out_features": 2}  # it takes `wide1`, the last instance


def test_attention_without_biases_is_read_back() -> None:
    model = nn.MultiheadAttention(8, 2, bias=False, add_bias_kv=True, batch_first=True)

    class SelfAttention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.attn = model

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out: torch.Tensor = self.attn(x, x, x, need_weights=False)[0]
            return out

    text, _ = _imported(SelfAttention(), x=[2, 3, 8])
    assert _nodes(text)["attn"]["bias"] is False and _nodes(text)["attn"]["add_bias_kv"] is True


class AttentionParts(nn.Module):
    """Attention written with functions: a table looked up by an index buffer, einsum, unbind, scalars."""

    def __init__(self) -> None:
        super().__init__()
        self.qkv = nn.Linear(8, 24)
        self.table = nn.Parameter(torch.randn(9, 2))
        from netspec._windows import relative_position_index

        self.register_buffer("index", relative_position_index([2, 2]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, _ = x.shape  # [N, 4, 8]
        q, k, v = self.qkv(x).reshape(n, t, 3, 2, 4).permute(2, 0, 3, 1, 4).unbind(0)
        bias = self.table[self.index].view(t, t, -1).permute(2, 0, 1)  # [2, 4, 4]
        scores = torch.einsum("b h i d, b h j d -> b h i j", q * 0.5, k) + bias
        mixed = torch.einsum("bhij,bhjd->bhid", scores.softmax(-1), v)
        head, rest = torch.tensor_split(torch.swapaxes(mixed, 1, 2), (1,), dim=1)
        return torch.cat([rest, head], 1).flatten(2)


def test_attention_written_with_functions() -> None:
    text, built = _imported(AttentionParts(), x=[2, 4, 8])
    ops = [v if isinstance(v, str) else v["op"] for v in _nodes(text).values()]
    for op in ("index", "index_select", "scale", "matmul", "transpose", "unsqueeze", "slice", "RelativePositionIndex"):
        assert op in ops, op
    assert _nodes(text)["index"] == {"op": "RelativePositionIndex", "window_size": [2, 2]}
    assert set(built.state_dict()) == {"qkv.weight", "qkv.bias", "table", "index"}


class IntegerBuffer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("order", torch.tensor([2, 0, 1]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, self.order]


def test_an_integer_buffer_no_op_makes_is_named() -> None:
    with pytest.raises(netspec.ModuleImportError, match=r"the int64 buffer `order` \[3\], which no catalog op makes"):
        netspec.from_module(IntegerBuffer(), inputs={"x": [2, 3]})


class TableBuffer(nn.Module):
    """Adds a float buffer that is shaped like Swin v2's coords table, or is it."""

    def __init__(self, table: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("table", table)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.table


def _coords(window: list[int]) -> torch.Tensor:
    from netspec._windows import relative_coords_table

    return relative_coords_table(window)


@pytest.mark.parametrize(
    ("table", "op"),
    [
        (_coords([3, 2]), "RelativeCoordsTable"),
        (_coords([3, 2]) + 1.0, "Buffer"),  # the shape, not the values
        (torch.zeros(1, 4, 3, 2), "Buffer"),  # even: no window makes it
        (torch.zeros(1, 5, 5, 3), "Buffer"),
        (torch.zeros(2, 3), "Buffer"),
    ],
)
def test_a_float_buffer_is_a_coords_table_only_when_its_values_are(table: torch.Tensor, op: str) -> None:
    text, built = _imported(TableBuffer(table), x=[2, *table.shape[1:]])
    assert _nodes(text)["table"]["op"] == op
    assert torch.equal(built.state_dict()["table"], table)


class SquareIndex(nn.Module):
    def __init__(self, index: torch.Tensor) -> None:
        super().__init__()
        self.table = nn.Parameter(torch.randn(int(index.max()) + 1, 2))
        self.register_buffer("index", index)
        self.shape = [int(d) for d in index.shape]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.table[self.index.view(-1)].view(*self.shape, 2).sum(-1)


def test_a_square_index_buffer_is_an_index_only_when_its_values_are() -> None:
    from netspec._windows import relative_position_index

    index = relative_position_index([2, 3], flat=False)
    text, _ = _imported(SquareIndex(index), x=[2, 6, 6])
    assert _nodes(text)["index"] == {"op": "RelativePositionIndex", "window_size": [2, 3], "flat": False}
    for other in (index.flip(0), index[:, :5].contiguous(), index.to(torch.int32)):
        with pytest.raises(netspec.ModuleImportError, match="which no catalog op makes"):
            netspec.from_module(SquareIndex(other), inputs={"x": [2, *other.shape]})


def test_an_add_that_broadcasts_a_lower_rank_unsqueezes_it() -> None:
    text, _ = _imported(AddBroadcast(), x=[2, 3], y=[3])
    assert _nodes(text) == {
        "unsqueeze": {"op": "unsqueeze", "in": "y", "dim": 0},
        "add": {"op": "add", "in": ["x", "unsqueeze"]},
    }


@torch.fx.wrap
def _with_unit_axis(x: torch.Tensor) -> tuple[torch.Tensor, int]:
    """A helper the tracer does not go into, which only reshapes (as MViT's `_unsqueeze`)."""
    return x.unsqueeze(1), x.dim()


class PositionTable(nn.Module):
    """MViT's position encoding: repeat_interleave, an in-place add, list-valued pooling sizes."""

    def __init__(self) -> None:
        super().__init__()
        self.temporal = nn.Parameter(torch.randn(2, 4))
        self.spatial = nn.Parameter(torch.randn(3, 4))
        self.pool = nn.MaxPool3d(kernel_size=[1, 3, 3], stride=[1, 2, 2], padding=[0, 1, 1])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        table = torch.repeat_interleave(self.temporal, 3, dim=0)
        table.add_(self.spatial.unsqueeze(0).expand(2, -1, -1).reshape(-1, 4))
        wide, _ = _with_unit_axis(x.flatten(2))
        return wide, table * 1.0, self.pool(x)


def test_repeat_interleave_in_place_add_and_reshaping_helpers() -> None:
    text, _ = _imported(PositionTable(), x=[1, 4, 2, 2, 3])
    nodes = _nodes(text)
    assert [nodes[k]["op"] for k in ("unsqueeze", "expand", "reshape")] == ["unsqueeze", "expand", "reshape"]
    assert nodes["expand"]["size"] == [-1, 3, -1] and nodes["reshape"]["shape"] == [6, 4]
    assert nodes["add"]["in"] == ["reshape", "reshape_1"]
    assert nodes["mul"]["in"] == "add"  # the table after its in-place add
    assert nodes["pool"] == {
        "op": "MaxPool3d",
        "in": "x",
        "kernel_size": [1, 3, 3],
        "stride": [1, 2, 2],
        "padding": [0, 1, 1],
    }
    assert nodes["reshape_2"] == {"op": "reshape", "shape": [1, 1, 4, 12]}


def test_torchvision_densenet_is_as_short_as_the_hand_written_spec() -> None:
    torchvision = pytest.importorskip("torchvision")
    model = torchvision.models.DenseNet(growth_rate=4, block_config=(2, 3, 2), num_init_features=8, bn_size=2)
    text, built = _imported(model, x=[2, 3, 32, 32])
    bundled = (ROOT / "specs" / "densenet121.yaml").read_text()
    assert _code_lines(text) <= 1.5 * _code_lines(bundled)
    stage = yaml.safe_load(text)["blocks"]["dense_block"]
    assert stage["nodes"] == {
        "denselayer${i}": {"block": "dense_layer", "repeat": {"count": "$num_layers", "start": 1}}
    }
    built.load_state_dict(model.state_dict(), strict=True)


def _mutates_its_list(x: torch.Tensor, sizes: list[int]) -> torch.Tensor:
    """Changes a list it is given: fx records the call, and replaying it hands over a read-only list."""
    sizes[0] = 1
    return x * sizes[0]


torch.fx.wrap("_mutates_its_list")


class _ListMutating(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _mutates_its_list(x, [2, 3])


class _HoldsListMutating(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.inner = _ListMutating()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x) + 1


def test_a_call_that_cannot_be_replayed_is_named_with_its_module_and_line() -> None:
    with pytest.raises(netspec.ModuleImportError) as caught:
        netspec.from_module(_HoldsListMutating(), inputs={"x": [1, 4]})
    message = str(caught.value)
    assert "fails when the traced graph is replayed" in message and "does not support mutation" in message
    assert "in `inner` (" in message and "_ListMutating" in message
    assert "return _mutates_its_list(x, [2, 3])" in message
    assert 'register_op("_ListMutating", _ListMutating)' in message


def test_a_module_that_fails_on_its_inputs_says_so() -> None:
    with pytest.raises(netspec.ModuleImportError, match=r"the module fails on inputs of shape x=\[1, 5\]"):
        netspec.from_module(nn.Sequential(nn.Linear(4, 2)), inputs={"x": [1, 5]})
