"""One work budget for a whole request: every phase a spec can make expensive charges it.

A request is one call of the public API (`load`, `validate`, `build`, `summarize`, `to_dot`,
`export_python`, ...; the calls it makes itself share its budget). Each phase charges units of
work before or as it does the work, in proportion to what the spec made it do: parse (bytes of
text, keys and values), expansion (instances, arguments, names in scope), expressions (evaluation
steps), references and hints (comparisons), init rules (each rule and node matched, and the glob matcher's work), shape inference (nodes
and input dimensions), the size lattice (conditions x sizes searched, sizes listed), the input guard
(the same, and its conditions over several symbols), summary (the table's steps), drawing and export (nodes and edges). Each turns its steps
into units at a rate measured on its CPU cost (below), so that a unit is about the same time in
every phase: about 0.5 us, and the default `Limits.max_work` about 2 s of CPU. A request
that passes its limit (`Limits.max_work`: of the `limits=` it is given, else of the `Spec` or
`Graph` it is called on, else the default) ends in a `SpecError` (`NS134`) that names the phase
that grew and where, before the work is done when the phase charges ahead.

Outside a request (an internal function called directly), charges are not counted.
"""

from __future__ import annotations

import collections
import contextlib
import contextvars
import functools
import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from ._errors import Diagnostic, SourceMap, Span, SpecError
from ._limits import DEFAULT_LIMITS, Limits

__all__ = ["WORK_HINT", "WorkBudget", "charge", "per_unit", "request", "request_limits", "within_budget"]

# --- what a unit stands for ------------------------------------------------------------------------
# A unit is about 0.5 us of CPU (a 2-core machine under load, measured by benchmarks/bench_work.py with
# a spec that makes each phase dominate): each phase turns the steps it counts into units at the rate
# below, so that `Limits.max_work` bounds a request's time whatever phase a spec makes grow. The rates
# are rounded so that no phase costs more than about 0.5 us a unit; a cheaper one is charged a little
# more than it costs.
PARSE_BYTES_PER_UNIT = 32  # reading text (comments, long strings): about 0.01 us a byte
PARSE_UNITS_PER_VALUE = 12  # composing a YAML key or value, and checking it in the spec: 4 to 6 us
PARSE_UNITS_PER_NODE = 24  # a node the spec writes out, validated and its names checked: about 12 us more
EXTENDS_UNITS_PER_NODE = 8  # merging a node (or `remove` entry) of an `extends` chain: about 3 us
EXPANSION_UNITS_PER_STEP = 3  # an expansion step (`_graph.NODE_UNITS` a node instance, ...): 1 to 1.5 us
# An expression step (`_expr`) is an operation evaluated, about 0.8 us, or an item or character of a
# value it makes or compares, about 0.1 us (texts and lists are made in C): a unit each, so an
# expansion's expressions, at most `_graph.MAX_EXPRESSION_WORK` steps, cost at most about 1.5 s.
EXPRESSION_UNITS_PER_STEP = 1
HINT_UNITS_PER_COMPARISON = 6  # a name compared for a did-you-mean hint: about 2.8 us
INIT_STEPS_PER_UNIT = 20  # the init-rule matcher counts steps of about 22 ns (`Glob.steps`, `RULE_UNITS`)
SHAPE_UNITS_PER_DIM = 12  # shape inference (layouts and dtypes too), per node and input dimension: 5 us (Conv2d)
# The size lattice evaluates each condition over a vector of sizes: with numpy (searches from
# `NUMPY_SEARCH_FROM` sizes) about 25 ns a condition and size, with lists 5 times that; and per size
# searched it lists and filters the sizes in Python, about 0.3 us, as much as 12 numpy evaluations.
LATTICE_EVALUATIONS_PER_UNIT = 20
LATTICE_LIST_EVALUATION = 5
LATTICE_SIZE_EVALUATIONS = 12
GUARD_EVALUATIONS_PER_UNIT = 2  # the input guard's search, a condition at a size (lists): about 0.22 us
SUMMARY_UNITS_PER_STEP = 12  # a step of the summary's table (`Summary.work`): about 5.5 us
DRAWING_UNITS_PER_ITEM = {"mermaid": 48, "dot": 12}  # a node or an edge drawn: 21 us (Mermaid), 5.4 us (DOT)
EXPORT_UNITS_PER_ITEM = 36  # a node or an edge of the Python source written: about 15 us


def per_unit(steps: int, steps_per_unit: int) -> int:
    """The units `steps` cost at `steps_per_unit` steps a unit, rounded up (a step is never free)."""
    return -(-steps // steps_per_unit)


WORK_HINT = (
    "make the spec smaller where it grew (fewer repeats, rules or nodes), or raise `netspec.Limits(max_work=...)`"
    " (`--max-work` on the command line)"
)


class WorkBudget:
    """The units of work a request has spent, by phase."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.total = 0
        self.spent: collections.Counter[str] = collections.Counter()


_current: contextvars.ContextVar[WorkBudget | None] = contextvars.ContextVar("netspec_work", default=None)


@contextlib.contextmanager
def request(limit: int | None = None) -> Iterator[WorkBudget]:
    """The budget of the current request: a new one of `limit` units (default: `Limits().max_work`) at the
    outermost call, the caller's inside it."""
    budget = _current.get()
    if budget is not None:
        yield budget
        return
    budget = WorkBudget(DEFAULT_LIMITS.max_work if limit is None else limit)
    token = _current.set(budget)
    try:
        yield budget
    finally:
        _current.reset(token)


_F = TypeVar("_F", bound=Callable[..., Any])


def request_limits(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Limits | None:
    """The limits a call of the public API runs under: its `limits=` keyword, else those the source
    it is called on carries (a `Spec` or a `Graph`, given first or as `source=`); None for a path,
    a bundled name or a mapping (the defaults apply)."""
    given = kwargs.get("limits")
    if isinstance(given, Limits):
        return given
    source = args[0] if args else kwargs.get("source")
    plain = source is None or isinstance(source, (str, bytes, os.PathLike, Mapping))  # no limits of their own
    carried = None if plain else getattr(source, "limits", None)
    return carried if isinstance(carried, Limits) else None


def within_budget(function: _F) -> _F:
    """Run `function` as a request (or inside the caller's), under the limits of `request_limits`."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        limits = request_limits(args, kwargs)
        with request(None if limits is None else limits.max_work):
            return function(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def charge(
    phase: str, units: int, *, where: Callable[[], tuple[SourceMap | None, Span | None, str]] | None = None
) -> None:
    """Spend `units` of the current request's budget on `phase`; past the limit, a `SpecError`.

    `where` gives, only when the budget is exceeded, the spec's sources, the span and the dotted path
    of what grew (the node, the rule, the input), for the diagnostic's location.
    """
    budget = _current.get()
    if budget is None or units <= 0:
        return
    budget.total += units
    budget.spent[phase] += units
    if budget.total <= budget.limit:
        return
    sources, span, path = where() if where is not None else (None, None, "")
    biggest = ", ".join(f"{name} {spent:,}" for name, spent in budget.spent.most_common(3))
    diagnostic = Diagnostic(
        f"the request needs more than {budget.limit:,} units of work: {phase} grew past the budget ({biggest})",
        path=path,
        hint=WORK_HINT,
        code="NS134",
    ).located(span or Span(None, 1, 1, 1, 2))
    budget.total = budget.limit  # the error is raised once; what runs while it unwinds is not charged again
    budget.limit = 2**62
    raise SpecError([diagnostic], sources)
