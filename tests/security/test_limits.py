"""Bombs of every kind are refused by a limit before they cost time or memory."""

from __future__ import annotations

import pytest
from hostile import CORPUS, HEADER, located_error, peak_memory, spec_with_nodes
from work import calls, growth

import netspec
from netspec._load import Limits, parse_text

MB = 1 << 20


def billion_laughs(levels: int = 9) -> str:
    text = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    for k in range(1, levels):
        text += f"a{k}: &a{k} [" + ", ".join([f"*a{k - 1}"] * 10) + "]\n"
    return text


def test_alias_bomb_is_refused_with_little_work_and_memory() -> None:
    text = billion_laughs()
    work, error = calls(lambda: parse_text(text, file="laughs.yaml"))
    assert isinstance(error, netspec.SpecError) and error.errors[0].code == "NS017"
    assert error.errors[0].line is not None
    assert work < 20_000  # refused while counting events, before anything is composed
    assert peak_memory(lambda: parse_text(text, file="laughs.yaml")) < 4 * MB


def test_alias_bomb_in_keys_position_is_refused() -> None:
    text = billion_laughs(6) + "b: {*a5 : 1}\n"
    err = located_error(lambda: parse_text(text, file="laughs.yaml"))
    assert err.errors[0].code in ("NS010", "NS017")


NESTED_REPEATS = (
    HEADER
    + "blocks:\n  b0: {nodes: {r: ReLU}}\n"
    + "".join(f"  b{k}: {{nodes: {{r: {{block: b{k - 1}, repeat: 1000}}}}}}\n" for k in range(1, 6))
    + "nodes:\n  a: {block: b5, repeat: 1000}\n"
)

EXPANSION_BOMBS = {
    "nested repeats (10^18 nodes)": NESTED_REPEATS,
    "flat repeat over the node limit": spec_with_nodes("  a: {op: ReLU, repeat: 100001}\n"),
    "repeat count from an expression": spec_with_nodes('  a: {op: ReLU, repeat: "${2 ** 62}"}\n'),
    "empty block instances": HEADER + "blocks:\n  e: {nodes: {r: {op: ReLU, repeat: 0}}}\n"
    "nodes:\n  a: {block: e, repeat: 1000000000}\n",
    "disabled block instances": HEADER + "blocks:\n  d: {nodes: {r: {op: ReLU, when: false}}}\n"
    "nodes:\n  a: {block: d, repeat: 1000000000}\n",
    "many arguments repeated": spec_with_nodes(
        "  a: {op: ReLU, repeat: 100000, " + ", ".join(f"k{j}: 1" for j in range(2000)) + "}\n"
    ),
    "costly expression repeated": spec_with_nodes(
        '  a: {op: ReLU, repeat: 9000, inplace: "${' + " and ".join(["[0] * 9999 == [0] * 9999"] * 30) + '}"}\n'
    ),
    "recursive block": HEADER + "blocks:\n  b: {nodes: {inner: {block: b, repeat: 1000}}}\nnodes:\n  a: {block: b}\n",
}


# The work each bomb may cost, in calls (about 10^5 at most): its size in nodes is 10^9 to 10^18.
# The costly expression is bounded by the expressions' shared budget instead (millions of cheap calls).
CALL_BOUNDS = dict.fromkeys(EXPANSION_BOMBS, 250000) | {"costly expression repeated": None}


@pytest.mark.parametrize("name", EXPANSION_BOMBS)
def test_expansion_bomb_is_refused_before_it_blows_up(name: str) -> None:
    text = EXPANSION_BOMBS[name]
    bound = CALL_BOUNDS[name]
    if bound is None:
        work, error = 0, located_error(lambda: netspec.loads(text))
    else:
        work, error = calls(lambda: netspec.loads(text))
    assert isinstance(error, netspec.SpecError), error
    located_error(lambda: netspec.loads(text))
    assert error.errors[0].code in ("NS134", "NS131", "NS143", "NS144"), str(error)
    assert bound is None or work < bound, f"{work:,} calls"


def test_expansion_bomb_memory_is_bounded() -> None:
    assert peak_memory(lambda: netspec.loads(NESTED_REPEATS)) < 32 * MB


def test_extends_cycle_between_two_files(tmp_path) -> None:
    (tmp_path / "a.yaml").write_text(HEADER + "extends: b.yaml\nnodes:\n  a: ReLU\n")
    (tmp_path / "b.yaml").write_text(HEADER + "extends: a.yaml\nnodes:\n  b: ReLU\n")
    work, _ = calls(lambda: netspec.load(tmp_path / "a.yaml"))
    err = located_error(lambda: netspec.load(tmp_path / "a.yaml"))
    assert err.errors[0].code == "NS105" and "cycle" in err.errors[0].message
    assert work < 20_000  # each file read once: the cycle is found, not followed


def test_long_extends_chain_is_cut(tmp_path) -> None:
    for k in range(20):
        (tmp_path / f"s{k}.yaml").write_text(HEADER + f"extends: s{k + 1}.yaml\nnodes:\n  a: ReLU\n")
    (tmp_path / "s20.yaml").write_text(spec_with_nodes("  a: ReLU\n"))
    err = located_error(lambda: netspec.load(tmp_path / "s0.yaml"))
    assert err.errors[0].code == "NS105"


# -- size bombs ----------------------------------------------------------------------------------


