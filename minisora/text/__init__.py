"""Text for the video model (lessons 08-09): words to ids, ids to vectors, and CLIP's loss that aligns them with clips.

    tokenizer  a word-level tokenizer for the world's closed caption grammar (<pad> <unk> <bos> <eos>)
    encoder    `TextEncoder`: token embedding + positions, bidirectional transformer blocks with the
               padding mask, a masked-mean pooled vector and its projection into the contrastive space
    clip       CLIP's symmetric InfoNCE loss, the learned logit scale, and retrieval scores (top-k, mean rank)

`text` is a network layer like `models`: it imports `core` and `blocks`, never `diffusion`;
the tokenizer alone reads `data`'s caption grammar (its vocabulary and the longest caption),
as the judge does. The video tower and the paired `CLIPModel` live in `minisora.models.clip`,
since they build on ViViT and `text` may not import `models`.
"""

from minisora.core.registry import register_network
from minisora.text.clip import LogitScale, clip_loss, retrieval, similarity
from minisora.text.encoder import TEXT_ENCODER_PRESETS, TextEmbedding, TextEncoder, TextEncoderConfig
from minisora.text.tokenizer import (
    SPECIALS,
    Tokenizer,
    longest_caption_words,
    split_words,
    world_context_length,
    world_vocabulary,
)

register_network(TextEncoder, TextEncoderConfig)

__all__ = [
    "SPECIALS", "TEXT_ENCODER_PRESETS", "LogitScale", "TextEmbedding", "TextEncoder", "TextEncoderConfig",
    "Tokenizer", "clip_loss", "longest_caption_words", "retrieval", "similarity", "split_words",
    "world_context_length", "world_vocabulary",
]
