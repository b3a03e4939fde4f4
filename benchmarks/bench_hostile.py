"""How long hostile specs take to be refused: the timings the tests do not assert.

The tests (tests/security, tests/test_load.py, tests/test_expr.py) assert the properties behind these
figures without a clock: call counts, growth ratios between sizes, peak memory. This script prints the
milliseconds, the median of a few runs each, for a reader who wants the figures on their machine.

    python benchmarks/bench_hostile.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from _common import ROOT
from bench_load import median_ms

sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "security")]

import netspec  # noqa: E402
from netspec._expr import compile_value  # noqa: E402
from netspec._load import parse_text  # noqa: E402


def _refused(run: Callable[[], object]) -> Callable[[], None]:
    def once() -> None:
        try:
            run()
        except Exception:  # noqa: BLE001 - each case is refused; only its time matters here
            return
        raise AssertionError("a hostile case was accepted")

    return once


def cases() -> dict[str, Callable[[], None]]:
    from test_limits import EXPANSION_BOMBS, billion_laughs

    found: dict[str, Callable[[], None]] = {
        "billion laughs (parse)": _refused(lambda: parse_text(billion_laughs(), file="laughs.yaml")),
        "nesting 10^6 deep (parse)": _refused(lambda: parse_text("[" * 10**6 + "]" * 10**6)),
        "10 MB text (parse)": _refused(lambda: parse_text("a: " + "x" * 10_000_000)),
        "expression 10^9 long": _refused(lambda: compile_value("${[0] * 10 ** 9}").evaluate({})),  # type: ignore[union-attr]
    }
    for name, text in EXPANSION_BOMBS.items():
        found[f"expansion: {name}"] = _refused(lambda text=text: netspec.loads(text))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"{'case':<52}{'ms':>10}")
    for name, run in cases().items():
        print(f"{name:<52}{median_ms(run, args.repeats):>10.1f}")


if __name__ == "__main__":
    main()
