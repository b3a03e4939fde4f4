"""The JSON Schema of the language, for editors and CI: generated from the models, then taught the short
forms (`relu: ReLU`, `in: x`, a list of nodes) that the models accept before validation."""

from __future__ import annotations

from typing import Any

from ._models import NAME_PATTERN, SYMBOL_PATTERN, Spec

__all__ = ["json_schema"]


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the language, generated from the models (for editors and CI)."""
    schema = Spec.model_json_schema(by_alias=True, mode="validation")
    _accept_shorthands(schema)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://netspec.dev/schema/v1.json",
        "title": "netspec spec",
        **{k: v for k, v in schema.items() if k != "title"},
    }


def _one_or_more(item: dict[str, Any], description: str, *, nullable: bool = False) -> dict[str, Any]:
    forms = [item, {"type": "array", "items": item, "minItems": 1}] + ([{"type": "null"}] if nullable else [])
    return {"description": description, "anyOf": forms}


def _accept_shorthands(schema: dict[str, Any]) -> None:
    """Teach the generated schema the short forms the models accept before validation."""
    defs = schema["$defs"]
    name = {"type": "string"}
    node_name = {"pattern": NAME_PATTERN}
    defs["Param"] = {
        "description": "A parameter: its definition, a type name (a required parameter, e.g. `int`), or a default value (type inferred).",
        "anyOf": [{"$ref": "#/$defs/ParamDef"}, {"type": ["boolean", "integer", "number", "string", "array"]}],
    }
    defs["Node"] = {
        "description": "A node: `{op: ..., <args>}`, `{block: ..., <block params>}`, or an op name alone (`ReLU`).",
        "anyOf": [{"$ref": "#/$defs/NodeDef"}, {"type": "string", "description": "an op with no arguments"}],
    }
    defs["Nodes"] = {
        "description": "Named nodes in order, or a list of unnamed nodes (named `0`, `1`, ... by position).",
        "anyOf": [
            {
                "type": "object",
                "additionalProperties": {"$ref": "#/$defs/Node"},
                "propertyNames": node_name,
                "minProperties": 1,
            },
            {"type": "array", "items": {"$ref": "#/$defs/Node"}, "minItems": 1},
        ],
    }
    node = defs["NodeDef"]
    node["properties"]["in"] = _one_or_more(name, node["properties"]["in"]["description"])
    node["properties"]["repeat"] = {
        **node["properties"]["repeat"],
        "anyOf": [{"type": "integer", "minimum": 0}, {"type": "string"}],
    }
    node["oneOf"] = [{"required": ["op"]}, {"required": ["block"]}]
    block = defs["BlockDef"]
    block["properties"]["inputs"] = _one_or_more(name, block["properties"]["inputs"]["description"])
    block["properties"]["nodes"] = {"$ref": "#/$defs/Nodes", "description": block["properties"]["nodes"]["description"]}
    for owner in (block, schema):
        owner["properties"]["params"]["additionalProperties"] = {"$ref": "#/$defs/Param"}
        owner["properties"]["params"]["propertyNames"] = {"pattern": SYMBOL_PATTERN}
    rule = defs["InitRule"]
    for key in ("ops", "nodes"):
        rule["properties"][key] = _one_or_more(name, rule["properties"][key]["description"], nullable=True)
    props = schema["properties"]
    props["nodes"] = {"$ref": "#/$defs/Nodes", "description": props["nodes"]["description"]}
    props["outputs"] = _one_or_more(name, props["outputs"]["description"], nullable=True)
    props["inputs"]["propertyNames"] = node_name
    for key in ("blocks", "dims"):
        props[key]["propertyNames"] = {"pattern": SYMBOL_PATTERN}
    # A spec that extends another may leave out what it inherits.
    required = schema.pop("required")
    schema["if"] = {"required": ["extends"]}
    schema["else"] = {"required": required}
