"""Every bundled spec stays at or below its length before it was rewritten to say each thing once.

The lengths before are the golden tests/golden/spec-lines.json; a length is the number of lines that
hold YAML (comments and blank lines do not count), as docs/zoo.md's table gives them.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

import netspec
from netspec._source import bundled_path

ROOT = Path(__file__).resolve().parents[1]
BEFORE: dict[str, int] = json.loads((ROOT / "tests" / "golden" / "spec-lines.json").read_text(encoding="utf-8"))


def _gen_zoo() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_zoo", ROOT / "tools" / "gen_zoo.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


content_lines = _gen_zoo().content_lines


@pytest.mark.parametrize("name", sorted(BEFORE))
def test_spec_is_no_longer_than_before(name: str) -> None:
    path = bundled_path(name)
    assert path is not None, f"`{name}` is in the golden table but not bundled"
    now = content_lines(path.read_text(encoding="utf-8"))
    assert now <= BEFORE[name], f"{name}.yaml holds {now} lines of YAML, more than its {BEFORE[name]} before"


def test_the_table_names_every_spec_bundled_when_it_was_written() -> None:
    # Specs bundled later (swin_t, swin_v2_t) have no length before; every other one is pinned.
    assert set(BEFORE) <= set(netspec.list_specs())
    assert len(BEFORE) == 17


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        ("a: 1\n", 1),
        ("# a comment\n\na: 1   # trailing\n\n# another\n", 1),
        ("a:\n  b: 1\n  # inside\n  c: [1,\n    2]\nd: 2\n", 5),
        ("a: |\n  one\n  # not a comment: part of the text\n\n  two\nb: 1\n", 6),
        ("a: >-\n  folded\n  text\n# after\n", 3),
        ('---\nx: "a\n  b"\n', 3),
    ],
)
def test_lines_that_hold_yaml_are_counted(text: str, lines: int) -> None:
    assert content_lines(text) == lines


def test_one_more_node_is_one_more_line() -> None:
    text = (ROOT / "specs" / "lenet5.yaml").read_text(encoding="utf-8")
    assert content_lines(text + "  extra: {op: Tanh}   # a node\n\n# said twice\n") == content_lines(text) + 1
