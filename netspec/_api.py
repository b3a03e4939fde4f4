"""The public functions: load, validate, infer, count and build.

They share one shape: the source first, then `params=` (a mapping of the spec's parameters) and
`inputs=` (a mapping of input names to shapes), then what is particular to the function.
"""

from __future__ import annotations

import functools
import os
import sys
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._errors import Diagnostic, Span, SpecError, format_path, in_source_order
from ._graph import Graph, bind_params, expand
from ._limits import DEFAULT_LIMITS, Limits
from ._load import collector_paused, parse_text
from ._models import Spec
from ._shapes import (
    ShapeInfo,
    SizeLattice,
    SizeLattices,
    check_sizes,
    count_parameters,
    first_impossible,
    infer,
    tensor_elements,
)
from ._shapes import valid_sizes as _valid_sizes
from ._source import locate, read_source
from ._spec import spec_from_document
from ._work import within_budget

if TYPE_CHECKING:  # torch is imported by `build` only: loading and validating never import it
    import torch
    from torch import fx

__all__ = [
    "DEFAULT_MAX_PARAMS",
    "Inputs",
    "Limits",
    "Params",
    "Source",
    "build",
    "check_memory_budget",
    "count_params",
    "example_shapes",
    "graph_of",
    "infer_shapes",
    "load",
    "loads",
    "memory_budget_finding",
    "merge_inputs",
    "merge_params",
    "missing_dims",
    "prepare",
    "require_torch",
    "valid_sizes",
    "validate",
]

Source = str | os.PathLike[str] | Mapping[str, Any] | Spec
Params = Mapping[str, Any]  # the spec's parameters by name
Inputs = Mapping[str, Sequence[int]]  # input shapes by input name
DEFAULT_MAX_PARAMS = DEFAULT_LIMITS.max_params  # `build`/export's budget for a source that carries no limits


def _caller_stacklevel() -> int:
    """The `stacklevel` that makes a warning point at the first frame outside netspec (decorators vary)."""
    package = os.path.dirname(os.path.abspath(__file__))
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and os.path.abspath(frame.f_code.co_filename).startswith(package + os.sep):
        frame, level = frame.f_back, level + 1
    return level


def merge_params(function: str, params: Params | None, keywords: Mapping[str, Any]) -> dict[str, Any] | None:
    """`params=` with the deprecated keyword form (`build(spec, num_classes=10)`) folded in, warning once."""
    if not keywords:
        return dict(params) if params is not None else None
    shown = ", ".join(f"{name!r}: ..." for name in keywords)
    warnings.warn(
        f"passing parameters as keywords to `netspec.{function}` is deprecated and will be removed in the next"
        f" release: pass `params={{{shown}}}` (keywords collide with the function's own options)",
        DeprecationWarning,
        stacklevel=_caller_stacklevel(),
    )
    both = sorted(set(keywords) & set(params or {}))
    if both:
        raise TypeError(f"netspec.{function}: parameter {both[0]!r} given both in `params=` and as a keyword")
    return {**(params or {}), **keywords}


def merge_inputs(function: str, inputs: Inputs | None, input_shapes: Inputs | None) -> Inputs | None:
    """`inputs=` with the deprecated `input_shapes=` folded in, warning once."""
    if input_shapes is None:
        return inputs
    warnings.warn(
        f"`input_shapes=` of `netspec.{function}` is deprecated and will be removed in the next release:"
        " pass `inputs=` (the same mapping of input names to shapes)",
        DeprecationWarning,
        stacklevel=_caller_stacklevel(),
    )
    if inputs is not None:
        raise TypeError(f"netspec.{function}: give `inputs=` only (`input_shapes=` is its deprecated name)")
    return input_shapes


