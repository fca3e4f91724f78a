"""The VAE of lesson 03, drawn from its config: the encoder halves the frame to a latent, the decoder doubles it."""

from __future__ import annotations

from minisora.models.diagrams.canvas import Canvas
from minisora.models.vae import VAEConfig


def draw_vae(config: VAEConfig, image_size: int = 32):
    """Encoder levels left to right, the Gaussian latent in the middle, the decoder mirrored on the right."""
    cfg = config
    widths = [cfg.base_channels * m for m in cfg.channel_mults]
    f, c_lat = cfg.factor, cfg.latent_channels
    side = image_size // f
    levels = len(widths)
    canvas = Canvas(16, 6.2, (12, 4.6))
    box = canvas.box
    x = box(1.2, 3.0, 1.9, 0.9, f"frame x\n({cfg.in_channels}, {image_size}, {image_size})", "data")
    previous = (x[0] + 0.95, x[1])
    for i, width in enumerate(widths):  # the encoder: down one level per box
        s = image_size // 2 ** i
        y = 4.6 - 1.0 * i
        level = box(3.4 + 1.1 * i, y, 2.0, 0.7, f"{cfg.num_res_blocks} x resnet\n{width} ch, {s}x{s}", "layer")
        canvas.arrow(previous, (level[0] - 1.0, level[1]))
        previous = (level[0] + 1.0, level[1])
    mid_text = "resnet, attention, resnet" if cfg.mid_attention else "resnet, resnet"
    moments = box(8.0, 1.0, 3.2, 0.9, f"{mid_text}\n-> mean, log-variance ({c_lat} + {c_lat})", "attention")
    canvas.arrow(previous, (moments[0] - 1.6, moments[1] + 0.2))
    latent = f"latent z = mean + σ·ε\n({c_lat}, {side}, {side}): {f}x smaller\nKL(q(z|x) || N(0, I))"
    z = box(8.0, 3.0, 2.6, 1.0, latent, "cond")
    canvas.arrow((moments[0], moments[1] + 0.45), (z[0], z[1] - 0.5))
    previous = (z[0] + 1.3, z[1])
    for j, width in enumerate(reversed(widths)):  # the decoder: up one level per box
        i = levels - 1 - j
        s = image_size // 2 ** i
        level = box(10.9 + 1.1 * j, 2.6 + 1.0 * j, 2.0, 0.7, f"{cfg.num_res_blocks + 1} x resnet\n{width} ch, {s}x{s}",
                    "layer")
        canvas.arrow(previous, (level[0] - 1.0, level[1]), "x2" if j else "")
        previous = (level[0] + 1.0, level[1])
    out = box(15.0, 5.6, 1.9, 0.9, f"reconstruction\n({cfg.in_channels}, {image_size}, {image_size})", "data")
    canvas.arrow(previous, (out[0], out[1] - 0.45))
    canvas.note(1.2, 5.6, "encoder: stride-2 convs\nhalve H and W", ha="center", va="center")
    return canvas.done(f"VAE (f = {f}): {image_size}x{image_size}x{cfg.in_channels} -> {side}x{side}x{c_lat} "
                       f"({image_size * image_size * cfg.in_channels // (side * side * c_lat)}x fewer numbers)")
