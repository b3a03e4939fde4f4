"""Every check of the loader and validator: one invalid fixture each, with the exact place of each diagnostic.

A fixture under tests/specs/invalid/ is listed in `EXPECTED` with, for each diagnostic, its code,
line, column and path, and words its message and hint must hold. `netspec.validate` runs after
`netspec.load` so that shape-stage checks (`in_channels`) have fixtures too.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

import pytest
import torch

import netspec
from netspec import Diagnostic, SpecError
from netspec._load import LOAD_CODES

INVALID = Path(__file__).parent / "specs" / "invalid"


class Want(NamedTuple):
    code: str
    line: int | None
    column: int | None
    path: str
    message: str = ""  # a part of the message
    hint: str = ""  # a part of the hint


EXPECTED: dict[str, list[Want]] = {
    "syntax_yaml.yaml": [Want("NS005", 5, 6, "", "did not find expected ',' or ']'")],
    "syntax_json.json": [Want("NS005", 5, 3, "", "did not find expected ',' or '}'")],
    "duplicate_key.yaml": [Want("NS009", 7, 3, "nodes.fc", "duplicate key `fc`", "first set on line 6")],
    "duplicate_name.yaml": [Want("NS132", 6, 3, "nodes.x", "node `x` has the name of an input")],
    "bad_version.yaml": [Want("NS113", 1, 10, "netspec", "invalid value 2", "format version 1")],
    "unknown_top_level.yaml": [
        Want("NS110", 5, 1, "node", "unknown field `node` at top level", "did you mean `nodes`?")
    ],
    "unknown_field.yaml": [
        Want("NS110", 4, 22, "params.width.defualt", "unknown field `defualt`", "did you mean `default`?"),
        Want("NS110", 11, 5, "blocks.mlp.outptu", "unknown field `outptu`", "did you mean `output`?"),
    ],
    "missing_field.yaml": [Want("NS111", 1, 1, "nodes", "missing required field `nodes`")],
    "wrong_type.yaml": [
        Want("NS112", 2, 7, "name", "expected a string, got a list"),
        Want("NS112", 5, 11, "dims.H", "expected a whole number, got `big`"),
        Want("NS112", 5, 19, "dims.W", "expected a number >= 1, got `0`"),
        Want(
            "NS112",
            7,
            63,
            "nodes.conv.repeat",
            "expected a whole number or a string or a mapping (`key: value` lines), got a list",
        ),
    ],
    "bad_name.yaml": [Want("NS114", 6, 3, "nodes.conv 1", "node name `conv 1` contains a space")],
    "bad_extends.yaml": [Want("NS104", 2, 10, "extends", "cannot extend `resnet81`")],
    "bad_remove.yaml": [
        Want("NS106", 4, 10, "remove[0]", "`maxpol` is not a node of `resnet18`", "did you mean `maxpool`?")
    ],
    "remove_twice.yaml": [
        Want("NS106", 4, 23, "remove[2]", "`maxpool` is listed twice (first at `remove[0]`)", "delete this entry")
    ],
    "remove_without_extends.yaml": [Want("NS106", 7, 1, "remove", "`remove` needs `extends`")],
    "bad_param_value.yaml": [
        Want("NS121", 4, 31, "params.width", "must be >= 1, got 0"),
        Want("NS121", 5, 30, "params.mode", "must be one of ['slow', 'careful'], got 'fast'"),
    ],
    "bad_expression.yaml": [
        Want("NS131", 8, 45, "nodes.fc.out_features", "expected an expression, found `}`"),
        Want("NS131", 9, 43, "nodes.fc2.out_features", "attribute access is not allowed"),
    ],
    "missing_param.yaml": [
        Want("NS131", 8, 35, "nodes.fc.out_features", "unknown name `widht`", "did you mean `width`?"),
        # in a node disabled by `when: false`: found without evaluating it
        Want("NS131", 9, 29, "nodes.drop.p", "unknown name `rate`", "`width`"),
    ],
    "missing_param_required.yaml": [
        Want("NS131", 8, 37, "nodes.fc.out_features", "unknown name `widht`", "did you mean `width`?"),
    ],
    "bad_repeat_when.yaml": [
        Want("NS133", 8, 45, "nodes.fc.repeat", "`repeat` must be a whole number >= 0, got -1"),
        Want("NS133", 9, 29, "nodes.drop.when", "`when` must be true or false, got 2"),
    ],
    "wrong_arity.yaml": [
        Want("NS136", 13, 25, "nodes.m.in", "block `merge` takes 2 inputs (a, b), got 1", "in: [a, b]"),
        Want("NS153", 12, 8, "nodes.sum.in", "`add` takes 2 or more input(s), got 1"),
    ],
    "block_params.yaml": [
        Want("NS138", 11, 19, "nodes.a.widht", "block `mlp` has no parameter `widht`", "did you mean `width`?"),
        Want("NS139", 11, 6, "nodes.a", "block `mlp` needs parameter `width`", "add `width: ...`"),
        Want("NS139", 12, 36, "nodes.b.depth", "parameter `depth` must be >= 1, got 0"),
    ],
    "unknown_op.yaml": [
        Want("NS141", 6, 14, "nodes.conv.op", "unknown op `Conv2D`", "did you mean `Conv2d`?"),
        Want("NS141", 7, 13, "nodes.act.op", "`torch.nn.ReLU` is not an op", "register_op"),
    ],
    "missing_block.yaml": [
        Want("NS142", 10, 14, "nodes.a.block", "unknown block `mpl`", "did you mean `mlp`?"),
        Want("NS141", 11, 11, "nodes.b.op", "unknown op `mlp`", "`mlp` is a block: write `block: mlp`"),
    ],
    "recursive_block.yaml": [
        Want("NS143", 12, 22, "blocks.inner.nodes.again.block", "recursive block: outer -> inner -> outer"),
    ],
    "unknown_argument.yaml": [
        Want("NS144", 6, 55, "nodes.conv.strides", "`Conv2d` has no argument `strides`", "did you mean `stride`?")
    ],
    "missing_argument.yaml": [
        Want("NS145", 6, 9, "nodes.conv.out_channels", "`Conv2d` needs `out_channels`", "an integer")
    ],
    "wrong_argument_type.yaml": [
        Want("NS146", 6, 36, "nodes.conv.out_channels", "must be an integer, got `8.5`"),
        Want("NS146", 6, 63, "nodes.conv.bias", 'must be true or false, got `"no"`'),
    ],
    "missing_node.yaml": [
        Want("NS151", 7, 25, "nodes.fc2.in[0]", "unknown node `fc` in this spec", "did you mean `fc2`?"),
        Want("NS152", 8, 28, "nodes.sum.in[1]", "`fc1` is a single node, it has no `0`"),
        Want("NS151", 9, 11, "outputs[0]", "unknown node `summ`", "did you mean `sum`?"),
    ],
    "cycle.yaml": [Want("NS154", 6, 6, "nodes.a", "cycle: a -> b -> c -> a", "its own output")],
    "in_channels_mismatch.yaml": [
        Want(
            "NS200",
            6,
            35,
            "nodes.conv.in_channels",
            "`in_channels` is 4 but the input has 3 channels",
            "leave `in_channels` out",
        )
    ],
    "several_errors.yaml": [
        Want("NS131", 9, 37, "nodes.conv.out_channels", "unknown name `widht`", "did you mean `width`?"),
        Want("NS141", 10, 12, "nodes.bn.op", "unknown op `BatchNorm2D`", "did you mean `BatchNorm2d`?"),
        Want("NS144", 11, 20, "nodes.relu.inplce", "no argument `inplce`", "did you mean `inplace`?"),
        Want("NS146", 12, 38, "nodes.pool.kernel_size", "must be an integer or a list of integers", "without quotes"),
        Want("NS151", 13, 26, "nodes.head.in[0]", "unknown node `rleu`", "did you mean `relu`?"),
    ],
    "bad_stochastic_depth.yaml": [
        Want("NS147", 7, 45, "nodes.drop.mode", '`mode` of `StochasticDepth` must be "row" or "batch"', "`row`"),
        Want("NS147", 7, 34, "nodes.drop.p", "`p` of `StochasticDepth` must be between 0 and 1, got 1.5"),
        Want("NS145", 8, 9, "nodes.keep.p", "`StochasticDepth` needs `p`", "a number"),
    ],
    "bad_channel_shuffle.yaml": [
        Want("NS200", 8, 12, "nodes.shuffle", "`groups` 4 needs channels divisible by 4, the input has 6"),
        Want("NS200", 9, 9, "nodes.flat", "at least one dimension after the channels, got [N, 6]"),
        Want("NS200", 10, 9, "nodes.free", "needs a fixed number of channels", "fixed number of channels"),
    ],
    "bad_interpolate.yaml": [
        Want("NS200", 7, 9, "nodes.both", "takes either a second input to match or `size`, not both"),
        Want("NS200", 8, 9, "nodes.none", "needs a second input to match, `size` or `scale_factor`"),
        Want("NS200", 9, 10, "nodes.short", "`scale_factor` [2] of `interpolate` needs 2 values"),
        Want("NS200", 10, 9, "nodes.rank", 'mode "trilinear" expects a 5-D input [N, C, D, H, W]'),
        Want("NS200", 12, 10, "nodes.other", "a second input of the same rank"),
    ],
    "bad_interpolate_args.yaml": [
        Want("NS147", 6, 59, "nodes.aligned.align_corners", 'bicubic and trilinear modes, not "nearest"', "leave"),
        Want("NS147", 7, 47, "nodes.mode.mode", 'got "bilinar"', "did you mean `bilinear`?"),
        Want("NS147", 8, 56, "nodes.twice.scale_factor", "takes `size` or `scale_factor`, not both"),
        Want("NS147", 9, 41, "nodes.zero.scale_factor", "must be positive, got [0, 2]"),
    ],
    "ports.yaml": [
        Want("NS156", 7, 24, "nodes.relu.in[0]", "`halves` has several outputs", "write `halves:0`"),
        Want("NS156", 9, 21, "nodes.a.in[0]", "`lstm` (`LSTM`) has no output `h_m`", "did you mean `h_n`?"),
        Want("NS156", 10, 21, "nodes.b.in[0]", "`relu` (`ReLU`) has one output, it has no port `0`", "write `relu`"),
        Want("NS156", 12, 32, "nodes.c.in[1]", "`parts` has 2 outputs (`0`, `1`), no output 2"),
        Want("NS156", 13, 21, "nodes.d.in[0]", "input `x` has one output"),
        Want("NS156", 14, 21, "nodes.e.in[0]", "`lstm:` is not a reference"),
        Want("NS156", 15, 32, "outputs[6]", "`lstm` has several outputs (`output`, `h_n`, `c_n`)", "`lstm:output`"),
    ],
    "tensor_ops.yaml": [
        Want("NS200", 6, 9, "nodes.nhwc", "`dims` [0, 2, 1] of `permute` has 3 entries", "each of the 4 dimensions"),
        Want("NS200", 7, 9, "nodes.flat", "`shape` [N, -1, -1] of `reshape` has more than one -1"),
        Want("NS200", 8, 8, "nodes.odd", "cannot infer the -1 in `shape` [N, 3, -1]", "`x` [N, 8, H, W]"),
        Want("NS200", 9, 11, "nodes.tokens", "`B` in `shape` of `reshape` is not a symbol of the inputs", "`N`, `H`"),
        Want("NS200", 10, 9, "nodes.pick", "`index` 8 is outside dimension 1", "from -8 to 7"),
        Want("NS200", 12, 25, "nodes.third.in[0]", "reads output 3 of `halves`, which has 3 outputs (0..2)"),
    ],
    "tensor_args.yaml": [
        Want("NS147", 6, 28, "nodes.dup.dims", "`dims` of `permute` names a dimension twice"),
        Want("NS147", 7, 43, "nodes.every.step", "`step` of `slice` must be at least 1"),
        Want("NS147", 8, 38, "nodes.pieces.chunks", "`chunks` of `chunk` must be at least 1"),
        Want("NS147", 9, 66, "nodes.attn.num_heads", "must be divisible by `num_heads` (=3)"),
    ],
    "window_args.yaml": [
        Want("NS147", 6, 45, "nodes.flat.window_size", "`window_size` of `window_partition` must give a height and"),
        Want("NS147", 7, 71, "nodes.far.shift_size", "must be smaller than `window_size` [7, 7]", "half a window"),
        Want(
            "NS147", 8, 77, "nodes.back.shift_size", "`shift_size` of `window_reverse` must list shifts of at least 0"
        ),
        Want("NS147", 9, 51, "nodes.index.window_size", "`RelativePositionIndex` must list sizes of at least 1"),
        Want("NS146", 10, 32, "nodes.half.by", "`by` of `scale` must be a number"),
        Want("NS147", 11, 33, "nodes.band.min", "`min` of `clamp` must not be above `max` (-1.0)"),
        Want("NS147", 12, 9, "nodes.open", "`clamp` needs `min` or `max`", ""),
        Want("NS147", 13, 50, "nodes.coords.window_size", "`RelativeCoordsTable` must list sizes of at least 2"),
    ],
    "window_ops.yaml": [
        Want("NS200", 7, 9, "nodes.nchw", "expects a channels-last map [B, H, W, C], got [N, 32, L]", "permute"),
        Want("NS200", 9, 9, "nodes.back", "have 49 tokens in dimension 1, but a window of `window_size` [2, 2] has 4"),
        Want("NS200", 11, 11, "nodes.masked", "the scores [4*N, 1, 49, 32] of `window_mask` have 32 tokens"),
        Want("NS200", 12, 11, "nodes.merged", "`patch_merge` expects a channels-last map [..., H, W, C]"),
        Want("NS200", 14, 9, "nodes.rows", "the index [169, 4] of `index_select` must have one dimension"),
        Want("NS200", 15, 8, "nodes.lin", "the input [N, 14, 14, 32] of `linear` has 32 features"),
    ],
    "window_count.yaml": [
        Want("NS202", 8, 11, "nodes.undone", "the windows of the `window_reverse` input [4*N, 49, 32] and of the map"),
    ],
    "split_many_outputs.yaml": [
        Want("NS206", 6, 10, "nodes.parts", "`split` makes 16,777,216 outputs", "fewer, larger pieces"),
    ],
    "chunk_many_outputs.yaml": [Want("NS206", 7, 10, "nodes.parts", "`chunk` makes 4,194,304 outputs")],
    "int64_overflow.yaml": [
        Want("NS147", 6, 25, "nodes.r.shifts", "`shifts` of `roll` must hold integers that fit in 64 bits"),
        Want("NS147", 7, 33, "nodes.p.dims", "`dims` of `permute` must hold integers that fit in 64 bits"),
    ],
    "tied_symbols_matmul.yaml": [
        Want("NS207", 8, 6, "nodes.m", "`K` and `J` are written with different symbols", "write one symbol"),
    ],
    "tied_symbols_add.yaml": [Want("NS207", 7, 6, "nodes.s", "`N` and `M` are written with different symbols")],
    "index_select_float.yaml": [
        Want("NS200", 8, 9, "nodes.rows", "is a float32 tensor", "an integer tensor"),
    ],
    "index_select_range.yaml": [
        Want("NS200", 10, 9, "nodes.bias", "holds values from 0 to 48, but dimension 0 of the input [5, 2] has 5"),
    ],
    "view_after_transpose.yaml": [
        Want("NS200", 7, 6, "nodes.v", "`view` cannot give [N, 4, 8] the shape [N, 32]", "use `reshape`"),
    ],
    "learned_tensor.yaml": [
        Want("NS147", 6, 33, "nodes.scale.shape", "`shape` of `Parameter` must list sizes of at least 1"),
        Want("NS180", 6, 57, "nodes.scale.init.normal.sd", "`normal` has no argument `sd`", "did you mean `std`?"),
        Want("NS180", 7, 43, "nodes.bias.init", "`kaiming_normal` needs a tensor of two or more dimensions"),
        Want("NS147", 8, 54, "nodes.token.init", "`init` of `Parameter` must be one of", "did you mean `zeros`?"),
        Want("NS153", 8, 30, "nodes.token.in", "`Parameter` takes 0 input(s), got 1"),
    ],
}

# Specs that load, with warnings on `spec.warnings`.
EXPECTED_WARNINGS: dict[str, list[Want]] = {
    "unused.yaml": [
        Want("NS160", 5, 3, "params.spare", "parameter `spare` is never used"),
    ],
}


def _errors_of(path: Path) -> SpecError:
    with pytest.raises(SpecError) as caught:
        netspec.validate(netspec.load(path))
    return caught.value


def _check(found: list[Diagnostic], wanted: list[Want], file: Path) -> None:
    wanted = sorted(wanted, key=lambda w: (w.line or 0, w.column or 0))  # diagnostics come in source order
    where = [(d.code, d.line, d.column, d.path) for d in found]
    assert where == [(w.code, w.line, w.column, w.path) for w in wanted], "\n".join(map(str, found))
    for diagnostic, want in zip(found, wanted):
        assert want.message in diagnostic.message
        assert want.hint in (diagnostic.hint or "")
        assert diagnostic.file is not None and Path(diagnostic.file).name == file.name


def test_every_invalid_fixture_has_expectations() -> None:
    fixtures = {p.name for p in INVALID.iterdir() if p.is_file()}
    assert fixtures == set(EXPECTED) | set(EXPECTED_WARNINGS)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_invalid_fixture(name: str) -> None:
    error = _errors_of(INVALID / name)
    _check(error.errors, EXPECTED[name], INVALID / name)


@pytest.mark.parametrize("name", sorted(EXPECTED_WARNINGS))
def test_warning_fixture(name: str) -> None:
    spec = netspec.load(INVALID / name)
    _check(spec.warnings, EXPECTED_WARNINGS[name], INVALID / name)
    assert all(d.severity == "warning" for d in spec.warnings)
    assert netspec.validate(spec) == spec.warnings


def test_every_problem_is_reported_at_once() -> None:
    error = _errors_of(INVALID / "several_errors.yaml")
    assert len({d.code for d in error.errors}) == 5
    assert len(str(error).split("error[")) == 6


def test_rendering_is_compiler_style() -> None:
    error = _errors_of(INVALID / "unknown_argument.yaml")
    lines = str(error).splitlines()
    assert lines[0].endswith("unknown_argument.yaml:6:55: error[NS144]: `Conv2d` has no argument `strides`")
    source = next(i for i, line in enumerate(lines) if line.startswith("6 |"))
    assert lines[source] == "6 |   conv: {op: Conv2d, out_channels: 8, kernel_size: 3, strides: 2}"
    caret = lines[source + 1]
    assert caret.index("^") == lines[source].index("strides")
    assert caret.count("^") == len("strides")
    assert lines[-1] == "  help: did you mean `stride`?"


def test_warnings_render_as_warnings() -> None:
    spec = netspec.load(INVALID / "unused.yaml")
    rendered = str(SpecError(spec.warnings, spec.source))
    assert "unused.yaml:5:3: warning[NS160]: parameter `spare` is never used" in rendered


def test_errors_carry_the_warnings_too() -> None:
    error = _errors_of(INVALID / "missing_node.yaml")
    assert {d.code for d in error.warnings} == {"NS162"}  # unused because the output is unknown


def test_bad_override_name_suggests_the_parameter() -> None:
    with pytest.raises(SpecError) as caught:
        netspec.build("resnet18", params={"num_clases": 10})
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.code == "NS120"
    assert diagnostic.message == "unknown parameter `num_clases` for spec `resnet18`"
    assert diagnostic.hint == "did you mean `num_classes`?"


def test_bad_override_value_is_checked() -> None:
    with pytest.raises(SpecError) as caught:
        netspec.count_params("resnet18", params={"num_classes": 0, "block": "wide"})
    assert [(d.code, d.path) for d in caught.value.diagnostics] == [
        ("NS121", "params.num_classes"),
        ("NS121", "params.block"),
    ]
    assert "must be >= 1, got 0" in caught.value.diagnostics[0].message


def test_required_parameter_needs_a_value() -> None:
    spec = netspec.load(Path(__file__).parent / "specs" / "valid" / "required_param.yaml")
    with pytest.raises(SpecError) as caught:
        netspec.build(spec)
    (diagnostic,) = caught.value.diagnostics
    assert (diagnostic.code, diagnostic.path) == ("NS121", "params.classes")
    assert "no default and no value" in diagnostic.message
    assert netspec.build(spec, params={"classes": 3}).fc.out_features == 3


def test_unknown_bundled_spec_suggests_one() -> None:
    with pytest.raises(SpecError) as caught:
        netspec.load("resnet19")
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.code == "NS101"
    assert diagnostic.hint is not None and "resnet18" in diagnostic.hint


def test_op_chosen_by_expression_is_checked() -> None:
    text = "name: t\ninputs: {x: [N, 4]}\nparams: {act: Relu}\nnodes:\n  a: {op: $act}\n"
    with pytest.raises(SpecError) as caught:
        netspec.loads(text)
    (diagnostic,) = caught.value.errors
    assert (diagnostic.code, diagnostic.line, diagnostic.column) == ("NS141", 5, 11)
    assert "`ReLU`" in (diagnostic.hint or "")
    assert isinstance(netspec.build(netspec.loads(text.replace("Relu", "GELU"))).a, torch.nn.GELU)


def test_unused_block_is_still_checked() -> None:
    text = (
        "name: t\ninputs: {x: [N, 4]}\nblocks:\n  spare:\n    nodes: [{op: Linaer, out_features: $n}]\nnodes: [ReLU]\n"
    )
    with pytest.raises(SpecError) as caught:
        netspec.loads(text)
    found = [(d.code, d.line, d.column, d.path) for d in caught.value.errors]
    assert found == [("NS141", 5, 18, "blocks.spare.nodes.0.op"), ("NS131", 5, 41, "blocks.spare.nodes.0.out_features")]


def test_a_cycle_of_unused_blocks_is_found() -> None:
    text = "name: t\ninputs: {x: [N, 4]}\nblocks:\n  a: {nodes: {n: {block: b}}}\n  b: {nodes: {n: {block: a}}}\nnodes: [ReLU]\n"
    with pytest.raises(SpecError) as caught:
        netspec.loads(text)
    (diagnostic,) = caught.value.errors
    assert (diagnostic.code, diagnostic.path, diagnostic.message) == (
        "NS143",
        "blocks.b.nodes.n.block",
        "recursive block: a -> b -> a",
    )


def test_errors_in_list_form_nodes_point_at_the_item() -> None:
    text = "name: t\ninputs: {x: [N, 4]}\nnodes:\n  - {op: Linear, out_features: 4}\n  - {op: Linear, out_feature: 4}\n"
    with pytest.raises(SpecError) as caught:
        netspec.loads(text)
    found = [(d.code, d.line, d.column, d.path) for d in caught.value.errors]
    assert ("NS144", 5, 18, "nodes.1.out_feature") in found


def test_every_code_is_documented() -> None:
    source = "".join(p.read_text() for p in (Path(__file__).resolve().parents[1] / "netspec").glob("*.py"))
    used = set(re.findall(r"NS\d{3}", source))
    documented = set(
        re.findall(
            r"^### (NS\d{3})", (Path(__file__).resolve().parents[1] / "docs" / "errors.md").read_text(), re.MULTILINE
        )
    )
    assert used - documented == set(), "document these codes in docs/errors.md"
    assert set(LOAD_CODES) <= documented


def test_validate_passes_a_spec_with_a_required_parameter_and_says_what_it_did_not_check(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from netspec._cli import main

    path = Path(__file__).parent / "specs" / "valid" / "required_param.yaml"
    (warning,) = netspec.validate(path)
    assert (warning.code, warning.severity, warning.path) == ("NS122", "warning", "params.classes")
    assert warning.line is not None and "the graph and its shapes need a value" in warning.message
    assert "`-p classes=...`" in (warning.hint or "")
    assert netspec.validate(path, params={"classes": 3}) == []
    with pytest.raises(SpecError, match="must be >= 1, got 0"):
        netspec.validate(path, params={"classes": 0})  # values given are checked
    assert main(["validate", str(path)]) == 0
    assert main(["validate", "--strict", str(path)]) == 1
    assert main(["validate", "-p", "classes=3", str(path)]) == 0
    capsys.readouterr()


def test_a_spec_with_a_required_parameter_still_has_its_names_checked() -> None:
    text = (
        "netspec: 1\nname: t\nparams:\n  classes: {type: int}\ninputs:\n  x: [N, 8]\n"
        "nodes:\n  fc: {op: Linear, out_features: $classes}\n  bad: {op: Lineer, out_features: 3}\n"
    )
    with pytest.raises(SpecError) as caught:
        netspec.validate(netspec.loads(text))
    assert [d.code for d in caught.value.diagnostics if d.is_error] == ["NS141"]


def test_building_without_a_required_parameter_says_how_to_give_it() -> None:
    spec = netspec.load(Path(__file__).parent / "specs" / "valid" / "required_param.yaml")
    with pytest.raises(SpecError) as caught:
        netspec.count_params(spec)
    assert caught.value.diagnostics[0].hint == (
        'give it a value: `params={"classes": ...}` in Python, `-p classes=...` on the command line'
    )


def test_diagnostics_are_in_source_order_by_file_line_and_column() -> None:
    from netspec._errors import Diagnostic, SpecError

    def at(file: str | None, line: int | None, column: int | None, message: str) -> Diagnostic:
        return Diagnostic(message, file=file, line=line, column=column, code="NS112")

    given = [
        at("b.yaml", 9, 1, "b9"),
        at("a.yaml", 6, 5, "a6:5"),
        at("a.yaml", 4, 3, "a4"),
        at("b.yaml", 2, 1, "b2"),
        at("a.yaml", 6, 2, "a6:2"),
        at("a.yaml", None, None, "a-unplaced"),
        at("a.yaml", 4, 3, "a4-again"),
    ]
    order = [d.message for d in SpecError(given).diagnostics]
    assert order == ["b2", "b9", "a-unplaced", "a4", "a4-again", "a6:2", "a6:5"]  # files as they first appear


def test_validate_reports_in_line_order() -> None:
    text = "netspec: 1\nname: t\ninputs:\n  self: [N, 8]\nparams:\n  if: 3\nnodes:\n  a.b: ReLU\n"
    with pytest.raises(netspec.SpecError) as err:
        netspec.loads(text)
    assert [d.line for d in err.value.diagnostics] == [4, 6, 8]
