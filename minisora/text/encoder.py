"""The text encoder: caption tokens -> one vector per token and one for the caption (lessons 08-09).

CLIP's text tower (Radford et al. 2021, section 2.4) is a GPT-style transformer: token
embeddings plus learned positions, blocks, a final LayerNorm, and the <eos> token's
feature projected into the shared space. Two changes for a course-sized world:

- **bidirectional**, not causal: every token sees the whole caption (as BERT and T5's
  encoder, which Imagen and Sora-like models condition on), so "a red circle" and "circle
  ... red" both land on the colour; only padding is masked (`key_padding_mask`);
- **masked mean pooling** instead of the <eos> feature: the average over the real tokens
  (mask True), so neither the amount of padding nor what sits in the padded slots can move
  it. The tests pin this to 1e-5; real tokens' outputs are just as untouched, since no
  query ever attends a padded key.

`forward(ids, mask)` returns all three — `TextEmbedding(tokens (B, L, D), mask (B, L),
pooled (B, D))` — because lesson 09's DiT cross-attends to the tokens while CLIP's loss
wants the pooled vector, projected by `embed` into the contrastive space (B, embed_dim).
The vocabulary lives in the config, so a checkpoint carries its own tokenizer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import torch
from torch import Tensor, nn

from minisora.blocks.transformer import TransformerBlock, xavier_linears
from minisora.core.config import Presets, configure
from minisora.text.tokenizer import Tokenizer, world_context_length, world_vocabulary


@dataclass
class TextEncoderConfig:
    """Sizes of a TextEncoder, and the vocabulary and context length of its tokenizer (the world's by default)."""

    vocabulary: tuple[str, ...] = field(default_factory=world_vocabulary)  # words; ids 0-3 are the specials
    context_length: int = field(default_factory=world_context_length)  # tokens, <bos> and <eos> included
    dim: int = 128
    depth: int = 4
    num_heads: int = 4
    mlp_ratio: float = 4.0
    embed_dim: int = 128  # the contrastive space `embed` projects into (the video tower's output width)
    dropout: float = 0.0  # on token + position embeddings, in training

    def __post_init__(self) -> None:
        self.vocabulary = tuple(self.vocabulary)
        Tokenizer(self.vocabulary, self.context_length)  # the vocabulary's and context's own errors
        for name in ("dim", "depth", "num_heads", "embed_dim"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if self.dim % self.num_heads:
            raise ValueError(f"dim={self.dim} is not divisible by num_heads={self.num_heads}; "
                             "pick heads that divide it")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")


TEXT_ENCODER_PRESETS = Presets("text encoder", {
    "tiny": TextEncoderConfig(dim=32, depth=1, num_heads=2, embed_dim=32),  # tests, in a fraction of a second
    "small": TextEncoderConfig(dim=128, depth=4, num_heads=4, embed_dim=128),  # what the text-encoder recipe ships
})


class TextEmbedding(NamedTuple):
    """What the encoder returns: per-token features (B, L, D) (zero at padding), the mask (B, L), pooled (B, D)."""

    tokens: Tensor
    mask: Tensor
    pooled: Tensor


class TextEncoder(nn.Module):
    """ids (B, L) + mask (B, L) -> TextEmbedding; `embed(pooled)` -> (B, embed_dim)."""

    def __init__(self, config: TextEncoderConfig | None = None, **overrides) -> None:
        super().__init__()
        cfg = configure(TextEncoderConfig, config, overrides)
        self.config = cfg
        self.tokenizer = Tokenizer(cfg.vocabulary, cfg.context_length)
        self.token_embed = nn.Embedding(self.tokenizer.vocab_size, cfg.dim)
        # A learned table as CLIP's, sliced to L (not blocks.LearnedPositions, which wants L = context_length),
        # so a caption padded to fewer positions gets the same vectors at the same places.
        self.positions = nn.Parameter(torch.zeros(1, cfg.context_length, cfg.dim))
        self.dropout = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(TransformerBlock(cfg.dim, cfg.num_heads, cfg.mlp_ratio) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(cfg.dim)
        self.projection = nn.Linear(cfg.dim, cfg.embed_dim, bias=False)  # CLIP's text_projection has no bias
        self.initialize_weights()

    def initialize_weights(self) -> None:
        """CLIP's and ViT's initialization, with the reason for each group."""
        # Transformer layers: Xavier-uniform weights and zero biases, as ViT and DiT do.
        xavier_linears(self)
        # Token and position tables: small normals (CLIP: std 0.02 and 0.01), so at the start no
        # position drowns out the word it is added to.
        nn.init.normal_(self.token_embed.weight, std=0.02)
        nn.init.normal_(self.positions, std=0.01)
        # The projection: CLIP's std width^-1/2, so embeddings start near unit scale whatever `dim` is.
        nn.init.normal_(self.projection.weight, std=self.config.dim**-0.5)

    def check_inputs(self, ids: Tensor, mask: Tensor) -> None:
        """A ValueError unless ids (B, L) are this vocabulary's ids and mask (B, L) a bool mask with a real token
        in every row."""
        if not isinstance(ids, Tensor) or not isinstance(mask, Tensor):
            raise ValueError(f"ids and mask must be tensors (from encoder.tokenizer.encode), got "
                             f"{type(ids).__name__} and {type(mask).__name__}")
        if ids.dtype.is_floating_point or ids.dtype.is_complex or ids.dtype == torch.bool:
            raise ValueError(f"ids must be integer token ids (torch.long), got dtype {ids.dtype}")
        if ids.ndim != 2 or ids.shape[0] == 0 or not 1 <= ids.shape[1] <= self.config.context_length:
            raise ValueError(f"ids must have shape (B, L) with B >= 1 and 1 <= L <= context_length="
                             f"{self.config.context_length}, got {tuple(ids.shape)}")
        if mask.dtype != torch.bool:
            raise ValueError(f"mask must be a bool tensor (True = a real token), got dtype {mask.dtype}; "
                             "pass mask.bool()")
        if mask.shape != ids.shape:
            raise ValueError(f"mask {tuple(mask.shape)} must have the shape of ids {tuple(ids.shape)}")
        if mask.device != ids.device:
            raise ValueError(f"mask is on {mask.device} but ids on {ids.device}; move both to the encoder's device")
        if (ids.min() < 0) or (ids.max() >= self.tokenizer.vocab_size):
            raise ValueError(f"ids must lie in 0..{self.tokenizer.vocab_size - 1} (this encoder's vocabulary), got "
                             f"{int(ids.min())}..{int(ids.max())}; encode with this encoder's tokenizer")
        if not mask.any(dim=1).all():
            raise ValueError("a row of mask has no real token (all False): nothing to pool; every caption, even '', "
                             "encodes as <bos> <eos>")

    def forward(self, ids: Tensor, mask: Tensor) -> TextEmbedding:
        """ids (B, L) int64, mask (B, L) bool (True = real) -> TextEmbedding(tokens (B, L, D), mask, pooled (B, D))."""
        self.check_inputs(ids, mask)
        L = ids.shape[1]
        x = self.dropout(self.token_embed(ids) + self.positions[:, :L])  # (B, L, D)
        for block in self.blocks:
            x = block(x, key_padding_mask=mask)  # bidirectional: a query sees every real key, no padded one
        real = mask[..., None].to(x.dtype)  # (B, L, 1)
        x = self.norm(x) * real  # (B, L, D); padded slots are 0, so nothing downstream can read them
        pooled = x.sum(dim=1) / real.sum(dim=1)  # (B, D): the mean over real tokens only
        return TextEmbedding(x, mask, pooled)

    def embed(self, pooled: Tensor) -> Tensor:
        """pooled (B, D) -> the contrastive space (B, embed_dim) (not normalized; clip_loss normalizes)."""
        if not isinstance(pooled, Tensor) or pooled.ndim != 2 or pooled.shape[1] != self.config.dim:
            shape = tuple(pooled.shape) if isinstance(pooled, Tensor) else type(pooled).__name__
            raise ValueError(f"pooled must be a tensor (B, {self.config.dim}) (TextEmbedding.pooled), got {shape}")
        return self.projection(pooled)

    def encode_text(self, captions: str | Sequence[str]) -> TextEmbedding:
        """Tokenize `captions` (one string or B of them) and run the encoder on its device; wrap in
        torch.no_grad() when the encoder is frozen."""
        ids, mask = self.tokenizer.encode(captions)  # (B, L), (B, L)
        device = self.positions.device
        return self(ids.to(device), mask.to(device))
