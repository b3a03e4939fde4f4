"""The safe loader: plain data, source spans, strict scalars, limits, and hostile input."""

from __future__ import annotations

import contextlib
import json
import math
import re
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from work import calls, growth

from netspec import _load
from netspec._errors import Diagnostic, Span, SpecError
from netspec._load import LOAD_CODES, Document, Limits, parse_text, read_file

LIBYAML = getattr(yaml, "CSafeLoader", None)
# Property tests run the same examples every time, and leave no example database behind.
PROPERTY = settings(deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow])
LOADERS = [yaml.SafeLoader] + ([LIBYAML] if LIBYAML is not None else [])


@pytest.fixture(params=LOADERS, ids=lambda loader: loader.__name__)
def loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> type:
    """Run a test once with each available event parser (libyaml and pure Python)."""
    monkeypatch.setattr(_load, "_EVENT_LOADER", request.param)
    return request.param


@contextlib.contextmanager
def using_loader(event_loader: type) -> Iterator[None]:
    saved = _load._EVENT_LOADER
    _load._EVENT_LOADER = event_loader
    try:
        yield
    finally:
        _load._EVENT_LOADER = saved


def problems(text: str | bytes, **options: Any) -> list[Diagnostic]:
    with pytest.raises(SpecError) as caught:
        parse_text(text, file="spec.yaml", **options)
    return caught.value.diagnostics


def problem(text: str | bytes, **options: Any) -> Diagnostic:
    found = problems(text, **options)
    assert len(found) == 1, found
    return found[0]


def where(diagnostic: Diagnostic) -> tuple[str, int | None, int | None]:
    return diagnostic.code, diagnostic.line, diagnostic.column


def load(text: str | bytes, **options: Any) -> Any:
    return parse_text(text, file="spec.yaml", **options).data


# ---------------------------------------------------------------- data and spans

YAML_SPEC = """\
name: net
layers:
  - conv: {out: 16, kernel: 3}
  - "relu"
scale: 0.5
"""
JSON_SPEC = '{"name": "net", "layers": [{"conv": {"out": 16, "kernel": 3}}, "relu"], "scale": 0.5}'


@pytest.mark.usefixtures("loader")
def test_yaml_and_json_give_the_same_data() -> None:
    expected = {"name": "net", "layers": [{"conv": {"out": 16, "kernel": 3}}, "relu"], "scale": 0.5}
    assert load(YAML_SPEC) == expected
    assert load(JSON_SPEC) == expected
    assert list(load(YAML_SPEC)) == ["name", "layers", "scale"]


@pytest.mark.usefixtures("loader")
def test_yaml_spans_of_values_and_keys() -> None:
    document = parse_text(YAML_SPEC, file="net.yaml")
    values, keys = document.sources.values, document.sources.keys
    assert document.file == "net.yaml"
    assert document.sources.texts == {"net.yaml": YAML_SPEC}
    assert values[()] == Span("net.yaml", 1, 1, 5, 11)
    assert values[("name",)] == Span("net.yaml", 1, 7, 1, 10)
    assert values[("layers",)] == Span("net.yaml", 3, 3, 4, 11)  # a block list ends with its last entry
    assert values[("layers", 0, "conv")] == Span("net.yaml", 3, 11, 3, 31)
    assert values[("layers", 0, "conv", "kernel")] == Span("net.yaml", 3, 29, 3, 30)
    assert values[("layers", 1)] == Span("net.yaml", 4, 5, 4, 11)  # quotes included
    assert keys[("layers",)] == Span("net.yaml", 2, 1, 2, 7)
    assert keys[("layers", 0, "conv", "out")] == Span("net.yaml", 3, 12, 3, 15)
    assert set(values) == {
        (),
        ("name",),
        ("layers",),
        ("layers", 0),
        ("layers", 0, "conv"),
        ("layers", 0, "conv", "out"),
        ("layers", 0, "conv", "kernel"),
        ("layers", 1),
        ("scale",),
    }


@pytest.mark.usefixtures("loader")
def test_json_spans() -> None:
    document = parse_text(JSON_SPEC, file="net.json")
    values, keys = document.sources.values, document.sources.keys
    assert values[()] == Span("net.json", 1, 1, 1, len(JSON_SPEC) + 1)
    assert values[("name",)] == Span("net.json", 1, 10, 1, 15)
    assert values[("layers", 0, "conv", "kernel")] == Span("net.json", 1, 59, 1, 60)
    assert values[("layers", 1)] == Span("net.json", 1, 64, 1, 70)
    assert keys[("scale",)] == Span("net.json", 1, 73, 1, 80)


