"""The U-Net of lesson 02, drawn from its config as a U: down the left, the middle at the bottom, up the right."""

from __future__ import annotations

from minisora.models.diagrams.canvas import Canvas
from minisora.models.unet import UNetConfig


def draw_unet(config: UNetConfig, image_size: int = 32):
    """Levels with their resolution and channels, attention where the config puts it, skips across the U."""
    cfg = config
    widths = [cfg.base_channels * m for m in cfg.channel_mults]
    levels = len(widths)
    top = 1.0 + 1.3 * levels  # the first level's row; each deeper level is 1.3 lower
    canvas = Canvas(12, top + 2.3, (9, 0.9 * (top + 2.3)))
    box = canvas.box
    x_in = box(2.5, top + 1.3, 3.4, 0.55, f"noisy x_t  ({cfg.in_channels}, {image_size}, {image_size})", "data")
    out_channels = cfg.out_channels or cfg.in_channels
    x_out = box(9.5, top + 1.3, 3.4, 0.55, f"prediction  ({out_channels}, {image_size}, {image_size})", "data")
    previous_down = (x_in[0], x_in[1] - 0.28)
    ups = []
    for i, width in enumerate(widths):
        y = top - 1.3 * i
        side = image_size // 2 ** i
        attention = " + attention" if i in cfg.attention_levels else ""
        down = box(2.5, y, 3.4, 0.7, f"{cfg.num_res_blocks} x resnet{attention}\n{width} ch at {side}x{side}",
                   "attention" if attention else "layer")
        up = box(9.5, y, 3.4, 0.7, f"{cfg.num_res_blocks + 1} x resnet{attention}\n{width} ch at {side}x{side}",
                 "attention" if attention else "layer")
        canvas.arrow(previous_down, (down[0], down[1] + 0.35), "" if i == 0 else "stride-2 conv: H/2")
        previous_down = (down[0], down[1] - 0.35)
        if cfg.use_skips:
            canvas.arrow((down[0] + 1.7, down[1]), (up[0] - 1.7, up[1]), "skips (concatenated)")
        ups.append(up)
    mid_text = "resnet, attention, resnet" if cfg.mid_attention else "resnet, resnet"
    side = image_size // 2 ** (levels - 1)
    mid = box(6, top - 1.3 * levels, 4.8, 0.6, f"middle: {mid_text}  ({widths[-1]} ch at {side}x{side})", "attention")
    canvas.arrow(previous_down, (mid[0] - 2.4, mid[1]))
    previous_up = (mid[0] + 2.4, mid[1])
    for i, up in reversed(list(enumerate(ups))):
        canvas.arrow(previous_up, (up[0], up[1] - 0.35), "" if i == levels - 1 else "upsample x2, conv")
        previous_up = (up[0], up[1] + 0.35)
    canvas.arrow(previous_up, (x_out[0], x_out[1] - 0.28))
    # The condition: every resnet receives the time (and label) embedding as a scale and shift.
    classes = " x ".join(str(n) for n in cfg.num_classes)
    condition = "t -> sin-cos -> MLP" + (f"\n+ labels ({classes} classes)" if classes else "")
    if not cfg.use_time:
        condition += "\n(t hidden: the ablation)"
    box(6, top + 1.4, 3.0, 1.2, condition + f"\n= emb ({4 * cfg.base_channels}): a scale and\nshift in every resnet",
        "cond")
    return canvas.done(f"U-Net: {levels} levels, {widths} channels, attention at levels "
                       f"{list(cfg.attention_levels) or 'none'}")
