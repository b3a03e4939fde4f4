"""Project configuration: `[tool.netspec]` in pyproject.toml, or a `netspec.toml`.

The nearest configuration above a spec (its folder, then each parent) makes a project:

```toml
[tool.netspec]                  # in netspec.toml the keys may also stand at the top level
root = "."                      # `extends` may name any file under this folder (default: the config's folder)
include = ["specs/**/*.yaml"]   # the files `netspec validate` checks (default: every .yaml, .yml and .json)
exclude = ["specs/drafts/**"]   # files it skips
strict = true                   # warnings are errors
max_graph_nodes = 2000          # any field of `netspec.Limits`: the bounds each spec is checked under
```

`root` is relative to the configuration file and can only be its folder or a folder below it,
so a configuration never opens files outside the folder that holds it. Globs are matched against
paths relative to the root, with `*` (within a folder), `**` (any number of folders), `?` and
`[...]` (`[!...]` outside the set), matched in time linear in the path. A configuration that cannot be read or has a wrong key is a `SpecError` (NS030) at the file.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._errors import Diagnostic, SourceMap, SpecError, did_you_mean
from ._glob import Glob, GlobError, compile_glob
from ._limits import Limits

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]  # only installed on Python 3.10

__all__ = ["CONFIG_FILES", "ProjectConfig", "find_config", "glob_pattern"]

CONFIG_FILES = ("netspec.toml", "pyproject.toml")
LIMIT_KEYS = tuple(field.name for field in dataclasses.fields(Limits))  # `max_graph_nodes = 2000`, ...
_KEYS: dict[str, type] = {"root": str, "include": list, "exclude": list, "strict": bool} | dict.fromkeys(
    LIMIT_KEYS, int
)
MAX_CONFIG_BYTES = 1_000_000


@dataclasses.dataclass(frozen=True)
class ProjectConfig:
    """A project's settings, read from `file`."""

    file: Path
    root: Path
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    strict: bool = False
    limits: tuple[tuple[str, int], ...] = ()  # the `Limits` fields it sets, by name

    def selects(self, path: Path) -> bool:
        """Whether `netspec validate` checks `path` (a file under the root): included and not excluded."""
        try:
            relative = path.resolve().relative_to(self.root).as_posix()
        except ValueError:
            return True  # outside the project: its settings do not apply
        if self.include and not any(glob_pattern(g).match(relative) for g in self.include):
            return False
        return not any(glob_pattern(g).match(relative) for g in self.exclude)


def find_config(start: Path) -> ProjectConfig | None:
    """The configuration of the nearest project containing the folder `start`, or None."""
    return _find(start.resolve())


@functools.lru_cache(maxsize=256)
def _find(folder: Path) -> ProjectConfig | None:
    for candidate in (folder, *folder.parents):
        for name in CONFIG_FILES:
            file = candidate / name
            if file.is_file():
                found = _table(file)
                if found is not None:
                    return _config(file, *found)
    return None


