"""The bounds of one request: `Limits`, every size a spec could make expensive, in one frozen value.

A spec loaded with `netspec.load(..., limits=L)` or `netspec.loads(..., limits=L)` carries `L`, and
every later phase on it reads its bound from there: the loader (bytes, nesting, YAML values,
aliases, string and integer lengths), expansion (`max_graph_nodes`), the request's work budget
(`max_work`) and the memory budget of `build` and the exports (`max_params`). A source given as a
path or a bundled name uses the defaults.
"""

from __future__ import annotations

import dataclasses

__all__ = ["DEFAULT_LIMITS", "Limits"]


@dataclasses.dataclass(frozen=True)
class Limits:
    """Bounds that keep hostile or broken specs cheap to reject; every field is a positive integer.

    Loader bounds, checked while the text is read:

    - `max_bytes`: the whole text, UTF-8 encoded (`NS002`);
    - `max_depth`: nesting of mappings and lists (`NS016`);
    - `max_nodes`: YAML keys and values, an alias counting as a full copy of its anchor, in the
      merged files of an `extends` chain (`NS017`);
    - `max_aliases`: aliases (`*name`) in one file (`NS018`);
    - `max_scalar_chars`: characters of one string (`NS015`);
    - `max_int_digits`: digits of one integer (`NS014`).

    Request bounds, checked by the phases after loading:

    - `max_graph_nodes`: nodes of the graph after expansion (blocks and repeats expanded, the
      merged result of an `extends` chain), refused with `NS134` where a `repeat` or a node passes it;
    - `max_work`: the units of work one request (one call of the public API) may spend over every
      phase (parse, expansion, expressions, hints, init rules, shapes, the size lattice, summary,
      drawing, export), refused with `NS134` naming the phase that grew; a unit is about 0.5 us of
      CPU in every phase (`netspec._work`), so the default is about 2 s;
    - `max_params`: parameter and buffer elements that `build` and the exports may allocate,
      refused with `NS190` before anything is allocated (an explicit `max_params=` argument wins);
      `validate` and `summarize` report the same `NS190`, counted without allocating.
    """

    max_bytes: int = 5_000_000
    max_depth: int = 100
    max_nodes: int = 100_000
    max_aliases: int = 1_000
    max_scalar_chars: int = 100_000
    max_int_digits: int = 30  # also keeps far away from Python's 4300-digit `int()` limit
    max_graph_nodes: int = 10_000
    max_work: int = 4_000_000
    max_params: int = 2**31

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"Limits.{field.name} must be an int, got {type(value).__name__} {value!r:.40}")
            if value < 1:
                raise ValueError(f"Limits.{field.name} must be a positive int, got {value:,}")


DEFAULT_LIMITS = Limits()
