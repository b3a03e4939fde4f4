"""The table of what torch refuses (`netspec/_refusals.py`): every row is refused by `validate` at its
argument's line and column, and by torch itself with the words the row quotes; every catalog op is in
the table or marked as taking every well-typed argument."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
import torch

import netspec
from netspec._ops import builtin_ops
from netspec._refusals import ARG_REFUSALS, NOTHING_BEYOND_TYPES, SHAPE_REFUSALS, ArgRefusal, ShapeRefusal


def _adapted(op: str, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The row's example input, of the rank a 1-D or 3-D member of a family takes."""
    if op.endswith("1d") and len(shape) == 4:
        return shape[:3]
    if op.endswith("3d") and len(shape) == 4:
        return shape + shape[-1:]
    if op.endswith("2d") and len(shape) == 2 and op.startswith("BatchNorm"):
        return shape + (1, 1)
    if op.endswith("3d") and len(shape) == 2 and op.startswith("BatchNorm"):
        return shape + (1, 1, 1)
    return shape


def _spec(op: str, example: dict[str, Any], shape: tuple[int, ...]) -> tuple[str, dict[str, tuple[int, int]]]:
    """A one-node spec, one argument a line, and where each argument's value starts (line, column)."""
    lines = ["netspec: 1", "name: t", f"inputs: {{x: {list(shape)}}}", "nodes:", "  n:", f"    op: {op}"]
    where = {}
    for name, value in example.items():
        prefix = f"    {name}: "
        lines.append(prefix + json.dumps(value))
        where[name] = (len(lines), len(prefix) + 1)
    lines.append("outputs: [n]")
    return "\n".join(lines) + "\n", where


def _arg_cases() -> list[tuple[str, ArgRefusal]]:
    return [(op, row) for row in ARG_REFUSALS for op in row.ops]


def _shape_cases() -> list[tuple[str, ShapeRefusal]]:
    return [(op, row) for row in SHAPE_REFUSALS for op in row.ops]


def _case_id(case: tuple[str, Any]) -> str:
    op, row = case
    return f"{op}-{getattr(row, 'arg', None) or type(row.when).__name__}-{type(row.when).__name__}"


def _torch_refuses(op_name: str, example: dict[str, Any], shape: tuple[int, ...] | None) -> BaseException:
    """Build the op with torch (and run it on `shape` when given); the exception torch raised."""
    op = builtin_ops()[op_name]
    target = op.resolve()
    x = torch.randn(shape) if shape is not None else None
    try:
        if op.kind == "module":
            module = target(**example)
            if x is not None:
                inputs = op.spread_inputs([x]) if op.spread_inputs else [x] * max(op.min_inputs, 1)
                module(*inputs)
        elif op.kind == "tensor":
            target(**example)
        else:
            args = [x, x] if op.inputs_as_list else [x] * max(op.min_inputs, 1)
            target(args, **example) if op.inputs_as_list else target(*args, **example)
    except Exception as err:  # torch's refusal, whatever its type
        return err
    pytest.fail(f"torch accepts `{op_name}` with {example} (input {shape}): the row is wrong")


@pytest.mark.parametrize("case", _arg_cases(), ids=_case_id)
def test_validate_and_torch_both_refuse_each_argument_row(case: tuple[str, ArgRefusal]) -> None:
    op, row = case
    shape = _adapted(op, row.input or (2, 4, 8, 8))
    text, where = _spec(op, dict(row.example), shape)
    with pytest.raises(netspec.SpecError) as caught:
        netspec.validate(netspec.loads(text))
    errors = [e for e in caught.value.errors if e.code == "NS147"]
    if row.arg is None:
        wanted = "nodes.n"
        located = [e for e in errors if e.path == wanted]
    else:
        wanted = f"nodes.n.{row.arg}"
        located = [e for e in errors if e.path == wanted and (e.line, e.column) == where[row.arg]]
    assert located, f"no NS147 at {wanted} {where.get(row.arg or '')}: {caught.value}"
    if row.torch:
        assert any(row.torch in e.message for e in located), located[0].message
    refusal = _torch_refuses(op, dict(row.example), None if row.input is None else shape)
    if row.torch:
        assert row.torch in str(refusal), f"torch says {refusal!r}, the row quotes {row.torch!r}"


