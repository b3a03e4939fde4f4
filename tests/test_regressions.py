"""Mistakes a user made while trying netspec, each reported where it was made and as what it is."""

from __future__ import annotations

from pathlib import Path

import pytest

import netspec


def _error(run) -> netspec.SpecError:
    with pytest.raises(netspec.SpecError) as info:
        run()
    return info.value


def test_a_bad_override_in_an_extending_spec_points_at_the_child(tmp_path: Path) -> None:
    child = tmp_path / "child.yaml"
    child.write_text("netspec: 1\nextends: resnet18\nname: child\nparams:\n  num_classes: 0\n")
    (diag,) = _error(lambda: netspec.load(child)).errors
    assert (Path(diag.file).name, diag.line, diag.column, diag.code) == ("child.yaml", 5, 16, "NS121")


def test_a_reference_into_a_block_that_failed_reports_only_the_real_error() -> None:
    text = """
netspec: 1
name: blk
inputs: {x: [N, 8]}
blocks:
  mlp:
    params: {width: int}
    nodes:
      fc: {op: Linear, out_features: $width}
      act: ReLU
nodes:
  a: {block: mlp, widht: 4}
  f: {op: ReLU, in: a.fc}
"""
    messages = [d.message for d in _error(lambda: netspec.loads(text)).errors]
    assert messages == ["block `mlp` needs parameter `width`", "block `mlp` has no parameter `widht`"]


TWO_INPUTS = """
netspec: 1
name: two
inputs:
  img: [N, 3, 8, 8]
  meta: [N, 5]
nodes:
  flat: {op: Flatten, in: img}
  fc: {op: Linear, out_features: 4}
  m: {op: Linear, in: meta, out_features: 4}
  fused: {op: add, in: [fc, m]}
"""


def test_one_symbol_is_one_size_across_inputs() -> None:
    spec = netspec.loads(TWO_INPUTS)
    shapes = netspec.infer_shapes(spec, inputs={"img": (2, 3, 8, 8)})
    assert shapes["meta"] == (2, 5) and shapes["fused"] == (2, 4)
    (diag,) = _error(lambda: netspec.infer_shapes(spec, inputs={"img": (2, 3, 8, 8), "meta": (3, 5)})).errors
    assert diag.message == "input `meta` has shape [N, 5]; [3, 5] gives `N` = 3, but input `img` gives `N` = 2"
    assert (diag.line, diag.column) == (6, 9)


def test_sources_that_exist_but_are_not_specs_say_so(tmp_path: Path) -> None:
    assert "is a folder" in _error(lambda: netspec.load(tmp_path)).errors[0].message
    (tmp_path / "e1.yaml").write_text("netspec: 1\nextends: resnet81\nname: c\n")
    (tmp_path / "e2.yaml").write_text("netspec: 1\nextends: missing.yaml\nname: c\n")
    first = _error(lambda: netspec.load(tmp_path / "e1.yaml")).errors[0]
    assert first.message == "cannot extend `resnet81`: there is no bundled spec of that name"
    assert first.hint == "did you mean `resnet18`?"
    second = _error(lambda: netspec.load(tmp_path / "e2.yaml")).errors[0]
    assert second.message == "cannot extend `missing.yaml`: no such file in this spec's folder"


def test_every_invalid_node_name_is_named_at_its_own_place() -> None:
    text = 'netspec: 1\nname: t\ninputs: {x: [N, 4]}\nnodes:\n  a: ReLU\n  b ad: ReLU\n  a.b: ReLU\n  "": ReLU\n'
    errors = _error(lambda: netspec.loads(text)).errors
    assert [(d.code, d.line, d.column, d.path) for d in errors] == [
        ("NS114", 6, 3, "nodes.b ad"),
        ("NS114", 7, 3, "nodes.a.b"),
        ("NS114", 8, 3, "nodes."),
    ]
    assert "`b ad` contains a space" in errors[0].message and "`a.b` contains `.`" in errors[1].message


def test_when_no_input_size_works_the_layer_that_rules_the_last_one_out_is_named() -> None:
    text = """
netspec: 1
name: ns202
inputs: {x: [N, 4, H, W]}
nodes:
  a: {op: Conv2d, out_channels: 4, kernel_size: 3, stride: 2}
  b: {op: add, in: [a, x]}
"""
    errors = _error(lambda: netspec.validate(netspec.loads(text))).errors
    assert [(d.code, d.line, d.column) for d in errors] == [("NS202", 7, 6), ("NS202", 7, 6)]
    assert errors[0].message.startswith("`b`: no size of input dimension `H` up to 2048 works here")


def test_a_computed_groups_of_zero_read_by_channels_is_reported_at_its_argument() -> None:
    # `groups: 0` made the shape read by `channels()` divide by zero during expansion (found by the
    # mutation fuzzer on a mutated RegNet).
    text = """
netspec: 1
name: zero-groups
params: {group_width: 64}
inputs: {x: [N, 8, 4, 4]}
nodes:
  conv: {op: Conv2d, out_channels: 8, kernel_size: 1, groups: "${channels() // group_width}"}
  fc: {op: Conv2d, out_channels: "${channels()}", kernel_size: 1}
"""
    errors = _error(lambda: netspec.loads(text)).errors
    assert (errors[0].code, errors[0].line, errors[0].column) == ("NS147", 7, 63)
    assert "`groups` of `Conv2d` must be at least 1, got 0" in errors[0].message
