"""How `summarize` grows with the number of block instances.

Run `python benchmarks/bench_summary.py [--sizes 1000,2000,4000,8000]`. For a block that nests
another, repeated in each layout (sequence, flat, parallel), it prints the CPU time of
`netspec.summarize` from the spec's data (load, one expansion, shape inference, the table), the
time per instance, the table's own step count (`Summary.work`) and, against the previous size,
the ratio of both: a ratio near 2 for each doubling means linear growth.
tests/test_summary.py asserts the step count's ratio; the times are for reading. Times grow a
little faster than the instances (about 2.3x per doubling on a loaded 2-core machine) because
Python's cyclic garbage collector walks the growing heap; under `gc.disable()` the time per
instance is flat (about 185 us from 2,000 to 8,000 instances on that machine).
"""

from __future__ import annotations

import argparse
import resource
import sys
from pathlib import Path

import netspec
from netspec._summary import summarize

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from generated_specs import nested_repeat as repeated  # the spec the tests measure

# 8,000 instances of 3 nodes are past the default node limit: the benchmark raises it.
LIMITS = netspec.Limits(max_graph_nodes=100_000)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,2000,4000,8000", help="instance counts, comma-separated")
    sizes = [int(s) for s in parser.parse_args().sizes.split(",")]
    print(f"{'layout':<10}{'instances':>10}{'cpu s':>9}{'us/inst':>9}{'work':>9}{'x time':>8}{'x work':>8}")
    for layout in ("sequence", "flat", "parallel"):
        previous: tuple[float, int] | None = None
        for count in sizes:
            start = _cpu()
            spec = netspec.load(repeated(count, layout), limits=LIMITS)
            work = summarize(spec, inputs={"x": (1, 8)}).work
            seconds = _cpu() - start
            ratios = f"{seconds / previous[0]:>8.2f}{work / previous[1]:>8.2f}" if previous and previous[0] > 0 else ""
            print(f"{layout:<10}{count:>10}{seconds:>9.3f}{1e6 * seconds / count:>9.1f}{work:>9}{ratios}")
            previous = (seconds, work)


if __name__ == "__main__":
    main()
