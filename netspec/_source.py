"""What a source is: a spec file, a bundled spec's name, spec text or plain data; and reading it.

This is the one place that decides. `netspec.load`, `netspec.build` and friends, the `netspec`
command and `extends:` all ask `locate` (or `resolve_extends` for an `extends:` reference), so a
name means the same thing everywhere:

- a mapping is spec data;
- an existing path is a file (a folder is an error);
- a string with no spec suffix (`.yaml`, `.yml`, `.json`) and no path separator names a bundled spec;
- anything else is a missing file, an unknown bundled name, or spec text passed where a path belongs.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from ._config import find_config
from ._errors import Diagnostic, SourceMap, SpecError, did_you_mean, escape_text
from ._load import DEFAULT_LIMITS, Document, Limits, file_kind, parse_text, read_file

__all__ = [
    "SPEC_SUFFIXES",
    "Located",
    "bundled_path",
    "extends_problem",
    "extends_root",
    "list_specs",
    "locate",
    "read_extended",
    "read_source",
    "resolve_extends",
]

SPEC_SUFFIXES = (".yaml", ".yml", ".json")
_BUNDLED_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")

SourceKind = Literal["file", "bundled", "text", "data"]


@dataclasses.dataclass(frozen=True)
class Located:
    """A source, decided: its kind, and for files and bundled specs the file and the name reports use."""

    kind: SourceKind
    path: Path | None = None
    display: str = ""


def _specs_root() -> Path:
    try:
        return Path(str(resources.files("netspec.specs")))
    except ModuleNotFoundError:  # running from a checkout that is not installed
        return Path(__file__).resolve().parent.parent / "specs"


def list_specs() -> list[str]:
    """Names of the bundled specs (`resnet18`, `unet`, ...)."""
    root = _specs_root()
    if not root.is_dir():
        return []
    return sorted(p.stem for p in root.iterdir() if p.suffix in SPEC_SUFFIXES)


def bundled_path(name: str) -> Path | None:
    """The file of a bundled spec, or None."""
    if not _BUNDLED_NAME.match(name):
        return None
    for suffix in SPEC_SUFFIXES:
        candidate = _specs_root() / f"{name}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def _display_name(path: Path) -> str:
    """How reports name a file: its path relative to the working folder, escaped like spec text."""
    try:
        return escape_text(os.path.relpath(path), 1000)
    except ValueError:  # another drive on Windows
        return escape_text(str(path), 1000)


def _looks_like_path(text: str) -> bool:
    return text.endswith(SPEC_SUFFIXES) or os.sep in text or "/" in text


def _looks_like_text(text: str) -> bool:
    return "\n" in text or text.lstrip().startswith(("{", "["))


def _not_found(message: str, hint: str | None = None, name: str | None = None) -> SpecError:
    """An NS101; one about a name is placed at the start of the file it names (line 1, column 1)."""
    shown = escape_text(name, 1000) if name is not None else None
    diagnostic = Diagnostic(message, hint=hint, code="NS101", file=shown)
    if shown is not None:
        diagnostic = dataclasses.replace(diagnostic, line=1, column=1, end_line=1, end_column=1)
    return SpecError([diagnostic])


def locate(source: str | os.PathLike[str] | Mapping[str, Any], *, text: bool = False) -> Located:
    """Decide what `source` is; raises `SpecError` (NS101) when it names nothing readable.

    `text=True` says that a string is spec text (what `netspec.loads` reads).
    """
    if isinstance(source, Mapping):
        return Located("data")
    if text:
        return Located("text", display="<string>")
    if not isinstance(source, (str, os.PathLike)):
        kind = type(source).__name__
        raise _not_found(f"a spec source is a path, a bundled spec name or a mapping, got a {kind}")
    name = os.fspath(source)
    if isinstance(name, bytes):  # an os.PathLike[bytes]
        name = os.fsdecode(name)
    path = Path(name)
    shown = escape_text(name, 1000)
    try:
        exists, is_dir, is_file = path.exists(), path.is_dir(), path.is_file()
        resolved = path.resolve() if is_file else None
    except (OSError, ValueError, RuntimeError) as err:
        raise _not_found(f"cannot read `{escape_text(name, 80)}`: {_os_reason(err)}", name=name) from None
    if isinstance(source, str) and not _looks_like_path(name) and not _looks_like_text(name):
        bundled = bundled_path(name) if not exists else None
        if bundled is not None:
            return Located("bundled", bundled, f"<bundled>/{bundled.name}")
    if is_dir:
        hint = "name a .yaml, .yml or .json file in it (`netspec validate` takes folders)"
        raise _not_found(f"`{shown}` is a folder, not a spec file", hint, name)
    if resolved is not None:
        return Located("file", resolved, _display_name(path))
    if exists:  # a named pipe, a socket, a device: reading it could wait forever or never end
        kind = _kind_of(path)
        raise _not_found(f"`{shown}` is not a regular file ({kind})", "a spec is a regular file: give its path", name)
    if isinstance(source, str) and _looks_like_text(name):
        raise _not_found(
            "expected a path or a bundled spec name, got spec text",
            "this looks like spec text: read it with `netspec.loads(text)`",
        )
    if _looks_like_path(name) or not isinstance(source, str):
        raise _not_found(f"no such spec file: `{shown}`", name=name)
    raise _not_found(
        f"`{shown}` is neither a spec file nor a bundled spec", did_you_mean(name, list_specs(), listing=12), name
    )


def read_source(
    source: str | bytes | os.PathLike[str] | Mapping[str, Any], *, limits: Limits | None = None, text: bool = False
) -> tuple[Document, Path | None]:
    """Any accepted source as a `Document`, with the file it was read from (None for text and data)."""
    limits = limits or DEFAULT_LIMITS
    if text:
        if not isinstance(source, (str, bytes)):
            raise _not_found(f"spec text is a str or bytes, got a {type(source).__name__}")
        return parse_text(source, file="<string>", limits=limits), None
    if isinstance(source, bytes):
        raise _not_found("expected a path or a bundled spec name, got bytes", "read spec text with `netspec.loads`")
    located = locate(source)
    if located.kind == "data":
        assert isinstance(source, Mapping)
        return Document(dict(source), SourceMap(), None), None
    assert located.path is not None
    return read_file(located.path, limits=limits, display_name=located.display), located.path


# --- extends: what a reference in a spec names ----------------------------------------------------


def _extends_names_file(ref: str) -> bool:
    return ref.endswith(SPEC_SUFFIXES) or "/" in ref or "\\" in ref


def _inside(target: Path, boundary: Path) -> bool:
    return target == boundary or boundary in target.parents


def _os_reason(err: Exception) -> str:
    """Why the system refused a path, in words that never show it (nor where netspec is installed)."""
    if isinstance(err, ValueError):
        return "it contains a NUL character"
    if isinstance(err, RuntimeError) or getattr(err, "errno", None) == errno.ELOOP:
        return "it goes through a loop of symbolic links"
    if isinstance(err, OSError) and err.errno is not None:
        return os.strerror(err.errno).lower()
    return "the system cannot read it"


def _kind_of(path: Path) -> str:
    try:
        return file_kind(path.stat().st_mode)
    except OSError as err:
        return _os_reason(err)


def _probe(path: Path) -> tuple[Path | None, bool, str | None]:
    """`path` resolved, whether it is a file, and why it cannot be resolved or probed (or None)."""
    try:
        resolved = path.resolve()
        return resolved, resolved.is_file(), None
    except (OSError, ValueError, RuntimeError) as err:
        return None, False, _os_reason(err)


def resolve_extends(ref: str, base: Path | None, root: Path | None) -> Path | None:
    """The file `extends: ref` names: a bundled spec, or a relative file inside the spec's own folder tree.

    `base` is the extending spec's file (None for text and data, which may extend bundled specs only),
    `root` how far the first spec of the chain may reach (`extends_root`: its project's root, else
    its folder); no reference may leave it.
    """
    if not _extends_names_file(ref):
        return bundled_path(ref)
    if base is None or os.path.isabs(ref) or ref.startswith("~"):
        return None
    target, is_file, _ = _probe(base.parent / ref)
    boundary, _, _ = _probe(root or base.parent)
    if target is None or boundary is None or not _inside(target, boundary):
        return None
    return target if is_file else None


def extends_root(spec: Path) -> Path:
    """How far `extends` may reach from `spec`: its project's root (`[tool.netspec]`), else its own folder."""
    config = find_config(spec.parent)
    if config is not None and _inside(spec.resolve(), config.root):
        return config.root
    return spec.parent


