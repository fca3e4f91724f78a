"""The Bouncing Shapes world: captioned videos with real physics and ground truth (lesson 00).

Imports only `minisora.core`. See `scene` for the vocabulary and units, `physics` for the
motion, `raster` for drawing, `captions` for the caption grammar, `world` for `render`,
`frames` for labelled still frames, `coverage` for where the objects are (loss weights).
"""

from minisora.data.captions import (
    GRAMMAR,
    canonical_caption,
    caption_vocabulary,
    free_caption,
    parse_caption,
)
from minisora.data.coverage import coverage_weights, object_coverage, object_mask
from minisora.data.dataset import BouncingShapes
from minisora.data.frames import Frames, object_frames
from minisora.data.physics import Truth, simulate
from minisora.data.raster import rasterize
from minisora.data.scene import (
    BACKGROUNDS,
    CAMERAS,
    COLORS,
    DEFAULT_HOLDOUT,
    FPS,
    GRAVITY,
    MAX_OBJECTS,
    MOTIONS,
    PAN_SPEED,
    RESTITUTION,
    SHAPES,
    SIZES,
    SPEED,
    ZOOM_RATE,
    Holdout,
    ObjectSpec,
    SceneSpec,
)
from minisora.data.world import SPLITS, Clip, render, render_scene, sample_scene

__all__ = [
    "BACKGROUNDS", "CAMERAS", "COLORS", "DEFAULT_HOLDOUT", "FPS", "GRAMMAR", "GRAVITY", "MAX_OBJECTS",
    "MOTIONS", "PAN_SPEED", "RESTITUTION", "SHAPES", "SIZES", "SPEED", "SPLITS", "ZOOM_RATE",
    "BouncingShapes", "Clip", "Frames", "Holdout", "ObjectSpec", "SceneSpec", "Truth",
    "caption_vocabulary", "canonical_caption", "coverage_weights", "free_caption", "object_coverage",
    "object_frames", "object_mask", "parse_caption",
    "rasterize", "render", "render_scene", "sample_scene", "simulate",
]
