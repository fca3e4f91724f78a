"""An exponential moving average of weights (Polyak averaging; used by DDPM, Ho et al. 2020, appendix B).

SGD's iterates jitter around a minimum; their running average sits closer to it, and
diffusion samples from the average look visibly cleaner. θ_ema <- decay θ_ema + (1 - decay) θ.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """Keeps `model`'s averaged copy in `.model`; call `update()` after each optimizer step."""

    def __init__(self, model: nn.Module, decay: float = 0.999) -> None:
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"decay must be in [0, 1), got {decay!r}")
        self.decay = decay
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.source = model
        self.num_updates = 0

    @torch.no_grad()
    def update(self) -> None:
        # Warm up the decay (1 + n) / (10 + n): early averages would otherwise remember the random init.
        self.num_updates += 1
        decay = min(self.decay, (1 + self.num_updates) / (10 + self.num_updates))
        for average, current in zip(self.model.parameters(), self.source.parameters()):
            average.lerp_(current, 1.0 - decay)
        for average, current in zip(self.model.buffers(), self.source.buffers()):
            average.copy_(current)
