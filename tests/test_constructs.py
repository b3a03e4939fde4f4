"""The language's constructs for saying things once: shape-aware expressions, rounding, repeat forms,
name templates, `when` numbering, `op`/`outputs` expressions, `extends` insert and override, kept
nodes and exact init rules.

Each valid fixture under tests/specs/constructs/valid/ builds; each invalid one under
tests/specs/constructs/invalid/ is listed in `EXPECTED` with the code, line, column and path of every
diagnostic and words its message must hold.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import pytest
import torch

import netspec
from netspec import SpecError

HERE = Path(__file__).parent / "specs" / "constructs"
VALID = HERE / "valid"
INVALID = HERE / "invalid"


class Want(NamedTuple):
    code: str
    line: int
    column: int
    path: str
    message: str = ""


EXPECTED: dict[str, list[Want]] = {
    "shape_outside_node.yaml": [
        Want("NS131", 10, 41, "init[0].weight.constant", "`channels` reads a node's input shape; there is none here"),
    ],
    "shape_symbolic.yaml": [
        Want("NS131", 6, 39, "nodes.conv.out_channels", "dimension 2 of input 0 is symbolic (`H`)"),
        Want("NS131", 7, 50, "nodes.late.out_channels", "a node that reads a shape must come after its inputs"),
        Want("NS131", 9, 56, "nodes.round.out_channels", "`round` needs a number, got `str`"),
    ],
    "repeat_forms.yaml": [
        Want("NS133", 6, 62, "nodes.a.repeat.start", "`start` must be a whole number >= 0, got -1"),
        Want("NS133", 7, 3, "nodes.c${i}", "a flat repeat numbers its modules; a name template names them"),
        Want("NS131", 8, 72, "nodes.d${i}x.repeat.start", "unknown name `i`"),
        Want("NS132", 9, 3, "nodes.e${i // 2}", "the name template `e${i // 2}` gives `e0`, a name already used"),
        Want("NS153", 10, 91, "nodes.f.repeat.combine", "`Linear` cannot join 2 outputs"),
    ],
    "unused_nodes.yaml": [
        Want(
            "NS162",
            12,
            3,
            "nodes.aux",
            "the outputs of `aux.0.fc1`, `aux.0.fc2`, `aux.1.fc1`, `aux.1.fc2` are never used",
        ),
    ],
    "disabled_output.yaml": [
        Want("NS155", 11, 16, "outputs[1]", "output `side` is disabled by `when`"),
        Want("NS135", 11, 22, "outputs[2]", "`outputs` must give node names, got 1"),
    ],
    "extends_places.yaml": [
        Want("NS107", 5, 39, "nodes.drop.before", "`before`: `fcc` is not a node of `resnet18`"),
        Want("NS107", 6, 32, "nodes.both", "a node goes `before` or `after` a parent node, not both"),
        Want("NS107", 7, 3, "nodes.fc2", "`fc2` changes a node of `resnet18`, which has no node `fc2`"),
        Want("NS107", 8, 3, "nodes.head", "`head` is appended after `fc`, the last node of `resnet18`"),
    ],
    "placement_without_extends.yaml": [
        Want("NS107", 9, 23, "blocks.head.nodes.act.before", "`before` places a node among the nodes of the spec"),
        Want("NS107", 12, 31, "nodes.drop.before", "`before` places a node before a node of the parent spec"),
        Want("NS107", 13, 22, "nodes.out.after", "needs `extends`; this spec has none"),
    ],
    "inline_clashes.yaml": [
        Want("NS132", 8, 7, "blocks.pair.nodes.conv", "already has a node `conv` (the inline instance at `nodes.b`)"),
        Want(
            "NS132",
            9,
            7,
            "blocks.pair.nodes.relu",
            "the model already has a node `relu` (the inline instance at `nodes.a`)",
        ),
        Want("NS132", 9, 7, "blocks.pair.nodes.relu", "already has a node `relu` (the inline instance at `nodes.b`)"),
        Want("NS132", 17, 3, "nodes.conv", "node `conv` has the name of a node of the inline instance at `nodes.a`"),
        Want(
            "NS132", 19, 3, "nodes.h", "the inline instance of block `holder` names a node `inner`, a name already used"
        ),
    ],
    "inline_misused.yaml": [
        Want("NS114", 10, 6, "nodes.a", "`inline` goes with `block`"),
        Want("NS114", 11, 6, "nodes.b", "an inline repeat chains its instances in sequence; `layout: flat`"),
    ],
    "parallel_without_combine.yaml": [
        Want("NS114", 6, 44, "nodes.b.repeat", "a parallel repeat needs one (`concat`, `add`)"),
    ],
}


def _problems(path: Path) -> list[netspec.Diagnostic]:
    with pytest.raises(SpecError) as caught:
        netspec.validate(netspec.load(path))
    return caught.value.errors


def test_every_invalid_fixture_has_expectations() -> None:
    assert {p.name for p in INVALID.iterdir()} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_invalid_fixture(name: str) -> None:
    found = _problems(INVALID / name)
    assert [(d.code, d.line, d.column, d.path) for d in found] == [
        (w.code, w.line, w.column, w.path) for w in EXPECTED[name]
    ], "\n".join(map(str, found))
    for diagnostic, want in zip(found, EXPECTED[name]):
        assert want.message in diagnostic.message


@pytest.mark.parametrize("name", sorted(p.name for p in VALID.iterdir() if p.suffix == ".yaml"))
def test_valid_fixture_builds(name: str) -> None:
    spec = netspec.load(VALID / name)
    assert not [d for d in netspec.validate(spec) if d.is_error]
    model = netspec.build(spec)
    model(*_example_inputs(spec))


def _example_inputs(spec: netspec.Spec) -> list[torch.Tensor]:
    def size(d: int | str) -> int:
        if isinstance(d, int):
            return d
        if d.startswith("$"):
            return int(spec.params[d[1:]].default)  # type: ignore[call-overload]
        return spec.dims.get(d, 1 if d == "N" else 32)

    return [torch.randn([size(d) for d in shape]) for shape in spec.inputs.values()]


# --- expressions ----------------------------------------------------------------------------------


def test_shape_expressions_read_the_inputs() -> None:
    model = netspec.build(VALID / "shape_expressions.yaml")
    assert model.dw.groups == model.dw.out_channels == 24
    assert model.se.fc1.out_channels == 6  # int(round(0.25 * 24))
    assert model.se.fc2.out_channels == 24  # the block's input, read by name


def test_shape_expressions_read_one_output_of_a_node_with_several() -> None:
    model = netspec.build(VALID / "port_shapes.yaml")
    assert model.narrow.out_channels == 2  # `channels()` of `parts:0`
    assert model.wide.out_channels == 6 + 16  # `channels('parts:1') + dim(2, 'parts:1')`
    assert model.fc.out_features == 24  # the block's output, `lstm:output`: [N, 16, 12]
    assert model.state.out_features == 12  # `c_n`: [1, N, 12]
    outputs = model(torch.randn(2, 8, 16))
    assert [tuple(o.shape) for o in outputs] == [(2, 2, 16), (2, 22, 16), (2, 16, 24), (1, 2, 12)]


def test_a_port_that_is_not_there_is_named() -> None:
    text = (VALID / "port_shapes.yaml").read_text().replace("channels('parts:1')", "channels('parts:2')")
    with pytest.raises(SpecError) as caught:
        netspec.loads(text)
    assert [d.code for d in caught.value.errors] == ["NS131"]
    assert "`parts` has 2 outputs (`0`, `1`), no output 2" in caught.value.errors[0].message


def test_a_name_template_of_the_index_alone_numbers_the_instances() -> None:
    text = """
