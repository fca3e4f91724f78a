"""Causal 3-D convolution blocks for video autoencoders (lesson 07).

A video VAE that also compresses time must not let a latent frame depend on the future:
then frame 0 is coded alone (a single image is a 1-frame video), and a long clip can be
coded chunk by chunk with the same result as in one go. Open-Sora-Plan's CausalVAE and
CogVideoX (Yang et al. 2024, section 2.2) make every 3-D convolution causal in time by
padding only the front, with copies of the first frame:

    frames      x0 x1 x2 x3 x4          (kernel k_t = 3 in time)
    padded   x0 x0 x0 x1 x2 x3 x4       output t sees frames t-2, t-1, t (clamped at 0)

With a temporal stride of 2 and F = 1 + 2n frames this gives 1 + n outputs, output j
seeing frames 2j-2 .. 2j: frame 0 alone, then pairs. Decoding undoes it with a causal
up-sampling in time: latent 0 -> 1 frame, every later latent -> 2 frames.

Everything here works on Conv3d's layout (B, C, F, H, W); the public video API is
(B, F, C, H, W), and the model converts at its edges.

Decisions.
- GroupNorm and attention act on each frame alone (`FrameGroupNorm`, `FrameAttentionBlock`),
  as in the 2-D VAE. Statistics over the whole clip would let later frames change earlier
  outputs, breaking causality and making chunked coding inexact; per frame, the network is
  causal end to end and a kernel inflated to the newest frame reproduces the 2-D VAE.
- Streaming (`streaming(module)`): each causal conv keeps the last `k_t - s_t` frames it saw
  and uses them, instead of copies of the first frame, as the front of the next chunk;
  each up-sampler remembers that the first frame has passed. With chunks cut at the
  temporal blocks, chunk by chunk equals all at once (up to float rounding).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from minisora.blocks.resnet import AttentionBlock


def _triple(value: int | tuple[int, int, int], name: str) -> tuple[int, int, int]:
    values = (value,) * 3 if isinstance(value, int) else tuple(value)
    if len(values) != 3 or not all(isinstance(v, int) and v >= 1 for v in values):
        raise ValueError(f"{name} must be a positive int or three of them (time, height, width), got {value!r}")
    return values


class CausalConv3d(nn.Conv3d):
    """A Conv3d causal in time (front-padded with the first frame, or the previous chunk's end) and 'same' in space."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int, int] = 3,
                 stride: int | tuple[int, int, int] = 1) -> None:
        kt, kh, kw = _triple(kernel_size, "kernel_size")
        st, sh, sw = _triple(stride, "stride")
        if st > kt:
            raise ValueError(f"a temporal stride {st} larger than the temporal kernel {kt} would skip frames")
        # Zero padding in space, as the 2-D VAE's Conv2d(padding=k // 2); none in time (forward pads the front).
        super().__init__(in_channels, out_channels, (kt, kh, kw), stride=(st, sh, sw), padding=(0, kh // 2, kw // 2))
        self.streaming = False
        self.context: Tensor | None = None  # streaming: the last kt - st input frames of the previous chunk

    def reset_stream(self) -> None:
        self.context = None

    def forward(self, x: Tensor) -> Tensor:
        kt, st = self.kernel_size[0], self.stride[0]
        frames = x.shape[2]
        if self.streaming and self.context is not None:  # a later chunk: continue where the last one stopped
            x = torch.cat([self.context, x], dim=2)  # (B, C, kt - st + F, H, W)
            if frames % st:
                raise ValueError(f"a later chunk must hold a multiple of the temporal stride {st} frames at this "
                                 f"layer, got {frames}")
        else:  # the start of a video: frame 0 repeated kt - 1 times in front
            if (frames - 1) % st:
                raise ValueError(f"a causal conv with temporal stride {st} needs 1 + {st}n frames, got {frames}")
            x = torch.cat([x[:, :, :1].expand(-1, -1, kt - 1, -1, -1), x], dim=2)  # (B, C, kt - 1 + F, H, W)
        if self.streaming:
            # The next output window starts kt - st frames before the end of this input.
            self.context = x[:, :, x.shape[2] - (kt - st):]
        return super().forward(x)


class CausalUpsample(nn.Module):
    """Nearest up-sampling by 2 in space and, if `time`, causally by 2 in time: frame 0 once,
    every later frame twice."""

    def __init__(self, time: bool) -> None:
        super().__init__()
        self.time = time
        self.streaming = False
        self.started = False  # streaming: frame 0 has been up-sampled already

    def reset_stream(self) -> None:
        self.started = False

    def forward(self, x: Tensor) -> Tensor:
        if self.time:
            repeated = x.repeat_interleave(2, dim=2)  # (B, C, 2 F, H, W)
            x = repeated if self.streaming and self.started else repeated[:, :, 1:]  # (B, C, 1 + 2 (F - 1), H, W)
            self.started = self.streaming
        return F.interpolate(x, scale_factor=(1.0, 2.0, 2.0), mode="nearest")  # (B, C, F', 2 H, 2 W)


class FrameGroupNorm(nn.GroupNorm):
    """GroupNorm over each frame of (B, C, F, H, W) alone (the 2-D VAE's statistics), so no frame sees another."""

    def forward(self, x: Tensor) -> Tensor:
        B = x.shape[0]
        frames = rearrange(x, "B C F H W -> (B F) C H W")
        return rearrange(super().forward(frames), "(B F) C H W -> B C F H W", B=B)


class FrameAttentionBlock(AttentionBlock):
    """The 2-D VAE's self-attention over H*W positions, run on each frame of (B, C, F, H, W) alone."""

    def forward(self, x: Tensor) -> Tensor:
        B = x.shape[0]
        frames = rearrange(x, "B C F H W -> (B F) C H W")
        return rearrange(super().forward(frames), "(B F) C H W -> B C F H W", B=B)


class CausalResBlock(nn.Module):
    """The 2-D VAE's ResBlock in 3-D: per-frame GroupNorm-SiLU-causal conv, twice, plus a 1x1x1 shortcut."""

    def __init__(self, in_ch: int, out_ch: int, groups: int, kernel_t: int = 3) -> None:
        super().__init__()
        # The same parameter names as blocks.ResBlock, so a 2-D VAE's weights map one to one.
        self.norm1 = FrameGroupNorm(groups, in_ch)
        self.conv1 = CausalConv3d(in_ch, out_ch, (kernel_t, 3, 3))
        self.norm2 = FrameGroupNorm(groups, out_ch)
        self.conv2 = CausalConv3d(out_ch, out_ch, (kernel_t, 3, 3))
        self.shortcut = CausalConv3d(in_ch, out_ch, 1) if in_ch != out_ch else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x)))  # (B, C_out, F, H, W)
        h = self.conv2(F.silu(self.norm2(h)))
        return self.shortcut(x) + h


