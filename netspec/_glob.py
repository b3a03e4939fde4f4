"""Glob patterns matched in time linear in the text, whatever the pattern.

A pattern is compiled once into a small automaton (`Glob`: a state per character or wildcard of the
pattern), and a text is matched by moving every state the text read so far can reach at once: the
states are the bits of one integer, and each character of the text is a few integer operations on
it (a bit-parallel simulation), never a backtrack (a regular expression made of `.*` pieces can take
exponential time on a hostile pattern) nor a set of states to build. So `*a*a*a...*b` and a wildcard
followed by a long literal (`*aaaa...b`) cost the same per character as `*.bn`: about 0.2 us, up to
0.5 us for a pattern of `MAX_GLOB_LENGTH` characters, whose integers are 16 machine words wide.
`Glob.steps` gives the units of work a match costs, calibrated on that (`Glob.step_units`).

Wildcards, over texts whose parts are divided by `separator` (`/` for paths, `.` for module names):
`*` any characters within one part, `**` any characters across parts (`**/` any number of whole
leading folders, in paths), `?` one character other than the separator, `[abc]`, `[a-z]`, `[!a-z]`
(or `[^a-z]`) one character of a set or outside it; anything else stands for itself.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import cast

__all__ = ["MAX_GLOB_LENGTH", "Glob", "GlobError", "build_glob", "compile_glob"]

MAX_GLOB_LENGTH = 1024

# Automaton states: what one state does with the next character.
_CHAR, _SET, _ANY_IN_PART, _STAR, _DOUBLE_STAR, _DIRS, _DIR_NAME, _REST, _END = range(9)


class GlobError(ValueError):
    """A pattern that is not a glob (a reversed range `[z-a]`, an empty set, too long)."""


@dataclasses.dataclass(frozen=True)
class Glob:
    """A compiled glob: `match(text)` tells whether the whole text matches."""

    pattern: str
    separator: str
    states: tuple[tuple[int, object], ...]
    prefix: bool  # a match may be followed by the separator and anything (a folder covers its files)

    def match(self, text: str) -> bool:
        """Whether `text` matches the whole pattern (or, with `prefix`, a part of it up to a separator)."""
        return self.steps(text)[0]

    def steps(self, text: str) -> tuple[bool, int]:
        """The match, and the units of work it took: `step_units()` per character read (matching stops
        at the first character after which no state is left), and one per character set tried on a
        character the pattern had not met before."""
        masks = self._masks
        per_char = self.step_units()
        separator = self.separator
        final = masks.final
        current = masks.closure(1)
        count = 0
        for char in text:
            count += per_char
            if char == separator:
                current = (
                    ((current & masks.advance_separator) << 1)
                    | (current & masks.loop_all)
                    | ((current & masks.back) >> 1)
                )
            else:
                advance = masks.advance.get(char)
                if advance is None:
                    advance, tried = masks.advance_of(char)
                    count += tried
                current = ((current & advance) << 1) | (current & masks.loop_in_part)
            if not current:
                return False, count
            current = masks.closure(current)
        return bool(current & final), count

    def step_units(self) -> int:
        """The units one character costs: a few operations on integers a bit per state wide, about
        0.2 us for a short pattern and 0.5 us for one of `MAX_GLOB_LENGTH` (1,000 states): 16 units,
        and one more per 32 states, so that one of these steps costs at most about 15 ns here (the
        work budget charges `_work.INIT_STEPS_PER_UNIT` of them as one of its units)."""
        return 16 + len(self.states) // 32

    @functools.cached_property
    def _masks(self) -> _Masks:
        return _Masks.of(self)


_REMEMBERED = 512  # characters whose masks a pattern with sets remembers


@dataclasses.dataclass
class _Masks:
    """The automaton as bit masks over its states (bit `i`: state `i`; then the end of the pattern and,
    in prefix mode, what follows a match): a character moves every state at once, a few integer
    operations whatever the pattern (a bit-parallel simulation, no set of states to build)."""

    advance: dict[str, int]  # the states that read a character other than the separator and move on
    chars: dict[str, int]  # the literal characters' states, by character
    sets: tuple[tuple[int, tuple[bool, tuple[tuple[str, str], ...]]], ...]  # `[...]` states, by bit
    any_in_part: int  # `?` and `**/` (which reads a folder name's first character)
    advance_separator: int  # the states that read the separator and move on
    loop_in_part: int  # the states that stay on a character other than the separator
    loop_all: int  # ... on any character
    back: int  # a folder name of `**/`: the separator returns to its start
    skip_one: int  # wildcards that may match nothing: the next state is reached without reading
    skip_two: int  # `**/` matching no folder
    final: int

    @classmethod
    def of(cls, glob: Glob) -> _Masks:
        chars: dict[str, int] = {}
        sets = []
        any_in_part = advance_separator = loop_in_part = loop_all = back = skip_one = skip_two = 0
        for index, (kind, data) in enumerate(glob.states):
            bit = 1 << index
            if kind == _CHAR:
                if data == glob.separator:
                    advance_separator |= bit
                else:
                    chars[cast("str", data)] = chars.get(cast("str", data), 0) | bit
            elif kind == _SET:
                sets.append((bit, cast("tuple[bool, tuple[tuple[str, str], ...]]", data)))
            elif kind in (_ANY_IN_PART, _DIRS):
                any_in_part |= bit
                skip_two |= bit if kind == _DIRS else 0
            elif kind == _STAR:
                loop_in_part |= bit
                skip_one |= bit
            elif kind == _DOUBLE_STAR:
                loop_all |= bit
                skip_one |= bit
            else:  # _DIR_NAME
                loop_in_part |= bit
                back |= bit
        end = len(glob.states)
        if glob.prefix:
            advance_separator |= 1 << end  # a match, then the separator: the rest may follow
            loop_all |= 1 << (end + 1)
        loop_in_part |= loop_all
        # Without sets a character's states are known now; with sets, each is found on first sight.
        return cls(
            {} if sets else {c: m | any_in_part for c, m in chars.items()},
            chars,
            tuple(sets),
            any_in_part,
            advance_separator,
            loop_in_part,
            loop_all,
            back,
            skip_one,
            skip_two,
            (1 << end) | (1 << (end + 1)),
        )

    def advance_of(self, char: str) -> tuple[int, int]:
        """The states that read `char` (not the separator) and move on, and the sets tried for it.
        Remembered for at most `_REMEMBERED` characters (names can hold many distinct ones); without
        sets, a character that is not the pattern's needs nothing remembered."""
        mask = self.chars.get(char, 0) | self.any_in_part
        if not self.sets:
            return mask, 0
        for bit, (negate, ranges) in self.sets:
            if any(low <= char <= high for low, high in ranges) != negate:
                mask |= bit
        if len(self.advance) < _REMEMBERED:
            self.advance[char] = mask
        return mask, len(self.sets)

    def closure(self, current: int) -> int:
        """`current` with the states its wildcards reach without reading (a wildcard matching nothing)."""
        while True:
            reached = (((current & self.skip_one) << 1) | ((current & self.skip_two) << 2)) & ~current
            if not reached:
                return current
            current |= reached


