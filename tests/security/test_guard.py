"""The runtime input guard refuses sizes off the size lattice with netspec's message (naming the layer
and the nearest sizes that run), only sizes torch refuses too, in a few integer operations."""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.overrides import TorchFunctionMode

import netspec
from netspec import _runtime
from netspec._api import prepare
from netspec._compile import compile_graph
from netspec._guard import condition_rules, index_rules, size_rules

EVEN = """netspec: 1
name: even
inputs: {x: [N, 2, H, W]}
nodes:
  pool: {op: MaxPool2d, kernel_size: 2}
  up: {op: Upsample, scale_factor: 2}
  join: {op: add, in: [x, up]}
"""


def _unguarded(source: Any) -> torch.nn.Module:
    return compile_graph(prepare(source, None, None), guard=False)


@pytest.mark.parametrize("height", [172, 100, 187])
def test_a_unet_size_off_the_lattice_is_refused_with_the_layer_and_the_nearest_sizes(height: int) -> None:
    model = netspec.build("unet", params={"width": 2})
    with pytest.raises(ValueError) as caught:
        model(torch.rand(1, 1, height, 188))
    message = str(caught.value)
    assert f"dimension 2 (`H`) is {height}, which `" in message
    assert "the network runs at `H` >= 188: use 188" in message
    with pytest.raises(Exception) as torch_says:  # without the guard, torch refuses it in its own words
        _unguarded(netspec.load("unet"))(torch.rand(1, 1, height, 188))
    assert "netspec" not in str(torch_says.value) and "`H`" not in str(torch_says.value)


def test_sizes_on_the_lattice_pass_the_guard() -> None:
    model = netspec.build("unet", params={"width": 2})
    for height in (188, 204, 190):  # 190 runs (it crops off-center): the guard refuses only what cannot run
        assert model(torch.rand(1, 1, height, 188)).shape[0] == 1


def test_a_periodic_lattice_names_the_layer_and_both_neighbours() -> None:
    model = netspec.build(netspec.loads(EVEN))
    assert model(torch.rand(1, 2, 6, 8)).shape == (1, 2, 6, 8)
    with pytest.raises(ValueError) as caught:
        model(torch.rand(1, 2, 7, 8))
    assert "dimension 2 (`H`) is 7, which `join` cannot take" in str(caught.value)
    assert "runs at `H` = 2 + 2k (k >= 0): use 6 or 8" in str(caught.value)
    with pytest.raises(ValueError, match=re.escape("dimension 3 (`W`) is 1, which `pool` cannot take")):
        model(torch.rand(1, 2, 6, 1))
    with pytest.raises(RuntimeError):
        _unguarded(netspec.loads(EVEN))(torch.rand(1, 2, 7, 8))


def test_the_rule_is_plain_literals_in_the_generated_code() -> None:
    model = netspec.build(netspec.loads(EVEN))
    assert "(2, 'H', 2, 2, '10', ['', 'join'], 'pool')" in model.code
    assert "'W'" in model.code


def test_a_condition_on_two_dimensions_is_refused_at_the_node() -> None:
    # The guard checks each symbol on its own: `H//2 == W//2` would pass it and fail in torch.
    text = EVEN.replace(
        "  join: {op: add, in: [x, up]}", "  t: {op: transpose, dim0: 2, dim1: 3}\n  join: {op: add, in: [pool, t]}"
    )
    text = text.replace("  up: {op: Upsample, scale_factor: 2}\n", "")
    with pytest.raises(netspec.SpecError) as caught:
        prepare(netspec.loads(text), None, None)
    assert [(d.code, d.path) for d in caught.value.errors] == [("NS207", "nodes.join")]


class _Count(TorchFunctionMode):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        self.calls.append(getattr(func, "__name__", str(func)))
        return func(*args, **(kwargs or {}))


