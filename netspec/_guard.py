"""What the runtime input guard checks, as plain literals `check_input` applies in a few integer
operations: for each symbolic input dimension, the sizes the network runs at; the shape conditions
over two or more symbols; and the index range of the embeddings an input feeds.

A dimension's rule (`size_rules`) comes from the shape conditions that involve that dimension alone
(an equality that ties two dimensions, such as `H == W`, is refused at validation, `NS207`). Over the
sizes searched (`_shapes.SIZE_SEARCH_LIMIT`, or twice the spec's example size), the sizes that run are
`first`, then those whose offset from `first` modulo `period` is marked in `residues` (a string of `0`
and `1`, read by index); sizes past the search are taken to follow the same period, as `valid_sizes`
takes them. For each refused residue, and below `first`, the rule names the first layer (in
execution order) that refuses it, so the guard's message names it. A dimension with no period in the
search checks `first` only; one with more conditions than `MAX_GUARD_WORK` allows is not checked
(its layers still refuse a bad size, in torch's words).

A condition over two or more symbols (`condition_rules`: `H*W-4 >= 1` before an unpadded `Conv1d`
over a flattened map, `4*((H*W)//4) == H*W` for an `Unflatten` by 4) has no lattice of its own: it
is evaluated on the actual sizes, from a short program of integer operations over the input sizes
that computes each size the input's conditions read once. Conditions are checked once each (equal conditions once; of `positive` conditions that differ
only in their constant, the tightest), at most `MAX_GUARD_CONDITIONS` per model and
`MAX_CONDITION_PROGRAM` operations each; the rest are left to their layers. A refused size names the
first layer, in execution order, whose condition fails.

An input that reaches an `Embedding` (or a registered `EmbeddingBag`) directly, or through ops that
only move its values (`INDEX_KEEPING_OPS`), gets the embeddings' `num_embeddings` (`index_rules`), and
one that is the index of an `index_select` gets the size it picks from (when that size is fixed): the
guard reads its smallest and largest value (one `torch.aminmax`) and names the first layer that
cannot look one up.
"""

from __future__ import annotations

from typing import Any

from ._args import OpDef
from ._dims import SizeVector, Sym, _Floor, tightest
from ._graph import live_nodes
from ._ops import builtin_ops
from ._shapes import SIZE_SEARCH_LIMIT, ShapeInfo, _period
from ._work import GUARD_EVALUATIONS_PER_UNIT, charge, per_unit

__all__ = [
    "INDEX_KEEPING_OPS",
    "MAX_CONDITION_PROGRAM",
    "MAX_GUARD_CONDITIONS",
    "MAX_GUARD_WORK",
    "MAX_NAMED_PERIOD",
    "ConditionRule",
    "IndexRule",
    "SizeRule",
    "condition_rules",
    "index_rules",
    "index_rules_by_input",
    "size_rules",
]

MAX_GUARD_WORK = 4_000_000  # conditions x sizes evaluated for the guard of one model, at most
MAX_NAMED_PERIOD = 4096  # past this period, the rule names no layer per residue (the message names none)
MAX_GUARD_CONDITIONS = 64  # conditions over two or more symbols checked at forward, per model
MAX_CONDITION_PROGRAM = 256  # new integer operations of one condition (both sides); longer ones are left to the layers
_MAX_FLOOR_NESTING = 32  # floors inside floors in one size; deeper ones are left to the layers

# axis, symbol, first, period (0: none), residues ("1" runs), layer per residue ("" runs), layer below
# `first`. Plain ints, identifiers, digits and node names: the generated code holds them as literals.
SizeRule = tuple[int, str, int, int, str, tuple[str, ...], str]

# kind (0 `a >= 1`, 1 `a == b`, 2 `a >= b`, 3 `a` even), the registers of `a` and `b` (see `Program`),
# then for each layer that puts the condition (execution order; a `positive` chain differs only in its
# constant): what it adds to `a`, its position in execution order, its name, the condition in words;
# then the symbols and where their sizes are (the message shows them).
ConditionRule = tuple[int, int, int, list[int], list[int], list[str], list[str], list[str], list[int]]

# The sizes an input's conditions read, computed once each: triples (op, a, b), the k-th filling
# register k: `0 c _` the constant c, `1 i _` the i-th size (the input's dimensions, then `known`),
# `2 r s` r + s, `3 r s` r * s, `4 r d` r // d (registers r, s; a divisor d).
Program = list[int]

# the embedding (first in execution order first) and its `num_embeddings`
IndexRule = tuple[str, int, str]  # the layer, the entries it looks up, its kind (`embedding`, `index_select`)

