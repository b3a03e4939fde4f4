"""Diagnostics and the `SpecError` family: everything a user wrote wrong, with its place."""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import difflib
import heapq
from collections.abc import Iterable, Iterator, Sequence
from typing import Literal

__all__ = [
    "Diagnostic",
    "Severity",
    "SourceMap",
    "Span",
    "SpecError",
    "did_you_mean",
    "escape_text",
    "format_path",
    "in_source_order",
]

Severity = Literal["error", "warning"]
PathPart = str | int
Path = tuple[PathPart, ...]


@dataclasses.dataclass(frozen=True)
class Span:
    """A region of source text; lines and columns are 1-based, the end is exclusive."""

    file: str | None
    line: int
    column: int
    end_line: int
    end_column: int


@dataclasses.dataclass(frozen=True)
class Diagnostic:
    """One problem found in a spec.

    `path` is the place inside the spec in dotted form (`nodes.layer1.stride`),
    `code` a stable identifier documented in `docs/errors.md`.
    """

    message: str
    path: str = ""
    file: str | None = None
    line: int | None = None
    column: int | None = None
    end_line: int | None = None
    end_column: int | None = None
    hint: str | None = None
    severity: Severity = "error"
    code: str = "NS000"

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)

    def located(self, span: Span | None) -> Diagnostic:
        """The same diagnostic placed at `span` (unchanged when `span` is None)."""
        if span is None:
            return self
        return dataclasses.replace(
            self,
            file=span.file,
            line=span.line,
            column=span.column,
            end_line=span.end_line,
            end_column=span.end_column,
        )


def format_path(path: Iterable[PathPart]) -> str:
    """`("nodes", "layer1", "stride")` -> `"nodes.layer1.stride"`; list indexes as `[0]`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


MAX_HINT_CANDIDATES = 1000  # choices compared with difflib for one hint
MAX_HINT_NAME = 200  # longer names get no did-you-mean (comparing them costs their length squared)
HINT_BUDGET = 200_000  # comparisons all the hints of one `hint_budget()` block may make
_hint_budget: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("hint_budget", default=None)


@contextlib.contextmanager
def hint_budget(comparisons: int = HINT_BUDGET) -> Iterator[list[int]]:
    """Share `comparisons` among the did-you-mean hints made inside: past it, hints stop guessing
    (they may still list choices), so a spec with thousands of unknown names in a large scope costs
    a bounded amount of work before its errors are reported."""
    left = [comparisons]
    token = _hint_budget.set(left)
    try:
        yield left  # what is left of it, as the block goes on
    finally:
        _hint_budget.reset(token)


def did_you_mean(name: str, choices: Iterable[str], *, listing: int = 0) -> str | None:
    """A hint naming the closest valid choice, or listing up to `listing` valid choices.

    Linear in the number of choices, whatever it is: only choices whose length allows a match
    (difflib's ratio is at most 2*min/(a+b)) are compared, the `MAX_HINT_CANDIDATES` closest in
    length at most, so thousands of unknown names in a large scope cost thousands of short hints."""
    budget = _hint_budget.get()
    if budget is not None and budget[0] <= 0:
        return None  # the block's hints have had their share: no guess, no listing
    unique = set(choices)
    size = len(name)
    close: list[str] = []
    if budget is not None:
        budget[0] -= len(unique) + 1
    if size <= MAX_HINT_NAME:
        near = [c for c in unique if 10 * min(len(c), size) >= 3 * (len(c) + size)]
        if len(near) > MAX_HINT_CANDIDATES:
            near = heapq.nsmallest(MAX_HINT_CANDIDATES, near, key=lambda c: (abs(len(c) - size), c))
        if budget is not None:
            budget[0] -= 4 * len(near)
        close = difflib.get_close_matches(name, sorted(near), n=1, cutoff=0.6)
    if not close:
        lowered = name.lower()
        close = sorted(c for c in unique if len(c) == size and c.lower() == lowered)[:1]
    if not close and 2 <= size <= MAX_HINT_NAME:  # one letter off: short names that difflib's ratio misses (`fx`)
        close = sorted(c for c in unique if len(c) == size and sum(a != b for a, b in zip(c, name)) == 1)[:1]
    if close:
        return f"did you mean `{close[0]}`?"
    if listing and unique:
        shown = ", ".join(f"`{c}`" for c in heapq.nsmallest(listing, unique))
        more = f" and {len(unique) - listing} more" if len(unique) > listing else ""
        return f"valid choices: {shown}{more}"
    return None


_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape_text(text: str, limit: int = 200) -> str:
    """Make spec text safe to echo to a terminal or a CI log: no control or ANSI characters."""
    out = []
    for ch in text[:limit]:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif (
            ord(ch) < 0x20
            or 0x7F <= ord(ch) < 0xA0
            or ch in "\u2028\u2029\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
            or 0xD800 <= ord(ch) < 0xE000  # a lone surrogate: a file name's undecodable byte (os.fsdecode)
        ):
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    if len(text) > limit:
        out.append("...")
    return "".join(out)


class SourceMap:
    """Where each part of a spec came from: spans by spec path, and the text of each file."""

    def __init__(self) -> None:
        self.values: dict[Path, Span] = {}
        self.keys: dict[Path, Span] = {}
        self.texts: dict[str | None, str] = {}
        self._lines: dict[str | None, tuple[str, list[str]]] = {}  # split texts, for rendering many diagnostics

    def span(self, path: Sequence[PathPart], *, key: bool = False) -> Span | None:
        """The span of the value at `path` (or of its key), else of the nearest enclosing part.

        A position in a list may be written `2` or `"2"` (a list of nodes is keyed by its positions
        as strings): the spelling known to more depth is used."""
        path = tuple(path)
        if any(isinstance(p, str) and p.isascii() and p.isdigit() for p in path):
            numeric = tuple(int(p) if isinstance(p, str) and p.isascii() and p.isdigit() else p for p in path)
            if self._depth(numeric) > self._depth(path):
                path = numeric
        if key and path in self.keys:
            return self.keys[path]
        while True:
            if path in self.values:
                return self.values[path]
            if not path:
                return None
            path = path[:-1]

    def _depth(self, path: tuple[PathPart, ...]) -> int:
        """How many leading parts of `path` the map knows a value at."""
        for depth in range(len(path), 0, -1):
            if path[:depth] in self.values:
                return depth
        return 0

    def merge(self, other: SourceMap, prefix: Path = ()) -> None:
        """Add `other`'s spans (under `prefix`) without replacing spans already present."""
        for table, source in ((self.values, other.values), (self.keys, other.keys)):
            for path, span in source.items():
                table.setdefault(prefix + path, span)
        for file, text in other.texts.items():
            self.texts.setdefault(file, text)

    def line_text(self, file: str | None, line: int) -> str | None:
        text = self.texts.get(file)
        if text is None:
            return None
        cached = self._lines.get(file)
        if cached is None or cached[0] is not text:
            cached = self._lines[file] = (text, text.splitlines())
        lines = cached[1]
        return lines[line - 1] if 0 < line <= len(lines) else None


MAX_RENDERED = 200  # diagnostics `str(SpecError)` shows; a hostile spec can produce thousands


def in_source_order(diagnostics: Sequence[Diagnostic]) -> list[Diagnostic]:
    """`diagnostics` by file (in the order the files first appear), line and column; the ones
    without a place stay first in their file; equal places keep their order (a stable sort)."""
    files: dict[str | None, int] = {}
    for diag in diagnostics:
        files.setdefault(diag.file, len(files))
    return sorted(diagnostics, key=lambda d: (files[d.file], d.line or 0, d.column or 0))


class SpecError(Exception):
    """A spec is wrong; `.diagnostics` lists every problem found, errors and warnings, in source order
    (by file, line and column)."""

    def __init__(self, diagnostics: Sequence[Diagnostic], sources: SourceMap | None = None) -> None:
        self.diagnostics: list[Diagnostic] = in_source_order(diagnostics)
        self.sources = sources
        super().__init__(self.render())

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if not d.is_error]

    def render(self, *, color: bool = False) -> str:
        shown = [render_diagnostic(d, self.sources, color=color) for d in self.diagnostics[:MAX_RENDERED]]
        if len(self.diagnostics) > MAX_RENDERED:
            shown.append(f"... and {len(self.diagnostics) - MAX_RENDERED:,} more (all are in `.diagnostics`)")
        return "\n".join(shown)

    def __str__(self) -> str:
        return self.render()

    # Keep the diagnostics through pickling (multiprocessing, pytest-xdist).
    def __reduce__(self) -> tuple[type[SpecError], tuple[list[Diagnostic], SourceMap | None]]:
        return (type(self), (self.diagnostics, self.sources))


