"""Inference optimisation of a built network: the graph rewritten for speed, its outputs unchanged.

`optimize` works on the `torch.fx.GraphModule` that `build` returns, with its trained weights:

1. dropout and identity modules are removed (they do nothing in eval mode);
2. every BatchNorm whose input is a convolution or a linear layer used by nothing else is folded into
   that layer's weight and bias (computed in float64, stored in the model's dtype);
3. on a CPU with oneDNN, in float32, each 2-D and 3-D convolution gets its weight packed into
   oneDNN's blocked layout for the exact input shape it receives (computed from the static shapes at
   the sizes the model is built or optimised for; again, once, for each other shape it meets), and
   runs fused with what follows it: an activation, or a residual `add`
   of a tensor of its own shape and then an activation (ResNet's `relu(bn2(conv2(x)) + identity)`
   becomes one kernel). Its outputs are channels-last, which every later convolution reads without
   a copy; tensors leave that layout (`contiguous()`) only before an op not known to accept it, and
   before the outputs.

Shapes come from `build`'s static inference (`node.meta["netspec_shape"]`): an `add` is fused only
where both of its inputs have one shape, a BatchNorm1d folded into a linear layer only on [N, F].
"""

from __future__ import annotations

import copy
import operator
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import fx, nn

from ._dims import Sym
from ._modules import StochasticDepth

__all__ = ["FusedConv2d", "FusedConv3d", "InferenceModule", "optimize"]

_IDENTITIES = (
    nn.Identity,
    nn.Dropout,
    nn.Dropout1d,
    nn.Dropout2d,
    nn.Dropout3d,
    nn.AlphaDropout,
    nn.FeatureAlphaDropout,
    StochasticDepth,
)
_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_TRANSPOSED = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
# Modules that accept a channels-last input and compute the same values from it.
_LAYOUT_AGNOSTIC = (
    nn.Conv2d,
    nn.Conv3d,
    nn.ConvTranspose2d,
    nn.ConvTranspose3d,
    nn.BatchNorm2d,
    nn.BatchNorm3d,
    nn.MaxPool2d,
    nn.MaxPool3d,
    nn.AvgPool2d,
    nn.AvgPool3d,
    nn.AdaptiveAvgPool2d,
    nn.AdaptiveAvgPool3d,
    nn.AdaptiveMaxPool2d,
    nn.AdaptiveMaxPool3d,
    nn.ReLU,
    nn.ReLU6,
    nn.LeakyReLU,
    nn.SiLU,
    nn.GELU,
    nn.Sigmoid,
    nn.Tanh,
    nn.Hardswish,
    nn.Hardsigmoid,
    nn.Hardtanh,
    nn.ELU,
    nn.Mish,
    nn.Flatten,
    nn.Upsample,
)
_LAYOUT_AGNOSTIC_FUNCTIONS = frozenset({operator.add, operator.mul, torch.add, torch.mul, torch.relu, F.relu})
# netspec's runtime helpers that only crop, pad and concatenate: they keep any layout.
_LAYOUT_AGNOSTIC_RUNTIME = frozenset({"concat", "concat_crop", "crop", "crop_to_size", "center_crop", "pad", "pad_to"})


class InferenceModule(fx.GraphModule):
    """A `GraphModule` optimised for inference by `netspec.optimize`: it cannot train.

    Its BatchNorms are folded away and its convolution weights packed, so `train()`,
    `requires_grad_(True)` and inputs that require grad are refused with a message saying so.
    """

    def train(self, mode: bool = True) -> InferenceModule:
        if mode:
            raise RuntimeError(
                "this module was optimised for inference by `netspec.optimize` (BatchNorm folded, "
                "weights packed) and cannot train: train the module `netspec.build` returns, then optimise it"
            )
        super().train(False)
        return self

    def requires_grad_(self, requires_grad: bool = True) -> InferenceModule:
        if requires_grad:
            raise RuntimeError(
                "this module was optimised for inference by `netspec.optimize`: it computes no gradients; "
                "use the module `netspec.build` returns for training"
            )
        super().requires_grad_(False)
        return self


