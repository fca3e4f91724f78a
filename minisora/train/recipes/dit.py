"""Recipe `dit`: lesson 06's class-conditional DiT trained on the shipped VAE's latents.

One-object 32x32 frames (colour x shape labels) are encoded by `data/vae_f4_32px.pt` to
4x8x8 latents (the mean of q(z|x), normalized by a scale measured on these frames, as
lesson 06 does); DiT-mini/2 learns Algorithm 1's v-prediction on them, with 10% label
dropout for classifier-free guidance and an EMA of the weights to sample from.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from minisora.core import data_file, load_model, to_model_range
from minisora.data import object_frames
from minisora.data.frames import NUM_LABELS
from minisora.diffusion import NoiseProcess, make_schedule
from minisora.models import DIT_PRESETS, VAE, DiT
from minisora.train.batches import TensorBatches
from minisora.train.denoiser import denoising_loss
from minisora.train.recipes import Recipe, RecipeRun, register_recipe
from minisora.train.trainer import TrainConfig


@dataclass
class DiTRecipe:
    """Options of the `dit` recipe (and `train`, its TrainConfig)."""

    preset: str = "mini/2"
    depth: int | None = None  # None: the preset's
    num_objects: int = 20_000  # one-object frames encoded to latents
    batch_size: int = 32
    prediction_type: str = "v_prediction"
    noise_schedule: str = "linear"
    vae: str = "vae_f4_32px.pt"  # a file in data/, or a path
    data_seed: int = 0
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=6_000, lr=1e-3, ema_decay=0.995, warmup=100))


def encode_object_latents(vae: VAE, num_objects: int, seed: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Latents (N, 4, 8, 8) of `num_objects` one-object 32x32 frames, and their (colour, shape) labels (N, 2)."""
    frames = object_frames(num_objects, height=32, width=32, seed=seed)
    x = to_model_range(frames.images)  # (N, 3, 32, 32) in [-1, 1], the VAE's range
    vae.fit_scaling_factor(x.to(device))
    with torch.no_grad():
        latents = torch.cat([vae.encode(x[i : i + 512].to(device)).cpu() for i in range(0, num_objects, 512)])
    return latents, frames.labels


def build(options: DiTRecipe, device) -> RecipeRun:
    if options.preset not in DIT_PRESETS:
        raise ValueError(f"unknown DiT preset {options.preset!r}; choose one of {sorted(DIT_PRESETS)}")
    path = data_file(options.vae) if "/" not in options.vae else options.vae
    vae = load_model(path, expect=VAE, device=device)
    latents, labels = encode_object_latents(vae, options.num_objects, options.data_seed, device)
    overrides = {"depth": options.depth} if options.depth is not None else {}
    model = DiT(DIT_PRESETS[options.preset], input_size=tuple(latents.shape[-2:]), in_channels=latents.shape[1],
                num_classes=NUM_LABELS, **overrides)
    process = NoiseProcess(make_schedule(options.noise_schedule, 1000))
    data = TensorBatches({"x": latents, "labels": labels}, options.batch_size, seed=options.train.seed)
    parameters = sum(p.numel() for p in model.parameters())
    describe = (f"DiT-{options.preset} ({parameters:,} parameters) on {len(latents)} latents "
                f"{tuple(latents.shape[1:])} from {options.vae}, {options.prediction_type}")
    return RecipeRun(model, denoising_loss(process, options.prediction_type), data, describe)


register_recipe(Recipe(
    name="dit",
    summary="lesson 06's class-conditional DiT on the shipped VAE's latents (v-prediction, EMA)",
    options=DiTRecipe,
    build=build,
    fast={"num_objects": 256, "depth": 2, "batch_size": 16, "steps": 30, "warmup": 5},
))
