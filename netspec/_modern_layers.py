"""Layers of attention, sequence and ConvNeXt-style models: `MultiheadAttention`,
`ScaledDotProductAttention`, `Embedding`, `LSTM`, `GRU`, `LayerNorm2d` (a LayerNorm over the
channels of an [N, C, H, W] tensor) and `PixelUnshuffle`, with their shape, MAC and parameter rules.

`MultiheadAttention`, `LSTM` and `GRU` have several outputs (ports): `attn:0` is the attention
output, `attn:weights` its weights; `lstm:output`, `lstm:h_n`, `lstm:c_n`. The registry (`_ops`)
collects `modern_ops()`.
"""

from __future__ import annotations

import dataclasses
import math
import types
from typing import Any

from ._args import ArgProblem, OpDef, _render, _value_problem
from ._dims import Dim, Ports, Shape, ShapeCheck, ShapeError, format_shape, is_concrete
from ._layers import _module_op
from ._rules import _check_channels, _concrete, _elements, _expect_spatial_rank
from ._signatures import signature
from ._tensor_ops import broadcast

__all__ = ["modern_ops"]


def _mha_params(args: dict[str, Any]) -> int:
    """`nn.MultiheadAttention`'s parameters: the query, key and value projections (one packed
    `in_proj_weight` when `kdim` and `vdim` are `embed_dim`, three matrices otherwise, the same count),
    their biases, `out_proj`, and `bias_k`, `bias_v` with `add_bias_kv`."""
    embed: int = args["embed_dim"]
    kdim: int = embed if args["kdim"] is None else args["kdim"]
    vdim: int = embed if args["vdim"] is None else args["vdim"]
    projections = embed * (embed + kdim + vdim) + embed * embed
    biases = 4 * embed if args["bias"] else 0
    return projections + biases + (2 * embed if args["add_bias_kv"] else 0)


def _rnn_params(op: str) -> Any:
    """The parameters of `nn.LSTM` (4 gates) or `nn.GRU` (3 gates), in closed form over the layers.

    Per layer and direction: `weight_ih` (gates x the layer's input), `weight_hh` (gates x the
    hidden state, which is `proj_size` wide with a projection), `bias_ih` and `bias_hh` with `bias`,
    and `weight_hr` (proj_size x hidden_size) with a projection. Layers after the first take the
    concatenated directions' outputs.
    """
    gates = 4 if op == "LSTM" else 3

    def count(args: dict[str, Any]) -> int:
        hidden: int = args["hidden_size"]
        layers: int = args["num_layers"]
        proj: int = args.get("proj_size", 0) or 0
        directions = 2 if args["bidirectional"] else 1
        state = proj or hidden  # the width of h, what `weight_hh` reads and later layers take
        input_size: int = args["input_size"]
        first = gates * hidden * (input_size + state)
        later = gates * hidden * (state * directions + state)
        per_layer = (2 * gates * hidden if args["bias"] else 0) + proj * hidden
        return directions * (first + (layers - 1) * later + layers * per_layer)

    return count


def _check_last(op: str, shape: Shape, expected: int, what: str, arg: str) -> None:
    actual = _concrete(op, shape[-1], "features", shape)
    if actual != expected:
        raise ShapeError(
            f"`{arg}` of `{op}` is {expected} but the {what} {format_shape(shape)} has {actual} features "
            "(its last dimension)",
            f"leave `{arg}` out to take it from the input, or change what feeds this `{op}`",
        )


def _probability(op: str, name: str, args: dict[str, Any]) -> list[ArgProblem]:
    value = args.get(name)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and not 0 <= value <= 1:
        return [_value_problem(op, name, value, "must be between 0 and 1")]
    return []


# -- MultiheadAttention -------------------------------------------------------------------------


def _mha_views(inputs: list[Shape]) -> tuple[Shape, Shape, Shape]:
    query = inputs[0]
    key = inputs[1] if len(inputs) > 1 else query
    value = inputs[2] if len(inputs) > 2 else key
    return query, key, value


