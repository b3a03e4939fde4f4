"""A layer-by-layer table of a spec: output shapes, parameters and MACs, with exact totals.

Shapes are concrete, at the spec's `dims` example sizes (or given input shapes). Rows form the
graph's block-instance tree (`Graph.instances`): a block instance (`layer1.0`) or a repeat
(`layer1`) gets a row of its own, summing the rows below it, with the shape its output reference
reads; `depth` hides rows nested deeper than it, folding each instance into its row.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Literal

from ._api import Inputs, Params, Source, check_memory_budget, example_shapes, graph_of, merge_inputs, prepare
from ._dims import Shape, format_shape
from ._errors import Diagnostic, Path, SourceMap, Span, escape_text, format_path
from ._graph import Graph, Instance, live_nodes
from ._shapes import NodeInfo, ShapeInfo, activation_elements, node_macs, node_parameters
from ._work import SUMMARY_UNITS_PER_STEP, charge, within_budget

__all__ = ["BYTES_PER_ELEMENT", "Summary", "SummaryRow", "SummaryTotals", "summarize"]

BYTES_PER_ELEMENT = 4  # float32, the dtype `build` creates parameters in
RowKind = Literal["input", "node", "block"]


@dataclasses.dataclass(frozen=True)
class SummaryRow:
    """One line of the table: a graph input, a node, or a block instance (the sum of its nodes)."""

    name: str
    depth: int
    kind: RowKind
    op: str  # the op, `input`, or for a block row its block name (`basic`, `basic x2` for a repeat)
    output: Shape
    params: int
    macs: int | None  # None when a shape is symbolic
    folded: bool = False  # a block row whose nodes are hidden by `depth`

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "depth": self.depth,
            "kind": self.kind,
            "op": self.op,
            "output": [d if isinstance(d, int) else str(d) for d in self.output],
            "params": self.params,
            "macs": self.macs,
            "folded": self.folded,
        }


@dataclasses.dataclass(frozen=True)
class SummaryTotals:
    """Totals over the nodes of the built model; memory in bytes at float32."""

    params: int
    trainable_params: int
    macs: int | None
    activation_bytes: int | None  # every node's output, as a forward pass without reuse holds them
    param_bytes: int
    input_bytes: int | None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Summary:
    """The table `netspec summary` prints; `render()` formats it, `to_dict()` is its JSON form."""

    spec: str
    params: dict[str, Any]
    inputs: dict[str, Shape]
    rows: list[SummaryRow]
    totals: SummaryTotals
    depth: int | None = None
    warnings: list[Diagnostic] = dataclasses.field(default_factory=list)  # e.g. NS212: a size without `dims`
    # Steps the table took (instances climbed, sums added, rows made): linear in nodes and
    # instances, which tests check by doubling a spec.
    work: int = dataclasses.field(default=0, compare=False)

    def render(self) -> str:
        """The table as text, torchinfo-style."""
        return _render(self)

    def to_dict(self) -> dict[str, Any]:
        return {
            "spec": self.spec,
            "params": self.params,
            "inputs": {k: [d if isinstance(d, int) else str(d) for d in v] for k, v in self.inputs.items()},
            "depth": self.depth,
            "rows": [r.to_dict() for r in self.rows],
            "totals": self.totals.to_dict(),
            "warnings": [d.to_dict() for d in self.warnings],
        }


@within_budget
def summarize(
    source: Source,
    /,
    *,
    params: Params | None = None,
    inputs: Inputs | None = None,
    depth: int | None = None,
    input_shapes: Inputs | None = None,
) -> Summary:
    """Summarise a spec (path, bundled name, mapping or `Spec`) at concrete example sizes::

        table = netspec.summarize("resnet18", params={"num_classes": 10}, depth=0)
        print(table.render())
        table.totals.params  # 11181642

    Inputs not given in `inputs` take the spec's `dims`. Rows are the graph's block instances and
    repeats, each summing the nodes below it; `depth` keeps rows nested in at most `depth` of them
    (`depth=0`: top-level nodes only, each block instance or repeat as one folded row).
    Raises `SpecError` when the spec is invalid (or, `NS134`, when the table needs more work than
    the request's budget: the table charges a unit per step it takes, at the node or instance that
    grew). `input_shapes=` is the deprecated name of `inputs=`.
    """
    inputs = merge_inputs("summarize", inputs, input_shapes)
    if depth is not None and depth < 0:
        raise ValueError(f"`depth` must be >= 0, got {depth}")
    graph = graph_of(source, params)  # expanded once, for the example sizes and the table
    examples, warnings = example_shapes(graph, None, inputs)
    info = prepare(graph, None, examples or inputs, concrete=True)
    check_memory_budget(info)  # the model `build` would refuse (NS190) is refused here too
    live = live_nodes(info.graph)
    nodes = [info.nodes[n.name] for n in info.graph.order if n.name in live and n.name in info.nodes]
    tree = _Tree(info.graph)
    for node in nodes:
        tree.add(node)
    tree.finish()
    rows = [SummaryRow(name, 0, "input", "input", shape, 0, 0) for name, shape in info.inputs.items()]
    rows += tree.rows(info, depth)
    return Summary(
        info.graph.spec.name,
        dict(info.graph.params),
        dict(info.inputs),
        rows,
        _totals(info, nodes),
        depth,
        warnings,
        tree.work,
    )


# --- the tree of block instances ---------------------------------------------------------------


@dataclasses.dataclass
class _Group:
    """A block instance or repeat of the graph's instance tree, with what lies below it in execution order."""

    instance: Instance
    level: int
    children: list[_Group | NodeInfo] = dataclasses.field(default_factory=list)
    params: int = 0
    macs: int | None = 0
    last: NodeInfo | None = None  # the last node below it to run