@pytest.mark.parametrize("case", _shape_cases(), ids=_case_id)
def test_validate_and_torch_both_refuse_each_shape_row(case: tuple[str, ShapeRefusal]) -> None:
    op, row = case
    shape = _adapted(op, row.input)
    text, _ = _spec(op, dict(row.example), shape)
    if row.training_only:
        # a warning: the same layer runs in eval mode, as torch does
        located = [d for d in netspec.validate(netspec.loads(text)) if d.path == "nodes.n" and row.torch in d.message]
        assert located and (located[0].line, located[0].column) == (6, 5), located
        module = builtin_ops()[op].resolve()(**row.example).eval()
        with torch.no_grad():
            module(torch.randn(shape))
    else:
        with pytest.raises(netspec.SpecError) as caught:
            netspec.validate(netspec.loads(text))
        located = [e for e in caught.value.errors if e.code == "NS200" and e.path == "nodes.n"]
        assert located and (located[0].line, located[0].column) == (6, 5), str(caught.value)
        assert row.torch in located[0].message
    refusal = _torch_refuses(op, dict(row.example), shape)
    assert row.torch in str(refusal), f"torch says {refusal!r}, the row quotes {row.torch!r}"


def test_every_catalog_op_is_in_the_table_or_marked() -> None:
    in_table = {op for row in ARG_REFUSALS + SHAPE_REFUSALS for op in row.ops}
    catalog = set(builtin_ops())
    assert not in_table & NOTHING_BEYOND_TYPES, "an op is both in the table and marked as refusing nothing"
    missing = catalog - in_table - NOTHING_BEYOND_TYPES
    assert not missing, f"ops with no row in netspec/_refusals.py and no NOTHING_BEYOND_TYPES marker: {sorted(missing)}"
    assert in_table | NOTHING_BEYOND_TYPES <= catalog, sorted((in_table | NOTHING_BEYOND_TYPES) - catalog)


def test_rows_name_arguments_their_ops_take() -> None:
    ops = builtin_ops()
    for row in ARG_REFUSALS + SHAPE_REFUSALS:
        for op in row.ops:
            names = set(ops[op].args)
            assert set(row.example) <= names, (op, row.example)
            if isinstance(row, ArgRefusal):
                assert row.arg is None or row.arg in names, (op, row.arg)
                fields = [f.name for f in dataclasses.fields(row.when) if f.name in ("arg", "by", "other", "of")]
                assert all(getattr(row.when, f) in names for f in fields), (op, row.when)


@pytest.mark.parametrize(
    ("op", "args"),
    [
        ("Conv2d", {"out_channels": 8, "kernel_size": 3, "groups": 4, "padding": "same"}),
        ("ConvTranspose2d", {"out_channels": 4, "kernel_size": 3, "stride": 2, "output_padding": 1}),
        ("MaxPool2d", {"kernel_size": 3, "padding": 1, "dilation": 1}),
        ("BatchNorm2d", {"eps": 1e-5}),
        ("Dropout", {"p": 1.0}),
        ("Upsample", {"size": [4, 4], "recompute_scale_factor": False}),
        ("roll", {"shifts": 1}),
        ("Flatten", {"start_dim": 1, "end_dim": -1}),
        ("LSTM", {"hidden_size": 8, "proj_size": 4}),
    ],
)
def test_values_on_the_right_side_of_a_row_pass(op: str, args: dict[str, Any]) -> None:
    shape = (5, 2, 4) if op == "LSTM" else (2, 4, 8, 8)
    text, _ = _spec(op, args, shape)
    text = text.replace("outputs: [n]", "outputs: [n:output]" if op == "LSTM" else "outputs: [n]")
    netspec.validate(netspec.loads(text))


def test_a_symbolic_length_becomes_a_condition_of_instance_norm_1d() -> None:
    text = "netspec: 1\nname: t\ninputs: {x: [N, 4, L]}\nnodes:\n  n: {op: InstanceNorm1d}\n"
    lattice = netspec.valid_sizes(netspec.loads(text))["L"]
    assert 1 not in lattice and 2 in lattice


def test_a_negative_kernel_with_a_mistyped_padding_is_two_located_errors() -> None:
    text = (
        "netspec: 1\nname: t\ninputs: {x: [N, 4, 8, 8]}\nnodes:\n"
        "  p: {op: MaxPool2d, kernel_size: -100000000000000000000000000000, padding: x}\n"
    )
    with pytest.raises(netspec.SpecError) as caught:
        netspec.validate(netspec.loads(text))
    assert sorted((e.code, e.line, e.column) for e in caught.value.errors) == [("NS146", 5, 77), ("NS147", 5, 35)]
