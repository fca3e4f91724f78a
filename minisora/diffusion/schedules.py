"""Noise schedules: how much noise the forward process adds at each of T steps (lesson 01).

The forward process of Ho et al. 2020 ("Denoising Diffusion Probabilistic Models", eq. 2)
adds Gaussian noise with variance β_t at step t = 0..T-1 (0-based, as in code):

    q(x_t | x_{t-1}) = N(√(1 - β_t) x_{t-1}, β_t I),   α_t = 1 - β_t,   ᾱ_t = ∏_{s<=t} α_s,

so q(x_t | x_0) = N(√ᾱ_t x_0, (1 - ᾱ_t) I) (eq. 4) and the signal-to-noise ratio is
SNR(t) = ᾱ_t / (1 - ᾱ_t) (Kingma et al. 2021). A schedule is just the vector β.

- "linear": β rises linearly from 1e-4 to 0.02 over T = 1000 steps (Ho et al. §4). For other
  T both ends are scaled by 1000/T (Nichol & Dhariwal 2021, "Improved DDPM", §3.2 footnote),
  so the total noise Σβ, hence ᾱ_T, stays about the same whatever T.
- "scaled_linear": √β linear from √0.00085 to √0.012 (latent diffusion / Stable Diffusion),
  scaled by 1000/T in the same way.
- "cosine": ᾱ(t) = f(t)/f(0) with f(t) = cos²((t/T + s)/(1 + s) · π/2), s = 0.008, and
  β_t = min(1 - ᾱ_{t+1}/ᾱ_t, 0.999) (Nichol & Dhariwal 2021, eq. 17).
- zero terminal SNR (Lin et al. 2023, "Common Diffusion Noise Schedules and Sample Steps are
  Flawed", Algorithm 1): shift and scale √ᾱ so the last is exactly 0 (pure noise, SNR = 0)
  and the first is unchanged. Any schedule can be rescaled: make_schedule(..., zero_terminal_snr=True).

Schedules are computed and stored in float64 on the CPU; whoever uses them casts a gathered
value to the dtype and device of the data (see `minisora.diffusion.process.extract`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import Tensor

COSINE_OFFSET = 0.008  # s in Nichol & Dhariwal eq. 17: keeps β_0 from being vanishingly small
COSINE_MAX_BETA = 0.999  # their clip, so the last steps do not divide by ᾱ ≈ 0


def linear_betas(num_timesteps: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> Tensor:
    """Ho et al. 2020's linear β for T = 1000, both ends scaled by 1000/T for other T."""
    start, end = _scaled_ends("linear", num_timesteps, beta_start, beta_end)
    return torch.linspace(start, end, num_timesteps, dtype=torch.float64)  # (T,)


def scaled_linear_betas(num_timesteps: int, beta_start: float = 0.00085, beta_end: float = 0.012) -> Tensor:
    """Latent diffusion's schedule: √β linear between √beta_start and √beta_end (scaled by 1000/T)."""
    start, end = _scaled_ends("scaled_linear", num_timesteps, beta_start, beta_end)
    return torch.linspace(start**0.5, end**0.5, num_timesteps, dtype=torch.float64) ** 2  # (T,)


def _scaled_ends(name: str, num_timesteps: int, beta_start: float, beta_end: float) -> tuple[float, float]:
    """β_start and β_end of a T = 1000 recipe scaled by 1000/T (Nichol & Dhariwal), checked to stay below 1."""
    _check_num_timesteps(num_timesteps)
    scale = 1000 / num_timesteps
    start, end = scale * beta_start, scale * beta_end
    if end >= 1:
        raise ValueError(
            f"the {name} schedule with num_timesteps={num_timesteps} would need β_T = {end:.3g} >= 1 "
            f"(β_end is scaled by 1000/T); use num_timesteps >= {math.floor(1000 * beta_end) + 1} "
            "or the 'cosine' schedule"
        )
    return start, end


def cosine_betas(num_timesteps: int, s: float = COSINE_OFFSET, max_beta: float = COSINE_MAX_BETA) -> Tensor:
    """Nichol & Dhariwal 2021's cosine schedule (eq. 17): ᾱ follows a squared cosine."""
    _check_num_timesteps(num_timesteps)
    # 1. f(u) = cos²((u + s)/(1 + s) · π/2) on the grid u = 0, 1/T, ..., 1.
    u = torch.arange(num_timesteps + 1, dtype=torch.float64) / num_timesteps  # (T+1,)
    f = torch.cos((u + s) / (1 + s) * math.pi / 2) ** 2
    # 2. ᾱ(u) = f(u)/f(0); β_t = 1 - ᾱ_{t+1}/ᾱ_t (the f(0) cancels), clipped at max_beta.
    betas = 1 - f[1:] / f[:-1]  # (T,)
    return betas.clamp(max=max_beta)


