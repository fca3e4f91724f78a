"""Where networks, diffusion and data meet (lessons 02, 03, 06, 09): one trainer, its recipes, EMA.

    trainer      `Trainer` + `TrainConfig`: any loss over any batch stream; AdamW, warm-up and
                 cosine, clipping, accumulation, EMA, bf16 autocast, torch.compile, DDP,
                 NaN stop, CSV log, atomic checkpoints that resume exactly
    batches      batch sources that know their position: tensors in memory, Datasets via DataLoader
    rng          every generator's state, captured and restored
    schedule     the learning-rate schedule
    distributed  torchrun / DDP set-up
    ema          an exponential moving average of a network's weights, the copy one samples from
    denoiser     `train_denoiser`: Algorithm 1 of Ho et al. on a tensor of images or latents
    autoencoder  `train_vae` on Bouncing Shapes frames and the judge's gate on reconstructions (any autoencoder)
    recipes      named recipes for `minisora train RECIPE` (dit, vae, video-vae, text-encoder)
"""

from minisora.train.autoencoder import (
    autoencoder_loss,
    clip_frames,
    clip_videos,
    gate,
    gate_passes,
    psnr,
    reconstruct_videos,
    train_vae,
)
from minisora.train.batches import DatasetBatches, TensorBatches, batches_from
from minisora.train.denoiser import TrainHistory, denoising_loss, train_denoiser
from minisora.train.distributed import Distributed, cleanup_distributed, setup_distributed
from minisora.train.ema import EMA
from minisora.train.schedule import LR_SCHEDULES, lr_multiplier
from minisora.train.trainer import LOG_COLUMNS, NonFiniteLossError, TrainConfig, Trainer, unwrap

__all__ = [
    "EMA", "LOG_COLUMNS", "LR_SCHEDULES", "DatasetBatches", "Distributed", "NonFiniteLossError", "TensorBatches",
    "TrainConfig", "TrainHistory", "Trainer", "autoencoder_loss", "batches_from", "cleanup_distributed",
    "clip_frames", "clip_videos", "denoising_loss", "gate", "gate_passes", "lr_multiplier", "psnr",
    "reconstruct_videos", "setup_distributed", "train_denoiser", "train_vae", "unwrap",
]
