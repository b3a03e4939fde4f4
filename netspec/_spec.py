"""The language: pydantic models of a spec, `extends` resolution and the JSON Schema.

`Spec` is what `netspec.load` returns: typed, frozen, and carrying where each part came from.
"""

from __future__ import annotations

import copy
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

from ._errors import Diagnostic, SourceMap, SpecError, did_you_mean, format_path
from ._load import Document, Limits, parse_text, read_file

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

    type: ParamType
    default: JsonValue = None
    min: int | float | None = None
    max: int | float | None = None
    choices: Annotated[tuple[JsonValue, ...], Strict(False)] | None = None
    doc: str = ""

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

    op: str | None = None
    block: str | None = None
    inputs: InputRefs | None = Field(None, alias="in")
    repeat: int | str | None = None
    when: bool | str | None = None
    doc: str = ""

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
    for name in nodes:
        _check_name(name, "node name")
    return nodes


class BlockDef(_Model):
    """A reusable sub-graph with parameters, instantiated by nodes with `block:`."""

    params: dict[str, ParamDef] = {}
    inputs: Names = ("x",)
    nodes: Annotated[dict[str, NodeDef], Field(min_length=1)]
    output: str | None = None
    doc: str = ""

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
    "kaiming_normal", "kaiming_uniform", "xavier_normal", "xavier_uniform", "normal", "uniform",
    "trunc_normal", "constant", "zeros", "ones", "orthogonal", "default",
]


class InitRule(_Model):
    """Initialise the parameters of the modules that match, in module order.

    `weight`/`bias` name an init function, alone (`zeros`) or with its arguments
    (`{kaiming_normal: {mode: fan_out, nonlinearity: relu}}`, `{constant: 1}`).
    """

    ops: Names | None = None
    nodes: Names | None = None
    when: bool | str = True
    weight: InitFnName | dict[InitFnName, JsonValue] | None = None
    bias: InitFnName | dict[InitFnName, JsonValue] | None = None

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

    netspec: Literal[1] = FORMAT_VERSION
    name: str
    description: str = ""
    extends: str | None = None
    params: dict[str, ParamDef] = {}
    inputs: Annotated[dict[str, InputShape], Field(min_length=1)]
    dims: dict[str, Annotated[int, Field(ge=1)]] = {}
    blocks: dict[str, BlockDef] = {}
    nodes: Annotated[dict[str, NodeDef], Field(min_length=1)]
    outputs: Names | None = None
    init: Annotated[tuple[InitRule, ...], Strict(False)] = ()
    remove: Names = ()

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
    if isinstance(source, str) and not source.endswith(SPEC_SUFFIXES) and os.sep not in source:
        bundled = bundled_path(source)
        if bundled is None:
            if "\n" in source or source.lstrip().startswith("{"):
                hint = "this looks like spec text: read it with `netspec.loads(text)`"
                raise SpecError([Diagnostic("expected a path or a bundled spec name, got spec text", hint=hint, code="NS101")])
            hint = did_you_mean(source, list_specs(), listing=12)
            raise SpecError([Diagnostic(f"no bundled spec or file named `{source}`", hint=hint, code="NS101")])
        return read_file(bundled, limits=limits, display_name=f"<bundled>/{bundled.name}"), bundled
    path = Path(source)
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
    merged = dict(parent) if isinstance(parent, dict) else {}
    for name, value in (child or {}).items():
        old = merged.get(name)
        if isinstance(old, dict) and not isinstance(value, dict) and not (isinstance(value, str) and value in ParamType.__args__):
            merged[name] = {**old, "default": value}  # a bare value overrides the default only
        else:
            merged[name] = value
    return merged


