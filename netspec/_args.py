"""What an op is and what it accepts: the `OpDef`, `ArgSpec` and `ArgProblem` types, argument specs
read from signatures, and the checking and completing of the arguments a spec gives an op.

Types are checked strictly against the op's own annotations; range checks that follow from an
argument's name (channels >= 1, padding >= 0, 0 <= p <= 1) apply to every op. Other modules
import all of this through `_ops`.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import inspect
import json
import operator
import re
import sys
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal, Union  # Union: to recognise `typing.Union[...]` annotations

import pydantic

from ._dims import Ports, Shape, ShapeCheck, ShapeError, Values
from ._errors import did_you_mean

__all__ = [
    "FREE_ARGS",
    "ArgProblem",
    "ArgSpec",
    "InferRule",
    "MacsRule",
    "OpDef",
    "ParamRule",
    "ShapeRule",
    "check_args",
    "complete_args",
    "resolve_path",
]

ShapeRule = Callable[[list[Shape], dict[str, Any], ShapeCheck], Union[Shape, Ports]]  # noqa: UP007 - Shape is an alias
InferRule = Callable[[list[Shape], dict[str, Any]], dict[str, Any]]
MacsRule = Callable[[list[Shape], Shape, dict[str, Any]], int]
ParamRule = Callable[[dict[str, Any]], int]


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
    `target(inputs, **args)` when `inputs_as_list`. kind `tensor`: a learned tensor with no input,
    `target(**args)` makes it (an `nn.Parameter`, or a plain tensor registered as a buffer).

    `target` is the callable itself or its dotted import path (`"torch.nn.Conv2d"`), imported by
    `resolve()` only when a model is built: validating a spec never imports torch.
    """

    name: str
    kind: Literal["module", "function", "tensor"]
    target: Callable[..., Any] | str
    args: Mapping[str, ArgSpec]
    shape: ShapeRule
    min_inputs: int = 1
    max_inputs: int | None = 1
    infer: InferRule | None = None
    macs: MacsRule | None = None
    param_count: ParamRule | None = None
    buffer_count: ParamRule | None = None  # elements of the module's buffers (running statistics); None: none
    doc: str = ""
    validate: Callable[[dict[str, Any]], list[ArgProblem]] | None = None
    inputs_as_list: bool = False
    # Several outputs: the names of the ports for the given arguments (as written, before defaults),
    # or None when their number follows from the input shapes (then they are named `0`, `1`, ...).
    ports: Callable[[dict[str, Any]], tuple[str, ...] | None] | None = None
    # Where port `k` is in the value the op returns (`(1, 0)` for `h_n` of an LSTM's `(output, (h_n, c_n))`).
    port_items: Callable[[int], tuple[int, ...]] | None = None
    # Keyword arguments of the call, given the complete arguments and the ports something uses.
    call_kwargs: Callable[[dict[str, Any], frozenset[int]], dict[str, Any]] | None = None
    # Arguments whose string items are input symbols (`N`), sized at run time from the inputs.
    symbolic: tuple[str, ...] = ()
    # How the call's inputs are formed from the node's (`[q] -> [q, q, q]` for self-attention).
    spread_inputs: Callable[[list[Any]], list[Any]] | None = None
    # What is known of the output's values (dtype, integer range, strides) from the inputs' and the
    # arguments, given the input and output shapes; raises `ShapeError` for inputs whose values (or
    # layout) the op refuses. None: nothing is known.
    values: Callable[[list[Values], dict[str, Any], list[Shape], Shape | Ports], Values] | None = None

    def resolve(self) -> Callable[..., Any]:
        """The callable: `target` itself, or the object its dotted path names, imported at first use."""
        return self.target if callable(self.target) else resolve_path(self.target)


@functools.cache
def resolve_path(path: str) -> Callable[..., Any]:
    """The object a dotted path names (`"torch.nn.Conv2d"`, `"operator.add"`), importing its module.

    Paths come from the catalog and from `register_op` (code), never from a spec.
    """
    module_name, _, attribute = path.rpartition(".")
    if not module_name:
        raise ImportError(f"`{path}` is not a dotted path `module.attribute`")
    target: Callable[..., Any] | None = getattr(importlib.import_module(module_name), attribute, None)
    if not callable(target):
        raise TypeError(f"`{path}` names no callable")
    return target


# -- argument specs from signatures -------------------------------------------------------------

_NOT_ARGS = frozenset({"self", "device", "dtype"})
_INFERRED_NAMES = frozenset({"in_channels", "in_features", "num_features", "num_channels", "normalized_shape"})


