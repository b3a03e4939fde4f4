"""docs/architecture.md's module table is the truth about imports: every module of the package has a
row, imports exactly the netspec modules its row names (all of them listed above it, so data flows
one way) and no third-party package its row does not name."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "netspec"
TABLE = ROOT / "docs" / "architecture.md"
_ROW = re.compile(r"^\|\s*`([^`]+)\.py`\s*\|(.*)\|(.*)\|\s*$")


def _table() -> list[tuple[str, set[str]]]:
    text = TABLE.read_text(encoding="utf-8")
    body = text.split("<!-- module-table -->", 1)[1].split("<!-- /module-table -->", 1)[0]
    rows = []
    for line in body.splitlines():
        match = _ROW.match(line)
        if match:
            rows.append((match[1], set(re.findall(r"`([^`]+)`", match[3]))))
    return rows


def _imports(path: Path) -> tuple[set[str], set[str]]:
    """The netspec modules and the third-party packages a file imports, anywhere in it."""
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    internal: set[str] = set()
    external: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").split(".")[0] == "netspec"):
            assert node.level <= 1, f"{path.name}: relative import above the package"
            module = (node.module or "").removeprefix("netspec").lstrip(".").split(".")[0]
            if module:
                internal.add(module)
            else:  # `from . import x`: a module, or a name of the package itself
                internal.update(a.name if a.name in modules else "__init__" for a in node.names)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for name in names:
                top = name.split(".")[0]
                if top == "netspec":
                    internal.add(name.split(".")[1] if "." in name else "__init__")
                elif top not in sys.stdlib_module_names and top != "__future__":
                    external.add(top)
    return internal, external


ROWS = _table()


def test_every_module_has_one_row():
    listed = [name for name, _ in ROWS]
    assert len(listed) == len(set(listed)), "a module is listed twice"
    actual = {p.stem for p in PACKAGE.glob("*.py")}
    assert set(listed) == actual, (
        f"docs/architecture.md lacks {sorted(actual - set(listed))}, lists missing {sorted(set(listed) - actual)}"
    )


@pytest.mark.parametrize(("module", "allowed"), ROWS, ids=[name for name, _ in ROWS])
def test_imports_match_the_table(module: str, allowed: set[str]):
    internal, external = _imports(PACKAGE / f"{module}.py")
    modules = {name for name, _ in ROWS}
    listed_internal = allowed & modules
    assert internal == listed_internal, (
        f"{module}.py imports {sorted(internal)}; docs/architecture.md says {sorted(listed_internal)}"
    )
    assert external <= allowed - modules, (
        f"{module}.py imports {sorted(external - allowed)}, which its row in docs/architecture.md does not name"
    )
    above = {name for name, _ in ROWS[: [name for name, _ in ROWS].index(module)]}
    assert internal <= above, f"{module}.py imports {sorted(internal - above)}, listed below it: data flows one way"


def test_the_table_check_is_not_vacuous():
    # The parser found the rows, and the import scan sees imports of each kind.
    assert len(ROWS) >= 20
    internal, external = _imports(PACKAGE / "_compile.py")
    assert "_graph" in internal
    assert "torch" in external


def test_no_test_asserts_a_wall_clock_time():
    """Speed is asserted through its properties (tests/work.py counts calls); timings are benchmarks/'.
    The fuzzer, outside the default suite, may stop a hanging case by the clock."""
    clock = re.compile(r"\btime\.(?:perf_counter|time|monotonic|process_time)\b|\bfrom time import\b")
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "tests").rglob("*.py")
        if "fuzz" not in path.parts and clock.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
