"""`inplace: true` never changes what a spec computes: netspec keeps it only where the tensor it
overwrites is made by an op that nothing else reads and whose backward does not read its output,
and runs the op out of place elsewhere, with a warning (NS213) at `inplace`. Checked against torch:
every kept in-place op gives the out-of-place result, forward and backward, in training."""

from __future__ import annotations

import pytest
import torch

import netspec
from netspec._shapes import _FRESH_OUTPUT

IMAGE = "[N, 4, 6, 6]"
# A node of each kind before the in-place op (on [N, 4, 6, 6] after a 1x1 convolution, which makes the
# tensor a non-leaf as in a real network); `None`: the op itself, with its defaults.
PRODUCERS: dict[str, str | None] = {
    "Conv2d": "{op: Conv2d, out_channels: 4, kernel_size: 3, padding: 1}",
    "ConvTranspose2d": "{op: ConvTranspose2d, out_channels: 4, kernel_size: 3, padding: 1}",
    "BatchNorm2d": None, "InstanceNorm2d": "{op: InstanceNorm2d, affine: true}", "GroupNorm": "{op: GroupNorm, num_groups: 2}",
    "LayerNorm": "{op: LayerNorm, normalized_shape: [6]}", "PReLU": None, "MaxPool2d": "{op: MaxPool2d, kernel_size: 2}",
    "AvgPool2d": "{op: AvgPool2d, kernel_size: 2}", "AdaptiveAvgPool2d": "{op: AdaptiveAvgPool2d, output_size: 2}",
    "AdaptiveMaxPool2d": "{op: AdaptiveMaxPool2d, output_size: 2}", "Upsample": "{op: Upsample, scale_factor: 2.0}",
    "ZeroPad2d": "{op: ZeroPad2d, padding: 1}", "PixelShuffle": "{op: PixelShuffle, upscale_factor: 2}",
    "Linear": "{op: Linear, out_features: 5}", "add": "{op: add, in: [c, c]}", "mul": "{op: mul, in: [c, c]}",
    "concat": "{op: concat, in: [c, c], dim: 1}", "matmul": "{op: matmul, in: [c, c]}", "linear": None,
    "pad": "{op: pad, pad: [1, 1]}", "interpolate": "{op: interpolate, scale_factor: [2.0, 2.0]}",
    "mean": "{op: mean, dim: 1}", "normalize": None, "clamp": "{op: clamp, min: -0.5}",
    "GELU": None, "SiLU": None, "ELU": None, "CELU": None, "SELU": None, "LeakyReLU": None, "ReLU6": None,
    "Hardtanh": None, "Hardswish": None, "Hardsigmoid": None, "Mish": None, "Softplus": None,
    # run out of place: views, aliases, ops whose backward reads their output
    "ReLU": None, "Sigmoid": None, "Tanh": None, "exp": None, "Softmax": "{op: Softmax, dim: 1}",
    "Identity": None, "Dropout": None, "Flatten": None, "expand": "{op: unsqueeze, dim: 1}\n  e: {op: expand, size: [-1, 3, -1, -1, -1]}",
    "transpose": "{op: transpose, dim0: 2, dim1: 3}", "permute": "{op: permute, dims: [0, 2, 3, 1]}",
    "view": "{op: view, shape: [N, 16, 9]}", "slice": "{op: slice, dim: 2, step: 2}", "index": "{op: index, dim: 1, index: 0}",
    "unsqueeze": "{op: unsqueeze, dim: 1}", "Unflatten": "{op: Unflatten, dim: 1, unflattened_size: [2, 2]}",
    "ReLU(inplace)": "{op: ReLU, inplace: true}", "SiLU(inplace)": "{op: SiLU, inplace: true}",
}  # fmt: skip
CONSUMERS = ["ReLU", "Dropout"]  # one whose backward reads its output, one that draws random numbers


def _spec(producer: str, consumer: str, inplace: bool) -> netspec.Spec:
    node = PRODUCERS[producer] or producer.partition("(")[0]
    weight = "  w: {op: Parameter, shape: [6, 6], init: ones}\n" if producer == "linear" else ""
    node = "{op: linear, in: [c, w]}" if producer == "linear" else node
    text = (
        f"name: t\ninputs: {{x: {IMAGE}}}\nnodes:\n{weight}"
        "  c: {op: Conv2d, out_channels: 4, kernel_size: 1, in: x}\n"
        f"  p: {node}\n  r: {{op: {consumer}, inplace: {str(inplace).lower()}}}\n  out: {{op: mul, in: [r, r]}}\n"
    )
    return netspec.loads(text)


