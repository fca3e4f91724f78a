"""DiT (lesson 06) and its adaLN-Zero block, drawn from a config."""

from __future__ import annotations

from minisora.models.diagrams.canvas import Canvas
from minisora.models.dit import DiTConfig


def draw_dit(config: DiTConfig):
    """DiT (Peebles & Xie 2023, Figure 3 left) for `config`: tokens flow up, the condition c feeds every block."""
    cfg = config
    height, width = cfg.input_size
    p, c, d = cfg.patch_size, cfg.in_channels, cfg.dim
    tokens = (height // p) * (width // p)
    canvas = Canvas(10, 9.6, (7.5, 6.4))
    box = canvas.box
    x0 = box(3, 0.6, 3.6, 0.6, f"noisy latent x_t  ({c}, {height}, {width})", "data")
    patches = box(3, 1.8, 3.6, 0.6, f"patchify p = {p}:  {tokens} tokens of {p * p * c}", "op")
    embed = box(3, 3.0, 3.6, 0.6, f"Linear {p * p * c} -> {d}  + 2-D sin-cos positions", "layer")
    blocks = box(3, 4.5, 3.6, 1.0, f"{cfg.depth} x DiT block ({cfg.conditioning.replace('_', '-')})\n"
                                   f"width {d}, {cfg.num_heads} heads", "attention")
    adaptive = cfg.conditioning == "adaln_zero"  # only adaLN-Zero modulates the final norm (DiT.final)
    norm = "adaLN" if adaptive else "LayerNorm"
    final = box(3, 6.0, 3.6, 0.6, f"final layer: {norm} + Linear {d} -> {p * p * c}", "layer")
    unpatch = box(3, 7.2, 3.6, 0.6, "unpatchify", "op")
    out = box(3, 8.4, 3.6, 0.6, f"prediction (ε or v)  ({c}, {height}, {width})", "data")
    for start, end in ((x0, patches), (patches, embed), (embed, blocks), (blocks, final), (final, unpatch),
                       (unpatch, out)):
        canvas.arrow((start[0], start[1] + 0.3 if start is not blocks else start[1] + 0.5),
                     (end[0], end[1] - 0.3 if end is not blocks else end[1] - 0.5))
    # the condition: timestep and labels, embedded and summed into c (B, D)
    t_embed = box(7.6, 1.8, 2.8, 0.6, "timestep t -> sin-cos -> MLP", "cond")
    classes = " x ".join(str(n) for n in cfg.num_classes) or "none"
    y_embed = box(7.6, 3.0, 2.8, 0.6, f"labels y ({classes} classes) -> table", "cond")
    c_sum = box(7.6, 4.5, 1.2, 0.6, f"c  ({d})", "cond")
    canvas.arrow((t_embed[0] - 0.9, t_embed[1] + 0.3), (c_sum[0] - 0.3, c_sum[1] - 0.3))
    canvas.arrow((y_embed[0], y_embed[1] + 0.3), (c_sum[0], c_sum[1] - 0.3), "+")
    how = {"adaln_zero": "modulates every block", "in_context": "2 extra tokens",
           "cross_attention": "a 2-token context"}[cfg.conditioning]
    canvas.arrow((c_sum[0] - 0.6, c_sum[1]), (blocks[0] + 1.8, blocks[1]), how)
    if adaptive:
        canvas.arrow((c_sum[0], c_sum[1] + 0.3), (final[0] + 1.8, final[1]))
    canvas.note(7.6, 0.5, f"label dropout {cfg.class_dropout_prob:g}: the null label,\nfor classifier-free guidance",
                ha="center", va="center")
    return canvas.done(f"DiT: {cfg.depth} blocks of width {d} on {tokens} tokens")


def draw_adaln_zero_block(dim: int = 384, mlp_ratio: float = 4.0):
    """One adaLN-Zero block: c regresses shift, scale and gate for each branch; the gates start at 0."""
    canvas = Canvas(10, 9.6, (7.0, 6.0))
    box = canvas.box
    x_in = box(3, 0.6, 2.6, 0.6, f"tokens x  (L, {dim})", "data")
    norm1 = box(3, 1.8, 2.6, 0.6, "LayerNorm (no affine)", "op")
    mod1 = box(3, 2.9, 2.6, 0.6, "x (1 + γ1) + β1", "op")
    attn = box(3, 4.0, 2.6, 0.6, "multi-head self-attention", "attention")
    gate1 = box(3, 5.0, 2.6, 0.5, "x α1, then + x", "op")
    norm2 = box(3, 6.0, 2.6, 0.6, "LayerNorm, x (1 + γ2) + β2", "op")
    mlp = box(3, 7.1, 2.6, 0.6, f"MLP {dim} -> {int(dim * mlp_ratio)} -> {dim}", "layer")
    gate2 = box(3, 8.1, 2.6, 0.5, "x α2, then + x", "op")
    chain = (x_in, norm1, mod1, attn, gate1, norm2, mlp, gate2)
    for start, end in zip(chain, chain[1:]):
        canvas.arrow((start[0], start[1] + 0.3), (end[0], end[1] - 0.3))
    canvas.arrow((gate2[0], gate2[1] + 0.25), (gate2[0], 9.2), "to the next block")
    cond = box(7.8, 1.8, 2.6, 0.6, f"condition c  ({dim})", "cond")
    regress = box(7.8, 3.2, 2.6, 1.0, f"SiLU -> Linear {dim} -> 6 x {dim}\nzero-initialized", "cond")
    canvas.arrow((cond[0], cond[1] + 0.3), (regress[0], regress[1] - 0.5))
    for target, text in ((mod1, "β1, γ1"), (gate1, "α1"), (norm2, "β2, γ2"), (gate2, "α2")):
        canvas.arrow((regress[0] - 1.3, regress[1]), (target[0] + 1.3, target[1]), text)
    canvas.note(7.8, 6.6, "α = 0 at the start: each block\nis the identity, the network\nstarts as its final layer",
                ha="center", va="center")
    return canvas.done("adaLN-Zero block (DiT, Figure 3)")