@torch.fx.wrap
def inference_input(x: torch.Tensor, name: str) -> torch.Tensor:
    """The input guard of an optimised module: no gradient is computed through it."""
    if x.requires_grad and torch.is_grad_enabled():
        raise RuntimeError(
            f"input `{name}` requires grad, but this module was optimised for inference by `netspec.optimize` "
            "and computes no gradients: call it under `torch.no_grad()`, or use the module `netspec.build` returns"
        )
    return x


def optimize(model: nn.Module, inputs: Mapping[str, Sequence[int]] | None = None) -> InferenceModule:
    """A copy of `model` rewritten for inference: BatchNorm folded, dropout and identities removed,
    convolutions fused with their activations (and residual adds) in packed, channels-last kernels::

        fast = netspec.optimize(netspec.build("resnet18", weights="resnet18.safetensors"))
        with torch.no_grad():
            logits = fast(torch.randn(1, 3, 224, 224))

    `model` is a module built by `netspec.build` (any `torch.fx.GraphModule`, or a module that
    `torch.fx.symbolic_trace` can trace, works too, with fewer fusions where shapes are unknown); it
    is left unchanged. The result computes the same outputs in eval mode within float32 rounding
    (1e-5 relative), keeps readable `.code` and the qualified names of the remaining layers, and
    refuses to train. Call it on the device and dtype the model will run in: the packing is for them.

    oneDNN packs a weight for one input size; at another it would reorder the weight on every call.
    Each convolution packs its weight for the input shape it receives from `inputs` (name -> shape:
    the shapes the model will be called with; by default those it was built for, else the spec's
    `dims` at batch 1), computed from the static shapes, and packs it again, once, for every other
    input shape it meets (up to 8 per convolution, the oldest dropped first).
    """
    if isinstance(model, fx.GraphModule):
        module = copy.deepcopy(model)
    elif isinstance(model, nn.Module):
        try:
            module = fx.symbolic_trace(copy.deepcopy(model))
        except Exception as err:  # noqa: BLE001 - fx raises anything from user code it traces
            raise TypeError(
                f"`netspec.optimize` needs a module built by `netspec.build` (a torch.fx.GraphModule); "
                f"`{type(model).__name__}` cannot be traced by torch.fx: {err}"
            ) from None
    else:
        raise TypeError(f"`netspec.optimize` takes a module built by `netspec.build`, not {type(model).__name__}")
    module.eval()
    report: dict[str, list[str]] = {"removed": [], "folded": [], "fused": []}
    graph = module.graph
    _remove_identities(module, graph, report)
    _fold_batch_norms(module, graph, report)
    if _packing_available(module):
        _fuse_convolutions(module, graph, report, _size_values(module, graph, inputs))
        _restore_layout(module, graph)
    _guard_inputs(graph)
    graph.eliminate_dead_code()
    graph.lint()
    result = InferenceModule(module, graph, class_name=type(module).__name__)
    result.meta.update(copy.deepcopy(module.meta))
    result.meta["netspec_inference"] = report
    for parameter in result.parameters():
        parameter.requires_grad_(False)
    result.train(False)
    return result


# --- passes ----------------------------------------------------------------------------------------


def _module(root: nn.Module, node: fx.Node) -> nn.Module | None:
    if node.op != "call_module" or not isinstance(node.target, str):
        return None
    return root.get_submodule(node.target)


def _modules_of(root: nn.Module, graph: fx.Graph, kinds: tuple[type, ...]) -> Iterator[tuple[fx.Node, nn.Module]]:
    for node in list(graph.nodes):
        found = _module(root, node)
        if found is not None and isinstance(found, kinds):
            yield node, found


