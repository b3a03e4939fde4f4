"""Second review: reference chains cost no stack, and sizes are bounded at the node that makes them."""

from __future__ import annotations

import sys

import pytest
from hostile import HEADER, located_error

import netspec
from netspec._dims import MAX_PRODUCT_TERMS
from netspec._shapes import MAX_DIM


def test_a_long_chain_of_disabled_nodes_resolves_without_recursion() -> None:
    count = 4 * sys.getrecursionlimit()
    body = "".join(f"  d{i}: {{op: ReLU, when: false}}\n" for i in range(count))
    spec = netspec.loads(HEADER + "nodes:\n  a: ReLU\n" + body + "  z: ReLU\n")
    assert netspec.infer_shapes(spec)["z"] == netspec.infer_shapes(spec)["a"]


def test_a_repeat_of_blocks_whose_node_is_disabled_resolves_without_recursion() -> None:
    count = 4 * sys.getrecursionlimit()
    text = (
        HEADER
        + f"blocks:\n  b:\n    nodes:\n      off: {{op: ReLU, when: false}}\nnodes:\n  a: ReLU\n  rep: {{block: b, repeat: {count}}}\n  z: ReLU\n"
    )
    model = netspec.build(netspec.loads(text))
    assert [name for name, _ in model.named_children()] == ["a", "z"]


def test_a_reference_cycle_through_disabled_nodes_is_reported() -> None:
    text = (
        HEADER
        + "nodes:\n  a: {op: ReLU, when: false, in: b}\n  b: {op: ReLU, when: false, in: a}\n  c: {op: ReLU, in: b}\n"
    )
    err = located_error(lambda: netspec.loads(text))
    assert err.errors[0].code == "NS150"


@pytest.mark.parametrize("layers", [47, 48, 160])
def test_a_chain_of_upsampling_layers_is_stopped_at_the_node_past_the_size_limit(layers: int) -> None:
    body = "".join(
        f"  t{i}: {{op: ConvTranspose2d, out_channels: 1, kernel_size: 2, stride: 2}}\n" for i in range(layers)
    )
    text = "netspec: 1\nname: t\ninputs: {x: [1, 1, 1, 1]}\nnodes:\n" + body
    if layers <= 48:  # 2**48 is the limit itself
        assert netspec.infer_shapes(netspec.loads(text))[f"t{layers - 1}"] == (1, 1, 2**layers, 2**layers)
        return
    err = located_error(lambda: netspec.validate(netspec.loads(text)))
    assert (err.errors[0].code, err.errors[0].line) == ("NS205", 5 + 48)
    assert f"{MAX_DIM:,}" in str(err)


def test_a_symbolic_size_is_bounded_by_its_coefficients() -> None:
    body = "".join(f"  t{i}: {{op: Upsample, scale_factor: 1024}}\n" for i in range(6))
    header = "netspec: 1\nname: t\ninputs: {x: [N, 3, H, W]}\n"
    err = located_error(lambda: netspec.validate(netspec.loads(header + "nodes:\n" + body)))
    assert (err.errors[0].code, err.errors[0].line) == ("NS205", 5 + 4)  # 2**50 * H at the fifth layer


def test_an_input_larger_than_the_limit_is_refused_at_the_input() -> None:
    text = "netspec: 1\nname: t\ninputs: {x: [N, 3, 1000000000000000, 8]}\nnodes:\n  a: ReLU\n"
    err = located_error(lambda: netspec.validate(netspec.loads(text)))
    assert (err.errors[0].code, err.errors[0].line) == ("NS205", 3)


def test_the_input_guard_checks_fixed_sizes_and_the_kind_of_values() -> None:
    import torch

    text = (
        "netspec: 1\nname: t\ninputs: {x: [N, 3, 8, 8]}\nnodes:\n  c: {op: Conv2d, out_channels: 2, kernel_size: 3}\n"
    )
    model = netspec.build(netspec.loads(text))
    assert model(torch.zeros(2, 3, 8, 8)).shape == (2, 2, 6, 6)
    with pytest.raises(ValueError, match=r"dimension 2 is 9, not 8"):
        model(torch.zeros(1, 3, 9, 8))
    with pytest.raises(ValueError, match=r"expects floating-point values, got torch.int64"):
        model(torch.zeros(1, 3, 8, 8, dtype=torch.long))


