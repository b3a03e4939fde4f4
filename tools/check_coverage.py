"""Fail when a module of netspec is under its line-coverage floor.

Reads the JSON report that `pytest --cov=netspec --cov-report=json:coverage.json` writes and names
every module whose line coverage is under the floor (90% unless given).

    python tools/check_coverage.py [coverage.json] [--floor PERCENT]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def below_floor(report: dict[str, object], floor: float) -> list[tuple[str, float]]:
    """The modules of the report under `floor` percent line coverage, with their coverage, by name."""
    files = report.get("files")
    if not isinstance(files, dict):
        raise ValueError("the coverage report has no 'files' mapping")
    low: list[tuple[str, float]] = []
    for name, entry in sorted(files.items()):
        summary = entry.get("summary", {}) if isinstance(entry, dict) else {}
        statements = summary.get("num_statements", 0)
        covered = summary.get("covered_lines", 0)
        if not statements:
            continue
        percent = 100.0 * covered / statements
        if percent < floor:
            low.append((str(name), percent))
    return low


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("report", nargs="?", default="coverage.json", type=Path)
    parser.add_argument("--floor", type=float, default=90.0)
    args = parser.parse_args(argv)
    try:
        report = json.loads(args.report.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        print(f"{args.report}: cannot read the coverage report: {error}", file=sys.stderr)
        return 2
    if not isinstance(report, dict):
        print(f"{args.report}: not a coverage JSON report", file=sys.stderr)
        return 2
    try:
        low = below_floor(report, args.floor)
    except ValueError as error:
        print(f"{args.report}: {error}", file=sys.stderr)
        return 2
    for name, percent in low:
        print(f"{name}: {percent:.1f}% line coverage, under {args.floor:g}%", file=sys.stderr)
    if low:
        print(f"{len(low)} module(s) under {args.floor:g}% line coverage", file=sys.stderr)
        return 1
    print(f"every module at or over {args.floor:g}% line coverage")
    return 0


if __name__ == "__main__":
    sys.exit(main())
