"""The table of argument values and combinations that torch refuses, for every built-in op.

Each row names the ops it applies to, the argument it is about, a condition on the arguments
(or, for a `ShapeRefusal`, on the input shape), netspec's wording of the rule, the words torch
itself uses when it refuses the value, and an example that trips it. The table is data: the
conditions are a small fixed vocabulary (`Below`, `NotDivisible`, `All`, ...), evaluated with the
op's well-typed arguments (defaults filled in) when a spec is validated, never with torch. A
catalog op is either in the table or in `NOTHING_BEYOND_TYPES`, the ops whose arguments torch
accepts whenever their types are right (what depends on the input's shape, such as a `dim` out of
range, is the op's shape rule's).

`tests/test_refusals.py` builds every row's example with torch and checks that torch refuses it
with the words of the row, and that `validate` refuses it at the argument's line and column.
Argument rows are reported as `NS147` at the argument (after the op's own checks: when those
already refuse the argument, the row adds torch's words to their message); shape rows as `NS200`
at the node. The registry (`_ops`) applies the table to the built-in ops with `apply`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any, TypeGuard

from ._args import ArgProblem, OpDef, ShapeRule, _render, _values
from ._dims import Ports, Shape, ShapeCheck, ShapeError, format_shape, is_concrete

__all__ = [
    "ARG_REFUSALS",
    "NOTHING_BEYOND_TYPES",
    "SHAPE_REFUSALS",
    "ArgRefusal",
    "ShapeRefusal",
    "apply",
    "refusals_of",
]

MAX_SCALE = 2**48  # a larger scale factor makes a size past netspec's limit (and torch's int64 overflow)


# -- conditions on arguments ----------------------------------------------------------------------


def _numbers(value: Any) -> list[int | float]:
    return [v for v in _values(value) if isinstance(v, (int, float)) and not isinstance(v, bool)]


@dataclasses.dataclass(frozen=True)
class Below:
    """Some number of `arg` (an int, a float or a list of them) is below `bound`."""

    arg: str
    bound: float

    def fires(self, args: Mapping[str, Any]) -> bool:
        return any(v < self.bound for v in _numbers(args.get(self.arg)))


@dataclasses.dataclass(frozen=True)
class Above:
    """Some number of `arg` is above `bound`."""

    arg: str
    bound: float

    def fires(self, args: Mapping[str, Any]) -> bool:
        return any(v > self.bound for v in _numbers(args.get(self.arg)))


@dataclasses.dataclass(frozen=True)
class Outside:
    """Some number of `arg` is outside [`low`, `high`]."""

    arg: str
    low: float
    high: float

    def fires(self, args: Mapping[str, Any]) -> bool:
        return any(not self.low <= v <= self.high for v in _numbers(args.get(self.arg)))


@dataclasses.dataclass(frozen=True)
class Is:
    """`arg` is `value` (of the same type: `true` is not 1)."""

    arg: str
    value: Any

    def fires(self, args: Mapping[str, Any]) -> bool:
        given = args.get(self.arg)
        return isinstance(given, bool) == isinstance(self.value, bool) and given == self.value


@dataclasses.dataclass(frozen=True)
class Given:
    """`arg` is given (not null)."""

    arg: str

    def fires(self, args: Mapping[str, Any]) -> bool:
        return args.get(self.arg) is not None


@dataclasses.dataclass(frozen=True)
class Missing:
    """`arg` is null."""

    arg: str

    def fires(self, args: Mapping[str, Any]) -> bool:
        return args.get(self.arg) is None


@dataclasses.dataclass(frozen=True)
class NotIn:
    """`arg` is a string other than `choices`."""

    arg: str
    choices: tuple[str, ...]

    def fires(self, args: Mapping[str, Any]) -> bool:
        value = args.get(self.arg)
        return isinstance(value, str) and value not in self.choices


@dataclasses.dataclass(frozen=True)
class NotDivisible:
    """The integer `arg` is not a multiple of the integer `by` (when `by` is at least 1)."""

    arg: str
    by: str

    def fires(self, args: Mapping[str, Any]) -> bool:
        value, by = args.get(self.arg), args.get(self.by)
        return _is_int(value) and _is_int(by) and by >= 1 and value % by != 0


@dataclasses.dataclass(frozen=True)
class NotAbove:
    """The number `arg` is at most the number `other`."""

    arg: str
    other: str

    def fires(self, args: Mapping[str, Any]) -> bool:
        value, other = _numbers(args.get(self.arg)), _numbers(args.get(self.other))
        return len(value) == len(other) == 1 and value[0] <= other[0]


@dataclasses.dataclass(frozen=True)
class NotBelow:
    """The number `arg` is at least the number `other`."""

    arg: str
    other: str

    def fires(self, args: Mapping[str, Any]) -> bool:
        value, other = _numbers(args.get(self.arg)), _numbers(args.get(self.other))
        return len(value) == len(other) == 1 and value[0] >= other[0]


@dataclasses.dataclass(frozen=True)
class NotBelowEither:
    """On some axis, `arg` is at least both `first` and `second` (per-axis ints or lists)."""

    arg: str
    first: str
    second: str

    def fires(self, args: Mapping[str, Any]) -> bool:
        axes = _axes(args.get(self.arg), args.get(self.first), args.get(self.second))
        return any(v >= max(a, b) for v, a, b in axes)


@dataclasses.dataclass(frozen=True)
class AboveHalf:
    """On some axis, `arg` is more than half of `of` (rounded down)."""

    arg: str
    of: str

    def fires(self, args: Mapping[str, Any]) -> bool:
        return any(v > k // 2 for v, k in _axes(args.get(self.arg), args.get(self.of)))


@dataclasses.dataclass(frozen=True)
class Empty:
    """`arg` is an empty list."""

    arg: str

    def fires(self, args: Mapping[str, Any]) -> bool:
        value = args.get(self.arg)
        return isinstance(value, (list, tuple)) and not value


@dataclasses.dataclass(frozen=True)
class Repeats:
    """`arg` is a list with an item twice (as written: `1` and `-3` are told apart by the shape rule)."""

    arg: str

    def fires(self, args: Mapping[str, Any]) -> bool:
        value = args.get(self.arg)
        items = [v for v in value if _is_int(v)] if isinstance(value, (list, tuple)) else []
        return len(set(items)) < len(items)


@dataclasses.dataclass(frozen=True)
class OddLength:
    """`arg` is a list of odd length."""

    arg: str

    def fires(self, args: Mapping[str, Any]) -> bool:
        value = args.get(self.arg)
        return isinstance(value, (list, tuple)) and len(value) % 2 == 1


@dataclasses.dataclass(frozen=True)
class SameSignAfter:
    """`arg` and `other` are both non-negative or both negative, and `arg` is the larger."""

    arg: str
    other: str

    def fires(self, args: Mapping[str, Any]) -> bool:
        value, other = args.get(self.arg), args.get(self.other)
        return _is_int(value) and _is_int(other) and (value < 0) == (other < 0) and value > other


@dataclasses.dataclass(frozen=True)
class All:
    """Every one of `conditions` holds."""

    conditions: tuple[Condition, ...]

    def fires(self, args: Mapping[str, Any]) -> bool:
        return all(c.fires(args) for c in self.conditions)


Condition = (
    Below
    | Above
    | Outside
    | Is
    | Given
    | Missing
    | NotIn
    | NotDivisible
    | NotAbove
    | NotBelow
    | NotBelowEither
    | AboveHalf
    | Empty
    | Repeats
    | OddLength
    | SameSignAfter
    | All
)


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _axes(*values: Any) -> list[tuple[int, ...]]:
    """Per-axis tuples of int-or-list arguments (a single int stands for every axis); none when they disagree."""
    lists = [[v for v in _values(value) if _is_int(v)] for value in values]
    if any(not items for items in lists):
        return []
    length = max(len(items) for items in lists)
    if any(len(items) not in (1, length) for items in lists):
        return []
    return list(zip(*(items * length if len(items) == 1 else items for items in lists)))


# -- conditions on the input shape ----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SpatialElements:
    """The last `spatial` dimensions of the input hold at most one element (when they are concrete)."""

    spatial: int

    def check(self, inputs: list[Shape], output: Shape | Ports, check: ShapeCheck, args: Mapping[str, Any]) -> bool:
        sizes = inputs[0][-self.spatial :] if len(inputs[0]) > self.spatial else ()
        if len(sizes) == 1 and not is_concrete(sizes[0]):
            check.at_least(sizes[0], 2, "the `InstanceNorm1d` input length (more than 1 element)")
            return False
        return bool(sizes) and _at_most_one(sizes)


@dataclasses.dataclass(frozen=True)
class ValuesPerChannel:
    """Every dimension but the channels' (dimension 1) is concrete and they hold one element in all."""

    def check(self, inputs: list[Shape], output: Shape | Ports, check: ShapeCheck, args: Mapping[str, Any]) -> bool:
        shape = inputs[0]
        others = shape[:1] + shape[2:]
        return len(shape) >= 2 and _at_most_one(others)