def _remove_identities(root: nn.Module, graph: fx.Graph, report: dict[str, list[str]]) -> None:
    for node, _ in _modules_of(root, graph, _IDENTITIES):
        if len(node.args) != 1 or node.kwargs or not isinstance(node.args[0], fx.Node):
            continue
        node.replace_all_uses_with(node.args[0])
        graph.erase_node(node)
        report["removed"].append(str(node.target))


def _shape(node: fx.Node) -> tuple[Any, ...] | None:
    shape = node.meta.get("netspec_shape")
    return tuple(shape) if isinstance(shape, (tuple, list)) else None


def _size_values(root: nn.Module, graph: fx.Graph, inputs: Mapping[str, Sequence[int]] | None) -> dict[str, int]:
    """The value of every size symbol at the shapes the module will be called with: those in `inputs`,
    else the spec's example sizes (`dims`), and batch 1 for a symbol left in an input's first dim."""
    meta = getattr(root, "meta", {}).get("netspec", {})
    values = {k: int(v) for k, v in meta.get("dims", {}).items()}
    declared: dict[str, tuple[Any, ...]] = {}
    for node in graph.nodes:
        if node.op == "placeholder":
            found = _shape(node) or next((_shape(u) for u in node.users if _shape(u) is not None), None)
            if found is not None:
                declared[str(node.target)] = found
    unknown = sorted(set(inputs or {}) - set(declared))
    if unknown:
        raise ValueError(
            f"`netspec.optimize`: no input named {', '.join(map(repr, unknown))}; the inputs are {sorted(declared)}"
        )
    for name, shape in (inputs or {}).items():
        if not all(hasattr(size, "__index__") and operator.index(size) >= 0 for size in shape):  # numpy ints too
            raise ValueError(f"`netspec.optimize`: input `{name}` has shape {list(shape)}; sizes are integers >= 0")
        if len(shape) != len(declared[name]):
            raise ValueError(
                f"`netspec.optimize`: input `{name}` has {len(declared[name])} dims, not {len(shape)} ({list(shape)})"
            )
        for dim, size in zip(declared[name], shape):
            if isinstance(dim, Sym) and str(dim) in dim.variables:
                values[str(dim)] = int(size)
    for shape in declared.values():
        if shape and isinstance(shape[0], Sym) and str(shape[0]) in shape[0].variables:
            values.setdefault(str(shape[0]), 1)
    return values


def _concrete(shape: tuple[Any, ...] | None, values: Mapping[str, int]) -> tuple[int, ...] | None:
    """A static shape at the given symbol values, or None where a symbol is unknown."""
    if shape is None:
        return None
    try:
        return tuple(d.evaluate(values) if isinstance(d, Sym) else int(d) for d in shape)
    except (KeyError, ValueError, ZeroDivisionError, TypeError):
        return None


def _fold_batch_norms(root: nn.Module, graph: fx.Graph, report: dict[str, list[str]]) -> None:
    for node, norm in _modules_of(root, graph, _BATCH_NORMS):
        assert isinstance(norm, nn.modules.batchnorm._BatchNorm)
        source = node.args[0] if len(node.args) == 1 and not node.kwargs else None
        if not isinstance(source, fx.Node) or len(source.users) != 1 or norm.running_mean is None:
            continue
        layer = _module(root, source)
        if isinstance(layer, _CONVS + _TRANSPOSED):
            if layer.out_channels != norm.num_features:
                continue
        elif isinstance(layer, nn.Linear):
            shape = _shape(source)  # BatchNorm1d normalises dim 1: the features only on [N, F]
            if shape is None or len(shape) != 2 or layer.out_features != norm.num_features:
                continue
        else:
            continue
        _fold_into(layer, norm)
        node.replace_all_uses_with(source)
        source.meta.update({k: v for k, v in node.meta.items() if k == "netspec_shape"})
        graph.erase_node(node)
        report["folded"].append(f"{node.target} -> {source.target}")


