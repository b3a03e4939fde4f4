"""Helpers shared by the shape, MAC and parameter rules of the built-in ops: input layouts and
ranks, per-axis arguments, axis and channel checks, and the trivial rules.

Conventions: shapes are tuples of `Dim` (int or symbolic); a failed check raises `ShapeError`
with a message that names the op and the argument.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from fractions import Fraction
from typing import Any, cast

from ._args import _join_or, _mismatch_hint, _mismatch_message, _render
from ._dims import Dim, Shape, ShapeCheck, ShapeError, Values, contiguous_strides, format_shape, is_concrete

__all__: list[str] = []  # private helpers, imported by name by `_layers` and `_edge_ops`

_AXIS_NAMES = {1: ("length",), 2: ("height", "width"), 3: ("depth", "height", "width")}
_AXIS_LETTERS = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}
# The input ranks each interpolation mode of `Upsample` and `interpolate` takes (other modes: 3 to 5).
_MODE_RANKS = {"linear": (3,), "bilinear": (4,), "bicubic": (4,), "trilinear": (5,)}


def _layout(spatial: int) -> str:
    return "[" + ", ".join(("N", "C", *_AXIS_LETTERS[spatial])) + "]"  # as `format_shape` writes a shape


def _expect_spatial_rank(op: str, shape: Shape, spatial: int, *, unbatched: bool = True) -> int:
    """Check an `[N, C, *spatial]` input (or `[C, *spatial]` when `unbatched`); return the channel axis."""
    rank = spatial + 2
    if len(shape) == rank or (unbatched and len(shape) == rank - 1):
        return len(shape) - spatial - 1
    alternative = f" (or {rank - 1}-D unbatched)" if unbatched else ""
    hint = None
    if len(shape) == 2:
        hint = "the input has no spatial dimensions; is a `Flatten` or `Linear` placed before this layer?"
    raise ShapeError(
        f"`{op}` expects a {rank}-D input {_layout(spatial)}{alternative}, got {format_shape(shape)}", hint
    )


def _expect_ranks(op: str, shape: Shape, layouts: Mapping[int, str]) -> None:
    if len(shape) not in layouts:
        wanted = _join_or([f"a {rank}-D input {text}" for rank, text in layouts.items()])
        raise ShapeError(f"`{op}` expects {wanted}, got {format_shape(shape)}")


def _concrete(op: str, dim: Dim, what: str, shape: Shape) -> int:
    if not is_concrete(dim):
        raise ShapeError(
            f"`{op}` needs a fixed number of {what}, but the input {format_shape(shape)} has `{dim}`",
            f"give the input a fixed number of {what}",
        )
    return dim


def _per_axis(op: str, name: str, value: Any, count: int) -> tuple[int, ...]:
    """An int or a per-axis tuple, as a tuple of `count` values."""
    if isinstance(value, (tuple, list)):
        if len(value) != count:
            raise ShapeError(
                f"`{name}` of `{op}` has {len(value)} values {_render(value)}, but the input has {count} spatial "
                f"dimension{'s' if count > 1 else ''}",
                f"give one integer or a list of {count}",
            )
        return tuple(value)
    return (value,) * count


def _normalize_axis(op: str, name: str, axis: int, rank: int) -> int:
    if not -rank <= axis < rank:
        raise ShapeError(f"`{name}` of `{op}` is {axis}, outside the {rank} dimensions of its input")
    return axis % rank


def _check_channels(op: str, name: str, given: int, shape: Shape, axis: int) -> None:
    actual = _concrete(op, shape[axis], "channels", shape)
    if actual != given:
        raise ShapeError(_mismatch_message(name, given, actual), _mismatch_hint(op, name))


def _numel(shape: Shape) -> Dim:
    total: Dim = 1
    for size in shape:
        total = total * size
    return total


def _elements(shape: Shape) -> int:
    """The element count of a shape that MAC rules see: they run only at concrete sizes."""
    return cast(int, _numel(shape))


def _same_shape(inputs: list[Shape], args: dict[str, Any], check: ShapeCheck) -> Shape:
    return inputs[0]


def _no_macs(inputs: list[Shape], output: Shape, args: dict[str, Any]) -> int:
    return 0


def _no_params(args: dict[str, Any]) -> int:
    return 0


def _scaled(op: str, size: Dim, scale: float) -> Dim:
    """`floor(size * scale)`, as `torch.nn.functional.interpolate` computes it."""
    if is_concrete(size):
        return math.floor(float(size) * scale)
    exact = Fraction(scale)
    if exact.denominator > 1024:
        raise ShapeError(
            f"`{op}` cannot scale the symbolic size `{size}` by {scale}",
            "use an integer `scale_factor` (or a fraction such as 0.5), or give `size`",
        )
    return (size * exact.numerator) // exact.denominator


def _contiguous_values(values: list[Values], args: dict[str, Any], shapes: list[Shape], output: Any) -> Values:
    """Ops whose output is a new contiguous tensor of the input's dtype, whatever the input's layout
    (`Linear`, `matmul`; not a convolution, whose output follows a channels-last input)."""
    return Values(values[0].dtype if values else None, strides=contiguous_strides(output))
