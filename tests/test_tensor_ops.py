"""Tensor ops, learned tensors, ports and the attention and sequence layers, against torch itself.

Each op's static shape rule must give the shape torch computes, and the built module the values
torch computes; hypothesis draws the shapes and arguments.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import netspec


def _spec(shape: list[Any], nodes: dict[str, Any], outputs: list[str] | None = None, **extra: Any) -> Any:
    data: dict[str, Any] = {"name": "t", "inputs": {"x": shape}, "nodes": nodes, **extra}
    if outputs:
        data["outputs"] = outputs
    return netspec.load(data)


def _run(shape: list[int], node: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor, tuple[Any, ...]]:
    spec = _spec(shape, {"op": node})
    model = netspec.build(spec)
    x = torch.randn(shape)
    return x, model(x), netspec.infer_shapes(spec)["op"]


shapes = st.lists(st.integers(1, 5), min_size=2, max_size=4)


@st.composite
def tensor_op(draw: st.DrawFn) -> tuple[list[int], dict[str, Any], Any]:
    shape = draw(shapes)
    rank = len(shape)
    dim = draw(st.integers(-rank, rank - 1))
    kind = draw(st.sampled_from(["permute", "transpose", "reshape", "index", "slice", "mean", "amax", "roll"]))
    if kind == "permute":
        dims = draw(st.permutations(range(rank)))
        return shape, {"op": "permute", "dims": list(dims)}, lambda x: x.permute(*dims)
    if kind == "transpose":
        other = draw(st.integers(0, rank - 1))
        return shape, {"op": "transpose", "dim0": dim, "dim1": other}, lambda x: x.transpose(dim, other)
    if kind == "reshape":
        new = [shape[0], -1]
        return shape, {"op": "reshape", "shape": new}, lambda x: x.reshape(new)
    if kind == "index":
        size = shape[dim]
        index = draw(st.integers(-size, size - 1))
        return shape, {"op": "index", "dim": dim, "index": index}, lambda x: x.select(dim, index)
    if kind == "slice":
        size = shape[dim]
        start = draw(st.integers(-size, size - 1))
        step = draw(st.integers(1, 3))
        node = {"op": "slice", "dim": dim, "start": start, "step": step}

        def sliced(x: torch.Tensor) -> torch.Tensor:
            index = [slice(None)] * rank
            index[dim] = slice(start, None, step)
            return x[tuple(index)]

        return shape, node, sliced
    if kind in ("mean", "amax"):
        dims = sorted(set(draw(st.lists(st.integers(0, rank - 1), min_size=1, max_size=rank))))
        keep = draw(st.booleans())
        fn = torch.mean if kind == "mean" else torch.amax
        return shape, {"op": kind, "dim": dims, "keepdim": keep}, lambda x: fn(x, dim=dims, keepdim=keep)
    shifts = draw(st.integers(-4, 4))
    return shape, {"op": "roll", "shifts": shifts, "dims": dim}, lambda x: torch.roll(x, shifts, dim)


@settings(max_examples=40, deadline=None)
@given(tensor_op())
def test_tensor_ops_match_torch(case: tuple[list[int], dict[str, Any], Any]) -> None:
    shape, node, reference = case
    x, out, inferred = _run(shape, node)
    expected = reference(x)
    assert tuple(out.shape) == tuple(expected.shape) == inferred
    torch.testing.assert_close(out, expected)


@settings(max_examples=30, deadline=None)
@given(shapes, st.integers(1, 4), st.data())
def test_split_and_chunk_ports_match_torch(shape: list[int], pieces: int, data: st.DataObject) -> None:
    dim = data.draw(st.integers(0, len(shape) - 1))
    x = torch.randn(shape)
    expected = torch.chunk(x, pieces, dim)
    outputs = [f"c:{k}" for k in range(len(expected))]
    spec = _spec(shape, {"c": {"op": "chunk", "chunks": pieces, "dim": dim}}, outputs)
    got = netspec.build(spec)(x)
    got = got if isinstance(got, tuple) else (got,)
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b)
    sections = data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    shape = shape[:dim] + [sum(sections)] + shape[dim + 1 :]
    x = torch.randn(shape)
    spec = _spec(
        shape,
        {"s": {"op": "split", "split_size_or_sections": sections, "dim": dim}},
        [f"s:{k}" for k in range(len(sections))],
    )
    got = netspec.build(spec)(x)
    got = got if isinstance(got, tuple) else (got,)
    for a, b in zip(got, torch.split(x, sections, dim)):
        torch.testing.assert_close(a, b)


def test_symbolic_sizes_follow_the_input() -> None:
    spec = _spec(
        ["N", 4, "H", "W"],
        {
            "tokens": {"op": "reshape", "shape": ["N", 4, -1]},
            "seq": {"op": "transpose", "dim0": 1, "dim1": 2},
            "token": {"op": "Parameter", "shape": [1, 1, 4], "init": "ones"},
            "batch": {"op": "expand", "size": ["N", -1, -1]},
            "cat": {"op": "concat", "in": ["batch", "seq"], "dim": 1},
        },
    )
    assert [str(d) for d in netspec.infer_shapes(spec)["cat"]] == ["N", "H*W+1", "4"]
    model = netspec.build(spec)
    for n, h, w in ((1, 2, 3), (3, 4, 5)):
        x = torch.randn(n, 4, h, w)
        expected = torch.cat([torch.ones(n, 1, 4), x.reshape(n, 4, -1).transpose(1, 2)], 1)
        torch.testing.assert_close(model(x), expected)


def test_parameters_and_buffers_are_registered_at_their_qualified_names() -> None:
    spec = netspec.loads(
        """
