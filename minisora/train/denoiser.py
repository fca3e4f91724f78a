"""Train a denoiser on a tensor of images or latents: Algorithm 1 of Ho et al. 2020 on the trainer (lesson 02).

Lesson 02 writes this loop in the open; later lessons call it. `train_denoiser` is a thin
use of `minisora.train.Trainer`: the batches come from the tensor (shuffled each epoch),
the loss from `minisora.diffusion.training_loss`, AdamW with a short warm-up steps it, the
gradient norm is clipped and an EMA of the weights follows. One `seed` fixes the run: the
data order, the timesteps, the noise and the label dropout.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from minisora.diffusion import NoiseProcess, training_loss
from minisora.train.batches import TensorBatches
from minisora.train.ema import EMA
from minisora.train.trainer import TrainConfig, Trainer


def denoising_loss(process: NoiseProcess, prediction_type: str = "epsilon", min_snr_gamma: float | None = None,
                   ) -> Callable[[nn.Module, dict], Tensor]:
    """`loss_fn(model, batch)` for the trainer: Algorithm 1 on batch["x"], conditioned on batch["labels"] if present."""

    def loss_fn(model: nn.Module, batch: dict) -> Tensor:
        cond = {"labels": batch["labels"]} if "labels" in batch else {}
        return training_loss(model, batch["x"], process, prediction_type=prediction_type,
                             min_snr_gamma=min_snr_gamma, **cond)

    return loss_fn


@dataclass
class TrainHistory:
    """What a run leaves: the loss per step, the EMA copy, the optimizer, the seconds it took,
    and its trainer (to continue)."""

    losses: list[float] = field(default_factory=list)
    ema: EMA | None = None
    optimizer: torch.optim.Optimizer | None = None
    seconds: float = 0.0
    trainer: Trainer | None = None


def train_denoiser(
    model: nn.Module,
    data: Tensor,
    process: NoiseProcess,
    steps: int,
    *,
    labels: Tensor | None = None,
    batch_size: int = 32,
    lr: float = 1e-3,
    warmup: int = 100,
    ema_decay: float = 0.999,
    prediction_type: str = "epsilon",
    max_grad_norm: float = 1.0,
    seed: int = 0,
    progress: bool = True,
    history: TrainHistory | None = None,
) -> TrainHistory:
    """Train `model(x_t, t[, labels])` for `steps` steps on `data` (N, ...); pass `history` to continue a run.

    A continued run is the same run: `train_denoiser(..., 600)` then `train_denoiser(..., 400,
    history=h)` gives the losses of one 1,000-step run (the settings must not change).
    """
    if not isinstance(data, Tensor) or data.ndim < 2:
        raise ValueError(f"data must be a tensor (N, ...) of samples, got {type(data).__name__}"
                         f"{tuple(data.shape) if isinstance(data, Tensor) else ''}")
    if labels is not None and len(labels) != len(data):
        raise ValueError(f"got {len(data)} samples but {len(labels)} labels; pass one label row per sample")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be an int >= 0, got {steps!r}")
    if len(data) == 0:
        raise ValueError("data is empty (0 samples); pass at least batch_size samples (N, ...)")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not 1 <= batch_size <= len(data):
        raise ValueError(f"need 1 <= batch_size <= {len(data)} (the data size), got batch_size={batch_size!r}")
    if history is None:
        tensors = {"x": data} if labels is None else {"x": data, "labels": labels}
        config = TrainConfig(steps=steps, lr=lr, warmup=warmup, ema_decay=ema_decay, max_grad_norm=max_grad_norm,
                             seed=seed, log_every=50)
        trainer = Trainer(model, denoising_loss(process, prediction_type), TensorBatches(tensors, batch_size, seed),
                          config, progress=progress)
        history = TrainHistory(ema=trainer.ema, optimizer=trainer.optimizer, trainer=trainer)
    else:
        trainer = history.trainer
        if trainer is None or trainer.model is not model:
            raise ValueError("history belongs to another model (or to an old minisora); continue the model it trained")
        trainer.config.steps = trainer.step + steps
    trainer.progress = progress
    trainer.fit(steps)
    history.losses, history.seconds = trainer.losses, trainer.seconds
    return history
