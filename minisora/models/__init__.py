"""The networks (lessons 02-09). A network maps (x, t, condition) to an output of x's shape
and knows nothing of β, ᾱ or samplers; `minisora.diffusion` drives it as a callable.

    unet               the U-Net denoiser of DDPM / Stable Diffusion (lesson 02)
    diffusers_interop  the U-Net as diffusers' UNet2DModel (config and parameter names)
    vae                the KL autoencoder of latent diffusion (lesson 03)
"""

from minisora.models.unet import UNET_PRESETS, UNet, UNetConfig
from minisora.models.vae import VAE, VAE_PRESETS, DiagonalGaussian, VAEConfig, vae_loss

__all__ = ["UNET_PRESETS", "VAE", "VAE_PRESETS", "DiagonalGaussian", "UNet", "UNetConfig", "VAEConfig", "vae_loss"]
