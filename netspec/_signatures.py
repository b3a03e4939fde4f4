"""The argument specs of the torch classes the catalog names, read from a committed snapshot.

Validating a spec must not import torch (it takes seconds and hundreds of MB), so the keyword
arguments, defaults and docstrings of `torch.nn.Conv2d` and the others come from
`_torch_signatures`, which `python tools/gen_signatures.py` writes from the installed torch and
`tests/test_signatures.py` checks against it. Only `build` and the exporters import torch.

`signature(path)` answers from the snapshot. While `reading_torch()` is active (the generator,
the test), it reads the class itself instead and records what it read, so that the snapshot can be
written out and compared entry by entry.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import json
import types
import typing
from collections.abc import Iterator, Mapping
from typing import Any, Literal, Union

from ._args import ArgSpec, _doc_of, _signature_args

__all__ = [
    "DECLARED_TYPES",
    "GENERATOR",
    "SNAPSHOT_FILE",
    "Signature",
    "StaleSignatures",
    "compare",
    "module_attributes",
    "reading_torch",
    "render_snapshot",
    "signature",
]

GENERATOR = "python tools/gen_signatures.py"
SNAPSHOT_FILE = "netspec/_torch_signatures.py"


@dataclasses.dataclass(frozen=True)
class Signature:
    """A class's keyword arguments (in declaration order) and the first paragraph of its docstring."""

    args: tuple[ArgSpec, ...]
    doc: str

    def arg_specs(self) -> dict[str, ArgSpec]:
        return {spec.name: spec for spec in self.args}


class StaleSignatures(LookupError):
    """The snapshot lacks a class the catalog names: it was added without running the generator."""


_recording: dict[str, Signature] | None = None  # set while `reading_torch()` is active


@contextlib.contextmanager
def reading_torch() -> Iterator[dict[str, Signature]]:
    """Read signatures from torch itself (importing it) and record them, by class path."""
    global _recording
    previous, _recording = _recording, {}
    try:
        yield _recording
    finally:
        _recording = previous


def signature(path: str) -> Signature:
    """The signature of the class at dotted `path` (`"torch.nn.Conv2d"`), from the snapshot."""
    if _recording is not None:
        found = _read(path)
        _recording[path] = found
        return found
    from ._torch_signatures import CLASSES

    entry = CLASSES.get(path)
    if entry is None:
        raise StaleSignatures(f"`{path}` is not in the signature snapshot {SNAPSHOT_FILE}: run `{GENERATOR}`")
    doc, args = entry
    return Signature(
        tuple(ArgSpec(name, ann, required, default) for name, ann, required, default in args),
        doc,
    )


def module_attributes() -> frozenset[str]:
    """The attribute names of `torch.nn.Module` (`forward`, `training`, `_modules`, ...), from the snapshot."""
    if _recording is not None:
        return _read_module_attributes()
    from ._torch_signatures import MODULE_ATTRIBUTES

    return MODULE_ATTRIBUTES


# Arguments that torch declares without a type annotation, typed as its documentation describes
# them. The reader fills them in and refuses any other argument without a type: an op argument
# typed `Any` would accept a string for a count (`num_heads: "2"`) or for a flag (`bias: no`).
DECLARED_TYPES: dict[str, dict[str, Any]] = {
    "torch.nn.MultiheadAttention": {
        "embed_dim": int,
        "num_heads": int,
        "dropout": float,
        "bias": bool,
        "add_bias_kv": bool,
        "add_zero_attn": bool,
        "kdim": int | None,
        "vdim": int | None,
        "batch_first": bool,
    },
}


def _read(path: str) -> Signature:
    module_name, _, attribute = path.rpartition(".")
    cls = getattr(importlib.import_module(module_name), attribute)
    args = _signature_args(cls.__init__, skip=1)
    declared = DECLARED_TYPES.get(path, {})
    typed = []
    for spec in args.values():
        if spec.name in declared:
            spec = dataclasses.replace(spec, annotation=declared[spec.name])
        elif spec.annotation is Any:
            raise TypeError(
                f"`{path}` declares `{spec.name}` without a type: add its type to `DECLARED_TYPES` in "
                "netspec/_signatures.py"
            )
        typed.append(spec)
    return Signature(tuple(typed), _doc_of(cls))


def _read_module_attributes() -> frozenset[str]:
    from torch import nn

    return frozenset(dir(nn.Module)) | frozenset(vars(nn.Module()))


# -- the snapshot as Python source ------------------------------------------------------------