@pytest.mark.parametrize("sizes", ["[0, -1]", "[-1, -1]", "[2, -3]"])
def test_unflatten_sizes_torch_refuses_are_refused_at_the_node(sizes: str) -> None:
    text = f"netspec: 1\nname: t\ninputs: {{x: [N, 8]}}\nnodes:\n  u: {{op: Unflatten, dim: 1, unflattened_size: {sizes}}}\n"
    err = located_error(lambda: netspec.validate(netspec.loads(text)))
    assert (err.errors[0].code, err.errors[0].line) == ("NS200", 5)


def _padded(rank: int, tail: str = "") -> str:
    dims = ", ".join(f"D{i}" for i in range(rank))
    pads = ", ".join(["1"] * (2 * rank))
    return f"netspec: 1\nname: wide\ninputs: {{x: [{dims}]}}\nnodes:\n  p: {{op: pad, pad: [{pads}]}}\n{tail}"


@pytest.mark.parametrize("tail", ["", "  f: {op: Flatten, start_dim: 0}\n"])
def test_a_size_made_of_many_sums_is_bounded_at_the_node(tail: str) -> None:
    # Every dimension padded (`D + 2`): a product of their sizes (a flattened size, the strides of the
    # layout) multiplies out into 2**rank terms; past `MAX_PRODUCT_TERMS` pairs, NS205 at the node.
    from work import calls

    netspec.validate(netspec.loads(_padded(12, tail)))
    err = located_error(lambda: netspec.validate(netspec.loads(_padded(40, tail))))
    first = err.errors[0]
    assert (first.code, first.line, first.column) == ("NS205", 5, 6), str(err)
    assert f"more than {MAX_PRODUCT_TERMS:,} symbolic terms" in first.message
    work, _ = calls(lambda: located_error(lambda: netspec.validate(netspec.loads(_padded(40, tail)))))
    assert work < 300_000  # was exponential in the rank: 9 s of CPU at rank 20


def test_a_chain_of_pools_is_stopped_where_its_divisor_passes_any_size() -> None:
    # `W // 3**k`: the strides of a chain fold into one divisor, whose digits grew with the chain
    # (9,999 pools: 4,771 digits, over 2 s, then a ValueError converting it to text).
    from work import calls

    text = (
        HEADER.replace("[N, 3, 8, 8]", "[N, 3, W, W]")
        + "nodes:\n  pool: {op: AvgPool2d, kernel_size: 3, repeat: 9999}\n"
    )
    err = located_error(lambda: netspec.validate(netspec.loads(text)))
    first = err.errors[0]
    assert (first.code, first.line, first.column) == ("NS205", 5, 9), str(err)
    assert "divided by more than 281,474,976,710,656 (2**48)" in first.message
    work, _ = calls(lambda: located_error(lambda: netspec.validate(netspec.loads(text))))
    assert work < 3_000_000


def test_a_reference_that_fails_through_many_pass_through_instances_is_followed_once() -> None:
    # Each instance's output passes its input through (an empty repeat over `x:0`) back to the
    # previous instance, and the chain ends in a failure: remembered once reported, not walked again
    # for every instance (was quadratic: 4 s for 2,000 instances).
    from work import calls

    def spec(n: int) -> str:
        return (
            "netspec: 1\nname: t\ninputs: {image: [N, 1, W, 8]}\nblocks:\n  b:\n    nodes:\n"
            "      p: {op: AdaptiveAvgPool2d}\n      e: {op: ReLU, in: ['x:0'], repeat: 0}\n"
            f"nodes:\n  f: {{block: b, in: [image], repeat: {n}}}\n"
        )

    small, _ = calls(lambda: located_error(lambda: netspec.loads(spec(500))))
    large, _ = calls(lambda: located_error(lambda: netspec.loads(spec(1000))))
    assert large / small <= 2.3
