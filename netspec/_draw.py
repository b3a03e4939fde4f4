"""Drawings of a shape-checked graph: Mermaid text, Graphviz DOT text, and images through Graphviz.

Every input and node is a box showing its name, its op and its output shape; block instances and
repeats (the graph's instance tree, `Graph.instances`: `layer2`, `layer2.0`, `layer2.0.downsample`)
are nested clusters. With `depth`, an instance nested in more than `depth` others is folded into
one box: `depth=1` draws `layer1` as a cluster of the boxes `layer1.0` and `layer1.1`; `depth=0`
draws `layer1` as a single box. Edges carry the shape of the tensor they move; edges into `add` (residual
sums) are dashed and edges into `concat` thick, with a legend.

No text from a spec ever reaches the output unescaped: every box and cluster has a generated id
(`n0`, `g0`), and labels are escaped for the target syntax.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from collections.abc import Iterable
from typing import Literal

from ._api import Inputs, Params, Source, prepare
from ._dims import Shape, format_shape
from ._errors import did_you_mean
from ._graph import GraphNode, producer
from ._shapes import ShapeInfo
from ._work import DRAWING_UNITS_PER_ITEM, charge, within_budget

__all__ = [
    "DOT_TIMEOUT_S",
    "IMAGE_FORMATS",
    "dot_text",
    "mermaid_text",
    "render_dot",
    "render_image",
    "render_mermaid",
    "to_dot",
    "to_image",
    "to_mermaid",
]

# Output formats handed to `dot -T<format>`; a fixed list so no argument is ever taken from outside.
IMAGE_FORMATS = ("svg", "png", "pdf", "jpg", "gif", "ps", "eps")
DOT_TIMEOUT_S = 60

EdgeStyle = Literal["plain", "residual", "concat"]
BoxKind = Literal["input", "op", "merge", "folded"]

# Edges into these ops are drawn in their own style, explained in the legend.
_EDGE_STYLES: dict[str, EdgeStyle] = {"add": "residual", "concat": "concat"}
_LEGEND: dict[EdgeStyle, str] = {"residual": "add (residual)", "concat": "concat (skip)"}

# --- the drawing, independent of the syntax -------------------------------------------------------


@dataclasses.dataclass
class _Box:
    """One drawn box: an input, a node, or a folded group of nodes."""

    id: str
    lines: list[str]
    kind: BoxKind
    output: bool = False


@dataclasses.dataclass
class _Cluster:
    """A block instance or a repeat, drawn around its boxes and inner clusters."""

    id: str
    title: str
    children: list[_Box | _Cluster] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class _Edge:
    source: str
    target: str
    label: str
    style: EdgeStyle


@dataclasses.dataclass
class _Drawing:
    items: list[_Box | _Cluster]
    edges: list[_Edge]

    @property
    def styles(self) -> set[EdgeStyle]:
        return {edge.style for edge in self.edges}


@dataclasses.dataclass
class _Fold:
    """The members of a folded group, collected before its box is labelled."""

    box: _Box
    members: list[GraphNode] = dataclasses.field(default_factory=list)


def _check_depth(depth: int | None) -> None:
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or depth < 0):
        raise ValueError(f"`depth` must be a whole number >= 0 or None, got {depth!r:.40}")


# A drawn box: a node or an input by name, or a folded instance by its name (a parallel repeat and
# the node that joins it share a name, so the kind is part of the key).
_Key = tuple[Literal["node", "group"], str]


class _Layout:
    """Builds a `_Drawing` from shape information."""

    def __init__(self, info: ShapeInfo, depth: int | None) -> None:
        self.info = info
        self.depth = depth
        self.nodes = [n for n in info.graph.nodes if n.name in info.nodes]
        self._groups: dict[str, list[str]] = {}  # name -> the container instances holding it
        self.users: dict[str, list[str]] = {}
        for node in self.nodes:
            for name in node.inputs:
                self.users.setdefault(producer(name), []).append(node.name)
        self.position = {n.name: k for k, n in enumerate(info.graph.order)}
        self.items: list[_Box | _Cluster] = []
        self.clusters: dict[str, _Cluster] = {}
        self.boxes: dict[_Key, _Box] = {}
        self.folds: dict[str, _Fold] = {}

    def drawing(self) -> _Drawing:
        for name, shape in self.info.inputs.items():
            box = _Box(self.next_box_id(), [name, "input", format_shape(shape)], "input")
            self.add_box(("node", name), box, [])
        for node in self.nodes:
            self.place(node)
        for name, fold in self.folds.items():
            fold.box.lines = self.fold_lines(name, fold.members)
        for name in self.info.graph.outputs:
            self.boxes[self.representative(producer(name))].output = True
        return _Drawing(self.items, self.edges())

    def groups(self, name: str) -> list[str]:
        """The instances that hold `name` (a node or an instance) as modules, outermost first: its
        clusters. Read from the instance tree; each name's chain is found once and kept."""
        graph = self.info.graph
        chain: list[str] = []  # `name`, then the instances above it, up to one whose groups are known
        above: list[str] = []
        while name not in self._groups:
            chain.append(name)
            parent = graph.instance_of(name)
            if parent is None or not parent.name:
                break
            name = parent.name
        else:
            if not chain:
                return self._groups[name]
            above = self._groups[name] + ([name] if graph.instances[name].container else [])
        for below in reversed(chain):
            self._groups[below] = above
            instance = graph.instances.get(below)
            if instance is not None and instance.container:
                above = [*above, below]
        return self._groups[chain[0]]

    def representative(self, name: str) -> _Key:
        """The drawn box of a node or input: itself, or the instance it is folded into."""
        groups = self.groups(name)
        if self.depth is None or len(groups) <= self.depth:
            return ("node", name)
        return ("group", groups[self.depth])

    def next_box_id(self) -> str:
        return f"n{len(self.boxes)}"

    def add_box(self, key: _Key, box: _Box, groups: list[str]) -> None:
        self.boxes[key] = box
        self.container(groups).append(box)

    def container(self, groups: list[str]) -> list[_Box | _Cluster]:
        """The children list of the innermost of `groups` (outermost first), creating clusters."""
        children = self.items
        for group in groups:
            cluster = self.clusters.get(group)
            if cluster is None:
                cluster = _Cluster(f"g{len(self.clusters)}", self.group_title(group))
                self.clusters[group] = cluster
                children.append(cluster)
            children = cluster.children
        return children

    def place(self, node: GraphNode) -> None:
        kind, drawn = self.representative(node.name)
        if kind == "node":
            box_kind: BoxKind = "merge" if node.op.name in _EDGE_STYLES else "op"
            shown = " | ".join(format_shape(shape) for shape in self.info.nodes[node.name].outputs)
            lines = [node.name, node.op.name, shown]
            self.add_box(("node", node.name), _Box(self.next_box_id(), lines, box_kind), self.groups(node.name))
            return
        fold = self.folds.get(drawn)
        if fold is None:
            fold = _Fold(_Box(self.next_box_id(), [], "folded"))
            self.folds[drawn] = fold
            self.add_box(("group", drawn), fold.box, self.groups(drawn))
        fold.members.append(node)

    # -- labels

    def group_title(self, group: str) -> str:
        what = self.group_kind(group)
        return f"{group} : {what}" if what else group

    def group_kind(self, group: str) -> str:
        """What a group is, read from the graph's instance tree: its block (`basic`), or `2 x basic` for a repeat."""
        instance = self.info.graph.instances.get(group)
        if instance is None:
            return ""
        if instance.kind == "block":
            return instance.block or ""
        if not instance.members:
            return "0 instances"
        first = instance.members[0]
        inner = self.group_kind(first) if first in self.info.graph.instances else self.op_name(first)
        return f"{len(instance.members)} x {inner}" if inner else f"{len(instance.members)} instances"

    def op_name(self, name: str) -> str:
        info = self.info.nodes.get(name)
        return info.node.op.name if info is not None else ""

    def fold_lines(self, group: str, members: list[GraphNode]) -> list[str]:
        what = self.group_kind(group)
        count = f"{len(members)} op{'s' if len(members) != 1 else ''}"
        return [group, f"{what}, {count}" if what else count, format_shape(self.group_output(members))]

    def group_output(self, members: list[GraphNode]) -> Shape:
        """The shape leaving a folded group: of its last member used outside it (or an output)."""
        inside = {n.name for n in members}
        outputs = {producer(o) for o in self.info.graph.outputs}
        leaving = {m for m in inside if m in outputs or any(u not in inside for u in self.users.get(m, ()))}
        last = max(leaving or inside, key=self.position.__getitem__)
        return self.info.nodes[last].output

    # -- edges

    def edges(self) -> list[_Edge]:
        """One edge per pair of drawn boxes; a plain edge wins over a styled one between the same pair."""
        found: dict[tuple[str, str], _Edge] = {}
        for node in self.info.graph.order:
            if node.name not in self.info.nodes:
                continue
            target = self.boxes[self.representative(node.name)].id
            style = _EDGE_STYLES.get(node.op.name, "plain")
            for name in node.inputs:
                source = self.boxes[self.representative(producer(name))].id
                if source == target:
                    continue
                known = found.get((source, target))
                if known is None:
                    found[(source, target)] = _Edge(source, target, format_shape(self.info.shape(name)), style)
                elif style == "plain":
                    known.style = "plain"
        return list(found.values())


