"""Rebuild a network from a checkpoint (lessons 06-09): the models layer's networks join the registry.

`load_model` itself lives in `minisora.core.checkpoint` (any layer may load a file); it is
re-exported here, where lessons import it from.
"""

from __future__ import annotations

from minisora.core.checkpoint import load_model
from minisora.core.registry import register_network
from minisora.models.clip import CLIPConfig, CLIPModel
from minisora.models.dit import DiT, DiTConfig
from minisora.models.text_to_video import TextToVideoConfig, TextToVideoModel
from minisora.models.unet import UNet, UNetConfig
from minisora.models.vae import VAE, VAEConfig
from minisora.models.video_dit import VideoDiT, VideoDiTConfig
from minisora.models.video_vae import CausalVideoVAE, VideoVAEConfig
from minisora.models.vit import ViT, ViTConfig
from minisora.models.vivit import ViViT, ViViTConfig

for _network, _config in ((CausalVideoVAE, VideoVAEConfig), (CLIPModel, CLIPConfig), (DiT, DiTConfig),
                          (TextToVideoModel, TextToVideoConfig), (UNet, UNetConfig), (VAE, VAEConfig),
                          (VideoDiT, VideoDiTConfig), (ViT, ViTConfig), (ViViT, ViViTConfig)):
    register_network(_network, _config)

__all__ = ["load_model"]
