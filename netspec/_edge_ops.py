"""The edge ops `add`, `mul`, `concat`, `crop`, `pad` and `interpolate`: lower-case functions that
join or resize tensors, with their shape rules and catalog entries.

They run as functions (`operator.add`, `operator.mul` and the helpers in `_runtime`, named by
dotted path so that the catalog imports no torch), have no parameters and count no MACs. The registry (`_ops`) collects `edge_ops()`.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Mapping
from typing import Any, Literal, cast

from ._args import ArgProblem, ArgSpec, OpDef, _generic_problems, _join_or, _render
from ._dims import Dim, Shape, ShapeCheck, ShapeError, Sym, format_shape, is_concrete
from ._rules import _MODE_RANKS, _layout, _no_macs, _no_params, _normalize_axis, _scaled

__all__ = ["edge_ops"]


def _definitely_different(a: Dim, b: Dim) -> bool:
    diff = a - b
    return is_concrete(diff) and diff != 0


def _differing_axes(a: Shape, b: Shape) -> str:
    parts = [f"dimension {i} ({x} vs {y})" for i, (x, y) in enumerate(zip(a, b)) if _definitely_different(x, y)]
    return "they differ in " + _join_or(parts).replace(" or ", " and ") if parts else ""


def _add_shape(inputs: list[Shape], args: dict[str, Any], check: ShapeCheck) -> Shape:
    result = inputs[0]
    for other in inputs[1:]:
        left, right = result, other
        if len(left) != len(right) or any(_definitely_different(a, b) and 1 not in (a, b) for a, b in zip(left, right)):
            raise ShapeError(
                f"cannot add {format_shape(result)} and {format_shape(other)}",
                (_differing_axes(left, right) or "their ranks differ")
                + "; the inputs of `add` must have the same shape, or size 1 where they broadcast (a shortcut that "
                "changes size needs a projection, such as a 1x1 `Conv2d` with the same stride and output channels)",
            )
        out = []
        for axis, (a, b) in enumerate(zip(left, right)):
            if a == b or b == 1:
                out.append(a)
            elif a == 1:
                out.append(b)
            else:  # equal sizes need no check (and no message)
                check.equal(
                    a, b, f"dimension {axis} of the `add` inputs {format_shape(result)} and {format_shape(other)}"
                )
                out.append(a)
        result = tuple(out)
    return result


def _mul_shape(inputs: list[Shape], args: dict[str, Any], check: ShapeCheck) -> Shape:
    result = inputs[0]
    for other in inputs[1:]:
        rank = max(len(result), len(other))
        left, right = (1,) * (rank - len(result)) + result, (1,) * (rank - len(other)) + other
        out = []
        for axis, (a, b) in enumerate(zip(left, right)):
            if a == 1 or b == 1 or a == b:
                out.append(b if a == 1 else a)
            elif _definitely_different(a, b):
                raise ShapeError(
                    f"cannot multiply {format_shape(result)} and {format_shape(other)}: dimension {axis} "
                    f"is {a} in one and {b} in the other",
                    "inputs of `mul` must have equal sizes or size 1 in each dimension (counted from the last)",
                )
            else:
                check.equal(
                    a, b, f"dimension {axis} of the `mul` inputs {format_shape(result)} and {format_shape(other)}"
                )
                out.append(a)
        result = tuple(out)
    return result


_REFERENCE_SIZE = 1 << 16


def _smallest(dims: list[Dim]) -> Dim:
    """The smallest of `dims`; symbolic sizes are compared at a large reference size of every variable.

    Callers add `at_least` constraints against the choice, so a wrong guess for small sizes
    shows up as a constraint violation rather than a wrong shape.
    """
    variables = {frozenset(cast(Sym, d).variables) for d in dims if not is_concrete(d)}
    if len(variables) > 1:
        # Sizes of independent symbols (a skip of `H` next to a tensor of `h`) cannot be ordered:
        # the first input is the target, as in U-Net's `[upsampled, skip]`, and the others must be larger.
        return dims[0]

    def value(d: Dim) -> int:
        if is_concrete(d):
            return d
        symbolic = cast(Sym, d)
        return symbolic.evaluate(dict.fromkeys(symbolic.variables, _REFERENCE_SIZE))

    return min(dims, key=value)


def _concat_shape(inputs: list[Shape], args: dict[str, Any], check: ShapeCheck) -> Shape:
    rank = len(inputs[0])
    for other in inputs[1:]:
        if len(other) != rank:
            raise ShapeError(
                f"cannot concatenate {format_shape(inputs[0])} and {format_shape(other)}: their ranks differ"
            )
    axis = _normalize_axis("concat", "dim", args["dim"], rank)
    cropping = args["crop"] == "center"
    if cropping and axis >= 2:
        raise ShapeError(
            f"`concat` with `crop: center` crops dimensions 2 and up, so it cannot join along dimension {axis}"
        )
    out: list[Dim] = []
    for i in range(rank):
        sizes = [shape[i] for shape in inputs]
        if i == axis:
            out.append(sum(sizes[1:], sizes[0]))
        elif cropping and i >= 2:
            target = _smallest(sizes)
            for size in sizes:
                check.at_least(size, target, f"the `concat` input sizes in dimension {i}")
                check.even(size - target, f"the centered crop in dimension {i} of `concat` from {size} to {target}")
            out.append(target)
        else:
            out.append(_concat_axis(inputs, i, axis, check))
    return tuple(out)


def _concat_axis(inputs: list[Shape], i: int, axis: int, check: ShapeCheck) -> Dim:
    first = inputs[0]
    for other in inputs[1:]:
        if _definitely_different(first[i], other[i]):
            hint = "add `crop: center` to crop the larger inputs to the smallest" if i >= 2 else None
            raise ShapeError(
                f"cannot concatenate {format_shape(first)} and {format_shape(other)} along dimension {axis}: "
                f"dimension {i} differs ({first[i]} vs {other[i]})",
                hint,
            )
        check.equal(first[i], other[i], f"dimension {i} of the `concat` inputs")
    return first[i]


def _target_sizes(op: str, inputs: list[Shape], given: Any, given_name: str) -> tuple[Dim, ...]:
    """The spatial sizes (dimensions 2 and up) to crop or pad to: the second input's, or `given`."""
    shape = inputs[0]
    if len(inputs) == 2 and given is not None:
        raise ShapeError(f"`{op}` takes either a second input or `{given_name}`, not both")
    if len(inputs) == 2:
        ref = inputs[1]
        if len(ref) != len(shape):
            raise ShapeError(f"`{op}` needs inputs of one rank, got {format_shape(shape)} and {format_shape(ref)}")
        return ref[2:]
    if given is None:
        raise ShapeError(f"`{op}` needs a second input to match or `{given_name}`")
    if len(given) != len(shape) - 2:
        raise ShapeError(
            f"`{given_name}` {_render(given)} of `{op}` needs {len(shape) - 2} sizes, one for each dimension "
            f"after the first two of {format_shape(shape)}"
        )
    return tuple(given)


