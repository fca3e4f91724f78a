"""A Vision Transformer classifier (lesson 04): Dosovitskiy et al. 2021, "An Image is Worth 16x16 Words".

Eq. 1: cut the image into p x p patches, embed each with one linear map, add position
embeddings, prepend a learned [class] token, run pre-norm transformer blocks (eq. 2-3),
classify from the class token (eq. 4) — or, as many later models do, from the mean of the
patch tokens ("pool").
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from minisora.blocks.patching import check_divisible, patchify
from minisora.blocks.positions import LearnedPositions, sincos_2d
from minisora.blocks.transformer import TransformerBlock
from minisora.core.checks import check_float_input, check_int
from minisora.core.config import configure

POOLINGS = ("cls", "mean")
POSITIONS = ("learned", "sincos", "none")


@dataclass
class ViTConfig:
    """Sizes of a ViT for (C, H, W) images."""

    image_size: tuple[int, int] = (32, 32)
    in_channels: int = 3
    patch_size: int = 4
    dim: int = 64
    depth: int = 4
    num_heads: int = 4
    mlp_ratio: float = 4.0
    num_classes: int = 24
    pool: str = "cls"
    positions: str = "learned"

    def __post_init__(self) -> None:
        self.image_size = tuple(self.image_size)
        for name in ("in_channels", "patch_size", "dim", "depth", "num_heads", "num_classes"):
            check_int(getattr(self, name), name, minimum=1)
        if self.dim % self.num_heads:
            raise ValueError(f"dim={self.dim} is not divisible by num_heads={self.num_heads}; pick heads that divide "
                             "it")
        if self.pool not in POOLINGS:
            raise ValueError(f"unknown pool {self.pool!r}; choose one of {POOLINGS}")
        if self.positions not in POSITIONS:
            raise ValueError(f"unknown positions {self.positions!r}; choose one of {POSITIONS}")
        check_divisible(self.image_size[0], self.patch_size, "height", "the patch size")
        check_divisible(self.image_size[1], self.patch_size, "width", "the patch size")

    @property
    def grid(self) -> tuple[int, int]:
        return self.image_size[0] // self.patch_size, self.image_size[1] // self.patch_size


class ViT(nn.Module):
    """Images (B, C, H, W) -> class logits (B, num_classes)."""

    def __init__(self, config: ViTConfig | None = None, **overrides) -> None:
        super().__init__()
        cfg = configure(ViTConfig, config, overrides)
        self.config = cfg
        p = cfg.patch_size
        self.embed = nn.Linear(p * p * cfg.in_channels, cfg.dim)  # eq. 1's E: one token per patch
        self.cls_token = nn.Parameter(torch.zeros(1, 1, cfg.dim)) if cfg.pool == "cls" else None
        h, w = cfg.grid
        if cfg.positions == "learned":
            self.positions = LearnedPositions(h * w, cfg.dim)
        else:
            table = sincos_2d(h, w, cfg.dim) if cfg.positions == "sincos" else torch.zeros(h * w, cfg.dim)
            self.register_buffer("position_table", table[None], persistent=False)  # (1, L, D), fixed
            self.positions = None
        self.blocks = nn.ModuleList(TransformerBlock(cfg.dim, cfg.num_heads, cfg.mlp_ratio) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(cfg.dim)
        self.head = nn.Linear(cfg.dim, cfg.num_classes)
        if self.cls_token is not None:
            nn.init.trunc_normal_(self.cls_token, std=0.02)

    def tokens(self, images: Tensor) -> Tensor:
        """Images -> embedded patch tokens with positions, (B, L, D) (no class token)."""
        check_float_input(images, "images", self.embed.weight)
        if tuple(images.shape[1:]) != (self.config.in_channels, *self.config.image_size):
            raise ValueError(f"this ViT takes images (B, {self.config.in_channels}, {self.config.image_size[0]}, "
                             f"{self.config.image_size[1]}), got {tuple(images.shape)}")
        x = self.embed(patchify(images, self.config.patch_size))  # (B, L, D)
        return self.positions(x) if self.positions is not None else x + self.position_table

    def forward(self, images: Tensor) -> Tensor:
        x = self.tokens(images)  # (B, L, D)
        if self.cls_token is not None:
            x = torch.cat([self.cls_token.expand(len(x), -1, -1), x], dim=1)  # (B, 1 + L, D)
        for block in self.blocks:
            x = block(x)
        x = self.norm(x)
        pooled = x[:, 0] if self.cls_token is not None else x.mean(dim=1)  # (B, D)
        return self.head(pooled)  # (B, num_classes)