class _Tree:
    """The rows' tree: each live node under the innermost instance that holds it as a module.

    Built from the graph's instance tree in one pass over the nodes in execution order: a node
    climbs to the first instance already placed (so each instance is climbed through once), and
    each group's sums are added up once, from its children. `work` counts those steps."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.root = _Group(graph.instances.get("") or Instance("", "spec", ()), -1)
        self.groups: dict[str, _Group] = {"": self.root}
        self.work = 0

    def _charge(self, units: int, path: Path) -> None:
        """Spend `units` of the request's budget on the summary, at `path` (a node or an instance)."""
        self.work += units
        sources = self.graph.sources
        charge("summary", SUMMARY_UNITS_PER_STEP * units, where=lambda: _place(sources, path))

    def add(self, info: NodeInfo) -> None:
        missing: list[Instance] = []  # innermost first
        instance = self.graph.instance_of(info.node.name)
        steps = 1
        while instance is not None and instance.name not in self.groups:
            steps += 1
            if instance.container:
                missing.append(instance)
            instance = self.graph.instance_of(instance.name)
        group = self.groups[instance.name] if instance is not None else self.root
        for outer in reversed(missing):
            child = _Group(outer, group.level + 1)
            group.children.append(child)
            self.groups[outer.name] = group = child
        self._charge(steps, info.node.path)
        group.children.append(info)

    def finish(self) -> None:
        """Each group's parameters, MACs and last node, from its children (inner groups first)."""
        for group in reversed(list(self.groups.values())):  # a group is placed after its parent
            self._charge(1 + len(group.children), group.instance.path)
            for child in group.children:
                if isinstance(child, _Group):
                    params, macs, last = child.params, child.macs, child.last
                else:
                    params, macs, last = node_parameters(child), node_macs(child), child
                group.params += params
                group.macs = None if group.macs is None or macs is None else group.macs + macs
                group.last = last or group.last

    def rows(self, info: ShapeInfo, depth: int | None) -> list[SummaryRow]:
        """The rows below the root in tree order; groups deeper than `depth` are folded."""
        rows: list[SummaryRow] = []
        stack: list[_Group | NodeInfo] = list(reversed(self.root.children))
        while stack:
            item = stack.pop()
            if isinstance(item, NodeInfo):
                level, climbed = self._level(item)
                self._charge(1 + climbed, item.node.path)
                rows.append(_node_row(item, level))
                continue
            self._charge(1, item.instance.path)
            folded = depth is not None and item.level >= depth
            rows.append(self._group_row(item, info, folded))
            if not folded:
                stack.extend(reversed(item.children))
        return rows

    def _level(self, info: NodeInfo) -> tuple[int, int]:
        """The row's depth, and the instances climbed to find it."""
        instance = self.graph.instance_of(info.node.name)
        climbed = 0
        while instance is not None and instance.name and not instance.container:
            climbed += 1
            instance = self.graph.instance_of(instance.name)
        return (self.groups[instance.name].level + 1 if instance is not None else 0), climbed

    def _group_row(self, group: _Group, info: ShapeInfo, folded: bool) -> SummaryRow:
        return SummaryRow(
            group.instance.name,
            group.level,
            "block",
            _group_label(group.instance, self.graph),
            _group_output(group, info),
            group.params,
            group.macs,
            folded,
        )


def _place(sources: SourceMap, path: Path) -> tuple[SourceMap, Span | None, str]:
    return sources, sources.span(path), format_path(path)


def _node_row(info: NodeInfo, level: int) -> SummaryRow:
    return SummaryRow(
        info.node.name, level, "node", info.node.op.name, info.output, node_parameters(info), node_macs(info)
    )