@pytest.mark.usefixtures("loader")
def test_block_scalar_span_and_crlf_lines() -> None:
    document = parse_text("a: |\n  x\n  y\nb: 1\r\nc: 2\r\n", file="f")
    assert document.data == {"a": "x\ny\n", "b": 1, "c": 2}
    assert document.sources.values[("a",)] == Span("f", 1, 4, 4, 1)
    assert document.sources.values[("c",)] == Span("f", 5, 4, 5, 5)


@pytest.mark.usefixtures("loader")
def test_aliases_copy_the_value_and_its_spans() -> None:
    document = parse_text("base: &b {k: [1, 2]}\nuse: *b\n", file="f")
    assert document.data == {"base": {"k": [1, 2]}, "use": {"k": [1, 2]}}
    assert document.data["use"] is not document.data["base"]
    assert document.data["use"]["k"] is not document.data["base"]["k"]
    values, keys = document.sources.values, document.sources.keys
    assert values[("use",)] == Span("f", 2, 6, 2, 8)  # the alias itself
    assert values[("use", "k", 1)] == values[("base", "k", 1)] == Span("f", 1, 18, 1, 19)
    assert keys[("use", "k")] == keys[("base", "k")]


@pytest.mark.usefixtures("loader")
def test_nested_aliases_and_a_scalar_alias_as_key() -> None:
    document = parse_text("a: &a [1]\nb: &b [*a, *a]\nc: [*b]\n&k name: x\nd: {*k : 2}\ne: *k\n", file="f")
    assert document.data == {"a": [1], "b": [[1], [1]], "c": [[[1], [1]]], "name": "x", "d": {"name": 2}, "e": "name"}
    values = document.sources.values
    assert values[("c", 0, 1, 0)] == Span("f", 1, 8, 1, 9)
    assert values[("c", 0, 1)] == Span("f", 2, 12, 2, 14)
    assert document.sources.keys[("d", "name")] == Span("f", 5, 5, 5, 7)


# ---------------------------------------------------------------- scalars

PLAIN_SCALARS = [
    ("null", None),
    ("Null", None),
    ("NULL", None),
    ("~", None),
    ("", None),
    ("true", True),
    ("True", True),
    ("TRUE", True),
    ("false", False),
    ("False", False),
    ("FALSE", False),
    ("yes", "yes"),
    ("no", "no"),
    ("on", "on"),
    ("off", "off"),
    ("y", "y"),
    ("nULL", "nULL"),
    ("tRUE", "tRUE"),
    ("0", 0),
    ("-0", 0),
    ("+5", 5),
    ("42", 42),
    ("-17", -17),
    ("9" * 30, int("9" * 30)),
    ("0x1F", 31),
    ("-0x10", -16),
    ("0o17", 15),
    ("0o0", 0),
    ("0b101", "0b101"),
    ("0X1F", "0X1F"),
    ("1_000", "1_000"),
    ("1.5", 1.5),
    ("1e-3", 0.001),
    ("-2.5E+4", -25000.0),
    (".5", 0.5),
    ("1.", 1.0),
    ("1e3", 1000.0),
    ("01.5", 1.5),
    ("1e308", 1e308),
    ("1:20", "1:20"),
    ("1.2.3", "1.2.3"),
    ("inf", "inf"),
    ("nan", "nan"),
    ("NaN", "NaN"),
    ("Infinity", "Infinity"),
    ("3x3", "3x3"),
    ("conv-1", "conv-1"),
    ("$width", "$width"),
]


@pytest.mark.parametrize(("text", "expected"), PLAIN_SCALARS)
def test_plain_scalars_follow_the_yaml_1_2_core_schema(text: str, expected: Any) -> None:
    value = load(f"v: {text}\n")["v"]
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.usefixtures("loader")
def test_quoted_and_block_scalars_stay_strings() -> None:
    text = "a: '010'\nb: \"true\"\nc: 'null'\nd: \"1e400\"\ne: |\n  12\nf: ''\n"
    assert load(text) == {"a": "010", "b": "true", "c": "null", "d": "1e400", "e": "12\n", "f": ""}


