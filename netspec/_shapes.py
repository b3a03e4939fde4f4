"""Static shape inference over the expanded graph, before any parameter exists.

Spatial dimensions may stay symbolic (`H`, `W`): the shape rules then record the conditions an input
size must meet, from which `valid_sizes` derives the lattice of sizes a network fits exactly.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ._dims import (
    Constraint,
    Dim,
    Ports,
    Shape,
    ShapeCheck,
    ShapeError,
    SizeVector,
    Sym,
    Values,
    contiguous_strides,
    format_shape,
    is_concrete,
    magnitude,
    sym,
    tightest,
    view_strides,
)
from ._errors import Diagnostic, SourceMap, Span, SpecError, format_path
from ._graph import Graph, GraphNode, live_nodes
from ._ops import OpDef, complete_args
from ._work import (
    LATTICE_EVALUATIONS_PER_UNIT,
    LATTICE_LIST_EVALUATION,
    LATTICE_SIZE_EVALUATIONS,
    SHAPE_UNITS_PER_DIM,
    charge,
    per_unit,
)

__all__ = [
    "MAX_DIM",
    "NodeInfo",
    "ShapeInfo",
    "SizeLattice",
    "SizeLattices",
    "count_parameters",
    "infer",
    "node_buffers",
    "tensor_elements",
    "valid_sizes",
]

DEFAULT_BATCH = 1
SIZE_SEARCH_LIMIT = 2048
MAX_SIZE_SEARCH = 1 << 20  # sizes searched at most, whatever the spec's example size
NUMPY_SEARCH_FROM = 1 << 14  # searches this long use numpy where it is installed (lists are fast enough below)
MAX_DIM = 1 << 48  # the largest dimension any input or node may have (a bound on its coefficients when symbolic)


@dataclasses.dataclass
class NodeInfo:
    """A node with its complete arguments (defaults and inferred values) and its shapes."""

    node: GraphNode
    args: dict[str, Any]
    inputs: list[Shape]
    output: Shape  # the first output's shape when the node has several
    ports: tuple[Shape, ...] = ()  # every output's shape, when the node has several
    port_names: tuple[str, ...] = ()

    @property
    def outputs(self) -> tuple[Shape, ...]:
        """The shapes of the node's outputs: one, or one per port."""
        return self.ports or (self.output,)


@dataclasses.dataclass
class ShapeInfo:
    """The result of shape inference."""

    graph: Graph
    inputs: dict[str, Shape]
    nodes: dict[str, NodeInfo]
    constraints: list[tuple[GraphNode, Constraint]]
    warnings: list[Diagnostic]

    def shape(self, name: str) -> Shape:
        """The shape of an input, a node, or port `k` of a node (`name:k`)."""
        if name in self.inputs:
            return self.inputs[name]
        base, _, port = name.partition(":")
        info = self.nodes[base]
        return info.ports[int(port)] if port else info.output

    @property
    def outputs(self) -> list[Shape]:
        return [self.shape(name) for name in self.graph.outputs]

    @property
    def symbols(self) -> set[str]:
        """The symbolic dimensions the inputs still have (`N`, `H`, ...)."""
        names: set[str] = set()
        for shape in self.inputs.values():
            for d in shape:
                if isinstance(d, Sym):
                    names |= set(d.variables)
        return names


def _declared_shapes(graph: Graph, given: Mapping[str, Sequence[int]] | None, concrete: bool) -> dict[str, Shape]:
    """Input shapes: symbols stay symbolic unless `given`, or `concrete` asks for the spec's example sizes."""
    spec = graph.spec
    diagnostics = []
    given = dict(given or {})
    for name in given:
        if name not in graph.inputs:
            diagnostics.append(
                Diagnostic(
                    f"unknown input `{name}`",
                    path=f"inputs.{name}",
                    hint=f"the inputs are: {', '.join(graph.inputs)}",
                    code="NS170",
                )
            )
    bound: dict[str, tuple[int, str]] = {}  # symbol -> (size, the input that fixed it)
    shapes: dict[str, Shape] = {}
    for name, declared in graph.inputs.items():  # given inputs first: they fix the symbols
        if name in given:
            problem = _bind(name, declared, tuple(given[name]), bound)
            if problem:
                path = ("inputs", name)
                diagnostics.append(
                    Diagnostic(problem, path=format_path(path), code="NS171").located(spec.source.span(path))
                )
            else:
                shapes[name] = tuple(given[name])
    for name, declared in graph.inputs.items():
        if name in given:
            continue
        shape: list[Dim] = []
        for d in declared:
            if isinstance(d, str) and d in bound:
                shape.append(bound[d][0])  # the same symbol is the same size in every input
            elif isinstance(d, str):
                example = spec.dims.get(d, DEFAULT_BATCH)
                shape.append(example if concrete else sym(d))
            else:
                shape.append(d)
        shapes[name] = tuple(shape)
    if diagnostics:
        raise SpecError(diagnostics, spec.source)
    return shapes


