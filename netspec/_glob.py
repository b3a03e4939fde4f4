"""Glob patterns matched in time linear in the text, whatever the pattern.

A pattern is compiled once into a small automaton (`Glob`) and a text is matched by carrying the set
of automaton states that the text read so far can reach: each character of the text costs at most
one step per state, so matching costs at most `len(pattern) * len(text)` steps and never backtracks
(a regular expression made of `.*` pieces can take exponential time on a hostile pattern).

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
        """The match, and the number of state steps it took (at most `len(states) + 2` per character)."""
        count = 0
        current = self._closure({0})
        for char in text:
            following: set[int] = set()
            for state in current:
                count += 1
                following.update(self._step(state, char))
            if not following:
                return False, count
            current = self._closure(following)
        return len(self.states) in current or self._rest in current, count

    @property
    def _rest(self) -> int:
        return len(self.states) + 1  # past a match, after the separator: anything

    def _closure(self, states: set[int]) -> set[int]:
        """`states` with every state reachable from them without reading a character."""
        todo = list(states)
        while todo:
            state = todo.pop()
            if state < len(self.states) and self.states[state][0] in (_STAR, _DOUBLE_STAR, _DIRS):
                following = state + (2 if self.states[state][0] == _DIRS else 1)  # the wildcard matching nothing
                if following not in states:
                    states.add(following)
                    todo.append(following)
        return states

    def _step(self, state: int, char: str) -> tuple[int, ...]:
        end = len(self.states)
        if state == end:  # the whole pattern read: only a separator may follow, in prefix mode
            return (self._rest,) if self.prefix and char == self.separator else ()
        if state == self._rest:
            return (state,)
        kind, data = self.states[state]
        if kind == _CHAR:
            return (state + 1,) if char == data else ()
        if kind == _SET:
            negate, ranges = cast("tuple[bool, tuple[tuple[str, str], ...]]", data)
            inside = any(low <= char <= high for low, high in ranges)
            return (state + 1,) if inside != negate and char != self.separator else ()
        if kind == _ANY_IN_PART:
            return (state + 1,) if char != self.separator else ()
        if kind == _STAR:
            return (state,) if char != self.separator else ()
        if kind == _DOUBLE_STAR:
            return (state,)
        if kind == _DIRS:  # at the start of a leading folder name: a name character enters it
            return (state + 1,) if char != self.separator else ()
        # _DIR_NAME: inside a leading folder name; the separator ends it
        return (state - 1,) if char == self.separator else (state,)


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
