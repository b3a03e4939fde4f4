"""One `netspec.Limits` for every bound of a request: nodes after expansion, work units, parameter and
buffer elements; a spec loaded with limits carries them into every later phase."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from hostile import HEADER, located_error, spec_with_nodes
from hypothesis import given, settings
from hypothesis import strategies as st

import netspec
from netspec import Limits
from netspec._graph import expand
from netspec._shapes import MAX_SIZE_SEARCH, lattice_units
from netspec._work import request, request_limits

DOCS = Path(__file__).resolve().parents[2] / "docs"
LENET = Path(__file__).resolve().parents[2] / "specs" / "lenet5.yaml"


def _where(err: netspec.SpecError) -> tuple[str, int | None, int | None]:
    first = err.errors[0]
    return first.code or "", first.line, first.column


def _repeat(count: int) -> str:
    return spec_with_nodes(f"  a: {{op: ReLU, repeat: {count}}}\n")


def _chain(count: int) -> str:
    return spec_with_nodes("".join(f"  n{i}: ReLU\n" for i in range(count)))


# -- the value itself ------------------------------------------------------------------------------


def test_the_defaults() -> None:
    limits = Limits()
    assert (limits.max_graph_nodes, limits.max_work, limits.max_params) == (10_000, 4_000_000, 2**31)
    assert netspec.loads(_chain(2)).limits == limits
    with pytest.raises(dataclasses.FrozenInstanceError):
        limits.max_work = 5  # type: ignore[misc]


@pytest.mark.parametrize("field", [f.name for f in dataclasses.fields(Limits)])
@pytest.mark.parametrize(("value", "error"), [(0, ValueError), (-3, ValueError), (2.5, TypeError), (True, TypeError)])
def test_every_field_is_a_positive_int(field: str, value: object, error: type[Exception]) -> None:
    with pytest.raises(error, match=f"Limits.{field} must be"):
        Limits(**{field: value})  # type: ignore[arg-type]


# -- nodes after expansion -------------------------------------------------------------------------


def test_the_default_node_limit_refuses_a_repeat_at_its_line_and_column() -> None:
    assert len(netspec.loads(_repeat(10_000), limits=Limits()).expanded.nodes) == 10_000
    err = located_error(lambda: netspec.loads(_repeat(10_001)))
    assert _where(err) == ("NS134", 5, 25)
    assert "more than 10,000 nodes" in err.errors[0].message
    assert "netspec.Limits(max_graph_nodes=...)" in (err.errors[0].hint or "")


def test_a_custom_node_limit_refuses_repeats_and_plain_nodes() -> None:
    limits = Limits(max_graph_nodes=50)
    assert len(netspec.loads(_repeat(50), limits=limits).expanded.nodes) == 50
    assert _where(located_error(lambda: netspec.loads(_repeat(51), limits=limits))) == ("NS134", 5, 25)
    err = located_error(lambda: netspec.loads(_chain(51), limits=limits))
    assert _where(err) == ("NS134", 55, 8)  # the 51st node
    assert "more than 50 nodes" in err.errors[0].message
    assert len(netspec.loads(_repeat(20_000), limits=Limits(max_graph_nodes=20_000)).expanded.nodes) == 20_000


@settings(max_examples=40, deadline=None)
@given(
    repeat=st.integers(1, 60),
    block=st.integers(1, 4),
    plain=st.integers(0, 5),
    limit=st.integers(1, 250),
)
def test_a_spec_is_refused_exactly_when_its_expanded_nodes_pass_the_limit(
    repeat: int, block: int, plain: int, limit: int
) -> None:
    body = "".join(f"      n{i}: ReLU\n" for i in range(block))
    text = (
        HEADER
        + f"blocks:\n  b:\n    nodes:\n{body}"
        + "nodes:\n"
        + "".join(f"  p{i}: ReLU\n" for i in range(plain))
        + f"  r: {{block: b, repeat: {repeat}}}\n"
    )
    nodes = plain + repeat * block
    if nodes <= limit:
        assert len(netspec.loads(text, limits=Limits(max_graph_nodes=limit)).expanded.nodes) == nodes
    else:
        err = located_error(lambda: netspec.loads(text, limits=Limits(max_graph_nodes=limit)))
        assert err.errors[0].code == "NS134" and f"more than {limit:,} nodes" in err.errors[0].message


def test_an_explicit_node_limit_of_expand_still_wins() -> None:
    spec = netspec.loads(_repeat(60), limits=Limits(max_graph_nodes=100))
    assert _where(located_error(lambda: expand(spec, max_nodes=10))) == ("NS134", 5, 25)


def test_the_node_limit_covers_the_merged_extends_chain(tmp_path: Path) -> None:
    (tmp_path / "parent.yaml").write_text(_repeat(6_000))
    child = "netspec: 1\nextends: parent.yaml\nname: child\nnodes:\n  b: {op: ReLU, repeat: 6000}\noutputs: b\n"
    (tmp_path / "child.yaml").write_text(child)
    (tmp_path / "small.yaml").write_text(child.replace("6000", "30"))
    assert len(netspec.load(tmp_path / "parent.yaml").expanded.nodes) == 6_000  # each file alone fits
    err = located_error(lambda: netspec.load(tmp_path / "child.yaml"))
    assert _where(err) == ("NS134", 5, 25) and Path(err.errors[0].file or "").name == "child.yaml"
    limits = Limits(max_graph_nodes=6_020)
    err = located_error(lambda: netspec.load(tmp_path / "small.yaml", limits=limits))
    assert _where(err) == ("NS134", 5, 25)
    assert netspec.load(tmp_path / "small.yaml", limits=Limits(max_graph_nodes=6_030)).limits.max_graph_nodes == 6_030


# -- the spec's limits reach every later phase -----------------------------------------------------


def test_a_spec_keeps_its_limits_through_derived_specs_and_parameters() -> None:
    text = HEADER + "params: {n: 10}\nnodes:\n  a: {op: ReLU, repeat: $n}\n"
    limits = Limits(max_graph_nodes=40, max_work=1_000_000)
    spec = netspec.loads(text, limits=limits)
    assert spec.limits is limits and spec.expanded.limits is limits  # `with_expansion` kept them
    assert netspec.count_params(spec, params={"n": 40}) == 0
    err = located_error(lambda: netspec.build(spec, params={"n": 41}))
    assert _where(err) == ("NS134", 6, 25)
    err = located_error(lambda: netspec.validate(spec, params={"n": 41}))
    assert "more than 40 nodes" in err.errors[0].message
    library = netspec.loads(text.replace("{n: 10}", "{n: int}"), limits=limits)  # not expanded at load
    assert library.limits is limits
    assert _where(located_error(lambda: netspec.summarize(library, params={"n": 41}))) == ("NS134", 6, 25)


def test_a_spec_s_work_limit_bounds_each_later_call() -> None:
    text = LENET.read_text()
    loaded = netspec.loads(text)
    with request() as budget:
        netspec.validate(loaded)
    with request():  # loaded inside a larger request: the calls below run under the spec's own limit
        spec = netspec.loads(text, limits=Limits(max_work=budget.total // 2))
    for call in (netspec.validate, netspec.count_params, netspec.to_dot, netspec.build, netspec.export_python):
        err = located_error(lambda call=call: call(spec))
        assert err.errors[0].code == "NS134" and "netspec.Limits(max_work=...)" in (err.errors[0].hint or "")
    assert netspec.validate(LENET) == []  # a path runs under the defaults


def test_the_limits_a_call_runs_under() -> None:
    mine, other = Limits(max_work=123), Limits(max_work=456)
    with request():
        spec = netspec.loads(_chain(3), limits=mine)
    assert request_limits((spec,), {}) is mine and request_limits((), {"source": spec}) is mine
    assert request_limits((spec.expanded,), {}) is mine  # a graph carries its spec's
    assert request_limits((spec,), {"limits": other}) is other  # an explicit `limits=` wins
    assert request_limits(("lenet5",), {}) is None and request_limits((LENET,), {}) is None
    assert request_limits(({"limits": other},), {}) is None  # a mapping is spec data, not a carrier
    assert request_limits((), {}) is None


def test_loading_a_spec_again_under_other_limits_checks_it_under_them(tmp_path: Path) -> None:
    spec = netspec.load(LENET)
    assert netspec.load(spec) is spec and netspec.load(spec, limits=Limits()) is spec  # its own limits
    roomy = Limits(max_work=10**9)
    again = netspec.load(spec, limits=roomy)
    assert again.limits is roomy and again == spec and again.path == spec.path and spec.limits == Limits()
    assert again.expanded is not None and [w.code for w in again.warnings] == [w.code for w in spec.warnings]
    # Every bound of the new limits is applied: the loader's on its text, the node limit, the work budget.
    err = located_error(lambda: netspec.load(spec, limits=Limits(max_bytes=100)))
    assert err.errors[0].code == "NS002" and Path(err.errors[0].file or "").name == "lenet5.yaml"
    err = located_error(lambda: netspec.load(spec, limits=Limits(max_graph_nodes=3)))
    assert err.errors[0].code == "NS134" and "more than 3 nodes" in err.errors[0].message
    err = located_error(lambda: netspec.load(spec, limits=Limits(max_work=20)))
    assert _where(err) == ("NS134", 1, 1) and "parse grew" in err.errors[0].message
    # A spec read from text, a .json file, and one made from a mapping (no text: expanded again).
    text = netspec.loads(_repeat(50))
    assert netspec.load(text, limits=Limits(max_graph_nodes=50)).limits.max_graph_nodes == 50
    assert _where(located_error(lambda: netspec.load(text, limits=Limits(max_graph_nodes=49))))[0] == "NS134"
    json_file = tmp_path / "t.json"
    json_file.write_text('{"name": "t", "inputs": {"x": ["N", 4]}, "nodes": {"a": {"op": "ReLU", "repeat": 5}}}')
    from_json = netspec.load(json_file)
    assert netspec.load(from_json, limits=roomy) == from_json
    data = netspec.load({"name": "t", "inputs": {"x": ["N", 4]}, "nodes": {"a": {"op": "ReLU", "repeat": 50}}})
    with pytest.raises(netspec.SpecError) as caught:  # data has no lines: the path says where
        netspec.load(data, limits=Limits(max_graph_nodes=10))
    (error,) = caught.value.errors
    assert (error.code, error.path) == ("NS134", "nodes.a.repeat") and "more than 10 nodes" in error.message
    with request() as budget:
        netspec.summarize(data)
    tight = Limits(max_graph_nodes=50, max_work=budget.total - 1)
    small = netspec.load(data, limits=tight)  # loading costs less than a summary: expansion only
    assert small.limits is tight and len(small.expanded.nodes) == 50
    with pytest.raises(netspec.SpecError, match=f"more than {tight.max_work:,} units"):
        netspec.summarize(small)  # later calls run under the new limits


def test_the_work_limit_of_load_itself_is_located() -> None:
    err = located_error(lambda: netspec.loads(_repeat(500), limits=Limits(max_work=5)))
    assert _where(err) == ("NS134", 1, 1) and "more than 5 units of work: parse grew" in err.errors[0].message
    with request() as budget:
        netspec.loads(_repeat(500))
    past_parse = Limits(max_work=budget.spent["parse"] + 1)  # the text and its values read, then expansion
    err = located_error(lambda: netspec.loads(_repeat(500), limits=past_parse))
    assert _where(err) == ("NS134", 5, 3) and "expansion grew" in err.errors[0].message
    err = located_error(lambda: netspec.load(LENET, limits=Limits(max_work=20)))
    assert _where(err) == ("NS134", 1, 1) and Path(err.errors[0].file or "").name == "lenet5.yaml"


def test_the_default_work_limit_is_a_located_ns134() -> None:
    # 96 unrelated conditions on one dimension (96 branches over the input, each with its own stride),
    # each searched up to 2**20 sizes: over 5,000,000 units (`_shapes.lattice_units`), charged before
    # the search runs, at the dimension's example size.
    body = "".join(
        f"  c{i}: {{op: Conv1d, out_channels: 1, kernel_size: {3 + i}, stride: {2 + i}, in: x}}\n" for i in range(96)
    )
    assert lattice_units(96, range(MAX_SIZE_SEARCH)) > Limits().max_work
    outputs = "outputs: [" + ", ".join(f"c{i}" for i in range(96)) + "]\n"
    text = "netspec: 1\nname: t\ninputs: {x: [N, 1, L]}\ndims: {L: 100000000}\nnodes:\n" + body + outputs
    err = located_error(lambda: netspec.valid_sizes(netspec.loads(text)))
    assert _where(err) == ("NS134", 4, 11) and err.errors[0].path == "dims.L"
    assert f"more than {Limits().max_work:,} units of work: the size lattice grew" in err.errors[0].message
    without_dims = text.replace("dims: {L: 100000000}\n", "")
    err = located_error(lambda: netspec.valid_sizes(netspec.loads(without_dims, limits=Limits(max_work=100_000))))
    assert _where(err) == ("NS134", 3, 20) and err.errors[0].path == "inputs.x[2]"  # where `L` is declared


# -- parameter and buffer elements -----------------------------------------------------------------


def test_a_spec_s_memory_budget_reaches_build_and_export() -> None:
    spec = netspec.load(LENET, limits=Limits(max_params=1_000))
    for call in (netspec.build, netspec.export_python):
        err = located_error(lambda call=call: call(spec))
        assert _where(err) == ("NS190", 22, 8) and "over the budget of 1,000" in err.errors[0].message
        assert "netspec.Limits(max_params=...)" in (err.errors[0].hint or "")
    assert netspec.count_params(spec) == 61_706  # counting allocates nothing: no budget
    assert netspec.build(spec, max_params=100_000) is not None  # an explicit budget wins
    assert "class" in netspec.export_python(spec, max_params=100_000)


def test_the_default_memory_budget_is_the_limits_default() -> None:
    text = (
        "netspec: 1\nname: t\ninputs: {x: [N, 46341]}\nnodes:\n  fc: {op: Linear, out_features: 46341, bias: false}\n"
    )
    assert 46341**2 > Limits().max_params >= 46340**2
    err = located_error(lambda: netspec.build(netspec.loads(text)))
    assert _where(err) == ("NS190", 5, 7) and f"over the budget of {2**31:,}" in err.errors[0].message
    err = located_error(lambda: netspec.export_python(netspec.loads(text)))
    assert err.errors[0].code == "NS190"


# -- the documentation says what the code does ----------------------------------------------------


def _number(cell: str) -> int:
    """`5,000,000`, `2**31` or `50,000,000 units` as an int."""
    base, _, power = cell.strip().split()[0].replace(",", "").partition("**")
    return int(base) ** int(power) if power else int(base)


def test_the_limits_table_of_the_security_page_gives_the_defaults() -> None:
    page = (DOCS / "security.md").read_text()
    defaults = Limits()
    for field in dataclasses.fields(Limits):
        row = next(
            (line for line in page.splitlines() if line.startswith("|") and f"`Limits.{field.name}`" in line), None
        )
        assert row is not None, f"docs/security.md has no row for Limits.{field.name}"
        assert _number(row.split("|")[2]) == getattr(defaults, field.name), row
    assert not re.search(r"MAX_GRAPH_NODES|_work\.MAX_WORK", page)


def test_the_other_pages_quote_the_same_defaults() -> None:
    defaults = Limits()
    errors = (DOCS / "errors.md").read_text()
    assert f"`Limits.max_graph_nodes` nodes ({defaults.max_graph_nodes:,} by default" in errors
    assert f"`Limits.max_work`, {defaults.max_work:,} units" in errors
    cli = (DOCS / "cli.md").read_text()
    for flag, field in (("--max-graph-nodes", "max_graph_nodes"), ("--max-work", "max_work")):
        row = next(line for line in cli.splitlines() if line.startswith(f"| `{flag} N`"))
        assert f"default {getattr(defaults, field):,})" in row, row
    assert "default 2**31)" in next(line for line in cli.splitlines() if line.startswith("| `--max-params N`"))
