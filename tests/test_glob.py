"""Glob patterns (project include/exclude, `netspec validate GLOB`, init-rule `nodes`) are matched by an
automaton in time linear in the text: a hostile pattern cannot make matching backtrack."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


# Wildcard families whose naive matching grows as pattern x text: with the wildcards' redundant
# states dropped, doubling both the pattern and the text at most about doubles the steps.
FAMILIES = [
    lambda k: "*a" * k + "*b",
    lambda k: "**a" * k + "**b",
    lambda k: "*a." * k + "*b",
    lambda k: "**.a" * k + "*b",
    lambda k: "[ab]*" * k + "?c",
    lambda k: "a?" * k + "*b",
    lambda k: "*" + "a" * k + "b",  # a run of characters after a wildcard: carried as its furthest state
    lambda k: "**" + "ab" * k + "c",
    lambda k: "*" + "a" * k + "*" + "a" * k + "b",
]


@pytest.mark.parametrize("family", range(len(FAMILIES)))
@pytest.mark.parametrize("text", [lambda n: "a" * n, lambda n: ".".join(["aaaa"] * (n // 5))])
def test_doubling_the_pattern_and_the_text_at_most_doubles_the_steps(family: int, text: Any) -> None:
    make = FAMILIES[family]
    small = compile_glob(make(50), ".").steps(text(200))[1]
    large = compile_glob(make(100), ".").steps(text(400))[1]
    assert large <= 2.2 * max(small, 1), (small, large)


def test_the_steps_are_those_of_the_states_carried() -> None:
    # `*a*b` (states `*`, `a`, `*`, `b`): at the start the first `*` reaches `a` (1 step); the first
    # `a` is read by both (2) and reaches the second `*`, which reaches `b` (2), and the second `*`
    # drops the first `*` and `a`. Each later `a`: read by `*` and `b` (2), `b` reached again (1).
    glob = compile_glob("*a*b", ".")
    assert glob.steps("a") == (False, 1 + 2 + 2)
    assert glob.steps("a" * 40) == (False, 5 + 39 * 3)
    assert glob.steps("a" * 40 + "b") == (True, 5 + 40 * 3)


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