@dataclasses.dataclass(frozen=True)
class OutputSizesPositive:
    """The output's dimensions after the first two are at least 1 (symbolic ones become conditions)."""

    what: str

    def check(self, inputs: list[Shape], output: Shape | Ports, check: ShapeCheck, args: Mapping[str, Any]) -> bool:
        shape = output.shapes[0] if isinstance(output, Ports) else output
        for axis, size in enumerate(shape[2:], start=2):
            if is_concrete(size):
                if int(size) < 1:
                    return True
            else:
                check.positive(size, f"the `{self.what}` output size in dimension {axis}")
        return False


@dataclasses.dataclass(frozen=True)
class SmallerThanKernel:
    """One of the last `spatial` input sizes is smaller than `kernel_size` on its axis, whatever the
    padding (symbolic sizes become conditions)."""

    spatial: int
    what: str

    def check(self, inputs: list[Shape], output: Shape | Ports, check: ShapeCheck, args: Mapping[str, Any]) -> bool:
        sizes = inputs[0][-self.spatial :] if len(inputs[0]) > self.spatial else ()
        kernel = args.get("kernel_size")
        kernels = list(kernel) if isinstance(kernel, (list, tuple)) else [kernel] * self.spatial
        for axis, (size, k) in enumerate(zip(sizes, kernels)):
            if not _is_int(k):
                continue
            if is_concrete(size):
                if int(size) < k:
                    return True
            else:
                check.at_least(size, k, f"the `{self.what}` input size in spatial dimension {axis + 1} (its kernel)")
        return False


