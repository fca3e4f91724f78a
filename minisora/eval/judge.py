"""The judge: does a video show what its caption says? (lesson 00)

`minisora.eval.measurement.measure` turns pixels into numbers, blind to the caption; this
module turns the numbers into words and checks them against the caption, one attribute at
a time, so a failure says *what* is wrong:

- count: the number of palette colours clearly present equals the number of objects.
- background, camera: measured directly (camera: a common zoom of every area, or a common
  horizontal drift once each object's own speed in {-S, 0, S} is taken out).
- colour: present. Shape from moments of the object's mask, which blur barely moves: a
  triangle's mass sits low (vertical skew below half the apex-up triangle's -0.021); a
  square, unlike a disc, looks different along its diagonals (fourth cumulant along the
  axes minus along the diagonals below half the square's -1/240 of area^2).
- size: half-extent r = sqrt(area / k) with k = pi, 4, 2 for circle, square, triangle, split
  at sqrt(0.12 * 0.2), the geometric mean of the two size classes.
- motion: bouncing when its flights fall at 0.4 to 3 times GRAVITY (or, seen only in
  glimpses too short to fit, when it turns from falling to rising); otherwise the nearest
  of still / left / right / up / down by world velocity (camera undone).

The judge looks only at pixels and the caption: it imports the world's vocabulary and
constants, never its simulator or ground truth, so it can score any model's videos.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from minisora.data.captions import CANONICAL_CAMERA, CANONICAL_MOTION, canonical_caption, parse_caption
from minisora.data.scene import FPS, GRAVITY, SIZES, SPEED, SceneSpec
from minisora.eval.measurement import Measurement, ObjectMeasurement, measure

TRIANGLE_SKEW = -0.0105  # half an apex-up triangle's skew, -0.021 (a disc's and a square's: 0)
SQUARE_ANISOTROPY = -1 / 480  # half a square's anisotropy, -1/240 (a disc's: 0)
SHAPE_AREA = {"circle": np.pi, "square": 4.0, "triangle": 2.0}  # area / half-extent^2
SIZE_SPLIT = float(np.sqrt(SIZES["small"] * SIZES["large"]))  # half-extent threshold, world units
GRAVITY_RANGE = (0.4 * GRAVITY, 3.0 * GRAVITY)  # a fall this strong is a bounce
VELOCITIES = {  # world velocity (vx, vy) of each straight motion, y down
    "still": (0.0, 0.0), "left": (-SPEED, 0.0), "right": (SPEED, 0.0), "up": (0.0, -SPEED), "down": (0.0, SPEED),
}
ATTRIBUTES = ("count", "background", "camera", "color", "shape", "size", "motion")


def classify_shape(obj: ObjectMeasurement) -> str:
    """circle, square or triangle from the blur-proof moments of the object's mask."""
    if obj.skew < TRIANGLE_SKEW:
        return "triangle"
    return "square" if obj.anisotropy < SQUARE_ANISOTROPY else "circle"


def half_extent(obj: ObjectMeasurement, shape: str) -> float:
    """Half-extent r in world units: from the area if seen whole (blur keeps areas), else the extent."""
    return float(np.sqrt(obj.area / SHAPE_AREA[shape])) if obj.whole else obj.extent / 2


def classify_size(obj: ObjectMeasurement, shape: str) -> str:
    """small or large."""
    return "small" if half_extent(obj, shape) < SIZE_SPLIT else "large"


def classify_motion(obj: ObjectMeasurement) -> str | None:
    """still, left, right, up, down or bouncing; None if the object was never trackable."""
    if GRAVITY_RANGE[0] <= obj.gravity <= GRAVITY_RANGE[1]:
        return "bouncing"
    if np.isnan(obj.gravity) and obj.bounces > 0:  # seen only in glimpses, but seen bouncing
        return "bouncing"
    vx, vy = obj.velocity
    if np.isnan(vx) and np.isnan(vy):
        return None
    vx, vy = np.nan_to_num(vx), np.nan_to_num(vy)  # one axis unseen: judge by the other
    return min(VELOCITIES, key=lambda m: (vx - VELOCITIES[m][0]) ** 2 + (vy - VELOCITIES[m][1]) ** 2)


