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
    return [
        torch.randn([d if isinstance(d, int) else spec.dims.get(d, 1 if d == "N" else 32) for d in shape])
        for shape in spec.inputs.values()
    ]


# --- expressions ----------------------------------------------------------------------------------


def test_shape_expressions_read_the_inputs() -> None:
    model = netspec.build(VALID / "shape_expressions.yaml")
    assert model.dw.groups == model.dw.out_channels == 24
    assert model.se.fc1.out_channels == 6  # int(round(0.25 * 24))
    assert model.se.fc2.out_channels == 24  # the block's input, read by name


def test_rounding_functions() -> None:
    model = netspec.build(VALID / "rounding.yaml", width_mult=0.5)
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
    assert netspec.build(spec, kind="plain").a.fc.out_features == 4
    assert netspec.build(spec, kind="expanded").a.fc.out_features == 24
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

    assert bool(name_pattern(pattern).fullmatch(name)) is matches