def _mha_infer(inputs: list[Shape], args: dict[str, Any]) -> dict[str, Any]:
    query, key, value = _mha_views(inputs)
    if not query:
        raise ShapeError("`MultiheadAttention` expects a query [N, L, E] or [L, N, E], got a scalar")
    embed = _concrete("MultiheadAttention", query[-1], "features", query)
    inferred: dict[str, Any] = {"embed_dim": embed}
    for name, shape in (("kdim", key), ("vdim", value)):
        if shape and is_concrete(shape[-1]) and shape[-1] != embed:
            inferred[name] = shape[-1]
    return inferred


def _mha_shape(inputs: list[Shape], args: dict[str, Any], check: ShapeCheck) -> Ports:
    op = "MultiheadAttention"
    query, key, value = _mha_views(inputs)
    if len(query) not in (2, 3):
        layout = "[N, L, E]" if args["batch_first"] else "[L, N, E]"
        raise ShapeError(f"`{op}` expects a query {layout} (or [L, E] unbatched), got {format_shape(query)}")
    for name, shape in (("key", key), ("value", value)):
        if len(shape) != len(query):
            raise ShapeError(
                f"the {name} {format_shape(shape)} of `{op}` has another rank than the query {format_shape(query)}"
            )
    embed = args["embed_dim"]
    _check_last(op, query, embed, "query", "embed_dim")
    _check_last(op, key, args["kdim"] or embed, "key", "kdim")
    _check_last(op, value, args["vdim"] or embed, "value", "vdim")
    seq, batch = (-2, 0) if args["batch_first"] else (0, 1)
    check.equal(key[seq], value[seq], f"the sequence lengths of the `{op}` key and value")
    if len(query) == 3:
        check.equal(query[batch], key[batch], f"the batch sizes of the `{op}` query and key")
    length = query[seq] if len(query) == 3 else query[0]
    source = (key[seq] if len(key) == 3 else key[0]) + int(args["add_bias_kv"]) + int(args["add_zero_attn"])
    weights: Shape = (query[batch], length, source) if len(query) == 3 else (length, source)
    return Ports((tuple(query), weights), ("output", "weights"))


def _size(d: Dim) -> int:
    """A dimension in a MAC rule: `node_macs` calls the rules only on shapes of plain integers."""
    assert is_concrete(d)
    return d


def _mha_macs(inputs: list[Shape], output: Shape, args: dict[str, Any]) -> int:
    query, key, value = _mha_views(inputs)
    embed: int = args["embed_dim"]
    batch = 1 if len(query) == 2 else _size(query[0 if args["batch_first"] else 1])
    seq = -2 if len(query) == 3 and args["batch_first"] else 0
    length, source = _size(query[seq]), _size(key[seq])
    scores = length * (source + int(args["add_bias_kv"]) + int(args["add_zero_attn"]))
    projections = length * embed * embed * 2 + source * embed * (_size(key[-1]) + _size(value[-1]))
    return batch * (projections + 2 * scores * embed)


def _mha_problems(args: dict[str, Any]) -> list[ArgProblem]:
    problems = _probability("MultiheadAttention", "dropout", args)
    embed, heads = args.get("embed_dim"), args.get("num_heads")
    for name in ("kdim", "vdim"):
        size = args.get(name)
        if isinstance(size, int) and not isinstance(size, bool) and size < 1:
            problems.append(_value_problem("MultiheadAttention", name, size, "must be at least 1"))
    if isinstance(heads, int) and heads < 1:
        problems.append(_value_problem("MultiheadAttention", "num_heads", heads, "must be at least 1"))
    elif isinstance(embed, int) and isinstance(heads, int) and embed % heads:
        problems.append(
            ArgProblem(
                "num_heads",
                f"`embed_dim` (={embed}) of `MultiheadAttention` must be divisible by `num_heads` (={heads})",
                None,
                "value",
            )
        )
    return problems