SCALAR_PROBLEMS = [
    ("v: 010", "NS012", 1, 4),
    ("v: -007", "NS012", 1, 4),
    ("v: 00", "NS012", 1, 4),
    ("v: .inf", "NS013", 1, 4),
    ("v: -.Inf", "NS013", 1, 4),
    ("v: .nan", "NS013", 1, 4),
    ("v: .NaN", "NS013", 1, 4),
    ("v: 1e400", "NS013", 1, 4),
    ("v: -1e400", "NS013", 1, 4),
    ("v: " + "1" * 31, "NS014", 1, 4),
    ("v: 0x" + "f" * 31, "NS014", 1, 4),
    ("x: 1\nv: [1, " + "7" * 5000 + "]", "NS014", 2, 8),
]


@pytest.mark.usefixtures("loader")
@pytest.mark.parametrize(("text", "code", "line", "column"), SCALAR_PROBLEMS)
def test_scalar_problems(text: str, code: str, line: int, column: int) -> None:
    assert where(problem(text)) == (code, line, column)


def test_leading_zero_message_suggests_both_readings() -> None:
    found = problem("stride: 010\n")
    assert found.message == "`010` is ambiguous: a leading zero could mean octal"
    assert found.hint is not None and "`10`" in found.hint and "`0o10`" in found.hint
    assert found.path == "stride"
    assert (found.end_line, found.end_column) == (1, 12)


def test_five_thousand_digit_integer_is_a_spec_error() -> None:
    found = problem("v: " + "1" * 5000)
    assert where(found) == ("NS014", 1, 4)
    assert "5,000 digits" in found.message
    assert len(found.message) < 120


def test_integer_digit_limit_is_configurable() -> None:
    assert load("v: 123456", limits=Limits(max_int_digits=6)) == {"v": 123456}
    assert where(problem("v: 1234567", limits=Limits(max_int_digits=6))) == ("NS014", 1, 4)


@pytest.mark.usefixtures("loader")
def test_long_strings_are_refused() -> None:
    limits = Limits(max_scalar_chars=10)
    assert load("v: '0123456789'", limits=limits) == {"v": "0123456789"}
    assert where(problem("a: 1\nv: '01234567890'", limits=limits)) == ("NS015", 2, 4)
    assert where(problem("a: 1\n01234567890: 1", limits=limits)) == ("NS015", 2, 1)


# ---------------------------------------------------------------- tags, documents, keys

TAGGED = [
    ("cmd: !!python/object/apply:os.system ['echo hi']", "!!python/object/apply:os.system", 1, 6),
    ("fn: !!python/name:os.system", "!!python/name:os.system", 1, 5),
    ("x: 1\nobj: !!python/object:collections.OrderedDict {}", "!!python/object:collections.OrderedDict", 2, 6),
    ("v: !custom 3", "!custom", 1, 4),
    ("v: !!str 010", "!!str", 1, 4),
    ("v: ! plain", "!", 1, 4),
    ("v: !!set {a, b}", "!!set", 1, 4),
    ("v:\n  - !!binary aGk=", "!!binary", 2, 5),
    ("!!str k: 1", "!!str", 1, 1),
]


@pytest.mark.usefixtures("loader")
@pytest.mark.parametrize(("text", "tag", "line", "column"), TAGGED)
def test_tags_are_refused(text: str, tag: str, line: int, column: int) -> None:
    found = problem(text)
    assert where(found) == ("NS007", line, column)
    assert found.message == f"tag `{tag}` is not allowed"


def test_tags_construct_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "constructed"
    text = (
        f"a: !!python/object/apply:os.system ['touch {marker}']\n"
        f"b: !!python/object/apply:pathlib.Path.touch [{marker}]\n"
    )
    assert [d.code for d in problems(text)] == ["NS007", "NS007"]
    assert not marker.exists()


@pytest.mark.usefixtures("loader")
def test_more_than_one_document_is_refused() -> None:
    found = problem("a: 1\nb: 2\n---\nc: 3\n")
    assert where(found) == ("NS006", 3, 1)
    assert where(problem("a: 1\n...\n--- 2\n")) == ("NS006", 3, 1)
    assert load("---\na: 1\n...\n") == {"a": 1}


