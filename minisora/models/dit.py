"""DiT, the Diffusion Transformer: Peebles & Xie (2023), "Scalable Diffusion Models with Transformers" (lesson 06).

A ViT used as a denoiser. The (latent) image x (B, C, H, W) is cut into p x p patches, one
token each (section 3.2, "patchify"), plus fixed 2-D sin-cos positions; N transformer
blocks process the tokens; a final layer turns every token back into a p x p x C patch and
`unpatchify` reassembles the image. The timestep t and the class label y enter the blocks
in one of three ways (section 3.2, Figure 3), the `conditioning` of the config:

    adaln_zero       (the paper's best, the default) c = embed(t) + embed(y); each block
                     regresses from c a shift, a scale and a gate for its attention branch
                     and its MLP branch. The regressions start at zero, so every gate is 0
                     and every block starts as the identity ("-Zero").
    in_context       embed(t) and embed(y) are two extra tokens in the sequence, processed by
                     plain ViT blocks and dropped before the final layer.
    cross_attention  embed(t) and embed(y) form a length-two sequence that every block
                     cross-attends to after its self-attention (lesson 09 puts a caption's
                     tokens there instead).

The positions are computed for whatever grid arrives, so one DiT denoises any size its
patch divides. Attention is `blocks.Attention` (F.scaled_dot_product_attention, optional
QK-norm), the embedders are `blocks.embeddings`: nothing is hidden in another library.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from minisora.blocks.attention import Attention
from minisora.blocks.embeddings import LabelEmbedder, TimestepEmbedder, broadcast_timesteps
from minisora.blocks.patching import check_divisible, patchify, unpatchify
from minisora.blocks.positions import sincos_2d
from minisora.blocks.transformer import MLP, TransformerBlock, xavier_linears
from minisora.core.checks import check_float_input, check_int, check_probability
from minisora.core.config import Presets, configure

CONDITIONINGS = ("adaln_zero", "in_context", "cross_attention")


@dataclass
class DiTConfig:
    """Sizes of a DiT for (C, H, W) inputs (latents in the paper, 4 x 32 x 32 for 256 x 256 images)."""

    input_size: tuple[int, int] = (32, 32)  # the (H, W) the presets are named for; any multiple of p also runs
    patch_size: int = 2
    in_channels: int = 4
    dim: int = 384
    depth: int = 12
    num_heads: int = 6
    mlp_ratio: float = 4.0
    num_classes: tuple[int, ...] = (1000,)  # classes per label attribute, e.g. (8, 3) for colour, shape; () = none
    class_dropout_prob: float = 0.1  # labels dropped to null in training, for classifier-free guidance
    conditioning: str = "adaln_zero"
    qk_norm: bool = False

    def __post_init__(self) -> None:
        size = self.input_size
        self.input_size = (size, size) if isinstance(size, int) else tuple(size)
        self.num_classes = (self.num_classes,) if isinstance(self.num_classes, int) else tuple(self.num_classes)
        for name in ("patch_size", "in_channels", "dim", "depth", "num_heads"):
            check_int(getattr(self, name), name, minimum=1)
        for k, count in enumerate(self.num_classes):  # one label table per entry; () is unconditional
            check_int(count, f"num_classes[{k}]", minimum=1)
        check_probability(self.class_dropout_prob, "class_dropout_prob")
        if self.conditioning not in CONDITIONINGS:
            raise ValueError(f"unknown conditioning {self.conditioning!r}; choose one of {CONDITIONINGS}")
        if self.dim % self.num_heads:
            raise ValueError(f"dim={self.dim} is not divisible by num_heads={self.num_heads}; "
                             "pick heads that divide it")
        if self.dim % 4:
            raise ValueError(f"dim={self.dim} must be divisible by 4 for the 2-D sin-cos positions")
        check_divisible(self.input_size[0], self.patch_size, "height", "the patch size")
        check_divisible(self.input_size[1], self.patch_size, "width", "the patch size")


# Table 1 of the paper: width, depth, heads. Each size comes with patch 2, 4 and 8 ("DiT-XL/2").
# "Ti" is ours (DeiT's tiny width) and "mini" is smaller still, for CPU lessons.
_SIZES = {"mini": (128, 6, 4), "Ti": (192, 12, 3), "S": (384, 12, 6), "B": (768, 12, 12), "L": (1024, 24, 16),
          "XL": (1152, 28, 16)}
DIT_PRESETS = Presets("DiT", {
    f"{name}/{p}": DiTConfig(dim=dim, depth=depth, num_heads=heads, patch_size=p)
    for name, (dim, depth, heads) in _SIZES.items()
    for p in (2, 4, 8)
})


def modulate(x: Tensor, shift: Tensor, scale: Tensor) -> Tensor:
    """adaLN: x (B, L, D) normalized elsewhere, then scaled by (1 + scale) and shifted; shift, scale (B, D)."""
    # 1 + scale, so a zero regression leaves the normalized x unchanged.
    return x * (1 + scale[:, None]) + shift[:, None]


class AdaLNZeroBlock(nn.Module):
    """A DiT block: self-attention and MLP, each with adaLN and a gate regressed from c; (B, L, D) -> (B, L, D)."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, qk_norm: bool) -> None:
        super().__init__()
        # No learned affine in the norms: the modulation supplies the scale and shift.
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(dim, num_heads, qk_norm=qk_norm)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.mlp = MLP(dim, mlp_ratio)
        self.modulation = nn.Sequential(nn.SiLU(), nn.Linear(dim, 6 * dim))

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        """x (B, L, D) tokens, c (B, D) the condition vector."""
        shift1, scale1, gate1, shift2, scale2, gate2 = self.modulation(c).chunk(6, dim=-1)  # 6 x (B, D)
        x = x + gate1[:, None] * self.attn(modulate(self.norm1(x), shift1, scale1))
        return x + gate2[:, None] * self.mlp(modulate(self.norm2(x), shift2, scale2))


