"""The built-in layers: their shape, inference, MAC and parameter rules, the value checks of
their arguments, and their catalog entries.

Each op carries the name and keyword arguments of its `torch.nn` class (or of netspec's own
class in `_modules`, for a layer `torch.nn` lacks), as the class's own signature declares them;
they are read from the signature snapshot (`_signatures`), so that building the catalog imports
no torch, and the class is imported only when a module is built. MACs count the multiply-accumulates of convolutions and linear layers only (bias
additions, norms, activations and pooling count 0), which is how published figures such as
"1.81 GMACs for ResNet-18" are measured. The registry (`_ops`) collects `layer_ops()`.
"""

from __future__ import annotations

import dataclasses
import math
import types
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ._args import (
    ArgProblem,
    InferRule,
    MacsRule,
    OpDef,
    ParamRule,
    ShapeRule,
    _generic_problems,
    _join_or,
    _mismatch_hint,
    _mismatch_message,
    _render,
    _value_problem,
    _values,
)
from ._dims import Dim, Shape, ShapeCheck, ShapeError, Values, format_shape
from ._errors import did_you_mean
from ._rules import (
    _AXIS_NAMES,
    _MODE_RANKS,
    _check_channels,
    _concrete,
    _contiguous_values,
    _elements,
    _expect_ranks,
    _expect_spatial_rank,
    _layout,
    _no_macs,
    _no_params,
    _normalize_axis,
    _numel,
    _per_axis,
    _same_shape,
    _scaled,
)
from ._signatures import signature

__all__ = ["layer_ops"]


def layer_ops() -> list[OpDef]:
    """The catalog entries of the built-in `torch.nn` layers."""
    return _spatial_ops() + _other_ops()


# -- convolutions -------------------------------------------------------------------------------


def _conv_geometry(op: str, args: dict[str, Any], spatial: int) -> tuple[tuple[int, ...], ...]:
    kernel = _per_axis(op, "kernel_size", args["kernel_size"], spatial)
    stride = _per_axis(op, "stride", args["stride"], spatial)
    dilation = _per_axis(op, "dilation", args["dilation"], spatial)
    return kernel, stride, dilation


def _check_groups(op: str, args: dict[str, Any]) -> None:
    groups = args["groups"]
    for name in ("in_channels", "out_channels"):
        if args[name] % groups:
            raise ShapeError(f"`{name}` (={args[name]}) of `{op}` must be divisible by `groups` (={groups})")


# (spatial sizes, (kernel, stride, dilation), args, check) -> output spatial sizes
_OutputSizes = Callable[[Shape, tuple[tuple[int, ...], ...], dict[str, Any], ShapeCheck], Shape]


def _conv_family_shape(op: str, spatial: int, output_sizes: _OutputSizes) -> ShapeRule:
    """The shape rule shared by convolutions and transposed convolutions.

    The input is `[N, C, *spatial]` (or unbatched) with `in_channels` channels, `groups` divides
    both channel counts, and the output has `out_channels` channels; `output_sizes` maps the
    spatial sizes.
    """

    def rule(inputs: list[Shape], args: dict[str, Any], check: ShapeCheck) -> Shape:
        (shape,) = inputs
        axis = _expect_spatial_rank(op, shape, spatial)
        _check_channels(op, "in_channels", args["in_channels"], shape, axis)
        _check_groups(op, args)
        geometry = _conv_geometry(op, args, spatial)
        return shape[:axis] + (args["out_channels"],) + output_sizes(shape[axis + 1 :], geometry, args, check)

    return rule