@functools.lru_cache(maxsize=1024)
def compile_glob(pattern: str, separator: str = "/", *, prefix: bool = False) -> Glob:
    """`build_glob`, remembered (the last 1,024 patterns)."""
    return build_glob(pattern, separator, prefix=prefix)


def build_glob(pattern: str, separator: str = "/", *, prefix: bool = False) -> Glob:
    """`pattern` compiled over texts divided by `separator`; `GlobError` if it is not a glob.

    With `prefix`, a text also matches when a part of it up to a separator does (`specs/drafts`
    matches `specs/drafts/a.yaml`). The pattern is limited to `MAX_GLOB_LENGTH` characters.
    """
    if len(pattern) > MAX_GLOB_LENGTH:
        raise GlobError(f"is longer than {MAX_GLOB_LENGTH} characters")
    states: list[tuple[int, object]] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**", i):
            i += 2  # `***/` is `**` then `*/`: a folder's name must end before the `/`
            if separator == "/" and pattern.startswith("/", i):
                states += [(_DIRS, None), (_DIR_NAME, None)]  # `**/`: any number of leading folders
                i += 1
            elif not states or states[-1][0] != _DOUBLE_STAR:
                states.append((_DOUBLE_STAR, None))
            continue
        if char == "*":
            if not states or states[-1][0] not in (_STAR, _DOUBLE_STAR):
                states.append((_STAR, None))
        elif char == "?":
            states.append((_ANY_IN_PART, None))
        elif char == "[" and "]" in pattern[_set_start(pattern, i) :]:
            end = pattern.index("]", _set_start(pattern, i))
            states.append((_SET, _char_set(pattern[i + 1 : end])))
            i = end + 1
            continue
        else:
            states.append((_CHAR, char))
        i += 1
    return Glob(pattern, separator, tuple(states), prefix)


def _set_start(pattern: str, i: int) -> int:
    """Where the `]` closing the set opened at `i` may stand: a `]` first in the set is one of its characters."""
    return i + 2 + (pattern[i + 1 : i + 2] in ("!", "^"))


def _char_set(body: str) -> tuple[bool, tuple[tuple[str, str], ...]]:
    """The body of `[...]`: whether it is negated, and its characters as inclusive ranges."""
    negate = body[:1] in ("!", "^")
    body = body[1:] if negate else body
    ranges = []
    i = 0
    while i < len(body):
        if i + 2 < len(body) and body[i + 1] == "-":
            low, high = body[i], body[i + 2]
            if low > high:
                raise GlobError(f"has the reversed range `{low}-{high}` in `[{'!' if negate else ''}{body}]`")
            ranges.append((low, high))
            i += 3
        else:
            ranges.append((body[i], body[i]))
            i += 1
    return negate, tuple(ranges)
