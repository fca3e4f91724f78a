"""The networks (lessons 02-09). A network maps (x, t, condition) to an output of x's shape
and knows nothing of β, ᾱ or samplers; `minisora.diffusion` drives it as a callable.

    unet               the U-Net denoiser of DDPM / Stable Diffusion (lesson 02)
    diffusers_interop  the U-Net as diffusers' UNet2DModel (config and parameter names)
    vae                the KL autoencoder of latent diffusion (lesson 03)
    vit                the Vision Transformer classifier (lesson 04)
    vivit              ViViT's four space-time variants, frame patches or tubelets (lesson 05)
    loading            load_model: a network back from a checkpoint (config + weights)
    dit                the Diffusion Transformer: adaLN-Zero, in-context or cross-attention conditioning (lesson 06)
    video_vae          a causal 3-D conv VAE compressing space and time, inflated from the image VAE (lesson 07)
    clip               CLIPModel: lesson 08's text encoder and a ViViT video tower in one contrastive space
    video_dit          the video DiT: spatial, temporal and cross-attention, adaLN-single, per-frame t (lesson 09)
    text_to_video      TextToVideoModel: the text encoder feeding the video DiT, one checkpoint (lesson 09)
"""

from minisora.models.clip import CLIP_PRESETS, CLIPConfig, CLIPModel, CLIPOutput, load_text_encoder, save_text_encoder
from minisora.models.dit import CONDITIONINGS, DIT_PRESETS, DiT, DiTConfig, published_parameter_count
from minisora.models.loading import load_model
from minisora.models.text_to_video import TextToVideoConfig, TextToVideoModel
from minisora.models.unet import UNET_PRESETS, UNet, UNetConfig
from minisora.models.vae import VAE, VAE_PRESETS, DiagonalGaussian, VAEConfig, vae_loss
from minisora.models.video_dit import ATTENTIONS, VIDEO_DIT_PRESETS, VideoDiT, VideoDiTConfig
from minisora.models.video_vae import VIDEO_VAE_PRESETS, CausalVideoVAE, VideoVAEConfig, inflate_vae
from minisora.models.vit import ViT, ViTConfig
from minisora.models.vivit import VARIANTS, ViViT, ViViTConfig, inflate_patch_weights

__all__ = [
    "CONDITIONINGS", "DIT_PRESETS", "DiT", "DiTConfig", "published_parameter_count", "load_model",
    "UNET_PRESETS", "VAE", "VAE_PRESETS", "VARIANTS", "DiagonalGaussian", "UNet", "UNetConfig", "VAEConfig", "ViT",
    "ViTConfig", "ViViT", "ViViTConfig", "inflate_patch_weights", "vae_loss",
    "VIDEO_VAE_PRESETS", "CausalVideoVAE", "VideoVAEConfig", "inflate_vae",
    "ATTENTIONS", "VIDEO_DIT_PRESETS", "VideoDiT", "VideoDiTConfig", "TextToVideoConfig", "TextToVideoModel",
    "CLIP_PRESETS", "CLIPConfig", "CLIPModel", "CLIPOutput", "load_text_encoder", "save_text_encoder",
]
