"""The JSON Schema of the language, for editors and CI: generated from the models, then taught the short
forms (`relu: ReLU`, `in: x`, a list of nodes) that the models accept before validation, and the op
catalog: op names as an enum, and each op's arguments with their types, defaults and descriptions, so
that editors complete op and argument names and flag misspelt ones.

A node with `op: X` is checked against the definition `op.X` (through `if`/`then`, which editors
and validators both understand); a node whose `op` is an expression (`$kind`) is only checked
for its structure. Every place a value goes also accepts an expression (`$name`, `${...}`),
which the spec resolves before its arguments are checked.
"""

from __future__ import annotations

import json
import math
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any, Literal, Union

from ._args import ArgSpec, OpDef, _describe_type
from ._models import NodeDef, Spec
from ._names import identifier_schema, node_name_schema
from ._ops import builtin_ops, catalog, load_plugins

__all__ = ["EXPRESSION", "add_op_schemas", "arg_schema", "json_schema"]


def json_schema(*, registered: bool = True) -> dict[str, Any]:
    """The JSON Schema of the language, generated from the models and the op catalog (for editors and CI).

    Node definitions are discriminated by `op`: op names are an enum, and a node with `op: X` is
    checked against X's arguments (types, defaults, descriptions; expressions accepted where a
    value goes). With `registered` (the default) the ops of installed plugins and of `register_op`
    are included; without, the built-in catalog only (the schema file shipped in docs/).
    """
    schema = Spec.model_json_schema(by_alias=True, mode="validation")
    _accept_shorthands(schema)
    if registered:
        load_plugins()
    ops = catalog() if registered else builtin_ops()
    node_keys = [field.alias or name for name, field in NodeDef.model_fields.items()]
    # In a spec with `extends`, a new node may say where it goes among the parent's nodes.
    for key in ("before", "after"):
        schema["$defs"]["NodeDef"]["properties"][key] = {
            "type": "string",
            "description": f"With `extends`: place this node {key} the parent's node of this name.",
        }
    add_op_schemas(schema, ops, [*node_keys, "before", "after"])
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
    node_name = node_name_schema()
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
                # a node name, or a name template (`denselayer${i}`) rendered when the spec is expanded
                "propertyNames": {"anyOf": [node_name, {"pattern": r"\$\{"}]},
                "minProperties": 1,
            },
            {"type": "array", "items": {"$ref": "#/$defs/Node"}, "minItems": 1},
        ],
    }
    node = defs["NodeDef"]
    node["properties"]["in"] = _one_or_more(name, node["properties"]["in"]["description"])
    node["properties"]["repeat"] = {
        **node["properties"]["repeat"],
        "anyOf": [{"type": "integer", "minimum": 0}, {"type": "string"}, {"$ref": "#/$defs/RepeatDef"}],
    }
    node["oneOf"] = [{"required": ["op"]}, {"required": ["block"]}]
    block = defs["BlockDef"]
    block["properties"]["inputs"] = _one_or_more(name, block["properties"]["inputs"]["description"])
    block["properties"]["nodes"] = {"$ref": "#/$defs/Nodes", "description": block["properties"]["nodes"]["description"]}
    for owner in (block, schema):
        owner["properties"]["params"]["additionalProperties"] = {"$ref": "#/$defs/Param"}
        owner["properties"]["params"]["propertyNames"] = identifier_schema()
    rule = defs["InitRule"]
    for key in ("ops", "nodes"):
        rule["properties"][key] = _one_or_more(name, rule["properties"][key]["description"], nullable=True)
    props = schema["properties"]
    props["nodes"] = {"$ref": "#/$defs/Nodes", "description": props["nodes"]["description"]}
    props["outputs"] = _one_or_more(name, props["outputs"]["description"], nullable=True)
    props["inputs"]["propertyNames"] = identifier_schema()
    for key in ("blocks", "dims"):
        props[key]["propertyNames"] = identifier_schema()
    # A spec that extends another may leave out what it inherits.
    required = schema.pop("required")
    schema["if"] = {"required": ["extends"]}
    schema["else"] = {"required": required}


