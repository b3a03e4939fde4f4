"""The JSON Schema: current on disk, valid Draft 2020-12, and in agreement with the loader."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import jsonschema
import pytest

import netspec
from netspec._load import parse_text

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_FILE = ROOT / "docs" / "netspec.schema.json"
SPECS = Path(__file__).parent / "specs"
BUNDLED = sorted((ROOT / "specs").glob("*.yaml"))
VALID = sorted(p for p in (SPECS / "valid").iterdir() if p.suffix in (".yaml", ".json"))
# Invalid fixtures whose problem is one of structure, which the schema sees too.
SCHEMA_INVALID = [
    "unknown_top_level.yaml",
    "unknown_field.yaml",
    "missing_field.yaml",
    "wrong_type.yaml",
    "bad_version.yaml",
    "bad_name.yaml",
]


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = netspec.json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _data(path: Path) -> object:
    return parse_text(path.read_bytes(), file=path.name).data


def test_schema_file_is_current() -> None:
    on_disk = json.loads(SCHEMA_FILE.read_text())
    assert on_disk == netspec.json_schema(), "docs/netspec.schema.json is out of date: run `python tools/gen_schema.py`"


def test_gen_schema_check_mode(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("gen_schema", ROOT / "tools" / "gen_schema.py")
    assert spec is not None and spec.loader is not None
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert tool.main(["--check"]) == 0, capsys.readouterr().out


def test_schema_is_draft_2020_12(validator: jsonschema.Draft202012Validator) -> None:
    assert validator.schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert validator.schema["properties"]["nodes"]["description"]


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.stem)
def test_bundled_specs_validate(path: Path, validator: jsonschema.Draft202012Validator) -> None:
    errors = [e.message for e in validator.iter_errors(_data(path))]
    assert errors == []


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_fixtures_validate(path: Path, validator: jsonschema.Draft202012Validator) -> None:
    errors = [e.message for e in validator.iter_errors(_data(path))]
    assert errors == []


@pytest.mark.parametrize("name", SCHEMA_INVALID)
def test_invalid_fixtures_do_not_validate(name: str, validator: jsonschema.Draft202012Validator) -> None:
    assert not validator.is_valid(_data(SPECS / "invalid" / name))


@pytest.mark.parametrize(
    "data",
    [
        {"name": "n", "inputs": {"x": ["N", 4]}, "nodes": {"a": {"op": "ReLU", "block": "b"}}},  # op and block
        {"name": "n", "inputs": {"x": ["N", 4]}, "nodes": {"a": {"in": "x"}}},  # neither
        {"name": "n", "inputs": {"x": ["N", 4]}, "nodes": {"a": {"op": "ReLU", "repeat": -1}}},
        {"name": "n", "inputs": {"x": ["N", 0]}, "nodes": ["ReLU"]},
        {"name": "n", "inputs": {"x": ["N", 4]}, "nodes": ["ReLU"], "init": [{"ops": "Linear", "weight": "glorot"}]},
        {"name": "n", "inputs": {"x": ["N", 4]}, "nodes": ["ReLU"], "params": {"w": {"default": 3}}},  # no type
    ],
)
def test_schema_rejects(data: object, validator: jsonschema.Draft202012Validator) -> None:
    assert not validator.is_valid(data)
    with pytest.raises(netspec.SpecError):
        netspec.load(data)  # the loader agrees


def test_extending_spec_may_leave_out_inherited_fields(validator: jsonschema.Draft202012Validator) -> None:
    assert validator.is_valid({"extends": "resnet18", "params": {"num_classes": 10}})
    assert not validator.is_valid({"params": {"num_classes": 10}})
