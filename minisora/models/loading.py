"""Rebuild a network from a checkpoint written by `minisora.core.save_checkpoint` (lessons 06-09)."""

from __future__ import annotations

import pathlib

import torch
from torch import nn

from minisora.core.checkpoint import read_checkpoint
from minisora.models.dit import DiT, DiTConfig
from minisora.models.unet import UNet, UNetConfig
from minisora.models.vae import VAE, VAEConfig
from minisora.models.vit import ViT, ViTConfig
from minisora.models.vivit import ViViT, ViViTConfig

NETWORKS = {"DiT": (DiT, DiTConfig), "UNet": (UNet, UNetConfig), "VAE": (VAE, VAEConfig), "ViT": (ViT, ViTConfig),
            "ViViT": (ViViT, ViViTConfig)}


def load_model(path: str | pathlib.Path, expect: type[nn.Module] | None = None,
               device: torch.device | str = "cpu") -> nn.Module:
    """The network saved at `path`, with its config and weights, in eval mode on `device`.

    `expect` (e.g. VAE) turns "the file holds some other network" into a clear error.
    The checkpoint's metadata is kept on the network as `.checkpoint_metadata`.
    """
    checkpoint = read_checkpoint(path)
    name = checkpoint["class"]
    if name not in NETWORKS:
        raise ValueError(f"{path} holds a {name}, which minisora.models cannot build; known: {sorted(NETWORKS)}")
    network_class, config_class = NETWORKS[name]
    if expect is not None and network_class is not expect:
        raise ValueError(f"{path} holds a {name}, not a {expect.__name__}; pass the path of a {expect.__name__} checkpoint")
    model = network_class(config_class(**checkpoint["config"]))
    missing, unexpected = model.load_state_dict(checkpoint["state_dict"], strict=False)
    if missing or unexpected:
        raise ValueError(f"{path}: the weights do not fit a {name} built from the saved config "
                         f"(missing {missing[:3]}, unexpected {unexpected[:3]}); was the file edited or truncated?")
    model.checkpoint_metadata = checkpoint["metadata"]
    return model.to(device).eval()
