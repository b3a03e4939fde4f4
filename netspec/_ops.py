"""The op catalog: what each op is called, what it accepts, and its shape, MAC and parameter rules.

Built-in module ops carry the names and keyword arguments of their `torch.nn` classes, read
from each class's own signature; edge ops (`add`, `mul`, `concat`, `crop`, `pad`) are functions
in `_runtime`. More ops come from `register_op` and from plugins (entry-point group `netspec.ops`).

Conventions: shapes are tuples of `Dim` (int or symbolic); a shape rule gets complete arguments
(given, defaulted and inferred) and a `ShapeCheck`. MACs count the multiply-accumulates of
convolutions and linear layers only (bias additions, norms, activations and pooling count 0),
which is how published figures such as "1.81 GMACs for ResNet-18" are measured.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.metadata
import inspect
import json
import math
import operator
import re
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from fractions import Fraction
from typing import Any, Literal, Union  # Union: to recognise `typing.Union[...]` annotations

import pydantic
import torch
from torch import nn

from . import _runtime
from ._dims import Dim, Shape, ShapeCheck, ShapeError, format_shape, is_concrete
from ._errors import did_you_mean

__all__ = [
    "ArgProblem",
    "ArgSpec",
    "OpDef",
    "catalog",
    "check_args",
    "complete_args",
    "get_op",
    "load_plugins",
    "register_op",
    "unregister_op",
]

ShapeRule = Callable[[list[Shape], dict, ShapeCheck], Shape]
InferRule = Callable[[list[Shape], dict], dict]
MacsRule = Callable[[list[Shape], Shape, dict], int]
ParamRule = Callable[[dict], int]


@dataclasses.dataclass(frozen=True)
class ArgSpec:
    """One keyword argument an op accepts; `inferred` ones are taken from the input shapes when omitted."""

    name: str
    annotation: Any
    required: bool
    default: Any
    inferred: bool = False


@dataclasses.dataclass(frozen=True)
class ArgProblem:
    """A problem with the arguments given to an op; `arg` is None when it concerns no single argument."""

    arg: str | None
    message: str
    hint: str | None
    kind: Literal["unknown", "missing", "type", "value"]


@dataclasses.dataclass(frozen=True, eq=False)
class OpDef:
    """An op: its callable, its arguments and its rules.

    kind `module`: `target` is an `nn.Module` class, instantiated with the args and called on the
    inputs. kind `function`: generated code calls `target(*inputs, **args)`, or
    `target(inputs, **args)` when `inputs_as_list`.
    """

    name: str
    kind: Literal["module", "function"]
    target: Callable
    args: Mapping[str, ArgSpec]
    shape: ShapeRule
    min_inputs: int = 1
    max_inputs: int | None = 1
    infer: InferRule | None = None
    macs: MacsRule | None = None
    param_count: ParamRule | None = None
    doc: str = ""
    validate: Callable[[dict], list[ArgProblem]] | None = None
    inputs_as_list: bool = False


# -- argument specs from signatures --------------------------------------------------------------

_NOT_ARGS = frozenset({"self", "device", "dtype"})
_INFERRED_NAMES = frozenset({"in_channels", "in_features", "num_features", "num_channels", "normalized_shape"})


def _normalize_annotation(annotation: Any, required: bool, default: Any) -> Any:
    """`torch.Size` -> `tuple[int, ...]`; admit None when it is the default."""
    annotation = _replace_size(annotation)
    if not required and default is None and not _admits(annotation, lambda a: a is type(None) or a is Any):
        annotation = annotation | None
    return annotation


def _replace_size(annotation: Any) -> Any:
    if annotation is torch.Size:
        return tuple[int, ...]
    if typing.get_origin(annotation) in (Union, types.UnionType):
        return functools.reduce(operator.or_, (_replace_size(a) for a in typing.get_args(annotation)))
    return annotation


def _admits(annotation: Any, test: Callable[[Any], bool]) -> bool:
    if test(annotation):
        return True
    if typing.get_origin(annotation) in (Union, types.UnionType):
        return any(_admits(a, test) for a in typing.get_args(annotation))
    return False


def _admits_tuple(annotation: Any) -> bool:
    return _admits(annotation, lambda a: a is tuple or typing.get_origin(a) is tuple)


def _signature_args(
    fn: Callable, *, skip: int = 0, inferred: Iterable[str] = (), exclude: Iterable[str] = ()
) -> dict[str, ArgSpec]:
    """The keyword arguments of `fn` after its first `skip` parameters, with resolved annotations."""
    signature = inspect.signature(fn)
    try:
        hints = typing.get_type_hints(fn)
    except (NameError, TypeError):  # unresolvable forward references: fall back to the raw annotations
        hints = {}
    inferred, excluded = set(inferred), _NOT_ARGS | set(exclude)
    specs: dict[str, ArgSpec] = {}
    for param in list(signature.parameters.values())[skip:]:
        if param.name in excluded or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        required = param.default is param.empty
        default = None if required else param.default
        raw = hints.get(param.name, param.annotation)
        annotation = Any if raw is param.empty or isinstance(raw, str) else raw
        specs[param.name] = ArgSpec(
            param.name,
            _normalize_annotation(annotation, required, default),
            required,
            default,
            param.name in inferred,
        )
    return specs


# -- argument checking --------------------------------------------------------------------------


@functools.cache
def _adapter(annotation: Any) -> pydantic.TypeAdapter:
    return pydantic.TypeAdapter(annotation, config=pydantic.ConfigDict(strict=True))


def _normalize_value(spec: ArgSpec, value: Any) -> Any:
    """A spec's list becomes a tuple where the argument is annotated as a tuple."""
    if isinstance(value, list) and _admits_tuple(spec.annotation):
        return tuple(value)
    return value