def _guard_calls(lattice: list[Any] | None, shape: tuple[int, ...]) -> list[str]:
    x = torch.rand(shape)
    with _Count() as count:
        _runtime.check_input(x, "x", len(shape), shape[1], "[N, C, H, W]", [0, shape[1], 0, 0], 1, lattice)
    return count.calls


def test_the_lattice_check_costs_integer_operations_only() -> None:
    short = [(2, "H", 2, 2, "10", ["", "a"], "b"), (3, "W", 2, 2, "10", ["", "a"], "b")]
    period = 1000
    long = [(axis, s, 2, period, "1" + "0" * (period - 1), [""] * period, "b") for axis, s in ((2, "H"), (3, "W"))]
    without = _guard_calls(None, (1, 2, 8, 8))
    assert _guard_calls(short, (1, 2, 8, 8)) == _guard_calls(long, (1, 2, 1002, 1002))
    extra = len(_guard_calls(short, (1, 2, 8, 8))) - len(without)
    assert extra <= 2 * 2  # per checked dimension, at most the read of its size: no tensor is made or computed
    assert all(
        name in ("dim", "__get__", "size", "is_floating_point", "__getitem__")
        for name in _guard_calls(long, (1, 2, 1002, 1002))
    )


def test_the_guard_adds_one_call_per_input_and_nothing_else() -> None:
    info = prepare(netspec.loads(EVEN), None, None)
    guarded, bare = compile_graph(info), compile_graph(info, guard=False)
    calls = [n for n in guarded.graph.nodes if n.target is _runtime.check_input]
    assert len(calls) == 1 and len(guarded.graph.nodes) == len(bare.graph.nodes) + 1


def test_a_scripted_guard_refuses_the_same_size() -> None:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*torch.jit.script.* is deprecated")
        scripted = torch.jit.script(_runtime.check_input)
    rule = [(2, "H", 2, 4, "1010", ["", "join", "", "join"], "pool")]
    with pytest.raises(Exception, match=re.escape("which `join` cannot take; the network runs at `H` in {2, 4} + 4k")):
        scripted(torch.rand(1, 2, 7, 8), "x", 4, 2, "[N, 2, H, W]", [0, 2, 0, 0], 1, rule)
    assert scripted(torch.rand(1, 2, 6, 8), "x", 4, 2, "[N, 2, H, W]", [0, 2, 0, 0], 1, rule).shape[2] == 6


def test_a_guard_past_its_work_budget_leaves_the_sizes_to_the_layers(monkeypatch: pytest.MonkeyPatch) -> None:
    info = prepare(netspec.loads(EVEN), None, None)
    assert len(size_rules(info, "x")) == 2
    monkeypatch.setattr("netspec._guard.MAX_GUARD_WORK", 2048)  # fewer than one dimension's conditions x sizes
    assert size_rules(info, "x") == []


# --- conditions over two or more symbols -----------------------------------------------------------

GUARD_SPECS = Path(__file__).parent.parent / "specs" / "guard"


def _refusal(model: torch.nn.Module, *inputs: torch.Tensor) -> BaseException | None:
    try:
        model(*inputs)
    except Exception as err:  # what refused the inputs, if anything
        return err
    return None


def test_conditions_over_two_symbols_refuse_exactly_the_sizes_torch_refuses() -> None:
    spec = netspec.load(GUARD_SPECS / "token_groups.yaml")
    guarded, bare = netspec.build(spec), _unguarded(spec)
    bare.load_state_dict(guarded.state_dict())
    refused = 0
    for height in range(1, 13):
        for width in range(1, 13):
            x = torch.rand(1, 3, height, width)
            ours, theirs = _refusal(guarded, x), _refusal(bare, x)
            assert (ours is None) == (theirs is None), (height, width, ours, theirs)
            if ours is not None:
                refused += 1
                assert isinstance(ours, ValueError) and str(ours).startswith("input `x` expects shape [N, 3, H, W]")
                assert f"`H` = {height}, `W` = {width}" in str(ours)
            else:
                assert torch.equal(guarded(x), bare(x))
    assert 0 < refused < 144  # both conditions refuse some sizes, most run