@within_budget
def load(source: str | os.PathLike[str] | Mapping[str, Any], *, limits: Limits | None = None) -> Spec:
    """Read and validate a spec: a path (.yaml/.yml/.json), a bundled name (`"resnet18"`) or a mapping.

    The graph is expanded with the default parameters, so references, cycles, op arguments and
    expressions are all checked. Raises `SpecError` listing every problem; warnings are on `spec.warnings`.

    `limits` (a `netspec.Limits`) bounds this load and everything later done with the spec it returns
    (`spec.limits`): expansion, the work of each call, the memory `build` and the exports may allocate.
    A `Spec` comes back as it is, unless `limits` differ from its own: then it is read again under
    them (its own text through every loader bound, its `extends` chain, expansion, this call's work
    budget; a spec made from a mapping, which no loader bound reads, is expanded again), and what
    passes one of them is a `SpecError` as for a first load.
    """
    if isinstance(source, Spec):
        return source if limits is None or limits == source.limits else _under_limits(source, limits)
    doc, path = read_source(source, limits=limits)
    with collector_paused():
        return _checked(spec_from_document(doc, path, limits=limits))


@within_budget
def loads(text: str | bytes, *, limits: Limits | None = None) -> Spec:
    """Read and validate a spec from YAML or JSON text; `limits` as for `load`."""
    doc, _ = read_source(text, limits=limits, text=True)
    with collector_paused():
        return _checked(spec_from_document(doc, None, limits=limits))


def _under_limits(spec: Spec, limits: Limits) -> Spec:
    """`spec` loaded again under `limits` (see `load`)."""
    texts = spec.source.texts
    if not texts:
        with collector_paused():
            return _checked(spec.with_limits(limits))
    file, text = next(iter(texts.items()))  # its own text comes first, then those of its `extends` chain
    strict = spec.path is not None and spec.path.suffix.lower() == ".json"
    doc = parse_text(text, file=file, limits=limits, strict_json=strict)
    with collector_paused():
        return _checked(spec_from_document(doc, spec.path, limits=limits))


def _checked(spec: Spec) -> Spec:
    """The spec with its graph expanded at the defaults (a new `Spec`; specs are never changed)."""
    if _has_required_params(spec):
        return spec
    graph = expand(spec)
    return spec.with_expansion(list(graph.warnings), graph)


def _graph(spec: Spec, params: Mapping[str, Any] | None) -> Graph:
    if not params and isinstance(spec.expanded, Graph):
        return spec.expanded
    return expand(spec, params or {})


def _has_required_params(spec: Spec) -> bool:
    return any(p.required for p in spec.params.values())


def _spec(source: Source) -> Spec:
    """The spec, parsed and validated but not yet expanded: the caller expands it with its parameters."""
    if isinstance(source, Spec):
        return source
    if isinstance(source, str) and locate(source).kind == "bundled":
        return _bundled(source)
    doc, path = read_source(source)
    return spec_from_document(doc, path)


@functools.lru_cache(maxsize=64)
def _bundled(name: str) -> Spec:
    """A bundled spec: its files ship with the package and never change, so each is read once."""
    return load(name)


def graph_of(source: Source | Graph, params: Params | None = None) -> Graph:
    """The expanded graph of a source (a `Graph` as it is: a caller that infers shapes more than
    once, as the summary does, expands once)."""
    return source if isinstance(source, Graph) else _graph(_spec(source), params)


def prepare(
    source: Source | Graph,
    params: Params | None = None,
    inputs: Inputs | None = None,
    *,
    concrete: bool = False,
) -> ShapeInfo:
    """Load, expand and infer shapes: everything `build` does before allocating."""
    graph = graph_of(source, params)
    with collector_paused():
        return infer(graph, inputs, concrete=concrete)


