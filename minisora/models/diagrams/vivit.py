"""ViViT's four attention variants (lesson 05) side by side, drawn from one config."""

from __future__ import annotations

import dataclasses

from minisora.models.diagrams.canvas import Canvas
from minisora.models.vivit import VARIANTS, ViViTConfig

TITLES = {"joint": "1. joint", "factorized_encoder": "2. factorized encoder",
          "factorized_self_attention": "3. factorized self-attention",
          "factorized_dot_product": "4. factorized dot-product"}


def _blocks(cfg: ViViTConfig) -> list[tuple[str, str]]:
    """The variant's stages from the tokens up to the pooled vector: (text, kind) pairs."""
    f, h, w = cfg.grid
    s, heads = h * w, cfg.num_heads
    if cfg.variant == "joint":
        return [(f"{cfg.depth} x block:\nattention over all\nf·s = {f * s} tokens, MLP", "attention"),
                (f"mean of {f * s} tokens", "op")]
    if cfg.variant == "factorized_encoder":
        return [(f"{cfg.depth} x block within each frame:\nattention over s = {s}, MLP", "attention"),
                (f"one summary per frame:\nmean of {s} -> {f} tokens", "op"),
                (f"{cfg.temporal_depth} x block across frames:\nattention over f = {f}, MLP", "attention"),
                (f"mean of {f} tokens", "op")]
    if cfg.variant == "factorized_self_attention":
        return [(f"{cfg.depth} x block:\nattention within frame (s = {s})\nthen across frames (f = {f})\nthen MLP",
                 "attention"), (f"mean of {f * s} tokens", "op")]
    return [(f"{cfg.depth} x block: one attention,\n{heads // 2} heads within frame (s = {s}),\n"
             f"{heads - heads // 2} heads across frames (f = {f}),\nconcatenated, then MLP", "attention"),
            (f"mean of {f * s} tokens", "op")]


def _box_height(text: str) -> float:
    """0.55 for one line, 0.9 for two, 0.35 more for each further line."""
    lines = text.count("\n") + 1
    return 0.55 if lines == 1 else 0.9 + 0.35 * (lines - 2)


def draw_vivit(config: ViViTConfig | None = None):
    """The four variants (ViViT, Arnab et al. 2021, §3.3) for `config`'s video size, patching and depth."""
    cfg = config or ViViTConfig()
    f, h, w = cfg.grid
    pt, p = cfg.tubelet_frames, cfg.patch_size
    cut = f"{pt}x{p}x{p} tubelets" if pt > 1 else f"{p}x{p} frame patches"
    canvas = Canvas(16, 8.4, (13, 5.6))
    for column, variant in enumerate(VARIANTS):
        x = 2 + 4 * column
        stages = [(f"video ({cfg.num_frames}, {cfg.in_channels}, {cfg.image_size[0]}, {cfg.image_size[1]})", "data"),
                  (f"{cut} -> {f} x {h * w} tokens\nLinear -> {cfg.dim}, + positions", "layer")]
        stages += _blocks(dataclasses.replace(cfg, variant=variant))
        stages.append((f"head: {cfg.num_classes} classes", "layer"))
        heights = [_box_height(text) for text, _ in stages]
        gap = 0.35
        y = 0.4
        previous = None
        for (text, kind), height in zip(stages, heights):
            centre = canvas.box(x, y + height / 2, 3.5, height, text, kind)
            if previous is not None:
                canvas.arrow((x, previous), (x, y))
            previous = centre[1] + height / 2
            y += height + gap
        canvas.note(x, 8.2, TITLES[variant], ha="center", va="top", fontweight="bold")
    return canvas.done(f"ViViT's four variants on {cfg.num_frames} frames of {cfg.image_size[0]}x{cfg.image_size[1]}, "
                       f"{cut}: f = {f} time slots of s = {h * w} places")