netspec: 1
name: numbered-stage
inputs:
  x: [N, 4]
blocks:
  stage:
    params: {depth: int}
    nodes:
      "${i}": {op: Linear, repeat: {count: $depth, start: 1}, out_features: "${4 * i}"}
nodes:
  layer: {block: stage, depth: 3}
  probe: {op: Linear, in: layer.2, out_features: 2}
outputs: [layer, probe]
"""
    model = netspec.build(netspec.loads(text))
    assert list(model.state_dict())[:6] == [f"layer.{k}.{p}" for k in (1, 2, 3) for p in ("weight", "bias")]
    assert model.get_submodule("layer.3").out_features == 12 and model.probe.in_features == 8


def test_rounding_functions() -> None:
    model = netspec.build(VALID / "rounding.yaml", params={"width_mult": 0.5})
    assert (model.a.out_channels, model.b.out_channels, model.c.out_channels) == (16, 5, 12)
    assert model.e.out_channels == 8


def test_block_chosen_by_expression_takes_only_its_arguments() -> None:
    text = """
netspec: 1
name: chosen
params: {kind: plain}
inputs: {x: [N, 8]}
blocks:
  plain:
    params: {width: int}
    nodes: {fc: {op: Linear, out_features: $width}}
  expanded:
    params: {width: int, t: int}
    nodes: {fc: {op: Linear, out_features: "${width * t}"}}
nodes:
  a: {block: $kind, width: 4, t: 6}
