"""Specs drawn from the grammar end, on every entry point, in success or a located `SpecError`."""

from __future__ import annotations

import json
import random

import pytest
from grammar import generate, run_grammar_fuzz

import netspec


def test_generated_specs_are_deterministic_and_varied() -> None:
    first = [json.dumps(generate(random.Random(5))) for _ in range(3)]
    assert first == [json.dumps(generate(random.Random(5))) for _ in range(3)]
    specs = [generate(random.Random(seed)) for seed in range(200)]
    assert any("blocks" in s for s in specs) and any("extends" in s for s in specs)
    assert any(isinstance(n, dict) and "repeat" in n for s in specs for n in s.get("nodes", {}).values())


def test_a_valid_generated_spec_builds() -> None:
    for seed in range(2000):
        text = json.dumps(generate(random.Random(seed)))
        try:
            spec = netspec.loads(text)
            netspec.validate(spec)
        except netspec.SpecError:
            continue
        assert netspec.count_params(spec) >= 0
        return
    pytest.fail("no generated spec was valid")


def test_short_grammar_fuzz_run() -> None:
    # A generous deadline: the suite runs on shared machines; benchmarks/fuzz.py --grammar uses 2 s.
    report = run_grammar_fuzz(50, seed=7, case_seconds=20.0)
    assert report.cases == 50
    assert not report.failures, "\n\n".join(f"case {c}: {what}\n{text[:1500]}" for c, what, text in report.failures[:3])


def test_a_cpu_time_deadline_run() -> None:
    report = run_grammar_fuzz(10, seed=8, case_seconds=20.0, cpu=True)
    assert report.cases == 10 and not report.failures and 0 < report.slowest < 20.0
