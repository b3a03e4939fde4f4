"""Window ops, from which shifted-window attention (Swin) is written: `window_partition`,
`window_reverse` and `window_mask` (windows of a channels-last map, padded and cyclically shifted),
`patch_merge` (2x2 patches side by side), the gather `index_select`, `scale` (times a number), the
`RelativePositionIndex` buffer, and for Swin v2's cosine attention and continuous position bias
`normalize`, `clamp`, `exp` and the `RelativeCoordsTable` buffer, with their shape rules over
symbolic sizes.

A map [B, H, W, C] with windows of wh x ww has ceil(H / wh) * ceil(W / ww) windows per image; a
shift along an axis that one window covers is ignored (as torchvision's Swin ignores it). Their
functions are in `_windows`, named by path: the catalog imports no torch. The registry (`_ops`)
collects `window_ops()`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from ._args import ArgProblem, OpDef, _render, _value_problem
from ._dims import Dim, Shape, ShapeCheck, ShapeError, Values, contiguous_strides, format_shape, is_concrete
from ._rules import _elements, _no_macs, _no_params, _normalize_axis
from ._tensor_ops import _args

__all__ = ["window_ops"]


# -- windows ------------------------------------------------------------------------------------


def _windows_of(op: str, like: Shape, window: list[int], check: ShapeCheck) -> tuple[Dim, Dim]:
    """The windows per image and the tokens per window of a map [B, H, W, C]."""
    if len(like) != 4:
        raise ShapeError(
            f"`{op}` expects a channels-last map [B, H, W, C], got {format_shape(like)}",
            "move the channels last first, e.g. `{op: permute, dims: [0, 2, 3, 1]}`",
        )
    wh, ww = window
    return (like[1] + wh - 1) // wh * ((like[2] + ww - 1) // ww), wh * ww


def _partition_shape(inputs: list[Shape], args: dict[str, Any], check: ShapeCheck) -> Shape:
    (shape,) = inputs
    windows, tokens = _windows_of("window_partition", shape, args["window_size"], check)
    return (shape[0] * windows, tokens, shape[3])


def _check_windows(op: str, shape: Shape, like: Shape, args: dict[str, Any], check: ShapeCheck, rank: int) -> None:
    windows, tokens = _windows_of(op, like, args["window_size"], check)
    layout = "[B * windows, T, C]" if rank == 3 else "[B * windows, heads, T, T]"
    noun = "windows" if rank == 3 else "scores"
    if len(shape) != rank:
        raise ShapeError(f"`{op}` expects {noun} {layout}, got {format_shape(shape)}")
    for axis in (1,) if rank == 3 else (2, 3):
        if is_concrete(shape[axis]) and shape[axis] != tokens:
            raise ShapeError(
                f"the {noun} {format_shape(shape)} of `{op}` have {shape[axis]} tokens in dimension {axis}, but "
                f"a window of `window_size` {_render(args['window_size'])} has {tokens}",
                "give the `window_size` of the `window_partition` that made them",
            )
        if shape[axis] != tokens:  # equal sizes need no check (and no message)
            check.equal(shape[axis], tokens, f"the tokens per window of the `{op}` input {format_shape(shape)}")
    count = like[0] * windows
    if shape[0] != count:
        check.equal(
            shape[0],
            count,
            f"the windows of the `{op}` input {format_shape(shape)} and of the map {format_shape(like)}",
        )


def _reverse_shape(inputs: list[Shape], args: dict[str, Any], check: ShapeCheck) -> Shape:
    windows, like = inputs
    _check_windows("window_reverse", windows, like, args, check, 3)
    return (like[0], like[1], like[2], windows[2])


def _mask_shape(inputs: list[Shape], args: dict[str, Any], check: ShapeCheck) -> Shape:
    scores, like = inputs
    _check_windows("window_mask", scores, like, args, check, 4)
    return scores


def _window_problems(op: str) -> Callable[[dict[str, Any]], list[ArgProblem]]:
    def validate(args: dict[str, Any]) -> list[ArgProblem]:
        problems = []
        window = args.get("window_size")
        shift = args.get("shift_size", [0, 0])
        if isinstance(window, list):
            if len(window) != 2:
                problems.append(_value_problem(op, "window_size", window, "must give a height and a width"))
            elif any(isinstance(w, int) and w < 1 for w in window):
                problems.append(_value_problem(op, "window_size", window, "must list sizes of at least 1"))
        if isinstance(shift, list) and not problems:
            if len(shift) != 2:
                problems.append(_value_problem(op, "shift_size", shift, "must give a height and a width"))
            elif any(isinstance(s, int) and s < 0 for s in shift):
                problems.append(_value_problem(op, "shift_size", shift, "must list shifts of at least 0"))
            elif (
                isinstance(window, list)
                and len(window) == 2
                and any(isinstance(s, int) and isinstance(w, int) and s >= w for s, w in zip(shift, window))
            ):
                problems.append(
                    _value_problem(
                        op,
                        "shift_size",
                        shift,
                        f"must be smaller than `window_size` {_render(window)}",
                        "Swin shifts by half a window: `window_size // 2`",
                    )
                )
        return problems

    return validate


# -- patch merging ------------------------------------------------------------------------------


def _merge_shape(inputs: list[Shape], args: dict[str, Any], check: ShapeCheck) -> Shape:
    (shape,) = inputs
    if len(shape) < 3:
        raise ShapeError(f"`patch_merge` expects a channels-last map [..., H, W, C], got {format_shape(shape)}")
    *lead, height, width, channels = shape
    return (*lead, (height + 1) // 2, (width + 1) // 2, 4 * channels)


# -- gathering and scaling ----------------------------------------------------------------------


def _index_select_shape(inputs: list[Shape], args: dict[str, Any], check: ShapeCheck) -> Shape:
    shape, index = inputs
    if not shape:
        raise ShapeError("`index_select` needs an input with at least one dimension, got a scalar")
    if len(index) != 1:
        raise ShapeError(
            f"the index {format_shape(index)} of `index_select` must have one dimension",
            "flatten it first (`{op: Flatten, start_dim: 0}`), then reshape the result",
        )
    axis = _normalize_axis("index_select", "dim", args["dim"], len(shape))
    return shape[:axis] + (index[0],) + shape[axis + 1 :]


_INDEX_DTYPES = ("int64", "int32")


def _index_select_values(values: list[Values], args: dict[str, Any], shapes: list[Shape], output: Any) -> Values:
    """The index must be integers (torch: "Expected dtype int32 or int64 for index"), and where its
    values are known (an index buffer netspec computes), positions of the dimension it picks from."""
    table, index = values
    if index.dtype is not None and index.dtype not in _INDEX_DTYPES:
        raise ShapeError(
            f"the index of `index_select` is a {index.dtype} tensor; "
            'torch: "index_select(): Expected dtype int32 or int64 for index"',
            "index with an integer tensor, such as a `RelativePositionIndex` buffer",
        )
    shape = shapes[0]
    axis = _normalize_axis("index_select", "dim", args["dim"], len(shape))
    size = shape[axis]
    if index.low is not None and index.high is not None:
        if index.low < 0 or (is_concrete(size) and index.high >= size):
            raise ShapeError(
                f"the index of `index_select` holds values from {index.low} to {index.high}, but dimension "
                f"{axis} of the input {format_shape(shape)} has {size} positions (0 to {size - 1}); "
                'torch: "index out of range in self"',
                "make the table as large as the index needs, e.g. `(2 * wh - 1) * (2 * ww - 1)` rows for a "
                "`RelativePositionIndex` of `window_size` [wh, ww]",
            )
    return Values(table.dtype, strides=contiguous_strides(output))


def _scale_problems(args: dict[str, Any]) -> list[ArgProblem]:
    by = args.get("by")
    if isinstance(by, float) and by != by:
        return [_value_problem("scale", "by", by, "must be a number, not NaN")]
    return []


# -- the relative position index ----------------------------------------------------------------


def _index_shape(inputs: list[Shape], args: dict[str, Any], check: ShapeCheck) -> Shape:
    wh, ww = args["window_size"]
    return ((wh * ww) ** 2,) if args.get("flat", True) else (wh * ww, wh * ww)


def _index_values(values: list[Values], args: dict[str, Any], shapes: list[Shape], output: Any) -> Values:
    wh, ww = args["window_size"]
    return Values("int64", 0, (2 * wh - 1) * (2 * ww - 1) - 1, contiguous_strides(output))


def _index_problems(args: dict[str, Any]) -> list[ArgProblem]:
    problems = _window_problems("RelativePositionIndex")({"window_size": args.get("window_size"), "shift_size": None})
    window = args.get("window_size")
    if not problems and isinstance(window, list) and all(isinstance(w, int) for w in window):
        if (window[0] * window[1]) ** 2 > 1 << 24:
            problems.append(
                _value_problem("RelativePositionIndex", "window_size", window, "makes an index of over 16M entries")
            )
    return problems


def _coords_shape(inputs: list[Shape], args: dict[str, Any], check: ShapeCheck) -> Shape:
    wh, ww = args["window_size"]
    return (1, 2 * wh - 1, 2 * ww - 1, 2)


def _coords_problems(args: dict[str, Any]) -> list[ArgProblem]:
    window = args.get("window_size")
    problems = _window_problems("RelativeCoordsTable")({"window_size": window, "shift_size": None})
    if not problems and isinstance(window, list) and any(isinstance(w, int) and w < 2 for w in window):
        problems.append(
            _value_problem(
                "RelativeCoordsTable",
                "window_size",
                window,
                "must list sizes of at least 2 (offsets are divided by size - 1)",
            )
        )
    return problems


def _clamp_problems(args: dict[str, Any]) -> list[ArgProblem]:
    low, high = args.get("min"), args.get("max")
    if isinstance(low, (int, float)) and isinstance(high, (int, float)) and low > high:
        return [_value_problem("clamp", "min", low, f"must not be above `max` ({high})")]
    return []


def _linear_shape(inputs: list[Shape], args: dict[str, Any], check: ShapeCheck) -> Shape:
    x, weight = inputs[0], inputs[1]
    if not x or len(weight) != 2:
        raise ShapeError(
            f"`linear` takes an input [..., in] and a weight [out, in], got {format_shape(x)} and {format_shape(weight)}"
        )
    if is_concrete(x[-1] - weight[1]) and x[-1] != weight[1]:
        raise ShapeError(
            f"the input {format_shape(x)} of `linear` has {x[-1]} features, but its weight {format_shape(weight)} "
            f"takes {weight[1]}"
        )
    check.equal(x[-1], weight[1], "the features of the `linear` input and its weight")
    if len(inputs) == 3:
        bias = inputs[2]
        if len(bias) != 1 or (is_concrete(bias[0] - weight[0]) and bias[0] != weight[0]):
            raise ShapeError(f"the bias {format_shape(bias)} of `linear` must be [{weight[0]}], one per output")
    return tuple(x[:-1]) + (weight[0],)


def _linear_macs(inputs: list[Shape], output: Shape, args: dict[str, Any]) -> int:
    inner = inputs[1][1]
    assert is_concrete(inner)  # node_macs calls MAC rules only on shapes of plain integers
    return _elements(output) * inner


def _same_shape(inputs: list[Shape], args: dict[str, Any], check: ShapeCheck) -> Shape:
    return inputs[0]


def _normalize_shape(inputs: list[Shape], args: dict[str, Any], check: ShapeCheck) -> Shape:
    (shape,) = inputs
    if not shape:
        raise ShapeError("`normalize` needs an input with at least one dimension, got a scalar")
    _normalize_axis("normalize", "dim", args["dim"], len(shape))
    return shape


_Window = list[int]


def window_ops() -> list[OpDef]:
    """The catalog entries of the window ops."""
    function = functools.partial(OpDef, kind="function", macs=_no_macs, param_count=_no_params)
    window_args = _args(("window_size", _Window), ("shift_size", _Window, [0, 0]))
    return [
        function(
            name="window_partition",
            target="netspec._windows.window_partition",
            args=window_args,
            shape=_partition_shape,
            validate=_window_problems("window_partition"),
            doc="Cut a map [B, H, W, C] into windows [B * windows, wh * ww, C]: padded at the bottom and right "
            "to a multiple of `window_size`, first rolled up and left by `shift_size` (Swin's shifted windows).",
        ),
        function(
            name="window_reverse",
            target="netspec._windows.window_reverse",
            args=window_args,
            shape=_reverse_shape,
            min_inputs=2,
            max_inputs=2,
            validate=_window_problems("window_reverse"),
            doc="Put windows [B * windows, wh * ww, C'] back into a map of the second input's size [B, H, W, C']: "
            "undo `window_partition`'s shift and padding.",
        ),
        function(
            name="window_mask",
            target="netspec._windows.window_mask",
            args=window_args,
            shape=_mask_shape,
            min_inputs=2,
            max_inputs=2,
            validate=_window_problems("window_mask"),
            doc="Add to attention scores [B * windows, heads, T, T] of shifted windows of the second input -100 "
            "between tokens that the cyclic shift brought together; unchanged without a shift.",
        ),
        function(
            name="patch_merge",
            target="netspec._windows.patch_merge",
            args=_args(),
            shape=_merge_shape,
            doc="Put each 2x2 patch's tokens side by side: [..., H, W, C] -> [..., ceil(H/2), ceil(W/2), 4C], "
            "odd sizes padded (Swin's patch merging).",
        ),
        OpDef(
            name="index_select",
            kind="function",
            target="netspec._windows.index_select",
            args=_args(("dim", int, 0)),
            shape=_index_select_shape,
            values=_index_select_values,
            min_inputs=2,
            max_inputs=2,
            macs=_no_macs,
            param_count=_no_params,
            doc="The entries of the first input at the positions the second (1-D, integers) lists along `dim`, "
            "as `torch.index_select`: a table's rows picked by an index buffer.",
        ),
        function(
            name="scale",
            target="netspec._windows.scale",
            args=_args(("by", float)),
            shape=_same_shape,
            validate=_scale_problems,
            doc="Multiply by the number `by` (`x * by`), as attention scales its queries.",
        ),
        OpDef(
            name="linear",
            kind="function",
            target="torch.nn.functional.linear",
            args=_args(),
            shape=_linear_shape,
            min_inputs=2,
            max_inputs=3,
            macs=_linear_macs,
            param_count=_no_params,
            doc="`x @ weight.T + bias` of an input, a weight [out, in] and a bias [out] that other nodes give "
            "(`Parameter` nodes, or a bias changed first), as `torch.nn.functional.linear`.",
        ),
        function(
            name="normalize",
            target="torch.nn.functional.normalize",
            args=_args(("p", float, 2.0), ("dim", int, 1), ("eps", float, 1e-12)),
            shape=_normalize_shape,
            doc="Divide by the `p`-norm along `dim` (at least `eps`), as `torch.nn.functional.normalize`: "
            "Swin v2's cosine attention normalises its queries and keys.",
        ),
        function(
            name="clamp",
            target="torch.clamp",
            args=_args(("min", float | None, None), ("max", float | None, None)),
            shape=_same_shape,
            validate=_clamp_problems,
            doc="Limit the values to `min` and/or `max`, as `torch.clamp`.",
        ),
        function(
            name="exp",
            target="torch.exp",
            args=_args(),
            shape=_same_shape,
            doc="The exponential of each value, as `torch.exp`.",
        ),
        OpDef(
            name="RelativeCoordsTable",
            kind="tensor",
            target="netspec._windows.relative_coords_table",
            args=_args(("window_size", _Window), ("persistent", bool, True)),
            shape=_coords_shape,
            min_inputs=0,
            max_inputs=0,
            macs=_no_macs,
            param_count=_no_params,
            validate=_coords_problems,
            doc="A buffer of float32 [1, 2wh - 1, 2ww - 1, 2]: each offset inside a window, scaled to [-8, 8] and "
            "log-spaced, the input of Swin v2's continuous position bias MLP.",
        ),
        OpDef(
            name="RelativePositionIndex",
            kind="tensor",
            target="netspec._windows.relative_position_index",
            args=_args(("window_size", _Window), ("persistent", bool, True), ("flat", bool, True)),
            shape=_index_shape,
            values=_index_values,
            min_inputs=0,
            max_inputs=0,
            macs=_no_macs,
            param_count=_no_params,
            validate=_index_problems,
            doc="A buffer of int64 [(wh * ww)^2]: for each (query, key) pair of a window's tokens, the row of a "
            "relative position bias table [(2wh - 1) * (2ww - 1), heads] that holds their offset; with "
            "`flat: false` laid out [wh * ww, wh * ww], one row per query (MaxViT's).",
        ),
    ]
