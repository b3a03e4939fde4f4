"""From a `Spec` to a flat graph: parameters bound, blocks and repeats expanded, references resolved.

Every node of the result carries its qualified name (`layer2.0.conv1`), which is also the name of its
module in the compiled model, and the spec path it was defined at, for diagnostics.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import heapq
import itertools
import math
import re
from collections.abc import Iterator, Mapping
from typing import Any, Literal

from ._dims import Ports, ShapeCheck, ShapeError, sym
from ._errors import (
    HINT_BUDGET,
    Diagnostic,
    Severity,
    SourceMap,
    Span,
    SpecError,
    did_you_mean,
    format_path,
    hint_budget,
)
from ._expr import INPUT_SHAPES, Expr, ExprBudgetError, ExprError, Template, compile_value, evaluation_budget
from ._glob import Glob, GlobError, build_glob
from ._limits import Limits
from ._load import collector_paused
from ._models import BlockDef, NodeDef, ParamDef, RepeatDef, Spec, is_name_template
from ._names import canonical_port, is_identifier, node_name_problem, port_number_problem
from ._ops import OpDef, catalog, check_args, complete_args
from ._resolve import Resolved, resolved, source_span
from ._static import REPEAT_INDEX, static_problems
from ._work import (
    EXPANSION_UNITS_PER_STEP,
    EXPRESSION_UNITS_PER_STEP,
    HINT_UNITS_PER_COMPARISON,
    INIT_STEPS_PER_UNIT,
    charge,
    per_unit,
)

__all__ = [
    "INIT_ARGUMENTS",
    "Graph",
    "GraphNode",
    "InitPlan",
    "Instance",
    "bind_params",
    "check_init_args",
    "expand",
    "init_steps",
    "live_nodes",
    "name_pattern",
    "producer",
]

MAX_BLOCK_DEPTH = 32
# Work units of one expansion, each about a microsecond of CPU: a node instance costs `NODE_UNITS`, a
# block instance `BLOCK_UNITS` (its scope, its instance record and its nodes' lookups), a node that
# `when` disables `DISABLED_UNITS`, plus 4 per argument evaluated and checked and 1 per 8 names in the
# scope copied. Bounds the time a hostile `repeat` can cost (a repeat of blocks whose nodes are all
# disabled makes no node, so the node limit does not see it) before the request's budget sees it; a
# larger `Limits.max_graph_nodes` raises it with the nodes it allows.
MAX_EXPANSION_WORK = 1_000_000
EXPANSION_WORK_PER_NODE = 100
NODE_UNITS = 8
BLOCK_UNITS = 20
DISABLED_UNITS = 2


def expansion_work_limit(max_graph_nodes: int) -> int:
    """The expansion steps a spec may take under a node limit: `MAX_EXPANSION_WORK`, or more for a larger limit."""
    return max(MAX_EXPANSION_WORK, EXPANSION_WORK_PER_NODE * max_graph_nodes)


NODE_LIMIT_HINT = (
    "lower a `repeat` count, or raise the node limit: `netspec.Limits(max_graph_nodes=...)`"
    " (`--max-graph-nodes` on the command line)"
)
EXPANSION_HINT = (
    "lower the `repeat` counts or give repeated nodes fewer arguments; the limit grows with"
    " `netspec.Limits(max_graph_nodes=...)`"
)
# The budget the expressions of one expansion share (see `_expr`): at most about 1.5 s of evaluation,
# charged to the request as `EXPRESSION_UNITS_PER_STEP` units a step, half the default `Limits.max_work`.
MAX_EXPRESSION_WORK = 2_000_000

Path = tuple[str | int, ...]


@dataclasses.dataclass
class GraphNode:
    """One op of the expanded graph."""

    name: str  # qualified, e.g. `layer2.0.conv1`; also the module's name
    op: OpDef
    args: dict[str, Any]  # evaluated arguments as written (no defaults, no inferred values)
    inputs: list[str]  # qualified names of the producing nodes or graph inputs
    path: Path  # where the node is defined in the spec
    index: int  # position in spec (module registration) order
    keep: bool = False  # built even when no output depends on it (`keep: true`)
    origin: Path = ()  # the node of `nodes` it comes from (itself, or the block instance it is inside)


RULE_UNITS = 16  # a rule considered for a node (the call, the op test, the charge): about 0.3 us
NAME_UNITS = 4  # a name of the rule's `nodes` compared with the node's


@dataclasses.dataclass(frozen=True)
class InitPlan:
    """A resolved init rule: which modules, and what to do with their weight and bias."""

    ops: frozenset[str] | None
    patterns: tuple[str, ...] | None
    weight: tuple[str, dict[str, Any]] | None
    bias: tuple[str, dict[str, Any]] | None
    path: Path

    def matches(self, node: GraphNode, sources: SourceMap | None = None) -> bool:
        """Whether the rule selects `node`. The work it takes is charged to the request's budget
        (`init rules`: `RULE_UNITS` for the rule and node, `NAME_UNITS` per name it compares, and the
        matcher's units for a wildcard pattern, `Glob.steps`), at the rule in `sources` when the budget
        runs out. The units are what the work costs: about 0.3 us for a rule and a node, 0.2 to 0.5 us per
        wildcard character."""
        steps = RULE_UNITS
        matched = self.ops is None or node.op.name in self.ops
        if matched and self.patterns is not None:
            name = node.name
            matched = False
            for pattern in self.patterns:
                if _is_literal(pattern):
                    steps += NAME_UNITS
                    matched = pattern == name
                else:
                    matched, taken = name_pattern(pattern).steps(name)
                    steps += taken
                if matched:
                    break
        charge(
            "init rules", per_unit(steps, INIT_STEPS_PER_UNIT), where=functools.partial(_rule_place, sources, self.path)
        )
        return matched


def _rule_place(sources: SourceMap | None, path: Path) -> tuple[SourceMap | None, Span | None, str]:
    return sources, sources.span(path) if sources is not None else None, format_path(path)


@functools.lru_cache(maxsize=1024)
def name_pattern(pattern: str) -> Glob:
    """An init rule's `nodes` pattern over dotted module names, matched in time linear in the name.

    `*` matches any characters within one part of a dotted name (never a `.`), `**` any characters
    including dots, `?` one character other than `.`, `[abc]`, `[a-z]`, `[!abc]` one character of
    (not of) the set; the rest is literal. `GlobError` if it is not a pattern (`[z-a]`).
    """
    return build_glob(pattern, ".")


def _frozen(value: Any) -> Any:
    """A hashable stand-in for spec data that tells `1`, `1.0` and `true` apart, and `0.0` from `-0.0`
    (equal numbers, but a diagnostic shows the one written)."""
    if isinstance(value, dict):
        return ("dict", tuple((k, _frozen(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return ("list", tuple(_frozen(v) for v in value))
    if isinstance(value, float):
        return ("float", repr(value))
    return (type(value).__name__, value)


_WILDCARDS = frozenset("*?[")


@functools.lru_cache(maxsize=4096)
def _is_literal(pattern: str) -> bool:
    """A pattern without `*`, `?` or `[` matches one name: itself."""
    return not _WILDCARDS & set(pattern)


class _PlanIndex:
    """The init rules by the node names they list literally; rules with a wildcard (or none) apply to any.

    A node is then matched against the rules that name it and the wildcard rules only, not every rule:
    rules that list node names (`nodes: [fc, head.proj]`) cost a lookup per node.
    """

    def __init__(self, plans: list[InitPlan]) -> None:
        self.literal: dict[str, list[int]] = {}
        self.general: list[int] = []
        for i, plan in enumerate(plans):
            if plan.patterns is None or not all(_is_literal(p) for p in plan.patterns):
                self.general.append(i)
            else:
                for pattern in plan.patterns:
                    self.literal.setdefault(pattern, []).append(i)

    def candidates(self, name: str) -> list[int]:
        """The indices of the rules that may match node `name`, in rule order."""
        named = self.literal.get(name)
        return sorted(set(self.general).union(named)) if named else self.general


_index_cache: list[tuple[list[InitPlan], _PlanIndex]] = []  # the last list indexed (build matches node by node)


def _plan_index(plans: list[InitPlan]) -> _PlanIndex:
    if _index_cache and _index_cache[0][0] is plans:
        return _index_cache[0][1]
    index = _PlanIndex(plans)
    _index_cache[:] = [(plans, index)]
    return index


def init_steps(
    node: GraphNode, plans: list[InitPlan], sources: SourceMap | None = None
) -> list[tuple[str, str, dict[str, Any], InitPlan]]:
    """What initialises `node`'s parameters: for `weight`, then `bias`, the last rule that matches the
    node and sets that parameter. Rules it overrides are not applied at all (they draw no random
    numbers); a winning `default` leaves PyTorch's own initialisation. The matching is charged to
    the work budget (`InitPlan.matches`, located in `sources`)."""
    steps = []
    candidates = _plan_index(plans).candidates(node.name)
    for param in ("weight", "bias"):
        winner = None
        for i in reversed(candidates):
            plan = plans[i]
            if getattr(plan, param) is not None and plan.matches(node, sources):
                winner = plan
                break
        if winner is not None:
            name, kwargs = getattr(winner, param)
            if name != "default":
                steps.append((param, name, kwargs, winner))
    return steps


@dataclasses.dataclass
class Instance:
    """A block instance or a repeat of the expanded graph: the tree that qualified names flatten.

    `members` are the qualified names of what it holds directly, in spec order: nodes, and the
    instances and repeats nested in it. `output` is what a reference to it reads (a node, or
    `node:k`); None when it stands for nothing (an empty repeat of a disabled input).

    A block instance of a flat repeat numbers its modules into the repeat's run (`features.3`,
    `features.4`): it holds no modules under a name of its own, so it is keyed `features[i]` (`i`
    the repeat index) and `numbered` is true; `container` says whether an instance's name is the
    module that holds its members.
    """

    name: str  # qualified; "" for the spec itself
    kind: Literal["spec", "block", "repeat"]
    path: Path
    block: str | None = None  # the block a `block` instance instantiates
    members: list[str] = dataclasses.field(default_factory=list)
    output: str | None = None
    numbered: bool = False  # a block instance whose modules continue a flat repeat's numbering

    @property
    def container(self) -> bool:
        """Whether the instance is a module of the built model (its members are named `name.<local>`)."""
        return bool(self.name) and not self.numbered


@dataclasses.dataclass(frozen=True)
class ReadShape:
    """A node's shape computed during expansion, for an expression that read it (`channels()`, `dim(d)`).

    Kept with what the rule was given and the conditions it recorded, so that shape inference, given the
    same input shapes, takes it as it is instead of running the rule a second time.
    """

    inputs: tuple[tuple[Any, ...], ...]
    args: dict[str, Any]  # complete: defaults and inferred values
    output: Any  # what the rule returned
    check: ShapeCheck  # the conditions and warnings it recorded


@dataclasses.dataclass
class Graph:
    """The expanded spec: nodes in spec order and in execution order, inputs, outputs, init plans."""

    spec: Spec
    params: dict[str, Any]
    inputs: dict[str, tuple[int | str, ...]]  # ints or symbol names
    nodes: list[GraphNode]  # spec order
    order: list[GraphNode]  # execution order (a stable topological sort)
    outputs: list[str]
    init: list[InitPlan]
    warnings: list[Diagnostic]
    # Names that are not ops but stand for one's output: block instances (`layer1.0`), repeats
    # (`layer1`) and nodes disabled by `when` (their input).
    aliases: dict[str, str] = dataclasses.field(default_factory=dict)
    # The block-instance tree: every block instance and repeat by qualified name ("" is the spec).
    instances: dict[str, Instance] = dataclasses.field(default_factory=dict)
    # Steps the expansion took (instances, arguments, reference steps): what the work limit counts,
    # and what tests read to check that expansion grows linearly with the spec.
    work: int = 0
    # The shapes expressions read during expansion, at the inputs' declared (symbolic) shapes.
    read_shapes: dict[str, ReadShape] = dataclasses.field(default_factory=dict)

    def instance_of(self, name: str) -> Instance | None:
        """The innermost instance or repeat that holds node or instance `name` directly."""
        return self._parents.get(name)

    @property
    def sources(self) -> SourceMap:
        return self.spec.source

    @property
    def limits(self) -> Limits:
        """The bounds of the spec it was expanded from (its work budget applies to calls given the graph)."""
        return self.spec.limits

    def node(self, name: str) -> GraphNode:
        return self._by_name[name]

    def __post_init__(self) -> None:
        self._by_name = {n.name: n for n in self.nodes}
        self._parents: dict[str, Instance] = {}

    def _index_instances(self) -> None:
        self._parents = {member: inst for inst in self.instances.values() for member in inst.members}


# --- parameters ---------------------------------------------------------------------------------


_PY_TYPES: dict[str, tuple[type, ...]] = {"int": (int,), "float": (int, float), "bool": (bool,), "str": (str,)}


def _type_ok(kind: str, value: Any) -> bool:
    if kind.startswith("list["):
        return isinstance(value, (list, tuple)) and all(_type_ok(kind[5:-1], v) for v in value)
    if kind != "bool" and isinstance(value, bool):
        return False
    return isinstance(value, _PY_TYPES[kind])


def check_param_value(name: str, pdef: ParamDef, value: Any) -> str | None:
    """A message when `value` does not fit the parameter's type and bounds."""
    if not _type_ok(pdef.type, value):
        return f"parameter `{name}` is {pdef.type}, got {value!r:.60} ({type(value).__name__})"
    if pdef.choices is not None and value not in pdef.choices:
        return f"parameter `{name}` must be one of {list(pdef.choices)}, got {value!r:.60}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if pdef.min is not None and value < pdef.min:
            return f"parameter `{name}` must be >= {pdef.min}, got {value}"
        if pdef.max is not None and value > pdef.max:
            return f"parameter `{name}` must be <= {pdef.max}, got {value}"
    return None


