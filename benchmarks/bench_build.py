"""Time to build ResNet-18 from its spec against constructing the hand-written reference.

    python benchmarks/bench_build.py [--repeats 20] [--threads 2] [--profile]

Both include creating and initialising every parameter (the reference's own init loop; netspec's
init rules). netspec's time also covers validation, shape inference and fx code
generation. Bundled specs are read once per process; the second line re-reads the file on every
build, as the first build in a process does. Runs alternate; the figure is the median per-repeat ratio (target <= 1.2).
`--profile` prints the top of a cProfile of netspec's build.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats

import torch
from _common import interleaved, reference_models, report

import netspec

TARGET = 1.2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--profile", action="store_true")
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


if __name__ == "__main__":
    main()