def rescale_zero_terminal_snr(betas: Tensor) -> Tensor:
    """Lin et al. 2023, Algorithm 1: rescale √ᾱ so ᾱ_T = 0 exactly and ᾱ_0 is unchanged."""
    # 1. β -> √ᾱ.
    alphas_bar_sqrt = torch.cumprod(1 - betas.double(), dim=0).sqrt()  # (T,)
    first, last = alphas_bar_sqrt[0].clone(), alphas_bar_sqrt[-1].clone()
    # 2. Shift so the last is 0, then scale so the first is back to its old value.
    alphas_bar_sqrt = (alphas_bar_sqrt - last) * first / (first - last)
    # 3. √ᾱ -> β: ᾱ_t/ᾱ_{t-1} = α_t, and α_0 = ᾱ_0.
    alphas_bar = alphas_bar_sqrt**2
    alphas = torch.cat([alphas_bar[:1], alphas_bar[1:] / alphas_bar[:-1]])
    return 1 - alphas  # (T,), the last β is exactly 1


SCHEDULES = {
    "linear": linear_betas,
    "scaled_linear": scaled_linear_betas,
    "cosine": cosine_betas,
}


@dataclass
class NoiseSchedule:
    """The β_t of a forward process and what follows from them: α_t, ᾱ_t and SNR(t), all (T,)."""

    betas: Tensor = field(repr=False)  # (T,) float64
    name: str = "custom"
    alphas: Tensor = field(init=False, repr=False)  # (T,) α_t = 1 - β_t
    alphas_cumprod: Tensor = field(init=False, repr=False)  # (T,) ᾱ_t = ∏_{s<=t} α_s

    def __post_init__(self) -> None:
        betas = torch.as_tensor(self.betas, dtype=torch.float64).cpu()
        if betas.ndim != 1 or len(betas) < 1:
            raise ValueError(f"betas must be a non-empty 1-D tensor of shape (T,), got shape {tuple(betas.shape)}")
        if not bool(((betas > 0) & (betas <= 1)).all()):
            raise ValueError(
                f"every β_t must be in (0, 1], got min {betas.min().item():.3g} and max {betas.max().item():.3g}; "
                "build betas with linear_betas/cosine_betas or make_schedule"
            )
        if bool((betas[:-1] == 1).any()):
            raise ValueError("only the last β may be 1 (zero terminal SNR); an earlier β_t = 1 erases the data")
        self.betas = betas
        self.alphas = 1 - betas
        self.alphas_cumprod = torch.cumprod(self.alphas, dim=0)

    def __repr__(self) -> str:
        return f"NoiseSchedule(name={self.name!r}, num_timesteps={self.num_timesteps})"

    @property
    def num_timesteps(self) -> int:
        """T, the number of training timesteps; valid t are 0..T-1."""
        return len(self.betas)

    @property
    def alphas_cumprod_prev(self) -> Tensor:
        """ᾱ_{t-1} for t = 0..T-1, with ᾱ_{-1} = 1 (no noise before the first step). (T,)"""
        return torch.cat([torch.ones(1, dtype=torch.float64), self.alphas_cumprod[:-1]])

    @property
    def snr(self) -> Tensor:
        """SNR(t) = ᾱ_t / (1 - ᾱ_t) (Kingma et al. 2021, eq. 1); 0 at a zero-terminal-SNR last step. (T,)"""
        return self.alphas_cumprod / (1 - self.alphas_cumprod)

    @property
    def log_snr(self) -> Tensor:
        """log SNR(t), the natural axis to plot schedules against (-inf where SNR = 0). (T,)"""
        return self.snr.log()


def make_schedule(name: str = "linear", num_timesteps: int = 1000, zero_terminal_snr: bool = False) -> NoiseSchedule:
    """The named schedule over `num_timesteps` steps, optionally rescaled to zero terminal SNR."""
    if name not in SCHEDULES:
        raise ValueError(f"unknown noise schedule {name!r}; choose one of {sorted(SCHEDULES)}")
    betas = SCHEDULES[name](num_timesteps)
    if zero_terminal_snr:
        betas = rescale_zero_terminal_snr(betas)
        name = f"{name}+zero_terminal_snr"
    return NoiseSchedule(betas, name=name)


def _check_num_timesteps(num_timesteps: int) -> None:
    if isinstance(num_timesteps, bool) or not isinstance(num_timesteps, int) or num_timesteps < 1:
        raise ValueError(f"num_timesteps must be a positive int, got {num_timesteps!r}")