def bind_params(spec: Spec, overrides: Mapping[str, Any], *, unset_ok: bool = False) -> dict[str, Any]:
    """Parameter values: defaults, then `overrides`; unknown names and bad values are `SpecError`s.

    A parameter with no default and no value is one too (NS121), unless `unset_ok` (validate
    reports it as a warning, NS122); it is then left out of the values.
    """
    diagnostics = []
    values: dict[str, Any] = {}
    for name in overrides:
        if name not in spec.params:
            hint = did_you_mean(name, spec.params, listing=20) or "this spec has no parameters"
            where = spec.source.span(("params",), key=True) or spec.source.span(("name",))
            diagnostics.append(
                Diagnostic(
                    f"unknown parameter `{name}` for spec `{spec.name}`", path=f"params.{name}", hint=hint, code="NS120"
                ).located(where)
            )
    for name, pdef in spec.params.items():
        value = overrides.get(name, pdef.default)
        path = ("params", name)
        if isinstance(value, tuple):
            value = list(value)
        if value is None and unset_ok and name not in overrides:
            continue
        if value is None:
            message = (
                f"parameter `{name}` cannot be null"
                if name in overrides
                else f"parameter `{name}` has no default and no value"
            )
            diagnostics.append(
                Diagnostic(
                    message,
                    path=format_path(path),
                    hint=f'give it a value: `params={{"{name}": ...}}` in Python, `-p {name}=...` on the command line',
                    code="NS121",
                ).located(spec.source.span(path))
            )
            continue
        problem = check_param_value(name, pdef, value)
        if problem:
            # A default is shown where it is written; a value passed in code, at the parameter it sets.
            where = spec.source.span(path + ("default",)) if name not in overrides else None
            diagnostics.append(
                Diagnostic(problem, path=format_path(path), code="NS121").located(
                    where or spec.source.span(path, key=True)
                )
            )
        values[name] = value
    if diagnostics:
        raise SpecError(diagnostics, spec.source)
    return values


# --- scopes -------------------------------------------------------------------------------------


@dataclasses.dataclass
class _Binding:
    """What a block input stands for: a reference in the enclosing scope, or a fixed entry."""

    scope: _Scope | None
    ref: str | None
    path: Path
    entry: Any = None


@dataclasses.dataclass
class _OpEntry:
    node: GraphNode
    refs: list[tuple[str, Path]]
    scope: _Scope


@dataclasses.dataclass
class _DisabledEntry:
    refs: list[tuple[str, Path]]
    scope: _Scope
    path: Path
    failed: bool = False  # stands in for a node that could not be expanded (its error is reported)


@dataclasses.dataclass
class _InputEntry:
    name: str


@dataclasses.dataclass
class _InstanceEntry:
    scope: _Scope
    inline: bool = False  # `inline: true`: its nodes are named in the enclosing scope


@dataclasses.dataclass
class _RepeatEntry:
    children: list[Any]
    path: Path
    passthrough: list[tuple[str, Path]]  # `repeat: 0` forwards its input
    scope: _Scope
    start: int = 0  # the index of the first instance
    names: list[str] = dataclasses.field(default_factory=list)  # the instances' qualified names
    combined: _OpEntry | None = None  # `layout: parallel`: the node that joins the instances
    numbering: _Numbering | None = None  # `layout: flat`: the modules by number


@dataclasses.dataclass
class _Numbering:
    """The next number of a run of numbered modules (a list of nodes, a flat repeat), and what each holds."""

    next: int = 0
    entries: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class _Scope:
    prefix: str
    env: dict[str, Any]
    path: Path  # () for the spec, ("blocks", name) for a block body
    entries: dict[str, Any] = dataclasses.field(default_factory=dict)
    bindings: dict[str, _Binding] = dataclasses.field(default_factory=dict)
    output: str | None = None
    instance: str = ""
    numbering: _Numbering | None = None  # set when the scope's modules are numbered (a list, a flat repeat)
    qualified: dict[str, str] = dataclasses.field(default_factory=dict)  # entry -> its name in the model
    keep: bool = False  # an instance of a node with `keep: true`: all its nodes are built
    inlined: dict[str, Path] = dataclasses.field(default_factory=dict)  # names of inline instances' nodes
    inline: Path = ()  # the body of an inline instance: the node it comes from
    origin: Path = ()  # in a block instance: the node of `nodes` the instance comes from


def _division_hint(written: Any, value: Any) -> str | None:
    """For a number where an integer goes, written as an expression with `/`: suggest `//`."""
    if not (isinstance(written, str) and isinstance(value, float) and "${" in written):
        return None
    if re.search(r"(?<!/)/(?!/)", written) is None:
        return None
    fixed = re.sub(r"(?<!/)/(?!/)", "//", written)
    return f'`/` divides to a number ({value!r}); write `//` for an integer: "{fixed}"'


def _unknown_shape(ref: Any) -> str:
    what = f"input `{ref}`" if isinstance(ref, str) else "its input"
    return f"the shape of {what} is not known here: a node that reads a shape must come after its inputs"


