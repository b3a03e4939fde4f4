"""Doubling a generated spec at most a little more than doubles the work each phase counts."""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hostile import HEADER
from work import calls, growth

import netspec
from netspec import Limits, SpecError
from netspec._api import prepare
from netspec._errors import SourceMap, did_you_mean, hint_budget
from netspec._expr import _compile_long
from netspec._extends import _check_child_nodes, _check_removed, merge_data
from netspec._graph import RULE_UNITS, expand, init_steps, name_pattern
from netspec._load import parse_text
from netspec._shapes import SizeLattices, _period, infer
from netspec._work import (
    EXTENDS_UNITS_PER_NODE,
    INIT_STEPS_PER_UNIT,
    PARSE_UNITS_PER_NODE,
    SUMMARY_UNITS_PER_STEP,
    per_unit,
    request,
)


def _ratio(small: int, large: int) -> float:
    return large / max(small, 1)


def _work(text: str) -> int:
    return expand(netspec.loads(text)).work


def test_resolving_a_chain_of_disabled_nodes_is_linear() -> None:
    def spec(n: int) -> str:
        body = "".join(f"  d{i}: {{op: ReLU, when: false}}\n  r{i}: {{op: ReLU, in: d{i}}}\n" for i in range(n))
        return HEADER + "nodes:\n  a: ReLU\n" + body

    assert _ratio(_work(spec(500)), _work(spec(1000))) <= 2.2


def test_resolving_repeated_block_instances_is_linear() -> None:
    def spec(n: int) -> str:
        block = "blocks:\n  b:\n    nodes:\n      off: {op: ReLU, when: false}\n      on: ReLU\n"
        return HEADER + block + f"nodes:\n  a: ReLU\n  rep: {{block: b, repeat: {n}}}\n  z: ReLU\n"

    assert _ratio(_work(spec(500)), _work(spec(1000))) <= 2.2


def test_did_you_mean_hints_share_a_bounded_budget() -> None:
    def spent(n: int) -> int:
        choices = [f"node{i}" for i in range(n)]
        with hint_budget(10**9) as left:
            for i in range(n):
                did_you_mean(f"nope{i}", choices, listing=12)
        return 10**9 - left[0]

    # Each hint reads its choices once and compares at most MAX_HINT_CANDIDATES of them: n hints
    # over n choices grow as n * min(n, cap); with the default budget the total stays bounded.
    assert _ratio(spent(200), spent(400)) <= 4.5
    with hint_budget() as left:
        for i in range(600):
            did_you_mean(f"nope{i}", [f"node{j}" for j in range(100)])
        assert left[0] <= 0  # spent: later hints give up at once


