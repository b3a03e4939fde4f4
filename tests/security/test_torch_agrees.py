"""Where netspec accepts a spec, torch's forward runs; where it refuses it (at validation), torch's
forward fails. Grids of small cases, each validated by netspec and run by torch on the same shapes."""

from __future__ import annotations

import itertools
import json
import warnings
from collections.abc import Callable

import pytest
import torch
from torch import nn

import netspec


def _refused(text: str) -> netspec.Diagnostic | None:
    """The first error `validate` reports for the spec, or None when it is valid."""
    try:
        netspec.validate(netspec.loads(text))
    except netspec.SpecError as err:
        return err.errors[0]
    return None


def _torch_fails(run: Callable[[], object]) -> bool:
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's notes on even kernels with `padding: same`
            run()
    except RuntimeError:
        return True
    return False


def _agree(cases: list[tuple[str, str, Callable[[], object]]]) -> None:
    wrong = []
    for label, text, run in cases:
        refused, fails = _refused(text), _torch_fails(run)
        if (refused is not None) != fails:
            wrong.append(
                f"{label}: netspec {'refuses' if refused else 'accepts'}, torch {'fails' if fails else 'runs'}"
            )
        elif refused is not None and refused.code != "NS200":
            wrong.append(f"{label}: {refused.code} {refused.message}")
    assert not wrong, "\n".join(wrong[:20])


def test_same_padding_with_each_padding_mode_agrees_with_torch() -> None:
    cases = []
    for n, mode, kernel, dilation, size in itertools.product(
        (1, 2), ("zeros", "reflect", "circular", "replicate"), (2, 3, 5), (1, 2, 3), (1, 2, 3, 4, 5)
    ):
        shape = [2, 2] + [size] + [6] * (n - 1)
        text = (
            f"name: t\ninputs: {{x: {shape}}}\nnodes:\n  c: {{op: Conv{n}d, out_channels: 2, kernel_size: {kernel}, "
            f"dilation: {dilation}, padding: same, padding_mode: {mode}}}\n"
        )
        conv = getattr(nn, f"Conv{n}d")(2, 2, kernel, dilation=dilation, padding="same", padding_mode=mode)
        cases.append(
            (f"Conv{n}d {mode} k={kernel} d={dilation} {shape}", text, lambda c=conv, s=shape: c(torch.randn(s)))
        )
    _agree(cases)


def test_pools_on_inputs_smaller_than_their_kernel_agree_with_torch() -> None:
    cases = []
    for kind, n, kernel, padding, size, ceil in itertools.product(
        ("MaxPool", "AvgPool"), (1, 2, 3), (2, 3), (0, 1), (1, 2, 3), (False, True)
    ):
        if padding > kernel // 2:
            continue  # an argument row of the table
        shape = [2, 2] + [size] + [5] * (n - 1)
        op = f"{kind}{n}d"
        text = (
            f"name: t\ninputs: {{x: {shape}}}\nnodes:\n  p: {{op: {op}, kernel_size: {kernel}, stride: 1, "
            f"padding: {padding}, ceil_mode: {str(ceil).lower()}}}\n"
        )
        pool = getattr(nn, op)(kernel, stride=1, padding=padding, ceil_mode=ceil)
        cases.append(
            (f"{op} k={kernel} p={padding} ceil={ceil} {shape}", text, lambda m=pool, s=shape: m(torch.randn(s)))
        )
    for kind, n, out, size in itertools.product(
        ("AdaptiveMaxPool", "AdaptiveAvgPool"), (1, 2, 3), (1, 3, 7), (1, 2, 5)
    ):
        shape = [2, 2] + [size] * n
        op = f"{kind}{n}d"
        text = f"name: t\ninputs: {{x: {shape}}}\nnodes:\n  p: {{op: {op}, output_size: {out}}}\n"
        pool = getattr(nn, op)(out)
        cases.append((f"{op} out={out} {shape}", text, lambda m=pool, s=shape: m(torch.randn(s))))
    _agree(cases)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (
            "name: t\ninputs: {x: [N, 3, 2, 2]}\nnodes:\n"
            "  conv: {op: Conv2d, out_channels: 4, kernel_size: 3, dilation: 3, padding: same, padding_mode: reflect}\n",
            (4, 9),
        ),
        (
            "name: t\ninputs: {x: [N, 1, 1, 4, 4]}\nnodes:\n  pool: {op: AvgPool3d, kernel_size: 2, padding: 1}\n",
            (4, 9),
        ),
        (
            "name: t\ninputs: {x: [N, 4, 6, 6]}\nnodes:\n  p: {op: crop, size: [4, 4]}\n  v: {op: view, shape: [N, -1]}\n",
            (5, 6),
        ),
        (
            "name: t\ninputs: {x: [N, 4, 6]}\nnodes:\n  s: {op: split, split_size_or_sections: 3, dim: 2}\n"
            "  p: {op: Identity, in: 's:0'}\n  v: {op: view, shape: [-1]}\n",
            (6, 6),
        ),
        (
            "name: t\ninputs: {x: [N, 4, 6]}\nnodes:\n  t: {op: transpose, dim0: 1, dim1: 2}\n  p: ReLU\n"
            "  v: {op: view, shape: [N, 24]}\n",
            (6, 6),
        ),
    ],
)
def test_shape_refusals_point_at_the_node(text: str, where: tuple[int, int]) -> None:
    found = _refused(text)
    assert found is not None and (found.code, found.line, found.column) == ("NS200", *where), found
    assert "torch" in found.message + (found.hint or "")


