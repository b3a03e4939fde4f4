"""The language: pydantic models of a spec, `extends` resolution and the JSON Schema.

`Spec` is what `netspec.load` returns: typed, frozen, and carrying where each part came from.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    PrivateAttr,
    Strict,
    ValidationError,
    field_validator,
    model_validator,
)

from ._errors import Diagnostic, SourceMap, Span, SpecError, did_you_mean, format_path
from ._expr import Expr, ExprError, Template, compile_value
from ._load import Document, Limits, parse_text, read_file
from ._ops import catalog, get_op

__all__ = [
    "FORMAT_VERSION",
    "BlockDef",
    "InitRule",
    "NodeDef",
    "ParamDef",
    "Spec",
    "bundled_path",
    "json_schema",
    "list_specs",
    "load_document",
    "spec_from_document",
    "static_problems",
    "unknown_op",
]

FORMAT_VERSION = 1
SPEC_SUFFIXES = (".yaml", ".yml", ".json")
MAX_EXTENDS_DEPTH = 8

_NAME = re.compile(r"^(?:[A-Za-z][A-Za-z0-9_]*|_[A-Za-z0-9][A-Za-z0-9_]*|[0-9]+)$")
_SYMBOL = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

ParamType = Literal["int", "float", "bool", "str", "list[int]", "list[float]", "list[bool]", "list[str]"]
# Node keys with a meaning of their own; every other key of a node is an argument of its op or block.
NODE_KEYS = frozenset({"op", "block", "in", "repeat", "when", "doc"})


def _check_name(name: str, what: str) -> str:
    if not _NAME.match(name) or name.startswith("__"):
        raise ValueError(
            f"{what} `{name}` is not a valid name: use letters, digits and `_`, starting with a letter"
            " (or a plain number), no dots or dashes"
        )
    return name


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, strict=True)


class ParamDef(_Model):
    """A typed parameter. `default` absent means the parameter is required (blocks only)."""

    type: ParamType = Field(description="The value's type; values given at build time are checked against it.")
    default: JsonValue = Field(
        None, description="The value when none is given at build time; absent: the parameter is required."
    )
    min: int | float | None = Field(None, description="Smallest allowed value (numbers).")
    max: int | float | None = Field(None, description="Largest allowed value (numbers).")
    choices: Annotated[tuple[JsonValue, ...], Strict(False)] | None = Field(
        None, description="The only values allowed."
    )
    doc: str = Field("", description="What the parameter means, for readers and generated docs.")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        # `width: 64` (a default, type inferred) and `planes: int` (a required parameter).
        if isinstance(data, str) and data in ParamType.__args__:
            return {"type": data}
        if isinstance(data, (bool, int, float, str, list)):
            return {"type": infer_param_type(data), "default": data}
        return data

    @property
    def required(self) -> bool:
        return self.default is None


def infer_param_type(value: Any) -> str:
    """The declared type a default value implies (`64` -> `int`, `[1, 2]` -> `list[int]`)."""
    if isinstance(value, list):
        inner = {infer_param_type(v) for v in value}
        if len(inner) == 1 and not next(iter(inner)).startswith("list"):
            return f"list[{inner.pop()}]"
        if inner <= {"int", "float"} and inner:
            return "list[float]"
        return "list[int]" if not value else "list[str]"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return "str"


Names = Annotated[tuple[str, ...], Strict(False)]  # YAML lists arrive as lists; items stay strict
InputRefs = Annotated[tuple[str, ...], Field(min_length=1), Strict(False)]


class NodeDef(_Model):
    """One node: an op from the catalog or a block instance; other keys are its arguments."""

    model_config = ConfigDict(frozen=True, extra="allow", populate_by_name=True, strict=True)
    __pydantic_extra__: dict[str, JsonValue]

    op: str | None = Field(
        None, description="An op of the catalog (`Conv2d`, `ReLU`, `add`, ...); exclusive with `block`."
    )
    block: str | None = Field(
        None, description="A block of this spec to instantiate (may be `$param`); exclusive with `op`."
    )
    inputs: InputRefs | None = Field(
        None,
        alias="in",
        description="The node's input(s): node names, `block.node`, `repeat.index`; default: the previous node.",
    )
    repeat: int | str | None = Field(
        None,
        description="Instantiate the node this many times in sequence (`name.0`, `name.1`, ...); `i` is the index.",
    )
    when: bool | str | None = Field(
        None, description="A bool (usually `$param`); when false the node passes its first input through."
    )
    doc: str = Field("", description="A note for readers.")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, str):  # `relu: ReLU`
            return {"op": data}
        if isinstance(data, dict) and isinstance(data.get("in"), str):
            return {**data, "in": [data["in"]]}
        return data

    @model_validator(mode="after")
    def _op_or_block(self) -> NodeDef:
        if (self.op is None) == (self.block is None):
            raise ValueError("a node names exactly one of `op` or `block`")
        if self.op is not None and not self.op.strip():
            raise ValueError("`op` is empty")
        return self

    @property
    def args(self) -> dict[str, JsonValue]:
        return dict(self.model_extra or {})


def _nodes_mapping(value: Any) -> Any:
    """Accept the list form (unnamed nodes, named by position) as well as the mapping form."""
    if isinstance(value, list):
        return {str(i): item for i, item in enumerate(value)}
    return value


def _check_node_names(nodes: dict[str, NodeDef]) -> dict[str, NodeDef]:
    bad = [name for name in nodes if not _NAME.match(name) or name.startswith("__")]
    if len(bad) == 1:
        _check_name(bad[0], "node name")
    if bad:
        listed = ", ".join(f"`{name}`" for name in bad)
        raise ValueError(
            f"node names {listed} are not valid names: use letters, digits and `_`, starting with a letter (or a plain number), no dots or dashes"
        )
    return nodes


class BlockDef(_Model):
    """A reusable sub-graph with parameters, instantiated by nodes with `block:`."""

    params: dict[str, ParamDef] = Field(
        {}, description="Parameters of the block, given by the nodes that use it (`planes: int` is required)."
    )
    inputs: InputRefs = Field(
        ("x",), description="Names of the block's inputs, bound in order to the using node's `in`."
    )
    nodes: Annotated[dict[str, NodeDef], Field(min_length=1, description="The block's nodes, in order.")]
    output: str | None = Field(None, description="The node whose output is the block's output; default: the last node.")
    doc: str = Field("", description="A note for readers.")

    _nodes_list = field_validator("nodes", mode="before")(classmethod(lambda cls, v: _nodes_mapping(v)))
    _names = field_validator("nodes")(classmethod(lambda cls, v: _check_node_names(v)))

    @field_validator("inputs", mode="before")
    @classmethod
    def _one_input(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("inputs")
    @classmethod
    def _input_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            _check_name(name, "block input")
        return value


InitFnName = Literal[
    "kaiming_normal",
    "kaiming_uniform",
    "xavier_normal",
    "xavier_uniform",
    "normal",
    "uniform",
    "trunc_normal",
    "constant",
    "zeros",
    "ones",
    "orthogonal",
    "default",
]


class InitRule(_Model):
    """Initialise the parameters of the modules that match, in module order.

    `weight`/`bias` name an init function, alone (`zeros`) or with its arguments
    (`{kaiming_normal: {mode: fan_out, nonlinearity: relu}}`, `{constant: 1}`).
    """

    ops: Names | None = Field(None, description="Select modules by op name (`Conv2d`, `BatchNorm2d`).")
    nodes: Names | None = Field(
        None, description="Select modules by qualified name, with `*` wildcards (`layer*.*.bn2`)."
    )
    when: bool | str = Field(True, description="Apply the rule only when this bool expression holds.")
    weight: InitFnName | dict[InitFnName, JsonValue] | None = Field(
        None, description="Init function for `weight`: a name or `{name: args}`."
    )
    bias: InitFnName | dict[InitFnName, JsonValue] | None = Field(
        None, description="Init function for `bias`: a name or `{name: args}`."
    )

    @field_validator("ops", "nodes", mode="before")
    @classmethod
    def _one(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("weight", "bias")
    @classmethod
    def _single_fn(cls, value: Any) -> Any:
        if isinstance(value, dict) and len(value) != 1:
            raise ValueError("give one init function, e.g. `{constant: 1}`")
        return value

    @model_validator(mode="after")
    def _has_target(self) -> InitRule:
        if self.ops is None and self.nodes is None:
            raise ValueError("an init rule selects modules with `ops` and/or `nodes`")
        if self.weight is None and self.bias is None:
            raise ValueError("an init rule sets `weight` and/or `bias`")
        return self


InputShape = Annotated[tuple[Annotated[int, Field(ge=1)] | str, ...], Strict(False)]


class Spec(_Model):
    """A validated spec: what `netspec.load` returns. Frozen; `.source` tells where each part came from."""

    netspec: Literal[1] = Field(
        FORMAT_VERSION, description="The format version of the language; this netspec reads version 1."
    )
    name: str = Field(description="The model's name.")
    description: str = Field("", description="One line about the model.")
    extends: str | None = Field(
        None, description="Start from a bundled spec (`resnet18`) or a relative file (`base.yaml`)."
    )
    params: dict[str, ParamDef] = Field(
        {}, description="Named, typed values; `$name` uses one; `netspec.build(spec, name=...)` overrides it."
    )
    inputs: Annotated[
        dict[str, InputShape],
        Field(
            min_length=1, description="The model's inputs and their shapes: numbers, symbols (`N`, `H`) or `$param`."
        ),
    ]
    dims: dict[str, Annotated[int, Field(ge=1)]] = Field(
        {}, description="Example sizes of the symbolic dimensions (`{H: 224, W: 224}`)."
    )
    blocks: dict[str, BlockDef] = Field(
        {}, description="Reusable sub-graphs with parameters, used by nodes with `block:`."
    )
    nodes: Annotated[
        dict[str, NodeDef],
        Field(
            min_length=1,
            description="The layers in order; each takes the previous one's output unless `in` says otherwise.",
        ),
    ]
    outputs: Names | None = Field(
        None, description="The model's output node(s); several make the model return a tuple. Default: the last node."
    )
    init: Annotated[tuple[InitRule, ...], Strict(False)] = Field(
        (), description="Parameter initialisation rules, applied module by module in order."
    )
    remove: Names = Field((), description="With `extends`: names of the parent's nodes to delete.")

    _source: SourceMap = PrivateAttr(default_factory=SourceMap)
    _warnings: list[Diagnostic] = PrivateAttr(default_factory=list)
    _path: Path | None = PrivateAttr(default=None)
    _graph: Any = PrivateAttr(default=None)  # the graph at the default parameters, once expanded

    _nodes_list = field_validator("nodes", mode="before")(classmethod(lambda cls, v: _nodes_mapping(v)))
    _names = field_validator("nodes")(classmethod(lambda cls, v: _check_node_names(v)))

    @field_validator("outputs", mode="before")
    @classmethod
    def _one_output(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("params", "blocks", "dims")
    @classmethod
    def _key_names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            if not _SYMBOL.match(name) or name.startswith("__"):
                raise ValueError(f"`{name}` is not a valid name: use letters, digits and `_`")
        return value

    @field_validator("inputs")
    @classmethod
    def _input_names(cls, value: dict[str, InputShape]) -> dict[str, InputShape]:
        for name, shape in value.items():
            _check_name(name, "input name")
            if not shape:
                raise ValueError(f"input `{name}` needs a shape, e.g. [N, 3, H, W]")
        return value

    @property
    def source(self) -> SourceMap:
        """Spans of every part of the spec, by path."""
        return self._source

    @property
    def warnings(self) -> list[Diagnostic]:
        """Warnings found while loading (unused parameters, unused nodes, ...)."""
        return list(self._warnings)

    @property
    def path(self) -> Path | None:
        """The file this spec was read from, if any."""
        return self._path

    def __eq__(self, other: object) -> bool:
        # Specs are equal by content; where they were read from (and what was derived) does not count.
        if not isinstance(other, Spec):
            return NotImplemented
        return self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain data; `Spec.model_validate(spec.to_dict())` gives an equal spec."""
        return self.model_dump(mode="json", by_alias=True, exclude_defaults=True)


