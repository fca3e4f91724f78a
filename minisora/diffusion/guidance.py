"""Classifier-free guidance: Ho & Salimans 2022, "Classifier-Free Diffusion Guidance" (lesson 06).

One network is trained both with its condition c and, a fraction of the time, with a null
condition ∅ (a learned "no label" class, an empty caption). At sampling the two outputs
are extrapolated away from the unconditional one (their eq. 6, written with s = 1 + w):

    ε̃ = ε(x_t, ∅) + s (ε(x_t, c) - ε(x_t, ∅)),

s = 1 is the plain conditional model, s > 1 trades diversity for fidelity to c. The same
formula applies to x_0-, v- and flow-velocity outputs, and to every output channel: DiT's
reference code guided only 3 of its 4 latent channels, a bug kept "for reproducibility".
`guided_model` runs both branches as one doubled batch, so the loop makes one call per step.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from minisora.core.checks import check_number


def classifier_free_guidance(cond_out: Tensor, uncond_out: Tensor, scale: float) -> Tensor:
    """uncond + scale (cond - uncond), on every channel (Ho & Salimans 2022, eq. 6)."""
    check_number(scale, "scale (the guidance scale)")  # NaN or inf would make every sample NaN
    if cond_out.shape != uncond_out.shape:
        raise ValueError(
            f"cond_out {tuple(cond_out.shape)} and uncond_out {tuple(uncond_out.shape)} must have the same shape"
        )
    return uncond_out + scale * (cond_out - uncond_out)


def guided_model(model: Callable[..., Tensor], guidance_scale: float, **uncond) -> Callable[..., Tensor]:
    """Wrap `model(x, t, **cond)` into a guided one that runs [cond; uncond] as one batch of 2B.

    `uncond` gives the null value of each condition (e.g. labels=torch.tensor([NULL_CLASS]));
    a batch of 1 is repeated to B. Every tensor keyword is concatenated along dim 0 with its
    null value, or with itself when it has none (shared inputs such as masks); other
    keywords are passed unchanged.
    """
    check_number(guidance_scale, "guidance_scale")

    def guided(x: Tensor, t: Tensor, **cond) -> Tensor:
        unknown = sorted(set(uncond) - set(cond))
        if unknown:
            raise ValueError(f"guided_model has null values for {unknown} but the call passed no such condition")
        b = x.shape[0]
        batched = {}
        for name, value in cond.items():
            if not isinstance(value, Tensor):
                batched[name] = value
                continue
            null = uncond.get(name, value)
            if null.shape[0] == 1 and b > 1:
                null = null.expand(b, *null.shape[1:])
            if null.shape != value.shape:
                raise ValueError(
                    f"condition {name!r} has shape {tuple(value.shape)} but its null value has shape "
                    f"{tuple(null.shape)}; give the null value the same shape (or a batch of 1)"
                )
            batched[name] = torch.cat([value, null])  # (2B, ...)
        t = torch.as_tensor(t, device=x.device)
        out = model(torch.cat([x, x]), torch.cat([t, t]) if t.ndim else t, **batched)  # (2B, ...)
        cond_out, uncond_out = out.chunk(2)
        return classifier_free_guidance(cond_out, uncond_out, guidance_scale)

    return guided
