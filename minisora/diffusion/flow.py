"""Flow matching with straight paths (rectified flow): the path, its loss, an Euler sampler (lesson 09).

Liu et al. 2022 ("Flow Straight and Fast", rectified flow), Lipman et al. 2022 ("Flow
Matching for Generative Modeling") and Esser et al. 2024 (Stable Diffusion 3, §2-3) join
data and noise by a straight line, with a continuous time t in [0, 1] (0 = data, 1 = noise):

    x_t = (1 - t) x_0 + t ε,   ε ~ N(0, I)                         (`flow_path`)
    dx_t/dt = ε - x_0 =: v                                         (`flow_target`)

A network v_θ(x_t, t) regresses v (conditional flow matching; its minimiser is
E[ε - x_0 | x_t], the velocity field that carries N(0, I) to the data). Sampling integrates
dx/dt = v_θ from t = 1 down to t = 0; `FlowMatchingSampler` does it with Euler steps:

    x_{t_next} = x_t + (t_next - t) v_θ(x_t, t),   t_next < t.

Training times t are drawn uniformly, or logit-normally (SD3 §3.1: t = sigmoid(m + s n),
n ~ N(0, 1), which favours the middle of the path). Sampling times may be shifted towards
noise, t -> shift t / (1 + (shift - 1) t) (SD3 §5.3.2), for large images and videos.

The sampler keeps diffusers' contract (set_timesteps, timesteps, step), but its timesteps
are the floats t in (0, 1] themselves; diffusers' FlowMatchEulerDiscreteScheduler hands the
network 1000 t instead.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from minisora.diffusion.losses import per_sample_squared_error
from minisora.diffusion.process import expand_like, randn_like

TIMESTEP_SAMPLINGS = ("uniform", "logit_normal")


def check_flow_timesteps(timesteps: Tensor | float, batch_size: int, device: torch.device | None = None) -> Tensor:
    """Validate flow times (a float, a 0-d tensor or shape (B,), all in [0, 1]) and return them as (B,)."""
    t = torch.as_tensor(timesteps, device=device)
    if not t.dtype.is_floating_point:
        raise ValueError(
            f"flow-matching timesteps are floats t in [0, 1], got dtype {t.dtype}; "
            "integer timesteps 0..T-1 belong to NoiseProcess"
        )
    if t.ndim == 0:
        t = t.expand(batch_size)
    if t.shape != (batch_size,):
        raise ValueError(f"timesteps must be a scalar or have shape (B,) = ({batch_size},), got {tuple(t.shape)}")
    if bool(((t < 0) | (t > 1)).any()):
        raise ValueError(f"flow-matching timesteps must lie in [0, 1], got values in [{t.min():.3g}, {t.max():.3g}]")
    return t


def flow_path(original_samples: Tensor, noise: Tensor, timesteps: Tensor | float) -> Tensor:
    """x_t = (1 - t) x_0 + t ε: the straight path from data (t = 0) to noise (t = 1)."""
    if original_samples.shape != noise.shape:
        raise ValueError(f"original_samples {tuple(original_samples.shape)} and noise {tuple(noise.shape)} differ")
    t = check_flow_timesteps(timesteps, original_samples.shape[0], original_samples.device)
    t = expand_like(t.to(original_samples.dtype), original_samples)  # (B, 1, ..., 1)
    return (1 - t) * original_samples + t * noise


def flow_target(original_samples: Tensor, noise: Tensor) -> Tensor:
    """The velocity of the straight path, v = dx_t/dt = ε - x_0."""
    return noise - original_samples


def sample_flow_timesteps(
    batch_size: int,
    timestep_sampling: str = "uniform",
    *,
    logit_mean: float = 0.0,
    logit_std: float = 1.0,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """Training times t in [0, 1]: uniform, or logit-normal t = sigmoid(m + s n) (SD3 §3.1). (B,)"""
    if timestep_sampling not in TIMESTEP_SAMPLINGS:
        raise ValueError(f"unknown timestep_sampling {timestep_sampling!r}; choose one of {list(TIMESTEP_SAMPLINGS)}")
    gen_device = generator.device if generator is not None else device
    if timestep_sampling == "uniform":
        t = torch.rand(batch_size, generator=generator, device=gen_device)
    else:
        if not logit_std > 0:
            raise ValueError(f"logit_std must be positive (SD3 uses 1.0), got {logit_std!r}")
        n = torch.randn(batch_size, generator=generator, device=gen_device)
        t = torch.sigmoid(logit_mean + logit_std * n)
    return t.to(device) if device is not None else t


def flow_matching_loss(
    model: Callable[..., Tensor],
    x0: Tensor,
    *,
    timestep_sampling: str = "uniform",
    logit_mean: float = 0.0,
    logit_std: float = 1.0,
    noise: Tensor | None = None,
    timesteps: Tensor | None = None,
    generator: torch.Generator | None = None,
    reduction: str = "mean",
    **cond,
) -> Tensor:
    """The conditional flow-matching loss ‖v_θ(x_t, t) - (ε - x_0)‖² on clean x0 (B, ...).

    `model(x_t, t, **cond)` gets float times t (B,) in [0, 1]. noise and timesteps are drawn
    (from `generator`) unless given; reduction="none" returns the per-sample losses (B,).
    """
    if reduction not in ("mean", "none"):
        raise ValueError(f"unknown reduction {reduction!r}; choose one of ['mean', 'none']")
    # 1. t (uniform or logit-normal) and ε ~ N(0, I), one t per sample.
    batch = x0.shape[0]
    if timesteps is None:
        timesteps = sample_flow_timesteps(batch, timestep_sampling, logit_mean=logit_mean, logit_std=logit_std,
                                          generator=generator, device=x0.device)
    timesteps = check_flow_timesteps(timesteps, batch, x0.device).to(x0.dtype)  # (B,)
    if noise is None:
        noise = randn_like(x0, generator)
    # 2. A point on the straight path and the path's velocity there.
    x_t = flow_path(x0, noise, timesteps)
    target = flow_target(x0, noise)
    # 3. The squared error, averaged over everything but the batch.
    per_sample = per_sample_squared_error(model(x_t, timesteps, **cond), target, "a velocity network")  # (B,)
    return per_sample.mean() if reduction == "mean" else per_sample


class FlowMatchingSampler:
    """Euler integration of dx/dt = v_θ(x, t) from t = 1 (noise) to t = 0 (data), diffusers' contract."""

    def __init__(self, *, shift: float = 1.0) -> None:
        if not shift > 0:
            raise ValueError(f"shift must be positive (1.0: no shift; SD3 uses 3.0 at 1024²), got {shift!r}")
        self.shift = shift
        self.timesteps: Tensor | None = None  # (n,) float, descending in (0, 1]; set by set_timesteps
        self.num_inference_steps: int | None = None

    def set_timesteps(
        self,
        num_inference_steps: int | None = None,
        *,
        timesteps: list[float] | Tensor | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        """n evenly spaced times 1, 1 - 1/n, ..., 1/n (then shifted), or an explicit descending list in (0, 1]."""
        if (num_inference_steps is None) == (timesteps is None):
            raise ValueError("pass exactly one of num_inference_steps or timesteps (an explicit descending list)")
        if timesteps is None:
            n = num_inference_steps
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise ValueError(f"num_inference_steps must be a positive int, got {n!r}")
            grid = torch.linspace(1, 0, n + 1, dtype=torch.float64)[:-1]  # (n,)
            grid = self.shift * grid / (1 + (self.shift - 1) * grid)  # SD3 §5.3.2; identity for shift = 1
        else:
            grid = torch.as_tensor(timesteps, dtype=torch.float64)
            if grid.ndim != 1 or len(grid) == 0:
                raise ValueError(f"timesteps must be a non-empty 1-D list of floats, got {timesteps!r}")
            if bool((grid[1:] >= grid[:-1]).any()) or float(grid[0]) > 1 or float(grid[-1]) <= 0:
                raise ValueError(f"timesteps must be strictly descending in (0, 1], got {grid.tolist()}")
        self.timesteps = grid.float().to(device)  # (n,) what the network sees
        self.num_inference_steps = len(grid)
        # Steps run between the float32 values the network sees, down to exactly 0.
        self._grid = [float(t) for t in grid.float()] + [0.0]

    def _index(self, timestep: float | Tensor) -> int:
        if self.timesteps is None:
            raise ValueError("call set_timesteps(num_inference_steps) before step")
        if isinstance(timestep, Tensor) and timestep.numel() != 1:
            raise ValueError(f"step takes one time t for the whole batch, got shape {tuple(timestep.shape)}")
        t = float(timestep)
        distances = [abs(t - s) for s in self._grid[:-1]]
        i = min(range(len(distances)), key=distances.__getitem__)
        if distances[i] > 1e-6:
            raise ValueError(
                f"timestep {t:.4g} is not in sampler.timesteps ({self._grid[0]:.4g}, ..., {self._grid[-2]:.4g}); "
                "call set_timesteps and step through the values of sampler.timesteps"
            )
        return i

    def previous_timestep(self, timestep: float | Tensor) -> float:
        """The time visited after `timestep`: the next in `timesteps`, or 0.0 (the data) after the last."""
        return self._grid[self._index(timestep) + 1]

    def predict_original_sample(self, model_output: Tensor, timestep: float | Tensor, sample: Tensor) -> Tensor:
        """x̂_0 = x_t - t v̂: follow the straight line to t = 0 in one go."""
        return sample - self._grid[self._index(timestep)] * model_output

    def step(
        self,
        model_output: Tensor,
        timestep: float | Tensor,
        sample: Tensor,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """One Euler step x_t -> x_{t_next} = x_t + (t_next - t) v̂ (generator unused: the ODE is deterministic)."""
        if model_output.shape != sample.shape:
            raise ValueError(f"model_output {tuple(model_output.shape)} and sample {tuple(sample.shape)} differ")
        i = self._index(timestep)
        return sample + (self._grid[i + 1] - self._grid[i]) * model_output
