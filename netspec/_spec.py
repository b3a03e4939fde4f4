"""The spec stage: a loaded document validated into a frozen `Spec`.

`spec_from_document` resolves `extends` (`_extends`), validates the data against the models
(`_models`), translates pydantic's errors (`_model_errors`) and, for a spec with required
parameters (which is not expanded when loaded), runs the checks that need no values (`_static`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ._errors import Diagnostic, Span, SpecError
from ._extends import with_extends
from ._load import DEFAULT_LIMITS, Document, Limits
from ._model_errors import validation_diagnostics
from ._models import Spec
from ._static import module_name_problems, static_problems
from ._work import PARSE_UNITS_PER_NODE, charge

__all__ = ["spec_from_document"]


def _start_of(file: str | None) -> Span | None:
    """Line 1, column 1 of `file`: where a problem of the whole source is placed when nothing is written."""
    return Span(file, 1, 1, 1, 1) if file is not None else None


def spec_from_document(doc: Document, path: Path | None = None, *, limits: Limits | None = None) -> Spec:
    """Validate a document (resolving `extends`) into a `Spec`; raises `SpecError` with every problem."""
    limits = limits or DEFAULT_LIMITS
    if not isinstance(doc.data, dict):
        kind = type(doc.data).__name__
        raise SpecError(
            [
                Diagnostic(
                    f"a spec is a mapping of fields, got a {kind}",
                    hint="start with `name:`, `inputs:` and `nodes:`",
                    code="NS102",
                ).located(doc.sources.span(()) or _start_of(doc.file))
            ],
            doc.sources,
        )
    if doc.data.get("remove") and doc.data.get("extends") is None:
        hint = "`remove` deletes nodes of the spec named by `extends`; delete the nodes here instead"
        raise SpecError(
            [
                Diagnostic("`remove` needs `extends`", path="remove", hint=hint, code="NS106").located(
                    doc.sources.span(("remove",), key=True)
                )
            ],
            doc.sources,
        )
    doc = with_extends(doc, path, limits)
    sources = doc.sources
    charge(
        "parse",
        PARSE_UNITS_PER_NODE * _written_nodes(doc.data),
        where=lambda: (sources, sources.span(("nodes",)), "nodes"),
    )
    try:
        spec = Spec.model_validate(doc.data, context={"sources": doc.sources, "path": path, "limits": limits})
    except ValidationError as err:
        found = validation_diagnostics(err, doc.sources) + module_name_problems(doc.data, doc.sources)
        raise SpecError(found, doc.sources) from None
    if any(p.required for p in spec.params.values()):
        # Such a spec is not expanded when loaded: check what can be checked without values.
        errors = [d for d in static_problems(spec) if d.is_error]
        if errors:
            raise SpecError(errors, doc.sources)
    return spec


def _written_nodes(data: dict[str, Any]) -> int:
    """The nodes the spec writes out, at the top and in its blocks (each is validated and checked)."""
    count = _length(data.get("nodes"))
    blocks = data.get("blocks")
    if isinstance(blocks, dict):
        count += sum(_length(block.get("nodes")) for block in blocks.values() if isinstance(block, dict))
    return count


def _length(value: Any) -> int:
    return len(value) if isinstance(value, (dict, list)) else 0
