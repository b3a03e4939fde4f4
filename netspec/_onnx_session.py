"""Running an ONNX model netspec exported, with the spec's input checks, under onnxruntime.

An ONNX runtime checks the ranks and the fixed sizes of a model's inputs, nothing more: at a size off
the spec's size lattice (where a pooling drops rows or a centered crop is off by a pixel) the exported
graph runs and gives what the eager network gives there. `export_onnx` writes the spec itself (as
JSON) and its parameters into the model's metadata; `onnx_session` reads them back and checks each
new input shape with `validate`, as `build` and `export_onnx` do, before onnxruntime runs: an input
the spec does not accept is refused with netspec's diagnostics (the layer, the nearest sizes that
fit). Shapes found good are remembered, so a shape is validated once and later calls pay one
dictionary look-up. Neither torch nor onnx is imported: onnxruntime and netspec's loader only.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from ._api import _bundled, loads, validate
from ._errors import Diagnostic, SpecError
from ._load import parse_text
from ._models import Spec
from ._source import list_specs

__all__ = ["OnnxSession", "onnx_session"]

# Metadata keys `export_onnx` writes (`netspec.dims.<symbol>` too, the wording of each dynamic dim).
SPEC_KEY = "netspec.spec"  # the spec's name
DOCUMENT_KEY = "netspec.spec.json"  # the spec, extends resolved, as JSON
PARAMS_KEY = "netspec.params"  # the parameters it was exported with, as JSON
# Distinct accepted input shapes remembered per session; past this the oldest is validated again.
_ACCEPTED_SHAPES = 4096


def spec_document(spec: Spec) -> str:
    """The spec as JSON text that `netspec.loads` reads back to an equal spec (extends already resolved)."""
    document = spec.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    document.pop("extends", None)
    return json.dumps(document, indent=1, sort_keys=False)


class OnnxSession:
    """An `onnxruntime.InferenceSession` over a model `netspec.export_onnx` wrote, that checks its inputs
    against the spec before running (see `onnx_session`). Every other attribute is the session's."""

    def __init__(self, session: Any, spec: Spec, params: Mapping[str, Any]) -> None:
        self.session = session
        self.spec = spec
        self.params = dict(params)
        self._accepted: dict[tuple[tuple[str, tuple[int, ...]], ...], None] = {}

    def check(self, input_feed: Mapping[str, Any]) -> None:
        """Raise `SpecError` (netspec's diagnostics) if the spec does not accept the shapes of `input_feed`
        (name -> array): a size off the lattice, a wrong rank or channel count, a layer that cannot run."""
        key = tuple(sorted((name, _shape_of(name, value)) for name, value in self._checked_feed(input_feed).items()))
        if key in self._accepted:
            return
        shapes = {name: shape for name, shape in key if name in self.spec.inputs}
        found = validate(self.spec, params=self.params, inputs=shapes)  # raises on errors
        off = [dataclasses.replace(d, severity="error") for d in found if d.code == "NS211"]
        if off:  # rows dropped or crops off-center: refused, as `export_onnx` refuses to trace there
            raise SpecError(off, self.spec.source)
        if len(self._accepted) >= _ACCEPTED_SHAPES:
            del self._accepted[next(iter(self._accepted))]
        self._accepted[key] = None

    @functools.cached_property
    def _input_types(self) -> dict[str, str]:
        """Each model input's element type as numpy names it (`float32`), from onnxruntime's `tensor(float)`."""
        types = {}
        for arg in self.session.get_inputs():
            onnx_type = str(getattr(arg, "type", ""))
            if onnx_type.startswith("tensor(") and onnx_type.endswith(")"):
                element = onnx_type[len("tensor(") : -1]
                types[arg.name] = _NUMPY_NAMES.get(element, element)
        return types

    def _checked_feed(self, input_feed: Any) -> Mapping[str, Any]:
        """`input_feed` if it is a mapping of the model's input names to arrays of their dtypes."""
        if not isinstance(input_feed, Mapping):
            raise TypeError(
                f"the input feed must be a mapping of input names to arrays ({{'x': array}}), "
                f"got {type(input_feed).__name__}"
            )
        types = self._input_types
        for name, value in input_feed.items():
            if not isinstance(name, str):
                raise TypeError(f"input names are strings, got {name!r:.60} ({type(name).__name__})")
            if name not in types:
                raise ValueError(f"the model has no input `{name:.60}`; its inputs: {', '.join(types) or 'none'}")
            if not hasattr(value, "shape") or not hasattr(value, "dtype"):
                raise TypeError(
                    f"input `{name}` must be an array (numpy.ndarray), got {type(value).__name__}; "
                    f"convert it with numpy.asarray(x, dtype=numpy.{types[name]})"
                )
            dtype = str(value.dtype)
            if dtype != types[name]:
                raise ValueError(
                    f"input `{name}` expects {types[name]} values, got {dtype}; "
                    f"convert it with x.astype(numpy.{types[name]})"
                )
        missing = [name for name in types if name not in input_feed]
        if missing:
            raise ValueError(f"the input feed has no `{missing[0]}` (the model's inputs: {', '.join(types)})")
        return input_feed

    def run(self, output_names: Sequence[str] | None, input_feed: Mapping[str, Any], run_options: Any = None) -> Any:
        """`InferenceSession.run`, after `check(input_feed)`."""
        self.check(input_feed)
        return self.session.run(output_names, input_feed, run_options)

    def __getattr__(self, name: str) -> Any:
        if name == "session":  # not set yet (copying): no recursion
            raise AttributeError(name)
        return getattr(self.session, name)


