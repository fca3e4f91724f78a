"""What DDPM and DDIM sampling share: the sampler contract over integer timesteps (lessons 01-02).

A sampler walks a descending sequence of training timesteps t_1 > t_2 > ... > t_n, from
noise to data, with diffusers' contract (so a diffusers scheduler can be swapped in):

    sampler.set_timesteps(num_inference_steps)       # or set_timesteps(timesteps=[999, 500, 0])
    for t in sampler.timesteps:                        # a descending LongTensor
        x = sampler.step(model(x, t), t, x, generator)  # x_t -> x_prev, returns a tensor

`set_timesteps(n)` spaces n of the T training timesteps as in Lin et al. 2023 ("Common
Diffusion Noise Schedules and Sample Steps are Flawed", Table 2), with diffusers' names:

    "leading"   0, T//n, 2T//n, ...                       (diffusers' default; never visits T-1)
    "trailing"  round(T - i T/n) - 1 for i < n: T-1, ...  (Lin et al.'s recommendation)
    "linspace"  round(linspace(0, T-1, n))

The step after the last timestep goes to the clean data: ᾱ_prev = 1 ("set_alpha_to_one").
"""

from __future__ import annotations

import torch
from torch import Tensor

from minisora.diffusion.process import check_prediction_type, predict_original_sample
from minisora.diffusion.schedules import NoiseSchedule, make_schedule

TIMESTEP_SPACINGS = ("leading", "trailing", "linspace")


