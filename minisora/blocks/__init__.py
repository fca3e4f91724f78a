"""Layers every network shares (lessons 02, 04-06, 09): embeddings and attention.

    embeddings  sinusoidal timestep embedding, TimestepEmbedder, LabelEmbedder (null class for CFG)
    attention   multi-head self- and cross-attention on F.scaled_dot_product_attention
    resnet      the conv residual block (optionally conditioned) and attention over a feature map
    patching    images and videos <-> tokens: patches, frame patches, tubelets
    positions   learned, sin-cos (1-D, 2-D, 3-D) and rotary (RoPE) position embeddings
    transformer the pre-norm transformer block and its MLP
    causal_conv causal 3-D convolutions for video VAEs: per-frame norms, causal up-sampling, streaming

`blocks` imports only torch and einops: the U-Net, VAE, ViT, ViViT and DiT all build from it,
so there is one attention and one timestep embedding in the whole package.
"""

from minisora.blocks.attention import Attention, attention_reference
from minisora.blocks.causal_conv import CausalConv3d, CausalResBlock, CausalUpsample, inflate_conv_weight, streaming
from minisora.blocks.embeddings import LabelEmbedder, TimestepEmbedder, timestep_embedding
from minisora.blocks.patching import (
    patchify,
    patchify_frames,
    patchify_tubelets,
    token_grid,
    uniform_frame_indices,
    unpatchify,
    unpatchify_frames,
    unpatchify_tubelets,
)
from minisora.blocks.positions import (
    LearnedPositions,
    apply_rope,
    axial_rope_angles,
    rope_angles,
    sincos_1d,
    sincos_2d,
    sincos_3d,
)
from minisora.blocks.resnet import AttentionBlock, ResBlock
from minisora.blocks.transformer import MLP, TransformerBlock

__all__ = [
    "MLP", "Attention", "AttentionBlock", "LabelEmbedder", "LearnedPositions", "ResBlock", "TimestepEmbedder",
    "TransformerBlock", "apply_rope", "attention_reference", "axial_rope_angles", "patchify", "patchify_frames",
    "patchify_tubelets", "rope_angles", "sincos_1d", "sincos_2d", "sincos_3d", "timestep_embedding", "token_grid",
    "uniform_frame_indices", "unpatchify", "unpatchify_frames", "unpatchify_tubelets",
    "CausalConv3d", "CausalResBlock", "CausalUpsample", "inflate_conv_weight", "streaming",
]
