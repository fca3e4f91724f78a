"""Where a token came from: position embeddings (lessons 04, 05; DiT and the video DiT reuse them).

Attention is blind to order: permute the tokens and the outputs permute with them. A
transformer over patches must be told each token's place. Three ways, each with a test:

- **learned**: one free vector per position (ViT, Dosovitskiy et al. 2021, section 3.1);
- **fixed sin-cos** (Vaswani et al. 2017, section 3.5): 1-D for a sequence, 2-D for a grid
  (half the channels encode the row, half the column, as in MAE and DiT), 3-D for video
  (a temporal part and a spatial part, separable);
- **RoPE** (Su et al. 2021, "RoFormer", eq. 34): rotate each pair of query and key channels
  by an angle proportional to the position; then q·k depends only on the *offset* between
  positions. Axial RoPE gives time, rows and columns their own channel groups.

Sin-cos frequencies follow DiT: ω_i = 10000^(-i/(D/2)), embedding [sin(pos ω), cos(pos ω)].
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def sincos_1d(positions: Tensor, dim: int, max_period: float = 10_000.0) -> Tensor:
    """Positions (L,) -> (L, dim): [sin(pos ω_0..ω_{k-1}), cos(pos ω_0..ω_{k-1})],
    ω_i = max_period^(-i/k), k = dim/2."""
    if dim < 2 or dim % 2:
        raise ValueError(f"a sin-cos embedding needs an even dim >= 2, got {dim}")
    half = dim // 2
    omega = max_period ** (-torch.arange(half, dtype=torch.float64) / half)  # (k,)
    angles = positions.double()[:, None] * omega[None]  # (L, k)
    return torch.cat([angles.sin(), angles.cos()], dim=1).float()  # (L, dim)


def sincos_2d(height: int, width: int, dim: int) -> Tensor:
    """A (height x width) grid in row-major order -> (height*width, dim): dim/2 channels for the row,
    dim/2 for the column."""
    if dim % 4:
        raise ValueError(f"a 2-D sin-cos embedding needs dim divisible by 4 (two even halves), got {dim}")
    rows = torch.arange(height).repeat_interleave(width)  # (L,): 0 0 0 1 1 1 ...
    cols = torch.arange(width).repeat(height)  # (L,): 0 1 2 0 1 2 ...
    return torch.cat([sincos_1d(rows, dim // 2), sincos_1d(cols, dim // 2)], dim=1)  # (L, dim)


def sincos_3d(num_frames: int, height: int, width: int, dim: int, temporal_dim: int | None = None) -> Tensor:
    """A (F x H x W) grid, frame-major -> (F*H*W, dim): temporal_dim channels for time (default dim/4),
    the rest 2-D space."""
    temporal_dim = temporal_dim if temporal_dim is not None else (dim // 4) // 2 * 2
    spatial_dim = dim - temporal_dim
    if temporal_dim < 2 or temporal_dim % 2 or spatial_dim % 4 or spatial_dim <= 0:
        raise ValueError(
            f"dim={dim} with temporal_dim={temporal_dim} leaves {spatial_dim} spatial channels; the temporal part must "
            f"be even and >= 2 and the spatial part divisible by 4 (e.g. dim a multiple of 16 with the default split)"
        )
    frames = torch.arange(num_frames).repeat_interleave(height * width)  # (L,)
    space = sincos_2d(height, width, spatial_dim).repeat(num_frames, 1)  # (L, spatial_dim)
    return torch.cat([sincos_1d(frames, temporal_dim), space], dim=1)  # (L, dim)


class LearnedPositions(nn.Module):
    """One learned vector per position, added to the tokens: (B, L, D) -> (B, L, D)."""

    def __init__(self, num_positions: int, dim: int) -> None:
        super().__init__()
        self.table = nn.Parameter(torch.zeros(1, num_positions, dim))
        nn.init.trunc_normal_(self.table, std=0.02)  # ViT's initialization

    def forward(self, tokens: Tensor) -> Tensor:
        if tokens.shape[1] != self.table.shape[1]:
            raise ValueError(f"got {tokens.shape[1]} tokens but learned positions for {self.table.shape[1]}; "
                             "learned tables do not extend to other sizes (use sin-cos or RoPE for that)")
        return tokens + self.table


def rope_angles(positions: Tensor, dim: int, max_period: float = 10_000.0) -> Tensor:
    """Positions (L,) -> rotation angles (L, dim/2): pair i turns by pos * max_period^(-i/(dim/2))."""
    if dim < 2 or dim % 2:
        raise ValueError(f"RoPE rotates channel pairs: dim must be even, got {dim}")
    half = dim // 2
    theta = max_period ** (-torch.arange(half, dtype=torch.float64) / half)  # (dim/2,)
    return (positions.double()[:, None] * theta[None]).float()  # (L, dim/2)


def axial_rope_angles(grid: tuple[int, ...], dims: tuple[int, ...], max_period: float = 10_000.0) -> Tensor:
    """Angles for a grid (e.g. (F, H, W)), flattened in row-major order: axis a gets dims[a] channels.
    (L, sum(dims)/2)"""
    if len(grid) != len(dims):
        raise ValueError(f"one channel count per axis: grid {grid} but dims {dims}")
    coords = torch.cartesian_prod(*[torch.arange(n) for n in grid]) if len(grid) > 1 else torch.arange(grid[0])[:, None]
    return torch.cat([rope_angles(coords[:, a], d, max_period) for a, d in enumerate(dims)], dim=1)  # (L, sum/2)


def apply_rope(x: Tensor, angles: Tensor) -> Tensor:
    """Rotate channel pairs (2i, 2i+1) of x (..., L, d) by angles (L, d/2); channels past 2*angles.shape[1]
    pass unchanged."""
    pairs = angles.shape[-1]
    if x.shape[-2] != angles.shape[0] or 2 * pairs > x.shape[-1]:
        raise ValueError(f"RoPE angles {tuple(angles.shape)} do not fit x {tuple(x.shape)}: need (L, <= d/2)")
    rotated, rest = x[..., : 2 * pairs], x[..., 2 * pairs :]
    even, odd = rotated[..., 0::2], rotated[..., 1::2]  # (..., L, pairs) each
    cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
    turned = torch.stack([even * cos - odd * sin, even * sin + odd * cos], dim=-1)  # (..., L, pairs, 2)
    return torch.cat([turned.flatten(-2), rest], dim=-1)  # (..., L, d)