@within_budget
def infer_shapes(
    source: Source,
    /,
    *,
    params: Params | None = None,
    inputs: Inputs | None = None,
    **input_shapes: Sequence[int],
) -> dict[str, tuple[Any, ...]]:
    """The output shape of every input and node, by qualified name.

    Block instances (`layer1.0`) and repeats (`layer1`) are there too, with the shape of their output.
    Inputs not given in `inputs` keep their symbolic dimensions (`N`, `H`), which stay symbolic in the
    result. A node with several outputs is there with its first output's shape, and each output by number
    and by name (`lstm:0`, `lstm:output`, `lstm:h_n`, ...)::

        netspec.infer_shapes("resnet18", params={"num_classes": 10}, inputs={"x": (1, 3, 224, 224)})["fc"]
        # (1, 10)

    Input shapes given as keywords (`infer_shapes(spec, x=(1, 3, 224, 224))`) are deprecated.
    """
    if input_shapes:
        shown = ", ".join(f"{name!r}: ..." for name in input_shapes)
        warnings.warn(
            "passing input shapes as keywords to `netspec.infer_shapes` is deprecated and will be removed in the"
            f" next release: pass `inputs={{{shown}}}`",
            DeprecationWarning,
            stacklevel=_caller_stacklevel(),
        )
        if inputs is not None:
            raise TypeError("netspec.infer_shapes: give input shapes in `inputs=` only")
        inputs = input_shapes
    info = prepare(source, params, inputs)
    shapes = {**{k: tuple(v) for k, v in info.inputs.items()}, **{k: n.output for k, n in info.nodes.items()}}
    for name, node in info.nodes.items():
        for k, (port, shape) in enumerate(zip(node.port_names, node.ports)):
            shapes[f"{name}:{k}"] = shape
            shapes[f"{name}:{port}"] = shape
    shapes.update({alias: shapes[name] for alias, name in info.graph.aliases.items() if name in shapes})
    return shapes


@within_budget
def valid_sizes(source: Source, /, *, params: Params | None = None) -> dict[str, SizeLattice]:
    """For each symbolic input dimension a layer constrains, the sizes at which the network runs and fits::

    netspec.valid_sizes("unet")["H"]  # `H` = 188 + 16k (k >= 0): 188, 204, 220, ...
    """
    return _valid_sizes(prepare(source, params))


@within_budget
def count_params(
    source: Source, /, *, params: Params | None = None, inputs: Inputs | None = None, **keywords: Any
) -> int:
    """The number of parameters of the built model, computed from the spec alone (nothing allocated)::

        netspec.count_params("resnet18", params={"num_classes": 10})  # 11181642

    `inputs` matters where a layer's size follows from the input's (a `Linear` after a `Flatten`).
    Parameters given as keywords (`count_params(spec, num_classes=10)`) are deprecated.
    """
    return count_parameters(prepare(source, merge_params("count_params", params, keywords), inputs))


@within_budget
def validate(
    source: Source,
    /,
    *,
    params: Params | None = None,
    inputs: Inputs | None = None,
    input_shapes: Inputs | None = None,
) -> list[Diagnostic]:
    """Every check short of building: raises `SpecError` on errors, returns the warnings.

    Input sizes (the spec's `dims`, overridden by `inputs`) are checked against the conditions
    the layers put on them: a size at which a layer fails is an error, one at which a pooling drops
    rows or a centered crop is off by a pixel is a warning; both name the layer and the nearest sizes
    that fit::

        netspec.validate("unet", inputs={"x": (1, 1, 572, 572)})  # [] : no warnings

    `input_shapes=` is the deprecated name of `inputs=`.
    """
    input_shapes = merge_inputs("validate", inputs, input_shapes)
    spec = _spec(source)
    unset = _unset_params(spec, params)
    if unset:
        # A library spec: its names, ops and blocks were checked at load; the graph needs the values.
        bind_params(spec, params or {}, unset_ok=True)  # the values given are still checked
        return unset
    try:
        info = prepare(spec, params)  # symbolic sizes: the conditions every layer puts on them
    except SpecError:
        if not input_shapes:
            raise
        info = None  # only concrete sizes can be inferred (e.g. an op without a shape rule)
    found: list[Diagnostic] = []
    warnings: list[Diagnostic] = []
    if info is not None:
        warnings = list(info.graph.warnings) + list(info.warnings)
        sizes = {**spec.dims, **_given_sizes(info.graph, input_shapes)}
        found = _size_findings(info, sizes)
        budget = memory_budget_finding(info, registered=False)  # as `build` refuses it: a service validates first
        if budget is not None:
            found.append(budget)
        if any(d.is_error for d in found):
            raise SpecError(found + warnings, spec.source)
    if input_shapes:
        concrete = prepare(spec, params, input_shapes)
        budget = memory_budget_finding(concrete, registered=False)  # a layer sized by the input (Linear after Flatten)
        if budget is not None:
            raise SpecError([budget, *warnings, *found], spec.source)
        covered = {d.path for d in found}
        if info is None:
            warnings = list(concrete.graph.warnings)
        warnings += [d for d in concrete.warnings if d.path not in covered]
    return in_source_order(warnings + found)


