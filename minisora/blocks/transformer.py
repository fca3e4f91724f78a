"""The pre-norm transformer block (lessons 04, 05; DiT in lesson 06 swaps its norms for adaLN).

x <- x + Attention(LayerNorm(x)); x <- x + MLP(LayerNorm(x)) (Vaswani et al. 2017 with the
norm moved in front of each branch, as ViT does: the residual stream is never normalized,
so deep stacks train without warm-up tricks). The MLP widens by `mlp_ratio` with GELU.
"""

from __future__ import annotations

from torch import Tensor, nn

from minisora.blocks.attention import Attention


class MLP(nn.Module):
    """Linear - GELU - Linear, widening by `ratio` in between."""

    def __init__(self, dim: int, ratio: float = 4.0) -> None:
        super().__init__()
        hidden = int(dim * ratio)
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU(approximate="tanh")  # the tanh form DiT uses; ~ exact GELU, cheaper
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.act(self.fc1(x)))


class TransformerBlock(nn.Module):
    """Pre-norm self-attention + MLP, each residual: (B, L, D) -> (B, L, D)."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0, qk_norm: bool = False) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, num_heads, qk_norm=qk_norm)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = MLP(dim, mlp_ratio)

    def forward(self, x: Tensor, rope: Tensor | None = None) -> Tensor:
        x = x + self.attn(self.norm1(x), rope=rope)
        return x + self.mlp(self.norm2(x))
