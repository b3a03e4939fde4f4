"""Run the spec mutation fuzzer and print its figures.

    python benchmarks/fuzz.py --cases 10000 [--seed 0] [--case-seconds 5] [--save failures/] [--cpu]
    python benchmarks/fuzz.py --grammar --cases 10000 [--seed 0] [--case-seconds 2] [--cpu]

Each case runs every entry point (tests/fuzz/entry_points.py), each call under the deadline; a case
whose peak memory passes 500 MB above the process before it fails too.

Exit status 0 when every case ended in success or a located `SpecError`, 1 otherwise.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "fuzz"))

from fuzzlib import CASE_SECONDS, run_fuzz, seed_files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000, help="number of mutated specs to run (default: 1000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed; a run is deterministic for a seed")
    parser.add_argument("--case-seconds", type=float, default=CASE_SECONDS, help="deadline of one case")
    parser.add_argument("--save", type=Path, help="write each failing case to this folder")
    parser.add_argument("--grammar", action="store_true", help="the grammar-aware fuzzer, on every entry point")
    parser.add_argument("--cpu", action="store_true", help="the deadline counts CPU time (shared machines)")
    args = parser.parse_args(argv)
    if args.grammar:
        return _grammar(args)

    report = run_fuzz(args.cases, seed=args.seed, case_seconds=args.case_seconds, cpu=args.cpu)
    print(f"seed files:       {len(seed_files())}")
    print(f"cases:            {report.cases:,} (seed {args.seed})")
    print(f"accepted:         {report.accepted:,}")
    print(f"refused (located): {report.refused:,}")
    print(f"failures:         {len(report.failures):,}")
    _figures(report)
    kinds = collections.Counter((f.kind, f.detail.strip().splitlines()[-1][:120]) for f in report.failures)
    for (kind, last), count in kinds.most_common():
        print(f"  {count:5} x {kind}: {last}")
    if args.save and report.failures:
        args.save.mkdir(parents=True, exist_ok=True)
        for failure in report.failures:
            (args.save / f"case-{failure.case}.yaml").write_text(failure.text, encoding="utf-8")
            (args.save / f"case-{failure.case}.json").write_text(json.dumps(vars(failure), indent=1), encoding="utf-8")
    return 1 if report.failures else 0


def _figures(report: Any) -> None:
    print(f"time:              {report.seconds:.1f} s ({report.cases / max(report.seconds, 1e-9):,.0f} cases/s)")
    print(f"slowest call:      {report.slowest * 1000:.0f} ms ({report.slowest_call}; the deadline is per call)")
    print(f"slowest case:      {report.slowest_case * 1000:.0f} ms (all its calls together)")
    print(f"memory of a case:  {report.peak_case_mb:.0f} MB at most above the process before it")
    print(f"process peak:      {report.peak_rss_mb:.0f} MB resident (torch included)")


def _grammar(args: argparse.Namespace) -> int:
    from grammar import CASE_SECONDS as GRAMMAR_SECONDS
    from grammar import run_grammar_fuzz

    seconds = args.case_seconds if args.case_seconds != CASE_SECONDS else GRAMMAR_SECONDS
    report = run_grammar_fuzz(args.cases, seed=args.seed, case_seconds=seconds, cpu=args.cpu)
    print(f"cases:             {report.cases:,} (seed {args.seed}, grammar-aware, every entry point)")
    print(f"accepted:          {report.accepted:,}")
    print(f"refused (located): {report.refused:,}")
    print(f"failures:          {len(report.failures):,}")
    _figures(report)
    kinds = collections.Counter(what.strip().splitlines()[-1][:120] for _, what, _ in report.failures)
    for last, count in kinds.most_common():
        print(f"  {count:5} x {last}")
    if args.save and report.failures:
        args.save.mkdir(parents=True, exist_ok=True)
        for case, what, text in report.failures:
            (args.save / f"grammar-{case}.json").write_text(text, encoding="utf-8")
            (args.save / f"grammar-{case}.txt").write_text(what, encoding="utf-8")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
