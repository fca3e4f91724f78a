"""The text-to-video denoiser: lesson 08's text encoder feeding lesson 09's video DiT, in one network.

    caption ids (B, L) + mask  --TextEncoder-->  tokens (B, L, Dc), pooled (B, Dc)
    latents x_t (B, F, C, H, W), t  --VideoDiT(context = tokens, pooled)-->  prediction (B, F, C, H, W)

Why one module: a checkpoint then holds everything the denoiser reads (the text weights
too, ~3 MB), so a generated video never depends on which text_encoder.pt lies beside it, and
a jointly trained encoder is saved like any weight. With `train_text=False` (the default,
as Imagen, PixArt and Open-Sora keep T5 frozen) the encoder gets no gradient and runs under
`torch.no_grad`; with True it learns with the DiT. With `word_tokens=True` the DiT also reads
the encoder's word embeddings, after its tokens (`text_condition`), and their mean joins the pooled
vector: lesson 09 measures how faintly the contextual tokens alone carry a motion word.

Classifier-free guidance (Ho & Salimans 2022) needs an unconditional model: in training each
caption is replaced by the empty caption "" (<bos> <eos>) with probability
`text_dropout_prob`, drawn from torch's generator, which the trainer seeds; sampling then
contrasts the caption with "" (`null_text`).
"""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from minisora.core.config import configure
from minisora.models.video_dit import VIDEO_DIT_PRESETS, VideoDiT, VideoDiTConfig
from minisora.text.encoder import TEXT_ENCODER_PRESETS, TextEmbedding, TextEncoder, TextEncoderConfig


