"""Recipe `vae`: lesson 03's KL VAE on Bouncing Shapes frames, then the judge's gate on reconstructed clips.

Every other frame of `clips` random clips (neighbours are near copies), in [-1, 1]; the
object-weighted L1 + β·KL loss of lesson 03; no warm-up, clipping or EMA, as the lesson
trains it. At the end the latent scale is measured on the training frames and the judge
scores `gate_clips` held-out clips before and after the VAE (lesson 03's gate); both go
into the checkpoint's metadata. `minisora train-vae` is this recipe under its old name.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from minisora.models import VAE, VAE_PRESETS
from minisora.train.autoencoder import autoencoder_loss, clip_frames, clip_videos, gate
from minisora.train.batches import TensorBatches
from minisora.train.recipes import Recipe, RecipeRun, register_recipe
from minisora.train.trainer import TrainConfig, Trainer

GATE_SEED = 123  # held-out clips: another seed than the training clips


@dataclass
class VAERecipe:
    """Options of the `vae` recipe (and `train`, its TrainConfig)."""

    preset: str = "f4"
    size: int = 32  # frame height and width
    clips: int = 1_500  # training clips (8 frames of each)
    gate_clips: int = 100
    batch_size: int = 32
    kl_weight: float = 1e-6
    object_weight: float = 10.0
    data_seed: int = 0
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=2_000, lr=1e-3, warmup=0, max_grad_norm=None,
                                                                   ema_decay=None))


def build(options: VAERecipe, device) -> RecipeRun:
    if options.preset not in VAE_PRESETS:
        raise ValueError(f"unknown VAE preset {options.preset!r}; choose one of {sorted(VAE_PRESETS)}")
    frames, _ = clip_frames(options.clips, options.size, seed=options.data_seed)  # (8 clips, 3, H, W) in [-1, 1]
    vae = VAE(VAE_PRESETS[options.preset])

    def finish(trainer: Trainer) -> dict:
        factor = vae.fit_scaling_factor(frames.to(trainer.device))
        scores = gate(vae, *clip_videos(options.gate_clips, options.size, seed=GATE_SEED))
        print(f"scaling_factor {factor:.4f}; the judge on {options.gate_clips} held-out clips "
              "(original -> reconstructed):")
        for attribute, original in scores["original"].items():
            print(f"  {attribute:>10}: {original:.2f} -> {scores['reconstructed'][attribute]:.2f}")
        recent = [metrics["reconstruction"] for metrics in trainer.metrics[-100:]]
        return {"gate": scores, "final_loss": sum(recent) / max(len(recent), 1), "final_loss_steps": len(recent)}

    parameters = sum(p.numel() for p in vae.parameters())
    describe = f"VAE {options.preset} ({parameters:,} parameters) on {len(frames)} frames {options.size}x{options.size}"
    data = TensorBatches({"x": frames}, options.batch_size, seed=options.train.seed)
    return RecipeRun(vae, autoencoder_loss(options.kl_weight, options.object_weight), data, describe, finish)


register_recipe(Recipe(
    name="vae",
    summary="lesson 03's VAE on Bouncing Shapes frames, with the judge's gate on reconstructions",
    options=VAERecipe,
    build=build,
    fast={"clips": 8, "gate_clips": 4, "preset": "tiny", "size": 16, "steps": 20, "batch_size": 16},
))