@pytest.mark.usefixtures("loader")
def test_merge_keys_are_refused() -> None:
    found = problem("base: &b {x: 1}\nnode:\n  <<: *b\n  y: 2\n")
    assert where(found) == ("NS008", 3, 3)
    assert found.hint == "write the fields out, or use a block"
    assert load("'<<': 1") == {"<<": 1}  # a quoted `<<` is an ordinary key


@pytest.mark.usefixtures("loader")
def test_every_duplicate_key_is_reported_at_the_second_one() -> None:
    found = problems("a: 1\nb:\n  c: 1\n  c: 2\na: 3\n")
    assert [where(d) for d in found] == [("NS009", 4, 3), ("NS009", 5, 1)]
    assert found[0].path == "b.c"
    assert found[0].hint is not None and "line 3" in found[0].hint
    assert found[1].hint is not None and "line 1" in found[1].hint


@pytest.mark.usefixtures("loader")
def test_duplicate_keys_in_json() -> None:
    assert where(problem('{"a": 1,\n "a": 2}')) == ("NS009", 2, 2)


@pytest.mark.usefixtures("loader")
def test_problems_in_one_file_are_reported_together() -> None:
    found = problems("a: 010\nb: !x 1\nc: .nan\nc: 1\n<<: 2\n")
    assert [where(d) for d in found] == [
        ("NS012", 1, 4),
        ("NS007", 2, 4),
        ("NS013", 3, 4),
        ("NS009", 4, 1),
        ("NS008", 5, 1),
    ]


@pytest.mark.usefixtures("loader")
@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ("? [a, b]\n: 1\n", 1, 3),
        ("{[1]: 2}", 1, 2),
        ("x: 1\n? {a: 1}\n: 2\n", 2, 3),
        ("m: &m {a: 1}\n*m : 2\n", 2, 1),
    ],
)
def test_keys_must_be_scalars(text: str, line: int, column: int) -> None:
    assert where(problem(text)) == ("NS010", line, column)


@pytest.mark.usefixtures("loader")
def test_keys_are_kept_as_their_text() -> None:
    assert load("1: a\ntrue: b\nnull: c\n010: d\n1.50: e\n") == {
        "1": "a",
        "true": "b",
        "null": "c",
        "010": "d",
        "1.50": "e",
    }
    assert load('{"": 1}') == {"": 1}
    assert where(problem("? \n: 1\n")) == ("NS011", 1, 2)


# ---------------------------------------------------------------- aliases and limits


@pytest.mark.usefixtures("loader")
def test_undefined_and_recursive_aliases() -> None:
    assert where(problem("a: 1\nb: *nope\n")) == ("NS019", 2, 4)
    assert where(problem("a: &r [1, *r]\n")) == ("NS019", 1, 11)


BILLION_LAUGHS = f"a: &a [{','.join(['lol'] * 9)}]\n" + "".join(
    f"{name}: &{name} [{','.join([f'*{previous}'] * 9)}]\n"
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True)
)


def test_billion_laughs_fails_fast_and_small() -> None:
    assert len(BILLION_LAUGHS) < 400
    tracemalloc.start()
    try:
        work, _ = calls(lambda: problems(BILLION_LAUGHS))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [where(problem) for problem in problems(BILLION_LAUGHS)] == [("NS017", 6, 8)]
    assert peak < 2_000_000
    assert work < 20_000  # refused while counting events: the billion nodes are never composed


@pytest.mark.usefixtures("loader")
def test_node_limit_counts_alias_expansions() -> None:
    limits = Limits(max_nodes=21)
    text = "a: &a [1, 2, 3, 4, 5, 6, 7, 8]\nb: *a\n"  # root + 2 keys + 2 lists + 16 items = 21
    assert load(text, limits=limits)["b"] == list(range(1, 9))
    assert where(problem(text + "c: 1\n", limits=limits)) == ("NS017", 3, 1)
    assert where(problem(text + "c: *a\n", limits=Limits(max_nodes=30))) == ("NS017", 3, 4)


@pytest.mark.usefixtures("loader")
def test_alias_count_limit() -> None:
    limits = Limits(max_aliases=3)
    assert load("a: &a 1\nb: [*a, *a, *a]", limits=limits) == {"a": 1, "b": [1, 1, 1]}
    assert where(problem("a: &a 1\nb: [*a, *a, *a, *a]", limits=limits)) == ("NS018", 2, 17)


