"""Helpers shared by the benchmarks: the reference models, interleaved timing, medians."""

from __future__ import annotations

import importlib.util
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def reference_models() -> ModuleType:
    """tests/reference_models.py, imported by path (the hand-written modules)."""
    spec = importlib.util.spec_from_file_location("reference_models", ROOT / "tests" / "reference_models.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def interleaved(
    a: Callable[[], object], b: Callable[[], object], *, repeats: int, warmup: int = 2
) -> tuple[list[float], list[float]]:
    """Seconds per call of `a` and `b`, alternating A, B, B, A, ... so drift hits both alike."""
    for _ in range(warmup):
        a()
        b()
    times_a, times_b = [], []
    for i in range(repeats):
        order = ((a, times_a), (b, times_b)) if i % 2 == 0 else ((b, times_b), (a, times_a))
        for fn, times in order:
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return times_a, times_b


def report(label: str, times_a: list[float], times_b: list[float], target: float) -> float:
    """Print medians and the median of per-repeat ratios A/B; returns that ratio."""
    ratio = statistics.median(x / y for x, y in zip(times_a, times_b))
    verdict = "ok" if ratio <= target else "OVER TARGET"
    print(
        f"{label}: netspec {statistics.median(times_a) * 1e3:.2f} ms, reference {statistics.median(times_b) * 1e3:.2f} ms, "
        f"median ratio {ratio:.3f} (target <= {target}) {verdict}"
    )
    return ratio
