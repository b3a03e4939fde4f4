"""The names of a spec resolved once: each node's `op` or `block` written as a name, and the
block-use graph with its cycles.

`resolved(spec)` walks every node of the spec (the top level and every block, enabled or not)
and turns each `op` that is a name into its `OpDef` and each `block` that is a name into its
`BlockDef`, by the node's spec path; it reports unknown ops (`NS141`) and blocks (`NS142`) there,
and the blocks that use themselves through literal names (`NS143`). The result is kept with the
spec (one catalog lookup per name per spec): `_static` reads the problems, `_graph` reads the
definitions while it expands, and names chosen by an expression (`op: $act`, `block: $b`) are
looked up through the same memo when their value is known.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from ._errors import Diagnostic, SourceMap, Span, did_you_mean, format_path
from ._models import BlockDef, NodeDef, Spec
from ._ops import OpDef, catalog, catalog_version, get_op

__all__ = ["MAX_CYCLE_DEPTH", "Resolved", "resolved", "source_span", "unknown_op"]

Path = tuple[str | int, ...]
MAX_CYCLE_DEPTH = 64  # blocks nested deeper through literal names are reported when the graph is expanded


def unknown_op(name: str, blocks: Mapping[str, Any]) -> tuple[str, str | None]:
    """The message and hint for an op name the catalog lacks."""
    if "." in name or name.startswith("__"):
        message = f"`{name}` is not an op: ops are names from the catalog, never import paths"
        return message, "register your own layer with `@netspec.register_op(...)` and name it here"
    if name in blocks:
        return f"unknown op `{name}`", f"`{name}` is a block: write `block: {name}`"
    return f"unknown op `{name}`", did_you_mean(
        name, list(catalog()) + list(blocks)
    ) or "see `docs/ops.md` for the catalog"


def source_span(sources: SourceMap, path: Path, *, key: bool = False) -> Span | None:
    """The span at `path`, where a position in a list of nodes may be written `"0"` or `0`."""
    numeric = tuple(int(p) if isinstance(p, str) and p.isdigit() else p for p in path)
    if numeric != path and _known_depth(sources, numeric) > _known_depth(sources, path):
        path = numeric
    return sources.span(path, key=key)


def _known_depth(sources: SourceMap, path: Path) -> int:
    for depth in range(len(path), 0, -1):
        if path[:depth] in sources.values:
            return depth
    return 0


def _literal(name: str | None) -> bool:
    return name is not None and "$" not in name


@dataclasses.dataclass
class Resolved:
    """What the names of one spec resolve to, by the spec path of the node that writes them."""

    spec: Spec
    version: int  # the catalog's version when resolved: registering an op makes it stale
    ops: dict[Path, OpDef] = dataclasses.field(default_factory=dict)  # nodes whose `op` names a catalog op
    blocks: dict[Path, BlockDef] = dataclasses.field(default_factory=dict)  # nodes whose `block` names a block
    problems: dict[Path, Diagnostic] = dataclasses.field(default_factory=dict)  # by node: unknown op or block
    cycles: list[Diagnostic] = dataclasses.field(default_factory=list)  # recursive blocks, by literal names
    recursive: frozenset[str] = frozenset()  # the blocks on those cycles
    lookups: int = 0  # catalog lookups made: one per distinct name
    _catalog: dict[str, OpDef | None] = dataclasses.field(default_factory=dict)

    def op(self, name: str) -> OpDef | None:
        """The catalog op `name` (looked up once per spec, whoever asks)."""
        if name not in self._catalog:
            self.lookups += 1
            self._catalog[name] = get_op(name)
        return self._catalog[name]

    def diagnostic(self, message: str, path: Path, hint: str | None, code: str) -> Diagnostic:
        return Diagnostic(message, path=format_path(path), hint=hint, code=code).located(
            source_span(self.spec.source, path)
        )

    def unknown_op(self, name: str, node_path: Path) -> Diagnostic:
        """`NS141` at the node's `op`."""
        message, hint = unknown_op(name, self.spec.blocks)
        return self.diagnostic(message, node_path + ("op",), hint, "NS141")

    def unknown_block(self, name: str, node_path: Path) -> Diagnostic:
        """`NS142` at the node's `block`."""
        hint = did_you_mean(name, self.spec.blocks) or (
            f"`{name}` is an op: write `op: {name}`" if self.op(name) is not None else None
        )
        return self.diagnostic(f"unknown block `{name}`", node_path + ("block",), hint, "NS142")

    def recursion(self, stack: tuple[str, ...], name: str, node_path: Path) -> Diagnostic:
        """`NS143`: block `name`, used at `node_path`, is already being expanded (`stack`, outermost first)."""
        cycle = " -> ".join((*stack[stack.index(name) :], name))
        return self.diagnostic(
            f"recursive block: {cycle}", node_path + ("block",), "a block may use other blocks, not itself", "NS143"
        )


def resolved(spec: Spec) -> Resolved:
    """The spec's names resolved, once per spec (kept with it) and again only after the catalog changes."""
    found = spec._resolved
    if isinstance(found, Resolved) and found.version == catalog_version():
        return found
    result = Resolved(spec, catalog_version())
    _resolve_nodes(result, spec.nodes, ("nodes",))
    for name, block in spec.blocks.items():
        _resolve_nodes(result, block.nodes, ("blocks", name, "nodes"))
    _find_cycles(result)
    spec._resolved = result
    return result


def _resolve_nodes(result: Resolved, nodes: Mapping[str, NodeDef], nodes_path: Path) -> None:
    for local, node in nodes.items():
        path = nodes_path + (local,)
        if node.block is None and _literal(node.op):
            op = result.op(node.op)  # type: ignore[arg-type]
            if op is not None:
                result.ops[path] = op
            else:
                result.problems[path] = result.unknown_op(node.op, path)  # type: ignore[arg-type]
        elif _literal(node.block):
            block = result.spec.blocks.get(node.block)  # type: ignore[arg-type]
            if block is not None:
                result.blocks[path] = block
            else:
                result.problems[path] = result.unknown_block(node.block, path)  # type: ignore[arg-type]


def _find_cycles(result: Resolved) -> None:
    """Blocks that use themselves through literal names, depth-first from the blocks the spec's nodes
    use (in their order, as the expansion meets them), then the others; each block walked once, with
    an explicit stack: a cycle shows as a use of a block still on the stack."""
    spec = result.spec
    uses = {
        name: [(local, node.block) for local, node in block.nodes.items() if node.block in spec.blocks]
        for name, block in spec.blocks.items()
    }
    starts = [node.block for node in spec.nodes.values() if node.block in spec.blocks] + list(spec.blocks)
    done: set[str] = set()
    recursive: set[str] = set()
    for start in starts:
        if start in done:
            continue
        stack: list[tuple[str, int]] = [(start, 0)]  # (block, the next of its uses to follow)
        while stack:
            name, position = stack[-1]
            if position == len(uses[name]):
                stack.pop()
                done.add(name)
                continue
            stack[-1] = (name, position + 1)
            local, used = uses[name][position]
            names = tuple(n for n, _ in stack)
            if used in names:
                result.cycles.append(result.recursion(names, used, ("blocks", name, "nodes", local)))
                recursive.update(names[names.index(used) :])
            elif used not in done and len(stack) < MAX_CYCLE_DEPTH:
                stack.append((used, 0))
    result.recursive = frozenset(recursive)