def _render(value: Any) -> str:
    """A value as the spec would write it: `true`, `null`, `"2"`, `[1, 2]`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_render(v) for v in value) + "]"
    return repr(value) if isinstance(value, (int, float)) else type(value).__name__


_TYPE_WORDS: dict[Any, tuple[str, str]] = {
    int: ("an integer", "integers"),
    float: ("a number", "numbers"),
    bool: ("true or false", "booleans"),
    str: ("a string", "strings"),
    type(None): ("null", "nulls"),
    Any: ("any value", "values"),
}


def _describe_type(annotation: Any, plural: bool = False) -> str:
    """`int | tuple[int, int]` -> "an integer or a list of 2 integers"."""
    if annotation in _TYPE_WORDS:
        return _TYPE_WORDS[annotation][plural]
    origin, members = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Literal:
        return "strings" if plural else _join_or([_render(m) for m in members])
    if origin in (Union, types.UnionType):
        return _join_or([_describe_type(m, plural) for m in members])
    if origin in (tuple, list) and members:
        if origin is list or (len(members) == 2 and members[1] is Ellipsis):
            text = f"a list of {_describe_type(members[0], True)}"
        elif len(members) == 1:
            text = f"a list with {_describe_type(members[0])}"
        elif len(set(members)) == 1:
            text = f"a list of {len(members)} {_describe_type(members[0], True)}"
        else:
            text = "a list [" + ", ".join(_describe_type(m) for m in members) + "]"
        return "lists" if plural else text
    return getattr(annotation, "__name__", str(annotation))


def _join_or(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _describe_value(value: Any) -> str:
    kinds = {bool: "a boolean", str: "a string", int: "an integer", float: "a number"}
    if value is None:
        return "`null`"
    if isinstance(value, (list, tuple)):
        return f"`{_render(value)}` (a list of {len(value)})"
    if type(value) in kinds:
        return f"`{_render(value)}` ({kinds[type(value)]})"
    return f"a {type(value).__name__}"


def _type_hint(value: Any, annotation: Any) -> str | None:
    wants_number = _admits(annotation, lambda a: a in (int, float))
    if isinstance(value, bool) and wants_number:
        return f"`{_render(value)}` is a boolean; write a number"
    if isinstance(value, str) and wants_number and re.fullmatch(r"[-+]?\d+(\.\d*)?", value.strip()):
        return f"write {value.strip()} without quotes"
    if isinstance(value, float) and value.is_integer() and _admits(annotation, lambda a: a is int):
        return f"write {int(value)} (an integer)"
    return None


def _type_problem(op: OpDef, spec: ArgSpec, value: Any) -> ArgProblem | None:
    try:
        _adapter(spec.annotation).validate_python(value)
    except pydantic.ValidationError:
        pass
    else:
        return None
    choices = _literal_choices(spec.annotation)
    if choices and isinstance(value, str):
        return ArgProblem(
            spec.name,
            f"`{spec.name}` of `{op.name}` must be {_describe_type(spec.annotation)}, got {_render(value)}",
            did_you_mean(value, choices, listing=len(choices)),
            "value",
        )
    return ArgProblem(
        spec.name,
        f"`{spec.name}` of `{op.name}` must be {_describe_type(spec.annotation)}, got {_describe_value(value)}",
        _type_hint(value, spec.annotation),
        "type",
    )


def _literal_choices(annotation: Any) -> list[str]:
    if typing.get_origin(annotation) is Literal:
        return [str(c) for c in typing.get_args(annotation)]
    if typing.get_origin(annotation) in (Union, types.UnionType):
        return [c for member in typing.get_args(annotation) for c in _literal_choices(member)]
    return []


def check_args(op: OpDef, args: Mapping[str, Any], *, allow_missing_inferred: bool = True) -> list[ArgProblem]:
    """Every problem with the arguments `args` given to `op`: unknown, missing, mistyped, out of range.

    Types are checked strictly against the op's own annotations (`true` is not an integer,
    `"3"` is not a number; an integer is accepted for a float; lists stand for tuples).
    """
    problems: list[ArgProblem] = []
    for name in args:
        if name not in op.args:
            known = ", ".join(f"`{n}`" for n in op.args) or "none"
            hint = did_you_mean(name, op.args) or f"`{op.name}` takes: {known}"
            problems.append(ArgProblem(name, f"`{op.name}` has no argument `{name}`", hint, "unknown"))
    for name, spec in op.args.items():
        if spec.required and name not in args and not (spec.inferred and allow_missing_inferred):
            problems.append(ArgProblem(
                name,
                f"`{op.name}` needs `{name}`",
                f"add `{name}`: {_describe_type(spec.annotation)}",
                "missing",
            ))
    valid: dict[str, Any] = {}  # the well-typed arguments, for the value checks
    for name, value in args.items():
        if name in op.args:
            value = _normalize_value(op.args[name], value)
            problem = _type_problem(op, op.args[name], value)
            if problem:
                problems.append(problem)
            else:
                valid[name] = value
    if op.validate is not None:
        defaults = {n: s.default for n, s in op.args.items() if not s.required and n not in args}
        problems.extend(op.validate(defaults | valid))
    return problems


def complete_args(op: OpDef, args: Mapping[str, Any], inputs: list[Shape]) -> dict:
    """The arguments with defaults and inferred values filled in (lists made tuples where annotated).

    An inferred argument that was given must agree with the inputs, else `ShapeError`
    ("`in_channels` is 3 but the input has 64 channels").
    """
    given = {n: _normalize_value(op.args[n], v) if n in op.args else v for n, v in args.items()}
    inferred = op.infer(inputs, given) if op.infer is not None else {}
    for name, value in inferred.items():
        if name in given and not _same_value(given[name], value):
            raise ShapeError(_mismatch_message(name, given[name], value), _mismatch_hint(op.name, name))
    complete: dict[str, Any] = {}
    for name, spec in op.args.items():
        if name in given:
            complete[name] = given[name]
        elif name in inferred:
            complete[name] = inferred[name]
        elif not spec.required:
            complete[name] = spec.default
        else:
            raise ShapeError(f"`{op.name}` needs `{name}`", f"add `{name}`: {_describe_type(spec.annotation)}")
    return complete


def _same_value(given: Any, inferred: Any) -> bool:
    """Equal, counting `64` and `[64]` as the same (a `normalized_shape`)."""
    return tuple(_values(given)) == tuple(_values(inferred))


def _mismatch_message(name: str, given: Any, actual: Any) -> str:
    if name in ("in_channels", "num_features", "num_channels"):
        return f"`{name}` is {_render(given)} but the input has {_render(actual)} channels"
    if name == "in_features":
        return f"`in_features` is {_render(given)} but the input has {_render(actual)} features (its last dimension)"
    if name == "normalized_shape":
        return f"`normalized_shape` is {_render(given)} but the input's last dimensions are {_render(actual)}"
    return f"`{name}` is {_render(given)} but the input gives {_render(actual)}"


def _mismatch_hint(op_name: str, name: str) -> str:
    return f"leave `{name}` out to take it from the input, or change what feeds this `{op_name}`"


# -- shape helpers ------------------------------------------------------------------------------

_AXIS_NAMES = {1: ("length",), 2: ("height", "width"), 3: ("depth", "height", "width")}
_AXIS_LETTERS = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}


def _layout(spatial: int) -> str:
    return format_shape(("N", "C", *_AXIS_LETTERS[spatial]))


def _expect_spatial_rank(op: str, shape: Shape, spatial: int, *, unbatched: bool = True) -> int:
    """Check an `[N, C, *spatial]` input (or `[C, *spatial]` when `unbatched`); return the channel axis."""
    rank = spatial + 2
    if len(shape) == rank or (unbatched and len(shape) == rank - 1):
        return len(shape) - spatial - 1
    alternative = f" (or {rank - 1}-D unbatched)" if unbatched else ""
    hint = None
    if len(shape) == 2:
        hint = "the input has no spatial dimensions; is a `Flatten` or `Linear` placed before this layer?"
    raise ShapeError(f"`{op}` expects a {rank}-D input {_layout(spatial)}{alternative}, got {format_shape(shape)}", hint)


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


def _numel(shape: Shape) -> int:
    return math.prod(shape)


def _same_shape(inputs: list[Shape], args: dict, check: ShapeCheck) -> Shape:
    return inputs[0]


def _no_macs(inputs: list[Shape], output: Shape, args: dict) -> int:
    return 0


def _no_params(args: dict) -> int:
    return 0


# -- convolutions -------------------------------------------------------------------------------


def _conv_geometry(op: str, args: dict, spatial: int) -> tuple[tuple[int, ...], ...]:
    kernel = _per_axis(op, "kernel_size", args["kernel_size"], spatial)
    stride = _per_axis(op, "stride", args["stride"], spatial)
    dilation = _per_axis(op, "dilation", args["dilation"], spatial)
    return kernel, stride, dilation


def _check_groups(op: str, args: dict) -> None:
    groups = args["groups"]
    for name in ("in_channels", "out_channels"):
        if args[name] % groups:
            raise ShapeError(f"`{name}` (={args[name]}) of `{op}` must be divisible by `groups` (={groups})")


def _conv_shape(spatial: int) -> ShapeRule:
    op = f"Conv{spatial}d"

    def rule(inputs: list[Shape], args: dict, check: ShapeCheck) -> Shape:
        (shape,) = inputs
        axis = _expect_spatial_rank(op, shape, spatial)
        _check_channels(op, "in_channels", args["in_channels"], shape, axis)
        _check_groups(op, args)
        kernel, stride, dilation = _conv_geometry(op, args, spatial)
        padding = args["padding"]
        if isinstance(padding, str):
            if padding == "same" and any(s != 1 for s in stride):
                raise ShapeError(f"`{op}` with `padding: same` needs stride 1, got {_render(args['stride'])}")
            if padding == "same":
                return shape[:axis] + (args["out_channels"],) + shape[axis + 1:]
            padding = 0
        padding = _per_axis(op, "padding", padding, spatial)
        out = []
        for size, k, s, p, d, name in zip(shape[axis + 1:], kernel, stride, padding, dilation, _AXIS_NAMES[spatial]):
            span = d * (k - 1) + 1
            if args["padding_mode"] in ("reflect", "circular") and p:
                check.at_least(size, p + (args["padding_mode"] == "reflect"),
                               f"`{op}` input {name} with {args['padding_mode']} padding {p}")
            size_out = (size + 2 * p - span) // s + 1
            check.positive(size_out, f"`{op}` output {name}", hint=_too_small_hint(size, span, p))
            check.exact_window(size, span, s, p, f"`{op}` {name}")
            out.append(size_out)
        return shape[:axis] + (args["out_channels"],) + tuple(out)

    return rule


def _too_small_hint(size: Dim, span: int, padding: int) -> str:
    return f"the input ({size}, padded by {padding} on each side) is smaller than the window of {span}"


def _conv_transpose_shape(spatial: int) -> ShapeRule:
    op = f"ConvTranspose{spatial}d"

    def rule(inputs: list[Shape], args: dict, check: ShapeCheck) -> Shape:
        (shape,) = inputs
        axis = _expect_spatial_rank(op, shape, spatial)
        _check_channels(op, "in_channels", args["in_channels"], shape, axis)
        _check_groups(op, args)
        kernel, stride, dilation = _conv_geometry(op, args, spatial)
        padding = _per_axis(op, "padding", args["padding"], spatial)
        extra = _per_axis(op, "output_padding", args["output_padding"], spatial)
        out = []
        for size, k, s, p, d, e, name in zip(
            shape[axis + 1:], kernel, stride, padding, dilation, extra, _AXIS_NAMES[spatial]
        ):
            if e >= max(s, d):
                raise ShapeError(
                    f"`output_padding` ({e}) of `{op}` must be smaller than `stride` ({s}) or `dilation` ({d})"
                )
            size_out = (size - 1) * s - 2 * p + d * (k - 1) + e + 1
            check.positive(size_out, f"`{op}` output {name}")
            out.append(size_out)
        return shape[:axis] + (args["out_channels"],) + tuple(out)

    return rule


def _kernel_volume(args: dict, spatial: int) -> int:
    kernel = args["kernel_size"]
    return math.prod(kernel) if isinstance(kernel, (tuple, list)) else kernel**spatial


def _conv_macs(spatial: int, transposed: bool) -> MacsRule:
    """Per output element (per input element when transposed): one MAC per weight it meets."""

    def macs(inputs: list[Shape], output: Shape, args: dict) -> int:
        kernel = _kernel_volume(args, spatial)
        if transposed:
            return _numel(inputs[0]) * (args["out_channels"] // args["groups"]) * kernel
        return _numel(output) * (args["in_channels"] // args["groups"]) * kernel

    return macs


def _conv_params(spatial: int) -> ParamRule:
    def count(args: dict) -> int:
        weights = args["in_channels"] * (args["out_channels"] // args["groups"]) * _kernel_volume(args, spatial)
        return weights + (args["out_channels"] if args["bias"] else 0)

    return count


def _channel_infer(op: str, name: str, spatial: int | None) -> InferRule:
    """Infer `name` from the channel axis: axis 1 when `spatial` is None, else from an `[N, C, *spatial]` layout."""

    def infer(inputs: list[Shape], args: dict) -> dict:
        shape = inputs[0]
        if spatial is None:
            if len(shape) < 2:
                raise ShapeError(f"`{op}` expects an input [N, C, ...] with a channel dimension, got {format_shape(shape)}")
            axis = 1
        else:
            axis = _expect_spatial_rank(op, shape, spatial)
        return {name: _concrete(op, shape[axis], "channels", shape)}

    return infer


# -- pooling ------------------------------------------------------------------------------------


def _pool_shape(op: str, spatial: int, *, dilated: bool) -> ShapeRule:
    def rule(inputs: list[Shape], args: dict, check: ShapeCheck) -> Shape:
        (shape,) = inputs
        axis = _expect_spatial_rank(op, shape, spatial)
        kernel = _per_axis(op, "kernel_size", args["kernel_size"], spatial)
        stride = kernel if args["stride"] is None else _per_axis(op, "stride", args["stride"], spatial)
        padding = _per_axis(op, "padding", args["padding"], spatial)
        dilation = _per_axis(op, "dilation", args["dilation"], spatial) if dilated else (1,) * spatial
        out = []
        for size, k, s, p, d, name in zip(shape[axis + 1:], kernel, stride, padding, dilation, _AXIS_NAMES[spatial]):
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
    def rule(inputs: list[Shape], args: dict, check: ShapeCheck) -> Shape:
        (shape,) = inputs
        axis = _expect_spatial_rank(op, shape, spatial)
        sizes = _per_axis(op, "output_size", args["output_size"], spatial)
        return shape[: axis + 1] + tuple(old if new is None else new for old, new in zip(shape[axis + 1:], sizes))

    return rule


# -- normalization ------------------------------------------------------------------------------


def _batch_norm_shape(op: str, layouts: Mapping[int, str]) -> ShapeRule:
    def rule(inputs: list[Shape], args: dict, check: ShapeCheck) -> Shape:
        (shape,) = inputs
        _expect_ranks(op, shape, layouts)
        _check_channels(op, "num_features", args["num_features"], shape, 1)
        return shape

    return rule


def _batch_norm_infer(op: str, layouts: Mapping[int, str]) -> InferRule:
    def infer(inputs: list[Shape], args: dict) -> dict:
        _expect_ranks(op, inputs[0], layouts)
        return {"num_features": _concrete(op, inputs[0][1], "channels", inputs[0])}

    return infer


def _instance_norm_shape(op: str, spatial: int) -> ShapeRule:
    def rule(inputs: list[Shape], args: dict, check: ShapeCheck) -> Shape:
        (shape,) = inputs
        axis = _expect_spatial_rank(op, shape, spatial)
        _check_channels(op, "num_features", args["num_features"], shape, axis)
        return shape

    return rule


def _norm_params(args: dict) -> int:
    if not args["affine"]:
        return 0
    return args["num_features"] * (2 if args["bias"] else 1)


def _group_norm_shape(inputs: list[Shape], args: dict, check: ShapeCheck) -> Shape:
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


def _group_norm_params(args: dict) -> int:
    return args["num_channels"] * (2 if args["bias"] else 1) if args["affine"] else 0


def _layer_norm_infer(inputs: list[Shape], args: dict) -> dict:
    shape = inputs[0]
    given = args.get("normalized_shape")
    count = len(given) if isinstance(given, (tuple, list)) else 1
    if count > len(shape):
        raise ShapeError(
            f"`normalized_shape` {_render(given)} of `LayerNorm` has more dimensions than the input {format_shape(shape)}"
        )
    trailing = tuple(_concrete("LayerNorm", d, "features", shape) for d in shape[len(shape) - count:])
    return {"normalized_shape": trailing if isinstance(given, (tuple, list)) else trailing[0]}


def _layer_norm_shape(inputs: list[Shape], args: dict, check: ShapeCheck) -> Shape:
    (shape,) = inputs
    normalized = args["normalized_shape"]
    normalized = tuple(normalized) if isinstance(normalized, (tuple, list)) else (normalized,)
    if len(normalized) > len(shape):
        raise ShapeError(f"`normalized_shape` {_render(normalized)} of `LayerNorm` has more dimensions than the input")
    for dim, expected in zip(shape[len(shape) - len(normalized):], normalized):
        check.equal(dim, expected, "the trailing dimensions of the `LayerNorm` input and `normalized_shape`")
    return shape


def _layer_norm_params(args: dict) -> int:
    normalized = args["normalized_shape"]
    size = math.prod(normalized) if isinstance(normalized, (tuple, list)) else normalized
    return size * (2 if args["bias"] else 1) if args["elementwise_affine"] else 0


# -- linear, reshaping, resampling --------------------------------------------------------------


def _linear_infer(inputs: list[Shape], args: dict) -> dict:
    shape = inputs[0]
    if not shape:
        raise ShapeError("`Linear` expects an input with at least one dimension [..., features], got a scalar")
    return {"in_features": _concrete("Linear", shape[-1], "features", shape)}


def _linear_shape(inputs: list[Shape], args: dict, check: ShapeCheck) -> Shape:
    (shape,) = inputs
    if not shape:
        raise ShapeError("`Linear` expects an input with at least one dimension [..., features], got a scalar")
    actual = _concrete("Linear", shape[-1], "features", shape)
    if actual != args["in_features"]:
        raise ShapeError(_mismatch_message("in_features", args["in_features"], actual), _mismatch_hint("Linear", "in_features"))
    return shape[:-1] + (args["out_features"],)


def _flatten_shape(inputs: list[Shape], args: dict, check: ShapeCheck) -> Shape:
    (shape,) = inputs
    if not shape:
        return (1,)
    start = _normalize_axis("Flatten", "start_dim", args["start_dim"], len(shape))
    end = _normalize_axis("Flatten", "end_dim", args["end_dim"], len(shape))
    if start > end:
        raise ShapeError(f"`start_dim` ({args['start_dim']}) of `Flatten` comes after `end_dim` ({args['end_dim']})")
    return shape[:start] + (_numel(shape[start: end + 1]),) + shape[end + 1:]


def _unflatten_shape(inputs: list[Shape], args: dict, check: ShapeCheck) -> Shape:
    (shape,) = inputs
    axis = _normalize_axis("Unflatten", "dim", args["dim"], len(shape))
    sizes = list(args["unflattened_size"])
    known = math.prod(s for s in sizes if s != -1)
    what = f"dimension {axis} of the `Unflatten` input and the product of `unflattened_size` {_render(sizes)}"
    if -1 in sizes:
        sizes[sizes.index(-1)] = shape[axis] // known
        check.equal(shape[axis] // known * known, shape[axis], what)
    else:
        check.equal(shape[axis], known, what)
    return shape[:axis] + tuple(sizes) + shape[axis + 1:]


_UPSAMPLE_MODE_RANKS = {"linear": (3,), "bilinear": (4,), "bicubic": (4,), "trilinear": (5,)}


def _upsample_shape(inputs: list[Shape], args: dict, check: ShapeCheck) -> Shape:
    (shape,) = inputs
    ranks = _UPSAMPLE_MODE_RANKS.get(args["mode"], (3, 4, 5))
    if len(shape) not in ranks:
        wanted = _join_or([f"a {r}-D input {_layout(r - 2)}" for r in ranks])
        raise ShapeError(f"`Upsample` with mode {_render(args['mode'])} expects {wanted}, got {format_shape(shape)}")
    spatial = len(shape) - 2
    if args["size"] is not None:
        return shape[:2] + _per_axis("Upsample", "size", args["size"], spatial)
    scales = _per_axis("Upsample", "scale_factor", args["scale_factor"], spatial)
    return shape[:2] + tuple(_scaled(size, scale) for size, scale in zip(shape[2:], scales))


def _scaled(size: Dim, scale: float) -> Dim:
    """`floor(size * scale)`, as `torch.nn.functional.interpolate` computes it."""
    if is_concrete(size):
        return math.floor(float(size) * scale)
    exact = Fraction(scale)
    if exact.denominator > 1024:
        raise ShapeError(
            f"`Upsample` cannot scale the symbolic size `{size}` by {scale}",
            "use an integer `scale_factor` (or a fraction such as 0.5), or give `size`",
        )
    return (size * exact.numerator) // exact.denominator


def _pixel_shuffle_shape(inputs: list[Shape], args: dict, check: ShapeCheck) -> Shape:
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


def _zero_pad_shape(inputs: list[Shape], args: dict, check: ShapeCheck) -> Shape:
    (shape,) = inputs
    axis = _expect_spatial_rank("ZeroPad2d", shape, 2)
    left, right, top, bottom = _per_axis("ZeroPad2d", "padding", args["padding"], 4)
    height, width = shape[axis + 1] + top + bottom, shape[axis + 2] + left + right
    check.positive(height, "`ZeroPad2d` output height")
    check.positive(width, "`ZeroPad2d` output width")
    return shape[: axis + 1] + (height, width)


def _dropout_shape(op: str, spatial: int) -> ShapeRule:
    def rule(inputs: list[Shape], args: dict, check: ShapeCheck) -> Shape:
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
    def rule(inputs: list[Shape], args: dict, check: ShapeCheck) -> Shape:
        (shape,) = inputs
        if args["dim"] is not None:
            _normalize_axis(op, "dim", args["dim"], max(len(shape), 1))
        return shape

    return rule


def _prelu_shape(inputs: list[Shape], args: dict, check: ShapeCheck) -> Shape:
    (shape,) = inputs
    count = args["num_parameters"]
    if count != 1:
        if len(shape) < 2:
            raise ShapeError(f"`PReLU` with {count} parameters needs a channel dimension, got {format_shape(shape)}")
        check.equal(shape[1], count, "the `PReLU` input channels and `num_parameters`")
    return shape


def _linear_macs(inputs: list[Shape], output: Shape, args: dict) -> int:
    return _numel(output) * args["in_features"]


def _linear_params(args: dict) -> int:
    return args["in_features"] * args["out_features"] + (args["out_features"] if args["bias"] else 0)


# -- value checks of built-in arguments ---------------------------------------------------------

_AT_LEAST_ONE = frozenset({
    "in_channels", "out_channels", "in_features", "out_features", "num_features", "num_channels", "num_groups",
    "num_parameters", "upscale_factor", "kernel_size", "stride", "dilation", "groups", "normalized_shape",
    "output_size", "size",
})
_NON_NEGATIVE = frozenset({"padding", "output_padding", "pad"})
_PROBABILITIES = frozenset({"p", "momentum"})


def _values(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (tuple, list)) else [value]


def _generic_problems(op: str, args: dict) -> list[ArgProblem]:
    """Range checks that follow from the argument's name: channels >= 1, padding >= 0, 0 <= p <= 1."""
    problems = []
    for name, value in args.items():
        numbers = [v for v in _values(value) if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if name in _AT_LEAST_ONE and any(v < 1 for v in numbers):
            problems.append(_value_problem(op, name, value, "must be at least 1"))
        elif name in _NON_NEGATIVE and any(v < 0 for v in numbers):
            problems.append(_value_problem(op, name, value, "must not be negative"))
        elif name in _PROBABILITIES and any(not 0 <= v <= 1 for v in numbers):
            problems.append(_value_problem(op, name, value, "must be between 0 and 1"))
        elif name == "scale_factor" and any(v <= 0 for v in numbers):
            problems.append(_value_problem(op, name, value, "must be positive"))
    return problems


def _value_problem(op: str, name: str, value: Any, rule: str, hint: str | None = None) -> ArgProblem:
    return ArgProblem(name, f"`{name}` of `{op}` {rule}, got {_render(value)}", hint, "value")


def _pairs(a: Any, b: Any) -> list[tuple[Any, Any]]:
    """Per-axis pairs of two int-or-tuple arguments (empty when their lengths differ)."""
    left, right = _values(a), _values(b)
    if len(left) == 1:
        left = left * len(right)
    if len(right) == 1:
        right = right * len(left)
    return list(zip(left, right)) if len(left) == len(right) else []


def _conv_problems(op: str, args: dict) -> list[ArgProblem]:
    problems = []
    padding = args.get("padding")
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            problems.append(_value_problem(op, "padding", padding, "must be an integer, a list, \"same\" or \"valid\"",
                                           did_you_mean(padding, ("same", "valid"))))
        elif padding == "same" and any(s != 1 for s in _values(args.get("stride", 1))):
            problems.append(_value_problem(op, "padding", padding, "needs `stride: 1`",
                                           "give explicit padding for a strided convolution"))
    groups = args.get("groups")
    for name in ("in_channels", "out_channels"):
        if isinstance(args.get(name), int) and isinstance(groups, int) and groups >= 1 and args[name] % groups:
            problems.append(ArgProblem(
                name, f"`{name}` (={args[name]}) of `{op}` must be divisible by `groups` (={groups})", None, "value"
            ))
    return problems


def _pool_problems(op: str, args: dict) -> list[ArgProblem]:
    problems = []
    kernel, padding = args.get("kernel_size"), args.get("padding", 0)
    if kernel is not None and any(p > k // 2 for k, p in _pairs(kernel, padding)):
        problems.append(_value_problem(op, "padding", args["padding"],
                                       f"must be at most half of `kernel_size` ({_render(args['kernel_size'])})"))
    return problems + _single_output_problems(op, args)


def _single_output_problems(op: str, args: dict) -> list[ArgProblem]:
    if args.get("return_indices"):
        return [_value_problem(op, "return_indices", True, "is not supported",
                               "a node yields one tensor; leave `return_indices` out")]
    return []


def _adaptive_problems(op: str, args: dict) -> list[ArgProblem]:
    if "output_size" in args and args["output_size"] is None:
        return [_value_problem(op, "output_size", None, "must be given")]
    return _single_output_problems(op, args)


def _group_norm_problems(op: str, args: dict) -> list[ArgProblem]:
    channels, groups = args.get("num_channels"), args.get("num_groups")
    if isinstance(channels, int) and isinstance(groups, int) and groups >= 1 and channels % groups:
        return [ArgProblem("num_channels", f"`num_channels` (={channels}) of `GroupNorm` must be divisible by "
                           f"`num_groups` (={groups})", None, "value")]
    return []


_UPSAMPLE_MODES = ("nearest", "linear", "bilinear", "bicubic", "trilinear", "area", "nearest-exact")


def _upsample_problems(op: str, args: dict) -> list[ArgProblem]:
    problems = []
    if (args.get("size") is None) == (args.get("scale_factor") is None):
        problems.append(ArgProblem(None, "`Upsample` needs exactly one of `size` and `scale_factor`", None, "value"))
    mode = args.get("mode", "nearest")
    if mode not in _UPSAMPLE_MODES:
        problems.append(_value_problem(op, "mode", mode, "must be one of " + _join_or([_render(m) for m in _UPSAMPLE_MODES]),
                                       did_you_mean(mode, _UPSAMPLE_MODES)))
    elif args.get("align_corners") is not None and mode not in ("linear", "bilinear", "bicubic", "trilinear"):
        problems.append(_value_problem(op, "align_corners", args["align_corners"],
                                       f"only applies to the linear, bilinear, bicubic and trilinear modes, not {_render(mode)}"))
    return problems


def _gelu_problems(op: str, args: dict) -> list[ArgProblem]:
    approximate = args.get("approximate", "none")
    if approximate not in ("none", "tanh"):
        return [_value_problem(op, "approximate", approximate, "must be \"none\" or \"tanh\"",
                               did_you_mean(approximate, ("none", "tanh")))]
    return []


def _hardtanh_problems(op: str, args: dict) -> list[ArgProblem]:
    low, high = args.get("min_val", -1.0), args.get("max_val", 1.0)
    if isinstance(low, (int, float)) and isinstance(high, (int, float)) and high <= low:
        return [_value_problem(op, "max_val", high, f"must be greater than `min_val` ({_render(low)})")]
    return []


def _softmax_problems(op: str, args: dict) -> list[ArgProblem]:
    if "dim" in args and args["dim"] is None:
        return [ArgProblem("dim", f"`{op}` needs `dim`, the dimension that sums to 1",
                           "add `dim: 1` for [N, C, ...] scores", "missing")]
    return []


def _celu_problems(op: str, args: dict) -> list[ArgProblem]:
    if args.get("alpha") == 0:
        return [_value_problem(op, "alpha", 0, "must not be 0")]
    return []


def _validator(op: str, specific: Callable[[str, dict], list[ArgProblem]] | None) -> Callable[[dict], list[ArgProblem]]:
    def validate(args: dict) -> list[ArgProblem]:
        return _generic_problems(op, args) + (specific(op, args) if specific else [])

    return validate


# -- built-in catalog ---------------------------------------------------------------------------


def _doc_of(target: Callable) -> str:
    first = (inspect.getdoc(target) or "").split("\n\n")[0]
    return " ".join(first.split())


def _module_op(
    cls: type[nn.Module],
    shape: ShapeRule,
    *,
    infer: InferRule | None = None,
    inferred: Iterable[str] = (),
    macs: MacsRule = _no_macs,
    params: ParamRule = _no_params,
    checks: Callable[[str, dict], list[ArgProblem]] | None = None,
    exclude: Iterable[str] = (),
) -> OpDef:
    name = cls.__name__
    return OpDef(
        name=name,
        kind="module",
        target=cls,
        args=types.MappingProxyType(_signature_args(cls.__init__, skip=1, inferred=inferred, exclude=exclude)),
        shape=shape,
        infer=infer,
        macs=macs,
        param_count=params,
        doc=_doc_of(cls),
        validate=_validator(name, checks),
    )


def _spatial_ops() -> list[OpDef]:
    ops = []
    for n in (1, 2, 3):
        conv, convt = getattr(nn, f"Conv{n}d"), getattr(nn, f"ConvTranspose{n}d")
        ops.append(_module_op(conv, _conv_shape(n), infer=_channel_infer(conv.__name__, "in_channels", n),
                              inferred=("in_channels",), macs=_conv_macs(n, transposed=False),
                              params=_conv_params(n), checks=_conv_problems))
        ops.append(_module_op(convt, _conv_transpose_shape(n), infer=_channel_infer(convt.__name__, "in_channels", n),
                              inferred=("in_channels",), macs=_conv_macs(n, transposed=True),
                              params=_conv_params(n), checks=_conv_problems))
        for pool, dilated in ((f"MaxPool{n}d", True), (f"AvgPool{n}d", False)):
            ops.append(_module_op(getattr(nn, pool), _pool_shape(pool, n, dilated=dilated), checks=_pool_problems))
        for pool in (f"AdaptiveAvgPool{n}d", f"AdaptiveMaxPool{n}d"):
            ops.append(_module_op(getattr(nn, pool), _adaptive_pool_shape(pool, n), checks=_adaptive_problems))
        instance = f"InstanceNorm{n}d"
        ops.append(_module_op(getattr(nn, instance), _instance_norm_shape(instance, n),
                              infer=_channel_infer(instance, "num_features", n), inferred=("num_features",),
                              params=_norm_params))
    for name, layouts in (
        ("BatchNorm1d", {2: "[N, C]", 3: "[N, C, L]"}),
        ("BatchNorm2d", {4: "[N, C, H, W]"}),
        ("BatchNorm3d", {5: "[N, C, D, H, W]"}),
    ):
        ops.append(_module_op(getattr(nn, name), _batch_norm_shape(name, layouts),
                              infer=_batch_norm_infer(name, layouts), inferred=("num_features",), params=_norm_params))
    for name, spatial in (("Dropout1d", 1), ("Dropout2d", 2), ("Dropout3d", 3)):
        ops.append(_module_op(getattr(nn, name), _dropout_shape(name, spatial)))
    return ops


_SAME_SHAPE_OPS: dict[str, Callable[[str, dict], list[ArgProblem]] | None] = {
    "Dropout": None, "AlphaDropout": None, "Identity": None, "ReLU": None, "ReLU6": None, "LeakyReLU": None,
    "ELU": None, "SELU": None, "CELU": _celu_problems, "GELU": _gelu_problems, "SiLU": None, "Mish": None,
    "Sigmoid": None, "Tanh": None, "Hardswish": None, "Hardsigmoid": None, "Hardtanh": _hardtanh_problems,
    "Softplus": None,
}


def _other_ops() -> list[OpDef]:
    ops = [
        _module_op(nn.Linear, _linear_shape, infer=_linear_infer, inferred=("in_features",), macs=_linear_macs,
                   params=_linear_params),
        _module_op(nn.GroupNorm, _group_norm_shape, infer=_channel_infer("GroupNorm", "num_channels", None),
                   inferred=("num_channels",), params=_group_norm_params, checks=_group_norm_problems),
        _module_op(nn.LayerNorm, _layer_norm_shape, infer=_layer_norm_infer, inferred=("normalized_shape",),
                   params=_layer_norm_params),
        _module_op(nn.Flatten, _flatten_shape),
        _module_op(nn.Unflatten, _unflatten_shape),
        _module_op(nn.Upsample, _upsample_shape, checks=_upsample_problems),
        _module_op(nn.PixelShuffle, _pixel_shuffle_shape),
        _module_op(nn.ZeroPad2d, _zero_pad_shape),
        _module_op(nn.PReLU, _prelu_shape, params=lambda args: args["num_parameters"]),
        _module_op(nn.Softmax, _softmax_shape("Softmax"), checks=_softmax_problems),
        _module_op(nn.LogSoftmax, _softmax_shape("LogSoftmax"), checks=_softmax_problems),
    ]
    for name, checks in _SAME_SHAPE_OPS.items():
        # Hardtanh's `min_value`/`max_value` are deprecated aliases of `min_val`/`max_val`
        ops.append(_module_op(getattr(nn, name), _same_shape, checks=checks, exclude=("min_value", "max_value")))
    return ops


# -- edge ops -----------------------------------------------------------------------------------


def _definitely_different(a: Dim, b: Dim) -> bool:
    diff = a - b
    return is_concrete(diff) and diff != 0


def _differing_axes(a: Shape, b: Shape) -> str:
    parts = [f"dimension {i} ({x} vs {y})" for i, (x, y) in enumerate(zip(a, b)) if _definitely_different(x, y)]
    return "they differ in " + _join_or(parts).replace(" or ", " and ") if parts else ""


def _add_shape(inputs: list[Shape], args: dict, check: ShapeCheck) -> Shape:
    first = inputs[0]
    for other in inputs[1:]:
        mismatch = len(other) != len(first) or any(_definitely_different(a, b) for a, b in zip(first, other))
        if mismatch:
            raise ShapeError(
                f"cannot add {format_shape(first)} and {format_shape(other)}",
                (_differing_axes(first, other) or "their ranks differ")
                + "; every input of `add` must have the same shape (a shortcut that changes size needs a projection,"
                " such as a 1x1 `Conv2d` with the same stride and output channels)",
            )
        for axis, (a, b) in enumerate(zip(first, other)):
            check.equal(a, b, f"dimension {axis} of the `add` inputs {format_shape(first)} and {format_shape(other)}")
    return first


def _mul_shape(inputs: list[Shape], args: dict, check: ShapeCheck) -> Shape:
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
                check.equal(a, b, f"dimension {axis} of the `mul` inputs {format_shape(result)} and {format_shape(other)}")
                out.append(a)
        result = tuple(out)
    return result


_REFERENCE_SIZE = 1 << 16


def _smallest(dims: list[Dim]) -> Dim:
    """The smallest of `dims`; symbolic sizes are compared at a large reference size of every variable.

    Callers add `at_least` constraints against the choice, so a wrong guess for small sizes
    shows up as a constraint violation rather than a wrong shape.
    """
    variables = {frozenset(d.variables) for d in dims if not is_concrete(d)}
    if len(variables) > 1:
        # Sizes of independent symbols (a skip of `H` next to a tensor of `h`) cannot be ordered:
        # the first input is the target, as in U-Net's `[upsampled, skip]`, and the others must be larger.
        return dims[0]

    def value(d: Dim) -> int:
        return d if is_concrete(d) else d.evaluate({name: _REFERENCE_SIZE for name in d.variables})

    return min(dims, key=value)


def _concat_shape(inputs: list[Shape], args: dict, check: ShapeCheck) -> Shape:
    rank = len(inputs[0])
    for other in inputs[1:]:
        if len(other) != rank:
            raise ShapeError(f"cannot concatenate {format_shape(inputs[0])} and {format_shape(other)}: their ranks differ")
    axis = _normalize_axis("concat", "dim", args["dim"], rank)
    cropping = args["crop"] == "center"
    if cropping and axis >= 2:
        raise ShapeError(f"`concat` with `crop: center` crops dimensions 2 and up, so it cannot join along dimension {axis}")
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


def _crop_shape(inputs: list[Shape], args: dict, check: ShapeCheck) -> Shape:
    shape = inputs[0]
    if len(shape) < 3:
        raise ShapeError(f"`crop` expects an input [N, C, ...] with spatial dimensions, got {format_shape(shape)}")
    target = _target_sizes("crop", inputs, args["size"], "size")
    for i, (size, new) in enumerate(zip(shape[2:], target), start=2):
        check.at_least(size, new, f"the `crop` input in dimension {i} (it cannot grow)")
        if args["mode"] == "center":
            check.even(size - new, f"the centered crop in dimension {i} from {size} to {new}")
    return shape[:2] + target


def _pad_shape(inputs: list[Shape], args: dict, check: ShapeCheck) -> Shape:
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
        amounts.append((shape[i], max(amounts_given[2 * k: 2 * k + 2]), i))
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


def _edge_args(*specs: tuple[str, Any, Any]) -> Mapping[str, ArgSpec]:
    return types.MappingProxyType({name: ArgSpec(name, ann, False, default) for name, ann, default in specs})


_PadMode = Literal["constant", "reflect", "replicate", "circular"]


def _edge_problems(op: str, args: dict) -> list[ArgProblem]:
    return _generic_problems(op, {k: v for k, v in args.items() if k in ("size", "pad")})


def _edge_ops() -> list[OpDef]:
    function = functools.partial(OpDef, kind="function", macs=_no_macs, param_count=_no_params)
    return [
        function(name="add", target=operator.add, args=_edge_args(), shape=_add_shape, min_inputs=2, max_inputs=None,
                 doc="Element-wise sum of two or more tensors of one shape."),
        function(name="mul", target=operator.mul, args=_edge_args(), shape=_mul_shape, min_inputs=2, max_inputs=None,
                 doc="Element-wise product of two or more broadcastable tensors."),
        function(name="concat", target=_runtime.concat, min_inputs=2, max_inputs=None, inputs_as_list=True,
                 args=_edge_args(("dim", int, 1), ("crop", Literal["center"] | None, None)),
                 shape=_concat_shape,
                 doc="Concatenate along `dim`; with `crop: center` first center-crop dimensions 2 and up to the smallest."),
        function(name="crop", target=_runtime.crop, min_inputs=1, max_inputs=2, shape=_crop_shape,
                 args=_edge_args(("size", list[int] | None, None), ("mode", Literal["center", "corner"], "center")),
                 validate=lambda args: _edge_problems("crop", args),
                 doc="Crop dimensions 2 and up to `size` or to the second input's sizes."),
        function(name="pad", target=_runtime.pad, min_inputs=1, max_inputs=2, shape=_pad_shape,
                 args=_edge_args(("pad", list[int] | None, None), ("mode", _PadMode, "constant"),
                                 ("value", float, 0.0)),
                 validate=lambda args: _edge_problems("pad", args),
                 doc="Pad by `pad` (torch.nn.functional.pad order) or, centered, to the second input's sizes."),
    ]


# -- registry -----------------------------------------------------------------------------------


@functools.cache
def _builtins() -> Mapping[str, OpDef]:
    ops = _spatial_ops() + _other_ops() + _edge_ops()
    return types.MappingProxyType({op.name: op for op in ops})


_registered: dict[str, OpDef] = {}  # ops added by register_op, by name
_table_cache: dict[str, OpDef] = {}  # built-ins overlaid with the registered ops


def _table() -> dict[str, OpDef]:
    if not _table_cache:
        _table_cache.update(_builtins())
        _table_cache.update(_registered)
    return _table_cache


def get_op(name: str) -> OpDef | None:
    """The op called `name`, or None; installed plugins are loaded the first time a name is missing."""
    op = _table().get(name)
    if op is None and not _plugins_scanned:
        _scan_plugins()
        op = _table().get(name)
    return op


_plugins_scanned = False  # whether the entry points have been looked at once


def _scan_plugins() -> None:
    global _plugins_scanned
    _plugins_scanned = True
    load_plugins()


def catalog() -> Mapping[str, OpDef]:
    """A read-only view of every op: built-ins and registered ones."""
    return types.MappingProxyType(_table())


_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


def register_op(
    name: str,
    target: Callable | None = None,
    *,
    shape: ShapeRule | None = None,
    infer: InferRule | None = None,
    inferred: Iterable[str] | None = None,
    macs: MacsRule | None = None,
    param_count: ParamRule | None = None,
    inputs: tuple[int, int | None] | None = None,
    replace: bool = False,
) -> Callable:
    """Add an op to the catalog; usable directly or as a decorator (`@register_op("Scale")`).

    `target` is an `nn.Module` subclass (its `__init__` keywords are the args) or a function
    whose leading tensor parameters are the inputs and whose remaining parameters are the args.
    `inputs` is (min, max) with max None for any number; by default it is read from `forward`
    or the function. Without `shape`, the output shape is found by running the op on meta
    tensors (concrete sizes only); without `param_count`, a module is built on the meta device
    and its parameters counted. `inferred` names the args `infer` fills (by default the usual
    `in_channels`-like names among the args). Returns `target`.
    """
    if target is None:
        return lambda fn: register_op(name, fn, shape=shape, infer=infer, inferred=inferred, macs=macs,
                                      param_count=param_count, inputs=inputs, replace=replace)
    _check_new_name(name, replace)
    if isinstance(target, type) and issubclass(target, nn.Module):
        kind, count, variadic = "module", *_tensor_params(target.forward, skip=1)
        args = _signature_args(target.__init__, skip=1)
    elif callable(target) and not isinstance(target, type):
        kind, count, variadic = "function", *_tensor_params(target, skip=0)
        args = _signature_args(target, skip=count)
    else:
        raise TypeError(f"register_op needs an nn.Module subclass or a function for `{name}`, got {target!r}")
    input_range = inputs if inputs is not None else ((max(count, 1), None) if variadic else (count, count))
    inferred = set(inferred) if inferred is not None else (_INFERRED_NAMES & args.keys() if infer else set())
    args = {n: dataclasses.replace(spec, inferred=n in inferred) for n, spec in args.items()}
    op = OpDef(
        name=name,
        kind=kind,
        target=target,
        args=types.MappingProxyType(args),
        shape=shape or _meta_shape_rule(name, kind, target),
        min_inputs=input_range[0],
        max_inputs=input_range[1],
        infer=infer,
        macs=macs,
        param_count=param_count or (_meta_param_count(target) if kind == "module" else _no_params),
        doc=_doc_of(target),
    )
    _registered[name] = op
    _table()[name] = op
    return target


def unregister_op(name: str) -> None:
    """Remove a registered op (a built-in it replaced comes back)."""
    if name not in _registered:
        raise KeyError(f"no registered op `{name}`")
    del _registered[name]
    table = _table()
    if name in _builtins():
        table[name] = _builtins()[name]
    else:
        del table[name]


def _check_new_name(name: str, replace: bool) -> None:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(
            f"invalid op name {name!r}: use letters, digits and `_`, starting with a letter (no dots, no dunders)"
        )
    if name in _table() and not replace:
        raise ValueError(f"an op named `{name}` is already registered; pass replace=True to replace it")


def _is_tensor_annotation(annotation: Any) -> bool:
    return annotation is inspect.Parameter.empty or annotation in (torch.Tensor, "Tensor", "torch.Tensor")


def _tensor_params(fn: Callable, skip: int) -> tuple[int, bool]:
    """How many leading parameters of `fn` (after `skip`) are tensor inputs, and whether `*args` follows.

    A tensor input is positional, without a default, and unannotated or annotated `Tensor`.
    """
    count = 0
    for param in list(inspect.signature(fn).parameters.values())[skip:]:
        if param.kind == param.VAR_POSITIONAL:
            return count, True
        positional = param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD)
        if not positional or param.default is not param.empty or not _is_tensor_annotation(param.annotation):
            break
        count += 1
    return count, False


def _meta_shape_rule(name: str, kind: str, target: Callable) -> ShapeRule:
    """Find the output shape by running the op on meta tensors.

    Sizes must be fixed, except a symbolic batch (dimension 0): the op is run at two batch sizes,
    and an output dimension that follows them is the batch.
    """
    def rule(inputs: list[Shape], args: dict, check: ShapeCheck) -> Shape:
        batch = _symbolic_batch(name, inputs)
        if batch is None:
            return _run_on_meta(name, kind, target, inputs, args)
        runs = [
            _run_on_meta(name, kind, target, [(size, *s[1:]) if s and s[0] == batch else s for s in inputs], args)
            for size in (2, 3)
        ]
        if len(runs[0]) != len(runs[1]):
            raise ShapeError(f"the rank of `{name}`'s output depends on the batch size")
        output: list[Dim] = []
        for a, b in zip(*runs):
            if a != b and (a, b) != (2, 3):
                raise ShapeError(
                    f"`{name}`'s output size {a} (batch 2) / {b} (batch 3) depends on the batch size in a way "
                    f"only a shape rule can tell",
                    f"give register_op(\"{name}\", ..., shape=rule) a rule (inputs, args, check) -> output shape",
                )
            output.append(batch if a != b else a)
        return tuple(output)

    return rule


def _symbolic_batch(name: str, inputs: list[Shape]) -> Dim | None:
    """The symbolic batch dimension shared by the inputs, when it is the only symbolic size."""
    batch = None
    for shape in inputs:
        for i, d in enumerate(shape):
            if is_concrete(d):
                continue
            if i != 0 or (batch is not None and d != batch):
                raise ShapeError(
                    f"`{name}` has no shape rule, so its output shape is found by running it, which needs fixed "
                    f"sizes (a symbolic batch is fine); the input is {format_shape(shape)}",
                    f"give register_op(\"{name}\", ..., shape=rule) a rule (inputs, args, check) -> output shape",
                )
            batch = d
    return batch


def _run_on_meta(name: str, kind: str, target: Callable, inputs: list[Shape], args: dict) -> Shape:
    tensors = [torch.empty(shape, device="meta") for shape in inputs]
    try:
        with torch.device("meta"):
            output = target(**args)(*tensors) if kind == "module" else target(*tensors, **args)
    except Exception as exc:  # the op's own failure, reported against the spec
        shapes = ", ".join(format_shape(s) for s in inputs)
        raise ShapeError(f"`{name}` fails on inputs {shapes}: {exc}") from exc
    if not isinstance(output, torch.Tensor):
        raise ShapeError(f"`{name}` returns a {type(output).__name__}, not a tensor")
    return tuple(output.shape)


def _meta_param_count(cls: type[nn.Module]) -> ParamRule:
    def count(args: dict) -> int:
        with torch.device("meta"):
            module = cls(**args)
        return sum(p.numel() for p in module.parameters())

    return count


_plugins_loaded: set[str] = set()


def load_plugins() -> None:
    """Load the ops of installed plugins (entry-point group `netspec.ops`), each once.

    An entry point may name a module (importing it registers its ops), a function taking no
    arguments (called), or an `nn.Module` subclass (registered under the entry point's name).
    """
    for entry in importlib.metadata.entry_points(group="netspec.ops"):
        key = f"{entry.name}={entry.value}"
        if key in _plugins_loaded:
            continue
        _plugins_loaded.add(key)
        try:
            loaded = entry.load()
            if isinstance(loaded, type) and issubclass(loaded, nn.Module):
                register_op(entry.name, loaded)
            elif callable(loaded) and not isinstance(loaded, types.ModuleType):
                loaded()
        except Exception as exc:
            raise ImportError(f"the netspec plugin `{entry.name}` ({entry.value}) failed to load: {exc}") from exc