def _conv_shape(spatial: int) -> ShapeRule:
    op = f"Conv{spatial}d"

    def output_sizes(
        sizes: Shape, geometry: tuple[tuple[int, ...], ...], args: dict[str, Any], check: ShapeCheck
    ) -> Shape:
        kernel, stride, dilation = geometry
        padding = args["padding"]
        if isinstance(padding, str):
            if padding == "same" and any(s != 1 for s in stride):
                raise ShapeError(f"`{op}` with `padding: same` needs stride 1, got {_render(args['stride'])}")
            if padding == "same":
                for size, k, d, name in zip(sizes, kernel, dilation, _AXIS_NAMES[spatial]):
                    total = d * (k - 1)  # torch pads total // 2 before and the rest after
                    _check_mode_padding(op, args["padding_mode"], size, total - total // 2, name, check, " (same)")
                return sizes
            padding = 0
        padding = _per_axis(op, "padding", padding, spatial)
        out = []
        for size, k, s, p, d, name in zip(sizes, kernel, stride, padding, dilation, _AXIS_NAMES[spatial]):
            span = d * (k - 1) + 1
            _check_mode_padding(op, args["padding_mode"], size, p, name, check)
            size_out = (size + 2 * p - span) // s + 1
            check.positive(size_out, f"`{op}` output {name}", hint=_too_small_hint(size, span, p))
            check.exact_window(size, span, s, p, f"`{op}` {name}")
            out.append(size_out)
        return tuple(out)

    return _conv_family_shape(op, spatial, output_sizes)


# torch's words when a reflect or circular padding does not fit the input
_MODE_PADDING_WORDS = {
    "reflect": "Padding size should be less than the corresponding input dimension",
    "circular": "Padding value causes wrapping around more than once",
}


def _check_mode_padding(op: str, mode: str, size: Dim, side: int, name: str, check: ShapeCheck, how: str = "") -> None:
    """A reflect padding of `side` needs more input than that on the axis; a circular one as much."""
    if mode not in _MODE_PADDING_WORDS or not side:
        return
    check.at_least(
        size,
        side + (mode == "reflect"),
        f"`{op}` input {name} with {mode} padding {side}{how}",
        hint=f'torch: "{_MODE_PADDING_WORDS[mode]}"; give a larger input, or use `padding_mode: zeros`',
    )


def _too_small_hint(size: Dim, span: int, padding: int) -> str:
    return f"the input ({size}, padded by {padding} on each side) is smaller than the window of {span}"


def _conv_transpose_shape(spatial: int) -> ShapeRule:
    op = f"ConvTranspose{spatial}d"

    def output_sizes(
        sizes: Shape, geometry: tuple[tuple[int, ...], ...], args: dict[str, Any], check: ShapeCheck
    ) -> Shape:
        kernel, stride, dilation = geometry
        padding = _per_axis(op, "padding", args["padding"], spatial)
        extra = _per_axis(op, "output_padding", args["output_padding"], spatial)
        out = []
        for size, k, s, p, d, e, name in zip(sizes, kernel, stride, padding, dilation, extra, _AXIS_NAMES[spatial]):
            if e >= max(s, d):
                raise ShapeError(
                    f"`output_padding` ({e}) of `{op}` must be smaller than `stride` ({s}) or `dilation` ({d})"
                )
            size_out = (size - 1) * s - 2 * p + d * (k - 1) + e + 1
            check.positive(size_out, f"`{op}` output {name}")
            out.append(size_out)
        return tuple(out)

    return _conv_family_shape(op, spatial, output_sizes)


def _kernel_volume(args: dict[str, Any], spatial: int) -> int:
    kernel = args["kernel_size"]
    return math.prod(kernel) if isinstance(kernel, (tuple, list)) else kernel**spatial


def _conv_macs(spatial: int, transposed: bool) -> MacsRule:
    """Per output element (per input element when transposed): one MAC per weight it meets."""

    def macs(inputs: list[Shape], output: Shape, args: dict[str, Any]) -> int:
        kernel = _kernel_volume(args, spatial)
        groups: int = args["groups"]
        if transposed:
            out_channels: int = args["out_channels"]
            return _elements(inputs[0]) * (out_channels // groups) * kernel
        in_channels: int = args["in_channels"]
        return _elements(output) * (in_channels // groups) * kernel

    return macs


def _conv_params(spatial: int) -> ParamRule:
    def count(args: dict[str, Any]) -> int:
        out_channels: int = args["out_channels"]
        weights: int = args["in_channels"] * (out_channels // args["groups"]) * _kernel_volume(args, spatial)
        return weights + (out_channels if args["bias"] else 0)

    return count


def _channel_infer(op: str, name: str, spatial: int | None) -> InferRule:
    """Infer `name` from the channel axis: axis 1 when `spatial` is None, else from an `[N, C, *spatial]` layout."""

    def infer(inputs: list[Shape], args: dict[str, Any]) -> dict[str, Any]:
        shape = inputs[0]
        if spatial is None:
            if len(shape) < 2:
                raise ShapeError(
                    f"`{op}` expects an input [N, C, ...] with a channel dimension, got {format_shape(shape)}"
                )
            axis = 1
        else:
            axis = _expect_spatial_rank(op, shape, spatial)
        return {name: _concrete(op, shape[axis], "channels", shape)}

    return infer


# -- pooling ------------------------------------------------------------------------------------


def _pool_shape(op: str, spatial: int, *, dilated: bool) -> ShapeRule:
    def rule(inputs: list[Shape], args: dict[str, Any], check: ShapeCheck) -> Shape:
        (shape,) = inputs
        axis = _expect_spatial_rank(op, shape, spatial)
        kernel = _per_axis(op, "kernel_size", args["kernel_size"], spatial)
        stride = kernel if args["stride"] is None else _per_axis(op, "stride", args["stride"], spatial)
        padding = _per_axis(op, "padding", args["padding"], spatial)
        dilation = _per_axis(op, "dilation", args["dilation"], spatial) if dilated else (1,) * spatial
        out = []
        for size, k, s, p, d, name in zip(shape[axis + 1 :], kernel, stride, padding, dilation, _AXIS_NAMES[spatial]):
            if p > k // 2:
                raise ShapeError(f"`padding` ({p}) of `{op}` must be at most half of `kernel_size` ({k})")
            span = d * (k - 1) + 1
            if args["ceil_mode"]:
                # ceil((size + 2p - span) / s) + 1, minus a last window that would start in the right padding
                size_out = (size + min(p - 1, 2 * p - span + s - 1)) // s + 1
            else:
                size_out = (size + 2 * p - span) // s + 1
                check.exact_window(size, span, s, p, f"`{op}` {name}")
            check.positive(size_out, f"`{op}` output {name}", hint=_too_small_hint(size, span, p))
            out.append(size_out)
        return shape[: axis + 1] + tuple(out)

    return rule


def _adaptive_pool_shape(op: str, spatial: int) -> ShapeRule:
    def rule(inputs: list[Shape], args: dict[str, Any], check: ShapeCheck) -> Shape:
        (shape,) = inputs
        axis = _expect_spatial_rank(op, shape, spatial)
        sizes = _per_axis(op, "output_size", args["output_size"], spatial)
        return shape[: axis + 1] + tuple(old if new is None else new for old, new in zip(shape[axis + 1 :], sizes))

    return rule


# -- normalization ------------------------------------------------------------------------------


def _batch_norm_shape(op: str, layouts: Mapping[int, str]) -> ShapeRule:
    def rule(inputs: list[Shape], args: dict[str, Any], check: ShapeCheck) -> Shape:
        (shape,) = inputs
        _expect_ranks(op, shape, layouts)
        _check_channels(op, "num_features", args["num_features"], shape, 1)
        return shape

    return rule


def _batch_norm_infer(op: str, layouts: Mapping[int, str]) -> InferRule:
    def infer(inputs: list[Shape], args: dict[str, Any]) -> dict[str, Any]:
        _expect_ranks(op, inputs[0], layouts)
        return {"num_features": _concrete(op, inputs[0][1], "channels", inputs[0])}

    return infer


def _instance_norm_shape(op: str, spatial: int) -> ShapeRule:
    def rule(inputs: list[Shape], args: dict[str, Any], check: ShapeCheck) -> Shape:
        (shape,) = inputs
        axis = _expect_spatial_rank(op, shape, spatial)
        _check_channels(op, "num_features", args["num_features"], shape, axis)
        return shape

    return rule


def _norm_params(args: dict[str, Any]) -> int:
    if not args["affine"]:
        return 0
    num_features: int = args["num_features"]
    return num_features * (2 if args["bias"] else 1)


def _norm_buffers(args: dict[str, Any]) -> int:
    """`running_mean`, `running_var` and `num_batches_tracked` when running statistics are kept."""
    return 2 * args["num_features"] + 1 if args["track_running_stats"] else 0


def _group_norm_shape(inputs: list[Shape], args: dict[str, Any], check: ShapeCheck) -> Shape:
    (shape,) = inputs
    if len(shape) < 2:
        raise ShapeError(f"`GroupNorm` expects an input [N, C, ...], got {format_shape(shape)}")
    _check_channels("GroupNorm", "num_channels", args["num_channels"], shape, 1)
    if args["num_channels"] % args["num_groups"]:
        raise ShapeError(
            f"`num_channels` (={args['num_channels']}) of `GroupNorm` must be divisible by "
            f"`num_groups` (={args['num_groups']})"
        )
    return shape


def _group_norm_params(args: dict[str, Any]) -> int:
    return args["num_channels"] * (2 if args["bias"] else 1) if args["affine"] else 0


def _layer_norm_infer(inputs: list[Shape], args: dict[str, Any]) -> dict[str, Any]:
    shape = inputs[0]
    given = args.get("normalized_shape")
    count = len(given) if isinstance(given, (tuple, list)) else 1
    if count > len(shape):
        raise ShapeError(
            f"`normalized_shape` {_render(given)} of `LayerNorm` has more dimensions than the input {format_shape(shape)}"
        )
    trailing = tuple(_concrete("LayerNorm", d, "features", shape) for d in shape[len(shape) - count :])
    return {"normalized_shape": trailing if isinstance(given, (tuple, list)) else trailing[0]}


def _layer_norm_shape(inputs: list[Shape], args: dict[str, Any], check: ShapeCheck) -> Shape:
    (shape,) = inputs
    normalized = args["normalized_shape"]
    normalized = tuple(normalized) if isinstance(normalized, (tuple, list)) else (normalized,)
    if len(normalized) > len(shape):
        raise ShapeError(f"`normalized_shape` {_render(normalized)} of `LayerNorm` has more dimensions than the input")
    for dim, expected in zip(shape[len(shape) - len(normalized) :], normalized):
        check.equal(dim, expected, "the trailing dimensions of the `LayerNorm` input and `normalized_shape`")
    return shape


def _layer_norm_params(args: dict[str, Any]) -> int:
    normalized = args["normalized_shape"]
    size = math.prod(normalized) if isinstance(normalized, (tuple, list)) else normalized
    return size * (2 if args["bias"] else 1) if args["elementwise_affine"] else 0


# -- linear, reshaping, resampling --------------------------------------------------------------


def _linear_infer(inputs: list[Shape], args: dict[str, Any]) -> dict[str, Any]:
    shape = inputs[0]
    if not shape:
        raise ShapeError("`Linear` expects an input with at least one dimension [..., features], got a scalar")
    return {"in_features": _concrete("Linear", shape[-1], "features", shape)}


def _linear_shape(inputs: list[Shape], args: dict[str, Any], check: ShapeCheck) -> Shape:
    (shape,) = inputs
    if not shape:
        raise ShapeError("`Linear` expects an input with at least one dimension [..., features], got a scalar")
    actual = _concrete("Linear", shape[-1], "features", shape)
    if actual != args["in_features"]:
        raise ShapeError(
            _mismatch_message("in_features", args["in_features"], actual), _mismatch_hint("Linear", "in_features")
        )
    return shape[:-1] + (args["out_features"],)


def _flatten_shape(inputs: list[Shape], args: dict[str, Any], check: ShapeCheck) -> Shape:
    (shape,) = inputs
    if not shape:
        return (1,)
    start = _normalize_axis("Flatten", "start_dim", args["start_dim"], len(shape))
    end = _normalize_axis("Flatten", "end_dim", args["end_dim"], len(shape))
    if start > end:
        raise ShapeError(f"`start_dim` ({args['start_dim']}) of `Flatten` comes after `end_dim` ({args['end_dim']})")
    return shape[:start] + (_numel(shape[start : end + 1]),) + shape[end + 1 :]


def _unflatten_shape(inputs: list[Shape], args: dict[str, Any], check: ShapeCheck) -> Shape:
    (shape,) = inputs
    axis = _normalize_axis("Unflatten", "dim", args["dim"], len(shape))
    sizes = list(args["unflattened_size"])
    if any(s == 0 or s < -1 for s in sizes) or sizes.count(-1) > 1:
        raise ShapeError(
            f"`unflattened_size` {_render(sizes)} of `Unflatten` must hold sizes >= 1 and at most one -1",
            "torch refuses a 0 or a second -1 in it",
        )
    known = math.prod(s for s in sizes if s != -1)
    what = f"dimension {axis} of the `Unflatten` input and the product of `unflattened_size` {_render(sizes)}"
    if -1 in sizes:
        sizes[sizes.index(-1)] = shape[axis] // known
        check.equal(shape[axis] // known * known, shape[axis], what)
    else:
        check.equal(shape[axis], known, what)
    return shape[:axis] + tuple(sizes) + shape[axis + 1 :]


def _upsample_shape(inputs: list[Shape], args: dict[str, Any], check: ShapeCheck) -> Shape:
    (shape,) = inputs
    ranks = _MODE_RANKS.get(args["mode"], (3, 4, 5))
    if len(shape) not in ranks:
        wanted = _join_or([f"a {r}-D input {_layout(r - 2)}" for r in ranks])
        raise ShapeError(f"`Upsample` with mode {_render(args['mode'])} expects {wanted}, got {format_shape(shape)}")
    spatial = len(shape) - 2
    if args["size"] is not None:
        return shape[:2] + _per_axis("Upsample", "size", args["size"], spatial)
    scales = _per_axis("Upsample", "scale_factor", args["scale_factor"], spatial)
    return shape[:2] + tuple(_scaled("Upsample", size, scale) for size, scale in zip(shape[2:], scales))


def _pixel_shuffle_shape(inputs: list[Shape], args: dict[str, Any], check: ShapeCheck) -> Shape:
    (shape,) = inputs
    factor = args["upscale_factor"]
    if len(shape) < 3:
        raise ShapeError(f"`PixelShuffle` expects an input [..., C, H, W], got {format_shape(shape)}")
    channels = _concrete("PixelShuffle", shape[-3], "channels", shape)
    if channels % (factor * factor):
        raise ShapeError(
            f"`PixelShuffle` with `upscale_factor` {factor} needs channels divisible by {factor * factor}, "
            f"the input has {channels}"
        )
    return shape[:-3] + (channels // (factor * factor), shape[-2] * factor, shape[-1] * factor)


def _channel_shuffle_shape(inputs: list[Shape], args: dict[str, Any], check: ShapeCheck) -> Shape:
    (shape,) = inputs
    groups = args["groups"]
    if len(shape) < 3:
        raise ShapeError(
            f"`ChannelShuffle` expects an input [N, C, ...] with at least one dimension after the channels, "
            f"got {format_shape(shape)}"
        )
    channels = _concrete("ChannelShuffle", shape[1], "channels", shape)
    if channels % groups:
        raise ShapeError(
            f"`ChannelShuffle` with `groups` {groups} needs channels divisible by {groups}, the input has {channels}",
            "the channels are split into `groups` equal groups, then interleaved",
        )
    return shape


def _stochastic_depth_shape(inputs: list[Shape], args: dict[str, Any], check: ShapeCheck) -> Shape:
    (shape,) = inputs
    if not shape:
        raise ShapeError("`StochasticDepth` expects an input [N, ...] whose first dimension is the batch, got a scalar")
    return shape


def _zero_pad_shape(inputs: list[Shape], args: dict[str, Any], check: ShapeCheck) -> Shape:
    (shape,) = inputs
    axis = _expect_spatial_rank("ZeroPad2d", shape, 2)
    left, right, top, bottom = _per_axis("ZeroPad2d", "padding", args["padding"], 4)
    height, width = shape[axis + 1] + top + bottom, shape[axis + 2] + left + right
    check.positive(height, "`ZeroPad2d` output height")
    check.positive(width, "`ZeroPad2d` output width")
    return shape[: axis + 1] + (height, width)


def _dropout_shape(op: str, spatial: int) -> ShapeRule:
    def rule(inputs: list[Shape], args: dict[str, Any], check: ShapeCheck) -> Shape:
        (shape,) = inputs
        if op == "Dropout2d" and len(shape) == 3:
            check.warnings.append(
                "`Dropout2d` on a 3-D input drops whole channels of [N, C, L]; use `Dropout1d` for that"
            )
            return shape
        _expect_spatial_rank(op, shape, spatial, unbatched=op != "Dropout2d")
        return shape

    return rule


def _softmax_shape(op: str) -> ShapeRule:
    def rule(inputs: list[Shape], args: dict[str, Any], check: ShapeCheck) -> Shape:
        (shape,) = inputs
        if args["dim"] is not None:
            _normalize_axis(op, "dim", args["dim"], max(len(shape), 1))
        return shape

    return rule


def _prelu_shape(inputs: list[Shape], args: dict[str, Any], check: ShapeCheck) -> Shape:
    (shape,) = inputs
    count = args["num_parameters"]
    if count != 1:
        if len(shape) < 2:
            raise ShapeError(f"`PReLU` with {count} parameters needs a channel dimension, got {format_shape(shape)}")
        check.equal(shape[1], count, "the `PReLU` input channels and `num_parameters`")
    return shape


def _linear_macs(inputs: list[Shape], output: Shape, args: dict[str, Any]) -> int:
    in_features: int = args["in_features"]
    return _elements(output) * in_features


def _linear_params(args: dict[str, Any]) -> int:
    in_features: int = args["in_features"]
    out_features: int = args["out_features"]
    return in_features * out_features + (out_features if args["bias"] else 0)


# -- value checks of built-in arguments ---------------------------------------------------------


def _pairs(a: Any, b: Any) -> list[tuple[Any, Any]]:
    """Per-axis pairs of two int-or-tuple arguments (empty when their lengths differ)."""
    left, right = _values(a), _values(b)
    if len(left) == 1:
        left = left * len(right)
    if len(right) == 1:
        right = right * len(left)
    return list(zip(left, right)) if len(left) == len(right) else []


def _conv_problems(op: str, args: dict[str, Any]) -> list[ArgProblem]:
    problems = []
    padding = args.get("padding")
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            problems.append(
                _value_problem(
                    op,
                    "padding",
                    padding,
                    'must be an integer, a list, "same" or "valid"',
                    did_you_mean(padding, ("same", "valid")),
                )
            )
        elif padding == "same" and any(s != 1 for s in _values(args.get("stride", 1))):
            problems.append(
                _value_problem(
                    op, "padding", padding, "needs `stride: 1`", "give explicit padding for a strided convolution"
                )
            )
    groups = args.get("groups")
    for name in ("in_channels", "out_channels"):
        if isinstance(args.get(name), int) and isinstance(groups, int) and groups >= 1 and args[name] % groups:
            problems.append(
                ArgProblem(
                    name, f"`{name}` (={args[name]}) of `{op}` must be divisible by `groups` (={groups})", None, "value"
                )
            )
    return problems


def _pool_problems(op: str, args: dict[str, Any]) -> list[ArgProblem]:
    problems = []
    kernel, padding = args.get("kernel_size"), args.get("padding", 0)
    # a kernel below 1 is refused on its own; a mistyped padding is not in `args`
    if kernel is not None and any(k >= 1 and p > k // 2 for k, p in _pairs(kernel, padding)):
        problems.append(
            _value_problem(
                op,
                "padding",
                padding,
                f"must be at most half of `kernel_size` ({_render(args['kernel_size'])})",
            )
        )
    return problems + _single_output_problems(op, args)


def _single_output_problems(op: str, args: dict[str, Any]) -> list[ArgProblem]:
    if args.get("return_indices"):
        return [
            _value_problem(
                op, "return_indices", True, "is not supported", "a node yields one tensor; leave `return_indices` out"
            )
        ]
    return []


def _adaptive_problems(op: str, args: dict[str, Any]) -> list[ArgProblem]:
    if "output_size" in args and args["output_size"] is None:
        return [_value_problem(op, "output_size", None, "must be given")]
    return _single_output_problems(op, args)


def _group_norm_problems(op: str, args: dict[str, Any]) -> list[ArgProblem]:
    channels, groups = args.get("num_channels"), args.get("num_groups")
    if isinstance(channels, int) and isinstance(groups, int) and groups >= 1 and channels % groups:
        return [
            ArgProblem(
                "num_channels",
                f"`num_channels` (={channels}) of `GroupNorm` must be divisible by `num_groups` (={groups})",
                None,
                "value",
            )
        ]
    return []


_UPSAMPLE_MODES = ("nearest", "linear", "bilinear", "bicubic", "trilinear", "area", "nearest-exact")


def _upsample_problems(op: str, args: dict[str, Any]) -> list[ArgProblem]:
    problems = []
    if (args.get("size") is None) == (args.get("scale_factor") is None):
        problems.append(ArgProblem(None, "`Upsample` needs exactly one of `size` and `scale_factor`", None, "value"))
    mode = args.get("mode", "nearest")
    if mode not in _UPSAMPLE_MODES:
        problems.append(
            _value_problem(
                op,
                "mode",
                mode,
                "must be one of " + _join_or([_render(m) for m in _UPSAMPLE_MODES]),
                did_you_mean(mode, _UPSAMPLE_MODES),
            )
        )
    elif args.get("align_corners") is not None and mode not in ("linear", "bilinear", "bicubic", "trilinear"):
        problems.append(
            _value_problem(
                op,
                "align_corners",
                args["align_corners"],
                f"only applies to the linear, bilinear, bicubic and trilinear modes, not {_render(mode)}",
            )
        )
    return problems


def _gelu_problems(op: str, args: dict[str, Any]) -> list[ArgProblem]:
    approximate = args.get("approximate", "none")
    if approximate not in ("none", "tanh"):
        return [
            _value_problem(
                op, "approximate", approximate, 'must be "none" or "tanh"', did_you_mean(approximate, ("none", "tanh"))
            )
        ]
    return []


def _hardtanh_problems(op: str, args: dict[str, Any]) -> list[ArgProblem]:
    low, high = args.get("min_val", -1.0), args.get("max_val", 1.0)
    if isinstance(low, (int, float)) and isinstance(high, (int, float)) and high <= low:
        return [_value_problem(op, "max_val", high, f"must be greater than `min_val` ({_render(low)})")]
    return []


def _softmax_problems(op: str, args: dict[str, Any]) -> list[ArgProblem]:
    if "dim" in args and args["dim"] is None:
        return [
            ArgProblem(
                "dim",
                f"`{op}` needs `dim`, the dimension that sums to 1",
                "add `dim: 1` for [N, C, ...] scores",
                "missing",
            )
        ]
    return []


def _celu_problems(op: str, args: dict[str, Any]) -> list[ArgProblem]:
    if args.get("alpha") == 0:
        return [_value_problem(op, "alpha", 0, "must not be 0")]
    return []


def _validator(
    op: str, specific: Callable[[str, dict[str, Any]], list[ArgProblem]] | None
) -> Callable[[dict[str, Any]], list[ArgProblem]]:
    def validate(args: dict[str, Any]) -> list[ArgProblem]:
        return _generic_problems(op, args) + (specific(op, args) if specific else [])

    return validate


# -- built-in catalog ---------------------------------------------------------------------------


def _module_op(
    name: str,
    shape: ShapeRule,
    *,
    infer: InferRule | None = None,
    inferred: Iterable[str] = (),
    macs: MacsRule = _no_macs,
    params: ParamRule = _no_params,
    buffers: ParamRule | None = None,
    checks: Callable[[str, dict[str, Any]], list[ArgProblem]] | None = None,
    exclude: Iterable[str] = (),
    path: str | None = None,
    values: Callable[[list[Values], dict[str, Any], list[Shape], Any], Values] | None = None,
) -> OpDef:
    """The catalog entry of the `torch.nn` class `name` (or the class at dotted `path`).

    Its arguments come from the signature snapshot: after adding an op here, run
    `python tools/gen_signatures.py` to record the class's signature.
    """
    path = path or f"torch.nn.{name}"
    found = signature(path)
    inferred, excluded = set(inferred), set(exclude)
    args = {
        spec.name: dataclasses.replace(spec, inferred=spec.name in inferred)
        for spec in found.args
        if spec.name not in excluded
    }
    return OpDef(
        name=name,
        kind="module",
        target=path,
        args=types.MappingProxyType(args),
        shape=shape,
        infer=infer,
        macs=macs,
        param_count=params,
        buffer_count=buffers,
        doc=found.doc,
        validate=_validator(name, checks),
        values=values,
    )


def _spatial_ops() -> list[OpDef]:
    ops = []
    for n in (1, 2, 3):
        conv, convt = f"Conv{n}d", f"ConvTranspose{n}d"
        ops.append(
            _module_op(
                conv,
                _conv_shape(n),
                infer=_channel_infer(conv, "in_channels", n),
                inferred=("in_channels",),
                macs=_conv_macs(n, transposed=False),
                params=_conv_params(n),
                checks=_conv_problems,
            )
        )
        ops.append(
            _module_op(
                convt,
                _conv_transpose_shape(n),
                infer=_channel_infer(convt, "in_channels", n),
                inferred=("in_channels",),
                macs=_conv_macs(n, transposed=True),
                params=_conv_params(n),
                checks=_conv_problems,
            )
        )
        for pool, dilated in ((f"MaxPool{n}d", True), (f"AvgPool{n}d", False)):
            ops.append(_module_op(pool, _pool_shape(pool, n, dilated=dilated), checks=_pool_problems))
        for pool in (f"AdaptiveAvgPool{n}d", f"AdaptiveMaxPool{n}d"):
            ops.append(_module_op(pool, _adaptive_pool_shape(pool, n), checks=_adaptive_problems))
        instance = f"InstanceNorm{n}d"
        ops.append(
            _module_op(
                instance,
                _instance_norm_shape(instance, n),
                infer=_channel_infer(instance, "num_features", n),
                inferred=("num_features",),
                params=_norm_params,
                buffers=_norm_buffers,
            )
        )
    for name, layouts in (
        ("BatchNorm1d", {2: "[N, C]", 3: "[N, C, L]"}),
        ("BatchNorm2d", {4: "[N, C, H, W]"}),
        ("BatchNorm3d", {5: "[N, C, D, H, W]"}),
    ):
        ops.append(
            _module_op(
                name,
                _batch_norm_shape(name, layouts),
                infer=_batch_norm_infer(name, layouts),
                inferred=("num_features",),
                params=_norm_params,
                buffers=_norm_buffers,
            )
        )
    for name, spatial in (("Dropout1d", 1), ("Dropout2d", 2), ("Dropout3d", 3)):
        ops.append(_module_op(name, _dropout_shape(name, spatial)))
    return ops


_SAME_SHAPE_OPS: dict[str, Callable[[str, dict[str, Any]], list[ArgProblem]] | None] = {
    "Dropout": None,
    "AlphaDropout": None,
    "Identity": None,
    "ReLU": None,
    "ReLU6": None,
    "LeakyReLU": None,
    "ELU": None,
    "SELU": None,
    "CELU": _celu_problems,
    "GELU": _gelu_problems,
    "SiLU": None,
    "Mish": None,
    "Sigmoid": None,
    "Tanh": None,
    "Hardswish": None,
    "Hardsigmoid": None,
    "Hardtanh": _hardtanh_problems,
    "Softplus": None,
}


def _other_ops() -> list[OpDef]:
    ops = [
        _module_op(
            "Linear",
            _linear_shape,
            infer=_linear_infer,
            inferred=("in_features",),
            macs=_linear_macs,
            params=_linear_params,
            values=_contiguous_values,
        ),
        _module_op(
            "GroupNorm",
            _group_norm_shape,
            infer=_channel_infer("GroupNorm", "num_channels", None),
            inferred=("num_channels",),
            params=_group_norm_params,
            checks=_group_norm_problems,
        ),
        _module_op(
            "LayerNorm",
            _layer_norm_shape,
            infer=_layer_norm_infer,
            inferred=("normalized_shape",),
            params=_layer_norm_params,
        ),
        _module_op("Flatten", _flatten_shape),
        _module_op("Unflatten", _unflatten_shape),
        _module_op("Upsample", _upsample_shape, checks=_upsample_problems),
        _module_op("PixelShuffle", _pixel_shuffle_shape),
        _module_op("ZeroPad2d", _zero_pad_shape),
        _module_op("ChannelShuffle", _channel_shuffle_shape),
        _module_op("StochasticDepth", _stochastic_depth_shape, path="netspec._modules.StochasticDepth"),
        _module_op("PReLU", _prelu_shape, params=lambda args: args["num_parameters"]),
        _module_op("Softmax", _softmax_shape("Softmax"), checks=_softmax_problems),
        _module_op("LogSoftmax", _softmax_shape("LogSoftmax"), checks=_softmax_problems),
    ]
    for name, checks in _SAME_SHAPE_OPS.items():
        # Hardtanh's `min_value`/`max_value` are deprecated aliases of `min_val`/`max_val`
        ops.append(_module_op(name, _same_shape, checks=checks, exclude=("min_value", "max_value")))
    return ops
