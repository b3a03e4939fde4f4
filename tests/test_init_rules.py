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
        (12, 5, "NS163", "warning"),  # matches no node
        (13, 40, "NS180", "error"),  # constant: abc
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


# A value torch refuses (or whose values would not be finite), the column `validate` points at, and the
# torch call it stands for: torch refuses it, or (`inf`) takes it and writes values that are not finite.
BAD_VALUES = {
    "kaiming_uniform a": ("{kaiming_uniform: {a: 1.0e200}}", 49, "kaiming_uniform_", {"a": 1e200}, "refused"),
    "kaiming_normal a": ("{kaiming_normal: {nonlinearity: leaky_relu, a: 1.0e155}}", 74, "kaiming_normal_", {"a": 1e155}, "refused"),
    "negative std": ("{normal: {std: -1.0}}", 42, "normal_", {"std": -1.0}, "refused"),
    "trunc_normal std": ("{trunc_normal: {std: -1.0, a: -3, b: 3}}", 48, "normal_", {"std": -1.0}, "refused"),
    "uniform a > b": ("{uniform: {a: 1, b: -1}}", 41, "uniform_", {"a": 1, "b": -1}, "refused"),
    "trunc_normal a > b": ("{trunc_normal: {a: 2, b: -2}}", 46, "trunc_normal_", {"a": 2, "b": -2}, "refused"),
    "huge std": ("{normal: {std: 1.0e308}}", 42, "normal_", {"std": 1e308}, "inf"),
    "huge mean": ("{normal: {mean: -1.0e39}}", 43, "normal_", {"mean": -1e39}, "inf"),
    "huge constant": ("{constant: 1.0e39}", 38, "constant_", {"val": 1e39}, "refused"),
    "huge uniform bound": ("{uniform: {a: -1.0e39, b: 0}}", 41, "uniform_", {"a": -1e39, "b": 0}, "refused"),
    "huge gain": ("{xavier_normal: {gain: 1.0e39}}", 50, "xavier_normal_", {"gain": 1e39}, "inf"),
}  # fmt: skip
_RULE = "name: t\ninputs: {{x: [N, 5]}}\nnodes:\n  l: {{op: Linear, out_features: 4}}\ninit:\n  - {{ops: Linear, weight: {}}}\n"


@pytest.mark.parametrize("case", sorted(BAD_VALUES))
def test_init_values_torch_refuses_are_refused_at_validation(case: str) -> None:
    rule, column, function, kwargs, torch_does = BAD_VALUES[case]
    with pytest.raises(netspec.SpecError) as info:
        netspec.loads(_RULE.format(rule))
    (found,) = info.value.diagnostics
    assert (found.code, found.line, found.column) == ("NS180", 6, column), str(info.value)
    tensor = torch.empty(4, 5)
    if torch_does == "inf":
        getattr(torch.nn.init, function)(tensor, **kwargs)
        assert not torch.isfinite(tensor).all()
    else:
        with pytest.raises((RuntimeError, OverflowError, ValueError)):
            getattr(torch.nn.init, function)(tensor, **kwargs)


@pytest.mark.parametrize(
    "rule", ["{kaiming_uniform: {a: 1.0e200, nonlinearity: relu}}", "{normal: {std: 0.0}}", "{uniform: {a: 1, b: 1}}"]
)
def test_init_values_within_range_build(rule: str) -> None:
    model = netspec.build(netspec.loads(_RULE.format(rule)))
    assert torch.isfinite(model.l.weight).all()


def test_an_overflow_in_torch_init_at_build_is_a_located_spec_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from netspec import _compile

    def overflow(tensor: torch.Tensor, **kwargs: object) -> None:
        raise OverflowError(34, "Numerical result out of range")

    spec = netspec.loads(_RULE.format("{kaiming_uniform: {a: 0.5}}"))
    monkeypatch.setitem(_compile.INIT_FUNCTIONS, "kaiming_uniform", overflow)
    with pytest.raises(netspec.SpecError) as info:
        netspec.build(spec)
    assert (info.value.diagnostics[0].code, info.value.diagnostics[0].line) == ("NS180", 6)


@pytest.mark.parametrize(
    ("dtype", "std", "refused"), [("float16", 1.0e5, True), ("float16", 1.0e3, False), ("float32", 1.0e5, False)]
)
def test_a_learned_tensor_init_is_checked_against_its_dtype(dtype: str, std: float, refused: bool) -> None:
    text = f"name: t\ninputs: {{x: [N, 4]}}\nnodes:\n  p: {{op: Parameter, shape: [1, 4], dtype: {dtype}, init: {{normal: {{std: {std}}}}}}}\n"
    if refused:
        with pytest.raises(netspec.SpecError) as info:
            netspec.loads(text)
        (found,) = info.value.diagnostics
        assert (found.code, found.line, found.path) == ("NS180", 4, "nodes.p.init.normal.std"), found
        tensor = torch.empty(64, 4, dtype=torch.float16)
        torch.nn.init.normal_(tensor, std=std)
        assert not torch.isfinite(tensor).all()  # what torch would have made
    else:
        model = netspec.build(netspec.loads(text))
        assert torch.isfinite(model.p).all()
