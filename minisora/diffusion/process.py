"""The Gaussian noise process: q(x_t | x_0), what a network predicts, and the posterior (lesson 01).

Ho et al. 2020 ("Denoising Diffusion Probabilistic Models"), with ᾱ_t from a `NoiseSchedule`:

    x_t = √ᾱ_t x_0 + √(1 - ᾱ_t) ε,  ε ~ N(0, I)                          (eq. 4, `add_noise`)

A network may predict any of three quantities; given x_t and ᾱ_t each one determines the
other two (`predict_original_sample`, `predict_epsilon`, `convert_prediction`):

    "epsilon"       ε                                   (Ho et al.)
    "sample"        x_0
    "v_prediction"  v = √ᾱ_t ε - √(1 - ᾱ_t) x_0          (Salimans & Ho 2022, §4, `get_velocity`)

The posterior of one step back, between any two timesteps s < t (s = t - 1 in the paper):

    q(x_s | x_t, x_0) = N(μ̃, β̃ I),  with α_{t|s} = ᾱ_t/ᾱ_s and β_{t|s} = 1 - α_{t|s},
    μ̃ = √ᾱ_s β_{t|s}/(1 - ᾱ_t) x_0 + √α_{t|s} (1 - ᾱ_s)/(1 - ᾱ_t) x_t       (eq. 7)
    β̃ = (1 - ᾱ_s)/(1 - ᾱ_t) β_{t|s}                                         (eq. 7)

`posterior_coefficients` is the one place these three numbers are written; the process, DDPM's
and DDIM's samplers all take them from it.

Nothing here assumes a tensor rank: per-sample scalars (B,) are broadcast to (B, 1, ..., 1)
by `expand_like`, so images (B, C, H, W), videos (B, F, C, H, W) and points (B, 2) all work.
A video may also have one timestep per frame, t of shape (B, F), broadcast as (B, F, 1, 1, 1):
see `minisora.diffusion.frames`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from minisora.diffusion.frames import check_timestep_shape, expand_like
from minisora.diffusion.schedules import NoiseSchedule, make_schedule

PREDICTION_TYPES = ("epsilon", "sample", "v_prediction")


def extract(values: Tensor, timesteps: Tensor, like: Tensor) -> Tensor:
    """values[t] for each sample (or frame), cast to like's dtype and device, shaped (B, [F,] 1, ..., 1)."""
    # Cast on the CPU first: float64 schedules cannot be moved to devices without float64 (MPS).
    values = values.to(dtype=like.dtype).to(like.device)
    return expand_like(values[timesteps.to(like.device)], like)