def test_a_size_two_conditions_refuse_names_the_first_layer_that_refuses_it() -> None:
    model = netspec.build(netspec.load(GUARD_SPECS / "token_groups.yaml"))
    # 4x4 -> 2x2 map, 4 tokens: the padded `mix` runs, the unpadded `temporal` makes 0 of them
    with pytest.raises(ValueError, match=re.escape("`temporal` cannot take `H` = 4, `W` = 4: `Conv1d` output length")):
        model(torch.rand(1, 3, 4, 4))
    # 10x10 -> 5x5 map, 25 tokens, 21 after `temporal`: not a multiple of 4 for `groups`
    with pytest.raises(ValueError, match=re.escape("`groups` cannot take `H` = 10, `W` = 10")) as caught:
        model(torch.rand(1, 3, 10, 10))
    assert "(got 20 and 21)" in str(caught.value)
    # 1x1 -> 1 token: `mix` (padded) still runs, `temporal` is the first that cannot
    with pytest.raises(ValueError, match=re.escape("`temporal` cannot take `H` = 1, `W` = 1")):
        model(torch.rand(1, 3, 1, 1))
    assert model(torch.rand(2, 3, 16, 18)).shape == (2, 8, 4, 17)  # 8x9 = 72 tokens, 68 after `temporal`


def test_a_condition_over_symbols_of_two_inputs_is_checked_with_the_later_input() -> None:
    model = netspec.build(netspec.load(GUARD_SPECS / "two_inputs.yaml"))
    assert model(torch.rand(1, 4, 1, 1), torch.rand(1, 4, 6)).shape == (1, 4, 1)  # 1 + 6 = 7: one output
    with pytest.raises(ValueError) as caught:
        model(torch.rand(1, 4, 1, 2), torch.rand(1, 4, 4))
    assert str(caught.value).startswith("input `y` expects shape [N, 4, L], got [1, 4, 4]; `conv` cannot take")
    assert "`H` = 1, `L` = 4, `W` = 2" in str(caught.value) and "(got 0)" in str(caught.value)
    with pytest.raises(RuntimeError):  # torch refuses it too, in its own words
        _unguarded(netspec.load(GUARD_SPECS / "two_inputs.yaml"))(torch.rand(1, 4, 1, 2), torch.rand(1, 4, 4))
    namespace: dict[str, Any] = {}
    exec(compile(netspec.export_python(GUARD_SPECS / "two_inputs.yaml"), "two_inputs.py", "exec"), namespace)
    exported = next(v for k, v in namespace.items() if isinstance(v, type) and issubclass(v, torch.nn.Module))()
    with pytest.raises(ValueError, match=re.escape("`conv` cannot take `H` = 1, `L` = 4, `W` = 2")):
        exported(torch.rand(1, 4, 1, 2), torch.rand(1, 4, 4))  # the exported file reads `x`'s sizes too


def test_the_condition_check_reads_sizes_and_computes_nothing_on_tensors() -> None:
    model = netspec.build(netspec.load(GUARD_SPECS / "token_groups.yaml"))
    (call,) = [n for n in model.graph.nodes if n.target is _runtime.check_input]
    args, x = list(call.args), torch.rand(1, 3, 16, 16)
    with _Count() as count:
        _runtime.check_input(x, *args[1:])
    assert set(count.calls) <= {"dim", "__get__", "size", "is_floating_point", "__getitem__"}, count.calls
    program, conditions = args[8], args[9]
    assert len(conditions) == 2  # two conditions: the tightest of the two convolutions', and the unflatten's
    assert [rule[5] for rule in conditions] == [["mix", "temporal"], ["groups"]]
    # The map's token count, ((H+1)//2)*((W+1)//2), is computed once for both: 14 registers in all.
    assert len(program) == 3 * 14


