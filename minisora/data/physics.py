"""The physics of the Bouncing Shapes world: where every object is, frame by frame.

Motions are exact, not stepped: straight motions are x(t) = x0 + v t, and a bouncing
object is a chain of parabolas y(t) = y0 + u t + g t^2 / 2, each ended by an impact with
the floor where the vertical speed flips sign and shrinks by the restitution e
(u_next = e * v_impact). Sampling exact trajectories at the frame times means the ground
truth has no integration error, whatever the frame rate.

The camera maps world to screen: a pan shifts everything sideways at PAN_SPEED, a zoom
scales about the frame centre by s(t) = exp(+-ZOOM_RATE t). Spawn positions are sampled so
every object stays in view for the reference clip (REFERENCE_FRAMES at FPS) and objects
overlap as little as the motions allow, independent of `num_frames`: rendering more frames of the same seed
extends the same clip.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from minisora.data.scene import (
    FPS,
    GRAVITY,
    PAN_SPEED,
    REFERENCE_FRAMES,
    RESTITUTION,
    SIZES,
    SPEED,
    ZOOM_RATE,
    ObjectSpec,
    SceneSpec,
)

_CANDIDATES = 64  # spawn candidates tried per object
_ATTEMPTS = 32  # random restarts when looking for an arrangement without overlaps
_MAX_BOUNCES = 64  # after this many bounces the object is at rest on the floor (e^64 ~ 0)


@dataclass
class Truth:
    """Per-frame ground truth of a rendered clip (N objects, F frames, pixels unless noted)."""

    fps: float
    times: np.ndarray  # (F,) seconds
    unit: float  # pixels per world unit (the frame's shorter side)
    world_centers: np.ndarray  # (F, N, 2) world units, (x, y), y down
    world_velocities: np.ndarray  # (F, N, 2) world units per second
    centers: np.ndarray  # (F, N, 2) on-screen pixels (x, y) after the camera
    velocities: np.ndarray  # (F, N, 2) on-screen pixels per frame
    radii: np.ndarray  # (F, N) on-screen half-extent in pixels
    camera_scale: np.ndarray  # (F,) zoom factor s(t)
    camera_shift: np.ndarray  # (F,) horizontal on-screen shift of the world, world units
    visibility: np.ndarray | None = None  # (F, N) visible fraction of the whole shape, filled in by the renderer
    occlusion: np.ndarray | None = None  # (F, N) fraction of the in-frame shape hidden behind later objects


def bounce_trajectory(y0: float, floor: float, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Height and vertical speed of a ball dropped from rest at y0 onto `floor` (y down)."""
    y = np.full_like(times, floor, dtype=np.float64)
    vy = np.zeros_like(times, dtype=np.float64)
    drop = max(floor - y0, 0.0)
    # 1. The first fall from rest: y = y0 + g t^2 / 2 until it reaches the floor.
    t_hit = np.sqrt(2 * drop / GRAVITY)
    falling = times < t_hit
    y[falling] = y0 + 0.5 * GRAVITY * times[falling] ** 2
    vy[falling] = GRAVITY * times[falling]
    # 2. Each bounce leaves the floor upwards with e times the impact speed and flies a parabola
    #    lasting 2u/g. After _MAX_BOUNCES the speed is ~0 and the ball rests on the floor.
    u = RESTITUTION * GRAVITY * t_hit
    start = t_hit
    for _ in range(_MAX_BOUNCES):
        duration = 2 * u / GRAVITY
        if duration <= 0 or start > times[-1]:
            break
        tau = times - start
        flying = (tau >= 0) & (tau < duration)
        y[flying] = floor - u * tau[flying] + 0.5 * GRAVITY * tau[flying] ** 2
        vy[flying] = -u + GRAVITY * tau[flying]
        start += duration
        u *= RESTITUTION
    return y, vy


