"""Mutated specs end in success or a located `SpecError`: a short run by default, a long one with `-m fuzz`."""

from __future__ import annotations

import pytest
from fuzzlib import run_case, run_fuzz, seed_files


def _check(cases: int, seed: int) -> None:
    report = run_fuzz(cases, seed=seed)
    assert report.cases == cases
    assert not report.failures, "\n\n".join(
        f"{f.seed} case {f.case}: {f.detail}\n--- input ---\n{f.text[:2000]}" for f in report.failures[:3]
    )


def test_seed_files_are_found() -> None:
    names = {p.name for p in seed_files()}
    assert {"resnet18.yaml", "unet.yaml", "lenet5.yaml"} <= names


def test_every_seed_file_passes_unmutated() -> None:
    for path in seed_files():
        assert run_case(path.read_bytes()) in ("accepted", "refused"), path


@pytest.mark.parametrize("seed", [0, 1])
def test_short_fuzz_run(seed: int) -> None:
    _check(200, seed)


@pytest.mark.fuzz
def test_long_fuzz_run() -> None:
    _check(10_000, seed=2024)