def _unset_params(spec: Spec, params: Params | None) -> list[Diagnostic]:
    """A warning (NS122) for each parameter with no default that `params` does not give."""
    given = params or {}
    found = []
    for name, pdef in spec.params.items():
        if pdef.default is None and name not in given:
            found.append(
                Diagnostic(
                    f"parameter `{name}` has no default: names, ops and blocks are checked, the graph and "
                    "its shapes need a value",
                    path=f"params.{name}",
                    hint=f'give one to check the rest: `-p {name}=...` on the command line, `params={{"{name}": ...}}` '
                    "in Python",
                    severity="warning",
                    code="NS122",
                ).located(spec.source.span(("params", name), key=True))
            )
    return found


def _size_findings(info: ShapeInfo, sizes: Mapping[str, int]) -> list[Diagnostic]:
    if not info.constraints:
        return []
    lattices = SizeLattices(info)  # a symbol's lattice is computed only where a diagnostic reads it
    found = check_sizes(info, sizes, lattices) if sizes else []
    found += missing_dims(info, lattices, sizes)[1]
    for name in lattices:
        if name in sizes or lattices.fits_exactly(name, DEFAULT_EXAMPLE):
            continue  # given (checked above), or some size runs
        lattice = lattices[name]
        if not lattice.runs:
            culprit = first_impossible(info, name, lattice.limit)
            if culprit is None:
                diagnostic = Diagnostic(
                    f"no size of input dimension `{name}` works: {lattice.describe()}", code="NS202"
                )
                found.append(diagnostic.located(_symbol_span(info, name)))
                continue
            node, constraint = culprit
            message = f"`{node.name}`: no size of input dimension `{name}` up to {lattice.limit} works here: {constraint.text}"
            found.append(
                Diagnostic(message, path=format_path(node.path), code="NS202").located(
                    info.graph.sources.span(node.path)
                )
            )
    return found


def missing_dims(
    info: ShapeInfo, lattices: SizeLattices, sizes: Mapping[str, int]
) -> tuple[dict[str, int], list[Diagnostic]]:
    """Example sizes for the constrained symbols that have none (`dims`), and a warning for each.

    A summary and its MAC counts run at example sizes: for a symbol without one, size 1 where it
    fits, else the smallest size that fits exactly (else the smallest that runs), with a warning. `validate` and
    `summary` report the same warning (NS212), so they never disagree about such a spec.
    """
    chosen: dict[str, int] = {}
    found: list[Diagnostic] = []
    for name in lattices:
        if name in sizes or lattices.fits_exactly(name, DEFAULT_EXAMPLE):
            continue  # given, or the default example size fits, as for a 1x1 convolution
        lattice = lattices[name]
        if not lattice.runs:
            continue  # no size runs (NS202)
        size = (lattice.exact or lattice.runs)[0]
        chosen[name] = size
        message = (
            f"input dimension `{name}` has no example size in `dims`: summaries and MAC counts use "
            f"the smallest that fits, `{name}` = {size} ({lattice.describe()})"
        )
        found.append(
            Diagnostic(
                message,
                hint=f"add `dims: {{{name}: ...}}` with the size the network is meant for",
                severity="warning",
                code="NS212",
            ).located(_symbol_span(info, name))
        )
    return chosen, found


