"""`extends`: a spec's data merged over the data of the spec it names, before validation.

Works on plain data (what `_load` produces), so that the merged document is validated once and
every error points at the file that wrote the offending part.
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

from ._errors import Diagnostic, SourceMap, SpecError, did_you_mean, escape_text
from ._load import Document, Limits
from ._models import PARAM_TYPES, nodes_mapping
from ._source import extends_problem, extends_root, read_extended, resolve_extends
from ._work import EXTENDS_UNITS_PER_NODE, charge

__all__ = ["MAX_EXTENDS_DEPTH", "PLACEMENT_KEYS", "merge_data", "with_extends"]

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


PLACEMENT_KEYS = ("before", "after")  # in a child's node: where among the parent's nodes it goes


def _is_patch(node: Any) -> bool:
    """A child's node with neither `op` nor `block`: new values for some keys of the parent's node."""
    return isinstance(node, dict) and "op" not in node and "block" not in node


def _merge_nodes(parent: Any, child: dict[str, Any], removed: set[str]) -> dict[str, Any]:
    """The parent's nodes without the removed ones, then the child's: a node with a parent node's name
    replaces it in place (or, with neither `op` nor `block`, changes only the keys it gives); a node
    with `before: name` / `after: name` goes there; any other new node is appended."""
    base = nodes_mapping(parent)
    nodes = {k: v for k, v in (base if isinstance(base, dict) else {}).items() if k not in removed}
    before: dict[str, list[str]] = {}
    after: dict[str, list[str]] = {}
    placed: dict[str, Any] = {}
    for name, node in child.items():
        anchor = None
        if isinstance(node, dict) and any(k in node for k in PLACEMENT_KEYS):
            key = "before" if "before" in node else "after"
            anchor = node[key]
            node = {k: v for k, v in node.items() if k not in PLACEMENT_KEYS}
            if isinstance(anchor, str) and anchor in nodes and anchor != name:
                (before if key == "before" else after).setdefault(anchor, []).append(name)
                nodes.pop(name, None) if not _is_patch(node) else None
        if name in nodes and _is_patch(node) and isinstance(nodes[name], dict | str):
            old = {"op": nodes[name]} if isinstance(nodes[name], str) else nodes[name]
            node = {**old, **node}
        placed[name] = node
    merged: dict[str, Any] = {}
    for name, node in nodes.items():
        for new in before.get(name, ()):
            merged[new] = placed.pop(new)
        merged[name] = placed.pop(name, node)
        for new in after.get(name, ()):
            merged[new] = placed.pop(new)
    merged.update(placed)  # new nodes without a place: appended
    return merged


def merge_data(parent: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    """Child over parent: params and blocks by name, nodes replaced, changed, inserted or appended, `remove` applied."""
    merged = copy.deepcopy(parent)
    merged.pop("remove", None)
    listed = child.get("remove")
    removed = {name for name in listed if isinstance(name, str)} if isinstance(listed, list) else set()
    for key, value in child.items():
        if key in ("extends", "remove"):
            continue
        if key == "params":
            merged["params"] = _merge_params(merged.get("params"), value)
        elif key == "nodes" and isinstance(value, dict):
            merged["nodes"] = _merge_nodes(merged.get("nodes"), value, removed)
        elif key == "blocks" and isinstance(value, dict):
            base = merged.get(key)
            merged[key] = {**(base if isinstance(base, dict) else {}), **value}
        else:
            merged[key] = value
    if "nodes" not in child and isinstance(merged.get("nodes"), (dict, list)):
        merged["nodes"] = _merge_nodes(merged["nodes"], {}, removed)
    return merged


def _check_child_nodes(child: dict[str, Any], parent: dict[str, Any], ref: str, sources: SourceMap) -> None:
    """Places name parent nodes; a change names a parent node; a node appended after the parent's last
    node would silently become the model's output."""
    nodes = child.get("nodes")
    if not isinstance(nodes, dict):
        return
    parent_nodes = nodes_mapping(parent.get("nodes"))
    listed = child.get("remove")
    removed = {name for name in listed if isinstance(name, str)} if isinstance(listed, list) else set()
    names = [k for k in (parent_nodes if isinstance(parent_nodes, dict) else {}) if k not in removed]
    known = set(names)  # membership; `names` keeps the order, for the last node and the hints
    problems = []
    appended = []
    for name, node in nodes.items():
        placement = [k for k in PLACEMENT_KEYS if isinstance(node, dict) and k in node]
        if len(placement) == 2:
            problems.append(
                Diagnostic(
                    "a node goes `before` or `after` a parent node, not both",
                    path=f"nodes.{name}",
                    code="NS107",
                ).located(sources.span(("nodes", name, "after"), key=True))
            )
            continue
        if placement:
            anchor = node[placement[0]]
            if not isinstance(anchor, str) or anchor not in known:
                problems.append(
                    Diagnostic(
                        f"`{placement[0]}`: `{anchor}` is not a node of `{ref}`",
                        path=f"nodes.{name}.{placement[0]}",
                        hint=did_you_mean(str(anchor), names, listing=12),
                        code="NS107",
                    ).located(sources.span(("nodes", name, placement[0])))
                )
        change = {k: v for k, v in node.items() if k not in PLACEMENT_KEYS} if isinstance(node, dict) else node
        patch = _is_patch(change)
        if not placement and not patch and name not in known:
            appended.append(name)  # a new node; a change of a missing node is reported once, below
        if patch and name not in known:
            hint = did_you_mean(name, names, listing=12) or "a new node needs `op` or `block`"
            problems.append(
                Diagnostic(
                    f"`{name}` changes a node of `{ref}`, which has no node `{name}`",
                    path=f"nodes.{name}",
                    hint=hint,
                    code="NS107",
                ).located(sources.span(("nodes", name), key=True))
            )
    if appended and names and not child.get("outputs") and not parent.get("outputs"):
        last = appended[-1]
        problems.append(
            Diagnostic(
                f"`{last}` is appended after `{names[-1]}`, the last node of `{ref}`, and would become the model's output",
                path=f"nodes.{last}",
                hint=f"place it with `before: {names[-1]}` (or `after: ...`), or say what the model returns with `outputs`",
                code="NS107",
            ).located(sources.span(("nodes", last), key=True))
        )
    if problems:
        raise SpecError(problems, sources)


