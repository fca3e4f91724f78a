"""A causal 3-D convolutional VAE that compresses time as well as space (lesson 07).

Lesson 03's VAE codes each frame alone: a 17-frame clip becomes 17 latent frames. Video
latent-diffusion models compress time too, with 3-D convolutions that are *causal* in
time (MAGVIT-v2, Yu et al. 2023, section 3.1; Open-Sora-Plan's CausalVideoVAE, 2024;
CogVideoX, Yang et al. 2024, section 2.1): the first frame is coded alone, so a single
image is a 1-frame video, and every later group of t frames becomes one latent frame.

    frame-count rule   num_frames = 1 + k t  (k >= 0, t = temporal_factor)  ->  1 + k latent frames
                       t = 4: 1, 5, 9, 13, 17, ... frames -> 1, 2, 3, 4, 5 latent frames
                       t = 2: 1, 3, 5, ... frames         -> 1, 2, 3 latent frames
    temporal blocks    latent frame 0 <- frame 0; latent frame j >= 1 <- frames (j-1) t + 1 .. j t
                       (and, through the kernels, earlier frames, never later ones)

The network is lesson 03's encoder and decoder with every Conv2d made a `CausalConv3d`
(kernel 3 in time), norms and attention applied per frame, and the first log2(t)
down-samplings (and the last up-samplings) also halving (doubling) time. It has the
autoencoder interface of `minisora.models.vae`: `encode`/`decode` for videos
(B, F, C, H, W) in [-1, 1] (and frames (B, C, H, W), which are 1-frame videos),
`latent_shape(num_frames, height, width)`, and per-channel `shift_factor` /
`scaling_factor` buffers fitted from data (`fit_shift_and_scale`), saved with the weights.

Initialization from the 2-D VAE (`inflate_vae`). Each 2-D kernel becomes a 3-D kernel
with all its weight on the newest frame ("tail"; Open-Sora-Plan converts SD's image VAE
this way). Because the padding in time repeats the first frame, a tail kernel at time t
reads exactly frame t, so the inflated network at init *is* the 2-D VAE applied per frame:
latent j is the 2-D latent of frame j t (the last frame of its block), and every decoded
frame of block j is the 2-D decoding of latent j. Training then only has to learn what the
zero taps add (motion within a block). A "central" kernel (lesson 05's choice for
tubelets) would read frame t - 1 at every layer, so the untrained model would lag the
video by one frame per layer; "average" would blur every layer over three frames.

Chunked coding (`encode(x, chunk_frames=n)`, `decode(z, chunk_frames=n)`): frame 0 plus
n frames, then n frames at a time (n a multiple of t), each causal conv carrying the last
frames of the previous chunk (`minisora.blocks.causal_conv.streaming`). Since nothing
looks ahead and norms are per frame, chunked equals whole up to float rounding (~1e-6),
for any clip length; memory grows with n, not with the clip. What it does not cover: a
chunk that cuts a temporal block is refused (its strided convs would start out of step);
a design with norms over the whole clip (CogVideoX's GroupNorm over time) or with
attention across frames would not be exact chunk by chunk; and `forward` (training)
always runs the whole clip.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from einops import rearrange
from torch import Tensor, nn

from minisora.blocks.causal_conv import (
    CausalConv3d,
    CausalResBlock,
    CausalUpsample,
    FrameAttentionBlock,
    FrameGroupNorm,
    inflate_conv_weight,
    streaming,
)
from minisora.blocks.patching import nearest_multiples
from minisora.core.config import Presets, configure
from minisora.models.vae import VAE, DiagonalGaussian, VAEConfig, check_latent_shape_args

# The VAEConfig fields a 2-D VAE must share with the video VAE it is inflated into.
SHARED_FIELDS = ("in_channels", "base_channels", "channel_mults", "num_res_blocks", "mid_attention", "num_heads",
                 "num_groups")


@dataclass
class VideoVAEConfig(VAEConfig):
    """Sizes of a causal video VAE: lesson 03's VAEConfig (fields and checks) plus the temporal factor and kernel."""

    base_channels: int = 16
    temporal_factor: int = 4  # t: 1 + k t frames -> 1 + k latent frames; a power of 2, at most the spatial factor
    kernel_t: int = 3  # every conv's kernel length in time

    def __post_init__(self) -> None:
        super().__post_init__()
        t = self.temporal_factor
        if isinstance(t, bool) or not isinstance(t, int) or t < 1 or t & (t - 1) or t > self.factor:
            raise ValueError(f"temporal_factor must be a power of 2 from 1 to the spatial factor {self.factor} (one "
                             f"halving of time per down-sampling), got {t!r}")
        if not isinstance(self.kernel_t, int) or self.kernel_t < (2 if t > 1 else 1):
            raise ValueError(f"kernel_t must be an int >= {2 if t > 1 else 1} (a stride-2 conv in time needs a "
                             f"kernel of 2 or more), got {self.kernel_t!r}")

    @property
    def temporal_levels(self) -> int:
        """How many down-samplings also halve time: log2(temporal_factor)."""
        return int(math.log2(self.temporal_factor))


