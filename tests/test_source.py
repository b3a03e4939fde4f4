"""One decision of what a source is, shared by the API, the command line and `extends:`; specs are
never written after they are made."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

import netspec
from netspec._cli import main
from netspec._source import locate

TINY = {"name": "tiny", "inputs": {"x": [1, 4]}, "nodes": {"fc": {"op": "Linear", "out_features": 2}}}
TINY_YAML = "name: tiny\ninputs: {x: [1, 4]}\nnodes:\n  fc: {op: Linear, out_features: 2}\n"


def _problem(source: object) -> netspec.Diagnostic:
    with pytest.raises(netspec.SpecError) as caught:
        locate(source)  # type: ignore[arg-type]
    (problem,) = caught.value.diagnostics
    assert problem.code == "NS101"
    return problem


def test_kinds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.yaml").write_text(TINY_YAML)
    assert locate(TINY).kind == "data"
    assert locate("resnet18").kind == "bundled"
    assert locate("mine.yaml").kind == "file"
    assert locate(tmp_path / "mine.yaml").kind == "file"
    assert locate(TINY_YAML, text=True).kind == "text"


def test_an_existing_path_wins_over_a_bundled_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "resnet18").write_text(TINY_YAML)
    located = locate("resnet18")
    assert located.kind == "file" and located.path == (tmp_path / "resnet18").resolve()
    assert netspec.load("resnet18").name == "tiny"


def test_what_is_not_a_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder").mkdir()
    assert "is a folder" in _problem("folder").message
    assert _problem("missing.yaml").message == "no such spec file: `missing.yaml`"
    assert _problem(tmp_path / "missing").message.startswith("no such spec file")
    assert "loads" in (_problem(TINY_YAML).hint or "")
    misspelt = _problem("resnt18")
    assert misspelt.message == "`resnt18` is neither a spec file nor a bundled spec"
    assert "resnet18" in (misspelt.hint or "")
    assert "got a int" in _problem(3).message


@pytest.mark.parametrize("source", ["missing.yaml", "resnt18", "sub/dir"])
def test_api_and_command_line_say_the_same(
    source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(netspec.SpecError) as caught:
        netspec.load(source)
    message = caught.value.diagnostics[0].message
    for command in ("validate", "summary"):
        assert main([command, source]) == 2
        assert message in capsys.readouterr().err


def test_a_spec_is_never_written_after_it_is_made():
    spec = netspec.loads(TINY_YAML)
    state = (copy.copy(spec.__dict__), dict(spec.__pydantic_private__ or {}))
    assert netspec.load(spec) is spec
    netspec.build(spec)
    netspec.validate(spec)
    netspec.count_params(spec)
    netspec.infer_shapes(spec)
    assert (spec.__dict__, spec.__pydantic_private__) == state


def test_loading_gives_the_spec_its_findings_at_construction():
    spec = netspec.load({**TINY, "params": {"unused": 3}})
    assert [w.code for w in spec.warnings] and spec.expanded is not None
    plain = netspec.Spec.model_validate(spec.to_dict())
    assert plain == spec and plain.warnings == [] and plain.expanded is None and plain.path is None