def _check_removed(removed: Any, parent_nodes: Any, ref: str, sources: SourceMap) -> None:
    """Every name in `remove` must be a node of the parent, listed once."""
    if not isinstance(removed, list):
        return
    names = list(nodes_mapping(parent_nodes) or {}) if isinstance(parent_nodes, (dict, list)) else []
    known = set(names)
    first: dict[str, int] = {}
    problems = []
    for i, name in enumerate(removed):
        if isinstance(name, str) and name in first:
            problems.append(
                Diagnostic(
                    f"`remove`: `{name}` is listed twice (first at `remove[{first[name]}]`)",
                    path=f"remove[{i}]",
                    hint="delete this entry",
                    code="NS106",
                ).located(sources.span(("remove", i)))
            )
        elif isinstance(name, str) and name in known:
            first[name] = i
        else:
            problems.append(
                Diagnostic(
                    f"`remove`: `{name}` is not a node of `{ref}`",
                    path=f"remove[{i}]",
                    hint=did_you_mean(str(name), names, listing=12),
                    code="NS106",
                ).located(sources.span(("remove", i)))
            )
    if problems:
        raise SpecError(problems, sources)


def with_extends(doc: Document, path: Path | None, limits: Limits, chain: tuple[Path, ...] = ()) -> Document:
    """`doc` merged over the spec its `extends:` names, recursively; `doc` itself when it extends nothing."""
    data = doc.data
    ref = data.get("extends") if isinstance(data, dict) else None
    if not isinstance(ref, str):
        return doc  # nothing to extend, or a type error the model reports
    span = doc.sources.span(("extends",))
    if len(chain) + 1 >= MAX_EXTENDS_DEPTH:  # this spec and those before it: one more would be too many
        files = [*chain, *([path] if path else [])]
        names = [escape_text(p.name, 100) for p in files]
        shown = " -> ".join(names if len(names) <= 4 else [*names[:2], "...", names[-1]])
        diagnostic = Diagnostic(
            f"`extends` chain deeper than {MAX_EXTENDS_DEPTH} specs: {shown} -> `{escape_text(ref, 100)}` "
            f"would be spec {len(chain) + 2}",
            path="extends",
            hint=f"a chain holds at most {MAX_EXTENDS_DEPTH} specs (a spec and {MAX_EXTENDS_DEPTH - 1} it extends): "
            "merge some of its specs into one",
            code="NS105",
        )
        raise SpecError([diagnostic.located(span)], doc.sources)
    first = chain[0] if chain else path
    root = extends_root(first) if first is not None else None
    target = resolve_extends(ref, path, root)
    if target is None:
        message, hint = extends_problem(ref, path, root)
        diagnostic = Diagnostic(message, path="extends", hint=hint, code="NS104")
        raise SpecError([diagnostic.located(span)], doc.sources)
    if target in chain or target == path:
        cycle = " -> ".join(escape_text(p.name, 100) for p in (*chain, *([path] if path else []), target))
        raise SpecError(
            [Diagnostic(f"`extends` cycle: {cycle}", path="extends", code="NS105").located(span)], doc.sources
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
        hint = "merge fewer or smaller specs, or raise `netspec.Limits(max_nodes=...)`"
        raise SpecError(
            [Diagnostic(message, path="extends", hint=hint, code="NS017").located(span)], doc.sources
        ) from None
    if not isinstance(parent_doc.data, dict):
        return doc
    charge(
        "extends",
        EXTENDS_UNITS_PER_NODE * _merge_size(data, parent_doc.data),
        where=lambda: (doc.sources, span, "extends"),
    )
    _check_removed(data.get("remove"), parent_doc.data.get("nodes"), ref, doc.sources)
    _check_child_nodes(data, parent_doc.data, ref, doc.sources)
    sources = SourceMap()
    sources.merge(doc.sources)
    sources.merge(parent_doc.sources)
    _override_default_spans(data.get("params"), doc.sources, sources)
    return Document(merge_data(parent_doc.data, data), sources, doc.file)


def _merge_size(child: dict[str, Any], parent: dict[str, Any]) -> int:
    """The units a merge is charged: a unit per node of either side and per `remove` entry, each of
    which the checks and the merge look up a constant number of times."""
    size = 0
    for value in (child.get("nodes"), parent.get("nodes"), child.get("remove")):
        size += len(value) if isinstance(value, (dict, list)) else 0
    return size


def _override_default_spans(params: Any, child: SourceMap, merged: SourceMap) -> None:
    """A bare value overriding a parent's parameter is its new default: errors about it point at the child."""
    if not isinstance(params, dict):
        return
    for name, value in params.items():
        span = child.values.get(("params", name))
        if span is not None and not isinstance(value, dict):
            merged.values[("params", name, "default")] = span
