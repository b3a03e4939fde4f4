"""Check that the pre-commit hook installs and runs in a small environment without torch.

pre-commit runs a `language: python` hook in a virtual environment of its own, made by installing
the hook's repository with pip (no extras). This script does the same: a fresh venv, `pip install`
of this repository, then the hook's `entry` (read from .pre-commit-hooks.yaml) on the bundled specs
and on YAML files that are not specs. It fails (exit 1) when the hook fails, when torch was
installed, or when the environment is larger on disk than the limit (150 MB by default).

With `--pre-commit` it runs the real `pre-commit try-repo` instead (pre-commit must be installed),
with a fresh PRE_COMMIT_HOME, and measures the environment pre-commit made.

    python tools/check_hook_env.py [--limit-mb 150] [--pre-commit] [--keep]
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
LIMIT_MB = 150


def _size(folder: Path) -> int:
    total = 0
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            total += path.stat().st_size
    return total


def _run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    print("$ " + shlex.join(command), flush=True)
    return subprocess.run(command, check=False, text=True, capture_output=True, **kwargs)  # type: ignore[call-overload]


def _entry() -> list[str]:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    (hook,) = [h for h in hooks if h["id"] == "netspec-validate"]
    return shlex.split(hook["entry"])


def _files(work: Path) -> list[str]:
    """The bundled specs, and YAML files the hook receives that are not specs."""
    other = work / "files"
    other.mkdir()
    (other / ".pre-commit-config.yaml").write_text("repos:\n  - repo: local\n    hooks: []\n")
    (other / "workflow.yml").write_text("on: push\njobs: {build: {runs-on: ubuntu-latest}}\n")
    return [str(p) for p in sorted((ROOT / "specs").glob("*.yaml"))] + [str(p) for p in sorted(other.iterdir())]


def _check_venv(work: Path) -> tuple[Path, str]:
    env = work / "env"
    done = _run([sys.executable, "-m", "venv", str(env)])
    if done.returncode:
        raise SystemExit(f"cannot create a virtual environment: {done.stderr}")
    python = env / ("Scripts" if os.name == "nt" else "bin") / "python"
    done = _run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(ROOT)])
    if done.returncode:
        raise SystemExit(f"pip install failed:\n{done.stdout}\n{done.stderr}")
    bin_dir = python.parent
    entry = _entry()
    done = _run([str(bin_dir / entry[0]), *entry[1:], *_files(work)])
    print(done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr)
    if done.returncode:
        raise SystemExit(f"the hook failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
    torch = _run([str(python), "-c", "import importlib.util as u; print(u.find_spec('torch') is not None)"])
    return env, torch.stdout.strip()


def _check_pre_commit(work: Path) -> tuple[Path, str]:
    if shutil.which("pre-commit") is None:
        raise SystemExit("pre-commit is not installed (pip install pre-commit), or run without --pre-commit")
    home = work / "pre-commit-home"
    env = {**os.environ, "PRE_COMMIT_HOME": str(home)}
    done = _run(
        ["pre-commit", "try-repo", str(ROOT), "netspec-validate", "--verbose", "--files", *_files(work)],
        cwd=ROOT,
        env=env,
    )
    print(done.stdout[-2000:])
    if done.returncode:
        raise SystemExit(f"the hook failed under pre-commit (exit {done.returncode}):\n{done.stderr[-2000:]}")
    envs = [p for p in home.rglob("py_env-*") if p.is_dir()]
    if not envs:
        raise SystemExit(f"pre-commit made no python environment under {home}")
    python = envs[0] / ("Scripts" if os.name == "nt" else "bin") / "python"
    torch = _run([str(python), "-c", "import importlib.util as u; print(u.find_spec('torch') is not None)"])
    return envs[0], torch.stdout.strip()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit-mb", type=float, default=LIMIT_MB)
    parser.add_argument("--pre-commit", action="store_true", help="run the real `pre-commit try-repo`")
    parser.add_argument("--keep", action="store_true", help="keep the environment (its path is printed)")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="netspec-hook-"))
    try:
        env, has_torch = (_check_pre_commit if args.pre_commit else _check_venv)(work)
        size_mb = _size(env) / 1e6
        print(f"hook environment: {size_mb:.1f} MB on disk (limit {args.limit_mb:g} MB); torch installed: {has_torch}")
        if has_torch != "False":
            print("FAIL: the hook's environment has torch")
            return 1
        if size_mb > args.limit_mb:
            print("FAIL: the hook's environment is over the limit")
            return 1
        print("OK")
        return 0
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