def _normalize_annotation(annotation: Any, required: bool, default: Any) -> Any:
    """`torch.Size` -> `tuple[int, ...]`; admit None when it is the default."""
    annotation = _replace_size(annotation)
    if not required and default is None and not _admits(annotation, lambda a: a is type(None) or a is Any):
        annotation = annotation | None
    return annotation


def _replace_size(annotation: Any) -> Any:
    torch = sys.modules.get("torch")  # an annotation can only be `torch.Size` once torch is imported
    if torch is not None and annotation is torch.Size:
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
    fn: Callable[..., Any], *, skip: int = 0, inferred: Iterable[str] = (), exclude: Iterable[str] = ()
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


def _doc_of(target: Callable[..., Any]) -> str:
    first = (inspect.getdoc(target) or "").split("\n\n")[0]
    return " ".join(first.split())


# -- argument checking --------------------------------------------------------------------------


@functools.cache
def _adapter(annotation: Any) -> pydantic.TypeAdapter[Any]:
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


# Words YAML 1.1 read as booleans; YAML 1.2 (netspec's loader) reads them as strings.
_YAML11_BOOLEANS = {"yes": True, "no": False, "on": True, "off": False, "y": True, "n": False}

# Op arguments whose annotation leaves part of the value open (`Any` inside it) on purpose, because
# another check reads it: an init rule's arguments. Every other argument of a catalog op is typed.
FREE_ARGS: frozenset[tuple[str, str]] = frozenset({("Parameter", "init"), ("Buffer", "init")})


def _type_hint(value: Any, annotation: Any) -> str | None:
    wants_number = _admits(annotation, lambda a: a in (int, float))
    if isinstance(value, str) and value.lower() in _YAML11_BOOLEANS and _admits(annotation, lambda a: a is bool):
        word = "true" if _YAML11_BOOLEANS[value.lower()] else "false"
        return f"YAML 1.2 reads `{value}` as a string: write {word}"
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


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1  # torch passes integer arguments as int64 (C++ `int64_t`)


def _int64_problem(op: str, name: str, value: Any) -> ArgProblem | None:
    """An integer anywhere in an argument's value (a list's items, a mapping's values) outside int64."""
    stack, seen = [value], 0
    while stack and seen < 100_000:  # the loader bounds a value's size; the count keeps this loop bounded too
        item = stack.pop()
        seen += 1
        if isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, int) and not isinstance(item, bool) and not INT64_MIN <= item <= INT64_MAX:
            return _value_problem(
                op,
                name,
                value if len(_render(value)) <= 80 else item,
                "must hold integers that fit in 64 bits (-2**63 to 2**63 - 1), as torch passes them",
            )
    return None


def _literal_choices(annotation: Any) -> list[str]:
    if typing.get_origin(annotation) is Literal:
        return [str(c) for c in typing.get_args(annotation)]
    if typing.get_origin(annotation) in (Union, types.UnionType):
        return [c for member in typing.get_args(annotation) for c in _literal_choices(member)]
    return []


MAX_UNKNOWN_REPORTED = 20  # past this, one diagnostic counts the rest (a hostile spec may give thousands)


def check_args(op: OpDef, args: Mapping[str, Any], *, allow_missing_inferred: bool = True) -> list[ArgProblem]:
    """Every problem with the arguments `args` given to `op`: unknown, missing, mistyped, out of range.

    Types are checked strictly against the op's own annotations (`true` is not an integer,
    `"3"` is not a number; an integer is accepted for a float; lists stand for tuples).
    """
    problems: list[ArgProblem] = []
    unknown = [name for name in args if name not in op.args]
    for name in unknown[:MAX_UNKNOWN_REPORTED]:
        known = ", ".join(f"`{n}`" for n in op.args) or "none"
        hint = did_you_mean(name, op.args) or f"`{op.name}` takes: {known}"
        problems.append(ArgProblem(name, f"`{op.name}` has no argument `{name}`", hint, "unknown"))
    if len(unknown) > MAX_UNKNOWN_REPORTED:
        rest = len(unknown) - MAX_UNKNOWN_REPORTED
        problems.append(ArgProblem(None, f"`{op.name}` has {rest:,} more unknown arguments", None, "unknown"))
    for name, spec in op.args.items():
        if spec.required and name not in args and not (spec.inferred and allow_missing_inferred):
            problems.append(
                ArgProblem(
                    name,
                    f"`{op.name}` needs `{name}`",
                    f"add `{name}`: {_describe_type(spec.annotation)}",
                    "missing",
                )
            )
    valid: dict[str, Any] = {}  # the well-typed arguments, for the value checks
    for name, value in args.items():
        if name in op.args:
            value = _normalize_value(op.args[name], value)
            problem = _type_problem(op, op.args[name], value) or _int64_problem(op.name, name, value)
            if problem:
                problems.append(problem)
            else:
                valid[name] = value
    if op.validate is not None:
        defaults = {n: s.default for n, s in op.args.items() if not s.required and n not in args}
        problems.extend(op.validate(defaults | valid))
    return problems