def _layout(info: ShapeInfo, depth: int | None) -> _Drawing:
    _check_depth(depth)
    return _Layout(info, depth).drawing()


def _walk(items: Iterable[_Box | _Cluster]) -> Iterable[_Box]:
    for item in items:
        if isinstance(item, _Cluster):
            yield from _walk(item.children)
        else:
            yield item


# --- Mermaid --------------------------------------------------------------------------------------

# Characters that pass into a quoted Mermaid label as they are; every other one becomes an entity
# code (`#34;`), so no label can close its quotes, open HTML or start a Mermaid construct.
_MERMAID_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _.,:()[]+-*/=%'")
_MERMAID_ARROWS = {"plain": "-->", "residual": "-.->", "concat": "==>"}
_MERMAID_CLASSES = {
    "input": "fill:#e8eefc,stroke:#4060a0",
    "op": "fill:#ffffff,stroke:#606060",
    "merge": "fill:#fff4dc,stroke:#b07000",
    "folded": "fill:#f2f2f2,stroke:#606060,stroke-dasharray:4 3",
    "output": "stroke-width:3px",
}


def mermaid_text(text: str) -> str:
    """`text` escaped for a double-quoted Mermaid label; a newline becomes a line break."""
    if _MERMAID_SAFE.issuperset(text):  # most labels: nothing to escape
        return text
    return "<br/>".join("".join(c if c in _MERMAID_SAFE else f"#{ord(c)};" for c in line) for line in text.split("\n"))


