"""Flow matching with straight paths (rectified flow): the path, its loss, an Euler sampler (lessons 01, 09).

Liu et al. 2022 ("Flow Straight and Fast", rectified flow), Lipman et al. 2022 ("Flow
Matching for Generative Modeling") and Esser et al. 2024 (Stable Diffusion 3, §2-3) join
data and noise by a straight line, with a continuous time t in [0, 1] (0 = data, 1 = noise):

    x_t = (1 - t) x_0 + t ε,   ε ~ N(0, I)                         (`flow_path`)
    dx_t/dt = ε - x_0 =: v                                         (`flow_target`)

A network v_θ(x_t, t) regresses v (conditional flow matching; its minimiser is
E[ε - x_0 | x_t], the velocity field that carries N(0, I) to the data). Sampling integrates
dx/dt = v_θ from t = 1 down to t = 0; `FlowMatchingSampler` does it with Euler steps:

    x_{t_next} = x_t + (t_next - t) v_θ(x_t, t),   t_next < t.

Stochastic sampling. Because x_t = (1 - t) x_0 + t ε, one Euler step is the same as predicting
both ends of the line and re-joining them at t_next (DDIM on the straight path):

    x̂_0 = x_t - t v̂,   ε̂ = x_t + (1 - t) v̂,   x_{t_next} = (1 - t_next) x̂_0 + t_next ε̂.

`FlowMatchingSampler(eta=η)` replaces a share c of ε̂ with fresh noise ξ ~ N(0, I),
ε̂ <- sqrt(1 - c²) ε̂ + c ξ, with DDIM's σ (Song et al. 2021, eq. 16) on this path: dividing
x_t by n_t = sqrt((1 - t)² + t²) gives a variance-preserving path with α = (1 - t) / n_t and
σ = t / n_t, where DDIM's step with η is

    c² = η² (1 - (α_t / α_next)²) / σ_t²

so η = 0 is the Euler ODE sampler and η = 1 is DDPM's ancestral step (the same η as
`DDIMSampler`'s), both sampling the data distribution as the steps get small. The ODE carries
its first, blurry guesses forward in ε̂; fresh noise lets later steps revise them (lesson 09
measures what that buys).

Training times t are drawn uniformly, or logit-normally (SD3 §3.1: t = sigmoid(m + s n),
n ~ N(0, 1), which favours the middle of the path). Sampling times may be shifted towards
noise, t -> shift t / (1 + (shift - 1) t) (SD3 §5.3.2), for large images and videos.

The time scale. The networks' sinusoidal time embeddings (`minisora.blocks.embeddings`) are
built for the integer timesteps 0..999 of a T = 1000 schedule; fed t in [0, 1] itself, t = 0
and t = 1 would get almost the same vector (cosine similarity 0.97 at 256 dimensions). So the
network is handed FLOW_TIME_SCALE · t = 1000 t, as SD3 and diffusers' FlowMatchEulerDiscreteScheduler
do: `flow_matching_loss` calls model(x_t, 1000 t) and `FlowMatchingSampler.timesteps` are 1000 t
(its `sigmas` are the path times t themselves). Both take a `time_scale` argument, which must
be the same in training and sampling (1.0 for a network that wants t in [0, 1]).

Per-frame times t (B, F) and loss masks work as for the noise process (`minisora.diffusion.frames`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from minisora.diffusion.frames import check_timestep_shape, expand_like
from minisora.diffusion.losses import check_reduction, masked_squared_error
from minisora.diffusion.process import randn_like
from minisora.diffusion.sampler import Sampler, check_num_inference_steps

TIMESTEP_SAMPLINGS = ("uniform", "logit_normal")
FLOW_TIME_SCALE = 1000.0  # the network sees 1000 t: the 0..1000 axis its time embedding is built for


def check_flow_timesteps(timesteps: Tensor | float, like: Tensor | tuple[int, ...] | int,
                         device: torch.device | None = None) -> Tensor:
    """Flow times in [0, 1] for the batch `like` (x, its shape, or B): a scalar -> (B,); (B,) or (B, F) kept."""
    t = torch.as_tensor(timesteps, device=device)
    if not t.dtype.is_floating_point:
        raise ValueError(
            f"flow-matching timesteps are floats t in [0, 1], got dtype {t.dtype}; "
            "integer timesteps 0..T-1 belong to NoiseProcess"
        )
    if t.numel() and bool(((t < 0) | (t > 1)).any()):
        raise ValueError(f"flow-matching timesteps must lie in [0, 1], got values in [{t.min():.3g}, {t.max():.3g}]")
    shape = (like,) if isinstance(like, int) else tuple(like.shape if isinstance(like, Tensor) else like)
    return check_timestep_shape(t, shape)


def flow_path(original_samples: Tensor, noise: Tensor, timesteps: Tensor | float) -> Tensor:
    """x_t = (1 - t) x_0 + t ε: the straight path from data (t = 0) to noise (t = 1); t (B,) or (B, F)."""
    if original_samples.shape != noise.shape:
        raise ValueError(f"original_samples {tuple(original_samples.shape)} and noise {tuple(noise.shape)} differ")
    t = check_flow_timesteps(timesteps, original_samples, original_samples.device)
    t = expand_like(t.to(original_samples.dtype), original_samples)  # (B, 1, ..., 1) or (B, F, 1, ..., 1)
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
    loss_mask: Tensor | None = None,
    element_weights: Tensor | None = None,
    time_scale: float = FLOW_TIME_SCALE,
    generator: torch.Generator | None = None,
    reduction: str = "mean",
    **cond,
) -> Tensor:
    """The conditional flow-matching loss ‖v_θ(x_t, time_scale · t) - (ε - x_0)‖² on clean x0 (B, ...).

    timesteps are the path times t in [0, 1]: (B,), or per frame (B, F) for a video x0 (B, F, ...);
    the model receives time_scale · t (1000 t, see the module docstring). noise and timesteps
    are drawn (from `generator`, one t per sample) unless given. loss_mask (B,) or (B, F), 1
    where a sample or frame counts, normalised as in `training_loss`; reduction="none" returns
    the per-sample losses (B,). element_weights (broadcastable to x0) weight the elements inside
    each sample, as in `training_loss`.
    """
    check_reduction(reduction)
    _check_time_scale(time_scale)
    # 1. t (uniform or logit-normal, one per sample unless given per frame) and ε ~ N(0, I).
    if timesteps is None:
        timesteps = sample_flow_timesteps(x0.shape[0], timestep_sampling, logit_mean=logit_mean,
                                          logit_std=logit_std, generator=generator, device=x0.device)
    timesteps = check_flow_timesteps(timesteps, x0, x0.device).to(x0.dtype)  # (B,) or (B, F)
    if noise is None:
        noise = randn_like(x0, generator)
    # 2. A point on the straight path and the path's velocity there.
    x_t = flow_path(x0, noise, timesteps)
    target = flow_target(x0, noise)
    # 3. The squared error, averaged over everything but the batch, over what the mask counts.
    return masked_squared_error(model(x_t, time_scale * timesteps, **cond), target, "a velocity network",
                                element_weights=element_weights, loss_mask=loss_mask, reduction=reduction)


class FlowMatchingSampler(Sampler):
    """Euler integration of dx/dt = v_θ(x, t) from t = 1 (noise) to t = 0 (data), diffusers' contract.

    `sigmas` (n + 1,) are the path times t, descending to exactly 0; `timesteps` (n,) are what
    the network is given and what `step` takes: time_scale · t, in float32 as diffusers stores them.
    `eta` in [0, 1]: DDIM's η on the straight path, 0 the deterministic Euler steps, 1 DDPM's
    ancestral noise (see the module docstring).
    """

    integer_timesteps = False
    final_timestep = 0.0

    def __init__(self, *, shift: float = 1.0, time_scale: float = FLOW_TIME_SCALE, eta: float = 0.0) -> None:
        if not shift > 0:
            raise ValueError(f"shift must be positive (1.0: no shift; SD3 uses 3.0 at 1024²), got {shift!r}")
        _check_time_scale(time_scale)
        check_eta(eta)
        super().__init__()
        self.shift = shift
        self.eta = float(eta)
        self.time_scale = float(time_scale)
        self.sigmas: Tensor | None = None  # (n + 1,) float: the path times, then 0

    def _spaced(self, num_inference_steps: int) -> Tensor:
        """n evenly spaced path times 1, 1 - 1/n, ..., 1/n, shifted (SD3 §5.3.2), times time_scale."""
        n = check_num_inference_steps(num_inference_steps)
        grid = torch.linspace(1, 0, n + 1, dtype=torch.float64)[:-1]  # (n,)
        grid = self.shift * grid / (1 + (self.shift - 1) * grid)  # identity for shift = 1
        return grid * self.time_scale

    def _check_range(self, steps: Tensor) -> None:
        if float(steps[0]) > self.time_scale or float(steps[-1]) <= 0:
            raise ValueError(
                f"timesteps must lie in (0, {self.time_scale:g}], i.e. time_scale · t for path times t in (0, 1]; "
                f"got {steps.tolist()}"
            )

    def _use(self, steps: Tensor, device: torch.device | str | None = None) -> None:
        # The path times in float32 (as diffusers keeps its sigmas); the network sees time_scale times them.
        sigmas = (steps.double() / self.time_scale).float()  # (n,)
        super()._use(sigmas * self.time_scale, device)
        self.sigmas = torch.cat([sigmas, sigmas.new_zeros(1)]).to(device)  # (n + 1,)
        self._sigmas = [float(s) for s in sigmas] + [0.0]  # steps run between these, down to exactly 0

    def predict_original_sample(self, model_output: Tensor, timestep: float | Tensor, sample: Tensor) -> Tensor:
        """x̂_0 = x_t - t v̂: follow the straight line to t = 0 in one go."""
        return sample - self._sigmas[self.step_index(timestep)] * model_output

    def step(self, model_output: Tensor, timestep: float | Tensor, sample: Tensor,
             generator: torch.Generator | None = None) -> Tensor:
        """One step x_t -> x_{t_next}: Euler, x_t + (t_next - t) v̂, or with η > 0 the re-joined line
        (1 - t_next) x̂_0 + t_next (sqrt(1 - c²) ε̂ + c ξ), c from DDIM's σ (module docstring), ξ from `generator`."""
        self._check_inputs(model_output, sample)
        i = self.step_index(timestep)
        t, t_next = self._sigmas[i], self._sigmas[i + 1]
        if self.eta == 0:
            return sample + (t_next - t) * model_output
        x0 = sample - t * model_output  # the line's data end
        eps = sample + (1 - t) * model_output  # its noise end
        c = self.eta * _fresh_noise_share(t, t_next)
        # Noise is drawn on every step, the last too (where t_next = 0 ignores it), so one generator's
        # draws do not depend on which step is last.
        eps = (1 - c**2) ** 0.5 * eps + c * randn_like(sample, generator)
        return (1 - t_next) * x0 + t_next * eps


