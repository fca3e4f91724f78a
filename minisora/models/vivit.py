"""ViViT: video transformers, four ways to attend over space and time (lesson 05).

Arnab et al. 2021, "ViViT: A Video Vision Transformer". Tokens come from frame patches
(pt = 1, their "uniform frame sampling") or from pt x p x p tubelets (their "tubelet
embedding", section 3.2). With f = F/pt frames of s = (H/p)(W/p) tokens each:

1. **joint** space-time attention: every token attends to all f*s tokens (cost ~ (f s)^2);
2. **factorized encoder**: a spatial transformer within each frame, then a temporal
   transformer over the f per-frame summaries (cost ~ f s^2 + f^2);
3. **factorized self-attention**: inside each block, attention within a frame, then across
   frames at the same place, then the MLP (cost ~ f s^2 + s f^2);
4. **factorized dot-product**: one attention layer whose heads are split — half attend within
   the frame, half across time — then concatenated (same cost as 3, no extra parameters).

Videos are (B, F, C, H, W). A tubelet embedding can start from a trained 2-D patch
embedding by filter inflation (section 3.4): "central frame" puts the 2-D filter at the
middle frame and zeros elsewhere; "average" repeats it over pt frames divided by pt.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from minisora.blocks.attention import Attention
from minisora.blocks.patching import patchify_tubelets, token_grid
from minisora.blocks.positions import LearnedPositions, sincos_3d
from minisora.blocks.transformer import MLP, TransformerBlock
from minisora.core.checks import check_float_input, check_int
from minisora.core.config import configure

VARIANTS = ("joint", "factorized_encoder", "factorized_self_attention", "factorized_dot_product")
INFLATIONS = ("central", "average")


@dataclass
class ViViTConfig:
    """Sizes of a ViViT classifier for videos (F, C, H, W)."""

    num_frames: int = 8
    image_size: tuple[int, int] = (32, 32)
    in_channels: int = 3
    patch_size: int = 4
    tubelet_frames: int = 1  # pt: 1 = frame patches, > 1 = tubelets spanning pt frames
    dim: int = 64
    depth: int = 4  # blocks (the spatial encoder's, for the factorized encoder)
    temporal_depth: int = 2  # the factorized encoder's temporal transformer
    num_heads: int = 4
    mlp_ratio: float = 4.0
    num_classes: int = 6
    variant: str = "joint"
    positions: str = "sincos"  # "sincos" (fixed 3-D, separable) or "learned"

    def __post_init__(self) -> None:
        self.image_size = tuple(self.image_size)
        for name in ("num_frames", "in_channels", "patch_size", "tubelet_frames", "dim", "depth", "temporal_depth",
                     "num_heads", "num_classes"):
            check_int(getattr(self, name), name, minimum=1)
        if self.dim % self.num_heads:
            raise ValueError(f"dim={self.dim} is not divisible by num_heads={self.num_heads}; pick heads that divide "
                             "it")
        if self.variant not in VARIANTS:
            raise ValueError(f"unknown variant {self.variant!r}; choose one of {VARIANTS}")
        if self.positions not in ("sincos", "learned"):
            raise ValueError(f"unknown positions {self.positions!r}; choose 'sincos' or 'learned'")
        if self.variant == "factorized_dot_product" and self.num_heads % 2:
            raise ValueError(f"the factorized dot-product splits heads between space and time: num_heads must be "
                             f"even, got {self.num_heads}")
        token_grid(self.num_frames, *self.image_size, self.tubelet_frames, self.patch_size)  # divisibility errors

    @property
    def grid(self) -> tuple[int, int, int]:
        """(f, h, w): the token grid."""
        return token_grid(self.num_frames, *self.image_size, self.tubelet_frames, self.patch_size)


def inflate_patch_weights(weight: Tensor, pt: int, mode: str = "central") -> Tensor:
    """A 2-D patch embedding's weight (D, p*p*C) -> a tubelet embedding's (D, pt*p*p*C) (ViViT section 3.4)."""
    if mode not in INFLATIONS:
        raise ValueError(f"unknown inflation {mode!r}; choose one of {INFLATIONS}")
    D, K = weight.shape
    inflated = torch.zeros(D, pt, K, dtype=weight.dtype, device=weight.device)  # token order is (pt, p1, p2, C)
    if mode == "central":
        inflated[:, pt // 2] = weight  # a static video gives the 2-D embedding of its middle frame
    else:
        inflated[:] = weight[:, None] / pt  # a static video gives exactly the 2-D embedding
    return inflated.reshape(D, pt * K)


class FactorizedSelfAttentionBlock(nn.Module):
    """Variant 3: spatial attention within each frame, then temporal attention at each place, then the MLP."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, grid: tuple[int, int, int]) -> None:
        super().__init__()
        self.f = grid[0]
        self.norm_s, self.attn_s = nn.LayerNorm(dim), Attention(dim, num_heads)
        self.norm_t, self.attn_t = nn.LayerNorm(dim), Attention(dim, num_heads)
        self.norm_mlp, self.mlp = nn.LayerNorm(dim), MLP(dim, mlp_ratio)

    def forward(self, x: Tensor) -> Tensor:
        B = x.shape[0]
        x = rearrange(x, "B (f s) D -> (B f) s D", f=self.f)  # attend within each frame
        x = x + self.attn_s(self.norm_s(x))
        x = rearrange(x, "(B f) s D -> (B s) f D", B=B)  # attend across frames at each place
        x = x + self.attn_t(self.norm_t(x))
        x = rearrange(x, "(B s) f D -> B (f s) D", B=B)
        return x + self.mlp(self.norm_mlp(x))


