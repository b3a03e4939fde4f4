"""The `nn.Module` classes of netspec's own layers, for ops that `torch.nn` does not have.

Each class is small, TorchScript-compatible, traceable by `torch.compile(fullgraph=True)` and
`torch.export`, and has no parameters or buffers of its own, so a spec that uses one keeps the
state_dict of the network it reproduces. The catalog entries (arguments, shape rules) are in
`_layers`.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

__all__ = ["StochasticDepth"]


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
