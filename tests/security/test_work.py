"""One work budget for a whole request: every phase charges it, and passing it is a located SpecError
that names the phase that grew."""

from __future__ import annotations

import pytest
from hostile import HEADER

import netspec
from netspec._work import request


def _init_rules(count: int, names: list[str], pattern: str) -> str:
    body = "".join(f"  {name}: {{op: Linear, out_features: 4}}\n" for name in names)
    rules = "".join(f"  - {{nodes: ['{pattern}'], weight: zeros}}\n" for _ in range(count))
    return HEADER.replace("[N, 3, 8, 8]", "[N, 4]") + "nodes:\n" + body + "init:\n" + rules


RULE_AND_NODE = 16  # a rule considered for a node


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
    per_rule = sum(RULE_AND_NODE + _steps_of_fc_star_x(name) for name in names)
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
    once = 3 * sum(
        RULE_AND_NODE + _steps_of_fc_star_x(n) for n in names
    )  # every node against every rule (none matches)
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
    assert budget.spent["summary"] == table.work >= 3 * 600  # nodes added, groups summed, rows made
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