class FactorizedDotProductBlock(nn.Module):
    """Variant 4: one attention layer, half its heads within frames, half across time; then the MLP."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, grid: tuple[int, int, int]) -> None:
        super().__init__()
        self.f, self.heads = grid[0], num_heads
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = MLP(dim, mlp_ratio)

    def attention(self, x: Tensor) -> Tensor:
        B, f, half = x.shape[0], self.f, self.heads // 2
        q, k, v = rearrange(self.qkv(x), "B L (three h d) -> three B h L d", three=3, h=self.heads)
        # Spatial heads: tokens of one frame attend to each other.
        qs, ks, vs = (rearrange(t[:, :half], "B h (f s) d -> (B f) h s d", f=f) for t in (q, k, v))
        spatial = rearrange(F.scaled_dot_product_attention(qs, ks, vs), "(B f) h s d -> B h (f s) d", B=B)
        # Temporal heads: tokens at one place attend across frames.
        qt, kt, vt = (rearrange(t[:, half:], "B h (f s) d -> (B s) h f d", f=f) for t in (q, k, v))
        temporal = rearrange(F.scaled_dot_product_attention(qt, kt, vt), "(B s) h f d -> B h (f s) d", B=B)
        out = torch.cat([spatial, temporal], dim=1)  # (B, h, L, d): the heads, concatenated
        return self.proj(rearrange(out, "B h L d -> B L (h d)"))

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attention(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ViViT(nn.Module):
    """Videos (B, F, C, H, W) -> class logits (B, num_classes), in one of the four variants."""

    def __init__(self, config: ViViTConfig | None = None, **overrides) -> None:
        super().__init__()
        cfg = configure(ViViTConfig, config, overrides)
        self.config = cfg
        pt, p = cfg.tubelet_frames, cfg.patch_size
        f, h, w = cfg.grid
        # A linear map on flattened tubelets is a Conv3d with kernel = stride = (pt, p, p).
        self.embed = nn.Linear(pt * p * p * cfg.in_channels, cfg.dim)
        if cfg.positions == "learned":
            self.positions = LearnedPositions(f * h * w, cfg.dim)
        else:
            self.register_buffer("position_table", sincos_3d(f, h, w, cfg.dim)[None], persistent=False)
            self.positions = None
        grid = (f, h, w)
        block_args = (cfg.dim, cfg.num_heads, cfg.mlp_ratio)
        if cfg.variant == "joint":
            self.blocks = nn.ModuleList(TransformerBlock(*block_args) for _ in range(cfg.depth))
        elif cfg.variant == "factorized_encoder":
            self.blocks = nn.ModuleList(TransformerBlock(*block_args) for _ in range(cfg.depth))
            self.temporal_blocks = nn.ModuleList(TransformerBlock(*block_args) for _ in range(cfg.temporal_depth))
        elif cfg.variant == "factorized_self_attention":
            self.blocks = nn.ModuleList(FactorizedSelfAttentionBlock(*block_args, grid) for _ in range(cfg.depth))
        else:
            self.blocks = nn.ModuleList(FactorizedDotProductBlock(*block_args, grid) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(cfg.dim)
        self.head = nn.Linear(cfg.dim, cfg.num_classes)

    def tokens(self, video: Tensor) -> Tensor:
        """Video -> embedded tokens with positions, (B, f*h*w, D), frame-major."""
        cfg = self.config
        check_float_input(video, "video", self.embed.weight)
        expected = (cfg.num_frames, cfg.in_channels, *cfg.image_size)
        if video.ndim != 5 or tuple(video.shape[1:]) != expected:
            raise ValueError(f"this ViViT takes videos (B, {', '.join(map(str, expected))}), got {tuple(video.shape)}")
        x = self.embed(patchify_tubelets(video, cfg.tubelet_frames, cfg.patch_size))  # (B, L, D)
        return self.positions(x) if self.positions is not None else x + self.position_table

    def inflate_from(self, weight: Tensor, bias: Tensor, mode: str = "central") -> None:
        """Start the tubelet embedding from a 2-D patch embedding (weight (D, p*p*C), bias (D,))."""
        with torch.no_grad():
            self.embed.weight.copy_(inflate_patch_weights(weight, self.config.tubelet_frames, mode))
            self.embed.bias.copy_(bias)

    def forward(self, video: Tensor) -> Tensor:
        x = self.tokens(video)  # (B, f*s, D)
        if self.config.variant == "factorized_encoder":
            B, f = x.shape[0], self.config.grid[0]
            x = rearrange(x, "B (f s) D -> (B f) s D", f=f)  # each frame alone
            for block in self.blocks:
                x = block(x)
            x = rearrange(x.mean(dim=1), "(B f) D -> B f D", B=B)  # one summary token per frame
            for block in self.temporal_blocks:
                x = block(x)
        else:
            for block in self.blocks:
                x = block(x)
        return self.head(self.norm(x).mean(dim=1))  # mean-pool the tokens, then classify