def _at_most_one(sizes: Shape) -> bool:
    """The sizes are all concrete and hold at most one element."""
    return all(isinstance(s, int) for s in sizes) and math.prod(s for s in sizes if isinstance(s, int)) <= 1


ShapeCondition = SpatialElements | ValuesPerChannel | OutputSizesPositive | SmallerThanKernel


# -- rows -------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ArgRefusal:
    """Torch refuses `ops` when `when` holds for their arguments.

    `arg` is where the diagnostic points (None: the node). `rule` is netspec's wording after
    "`arg` of `Op`"; `torch` the words of torch's own refusal (None where torch's message says
    nothing useful). `example` trips the row; `input` is the shape the example runs on when torch
    refuses only in `forward` (None: the constructor refuses).
    """

    ops: tuple[str, ...]
    arg: str | None
    when: Condition
    rule: str
    torch: str | None
    example: Mapping[str, Any]
    input: tuple[int, ...] | None = None

    def problem(self, op: str, args: Mapping[str, Any]) -> ArgProblem:
        said = f'; torch: "{self.torch}"' if self.torch else ""
        if self.arg is None:
            return ArgProblem(None, f"`{op}` {self.rule}{said}", None, "value")
        return ArgProblem(
            self.arg, f"`{self.arg}` of `{op}` {self.rule}, got {_render(args.get(self.arg))}{said}", None, "value"
        )


@dataclasses.dataclass(frozen=True)
class ShapeRefusal:
    """Torch refuses `ops` in `forward` when `when` holds for the input shape (and the arguments)."""

    ops: tuple[str, ...]
    when: ShapeCondition
    rule: str
    torch: str
    example: Mapping[str, Any]
    input: tuple[int, ...]
    training_only: bool = False  # torch refuses it in training only: a warning, since eval runs


def _family(*patterns: str) -> tuple[str, ...]:
    return tuple(p.format(n) for p in patterns for n in (1, 2, 3)) if any("{}" in p for p in patterns) else patterns


_CONV = _family("Conv{}d")
_CONVT = _family("ConvTranspose{}d")
_CONVS = _CONV + _CONVT
_POOLS = _family("MaxPool{}d", "AvgPool{}d")
_POOLS_ATEN = tuple(p for p in _POOLS if p != "MaxPool1d")  # max_pool1d words its refusals its own way
_DROPOUTS = ("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout")
_NEGATIVE_DIMENSION = "Trying to create tensor with negative dimension"
_CONV_ARGS = {"in_channels": 4, "out_channels": 4, "kernel_size": 3}
_IMAGE = (2, 4, 8, 8)

