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
    assert on_disk == netspec.json_schema(registered=False), (
        "docs/netspec.schema.json is out of date: run `python tools/gen_schema.py`"
    )


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


_HEAD = {"netspec": 1, "name": "n", "inputs": {"x": ["N", 3, "H", "W"]}}
# Typical mistakes in op arguments: each one is caught by the schema alone (an editor or check-jsonschema).
OP_MISTAKES = {
    "misspelt argument": {"op": "Conv2d", "out_channels": 8, "kernal_size": 3},
    "argument of another op": {"op": "Conv2d", "out_channels": 8, "kernel_size": 3, "num_features": 8},
    "string for an integer": {"op": "Conv2d", "out_channels": "eight", "kernel_size": 3},
    "quoted number": {"op": "Linear", "out_features": "10"},
    "boolean for an integer": {"op": "Linear", "out_features": True},
    "float for an integer": {"op": "Linear", "out_features": 10.5},
    "integer for a boolean": {"op": "Linear", "out_features": 10, "bias": 0},
    "too many sizes": {"op": "Conv2d", "out_channels": 8, "kernel_size": [3, 3, 3]},
    "unknown op": {"op": "Conv2D", "out_channels": 8, "kernel_size": 3},
    "unknown op shorthand": "Relu",
    "choice not among the choices": {"op": "pad", "mode": "reflection"},
    "list for a number": {"op": "Dropout", "p": [0.5]},
    "object for a value": {"op": "MaxPool2d", "kernel_size": {"size": 2}},
    "null for a required size": {"op": "PixelShuffle", "upscale_factor": None},
}


@pytest.mark.parametrize("node", list(OP_MISTAKES.values()), ids=list(OP_MISTAKES))
def test_schema_catches_op_argument_mistakes(node: object, validator: jsonschema.Draft202012Validator) -> None:
    assert not validator.is_valid({**_HEAD, "nodes": {"a": node}})
    with pytest.raises(netspec.SpecError):
        netspec.load({**_HEAD, "nodes": {"a": node}})  # the loader agrees


def test_schema_error_names_the_misspelt_argument(validator: jsonschema.Draft202012Validator) -> None:
    error = jsonschema.exceptions.best_match(
        validator.iter_errors({**_HEAD, "nodes": {"a": OP_MISTAKES["misspelt argument"]}})
    )
    assert error is not None and "kernal_size" in error.message


@pytest.mark.parametrize(
    "node",
    [
        {"op": "Conv2d", "out_channels": "$width", "kernel_size": ["$k", "${k}"], "bias": False},
        {"op": "Conv2d", "out_channels": "${width * 2}", "kernel_size": 3, "padding": "same"},
        {"op": "$kind", "anything": 1},  # an op chosen by expression is checked when expanded
        {"op": "BatchNorm2d"},  # inferred arguments may be left out
        {"op": "concat", "in": ["a", "b"], "dim": 1, "doc": "a note"},
        "ReLU",
    ],
)
def test_schema_accepts_expressions_and_shorthands(node: object, validator: jsonschema.Draft202012Validator) -> None:
    assert validator.is_valid({**_HEAD, "params": {"width": 8, "k": 3, "kind": "ReLU"}, "nodes": {"a": node}})


def test_op_definitions_carry_types_defaults_and_descriptions() -> None:
    schema = netspec.json_schema(registered=False)
    conv = schema["$defs"]["op.Conv2d"]
    assert conv["properties"]["op"] == {"const": "Conv2d"}
    assert conv["additionalProperties"] is False
    stride = conv["properties"]["stride"]
    assert stride["default"] == 1 and "stride" in stride["description"]
    assert {"type": "integer"} in stride["anyOf"][0]["anyOf"]
    assert "Conv2d" in schema["$defs"]["NodeDef"]["properties"]["op"]["anyOf"][0]["enum"]
    assert "in_channels" in conv["properties"] and "in_channels" not in conv.get("required", [])


def test_netspec_schema_includes_registered_ops() -> None:
    from netspec._ops import unregister_op

    netspec.register_op("SchemaGate", "torch.nn.Softshrink", args={"lambd": (float, 0.5)}, shape=lambda i, a, c: i[0])
    try:
        schema = netspec.json_schema()
        assert "SchemaGate" in schema["$defs"]["NodeDef"]["properties"]["op"]["anyOf"][0]["enum"]
        assert schema["$defs"]["op.SchemaGate"]["properties"]["lambd"]["default"] == 0.5
        assert "SchemaGate" not in json.dumps(netspec.json_schema(registered=False))
    finally:
        unregister_op("SchemaGate")