def _mermaid_label(lines: list[str]) -> str:
    return '"' + "<br/>".join(mermaid_text(line) for line in lines) + '"'


def _mermaid_items(items: list[_Box | _Cluster], indent: str) -> list[str]:
    out = []
    for item in items:
        if isinstance(item, _Cluster):
            out.append(f"{indent}subgraph {item.id}[{_mermaid_label([item.title])}]")
            out.append(f"{indent}  direction TB")
            out += _mermaid_items(item.children, indent + "  ")
            out.append(f"{indent}end")
        else:
            shape = ("([", "])") if item.kind == "input" else ("[", "]")
            out.append(f"{indent}{item.id}{shape[0]}{_mermaid_label(item.lines)}{shape[1]}")
    return out


def _mermaid_legend(styles: set[EdgeStyle]) -> list[str]:
    shown = [s for s in _LEGEND if s in styles]
    if not shown:
        return []
    out = [f"  subgraph legend[{_mermaid_label(['legend'])}]", "    direction LR"]
    for k, style in enumerate(shown):
        label = _mermaid_label([_LEGEND[style]])
        out.append(f'    lg{2 * k}[" "] {_MERMAID_ARROWS[style]}|{label}| lg{2 * k + 1}[" "]')
    out.append("  end")
    return out


def render_mermaid(info: ShapeInfo, *, depth: int | None = None) -> str:
    """A Mermaid flowchart of the graph (for Markdown), groups deeper than `depth` folded."""
    drawing = _layout(info, depth)
    lines = ["flowchart TD"]
    lines += _mermaid_items(drawing.items, "  ")
    for edge in drawing.edges:
        lines.append(f"  {edge.source} {_MERMAID_ARROWS[edge.style]}|{_mermaid_label([edge.label])}| {edge.target}")
    lines += _mermaid_legend(drawing.styles)
    boxes = list(_walk(drawing.items))
    for kind, style in _MERMAID_CLASSES.items():
        members = [b.id for b in boxes if (b.output if kind == "output" else b.kind == kind)]
        if members:
            lines.append(f"  classDef {kind} {style}")
            lines.append(f"  class {','.join(members)} {kind}")
    return "\n".join(lines) + "\n"


