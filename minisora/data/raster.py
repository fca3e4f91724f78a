"""Drawing the Bouncing Shapes: anti-aliased shapes from signed distances, all frames at once.

Each shape is a signed distance d(p) in pixels (negative inside). Its coverage of a pixel
is alpha = clip(0.5 - d, 0, 1): one pixel of soft edge, which removes stair-casing without
blurring the shape. Frames are painted back to front, `image = image (1 - alpha) + color alpha`,
for every frame and pixel in one NumPy broadcast (no Python loop over pixels or frames).
"""

from __future__ import annotations

import numpy as np

from minisora.data.physics import Truth
from minisora.data.scene import BACKGROUNDS, COLORS, SceneSpec

_SQRT5 = np.sqrt(5.0)


def signed_distance(shape: str, dx: np.ndarray, dy: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Approximate signed distance (pixels) from offsets (dx, dy) to a shape of half-extent r."""
    if shape == "circle":
        return np.sqrt(dx**2 + dy**2) - r
    if shape == "square":
        return np.maximum(np.abs(dx), np.abs(dy)) - r
    if shape == "triangle":
        # Apex (0, -r), base corners (+-r, r); each side is a half-plane, the shape their
        # intersection, so the max of the three signed distances (exact inside, close outside).
        base = dy - r
        left = (-2 * dx - dy - r) / _SQRT5
        right = (2 * dx - dy - r) / _SQRT5
        return np.maximum(base, np.maximum(left, right))
    raise ValueError(f"unknown shape {shape!r}")


def shape_area(shape: str, r: np.ndarray) -> np.ndarray:
    """Area in pixels of a shape with half-extent r."""
    factor = {"circle": np.pi, "square": 4.0, "triangle": 2.0}[shape]
    return factor * r**2


def rasterize(scene: SceneSpec, truth: Truth, height: int, width: int) -> np.ndarray:
    """Paint the clip as (F, 3, H, W) float32 in [0, 1]; fills `truth.visibility` and `truth.occlusion` (F, N)."""
    F = len(truth.times)
    ys = np.arange(height, dtype=np.float32) + 0.5  # pixel centres
    xs = np.arange(width, dtype=np.float32) + 0.5
    image = np.empty((F, height, width, 3), dtype=np.float32)
    image[:] = np.asarray(BACKGROUNDS[scene.background], dtype=np.float32)

    alphas = []
    for i, obj in enumerate(scene.objects):
        cx = truth.centers[:, i, 0].astype(np.float32)[:, None, None]  # (F, 1, 1)
        cy = truth.centers[:, i, 1].astype(np.float32)[:, None, None]
        r = truth.radii[:, i].astype(np.float32)[:, None, None]
        dx = xs[None, None, :] - cx  # (F, 1, W)
        dy = ys[None, :, None] - cy  # (F, H, 1)
        alpha = np.clip(0.5 - signed_distance(obj.shape, dx, dy, r), 0.0, 1.0)  # (F, H, W)
        color = np.asarray(COLORS[obj.color], dtype=np.float32)
        image += alpha[..., None] * (color - image)  # over-compositing, later objects on top
        alphas.append(alpha)

    # What fraction of each object's full area shows: its alpha, minus what later objects
    # cover, divided by the area it would have unclipped and unoccluded.
    # `occlusion` is the fraction of its in-frame area that later objects cover.
    visibility = np.zeros((F, len(alphas)))
    occlusion = np.zeros((F, len(alphas)))
    for i, obj in enumerate(scene.objects):
        visible = alphas[i].astype(np.float64)
        for later in alphas[i + 1 :]:
            visible = visible * (1 - later)
        shown, in_frame = visible.sum(axis=(1, 2)), alphas[i].sum(axis=(1, 2), dtype=np.float64)
        visibility[:, i] = shown / shape_area(obj.shape, truth.radii[:, i])
        occlusion[:, i] = np.where(in_frame > 0, 1 - shown / np.maximum(in_frame, 1e-9), 0.0)
    truth.visibility = np.clip(visibility, 0.0, 1.0)
    truth.occlusion = np.clip(occlusion, 0.0, 1.0)
    return np.ascontiguousarray(image.transpose(0, 3, 1, 2))  # (F, H, W, 3) -> (F, 3, H, W)
