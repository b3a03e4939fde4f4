"""Tensor ops and learned tensors: lower-case ops that rearrange, select, reduce and combine
tensors (`permute`, `reshape`, `index`, `slice`, `mean`, `matmul`, `split`, ...), with their shape
and MAC rules, and the `Parameter` and `Buffer` nodes, which hold a learned tensor and take no input.

Shape rules work on symbolic sizes: a `reshape` to `[N, -1, 768]` of a `[N, 768, H//16, W//16]`
tensor is `[N, (H//16)*(W//16), 768]`. Sizes an argument gives by a symbol's name (`N`) are the
inputs' sizes at run time; the shape rules see the symbol itself. The registry (`_ops`) collects
`tensor_ops()`.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
from collections.abc import Callable, Mapping
from typing import Any, Literal

from ._args import ArgProblem, ArgSpec, OpDef, _join_or, _render, _value_problem
from ._dims import (
    MAX_PORTS,
    Dim,
    Ports,
    Shape,
    ShapeCheck,
    ShapeError,
    Sym,
    Values,
    contiguous_strides,
    format_shape,
    is_concrete,
    view_strides,
)
from ._errors import did_you_mean
from ._rules import _contiguous_values, _elements, _no_macs, _no_params, _normalize_axis, _numel

__all__ = ["INIT_NAMES", "TENSOR_DTYPES", "broadcast", "tensor_ops"]

TENSOR_DTYPES = ("float32", "float64", "float16", "bfloat16")  # torch dtypes by name (`_runtime.make_tensor`)
# The init functions a learned tensor may name (the same as the init rules'; checked by `_graph`).
INIT_NAMES = (
    "zeros",
    "ones",
    "constant",
    "normal",
    "trunc_normal",
    "uniform",
    "kaiming_normal",
    "kaiming_uniform",
    "xavier_normal",
    "xavier_uniform",
    "orthogonal",
)


def _args(*specs: tuple[str, Any, Any] | tuple[str, Any]) -> Mapping[str, ArgSpec]:
    """Argument specs: `(name, annotation)` is required, `(name, annotation, default)` is not."""
    out = {}
    for spec in specs:
        if len(spec) == 2:
            out[spec[0]] = ArgSpec(spec[0], spec[1], True, None)
        else:
            out[spec[0]] = ArgSpec(spec[0], spec[1], False, spec[2])
    return types.MappingProxyType(out)


def _axes(op: str, name: str, value: Any, rank: int) -> list[int]:
    """`dim` as a list of distinct, normalized axes."""
    axes = [_normalize_axis(op, name, a, rank) for a in (value if isinstance(value, (list, tuple)) else [value])]
    if len(set(axes)) != len(axes):
        raise ShapeError(f"`{name}` of `{op}` names a dimension twice: {_render(value)}")
    return axes


def _unique_problem(op: str, name: str, value: Any) -> list[ArgProblem]:
    items = value if isinstance(value, (list, tuple)) else []
    ints = [v for v in items if isinstance(v, int)]
    if len(set(ints)) != len(ints):
        return [_value_problem(op, name, value, "names a dimension twice")]
    return []


# -- rearranging --------------------------------------------------------------------------------


def _permute_shape(inputs: list[Shape], args: dict[str, Any], check: ShapeCheck) -> Shape:
    (shape,) = inputs
    dims = list(args["dims"])
    if len(dims) != len(shape):
        raise ShapeError(
            f"`dims` {_render(dims)} of `permute` has {len(dims)} entries, but the input {format_shape(shape)} "
            f"has {len(shape)} dimensions",
            f"list each of the {len(shape)} dimensions once",
        )
    axes = _axes("permute", "dims", dims, len(shape))
    return tuple(shape[a] for a in axes)


def _transpose_shape(inputs: list[Shape], args: dict[str, Any], check: ShapeCheck) -> Shape:
    (shape,) = inputs
    a = _normalize_axis("transpose", "dim0", args["dim0"], len(shape))
    b = _normalize_axis("transpose", "dim1", args["dim1"], len(shape))
    out = list(shape)
    out[a], out[b] = out[b], out[a]
    return tuple(out)


def _reshape_shape(op: str) -> Any:
    def rule(inputs: list[Shape], args: dict[str, Any], check: ShapeCheck) -> Shape:
        (shape,) = inputs
        sizes: list[Dim] = list(args["shape"])
        total = _numel(shape)
        free = [i for i, s in enumerate(sizes) if is_concrete(s) and s == -1]
        if len(free) > 1:
            raise ShapeError(f"`shape` {_shown(sizes)} of `{op}` has more than one -1", "give every size but one")
        known = math.prod(s for i, s in enumerate(sizes) if i not in free)
        what = f"the number of elements of the `{op}` input {format_shape(shape)} and of `shape` {_shown(sizes)}"
        if free:
            rest = _divide(total, known)
            if rest is None:
                raise ShapeError(
                    f"`{op}` cannot infer the -1 in `shape` {_shown(sizes)}: {format_shape(shape)} has {total} "
                    f"elements, not a multiple of {known}"
                )
            sizes[free[0]] = rest
            check.equal(rest * known, total, what)
        else:
            check.equal(known, total, what)
        return tuple(sizes)

    return rule


def _shown(sizes: list[Dim]) -> str:
    return "[" + ", ".join(str(s) for s in sizes) + "]"


def _divide(total: Dim, known: Dim) -> Dim | None:
    """`total / known` when it is exact or symbolic (checked later by a constraint); None when it cannot be."""
    if is_concrete(total) and is_concrete(known):
        return total // known if known and total % known == 0 else None
    if is_concrete(known):
        return total // known if known else None
    # Both symbolic: cancel the common factors of two single products (`N*H*W*C / (N*C)`).
    if not isinstance(total, Sym) or not isinstance(known, Sym) or len(total._terms) != 1 or len(known._terms) != 1:
        return None
    ((top, top_coeff),) = total._terms
    ((bottom, bottom_coeff),) = known._terms
    rest = list(top)
    for atom in bottom:
        if atom not in rest:
            return None
        rest.remove(atom)
    if top_coeff % bottom_coeff:
        return None
    return Sym._make({tuple(rest): top_coeff // bottom_coeff})


def _expand_shape(inputs: list[Shape], args: dict[str, Any], check: ShapeCheck) -> Shape:
    (shape,) = inputs
    sizes = list(args["size"])
    if len(sizes) < len(shape):
        raise ShapeError(
            f"`size` {_shown(sizes)} of `expand` has fewer dimensions than the input {format_shape(shape)}"
        )
    lead = len(sizes) - len(shape)
    out: list[Dim] = []
    for i, size in enumerate(sizes):
        old = shape[i - lead] if i >= lead else None
        if is_concrete(size) and size == -1:
            if old is None:
                raise ShapeError(f"`size` of `expand` has -1 at a new leading dimension {i}")
            out.append(old)
        elif old is None or old == 1 or old == size:
            out.append(size)
        else:
            raise ShapeError(
                f"`expand` cannot grow dimension {i} of {format_shape(shape)} from {old} to {size}",
                "only dimensions of size 1 expand; write -1 to keep a size",
            )
    return tuple(out)


def _unsqueeze_shape(inputs: list[Shape], args: dict[str, Any], check: ShapeCheck) -> Shape:
    (shape,) = inputs
    axis = _normalize_axis("unsqueeze", "dim", args["dim"], len(shape) + 1)
    return shape[:axis] + (1,) + shape[axis:]


def _squeeze_shape(inputs: list[Shape], args: dict[str, Any], check: ShapeCheck) -> Shape:
    (shape,) = inputs
    axes = _axes("squeeze", "dim", args["dim"], max(len(shape), 1))
    for a in axes:
        if not (is_concrete(shape[a]) and shape[a] == 1):
            raise ShapeError(
                f"`squeeze` removes dimension {a} of {format_shape(shape)}, which is {shape[a]}, not 1",
                "only dimensions of size 1 can be removed",
            )
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def _roll_shape(inputs: list[Shape], args: dict[str, Any], check: ShapeCheck) -> Shape:
    (shape,) = inputs
    shifts, dims = args["shifts"], args["dims"]
    if dims is None:
        if isinstance(shifts, (list, tuple)):
            raise ShapeError("`roll` without `dims` takes one shift (of the flattened tensor)")
        return shape
    shifts_list = list(shifts) if isinstance(shifts, (list, tuple)) else [shifts]
    dims_list = list(dims) if isinstance(dims, (list, tuple)) else [dims]
    if len(shifts_list) != len(dims_list):
        raise ShapeError(f"`roll` needs one shift per dimension: `shifts` {_render(shifts)}, `dims` {_render(dims)}")
    for d in dims_list:
        _normalize_axis("roll", "dims", d, len(shape))
    return shape


# -- selecting ----------------------------------------------------------------------------------


def _index_shape(inputs: list[Shape], args: dict[str, Any], check: ShapeCheck) -> Shape:
    (shape,) = inputs
    if not shape:
        raise ShapeError("`index` needs an input with at least one dimension, got a scalar")
    axis = _normalize_axis("index", "dim", args["dim"], len(shape))
    index, size = args["index"], shape[axis]
    what = f"dimension {axis} of the `index` input {format_shape(shape)}"
    if is_concrete(size) and not -size <= index < size:
        raise ShapeError(
            f"`index` {index} is outside {what}, which has {size} positions",
            f"use an index from {-size} to {size - 1}",
        )
    if index >= 0:
        check.at_least(size, index + 1, f"{what} (index {index})")
    else:
        check.at_least(size, -index, f"{what} (index {index})")
    return shape[:axis] + shape[axis + 1 :]


def _slice_shape(inputs: list[Shape], args: dict[str, Any], check: ShapeCheck) -> Shape:
    (shape,) = inputs
    if not shape:
        raise ShapeError("`slice` needs an input with at least one dimension, got a scalar")
    axis = _normalize_axis("slice", "dim", args["dim"], len(shape))
    size, start, end, step = shape[axis], args["start"], args["end"], args["step"]
    what = f"dimension {axis} of the `slice` input {format_shape(shape)}"

    def position(value: int | None, default: Dim) -> Dim:
        if value is None:
            return default
        if value < 0:
            check.at_least(size, -value, f"{what} (position {value})")
            return size + value
        if is_concrete(size):
            return min(value, size)
        check.at_least(size, value, f"{what} (position {value})")
        return value

    first, last = position(start, 0), position(end, size)
    length = (last - first + step - 1) // step
    check.positive(length, f"the length of `slice` along dimension {axis}")
    return shape[:axis] + (length,) + shape[axis + 1 :]


def _split_count(op: str, size: Dim, args: dict[str, Any]) -> int | None:
    """How many outputs `split`/`chunk` makes, from the arguments and the size alone; None when unknown."""
    if op == "chunk":
        chunks: int = args["chunks"]
        if is_concrete(size):
            step = -(-size // chunks)
            return -(-size // step)
        return chunks
    sections = args["split_size_or_sections"]
    if isinstance(sections, (list, tuple)):
        return len(sections)
    return -(-size // sections) if is_concrete(size) else None


def _split_sizes(op: str, shape: Shape, axis: int, args: dict[str, Any], check: ShapeCheck) -> list[Dim]:
    size = shape[axis]
    what = f"dimension {axis} of the `{op}` input {format_shape(shape)}"
    count = _split_count(op, size, args)
    if count is not None and count > MAX_PORTS:  # counted before a list of them is made
        raise ShapeError(
            f"`{op}` makes {count:,} outputs of {what}, more than {MAX_PORTS:,} (2**16)",
            "split into fewer, larger pieces (`chunk` with fewer chunks), or reshape to a new dimension",
            code="NS206",
        )
    if op == "chunk":
        chunks = args["chunks"]
        if is_concrete(size):
            step = -(-size // chunks)
            return [min(step, size - start) for start in range(0, size, step)]
        check.equal(size // chunks * chunks, size, f"{what}, to make {chunks} equal chunks")
        return [size // chunks] * chunks
    sections = args["split_size_or_sections"]
    if isinstance(sections, (list, tuple)):
        check.equal(size, sum(sections), f"{what} and the sum of `split_size_or_sections` {_render(sections)}")
        return list(sections)
    if is_concrete(size):
        return [min(sections, size - start) for start in range(0, size, sections)]
    raise ShapeError(
        f"`split` into pieces of {sections} of the symbolic size `{size}` makes a number of outputs that depends "
        "on the input size",
        "give the list of sizes, or use `chunk` with a number of chunks",
    )


def _split_rule(op: str) -> Any:
    def rule(inputs: list[Shape], args: dict[str, Any], check: ShapeCheck) -> Ports:
        (shape,) = inputs
        if not shape:
            raise ShapeError(f"`{op}` needs an input with at least one dimension, got a scalar")
        axis = _normalize_axis(op, "dim", args["dim"], len(shape))
        sizes = _split_sizes(op, shape, axis, args, check)
        shapes = tuple(shape[:axis] + (s,) + shape[axis + 1 :] for s in sizes)
        return Ports(shapes, tuple(str(i) for i in range(len(shapes))))

    return rule


def _split_ports(args: dict[str, Any]) -> tuple[str, ...] | None:
    sections = args.get("split_size_or_sections")
    if isinstance(sections, (list, tuple)):
        return tuple(str(i) for i in range(len(sections)))
    return None


# -- reducing -----------------------------------------------------------------------------------


def _reduce_shape(op: str) -> Any:
    def rule(inputs: list[Shape], args: dict[str, Any], check: ShapeCheck) -> Shape:
        (shape,) = inputs
        dim, keep = args["dim"], args["keepdim"]
        # torch reduces over every dimension when `dim` is null or an empty list (`dim=[]` is not "none").
        every = dim is None or (isinstance(dim, (list, tuple)) and not dim)
        axes = list(range(len(shape))) if every else _axes(op, "dim", dim, max(len(shape), 1))
        if keep:
            return tuple(1 if i in axes else d for i, d in enumerate(shape))
        return tuple(d for i, d in enumerate(shape) if i not in axes)

    return rule


def _reduce_kwargs(args: dict[str, Any], ports: frozenset[int]) -> dict[str, Any]:
    dim = args["dim"]
    return {"dim": [] if dim is None else dim, "keepdim": args["keepdim"]}


def _mean_kwargs(args: dict[str, Any], ports: frozenset[int]) -> dict[str, Any]:
    dim = args["dim"]
    return {"dim": None if dim is None else dim, "keepdim": args["keepdim"]}


# -- products -----------------------------------------------------------------------------------


def broadcast(op: str, a: Shape, b: Shape, check: ShapeCheck) -> Shape:
    rank = max(len(a), len(b))
    left, right = (1,) * (rank - len(a)) + tuple(a), (1,) * (rank - len(b)) + tuple(b)
    out: list[Dim] = []
    for axis, (x, y) in enumerate(zip(left, right)):
        if x == 1 or y == 1 or x == y:
            out.append(y if x == 1 else x)
        elif is_concrete(x - y):
            raise ShapeError(
                f"the batch dimensions of the `{op}` inputs {format_shape(a)} and {format_shape(b)} do not "
                f"broadcast: {x} and {y}"
            )
        else:
            check.equal(x, y, f"batch dimension {axis} of the `{op}` inputs")
            out.append(x)
    return tuple(out)


def _matmul_shape(inputs: list[Shape], args: dict[str, Any], check: ShapeCheck) -> Shape:
    a, b = inputs
    if not a or not b:
        raise ShapeError(
            f"`matmul` needs inputs with at least one dimension, got {format_shape(a)} and {format_shape(b)}"
        )
    left = (1,) + tuple(a) if len(a) == 1 else tuple(a)
    right = tuple(b) + (1,) if len(b) == 1 else tuple(b)
    inner_a, inner_b = left[-1], right[-2]
    if is_concrete(inner_a - inner_b) and inner_a != inner_b:
        raise ShapeError(
            f"cannot multiply {format_shape(a)} by {format_shape(b)}: the last dimension of the first ({inner_a}) "
            f"is not the second-to-last of the second ({inner_b})"
        )
    check.equal(inner_a, inner_b, "the inner dimensions of the `matmul` inputs")
    batch = broadcast("matmul", left[:-2], right[:-2], check)
    out = batch + (left[-2], right[-1])
    if len(a) == 1:
        out = out[:-2] + out[-1:]
    if len(b) == 1:
        out = out[:-1]
    return out


def _matmul_macs(inputs: list[Shape], output: Shape, args: dict[str, Any]) -> int:
    inner = inputs[0][-1]
    assert is_concrete(inner)  # node_macs calls MAC rules only on shapes of plain integers
    return _elements(output) * inner


# -- learned tensors ----------------------------------------------------------------------------


def _tensor_shape(inputs: list[Shape], args: dict[str, Any], check: ShapeCheck) -> Shape:
    return tuple(args["shape"])


def _tensor_problems(op: str) -> Any:
    def validate(args: dict[str, Any]) -> list[ArgProblem]:
        problems = []
        shape = args.get("shape")
        if isinstance(shape, (list, tuple)) and any(isinstance(s, int) and s < 1 for s in shape):
            problems.append(_value_problem(op, "shape", shape, "must list sizes of at least 1"))
        init = args.get("init", "zeros")
        name = init if isinstance(init, str) else next(iter(init), None) if isinstance(init, dict) else None
        if isinstance(init, dict) and len(init) != 1:
            problems.append(_value_problem(op, "init", init, "must name one function, e.g. `{normal: {std: 0.02}}`"))
        elif name is not None and name not in INIT_NAMES:
            problems.append(
                _value_problem(
                    op,
                    "init",
                    name,
                    "must be one of " + _join_or([f"`{n}`" for n in INIT_NAMES]),
                    did_you_mean(str(name), INIT_NAMES),
                )
            )
        return problems

    return validate


def _parameter_count(args: dict[str, Any]) -> int:
    return math.prod(args["shape"])


def _same_values(values: list[Values], args: dict[str, Any], shapes: list[Shape], output: Any) -> Values:
    """Ops that copy elements keep their dtype and their range of values; a contiguous input gives a
    contiguous output, the layout of another is not known."""
    contiguous = values[0].strides == contiguous_strides(shapes[0])
    return dataclasses.replace(values[0], strides=contiguous_strides(output) if contiguous else None)


_StrideRule = Callable[[Shape, tuple[Dim, ...], dict[str, Any], Any], "tuple[Dim, ...] | None"]


def _moved(rule: _StrideRule) -> Any:
    """Ops that view their input (no copy): dtype and range kept, the strides moved by `rule`."""

    def values(values: list[Values], args: dict[str, Any], shapes: list[Shape], output: Any) -> Values:
        known = values[0]
        strides = None if known.strides is None else rule(shapes[0], known.strides, args, output)
        return dataclasses.replace(known, strides=strides)

    return values


def _permute_strides(shape: Shape, strides: tuple[Dim, ...], args: dict[str, Any], output: Any) -> tuple[Dim, ...]:
    return tuple(strides[a] for a in _axes("permute", "dims", list(args["dims"]), len(shape)))


def _transpose_strides(shape: Shape, strides: tuple[Dim, ...], args: dict[str, Any], output: Any) -> tuple[Dim, ...]:
    a = _normalize_axis("transpose", "dim0", args["dim0"], len(shape))
    b = _normalize_axis("transpose", "dim1", args["dim1"], len(shape))
    out = list(strides)
    out[a], out[b] = out[b], out[a]
    return tuple(out)


def _expand_strides(shape: Shape, strides: tuple[Dim, ...], args: dict[str, Any], output: Any) -> tuple[Dim, ...]:
    lead = len(output) - len(shape)
    return tuple(
        0 if i < lead or (shape[i - lead] == 1 and size != 1) else strides[i - lead] for i, size in enumerate(output)
    )


def _unsqueeze_strides(shape: Shape, strides: tuple[Dim, ...], args: dict[str, Any], output: Any) -> tuple[Dim, ...]:
    axis = _normalize_axis("unsqueeze", "dim", args["dim"], len(shape) + 1)
    new = shape[axis] * strides[axis] if axis < len(shape) else 1
    return strides[:axis] + (new,) + strides[axis:]


def _squeeze_strides(shape: Shape, strides: tuple[Dim, ...], args: dict[str, Any], output: Any) -> tuple[Dim, ...]:
    axes = _axes("squeeze", "dim", args["dim"], max(len(shape), 1))
    return tuple(s for i, s in enumerate(strides) if i not in axes)


def _index_strides(shape: Shape, strides: tuple[Dim, ...], args: dict[str, Any], output: Any) -> tuple[Dim, ...]:
    axis = _normalize_axis("index", "dim", args["dim"], len(shape))
    return strides[:axis] + strides[axis + 1 :]


def _slice_strides(shape: Shape, strides: tuple[Dim, ...], args: dict[str, Any], output: Any) -> tuple[Dim, ...]:
    axis = _normalize_axis("slice", "dim", args["dim"], len(shape))
    return strides[:axis] + (strides[axis] * args["step"],) + strides[axis + 1 :]


def _kept_strides(shape: Shape, strides: tuple[Dim, ...], args: dict[str, Any], output: Any) -> tuple[Dim, ...]:
    return strides  # the pieces of `split` and `chunk` are narrowed views


def _reshape_values(op: str) -> Any:
    def values(values: list[Values], args: dict[str, Any], shapes: list[Shape], output: Any) -> Values:
        known = values[0]
        strides = None if known.strides is None else view_strides(shapes[0], known.strides, output)
        if strides is None and known.strides is not None and op == "view":
            raise ShapeError(
                f"`view` cannot give {format_shape(shapes[0])} the shape {format_shape(output)}: its elements are not "
                "laid out in memory in that order (after a `transpose`, `permute`, `expand`, a `crop`, a piece of "
                '`split` or a strided `slice`, and the ops that keep that layout); torch: "view size is not '
                "compatible with input tensor's size and stride\"",
                "use `reshape`, which copies where a view cannot be made",
            )
        if known.strides is None and op == "view":
            raise ShapeError(
                f"`view` of {format_shape(shapes[0])}: how the input is laid out in memory is not known here (after "
                "an op with a layout of its own, such as a batch-first `LSTM`, or a registered op), so the view "
                'may fail in torch ("view size is not compatible with input tensor\'s size and stride")',
                "use `reshape`, which copies where a view cannot be made",
            )
        if strides is None and op == "reshape":
            strides = contiguous_strides(output)  # a copy
        return dataclasses.replace(known, strides=strides)

    return values


def _tensor_values(values: list[Values], args: dict[str, Any], shapes: list[Shape], output: Any) -> Values:
    """A learned tensor has its `dtype` (a floating one: never an index), and is contiguous."""
    return Values(args["dtype"], strides=contiguous_strides(output))


# -- catalog ------------------------------------------------------------------------------------

_Dims = list[int]
_Sizes = list[int | str]
_Dtype = Literal["float32", "float64", "float16", "bfloat16"]
_Init = str | dict[str, Any]


def _dims_problems(op: str, name: str) -> Any:
    return lambda args: _unique_problem(op, name, args.get(name))


def _positive(op: str, name: str) -> Any:
    def validate(args: dict[str, Any]) -> list[ArgProblem]:
        value = args.get(name)
        values = value if isinstance(value, (list, tuple)) else [value]
        if any(isinstance(v, int) and not isinstance(v, bool) and v < 1 for v in values):
            return [_value_problem(op, name, value, "must be at least 1")]
        return []

    return validate


def _slice_problems(args: dict[str, Any]) -> list[ArgProblem]:
    step = args.get("step", 1)
    if isinstance(step, int) and not isinstance(step, bool) and step < 1:
        return [_value_problem("slice", "step", step, "must be at least 1 (torch has no negative steps)")]
    return []


def _sizes_problems(op: str, name: str) -> Any:
    def validate(args: dict[str, Any]) -> list[ArgProblem]:
        sizes = args.get(name)
        if not isinstance(sizes, (list, tuple)):
            return []
        if any(isinstance(s, int) and (s < -1 or s == 0) for s in sizes):
            return [_value_problem(op, name, sizes, "must list sizes of at least 1, -1 (inferred), or symbols")]
        return []

    return validate


def tensor_ops() -> list[OpDef]:
    """The catalog entries of the tensor ops and learned tensors."""
    function = functools.partial(OpDef, kind="function", macs=_no_macs, param_count=_no_params)
    reductions = []
    for name, target, doc in (
        (
            "mean",
            "torch.mean",
            "The mean over `dim` (a dimension or a list; all when null or `[]`), keeping them with `keepdim`.",
        ),
        (
            "sum",
            "torch.sum",
            "The sum over `dim` (a dimension or a list; all when null or `[]`), keeping them with `keepdim`.",
        ),
        ("amax", "torch.amax", "The largest value over `dim` (a dimension or a list; all when null or `[]`)."),
        ("amin", "torch.amin", "The smallest value over `dim` (a dimension or a list; all when null or `[]`)."),
    ):
        reductions.append(
            function(
                name=name,
                target=target,
                args=_args(("dim", int | list[int] | None, None), ("keepdim", bool, False)),
                shape=_reduce_shape(name),
                call_kwargs=_mean_kwargs if name in ("mean", "sum") else _reduce_kwargs,
                validate=_dims_problems(name, "dim"),
                doc=doc,
            )
        )
    return reductions + [
        function(
            name="permute",
            values=_moved(_permute_strides),
            target="torch.permute",
            args=_args(("dims", _Dims)),
            shape=_permute_shape,
            validate=_dims_problems("permute", "dims"),
            doc="Reorder the dimensions: `dims: [0, 2, 3, 1]` makes [N, C, H, W] into [N, H, W, C].",
        ),
        function(
            name="transpose",
            values=_moved(_transpose_strides),
            target="torch.transpose",
            args=_args(("dim0", int), ("dim1", int)),
            shape=_transpose_shape,
            doc="Swap dimensions `dim0` and `dim1`.",
        ),
        function(
            name="reshape",
            values=_reshape_values("reshape"),
            target="torch.reshape",
            args=_args(("shape", _Sizes)),
            shape=_reshape_shape("reshape"),
            symbolic=("shape",),
            validate=_sizes_problems("reshape", "shape"),
            doc="Give the tensor `shape`: sizes, one -1 (inferred), or input symbols such as `N`.",
        ),
        function(
            name="view",
            values=_reshape_values("view"),
            target="netspec._runtime.view",
            args=_args(("shape", _Sizes)),
            shape=_reshape_shape("view"),
            symbolic=("shape",),
            validate=_sizes_problems("view", "shape"),
            doc="`reshape` without a copy, as `Tensor.view`: the input's layout in memory must allow it. Validation "
            "follows the layout through every op and refuses a view torch would refuse (after `transpose`, "
            "`permute`, `expand`, `crop`, a piece of `split`, a strided `slice`, and the elementwise ops that keep "
            "such a layout), or one of a layout it does not know; write `reshape` there.",
        ),
        function(
            name="expand",
            values=_moved(_expand_strides),
            target="netspec._runtime.expand",
            args=_args(("size", _Sizes)),
            shape=_expand_shape,
            symbolic=("size",),
            validate=_sizes_problems("expand", "size"),
            doc="Repeat dimensions of size 1 (without copying) to `size`; -1 keeps a size, `N` is the batch.",
        ),
        function(
            name="unsqueeze",
            values=_moved(_unsqueeze_strides),
            target="torch.unsqueeze",
            args=_args(("dim", int)),
            shape=_unsqueeze_shape,
            doc="Insert a dimension of size 1 at `dim`.",
        ),
        function(
            name="squeeze",
            values=_moved(_squeeze_strides),
            target="torch.squeeze",
            args=_args(("dim", int | list[int])),
            shape=_squeeze_shape,
            validate=_dims_problems("squeeze", "dim"),
            doc="Remove the dimension(s) `dim`, each of size 1.",
        ),
        function(
            name="roll",
            values=_same_values,
            target="torch.roll",
            args=_args(("shifts", int | list[int]), ("dims", int | list[int] | None, None)),
            shape=_roll_shape,
            doc="Shift elements along `dims` by `shifts`, wrapping around (Swin's shifted windows).",
        ),
        function(
            name="index",
            values=_moved(_index_strides),
            target="torch.select",
            args=_args(("dim", int), ("index", int)),
            shape=_index_shape,
            doc="Pick position `index` along `dim`, which disappears: `x[:, 0]` is `{dim: 1, index: 0}`.",
        ),
        function(
            name="slice",
            values=_moved(_slice_strides),
            target="netspec._runtime.slice_dim",
            args=_args(("dim", int), ("start", int | None, None), ("end", int | None, None), ("step", int, 1)),
            shape=_slice_shape,
            validate=_slice_problems,
            doc="Keep positions `start` to `end` (exclusive) by `step` along `dim`, as `x[:, 1::2]`.",
        ),
        function(
            name="split",
            values=_moved(_kept_strides),
            target="torch.split",
            args=_args(("split_size_or_sections", int | list[int]), ("dim", int, 1)),
            shape=_split_rule("split"),
            ports=_split_ports,
            validate=_positive("split", "split_size_or_sections"),
            doc="Split along `dim` into pieces of one size, or of the listed sizes; outputs `split:0`, `split:1`, ...",
        ),
        function(
            name="chunk",
            values=_moved(_kept_strides),
            target="torch.chunk",
            args=_args(("chunks", int), ("dim", int, 1)),
            shape=_split_rule("chunk"),
            ports=lambda args: None,
            validate=_positive("chunk", "chunks"),
            doc="Split along `dim` into `chunks` pieces (as `torch.chunk`); outputs `chunk:0`, `chunk:1`, ...",
        ),
        OpDef(
            name="matmul",
            kind="function",
            target="torch.matmul",
            args=_args(),
            shape=_matmul_shape,
            min_inputs=2,
            max_inputs=2,
            macs=_matmul_macs,
            param_count=_no_params,
            values=_contiguous_values,
            doc="Matrix product of two tensors, batch dimensions broadcast (as `torch.matmul`).",
        ),
        OpDef(
            name="Parameter",
            values=_tensor_values,
            kind="tensor",
            target="netspec._runtime.make_tensor",
            args=_args(
                ("shape", _Dims), ("init", _Init, "zeros"), ("dtype", _Dtype, "float32"), ("requires_grad", bool, True)
            ),
            shape=_tensor_shape,
            min_inputs=0,
            max_inputs=0,
            param_count=_parameter_count,
            macs=_no_macs,
            validate=_tensor_problems("Parameter"),
            doc="A learned tensor of `shape`, initialised by `init`, registered at the node's qualified name.",
        ),
        OpDef(
            name="Buffer",
            values=_tensor_values,
            kind="tensor",
            target="netspec._runtime.make_tensor",
            args=_args(
                ("shape", _Dims), ("init", _Init, "zeros"), ("dtype", _Dtype, "float32"), ("persistent", bool, True)
            ),
            shape=_tensor_shape,
            min_inputs=0,
            max_inputs=0,
            param_count=_no_params,
            macs=_no_macs,
            validate=_tensor_problems("Buffer"),
            doc="A tensor that is not learned (in the state_dict when `persistent`), registered at the node's name.",
        ),
    ]
