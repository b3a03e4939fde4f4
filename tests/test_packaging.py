"""The wheel ships the bundled specs as package data, so they load by name after a plain install."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_contains_every_bundled_spec(tmp_path: Path) -> None:
    pytest.importorskip("setuptools")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot build a wheel offline here: {done.stderr.strip()[-200:]}")
    wheel = next(tmp_path.glob("netspec-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    bundled = {p.name for p in (ROOT / "specs").glob("*.yaml")}
    assert bundled, "no bundled specs found"
    assert {f"netspec/specs/{name}" for name in bundled} <= names
    assert "netspec/_cli.py" in names