def _crop_shape(inputs: list[Shape], args: dict[str, Any], check: ShapeCheck) -> Shape:
    shape = inputs[0]
    if len(shape) < 3:
        raise ShapeError(f"`crop` expects an input [N, C, ...] with spatial dimensions, got {format_shape(shape)}")
    target = _target_sizes("crop", inputs, args["size"], "size")
    for i, (size, new) in enumerate(zip(shape[2:], target), start=2):
        check.at_least(size, new, f"the `crop` input in dimension {i} (it cannot grow)")
        if args["mode"] == "center":
            check.even(size - new, f"the centered crop in dimension {i} from {size} to {new}")
    return shape[:2] + target


def _pad_shape(inputs: list[Shape], args: dict[str, Any], check: ShapeCheck) -> Shape:
    shape = inputs[0]
    mode = args["mode"]
    if len(inputs) == 2 or args["pad"] is None:
        if len(shape) < 3:
            raise ShapeError(f"`pad` expects an input [N, C, ...] with spatial dimensions, got {format_shape(shape)}")
        target = _target_sizes("pad", inputs, args["pad"], "pad")
        amounts = []
        for i, (size, new) in enumerate(zip(shape[2:], target), start=2):
            check.at_least(new, size, f"the `pad` target in dimension {i} (padding cannot shrink)")
            extra = new - size
            amounts.append((size, extra - extra // 2, i))
        _check_pad_mode(mode, len(shape), len(target), amounts, check)
        return shape[:2] + target
    amounts_given = list(args["pad"])
    if len(amounts_given) % 2 or len(amounts_given) // 2 > len(shape):
        raise ShapeError(
            f"`pad` of `pad` needs pairs (before, after) for up to {len(shape)} dimensions, got {_render(amounts_given)}"
        )
    out = list(shape)
    amounts = []
    for k in range(len(amounts_given) // 2):
        i = len(shape) - 1 - k  # F.pad lists the last dimension first
        out[i] = shape[i] + amounts_given[2 * k] + amounts_given[2 * k + 1]
        check.positive(out[i], f"`pad` output size in dimension {i}")
        amounts.append((shape[i], max(amounts_given[2 * k : 2 * k + 2]), i))
    _check_pad_mode(mode, len(shape), len(amounts_given) // 2, amounts, check)
    return tuple(out)


def _check_pad_mode(mode: str, rank: int, padded: int, amounts: list[tuple[Dim, Dim, int]], check: ShapeCheck) -> None:
    """Reflect, replicate and circular padding cover the last 1-3 dimensions and cannot pad past the input."""
    if mode == "constant":
        return
    if padded > 3 or rank not in (padded + 1, padded + 2):
        raise ShapeError(
            f"`pad` with mode {_render(mode)} pads the last 1 to 3 dimensions of a tensor with 1 or 2 more, "
            f"not {padded} of {rank}"
        )
    for size, amount, i in amounts:
        if mode == "reflect":
            check.at_least(size - 1, amount, f"the `pad` input size in dimension {i} (reflect padding) minus 1")
        elif mode == "circular":
            check.at_least(size, amount, f"the `pad` input size in dimension {i} (circular padding)")


_InterpolateMode = Literal["nearest", "linear", "bilinear", "bicubic", "trilinear", "area", "nearest-exact"]
_ALIGNABLE = ("linear", "bilinear", "bicubic", "trilinear")


def _interpolate_shape(inputs: list[Shape], args: dict[str, Any], check: ShapeCheck) -> Shape:
    shape, mode = inputs[0], args["mode"]
    ranks = _MODE_RANKS.get(mode, (3, 4, 5))
    if len(shape) not in ranks:
        wanted = _join_or([f"a {r}-D input {_layout(r - 2)}" for r in ranks])
        raise ShapeError(f"`interpolate` with mode {_render(mode)} expects {wanted}, got {format_shape(shape)}")
    given = [name for name in ("size", "scale_factor") if args[name] is not None]
    if len(inputs) == 2 and given:
        raise ShapeError(f"`interpolate` takes either a second input to match or `{given[0]}`, not both")
    if len(inputs) == 1 and len(given) != 1:
        raise ShapeError(
            "`interpolate` needs a second input to match, `size` or `scale_factor`"
            if not given
            else "`interpolate` takes `size` or `scale_factor`, not both"
        )
    if len(inputs) == 2:
        ref = inputs[1]
        if len(ref) != len(shape):
            raise ShapeError(
                f"`interpolate` resizes to the sizes of a second input of the same rank, got {format_shape(shape)} "
                f"and {format_shape(ref)}"
            )
        return shape[:2] + ref[2:]
    spatial = len(shape) - 2
    values = args["size"] if args["size"] is not None else args["scale_factor"]
    if len(values) != spatial:
        raise ShapeError(
            f"`{given[0]}` {_render(values)} of `interpolate` needs {spatial} values, one for each dimension after "
            f"the first two of {format_shape(shape)}"
        )
    if args["size"] is not None:
        return shape[:2] + tuple(values)
    out = tuple(_scaled("interpolate", size, float(scale)) for size, scale in zip(shape[2:], values))
    for i, size in enumerate(out, start=2):
        check.positive(size, f"`interpolate` output size in dimension {i}")
    return shape[:2] + out


def _interpolate_problems(args: dict[str, Any]) -> list[ArgProblem]:
    problems = _generic_problems("interpolate", {k: v for k, v in args.items() if k in ("size", "scale_factor")})
    if args.get("size") is not None and args.get("scale_factor") is not None:
        problems.append(
            ArgProblem("scale_factor", "`interpolate` takes `size` or `scale_factor`, not both", None, "value")
        )
    mode, align = args.get("mode", "nearest"), args.get("align_corners")
    if align is not None and mode not in _ALIGNABLE:
        problems.append(
            ArgProblem(
                "align_corners",
                f"`align_corners` of `interpolate` only applies to the linear, bilinear, bicubic and trilinear modes, "
                f"not {_render(mode)}",
                "leave `align_corners` out",
                "value",
            )
        )
    return problems


def _edge_args(*specs: tuple[str, Any, Any]) -> Mapping[str, ArgSpec]:
    return types.MappingProxyType({name: ArgSpec(name, ann, False, default) for name, ann, default in specs})


_PadMode = Literal["constant", "reflect", "replicate", "circular"]


def _edge_problems(op: str, args: dict[str, Any]) -> list[ArgProblem]:
    return _generic_problems(op, {k: v for k, v in args.items() if k in ("size", "pad")})


def edge_ops() -> list[OpDef]:
    """The catalog entries of the edge ops."""
    function = functools.partial(OpDef, kind="function", macs=_no_macs, param_count=_no_params)
    return [
        function(
            name="add",
            target="operator.add",
            args=_edge_args(),
            shape=_add_shape,
            min_inputs=2,
            max_inputs=None,
            doc="Element-wise sum of two or more tensors of one shape (a size 1 broadcasts).",
        ),
        function(
            name="mul",
            target="operator.mul",
            args=_edge_args(),
            shape=_mul_shape,
            min_inputs=2,
            max_inputs=None,
            doc="Element-wise product of two or more broadcastable tensors.",
        ),
        function(
            name="concat",
            target="netspec._runtime.concat",
            min_inputs=2,
            max_inputs=None,
            inputs_as_list=True,
            args=_edge_args(("dim", int, 1), ("crop", Literal["center"] | None, None)),
            shape=_concat_shape,
            doc="Concatenate along `dim`; with `crop: center` first center-crop dimensions 2 and up to the smallest.",
        ),
        function(
            name="crop",
            target="netspec._runtime.crop",
            min_inputs=1,
            max_inputs=2,
            shape=_crop_shape,
            args=_edge_args(("size", list[int] | None, None), ("mode", Literal["center", "corner"], "center")),
            validate=lambda args: _edge_problems("crop", args),
            doc="Crop dimensions 2 and up to `size` or to the second input's sizes.",
        ),
        function(
            name="pad",
            target="netspec._runtime.pad",
            min_inputs=1,
            max_inputs=2,
            shape=_pad_shape,
            args=_edge_args(("pad", list[int] | None, None), ("mode", _PadMode, "constant"), ("value", float, 0.0)),
            validate=lambda args: _edge_problems("pad", args),
            doc="Pad by `pad` (torch.nn.functional.pad order) or, centered, to the second input's sizes.",
        ),
        function(
            name="interpolate",
            target="netspec._runtime.interpolate",
            min_inputs=1,
            max_inputs=2,
            shape=_interpolate_shape,
            args=_edge_args(
                ("size", list[int] | None, None),
                ("scale_factor", list[float] | None, None),
                ("mode", _InterpolateMode, "nearest"),
                ("align_corners", bool | None, None),
            ),
            validate=_interpolate_problems,
            doc="Resize dimensions 2 and up to the second input's sizes, to `size`, or by `scale_factor`"
            " (`torch.nn.functional.interpolate`).",
        ),
    ]
