"""The few functions that compiled networks call: crops, pads, concatenation, resizing, the input guard.

Every function here is TorchScript-compatible (`torch.jit.script`), traceable by
`torch.compile(fullgraph=True)` and `torch.export`, and works on any device. Importing this
module has no side effects. Sizes count from dimension 2 on (`spatial_from`), after batch and channels.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "center_crop",
    "check_input",
    "concat",
    "concat_crop",
    "corner_crop",
    "crop",
    "crop_to_size",
    "expand",
    "interpolate",
    "pad",
    "pad_to",
    "slice_dim",
    "view",
]


def crop_to_size(x: Tensor, size: list[int], mode: str = "center", spatial_from: int = 2) -> Tensor:
    """Crop the dimensions from `spatial_from` on to `size`, centered or from the top-left corner.

    Centered, a dimension of size `H` cropped to `h` keeps `H//2 - h//2 : H//2 - h//2 + h`
    (for 568 -> 392: rows 88..479).
    """
    if len(size) != x.dim() - spatial_from:
        raise ValueError(
            "crop size "
            + str(size)
            + " does not match the "
            + str(x.dim() - spatial_from)
            + " spatial dimensions of a tensor of shape "
            + str(list(x.shape))
        )
    for i in range(len(size)):
        dim = spatial_from + i
        full = x.shape[dim]
        target = size[i]
        if target > full:
            raise ValueError(
                "cannot crop dimension " + str(dim) + " of size " + str(full) + " to the larger size " + str(target)
            )
        start = full // 2 - target // 2 if mode == "center" else 0
        x = x.narrow(dim, start, target)
    return x


def center_crop(x: Tensor, ref: Tensor, spatial_from: int = 2) -> Tensor:
    """Center-crop `x` to the sizes of `ref` in the dimensions from `spatial_from` on."""
    # torch.Size, a list of ints to TorchScript (which reads only a bare ignore at the end of a line)
    return crop_to_size(x, ref.shape[spatial_from:], "center", spatial_from)  # type: ignore[arg-type]


def corner_crop(x: Tensor, ref: Tensor, spatial_from: int = 2) -> Tensor:
    """Crop `x` to the sizes of `ref` from the dimensions' start (top-left corner)."""
    # torch.Size, a list of ints to TorchScript (which reads only a bare ignore at the end of a line)
    return crop_to_size(x, ref.shape[spatial_from:], "corner", spatial_from)  # type: ignore[arg-type]


def crop(x: Tensor, ref: Tensor | None = None, size: list[int] | None = None, mode: str = "center") -> Tensor:
    """The `crop` op: crop to `ref`'s spatial sizes, or to `size`."""
    if ref is not None:
        # torch.Size, a list of ints to TorchScript (which reads only a bare ignore at the end of a line)
        return crop_to_size(x, ref.shape[2:], mode)  # type: ignore[arg-type]
    if size is None:
        raise ValueError("crop needs a reference tensor or a size")
    return crop_to_size(x, size, mode)


def concat_crop(xs: list[Tensor], dim: int = 1) -> Tensor:
    """Center-crop every tensor to the smallest size in each dimension from 2 on, then concatenate along `dim`."""
    sizes: list[int] = list(xs[0].shape[2:])
    for x in xs:
        for i in range(len(sizes)):
            sizes[i] = min(sizes[i], x.shape[2 + i])
    return torch.cat([crop_to_size(x, sizes, "center") for x in xs], dim)


def concat(xs: list[Tensor], dim: int = 1, crop: str | None = None) -> Tensor:
    """The `concat` op: `torch.cat`, or `concat_crop` with `crop="center"`."""
    if crop is None:
        return torch.cat(xs, dim)
    return concat_crop(xs, dim)


