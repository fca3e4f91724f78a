"""The sampler contract that DDPM, DDIM and flow matching share: diffusers' names (lessons 01-02).

    sampler.set_timesteps(num_inference_steps)        # or set_timesteps(timesteps=[...]), descending
    for t in sampler.timesteps:                         # what the network is given, from noise to data
        x = sampler.step(model(x, t), t, x, generator)  # x_t -> the next visited level; returns a tensor

`Sampler` holds what every sampler does the same way: the choice between n spaced timesteps
and an explicit list (1-D, non-empty, strictly descending, in range), the place of a timestep
in that sequence, and the timestep visited after it. A subclass says how n timesteps are
spaced (`_spaced`), which values are valid (`_check_range`) and what one `step` does:

    DiscreteSampler -> DDPMSampler, DDIMSampler    integer timesteps 0..T-1; after the last: -1, the data
    FlowMatchingSampler                            float timesteps, time_scale · t; after the last: 0, the data

Because the names and the loop are diffusers', `minisora.diffusion.sample` runs a diffusers
scheduler unchanged as well (it takes `.prev_sample` from the output object diffusers returns).
"""

from __future__ import annotations

import torch
from torch import Tensor


def check_num_inference_steps(num_inference_steps: int, high: int | None = None) -> int:
    """A positive int (at most `high`, the number of training timesteps, when given), or a ValueError."""
    n = num_inference_steps
    if isinstance(n, bool) or not isinstance(n, int) or n < 1 or (high is not None and n > high):
        what = f"an int in [1, {high}] (the schedule has T={high} training timesteps)" if high else "a positive int"
        raise ValueError(f"num_inference_steps must be {what}, got {n!r}")
    return n


class Sampler:
    """The contract of every minisora sampler: set_timesteps (n or a list), .timesteps, step, previous_timestep."""

    integer_timesteps: bool = True  # integer timesteps (DDPM, DDIM) or float times (flow matching)
    final_timestep: float = -1  # what comes after the last timestep: the clean data

    def __init__(self) -> None:
        self.timesteps: Tensor | None = None  # (n,) descending; set by set_timesteps
        self.num_inference_steps: int | None = None

    def _spaced(self, num_inference_steps: int) -> Tensor:
        """n timesteps to visit, descending (subclass)."""
        raise NotImplementedError

    def _check_range(self, steps: Tensor) -> None:
        """Raise a ValueError unless an explicit descending list of timesteps lies in the valid range (subclass)."""
        raise NotImplementedError

    def step(self, model_output: Tensor, timestep: float | Tensor, sample: Tensor,
             generator: torch.Generator | None = None) -> Tensor:
        """One step from `timestep` to the next visited one, for a network output at x_t = `sample` (subclass)."""
        raise NotImplementedError

    def set_timesteps(
        self,
        num_inference_steps: int | None = None,
        *,
        timesteps: list[int] | list[float] | Tensor | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        """Choose the timesteps to visit: n of them, spaced by the sampler's rule, or an explicit descending list."""
        if (num_inference_steps is None) == (timesteps is None):
            raise ValueError("pass exactly one of num_inference_steps or timesteps (an explicit descending list)")
        if timesteps is None:
            steps = self._spaced(num_inference_steps)
        else:
            steps = torch.as_tensor(timesteps)
            kind = "int" if self.integer_timesteps else "number"
            wrong_dtype = self.integer_timesteps and (steps.dtype.is_floating_point or steps.dtype == torch.bool)
            if wrong_dtype or steps.ndim != 1 or len(steps) == 0:
                raise ValueError(f"timesteps must be a non-empty 1-D list of {kind}s, got {timesteps!r}")
            if bool((steps[1:] >= steps[:-1]).any()):
                raise ValueError(f"timesteps must be strictly descending (noise to data), got {steps.tolist()}")
            self._check_range(steps)
        self._use(steps, device)

    def _use(self, steps: Tensor, device: torch.device | str | None = None) -> None:
        self.timesteps = steps.to(device)  # (n,) descending
        self.num_inference_steps = len(steps)
        self._values = [t.item() for t in steps]  # python numbers: lookups without device syncs
        self._index = {t: i for i, t in enumerate(self._values)}

    def step_index(self, timestep: float | Tensor) -> int:
        """The position of `timestep` in sampler.timesteps, or a ValueError if it is not one of them."""
        if self.timesteps is None:
            raise ValueError("call set_timesteps(num_inference_steps) before step")
        t = torch.as_tensor(timestep)
        if t.numel() != 1 or (self.integer_timesteps and t.dtype.is_floating_point):
            kind = "integer" if self.integer_timesteps else "float"
            raise ValueError(
                f"step takes one {kind} timestep for the whole batch (a value of sampler.timesteps), "
                f"got {t.dtype} of shape {tuple(t.shape)}"
            )
        value = int(t) if self.integer_timesteps else float(t)
        i = self._index.get(value)
        if i is None and not self.integer_timesteps:  # a float that went through another dtype on the way
            i = next((j for j, s in enumerate(self._values) if abs(value - s) <= 1e-6 * max(1.0, abs(s))), None)
        if i is None:
            raise ValueError(
                f"timestep {value:.6g} is not in sampler.timesteps ({self._values[0]:.6g}, ..., "
                f"{self._values[-1]:.6g}); call set_timesteps and step through the values of sampler.timesteps"
            )
        return i

    def previous_timestep(self, timestep: float | Tensor) -> int | float:
        """The timestep visited after `timestep`: the next in `timesteps`, or `final_timestep` after the last."""
        i = self.step_index(timestep)
        return self._values[i + 1] if i + 1 < len(self._values) else self.final_timestep

    @staticmethod
    def _check_inputs(model_output: Tensor, sample: Tensor) -> None:
        if model_output.shape != sample.shape:
            raise ValueError(
                f"model_output {tuple(model_output.shape)} and sample {tuple(sample.shape)} must have the same "
                "shape (learned-variance outputs with 2C channels are not supported)"
            )
