"""A PyTorch Dataset of Bouncing Shapes clips, rendered on the fly.

Item i is a pure function of (seed, i): its scene, caption phrasing and spawn positions
come from `np.random.default_rng([seed, i])`, so the dataset is the same in every
DataLoader worker, on every machine, with no files on disk and no state to share.
"""

from __future__ import annotations

import operator

import numpy as np
from torch.utils.data import Dataset

from minisora.core.checks import check_seed
from minisora.data.captions import canonical_caption, free_caption
from minisora.data.scene import DEFAULT_HOLDOUT, FPS, MAX_OBJECTS, Holdout, SceneSpec, check_video_size
from minisora.data.world import Clip, render_scene, sample_scene

CAPTION_STYLES = ("free", "canonical")


class BouncingShapes(Dataset):
    """`length` random clips: dicts with video (F, C, H, W) in [0, 1], caption and spec."""

    def __init__(
        self,
        length: int = 10_000,
        num_frames: int = 16,
        height: int = 32,
        width: int = 32,
        split: str = "train",
        holdout: Holdout = DEFAULT_HOLDOUT,
        caption_style: str = "free",
        max_objects: int = MAX_OBJECTS,
        gray_prob: float = 0.25,
        camera_prob: float = 0.2,
        fps: float = FPS,
        seed: int = 0,
    ) -> None:
        if not isinstance(length, int) or length <= 0:
            raise ValueError(f"length must be a positive int, got {length!r}")
        if caption_style not in CAPTION_STYLES:
            raise ValueError(f"unknown caption_style {caption_style!r}; "
                             f"allowed: {', '.join(map(repr, CAPTION_STYLES))}")
        check_video_size(num_frames, height, width, fps)
        seed = check_seed(seed)
        self.length, self.num_frames, self.height, self.width = length, num_frames, height, width
        self.split, self.holdout, self.caption_style = split, holdout, caption_style
        self.max_objects, self.gray_prob, self.camera_prob = max_objects, gray_prob, camera_prob
        self.fps, self.seed = fps, seed
        self.scene(0)  # validates split, max_objects and the probabilities now, not in a worker

    def __len__(self) -> int:
        return self.length

    def _rng(self, index: int) -> np.random.Generator:
        try:  # an int, a NumPy integer or an integer 0-d tensor; not a float (1.5 has no item)
            index = operator.index(index)
        except TypeError:
            raise TypeError(f"index must be an int, got {type(index).__name__} {index!r}") from None
        if not -self.length <= index < self.length:
            raise IndexError(f"index {index} out of range for a dataset of length {self.length}")
        return np.random.default_rng([self.seed, index % self.length])

    def scene(self, index: int) -> SceneSpec:
        """The scene of item `index` (cheap: no rendering)."""
        return sample_scene(
            self._rng(index), self.split, self.holdout, self.max_objects, self.gray_prob, self.camera_prob
        )

    def clip(self, index: int) -> Clip:
        """Item `index` with its full per-frame ground truth."""
        rng = self._rng(index)
        scene = sample_scene(rng, self.split, self.holdout, self.max_objects, self.gray_prob, self.camera_prob)
        position_seed = int(rng.integers(2**31))
        return render_scene(scene, self.num_frames, self.height, self.width, seed=position_seed, fps=self.fps)

    def __getitem__(self, index: int) -> dict:
        clip = self.clip(index)
        if self.caption_style == "canonical":
            caption = clip.caption
        else:
            # A separate stream for the phrasing, so the scene does not depend on caption_style.
            caption = free_caption(clip.scene, np.random.default_rng([self.seed, index % self.length, 1]))
        # "spec" is the canonical caption: the ground-truth scene as text, collate-friendly,
        # and parse_caption(spec) gives the SceneSpec back.
        return {"video": clip.video, "caption": caption, "spec": canonical_caption(clip.scene)}
