"""Time to build ResNet-18 from its spec against constructing the hand-written reference, and the
cost per node of every entry point on a 10,000-node spec.

    python benchmarks/bench_build.py [--repeats 20] [--threads 2] [--profile] [--nodes 10000] [--node-repeats 3]

Both include creating and initialising every parameter (the reference's own init loop; netspec's
init rules). netspec's time also covers validation, shape inference and fx code
generation. Bundled specs are read once per process; the second line re-reads the file on every
build, as the first build in a process does. Runs alternate; the figure is the median per-repeat ratio (target <= 1.2).
`--profile` prints the top of a cProfile of netspec's build.

The per-node table: for a repeat of `--nodes` nodes (`ReLU`, which has no parameters, and a 1x1
`Conv2d`, whose construction and initialisation are torch's), each entry point's CPU time
(`time.process_time`, the median over `--node-repeats` rounds that take the entry points in turn,
rotating the order) divided by the number of nodes, and the growth of the process's peak resident
memory over the run before it (`VmHWM`, its peak reset first where Linux allows). `--nodes 0` skips it.
`export/build` is the median ratio of the two per round.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import pstats
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from _common import interleaved, reference_models, report

import netspec

TARGET = 1.2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--nodes", type=int, default=10_000, help="nodes of the per-node table (0: skip it)")
    parser.add_argument("--node-repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    refs = reference_models()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.repeats} interleaved repeats")
    times_a, times_b = interleaved(lambda: netspec.build("resnet18"), refs.resnet18, repeats=args.repeats)
    report("build resnet18", times_a, times_b, TARGET)

    def cold_build() -> None:  # parse and check the spec file again, as the first build in a process does
        netspec._api._bundled.cache_clear()
        netspec.build("resnet18")

    times_a, times_b = interleaved(cold_build, refs.resnet18, repeats=args.repeats)
    report("build resnet18, spec re-read", times_a, times_b, TARGET)
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(netspec.build, "resnet18")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    if args.nodes:
        per_node(args.nodes, args.node_repeats)


ENTRY_POINTS: dict[str, Callable[[Any], object]] = {
    "loads": netspec.loads,
    "validate": netspec.validate,
    "count_params": netspec.count_params,
    "summarize": netspec.summarize,
    "to_mermaid": netspec.to_mermaid,
    "to_dot": netspec.to_dot,
    "build": netspec.build,
    "export_python": netspec.export_python,
}


def _repeat_spec(op: dict[str, Any], nodes: int) -> str:
    return json.dumps(
        {"netspec": 1, "name": "flat", "inputs": {"x": ["N", 4, 2, 2]}, "nodes": {"b": {**op, "repeat": nodes}}}
    )


def _peak_kib() -> int | None:
    """The process's peak resident memory (VmHWM), KiB; None where /proc has no such line."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    """Reset VmHWM to the current resident size (Linux: write 5 to clear_refs)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def per_node(nodes: int, repeats: int) -> None:
    ops = {"ReLU": {"op": "ReLU"}, "Conv2d 1x1": {"op": "Conv2d", "out_channels": 4, "kernel_size": 1}}
    netspec.export_python("lenet5")  # imports and first-call caches out of the way
    print(f"\nper node, {nodes:,} nodes, CPU time, median of {repeats} interleaved rounds")
    print(f"{'spec':<12}{'entry point':<15}{'us/node':>9}{'total s':>9}{'peak +MB':>10}")
    for label, op in ops.items():
        text = _repeat_spec(op, nodes)
        spec = netspec.loads(text)
        names = list(ENTRY_POINTS)
        times: dict[str, list[float]] = {name: [] for name in names}
        peaks: dict[str, list[float]] = {name: [] for name in names}
        for round_ in range(repeats):
            shift = round_ % len(names)
            for name in names[shift:] + names[:shift]:
                gc.collect()
                reset = _reset_peak()
                before = _peak_kib()
                start = time.process_time()
                result = ENTRY_POINTS[name](text if name == "loads" else spec)
                times[name].append(time.process_time() - start)
                after = _peak_kib()
                if reset and before is not None and after is not None:
                    peaks[name].append((after - before) / 1024)
                del result
        for name in names:
            seconds = statistics.median(times[name])
            peak = f"{max(peaks[name]):>10.1f}" if peaks[name] else f"{'n/a':>10}"
            print(f"{label:<12}{name:<15}{1e6 * seconds / nodes:>9.1f}{seconds:>9.3f}{peak}")
        ratio = statistics.median(e / b for e, b in zip(times["export_python"], times["build"]))
        print(f"{label:<12}{'export/build':<15}{ratio:>9.2f}")


if __name__ == "__main__":
    main()