def _fold_into(layer: nn.Module, norm: nn.modules.batchnorm._BatchNorm) -> None:
    """Scale the output channels of `layer` and shift its bias so that it computes `norm(layer(x))`."""
    weight, bias = layer.weight, layer.bias
    assert isinstance(weight, torch.Tensor) and (bias is None or isinstance(bias, torch.Tensor))
    assert norm.running_mean is not None and norm.running_var is not None
    dtype = weight.dtype
    with torch.no_grad():
        scale = torch.rsqrt(norm.running_var.double() + norm.eps)
        if norm.weight is not None:
            scale = scale * norm.weight.double()
        shift = -norm.running_mean.double() * scale
        if norm.bias is not None:
            shift = shift + norm.bias.double()
        new_bias = shift if bias is None else bias.double() * scale + shift
        w, factor = weight.detach(), scale.to(dtype)  # one rounding per weight: no float64 copy of them
        if isinstance(layer, _TRANSPOSED):  # weight [in, out / groups, *k]: output channels in dim 1 per group
            groups = layer.groups
            grouped = w.reshape(groups, w.shape[0] // groups, w.shape[1], *w.shape[2:])
            per_group = factor.reshape(groups, 1, w.shape[1], *([1] * (w.dim() - 2)))
            w = (grouped * per_group).reshape(w.shape)
        else:
            w = w * factor.reshape(-1, *([1] * (w.dim() - 1)))
        layer.weight = nn.Parameter(w, requires_grad=False)
        layer.bias = nn.Parameter(new_bias.to(dtype), requires_grad=False)


def _packing_available(root: nn.Module) -> bool:
    """oneDNN packed convolutions: CPU, float32, and a torch built with oneDNN."""
    if not torch._C._has_mkldnn or not hasattr(torch.ops.mkldnn, "_convolution_pointwise"):
        return False
    tensors = [*root.parameters(), *root.buffers()]
    return all(t.device.type == "cpu" and (t.dtype == torch.float32 or not t.is_floating_point()) for t in tensors)


# Activation modules oneDNN runs inside a convolution: (attribute, scalars, algorithm).
def _activation(module: nn.Module | None) -> tuple[str, list[float], str] | None:
    if isinstance(module, nn.ReLU):
        return ("relu", [], "")
    if isinstance(module, nn.Hardtanh):  # ReLU6 too
        return ("hardtanh", [float(module.min_val), float(module.max_val)], "")
    if isinstance(module, nn.SiLU):
        return ("swish", [], "")
    if isinstance(module, nn.Sigmoid):
        return ("sigmoid", [], "")
    if isinstance(module, nn.Tanh):
        return ("tanh", [], "")
    if isinstance(module, nn.Hardswish):
        return ("hardswish", [], "")
    if isinstance(module, nn.Hardsigmoid):
        return ("hardsigmoid", [], "")
    if isinstance(module, nn.LeakyReLU):
        return ("leaky_relu", [float(module.negative_slope)], "")
    if isinstance(module, nn.GELU):
        return ("gelu", [], module.approximate)
    return None


def _explicit_padding(conv: nn.Conv2d | nn.Conv3d) -> list[int] | None:
    """The convolution's padding as numbers, or None where oneDNN cannot take it (asymmetric `same`)."""
    if conv.padding_mode != "zeros":
        return None
    if isinstance(conv.padding, str):
        if conv.padding == "valid":
            return [0] * len(conv.kernel_size)
        totals = [d * (k - 1) for d, k in zip(conv.dilation, conv.kernel_size)]
        if any(t % 2 for t in totals):
            return None
        return [t // 2 for t in totals]
    return [int(p) for p in conv.padding]


def _single_user(node: fx.Node) -> fx.Node | None:
    return next(iter(node.users)) if len(node.users) == 1 else None


def _is_add(node: fx.Node) -> bool:
    return node.op == "call_function" and node.target in (operator.add, torch.add) and len(node.args) == 2


def _fuse_convolutions(
    root: nn.Module, graph: fx.Graph, report: dict[str, list[str]], sizes: Mapping[str, int]
) -> None:
    for node, conv in _modules_of(root, graph, (nn.Conv2d, nn.Conv3d)):
        assert isinstance(conv, (nn.Conv2d, nn.Conv3d))
        padding = _explicit_padding(conv)
        if padding is None or len(node.args) != 1 or node.kwargs:
            continue
        consumed: list[fx.Node] = []
        other: fx.Node | None = None
        last = node
        user = _single_user(node)
        if user is not None and _is_add(user) and not user.kwargs:
            candidate = user.args[1] if user.args[0] is node else user.args[0]
            add_next = _single_user(user)
            next_activation = _module(root, add_next) if add_next is not None else None

            same_shape = _shape(node) is not None and _shape(node) == _shape(candidate)  # type: ignore[arg-type]
            if isinstance(candidate, fx.Node) and candidate is not node and same_shape:
                other, last = candidate, user
                consumed.append(user)
                user = add_next  # oneDNN runs only ReLU after an add in the same kernel
                if _activation(next_activation) != ("relu", [], ""):
                    user = None
        activation_module = _module(root, user) if user is not None else None
        activation = _activation(activation_module)
        if user is not None and activation is not None and len(user.args) == 1 and not user.kwargs:
            consumed.append(user)
            last = user
        else:
            activation = None
        fused_class = FusedConv2d if isinstance(conv, nn.Conv2d) else FusedConv3d
        source = node.args[0]
        shape = _concrete(_shape(source), sizes) if isinstance(source, fx.Node) else None
        fused = fused_class.from_conv(conv, padding, activation, add=other is not None, shape=shape)
        assert isinstance(node.target, str)
        _replace_submodule(root, node.target, fused)
        report["fused"].append(
            " + ".join(
                [str(node.target), *(("add",) if other is not None else ()), *(activation[:1] if activation else ())]
            )
        )
        if not consumed:
            continue
        # The fused node takes the place of the last op it absorbs (after `other` is computed).
        last.append(node)
        node.args = (node.args[0],) if other is None else (node.args[0], other)
        last.replace_all_uses_with(node)
        for dead in reversed(consumed):
            graph.erase_node(dead)


def _replace_submodule(root: nn.Module, qualified: str, module: nn.Module) -> None:
    parent, _, leaf = qualified.rpartition(".")
    owner = root.get_submodule(parent) if parent else root
    owner._modules[leaf] = module


def _layout_agnostic(root: nn.Module, node: fx.Node) -> bool:
    if node.op == "call_module":
        return isinstance(_module(root, node), _LAYOUT_AGNOSTIC + (_FusedConv,))
    if node.op == "call_function":
        if node.target in _LAYOUT_AGNOSTIC_FUNCTIONS:
            return True
        return getattr(node.target, "__module__", None) == "netspec._runtime" and (
            getattr(node.target, "__name__", "") in _LAYOUT_AGNOSTIC_RUNTIME
        )
    return False


def _restore_layout(root: nn.Module, graph: fx.Graph) -> None:
    """Give a standard-layout tensor to every op not known to accept channels-last, and to the outputs."""
    channels_last: set[fx.Node] = set()
    for node in graph.nodes:
        produces = node.op == "call_module" and isinstance(_module(root, node), _FusedConv)
        keeps = _layout_agnostic(root, node) and any(a in channels_last for a in node.all_input_nodes)
        if produces or keeps:
            channels_last.add(node)
    converted: dict[fx.Node, fx.Node] = {}
    for node in list(graph.nodes):
        if node in channels_last and node.op != "output" and _layout_agnostic(root, node):
            continue
        for value in node.all_input_nodes:
            if value not in channels_last:
                continue
            if value not in converted:
                with graph.inserting_after(value):
                    converted[value] = graph.call_method("contiguous", (value,))
            node.replace_input_with(value, converted[value])


def _guard_inputs(graph: fx.Graph) -> None:
    for node in list(graph.nodes):
        if node.op != "placeholder":
            continue
        with graph.inserting_after(node):
            guard = graph.call_function(inference_input, (node, node.target))
        guard.meta["is_wrapped"] = True  # a leaf when the code is traced again (unpickling)
        for user in list(node.users):
            if user is not guard:
                user.replace_input_with(node, guard)


# --- fused convolutions ----------------------------------------------------------------------------


# Input shapes a fused convolution keeps a packed weight for; past this the oldest is dropped.
_PACKED_SHAPES = 8


class _FusedConv(nn.Module):
    """The shared part of `FusedConv2d` and `FusedConv3d` (placed before the torch class in their bases):
    a folded convolution with its weight packed for oneDNN, run with an optional residual `add` and
    activation in one kernel. The unpacked `weight` stays the parameter (state_dict, `.to()`, copies);
    the packed ones are rebuilt from it whenever it changes.

    oneDNN chooses a weight layout for one input shape: packed without one, or for another, a 1x1
    convolution can run 3 to 50 times slower (it reorders the weight on every call). So the weight is
    packed per input shape: for `packed_for` (the shape the network's static shapes give at its
    example sizes) at once, and for any other shape on the first call that meets it."""

    weight: torch.Tensor
    bias: torch.Tensor | None
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    groups: int
    fused_padding: list[int]
    activation: tuple[str, list[float], str] | None
    add: bool
    packed_for: tuple[int, ...] | None
    _packed: dict[tuple[int, ...], torch.Tensor] | None  # input shape -> packed weight; None: not packable

    @classmethod
    def from_conv(
        cls,
        conv: nn.Module,
        padding: list[int],
        activation: tuple[str, list[float], str] | None,
        add: bool,
        shape: tuple[int, ...] | None = None,
    ) -> _FusedConv:
        assert isinstance(conv, (nn.Conv2d, nn.Conv3d))
        fused = cls(**_conv_kwargs(conv))
        weight, bias = conv.weight, conv.bias
        fused.weight = nn.Parameter(weight.detach(), requires_grad=False)
        if bias is None:
            bias = torch.zeros(weight.shape[0], dtype=weight.dtype, device=weight.device)
        fused.bias = nn.Parameter(bias.detach(), requires_grad=False)
        fused.fused_padding = padding
        fused.activation = activation
        fused.add = add
        usable = shape is not None and len(shape) == weight.dim() and min(shape) >= 1  # not for an empty batch
        fused.packed_for = shape if usable else None
        fused._pack()
        return fused

    def _pack(self) -> None:
        """Drop the packed weights (the weight, device or dtype changed) and pack for `packed_for`."""
        weight = self.weight
        if weight.device.type != "cpu" or weight.dtype != torch.float32:
            self._packed = None
            return
        self._packed = {}
        if self.packed_for is not None:
            self._pack_for(self.packed_for)

    def _pack_for(self, shape: tuple[int, ...]) -> torch.Tensor:
        packed = self._packed
        assert packed is not None
        weight = torch.ops.mkldnn._reorder_convolution_weight(
            self.weight.detach(), self.fused_padding, list(self.stride), list(self.dilation), self.groups, list(shape)
        )
        if len(packed) >= _PACKED_SHAPES:
            packed.pop(next(iter(packed), shape), None)  # `pop`: another thread may have dropped it first
        packed[shape] = weight
        return cast(torch.Tensor, weight)

    def forward(self, x: torch.Tensor, other: torch.Tensor | None = None) -> torch.Tensor:
        packed = self._packed
        if packed is None or x.device.type != "cpu" or x.dtype != torch.float32:
            y = self._reference(x)
            if other is not None:
                y = y + other
            return _apply_activation(y, self.activation)
        weight = packed.get(x.shape)  # a torch.Size is the tuple of its sizes
        if weight is None:
            weight = self._pack_for(tuple(x.shape))
        attr, scalars, algorithm = self.activation or ("none", [], "")
        stride, dilation = list(self.stride), list(self.dilation)
        if other is None:
            result = torch.ops.mkldnn._convolution_pointwise(
                x, weight, self.bias, self.fused_padding, stride, dilation, self.groups, attr, scalars, algorithm
            )
        else:
            result = torch.ops.mkldnn._convolution_pointwise.binary(
                x,
                other,
                weight,
                self.bias,
                self.fused_padding,
                stride,
                dilation,
                self.groups,
                "add",
                None,
                attr if self.activation else None,
                scalars,
                algorithm or None,
            )
        return cast(torch.Tensor, result)

    def _reference(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def extra_repr(self) -> str:
        then = " + ".join(p for p in ("add" if self.add else "", self.activation[0] if self.activation else "") if p)
        return str(super().extra_repr()) + (f", then={then!r}" if then else "")

    def _apply(self, fn: Any, recurse: bool = True) -> _FusedConv:
        result = super()._apply(fn, recurse)  # type: ignore[no-untyped-call]
        self._pack()
        return cast(_FusedConv, result)

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_packed"}  # an opaque tensor: not copyable

    def __setstate__(self, state: dict[str, Any]) -> None:
        state.setdefault("packed_for", None)  # pickled before weights were packed per input shape
        super().__setstate__(state)  # type: ignore[no-untyped-call]
        self._pack()

    def _load_from_state_dict(self, *args: Any, **kwargs: Any) -> None:
        super()._load_from_state_dict(*args, **kwargs)
        self._pack()


def _apply_activation(y: torch.Tensor, activation: tuple[str, list[float], str] | None) -> torch.Tensor:
    """The activation a fused convolution runs, where oneDNN cannot (another device or dtype)."""
    if activation is None:
        return y
    attr, scalars, algorithm = activation
    if attr == "relu":
        return F.relu(y)
    if attr == "hardtanh":
        return F.hardtanh(y, scalars[0], scalars[1])
    if attr == "swish":
        return F.silu(y)
    if attr == "sigmoid":
        return torch.sigmoid(y)
    if attr == "tanh":
        return torch.tanh(y)
    if attr == "hardswish":
        return F.hardswish(y)
    if attr == "hardsigmoid":
        return F.hardsigmoid(y)
    if attr == "leaky_relu":
        return F.leaky_relu(y, scalars[0])
    return F.gelu(y, approximate=algorithm)


def _conv_kwargs(conv: nn.Conv2d | nn.Conv3d) -> dict[str, Any]:
    return {
        "in_channels": conv.in_channels,
        "out_channels": conv.out_channels,
        "kernel_size": conv.kernel_size,
        "stride": conv.stride,
        "padding": conv.padding,
        "dilation": conv.dilation,
        "groups": conv.groups,
        "bias": True,
        "device": "meta",  # the parameters are replaced by the folded ones at once
    }


class FusedConv2d(_FusedConv, nn.Conv2d):
    """A `Conv2d` (BatchNorm folded in) run by oneDNN on a packed weight, with the residual `add`
    and activation that followed it in the graph fused into its kernel. Inference only."""

    def _reference(self, x: torch.Tensor) -> torch.Tensor:
        return cast(torch.Tensor, self._conv_forward(x, self.weight, self.bias))


class FusedConv3d(_FusedConv, nn.Conv3d):
    """A `Conv3d` run like `FusedConv2d`."""

    def _reference(self, x: torch.Tensor) -> torch.Tensor:
        return cast(torch.Tensor, self._conv_forward(x, self.weight, self.bias))
