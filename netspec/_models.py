"""The language's models: pydantic v2 classes for a spec, its parameters, nodes, blocks and init rules.

`Spec` is what `netspec.load` returns: typed, frozen, and carrying where each part came from. Its
private state (sources, file, warnings, the graph at the default parameters) is given when it is
made and never written afterwards.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    PrivateAttr,
    Strict,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ._errors import Diagnostic, SourceMap
from ._limits import DEFAULT_LIMITS, Limits
from ._names import identifier_problem, identifier_schema, node_name_problem, node_name_schema

__all__ = [
    "FORMAT_VERSION",
    "NAME_PATTERN",
    "PARAM_TYPES",
    "SYMBOL_PATTERN",
    "BlockDef",
    "InitRule",
    "NameRuleError",
    "NodeDef",
    "ParamDef",
    "ParamType",
    "RepeatDef",
    "Spec",
    "infer_param_type",
    "is_name_template",
    "nodes_mapping",
]

FORMAT_VERSION: Literal[1] = 1


ParamType = Literal["int", "float", "bool", "str", "list[int]", "list[float]", "list[bool]", "list[str]"]
PARAM_TYPES: frozenset[str] = frozenset(ParamType.__args__)  # type: ignore[attr-defined]
NAME_PATTERN = str(node_name_schema()["pattern"])  # node names (for the JSON Schema)
SYMBOL_PATTERN = str(identifier_schema()["pattern"])  # input, parameter, block and dimension names


class NameRuleError(ValueError):
    """A name that breaks the name rule of `_names`; `part` is its key or index, where it is located.
    `others` holds the other bad names of the same mapping (key, reason), each reported at its own key."""

    def __init__(self, message: str, part: str | int, others: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(message)
        self.part = part
        self.others = others


def _check_name(name: str, what: str, part: str | int | None = None) -> str:
    problem = identifier_problem(name, what)
    if problem is not None:
        raise NameRuleError(problem, name if part is None else part)
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
        if isinstance(data, str) and data in PARAM_TYPES:
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


class RepeatDef(_Model):
    """The long form of `repeat`: how many instances, their first index, and how they are laid out."""

    count: int | str = Field(description="How many instances (`i` runs from `start` to `start + count - 1`).")
    start: int | str = Field(0, description="The index of the first instance (`name.1`, ... with `start: 1`).")
    layout: Literal["sequence", "flat", "parallel"] = Field(
        "sequence",
        description="`sequence`: each instance takes the previous one's output; `flat`: as `sequence`, with the"
        " instances' modules numbered in one run (the list they are in, or `name.0`, `name.1`, ...); `parallel`: every"
        " instance takes the node's input and `combine` joins their outputs.",
    )
    combine: str | None = Field(
        None, description="With `layout: parallel`: the op that joins the outputs (`concat`, `add`)."
    )

    @model_validator(mode="after")
    def _combine_with_parallel(self) -> RepeatDef:
        if (self.combine is None) == (self.layout == "parallel"):
            raise ValueError(
                "`combine` goes with `layout: parallel`, and a parallel repeat needs one (`concat`, `add`)"
            )
        return self


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
    repeat: int | str | RepeatDef | None = Field(
        None,
        description="Instantiate the node this many times in sequence (`name.0`, `name.1`, ...); `i` is the index."
        " The long form `{count, start, layout, combine}` numbers from `start` and lays the instances out flat or"
        " in parallel.",
    )
    when: bool | str | None = Field(
        None, description="A bool (usually `$param`); when false the node passes its first input through."
    )
    slot: Literal["keep", "drop"] = Field(
        "keep",
        description="In a list of nodes: whether the node keeps its number when `when` disables it (`keep`), or the"
        " nodes after it take it (`drop`).",
    )
    keep: bool = Field(
        False, description="Build the node even though no output depends on it (its module is in the state_dict)."
    )
    inline: bool = Field(
        False,
        description="With `block`: name the instance's nodes in the enclosing scope, without the instance's name"
        " in front (`conv1`, not `convs.conv1`), as if they were written in its place.",
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
        if self.inline and self.block is None:
            raise ValueError("`inline` goes with `block`: it names a block instance's nodes where the instance is")
        if self.inline and isinstance(self.repeat, RepeatDef) and self.repeat.layout != "sequence":
            raise ValueError(
                f"an inline repeat chains its instances in sequence; `layout: {self.repeat.layout}` names them itself"
            )
        return self

    @property
    def args(self) -> dict[str, JsonValue]:
        return dict(self.model_extra or {})


def nodes_mapping(value: Any) -> Any:
    """Accept the list form (unnamed nodes, named by position) as well as the mapping form."""
    if isinstance(value, list):
        return {str(i): item for i, item in enumerate(value)}
    return value


def is_name_template(name: str) -> bool:
    """A node key with `${...}` in it: the node's name is rendered from parameters and `i`."""
    return "${" in name


