"""tools/check_coverage.py: the CI gate that names every module under 90% line coverage."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_coverage", ROOT / "tools" / "check_coverage.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_coverage"] = module
    spec.loader.exec_module(module)
    return module


def _report(path: Path, **files: tuple[int, int]) -> Path:
    data = {
        "files": {
            name: {"summary": {"num_statements": statements, "covered_lines": covered}}
            for name, (statements, covered) in files.items()
        }
    }
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_every_module_under_the_floor_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = _report(tmp_path / "coverage.json", a=(100, 95), b=(200, 179), c=(10, 2), d=(0, 0))
    assert _tool().main([str(report)]) == 1
    err = capsys.readouterr().err
    assert "b: 89.5% line coverage, under 90%" in err and "c: 20.0% line coverage, under 90%" in err
    assert "a:" not in err and "d:" not in err and "2 module(s) under 90% line coverage" in err


def test_all_at_the_floor_passes_and_the_floor_can_be_given(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = _report(tmp_path / "coverage.json", a=(10, 9), b=(4, 4))
    assert _tool().main([str(report)]) == 0
    assert "every module at or over 90% line coverage" in capsys.readouterr().out
    assert _tool().main([str(report), "--floor", "95"]) == 1
    assert "a: 90.0% line coverage, under 95%" in capsys.readouterr().err


def test_a_missing_or_malformed_report_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _tool().main([str(tmp_path / "absent.json")]) == 2
    assert "cannot read the coverage report" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text("[]", encoding="utf-8")
    assert _tool().main([str(tmp_path / "bad.json")]) == 2
    (tmp_path / "nofiles.json").write_text("{}", encoding="utf-8")
    assert _tool().main([str(tmp_path / "nofiles.json")]) == 2
    assert "no 'files' mapping" in capsys.readouterr().err
