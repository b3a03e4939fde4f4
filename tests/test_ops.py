"""The op catalog: shape, parameter and MAC rules against real torch modules, argument checks,
edge ops and their runtime functions, and the registry."""

from __future__ import annotations

import itertools
import math
import types
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from netspec import _ops, _runtime
from netspec._dims import ShapeCheck, ShapeError, evaluate_dim, is_concrete, sym
from netspec._ops import catalog, check_args, complete_args, get_op, register_op, unregister_op

N, H, W = sym("N"), sym("H"), sym("W")

# (op, args, input shape): every built-in module op with several argument combinations
MODULE_CASES = [
    ("Conv1d", {"out_channels": 4, "kernel_size": 3}, (2, 3, 10)),
    ("Conv1d", {"out_channels": 4, "kernel_size": 3, "stride": 2, "padding": 1, "dilation": 2}, (2, 3, 11)),
    ("Conv1d", {"out_channels": 9, "kernel_size": [2], "groups": 3, "bias": False}, (1, 6, 8)),
    ("Conv1d", {"out_channels": 2, "kernel_size": 5, "padding": "same"}, (3, 7)),
    ("Conv1d", {"out_channels": 2, "kernel_size": 3, "padding": 1, "padding_mode": "reflect"}, (1, 3, 5)),
    ("Conv2d", {"out_channels": 5, "kernel_size": 3}, (1, 3, 8, 8)),
    (
        "Conv2d",
        {"out_channels": 4, "kernel_size": [3, 5], "stride": [2, 1], "padding": [1, 2], "dilation": [1, 2]},
        (2, 3, 9, 11),
    ),
    ("Conv2d", {"out_channels": 6, "kernel_size": 3, "groups": 2, "padding": "valid"}, (1, 4, 6, 7)),
    ("Conv2d", {"out_channels": 2, "kernel_size": 3, "padding": "same", "dilation": 2}, (3, 7, 6)),
    ("Conv2d", {"out_channels": 8, "kernel_size": 7, "stride": 2, "padding": 3, "bias": False}, (1, 3, 33, 32)),
    ("Conv3d", {"out_channels": 2, "kernel_size": 3}, (1, 2, 5, 6, 7)),
    ("Conv3d", {"out_channels": 2, "kernel_size": [1, 3, 3], "stride": 2, "padding": 1}, (2, 7, 7, 7)),
    ("ConvTranspose1d", {"out_channels": 3, "kernel_size": 2, "stride": 2}, (2, 4, 5)),
    ("ConvTranspose1d", {"out_channels": 3, "kernel_size": 3, "stride": 2, "padding": 1, "output_padding": 1}, (4, 5)),
    ("ConvTranspose2d", {"out_channels": 3, "kernel_size": 2, "stride": 2}, (1, 4, 5, 6)),
    (
        "ConvTranspose2d",
        {
            "out_channels": 4,
            "kernel_size": 3,
            "stride": [2, 3],
            "padding": 1,
            "output_padding": [1, 2],
            "groups": 2,
            "dilation": 1,
            "bias": False,
        },
        (1, 4, 5, 6),
    ),
    (
        "ConvTranspose2d",
        {"out_channels": 2, "kernel_size": 3, "dilation": 2, "stride": 1, "output_padding": 1},
        (3, 4, 4),
    ),
    ("ConvTranspose3d", {"out_channels": 2, "kernel_size": 2, "stride": 2}, (1, 3, 2, 3, 4)),
    ("MaxPool1d", {"kernel_size": 2}, (2, 3, 9)),
    ("MaxPool1d", {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}, (3, 10)),
    ("MaxPool2d", {"kernel_size": 2}, (1, 2, 9, 8)),
    ("MaxPool2d", {"kernel_size": 3, "stride": 2, "padding": 1}, (1, 2, 11, 12)),
    ("MaxPool2d", {"kernel_size": [2, 3], "stride": [2, 1], "dilation": 2, "ceil_mode": True}, (2, 9, 10)),
    ("MaxPool3d", {"kernel_size": 2, "stride": 1, "padding": 1}, (1, 1, 3, 4, 5)),
    ("AvgPool1d", {"kernel_size": 3, "stride": 2}, (2, 3, 10)),
    ("AvgPool2d", {"kernel_size": 2}, (1, 2, 7, 8)),
    (
        "AvgPool2d",
        {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False},
        (2, 8, 9),
    ),
    ("AvgPool3d", {"kernel_size": [1, 2, 2], "ceil_mode": True}, (1, 1, 3, 5, 5)),
    ("AdaptiveAvgPool1d", {"output_size": 3}, (2, 3, 10)),
    ("AdaptiveAvgPool2d", {"output_size": [1, 1]}, (2, 3, 7, 7)),
    ("AdaptiveAvgPool2d", {"output_size": [None, 3]}, (3, 7, 8)),
    ("AdaptiveAvgPool3d", {"output_size": 2}, (1, 2, 4, 5, 6)),
    ("AdaptiveMaxPool1d", {"output_size": 4}, (3, 9)),
    ("AdaptiveMaxPool2d", {"output_size": 5}, (1, 2, 7, 8)),
    ("AdaptiveMaxPool3d", {"output_size": [2, None, 1]}, (1, 2, 4, 5, 6)),
    ("BatchNorm1d", {}, (4, 3)),
    ("BatchNorm1d", {"num_features": 3, "affine": False}, (4, 3, 5)),
    ("BatchNorm2d", {"eps": 1e-3, "momentum": None}, (2, 3, 4, 4)),
    ("BatchNorm2d", {"bias": False}, (2, 5, 2, 2)),
    ("BatchNorm3d", {}, (2, 3, 2, 2, 2)),
    ("GroupNorm", {"num_groups": 2}, (2, 4, 3, 3)),
    ("GroupNorm", {"num_groups": 3, "num_channels": 6, "affine": False}, (2, 6, 5)),
    ("LayerNorm", {}, (2, 5, 8)),
    ("LayerNorm", {"normalized_shape": [5, 8], "bias": False}, (2, 5, 8)),
    ("LayerNorm", {"elementwise_affine": False}, (3, 4)),
    ("InstanceNorm1d", {"affine": True}, (2, 3, 6)),
    ("InstanceNorm2d", {}, (3, 4, 4)),
    ("InstanceNorm3d", {"affine": True, "bias": False}, (1, 2, 3, 3, 3)),
    ("Linear", {"out_features": 5}, (2, 7)),
    ("Linear", {"out_features": 4, "bias": False}, (2, 3, 7)),
    ("Linear", {"in_features": 7, "out_features": 3}, (7,)),
    ("Flatten", {}, (2, 3, 4, 5)),
    ("Flatten", {"start_dim": 0, "end_dim": -2}, (2, 3, 4, 5)),
    ("Flatten", {"start_dim": 2}, (2, 3, 4, 5)),
    ("Unflatten", {"dim": 1, "unflattened_size": [2, -1]}, (2, 6, 3)),
    ("Unflatten", {"dim": -1, "unflattened_size": [2, 3]}, (2, 6)),
    ("Dropout", {"p": 0.2}, (2, 3, 4)),
    ("Dropout1d", {}, (2, 3, 4)),
    ("Dropout1d", {}, (3, 4)),
    ("Dropout2d", {}, (2, 3, 4, 4)),
    ("Dropout3d", {}, (2, 3, 2, 2, 2)),
    ("Dropout3d", {}, (3, 2, 2, 2)),
    ("AlphaDropout", {"p": 0.1}, (2, 3)),
    ("Identity", {}, (2, 3)),
    ("Upsample", {"scale_factor": 2}, (1, 2, 5, 5)),
    ("Upsample", {"size": [7, 9], "mode": "bilinear", "align_corners": True}, (1, 2, 5, 5)),
    ("Upsample", {"scale_factor": 1.5, "mode": "linear"}, (1, 2, 5)),
    ("Upsample", {"scale_factor": 2, "mode": "trilinear"}, (1, 1, 2, 3, 4)),
    ("Upsample", {"scale_factor": [2, 0.5], "mode": "nearest-exact"}, (1, 1, 4, 5)),
    ("PixelShuffle", {"upscale_factor": 2}, (1, 8, 3, 3)),
    ("PixelShuffle", {"upscale_factor": 3}, (18, 2, 2)),
    ("ZeroPad2d", {"padding": 1}, (1, 2, 3, 3)),
    ("ZeroPad2d", {"padding": [1, 2, 0, 3]}, (2, 3, 3)),
    ("ChannelShuffle", {"groups": 2}, (1, 8, 3, 3)),
    ("ChannelShuffle", {"groups": 3}, (2, 6, 5)),
    ("StochasticDepth", {"p": 0.2}, (4, 3, 5, 5)),
    ("LayerNorm2d", {"eps": 1e-6}, (2, 5, 3, 4)),
    ("LayerNorm2d", {"elementwise_affine": False}, (1, 3, 2, 2)),
    ("PixelUnshuffle", {"downscale_factor": 2}, (1, 3, 4, 6)),
    ("PixelUnshuffle", {"downscale_factor": 3}, (2, 6, 6)),
    ("StochasticDepth", {"p": 0.5, "mode": "batch"}, (2, 7)),
    ("ReLU", {}, (2, 3, 4)),
    ("ReLU6", {"inplace": True}, (2, 3)),
    ("LeakyReLU", {"negative_slope": 0.2}, (2, 3)),
    ("PReLU", {}, (2, 3, 4)),
    ("PReLU", {"num_parameters": 3, "init": 0.1}, (2, 3, 4)),
    ("ELU", {"alpha": 0.5}, (2, 3)),
    ("SELU", {}, (2, 3)),
    ("CELU", {"alpha": 2}, (2, 3)),
    ("GELU", {"approximate": "tanh"}, (2, 3)),
    ("SiLU", {}, (2, 3)),
    ("Mish", {}, (2, 3)),
    ("Sigmoid", {}, (2, 3)),
    ("Tanh", {}, (2, 3)),
    ("Hardswish", {}, (2, 3)),
    ("Hardsigmoid", {}, (2, 3)),
    ("Hardtanh", {"min_val": -2, "max_val": 2}, (2, 3)),
    ("Softplus", {"beta": 2, "threshold": 10}, (2, 3)),
    ("Softmax", {"dim": 1}, (2, 3, 4)),
    ("LogSoftmax", {"dim": -1}, (2, 3)),
]