def _type_source(annotation: Any) -> str:
    """An annotation as the source that rebuilds it: `int | tuple[int, int]`, `Literal["a", "b"]`."""
    if annotation is type(None) or annotation is None:
        return "None"
    if annotation is Any:
        return "Any"
    if annotation in (int, float, bool, str, list, tuple, dict):
        return str(annotation.__name__)
    origin, members = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Literal:
        return "Literal[" + ", ".join(_value_source(m) for m in members) + "]"
    if origin in (Union, types.UnionType):
        return " | ".join(_type_source(m) for m in members)
    if origin in (tuple, list, dict) and members:
        inner = ", ".join("..." if m is Ellipsis else _type_source(m) for m in members)
        return f"{origin.__name__}[{inner}]"
    module = getattr(annotation, "__module__", "")
    if isinstance(annotation, type) and module.split(".")[0] == "torch":
        return "Any"  # a torch type (`Tensor`): no spec can give one
    raise TypeError(f"the snapshot cannot write the annotation {annotation!r}; add it to `_type_source`")


def _quoted(text: str) -> str:
    """A string literal as `ruff format` writes it: double quotes, unless that needs more escapes."""
    quoted = json.dumps(text, ensure_ascii=False)
    if '"' in text and "'" not in text:
        return "'" + quoted[1:-1].replace('\\"', '"') + "'"
    return quoted


def _value_source(value: Any) -> str:
    if isinstance(value, str):
        return _quoted(value)
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    if isinstance(value, (tuple, list)):
        items = [_value_source(v) for v in value]
        if isinstance(value, tuple):
            return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
        return "[" + ", ".join(items) + "]"
    raise TypeError(f"the snapshot cannot write the default {value!r}")


def render_snapshot(signatures: Mapping[str, Signature], attributes: frozenset[str], torch_version: str) -> str:
    """The text of `_torch_signatures.py` for these signatures, sorted by class path."""
    lines = [
        f'"""The signatures of the torch classes the op catalog names, as torch {torch_version} declares them.',
        "",
        f"Generated by `{GENERATOR}`; do not edit. `tests/test_signatures.py` checks it",
        "against the installed torch. Read through `netspec._signatures`.",
        '"""',
        "",
        "from typing import Any, Literal",
        "",
        f"TORCH_VERSION = {_quoted(torch_version)}",
        "",
        "# class path -> (first paragraph of its docstring, ((argument, annotation, required, default), ...))",
        "CLASSES: dict[str, tuple[str, tuple[tuple[str, Any, bool, Any], ...]]] = {",
    ]
    for path in sorted(signatures):
        found = signatures[path]
        lines += [f"    {_quoted(path)}: (", f"        {_quoted(found.doc)},"]
        entries = [
            f"({_quoted(spec.name)}, {_type_source(spec.annotation)}, {spec.required!r}, {_value_source(spec.default)})"
            for spec in found.args
        ]
        if len(entries) <= 1 and len(single := "        (" + "".join(e + "," for e in entries) + "),") <= 120:
            lines.append(single)  # the layout `ruff format` gives a tuple of one
        else:
            lines += ["        ("] + [f"            {e}," for e in entries] + ["        ),"]
        lines.append("    ),")
    lines += ["}", "", "# attribute names of torch.nn.Module, which a node (submodule) name must not shadow"]
    lines.append("MODULE_ATTRIBUTES = frozenset(")
    lines.append("    {")
    lines += [f"        {_quoted(name)}," for name in sorted(attributes)]
    lines += ["    }", ")", ""]
    return "\n".join(lines)


def compare(live: Mapping[str, Signature]) -> list[str]:
    """What differs between the snapshot and the signatures read from torch, one line per class."""
    from ._torch_signatures import CLASSES

    problems = []
    for path in sorted(live.keys() | CLASSES.keys()):
        if path not in CLASSES:
            problems.append(f"{path}: missing from the snapshot")
            continue
        if path not in live:
            problems.append(f"{path}: in the snapshot, but no op names it any more")
            continue
        doc, args = CLASSES[path]
        snapshot = tuple((n, _type_source(a), r, d) for n, a, r, d in args)
        current = tuple((s.name, _type_source(s.annotation), s.required, s.default) for s in live[path].args)
        if snapshot != current:
            before, after = {a[0]: a for a in snapshot}, {a[0]: a for a in current}
            changed = sorted(n for n in before.keys() | after.keys() if before.get(n) != after.get(n))
            detail = ", ".join(f"`{n}`" for n in changed) or "the argument order"
            problems.append(f"{path}: arguments differ ({detail})")
        elif doc != live[path].doc:
            problems.append(f"{path}: the docstring differs")
    return problems