def _bind(
    name: str, declared: tuple[int | str, ...], actual: tuple[Any, ...], bound: dict[str, tuple[int, str]]
) -> str | None:
    """Check a given input shape against its declaration, binding its symbols; a message if it does not fit."""
    where = f"input `{name}` has shape {format_shape(declared)}"
    if len(actual) != len(declared):
        return f"{where}; {format_shape(actual)} has {len(actual)} dimensions, not {len(declared)}"
    if not all(isinstance(a, int) and not isinstance(a, bool) and a >= 1 for a in actual):
        return f"{where}; {format_shape(actual)} is not a shape of whole numbers >= 1"
    for d, a in zip(declared, actual):
        if isinstance(d, int) and d != a:
            return f"{where}; {format_shape(actual)} does not fit it ({a} where it says {d})"
        if isinstance(d, str):
            size, source = bound.setdefault(d, (a, name))
            if size != a:
                return f"{where}; {format_shape(actual)} gives `{d}` = {a}, but input `{source}` gives `{d}` = {size}"
    return None


def infer(
    graph: Graph, input_shapes: Mapping[str, Sequence[int]] | None = None, *, concrete: bool = False
) -> ShapeInfo:
    """Shapes of every node. Symbolic inputs stay symbolic unless given or `concrete` (the spec's `dims`)."""
    inputs = _declared_shapes(graph, input_shapes, concrete)
    shapes: dict[str, Shape] = dict(inputs)
    infos: dict[str, NodeInfo] = {}
    constraints: list[tuple[GraphNode, Constraint]] = []
    diagnostics: list[Diagnostic] = []
    sources = graph.sources
    for name, shape in inputs.items():
        if any(magnitude(d) > MAX_DIM for d in shape):
            diagnostics.append(
                Diagnostic(
                    f"input `{name}` has a dimension larger than {MAX_DIM:,} (2**48)",
                    path=f"inputs.{name}",
                    code="NS205",
                ).located(sources.span(("inputs", name)))
            )
    if diagnostics:
        raise SpecError(diagnostics + graph.warnings, sources)
    symbols = _symbol_sizes(graph, inputs)
    read_shapes = graph.read_shapes
    # What is known of the values of the inputs, nodes and ports that know something: inputs are contiguous.
    known: dict[str, Values] = {name: Values(strides=contiguous_strides(shape)) for name, shape in inputs.items()}
    unknown = Values()
    for node in graph.order:
        missing = [i for i in node.inputs if i not in shapes]
        if missing:
            diagnostics.extend(_missing_ports(node, missing, infos, sources))
            continue  # an input failed; its error is reported
        in_shapes = [shapes[i] for i in node.inputs]
        charge(
            "shape inference",
            SHAPE_UNITS_PER_DIM * (1 + sum(len(s) for s in in_shapes)),
            where=functools.partial(_node_place, sources, node),
        )
        read = read_shapes.get(node.name)
        try:
            if read is not None and not node.op.symbolic and read.inputs == tuple(in_shapes):
                # An expression read this shape during expansion: the rule ran then, for these input shapes.
                args, output, check = dict(read.args), read.output, read.check
            else:
                check = ShapeCheck()
                args = complete_args(node.op, node.args, in_shapes)
                for name in node.op.symbolic:
                    args[name] = _sized(node.op.name, name, args[name], symbols)
                output = node.op.shape(in_shapes, args, check)
            given = [known.get(i, unknown) for i in node.inputs]
            values = (
                node.op.values(given, args, in_shapes, output)
                if node.op.values is not None
                else _layout_values(node.op, given, args, in_shapes, output)
            )
            values = _dtype_values(node, args, given, in_shapes, values)
        except ShapeError as err:
            where = ", ".join(f"`{i}` {format_shape(s)}" for i, s in zip(node.inputs, in_shapes))
            at = (*node.path, err.arg) if err.arg is not None and err.arg in node.args else node.path
            diagnostics.append(
                Diagnostic(
                    f"`{node.name}`: {err.message}",
                    path=format_path(at),
                    hint=err.hint or f"its input: {where}",
                    code=err.code or "NS200",
                ).located(sources.span(at))
            )
            continue
        for message in check.warnings:
            diagnostics.append(
                Diagnostic(
                    f"`{node.name}`: {message}", path=format_path(node.path), code="NS210", severity="warning"
                ).located(sources.span(node.path))
            )
        if isinstance(output, Ports):  # every output is a shape to keep and check: charged as input dimensions are
            charge(
                "shape inference",
                SHAPE_UNITS_PER_DIM * sum(1 + len(s) for s in output.shapes),
                where=functools.partial(_node_place, sources, node),
            )
        dims = [d for port in output.shapes for d in port] if isinstance(output, Ports) else list(output)
        too_large = next((d for d in dims if magnitude(d) > MAX_DIM), None)
        if too_large is not None:
            text = f"{too_large:,}" if isinstance(too_large, int) else str(too_large)
            shown = text if len(text) < 80 else None
            diagnostics.append(
                Diagnostic(
                    f"`{node.name}` makes a dimension larger than {MAX_DIM:,} (2**48)"
                    + (f": {shown}" if shown else f" (about 2**{max(magnitude(too_large).bit_length() - 1, 48)})"),
                    path=format_path(node.path),
                    hint="check the strides, scale factors and sizes of the layers up to here",
                    code="NS205",
                ).located(sources.span(node.path))
            )
            continue
        constraints.extend((node, c) for c in check.constraints)
        if values != unknown:
            known[node.name] = values
        if isinstance(output, Ports):
            ports = tuple(tuple(s) for s in output.shapes)
            for k, port_shape in enumerate(ports):
                shapes[f"{node.name}:{k}"] = port_shape
                if values != unknown:
                    known[f"{node.name}:{k}"] = values
            first = ports[0] if ports else ()
            shapes[node.name] = first
            infos[node.name] = NodeInfo(node, args, in_shapes, first, ports, tuple(output.names))
        else:
            shapes[node.name] = tuple(output)
            infos[node.name] = NodeInfo(node, args, in_shapes, tuple(output))
    for i, ref in enumerate(graph.outputs):
        base = ref.partition(":")[0]
        if ref not in shapes and base in infos:
            count = len(infos[base].ports)
            path = ("outputs", i)
            diagnostics.append(
                Diagnostic(
                    f"`{ref}`: `{base}` has {count} outputs (0..{count - 1})", path=format_path(path), code="NS200"
                ).located(sources.span(path))
            )
    if any(d.is_error for d in diagnostics):
        raise SpecError(diagnostics + graph.warnings, sources)
    diagnostics.extend(_out_of_place(graph, infos))
    return ShapeInfo(graph, inputs, infos, constraints, diagnostics)