# --- reading sources ----------------------------------------------------------------------------


def _specs_root() -> Path:
    try:
        return Path(str(resources.files("netspec.specs")))
    except ModuleNotFoundError:  # running from a checkout that is not installed
        return Path(__file__).resolve().parent.parent / "specs"


def list_specs() -> list[str]:
    """Names of the bundled specs (`resnet18`, `unet`, ...)."""
    root = _specs_root()
    if not root.is_dir():
        return []
    return sorted(p.stem for p in root.iterdir() if p.suffix in SPEC_SUFFIXES)


def bundled_path(name: str) -> Path | None:
    """The file of a bundled spec, or None."""
    if not _SYMBOL.match(name.replace("-", "_")):
        return None
    for suffix in SPEC_SUFFIXES:
        candidate = _specs_root() / f"{name}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def _display_name(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def load_document(source: str | os.PathLike[str], *, limits: Limits) -> tuple[Document, Path | None]:
    """Read a path or a bundled name into a `Document`."""
    if (
        isinstance(source, str)
        and not source.endswith(SPEC_SUFFIXES)
        and os.sep not in source
        and not Path(source).exists()
    ):
        bundled = bundled_path(source)
        if bundled is None:
            if "\n" in source or source.lstrip().startswith("{"):
                hint = "this looks like spec text: read it with `netspec.loads(text)`"
                raise SpecError(
                    [Diagnostic("expected a path or a bundled spec name, got spec text", hint=hint, code="NS101")]
                )
            hint = did_you_mean(source, list_specs(), listing=12)
            raise SpecError([Diagnostic(f"no bundled spec or file named `{source}`", hint=hint, code="NS101")])
        return read_file(bundled, limits=limits, display_name=f"<bundled>/{bundled.name}"), bundled
    path = Path(source)
    if path.is_dir():
        raise SpecError(
            [
                Diagnostic(
                    f"`{source}` is a folder, not a spec file",
                    hint="name a .yaml, .yml or .json file in it (`netspec validate` takes folders)",
                    code="NS101",
                )
            ]
        )
    if not path.is_file():
        raise SpecError([Diagnostic(f"no such spec file: `{source}`", code="NS101")])
    return read_file(path, limits=limits, display_name=_display_name(path)), path.resolve()