def seen_objects(measurement: Measurement) -> dict[str, dict[str, str | None]]:
    """Shape, size and motion of every colour found, by colour name."""
    seen = {}
    for color, obj in measurement.objects.items():
        shape = classify_shape(obj)
        seen[color] = {"shape": shape, "size": classify_size(obj, shape), "motion": classify_motion(obj)}
    return seen


def describe(video: torch.Tensor | np.ndarray | Measurement, fps: float = FPS) -> str:
    """What the judge sees, as a caption in the canonical form (with any number of objects)."""
    measurement = video if isinstance(video, Measurement) else measure(video, fps)
    parts = []
    for color, labels in seen_objects(measurement).items():
        motion = CANONICAL_MOTION[labels["motion"]] if labels["motion"] else "moving unclearly"
        parts.append(f"a {labels['size']} {color} {labels['shape']} {motion}")
    text = " and ".join(parts) or "nothing"
    if measurement.background != "black":
        text += f" on a {measurement.background} background"
    if measurement.camera != "none":
        text += f", the camera {CANONICAL_CAMERA[measurement.camera]}"
    return text


@dataclass
class Verdict:
    """The judge's decision on one video against one caption: a check per attribute."""

    spec: SceneSpec
    checks: dict[str, bool]  # "count", "background", "camera"; "{i}.color", ".shape", ".size", ".motion" per object i
    seen: dict[str, dict[str, str | None]]  # colour -> the shape, size and motion the judge saw
    measurement: Measurement

    @property
    def match(self) -> bool:
        """True when every check passes."""
        return all(self.checks.values())

    @property
    def failures(self) -> list[str]:
        """The names of the failed checks."""
        return [name for name, ok in self.checks.items() if not ok]

    @property
    def measurements(self) -> list[dict[str, object] | None]:
        """Per spec object: what was measured for its colour (None if the colour is absent)."""
        out = []
        for obj in self.spec.objects:
            m = self.measurement.objects.get(obj.color)
            if m is None:
                out.append(None)
                continue
            shape = self.seen[obj.color]["shape"]
            out.append({
                **self.seen[obj.color],
                "area": m.area, "fill": m.fill, "skew": m.skew, "anisotropy": m.anisotropy,
                "half_extent": half_extent(m, shape), "velocity": m.velocity, "gravity": m.gravity, "frames": m.frames,
            })
        return out

    def summary(self) -> str:
        """A readable report: the verdict, what was seen, and each check with its numbers."""
        m, checks = self.measurement, self.checks

        def row(ok: bool, name: str, text: str) -> str:
            return f"  {'ok' if ok else 'FAIL':<5} {name:<11} {text}"

        verdict = f"{'MATCH' if self.match else 'MISMATCH'} ({sum(checks.values())}/{len(checks)} checks)"
        lines = [
            f"{verdict}: {canonical_caption(self.spec)}",
            f"  seen: {describe(m)}",
            row(checks["count"], "count", f"want {len(self.spec.objects)}, saw {', '.join(m.objects) or 'none'}"),
            row(checks["background"], "background", f"want {self.spec.background}, saw {m.background} "
                f"(rgb {' '.join(f'{v:.2f}' for v in m.background_rgb)})"),
            row(checks["camera"], "camera", f"want {self.spec.camera}, saw {m.camera} "
                f"(zoom {m.zoom_rate:+.3f}/s, pan {m.pan_speed:+.3f} units/s)"),
        ]
        for i, (obj, seen) in enumerate(zip(self.spec.objects, self.measurements)):
            name = f"{i} {obj.color}"
            if seen is None:
                lines.append(row(False, name, "not found"))
                continue
            ok = all(checks[f"{i}.{a}"] for a in ("shape", "size", "motion"))
            (vx, vy), g = seen["velocity"], seen["gravity"]
            numbers = (
                f"r {seen['half_extent']:.3f}, skew {seen['skew']:+.4f}, aniso {seen['anisotropy']:+.4f}, "
                f"v ({vx:+.2f}, {vy:+.2f})/s, g {g:.2f}, {seen['frames']} frames"
            )
            want = f"{obj.size} {obj.shape} {obj.motion}"
            lines.append(row(ok, name, f"want {want}, saw {seen['size']} {seen['shape']} {seen['motion']} ({numbers})"))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def as_spec(spec: SceneSpec | str) -> SceneSpec:
    """A SceneSpec, parsing a canonical caption if given text."""
    if isinstance(spec, SceneSpec):
        return spec
    if isinstance(spec, str):
        return parse_caption(spec)
    raise ValueError(f"spec must be a SceneSpec or a canonical caption string, got {type(spec).__name__}")