def test_symbolic_sizes_below_a_same_padding_are_off_the_lattice() -> None:
    text = (
        "name: t\ninputs: {x: [N, 3, H, W]}\nnodes:\n"
        "  conv: {op: Conv2d, out_channels: 4, kernel_size: 3, dilation: 3, padding: same, padding_mode: reflect}\n"
    )
    lattice = netspec.valid_sizes(netspec.loads(text))
    assert 3 not in lattice["H"] and 4 in lattice["H"]
    text = "name: t\ninputs: {x: [N, 1, D, H, W]}\nnodes:\n  pool: {op: AvgPool3d, kernel_size: 3, padding: 1}\n"
    assert 2 not in netspec.valid_sizes(netspec.loads(text))["D"]


# Edge and tensor ops on one input, as `{op: ...}` nodes (the module ops come from test_ops.MODULE_CASES).
EDGE_CASES = [
    ("{op: crop, size: [2, 3]}", (2, 3, 4, 5)),
    ("{op: scale, by: 2.0}", (2, 3, 4)),
    ("{op: clamp, min: 0.0}", (2, 3, 4)),
    ("{op: exp}", (2, 3, 4)),
    ("{op: pad, pad: [1, 1]}", (2, 3, 4)),
    ("{op: interpolate, scale_factor: [2.0]}", (2, 3, 4)),
    ("{op: mean, dim: 1}", (2, 3, 4)),
    ("{op: sum, dim: -1, keepdim: true}", (2, 3, 4)),
    ("{op: normalize, dim: 1}", (2, 3, 4)),
    ("{op: add, in: [pre, pre]}", (2, 3, 4)),
    ("{op: mul, in: [pre, pre]}", (2, 3, 4)),
    ("{op: concat, in: [pre, pre], dim: 1}", (2, 3, 4)),
    ("{op: roll, shifts: 1, dims: 1}", (2, 3, 4)),
    ("{op: slice, dim: 1, start: 1}", (2, 3, 4)),
    ("{op: slice, dim: -1, step: 2}", (2, 3, 4)),
    ("{op: index, dim: 1, index: 0}", (2, 3, 4)),
    ("{op: unsqueeze, dim: 1}", (2, 3, 4)),
    ("{op: permute, dims: [0, 2, 1]}", (2, 3, 4)),
    ("{op: reshape, shape: [N, -1]}", (2, 3, 4)),
    ("{op: Unflatten, dim: 1, unflattened_size: [1, 3]}", (2, 3, 4)),
    ("{op: matmul, in: [pre, pre]}", (2, 4, 4)),
]