@contextlib.contextmanager
def streaming(module: nn.Module) -> Iterator[nn.Module]:
    """Inside the block, `module`'s causal layers carry their context from one call to the next
    (one video, in chunks)."""
    layers = [m for m in module.modules() if isinstance(m, (CausalConv3d, CausalUpsample))]
    for layer in layers:
        layer.streaming = True
        layer.reset_stream()
    try:
        yield module
    finally:
        for layer in layers:
            layer.streaming = False
            layer.reset_stream()


INFLATIONS = ("tail", "central", "average")


def inflate_conv_weight(weight: Tensor, kernel_t: int, inflation: str = "tail") -> Tensor:
    """A Conv2d kernel (O, I, kh, kw) -> a Conv3d kernel (O, I, kernel_t, kh, kw) that sees one frame as it did.

    "tail": all weight on the newest frame (index kernel_t - 1): with causal padding the 3-D conv then computes
    exactly the 2-D conv of every frame. "central": on the middle tap (I3D's and lesson 05's choice for centred,
    non-causal kernels; causally it reads an older frame). "average": spread evenly (a still video gives
    the 2-D output).
    """
    if inflation not in INFLATIONS:
        raise ValueError(f"unknown inflation {inflation!r}; choose one of {INFLATIONS}")
    if not isinstance(weight, Tensor) or weight.ndim != 4:
        raise ValueError(f"weight must be a Conv2d kernel (O, I, kh, kw), got {getattr(weight, 'shape', weight)!r}")
    inflated = weight.new_zeros(weight.shape[0], weight.shape[1], kernel_t, *weight.shape[2:])  # (O, I, kt, kh, kw)
    if inflation == "tail":
        inflated[:, :, -1] = weight
    elif inflation == "central":
        inflated[:, :, kernel_t // 2] = weight
    else:
        inflated[:] = weight[:, :, None] / kernel_t
    return inflated
