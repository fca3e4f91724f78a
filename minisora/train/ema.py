"""An exponential moving average of weights (Polyak averaging; used by DDPM, Ho et al. 2020, appendix B).

SGD's iterates jitter around a minimum; their running average sits closer to it, and
diffusion samples from the average look visibly cleaner. θ_ema <- decay θ_ema + (1 - decay) θ.
The average has its own `state_dict` (the averaged weights, the decay and the update count,
which sets the warm-up), so a resumed run continues the same average.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """Keeps `model`'s averaged copy in `.model`; call `update()` after each optimizer step."""

    def __init__(self, model: nn.Module, decay: float = 0.999) -> None:
        if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not 0.0 <= decay < 1.0:
            raise ValueError(f"decay must be a number in [0, 1), got {decay!r}")
        self.decay = float(decay)
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

    def state_dict(self) -> dict:
        """The averaged weights (on the CPU), the decay and the number of updates so far."""
        weights = {name: tensor.detach().cpu().clone() for name, tensor in self.model.state_dict().items()}
        return {"decay": self.decay, "num_updates": self.num_updates, "state_dict": weights}

    def load_state_dict(self, state: dict) -> None:
        """Continue the average saved by `state_dict` (its decay must match this EMA's)."""
        if not isinstance(state, dict) or set(state) != {"decay", "num_updates", "state_dict"}:
            raise ValueError("not an EMA state "
                             "(expected the dict EMA.state_dict() returns: decay, num_updates, state_dict)")
        if state["decay"] != self.decay:
            raise ValueError(f"the saved EMA has decay {state['decay']}, this one {self.decay}; "
                             "resume with the decay that wrote it")
        self.model.load_state_dict(state["state_dict"])
        self.num_updates = int(state["num_updates"])
