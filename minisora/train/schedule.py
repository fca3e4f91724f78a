"""The learning-rate schedule: a linear warm-up, then constant or a cosine decay (Loshchilov & Hutter 2017).

Adam's first updates are large (its second-moment estimate starts near zero), so the rate
ramps up over `warmup` steps; DiT then trains at a constant rate, many LLM and video
recipes decay it along a half cosine to `min_lr_ratio` of the peak at the last step.
The multiplier is a pure function of the step, so a resumed run gets the same rates.
"""

from __future__ import annotations

import math

LR_SCHEDULES = ("constant", "cosine")


def lr_multiplier(step: int, *, warmup: int, schedule: str, total_steps: int, min_lr_ratio: float = 0.0) -> float:
    """The factor on the peak learning rate at optimizer step `step` (0-based)."""
    if schedule not in LR_SCHEDULES:
        raise ValueError(f"unknown lr schedule {schedule!r}; choose one of {list(LR_SCHEDULES)}")
    if step < warmup:
        return (step + 1) / warmup  # 1/warmup, 2/warmup, ..., 1: never exactly 0, so step 0 moves
    if schedule == "constant":
        return 1.0
    # Half a cosine from 1 at the end of warm-up to min_lr_ratio at the last step.
    progress = min(1.0, (step - warmup) / max(1, total_steps - warmup - 1))
    return min_lr_ratio + (1.0 - min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))
