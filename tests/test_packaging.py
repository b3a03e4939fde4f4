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
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        check=False,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot build a wheel offline here: {done.stderr.strip()[-200:]}")
    wheel = next(tmp_path.glob("netspec-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    bundled = {p.name for p in (ROOT / "specs").glob("*.yaml")}
    assert bundled, "no bundled specs found"
    assert {f"netspec/specs/{name}" for name in bundled} <= names
    assert "netspec/_cli.py" in names
    assert "netspec/py.typed" in names  # users' type checkers read the package's hints

    # Installed from the wheel (not the checkout), bundled specs load by name.
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
        timeout=300,
    )
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); import netspec; "
        "assert netspec.__file__.startswith(sys.argv[1]), netspec.__file__; "
        "print(len(netspec.list_specs()), netspec.count_params('resnet18'))"
    )
    shown = subprocess.run(
        [sys.executable, "-c", probe, str(target)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        check=True,
    )
    assert shown.stdout.split() == [str(len(bundled)), "11689512"]


def test_the_torch_extras_bring_numpy() -> None:
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for extra in ("torch", "onnx"):  # `import torch` warns without numpy, on every build and export
        assert "numpy" in {name.split(">")[0].split("=")[0].strip() for name in extras[extra]}
    assert not any(
        d.startswith("numpy") for d in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    )
