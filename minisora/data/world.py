"""The Bouncing Shapes world: sample a scene, simulate it, draw it, caption it.

`render("a small red circle moving left")` is the entry point a learner (and, later, every
model's evaluation) uses: it parses the canonical caption, spawns the objects from `seed`,
runs the physics and returns the video with its ground truth. `sample_scene` draws random
scenes for training, honouring a hold-out set of (color, shape, motion) triples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from minisora.core.checks import check_seed
from minisora.data.captions import canonical_caption, parse_caption
from minisora.data.physics import Truth, simulate
from minisora.data.raster import rasterize
from minisora.data.scene import (
    CAMERAS,
    COLORS,
    DEFAULT_HOLDOUT,
    FPS,
    MAX_OBJECTS,
    MOTIONS,
    SHAPES,
    SIZES,
    Holdout,
    ObjectSpec,
    SceneSpec,
    check_video_size,
)

SPLITS = ("train", "holdout", "all")


@dataclass
class Clip:
    """A rendered clip: the video (F, C, H, W) in [0, 1], its scene, caption and ground truth."""

    video: torch.Tensor
    scene: SceneSpec
    caption: str
    truth: Truth

    @property
    def fps(self) -> float:
        return self.truth.fps


def render_scene(
    scene: SceneSpec, num_frames: int = 16, height: int = 32, width: int = 32, seed: int = 0, fps: float = FPS
) -> Clip:
    """Simulate and draw a scene; the same scene and seed always give the same clip."""
    if not isinstance(scene, SceneSpec):
        raise ValueError(f"render_scene takes a SceneSpec, got {type(scene).__name__}; use render(caption) for text")
    check_video_size(num_frames, height, width, fps)
    seed = check_seed(seed)
    truth = simulate(scene, num_frames, height, width, fps=fps, seed=seed)
    frames = rasterize(scene, truth, height, width)  # (F, 3, H, W)
    return Clip(video=torch.from_numpy(frames), scene=scene, caption=canonical_caption(scene), truth=truth)


def render(caption: str, num_frames: int = 16, height: int = 32, width: int = 32, seed: int = 0,
           fps: float = FPS) -> Clip:
    """Parse a canonical caption and render it: ground truth for any prompt."""
    return render_scene(parse_caption(caption), num_frames, height, width, seed=seed, fps=fps)


def sample_scene(
    rng: np.random.Generator,
    split: str = "train",
    holdout: Holdout = DEFAULT_HOLDOUT,
    max_objects: int = MAX_OBJECTS,
    gray_prob: float = 0.25,
    camera_prob: float = 0.2,
) -> SceneSpec:
    """A random scene. split="train" never shows a held-out triple; "holdout" always shows one."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; allowed: {', '.join(map(repr, SPLITS))}")
    if not isinstance(max_objects, int) or not 1 <= max_objects <= MAX_OBJECTS:
        raise ValueError(f"max_objects must be an int from 1 to {MAX_OBJECTS}, got {max_objects!r}")
    for name, p in (("gray_prob", gray_prob), ("camera_prob", camera_prob)):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{name} must be a probability in [0, 1], got {p!r}")
    if split == "holdout" and not holdout.triples:
        raise ValueError("split='holdout' needs a non-empty holdout set")

    count = int(rng.integers(1, max_objects + 1))
    colors = [str(c) for c in rng.permutation(list(COLORS))[:count]]
    objects = [_sample_object(rng, colors[0], split, holdout, must_hold_out=split == "holdout")]
    if objects[0].color in colors[1:]:
        # The held-out triple brought its own color (none was held out for the one drawn), and a
        # later object had drawn it: that object takes the color the first gave up, so the
        # colors stay distinct (SceneSpec requires it) and the random draws stay the same.
        colors[colors.index(objects[0].color, 1)] = colors[0]
    objects += [_sample_object(rng, color, split, holdout, must_hold_out=False) for color in colors[1:]]
    # Shuffle so the held-out object is not always first in the caption.
    order = rng.permutation(count)
    background = "gray" if rng.random() < gray_prob else "black"
    camera = str(rng.choice(CAMERAS[1:])) if rng.random() < camera_prob else "none"
    return SceneSpec(tuple(objects[i] for i in order), background=background, camera=camera)


def _sample_object(rng, color: str, split: str, holdout: Holdout, must_hold_out: bool) -> ObjectSpec:
    size = str(rng.choice(list(SIZES)))
    if must_hold_out:
        options = sorted(t for t in holdout.triples if t[0] == color) or sorted(holdout.triples)
        held_color, shape, motion = options[int(rng.integers(len(options)))]
        if held_color != color:  # no held-out triple for this color: the caller's color gives way
            color = held_color
        return ObjectSpec(color, shape, size, motion)
    while True:
        shape = str(rng.choice(SHAPES))
        motion = str(rng.choice(MOTIONS))
        if split != "train" or (color, shape, motion) not in holdout:
            return ObjectSpec(color, shape, size, motion)
