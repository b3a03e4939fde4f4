"""The language, feature by feature: every valid fixture loads and builds, and does what it says.

The examples of docs/language.md are checked here too: every ```yaml block loads, and every
```yaml invalid block raises `SpecError`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

import netspec
from netspec import Spec, SpecError
from netspec._dims import format_shape

ROOT = Path(__file__).resolve().parents[1]
VALID = Path(__file__).parent / "specs" / "valid"
FIXTURES = sorted(p.name for p in VALID.iterdir() if p.suffix in (".yaml", ".json"))
NEEDS_VALUES = {"required_param.yaml": {"classes": 3}}
# ```yaml or ```json, ```yaml invalid (must raise SpecError), ```yaml file=NAME (also saved as NAME for `extends`)
FENCE = re.compile(r"^```(?:yaml|json)( invalid)?(?: file=(\S+))?\n(.*?)^```", re.DOTALL | re.MULTILINE)


def load(name: str) -> Spec:
    return netspec.load(VALID / name)


def shapes_of(spec: Spec) -> dict[str, str]:
    return {name: format_shape(shape) for name, shape in netspec.infer_shapes(spec).items()}


def run(module: torch.nn.Module, *inputs: torch.Tensor):
    module.eval()
    with torch.no_grad():
        return module(*inputs)


@pytest.mark.parametrize("name", FIXTURES)
def test_valid_fixture_loads_and_builds(name: str) -> None:
    spec = load(name)
    assert spec.warnings == []
    params = NEEDS_VALUES.get(name, {})
    assert netspec.validate(spec, params=params) == []
    assert isinstance(netspec.build(spec, params=params), torch.fx.GraphModule)


def test_version_name_and_description() -> None:
    spec = load("version_and_name.yaml")
    assert (spec.netspec, spec.name, spec.description) == (
        1,
        "version-and-name",
        "The smallest complete spec, one Linear layer.",
    )
    assert netspec.loads("name: t\ninputs: {x: [N, 2]}\nnodes: [ReLU]\n").netspec == 1  # the version defaults to 1


def test_typed_params_defaults_and_overrides() -> None:
    spec = load("typed_params.yaml")
    types = {name: p.type for name, p in spec.params.items()}
    assert types == {
        "num_classes": "int",
        "in_channels": "int",
        "dropout": "float",
        "use_dropout": "bool",
        "activation": "str",
        "widths": "list[int]",
        "scales": "list[float]",
        "tags": "list[str]",
    }
    default = netspec.build(spec)
    assert default.fc.out_features == 10 and hasattr(default, "drop")
    assert default.stages.get_submodule("1").conv.out_channels == 16
    custom = netspec.build(
        spec,
        params={"num_classes": 3, "in_channels": 1, "widths": [4, 4, 4], "activation": "gelu", "use_dropout": False},
    )
    assert custom.fc.out_features == 3 and not hasattr(custom, "drop")
    assert custom.stages.get_submodule("0").conv.in_channels == 1
    assert len(list(custom.stages.children())) == 3 and hasattr(custom.stages.get_submodule("2"), "gelu")
    assert run(custom, torch.zeros(2, 1, 8, 8)).shape == (2, 3)


def test_expressions_compute_integers_and_bools() -> None:
    model = netspec.build(load("expressions.yaml"))
    assert (model.a.out_channels, model.a.kernel_size) == (13, (5, 5))
    assert (model.b.out_channels, model.b.kernel_size) == (3, (3, 3))
    assert model.c.out_channels == 6
    assert model.d.out_channels == 7
    assert model.e.bias is not None
    assert model.f.kernel_size == 2
    assert model.g.p == 0.125


def test_named_inputs_and_several_inputs() -> None:
    spec = load("named_inputs.yaml")
    assert spec.inputs == {"image": ("N", 3, 16, 16), "extra": ("N", 16)}
    shapes = shapes_of(spec)
    assert shapes["mixed"] == "[N, 16]"
    out = run(netspec.build(spec), torch.zeros(2, 3, 16, 16), torch.zeros(2, 16))
    assert out.shape == (2, 16)


def test_several_outputs_return_a_tuple() -> None:
    logits, box = run(netspec.build(load("several_outputs.yaml")), torch.zeros(3, 16))
    assert logits.shape == (3, 10) and box.shape == (3, 4)


def test_conv_family_1d_2d_3d() -> None:
    model = netspec.build(load("conv_family.yaml"))
    assert [type(model.get_submodule(n)).__name__ for n in ("c1", "c2", "c3")] == ["Conv1d", "Conv2d", "Conv3d"]
    a, b, c = run(model, torch.zeros(1, 1, 64), torch.zeros(1, 3, 32, 32), torch.zeros(1, 1, 8, 16, 16))
    assert (a.shape, b.shape, c.shape) == ((1, 4, 1), (1, 4, 32, 32), (1, 4, 4, 8, 8))


def test_edge_ops_shapes() -> None:
    shapes = shapes_of(load("edge_ops.yaml"))
    assert shapes["cat"] == "[N, 8, 16, 16]"
    assert shapes["small"] == shapes["corner"] == "[N, 8, 12, 12]"
    assert shapes["padded"] == shapes["grown"] == "[N, 8, 16, 16]"
    assert run(netspec.build(load("edge_ops.yaml")), torch.ones(1, 4, 20, 20)).shape == (1, 8, 16, 16)


def test_blocks_repeats_and_qualified_names() -> None:
    model = netspec.build(load("blocks.yaml"))
    names = [name for name, _ in model.named_modules() if name]
    assert "layer2.0.conv1" in names and "layer2.0.down.0" in names and "layer2.0.down.1" in names
    assert "layer1.0.down.0" not in names  # `project` is false in stage 1
    assert model.get_submodule("layer2.0.conv1").stride == (2, 2)
    assert model.get_submodule("layer2.1.conv1").stride == (1, 1)
    assert model.get_submodule("layer2.1.conv1").out_channels == 16
    stage, head = run(model, torch.zeros(1, 3, 32, 32))
    assert stage.shape == (1, 16, 16, 16) and head.shape == (1, 2, 16, 16)


def test_in_channels_inferred_or_checked() -> None:
    model = netspec.build(load("in_channels.yaml"))
    assert model.inferred.in_channels == 3 and model.given.in_channels == 6
    assert model.norm.num_features == 4 and model.fc.in_features == 64


def test_extends_bundled() -> None:
    spec = load("extends_bundled.yaml")
    assert spec.params["num_classes"].default == 10 and spec.params["num_classes"].min == 1  # the rest is inherited
    assert "maxpool" not in spec.nodes
    assert list(spec.nodes)[-1] == "fc"  # replaced in place
    model = netspec.build(spec)
    assert model.fc.out_features == 10 and model.fc.bias is None


def test_extends_relative_file() -> None:
    spec = load("extends_file.yaml")
    assert list(spec.nodes) == ["conv", "relu", "head"]
    assert spec.params["width"].default == 16
    model = netspec.build(spec, params={"width": 4})
    assert model.conv.out_channels == 4 and model.conv.kernel_size == (5, 5)
    assert spec.source.span(("nodes", "relu")).file.endswith("base_for_extends.yaml")  # errors point at the parent


def test_extends_outside_the_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "inner").mkdir()
    (tmp_path / "base.yaml").write_text((VALID / "base_for_extends.yaml").read_text())
    child = tmp_path / "inner" / "child.yaml"
    child.write_text("extends: ../base.yaml\nname: c\n")
    with pytest.raises(SpecError) as caught:
        netspec.load(child)
    assert caught.value.diagnostics[0].code == "NS104"


def test_yaml_and_json_mean_the_same() -> None:
    from_yaml, from_json = load("same_meaning.yaml"), load("same_meaning.json")
    assert from_yaml == from_json
    assert from_yaml.to_dict() == from_json.to_dict()
    assert list(from_yaml.nodes) == ["0", "1", "2"]


def test_list_form_nodes_give_numbered_modules() -> None:
    model = netspec.build(load("same_meaning.yaml"))
    assert [name for name, _ in model.named_children()] == ["0", "1", "2"]


def test_init_rules() -> None:
    torch.manual_seed(0)
    model = netspec.build(load("init_rules.yaml"))
    assert torch.all(model.fc1.bias == 0.1)
    assert torch.all(model.fc2.weight == 0) and torch.all(model.fc2.bias == 0.1)
    assert torch.all(model.bn.weight == 1)
    assert torch.any(netspec.build(load("init_rules.yaml"), params={"zero_last": False}).fc2.weight != 0)


def test_load_accepts_a_mapping_and_text() -> None:
    data = {"name": "m", "inputs": {"x": ["N", 4]}, "nodes": {"fc": {"op": "Linear", "out_features": 2}}}
    assert netspec.load(data) == netspec.loads(
        "name: m\ninputs: {x: [N, 4]}\nnodes: {fc: {op: Linear, out_features: 2}}\n"
    )


# --- docs/language.md ---------------------------------------------------------------------------


def _doc_examples() -> list[tuple[int, bool, str, str]]:
    text = (ROOT / "docs" / "language.md").read_text()
    return [(i, bool(invalid), file, body) for i, (invalid, file, body) in enumerate(FENCE.findall(text))]


DOC_EXAMPLES = _doc_examples()


def test_language_doc_has_examples() -> None:
    assert len(DOC_EXAMPLES) >= 20
    assert any(invalid for _, invalid, _, _ in DOC_EXAMPLES)


@pytest.mark.parametrize(
    ("index", "invalid", "text"),
    [(i, inv, t) for i, inv, _, t in DOC_EXAMPLES],
    ids=[f"example-{e[0]}" for e in DOC_EXAMPLES],
)
def test_language_doc_example(index: int, invalid: bool, text: str, tmp_path: Path) -> None:
    for _, _, file, body in DOC_EXAMPLES:
        if file:
            (tmp_path / file).write_text(body)
    path = tmp_path / f"example-{index}.yaml"
    path.write_text(text)
    if invalid:
        with pytest.raises(SpecError):
            netspec.validate(netspec.load(path))
        return
    spec = netspec.load(path)
    assert spec.name
    assert spec.warnings == []


def test_language_doc_json_example_is_the_yaml_one() -> None:
    by_name = {}
    for _, invalid, _, body in DOC_EXAMPLES:
        if not invalid:
            spec = netspec.loads(body) if "extends: base.yaml" not in body else None
            if spec is not None and spec.name == "list-of-nodes":
                by_name.setdefault(body.lstrip().startswith("{"), spec)
    assert by_name[True] == by_name[False]