# --- extends ------------------------------------------------------------------------------------


def _resolve_extends(ref: str, base: Path | None, root: Path | None) -> Path | None:
    """The file `extends: ref` names: a bundled spec, or a relative file inside the spec's own folder tree."""
    if ref.endswith(SPEC_SUFFIXES) or "/" in ref or "\\" in ref:
        if base is None or os.path.isabs(ref) or ref.startswith("~"):
            return None
        target = (base.parent / ref).resolve()
        boundary = (root or base.parent).resolve()
        if target != boundary and boundary not in target.parents:
            return None
        return target if target.is_file() else None
    return bundled_path(ref)


def _merge_params(parent: Any, child: Any) -> Any:
    if child is not None and not isinstance(child, dict):
        return child  # the model reports the type error, at the child's `params`
    merged = dict(parent) if isinstance(parent, dict) else {}
    for name, value in (child or {}).items():
        old = merged.get(name)
        if (
            isinstance(old, dict)
            and not isinstance(value, dict)
            and not (isinstance(value, str) and value in ParamType.__args__)
        ):
            merged[name] = {**old, "default": value}  # a bare value overrides the default only
        else:
            merged[name] = value
    return merged


def merge_data(parent: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    """Child over parent: params and blocks by name, nodes replaced in place or appended, `remove` applied."""
    merged = copy.deepcopy(parent)
    merged.pop("remove", None)
    for key, value in child.items():
        if key in ("extends", "remove"):
            continue
        if key == "params":
            merged["params"] = _merge_params(merged.get("params"), value)
        elif key in ("blocks", "nodes") and isinstance(value, dict):
            base = _nodes_mapping(merged.get(key)) if key == "nodes" else merged.get(key)
            merged[key] = {**(base if isinstance(base, dict) else {}), **value}
        else:
            merged[key] = value
    removed = child.get("remove") or []
    if isinstance(removed, list) and isinstance(merged.get("nodes"), dict):
        merged["nodes"] = {k: v for k, v in merged["nodes"].items() if k not in removed}
    return merged


def _check_removed(removed: Any, parent_nodes: Any, ref: str, sources: SourceMap) -> None:
    """Every name in `remove` must be a node of the parent."""
    if not isinstance(removed, list):
        return
    names = list(_nodes_mapping(parent_nodes) or {}) if isinstance(parent_nodes, (dict, list)) else []
    problems = [
        Diagnostic(
            f"`remove`: `{name}` is not a node of `{ref}`",
            path=f"remove[{i}]",
            hint=did_you_mean(str(name), names, listing=12),
            code="NS106",
        ).located(sources.span(("remove", i)))
        for i, name in enumerate(removed)
        if name not in names
    ]
    if problems:
        raise SpecError(problems, sources)


def _extends_problem(ref: str, base: Path | None, root: Path | None) -> str:
    is_file = ref.endswith(SPEC_SUFFIXES) or "/" in ref or "\\" in ref
    if not is_file:
        return f"cannot extend `{ref}`: there is no bundled spec of that name"
    if base is None:
        return f"cannot extend `{ref}`: a spec given as text or data can extend bundled specs only"
    if os.path.isabs(ref) or ref.startswith("~"):
        return f"cannot extend `{ref}`: absolute paths are not allowed"
    target = (base.parent / ref).resolve()
    boundary = (root or base.parent).resolve()
    if target != boundary and boundary not in target.parents:
        return f"cannot extend `{ref}`: it is outside this spec's folder"
    return f"cannot extend `{ref}`: no such file in this spec's folder"


def _extends_hint(ref: str) -> str:
    close = did_you_mean(ref, list_specs())
    return (
        close
        or "name a bundled spec or a relative file inside this spec's folder (no absolute paths, no `..` out of it)"
    )


def _with_extends(doc: Document, path: Path | None, limits: Limits, chain: tuple[Path, ...] = ()) -> Document:
    data = doc.data
    ref = data.get("extends") if isinstance(data, dict) else None
    if ref is None:
        return doc
    span = doc.sources.span(("extends",))
    if not isinstance(ref, str):
        return doc  # the model reports the type error
    if len(chain) >= MAX_EXTENDS_DEPTH:
        raise SpecError(
            [
                Diagnostic(f"`extends` chain deeper than {MAX_EXTENDS_DEPTH}", path="extends", code="NS105").located(
                    span
                )
            ],
            doc.sources,
        )
    root = chain[0].parent if chain else (path.parent if path else None)
    target = _resolve_extends(ref, path, root)
    if target is None:
        raise SpecError(
            [
                Diagnostic(
                    _extends_problem(ref, path, root), path="extends", hint=_extends_hint(ref), code="NS104"
                ).located(span)
            ],
            doc.sources,
        )
    if target in chain or target == path:
        names = " -> ".join(p.name for p in (*chain, *([path] if path else []))) + f" -> {target.name}"
        raise SpecError(
            [Diagnostic(f"`extends` cycle: {names}", path="extends", code="NS105").located(span)], doc.sources
        )
    parent_doc = read_file(target, limits=limits, display_name=_display_name(target))
    parent_doc = _with_extends(parent_doc, target, limits, (*chain, *([path] if path else [])))
    if not isinstance(parent_doc.data, dict):
        return doc
    _check_removed(data.get("remove"), parent_doc.data.get("nodes"), ref, doc.sources)
    sources = SourceMap()
    sources.merge(doc.sources)
    sources.merge(parent_doc.sources)
    _override_default_spans(data.get("params"), doc.sources, sources)
    return Document(merge_data(parent_doc.data, data), sources, doc.file)


def _override_default_spans(params: Any, child: SourceMap, merged: SourceMap) -> None:
    """A bare value overriding a parent's parameter is its new default: errors about it point at the child."""
    if not isinstance(params, dict):
        return
    for name, value in params.items():
        span = child.values.get(("params", name))
        if span is not None and not isinstance(value, dict):
            merged.values[("params", name, "default")] = span


# --- validation ---------------------------------------------------------------------------------


_FIELDS_BY_MODEL = {
    "": set(Spec.model_fields),
    "params": set(ParamDef.model_fields),
    "blocks": set(BlockDef.model_fields),
    "init": set(InitRule.model_fields),
}


def _loc_to_path(loc: tuple[Any, ...]) -> tuple[str | int, ...]:
    """Drop the parts pydantic adds for union members and validators (`int`, `function-after[...]`)."""
    path: list[str | int] = []
    for part in loc:
        if isinstance(part, str) and (
            part in ("int", "str", "bool", "float", "list", "dict", "tuple", "none", "JsonValue")
            or "[" in part
            or part.startswith(("literal", "constrained-"))
        ):
            continue
        path.append(part)
    return tuple(path)


def _diagnostic_for(error: Any, sources: SourceMap) -> Diagnostic:
    kind = error["type"]
    path = _loc_to_path(error["loc"])
    if kind == "extra_forbidden":  # the last part is the user's key, whatever it looks like (`a[0]`)
        path = (*_loc_to_path(error["loc"][:-1]), error["loc"][-1])
    message = error["msg"]
    hint = None
    key_span = False
    if kind == "extra_forbidden":
        name = str(path[-1])
        owner = "top level" if len(path) == 1 else f"`{format_path(path[:-1])}`"
        fields = _FIELDS_BY_MODEL.get(str(path[0]) if len(path) > 1 and path[0] in ("params", "init") else "", set())
        if len(path) >= 3 and path[0] == "blocks":
            fields = _FIELDS_BY_MODEL["blocks"]
        message = f"unknown field `{name}` at {owner}"
        hint = did_you_mean(name, fields, listing=20)
        key_span = True
    elif kind == "missing":
        message = f"missing required field `{path[-1]}`"
    elif kind == "value_error":
        message = message.removeprefix("Value error, ")
        named = re.search(r"`([^`]*)`", message)
        if (
            named
            and ("not a valid name" in message or "not valid names" in message)
            and path + (named[1],) in sources.keys
        ):
            path, key_span = path + (named[1],), True  # point at the (first) offending key
    elif kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        message = f"invalid value {error.get('input')!r}: expected {expected}"
        if isinstance(error.get("input"), str):
            hint = did_you_mean(error["input"], re.findall(r"'([^']*)'", expected))
        if path and path[0] == "netspec":
            hint = f"this netspec reads format version {FORMAT_VERSION}"
    elif kind == "too_short" and path:
        message = f"`{path[-1]}` needs at least one entry"
    else:
        message = f"expected {_EXPECTED.get(kind) or _expected_from(error)}, got {_shown(error.get('input'))}"
    span = sources.span(path, key=key_span) or _digit_span(path, sources)
    return Diagnostic(message, path=format_path(path), hint=hint, code=_code_for(kind)).located(span)


_SHOULD_BE = re.compile(r"^expected (.*), got (.*)$", re.DOTALL)
# What a value of each pydantic error type should have been, in the words of a spec author.
_EXPECTED = {
    "dict_type": "a mapping (`key: value` lines)",
    "model_type": "a mapping (`key: value` lines)",
    "model_attributes_type": "a mapping (`key: value` lines)",
    "tuple_type": "a list",
    "list_type": "a list",
    "string_type": "a string",
    "int_type": "a whole number",
    "float_type": "a number",
    "bool_type": "true or false",
}


def _expected_from(error: Any) -> str:
    ctx = error.get("ctx") or {}
    if error["type"] == "greater_than_equal":
        return f"a number >= {ctx.get('ge')}"
    if error["type"] == "greater_than":
        return f"a number > {ctx.get('gt')}"
    return error["msg"].removeprefix("Input should be ").rstrip(".")


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    return f"`{value!r:.60}`" if not isinstance(value, str) else f"`{value[:60]}` (a string)"


def _merge_alternatives(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """One diagnostic per value for a field that takes one of several types (`int | str`)."""
    merged: list[Diagnostic] = []
    for diag in diagnostics:
        last = merged[-1] if merged else None
        this, before = _SHOULD_BE.match(diag.message), _SHOULD_BE.match(last.message) if last else None
        if (
            last
            and this
            and before
            and diag.code == last.code == "NS112"
            and diag.path == last.path
            and this[2] == before[2]
        ):
            merged[-1] = dataclasses.replace(last, message=f"expected {before[1]} or {this[1]}, got {this[2]}")
        else:
            merged.append(diag)
    return merged


def _digit_span(path: tuple[str | int, ...], sources: SourceMap):
    alt = tuple(int(p) if isinstance(p, str) and p.isdigit() else p for p in path)
    return sources.span(alt)


def _code_for(kind: str) -> str:
    return {"extra_forbidden": "NS110", "missing": "NS111", "literal_error": "NS113", "value_error": "NS114"}.get(
        kind, "NS112"
    )


def spec_from_document(doc: Document, path: Path | None = None, *, limits: Limits | None = None) -> Spec:
    """Validate a document (resolving `extends`) into a `Spec`; raises `SpecError` with every problem."""
    limits = limits or Limits()
    if not isinstance(doc.data, dict):
        kind = type(doc.data).__name__
        raise SpecError(
            [
                Diagnostic(
                    f"a spec is a mapping of fields, got a {kind}",
                    hint="start with `name:`, `inputs:` and `nodes:`",
                    code="NS102",
                ).located(doc.sources.span(()))
            ],
            doc.sources,
        )
    if doc.data.get("remove") and doc.data.get("extends") is None:
        hint = "`remove` deletes nodes of the spec named by `extends`; delete the nodes here instead"
        raise SpecError(
            [
                Diagnostic("`remove` needs `extends`", path="remove", hint=hint, code="NS106").located(
                    doc.sources.span(("remove",), key=True)
                )
            ],
            doc.sources,
        )
    doc = _with_extends(doc, path, limits)
    try:
        spec = Spec.model_validate(doc.data)
    except ValidationError as err:
        diagnostics = [_diagnostic_for(e, doc.sources) for e in err.errors()]
        unique = _merge_alternatives(list(dict.fromkeys(diagnostics)))
        named = {d.path for d in unique if d.code == "NS113"}  # a misspelt name: the other forms are noise
        unique = [d for d in unique if d.code != "NS112" or d.path not in named]
        raise SpecError(unique, doc.sources) from None
    spec._source = doc.sources
    spec._path = path
    if any(p.required for p in spec.params.values()):
        # Such a spec is not expanded when loaded: check what can be checked without values.
        errors = [d for d in static_problems(spec) if d.is_error]
        if errors:
            raise SpecError(errors, doc.sources)
    return spec


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
    node_name = {"pattern": _NAME.pattern}
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
        owner["properties"]["params"]["propertyNames"] = {"pattern": _SYMBOL.pattern}
    rule = defs["InitRule"]
    for key in ("ops", "nodes"):
        rule["properties"][key] = _one_or_more(name, rule["properties"][key]["description"], nullable=True)
    props = schema["properties"]
    props["nodes"] = {"$ref": "#/$defs/Nodes", "description": props["nodes"]["description"]}
    props["outputs"] = _one_or_more(name, props["outputs"]["description"], nullable=True)
    props["inputs"]["propertyNames"] = node_name
    for key in ("blocks", "dims"):
        props[key]["propertyNames"] = {"pattern": _SYMBOL.pattern}
    # A spec that extends another may leave out what it inherits.
    required = schema.pop("required")
    schema["if"] = {"required": ["extends"]}
    schema["else"] = {"required": required}


def parse_source(
    source: str | bytes | os.PathLike[str] | Mapping[str, Any], *, limits: Limits | None = None, text: bool = False
) -> tuple[Document, Path | None]:
    """Any accepted source (path, bundled name, mapping, or text when `text=True`) as a `Document`."""
    limits = limits or Limits()
    if text:
        return parse_text(source, file="<string>", limits=limits), None  # type: ignore[arg-type]
    if isinstance(source, Mapping):
        return Document(dict(source), SourceMap(), None), None
    return load_document(source, limits=limits)  # type: ignore[arg-type]


# --- checks that need no parameter values -------------------------------------------------------

REPEAT_INDEX = "i"  # the instance index inside a node with `repeat`
_WORD = r"(?<![A-Za-z0-9_]){}(?![A-Za-z0-9_])"
_MAX_STATIC_DEPTH = 64  # deeper nesting is reported when the graph is expanded


def unknown_op(name: str, blocks: Mapping[str, Any]) -> tuple[str, str | None]:
    """The message and hint for an op name the catalog lacks."""
    if "." in name or name.startswith("__"):
        message = f"`{name}` is not an op: ops are names from the catalog, never import paths"
        return message, "register your own layer with `@netspec.register_op(...)` and name it here"
    if name in blocks:
        return f"unknown op `{name}`", f"`{name}` is a block: write `block: {name}`"
    if "$" in name:
        return (
            f"`op` is not an expression: `{name}`",
            "name the op itself; to choose between ops, give each its node with `when:`",
        )
    return f"unknown op `{name}`", did_you_mean(
        name, list(catalog()) + list(blocks)
    ) or "see `docs/ops.md` for the catalog"


def source_span(sources: SourceMap, path: tuple[str | int, ...], *, key: bool = False) -> Span | None:
    """The span at `path`, where a position in a list of nodes may be written `"0"` or `0`."""
    numeric = tuple(int(p) if isinstance(p, str) and p.isdigit() else p for p in path)
    if numeric != path and _known_depth(sources, numeric) > _known_depth(sources, path):
        path = numeric
    return sources.span(path, key=key)


def _known_depth(sources: SourceMap, path: tuple[str | int, ...]) -> int:
    for depth in range(len(path), 0, -1):
        if path[:depth] in sources.values:
            return depth
    return 0


class _StaticChecker:
    """Walks the whole spec, every block and every node whether enabled or not, with names only."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.problems: list[Diagnostic] = []

    def report(
        self, message: str, path: tuple[str | int, ...], *, hint: str | None, code: str, span: Span | None = None
    ) -> None:
        where = span or source_span(self.spec.source, path)
        self.problems.append(Diagnostic(message, path=format_path(path), hint=hint, code=code).located(where))

    def names(self, value: Any, known: frozenset[str], path: tuple[str | int, ...]) -> None:
        """Report every name an expression in `value` reads that is not in `known`."""
        if isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                self.names(item, known, path + (i,))
        elif isinstance(value, dict):
            for k, item in value.items():
                self.names(item, known, path + (k,))
        elif isinstance(value, str) and "$" in value:
            try:
                compiled = compile_value(value)
            except ExprError as err:
                self.report(
                    err.message, path, hint=err.hint, code="NS131", span=self.expr_span(path, err.offset, err.length)
                )
                return
            if isinstance(compiled, (Expr, Template)):
                for name in sorted(compiled.names() - known):
                    match = re.search(_WORD.format(re.escape(name)), value)
                    offset = match.start() if match else 0
                    hint = did_you_mean(name, known, listing=8)
                    self.report(
                        f"unknown name `{name}`",
                        path,
                        hint=hint,
                        code="NS131",
                        span=self.expr_span(path, offset, len(name)),
                    )

    def expr_span(self, path: tuple[str | int, ...], offset: int, length: int) -> Span | None:
        span = source_span(self.spec.source, path)
        if span is None or span.line != span.end_line:
            return span
        line = self.spec.source.line_text(span.file, span.line) or ""
        quoted = 1 if line[span.column - 1 : span.column] in ("'", '"') else 0
        column = span.column + quoted + offset
        return Span(span.file, span.line, column, span.line, column + max(length, 1))

    def nodes(self, nodes: Mapping[str, NodeDef], known: frozenset[str], nodes_path: tuple[str | int, ...]) -> None:
        for local, node in nodes.items():
            path = nodes_path + (local,)
            self.names(node.repeat, known, path + ("repeat",))
            self.names(node.when, known, path + ("when",))
            inner = known | {REPEAT_INDEX} if node.repeat is not None else known
            self.names(list(node.inputs or ()), inner, path + ("in",))
            self.names(node.args, inner, path)
            if node.op is not None and get_op(node.op) is None:
                message, hint = unknown_op(node.op, self.spec.blocks)
                self.report(message, path + ("op",), hint=hint, code="NS141")
            self.names(node.block, inner, path + ("block",))
            if node.block is not None and "$" not in node.block and node.block not in self.spec.blocks:
                hint = did_you_mean(node.block, self.spec.blocks) or (
                    f"`{node.block}` is an op: write `op: {node.block}`" if get_op(node.block) else None
                )
                self.report(f"unknown block `{node.block}`", path + ("block",), hint=hint, code="NS142")

    def block_cycles(self) -> None:
        """Blocks that use themselves, directly or through others (block names written literally)."""
        uses = {
            name: [(local, node.block) for local, node in block.nodes.items() if node.block in self.spec.blocks]
            for name, block in self.spec.blocks.items()
        }
        done: set[str] = set()
        for start in self.spec.blocks:
            if start not in done:
                self._walk_blocks(start, (start,), uses, done)

    def _walk_blocks(
        self, name: str, stack: tuple[str, ...], uses: dict[str, list[tuple[str, str]]], done: set[str]
    ) -> None:
        # Depth-first, each block walked once: a cycle shows as a use of a block still on the stack.
        for local, used in uses[name]:
            if used in stack:
                cycle = (*stack[stack.index(used) :], used)
                path = ("blocks", name, "nodes", local, "block")
                self.report(
                    f"recursive block: {' -> '.join(cycle)}",
                    path,
                    hint="a block may use other blocks, not itself",
                    code="NS143",
                )
            elif used not in done and len(stack) < _MAX_STATIC_DEPTH:
                self._walk_blocks(used, (*stack, used), uses, done)
        done.add(name)


def static_problems(spec: Spec) -> list[Diagnostic]:
    """What can be found wrong without parameter values: unknown names in expressions, unknown ops
    and blocks, recursive blocks; in every node, including disabled ones and unused blocks."""
    checker = _StaticChecker(spec)
    params = frozenset(spec.params)
    for name, dims in spec.inputs.items():
        checker.names(list(dims), params, ("inputs", name))
    checker.nodes(spec.nodes, params, ("nodes",))
    for bname, block in spec.blocks.items():
        checker.nodes(block.nodes, params | frozenset(block.params), ("blocks", bname, "nodes"))
    for index, rule in enumerate(spec.init):
        checker.names(rule.when, params, ("init", index, "when"))
        for field in ("weight", "bias"):
            checker.names(getattr(rule, field), params, ("init", index, field))
    checker.block_cycles()
    return checker.problems
