"""Convolutional building blocks of the U-Net (lesson 02) and the VAEs (lessons 03, 07).

A residual block (He et al. 2016) in the pre-activation order GroupNorm-SiLU-conv, with an
optional conditioning vector applied as a per-channel scale and shift after the second
normalization (Dhariwal & Nichol 2021's AdaGN; Perez et al. 2018's FiLM); and
self-attention over the positions of a feature map. Networks decide how these blocks are
initialized (e.g. zeroing the last conv so each block starts as its shortcut).
"""

from __future__ import annotations

import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from minisora.blocks.attention import Attention


class ResBlock(nn.Module):
    """GroupNorm-SiLU-conv twice, an embedding as scale and shift in between (if emb_dim), plus a 1x1 shortcut."""

    def __init__(self, in_ch: int, out_ch: int, emb_dim: int | None, groups: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, in_ch)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.emb = nn.Linear(emb_dim, 2 * out_ch) if emb_dim else None  # -> (scale, shift) per channel
        self.norm2 = nn.GroupNorm(groups, out_ch)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1)
        self.shortcut = nn.Conv2d(in_ch, out_ch, 1) if in_ch != out_ch else nn.Identity()

    def forward(self, x: Tensor, emb: Tensor | None = None) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x)))  # (B, C_out, H, W)
        h = self.norm2(h)
        if self.emb is not None:
            if emb is None:
                raise ValueError("this ResBlock is conditioned: pass emb=(B, emb_dim)")
            scale, shift = rearrange(self.emb(F.silu(emb)), "B (two C) -> two B C 1 1", two=2)
            h = h * (1 + scale) + shift
        h = self.conv2(self.dropout(F.silu(h)))
        return self.shortcut(x) + h


class AttentionBlock(nn.Module):
    """Self-attention over the H*W positions of a feature map, residual."""

    def __init__(self, channels: int, num_heads: int, groups: int) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(groups, channels)
        self.attn = Attention(channels, num_heads)

    def forward(self, x: Tensor) -> Tensor:
        H, W = x.shape[-2:]
        tokens = rearrange(self.norm(x), "B C H W -> B (H W) C")
        out = rearrange(self.attn(tokens), "B (H W) C -> B C H W", H=H, W=W)
        return x + out
