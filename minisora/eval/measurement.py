"""Measuring a Bouncing Shapes video from its pixels alone: the judge's eyes (lesson 00).

The judge never sees the simulator's ground truth. `measure(video)` turns frames into
numbers, blind to any caption, so one measurement can be checked against many captions
(`minisora.eval.judge` makes the decisions). The recipe:

1. Background: black or gray, whichever most pixels are close to; its RGB per frame.
2. Colour segmentation: every pixel p is a front palette colour over what lies behind it,
   p = a c_k + (1 - a) e_j, with e_j the background or another palette colour (one object's
   anti-aliased edge over another). The least-squares best (k, j, a) gives colour k the
   coverage a. An object is the connected blob of its core pixels (a > 1/2) plus the
   coverage around it, so soft or blurred edges count as fractions of a pixel.
3. Per colour and frame: area, centroid, sub-pixel edges, which sides are cut (at the
   border, or touching a neighbour that may cover it), and moments (skew, anisotropy). A
   colour is present when it covers 30% of a small triangle and owns pixels away from
   other colours (blur blends red and yellow neighbours into an orange seam).
4. Camera: a zoom scales every area by exp(2 rate t); a pan adds a common horizontal
   velocity c, with every object's vx - c in {-SPEED, 0, +SPEED} (PAN_SPEED = SPEED / 3 makes
   that decomposition unique).
5. Per object, camera undone: its world track (the middle of its extent, or an uncut edge
   plus half its size), velocity, the gravity of its flights, its area, extent and moments.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import numpy as np
import torch

from minisora.data.scene import BACKGROUNDS, COLORS, FPS, PAN_SPEED, SIZES, SPEED, ZOOM_RATE

PALETTE = np.array(list(COLORS.values()))  # (K, 3)
MIN_FRAMES = 4  # fewer frames cannot tell a drift from a fall
BACKGROUND_NOISE = 0.1  # RGB distance below which a pixel is plain background (noise, faint edges)
MAX_RESIDUAL = 0.3  # RGB distance a core pixel may be off its blend (generated colours drift)
MIX_PENALTY = 0.1  # extra residual for two colours instead of one: noise must not split orange in two
PRESENT_FRACTION = 0.3  # a colour is present at >= 30% of a small triangle's area
HALO = 3  # pixels past the core an object's soft edge may reach (anti-aliasing, blur)
AREA_TOLERANCE = 0.1  # log-area below an object's best (camera undone): partly hidden or cut


@dataclass
class ObjectMeasurement:
    """What the judge measured for one colour found in the video (world units, seconds, y down)."""

    color: str
    area: float  # whole area at zoom scale 1 (largest seen if never whole)
    extent: float  # mean of width and height at zoom scale 1: 2 r for every shape
    whole: bool  # seen whole: off the border and clear of other objects, at least once
    skew: float  # E[(y - mean)^3] / area^1.5: -0.021 apex-up triangle, 0 circle or square
    anisotropy: float  # fourth cumulant along the axes minus along the diagonals / area^2: -1/240 square, 0 circle
    fill: float  # area / (width * height): 1 square, pi/4 circle, 1/2 triangle (blur inflates it)
    velocity: tuple[float, float]  # (vx, vy) of a line fit to the world track; NaN if unseen
    gravity: float  # downward acceleration fitted to its flights; 0 if it never falls, NaN if too brief to fit
    bounces: int  # reversals at the bottom of its track (down then up between consecutive frames)
    frames: int  # frames whose position could be trusted
    track: np.ndarray = field(repr=False)  # (F, 2) world (x, y), NaN where not trusted


@dataclass
class Measurement:
    """Everything the judge saw in one video, blind to its caption."""

    background: str
    background_rgb: tuple[float, float, float]
    camera: str
    zoom_rate: float  # fitted d log(scale) / dt, 1/s: +ZOOM_RATE zooming in
    pan_speed: float  # fitted common horizontal velocity, world units/s: +PAN_SPEED panning left
    objects: dict[str, ObjectMeasurement]  # by colour name
    num_frames: int
    height: int
    width: int
    fps: float


def min_area(unit: float) -> float:
    """Pixels a colour must cover in some frame to count as an object: 30% of a small triangle (2 r^2)."""
    return PRESENT_FRACTION * 2 * (SIZES["small"] * unit) ** 2


def as_frames(video: torch.Tensor | np.ndarray, min_frames: int = MIN_FRAMES) -> np.ndarray:
    """Check a video (F, 3, H, W) in [0, 1] and return it as float64 frames (F, H, W, 3)."""
    if isinstance(video, torch.Tensor):
        if not video.is_floating_point():
            raise ValueError(f"expected a float video in [0, 1], got {video.dtype}; use video.float() / 255")
        array = video.detach().cpu().float().numpy().astype(np.float64)
    elif isinstance(video, np.ndarray):
        if not np.issubdtype(video.dtype, np.floating):
            raise ValueError(f"expected a float video in [0, 1], got {video.dtype}; use video.astype(np.float32) / 255")
        array = video.astype(np.float64)
    else:
        raise ValueError(f"expected a torch.Tensor or numpy array of shape (F, 3, H, W), got {type(video).__name__}")
    shape = tuple(array.shape)
    if array.ndim != 4:
        hint = {
            5: "; for a batch (B, F, C, H, W) use score(videos, specs) or judge(video[i], spec)",
            3: "; a single frame (C, H, W) shows no motion: pass a clip",
        }.get(array.ndim, "")
        raise ValueError(f"expected a video of shape (F, 3, H, W), got {shape}{hint}")
    if shape[1] != 3:
        hint = "; for channels-last frames (F, H, W, 3) use video.permute(0, 3, 1, 2)" if shape[-1] == 3 else ""
        hint = hint or ("; the judge finds objects by colour, so it needs RGB" if shape[1] == 1 else "")
        raise ValueError(f"expected 3 colour channels in dim 1 of (F, 3, H, W), got {shape}{hint}")
    if shape[0] < min_frames:
        raise ValueError(f"the judge needs at least {min_frames} frames to tell motions apart, got {shape[0]}")
    if min(shape[2], shape[3]) < 8:
        raise ValueError(f"frames must be at least 8x8 pixels, got {shape[2]}x{shape[3]}")
    if not np.isfinite(array).all():
        raise ValueError(f"the video of shape {shape} contains NaN or inf; check the model or sampler that made it")
    low, high = float(array.min()), float(array.max())
    if low < -0.1 or high > 1.1:
        raise ValueError(
            f"video values must be in [0, 1], got [{low:.2f}, {high:.2f}]; "
            f"for a model's [-1, 1] output pass (video + 1) / 2"
        )
    # A diffusion model's samples overshoot [0, 1] slightly: clip, as display does.
    return np.clip(array, 0.0, 1.0).transpose(0, 2, 3, 1)  # (F, C, H, W) -> (F, H, W, C)


def estimate_background(frames: np.ndarray) -> tuple[str, np.ndarray]:
    """The background's name, whichever of BACKGROUNDS most pixels are close to, and its RGB
    per frame (F, 3): the median of those pixels, so a flickering background is followed."""
    best, best_count, close = "black", -1, None
    for name, rgb in BACKGROUNDS.items():
        near = np.linalg.norm(frames - np.asarray(rgb), axis=-1) < 0.2  # (F, H, W)
        if near.sum() > best_count:
            best, best_count, close = name, int(near.sum()), near
    default = np.median(frames[close], axis=0) if close.any() else np.asarray(BACKGROUNDS[best], dtype=np.float64)
    per_frame = [np.median(frame[near], axis=0) if near.sum() >= 16 else default for frame, near in zip(frames, close)]
    return best, np.stack(per_frame)  # (F, 3)


def _blend_fit(p: np.ndarray, ends: np.ndarray, front: np.ndarray, back: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares p = a e_front + (1 - a) e_back for pixels p (N, 3), their own end colours
    `ends` (N, K + 1, 3) and pairs (P,): the alpha and residual of each pair (N, P)."""
    directions = ends[:, front] - ends[:, back]  # (N, P, 3)
    offset = p[:, None, :] - ends[:, back]  # (N, P, 3)
    alpha = np.clip((offset * directions).sum(axis=-1) / (directions**2).sum(axis=-1), 0.0, 1.0)
    residual = np.linalg.norm(offset - alpha[..., None] * directions, axis=-1)  # (N, P)
    return alpha, residual


