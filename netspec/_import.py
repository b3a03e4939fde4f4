"""Import: an `nn.Module` becomes a readable spec, verified against the original.

The module is traced with torch.fx, stopping at modules the op catalog knows (`Conv2d`, `ReLU`, a
registered op's class, ...). Each traced call becomes a spec node: a catalog module with the
arguments read back from the instance, or a functional call (`F.relu`, `torch.cat`, `x.flatten(1)`,
`+=`) mapped to its op. The module hierarchy gives the blocks: the submodules of one class that
differ only in sizes become one block with parameters (and `when` for parts some instances lack),
a container of chained instances of one block becomes a `repeat` with index expressions, and every
module keeps its name, so the original's state dict loads strictly into the build.

The spec is then built, the original's weights loaded into it strictly and the outputs compared
(eval mode; train mode under one seed when the original is deterministic); any difference fails the
import with a report. This module is a tool on top of the pipeline: nothing in the pipeline imports it.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import inspect
import json
import keyword
import math
import operator
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeGuard, cast

import torch
from torch import fx, nn
from torch.nn import functional as F

from ._ops import OpDef, catalog

__all__ = ["ModuleImportError", "from_module"]


class ModuleImportError(Exception):
    """The module cannot be imported: an op the catalog lacks, a construct specs cannot say, or a
    spec whose build differs from the original. `problems` lists each, as text."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


_REGISTER_HINT = "add it to the catalog with `netspec.register_op(NAME, target)` (docs/custom-ops.md) and import again"


# -- the catalog, seen from Python objects ---------------------------------------------------------


def _module_ops() -> dict[type, OpDef]:
    """Catalog module ops by class."""
    found: dict[type, OpDef] = {}
    for op in catalog().values():
        target = op.resolve() if op.kind == "module" else None
        if isinstance(target, type):
            found[target] = op
    return found


def _leaf_op(module: nn.Module, ops: Mapping[type, OpDef]) -> OpDef | None:
    """The catalog op that builds `module`: its class, a catalog class it subclasses without changing
    `forward`, or a catalog class of the same name whose arguments it has (torchvision's
    `StochasticDepth` for netspec's: the outputs are compared when the import is verified)."""
    cls = type(module)
    if cls in ops:
        return ops[cls]
    namesake = catalog().get(cls.__name__)
    if namesake is not None and namesake.kind == "module" and not module._modules and _namesake(module, namesake):
        return namesake
    for base in cls.__mro__[1:]:
        if base in ops:
            same_forward = getattr(cls, "forward", None) is getattr(base, "forward", None)
            return ops[base] if same_forward and not module._modules else None
    return None


def _namesake(module: nn.Module, op: OpDef) -> bool:
    """Whether `module` has every required argument of `op` as an attribute, and the same weights' shapes."""
    args = _read_args(module, op)
    if any(spec.required and name not in args for name, spec in op.args.items()):
        return False
    rebuilt = _rebuild(op.resolve(), args)
    if rebuilt is None:
        return False
    shapes = {k: tuple(v.shape) for k, v in rebuilt.state_dict().items()}
    return shapes == {k: tuple(v.shape) for k, v in module.state_dict().items()}


# -- tracing -----------------------------------------------------------------------------------------


@dataclasses.dataclass
class _Call:
    """One call of a module the tracer went into (not a catalog leaf)."""

    key: str  # fx's module-stack key: the path, `path@n` for the n-th extra call
    path: str
    module: nn.Module
    parent: str  # key of the enclosing call ("" for the root)
    args: list[Any]
    arg_names: list[str]
    result: Any = None