@pytest.mark.usefixtures("loader")
@pytest.mark.parametrize(("opener", "closer"), [("[", "]"), ("{a: ", "}")])
def test_depth_limit_is_exact_in_flow_style(opener: str, closer: str) -> None:
    assert load(opener * 100 + closer * 100) is not None
    found = problem(opener * 101 + closer * 101)
    assert where(found) == ("NS016", 1, 100 * len(opener) + 1)


@pytest.mark.usefixtures("loader")
def test_depth_limit_in_block_style() -> None:
    assert load("- " * 100 + "x")
    assert where(problem("- " * 101 + "x")) == ("NS016", 1, 201)
    nested = "".join(" " * level + "a:\n" for level in range(101)) + " " * 101 + "b: 1\n"
    assert where(problem(nested)) == ("NS016", 101, 101)


@pytest.mark.usefixtures("loader")
def test_depth_limit_counts_alias_expansions() -> None:
    limits = Limits(max_depth=3)
    assert load("a: &a [[1]]\n", limits=limits)
    assert where(problem("a: &a [[1]]\nb: [*a]\n", limits=limits)) == ("NS016", 2, 5)


HOSTILE_NESTING = {
    "flow-list": lambda n: "[" * n,
    "flow-list-closed": lambda n: "[" * n + "]" * n,
    "flow-map": lambda n: "{a: " * n,
    "json": lambda n: '{"a":' * n,
    "block-list": lambda n: "- " * n + "x",
    "block-map-list": lambda n: "a:\n" + "- " * n + "x",
}


@pytest.mark.parametrize("name", HOSTILE_NESTING)
@pytest.mark.usefixtures("loader")
def test_deep_nesting_fails_at_the_limit(name: str) -> None:
    found = problem(HOSTILE_NESTING[name](10**6))
    assert found.code == "NS016"
    assert found.line is not None and found.column is not None
    # Refused at the depth limit: ten times the nesting costs no more work (the text is only scanned).
    assert growth(lambda n: lambda: problem(HOSTILE_NESTING[name](n)), 10**4, 10**5) < 1.1


@pytest.mark.usefixtures("loader")
def test_json_pre_pass_stays_linear_on_unterminated_strings() -> None:
    # every `"` opens a string that runs to the end of the line: a naive scan would be quadratic
    tab = lambda n: "[" + '"\\"' * n + "\t"  # noqa: E731
    emoji = lambda n: "[" + '"\\"' * n + '"\\ud83d\\ude00"'  # noqa: E731
    assert problem(tab(200_000)).code == "NS005"
    assert problem(emoji(200_000)).code == "NS005"
    for text in (tab, emoji):  # ten times the text, about ten times the work (a quadratic scan: 100)
        assert growth(lambda n, text=text: lambda: problem(text(n)), 20_000, 200_000) < 12


def test_oversized_text_is_refused_before_parsing() -> None:
    text = "a: " + "x" * 10_000_000
    found = problem(text)
    assert calls(lambda: problem(text))[0] < 1_000  # the size is checked first: nothing is parsed
    assert where(found) == ("NS002", 1, 1)
    assert found.message == "the spec is 10,000,003 bytes; the limit is 5,000,000 bytes"
    assert where(problem(text.encode())) == ("NS002", 1, 1)
    assert where(problem("é" * 6, limits=Limits(max_bytes=11))) == ("NS002", 1, 1)  # bytes, not characters


def test_oversized_file_is_refused_without_reading_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    big = tmp_path / "big.yaml"
    with open(big, "wb") as handle:
        handle.truncate(10_000_000)  # sparse: nothing is written
    with pytest.raises(SpecError) as caught:
        read_file(big)
    assert where(caught.value.diagnostics[0]) == ("NS002", 1, 1)
    assert caught.value.diagnostics[0].file == str(big)


# ---------------------------------------------------------------- text and encodings


@pytest.mark.usefixtures("loader")
@pytest.mark.parametrize("text", ["", "   \n\n", "# only a comment\n", "\n# a\n  # b\n", "---\n", b"", b"\xef\xbb\xbf"])
def test_empty_spec(text: str | bytes) -> None:
    found = problem(text)
    assert where(found) == ("NS001", 1, 1)
    assert found.message == "the spec is empty"