def randn(shape: tuple[int, ...], generator: torch.Generator | None = None,
          device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> Tensor:
    """Standard normal noise of `shape` on `device`, drawn from `generator` wherever it lives.

    A CPU generator draws on the CPU and the noise is moved (as diffusers' randn_tensor does),
    so a seed gives the same numbers on every device.
    """
    draw_device = generator.device if generator is not None else device
    return torch.randn(shape, generator=generator, device=draw_device, dtype=dtype).to(device)


def randn_like(sample: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Standard normal noise shaped like `sample` (same dtype and device), drawn from `generator`."""
    return randn(tuple(sample.shape), generator, sample.device, sample.dtype)


def check_prediction_type(prediction_type: str) -> None:
    """Raise a ValueError unless prediction_type is one of PREDICTION_TYPES."""
    if prediction_type not in PREDICTION_TYPES:
        raise ValueError(f"unknown prediction_type {prediction_type!r}; choose one of {list(PREDICTION_TYPES)}")


def predict_original_sample(model_output: Tensor, sample: Tensor, alpha_bar: Tensor | float,
                            prediction_type: str = "epsilon") -> Tensor:
    """x̂_0 from a network's output at x_t = `sample` (alpha_bar: ᾱ_t, a float or broadcastable)."""
    check_prediction_type(prediction_type)
    if prediction_type == "epsilon":  # invert eq. 4: x_0 = (x_t - √(1-ᾱ) ε) / √ᾱ  (Ho et al. eq. 15)
        return (sample - (1 - alpha_bar) ** 0.5 * model_output) / alpha_bar**0.5
    if prediction_type == "sample":
        return model_output
    return alpha_bar**0.5 * sample - (1 - alpha_bar) ** 0.5 * model_output  # x_0 = √ᾱ x_t - √(1-ᾱ) v


def predict_epsilon(model_output: Tensor, sample: Tensor, alpha_bar: Tensor | float,
                    prediction_type: str = "epsilon") -> Tensor:
    """ε̂ from a network's output at x_t = `sample` (alpha_bar: ᾱ_t, a float or broadcastable)."""
    check_prediction_type(prediction_type)
    if prediction_type == "epsilon":
        return model_output
    if prediction_type == "sample":  # ε = (x_t - √ᾱ x_0) / √(1-ᾱ)
        return (sample - alpha_bar**0.5 * model_output) / (1 - alpha_bar) ** 0.5
    return alpha_bar**0.5 * model_output + (1 - alpha_bar) ** 0.5 * sample  # ε = √ᾱ v + √(1-ᾱ) x_t


def prediction_target(original_samples: Tensor, noise: Tensor, alpha_bar: Tensor | float,
                      prediction_type: str = "epsilon") -> Tensor:
    """What a network of the given prediction_type should output for x_0 and ε at noise level ᾱ_t."""
    check_prediction_type(prediction_type)
    if prediction_type == "epsilon":
        return noise
    if prediction_type == "sample":
        return original_samples
    return alpha_bar**0.5 * noise - (1 - alpha_bar) ** 0.5 * original_samples  # v (Salimans & Ho §4)


def convert_prediction(model_output: Tensor, sample: Tensor, alpha_bar: Tensor | float,
                       from_type: str, to_type: str) -> Tensor:
    """Turn an ε, x_0 or v prediction at x_t = `sample` into another of the three."""
    x0 = predict_original_sample(model_output, sample, alpha_bar, from_type)
    eps = predict_epsilon(model_output, sample, alpha_bar, from_type)
    return prediction_target(x0, eps, alpha_bar, to_type)


def posterior_coefficients(alpha_bar_t: Tensor | float, alpha_bar_s: Tensor | float) -> tuple:
    """(c_0, c_t, β̃) of q(x_s | x_t, x_0) = N(c_0 x_0 + c_t x_t, β̃ I) (eq. 7), for floats or tensors of ᾱ_t, ᾱ_s.

    ᾱ_s = 1 (s = -1, "after the last step") gives (1, 0, 0): the clean x_0 itself.
    """
    bad = (alpha_bar_t < 0) | (alpha_bar_t >= alpha_bar_s) | (alpha_bar_s > 1)
    if bool(bad.any() if isinstance(bad, Tensor) else bad):
        raise ValueError(
            "need 0 <= alpha_bar_t < alpha_bar_s <= 1 (s is an earlier, less noisy step than t; "
            f"ᾱ_s = 1 is the clean data), got alpha_bar_t={alpha_bar_t}, alpha_bar_s={alpha_bar_s}"
        )
    alpha_ts = alpha_bar_t / alpha_bar_s  # α_{t|s}, = α_t when s = t - 1
    coef_x0 = alpha_bar_s**0.5 * (1 - alpha_ts) / (1 - alpha_bar_t)
    coef_xt = alpha_ts**0.5 * (1 - alpha_bar_s) / (1 - alpha_bar_t)
    variance = (1 - alpha_bar_s) / (1 - alpha_bar_t) * (1 - alpha_ts)  # β̃ = (1 - ᾱ_s)/(1 - ᾱ_t) β_{t|s}
    return coef_x0, coef_xt, variance


class NoiseProcess:
    """The forward process q(x_t | x_0) of a schedule: add_noise, targets, the posterior q(x_s | x_t, x_0)."""

    def __init__(self, schedule: NoiseSchedule | None = None) -> None:
        self.schedule = schedule if schedule is not None else make_schedule("linear", 1000)

    @property
    def num_train_timesteps(self) -> int:
        """T: valid timesteps are the integers 0..T-1."""
        return self.schedule.num_timesteps

    def check_timesteps(self, timesteps: Tensor | int, like: Tensor | tuple[int, ...] | int) -> Tensor:
        """Integer timesteps for the batch `like` (x, its shape, or just B), as long: (B,), or (B, F) for a video.

        A scalar is repeated to (B,); (B, F), one per frame, needs x of shape (B, F, ...).
        """
        shape = (like,) if isinstance(like, int) else tuple(like.shape if isinstance(like, Tensor) else like)
        t = self._check_integers(torch.as_tensor(timesteps), "timesteps")
        return check_timestep_shape(t, shape).long()

    def sample_timesteps(self, batch_size: int, generator: torch.Generator | None = None,
                         device: torch.device | str | None = None) -> Tensor:
        """t ~ Uniform{0, ..., T-1}, one per sample (Algorithm 1, line 3). (B,) long"""
        gen_device = generator.device if generator is not None else device
        t = torch.randint(0, self.num_train_timesteps, (batch_size,), generator=generator, device=gen_device)
        return t.to(device) if device is not None else t

    def alpha_bar(self, timesteps: Tensor | int, like: Tensor) -> Tensor:
        """ᾱ_t per sample, (B, 1, ..., 1), or per frame, (B, F, 1, ..., 1), in like's dtype and device."""
        return extract(self.schedule.alphas_cumprod, self.check_timesteps(timesteps, like), like)

    def add_noise(self, original_samples: Tensor, noise: Tensor, timesteps: Tensor | int) -> Tensor:
        """x_t = √ᾱ_t x_0 + √(1 - ᾱ_t) ε (Ho et al. eq. 4); diffusers' name and argument order. t: (B,) or (B, F)."""
        _check_same_shape(original_samples, noise, "original_samples", "noise")
        a = self.alpha_bar(timesteps, original_samples)  # (B, 1, ..., 1) or (B, F, 1, ..., 1)
        return a**0.5 * original_samples + (1 - a) ** 0.5 * noise

    def get_velocity(self, sample: Tensor, noise: Tensor, timesteps: Tensor | int) -> Tensor:
        """v = √ᾱ_t ε - √(1 - ᾱ_t) x_0 for clean `sample` x_0 (Salimans & Ho 2022); diffusers' name."""
        _check_same_shape(sample, noise, "sample", "noise")
        return prediction_target(sample, noise, self.alpha_bar(timesteps, sample), "v_prediction")

    def target(self, original_samples: Tensor, noise: Tensor, timesteps: Tensor | int,
               prediction_type: str = "epsilon") -> Tensor:
        """The regression target of a network that predicts `prediction_type` (ε, x_0 or v)."""
        check_prediction_type(prediction_type)
        _check_same_shape(original_samples, noise, "original_samples", "noise")
        return prediction_target(original_samples, noise, self.alpha_bar(timesteps, original_samples),
                                 prediction_type)

    def posterior_mean_coefficients(self, timesteps: Tensor | int,
                                    prev_timesteps: Tensor | int | None = None) -> tuple[Tensor, Tensor]:
        """(c_0, c_t) with μ̃ = c_0 x_0 + c_t x_t (eq. 7), float64 shaped like t ((1,) for a scalar); prev: t - 1."""
        coef_x0, coef_xt, _ = posterior_coefficients(*self._alpha_bars(timesteps, prev_timesteps))
        return coef_x0, coef_xt

    def posterior_variance(self, timesteps: Tensor | int, prev_timesteps: Tensor | int | None = None) -> Tensor:
        """β̃ = (1 - ᾱ_s)/(1 - ᾱ_t) · β_{t|s} (eq. 7; β̃_t with β_t when s = t - 1), float64 shaped like t."""
        return posterior_coefficients(*self._alpha_bars(timesteps, prev_timesteps))[2]

    def posterior_mean_variance(self, original_samples: Tensor, sample: Tensor, timesteps: Tensor | int,
                                prev_timesteps: Tensor | int | None = None) -> tuple[Tensor, Tensor]:
        """Mean (shaped like x_t) and variance ((B, [F,] 1, ..., 1)) of
        q(x_s | x_t = sample, x_0 = original_samples)."""
        _check_same_shape(original_samples, sample, "original_samples", "sample")
        t = self.check_timesteps(timesteps, sample).cpu()  # (B,) or (B, F)
        # float64 on the CPU -> the sample's dtype, then its device (see `extract`), shaped to broadcast.
        coef_x0, coef_xt, variance = (
            expand_like(c.to(dtype=sample.dtype).to(sample.device), sample)
            for c in posterior_coefficients(*self._alpha_bars(t, prev_timesteps))
        )
        return coef_x0 * original_samples + coef_xt * sample, variance

    def _check_integers(self, t: Tensor, name: str) -> Tensor:
        """Integer timesteps in [0, T-1], any shape, or a ValueError naming `name`."""
        if t.dtype.is_floating_point or t.dtype == torch.bool or t.is_complex():
            raise ValueError(
                f"{name} must be integers in [0, {self.num_train_timesteps - 1}], got dtype {t.dtype}; "
                "use torch.randint or .long() (float times in [0, 1] belong to flow matching)"
            )
        if t.numel() and (int(t.min()) < 0 or int(t.max()) >= self.num_train_timesteps):
            raise ValueError(
                f"{name} must lie in [0, {self.num_train_timesteps - 1}] for a schedule of "
                f"T={self.num_train_timesteps} steps; got values in [{int(t.min())}, {int(t.max())}]"
            )
        return t

    def _alpha_bars(self, timesteps: Tensor | int, prev_timesteps: Tensor | int | None) -> tuple[Tensor, Tensor]:
        """ᾱ_t and ᾱ_s (1 where s = -1) in float64, shaped like t ((1,) for a scalar t)."""
        t = self._check_integers(torch.as_tensor(timesteps).cpu(), "timesteps")
        t = t.reshape(1) if t.ndim == 0 else t  # (B,) or (B, F)
        s = t - 1 if prev_timesteps is None else torch.as_tensor(prev_timesteps).cpu()
        if s.numel() == 1:
            s = s.reshape(()).expand(t.shape)  # one s for every t
        if s.dtype.is_floating_point or s.shape != t.shape:
            raise ValueError(
                f"prev_timesteps must be integers shaped like timesteps {tuple(t.shape)}, "
                f"got {s.dtype} {tuple(s.shape)}"
            )
        if bool(((s < -1) | (s >= t)).any()):
            raise ValueError("prev_timesteps must satisfy -1 <= s < t (s = -1 means the clean data x_0)")
        alphas_cumprod = self.schedule.alphas_cumprod
        alpha_bar_s = torch.where(s >= 0, alphas_cumprod[s.clamp(min=0)], torch.ones((), dtype=torch.float64))
        return alphas_cumprod[t], alpha_bar_s


def _check_same_shape(a: Tensor, b: Tensor, name_a: str, name_b: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{name_a} and {name_b} must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