def complete_args(op: OpDef, args: Mapping[str, Any], inputs: list[Shape]) -> dict[str, Any]:
    """The arguments with defaults and inferred values filled in (lists made tuples where annotated).

    An inferred argument that was given must agree with the inputs, else `ShapeError`
    ("`in_channels` is 3 but the input has 64 channels").
    """
    given = {n: _normalize_value(op.args[n], v) if n in op.args else v for n, v in args.items()}
    inferred = op.infer(inputs, given) if op.infer is not None else {}
    for name, value in inferred.items():
        if name in given and not _same_value(given[name], value):
            raise ShapeError(_mismatch_message(name, given[name], value), _mismatch_hint(op.name, name), arg=name)
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
    if inferred and op.validate is not None:
        taken = set(inferred) - set(given)
        key = (id(op), _hashable(complete), frozenset(taken)) if taken else None
        try:
            known = key is not None and _INFERRED_OK.get(key) is op
        except TypeError:  # a value with no hash: checked each time
            key, known = None, False
        if not known:
            _check_inferred(op, given, complete, taken)
            if key is not None:
                if len(_INFERRED_OK) >= _INFERRED_OK_SIZE:
                    _INFERRED_OK.clear()
                _INFERRED_OK[key] = op  # holding the op keeps its id from naming another
    return complete


# Arguments whose inferred values passed the value checks, by op: a spec repeats the same layer many
# times, at validation and again at build. Only passes are kept, so a failure is always checked afresh.
_INFERRED_OK: dict[tuple[int, Any, frozenset[str]], Any] = {}
_INFERRED_OK_SIZE = 4096


def _hashable(value: Any) -> Any:
    """A hashable stand-in for argument values that tells `1`, `1.0`, `true`, `0.0` and `-0.0` apart."""
    if isinstance(value, dict):
        return ("dict", tuple((k, _hashable(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_hashable(v) for v in value))
    if isinstance(value, float):
        return ("float", repr(value))
    return (type(value).__name__, value)


def _check_inferred(op: OpDef, given: dict[str, Any], complete: dict[str, Any], inferred: set[str]) -> None:
    """The value checks again, with the arguments taken from the inputs (`embed_dim` for `num_heads`).

    `check_args` ran them before the input shapes were known; a problem that appears only now
    comes from an inferred value, and is a `ShapeError` naming it.
    """
    assert op.validate is not None
    if not inferred:
        return
    problems = op.validate(complete)
    if not problems:
        return  # the common case: one call
    before = {p.message for p in op.validate({n: v for n, v in complete.items() if n not in inferred})}
    for problem in problems:
        if problem.message in before:
            continue
        taken = ", ".join(f"`{n}` = {_render(complete[n])}" for n in sorted(inferred))
        raise ShapeError(
            f"{problem.message} ({taken}, taken from the input)",
            problem.hint
            or (
                f"`{problem.arg}` comes from the input: change the other arguments or what feeds this `{op.name}`"
                if problem.arg in inferred
                else f"change `{problem.arg}` or what feeds this `{op.name}`"
            ),
            arg=problem.arg,
        )


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
    if name in _FEATURES_OF:
        return f"`{name}` is {_render(given)} but the {_FEATURES_OF[name]} has {_render(actual)} features (its last dimension)"
    return f"`{name}` is {_render(given)} but the input gives {_render(actual)}"


# Inferred sizes that are the last dimension of one input of the op (attention, recurrent layers).
_FEATURES_OF = {"embed_dim": "query", "kdim": "key", "vdim": "value", "input_size": "input"}


def _mismatch_hint(op_name: str, name: str) -> str:
    return f"leave `{name}` out to take it from the input, or change what feeds this `{op_name}`"


# -- value checks by argument name --------------------------------------------------------------

_AT_LEAST_ONE = frozenset(
    {
        "in_channels",
        "out_channels",
        "in_features",
        "out_features",
        "num_features",
        "num_channels",
        "num_groups",
        "num_parameters",
        "upscale_factor",
        "kernel_size",
        "stride",
        "dilation",
        "groups",
        "normalized_shape",
        "output_size",
        "size",
    }
)
_NON_NEGATIVE = frozenset({"padding", "output_padding", "pad"})
_PROBABILITIES = frozenset({"p", "momentum"})


def _values(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (tuple, list)) else [value]


def _generic_problems(op: str, args: dict[str, Any]) -> list[ArgProblem]:
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