name: learned
inputs: {x: [N, 4, 2, 2]}
blocks:
  scaled:
    nodes:
      gamma: {op: Parameter, shape: [4, 1, 1], init: {constant: 0.5}}
      mul: {op: mul, in: [gamma, x]}
nodes:
  block: {block: scaled, repeat: 2}
  offset: {op: Buffer, shape: [1, 4, 1, 1], init: ones, dtype: float64}
  steady: {op: Buffer, shape: [1, 1, 1, 1], init: zeros, persistent: false}
  out: {op: add, in: [block, offset]}
  out2: {op: add, in: [out, steady]}
"""
    )
    model = netspec.build(spec)
    assert list(model.state_dict()) == ["offset", "block.0.gamma", "block.1.gamma"]
    assert [name for name, _ in model.named_parameters()] == ["block.0.gamma", "block.1.gamma"]
    assert model.offset.dtype == torch.float64 and bool((model.offset == 1).all())
    assert bool((model.get_parameter("block.0.gamma") == 0.5).all())
    assert netspec.count_params(spec) == 8
    x = torch.randn(2, 4, 2, 2)
    torch.testing.assert_close(model(x), (x * 0.25 + 1).double())


def test_parameter_init_draws_from_the_seeded_stream() -> None:
    spec = _spec(["N", 8], {"w": {"op": "Parameter", "shape": [8, 8], "init": {"normal": {"std": 0.02}}}})
    torch.manual_seed(0)
    built = netspec.build(spec).w
    torch.manual_seed(0)
    expected = nn.init.normal_(torch.empty(8, 8), std=0.02)
    torch.testing.assert_close(built.detach(), expected)


def _load(model: nn.Module, reference: nn.Module) -> None:
    model.load_state_dict(reference.state_dict(), strict=True)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_lstm_and_gru_equal_torch(bidirectional: bool) -> None:
    spec = netspec.loads(
        f"""
name: rnn
inputs: {{x: [N, L, 6]}}
nodes:
  lstm: {{op: LSTM, hidden_size: 5, num_layers: 2, batch_first: true, bidirectional: {str(bidirectional).lower()}}}
  gru: {{op: GRU, in: "lstm:output", hidden_size: 3, batch_first: true}}
