"""Per-frame timesteps and given frames: the shapes t may take, Open-Sora's frame conditioning (lesson 10).

A batch x is (B, ...); a video batch is (B, F, C, H, W). Its timesteps are one per sample,
t of shape (B,) (a scalar is repeated), or, for a video, one per frame, t of shape (B, F).
Coefficients gathered at t broadcast against x as (B, 1, ..., 1) or (B, F, 1, ..., 1)
(`expand_like`), so each frame is noised to its own level.

Per-frame t is how Open-Sora (Zheng et al. 2024, "Open-Sora: Democratizing Efficient Video
Production for All"; its `x_mask`) conditions a video on some of its own frames: the given
frames get t = 0 and no loss, the others a drawn t. Image-to-video gives frame 0, extension
the first k frames, interpolation both ends. The convention, everywhere in minisora:

    given (B, F) bool, True = this frame is known.
    training   condition_frames(t, given) -> t per frame (0 on given frames), loss_mask = ~given;
               the noise process noises each frame at its own t, so a given frame is the data
               noised at t = 0: exactly x_0 for flow matching, √ᾱ_0 x_0 + √(1 - ᾱ_0) ε for
               DDPM (√(1 - ᾱ_0) = 0.01 on the linear schedule), as Open-Sora's IDDPM does.
    sampling   `sample(..., given=x_known, given_mask=given)`: the given frames are the clean
               input at every step, the network is told t = 0 for them (t of shape (B, F)),
               and they are put back after every step, so they come out bit-identical.
"""

from __future__ import annotations

import torch
from torch import Tensor


def expand_like(values: Tensor, like: Tensor) -> Tensor:
    """Per-sample (B,) or per-frame (B, F) values reshaped to (B, 1, ..., 1) or (B, F, 1, ..., 1) to broadcast."""
    if values.ndim > like.ndim or tuple(values.shape) != tuple(like.shape[: values.ndim]):
        raise ValueError(
            f"values of shape {tuple(values.shape)} cannot broadcast per sample or per frame against a tensor "
            f"of shape {tuple(like.shape)}; they must be its leading dimensions, (B,) or (B, F)"
        )
    return values.reshape(*values.shape, *([1] * (like.ndim - values.ndim)))


def check_per_frame_shape(values: Tensor, shape: tuple[int, ...], name: str) -> Tensor:
    """Check that `values` are one per sample (B,) or one per frame (B, F) of a batch of `shape`; return them."""
    shape = tuple(shape)
    batch = shape[0]
    if values.ndim == 1 and values.shape[0] == batch:
        return values
    video = len(shape) >= 3
    if values.ndim == 2 and values.shape[0] == batch:
        if not video:
            raise ValueError(
                f"{name} has shape {tuple(values.shape)}, one per frame (B, F), but x has shape {shape}: per-frame "
                f"values need a video x of shape (B, F, ...) of rank >= 3; pass one per sample, shape ({batch},)"
            )
        if values.shape[1] != shape[1]:
            raise ValueError(
                f"{name} has shape {tuple(values.shape)} but x of shape {shape} has {shape[1]} frames; pass shape "
                f"({batch}, {shape[1]}) (one per frame) or ({batch},) (one per sample)"
            )
        return values
    per_frame = f", or one per frame: shape (B, F) = ({batch}, {shape[1]})" if video else ""
    raise ValueError(
        f"{name} must be one per sample: shape (B,) = ({batch},){per_frame}, for x of shape {shape}; "
        f"got shape {tuple(values.shape)}"
    )


def check_timestep_shape(timesteps: Tensor | float, shape: tuple[int, ...], name: str = "timesteps") -> Tensor:
    """Timesteps for a batch of `shape`: a scalar becomes (B,); (B,) and, for a video, (B, F) are kept."""
    t = torch.as_tensor(timesteps)
    if t.ndim == 0:
        return t.expand(shape[0])
    return check_per_frame_shape(t, shape, name)


def check_loss_mask(loss_mask: Tensor, shape: tuple[int, ...]) -> Tensor:
    """A loss mask (B,) or (B, F), bool or float in [0, 1] (1 = counts), for a batch of `shape`."""
    loss_mask = check_per_frame_shape(torch.as_tensor(loss_mask), shape, "loss_mask")
    if loss_mask.dtype != torch.bool:
        if not loss_mask.dtype.is_floating_point:
            raise ValueError(f"loss_mask must be bool or float (1 = counts, 0 = ignored), got dtype {loss_mask.dtype}")
        if bool(((loss_mask < 0) | (loss_mask > 1)).any()):
            raise ValueError("loss_mask values must lie in [0, 1] (1 = this frame counts fully, 0 = not at all)")
    return loss_mask


def _check_given_mask(given: Tensor, name: str) -> None:
    if isinstance(given, Tensor) and given.dtype == torch.bool and given.ndim == 2:
        return
    if not isinstance(given, Tensor):
        got, fix = type(given).__name__, "make it a tensor: torch.tensor(..., dtype=torch.bool)"
    elif given.dtype != torch.bool:
        got, fix = f"dtype {given.dtype}, shape {tuple(given.shape)}", f"use {name}.bool() (nonzero = given)"
    else:
        got, fix = f"shape {tuple(given.shape)}", "one entry per frame of each sample: shape (B, F)"
    raise ValueError(f"{name} must be a bool tensor of shape (B, F), True where a frame is given; got {got}; {fix}")


def condition_frames(timesteps: Tensor, given: Tensor) -> tuple[Tensor, Tensor]:
    """Open-Sora's frame conditioning: per-frame t (B, F), 0 on given frames, and the loss mask (B, F) = ~given.

    timesteps: (B,) one per sample (broadcast over frames) or (B, F); given: (B, F) bool, True
    where the frame is known. The mask is bool, True where a frame counts in the loss.
    """
    _check_given_mask(given, "given")
    t = torch.as_tensor(timesteps)
    if t.ndim == 1 and t.shape[0] == given.shape[0]:
        t = t[:, None].expand(given.shape)  # (B, F)
    if tuple(t.shape) != tuple(given.shape):
        raise ValueError(
            f"timesteps must have shape (B,) = ({given.shape[0]},) or (B, F) = {tuple(given.shape)} like given, "
            f"got {tuple(t.shape)}"
        )
    given = given.to(t.device)
    return torch.where(given, torch.zeros((), dtype=t.dtype, device=t.device), t), ~given


def check_given_frames(given: Tensor | None, given_mask: Tensor | None,
                       shape: tuple[int, ...]) -> tuple[Tensor, Tensor] | None:
    """Validate `sample`'s given frames: both or neither, given shaped like the sample, given_mask (B, F) bool."""
    if given is None and given_mask is None:
        return None
    if given is None or given_mask is None:
        raise ValueError(
            "pass given (the known frames, shaped like the sample) together with given_mask "
            "((B, F) bool, True where a frame is given), or neither"
        )
    shape = tuple(shape)
    if len(shape) < 3:
        raise ValueError(f"given frames need a video shape (B, F, ...) of rank >= 3, got shape {shape}")
    if tuple(given.shape) != shape:
        raise ValueError(f"given has shape {tuple(given.shape)}, expected the sample's shape {shape}")
    _check_given_mask(given_mask, "given_mask")
    if tuple(given_mask.shape) != shape[:2]:
        raise ValueError(f"given_mask has shape {tuple(given_mask.shape)}, expected (B, F) = {shape[:2]}")
    return given, given_mask