# fmt: off
ARG_REFUSALS: tuple[ArgRefusal, ...] = (
    # convolutions
    ArgRefusal(_CONVS, "groups", Below("groups", 1), "must be at least 1", "groups must be a positive integer", {**_CONV_ARGS, "groups": 0}),
    ArgRefusal(_CONVS, "in_channels", NotDivisible("in_channels", "groups"), "must be divisible by `groups`", "in_channels must be divisible by groups", {**_CONV_ARGS, "in_channels": 6, "groups": 4}),
    ArgRefusal(_CONVS, "out_channels", NotDivisible("out_channels", "groups"), "must be divisible by `groups`", "out_channels must be divisible by groups", {**_CONV_ARGS, "out_channels": 6, "groups": 4}),
    ArgRefusal(_CONVS, "out_channels", Below("out_channels", 1), "must be at least 1", _NEGATIVE_DIMENSION, {**_CONV_ARGS, "out_channels": -1}),
    ArgRefusal(_CONVS, "kernel_size", Below("kernel_size", 1), "must be at least 1", _NEGATIVE_DIMENSION, {**_CONV_ARGS, "kernel_size": -1}),
    ArgRefusal(_CONVS, "stride", Below("stride", 1), "must be at least 1", "non-positive stride is not supported", {**_CONV_ARGS, "stride": 0}, _IMAGE),
    ArgRefusal(_CONV, "dilation", Below("dilation", 1), "must be at least 1", "non-positive dilation is not supported", {**_CONV_ARGS, "dilation": 0}, _IMAGE),
    ArgRefusal(_CONVT, "dilation", Below("dilation", 1), "must be at least 1", None, {**_CONV_ARGS, "dilation": 0}, _IMAGE),
    ArgRefusal(_CONVS, "padding", Below("padding", 0), "must not be negative", "negative padding is not supported", {**_CONV_ARGS, "padding": -1}, _IMAGE),
    ArgRefusal(_CONV, "padding", NotIn("padding", ("same", "valid")), 'must be an integer, a list, "same" or "valid"', "Invalid padding string", {**_CONV_ARGS, "padding": "full"}),
    ArgRefusal(_CONV, "padding", All((Is("padding", "same"), Above("stride", 1))), "needs `stride: 1`", "padding='same' is not supported for strided convolutions", {**_CONV_ARGS, "padding": "same", "stride": 2}),
    ArgRefusal(_CONVT, "padding_mode", NotIn("padding_mode", ("zeros",)), 'must be "zeros" for a transposed convolution', 'Only "zeros" padding mode is supported', {**_CONV_ARGS, "padding_mode": "reflect"}),
    ArgRefusal(_CONVT, "output_padding", Below("output_padding", 0), "must not be negative", "negative output_padding is not supported", {**_CONV_ARGS, "stride": 2, "output_padding": -1}, _IMAGE),
    ArgRefusal(_CONVT, "output_padding", NotBelowEither("output_padding", "stride", "dilation"), "must be smaller than `stride` or `dilation`", "output padding must be smaller than either stride or dilation", {**_CONV_ARGS, "stride": 2, "output_padding": 2}, _IMAGE),
    # pooling
    ArgRefusal(_POOLS_ATEN, "kernel_size", Below("kernel_size", 1), "must be at least 1", "stride should not be zero", {"kernel_size": 0}, _IMAGE),
    ArgRefusal(_POOLS_ATEN, "stride", Below("stride", 1), "must be at least 1", "stride should not be zero", {"kernel_size": 2, "stride": 0}, _IMAGE),
    ArgRefusal(_POOLS_ATEN, "padding", Below("padding", 0), "must not be negative", "pad must be non-negative", {"kernel_size": 2, "padding": -1}, _IMAGE),
    ArgRefusal(_POOLS_ATEN, "padding", AboveHalf("padding", "kernel_size"), "must be at most half of `kernel_size`", "pad should be at most half of effective kernel size", {"kernel_size": 2, "padding": 2}, _IMAGE),
    ArgRefusal(("MaxPool1d",), "kernel_size", Below("kernel_size", 1), "must be at least 1", "kernel_size must be greater than zero", {"kernel_size": 0}, _IMAGE),
    ArgRefusal(("MaxPool1d",), "stride", Below("stride", 1), "must be at least 1", "stride must be greater than zero", {"kernel_size": 2, "stride": 0}, _IMAGE),
    ArgRefusal(("MaxPool1d",), "padding", Below("padding", 0), "must not be negative", "padding must be non-negative", {"kernel_size": 2, "padding": -1}, _IMAGE),
    ArgRefusal(("MaxPool1d",), "padding", AboveHalf("padding", "kernel_size"), "must be at most half of `kernel_size`", "padding should be at most half of kernel size", {"kernel_size": 2, "padding": 2}, _IMAGE),
    ArgRefusal(_family("MaxPool{}d"), "dilation", Below("dilation", 1), "must be at least 1", "dilation", {"kernel_size": 2, "dilation": 0}, _IMAGE),
    ArgRefusal(("AvgPool2d", "AvgPool3d"), "divisor_override", Is("divisor_override", 0), "must not be 0", "divisor must be not zero", {"kernel_size": 2, "divisor_override": 0}, _IMAGE),
    ArgRefusal(_family("AdaptiveMaxPool{}d"), "output_size", Below("output_size", 0), "must be at least 1", _NEGATIVE_DIMENSION, {"output_size": -1}, _IMAGE),
    ArgRefusal(_family("AdaptiveAvgPool{}d"), "output_size", Below("output_size", 0), "must be at least 1", "elements of output_size must be greater than or equal to 0", {"output_size": -1}, _IMAGE),
    # normalization
    ArgRefusal(("BatchNorm1d", "BatchNorm2d", "BatchNorm3d"), "eps", Below("eps", 1e-300), "must be positive", "batch_norm eps must be positive during training", {"num_features": 4, "eps": 0.0}, _IMAGE),
    ArgRefusal(("GroupNorm",), "num_channels", NotDivisible("num_channels", "num_groups"), "must be divisible by `num_groups`", "must be divisible by num_groups", {"num_groups": 3, "num_channels": 4}),
    ArgRefusal(("GroupNorm",), "num_groups", Below("num_groups", 1), "must be at least 1", "integer modulo by zero", {"num_groups": 0, "num_channels": 4}),
    ArgRefusal(("LayerNorm", "LayerNorm2d"), "normalized_shape", Empty("normalized_shape"), "must list at least one size", "Expected normalized_shape to be at least 1-dimensional", {"normalized_shape": []}, _IMAGE),
    ArgRefusal(("LayerNorm",), "normalized_shape", Below("normalized_shape", 1), "must be at least 1", _NEGATIVE_DIMENSION, {"normalized_shape": -1}),
    # dropout
    ArgRefusal(_DROPOUTS, "p", Outside("p", 0, 1), "must be between 0 and 1", "dropout probability has to be between 0 and 1", {"p": 1.5}),
    ArgRefusal(("StochasticDepth",), "p", Outside("p", 0, 1), "must be between 0 and 1", "must be between 0 and 1", {"p": 1.5}),
    # linear, reshaping, resampling
    ArgRefusal(("Linear",), "out_features", Below("out_features", 1), "must be at least 1", _NEGATIVE_DIMENSION, {"in_features": 4, "out_features": -1}),
    ArgRefusal(("Flatten",), "start_dim", SameSignAfter("start_dim", "end_dim"), "comes after `end_dim`", "start_dim cannot come after end_dim", {"start_dim": 2, "end_dim": 1}, _IMAGE),
    ArgRefusal(("Unflatten",), "unflattened_size", Empty("unflattened_size"), "must list at least one size", "sizes must be non-empty", {"dim": 1, "unflattened_size": []}, (2, 1, 3)),
    ArgRefusal(("Upsample",), None, All((Missing("size"), Missing("scale_factor"))), "needs exactly one of `size` and `scale_factor`", "either size or scale_factor should be defined", {}, _IMAGE),
    ArgRefusal(("Upsample",), None, All((Given("size"), Given("scale_factor"))), "needs exactly one of `size` and `scale_factor`", "only one of size or scale_factor should be defined", {"size": 4, "scale_factor": 2.0}, _IMAGE),
    ArgRefusal(("Upsample",), "recompute_scale_factor", All((Given("size"), Is("recompute_scale_factor", True))), "only applies with `scale_factor`, not with `size`", "recompute_scale_factor is not meaningful with an explicit size", {"size": 4, "recompute_scale_factor": True}, _IMAGE),
    ArgRefusal(("Upsample",), "scale_factor", Below("scale_factor", 1e-300), "must be positive", "Input and output sizes should be greater than 0", {"scale_factor": -1.0}, _IMAGE),
    ArgRefusal(("interpolate",), "scale_factor", Below("scale_factor", 1e-300), "must be positive", "Input and output sizes should be greater than 0", {"scale_factor": [-1.0, -1.0]}, _IMAGE),
    ArgRefusal(("Upsample",), "scale_factor", Above("scale_factor", MAX_SCALE), f"must be at most {MAX_SCALE:,} (2**48)", "value cannot be converted to type int64_t without overflow", {"scale_factor": 1e30}, _IMAGE),
    ArgRefusal(("interpolate",), "scale_factor", Above("scale_factor", MAX_SCALE), f"must be at most {MAX_SCALE:,} (2**48)", "value cannot be converted to type int64_t without overflow", {"scale_factor": [1e30, 1e30]}, _IMAGE),
    ArgRefusal(("Upsample",), "size", Below("size", 1), "must be at least 1", "Input and output sizes should be greater than 0", {"size": 0}, _IMAGE),
    ArgRefusal(("interpolate",), "size", Below("size", 1), "must be at least 1", "Input and output sizes should be greater than 0", {"size": [0, 0]}, _IMAGE),
    ArgRefusal(("Upsample", "interpolate"), "align_corners", All((Given("align_corners"), NotIn("mode", ("linear", "bilinear", "bicubic", "trilinear")))), "only applies to the linear, bilinear, bicubic and trilinear modes", "align_corners option can only be set with the interpolating modes", {"scale_factor": 2.0, "align_corners": True}, _IMAGE),
    ArgRefusal(("Upsample",), "mode", NotIn("mode", ("nearest", "linear", "bilinear", "bicubic", "trilinear", "area", "nearest-exact")), "must be a mode of `interpolate`", "for the modes", {"scale_factor": 2.0, "mode": "cubic"}, _IMAGE),
    ArgRefusal(("PixelShuffle",), "upscale_factor", Below("upscale_factor", 1), "must be at least 1", "expects a positive upscale_factor", {"upscale_factor": 0}, _IMAGE),
    ArgRefusal(("PixelUnshuffle",), "downscale_factor", Below("downscale_factor", 1), "must be at least 1", "expects a positive downscale_factor", {"downscale_factor": 0}, _IMAGE),
    ArgRefusal(("ChannelShuffle",), "groups", Below("groups", 1), "must be at least 1", "Number of groups to divide channels in must be positive", {"groups": 0}, _IMAGE),
    # activations
    ArgRefusal(("PReLU",), "num_parameters", Below("num_parameters", 1), "must be at least 1", "Mismatch of parameter numbers and input channel size", {"num_parameters": 0}, _IMAGE),
    ArgRefusal(("CELU",), "alpha", Is("alpha", 0.0), "must not be 0", "alpha cannot be 0 for CELU", {"alpha": 0.0}, _IMAGE),
    ArgRefusal(("GELU",), "approximate", NotIn("approximate", ("none", "tanh")), 'must be "none" or "tanh"', "approximate argument must be either none or tanh", {"approximate": "erf"}, _IMAGE),
    ArgRefusal(("Hardtanh",), "max_val", NotAbove("max_val", "min_val"), "must be greater than `min_val`", "must be greater than min_val", {"min_val": 1.0, "max_val": -1.0}),
    # attention, embeddings, recurrent layers
    ArgRefusal(("MultiheadAttention",), "num_heads", Below("num_heads", 1), "must be at least 1", "embed_dim and num_heads must be greater than 0", {"embed_dim": 8, "num_heads": 0}),
    ArgRefusal(("MultiheadAttention",), "embed_dim", Below("embed_dim", 1), "must be at least 1", "embed_dim and num_heads must be greater than 0", {"embed_dim": 0, "num_heads": 1}),
    ArgRefusal(("MultiheadAttention",), "num_heads", NotDivisible("embed_dim", "num_heads"), "must divide `embed_dim`", "embed_dim must be divisible by num_heads", {"embed_dim": 8, "num_heads": 3}),
    ArgRefusal(("MultiheadAttention",), "dropout", Above("dropout", 1), "must be between 0 and 1", "dropout probability has to be between 0 and 1", {"embed_dim": 8, "num_heads": 2, "dropout": 1.5}, (5, 2, 8)),
    ArgRefusal(("MultiheadAttention",), "kdim", Below("kdim", 0), "must be at least 1", _NEGATIVE_DIMENSION, {"embed_dim": 8, "num_heads": 2, "kdim": -1, "vdim": 8}),
    ArgRefusal(("MultiheadAttention",), "vdim", Below("vdim", 0), "must be at least 1", _NEGATIVE_DIMENSION, {"embed_dim": 8, "num_heads": 2, "kdim": 8, "vdim": -1}),
    ArgRefusal(("ScaledDotProductAttention",), "dropout_p", Above("dropout_p", 1), "must be between 0 and 1", "dropout probability has to be between 0 and 1", {"dropout_p": 1.5}, (2, 5, 8)),
    ArgRefusal(("Embedding",), "num_embeddings", Below("num_embeddings", 0), "must be at least 1", _NEGATIVE_DIMENSION, {"num_embeddings": -1, "embedding_dim": 4}),
    ArgRefusal(("Embedding",), "embedding_dim", Below("embedding_dim", 0), "must be at least 1", _NEGATIVE_DIMENSION, {"num_embeddings": 4, "embedding_dim": -1}),
    ArgRefusal(("Embedding",), "padding_idx", All((Given("padding_idx"), NotBelow("padding_idx", "num_embeddings"))), "must be within the embeddings", "Padding_idx must be within num_embeddings", {"num_embeddings": 4, "embedding_dim": 2, "padding_idx": 4}),
    ArgRefusal(("LSTM", "GRU"), "num_layers", Below("num_layers", 1), "must be at least 1", "num_layers must be greater than zero", {"input_size": 4, "hidden_size": 4, "num_layers": 0}),
    ArgRefusal(("LSTM", "GRU"), "hidden_size", Below("hidden_size", 1), "must be at least 1", "hidden_size must be greater than zero", {"input_size": 4, "hidden_size": 0}),
    ArgRefusal(("LSTM", "GRU"), "input_size", Below("input_size", 1), "must be at least 1", "input_size must be greater than zero", {"input_size": 0, "hidden_size": 4}),
    ArgRefusal(("LSTM", "GRU"), "dropout", Outside("dropout", 0, 1), "must be between 0 and 1", "dropout should be a number in range [0, 1]", {"input_size": 4, "hidden_size": 4, "dropout": 1.5}),
    ArgRefusal(("LSTM",), "proj_size", Below("proj_size", 0), "must be at least 0", "proj_size should be a positive integer or zero", {"input_size": 4, "hidden_size": 4, "proj_size": -1}),
    ArgRefusal(("LSTM",), "proj_size", All((Above("proj_size", 0), NotBelow("proj_size", "hidden_size"))), "must be below `hidden_size`", "proj_size has to be smaller than hidden_size", {"input_size": 4, "hidden_size": 4, "proj_size": 4}),
    # edge and tensor ops
    ArgRefusal(("pad",), "pad", OddLength("pad"), "must list pairs (before, after)", "Padding length must be divisible by 2", {"pad": [1, 1, 1]}, _IMAGE),
    ArgRefusal(("mean", "sum", "amax", "amin", "squeeze"), "dim", Repeats("dim"), "names a dimension twice", "appears multiple times in the list of dims", {"dim": [1, 1]}, (2, 1, 8, 8)),
    ArgRefusal(("permute",), "dims", Repeats("dims"), "names a dimension twice", "duplicate dims are not allowed", {"dims": [0, 0, 1, 2]}, _IMAGE),
    ArgRefusal(("roll",), "shifts", Empty("shifts"), "must list at least one shift", "`shifts` required", {"shifts": [], "dims": []}, _IMAGE),
    ArgRefusal(("slice",), "step", Below("step", 1), "must be at least 1", "slice step must be positive", {"dim": 1, "step": 0}, _IMAGE),
    ArgRefusal(("split",), "split_size_or_sections", Below("split_size_or_sections", 1), "must be at least 1", "split_size", {"split_size_or_sections": -1}, _IMAGE),
    ArgRefusal(("chunk",), "chunks", Below("chunks", 1), "must be at least 1", "chunk expects `chunks` to be greater than 0", {"chunks": 0}, _IMAGE),
    ArgRefusal(("reshape", "view"), "shape", Below("shape", -1), "must list sizes of at least 1, -1 (inferred), or symbols", "invalid shape dimension", {"shape": [-2, 256]}, _IMAGE),
    ArgRefusal(("expand",), "size", Below("size", -1), "must list sizes of at least 1, -1 (inferred), or symbols", None, {"size": [-2, 8]}, (8,)),
    ArgRefusal(("Parameter", "Buffer"), "shape", Below("shape", 0), "must list sizes of at least 1", _NEGATIVE_DIMENSION, {"shape": [-1]}),
    # window ops (torch's words are those of the division by the window size)
    ArgRefusal(("window_partition", "window_reverse", "window_mask"), "window_size", Below("window_size", 1), "must list sizes of at least 1", "integer division or modulo by zero", {"window_size": [0, 7]}, _IMAGE),
    ArgRefusal(("clamp",), None, All((Missing("min"), Missing("max"))), "needs `min` or `max`", "At least one of 'min' or 'max' must not be None", {}, _IMAGE),
    ArgRefusal(("RelativeCoordsTable",), "window_size", Below("window_size", 0), "must list sizes of at least 1", "upper bound and lower bound inconsistent with step sign", {"window_size": [-1, 7]}),
    ArgRefusal(("RelativePositionIndex",), "window_size", Below("window_size", 0), "must list sizes of at least 1", "upper bound and lower bound inconsistent with step sign", {"window_size": [-1, 7]}),
)
# fmt: on

