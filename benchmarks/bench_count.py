"""Counting the parameters of a 10^10-parameter spec: time and memory, nothing allocated.

    python benchmarks/bench_count.py

Three Linear(100000, 100000) layers (30,000,300,000 parameters, 120 GB in float32). Targets:
under 2 s and under 500 MB (Python heap peak by tracemalloc; process peak RSS by getrusage).
"""

from __future__ import annotations

import resource
import sys
import time
import tracemalloc

import netspec

SPEC = {
    "netspec": 1,
    "name": "huge",
    "inputs": {"x": ["N", 100_000]},
    "nodes": {f"fc{i}": {"op": "Linear", "out_features": 100_000} for i in range(1, 4)},
}


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KiB on Linux


def main() -> None:
    rss_before = _peak_rss_mb()
    tracemalloc.start()
    start = time.perf_counter()
    count = netspec.count_params(SPEC)
    elapsed = time.perf_counter() - start
    heap_peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    print(f"count_params: {count:,} parameters in {elapsed * 1e3:.1f} ms (target < 2000 ms)")
    print(f"Python heap peak (tracemalloc): {heap_peak:.2f} MB (target < 500 MB)")
    print(f"process peak RSS: {_peak_rss_mb():.0f} MB (before counting: {rss_before:.0f} MB; includes torch itself)")
    ok = elapsed < 2 and heap_peak < 500 and _peak_rss_mb() < 500 + rss_before
    print("ok" if ok else "OVER TARGET")


if __name__ == "__main__":
    main()
