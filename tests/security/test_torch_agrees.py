"""Where netspec accepts a spec, torch's forward runs; where it refuses it (at validation), torch's
forward fails. Grids of small cases, each validated by netspec and run by torch on the same shapes."""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable

import pytest
import torch
from torch import nn

import netspec


def _refused(text: str) -> netspec.Diagnostic | None:
    """The first error `validate` reports for the spec, or None when it is valid."""
    try:
        netspec.validate(netspec.loads(text))
    except netspec.SpecError as err:
        return err.errors[0]
    return None


def _torch_fails(run: Callable[[], object]) -> bool:
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's notes on even kernels with `padding: same`
            run()
    except RuntimeError:
        return True
    return False


def _agree(cases: list[tuple[str, str, Callable[[], object]]]) -> None:
    wrong = []
    for label, text, run in cases:
        refused, fails = _refused(text), _torch_fails(run)
        if (refused is not None) != fails:
            wrong.append(
                f"{label}: netspec {'refuses' if refused else 'accepts'}, torch {'fails' if fails else 'runs'}"
            )
        elif refused is not None and refused.code != "NS200":
            wrong.append(f"{label}: {refused.code} {refused.message}")
    assert not wrong, "\n".join(wrong[:20])


def test_same_padding_with_each_padding_mode_agrees_with_torch() -> None:
    cases = []
    for n, mode, kernel, dilation, size in itertools.product(
        (1, 2), ("zeros", "reflect", "circular", "replicate"), (2, 3, 5), (1, 2, 3), (1, 2, 3, 4, 5)
    ):
        shape = [2, 2] + [size] + [6] * (n - 1)
        text = (
            f"name: t\ninputs: {{x: {shape}}}\nnodes:\n  c: {{op: Conv{n}d, out_channels: 2, kernel_size: {kernel}, "
            f"dilation: {dilation}, padding: same, padding_mode: {mode}}}\n"
        )
        conv = getattr(nn, f"Conv{n}d")(2, 2, kernel, dilation=dilation, padding="same", padding_mode=mode)
        cases.append(
            (f"Conv{n}d {mode} k={kernel} d={dilation} {shape}", text, lambda c=conv, s=shape: c(torch.randn(s)))
        )
    _agree(cases)


def test_pools_on_inputs_smaller_than_their_kernel_agree_with_torch() -> None:
    cases = []
    for kind, n, kernel, padding, size, ceil in itertools.product(
        ("MaxPool", "AvgPool"), (1, 2, 3), (2, 3), (0, 1), (1, 2, 3), (False, True)
    ):
        if padding > kernel // 2:
            continue  # an argument row of the table
        shape = [2, 2] + [size] + [5] * (n - 1)
        op = f"{kind}{n}d"
        text = (
            f"name: t\ninputs: {{x: {shape}}}\nnodes:\n  p: {{op: {op}, kernel_size: {kernel}, stride: 1, "
            f"padding: {padding}, ceil_mode: {str(ceil).lower()}}}\n"
        )
        pool = getattr(nn, op)(kernel, stride=1, padding=padding, ceil_mode=ceil)
        cases.append(
            (f"{op} k={kernel} p={padding} ceil={ceil} {shape}", text, lambda m=pool, s=shape: m(torch.randn(s)))
        )
    for kind, n, out, size in itertools.product(
        ("AdaptiveMaxPool", "AdaptiveAvgPool"), (1, 2, 3), (1, 3, 7), (1, 2, 5)
    ):
        shape = [2, 2] + [size] * n
        op = f"{kind}{n}d"
        text = f"name: t\ninputs: {{x: {shape}}}\nnodes:\n  p: {{op: {op}, output_size: {out}}}\n"
        pool = getattr(nn, op)(out)
        cases.append((f"{op} out={out} {shape}", text, lambda m=pool, s=shape: m(torch.randn(s))))
    _agree(cases)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (
            "name: t\ninputs: {x: [N, 3, 2, 2]}\nnodes:\n"
            "  conv: {op: Conv2d, out_channels: 4, kernel_size: 3, dilation: 3, padding: same, padding_mode: reflect}\n",
            (4, 9),
        ),
        (
            "name: t\ninputs: {x: [N, 1, 1, 4, 4]}\nnodes:\n  pool: {op: AvgPool3d, kernel_size: 2, padding: 1}\n",
            (4, 9),
        ),
    ],
)
def test_shape_refusals_point_at_the_node(text: str, where: tuple[int, int]) -> None:
    found = _refused(text)
    assert found is not None and (found.code, found.line, found.column) == ("NS200", *where), found
    assert "torch" in found.message + (found.hint or "")


def test_symbolic_sizes_below_a_same_padding_are_off_the_lattice() -> None:
    text = (
        "name: t\ninputs: {x: [N, 3, H, W]}\nnodes:\n"
        "  conv: {op: Conv2d, out_channels: 4, kernel_size: 3, dilation: 3, padding: same, padding_mode: reflect}\n"
    )
    lattice = netspec.valid_sizes(netspec.loads(text))
    assert 3 not in lattice["H"] and 4 in lattice["H"]
    text = "name: t\ninputs: {x: [N, 1, D, H, W]}\nnodes:\n  pool: {op: AvgPool3d, kernel_size: 3, padding: 1}\n"
    assert 2 not in netspec.valid_sizes(netspec.loads(text))["D"]
