"""The VAE of lesson 03, drawn from its config: the encoder halves the frame to a latent, the decoder doubles it."""

from __future__ import annotations

from minisora.models.diagrams.canvas import Canvas
from minisora.models.vae import VAEConfig


def draw_vae(config: VAEConfig, image_size: int = 32):
    """The encoder left to right on top, the Gaussian latent at the right, the decoder right to left below."""
    cfg = config
    widths = [cfg.base_channels * m for m in cfg.channel_mults]
    f, c_lat, c_in = cfg.factor, cfg.latent_channels, cfg.in_channels
    side = image_size // f
    levels = len(widths)
    spacing = 2.3
    right = 1.3 + spacing * levels + 2.8  # the column of the latent's two boxes
    canvas = Canvas(right + 1.8, 5.6, (1.0 * (right + 1.8), 4.4))
    box = canvas.box
    top, bottom = 4.1, 1.5

    def chain(centres, y, rightwards):
        # Arrows between neighbouring boxes of one row, from edge to edge, each labelled by the box it enters.
        for (x_a, w_a, _), (x_b, w_b, text) in zip(centres, centres[1:]):
            start = x_a + w_a / 2 if rightwards else x_a - w_a / 2
            end = x_b - w_b / 2 if rightwards else x_b + w_b / 2
            canvas.arrow((start, y), (end, y), text)

    row = [(1.3, 1.9, "")]
    box(1.3, top, 1.9, 0.8, f"frame x\n({c_in}, {image_size}, {image_size})", "data")
    for i, width in enumerate(widths):  # the encoder: one box per level, a stride-2 conv between levels
        s = image_size // 2 ** i
        x = 1.3 + spacing * (i + 1)
        box(x, top, 2.0, 0.8, f"{cfg.num_res_blocks} x resnet\n{width} ch, {s}x{s}", "layer")
        row.append((x, 2.0, "/2" if i else ""))
    mid_text = "resnet, attention, resnet" if cfg.mid_attention else "resnet, resnet"
    box(right, top, 3.0, 0.8, f"{mid_text}\n-> mean, log-var ({c_lat} + {c_lat})", "attention")
    row.append((right, 3.0, ""))
    chain(row, top, rightwards=True)
    latent = f"latent z = mean + σ·ε\n({c_lat}, {side}, {side}): {f}x smaller\nKL(q(z|x) || N(0, I))"
    box(right, bottom, 3.0, 1.1, latent, "cond")
    canvas.arrow((right, top - 0.4), (right, bottom + 0.55), "sample")
    row = [(right, 3.0, "")]
    for j, width in enumerate(reversed(widths)):  # the decoder mirrors it, one more resnet per level
        i = levels - 1 - j
        s = image_size // 2 ** i
        x = 1.3 + spacing * (i + 1)
        box(x, bottom, 2.0, 0.8, f"{cfg.num_res_blocks + 1} x resnet\n{width} ch, {s}x{s}", "layer")
        row.append((x, 2.0, "x2" if j else ""))
    box(1.3, bottom, 1.9, 0.8, f"reconstruction\n({c_in}, {image_size}, {image_size})", "data")
    row.append((1.3, 1.9, ""))
    chain(row, bottom, rightwards=False)
    numbers = image_size * image_size * c_in // (side * side * c_lat)
    return canvas.done(f"VAE (f = {f}): {image_size}x{image_size}x{c_in} -> {side}x{side}x{c_lat} "
                       f"({numbers}x fewer numbers); encoder on top, decoder below")