@pytest.mark.usefixtures("loader")
def test_null_document_is_not_empty() -> None:
    assert load("null") is None
    assert load("''") == ""


def test_invalid_utf8_is_located() -> None:
    found = problem(b"a: 1\nb: caf\xc3\xa9 \xff\n")
    assert where(found) == ("NS003", 2, 9)  # `\xc3\xa9` is one character
    assert "`0xff`" in found.message
    utf16 = problem("a: 1\n".encode("utf-16"))
    assert where(utf16) == ("NS003", 1, 1)
    assert utf16.hint is not None and "UTF-16" in utf16.hint


def test_unpaired_surrogate_in_str_input() -> None:
    assert where(problem("a: 1\nb: x\ud800")) == ("NS003", 2, 5)


@pytest.mark.usefixtures("loader")
def test_byte_order_mark_is_stripped() -> None:
    for text in (b"\xef\xbb\xbfa: 1\nb: 2", "\ufeffa: 1\nb: 2"):
        document = parse_text(text, file="f")
        assert document.data == {"a": 1, "b": 2}
        assert document.sources.keys[("a",)] == Span("f", 1, 1, 1, 2)
        assert document.sources.texts["f"] == "a: 1\nb: 2"


@pytest.mark.usefixtures("loader")
@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ("a: 1\nb: x\x00y\n", 2, 5),
        ("a: \x1b[31mred\n", 1, 4),
        ("a: '\x7f'", 1, 5),
        ("a: 1\r\nb: \x0c", 2, 4),
        ("\x00\x01\x02", 1, 1),
    ],
)
def test_control_characters_are_refused(text: str, line: int, column: int) -> None:
    assert where(problem(text)) == ("NS004", line, column)


@pytest.mark.usefixtures("loader")
def test_odd_unicode_loads_unchanged() -> None:
    text = 'name: "\u202eevil\u202c"\n\u200bkey: zero\u200dwidth\nrtl: \u05e9\u05dc\u05d5\u05dd\n'
    assert load(text) == {"name": "\u202eevil\u202c", "\u200bkey": "zero\u200dwidth", "rtl": "\u05e9\u05dc\u05d5\u05dd"}
    emoji = parse_text("a: 😀\nb: 1", file="f")
    assert emoji.sources.values[("b",)] == Span("f", 2, 4, 2, 5)


@pytest.mark.usefixtures("loader")
def test_mixed_tabs_and_spaces_in_indentation() -> None:
    found = problem("a:\n  b: 1\n\tc: 2\n")
    assert where(found) == ("NS005", 3, 1)
    assert found.hint == "indent with spaces: YAML does not allow tabs for indentation"
    assert where(problem("a:\n\t- 1\n")) == ("NS005", 2, 1)


@pytest.mark.usefixtures("loader")
@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ("a: [1, 2\n", 2, 1),
        ("a: 'x", 1, 6),
        ("a: b: c\n", 1, 5),
        ("a: 1\n b: 2\n", 2, 3),
        ("a: @x\n", 1, 4),
        ('{"a" 1}', 1, 6),
        ("[1,,2]", 1, 4),
    ],
)
def test_syntax_errors_are_located(text: str, line: int, column: int) -> None:
    found = problem(text)
    assert where(found) == ("NS005", line, column)
    assert found.message and "\n" not in found.message


def test_syntax_error_names_the_open_construct() -> None:
    found = problem("a: [1, 2\n")
    assert found.hint == "while parsing a flow sequence that starts at line 1, column 4"


@pytest.mark.usefixtures("loader")
def test_very_long_lines() -> None:
    assert load("a: " + "x" * 99_000) == {"a": "x" * 99_000}
    assert where(problem("a: " + "x" * 100_001)) == ("NS015", 1, 4)
    limits = Limits(max_nodes=10_000)  # the root list is the first value, so the 9,999th item is too many
    assert where(problem("[" + "1, " * 20_000 + "1]", limits=limits)) == ("NS017", 1, 2 + 3 * 9_999)


@given(st.binary(max_size=300))
@settings(PROPERTY, max_examples=150)
def test_binary_junk_never_escapes_as_another_exception(junk: bytes) -> None:
    for event_loader in LOADERS:
        with using_loader(event_loader):
            try:
                parse_text(junk)
            except SpecError as error:
                assert all(d.line is not None and d.column is not None for d in error.diagnostics)