class CrossAttentionBlock(nn.Module):
    """Pre-norm self-attention, then cross-attention to a context, then MLP; (B, L, D) -> (B, L, D)."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, qk_norm: bool, context_dim: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, num_heads, qk_norm=qk_norm)
        self.norm_cross = nn.LayerNorm(dim)
        self.cross = Attention(dim, num_heads, context_dim=context_dim, qk_norm=qk_norm)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = MLP(dim, mlp_ratio)

    def forward(self, x: Tensor, context: Tensor, context_mask: Tensor | None = None) -> Tensor:
        """x (B, L, D); context (B, S, context_dim); context_mask (B, S), True = attend."""
        x = x + self.attn(self.norm1(x))
        x = x + self.cross(self.norm_cross(x), context, key_padding_mask=context_mask)
        return x + self.mlp(self.norm2(x))


class FinalLayer(nn.Module):
    """Norm (adaLN from c, or a plain LayerNorm) then Linear: tokens (B, L, D) -> patches (B, L, p*p*C)."""

    def __init__(self, dim: int, patch_dim: int, adaptive: bool) -> None:
        super().__init__()
        self.adaptive = adaptive
        self.norm = nn.LayerNorm(dim, elementwise_affine=not adaptive, eps=1e-6)
        self.linear = nn.Linear(dim, patch_dim)
        self.modulation = nn.Sequential(nn.SiLU(), nn.Linear(dim, 2 * dim)) if adaptive else None

    def forward(self, x: Tensor, c: Tensor | None) -> Tensor:
        x = self.norm(x)
        if self.modulation is not None:
            shift, scale = self.modulation(c).chunk(2, dim=-1)  # 2 x (B, D)
            x = modulate(x, shift, scale)
        return self.linear(x)


class DiT(nn.Module):
    """A diffusion transformer: (x (B, C, H, W), t (B,), labels (B, A) or None) -> (B, C, H, W)."""

    def __init__(self, config: DiTConfig | None = None, **overrides) -> None:
        super().__init__()
        cfg = configure(DiTConfig, config, overrides)
        self.config = cfg
        p, dim = cfg.patch_size, cfg.dim
        patch_dim = p * p * cfg.in_channels
        # Patchify then Linear is the paper's p x p conv with stride p (the same weights, reshaped).
        self.patch_embed = nn.Linear(patch_dim, dim)
        self.time_embed = TimestepEmbedder(dim)
        self.label_embed = LabelEmbedder(cfg.num_classes, dim, cfg.class_dropout_prob) if cfg.num_classes else None
        args = (dim, cfg.num_heads, cfg.mlp_ratio, cfg.qk_norm)
        if cfg.conditioning == "adaln_zero":
            blocks = [AdaLNZeroBlock(*args) for _ in range(cfg.depth)]
        elif cfg.conditioning == "cross_attention":
            blocks = [CrossAttentionBlock(*args, context_dim=dim) for _ in range(cfg.depth)]
        else:
            blocks = [TransformerBlock(*args) for _ in range(cfg.depth)]  # the plain ViT block of lesson 04
        self.blocks = nn.ModuleList(blocks)
        self.final = FinalLayer(dim, patch_dim, adaptive=cfg.conditioning == "adaln_zero")
        self.initialize_weights()

    def initialize_weights(self) -> None:
        """DiT's initialization (its `initialize_weights`), with the reason for each group."""
        # Transformer layers: Xavier-uniform weights and zero biases, as ViT and DiT do
        # (some Linears have no bias: Attention(bias=False), as many LLMs build it).
        xavier_linears(self)
        # The timestep MLP and the label tables: small normal weights, as DiT does (std 0.02).
        self.time_embed.normal_init(std=0.02)
        if self.label_embed is not None:
            for table in self.label_embed.tables:
                nn.init.normal_(table.weight, std=0.02)
        # adaLN-Zero: the modulation regressions output 0, so every gate is 0 and every block
        # is the identity at the start; the network begins as "final layer of the input".
        for block in self.blocks:
            if isinstance(block, AdaLNZeroBlock):
                nn.init.zeros_(block.modulation[-1].weight)
                nn.init.zeros_(block.modulation[-1].bias)
        if self.final.modulation is not None:
            nn.init.zeros_(self.final.modulation[-1].weight)
            nn.init.zeros_(self.final.modulation[-1].bias)
        # The output layer starts at zero too, so the first prediction is 0 (the mean of ε or v).
        nn.init.zeros_(self.final.linear.weight)
        nn.init.zeros_(self.final.linear.bias)

    def condition(self, t: Tensor, labels: Tensor | None, batch_size: int) -> tuple[Tensor, Tensor | None]:
        """Embeddings of t (B, D) and of the labels (B, D) (null labels when None; None if unlabelled)."""
        t_emb = self.time_embed(broadcast_timesteps(t, batch_size, self.patch_embed.weight.device))  # (B, D)
        if self.label_embed is None:
            if labels is not None:
                raise ValueError("this DiT has no label embedding; "
                                 "build it with num_classes=(...) to condition on labels")
            return t_emb, None
        return t_emb, self.label_embed.embed_or_null(labels, batch_size, t_emb.device)  # (B, D), (B, D)

    def forward(self, x: Tensor, t: Tensor, labels: Tensor | None = None) -> Tensor:
        """x (B, C, H, W) with H, W multiples of the patch; t (B,); labels (B, A) class ids, None = unconditional."""
        cfg = self.config
        check_float_input(x, "x", self.patch_embed.weight)
        if x.ndim != 4 or x.shape[1] != cfg.in_channels:
            raise ValueError(f"x must be (B, {cfg.in_channels}, H, W) ({cfg.in_channels} channels), "
                             f"got {tuple(x.shape)}")
        b, _, height, width = x.shape
        p = cfg.patch_size
        tokens = self.patch_embed(patchify(x, p))  # (B, L, D), L = (H/p)(W/p); patchify checks H, W
        positions = sincos_2d(height // p, width // p, cfg.dim).to(tokens)  # (L, D)
        tokens = tokens + positions
        t_emb, y_emb = self.condition(t, labels, b)
        c = t_emb if y_emb is None else t_emb + y_emb  # (B, D)
        extra = [t_emb] if y_emb is None else [t_emb, y_emb]
        if cfg.conditioning == "adaln_zero":
            for block in self.blocks:
                tokens = block(tokens, c)
        elif cfg.conditioning == "cross_attention":
            context = torch.stack(extra, dim=1)  # (B, 1 or 2, D)
            for block in self.blocks:
                tokens = block(tokens, context)
        else:
            n = len(extra)
            tokens = torch.cat([torch.stack(extra, dim=1), tokens], dim=1)  # (B, n + L, D)
            for block in self.blocks:
                tokens = block(tokens)
            tokens = tokens[:, n:]  # (B, L, D): the condition tokens are dropped
        patches = self.final(tokens, c)  # (B, L, p*p*C)
        return unpatchify(patches, p, height, width)  # (B, C, H, W)


def published_parameter_count(config: DiTConfig) -> int:
    """The count the DiT paper's code prints for `config` (adaLN-Zero): ours plus two things it has and we do not.

    1. Its position table is an `nn.Parameter` (frozen), so `model.parameters()` counts it:
       (H/p)(W/p) x D more. Ours is computed on the fly and is no parameter.
    2. It learns the variance Σ (Improved DDPM) too, so its final layer outputs 2C channels:
       D x p*p*C + p*p*C more. Ours predicts one target (ε, v or x0) and samples with fixed Σ.
    """
    if config.conditioning != "adaln_zero":
        raise ValueError("the paper's code only has adaLN-Zero; pass a config with conditioning='adaln_zero'")
    with torch.device("meta"):  # shapes only: no memory for XL's 675 M numbers, no time initializing them
        model = DiT(config)
    p, dim = config.patch_size, config.dim
    positions = (config.input_size[0] // p) * (config.input_size[1] // p) * dim
    sigma_head = dim * p * p * config.in_channels + p * p * config.in_channels
    return sum(param.numel() for param in model.parameters()) + positions + sigma_head
