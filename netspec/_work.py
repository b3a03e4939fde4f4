"""One work budget for a whole request: every phase a spec can make expensive charges it.

A request is one call of the public API (`load`, `validate`, `build`, `summarize`, `to_dot`,
`export_python`, ...; the calls it makes itself share its budget). Each phase charges units of
work before or as it does the work, in proportion to what the spec made it do: parse (a unit per 8
bytes of text), expansion (its own steps: instances, arguments, names in scope), expressions
(evaluation steps), references and hints (comparisons), init rules (each rule and node matched,
and the glob matcher's work, `Glob.steps`), shape inference (a unit per node and input dimension),
the size lattice (conditions x sizes searched), the input guard (the same, and its conditions over
several symbols), summary (the table's steps: nodes placed, instance sums, rows), drawing and
export (a unit per node and edge). A request
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

__all__ = ["WORK_HINT", "WorkBudget", "charge", "request", "request_limits", "within_budget"]

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