def pad_to(x: Tensor, ref: Tensor, mode: str = "constant", value: float = 0.0) -> Tensor:
    """Pad the dimensions from 2 on to `ref`'s sizes, centered (an odd extra pixel goes at the end)."""
    amounts: list[int] = []
    for dim in range(x.dim() - 1, 1, -1):  # F.pad lists the last dimension first
        extra = ref.shape[dim] - x.shape[dim]
        if extra < 0:
            raise ValueError(
                "cannot pad dimension "
                + str(dim)
                + " of size "
                + str(x.shape[dim])
                + " to the smaller size "
                + str(ref.shape[dim])
            )
        amounts.append(extra // 2)
        amounts.append(extra - extra // 2)
    return _pad(x, amounts, mode, value)


def pad(
    x: Tensor, ref: Tensor | None = None, pad: list[int] | None = None, mode: str = "constant", value: float = 0.0
) -> Tensor:
    """The `pad` op: pad to `ref`'s spatial sizes, or by `pad` (in `torch.nn.functional.pad` order)."""
    if ref is not None:
        return pad_to(x, ref, mode, value)
    if pad is None:
        raise ValueError("pad needs a reference tensor or padding amounts")
    return _pad(x, pad, mode, value)


def _pad(x: Tensor, amounts: list[int], mode: str, value: float) -> Tensor:
    if mode == "constant":
        return F.pad(x, amounts, "constant", value)
    return F.pad(x, amounts, mode)


def interpolate(
    x: Tensor,
    ref: Tensor | None = None,
    size: list[int] | None = None,
    scale_factor: list[float] | None = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
) -> Tensor:
    """The `interpolate` op: resize the dimensions from 2 on to `ref`'s sizes, to `size`, or by `scale_factor`."""
    if ref is not None:
        return F.interpolate(x, size=ref.shape[2:], mode=mode, align_corners=align_corners)
    if size is not None:
        return F.interpolate(x, size=size, mode=mode, align_corners=align_corners)
    return F.interpolate(x, scale_factor=scale_factor, mode=mode, align_corners=align_corners)


def check_input(
    x: Tensor,
    name: str,
    rank: int,
    channels: int,
    expected: str,
    sizes: list[int] | None = None,
    floating: int = -1,
    lattice: list[tuple[int, str, int, int, str, list[str], str]] | None = None,
    program: list[int] | None = None,
    conditions: list[tuple[int, int, int, list[int], list[int], list[str], list[str], list[str], list[int]]]
    | None = None,
    known: list[int] | None = None,
    indices: list[tuple[str, int, str]] | None = None,
) -> Tensor:
    """Return `x` when it has `rank` dimensions, (for `channels > 0`) `channels` in dimension 1,
    every fixed size of `sizes` (0: any size), values of the kind the network takes
    (`floating`: 1 floating point, 0 integers, -1 either), and symbolic sizes the network runs at.

    `lattice` holds one rule per symbolic dimension (`_guard.size_rules`): (axis, symbol, first,
    period, residues, layer per residue, layer below `first`); a size runs
    when it is at least `first` and `residues[(size - first) % period]` is "1". The checks are a few
    integer operations per dimension; under `torch.compile` and `torch.export` the lattice is left to
    the layers (a size guard there would tie the traced graph to a residue).

    `conditions` are the shape conditions over two or more symbols (`_guard.condition_rules`), each
    side a register of `program`, which computes sizes from `x`'s dimensions, then `known` (sizes of
    other inputs).
    `indices` are the layers that look `x`'s values up (`embedding`s, `index_select`s), with the
    entries each has: `x` must hold int64 or int32 values in [0, entries), read with one
    `torch.aminmax` (on CUDA, it waits for the values). Both are left to the layers under `torch.compile`, `torch.export` and tracing.

    A value that is not a tensor (a list, a NumPy array) is a TypeError naming the input. The float
    dtype is not compared with the model's: see docs/security.md.

    Otherwise raise a ValueError naming the input, the expected shape (`expected`, e.g.
    "[N, 3, H, W]") and the likely fix (for a size off the lattice: the layer that refuses it and
    the nearest sizes that run).
    """
    if not isinstance(x, Tensor):  # a list or an array: torch would fail on a missing attribute
        raise TypeError(
            "input `" + name + "` expects a tensor of shape " + expected + ", got " + str(type(x)).split("'")[1]
            + "; convert it with torch.as_tensor(x)"
        )  # fmt: skip
    if x.dim() != rank or (channels > 0 and x.shape[1] != channels):
        raise ValueError(_input_error(x, name, rank, channels, expected))
    if sizes is not None:
        for i in range(len(sizes)):
            if sizes[i] > 0 and x.shape[i] != sizes[i]:
                raise ValueError(
                    "input `" + name + "` expects shape " + expected + ", got " + str(list(x.shape))
                    + "; dimension " + str(i) + " is " + str(x.shape[i]) + ", not " + str(sizes[i])
                )  # fmt: skip
    if lattice is not None and not torch.compiler.is_compiling():
        for axis, symbol, first, period, residues, layers, below in lattice:
            n = x.shape[axis]
            if n < first or (period > 0 and residues[(n - first) % period] != "1"):
                raise ValueError(
                    _lattice_error(x, name, expected, axis, symbol, first, period, residues, layers, below)
                )
    if program is not None and conditions is not None and not _traced():
        dims: list[int] = list(x.shape)
        if known is not None:
            dims += known
        values = _registers(program, dims)
        for rule in conditions:  # the tightest of each: what `offsets` adds to it is 0
            if not _condition_holds(rule[0], values[rule[1]], values[rule[2]], 0):
                raise ValueError(_condition_error(x, name, expected, dims, values, conditions))
    if floating == 1 and not x.is_floating_point():
        raise ValueError(
            "input `" + name + "` expects floating-point values, got " + str(x.dtype) + "; convert it with x.float()"
        )
    if floating == 0 and (x.is_floating_point() or x.is_complex() or x.dtype == torch.bool):
        raise ValueError(
            "input `" + name + "` expects integer indices, got " + str(x.dtype) + "; convert it with x.long()"
        )
    if indices is not None and not _traced():
        _check_indices(x, name, indices)
    return x


def _traced() -> bool:
    """Whether the call is compiled, exported or traced: the value checks are then left to the layers."""
    # torch.jit.is_tracing has no type hints (TorchScript reads only a bare ignore at the end of a line)
    return torch.compiler.is_compiling() or torch.jit.is_tracing()  # type: ignore


def _registers(program: list[int], dims: list[int]) -> list[int]:
    """The sizes a program computes (`_guard.Program`): per triple (op, a, b), one register."""
    values: list[int] = []
    for i in range(0, len(program), 3):
        op = program[i]
        a = program[i + 1]
        if op == 0:
            values.append(a)
        elif op == 1:
            values.append(dims[a])
        elif op == 2:
            values.append(values[a] + values[program[i + 2]])
        elif op == 3:
            values.append(values[a] * values[program[i + 2]])
        else:
            values.append(values[a] // program[i + 2])
    return values


def _condition_holds(kind: int, a: int, b: int, offset: int) -> bool:
    if kind == 0:
        return a + offset >= 1
    if kind == 1:
        return a == b
    if kind == 2:
        return a >= b
    return a % 2 == 0


def _condition_error(
    x: Tensor,
    name: str,
    expected: str,
    dims: list[int],
    values: list[int],
    conditions: list[tuple[int, int, int, list[int], list[int], list[str], list[str], list[str], list[int]]],
) -> str:
    """The message for sizes that a condition refuses: the first layer (in execution order) that refuses them."""
    best = -1
    message = ""
    for kind, first_side, second_side, offsets, orders, layers, texts, symbols, slots in conditions:
        a = values[first_side]
        b = values[second_side]
        for k in range(len(layers)):
            if not _condition_holds(kind, a, b, offsets[k]) and (best < 0 or orders[k] < best):
                best = orders[k]
                shown: list[str] = []
                for j in range(len(symbols)):
                    shown.append("`" + symbols[j] + "` = " + str(dims[slots[j]]))
                got = str(a + offsets[k]) if kind == 0 or kind == 3 else str(a) + " and " + str(b)
                message = "`" + layers[k] + "` cannot take " + ", ".join(shown) + ": " + texts[k] + " (got " + got + ")"
    return (
        "input `" + name + "` expects shape " + expected + ", got " + str(list(x.shape)) + "; " + message
        + "; choose sizes that meet it"
    )  # fmt: skip


def _check_indices(x: Tensor, name: str, indices: list[tuple[str, int, str]]) -> None:
    """Refuse values a layer cannot look up: not int64/int32, below 0, or from its number of entries on."""
    layer, _, kind = indices[0]
    if x.dtype != torch.int64 and x.dtype != torch.int32:
        raise ValueError(
            "input `" + name + "` feeds the " + kind + " `" + layer + "`, which takes int64 or int32 indices, got "
            + str(x.dtype) + "; convert it with x.long()"
        )  # fmt: skip
    if x.numel() == 0:
        return
    low, high = torch.aminmax(x)
    lowest = int(low)
    highest = int(high)
    for layer, count, kind in indices:
        value = lowest if lowest < 0 else highest
        if value < 0 or value >= count:
            size = "num_embeddings=" + str(count) if kind == "embedding" else str(count) + " entries"
            raise ValueError(
                "input `" + name + "` holds the index " + str(value) + ", which the " + kind + " `" + layer
                + "` (" + size + ") cannot look up: indices must be in [0, " + str(count) + ")"
            )  # fmt: skip


def _lattice_error(
    x: Tensor,
    name: str,
    expected: str,
    axis: int,
    symbol: str,
    first: int,
    period: int,
    residues: str,
    layers: list[str],
    below: str,
) -> str:
    n = x.shape[axis]
    layer = below
    if n >= first and period > 0:
        layer = layers[(n - first) % period]
    lower = -1
    upper = first
    if n > first and period > 0:
        for k in range(1, period + 1):
            if lower < 0 and n - k >= first and residues[(n - k - first) % period] == "1":
                lower = n - k
        for k in range(1, period + 1):
            if upper == first and residues[(n + k - first) % period] == "1":
                upper = n + k
    nearest = str(upper) if lower < 0 else str(lower) + " or " + str(upper)
    message = "input `" + name + "` expects shape " + expected + ", got " + str(list(x.shape))
    message += "; dimension " + str(axis) + " (`" + symbol + "`) is " + str(n)
    if layer != "":
        message += ", which `" + layer + "` cannot take"
    return message + "; the network runs at " + _lattice_words(symbol, first, period, residues) + ": use " + nearest


def _lattice_words(symbol: str, first: int, period: int, residues: str) -> str:
    """The sizes a lattice rule admits: "`H` >= 188", "`H` = 2 + 2k (k >= 0)", "`H` in {3, 5} + 8k (k >= 0)"."""
    if period <= 1:
        return "`" + symbol + "` >= " + str(first) + ("" if period == 1 else " (not every size above it)")
    offsets: list[int] = []
    for r in range(period):
        if residues[r] == "1":
            offsets.append(first + r)
    if len(offsets) == 1:
        return "`" + symbol + "` = " + str(first) + " + " + str(period) + "k (k >= 0)"
    shown = ", ".join([str(s) for s in offsets[:4]]) + (", ..." if len(offsets) > 4 else "")
    return "`" + symbol + "` in {" + shown + "} + " + str(period) + "k (k >= 0)"


def _input_error(x: Tensor, name: str, rank: int, channels: int, expected: str) -> str:
    shape: list[int] = list(x.shape)
    message = (
        "input `" + name + "` expects shape " + expected + ", got " + str(shape) + " (a " + str(x.dim()) + "-D tensor)"
    )
    if x.dim() == rank - 1 and (channels <= 0 or (x.dim() > 0 and shape[0] == channels)):
        return message + "; add a batch dimension with x.unsqueeze(0)"
    if x.dim() == rank + 1 and shape[0] == 1:
        return message + "; remove the extra leading dimension with x.squeeze(0)"
    if x.dim() == rank and channels > 0:
        return message + "; dimension 1 (channels) is " + str(shape[1]) + ", not " + str(channels)
    return message


def view(x: Tensor, shape: list[int]) -> Tensor:
    """The `view` op: `x.view(shape)`."""
    return x.view(shape)


def expand(x: Tensor, size: list[int]) -> Tensor:
    """The `expand` op: `x.expand(size)`."""
    return x.expand(size)


def slice_dim(x: Tensor, dim: int, start: int | None = None, end: int | None = None, step: int = 1) -> Tensor:
    """The `slice` op: positions `start` to `end` (exclusive) by `step` along `dim`, as `x[:, start:end:step]`."""
    out: Tensor = torch.ops.aten.slice(x, dim, start, end, step)
    return out


def make_tensor(shape: list[int], init: Any = "zeros", dtype: str = "float32", **flags: Any) -> Tensor:
    """The uninitialised tensor of a `Parameter` or `Buffer` node (the compiler initialises and registers it).

    Called when a model is built, never by generated code; `dtype` is a name of `_tensor_ops.TENSOR_DTYPES`.
    """
    return torch.empty(tuple(shape), dtype=getattr(torch, dtype))