def onnx_session(
    path: str | os.PathLike[str] | bytes,
    /,
    *,
    providers: Sequence[Any] | None = None,
    sess_options: Any = None,
) -> OnnxSession:
    """An onnxruntime session over a model `netspec.export_onnx` wrote, refusing inputs the spec does not
    accept with netspec's diagnostics before onnxruntime runs::

        session = netspec.onnx_session("unet.onnx")
        (masks,) = session.run(None, {"x": image})  # image: a numpy array [N, 1, H, W]

    An input at a size off the spec's lattice raises `SpecError` naming the layer and the nearest sizes
    that fit, as `validate` and `export_onnx` do. `path` is a file or the model's bytes; `providers`
    (default: onnxruntime's CPU provider) and `sess_options` go to `onnxruntime.InferenceSession`.
    Needs onnxruntime (`pip install netspec[onnx]`); raises `ValueError` for a model without netspec's
    metadata (written by another tool, or by an older netspec): run it with onnxruntime itself.
    """
    try:
        import onnxruntime  # type: ignore[import-untyped]  # no type information shipped
    except ImportError:
        raise ModuleNotFoundError("`netspec.onnx_session` needs onnxruntime: install netspec[onnx]") from None
    model = path if isinstance(path, bytes) else os.fspath(path)
    session = onnxruntime.InferenceSession(
        model, sess_options, providers=list(providers) if providers else ["CPUExecutionProvider"]
    )
    metadata = session.get_modelmeta().custom_metadata_map
    if DOCUMENT_KEY not in metadata or PARAMS_KEY not in metadata:
        raise ValueError(
            "this ONNX model has no netspec spec in its metadata (`netspec.spec.json`): it was not written by "
            "`netspec.export_onnx`, or by an older netspec; export it again, or run it with onnxruntime directly"
        )
    spec = _spec_of(metadata)
    params = _params_of(metadata[PARAMS_KEY])
    validate(spec, params=params)  # parameters the spec does not take are refused now, not at the first run
    return OnnxSession(session, spec, params)


# onnxruntime's element type names (`tensor(float)`) as numpy's.
_NUMPY_NAMES = {"float": "float32", "double": "float64", "float16": "float16", "bool": "bool"}


def _shape_of(name: str, value: Any) -> tuple[int, ...]:
    try:
        return tuple(int(d) for d in value.shape)
    except (TypeError, ValueError):
        raise TypeError(f"input `{name}` has no concrete shape: {value.shape!r:.60}") from None


def _params_of(text: str) -> dict[str, Any]:
    """The parameters in the metadata, read by netspec's loader (its size and depth limits apply)."""
    document = parse_text(text, file=f"<ONNX metadata {PARAMS_KEY}>", strict_json=True)
    data = document.data
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        diagnostic = Diagnostic(
            f"the ONNX model's `{PARAMS_KEY}` must be a JSON object of parameter names to values, "
            f"got {type(data).__name__}",
            file=document.file,
            line=1,
            column=1,
            end_line=1,
            end_column=2,
            hint="export the model again with `netspec.export_onnx`",
            code="NS022",
        )
        raise SpecError([diagnostic], document.sources)
    return dict(data)


def _spec_of(metadata: Mapping[str, str]) -> Spec:
    """The spec in the metadata; the bundled spec of that name where it is the same spec, so that the
    diagnostics point into its file rather than into the JSON."""
    spec = loads(metadata[DOCUMENT_KEY])
    name = metadata.get(SPEC_KEY, "")
    if name in list_specs():
        bundled = _bundled(name)
        if spec_document(bundled) == spec_document(spec):
            return bundled
    return spec