def test_parameter_budget_refuses_before_allocation() -> None:
    spec = netspec.loads(
        "netspec: 1\nname: huge\ninputs: {x: [N, 10000000]}\nnodes:\n  fc: {op: Linear, out_features: 10000000}\n"
    )
    with pytest.raises(netspec.SpecError) as caught:
        peak = peak_memory(lambda: netspec.build(spec))
        netspec.build(spec)
    diagnostic = caught.value.errors[0]
    assert diagnostic.code == "NS190" and "100,000,010,000,000" in diagnostic.message
    assert diagnostic.line == 5
    assert peak < 4 * MB  # 400 TB were never allocated


def test_parameter_budget_can_be_lowered() -> None:
    err = located_error(lambda: netspec.build("lenet5", max_params=1000))
    assert "61,706" in err.errors[0].message


def test_huge_parameter_override_is_refused_by_the_budget() -> None:
    with pytest.raises(netspec.SpecError) as caught:
        netspec.build("lenet5", params={"num_classes": 10**40})
    assert caught.value.errors[0].code in ("NS190", "NS131", "NS147", "NS205")


@pytest.mark.parametrize("value", ["-1", "0", "1e400", ".nan", "-.inf", "9" * 40, "true", '"8"', "8.0"])
def test_bad_sizes_are_refused(value: str) -> None:
    text = spec_with_nodes(f"  conv: {{op: Conv2d, out_channels: {value}, kernel_size: 3}}\n")
    err = located_error(lambda: netspec.loads(text))
    assert err.errors[0].line == 5


# -- pathological text ---------------------------------------------------------------------------


def test_ten_megabyte_file_is_refused_before_reading(tmp_path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"# " + b"x" * (10 * MB) + b"\n")
    work, _ = calls(lambda: netspec.load(path))
    peak = peak_memory(lambda: netspec.load(path))
    err = located_error(lambda: netspec.load(path))
    assert err.errors[0].code == "NS002" and "10,485,763 bytes" in err.errors[0].message
    assert work < 5_000 and peak < 1 * MB  # refused by its size on disk: never read


def test_ten_megabyte_text_is_refused() -> None:
    err = located_error(lambda: netspec.loads("a: " + "x" * (10 * MB)))
    assert err.errors[0].code == "NS002"


@pytest.mark.parametrize("depth", [10**5, 10**6])
@pytest.mark.parametrize("form", ["flow list", "flow map", "block list", "json"])
def test_deep_nesting_is_refused(form: str, depth: int) -> None:
    text = {
        "flow list": "[" * depth + "]" * depth,
        "flow map": "{a: " * depth + "1" + "}" * depth,
        "block list": "- " * depth + "x\n",
        "json": '{"a":' * depth + "1" + "}" * depth,
    }[form]
    if len(text.encode()) > Limits().max_bytes:
        text = text[: Limits().max_bytes // 2]  # still far deeper than the limit
    work, _ = calls(lambda: parse_text(text, file="deep.yaml"))
    err = located_error(lambda: parse_text(text, file="deep.yaml"))
    assert err.errors[0].code in ("NS016", "NS005")
    assert work < 50_000  # refused at the depth limit, whatever the depth: the rest is only scanned


def test_deep_block_mapping_is_refused() -> None:
    text = "".join("  " * k + f"k{k}:\n" for k in range(2000)) + "  " * 2000 + "v\n"
    err = located_error(lambda: parse_text(text, file="deep.yaml"))
    assert err.errors[0].code == "NS016"


def test_very_long_line_is_refused_cheaply() -> None:
    text = spec_with_nodes('  a: {op: "' + "A" * 4_000_000 + '"}\n')
    work, _ = calls(lambda: netspec.loads(text))
    err = located_error(lambda: netspec.loads(text))
    assert err.errors[0].code == "NS015"
    assert len(str(err)) < 5000  # the echoed line is cut
    assert work < 20_000  # refused by its length before it is parsed


def _many_errors(count: int) -> str:
    return spec_with_nodes("".join(f"  a{j}: {{op: ReLU, k: 1}}\n" for j in range(count)))


def test_many_errors_render_in_bounded_work() -> None:
    _, error = calls(lambda: netspec.loads(_many_errors(3000)))
    assert isinstance(error, netspec.SpecError) and len(error.diagnostics) == 3000
    assert "more (all are in `.diagnostics`)" in str(error)
    # Finding them is linear in their number; rendering shows the first few whatever their number.
    assert growth(lambda n: lambda: netspec.loads(_many_errors(n)), 300, 3000) < 12
    few = located_error(lambda: netspec.loads(_many_errors(300)))
    assert calls(lambda: str(error))[0] < 1.2 * calls(lambda: str(few))[0]


def test_bom_is_accepted_and_tabs_are_refused_with_a_place() -> None:
    good = b"\xef\xbb\xbf" + spec_with_nodes("  a: ReLU\n").encode()
    assert netspec.loads(good).name == "hostile"
    err = located_error(lambda: netspec.loads((CORPUS / "mixed_tabs.yaml").read_text()))
    assert err.errors[0].line == 6 and "tab" in (err.errors[0].hint or err.errors[0].message)


def test_limits_can_be_tightened() -> None:
    text = spec_with_nodes("  a: ReLU\n")
    err = located_error(lambda: netspec.loads(text, limits=Limits(max_bytes=20)))
    assert err.errors[0].code == "NS002"


def test_thousands_of_unknown_arguments_give_a_bounded_report():
    args = {f"a{i}": 1 for i in range(20_000)}
    spec = {"name": "many", "inputs": {"x": ["N", 4]}, "nodes": {"fc": {"op": "Linear", "out_features": 2, **args}}}
    with pytest.raises(netspec.SpecError) as info:
        netspec.load(spec)
    diagnostics = info.value.diagnostics
    assert len(diagnostics) == 21
    assert diagnostics[-1].message == "`Linear` has 19,980 more unknown arguments"
