"""The judge on still images (lessons 02, 03, 06): which colour, shape and size is in a frame?

An image shows no motion, so it is measured as a still clip: the frame repeated
`MIN_FRAMES` times goes through the same `measure` as any video, and only the attributes an
image can show are read off (count, colour, shape, size). Same pixels-only rules as `judge`.
"""

from __future__ import annotations

from collections import Counter
from typing import Sequence

import numpy as np
import torch

from minisora.data.scene import COLORS, SHAPES, SIZES
from minisora.eval.judge import seen_objects
from minisora.eval.measurement import MIN_FRAMES, measure

IMAGE_ATTRIBUTES = ("color", "shape", "size")


def see_image(image: torch.Tensor | np.ndarray) -> dict[str, dict[str, str | None]]:
    """What the judge sees in one image (3, H, W) in [0, 1]: colour -> {shape, size} of each object."""
    if image.ndim != 3:
        raise ValueError(f"expected one image (3, H, W), got shape {tuple(image.shape)}; for a batch use score_images")
    still = (image[None].repeat(MIN_FRAMES, 1, 1, 1) if isinstance(image, torch.Tensor)
             else np.repeat(image[None], MIN_FRAMES, 0))
    return {color: {"shape": seen["shape"], "size": seen["size"]}
            for color, seen in seen_objects(measure(still)).items()}


def judge_image(
    image: torch.Tensor | np.ndarray, color: str, shape: str | None = None, size: str | None = None
) -> dict[str, bool]:
    """Checks for one image against one wanted object: count (exactly one), color, and shape/size if given."""
    _check_names(color, shape, size)
    seen = see_image(image)
    found = seen.get(color)
    checks = {"count": len(seen) == 1, "color": found is not None}
    if shape is not None:
        checks["shape"] = found is not None and found["shape"] == shape
    if size is not None:
        checks["size"] = found is not None and found["size"] == size
    return checks


def score_images(
    images: torch.Tensor | np.ndarray,
    colors: Sequence[str],
    shapes: Sequence[str] | None = None,
    sizes: Sequence[str] | None = None,
) -> dict[str, float]:
    """Accuracy of a batch (B, 3, H, W) against wanted colours (and shapes, sizes): per check and all at once."""
    if images.ndim != 4:
        raise ValueError(f"expected a batch of images (B, 3, H, W), got shape {tuple(images.shape)}")
    n = len(images)
    if n == 0:
        raise ValueError("score_images needs at least one image (images has batch 0)")
    for name, wanted in (("colors", colors), ("shapes", shapes), ("sizes", sizes)):
        if wanted is not None and len(wanted) != n:
            raise ValueError(f"got {n} images but {len(wanted)} {name}; pass one per image")
    totals: Counter[str] = Counter()
    matches = 0
    for i in range(n):
        checks = judge_image(images[i], colors[i], shapes[i] if shapes else None, sizes[i] if sizes else None)
        totals.update({name: int(ok) for name, ok in checks.items()})
        matches += all(checks.values())
    result = {"match": matches / n}
    result.update({name: totals[name] / n for name in ("count", *IMAGE_ATTRIBUTES) if name in totals})
    result["n"] = n
    return result


def image_census(images: torch.Tensor | np.ndarray) -> Counter[tuple[str, str]]:
    """How often each (colour, shape) is seen in a batch of one-object images; ("none", "none") for empty
    or crowded ones."""
    census: Counter[tuple[str, str]] = Counter()
    for image in images:
        seen = see_image(image)
        if len(seen) == 1:
            color, labels = next(iter(seen.items()))
            census[(color, str(labels["shape"]))] += 1
        else:
            census[("none", "none")] += 1
    return census


def _check_names(color: str, shape: str | None, size: str | None) -> None:
    if color not in COLORS:
        raise ValueError(f"unknown color {color!r}; allowed: {', '.join(COLORS)}")
    if shape is not None and shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}; allowed: {', '.join(SHAPES)}")
    if size is not None and size not in SIZES:
        raise ValueError(f"unknown size {size!r}; allowed: {', '.join(SIZES)}")
