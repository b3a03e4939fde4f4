"""Glob patterns matched in time linear in the text, whatever the pattern.

A pattern is compiled once into a small automaton (`Glob`) and a text is matched by carrying the set
of automaton states that the text read so far can reach: each character of the text costs one step
per state in the set, and never backtracks (a regular expression made of `.*` pieces can take
exponential time on a hostile pattern). The set keeps only the states that can still make a
difference: once a wildcard's state is reached, the states before it are dropped when what lies
between could not have read a separator (or the wildcard is `**`), since the wildcard can read
anything they would have read. So a set holds at most one wildcard per part of the pattern and the
characters after it, and `*a*a*a...*b` against `aaaa...` costs a few steps per character. Of a run
of plain characters right after a wildcard (`*aaaaab`), only the furthest state the text reached is
carried, moved as the Knuth-Morris-Pratt search moves it, so such a run costs a few steps per
character too. What still carries many states is a run that mixes characters with `?` or sets
after one wildcard (`*a?a?a?b` against `aaaa...`): at most `len(pattern) + 2` per character, and
`steps` counts them.

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
        """The match, and the number of steps it took: one per state carried over a character, and one
        per state reached without reading one (at most `2 * (len(states) + 2)` per character)."""
        current, count = self._closure({0})
        runs = self._runs
        for char in text:
            following: set[int] = set()
            for state in current:
                run = runs.get(state)
                if run is None:
                    count += 1
                    following.update(self._step(state, char))
                    continue
                # In a run of characters after a wildcard, `state` is the furthest of the run's states
                # the text reached; the others are the run's borders, which `failure` walks (KMP).
                start, literal, failure = run
                matched = state - start
                count += 1
                while matched > 0 and literal[matched] != char:
                    matched = failure[matched]
                    count += 1
                if literal[matched] == char:
                    matched += 1
                if matched == len(literal):
                    following.add(start + matched)  # the whole run read: the state after it
                    matched = failure[matched]
                if matched > 0:
                    following.add(start + matched)
            if not following:
                return False, count
            current, reached = self._closure(following)
            count += reached
        return len(self.states) in current or self._rest in current, count

    @functools.cached_property
    def _runs(self) -> dict[int, tuple[int, str, tuple[int, ...]]]:
        """The states of each run of two or more characters (not the separator) right after a wildcard,
        with the run's first state, its text and its failure function: `failure[k]` is the length of
        the longest proper border of the run's first `k` characters.

        While the wildcard before a run is carried, the run's states that the text reached are exactly
        the furthest one and its borders, so only the furthest is carried (`_closure` drops the others)
        and a character moves it as the Knuth-Morris-Pratt search does: a few steps per character,
        amortised, instead of one per state of the run."""
        runs: dict[int, tuple[int, str, tuple[int, ...]]] = {}
        index = 0
        while index < len(self.states):
            kind = self.states[index][0]
            index += 1
            if kind not in (_STAR, _DOUBLE_STAR):
                continue
            end = index
            while end < len(self.states) and self.states[end][0] == _CHAR and self.states[end][1] != self.separator:
                end += 1
            if end - index < 2:
                continue
            literal = "".join(cast("str", self.states[k][1]) for k in range(index, end))
            failure = [0, 0]
            for k in range(1, len(literal)):
                border = failure[k]
                while border > 0 and literal[border] != literal[k]:
                    border = failure[border]
                failure.append(border + 1 if literal[border] == literal[k] else 0)
            for k in range(index, end):
                runs[k] = (index, literal, tuple(failure))
        return runs

    @functools.cached_property
    def _covers(self) -> tuple[int, ...]:
        """For each state, the lowest state it makes redundant (its own index: none).

        A wildcard's state makes the states `i` before it redundant when nothing between `i` and it can
        read a separator (or the wildcard is `**`): whatever a path from `i` reads before reaching the
        wildcard, the wildcard reads too."""
        covers = []
        barrier = 0  # the lowest state from which no state up to here reads a separator
        for index, (kind, data) in enumerate(self.states):
            if kind == _DOUBLE_STAR:
                covers.append(0)
            elif kind == _STAR:
                covers.append(barrier)
            else:
                covers.append(index)
            if kind in (_DOUBLE_STAR, _DIRS, _DIR_NAME) or (kind == _CHAR and data == self.separator):
                barrier = index + 1
        return tuple(covers)

    @property
    def _rest(self) -> int:
        return len(self.states) + 1  # past a match, after the separator: anything

    def _closure(self, states: set[int]) -> tuple[set[int], int]:
        """`states` with every state reachable from them without reading a character, less the states a
        wildcard among them makes redundant (`_covers`); and how many states were reached."""
        todo = list(states)
        reached = 0
        while todo:
            state = todo.pop()
            if state < len(self.states) and self.states[state][0] in (_STAR, _DOUBLE_STAR, _DIRS):
                following = state + (2 if self.states[state][0] == _DIRS else 1)  # the wildcard matching nothing
                if following not in states:
                    reached += 1
                    states.add(following)
                    todo.append(following)
        covers, end = self._covers, len(self.states)
        if self._runs:
            states = self._furthest_in_runs(states)
        if len(states) == 1 or not any(s < end and covers[s] < s for s in states):
            return states, reached
        kept: set[int] = set()
        low = end  # the states from `low` up to a kept wildcard are redundant
        for state in sorted(states, reverse=True):
            if state < low or state >= end:
                kept.add(state)
                if state < end:
                    low = min(low, covers[state]) if covers[state] < state else low
        return kept, reached

    def _furthest_in_runs(self, states: set[int]) -> set[int]:
        """`states` with only the furthest state of each run (the others are its borders, see `_runs`)."""
        furthest: dict[int, int] = {}
        for state in states:
            run = self._runs.get(state)
            if run is not None and state > furthest.get(run[0], -1):
                furthest[run[0]] = state
        if not furthest:
            return states
        return {s for s in states if s not in self._runs or furthest[self._runs[s][0]] == s}

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