def example_shapes(
    source: Source | Graph,
    params: Mapping[str, Any] | None = None,
    input_shapes: Mapping[str, Sequence[int]] | None = None,
) -> tuple[dict[str, tuple[int, ...]] | None, list[Diagnostic]]:
    """The input shapes a summary uses: the given ones, `dims`, and for symbols with neither the
    smallest size that fits (with the NS212 warnings `validate` gives too); None when nothing is missing."""
    info = prepare(source, params)
    sizes = {**info.graph.spec.dims, **_given_sizes(info.graph, input_shapes)}
    if not info.constraints:
        return None, []
    chosen, warnings = missing_dims(info, SizeLattices(info), sizes)
    if not chosen:
        return None, []
    shapes: dict[str, tuple[int, ...]] = {k: tuple(v) for k, v in (input_shapes or {}).items()}
    for name, declared in info.graph.inputs.items():
        if name not in shapes:
            shapes[name] = tuple(
                d if isinstance(d, int) else chosen.get(d, sizes.get(d, DEFAULT_EXAMPLE)) for d in declared
            )
    return shapes, warnings


DEFAULT_EXAMPLE = 1  # the example size of an unconstrained symbol without `dims` (the batch `N`)


def _symbol_span(info: ShapeInfo, symbol: str) -> Span | None:
    """Where the first input that uses `symbol` declares it (else the spec's `inputs`)."""
    for input_name, dims in info.graph.spec.inputs.items():
        for index, dim in enumerate(dims):
            if dim == symbol:
                return info.graph.sources.span(("inputs", input_name, index))
    return info.graph.sources.span(("inputs",))


def _check_declared_sizes(info: ShapeInfo) -> None:
    """Refuse a spec whose own example sizes (`dims`) cannot run.

    Sizes that run but do not fit exactly (a pooling drops a row) are left to `validate`: they are
    common in classifiers and not worth a warning on every build.
    """
    sizes = info.graph.spec.dims
    if not info.constraints or not sizes:
        return
    if any(d.is_error for d in check_sizes(info, sizes, {})):
        errors = [d for d in check_sizes(info, sizes, SizeLattices(info)) if d.is_error]
        raise SpecError(errors, info.graph.sources)


def _given_sizes(graph: Graph, input_shapes: Mapping[str, Sequence[int]] | None) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for name, shape in (input_shapes or {}).items():
        for declared, actual in zip(graph.inputs.get(name, ()), shape):
            if isinstance(declared, str):
                sizes[declared] = int(actual)
    return sizes


