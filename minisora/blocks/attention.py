"""Multi-head attention, the one module every transformer here uses (lessons 02, 04-06, 09).

Vaswani et al. (2017), eq. 1: Attention(Q, K, V) = softmax(Q Kᵀ / √d) V, run in h heads of
width d = D / h. Self-attention takes Q, K, V from the same tokens; cross-attention takes
K, V from a context (a caption's tokens). `F.scaled_dot_product_attention` computes eq. 1
with fused kernels (flash / memory-efficient) where the hardware has them;
`attention_reference` is the formula written out, which the tests hold it to.
QK-norm (Dehghani et al. 2023) normalizes queries and keys per head, which keeps the
logits bounded and large-model training stable. Rotary positions (`positions.apply_rope`)
turn queries and keys after the norm, when the caller passes their angles.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from minisora.blocks.positions import apply_rope


def attention_reference(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None) -> Tensor:
    """softmax(Q Kᵀ / √d) V written out; q (..., L, d), k and v (..., S, d), mask (..., L, S) True = keep."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (..., L, S)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return scores.softmax(dim=-1) @ v  # (..., L, d)


class Attention(nn.Module):
    """Multi-head self-attention, or cross-attention when `context_dim` is given; (B, L, D) -> (B, L, D)."""

    def __init__(
        self, dim: int, num_heads: int = 4, context_dim: int | None = None, qk_norm: bool = False, bias: bool = True
    ) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim={dim} is not divisible by num_heads={num_heads}; pick heads that divide it")
        self.num_heads, self.head_dim = num_heads, dim // num_heads
        self.is_cross = context_dim is not None
        self.to_q = nn.Linear(dim, dim, bias=bias)
        self.to_k = nn.Linear(context_dim or dim, dim, bias=bias)
        self.to_v = nn.Linear(context_dim or dim, dim, bias=bias)
        self.to_out = nn.Linear(dim, dim, bias=bias)
        # LayerNorm without a learned shift: the scale alone is enough to set the logit range.
        self.q_norm = nn.LayerNorm(self.head_dim, bias=False) if qk_norm else nn.Identity()
        self.k_norm = nn.LayerNorm(self.head_dim, bias=False) if qk_norm else nn.Identity()

    def forward(
        self, x: Tensor, context: Tensor | None = None, mask: Tensor | None = None, rope: Tensor | None = None
    ) -> Tensor:
        """x (B, L, D); context (B, S, D_ctx) for cross-attention; mask (B, S) or (B, L, S), True = attend;
        rope: RoPE angles (L, <= d/2) for self-attention."""
        if self.is_cross and context is None:
            raise ValueError("this is a cross-attention layer: pass context=(B, S, context_dim)")
        if not self.is_cross and context is not None:
            raise ValueError("this is a self-attention layer; build Attention(..., context_dim=...) for cross-attention")
        source = x if context is None else context
        q = rearrange(self.to_q(x), "B L (h d) -> B h L d", h=self.num_heads)
        k = rearrange(self.to_k(source), "B S (h d) -> B h S d", h=self.num_heads)
        v = rearrange(self.to_v(source), "B S (h d) -> B h S d", h=self.num_heads)
        q, k = self.q_norm(q), self.k_norm(k)
        if rope is not None:
            if self.is_cross:
                raise ValueError("RoPE rotates queries and keys of the same sequence: use it in self-attention only")
            q, k = apply_rope(q, rope), apply_rope(k, rope)
        if mask is not None:
            mask = mask[:, None, None, :] if mask.ndim == 2 else mask[:, None]  # (B, 1, L or 1, S)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (B, h, L, d)
        return self.to_out(rearrange(out, "B h L d -> B L (h d)"))  # (B, L, D)
