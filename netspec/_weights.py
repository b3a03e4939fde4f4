"""Weights without pickle: reading state dicts from safetensors or `weights_only` torch files, loading
them strictly into a built model with a report that names the spec's nodes, and writing safetensors.

A weight file is data: safetensors holds tensors and nothing else, and `.pt`/`.pth` files are read
with `torch.load(weights_only=True)`, which refuses anything but tensors and plain containers, so
loading weights never runs code from the file.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ._errors import Diagnostic, SourceMap, SpecError, did_you_mean, format_path
from ._graph import Graph

__all__ = ["WEIGHT_SUFFIXES", "check_state_dict", "load_weights", "read_state_dict", "save_weights"]

WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin")
_CONTAINER_KEYS = ("state_dict", "model_state_dict", "model")  # where training checkpoints keep the weights
_MAX_REPORTED = 20  # diagnostics per kind of problem; the rest are counted


def _file_error(path: str | os.PathLike[str], message: str, hint: str | None = None) -> SpecError:
    return SpecError([Diagnostic(message, file=os.fspath(path), hint=hint, code="NS195")], SourceMap())


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """The tensors of a weight file, by key: safetensors, or a `.pt`/`.pth`/`.bin` state dict.

    A torch file may hold the state dict itself or a checkpoint with it under `state_dict`,
    `model_state_dict` or `model`. Raises `SpecError` (NS195) for a file that cannot be read as weights.
    """
    file = Path(path)
    if not file.is_file():
        raise _file_error(path, f"no weight file `{file}`" + (" (it is a folder)" if file.is_dir() else ""))
    suffix = file.suffix.lower()
    if suffix not in WEIGHT_SUFFIXES:
        raise _file_error(
            path,
            f"`{file.name}` is not a weight file netspec reads",
            "use a `.safetensors` file, or a `.pt`/`.pth`/`.bin` state dict saved with `torch.save`",
        )
    if suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return dict(load_file(os.fspath(file), device="cpu"))
        except (SafetensorError, OSError, ValueError) as err:
            raise _file_error(path, f"`{file.name}` is not a readable safetensors file: {err}") from None
    try:
        with warnings.catch_warnings():  # torch's notes on reading sparse and quantized tensors: refused anyway
            warnings.filterwarnings("ignore", "Validating sparse tensor invariants", UserWarning)
            warnings.filterwarnings("ignore", "TypedStorage is deprecated", UserWarning)
            loaded = torch.load(os.fspath(file), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        if not _looks_like_torch_file(file):
            raise _file_error(path, f"`{file.name}` cannot be read as weights: it is not a torch file") from None
        raise _file_error(
            path,
            f"`{file.name}` holds objects other than tensors and plain containers, which netspec does not unpickle",
            "save `model.state_dict()` with `torch.save`, or convert the weights to safetensors",
        ) from None
    except Exception as err:  # noqa: BLE001 - truncated files, zip errors: all mean "not weights"
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise _file_error(path, f"`{file.name}` cannot be read as weights: {first}") from None
    return _tensors(loaded, path)


def _looks_like_torch_file(file: Path) -> bool:
    """A zip archive (what `torch.save` writes) or a legacy pickle (protocol byte first)."""
    with file.open("rb") as stream:
        head = stream.read(4)
    return head.startswith(b"PK\x03\x04") or head[:1] == b"\x80"


def _tensors(loaded: Any, path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    if isinstance(loaded, Mapping):
        for key in _CONTAINER_KEYS:
            inner = loaded.get(key)
            if isinstance(inner, Mapping) and not any(isinstance(v, torch.Tensor) for v in loaded.values()):
                loaded = inner
                break
    if not isinstance(loaded, Mapping):
        raise _file_error(path, f"the file holds a {type(loaded).__name__}, not a state dict (a mapping of tensors)")
    if loaded and not any(isinstance(v, torch.Tensor) for v in loaded.values()):
        raise _checkpoint_error(loaded, path)
    wrong = [str(k) for k, v in loaded.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if wrong:
        raise _file_error(
            path,
            f"the state dict has {len(wrong)} entr{'y' if len(wrong) == 1 else 'ies'} that "
            f"{'is' if len(wrong) == 1 else 'are'} not a tensor under a string key: {', '.join(wrong[:5])}",
        )
    return dict(loaded)


def _checkpoint_error(loaded: Mapping[Any, Any], path: str | os.PathLike[str]) -> SpecError:
    """A mapping with no tensor at its top and none of the keys checkpoints keep weights under."""
    accepted = ", ".join(f"`{k}`" for k in _CONTAINER_KEYS)
    keys = [str(k) for k in loaded][:8]
    shown = ", ".join(f"`{k}`" for k in keys) + (", ..." if len(loaded) > len(keys) else "")
    holders = [
        (str(k), len(v))
        for k, v in loaded.items()
        if isinstance(v, Mapping) and v and all(isinstance(t, torch.Tensor) for t in v.values())
    ]
    if holders:
        key, count = max(holders, key=lambda item: item[1])
        hint = (
            f"`{key}` holds {count} tensor{'' if count == 1 else 's'}: save it alone "
            f'(`torch.save(checkpoint["{key}"], path)`) or under `state_dict`'
        )
    else:
        hint = "save `model.state_dict()` with `torch.save`, or convert the weights to safetensors"
    return _file_error(
        path,
        f"the file holds no tensors: a checkpoint's weights are read from {accepted}, and it has none of "
        f"these (it has {shown})",
        hint,
    )


def _owner(key: str, modules: Mapping[str, Any]) -> str | None:
    """The longest module-name prefix of a state-dict key (`layer1.0.conv1.weight` -> `layer1.0.conv1`)."""
    parts = key.split(".")
    for end in range(len(parts) - 1, 0, -1):
        prefix = ".".join(parts[:end])
        if prefix in modules:
            return prefix
    return None


def load_weights(
    model: nn.Module,
    state: Mapping[str, torch.Tensor],
    graph: Graph,
    *,
    strict: bool = True,
    file: str | None = None,
) -> None:
    """Copy `state` into `model`, checking every key and shape first.

    With `strict`, a key the model lacks (unexpected), a key of the model the weights lack (missing)
    or a tensor of another shape is an error (NS196, NS197, NS198), reported at the spec node the key
    belongs to; without it, missing and unexpected keys are skipped. Shapes, dtypes and layouts are
    always checked (NS198): a floating-point weight may come at any floating-point precision (cast,
    silently: float16 and bfloat16 convert to float32 exactly), an integer buffer at any integer
    width; an integer, bool or complex tensor for a floating-point weight, or a sparse, quantized or
    meta tensor, is refused.
    """
    expected = model.state_dict()
    nodes = {node.name: node for node in graph.nodes}
    sources = graph.sources
    diagnostics: list[Diagnostic] = []
    where = f" in `{file}`" if file else ""

    def report(code: str, key: str, message: str, hint: str | None, kind: list[Diagnostic]) -> None:
        owner = _owner(key, nodes)
        if owner is not None:
            node = nodes[owner]
            message = f"`{owner}` ({node.op.name}): {message}"
            kind.append(
                Diagnostic(message, format_path(node.path), hint=hint, code=code).located(sources.span(node.path))
            )
        else:
            first = key.split(".")[0]
            message = f"{message} (no node of the spec is named `{first}`)" if "." in key else message
            kind.append(Diagnostic(message, "nodes", hint=hint, code=code).located(sources.span(("nodes",), key=True)))

    missing: list[Diagnostic] = []
    unexpected: list[Diagnostic] = []
    shapes: list[Diagnostic] = []
    absent = [key for key in expected if key not in state] if strict else []
    extra = [key for key in state if key not in expected] if strict else []
    if strict:
        for key in absent[: _MAX_REPORTED + 1]:  # one more than shown, so that "and N more" is right
            report("NS196", key, f"weight `{key}` is missing{where}", did_you_mean(key, extra), missing)
        for key in extra[: _MAX_REPORTED + 1]:
            message = f"the weights{where} have `{key}`, which the model has not"
            report("NS197", key, message, did_you_mean(key, absent), unexpected)
    for key, tensor in state.items():
        target = expected.get(key)
        if target is None:
            continue
        problem = _storage_problem(tensor) or _dtype_problem(tensor, target)
        if problem is not None:
            message, hint = problem
            report("NS198", key, f"weight `{key}`{where} {message}", hint, shapes)
        elif tuple(target.shape) != tuple(tensor.shape):
            report(
                "NS198",
                key,
                f"weight `{key}` has shape {list(tensor.shape)}{where}, the model's has {list(target.shape)}",
                "the weights were saved from a model with other sizes: check the spec's parameters",
                shapes,
            )
    totals = (len(absent), len(extra), len(shapes))
    for kind, total in zip((missing, unexpected, shapes), totals):
        if total > _MAX_REPORTED:
            del kind[_MAX_REPORTED:]
            more = f"... and {total - _MAX_REPORTED} more like the above"
            kind.append(dataclasses.replace(kind[-1], message=more, hint=None))
        diagnostics += kind
    if diagnostics:
        raise SpecError(diagnostics, sources)
    usable = {k: v for k, v in state.items() if k in expected}
    model.load_state_dict(usable, strict=strict)


def check_state_dict(weights: Any) -> dict[str, torch.Tensor]:
    """`weights` given from Python as a plain dict, if it is a mapping of string keys to tensors
    (`TypeError` naming the first entry that is not)."""
    if not isinstance(weights, Mapping):
        raise TypeError(
            "`weights` must be a weight file's path or a mapping of names to tensors (a state dict), "
            f"got {type(weights).__name__}"
        )
    for key, value in weights.items():
        if not isinstance(key, str):
            raise TypeError(f"`weights` keys are the model's parameter names (strings), got {key!r:.60}")
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"`weights[{key!r:.60}]` is a {type(value).__name__}, not a tensor")
    return dict(weights)


# What a weight's dtype is: a floating-point weight may be given at another floating-point precision
# (cast, as `load_state_dict` does), an integer buffer at another integer width; nothing else converts.
def _kind(dtype: torch.dtype) -> str:
    if dtype == torch.bool:
        return "bool"
    if dtype.is_complex:
        return "complex"
    if dtype.is_floating_point:
        return "floating-point"
    return "integer"


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _dtype_problem(tensor: torch.Tensor, target: torch.Tensor) -> tuple[str, str] | None:
    if _kind(tensor.dtype) == _kind(target.dtype):
        return None
    return (
        f"is {_dtype_name(tensor.dtype)}, the model's is {_dtype_name(target.dtype)}: "
        f"{_kind(tensor.dtype)} values do not convert to {_kind(target.dtype)} ones without loss",
        f"save the weights as {_dtype_name(target.dtype)} (a floating-point weight may be float16, "
        "bfloat16, float32 or float64)",
    )


def _storage_problem(tensor: torch.Tensor) -> tuple[str, str] | None:
    """A tensor whose values cannot be copied into a dense parameter as they are: sparse, quantized, meta."""
    if tensor.is_quantized:
        return (
            f"is a quantized tensor ({_dtype_name(tensor.dtype)}), the model's is a dense floating-point one",
            "save the float weights (`tensor.dequantize()`), or quantize the built model instead",
        )
    if tensor.layout != torch.strided:
        layout = str(tensor.layout).removeprefix("torch.")
        return f"has the {layout} layout, the model's is dense (strided)", "save it dense (`tensor.to_dense()`)"
    if tensor.is_meta:
        return "is a meta tensor: it has a shape but no values", "pass the tensors themselves, not meta copies"
    return None


def save_weights(model: nn.Module | Mapping[str, torch.Tensor], path: str | os.PathLike[str]) -> None:
    """Write a model's state dict (or a state dict) to a safetensors file::

        netspec.save_weights(model, "resnet18.safetensors")
        netspec.build("resnet18", weights="resnet18.safetensors")

    Tensors are written contiguous, on the CPU; tensors that share storage (tied weights) are written
    once each under every key, so the file loads back into the same model with `build(weights=...)`.
    """
    from safetensors.torch import save_file

    state = model.state_dict() if isinstance(model, nn.Module) else dict(model)
    seen: set[tuple[int, int]] = set()
    out: dict[str, torch.Tensor] = {}
    for key, tensor in state.items():
        if not isinstance(tensor, torch.Tensor):
            raise TypeError(f"`{key}` is a {type(tensor).__name__}, not a tensor")
        tensor = tensor.detach().to("cpu").contiguous()
        ident = (tensor.untyped_storage().data_ptr(), tensor.untyped_storage().nbytes())
        if ident in seen and tensor.numel():
            tensor = tensor.clone()
        seen.add(ident)
        out[key] = tensor
    save_file(out, os.fspath(path), metadata={"format": "pt"})
