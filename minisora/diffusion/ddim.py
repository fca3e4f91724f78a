"""DDIM sampling: Song, Meng & Ermon 2021, "Denoising Diffusion Implicit Models" (lesson 02).

DDIM keeps DDPM's marginals q(x_t | x_0) but uses a non-Markovian forward process, so a
network trained for DDPM can jump from t to any earlier s in one step (eq. 12, with their α
being our ᾱ):

    x_s = √ᾱ_s x̂_0  +  √(1 - ᾱ_s - σ_t²) ε̂  +  σ_t z,    z ~ N(0, I)
          "predicted x_0"  "direction pointing to x_t"  "random noise"

    σ_t(η) = η √((1 - ᾱ_s)/(1 - ᾱ_t)) √(1 - ᾱ_t/ᾱ_s)                     (eq. 16)

η = 0 is deterministic (DDIM proper, an ODE solver); η = 1 has DDPM's β̃ noise. The visited
timesteps are any descending sub-sequence (§4.2): set_timesteps(n) or an explicit list.

Like diffusers' DDIMScheduler (default use_clipped_model_output=False), ε̂ comes from the raw
network output even when x̂_0 is clipped. Unlike it, the next timestep is the next one in
`timesteps` rather than t - T//n; the two agree whenever the steps are evenly spaced.
"""

from __future__ import annotations

import torch
from torch import Tensor

from minisora.diffusion.discrete import DiscreteSampler
from minisora.diffusion.process import predict_epsilon, randn_like
from minisora.diffusion.schedules import NoiseSchedule


class DDIMSampler(DiscreteSampler):
    """Song et al. 2021's sampler (eq. 12): η = 0 deterministic, η > 0 stochastic, any timestep subset."""

    def __init__(
        self,
        schedule: NoiseSchedule | None = None,
        *,
        eta: float = 0.0,
        prediction_type: str = "epsilon",
        clip_sample: bool = False,
        clip_sample_range: float = 1.0,
        timestep_spacing: str = "leading",
    ) -> None:
        if not 0 <= eta <= 1:
            raise ValueError(
                f"eta must be in [0, 1] (0: deterministic DDIM, 1: DDPM's β̃ noise; above 1 eq. 12 would take the "
                f"square root of a negative number), got {eta!r}"
            )
        super().__init__(schedule, prediction_type=prediction_type, clip_sample=clip_sample,
                         clip_sample_range=clip_sample_range, timestep_spacing=timestep_spacing)
        self.eta = eta

    def step_std(self, timestep: int | Tensor) -> float:
        """σ_t(η) of eq. 16 for the jump from `timestep` to the next visited one."""
        alpha_bar_t, alpha_bar_prev = self.alphas_cumprod_pair(timestep)
        variance = (1 - alpha_bar_prev) / (1 - alpha_bar_t) * (1 - alpha_bar_t / alpha_bar_prev)
        return self.eta * variance**0.5

    def step(
        self,
        model_output: Tensor,
        timestep: int | Tensor,
        sample: Tensor,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """One DDIM step x_t -> x_s (s: the next visited timestep), for a network output at x_t = `sample`."""
        # 1. ᾱ_t and ᾱ_s (1 after the last timestep: the clean data).
        alpha_bar_t, alpha_bar_prev = self.alphas_cumprod_pair(timestep)
        # 2. x̂_0 (clipped if asked) and ε̂ from the network's output.
        x0 = self.predict_original_sample(model_output, timestep, sample)
        eps = predict_epsilon(model_output, sample, alpha_bar_t, self.prediction_type)
        # 3. σ_t(η) (eq. 16).
        std = self.step_std(timestep)
        # 4. x_s = √ᾱ_s x̂_0 + √(1 - ᾱ_s - σ²) ε̂ (eq. 12 without its noise). For η <= 1,
        #    σ² <= 1 - ᾱ_s; max(., 0) only absorbs rounding when they are equal.
        prev_sample = alpha_bar_prev**0.5 * x0 + max(1 - alpha_bar_prev - std**2, 0.0) ** 0.5 * eps
        # 5. + σ_t z. Noise is drawn whenever η > 0, even on the last step where σ = 0, so one
        #    generator gives the same stream as diffusers' DDIMScheduler.
        if self.eta > 0:
            prev_sample = prev_sample + std * randn_like(sample, generator)
        return prev_sample
