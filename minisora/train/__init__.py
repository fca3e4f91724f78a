"""Where networks, diffusion and data meet (lessons 02, 03, 06, 09): training loops and EMA.

    ema          an exponential moving average of a network's weights, the copy one samples from
    denoiser     `train_denoiser`: Algorithm 1 of Ho et al. on a tensor of images or latents
    autoencoder  `train_vae` on Bouncing Shapes frames and the judge's gate on reconstructions
"""

from minisora.train.autoencoder import clip_frames, clip_videos, gate, reconstruct_videos, train_vae
from minisora.train.denoiser import TrainHistory, train_denoiser
from minisora.train.ema import EMA

__all__ = ["EMA", "TrainHistory", "clip_frames", "clip_videos", "gate", "reconstruct_videos", "train_denoiser", "train_vae"]