def world_motion(obj: ObjectSpec, start: np.ndarray, floor: float, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World positions and velocities (T, 2) of one object starting at `start` (x, y)."""
    T = len(times)
    pos = np.repeat(start[None, :].astype(np.float64), T, axis=0)  # (T, 2)
    vel = np.zeros((T, 2))
    direction = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}.get(obj.motion)
    if direction is not None:
        vel[:] = SPEED * np.asarray(direction, dtype=np.float64)
        pos += vel * times[:, None]
    elif obj.motion == "bouncing":
        pos[:, 1], vel[:, 1] = bounce_trajectory(float(start[1]), floor, times)
    return pos, vel


def camera_transform(camera: str, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Zoom scale s(t) and horizontal shift (world units) of the on-screen image."""
    scale = np.ones_like(times, dtype=np.float64)
    shift = np.zeros_like(times, dtype=np.float64)
    if camera == "pan left":
        shift = PAN_SPEED * times  # the camera moves left, so the world slides right on screen
    elif camera == "pan right":
        shift = -PAN_SPEED * times
    elif camera == "zoom in":
        scale = np.exp(ZOOM_RATE * times)
    elif camera == "zoom out":
        scale = np.exp(-ZOOM_RATE * times)
    return scale, shift


def to_screen(world: np.ndarray, scale: np.ndarray, shift: np.ndarray, center: np.ndarray) -> np.ndarray:
    """World positions (T, ..., 2) to on-screen world-unit positions under the camera."""
    scale = scale.reshape(-1, *([1] * (world.ndim - 1)))  # (T, 1, ..., 1)
    screen = center + scale * (world - center)
    screen[..., 0] += shift.reshape(-1, *([1] * (world.ndim - 2)))
    return screen


def simulate(scene: SceneSpec, num_frames: int, height: int, width: int, fps: float = FPS, seed: int = 0) -> Truth:
    """Spawn the scene's objects from `seed` and integrate their motion for `num_frames`."""
    rng = np.random.default_rng(seed)
    unit = float(min(height, width))
    extent = np.array([width / unit, height / unit])  # frame size in world units (x, y)
    starts = spawn_positions(scene, extent, rng)  # (N, 2)

    times = np.arange(num_frames) / fps
    floor = extent[1]
    radii_world = np.array([SIZES[obj.size] for obj in scene.objects])  # (N,)
    motions = [world_motion(obj, starts[i], floor - radii_world[i], times) for i, obj in enumerate(scene.objects)]
    world = np.stack([m[0] for m in motions], axis=1)  # (F, N, 2)
    world_vel = np.stack([m[1] for m in motions], axis=1)  # (F, N, 2)

    scale, shift = camera_transform(scene.camera, times)
    center = extent / 2
    screen = to_screen(world, scale, shift, center)  # (F, N, 2) world units on screen
    # d/dt of center + s (x - c) + shift = s' (x - c) + s v + shift'
    dscale = np.gradient(scale, times) if num_frames > 1 else np.zeros_like(scale)
    dshift = np.gradient(shift, times) if num_frames > 1 else np.zeros_like(shift)
    if scene.camera.startswith("zoom"):
        rate = ZOOM_RATE if scene.camera == "zoom in" else -ZOOM_RATE
        dscale = rate * scale  # exact derivative of exp(rate t)
    if scene.camera.startswith("pan"):
        dshift = np.full_like(times, PAN_SPEED if scene.camera == "pan left" else -PAN_SPEED)
    screen_vel = dscale[:, None, None] * (world - center) + scale[:, None, None] * world_vel
    screen_vel[..., 0] += dshift[:, None]

    return Truth(
        fps=float(fps),
        times=times,
        unit=unit,
        world_centers=world,
        world_velocities=world_vel,
        centers=screen * unit,
        velocities=screen_vel * unit / fps,
        radii=scale[:, None] * radii_world[None, :] * unit,
        camera_scale=scale,
        camera_shift=shift,
    )


def spawn_positions(scene: SceneSpec, extent: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Start positions (N, 2): in view for the reference clip, overlapping as little as possible."""
    times = np.arange(REFERENCE_FRAMES) / FPS
    scale, shift = camera_transform(scene.camera, times)
    center = extent / 2
    paths, radii = [], []
    for obj in scene.objects:
        r = SIZES[obj.size]
        low = np.array([r, r])
        high = np.maximum(extent - r, low + 1e-6)
        if obj.motion == "bouncing":
            # Drop from the upper half so the first bounce happens within the clip.
            high[1] = max(min(extent[1] / 2, high[1]), low[1] + 1e-6)
        starts = rng.uniform(low, high, size=(_CANDIDATES, 2))  # (K, 2)
        # (T, K, 2) on-screen paths of every candidate over the reference clip
        world = np.stack([world_motion(obj, s, extent[1] - r, times)[0] for s in starts], axis=1)
        screen = to_screen(world, scale, shift, center)
        half = (scale * r)[:, None, None]  # (T, 1, 1)
        inside = ((screen - half >= -0.02) & (screen + half <= extent + 0.02)).all(axis=(0, 2))  # (K,)
        # Prefer candidates that stay in view; if none does (tiny frames), keep them all.
        keep = inside if inside.any() else np.ones_like(inside)
        paths.append((screen[:, keep], starts[keep]))
        radii.append(half[..., 0])  # (T, 1)

    chosen = _pick_non_overlapping(paths, radii, rng)
    return np.stack([paths[i][1][k] for i, k in enumerate(chosen)])


def _pick_non_overlapping(paths, radii, rng: np.random.Generator) -> list[int]:
    """One candidate per object, overlapping the others in as few frames as possible.

    Two objects crossing the frame on the same row must meet, so a clip without any overlap
    is not always possible. Each attempt walks the objects in order and picks at random among
    the candidates that overlap the earlier picks in the fewest frames; the attempt with the
    fewest overlapping frames in total wins (the first with none ends the search).
    """
    best, best_total = [], np.inf
    for _ in range(_ATTEMPTS):
        picked, total = [], 0
        for i, (screen, _) in enumerate(paths):
            counts = np.zeros(screen.shape[1])  # (K,) frames in which candidate k overlaps a pick
            for j, k in enumerate(picked):
                other = paths[j][0][:, k]  # (T, 2)
                gap = np.abs(screen - other[:, None, :])  # (T, K, 2)
                reach = (radii[i] + radii[j])[:, :, None] * 1.1  # (T, 1, 1)
                # Boxes overlap when both axes are closer than the summed half-extents.
                counts += (gap < reach).all(axis=2).sum(axis=0)
            fewest = np.flatnonzero(counts == counts.min())
            picked.append(int(rng.choice(fewest)))
            total += counts.min()
        if total < best_total:
            best, best_total = picked, total
        if total == 0:
            break
    return best
