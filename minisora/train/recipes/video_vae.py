"""Recipe `video-vae`: lesson 07's video autoencoders on Bouncing Shapes clips, then the judge's gate.

Designs (`design`), both behind the autoencoder interface of `minisora.models.vae`:

    causal     `CausalVideoVAE` (a `VIDEO_VAE_PRESETS` name; "f4t2", the default and the shipped
               data/video_vae_f4t2.pt: 17x32x32 frames -> 9x4x8x8; "f4t4": -> 5x4x8x8, which after
               500 steps of this recipe still failed the gate by far: data/README.md),
               which compresses time as well as space. With `init_from` (default: the shipped
               2-D VAE data/vae_f4_32px.pt) its kernels are inflated from that VAE, so training
               starts from the 2-D VAE per frame and learns the motion inside each temporal block.
    per-frame  lesson 03's `VAE` (a `VAE_PRESETS` name) on every frame; `init_from` continues a
               trained one (with `--steps 0`, the shipped VAE is gated on clips as it is).

Data: `clips` random training clips of `frames` frames, `size` x `size` (1-3 objects, every
motion, camera moves, black and grey backgrounds: the world's defaults), rendered on the fly
in the training process (`DatasetBatches`, num_workers=0). Rendering takes ~15 ms a clip,
a few percent of a training step, and a worker process would take one of the two cores the
step itself uses; on more cores set `num_workers`.

Loss: lesson 03's `vae_loss` on whole clips (object-weighted L1 + kl_weight * KL, plus
temporal_weight * the frame-difference L1 when > 0). At the end: per-channel shift and
scale are fitted on `fit_clips` training clips (stored as buffers in the checkpoint), then
the gate: the judge scores `gate_clips` held-out clips (another seed) before and after the
autoencoder; it passes when the whole-caption match and the motion accuracy are within
`gate_tolerance` of the originals'. Both score dicts, `gate_passed` and the PSNR go into
the checkpoint's metadata.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from minisora.core import data_file, load_model
from minisora.core.pixels import to_model_range
from minisora.data import BouncingShapes
from minisora.models import (
    VAE,
    VAE_PRESETS,
    VIDEO_VAE_PRESETS,
    CausalVideoVAE,
    inflate_vae,
    vae_loss,
)
from minisora.train.autoencoder import (
    GATE_ATTRIBUTES,
    clip_videos,
    gate,
    gate_passes,
    psnr,
    reconstruct_videos,
)
from minisora.train.batches import DatasetBatches
from minisora.train.recipes import Recipe, RecipeRun, register_recipe
from minisora.train.trainer import TrainConfig, Trainer

GATE_SEED = 123  # held-out clips: another seed than the training clips
DESIGNS = {"causal": "f4t2", "per-frame": "f4"}  # design -> its default preset


@dataclass
class VideoVAERecipe:
    """Options of the `video-vae` recipe (and `train`, its TrainConfig)."""

    design: str = "causal"  # "causal" (CausalVideoVAE) or "per-frame" (lesson 03's VAE on every frame)
    preset: str | None = None  # None: "f4t2" (causal) or "f4" (per-frame)
    temporal_factor: int | None = None  # causal only; None: the preset's
    latent_channels: int | None = None  # None: the preset's (or init_from's)
    init_from: str | None = "vae_f4_32px.pt"  # a 2-D VAE checkpoint (a data/ file or a path) to start from; None
    inflation: str = "tail"  # causal with init_from: "tail", "central" or "average"
    frames: int = 17
    size: int = 32
    clips: int = 50_000  # distinct training clips, rendered on the fly
    batch_size: int = 4
    kl_weight: float = 1e-6
    object_weight: float = 10.0
    temporal_weight: float = 0.0  # > 0: add the frame-difference L1
    fit_clips: int = 64  # training clips the latent shift and scale are measured on
    gate_clips: int = 100
    gate_tolerance: float = 0.05
    num_workers: int = 0
    data_seed: int = 0
    # Fine-tuning an inflated VAE: lr 2e-4 lowers the held-out loss where 5e-4 undoes the 2-D VAE's training.
    # A constant rate, so a run whose gate fails can be resumed for more steps (--resume --steps N).
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=1_000, lr=2e-4, warmup=20, max_grad_norm=1.0,
                                                                   ema_decay=None, log_every=20))


def collate_clips(items: list[dict]) -> dict[str, Tensor]:
    """A batch of Bouncing Shapes items -> {"x": videos (B, F, 3, H, W) in [-1, 1]}
    (module level: workers pickle it)."""
    return {"x": to_model_range(torch.stack([item["video"] for item in items]))}


def _load_2d_vae(name: str, device) -> VAE:
    path = data_file(name) if "/" not in name else name
    return load_model(path, expect=VAE, device=device)


def build_model(options: VideoVAERecipe, device) -> tuple[nn.Module, str]:
    """The autoencoder the options describe, and a phrase saying where its weights come from."""
    if options.design not in DESIGNS:
        raise ValueError(f"unknown design {options.design!r}; choose one of {sorted(DESIGNS)}")
    preset = options.preset if options.preset is not None else DESIGNS[options.design]
    overrides = {"latent_channels": options.latent_channels} if options.latent_channels is not None else {}
    if options.design == "causal":
        if preset not in VIDEO_VAE_PRESETS:
            raise ValueError(f"unknown video VAE preset {preset!r}; choose one of {sorted(VIDEO_VAE_PRESETS)}")
        if options.temporal_factor is not None:
            overrides["temporal_factor"] = options.temporal_factor
        if options.init_from is None:
            return CausalVideoVAE(VIDEO_VAE_PRESETS[preset], **overrides), "random init"
        vae = _load_2d_vae(options.init_from, device)
        model = inflate_vae(vae, VIDEO_VAE_PRESETS[preset], options.inflation, **overrides)
        return model, f"inflated ({options.inflation}) from {options.init_from}"
    if options.temporal_factor is not None:
        raise ValueError("temporal_factor is for design 'causal'; the per-frame VAE codes every frame alone")
    if preset not in VAE_PRESETS:
        raise ValueError(f"unknown VAE preset {preset!r} for design 'per-frame'; choose one of {sorted(VAE_PRESETS)}")
    if options.init_from is None:
        return VAE(VAE_PRESETS[preset], **overrides), "random init"
    vae = _load_2d_vae(options.init_from, device)
    wanted = dataclasses.replace(VAE_PRESETS[preset], **overrides)
    if vae.config != wanted:
        raise ValueError(f"{options.init_from} holds a VAE of other sizes than preset {preset!r}: {vae.config} vs "
                         f"{wanted}; pass the preset it was trained with")
    return vae.train(), f"continued from {options.init_from}"


def build(options: VideoVAERecipe, device) -> RecipeRun:
    model, origin = build_model(options, device)
    latent = model.latent_shape(options.frames, options.size, options.size)  # checks the frame count and size
    clips = BouncingShapes(length=options.clips, num_frames=options.frames, height=options.size, width=options.size,
                           seed=options.data_seed)
    for name in ("fit_clips", "gate_clips"):
        value = getattr(options, name)
        if isinstance(value, bool) or not isinstance(value, int) or not 2 <= value:
            raise ValueError(f"{name} must be an int >= 2, got {value!r}")
    if options.fit_clips > options.clips:
        raise ValueError(f"fit_clips={options.fit_clips} is more than the {options.clips} training clips")

    def loss_fn(network: nn.Module, batch: dict) -> dict:
        return vae_loss(network, batch["x"], kl_weight=options.kl_weight, object_weight=options.object_weight,
                        temporal_weight=options.temporal_weight)

    def finish(trainer: Trainer) -> dict:
        # The copy a checkpoint loads by default: the EMA when the run keeps one, else the weights.
        network = trainer.ema.model if trainer.ema is not None else trainer.model
        fit = torch.stack([clips[i]["video"] for i in range(options.fit_clips)])  # (N, F, 3, H, W) in [0, 1]
        shift, scale = network.fit_shift_and_scale(to_model_range(fit).to(trainer.device), per_channel=True)
        if network is not trainer.model:  # the raw weights carry the same statistics
            trainer.model.shift_factor, trainer.model.scaling_factor = shift.clone(), scale.clone()
        videos, specs = clip_videos(options.gate_clips, options.size, seed=GATE_SEED, num_frames=options.frames)
        reconstructed = reconstruct_videos(network, videos)
        scores = gate(network, videos, specs, reconstructed)
        passed = gate_passes(scores, options.gate_tolerance)
        value = psnr(videos, reconstructed)
        print(f"latent shift {[round(v, 3) for v in shift.tolist()]}, scale {[round(v, 3) for v in scale.tolist()]}; "
              f"the judge on {options.gate_clips} held-out clips (original -> reconstructed):")
        for attribute, original in scores["original"].items():
            if attribute == "n":
                continue
            print(f"  {attribute:>10}: {original:.2f} -> {scores['reconstructed'][attribute]:.2f}")
        print(f"PSNR {value:.2f} dB; gate ({' and '.join(GATE_ATTRIBUTES)} within {options.gate_tolerance:.2f}): "
              f"{'passed' if passed else 'FAILED'}")
        recent = [metrics["reconstruction"] for metrics in trainer.metrics[-100:]]
        return {"gate": scores, "gate_passed": passed, "gate_attributes": list(GATE_ATTRIBUTES),
                "gate_tolerance": options.gate_tolerance, "psnr": value, "shift_factor": shift.tolist(),
                "scaling_factor": scale.tolist(), "final_loss": sum(recent) / len(recent) if recent else None,
                "final_loss_steps": len(recent), "parameters": sum(p.numel() for p in network.parameters()),
                "latent_shape": list(latent), "origin": origin}

    parameters = sum(p.numel() for p in model.parameters())
    pixels, numbers = 3 * options.frames * options.size**2, torch.Size(latent).numel()
    name = options.preset if options.preset is not None else DESIGNS[options.design]
    describe = (f"{type(model).__name__} {name} ({parameters:,} parameters, {origin}); {options.frames}x{options.size}"
                f"x{options.size} clips -> latents {tuple(latent)} ({pixels / numbers:.0f}x fewer numbers); "
                f"{options.clips:,} clips rendered on the fly")
    data = DatasetBatches(clips, options.batch_size, seed=options.train.seed, num_workers=options.num_workers,
                          collate_fn=collate_clips)
    return RecipeRun(model, loss_fn, data, describe, finish)


register_recipe(Recipe(
    name="video-vae",
    summary="lesson 07's video VAEs (causal 3-D, inflated from the 2-D VAE; or per frame) with the judge's gate",
    options=VideoVAERecipe,
    build=build,
    fast={"preset": "tiny", "init_from": None, "size": 16, "frames": 5, "clips": 16, "batch_size": 2, "steps": 3,
          "warmup": 0, "fit_clips": 2, "gate_clips": 2},
))
