"""The op catalog: what each op is called, what it accepts, and its shape, MAC and parameter rules.

Built-in module ops carry the names and keyword arguments of their `torch.nn` classes (and
netspec's own layers from `_modules`, such as `StochasticDepth`), as each class's own signature
declares them (read from the signature snapshot, `_signatures`: building the catalog imports no
torch); edge ops (`add`, `mul`, `concat`, `crop`, `pad`, `interpolate`) are functions in
`_runtime`. More ops come from `register_op` and from plugins (entry-point group `netspec.ops`).

Conventions: shapes are tuples of `Dim` (int or symbolic); a shape rule gets complete arguments
(given, defaulted and inferred) and a `ShapeCheck`. MACs count the multiply-accumulates of
convolutions and linear layers only (bias additions, norms, activations and pooling count 0),
which is how published figures such as "1.81 GMACs for ResNet-18" are measured.

This module is the registry and the one place other code imports ops from. The op types and
argument checking live in `_args`, the rules of the built-in layers in `_layers`, the edge ops
in `_edge_ops`, and the helpers those rules share in `_rules`.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.metadata
import inspect
import re
import sys
import types
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal, TypeGuard, cast

from ._args import (
    _INFERRED_NAMES,
    ArgProblem,
    ArgSpec,
    InferRule,
    MacsRule,
    OpDef,
    ParamRule,
    ShapeRule,
    _describe_type,  # noqa: F401 - re-exported for tools/gen_ops.py
    _doc_of,
    _normalize_annotation,
    _signature_args,
    check_args,
    complete_args,
)
from ._dims import Dim, Shape, ShapeCheck, ShapeError, format_shape, is_concrete
from ._edge_ops import edge_ops
from ._layers import layer_ops
from ._modern_layers import modern_ops
from ._refusals import apply as apply_refusals
from ._rules import _no_params
from ._tensor_ops import tensor_ops
from ._window_ops import window_ops

__all__ = [
    "ArgProblem",
    "ArgSpec",
    "OpDef",
    "builtin_list",
    "builtin_ops",
    "catalog",
    "catalog_version",
    "check_args",
    "complete_args",
    "get_op",
    "load_plugins",
    "register_op",
    "unregister_op",
]


def builtin_list() -> list[OpDef]:
    """Every built-in op, made afresh (the signature generator reads torch while it runs).

    The table of what torch refuses (`_refusals`) is part of each op's value checks and shape rule.
    """
    return [apply_refusals(op) for op in layer_ops() + modern_ops() + edge_ops() + tensor_ops() + window_ops()]


@functools.cache
def _builtins() -> Mapping[str, OpDef]:
    ops = builtin_list()
    return types.MappingProxyType({op.name: op for op in ops})


_registered: dict[str, OpDef] = {}  # ops added by register_op, by name
_version = 0  # bumped whenever an op is registered or removed: names resolved before are stale
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
    global _plugins_scanned  # set before the scan, so that a plugin that imports netspec does not rescan
    _plugins_scanned = True
    load_plugins()


def builtin_ops() -> Mapping[str, OpDef]:
    """A read-only view of the built-in ops (without registered ones and plugins)."""
    return _builtins()


def catalog_version() -> int:
    """A number that changes whenever the catalog does (an op registered or removed)."""
    return _version


def catalog() -> Mapping[str, OpDef]:
    """A read-only view of every op: built-ins and registered ones."""
    return types.MappingProxyType(_table())


_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


def register_op(
    name: str,
    target: Callable[..., Any] | str | None = None,
    *,
    args: Mapping[str, Any] | None = None,
    kind: Literal["module", "function"] | None = None,
    shape: ShapeRule | None = None,
    infer: InferRule | None = None,
    inferred: Iterable[str] | None = None,
    macs: MacsRule | None = None,
    param_count: ParamRule | None = None,
    inputs: tuple[int, int | None] | None = None,
    replace: bool = False,
) -> Any:
    """Add an op to the catalog; usable directly or as a decorator (`@register_op("Scale")`).

    `target` is an `nn.Module` subclass (its `__init__` keywords are the args) or a function
    whose leading tensor parameters are the inputs and whose remaining parameters are the args.
    `inputs` is (min, max) with max None for any number; by default it is read from `forward`
    or the function. Without `shape`, the output shape is found by running the op on meta
    tensors (concrete sizes only); without `param_count`, a module is built on the meta device
    and its parameters counted (its buffers always are, the same way: the memory budget counts both). `inferred` names the args `infer` fills (by default the usual
    `in_channels`-like names among the args). Returns `target`.

    `target` may also be a dotted path (`"my_layers.Scale"`), imported only when a model is built,
    so that specs using the op validate without importing torch or the op's module. Then `args`
    declares the arguments (`{"factor": float, "mode": (str, "fast")}`: a type, or a type and its
    default), `kind` says whether it is a "module" (the default) or a "function", and `inputs`
    defaults to one; give `shape` (and `param_count`) to keep validation and summaries torch-free.
    """
    if target is None:
        return lambda fn: register_op(
            name,
            fn,
            args=args,
            kind=kind,
            shape=shape,
            infer=infer,
            inferred=inferred,
            macs=macs,
            param_count=param_count,
            inputs=inputs,
            replace=replace,
        )
    _check_new_name(name, replace)
    if isinstance(target, str):
        kind = kind or "module"
        if kind not in ("module", "function"):
            raise ValueError(f'`kind` of `{name}` must be "module" or "function", got {kind!r}')
        if args is None:
            raise TypeError(
                f"register_op(`{name}`) with the path {target!r} needs `args` (name -> type or (type, default))"
            )
        specs, count, variadic = _declared_args(name, args), 1, False
        doc = ""
    elif _is_module_class(target):
        kind, count, variadic = "module", *_tensor_params(target.forward, skip=1)
        specs = _declared_args(name, args) if args is not None else _signature_args(target.__init__, skip=1)
        doc = _doc_of(target)
    elif callable(target) and not isinstance(target, type):
        kind, count, variadic = "function", *_tensor_params(target, skip=0)
        specs = _declared_args(name, args) if args is not None else _signature_args(target, skip=count)
        doc = _doc_of(target)
    else:
        raise TypeError(
            f"register_op needs an nn.Module subclass, a function or a dotted path for `{name}`, got {target!r}"
        )
    input_range = inputs if inputs is not None else ((max(count, 1), None) if variadic else (count, count))
    inferred = set(inferred) if inferred is not None else (_INFERRED_NAMES & specs.keys() if infer else set())
    specs = {n: dataclasses.replace(spec, inferred=n in inferred) for n, spec in specs.items()}
    op = OpDef(
        name=name,
        kind=kind,
        target=target,
        args=types.MappingProxyType(specs),
        shape=shape or _meta_shape_rule(name),
        min_inputs=input_range[0],
        max_inputs=input_range[1],
        infer=infer,
        macs=macs,
        param_count=param_count or (_meta_param_count(name) if kind == "module" else _no_params),
        buffer_count=_meta_buffer_count(name) if kind == "module" else None,
        doc=doc,
    )
    global _version
    _registered[name] = op
    _table()[name] = op
    _version += 1
    return target


def _declared_args(name: str, declared: Mapping[str, Any]) -> dict[str, ArgSpec]:
    """`{"factor": float, "mode": (str, "fast")}` as argument specs: a bare type is a required argument."""
    specs = {}
    for arg, value in declared.items():
        if not isinstance(arg, str) or not arg.isidentifier():
            raise ValueError(f"argument names of `{name}` must be identifiers, got {arg!r}")
        if isinstance(value, tuple) and len(value) == 2:
            annotation, default, required = value[0], value[1], False
        else:
            annotation, default, required = value, None, True
        specs[arg] = ArgSpec(arg, _normalize_annotation(annotation, required, default), required, default)
    return specs


def _is_module_class(target: Any) -> TypeGuard[type[Any]]:
    """An `nn.Module` subclass (torch is imported already if `target` is one)."""
    torch = sys.modules.get("torch")
    return isinstance(target, type) and torch is not None and issubclass(target, torch.nn.Module)


def unregister_op(name: str) -> None:
    """Remove a registered op (a built-in it replaced comes back)."""
    if name not in _registered:
        raise KeyError(f"no registered op `{name}`")
    global _version
    del _registered[name]
    _version += 1
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
    torch = sys.modules.get("torch")
    if torch is not None and annotation is torch.Tensor:
        return True
    return annotation is inspect.Parameter.empty or annotation in ("Tensor", "torch.Tensor")


def _tensor_params(fn: Callable[..., Any], skip: int) -> tuple[int, bool]:
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


def _meta_shape_rule(name: str) -> ShapeRule:
    """Find the output shape by running the op on meta tensors.

    Sizes must be fixed, except a symbolic batch (dimension 0): the op is run at two batch sizes,
    and an output dimension that follows them is the batch.
    """

    def rule(inputs: list[Shape], args: dict[str, Any], check: ShapeCheck) -> Shape:
        batch = _symbolic_batch(name, inputs)
        if batch is None:
            return _run_on_meta(name, inputs, args)
        runs = [
            _run_on_meta(name, [(size, *s[1:]) if s and s[0] == batch else s for s in inputs], args) for size in (2, 3)
        ]
        if len(runs[0]) != len(runs[1]):
            raise ShapeError(f"the rank of `{name}`'s output depends on the batch size")
        output: list[Dim] = []
        for a, b in zip(*runs):
            if a != b and (a, b) != (2, 3):
                raise ShapeError(
                    f"`{name}`'s output size {a} (batch 2) / {b} (batch 3) depends on the batch size in a way "
                    f"only a shape rule can tell",
                    f'give register_op("{name}", ..., shape=rule) a rule (inputs, args, check) -> output shape',
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
                    f'give register_op("{name}", ..., shape=rule) a rule (inputs, args, check) -> output shape',
                )
            batch = d
    return batch


def _run_on_meta(name: str, inputs: list[Shape], args: dict[str, Any]) -> Shape:
    op = get_op(name)
    assert op is not None  # the rule belongs to a registered op
    try:
        import torch
    except ImportError as exc:
        raise ShapeError(
            f"`{name}` has no shape rule, so its output shape is found by running it, which needs torch",
            f'install torch, or give register_op("{name}", ..., shape=rule) a rule (inputs, args, check) -> output shape',
        ) from exc
    # `_symbolic_batch` has checked every size is fixed, and a symbolic batch is replaced before this
    tensors = [torch.empty(cast("tuple[int, ...]", shape), device="meta") for shape in inputs]
    try:
        target = op.resolve()
        with torch.device("meta"):
            output = target(**args)(*tensors) if op.kind == "module" else target(*tensors, **args)
    except Exception as exc:  # the op's own failure, reported against the spec
        shapes = ", ".join(format_shape(s) for s in inputs)
        raise ShapeError(f"`{name}` fails on inputs {shapes}: {exc}") from exc
    if not isinstance(output, torch.Tensor):
        raise ShapeError(f"`{name}` returns a {type(output).__name__}, not a tensor")
    return tuple(output.shape)


def _meta_param_count(name: str) -> ParamRule:
    def count(args: dict[str, Any]) -> int:
        op = get_op(name)
        assert op is not None
        import torch  # counting by building needs torch; give `param_count` to count without it

        with torch.device("meta"):
            module = op.resolve()(**args)
        return sum(p.numel() for p in module.parameters())

    return count


def _meta_buffer_count(name: str) -> ParamRule:
    def count(args: dict[str, Any]) -> int:
        op = get_op(name)
        assert op is not None
        import torch  # counting by building needs torch

        with torch.device("meta"):
            module = op.resolve()(**args)
        return sum(b.numel() for b in module.buffers())

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
            if _is_module_class(loaded):
                register_op(entry.name, loaded)
            elif callable(loaded) and not isinstance(loaded, types.ModuleType):
                loaded()
        except Exception as exc:
            raise ImportError(f"the netspec plugin `{entry.name}` ({entry.value}) failed to load: {exc}") from exc
