"""Embeddings of the diffusion timestep and of class labels (lesson 02; DiT reuses them in lesson 06).

The timestep t is a number; a network needs a vector. Ho et al. (2020, appendix B) use the
Transformer's sinusoidal position encoding (Vaswani et al. 2017, section 3.5): frequencies
1/10000^(i/half) span many scales, so nearby t get similar vectors and far t differ. An MLP
then maps it to the width the blocks consume.

Shapes: one timestep per sample, t (B,) -> (B, D), or, for a video whose frames sit at
different noise levels (Open-Sora's frame conditioning, lesson 10), one per frame,
t (B, F) -> (B, F, D).

The time scale. The frequencies are chosen for integer timesteps 0..999 (T = 1000): the
fastest turns once per radian, the slowest 1/10,000 of that. Continuous flow-matching time
t in [0, 1] would use a sliver of that range — at 256 dimensions t = 0 and t = 1 get vectors
with cosine similarity 0.97 — so the flow side of the package hands networks
FLOW_TIME_SCALE · t = 1000 t (`minisora.diffusion.flow`, SD3's and diffusers' convention)
and the embedder needs no scale of its own: it always sees time on the 0..1000 axis.

Labels get a learned vector each, plus one extra "null" row: the unconditional model of
classifier-free guidance (Ho & Salimans 2022) is the same network fed the null label.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def timestep_embedding(t: Tensor, dim: int, max_period: float = 10_000.0) -> Tensor:
    """Sinusoids (B,) -> (B, dim) or (B, F) -> (B, F, dim):
    [cos(t f_0), ..., cos(t f_{k-1}), sin(t f_0), ...], f_i = max_period^(-i/k)."""
    if t.ndim not in (1, 2):
        raise ValueError(
            f"t must have shape (B,), one timestep per sample, or (B, F), one per frame; got {tuple(t.shape)}"
        )
    if dim < 2 or dim % 2:
        raise ValueError(f"the embedding dim must be even and >= 2, got {dim}")
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)  # (k,)
    args = t.float()[..., None] * freqs  # (B, k) or (B, F, k)
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)  # (B, dim) or (B, F, dim)


def broadcast_timesteps(t: Tensor | float, batch_size: int, device: torch.device | str,
                        num_frames: int | None = None) -> Tensor:
    """Timesteps on `device`: a scalar is repeated to (B,); (B,) is kept; with num_frames, (B, F) too.
    Else a ValueError."""
    t = torch.as_tensor(t, device=device)
    t = t.expand(batch_size) if t.ndim == 0 else t
    if t.shape == (batch_size,) or (num_frames is not None and t.shape == (batch_size, num_frames)):
        return t
    if num_frames is None:
        raise ValueError(f"t must be one timestep per sample, shape ({batch_size},), or a scalar; got {tuple(t.shape)}")
    raise ValueError(
        f"t must be a scalar, one timestep per sample, shape ({batch_size},), or one per frame, shape "
        f"({batch_size}, {num_frames}); got {tuple(t.shape)}"
    )


class TimestepEmbedder(nn.Module):
    """t (B,) -> (B, dim) or (B, F) -> (B, F, dim): sinusoids of width `frequency_dim`, then Linear-SiLU-Linear."""

    def __init__(self, dim: int, frequency_dim: int = 256) -> None:
        super().__init__()
        self.frequency_dim = frequency_dim
        self.mlp = nn.Sequential(nn.Linear(frequency_dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def normal_init(self, std: float = 0.02) -> None:
        """DiT's initialization of the timestep MLP: small normal weights (its biases are left as they are)."""
        for layer in self.mlp:
            if isinstance(layer, nn.Linear):
                nn.init.normal_(layer.weight, std=std)

    def forward(self, t: Tensor) -> Tensor:
        return self.mlp(timestep_embedding(t, self.frequency_dim))  # (B, dim) or (B, F, dim)


class LabelEmbedder(nn.Module):
    """Labels (B,) or (B, A) -> (B, dim): one table per attribute, summed; index `num_classes[a]` is null.

    With several attributes (e.g. colour and shape) each gets its own table and the vectors
    add, so an unseen combination still has a sensible embedding. In training, each sample's
    labels are all replaced by null with probability `dropout_prob`, which teaches the
    unconditional model that classifier-free guidance needs.
    """

    def __init__(self, num_classes: int | tuple[int, ...], dim: int, dropout_prob: float = 0.1) -> None:
        super().__init__()
        sizes = (num_classes,) if isinstance(num_classes, int) else tuple(num_classes)
        if not sizes or any(not isinstance(n, int) or n < 1 for n in sizes):
            raise ValueError(f"num_classes must be a positive int or a tuple of them, got {num_classes!r}")
        if not 0.0 <= dropout_prob < 1.0:
            raise ValueError(f"dropout_prob must be in [0, 1), got {dropout_prob!r}")
        self.num_classes = sizes
        self.dropout_prob = dropout_prob
        # One extra row per table: the null label.
        self.tables = nn.ModuleList(nn.Embedding(n + 1, dim) for n in sizes)

    def null_labels(self, batch_size: int, device: torch.device | str | None = None) -> Tensor:
        """The unconditional labels, shape (B, A)."""
        null = torch.tensor(self.num_classes, device=device)  # (A,)
        return null.expand(batch_size, len(self.num_classes)).clone()

    def embed_or_null(self, labels: Tensor | None, batch_size: int, device: torch.device | str) -> Tensor:
        """forward(labels), where None means "no condition": the null label for every sample; (B, dim)."""
        if labels is None:
            return self(self.null_labels(batch_size, device))
        if isinstance(labels, Tensor) and labels.ndim > 0 and labels.shape[0] != batch_size:
            raise ValueError(f"labels has batch {labels.shape[0]} but x has batch {batch_size}; "
                             "give one row of labels per sample")
        return self(labels)

    def check_labels(self, labels: Tensor) -> Tensor:
        """Labels as (B, A) integers in range (null allowed), or a ValueError that says what is wrong."""
        if labels.dtype.is_floating_point or labels.dtype == torch.bool:
            raise ValueError(f"labels must be integer class ids, got dtype {labels.dtype}")
        if labels.ndim == 1 and len(self.num_classes) == 1:
            labels = labels[:, None]  # (B, 1)
        if labels.ndim != 2 or labels.shape[1] != len(self.num_classes):
            raise ValueError(
                f"labels must have shape (B, {len(self.num_classes)}) for attributes with {self.num_classes} "
                f"classes, got {tuple(labels.shape)}"
            )
        high = torch.tensor(self.num_classes, device=labels.device)
        if (labels < 0).any() or (labels > high).any():
            raise ValueError(f"labels out of range: attribute a takes 0..{self.num_classes}[a] (the last is null)")
        return labels

    def forward(self, labels: Tensor) -> Tensor:
        labels = self.check_labels(labels)  # (B, A)
        if self.training and self.dropout_prob > 0:
            drop = torch.rand(labels.shape[0], device=labels.device) < self.dropout_prob  # (B,)
            labels = torch.where(drop[:, None], self.null_labels(labels.shape[0], labels.device), labels)
        return sum(table(labels[:, a]) for a, table in enumerate(self.tables))  # (B, dim)
