"""How fast the Bouncing Shapes world renders, side by side with a PIL peer, in one run.

The peer draws the same scenes (same physics, same positions) with PIL's ImageDraw, one
frame and one object at a time: the obvious way to write a renderer. PIL draws hard,
aliased edges; ours are anti-aliased, so the fair peer is PIL drawing at 4x and averaging
4x4 blocks down. We report videos per second for each and the ratios.

    python bench/bench_render.py --n 200 --size 32 --frames 16
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from PIL import Image, ImageDraw

from minisora.data import BACKGROUNDS, COLORS, BouncingShapes, rasterize, sample_scene, simulate


def pil_rasterize(scene, truth, height: int, width: int, supersample: int = 1) -> np.ndarray:
    """The peer: draw each frame with PIL (F, 3, H, W) float; supersample > 1 anti-aliases."""
    k = supersample
    background = tuple(int(255 * v) for v in BACKGROUNDS[scene.background])
    frames = []
    for f in range(len(truth.times)):
        image = Image.new("RGB", (width * k, height * k), background)
        draw = ImageDraw.Draw(image)
        for i, obj in enumerate(scene.objects):
            (cx, cy), r = truth.centers[f, i] * k, truth.radii[f, i] * k
            fill = tuple(int(255 * v) for v in COLORS[obj.color])
            if obj.shape == "circle":
                draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
            elif obj.shape == "square":
                draw.rectangle([cx - r, cy - r, cx + r, cy + r], fill=fill)
            else:
                draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=fill)
        if k > 1:  # average k x k blocks: the classic way to anti-alias a hard-edged drawing
            image = image.resize((width, height), Image.Resampling.BOX)
        frames.append(np.asarray(image, dtype=np.float32) / 255)
    return np.stack(frames).transpose(0, 3, 1, 2)


def check_same_pixels(jobs, tolerance: float = 0.02) -> float:
    """Both renderers must draw the same videos before their speed means anything.

    Ours anti-aliases analytically, PIL 4x4-supersampled by averaging, so edge pixels differ a
    little; a wrong shape, place or colour would differ by ~1 over whole objects. Returns the
    largest mean |ours - PIL| over the videos (0.009 when this was written, against 0.02 allowed).
    """
    worst = 0.0
    for scene, truth, height, width in jobs[:50]:
        ours = rasterize(scene, truth, height, width)
        peer = pil_rasterize(scene, truth, height, width, supersample=4)
        assert np.abs(ours - peer).max() < 0.5, f"{scene}: a pixel differs by more than half the range"
        worst = max(worst, float(np.abs(ours - peer).mean()))
    assert worst < tolerance, f"the renderers disagree: mean |ours - PIL| = {worst:.4f} >= {tolerance}"
    return worst


def videos_per_second(draw, jobs) -> float:
    start = time.perf_counter()
    for scene, truth, height, width in jobs:
        draw(scene, truth, height, width)
    return len(jobs) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--frames", type=int, default=16)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    scenes = [sample_scene(rng, split="all", camera_prob=0.3) for _ in range(args.n)]
    start = time.perf_counter()
    jobs = [(s, simulate(s, args.frames, args.size, args.size, seed=k), args.size, args.size)
            for k, s in enumerate(scenes)]
    physics_rate = args.n / (time.perf_counter() - start)

    worst = check_same_pixels(jobs)
    ours = videos_per_second(rasterize, jobs)
    peer = videos_per_second(pil_rasterize, jobs)
    peer_aa = videos_per_second(lambda *job: pil_rasterize(*job, supersample=4), jobs)
    data = BouncingShapes(length=args.n, num_frames=args.frames, height=args.size, width=args.size)
    start = time.perf_counter()
    for i in range(args.n):
        data[i]
    dataset_rate = args.n / (time.perf_counter() - start)

    print(f"{args.n} scenes, {args.frames} frames of {args.size}x{args.size}, one process")
    print(f"same pixels first: mean |ours - PIL 4x4 supersampled| <= {worst:.4f} per video (edges only)")
    print(f"{'stage':<38}{'videos/s':>10}")
    print(f"{'physics + spawn (simulate)':<38}{physics_rate:>10.0f}")
    print(f"{'drawing, minisora (NumPy, AA)':<38}{ours:>10.0f}")
    print(f"{'drawing, peer (PIL ImageDraw)':<38}{peer:>10.0f}")
    print(f"{'drawing, peer (PIL, 4x4 supersampled)':<38}{peer_aa:>10.0f}")
    print(f"{'dataset item (sample+simulate+draw)':<38}{dataset_rate:>10.0f}")
    print(f"ratio minisora / PIL aliased drawing: {ours / peer:.2f}x")
    print(f"ratio minisora / PIL anti-aliased drawing: {ours / peer_aa:.2f}x")


if __name__ == "__main__":
    main()
