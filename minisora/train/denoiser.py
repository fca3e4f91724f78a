"""Train a denoiser on a tensor of images or latents: Algorithm 1 of Ho et al. 2020 in a loop.

Lesson 02 writes this loop in the open; later lessons call it. The loop draws batches
from the tensor (shuffled each epoch), takes the loss from `minisora.diffusion`, steps
AdamW with a short warm-up, clips the gradient norm, and keeps an EMA of the weights.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import time

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from minisora.diffusion import NoiseProcess, training_loss
from minisora.train.ema import EMA


@dataclass
class TrainHistory:
    """What a run leaves: the loss per step, the EMA copy, the optimizer (to continue) and the seconds it took."""

    losses: list[float] = field(default_factory=list)
    ema: EMA | None = None
    optimizer: torch.optim.Optimizer | None = None
    seconds: float = 0.0


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
    """Train `model(x_t, t[, labels])` for `steps` steps on `data` (N, ...); pass `history` to continue a run."""
    if labels is not None and len(labels) != len(data):
        raise ValueError(f"got {len(data)} samples but {len(labels)} labels; pass one label row per sample")
    if steps < 0 or batch_size < 1 or batch_size > len(data):
        raise ValueError(f"need steps >= 0 and 1 <= batch_size <= {len(data)} (the data size), got {steps}, {batch_size}")
    device = next(model.parameters()).device
    if history is None:
        optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
        history = TrainHistory(ema=EMA(model, ema_decay), optimizer=optimizer)
    optimizer = history.optimizer  # a continued run keeps Adam's moments and the EMA
    generator = torch.Generator().manual_seed(seed + len(history.losses))
    order = torch.randperm(len(data), generator=generator)
    cursor = 0
    t0 = time.perf_counter()
    model.train()
    for _ in tqdm(range(steps), disable=not progress, desc="training"):
        if cursor + batch_size > len(data):  # a new epoch: reshuffle
            order, cursor = torch.randperm(len(data), generator=generator), 0
        index = order[cursor : cursor + batch_size]
        cursor += batch_size
        x0 = data[index].to(device)  # (B, ...)
        cond = {} if labels is None else {"labels": labels[index].to(device)}
        step = len(history.losses)
        for group in optimizer.param_groups:  # linear warm-up avoids Adam's large first steps
            group["lr"] = lr * min(1.0, (step + 1) / max(warmup, 1))
        loss = training_loss(model, x0, process, prediction_type=prediction_type, **cond)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
        optimizer.step()
        history.ema.update()
        history.losses.append(loss.item())
    model.eval()
    history.seconds += time.perf_counter() - t0
    return history
