"""Layers every network shares (lessons 02, 04-06, 09): embeddings and attention.

    embeddings  sinusoidal timestep embedding, TimestepEmbedder, LabelEmbedder (null class for CFG)
    attention   multi-head self- and cross-attention on F.scaled_dot_product_attention
    resnet      the conv residual block (optionally conditioned) and attention over a feature map

`blocks` imports only torch and einops: the U-Net, VAE, ViT, ViViT and DiT all build from it,
so there is one attention and one timestep embedding in the whole package.
"""

from minisora.blocks.attention import Attention, attention_reference
from minisora.blocks.embeddings import LabelEmbedder, TimestepEmbedder, timestep_embedding
from minisora.blocks.resnet import AttentionBlock, ResBlock

__all__ = [
    "Attention", "AttentionBlock", "LabelEmbedder", "ResBlock", "TimestepEmbedder", "attention_reference",
    "timestep_embedding",
]