def _spread_attention(values: list[Any]) -> list[Any]:
    """Self-attention takes one input (query = key = value); two inputs are a query and a key = value."""
    if len(values) == 1:
        return [values[0], values[0], values[0]]
    if len(values) == 2:
        return [values[0], values[1], values[1]]
    return values


def _mha_call(args: dict[str, Any], ports: frozenset[int]) -> dict[str, Any]:
    return {"need_weights": 1 in ports}


# -- ScaledDotProductAttention ------------------------------------------------------------------


def _sdpa_shape(inputs: list[Shape], args: dict[str, Any], check: ShapeCheck) -> Shape:
    op = "ScaledDotProductAttention"
    q, k, v = inputs[:3]
    for name, shape in (("query", q), ("key", k), ("value", v)):
        if len(shape) < 2:
            raise ShapeError(f"`{op}` needs a {name} [..., L, E], got {format_shape(shape)}")
    if is_concrete(q[-1] - k[-1]) and q[-1] != k[-1]:
        raise ShapeError(
            f"the query {format_shape(q)} and key {format_shape(k)} of `{op}` differ in their last dimension"
        )
    check.equal(q[-1], k[-1], f"the last dimension of the `{op}` query and key")
    check.equal(k[-2], v[-2], f"the sequence lengths of the `{op}` key and value")
    batch = broadcast(op, q[:-2], broadcast(op, k[:-2], v[:-2], check), check)
    if len(inputs) == 4:
        broadcast(op, inputs[3], batch + (q[-2], k[-2]), check)
    return batch + (q[-2], v[-1])


def _sdpa_macs(inputs: list[Shape], output: Shape, args: dict[str, Any]) -> int:
    q, k, v = inputs[:3]
    scores = _elements(output[:-1]) * _size(k[-2])  # one score per query position and key position
    return scores * _size(q[-1]) + scores * _size(v[-1])


def _sdpa_problems(args: dict[str, Any]) -> list[ArgProblem]:
    problems = _probability("ScaledDotProductAttention", "dropout_p", args)
    scale = args.get("scale")
    if isinstance(scale, (int, float)) and not isinstance(scale, bool) and scale <= 0:
        problems.append(_value_problem("ScaledDotProductAttention", "scale", scale, "must be positive"))
    return problems


# -- Embedding ----------------------------------------------------------------------------------


def _embedding_shape(inputs: list[Shape], args: dict[str, Any], check: ShapeCheck) -> Shape:
    return tuple(inputs[0]) + (args["embedding_dim"],)


def _embedding_problems(args: dict[str, Any]) -> list[ArgProblem]:
    count, index = args.get("num_embeddings"), args.get("padding_idx")
    problems = []
    for name in ("num_embeddings", "embedding_dim"):
        value = args.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value < 1:
            problems.append(_value_problem("Embedding", name, value, "must be at least 1"))
    if isinstance(count, int) and isinstance(index, int) and not -count <= index < count:
        problems.append(_value_problem("Embedding", "padding_idx", index, f"must be within the {count} embeddings"))
    return problems


# -- LSTM and GRU -------------------------------------------------------------------------------


def _rnn_infer(op: str) -> Any:
    def infer(inputs: list[Shape], args: dict[str, Any]) -> dict[str, Any]:
        shape = inputs[0]
        if len(shape) not in (2, 3):
            raise ShapeError(
                f"`{op}` expects an input [L, N, H] ([N, L, H] with `batch_first`) or [L, H], got {format_shape(shape)}"
            )
        return {"input_size": _concrete(op, shape[-1], "features", shape)}

    return infer


