"""The `nn.Module` classes of netspec's own layers, for ops that `torch.nn` does not have.

Each class is small, TorchScript-compatible, traceable by `torch.compile(fullgraph=True)` and
`torch.export`, and has no parameters or buffers of its own (`LayerNorm2d` has those of
`nn.LayerNorm`), so a spec that uses one keeps the state_dict of the network it reproduces. The
catalog entries (arguments, shape rules) are in `_layers` and `_modern_layers`.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["LayerNorm2d", "ScaledDotProductAttention", "StochasticDepth"]


class StochasticDepth(nn.Module):
    """Randomly drops a residual branch during training (Huang et al., "Deep Networks with Stochastic Depth", 2016).

    In training, each sample's branch (`mode="row"`) or the whole batch's (`mode="batch"`) is kept
    with probability `1 - p` and then scaled by `1 / (1 - p)`, so its expected value is unchanged;
    in eval mode the input passes through. The draws are one `bernoulli_` on a tensor of shape
    `[N, 1, ...]` (row) or `[1, ...]` (batch), as torchvision's `StochasticDepth` makes them, so
    under one seed both drop the same branches.
    """

    def __init__(self, p: float, mode: Literal["row", "batch"] = "row") -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"the drop probability `p` must be between 0 and 1, got {p}")
        if mode not in ("row", "batch"):
            raise ValueError(f'`mode` must be "row" or "batch", got {mode!r}')
        self.p = p
        self.mode = mode

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        shape = [1] * x.dim()
        if self.mode == "row":
            shape[0] = x.shape[0]
        mask = torch.empty(shape, dtype=x.dtype, device=x.device).bernoulli_(keep)
        if keep > 0.0:
            mask = mask.div_(keep)
        return x * mask

    def extra_repr(self) -> str:
        return f"p={self.p}, mode={self.mode!r}"


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an [N, C, H, W] tensor, each position normalised on its own.

    Its parameters are those of `nn.LayerNorm(C)` (`weight`, `bias`), so its state_dict is that of
    torchvision's `LayerNorm2d`; it computes `layer_norm` over the channels moved last.
    """

    def forward(self, x: Tensor) -> Tensor:
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class ScaledDotProductAttention(nn.Module):
    """Scaled dot-product attention of a query, key and value [..., L, E] (and a mask); attention
    dropout `dropout_p` applies in training only."""

    def __init__(self, dropout_p: float = 0.0, is_causal: bool = False, scale: float | None = None) -> None:
        super().__init__()
        self.dropout_p = dropout_p
        self.is_causal = is_causal
        self.scale = scale

    def forward(self, query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None = None) -> Tensor:
        return F.scaled_dot_product_attention(
            query,
            key,
            value,
            attn_mask=mask,
            dropout_p=self.dropout_p if self.training else 0.0,
            is_causal=self.is_causal,
            scale=self.scale,
        )

    def extra_repr(self) -> str:
        return f"dropout_p={self.dropout_p}, is_causal={self.is_causal}, scale={self.scale}"
