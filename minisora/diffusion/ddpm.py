"""DDPM ancestral sampling: Algorithm 2 of Ho et al. 2020 (lesson 01).

Algorithm 2 ("Sampling"): x_T ~ N(0, I), then for t = T, ..., 1

    x_{t-1} = 1/√α_t (x_t - (1 - α_t)/√(1 - ᾱ_t) ε_θ(x_t, t)) + σ_t z,   z ~ N(0, I), z = 0 at t = 1,

with σ_t² = β_t ("beta", right if x_0 ~ N(0, I)) or σ_t² = β̃_t = (1 - ᾱ_{t-1})/(1 - ᾱ_t) β_t
("beta_tilde", right if x_0 is one fixed point) (§3.2). The mean is the posterior mean
μ̃(x_t, x̂_0) of eq. 7 with x̂_0 from eq. 15; `step` computes it that way, which is the same
number for an ε-network and also serves x_0- and v-networks and clipping of x̂_0.

Fewer steps. After set_timesteps(n) with n < T the sampler jumps from t to the next visited
timestep s < t. It then uses the posterior q(x_s | x_t, x_0) between the two (as diffusers'
DDPMScheduler does): α and β of the jump are α_{t|s} = ᾱ_t/ᾱ_s and β_{t|s} = 1 - α_{t|s},
which are α_t and β_t again when s = t - 1. Ancestral sampling with big jumps is only
approximate (the true reverse step is not Gaussian); DDIM is the principled few-step sampler.

The last step adds no noise (z = 0), also when it is not t = 0 ("trailing" spacing): there
diffusers' DDPMScheduler adds noise to its final output; otherwise the two agree exactly.
"""

from __future__ import annotations

from torch import Tensor

from minisora.diffusion.discrete import DiscreteSampler, StepCoefficients
from minisora.diffusion.process import posterior_coefficients
from minisora.diffusion.schedules import NoiseSchedule

DDPM_VARIANCES = ("beta", "beta_tilde")  # diffusers: "fixed_large", "fixed_small"


class DDPMSampler(DiscreteSampler):
    """Ancestral sampler of Ho et al. 2020 (Algorithm 2) on all T steps or a sub-sequence."""

    def __init__(
        self,
        schedule: NoiseSchedule | None = None,
        *,
        prediction_type: str = "epsilon",
        variance: str = "beta_tilde",
        clip_sample: bool = False,
        clip_sample_range: float = 1.0,
        timestep_spacing: str = "leading",
    ) -> None:
        if variance not in DDPM_VARIANCES:
            raise ValueError(f"unknown DDPM variance {variance!r}; choose one of {list(DDPM_VARIANCES)}")
        super().__init__(schedule, prediction_type=prediction_type, clip_sample=clip_sample,
                         clip_sample_range=clip_sample_range, timestep_spacing=timestep_spacing)
        self.variance = variance

    def step_variance(self, timestep: int | Tensor) -> float:
        """σ² of the step from `timestep` to the next visited one: β_{t|s} or β̃_{t|s}; 0 at the last."""
        if self.previous_timestep(timestep) < 0:
            return 0.0  # z = 0 on the last step: return the mean, x̂_0-ish, without fresh noise
        alpha_bar_t, alpha_bar_prev = self.alphas_cumprod_pair(timestep)
        if self.variance == "beta":
            return 1 - alpha_bar_t / alpha_bar_prev  # β_{t|s}
        return posterior_coefficients(alpha_bar_t, alpha_bar_prev)[2]  # β̃_{t|s} (eq. 7)

    def step_coefficients(self, timestep: int | Tensor) -> StepCoefficients:
        """Algorithm 2, line 4, as μ̃(x_t, x̂_0) = c_0 x̂_0 + c_t x_t (eq. 7) plus σ_t z (z = 0 on the last step).

        For an ε-network without clipping this mean equals 1/√α_t (x_t - β_t/√(1 - ᾱ_t) ε_θ).
        """
        coef_x0, coef_xt, _ = posterior_coefficients(*self.alphas_cumprod_pair(timestep))
        std = self.step_variance(timestep) ** 0.5
        return StepCoefficients(x0=coef_x0, eps=0.0, sample=coef_xt, std=std, noise=std > 0)
