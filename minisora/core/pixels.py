"""The two pixel ranges, the pair of functions between them, and the pixels off the background (lessons 01-09).

Videos and frames live in [0, 1] wherever a person or the judge looks at them: rendered by
`minisora.data`, shown and saved by `core.video`, scored by `minisora.eval`. Networks see
[-1, 1]: Ho et al. (2020, section 3.3) scale image data "linearly to [-1, 1]", so that the
data is centred like the N(0, I) noise it is mixed with, and every denoiser and autoencoder
here follows them.

    to_model_range   [0, 1] -> [-1, 1]   x * 2 - 1, refusing input that is not in [0, 1]
    to_pixel_range   [-1, 1] -> [0, 1]   (x + 1) / 2, clamped to [0, 1]
    off_background   the pixels that differ from their frame's median colour (the objects of
                     a Bouncing Shapes frame, whose background is one flat colour), in either range:
                     lesson 03's object-weighted VAE loss and lesson 09's loss weights count them

Decisions. `to_model_range` checks its input's values, because the common mistake is to
convert twice (a [-1, 1] tensor comes out in [-3, 1], and nothing else complains); the
check reads the tensor's minimum and maximum, so on a GPU it waits for the values (convert
whole datasets, not every step, if that matters). `to_pixel_range` clamps, because a
network's samples overshoot [-1, 1] a little and everything that consumes pixels (display,
video files, the judge) needs [0, 1]; it checks nothing about the values, but NaN stays
NaN, so a diverged model still fails loudly where the video is shown or saved.
"""

from __future__ import annotations

import torch
from torch import Tensor

# Rounding slack for "in [0, 1]": resampling and float16 can land a hair outside.
RANGE_TOLERANCE = 1e-4


def _check_float_tensor(x: Tensor, name: str, expected: str) -> None:
    if not isinstance(x, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of pixels in {expected}, got {type(x).__name__}")
    if not x.is_floating_point():
        hint = "; for uint8 frames use x.float() / 255" if x.dtype == torch.uint8 else ""
        raise ValueError(f"{name} must be a float tensor of pixels in {expected}, got dtype {x.dtype}{hint}")


def to_model_range(x: Tensor) -> Tensor:
    """Pixels in [0, 1] -> [-1, 1], the range networks train on: x * 2 - 1, any shape."""
    _check_float_tensor(x, "x", "[0, 1]")
    if x.numel():
        low, high = torch.aminmax(x.detach())
        low, high = low.item(), high.item()
        if not (low >= -RANGE_TOLERANCE and high <= 1 + RANGE_TOLERANCE):  # also False for NaN
            hint = ""
            if low < 0 <= high <= 1 + RANGE_TOLERANCE:
                hint = "; it looks converted already (a network's range)"
            elif high > 2:
                hint = "; bytes? use x / 255 first"
            raise ValueError(f"x must hold pixels in [0, 1], got values in [{low:.3g}, {high:.3g}]{hint}")
    return x * 2 - 1


def to_pixel_range(x: Tensor) -> Tensor:
    """A network's [-1, 1] -> pixels in [0, 1]: (x + 1) / 2, clamped (samples overshoot a little), any shape."""
    _check_float_tensor(x, "x", "[-1, 1]")
    return ((x + 1) / 2).clamp(0, 1)


def off_background(frames: Tensor, threshold: float) -> Tensor:
    """Pixels that differ from their frame's background by more than `threshold` in some channel: bool (..., 1, H, W).

    frames (..., C, H, W) in either range (give the threshold in that range). The background is
    each frame's median colour, channel by channel: right whenever it fills more than half the frame.
    """
    _check_float_tensor(frames, "frames", "[0, 1] or [-1, 1]")
    if frames.ndim < 3:
        raise ValueError(f"frames must have shape (..., C, H, W), got {tuple(frames.shape)}")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not threshold > 0:
        raise ValueError(f"threshold must be a positive number (a colour difference in the frames' range), "
                         f"got {threshold!r}")
    background = frames.flatten(-2).median(dim=-1).values[..., None, None]  # (..., C, 1, 1)
    return (frames - background).abs().amax(dim=-3, keepdim=True) > threshold  # (..., 1, H, W)
