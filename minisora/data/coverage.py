"""Where the objects are in a rendered clip, on the pixel grid and on a coarser latent grid (lesson 09).

A Bouncing Shapes background is one flat colour (black or gray) and every object colour differs
from both by at least 0.5 in some channel, so a pixel belongs to an object where it departs
from its frame's median colour (the objects cover far less than half a frame) by more than
`threshold`. Anti-aliased edge pixels count from half their colour on.

`object_coverage` pools that mask onto the grid of a latent with `factor`-times fewer pixels a
side (the f4 VAE's 8 x 8 for 32 x 32 frames): each latent cell gets the share of its pixels
that belong to an object, after the mask has been widened by `dilation` pixels, so that the
background right around an object (where an outline is drawn too wide or too narrow) counts
as part of it. Lesson 09's recipe turns the coverage into element weights of the loss.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor

from minisora.core.checks import check_int, check_number
from minisora.core.pixels import off_background


def _check_video(video: Tensor) -> Tensor:
    if not isinstance(video, Tensor) or not video.dtype.is_floating_point:
        raise ValueError(f"video must be a float tensor (F, 3, H, W) or (B, F, 3, H, W) in [0, 1], got "
                         f"{type(video).__name__}")
    if video.ndim not in (4, 5) or video.shape[-3] != 3:
        raise ValueError(f"video must have shape (F, 3, H, W) or (B, F, 3, H, W) with 3 colour channels, got "
                         f"{tuple(video.shape)}")
    return video if video.ndim == 5 else video[None]


def object_mask(video: Tensor, threshold: float = 0.25) -> Tensor:
    """Object pixels, bool (F, H, W) for a clip (F, 3, H, W), (B, F, H, W) for a batch (B, F, 3, H, W)."""
    clips = _check_video(video)  # (B, F, 3, H, W)
    mask = off_background(clips, threshold)[:, :, 0]  # (B, F, H, W): off each frame's median colour
    return mask if video.ndim == 5 else mask[0]


def object_coverage(video: Tensor, factor: int, dilation: int = 1, threshold: float = 0.25) -> Tensor:
    """The share of each latent cell's pixels near an object: (F, 1, H/f, W/f) or (B, F, 1, H/f, W/f) in [0, 1]."""
    check_int(factor, "factor", minimum=1)
    check_int(dilation, "dilation", minimum=0)
    clips = _check_video(video)
    height, width = clips.shape[-2:]
    if height % factor or width % factor:
        raise ValueError(f"frames of {height}x{width} pixels do not divide into cells of factor={factor}; "
                         f"use a factor that divides both sides (the VAE's downsampling, 4 for the f4 VAE)")
    mask = object_mask(clips, threshold).float()  # (B, F, H, W)
    frames = rearrange(mask, "b f h w -> (b f) 1 h w")
    if dilation:
        # Widen the objects by `dilation` pixels on every side: a max over a (2d + 1)^2 window.
        frames = F.max_pool2d(frames, 2 * dilation + 1, stride=1, padding=dilation)
    cells = F.avg_pool2d(frames, factor)  # ((B F), 1, H/f, W/f): the share of each cell's pixels
    coverage = rearrange(cells, "(b f) 1 h w -> b f 1 h w", b=clips.shape[0])
    return coverage if video.ndim == 5 else coverage[0]


def coverage_weights(coverage: Tensor, object_weight: float) -> Tensor:
    """Element weights 1 + object_weight * coverage: the background counts 1, a covered cell 1 + object_weight."""
    check_number(object_weight, "object_weight (0 = every element counts the same)", low=0.0)
    if not isinstance(coverage, Tensor) or not coverage.dtype.is_floating_point:
        raise ValueError("coverage must be a float tensor in [0, 1] (object_coverage's output)")
    if bool(((coverage < 0) | (coverage > 1)).any()):
        raise ValueError("coverage must lie in [0, 1] (a share of a cell's pixels); pass object_coverage's output")
    return 1.0 + object_weight * coverage.to(torch.float32)