# Ops whose output holds exactly the values of their one input (moved, not changed or dropped): an index
# that reaches an embedding through them is the input's own value.
INDEX_KEEPING_OPS = frozenset(
    {
        "Flatten",
        "Unflatten",
        "Identity",
        "reshape",
        "view",
        "permute",
        "transpose",
        "squeeze",
        "unsqueeze",
        "roll",
        "expand",
    }
)
_EMBEDDINGS = ("Embedding", "EmbeddingBag")  # torch's classes: indices in [0, num_embeddings)
_KINDS = {"positive": 0, "equal": 1, "at_least": 2, "even": 3}


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
        charge("the input guard", per_unit(len(unique) * limit, GUARD_EVALUATIONS_PER_UNIT))
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


def condition_rules(info: ShapeInfo) -> dict[str, tuple[Program, list[ConditionRule], list[tuple[str, int]]]]:
    """For each input, the conditions over two or more symbols its guard checks: the program of the
    sizes they read, the conditions, and the sizes of other inputs they read (input, axis), in the
    order `check_input` receives them as `known`.

    A condition goes to the last input (in input order) that first declares one of its symbols; a
    symbol it declares is read from it, the others from the first input that declares them."""
    first_input: dict[str, tuple[int, str, int]] = {}
    for position, (name, declared) in enumerate(info.graph.inputs.items()):
        for axis, dim in enumerate(declared):
            if isinstance(dim, str):
                first_input.setdefault(dim, (position, name, axis))
    order = {node.name: i for i, node in enumerate(info.graph.order)}
    groups: dict[Any, list[tuple[int, str, Any]]] = {}
    for node, constraint in info.constraints:
        if constraint.severity != "error" or constraint.kind not in _KINDS:
            continue
        symbols = {v for d in constraint.dims if isinstance(d, Sym) for v in d.variables}
        if len(symbols) < 2 or not symbols <= first_input.keys():
            continue
        groups.setdefault(_group_key(constraint), []).append((order.get(node.name, len(order)), node.name, constraint))
    charge("the input guard", sum(len(members) for members in groups.values()))
    inputs = list(info.graph.inputs)
    programs: dict[str, _Registers] = {}
    result: dict[str, tuple[Program, list[ConditionRule], list[tuple[str, int]]]] = {}
    made = 0
    for members in sorted(groups.values(), key=lambda m: min(p for p, _, _ in m)):
        if made == MAX_GUARD_CONDITIONS:
            break  # the rest are left to their layers
        members.sort(key=lambda m: m[0])
        tight = min((c for _, _, c in members), key=_constant_of)
        names = sorted({v for d in tight.dims if isinstance(d, Sym) for v in d.variables})
        name = inputs[max(first_input[s][0] for s in names)]
        registers = programs.setdefault(name, _Registers(info.graph.inputs[name]))
        slots = {symbol: registers.slot(symbol, first_input[symbol][1:]) for symbol in names}
        sides = registers.sides(tight.dims, slots)
        if sides is None:
            continue  # too long or too deeply nested: left to its layers
        kept = _first_refusers(members, tight)
        charge("the input guard", len(registers.code) // 3 + len(kept))
        rules = result.setdefault(name, (registers.code, [], registers.known))[1]
        rules.append(
            (
                _KINDS[tight.kind],
                sides[0],
                sides[1],
                [_constant_of(c) - _constant_of(tight) for _, _, c in kept],
                [position for position, _, _ in kept],
                [layer for _, layer, _ in kept],
                [c.text for _, _, c in kept],
                names,
                [slots[s] for s in names],
            )
        )
        made += 1
    return result


class _Registers:
    """The program of one input's conditions (`Program`): each distinct size computed once."""

    def __init__(self, declared: tuple[int | str, ...]) -> None:
        self.declared = declared
        self.code: Program = []
        self.known: list[tuple[str, int]] = []  # sizes of other inputs, after the input's own
        self._index: dict[tuple[int, int, int], int] = {}

    def slot(self, symbol: str, elsewhere: tuple[str, int]) -> int:
        """Where the size of `symbol` is: the input's own dimension, else a size read from another input."""
        if symbol in self.declared:
            return self.declared.index(symbol)
        if elsewhere not in self.known:
            self.known.append(elsewhere)
        return len(self.declared) + self.known.index(elsewhere)

    def sides(self, dims: tuple[Any, ...], slots: dict[str, int]) -> tuple[int, int] | None:
        """The registers of a condition's sizes (the second 0 when it has one), or None (nothing added)
        when they need more than `MAX_CONDITION_PROGRAM` new registers or floors nest too deeply."""
        before, added = len(self.code), list[tuple[int, int, int]]()
        try:
            found = [self._of(d, slots, 0, added) for d in dims]
        except _TooLong:
            del self.code[before:]
            for key in added:
                del self._index[key]
            return None
        return found[0], found[1] if len(found) > 1 else 0

    def _emit(self, op: int, a: int, b: int, added: list[tuple[int, int, int]]) -> int:
        key = (op, a, b)
        found = self._index.get(key)
        if found is None:
            if len(added) == MAX_CONDITION_PROGRAM:
                raise _TooLong
            found = self._index[key] = len(self.code) // 3
            self.code += [op, a, b]
            added.append(key)
        return found

    def _of(self, dim: Any, slots: dict[str, int], depth: int, added: list[tuple[int, int, int]]) -> int:
        if isinstance(dim, int):
            return self._emit(0, dim, 0, added)
        if isinstance(dim, str):
            return self._emit(1, slots[dim], 0, added)
        if isinstance(dim, _Floor):
            if depth == _MAX_FLOOR_NESTING:
                raise _TooLong
            return self._emit(4, self._of(dim.numerator, slots, depth + 1, added), dim.divisor, added)
        total: int | None = None  # a Sym: each term is its coefficient times its atoms, the terms added up
        for monomial, coeff in dim._terms:
            value: int | None = None
            for atom in monomial:
                factor = self._of(atom, slots, depth, added)
                value = factor if value is None else self._emit(3, value, factor, added)
            if value is None:
                value = self._emit(0, coeff, 0, added)
            elif coeff != 1:
                value = self._emit(3, value, self._emit(0, coeff, 0, added), added)
            total = value if total is None else self._emit(2, total, value, added)
        assert total is not None  # a Sym has a term
        return total


class _TooLong(Exception):
    """A condition's sizes need more registers (or floors in floors) than the guard takes."""


def _group_key(constraint: Any) -> Any:
    """Conditions that one check covers: equal ones, and `positive` ones that differ only in their constant."""
    dim = constraint.dims[0] if constraint.dims else None
    if constraint.kind == "positive" and isinstance(dim, Sym):
        return ("positive", tuple(t for t in dim._terms if t[0] != ()))
    return constraint.condition


def _constant_of(constraint: Any) -> int:
    """The constant term of a `positive` condition's size (0 for other kinds: one check each)."""
    dim = constraint.dims[0]
    if constraint.kind != "positive" or not isinstance(dim, Sym):
        return 0
    return dict(dim._terms).get((), 0)


def _first_refusers(members: list[tuple[int, str, Any]], tight: Any) -> list[tuple[int, str, Any]]:
    """The layers that can be the first to refuse a size: in execution order, each with a smaller constant
    than every layer before it (a later layer with a larger one fails only where an earlier one does)."""
    kept: list[tuple[int, str, Any]] = []
    for member in members:
        if not kept or _constant_of(member[2]) < _constant_of(kept[-1][2]):
            kept.append(member)
    return kept


def index_rules(info: ShapeInfo, name: str) -> list[IndexRule]:
    """The embeddings that input `name`'s values reach, directly or through `INDEX_KEEPING_OPS`, in
    execution order, with their `num_embeddings`."""
    return index_rules_by_input(info).get(name, [])


def index_rules_by_input(info: ShapeInfo) -> dict[str, list[IndexRule]]:
    """`index_rules` of every input, in one pass over the graph: an op that keeps indices has one
    input, so the values a node holds come from one input at most (its `root`)."""
    computed = live_nodes(info.graph, kept=False)
    root: dict[str, str] = {name: name for name in info.graph.inputs}
    rules: dict[str, list[IndexRule]] = {}
    for node in info.graph.order:  # a producer runs before its consumers
        if node.name not in computed or not node.inputs:
            continue
        if _is_index_select(node.op) and len(node.inputs) == 2 and node.inputs[1] in root:
            entries = _index_select_entries(info, node.name)
            if entries is not None:
                rules.setdefault(root[node.inputs[1]], []).append((node.name, entries, "index_select"))
        if node.inputs[0] not in root:
            continue
        source = root[node.inputs[0]]
        if _is_embedding(node.op) and node.name in info.nodes:
            count = info.nodes[node.name].args.get("num_embeddings")
            if isinstance(count, int) and not isinstance(count, bool):
                rules.setdefault(source, []).append((node.name, count, "embedding"))
        elif node.op.name in INDEX_KEEPING_OPS and len(node.inputs) == 1 and builtin_ops().get(node.op.name) is node.op:
            root[node.name] = source
    charge("the input guard", len(info.graph.order))
    return rules


def _is_index_select(op: OpDef) -> bool:
    return op.name == "index_select" and builtin_ops().get("index_select") is op


def _index_select_entries(info: ShapeInfo, name: str) -> int | None:
    """The entries `index_select` picks from (its input's size along `dim`), when that size is fixed."""
    node = info.nodes.get(name)
    if node is None or not node.inputs or not node.inputs[0]:
        return None
    shape = node.inputs[0]
    dim = node.args.get("dim", 0)
    if not isinstance(dim, int) or not -len(shape) <= dim < len(shape):
        return None
    size = shape[dim]
    return size if isinstance(size, int) and not isinstance(size, bool) else None


def _is_embedding(op: OpDef) -> bool:
    """Whether the op is torch's `Embedding` or `EmbeddingBag` (built in, or registered with that class)."""
    target = op.target
    if isinstance(target, str):
        return target in {f"torch.nn.{name}" for name in _EMBEDDINGS}
    module = getattr(target, "__module__", "") or ""
    return getattr(target, "__name__", None) in _EMBEDDINGS and module.startswith("torch.nn")
