"""The U-Net denoiser (lesson 02): Ronneberger et al. 2015, as adapted by Ho et al. 2020 (appendix B).

A down path halves the resolution level by level while widening the channels; an up path
mirrors it; **skip connections** hand each up level the down path's features at the same
resolution, so fine detail need not squeeze through the bottleneck. Every residual block
receives the timestep (and label) embedding as a per-channel scale and shift after its
first normalization (Dhariwal & Nichol 2021, "AdaGN"), so one network denoises at every
noise level. Self-attention at low resolution lets distant pixels agree (one object, one
colour). The layout follows diffusers' `UNet2DModel` (resnets per level, downsample between
levels, mid block resnet-attention-resnet, up levels with one extra resnet), so the two can
be compared at a matched configuration (`bench/bench_unet.py`).

    x (B, C, H, W), t (B,), labels (B, A) -> (B, C_out, H, W)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from minisora.blocks import AttentionBlock, LabelEmbedder, ResBlock, TimestepEmbedder
from minisora.blocks.embeddings import broadcast_timesteps
from minisora.blocks.patching import nearest_multiples
from minisora.core.checks import check_float_input, check_int, check_probability
from minisora.core.config import Presets, configure


@dataclass
class UNetConfig:
    """Sizes of a U-Net. Level i works at resolution H / 2^i with base_channels * channel_mults[i] channels."""

    in_channels: int = 3
    out_channels: int | None = None  # None: same as in_channels (an ε-, x0- or v-prediction)
    base_channels: int = 32
    channel_mults: tuple[int, ...] = (1, 2, 2)
    num_res_blocks: int = 1  # resnets per down level (up levels get one more, for the extra skip)
    attention_levels: tuple[int, ...] = (1,)  # levels with self-attention after each resnet
    mid_attention: bool = True
    num_heads: int = 4
    num_groups: int = 8  # GroupNorm groups (Wu & He 2018): batch-size independent, unlike BatchNorm
    dropout: float = 0.0
    num_classes: tuple[int, ...] = ()  # classes per label attribute, e.g. (8, 3) for colour and shape; () = none
    class_dropout_prob: float = 0.1  # labels dropped to null in training, for classifier-free guidance
    use_skips: bool = True  # ablations: False removes the skip connections...
    use_time: bool = True  # ...and False hides t from the network

    def __post_init__(self) -> None:
        self.channel_mults = tuple(self.channel_mults)
        self.attention_levels = tuple(self.attention_levels)
        self.num_classes = tuple(self.num_classes)
        for name in ("in_channels", "base_channels", "num_res_blocks", "num_heads", "num_groups"):
            check_int(getattr(self, name), name, minimum=1)
        if self.out_channels is not None:
            check_int(self.out_channels, "out_channels", minimum=1)
        for k, count in enumerate(self.num_classes):
            check_int(count, f"num_classes[{k}]", minimum=1)
        check_probability(self.class_dropout_prob, "class_dropout_prob")
        check_probability(self.dropout, "dropout")
        if not self.channel_mults or min(self.channel_mults) < 1:
            raise ValueError(f"channel_mults must be a non-empty tuple of positive ints, got {self.channel_mults}")
        bad = [level for level in self.attention_levels if not 0 <= level < len(self.channel_mults)]
        if bad:
            raise ValueError(f"attention_levels {bad} do not exist; levels are 0..{len(self.channel_mults) - 1}")
        widths = [self.base_channels * m for m in self.channel_mults]
        if any(w % self.num_groups for w in widths):
            raise ValueError(f"every level's channels {widths} must be divisible by num_groups={self.num_groups}")

    @property
    def factor(self) -> int:
        """How many times the U-Net halves H and W: inputs must be multiples of this."""
        return 2 ** (len(self.channel_mults) - 1)


UNET_PRESETS = Presets("U-Net", {
    "tiny": UNetConfig(base_channels=16, channel_mults=(1, 2), attention_levels=(1,)),  # tests, smoke runs
    # 32x32 frames on a CPU: few channels at full resolution, where convolutions cost the most.
    "S": UNetConfig(base_channels=16, channel_mults=(1, 2, 4), attention_levels=(2,)),
    "B": UNetConfig(base_channels=64, channel_mults=(1, 2, 2, 2), num_res_blocks=2, attention_levels=(2,)),  # GPU
})


class Level(nn.Module):
    """One resolution of the down or up path: resnets, each followed by attention if asked."""

    def __init__(self, channels_in: list[int], out_ch: int, emb_dim: int, cfg: UNetConfig, attention: bool) -> None:
        super().__init__()
        self.resnets = nn.ModuleList(
            ResBlock(c, out_ch, emb_dim, cfg.num_groups, cfg.dropout) for c in channels_in
        )
        self.attentions = nn.ModuleList(
            AttentionBlock(out_ch, cfg.num_heads, cfg.num_groups) if attention else nn.Identity() for _ in channels_in
        )


class UNet(nn.Module):
    """A U-Net denoiser: (x (B, C, H, W), t (B,), labels (B, A) or None) -> (B, C_out, H, W)."""

    def __init__(self, config: UNetConfig | None = None, **overrides) -> None:
        super().__init__()
        cfg = configure(UNetConfig, config, overrides)
        self.config = cfg
        widths = [cfg.base_channels * m for m in cfg.channel_mults]
        emb_dim = 4 * cfg.base_channels
        self.time_embed = TimestepEmbedder(emb_dim, frequency_dim=cfg.base_channels)
        self.label_embed = LabelEmbedder(cfg.num_classes, emb_dim, cfg.class_dropout_prob) if cfg.num_classes else None
        self.conv_in = nn.Conv2d(cfg.in_channels, widths[0], 3, padding=1)

        # Down path: record the channels of every feature map the up path will take as a skip.
        self.down, self.downsample = nn.ModuleList(), nn.ModuleList()
        skips, ch = [widths[0]], widths[0]
        for i, width in enumerate(widths):
            ins = [ch] + [width] * (cfg.num_res_blocks - 1)
            self.down.append(Level(ins, width, emb_dim, cfg, i in cfg.attention_levels))
            ch = width
            skips += [width] * cfg.num_res_blocks
            last = i == len(widths) - 1
            # Halve H and W with a strided conv (learned, unlike pooling) between levels.
            self.downsample.append(nn.Identity() if last else nn.Conv2d(ch, ch, 3, stride=2, padding=1))
            if not last:
                skips.append(ch)

        self.mid = Level([ch, ch], ch, emb_dim, cfg, attention=False)
        self.mid_attention = AttentionBlock(ch, cfg.num_heads, cfg.num_groups) if cfg.mid_attention else nn.Identity()

        # Up path: each resnet takes the previous output concatenated with one skip (the last in first).
        self.up, self.upsample = nn.ModuleList(), nn.ModuleList()
        for i, width in reversed(list(enumerate(widths))):
            ins = []
            for _ in range(cfg.num_res_blocks + 1):
                ins.append(ch + (skips.pop() if cfg.use_skips else 0))
                ch = width
            self.up.append(Level(ins, width, emb_dim, cfg, i in cfg.attention_levels))
            self.upsample.append(nn.Conv2d(ch, ch, 3, padding=1) if i > 0 else nn.Identity())

        self.norm_out = nn.GroupNorm(cfg.num_groups, ch)
        self.conv_out = nn.Conv2d(ch, cfg.out_channels or cfg.in_channels, 3, padding=1)
        self.initialize_weights()

    def initialize_weights(self) -> None:
        """PyTorch defaults, except the layers that end a residual branch start at zero."""
        for module in self.modules():
            if isinstance(module, ResBlock):
                # Zero the second conv: every resnet starts as its shortcut, so a deep stack starts
                # near the identity and the signal passes through at init (Goyal et al. 2017).
                nn.init.zeros_(module.conv2.weight)
                nn.init.zeros_(module.conv2.bias)
            if isinstance(module, AttentionBlock):
                nn.init.zeros_(module.attn.to_out.weight)  # attention starts off, learns to switch on
                nn.init.zeros_(module.attn.to_out.bias)
        # The output starts at zero: the first prediction is "no noise", a calm start for the loss.
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def check_input(self, x: Tensor) -> None:
        """A ValueError naming the problem (rank, channels, a size the levels cannot halve) and the fix."""
        cfg = self.config
        check_float_input(x, "x", self.conv_out.weight)
        if x.ndim != 4:
            raise ValueError(f"the U-Net takes images (B, C, H, W), got shape {tuple(x.shape)}")
        if x.shape[1] != cfg.in_channels:
            raise ValueError(f"expected {cfg.in_channels} input channels, got {x.shape[1]} (shape {tuple(x.shape)})")
        f = cfg.factor
        for name, size in (("height", x.shape[2]), ("width", x.shape[3])):
            if size % f:
                raise ValueError(
                    f"{name}={size} is not divisible by {f} (the U-Net halves it {len(cfg.channel_mults) - 1} times); "
                    f"use {nearest_multiples(size, f)}"
                )

    def embed(self, t: Tensor, labels: Tensor | None, batch_size: int) -> Tensor:
        """The vector every resnet receives: time embedding + label embedding, (B, 4 * base_channels)."""
        emb = self.time_embed(broadcast_timesteps(t, batch_size, self.conv_in.weight.device))  # (B, E)
        if not self.config.use_time:
            emb = torch.zeros_like(emb)  # the ablation: the network must guess the noise level
        if self.label_embed is not None:
            emb = emb + self.label_embed.embed_or_null(labels, batch_size, emb.device)
        elif labels is not None:
            raise ValueError("this U-Net has no label embedding; "
                             "build it with num_classes=(...) to condition on labels")
        return emb

    def forward(self, x: Tensor, t: Tensor, labels: Tensor | None = None) -> Tensor:
        self.check_input(x)
        emb = self.embed(t, labels, x.shape[0])  # (B, E)
        h = self.conv_in(x)  # (B, C0, H, W)
        skips = [h]
        for level, down in zip(self.down, self.downsample):
            for resnet, attention in zip(level.resnets, level.attentions):
                h = attention(resnet(h, emb))
                skips.append(h)
            if not isinstance(down, nn.Identity):
                h = down(h)  # (B, C_i, H / 2^(i+1), W / 2^(i+1))
                skips.append(h)
        h = self.mid.resnets[1](self.mid_attention(self.mid.resnets[0](h, emb)), emb)
        for level, up in zip(self.up, self.upsample):
            for resnet, attention in zip(level.resnets, level.attentions):
                skip = skips.pop()
                h = torch.cat([h, skip], dim=1) if self.config.use_skips else h  # (B, C + C_skip, H', W')
                h = attention(resnet(h, emb))
            if not isinstance(up, nn.Identity):
                h = up(F.interpolate(h, scale_factor=2.0, mode="nearest"))  # (B, C, 2H', 2W')
        return self.conv_out(F.silu(self.norm_out(h)))  # (B, C_out, H, W)