"""
    spec = netspec.loads(text)
    assert netspec.build(spec, params={"kind": "plain"}).a.fc.out_features == 4
    assert netspec.build(spec, params={"kind": "expanded"}).a.fc.out_features == 24
    assert not [w for w in spec.warnings if "never used" in w.message]
    with pytest.raises(SpecError, match="has no parameter `tt`"):
        netspec.loads(text.replace("t: 6}", "tt: 6}"))


# --- init rules -----------------------------------------------------------------------------------


def test_an_overridden_init_rule_draws_no_random_numbers() -> None:
    text = """
netspec: 1
name: overridden
inputs: {x: [N, 4]}
nodes:
  fc1: {op: Linear, out_features: 4}
  fc2: {op: Linear, out_features: 4}
init:
  - {ops: Linear, weight: {normal: {std: 0.5}}, bias: zeros}
  - {nodes: fc1, weight: {constant: 0.25}}
  - {nodes: fc2, bias: default}
"""
    torch.manual_seed(0)
    model = netspec.build(netspec.loads(text))
    torch.manual_seed(0)
    fc1, fc2 = torch.nn.Linear(4, 4), torch.nn.Linear(4, 4)
    with torch.no_grad():
        torch.nn.init.constant_(fc1.weight, 0.25)  # the normal rule for fc1.weight is overridden: no draw
        torch.nn.init.zeros_(fc1.bias)
        torch.nn.init.normal_(fc2.weight, std=0.5)  # fc2.bias: PyTorch's default, kept
    for ours, theirs in ((model.fc1, fc1), (model.fc2, fc2)):
        assert torch.equal(ours.weight, theirs.weight) and torch.equal(ours.bias, theirs.bias)


@pytest.mark.parametrize(
    ("pattern", "name", "matches"),
    [
        ("layer*.*.bn2", "layer1.0.bn2", True),
        ("layer*.bn2", "layer1.0.bn2", False),  # `*` never crosses a dot
        ("layer**.bn2", "layer1.0.bn2", True),  # `**` does
        ("**", "a.b.c", True),
        ("fc?", "fc1", True),
        ("fc?", "fc.", False),
        ("block[12]-0", "block1-0", True),
        ("block[!12]-0", "block1-0", False),
        ("a.b", "aXb", False),  # the rest is literal
    ],
)
def test_init_node_patterns(pattern: str, name: str, matches: bool) -> None:
    from netspec._graph import name_pattern

    assert name_pattern(pattern).match(name) is matches


# --- repeats and names ----------------------------------------------------------------------------


def test_repeat_forms_name_modules_as_torchvision_does() -> None:
    model = netspec.build(VALID / "repeat_forms.yaml")
    names = [name for name, _ in model.named_modules() if name.count(".") <= 1]
    features = [f"features.{k}" for k in range(11)]  # conv, bn, relu | pool | (conv, bn, relu) x 2 | pool
    assert names[1 : 1 + 12] == ["features", *features]
    assert isinstance(model.features.get_submodule("3"), torch.nn.MaxPool2d)
    assert isinstance(model.features.get_submodule("10"), torch.nn.MaxPool2d)
    assert {"denselayer1", "denselayer2", "denselayer3", "aspp.1", "aspp.3", "stages.1", "stages.2"} <= set(names)
    assert "denselayer0" not in names and "aspp.0" not in names
    assert [m.dilation for m in (model.aspp.get_submodule(f"{k}.conv") for k in (1, 2, 3))] == [(1, 1), (2, 2), (3, 3)]
    aspp, head, stages, pool = model(torch.randn(2, 3, 32, 32))
    assert aspp.shape == (2, 12, 8, 8)  # three parallel branches of 4 channels, concatenated
    assert head.shape == (2, 2, 8, 8) and stages.shape == (2, 4, 8, 8) and pool.shape == (2, 8, 16, 16)


def test_parallel_branches_all_take_the_input() -> None:
    model = netspec.build(VALID / "repeat_forms.yaml")
    inputs = {node.name: node.args for node in model.graph.nodes if node.op == "call_module"}
    first = [str(a) for n, a in inputs.items() if n.endswith("_conv") and n.startswith("aspp")]
    assert len(set(first)) == 1  # every branch reads the same tensor


# --- unbuilt nodes --------------------------------------------------------------------------------


def test_a_kept_node_is_built_but_not_computed() -> None:
    text = (INVALID / "unused_nodes.yaml").read_text().replace("  aux: {block: head, in: trunk, repeat: 2}\n", "")
    spec = netspec.loads(text)
    model = netspec.build(spec)
    assert list(model.state_dict())[:6] == [
        "trunk.weight", "trunk.bias", "kept.fc1.weight", "kept.fc1.bias", "kept.fc2.weight", "kept.fc2.bias",
    ]  # fmt: skip
    assert "kept" not in model.code
    assert model(torch.randn(2, 8)).shape == (2, 3)
    assert netspec.count_params(spec) == sum(p.numel() for p in model.parameters())


# --- op and outputs as expressions ----------------------------------------------------------------


def test_op_and_outputs_as_expressions() -> None:
    spec = netspec.load(VALID / "outputs_expression.yaml")
    logits, side = netspec.build(spec)(torch.randn(3, 8))
    assert (logits.shape, side.shape) == ((3, 4), (3, 2))
    model = netspec.build(spec, params={"aux": False, "act": "SiLU"})
    assert model(torch.randn(3, 8)).shape == (3, 4)
    assert isinstance(model.act, torch.nn.SiLU) and not hasattr(model, "side")


# --- extends ----------------------------------------------------------------------------------------


def test_extends_inserts_and_changes_one_argument() -> None:
    model = netspec.build(VALID / "extends_places.yaml")
    modules = list(model._modules)
    assert modules[:3] == ["conv1", "norm", "bn1"] and "maxpool" not in modules
    assert modules[-3:] == ["flatten", "drop", "fc"]  # the dropout before the classifier, not after it
    assert model.fc.bias is None and model.fc.out_features == 10  # one argument changed, the rest inherited
    assert model.get_submodule("layer1.0.conv1").out_channels == 32
    assert model.get_submodule("layer4.1.conv2").out_channels == 256
    assert "drop = self.drop(flatten)" in model.code and "fc = self.fc(drop)" in model.code


def test_remove_then_a_new_node_of_the_same_name_keeps_the_new_one() -> None:
    text = """
