"""The `netspec` command: validate, summary, graph, schema, list, export.

Exit codes: 0 success (every spec valid), 1 a spec has errors (or warnings under `--strict`),
2 a usage or I/O error (bad option, missing file, missing optional package).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import re
import stat
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

from ._config import find_config
from ._errors import Diagnostic, SourceMap, SpecError, escape_text, render_diagnostic
from ._glob import GlobError, compile_glob
from ._load import Limits, open_regular, parse_text
from ._models import Spec
from ._names import is_identifier
from ._source import SPEC_SUFFIXES, list_specs, locate, read_source
from ._spec import spec_from_document
from ._version import __version__
from ._work import request

__all__ = ["UsageError", "github_annotation", "main"]

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
_GLOB_CHARS = frozenset("*?[")


class UsageError(Exception):
    """Bad command-line input: reported on one line of stderr, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors raised as `UsageError` instead of printed usage."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = _parser()
    args: argparse.Namespace | None = None
    try:
        args = parser.parse_args(argv)
        status: int = args.run(args)
        sys.stdout.flush()  # output still buffered fails here, where it is reported, not at exit
        return status
    except UsageError as err:
        print(f"netspec: error: {escape_text(str(err), 500)}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # the reader went away (`netspec list | head`): no traceback, no message
        _discard_output()
        # A command with a verdict keeps it (`validate` that found errors is 1 whoever reads it);
        # one without (`list`, `schema`, `summary`) did what was asked of it as far as it was read.
        verdict: int = getattr(args, "verdict", EXIT_OK)
        return verdict
    except OSError as err:  # standard output full or failing (`> /dev/full`, a disk full, an I/O error)
        _discard_output()
        with contextlib.suppress(OSError):
            print(f"netspec: error: cannot write the output: {err.strerror or err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


def _discard_output() -> None:
    """Point standard output at the null device: what is still buffered in it cannot fail again (and
    print a traceback) when the interpreter flushes it on exit."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    except (OSError, ValueError):  # no file descriptor (a stream in memory): nothing is flushed at exit
        pass


# --- argument types -----------------------------------------------------------------------------


def _param(text: str) -> tuple[str, Any]:
    """`NAME=VALUE`, the value read as a YAML scalar or flow list (`10`, `[3, 4, 6, 3]`, `bottleneck`)."""
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not is_identifier(name):
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE (e.g. `num_classes=10`), got {text!r:.80}")
    try:
        parsed = parse_text(value, file=f"-p {name}").data
    except SpecError as err:
        reason = err.diagnostics[0].message if err.diagnostics else "cannot read it"
        raise argparse.ArgumentTypeError(f"bad value for parameter `{name}`: {reason}") from None
    if isinstance(parsed, dict):
        raise argparse.ArgumentTypeError(f"bad value for parameter `{name}`: a mapping is not a parameter value")
    return name, parsed


def _input_shape(text: str) -> tuple[str, tuple[int, ...]]:
    """`NAME=1,3,224,224` (brackets allowed)."""
    name, sep, dims = text.partition("=")
    name = name.strip()
    parts = [p.strip() for p in dims.strip().strip("[]()").split(",")]
    if not sep or not is_identifier(name) or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(
            f"expected NAME=DIMS with positive sizes (e.g. `x=1,3,224,224`), got {text!r:.80}"
        )
    return name, tuple(int(p) for p in parts)


def _positive(text: str) -> int:
    """A limit: a positive integer, written with optional `_` or `,` separators (`10_000`, `2,000`)."""
    digits = text.strip().replace("_", "").replace(",", "")
    if not digits.isdigit() or int(digits) < 1 or len(digits) > 30:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r:.40}")
    return int(digits)


def _depth(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a depth >= 0, got {text!r:.40}")
    return int(text)


# --- the parser ---------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="netspec", description="Validate, summarise, draw and export netspec network specs.")
    parser.add_argument("--version", action="version", version=f"netspec {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True, parser_class=_Parser)

    validate = commands.add_parser(
        "validate",
        help="check specs: syntax, schema, graph and shapes",
        description="Check spec files, folders, globs and bundled names.",
    )
    validate.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="spec files, folders (searched recursively), globs or bundled spec names "
        "(default: the `include` globs of the project configuration)",
    )
    _spec_options(validate)
    validate.add_argument(
        "--format", choices=("text", "json", "github"), default="text", help="output format (default: text)"
    )
    validate.add_argument("--strict", action="store_true", help="treat warnings as errors")
    validate.add_argument(
        "--specs-only",
        action="store_true",
        help="skip named files that are not netspec specs, as folders do (for pre-commit hooks)",
    )
    validate.add_argument("-q", "--quiet", action="store_true", help="print errors only: no warnings, no count line")
    validate.add_argument(
        "--color", choices=("auto", "always", "never"), default="auto", help="color text output (default: auto)"
    )
    validate.set_defaults(run=_run_validate)

    summary = commands.add_parser(
        "summary",
        help="a table of layers, shapes, parameters and MACs",
        description="Summarise a spec at its example input sizes.",
    )
    summary.add_argument("spec", metavar="SPEC", help="a spec file or a bundled spec name")
    _spec_options(summary)
    summary.add_argument(
        "--depth", type=_depth, default=None, metavar="N", help="fold blocks nested deeper than N into one row each"
    )
    summary.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")
    summary.set_defaults(run=_run_summary)

    graph = commands.add_parser(
        "graph", help="draw the network (Mermaid, DOT, SVG, PNG)", description="Draw a spec's graph."
    )
    graph.add_argument("spec", metavar="SPEC", help="a spec file or a bundled spec name")
    _spec_options(graph)
    graph.add_argument(
        "--format",
        choices=("mermaid", "dot", "svg", "png"),
        default="mermaid",
        help="output format (default: mermaid; svg and png need Graphviz)",
    )
    graph.add_argument("-o", "--output", metavar="OUT", help="write to OUT instead of stdout")
    graph.add_argument(
        "--depth", type=_depth, default=None, metavar="N", help="draw blocks nested deeper than N as one box"
    )
    graph.set_defaults(run=_run_graph)

    schema = commands.add_parser(
        "schema", help="print the JSON Schema of the spec language", description="Print the JSON Schema of specs."
    )
    schema.add_argument("-o", "--output", metavar="OUT", help="write to OUT instead of stdout")
    schema.set_defaults(run=_run_schema)

    listing = commands.add_parser(
        "list", help="list the bundled specs", description="List the bundled specs with their descriptions."
    )
    listing.set_defaults(run=_run_list)

    export = commands.add_parser(
        "export",
        help="write a standalone PyTorch file, ONNX, a torch.export program (pt2) or TorchScript (legacy)",
        description="Export a spec's network. ONNX and pt2 keep the spec's symbolic input sizes as dynamic "
        "dims (batch, and spatial sizes over their valid-size lattice) unless --static is given.",
    )
    export.add_argument("spec", metavar="SPEC", help="a spec file or a bundled spec name")
    export.add_argument(
        "--to",
        choices=("python", "onnx", "pt2", "torchscript"),
        required=True,
        help="the format to write (torchscript is deprecated in torch: kept as a legacy format)",
    )
    export.add_argument(
        "--weights", metavar="FILE", help="trained weights to export (.safetensors, or a .pt/.pth state dict)"
    )
    export.add_argument(
        "--static",
        action="store_true",
        help="onnx, pt2: fixed input sizes (those of -i, or the spec's dims) instead of dynamic dims",
    )
    export.add_argument("output", metavar="OUT", help="the file to write")
    _spec_options(export)
    export.set_defaults(run=_run_export)

    importing = commands.add_parser(
        "import",
        help="write the spec of a PyTorch model, verified against it",
        description="Trace a model made by your own Python (PACKAGE.MODULE:FACTORY) into a verified spec.",
    )
    importing.add_argument(
        "factory", metavar="PACKAGE.MODULE:FACTORY", help="a function or class that returns the nn.Module"
    )
    importing.add_argument(
        "-p",
        "--param",
        dest="params",
        type=_param,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a keyword argument of the factory (repeatable)",
    )
    importing.add_argument(
        "--input-shape",
        dest="input_shapes",
        type=_input_shape,
        action="append",
        required=True,
        metavar="NAME=DIMS",
        help="an example shape of each forward argument, e.g. x=1,3,224,224 (repeatable)",
    )
    importing.add_argument("-o", "--output", metavar="OUT", help="write the spec to OUT instead of stdout")
    importing.add_argument("--weights", metavar="FILE", help="also write the model's weights to FILE (safetensors)")
    importing.add_argument("--name", help="the spec's name (default: the factory's)")
    importing.set_defaults(run=_run_import)
    return parser


def _spec_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-p",
        "--param",
        dest="params",
        type=_param,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a spec parameter (repeatable)",
    )
    parser.add_argument(
        "--input-shape",
        dest="input_shapes",
        type=_input_shape,
        action="append",
        default=[],
        metavar="NAME=DIMS",
        help="check at this input shape, e.g. x=1,3,224,224 (repeatable)",
    )
    bounds = Limits()
    for flag, field, what in _LIMIT_FLAGS:
        parser.add_argument(
            flag,
            dest=field,
            type=_positive,
            default=None,
            metavar="N",
            help=f"{what} (default: the project configuration's `{field}`, else {getattr(bounds, field):,})",
        )


# The request bounds the command line sets: flag, `Limits` field (also the configuration key), meaning.
_LIMIT_FLAGS = (
    ("--max-graph-nodes", "max_graph_nodes", "refuse a spec that expands to more nodes"),
    ("--max-work", "max_work", "units of work one spec may cost the command"),
    ("--max-params", "max_params", "parameter and buffer elements a built or exported model may hold"),
)


def _configured_limit_hints(
    found: Sequence[Diagnostic], configured: Sequence[tuple[str, int]], args: argparse.Namespace
) -> list[Diagnostic]:
    """`found` with the hint of each limit refusal (NS134, NS190, the loader's bounds) naming the `[tool.netspec]` setting
    that set the limit, where the project configuration set it and no flag overrode it."""
    from_config = {f: v for f, v in configured if getattr(args, f, None) is None}
    if not from_config:
        return list(found)
    changed = []
    for diag in found:
        field = next((f for f in from_config if diag.hint and f"Limits({f}=" in diag.hint), None)
        if field is not None:
            note = f"; here the limit is `{field} = {from_config[field]}` under `[tool.netspec]` of the project configuration"
            diag = dataclasses.replace(diag, hint=f"{diag.hint}{note}")
        changed.append(diag)
    return changed


def _limits(configured: Sequence[tuple[str, int]], args: argparse.Namespace) -> Limits:
    """The limits a spec is read and checked under: the command line's, else its project's, else the defaults."""
    given = {field: getattr(args, field) for _, field, _ in _LIMIT_FLAGS if getattr(args, field, None) is not None}
    return Limits(**{**dict(configured), **given})


# --- finding specs ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Target:
    display: str  # how reports name it
    source: Path | str  # a file, or a bundled name
    strict: bool = False  # its project's configuration treats warnings as errors
    limits: tuple[tuple[str, int], ...] = ()  # the `Limits` fields its project's configuration sets


@dataclasses.dataclass
class _Found:
    """The specs to check, and the files left out (by reason) or whose project settings are broken."""

    targets: list[_Target] = dataclasses.field(default_factory=list)
    not_specs: list[str] = dataclasses.field(default_factory=list)
    excluded: list[str] = dataclasses.field(default_factory=list)
    not_regular: list[str] = dataclasses.field(default_factory=list)  # named pipes, sockets, devices
    links: list[str] = dataclasses.field(default_factory=list)  # symbolic links a walk does not follow
    config_errors: list[tuple[str, SpecError]] = dataclasses.field(default_factory=list)

    @property
    def skipped(self) -> int:
        return len(self.not_specs) + len(self.excluded) + len(self.not_regular) + len(self.links)


def _expand_paths(paths: Sequence[str], *, specs_only: bool = False) -> _Found:
    found = _Found()
    seen: set[str] = set()
    for arg in paths:
        for target, walked in _expand_one(arg, found.links):
            key = os.path.normcase(os.path.abspath(target.source)) if isinstance(target.source, Path) else target.source
            if key in seen:
                continue
            seen.add(key)
            if isinstance(target.source, Path):
                selected = _select(target, walked or specs_only, found)
                if selected is None:
                    continue
                target = selected
            found.targets.append(target)
    return found


def _select(target: _Target, only_specs: bool, found: _Found) -> _Target | None:
    """The target with its project's settings, or None when they (or its content) leave it out."""
    path = Path(target.source)
    if not _is_regular(path):  # found by a walk or a glob: reading a named pipe would wait forever
        found.not_regular.append(target.display)
        return None
    try:
        config = find_config(path.parent)
    except SpecError as err:
        file = err.diagnostics[0].file or str(path)
        if all(file != f for f, _ in found.config_errors):
            found.config_errors.append((file, err))
        return None
    if config is not None and not config.selects(path):
        found.excluded.append(target.display)
        return None
    if only_specs and not _looks_like_spec(path):
        found.not_specs.append(target.display)
        return None
    if config is None:
        return target
    return dataclasses.replace(target, strict=config.strict or target.strict, limits=config.limits)


# A spec names at least one of these at its top level; other YAML (CI workflows, pre-commit and
# compose files) does not. Block style keys stand at the start of a line; JSON and flow style
# may put them anywhere.
_SPEC_KEYS = r"(?:netspec|nodes|extends|blocks)"
_BLOCK_SPEC_KEY = re.compile(rf"^[\"']?{_SPEC_KEYS}[\"']?[ \t]*:", re.MULTILINE)
_FLOW_SPEC_KEY = re.compile(rf"[\"']{_SPEC_KEYS}[\"'][ \t\r\n]*:|[{{,][ \t\r\n]*{_SPEC_KEYS}[ \t]*:")
_SNIFF_BYTES = 1 << 20


def _is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return True  # checking it reports why it cannot be read


def _looks_like_spec(path: Path) -> bool:
    """Whether a file found in a folder is a netspec spec, from its top-level keys (read, never run)."""
    try:
        with open_regular(path) as handle:
            head = handle.read(_SNIFF_BYTES).decode("utf-8", "replace")
    except OSError:
        return True  # checking it reports why it cannot be read
    stripped = head.lstrip("\ufeff \t\r\n")
    if stripped.startswith(("{", "[")):
        try:
            data = json.loads(stripped)
        except (ValueError, RecursionError):  # not strict JSON (or cut short): look for the keys in the text
            return _FLOW_SPEC_KEY.search(head) is not None
        return isinstance(data, dict) and any(key in data for key in ("netspec", "nodes", "extends", "blocks"))
    return _BLOCK_SPEC_KEY.search(head) is not None


def _expand_one(arg: str, links: list[str]) -> Iterator[tuple[_Target, bool]]:
    """The targets an argument names, each with whether it was found by walking a folder; the
    symbolic links the walk does not follow are added to `links`."""
    if any(c in _GLOB_CHARS for c in arg) and not os.path.exists(arg):
        try:
            matches = sorted(_glob(arg, links))
        except GlobError as err:
            raise UsageError(f"`{arg}` is not a glob: it {err}") from None
        if not matches:
            raise UsageError(f"no file matches `{arg}`")
        for match in matches:  # a glob finds files as a folder does: those that are not specs are skipped
            yield from _expand_one(match, links) if os.path.isdir(match) else [(_file_target(match), True)]
    elif os.path.isdir(arg):
        found = sorted(_specs_in(arg, links))
        if not found:
            raise UsageError(f"no .yaml, .yml or .json file in the folder `{arg}`")
        yield from ((_file_target(f), True) for f in found)
    elif os.path.isfile(arg):
        yield _file_target(arg), False
    else:
        yield _located_target(arg), False


def _walk(folder: str) -> Iterator[tuple[str, list[str], list[str], list[str]]]:
    """`os.walk` that never follows a symbolic link out of `folder` or back into it: linked folders
    are not entered (a link to `.` would loop), linked files count only when they stay inside.
    Each step also gives the links it left out, so that a caller can count them."""
    top = os.path.realpath(folder)
    for root, dirs, files in os.walk(folder):
        left_out: list[str] = []
        entered: list[str] = []
        for d in sorted(dirs):
            if d.startswith(".") or d in _SKIPPED_FOLDERS:
                continue
            (left_out if os.path.islink(os.path.join(root, d)) else entered).append(d)
        dirs[:] = entered
        kept = []
        for name in sorted(files):
            path = os.path.join(root, name)
            if os.path.islink(path):
                target = os.path.realpath(path)
                if os.path.commonpath([top, target]) != top:
                    left_out.append(name)
                    continue
            kept.append(name)
        yield root, dirs, kept, left_out


def _specs_in(folder: str, links: list[str]) -> Iterator[str]:
    for root, _, files, left_out in _walk(folder):  # skips .git, .venv, ... and symbolic links out
        yield from (os.path.join(root, f) for f in files if f.endswith(SPEC_SUFFIXES))
        for name in left_out:  # linked folders, and linked files a folder walk would check
            path = os.path.join(root, name)
            if not name.startswith(".") and (name.endswith(SPEC_SUFFIXES) or os.path.isdir(path)):
                links.append(_shown_path(path))


def _shown_path(path: str) -> str:
    return escape_text(os.path.normpath(path), 1000)


def _glob(pattern: str, links: list[str]) -> Iterator[str]:
    """The files and folders `pattern` matches (`*`, `?`, `[...]`, `**` for any number of folders),
    found with `_walk`, so a symbolic link cannot make the search loop or leave the tree; the links
    it matches but does not follow are added to `links`."""
    parts = pattern.replace(os.sep, "/").split("/")
    fixed = next(i for i, part in enumerate(parts) if any(c in _GLOB_CHARS for c in part))
    top = "/".join(parts[:fixed]) or ("/" if pattern.startswith("/") else ".")
    wanted = parts[fixed:]
    for segment in wanted:
        compile_glob(segment)  # a pattern that is not a glob is refused before the walk
    if not os.path.isdir(top):
        return
    for root, dirs, files, left_out in _walk(top):
        relative = os.path.relpath(root, top).replace(os.sep, "/")
        prefix = [] if relative == "." else relative.split("/")
        for name in dirs + files + left_out:
            if name.startswith(".") and not wanted[-1].startswith("."):
                continue  # as the shell: `*` does not match hidden names
            if _segments_match(wanted, [*prefix, name]):
                path = os.path.join(root, name)
                path = path[2:] if top == "." and path.startswith("./") else path
                if name in left_out:
                    links.append(_shown_path(path))
                else:
                    yield path


def _segments_match(pattern: list[str], parts: list[str]) -> bool:
    """Whether path `parts` match glob `pattern` segment by segment, `**` standing for any number of
    segments: dynamic programming over the segments, each matched in linear time (`_glob`)."""
    reach = [True] + [False] * len(parts)  # reach[j]: the pattern so far matches parts[:j]
    for segment in pattern:
        if segment == "**":
            for j in range(1, len(parts) + 1):
                reach[j] = reach[j] or reach[j - 1]
        else:
            reach = [False] + [
                reach[j - 1] and compile_glob(segment).match(parts[j - 1]) for j in range(1, len(parts) + 1)
            ]
    return reach[-1]


_SKIPPED_FOLDERS = frozenset({"node_modules", "__pycache__", "venv", "site-packages"})


def _file_target(path: str) -> _Target:
    return _Target(_shown_path(path), Path(path))


def _located_target(arg: str) -> _Target:
    """One spec named on the command line: a file or a bundled name, decided as everywhere else."""
    try:
        located = locate(arg)
    except SpecError as err:
        problem = err.diagnostics[0]
        raise UsageError(problem.message + (f"; {problem.hint}" if problem.hint else "")) from None
    return _Target(arg, arg) if located.kind == "bundled" else _file_target(arg)


def _single_spec(arg: str) -> Path | str:
    if os.path.isdir(arg):
        raise UsageError(f"`{arg}` is a folder; give one spec file or bundled name")
    return _located_target(arg).source


def _read_spec(source: Path | str, limits: Limits | None = None) -> Spec:
    """The validated spec model, without expanding its graph (that happens once, with the parameters)."""
    document, path = read_source(source, limits=limits)
    return spec_from_document(document, path, limits=limits)


# --- validate -----------------------------------------------------------------------------------


@dataclasses.dataclass
class _Result:
    target: _Target
    diagnostics: list[Diagnostic]
    sources: SourceMap | None

    @property
    def errors(self) -> int:
        return sum(d.is_error for d in self.diagnostics)

    @property
    def warnings(self) -> int:
        return len(self.diagnostics) - self.errors


def _check(target: _Target, params: dict[str, Any], shapes: dict[str, tuple[int, ...]], limits: Limits) -> _Result:
    from ._api import validate

    try:
        with request(limits.max_work):  # reading and checking one spec is one request
            spec = _read_spec(target.source, limits)
            found = validate(spec, params=params, inputs=shapes or None)
        sources: SourceMap | None = spec.source
    except SpecError as err:
        found, sources = err.diagnostics, err.sources
    except Exception as err:  # noqa: BLE001 - a bug, not the spec's fault: still one report per file, no traceback
        found = [
            Diagnostic(
                f"internal error while checking: {type(err).__name__}: {err}",
                hint="please report this together with the spec",
                code="NS000",
            )
        ]
        sources = None
    placed = [d if d.file is not None else dataclasses.replace(d, file=target.display) for d in found]
    return _Result(target, placed, sources)


def _strict(result: _Result) -> _Result:
    promoted = [d if d.is_error else dataclasses.replace(d, severity="error") for d in result.diagnostics]
    return dataclasses.replace(result, diagnostics=promoted)


def _configured_paths() -> tuple[list[str], SpecError | None]:
    """With no PATH: the `include` globs of the configuration of the working folder's project, or
    with no `include` its whole root (every .yaml, .yml and .json, as a folder is searched)."""
    try:
        config = find_config(Path.cwd())
    except SpecError as err:
        return [], err
    if config is None:
        raise UsageError(
            "validate: give a PATH (a spec, folder or glob), or run it in a project (a `[tool.netspec]` table in "
            "pyproject.toml, or a netspec.toml) to check its specs"
        )
    base = os.path.relpath(config.root)
    if not config.include:
        return [base], None
    return [g if base == "." else os.path.join(base, g) for g in config.include], None


def _run_validate(args: argparse.Namespace) -> int:
    paths, config_error = (args.paths, None) if args.paths else _configured_paths()
    found = _expand_paths(paths, specs_only=args.specs_only)
    if config_error is not None:
        found.config_errors.append((config_error.diagnostics[0].file or "", config_error))
    params, shapes = dict(args.params), dict(args.input_shapes)
    results = [
        _Result(_Target(escape_text(file, 1000), Path(file)), list(err.diagnostics), err.sources)
        for file, err in found.config_errors
    ]
    for target in found.targets:
        result = _check(target, params, shapes, _limits(target.limits, args))
        if target.limits:
            named = _configured_limit_hints(result.diagnostics, target.limits, args)
            result = dataclasses.replace(result, diagnostics=named)
        results.append(_strict(result) if args.strict or target.strict else result)
    writer = {"text": _write_text, "json": _write_json, "github": _write_github}[args.format]
    args.found = found
    args.verdict = EXIT_INVALID if any(r.errors for r in results) else EXIT_OK  # kept if the output's reader goes
    writer(results, args, sys.stdout)
    return int(args.verdict)


def _shown(result: _Result, quiet: bool) -> list[Diagnostic]:
    return [d for d in result.diagnostics if d.is_error or not quiet]


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _count_line(results: list[_Result], found: _Found | None = None) -> str:
    errors, warnings = sum(r.errors for r in results), sum(r.warnings for r in results)
    line = f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')} in {_plural(len(results), 'file')}"
    if found is not None and found.skipped:
        reasons = []
        if found.not_specs:
            reasons.append(f"{len(found.not_specs)} not {'a spec' if len(found.not_specs) == 1 else 'specs'}")
        if found.excluded:
            reasons.append(f"{len(found.excluded)} excluded by the project configuration")
        if found.not_regular:
            many = len(found.not_regular) > 1
            reasons.append(f"{len(found.not_regular)} not {'regular files' if many else 'a regular file'}")
        if found.links:
            reasons.append(f"{_plural(len(found.links), 'symbolic link')} not followed")
        line += f" (skipped {found.skipped}: {', '.join(reasons)})"
    return line


def _use_color(choice: str, stream: TextIO) -> bool:
    if choice != "auto":
        return choice == "always"
    return "NO_COLOR" not in os.environ and hasattr(stream, "isatty") and stream.isatty()


def _write_text(results: list[_Result], args: argparse.Namespace, out: TextIO) -> None:
    color = _use_color(args.color, out)
    for result in results:
        out.writelines(render_diagnostic(d, result.sources, color=color) + "\n\n" for d in _shown(result, args.quiet))
    if not args.quiet:
        out.write(_count_line(results, getattr(args, "found", None)) + "\n")


def _write_json(results: list[_Result], args: argparse.Namespace, out: TextIO) -> None:
    document = {
        "files": [
            {
                "file": r.target.display,
                "valid": not r.errors,
                "diagnostics": [d.to_dict() for d in _shown(r, args.quiet)],
            }
            for r in results
        ],
        "skipped": {
            "not_specs": list(getattr(args, "found", _Found()).not_specs),
            "excluded": list(getattr(args, "found", _Found()).excluded),
            "not_regular": list(getattr(args, "found", _Found()).not_regular),
            "links": list(getattr(args, "found", _Found()).links),
        },
        "counts": {
            "files": len(results),
            "invalid_files": sum(bool(r.errors) for r in results),
            "errors": sum(r.errors for r in results),
            "warnings": sum(r.warnings for r in results),
        },
    }
    json.dump(document, out, indent=2)
    out.write("\n")


def _escape_data(text: str) -> str:
    """Workflow-command escaping of a message, after control characters are made visible."""
    return escape_text(text, 1000).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotation(diag: Diagnostic) -> str:
    """One `::error ...::message` workflow command; spec text can never end the line or start another."""
    properties = [
        ("file", diag.file),
        ("line", diag.line),
        ("col", diag.column),
        ("endLine", diag.end_line),
        ("endColumn", diag.end_column),
        ("title", diag.code),
    ]
    shown = ",".join(f"{key}={_escape_property(str(value))}" for key, value in properties if value is not None)
    message = _escape_data(diag.message)
    if diag.path:
        message += " (at " + _escape_data(f"`{diag.path}`") + ")"
    if diag.hint:
        message += "%0Ahelp: " + _escape_data(diag.hint)
    return f"::{diag.severity} {shown}::{message}"


def _write_github(results: list[_Result], args: argparse.Namespace, out: TextIO) -> None:
    for result in results:
        out.writelines(github_annotation(d) + "\n" for d in _shown(result, args.quiet))
    if not args.quiet:
        out.write("netspec: " + _count_line(results, getattr(args, "found", None)) + "\n")


# --- summary, graph, schema, list, export -------------------------------------------------------


def _report_spec_error(err: SpecError) -> int:
    print(err.render(), file=sys.stderr)
    return EXIT_INVALID


_SpecAction = Callable[[Spec, dict[str, Any], "dict[str, tuple[int, ...]] | None", argparse.Namespace], int]


def _with_spec(action: _SpecAction) -> Callable[[argparse.Namespace], int]:
    """Resolve SPEC, read it, and turn the spec's own errors into diagnostics on stderr (exit 1)."""

    def run(args: argparse.Namespace) -> int:
        source = _single_spec(args.spec)
        config = None
        try:
            config = find_config(source.parent) if isinstance(source, Path) else None
            limits = _limits(config.limits if config is not None else (), args)
            with request(limits.max_work):  # reading the spec and the command's work are one request
                spec = _read_spec(source, limits)
                return action(spec, dict(args.params), dict(args.input_shapes) or None, args)
        except SpecError as err:
            if config is not None and config.limits:
                err = SpecError(_configured_limit_hints(err.diagnostics, config.limits, args), err.sources)
            return _report_spec_error(err)

    return run


def _write_output(data: str | bytes, output: str | None) -> None:
    if output is None or output == "-":
        if isinstance(data, bytes):
            if sys.stdout.isatty():
                raise UsageError("refusing to write binary output to a terminal: give `-o FILE`")
            sys.stdout.flush()
            sys.stdout.buffer.write(data)
        else:
            sys.stdout.write(data if data.endswith("\n") else data + "\n")
        return
    try:
        if isinstance(data, bytes):
            Path(output).write_bytes(data)
        else:
            Path(output).write_text(data if data.endswith("\n") else data + "\n", encoding="utf-8")
    except OSError as err:
        raise UsageError(f"cannot write `{output}`: {err.strerror or err}") from None


def _summary(
    spec: Spec, params: dict[str, Any], shapes: dict[str, tuple[int, ...]] | None, args: argparse.Namespace
) -> int:
    from ._summary import summarize

    table = summarize(spec, params=params, inputs=shapes, depth=args.depth)
    for warning in table.warnings:  # the same warnings `validate` gives, on stderr
        print(render_diagnostic(warning, spec.source), file=sys.stderr)
    _write_output(json.dumps(table.to_dict(), indent=2) if args.format == "json" else table.render(), None)
    return EXIT_OK


def _graph(
    spec: Spec, params: dict[str, Any], shapes: dict[str, tuple[int, ...]] | None, args: argparse.Namespace
) -> int:
    from . import _draw
    from ._api import check_memory_budget, prepare

    info = prepare(spec, params, shapes)
    check_memory_budget(info)  # `--max-params` bounds every command that reads a spec, as `build`
    if args.format == "mermaid":
        data: str | bytes = _draw.render_mermaid(info, depth=args.depth)
    elif args.format == "dot":
        data = _draw.render_dot(info, depth=args.depth)
    else:
        try:
            data = _draw.render_image(info, args.format, depth=args.depth)
        except RuntimeError as err:
            raise UsageError(str(err)) from None
    _write_output(data, args.output)
    return EXIT_OK


def _export(
    spec: Spec, params: dict[str, Any], shapes: dict[str, tuple[int, ...]] | None, args: argparse.Namespace
) -> int:
    from ._api import require_torch

    try:
        require_torch("export")
    except ModuleNotFoundError as err:
        raise UsageError(str(err)) from None
    from ._export import (
        ExportError,
        MissingDependencyError,
        export_onnx,
        export_pt2,
        export_python,
        export_torchscript,
    )

    if args.weights and args.to == "python":
        raise UsageError("`--weights` does not apply to `--to python` (a source file): load them into the module")
    if args.static and args.to not in ("onnx", "pt2"):
        raise UsageError("`--static` applies to `--to onnx` and `--to pt2` only")
    try:
        if args.to == "python":
            _write_output(export_python(spec, params=params, inputs=shapes), args.output)
        elif args.to == "torchscript":
            print("netspec: note: TorchScript is deprecated in torch; `--to pt2` is its successor", file=sys.stderr)
            export_torchscript(spec, args.output, params=params, inputs=shapes, weights=args.weights)
        elif args.to == "pt2":
            export_pt2(spec, args.output, params=params, inputs=shapes, weights=args.weights, dynamic=not args.static)
        else:
            export_onnx(spec, args.output, params=params, inputs=shapes, weights=args.weights, dynamic=not args.static)
    except MissingDependencyError as err:
        raise UsageError(str(err)) from None
    except ExportError as err:
        print(f"netspec: cannot export: {escape_text(str(err), 500)}", file=sys.stderr)
        return EXIT_INVALID
    except OSError as err:
        raise UsageError(f"cannot write `{args.output}`: {err.strerror or err}") from None
    return EXIT_OK


_run_summary = _with_spec(_summary)
_run_graph = _with_spec(_graph)
_run_export = _with_spec(_export)


def _run_import(args: argparse.Namespace) -> int:
    """Import the user's own factory (named on the user's own command line; a spec never names Python)."""
    import importlib

    from ._import import ModuleImportError, from_module

    module_name, sep, attribute = args.factory.partition(":")
    if not sep or not module_name or not attribute:
        raise UsageError(
            f"expected PACKAGE.MODULE:FACTORY (e.g. `torchvision.models:resnet18`), got {args.factory!r:.80}"
        )
    sys.path.insert(0, os.getcwd())  # the user's own modules, as `python -m` would find them
    try:
        factory: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            factory = getattr(factory, part)
    except (ImportError, AttributeError) as err:
        raise UsageError(f"cannot find `{args.factory}`: {err}") from None
    finally:
        sys.path.pop(0)
    params = dict(args.params)
    try:
        model = factory(**params)
    except Exception as err:  # noqa: BLE001 - the user's factory failed: say so in one line
        raise UsageError(f"`{args.factory}` failed: {type(err).__name__}: {err}") from None
    name = args.name or attribute.rsplit(".", 1)[-1].replace("_", "-").lower()
    try:
        text = from_module(model, inputs=dict(args.input_shapes), name=name, params=params)
    except ModuleImportError as err:
        print(f"netspec: cannot import `{args.factory}`:", file=sys.stderr)
        for problem in err.problems:
            print(f"  {escape_text(problem, 2000)}", file=sys.stderr)
        return EXIT_INVALID
    _write_output(text, args.output)
    if args.weights:
        from ._weights import save_weights

        save_weights(model, args.weights)
    return EXIT_OK


def _run_schema(args: argparse.Namespace) -> int:
    from ._schema import json_schema

    _write_output(json.dumps(json_schema(), indent=2), args.output)
    return EXIT_OK


def _run_list(args: argparse.Namespace) -> int:
    rows = []
    for name in list_specs():
        try:
            description = _read_spec(name).description
        except SpecError:
            description = "(invalid: run `netspec validate " + name + "`)"
        rows.append((name, escape_text(" ".join(description.split()), 160)))
    width = max((len(name) for name, _ in rows), default=0)
    for name, description in rows:
        sys.stdout.write(f"{name.ljust(width)}  {description}".rstrip() + "\n")
    return EXIT_OK
