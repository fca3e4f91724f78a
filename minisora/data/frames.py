"""Labelled still frames of one object, for the image lessons (02 U-Net, 03 VAE, 06 DiT).

An image model learns the world's look before a video model learns its motion: each frame
is the first frame of a one-object scene (black background, still camera) with its
colour and shape as class labels, the conditions the image lessons generate from.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from minisora.data.scene import COLORS, MOTIONS, SHAPES, SIZES, ObjectSpec, SceneSpec, check_video_size
from minisora.data.world import render_scene

COLOR_NAMES: tuple[str, ...] = tuple(COLORS)  # label id -> colour name
NUM_LABELS: tuple[int, ...] = (len(COLORS), len(SHAPES))  # classes per attribute: (8 colours, 3 shapes)


@dataclass
class Frames:
    """N still frames (N, 3, H, W) in [0, 1] with labels (N, 2) = (colour id, shape id) and size names."""

    images: torch.Tensor
    labels: torch.Tensor
    sizes: list[str]

    def __len__(self) -> int:
        return len(self.images)

    def names(self, i: int) -> tuple[str, str]:
        """(colour, shape) of frame i."""
        return label_names(self.labels[i])


def label_names(label: torch.Tensor | tuple[int, int]) -> tuple[str, str]:
    """(colour id, shape id) -> (colour name, shape name)."""
    color, shape = (int(v) for v in label)
    return COLOR_NAMES[color], SHAPES[shape]


def labels_of(color: str, shape: str) -> torch.Tensor:
    """(colour name, shape name) -> the label tensor (2,) the image models take."""
    ObjectSpec(color, shape)  # a clear error for unknown names
    return torch.tensor([COLOR_NAMES.index(color), SHAPES.index(shape)])


def all_labels() -> torch.Tensor:
    """Every (colour, shape) label once, (24, 2), colour-major."""
    return torch.tensor([[c, s] for c in range(len(COLORS)) for s in range(len(SHAPES))])


def object_frames(num: int, height: int = 32, width: int = 32, seed: int = 0) -> Frames:
    """`num` frames, each a random one-object scene (colour, shape, size, spawn place) drawn from `seed`."""
    if not isinstance(num, int) or num < 1:
        raise ValueError(f"num must be a positive int, got {num!r}")
    check_video_size(1, height, width)
    rng = np.random.default_rng(seed)
    images, labels, sizes = [], [], []
    for _ in range(num):
        color, shape = int(rng.integers(len(COLORS))), int(rng.integers(len(SHAPES)))
        size = str(rng.choice(list(SIZES)))
        # Motion changes nothing in a first frame, but it picks the spawn area, so it varies the layout.
        motion = str(rng.choice(MOTIONS))
        scene = SceneSpec((ObjectSpec(COLOR_NAMES[color], SHAPES[shape], size, motion),))
        clip = render_scene(scene, num_frames=1, height=height, width=width, seed=int(rng.integers(2**31)))
        images.append(clip.video[0])  # (3, H, W)
        labels.append((color, shape))
        sizes.append(size)
    return Frames(torch.stack(images), torch.tensor(labels), sizes)  # (N, 3, H, W), (N, 2)