@dataclass
class TextToVideoConfig:
    """The video DiT's config, the text encoder's, whether the encoder trains, and the caption dropout for CFG."""

    dit: VideoDiTConfig = field(default_factory=lambda: dataclasses.replace(VIDEO_DIT_PRESETS["cpu"]))
    text: TextEncoderConfig = field(default_factory=lambda: dataclasses.replace(TEXT_ENCODER_PRESETS["small"]))
    train_text: bool = False
    text_dropout_prob: float = 0.1
    word_tokens: bool = False  # True: the DiT also reads the encoder's word embeddings (`text_condition`)

    def __post_init__(self) -> None:
        # A checkpoint stores the config as nested dicts (dataclasses.asdict): rebuild the two dataclasses.
        if isinstance(self.dit, dict):
            self.dit = VideoDiTConfig(**self.dit)
        if isinstance(self.text, dict):
            self.text = TextEncoderConfig(**self.text)
        if not isinstance(self.dit, VideoDiTConfig) or not isinstance(self.text, TextEncoderConfig):
            raise ValueError(f"TextToVideoConfig takes dit=VideoDiTConfig and text=TextEncoderConfig, got "
                             f"{type(self.dit).__name__} and {type(self.text).__name__}")
        if self.dit.context_dim != self.text.dim:
            raise ValueError(f"the DiT reads the text tokens: dit.context_dim={self.dit.context_dim} must equal "
                             f"text.dim={self.text.dim}")
        for name in ("train_text", "word_tokens"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if isinstance(self.text_dropout_prob, bool) or not 0.0 <= self.text_dropout_prob < 1.0:
            raise ValueError(f"text_dropout_prob must be in [0, 1), got {self.text_dropout_prob!r}")


class TextToVideoModel(nn.Module):
    """(latents x (B, F, C, H, W), t (B,) or (B, F), caption ids (B, L) + mask (B, L)) -> (B, F, C, H, W)."""

    def __init__(self, config: TextToVideoConfig | None = None, **overrides) -> None:
        super().__init__()
        cfg = configure(TextToVideoConfig, config, overrides)
        self.config = cfg
        self.text = TextEncoder(cfg.text)
        self.dit = VideoDiT(cfg.dit)
        self.text.requires_grad_(cfg.train_text)

    @property
    def tokenizer(self):
        """The text encoder's tokenizer (captions -> ids, mask)."""
        return self.text.tokenizer

    def null_text(self, batch_size: int, length: int, device: torch.device | str) -> tuple[Tensor, Tensor]:
        """The empty caption "" as ids (B, length) and mask (B, length): the unconditional input of CFG."""
        ids, mask = self.tokenizer.encode([""])  # (1, context_length): <bos> <eos> then padding
        return (ids[:, :length].expand(batch_size, length).to(device),
                mask[:, :length].expand(batch_size, length).to(device))

    def drop_captions(self, ids: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """In training, each caption replaced by "" with probability text_dropout_prob (torch's generator)."""
        if not self.training or self.config.text_dropout_prob == 0:
            return ids, mask
        drop = torch.rand(ids.shape[0], device=ids.device) < self.config.text_dropout_prob  # (B,)
        null_ids, null_mask = self.null_text(ids.shape[0], ids.shape[1], ids.device)
        return torch.where(drop[:, None], null_ids, ids), torch.where(drop[:, None], null_mask, mask)

    def encode_text(self, ids: Tensor, mask: Tensor):
        """ids, mask (B, L) -> TextEmbedding(tokens (B, L', Dc), mask (B, L'), pooled (B, Dc)), L' = the longest
        real caption (trailing all-padding columns dropped: the encoder and the DiT mask them anyway)."""
        self.text.check_inputs(ids, mask)
        length = int(mask.any(dim=0).nonzero().max()) + 1
        ids, mask = ids[:, :length], mask[:, :length]
        frozen = not self.config.train_text
        if frozen:
            self.text.eval()  # a frozen encoder never trains (no dropout), whatever mode the DiT is in
        with torch.no_grad() if frozen else contextlib.nullcontext():
            return self.text(ids, mask)

    def forward(self, x: Tensor, t: Tensor, ids: Tensor | None = None, mask: Tensor | None = None) -> Tensor:
        """x (B, F, C, H, W) latents, t (B,) or (B, F), ids / mask (B, L) from `tokenizer.encode`;
        no ids = the empty caption (unconditional)."""
        if not isinstance(x, Tensor) or x.ndim != 5:
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"x must be latents (B, F, C, H, W), got {shape}")
        if (ids is None) != (mask is None):
            raise ValueError("pass the caption's ids and mask together (tokenizer.encode returns both), or neither")
        if ids is None:
            ids, mask = self.null_text(x.shape[0], 2, x.device)
        if ids.shape[0] != x.shape[0]:
            raise ValueError(f"got {x.shape[0]} latent videos but {ids.shape[0]} captions; pass one caption per video")
        ids, mask = self.drop_captions(ids, mask)
        text = self.encode_text(ids, mask)
        context, context_mask, pooled = self.text_condition(ids, text)
        return self.dit(x, t, context=context, context_mask=context_mask, pooled=pooled)

    def text_condition(self, ids: Tensor, text: TextEmbedding) -> tuple[Tensor, Tensor, Tensor]:
        """What the DiT reads of the caption: the tokens it cross-attends to, their mask and the pooled vector.
        Without `word_tokens`: the encoder's tokens (B, L, Dc), mask (B, L), pooled (B, Dc). With them: its word
        embeddings plus positions after the tokens (B, 2L, Dc), normalized to the tokens' scale, and their mean
        added to the pooled vector.

        Why the words: lesson 08's contrastive encoder mixes each caption into every token (changing the colour
        moves every token's feature; changing the motion moves one token's a little), so the motion words
        reach the DiT faint. Its word embeddings are one distinct vector per word and place, before any
        mixing: with them, "left" and "right" are different keys whatever else the caption says."""
        if not self.config.word_tokens:
            return text.tokens, text.mask, text.pooled
        ids = ids[:, :text.mask.shape[1]]  # encode_text dropped the all-padding columns
        with torch.no_grad() if not self.config.train_text else contextlib.nullcontext():
            # (B, L, Dc): each word's vector plus its position's, so "red ... moving left" keeps its order
            words = self.text.token_embed(ids) + self.text.positions[:, :ids.shape[1]]
        # LayerNorm without affine: the encoder's tokens leave its final LayerNorm at norm ~sqrt(Dc); these match.
        words = nn.functional.layer_norm(words, words.shape[-1:]) * text.mask[..., None].to(words.dtype)
        # The mean of the word vectors joins the pooled vector: a bag of words, so every motion word reaches
        # adaLN (which modulates every token) as a label would, and not only through cross-attention.
        pooled = text.pooled + words.sum(dim=1) / text.mask.sum(dim=1, keepdim=True)
        return torch.cat([text.tokens, words], dim=1), torch.cat([text.mask, text.mask], dim=1), pooled