def case_id(case) -> str:
    name, args, shape = case
    return f"{name}-{'-'.join(f'{k}={v}' for k, v in args.items())}-{list(shape)}"


def module_kwargs(args: dict) -> dict:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in args.items()}


def infer(name: str, args: dict, *shapes) -> tuple:
    """The output shape from the op's rules: complete the args, then apply the shape rule."""
    op = get_op(name)
    check = ShapeCheck()
    complete = complete_args(op, args, list(shapes))
    return op.shape(list(shapes), complete, check), complete, check


@pytest.mark.parametrize("case", MODULE_CASES, ids=case_id)
def test_shape_and_parameters_match_torch(case):
    name, args, shape = case
    op = get_op(name)
    assert check_args(op, args) == []
    output, complete, _ = infer(name, args, shape)
    module = op.resolve()(**module_kwargs(complete))
    with torch.no_grad():
        real = module(torch.rand(shape))
    assert output == tuple(real.shape)
    assert op.param_count(complete) == sum(p.numel() for p in module.parameters())


SPATIAL_CASES = [c for c in MODULE_CASES if len(c[2]) >= 3 and c[0] not in ("Linear", "LayerNorm")]


@pytest.mark.parametrize("case", SPATIAL_CASES, ids=case_id)
def test_symbolic_sizes_evaluate_to_the_concrete_shape(case):
    """With the last size symbolic, the rule gives the same shape once the size is known."""
    name, args, shape = case
    concrete, _, _ = infer(name, args, shape)
    symbolic, _, check = infer(name, args, (*shape[:-1], W))
    env = {"W": shape[-1]}
    assert tuple(evaluate_dim(d, env) for d in symbolic) == concrete
    assert all(c.holds(env) for c in check.constraints if c.severity == "error")


# Several inputs or outputs, or integer inputs: tested against torch in test_tensor_ops.py.
TESTED_ELSEWHERE = {"MultiheadAttention", "ScaledDotProductAttention", "Embedding", "LSTM", "GRU"}


def test_every_builtin_module_op_is_tested():
    modules = {name for name, op in catalog().items() if op.kind == "module"}
    assert modules - TESTED_ELSEWHERE == {case[0] for case in MODULE_CASES}
    assert len(modules) == 65


