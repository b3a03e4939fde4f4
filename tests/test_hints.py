"""Diagnostics that say what to write: quoting `${...}` in flow style, `//` for an integer, the
dimension a strided window leaves unread, one did-you-mean for a misspelt `extends` override."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

import netspec
from netspec import SpecError
from netspec._errors import did_you_mean


def _errors(source: Any) -> list[Any]:
    with pytest.raises(SpecError) as err:
        netspec.validate(source)
    return [d for d in err.value.diagnostics if d.severity == "error"]


_HEAD = "netspec: 1\nname: t\nparams: {width: 16}\ninputs:\n  x: [N, 3, 8, 8]\nnodes:\n"


@pytest.mark.parametrize(
    ("node", "expression"),
    [
        ("  conv: {op: Conv2d, out_channels: ${width * 2}, kernel_size: 3}\n", "${width * 2}"),
        ("  conv: {op: Conv2d, out_channels: 8, kernel_size: [${width}, 3]}\n", "${width}"),
    ],
)
def test_an_unquoted_expression_in_flow_style_says_to_quote_it(node: str, expression: str) -> None:
    text = _HEAD + node
    (found,) = _load_errors(text)
    assert found.code == "NS005" and found.line == 7
    assert f'quote the expression: "{expression}"' in found.hint
    assert text.splitlines()[6][found.column - 2 : found.column] in ("${", "{w", "{ ")


def _load_errors(text: str) -> list[Any]:
    with pytest.raises(SpecError) as err:
        netspec.loads(text)
    return [d for d in err.value.diagnostics if d.severity == "error"]


def test_other_syntax_errors_keep_the_parser_context() -> None:
    (found,) = _load_errors(_HEAD + "  conv: {op: Conv2d, out_channels: [8, kernel_size: 3}\n")
    assert "quote the expression" not in (found.hint or "") and "flow sequence" in (found.hint or "")


def test_a_division_where_an_integer_goes_suggests_floor_division() -> None:
    text = _HEAD + '  conv: {op: Conv2d, out_channels: "${width / 2}", kernel_size: 3}\n'
    (found,) = _load_errors(text)
    assert found.code == "NS146" and found.path == "nodes.conv.out_channels"
    assert found.hint == '`/` divides to a number (8.0); write `//` for an integer: "${width // 2}"'
    text = _HEAD + "  conv: {op: Conv2d, out_channels: 8, kernel_size: 3.0}\n"
    (found,) = _load_errors(text)
    assert found.hint == "write 3 (an integer)"


@pytest.mark.parametrize(
    ("shape", "kernel", "unit"),
    [
        ("[N, 3, 8, 14]", "8", "6 input columns"),
        ("[N, 3, 14, 8]", "8", "6 input rows"),
        ("[N, 3, 9, 8]", "8", "1 input row"),
        ("[N, 3, 8, 8, 13]", "[1, 1, 4]", "1 input column"),
        ("[N, 3, 13, 8, 8]", "[4, 1, 1]", "1 input slice"),
    ],
)
def test_a_window_leaving_input_unread_names_the_dimension(shape: str, kernel: str, unit: str) -> None:
    op = "MaxPool3d" if shape.count(",") == 4 else "MaxPool2d"
    text = f"netspec: 1\nname: t\ninputs:\n  x: {shape}\nnodes:\n  pool: {{op: {op}, kernel_size: {kernel}}}\n"
    (warning,) = netspec.validate(netspec.loads(text))
    assert warning.code == "NS210" and f"leaves the last {unit} unread" in warning.message


def test_a_one_dimensional_window_counts_frames() -> None:
    text = "netspec: 1\nname: t\ninputs:\n  x: [N, 1, 100]\nnodes:\n  pool: {op: MaxPool1d, kernel_size: 8}\n"
    (warning,) = netspec.validate(netspec.loads(text))
    assert "leaves the last 4 input frames unread" in warning.message


def test_a_misspelt_override_in_an_extends_child_is_one_did_you_mean(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(
        "netspec: 1\nname: base\ninputs:\n  x: [N, 16]\nnodes:\n  fc: {op: Linear, out_features: 4}\n"
    )
    child = tmp_path / "child.yaml"
    child.write_text("netspec: 1\nname: child\nextends: base.yaml\nnodes:\n  fx: {bias: false}\n")
    (found,) = _errors(child)
    assert found.code == "NS107" and (found.line, found.column) == (5, 3)
    assert "`fx` changes a node of `base.yaml`, which has no node `fx`" in found.message
    assert found.hint == "did you mean `fc`?"
    # a new node appended after the parent's last one is still reported
    child.write_text("netspec: 1\nname: child\nextends: base.yaml\nnodes:\n  head: {op: ReLU}\n")
    (found,) = _errors(child)
    assert "would become the model's output" in found.message


def test_did_you_mean_finds_a_short_name_one_letter_off() -> None:
    assert did_you_mean("fx", ["fc", "conv"]) == "did you mean `fc`?"
    assert did_you_mean("x", ["y"]) is None


def _edge_row(op: str) -> str:
    text = (Path(__file__).resolve().parents[1] / "docs" / "language.md").read_text()
    (row,) = [line for line in text.splitlines() if line.startswith(f"| `{op}` | 2 or more |")]
    return row


@pytest.mark.parametrize(("op", "sign"), [("add", "+"), ("mul", "*")])
def test_the_edge_op_table_says_how_add_and_mul_broadcast(op: str, sign: str) -> None:
    """The table's example shapes combine, and `add` refuses what only `mul` takes (another rank)."""
    row = _edge_row(op)
    ((left, right),) = re.findall(rf"`(\[[^\]]*\])` \{sign} `(\[[^\]]*\])`", row)

    def shape(text: str) -> list[Any]:
        return [int(d) if d.strip().isdigit() else d.strip() for d in text.strip("[]").split(",")]

    spec = {"name": "t", "inputs": {"a": shape(left), "b": shape(right)}, "nodes": {"s": {"op": op, "in": ["a", "b"]}}}
    assert netspec.infer_shapes(netspec.load(spec))["s"] is not None
    other = {
        "name": "t",
        "inputs": {"a": ["C", 1, 1], "b": ["N", "C", 4, 4]},
        "nodes": {"s": {"op": op, "in": ["a", "b"]}},
    }
    if op == "add":
        assert "one rank" in row
        with pytest.raises(SpecError, match="cannot add"):
            netspec.infer_shapes(netspec.load(other))
    else:
        assert "ranks may differ" in row
        assert len(netspec.infer_shapes(netspec.load(other))["s"]) == 4