# fmt: off
SHAPE_REFUSALS: tuple[ShapeRefusal, ...] = (
    *(
        ShapeRefusal((f"InstanceNorm{n}d",), SpatialElements(n), "normalizes over one element per channel (the output would be 0)", "Expected more than 1 spatial element when training", {"num_features": 4}, (2, 4) + (1,) * n)
        for n in (1, 2, 3)
    ),
    ShapeRefusal(("BatchNorm1d", "BatchNorm2d", "BatchNorm3d"), ValuesPerChannel(), "sees one value per channel (a batch of one, with no other dimension): its variance is undefined in training", "Expected more than 1 value per channel when training", {"num_features": 4}, (1, 4), training_only=True),
    ShapeRefusal(("Upsample",), OutputSizesPositive("Upsample"), "scales a size to 0", "Input and output sizes should be greater than 0", {"scale_factor": 0.01}, _IMAGE),
    ShapeRefusal(("AvgPool3d",), SmallerThanKernel(3, "AvgPool3d"), "has an input smaller than its kernel (torch checks the input before padding it)", "smaller than kernel size", {"kernel_size": 2, "padding": 1}, (2, 1, 1, 4, 4)),
)
# fmt: on

# Ops whose arguments torch takes whenever their types are right (their shape rules check the rest).
# fmt: off
NOTHING_BEYOND_TYPES: frozenset[str] = frozenset({
    "Identity", "ReLU", "ReLU6", "LeakyReLU", "ELU", "SELU", "SiLU", "Mish", "Sigmoid", "Tanh", "Hardswish",
    "Hardsigmoid", "Softplus", "Softmax", "LogSoftmax", "ZeroPad2d", "add", "mul", "matmul", "concat", "crop",
    "transpose", "unsqueeze", "index", "patch_merge", "index_select", "scale",
    "normalize", "exp", "linear",
})
# fmt: on


