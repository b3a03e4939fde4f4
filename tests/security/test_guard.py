"""The runtime input guard refuses sizes off the size lattice with netspec's message (naming the layer
and the nearest sizes that run), only sizes torch refuses too, in a few integer operations."""

from __future__ import annotations

import re
import warnings
from typing import Any

import pytest
import torch
from torch.overrides import TorchFunctionMode

import netspec
from netspec import _runtime
from netspec._api import prepare
from netspec._compile import compile_graph
from netspec._guard import size_rules

EVEN = """netspec: 1
name: even
inputs: {x: [N, 2, H, W]}
nodes:
  pool: {op: MaxPool2d, kernel_size: 2}
  up: {op: Upsample, scale_factor: 2}
  join: {op: add, in: [x, up]}
"""


def _unguarded(source: Any) -> torch.nn.Module:
    return compile_graph(prepare(source, None, None), guard=False)


@pytest.mark.parametrize("height", [172, 100, 187])
def test_a_unet_size_off_the_lattice_is_refused_with_the_layer_and_the_nearest_sizes(height: int) -> None:
    model = netspec.build("unet", params={"width": 2})
    with pytest.raises(ValueError) as caught:
        model(torch.rand(1, 1, height, 188))
    message = str(caught.value)
    assert f"dimension 2 (`H`) is {height}, which `" in message
    assert "the network runs at `H` >= 188: use 188" in message
    with pytest.raises(Exception) as torch_says:  # without the guard, torch refuses it in its own words
        _unguarded(netspec.load("unet"))(torch.rand(1, 1, height, 188))
    assert "netspec" not in str(torch_says.value) and "`H`" not in str(torch_says.value)


def test_sizes_on_the_lattice_pass_the_guard() -> None:
    model = netspec.build("unet", params={"width": 2})
    for height in (188, 204, 190):  # 190 runs (it crops off-center): the guard refuses only what cannot run
        assert model(torch.rand(1, 1, height, 188)).shape[0] == 1


def test_a_periodic_lattice_names_the_layer_and_both_neighbours() -> None:
    model = netspec.build(netspec.loads(EVEN))
    assert model(torch.rand(1, 2, 6, 8)).shape == (1, 2, 6, 8)
    with pytest.raises(ValueError) as caught:
        model(torch.rand(1, 2, 7, 8))
    assert "dimension 2 (`H`) is 7, which `join` cannot take" in str(caught.value)
    assert "runs at `H` = 2 + 2k (k >= 0): use 6 or 8" in str(caught.value)
    with pytest.raises(ValueError, match=re.escape("dimension 3 (`W`) is 1, which `pool` cannot take")):
        model(torch.rand(1, 2, 6, 1))
    with pytest.raises(RuntimeError):
        _unguarded(netspec.loads(EVEN))(torch.rand(1, 2, 7, 8))


def test_the_rule_is_plain_literals_in_the_generated_code() -> None:
    model = netspec.build(netspec.loads(EVEN))
    assert "(2, 'H', 2, 2, '10', ['', 'join'], 'pool')" in model.code
    assert "'W'" in model.code


def test_a_condition_on_two_dimensions_is_refused_at_the_node() -> None:
    # The guard checks each symbol on its own: `H//2 == W//2` would pass it and fail in torch.
    text = EVEN.replace(
        "  join: {op: add, in: [x, up]}", "  t: {op: transpose, dim0: 2, dim1: 3}\n  join: {op: add, in: [pool, t]}"
    )
    text = text.replace("  up: {op: Upsample, scale_factor: 2}\n", "")
    with pytest.raises(netspec.SpecError) as caught:
        prepare(netspec.loads(text), None, None)
    assert [(d.code, d.path) for d in caught.value.errors] == [("NS207", "nodes.join")]


class _Count(TorchFunctionMode):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        self.calls.append(getattr(func, "__name__", str(func)))
        return func(*args, **(kwargs or {}))


def _guard_calls(lattice: list[Any] | None, shape: tuple[int, ...]) -> list[str]:
    x = torch.rand(shape)
    with _Count() as count:
        _runtime.check_input(x, "x", len(shape), shape[1], "[N, C, H, W]", [0, shape[1], 0, 0], 1, lattice)
    return count.calls


def test_the_lattice_check_costs_integer_operations_only() -> None:
    short = [(2, "H", 2, 2, "10", ["", "a"], "b"), (3, "W", 2, 2, "10", ["", "a"], "b")]
    period = 1000
    long = [(axis, s, 2, period, "1" + "0" * (period - 1), [""] * period, "b") for axis, s in ((2, "H"), (3, "W"))]
    without = _guard_calls(None, (1, 2, 8, 8))
    assert _guard_calls(short, (1, 2, 8, 8)) == _guard_calls(long, (1, 2, 1002, 1002))
    extra = len(_guard_calls(short, (1, 2, 8, 8))) - len(without)
    assert extra <= 2 * 2  # per checked dimension, at most the read of its size: no tensor is made or computed
    assert all(
        name in ("dim", "__get__", "size", "is_floating_point", "__getitem__")
        for name in _guard_calls(long, (1, 2, 1002, 1002))
    )


def test_the_guard_adds_one_call_per_input_and_nothing_else() -> None:
    info = prepare(netspec.loads(EVEN), None, None)
    guarded, bare = compile_graph(info), compile_graph(info, guard=False)
    calls = [n for n in guarded.graph.nodes if n.target is _runtime.check_input]
    assert len(calls) == 1 and len(guarded.graph.nodes) == len(bare.graph.nodes) + 1


def test_a_scripted_guard_refuses_the_same_size() -> None:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*torch.jit.script.* is deprecated")
        scripted = torch.jit.script(_runtime.check_input)
    rule = [(2, "H", 2, 4, "1010", ["", "join", "", "join"], "pool")]
    with pytest.raises(Exception, match=re.escape("which `join` cannot take; the network runs at `H` in {2, 4} + 4k")):
        scripted(torch.rand(1, 2, 7, 8), "x", 4, 2, "[N, 2, H, W]", [0, 2, 0, 0], 1, rule)
    assert scripted(torch.rand(1, 2, 6, 8), "x", 4, 2, "[N, 2, H, W]", [0, 2, 0, 0], 1, rule).shape[2] == 6


def test_a_guard_past_its_work_budget_leaves_the_sizes_to_the_layers(monkeypatch: pytest.MonkeyPatch) -> None:
    info = prepare(netspec.loads(EVEN), None, None)
    assert len(size_rules(info, "x")) == 2
    monkeypatch.setattr("netspec._guard.MAX_GUARD_WORK", 2048)  # fewer than one dimension's conditions x sizes
    assert size_rules(info, "x") == []
