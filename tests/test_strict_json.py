"""A `.json` spec is JSON: what only YAML allows is an error at its place."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import netspec
from netspec._load import read_file

VALID = {
    "netspec": 1,
    "name": "tiny",
    "inputs": {"x": ["N", 3, 8, 8]},
    "nodes": {"conv": {"op": "Conv2d", "out_channels": 4, "kernel_size": 3}, "relu": "ReLU"},
}
TEXT = json.dumps(VALID, indent=2)


def _error(tmp_path: Path, text: str, name: str = "net.json") -> netspec.Diagnostic:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(netspec.SpecError) as caught:
        netspec.validate(str(path))
    (diagnostic,) = caught.value.errors
    return diagnostic


def _place(text: str, fragment: str) -> tuple[int, int]:
    index = text.index(fragment)
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


CASES = {
    "trailing comma in an object": (
        TEXT.replace('"ReLU"\n', '"ReLU",\n'),
        '"ReLU",',
        len('"ReLU"'),
        "trailing comma before the end of the object",
    ),
    "trailing comma in a list": (TEXT.replace("8\n    ]", "8,\n    ]"), "8,\n    ]", 1, "end of the list"),
    "line comment": (TEXT.replace('  "name"', '  // the name\n  "name"'), "// the name", 0, "JSON has no comments"),
    "block comment": (TEXT.replace('  "name"', '  /* note */ "name"'), "/* note */", 0, "JSON has no comments"),
    "hash comment": (TEXT.replace('  "name"', '  # note\n  "name"'), "# note", 0, "JSON has no comments"),
    "single quotes": (TEXT.replace('"tiny"', "'tiny'"), "'tiny'", 0, "single-quoted string"),
    "bare word": (TEXT.replace('"ReLU"', "ReLU"), "ReLU\n", 0, "`ReLU` is not a JSON value"),
    "Python boolean": (TEXT.replace('"kernel_size": 3', '"bias": True, "kernel_size": 3'), "True", 0, "`True`"),
    "unquoted key": (TEXT.replace('"name":', "name:"), "name:", 0, "key without double quotes"),
}


@pytest.mark.parametrize(("text", "fragment", "offset", "words"), CASES.values(), ids=list(CASES))
def test_what_json_does_not_allow_is_an_error_at_its_place(
    tmp_path: Path, text: str, fragment: str, offset: int, words: str
) -> None:
    diagnostic = _error(tmp_path, text)
    assert diagnostic.code == "NS021"
    assert words in diagnostic.message
    line, column = _place(text, fragment)
    assert (diagnostic.line, diagnostic.column) == (line, column + offset)
    assert diagnostic.file.endswith("net.json") and diagnostic.hint


def test_strict_json_is_valid_and_keeps_its_spans(tmp_path: Path) -> None:
    path = tmp_path / "net.json"
    path.write_text(TEXT)
    assert netspec.validate(str(path)) == []
    doc = read_file(path)
    assert (
        doc.sources.span(("nodes", "conv", "out_channels")).line == TEXT[: TEXT.index('"out_channels"')].count("\n") + 1
    )


def test_upper_case_suffix_is_json_too(tmp_path: Path) -> None:
    assert _error(tmp_path, TEXT.replace('"ReLU"\n', '"ReLU",\n'), "NET.JSON").code == "NS021"


def test_yaml_files_keep_yaml_flow_syntax(tmp_path: Path) -> None:
    """The same trailing comma in a `.yaml` file is YAML flow syntax, which allows it."""
    path = tmp_path / "net.yaml"
    path.write_text(TEXT.replace('"ReLU"\n', '"ReLU",\n'))
    assert netspec.validate(str(path)) == []


def test_non_finite_numbers_keep_their_own_diagnostic(tmp_path: Path) -> None:
    text = TEXT.replace('"out_channels": 4', '"out_channels": NaN')
    assert _error(tmp_path, text).code == "NS013"


def test_cli_reports_the_place(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from netspec._cli import main

    path = tmp_path / "net.json"
    path.write_text(TEXT.replace('"ReLU"\n', '"ReLU",\n'))
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr()
    assert "NS021" in out.out + out.err and "trailing comma" in out.out + out.err
