"""One work budget for a whole request: every phase charges it, and passing it is a located SpecError
that names the phase that grew."""

from __future__ import annotations

from typing import Any

import pytest
from hostile import HEADER

import netspec
from netspec import Limits
from netspec._api import prepare
from netspec._dims import SizeVector
from netspec._graph import NODE_UNITS, RULE_UNITS
from netspec._shapes import (
    MAX_SIZE_SEARCH,
    NUMPY_SEARCH_FROM,
    SizeLattices,
    _constraint_symbols,
    first_impossible,
    lattice_units,
)
from netspec._work import (
    DRAWING_UNITS_PER_ITEM,
    EXPANSION_UNITS_PER_STEP,
    EXPORT_UNITS_PER_ITEM,
    INIT_STEPS_PER_UNIT,
    LATTICE_EVALUATIONS_PER_UNIT,
    LATTICE_SIZE_EVALUATIONS,
    PARSE_BYTES_PER_UNIT,
    PARSE_UNITS_PER_NODE,
    PARSE_UNITS_PER_VALUE,
    SHAPE_UNITS_PER_DIM,
    SUMMARY_UNITS_PER_STEP,
    per_unit,
    request,
)


def _init_rules(count: int, names: list[str], pattern: str) -> str:
    body = "".join(f"  {name}: {{op: Linear, out_features: 4}}\n" for name in names)
    rules = "".join(f"  - {{nodes: ['{pattern}'], weight: zeros}}\n" for _ in range(count))
    return HEADER.replace("[N, 3, 8, 8]", "[N, 4]") + "nodes:\n" + body + "init:\n" + rules


def _units_of_fc_star_x(name: str) -> int:
    """The units of matching `fc*x` against `name`: the rule and node and the matcher's steps, at
    `INIT_STEPS_PER_UNIT` steps a unit, rounded up for each rule and node."""
    return per_unit(RULE_UNITS + _steps_of_fc_star_x(name), INIT_STEPS_PER_UNIT)


def _steps_of_fc_star_x(name: str) -> int:
    """The matcher's units for `fc*x` (4 states: 16 units per character, one more per 32 states)
    against a name `fc...` without `x`: the wildcard keeps a state alive to the end, so every
    character is read."""
    return 16 * len(name)


def test_every_phase_charges_the_request() -> None:
    with request() as budget:
        spec = netspec.load("resnet18")
        netspec.validate(spec)
        netspec.to_dot(spec)
        netspec.summarize(spec)
        netspec.build(spec)
        netspec.export_python(spec)
        netspec.valid_sizes(spec)["H"]
    phases = {"parse", "expansion", "expressions", "init rules", "shape inference", "the size lattice"}
    assert phases | {"summary", "drawing", "export", "the input guard"} <= set(budget.spent)
    assert budget.total == sum(budget.spent.values())


