"""Glob patterns (project include/exclude, `netspec validate GLOB`, init-rule `nodes`) are matched by an
automaton in time linear in the text: a hostile pattern cannot make matching backtrack."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from work import calls

import netspec
from netspec._cli import main
from netspec._glob import MAX_GLOB_LENGTH, GlobError, compile_glob

HOSTILE = "**a**a**a**a**a**a**b"


def _steps(pattern: str, text: str, separator: str = "/") -> int:
    matched, steps = compile_glob(pattern, separator, prefix=separator == "/").steps(text)
    assert not matched
    return steps


@pytest.mark.parametrize("separator", ["/", "."])
def test_a_hostile_pattern_costs_steps_linear_in_the_text(separator: str) -> None:
    small, large = _steps(HOSTILE, "a" * 150 + ".yaml", separator), _steps(HOSTILE, "a" * 300 + ".yaml", separator)
    assert large <= 2.1 * small
    states = len(compile_glob(HOSTILE, separator).states) + 2
    assert large <= states * (300 + 5)  # at most one step per state per character


def test_more_wildcards_cost_steps_linear_in_the_pattern() -> None:
    four, eight = (_steps("**a" * k + "**b", "a" * 200) for k in (4, 8))
    assert eight <= 2.1 * four


# Wildcard families whose naive matching grows as pattern x text (or backtracks): the matcher moves
# every state at once with a few integer operations per character, so its calls (`tests/work.py`,
# the real work) grow with the text only, and its units are `step_units()` per character read.
FAMILIES = [
    lambda k: "*a" * k + "*b",
    lambda k: "**a" * k + "**b",
    lambda k: "*a." * k + "*b",
    lambda k: "**.a" * k + "*b",
    lambda k: "[ab]*" * k + "?c",
    lambda k: "a?" * k + "*b",
    lambda k: "*" + "a" * (4 * k) + "b",  # a long literal after one wildcard: a state per character before
    lambda k: "**" + "a" * (4 * k) + "b",
    lambda k: "**" + "ab" * k + "c",
    lambda k: "*" + "a" * k + "*" + "a" * k + "b",
    lambda k: "*" + "a?" * k + "b",  # characters mixed with `?` after a wildcard
]


@pytest.mark.parametrize("family", range(len(FAMILIES)))
@pytest.mark.parametrize("text", [lambda n: "a" * n, lambda n: ".".join(["aaaa"] * (n // 5))])
def test_the_work_grows_with_the_text_not_the_pattern(family: int, text: Any) -> None:
    make = FAMILIES[family]

    def work(k: int, n: int) -> int:
        glob = compile_glob(make(k), ".")
        glob.steps("ab.")  # its masks are made once per pattern, before counting
        return calls(lambda: glob.steps(text(n)))[0]

    if text(8) == "a" * 8:  # no family's states all die on it: every character is read
        assert work(200, 400) <= 1.1 * work(50, 400)  # a pattern four times as long: about the same work
    assert work(100, 800) <= 2.2 * work(100, 400)
    glob = compile_glob(make(100), ".")
    assert glob.step_units() == 16 + len(glob.states) // 32
    matched, units = glob.steps(text(400))
    assert not matched and units <= glob.step_units() * len(text(400)) + len(glob.states)


def test_the_units_are_per_character_read() -> None:
    glob = compile_glob("*a*b", ".")  # 4 states: 16 units a character
    assert glob.step_units() == 16
    assert glob.steps("a") == (False, 16)
    assert glob.steps("a" * 40) == (False, 16 * 40)
    assert glob.steps("a" * 40 + "b") == (True, 16 * 41)
    assert compile_glob("ab*", ".").steps("b" + "a" * 99) == (False, 16)  # nothing left after `b`: stops
    long = compile_glob("*" + "a" * 1000 + "b", ".")
    assert long.step_units() == 16 + 1002 // 32
    sets = compile_glob("[ab][!c]*", ".")  # a character met for the first time is tried against each set
    assert sets.steps("ab") == (True, 2 * 16 + 2 * 2)
    assert sets.steps("ba") == (True, 2 * 16)  # both known now
    many = "".join(chr(0x4E00 + i) for i in range(1000))  # more distinct characters than it remembers
    assert sets.steps("a" + many) == (True, 1001 * 16 + 2 * 1000)
    assert sets.steps("a" + many[-1]) == (True, 2 * 16 + 2)  # past the first 512: tried again
    assert len(sets._masks.advance) == 512
    plain = compile_glob("*a", ".")  # no sets: the characters it does not name cost nothing more
    assert plain.steps(many + "a") == (True, 1001 * 16) and len(plain._masks.advance) == 1


TOKENS = {"a": "a", "b": "b", ".": "\\.", "*": "[^.]*", "**": ".*", "?": "[^.]", "[ab]": "[ab]", "[!a]": "[^a.]"}


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(sorted(TOKENS)), max_size=7), st.text("abc.", max_size=9))
def test_sets_and_wildcards_match_what_the_regular_expression_means(tokens: list[str], text: str) -> None:
    pattern = "".join(tokens)
    expected = re.fullmatch(_regex_of_tokens(pattern), text) is not None
    assert compile_glob(pattern, ".").match(text) is expected


def _regex_of_tokens(pattern: str) -> str:
    out, i = [], 0
    while i < len(pattern):
        token = next(t for t in ("**", "[ab]", "[!a]", pattern[i]) if pattern.startswith(t, i))
        out.append(TOKENS[token])
        i += len(token)
    return "".join(out)


@settings(max_examples=200, deadline=None)
@given(st.text("ab/*?", max_size=8), st.text("ab/", max_size=8))
def test_a_folder_glob_covers_what_is_under_it(pattern: str, text: str) -> None:
    expected = re.fullmatch(_regex(pattern) + "(?:/.*)?", text) is not None
    assert compile_glob(pattern, "/", prefix=True).match(text) is expected


@settings(max_examples=300, deadline=None)
@given(st.text("aab.*?", max_size=12), st.text("aab.", max_size=14))
def test_dotted_names_match_what_the_regular_expression_means(pattern: str, text: str) -> None:
    expected = re.fullmatch(_regex(pattern, "."), text) is not None
    assert compile_glob(pattern, ".").match(text) is expected


def _regex(pattern: str, separator: str = "/") -> str:
    """The reference meaning of a glob without sets, as a regular expression (for short texts only)."""
    out, i = [], 0
    part = f"[^{re.escape(separator)}]"
    while i < len(pattern):
        if separator == "/" and pattern.startswith("**/", i):
            out.append("(?:[^/]+/)*")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        else:
            out.append({"*": part + "*", "?": part}.get(pattern[i], re.escape(pattern[i])))
            i += 1
    return "".join(out)


@settings(max_examples=300, deadline=None)
@given(st.text("ab/*?", max_size=8), st.text("ab/", max_size=8))
def test_the_automaton_means_what_the_regular_expression_means(pattern: str, text: str) -> None:
    expected = re.fullmatch(_regex(pattern), text) is not None
    assert compile_glob(pattern).match(text) is expected


@pytest.mark.parametrize(
    ("pattern", "text", "matches"),
    [
        ("[a-c]x", "bx", True),
        ("[a-c]x", "dx", False),
        ("[!a-c]x", "dx", True),
        ("[^a-c]x", "ax", False),
        ("[]a]", "]", True),
        ("[!]]", "]", False),
        ("[!]]", "q", True),
        ("[ab", "[ab", True),  # an unclosed `[` is literal
        ("[/]", "/", False),  # a set never matches the separator
        ("a-[x-]", "a--", True),  # `-` last is a character
    ],
)
def test_character_sets(pattern: str, text: str, matches: bool) -> None:
    assert compile_glob(pattern).match(text) is matches


def test_patterns_that_are_not_globs() -> None:
    with pytest.raises(GlobError, match="reversed range `z-a`"):
        compile_glob("[z-a]")
    with pytest.raises(GlobError, match="longer than"):
        compile_glob("a" * (MAX_GLOB_LENGTH + 1))


def test_validate_with_a_hostile_exclude_finishes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "netspec.toml").write_text(f"exclude = [{HOSTILE!r}]\n")
    name = tmp_path / ("a" * 150 + ".yaml")
    name.write_text("netspec: 1\nname: t\ninputs: {x: [N, 4]}\nnodes:\n  fc: {op: Linear, out_features: 2}\n")
    assert main(["validate", str(tmp_path)]) == 0
    assert "1 file" in capsys.readouterr().out


def test_a_cli_glob_that_is_not_a_glob_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "specs/[z-a]/*.yaml"]) == 2
    err = capsys.readouterr().err
    assert "is not a glob: it has the reversed range `z-a`" in err and "Traceback" not in err


def test_an_init_pattern_with_a_reversed_range_is_located() -> None:
    text = (
        "netspec: 1\nname: t\ninputs: {x: [N, 4]}\nnodes:\n  fc: {op: Linear, out_features: 2}\n"
        "init:\n  - {nodes: ['fc', '[z-a]'], weight: zeros}\n"
    )
    with pytest.raises(netspec.SpecError) as err:
        netspec.loads(text)
    (found,) = err.value.diagnostics
    assert found.code == "NS180" and "reversed range `z-a`" in found.message
    assert (found.line, found.path) == (7, "init[0].nodes[1]")


def test_an_init_pattern_with_a_range_matches() -> None:
    text = (
        "netspec: 1\nname: t\ninputs: {x: [N, 4]}\nnodes:\n  fc1: {op: Linear, out_features: 4}\n"
        "  fc2: {op: Linear, out_features: 2}\ninit:\n  - {nodes: ['fc[2-9]'], weight: zeros}\n"
    )
    model = netspec.build(netspec.loads(text))
    assert not model.fc2.weight.any() and model.fc1.weight.any()