@pytest.mark.parametrize("ceil_mode", [False, True])
def test_pooling_formula_over_many_sizes(ceil_mode):
    """MaxPool1d and AvgPool1d shapes (concrete and symbolic) against torch for all small geometries."""
    for k, s, d in itertools.product(range(1, 5), range(1, 4), (1, 2)):
        for p in range(k // 2 + 1):
            for size in range(max(1, d * (k - 1) + 1 - 2 * p), 14):
                args = {"kernel_size": k, "stride": s, "padding": p, "dilation": d, "ceil_mode": ceil_mode}
                real = F.max_pool1d(torch.zeros(1, 1, size), k, s, p, d, ceil_mode).shape[-1]
                assert infer("MaxPool1d", args, (1, 1, size))[0][-1] == real, (args, size)
                assert evaluate_dim(infer("MaxPool1d", args, (1, 1, W))[0][-1], {"W": size}) == real, (args, size)
                if d == 1:
                    del args["dilation"]
                    # avg_pool2d over a 1-row image: avg_pool1d is slow on CPU for stride 1
                    real = F.avg_pool2d(torch.zeros(1, 1, 1, size), (1, k), (1, s), (0, p), ceil_mode).shape[-1]
                    assert infer("AvgPool1d", args, (1, 1, size))[0][-1] == real, (args, size)


def test_strided_pool_and_conv_warn_when_rows_are_dropped():
    _, _, check = infer("MaxPool2d", {"kernel_size": 2}, (1, 64, 567, 568))
    assert len(check.warnings) == 1 and "567" in check.warnings[0] and "height" in check.warnings[0]
    _, _, check = infer("MaxPool2d", {"kernel_size": 2, "ceil_mode": True}, (1, 64, 567, 568))
    assert not check.warnings
    _, _, check = infer("Conv2d", {"out_channels": 8, "kernel_size": 1, "stride": 2}, (1, 4, 57, 57))
    assert not check.warnings
    _, _, check = infer("MaxPool2d", {"kernel_size": 2}, (N, 64, H - 4, W - 4))
    assert [c.kind for c in check.constraints] == ["exact", "positive", "exact", "positive"]


def test_output_too_small_is_an_error():
    with pytest.raises(ShapeError, match=r"`Conv2d` output height would be -1"):
        infer("Conv2d", {"out_channels": 2, "kernel_size": 5}, (1, 3, 3, 8))
    with pytest.raises(ShapeError, match=r"`MaxPool1d` output length would be 0"):
        infer("MaxPool1d", {"kernel_size": 3}, (1, 3, 2))


def test_rank_errors_name_the_layout():
    with pytest.raises(ShapeError) as info:
        infer("Conv2d", {"out_channels": 8, "kernel_size": 3}, (N, 64))
    assert info.value.message == "`Conv2d` expects a 4-D input [N, C, H, W] (or 3-D unbatched), got [N, 64]"
    assert "Flatten" in info.value.hint
    with pytest.raises(ShapeError, match=r"`BatchNorm1d` expects a 2-D input \[N, C\] or a 3-D input \[N, C, L\]"):
        infer("BatchNorm1d", {}, (2, 3, 4, 4))
    with pytest.raises(ShapeError, match=r"`BatchNorm2d` expects a 4-D input \[N, C, H, W\], got \[3, 4, 4\]"):
        infer("BatchNorm2d", {}, (3, 4, 4))
    with pytest.raises(ShapeError, match=r"`Upsample` with mode \"bilinear\" expects a 4-D input"):
        infer("Upsample", {"scale_factor": 2, "mode": "bilinear"}, (1, 2, 5))
    with pytest.raises(ShapeError, match=r"`kernel_size` of `MaxPool2d` has 3 values"):
        infer("MaxPool2d", {"kernel_size": [2, 2, 2]}, (1, 2, 4, 4))


def test_channel_counts_must_be_concrete():
    with pytest.raises(ShapeError, match=r"`Conv2d` needs a fixed number of channels.*\[N, C, H, W\] has `C`"):
        infer("Conv2d", {"out_channels": 8, "kernel_size": 3}, (N, sym("C"), H, W))
    with pytest.raises(ShapeError, match=r"`Linear` needs a fixed number of features"):
        infer("Linear", {"out_features": 8}, (N, 64 * H * W))


def test_symbolic_shapes_read_well():
    output, _, _ = infer("Conv2d", {"out_channels": 64, "kernel_size": 7, "stride": 2, "padding": 3}, (N, 3, H, W))
    assert output == (N, 64, (H + 1) // 2, (W + 1) // 2)
    output, _, _ = infer("MaxPool2d", {"kernel_size": 2}, (N, 64, H - 4, W - 4))
    assert str(output[2]) == "H//2-2"
    output, _, _ = infer("Flatten", {}, (N, 64, H, W))
    assert str(output[1]) == "64*H*W"
    output, _, _ = infer("Upsample", {"scale_factor": 2}, (N, 64, H // 2, W))
    assert output[2:] == (2 * (H // 2), 2 * W)
    output, _, _ = infer("Upsample", {"scale_factor": 0.5}, (N, 64, H, W))
    assert output[2:] == (H // 2, W // 2)
    with pytest.raises(ShapeError, match="cannot scale the symbolic size"):
        infer("Upsample", {"scale_factor": 0.3}, (N, 64, H, W))


# --- MACs -----------------------------------------------------------------------------------------


def macs(name: str, args: dict, shape: tuple) -> int:
    output, complete, _ = infer(name, args, shape)
    return get_op(name).macs([shape], output, complete)


def test_macs_of_convolutions_and_linear_layers():
    # stem of ResNet-18: 112x112 outputs, each 3 channels x 7x7 weights per output channel
    assert macs("Conv2d", {"out_channels": 64, "kernel_size": 7, "stride": 2, "padding": 3}, (1, 3, 224, 224)) == (
        64 * 112 * 112 * 3 * 49
    )
    assert macs("Conv2d", {"out_channels": 6, "kernel_size": 3, "groups": 2}, (1, 4, 5, 5)) == 6 * 3 * 3 * 2 * 9
    assert macs("Conv1d", {"out_channels": 4, "kernel_size": 3}, (2, 3, 10)) == 2 * 4 * 8 * 3 * 3
    assert macs("ConvTranspose2d", {"out_channels": 2, "kernel_size": 2, "stride": 2}, (1, 4, 3, 3)) == 36 * 2 * 4
    assert macs("Linear", {"out_features": 1000}, (1, 512)) == 512_000
    assert macs("Linear", {"out_features": 5}, (2, 3, 7)) == 2 * 3 * 5 * 7
    for name, args, shape in (
        ("BatchNorm2d", {}, (1, 3, 4, 4)),
        ("ReLU", {}, (2, 3)),
        ("MaxPool2d", {"kernel_size": 2}, (1, 1, 4, 4)),
    ):
        assert macs(name, args, shape) == 0


def test_resnet18_macs_match_the_published_figure():
    """The conv+linear MACs of torchvision's ResNet-18 at 1x3x224x224, from the op rules alone."""
    total = 0

    def layer(name: str, shape: tuple, **args) -> tuple:
        nonlocal total
        output, complete, _ = infer(name, args, shape)
        total += get_op(name).macs([shape], output, complete)
        return output

    x = layer("Conv2d", (1, 3, 224, 224), out_channels=64, kernel_size=7, stride=2, padding=3, bias=False)
    x = layer("MaxPool2d", x, kernel_size=3, stride=2, padding=1)
    for width, stride in ((64, 1), (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1)):
        if stride != 1 or x[1] != width:
            layer("Conv2d", x, out_channels=width, kernel_size=1, stride=stride, bias=False)
        y = layer("Conv2d", x, out_channels=width, kernel_size=3, stride=stride, padding=1, bias=False)
        x = layer("Conv2d", y, out_channels=width, kernel_size=3, padding=1, bias=False)
    x = layer("AdaptiveAvgPool2d", x, output_size=1)
    layer("Linear", layer("Flatten", x), out_features=1000)
    assert total == 1_814_073_344


# --- argument checks ------------------------------------------------------------------------------


def problems(name: str, args: dict, **options) -> list:
    return check_args(get_op(name), args, **options)


def test_unknown_argument_suggests_the_closest():
    (problem,) = problems("Conv2d", {"out_channels": 8, "kernal_size": 3, "kernel_size": 3})
    assert (problem.arg, problem.kind) == ("kernal_size", "unknown")
    assert problem.message == "`Conv2d` has no argument `kernal_size`"
    assert problem.hint == "did you mean `kernel_size`?"
    (problem,) = problems("ReLU", {"zzz": 1})
    assert "`inplace`" in problem.hint


def test_missing_required_argument():
    (problem,) = problems("Conv2d", {"kernel_size": 3})
    assert (problem.arg, problem.kind, problem.message) == ("out_channels", "missing", "`Conv2d` needs `out_channels`")
    assert problems("Conv2d", {"out_channels": 8, "kernel_size": 3}) == []  # in_channels is inferred
    (problem,) = problems("Conv2d", {"out_channels": 8, "kernel_size": 3}, allow_missing_inferred=False)
    assert problem.arg == "in_channels"


@pytest.mark.parametrize(
    ("name", "args", "arg", "message", "hint"),
    [
        (
            "Conv2d",
            {"stride": True},
            "stride",
            ("`stride` of `Conv2d` must be an integer or a list of 2 integers, got `true` (a boolean)"),
            "`true` is a boolean; write a number",
        ),
        ("Conv2d", {"stride": "2"}, "stride", 'got `"2"` (a string)', "write 2 without quotes"),
        ("Conv2d", {"stride": 2.0}, "stride", "got `2.0` (a number)", "write 2 (an integer)"),
        ("Conv2d", {"kernel_size": [3, 3, 3]}, "kernel_size", "got `[3, 3, 3]` (a list of 3)", None),
        ("Conv2d", {"bias": 1}, "bias", "`bias` of `Conv2d` must be true or false, got `1` (an integer)", None),
        ("Linear", {"out_features": None}, "out_features", "must be an integer, got `null`", None),
        ("Dropout", {"p": "half"}, "p", "must be a number", None),
    ],
)
def test_types_are_checked_strictly(name, args, arg, message, hint):
    base = {"Conv2d": {"out_channels": 8, "kernel_size": 3}, "Linear": {}, "Dropout": {}}[name]
    (problem,) = problems(name, base | args)
    assert (problem.arg, problem.kind) == (arg, "type")
    assert message in problem.message
    assert problem.hint == hint


def test_accepted_values():
    assert problems("Dropout", {"p": 0}) == []  # an integer is a valid float
    assert problems("Conv2d", {"out_channels": 8, "kernel_size": [3, 1], "padding": "same"}) == []
    assert problems("MaxPool2d", {"kernel_size": 3, "stride": None}) == []
    assert problems("LayerNorm", {"normalized_shape": [4, 8]}) == []
    assert problems("AdaptiveAvgPool2d", {"output_size": [None, 7]}) == []
    assert problems("Upsample", {"scale_factor": [2, 1.5]}) == []


@pytest.mark.parametrize(
    ("name", "args", "arg", "fragment"),
    [
        ("Conv2d", {"out_channels": 8, "kernel_size": 3, "padding": -1}, "padding", "must not be negative, got -1"),
        ("Conv2d", {"out_channels": 0, "kernel_size": 3}, "out_channels", "must be at least 1, got 0"),
        ("Conv2d", {"out_channels": 8, "kernel_size": [3, 0]}, "kernel_size", "must be at least 1, got [3, 0]"),
        ("Conv2d", {"out_channels": 8, "kernel_size": 3, "stride": 0}, "stride", "must be at least 1"),
        ("Conv2d", {"out_channels": 8, "kernel_size": 3, "padding": "full"}, "padding", '"same" or "valid"'),
        ("Conv2d", {"out_channels": 8, "kernel_size": 3, "padding": "same", "stride": 2}, "padding", "`stride: 1`"),
        (
            "Conv2d",
            {"in_channels": 4, "out_channels": 6, "kernel_size": 3, "groups": 4},
            "out_channels",
            "divisible by `groups` (=4)",
        ),
        ("Dropout", {"p": 1.5}, "p", "`p` of `Dropout` must be between 0 and 1, got 1.5"),
        ("BatchNorm2d", {"momentum": -0.1}, "momentum", "between 0 and 1"),
        ("MaxPool2d", {"kernel_size": 3, "padding": 2}, "padding", "at most half of `kernel_size` (3)"),
        ("MaxPool2d", {"kernel_size": 2, "return_indices": True}, "return_indices", "is not supported"),
        ("GroupNorm", {"num_groups": 3, "num_channels": 8}, "num_channels", "divisible by `num_groups` (=3)"),
        ("Upsample", {"scale_factor": 2, "mode": "bilinaer"}, "mode", "must be one of"),
        ("Upsample", {"scale_factor": 2, "align_corners": True}, "align_corners", "only applies"),
        ("Upsample", {"scale_factor": -2}, "scale_factor", "must be positive"),
        (
            "Conv2d",
            {"out_channels": 8, "kernel_size": 3, "padding_mode": "zero"},
            "padding_mode",
            'must be "zeros", "reflect", "replicate" or "circular", got "zero"',
        ),
        ("GELU", {"approximate": "tan"}, "approximate", '"none" or "tanh"'),
        ("Hardtanh", {"min_val": 1, "max_val": 0}, "max_val", "greater than `min_val`"),
        ("Softmax", {}, "dim", "needs `dim`"),
        ("crop", {"size": [0, 3]}, "size", "at least 1"),
        ("pad", {"pad": [1, -1]}, "pad", "must not be negative"),
        ("concat", {"crop": "centre"}, "crop", 'must be "center" or null'),
    ],
)
def test_value_checks(name, args, arg, fragment):
    found = problems(name, args)
    assert [p.arg for p in found] == [arg], found
    assert fragment in found[0].message
    assert found[0].kind in ("value", "missing")


def test_did_you_mean_for_literal_choices():
    (problem,) = problems("Conv2d", {"out_channels": 8, "kernel_size": 3, "padding_mode": "reflct"})
    assert problem.hint == "did you mean `reflect`?"


def test_upsample_needs_exactly_one_of_size_and_scale():
    (problem,) = problems("Upsample", {})
    assert problem.arg is None and "exactly one of `size` and `scale_factor`" in problem.message
    assert len(problems("Upsample", {"size": 4, "scale_factor": 2})) == 1


def test_problems_are_collected_together():
    found = problems("Conv2d", {"kernal_size": 3, "stride": True, "padding": -2})
    assert sorted((p.kind, p.arg) for p in found) == [
        ("missing", "kernel_size"),
        ("missing", "out_channels"),
        ("type", "stride"),
        ("unknown", "kernal_size"),
        ("value", "padding"),
    ]


# --- inferred arguments ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "args", "shape", "inferred"),
    [
        ("Conv2d", {"out_channels": 8, "kernel_size": 3}, (N, 64, H, W), {"in_channels": 64}),
        ("Conv1d", {"out_channels": 8, "kernel_size": 3}, (64, W), {"in_channels": 64}),
        ("ConvTranspose2d", {"out_channels": 8, "kernel_size": 2}, (N, 16, H, W), {"in_channels": 16}),
        ("Linear", {"out_features": 10}, (N, 512), {"in_features": 512}),
        ("BatchNorm2d", {}, (N, 32, H, W), {"num_features": 32}),
        ("InstanceNorm2d", {}, (32, H, W), {"num_features": 32}),
        ("GroupNorm", {"num_groups": 4}, (N, 32, H), {"num_channels": 32}),
        ("LayerNorm", {}, (N, 10, 256), {"normalized_shape": 256}),
    ],
)
def test_inferred_arguments(name, args, shape, inferred):
    complete = complete_args(get_op(name), args, [shape])
    assert {k: complete[k] for k in inferred} == inferred
    assert set(complete) == set(get_op(name).args)


def test_defaults_fill_in_and_lists_become_tuples():
    complete = complete_args(get_op("Conv2d"), {"out_channels": 8, "kernel_size": [3, 1]}, [(N, 3, H, W)])
    assert complete == {
        "in_channels": 3,
        "out_channels": 8,
        "kernel_size": (3, 1),
        "stride": 1,
        "padding": 0,
        "dilation": 1,
        "groups": 1,
        "bias": True,
        "padding_mode": "zeros",
    }
    assert complete_args(get_op("crop"), {"size": [4, 4]}, [(N, 3, H, W)])["size"] == [4, 4]


@pytest.mark.parametrize(
    ("name", "args", "shape", "message"),
    [
        (
            "Conv2d",
            {"in_channels": 3, "out_channels": 8, "kernel_size": 3},
            (N, 64, H, W),
            "`in_channels` is 3 but the input has 64 channels",
        ),
        (
            "Linear",
            {"in_features": 256, "out_features": 10},
            (N, 512),
            "`in_features` is 256 but the input has 512 features (its last dimension)",
        ),
        ("BatchNorm2d", {"num_features": 16}, (N, 32, H, W), "`num_features` is 16 but the input has 32 channels"),
        (
            "LayerNorm",
            {"normalized_shape": [8, 16]},
            (N, 8, 32),
            "`normalized_shape` is [8, 16] but the input's last dimensions are [8, 32]",
        ),
    ],
)
def test_given_inferred_argument_must_match_the_input(name, args, shape, message):
    with pytest.raises(ShapeError) as info:
        complete_args(get_op(name), args, [shape])
    assert info.value.message == message
    assert f"leave `{next(iter(args))}` out" in info.value.hint


def test_matching_given_inferred_arguments_are_kept():
    complete = complete_args(get_op("LayerNorm"), {"normalized_shape": [8, 32]}, [(N, 8, 32)])
    assert complete["normalized_shape"] == (8, 32)
    assert (
        complete_args(get_op("Conv2d"), {"in_channels": 3, "out_channels": 4, "kernel_size": 1}, [(N, 3, H, W)])[
            "in_channels"
        ]
        == 3
    )


def test_groups_must_divide_inferred_channels():
    with pytest.raises(ShapeError, match=r"`in_channels` \(=6\) of `Conv2d` must be divisible by `groups` \(=4\)"):
        infer("Conv2d", {"out_channels": 8, "kernel_size": 3, "groups": 4}, (N, 6, H, W))


# --- edge ops -------------------------------------------------------------------------------------


def test_add():
    output, _, check = infer("add", {}, (N, 64, H, W), (N, 64, H, W), (N, 64, H, W))
    assert output == (N, 64, H, W) and not check.constraints
    with pytest.raises(ShapeError) as info:
        infer("add", {}, (N, 128, 28, 28), (N, 64, 56, 56))
    assert info.value.message == "cannot add [N, 128, 28, 28] and [N, 64, 56, 56]"
    assert "dimension 1 (128 vs 64)" in info.value.hint and "1x1 `Conv2d`" in info.value.hint
    with pytest.raises(ShapeError, match="cannot add"):
        infer("add", {}, (N, 64, H, W), (N, 64, H - 4, W))
    with pytest.raises(ShapeError, match="cannot add"):
        infer("add", {}, (N, 64, H), (N, 64, H, 1))
    with pytest.raises(ShapeError, match="different symbols"):  # one size written two ways: NS207
        infer("add", {}, (N, 64, H, W), (N, 64, W, H))
    assert get_op("add").min_inputs == 2 and get_op("add").max_inputs is None


def test_mul_broadcasts():
    assert infer("mul", {}, (N, 64, H, W), (N, 64, 1, 1))[0] == (N, 64, H, W)
    assert infer("mul", {}, (64, 1, 1), (N, 64, H, W))[0] == (N, 64, H, W)
    assert infer("mul", {}, (2, 1, 5), (1, 3, 1))[0] == (2, 3, 5)
    with pytest.raises(ShapeError, match="cannot multiply"):
        infer("mul", {}, (2, 3), (4, 3))
    with pytest.raises(ShapeError, match="different symbols"):
        infer("mul", {}, (N, 64, H), (N, 64, W))


def test_concat():
    assert infer("concat", {}, (N, 64, H, W), (N, 32, H, W))[0] == (N, 96, H, W)
    assert infer("concat", {"dim": -1}, (2, 3, 4), (2, 3, 5))[0] == (2, 3, 9)
    with pytest.raises(ShapeError) as info:
        infer("concat", {}, (1, 64, 64, 64), (1, 64, 56, 56))
    assert "dimension 2 differs (64 vs 56)" in info.value.message
    assert "crop: center" in info.value.hint
    with pytest.raises(ShapeError, match="ranks differ"):
        infer("concat", {}, (1, 2, 3), (1, 2, 3, 4))


def test_concat_with_center_crop():
    output, _, check = infer("concat", {"crop": "center"}, (1, 512, 64, 64), (1, 512, 56, 56))
    assert output == (1, 1024, 56, 56) and not check.warnings
    _, _, check = infer("concat", {"crop": "center"}, (1, 8, 65, 64), (1, 8, 56, 56))
    assert len(check.warnings) == 1 and "odd" in check.warnings[0]
    with pytest.raises(ShapeError, match="cannot join along dimension 2"):
        infer("concat", {"crop": "center", "dim": 2}, (1, 8, 6, 6), (1, 8, 4, 4))


def test_concat_with_center_crop_symbolic():
    skip, up = (N, 64, H - 4, W - 4), (N, 128, 2 * ((H - 4) // 2 - 4), 2 * ((W - 4) // 2 - 4))
    output, _, check = infer("concat", {"crop": "center"}, skip, up)
    assert output == (N, 192, up[2], up[3])
    kinds = sorted(c.kind for c in check.constraints)
    assert kinds == ["at_least", "at_least", "even", "even"]
    assert all(c.holds({"N": 1, "H": 572, "W": 572}) for c in check.constraints)


def test_crop():
    assert infer("crop", {"size": [392, 392]}, (1, 64, 568, 568))[0] == (1, 64, 392, 392)
    assert infer("crop", {}, (N, 64, H, W), (N, 3, 32, 32))[0] == (N, 64, 32, 32)
    with pytest.raises(ShapeError, match="is smaller than"):
        infer("crop", {"size": [10, 10]}, (1, 3, 8, 12))
    with pytest.raises(ShapeError, match="either a second input or `size`"):
        infer("crop", {"size": [2, 2]}, (1, 3, 8, 8), (1, 3, 4, 4))
    with pytest.raises(ShapeError, match="needs a second input"):
        infer("crop", {}, (1, 3, 8, 8))
    with pytest.raises(ShapeError, match="needs 2 sizes"):
        infer("crop", {"size": [4]}, (1, 3, 8, 8))
    _, _, check = infer("crop", {"size": [4, 4], "mode": "corner"}, (1, 3, 7, 8))
    assert not check.warnings
    _, _, check = infer("crop", {"size": [4, 4]}, (1, 3, 7, 8))
    assert len(check.warnings) == 1


def test_pad():
    assert infer("pad", {}, (1, 2, 5, 5), (1, 9, 8, 7))[0] == (1, 2, 8, 7)
    assert infer("pad", {"pad": [1, 2, 3, 4]}, (1, 2, 5, 5))[0] == (1, 2, 12, 8)
    with pytest.raises(ShapeError, match="is smaller than"):
        infer("pad", {}, (1, 2, 8, 8), (1, 2, 5, 5))
    with pytest.raises(ShapeError, match="pairs"):
        infer("pad", {"pad": [1, 2, 3]}, (1, 2, 5, 5))
    with pytest.raises(ShapeError, match="reflect"):
        infer("pad", {"pad": [3, 3], "mode": "reflect"}, (1, 2, 3))
    _, _, check = infer("pad", {"mode": "reflect"}, (N, 2, H, W), (N, 2, 32, 32))
    assert {c.kind for c in check.constraints} == {"at_least"}


@pytest.mark.parametrize(
    ("name", "args", "shapes"),
    [
        ("concat", {}, [(2, 3, 4, 4), (2, 5, 4, 4)]),
        ("concat", {"crop": "center"}, [(1, 2, 9, 8), (1, 3, 5, 6), (1, 1, 7, 4)]),
        ("crop", {"size": [3, 5]}, [(1, 2, 7, 8)]),
        ("crop", {"mode": "corner"}, [(1, 2, 7, 8), (1, 1, 2, 3)]),
        ("crop", {"size": [2]}, [(2, 3, 9)]),
        ("pad", {}, [(1, 2, 5, 4), (1, 1, 8, 9)]),
        ("pad", {"pad": [1, 2, 3, 0], "value": 1.5}, [(1, 2, 5, 4)]),
        ("pad", {"pad": [1, 1], "mode": "reflect"}, [(1, 2, 5)]),
        ("pad", {"mode": "replicate"}, [(1, 2, 3, 3, 3), (1, 2, 4, 5, 6)]),
    ],
)
def test_edge_op_rules_match_the_runtime(name, args, shapes):
    op = get_op(name)
    assert check_args(op, args) == []
    output, complete, _ = infer(name, args, *shapes)
    tensors = [torch.rand(s) for s in shapes]
    result = op.resolve()(tensors, **complete) if op.inputs_as_list else op.resolve()(*tensors, **complete)
    assert tuple(result.shape) == output


# --- runtime functions ----------------------------------------------------------------------------


def script(fn):
    """`torch.jit.script`, which this torch version marks deprecated but the runtime still supports."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*torch.jit.script.* is deprecated")  # Deprecation- or FutureWarning
        return torch.jit.script(fn)


def test_center_crop_follows_the_lab_formula():
    x = torch.arange(568 * 568.0).reshape(1, 1, 568, 568)
    cropped = _runtime.center_crop(x, torch.empty(1, 1, 392, 392))
    assert torch.equal(cropped, x[:, :, 88:480, 88:480])  # rows 88..479
    for size, target in itertools.product(range(1, 9), repeat=2):
        if target <= size:
            x = torch.arange(float(size * size)).reshape(1, 1, size, size)
            start = size // 2 - target // 2
            expected = x[:, :, start : size // 2 + target // 2 + target % 2, start : start + target]
            assert torch.equal(_runtime.crop_to_size(x, [target, target], "center"), expected)


def test_corner_crop_and_crop():
    x = torch.rand(2, 3, 7, 9)
    assert torch.equal(_runtime.corner_crop(x, torch.empty(1, 1, 4, 5)), x[:, :, :4, :5])
    assert torch.equal(_runtime.crop(x, size=[4, 5], mode="corner"), x[:, :, :4, :5])
    assert torch.equal(_runtime.crop(x, torch.empty(1, 1, 3, 3)), x[:, :, 2:5, 3:6])
    volume = torch.rand(1, 2, 5, 6, 7)
    assert torch.equal(_runtime.crop_to_size(volume, [3, 4, 5], "center"), volume[:, :, 1:4, 1:5, 1:6])
    with pytest.raises(ValueError, match="larger size"):
        _runtime.crop_to_size(x, [8, 8], "center")
    with pytest.raises(ValueError, match="does not match"):
        _runtime.crop_to_size(x, [8], "center")


def test_concat_crop():
    a, b = torch.rand(1, 2, 9, 8), torch.rand(1, 3, 5, 6)
    expected = torch.cat([a[:, :, 2:7, 1:7], b], 1)
    assert torch.equal(_runtime.concat_crop([a, b], 1), expected)
    assert torch.equal(_runtime.concat([a, b], 1, "center"), expected)
    assert torch.equal(_runtime.concat([a[:, :, :5, :6], b], 1), torch.cat([a[:, :, :5, :6], b], 1))


def test_pad_to_puts_the_odd_pixel_at_the_end():
    x = torch.rand(1, 2, 5, 4)
    padded = _runtime.pad_to(x, torch.empty(1, 1, 8, 7), "constant", 0.5)
    assert torch.equal(padded, F.pad(x, [1, 2, 1, 2], value=0.5))
    assert torch.equal(_runtime.pad(x, pad=[1, 0, 2, 2], mode="replicate"), F.pad(x, [1, 0, 2, 2], mode="replicate"))
    with pytest.raises(ValueError, match="smaller size"):
        _runtime.pad_to(x, torch.empty(1, 1, 3, 7))


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        (
            (3, 32, 32),
            (
                "input `image` expects shape [N, 3, H, W], got [3, 32, 32] (a 3-D tensor); "
                "add a batch dimension with x.unsqueeze(0)"
            ),
        ),
        ((1, 1, 3, 32, 32), "got [1, 1, 3, 32, 32] (a 5-D tensor); remove the extra leading dimension"),
        ((2, 1, 32, 32), "got [2, 1, 32, 32] (a 4-D tensor); dimension 1 (channels) is 1, not 3"),
        ((32, 32), "got [32, 32] (a 2-D tensor)"),
    ],
)
def test_check_input(shape, message):
    x = torch.rand(4, 3, 32, 32)
    assert _runtime.check_input(x, "image", 4, 3, "[N, 3, H, W]") is x
    assert _runtime.check_input(torch.rand(2, 7, 5, 5), "image", 4, 0, "[N, C, H, W]").shape[1] == 7
    scripted = script(_runtime.check_input)
    for fn, error in ((_runtime.check_input, ValueError), (scripted, Exception)):
        with pytest.raises(error) as info:
            fn(torch.rand(shape), "image", 4, 3, "[N, 3, H, W]")
        assert message in str(info.value)


@pytest.mark.parametrize("name", _runtime.__all__)
def test_runtime_functions_script(name):
    script(getattr(_runtime, name))


def test_scripted_runtime_functions_agree():
    x, ref = torch.rand(1, 2, 9, 8), torch.rand(1, 1, 5, 6)
    assert torch.equal(script(_runtime.center_crop)(x, ref), _runtime.center_crop(x, ref))
    assert torch.equal(script(_runtime.crop)(x, None, [3, 3], "corner"), x[:, :, :3, :3])
    assert torch.equal(script(_runtime.pad)(ref, x), _runtime.pad_to(ref, x))
    assert torch.equal(script(_runtime.concat)([x, x], 1, None), torch.cat([x, x], 1))


def test_runtime_functions_compile_in_one_graph():
    def forward(x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = _runtime.check_input(x, "x", 4, 2, "[N, 2, H, W]")
        up = _runtime.pad(x, skip)
        return _runtime.concat([_runtime.crop(skip, x), up[:, :, :5, :6]], 1, "center")

    compiled = torch.compile(forward, fullgraph=True, backend="eager")
    x, skip = torch.rand(1, 2, 5, 6), torch.rand(1, 3, 9, 8)
    assert torch.equal(compiled(x, skip), forward(x, skip))


# --- registry -------------------------------------------------------------------------------------


class Scale(nn.Module):
    """Multiply each channel by a learned factor."""

    def __init__(self, channels: int, start: float = 1.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.full((channels,), start))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight[:, None, None]


def blend(a: torch.Tensor, b: torch.Tensor, *, alpha: float = 0.5) -> torch.Tensor:
    """Mix two tensors."""
    return a * alpha + b * (1 - alpha)


@pytest.fixture
def registered():
    names = []

    def register(name, *args, **kwargs):
        result = register_op(name, *args, **kwargs)
        names.append(name)
        return result

    yield register
    for name in names:
        unregister_op(name)


def test_register_a_module_class(registered):
    registered("TestScale", Scale)
    op = get_op("TestScale")
    assert op is catalog()["TestScale"]
    assert (op.kind, op.target, op.min_inputs, op.max_inputs) == ("module", Scale, 1, 1)
    assert list(op.args) == ["channels", "start"] and op.doc == "Multiply each channel by a learned factor."
    assert check_args(op, {"channels": 4}) == []
    (problem,) = check_args(op, {"channels": True})
    assert problem.kind == "type"
    (problem,) = check_args(op, {"chanels": 4, "channels": 4})
    assert problem.hint == "did you mean `channels`?"
    args = complete_args(op, {"channels": 4}, [(2, 4, 3, 3)])
    assert op.shape([(2, 4, 3, 3)], args, ShapeCheck()) == (2, 4, 3, 3)  # run on meta tensors
    assert op.param_count(args) == 4  # counted on the meta device
    assert op.macs is None
    with pytest.raises(ShapeError, match=r"has no shape rule.*fixed sizes"):
        op.shape([(N, 4, H, W)], args, ShapeCheck())
    with pytest.raises(ShapeError, match="`TestScale` fails on inputs \\[2, 5, 3, 3\\]"):
        op.shape([(2, 5, 3, 3)], args, ShapeCheck())


def test_register_a_function_as_a_decorator(registered):
    def rule(inputs, args, check):
        check.equal(inputs[0][1], inputs[1][1], "channels")
        return inputs[0]

    decorated = registered("test_blend", shape=rule, macs=lambda inputs, output, args: 0)(blend)
    assert decorated is blend
    op = get_op("test_blend")
    assert (op.kind, op.min_inputs, op.max_inputs, list(op.args)) == ("function", 2, 2, ["alpha"])
    assert op.args["alpha"].default == 0.5 and not op.args["alpha"].required
    assert check_args(op, {"alpha": 1}) == []
    assert op.shape([(N, 3, H, W), (N, 3, H, W)], {"alpha": 0.5}, ShapeCheck()) == (N, 3, H, W)
    assert op.param_count({}) == 0


def test_register_variadic_function_and_explicit_inputs(registered):
    def total(*xs: torch.Tensor) -> torch.Tensor:
        return sum(xs[1:], xs[0])

    registered("test_total", total)
    assert (get_op("test_total").min_inputs, get_op("test_total").max_inputs) == (1, None)
    registered("test_pair", blend, inputs=(2, 2))
    op = get_op("test_pair")
    assert op.shape([(2, 3), (2, 3)], {"alpha": 0.1}, ShapeCheck()) == (2, 3)


@pytest.mark.parametrize("name", ["os.system", "__x__", "_private", "1conv", "", "conv-1", "a b"])
def test_register_refuses_bad_names(name):
    with pytest.raises(ValueError, match="invalid op name"):
        register_op(name, Scale)


def test_register_refuses_duplicates_unless_replacing(registered):
    with pytest.raises(ValueError, match="`Conv2d` is already registered; pass replace=True"):
        register_op("Conv2d", Scale)
    registered("TestScale", Scale)
    with pytest.raises(ValueError, match="already registered"):
        register_op("TestScale", Scale)
    register_op("TestScale", blend, replace=True)
    assert get_op("TestScale").target is blend


def test_replacing_a_builtin_and_restoring_it():
    original = get_op("ReLU")
    register_op("ReLU", Scale, replace=True)
    try:
        assert get_op("ReLU").target is Scale
    finally:
        unregister_op("ReLU")
    assert get_op("ReLU") is original
    with pytest.raises(KeyError, match="no registered op `ReLU`"):
        unregister_op("ReLU")


def test_register_refuses_other_targets():
    with pytest.raises(TypeError, match=r"nn\.Module subclass, a function or a dotted path"):
        register_op("TestThing", 42)
    with pytest.raises(TypeError, match=r"nn\.Module subclass, a function or a dotted path"):
        register_op("TestThing", dict)
    assert get_op("TestThing") is None


def test_inferred_arguments_of_registered_ops(registered):
    class Gate(nn.Module):
        def __init__(self, in_channels: int) -> None:
            super().__init__()
            self.conv = nn.Conv2d(in_channels, in_channels, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * torch.sigmoid(self.conv(x))

    registered("TestGate", Gate, infer=lambda inputs, args: {"in_channels": inputs[0][1]})
    op = get_op("TestGate")
    assert op.args["in_channels"].inferred and check_args(op, {}) == []
    assert complete_args(op, {}, [(1, 6, 4, 4)]) == {"in_channels": 6}
    assert op.param_count({"in_channels": 6}) == 42


def test_catalog_is_read_only():
    with pytest.raises(TypeError):
        catalog()["Conv2d"] = get_op("ReLU")  # type: ignore[index]
    assert isinstance(get_op("Conv2d").args, types.MappingProxyType)
    assert get_op("nope") is None


def test_builtin_ops_have_docs_and_arguments_from_torch():
    for name, op in catalog().items():
        assert op.doc, name
        # a learned tensor's `dtype` is its own; a module's is torch's factory argument, not the spec's
        assert not ({"self", "device"} | ({"dtype"} if op.kind != "tensor" else set())) & set(op.args), name
        assert op.shape is not None and op.macs is not None and op.param_count is not None, name
    assert "min_value" not in get_op("Hardtanh").args  # a deprecated alias
    assert get_op("LayerNorm").args["normalized_shape"].annotation == int | list[int] | tuple[int, ...]
    assert get_op("concat").inputs_as_list and not get_op("add").inputs_as_list


# --- plugins --------------------------------------------------------------------------------------


class FakeEntryPoint:
    def __init__(self, name, value, loaded):
        self.name, self.value, self._loaded = name, value, loaded
        self.loads = 0

    def load(self):
        self.loads += 1
        if isinstance(self._loaded, Exception):
            raise self._loaded
        return self._loaded


def test_load_plugins(monkeypatch):
    calls = []
    entries = [
        FakeEntryPoint("register_things", "plugin_pkg:register", lambda: calls.append("called")),
        FakeEntryPoint("PluginScale", "plugin_pkg:Scale", Scale),
        FakeEntryPoint("just_a_module", "plugin_pkg", types.ModuleType("plugin_pkg")),
    ]
    monkeypatch.setattr(
        _ops.importlib.metadata, "entry_points", lambda group: entries if group == "netspec.ops" else []
    )
    monkeypatch.setattr(_ops, "_plugins_loaded", set())
    try:
        _ops.load_plugins()
        _ops.load_plugins()
        assert calls == ["called"]
        assert [e.loads for e in entries] == [1, 1, 1]
        assert get_op("PluginScale").target is Scale
    finally:
        unregister_op("PluginScale")


def test_a_failing_plugin_is_named(monkeypatch):
    entries = [FakeEntryPoint("broken", "broken_pkg:setup", ModuleNotFoundError("No module named 'broken_pkg'"))]
    monkeypatch.setattr(_ops.importlib.metadata, "entry_points", lambda group: entries)
    monkeypatch.setattr(_ops, "_plugins_loaded", set())
    with pytest.raises(ImportError, match=r"the netspec plugin `broken` \(broken_pkg:setup\) failed to load"):
        _ops.load_plugins()


def test_concrete_outputs_for_concrete_inputs():
    for name, args, shape in MODULE_CASES:
        output, _, _ = infer(name, args, shape)
        assert all(is_concrete(d) for d in output), name
        assert math.prod(output) > 0