def _group_label(instance: Instance, graph: Graph) -> str:
    """The block an instance instantiates (`basic`), or `basic x2` for a repeat (`basic x2 x3` nested)."""
    counts: list[int] = []
    while instance.kind == "repeat":  # a loop: repeats nest as deep as the spec makes them
        counts.append(len(instance.members))
        if not instance.members:
            return "repeat" + "".join(f" x{c}" for c in reversed(counts))
        first = instance.members[0]
        if first not in graph.instances:
            inner = graph.node(first).op.name
            break
        instance = graph.instances[first]
    else:
        inner = instance.block or "block"
    return inner + "".join(f" x{c}" for c in reversed(counts))


def _group_output(group: _Group, info: ShapeInfo) -> Shape:
    """The shape of what a reference to the instance reads (its `output` in the instance tree)."""
    output = group.instance.output
    if output is not None:
        base, _, port = output.partition(":")
        node = info.nodes.get(base)
        if node is not None:
            return node.ports[int(port)] if port else node.output
        if base in info.inputs:
            return info.inputs[base]
    assert group.last is not None  # a group is made for a node below it
    return group.last.output


def _elements(node: NodeInfo) -> int | None:
    """The elements of every output of a node (None when a size is symbolic)."""
    counts = [activation_elements(shape) for shape in node.outputs]
    return None if None in counts else sum(c for c in counts if c is not None)


def _totals(info: ShapeInfo, nodes: list[NodeInfo]) -> SummaryTotals:
    params = sum(node_parameters(n) for n in nodes)
    macs = [node_macs(n) for n in nodes]
    activations = [_elements(n) for n in nodes]
    inputs = [activation_elements(s) for s in info.inputs.values()]
    return SummaryTotals(
        params=params,
        trainable_params=params,  # a freshly built model trains every parameter
        macs=None if None in macs else sum(macs),  # type: ignore[arg-type]
        activation_bytes=None if None in activations else sum(activations) * BYTES_PER_ELEMENT,  # type: ignore[arg-type]
        param_bytes=params * BYTES_PER_ELEMENT,
        input_bytes=None if None in inputs else sum(inputs) * BYTES_PER_ELEMENT,  # type: ignore[arg-type]
    )


# --- rendering ----------------------------------------------------------------------------------

_HEADERS = ("Name", "Op", "Output shape", "Params", "MACs")
_INDENT = "  "


def _count(value: int | None, *, blank_zero: bool = True) -> str:
    if value is None:
        return "?"
    return "--" if blank_zero and value == 0 else f"{value:,}"


def _scaled(value: int | None, units: Sequence[tuple[float, str]]) -> str:
    if value is None:
        return "?"
    for scale, unit in units:
        if value >= scale > 1:
            return f"{value / scale:.2f} {unit}"
    return f"{value} {units[-1][1]}".rstrip()


def _bytes(value: int | None) -> str:
    return _scaled(value, ((1e9, "GB"), (1e6, "MB"), (1e3, "kB"), (1, "B"))) if value else "0 B"


def _cells(row: SummaryRow) -> tuple[str, ...]:
    name = _INDENT * row.depth + row.name
    op = f"{row.op} (folded)" if row.folded else row.op
    if row.kind == "input":
        return (name, op, format_shape(row.output), "", "")
    return (name, op, format_shape(row.output), _count(row.params), _count(row.macs))


def _render(summary: Summary) -> str:
    table = [_HEADERS] + [_cells(r) for r in summary.rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(_HEADERS))]
    right = {3, 4}

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))
        ).rstrip()

    rule = "-" * len(line(_HEADERS))
    totals = summary.totals
    shown_params = ", ".join(f"{k}={v!r}" for k, v in summary.params.items())
    out = [
        f"{escape_text(summary.spec)}" + (f" ({escape_text(shown_params, 300)})" if shown_params else ""),
        rule,
        line(_HEADERS),
        rule,
    ]
    out += [line(c) for c in table[1:]]
    out += [
        rule,
        f"Total parameters:      {_count(totals.params, blank_zero=False)}",
        f"Trainable parameters:  {_count(totals.trainable_params, blank_zero=False)}",
        f"Total MACs:            {_count(totals.macs, blank_zero=False)} ({_scaled(totals.macs, ((1e9, 'G'), (1e6, 'M'), (1e3, 'k'), (1, '')))})",
        f"Input memory:          {_bytes(totals.input_bytes)}",
        f"Activation memory:     {_bytes(totals.activation_bytes)} (float32, every node's output)",
        f"Parameter memory:      {_bytes(totals.param_bytes)} (float32)",
    ]
    return "\n".join(out)