_SHOWN_LINE = 300  # characters of a source line shown under a diagnostic
_LEAD = 40  # of them, before the column, when the column is past the first 260


def render_diagnostic(diag: Diagnostic, sources: SourceMap | None = None, *, color: bool = False) -> str:
    """Render as a compiler does: `file:line:col: error[NS101]: message`, the source line, a caret, the hint."""
    bold, red, yellow, blue, reset = ("\x1b[1m", "\x1b[31m", "\x1b[33m", "\x1b[34m", "\x1b[0m") if color else ("",) * 5
    where = escape_text(diag.file, 1000) if diag.file else "<spec>"  # a file name is text of the user's too
    if diag.line is not None:
        where += f":{diag.line}:{diag.column or 1}"
    tint = red if diag.is_error else yellow
    head = f"{bold}{where}: {tint}{diag.severity}[{diag.code}]{reset}{bold}: {escape_text(diag.message, 500)}{reset}"
    lines = [head]
    if diag.path:
        lines.append(f"  {blue}-->{reset} at `{escape_text(diag.path)}`")
    source = sources.line_text(diag.file, diag.line) if sources and diag.line else None
    if source is not None:
        start = max((diag.column or 1) - 1, 0)
        # A column far into a long line: show the part of the line around it (the caret line would
        # otherwise be as long as the column, for every diagnostic on that line).
        offset = start - _LEAD if start > _SHOWN_LINE - _LEAD else 0
        shown = ("..." if offset else "") + escape_text(source[offset : offset + 1000].expandtabs(1), _SHOWN_LINE)
        start += 3 - offset if offset else 0
        gutter = str(diag.line)
        width = 1
        if diag.end_line == diag.line and diag.end_column and diag.end_column > (diag.column or 1):
            width = diag.end_column - (diag.column or 1)
        width = max(1, min(width, max(len(shown) - start, 1)))
        lines.append(f"{blue}{' ' * len(gutter)} |{reset}")
        lines.append(f"{blue}{gutter} |{reset} {shown}")
        lines.append(f"{blue}{' ' * len(gutter)} |{reset} {' ' * start}{tint}{'^' * width}{reset}")
    if diag.hint:
        lines.append(f"  {bold}help{reset}: {escape_text(diag.hint, 500)}")
    return "\n".join(lines)
