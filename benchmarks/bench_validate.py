"""The `netspec validate` command from a cold start, as pre-commit and CI run it: a new process each time.

Run `python benchmarks/bench_validate.py [--repeats N]`. It times, interleaved in one run:

- `netspec validate specs/resnet18.yaml` (one spec) and `netspec validate specs/` (the bundled folder),
  each in a new process, with the peak resident memory of that process;
- the references: a bare `python -c pass` (interpreter start-up) and `python -c "import torch"` (what
  the command cost when it imported torch).

Each command runs twice over: as this environment runs it (where `PYTHONDONTWRITEBYTECODE` is set, as
on the development machines, every netspec module is compiled from source at each start), and as
installed (bytecode compiled once, as `pip install` does; kept in a private `PYTHONPYCACHEPREFIX`).

Then each bundled spec on its own: a new process imports netspec, validates a one-layer spec (the
one-time set-up: the op catalog, the first model validation) and times validating that spec alone,
wall and CPU. The specs torchvision's newer models are written as must each take under 30 ms.

Medians of wall and CPU time are printed, with the wall-time ratio to the bare interpreter. Targets:
one spec <= 0.3 s and 100 MB, the folder <= 0.5 s, each new bundled spec < 30 ms. On a shared, busy
machine the wall time includes waiting for a core; the CPU time does not. The test suite checks the
properties behind the figures instead (tests/test_validate_work.py: work counted; tests/test_signatures.py:
no torch in `sys.modules` after validating).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"validate resnet18": (0.3, 100.0), "validate specs/": (0.5, None)}
SPEC_TARGET_MS = 30.0
NEW_SPECS = ("vit_b_16", "convnext_tiny", "efficientnet_b0", "shufflenet_v2_x1_0", "deeplabv3_resnet50", "swin_t")

_WARMUP_SPEC = """netspec: 1
name: warmup
inputs: {x: [N, 4]}
nodes:
  fc: {op: Linear, out_features: 2}
"""

_ONE_SPEC = """
import contextlib, io, json, sys, time
from netspec._cli import main

def check(path):
    with contextlib.redirect_stdout(io.StringIO()):
        return main(["validate", path])

check(sys.argv[1])
start, cpu = time.perf_counter(), time.process_time()
code = check(sys.argv[2])
print(json.dumps([time.perf_counter() - start, time.process_time() - cpu, code]))
"""


def _run(command: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system) and peak RSS (MB) of one new process."""
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise SystemExit(f"{' '.join(command)} exited {code}")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024  # kB on Linux


def _environments(cache: str) -> dict[str, dict[str, str]]:
    inherited = dict(os.environ)
    installed = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    installed["PYTHONPYCACHEPREFIX"] = cache
    source = "netspec from source" if os.environ.get("PYTHONDONTWRITEBYTECODE") else "bytecode as found"
    return {f"as run ({source})": inherited, "as installed (bytecode)": installed}


def _commands(python: str, torch_reference: bool) -> dict[str, list[str]]:
    cases = {
        "python -c pass": [python, "-c", "pass"],
        "validate resnet18": [python, "-m", "netspec", "validate", "specs/resnet18.yaml"],
        "validate specs/": [python, "-m", "netspec", "validate", "specs"],
    }
    if torch_reference:
        cases["python -c 'import torch'"] = [python, "-c", "import torch"]
    return cases


def _cold_commands(args: argparse.Namespace, cache: str) -> bool:
    """The whole commands, in new processes, in each environment; True when a target is missed."""
    cases = _commands(sys.executable, not args.no_torch_reference)
    runs = {
        (mode, name): (env, command) for mode, env in _environments(cache).items() for name, command in cases.items()
    }
    for env, command in runs.values():  # warm the file cache; compile the bytecode of the installed runs
        _run(command, env)
    results: dict[tuple[str, str], list[tuple[float, float, float]]] = {key: [] for key in runs}
    keys = list(runs)
    for i in range(args.repeats):
        for key in keys if i % 2 == 0 else reversed(keys):
            results[key].append(_run(runs[key][1], runs[key][0]))
    count = len(list((ROOT / "specs").glob("*.yaml")))
    failed = False
    print(f"{'case':<28} {'wall s':>8} {'cpu s':>8} {'x python':>9} {'peak MB':>8}  target (wall)")
    for mode in dict.fromkeys(m for m, _ in keys):
        print(f"-- {mode}")
        base = statistics.median(t for t, _, _ in results[(mode, "python -c pass")])
        for name in cases:
            seconds = statistics.median(t for t, _, _ in results[(mode, name)])
            cpu = statistics.median(c for _, c, _ in results[(mode, name)])
            memory = max(m for _, _, m in results[(mode, name)])
            target = TARGETS.get(name)
            verdict = ""
            if target is not None:
                over = seconds > target[0] or (target[1] is not None and memory > target[1])
                failed |= over
                limit = f"<= {target[0]} s" + (f", {target[1]:.0f} MB" if target[1] is not None else "")
                verdict = f"{limit} {'OVER TARGET' if over else 'ok'}"
            label = f"{name} ({count} specs)" if name == "validate specs/" else name
            print(f"{label:<28} {seconds:>8.3f} {cpu:>8.3f} {seconds / base:>9.1f} {memory:>8.1f}  {verdict}")
    return failed


def _each_spec(args: argparse.Namespace, folder: str) -> bool:
    """Each bundled spec validated alone after the one-time set-up, in a new process per run."""
    warmup = Path(folder) / "warmup.yaml"
    warmup.write_text(_WARMUP_SPEC, encoding="utf-8")
    specs = sorted((ROOT / "specs").glob("*.yaml"))
    times: dict[str, list[tuple[float, float]]] = {p.stem: [] for p in specs}
    for i in range(args.spec_repeats):
        for path in specs if i % 2 == 0 else reversed(specs):
            command = [sys.executable, "-c", _ONE_SPEC, str(warmup), str(path.relative_to(ROOT))]
            done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
            wall, cpu, _ = json.loads(done.stdout.strip().splitlines()[-1])
            times[path.stem].append((wall, cpu))
    failed = False
    print(f"\n{'bundled spec, validated alone':<32} {'wall ms':>8} {'cpu ms':>8}  target")
    for name, runs in times.items():
        wall = statistics.median(w for w, _ in runs) * 1e3
        cpu = statistics.median(c for _, c in runs) * 1e3
        verdict = ""
        if name in NEW_SPECS:
            over = wall >= SPEC_TARGET_MS
            failed |= over
            verdict = f"< {SPEC_TARGET_MS:.0f} ms {'OVER TARGET' if over else 'ok'}"
        print(f"{name:<32} {wall:>8.1f} {cpu:>8.1f}  {verdict}")
    total = sum(statistics.median(c for _, c in runs) for runs in times.values()) * 1e3
    print(f"{'sum':<32} {'':>8} {total:>8.1f}")
    return failed


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--spec-repeats", type=int, default=None, help="runs per spec alone (default: --repeats)")
    parser.add_argument("--no-torch-reference", action="store_true", help="skip timing `import torch`")
    parser.add_argument("--no-specs", action="store_true", help="skip timing each spec alone")
    args = parser.parse_args(argv)
    if args.spec_repeats is None:
        args.spec_repeats = args.repeats
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="bench-validate-") as folder:
        failed = _cold_commands(args, folder)
        if not args.no_specs:
            failed |= _each_spec(args, folder)
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
