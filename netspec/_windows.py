"""The functions of the window ops, which shifted-window attention (Swin) is written with: a
channels-last map cut into windows and put back, the attention mask of shifted windows, patch
merging, and the relative position index of a window.

A map [B, H, W, C] is padded at the bottom and right to a multiple of the window, then (for a
shift) rolled up and left by the shift, then cut into windows of `wh * ww` tokens, window-major,
row-major inside a window. Along an axis that one window covers (after padding) nothing is
shifted, since every token already sees every other. Each function is traceable by
`torch.compile(fullgraph=True)` and `torch.export`; the catalog entries are in `_window_ops`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "index_select",
    "patch_merge",
    "relative_coords_table",
    "relative_position_index",
    "scale",
    "window_mask",
    "window_partition",
    "window_reverse",
]


def _padded(size: int, window: int) -> int:
    return -(-size // window) * window


def _shifts(height: int, width: int, window_size: list[int], shift_size: list[int]) -> tuple[int, int]:
    """The shift along each axis of a padded map: none where one window covers the axis."""
    return (
        0 if window_size[0] >= height else shift_size[0],
        0 if window_size[1] >= width else shift_size[1],
    )


def window_partition(x: Tensor, window_size: list[int], shift_size: list[int] | None = None) -> Tensor:
    """[B, H, W, C] -> [B * windows, wh * ww, C]: padded to a multiple of the window, shifted, cut."""
    batch, height, width, channels = x.shape
    wh, ww = window_size[0], window_size[1]
    full_h, full_w = _padded(height, wh), _padded(width, ww)
    x = F.pad(x, (0, 0, 0, full_w - width, 0, full_h - height))
    sh, sw = _shifts(full_h, full_w, window_size, shift_size or [0, 0])
    if sh > 0 or sw > 0:
        x = torch.roll(x, shifts=(-sh, -sw), dims=(1, 2))
    x = x.view(batch, full_h // wh, wh, full_w // ww, ww, channels).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, wh * ww, channels)


def window_reverse(
    windows: Tensor, like: Tensor, window_size: list[int], shift_size: list[int] | None = None
) -> Tensor:
    """Undo `window_partition` of `like`: [B * windows, wh * ww, C'] -> [B, H, W, C'] of `like`'s B, H, W."""
    batch, height, width = like.shape[0], like.shape[1], like.shape[2]
    wh, ww = window_size[0], window_size[1]
    full_h, full_w = _padded(height, wh), _padded(width, ww)
    channels = windows.shape[-1]
    x = windows.view(batch, full_h // wh, full_w // ww, wh, ww, channels).permute(0, 1, 3, 2, 4, 5)
    x = x.reshape(batch, full_h, full_w, channels)
    sh, sw = _shifts(full_h, full_w, window_size, shift_size or [0, 0])
    if sh > 0 or sw > 0:
        x = torch.roll(x, shifts=(sh, sw), dims=(1, 2))
    return x[:, :height, :width, :].contiguous()


def _regions(size: int, window: int, shift: int) -> list[tuple[int, int]]:
    """The bands of one axis whose tokens came from one place before the shift (ends exclusive)."""
    if shift == 0:
        return [(0, size)]
    return [(0, size - window), (size - window, size - shift), (size - shift, size)]


def window_mask(scores: Tensor, like: Tensor, window_size: list[int], shift_size: list[int] | None = None) -> Tensor:
    """Scores [B * windows, heads, T, T] of the windows of `like`, with -100 added between tokens of a
    shifted window that were not neighbours before the cyclic shift; unchanged without a shift."""
    height, width = like.shape[1], like.shape[2]
    wh, ww = window_size[0], window_size[1]
    full_h, full_w = _padded(height, wh), _padded(width, ww)
    sh, sw = _shifts(full_h, full_w, window_size, shift_size or [0, 0])
    if sh == 0 and sw == 0:
        return scores
    label = scores.new_zeros((full_h, full_w))
    count = 0
    for top, bottom in _regions(full_h, wh, sh):
        for left, right in _regions(full_w, ww, sw):
            label[top:bottom, left:right] = count
            count += 1
    windows = (full_h // wh) * (full_w // ww)
    label = label.view(full_h // wh, wh, full_w // ww, ww).permute(0, 2, 1, 3).reshape(windows, wh * ww)
    apart = label.unsqueeze(1) - label.unsqueeze(2)
    mask = apart.masked_fill(apart != 0, -100.0).masked_fill(apart == 0, 0.0)
    tokens = wh * ww
    heads = scores.shape[1]
    grouped = scores.view(-1, windows, heads, tokens, tokens) + mask.unsqueeze(1).unsqueeze(0)
    return grouped.view(-1, heads, tokens, tokens)


def patch_merge(x: Tensor) -> Tensor:
    """[..., H, W, C] -> [..., ceil(H/2), ceil(W/2), 4C]: each 2x2 patch's four tokens side by side,
    in the order (row 0, col 0), (row 1, col 0), (row 0, col 1), (row 1, col 1); odd sizes padded."""
    height, width = x.shape[-3], x.shape[-2]
    x = F.pad(x, (0, 0, 0, width % 2, 0, height % 2))
    parts = [x[..., row::2, col::2, :] for col in (0, 1) for row in (0, 1)]
    return torch.cat(parts, -1)


def relative_position_index(window_size: list[int], persistent: bool = True, flat: bool = True) -> Tensor:
    """For each (query, key) pair of a window's tokens, row-major, the row of the relative position
    bias table that holds their offset: (dy + wh - 1) * (2ww - 1) + (dx + ww - 1), as int64 [T * T]
    (Swin's layout), or [T, T] with `flat=False` (MaxViT's)."""
    wh, ww = window_size[0], window_size[1]
    rows = torch.arange(wh).repeat_interleave(ww)
    cols = torch.arange(ww).repeat(wh)
    dy = rows[:, None] - rows[None, :] + (wh - 1)
    dx = cols[:, None] - cols[None, :] + (ww - 1)
    index = dy * (2 * ww - 1) + dx
    return index.flatten() if flat else index


def relative_coords_table(window_size: list[int], persistent: bool = True) -> Tensor:
    """Swin v2's inputs of the continuous position bias: each offset (dy, dx) inside a window, scaled
    to [-8, 8] and log-spaced, sign(t) * log2(|t| + 1) / 3, as float32 [1, 2wh - 1, 2ww - 1, 2]."""
    wh, ww = window_size[0], window_size[1]
    dy = torch.arange(-(wh - 1), wh, dtype=torch.float32) / (wh - 1) * 8
    dx = torch.arange(-(ww - 1), ww, dtype=torch.float32) / (ww - 1) * 8
    table = torch.stack(torch.meshgrid(dy, dx, indexing="ij"), dim=-1).unsqueeze(0)
    return torch.sign(table) * torch.log2(torch.abs(table) + 1.0) / 3.0


def index_select(x: Tensor, index: Tensor, dim: int = 0) -> Tensor:
    """The `index_select` op: the entries of `x` at the positions `index` (1-D, integers) along `dim`."""
    return torch.index_select(x, dim, index)


def scale(x: Tensor, by: float) -> Tensor:
    """The `scale` op: `x * by`."""
    return x * by