# --- Graphviz DOT ---------------------------------------------------------------------------------

_DOT_BOXES = {
    "input": 'shape=ellipse, fillcolor="#e8eefc"',
    "op": 'fillcolor="#ffffff"',
    "merge": 'shape=oval, fillcolor="#fff4dc"',
    "folded": 'style="rounded,filled,dashed", fillcolor="#f2f2f2"',
}
_DOT_EDGES = {"plain": "", "residual": ', style=dashed, color="#3060c0"', "concat": ', penwidth=2.5, color="#c06000"'}


_DOT_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def dot_text(text: str) -> str:
    """`text` escaped for a double-quoted DOT string; a newline becomes a centred line break.

    Graphviz reads HTML entities in every label, so `&`, `<` and `>` are written as entities: a name
    holding `&lt;` is drawn as written, and the DOT text holds no `<` or `>` from a spec, so it can be
    put into a web page as it is (escape `"` too where it goes into an HTML attribute).
    """
    if text.isprintable() and not any(c in text for c in '\\"&<>'):  # most labels: nothing to escape
        return text
    out = []
    for c in text:
        if c in '\\"':
            out.append("\\" + c)
        elif c in _DOT_ENTITIES:
            out.append(_DOT_ENTITIES[c])
        elif c == "\n":
            out.append("\\n")
        elif c.isprintable():
            out.append(c)
    return "".join(out)


def _dot_label(lines: list[str]) -> str:
    return '"' + "\\n".join(dot_text(line) for line in lines) + '"'


def _dot_items(items: list[_Box | _Cluster], indent: str) -> list[str]:
    out = []
    for item in items:
        if isinstance(item, _Cluster):
            out.append(f"{indent}subgraph cluster_{item.id} {{")
            out.append(f'{indent}  label={_dot_label([item.title])}; style="rounded,dashed"; color="#808080";')
            out += _dot_items(item.children, indent + "  ")
            out.append(f"{indent}}}")
        else:
            extra = ", peripheries=2" if item.output else ""
            out.append(f"{indent}{item.id} [label={_dot_label(item.lines)}, {_DOT_BOXES[item.kind]}{extra}];")
    return out


def _dot_legend(styles: set[EdgeStyle]) -> list[str]:
    shown = [s for s in _LEGEND if s in styles]
    if not shown:
        return []
    out = ["  subgraph cluster_legend {", '    label="legend"; style="rounded"; color="#c0c0c0";']
    for k, style in enumerate(shown):
        out.append(f"    lg{2 * k} [shape=point]; lg{2 * k + 1} [shape=point];")
        out.append(f"    lg{2 * k} -> lg{2 * k + 1} [label={_dot_label([_LEGEND[style]])}{_DOT_EDGES[style]}];")
    out.append("  }")
    return out


