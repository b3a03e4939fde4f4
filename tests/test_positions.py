"""Positions in a list of nodes: diagnostics point at the entry their path names, `in:` numbers name
entries as written (warned where the modules are numbered otherwise), port numbers are canonical."""

from __future__ import annotations

import pytest

import netspec

DROPPED = """\
netspec: 1
name: t
inputs: {x: [N, 8]}
nodes:
  - {op: Linear, out_features: 8}
  - {op: Linear, out_features: 5, when: false, slot: drop}
  - {op: Linear, out_features: 4}
  - {op: Linear, in: "1", out_features: 2}
"""


def _diagnostics(text: str) -> list[netspec.Diagnostic]:
    try:
        return list(netspec.validate(netspec.loads(text)))
    except netspec.SpecError as err:
        return list(err.diagnostics)


def test_a_diagnostic_on_a_list_entry_points_at_that_entry() -> None:
    found = {d.code: d for d in _diagnostics(DROPPED)}
    unused = found["NS162"]
    assert unused.path == "nodes.2" and (unused.line, unused.column) == (7, 5)
    ambiguous = found["NS164"]
    assert ambiguous.severity == "warning" and (ambiguous.line, ambiguous.column) == (8, 22)
    assert "names entry 1 of the list (`nodes.1`, disabled by `when`), not module `1`" in ambiguous.message


def test_a_number_in_in_names_the_entry_as_written() -> None:
    text = DROPPED.replace('in: "1"', 'in: "2"')
    diagnostics = _diagnostics(text)
    (warning,) = diagnostics  # the reference resolves (no NS162): entry 2, module `1`
    assert warning.code == "NS164" and "entry 2 of the list (`nodes.2`, module `1`)" in warning.message


def test_without_drops_numbers_are_not_ambiguous() -> None:
    assert _diagnostics(DROPPED.replace("slot: drop", "slot: keep").replace('in: "1"', 'in: "2"')) == []


@pytest.mark.parametrize(("port", "hint"), [("\u0661", "halves:1"), ("01", "halves:1"), ("²", "the port's name")])
def test_port_numbers_are_canonical(port: str, hint: str) -> None:
    text = (
        "netspec: 1\nname: t\ninputs: {x: [N, 8]}\nnodes:\n  halves: {op: chunk, chunks: 2, dim: 1}\n"
        f'  a: {{op: add, in: ["halves:0", "halves:{port}"]}}\n'
    )
    (found,) = [d for d in _diagnostics(text) if d.severity == "error"]
    assert found.code == "NS156" and "ASCII digits without leading zeros" in found.message
    assert hint in (found.hint or "") and (found.line, found.column) == (6, 33)


def test_a_repeat_instance_index_is_canonical() -> None:
    text = (
        "netspec: 1\nname: t\ninputs: {x: [N, 8]}\nnodes:\n  layer: {op: Linear, out_features: 8, repeat: 2}\n"
        '  out: {op: ReLU, in: "layer.01"}\n'
    )
    (found,) = [d for d in _diagnostics(text) if d.severity == "error"]
    assert found.code == "NS152" and "no instance `01`" in found.message
