"""The sampling loop: diffusers' three lines around any sampler and any network (lessons 01-09).

    sampler.set_timesteps(n)
    for t in sampler.timesteps:
        x = sampler.step(model(x, t), t, x)

The loop is the only place where the network and the sampler meet; the network receives t
as one value per sample, shape (B,): integer timesteps for DDPM/DDIM, floats in (0, 1] for
flow matching.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from tqdm.auto import tqdm

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
    **cond,
) -> Tensor:
    """Draw x_T ~ N(0, I) of `shape` (B, ...) and step `sampler` down to x_0 with `model(x, t, **cond)`.

    num_inference_steps=None keeps the sampler's current timesteps (e.g. an explicit list).
    `noise` replaces the initial draw; `generator` seeds both it and the sampler's noise.
    """
    # 1. The timesteps to visit, and x_T ~ N(0, I).
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
    # 2. Step down, giving the network one t per sample.
    for t in tqdm(sampler.timesteps, disable=not progress, desc="sampling"):
        t_batch = t.to(x.device).expand(x.shape[0])  # (B,)
        x = sampler.step(model(x, t_batch, **cond), t, x, generator=generator)
    return x
