"""Work measured without a clock, for tests that protect speed: the Python functions a callable calls
(and the builtins it calls), counted by a profile hook. The same input gives the same count on any
machine, under coverage or not; ratios of counts at two sizes show how work grows with the input."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any


def calls(run: Callable[[], Any]) -> tuple[int, BaseException | None]:
    """How many calls `run` makes (Python functions and builtins), and what it raised."""
    count = 0

    def profile(frame: Any, event: str, arg: Any) -> None:
        nonlocal count
        if event in ("call", "c_call"):
            count += 1

    error: BaseException | None = None
    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        run()
    except Exception as exc:  # the caller checks what was raised
        error = exc
    finally:
        sys.setprofile(previous)
    return count, error


def growth(make: Callable[[int], Callable[[], Any]], small: int, large: int) -> float:
    """How much more work `make(large)` does than `make(small)`, as a ratio of call counts, each
    measured cold: the process-wide cache of layouts is emptied first (a smaller spec whose shapes a
    larger one made before would otherwise find them all computed)."""
    return _cold(make(large)) / max(1, _cold(make(small)))


def _cold(run: Callable[[], Any]) -> int:
    from netspec._dims import _contiguous_strides

    _contiguous_strides.cache_clear()
    return calls(run)[0]