def coverage(frames: np.ndarray, background: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each palette colour's coverage of every pixel (F, H, W, K), and the blend's residual (F, H, W).

    `background` is the background's RGB per frame (F, 3).
    """
    K = PALETTE.shape[0]
    weights = np.zeros(frames.shape[:-1] + (K,))  # (F, H, W, K)
    back_rgb = np.broadcast_to(background[:, None, None, :], frames.shape)  # (F, H, W, 3)
    residual = np.linalg.norm(frames - back_rgb, axis=-1)  # (F, H, W): plain background's own fit
    tinted = residual > BACKGROUND_NOISE  # only these need a search; the rest weigh 0
    p = frames[tinted]  # (N, 3)
    palette = np.broadcast_to(PALETTE, (len(p), K, 3))
    ends = np.concatenate([back_rgb[tinted][:, None, :], palette], axis=1)  # (N, K + 1, 3); 0 is the background
    # 1. One colour over the background.
    alpha, error = _blend_fit(p, ends, np.arange(1, K + 1), np.zeros(K, dtype=int))  # (N, K)
    best = error.argmin(axis=1)  # (N,)
    rows = np.arange(len(p))
    front, back, a, fit = best + 1, np.zeros(len(p), dtype=int), alpha[rows, best], error[rows, best]
    # 2. One colour over another, where one colour fits worse than the penalty for two, and
    #    only colours that are objects on their own: a brightened orange is, in RGB, also a
    #    red-yellow blend, which must not conjure up red and yellow objects.
    frame = np.nonzero(tinted)[0]  # (N,) frame of each tinted pixel
    core = (a > 0.5) & (fit < MAX_RESIDUAL)
    counts = np.zeros((len(frames), K))
    np.add.at(counts, (frame[core], front[core] - 1), 1)
    established = np.flatnonzero(counts.max(axis=0) >= min_area(min(frames.shape[1:3])))  # palette indices
    mixed = fit > MIX_PENALTY
    if mixed.any() and len(established) >= 2:
        pairs_front, pairs_back = np.nonzero(~np.eye(len(established), dtype=bool))
        pairs_front, pairs_back = established[pairs_front] + 1, established[pairs_back] + 1  # (P,) ordered pairs
        alpha2, error2 = _blend_fit(p[mixed], ends[mixed], pairs_front, pairs_back)  # (M, P)
        best2 = error2.argmin(axis=1)
        rows2 = np.arange(mixed.sum())
        better = error2[rows2, best2] + MIX_PENALTY < fit[mixed]
        where = np.flatnonzero(mixed)[better]
        front[where], back[where] = pairs_front[best2[better]], pairs_back[best2[better]]
        a[where], fit[where] = alpha2[rows2, best2][better], error2[rows2, best2][better]
    w = np.zeros((len(p), K))
    w[rows, front - 1] = a
    behind = back > 0
    w[rows[behind], back[behind] - 1] = 1 - a[behind]
    weights[tinted] = w
    residual[tinted] = fit
    return weights, residual


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Binary dilation of (F, H, W) masks by a (2 radius + 1)^2 square, separably."""
    out = mask.copy()
    for axis in (1, 2):
        grown = out.copy()
        for step in range(1, radius + 1):
            lead, lag = [slice(None)] * 3, [slice(None)] * 3
            lead[axis], lag[axis] = slice(step, None), slice(None, -step)
            grown[tuple(lead)] |= out[tuple(lag)]
            grown[tuple(lag)] |= out[tuple(lead)]
        out = grown
    return out


def _own_pixels(labels: np.ndarray, k: int) -> int:
    """Most core pixels of colour k in one frame that are over 2px from any other colour's core.

    Where two objects meet, blur blends them into a band of a third palette colour (red and
    yellow make orange); such a band lies within 2px of both, so it owns no pixels of its own.
    """
    ours = labels == k
    theirs = _dilate((labels >= 0) & ~ours, 2)
    return int((ours & ~theirs).sum(axis=(1, 2)).max())


def _main_blob(mask: np.ndarray) -> np.ndarray:
    """Per frame, the connected part of a mask (F, H, W) around its densest pixel (8-connected)."""
    padded = np.pad(mask, ((0, 0), (2, 2), (2, 2))).astype(np.int16)
    H, W = mask.shape[1:]
    density = sum(padded[:, 2 + dy : 2 + dy + H, 2 + dx : 2 + dx + W] for dy in range(-2, 3) for dx in range(-2, 3))
    density = np.where(mask, density, -1).reshape(len(mask), -1)  # (F, H*W) set pixels in 5x5 boxes
    blob = np.zeros_like(mask).reshape(len(mask), -1)
    blob[np.arange(len(mask)), density.argmax(axis=1)] = True
    blob = blob.reshape(mask.shape) & mask
    while True:  # grow the seed inside the mask until it stops changing
        grown = _dilate(blob, 1) & mask
        if (grown == blob).all():
            return blob
        blob = grown


def object_masks(frames: np.ndarray, background: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Soft masks (K, F, H, W), each colour's coverage near its core pixels, and the core
    labels (F, H, W): the palette index covering most of a pixel, -1 for none."""
    weights, residual = coverage(frames, background)  # (F, H, W, K), (F, H, W)
    dominant = weights.argmax(axis=-1)  # (F, H, W)
    core = (weights.max(axis=-1) > 0.5) & (residual < MAX_RESIDUAL)
    masks = np.zeros((PALETTE.shape[0],) + dominant.shape)  # (K, F, H, W)
    for k in range(PALETTE.shape[0]):
        ours = _main_blob(core & (dominant == k))  # specks of noise or blended edges elsewhere are not it
        if ours.any():
            # Soft edges and blur reach a few pixels past the core; farther tints are someone else's.
            masks[k] = np.where(_dilate(ours, HALO), weights[..., k], 0.0)
    return masks, np.where(core, dominant, -1)


@dataclass
class Track:
    """Per-frame pixel measurements of one colour (pixels, y down; NaN where absent)."""

    area: np.ndarray  # (F,)
    centroid: np.ndarray  # (F, 2) (x, y)
    low: np.ndarray  # (F, 2) left and top edges
    high: np.ndarray  # (F, 2) right and bottom edges
    cut_low: np.ndarray  # (F, 2) bool: the left / top edge is at the frame border
    cut_high: np.ndarray  # (F, 2) bool: the right / bottom edge is at the frame border
    touch_low: np.ndarray  # (F, 2) bool: the left / top edge touches another object
    touch_high: np.ndarray  # (F, 2) bool: the right / bottom edge touches another object
    skew: np.ndarray  # (F,) vertical third moment / area^1.5 (blur leaves it unchanged)
    anisotropy: np.ndarray  # (F,) fourth cumulant along the axes minus along the diagonals / area^2

    @property
    def extent(self) -> np.ndarray:
        """(F, 2) width and height."""
        return self.high - self.low

    @property
    def clipped(self) -> np.ndarray:
        """(F,) bool: some edge is at the frame border."""
        return self.cut_low.any(axis=1) | self.cut_high.any(axis=1)

    @property
    def touching(self) -> np.ndarray:
        """(F,) bool: some edge touches another object (which may cover part of it)."""
        return self.touch_low.any(axis=1) | self.touch_high.any(axis=1)


def _edges(profile: np.ndarray, pivot: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sub-pixel low and high edges of coverage profiles (F, N) around pixel `pivot` (F,).

    Coverage is 1 inside and the covered fraction on an anti-aliased or blurred edge, so the
    coverage before the pivot is the distance from the low edge to the pivot.
    """
    index = np.arange(profile.shape[1])
    before = (profile * (index < pivot[:, None])).sum(axis=1)
    after = (profile * (index >= pivot[:, None])).sum(axis=1)
    return pivot - before, pivot + after


def track_mask(mask: np.ndarray, others: np.ndarray) -> Track:
    """Per-frame measurements of a soft mask (F, H, W); `others` (F, H, W) are other objects' cores."""
    xs = np.arange(mask.shape[2]) + 0.5  # pixel centres, the renderer's convention
    ys = np.arange(mask.shape[1]) + 0.5
    area = mask.sum(axis=(1, 2))  # (F,)
    empty = area < 1e-6
    safe = np.where(empty, 1.0, area)
    mass_x, mass_y = mask.sum(axis=1), mask.sum(axis=2)  # (F, W), (F, H)
    centroid = np.stack([mass_x @ xs / safe, mass_y @ ys / safe], axis=1)  # (F, 2)
    # Central moments: a blur adds its own cumulants to the shape's (its third is 0, its
    # fourth small) and keeps the area, so a triangle's low-slung mass and a square's corners
    # survive a blur that rounds their outlines.
    dx, dy = xs[None, :] - centroid[:, :1], ys[None, :] - centroid[:, 1:]  # (F, W), (F, H)
    m2x, m4x = (mass_x * dx**2).sum(1) / safe, (mass_x * dx**4).sum(1) / safe
    m2y, m3y, m4y = (mass_y * dy**2).sum(1) / safe, (mass_y * dy**3).sum(1) / safe, (mass_y * dy**4).sum(1) / safe
    skew = m3y / safe**1.5
    # Fourth cumulants along the axes and along the diagonals u, v = (x +- y) / sqrt 2: the
    # same every way for a disc; for a square, whose x and y are independent, the diagonal
    # one is half the axis one (-1/120 vs -1/240 of area^2).
    X, Y = dx[:, None, :], dy[:, :, None]  # (F, 1, W), (F, H, 1)
    anisotropy = ((m4x - 3 * m2x**2) + (m4y - 3 * m2y**2)) / 2
    for u in ((X + Y) / np.sqrt(2), (X - Y) / np.sqrt(2)):  # (F, H, W)
        m2u, m4u = (mask * u**2).sum(axis=(1, 2)) / safe, (mask * u**4).sum(axis=(1, 2)) / safe
        anisotropy = anisotropy - (m4u - 3 * m2u**2) / 2
    anisotropy = anisotropy / safe**2
    # The max over a column is 1 inside the shape and the covered fraction at its edges.
    cols, rows = mask.max(axis=1), mask.max(axis=2)  # (F, W), (F, H)
    pivot = np.floor(np.nan_to_num(centroid)).astype(int)  # (F, 2)
    left, right = _edges(cols, pivot[:, 0])
    top, bottom = _edges(rows, pivot[:, 1])
    low, high = np.stack([left, top], axis=1), np.stack([right, bottom], axis=1)
    centroid[empty], low[empty], high[empty] = np.nan, np.nan, np.nan
    # Cut at the border: more than half of the outermost pixel column or row is covered.
    cut_low = np.stack([cols[:, 0], rows[:, 0]], axis=1) > 0.5  # (F, 2)
    cut_high = np.stack([cols[:, -1], rows[:, -1]], axis=1) > 0.5
    # Touched by a neighbour: our pixels next to its core come within 2px of that side.
    contact = _dilate(others, 1) & (mask > 0.1)  # (F, H, W)
    cx = np.where(contact, xs[None, None, :], np.inf)  # no contact: +inf, which compares False below
    cy = np.where(contact, ys[None, :, None], np.inf)
    near_low = np.stack([cx.min(axis=(1, 2)), cy.min(axis=(1, 2))], axis=1)  # (F, 2)
    cx[~contact], cy[~contact] = -np.inf, -np.inf
    near_high = np.stack([cx.max(axis=(1, 2)), cy.max(axis=(1, 2))], axis=1)
    with np.errstate(invalid="ignore"):  # NaN edges of empty frames compare False too
        touch_low, touch_high = near_low <= low + 2.0, near_high >= high - 2.0
    return Track(area, centroid, low, high, cut_low, cut_high, touch_low, touch_high, skew, anisotropy)


def _pooled_slope(ts: list[np.ndarray], ys: list[np.ndarray]) -> float:
    """Least-squares slope shared by several series, each with its own intercept."""
    num = sum(((t - t.mean()) * (y - y.mean())).sum() for t, y in zip(ts, ys) if len(t) > 1)
    den = sum(((t - t.mean()) ** 2).sum() for t in ts if len(t) > 1)
    return float(num / den) if den > 0 else 0.0


def fit_zoom(tracks: dict[str, Track], times: np.ndarray) -> float:
    """The zoom rate d log(scale) / dt shared by all objects' areas.

    Each camera rate is tried on the frames where an object lost nothing to the border and,
    if it has 3 such frames or more, touches no other object (which might cover part of it).
    Frames far below the robust top of log(area) - 2 rate t (hidden ones, or most frames
    under a wrong rate, which spreads the sizes apart) cost a fixed penalty, the rest their
    squared spread. The cheapest rate wins (ties go to no zoom) and is refitted on its frames.
    """
    best_cost, best_whole = np.inf, {}
    for rate in (0.0, ZOOM_RATE, -ZOOM_RATE):
        cost, whole = 0.0, {}
        for color, track in tracks.items():
            # At the border but as wide as ever: the shape ends there, nothing is lost.
            extent = np.nan_to_num(track.extent)  # (F, 2)
            lost = (track.cut_low | track.cut_high) & (extent < 0.97 * extent.max(axis=0))
            inside = (track.area > 1e-6) & ~lost.any(axis=1)
            if (inside & ~track.touching).sum() >= 3:  # a neighbour may be covering it: only if need be
                inside &= ~track.touching
            if not inside.any():
                continue
            level = np.log(track.area[inside]) - 2 * rate * times[inside]
            top = np.sort(level)[-2] if len(level) >= 3 else level.max()
            keep = level >= top - AREA_TOLERANCE
            cost += AREA_TOLERANCE**2 * (~keep).sum() + ((level[keep] - level[keep].mean()) ** 2).sum()
            whole[color] = np.flatnonzero(inside)[keep]
        if cost < best_cost - 1e-12:
            best_cost, best_whole = cost, whole
    ts = [times[w] for w in best_whole.values()]
    logs = [0.5 * np.log(tracks[color].area[w]) for color, w in best_whole.items()]
    return _pooled_slope(ts, logs)


def whole_frames(track: Track, times: np.ndarray, rate: float) -> tuple[np.ndarray, float]:
    """Frames (F,) showing all of the object under zoom `rate`, and its area at scale 1.

    Being hidden or leaving the frame only ever shrinks an area, so the whole frames are
    those near the top of log(area) - 2 rate t (a robust top: the second largest).
    """
    present = track.area > 1e-6
    level = np.where(present, np.log(np.maximum(track.area, 1e-9)) - 2 * rate * times, -np.inf)
    top = np.sort(level[present])[-2] if present.sum() >= 3 else level.max()
    return present & (level >= top - AREA_TOLERANCE), float(np.exp(top))


def screen_centers(track: Track, times: np.ndarray, rate: float) -> np.ndarray:
    """The object's on-screen centre per frame (F, 2), NaN where it cannot be trusted.

    The centre is the middle of its extent (the shape's own centre, for all three shapes).
    Where one side is cut (at the border, or, on a frame that lost area, touching a
    neighbour that covers it), the other edge is still seen: the centre is that edge plus
    half the size seen on whole frames. The other axis stays trusted only while more than
    half the shape is in view (a circle's or triangle's height shrinks once its middle leaves).
    """
    scale = np.exp(rate * times)  # (F,)
    whole, area0 = whole_frames(track, times, rate)
    inside = whole & ~track.clipped
    pool = inside if inside.any() else whole
    full = np.median(track.extent[pool] / scale[pool, None], axis=0)[None, :] * scale[:, None]  # (F, 2)
    partial = ~whole[:, None]  # whole frames lose nothing to neighbours
    cut_low = track.cut_low | (track.touch_low & partial)  # (F, 2)
    cut_high = track.cut_high | (track.touch_high & partial)
    center = (track.low + track.high) / 2
    center = np.where(cut_high & ~cut_low, track.low + full / 2, center)
    center = np.where(cut_low & ~cut_high, track.high - full / 2, center)
    center[cut_low & cut_high] = np.nan
    cut = cut_low | cut_high
    mostly_seen = track.extent >= full / 2 + 0.5  # (F, 2)
    center[cut[:, 1] & ~mostly_seen[:, 1], 0] = np.nan
    center[cut[:, 0] & ~mostly_seen[:, 0], 1] = np.nan
    seen = track.area >= 0.15 * area0 * scale**2
    center[~(whole | (cut.any(axis=1) & seen))] = np.nan
    return center


def fit_pan(velocities: list[float], weights: list[float]) -> float:
    """The camera's horizontal velocity c in {0, +PAN, -PAN} leaving every vx - c near {-S, 0, S}."""
    best, best_cost = 0.0, np.inf
    for c in (0.0, PAN_SPEED, -PAN_SPEED):
        cost = sum(w * min((vx - c - m * SPEED) ** 2 for m in (-1, 0, 1)) for vx, w in zip(velocities, weights))
        if cost < best_cost - 1e-12:
            best, best_cost = c, cost
    return best


def fit_gravity(index: np.ndarray, t: np.ndarray, y: np.ndarray) -> float:
    """Downward acceleration shared by the flights of a track y(t) (y down) seen on frames `index`.

    Flights end at bounces (a frame lower than both neighbours, which belongs to neither)
    and at gaps in the track (it may have bounced unseen), so each flight is a parabola
    y = a_j + b_j t + g t^2 / 2; one least-squares fit gives the common g. It is 0 for a track
    that barely moves vertically, NaN for one that moves but whose flights are too short.
    """
    if len(t) < 3 or np.ptp(y) < 0.1:  # barely moves vertically: no fall to fit
        return 0.0
    bounce = np.zeros(len(t), dtype=bool)
    bounce[1:-1] = (y[1:-1] >= y[:-2]) & (y[1:-1] > y[2:])
    gap = np.diff(index, prepend=index[0]) > 1
    flight = np.cumsum(bounce | gap)  # (N,) which flight each frame belongs to
    # Flights of under 3 frames cannot bend, and a ball at rest on the floor has no flight
    # left: drop them rather than let them absorb g.
    long_flights = [
        j for j in np.unique(flight)
        if ((flight == j) & ~bounce).sum() >= 3 and np.ptp(y[(flight == j) & ~bounce]) > 0.02
    ]
    keep = ~bounce & np.isin(flight, long_flights)
    if keep.sum() < 3:
        return float("nan")  # it moves, but is seen too briefly between bounces and gaps to fit
    t, y, flight = t[keep], y[keep], flight[keep]
    columns = [0.5 * t**2]
    for j in np.unique(flight):
        member = (flight == j).astype(np.float64)
        columns += [member, member * t]
    solution, *_ = np.linalg.lstsq(np.stack(columns, axis=1), y, rcond=None)
    return float(solution[0])


def count_bounces(index: np.ndarray, y: np.ndarray, depth: float = 0.03) -> int:
    """Reversals at the bottom: consecutive frames going down then up by more than `depth` (y down)."""
    consecutive = (np.diff(index[:-1]) == 1) & (np.diff(index[1:]) == 1)  # (N - 2,) triples without gaps
    fall, rise = y[1:-1] - y[:-2], y[1:-1] - y[2:]
    return int((consecutive & (fall > depth) & (rise > depth)).sum())


def _line_slope(t: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of y(t); NaN with fewer than 2 points."""
    return float(np.polyfit(t, y, 1)[0]) if len(t) >= 2 else float("nan")


def measure(video: torch.Tensor | np.ndarray, fps: float = FPS) -> Measurement:
    """Measure a video (F, 3, H, W) in [0, 1] from its pixels: objects, background, camera."""
    if isinstance(fps, bool) or not isinstance(fps, numbers.Real) or not 0 < fps < float("inf"):
        raise ValueError(f"fps must be a positive number, got {fps!r}")
    frames = as_frames(video)  # (F, H, W, 3)
    F, H, W, _ = frames.shape
    unit = float(min(H, W))  # pixels per world unit
    times = np.arange(F) / fps

    # 1-3. Background, colour segmentation, the colours clearly present.
    background, background_rgb = estimate_background(frames)
    masks, labels = object_masks(frames, background_rgb)  # (K, F, H, W), (F, H, W); background_rgb (F, 3)
    big = masks.sum(axis=(2, 3)).max(axis=1) >= min_area(unit)  # (K,)
    present = [k for k in range(len(COLORS)) if big[k] and _own_pixels(labels, k) >= 3]
    names = list(COLORS)
    tracks = {names[k]: track_mask(masks[k], np.isin(labels, [j for j in present if j != k])) for k in present}

    # 4. Camera: zoom first (it scales areas), then pan on the zoom-free tracks.
    zoom_rate = fit_zoom(tracks, times) if tracks else 0.0
    rate = ZOOM_RATE if zoom_rate > ZOOM_RATE / 2 else -ZOOM_RATE if zoom_rate < -ZOOM_RATE / 2 else 0.0
    scale = np.exp(rate * times)  # (F,)
    centers = {color: screen_centers(track, times, rate) for color, track in tracks.items()}
    apparent = {}  # colour -> (apparent vx in world units / s, frames it is fitted on)
    for color, center in centers.items():
        seen = ~np.isnan(center[:, 0])
        if seen.sum() >= 2:
            apparent[color] = (_line_slope(times[seen], center[seen, 0] / unit), float(seen.sum()))
    pan = fit_pan(*zip(*apparent.values())) if rate == 0.0 and apparent else 0.0
    zooms, pans = {ZOOM_RATE: "zoom in", -ZOOM_RATE: "zoom out"}, {PAN_SPEED: "pan left", -PAN_SPEED: "pan right"}
    camera = zooms.get(rate) or pans.get(pan, "none")
    leftover = [v - pan - SPEED * round((v - pan) / SPEED) for v, _ in apparent.values()]
    pan_speed = pan + float(np.mean(leftover)) if leftover and rate == 0.0 else 0.0

    # 5. Each object in world coordinates: undo the zoom about the frame centre, then the pan.
    middle = np.array([W / 2, H / 2]) / unit
    objects = {}
    for color, track in tracks.items():
        world = middle + (centers[color] / unit - middle) / scale[:, None]  # (F, 2), NaN where untrusted
        world[:, 0] -= pan * times
        seen_x, seen_y = ~np.isnan(world[:, 0]), ~np.isnan(world[:, 1])
        velocity = (_line_slope(times[seen_x], world[seen_x, 0]), _line_slope(times[seen_y], world[seen_y, 1]))
        gravity = fit_gravity(np.flatnonzero(seen_y), times[seen_y], world[seen_y, 1])
        bounces = count_bounces(np.flatnonzero(seen_y), world[seen_y, 1]) if seen_y.sum() >= 3 else 0
        # Size and shape from the whole frames clear of the border and of neighbours, largest first.
        whole = whole_frames(track, times, rate)[0] & ~track.clipped
        best = whole & ~track.touching if (whole & ~track.touching).any() else whole
        best = best if best.any() else track.area == track.area.max()
        order = np.flatnonzero(best)[np.argsort(-(track.area[best] / scale[best] ** 2))][:5]
        extent = track.extent[order] / scale[order, None]  # (n, 2)
        objects[color] = ObjectMeasurement(
            color=color,
            area=float(np.median(track.area[order] / scale[order] ** 2)) / unit**2,
            extent=float(np.median(extent.mean(axis=1))) / unit,
            whole=bool((whole & ~track.touching).any()),
            skew=float(np.median(track.skew[order])),
            anisotropy=float(np.median(track.anisotropy[order])),
            fill=float(np.median(track.area[order] / scale[order] ** 2 / np.maximum(extent.prod(axis=1), 1e-9))),
            velocity=velocity,
            gravity=gravity,
            bounces=bounces,
            frames=int((seen_x & seen_y).sum()),
            track=world,
        )
    return Measurement(
        background=background,
        background_rgb=tuple(float(v) for v in np.median(background_rgb, axis=0)),
        camera=camera,
        zoom_rate=zoom_rate,
        pan_speed=pan_speed,
        objects=objects,
        num_frames=F,
        height=H,
        width=W,
        fps=float(fps),
    )