def spaced_timesteps(num_train_timesteps: int, num_inference_steps: int, spacing: str = "leading") -> Tensor:
    """n of the T training timesteps, descending, spaced as in Lin et al. 2023 Table 2. (n,) long"""
    if spacing not in TIMESTEP_SPACINGS:
        raise ValueError(f"unknown timestep_spacing {spacing!r}; choose one of {list(TIMESTEP_SPACINGS)}")
    n, big_t = num_inference_steps, num_train_timesteps
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= big_t:
        raise ValueError(
            f"num_inference_steps must be an int in [1, {big_t}] (the schedule has T={big_t} training "
            f"timesteps), got {n!r}"
        )
    i = torch.arange(n, dtype=torch.float64)  # (n,)
    if spacing == "leading":
        steps = i * (big_t // n)
    elif spacing == "trailing":
        steps = torch.round(big_t - i * (big_t / n)) - 1
        return steps.long()  # already descending
    else:
        steps = torch.round(torch.linspace(0, big_t - 1, n, dtype=torch.float64))
    return steps.flip(0).long()


class DiscreteSampler:
    """Base of DDPMSampler and DDIMSampler: a schedule, a timestep sequence and x̂_0 at each step."""

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
        if timestep_spacing not in TIMESTEP_SPACINGS:
            raise ValueError(f"unknown timestep_spacing {timestep_spacing!r}; choose one of {list(TIMESTEP_SPACINGS)}")
        if clip_sample and not clip_sample_range > 0:
            raise ValueError(f"clip_sample_range must be positive, got {clip_sample_range!r}")
        self.schedule = schedule if schedule is not None else make_schedule("linear", 1000)
        self.prediction_type = prediction_type
        self.clip_sample = clip_sample  # clamp x̂_0 to ±clip_sample_range: only for data known to be bounded
        self.clip_sample_range = clip_sample_range
        self.timestep_spacing = timestep_spacing
        self.num_inference_steps: int | None = None
        self._use(torch.arange(self.num_train_timesteps - 1, -1, -1))  # all T steps until set_timesteps

    @property
    def num_train_timesteps(self) -> int:
        """T of the schedule: valid timesteps are 0..T-1."""
        return self.schedule.num_timesteps

    def set_timesteps(
        self,
        num_inference_steps: int | None = None,
        *,
        timesteps: list[int] | Tensor | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        """Choose the timesteps to visit: n spaced by `timestep_spacing`, or an explicit descending list."""
        if (num_inference_steps is None) == (timesteps is None):
            raise ValueError("pass exactly one of num_inference_steps or timesteps (an explicit descending list)")
        if timesteps is None:
            steps = spaced_timesteps(self.num_train_timesteps, num_inference_steps, self.timestep_spacing)
        else:
            steps = torch.as_tensor(timesteps)
            if steps.dtype.is_floating_point or steps.ndim != 1 or len(steps) == 0:
                raise ValueError(f"timesteps must be a non-empty 1-D list of ints, got {timesteps!r}")
            if bool((steps[1:] >= steps[:-1]).any()):
                raise ValueError(f"timesteps must be strictly descending (noise to data), got {steps.tolist()}")
            if int(steps[0]) >= self.num_train_timesteps or int(steps[-1]) < 0:
                raise ValueError(f"timesteps must lie in [0, {self.num_train_timesteps - 1}], got {steps.tolist()}")
        self._use(steps.long(), device)

    def _use(self, steps: Tensor, device: torch.device | str | None = None) -> None:
        self.timesteps = steps.to(device)  # (n,) descending LongTensor
        self.num_inference_steps = len(steps)
        self._steps = [int(t) for t in steps]  # python ints: lookups without device syncs
        self._index = {t: i for i, t in enumerate(self._steps)}

    def previous_timestep(self, timestep: int | Tensor) -> int:
        """The timestep visited after `timestep`, or -1 (the clean data) after the last."""
        t = self._as_int(timestep)
        if t not in self._index:
            raise ValueError(
                f"timestep {t} is not in sampler.timesteps ({self._steps[0]}, ..., {self._steps[-1]}); "
                "call set_timesteps and step through the values of sampler.timesteps"
            )
        i = self._index[t]
        return self._steps[i + 1] if i + 1 < len(self._steps) else -1

    def alphas_cumprod_pair(self, timestep: int | Tensor) -> tuple[float, float]:
        """(ᾱ_t, ᾱ_prev) as float64 python numbers; ᾱ_prev = 1 after the last timestep."""
        t, prev_t = self._as_int(timestep), self.previous_timestep(timestep)
        alphas_cumprod = self.schedule.alphas_cumprod
        return float(alphas_cumprod[t]), float(alphas_cumprod[prev_t]) if prev_t >= 0 else 1.0

    def predict_original_sample(self, model_output: Tensor, timestep: int | Tensor, sample: Tensor) -> Tensor:
        """x̂_0 at this step (Ho et al. eq. 15 for ε), clipped to ±clip_sample_range if clip_sample."""
        self._check_inputs(model_output, sample)
        alpha_bar_t, _ = self.alphas_cumprod_pair(timestep)
        if alpha_bar_t == 0 and self.prediction_type == "epsilon":
            raise ValueError(
                f"ᾱ_t = 0 at timestep {self._as_int(timestep)} (zero terminal SNR): x_t is pure noise and an "
                "epsilon prediction says nothing about x_0; use prediction_type='v_prediction' (Lin et al. 2023 §3.2)"
            )
        x0 = predict_original_sample(model_output, sample, alpha_bar_t, self.prediction_type)
        if self.clip_sample:
            x0 = x0.clamp(-self.clip_sample_range, self.clip_sample_range)
        return x0

    def _as_int(self, timestep: int | Tensor) -> int:
        t = torch.as_tensor(timestep)
        if t.numel() != 1 or t.dtype.is_floating_point:
            raise ValueError(
                f"step takes one integer timestep for the whole batch (an int or a 0-d LongTensor from "
                f"sampler.timesteps), got {t.dtype} of shape {tuple(t.shape)}"
            )
        return int(t)

    @staticmethod
    def _check_inputs(model_output: Tensor, sample: Tensor) -> None:
        if model_output.shape != sample.shape:
            raise ValueError(
                f"model_output {tuple(model_output.shape)} and sample {tuple(sample.shape)} must have the same "
                "shape (learned-variance outputs with 2C channels are not supported)"
            )