def merge_data(parent: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    """Child over parent: params and blocks by name, nodes replaced in place or appended, `remove` applied."""
    merged = copy.deepcopy(parent)
    merged.pop("remove", None)
    for key, value in child.items():
        if key == "extends":
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


def _with_extends(doc: Document, path: Path | None, limits: Limits, chain: tuple[Path, ...] = ()) -> Document:
    data = doc.data
    ref = data.get("extends") if isinstance(data, dict) else None
    if ref is None:
        return doc
    span = doc.sources.span(("extends",))
    if not isinstance(ref, str):
        return doc  # the model reports the type error
    if len(chain) >= MAX_EXTENDS_DEPTH:
        raise SpecError([Diagnostic(f"`extends` chain deeper than {MAX_EXTENDS_DEPTH}", path="extends", code="NS105").located(span)], doc.sources)
    root = chain[0].parent if chain else (path.parent if path else None)
    target = _resolve_extends(ref, path, root)
    if target is None:
        hint = "name a bundled spec or a relative file inside this spec's folder (no absolute paths, no `..` out of it)"
        raise SpecError([Diagnostic(f"cannot extend `{ref}`: not a bundled spec or a file inside the spec's folder", path="extends", hint=hint, code="NS104").located(span)], doc.sources)
    if target in chain or target == path:
        names = " -> ".join(p.name for p in (*chain, *( [path] if path else [])) ) + f" -> {target.name}"
        raise SpecError([Diagnostic(f"`extends` cycle: {names}", path="extends", code="NS105").located(span)], doc.sources)
    parent_doc = read_file(target, limits=limits, display_name=_display_name(target))
    parent_doc = _with_extends(parent_doc, target, limits, (*chain, *([path] if path else [])))
    if not isinstance(parent_doc.data, dict):
        return doc
    sources = SourceMap()
    sources.merge(doc.sources)
    sources.merge(parent_doc.sources)
    return Document(merge_data(parent_doc.data, data), sources, doc.file)


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
        if isinstance(part, str) and (part in ("int", "str", "bool", "float", "list", "dict", "tuple", "none", "JsonValue") or "[" in part or part.startswith("literal")):
            continue
        path.append(part)
    return tuple(path)


def _diagnostic_for(error: Any, sources: SourceMap) -> Diagnostic:
    path = _loc_to_path(error["loc"])
    kind = error["type"]
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
    elif kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        message = f"invalid value {error.get('input')!r}: expected {expected}"
        if path and path[0] == "netspec":
            hint = f"this netspec reads format version {FORMAT_VERSION}"
    else:
        message = f"{message} (got {error.get('input')!r:.60})"
    span = sources.span(path, key=key_span) or _digit_span(path, sources)
    return Diagnostic(message, path=format_path(path), hint=hint, code=_code_for(kind)).located(span)


def _digit_span(path: tuple[str | int, ...], sources: SourceMap):
    alt = tuple(int(p) if isinstance(p, str) and p.isdigit() else p for p in path)
    return sources.span(alt)


def _code_for(kind: str) -> str:
    return {"extra_forbidden": "NS110", "missing": "NS111", "literal_error": "NS113", "value_error": "NS114"}.get(kind, "NS112")


def spec_from_document(doc: Document, path: Path | None = None, *, limits: Limits | None = None) -> Spec:
    """Validate a document (resolving `extends`) into a `Spec`; raises `SpecError` with every problem."""
    limits = limits or Limits()
    if not isinstance(doc.data, dict):
        kind = type(doc.data).__name__
        raise SpecError([Diagnostic(f"a spec is a mapping of fields, got a {kind}", hint="start with `name:`, `inputs:` and `nodes:`", code="NS102").located(doc.sources.span(()))], doc.sources)
    doc = _with_extends(doc, path, limits)
    try:
        spec = Spec.model_validate(doc.data)
    except ValidationError as err:
        diagnostics = [_diagnostic_for(e, doc.sources) for e in err.errors()]
        unique = list(dict.fromkeys(diagnostics))
        raise SpecError(unique, doc.sources) from None
    spec._source = doc.sources
    spec._path = path
    return spec


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the language, generated from the models (for editors and CI)."""
    schema = Spec.model_json_schema(by_alias=True, mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "netspec spec"
    schema["$id"] = "https://netspec.dev/schema/v1.json"
    return schema


def parse_source(source: str | bytes | os.PathLike[str] | Mapping[str, Any], *, limits: Limits | None = None, text: bool = False) -> tuple[Document, Path | None]:
    """Any accepted source (path, bundled name, mapping, or text when `text=True`) as a `Document`."""
    limits = limits or Limits()
    if text:
        return parse_text(source, file="<string>", limits=limits), None  # type: ignore[arg-type]
    if isinstance(source, Mapping):
        return Document(dict(source), SourceMap(), None), None
    return load_document(source, limits=limits)  # type: ignore[arg-type]
