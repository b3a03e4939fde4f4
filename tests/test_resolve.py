"""The resolution pass: every op and block name of a spec resolved once, read by the later phases."""

from __future__ import annotations

from collections import Counter

import pytest

import netspec
from netspec import _ops
from netspec._graph import expand
from netspec._load import parse_text
from netspec._resolve import resolved
from netspec._spec import spec_from_document

# A spec with a required parameter (so loading runs the checks that need no values), ops used in
# several blocks, an op chosen by an expression, a disabled node, an unused block, a repeat's
# `combine` and an init rule naming ops.
SPEC = """
netspec: 1
name: names
params:
  width: {type: int}
  act: {type: str, default: ReLU}
inputs: {x: [N, 8]}
blocks:
  unit:
    nodes:
      fc: {op: Linear, out_features: $width}
      act: {op: $act}
      off: {op: Dropout, when: false}
  pair:
    nodes:
      a: {block: unit}
      b: {block: unit}
  unused:
    nodes:
      fc: {op: Linear, out_features: 2}
      norm: LayerNorm
nodes:
  body: {block: pair, repeat: 3}
  wide: {block: unit, repeat: {count: 2, layout: parallel, combine: add}}
  head: {op: Linear, out_features: 2}
init:
  - {ops: [Linear], bias: zeros}
"""


class _CountingTable(dict):  # type: ignore[type-arg]
    """The op table, counting how often each name is looked up."""

    def __init__(self, table: dict) -> None:  # type: ignore[type-arg]
        super().__init__(table)
        self.lookups: Counter[str] = Counter()

    def get(self, name, default=None):  # type: ignore[no-untyped-def]
        self.lookups[name] += 1
        return super().get(name, default)


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> _CountingTable:
    table = _CountingTable(_ops._table())
    monkeypatch.setattr(_ops, "_table", lambda: table)
    return table


def test_each_op_name_is_looked_up_once_per_spec(counted: _CountingTable) -> None:
    spec = netspec.loads(SPEC)  # the checks without values: every node, the disabled and unused ones too
    expand(spec, {"width": 4})
    expand(spec, {"width": 16, "act": "GELU"})  # another expansion of the same spec looks nothing up
    names = {"Linear", "ReLU", "GELU", "Dropout", "LayerNorm", "add"}
    assert set(counted.lookups) == names
    assert all(count == 1 for count in counted.lookups.values()), counted.lookups
    assert resolved(spec).lookups == len(names)


def test_a_spec_loaded_at_its_defaults_resolves_once(counted: _CountingTable) -> None:
    spec = netspec.loads(SPEC.replace("width: {type: int}", "width: {type: int, default: 8}"))
    netspec.build(spec, params={"width": 2})
    assert counted.lookups and all(count == 1 for count in counted.lookups.values()), counted.lookups


def test_the_resolution_is_by_node_path() -> None:
    spec = netspec.loads(SPEC)
    names = resolved(spec)
    assert names.ops[("nodes", "head")] is _ops.get_op("Linear")
    assert names.ops[("blocks", "unit", "nodes", "off")].name == "Dropout"
    assert ("blocks", "unit", "nodes", "act") not in names.ops  # chosen by an expression
    assert names.blocks[("nodes", "body")] is spec.blocks["pair"]
    assert names.blocks[("blocks", "pair", "nodes", "b")] is spec.blocks["unit"]
    assert not names.problems and not names.cycles
    assert resolved(spec) is names  # kept with the spec


def test_unknown_names_are_found_in_every_node_once() -> None:
    text = SPEC.replace("norm: LayerNorm", "norm: LayerNrom").replace("b: {block: unit}", "b: {block: uint}")
    with pytest.raises(netspec.SpecError) as caught:
        netspec.loads(text)
    found = [(d.code, d.path, d.message) for d in caught.value.errors]
    assert found == [
        ("NS142", "blocks.pair.nodes.b.block", "unknown block `uint`"),
        ("NS141", "blocks.unused.nodes.norm.op", "unknown op `LayerNrom`"),
    ]


def test_registering_an_op_makes_the_resolution_stale() -> None:
    text = SPEC.replace("head: {op: Linear, out_features: 2}", "head: {op: Halve}")
    spec = netspec.loads(text.replace("{op: Halve}", "{op: Linear, out_features: 2}"))
    first = resolved(spec)
    _ops.register_op("Halve", lambda x: x / 2, shape=lambda inputs, args, check: inputs[0])
    try:
        spec = netspec.loads(text)
        assert resolved(spec).ops[("nodes", "head")].name == "Halve"
        assert resolved(first.spec) is not first  # made again: the catalog changed since
    finally:
        _ops.unregister_op("Halve")


CYCLE = """
netspec: 1
name: cycle
params: {which: {type: str, default: outer}}
inputs: {x: [N, 8]}
blocks:
  outer:
    nodes:
      fc: {op: Linear, out_features: 8}
      again: {block: inner}
  inner:
    nodes:
      back: {block: BACK}
nodes:
  body: {block: $which}
"""


def test_a_cycle_of_names_is_found_by_the_pass_and_reported_once() -> None:
    with pytest.raises(netspec.SpecError) as caught:
        netspec.loads(CYCLE.replace("BACK", "outer"))
    found = [(d.code, d.path, d.message) for d in caught.value.errors]
    assert found == [("NS143", "blocks.inner.nodes.back.block", "recursive block: outer -> inner -> outer")]


def test_a_cycle_through_a_chosen_block_is_found_by_the_expansion() -> None:
    text = CYCLE.replace("BACK", "$which")
    with pytest.raises(netspec.SpecError) as caught:
        netspec.loads(text)
    found = [(d.code, d.path, d.message) for d in caught.value.errors]
    assert found == [("NS143", "blocks.inner.nodes.back.block", "recursive block: outer -> inner -> outer")]
    assert not resolved(spec_from_document(parse_text(text))).cycles  # the pass cannot know it


def test_every_cycle_is_reported_told_from_where_the_spec_enters_it() -> None:
    text = """
netspec: 1
name: cycles
inputs: {x: [N, 8]}
blocks:
  outer: {nodes: {a: {op: Linear, out_features: 8}, b: {block: inner}}}
  inner: {nodes: {c: {block: outer}}}
  p: {nodes: {d: {block: q}}}
  q: {nodes: {e: {block: p}}}
nodes:
  body: {block: inner}
"""
    with pytest.raises(netspec.SpecError) as caught:
        netspec.loads(text)
    found = [(d.code, d.path, d.message, d.line, d.column) for d in caught.value.errors]
    assert found == [
        ("NS143", "blocks.outer.nodes.b.block", "recursive block: inner -> outer -> inner", 6, 64),
        ("NS143", "blocks.q.nodes.e.block", "recursive block: p -> q -> p", 9, 26),  # in unused blocks
    ]
