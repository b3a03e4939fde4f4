"""Init rules are checked when a spec is loaded, each problem at its place; rules that match nothing warn."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import netspec

FIXTURE = Path(__file__).resolve().parent / "specs" / "init" / "init_rules.yaml"


def test_every_init_problem_is_reported_at_load_with_its_place():
    with pytest.raises(netspec.SpecError) as info:
        netspec.load(FIXTURE)
    found = [(d.line, d.column, d.code, d.severity) for d in info.value.diagnostics]
    assert found == [
        (8, 53, "NS180", "error"),  # mode: fan_outt
        (9, 39, "NS180", "error"),  # stdd
        (10, 34, "NS180", "error"),  # orthogonal on a BatchNorm weight
        (11, 44, "NS180", "error"),  # kaiming_normal on a bias
        (13, 40, "NS180", "error"),  # constant: abc
        (12, 5, "NS163", "warning"),  # matches no node
    ]
    hints = [d.hint for d in info.value.diagnostics]
    assert hints[0] == "did you mean `fan_out`?" and hints[1] == "did you mean `std`?"


def test_an_init_that_torch_refuses_at_build_is_a_spec_error():
    spec = {
        "name": "prelu",
        "inputs": {"x": ["N", 4]},
        "nodes": {"fc": {"op": "Linear", "out_features": 4}, "act": {"op": "PReLU"}},
        "init": [{"nodes": ["act"], "weight": "orthogonal"}],
    }
    with pytest.raises(netspec.SpecError) as info:
        netspec.build(spec)
    assert info.value.diagnostics[0].code == "NS180"


def test_valid_rules_apply():
    spec = {
        "name": "ok",
        "inputs": {"x": ["N", 4]},
        "nodes": {"fc": {"op": "Linear", "out_features": 3}, "bn": "BatchNorm1d"},
        "init": [
            {"ops": ["Linear"], "weight": {"constant": 0.5}, "bias": "zeros"},
            {"ops": ["BatchNorm1d"], "weight": {"constant": 2}},
        ],
    }
    model = netspec.build(spec)
    assert torch.all(model.fc.weight == 0.5) and torch.all(model.fc.bias == 0) and torch.all(model.bn.weight == 2)


def test_init_tables_agree_with_the_language_and_with_torch():
    """Every init name of the language has a torch function, and every argument a spec may pass is one
    that function takes (`value` is the spelling of `constant`'s `val`)."""
    import inspect
    import typing

    from netspec._compile import INIT_FUNCTIONS
    from netspec._graph import INIT_ARGUMENTS
    from netspec._models import InitFnName

    names = set(typing.get_args(InitFnName)) - {"default"}
    assert set(INIT_FUNCTIONS) == set(INIT_ARGUMENTS) == names
    for name, allowed in INIT_ARGUMENTS.items():
        taken = set(inspect.signature(INIT_FUNCTIONS[name]).parameters)
        assert allowed - {"value"} <= taken, name
