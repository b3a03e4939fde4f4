"""Glob patterns (project include/exclude, `netspec validate GLOB`, init-rule `nodes`) are matched by an
automaton in time linear in the text: a hostile pattern cannot make matching backtrack."""

from __future__ import annotations

import re
from pathlib import Path

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


def _regex(pattern: str) -> str:
    """The reference meaning of a glob without sets, as a regular expression (for short texts only)."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:[^/]+/)*")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        else:
            out.append({"*": "[^/]*", "?": "[^/]"}.get(pattern[i], re.escape(pattern[i])))
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
