"""Checks that need no parameter values: unknown names in expressions, node names, and what the
resolution pass (`_resolve`) found (unknown ops and blocks, recursive blocks); in every node of a
spec, including disabled ones and unused blocks."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ._errors import Diagnostic, SourceMap, Span, did_you_mean, format_path
from ._expr import Expr, ExprError, Template, compile_value
from ._models import NodeDef, RepeatDef, Spec, is_name_template
from ._names import MODULE_ATTRIBUTES, node_name_problem, rename_hint
from ._ops import get_op
from ._resolve import Resolved, resolved, source_span

__all__ = ["REPEAT_INDEX", "module_name_problems", "static_problems"]
REPEAT_INDEX = "i"  # the instance index inside a node with `repeat`
_WORD = r"(?<![A-Za-z0-9_]){}(?![A-Za-z0-9_])"


class _StaticChecker:
    """Walks the whole spec, every block and every node whether enabled or not, with names only."""

    def __init__(self, spec: Spec, names: Resolved) -> None:
        self.spec = spec
        self.resolved = names
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
            op = self.resolved.ops.get(path)
            if (op is None or op.kind == "module") and not is_name_template(local):  # a module name
                problem = node_name_problem(local)
                if problem is not None:
                    span = source_span(self.spec.source, path, key=True)
                    self.report(problem, path, hint=rename_hint(local, node=True), code="NS114", span=span)
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
            if node.op is not None and node.block is None and path in self.resolved.problems:
                self.problems.append(self.resolved.problems[path])  # unknown op
            self.names(node.block, inner, path + ("block",))
            if node.block is not None and path in self.resolved.problems:
                self.problems.append(self.resolved.problems[path])  # unknown block


def static_problems(spec: Spec) -> list[Diagnostic]:
    """What can be found wrong without parameter values: unknown names in expressions, unknown ops
    and blocks, recursive blocks; in every node, including disabled ones and unused blocks."""
    checker = _StaticChecker(spec, resolved(spec))
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
    checker.problems.extend(checker.resolved.cycles)
    return checker.problems


def module_name_problems(data: Mapping[str, Any], sources: SourceMap) -> list[Diagnostic]:
    """NS114 for each node of a spec's data (one that failed validation, so `static_problems` cannot
    run) named after an `nn.Module` attribute (`forward`) whose op is a module, a block or not known:
    reported with the spec's other problems, not after they are fixed."""
    blocks = data.get("blocks")
    places: list[tuple[tuple[str | int, ...], Any]] = [(("nodes",), data.get("nodes"))]
    if isinstance(blocks, dict):
        places += [(("blocks", b, "nodes"), d.get("nodes")) for b, d in blocks.items() if isinstance(d, dict)]
    found = []
    for nodes_path, nodes in places:
        if not isinstance(nodes, dict):
            continue
        for name, node in nodes.items():
            if name not in MODULE_ATTRIBUTES or node_name_problem(name, module=False) is not None:
                continue  # a valid name, or one validation reports already
            op = node.get("op") if isinstance(node, dict) and node.get("block") is None else node
            if isinstance(op, str) and "$" not in op:
                known = get_op(op)
                if known is not None and known.kind != "module":
                    continue  # a function op may take the name: no module is registered under it
            path = (*nodes_path, name)
            problem = node_name_problem(name)
            if problem is not None:
                found.append(
                    Diagnostic(
                        problem, path=format_path(path), hint=rename_hint(name, node=True), code="NS114"
                    ).located(sources.span(path, key=True))
                )
    return found
