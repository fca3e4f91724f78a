"""What DDPM and DDIM sampling share: the sampler contract over integer timesteps (lessons 01-02).

A sampler walks a descending sequence of training timesteps t_1 > t_2 > ... > t_n, from
noise to data, with diffusers' contract (`minisora.diffusion.sampler`), so a diffusers
scheduler can be swapped in:

    sampler.set_timesteps(num_inference_steps)       # or set_timesteps(timesteps=[999, 500, 0])
    for t in sampler.timesteps:                        # a descending LongTensor
        x = sampler.step(model(x, t), t, x, generator)  # x_t -> x_prev, returns a tensor

`set_timesteps(n)` spaces n of the T training timesteps as in Lin et al. 2023 ("Common
Diffusion Noise Schedules and Sample Steps are Flawed", Table 2), with diffusers' names:

    "leading"   0, T//n, 2T//n, ...                       (diffusers' default; never visits T-1)
    "trailing"  round(T - i T/n) - 1 for i < n: T-1, ...  (Lin et al.'s recommendation)
    "linspace"  round(linspace(0, T-1, n))

The step after the last timestep goes to the clean data: ᾱ_prev = 1 ("set_alpha_to_one").

Both samplers' steps have one form, so `DiscreteSampler.step` is written once,

    x_s = c_0 x̂_0 + c_ε ε̂ + c_t x_t + σ z,   z ~ N(0, I),

and each sampler only says what its coefficients are (`step_coefficients`): DDPM's are the
posterior mean of eq. 7 (c_ε = 0), DDIM's eq. 12 (c_t = 0). Both take β̃ from
`minisora.diffusion.process.posterior_coefficients`.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from minisora.diffusion.process import (
    check_prediction_type,
    predict_epsilon,
    predict_original_sample,
    randn_like,
)
from minisora.diffusion.sampler import Sampler, check_num_inference_steps
from minisora.diffusion.schedules import NoiseSchedule, make_schedule

TIMESTEP_SPACINGS = ("leading", "trailing", "linspace")


def spaced_timesteps(num_train_timesteps: int, num_inference_steps: int, spacing: str = "leading") -> Tensor:
    """n of the T training timesteps, descending, spaced as in Lin et al. 2023 Table 2. (n,) long"""
    _check_spacing(spacing)
    big_t = num_train_timesteps
    n = check_num_inference_steps(num_inference_steps, big_t)
    i = torch.arange(n, dtype=torch.float64)  # (n,)
    if spacing == "leading":
        steps = i * (big_t // n)
    elif spacing == "trailing":
        steps = torch.round(big_t - i * (big_t / n)) - 1
        return steps.long()  # already descending
    else:
        steps = torch.round(torch.linspace(0, big_t - 1, n, dtype=torch.float64))
    return steps.flip(0).long()


class StepCoefficients(NamedTuple):
    """One step x_s = x0 · x̂_0 + eps · ε̂ + sample · x_t + std · z; noise: whether z is drawn at all."""

    x0: float
    eps: float
    sample: float
    std: float
    noise: bool


class DiscreteSampler(Sampler):
    """Base of DDPMSampler and DDIMSampler: a schedule, integer timesteps, x̂_0 and the step at each one."""

    def __init__(
        self,
        schedule: NoiseSchedule | None = None,
        *,
        prediction_type: str = "epsilon",
        clip_sample: bool = False,
        clip_sample_range: float = 1.0,
        timestep_spacing: str = "leading",
    ) -> None:
        check_prediction_type(prediction_type)
        _check_spacing(timestep_spacing)
        if clip_sample and not clip_sample_range > 0:
            raise ValueError(f"clip_sample_range must be positive, got {clip_sample_range!r}")
        if schedule is not None and not isinstance(schedule, NoiseSchedule):
            raise TypeError(f"schedule must be a NoiseSchedule, got {type(schedule).__name__} {schedule!r}; "
                            f"build one with make_schedule({schedule!r}, 1000)" if isinstance(schedule, str) else
                            f"schedule must be a NoiseSchedule (from make_schedule), got {type(schedule).__name__}")
        super().__init__()
        self.schedule = schedule if schedule is not None else make_schedule("linear", 1000)
        self.prediction_type = prediction_type
        self.clip_sample = clip_sample  # clamp x̂_0 to ±clip_sample_range: only for data known to be bounded
        self.clip_sample_range = clip_sample_range
        self.timestep_spacing = timestep_spacing
        self._use(torch.arange(self.num_train_timesteps - 1, -1, -1))  # all T steps until set_timesteps

    @property
    def num_train_timesteps(self) -> int:
        """T of the schedule: valid timesteps are 0..T-1."""
        return self.schedule.num_timesteps

    def _spaced(self, num_inference_steps: int) -> Tensor:
        return spaced_timesteps(self.num_train_timesteps, num_inference_steps, self.timestep_spacing)

    def _check_range(self, steps: Tensor) -> None:
        if int(steps[0]) >= self.num_train_timesteps or int(steps[-1]) < 0:
            raise ValueError(f"timesteps must lie in [0, {self.num_train_timesteps - 1}], got {steps.tolist()}")

    def _use(self, steps: Tensor, device: torch.device | str | None = None) -> None:
        super()._use(steps.long(), device)  # (n,) descending LongTensor

    def alphas_cumprod_pair(self, timestep: int | Tensor) -> tuple[float, float]:
        """(ᾱ_t, ᾱ_prev) as float64 python numbers; ᾱ_prev = 1 after the last timestep."""
        t, prev_t = self._values[self.step_index(timestep)], self.previous_timestep(timestep)
        alphas_cumprod = self.schedule.alphas_cumprod
        return float(alphas_cumprod[t]), float(alphas_cumprod[prev_t]) if prev_t >= 0 else 1.0

    def predict_original_sample(self, model_output: Tensor, timestep: int | Tensor, sample: Tensor) -> Tensor:
        """x̂_0 at this step (Ho et al. eq. 15 for ε), clipped to ±clip_sample_range if clip_sample."""
        self._check_inputs(model_output, sample)
        alpha_bar_t, _ = self.alphas_cumprod_pair(timestep)
        if alpha_bar_t == 0 and self.prediction_type == "epsilon":
            raise ValueError(
                f"ᾱ_t = 0 at timestep {int(timestep)} (zero terminal SNR): x_t is pure noise and an "
                "epsilon prediction says nothing about x_0; use prediction_type='v_prediction' (Lin et al. 2023 §3.2)"
            )
        x0 = predict_original_sample(model_output, sample, alpha_bar_t, self.prediction_type)
        if self.clip_sample:
            x0 = x0.clamp(-self.clip_sample_range, self.clip_sample_range)
        return x0

    def step_coefficients(self, timestep: int | Tensor) -> StepCoefficients:
        """The coefficients of the step from `timestep` to the next visited one (subclass)."""
        raise NotImplementedError

    def step(self, model_output: Tensor, timestep: int | Tensor, sample: Tensor,
             generator: torch.Generator | None = None) -> Tensor:
        """One step x_t -> x_s (s: the next visited timestep), for a network output at x_t = `sample`."""
        # 1. x̂_0 from the network's output (Ho et al. eq. 15 for ε), clipped if asked.
        x0 = self.predict_original_sample(model_output, timestep, sample)
        # 2. The sampler's coefficients: DDPM's posterior (eq. 7) or DDIM's eq. 12.
        c = self.step_coefficients(timestep)
        # 3. x_s = c_0 x̂_0 + c_ε ε̂ + c_t x_t. ε̂ comes from the raw output, even when x̂_0 is clipped
        #    (as diffusers' DDIMScheduler with use_clipped_model_output=False).
        prev_sample = c.x0 * x0
        if c.eps != 0:
            alpha_bar_t, _ = self.alphas_cumprod_pair(timestep)
            prev_sample = prev_sample + c.eps * predict_epsilon(model_output, sample, alpha_bar_t, self.prediction_type)
        if c.sample != 0:
            prev_sample = prev_sample + c.sample * sample
        # 4. + σ z, z ~ N(0, I), when this sampler draws noise at this step.
        if c.noise:
            prev_sample = prev_sample + c.std * randn_like(sample, generator)
        return prev_sample


def _check_spacing(spacing: str) -> None:
    if spacing not in TIMESTEP_SPACINGS:
        raise ValueError(f"unknown timestep_spacing {spacing!r}; choose one of {list(TIMESTEP_SPACINGS)}")