def _fresh_noise_share(t: float, t_next: float) -> float:
    """c at η = 1 for a step t -> t_next < t: DDPM's posterior noise on the straight path, as a share of ε."""
    norm, norm_next = ((1 - t) ** 2 + t**2) ** 0.5, ((1 - t_next) ** 2 + t_next**2) ** 0.5
    alpha, alpha_next, sigma = (1 - t) / norm, (1 - t_next) / norm_next, t / norm  # the variance-preserving path
    share = (1 - (alpha / alpha_next) ** 2) / sigma**2
    return min(max(share, 0.0), 1.0) ** 0.5  # in [0, 1] exactly; the clamp only absorbs rounding


def check_eta(eta: float) -> None:
    """A ValueError unless eta is a number in [0, 1] (DDIM's η: 0 deterministic, 1 DDPM's noise)."""
    if isinstance(eta, bool) or not isinstance(eta, (int, float)) or not 0 <= eta <= 1:
        raise ValueError(f"eta must be a number in [0, 1] (0: the deterministic Euler sampler, 1: DDPM's ancestral "
                         f"noise), got {eta!r}")


def _check_time_scale(time_scale: float) -> None:
    if isinstance(time_scale, bool) or not isinstance(time_scale, (int, float)) or not time_scale > 0:
        raise ValueError(
            f"time_scale must be a positive number (FLOW_TIME_SCALE = {FLOW_TIME_SCALE:g}: the network sees 1000 t; "
            f"1.0: t itself), got {time_scale!r}"
        )