def _only(text: str, **limits: int) -> Any:
    with pytest.raises(SpecError) as err:
        spec = netspec.loads(text, limits=netspec.Limits(**limits)) if limits else netspec.loads(text)
        netspec.validate(spec)
    (found,) = err.value.errors
    return found


HEAD = "netspec: 1\nname: t\ninputs: {x: [N, 8]}\nnodes:\n"


def test_bound_refusals_have_a_hint_that_fits() -> None:
    digits = _only(HEAD + f"  fc: {{op: Linear, out_features: {'9' * 31}}}\n")
    assert digits.code == "NS014" and "Limits(max_int_digits=...)" in (digits.hint or "")
    keys = _only(HEAD + "".join(f"  r{i}: ReLU\n" for i in range(40)), max_nodes=50)
    assert keys.code == "NS017" and "alias" not in (keys.hint or "") and "max_nodes" in (keys.hint or "")
    aliased = _only("netspec: 1\nname: t\nx: &a [1, 2, 3, 4, 5, 6, 7, 8]\ny: [*a, *a, *a, *a, *a, *a]\n", max_nodes=40)
    assert aliased.code == "NS017" and "alias" in (aliased.hint or "")
    nested = _only(HEAD + "  fc: {op: Linear, out_features: '${" + "(" * 60 + "1" + ")" * 60 + "}'}\n")
    assert nested.code == "NS131" and "split it" in (nested.hint or "")


def test_block_nesting_has_a_hint() -> None:
    from netspec._graph import MAX_BLOCK_DEPTH

    blocks = "".join(f"  b{i}: {{nodes: {{n: {{block: b{i + 1}}}}}}}\n" for i in range(MAX_BLOCK_DEPTH + 1))
    blocks += f"  b{MAX_BLOCK_DEPTH + 1}: {{nodes: {{n: ReLU}}}}\n"
    found = _only("netspec: 1\nname: t\ninputs: {x: [N, 8]}\nblocks:\n" + blocks + "nodes:\n  top: {block: b0}\n")
    assert found.code == "NS143" and "inline" in (found.hint or "")