VIDEO_VAE_PRESETS = Presets("video VAE", {
    "tiny": VideoVAEConfig(base_channels=8, channel_mults=(1, 2), num_heads=2, num_groups=4, temporal_factor=2),
    # VAE_PRESETS["f4"]'s sizes, so data/vae_f4_32px.pt inflates into them: 17x32x32 -> (5 or 9) x 4 x 8 x 8.
    "f4t2": VideoVAEConfig(temporal_factor=2),
    "f4t4": VideoVAEConfig(temporal_factor=4),
    "f4t4c8": VideoVAEConfig(temporal_factor=4, latent_channels=8),  # twice the latent, the extra channels start unused
})


class CausalEncoder(nn.Module):
    """x (B, C, F, H, W) -> moments (B, 2 C_lat, 1 + (F - 1) / t, H / f, W / f); lesson 03's Encoder in 3-D."""

    def __init__(self, cfg: VideoVAEConfig) -> None:
        super().__init__()
        kt, widths = cfg.kernel_t, [cfg.base_channels * m for m in cfg.channel_mults]
        # The same layout (and parameter names) as vae.Encoder, so a 2-D VAE's weights map one to one.
        self.conv_in = CausalConv3d(cfg.in_channels, widths[0], (kt, 3, 3))
        layers, ch = [], widths[0]
        for i, width in enumerate(widths):
            for _ in range(cfg.num_res_blocks):
                layers.append(CausalResBlock(ch, width, cfg.num_groups, kt))
                ch = width
            if i < len(widths) - 1:
                st = 2 if i < cfg.temporal_levels else 1  # the first log2(t) down-samplings halve time too
                layers.append(CausalConv3d(ch, ch, (kt, 3, 3), stride=(st, 2, 2)))  # (B, C, F', H / 2, W / 2)
        layers += [CausalResBlock(ch, ch, cfg.num_groups, kt)]
        layers += [FrameAttentionBlock(ch, cfg.num_heads, cfg.num_groups) if cfg.mid_attention else nn.Identity()]
        layers += [CausalResBlock(ch, ch, cfg.num_groups, kt), FrameGroupNorm(cfg.num_groups, ch), nn.SiLU()]
        self.layers = nn.Sequential(*layers)
        self.conv_out = CausalConv3d(ch, 2 * cfg.latent_channels, (kt, 3, 3))

    def forward(self, x: Tensor) -> Tensor:
        return self.conv_out(self.layers(self.conv_in(x)))


class CausalDecoder(nn.Module):
    """z (B, C_lat, F', h, w) -> x (B, C, 1 + (F' - 1) t, h f, w f); lesson 03's Decoder in 3-D."""

    def __init__(self, cfg: VideoVAEConfig) -> None:
        super().__init__()
        kt, widths = cfg.kernel_t, [cfg.base_channels * m for m in cfg.channel_mults]
        ch = widths[-1]
        self.conv_in = CausalConv3d(cfg.latent_channels, ch, (kt, 3, 3))
        layers = [CausalResBlock(ch, ch, cfg.num_groups, kt)]
        layers += [FrameAttentionBlock(ch, cfg.num_heads, cfg.num_groups) if cfg.mid_attention else nn.Identity()]
        layers += [CausalResBlock(ch, ch, cfg.num_groups, kt)]
        for i, width in reversed(list(enumerate(widths))):
            for _ in range(cfg.num_res_blocks + 1):
                layers.append(CausalResBlock(ch, width, cfg.num_groups, kt))
                ch = width
            if i > 0:  # mirrors the encoder's down-sampling i - 1, time included
                layers += [CausalUpsample(time=i - 1 < cfg.temporal_levels), CausalConv3d(ch, ch, (kt, 3, 3))]
        layers += [FrameGroupNorm(cfg.num_groups, ch), nn.SiLU()]
        self.layers = nn.Sequential(*layers)
        self.conv_out = CausalConv3d(ch, cfg.in_channels, (kt, 3, 3))

    def forward(self, z: Tensor) -> Tensor:
        return self.conv_out(self.layers(self.conv_in(z)))