def refusals_of(op: str) -> tuple[tuple[ArgRefusal, ...], tuple[ShapeRefusal, ...]]:
    """The rows of the table that apply to `op`."""
    return _by_op().get(op, ((), ()))


_BY_OP: dict[str, tuple[tuple[ArgRefusal, ...], tuple[ShapeRefusal, ...]]] = {}


def _by_op() -> dict[str, tuple[tuple[ArgRefusal, ...], tuple[ShapeRefusal, ...]]]:
    if not _BY_OP:
        names = {op for row in ARG_REFUSALS + SHAPE_REFUSALS for op in row.ops}
        for name in names:
            _BY_OP[name] = (
                tuple(r for r in ARG_REFUSALS if name in r.ops),
                tuple(r for r in SHAPE_REFUSALS if name in r.ops),
            )
    return _BY_OP


def apply(op: OpDef) -> OpDef:
    """`op` with the table's rows added to its value checks and its shape rule."""
    arg_rows, shape_rows = refusals_of(op.name)
    if not arg_rows and not shape_rows:
        return op
    validate, shape = op.validate, op.shape
    if arg_rows:
        validate = _validator(op.name, arg_rows, op.validate)
    if shape_rows:
        shape = _shape_rule(op.name, shape_rows, op.shape)
    return dataclasses.replace(op, validate=validate, shape=shape)


