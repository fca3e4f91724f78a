"""The pre-norm transformer block (lessons 04, 05; DiT in lesson 06 swaps its norms for adaLN).

x <- x + Attention(LayerNorm(x)); x <- x + MLP(LayerNorm(x)) (Vaswani et al. 2017 with the
norm moved in front of each branch, as ViT does: the residual stream is never normalized,
so deep stacks train without warm-up tricks). The MLP widens by `mlp_ratio` with GELU.

Built with `context_dim`, the block also cross-attends to a context (a caption's tokens,
lesson 09) between the two: x <- x + CrossAttention(LayerNorm(x), context), the decoder
layer of Vaswani et al. with pre-norm. Masks follow `attention`'s contract (bool, True =
attend): `key_padding_mask` / `attn_mask` / `is_causal` for the self-attention,
`context_mask` (B, S) for the context's padding.
"""

from __future__ import annotations

from torch import Tensor, nn

from minisora.blocks.attention import Attention


def xavier_linears(module: nn.Module) -> None:
    """Every nn.Linear inside `module`: Xavier-uniform weights and zero biases, as ViT and DiT initialize them."""
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            nn.init.xavier_uniform_(layer.weight)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


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
    """Pre-norm self-attention [+ cross-attention when `context_dim` is given] + MLP, each residual: (B, L, D)."""

    def __init__(
        self, dim: int, num_heads: int, mlp_ratio: float = 4.0, qk_norm: bool = False, context_dim: int | None = None
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, num_heads, qk_norm=qk_norm)
        # The same names as DiT's CrossAttentionBlock, so the two share state-dict keys.
        self.norm_cross, self.cross = None, None
        if context_dim is not None:
            self.norm_cross = nn.LayerNorm(dim)
            self.cross = Attention(dim, num_heads, context_dim=context_dim, qk_norm=qk_norm)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = MLP(dim, mlp_ratio)

    def forward(
        self,
        x: Tensor,
        *,
        key_padding_mask: Tensor | None = None,
        attn_mask: Tensor | None = None,
        is_causal: bool = False,
        rope: Tensor | None = None,
        context: Tensor | None = None,
        context_mask: Tensor | None = None,
    ) -> Tensor:
        """x (B, L, D); the self-attention's key_padding_mask (B, L), attn_mask (L, L) or (B, L, L), is_causal
        and rope as in `Attention`; context (B, S, context_dim) and its padding context_mask (B, S)."""
        x = x + self.attn(self.norm1(x), key_padding_mask=key_padding_mask, attn_mask=attn_mask,
                          is_causal=is_causal, rope=rope)
        if self.cross is not None:
            if context is None:
                raise ValueError("this block cross-attends (built with context_dim): pass context=(B, S, context_dim)")
            x = x + self.cross(self.norm_cross(x), context, key_padding_mask=context_mask)
        elif context is not None or context_mask is not None:
            raise ValueError("this block has no cross-attention; build TransformerBlock(..., context_dim=...) "
                             "to attend to a context")
        return x + self.mlp(self.norm2(x))
