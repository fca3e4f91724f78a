"""CLIP for videos: lesson 08's text encoder and lesson 05's ViViT, trained to agree (Radford et al. 2021).

Two towers map a caption and a clip into one space of width `embed_dim`, where a caption's
vector points the same way as its clip's (`minisora.text.clip.clip_loss`):

    text   `TextEncoder` (minisora.text): the caption's pooled features, projected by `embed`
    video  `ViViT` (lesson 05) built with num_classes = embed_dim: its head, a Linear on the
           mean-pooled tokens, *is* CLIP's image projection, so the video tower is ViViT unchanged

Why this file is in `models`: the pair needs ViViT, and `text` may not import `models`
(ARCHITECTURE.md); `models` importing the text layer keeps the arrow one-way. The text
layer stays usable alone: lesson 09 conditions its DiT on `CLIPModel.text`, which
`load_text_encoder` returns from a `CLIPModel` checkpoint (or a standalone TextEncoder
file, which `save_text_encoder` writes and the `text-encoder` recipe ships beside its run).
"""

from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from torch import Tensor, nn

from minisora.core.checkpoint import load_model, save_checkpoint
from minisora.core.config import Presets, configure
from minisora.models.vivit import ViViT, ViViTConfig
from minisora.text.clip import INIT_TEMPERATURE, MAX_LOGIT_SCALE, LogitScale
from minisora.text.encoder import TEXT_ENCODER_PRESETS, TextEncoder, TextEncoderConfig


def _small_video_tower() -> ViViTConfig:
    # 16 frames of 32x32 in 2-frame x 8x8-pixel tubelets: an 8 x 4 x 4 grid of 128 tokens, joint attention.
    return ViViTConfig(num_frames=16, image_size=(32, 32), patch_size=8, tubelet_frames=2, dim=96, depth=4,
                       num_heads=4, num_classes=128)


@dataclass
class CLIPConfig:
    """A CLIP pair: the text encoder's config, the video ViViT's (num_classes = the shared embed_dim), the scale."""

    text: TextEncoderConfig = field(default_factory=lambda: dataclasses.replace(TEXT_ENCODER_PRESETS["small"]))
    video: ViViTConfig = field(default_factory=_small_video_tower)
    init_temperature: float = INIT_TEMPERATURE
    max_logit_scale: float = MAX_LOGIT_SCALE

    def __post_init__(self) -> None:
        # A checkpoint stores the config as nested dicts (dataclasses.asdict): rebuild the two dataclasses.
        if isinstance(self.text, dict):
            self.text = TextEncoderConfig(**self.text)
        if isinstance(self.video, dict):
            self.video = ViViTConfig(**self.video)
        if not isinstance(self.text, TextEncoderConfig) or not isinstance(self.video, ViViTConfig):
            raise ValueError(f"CLIPConfig takes text=TextEncoderConfig and video=ViViTConfig, got "
                             f"{type(self.text).__name__} and {type(self.video).__name__}")
        if self.text.embed_dim != self.video.num_classes:
            raise ValueError(f"the towers must meet in one space: text.embed_dim={self.text.embed_dim} but "
                             f"video.num_classes={self.video.num_classes}; set both to the same width")
        LogitScale(self.init_temperature, self.max_logit_scale)  # its own errors, now

    @property
    def embed_dim(self) -> int:
        """The width of the shared space."""
        return self.text.embed_dim


CLIP_PRESETS = Presets("CLIP", {
    # Tests: 4 frames of 16x16, one block per tower.
    "tiny": CLIPConfig(text=TEXT_ENCODER_PRESETS["tiny"],
                       video=ViViTConfig(num_frames=4, image_size=(16, 16), patch_size=8, tubelet_frames=2, dim=32,
                                         depth=1, num_heads=2, num_classes=32)),
    "small": CLIPConfig(),  # the text-encoder recipe's default: 16x32x32 clips
})


class CLIPOutput(NamedTuple):
    """Both towers' embeddings (B, embed_dim), not normalized, and the logit scale exp(τ) (a 0-d tensor)."""

    text: Tensor
    video: Tensor
    logit_scale: Tensor


class CLIPModel(nn.Module):
    """A TextEncoder and a ViViT video tower into one space, with CLIP's learned logit scale."""

    def __init__(self, config: CLIPConfig | None = None, **overrides) -> None:
        super().__init__()
        cfg = configure(CLIPConfig, config, overrides)
        self.config = cfg
        self.text = TextEncoder(cfg.text)
        self.video = ViViT(cfg.video)
        self.logit_scale = LogitScale(cfg.init_temperature, cfg.max_logit_scale)

    @property
    def tokenizer(self):
        """The text encoder's tokenizer."""
        return self.text.tokenizer

    def embed_text(self, ids: Tensor, mask: Tensor) -> Tensor:
        """ids (B, L), mask (B, L) -> text embeddings (B, embed_dim)."""
        return self.text.embed(self.text(ids, mask).pooled)

    def embed_video(self, video: Tensor) -> Tensor:
        """videos (B, F, C, H, W) (in [-1, 1], as the recipe feeds them) -> video embeddings (B, embed_dim)."""
        return self.video(video)

    def encode_text(self, captions: str | Sequence[str]) -> Tensor:
        """Captions (tokenized here) -> text embeddings (B, embed_dim) on the model's device."""
        return self.text.embed(self.text.encode_text(captions).pooled)

    def forward(self, video: Tensor, ids: Tensor, mask: Tensor) -> CLIPOutput:
        """videos (B, F, C, H, W), ids (B, L), mask (B, L) -> CLIPOutput(text (B, E), video (B, E), logit_scale)."""
        if not isinstance(video, Tensor) or not isinstance(ids, Tensor) or video.shape[:1] != ids.shape[:1]:
            shapes = [tuple(t.shape) if isinstance(t, Tensor) else type(t).__name__ for t in (video, ids)]
            raise ValueError(f"video and ids must be tensors with one row per pair, got {shapes[0]} and {shapes[1]}")
        return CLIPOutput(self.embed_text(ids, mask), self.embed_video(video), self.logit_scale())


def save_text_encoder(model: CLIPModel | TextEncoder, path: str | pathlib.Path, **metadata) -> pathlib.Path:
    """Write the text encoder of `model` (a CLIPModel, or a TextEncoder itself) as a standalone checkpoint."""
    encoder = model.text if isinstance(model, CLIPModel) else model
    if not isinstance(encoder, TextEncoder):
        raise ValueError(f"model must be a CLIPModel or a TextEncoder, got {type(model).__name__}")
    return save_checkpoint(path, encoder, **metadata)


def load_text_encoder(path: str | pathlib.Path, device="cpu", ema: bool | None = None) -> TextEncoder:
    """The TextEncoder in `path`: a standalone TextEncoder checkpoint, or the text tower of a CLIPModel's
    (its metadata kept as `.checkpoint_metadata`), in eval mode on `device`."""
    model = load_model(path, device=device, ema=ema)
    if isinstance(model, TextEncoder):
        return model
    if isinstance(model, CLIPModel):
        model.text.checkpoint_metadata = model.checkpoint_metadata
        return model.text
    raise ValueError(f"{path} holds a {type(model).__name__}, not a TextEncoder or a CLIPModel; pass the "
                     "text_encoder.pt or last.pt of a `minisora train text-encoder` run")