def render_dot(info: ShapeInfo, *, depth: int | None = None) -> str:
    """A Graphviz DOT digraph of the graph, groups deeper than `depth` folded."""
    drawing = _layout(info, depth)
    lines = [
        "digraph netspec {",
        '  graph [rankdir=TB, fontname="Helvetica", fontsize=11];',
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
        '  edge [fontname="Helvetica", fontsize=9];',
    ]
    lines += _dot_items(drawing.items, "  ")
    for edge in drawing.edges:
        lines.append(f"  {edge.source} -> {edge.target} [label={_dot_label([edge.label])}{_DOT_EDGES[edge.style]}];")
    lines += _dot_legend(drawing.styles)
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_image(info: ShapeInfo, fmt: str, *, depth: int | None = None) -> bytes:
    """The DOT drawing rendered by Graphviz's `dot` as `fmt` (`svg`, `png`, `pdf`, ...)."""
    if fmt not in IMAGE_FORMATS:
        hint = did_you_mean(fmt, IMAGE_FORMATS, listing=len(IMAGE_FORMATS))
        raise ValueError(f"unknown image format `{fmt}`" + (f": {hint}" if hint else ""))
    dot = shutil.which("dot")
    if dot is None:
        raise RuntimeError(
            "Graphviz's `dot` program is not on the PATH: install Graphviz (`apt install graphviz`, "
            "`brew install graphviz` or `conda install graphviz`), or write DOT text and render it elsewhere"
        )
    source = render_dot(info, depth=depth).encode("utf-8")
    try:
        result = subprocess.run(
            [dot, f"-T{fmt}"], input=source, capture_output=True, timeout=DOT_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"Graphviz's `dot` did not finish within {DOT_TIMEOUT_S} s; try a smaller `depth`") from None
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", "replace").strip()[:500]
        raise RuntimeError(f"Graphviz's `dot` failed (exit status {result.returncode}): {message}")
    return result.stdout


# --- the public functions: a source in, a drawing out ----------------------------------------------


def _charged(info: ShapeInfo, format: str) -> ShapeInfo:
    """Charge the request's work budget for drawing `info` in `format` (`mermaid` or `dot`): its
    `DRAWING_UNITS_PER_ITEM` per node and edge."""
    graph = info.graph
    charge(
        "drawing",
        DRAWING_UNITS_PER_ITEM[format] * sum(1 + len(node.inputs) for node in graph.nodes),
        where=lambda: (graph.sources, graph.sources.span(("nodes",)), "nodes"),
    )
    return info


@within_budget
def to_mermaid(
    source: Source, /, *, params: Params | None = None, inputs: Inputs | None = None, depth: int | None = None
) -> str:
    """A Mermaid flowchart of a spec's graph, for Markdown, with each edge labelled by its shape::

        print(netspec.to_mermaid("resnet18", depth=1))  # paste into a ```mermaid block

    Shapes stay symbolic (`N`, `H`) unless `inputs` fixes them; `depth` folds block instances nested
    deeper than it into one box. Raises `SpecError` when the spec is invalid.
    """
    return render_mermaid(_charged(prepare(source, params, inputs), "mermaid"), depth=depth)


@within_budget
def to_dot(
    source: Source, /, *, params: Params | None = None, inputs: Inputs | None = None, depth: int | None = None
) -> str:
    """A Graphviz DOT digraph of a spec's graph (as `to_mermaid`, for `dot` and other DOT tools)::

    Path("resnet18.dot").write_text(netspec.to_dot("resnet18", depth=1))
    """
    return render_dot(_charged(prepare(source, params, inputs), "dot"), depth=depth)


@within_budget
def to_image(
    source: Source,
    format: str = "svg",
    /,
    *,
    params: Params | None = None,
    inputs: Inputs | None = None,
    depth: int | None = None,
) -> bytes:
    """The DOT drawing rendered by Graphviz's `dot` program as `format` (one of `IMAGE_FORMATS`)::

        Path("resnet18.svg").write_bytes(netspec.to_image("resnet18", "svg", depth=1))

    Raises `RuntimeError` when `dot` is not installed or fails, `ValueError` for an unknown format.
    """
    return render_image(_charged(prepare(source, params, inputs), "dot"), format, depth=depth)