def test_init_rules_are_charged_per_step_of_the_matcher() -> None:
    names = [f"fc{i}_" + "a" * (i % 90) for i in range(200)]  # long and short names
    text = _init_rules(200, names, "fc*x")  # no name matches: each rule is matched against every node
    with request() as budget:
        spec = netspec.loads(text)
    per_rule = sum(_units_of_fc_star_x(name) for name in names)
    assert budget.spent["init rules"] == 200 * per_rule
    assert len([w for w in spec.warnings if w.code == "NS163"]) == 200  # each rule matches no node
    before = budget.total - budget.spent["init rules"]
    limits = netspec.Limits(max_work=before + 149 * per_rule + per_rule // 2)
    with pytest.raises(netspec.SpecError) as caught:
        netspec.loads(text, limits=limits)
    (error,) = caught.value.errors
    assert error.code == "NS134" and "init rules grew past the budget" in error.message
    first_rule = text.splitlines().index("init:") + 2
    assert (error.line, error.column) == (first_rule + 149, 5)  # the 150th rule, being matched when it ran out


def test_init_rules_are_charged_when_a_model_is_built_and_exported() -> None:
    names = [f"fc{i}" for i in range(20)]
    spec = netspec.loads(_init_rules(3, names, "fc*x"))
    once = 3 * sum(_units_of_fc_star_x(n) for n in names)  # every node against every rule (none matches)
    with request() as budget:
        netspec.build(spec)
    assert budget.spent["init rules"] == once
    with request() as budget:
        netspec.export_python(spec)
    spent = budget.spent["init rules"]
    assert spent % once == 0 and spent >= once  # the init lines it writes (and a build, where it makes one)


def test_nested_calls_share_one_budget_and_calls_in_turn_do_not() -> None:
    spec = netspec.load("lenet5")
    with request() as budget:
        netspec.validate(spec)
    once = budget.total
    with request() as shared:
        netspec.validate(spec)
        netspec.validate(spec)
    assert shared.total == 2 * once
    with request():  # loaded inside a larger request: only the calls below run under the spec's limit
        spec = netspec.load(spec.path, limits=netspec.Limits(max_work=once + 1))
    netspec.validate(spec)  # each call is a request of its own
    netspec.validate(spec)


def test_the_text_is_charged_before_it_is_parsed() -> None:
    with pytest.raises(netspec.SpecError) as caught:
        netspec.loads(HEADER + "nodes:\n  a: ReLU\n" + "# padding\n" * 100, limits=netspec.Limits(max_work=10))
    assert caught.value.errors[0].code == "NS134" and "parse grew" in caught.value.errors[0].message
    assert caught.value.errors[0].line == 1


def test_a_summary_past_the_budget_is_refused_at_the_row_that_grew() -> None:
    block = "blocks:\n  b:\n    nodes:\n      c: {op: Conv2d, out_channels: 4, kernel_size: 1}\n      r: ReLU\n"
    text = HEADER + block + "nodes:\n  rep: {block: b, repeat: 300}\n  z: ReLU\n"
    spec = netspec.loads(text)
    with request() as budget:
        table = netspec.summarize(spec)
    # nodes added, groups summed, rows made
    assert budget.spent["summary"] == SUMMARY_UNITS_PER_STEP * table.work >= SUMMARY_UNITS_PER_STEP * 3 * 600
    with request():  # loaded inside a larger request: the summary alone runs under the spec's limit
        spec = netspec.loads(text, limits=netspec.Limits(max_work=budget.total - budget.spent["summary"] // 2))
    with pytest.raises(netspec.SpecError) as caught:
        netspec.summarize(spec)
    (error,) = caught.value.errors
    assert error.code == "NS134" and "summary grew past the budget" in error.message
    lines = text.splitlines()
    # Half-way through the table: a row of a node of block `b` (or its instance, `rep`), located.
    assert (error.line, error.column) in {
        (lines.index("      c: {op: Conv2d, out_channels: 4, kernel_size: 1}") + 1, 10),
        (lines.index("      r: ReLU") + 1, 10),
        (lines.index("  rep: {block: b, repeat: 300}") + 1, 8),
    }, (error.line, error.column, error.path)


# -- what the default budget leaves to legitimate specs ---------------------------------------------


def _spent_by_each_call(spec: netspec.Spec, calls: dict[str, Any]) -> dict[str, int]:
    spent = {}
    for name, call in calls.items():
        with request() as budget:
            call(spec)
        spent[name] = budget.total
    return spent


_CALLS: dict[str, Any] = {
    "validate": netspec.validate,
    "count_params": netspec.count_params,
    "summarize": netspec.summarize,
    "to_mermaid": netspec.to_mermaid,
    "to_dot": netspec.to_dot,
    "export_python": netspec.export_python,
    "valid_sizes": lambda spec: [lattice.exact for lattice in netspec.valid_sizes(spec).values()],
}


@pytest.mark.parametrize("name", netspec.list_specs())
def test_every_bundled_spec_spends_a_small_share_of_the_default_budget(name: str) -> None:
    with request() as budget:
        spec = netspec.load(name)
    spent = {"load": budget.total, **_spent_by_each_call(spec, _CALLS)}
    if name in ("lenet5", "resnet18", "vit_b_16", "unet3d"):  # build makes modules: a few, to keep this fast
        spent.update(_spent_by_each_call(spec, {"build": netspec.build}))
    worst = max(spent, key=lambda call: spent[call])
    assert spent[worst] < Limits().max_work // 10, (worst, spent)


def test_a_10000_node_spec_spends_under_half_the_default_budget_in_any_call() -> None:
    text = HEADER.replace("[N, 3, 8, 8]", "[N, 4]") + "nodes:\n" + "".join(f"  r{i}: ReLU\n" for i in range(10_000))
    with request() as budget:
        spec = netspec.loads(text)
    spent = {"loads": budget.total, **_spent_by_each_call(spec, {**_CALLS, "build": netspec.build})}
    worst = max(spent, key=lambda call: spent[call])
    assert spent[worst] < Limits().max_work // 2, (worst, spent)


def test_a_long_1d_input_searches_its_lattice_within_the_default_budget() -> None:
    # 12 strided convolutions with `dims: {L: 1000000}`: every size up to 2**20 searched, with numpy.
    body = "".join(f"  c{i}: {{op: Conv1d, out_channels: 4, kernel_size: 3, stride: 2}}\n" for i in range(12))
    spec = netspec.loads("netspec: 1\nname: t\ninputs: {x: [N, 4, L]}\ndims: {L: 1000000}\nnodes:\n" + body)
    with request() as budget:
        netspec.validate(spec)
    lattices = SizeLattices(prepare(spec, None, None))
    sizes = lattices._upto("L")
    assert sizes == MAX_SIZE_SEARCH >= NUMPY_SEARCH_FROM
    expected = per_unit(
        sizes * (len(lattices._unique["L"]) + LATTICE_SIZE_EVALUATIONS), LATTICE_EVALUATIONS_PER_UNIT
    )  # numpy's rate: one evaluation a condition and size
    assert budget.spent["the size lattice"] == expected < Limits().max_work // 2


def test_each_phase_charges_its_rate() -> None:
    text = (
        HEADER + "nodes:\n" + "".join(f"  n{i}: {{op: Conv2d, out_channels: 3, kernel_size: 1}}\n" for i in range(30))
    )
    with request() as budget:
        spec = netspec.loads(text)
    # Every key and value, mappings and lists too: the document, `netspec` and `name` (key and value),
    # `inputs` (key, mapping, `x`, its list and 4 dimensions), `nodes` (key, mapping), and per node
    # its name, its mapping and 3 arguments (key and value).
    values = 1 + 2 * 2 + 8 + 2 + 30 * (2 + 3 * 2)
    read = per_unit(len(text), PARSE_BYTES_PER_UNIT) + PARSE_UNITS_PER_VALUE * values
    assert budget.spent["parse"] == read + PARSE_UNITS_PER_NODE * 30  # and the 30 nodes written out
    steps = 30 * (NODE_UNITS + 4 * 2)  # a node instance and its 2 arguments (4 steps each), no names in scope
    assert budget.spent["expansion"] == EXPANSION_UNITS_PER_STEP * steps
    info = prepare(spec, None, None)
    items = sum(1 + len(node.inputs) for node in info.graph.nodes)
    dims = sum(1 + sum(len(info.shape(i)) for i in node.inputs) for node in info.graph.order)
    for call, phase, rate in (
        (netspec.infer_shapes, "shape inference", SHAPE_UNITS_PER_DIM * dims),
        (netspec.to_mermaid, "drawing", DRAWING_UNITS_PER_ITEM["mermaid"] * items),
        (netspec.to_dot, "drawing", DRAWING_UNITS_PER_ITEM["dot"] * items),
        (netspec.export_python, "export", EXPORT_UNITS_PER_ITEM * items),
    ):
        with request() as budget:
            call(spec)
        assert budget.spent[phase] == rate, (call, phase)


def test_the_search_for_the_layer_that_rules_every_size_out_is_charged() -> None:
    text = (
        "netspec: 1\nname: t\ninputs: {x: [N, 4, H, W]}\nnodes:\n"
        "  a: {op: Conv2d, out_channels: 4, kernel_size: 3, stride: 2}\n  b: {op: add, in: [a, x]}\n"
    )
    spec = netspec.loads(text)
    with pytest.raises(netspec.SpecError) as caught:
        netspec.validate(spec)
    assert {d.code for d in caught.value.errors} == {"NS202"}  # no size of H (nor W) runs
    info = prepare(spec, None, None)
    searched = [c for _, c in info.constraints if c.severity == "error" and "H" in _constraint_symbols(c)]
    with request() as budget:
        node, culprit = first_impossible(info, "H", 2048) or (None, None)
    assert node is not None and node.name == "b"
    # The conditions on H, one by one, up to the one after which no size runs: each over 2,048 sizes.
    evaluated = next(i for i, c in enumerate(searched) if c is culprit) + 1
    assert budget.spent["the size lattice"] == evaluated * lattice_units(1, SizeVector(range(2048))) > 0
