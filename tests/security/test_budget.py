"""The memory budget counts parameters and buffers, before anything is allocated, on every path
that instantiates modules; `count_params` counts what `build` builds."""

from __future__ import annotations

import pytest
import torch
from hostile import located_error
from torch import nn

import netspec
from netspec._export import export_python
from netspec._ops import unregister_op

HUGE_BN = "netspec: 1\nname: t\ninputs: {x: [N, 1000000000000]}\nnodes:\n  bn: {op: BatchNorm1d, affine: false}\n"


def test_running_statistics_count_against_the_budget() -> None:
    err = located_error(lambda: netspec.build(netspec.loads(HUGE_BN), max_params=1000))
    assert (err.errors[0].code, err.errors[0].line) == ("NS190", 5)
    assert "2,000,000,000,001" in str(err)


def test_the_python_exporter_has_the_same_budget() -> None:
    err = located_error(lambda: export_python(netspec.loads(HUGE_BN)))
    assert (err.errors[0].code, err.errors[0].line) == ("NS190", 5)


def test_buffers_of_a_built_model_are_what_the_budget_counts() -> None:
    text = (
        "netspec: 1\nname: t\ninputs: {x: [N, 3, 8, 8]}\nnodes:\n"
        "  c: {op: Conv2d, out_channels: 6, kernel_size: 3}\n  b: BatchNorm2d\n  i: {op: InstanceNorm2d, track_running_stats: true}\n"
    )
    model = netspec.build(netspec.loads(text))
    total = sum(p.numel() for p in model.parameters()) + sum(b.numel() for b in model.buffers())
    netspec.build(netspec.loads(text), max_params=total)
    with pytest.raises(netspec.SpecError):
        netspec.build(netspec.loads(text), max_params=total - 1)


def test_a_registered_module_counts_its_buffers() -> None:
    class Stats(nn.Module):
        def __init__(self, size: int = 4) -> None:
            super().__init__()
            self.register_buffer("table", torch.zeros(size, size))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x

    netspec.register_op("Stats", Stats)
    try:
        text = "netspec: 1\nname: t\ninputs: {x: [N, 4]}\nnodes:\n  s: {op: Stats, size: 100000}\n"
        err = located_error(lambda: netspec.build(netspec.loads(text), max_params=10**9))
        assert "10,000,000,000" in str(err)
    finally:
        unregister_op("Stats")


def test_count_params_counts_only_what_build_builds() -> None:
    text = (
        "netspec: 1\nname: t\ninputs: {x: [N, 4]}\nnodes:\n"
        "  a: {op: Linear, out_features: 4}\n  unused: {op: Linear, in: x, out_features: 100}\n  o: {op: ReLU, in: a}\n"
    )
    with pytest.raises(netspec.SpecError, match="NS162"):  # an unbuilt node is an error, never a silent drop
        netspec.loads(text)
    spec = netspec.loads(text.replace("out_features: 100}", "out_features: 100, keep: true}"))
    built = sum(p.numel() for p in netspec.build(spec).parameters())
    assert netspec.count_params(spec) == built == 520  # a kept node is built, and counted


BIG_LINEARS = (
    "netspec: 1\nname: t\ninputs: {x: [N, 10000]}\nnodes:\n"
    "  fc: {op: Linear, out_features: 10000}\n  fc2: {op: Linear, out_features: 10000}\n"
)


def test_validate_and_summarize_refuse_what_build_refuses() -> None:
    spec = netspec.loads(BIG_LINEARS, limits=netspec.Limits(max_params=1000))
    built = located_error(lambda: netspec.build(spec))
    checked = located_error(lambda: netspec.validate(spec))
    summarized = located_error(lambda: netspec.summarize(spec))
    for err in (built, checked, summarized):
        assert [(d.code, d.line, d.column) for d in err.errors] == [("NS190", 5, 7)]
        assert "200,020,000" in str(err)
    assert netspec.validate(netspec.loads(BIG_LINEARS)) == []  # within the default budget


def test_validate_counts_layers_sized_by_the_given_inputs() -> None:
    text = "netspec: 1\nname: t\ninputs: {x: [N, F]}\nnodes:\n  fc: {op: Linear, out_features: 1000}\n"
    spec = netspec.loads(text, limits=netspec.Limits(max_params=100_000))
    assert netspec.validate(spec, inputs={"x": (1, 10)}) == []
    err = located_error(lambda: netspec.validate(spec, inputs={"x": (1, 1000)}))
    assert [(d.code, d.line) for d in err.errors] == [("NS190", 5)]
