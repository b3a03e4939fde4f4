"""`mypy --strict netspec`, held to a ratchet: no module may have more errors than tools/mypy-baseline.json
allows, and a module not listed there must have none. The baseline only goes down.

    python tools/check_types.py            # CI: fails when a module has more errors than allowed
    python tools/check_types.py --update   # after fixing errors: lower the baseline to the new counts

When every count is zero the baseline file is empty and this is plain `mypy --strict netspec`.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "tools" / "mypy-baseline.json"
_ERROR = re.compile(r"^(netspec/[^:]+\.py):\d+: error: ")


def error_counts() -> tuple[dict[str, int], str]:
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", "netspec"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    counts: collections.Counter[str] = collections.Counter()
    for line in done.stdout.splitlines():
        match = _ERROR.match(line)
        if match:
            counts[match[1]] += 1
    if done.returncode not in (0, 1) or (done.returncode == 1 and not counts):
        raise SystemExit(f"mypy did not run:\n{done.stdout}{done.stderr}")
    return dict(sorted(counts.items())), done.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--update", action="store_true", help="lower the baseline to the current counts")
    args = parser.parse_args()
    counts, output = error_counts()
    allowed: dict[str, int] = json.loads(BASELINE.read_text()) if BASELINE.exists() else {}
    over = {path: n for path, n in counts.items() if n > allowed.get(path, 0)}
    if args.update:
        if over and BASELINE.exists():
            print("refusing to raise the baseline for: " + ", ".join(sorted(over)), file=sys.stderr)
            return 1
        BASELINE.write_text(json.dumps(counts, indent=2) + "\n")
        print(f"baseline: {sum(counts.values())} errors in {len(counts)} modules")
        return 0
    total, limit = sum(counts.values()), sum(allowed.values())
    print(f"mypy --strict netspec: {total} errors (the baseline allows {limit})")
    if over:
        shown = [line for line in output.splitlines() if _ERROR.match(line) and _ERROR.match(line)[1] in over]  # type: ignore[index]
        print("\n".join(shown))
        for path, n in sorted(over.items()):
            print(f"{path}: {n} errors, {allowed.get(path, 0)} allowed: fix the new ones (mypy output above)")
        return 1
    lower = {path: n for path, n in allowed.items() if counts.get(path, 0) < n}
    if lower:
        print("fewer errors than the baseline in " + ", ".join(sorted(lower)) + ": run with --update to keep it so")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