def test_conditions_past_the_limit_are_left_to_the_layers(monkeypatch: pytest.MonkeyPatch) -> None:
    info = prepare(netspec.load(GUARD_SPECS / "token_groups.yaml"), None, None)
    assert [len(rules) for _, rules, _ in condition_rules(info).values()] == [2]
    monkeypatch.setattr("netspec._guard.MAX_GUARD_CONDITIONS", 1)
    ((_, rules, known),) = condition_rules(info).values()
    assert [rule[5] for rule in rules] == [["mix", "temporal"]] and known == []
    monkeypatch.setattr("netspec._guard.MAX_CONDITION_PROGRAM", 4)  # more new operations than that: not checked
    assert condition_rules(info) == {}
    model = compile_graph(info)
    with pytest.raises(RuntimeError):  # the unflatten refuses 6x6 itself
        model(torch.rand(1, 3, 6, 6))


def test_guarded_conditions_survive_every_export(tmp_path: Path) -> None:
    spec = netspec.load(GUARD_SPECS / "token_groups.yaml")
    path = tmp_path / "token_groups.py"
    path.write_text(netspec.export_python(spec))
    namespace: dict[str, Any] = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)  # the file netspec wrote, not spec text
    exported = next(v for k, v in namespace.items() if isinstance(v, type) and issubclass(v, torch.nn.Module))()
    assert exported(torch.rand(1, 3, 16, 16)).shape == (1, 8, 4, 15)
    with pytest.raises(ValueError, match=re.escape("`groups` cannot take `H` = 6, `W` = 6")):
        exported(torch.rand(1, 3, 6, 6))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        netspec.export_torchscript(spec, tmp_path / "m.pt")
        scripted = torch.jit.load(str(tmp_path / "m.pt"))
    assert scripted(torch.rand(1, 3, 16, 16)).shape == (1, 8, 4, 15)
    with pytest.raises(Exception, match=re.escape("`groups` cannot take `H` = 6, `W` = 6")):
        scripted(torch.rand(1, 3, 6, 6))
    program = netspec.export_pt2(spec, dynamic=False)
    assert program.module()(torch.rand(1, 3, 16, 16)).shape == (1, 8, 4, 15)
    pytest.importorskip("onnxscript")
    ort = pytest.importorskip("onnxruntime")
    netspec.export_onnx(spec, tmp_path / "m.onnx", dynamic=False)
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    (output,) = session.run(None, {session.get_inputs()[0].name: torch.rand(1, 3, 16, 16).numpy()})
    assert output.shape == (1, 8, 4, 15)


# --- embedding indices ----------------------------------------------------------------------------


def test_indices_an_embedding_cannot_look_up_are_refused_with_the_layer_and_its_size() -> None:
    model = netspec.build(netspec.load(GUARD_SPECS / "segments.yaml"))
    tokens, segments = torch.randint(0, 1000, (2, 12)), torch.randint(0, 2, (2, 12))
    assert model(tokens, segments).shape == (2, 12, 4)
    assert model(tokens.int(), segments.int()).shape == (2, 12, 4)  # int32 indices are indices too
    assert model(torch.zeros(2, 12, dtype=torch.long), segments).shape == (2, 12, 4)  # padding_idx 0 is an index
    high = segments.clone()
    high[1, 5] = 2
    with pytest.raises(ValueError) as caught:
        model(tokens, high)
    assert str(caught.value) == (
        "input `segments` holds the index 2, which the embedding `segment_embed` (num_embeddings=2) cannot look up:"
        " indices must be in [0, 2)"
    )
    low = tokens.clone()
    low[0, 0] = -1
    with pytest.raises(ValueError, match=re.escape("input `tokens` holds the index -1, which the embedding")):
        model(low, segments)
    with pytest.raises(ValueError, match=re.escape("num_embeddings=1000) cannot look up")):
        model(torch.full((2, 12), 1000), segments)
    bare = _unguarded(netspec.load(GUARD_SPECS / "segments.yaml"))
    for bad in ((tokens, high), (low, segments)):
        with pytest.raises(IndexError):  # torch refuses them too, from inside its kernel
            bare(*bad)


