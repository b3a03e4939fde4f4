"""Diagnostics echo spec text: terminal control and CI workflow commands are escaped."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hostile import CORPUS, located_error, spec_with_nodes

import netspec

ANSI_OP = '"\\e[31mRed\\e]0;title\\a\\e[2J\\x9b31m\\u202eevil"'


def test_control_characters_are_escaped_in_str() -> None:
    err = located_error(lambda: netspec.loads(spec_with_nodes(f"  a: {{op: {ANSI_OP}}}\n")))
    text = str(err)
    assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text and "\u202e" not in text
    assert "\\u001b[31mRed" in text


def test_newlines_in_values_do_not_fake_diagnostics() -> None:
    err = located_error(lambda: netspec.loads(spec_with_nodes('  a: {op: "x\\nspec.yaml:1:1: error[NS000]: fake"}\n')))
    assert not any(line.startswith("spec.yaml:1:1") for line in str(err).splitlines())


def test_color_rendering_escapes_spec_text_too() -> None:
    err = located_error(lambda: netspec.loads(spec_with_nodes(f"  a: {{op: {ANSI_OP}}}\n")))
    assert "\x1b]0;" not in err.render(color=True)


CLI_EXISTS = (Path(netspec.__file__).parent / "_cli.py").exists()


@pytest.mark.skipif(not CLI_EXISTS, reason="the `netspec` command (netspec/_cli.py) is not written yet")
@pytest.mark.parametrize("name", ["github_command.yaml", "ansi_escape.yaml", "control_chars.yaml"])
def test_github_format_cannot_start_a_workflow_command(name: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "netspec", "validate", "--format", "github", name],
        cwd=CORPUS,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    commands = [line for line in lines if line.startswith("::")]
    assert commands and all(line.startswith("::error file=") for line in commands), lines
    assert len(commands) == 1, lines  # one diagnostic, one command: the value's own `::` and newline are escaped
    assert "\r" not in result.stdout and "\x1b" not in result.stdout
    assert all(line.startswith(("::error", "netspec:")) for line in lines), lines


@pytest.mark.skipif(not CLI_EXISTS, reason="the `netspec` command (netspec/_cli.py) is not written yet")
def test_github_properties_escape_separators(tmp_path) -> None:
    path = tmp_path / "a,b::c.yaml"
    path.write_text(spec_with_nodes("  a: {op: nope}\n"))
    result = subprocess.run(
        [sys.executable, "-m", "netspec", "validate", "--format", "github", path.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    first = result.stdout.splitlines()[0]
    assert first.startswith("::error file=a%2Cb%3A%3Ac.yaml,line=5,"), first


@pytest.mark.parametrize(
    "name",
    ["evil\x1b]0;owned\x07.yaml", "a\rspec.yaml:1:1: error[NS000]: forged.yaml", "x\u202eyaml.json", "bad\udcff.yaml"],
)
def test_file_names_are_escaped_in_the_text_format(name: str) -> None:
    from netspec._errors import Diagnostic, render_diagnostic

    shown = render_diagnostic(Diagnostic("unknown op", file=name, line=1, column=1, code="NS141"))
    head = shown.splitlines()[0]
    assert head.isprintable() and "\x1b" not in head and "\r" not in head
    head.encode("utf-8")  # a strict UTF-8 stdout takes it


def test_a_column_far_into_a_long_line_is_shown_around_it() -> None:
    nodes = ", ".join(f"a{i}: ReLU" for i in range(2000))
    text = f"name: t\ninputs: {{x: [N, 4]}}\nnodes: {{{nodes}, z: {{op: Nope}}}}\n"
    with pytest.raises(netspec.SpecError) as info:
        netspec.loads(text)
    (error,) = info.value.diagnostics
    assert (error.code, error.line, error.column) == ("NS141", 3, text.splitlines()[2].index("Nope") + 1)
    lines = str(info.value).splitlines()
    assert max(len(line) for line in lines) <= 400  # the caret line was as long as the column
    shown, caret = lines[3], lines[4]
    assert shown.startswith("3 | ...") and shown[caret.index("^") : caret.index("^") + 4] == "Nope"


CONTROL_NAMES = ["evil\nname.yaml", "evil\x1b[31mred.yaml", "evil\u202eLMX.yaml", "a\x00b.yaml"]


@pytest.mark.parametrize("name", CONTROL_NAMES[1:])  # a name with a newline reads as spec text
def test_a_missing_file_is_an_ns101_at_the_start_of_its_escaped_name(name: str) -> None:
    with pytest.raises(netspec.SpecError) as info:
        netspec.load(name)
    diagnostic = info.value.diagnostics[0]
    shown = name.replace("\n", "\\n").replace("\x1b", "\\u001b").replace("\u202e", "\\u202e").replace("\x00", "\\u0000")
    assert (diagnostic.code, diagnostic.file, diagnostic.line, diagnostic.column) == ("NS101", shown, 1, 1)
    assert f"`{shown}`" in diagnostic.message
    assert str(info.value).startswith(f"{shown}:1:1: error[NS101]")


def test_a_source_that_is_not_a_mapping_is_an_ns102_at_line_1_column_1() -> None:
    with pytest.raises(netspec.SpecError) as info:
        netspec.loads("~\n")
    diagnostic = info.value.diagnostics[0]
    assert (diagnostic.code, diagnostic.file, diagnostic.line, diagnostic.column) == ("NS102", "<string>", 1, 1)


@pytest.mark.skipif(sys.platform == "win32", reason="control characters in file names")
def test_file_names_are_escaped_alike_in_every_format(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """`Diagnostic.file`, text, JSON and GitHub output name a file with control characters the same way."""
    import json

    from netspec._cli import main

    monkeypatch.chdir(tmp_path)
    names = {"evil\nname.yaml": "evil\\nname.yaml", "evil\x1b[31mred.yaml": "evil\\u001b[31mred.yaml"}
    names["evil\u202eLMX.yaml"] = "evil\\u202eLMX.yaml"
    for name in names:
        (tmp_path / name).write_text(spec_with_nodes("  a: {op: Bogus}\n"))
    for name, shown in names.items():
        with pytest.raises(netspec.SpecError) as info:
            netspec.load(name)
        diagnostic = info.value.diagnostics[0]
        assert (diagnostic.code, diagnostic.file) == ("NS141", shown)
        line, column = diagnostic.line, diagnostic.column
        assert str(info.value).startswith(f"{shown}:{line}:{column}: error[NS141]")
        assert main(["validate", name, "--format", "json"]) == 1
        report = json.loads(capsys.readouterr().out)["files"][0]
        assert report["file"] == shown and report["diagnostics"][0]["file"] == shown
        assert main(["validate", name, "--format", "github"]) == 1
        assert f"::error file={shown},line={line},col={column}" in capsys.readouterr().out
    assert main(["validate", ".", "--format", "json"]) == 1
    walked = sorted(f["file"] for f in json.loads(capsys.readouterr().out)["files"])
    assert walked == sorted(names.values())
