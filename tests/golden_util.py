"""Golden files of state_dict layouts: one `key<TAB>shape<TAB>dtype` line per entry.

A golden lives at `tests/golden/<name>.txt`. Setting `NETSPEC_ACCEPT_GOLDEN=1` rewrites the golden
from the current value instead of comparing, so an intended change is accepted with one command.
"""

from __future__ import annotations

import difflib
import os
import shlex
from collections.abc import Mapping
from pathlib import Path

import torch

__all__ = ["ACCEPT_ENV", "GOLDEN_DIR", "check_golden", "golden_lines", "golden_path"]

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
ACCEPT_ENV = "NETSPEC_ACCEPT_GOLDEN"
_MAX_DIFF_LINES = 40


def _shape_text(shape: torch.Size | tuple[int, ...] | list[int]) -> str:
    """`64x3x7x7` for a shape, `-` for a scalar."""
    return "x".join(str(size) for size in shape) if len(shape) else "-"


def _dtype_text(dtype: torch.dtype) -> str:
    """`float32` for `torch.float32`."""
    return str(dtype).removeprefix("torch.")


def golden_lines(state_dict: Mapping[str, torch.Tensor]) -> list[str]:
    """One `key<TAB>shape<TAB>dtype` line per state_dict entry, in the state_dict's order."""
    return [f"{key}\t{_shape_text(tensor.shape)}\t{_dtype_text(tensor.dtype)}" for key, tensor in state_dict.items()]


def golden_path(name: str) -> Path:
    """Where the golden called `name` is stored."""
    return GOLDEN_DIR / f"{name}.txt"


def _accept_command() -> str:
    """The command that rewrites the golden(s) of the test now running."""
    current = os.environ.get("PYTEST_CURRENT_TEST", "")
    node_id = current.rsplit(" ", 1)[0] if current else "tests/"
    return f"{ACCEPT_ENV}=1 python -m pytest {shlex.quote(node_id)}"


def _diff_excerpt(expected: list[str], actual: list[str], name: str) -> str:
    diff = list(difflib.unified_diff(expected, actual, fromfile=f"golden/{name}.txt", tofile="actual", lineterm=""))
    if len(diff) > _MAX_DIFF_LINES:
        hidden = len(diff) - _MAX_DIFF_LINES
        diff = diff[:_MAX_DIFF_LINES] + [f"... ({hidden} more diff lines)"]
    return "\n".join(diff)


def check_golden(name: str, lines: list[str]) -> None:
    """Assert that `lines` equal the golden `name`; with `NETSPEC_ACCEPT_GOLDEN=1`, rewrite it."""
    path = golden_path(name)
    if os.environ.get(ACCEPT_ENV) == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
        return
    accept = f"If the change is intended, accept it with:\n    {_accept_command()}"
    if not path.exists():
        raise AssertionError(f"golden `{name}` does not exist yet (expected at {path}).\n{accept}")
    expected = path.read_text(encoding="utf-8").splitlines()
    if expected != lines:
        raise AssertionError(
            f"state_dict layout differs from golden `{name}` ({path}):\n"
            f"{_diff_excerpt(expected, lines, name)}\n{accept}"
        )
