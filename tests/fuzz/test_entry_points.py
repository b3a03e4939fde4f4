"""The fuzzers' per-case harness: every entry point, a deadline per call, the memory of the case."""

from __future__ import annotations

import json
import sys

import pytest
from entry_points import Deadline, run_entry_points

_LINEAR = {
    "netspec": 1,
    "name": "wide",
    "inputs": {"x": ["N", 2000]},
    "nodes": {"fc": {"op": "Linear", "out_features": 2000}},
}


def test_an_accepted_case_reports_its_slowest_call_and_its_memory() -> None:
    figures = run_entry_points(json.dumps(_LINEAR), 60.0)
    assert figures.outcome == "accepted"
    assert figures.slowest_call in {"loads", "validate", "build", "export_python", "summarize", "to_dot"}
    assert 0 < figures.slowest_seconds <= figures.total_seconds
    if sys.platform == "linux":  # 4,002,000 float32 elements built twice (build, export): 16 MB each
        assert figures.peak_mb >= 15


def test_a_refused_case_is_located() -> None:
    text = json.dumps({**_LINEAR, "nodes": {"fc": {"op": "Linear", "out_features": -3}}})
    assert run_entry_points(text, 60.0).outcome == "refused"


def test_a_call_past_its_deadline_is_named() -> None:
    with pytest.raises(Deadline, match="over 1e-06 s"):
        run_entry_points(json.dumps(_LINEAR), 1e-6)
