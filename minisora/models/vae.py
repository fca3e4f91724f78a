"""A KL-regularized convolutional autoencoder, Stable Diffusion's first stage (lesson 03).

Rombach et al. 2022 ("High-Resolution Image Synthesis with Latent Diffusion Models",
section 3 and appendix G): an encoder maps x (B, C, H, W) to a diagonal Gaussian over
latents (B, C_lat, H/f, W/f); a decoder maps a latent back to pixels. Training minimizes a
reconstruction loss plus a small β·KL(q(z|x) || N(0, I)) (Kingma & Welling 2014, eq. 10),
which keeps the latent space smooth without forcing it to be a unit Gaussian. Diffusion
then runs on latents that are f² / C_lat·C times smaller than the pixels.

The latent is multiplied by a `scaling_factor` measured from data (1 / std of the latents,
as SD's 0.18215 was), so the diffusion model sees latents of unit variance. Every
autoencoder in minisora has this interface: `encode(x) -> latent` (scaled),
`decode(latent) -> x`, and `latent_shape(...)`, so the image VAE here and the video VAE of
lesson 07 are interchangeable to the model that consumes them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from minisora.core.config import configure

from minisora.blocks import AttentionBlock, ResBlock
from minisora.blocks.patching import nearest_multiples


@dataclass
class VAEConfig:
    """Sizes of a VAE. The encoder halves H and W between levels, so f = 2^(len(channel_mults) - 1)."""

    in_channels: int = 3
    latent_channels: int = 4
    base_channels: int = 32
    channel_mults: tuple[int, ...] = (1, 2, 2)
    num_res_blocks: int = 1
    mid_attention: bool = True
    num_heads: int = 4
    num_groups: int = 8

    def __post_init__(self) -> None:
        self.channel_mults = tuple(self.channel_mults)
        if not self.channel_mults or min(self.channel_mults) < 1:
            raise ValueError(f"channel_mults must be a non-empty tuple of positive ints, got {self.channel_mults}")
        widths = [self.base_channels * m for m in self.channel_mults]
        if any(w % self.num_groups for w in widths):
            raise ValueError(f"every level's channels {widths} must be divisible by num_groups={self.num_groups}")

    @property
    def factor(self) -> int:
        """The spatial down-sampling factor f: a latent is (C_lat, H / f, W / f)."""
        return 2 ** (len(self.channel_mults) - 1)


VAE_PRESETS: dict[str, VAEConfig] = {
    "tiny": VAEConfig(base_channels=16, channel_mults=(1, 2), latent_channels=4),  # f = 2, tests
    "f4": VAEConfig(base_channels=16, channel_mults=(1, 2, 2), latent_channels=4),  # 32x32 -> 4x8x8, on a CPU
    "f8": VAEConfig(base_channels=32, channel_mults=(1, 2, 2, 4), latent_channels=8),  # 64x64 -> 8x8x8
}


class DiagonalGaussian:
    """q(z | x) = N(mean, diag(exp(logvar))): sample by reparameterization, KL to N(0, I)."""

    def __init__(self, moments: Tensor) -> None:
        self.mean, logvar = moments.chunk(2, dim=1)  # (B, C_lat, h, w) each
        # Clamped as in SD: a wild early logvar must not overflow exp().
        self.logvar = logvar.clamp(-30.0, 20.0)
        self.std = torch.exp(0.5 * self.logvar)

    def sample(self, generator: torch.Generator | None = None) -> Tensor:
        """z = mean + std * ε, ε ~ N(0, I) (the reparameterization trick, Kingma & Welling eq. 10)."""
        noise = torch.randn(self.mean.shape, generator=generator, device=self.mean.device, dtype=self.mean.dtype)
        return self.mean + self.std * noise

    def mode(self) -> Tensor:
        return self.mean

    def kl(self) -> Tensor:
        """KL(q || N(0, I)) per sample, summed over latent elements: ½ Σ (μ² + σ² - 1 - log σ²). Shape (B,)."""
        return 0.5 * (self.mean.pow(2) + self.logvar.exp() - 1.0 - self.logvar).flatten(1).sum(dim=1)


class Encoder(nn.Module):
    """x (B, C, H, W) -> moments (B, 2 C_lat, H / f, W / f)."""

    def __init__(self, cfg: VAEConfig) -> None:
        super().__init__()
        widths = [cfg.base_channels * m for m in cfg.channel_mults]
        self.conv_in = nn.Conv2d(cfg.in_channels, widths[0], 3, padding=1)
        layers, ch = [], widths[0]
        for i, width in enumerate(widths):
            for _ in range(cfg.num_res_blocks):
                layers.append(ResBlock(ch, width, None, cfg.num_groups))
                ch = width
            if i < len(widths) - 1:
                layers.append(nn.Conv2d(ch, ch, 3, stride=2, padding=1))  # (B, C, H / 2, W / 2)
        layers += [ResBlock(ch, ch, None, cfg.num_groups)]
        layers += [AttentionBlock(ch, cfg.num_heads, cfg.num_groups) if cfg.mid_attention else nn.Identity()]
        layers += [ResBlock(ch, ch, None, cfg.num_groups), nn.GroupNorm(cfg.num_groups, ch), nn.SiLU()]
        self.layers = nn.Sequential(*layers)
        self.conv_out = nn.Conv2d(ch, 2 * cfg.latent_channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv_out(self.layers(self.conv_in(x)))


class Decoder(nn.Module):
    """z (B, C_lat, h, w) -> x (B, C, h f, w f)."""

    def __init__(self, cfg: VAEConfig) -> None:
        super().__init__()
        widths = [cfg.base_channels * m for m in cfg.channel_mults]
        ch = widths[-1]
        self.conv_in = nn.Conv2d(cfg.latent_channels, ch, 3, padding=1)
        layers = [ResBlock(ch, ch, None, cfg.num_groups)]
        layers += [AttentionBlock(ch, cfg.num_heads, cfg.num_groups) if cfg.mid_attention else nn.Identity()]
        layers += [ResBlock(ch, ch, None, cfg.num_groups)]
        for i, width in reversed(list(enumerate(widths))):
            for _ in range(cfg.num_res_blocks + 1):  # one more than the encoder, as in SD
                layers.append(ResBlock(ch, width, None, cfg.num_groups))
                ch = width
            if i > 0:
                layers += [nn.Upsample(scale_factor=2.0, mode="nearest"), nn.Conv2d(ch, ch, 3, padding=1)]
        layers += [nn.GroupNorm(cfg.num_groups, ch), nn.SiLU()]
        self.layers = nn.Sequential(*layers)
        self.conv_out = nn.Conv2d(ch, cfg.in_channels, 3, padding=1)

    def forward(self, z: Tensor) -> Tensor:
        return self.conv_out(self.layers(self.conv_in(z)))


class VAE(nn.Module):
    """Encoder + Gaussian latent + decoder. Pixels in [-1, 1]; `encode`/`decode` use scaled latents."""

    def __init__(self, config: VAEConfig | None = None, **overrides) -> None:
        super().__init__()
        cfg = configure(VAEConfig, config, overrides)
        self.config = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)
        # A buffer, so it is saved with the weights; 1.0 until fit_scaling_factor measures it.
        self.register_buffer("scaling_factor", torch.tensor(1.0))

    def check_input(self, x: Tensor) -> None:
        """A ValueError naming a wrong rank, channel count or a size f does not divide, with the fix."""
        cfg = self.config
        if x.ndim != 4 or x.shape[1] != cfg.in_channels:
            hint = "; for a video (B, F, C, H, W) fold the frames into the batch first" if x.ndim == 5 else ""
            raise ValueError(f"expected images (B, {cfg.in_channels}, H, W), got {tuple(x.shape)}{hint}")
        f = cfg.factor
        for name, size in (("height", x.shape[2]), ("width", x.shape[3])):
            if size % f:
                raise ValueError(f"{name}={size} is not divisible by the VAE's factor {f}; "
                                 f"use {nearest_multiples(size, f)}")

    def latent_shape(self, height: int, width: int) -> tuple[int, int, int]:
        """(C_lat, H / f, W / f) of an image of this size."""
        f = self.config.factor
        self.check_input(torch.empty(1, self.config.in_channels, height, width, device="meta"))
        return (self.config.latent_channels, height // f, width // f)

    def posterior(self, x: Tensor) -> DiagonalGaussian:
        """q(z | x) for images x (B, C, H, W) in [-1, 1] (unscaled latents)."""
        self.check_input(x)
        return DiagonalGaussian(self.encoder(x))

    def encode(self, x: Tensor, sample: bool = False, generator: torch.Generator | None = None) -> Tensor:
        """Images (B, C, H, W) in [-1, 1] -> scaled latents (B, C_lat, H / f, W / f); the mean unless sample=True."""
        q = self.posterior(x)
        z = q.sample(generator) if sample else q.mode()
        return z * self.scaling_factor

    def decode(self, latent: Tensor) -> Tensor:
        """Scaled latents (B, C_lat, h, w) -> images (B, C, h f, w f), roughly in [-1, 1]."""
        if latent.ndim != 4 or latent.shape[1] != self.config.latent_channels:
            raise ValueError(f"expected latents (B, {self.config.latent_channels}, h, w), got {tuple(latent.shape)}")
        return self.decoder(latent / self.scaling_factor)

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, DiagonalGaussian]:
        """Reconstruction from a sampled latent, and the posterior (for the KL term)."""
        q = self.posterior(x)
        return self.decoder(q.sample(generator)), q

    @torch.no_grad()
    def fit_scaling_factor(self, x: Tensor, batch_size: int = 256) -> float:
        """Set scaling_factor = 1 / std of the (unscaled) latent means over images x; returns it."""
        means = [self.posterior(x[i : i + batch_size]).mode() for i in range(0, len(x), batch_size)]
        std = torch.cat(means).float().std().item()
        self.scaling_factor.fill_(1.0 / std)
        return 1.0 / std


def vae_loss(
    vae: VAE, x: Tensor, kl_weight: float = 1e-6, object_weight: float = 0.0, generator: torch.Generator | None = None
) -> dict[str, Tensor]:
    """Reconstruction (L1, pixels off the background weighted 1 + object_weight) + kl_weight * KL, per element.

    On these mostly-black frames an object covers ~3% of the pixels: a plain L1 can drop it
    (or keep it as a dim grey blob) and still score well. Weighting the pixels that differ
    from the frame's background makes every object pixel count as much as `1 + object_weight`
    background pixels, so colours and edges survive the bottleneck.
    """
    reconstruction, q = vae(x, generator)
    error = (reconstruction - x).abs()  # (B, C, H, W)
    if object_weight > 0:
        background = x.flatten(2).median(dim=2).values[..., None, None]  # (B, C, 1, 1): the most common colour
        on_object = ((x - background).abs().amax(dim=1, keepdim=True) > 0.1).float()  # (B, 1, H, W)
        error = error * (1.0 + object_weight * on_object)
    recon = error.mean()
    kl = q.kl().mean() / x[0].numel()  # per pixel element, so kl_weight does not depend on the image size
    return {"loss": recon + kl_weight * kl, "reconstruction": recon, "kl": kl}