class _Tracer(fx.Tracer):
    def __init__(self, ops: Mapping[type, OpDef], root: nn.Module) -> None:
        super().__init__()
        self.ops = ops
        # decided before tracing: reading a module's attributes while tracing would record them
        self.leaves = {id(m): _leaf_op(m, ops) for m in root.modules()}
        self.record_stack_traces = True
        self.proxy_buffer_attributes = True  # a buffer the forward reads is a `Buffer` node, not a constant
        self.calls: dict[str, _Call] = {}
        self.active: list[str] = [""]

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        op = self.leaves.get(id(m))
        return op is not None

    def call_module(
        self, m: nn.Module, forward: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        path = self.path_of_module(m)
        if self.is_leaf_module(m, path):
            return super().call_module(m, forward, args, kwargs)
        count = self.num_calls.get(path, 0)
        key = f"{path}@{count}" if count else path
        names, values = _bind(m.forward, args, kwargs)
        call = _Call(key, path, m, self.active[-1], values, names)
        self.calls[key] = call
        self.active.append(key)
        swin = _SWIN_FORWARDS.get(type(m).__name__) if type(m).__module__ == _SWIN_MODULE else None
        if swin is not None:
            forward = functools.partial(swin, self, m)
        try:
            call.result = super().call_module(m, forward, args, kwargs)
        finally:
            self.active.pop()
        return call.result


# torchvision's Swin hides its windows in functions that fx keeps whole (`torch.fx.wrap`): their
# forwards are traced as the same computation said with the catalog's window ops.
_SWIN_MODULE = "torchvision.models.swin_transformer"


def _window_op(tracer: fx.Tracer, name: str, *inputs: Any, **kwargs: Any) -> Any:
    return tracer.create_proxy("call_function", catalog()[name].resolve(), inputs, kwargs)


def _swin_attention(tracer: fx.Tracer, module: Any, x: Any) -> Any:
    """`ShiftedWindowAttention.forward`: the bias table's rows picked by the index buffer, attention
    in the (padded, shifted) windows with the shifted windows' mask, the windows put back."""
    window, shift = [int(w) for w in module.window_size], [int(s) for s in module.shift_size]
    heads, tokens, width = int(module.num_heads), window[0] * window[1], int(module.proj.in_features)
    bias = _window_op(tracer, "index_select", module.relative_position_bias_table, module.relative_position_index)
    bias = bias.reshape(tokens, tokens, -1).permute(2, 0, 1).unsqueeze(0)
    windows = _window_op(tracer, "window_partition", x, window_size=window, shift_size=shift)
    qkv = module.qkv(windows).reshape(-1, tokens, 3, heads, width // heads).permute(2, 0, 3, 1, 4)
    q = _window_op(tracer, "scale", torch.select(qkv, 0, 0), by=(width // heads) ** -0.5)
    scores = torch.matmul(q, torch.transpose(torch.select(qkv, 0, 1), -2, -1)) + bias
    scores = _window_op(tracer, "window_mask", scores, x, window_size=window, shift_size=shift)
    weights = F.dropout(F.softmax(scores, dim=-1), float(module.attention_dropout))
    mixed = torch.matmul(weights, torch.select(qkv, 0, 2)).transpose(1, 2).reshape(-1, tokens, width)
    out = F.dropout(module.proj(mixed), float(module.dropout))
    return _window_op(tracer, "window_reverse", out, x, window_size=window, shift_size=shift)


def _swin_attention_v2(tracer: fx.Tracer, module: Any, x: Any) -> Any:
    """`ShiftedWindowAttentionV2.forward`: the continuous position bias (the coords table through
    `cpb_mlp`, rows picked by the index buffer, 16 * sigmoid), cosine attention scaled by
    exp(logit_scale) at most 100, and `qkv` applied with its key bias zeroed, as torchvision does in
    every forward (its weight and bias are `Parameter` nodes at their names, applied by `linear`)."""
    window, shift = [int(w) for w in module.window_size], [int(s) for s in module.shift_size]
    heads, tokens, width = int(module.num_heads), window[0] * window[1], int(module.proj.in_features)
    table = module.cpb_mlp(module.relative_coords_table).reshape(-1, heads)
    bias = _window_op(tracer, "index_select", table, module.relative_position_index)
    bias = bias.reshape(tokens, tokens, -1).permute(2, 0, 1).unsqueeze(0)
    bias = _window_op(tracer, "scale", torch.sigmoid(bias), by=16.0)
    windows = _window_op(tracer, "window_partition", x, window_size=window, shift_size=shift)
    if module.qkv._parameters.get("bias") is None:  # not `module.qkv.bias`: fx would record the read
        qkv = module.qkv(windows)
    else:
        weight = module.qkv.weight  # read first: the state dict lists the weight before the bias
        qkv_bias, length = module.qkv.bias, int(module.qkv.out_features) // 3
        zero = _window_op(tracer, "clamp", qkv_bias[length : 2 * length], min=0.0, max=0.0)
        qkv_bias = torch.cat([qkv_bias[:length], zero, qkv_bias[2 * length :]], 0)
        qkv = _window_op(tracer, "linear", windows, weight, qkv_bias)
    qkv = qkv.reshape(-1, tokens, 3, heads, width // heads).permute(2, 0, 3, 1, 4)
    q = _window_op(tracer, "normalize", torch.select(qkv, 0, 0), dim=-1)
    k = _window_op(tracer, "normalize", torch.select(qkv, 0, 1), dim=-1)
    logit_scale = _window_op(tracer, "exp", _window_op(tracer, "clamp", module.logit_scale, max=math.log(100.0)))
    scores = torch.matmul(q, torch.transpose(k, -2, -1)) * logit_scale + bias
    scores = _window_op(tracer, "window_mask", scores, x, window_size=window, shift_size=shift)
    weights = F.dropout(F.softmax(scores, dim=-1), float(module.attention_dropout))
    mixed = torch.matmul(weights, torch.select(qkv, 0, 2)).transpose(1, 2).reshape(-1, tokens, width)
    out = F.dropout(module.proj(mixed), float(module.dropout))
    return _window_op(tracer, "window_reverse", out, x, window_size=window, shift_size=shift)


def _swin_merging(tracer: fx.Tracer, module: Any, x: Any) -> Any:
    """`PatchMerging.forward` (normalise, then reduce) and `PatchMergingV2`'s (reduce, then normalise)."""
    merged = _window_op(tracer, "patch_merge", x)
    if type(module).__name__ == "PatchMergingV2":
        return module.norm(module.reduction(merged))
    return module.reduction(module.norm(merged))


_SWIN_FORWARDS: dict[str, Callable[[fx.Tracer, Any, Any], Any]] = {
    "ShiftedWindowAttention": _swin_attention,
    "ShiftedWindowAttentionV2": _swin_attention_v2,
    "PatchMerging": _swin_merging,
    "PatchMergingV2": _swin_merging,
}


def _bind(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[list[str], list[Any]]:
    try:
        bound = inspect.signature(fn).bind(*args, **kwargs)
    except (TypeError, ValueError):
        return [f"x{i}" if i else "x" for i in range(len(args))], list(args)
    names: list[str] = []
    values: list[Any] = []
    for name, value in bound.arguments.items():
        if isinstance(value, (tuple, list)) and any(isinstance(v, fx.Proxy) for v in value):
            for i, v in enumerate(value):
                names.append(f"{name}{i}")
                values.append(v)
        else:
            names.append(name)
            values.append(value)
    return names, values


class _Recorder(fx.Interpreter):
    """Runs the traced graph once and keeps every node's value (tensors and the sizes computed from them)."""

    def __init__(self, module: fx.GraphModule) -> None:
        super().__init__(module)
        self.values: dict[fx.Node, Any] = {}
        self.failed: fx.Node | None = None  # the node whose call raised

    def run_node(self, n: fx.Node) -> Any:
        try:
            value = super().run_node(n)
        except Exception:
            self.failed = n
            raise
        self.values[n] = value
        return value


# -- the spec-level graph ------------------------------------------------------------------------------


@dataclasses.dataclass(eq=False)
class _Op:
    """A node of the spec: a catalog op applied to tensor inputs."""

    node: fx.Node
    op: str
    args: dict[str, Any]
    inputs: list[fx.Node]
    scope: str = ""  # the key of the innermost call it runs in
    module_path: str | None = None  # catalog module ops: the module's qualified name
    name: str = ""  # name within its scope
    base: str = ""  # what to call it when it needs a fresh name


@dataclasses.dataclass(eq=False)
class _Scope:
    key: str
    path: str
    module: nn.Module
    parent: _Scope | None
    name: str  # relative to the parent's path
    inputs: list[fx.Node] = dataclasses.field(default_factory=list)
    input_names: list[str] = dataclasses.field(default_factory=list)
    output: fx.Node | None = None
    items: list[_Op | _Scope] = dataclasses.field(default_factory=list)
    synthetic: bool = False  # a container the forward indexes without calling it


def _source_line(node: fx.Node) -> str:
    """The last frame of a traced node's stack: `file:line: code`."""
    trace = node.stack_trace or ""
    frames = re.findall(r'File "([^"]+)", line (\d+), in [^\n]*\n\s*([^\n]*)', trace)
    skipped = (str(Path(torch.__file__).parent) + os.sep, str(Path(__file__).parent) + os.sep)
    frames = [f for f in frames if not f[0].startswith(skipped)]
    if not frames:
        return "(no source line)"
    file, line, code = frames[-1]
    return f"{file}:{line}: {code.strip()}"


def _constant_value(value: torch.Tensor) -> float | None:
    """The one value every element of a floating tensor holds (shortest text that gives it back), else None."""
    if not value.is_floating_point() or value.numel() == 0:
        return None
    value = value.detach()
    first = value.reshape(-1)[0]
    if not bool(torch.all(value == first)) or not bool(torch.isfinite(first)):
        return None
    exact = float(first)
    for digits in range(1, 18):
        short = float(f"{exact:.{digits}g}")
        if torch.tensor(short, dtype=value.dtype) == first:
            return short
    return exact


def _module_of(node: fx.Node) -> tuple[str, str]:
    """The innermost module a traced node runs in: (path, class name)."""
    stack = node.meta.get("nn_module_stack") or {}
    if not stack:
        return "", "the root module"
    path, cls = list(stack.values())[-1]
    return path, getattr(cls, "__qualname__", str(cls))


def _unsupported(node: fx.Node, what: str, hint: str | None = None) -> str:
    path, cls = _module_of(node)
    where = f"in `{path}` ({cls})" if path else "in the root module"
    if hint is None:
        name = cls.rsplit(".", 1)[-1]
        hint = (
            f'register the module with `netspec.register_op("{name}", {name})` (docs/custom-ops.md) so that '
            f"the importer keeps it as one node, or add an op for the call"
            if path
            else _REGISTER_HINT
        )
    return f"{what} {where}, at {_source_line(node)}: {hint}"


# -- arguments of catalog modules --------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A value as a spec writes it: tuples and sizes as lists."""
    if isinstance(value, (tuple, list, torch.Size)):
        return [_plain(v) for v in value]
    if isinstance(value, torch.dtype):
        raise TypeError("a dtype")
    return value


def _spec_value(value: Any) -> bool:
    if value is None or isinstance(value, (bool, int, float, str)):
        return not isinstance(value, float) or math.isfinite(value)
    if isinstance(value, list):
        return all(_spec_value(v) for v in value)
    return False


def _same_default(value: Any, default: Any) -> bool:
    if value == default:
        return True
    return (
        isinstance(value, list)
        and bool(value)
        and isinstance(default, (int, float))
        and all(v == default for v in value)
    )


def _module_args(module: nn.Module, op: OpDef, input_shape: tuple[int, ...] | None) -> dict[str, Any]:
    """The arguments that rebuild `module`, read from its attributes; checked by rebuilding it."""
    return _minimal_args(module, op, _read_args(module, op), input_shape)


# boolean arguments that say whether a module has a tensor: the attributes holding it
_PRESENCE = {"bias": ("bias", "in_proj_bias"), "add_bias_kv": ("bias_k",)}


def _read_args(module: nn.Module, op: OpDef) -> dict[str, Any]:
    """The op's arguments found as the module's attributes (`bias` as whether it has one)."""
    args: dict[str, Any] = {}
    for name, spec in op.args.items():
        if name.startswith("_"):
            continue
        if name in _PRESENCE and isinstance(spec.default, bool):
            value: Any = any(getattr(module, a, None) is not None for a in _PRESENCE[name])
        elif name == "elementwise_affine" and hasattr(module, name):
            value = module.elementwise_affine
        elif hasattr(module, name):
            value = getattr(module, name)
        else:
            continue
        if isinstance(value, (torch.Tensor, nn.Module)) or callable(value):
            continue
        args[name] = _plain(value)
    return args


def _minimal_args(
    module: nn.Module, op: OpDef, args: dict[str, Any], input_shape: tuple[int, ...] | None
) -> dict[str, Any]:
    """The arguments that rebuild `module` exactly, without defaults and what netspec infers."""
    full = dict(args)
    rebuilt = _rebuild(op.resolve(), full)
    if rebuilt is None or not _same_module(rebuilt, module, op):
        raise ValueError(f"its arguments cannot be read back from the instance ({module!r})")
    for name, value in list(args.items()):
        spec = op.args[name]
        if isinstance(value, list) and value and all(v == value[0] for v in value):
            single = dict(args, **{name: value[0]})
            candidate = _rebuild(op.resolve(), single)
            if candidate is not None and _same_module(candidate, module, op):
                args[name] = value = value[0]
        if not spec.required and _same_default(value, spec.default):
            del args[name]
    for name in list(args):
        if not op.args[name].required:
            fewer = {k: v for k, v in args.items() if k != name}
            candidate = _rebuild(op.resolve(), fewer)
            if candidate is not None and _same_module(candidate, module, op):
                del args[name]
    for name, spec in op.args.items():
        if spec.inferred and name in args and op.infer is not None and input_shape is not None:
            try:
                inferred = op.infer([input_shape], dict(args))
            except Exception:  # noqa: BLE001, S112 - keep the argument when it cannot be inferred here
                continue
            if _plain(inferred.get(name)) == _plain(args[name]):
                del args[name]
    if not all(_spec_value(v) for v in args.values()):
        raise ValueError(f"an argument of {module!r} is not a value a spec can hold")
    return args


def _lists_as_tuples(text: str) -> str:
    """A module's description with `[1, 3, 3]` read as `(1, 3, 3)`: rebuilt modules are given tuples."""
    return text.replace("[", "(").replace("]", ")")


def _all_equal_list(value: Any) -> bool:
    return isinstance(value, list) and len(value) > 1 and all(v == value[0] for v in value)


def _rebuild(cls: Callable[..., Any], args: dict[str, Any]) -> nn.Module | None:
    try:
        with torch.device("meta"):
            built = cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in args.items()})
    except Exception:  # noqa: BLE001 - the arguments read back do not rebuild it
        return None
    return built if isinstance(built, nn.Module) else None


def _same_module(a: nn.Module, b: nn.Module, op: OpDef | None = None) -> bool:
    """Built alike: the same description (or, for a namesake class, the same arguments) and weight shapes."""
    if (type(a) is type(b) or op is None) and _lists_as_tuples(a.extra_repr()) != _lists_as_tuples(b.extra_repr()):
        return False
    if op is not None and _read_args(a, op) != _read_args(b, op):  # what `extra_repr` leaves out (`batch_first`)
        return False
    shapes_a = {k: tuple(v.shape) for k, v in a.state_dict().items()}
    shapes_b = {k: tuple(v.shape) for k, v in b.state_dict().items()}
    return shapes_a == shapes_b


# -- functional calls ------------------------------------------------------------------------------------

# (op, {argument: (position, default)}) for functions that are a parameter-free module applied to one input
_ACTIVATIONS: dict[Any, tuple[str, dict[str, tuple[int, Any]]]] = {}


def _activation_table() -> dict[Any, tuple[str, dict[str, tuple[int, Any]]]]:
    if _ACTIVATIONS:
        return _ACTIVATIONS
    inplace = {"inplace": (1, False)}
    entries: list[tuple[list[Any], str, dict[str, tuple[int, Any]]]] = [
        ([F.relu, torch.relu, "relu"], "ReLU", inplace),
        ([torch.relu_, "relu_"], "ReLU", {}),
        ([F.relu6], "ReLU6", inplace),
        ([F.silu], "SiLU", inplace),
        ([F.hardswish], "Hardswish", inplace),
        ([F.hardsigmoid], "Hardsigmoid", inplace),
        ([F.mish], "Mish", inplace),
        ([F.gelu], "GELU", {"approximate": (1, "none")}),
        ([F.sigmoid, torch.sigmoid, "sigmoid"], "Sigmoid", {}),
        ([F.tanh, torch.tanh, "tanh"], "Tanh", {}),
        ([F.leaky_relu], "LeakyReLU", {"negative_slope": (1, 0.01), "inplace": (2, False)}),
        ([F.elu], "ELU", {"alpha": (1, 1.0), "inplace": (2, False)}),
        ([F.selu], "SELU", inplace),
        ([F.softplus], "Softplus", {"beta": (1, 1.0), "threshold": (2, 20.0)}),
        ([F.hardtanh], "Hardtanh", {"min_val": (1, -1.0), "max_val": (2, 1.0), "inplace": (3, False)}),
        ([F.dropout], "Dropout", {"p": (1, 0.5), "inplace": (3, False)}),
        ([F.dropout2d], "Dropout2d", {"p": (1, 0.5), "inplace": (3, False)}),
        ([F.softmax, torch.softmax, "softmax"], "Softmax", {"dim": (1, None)}),
        ([F.log_softmax, torch.log_softmax, "log_softmax"], "LogSoftmax", {"dim": (1, None)}),
        ([F.adaptive_avg_pool1d], "AdaptiveAvgPool1d", {"output_size": (1, None)}),
        ([F.adaptive_avg_pool2d], "AdaptiveAvgPool2d", {"output_size": (1, None)}),
        ([F.adaptive_avg_pool3d], "AdaptiveAvgPool3d", {"output_size": (1, None)}),
        ([F.adaptive_max_pool2d], "AdaptiveMaxPool2d", {"output_size": (1, None)}),
    ]
    for n in (1, 2, 3):
        entries.append(
            (
                [getattr(F, f"max_pool{n}d")],
                f"MaxPool{n}d",
                {
                    "kernel_size": (1, None),
                    "stride": (2, None),
                    "padding": (3, 0),
                    "dilation": (4, 1),
                    "ceil_mode": (5, False),
                },
            )
        )
        entries.append(
            (
                [getattr(F, f"avg_pool{n}d")],
                f"AvgPool{n}d",
                {
                    "kernel_size": (1, None),
                    "stride": (2, None),
                    "padding": (3, 0),
                    "ceil_mode": (4, False),
                    "count_include_pad": (5, True),
                },
            )
        )
    for targets, op, args in entries:
        for target in targets:
            _ACTIVATIONS[target] = (op, args)
    return _ACTIVATIONS


_UNBIND = {torch.unbind, "unbind"}
_TENSOR_SPLIT = {torch.tensor_split, "tensor_split"}
_IDENTITY_METHODS = {"contiguous"}  # dropped: `view` is imported as `reshape`, which needs no contiguity
_VARARGS = {"permute", "view", "reshape", "expand", "repeat"}  # `x.permute(0, 2, 1)`: the sizes as one list
_REDUCTIONS = {"mean", "sum", "amax", "amin"}
# torch's own defaults where the catalog's differ (the catalog's chunk and split default to dim 1)
_TORCH_DEFAULTS: dict[str, dict[str, Any]] = {"chunk": {"dim": 0}, "split": {"dim": 0}}
_KWARG_ALIASES = {
    ("split", "split_size"): "split_size_or_sections",
    ("view", "size"): "shape",
    ("transpose", "axis0"): "dim0",
    ("transpose", "axis1"): "dim1",
}
_REPEAT_INTERLEAVE = {torch.repeat_interleave, "repeat_interleave"}
_SWAP = {torch.swapaxes, torch.swapdims, "swapaxes", "swapdims"}
_ADD = {operator.add, operator.iadd, torch.add, "add", "add_"}
_MUL = {operator.mul, operator.imul, torch.mul, "mul", "mul_"}
_CAT = {torch.cat, torch.concat, torch.concatenate}
_FLATTEN = {torch.flatten, "flatten"}
_RESHAPE = {"view", "reshape", torch.reshape}


def _position_window(value: torch.Tensor) -> list[int] | None:
    """The window whose relative position index (`RelativePositionIndex`) `value` is, if it is one."""
    if value.dtype != torch.int64 or not (value.dim() == 1 or (value.dim() == 2 and value.shape[0] == value.shape[1])):
        return None
    tokens = math.isqrt(value.numel())
    if tokens * tokens != value.numel() or tokens == 0:
        return None
    op = catalog().get("RelativePositionIndex")
    if op is None:
        return None
    relative_position_index = op.resolve()
    for height in range(1, tokens + 1):
        if tokens % height == 0:
            window = [height, tokens // height]
            if torch.equal(relative_position_index(window).reshape(value.shape), value):
                return window
    return None


def _coords_window(value: torch.Tensor) -> list[int] | None:
    """The window whose relative coords table (`RelativeCoordsTable`, Swin v2's) `value` is, if it is one."""
    if value.dim() != 4 or value.dtype != torch.float32 or value.shape[0] != 1 or value.shape[3] != 2:
        return None
    height, width = int(value.shape[1]), int(value.shape[2])
    op = catalog().get("RelativeCoordsTable")
    if op is None or height % 2 == 0 or width % 2 == 0 or height < 3 or width < 3:
        return None
    window = [(height + 1) // 2, (width + 1) // 2]
    return window if torch.equal(op.resolve()(window), value) else None


def _number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _target_key(node: fx.Node) -> Any:
    return node.target if node.op == "call_function" else node.target if node.op == "call_method" else None


def _argument(node: fx.Node, position: int, name: str, default: Any) -> Any:
    if name in node.kwargs:
        return node.kwargs[name]
    if position < len(node.args):
        return node.args[position]
    return default


# -- the importer --------------------------------------------------------------------------------------


class _Importer:
    def __init__(self, module: nn.Module, inputs: Mapping[str, Sequence[int]], name: str | None) -> None:
        self.original = module
        self.shapes = {k: tuple(int(d) for d in v) for k, v in inputs.items()}
        self.name = name or _kebab(type(module).__name__)
        self.ops = _module_ops()
        self.problems: list[str] = []
        self.folded_sizes = False  # a size computed from a tensor's shape was written as a number
        self.channel_param: str | None = None  # the spec parameter that is the input's channel count

    # -- tracing

    def trace(self) -> None:
        module = self.original
        self.module = module
        tracer = _Tracer(self.ops, module)
        try:
            with _mode(module, training=False):
                graph = tracer.trace(module)
        except Exception as err:
            raise ModuleImportError(
                [f"torch.fx cannot trace `{type(self.original).__qualname__}`: {type(err).__name__}: {err}"]
            ) from err
        self.tracer = tracer
        self.graph = graph
        self.gm = fx.GraphModule(module, graph)
        placeholders = [n for n in graph.nodes if n.op == "placeholder"]
        names = [str(n.target) for n in placeholders]
        if set(names) != set(self.shapes) and len(names) == len(self.shapes) and not set(names) & set(self.shapes):
            for placeholder, given in zip(placeholders, self.shapes):  # `input` of nn.Sequential, named as asked
                placeholder.target = placeholder.name = given
            names = list(self.shapes)
        if set(names) != set(self.shapes):
            raise ModuleImportError(
                [f"the forward takes {', '.join(names) or 'nothing'}, the inputs given are {', '.join(self.shapes)}"]
            )
        torch.manual_seed(0)
        self.examples = {k: torch.randn(self.shapes[k]) for k in names}
        recorder = _Recorder(self.gm)
        try:
            with torch.no_grad(), _mode(module, training=False):
                recorder.run(*[self.examples[k] for k in names])
        except Exception as err:  # noqa: BLE001 - the module's own failure at the example shapes
            first = str(err).strip().splitlines()[0] if str(err).strip() else ""
            failure = f"{type(err).__name__}: {first}"
            if recorder.failed is not None and self._runs_eagerly(names):
                # the module runs, but not as traced: the call fx recorded cannot be replayed
                raise ModuleImportError(
                    [_unsupported(recorder.failed, f"a call that fails when the traced graph is replayed ({failure})")]
                ) from None
            shapes = ", ".join(f"{k}={list(v)}" for k, v in self.shapes.items())
            raise ModuleImportError([f"the module fails on inputs of shape {shapes}: {failure}"]) from None
        self.values = recorder.values
        self._check_unused()

    def _runs_eagerly(self, names: list[str]) -> bool:
        try:
            with torch.no_grad(), _mode(self.original, training=False):
                self.original(*[self.examples[k] for k in names])
        except Exception:  # noqa: BLE001 - the module's own failure: the inputs are wrong for it
            return False
        return True

    def _check_unused(self) -> None:
        """Weights of modules the forward never calls cannot be loaded into a spec: say which."""
        used: set[str] = set()
        for node in self.graph.nodes:
            if node.op in ("call_module", "get_attr"):
                used.add(str(node.target))
        unused = []
        for name, child in self.module.named_modules():
            if not name or any(name == u or name.startswith(u + ".") or u.startswith(name + ".") for u in used):
                continue
            if any(True for _ in child.parameters(recurse=False)) or any(True for _ in child.buffers(recurse=False)):
                unused.append(name)
        if unused:
            shown = ", ".join(f"`{n}`" for n in unused[:8]) + (
                f" and {len(unused) - 8} more" if len(unused) > 8 else ""
            )
            raise ModuleImportError(
                [
                    f"the forward (in eval mode) never calls {shown}, whose weights a spec cannot hold: "
                    + "build the model without them (e.g. `aux_logits=False`)"
                ]
            )

    # -- conversion

    def convert(self) -> None:
        self.alias: dict[fx.Node, fx.Node] = {}
        self.ports: dict[fx.Node, tuple[fx.Node, int]] = {}  # `pair[k]` -> (pair, k)
        self.ops_by_node: dict[fx.Node, _Op] = {}
        self.pieces: dict[fx.Node, tuple[fx.Node, int]] = {}  # an unbind or tensor_split: (tensor, dim)
        self.reshapes: dict[fx.Node, fx.Node] = {}  # a call whose several results reshape one tensor
        self.order: list[_Op] = []
        self.leaf_calls: Counter[str] = Counter()
        self.outputs: list[fx.Node] = []
        self.output_keys: list[str] | None = None
        for node in self.graph.nodes:
            try:
                self._convert(node)
            except _Skip:
                continue
            self._mutated(node)
        if self.problems:
            raise ModuleImportError(self.problems)

    def _mutated(self, node: fx.Node) -> None:
        """After `t.add_(u)`, what the forward calls `t` is the sum: later uses of `t` read the in-place node."""
        if node.op != "call_method" or not str(node.target).endswith("_") or node not in self.ops_by_node:
            return
        first = node.args[0] if node.args else None
        if isinstance(first, fx.Node) and self._tensor(first):
            mutated = self._source(first)
            if mutated is not node:
                self.alias[mutated] = node

    def _tensor(self, node: fx.Node) -> bool:
        return isinstance(self.values.get(node), torch.Tensor)

    def _source(self, value: Any) -> fx.Node:
        node: fx.Node = value
        while node in self.alias:
            node = self.alias[node]
        return node

    def _fold(self, value: Any, owner: fx.Node) -> Any:
        """An argument with the sizes computed from shapes replaced by their numbers."""
        if isinstance(value, fx.Node):
            if self._tensor(value):
                self.problems.append(_unsupported(owner, f"`{owner.target}` takes a tensor as an argument"))
                raise _Skip
            self.folded_sizes = True
            return _plain(self.values[value])
        if isinstance(value, (tuple, list)):
            return [self._fold(v, owner) for v in value]
        if isinstance(value, torch.Size):
            return list(value)
        return value

    def _add(
        self, node: fx.Node, op: str, args: dict[str, Any], inputs: list[Any], module_path: str | None = None
    ) -> None:
        sources = []
        for value in inputs:
            if isinstance(value, fx.Node) and value in self.ports:
                sources.append(value)
                continue
            if not isinstance(value, fx.Node) or not self._tensor(value):
                self.problems.append(
                    _unsupported(node, f"`{op}` of a tensor and a number", "netspec's ops take tensors")
                )
                raise _Skip
            source = self._source(value)
            if source.op == "get_attr" and source not in self.ops_by_node:
                self.problems.append(
                    _unsupported(node, f"a parameter or buffer (`{source.target}`) used directly by `{node.target}`")
                )
                raise _Skip
            sources.append(source)
        item = _Op(node, op, args, sources, module_path=module_path)
        self.ops_by_node[node] = item
        self.order.append(item)

    def _convert(self, node: fx.Node) -> None:
        if node.op == "placeholder":
            return
        if node.op == "output":
            self._outputs(node)
            return
        if node.op == "get_attr":
            self._learned(node)
            return
        if node.op == "call_function" and node.target is operator.getitem and self._port(node):
            return
        if not self._tensor(node) and not self._several(node):
            return  # sizes and other numbers: folded where they are used
        if node.op == "call_module":
            self._leaf(node)
            return
        target = _target_key(node)
        table = _activation_table()
        if target in _UNBIND or target in _TENSOR_SPLIT:
            self._pieces(node)
            return
        if target in _IDENTITY_METHODS:
            self.alias[node] = node.args[0]  # type: ignore[assignment]
            return
        if target in table:
            op, spec = table[target]
            args = {}
            for name, (position, default) in spec.items():
                value = self._fold(_argument(node, position, name, default), node)
                if value != default or (default is None and value is not None):
                    args[name] = value
            if op.startswith("Adaptive") and _all_equal_list(args.get("output_size")):
                pass
            if op.startswith(("MaxPool", "AvgPool")) and args.get("stride") in (None, args.get("kernel_size")):
                args.pop("stride", None)
            if target == "relu_" or target is torch.relu_:
                args["inplace"] = True
            self._add(node, op, args, [node.args[0]])
            return
        if target in _ADD:
            if _argument(node, 2, "alpha", 1) != 1:
                self.problems.append(_unsupported(node, "`add` with `alpha`"))
                return
            self._binary(node, "add")
            return
        if target in _MUL:
            self._binary(node, "mul")
            return
        if target in _CAT:
            tensors = _argument(node, 0, "tensors", [])
            dim = self._fold(_argument(node, 1, "dim", 0), node)
            if len(tensors) == 1:  # a concatenation of one tensor is that tensor
                self.alias[node] = tensors[0]
                return
            self._add(node, "concat", {} if dim == 1 else {"dim": dim}, list(tensors))
            return
        if target in _FLATTEN:
            start = self._fold(_argument(node, 1, "start_dim", 0), node)
            end = self._fold(_argument(node, 2, "end_dim", -1), node)
            self._flatten(node, start, end)
            return
        if target in _RESHAPE:
            self._reshape(node)
            return
        if target is operator.getitem:
            self._getitem(node)
            return
        if target is torch.einsum and catalog().get("matmul") is not None and self._einsum(node):
            return
        if target in _REPEAT_INTERLEAVE and catalog().get("expand") is not None and self._repeat_interleave(node):
            return
        if target is F.interpolate and catalog().get("interpolate") is not None:
            self._interpolate(node)
            return
        self._generic(node)

    def _several(self, node: fx.Node) -> bool:
        """A call that returns several tensors (a tuple): an op with ports."""
        value = self.values.get(node)
        return (
            node.op in ("call_module", "call_function", "call_method")
            and isinstance(value, (tuple, list))
            and any(isinstance(v, torch.Tensor) for v in value)
        )

    def _port(self, node: fx.Node) -> bool:
        """`pair[k]` of a node with several outputs: the reference `node:k`."""
        source, index = node.args
        if not isinstance(source, fx.Node) or not isinstance(index, int) or not self._several(source):
            return False
        if source in self.pieces:
            self._piece(node, source, index)
            return True
        if source in self.reshapes:
            if isinstance(self.values.get(node), torch.Tensor):
                self._reshaped(node, self.reshapes[source])
            return True
        if isinstance(self.values.get(node), torch.Tensor):
            self.ports[node] = (source, index if index >= 0 else len(self.values[source]) + index)
        return True

    def _pieces(self, node: fx.Node) -> None:
        """`x.unbind(d)` and `torch.tensor_split(x, ..., dim=d)`: each piece taken is an `index` or a `slice`."""
        source = node.args[0]
        dim = self._fold(_argument(node, 1 if _target_key(node) in _UNBIND else 2, "dim", 0), node)
        if not isinstance(source, fx.Node) or not self._tensor(source) or not isinstance(dim, int):
            self._generic(node)
            return
        self.pieces[node] = (source, dim % self.values[source].dim())

    def _piece(self, node: fx.Node, source: fx.Node, index: int) -> None:
        tensor, dim = self.pieces[source]
        parts = self.values[source]
        index %= len(parts)
        if _target_key(source) in _UNBIND:
            self._add(node, "index", {"dim": dim, "index": index}, [tensor])
            return
        start = sum(int(p.shape[dim]) for p in parts[:index])
        end = start + int(parts[index].shape[dim])
        args: dict[str, Any] = {"dim": dim}
        if start:
            args["start"] = start
        if end != self.values[tensor].shape[dim]:
            args["end"] = end
        self.folded_sizes = True
        self._add(node, "slice", args, [tensor])

    def _learned(self, node: fx.Node) -> None:
        """A parameter or buffer the forward uses directly: a `Parameter` or `Buffer` node at its own name."""
        value = self.values.get(node)
        if not node.users or not isinstance(value, torch.Tensor) or catalog().get("Parameter") is None:
            return
        path = str(node.target)
        owner_path, _, attribute = path.rpartition(".")
        owner = self.module.get_submodule(owner_path)
        is_buffer = attribute in owner._buffers
        args: dict[str, Any] = {"shape": list(value.shape)}
        persistent = not (is_buffer and attribute in owner._non_persistent_buffers_set)
        if is_buffer and not value.is_floating_point():
            window = _position_window(value)
            if window is None:
                self.problems.append(
                    _unsupported(
                        next(iter(node.users)),
                        f"the {str(value.dtype).removeprefix('torch.')} buffer `{path}` {list(value.shape)}, "
                        "which no catalog op makes,",
                    )
                )
                raise _Skip
            window_args: dict[str, Any] = {"window_size": window, **({} if persistent else {"persistent": False})}
            if value.dim() == 2:
                window_args["flat"] = False  # MaxViT's [T, T]
            item = _Op(node, "RelativePositionIndex", window_args, [], module_path=path)  # Swin's index table
            self.ops_by_node[node] = item
            self.order.append(item)
            return
        coords = _coords_window(value) if is_buffer else None
        if coords is not None:
            coords_args: dict[str, Any] = {"window_size": coords, **({} if persistent else {"persistent": False})}
            item = _Op(node, "RelativeCoordsTable", coords_args, [], module_path=path)  # Swin v2's offsets
            self.ops_by_node[node] = item
            self.order.append(item)
            return
        if value.dtype != torch.float32:
            args["dtype"] = str(value.dtype).removeprefix("torch.")
        constant = _constant_value(value)
        if constant is not None and constant != 0.0:  # zeros is the default
            args["init"] = {"constant": constant}
        if is_buffer and attribute in owner._non_persistent_buffers_set:
            args["persistent"] = False
        if not is_buffer and not value.requires_grad:
            args["requires_grad"] = False
        item = _Op(node, "Buffer" if is_buffer else "Parameter", args, [], module_path=path)
        self.ops_by_node[node] = item
        self.order.append(item)

    def _leaf(self, node: fx.Node) -> None:
        path = str(node.target)
        module = self.module.get_submodule(path)
        op = self.tracer.leaves.get(id(module))
        assert op is not None
        self.leaf_calls[path] += 1
        if self.leaf_calls[path] > 1 and (
            any(True for _ in module.parameters()) or any(True for _ in module.buffers())
        ):
            self.problems.append(
                _unsupported(
                    node,
                    f"`{path}` ({type(module).__qualname__}) is called {self.leaf_calls[path]} times and has weights",
                    "a spec's node is one module called once: shared weights cannot be written in a spec",
                )
            )
            raise _Skip
        first = node.args[0] if node.args else None
        shape = tuple(self.values[first].shape) if isinstance(first, fx.Node) and self._tensor(first) else None
        try:
            args = _module_args(module, op, shape)
        except ValueError as err:
            self.problems.append(_unsupported(node, f"`{path}` ({type(module).__qualname__}): {err}"))
            raise _Skip from None
        extra = {k: v for k, v in node.kwargs.items() if not (op.name == "MultiheadAttention" and k == "need_weights")}
        if extra:
            self.problems.append(_unsupported(node, f"`{path}` is called with keyword arguments"))
            raise _Skip
        self._add(node, op.name, args, list(node.args), module_path=path if self.leaf_calls[path] == 1 else None)
        self.ops_by_node[node].base = path.rsplit(".", 1)[-1]

    def _binary(self, node: fx.Node, op: str) -> None:
        a, b = node.args[0], node.args[1]
        if op == "mul" and catalog().get("scale") is not None:
            number = b if isinstance(a, fx.Node) and self._tensor(a) else a
            tensor = a if number is b else b
            if isinstance(number, fx.Node) and not self._tensor(number):
                number = self.values.get(number)  # a size computed from a shape: its value
                self.folded_sizes = True
            if isinstance(tensor, fx.Node) and self._tensor(tensor) and _number(number):
                self._add(node, "scale", {"by": float(number)}, [tensor])  # `x * 0.125`, `x *= s`
                return
        if not (isinstance(a, fx.Node) and self._tensor(a) and isinstance(b, fx.Node) and self._tensor(b)):
            self.problems.append(
                _unsupported(
                    node, f"`{_describe(node)}` of a tensor and a number", "the catalog's `add` and `mul` take tensors"
                )
            )
            raise _Skip
        sa, sb = tuple(self.values[a].shape), tuple(self.values[b].shape)
        if op == "add" and len(sa) != len(sb) and catalog().get("unsqueeze") is not None:
            a, b = self._ranked(node, a, len(sb) - len(sa)), self._ranked(node, b, len(sa) - len(sb))
            sa, sb = tuple(self.values[a].shape), tuple(self.values[b].shape)
        same_rank = len(sa) == len(sb) and all(x == y or 1 in (x, y) for x, y in zip(sa, sb))
        if op == "add" and not same_rank:
            message = f"an `add` of shapes {list(sa)} and {list(sb)}"
            self.problems.append(_unsupported(node, message, "`add` broadcasts only size-1 dimensions of one rank"))
            raise _Skip
        self._add(node, op, {}, [a, b])

    def _ranked(self, owner: fx.Node, value: fx.Node, missing: int) -> fx.Node:
        """`value` with `missing` leading dimensions of size 1 (`unsqueeze` nodes), as torch broadcasts it."""
        for _ in range(max(missing, 0)):
            with self.graph.inserting_before(owner):
                added = self.graph.call_method("unsqueeze", (value, 0))
            added.meta = dict(owner.meta)  # in the scope of the op that broadcasts
            self.values[added] = self.values[value].unsqueeze(0)
            self._add(added, "unsqueeze", {"dim": 0}, [value])
            value = added
        return value

    def _synthetic(self, owner: fx.Node, method: str, source: fx.Node, value: torch.Tensor, **args: Any) -> fx.Node:
        """A node the importer adds before `owner` (in its scope): `method` applied to `source`."""
        with self.graph.inserting_before(owner):
            added = self.graph.call_method(method, (source,))
        added.meta = dict(owner.meta)
        self.values[added] = value
        self._add(added, method, args, [source])
        return added

    def _repeat_interleave(self, node: fx.Node) -> bool:
        """`torch.repeat_interleave(x, r, dim=d)` with a number of repeats: each slice repeated in place, which
        is `unsqueeze(d + 1)`, `expand` to `r` along it and `reshape` back (the same copies, the same values)."""
        source = node.args[0]
        repeats = self._fold(_argument(node, 1, "repeats", None), node)
        dim = self._fold(_argument(node, 2, "dim", None), node)
        if not isinstance(source, fx.Node) or not self._tensor(source) or not isinstance(repeats, int):
            return False
        if not isinstance(dim, int) or isinstance(repeats, bool) or _argument(node, 3, "output_size", None) is not None:
            return False
        value = self.values[source]
        dim %= value.dim()
        inserted = value.unsqueeze(dim + 1)
        sizes = [-1] * inserted.dim()
        sizes[dim + 1] = repeats
        grown = inserted.expand(*[repeats if k == dim + 1 else s for k, s in enumerate(inserted.shape)])
        step = self._synthetic(node, "unsqueeze", source, inserted, dim=dim + 1)
        step = self._synthetic(node, "expand", step, grown, size=sizes)
        if self._source(source).op != "get_attr":
            self.folded_sizes = True  # the sizes are the example's
        self._add(node, "reshape", {"shape": list(self.values[node].shape)}, [step])
        return True

    def _einsum(self, node: fx.Node) -> bool:
        """`torch.einsum` of two tensors that is a batched matrix product (`b i k, b k j -> b i j`, or with
        the second as `b j k`): a `matmul`, of the second transposed where its last two labels are swapped."""
        equation, *operands = node.args
        if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
            operands = list(operands[0])
        if not isinstance(equation, str) or len(operands) != 2 or not all(isinstance(o, fx.Node) for o in operands):
            return False
        match = re.fullmatch(r"([a-zA-Z ]+),([a-zA-Z ]+)->([a-zA-Z ]+)", equation.strip())
        if match is None:
            return False
        a, b, out = (list(part.replace(" ", "")) for part in match.groups())
        if len(a) < 2 or len(a) != len(b) or len(out) != len(a) or len(set(a)) != len(a) or a[:-2] != b[:-2]:
            return False
        batch, (i, k) = a[:-2], a[-2:]
        first, second = cast(fx.Node, operands[0]), cast(fx.Node, operands[1])  # checked above: nodes
        plain = b[-2] == k and out == [*batch, i, b[-1]] and b[-1] not in (i, k)
        swapped = b[-1] == k and out == [*batch, i, b[-2]] and b[-2] not in (i, k)
        if not (plain or swapped):
            return False
        if swapped:  # `b j k`: the second's last two dimensions swapped
            with self.graph.inserting_before(node):
                turned = self.graph.call_function(torch.transpose, (second, -2, -1))
            turned.meta = dict(node.meta)
            self.values[turned] = self.values[second].transpose(-2, -1)
            self._add(turned, "transpose", {"dim0": -2, "dim1": -1}, [second])
            second = turned
        self._add(node, "matmul", {}, [first, second])
        return True

    def _flatten(self, node: fx.Node, start: int, end: int) -> None:
        args = {}
        if start != 1:
            args["start_dim"] = start
        if end != -1:
            args["end_dim"] = end
        self._add(node, "Flatten", args, [node.args[0]])

    def _reshape(self, node: fx.Node) -> None:
        source = node.args[0]
        assert isinstance(source, fx.Node)
        before = tuple(self.values[source].shape)
        after = tuple(self.values[node].shape)
        for start in range(len(before)):
            if after == before[:start] + (math.prod(before[start:]),):
                self._flatten(node, start, -1)
                return
        if catalog().get("reshape") is not None:
            self._function_op(node, catalog()["reshape"])
            return
        self._generic(node)

    def _getitem(self, node: fx.Node) -> None:
        """`x[..., a:b, c:d]` whose bounds center or corner another tensor's size: a `crop` to that tensor."""
        source, index = node.args
        if not isinstance(source, fx.Node) or not self._tensor(source):
            self._generic(node)
            return
        value, result = self.values[source], self.values[node]
        items = list(index) if isinstance(index, tuple) else [index]
        picks = [k for k, item in enumerate(items) if isinstance(item, fx.Node) and self._tensor(item)]
        if len(picks) == 1 and catalog().get("index_select") is not None:
            (axis,) = picks
            picked = cast(fx.Node, items[axis])  # checked above: a tensor node
            position = self.values[picked]
            rest = [item for k, item in enumerate(items) if k != axis]
            if position.dim() == 1 and not position.is_floating_point() and all(i == slice(None) for i in rest):
                self._add(node, "index_select", {"dim": axis} if axis else {}, [source, picked])  # `table[idx]`
                return
        if Ellipsis in items:
            at = items.index(Ellipsis)
            items = items[:at] + [slice(None)] * (value.dim() - len(items) + 1) + items[at + 1 :]
        if len(items) > value.dim() or not all(isinstance(i, (slice, int)) for i in items):
            self._generic(node)
            return
        items += [slice(None)] * (value.dim() - len(items))
        if not all(isinstance(i, slice) for i in items) or not self._is_crop(items, source, node):
            self._select(node, source, items)
            return
        starts = []
        slices: list[slice] = items  # type: ignore[assignment]  # checked above: all slices
        for axis, item in enumerate(slices):
            start = self.values.get(item.start, item.start) if item.start is not None else 0
            if item.step not in (None, 1) or (axis < 2 and (item.start, item.stop) != (None, None)):
                self._generic(node)
                return
            starts.append(start)
        spatial_in, spatial_out = tuple(value.shape[2:]), tuple(result.shape[2:])
        reference = self._shape_source(index, exclude=source)
        center = [s // 2 - t // 2 for s, t in zip(spatial_in, spatial_out)]
        mode = "center" if starts[2:] == center else "corner" if not any(starts[2:]) else None
        if mode is None:
            self._generic(node)
            return
        args = {} if mode == "center" else {"mode": "corner"}
        if reference is not None and tuple(self.values[reference].shape[2:]) == spatial_out:
            self._add(node, "crop", args, [source, reference])
            return
        self.folded_sizes = True
        self._add(node, "crop", {"size": list(spatial_out), **args}, [source])

    def _interpolate(self, node: fx.Node) -> None:
        source = node.args[0]
        assert isinstance(source, fx.Node)
        size = _argument(node, 1, "size", None)
        scale = _argument(node, 2, "scale_factor", None)
        args: dict[str, Any] = {}
        mode = self._fold(_argument(node, 3, "mode", "nearest"), node)
        if mode != "nearest":
            args["mode"] = mode
        corners = self._fold(_argument(node, 4, "align_corners", None), node)
        if corners is not None:
            args["align_corners"] = corners
        for name in ("recompute_scale_factor", "antialias"):
            if _argument(node, 5 if name == "recompute_scale_factor" else 6, name, None) not in (None, False):
                self.problems.append(_unsupported(node, f"`F.interpolate` with `{name}`"))
                raise _Skip
        out = tuple(self.values[node].shape[2:])
        if size is not None:
            reference = self._shape_source(size, exclude=source) if not isinstance(size, int) else None
            if reference is not None and tuple(self.values[reference].shape[2:]) == out:
                self._add(node, "interpolate", args, [source, reference])
                return
            folded = self._fold(size, node)
            args["size"] = folded if isinstance(folded, list) else [folded] * len(out)
        elif scale is not None:
            folded = self._fold(scale, node)
            args["scale_factor"] = (
                [float(v) for v in folded] if isinstance(folded, list) else [float(folded)] * len(out)
            )
        self._add(node, "interpolate", args, [source])

    def _is_crop(self, items: list[Any], source: fx.Node, node: fx.Node) -> bool:
        """Slices of the dimensions from 2 on whose bounds are computed from shapes: a crop."""
        bounds = [b for item in items for b in (item.start, item.stop)]
        return any(isinstance(b, fx.Node) for b in bounds) and all(item == slice(None) for item in items[:2])

    def _select(self, node: fx.Node, source: fx.Node, items: list[Any]) -> None:
        """`x[:, 0]` (an `index`) or `x[:, 1:5]` (a `slice`) along one dimension."""
        picked = [(axis, item) for axis, item in enumerate(items) if item != slice(None)]
        if len(picked) != 1 or catalog().get("index") is None:
            self.problems.append(_unsupported(node, "an indexing of more than one dimension", _REGISTER_HINT))
            raise _Skip
        ((axis, item),) = picked
        if isinstance(item, int):
            self._add(node, "index", {"dim": axis, "index": item}, [source])
            return
        args: dict[str, Any] = {"dim": axis}
        for key, bound in (("start", item.start), ("end", item.stop), ("step", item.step)):
            folded = self._fold(bound, node)
            if folded is not None and not (key == "step" and folded == 1):
                args[key] = folded
        self._add(node, "slice", args, [source])

    def _shape_source(self, index: Any, exclude: fx.Node) -> fx.Node | None:
        """The one tensor (other than `exclude`) whose shape the nodes in `index` are computed from."""
        found: set[fx.Node] = set()
        stack: list[fx.Node] = []
        fx.node.map_arg(index, stack.append)
        seen: set[fx.Node] = set()
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            if self._tensor(current):
                found.add(self._source(current))
                continue
            fx.node.map_arg((current.args, current.kwargs), stack.append)
        found.discard(self._source(exclude))
        return found.pop() if len(found) == 1 else None

    def _generic(self, node: fx.Node) -> None:
        """A call of a function the catalog has an op for (a registered function, or an op whose target it is)."""
        target: Any = node.target
        if target in _SWAP and catalog().get("transpose") is not None:
            self._function_op(node, catalog()["transpose"])  # `torch.swapaxes(x, a, b)` is `transpose`
            return
        if node.op == "call_method":
            same = catalog().get(str(node.target))
            if same is not None and same.kind == "function":
                self._function_op(node, same)
                return
            target = getattr(torch, str(node.target), None)
        for op in catalog().values():
            if op.kind == "function" and op.resolve() is target and target is not None:
                self._function_op(node, op)
                return
        if self._reshaping(node):
            return
        self.problems.append(_unsupported(node, f"the catalog has no op for `{_describe(node)}`"))
        raise _Skip

    def _reshaping(self, node: fx.Node) -> bool:
        """A call of a function of one tensor whose tensor results hold its elements in its order (a helper
        that squeezes or unsqueezes, as MViT's `_unsqueeze`): each result is a `reshape` of the tensor."""
        tensors: list[fx.Node] = []
        fx.node.map_arg((node.args, node.kwargs), lambda n: tensors.append(n) if self._tensor(n) else None)
        if node.op != "call_function" or len(set(tensors)) != 1 or catalog().get("reshape") is None:
            return False
        source = tensors[0]
        flat = self.values[source].reshape(-1)
        value = self.values[node]
        results = [value] if isinstance(value, torch.Tensor) else [v for v in value if isinstance(v, torch.Tensor)]
        if not all(r.dtype == flat.dtype and torch.equal(r.reshape(-1), flat) for r in results):
            return False
        if isinstance(value, torch.Tensor):
            self._reshaped(node, source)
        else:
            self.reshapes[node] = source
        return True

    def _reshaped(self, node: fx.Node, source: fx.Node) -> None:
        self.folded_sizes = True  # the sizes are the example's: the inputs get fixed sizes
        self._add(node, "reshape", {"shape": list(self.values[node].shape)}, [source])

    def _function_op(self, node: fx.Node, op: OpDef) -> None:
        """A call of `op`'s target: leading tensors are the inputs, the rest its arguments in order."""
        positional = list(node.args)
        inputs: list[Any] = []
        limit = op.max_inputs if op.max_inputs is not None else len(positional)
        while (
            positional
            and len(inputs) < limit
            and isinstance(positional[0], fx.Node)
            and (self._tensor(positional[0]) or positional[0] in self.ports)
        ):
            inputs.append(positional.pop(0))
        if positional and isinstance(positional[0], (list, tuple)) and not inputs and op.inputs_as_list:
            inputs = list(positional.pop(0))  # type: ignore[arg-type]  # a list or tuple: checked above
        names = list(op.args)
        varargs = node.op == "call_method" and str(node.target) in _VARARGS and positional
        if varargs and not (len(positional) == 1 and isinstance(positional[0], (list, tuple))):
            positional = [list(positional)]
        given: dict[str, Any] = dict(_TORCH_DEFAULTS.get(op.name, {}))
        given.update(zip(names, positional))
        for key, value in node.kwargs.items():
            given[_KWARG_ALIASES.get((op.name, key), key)] = value
        if len(positional) > len(names) or any(k not in op.args for k in given):
            self.problems.append(
                _unsupported(node, f"`{_describe(node)}` is called in a way `{op.name}` does not take")
            )
            raise _Skip
        args: dict[str, Any] = {}
        for key, value in given.items():
            folded = (
                self._fold_sizes(value, node) if op.name in ("reshape", "view", "expand") else self._fold(value, node)
            )
            if isinstance(folded, list) and key in ("dim", "dims") and len(folded) == 1 and op.name in _REDUCTIONS:
                folded = folded[0]
            if not _same_default(folded, op.args[key].default) or op.args[key].required:
                args[key] = folded
        self._add(node, op.name, args, inputs)

    def _fold_sizes(self, value: Any, owner: fx.Node) -> Any:
        """Sizes of a reshape: the batch (dimension 0 of a tensor's shape) as `N`, the rest as numbers."""
        if isinstance(value, (list, tuple)):
            return [self._fold_sizes(v, owner) for v in value]
        if isinstance(value, fx.Node) and self._is_batch_size(value):
            return "N"
        return self._fold(value, owner)

    def _is_batch_size(self, node: fx.Node) -> bool:
        if node.op == "call_method" and node.target == "size" and len(node.args) == 2 and node.args[1] == 0:
            return True
        if node.op == "call_function" and node.target is operator.getitem and node.args[1] == 0:
            shape = node.args[0]
            return bool(
                isinstance(shape, fx.Node)
                and (
                    (shape.op == "call_function" and shape.target is getattr and shape.args[1] == "shape")
                    or (shape.op == "call_method" and shape.target == "size" and len(shape.args) == 1)
                )
            )
        return False

    def _outputs(self, node: fx.Node) -> None:
        result = node.args[0]
        if isinstance(result, dict):
            self.output_keys = [str(k) for k in result]
            values = list(result.values())
        elif isinstance(result, (tuple, list)):
            values = list(result)
        else:
            values = [result]
        for value in values:
            if not isinstance(value, fx.Node) or not self._tensor(value):
                self.problems.append(
                    "the forward returns something other than tensors (a tensor, a tuple or a dict of them)"
                )
                return
            self.outputs.append(self._source(value))

    # -- scopes

    def scopes(self) -> None:
        calls = self.tracer.calls
        self.root = _Scope("", "", self.module, None, "")
        self.root.input_names = [str(n.target) for n in self.graph.nodes if n.op == "placeholder"]
        self.root.inputs = [n for n in self.graph.nodes if n.op == "placeholder"]
        self.root.output = self.outputs[0] if self.outputs else None
        self.by_key: dict[str, _Scope] = {"": self.root}
        self.by_path: dict[str, _Scope] = {"": self.root}
        for key, call in calls.items():
            if "@" in key:
                continue  # a second call of a module: its nodes stay in the scope it was called from
            parent = self._scope_for_key(call.parent)
            scope = self._child(parent, call.path, call.module)
            scope.key = key
            scope.synthetic = False
            self.by_key[key] = scope
            names, values = call.arg_names, call.args
            for arg_name, value in zip(names, values):
                if isinstance(value, fx.Proxy) and self._tensor(value.node):
                    scope.inputs.append(self._source(value.node))
                    scope.input_names.append(arg_name)
            if scope.input_names[:1] == ["input"] and "x" not in scope.input_names:
                scope.input_names[0] = "x"
            result = call.result
            first = _first_proxy(result)
            scope.output = self._source(first.node) if first is not None else None
        for item in self.order:
            stack = item.node.meta.get("nn_module_stack") or {}
            keys = [k for k in stack if k in self.by_key and k != item.module_path]
            scope = self.by_key[keys[-1]] if keys else self.root
            if item.module_path is not None:
                scope = self._parent_for(scope, item.module_path)
                item.name = item.module_path[len(scope.path) + 1 :] if scope.path else item.module_path
            item.scope = scope.key
            self._place(scope, item)
            if item.module_path is None:
                item.name = self._fresh(scope, _base_name(item))
        self._fix_inputs(self.root)

    def dense_chains(self) -> None:
        """Rewrite dense connectivity as a chain: `cat(x, f1, ..., fk)` before layer k+1 becomes a
        `cat(previous, fk)` at the end of layer k.

        A scope whose children C1..Cn each concatenate the scope's input and every earlier child's
        output (DenseNet's `torch.cat(features, 1)`) and which returns the concatenation of all of
        them is rewritten so that every child takes one input and ends with its own concatenation:
        a concatenation of concatenations is the same copy, so the output is the same to the bit, and
        the children become instances of one block that a repeat can chain. The modules are untouched.
        """
        for scope in list(_walk(self.root)):
            self._dense_chain(scope)

    def _dense_chain(self, scope: _Scope) -> None:
        items = scope.items
        if len(items) < 3 or not isinstance(items[-1], _Op) or items[-1].node is not scope.output:
            return
        final = items[-1]
        children = items[:-1]
        if final.op != "concat" or not all(isinstance(c, _Scope) and not c.synthetic for c in children):
            return
        layers: list[_Scope] = children  # type: ignore[assignment]  # checked above: all scopes
        if len(layers[0].inputs) != 1:
            return
        start = layers[0].inputs[0]
        outputs = [c.output for c in layers]
        if any(o is None for o in outputs) or final.inputs != [start, *outputs]:
            return
        fronts: list[_Op] = []
        for k, layer in enumerate(layers[1:], 1):
            front = layer.items[0] if layer.items else None
            expected = [start, *outputs[:k]]
            if not (
                isinstance(front, _Op)
                and front.op == "concat"
                and front.args == final.args
                and layer.inputs == expected
                and front.inputs == expected
                and front.node is not layer.output
            ):
                return
            fronts.append(front)
        joins = [*fronts, final]
        members = [self._members(c) for c in layers]
        inside = self._members(scope)
        for op in self.order:
            if op in joins:
                continue
            for value in op.inputs:  # each layer's values are its own, but for the concatenations
                if value in outputs and op.node not in members[outputs.index(value)]:
                    return
                if value is start and op.node in inside and op.node not in members[0]:
                    return
        for layer, front in zip(layers[1:], fronts):
            layer.items.remove(front)
        items.remove(final)
        previous = start
        for layer, join, output in zip(layers, joins, outputs):
            assert output is not None
            join.inputs = [previous, output]
            join.scope = layer.key
            join.name = self._fresh(layer, "cat")
            layer.items.append(join)
            name = re.sub(r"0$", "", layer.input_names[0]) if layer.input_names else "x"  # `features0` of a list
            layer.inputs, layer.input_names = [previous], ["x" if name in ("input", "") else name]
            layer.output = join.node
            previous = join.node

    def _scope_for_key(self, key: str) -> _Scope:
        while key not in self.by_key:
            key = self.tracer.calls[key].parent if key in self.tracer.calls else ""
        return self.by_key[key]

    def _child(self, parent: _Scope, path: str, module: nn.Module) -> _Scope:
        """The scope of `path` under `parent`, with synthetic scopes for containers in between."""
        if path in self.by_path:
            return self.by_path[path]
        relative = path[len(parent.path) + 1 :] if parent.path else path
        parts = relative.split(".")
        owner = parent
        for i, part in enumerate(parts):
            sub_path = f"{owner.path}.{part}" if owner.path else part
            scope = self.by_path.get(sub_path)
            if scope is None:
                sub = self.module.get_submodule(sub_path)
                scope = _Scope("synthetic:" + sub_path, sub_path, sub, owner, part, synthetic=i < len(parts) - 1)
                if i < len(parts) - 1:
                    self.by_key[scope.key] = scope
                self.by_path[sub_path] = scope
            owner = scope
        return owner

    def _parent_for(self, scope: _Scope, module_path: str) -> _Scope:
        relative = module_path[len(scope.path) + 1 :] if scope.path else module_path
        if "." not in relative:
            return scope
        container = module_path.rsplit(".", 1)[0]
        result = self._child(scope, container, self.module.get_submodule(container))
        if result.key not in self.by_key:
            result.key = "synthetic:" + result.path
            result.synthetic = True
            self.by_key[result.key] = result
        return result

    def _place(self, scope: _Scope, item: _Op | _Scope) -> None:
        if item in scope.items:
            return
        scope.items.append(item)
        if scope.parent is not None:
            self._place(scope.parent, scope)

    def _fresh(self, scope: _Scope, base: str) -> str:
        taken = {i.name for i in scope.items if i.name} | set(scope.input_names)
        if scope.module is not None:  # the names the module's own children, weights and buffers keep
            taken |= set(scope.module._modules) | set(scope.module._parameters) | set(scope.module._buffers)
        name, n = base, 1
        while name in taken:
            name = f"{base}_{n}"
            n += 1
        return name

    def _fix_inputs(self, scope: _Scope) -> None:
        """Every value a scope uses from outside is one of its inputs; synthetic scopes gather theirs."""
        inside = self._members(scope)
        for item in scope.items:
            if isinstance(item, _Scope):
                self._fix_inputs(item)
        if scope is self.root:
            return
        for op in self._ops_in(scope):
            for value in op.inputs:
                if self._owner(value) not in inside and value not in scope.inputs:
                    scope.inputs.append(value)
                    scope.input_names.append(self._fresh_input(scope))
        if scope.output is None or self._owner(scope.output) not in inside:
            last = self._ops_in(scope)
            scope.output = last[-1].node if last else None
            if scope.output is None:
                self.problems.append(f"`{scope.path}` ({type(scope.module).__qualname__}) computes nothing")

    def _fresh_input(self, scope: _Scope) -> str:
        n = len(scope.input_names)
        name = "x" if n == 0 else f"x{n}"
        while name in scope.input_names:
            n += 1
            name = f"x{n}"
        return name

    def _ops_in(self, scope: _Scope) -> list[_Op]:
        out: list[_Op] = []
        for item in scope.items:
            out.extend(self._ops_in(item) if isinstance(item, _Scope) else [item])
        return out

    def _owner(self, value: fx.Node) -> fx.Node:
        """The node that computes `value` (for `pair[k]`, the node with the ports)."""
        return self.ports[value][0] if value in self.ports else value

    def _members(self, scope: _Scope) -> set[fx.Node]:
        return {op.node for op in self._ops_in(scope)}


class _Unparametrisable(Exception):
    """The instances of a block differ in a way no parameter can say."""


class _Skip(Exception):
    """A node that could not be converted (its problem is recorded)."""


def _first_proxy(value: Any) -> fx.Proxy | None:
    if isinstance(value, fx.Proxy):
        return value
    if isinstance(value, Mapping):
        value = list(value.values())
    if isinstance(value, (tuple, list)):
        for v in value:
            found = _first_proxy(v)
            if found is not None:
                return found
    return None


def _describe(node: fx.Node) -> str:
    if node.op == "call_method":
        return f"Tensor.{node.target}"
    target = node.target
    module = getattr(target, "__module__", None) or ""
    name = getattr(target, "__name__", str(target))
    if module.startswith("torch.nn.functional"):
        return f"F.{name}"
    if module == "_operator":
        return f"operator.{name}"
    return f"{module}.{name}" if module else name


def _base_name(item: _Op) -> str:
    if item.base:
        return item.base
    if item.op in ("crop", "Flatten", "index", "slice", "reshape"):
        return item.op.lower()
    if item.node.op in ("call_function", "call_method"):
        base = re.sub(r"_\d+$", "", item.node.name)
        return {"iadd": "add", "imul": "mul", "add_": "add", "mul_": "mul", "relu_": "relu"}.get(base, base)
    return (
        re.sub(r"(?<!^)(?=[A-Z])", "_", item.op).lower().replace("_2d", "2d").replace("_1d", "1d").replace("_3d", "3d")
    )


def _kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z][a-z])", "-", name).lower()


def _snake(name: str) -> str:
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()
    snake = re.sub(r"\W+", "_", snake).strip("_") or "block"
    if snake[0].isdigit():
        snake = "block_" + snake
    return snake


# -- structure: blocks, parameters, repeats ---------------------------------------------------------------


@dataclasses.dataclass
class _Item:
    """A node of a block body (or of the spec), by local name."""

    name: str
    kind: tuple[str, str]  # ("op", name) or ("block", block name)
    args: dict[str, Any]
    inputs: list[str]
    repeat: int | str | None = None  # a count, or a block parameter (`$num_layers`)
    source: str | None = None  # the class it comes from, for a comment
    start: int | None = None  # a repeat under a name template (`"denselayer${i}"`): its first index


@dataclasses.dataclass
class _Body:
    inputs: list[str]
    items: list[_Item]
    output: str  # local reference


@dataclasses.dataclass
class _Block:
    name: str
    source: str  # qualified class name
    body: _Body  # the template (arguments that vary are `$param` expressions)
    params: dict[str, Any]  # name -> default
    when: dict[str, str]  # item name -> param


class _Structurer:
    def __init__(self, importer: _Importer) -> None:
        self.imp = importer
        self.blocks: dict[str, _Block] = {}
        self.block_names: set[str] = set()

    def arg_value(self, item: _Item, key: str) -> Any:
        """An item's argument, with the default of its op or block where it is left out."""
        if key in item.args:
            return item.args[key]
        if item.kind[0] == "block":
            block = self.blocks.get(item.kind[1])
            return block.params.get(key, _NONE) if block is not None else _NONE
        op = catalog().get(item.kind[1])
        spec = op.args.get(key) if op is not None else None
        return _NONE if spec is None or spec.required else _plain(spec.default)

    def ref(self, scope: _Scope, value: fx.Node, *, exact: bool = False) -> str:
        """How `scope`'s body names `value`: an input, a node, or a node inside a child instance."""
        if value in scope.inputs and not self._inside(scope, value):
            return scope.input_names[scope.inputs.index(value)]
        if value in self.imp.ports:
            source, port = self.imp.ports[value]
            return f"{self.ref(scope, source, exact=True)}:{port}"
        op = self.imp.ops_by_node.get(value)
        if op is None:
            if value.op == "placeholder" and scope is self.imp.root:
                return str(value.target)
            raise ModuleImportError([f"`{value.name}` is used in `{scope.path or 'the root'}` but not passed to it"])
        chain: list[_Scope] = []
        current = self.imp.by_key[op.scope]
        while current is not scope:
            if current.parent is None:
                raise ModuleImportError([f"`{value.name}` is used in `{scope.path}` but not passed to it"])
            chain.append(current)
            current = current.parent
        chain.reverse()
        parts: list[str] = []
        for sub in chain:
            parts.append(sub.name)
            if sub.output is value and not exact:  # the instance's output stands for the value
                return ".".join(parts)
        parts.append(op.name)
        return ".".join(parts)

    def _inside(self, scope: _Scope, value: fx.Node) -> bool:
        return self.imp._owner(value) in self.imp._members(scope)

    def body(self, scope: _Scope) -> _Body:
        items: list[_Item] = []
        for item in scope.items:
            if isinstance(item, _Op):
                items.append(
                    _Item(item.name, ("op", item.op), dict(item.args), [self.ref(scope, v) for v in item.inputs])
                )
            else:
                items.append(self.instance(scope, item))
        assert scope.output is not None
        return self.named_runs(_Body(list(scope.input_names), items, self.ref(scope, scope.output)))

    def named_runs(self, body: _Body) -> _Body:
        """Runs of chained instances of one kind named `prefix1`, `prefix2`, ... (torchvision's
        `add_module("denselayer%d" % (i + 1), ...)`) become one repeat under a name template."""
        items: list[_Item] = []
        output = body.output
        k = 0
        while k < len(body.items):
            run = self._run_at(body.items, k)
            if len(run) < 2:
                items.append(body.items[k])
                k += 1
                continue
            prefix, start = _numbered(run[0].name) or ("", 0)
            args = self._run_args(run, start)
            if args is None:
                items.append(body.items[k])
                k += 1
                continue
            template = f"{prefix}${{i}}"
            items.append(
                _Item(template, run[0].kind, args, run[0].inputs, repeat=len(run), source=run[0].source, start=start)
            )
            if output == run[-1].name and k + len(run) == len(body.items):
                output = template  # the last node: no `output:` to write, whatever the count
            k += len(run)
        return _Body(body.inputs, items, output)

    def _run_args(self, run: list[_Item], start: int) -> dict[str, Any] | None:
        """The arguments of a run's instances over the index `i`, or None where they are not one simple
        expression of it (a list indexed by `i`, or an index that starts elsewhere than at 0)."""
        args: dict[str, Any] = {}
        for key in sorted({key for i in run for key in i.args}):
            values = [self.arg_value(i, key) for i in run]
            if any(v is _NONE for v in values):
                return None
            expression = _index_expression(values)
            if isinstance(expression, str) and expression.startswith("${") and (start or "][" in expression):
                return None  # nodes of their own read better than a list indexed by `i`
            if expression != self.arg_value(_Item("", run[0].kind, {}, []), key):
                args[key] = expression
        return args

    def _run_at(self, items: list[_Item], k: int) -> list[_Item]:
        """The longest run from `items[k]`: one kind, numbered names, each taking the previous as its only input."""
        first = _numbered(items[k].name)
        if first is None or items[k].repeat or len(items[k].inputs) > 1:
            return []
        run = [items[k]]
        for item in items[k + 1 :]:
            numbered = _numbered(item.name)
            if (
                numbered != (first[0], first[1] + len(run))
                or item.kind != run[0].kind
                or item.repeat
                or item.inputs != [run[-1].name]
            ):
                break
            run.append(item)
        return run

    def instance(self, parent: _Scope, scope: _Scope) -> _Item:
        """A child scope as an item of its parent: a repeat, or an instance of a block."""
        inputs = [self.ref(parent, v) for v in scope.inputs]
        bodies = self.bodies.get(scope.key)
        assert bodies is not None
        repeat = self.as_repeat(scope, bodies, inputs)
        if repeat is not None:
            return repeat
        block, args = self.typed[scope.key]
        return _Item(scope.name, ("block", block.name), args, inputs, source=block.source)

    def as_repeat(self, scope: _Scope, body: _Body, inputs: list[str]) -> _Item | None:
        """A container whose body is instances `0`, `1`, ... of one kind, each feeding the next."""
        items = body.items
        if len(items) < 2 or [i.name for i in items] != [str(k) for k in range(len(items))]:
            return None
        if not isinstance(scope.module, (nn.Sequential, nn.ModuleList)) and not scope.synthetic:
            return None
        kinds = {i.kind for i in items}
        if len(kinds) != 1 or any(i.repeat for i in items) or body.output != str(len(items) - 1):
            return None
        first = items[0].inputs
        if not first or first[0] != body.inputs[0]:
            return None
        for k, item in enumerate(items[1:], 1):
            if not item.inputs or item.inputs[0] != str(k - 1) or len(item.inputs) != len(first):
                return None
        extra: list[str] = []
        for position in range(1, len(first)):
            refs = [i.inputs[position] for i in items]
            expression = _ref_expression(refs, body.inputs, inputs)
            if expression is None:
                return None
            extra.append(expression)
        keys = sorted({k for i in items for k in i.args})
        args: dict[str, Any] = {}
        for key in keys:
            values = [self.arg_value(i, key) for i in items]
            if any(v is _NONE for v in values):
                return None
            expression = _index_expression(values)
            if expression != self.arg_value(_Item("", items[0].kind, {}, []), key):
                args[key] = expression
        outer_inputs = [inputs[0], *extra]
        item = _Item(scope.name, items[0].kind, args, outer_inputs, repeat=len(items), source=items[0].source)
        return item

    def run(self) -> None:
        """Type every scope, innermost first; all instances of a class are grouped together once ready."""
        imp = self.imp
        pending = [s for s in _walk(imp.root) if s is not imp.root]
        self.bodies: dict[str, _Body] = {}
        self.typed: dict[str, tuple[_Block, dict[str, Any]]] = {}
        done: set[str] = set()
        while pending:
            ready = [s for s in pending if all(c.key in done for c in s.items if isinstance(c, _Scope))]
            groups: dict[str, list[_Scope]] = {}
            finished: list[_Scope] = []
            for scope in ready:
                if scope.key not in self.bodies:
                    self.bodies[scope.key] = self.body(scope)
                fake = [f"_in{i}" for i in range(len(scope.inputs))]
                if self.as_repeat(scope, self.bodies[scope.key], fake) is not None:
                    finished.append(scope)  # written as a repeat in its parent
                else:
                    groups.setdefault(_group_key(scope), []).append(scope)
            waiting = Counter(_group_key(s) for s in pending if s not in ready)
            complete = {k: v for k, v in groups.items() if not waiting[k]}
            if not complete and not finished:
                complete = groups  # instances of a class inside each other: type those that are ready
            for key, members in complete.items():
                self.group(key, members)
                finished += members
            done |= {s.key for s in finished}
            pending = [s for s in pending if s.key not in done]
        self.top = self.body(imp.root)

    def group(self, key: str, members: list[_Scope]) -> None:
        remaining = list(members)
        while remaining:
            template = max(remaining, key=lambda s: len(self.bodies[s.key].items))
            fits = [s for s in remaining if _fits(self.bodies[template.key], self.bodies[s.key])]
            if template not in fits:
                fits.insert(0, template)
            remaining = [s for s in remaining if s not in fits]
            try:
                self.make_block(key, template, fits)
            except _Unparametrisable as err:
                if len(fits) == 1:
                    raise ModuleImportError([str(err)]) from None
                alike: dict[str, list[_Scope]] = {}  # one block per distinct body instead
                for scope in fits:
                    alike.setdefault(repr(self.bodies[scope.key]), []).append(scope)
                for group in alike.values():
                    self.make_block(key, group[0], group)

    def make_block(self, key: str, template: _Scope, members: list[_Scope]) -> None:
        base = _snake(key)
        name, n = base, 2
        while name in self.block_names or keyword.iskeyword(name):
            name = f"{base}_{n}"
            n += 1
        self.block_names.add(name)
        body = copy.deepcopy(self.bodies[template.key])
        present = {s.key: {i.name: i for i in self.bodies[s.key].items} for s in members}
        params: dict[str, Any] = {}
        vectors: list[tuple[list[Any], str]] = []  # per-member values (_MISSING where absent), param name
        per_member: dict[str, dict[str, Any]] = {s.key: {} for s in members}
        attributes = {s.key: _attributes(s.module) for s in members}
        used: set[str] = {"i"}

        def param_for(values: list[Any], suggestion: str) -> str | None:
            for vector, pname in vectors:
                if all(a is _MISSING or b is _MISSING or _same(a, b) for a, b in zip(vector, values)):
                    for k, v in enumerate(values):
                        if vector[k] is _MISSING and v is not _MISSING:
                            vector[k] = v
                    return pname
            kind = _param_type([v for v in values if v is not _MISSING])
            if kind is None:
                return None
            for attr in attributes[members[0].key]:
                candidate = [attributes[s.key].get(attr, _MISSING) for s in members]
                if all(v is _MISSING or _same(_plain(c), v) for c, v in zip(candidate, values)) and attr not in used:
                    pname = attr
                    break
            else:
                pname = suggestion
                n = 2
                while pname in used:
                    pname = f"{suggestion}_{n}"
                    n += 1
            used.add(pname)
            vectors.append((list(values), pname))
            return pname

        when: dict[str, str] = {}
        for item in body.items:
            flags = [item.name in present[s.key] for s in members]
            if not all(flags):
                pname = param_for(flags, _identifier(item.name))
                assert pname is not None
                when[item.name] = pname
            keys = sorted(
                {k for s in members for k in ([*present[s.key][item.name].args] if item.name in present[s.key] else [])}
            )
            for key_ in keys:
                values = []
                for s in members:
                    other = present[s.key].get(item.name)
                    values.append(_MISSING if other is None else self.arg_value(other, key_))
                values = _widened(values)
                concrete = [v for v in values if v is not _MISSING]
                if all(_same(v, concrete[0]) for v in concrete) and _NONE not in concrete:
                    if concrete and item.kind[0] == "block" and key_ not in item.args:
                        pass
                    elif concrete:
                        item.args[key_] = concrete[0]
                    continue
                pname = None if _NONE in concrete else param_for(values, _identifier(key_))
                if pname is None:
                    self.block_names.discard(name)
                    raise _Unparametrisable(f"the values of `{key_}` in the `{key}` instances cannot be one parameter")
                item.args[key_] = f"${pname}"
            counts = [present[s.key][item.name].repeat if item.name in present[s.key] else _MISSING for s in members]
            if item.repeat and len({c for c in counts if c is not _MISSING}) > 1:
                pname = param_for(counts, "num_layers")
                if pname is None:
                    self.block_names.discard(name)
                    raise _Unparametrisable(f"the repeat counts of `{item.name}` in the `{key}` instances differ")
                item.repeat = f"${pname}"
        for vector, pname in vectors:
            concrete = [v for v in vector if v is not _MISSING]
            default = Counter(json.dumps(v) for v in concrete).most_common(1)[0][0]
            params[pname] = json.loads(default)
            for s, v in zip(members, vector):
                per_member[s.key][pname] = v
        source = f"{type(template.module).__module__}.{type(template.module).__qualname__}"
        block = _Block(name, source, body, params, when)
        for item in body.items:
            if item.name in when:
                item.args = {"when": f"${when[item.name]}", **item.args}
        self.blocks[name] = block
        for s in members:
            chosen = {k: v for k, v in per_member[s.key].items() if v is not _MISSING and not _same(v, params[k])}
            self.typed[s.key] = (block, chosen)


_MISSING: Any = type("_Missing", (), {"__repr__": lambda self: "<missing>"})()
_NONE: Any = type("_Unset", (), {"__repr__": lambda self: "<unset>"})()


def _widened(values: list[Any]) -> list[Any]:
    """Integers among lists of integers of one length written as lists (`3` -> `[3, 3]`), so one type holds them."""
    lengths = {len(v) for v in values if isinstance(v, list) and all(isinstance(x, int) for x in v)}
    if len(lengths) != 1 or not any(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return values
    (length,) = lengths
    return [[v] * length if isinstance(v, int) and not isinstance(v, bool) else v for v in values]


def _same(a: Any, b: Any) -> bool:
    """Equal values of one type (`True` is not `1`)."""
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def _numbered(name: str) -> tuple[str, int] | None:
    """`denselayer12` -> (`denselayer`, 12): a name that a name template can render."""
    match = re.fullmatch(r"([A-Za-z_](?:[A-Za-z0-9_\-]*?[A-Za-z_\-])?)(0|[1-9][0-9]*)", name)
    return (match.group(1), int(match.group(2))) if match else None


def _walk(scope: _Scope) -> Iterable[_Scope]:
    yield scope
    for item in scope.items:
        if isinstance(item, _Scope):
            yield from _walk(item)


def _group_key(scope: _Scope) -> str:
    cls = type(scope.module)
    if cls in (nn.Sequential, nn.ModuleList, nn.ModuleDict) or scope.synthetic:
        if not scope.name.isdigit():
            return scope.name
        owner = scope.parent.name if scope.parent is not None and scope.parent.name else "stage"
        return f"{owner}_item" if not owner.isdigit() else "stage"
    return cls.__name__


def _attributes(module: nn.Module) -> dict[str, Any]:
    out = {}
    for name, value in vars(module).items():
        if name.startswith("_") or name == "training":
            continue
        if isinstance(value, bool | int | float | str) or (
            isinstance(value, tuple) and all(isinstance(v, int) for v in value)
        ):
            out[name] = value
    return out


def _identifier(name: str) -> str:
    ident = re.sub(r"\W", "_", name)
    if not ident or ident[0].isdigit():
        ident = "p_" + ident
    return ident


def _param_type(values: list[Any]) -> str | None:
    if all(isinstance(v, bool) for v in values):
        return "bool"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "int"
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return "float"
    if all(isinstance(v, str) for v in values):
        return "str"
    if all(isinstance(v, list) and all(isinstance(x, int) and not isinstance(x, bool) for x in v) for v in values):
        return "list[int]"
    return None


def _fits(template: _Body, body: _Body) -> bool:
    """Whether `body` is `template` with some nodes left out (each passing its first input through)."""
    if len(body.inputs) != len(template.inputs):
        return False
    rename = dict(zip(template.inputs, body.inputs))
    mine = {i.name: i for i in body.items}
    theirs = {i.name: i for i in template.items}
    if not set(mine) <= set(theirs):
        return False
    order = [i.name for i in template.items if i.name in mine]
    if order != [i.name for i in body.items]:
        return False

    def resolve(ref: str, depth: int = 0) -> str | None:
        head = ref.split(".")[0].split(":")[0]  # `attn:0` is a port of `attn`
        if head in rename and "." not in ref:
            return rename[head]
        if head in mine:
            return ref
        if head in theirs and "." not in ref and theirs[head].inputs and depth < len(theirs):
            return resolve(theirs[head].inputs[0], depth + 1)
        return None

    for name, item in mine.items():
        other = theirs[name]
        if other.kind != item.kind or other.start != item.start or bool(other.repeat) != bool(item.repeat):
            return False  # repeats of other counts fit: the count becomes a parameter
        if item.repeat and item.args != other.args:  # index expressions cannot be parameters
            return False
        if [resolve(r) for r in other.inputs] != item.inputs:
            return False
    return resolve(template.output) == body.output


def _ref_expression(refs: list[str], inner_inputs: list[str], outer_inputs: list[str]) -> str | None:
    """The extra input of a repeat's instances as one template: the same input, or `name.${f(i)}`."""
    outer = [outer_inputs[inner_inputs.index(r)] if r in inner_inputs else None for r in refs]
    if any(o is None for o in outer):
        return None
    if all(o == outer[0] for o in outer):
        return outer[0]
    parts = [o.rsplit(".", 1) for o in outer if o is not None]
    if any(len(p) != 2 or not p[1].isdigit() for p in parts) or len({p[0] for p in parts}) != 1:
        return None
    expression = _index_expression([int(p[1]) for p in parts], bare=True)
    return None if expression is None else f"{parts[0][0]}.${{{expression}}}"


def _index_expression(values: list[Any], *, bare: bool = False) -> Any:
    """Values over a repeat's index `i` as one value or expression (`bare`: the expression text alone)."""
    k = len(values)
    if all(v == values[0] for v in values):
        return values[0] if not bare else str(values[0])
    text: str | None = None
    if all(isinstance(v, bool) for v in values):
        if values == [True] + [False] * (k - 1):
            text = "i == 0"
        elif values == [False] + [True] * (k - 1):
            text = "i > 0"
        elif values == [False] * (k - 1) + [True]:
            text = f"i == {k - 1}"
    elif all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        if all(v == values[1] for v in values[1:]):
            text = f"{values[0]} if i == 0 else {values[1]}"
        elif all(values[j] - values[j - 1] == values[1] - values[0] for j in range(1, k)):
            step = values[1] - values[0]
            text = _affine(values[0], step)
        elif values[0] and all(values[j] == values[0] * 2**j for j in range(k)):
            text = f"{values[0]} * 2 ** i"
        elif values[-1] and all(values[j] == values[-1] * 2 ** (k - 1 - j) for j in range(k)):
            text = f"{values[-1]} * 2 ** ({k - 1} - i)"
    if text is None:
        text = f"{json.dumps(values)}[i]"
    return text if bare else f"${{{text}}}"


def _affine(start: int, step: int) -> str:
    if start == 0:
        return "i" if step == 1 else f"{step} * i"
    if step < 0:
        return f"{start} - {-step} * i" if step != -1 else f"{start} - i"
    return f"{start} + {step} * i" if step != 1 else f"{start} + i"


# -- writing -------------------------------------------------------------------------------------------

_BARE = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_YAML_WORDS = {"true", "false", "null", "yes", "no", "on", "off", "~"}


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = repr(value)
        if "e" in text and "." not in text:  # 1e-06 reads as a float in YAML 1.1 readers only as 1.0e-06
            mantissa, _, exponent = text.partition("e")
            return f"{mantissa}.0e{exponent}"
        return text if any(c in text for c in ".e") or not text[-1].isdigit() else text + ".0"
    if isinstance(value, list):
        return "[" + ", ".join(_scalar(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(str(k))}: {_scalar(v)}" for k, v in value.items()) + "}"
    text = str(value)
    if re.fullmatch(r"\$[A-Za-z_][A-Za-z0-9_]*", text):
        return text
    if _BARE.fullmatch(text) and text.lower() not in _YAML_WORDS and not text.endswith("-"):
        return text
    return json.dumps(text)


def _key(name: str) -> str:
    bare = re.fullmatch(r"[A-Za-z_][A-Za-z0-9_\-]*", name) and name.lower() not in _YAML_WORDS
    return name if bare else json.dumps(name)


def _node_text(item: _Item, default_input: str | None, list_form: bool) -> str:
    fields: list[str] = []
    kind, name = item.kind
    fields.append(f"{'op' if kind == 'op' else 'block'}: {_scalar(name)}")
    if item.repeat and item.start:
        fields.append(f"repeat: {{count: {_scalar(item.repeat)}, start: {item.start}}}")
    elif item.repeat:
        fields.append(f"repeat: {_scalar(item.repeat)}")
    inputs = item.inputs
    if inputs and not (len(inputs) == 1 and inputs[0] == default_input):
        fields.append("in: " + (_scalar(inputs[0]) if len(inputs) == 1 else _scalar(list(inputs))))
    args = dict(item.args)
    if "when" in args:
        fields.append(f"when: {_scalar(args.pop('when'))}")
    fields += [f"{_key(k)}: {_scalar(v)}" for k, v in args.items()]
    if kind == "op" and len(fields) == 1 and list_form is False:
        return name
    if kind == "op" and len(fields) == 1:
        return name
    return "{" + ", ".join(fields) + "}"


def _last_name(item: _Item) -> str:
    """The name the next node sees: a name template's last rendered name where its count is known."""
    if item.start is None or not isinstance(item.repeat, int):
        return item.name
    return item.name.replace("${i}", str(item.start + item.repeat - 1))


def _write_body(body: _Body, indent: str, lines: list[str]) -> None:
    names = [i.name for i in body.items]
    list_form = names == [str(k) for k in range(len(names))] and bool(names)
    previous: str | None = body.inputs[0] if body.inputs else None
    for item in body.items:
        text = _node_text(item, previous, list_form)
        comment = f"  # {item.source}" if item.source and item.kind[0] == "op" else ""
        if list_form:
            lines.append(f"{indent}- {text}{comment}")
        else:
            lines.append(f"{indent}{_key(item.name)}: {text}{comment}")
        previous = _last_name(item)
    if body.items and body.output != body.items[-1].name:
        lines.append(("output", body.output))  # type: ignore[arg-type]


def _render(
    imp: _Importer,
    st: _Structurer,
    input_dims: Mapping[str, list[Any]],
    dims: Mapping[str, int],
    params: Mapping[str, Any],
) -> str:
    lines: list[str] = []
    cls = type(imp.original)
    lines.append(f"# Imported from {cls.__module__}.{cls.__qualname__} by netspec.from_module.")
    lines.append("netspec: 1")
    lines.append(f"name: {_scalar(imp.name)}")
    if params:
        lines.append("params:")
        for k, v in params.items():
            lines.append(f"  {k}: {_scalar(v)}")
    lines.append("inputs:")
    for k, v in input_dims.items():
        lines.append(f"  {_key(k)}: {_scalar(list(v))}")
    if dims:
        lines.append("dims: {" + ", ".join(f"{k}: {v}" for k, v in dims.items()) + "}")
    used = _used_blocks(st)
    if used:
        lines.append("blocks:")
        for block in used:
            lines.append(f"  # {block.source}")
            lines.append(f"  {block.name}:")
            if block.body.inputs and block.body.inputs != ["x"]:
                lines.append(f"    inputs: {_scalar(block.body.inputs)}")
            if block.params:
                lines.append("    params: {" + ", ".join(f"{k}: {_scalar(v)}" for k, v in block.params.items()) + "}")
            body_lines: list[Any] = []
            _write_body(block.body, "      ", body_lines)
            named = [b for b in body_lines if isinstance(b, tuple)]
            if named:
                lines.append(f"    output: {_scalar(named[0][1])}")
            lines.append("    nodes:")
            lines += [b for b in body_lines if isinstance(b, str)]
    lines.append("nodes:")
    top_lines: list[Any] = []
    _write_body(st.top, "  ", top_lines)
    lines += [b for b in top_lines if isinstance(b, str)]
    outputs: list[str] = _output_refs(imp, st)
    last = st.top.items[-1].name if st.top.items else None
    if outputs != [last]:
        comment = f"  # the dict's keys: {', '.join(imp.output_keys)}" if imp.output_keys else ""
        lines.append(f"outputs: {_scalar(outputs) if len(outputs) > 1 else _scalar(outputs[0])}{comment}")
    return "\n".join(lines) + "\n"


def _used_blocks(st: _Structurer) -> list[_Block]:
    """The blocks the spec's nodes use, directly or through other blocks, in definition order."""
    seen: set[str] = set()
    stack = [i.kind[1] for i in st.top.items if i.kind[0] == "block"]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        stack += [i.kind[1] for i in st.blocks[name].body.items if i.kind[0] == "block"]
    return [b for b in st.blocks.values() if b.name in seen]


def _output_refs(imp: _Importer, st: _Structurer) -> list[str]:
    return [st.ref(imp.root, value) for value in imp.outputs]


# -- model parameters --------------------------------------------------------------------------------

_CLASS_PARAMS = ("num_classes", "n_classes", "classes")
_CHANNEL_PARAMS = ("in_channels", "in_chans", "input_channels", "n_channels")
_WIDTH_PARAMS = ("width", "base_width", "base_channels", "init_features", "base_filters")


def _model_params(imp: _Importer, st: _Structurer, given: Mapping[str, Any]) -> dict[str, Any]:
    """Sizes that are the model's own parameters (`num_classes`), where their one place can be found."""
    values = dict(_init_values(imp.original))
    values.update(given)
    params: dict[str, Any] = {}
    outputs = set(_output_refs(imp, st))
    for name in _CLASS_PARAMS:
        if name not in values:
            continue
        heads = [
            (item, key)
            for item in st.top.items
            if item.kind[0] == "op" and item.name in outputs
            for key in ("out_features", "out_channels")
            if isinstance(item.args.get(key), int) and not isinstance(item.args.get(key), bool)
        ]
        value = values[name]
        if name not in given and not hasattr(imp.original, name) and len(heads) == 1:
            value = heads[0][0].args[heads[0][1]]  # the default was not used: the classifier says the value
        if not isinstance(value, int) or isinstance(value, bool) or value < 2:
            continue
        places = [(item, key) for item, key in heads if item.args[key] == value]
        if places:
            params[name] = value
            for item, key in places:
                item.args[key] = f"${name}"
        break
    for name in _WIDTH_PARAMS:
        value = values.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 2:
            continue
        pattern = re.compile(rf"\$\{{{value} \* (2 \*\* .*)\}}")
        hits = 0
        for item in st.top.items:
            for key, arg in list(item.args.items()):
                if isinstance(arg, str) and pattern.fullmatch(arg):
                    item.args[key] = pattern.sub(rf"${{{name} * \1}}", arg)
                    hits += 1
        if hits:
            params[name] = value
        break
    if len(imp.shapes) == 1:
        (shape,) = imp.shapes.values()
        for name in _CHANNEL_PARAMS:
            if len(shape) > 1 and values.get(name) == shape[1] and not isinstance(values.get(name), bool):
                params[name] = shape[1]
                imp.channel_param = name
                break
    return params


def _init_values(module: nn.Module) -> dict[str, Any]:
    """Constructor parameters of the module's class whose values the instance keeps under the same name."""
    out: dict[str, Any] = {}
    try:
        signature = inspect.signature(type(module).__init__)
    except (TypeError, ValueError):
        return out
    for name, param in signature.parameters.items():
        if name == "self":
            continue
        if hasattr(module, name) and isinstance(getattr(module, name), int):
            out[name] = getattr(module, name)
        elif isinstance(param.default, int) and not isinstance(param.default, bool):
            out[name] = param.default
    return out


# -- verification ----------------------------------------------------------------------------------------


def _flat(value: Any) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, Mapping):
        value = list(value.values())
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _flat(v)]
    return []


def _compare(expected: Any, actual: Any, mode: str) -> list[str]:
    a, b = _flat(expected), _flat(actual)
    if len(a) != len(b):
        return [f"{mode}: the original returns {len(a)} tensors, the spec {len(b)}"]
    problems = []
    for k, (x, y) in enumerate(zip(a, b)):
        if x.shape != y.shape:
            problems.append(f"{mode}: output {k} has shape {list(y.shape)}, the original's {list(x.shape)}")
        elif not torch.equal(x, y):
            diff = (x.double() - y.double()).abs().max().item() if x.is_floating_point() else float("nan")
            problems.append(f"{mode}: output {k} differs from the original's (largest difference {diff:.3g})")
    return problems


@contextlib.contextmanager
def _mode(module: nn.Module, *, training: bool) -> Iterator[None]:
    """Run `module` in train or eval mode, and give back every submodule's mode and buffer afterwards.

    A train-mode forward updates BatchNorm's running statistics: the buffers are restored so that the
    caller's module is as it was.
    """
    modes = [(m, m.training) for m in module.modules()]
    buffers = [(b, b.detach().clone()) for b in module.buffers()] if training else []
    module.train(training)
    try:
        yield
    finally:
        for m, was in modes:
            m.training = was
        with torch.no_grad():
            for b, saved in buffers:
                b.copy_(saved)


def _train_run(module: nn.Module, examples: list[torch.Tensor]) -> Any:
    torch.manual_seed(1234)
    with torch.no_grad(), _mode(module, training=True):
        return module(*examples)


def _deterministic_train(module: nn.Module, examples: list[torch.Tensor]) -> tuple[bool, Any]:
    runs = []
    for _ in range(2):
        try:
            runs.append(_train_run(module, examples))
        except Exception:  # noqa: BLE001 - it cannot train on this input (a batch of one): nothing to compare
            return False, None
    a, b = _flat(runs[0]), _flat(runs[1])
    same = len(a) == len(b) and all(x.shape == y.shape and torch.equal(x, y) for x, y in zip(a, b))
    return same, runs[0]


# The spec written from the caller's own model (already in memory, and trusted) is checked without the
# bounds meant for untrusted specs: a model of more than `Limits().max_graph_nodes` nodes still imports.
# `netspec.loads` of the text it returns applies the caller's limits.
_IMPORT_LIMITS = {"max_graph_nodes": 10_000_000, "max_work": 2**62, "max_params": 2**62}


def _verify(imp: _Importer, text: str) -> None:
    from ._api import Limits, build, loads

    try:
        spec = loads(text, limits=Limits(**_IMPORT_LIMITS))
        built = build(spec, weights=imp.original.state_dict(), inputs=imp.shapes)
    except Exception as err:
        raise ModuleImportError([f"the imported spec does not build: {err}", "the spec:", text]) from err
    names = list(imp.examples)
    examples = [imp.examples[k] for k in names]
    with torch.no_grad(), _mode(imp.original, training=False):
        expected = imp.original(*examples)
    with torch.no_grad():
        actual = built.eval()(*examples)
    problems = _compare(expected, actual, "eval")
    if not problems:
        deterministic, train_expected = _deterministic_train(imp.original, examples)
        if deterministic:
            train_actual = _train_run(built, examples)
            problems += _compare(train_expected, train_actual, "train")
    if problems:
        raise ModuleImportError(["the imported spec computes something else than the original:", *problems])


# -- the public function ---------------------------------------------------------------------------------


def from_module(
    module: nn.Module,
    *,
    inputs: Mapping[str, Sequence[int]],
    name: str | None = None,
    params: Mapping[str, Any] | None = None,
    verify: bool = True,
) -> str:
    """The YAML text of a spec that computes what `module` computes, verified by building it::

        text = netspec.from_module(torchvision.models.resnet18(), inputs={"x": [1, 3, 224, 224]})
        model = netspec.build(netspec.loads(text))

    `inputs` gives an example shape for each argument of `forward` (`{"x": [1, 3, 224, 224]}`).
    `params` names the values the model was made with (`{"num_classes": 10}`) so that they become the
    spec's parameters where they can be found. With `verify` (the default) the spec is built, the
    module's weights loaded into it strictly and the outputs compared in eval mode, and in train mode
    under one seed when the module is deterministic; any difference raises `ModuleImportError`, as
    does an op or module the catalog lacks (naming its module path, class and source line).
    """
    if not isinstance(module, nn.Module):
        raise ModuleImportError([f"a {type(module).__name__} is not an nn.Module"])
    imp = _Importer(module, inputs, name)
    imp.trace()
    imp.convert()
    imp.scopes()
    imp.dense_chains()
    if imp.problems:
        raise ModuleImportError(imp.problems)
    structurer = _Structurer(imp)
    structurer.run()
    spec_params = _model_params(imp, structurer, params or {})
    text = None
    for input_dims, dims in _input_candidates(imp):
        candidate = _render(imp, structurer, input_dims, dims, spec_params)
        if _shapes_check(candidate, imp.shapes):
            text = candidate
            break
    if text is None:
        text = _render(imp, structurer, {k: list(v) for k, v in imp.shapes.items()}, {}, spec_params)
    if verify:
        _verify(imp, text)
    return text


def _input_candidates(imp: _Importer) -> Iterable[tuple[dict[str, list[Any]], dict[str, int]]]:
    names = ["H", "W"] if all(len(s) == 4 for s in imp.shapes.values()) else []
    symbols = {3: ["L"], 4: ["H", "W"], 5: ["D", "H", "W"]}
    if not imp.folded_sizes:
        dims: dict[str, int] = {}
        shaped: dict[str, list[Any]] = {}
        ok = len(imp.shapes) == 1
        for k, shape in imp.shapes.items():
            spatial = symbols.get(len(shape))
            if spatial is None:
                ok = False
                break
            channels: Any = f"${imp.channel_param}" if imp.channel_param else shape[1]
            shaped[k] = ["N", channels, *spatial]
            dims.update(dict(zip(spatial, shape[2:])))
        if ok:
            yield shaped, dict(dims)
    del names
    first: Any = f"${imp.channel_param}" if imp.channel_param else None
    yield (
        {k: ["N", first or shape[1], *shape[2:]] if len(shape) > 1 else ["N"] for k, shape in imp.shapes.items()},
        {},
    )


def _shapes_check(text: str, shapes: Mapping[str, tuple[int, ...]]) -> bool:
    from ._api import Limits, loads, prepare
    from ._errors import SpecError

    try:
        spec = loads(text, limits=Limits(**_IMPORT_LIMITS))
        prepare(spec)
        prepare(spec, None, shapes)
    except SpecError:
        return False
    return True