def _validator(
    name: str, rows: tuple[ArgRefusal, ...], own: Callable[[dict[str, Any]], list[ArgProblem]] | None
) -> Callable[[dict[str, Any]], list[ArgProblem]]:
    def validate(args: dict[str, Any]) -> list[ArgProblem]:
        problems = own(args) if own is not None else []
        for row in rows:
            if not row.when.fires(args):
                continue
            same = next((i for i, p in enumerate(problems) if p.arg == row.arg and p.kind == "value"), None)
            if same is None:
                problems.append(row.problem(name, args))
            elif row.torch and row.torch not in problems[same].message and "torch:" not in problems[same].message:
                # the op's own check refuses it already: add torch's words to its message
                found = problems[same]
                problems[same] = dataclasses.replace(found, message=f'{found.message}; torch: "{row.torch}"')
        return problems

    return validate


def _shape_rule(name: str, rows: tuple[ShapeRefusal, ...], own: ShapeRule) -> ShapeRule:
    def rule(inputs: list[Shape], args: dict[str, Any], check: ShapeCheck) -> Shape | Ports:
        output = own(inputs, args, check)
        for row in rows:
            if not row.when.check(inputs, output, check, args):
                continue
            if row.training_only:
                check.warnings.append(
                    f'`{name}` on {format_shape(inputs[0])} {row.rule}: it runs in eval mode only; torch: "{row.torch}"'
                )
            else:
                raise ShapeError(
                    f'`{name}` on {format_shape(inputs[0])} {row.rule}; torch: "{row.torch}"',
                    "give the layer a larger input, or drop it",
                )
        return output

    return rule