def _table(file: Path) -> tuple[Mapping[str, Any], str] | None:
    """The netspec settings in `file` (`[tool.netspec]`, or netspec.toml's top level) and the file's
    text; None if it has none."""
    try:
        if file.stat().st_size > MAX_CONFIG_BYTES:
            raise _error(file, f"`{file.name}` is larger than {MAX_CONFIG_BYTES:,} bytes")
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise _error(file, f"cannot read `{file.name}`: {err}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        message = str(err)
        found = _TOML_POSITION.search(message)
        at = (int(found["line"]), int(found["column"])) if found and found["line"] else _end_of(text)
        reason = _TOML_POSITION.sub("", message).strip()
        reason = reason[:1].lower() + reason[1:]
        raise _error(file, f"`{file.name}` is not valid TOML: {reason}", text=text, at=at) from None
    tool = data.get("tool")
    table = tool.get("netspec") if isinstance(tool, dict) else None
    if table is None and file.name == "netspec.toml":
        table = data
    if table is None:
        return None
    if not isinstance(table, dict):
        raise _error(file, "`[tool.netspec]` must be a table", text=text, at=_key_position(text, file, None))
    return table, text


# tomllib's messages end with "(at line 3, column 9)" or "(at end of document)".
_TOML_POSITION = re.compile(r"\s*\(at (?:line (?P<line>\d+), column (?P<column>\d+)|end of document)\)\s*$")


def _end_of(text: str) -> tuple[int, int]:
    lines = text.split("\n")
    return len(lines), len(lines[-1]) + 1


def _key_position(text: str, file: Path, key: str | None) -> tuple[int, int] | None:
    """Line and column of `key = ...` in the netspec table of `text` (of its header when `key` is None).

    The table is `[tool.netspec]`, or in netspec.toml the lines before the first header. One pass
    over the lines; None when the key is written some other way (a dotted key, an inline table).
    """
    header = re.compile(r"\s*\[\s*tool\s*\.\s*netspec\s*\]\s*(#.*)?")
    assignment = re.compile(r"\s*(?:" + re.escape(key) + r'|"' + re.escape(key) + r'")\s*=') if key else None
    inside = file.name == "netspec.toml"
    for number, line in enumerate(text.split("\n"), 1):
        if header.fullmatch(line.rstrip("\r")):
            if key is None:
                return number, line.index("[") + 1
            inside = True
            continue
        if line.lstrip().startswith("["):
            if inside and file.name == "pyproject.toml":
                return None
            inside = False
            continue
        if inside and assignment is not None and assignment.match(line):
            return number, len(line) - len(line.lstrip()) + 1
    return None


def _config(file: Path, table: Mapping[str, Any], text: str) -> ProjectConfig:
    """The configuration of `table`; every wrong setting is reported at once (one NS030 each, up to
    `_MAX_PROBLEMS`: each is placed by a pass over the text)."""
    problems: list[Diagnostic] = []

    def error(key: str, message: str, hint: str | None = None) -> None:
        if len(problems) < _MAX_PROBLEMS:
            problems.extend(_error(file, message, hint, text=text, at=_key_position(text, file, key)).diagnostics)

    wrong: set[str] = set()
    for key, value in table.items():
        if key == "tool" and file.name == "netspec.toml":
            continue
        if key not in _KEYS:
            error(key, f"unknown setting `{key}`", did_you_mean(key, _KEYS, listing=len(_KEYS)))
            continue
        if not isinstance(value, _KEYS[key]) or (
            isinstance(value, list) and not all(isinstance(v, str) and v for v in value)
        ):
            kind = {"root": "a string", "include": "a list of globs", "exclude": "a list of globs"}.get(
                key, "a positive integer" if key in LIMIT_KEYS else "a boolean"
            )
            error(key, f"`{key}` must be {kind}, got {value!r:.60}")
            wrong.add(key)
        elif key in LIMIT_KEYS and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            error(key, f"`{key}` must be a positive integer, got {value!r:.60}")
            wrong.add(key)
    folder = file.parent.resolve()
    root = folder if "root" in wrong else (folder / table.get("root", ".")).resolve()
    if root != folder and folder not in root.parents:
        error(
            "root",
            f"`root` {table['root']!r} is outside the folder of `{file.name}`",
            "name that folder or one below it",
        )
    elif not root.is_dir():
        error("root", f"`root` {table['root']!r} is not a folder")
    for key in ("include", "exclude"):
        for pattern in () if key in wrong else table.get(key, ()):
            if os.path.isabs(pattern) or pattern.startswith("~"):
                error(key, f"`{key}` glob {pattern!r} must be relative to the root")
                continue
            try:
                glob_pattern(pattern)
            except GlobError as err:
                error(key, f"`{key}` glob {pattern!r:.80} {err}", "a range goes from low to high (`[a-z]`)")
    if problems:
        sources = SourceMap()
        if any(d.line is not None for d in problems):
            sources.texts[str(file)] = text
        raise SpecError(problems, sources)
    return ProjectConfig(
        file=file,
        root=root,
        include=tuple(table.get("include", ())),
        exclude=tuple(table.get("exclude", ())),
        strict=bool(table.get("strict", False)),
        limits=tuple((key, table[key]) for key in LIMIT_KEYS if key in table),
    )


_MAX_PROBLEMS = 50  # wrong settings reported from one configuration file


def _error(
    file: Path, message: str, hint: str | None = None, *, text: str | None = None, at: tuple[int, int] | None = None
) -> SpecError:
    """An NS030 at `file`, at line and column `at` when known (with the file's text for the excerpt)."""
    sources = SourceMap()
    diagnostic = Diagnostic(message, file=str(file), hint=hint, code="NS030")
    if at is not None:
        line, column = at
        diagnostic = dataclasses.replace(diagnostic, line=line, column=column, end_line=line, end_column=column + 1)
        if text is not None:
            sources.texts[str(file)] = text
    return SpecError([diagnostic], sources)


def glob_pattern(glob: str) -> Glob:
    """A glob over `/`-separated relative paths (`**` spans folders), matched in linear time; a glob
    naming a folder (`specs/drafts`) also matches everything under it. `GlobError` if it is not a glob."""
    return compile_glob(glob.strip("/"), "/", prefix=True)
