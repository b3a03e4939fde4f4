"""The `netspec validate` command from a cold start, as pre-commit and CI run it: a new process each time.

Run `python benchmarks/bench_validate.py [--repeats N]`. It times, interleaved in one run:

- `netspec validate specs/resnet18.yaml` (one spec) and `netspec validate specs/` (the bundled folder),
  each in a new process, with the peak resident memory of that process;
- the references: a bare `python -c pass` (interpreter start-up) and `python -c "import torch"` (what
  the command cost when it imported torch).

Medians of wall and CPU time are printed with the wall-time ratio to the bare interpreter. Targets: one spec <= 0.3 s and 100 MB,
the folder <= 0.5 s. The test suite checks the property behind them instead (`sys.modules` holds
no torch after validating: tests/test_signatures.py).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"validate resnet18": (0.3, 100.0), "validate specs/": (0.5, None)}


def _run(command: list[str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system) and peak RSS (MB) of one new process.

    On a shared, busy machine the wall time includes waiting for a core; the CPU time does not.
    """
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} exited {process.returncode}")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024  # kB on Linux


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--no-torch-reference", action="store_true", help="skip timing `import torch`")
    args = parser.parse_args(argv)
    python = sys.executable
    cases = {
        "python -c pass": [python, "-c", "pass"],
        "validate resnet18": [python, "-m", "netspec", "validate", "specs/resnet18.yaml"],
        "validate specs/": [python, "-m", "netspec", "validate", "specs"],
    }
    if not args.no_torch_reference:
        cases["python -c 'import torch'"] = [python, "-c", "import torch"]
    for command in cases.values():  # warm the file cache
        _run(command)
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in cases}
    names = list(cases)
    for i in range(args.repeats):
        for name in names if i % 2 == 0 else reversed(names):
            results[name].append(_run(cases[name]))
    base = statistics.median(t for t, _, _ in results["python -c pass"])
    failed = False
    print(f"{'case':<28} {'wall s':>8} {'cpu s':>8} {'x python':>9} {'peak MB':>8}  target (wall)")
    for name in names:
        seconds = statistics.median(t for t, _, _ in results[name])
        cpu = statistics.median(c for _, c, _ in results[name])
        memory = max(m for _, _, m in results[name])
        target = TARGETS.get(name)
        verdict = ""
        if target is not None:
            over = seconds > target[0] or (target[1] is not None and memory > target[1])
            failed |= over
            limit = f"<= {target[0]} s" + (f", {target[1]:.0f} MB" if target[1] is not None else "")
            verdict = f"{limit} {'OVER TARGET' if over else 'ok'}"
        print(f"{name:<28} {seconds:>8.3f} {cpu:>8.3f} {seconds / base:>9.1f} {memory:>8.1f}  {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