def _rnn_shape(op: str) -> Any:
    def rule(inputs: list[Shape], args: dict[str, Any], check: ShapeCheck) -> Ports:
        (shape,) = inputs
        if len(shape) not in (2, 3):
            layout = "[N, L, H]" if args["batch_first"] else "[L, N, H]"
            raise ShapeError(f"`{op}` expects an input {layout} (or [L, H] unbatched), got {format_shape(shape)}")
        _check_last(op, shape, args["input_size"], "input", "input_size")
        directions = 2 if args["bidirectional"] else 1
        hidden = args["hidden_size"]
        out_size = args.get("proj_size") or hidden
        output = tuple(shape[:-1]) + (directions * out_size,)
        layers = directions * args["num_layers"]
        batch: tuple[Dim, ...] = () if len(shape) == 2 else (shape[0 if args["batch_first"] else 1],)
        h_n = (layers, *batch, out_size)
        if op == "GRU":
            return Ports((output, h_n), ("output", "h_n"))
        return Ports((output, h_n, (layers, *batch, hidden)), ("output", "h_n", "c_n"))

    return rule


def _rnn_macs(op: str) -> Any:
    gates = 4 if op == "LSTM" else 3

    def macs(inputs: list[Shape], output: Shape, args: dict[str, Any]) -> int:
        (shape,) = inputs
        steps = _elements(shape[:-1])  # time steps times batch
        directions = 2 if args["bidirectional"] else 1
        hidden: int = args["hidden_size"]
        out_size: int = args.get("proj_size") or hidden
        layers: int = args["num_layers"]
        input_size: int = args["input_size"]
        projection = hidden * out_size if out_size != hidden else 0

        def per_step(width: int) -> int:
            return gates * hidden * (width + out_size) + projection

        # the first layer reads the input; the others (all alike) the directions' outputs
        later = (layers - 1) * per_step(directions * out_size)
        return steps * directions * (per_step(input_size) + later)

    return macs


def _rnn_problems(op: str) -> Any:
    def validate(args: dict[str, Any]) -> list[ArgProblem]:
        problems = _probability(op, "dropout", args)
        for name in ("input_size", "hidden_size", "num_layers"):
            value = args.get(name)
            if isinstance(value, int) and not isinstance(value, bool) and value < 1:
                problems.append(_value_problem(op, name, value, "must be at least 1"))
        proj, hidden = args.get("proj_size", 0), args.get("hidden_size")
        if isinstance(proj, int) and isinstance(hidden, int) and not 0 <= proj < hidden:
            problems.append(
                _value_problem(op, "proj_size", proj, f"must be at least 0 and below `hidden_size` ({hidden})")
            )
        return problems

    return validate


def _lstm_items(port: int) -> tuple[int, ...]:
    return (0,) if port == 0 else (1, port - 1)


# -- LayerNorm2d and PixelUnshuffle -------------------------------------------------------------


def _layer_norm_2d_infer(inputs: list[Shape], args: dict[str, Any]) -> dict[str, Any]:
    shape = inputs[0]
    _expect_spatial_rank("LayerNorm2d", shape, 2, unbatched=False)
    return {"normalized_shape": _concrete("LayerNorm2d", shape[1], "channels", shape)}


def _layer_norm_2d_shape(inputs: list[Shape], args: dict[str, Any], check: ShapeCheck) -> Shape:
    (shape,) = inputs
    _expect_spatial_rank("LayerNorm2d", shape, 2, unbatched=False)
    normalized = args["normalized_shape"]
    values = list(normalized) if isinstance(normalized, (list, tuple)) else [normalized]
    if len(values) != 1:
        raise ShapeError(f"`normalized_shape` of `LayerNorm2d` is the number of channels, got {_render(normalized)}")
    _check_channels("LayerNorm2d", "normalized_shape", values[0], shape, 1)
    return shape


def _layer_norm_2d_params(args: dict[str, Any]) -> int:
    normalized = args["normalized_shape"]
    size = math.prod(normalized) if isinstance(normalized, (list, tuple)) else normalized
    return size * (2 if args["bias"] else 1) if args["elementwise_affine"] else 0