def _view_cases() -> list[tuple[str, tuple[int, ...]]]:
    from test_ops import MODULE_CASES  # every built-in layer of one input, with several argument sets

    cases = [
        ("{op: " + name + "".join(f", {k}: {json.dumps(v)}" for k, v in args.items()) + "}", shape)
        for name, args, shape in MODULE_CASES
    ]
    return cases + EDGE_CASES


@pytest.mark.parametrize("before", ["", "{op: transpose, dim0: -1, dim1: -2}", "{op: crop, size: [2]}"])
def test_view_after_each_op_is_refused_where_torch_refuses_it(before: str) -> None:
    """`x -> [before] -> op -> view`: validate's verdict on the view against `Tensor.view` of the op's real
    output. On a contiguous input they agree exactly; after a transpose or a crop, netspec may not know
    the layout a layer gives (torch keeps a channels-last one) and then refuses the view, saying so."""
    wrong, checked = [], 0
    for node, shape in _view_cases():
        if before.startswith("{op: crop") and len(shape) < 3:
            continue
        sizes = list(shape)
        declared = ["N", *sizes[1:]] if len(sizes) > 1 else sizes
        pre = f"  pre: {before}\n" if before else "  pre: Identity\n"
        prefix = f"name: t\ninputs: {{x: {declared}}}\nnodes:\n{pre}  p: {node}\n".replace(
            "in: [pre, pre]", "in: [pre, pre]"
        )
        if "crop" in before:
            sizes[-1] += 2
            prefix = prefix.replace(f"x: {declared}", f"x: {declared[:-1] + [sizes[-1]]}")
        try:
            model = netspec.build(netspec.loads(prefix))
        except netspec.SpecError:
            continue  # the op does not take this input
        model.eval()
        try:
            with torch.no_grad():
                out = model(torch.randn(*sizes))
        except ValueError:
            continue  # the input guard: the symbolic batch cannot be this size here
        checked += 1
        for view in ("[-1]", "[N, -1]" if out.dim() > 1 else "[-1]"):
            torch_fails = _torch_fails(lambda o=out, v=view, n=sizes[0]: o.view(-1) if v == "[-1]" else o.view(n, -1))
            refused = _refused(prefix + f"  v: {{op: view, shape: {view}, in: p}}\n")
            if refused is not None and "memory" not in refused.message:
                continue  # refused for another reason (a symbolic batch that does not divide the size)
            if refused is not None and not torch_fails and before and "not known" in refused.message:
                continue  # a layout netspec does not know: refused, with `reshape` as the fix
            if (refused is not None) != torch_fails:
                verdict = f"netspec {'refuses' if refused else 'accepts'}, torch {'fails' if torch_fails else 'runs'}"
                wrong.append(f"{before or 'x'} -> {node} -> view {view} on {sizes}: {verdict}")
    assert checked > 30
    assert not wrong, "\n".join(wrong)


_DTYPES = {"float64": torch.float64, "float16": torch.float16, "bfloat16": torch.bfloat16}


