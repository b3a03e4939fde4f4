"""Safe loading of spec text: YAML or JSON to plain Python data with the source span of every value.

Nothing is constructed by PyYAML: the text is read as an event stream and composed here, iteratively,
with every limit (size, depth, node count, aliases) checked on the events before anything large is built.
The scalar rules follow the YAML 1.2 core schema, strictly: `no` stays a string, `010` is an error,
non-finite numbers are errors. JSON is read by the same composer (JSON is YAML flow syntax).
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import json
import math
import os
import re
import stat
from collections.abc import Callable, Generator, Iterable, Iterator
from typing import Any, BinaryIO, NoReturn, Protocol, cast

import yaml

from ._errors import Diagnostic, SourceMap, Span, SpecError, escape_text, format_path
from ._limits import DEFAULT_LIMITS, Limits
from ._work import PARSE_BYTES_PER_UNIT, PARSE_UNITS_PER_VALUE, charge, per_unit

__all__ = [
    "DEFAULT_LIMITS",
    "LOAD_CODES",
    "Document",
    "Limits",
    "collector_paused",
    "file_kind",
    "open_regular",
    "parse_text",
    "read_file",
]

Path = tuple[str | int, ...]

# The stable code of each load problem, with a one-line meaning (docs/errors.md is generated from it).
LOAD_CODES: dict[str, str] = {
    "NS001": "the spec is empty: no value, only whitespace or comments",
    "NS002": "the spec is larger than the byte limit",
    "NS003": "the spec is not valid UTF-8 (or holds an unpaired surrogate)",
    "NS004": "the spec holds a character YAML does not allow (control characters, NUL)",
    "NS005": "YAML or JSON syntax error",
    "NS006": "the file holds more than one YAML document",
    "NS007": "a YAML tag (`!!python/...`, `!custom`, `!!str`) is not allowed",
    "NS008": "merge keys (`<<`) are not supported",
    "NS009": "a key appears twice in one mapping",
    "NS010": "a mapping key is a mapping or a list, not a plain value",
    "NS011": "a mapping key is empty",
    "NS012": "an integer with a leading zero is ambiguous (decimal or octal)",
    "NS013": "a number is not finite (`.inf`, `.nan`, `NaN`, or too large for a float)",
    "NS014": "an integer has more digits than the limit",
    "NS015": "a string is longer than the limit",
    "NS016": "mappings and lists are nested deeper than the limit",
    "NS017": "the spec has more values than the limit (aliases count as full copies)",
    "NS018": "the spec uses more aliases (`*name`) than the limit",
    "NS019": "an alias (`*name`) names no anchor (`&name`) defined before it",
    "NS020": "the spec file cannot be read",
    "NS021": "a `.json` spec is not strict JSON (a trailing comma, a comment, single quotes, a bare word)",
}


@dataclasses.dataclass(frozen=True)
class Document:
    """A loaded spec: plain data, where each part of it came from, and the file name."""

    data: Any
    sources: SourceMap
    file: str | None


# The event parser: libyaml when PyYAML was built with it, else the pure-Python one.
_EVENT_LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_UTF8_BOM = b"\xef\xbb\xbf"
_LINE_BREAK = re.compile(r"\r\n|[\r\n\x85\u2028\u2029]")
_NOT_ALLOWED = re.compile(r"[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_JSON_START = re.compile(r"[ \t\r\n]*[\[{]")
# Quoted strings on one line; an unterminated one ends at the line's end, which keeps a scan linear.
_QUOTED = re.compile(r"\"(?:[^\"\\\n]|\\.)*\"?|'(?:[^'\n]|'')*'?")
_QUOTED_OR_TAB = re.compile(_QUOTED.pattern + r"|\t")
_ESCAPED_PAIR = re.compile(r"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}")
_ESCAPE = re.compile(r"\\(?:u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})|.)")

_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_DECIMAL = re.compile(r"[-+]?[0-9]+")
_PREFIXED = re.compile(r"([-+]?)0(?:x([0-9a-fA-F]+)|o([0-7]+))")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_NON_FINITE = re.compile(r"[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)")
_JSON_NON_FINITE = frozenset({"NaN", "-NaN", "Infinity", "-Infinity", "+Infinity"})
_YAML_TAG_PREFIX = "tag:yaml.org,2002:"


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many small objects that all stay alive.

    It would otherwise scan them again and again, which makes large specs superlinear.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def parse_text(
    text: str | bytes, *, file: str | None = None, limits: Limits = DEFAULT_LIMITS, strict_json: bool = False
) -> Document:
    """Load a YAML or JSON spec from `text` (bytes must be UTF-8).

    With `strict_json` (files named `.json`), the text must be JSON as RFC 8259 defines it: a
    trailing comma, a comment or a single-quoted string is an error at its place, not YAML.
    Every failure is a `SpecError` whose diagnostics carry a line and column in `file`.
    """
    sources = SourceMap()
    decoded = _decode(text, file, limits, sources)
    sources.texts[file] = decoded
    charge("parse", per_unit(len(decoded), PARSE_BYTES_PER_UNIT), where=lambda: (sources, Span(file, 1, 1, 1, 2), ""))
    _check_characters(decoded, file, sources)
    json_problem = _check_strict_json(decoded, file, sources) if strict_json else None
    loader = _EVENT_LOADER
    prepared, end_fixes = _prepare_for_parser(decoded)
    composer = _Composer(
        file=file, limits=limits, json_like=_looks_like_json(decoded), end_fixes=end_fixes, sources=sources
    )
    data = None
    # `yaml.parse` is a generator function: closing it disposes of the loader.
    events = cast(Generator[yaml.Event, None, None], yaml.parse(prepared, Loader=loader))
    try:
        with collector_paused():
            data = composer.compose(events)
    except _Fatal:
        pass
    except yaml.MarkedYAMLError as error:
        composer.problems.append(_syntax_diagnostic(error, prepared, file, limits))
    except yaml.reader.ReaderError as error:
        composer.problems.append(_reader_diagnostic(error, prepared, file, loader))
    except (yaml.YAMLError, ValueError, UnicodeError, OverflowError, RecursionError) as error:
        composer.problems.append(_unexpected_diagnostic(error, composer.position, file))
    finally:
        events.close()
    if json_problem is not None and not composer.problems:
        composer.problems.append(json_problem)
    if composer.problems:
        raise SpecError(composer.problems, sources)
    composer.fill_sources(sources)
    return Document(data=data, sources=sources, file=file)


def read_file(
    path: str | os.PathLike[str], *, limits: Limits = DEFAULT_LIMITS, display_name: str | None = None
) -> Document:
    """Load the spec file at `path`; diagnostics name it `display_name` (default: the path itself).

    A file larger than `limits.max_bytes` is refused before it is read.
    """
    # A file name is the user's text too: escaped like spec text, the same in every report.
    name = escape_text(display_name if display_name is not None else os.fsdecode(path), 1000)
    try:
        with open_regular(path) as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > limits.max_bytes:
                raise SpecError([_too_large(size, name, limits)])
            raw = handle.read(limits.max_bytes + 1)
    except OSError as error:
        reason = error.strerror or str(error)
        raise SpecError(
            [
                Diagnostic(
                    message=f"cannot read `{name}`: {reason}",
                    file=name,
                    hint="a spec is a regular file: give its path"
                    if error.errno == 0
                    else "check the path and the file's permissions",
                    code="NS020",
                )
            ]
        ) from None
    return parse_text(raw, file=name, limits=limits, strict_json=os.fsdecode(path).lower().endswith(".json"))


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """`path` opened for reading in binary, if it is a regular file (symbolic links followed); an
    `OSError` whose `strerror` says what it is otherwise. It is opened without blocking, so a named
    pipe is refused at once instead of waiting for a writer forever."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise OSError(0, f"not a regular file ({file_kind(mode)})")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def file_kind(mode: int) -> str:
    """What a file of `mode` is, in words, for a message about a file that is not a regular one."""
    kinds = [(stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe"), (stat.S_ISSOCK, "a socket")]
    kinds += [(stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")]
    return next((name for test, name in kinds if test(mode)), "not a file of data")


# ---------------------------------------------------------------- strict JSON


def _check_strict_json(text: str, file: str | None, sources: SourceMap) -> Diagnostic | None:
    """Refuse what JSON does not allow but the YAML composer would accept, at its place.

    Python's JSON parser finds the first such place. What only YAML allows (a trailing comma, a
    comment, quotes, bare words) is raised at once; any other JSON syntax error is returned, to be
    raised if the composer (whose messages say more) finds nothing. Values Python's parser accepts
    and JSON does not (`NaN`, `Infinity`) are left to the composer, which reports them as non-finite.
    """
    try:
        json.loads(text, parse_constant=lambda name: None)
    except json.JSONDecodeError as error:
        index, message, hint, code = _json_problem(text, error)
        line, column = _position_of_index(text, index)
        diagnostic = Diagnostic(
            message=message,
            file=file,
            line=line,
            column=column,
            end_line=line,
            end_column=column + 1,
            hint=hint,
            code=code,
        )
        if code == "NS021":
            raise SpecError([diagnostic], sources) from None
        return diagnostic
    except RecursionError:
        return None  # nested deeper than Python's parser goes: the composer reports the depth
    return None


def _json_problem(text: str, error: json.JSONDecodeError) -> tuple[int, str, str, str]:
    """Where the JSON error is, in what words, the fix, and the code: NS021 for what only YAML allows."""
    index = error.pos
    rest = text[index : index + 2]
    before = text[:index].rstrip()
    if before.endswith(",") and rest[:1] in ("}", "]"):
        closing = "object" if rest[:1] == "}" else "list"
        return (
            len(before) - 1,
            f"trailing comma before the end of the {closing}: JSON allows none",
            "delete the comma (or write the spec in YAML, a `.yaml` file, which allows it)",
            "NS021",
        )
    if rest in ("//", "/*") or rest[:1] == "#":
        return (
            index,
            "a comment: JSON has no comments",
            "delete the comment, or put the note in a `doc:` field (or write the spec in YAML, which allows `#` comments)",
            "NS021",
        )
    if rest[:1] == "'":
        return (
            index,
            "a single-quoted string: JSON strings use double quotes",
            "write \"...\" instead of '...'",
            "NS021",
        )
    if error.msg.startswith("Expecting value") and rest[:1].isalpha():
        word = re.match(r"[A-Za-z_][A-Za-z0-9_]*", text[index:])
        shown = word.group() if word else rest[:1]
        return (
            index,
            f"`{shown}` is not a JSON value",
            f'quote strings ("{shown}"); booleans and null are lower-case',
            "NS021",
        )
    if error.msg.startswith("Expecting property name") and rest[:1] not in ('"', "}"):
        return index, "a key without double quotes: JSON keys are strings", 'write the key as "name"', "NS021"
    return index, f"invalid JSON: {error.msg[:1].lower()}{error.msg[1:]}", "fix the syntax at the place shown", "NS005"


# ---------------------------------------------------------------- text before parsing


def _decode(text: str | bytes, file: str | None, limits: Limits, sources: SourceMap) -> str:
    """The text as `str`, without a byte-order mark; refuses oversized or non-UTF-8 input."""
    if isinstance(text, str):
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > limits.max_bytes:
            raise SpecError([_too_large(size, file, limits)])
        decoded = text.removeprefix("\ufeff")
        surrogate = _SURROGATE.search(decoded)
        if surrogate:
            sources.texts[file] = _SURROGATE.sub("\ufffd", decoded)
            line, column = _position_of_index(decoded, surrogate.start())
            raise SpecError(
                [
                    Diagnostic(
                        message=f"the text holds an unpaired surrogate U+{ord(surrogate.group()):04X}, "
                        "which is not valid Unicode",
                        file=file,
                        line=line,
                        column=column,
                        end_line=line,
                        end_column=column + 1,
                        hint="remove the character, or decode the file as UTF-8 before passing it",
                        code="NS003",
                    )
                ],
                sources,
            )
        return decoded
    raw = bytes(text)
    if len(raw) > limits.max_bytes:
        raise SpecError([_too_large(len(raw), file, limits)])
    raw = raw.removeprefix(_UTF8_BOM)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _decode_error(raw, error, file, sources) from None


def _decode_error(raw: bytes, error: UnicodeDecodeError, file: str | None, sources: SourceMap) -> SpecError:
    good = raw[: error.start].decode("utf-8")
    line, column = _position_of_index(good, len(good))
    sources.texts[file] = raw.decode("utf-8", "replace")
    hint = "save the file as UTF-8"
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        hint = "the file looks like UTF-16; save it as UTF-8"
    return SpecError(
        [
            Diagnostic(
                message=f"the spec is not valid UTF-8: byte `0x{raw[error.start]:02x}` cannot be decoded",
                file=file,
                line=line,
                column=column,
                end_line=line,
                end_column=column + 1,
                hint=hint,
                code="NS003",
            )
        ],
        sources,
    )


def _too_large(size: int, file: str | None, limits: Limits) -> Diagnostic:
    return Diagnostic(
        message=f"the spec is {size:,} bytes; the limit is {limits.max_bytes:,} bytes",
        file=file,
        line=1,
        column=1,
        end_line=1,
        end_column=1,
        hint="split the spec into smaller files, or raise `netspec.Limits(max_bytes=...)`",
        code="NS002",
    )


def _check_characters(text: str, file: str | None, sources: SourceMap) -> None:
    """Refuse characters YAML does not allow, with their place (the parser reports only an offset)."""
    bad = _NOT_ALLOWED.search(text)
    if bad is None:
        return
    line, column = _position_of_index(text, bad.start())
    raise SpecError(
        [
            Diagnostic(
                message=f"character U+{ord(bad.group()):04X} is not allowed in a spec",
                file=file,
                line=line,
                column=column,
                end_line=line,
                end_column=column + 1,
                hint="remove it: a spec holds printable characters, tabs and line breaks only"
                + (" (is this a binary file?)" if bad.group() == "\x00" else ""),
                code="NS004",
            )
        ],
        sources,
    )


def _position_of_index(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of `text[index]`, counting line breaks as YAML does."""
    line, line_start = 1, 0
    for found in _LINE_BREAK.finditer(text, 0, index):
        line, line_start = line + 1, found.end()
    return line, index - line_start + 1


def _looks_like_json(text: str) -> bool:
    return _JSON_START.match(text) is not None


def _prepare_for_parser(text: str) -> tuple[str, dict[tuple[int, int], int]]:
    """Rewrite what JSON allows and YAML parsers refuse, keeping every position where it was.

    Returns the text for the parser and, for rewritten strings, the columns their end moved by
    (keyed by the 0-based line and column where the string starts).
    """
    end_fixes: dict[tuple[int, int], int] = {}
    if _ESCAPED_PAIR.search(text):
        text = _join_escaped_surrogates(text, end_fixes)
    if _looks_like_json(text) and "\t" in text:
        # JSON allows tabs anywhere between tokens; YAML parsers refuse some of them.
        text = _QUOTED_OR_TAB.sub(lambda found: " " if found.group() == "\t" else found.group(), text)
    return text, end_fixes


def _join_escaped_surrogates(text: str, end_fixes: dict[tuple[int, int], int]) -> str:
    """`"\\ud83d\\ude00"` (how JSON escapes one emoji) becomes `"\\U0001f600"  `.

    YAML has no surrogate escapes; the two spare columns go after the closing quote so
    that nothing after the string moves.
    """
    lines = _LineCounter(text)

    def rewrite_string(found: re.Match[str]) -> str:
        string = found.group()
        if len(string) < 2 or string[0] != '"' or string[-1] != '"' or not _ESCAPED_PAIR.search(string):
            return string
        joined = _ESCAPE.sub(_join_pair, string)
        shift = len(string) - len(joined)
        end_fixes[lines.position(found.start())] = shift
        return joined + " " * shift

    return _QUOTED.sub(rewrite_string, text)


class _LineCounter:
    """0-based line and column of increasing offsets into one text, in one pass over it."""

    def __init__(self, text: str) -> None:
        self.text, self.offset, self.line, self.line_start = text, 0, 0, 0

    def position(self, offset: int) -> tuple[int, int]:
        for found in _LINE_BREAK.finditer(self.text, self.offset, offset):
            self.line, self.line_start = self.line + 1, found.end()
        self.offset = offset
        return self.line, offset - self.line_start


def _join_pair(found: re.Match[str]) -> str:
    if found.group(1) is None:
        return found.group()
    high, low = int(found.group(1), 16), int(found.group(2), 16)
    return f"\\U{0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00):08x}"


# ---------------------------------------------------------------- scalars


class _ScalarProblem(Exception):
    def __init__(self, code: str, message: str, hint: str) -> None:
        super().__init__(message)
        self.code, self.message, self.hint = code, message, hint


def _resolve_plain(text: str, limits: Limits, *, json_like: bool = False) -> Any:
    """The value of an unquoted scalar (YAML 1.2 core schema, strict); raises `_ScalarProblem`."""
    if text in _NULLS:
        return None
    if text in _BOOLS:
        return _BOOLS[text]
    if _DECIMAL.fullmatch(text):
        return _decimal_int(text, limits)
    prefixed = _PREFIXED.fullmatch(text)
    if prefixed:
        return _prefixed_int(text, prefixed, limits)
    if _FLOAT.fullmatch(text):
        return _finite_float(text)
    if _NON_FINITE.fullmatch(text) or (json_like and text in _JSON_NON_FINITE):
        raise _ScalarProblem(
            "NS013", f"`{text}` is not a finite number", "write a finite number, or quote it to mean a string"
        )
    return text


def _decimal_int(text: str, limits: Limits) -> int:
    digits = text.lstrip("+-")
    _check_digit_count(text, digits, limits)
    if len(digits) > 1 and digits[0] == "0":
        sign = "-" if text.startswith("-") else ""
        plain = sign + (digits.lstrip("0") or "0")
        raise _ScalarProblem(
            "NS012",
            f"`{text}` is ambiguous: a leading zero could mean octal",
            f"write `{plain}`, or `{sign}0o{digits.lstrip('0') or '0'}` for octal, or quote it to mean a string",
        )
    return int(text)


def _prefixed_int(text: str, found: re.Match[str], limits: Limits) -> int:
    sign, hex_digits, octal_digits = found.groups()
    digits = hex_digits or octal_digits
    _check_digit_count(text, digits, limits)
    value = int(digits, 16 if hex_digits else 8)
    return -value if sign == "-" else value


def _check_digit_count(text: str, digits: str, limits: Limits) -> None:
    if len(digits) > limits.max_int_digits:
        raise _ScalarProblem(
            "NS014",
            f"integer `{_shorten(text)}` has {len(digits):,} digits; at most {limits.max_int_digits} are allowed",
            "write a smaller number, or raise the bound: `netspec.Limits(max_int_digits=...)` (`max_int_digits` under "
            "`[tool.netspec]`); quote it only where a string is meant",
        )


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _ScalarProblem(
            "NS013",
            f"`{_shorten(text)}` is not a finite number: it is too large for a float",
            "write a smaller number, or quote it to mean a string",
        )
    return value


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _shown_tag(tag: str) -> str:
    return "!!" + tag[len(_YAML_TAG_PREFIX) :] if tag.startswith(_YAML_TAG_PREFIX) else tag


# ---------------------------------------------------------------- composing


class _Marked(Protocol):
    line: int
    column: int


def _mark(mark: _Marked | None) -> _Marked:
    """An event's start or end mark: the parser gives every event both."""
    assert mark is not None
    return mark


class _Fatal(Exception):
    """Composition stops here; the diagnostic is already recorded."""


@dataclasses.dataclass
class _Open:
    """A mapping or list whose end event has not arrived yet."""

    value: dict[str, Any] | list[Any]
    path: Path
    start: tuple[int, int]
    flow: bool
    anchor: str | None
    span_index: int  # its own entry in `_Composer.value_spans`
    key_index: int  # first entry of its subtree in `_Composer.key_spans`
    alias_index: int  # first entry of its subtree in `_Composer.alias_uses`
    nodes_before: int
    last_end: tuple[int, int] | None = None
    height: int = 0  # nesting levels below it
    expecting_key: bool = True
    key: str = ""
    discard: bool = False  # the pending value belongs to a duplicate key
    key_lines: dict[str, int] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class _Anchor:
    """What an anchor (`&name`) names: the value, its size, and its spans as ranges of the span lists."""

    value: Any
    size: int
    height: int
    prefix_len: int
    values: range
    keys: range
    aliases: range
    text: str | None = None  # the source text when it is a scalar (an alias of it may be a key)
    plain: bool = False
    is_key: bool = False


# Stands for an anchor whose collection is still open: an alias to it would make a cycle.
_IN_PROGRESS = _Anchor(value=None, size=0, height=0, prefix_len=0, values=range(0), keys=range(0), aliases=range(0))


class _Composer:
    """Builds plain data from YAML events with an explicit stack, checking limits as events arrive."""

    def __init__(
        self,
        *,
        file: str | None,
        limits: Limits,
        json_like: bool,
        end_fixes: dict[tuple[int, int], int],
        sources: SourceMap | None = None,
    ) -> None:
        self.file = file
        self.sources = sources
        self.limits = limits
        self.json_like = json_like
        self.end_fixes = end_fixes
        self.problems: list[Diagnostic] = []
        self.stack: list[_Open] = []
        self.anchors: dict[str, _Anchor] = {}
        self.value_spans: list[tuple[Path, Span | None]] = []
        self.key_spans: list[tuple[Path, Span]] = []
        self.alias_uses: list[tuple[Path, _Anchor]] = []
        self.nodes = 0
        self.alias_count = 0
        self.documents = 0
        self.root: Any = None
        self.has_root = False
        self.root_is_blank = False
        self.position = (1, 1)  # of the latest event, for errors that come without a place

    def compose(self, events: Iterable[yaml.Event]) -> Any:
        """Consume the event stream and return the document's data."""
        # Each handler takes the event type it is keyed by.
        handlers: dict[type[yaml.Event], Callable[[Any], None]] = {
            yaml.DocumentStartEvent: self._on_document_start,
            yaml.ScalarEvent: self._on_scalar,
            yaml.AliasEvent: self._on_alias,
            yaml.SequenceStartEvent: self._on_open,
            yaml.MappingStartEvent: self._on_open,
            yaml.SequenceEndEvent: self._on_close,
            yaml.MappingEndEvent: self._on_close,
        }
        for event in events:
            start = _mark(event.start_mark)
            self.position = (start.line + 1, start.column + 1)
            handler = handlers.get(type(event))
            if handler is not None:
                handler(event)
        if not self.has_root or self.root_is_blank:
            self._fail(
                "NS001",
                "the spec is empty",
                Span(self.file, 1, 1, 1, 1),
                (),
                "write the spec as a YAML or JSON mapping",
            )
        if self.alias_uses:
            return _copy_tree(self.root)  # aliases share objects; give each place its own copy
        return self.root

    def fill_sources(self, sources: SourceMap) -> None:
        """Record the span of every value and key, aliased copies included."""
        sources.values.update((path, span) for path, span in self.value_spans if span is not None)
        sources.keys.update(self.key_spans)
        pending = list(reversed(self.alias_uses))
        while pending:
            at, anchor = pending.pop()
            cut = anchor.prefix_len
            for index in anchor.values:
                path, span = self.value_spans[index]
                if len(path) > cut and span is not None:
                    sources.values[at + path[cut:]] = span
            for index in anchor.keys:
                path, span = self.key_spans[index]
                sources.keys[at + path[cut:]] = span
            for index in reversed(anchor.aliases):
                path, inner = self.alias_uses[index]
                pending.append((at + path[cut:], inner))

    # -- events

    def _on_document_start(self, event: yaml.DocumentStartEvent) -> None:
        self.documents += 1
        if self.documents > 1:
            self._fail(
                "NS006",
                "the file holds more than one YAML document",
                self._span(event),
                (),
                "remove this `---` and what follows, or put each spec in its own file",
            )

    def _on_scalar(self, event: yaml.ScalarEvent) -> None:
        span = self._span(event)
        parent = self.stack[-1] if self.stack else None
        plain = not event.style
        if parent is not None and parent.expecting_key:
            self._count(1, span, parent.path)
            self._take_key(parent, event.value, plain, span, event.tag)
            if event.anchor:
                self.anchors[event.anchor] = _Anchor(
                    value=None,
                    size=1,
                    height=0,
                    prefix_len=0,
                    values=range(0),
                    keys=range(0),
                    aliases=range(0),
                    text=event.value,
                    plain=plain,
                    is_key=True,
                )
            return
        path = self._next_path(parent)
        self._count(1, span, path)
        value = self._scalar_value(event.value, plain, event.tag, span, path)
        index = len(self.value_spans)
        self.value_spans.append((path, span))
        if event.anchor:
            self.anchors[event.anchor] = _Anchor(
                value=value,
                size=1,
                height=0,
                prefix_len=len(path),
                values=range(index, index + 1),
                keys=range(0),
                aliases=range(0),
                text=event.value,
                plain=plain,
            )
        if parent is None:
            self.root_is_blank = plain and event.value == "" and event.tag is None and not event.anchor
        self._attach(parent, value, span, 0)

    def _on_alias(self, event: yaml.AliasEvent) -> None:
        span = self._span(event)
        parent = self.stack[-1] if self.stack else None
        path = self._next_path(parent) if parent is None or not parent.expecting_key else parent.path
        self.alias_count += 1
        if self.alias_count > self.limits.max_aliases:
            self._fail(
                "NS018",
                f"the spec uses more than {self.limits.max_aliases:,} aliases",
                span,
                path,
                "write the values out, or raise `netspec.Limits(max_aliases=...)`",
            )
        assert event.anchor is not None  # an alias always names its anchor
        anchor = self._anchor_named(event.anchor, span, path)
        if parent is not None and parent.expecting_key:
            if anchor.text is None:
                self._fail(
                    "NS010",
                    f"a mapping key must be a plain value, but `*{event.anchor}` names a "
                    f"{'mapping' if isinstance(anchor.value, dict) else 'list'}",
                    span,
                    path,
                    "use a string as the key",
                )
            self._count(1, span, path)
            self._take_key(parent, anchor.text, anchor.plain, span, None)
            return
        if len(self.stack) + anchor.height > self.limits.max_depth:
            self._too_deep(span, path)
        self._count(anchor.size, span, path)
        value = anchor.value
        if anchor.is_key:
            value = self._scalar_value(anchor.text or "", anchor.plain, None, span, path)
        self.value_spans.append((path, span))
        self.alias_uses.append((path, anchor))
        self._attach(parent, value, span, anchor.height)

    def _on_open(self, event: yaml.CollectionStartEvent) -> None:
        span = self._span(event)
        parent = self.stack[-1] if self.stack else None
        is_mapping = isinstance(event, yaml.MappingStartEvent)
        if parent is not None and parent.expecting_key:
            self._fail(
                "NS010",
                f"a mapping key must be a plain value, not a {'mapping' if is_mapping else 'list'}",
                span,
                parent.path,
                "use a string as the key",
            )
        path = self._next_path(parent)
        if len(self.stack) + 1 > self.limits.max_depth:
            self._too_deep(span, path)
        self._count(1, span, path)
        if event.tag is not None:
            self._tag_problem(event.tag, span, path)
        if event.anchor:
            self.anchors[event.anchor] = _IN_PROGRESS
        self.stack.append(
            _Open(
                value={} if is_mapping else [],
                path=path,
                start=(span.line, span.column),
                flow=bool(event.flow_style),
                anchor=event.anchor,
                span_index=len(self.value_spans),
                key_index=len(self.key_spans),
                alias_index=len(self.alias_uses),
                nodes_before=self.nodes - 1,
                expecting_key=is_mapping,
            )
        )
        self.value_spans.append((path, None))

    def _on_close(self, event: yaml.CollectionEndEvent) -> None:
        frame = self.stack.pop()
        end_mark = _mark(event.end_mark)
        end = (end_mark.line + 1, end_mark.column + 1)
        if not frame.flow and frame.last_end is not None:
            end = frame.last_end  # a block collection ends with its last entry, not at the next line
        span = Span(self.file, *frame.start, *end)
        self.value_spans[frame.span_index] = (frame.path, span)
        height = frame.height + 1
        if frame.anchor:
            self.anchors[frame.anchor] = _Anchor(
                value=frame.value,
                size=self.nodes - frame.nodes_before,
                height=height,
                prefix_len=len(frame.path),
                values=range(frame.span_index, len(self.value_spans)),
                keys=range(frame.key_index, len(self.key_spans)),
                aliases=range(frame.alias_index, len(self.alias_uses)),
            )
        self._attach(self.stack[-1] if self.stack else None, frame.value, span, height)

    # -- helpers

    def _next_path(self, parent: _Open | None) -> Path:
        if parent is None:
            return ()
        if isinstance(parent.value, list):
            return (*parent.path, len(parent.value))
        return (*parent.path, parent.key)

    def _attach(self, parent: _Open | None, value: Any, span: Span, height: int) -> None:
        if parent is None:
            self.root, self.has_root = value, True
            return
        if isinstance(parent.value, list):
            parent.value.append(value)
        else:
            if not parent.discard:
                parent.value[parent.key] = value
            parent.expecting_key, parent.discard = True, False
        parent.last_end = (span.end_line, span.end_column)
        parent.height = max(parent.height, height)

    def _take_key(self, parent: _Open, text: str, plain: bool, span: Span, tag: str | None) -> None:
        path = (*parent.path, text)
        if tag is not None:
            self._tag_problem(tag, span, path)
        elif plain and text == "<<":
            self._report(
                "NS008", "merge keys (`<<`) are not supported", span, path, "write the fields out, or use a block"
            )
        elif plain and text == "":
            self._report("NS011", "a mapping key is empty", span, path, "write a name before the `:`")
        if len(text) > self.limits.max_scalar_chars:
            self._string_too_long(text, span, path)
        first_line = parent.key_lines.get(text)
        if first_line is not None:
            self._report(
                "NS009",
                f"duplicate key `{_shorten(text)}`",
                span,
                path,
                f"`{_shorten(text)}` is first set on line {first_line}; remove one of them or rename it",
            )
        else:
            parent.key_lines[text] = span.line
            self.key_spans.append((path, span))
        parent.key, parent.discard, parent.expecting_key = text, first_line is not None, False

    def _scalar_value(self, text: str, plain: bool, tag: str | None, span: Span, path: Path) -> Any:
        if tag is not None:
            self._tag_problem(tag, span, path)
            return text
        if len(text) > self.limits.max_scalar_chars:
            self._string_too_long(text, span, path)
            return text
        if not plain:
            if _SURROGATE.search(text):  # the pure-Python parser passes `\ud800` escapes through
                self._report(
                    "NS003",
                    "the string holds an unpaired surrogate escape, which is not valid Unicode",
                    span,
                    path,
                    "escape the character as one code point, like `\\U0001F600`",
                )
            return text
        try:
            return _resolve_plain(text, self.limits, json_like=self.json_like)
        except _ScalarProblem as problem:
            self._report(problem.code, problem.message, span, path, problem.hint)
            return text

    def _anchor_named(self, name: str, span: Span, path: Path) -> _Anchor:
        anchor = self.anchors.get(name)
        if anchor is None:
            self._fail(
                "NS019",
                f"alias `*{name}` names no anchor defined before it",
                span,
                path,
                f"define `&{name}` on a value above this line",
            )
        if anchor is _IN_PROGRESS:
            self._fail(
                "NS019",
                f"alias `*{name}` is inside the value it names",
                span,
                path,
                "a value cannot contain itself; write the inner part out",
            )
        return anchor

    def _count(self, nodes: int, span: Span, path: Path) -> None:
        self.nodes += nodes
        if self.nodes > self.limits.max_nodes:
            self._fail(
                "NS017",
                f"the spec has more than {self.limits.max_nodes:,} keys and values",
                span,
                path,
                (
                    "each alias (`*name`) counts as a full copy of what it names; "
                    if self.alias_uses or self.alias_count
                    else ""
                )
                + "simplify the spec, or raise `netspec.Limits(max_nodes=...)` (`max_nodes` under `[tool.netspec]`)",
            )
        # Charged before the value is composed (an alias: before its copy is made).
        charge("parse", nodes * PARSE_UNITS_PER_VALUE, where=lambda: (self.sources, span, format_path(path)))

    def _too_deep(self, span: Span, path: Path) -> None:
        self._fail(
            "NS016",
            f"mappings and lists are nested more than {self.limits.max_depth} levels deep",
            span,
            path,
            "flatten the spec, or raise `netspec.Limits(max_depth=...)`",
        )

    def _tag_problem(self, tag: str, span: Span, path: Path) -> None:
        self._report(
            "NS007",
            f"tag `{_shown_tag(tag)}` is not allowed",
            span,
            path,
            "remove the tag: a spec holds plain mappings, lists, strings, numbers, booleans and null",
        )

    def _string_too_long(self, text: str, span: Span, path: Path) -> None:
        self._report(
            "NS015",
            f"a string of {len(text):,} characters is longer than the limit of {self.limits.max_scalar_chars:,}",
            span,
            path,
            "shorten it, or raise `netspec.Limits(max_scalar_chars=...)`",
        )

    def _span(self, event: yaml.Event) -> Span:
        start, end = _mark(event.start_mark), _mark(event.end_mark)
        end_column = end.column + 1 + self.end_fixes.get((start.line, start.column), 0)
        return Span(self.file, start.line + 1, start.column + 1, end.line + 1, end_column)

    def _report(self, code: str, message: str, span: Span, path: Path, hint: str | None) -> None:
        self.problems.append(Diagnostic(message=message, path=format_path(path), hint=hint, code=code).located(span))

    def _fail(self, code: str, message: str, span: Span, path: Path, hint: str | None) -> NoReturn:
        self._report(code, message, span, path, hint)
        raise _Fatal


def _copy_tree(value: Any) -> Any:
    """A copy of nested dicts and lists in which no object appears twice (iterative: depth is bounded
    by the limits, but a loop keeps it independent of the recursion limit)."""
    if not isinstance(value, (dict, list)):
        return value
    top = type(value)()
    pending = [(value, top)]
    while pending:
        source, target = pending.pop()
        entries = source.items() if isinstance(source, dict) else enumerate(source)
        for key, child in entries:
            if isinstance(child, (dict, list)):
                copied = type(child)()
                pending.append((child, copied))
            else:
                copied = child
            if isinstance(target, dict):
                target[key] = copied
            else:
                target.append(copied)
    return top


# ---------------------------------------------------------------- parser errors


def _syntax_diagnostic(error: yaml.MarkedYAMLError, text: str, file: str | None, limits: Limits) -> Diagnostic:
    mark = error.problem_mark or error.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    problem = error.problem or str(error).splitlines()[0]
    code, hint = "NS005", error.context
    context = error.context_mark
    if hint and context is not None and (context.line + 1, context.column + 1) != (line, column):
        hint += f" that starts at line {context.line + 1}, column {context.column + 1}"
    if "nesting depth" in problem:  # libyaml's own limit, met while it reads ahead
        code, problem = "NS016", f"mappings and lists are nested too deep ({problem})"
        hint = f"flatten the spec: at most {limits.max_depth} levels are allowed"
    elif "tab" in problem or (mark is not None and text[mark.index : mark.index + 1] == "\t"):
        hint = "indent with spaces: YAML does not allow tabs for indentation"
    elif mark is not None and (expression := _unquoted_expression(text, mark.line, mark.column)):
        hint = (
            f"quote the expression: {json.dumps(expression)} (inside `{{...}}` or `[...]`, YAML reads "
            f"an unquoted `{{` as the start of a mapping)"
        )
    return Diagnostic(
        message=problem, file=file, line=line, column=column, end_line=line, end_column=column + 1, hint=hint, code=code
    )


def _unquoted_expression(text: str, line: int, column: int) -> str | None:
    """The `${...}` at (or just before) a parser error's position (0-based), up to its `}` on that line."""
    lines = text.split("\n")
    here = lines[line].rstrip("\r") if line < len(lines) else ""
    start = column - 1 if column > 0 and here[column - 1 : column + 1] == "${" else column
    if here[start : start + 2] != "${":
        return None
    close = here.find("}", start)
    return here[start : close + 1] if close > 0 else None


def _reader_diagnostic(error: yaml.reader.ReaderError, text: str, file: str | None, loader: type) -> Diagnostic:
    index = error.position
    if not issubclass(loader, yaml.SafeLoader):  # libyaml reports a byte offset
        index = len(text.encode("utf-8")[:index].decode("utf-8", "ignore"))
    line, column = _position_of_index(text, min(index, len(text)))
    character = ord(error.character) if isinstance(error.character, str) else error.character
    return Diagnostic(
        message=f"character U+{character:04X} is not allowed in a spec: {error.reason}",
        file=file,
        line=line,
        column=column,
        end_line=line,
        end_column=column + 1,
        hint="remove it",
        code="NS004",
    )


def _unexpected_diagnostic(error: Exception, position: tuple[int, int], file: str | None) -> Diagnostic:
    line, column = position
    return Diagnostic(
        message=f"the spec cannot be read: {error}",
        file=file,
        line=line,
        column=column,
        end_line=line,
        end_column=column + 1,
        hint="simplify the text near this place",
        code="NS005",
    )