def _run(spec: netspec.Spec) -> tuple[torch.nn.Module, torch.Tensor, list[torch.Tensor]]:
    torch.manual_seed(0)
    model = netspec.build(spec)
    model.train()
    x = torch.randn(2, 4, 6, 6)
    given = x.clone()
    torch.manual_seed(1)
    out = model(x)
    (out * torch.linspace(-1, 1, out.numel()).reshape(out.shape)).sum().backward()
    assert torch.equal(x, given)  # the caller's tensor is never written
    return model, out.detach(), [p.grad.clone() for p in model.parameters() if p.grad is not None]


@pytest.mark.parametrize("consumer", CONSUMERS)
@pytest.mark.parametrize("producer", sorted(PRODUCERS))
def test_an_in_place_op_computes_what_the_out_of_place_op_computes(producer: str, consumer: str) -> None:
    base = producer.partition("(")[0]
    inplace = _spec(producer, consumer, True)
    warned = [w for w in netspec.validate(inplace) if w.code == "NS213" and w.path == "nodes.r.inplace"]
    model, out, grads = _run(inplace)
    assert model.r.inplace is not bool(warned)
    if base in _FRESH_OUTPUT and "(" not in producer:  # kept where it is safe
        assert model.r.inplace, [w.message for w in warned]
    _, expected, expected_grads = _run(_spec(producer, consumer, False))
    torch.testing.assert_close(out, expected)
    assert len(grads) == len(expected_grads)
    for got, want in zip(grads, expected_grads):
        torch.testing.assert_close(got, want)


CASES = {  # spec, in-place node, line and column of its `inplace` value (None: kept)
    "input": ("inputs: {x: [N, 8]}\nnodes:\n  r: {op: ReLU, inplace: true}\n", "r", (4, 26)),
    "residual": (
        "inputs: {x: [N, 8]}\nnodes:\n  l: {op: Linear, out_features: 8}\n  clip: {op: Hardtanh, inplace: true}\n"
        "  out: {op: add, in: [l, clip]}\n",
        "clip",
        (5, 33),
    ),
    "output": (
        "inputs: {x: [N, 8]}\nnodes:\n  l: {op: Linear, out_features: 8}\n  r: {op: ReLU, inplace: true}\n"
        "outputs: [l, r]\n",
        "r",
        (5, 26),
    ),
    "split": (
        "inputs: {x: [N, 4, 6]}\nnodes:\n  c: {op: Conv1d, out_channels: 4, kernel_size: 1}\n"
        "  s: {op: chunk, chunks: 2, dim: 1}\n  r: {op: ReLU, inplace: true, in: 's:0'}\n  a: {op: add, in: [r, 's:1']}\n",
        "r",
        (6, 26),
    ),
    "flatten view": (
        "inputs: {x: [N, 4, 6, 6]}\nnodes:\n  c: {op: Conv2d, out_channels: 4, kernel_size: 1}\n"
        "  pool: {op: AdaptiveAvgPool2d, output_size: 1}\n  f: Flatten\n  d: {op: Dropout, inplace: true}\n",
        "d",
        None,
    ),
    "view of a shared tensor": (
        "inputs: {x: [N, 4, 6, 6]}\nnodes:\n  c: {op: Conv2d, out_channels: 4, kernel_size: 1}\n"
        "  f: {op: Flatten, in: c}\n  d: {op: ReLU, inplace: true}\n  m: {op: mean, dim: [2, 3], in: c}\n"
        "outputs: [d, m]\n",
        "d",
        (6, 26),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_in_place_ops_that_would_change_the_result_run_out_of_place(case: str) -> None:
    body, node, where = CASES[case]
    spec = netspec.loads("name: t\n" + body)
    warned = [w for w in netspec.validate(spec) if w.code == "NS213"]
    model = netspec.build(spec)
    assert getattr(model, node).inplace is (where is None)
    if where is None:
        assert not warned
        return
    (warning,) = warned
    assert (warning.line, warning.column, warning.path) == (*where, f"nodes.{node}.inplace"), warning
    assert warning.severity == "warning"
    shapes = {"x": (2,) + tuple(int(d) for d in body.split("[N, ")[1].split("]")[0].split(", "))}
    x = torch.randn(*shapes["x"]) * 3
    given = x.clone()
    model.train()
    outs = model(x.requires_grad_())
    sum(o.sum() for o in (outs if isinstance(outs, tuple) else (outs,))).backward()
    assert torch.equal(x.detach(), given)
    reference = netspec.build(netspec.loads("name: t\n" + body.replace("inplace: true", "inplace: false")))
    reference.load_state_dict(model.state_dict())
    model.eval()
    reference.eval()
    got, want = model(given), reference(given)
    for g, w in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
        torch.testing.assert_close(g, w)
