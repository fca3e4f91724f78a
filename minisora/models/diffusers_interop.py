"""Our U-Net as diffusers' `UNet2DModel`: the matching configuration and parameter names (lesson 02).

The U-Net follows diffusers' layout block for block, so a trained minisora U-Net can be
exported and run there (`UNet2DModel(**diffusers_unet_kwargs(cfg))` then
`load_state_dict(to_diffusers_state_dict(model.state_dict()))`). The tests use this to
hold our U-Net to diffusers' as an oracle, and the benchmark to compare equal networks.
Importing this module does not import diffusers.
"""

from __future__ import annotations

import re

from torch import Tensor

from minisora.models.unet import UNetConfig

# Our parameter names -> diffusers' names, applied in order.
RENAMES: tuple[tuple[str, str], ...] = (
    (r"^time_embed\.mlp\.0", "time_embedding.linear_1"),
    (r"^time_embed\.mlp\.2", "time_embedding.linear_2"),
    (r"^down\.(\d+)\.", r"down_blocks.\1."),
    (r"^up\.(\d+)\.", r"up_blocks.\1."),
    (r"^downsample\.(\d+)\.", r"down_blocks.\1.downsamplers.0.conv."),
    (r"^upsample\.(\d+)\.", r"up_blocks.\1.upsamplers.0.conv."),
    (r"^mid\.resnets", "mid_block.resnets"),
    (r"^mid_attention\.", "mid_block.attentions.0."),
    (r"\.emb\.", ".time_emb_proj."),
    (r"\.shortcut\.", ".conv_shortcut."),
    (r"attentions\.(\d+)\.norm\.", r"attentions.\1.group_norm."),
    (r"\.attn\.to_out\.", ".to_out.0."),
    (r"\.attn\.", "."),
    (r"^norm_out", "conv_norm_out"),
)


def to_diffusers_name(name: str) -> str:
    """One of our parameter names as diffusers' UNet2DModel calls it."""
    for pattern, replacement in RENAMES:
        name = re.sub(pattern, replacement, name)
    return name


def to_diffusers_state_dict(state_dict: dict[str, Tensor]) -> dict[str, Tensor]:
    """Our U-Net's state dict with diffusers' names (same tensors)."""
    if any(name.startswith("label_embed.") for name in state_dict):
        raise ValueError("diffusers' UNet2DModel has one class table, ours one per attribute: "
                         "export an unconditional U-Net")
    return {to_diffusers_name(name): value for name, value in state_dict.items()}


def diffusers_unet_kwargs(cfg: UNetConfig, sample_size: int = 32) -> dict:
    """Keyword arguments for diffusers' UNet2DModel with the same layout and sizes as `UNet(cfg)`."""
    if not (cfg.use_skips and cfg.use_time and cfg.dropout == 0.0):
        raise ValueError("only the full U-Net (skips and time, no dropout) has a diffusers twin")
    levels = range(len(cfg.channel_mults))
    widths = tuple(cfg.base_channels * m for m in cfg.channel_mults)
    attended = {widths[i] for i in cfg.attention_levels} | ({widths[-1]} if cfg.mid_attention else set())
    head_dims = {width // cfg.num_heads for width in attended}
    if len(head_dims) > 1:
        raise ValueError(f"diffusers uses one attention_head_dim everywhere; our attended widths {sorted(attended)} "
                         f"with {cfg.num_heads} heads give head widths {sorted(head_dims)}")
    return dict(
        sample_size=sample_size,
        in_channels=cfg.in_channels,
        out_channels=cfg.out_channels or cfg.in_channels,
        layers_per_block=cfg.num_res_blocks,
        block_out_channels=widths,
        down_block_types=tuple("AttnDownBlock2D" if i in cfg.attention_levels else "DownBlock2D" for i in levels),
        up_block_types=tuple("AttnUpBlock2D" if i in cfg.attention_levels else "UpBlock2D" for i in reversed(levels)),
        norm_num_groups=cfg.num_groups,
        attn_norm_num_groups=cfg.num_groups,  # diffusers leaves the mid attention unnormalized otherwise
        norm_eps=1e-5,  # PyTorch's GroupNorm default, which ours use
        attention_head_dim=head_dims.pop() if head_dims else 8,
        resnet_time_scale_shift="scale_shift",
        add_attention=cfg.mid_attention,
        flip_sin_to_cos=True,  # cos first, as timestep_embedding writes it
        freq_shift=0,
    )