def compare(measurement: Measurement, spec: SceneSpec | str) -> Verdict:
    """Check a measurement against a spec (measure once, compare with many captions)."""
    spec = as_spec(spec)
    seen = seen_objects(measurement)
    checks = {
        "count": len(measurement.objects) == len(spec.objects),
        "background": measurement.background == spec.background,
        "camera": measurement.camera == spec.camera,
    }
    for i, obj in enumerate(spec.objects):
        labels = seen.get(obj.color)
        checks[f"{i}.color"] = labels is not None
        for attribute in ("shape", "size", "motion"):
            checks[f"{i}.{attribute}"] = labels is not None and labels[attribute] == getattr(obj, attribute)
    return Verdict(spec=spec, checks=checks, seen=seen, measurement=measurement)


def judge(video: torch.Tensor | np.ndarray, spec: SceneSpec | str, fps: float = FPS) -> Verdict:
    """Judge one video (F, 3, H, W) in [0, 1] against a SceneSpec or canonical caption."""
    spec = as_spec(spec)  # a bad caption fails before any pixel work
    return compare(measure(video, fps), spec)


def score(
    videos: torch.Tensor | np.ndarray | Sequence[torch.Tensor | np.ndarray],
    specs: Sequence[SceneSpec | str],
    fps: float = FPS,
) -> dict[str, float]:
    """Accuracy per attribute over a batch, and the rate of full matches.

    videos: (B, F, 3, H, W) or a list of (F, 3, H, W); specs: one SceneSpec or caption per
    video. Per-object attributes (color, shape, size, motion) are averaged over all objects.
    """
    if isinstance(videos, (torch.Tensor, np.ndarray)) and videos.ndim != 5:
        raise ValueError(
            f"score takes a batch of videos (B, F, 3, H, W) or a list of (F, 3, H, W), got shape "
            f"{tuple(videos.shape)}; for one video use judge(video, spec)"
        )
    if isinstance(specs, (str, SceneSpec)):
        raise ValueError("specs must be a list with one SceneSpec or caption per video, got a single one")
    if len(videos) != len(specs):
        raise ValueError(f"got {len(videos)} videos but {len(specs)} specs; pass one spec per video")
    if len(specs) == 0:
        raise ValueError("score needs at least one video")
    specs = [as_spec(spec) for spec in specs]  # a bad caption fails before any pixel work
    passed = {name: 0 for name in ATTRIBUTES}
    total = {name: 0 for name in ATTRIBUTES}
    matches = 0
    for video, spec in zip(videos, specs):
        verdict = judge(video, spec, fps)
        matches += verdict.match
        for name, ok in verdict.checks.items():
            attribute = name.split(".")[-1]
            passed[attribute] += ok
            total[attribute] += 1
    result = {"match": matches / len(specs)}
    result.update({name: passed[name] / total[name] for name in ATTRIBUTES})
    result["n"] = len(specs)
    return result