def test_the_period_search_is_linear_and_exact() -> None:
    rng = random.Random(3)
    for _ in range(300):
        limit = rng.randint(2, 60)
        sizes = sorted(rng.sample(range(1, limit + 1), rng.randint(0, limit)))
        expected = None
        if len(sizes) >= 2:
            present, first = set(sizes), sizes[0]
            expected = next(
                (
                    p
                    for p in range(1, (limit - first) // 2 + 1)
                    if all((n in present) == (n + p in present) for n in range(first, limit - p + 1))
                ),
                None,
            )
        assert _period(sizes, limit) == expected
    assert _period(list(range(5, 1 << 16, 16)), 1 << 16) == 16  # 65,536 sizes, one pass


# -- one complexity test per phase: doubling a generated spec at most a little more than doubles the
# calls it makes (`tests/work.py` counts every Python and builtin call: an operation count, no clock)


def _chain(n: int, node: str = "{{op: Conv2d, out_channels: 4, kernel_size: 1}}", extra: str = "") -> str:
    body = "".join(f"  n{i}: {node.format(i=i)}\n" for i in range(n))
    return HEADER + "nodes:\n" + body + extra


def _linear(make: Callable[[int], Callable[[], Any]], small: int = 150, bound: float = 2.3) -> None:
    ratio = growth(make, small, 2 * small)
    assert ratio <= bound, f"doubling the spec multiplied the work by {ratio:.2f}"


def test_load_is_linear() -> None:
    _linear(lambda n: functools.partial(parse_text, _chain(n)))


def test_expansion_is_linear() -> None:
    _linear(lambda n: functools.partial(expand, netspec.loads(_chain(n))))


def test_long_expressions_are_parsed_once_per_text() -> None:
    long = "${" + " + ".join(["width"] * 60) + "}"  # over 256 characters: the long-text cache
    header = HEADER.replace("nodes:", "") + "params: {width: 1}\n"

    def spec(n: int) -> str:
        return header + f'nodes:\n  l: {{op: Conv2d, out_channels: "{long}", kernel_size: 1, repeat: {n}}}\n'

    _linear(lambda n: functools.partial(expand, netspec.loads(spec(n))))
    before = _compile_long.cache_info().misses
    expand(netspec.loads(spec(300)))
    assert _compile_long.cache_info().misses - before <= 1  # one parse for 300 instances


def test_references_and_hints_are_linear() -> None:
    def spec(n: int) -> str:
        return _chain(n, "{{op: ReLU, in: nope{i}}}")

    _linear(lambda n: lambda: netspec.loads(spec(n)))


def _channels_repeat(n: int, through_block: bool = False) -> str:
    """A repeat whose every instance reads its input's width with `channels()`: each instance's input
    is the previous instance, so a step that walked (or printed) the instances before it recursed."""
    header = HEADER.replace("[N, 3, 8, 8]", "[N, 4]")
    if through_block:
        block = "blocks:\n  b:\n    params: {out: int}\n    nodes:\n      l: {op: Linear, out_features: $out}\n"
        return header + block + f'nodes:\n  a: {{block: b, repeat: {n}, out: "${{channels()}}"}}\n'
    return header + f'nodes:\n  fc: {{op: Linear, repeat: {n}, out_features: "${{channels()}}"}}\n'


def test_channels_in_a_long_repeat_loads_in_linear_work() -> None:
    for through_block in (False, True):
        spec = netspec.loads(_channels_repeat(5000, through_block))  # was a RecursionError from 100-200
        assert netspec.count_params(spec) == 5000 * (4 * 4 + 4)  # `channels()` is 4 for every instance
        _linear(lambda n, b=through_block: lambda: netspec.loads(_channels_repeat(n, b)))


def _removing_child(folder: Path, n: int) -> Path:
    """A child that removes all but the last of its parent's `n` nodes and places a node among them."""
    parent = folder / f"parent{n}.yaml"
    parent.write_text(HEADER + "nodes:\n" + "".join(f"  p{k}: ReLU\n" for k in range(n)))
    child = folder / f"child{n}.yaml"
    removed = ", ".join(f"p{k}" for k in range(n - 1))
    child.write_text(
        f"extends: {parent.name}\nname: c\nremove: [{removed}]\nnodes:\n  a: {{op: ReLU, before: p{n - 1}}}\n"
    )
    return child


def test_extends_with_remove_is_linear_and_charged(tmp_path: Path) -> None:
    _linear(lambda n: functools.partial(netspec.load, _removing_child(tmp_path, n)), small=1000)
    with request() as budget:
        spec = netspec.load(_removing_child(tmp_path, 500))
    assert list(spec.nodes) == ["a", "p499"]
    merged = 500 + 499 + 1  # the parent's nodes, `remove`, the child's nodes
    assert budget.spent["extends"] == EXTENDS_UNITS_PER_NODE * merged
    read = budget.spent["parse"] - PARSE_UNITS_PER_NODE * len(spec.nodes)  # the texts, before the merged nodes
    short = read + EXTENDS_UNITS_PER_NODE * merged - 1
    with pytest.raises(SpecError) as info:
        netspec.load(_removing_child(tmp_path, 500), limits=Limits(max_work=short))
    (error,) = info.value.diagnostics
    assert (error.code, error.line, error.column, error.path) == ("NS134", 1, 10, "extends")
    assert "extends grew past the budget" in error.message


class _Name(str):
    """A node name whose comparisons and hashes are Python calls, so that `tests/work.py` counts them:
    a name looked up in a list costs a comparison per entry, in a set about one."""

    def __eq__(self, other: object) -> bool:
        return str.__eq__(self, other)

    def __hash__(self) -> int:
        return str.__hash__(self)


def test_the_extends_merge_looks_each_name_up_once() -> None:
    def merge(n: int) -> Callable[[], Any]:
        names = [_Name(f"p{k}") for k in range(n)]
        parent = {"nodes": dict.fromkeys(names, "ReLU")}
        child = {"remove": names[:-1], "nodes": {_Name("a"): {"op": "ReLU", "before": names[-1]}}}

        def run() -> None:
            _check_removed(child["remove"], parent["nodes"], "parent", SourceMap())
            _check_child_nodes(child, parent, "parent", SourceMap())
            assert list(merge_data(parent, child)["nodes"]) == ["a", names[-1]]

        return run

    _linear(merge, small=400)


def test_init_rules_naming_their_nodes_are_linear() -> None:
    def spec(n: int) -> str:
        rules = "".join(f"  - {{nodes: [n{i}], weight: zeros}}\n" for i in range(n))
        return _chain(n, extra="init:\n" + rules + "  - {ops: [Conv2d], bias: zeros}\n")

    _linear(lambda n: functools.partial(expand, netspec.loads(spec(n))))
    info = prepare(netspec.loads(spec(300)), None, None)
    _linear(lambda n: functools.partial(_init_all, prepare(netspec.loads(spec(n)), None, None).graph))
    assert info.graph.init and not [w for w in info.graph.warnings if w.code == "NS163"]


def test_wildcard_init_rules_cost_steps_linear_in_pattern_and_name() -> None:
    def charged(length: int) -> int:
        names = [f"n{i}" + "a" * length for i in range(40)]
        rule = "*a" * (length // 2) + "*x"  # matches none: every node is matched to its end
        text = HEADER.replace("[N, 3, 8, 8]", "[N, 4]") + "nodes:\n"
        text += "".join(f"  {name}: {{op: Linear, out_features: 4}}\n" for name in names)
        text += f"init:\n  - {{nodes: ['{rule}'], weight: zeros}}\n"
        with request() as budget:
            netspec.loads(text)
        return budget.spent["init rules"]

    assert _ratio(charged(60), charged(120)) <= 2.2  # pattern and names twice as long


def _long_literal_rule(count: int, rule: str = "${'*' + 'a' * 250 + 'b'}") -> str:
    """Node names of 201 to 203 characters and a rule that is one wildcard and a 251-character literal:
    a matcher that kept a state per literal character took 250 steps per character of every name."""
    header = HEADER.replace("[N, 3, 8, 8]", "[N, 4]")
    return (
        header
        + f'nodes:\n  "${{\'a\' * 200}}${{i}}": {{op: ReLU, repeat: {count}}}\ninit:\n  - {{nodes: ["{rule}"], weight: ones}}\n'
    )


def test_a_wildcard_and_a_long_literal_cost_a_few_calls_per_character() -> None:
    text = _long_literal_rule(300)
    with request() as budget:
        spec = netspec.loads(text)  # no node matches: each name is read to its end
    names = [f"{'a' * 200}{i}" for i in range(300)]
    characters = sum(map(len, names))
    per_character = 16 + 252 // 32  # the pattern's 252 states
    steps = [RULE_UNITS + len(name) * per_character for name in names]
    assert budget.spent["init rules"] == sum(per_unit(s, INIT_STEPS_PER_UNIT) for s in steps)
    assert [w.code for w in spec.warnings] == ["NS163"]
    netspec.loads(text)  # the pattern compiled (and its masks made) before counting
    without_rule = calls(lambda: netspec.loads(_long_literal_rule(300, "none")))[0]
    assert calls(lambda: netspec.loads(text))[0] - without_rule <= 3 * characters
    # At the work limit: refused at the rule, after matching no more than the limit allows.
    with pytest.raises(SpecError) as info:
        netspec.loads(text, limits=Limits(max_work=budget.total - budget.spent["init rules"] // 2))
    (error,) = info.value.diagnostics
    assert (error.code, error.line, error.column) == ("NS134", 7, 5)
    assert "init rules grew past the budget" in error.message


def _init_all(graph: Any) -> None:
    name_pattern.cache_clear()  # each count compiles the patterns it matches (the cache outlives a spec)
    for node in graph.nodes:
        init_steps(node, graph.init)


def test_shape_inference_is_linear() -> None:
    _linear(lambda n: functools.partial(infer, expand(netspec.loads(_chain(n)))))


def test_the_size_lattice_is_linear_and_merges_a_chain_of_unpadded_convolutions() -> None:
    header = "netspec: 1\nname: t\ninputs: {x: [N, 1, L]}\nnodes:\n"

    def lattice(n: int) -> Callable[[], Any]:
        spec = netspec.loads(header + f"  c: {{op: Conv1d, out_channels: 1, kernel_size: 3, repeat: {n}}}\n")
        return lambda: netspec.valid_sizes(spec)["L"]

    _linear(lattice, small=200)
    info = prepare(
        netspec.loads(header + "  c: {op: Conv1d, out_channels: 1, kernel_size: 3, repeat: 500}\n"), None, None
    )
    lattices = SizeLattices(info)
    assert lattices["L"].runs[0] == 1001 and lattices.evaluations == 1  # one condition, not 500


def test_summary_is_linear() -> None:
    _linear(lambda n: functools.partial(netspec.summarize, netspec.loads(_chain(n))))

    def charged(n: int) -> int:
        spec = netspec.loads(_repeated_blocks(n))
        with request() as budget:
            table = netspec.summarize(spec)
        assert budget.spent["summary"] == SUMMARY_UNITS_PER_STEP * table.work > 0  # every step of the table is charged
        return budget.spent["summary"]

    assert _ratio(charged(150), charged(300)) <= 2.1


def _repeated_blocks(n: int) -> str:
    block = "blocks:\n  b:\n    nodes:\n      c: {op: Conv2d, out_channels: 4, kernel_size: 1}\n      r: ReLU\n"
    return HEADER + block + f"nodes:\n  rep: {{block: b, repeat: {n}}}\n  z: ReLU\n"


def test_drawing_is_linear() -> None:
    _linear(lambda n: functools.partial(netspec.to_dot, netspec.loads(_chain(n))))
    _linear(lambda n: functools.partial(netspec.to_mermaid, netspec.loads(_chain(n))))


def test_export_is_linear() -> None:
    netspec.export_python("lenet5")  # imports done before counting
    _linear(lambda n: functools.partial(netspec.export_python, netspec.loads(_chain(n))), small=60)


def test_build_is_linear_and_export_costs_less_per_node_than_build() -> None:
    """Each more node costs `export_python` fewer calls than `build`: the code comes from the fx
    graph alone (export once made every module, generated the code twice and tokenized all of it,
    about 1,560 calls a node against build's 690; now about 480)."""
    netspec.build("lenet5")  # imports done before counting
    netspec.export_python("lenet5")

    def per_node(entry: Callable[[Any], object]) -> float:
        small, large = (calls(functools.partial(entry, netspec.loads(_chain(n))))[0] for n in (150, 300))
        return (large - small) / 150

    _linear(lambda n: functools.partial(netspec.build, netspec.loads(_chain(n))))
    assert per_node(netspec.export_python) <= 0.8 * per_node(netspec.build)


def test_build_and_export_are_linear_in_the_number_of_inputs() -> None:
    """The input guard's rules (what each input must hold, the embeddings its values reach) come
    from one pass over the graph, not one per input."""
    netspec.build("lenet5")  # imports done before counting
    netspec.export_python("lenet5")

    def spec(n: int) -> str:
        inputs = "".join(f"  x{i}: [N, 4]\n" for i in range(n))
        nodes = "".join(f"  r{i}: {{op: ReLU, in: x{i}}}\n" for i in range(n))
        joined = ", ".join(f"r{i}" for i in range(n))
        return f"netspec: 1\nname: t\ninputs:\n{inputs}nodes:\n{nodes}  out: {{op: concat, in: [{joined}], dim: 1}}\n"

    _linear(lambda n: functools.partial(netspec.build, netspec.loads(spec(n))))
    _linear(lambda n: functools.partial(netspec.export_python, netspec.loads(spec(n))))
