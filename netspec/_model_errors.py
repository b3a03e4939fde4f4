"""Pydantic's validation errors in a spec author's words: one `Diagnostic` per value, located.

The models say what is valid; this module says what was wrong, where, and what would be right.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from pydantic import ValidationError

from ._errors import Diagnostic, SourceMap, did_you_mean, format_path
from ._models import FORMAT_VERSION, BlockDef, InitRule, NameRuleError, ParamDef, Spec
from ._names import rename_hint

__all__ = ["validation_diagnostics"]

_FIELDS_BY_MODEL = {
    "": set(Spec.model_fields),
    "params": set(ParamDef.model_fields),
    "blocks": set(BlockDef.model_fields),
    "init": set(InitRule.model_fields),
}


def _loc_to_path(loc: tuple[Any, ...]) -> tuple[str | int, ...]:
    """Drop the parts pydantic adds for union members and validators (`int`, `function-after[...]`)."""
    path: list[str | int] = []
    for part in loc:
        if isinstance(part, str) and (
            part in ("int", "str", "bool", "float", "list", "dict", "tuple", "none", "JsonValue")
            or "[" in part
            or part.startswith(("literal", "constrained-"))
        ):
            continue
        path.append(part)
    return tuple(path)


def _diagnostic_for(error: Any, sources: SourceMap) -> Diagnostic:
    kind = error["type"]
    path = _loc_to_path(error["loc"])
    if kind == "extra_forbidden":  # the last part is the user's key, whatever it looks like (`a[0]`)
        path = (*_loc_to_path(error["loc"][:-1]), error["loc"][-1])
    message = error["msg"]
    hint = None
    key_span = False
    if kind == "extra_forbidden":
        name = str(path[-1])
        owner = "top level" if len(path) == 1 else f"`{format_path(path[:-1])}`"
        fields = _FIELDS_BY_MODEL.get(str(path[0]) if len(path) > 1 and path[0] in ("params", "init") else "", set())
        if len(path) >= 3 and path[0] == "blocks":
            fields = _FIELDS_BY_MODEL["blocks"]
        message = f"unknown field `{name}` at {owner}"
        hint = did_you_mean(name, fields, listing=20)
        key_span = True
    elif kind == "missing":
        message = f"missing required field `{path[-1]}`"
    elif kind == "value_error":
        message = message.removeprefix("Value error, ")
        bad = error.get("ctx", {}).get("error")
        if isinstance(bad, NameRuleError):
            hint = rename_hint(bad.part, node=bool(path) and path[-1] == "nodes")
        if isinstance(bad, NameRuleError) and (path + (bad.part,) in sources.keys or isinstance(bad.part, int)):
            path, key_span = path + (bad.part,), isinstance(bad.part, str)  # point at the (first) offending name
    elif kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        message = f"invalid value {error.get('input')!r}: expected {expected}"
        if isinstance(error.get("input"), str):
            hint = did_you_mean(error["input"], re.findall(r"'([^']*)'", expected))
        if path and path[0] == "netspec":
            hint = f"this netspec reads format version {FORMAT_VERSION}"
    elif kind == "too_short" and path:
        message = f"`{path[-1]}` needs at least one entry"
    else:
        message = f"expected {_EXPECTED.get(kind) or _expected_from(error)}, got {_shown(error.get('input'))}"
    span = sources.span(path, key=key_span) or _digit_span(path, sources)
    return Diagnostic(message, path=format_path(path), hint=hint, code=_code_for(kind)).located(span)


_SHOULD_BE = re.compile(r"^expected (.*), got (.*)$", re.DOTALL)
# What a value of each pydantic error type should have been, in the words of a spec author.
_EXPECTED = {
    "dict_type": "a mapping (`key: value` lines)",
    "model_type": "a mapping (`key: value` lines)",
    "model_attributes_type": "a mapping (`key: value` lines)",
    "tuple_type": "a list",
    "list_type": "a list",
    "string_type": "a string",
    "int_type": "a whole number",
    "float_type": "a number",
    "bool_type": "true or false",
}


def _expected_from(error: Any) -> str:
    ctx = error.get("ctx") or {}
    if error["type"] == "greater_than_equal":
        return f"a number >= {ctx.get('ge')}"
    if error["type"] == "greater_than":
        return f"a number > {ctx.get('gt')}"
    return str(error["msg"]).removeprefix("Input should be ").rstrip(".")


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    return f"`{value!r:.60}`" if not isinstance(value, str) else f"`{value[:60]}` (a string)"


def _merge_alternatives(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """One diagnostic per value for a field that takes one of several types (`int | str`)."""
    merged: list[Diagnostic] = []
    for diag in diagnostics:
        last = merged[-1] if merged else None
        this, before = _SHOULD_BE.match(diag.message), _SHOULD_BE.match(last.message) if last else None
        if (
            last
            and this
            and before
            and diag.code == last.code == "NS112"
            and diag.path == last.path
            and this[2] == before[2]
        ):
            merged[-1] = dataclasses.replace(last, message=f"expected {before[1]} or {this[1]}, got {this[2]}")
        else:
            merged.append(diag)
    return merged


def _digit_span(path: tuple[str | int, ...], sources: SourceMap) -> Any:
    alt = tuple(int(p) if isinstance(p, str) and p.isdigit() else p for p in path)
    return sources.span(alt)


def _code_for(kind: str) -> str:
    return {"extra_forbidden": "NS110", "missing": "NS111", "literal_error": "NS113", "value_error": "NS114"}.get(
        kind, "NS112"
    )


def validation_diagnostics(err: ValidationError, sources: SourceMap) -> list[Diagnostic]:
    """The diagnostics for a failed validation of a spec's data, in source order, without repeats."""
    diagnostics = []
    for error in err.errors():
        diagnostics.append(_diagnostic_for(error, sources))
        bad = error.get("ctx", {}).get("error") if error["type"] == "value_error" else None
        if isinstance(bad, NameRuleError):  # every other bad name of the mapping, at its own key
            first = diagnostics[-1]
            parent = _loc_to_path(error["loc"])
            for name, problem in bad.others:
                path = (*parent, name)
                hint = rename_hint(name, node=bool(parent) and parent[-1] == "nodes")
                diagnostics.append(
                    Diagnostic(problem, path=format_path(path), hint=hint, code=first.code).located(
                        sources.span(path, key=True)
                    )
                )
    unique = _merge_alternatives(list(dict.fromkeys(diagnostics)))
    named = {d.path for d in unique if d.code == "NS113"}  # a misspelt name: the other forms are noise
    # A mapping that failed its own check (`NS114`) was meant as that form: the other forms are noise too.
    named |= {d.path for d in unique if d.code == "NS114"}
    return [d for d in unique if d.code != "NS112" or d.path not in named]