@within_budget
def build(
    source: Source,
    *,
    params: Params | None = None,
    inputs: Inputs | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
    max_params: int | None = None,
    input_shapes: Inputs | None = None,
    weights: str | os.PathLike[str] | Mapping[str, torch.Tensor] | None = None,
    strict: bool = True,
    inference: bool = False,
    **keywords: Any,
) -> fx.GraphModule:
    """Compile a spec into a `torch.fx.GraphModule` with its parameters initialised::

        model = netspec.build("resnet18", params={"num_classes": 10})
        logits = model(torch.randn(2, 3, 224, 224))  # [2, 10]

    `params` override the spec's parameters. `source` may be given by keyword too
    (`build(source="resnet18")`), as Hydra's `instantiate` passes it. `inputs` gives the input shapes the model will be
    called with: their sizes are checked against what the layers accept (default: the spec's
    `dims`). A model with more than `max_params` parameter and buffer elements (default: the spec's
    `limits.max_params`, 2**31 unless it was loaded with other `limits`) is refused before anything is allocated.

    `weights` loads a state dict after building: a `.safetensors` file, a `.pt`/`.pth` file (read
    with `torch.load(weights_only=True)`, never unpickling code) or a mapping of tensors. Loading is
    strict by default: a missing, unexpected or mis-shaped key is a `SpecError` naming the spec node
    it belongs to; `strict=False` skips missing and unexpected keys. Dtypes and layouts are always
    checked (NS198): floating-point weights at another precision are cast; integer, bool, complex,
    sparse, quantized or meta tensors for a floating-point weight are refused.

    Parameters given as keywords (`build(spec, num_classes=10)`) and `input_shapes=` (the old name of
    `inputs=`) are deprecated.

    `inference=True` returns `netspec.optimize(model)` of the model built (weights loaded, moved to
    `device` and `dtype`): BatchNorm folded, convolutions fused and packed, for inference only.
    """
    params = merge_params("build", params, keywords)
    input_shapes = merge_inputs("build", inputs, input_shapes)
    info = prepare(source, params, input_shapes)
    check_memory_budget(info, max_params)
    if input_shapes is None:
        _check_declared_sizes(info)
    require_torch("build")
    from ._compile import compile_graph
    from ._weights import check_state_dict, load_weights, read_state_dict

    state = None
    if weights is not None:  # read before allocating: a bad file fails fast
        state = read_state_dict(weights) if isinstance(weights, (str, os.PathLike)) else check_state_dict(weights)
    module = compile_graph(info)
    if state is not None:
        file = None if weights is None or isinstance(weights, Mapping) else os.fspath(weights)
        load_weights(module, state, info.graph, strict=strict, file=file)
    if device is not None or dtype is not None:
        module = module.to(device=device, dtype=dtype)
    if inference:
        from ._optimize import optimize  # a tool on the built module: _api does not depend on it otherwise

        return optimize(module)
    return module


MEMORY_HINT = (
    "lower the widths, or raise the budget: `netspec.Limits(max_params=...)` when loading, `max_params=`"
    " of `build`/`export_python`, or `--max-params` on the command line"
)
TORCH_HINT = "pip install 'netspec[torch]' (or install torch itself)"


def require_torch(what: str) -> None:
    """Raise a `ModuleNotFoundError` that says how to install torch, when it is not installed."""
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        raise ModuleNotFoundError(
            f"netspec's `{what}` needs torch, which is not installed: {TORCH_HINT}; validating, summarising, "
            "drawing and the schema work without it",
            name="torch",
        )


def check_memory_budget(info: ShapeInfo, max_params: int | None = None) -> None:
    """Refuse, before anything is allocated, a model whose parameters and buffers (BatchNorm's
    running statistics) hold more than `max_params` elements in all (default: the spec's
    `limits.max_params`)."""
    finding = memory_budget_finding(info, max_params)
    if finding is not None:
        raise SpecError([finding], info.graph.sources)


def memory_budget_finding(
    info: ShapeInfo, max_params: int | None = None, *, registered: bool = True
) -> Diagnostic | None:
    """The NS190 error `build` would raise for `info` (parameters and buffers over `max_params`,
    default the spec's `limits.max_params`), located at the largest layer; None within the budget.
    Counted from the arguments alone, so `validate` and `summarize` report it as `build` does.
    Without `registered`, registered ops are left out: counting them makes a module on the meta
    device, which imports torch (`validate` never does; `build` counts them)."""
    if max_params is None:
        max_params = info.graph.spec.limits.max_params
    counts = tensor_elements(info, registered=registered)
    total = sum(counts.values())
    if total <= max_params:
        return None
    largest = max(counts, key=counts.__getitem__)
    return Diagnostic(
        f"the model has {total:,} parameters and buffer elements, over the budget of {max_params:,} (the largest layer, `{largest}`, has {counts[largest]:,})",
        hint=MEMORY_HINT,
        code="NS190",
    ).located(info.graph.sources.span(info.nodes[largest].node.path))
