"""The sizes the runtime input guard checks: for each symbolic input dimension, the sizes the network
runs at, as a rule `check_input` applies in a few integer operations.

A dimension's rule comes from the shape conditions that involve that dimension alone (an equality
that ties two dimensions, such as `H == W`, is refused at validation, `NS207`). Over the sizes searched
(`_shapes.SIZE_SEARCH_LIMIT`, or twice the spec's example size), the sizes that run are `first`,
then those whose offset from `first` modulo `period` is marked in `residues` (a string of `0` and
`1`, read by index); sizes past the search are taken to follow the same period, as `valid_sizes`
takes them. For each refused residue, and below `first`, the rule names the first layer (in
execution order) that refuses it, so the guard's message names it. A dimension with no period in the
search checks `first` only; one with more conditions than `MAX_GUARD_WORK` allows is not checked
(its layers still refuse a bad size, in torch's words).
"""

from __future__ import annotations

from typing import Any

from ._dims import SizeVector, Sym, tightest
from ._shapes import SIZE_SEARCH_LIMIT, ShapeInfo, _period
from ._work import charge

__all__ = ["MAX_GUARD_WORK", "MAX_NAMED_PERIOD", "SizeRule", "size_rules"]

MAX_GUARD_WORK = 4_000_000  # conditions x sizes evaluated for the guard of one model, at most
MAX_NAMED_PERIOD = 4096  # past this period, the rule names no layer per residue (the message names none)

# axis, symbol, first, period (0: none), residues ("1" runs), layer per residue ("" runs), layer below
# `first`. Plain ints, identifiers, digits and node names: the generated code holds them as literals.
SizeRule = tuple[int, str, int, int, str, tuple[str, ...], str]


def size_rules(info: ShapeInfo, name: str) -> list[SizeRule]:
    """The rules of input `name`'s symbolic dimensions that some layer constrains on its own."""
    declared = info.graph.inputs[name]
    single: dict[str, list[tuple[str, Any]]] = {}
    for node, constraint in info.constraints:
        if constraint.severity != "error":
            continue
        symbols = {v for d in constraint.dims if isinstance(d, Sym) for v in d.variables}
        if len(symbols) == 1:
            single.setdefault(next(iter(symbols)), []).append((node.name, constraint))
    budget = MAX_GUARD_WORK
    rules = []
    for axis, dim in enumerate(declared):
        if not isinstance(dim, str) or dim not in single:
            continue
        limit = max(SIZE_SEARCH_LIMIT, min(2 * info.graph.spec.dims.get(dim, 0), 1 << 20))
        node_of: dict[Any, str] = {}
        for node_name, constraint in single[dim]:
            node_of.setdefault(constraint.condition, node_name)
        unique = [(node_of.get(c.condition, ""), c) for c in tightest(c for _, c in single[dim])]
        budget -= len(unique) * limit
        if budget < 0:
            continue
        charge("the input guard", len(unique) * limit)
        rule = _rule(axis, dim, unique, limit)
        if rule is not None:
            rules.append(rule)
    return rules


def _rule(axis: int, symbol: str, constraints: list[tuple[str, Any]], limit: int) -> SizeRule | None:
    sizes = SizeVector(range(1, limit + 1))
    masks = []
    for node, constraint in constraints:
        try:
            mask = constraint.holds({symbol: sizes})
        except OverflowError:
            mask = False
        masks.append((node, [mask] * limit if isinstance(mask, bool) else [bool(m) for m in mask]))
    runs = [all(m[i] for _, m in masks) for i in range(limit)]
    if not any(runs):
        return None  # validation reports that no size runs
    first = runs.index(True) + 1
    below = _refuser(masks, first - 1) if first > 1 else ""
    period = _period([s for s in range(1, limit + 1) if runs[s - 1]], limit) or 0
    residues = "".join("1" if runs[first - 1 + r] else "0" for r in range(period))
    named = period <= MAX_NAMED_PERIOD
    layers = tuple("" if bit == "1" or not named else _refuser(masks, first + r) for r, bit in enumerate(residues))
    return (axis, symbol, first, period, residues, layers, below)


def _refuser(masks: list[tuple[str, list[bool]]], size: int) -> str:
    """The first layer whose condition fails at `size`."""
    return next((node for node, mask in masks if not mask[size - 1]), "")