def _pixel_unshuffle_shape(inputs: list[Shape], args: dict[str, Any], check: ShapeCheck) -> Shape:
    (shape,) = inputs
    factor = args["downscale_factor"]
    if len(shape) < 3:
        raise ShapeError(f"`PixelUnshuffle` expects an input [..., C, H, W], got {format_shape(shape)}")
    sizes = []
    for size, name in zip(shape[-2:], ("height", "width")):
        check.equal(size // factor * factor, size, f"the `PixelUnshuffle` input {name} (a multiple of {factor})")
        sizes.append(size // factor)
    return tuple(shape[:-3]) + (shape[-3] * factor * factor, *sizes)


def _pixel_unshuffle_problems(op: str, args: dict[str, Any]) -> list[ArgProblem]:
    value = args.get("downscale_factor")
    if isinstance(value, int) and not isinstance(value, bool) and value < 1:
        return [_value_problem(op, "downscale_factor", value, "must be at least 1")]
    return []


# -- catalog ------------------------------------------------------------------------------------


def _rnn_op(name: str) -> OpDef:
    exclude = {"mode"} | ({"proj_size"} if name == "GRU" else set())
    # `nn.LSTM.__init__` takes `*args`: the arguments are those of `nn.RNNBase` after `mode`.
    base = signature("torch.nn.RNNBase")
    args = {
        spec.name: dataclasses.replace(spec, inferred=spec.name == "input_size")
        for spec in base.args
        if spec.name not in exclude
    }
    return OpDef(
        name=name,
        kind="module",
        target=f"torch.nn.{name}",
        args=types.MappingProxyType(args),
        shape=_rnn_shape(name),
        infer=_rnn_infer(name),
        macs=_rnn_macs(name),
        param_count=_rnn_params(name),
        doc=signature(f"torch.nn.{name}").doc,
        validate=_rnn_problems(name),
        ports=(lambda args: ("output", "h_n", "c_n")) if name == "LSTM" else (lambda args: ("output", "h_n")),
        port_items=_lstm_items if name == "LSTM" else None,
    )


def modern_ops() -> list[OpDef]:
    """The catalog entries of the attention, sequence and ConvNeXt-style layers."""
    mha = _module_op(
        "MultiheadAttention",
        _mha_shape,
        infer=_mha_infer,
        inferred=("embed_dim",),
        macs=_mha_macs,
        params=_mha_params,
    )
    mha = OpDef(
        **{
            **{f: getattr(mha, f) for f in mha.__dataclass_fields__},
            "min_inputs": 1,
            "max_inputs": 3,
            "validate": _mha_problems,
            "ports": lambda args: ("output", "weights"),
            "call_kwargs": _mha_call,
            "spread_inputs": _spread_attention,
        }
    )
    sdpa = _module_op(
        "ScaledDotProductAttention",
        _sdpa_shape,
        macs=_sdpa_macs,
        path="netspec._modules.ScaledDotProductAttention",
    )
    sdpa = OpDef(
        **{
            **{f: getattr(sdpa, f) for f in sdpa.__dataclass_fields__},
            "min_inputs": 3,
            "max_inputs": 4,
            "validate": _sdpa_problems,
        }
    )
    embedding = _module_op(
        "Embedding",
        _embedding_shape,
        params=lambda args: args["num_embeddings"] * args["embedding_dim"],
        exclude=("_weight", "_freeze"),
    )
    embedding = OpDef(
        **{**{f: getattr(embedding, f) for f in embedding.__dataclass_fields__}, "validate": _embedding_problems}
    )
    return [
        mha,
        sdpa,
        embedding,
        _rnn_op("LSTM"),
        _rnn_op("GRU"),
        _module_op(
            "LayerNorm2d",
            _layer_norm_2d_shape,
            infer=_layer_norm_2d_infer,
            inferred=("normalized_shape",),
            params=_layer_norm_2d_params,
            path="netspec._modules.LayerNorm2d",
        ),
        _module_op("PixelUnshuffle", _pixel_unshuffle_shape, checks=_pixel_unshuffle_problems),
    ]
