"""Every public entry point on one spec text, each call under its own deadline, with the memory the
case took: what both fuzzers check of each case.

A case is the spec text through `loads`, `validate`, `count_params`, `summarize`, `infer_shapes`,
`to_mermaid`, `to_dot`, `build` and `export_python`, each one request (its own work budget). It
ends `accepted` when every call succeeds and `refused` at the first `SpecError`, which must have a
line for every error. Each call must return within `seconds` (wall-clock time, or with `cpu` the
process's CPU time, a fair deadline on a machine shared with other jobs); the case's memory is the
process's peak resident size during the case above its resident size before it (Linux: freed heap
is given back before the case and the peak is reset, so each case is measured on its own).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import dataclasses
import re
import resource
import signal
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import netspec

MAX_PARAMS = 5_000_000  # build's memory budget in the fuzzers: a few tens of MB at most
MAX_CASE_MB = 500.0

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")
_LIBC_NAME = ctypes.util.find_library("c")
_LIBC = ctypes.CDLL(_LIBC_NAME) if _LIBC_NAME else None


class Deadline(Exception):
    """A call ran past its deadline."""


class OverMemory(Exception):
    """A case's peak memory passed `MAX_CASE_MB`."""


@dataclasses.dataclass
class CaseFigures:
    outcome: str = ""  # accepted or refused
    slowest_call: str = ""
    slowest_seconds: float = 0.0
    total_seconds: float = 0.0
    peak_mb: float = 0.0
    process_peak_mb: float = 0.0  # the process's peak resident size during the case, torch included


def _on_alarm(signum: int, frame: Any) -> None:
    raise Deadline


def _calls() -> list[tuple[str, Callable[[Any], Any]]]:
    return [
        ("validate", netspec.validate),
        ("count_params", netspec.count_params),
        ("summarize", netspec.summarize),
        ("infer_shapes", netspec.infer_shapes),
        ("to_mermaid", netspec.to_mermaid),
        ("to_dot", netspec.to_dot),
        ("build", lambda spec: netspec.build(spec, max_params=MAX_PARAMS)),
        ("export_python", lambda spec: netspec.export_python(spec, max_params=MAX_PARAMS)),
    ]


def _status_mb(field: str) -> float:
    match = re.search(rf"^{field}:\s+(\d+) kB", _STATUS.read_text(), re.MULTILINE)
    return int(match.group(1)) / 1024 if match else 0.0


def _reset_peak() -> float:
    """Give freed heap back, reset the peak; the resident size now, in MB (0 off Linux)."""
    if _LIBC is not None and hasattr(_LIBC, "malloc_trim"):
        _LIBC.malloc_trim(0)
    if not _CLEAR_REFS.exists():
        return 0.0
    _CLEAR_REFS.write_text("5")
    return _status_mb("VmRSS")


def _peak_since_reset() -> float:
    if not _STATUS.exists():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return _status_mb("VmHWM")


def _timed(call: Callable[[], Any], seconds: float, cpu: bool) -> tuple[float, netspec.SpecError | None]:
    """The time `call` took and the `SpecError` it raised, if any; `Deadline` past `seconds`."""
    timer, signum = (signal.ITIMER_PROF, signal.SIGPROF) if cpu else (signal.ITIMER_REAL, signal.SIGALRM)
    clock = time.process_time if cpu else time.perf_counter
    previous = signal.signal(signum, _on_alarm)
    began = clock()
    signal.setitimer(timer, seconds)
    try:
        call()
    except netspec.SpecError as err:
        return clock() - began, err
    finally:
        signal.setitimer(timer, 0)
        signal.signal(signum, previous)
    return clock() - began, None


def add_case(report: Any, figures: CaseFigures) -> None:
    """Count one case into a fuzzer's report (its slowest call, slowest case and memory so far)."""
    if figures.slowest_seconds > report.slowest:
        report.slowest, report.slowest_call = figures.slowest_seconds, figures.slowest_call
    report.slowest_case = max(report.slowest_case, figures.total_seconds)
    report.peak_case_mb = max(report.peak_case_mb, figures.peak_mb)
    report.peak_rss_mb = max(report.peak_rss_mb, figures.process_peak_mb)
    report.cases += 1
    report.accepted += figures.outcome == "accepted"
    report.refused += figures.outcome == "refused"


def warm_up() -> None:
    """Import what build and export import on first use, before any case is measured: an alarm in
    the middle of importing torch would leave it half-registered for every later case, and the
    first case would be charged torch's import."""
    import torch  # noqa: F401

    netspec.export_python("lenet5")
    netspec.summarize("lenet5")
    netspec.to_dot("lenet5")


def run_entry_points(text: str | bytes, seconds: float, *, cpu: bool = False) -> CaseFigures:
    """Every entry point on `text`; raises `Deadline`, `OverMemory`, or on a broken invariant."""
    figures = CaseFigures()
    before = _reset_peak()
    holder: dict[str, Any] = {}
    calls: list[tuple[str, Callable[[], Any]]] = [("loads", lambda: holder.update(spec=netspec.loads(text)))]
    calls += [(name, (lambda f=f: f(holder["spec"]))) for name, f in _calls()]
    figures.outcome = "accepted"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's own warnings are not what the fuzzers look for
        for name, call in calls:
            try:
                spent, error = _timed(call, seconds, cpu)
            except Deadline:
                raise Deadline(f"{name} over {seconds} s") from None
            figures.total_seconds += spent
            if spent > figures.slowest_seconds:
                figures.slowest_call, figures.slowest_seconds = name, spent
            if error is not None:
                unlocated = [d for d in error.errors if d.line is None]
                if unlocated:
                    raise AssertionError(f"{name}: error without a line: {unlocated[0]}")
                figures.outcome = "refused"
                break
    holder.clear()
    figures.process_peak_mb = _peak_since_reset()
    figures.peak_mb = max(0.0, figures.process_peak_mb - before) if before else 0.0
    if figures.peak_mb > MAX_CASE_MB:
        raise OverMemory(f"{figures.peak_mb:.0f} MB over the {before:.0f} MB before the case")
    return figures
