"""The diffusion training loss: Algorithm 1 of Ho et al. 2020, with min-SNR-γ weighting (lesson 01).

Algorithm 1 ("Training"), for any network `model(x_t, t, **cond)`:

    1. x_0 ~ data,  t ~ Uniform{0, ..., T-1},  ε ~ N(0, I)
    2. x_t = √ᾱ_t x_0 + √(1 - ᾱ_t) ε                                    (eq. 4)
    3. loss = ‖target - model(x_t, t)‖²,  target = ε, x_0 or v             (eq. 14, "L_simple")

Min-SNR-γ (Hang et al. 2023, "Efficient Diffusion Training via Min-SNR Weighting Strategy")
weights each timestep so that, written as an error on x_0, the loss is min(SNR(t), γ) ‖x_0 - x̂_0‖²:
high-SNR (nearly clean) steps stop dominating the gradient. Since ‖ε - ε̂‖² = SNR ‖x_0 - x̂_0‖²
and ‖v - v̂‖² = (SNR + 1) ‖x_0 - x̂_0‖², the weight on the network's own error is

    "epsilon":       min(SNR, γ) / SNR          (= 1 where SNR = 0, its limit)
    "sample":        min(SNR, γ)
    "v_prediction":  min(SNR, γ) / (SNR + 1)

Hang et al. recommend γ = 5.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from minisora.diffusion.process import NoiseProcess, check_prediction_type, randn_like

REDUCTIONS = ("mean", "none")


def min_snr_weights(snr: Tensor, prediction_type: str = "epsilon", gamma: float = 5.0) -> Tensor:
    """Per-timestep loss weights of min-SNR-γ for a network that predicts `prediction_type`."""
    check_prediction_type(prediction_type)
    if not gamma > 0:
        raise ValueError(f"min_snr_gamma must be positive (Hang et al. use 5.0), got {gamma!r}")
    snr = snr.double()
    clipped = snr.clamp(max=gamma)  # min(SNR, γ)
    if prediction_type == "epsilon":
        return (gamma / snr).clamp(max=1.0)  # min(SNR, γ)/SNR, written so SNR = 0 gives 1, not 0/0
    if prediction_type == "sample":
        return clipped
    return clipped / (snr + 1)


def per_sample_squared_error(model_output: Tensor, target: Tensor, network: str) -> Tensor:
    """(B,) mean squared error of each sample; the network must return its input's shape."""
    if model_output.shape != target.shape:
        raise ValueError(
            f"model returned shape {tuple(model_output.shape)} for x_t of shape {tuple(target.shape)}; "
            f"{network} must return the shape of its input"
        )
    return (model_output - target).pow(2).reshape(len(target), -1).mean(dim=1)  # (B,)


def training_loss(
    model: Callable[..., Tensor],
    x0: Tensor,
    process: NoiseProcess,
    *,
    prediction_type: str = "epsilon",
    min_snr_gamma: float | None = None,
    noise: Tensor | None = None,
    timesteps: Tensor | None = None,
    generator: torch.Generator | None = None,
    reduction: str = "mean",
    **cond,
) -> Tensor:
    """Algorithm 1's loss on a batch of clean x0 (B, ...); `model(x_t, t, **cond)` is any callable.

    noise and timesteps are drawn (from `generator`) unless given. reduction="none" returns the
    per-sample losses (B,), e.g. to plot the loss against t.
    """
    check_prediction_type(prediction_type)
    if reduction not in REDUCTIONS:
        raise ValueError(f"unknown reduction {reduction!r}; choose one of {list(REDUCTIONS)}")
    # 1. t ~ Uniform{0..T-1} and ε ~ N(0, I), one t per sample.
    batch = x0.shape[0]
    if timesteps is None:
        timesteps = process.sample_timesteps(batch, generator=generator, device=x0.device)
    timesteps = process.check_timesteps(timesteps, batch).to(x0.device)  # (B,)
    if noise is None:
        noise = randn_like(x0, generator)
    # 2. x_t = √ᾱ_t x_0 + √(1-ᾱ_t) ε, and what the network should say about it.
    x_t = process.add_noise(x0, noise, timesteps)
    target = process.target(x0, noise, timesteps, prediction_type)
    # 3. The squared error, averaged over everything but the batch.
    per_sample = per_sample_squared_error(model(x_t, timesteps, **cond), target, "a denoiser")  # (B,)
    # 4. Optionally reweight by min-SNR-γ, the weight that belongs to this prediction type.
    if min_snr_gamma is not None:
        snr = process.schedule.snr[timesteps.cpu()]
        weights = min_snr_weights(snr, prediction_type, min_snr_gamma)
        per_sample = per_sample * weights.to(dtype=per_sample.dtype).to(per_sample.device)
    return per_sample.mean() if reduction == "mean" else per_sample
