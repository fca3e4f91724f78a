"""The video DiT: a latent diffusion transformer over space and time, conditioned on text (lesson 09).

The Latte / Open-Sora STDiT family (Ma et al. 2024, "Latte", variant 3 "factorized
attention"; Zheng et al. 2024, "Open-Sora", STDiT), built from the pieces of lessons 05-08:

    latents (B, F, C, H, W)  --tubelets pt x p x p-->  tokens (B, f, s, D), f = F/pt, s = (H/p)(W/p)
    + 2-D sin-cos positions in space (DiT); time enters as RoPE in the temporal attention
    N blocks, each:  spatial attention    (the s tokens of one frame; adaLN-modulated and gated)
                     temporal attention   (the f tokens of one place; zero-initialized)
                     cross-attention      (every token reads the caption's tokens, padding masked)
                     MLP                  (adaLN-modulated and gated)
    final layer (adaLN) -> tubelets -> (B, F, C, H, W)

`attention="full"` replaces spatial + temporal by one joint attention over all f*s tokens
(ViViT's model 1), for comparison; `attention="spatial"` drops the temporal attention (an
image model run on every frame: the ablation that shows what time costs and buys).

Conditioning. The timestep t and the caption's pooled vector make c = embed(t) + embed(pooled)
(SD3 adds its pooled text the same way); c modulates every block through adaLN-Zero.
We use PixArt-α's *shared* modulation (Chen et al. 2023, "adaLN-single", §2.3): one
Linear(D, 6D) of c serves all blocks, and each block adds its own learned (6, D) table.
Why: DiT's per-block regressions are 6D² numbers each, about a quarter of a block; shared,
they cost 6D² once, and PixArt found no loss in quality. Both start at zero, so every gate is
0 and every block the identity ("-Zero"). The caption's tokens enter by cross-attention,
which is where the motion words reach the video: lesson 08's pooled vector barely encodes
motion, its tokens do.

Time. t may be one per sample (B,) or one per frame (B, F) (lesson 10's frame conditioning):
c is then per frame, and the frames of one tubelet share the mean of their embeddings. The
token grid is read from x at `forward` time, so one model runs any frame count and size its
patches divide (lesson 10's buckets); nothing in it is sized for one grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from einops import rearrange
from torch import Tensor, nn

from minisora.blocks.attention import Attention
from minisora.blocks.embeddings import TimestepEmbedder, broadcast_timesteps
from minisora.blocks.patching import check_divisible, patchify_tubelets, token_grid, unpatchify_tubelets
from minisora.blocks.positions import rope_angles, sincos_2d
from minisora.blocks.transformer import MLP, xavier_linears
from minisora.core.checks import check_float_input
from minisora.core.config import Presets, configure
from minisora.models.dit import FinalLayer, modulate

ATTENTIONS = ("factorized", "full", "spatial")


@dataclass
class VideoDiTConfig:
    """Sizes of a video DiT for latents (F, C, H, W); the grid is read at forward time (any multiple of the patches)."""

    num_frames: int = 16  # the latent frames the presets are named for
    input_size: tuple[int, int] = (8, 8)  # the latent (H, W) the presets are named for
    in_channels: int = 4
    patch_size: int = 2
    tubelet_frames: int = 2  # pt: frames per token (1 = frame patches)
    dim: int = 128
    depth: int = 6
    num_heads: int = 4
    mlp_ratio: float = 4.0
    context_dim: int = 128  # the text tokens' width; 0 = no text (unconditional)
    attention: str = "factorized"  # "factorized" (spatial + temporal), "full" (joint 3-D) or "spatial" (no time)
    qk_norm: bool = True

    def __post_init__(self) -> None:
        size = self.input_size
        self.input_size = (size, size) if isinstance(size, int) else tuple(size)
        for name in ("num_frames", "in_channels", "patch_size", "tubelet_frames", "dim", "depth", "num_heads"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if isinstance(self.context_dim, bool) or not isinstance(self.context_dim, int) or self.context_dim < 0:
            raise ValueError(f"context_dim must be an int >= 0 (0: no text), got {self.context_dim!r}")
        if not self.mlp_ratio > 0:
            raise ValueError(f"mlp_ratio must be positive, got {self.mlp_ratio!r}")
        if self.attention not in ATTENTIONS:
            raise ValueError(f"unknown attention {self.attention!r}; choose one of {ATTENTIONS}")
        if self.dim % self.num_heads:
            raise ValueError(f"dim={self.dim} is not divisible by num_heads={self.num_heads}; "
                             "pick heads that divide it")
        if self.dim % 4:
            raise ValueError(f"dim={self.dim} must be divisible by 4 for the 2-D sin-cos positions")
        if (self.dim // self.num_heads) % 2:
            raise ValueError(f"the head width dim/num_heads = {self.dim // self.num_heads} must be even for RoPE")
        check_divisible(self.num_frames, self.tubelet_frames, "num_frames", "the temporal patch size pt")
        check_divisible(self.input_size[0], self.patch_size, "height", "the patch size")
        check_divisible(self.input_size[1], self.patch_size, "width", "the patch size")


# Named sizes: tiny for tests and fast mode (seconds), cpu for the shipped model (an hour on 2 cores),
# gpu for a lent accelerator. All on the f4 video VAE's 16 x 4 x 8 x 8 latents in 2x2x2 tubelets (128 tokens).
VIDEO_DIT_PRESETS = Presets("video DiT", {
    "tiny": VideoDiTConfig(dim=32, depth=1, num_heads=2),
    "cpu": VideoDiTConfig(dim=128, depth=6, num_heads=4),
    "gpu": VideoDiTConfig(dim=256, depth=8, num_heads=8),
})


class VideoDiTBlock(nn.Module):
    """Spatial attention, temporal attention, cross-attention, MLP; tokens ((B f), s, D) -> ((B f), s, D)."""

    def __init__(self, cfg: VideoDiTConfig) -> None:
        super().__init__()
        dim, heads = cfg.dim, cfg.num_heads
        self.attention = cfg.attention
        # adaLN: no learned affine in the modulated norms; the modulation supplies scale and shift.
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(dim, heads, qk_norm=cfg.qk_norm)  # spatial, or joint 3-D for "full"
        self.norm_temporal, self.temporal = None, None
        if cfg.attention == "factorized":
            self.norm_temporal = nn.LayerNorm(dim)
            self.temporal = Attention(dim, heads, qk_norm=cfg.qk_norm)
        self.norm_cross, self.cross = None, None
        if cfg.context_dim:
            self.norm_cross = nn.LayerNorm(dim)
            self.cross = Attention(dim, heads, context_dim=cfg.context_dim, qk_norm=cfg.qk_norm)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.mlp = MLP(dim, cfg.mlp_ratio)
        self.table = nn.Parameter(torch.zeros(6, dim))  # adaLN-single: this block's offsets to the shared modulation

    def forward(self, x: Tensor, modulation: Tensor, frames: int, rope: Tensor,
                context: Tensor | None, context_mask: Tensor | None) -> Tensor:
        """x ((B f), s, D); modulation ((B f), 6, D) shared by all blocks; rope: the temporal RoPE angles
        (f, d/2), or (f*s, d/2) for "full"; context (B, S, context_dim) and its mask (B, S)."""
        rows = (modulation + self.table).unbind(dim=1)  # 6 x ((B f), D)
        shift1, scale1, gate1, shift2, scale2, gate2 = rows
        s = x.shape[1]
        # 1. Attention over space (one frame's s tokens), or over space and time at once.
        h = modulate(self.norm1(x), shift1, scale1)  # ((B f), s, D)
        if self.attention == "full":
            h = rearrange(h, "(B f) s D -> B (f s) D", f=frames)
            h = rearrange(self.attn(h, rope=rope), "B (f s) D -> (B f) s D", f=frames)
        else:
            h = self.attn(h)
        x = x + gate1[:, None] * h
        # 2. Attention over time: the f tokens at one place, ordered by RoPE.
        if self.temporal is not None:
            h = rearrange(self.norm_temporal(x), "(B f) s D -> (B s) f D", f=frames)
            h = self.temporal(h, rope=rope)  # ((B s), f, D)
            x = x + rearrange(h, "(B s) f D -> (B f) s D", s=s)
        # 3. Every token reads the caption (padding masked out).
        if self.cross is not None and context is not None:
            h = rearrange(self.norm_cross(x), "(B f) s D -> B (f s) D", f=frames)
            h = self.cross(h, context, key_padding_mask=context_mask)  # (B, f*s, D)
            x = x + rearrange(h, "B (f s) D -> (B f) s D", f=frames)
        # 4. The MLP, modulated and gated like the attention.
        return x + gate2[:, None] * self.mlp(modulate(self.norm2(x), shift2, scale2))


class VideoDiT(nn.Module):
    """(latents (B, F, C, H, W), t (B,) or (B, F), text tokens (B, S, Dc) + mask, pooled (B, Dc)) -> (B, F, C, H, W)."""

    def __init__(self, config: VideoDiTConfig | None = None, **overrides) -> None:
        super().__init__()
        cfg = configure(VideoDiTConfig, config, overrides)
        self.config = cfg
        dim = cfg.dim
        token_dim = cfg.tubelet_frames * cfg.patch_size**2 * cfg.in_channels
        # Tubelets then Linear is ViViT's Conv3d with kernel = stride = (pt, p, p), reshaped.
        self.patch_embed = nn.Linear(token_dim, dim)
        self.time_embed = TimestepEmbedder(dim)
        self.pooled_embed = None
        if cfg.context_dim:
            self.pooled_embed = nn.Sequential(nn.Linear(cfg.context_dim, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.modulation = nn.Sequential(nn.SiLU(), nn.Linear(dim, 6 * dim))  # adaLN-single: shared by all blocks
        self.blocks = nn.ModuleList(VideoDiTBlock(cfg) for _ in range(cfg.depth))
        self.final = FinalLayer(dim, token_dim, adaptive=True)
        self.initialize_weights()

    def initialize_weights(self) -> None:
        """DiT's initialization, plus PixArt's and Latte's zeros; a reason for each group."""
        # Transformer layers: Xavier-uniform weights and zero biases, as ViT and DiT do.
        xavier_linears(self)
        # The timestep MLP: small normal weights, as DiT does (std 0.02).
        self.time_embed.normal_init(std=0.02)
        # adaLN-Zero: the shared modulation and every block's table start at zero, so every gate is 0 and
        # the spatial and MLP branches add nothing at first.
        nn.init.zeros_(self.modulation[-1].weight)
        nn.init.zeros_(self.modulation[-1].bias)
        for block in self.blocks:
            nn.init.zeros_(block.table)
            # The ungated branches start at zero too: the temporal attention (so the model begins as an
            # image model, Latte/AnimateDiff's trick) and the cross-attention (PixArt's). Their output
            # projections still learn: their gradient is their input times the residual's gradient.
            for branch in (block.temporal, block.cross):
                if branch is not None:
                    nn.init.zeros_(branch.to_out.weight)
                    nn.init.zeros_(branch.to_out.bias)
        # The final layer: zero modulation and zero output, so the first prediction is 0.
        nn.init.zeros_(self.final.modulation[-1].weight)
        nn.init.zeros_(self.final.modulation[-1].bias)
        nn.init.zeros_(self.final.linear.weight)
        nn.init.zeros_(self.final.linear.bias)

    def check_inputs(self, x: Tensor, context: Tensor | None, context_mask: Tensor | None,
                     pooled: Tensor | None) -> None:
        """A ValueError naming the argument unless x and the text inputs fit this network."""
        cfg = self.config
        if not isinstance(x, Tensor) or x.ndim != 5 or x.shape[2] != cfg.in_channels or x.shape[0] == 0:
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"x must be latents (B, F, {cfg.in_channels}, H, W) with B >= 1, got {shape}")
        check_float_input(x, "x", next(self.parameters()))
        token_grid(x.shape[1], x.shape[3], x.shape[4], cfg.tubelet_frames, cfg.patch_size)  # names the size
        batch = x.shape[0]
        if not cfg.context_dim:
            if context is not None or pooled is not None:
                raise ValueError("this VideoDiT has no text conditioning (context_dim=0); build it with "
                                 "context_dim=<the text tokens' width> to pass context and pooled")
            return
        if (context is None) != (pooled is None):
            raise ValueError("pass the caption's context (B, S, context_dim) and pooled (B, context_dim) together "
                             "(TextEmbedding.tokens and .pooled), or neither for an unconditional call")
        if context is None:
            return
        if context.ndim != 3 or context.shape[0] != batch or context.shape[2] != cfg.context_dim:
            raise ValueError(f"context must be (B, S, context_dim) = ({batch}, S, {cfg.context_dim}), "
                             f"got {tuple(context.shape)}")
        if pooled.shape != (batch, cfg.context_dim):
            raise ValueError(f"pooled must be (B, context_dim) = ({batch}, {cfg.context_dim}), "
                             f"got {tuple(pooled.shape)}")
        if context_mask is not None and (context_mask.dtype != torch.bool
                                         or tuple(context_mask.shape) != tuple(context.shape[:2])):
            raise ValueError(f"context_mask must be a bool tensor (B, S) = {tuple(context.shape[:2])}, True = a real "
                             f"token; got {context_mask.dtype} {tuple(context_mask.shape)}")

    def condition(self, t: Tensor, pooled: Tensor | None, batch: int, num_frames: int) -> Tensor:
        """c = embed(t) + embed(pooled), one per token frame: (B, F/pt, D)."""
        pt = self.config.tubelet_frames
        t = broadcast_timesteps(t, batch, self.patch_embed.weight.device, num_frames=num_frames)  # (B,) or (B, F)
        t_emb = self.time_embed(t)  # (B, D) or (B, F, D)
        if t_emb.ndim == 2:
            t_emb = t_emb[:, None].expand(batch, num_frames // pt, t_emb.shape[-1])  # (B, f, D)
        else:
            # The pt frames of one tubelet are one token: they share the mean of their embeddings.
            t_emb = rearrange(t_emb, "B (f pt) D -> B f pt D", pt=pt).mean(dim=2)  # (B, f, D)
        if pooled is not None:
            t_emb = t_emb + self.pooled_embed(pooled)[:, None]  # (B, f, D)
        return t_emb

    def forward(self, x: Tensor, t: Tensor, context: Tensor | None = None, context_mask: Tensor | None = None,
                pooled: Tensor | None = None) -> Tensor:
        """x (B, F, C, H, W) latents; t (B,) or (B, F); context (B, S, context_dim) the caption's tokens with
        context_mask (B, S) bool (True = real) and pooled (B, context_dim); no context = unconditional."""
        self.check_inputs(x, context, context_mask, pooled)
        cfg = self.config
        batch, num_frames, _, height, width = x.shape
        pt, p = cfg.tubelet_frames, cfg.patch_size
        f, h, w = token_grid(num_frames, height, width, pt, p)
        tokens = self.patch_embed(patchify_tubelets(x, pt, p))  # (B, f*h*w, D)
        tokens = rearrange(tokens, "B (f s) D -> (B f) s D", f=f)  # one row of s = h*w tokens per token frame
        tokens = tokens + sincos_2d(h, w, cfg.dim).to(tokens)  # (s, D) broadcast over frames
        c = self.condition(t, pooled, batch, num_frames)  # (B, f, D)
        c = rearrange(c, "B f D -> (B f) D")
        modulation = rearrange(self.modulation(c), "Bf (six D) -> Bf six D", six=6)  # ((B f), 6, D)
        head_dim = cfg.dim // cfg.num_heads
        frame_index = torch.arange(f)  # on the CPU: the angles are computed in float64, which MPS lacks
        if cfg.attention == "full":
            frame_index = frame_index.repeat_interleave(h * w)  # (f*s,): each token's frame
        rope = rope_angles(frame_index, head_dim).to(x.device)  # (f or f*s, d/2)
        for block in self.blocks:
            tokens = block(tokens, modulation, f, rope, context, context_mask)
        out = self.final(tokens, c)  # ((B f), s, pt*p*p*C)
        out = rearrange(out, "(B f) s P -> B (f s) P", f=f)
        return unpatchify_tubelets(out, pt, p, num_frames, height, width)  # (B, F, C, H, W)