netspec: 1
extends: resnet18
name: new-fc
nodes:
  fc: {op: Linear, out_features: 3, after: flatten}
remove: [fc]
"""
    model = netspec.build(netspec.loads(text))
    assert model.fc.out_features == 3


def test_init_node_patterns_may_be_templates() -> None:
    text = """
netspec: 1
name: templated-rule
params: {last: fc2}
inputs: {x: [N, 4]}
nodes:
  fc1: {op: Linear, out_features: 4}
  fc2: {op: Linear, out_features: 4}
init:
  - {nodes: "${last}", weight: zeros}
"""
    model = netspec.build(netspec.loads(text))
    assert not model.fc2.weight.any() and model.fc1.weight.any()
    assert netspec.build(netspec.loads(text), params={"last": "fc1"}).fc1.weight.abs().sum() == 0


def test_a_block_parameter_named_after_is_a_parameter() -> None:
    text = """
netspec: 1
name: after-parameter
inputs:
  x: [N, 4]
blocks:
  delayed:
    params: {after: int}
    nodes:
      fc: {op: Linear, out_features: $after}
nodes:
  a: {block: delayed, after: 3}
"""
    assert netspec.build(netspec.loads(text)).a.fc.out_features == 3


# --- inline instances -------------------------------------------------------------------------------


def test_inline_instances_name_their_nodes_where_they_are() -> None:
    model = netspec.build(VALID / "inline_instances.yaml")
    keys = [k for k in model.state_dict() if k.endswith("weight")]
    assert keys == [
        "conv1.weight",
        "bn1.weight",
        "conv2.weight",
        "bn2.weight",
        "down.conv1.weight",
        "down.bn1.weight",
        "down.conv2.weight",
        "down.bn2.weight",
        "denseblock1.weight",
        "denseblock2.weight",
        "denseblock3.weight",
        "probe.weight",
    ]
    assert isinstance(model.transition1, torch.nn.AvgPool2d) and not hasattr(model, "transition3")
    assert not hasattr(model, "stem") and not hasattr(model.down, "convs")  # no level for an inline instance
    assert model.denseblock2.out_channels == 24 and model.probe.in_channels == 24
    stages, probe = model(torch.randn(1, 3, 32, 32))
    assert stages.shape == (1, 16, 4, 4) and probe.shape == (1, 2, 8, 8)


def test_an_inline_instance_is_no_instance_of_the_tree() -> None:
    graph = netspec.load(VALID / "inline_instances.yaml").expanded
    assert graph is not None
    assert "stem" not in graph.instances and "down.convs" not in graph.instances
    assert (
        graph.instance_of("conv1") is graph.instances[""] and graph.instance_of("down.conv1") is graph.instances["down"]
    )
    assert not any(name.endswith(("stem", "convs", "stages")) for name in graph.aliases)