def test_indices_of_a_dtype_an_embedding_refuses_are_refused() -> None:
    model = netspec.build(netspec.load(GUARD_SPECS / "segments.yaml"))
    segments = torch.zeros(2, 12, dtype=torch.long)
    with pytest.raises(ValueError, match=re.escape("input `tokens` expects integer indices, got torch.float32")):
        model(torch.zeros(2, 12), segments)
    with pytest.raises(ValueError, match=re.escape("which takes int64 or int32 indices, got torch.int16")):
        model(torch.zeros(2, 12, dtype=torch.int16), segments)


def test_indices_are_followed_through_ops_that_only_move_them() -> None:
    text = """netspec: 1
name: ids
inputs: {ids: [N, H, W]}
dims: {H: 3, W: 4}
nodes:
  flat: {op: Flatten, start_dim: 1}
  t: {op: transpose, dim0: 0, dim1: 1}
  embed: {op: Embedding, num_embeddings: 10, embedding_dim: 2}
  small: {op: Embedding, num_embeddings: 5, embedding_dim: 2, in: ids}
outputs: [embed, small]
"""
    spec = netspec.loads(text)
    assert index_rules(prepare(spec, None, None), "ids") == [("embed", 10, "embedding"), ("small", 5, "embedding")]
    model = netspec.build(spec)
    big, small = model(torch.randint(0, 5, (2, 3, 4)))
    assert big.shape == (12, 2, 2) and small.shape == (2, 3, 4, 2)
    with pytest.raises(ValueError, match=re.escape("holds the index 7, which the embedding `small`")):
        model(torch.full((2, 3, 4), 7))  # `embed` takes 7 (10 rows), `small` does not (5)
    with pytest.raises(ValueError, match=re.escape("holds the index 10, which the embedding `embed`")):
        model(torch.full((2, 3, 4), 10))  # the first in execution order that cannot


_LOOKUP = """netspec: 1
name: lookup
inputs: {x: [N, 5], i: [N]}
nodes:
  table: {op: Parameter, shape: [10, 5]}
  rows: {op: index_select, in: [table, i], dim: 0}
  both: {op: add, in: [rows, x]}
"""


def test_indices_an_index_select_cannot_pick_are_refused(tmp_path: Path) -> None:
    spec = netspec.loads(_LOOKUP)
    assert index_rules(prepare(spec, None, None), "i") == [("rows", 10, "index_select")]
    model = netspec.build(spec)
    namespace: dict[str, Any] = {}
    exec(compile(netspec.export_python(spec), "lookup.py", "exec"), namespace)  # the file netspec wrote
    exported = next(v for k, v in namespace.items() if isinstance(v, type) and issubclass(v, torch.nn.Module))()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        netspec.export_torchscript(spec, tmp_path / "m.pt")
        scripted = torch.jit.load(str(tmp_path / "m.pt"))
    x = torch.randn(3, 5)
    for runner in (model, exported, scripted):
        assert runner(x, torch.tensor([0, 9, 4])).shape == (3, 5)
        assert runner(x, torch.tensor([0, 9, 4], dtype=torch.int32)).shape == (3, 5)
        with pytest.raises(Exception, match=re.escape("input `i` feeds the index_select `rows`, which takes int64")):
            runner(x, torch.tensor([0.0, 1.0, 2.0]))
        with pytest.raises(
            Exception, match=re.escape("holds the index 10, which the index_select `rows` (10 entries)")
        ):
            runner(x, torch.tensor([0, 10, 1]))
        with pytest.raises(Exception, match=re.escape("holds the index -1, which the index_select `rows`")):
            runner(x, torch.tensor([0, -1, 1]))
    bare = _unguarded(spec)
    for bad in (torch.tensor([0.0, 1.0, 2.0]), torch.tensor([0, 10, 1]), torch.tensor([0, -1, 1])):
        with pytest.raises((IndexError, RuntimeError)):  # torch refuses them too, from inside its kernel
            bare(x, bad)