def _chunks(total: int, first: int, size: int) -> list[tuple[int, int]]:
    """[start, end) ranges: the first `first` items, then `size` at a time."""
    bounds = [(0, min(first, total))]
    while bounds[-1][1] < total:
        bounds.append((bounds[-1][1], min(bounds[-1][1] + size, total)))
    return bounds


class CausalVideoVAE(nn.Module):
    """Causal 3-D conv encoder + Gaussian latent + decoder; videos (B, F, C, H, W) in [-1, 1], F = 1 + k t."""

    def __init__(self, config: VideoVAEConfig | None = None, **overrides) -> None:
        super().__init__()
        cfg = configure(VideoVAEConfig, config, overrides)
        self.config = cfg
        self.encoder = CausalEncoder(cfg)
        self.decoder = CausalDecoder(cfg)
        # latent = (z - shift_factor) * scaling_factor, one number per latent channel; the identity until fitted.
        self.register_buffer("shift_factor", torch.zeros(cfg.latent_channels))
        self.register_buffer("scaling_factor", torch.ones(cfg.latent_channels))
        # Weights: PyTorch's default (Kaiming-uniform) init, as lesson 03's VAE; `inflate_vae` starts from a 2-D VAE.

    # -- shapes and checks --------------------------------------------------------------------------
    def num_latent_frames(self, num_frames: int) -> int:
        """1 + (num_frames - 1) / t; a ValueError naming the nearest valid counts when t does not divide
        num_frames - 1."""
        t = self.config.temporal_factor
        if isinstance(num_frames, bool) or not isinstance(num_frames, int) or num_frames < 1:
            raise ValueError(f"num_frames must be a positive int, got {num_frames!r}")
        if (num_frames - 1) % t:
            low = 1 + (num_frames - 1) // t * t
            raise ValueError(f"num_frames={num_frames} is not 1 + a multiple of the temporal factor {t} (frame 0 "
                             f"alone, then blocks of {t}); use num_frames={low} or {low + t}")
        return 1 + (num_frames - 1) // t

    def num_frames(self, num_latent_frames: int) -> int:
        """The frames `decode` gives for this many latent frames: 1 + (F' - 1) t."""
        return 1 + (num_latent_frames - 1) * self.config.temporal_factor

    def check_input(self, x: Tensor) -> None:
        """A ValueError naming a wrong type, dtype, rank, channel count, frame count or a size f does not divide."""
        c = self.config.in_channels
        if not isinstance(x, Tensor):
            raise ValueError(f"x must be a tensor of videos (B, F, {c}, H, W) or frames (B, {c}, H, W), "
                             f"got {type(x).__name__}")
        if not x.is_floating_point():
            raise ValueError(f"x must be a float tensor in [-1, 1], got dtype {x.dtype}; for uint8 videos use "
                             "minisora.core.to_model_range(x.float() / 255)")
        if x.ndim not in (4, 5) or x.shape[-3] != c:
            hint = ""
            if x.ndim == 5 and x.shape[1] == c:
                hint = "; is it Conv3d's (B, C, F, H, W)? minisora's videos are (B, F, C, H, W): x.transpose(1, 2)"
            raise ValueError(f"x must be videos (B, F, {c}, H, W) or frames (B, {c}, H, W), got {tuple(x.shape)}{hint}")
        f = self.config.factor
        for name, size in (("height", x.shape[-2]), ("width", x.shape[-1])):
            if size % f:
                raise ValueError(f"{name}={size} is not divisible by the VAE's factor {f}; use "
                                 f"{nearest_multiples(size, f)}")
        if x.ndim == 5:
            self.num_latent_frames(x.shape[1])

    def latent_shape(self, *size: int) -> tuple[int, ...]:
        """(F', C_lat, H / f, W / f) for latent_shape(num_frames, height, width); (C_lat, H / f, W / f)
        for one frame."""
        height, width = check_latent_shape_args(size)
        self.check_input(torch.empty(1, size[0] if len(size) == 3 else 1, self.config.in_channels, height, width,
                                     device="meta"))
        f = self.config.factor
        frames = (self.num_latent_frames(size[0]),) if len(size) == 3 else ()
        return (*frames, self.config.latent_channels, height // f, width // f)

    def _check_chunk(self, chunk_frames: int | None) -> None:
        t = self.config.temporal_factor
        if chunk_frames is not None and (isinstance(chunk_frames, bool) or not isinstance(chunk_frames, int)
                                         or chunk_frames < 1 or chunk_frames % t):
            raise ValueError(f"chunk_frames must be None (all at once) or a positive multiple of the temporal factor "
                             f"{t} (frames per chunk after frame 0), got {chunk_frames!r}")

    # -- coding -------------------------------------------------------------------------------------
    def _moments(self, x: Tensor, chunk_frames: int | None) -> Tensor:
        """Videos (B, F, C, H, W) -> moments (B, 2 C_lat, F', h, w), all at once or chunk by chunk."""
        video = rearrange(x, "B F C H W -> B C F H W")  # Conv3d's layout
        if chunk_frames is None:
            return self.encoder(video)
        with streaming(self.encoder):
            parts = [self.encoder(video[:, :, a:b]) for a, b in _chunks(video.shape[2], 1 + chunk_frames, chunk_frames)]
        return torch.cat(parts, dim=2)

    def posterior(self, x: Tensor, chunk_frames: int | None = None) -> DiagonalGaussian:
        """q(z | x) for videos x (B, F, C, H, W): the latent frames folded into the batch, mean (B F', C_lat, h, w)."""
        self.check_input(x)
        self._check_chunk(chunk_frames)
        video = x if x.ndim == 5 else x[:, None]  # a frame is a 1-frame video
        moments = self._moments(video, chunk_frames)  # (B, 2 C_lat, F', h, w)
        return DiagonalGaussian(rearrange(moments, "B C F h w -> (B F) C h w"))

    def encode(self, x: Tensor, sample: bool = False, generator: torch.Generator | None = None,
               chunk_frames: int | None = None) -> Tensor:
        """Videos (B, F, C, H, W) (or frames (B, C, H, W)) in [-1, 1] -> latents (B, F', C_lat, h, w) (or
        (B, C_lat, h, w)), (z - shift_factor) * scaling_factor; z the posterior mean, or a draw when sample=True."""
        q = self.posterior(x, chunk_frames)
        z = q.sample(generator) if sample else q.mode()  # (B F', C_lat, h, w)
        latent = (z - self.shift_factor[:, None, None]) * self.scaling_factor[:, None, None]
        return rearrange(latent, "(B F) C h w -> B F C h w", B=x.shape[0]) if x.ndim == 5 else latent

    def decode(self, latent: Tensor, chunk_frames: int | None = None) -> Tensor:
        """Latents (B, F', C_lat, h, w) (or (B, C_lat, h, w)) -> videos (B, 1 + (F' - 1) t, C, h f, w f) (or frames),
        roughly in [-1, 1]; undoes the shift and scale first. `chunk_frames`: output frames per chunk after frame 0."""
        c = self.config.latent_channels
        if not isinstance(latent, Tensor) or latent.ndim not in (4, 5) or latent.shape[-3] != c:
            shape = tuple(latent.shape) if isinstance(latent, Tensor) else type(latent).__name__
            raise ValueError(f"latent must be (B, F', {c}, h, w) or (B, {c}, h, w), got {shape}")
        if not latent.is_floating_point():
            raise ValueError(f"latent must be a float tensor, got dtype {latent.dtype}")
        self._check_chunk(chunk_frames)
        z = latent if latent.ndim == 5 else latent[:, None]  # (B, F', C_lat, h, w)
        z = z / self.scaling_factor[:, None, None] + self.shift_factor[:, None, None]
        z = rearrange(z, "B F C h w -> B C F h w")  # Conv3d's layout
        if chunk_frames is None:
            video = self.decoder(z)  # (B, C, F, H, W)
        else:
            per_chunk = chunk_frames // self.config.temporal_factor  # latent frames per chunk after latent 0
            with streaming(self.decoder):
                video = torch.cat([self.decoder(z[:, :, a:b])
                                   for a, b in _chunks(z.shape[2], 1 + per_chunk, per_chunk)], dim=2)
        video = rearrange(video, "B C F H W -> B F C H W")
        return video if latent.ndim == 5 else video[:, 0]

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, DiagonalGaussian]:
        """Reconstruction of videos (B, F, C, H, W) from a sampled latent, and the posterior (for the KL term)."""
        q = self.posterior(x)
        z = rearrange(q.sample(generator), "(B F) C h w -> B C F h w", B=x.shape[0])
        video = rearrange(self.decoder(z), "B C F H W -> B F C H W")
        return (video if x.ndim == 5 else video[:, 0]), q

    # -- latent statistics ----------------------------------------------------------------------------
    @torch.no_grad()
    def fit_shift_and_scale(self, x: Tensor, per_channel: bool = True, batch_size: int = 8) -> tuple[Tensor, Tensor]:
        """Set shift_factor = mean and scaling_factor = 1 / std of the latent means over videos x, per latent channel
        (or one number for all, per_channel=False), so the latents have mean 0 and std 1; `batch_size` clips at a time.
        Returns (shift_factor, scaling_factor), each (C_lat,)."""
        if not isinstance(per_channel, bool):
            raise ValueError(f"per_channel must be True or False, got {per_channel!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        self.check_input(x)
        z = torch.cat([self.posterior(x[i : i + batch_size]).mode() for i in range(0, len(x), batch_size)]).float()
        values = rearrange(z, "N C h w -> C (N h w)") if per_channel else z.reshape(1, -1)  # (C_lat or 1, n)
        if values.shape[1] < 2:
            raise ValueError(f"measuring a spread needs at least 2 latent values, got x of shape {tuple(x.shape)}")
        mean, std = values.mean(dim=1), values.std(dim=1)
        if (std == 0).any():
            raise ValueError("the latents do not vary (std 0) over x: fit on videos that differ")
        c = self.config.latent_channels
        self.shift_factor.copy_(mean.expand(c))
        self.scaling_factor.copy_((1.0 / std).expand(c))
        return self.shift_factor.clone(), self.scaling_factor.clone()


def inflate_vae(vae: VAE, config: VideoVAEConfig | None = None, inflation: str = "tail",
                **overrides) -> CausalVideoVAE:
    """A CausalVideoVAE started from a trained 2-D `vae`: every Conv2d kernel inflated in time (`inflation`: "tail",
    all weight on the newest frame, which makes the new model equal the 2-D VAE per frame at init; or "central" /
    "average"), norms and attention copied. `config` (default: the VAE's sizes with `overrides`, e.g.
    temporal_factor=4) must share the VAE's sizes; more latent channels than the VAE start as unused zeros.
    The latent shift and scale start at the identity: fit them on videos (`fit_shift_and_scale`)."""
    if not isinstance(vae, VAE):
        raise ValueError(f"vae must be a minisora.models.VAE, got {type(vae).__name__}")
    base = config if config is not None else VideoVAEConfig(**{f: getattr(vae.config, f) for f in
                                                                (*SHARED_FIELDS, "latent_channels")})
    cfg = configure(VideoVAEConfig, base, overrides)
    different = [f"{f}: {getattr(vae.config, f)!r} in the VAE, {getattr(cfg, f)!r} here" for f in SHARED_FIELDS
                 if getattr(vae.config, f) != getattr(cfg, f)]
    c2, c3 = vae.config.latent_channels, cfg.latent_channels
    if c3 < c2:
        different.append(f"latent_channels: {c2} in the VAE, {c3} here (inflation can add channels, not drop them)")
    if different:
        raise ValueError(f"cannot inflate this VAE into that config ({'; '.join(different)}); use a preset with the "
                         f"VAE's sizes, e.g. VideoVAEConfig(temporal_factor=4) for VAE_PRESETS['f4']")
    model = CausalVideoVAE(cfg)
    source = vae.state_dict()
    with torch.no_grad():
        for name, target in model.state_dict().items():
            if name in ("shift_factor", "scaling_factor"):
                continue  # fitted on videos later; the 2-D VAE's were fitted on frames
            weight = source[name]
            if target.ndim == 5:
                weight = inflate_conv_weight(weight, target.shape[2], inflation)  # (O, I, kt, kh, kw)
            if name.startswith("encoder.conv_out."):  # [mean; logvar] rows: pad each with zeros to c3
                mean, logvar = weight.chunk(2)
                pad = torch.zeros(c3 - c2, *weight.shape[1:], dtype=weight.dtype)
                weight = torch.cat([mean, pad, logvar, pad])  # extra channels: mean 0, logvar 0
            elif name == "decoder.conv_in.weight":  # the decoder ignores the extra channels at init
                weight = torch.cat([weight, weight.new_zeros(weight.shape[0], c3 - c2, *weight.shape[2:])], dim=1)
            target.copy_(weight)
    return model