class _Expander:
    def __init__(self, spec: Spec, params: dict[str, Any], max_nodes: int) -> None:
        self.spec = spec
        self.names: Resolved = resolved(spec)  # every `op` and `block` written as a name, resolved once
        self.params = params
        self.max_nodes = max_nodes
        self.max_work = expansion_work_limit(max_nodes)
        self.work = 0
        self.exhausted = False  # the expression budget ran out
        self.nodes: list[GraphNode] = []
        self.ops: list[_OpEntry] = []
        self.diagnostics: list[Diagnostic] = []
        # (scope, reference) -> the node it resolved to; None: it failed, and that was reported
        self._resolved: dict[tuple[int, str], str | None] = {}
        self._seen: set[tuple[str, str]] = set()
        self.by_name: dict[str, GraphNode] = {}
        self.instances: dict[str, Instance] = {"": Instance("", "spec", ())}
        self.container = self.instances[""]  # the instance or repeat being expanded
        self._quiet = 0  # > 0 while references are resolved ahead of time, for shapes that expressions read
        self._quiet_problem: tuple[str, str] | None = None  # what the last quiet resolution found wrong
        self.input_shapes: dict[str, tuple[Any, ...]] = {}
        self._shapes: dict[str, tuple[Any, ...] | str] = {}  # static shapes read so far, or why one is unknown
        self.read_shapes: dict[str, ReadShape] = {}  # the rules' results behind `_shapes`, for shape inference
        self._by_name: dict[str, _OpEntry] = {}
        self._checked: dict[tuple[int, Any], list[Any]] = {}  # (op, arguments) -> their problems
        self._ports: dict[str, tuple[tuple[Any, ...], ...]] = {}  # the output shapes of nodes with several
        self.numbered: dict[str, _InstanceEntry] = {}  # the numbered instances, for their outputs

    # -- reporting

    def report(
        self,
        message: str,
        path: Path,
        *,
        hint: str | None = None,
        code: str = "NS130",
        severity: Severity = "error",
        key: bool = False,
        span: Span | None = None,
    ) -> None:
        if self._quiet:
            self._quiet_problem = (code, message)
            raise _Unresolved
        if (format_path(path), message) in self._seen:
            return
        self._seen.add((format_path(path), message))
        where = span or source_span(self.spec.source, path, key=key)
        self.diagnostics.append(
            Diagnostic(message, path=format_path(path), hint=hint, code=code, severity=severity).located(where)
        )

    def add_static(self, problems: list[Diagnostic]) -> None:
        """Add what the static checks found in parts the expansion did not reach (disabled nodes, unused blocks)."""
        if self._quiet:
            raise _Unresolved
        for problem in problems:
            if (problem.path, problem.message) not in self._seen:
                self._seen.add((problem.path, problem.message))
                self.diagnostics.append(problem)

    # -- values

    def evaluate(self, value: Any, env: Mapping[str, Any], path: Path) -> Any:
        if isinstance(value, str):
            try:
                compiled = compile_value(value)
                if isinstance(compiled, Expr):
                    return compiled.evaluate(env)
                if isinstance(compiled, Template):
                    return compiled.render(env)
                return compiled
            except ExprError as err:
                self.report(
                    err.message, path, hint=err.hint, code="NS131", span=_expr_span(self.spec.source, path, err)
                )
                self.exhausted = self.exhausted or isinstance(err, ExprBudgetError)
                raise _Skip from None
        if isinstance(value, list):
            return [self.evaluate(v, env, path + (i,)) for i, v in enumerate(value)]
        if isinstance(value, dict):
            return {k: self.evaluate(v, env, path + (k,)) for k, v in value.items()}
        return value

    # -- expansion

    def expand_top(self) -> _Scope:
        scope = _Scope(prefix="", env=dict(self.params), path=())
        for name in self.spec.inputs:
            scope.entries[name] = _InputEntry(name)
        first_input = next(iter(self.spec.inputs))
        self.expand_nodes(scope, self.spec.nodes, ("nodes",), first_input, ())
        return scope

    def expand_nodes(
        self, scope: _Scope, nodes: Mapping[str, NodeDef], nodes_path: Path, first: str, stack: tuple[str, ...]
    ) -> None:
        if scope.numbering is None and list(nodes) == [str(i) for i in range(len(nodes))]:
            scope.numbering = _Numbering()  # a list of nodes: modules numbered as in an `nn.Sequential`
        previous = first
        for local, node in nodes.items():
            path = nodes_path + (local,)
            if local in scope.inlined:
                where = format_path(scope.inlined[local])
                message = f"node `{local}` has the name of a node of the inline instance at `{where}`"
                self.report(message, path, key=True, code="NS132")
                continue
            if local in scope.entries or local in scope.bindings:
                self.report(f"node `{local}` has the name of an input", path, key=True, code="NS132")
                continue
            try:
                entry = self.expand_node(scope, local, node, path, previous, stack)
            except _Skip:
                entry = _DisabledEntry([(previous, path)], scope, path, failed=True)
            scope.entries[local] = entry
            previous = entry if is_name_template(local) else local  # a template key is not a reference

    def expand_node(
        self, scope: _Scope, local: str, node: NodeDef, path: Path, previous: Any, stack: tuple[str, ...]
    ) -> Any:
        refs = [(r, path + ("in", i)) for i, r in enumerate(node.inputs)] if node.inputs else [(previous, path)]
        if node.when is not None:
            enabled = self.evaluate(node.when, self.shape_env(scope, refs, scope.env, path), path + ("when",))
            if not isinstance(enabled, bool):
                self.report(f"`when` must be true or false, got {enabled!r:.40}", path + ("when",), code="NS133")
                raise _Skip
            if not enabled:
                self.add_work(DISABLED_UNITS, path)
                if scope.numbering is not None and node.slot == "keep":
                    scope.numbering.next += 1
                return _DisabledEntry(refs, scope, path)
        if node.repeat is None and node.inline:  # no module of its own: its nodes are named here
            return self.expand_one(scope, f"{scope.prefix}{local}", node, path, refs, scope.env, stack)
        if node.repeat is None:
            name = self.module_name(scope, local, path, scope.env)
            entry = self.expand_one(scope, f"{scope.prefix}{name}", node, path, refs, scope.env, stack)
            self.name_entry(scope, local, name, entry, path)
            return entry
        return self.expand_repeat(scope, local, node, path, refs, stack)

    def module_name(self, scope: _Scope, local: str, path: Path, env: Mapping[str, Any]) -> str:
        """The name of a node's module in its scope: its number, its key, or its rendered name template."""
        if is_name_template(local):
            name = self.evaluate(local, env, path)
            if isinstance(name, int) and not isinstance(name, bool):
                name = str(name)  # `"${i}"`: the instances of a repeat numbered in the enclosing scope
            problem = node_name_problem(name)
            if problem:
                self.report(f"name template `{local}`: {problem}", path, key=True, code="NS132")
                raise _Skip
            if name in scope.entries or name in scope.bindings or name in scope.qualified:
                message = f"the name template `{local}` gives `{name}`, a name already used"
                self.report(message, path, key=True, code="NS132")
                raise _Skip
            return str(name)
        if scope.numbering is not None:
            scope.numbering.next += 1
            return str(scope.numbering.next - 1)
        return local

    def name_entry(self, scope: _Scope, local: str, name: str, entry: Any, path: Path) -> None:
        """Record the model name of an entry; a rendered name is also a name other nodes can use."""
        scope.qualified[local] = f"{scope.prefix}{name}"
        if scope.numbering is not None:
            scope.numbering.entries[name] = entry
        if name != local and is_name_template(local):
            scope.entries[name] = entry
            scope.qualified[name] = f"{scope.prefix}{name}"

    def repeat_form(self, scope: _Scope, node: NodeDef, path: Path) -> tuple[int, int, str, str | None]:
        """count, start, layout and combining op of a node's `repeat`."""
        form = node.repeat
        raw_count, raw_start = (form.count, form.start) if isinstance(form, RepeatDef) else (form, 0)
        where = path + ("repeat",) + (("count",) if isinstance(form, RepeatDef) else ())
        count = self.evaluate(raw_count, scope.env, where)
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            self.report(f"`repeat` must be a whole number >= 0, got {count!r:.40}", where, code="NS133")
            raise _Skip
        start = self.evaluate(raw_start, scope.env, path + ("repeat", "start"))
        if isinstance(start, bool) or not isinstance(start, int) or start < 0:
            self.report(
                f"`start` must be a whole number >= 0, got {start!r:.40}", path + ("repeat", "start"), code="NS133"
            )
            raise _Skip
        if isinstance(form, RepeatDef):
            return count, start, form.layout, form.combine
        return count, start, "sequence", None

    def expand_repeat(
        self, scope: _Scope, local: str, node: NodeDef, path: Path, refs: list[tuple[Any, Path]], stack: tuple[str, ...]
    ) -> Any:
        count, start, layout, combine = self.repeat_form(scope, node, path)
        template = is_name_template(local)
        entry = _RepeatEntry([], path, refs, scope, start)
        flat: tuple[str, _Numbering] | None = None
        if layout == "flat":
            if template:
                self.report(
                    "a flat repeat numbers its modules; a name template names them: use one or the other",
                    path,
                    key=True,
                    code="NS133",
                )
                raise _Skip
            if scope.numbering is not None:  # continue the numbering of the list the node is in
                if start:
                    self.report(
                        "a flat repeat in a list of nodes continues the list's numbering: it takes no `start`",
                        path + ("repeat", "start"),
                        code="NS133",
                    )
                    raise _Skip
                flat = (scope.prefix, scope.numbering)
            else:
                flat = (f"{scope.prefix}{local}.", _Numbering(start))
            entry.numbering = flat[1]
            base = local
        else:
            base = local if template or node.inline else self.module_name(scope, local, path, scope.env)
        # The repeat is an instance of the tree unless its modules are numbered into the enclosing run,
        # named by a template or inline (then they belong to the enclosing instance).
        grouped = (flat is None or scope.numbering is None) and not node.inline
        with (
            self.nested(Instance(f"{scope.prefix}{base}", "repeat", path))
            if grouped and not template
            else contextlib.nullcontext()
        ):
            smallest: tuple[int, int] | None = None  # the fewest nodes and work units of one instance so far
            for i in range(start, start + count):
                env = {**scope.env, REPEAT_INDEX: i}
                chained = entry.children and layout != "parallel"
                child_refs = [(entry.children[-1], path)] + refs[1:] if chained else refs
                before = (len(self.nodes), self.work)
                if flat is not None and node.block is None:
                    number = str(flat[1].next)
                    flat[1].next += 1
                    child = self.expand_one(scope, f"{flat[0]}{number}", node, path, child_refs, env, stack)
                    flat[1].entries[number] = child
                    qualified = f"{flat[0]}{number}"
                elif flat is not None:
                    qualified = f"{scope.prefix}{base}[{i}]"  # its key in the tree: it names no module
                    child = self.expand_one(scope, qualified, node, path, child_refs, env, stack, flat=flat)
                else:
                    name = self.module_name(scope, local, path, env) if template else f"{base}.{i}"
                    qualified = f"{scope.prefix}{name}"
                    child = self.expand_one(scope, qualified, node, path, child_refs, env, stack)
                    if template:
                        self.name_entry(scope, local, name, child, path)
                entry.children.append(child)
                entry.names.append(qualified)
                grown = (len(self.nodes) - before[0], self.work - before[1])
                smallest = grown if smallest is None else (min(smallest[0], grown[0]), min(smallest[1], grown[1]))
                self.check_projection(count, start + count - 1 - i, smallest, path)
        if flat is None and not template and not node.inline:
            scope.qualified[local] = f"{scope.prefix}{base}"
        if combine is not None and len(entry.children) > 1:
            entry.combined = self.combine(scope, f"{scope.prefix}{base}", combine, entry, path)
        return entry

    @contextlib.contextmanager
    def nested(self, instance: Instance) -> Iterator[Instance]:
        """Expand inside `instance`: what is made meanwhile are its members."""
        self.instances[instance.name] = instance
        self.container.members.append(instance.name)
        outer, self.container = self.container, instance
        try:
            yield instance
        finally:
            self.container = outer

    def combine(self, scope: _Scope, qualified: str, combine: str, entry: _RepeatEntry, path: Path) -> _OpEntry:
        where = path + ("repeat", "combine")
        op = self.names.op(combine)
        if op is None:
            self.report(f"unknown op `{combine}`", where, hint=did_you_mean(combine, catalog()), code="NS141")
            raise _Skip
        if op.max_inputs is not None and op.max_inputs < len(entry.children):
            hint = "use `concat`, `add` or `mul`"
            self.report(f"`{combine}` cannot join {len(entry.children)} outputs", where, hint=hint, code="NS153")
            raise _Skip
        graph_node = GraphNode(qualified, op, {}, [], path, len(self.nodes))
        self.nodes.append(graph_node)
        self.container.members.append(qualified)  # beside the repeat it joins, which has its name
        joined = _OpEntry(graph_node, [(child, path) for child in entry.children], scope)
        self.ops.append(joined)
        self._by_name[qualified] = joined
        return joined

    def check_projection(self, count: int, remaining: int, smallest: tuple[int, int], path: Path) -> None:
        """Stop a repeat early when its remaining instances, each as large as the smallest so far, pass a limit."""
        nodes, work = len(self.nodes) + remaining * smallest[0], self.work + remaining * smallest[1]
        if nodes > self.max_nodes:
            message = (
                f"the spec expands to more than {self.max_nodes:,} nodes (`repeat: {count}` here makes about {nodes:,})"
            )
            hint = NODE_LIMIT_HINT
        elif work > self.max_work:
            message = f"expanding the spec takes more than {self.max_work:,} steps (`repeat: {count}` here takes about {work:,})"
            hint = EXPANSION_HINT
        else:
            return
        self.report(message, path + ("repeat",), hint=hint, code="NS134")
        raise _TooLarge

    def charge(self, node: NodeDef, env: Mapping[str, Any], path: Path) -> None:
        """Count the work of one node or block instance; stop at the limit or when the expressions' budget is spent."""
        base = NODE_UNITS if node.block is None else BLOCK_UNITS
        self.add_work(base + 4 * len(node.model_extra or {}) + len(env) // 8, path)

    def add_work(self, units: int, path: Path) -> None:
        self.work += units
        if self.work > self.max_work:
            self.report(
                f"expanding the spec takes more than {self.max_work:,} steps", path, hint=EXPANSION_HINT, code="NS134"
            )
            raise _TooLarge
        if self.exhausted:
            raise _TooLarge

    def expand_one(
        self,
        scope: _Scope,
        qualified: str,
        node: NodeDef,
        path: Path,
        refs: list[tuple[Any, Path]],
        env: dict[str, Any],
        stack: tuple[str, ...],
        *,
        flat: tuple[str, _Numbering] | None = None,
    ) -> Any:
        self.charge(node, env, path)
        self.check_placement(node, path)
        refs = [(self.render_ref(r, env, p), p) for r, p in refs]
        env = self.shape_env(scope, refs, env, path)
        if node.block is not None:
            return self.expand_block(scope, qualified, node, path, refs, env, stack, flat=flat)
        op = self.names.ops.get(path)
        if op is None:
            if "$" not in (node.op or ""):  # an unknown name, reported where the names were resolved
                self.add_static([self.names.problems[path]])
                raise _Skip
            op_name = self.evaluate(node.op, env, path + ("op",))
            if not isinstance(op_name, str):
                self.report(f"`op` must name an op, got {op_name!r:.40}", path + ("op",), code="NS141")
                raise _Skip
            op = self.lookup_op(op_name, path)
        if op.max_inputs == 0 and not node.inputs:
            refs = []  # a learned tensor: no input
        args = {k: self.evaluate(v, env, path + (k,)) for k, v in node.args.items() if k not in PLACEMENT_KEYS}
        for problem in self.checked_args(op, args):
            arg_path = path + (problem.arg,) if problem.arg else path
            written = node.args.get(problem.arg) if problem.arg else None
            self.report(
                problem.message,
                arg_path,
                hint=(_division_hint(written, args.get(problem.arg or "")) if problem.kind == "type" else None)
                or problem.hint,
                key=problem.kind == "unknown",
                code=_ARG_CODES.get(problem.kind, "NS140"),
            )
        if len(self.nodes) >= self.max_nodes:
            self.report(
                f"the spec expands to more than {self.max_nodes:,} nodes", path, hint=NODE_LIMIT_HINT, code="NS134"
            )
            raise _TooLarge
        if op.kind == "tensor":
            self.check_tensor_init(args, path)
        if qualified in self.by_name:  # only an inline instance can name a node where one already is
            where = f" (the inline instance at `{format_path(scope.inline)}`)" if scope.inline else ""
            self.report(f"the model already has a node `{qualified}`{where}", path, key=True, code="NS132")
            raise _Skip
        graph_node = GraphNode(
            qualified, op, args, [], path, len(self.nodes), keep=node.keep or scope.keep, origin=scope.origin or path
        )
        self.nodes.append(graph_node)
        self.by_name[qualified] = graph_node
        self.container.members.append(qualified)
        entry = _OpEntry(graph_node, refs, scope)
        self.ops.append(entry)
        self._by_name[qualified] = entry
        return entry

    def check_placement(self, node: NodeDef, path: Path) -> None:
        """`before`/`after` left in a node: they place a child spec's node among its parent's nodes, nowhere else."""
        block = self.spec.blocks.get(node.block) if isinstance(node.block, str) else None
        for key in PLACEMENT_KEYS:
            if key not in node.args or (block is not None and key in block.params):
                continue
            if path[:1] == ("blocks",):
                message = f"`{key}` places a node among the nodes of the spec named by `extends`; it has no meaning in a block"
                hint = "in a block, write the node where it goes: a node takes the output of the node before it"
            else:
                message = (
                    f"`{key}` places a node {key} a node of the parent spec and needs `extends`; this spec has none"
                )
                hint = (
                    "write the node where it goes in `nodes` (a node takes the output of the node before it),"
                    " or add `extends: <parent>` to change another spec"
                )
            self.report(message, path + (key,), hint=hint, key=True, code="NS107")

    def checked_args(self, op: OpDef, args: dict[str, Any]) -> list[Any]:
        """`check_args`, once per op and distinct arguments: a repeat's instances mostly repeat them."""
        key = (id(op), _frozen(args))
        found = self._checked.get(key)
        if found is None:
            found = self._checked[key] = check_args(op, args)
        return found

    def check_tensor_init(self, args: dict[str, Any], path: Path) -> None:
        """The `init` of a `Parameter` or `Buffer`: a function of `torch.nn.init` with its arguments."""
        init = args.get("init", "zeros")
        fn_args: Any
        if isinstance(init, str):
            name, fn_args, fn_path = init, {}, path + ("init",)
        elif isinstance(init, dict) and len(init) == 1:
            name, fn_args = next(iter(init.items()))
            fn_path = path + ("init", name)
        else:
            return  # reported by the op's own checks
        if name not in INIT_ARGUMENTS:
            return  # reported by the op's own checks
        given = fn_args if isinstance(fn_args, dict) else {"value": fn_args}
        dtype = args.get("dtype", "float32")
        _, problems = check_init_args(
            name, given, DTYPE_MAX.get(dtype, FLOAT32_MAX) if isinstance(dtype, str) else FLOAT32_MAX
        )
        for key, message, hint in problems:
            self.report(
                message,
                fn_path + ((key,) if key else ()),
                hint=hint,
                key=bool(key) and key not in INIT_ARGUMENTS[name],
                code="NS180",
            )
        shape = args.get("shape")
        if name in FAN_BASED and isinstance(shape, list) and len(shape) < 2:
            self.report(
                f"`{name}` needs a tensor of two or more dimensions; `shape` {shape} has {len(shape)}",
                fn_path,
                hint="use `constant`, `zeros`, `ones`, `normal`, `trunc_normal` or `uniform` here",
                code="NS180",
            )

    # -- shapes read by expressions (`channels()`, `dim(d)`)

    def shape_env(self, scope: _Scope, refs: list[tuple[Any, Path]], env: dict[str, Any], path: Path) -> dict[str, Any]:
        """`env` with the node's input shapes, computed only when an expression asks for them."""

        def shapes(position: int | str) -> tuple[Any, ...] | str | None:
            if isinstance(position, str):  # a node or input named in the node's scope
                return self.ref_shape(scope, position, path)
            if not 0 <= position < len(refs):
                return None
            return self.ref_shape(scope, *refs[position])

        return {**env, INPUT_SHAPES: shapes}

    def ref_shape(self, scope: _Scope, ref: Any, path: Path) -> tuple[Any, ...] | str:
        """The static shape of the input `ref` (a name in `scope`, or the entry of a repeat's previous
        instance), or why it is not known. The message names a written reference only: an entry
        holds the instances before it, so formatting one would cost (and recurse) as deep as the repeat."""
        self._quiet += 1
        self._quiet_problem = None
        try:
            name = self.resolve_entry(ref, "", "", path) if not isinstance(ref, str) else self.resolve(scope, ref, path)
        except _Unresolved:
            if self._quiet_problem is not None and self._quiet_problem[0] == "NS156":
                return self._quiet_problem[1]  # a port the node does not have
            return _unknown_shape(ref) if isinstance(ref, str) else "the shape of its input is not known"
        finally:
            self._quiet -= 1
        if name is None:
            return _unknown_shape(ref)
        return self.static_shape(name)

    def static_shape(self, name: str) -> tuple[Any, ...] | str:
        """The static shape of a graph input or of a node expanded so far, or why it is not known.

        Depth-first with an explicit stack (a spec controls how long a chain of nodes is); each node's
        shape is computed once and kept.
        """
        if name in self.input_shapes:
            return self.input_shapes[name]
        base, _, port = name.partition(":")
        if port.isdigit():  # one output of a node with several (references name ports by number)
            shape = self.static_shape(base)
            if base not in self._ports:
                return shape if isinstance(shape, str) else f"`{base}` has one output: `{name}` names none"
            ports = self._ports[base]
            return ports[int(port)] if int(port) < len(ports) else f"`{base}` has {len(ports)} outputs, no `{name}`"
        inputs: dict[str, list[str]] = {}
        visiting: set[str] = set()
        stack = [(name, False)]
        while stack:
            top, ready = stack.pop()
            if top in self._shapes or top in self.input_shapes:
                continue
            if ready:
                visiting.discard(top)
                self._shapes[top] = self.compute_shape(top, inputs[top])
                continue
            entry = self._by_name.get(top)
            if top in visiting or entry is None:
                self._shapes[top] = f"the shape of `{top}` is not known here"
                continue
            names = self.quiet_inputs(entry)
            if isinstance(names, str):
                self._shapes[top] = names
                continue
            inputs[top] = names
            visiting.add(top)
            stack.append((top, True))
            stack.extend(
                (b, False) for b in map(producer, names) if b not in self._shapes and b not in self.input_shapes
            )
        return self._shapes[name]

    def known_shape(self, name: str) -> tuple[Any, ...] | str:
        """The shape computed so far of an input, a node, or one output of a node (`name:k`)."""
        if name in self.input_shapes:
            return self.input_shapes[name]
        base, _, port = name.partition(":")
        if not port.isdigit():
            return self._shapes.get(name, f"the shape of `{name}` is not known here")
        if base not in self._ports:
            return self._shapes.get(base, f"the shape of `{name}` is not known here")
        ports = self._ports[base]
        return ports[int(port)] if int(port) < len(ports) else f"`{base}` has {len(ports)} outputs, no `{name}`"

    def quiet_inputs(self, entry: _OpEntry) -> list[str] | str:
        names = []
        self._quiet += 1
        try:
            for ref, path in entry.refs:
                produced = (
                    self.resolve_entry(ref, "", "", path)
                    if not isinstance(ref, str)
                    else self.resolve(entry.scope, ref, path)
                )
                if produced is None:
                    raise _Unresolved
                names.append(produced)
        except _Unresolved:
            return f"the inputs of `{entry.node.name}` are not known here"
        finally:
            self._quiet -= 1
        return names

    def compute_shape(self, name: str, inputs: list[str]) -> tuple[Any, ...] | str:
        shapes = [self.known_shape(i) for i in inputs]
        for shape in shapes:
            if isinstance(shape, str):
                return shape
        node = self._by_name[name].node
        check = ShapeCheck()
        try:
            args = complete_args(node.op, node.args, shapes)  # type: ignore[arg-type]
            output = node.op.shape(shapes, args, check)  # type: ignore[arg-type]
            self.read_shapes[name] = ReadShape(tuple(shapes), args, output, check)  # type: ignore[arg-type]
            if isinstance(output, Ports):
                self._ports[name] = tuple(tuple(shape) for shape in output.shapes)
                return f"`{name}` has several outputs: read one with `{name}:0`, ..."
            return tuple(output)
        except ShapeError as err:
            return f"`{name}`: {err.message}"
        except (TypeError, ValueError, ArithmeticError):  # arguments already reported as wrong (`groups: 0`)
            return f"the shape of `{name}` is not known"

    def render_ref(self, ref: Any, env: Mapping[str, Any], path: Path) -> Any:
        if not isinstance(ref, str) or "$" not in ref:
            return ref
        value = self.evaluate(ref, env, path)
        if not isinstance(value, str):
            self.report(f"a reference must be a node name, got {value!r:.40}", path, code="NS135")
            raise _Skip
        return value

    def lookup_op(self, name: str, path: Path) -> OpDef:
        """The op an expression chose (`op: $act`), through the spec's one lookup per name."""
        op = self.names.op(name)
        if op is not None:
            return op
        self.add_static([self.names.unknown_op(name, path)])
        raise _Skip

    def expand_block(
        self,
        scope: _Scope,
        qualified: str,
        node: NodeDef,
        path: Path,
        refs: list[tuple[Any, Path]],
        env: dict[str, Any],
        stack: tuple[str, ...],
        *,
        flat: tuple[str, _Numbering] | None = None,
    ) -> Any:
        literal = "$" not in (node.block or "")
        if literal:  # resolved with the spec's other names
            name, block = str(node.block), self.names.blocks.get(path)
        else:
            name = self.evaluate(node.block, env, path + ("block",))
            if not isinstance(name, str):
                self.report(f"`block` must name a block, got {name!r:.40}", path + ("block",), code="NS142")
                raise _Skip
            block = self.spec.blocks.get(name)
        if block is None:
            self.add_static([self.names.problems[path] if literal else self.names.unknown_block(name, path)])
            raise _Skip
        if name in stack:
            # A cycle of literal names was found once, when the names were resolved; one through a
            # block chosen by an expression shows only now.
            recursive = literal and name in self.names.recursive
            self.add_static(self.names.cycles if recursive else [self.names.recursion(stack, name, path)])
            raise _Skip
        if len(stack) >= MAX_BLOCK_DEPTH:
            self.report(
                f"blocks nested deeper than {MAX_BLOCK_DEPTH}",
                path,
                hint="flatten the nesting: inline a block's nodes into the block that uses it (a fixed bound of the implementation)",
                code="NS143",
            )
            raise _Skip
        block_env = self.block_env(name, block, node, path, env)
        child = _Scope(prefix=f"{qualified}.", env=block_env, path=("blocks", name), instance=qualified)
        if flat is not None:  # the block's modules continue a numbered run
            child.prefix, child.numbering = flat
        elif node.inline:  # the block's modules are named (or numbered) as the enclosing scope's
            child.prefix, child.numbering, child.instance = scope.prefix, scope.numbering, scope.instance
            child.inline = path
        child.keep = node.keep or scope.keep
        child.origin = scope.origin or path
        if len(refs) > len(block.inputs):
            self.report(
                f"block `{name}` takes {len(block.inputs)} input(s) ({', '.join(block.inputs)}), got {len(refs)}",
                path + ("in",),
                code="NS136",
            )
        if len(refs) < len(block.inputs):
            self.report(
                f"block `{name}` takes {len(block.inputs)} inputs ({', '.join(block.inputs)}), got {len(refs)}",
                path + ("in",) if node.inputs else path,
                hint=f"write `in: [{', '.join(block.inputs)}]` with the nodes to connect",
                code="NS136",
            )
            raise _Skip
        for input_name, (ref, ref_path) in zip(block.inputs, refs):
            if not isinstance(ref, str):  # the previous instance of a repeat
                child.bindings[input_name] = _Binding(None, None, ref_path, entry=ref)
            else:
                child.bindings[input_name] = _Binding(scope, ref, ref_path)
        instance = Instance(qualified, "block", path, block=name, numbered=flat is not None)
        with self.nested(instance) if not node.inline else contextlib.nullcontext():
            self.expand_nodes(child, block.nodes, ("blocks", name, "nodes"), block.inputs[0], (*stack, name))
        if node.inline:
            self.adopt(scope, child, name, path)
        child.output = block.output or next(reversed(block.nodes))
        if block.output is not None and producer(block.output) not in block.nodes:
            self.report(
                f"block output `{block.output}` is not a node of block `{name}`",
                ("blocks", name, "output"),
                hint=did_you_mean(producer(block.output), block.nodes),
                code="NS137",
            )
            child.output = next(reversed(block.nodes))  # reported once here, not again at every use
        entry = _InstanceEntry(child, inline=node.inline)
        if flat is not None:
            self.numbered[qualified] = entry
        return entry

    def adopt(self, scope: _Scope, child: _Scope, block: str, path: Path) -> None:
        """Make the nodes of an inline instance nodes of the enclosing scope, under their own names."""
        for local, entry in child.entries.items():
            if is_name_template(local):
                continue  # a template's key; its rendered names are entries too
            if local in scope.entries or local in scope.bindings:
                if isinstance(entry, _DisabledEntry) and entry.failed:
                    continue  # its node was refused, and the clash reported there
                self.report(
                    f"the inline instance of block `{block}` names a node `{local}`, a name already used here",
                    path,
                    hint="rename one of them, or drop `inline` to put the block's nodes under the instance's name",
                    key=True,
                    code="NS132",
                )
                continue
            scope.entries[local] = entry
            scope.inlined[local] = path
            if local in child.qualified:
                scope.qualified[local] = child.qualified[local]

    def block_env(self, name: str, block: BlockDef, node: NodeDef, path: Path, env: dict[str, Any]) -> dict[str, Any]:
        values = dict(self.params)
        chosen = isinstance(node.block, str) and "$" in node.block
        for arg, raw in node.args.items():
            if arg in PLACEMENT_KEYS and arg not in block.params:
                continue  # reported by `check_placement`
            if arg not in block.params and chosen and any(arg in b.params for b in self.spec.blocks.values()):
                continue  # a block chosen by expression takes the arguments it declares
            if arg not in block.params:
                hint = did_you_mean(arg, block.params, listing=20) or f"block `{name}` has no parameters"
                self.report(
                    f"block `{name}` has no parameter `{arg}`", path + (arg,), hint=hint, key=True, code="NS138"
                )
                continue
            values[arg] = self.evaluate(raw, env, path + (arg,))
        for pname, pdef in block.params.items():
            if pname not in node.args:
                if pdef.required:
                    self.report(
                        f"block `{name}` needs parameter `{pname}`",
                        path,
                        hint=f"add `{pname}: ...` to the node",
                        code="NS139",
                    )
                    raise _Skip
                values[pname] = pdef.default
            problem = check_param_value(pname, pdef, values[pname])
            if problem:
                self.report(
                    problem, path + (pname,) if pname in node.args else ("blocks", name, "params", pname), code="NS139"
                )
                raise _Skip
        return values

    # -- references

    def resolve(self, scope: _Scope, ref: str, path: Path) -> str | None:
        """The qualified name `ref` stands for in `scope`: a node, a graph input, or `node:k`, port `k`
        of a node; None when it stands for nothing (the problem is reported)."""
        return self._follow(("ref", scope, ref, path))

    def pick_port(self, produced: str, port: str, ref: str, path: Path) -> str | None:
        """`produced:k` for port `port` (a number or a name) of the node `produced`."""
        node = self.by_name.get(produced.partition(":")[0])
        if ":" in produced:
            self.report(
                f"`{ref}`: `{produced}` is already one output of `{node.name if node else produced}`",
                path,
                code="NS156",
            )
            return None
        if node is None or node.op.ports is None:
            what = f"input `{produced}`" if node is None else f"`{produced}` (`{node.op.name}`)"
            self.report(
                f"`{ref}`: {what} has one output, it has no port `{port}`",
                path,
                hint=f"write `{produced}`",
                code="NS156",
            )
            return None
        names = node.op.ports(node.args)
        if port.isascii() and port.isdigit():
            index = int(port)
            if names is not None and index >= len(names):
                self.report(
                    f"`{ref}`: `{produced}` has {len(names)} outputs ({_ports_listing(names)}), no output {index}",
                    path,
                    code="NS156",
                )
                return None
            return f"{produced}:{index}"
        if names is None or port not in names:
            listing = f"its outputs are {_ports_listing(names)}" if names else "its outputs are numbered: `0`, `1`, ..."
            self.report(
                f"`{ref}`: `{produced}` (`{node.op.name}`) has no output `{port}`",
                path,
                hint=did_you_mean(port, names) if names else listing,
                code="NS156",
            )
            return None
        return f"{produced}:{names.index(port)}"

    def one_output(self, produced: str, ref: str, path: Path) -> str | None:
        """`produced`, unless it is a node with several outputs and no port was picked."""
        node = self.by_name.get(produced)
        if node is None or node.op.ports is None:
            return produced
        names = node.op.ports(node.args)
        shown = names[0] if names else "0"
        self.report(
            f"`{ref}` has several outputs ({_ports_listing(names) if names else 'numbered 0, 1, ...'}); pick one",
            path,
            hint=f"write `{ref}:{shown}`" + (f" or `{ref}:0`" if names and shown != "0" else ""),
            code="NS156",
        )
        return None

    def resolve_name(self, scope: _Scope, ref: str, path: Path) -> str | None:
        """The node or input `ref` (no port) stands for in `scope`."""
        return self._follow(("ref", scope, ref, path))

    def resolve_entry(self, entry: Any, rest: str, ref: str, path: Path) -> str | None:
        """The graph node that `rest` (a dotted path, or "" for the output) names inside `entry`."""
        return self._follow(("entry", entry, rest, ref, path))

    def _follow(self, step: tuple[Any, ...]) -> str | None:
        """Follow references step by step in a loop: a chain of disabled nodes, bindings and
        instances as long as the spec makes it costs no stack, and each step is charged. Resolved
        references are remembered, so that a chain is walked once, not once per use."""
        seen: set[tuple[int, str]] = set()
        # One frame per port reference being followed (`node:k`): the port to pick once its node is
        # known, and the references walked meanwhile, which stand for that node.
        frames: list[tuple[tuple[str, str, Path] | None, list[tuple[int, str]]]] = [(None, [])]
        result: str | None = None
        while True:
            if step[0] == "done":
                result = step[1]
                break
            if step[0] == "entry":
                step = self._entry_step(*step[1:])
                continue
            _, scope, ref, path = step
            base, sep, port = ref.rpartition(":")
            if sep:
                if not base or not (port.isdigit() or port.isidentifier()):
                    self.report(
                        f"`{ref}` is not a reference: write `node` or `node:port` (a number or a port's name)",
                        path,
                        code="NS156",
                    )
                    break
                problem = port_number_problem(port)
                if problem is not None:
                    canonical = canonical_port(port)
                    hint = (
                        f"write `{base}:{canonical}`" if canonical != port else "write `0`, `1`, ... or the port's name"
                    )
                    self.report(f"`{ref}`: {problem}", path, hint=hint, code="NS156")
                    break
                frames.append(((port, ref, path), []))
                step = ("ref", scope, base, path)
                continue
            key = (id(scope), ref)
            if key in self._resolved:
                result = self._resolved[key]
                break
            if key in seen:
                self.report(f"`{ref}` refers back to itself", path, code="NS150")
                break
            seen.add(key)
            frames[-1][1].append(key)
            self.work += 1
            step = self._ref_step(scope, ref, path)
        while frames:
            picked, walked = frames.pop()
            # A failure is remembered too (once reported): a chain that ends in one (a repeat of
            # pass-through instances over a reference that fails) is then walked once, not once per
            # instance. A quiet resolution reports nothing, so its failures are found again later.
            if result is not None or not self._quiet:
                for key in walked:
                    self._resolved[key] = result
            if picked is not None and result is not None:
                result = self.pick_port(result, *picked)
        return result

    def _ref_step(self, scope: _Scope, ref: str, path: Path) -> tuple[Any, ...]:
        head, _, rest = ref.partition(".")
        if head in scope.entries:
            return ("entry", scope.entries[head], rest, ref, path)
        if head in scope.bindings and not rest:
            binding = scope.bindings[head]
            if binding.entry is not None:
                return ("entry", binding.entry, "", ref, path)
            return ("ref", binding.scope, binding.ref, binding.path)
        choices = itertools.chain(scope.entries, scope.bindings)  # read only while hints have budget
        where = f"block `{scope.path[1]}`" if scope.path else "this spec"
        self.report(
            f"unknown node `{head}` in {where}", path, hint=did_you_mean(head, choices, listing=12), code="NS151"
        )
        return ("done", None)

    def _entry_step(self, entry: Any, rest: str, ref: str, path: Path) -> tuple[Any, ...]:
        if isinstance(entry, (_InputEntry, _OpEntry)):
            name = entry.name if isinstance(entry, _InputEntry) else entry.node.name
            if rest:  # reported; the reference still stands for the node itself, so no error follows from it
                self.report(f"`{ref}`: `{name}` is a single node, it has no `{rest}`", path, code="NS152")
            return ("done", name)
        if isinstance(entry, _DisabledEntry):
            if rest:
                if not entry.failed:  # a node that failed to expand has its error already
                    self.report(f"`{ref}`: that node is disabled by `when`", path, code="NS152")
                return ("done", None)
            first_ref, first_path = entry.refs[0]
            if not isinstance(first_ref, str):  # the previous instance of a repeat
                return ("entry", first_ref, "", ref, first_path)
            return ("ref", entry.scope, first_ref, first_path)
        if isinstance(entry, _InstanceEntry):
            return ("ref", entry.scope, rest or entry.scope.output or "", path)
        if isinstance(entry, _RepeatEntry):
            if not entry.children:
                if rest:
                    self.report(f"`{ref}`: the repeat has no instances", path, code="NS152")
                    return ("done", None)
                first_ref, first_path = entry.passthrough[0]
                if not isinstance(first_ref, str):
                    return ("entry", first_ref, "", ref, first_path)
                return ("ref", entry.scope, first_ref, first_path)
            if not rest:
                if entry.combined is not None:
                    return ("done", entry.combined.node.name)
                return ("entry", entry.children[-1], "", ref, path)
            index, _, rest = rest.partition(".")
            if entry.numbering is not None:  # a flat repeat: its modules by number
                found = entry.numbering.entries.get(index)
                if found is None:
                    self.report(f"`{ref}`: the flat repeat has no module `{index}`", path, code="NS152")
                    return ("done", None)
                return ("entry", found, rest, ref, path)
            last = entry.start + len(entry.children) - 1
            canonical = index.isascii() and index.isdigit() and str(int(index)) == index
            if not canonical or not entry.start <= int(index) <= last:
                self.report(
                    f"`{ref}`: no instance `{index}` (the repeat has {len(entry.children)}: {entry.start}..{last})",
                    path,
                    code="NS152",
                )
                return ("done", None)
            return ("entry", entry.children[int(index) - entry.start], rest, ref, path)
        raise AssertionError(entry)

    def aliases(self, scope: _Scope) -> dict[str, str]:
        """The output each block instance, repeat and disabled node of `scope` (recursively) stands for."""
        found: dict[str, str] = {}
        seen: set[int] = set()
        for local, entry in scope.entries.items():
            if isinstance(entry, (_InputEntry, _OpEntry)) or id(entry) in seen or _is_inline(entry):
                continue
            seen.add(id(entry))  # an instance named by a template is also listed under its name
            name = scope.qualified.get(local, f"{scope.prefix}{local}")
            produced = self.resolve_entry(entry, "", name, ())
            if produced is not None and produced != name and (local in scope.qualified or not is_name_template(local)):
                found[name] = produced
            children = entry.children if isinstance(entry, _RepeatEntry) else [entry]
            for i, child in enumerate(children):
                if isinstance(child, _InstanceEntry):
                    if isinstance(entry, _RepeatEntry) and entry.numbering is None:
                        child_output = self.resolve_entry(child, "", name, ())
                        if child_output is not None:
                            found[entry.names[i]] = child_output
                    found.update(self.aliases(child.scope))
        return found

    def check_numbered_reference(self, scope: _Scope, ref: str, path: Path) -> None:
        """Warn when a number in `in:` names an entry of a list of nodes that is not the module of that
        number: an entry before it was dropped (`slot: drop`), or a flat repeat took several numbers."""
        head = ref.partition(":")[0].partition(".")[0]
        numbering = scope.numbering
        if numbering is None or not (head.isascii() and head.isdigit()) or head not in scope.entries:
            return
        at = scope.entries[head]
        holder = numbering.entries.get(head)
        module = scope.qualified.get(head)
        if (holder is None or holder is at) and module in (None, f"{scope.prefix}{head}"):
            return
        position = format_path(path[:-3] + (head,))  # path: the list's path, the node's position, `in`, i
        if isinstance(at, _DisabledEntry):
            what = f"entry {head} of the list (`{position}`, disabled by `when`)"
        elif module is not None:
            what = f"entry {head} of the list (`{position}`, module `{module}`)"
        else:
            what = f"entry {head} of the list (`{position}`)"
        other = f", not module `{scope.prefix}{head}`" if holder is not None and holder is not at else ""
        self.report(
            f"`{ref}` names {what}{other}: in a list, a number in `in:` is the entry's position as written,"
            " while modules are numbered after the entries `slot: drop` removes",
            path,
            hint="name the nodes (a mapping of nodes) where entries are dropped or repeats numbered flat, "
            "or use `slot: keep`",
            code="NS164",
            severity="warning",
        )

    def connect(self) -> None:
        for entry in self.ops:
            inputs = []
            for ref, path in entry.refs:
                if not isinstance(ref, str):  # the previous instance of a repeat
                    produced = self.resolve_entry(ref, "", "", path)
                    shown = produced or ""
                else:
                    if path[-2:-1] == ("in",) and entry.scope.numbering is not None:
                        self.check_numbered_reference(entry.scope, ref, path)
                    produced = self.resolve(entry.scope, ref, path)
                    shown = ref
                if produced is not None:
                    produced = self.one_output(produced, shown, path)
                if produced is not None:
                    inputs.append(produced)
            entry.node.inputs = inputs
            if len(inputs) == len(entry.refs):  # else the missing reference is the problem to report
                self.check_arity(entry.node)

    def check_arity(self, node: GraphNode) -> None:
        count, op = len(node.inputs), node.op
        if count < op.min_inputs or (op.max_inputs is not None and count > op.max_inputs):
            want = (
                f"{op.min_inputs}"
                if op.max_inputs == op.min_inputs
                else f"{op.min_inputs} or more"
                if op.max_inputs is None
                else f"{op.min_inputs} to {op.max_inputs}"
            )
            self.report(
                f"`{node.name}`: `{op.name}` takes {want} input(s), got {count}",
                node.path + (("in",) if count else ()),
                hint="list them with `in: [a, b]`" if count < op.min_inputs else None,
                code="NS153",
            )


def _ports_listing(names: tuple[str, ...] | None) -> str:
    return ", ".join(f"`{n}`" for n in names) if names else "numbered"


def _is_inline(entry: Any) -> bool:
    """An inline instance, or a repeat of them: its nodes are entries of the enclosing scope, no name of its own."""
    if isinstance(entry, _RepeatEntry):
        return any(isinstance(child, _InstanceEntry) and child.inline for child in entry.children)
    return isinstance(entry, _InstanceEntry) and entry.inline


def producer(ref: str) -> str:
    """The node (or graph input) a reference `node` or `node:k` reads from."""
    return ref.partition(":")[0]


class _Skip(Exception):
    """A node could not be expanded; its problem is already reported."""


class _TooLarge(Exception):
    """Expansion stopped at the node limit."""


class _Unresolved(Exception):
    """A reference resolved ahead of time (for a shape) does not resolve yet."""


PLACEMENT_KEYS = ("before", "after")  # `extends` reads them from a child's nodes; anywhere else they are misplaced
_ARG_CODES = {"unknown": "NS144", "missing": "NS145", "type": "NS146", "value": "NS147"}


def _expr_span(sources: SourceMap, path: Path, err: ExprError) -> Span | None:
    span = source_span(sources, path)
    if span is None or span.line != span.end_line:
        return span
    line = sources.line_text(span.file, span.line) or ""
    quoted = 1 if line[span.column - 1 : span.column] in ("'", '"') else 0
    column = span.column + quoted + err.offset
    return Span(span.file, span.line, column, span.line, column + max(err.length, 1))


# --- ordering and checks ------------------------------------------------------------------------


def topological_order(nodes: list[GraphNode], inputs: set[str]) -> tuple[list[GraphNode], list[str]]:
    """A stable topological order (spec order where possible), and one cycle if there is one."""
    by_name = {n.name: n for n in nodes}
    sources = {n.name: [producer(i) for i in n.inputs] for n in nodes}
    waiting = {n.name: sum(1 for i in sources[n.name] if i not in inputs) for n in nodes}
    users: dict[str, list[str]] = {}
    for n in nodes:
        for i in sources[n.name]:
            if i not in inputs:
                users.setdefault(i, []).append(n.name)
    ready = [(n.index, n.name) for n in nodes if waiting[n.name] == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        _, name = heapq.heappop(ready)
        order.append(by_name[name])
        for user in users.get(name, ()):
            waiting[user] -= 1
            if waiting[user] == 0:
                heapq.heappush(ready, (by_name[user].index, user))
    if len(order) == len(nodes):
        return order, []
    return order, _find_cycle({n: by_name[n] for n, w in waiting.items() if w > 0}, inputs)


def _find_cycle(stuck: dict[str, GraphNode], inputs: set[str]) -> list[str]:
    start = min(stuck.values(), key=lambda n: n.index).name
    seen: dict[str, int] = {}
    path = [start]
    while path[-1] not in seen:
        seen[path[-1]] = len(path) - 1
        node = stuck[path[-1]]
        path.append(next(producer(i) for i in node.inputs if producer(i) in stuck))
    cycle = path[seen[path[-1]] :]
    cycle.reverse()  # data flows from producer to user
    return cycle


def _used_names(value: Any) -> set[str]:
    if isinstance(value, str) and "$" in value:
        try:
            compiled = compile_value(value)
        except ExprError:
            return set()
        return set(compiled.names()) if not isinstance(compiled, str) else set()
    if isinstance(value, (list, tuple)):
        return set().union(*(_used_names(v) for v in value)) if value else set()
    if isinstance(value, dict):
        return set().union(*(_used_names(v) for v in value.values())) if value else set()
    return set()


def _node_names_used(nodes: Mapping[str, NodeDef]) -> set[str]:
    used: set[str] = set()
    for local, node in nodes.items():
        used |= _used_names(node.model_dump(by_alias=True, exclude_defaults=True)) | _used_names(local)
    return used


def unused_param_warnings(spec: Spec) -> list[Diagnostic]:
    """Parameters no expression mentions."""
    used = _node_names_used(spec.nodes) | _used_names(list(spec.inputs.values()))
    used |= _used_names([r.model_dump(exclude_defaults=True) for r in spec.init])
    warnings = []
    for bname, block in spec.blocks.items():
        block_used = _node_names_used(block.nodes)
        used |= block_used
        for pname in block.params:
            if pname not in block_used:
                path: tuple[str, ...] = ("blocks", bname, "params", pname)
                warnings.append(
                    Diagnostic(
                        f"block parameter `{pname}` is never used",
                        path=format_path(path),
                        code="NS160",
                        severity="warning",
                    ).located(spec.source.span(path, key=True))
                )
    for pname in spec.params:
        if pname not in used:
            path = ("params", pname)
            warnings.append(
                Diagnostic(
                    f"parameter `{pname}` is never used", path=format_path(path), code="NS160", severity="warning"
                ).located(spec.source.span(path, key=True))
            )
    return warnings


# --- entry point --------------------------------------------------------------------------------


def _input_shapes(spec: Spec, params: dict[str, Any], expander: _Expander) -> dict[str, tuple[int | str, ...]]:
    shapes = {}
    for name, dims in spec.inputs.items():
        shape: list[int | str] = []
        for i, dim in enumerate(dims):
            path = ("inputs", name, i)
            if isinstance(dim, str) and "$" in dim:
                try:
                    dim = expander.evaluate(dim, params, path)
                except _Skip:
                    dim = 1
                if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
                    expander.report(
                        f"a dimension must be a whole number >= 1 or a symbol, got {dim!r:.40}", path, code="NS161"
                    )
                    dim = 1
            elif isinstance(dim, str) and not is_identifier(dim):
                expander.report(
                    f"`{dim}` is not a dimension: write a number, a symbol such as `H`, or `$param`", path, code="NS161"
                )
                dim = 1
            shape.append(dim)
        shapes[name] = tuple(shape)
    return shapes


# Init rule names -> the keyword arguments a spec may pass (the functions themselves are `_compile`'s).
INIT_ARGUMENTS: dict[str, frozenset[str]] = {
    "kaiming_normal": frozenset({"a", "mode", "nonlinearity"}),
    "kaiming_uniform": frozenset({"a", "mode", "nonlinearity"}),
    "xavier_normal": frozenset({"gain"}),
    "xavier_uniform": frozenset({"gain"}),
    "normal": frozenset({"mean", "std"}),
    "uniform": frozenset({"a", "b"}),
    "trunc_normal": frozenset({"mean", "std", "a", "b"}),
    "constant": frozenset({"val", "value"}),
    "zeros": frozenset(),
    "ones": frozenset(),
    "orthogonal": frozenset({"gain"}),
}
INIT_CHOICES = {
    "mode": {"fan_in", "fan_out"},
    "nonlinearity": {"relu", "leaky_relu", "linear", "tanh", "sigmoid", "selu", "conv2d"},
}


# Functions that need a weight of two or more dimensions (they compute fan-in and fan-out).
FAN_BASED = frozenset({"kaiming_normal", "kaiming_uniform", "xavier_normal", "xavier_uniform", "orthogonal"})
# Ops whose `weight` is one number per channel.
ONE_D_WEIGHTS = ("BatchNorm", "GroupNorm", "LayerNorm", "InstanceNorm", "PReLU")


def check_init_args(
    name: str, args: Mapping[str, Any], largest: float | None = None
) -> tuple[dict[str, Any], list[tuple[str, str, str | None]]]:
    """The keyword arguments for init function `name`, and problems as (argument, message, hint);
    `largest` is the largest value the tensor's dtype holds (float32's by default)."""
    allowed = INIT_ARGUMENTS[name]
    kwargs: dict[str, Any] = {}
    problems: list[tuple[str, str, str | None]] = []
    for key, value in args.items():
        if key not in allowed:
            hint: str | None = (
                did_you_mean(key, allowed) or f"`{name}` takes: {', '.join(sorted(allowed)) or 'no arguments'}"
            )
            problems.append((key, f"init function `{name}` has no argument `{key}`", hint))
        elif key in INIT_CHOICES and not (isinstance(value, str) and value in INIT_CHOICES[key]):
            hint = did_you_mean(str(value), INIT_CHOICES[key]) if isinstance(value, str) else None
            problems.append(
                (key, f"`{key}` of `{name}` must be one of {sorted(INIT_CHOICES[key])}, got {value!r:.40}", hint)
            )
        elif key not in INIT_CHOICES and (isinstance(value, bool) or not isinstance(value, (int, float))):
            problems.append((key, f"`{key}` of `{name}` must be a number, got {value!r:.40}", None))
        else:
            kwargs["val" if key == "value" else key] = value
    if name == "constant" and "val" not in kwargs and not problems:
        problems.append(("", "init function `constant` needs a value, e.g. `{constant: 1}`", None))
    if not problems:
        problems = _init_value_problems(name, kwargs, "value" if "value" in args else "val", largest or FLOAT32_MAX)
    return kwargs, problems


FLOAT32_MAX = 3.4028234663852886e38  # the largest float32: initial values past it are `inf`
# The largest value of each dtype a learned tensor may have.
DTYPE_MAX = {
    "float32": FLOAT32_MAX,
    "float64": 1.7976931348623157e308,
    "float16": 65504.0,
    "bfloat16": 3.3895313892515355e38,
}
_DTYPE_OF_MAX = {v: k for k, v in DTYPE_MAX.items()}


def _init_value_problems(
    name: str, kwargs: Mapping[str, Any], val_key: str, largest: float
) -> list[tuple[str, str, str | None]]:
    """Values torch's init functions refuse (with torch's words), or that make the values not finite
    in a tensor whose largest value is `largest`."""
    found: list[tuple[str, str, str | None]] = []
    number = {k: float(v) for k, v in kwargs.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}

    def large(key: str, value: float, what: str) -> None:
        if not abs(value) <= largest:
            dtype = _DTYPE_OF_MAX.get(largest, "the tensor's dtype")
            found.append((key, f"`{key}` of `{name}` makes {what} larger than {dtype} holds ({largest:.4g})", None))

    if name.startswith("kaiming") and kwargs.get("nonlinearity", "leaky_relu") == "leaky_relu":
        a = number.get("a", 0.0)
        try:
            math.sqrt(2.0 / (1 + a**2))
        except OverflowError:  # torch's `calculate_gain` squares `a`
            found.append(("a", f"`a` of `{name}` is too large: its gain sqrt(2 / (1 + a**2)) overflows", None))
    if name in ("normal", "trunc_normal") and number.get("std", 1.0) < 0:
        found.append(("std", f'`std` of `{name}` must not be negative; torch: "normal expects std >= 0.0"', None))
    if name in ("uniform", "trunc_normal") and number.get("a", -2.0) > number.get("b", 2.0):
        message = f'`a` of `{name}` must not be above `b`; torch: "uniform_ expects to return a [from, to) range"'
        found.append(("a", message, "swap `a` and `b`"))
    if name in ("uniform", "trunc_normal"):
        for key in ("a", "b"):
            large(key, number.get(key, 0.0), "the values")
    if name == "normal":
        mean, std = abs(number.get("mean", 0.0)), number.get("std", 1.0)
        large("mean" if mean > 8 * std else "std", mean + 8 * std, "the values")
    if name == "constant":
        large(val_key, number.get("val", 0.0), "the value")
    if name in ("xavier_normal", "xavier_uniform", "orthogonal"):
        large("gain", 8 * number.get("gain", 1.0), "the values")
    return found


def _fan_problem(rule_ops: Any, param: str, name: str) -> str | None:
    if name not in FAN_BASED:
        return None
    if param == "bias":
        return f"`{name}` needs a weight of two or more dimensions; a bias has one"
    one_d = [op for op in rule_ops or () if op.startswith(ONE_D_WEIGHTS)]
    if one_d:
        return f"`{name}` needs a weight of two or more dimensions; `{one_d[0]}` has one weight per channel"
    return None


def _init_plans(spec: Spec, params: dict[str, Any], expander: _Expander) -> list[InitPlan]:
    plans = []
    for index, rule in enumerate(spec.init):
        path: Path = ("init", index)
        try:
            when = expander.evaluate(rule.when, params, path + ("when",))
        except _Skip:
            continue
        if not isinstance(when, bool):
            expander.report(f"`when` must be true or false, got {when!r:.40}", path + ("when",), code="NS133")
            continue
        if not when:
            continue
        for i, op_name in enumerate(rule.ops or ()):
            if expander.names.op(op_name) is None:
                expander.report(
                    f"unknown op `{op_name}` in init rule",
                    path + ("ops", i),
                    hint=did_you_mean(op_name, catalog()),
                    code="NS141",
                )
        fns: dict[str, tuple[str, dict[str, Any]]] = {}
        for param in ("weight", "bias"):
            fn = getattr(rule, param)
            if fn is None:
                continue
            fn_name, fn_args = (fn, {}) if isinstance(fn, str) else next(iter(fn.items()))
            fn_path = path + (param,) if isinstance(fn, str) else path + (param, fn_name)
            try:
                fn_args = expander.evaluate(fn_args, params, fn_path)
            except _Skip:
                continue
            if fn_name == "default":  # PyTorch's own: wins over earlier rules, draws nothing
                fns[param] = ("default", {})
                continue
            kwargs, problems = check_init_args(fn_name, fn_args if isinstance(fn_args, dict) else {"value": fn_args})
            for key, message, hint in problems:
                expander.report(
                    message,
                    fn_path + ((key,) if key else ()),
                    hint=hint,
                    key=bool(key) and key not in INIT_ARGUMENTS[fn_name],
                    code="NS180",
                )
            fan = _fan_problem(rule.ops, param, fn_name)
            if fan:
                expander.report(
                    fan, fn_path, hint="use `constant`, `zeros`, `ones`, `normal` or `uniform` here", code="NS180"
                )
            if not problems and not fan:
                fns[param] = (fn_name, kwargs)
        patterns = rule.nodes
        if patterns is not None and any("$" in p for p in patterns):
            try:  # a pattern may be a template: `layer*.*.${'bn2' if block == 'basic' else 'bn3'}`
                patterns = tuple(str(expander.evaluate(p, params, path + ("nodes", i))) for i, p in enumerate(patterns))
            except _Skip:
                continue
        bad = False
        for i, pattern in enumerate(patterns or ()):
            try:
                name_pattern(pattern)
            except GlobError as err:
                bad = True
                expander.report(
                    f"the init pattern {pattern!r:.80} {err}",
                    path + ("nodes", i),
                    hint="a range goes from low to high (`[a-z]`)",
                    code="NS180",
                )
        if bad:
            continue
        plans.append(
            InitPlan(
                frozenset(rule.ops) if rule.ops is not None else None,
                patterns,
                fns.get("weight"),
                fns.get("bias"),
                path,
            )
        )
    return plans


def _unmatched_init_warnings(plans: list[InitPlan], nodes: list[GraphNode], spec: Spec) -> list[Diagnostic]:
    """Init rules that select no node: most likely a typo in `nodes` or `ops`."""
    warnings = []
    index, matched = _PlanIndex(plans), set[int]()
    by_name = {node.name: node for node in nodes}
    general = set(index.general)
    sources = spec.source  # read once: a pydantic attribute costs more than matching a rule
    for pattern, rules in index.literal.items():
        if pattern in by_name:
            matched.update(i for i in rules if plans[i].ops is None)
    for i, plan in enumerate(plans):
        if i in matched:
            continue
        candidates = nodes
        if i not in general:  # the nodes it names, not all of them
            candidates = [by_name[name] for name in plan.patterns or () if name in by_name]
        if not any(plan.matches(node, sources) for node in candidates):
            path = plan.path
            warnings.append(
                Diagnostic(
                    "this init rule matches no node",
                    path=format_path(path),
                    hint="check its `ops` and `nodes` patterns against the node names",
                    code="NS163",
                    severity="warning",
                ).located(sources.span(path))
            )
    return warnings


def expand(spec: Spec, params: Mapping[str, Any] | None = None, *, max_nodes: int | None = None) -> Graph:
    """Expand `spec` with parameter `params` (overrides of the defaults) into a `Graph`.

    At most `max_nodes` nodes (default: the spec's `limits.max_graph_nodes`); past it, an `NS134`
    at the `repeat` or the node that passes it.
    """
    with collector_paused(), hint_budget() as hints:
        try:
            return _expand(spec, params, spec.limits.max_graph_nodes if max_nodes is None else max_nodes)
        finally:  # the request's budget sees what the hints compared, whatever the outcome
            charge("references and hints", HINT_UNITS_PER_COMPARISON * (HINT_BUDGET - hints[0]))


def _expand(spec: Spec, params: Mapping[str, Any] | None, max_nodes: int) -> Graph:
    values = bind_params(spec, params or {})
    expander = _Expander(spec, values, max_nodes)
    inputs = _input_shapes(spec, values, expander)
    expander.input_shapes = {k: tuple(sym(d) if isinstance(d, str) else d for d in v) for k, v in inputs.items()}
    try:
        with evaluation_budget(MAX_EXPRESSION_WORK) as expressions:
            top = expander.expand_top()
    except _TooLarge:
        raise SpecError(expander.diagnostics, spec.source) from None
    charge(
        "expansion",
        EXPANSION_UNITS_PER_STEP * expander.work,
        where=lambda: (spec.source, spec.source.span(("nodes",)), "nodes"),
    )
    charge(
        "expressions",
        EXPRESSION_UNITS_PER_STEP * expressions.spent(),
        where=lambda: (spec.source, spec.source.span(("nodes",)), "nodes"),
    )
    expander.connect()
    outputs = []
    for ref, path in _output_refs(spec, values, expander):
        entry = top.entries.get(producer(ref).partition(".")[0]) if spec.outputs else None
        if isinstance(entry, _DisabledEntry) and not entry.failed and "." not in producer(ref):
            expander.report(
                f"output `{ref}` is disabled by `when`: the model would return its input instead",
                path,
                hint="make `outputs` an expression that leaves it out, e.g. `\"${['a', 'b'] if flag else ['a']}\"`",
                code="NS155",
            )
            continue
        produced = expander.resolve(top, ref, path)
        if produced is not None:
            produced = expander.one_output(produced, ref, path)
        if produced is not None:
            outputs.append(produced)
    init = _init_plans(spec, values, expander)
    order, cycle = topological_order(expander.nodes, set(inputs))
    if cycle:
        first = expander.nodes[min(n.index for n in expander.nodes if n.name in cycle)] if cycle else None
        expander.report(
            f"cycle: {' -> '.join(cycle)}",
            first.path if first else ("nodes",),
            hint="a node cannot use its own output, directly or through others",
            code="NS154",
        )
    expander.add_static(static_problems(spec))
    failed = any(d.is_error for d in expander.diagnostics)
    unused = _unused_node_warnings(expander.nodes, outputs, spec, severity="warning" if failed else "error")
    expander.diagnostics.extend(d for d in unused if d.is_error)
    warnings = (
        unused_param_warnings(spec)
        + [d for d in unused if not d.is_error]
        + _unmatched_init_warnings(init, expander.nodes, spec)
    )
    errors = [d for d in expander.diagnostics if d.is_error]
    if errors:
        raise SpecError(expander.diagnostics + warnings, spec.source)
    graph = Graph(
        spec,
        values,
        inputs,
        expander.nodes,
        order,
        outputs,
        init,
        warnings + [d for d in expander.diagnostics if not d.is_error],
    )
    graph.aliases = expander.aliases(top)
    graph.instances = expander.instances
    for name, instance in graph.instances.items():
        if instance.numbered:
            instance.output = expander.resolve_entry(expander.numbered[name], "", name, ())
        else:
            instance.output = graph.aliases.get(name) if name else (outputs[0] if outputs else None)
    graph._index_instances()
    graph.work = expander.work
    graph.read_shapes = expander.read_shapes
    return graph


MAX_NAMED_UNUSED = 12  # names listed in one diagnostic about unused nodes


def _output_refs(spec: Spec, values: dict[str, Any], expander: _Expander) -> list[tuple[str, Path]]:
    """The references `outputs` names (each may be an expression giving a name or a list of names)."""
    if not spec.outputs:
        return [(next(reversed(spec.nodes)), ("nodes",))]
    refs: list[tuple[str, Path]] = []
    for i, ref in enumerate(spec.outputs):
        path: Path = ("outputs", i) if len(spec.outputs) > 1 or ("outputs", 0) in spec.source.values else ("outputs",)
        if "$" not in ref:
            refs.append((ref, path))
            continue
        try:
            value = expander.evaluate(ref, values, path)
        except _Skip:
            continue
        names = value if isinstance(value, list) else [value]
        if not names or not all(isinstance(n, str) for n in names):
            expander.report(f"`outputs` must give node names, got {value!r:.40}", path, code="NS135")
            continue
        refs.extend((name, path) for name in names)
    return refs


def _unused_node_warnings(
    nodes: list[GraphNode], outputs: list[str], spec: Spec, *, severity: Severity = "error"
) -> list[Diagnostic]:
    """Nodes no output depends on (and no `keep` marks): they would not be built. One diagnostic per
    spec node, naming every instance; an error, or a warning next to other errors (often their cause)."""
    by_name = {n.name: n for n in nodes}
    live: set[str] = set()
    stack = [producer(o) for o in outputs if producer(o) in by_name] + [n.name for n in nodes if n.keep]
    while stack:
        name = stack.pop()
        if name not in live:
            live.add(name)
            stack.extend(
                producer(i) for i in by_name[name].inputs if producer(i) in by_name and producer(i) not in live
            )
    unused: dict[Path, list[str]] = {}
    for node in nodes:
        if node.name not in live:
            unused.setdefault(node.origin or node.path, []).append(node.name)
    diagnostics = []
    for path, names in unused.items():
        shown = ", ".join(f"`{n}`" for n in names[:MAX_NAMED_UNUSED])
        more = f" and {len(names) - MAX_NAMED_UNUSED} more" if len(names) > MAX_NAMED_UNUSED else ""
        message = (
            f"the output of {shown} is never used: no output depends on it, so it would not be built"
            if len(names) == 1
            else f"the outputs of {shown}{more} are never used: no output depends on them, so they would not be built"
        )
        diagnostics.append(
            Diagnostic(
                message,
                path=format_path(path),
                hint="connect it with `in:`, list it in `outputs`, mark it `keep: true` to build it anyway, or remove it",
                code="NS162",
                severity=severity,
            ).located(spec.source.span(path, key=True))
        )
    return diagnostics


def live_nodes(graph_def: Graph, *, kept: bool = True) -> set[str]:
    """The nodes that are built: those some output depends on, and (`kept`) those marked `keep` with
    what they depend on. With `kept=False`, only those the forward computes."""
    by_name = {n.name: n for n in graph_def.nodes}
    live: set[str] = set()
    stack = [producer(o) for o in graph_def.outputs if producer(o) in by_name]
    if kept:
        stack += [n.name for n in graph_def.nodes if n.keep]
    while stack:
        name = stack.pop()
        if name in live:
            continue
        live.add(name)
        stack.extend(producer(i) for i in by_name[name].inputs if producer(i) in by_name)
    return live