def test_an_index_select_over_a_symbolic_size_is_left_to_the_layer() -> None:
    spec = netspec.loads(
        _LOOKUP.replace("inputs: {x: [N, 5], i: [N]}", "inputs: {x: [N, 5], t: [M, 5], i: [N]}")
        .replace("  table: {op: Parameter, shape: [10, 5]}\n", "")
        .replace("in: [table, i]", "in: [t, i]")
    )
    assert index_rules(prepare(spec, None, None), "i") == []


def test_the_index_check_is_one_reduction() -> None:
    model = netspec.build(netspec.load(GUARD_SPECS / "segments.yaml"))
    calls = [n for n in model.graph.nodes if n.target is _runtime.check_input]
    tokens = torch.randint(0, 1000, (2, 12))
    with _Count() as count:
        _runtime.check_input(tokens, *calls[0].args[1:])
    assert count.calls.count("aminmax") == 1
    reads = {"dim", "__get__", "size", "is_floating_point", "is_complex", "__getitem__", "numel", "__int__"}
    assert set(count.calls) - {"aminmax"} <= reads  # the two values read back, nothing else computed


def test_guarded_indices_survive_every_export(tmp_path: Path) -> None:
    spec = netspec.load(GUARD_SPECS / "segments.yaml")
    tokens, segments = torch.randint(0, 1000, (2, 12)), torch.randint(0, 2, (2, 12))
    namespace: dict[str, Any] = {}
    exec(compile(netspec.export_python(spec), "segments.py", "exec"), namespace)  # the file netspec wrote
    exported = next(v for k, v in namespace.items() if isinstance(v, type) and issubclass(v, torch.nn.Module))()
    assert exported(tokens, segments).shape == (2, 12, 4)
    with pytest.raises(ValueError, match=re.escape("the embedding `segment_embed` (num_embeddings=2)")):
        exported(tokens, segments + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        netspec.export_torchscript(spec, tmp_path / "m.pt")
        scripted = torch.jit.load(str(tmp_path / "m.pt"))
    assert scripted(tokens, segments).shape == (2, 12, 4)
    with pytest.raises(Exception, match=re.escape("the embedding `segment_embed` (num_embeddings=2)")):
        scripted(tokens, segments + 1)
    program = netspec.export_pt2(spec)  # example indices within every table; the check is left to the layers
    assert program.module()(tokens, segments).shape == (2, 12, 4)
    pytest.importorskip("onnxscript")
    ort = pytest.importorskip("onnxruntime")
    netspec.export_onnx(spec, tmp_path / "m.onnx")
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    names = [i.name for i in session.get_inputs()]
    (output,) = session.run(None, dict(zip(names, (tokens.numpy(), segments.numpy()))))
    assert output.shape == (2, 12, 4)


def test_a_crop_to_a_second_input_refuses_a_reference_larger_than_what_it_crops() -> None:
    text = """netspec: 1
name: crop_to
inputs: {x: [N, 2, H, W], ref: [N, 2, K, J]}
dims: {H: 8, W: 8, K: 4, J: 4}
nodes:
  c: {op: crop, in: [x, ref]}
  join: {op: concat, in: [c, ref]}
"""
    model = netspec.build(netspec.loads(text))
    assert model(torch.rand(1, 2, 8, 8), torch.rand(1, 2, 4, 6)).shape == (1, 4, 4, 6)
    with pytest.raises(ValueError) as caught:
        model(torch.rand(1, 2, 4, 8), torch.rand(1, 2, 8, 4))
    assert "`c` cannot take `H` = 4, `K` = 8: the `crop` input in dimension 2 (it cannot grow)" in str(caught.value)
    assert "(got 4 and 8)" in str(caught.value)


_SEQUENCE_OPS = st.sampled_from(
    [
        "{op: Conv1d, out_channels: 4, kernel_size: %(k)d, stride: %(s)d, padding: %(p)d}",
        "{op: MaxPool1d, kernel_size: %(k)d, stride: %(s)d}",
        "{op: AvgPool1d, kernel_size: %(k)d}",
        "{op: Unflatten, dim: 2, unflattened_size: [%(s)d, -1]}\n  f%(i)d: {op: Flatten, start_dim: 2}",
    ]
)


@settings(max_examples=25, deadline=None)
@given(
    st.integers(1, 3),
    st.integers(1, 2),
    st.lists(st.tuples(_SEQUENCE_OPS, st.integers(1, 4), st.integers(1, 3), st.integers(0, 1)), min_size=1, max_size=3),
)
def test_the_guard_refuses_what_torch_refuses_over_a_flattened_map(kernel: int, stride: int, layers: Any) -> None:
    body = f"  stem: {{op: Conv2d, out_channels: 4, kernel_size: {kernel}, stride: {stride}}}\n"
    body += "  tokens: {op: Flatten, start_dim: 2}\n"
    for i, (op, k, s, p) in enumerate(layers):
        body += f"  l{i}: " + op % {"k": k, "s": s, "p": min(p, k // 2), "i": i} + "\n"
    text = "netspec: 1\nname: flat\ninputs: {x: [N, 2, H, W]}\nnodes:\n" + body
    try:
        spec = netspec.loads(text.replace("nodes:", "dims: {H: 24, W: 24}\nnodes:"))
        guarded = netspec.build(spec)
    except netspec.SpecError:
        return  # refused at the example size: nothing to run
    bare = _unguarded(spec)
    bare.load_state_dict(guarded.state_dict())
    for height, width in [(h, w) for h in range(1, 13, 2) for w in (1, 2, 3, 5, 8)]:
        x = torch.rand(1, 2, height, width)
        ours, theirs = _refusal(guarded, x), _refusal(bare, x)
        assert (ours is None) == (theirs is None), (text, height, width, ours, theirs)
        assert ours is None or isinstance(ours, ValueError), ours


def test_indices_that_only_some_values_reach_an_embedding_through_are_left_to_it() -> None:
    text = """netspec: 1
name: sliced
inputs: {ids: [N, L]}
dims: {L: 8}
nodes:
  head: {op: slice, dim: 1, start: 0, end: 4}
  embed: {op: Embedding, num_embeddings: 10, embedding_dim: 2}
"""
    spec = netspec.loads(text)
    assert index_rules(prepare(spec, None, None), "ids") == []  # a value past the slice never reaches it
    ids = torch.randint(0, 10, (2, 8))
    ids[:, 6] = 99
    assert netspec.build(spec)(ids).shape == (2, 4, 2)  # torch runs it too: 99 is sliced off


@pytest.mark.parametrize("value", [[[1.0]], 1.0, (1, 2)])
def test_a_value_that_is_not_a_tensor_is_a_type_error_in_netspecs_words(value: Any) -> None:
    model = netspec.build("examples/tiny_cnn.yaml")
    message = rf"input `image` expects a tensor of shape \[N, 1, 28, 28\], got {type(value).__name__}; convert it"
    with pytest.raises(TypeError, match=message):
        model(value)
    namespace: dict[str, Any] = {}
    exec(compile(netspec.export_python("examples/tiny_cnn.yaml"), "tiny_cnn.py", "exec"), namespace)
    exported = next(v for v in namespace.values() if isinstance(v, type) and issubclass(v, torch.nn.Module))()
    with pytest.raises(TypeError, match=message):
        exported(value)


def test_a_float_input_of_another_dtype_than_the_model_is_left_to_torch() -> None:
    """The guard does not compare float dtypes (docs/security.md says why): `model.double()` keeps working."""
    model = netspec.build("examples/tiny_cnn.yaml").double()
    assert model(torch.randn(2, 1, 28, 28, dtype=torch.float64)).dtype == torch.float64