# Views that map elements one to one (not `expand`): an in-place op may write through them to a tensor
# that only they read.
_ONE_TO_ONE_VIEWS = frozenset(
    {"Flatten", "Unflatten", "reshape", "view", "unsqueeze", "squeeze", "permute", "transpose", "index", "slice"}
)

# Ops whose output is a new tensor that nothing else holds and that their backward does not read, so an
# in-place op may overwrite it (checked against torch, forward and backward, by tests/test_inplace.py).
# Not here: views and aliases (`transpose`, `Flatten`, `Identity`, `Dropout` in eval, the pieces of
# `split`), ops whose backward reads their output (`ReLU`, `Sigmoid`, `Tanh`, `exp`, `Softmax`), and
# ops not checked.
_FRESH_OUTPUT = frozenset(
    {
        *(f"{kind}{n}d" for kind in ("Conv", "ConvTranspose", "BatchNorm", "InstanceNorm") for n in (1, 2, 3)),
        *(f"{kind}Pool{n}d" for kind in ("Max", "Avg", "AdaptiveMax", "AdaptiveAvg") for n in (1, 2, 3)),
        "Linear", "GroupNorm", "LayerNorm", "PReLU", "Upsample", "ZeroPad2d", "PixelShuffle",
        "add", "mul", "concat", "matmul", "linear", "pad", "interpolate", "mean", "normalize", "clamp",
        "GELU", "SiLU", "ELU", "CELU", "SELU", "LeakyReLU", "ReLU6", "Hardtanh", "Hardswish", "Hardsigmoid",
        "Mish", "Softplus",
    }
)  # fmt: skip


def _out_of_place(graph: Graph, infos: dict[str, NodeInfo]) -> list[Diagnostic]:
    """Run out of place (`inplace` made false in the node's arguments) every in-place op that could
    change what the spec means: one whose input is a network input (the caller's tensor), is read by
    another node or is an output, or is made by an op whose output is a view, an alias or read by its
    backward (see `_FRESH_OUTPUT`). A warning (NS213) at `inplace` for each."""
    readers: dict[str, list[str]] = {}
    for node in graph.nodes:
        for ref in dict.fromkeys(node.inputs):
            readers.setdefault(ref.partition(":")[0], []).append(node.name)
    for ref in graph.outputs:
        readers.setdefault(ref.partition(":")[0], []).append("")
    found = []
    for name, info in infos.items():
        if info.args.get("inplace") is not True or not info.node.inputs:
            continue
        node = info.node
        why = _why_not_in_place(graph, infos, readers, name, node.inputs[0])
        if why is None:
            continue
        info.args = {**info.args, "inplace": False}
        at = node.path + ("inplace",)
        found.append(
            Diagnostic(
                f"`{name}` runs out of place: {why}",
                path=format_path(at),
                hint="drop `inplace: true` (the result is the same, in place or not, where netspec keeps it)",
                code="NS213",
                severity="warning",
            ).located(graph.sources.span(at) or graph.sources.span(node.path))
        )
    return found


def _why_not_in_place(
    graph: Graph, infos: dict[str, NodeInfo], readers: dict[str, list[str]], name: str, ref: str
) -> str | None:
    """Why node `name` may not overwrite its input `ref` (None: it may). The walk goes up through views
    that only one node reads, so each node is walked for one in-place op at most (linear in all)."""
    reader = name
    while True:
        base, _, port = ref.partition(":")
        others = [r for r in readers.get(base, [])[:2] if r != reader]  # each reader is listed once
        producer = infos.get(base)
        if base in graph.inputs:
            return f"its input `{ref}` is an input of the network: in place, it would overwrite the caller's tensor"
        if producer is None or port:
            return f"its input `{ref}` is one of the outputs of `{base}`, views that torch does not let it modify"
        if others:
            other = f"read by `{others[0]}`" if others[0] else "an output of the network"
            return f"`{ref}`, which it overwrites, is also {other}, which would see the overwritten values"
        op = producer.node.op.name
        if op in _ONE_TO_ONE_VIEWS and producer.node.inputs:
            reader, ref = base, producer.node.inputs[0]
            continue
        if op not in _FRESH_OUTPUT or producer.args.get("inplace") is True:
            return (
                f"`{ref}`, which it overwrites, is made by `{op}`, whose output may be a view of its input "
                "or be read again by its backward pass"
            )
        return None