YAMLISH = st.text(
    alphabet=st.sampled_from([*"ab01 :-[]{},#&*!|>'\"\t\n.~%@`?\\ux", "\u202e", "é", "\x00"]), max_size=60
)


@given(YAMLISH)
@settings(PROPERTY, max_examples=300)
def test_yaml_like_junk_never_escapes_as_another_exception(text: str) -> None:
    for event_loader in LOADERS:
        with using_loader(event_loader):
            try:
                document = parse_text(text)
            except SpecError as error:
                assert all(d.line is not None and d.column is not None for d in error.diagnostics)
                str(error)
            else:
                assert () in document.sources.values


# ---------------------------------------------------------------- JSON


@pytest.mark.usefixtures("loader")
def test_json_with_tabs_escapes_and_crlf() -> None:
    text = '\t{\r\n\t"a":\t[1,\t2.5e1,\t-0],\r\n\t"b"\t:\t"x\\/y\\t\\u00e9",\r\n\t"c": {"d": null, "e": true}}\t\n'
    document = parse_text(text, file="f.json")
    assert document.data == {"a": [1, 25.0, 0], "b": "x/y\té", "c": {"d": None, "e": True}}
    assert document.sources.values[("a", 1)] == Span("f.json", 2, 11, 2, 16)
    assert document.sources.values[("b",)] == Span("f.json", 3, 8, 3, 22)
    assert document.sources.texts["f.json"] == text  # positions refer to the text as written


@pytest.mark.usefixtures("loader")
def test_json_surrogate_pair_escapes() -> None:
    text = '{"a": "\\ud83d\\ude00 x\\uD83D\\uDE00", "b": 1}'
    document = parse_text(text, file="f")
    assert document.data == {"a": "😀 x😀", "b": 1}
    assert document.sources.values[("a",)] == Span("f", 1, 7, 1, 35)
    assert document.sources.values[("b",)] == Span("f", 1, 42, 1, 43)
    assert load('["\\ud83d\\ude00"]') == ["😀"]
    assert load('"\\ud83d\\ude00"') == "😀"
    assert load('["\\\\ud83d\\\\ude00"]') == ["\\ud83d\\ude00"]  # escaped backslashes are not escapes


@pytest.mark.usefixtures("loader")
def test_lone_surrogate_escape_is_refused() -> None:
    assert problem('["\\ud800"]').code in {"NS003", "NS005"}


@pytest.mark.usefixtures("loader")
@pytest.mark.parametrize(
    ("text", "column"),
    [
        ('{"a": NaN}', 7),
        ('{"a": Infinity}', 7),
        ("[1, -Infinity]", 5),
        ("[.nan]", 2),
        ('{"a": 1e999}', 7),
    ],
)
def test_json_non_finite_numbers_are_refused(text: str, column: int) -> None:
    assert where(problem(text)) == ("NS013", 1, column)


def test_json_reads_like_the_json_module() -> None:
    value = {
        "name": "x",
        "n": [1, -2, 3.25, 1e-07, 12345678901234567890],
        "ok": False,
        "none": None,
        "nested": {"deep": [[{"k": '\u00e9\u4e00 "q" \\ /'}]]},
    }
    for options in ({}, {"indent": 2}, {"indent": "\t"}, {"ensure_ascii": False}, {"separators": (",", ":")}):
        assert load(json.dumps(value, **options)) == value


# ---------------------------------------------------------------- files and codes


def test_read_file(tmp_path: Path) -> None:
    spec = tmp_path / "net.yaml"
    spec.write_bytes(b"\xef\xbb\xbfa: 1\n")
    assert read_file(spec).data == {"a": 1}
    assert read_file(spec).file == str(spec)
    document = read_file(str(spec), display_name="specs/net.yaml")
    assert document.file == "specs/net.yaml"
    assert document.sources.values[("a",)].file == "specs/net.yaml"
    spec.write_text("a: 010\n")
    with pytest.raises(SpecError) as caught:
        read_file(spec, display_name="net.yaml")
    assert caught.value.diagnostics[0].file == "net.yaml"
    assert "net.yaml:1:4: error[NS012]" in str(caught.value)
    assert "1 | a: 010" in str(caught.value)


