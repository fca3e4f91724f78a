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

Video batches (B, F, C, H, W) may carry one timestep per frame, t (B, F), and a loss mask
(B,) or (B, F) (1 = counts): frames given as conditioning (Open-Sora's `x_mask`, see
`minisora.diffusion.frames.condition_frames`) get t = 0 and mask 0, and contribute nothing.
With a mask the mean runs over what counts: each frame's mean squared error, weighted by its
mask value, summed and divided by the sum of the mask — over the batch for reduction="mean"
(every counted frame weighs the same), over each sample's frames for reduction="none" (0 for
a sample with nothing counted). Without a mask it is the plain mean, as before.

Element weights (`element_weights`, any shape that broadcasts to the target's, e.g. (B, F, 1, h, w)
for a latent video) weight the elements *inside* each sample or frame: its error becomes the
weighted mean Σ w (target - output)² / Σ w instead of the plain mean, so a uniform weight gives
the plain loss exactly and the loss keeps the scale of a mean squared error. Lesson 09's recipe
uses them to count the pixels near the objects more than the empty background
(`minisora.data.object_coverage`): the objects cover about a sixth of its training frames'
pixels, and their outlines are where a circle differs from a square.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from minisora.diffusion.frames import check_loss_mask, expand_like
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


def check_reduction(reduction: str) -> None:
    """Raise a ValueError unless reduction is one of REDUCTIONS."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"unknown reduction {reduction!r}; choose one of {list(REDUCTIONS)}")


def check_element_weights(element_weights: Tensor, shape: tuple[int, ...]) -> Tensor:
    """element_weights as a float tensor of `shape` (broadcast), finite, >= 0, and not all 0 in any sample."""
    if not isinstance(element_weights, Tensor) or not element_weights.dtype.is_floating_point:
        raise ValueError("element_weights must be a float tensor (a weight per element of the target), got "
                         f"{type(element_weights).__name__} {getattr(element_weights, 'dtype', '')}".rstrip())
    try:
        expanded = element_weights.expand(shape)
    except RuntimeError:
        raise ValueError(f"element_weights of shape {tuple(element_weights.shape)} does not broadcast to the "
                         f"target's {shape}; give it the target's shape or 1 on the axes it does not vary "
                         "along, e.g. (B, F, 1, h, w) for a latent video") from None
    if not bool(torch.isfinite(element_weights).all()) or bool((element_weights < 0).any()):
        raise ValueError("element_weights must be finite and >= 0 (1 = an element counts as in the plain mean)")
    if bool((expanded.reshape(shape[0], -1).sum(dim=1) <= 0).any()):
        raise ValueError("element_weights are 0 on every element of some sample; to leave a sample or frame out "
                         "use loss_mask instead")
    return expanded


def masked_squared_error(
    model_output: Tensor,
    target: Tensor,
    network: str,
    *,
    weights: Tensor | None = None,
    element_weights: Tensor | None = None,
    loss_mask: Tensor | None = None,
    reduction: str = "mean",
) -> Tensor:
    """The mean squared error, weighted per sample or frame and masked (see the module docstring). () or (B,)

    weights and loss_mask: (B,) per sample or (B, F) per frame of a video target (B, F, ...).
    element_weights: broadcastable to the target; each sample's (or frame's) error is then their weighted mean.
    """
    check_reduction(reduction)
    if model_output.shape != target.shape:
        raise ValueError(
            f"model returned shape {tuple(model_output.shape)} for x_t of shape {tuple(target.shape)}; "
            f"{network} must return the shape of its input"
        )
    if loss_mask is not None:
        loss_mask = check_loss_mask(loss_mask, tuple(target.shape))
    # 1. The squared error of each sample (B,), or of each frame (B, F) when weights or mask are per frame:
    #    the plain mean over its elements, or their weighted mean with element weights.
    per_frame = any(v is not None and v.ndim == 2 for v in (weights, loss_mask))
    lead = target.shape[: 2 if per_frame else 1]
    squared = (model_output - target).pow(2)  # target's shape
    if element_weights is None:
        errors = squared.reshape(*lead, -1).mean(dim=-1)  # (B,) or (B, F)
    else:
        w = check_element_weights(element_weights, tuple(target.shape)).to(squared.device, squared.dtype)
        total = (w * squared).reshape(*lead, -1).sum(dim=-1)  # (B,) or (B, F)
        errors = total / w.reshape(*lead, -1).sum(dim=-1).clamp(min=torch.finfo(total.dtype).tiny)
    if weights is not None:
        errors = errors * expand_like(weights.to(dtype=errors.dtype).to(errors.device), errors)
    # 2. Without a mask: the plain mean (per sample for "none").
    if loss_mask is None:
        per_sample = errors.mean(dim=1) if per_frame else errors  # (B,)
        return per_sample.mean() if reduction == "mean" else per_sample
    # 3. With a mask: Σ mask · error / Σ mask, over each sample's frames ("none") or the whole batch ("mean").
    mask = expand_like(loss_mask.to(dtype=errors.dtype).to(errors.device), errors).expand_as(errors)
    total = (mask * errors).reshape(len(errors), -1).sum(dim=1)  # (B,)
    counted = mask.reshape(len(errors), -1).sum(dim=1)  # (B,)
    if reduction == "none":
        return torch.where(counted > 0, total / counted.clamp(min=torch.finfo(counted.dtype).tiny), 0.0)
    return total.sum() / counted.sum().clamp(min=torch.finfo(counted.dtype).tiny)  # 0 if nothing counts


def training_loss(
    model: Callable[..., Tensor],
    x0: Tensor,
    process: NoiseProcess,
    *,
    prediction_type: str = "epsilon",
    min_snr_gamma: float | None = None,
    noise: Tensor | None = None,
    timesteps: Tensor | None = None,
    loss_mask: Tensor | None = None,
    element_weights: Tensor | None = None,
    generator: torch.Generator | None = None,
    reduction: str = "mean",
    **cond,
) -> Tensor:
    """Algorithm 1's loss on a batch of clean x0 (B, ...); `model(x_t, t, **cond)` is any callable.

    noise and timesteps are drawn (from `generator`, one t per sample) unless given; timesteps
    may be (B,) or, for a video x0 (B, F, ...), per frame (B, F), and the model then receives
    them as given. loss_mask (B,) or (B, F), bool or float in [0, 1]: 1 where a sample or frame
    counts (normalisation: see the module docstring); element_weights weight the elements inside
    each sample (see the module docstring). reduction="none" returns the per-sample losses (B,),
    e.g. to plot the loss against t.
    """
    check_prediction_type(prediction_type)
    check_reduction(reduction)
    # 1. t ~ Uniform{0..T-1} (one per sample, unless given per frame) and ε ~ N(0, I).
    if timesteps is None:
        timesteps = process.sample_timesteps(x0.shape[0], generator=generator, device=x0.device)
    timesteps = process.check_timesteps(timesteps, x0).to(x0.device)  # (B,) or (B, F)
    if noise is None:
        noise = randn_like(x0, generator)
    # 2. x_t = √ᾱ_t x_0 + √(1-ᾱ_t) ε, each frame at its own t, and what the network should say about it.
    x_t = process.add_noise(x0, noise, timesteps)
    target = process.target(x0, noise, timesteps, prediction_type)
    # 3. Optionally min-SNR-γ weights, the ones that belong to this prediction type (per sample or frame).
    weights = None
    if min_snr_gamma is not None:
        weights = min_snr_weights(process.schedule.snr[timesteps.cpu()], prediction_type, min_snr_gamma)
    # 4. The squared error, averaged over everything but the batch, over what the mask counts.
    return masked_squared_error(model(x_t, timesteps, **cond), target, "a denoiser", weights=weights,
                                element_weights=element_weights, loss_mask=loss_mask, reduction=reduction)