# -- layout in memory (what `view` needs) -----------------------------------------------------------
# For the ops that do not say it themselves (`OpDef.values`): which keep their input's layout, which
# view it, and which make a new tensor. Checked against torch by tests/security/test_torch_agrees.py.

# Elementwise ops that return their input itself in eval mode (or in place): the very same layout.
_ALIASES = frozenset({"Identity", "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "StochasticDepth"})
# Elementwise ops that compute a new tensor: torch lays it out as its input (a permuted, dense input gives
# a permuted output), and a tensor with gaps (a crop) in its dimensions' order, without the gaps.
_ELEMENTWISE = frozenset(
    {
        "ReLU", "ReLU6", "LeakyReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish", "Sigmoid", "Tanh",
        "Hardswish", "Hardsigmoid", "Hardtanh", "Softplus", "PReLU", "scale", "clamp", "exp", "normalize",
    }
)  # fmt: skip
_BROADCAST = frozenset({"add", "mul"})
_NARROWS = frozenset({"crop"})  # views of a window of the input: its strides
_SPLITS_DIM = frozenset({"Unflatten"})  # a view of the input, one dimension split
_RESHAPES = frozenset({"Flatten"})  # `torch.flatten`: a view where torch can make one, else a copy
# Ops whose outputs have layouts of their own (batch-first outputs are transposed views): not known.
_OWN_LAYOUT = frozenset({"LSTM", "GRU", "MultiheadAttention", "ScaledDotProductAttention", "LayerNorm2d"})


def _layout_values(op: OpDef, values: list[Values], args: dict[str, Any], shapes: list[Shape], output: Any) -> Values:
    """What is known of the output's layout, for an op that does not say it: new ops of the catalog make
    a contiguous tensor of contiguous inputs; nothing is known of a registered op's output."""
    from ._ops import builtin_ops  # the catalog, read once it is made

    builtin = builtin_ops().get(op.name)
    if isinstance(output, Ports) or op.name in _OWN_LAYOUT or builtin is None or builtin is not op:
        return Values()
    strides = [v.strides for v in values]
    known = all(s is not None for s in strides) and len(strides) == len(shapes)
    out: tuple[Dim, ...] | None = None
    if not values or not known:
        out = contiguous_strides(output) if not values and op.kind != "module" else None
    elif op.name in _ALIASES or (op.name in _ELEMENTWISE and args.get("inplace") is True):
        out = strides[0]
    elif op.name in _ELEMENTWISE:
        out = _elementwise_strides(shapes[0], strides[0])  # type: ignore[arg-type]
    elif op.name in _BROADCAST:
        same = all(tuple(s) == tuple(output) for s in shapes) and all(s == strides[0] for s in strides)
        if all(s == contiguous_strides(shape) for s, shape in zip(strides, shapes)):
            out = contiguous_strides(output)
        elif same:
            out = _elementwise_strides(shapes[0], strides[0])  # type: ignore[arg-type]
    elif op.name in _NARROWS:
        out = strides[0]
    elif op.name in _SPLITS_DIM:  # one dimension split in several: always a view
        axis = int(args["dim"]) % len(shapes[0])
        count = len(output) - len(shapes[0]) + 1
        inner: list[Dim] = [strides[0][axis]]  # type: ignore[index]
        for size in reversed(output[axis + 1 : axis + count]):
            inner.insert(0, inner[0] * size)
        out = strides[0][:axis] + tuple(inner) + strides[0][axis + 1 :]  # type: ignore[index]
    elif op.name in _RESHAPES:
        out = view_strides(shapes[0], strides[0], output) or contiguous_strides(output)  # type: ignore[arg-type]
    elif all(s == contiguous_strides(shape) for s, shape in zip(strides, shapes)) or not any(
        _channels_last(shape, s) for s, shape in zip(strides, shapes) if s is not None
    ):
        out = contiguous_strides(output)  # a layer copies a strided input to a contiguous one first
    if not values:
        return Values(strides=out)
    return values[0] if values[0].strides is out else dataclasses.replace(values[0], strides=out)


def _channels_last(shape: Shape, strides: tuple[Dim, ...]) -> bool:
    """A batch of maps whose channels may be innermost in memory: torch's layers keep such a layout
    (`channels_last`), so their output is not known to be contiguous."""
    return len(shape) in (3, 4, 5) and shape[1] != 1 and strides[1] == 1  # 1-d pools run as 2-d ones


# -- dtypes --------------------------------------------------------------------------------------------
# A network input holds what the caller passes: float32, the dtype of every layer's weights (None here).
# `Parameter`/`Buffer` may be float64, float16 or bfloat16; what their values reach is checked here.
_PROMOTES = frozenset({"add", "mul", "concat"})  # torch's type promotion
_SAME_DTYPE = {
    "matmul": "expected m1 and m2 to have the same dtype",
    "linear": "expected m1 and m2 to have the same dtype",
}
_FLOAT_RANK = {"float16": 1, "bfloat16": 1, "float32": 2, "float64": 3}
# Layers with weights compute in float32; norm layers also take float16/bfloat16 (not float64) on CPU.
_NORMS = ("BatchNorm", "GroupNorm", "LayerNorm", "InstanceNorm")
_LAYER_WORDS = {
    "Conv": "Input type (double) and bias type (float) should be the same",
    "ConvTranspose": "expected scalar type Double but found Float",
    "Linear": "mat1 and mat2 must have the same dtype",
    "PReLU": "prelu: Type promoting not supported",
    **dict.fromkeys(_NORMS, "mixed dtype (CPU): all inputs must share same datatype"),
}


def _promoted(values: list[Values], shapes: list[Shape]) -> Values:
    """torch's promotion of floating dtypes (a 0-dimensional tensor does not promote a dimensioned one);
    an input's unknown dtype counts as float32, and float32 is written None."""
    dimensioned = [v for v, shape in zip(values, shapes) if shape] or values
    best: Values | None = None
    for v in dimensioned:
        dtype = v.dtype if v.dtype in _FLOAT_RANK else "float32"
        if best is None:
            best = v if v.dtype in _FLOAT_RANK else Values()
        elif _FLOAT_RANK[dtype] > _FLOAT_RANK[best.dtype or "float32"]:
            best = v
        elif dtype != (best.dtype or "float32") and _FLOAT_RANK[dtype] == _FLOAT_RANK[best.dtype or "float32"]:
            best = Values()  # float16 with bfloat16: float32
    return best or Values()


def _dtype_values(
    node: GraphNode, args: dict[str, Any], given: list[Values], shapes: list[Shape], values: Values
) -> Values:
    """The output's dtype (and where a non-float32 one comes from); refuses inputs whose dtypes the op
    cannot take, at the node, with torch's words."""
    op = node.op
    if op.kind == "tensor":
        return dataclasses.replace(values, origin=node.name) if values.dtype not in (None, "float32") else values
    floats = [v for v in given if v.dtype in _FLOAT_RANK]
    if op.name in _PROMOTES and floats:
        found = _promoted(given, shapes)
        return dataclasses.replace(values, dtype=found.dtype, origin=found.origin)
    if op.name in _SAME_DTYPE and floats:
        kinds = {v.dtype or "float32" for v in given}
        if len(kinds) > 1:
            odd = next(v for v in given if v.dtype not in (None, "float32"))
            raise ShapeError(
                f"`{op.name}` multiplies tensors of different dtypes: "
                + ", ".join(f"`{i}` {v.dtype or 'float32'}" for i, v in zip(node.inputs, given))
                + (f" (the {odd.dtype} comes from `{odd.origin}`)" if odd.origin else "")
                + f'; torch: "{_SAME_DTYPE[op.name]}"',
                f"give `{odd.origin}` `dtype: float32`" if odd.origin else None,
            )
        return dataclasses.replace(values, dtype=floats[0].dtype, origin=floats[0].origin)
    if op.kind != "module" or not given:
        return values
    first = given[0]
    if first.dtype is None:  # float32 in, float32 out, with or without weights: nothing to count
        return dataclasses.replace(values, dtype=None, origin=None)
    from ._ops import builtin_ops  # the catalog, read once it is made

    if builtin_ops().get(op.name) is not op:  # a registered op: counting its weights would import torch
        return dataclasses.replace(values, dtype=first.dtype, origin=first.origin)
    weighted = (op.param_count is not None and op.param_count(args) > 0) or (
        op.buffer_count is not None and op.buffer_count(args) > 0
    )
    if not weighted:
        return dataclasses.replace(values, dtype=first.dtype, origin=first.origin)
    if op.name.startswith("Embedding") or first.dtype in (None, "float32"):
        return dataclasses.replace(values, dtype=None, origin=None)  # the dtype of its weights
    norm = op.name.startswith(_NORMS)
    if norm and first.dtype != "float64":
        return dataclasses.replace(values, dtype=first.dtype, origin=first.origin)
    family = next((k for k in sorted(_LAYER_WORDS, key=len, reverse=True) if op.name.startswith(k)), None)
    said = f'; torch: "{_LAYER_WORDS[family]}"' if family else ""
    raise ShapeError(
        f"`{op.name}` computes in float32, the dtype of its weights, and its input `{node.inputs[0]}` is "
        f"{first.dtype}{f' (from `{first.origin}`)' if first.origin else ''}{said}",
        f"give `{first.origin}` `dtype: float32`" if first.origin else None,
    )


def _elementwise_strides(shape: Shape, strides: tuple[Dim, ...]) -> tuple[Dim, ...] | None:
    """The layout torch gives the result of an elementwise op on a tensor of `shape` and `strides`: the
    same where the input is dense (contiguous, or a permutation of a contiguous tensor), contiguous where
    its dimensions are in memory order (a crop of a contiguous tensor); otherwise not known."""
    if strides == contiguous_strides(shape) or _dense(shape, strides):  # the first: the common case, no product
        return strides
    kept = [stride for size, stride in zip(shape, strides) if size != 1]
    if all(isinstance(stride, int) and stride > 0 for stride in kept) and kept == sorted(kept, reverse=True):  # type: ignore[type-var]
        return contiguous_strides(shape)
    return None


def _dense(shape: Shape, strides: tuple[Dim, ...]) -> bool:
    """The dimensions of size other than 1 are a permutation of a contiguous tensor's: no gap, no overlap."""
    left = [(size, stride) for size, stride in zip(shape, strides) if size != 1]
    expected: Dim = 1
    while left:  # the innermost dimension has stride 1, the next the product of the sizes inside it
        found = next((i for i, (_, stride) in enumerate(left) if stride == expected), None)
        if found is None:
            return False
        size, _ = left.pop(found)
        expected = expected * size
    return True


def _node_place(sources: SourceMap, node: GraphNode) -> tuple[SourceMap, Span | None, str]:
    return sources, sources.span(node.path), format_path(node.path)


def _symbol_sizes(graph: Graph, inputs: Mapping[str, Shape]) -> dict[str, Dim]:
    """Each input symbol's size: the dimension of the first input that declares it."""
    sizes: dict[str, Dim] = {}
    for name, declared in graph.inputs.items():
        for axis, dim in enumerate(declared):
            if isinstance(dim, str) and dim not in sizes:
                sizes[dim] = inputs[name][axis]
    return sizes


def _sized(op: str, arg: str, value: Any, symbols: Mapping[str, Dim]) -> Any:
    """An argument's sizes with the input symbols it names (`N`) replaced by their sizes."""
    if not isinstance(value, (list, tuple)):
        return value
    out: list[Any] = []
    for item in value:
        if isinstance(item, str):
            if item not in symbols:
                known = ", ".join(f"`{s}`" for s in symbols) or "none"
                raise ShapeError(
                    f"`{item}` in `{arg}` of `{op}` is not a symbol of the inputs",
                    f"the inputs' symbols are: {known}; or write a number, or -1 for the size that is left",
                )
            out.append(symbols[item])
        else:
            out.append(item)
    return out


def _missing_ports(
    node: GraphNode, missing: list[str], infos: Mapping[str, NodeInfo], sources: Any
) -> list[Diagnostic]:
    """Diagnostics for inputs `name:k` that name an output their node does not have."""
    found = []
    for ref in missing:
        base, _, port = ref.partition(":")
        info = infos.get(base)
        if not port or info is None:
            continue  # the producer failed; its error is reported
        count = len(info.ports)
        index = node.inputs.index(ref)
        path = node.path + ("in", index) if sources.span(node.path + ("in", index)) else node.path
        found.append(
            Diagnostic(
                f"`{node.name}` reads output {port} of `{base}`, which has {count} output{'s' if count != 1 else ''} "
                f"(0..{count - 1}) for its input {format_shape(info.inputs[0]) if info.inputs else ''}".rstrip(),
                path=format_path(path),
                code="NS200",
            ).located(sources.span(path))
        )
    return found


# --- sizes --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SizeLattice:
    """The sizes of one symbolic dimension at which the network runs, and those it fits exactly.

    `exact` holds sizes up to `limit` at which no layer drops rows and every crop is centered.
    """

    symbol: str
    runs: tuple[int, ...]
    exact: tuple[int, ...]
    limit: int

    def __contains__(self, size: int) -> bool:
        return size in self.exact if size <= self.limit else self._periodic(size)

    @functools.cached_property
    def period(self) -> int | None:
        return _period(self.exact, self.limit)

    def _periodic(self, size: int) -> bool:
        period = self.period
        if not period or not self.exact:
            return False
        return any((size - s) % period == 0 for s in self.exact[-period:])

    def nearest(self, size: int, count: int = 2) -> list[int]:
        """The valid sizes closest to `size` (one below and one above when they exist)."""
        below = [s for s in self.exact if s < size][-1:]
        above = [s for s in self.exact if s > size][:1]
        return (below + above)[:count] if count else below + above

    def __repr__(self) -> str:
        return f"SizeLattice({self.symbol!r}: {self.describe()})"

    def describe(self) -> str:
        """The sizes that fit exactly, then (when they differ) those that only run."""
        exact = self._describe_exact()
        if not self.exact or set(self.runs) == set(self.exact):
            return exact
        first = self.runs[0]
        contiguous = self.runs[-1] - first + 1 == len(self.runs)
        others = f"other sizes >= {first}" if contiguous else "some other sizes"
        return f"{exact} ({others} run, but drop rows or crop off-center)"

    def _describe_exact(self) -> str:
        if not self.exact:
            return (
                f"no size of `{self.symbol}` up to {self.limit} fits"
                if not self.runs
                else f"no size of `{self.symbol}` up to {self.limit} fits exactly (it runs from {self.runs[0]})"
            )
        first, period = self.exact[0], self.period
        if period == 1:
            return f"any `{self.symbol}` >= {first}"
        if period and all(s % period == first % period for s in self.exact):
            shown = ", ".join(str(s) for s in self.exact[:3])
            return f"`{self.symbol}` = {first} + {period}k (k >= 0): {shown}, ..."
        if period:
            residues = sorted({s % period for s in self.exact})
            return (
                f"`{self.symbol}` >= {first} with `{self.symbol}` mod {period} in {{{', '.join(map(str, residues))}}}"
            )
        shown = ", ".join(str(s) for s in self.exact[:8])
        return f"`{self.symbol}` in {{{shown}{', ...' if len(self.exact) > 8 else ''}}}"


def _period(sizes: Sequence[int], limit: int) -> int | None:
    """The smallest p <= half the range such that, above the first size, n fits iff n + p fits
    (within `limit`). The smallest period of the fit/no-fit string from the first size to `limit`
    is its length minus its longest border (KMP's prefix function): linear in `limit`."""
    if len(sizes) < 2:
        return None
    present = set(sizes)
    first = sizes[0]
    bits = [n in present for n in range(first, limit + 1)]
    border = [0] * len(bits)
    k = 0
    for i in range(1, len(bits)):
        while k and bits[i] != bits[k]:
            k = border[k - 1]
        if bits[i] == bits[k]:
            k += 1
        border[i] = k
    period = len(bits) - border[-1]
    return period if period <= (limit - first) // 2 else None


def _constraint_symbols(constraint: Constraint) -> set[str]:
    names: set[str] = set()
    for dim in constraint.dims:
        if isinstance(dim, Sym):
            names |= set(dim.variables)
    return names


def valid_sizes(info: ShapeInfo, *, limit: int = SIZE_SEARCH_LIMIT) -> dict[str, SizeLattice]:
    """For each symbolic input dimension that some layer constrains, the sizes that run and fit."""
    return dict(SizeLattices(info, limit=limit))


class SizeLattices(Mapping[str, SizeLattice]):
    """`valid_sizes` as a mapping that computes each symbol's lattice when it is first read.

    The keys (the constrained symbols, sorted) are known at once; a lattice costs one evaluation of each
    distinct constraint over every size searched, so a check that reads none (every size given fits)
    pays for none. `fits_exactly` answers for one size without the lattice where it can.
    """

    def __init__(self, info: ShapeInfo, *, limit: int = SIZE_SEARCH_LIMIT) -> None:
        self._info = info
        self._limit = limit
        self._example = {**dict.fromkeys(info.symbols, DEFAULT_BATCH), **info.graph.spec.dims}
        by_symbol: dict[str, list[Constraint]] = {}
        for _, constraint in info.constraints:
            for name in _constraint_symbols(constraint):
                by_symbol.setdefault(name, []).append(constraint)
        # Equal conditions are evaluated once, and of positivity conditions that differ only by a
        # constant (a chain of unpadded convolutions) only the tightest: one evaluation, not one per layer.
        self._unique = {name: tightest(constraints) for name, constraints in sorted(by_symbol.items())}
        self._lattices: dict[str, SizeLattice] = {}
        self.evaluations = 0  # constraints evaluated over a vector of sizes (for the tests that count work)

    def __getitem__(self, name: str) -> SizeLattice:
        lattice = self._lattices.get(name)
        if lattice is None:
            upto = self._upto(name)
            sizes = _sizes_upto(upto)
            runs, exact = self._masks(name, sizes)
            values = list(sizes)
            lattice = SizeLattice(name, tuple(_chosen(values, runs)), tuple(_chosen(values, exact & runs)), upto)
            self._lattices[name] = lattice
        return lattice

    def __iter__(self) -> Iterator[str]:
        return iter(self._unique)

    def __len__(self) -> int:
        return len(self._unique)

    def fits_exactly(self, name: str, size: int) -> bool:
        """Whether `size` is in `self[name].exact`, from the conditions at that one size unless the lattice is known."""
        upto = self._upto(name)
        if name in self._lattices or not 1 <= size <= upto or upto >= NUMPY_SEARCH_FROM:
            return size in self[name].exact  # numpy's overflow rules apply to long searches: the same path
        runs, exact = self._masks(name, SizeVector([size]))
        return bool(_chosen([size], exact & runs))

    def _upto(self, name: str) -> int:
        # Past the spec's example size (audio: 8000), but never so far that the search itself is a memory bomb.
        return max(self._limit, min(2 * self._info.graph.spec.dims.get(name, 0), MAX_SIZE_SEARCH))

    def _masks(self, name: str, sizes: Any) -> tuple[Any, Any]:
        """Which of `sizes` run (no error condition fails) and which meet every condition."""
        charge(
            "the size lattice",
            lattice_units(len(self._unique[name]), sizes),
            where=lambda: _symbol_place(self._info.graph, name),
        )
        env = {**self._example, name: sizes}
        memo: dict[Any, Any] = {}  # floor atoms shared by conditions (`L//16` in several) are evaluated once
        runs: Any = True
        exact: Any = True
        for c in self._unique[name]:
            self.evaluations += 1
            try:
                mask = c.holds(env, memo)
            except OverflowError:  # an argument past int64 (`kernel_size: 10**20`) with numpy: no size fits it
                mask = False
            if c.severity == "error":
                runs = mask if runs is True else mask & runs
            exact = mask if exact is True else mask & exact
        return runs, exact


def lattice_units(conditions: int, sizes: Any) -> int:
    """The units of evaluating `conditions` over the vector `sizes` and listing the sizes that pass
    (rates in `_work`: numpy's vectors evaluate faster than `SizeVector`'s lists)."""
    per_evaluation = LATTICE_LIST_EVALUATION if isinstance(sizes, SizeVector) else 1
    return per_unit(len(sizes) * (conditions * per_evaluation + LATTICE_SIZE_EVALUATIONS), LATTICE_EVALUATIONS_PER_UNIT)


def _sizes_upto(count: int) -> Any:
    """The sizes 1..count as one vector, so that each constraint is evaluated for all of them at once."""
    if count >= NUMPY_SEARCH_FROM:
        try:
            import numpy
        except ImportError:
            pass
        else:
            return numpy.arange(1, count + 1, dtype=numpy.int64)
    return SizeVector(range(1, count + 1))


def _chosen(sizes: list[int], mask: Any) -> list[int]:
    if isinstance(mask, bool):
        return sizes if mask else []
    return [int(s) for s, keep in zip(sizes, mask) if keep]


def first_impossible(info: ShapeInfo, symbol: str, limit: int) -> tuple[GraphNode, Constraint] | None:
    """The first node, in execution order, after which no size of `symbol` up to `limit` runs."""
    example = {**dict.fromkeys(info.symbols, DEFAULT_BATCH), **info.graph.spec.dims}
    sizes = _sizes_upto(limit)
    env = {**example, symbol: sizes}
    runs: Any = True
    for node, constraint in info.constraints:
        if constraint.severity != "error" or symbol not in _constraint_symbols(constraint):
            continue
        charge("the size lattice", lattice_units(1, sizes), where=lambda: _symbol_place(info.graph, symbol))
        try:
            runs = constraint.holds(env) & runs
        except OverflowError:
            runs = False
        if not (runs if isinstance(runs, bool) else any(runs)):
            return node, constraint
    return None


def check_sizes(info: ShapeInfo, sizes: Mapping[str, int], lattices: Mapping[str, SizeLattice]) -> list[Diagnostic]:
    """Diagnostics for the constraints that `sizes` (e.g. `{"H": 256}`) violates, naming the layer."""
    diagnostics = []
    seen = set()
    failed: set[tuple[str, ...]] = set()
    env = {**dict.fromkeys(info.symbols, DEFAULT_BATCH), **sizes}
    for node, constraint in info.constraints:
        if constraint.holds(env):
            continue
        names = sorted(_constraint_symbols(constraint))
        if not set(names) <= sizes.keys():
            continue  # a size not given is not checked
        key = (node.path, constraint.condition)
        if key in seen or (constraint.severity == "error" and tuple(names) in failed):
            continue  # the layers after the first one too small for a size fail with it
        seen.add(key)
        if constraint.severity == "error":
            failed.add(tuple(names))
        hints = []
        for name in names:
            lattice = lattices.get(name)
            if lattice is not None and name in sizes:
                near = lattice.nearest(sizes[name])
                if near:
                    hints.append(
                        f"`{name}` = {' or '.join(map(str, near))} fit{'s' if len(near) == 1 else ''} ({lattice.describe()})"
                    )
        at = ", ".join(f"{n}={sizes[n]}" for n in names if n in sizes)
        diagnostics.append(
            Diagnostic(
                f"`{node.name}` at {at}: {constraint.describe(env) or constraint.text}",
                path=format_path(node.path),
                hint="; ".join(hints) or None,
                severity=constraint.severity,
                code="NS201" if constraint.severity == "error" else "NS211",
            ).located(info.graph.sources.span(node.path))
        )
    return diagnostics


# --- counts -------------------------------------------------------------------------------------


def node_parameters(info: NodeInfo) -> int:
    """Parameters of one node's module, from its arguments (no allocation)."""
    op = info.node.op
    if op.kind == "tensor" and op.param_count is not None:
        return op.param_count(info.args)
    if op.kind != "module":
        return 0
    # Every module op has a rule: the built-in layers their own, registered ones a meta-device count.
    assert op.param_count is not None, op.name
    return op.param_count(info.args)


def node_buffers(info: NodeInfo) -> int:
    """Elements of one node's buffers (BatchNorm's running statistics), from its arguments."""
    op = info.node.op
    if op.kind != "module" or op.buffer_count is None:
        return 0
    return op.buffer_count(info.args)


def count_parameters(info: ShapeInfo) -> int:
    """Parameters of the modules `build` builds (nodes no output depends on are not built)."""
    live = live_nodes(info.graph)
    return sum(node_parameters(n) for name, n in info.nodes.items() if name in live)


def tensor_elements(info: ShapeInfo, *, registered: bool = True) -> dict[str, int]:
    """Elements of parameters and buffers of each module `build` builds, by node (without
    `registered`, the catalog's own ops only: a registered op is counted on the meta device)."""
    from ._ops import builtin_ops  # the catalog, read once it is made

    live = live_nodes(info.graph)
    catalog = builtin_ops()
    return {
        name: node_parameters(n) + node_buffers(n)
        for name, n in info.nodes.items()
        if name in live and (registered or catalog.get(n.node.op.name) is n.node.op)
    }


def node_macs(info: NodeInfo) -> int | None:
    op = info.node.op
    if op.macs is None:
        return 0
    for shape in (*info.inputs, info.output):
        for d in shape:  # `is_concrete`, inlined: the summary asks for every node's count
            if not isinstance(d, int) or isinstance(d, bool):
                return None
    return op.macs(info.inputs, info.output, info.args)


def activation_elements(shape: Shape) -> int | None:
    sizes = [d for d in shape if is_concrete(d)]
    if len(sizes) != len(shape):
        return None
    return math.prod(sizes)


def _symbol_place(graph: Graph, name: str) -> tuple[SourceMap, Span | None, str]:
    """Where input dimension `name` is written: its example size in `dims`, else the first input that
    declares it (for a diagnostic about the search over its sizes)."""
    sources = graph.sources
    if name in graph.spec.dims:
        return sources, sources.span(("dims", name)), f"dims.{name}"
    for input_name, shape in graph.spec.inputs.items():
        for index, dim in enumerate(shape):
            if dim == name:
                return sources, sources.span(("inputs", input_name, index)), f"inputs.{input_name}[{index}]"
    return sources, sources.span(("inputs",)), "inputs"
