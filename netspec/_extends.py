"""`extends`: a spec's data merged over the data of the spec it names, before validation.

Works on plain data (what `_load` produces), so that the merged document is validated once and
every error points at the file that wrote the offending part.
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

from ._errors import Diagnostic, SourceMap, SpecError, did_you_mean
from ._load import Document, Limits
from ._models import PARAM_TYPES, nodes_mapping
from ._source import extends_problem, extends_root, read_extended, resolve_extends

__all__ = ["MAX_EXTENDS_DEPTH", "merge_data", "with_extends"]

MAX_EXTENDS_DEPTH = 8


def _merge_params(parent: Any, child: Any) -> Any:
    if child is not None and not isinstance(child, dict):
        return child  # the model reports the type error, at the child's `params`
    merged = dict(parent) if isinstance(parent, dict) else {}
    for name, value in (child or {}).items():
        old = merged.get(name)
        if (
            isinstance(old, dict)
            and not isinstance(value, dict)
            and not (isinstance(value, str) and value in PARAM_TYPES)
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
            base = nodes_mapping(merged.get(key)) if key == "nodes" else merged.get(key)
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
    names = list(nodes_mapping(parent_nodes) or {}) if isinstance(parent_nodes, (dict, list)) else []
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


def with_extends(doc: Document, path: Path | None, limits: Limits, chain: tuple[Path, ...] = ()) -> Document:
    """`doc` merged over the spec its `extends:` names, recursively; `doc` itself when it extends nothing."""
    data = doc.data
    ref = data.get("extends") if isinstance(data, dict) else None
    if not isinstance(ref, str):
        return doc  # nothing to extend, or a type error the model reports
    span = doc.sources.span(("extends",))
    if len(chain) >= MAX_EXTENDS_DEPTH:
        diagnostic = Diagnostic(f"`extends` chain deeper than {MAX_EXTENDS_DEPTH}", path="extends", code="NS105")
        raise SpecError([diagnostic.located(span)], doc.sources)
    first = chain[0] if chain else path
    root = extends_root(first) if first is not None else None
    target = resolve_extends(ref, path, root)
    if target is None:
        message, hint = extends_problem(ref, path, root)
        diagnostic = Diagnostic(message, path="extends", hint=hint, code="NS104")
        raise SpecError([diagnostic.located(span)], doc.sources)
    if target in chain or target == path:
        names = " -> ".join(p.name for p in (*chain, *([path] if path else []))) + f" -> {target.name}"
        raise SpecError(
            [Diagnostic(f"`extends` cycle: {names}", path="extends", code="NS105").located(span)], doc.sources
        )
    # The node limit covers the whole chain: a parent may hold only what this file leaves of it.
    used = len(doc.sources.values) + len(doc.sources.keys)
    parent_limits = dataclasses.replace(limits, max_nodes=max(1, limits.max_nodes - used))
    try:
        parent_doc = with_extends(
            read_extended(target, parent_limits), target, parent_limits, (*chain, *([path] if path else []))
        )
    except SpecError as err:
        if not err.diagnostics or err.diagnostics[0].code != "NS017":
            raise
        message = f"the `extends` chain holds more than {limits.max_nodes:,} keys and values in all"
        hint = "merge fewer or smaller specs, or raise `Limits.max_nodes`"
        raise SpecError(
            [Diagnostic(message, path="extends", hint=hint, code="NS017").located(span)], doc.sources
        ) from None
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
