"""The sampling loop: diffusers' three lines around any sampler and any network (lessons 01-09).

    sampler.set_timesteps(n)
    for t in sampler.timesteps:
        x = sampler.step(model(x, t), t, x)

The loop is the only place where the network and the sampler meet; the network receives t
as one value per sample, shape (B,): integer timesteps for DDPM/DDIM, FLOW_TIME_SCALE · t
(1000 t) for flow matching — whatever the sampler's `timesteps` hold.

A diffusers scheduler runs unchanged: `step` may return an output object, whose
`.prev_sample` is taken; `init_noise_sigma` and `scale_model_input` are honoured where a
scheduler has them (Euler-type schedulers; for DDPM, DDIM and flow they are 1 and the identity).

Given frames (lesson 10; `minisora.diffusion.frames`): with `given` (the known video, shaped
like the sample) and `given_mask` (B, F) bool, the given frames are the clean input at every
step, the network is told t = 0 for them — it then receives t of shape (B, F) — and they are
put back after every step, so they come out bit-identical to `given`.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable

import torch
from torch import Tensor

from minisora.core.progress import progress_bar
from minisora.diffusion.frames import check_given_frames, condition_frames, expand_like
from minisora.diffusion.process import randn


@torch.no_grad()
def sample(
    model: Callable[..., Tensor],
    sampler,
    shape: tuple[int, ...],
    num_inference_steps: int | None,
    generator: torch.Generator | None = None,
    *,
    noise: Tensor | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
    progress: bool = False,
    given: Tensor | None = None,
    given_mask: Tensor | None = None,
    **cond,
) -> Tensor:
    """Draw x_T ~ N(0, I) of `shape` (B, ...) and step `sampler` down to x_0 with `model(x, t, **cond)`.

    num_inference_steps=None keeps the sampler's current timesteps (e.g. an explicit list).
    `noise` replaces the initial draw; `generator` seeds both it and the sampler's noise.
    `sampler` is any minisora sampler or a diffusers scheduler. given (B, F, ...) and given_mask
    (B, F) bool keep the given frames of a video fixed (see the module docstring).
    """
    # 1. The timesteps to visit, x_T ~ N(0, I), and the given frames, if any.
    if not isinstance(shape, (tuple, list, torch.Size)) or not all(
            isinstance(n, numbers.Integral) and n >= 1 for n in shape):
        raise TypeError(f"shape must be a tuple of positive ints (B, ...) such as (4, 3, 32, 32), got {shape!r}")
    if num_inference_steps is not None:
        sampler.set_timesteps(num_inference_steps)
    if sampler.timesteps is None:
        raise ValueError("the sampler has no timesteps; pass num_inference_steps or call set_timesteps first")
    if noise is None:
        x = randn(tuple(shape), generator, device, dtype)
    elif tuple(noise.shape) != tuple(shape):
        raise ValueError(f"noise has shape {tuple(noise.shape)}, expected {tuple(shape)}")
    else:
        x = noise
    init_noise_sigma = getattr(sampler, "init_noise_sigma", 1.0)  # diffusers' Euler-type schedulers: σ_max
    if init_noise_sigma != 1:
        x = x * init_noise_sigma
    frames = check_given_frames(given, given_mask, tuple(shape))
    if frames is not None:
        given = frames[0].to(dtype=x.dtype, device=x.device)
        given_mask = frames[1].to(x.device)
        keep = expand_like(given_mask, x)  # (B, F, 1, ..., 1)
        x = torch.where(keep, given, x)
    # 2. Step down, giving the network one t per sample (per frame, 0 on given frames, when frames are given).
    for t in progress_bar(sampler.timesteps, disable=not progress, desc="sampling"):
        t_model = t.to(x.device).expand(x.shape[0])  # (B,)
        if frames is not None:
            t_model, _ = condition_frames(t_model, given_mask)  # (B, F)
        x_in = sampler.scale_model_input(x, t) if hasattr(sampler, "scale_model_input") else x
        out = sampler.step(model(x_in, t_model, **cond), t, x, generator=generator)
        x = out.prev_sample if hasattr(out, "prev_sample") else out  # diffusers returns an output object
        if frames is not None:
            x = torch.where(keep, given, x)  # the given frames, exactly
    return x