outputs: ["lstm:h_n", "lstm:c_n", "gru:output", "gru:h_n"]
"""
    )
    model = netspec.build(spec)
    lstm = nn.LSTM(6, 5, num_layers=2, batch_first=True, bidirectional=bidirectional)
    gru = nn.GRU(10 if bidirectional else 5, 3, batch_first=True)
    model.lstm.load_state_dict(lstm.state_dict())
    model.gru.load_state_dict(gru.state_dict())
    x = torch.randn(2, 7, 6)
    output, (h_n, c_n) = lstm(x)
    g_out, g_h = gru(output)
    for got, want in zip(model(x), (h_n, c_n, g_out, g_h)):
        torch.testing.assert_close(got, want)
    shapes_ = netspec.infer_shapes(spec, inputs={"x": (2, 7, 6)})
    assert shapes_["lstm:h_n"] == tuple(h_n.shape) and shapes_["gru:output"] == tuple(g_out.shape)
    assert netspec.count_params(spec) == sum(p.numel() for p in (*lstm.parameters(), *gru.parameters()))


def test_multihead_attention_equals_torch_and_computes_weights_only_when_read() -> None:
    text = """
name: attn
inputs: {{x: [N, L, 8], memory: [N, S, 8]}}
nodes:
  self: {{op: MultiheadAttention, num_heads: 2, batch_first: true}}
  cross: {{op: MultiheadAttention, in: [self:output, memory], num_heads: 4, batch_first: true}}
outputs: [{outputs}]
"""
    spec = netspec.loads(text.format(outputs='"cross:output", "cross:weights"'))
    model = netspec.build(spec).eval()
    first, second = nn.MultiheadAttention(8, 2, batch_first=True), nn.MultiheadAttention(8, 4, batch_first=True)
    model.self.load_state_dict(first.state_dict())
    model.cross.load_state_dict(second.state_dict())
    first.eval(), second.eval()
    x, memory = torch.randn(2, 5, 8), torch.randn(2, 3, 8)
    y, _ = first(x, x, x, need_weights=False)
    z, weights = second(y, memory, memory)
    got = model(x, memory)
    torch.testing.assert_close(got[0], z)
    torch.testing.assert_close(got[1], weights)
    assert "need_weights = False" in model.code and "need_weights = True" in model.code
    shapes_ = netspec.infer_shapes(spec, inputs={"x": (2, 5, 8), "memory": (2, 3, 8)})
    assert shapes_["cross:weights"] == (2, 5, 3)


def test_embedding_attention_and_pixel_unshuffle_equal_torch() -> None:
    spec = netspec.loads(
        """
name: mixed
inputs: {tokens: [N, L], image: [N, 2, 8, 8]}
nodes:
  embed: {op: Embedding, num_embeddings: 11, embedding_dim: 6, padding_idx: 0}
  heads: {op: Unflatten, dim: 2, unflattened_size: [2, 3]}
  q: {op: transpose, dim0: 1, dim1: 2}
  attend: {op: ScaledDotProductAttention, in: [q, q, q], is_causal: true}
  down: {op: PixelUnshuffle, in: image, downscale_factor: 2}
  norm: {op: LayerNorm2d, eps: 1.0e-6}
outputs: [attend, norm]
"""
    )
    model = netspec.build(spec).eval()
    tokens, image = torch.randint(0, 11, (2, 4)), torch.randn(2, 2, 8, 8)
    q = model.embed(tokens).unflatten(2, (2, 3)).transpose(1, 2)
    expected = nn.functional.scaled_dot_product_attention(q, q, q, is_causal=True)
    down = nn.functional.pixel_unshuffle(image, 2)
    norm = nn.functional.layer_norm(down.permute(0, 2, 3, 1), (8,), eps=1e-6).permute(0, 3, 1, 2)
    got = model(tokens, image)
    torch.testing.assert_close(got[0], expected)
    torch.testing.assert_close(got[1], norm)
    assert list(model.state_dict()) == ["embed.weight", "norm.weight", "norm.bias"]
    assert netspec.infer_shapes(spec)["down"][1:] == (8, 4, 4)


def test_graph_carries_the_instance_tree_and_ports() -> None:
    from netspec._graph import expand

    spec = netspec.loads(
        """
name: tree
inputs: {x: [N, 8, 4]}
blocks:
  pair:
    nodes:
      lstm: {op: LSTM, hidden_size: 3, batch_first: true}
    output: "lstm:h_n"
  stack:
    nodes:
      - {block: pair, repeat: 2, in: x}
      - {op: ReLU}
nodes:
  body: {block: stack}
  head: {op: Linear, out_features: 2}
