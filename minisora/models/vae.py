"""A KL-regularized convolutional autoencoder, Stable Diffusion's first stage (lesson 03).

Rombach et al. 2022 ("High-Resolution Image Synthesis with Latent Diffusion Models",
section 3 and appendix G): an encoder maps x (B, C, H, W) to a diagonal Gaussian over
latents (B, C_lat, H/f, W/f); a decoder maps a latent back to pixels. Training minimizes a
reconstruction loss plus a small β·KL(q(z|x) || N(0, I)) (Kingma & Welling 2014, eq. 10),
which keeps the latent space smooth without forcing it to be a unit Gaussian. Diffusion
then runs on latents that are f² / C_lat·C times smaller than the pixels.

The autoencoder interface (every autoencoder in minisora has it, so the image VAE here
and the video VAE of lesson 07 are interchangeable to the model that consumes them):

    encode(x)        frames (B, C, H, W) or videos (B, F, C, H, W) in [-1, 1] -> latents
                     (B, C_lat, h, w) or (B, F', C_lat, h, w); this VAE codes every frame alone (F' = F)
    decode(latent)   the inverse shapes, pixels roughly in [-1, 1]
    latent_shape(num_frames, height, width)   a video's latent shape without the batch
                     (and latent_shape(height, width) for one frame)
    shift_factor, scaling_factor   latent = (z - shift_factor) * scaling_factor

The last line is diffusers' convention (`AutoencoderKL.config.shift_factor` and
`scaling_factor`): the two are measured from data so the diffusion model sees latents of
mean 0 and std 1. SD v1 used shift 0 and scale 0.18215; SD3 measured both. Each is one
number (a 0-d buffer) or one per latent channel (shape (C_lat,)), saved with the weights.
`fit_scaling_factor` is lesson 03's measurement (shift 0, one scale);
`fit_shift_and_scale` measures both. Pixels go between [0, 1] (videos) and [-1, 1] (this
VAE) with `minisora.core.to_model_range` / `to_pixel_range`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from einops import rearrange
from torch import Tensor, nn

from minisora.blocks import AttentionBlock, ResBlock
from minisora.blocks.patching import nearest_multiples
from minisora.core.checks import check_float_input, check_int
from minisora.core.config import Presets, configure
from minisora.core.pixels import off_background


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
        for name in ("in_channels", "latent_channels", "base_channels", "num_res_blocks", "num_heads", "num_groups"):
            check_int(getattr(self, name), name, minimum=1)
        if not self.channel_mults or min(self.channel_mults) < 1:
            raise ValueError(f"channel_mults must be a non-empty tuple of positive ints, got {self.channel_mults}")
        widths = [self.base_channels * m for m in self.channel_mults]
        if any(w % self.num_groups for w in widths):
            raise ValueError(f"every level's channels {widths} must be divisible by num_groups={self.num_groups}")

    @property
    def factor(self) -> int:
        """The spatial down-sampling factor f: a latent is (C_lat, H / f, W / f)."""
        return 2 ** (len(self.channel_mults) - 1)


def check_latent_shape_args(size: tuple) -> tuple[int, int]:
    """(height, width) of `latent_shape(num_frames, height, width)` or `latent_shape(height, width)`'s arguments,
    each checked to be a positive int (every autoencoder's latent_shape takes the same arguments)."""
    if len(size) not in (2, 3):
        raise ValueError(f"latent_shape takes (num_frames, height, width) or (height, width), got {size}")
    names = ("num_frames", "height", "width")[3 - len(size):]
    for name, value in zip(names, size):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    return size[-2], size[-1]


VAE_PRESETS = Presets("VAE", {
    "tiny": VAEConfig(base_channels=16, channel_mults=(1, 2), latent_channels=4),  # f = 2, tests
    "f4": VAEConfig(base_channels=16, channel_mults=(1, 2, 2), latent_channels=4),  # 32x32 -> 4x8x8, on a CPU
    "f8": VAEConfig(base_channels=32, channel_mults=(1, 2, 2, 4), latent_channels=8),  # 64x64 -> 8x8x8
})


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
    """Encoder + Gaussian latent + decoder. Pixels in [-1, 1]; `encode`/`decode` use shifted, scaled latents."""

    def __init__(self, config: VAEConfig | None = None, **overrides) -> None:
        super().__init__()
        cfg = configure(VAEConfig, config, overrides)
        self.config = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)
        # Buffers, so they are saved with the weights: latent = (z - shift_factor) * scaling_factor.
        # The identity until a fit measures them; 0-d (one number) or (C_lat,) (one per channel).
        self.register_buffer("shift_factor", torch.tensor(0.0))
        self.register_buffer("scaling_factor", torch.tensor(1.0))

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs) -> None:
        """Load the latent statistics whatever their saved shape, and checkpoints from before the shift.

        1. A checkpoint's shift and scale may be 0-d or per channel (C_lat,) whatever this VAE
           holds now, so the buffers take the saved shape before torch copies into them.
        2. Checkpoints written before issue 12 (data/vae_f4_32px.pt among them) have a 0-d
           `scaling_factor` and no `shift_factor`: they meant latent = z * scaling_factor,
           which is shift 0, so the missing shift loads as 0. Any other missing key stays an error.
        """
        shift_key, scale_key = prefix + "shift_factor", prefix + "scaling_factor"
        if scale_key in state_dict and shift_key not in state_dict and state_dict[scale_key].ndim == 0:
            state_dict[shift_key] = torch.zeros(())  # the layout before issue 12: no shift
        for name in ("shift_factor", "scaling_factor"):
            saved = state_dict.get(prefix + name)
            current = getattr(self, name)
            allowed = {(), (self.config.latent_channels,)}  # another shape: torch reports the size mismatch
            if isinstance(saved, Tensor) and saved.shape != current.shape and tuple(saved.shape) in allowed:
                setattr(self, name, torch.zeros(saved.shape, dtype=current.dtype, device=current.device))
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)

    def check_input(self, x: Tensor) -> None:
        """A ValueError naming a wrong rank, channel count or a size f does not divide, with the fix."""
        cfg = self.config
        if not isinstance(x, Tensor):
            raise ValueError(f"x must be a tensor of frames (B, {cfg.in_channels}, H, W) or videos "
                             f"(B, F, {cfg.in_channels}, H, W), got {type(x).__name__}")
        check_float_input(x, "x", next(self.parameters()))
        if x.ndim not in (4, 5) or x.shape[-3] != cfg.in_channels:
            hint = ""
            if x.ndim == 5 and x.shape[1] == cfg.in_channels:
                hint = "; is it Conv3d's (B, C, F, H, W)? minisora's videos are (B, F, C, H, W): x.transpose(1, 2)"
            raise ValueError(f"expected frames (B, {cfg.in_channels}, H, W) or videos (B, F, {cfg.in_channels}, H, W), "
                             f"got {tuple(x.shape)}{hint}")
        f = cfg.factor
        for name, size in (("height", x.shape[-2]), ("width", x.shape[-1])):
            if size % f:
                raise ValueError(f"{name}={size} is not divisible by the VAE's factor {f}; "
                                 f"use {nearest_multiples(size, f)}")

    def latent_shape(self, *size: int) -> tuple[int, ...]:
        """The shape `encode` gives, without the batch.

        latent_shape(num_frames, height, width) -> (F, C_lat, H / f, W / f): a video's latent
        (the interface every autoencoder shares; this one codes each frame alone).
        latent_shape(height, width) -> (C_lat, H / f, W / f): one frame's (lesson 03's form).
        """
        height, width = check_latent_shape_args(size)
        self.check_input(torch.empty(1, self.config.in_channels, height, width, device="meta",
                                     dtype=next(self.parameters()).dtype))
        f = self.config.factor
        return (*size[:-2], self.config.latent_channels, height // f, width // f)

    def posterior(self, x: Tensor) -> DiagonalGaussian:
        """q(z | x) for frames x (B, C, H, W) in [-1, 1] (unshifted, unscaled latents)."""
        self.check_input(x)
        if x.ndim != 4:
            raise ValueError(f"posterior takes frames (B, {self.config.in_channels}, H, W), got {tuple(x.shape)}; "
                             f"fold a video's frames into the batch: rearrange(x, 'B F C H W -> (B F) C H W')")
        return DiagonalGaussian(self.encoder(x))

    def _statistics(self) -> tuple[Tensor, Tensor]:
        """shift_factor and scaling_factor shaped to broadcast over (N, C_lat, h, w): (1 or C_lat, 1, 1) each."""
        return self.shift_factor.reshape(-1, 1, 1), self.scaling_factor.reshape(-1, 1, 1)

    def encode(self, x: Tensor, sample: bool = False, generator: torch.Generator | None = None) -> Tensor:
        """Frames (B, C, H, W) or videos (B, F, C, H, W) in [-1, 1] -> latents (B, [F,] C_lat, H / f, W / f),
        (z - shift_factor) * scaling_factor with z the posterior's mean, or a draw when sample=True."""
        self.check_input(x)
        frames = rearrange(x, "B F C H W -> (B F) C H W") if x.ndim == 5 else x  # (N, C, H, W)
        q = self.posterior(frames)
        z = q.sample(generator) if sample else q.mode()  # (N, C_lat, h, w)
        shift, scale = self._statistics()
        latent = (z - shift) * scale
        return rearrange(latent, "(B F) C h w -> B F C h w", B=x.shape[0]) if x.ndim == 5 else latent

    def decode(self, latent: Tensor) -> Tensor:
        """Latents (B, C_lat, h, w) or (B, F, C_lat, h, w) -> frames (B, C, h f, w f) or videos
        (B, F, C, h f, w f), roughly in [-1, 1]; undoes the shift and scale first."""
        c = self.config.latent_channels
        if not isinstance(latent, Tensor) or latent.ndim not in (4, 5) or latent.shape[-3] != c:
            shape = tuple(latent.shape) if isinstance(latent, Tensor) else type(latent).__name__
            raise ValueError(f"expected latents (B, {c}, h, w) or (B, F, {c}, h, w), got {shape}")
        z = rearrange(latent, "B F C h w -> (B F) C h w") if latent.ndim == 5 else latent  # (N, C_lat, h, w)
        shift, scale = self._statistics()
        frames = self.decoder(z / scale + shift)  # (N, C, H, W)
        return rearrange(frames, "(B F) C H W -> B F C H W", B=latent.shape[0]) if latent.ndim == 5 else frames

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, DiagonalGaussian]:
        """Reconstruction of frames (B, C, H, W) or videos (B, F, C, H, W) from a sampled latent, and the
        posterior (for the KL term; a video's frames folded into its batch, (B F, C_lat, h, w))."""
        self.check_input(x)
        frames = rearrange(x, "B F C H W -> (B F) C H W") if x.ndim == 5 else x  # (N, C, H, W)
        q = self.posterior(frames)
        reconstruction = self.decoder(q.sample(generator))  # (N, C, H, W)
        if x.ndim == 5:
            reconstruction = rearrange(reconstruction, "(B F) C H W -> B F C H W", B=x.shape[0])
        return reconstruction, q

    @torch.no_grad()
    def _latent_means(self, x: Tensor, batch_size: int) -> Tensor:
        """The posterior means (N, C_lat, h, w) of frames or videos x, `batch_size` frames at a time."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        self.check_input(x)
        frames = rearrange(x, "B F C H W -> (B F) C H W") if x.ndim == 5 else x  # (N, C, H, W)
        if len(frames) < 2:
            raise ValueError(f"measuring a spread needs at least 2 frames, got x of shape {tuple(x.shape)}")
        return torch.cat([self.posterior(frames[i : i + batch_size]).mode() for i in range(0, len(frames), batch_size)])

    @torch.no_grad()
    def fit_scaling_factor(self, x: Tensor, batch_size: int = 256) -> float:
        """Lesson 03's measurement: shift_factor = 0, scaling_factor = 1 / std of the latent means
        over frames or videos x (one number, as SD's 0.18215 was); returns the scale."""
        std = self._latent_means(x, batch_size).float().std().item()
        self._set_statistics(torch.tensor(0.0), torch.tensor(1.0 / std))
        return 1.0 / std

    @torch.no_grad()
    def fit_shift_and_scale(
        self, x: Tensor, per_channel: bool = False, batch_size: int = 256
    ) -> tuple[Tensor, Tensor]:
        """Set shift_factor = mean and scaling_factor = 1 / std of the latent means over frames or videos x,
        so the latents have mean 0 and std 1; over all channels (0-d) or per channel ((C_lat,) each).
        Returns (shift_factor, scaling_factor)."""
        if not isinstance(per_channel, bool):
            raise ValueError(f"per_channel must be True or False, got {per_channel!r}")
        z = self._latent_means(x, batch_size).float()  # (N, C_lat, h, w)
        values = rearrange(z, "N C h w -> C (N h w)") if per_channel else z.reshape(1, -1)  # (C_lat or 1, n)
        mean, std = values.mean(dim=1), values.std(dim=1)  # (C_lat or 1,) each
        if not per_channel:
            mean, std = mean[0], std[0]  # 0-d
        if (std == 0).any():
            raise ValueError("the latents do not vary (std 0) over x: fit on frames that differ")
        self._set_statistics(mean, 1.0 / std)
        return self.shift_factor.clone(), self.scaling_factor.clone()

    def _set_statistics(self, shift: Tensor, scale: Tensor) -> None:
        """Store shift and scale (0-d or (C_lat,)) in the buffers: in place when the shape is kept (so
        anything holding the buffers, DDP for one, sees the new values), else as new buffers."""
        for name, value in (("shift_factor", shift), ("scaling_factor", scale)):
            current = getattr(self, name)
            if current.shape == value.shape:
                current.copy_(value)
            else:
                setattr(self, name, value.to(current))  # the buffer's device and dtype


def vae_loss(
    vae: nn.Module, x: Tensor, kl_weight: float = 1e-6, object_weight: float = 0.0,
    generator: torch.Generator | None = None, temporal_weight: float = 0.0,
) -> dict[str, Tensor]:
    """Reconstruction (L1, pixels off the background weighted 1 + object_weight) + kl_weight * KL, per element.

    On these mostly-black frames an object covers ~3% of the pixels: a plain L1 can drop it
    (or keep it as a dim grey blob) and still score well. Weighting the pixels that differ
    from the frame's background makes every object pixel count as much as `1 + object_weight`
    background pixels, so colours and edges survive the bottleneck.

    Any autoencoder whose forward returns (reconstruction of x's shape, posterior) fits: frames
    (B, C, H, W) or videos (B, F, C, H, W) (lesson 07's video VAEs). For videos,
    `temporal_weight` > 0 adds an L1 between the frame differences x[f+1] - x[f] of the
    reconstruction and of the input, which penalizes motion lost or flicker added.
    """
    reconstruction, q = vae(x, generator)
    error = (reconstruction - x).abs()  # (B, [F,] C, H, W)
    if object_weight > 0:
        on_object = off_background(x, 0.1).float()  # (B, [F,] 1, H, W): off each frame's median colour
        error = error * (1.0 + object_weight * on_object)
    recon = error.mean()
    kl = q.kl().sum() / x.numel()  # per pixel element, so kl_weight depends on neither the size nor the frame count
    out = {"loss": recon + kl_weight * kl, "reconstruction": recon, "kl": kl}
    if temporal_weight > 0:
        if x.ndim != 5 or x.shape[1] < 2:
            raise ValueError(f"temporal_weight needs videos (B, F, C, H, W) of 2 or more frames, got {tuple(x.shape)}")
        temporal = (reconstruction.diff(dim=1) - x.diff(dim=1)).abs().mean()
        out["temporal"] = temporal
        out["loss"] = out["loss"] + temporal_weight * temporal
    return out