@pytest.mark.parametrize("dtype", sorted(_DTYPES))
def test_a_learned_tensor_of_another_dtype_reaching_each_layer_agrees_with_torch(dtype: str) -> None:
    """`x + p` with `p` a `Parameter` of `dtype` (torch promotes: float64 wins, float16 and bfloat16 give
    float32), then each layer: netspec refuses where the layer, run by torch on the promoted tensor, fails."""
    from test_ops import MODULE_CASES

    promoted = torch.promote_types(torch.float32, _DTYPES[dtype])
    wrong, seen = [], set()
    for name, args, shape in MODULE_CASES:
        if name in seen or name == "AvgPool3d":  # AvgPool3d has no float16 kernel on CPU (it has on CUDA)
            continue
        seen.add(name)
        node = "{op: " + name + "".join(f", {k}: {json.dumps(v)}" for k, v in args.items()) + "}"
        alone = f"name: t\ninputs: {{x: {list(shape)}}}\nnodes:\n  n: {node}\n"
        model = netspec.build(netspec.loads(alone)).eval()
        fails = _torch_fails(lambda m=model, s=shape: m(torch.randn(s).to(promoted)))
        text = (
            f"name: t\ninputs: {{x: {list(shape)}}}\nnodes:\n"
            f"  p: {{op: Parameter, shape: {[1] * len(shape)}, dtype: {dtype}, init: ones}}\n"
            f"  a: {{op: add, in: [x, p]}}\n  n: {node}\n"
        )
        refused = _refused(text)
        if (refused is not None) != fails:
            wrong.append(f"{name}: netspec {'refuses' if refused else 'accepts'}, torch {'fails' if fails else 'runs'}")
        elif refused is not None:
            assert (refused.line, refused.column, refused.path) == (6, 6, "nodes.n"), refused
    assert len(seen) > 50
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("dtype", sorted(_DTYPES))
@pytest.mark.parametrize("op", ["matmul", "linear", "add", "mul", "concat"])
def test_two_input_ops_of_mixed_dtypes_agree_with_torch(op: str, dtype: str) -> None:
    shape = {"add": [1, 4], "mul": [1, 4], "concat": [2, 4]}.get(op, [4, 4])
    text = (
        f"name: t\ninputs: {{x: [2, 4]}}\nnodes:\n  w: {{op: Parameter, shape: {shape}, dtype: {dtype}, init: ones}}\n"
        f"  n: {{op: {op}, in: [x, w]}}\n  l: {{op: Linear, out_features: 3}}\n"
    )
    functions = {
        "matmul": torch.matmul,
        "linear": torch.nn.functional.linear,
        "add": torch.add,
        "mul": torch.mul,
        "concat": lambda a, b: torch.cat([a, b]),
    }
    layer = torch.nn.Linear(4, 3)
    fails = _torch_fails(lambda: layer(functions[op](torch.randn(2, 4), torch.ones(*shape, dtype=_DTYPES[dtype]))))
    refused = _refused(text)
    assert (refused is not None) == fails, refused
    if refused is not None:
        node = "n" if op in ("matmul", "linear") else "l"
        assert refused.path == f"nodes.{node}" and refused.line == (5 if node == "n" else 6), refused
        assert "torch:" in refused.message


def test_layers_give_their_weights_dtype() -> None:
    """An `Embedding` of an integer index, and a norm layer of a float16 tensor promoted back: what
    follows takes float32, as in torch."""
    text = (
        "name: t\ninputs: {x: [N, 4]}\nnodes:\n  idx: {op: RelativePositionIndex, window_size: [2, 2]}\n"
        "  e: {op: Embedding, num_embeddings: 9, embedding_dim: 4, in: idx}\n  l: {op: Linear, out_features: 3}\n"
    )
    assert _refused(text) is None
    assert netspec.build(netspec.loads(text))(torch.randn(2, 4)).dtype == torch.float32


def test_norm_layers_take_half_precision_and_half_types_promote_to_float32() -> None:
    half = "name: t\ninputs: {x: [N, 4]}\nnodes:\n  p: {op: Parameter, shape: [2, 4], dtype: float16}\n  n: LayerNorm\n"
    assert _refused(half) is None  # torch's CPU layer_norm takes float16 with float32 weights
    assert not _torch_fails(lambda: torch.nn.LayerNorm(4)(torch.ones(2, 4, dtype=torch.float16)))
    assert _refused(half + "  l: {op: Linear, out_features: 2}\n") is not None  # the float16 goes on
    mixed = (
        "name: t\ninputs: {x: [N, 4]}\nnodes:\n  a: {op: Parameter, shape: [2, 4], dtype: float16}\n"
        "  b: {op: Parameter, shape: [2, 4], dtype: bfloat16}\n  s: {op: add, in: [a, b]}\n  l: {op: Linear, out_features: 2}\n"
    )
    assert torch.promote_types(torch.float16, torch.bfloat16) == torch.float32
    assert _refused(mixed) is None