"""
    )
    graph = expand(spec)
    assert graph.instances[""].members == ["body", "head"]
    body = graph.instances["body"]
    assert (body.kind, body.block, body.members, body.output) == ("block", "stack", ["body.0", "body.1"], "body.1")
    repeat = graph.instances["body.0"]
    assert (repeat.kind, repeat.members, repeat.output) == ("repeat", ["body.0.0", "body.0.1"], "body.0.1.lstm:1")
    assert graph.instances["body.0.1"].members == ["body.0.1.lstm"]
    assert graph.instance_of("body.0.1.lstm") is graph.instances["body.0.1"]
    assert graph.node("body.1").inputs == ["body.0.1.lstm:1"]
    summary = netspec.summarize(spec)
    labels = {row.name: row.op for row in summary.rows if row.kind == "block"}
    assert labels == {"body": "stack", "body.0": "pair x2", "body.0.0": "pair", "body.0.1": "pair"}
    assert {row.name: row.output for row in summary.rows}["body.0"] == (1, 1, 3)


def _problem(shape: list[Any], nodes: dict[str, Any], outputs: list[str] | None = None) -> str:
    with pytest.raises(netspec.SpecError) as caught:
        netspec.infer_shapes(_spec(shape, nodes, outputs))
    return str(caught.value)


@pytest.mark.parametrize(
    ("shape", "node", "message"),
    [
        ([2, 3], {"op": "permute", "dims": [0]}, "`dims` [0] of `permute` has 1 entries, but the input [2, 3] has 2"),
        ([2, 3], {"op": "permute", "dims": [0, 0]}, "names a dimension twice"),
        ([2, 3], {"op": "reshape", "shape": [-1, -1]}, "`shape` [-1, -1] of `reshape` has more than one -1"),
        ([2, 3], {"op": "reshape", "shape": [4, -1]}, "[2, 3] has 6 elements, not a multiple of 4"),
        ([2, 3], {"op": "reshape", "shape": [0, 6]}, "must list sizes of at least 1, -1 (inferred), or symbols"),
        ([2, 3], {"op": "expand", "size": [3]}, "`size` [3] of `expand` has fewer dimensions than the input [2, 3]"),
        ([2, 3], {"op": "expand", "size": [-1, 2, 3]}, "`size` of `expand` has -1 at a new leading dimension 0"),
        ([2, 3], {"op": "expand", "size": [2, 4]}, "`expand` cannot grow dimension 1 of [2, 3] from 3 to 4"),
        ([2, 3], {"op": "squeeze", "dim": 0}, "`squeeze` removes dimension 0 of [2, 3], which is 2, not 1"),
        ([2, 3], {"op": "roll", "shifts": [1, 2]}, "`roll` without `dims` takes one shift"),
        ([2, 3], {"op": "roll", "shifts": [1, 2], "dims": 0}, "`roll` needs one shift per dimension"),
        ([2, 3], {"op": "index", "dim": 1, "index": 3}, "`index` 3 is outside dimension 1 of the `index` input"),
        ([2, 3], {"op": "slice", "dim": 0, "step": 0}, "must be at least 1 (torch has no negative steps), got 0"),
        (["N", 3], {"op": "split", "split_size_or_sections": 2, "dim": 0}, "makes a number of outputs that depends"),
        ([2, 3], {"op": "chunk", "chunks": 0}, "must be at least 1"),
        ([2, 3], {"op": "Parameter", "shape": [0, 2]}, "must list sizes of at least 1"),
        ([2, 3], {"op": "Parameter", "shape": [2], "init": {"ones": {}, "zeros": {}}}, "must name one function"),
        ([2, 3], {"op": "Parameter", "shape": [2], "init": "onse"}, "did you mean `ones`"),
    ],
)
def test_shape_and_argument_problems_are_reported(shape: list[Any], node: dict[str, Any], message: str) -> None:
    assert message in _problem(shape, {"op": node}, ["op:0"] if node["op"] == "split" else None)


def test_matmul_problems_are_reported() -> None:
    nodes = {"w": {"op": "Parameter", "shape": [4, 5]}, "mm": {"op": "matmul", "in": ["x", "w"]}}
    assert "cannot multiply [2, 3] by [4, 5]" in _problem([2, 3], nodes)
    nodes = {"w": {"op": "Parameter", "shape": [3, 3, 5]}, "mm": {"op": "matmul", "in": ["x", "w"]}}
    assert "the batch dimensions of the `matmul` inputs [2] and [3] do not broadcast: 2 and 3" in _problem(
        [2, 2, 3], nodes
    )


@pytest.mark.parametrize(
    ("shape", "node", "reference"),
    [
        ([2, 1, 3], {"op": "squeeze", "dim": 1}, lambda x: x.squeeze(1)),
        ([2, 3], {"op": "unsqueeze", "dim": -1}, lambda x: x.unsqueeze(-1)),
        ([2, 3], {"op": "roll", "shifts": 2}, lambda x: torch.roll(x, 2)),
        ([2, 1], {"op": "expand", "size": [4, -1, 3]}, lambda x: x.expand(4, -1, 3)),
        ([2, 3], {"op": "sum", "dim": 1, "keepdim": True}, lambda x: x.sum(1, keepdim=True)),
        ([2, 3], {"op": "amin", "keepdim": True}, lambda x: x.amin(dim=[0, 1], keepdim=True)),
        ([2, 5], {"op": "slice", "dim": 1, "start": -4, "end": 9, "step": 2}, lambda x: x[:, -4:9:2]),
        ([2, 5], {"op": "index", "dim": 1, "index": -2}, lambda x: x[:, -2]),
    ],
)
def test_more_tensor_ops_equal_torch(shape: list[int], node: dict[str, Any], reference: Any) -> None:
    x, got, inferred = _run(shape, node)
    expected = reference(x)
    torch.testing.assert_close(got, expected)
    assert tuple(inferred) == tuple(expected.shape)


@pytest.mark.parametrize(("a", "b"), [([3], [3, 4]), ([2, 3, 4], [4]), ([2, 1, 3, 4], [5, 4, 2])])
def test_matmul_of_vectors_and_batches_equals_torch(a: list[int], b: list[int]) -> None:
    spec = _spec(a, {"w": {"op": "Parameter", "shape": b, "init": "ones"}, "mm": {"op": "matmul", "in": ["x", "w"]}})
    x = torch.randn(a)
    expected = torch.matmul(x, torch.ones(b))
    torch.testing.assert_close(netspec.build(spec)(x), expected)
    assert tuple(netspec.infer_shapes(spec)["mm"]) == tuple(expected.shape)


def test_symbolic_sizes_of_reshape_chunk_and_slice() -> None:
    spec = _spec(
        ["N", "C", "H"],
        {
            "flat": {"op": "reshape", "shape": ["N", -1]},
            "back": {"op": "reshape", "in": "x", "shape": [-1, "C", "H"]},
            "halves": {"op": "chunk", "in": "x", "chunks": 2, "dim": 2},
            "cut": {"op": "slice", "in": "x", "dim": 2, "start": 1, "end": 3},
            "last": {"op": "index", "in": "x", "dim": 2, "index": -1},
        },
        outputs=["flat", "back", "halves:0", "cut", "last"],
    )
    shapes = netspec.infer_shapes(spec)
    assert [str(d) for d in shapes["flat"]] == ["N", "C*H"]
    assert [str(d) for d in shapes["back"]] == ["N", "C", "H"]
    x = torch.randn(2, 3, 4)
    flat, back, half, cut, last = netspec.build(spec)(x)
    torch.testing.assert_close(flat, x.reshape(2, -1))
    torch.testing.assert_close(back, x)
    torch.testing.assert_close(half, x.chunk(2, 2)[0])
    torch.testing.assert_close(cut, x[:, :, 1:3])
    torch.testing.assert_close(last, x[:, :, -1])


@pytest.mark.parametrize(
    ("shape", "node", "message"),
    [
        ([2, 5, 8], {"op": "MultiheadAttention", "num_heads": 2, "dropout": 1.5}, "`dropout` of `MultiheadAttention`"),
        ([2, 5, 8], {"op": "MultiheadAttention", "num_heads": 0}, "must be at least 1"),
        (
            [2, 5, 9],
            {"op": "MultiheadAttention", "embed_dim": 9, "num_heads": 2},
            "must be divisible by `num_heads` (=2)",
        ),
        (
            [2, 3, 5, 8],
            {"op": "MultiheadAttention", "num_heads": 2, "batch_first": True},
            "`MultiheadAttention` expects a query [N, L, E] (or [L, E] unbatched), got [2, 3, 5, 8]",
        ),
        (
            [2, 5, 8],
            {"op": "MultiheadAttention", "embed_dim": 6, "num_heads": 2},
            "`embed_dim` is 6 but the query has 8 features (its last dimension)",
        ),
        ([4], {"op": "ScaledDotProductAttention", "in": ["x", "x", "x"]}, "needs a query [..., L, E], got [4]"),
        ([2, 4, 3], {"op": "ScaledDotProductAttention", "in": ["x", "x", "x"], "dropout_p": 2}, "between 0 and 1"),
        ([2, 4, 3], {"op": "ScaledDotProductAttention", "in": ["x", "x", "x"], "scale": -1}, "must be positive"),
        ([2, 4], {"op": "Embedding", "num_embeddings": 0, "embedding_dim": 3}, "must be at least 1"),
        ([2, 4], {"op": "Embedding", "num_embeddings": 11, "embedding_dim": 3, "padding_idx": 11}, "within the 11"),
        ([6], {"op": "LSTM", "hidden_size": 4}, "`LSTM` expects an input [L, N, H] ([N, L, H] with `batch_first`)"),
        (
            [2, 3, 4, 6],
            {"op": "GRU", "input_size": 6, "hidden_size": 4},
            "`GRU` expects an input [L, N, H] ([N, L, H] with",
        ),
        ([2, 3, 6], {"op": "LSTM", "hidden_size": 0}, "must be at least 1"),
        ([2, 3, 6], {"op": "LSTM", "hidden_size": 5, "proj_size": 5}, "below `hidden_size` (5)"),
        ([4, 4], {"op": "PixelUnshuffle", "downscale_factor": 2}, "expects an input [..., C, H, W], got [4, 4]"),
        ([1, 1, 4, 4], {"op": "PixelUnshuffle", "downscale_factor": 0}, "must be at least 1"),
    ],
)
def test_attention_sequence_and_image_layer_problems_are_reported(
    shape: list[Any], node: dict[str, Any], message: str
) -> None:
    outputs = {"LSTM": ["op:0"], "GRU": ["op:0"], "MultiheadAttention": ["op:output"]}.get(node["op"])
    assert message in _problem(shape, {"op": node}, outputs)


def test_attention_whose_key_has_another_rank_or_size() -> None:
    spec = {"name": "t", "inputs": {"x": [2, 5, 8], "memory": [3, 6]}}
    nodes = {"attend": {"op": "MultiheadAttention", "in": ["x", "memory"], "num_heads": 2}}
    with pytest.raises(netspec.SpecError, match=r"the key \[3, 6\] of `MultiheadAttention` has another rank"):
        netspec.infer_shapes(netspec.load({**spec, "nodes": nodes, "outputs": ["attend:output"]}))
    spec["inputs"] = {"x": [5, 2, 8], "memory": [3, 2, 6]}
    built = netspec.load({**spec, "nodes": nodes, "outputs": ["attend:output"]})
    model = netspec.build(built).eval()
    reference = nn.MultiheadAttention(8, 2, kdim=6, vdim=6).eval()
    model.get_submodule("attend").load_state_dict(reference.state_dict())
    x, memory = torch.randn(5, 2, 8), torch.randn(3, 2, 6)
    torch.testing.assert_close(model(x, memory), reference(x, memory, memory, need_weights=False)[0])


def test_attention_macs_count_the_projections_and_the_scores() -> None:
    from netspec import summarize

    nodes: dict[str, Any] = {"attend": {"op": "MultiheadAttention", "num_heads": 2, "batch_first": True}}
    spec = _spec([2, 5, 8], nodes, ["attend:output"])
    # per batch item: q/k/v/out projections of 5 positions x 8 x 8, then 5 x 5 scores times 8 twice
    assert summarize(spec).totals.macs == 2 * (5 * 8 * 8 * 4 + 2 * 5 * 5 * 8)
    nodes = {"attend": {"op": "ScaledDotProductAttention", "in": ["x", "x", "x"]}}
    # 2 x 2 x 4 queries, each with 4 scores of 3 products and 4 weighted values of 3
    assert summarize(_spec([2, 2, 4, 3], nodes)).totals.macs == 2 * 2 * 4 * 4 * 3 * 2


@pytest.mark.parametrize("op", ["mean", "sum", "amax", "amin"])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [None, [], [1], [0, 2], -1])
def test_reduction_shapes_match_torch(op: str, keepdim: bool, dim: Any) -> None:
    # `dim: []` reduces every dimension, as torch does (not none of them).
    node: dict[str, Any] = {"op": op, "keepdim": keepdim}
    if dim is not None:
        node["dim"] = dim
    x, got, inferred = _run([2, 8, 4], node)
    fn = getattr(torch, op)
    expected = fn(x, dim=dim if dim is not None or op in ("mean", "sum") else [], keepdim=keepdim)
    assert tuple(got.shape) == tuple(expected.shape) == tuple(inferred)
    torch.testing.assert_close(got, expected)


@st.composite
def layouts(draw: st.DrawFn) -> tuple[list[int], list[dict[str, Any]], Any]:
    """A concrete shape, one or two ops that move its layout, and a torch function doing the same."""
    shape = draw(st.lists(st.integers(1, 4), min_size=2, max_size=4))
    nodes: list[dict[str, Any]] = []
    steps: list[Any] = []
    current = list(shape)
    for _ in range(draw(st.integers(1, 2))):
        rank = len(current)
        kind = draw(st.sampled_from(["permute", "transpose", "slice", "expand", "unsqueeze", "index"]))
        if kind == "permute":
            dims = list(draw(st.permutations(range(rank))))
            nodes.append({"op": "permute", "dims": dims})
            steps.append(lambda x, dims=dims: x.permute(*dims))
            current = [current[d] for d in dims]
        elif kind == "transpose":
            a, b = draw(st.integers(0, rank - 1)), draw(st.integers(0, rank - 1))
            nodes.append({"op": "transpose", "dim0": a, "dim1": b})
            steps.append(lambda x, a=a, b=b: x.transpose(a, b))
            current[a], current[b] = current[b], current[a]
        elif kind == "slice":
            dim, step = draw(st.integers(0, rank - 1)), draw(st.integers(1, 2))
            nodes.append({"op": "slice", "dim": dim, "step": step})
            steps.append(lambda x, dim=dim, step=step: x[(slice(None),) * dim + (slice(None, None, step),)])
            current[dim] = -(-current[dim] // step)
        elif kind == "expand":
            size = [3 if s == 1 else -1 for s in current]
            nodes.append({"op": "expand", "size": size})
            steps.append(lambda x, size=size: x.expand(*size))
            current = [3 if s == 1 else s for s in current]
        elif kind == "unsqueeze":
            dim = draw(st.integers(0, rank))
            nodes.append({"op": "unsqueeze", "dim": dim})
            steps.append(lambda x, dim=dim: x.unsqueeze(dim))
            current.insert(dim, 1)
        elif rank > 1:
            dim = draw(st.integers(0, rank - 1))
            nodes.append({"op": "index", "dim": dim, "index": 0})
            steps.append(lambda x, dim=dim: x.select(dim, 0))
            current.pop(dim)
    # The view: merge two neighbouring dimensions, flatten everything, or split one.
    target = draw(st.sampled_from(["merge", "flat", "split"]))
    if target == "merge" and len(current) >= 2:
        at = draw(st.integers(0, len(current) - 2))
        new = current[:at] + [current[at] * current[at + 1]] + current[at + 2 :]
    elif target == "split" and any(s % 2 == 0 for s in current):
        at = next(i for i, s in enumerate(current) if s % 2 == 0)
        new = current[:at] + [2, current[at] // 2] + current[at + 1 :]
    else:
        new = [-1]
    nodes.append({"op": "view", "shape": new})

    def torch_fn(x: torch.Tensor) -> torch.Tensor:
        for step_fn in steps:
            x = step_fn(x)
        return x.view(new)

    return shape, nodes, torch_fn


@settings(max_examples=150, deadline=None)
@given(layouts())
def test_view_is_refused_exactly_where_torch_refuses_it(case: tuple[list[int], list[dict[str, Any]], Any]) -> None:
    shape, chain, torch_fn = case
    x = torch.randn(shape)
    try:
        expected = torch_fn(x)
    except RuntimeError as err:
        assert "view size is not compatible" in str(err)
        expected = None
    nodes = {f"n{i}": node for i, node in enumerate(chain)}
    spec = _spec(shape, nodes)
    if expected is None:
        with pytest.raises(netspec.SpecError) as caught:
            netspec.infer_shapes(spec)
        (error,) = caught.value.errors
        assert error.path == f"nodes.n{len(chain) - 1}" and "use `reshape`" in (error.hint or "")
    else:
        assert tuple(netspec.infer_shapes(spec)[f"n{len(chain) - 1}"]) == tuple(expected.shape)


def test_a_view_that_torch_accepts_after_a_transpose_still_validates() -> None:
    # [N, 8, 4] -> [N, 4, 8]: splitting a dimension, or merging after transposing back, is a view.
    nodes = {
        "t": {"op": "transpose", "dim0": 1, "dim1": 2},
        "split": {"op": "view", "shape": ["N", 4, 2, 4]},
        "back": {"op": "transpose", "in": "t", "dim0": 1, "dim1": 2},
        "merged": {"op": "view", "shape": ["N", 32]},
        "copy": {"op": "reshape", "in": "t", "shape": ["N", 32]},
        "after": {"op": "view", "shape": ["N", 4, 8]},
    }
    spec = _spec(["N", 8, 4], nodes, ["split", "merged", "after"])
    model = netspec.build(spec)
    x = torch.randn(2, 8, 4)
    for got, want in zip(
        model(x), (x.transpose(1, 2).view(2, 4, 2, 4), x.view(2, 32), x.transpose(1, 2).reshape(2, 32).view(2, 4, 8))
    ):
        torch.testing.assert_close(got, want)


_LINEAR = torch.nn.Linear(8, 8)


@pytest.mark.parametrize(
    ("chain", "torch_fn"),
    [
        ([{"op": "Linear", "out_features": 8}, {"op": "view", "shape": ["N", 40]}], lambda x: _LINEAR(x).view(2, 40)),
        (
            [{"op": "Linear", "out_features": 8}, {"op": "transpose", "dim0": 1, "dim1": 2}, {"op": "view", "shape": ["N", 40]}],
            lambda x: _LINEAR(x).transpose(1, 2).view(2, 40),
        ),
        (
            [{"op": "transpose", "dim0": 1, "dim1": 2}, {"op": "matmul", "in": ["n0", "x"]}, {"op": "view", "shape": ["N", 64]}],
            lambda x: (x.transpose(1, 2) @ x).view(2, 64),
        ),
        (
            [{"op": "unsqueeze", "dim": 1}, {"op": "squeeze", "dim": 1}, {"op": "permute", "dims": [0, 2, 1]}, {"op": "view", "shape": ["N", 40]}],
            lambda x: x.unsqueeze(1).squeeze(1).permute(0, 2, 1).view(2, 40),
        ),
        (
            [{"op": "unsqueeze", "dim": 3}, {"op": "squeeze", "dim": 3}, {"op": "view", "shape": ["N", 40]}],
            lambda x: x.unsqueeze(3).squeeze(3).view(2, 40),
        ),
    ],
)  # fmt: skip
def test_view_after_layers_follows_their_layout(chain: list[dict[str, Any]], torch_fn: Any) -> None:
    # A Linear's or a matmul's output is a new contiguous tensor, whatever its inputs' layout.
    try:
        expected = torch_fn(torch.randn(2, 5, 8))
    except RuntimeError as err:
        assert "view size is not compatible" in str(err)
        expected = None
    spec = _spec(["N", 5, 8], {f"n{i}": node for i, node in enumerate(chain)})
    if expected is None:
        with pytest.raises(netspec.SpecError, match="use `reshape`"):
            netspec.infer_shapes(spec)
    else:
        assert tuple(netspec.build(spec)(torch.randn(2, 5, 8)).shape) == tuple(expected.shape)