# A whole-string expression: `$name` or `${...}` (`$$` is an escaped literal dollar, not an expression).
EXPRESSION: dict[str, Any] = {
    "type": "string",
    "pattern": r"^\$(\{|[A-Za-z_])",
    "description": "An expression: `$name` or `${...}`, evaluated when the spec is expanded.",
}
_EXPR_REF = {"$ref": "#/$defs/Expression"}


def arg_schema(annotation: Any) -> dict[str, Any]:
    """The JSON Schema of a value of type `annotation`, where an expression may stand for any value."""
    schema = _type_schema(annotation)
    return {"anyOf": [schema, _EXPR_REF]} if schema else {}


def _type_schema(annotation: Any) -> dict[str, Any]:
    if annotation is Any:
        return {}
    if annotation is type(None) or annotation is None:
        return {"type": "null"}
    if annotation is bool:
        return {"type": "boolean"}
    if annotation is int:
        return {"type": "integer"}
    if annotation is float:
        return {"type": "number"}
    if annotation is str:
        return {"type": "string"}
    origin, members = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Literal:
        return {"enum": list(members)}
    if origin in (Union, types.UnionType):
        forms = [_type_schema(m) for m in members]
        if any(not f for f in forms):
            return {}
        return {"anyOf": _merge_types(forms)}
    if origin in (tuple, list) or annotation in (tuple, list):
        if not members or (origin is tuple and len(members) == 2 and members[1] is Ellipsis):
            item = arg_schema(members[0]) if members else {}
            return {"type": "array", "items": item} if item else {"type": "array"}
        if origin is list:
            return {"type": "array", "items": arg_schema(members[0])}
        return {
            "type": "array",
            "prefixItems": [arg_schema(m) for m in members],
            "minItems": len(members),
            "maxItems": len(members),
        }
    if origin is dict or annotation is dict:
        return {"type": "object"}
    return {}


def _merge_types(forms: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Plain `{"type": ...}` members folded into one (`{"type": ["integer", "null"]}`), the others kept."""
    plain = [f["type"] for f in forms if set(f) == {"type"} and isinstance(f["type"], str)]
    rest = [f for f in forms if not (set(f) == {"type"} and isinstance(f["type"], str))]
    merged = [{"type": plain[0] if len(plain) == 1 else plain}] if plain else []
    return merged + rest


def _default(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_default(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _arg_entry(op: OpDef, spec: ArgSpec) -> dict[str, Any]:
    words = _describe_type(spec.annotation)
    if spec.inferred:
        when = "optional: taken from the input shape when left out"
    elif spec.required:
        when = "required"
    else:
        when = f"default `{_render_default(spec.default)}`"
    entry = {**arg_schema(spec.annotation), "description": f"`{spec.name}` of `{op.name}`: {words}; {when}."}
    if not spec.required and not spec.inferred:
        entry["default"] = _default(spec.default)
    return entry


def _render_default(value: Any) -> str:
    return json.dumps(_default(value))


def _op_definition(op: OpDef, common: Mapping[str, Any]) -> dict[str, Any]:
    properties: dict[str, Any] = {key: {} for key in common}  # the node keys, described by the base definition
    properties["op"] = {"const": op.name}
    properties.update({name: _arg_entry(op, spec) for name, spec in op.args.items()})
    return {
        "description": f"`{op.name}`: {op.doc}" if op.doc else f"`{op.name}`",
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }


def add_op_schemas(schema: dict[str, Any], ops: Mapping[str, OpDef], node_keys: Iterable[str]) -> None:
    """Give `schema`'s `NodeDef` the op enum and one checked definition per op of `ops`."""
    defs = schema["$defs"]
    defs["Expression"] = EXPRESSION
    names = sorted(ops)
    node = defs["NodeDef"]
    description = node["properties"]["op"].get("description", "")
    node["properties"]["op"] = {
        "description": description,
        "anyOf": [{"enum": names}, _EXPR_REF],
    }
    common = dict.fromkeys(node_keys)
    rules = []
    for name in names:
        defs[f"op.{name}"] = _op_definition(ops[name], common)
        rules.append(
            {
                "if": {"properties": {"op": {"const": name}}, "required": ["op"]},
                "then": {"$ref": f"#/$defs/op.{name}"},
            }
        )
    node["allOf"] = rules
    defs["Node"]["anyOf"][1] = {
        "description": "an op with no arguments",
        "anyOf": [{"enum": names}, _EXPR_REF],
    }