@pytest.mark.parametrize("name", ["missing.yaml", "."])
def test_unreadable_files(tmp_path: Path, name: str) -> None:
    with pytest.raises(SpecError) as caught:
        read_file(tmp_path / name, display_name=name)
    found = caught.value.diagnostics[0]
    assert found.code == "NS020"
    assert found.message.startswith(f"cannot read `{name}`: ")


def test_every_code_in_use_is_documented() -> None:
    source = Path(_load.__file__).read_text()
    used = set(re.findall(r'"(NS\d{3})"', source))
    assert used == set(LOAD_CODES)
    assert all(re.fullmatch(r"NS0\d\d", code) for code in LOAD_CODES)
    assert all(meaning and "\n" not in meaning for meaning in LOAD_CODES.values())


def test_document_and_limits_are_frozen() -> None:
    document = parse_text("a: 1")
    assert isinstance(document, Document)
    with pytest.raises(AttributeError):
        document.data = None  # type: ignore[misc]
    with pytest.raises(AttributeError):
        Limits().max_depth = 5  # type: ignore[misc]


# ---------------------------------------------------------------- round trips


def yaml_1_2_reads_as_string(text: str) -> bool:
    """`yaml.safe_dump` writes YAML 1.1: it leaves `1e3` or `0o7` unquoted, which YAML 1.2 reads as numbers."""
    try:
        return isinstance(_load._resolve_plain(text, Limits()), str)
    except _load._ScalarProblem:
        return False


KEYS = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True)
# DEL and C1 controls are valid raw in JSON strings but not in YAML; NEL (U+0085) is a YAML line break.
JSON_TEXT = st.text(
    st.characters(exclude_categories=("Cs",), exclude_characters="\x85", codec="utf-8").filter(
        lambda ch: not "\x7f" <= ch <= "\x9f"
    ),
    max_size=12,
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | JSON_TEXT
)
VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4), max_leaves=25
)


def paths_of(value: Any, prefix: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from paths_of(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from paths_of(child, (*prefix, index))


def assert_loads_back(text: str, value: Any) -> None:
    document = parse_text(text, file="f")
    assert document.data == value
    assert json.dumps(document.data, sort_keys=True) == json.dumps(value, sort_keys=True)  # -0.0, types, order
    paths = set(paths_of(value))
    assert paths == set(document.sources.values)
    key_paths = {path for path in paths if path and isinstance(path[-1], str)}
    assert key_paths == set(document.sources.keys)
    lines = text.splitlines() or [""]
    for span in document.sources.values.values():
        assert 1 <= span.line <= span.end_line <= len(lines) + 1
        assert span.column >= 1 and span.end_column >= 1


@given(VALUES, st.sampled_from([None, 2, "\t"]), st.booleans())
@settings(PROPERTY, max_examples=120)
def test_json_round_trip(value: Any, indent: int | str | None, ensure_ascii: bool) -> None:
    text = json.dumps(value, indent=indent, ensure_ascii=ensure_ascii)
    for event_loader in LOADERS:
        with using_loader(event_loader):
            assert_loads_back(text, value)


def strings_in(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        yield from value
        for child in value.values():
            yield from strings_in(child)
    elif isinstance(value, list):
        for child in value:
            yield from strings_in(child)


@given(VALUES, st.sampled_from([False, True, None]), st.booleans())
@settings(PROPERTY, max_examples=120)
def test_yaml_round_trip(value: Any, flow: bool | None, allow_unicode: bool) -> None:
    if not all(yaml_1_2_reads_as_string(text) for text in strings_in(value)):
        return
    text = yaml.safe_dump(value, default_flow_style=flow, allow_unicode=allow_unicode, sort_keys=False)
    for event_loader in LOADERS:
        with using_loader(event_loader):
            assert_loads_back(text, value)


@given(VALUES)
@settings(PROPERTY, max_examples=60)
def test_both_parsers_agree_on_spans(value: Any) -> None:
    text = yaml.safe_dump(value, sort_keys=False)
    if not all(yaml_1_2_reads_as_string(s) for s in strings_in(value)) or LIBYAML is None:
        return
    with using_loader(yaml.SafeLoader):
        pure = parse_text(text)
    with using_loader(LIBYAML):
        fast = parse_text(text)
    assert pure.sources.values == fast.sources.values
    assert pure.sources.keys == fast.sources.keys


def test_non_finite_floats_from_json_module_are_refused() -> None:
    assert problem(json.dumps([1.0, math.inf])).code == "NS013"
