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

from torch import Tensor

from minisora.diffusion.discrete import DiscreteSampler, StepCoefficients
from minisora.diffusion.process import posterior_coefficients
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
        """σ_t(η) = η √β̃ (eq. 16, β̃ of eq. 7) for the jump from `timestep` to the next visited one."""
        return self.eta * posterior_coefficients(*self.alphas_cumprod_pair(timestep))[2] ** 0.5

    def step_coefficients(self, timestep: int | Tensor) -> StepCoefficients:
        """Eq. 12: x_s = √ᾱ_s x̂_0 + √(1 - ᾱ_s - σ_t²) ε̂ + σ_t z, with ᾱ_s = 1 after the last timestep."""
        _, alpha_bar_prev = self.alphas_cumprod_pair(timestep)
        std = self.step_std(timestep)
        # For η <= 1, σ² <= 1 - ᾱ_s; max(., 0) only absorbs rounding when they are equal.
        eps = max(1 - alpha_bar_prev - std**2, 0.0) ** 0.5
        # Noise is drawn whenever η > 0, even on the last step where σ = 0, so one generator gives
        # the same stream as diffusers' DDIMScheduler.
        return StepCoefficients(x0=alpha_bar_prev**0.5, eps=eps, sample=0.0, std=std, noise=self.eta > 0)
