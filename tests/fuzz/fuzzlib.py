"""A mutation fuzzer for specs: mutate parsed data and raw text, and check that every case ends cleanly.

The invariant: every entry point on a mutated spec (`entry_points.py`: loads, validate, count_params,
summarize, infer_shapes, drawing, build, export_python) either succeeds or raises `SpecError` whose
errors all carry a line (the input was text); never another exception, never a hang (each call runs
under a deadline), never more than 500 MB for a case. Used by `tests/fuzz` and `benchmarks/fuzz.py`.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import random
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from entry_points import CaseFigures, Deadline, OverMemory, add_case, run_entry_points, warm_up

import netspec
from netspec._load import parse_text

__all__ = ["Failure", "FuzzReport", "mutate_data", "mutate_text", "run_case", "run_fuzz", "seed_files"]

ROOT = Path(__file__).resolve().parents[2]
CASE_SECONDS = 5.0  # a call that takes longer is a hang
_HOSTILE_VALUES: list[Any] = [
    None, True, False, 0, -1, 1, 2**31, 2**63, 10**29, -(10**29), 0.5, 1e308, -0.0, "", "x", "$", "${", "${x.y}",
    "${1/0}", "${i}", "${2 ** 62}", "$missing", "os.system", "__import__", "ReLU", "Conv2d", "add", "concat",
    "a.b.c", "..", "\x1b[31m", "::error::x", "\u202e", [], [1], [[1]], ["ReLU"], {}, {"op": "ReLU"}, {"block": "x"},
    {"op": "Conv2d", "out_channels": 3, "kernel_size": 1}, "nan", "inf", "1:20", "no", "010", float("nan"), float("inf"),
]  # fmt: skip
_TEXT_SNIPPETS = [
    "!!python/object/apply:os.system ['true']", "&a", "*a", "<<: *a", "{", "}", "[", "]", ": ", "- ", "\t", "'", '"',
    "#", "|", ">", "%TAG ! x", "---", "...", "\\", "\x00", "\xff", "\u2028", "${", "$$", "1e400", ".nan", "0x", "9" * 40,
]  # fmt: skip


def seed_files() -> list[Path]:
    """The bundled specs and the YAML fixtures of the test suite (the hostile corpus excepted)."""
    files = sorted((ROOT / "specs").glob("*.yaml"))
    files += sorted(p for p in (ROOT / "tests").rglob("*.yaml") if "security" not in p.parts and "fuzz" not in p.parts)
    return files


# -- mutations -----------------------------------------------------------------------------------


def _containers(value: Any, found: list[Any]) -> list[Any]:
    if isinstance(value, dict | list):
        found.append(value)
        for child in value.values() if isinstance(value, dict) else value:
            _containers(child, found)
    return found


def _keys(container: dict | list) -> list[Any]:
    return list(container) if isinstance(container, dict) else list(range(len(container)))


def mutate_data(data: Any, rng: random.Random) -> Any:
    """One to three structural mutations of parsed spec data (a deep copy)."""
    data = copy.deepcopy(data)
    for _ in range(rng.randint(1, 3)):
        containers = [c for c in _containers(data, []) if c]
        if not containers:
            return rng.choice(_HOSTILE_VALUES)
        target = rng.choice(containers)
        key = rng.choice(_keys(target))
        action = rng.choice(["delete", "duplicate", "retype", "swap", "hostile", "hostile", "reference", "number"])
        if action == "delete":
            del target[key]
        elif action == "duplicate" and isinstance(target, dict):
            target[f"{key}_copy" if rng.random() < 0.5 else str(key).upper()] = copy.deepcopy(target[key])
        elif action == "duplicate":
            target.append(copy.deepcopy(target[key]))
        elif action == "retype":
            value = target[key]
            target[key] = (
                [value] if rng.random() < 0.5 else (json.dumps(value) if not isinstance(value, str) else {value: value})
            )
        elif action == "swap":
            other = rng.choice(containers)
            other_key = rng.choice(_keys(other))
            target[key], other[other_key] = other[other_key], target[key]
        elif action == "reference" and isinstance(target[key], str):
            target[key] = rng.choice(
                [target[key] + ".0", "missing", target[key] + ".x.y", "${" + target[key] + "}", "enc.${i - 1}"]
            )
        elif action == "number":
            target[key] = rng.choice([-1, 0, 10**7, 2**40, 1e-9, 3.5, -(2**63)])
        else:
            target[key] = copy.deepcopy(rng.choice(_HOSTILE_VALUES))
    return data


def mutate_text(text: str, rng: random.Random) -> str | bytes:
    """One to three textual mutations: byte flips, truncation, line duplication, indentation, snippets."""
    for _ in range(rng.randint(1, 3)):
        lines = text.split("\n")
        action = rng.choice(
            ["flip", "truncate", "duplicate", "indent", "dedent", "snippet", "delete_line", "swap_lines"]
        )
        if action == "flip" and text:
            raw = bytearray(text.encode("utf-8"))
            raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
            return bytes(raw)  # maybe no longer UTF-8: the loader must say where
        if action == "truncate" and text:
            text = text[: rng.randrange(len(text))]
        elif action in ("duplicate", "indent", "dedent", "delete_line", "swap_lines") and lines:
            i = rng.randrange(len(lines))
            if action == "duplicate":
                lines.insert(i, lines[i])
            elif action == "indent":
                lines[i] = rng.choice(["  ", " ", "\t", "    "]) + lines[i]
            elif action == "dedent":
                lines[i] = lines[i][rng.randint(1, 4) :]
            elif action == "delete_line":
                del lines[i]
            else:
                j = rng.randrange(len(lines))
                lines[i], lines[j] = lines[j], lines[i]
            text = "\n".join(lines)
        else:
            at = rng.randrange(len(text) + 1)
            text = text[:at] + rng.choice(_TEXT_SNIPPETS) + text[at:]
    return text


# -- running -------------------------------------------------------------------------------------


@dataclasses.dataclass
class Failure:
    """A case that broke the invariant, with what is needed to replay it."""

    seed: str
    case: int
    kind: str
    detail: str
    text: str


@dataclasses.dataclass
class FuzzReport:
    cases: int = 0
    accepted: int = 0
    refused: int = 0
    failures: list[Failure] = dataclasses.field(default_factory=list)
    seconds: float = 0.0
    slowest: float = 0.0  # the slowest single call (one entry point)
    slowest_call: str = ""
    slowest_case: float = 0.0  # the slowest case, all its calls together
    peak_case_mb: float = 0.0  # the most memory one case took above the process before it
    peak_rss_mb: float = 0.0


def run_case(text: str | bytes, seconds: float = CASE_SECONDS, *, cpu: bool = False) -> str:
    """Every entry point on `text` (`entry_points.py`), each call within `seconds` (wall-clock, or
    CPU time with `cpu`): the outcome."""
    return run_entry_points(text, seconds, cpu=cpu).outcome


def _cases(cases: int, seed: int) -> Iterator[tuple[str, int, str | bytes]]:
    rng = random.Random(seed)
    seeds = []
    for path in seed_files():
        text = path.read_text(encoding="utf-8")
        try:
            data = parse_text(text, file=str(path)).data
        except netspec.SpecError:
            data = None
        seeds.append((path.relative_to(ROOT).as_posix(), text, data))
    for case in range(cases):
        name, text, data = seeds[case % len(seeds)]
        if data is not None and rng.random() < 0.5:
            mutated = mutate_data(data, rng)
            yield name, case, json.dumps(mutated) if rng.random() < 0.5 else yaml.safe_dump(mutated, sort_keys=False)
        else:
            yield name, case, mutate_text(text, rng)


def run_fuzz(cases: int, seed: int = 0, case_seconds: float = CASE_SECONDS, *, cpu: bool = False) -> FuzzReport:
    """Run `cases` mutated specs from `seed_files()`; deterministic for a given `seed`; `cpu`: the
    deadline counts CPU time, not wall time."""
    warm_up()
    report = FuzzReport()
    start = time.perf_counter()
    for name, case, text in _cases(cases, seed):
        try:
            figures = run_entry_points(text, case_seconds, cpu=cpu)
        except Deadline as err:
            report.failures.append(Failure(name, case, "hang", str(err), _shown(text)))
            figures = CaseFigures(outcome="failed")
        except OverMemory as err:
            report.failures.append(Failure(name, case, "memory", str(err), _shown(text)))
            figures = CaseFigures(outcome="failed")
        except Exception as exc:  # the invariant is broken: record it with its traceback
            report.failures.append(
                Failure(name, case, type(exc).__name__, traceback.format_exc(limit=-6), _shown(text))
            )
            figures = CaseFigures(outcome="failed")
        add_case(report, figures)
    report.seconds = time.perf_counter() - start
    return report


def _shown(text: str | bytes) -> str:
    return text.decode("utf-8", "backslashreplace") if isinstance(text, bytes) else text
