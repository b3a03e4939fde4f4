"""A layer-by-layer table of a spec: output shapes, parameters and MACs, with exact totals.

Shapes are concrete, at the spec's `dims` example sizes (or given input shapes). Rows form a tree by
qualified name: a block instance (`layer1.0`) or a repeated node (`layer1`) gets a row of its own,
summing the rows below it; `depth` hides rows nested deeper than it, folding each instance into its row.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Literal

from ._api import Inputs, Params, Source, example_shapes, merge_inputs, prepare
from ._dims import Shape, format_shape
from ._errors import Diagnostic, escape_text
from ._graph import Graph, live_nodes, producer
from ._shapes import NodeInfo, ShapeInfo, activation_elements, node_macs, node_parameters

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

    Inputs not given in `inputs` take the spec's `dims`. `depth` keeps rows whose qualified name has
    at most `depth + 1` parts (`depth=0`: top-level nodes only, each repeated block as one row).
    Raises `SpecError` when the spec is invalid. `input_shapes=` is the deprecated name of `inputs=`.
    """
    inputs = merge_inputs("summarize", inputs, input_shapes)
    if depth is not None and depth < 0:
        raise ValueError(f"`depth` must be >= 0, got {depth}")
    examples, warnings = example_shapes(source, params, inputs)
    info = prepare(source, params, examples or inputs, concrete=True)
    live = live_nodes(info.graph)
    nodes = [info.nodes[n.name] for n in info.graph.order if n.name in live and n.name in info.nodes]
    tree = _build_tree(nodes)
    rows = [SummaryRow(name, 0, "input", "input", shape, 0, 0) for name, shape in info.inputs.items()]
    rows += _rows(tree, info.graph, depth)
    return Summary(
        info.graph.spec.name, dict(info.graph.params), dict(info.inputs), rows, _totals(info, nodes), depth, warnings
    )


# --- the tree of qualified names ----------------------------------------------------------------


@dataclasses.dataclass
class _Group:
    """A prefix of qualified names (`layer1`, `layer1.0`) and what lies below it, in execution order."""

    name: str
    children: dict[str, _Group | NodeInfo] = dataclasses.field(default_factory=dict)

    def leaves(self) -> list[NodeInfo]:
        found: list[NodeInfo] = []
        for child in self.children.values():
            found.extend(child.leaves() if isinstance(child, _Group) else [child])
        return found


def _build_tree(nodes: list[NodeInfo]) -> _Group:
    root = _Group("")
    for info in nodes:
        parts = info.node.name.split(".")
        group = root
        for i in range(1, len(parts)):
            prefix = ".".join(parts[:i])
            child = group.children.get(prefix)
            if not isinstance(child, _Group):
                child = group.children.setdefault(prefix, _Group(prefix))
            group = child  # type: ignore[assignment]
        group.children[info.node.name] = info
    return root


def _rows(group: _Group, graph: Graph, depth: int | None, level: int = 0) -> list[SummaryRow]:
    rows: list[SummaryRow] = []
    for child in group.children.values():
        if isinstance(child, NodeInfo):
            rows.append(_node_row(child, level))
            continue
        folded = depth is not None and level >= depth
        rows.append(_group_row(child, graph, level, folded))
        if not folded:
            rows.extend(_rows(child, graph, depth, level + 1))
    return rows


def _node_row(info: NodeInfo, level: int) -> SummaryRow:
    return SummaryRow(
        info.node.name, level, "node", info.node.op.name, info.output, node_parameters(info), node_macs(info)
    )


def _group_row(group: _Group, graph: Graph, level: int, folded: bool) -> SummaryRow:
    leaves = group.leaves()
    macs = [node_macs(n) for n in leaves]
    return SummaryRow(
        group.name,
        level,
        "block",
        _group_label(group.name, graph),
        _group_output(group, leaves, graph),
        sum(node_parameters(n) for n in leaves),
        None if None in macs else sum(macs),  # type: ignore[arg-type]
        folded,
    )


def _group_label(name: str, graph: Graph) -> str:
    """The block an instance instantiates (`basic`), or `basic x2` for a repeat, from the graph's instance tree."""
    instance = graph.instances.get(name)
    if instance is None:
        return "block"
    if instance.kind == "block":
        return instance.block or "block"
    if not instance.members:
        return "repeat x0"
    first = instance.members[0]
    inner = _group_label(first, graph) if first in graph.instances else graph.node(first).op.name
    return f"{inner} x{len(instance.members)}"


def _group_output(group: _Group, leaves: list[NodeInfo], graph: Graph) -> Shape:
    """The shape of the instance's output (what a reference to it reads), from the graph's instance tree."""
    instance = graph.instances.get(group.name)
    if instance is not None and instance.output is not None:
        base, _, port = instance.output.partition(":")
        for leaf in leaves:
            if leaf.node.name == base:
                return leaf.ports[int(port)] if port else leaf.output
    members = {n.node.name for n in leaves}
    read_outside = {producer(i) for n in graph.order if n.name not in members for i in n.inputs}
    read_outside |= {producer(o) for o in graph.outputs}
    exported = [n for n in leaves if n.node.name in read_outside]
    return (exported or leaves)[-1].output


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
