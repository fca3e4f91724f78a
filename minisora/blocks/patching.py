"""Images and videos as sequences of tokens (lessons 04, 05; DiT and the video DiT reuse it).

A transformer reads a sequence. ViT (Dosovitskiy et al. 2021, eq. 1) cuts an image into
p x p patches and flattens each into one token. A video can be cut two ways (Arnab et al.
2021, "ViViT", section 3.2):

- **frame patches** ("uniform frame sampling"): every frame cut like a ViT image, the frames'
  tokens concatenated — F * (H/p) * (W/p) tokens of p*p*C numbers;
- **tubelets**: pt x p x p cubes that span pt frames — (F/pt) * (H/p) * (W/p) tokens of
  pt*p*p*C numbers, pt times fewer tokens.

The einops patterns below are the documentation. Videos are (B, F, C, H, W), as everywhere in
minisora (a dataset item is (F, C, H, W)). Within a token the order is (pt, p1, p2, C).
"""

from __future__ import annotations

import torch
from einops import rearrange
from torch import Tensor


def nearest_multiples(size: int, factor: int) -> str:
    """The multiples of `factor` around `size`, as an error message suggests them: "28 or 32" (or "4")."""
    low, high = size // factor * factor, (size // factor + 1) * factor
    return f"{low} or {high}" if low else f"{high}"


def check_divisible(size: int, factor: int, name: str, what: str) -> None:
    """A ValueError that names the size, the factor and the nearest sizes that work."""
    if not isinstance(factor, int) or factor < 1:
        raise ValueError(f"{what} must be a positive int, got {factor!r}")
    if size % factor:
        raise ValueError(f"{name}={size} is not divisible by {what} {factor}; "
                         f"use {name}={nearest_multiples(size, factor)}")


def _check_rank(x: Tensor, rank: int, layout: str) -> None:
    if x.ndim != rank:
        raise ValueError(f"expected a tensor of shape {layout}, got {tuple(x.shape)}")


def patchify(images: Tensor, p: int) -> Tensor:
    """Images (B, C, H, W) -> tokens (B, L, p*p*C), L = (H/p)(W/p), patches in row-major order."""
    _check_rank(images, 4, "(B, C, H, W)")
    check_divisible(images.shape[-2], p, "height", "the patch size")
    check_divisible(images.shape[-1], p, "width", "the patch size")
    return rearrange(images, "B C (h p1) (w p2) -> B (h w) (p1 p2 C)", p1=p, p2=p)


def unpatchify(tokens: Tensor, p: int, height: int, width: int) -> Tensor:
    """Tokens (B, L, p*p*C) -> images (B, C, H, W): the inverse of `patchify`."""
    _check_rank(tokens, 3, "(B, L, p*p*C)")
    check_divisible(height, p, "height", "the patch size")
    check_divisible(width, p, "width", "the patch size")
    h, w = height // p, width // p
    if tokens.shape[1] != h * w or tokens.shape[2] % (p * p):
        raise ValueError(f"tokens {tuple(tokens.shape)} do not tile a {height}x{width} image with {p}x{p} patches "
                         f"(need L = {h * w} and a token width divisible by {p * p})")
    return rearrange(tokens, "B (h w) (p1 p2 C) -> B C (h p1) (w p2)", h=h, w=w, p1=p, p2=p)


def patchify_frames(video: Tensor, p: int) -> Tensor:
    """Video (B, F, C, H, W) -> tokens (B, F*h*w, p*p*C): each frame patched like an image, frames in order."""
    _check_rank(video, 5, "(B, F, C, H, W)")
    check_divisible(video.shape[-2], p, "height", "the patch size")
    check_divisible(video.shape[-1], p, "width", "the patch size")
    return rearrange(video, "B F C (h p1) (w p2) -> B (F h w) (p1 p2 C)", p1=p, p2=p)


def unpatchify_frames(tokens: Tensor, p: int, num_frames: int, height: int, width: int) -> Tensor:
    """Tokens (B, F*h*w, p*p*C) -> video (B, F, C, H, W): the inverse of `patchify_frames`."""
    return unpatchify_tubelets(tokens, 1, p, num_frames, height, width)


def patchify_tubelets(video: Tensor, pt: int, p: int) -> Tensor:
    """Video (B, F, C, H, W) -> tokens (B, (F/pt)*h*w, pt*p*p*C): pt x p x p cubes, each one token."""
    _check_rank(video, 5, "(B, F, C, H, W)")
    check_divisible(video.shape[1], pt, "num_frames", "the temporal patch size pt")
    check_divisible(video.shape[-2], p, "height", "the patch size")
    check_divisible(video.shape[-1], p, "width", "the patch size")
    return rearrange(video, "B (f pt) C (h p1) (w p2) -> B (f h w) (pt p1 p2 C)", pt=pt, p1=p, p2=p)


def unpatchify_tubelets(tokens: Tensor, pt: int, p: int, num_frames: int, height: int, width: int) -> Tensor:
    """Tokens (B, (F/pt)*h*w, pt*p*p*C) -> video (B, F, C, H, W): the inverse of `patchify_tubelets`."""
    _check_rank(tokens, 3, "(B, L, pt*p*p*C)")
    check_divisible(num_frames, pt, "num_frames", "the temporal patch size pt")
    check_divisible(height, p, "height", "the patch size")
    check_divisible(width, p, "width", "the patch size")
    f, h, w = num_frames // pt, height // p, width // p
    if tokens.shape[1] != f * h * w or tokens.shape[2] % (pt * p * p):
        raise ValueError(f"tokens {tuple(tokens.shape)} do not tile a {num_frames}x{height}x{width} video with "
                         f"{pt}x{p}x{p} tubelets (need L = {f * h * w} and a token width divisible by {pt * p * p})")
    return rearrange(tokens, "B (f h w) (pt p1 p2 C) -> B (f pt) C (h p1) (w p2)", f=f, h=h, w=w, pt=pt, p1=p, p2=p)


def token_grid(num_frames: int, height: int, width: int, pt: int, p: int) -> tuple[int, int, int]:
    """(F/pt, H/p, W/p): the token grid of a video; pt=1 for frame patches."""
    check_divisible(num_frames, pt, "num_frames", "the temporal patch size pt")
    check_divisible(height, p, "height", "the patch size")
    check_divisible(width, p, "width", "the patch size")
    return num_frames // pt, height // p, width // p


def uniform_frame_indices(num_frames: int, num_samples: int) -> Tensor:
    """Indices of `num_samples` frames spread evenly over `num_frames` (ViViT's uniform frame sampling)."""
    if not 1 <= num_samples <= num_frames:
        raise ValueError(f"cannot sample {num_samples} of {num_frames} frames; pick 1..{num_frames}")
    # The centre of each of num_samples equal segments.
    return ((torch.arange(num_samples) + 0.5) * num_frames / num_samples).floor().long()