def extends_problem(ref: str, base: Path | None, root: Path | None) -> tuple[str, str]:
    """Why `resolve_extends` found nothing: the message and a hint."""
    hint = did_you_mean(ref, list_specs()) or (
        "name a bundled spec or a relative file inside this spec's folder (no absolute paths, no `..` out of it); "
        "a `[tool.netspec]` table in pyproject.toml (or a netspec.toml) makes its folder the root `extends` may reach"
    )
    if not _extends_names_file(ref):
        return f"cannot extend `{ref}`: there is no bundled spec of that name", hint
    if base is None:
        text_hint = "extend a bundled spec, or read the spec from its file with `netspec.load(path)` to extend a file"
        return f"cannot extend `{ref}`: a spec given as text or data can extend bundled specs only", text_hint
    if os.path.isabs(ref) or ref.startswith("~"):
        return f"cannot extend `{ref}`: absolute paths are not allowed", hint
    target, _, reason = _probe(base.parent / ref)
    boundary, _, _ = _probe(root or base.parent)
    if target is None or boundary is None:
        return f"cannot extend `{ref}`: {reason or 'its folder cannot be read'}", hint
    here, _, _ = _probe(base.parent)
    where = "this spec's folder" if boundary == here else f"the project root `{boundary}`"
    if not _inside(target, boundary):
        written = os.path.normpath(ref)
        if not written.startswith(".."):  # written inside the folder: a symbolic link on the way leads out
            return f"cannot extend `{ref}`: it is a link to a file outside {where}", (
                f"extend the file itself: copy it into {where}, or name a bundled spec"
            )
        return f"cannot extend `{ref}`: it is outside {where}", hint
    if target.exists():
        return f"cannot extend `{ref}`: it is not a regular file ({_kind_of(target)})", "name a spec file"
    return f"cannot extend `{ref}`: no such file in {where}", hint


def _extended_display(target: Path) -> str:
    """The name reports use for a file `extends:` reached: `<bundled>/NAME` for a bundled spec, so that no
    report shows where netspec is installed; else its path relative to the working folder."""
    root, _, _ = _probe(_specs_root())
    if root is not None and target.parent == root:
        return f"<bundled>/{target.name}"
    return _display_name(target)


def read_extended(target: Path, limits: Limits) -> Document:
    """Read the file an `extends:` reference resolved to."""
    return read_file(target, limits=limits, display_name=_extended_display(target))
