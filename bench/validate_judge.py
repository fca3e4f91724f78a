"""How often the judge agrees with the world's ground truth, attribute by attribute.

Renders n random scenes (scene k from rng k, positions from seed k, like tests/test_eval.py),
judges each video against its own caption (clean, and after a 3x3 blur plus Gaussian noise)
and against another scene's caption (mismatched: the pass rates there should be near
chance), and prints a table of pass rates per check, over all scenes and over the
judgeable ones (every object seen whole, < 2% hidden behind others, in a quarter of the
frames), plus match rates per camera move and the judge's speed.

    python bench/validate_judge.py --n 1000
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F

from minisora.data import CAMERAS, render_scene, sample_scene
from minisora.eval import compare, measure

ATTRIBUTES = ("count", "background", "camera", "color", "shape", "size", "motion")


def hidden_behind_others(clip) -> np.ndarray:
    """(F, N) fraction of each object's in-frame area covered by objects drawn after it."""
    return clip.truth.occlusion


def blur_and_noise(video: torch.Tensor, seed: int, sigma: float = 0.03, blur: int = 3) -> torch.Tensor:
    """A blur x blur box blur (edges replicated) then Gaussian noise, clipped to [0, 1]."""
    pad = blur // 2
    blurred = F.avg_pool2d(F.pad(video, (pad, pad, pad, pad), mode="replicate"), blur, stride=1)
    noise = torch.randn(blurred.shape, generator=torch.Generator().manual_seed(seed))
    return (blurred + sigma * noise).clamp(0, 1)


def pass_rates(verdicts) -> dict[str, float]:
    """Pass rate of each check kind (per-object checks pooled over objects) and of full matches."""
    passed = {a: [] for a in ATTRIBUTES}
    for verdict in verdicts:
        for name, ok in verdict.checks.items():
            passed[name.split(".")[-1]].append(ok)
    rates = {a: float(np.mean(v)) for a, v in passed.items()}
    rates["match"] = float(np.mean([v.match for v in verdicts]))
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="number of random scenes")
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--sigma", type=float, default=0.03, help="noise level of the degraded copy")
    parser.add_argument("--blur", type=int, default=3, help="box blur width of the degraded copy (odd)")
    args = parser.parse_args()

    clips, judgeable = [], []
    for k in range(args.n):
        scene = sample_scene(np.random.default_rng(k), split="all", camera_prob=0.3, gray_prob=0.3)
        clip = render_scene(scene, num_frames=args.frames, height=args.size, width=args.size, seed=k)
        clips.append(clip)
        judgeable.append(bool(((hidden_behind_others(clip) < 0.02).sum(axis=0) >= args.frames / 4).all()))
    judgeable = np.array(judgeable)
    degraded = [blur_and_noise(clip.video, seed=k, sigma=args.sigma, blur=args.blur) for k, clip in enumerate(clips)]

    start = time.perf_counter()
    clean = [measure(clip.video) for clip in clips]
    seconds = time.perf_counter() - start
    noisy = [measure(video) for video in degraded]

    cases = {
        "clean": [compare(m, clip.scene) for m, clip in zip(clean, clips)],
        f"blur{args.blur}+noise{args.sigma:g}": [compare(m, clip.scene) for m, clip in zip(noisy, clips)],
        "mismatched": [compare(clean[i], clips[(i + 1) % args.n].scene) for i in range(args.n)],
    }
    print(f"{args.n} scenes, {args.frames} frames at {args.size}x{args.size}; "
          f"{judgeable.sum()} judgeable ({judgeable.mean():.1%}); "
          f"judged {args.n / seconds:.0f} videos/s (clean, 1 process)\n")
    header = f"{'case':<22}{'scenes':<12}" + "".join(f"{a:>11}" for a in (*ATTRIBUTES, "match"))
    print(header)
    print("-" * len(header))
    for name, verdicts in cases.items():
        subsets = {"all": np.ones(args.n, dtype=bool), "judgeable": judgeable, "ambiguous": ~judgeable}
        for subset, keep in subsets.items():
            if name == "mismatched" and subset != "all" or not keep.any():
                continue
            rates = pass_rates([v for v, k in zip(verdicts, keep) if k])
            print(f"{name:<22}{subset:<12}" + "".join(f"{rates[a]:>11.1%}" for a in (*ATTRIBUTES, "match")))
    print("\nmatch rate by camera move (judgeable scenes): clean | degraded")
    for camera in CAMERAS:
        keep = [i for i, clip in enumerate(clips) if clip.scene.camera == camera and judgeable[i]]
        rates = [np.mean([verdicts[i].match for i in keep]) for verdicts in list(cases.values())[:2]]
        print(f"  {camera:<10} {len(keep):>5} scenes  {rates[0]:>7.1%} | {rates[1]:.1%}")
    misses = [(i, v.failures) for i, v in enumerate(cases["clean"]) if judgeable[i] and not v.match]
    print(f"\njudgeable clean scenes the judge gets wrong: {misses}")


if __name__ == "__main__":
    main()