def _check_node_names(nodes: dict[str, NodeDef]) -> dict[str, NodeDef]:
    # Whether a node is a module (whose name may not be an `nn.Module` attribute) depends on its op,
    # which the catalog knows: that part of the rule is checked with the ops (`_static`). A name
    # template (`denselayer${i}`) is checked when it is rendered.
    problems = [(name, node_name_problem(name, module=False)) for name in nodes if not is_name_template(name)]
    bad = [(name, problem) for name, problem in problems if problem is not None]
    if bad:  # one diagnostic per bad name, each at its key (`_model_errors`)
        raise NameRuleError(bad[0][1], bad[0][0], tuple(bad[1:]))
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

    _nodes_list = field_validator("nodes", mode="before")(classmethod(lambda cls, v: nodes_mapping(v)))
    _names = field_validator("nodes")(classmethod(lambda cls, v: _check_node_names(v)))

    @field_validator("inputs", mode="before")
    @classmethod
    def _one_input(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("inputs")
    @classmethod
    def _input_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for index, name in enumerate(value):
            _check_name(name, "block input", index)
        return value

    @field_validator("params")
    @classmethod
    def _param_names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            _check_name(name, "parameter name")
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
        {}, description="Named, typed values; `$name` uses one; `netspec.build(spec, params={name: ...})` overrides it."
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

    # Given when the spec is made (`Spec.model_validate(data, context={"sources": ..., "path": ...,
    # "limits": ...})`, or `with_expansion` for a copy), never written afterwards.
    _source: SourceMap = PrivateAttr(default_factory=SourceMap)
    _limits: Limits = PrivateAttr(default=DEFAULT_LIMITS)
    _warnings: tuple[Diagnostic, ...] = PrivateAttr(default=())
    _path: Path | None = PrivateAttr(default=None)
    _graph: Any = PrivateAttr(default=None)  # the graph at the default parameters, once expanded
    _resolved: Any = PrivateAttr(default=None)  # its names resolved (`_resolve.resolved`), once

    _nodes_list = field_validator("nodes", mode="before")(classmethod(lambda cls, v: nodes_mapping(v)))
    _names = field_validator("nodes")(classmethod(lambda cls, v: _check_node_names(v)))

    @field_validator("outputs", mode="before")
    @classmethod
    def _one_output(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("params", "blocks", "dims")
    @classmethod
    def _key_names(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        what = {"params": "parameter name", "blocks": "block name", "dims": "dimension name"}[str(info.field_name)]
        for name in value:
            _check_name(name, what)
        return value

    @field_validator("inputs")
    @classmethod
    def _input_names(cls, value: dict[str, InputShape]) -> dict[str, InputShape]:
        for name, shape in value.items():
            _check_name(name, "input name")
            if not shape:
                raise ValueError(f"input `{name}` needs a shape, e.g. [N, 3, H, W]")
        return value

    def model_post_init(self, context: Any, /) -> None:
        if isinstance(context, dict):
            self._source = context.get("sources") or SourceMap()
            self._path = context.get("path")
            self._limits = context.get("limits") or DEFAULT_LIMITS

    def with_expansion(self, warnings: list[Diagnostic], graph: Any) -> Spec:
        """A copy of this spec that carries what expanding it at its defaults found; this spec is unchanged."""
        made = self.model_copy()
        made.__pydantic_private__ = {
            **(self.__pydantic_private__ or {}),
            "_warnings": tuple(warnings),
            "_graph": graph,
        }
        return made

    def with_limits(self, limits: Limits) -> Spec:
        """A copy of this spec that carries `limits` and nothing derived (not expanded); this spec is unchanged."""
        made = self.model_copy()
        made.__pydantic_private__ = {
            **(self.__pydantic_private__ or {}),
            "_limits": limits,
            "_warnings": (),
            "_graph": None,
            "_resolved": None,
        }
        return made

    @property
    def expanded(self) -> Any:
        """The graph at the default parameters, if it was expanded when the spec was loaded."""
        return self._graph

    @property
    def source(self) -> SourceMap:
        """Spans of every part of the spec, by path."""
        return self._source

    @property
    def warnings(self) -> list[Diagnostic]:
        """Warnings found while loading (unused parameters, unused nodes, ...)."""
        return list(self._warnings)

    @property
    def limits(self) -> Limits:
        """The bounds every phase applies to this spec: those given to `load`/`loads`, else the defaults."""
        return self._limits

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
