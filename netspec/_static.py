"""Checks that need no parameter values: unknown names in expressions, unknown ops and blocks,
recursive blocks; in every node of a spec, including disabled ones and unused blocks."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ._errors import Diagnostic, SourceMap, Span, did_you_mean, format_path
from ._expr import Expr, ExprError, Template, compile_value
from ._models import NodeDef, RepeatDef, Spec, is_name_template
from ._names import node_name_problem
from ._ops import catalog, get_op

__all__ = ["REPEAT_INDEX", "source_span", "static_problems", "unknown_op"]
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

    def names(self, value: Any, known: frozenset[str], path: tuple[str | int, ...], *, key: bool = False) -> None:
        """Report every name an expression in `value` reads that is not in `known` (`key`: `value` is the key at `path`)."""
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
                    err.message,
                    path,
                    hint=err.hint,
                    code="NS131",
                    span=self.expr_span(path, err.offset, err.length, key=key),
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
                        span=self.expr_span(path, offset, len(name), key=key),
                    )

    def expr_span(self, path: tuple[str | int, ...], offset: int, length: int, *, key: bool = False) -> Span | None:
        span = source_span(self.spec.source, path, key=key)
        if span is None or span.line != span.end_line:
            return span
        line = self.spec.source.line_text(span.file, span.line) or ""
        quoted = 1 if line[span.column - 1 : span.column] in ("'", '"') else 0
        column = span.column + quoted + offset
        return Span(span.file, span.line, column, span.line, column + max(length, 1))

    def nodes(self, nodes: Mapping[str, NodeDef], known: frozenset[str], nodes_path: tuple[str | int, ...]) -> None:
        for local, node in nodes.items():
            path = nodes_path + (local,)
            op = get_op(node.op) if node.op is not None and node.block is None and "$" not in node.op else None
            if (op is None or op.kind == "module") and not is_name_template(local):  # a module name
                problem = node_name_problem(local)
                if problem is not None:
                    span = source_span(self.spec.source, path, key=True)
                    self.report(problem, path, hint=None, code="NS114", span=span)
            repeat = (
                node.repeat.model_dump(exclude_defaults=True) if isinstance(node.repeat, RepeatDef) else node.repeat
            )
            self.names(repeat, known, path + ("repeat",))
            self.names(node.when, known, path + ("when",))
            inner = known | {REPEAT_INDEX} if node.repeat is not None else known
            if is_name_template(local):
                self.names(local, inner, path, key=True)
            self.names(list(node.inputs or ()), inner, path + ("in",))
            self.names(node.args, inner, path)
            self.names(node.op, inner, path + ("op",))
            if node.op is not None and "$" not in node.op and get_op(node.op) is None:
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
        checker.names(list(rule.nodes or ()), params, ("init", index, "nodes"))
        for field in ("weight", "bias"):
            checker.names(getattr(rule, field), params, ("init", index, field))
    checker.block_cycles()
    return checker.problems
