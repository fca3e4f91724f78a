"""Tests for the judge (minisora.eval): agreement with the world's ground truth, robustness
to noise and blur, sensitivity to single-attribute edits, and clear errors on bad input.

The oracle is the renderer: a rendered clip's own scene is the right answer. The judge
itself never sees that ground truth (see test_the_judge_imports_no_simulator).

Some random scenes are genuinely ambiguous: when the world's spawner cannot keep objects
apart (crowded clips: three large objects, two sliding the same way), one can hide behind
another for most of the clip. A scene is *judgeable* when every object is seen whole, less
than 2% hidden behind later objects, in at least a quarter of its frames; the 99% bar
applies there, and the rate over all scenes is asserted separately with its own bar.
"""

from __future__ import annotations

import ast
import dataclasses
import pathlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from minisora.data import (
    BACKGROUNDS,
    CAMERAS,
    COLORS,
    GRAVITY,
    MOTIONS,
    SHAPES,
    SIZES,
    SPEED,
    SceneSpec,
    canonical_caption,
    parse_caption,
    render,
    render_scene,
    sample_scene,
)
from minisora.eval import Verdict, compare, describe, judge, measure, score

NUM_SCENES = 240


def hidden_behind_others(clip) -> np.ndarray:
    """(F, N) fraction of each object's in-frame area covered by objects drawn after it."""
    return clip.truth.occlusion


def judgeable(clip) -> bool:
    """Every object is seen whole (< 2% hidden) in at least a quarter of the frames."""
    seen_whole = (hidden_behind_others(clip) < 0.02).sum(axis=0)
    return bool((seen_whole >= len(clip.truth.times) / 4).all())


def blur_and_noise(video: torch.Tensor, seed: int, sigma: float = 0.03) -> torch.Tensor:
    """A 3x3 box blur (edges replicated) then Gaussian noise, clipped to [0, 1]."""
    blurred = F.avg_pool2d(F.pad(video, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    noise = torch.randn(blurred.shape, generator=torch.Generator().manual_seed(seed))
    return (blurred + sigma * noise).clamp(0, 1)


@pytest.fixture(scope="module")
def world():
    """NUM_SCENES random clips (scene k from rng k, positions from seed k) and their measurements."""
    clips, clean, noisy, ok = [], [], [], []
    for k in range(NUM_SCENES):
        scene = sample_scene(np.random.default_rng(k), split="all", camera_prob=0.3, gray_prob=0.3)
        clip = render_scene(scene, num_frames=16, height=32, width=32, seed=k)
        clips.append(clip)
        clean.append(measure(clip.video))
        noisy.append(measure(blur_and_noise(clip.video, seed=k)))
        ok.append(judgeable(clip))
    return clips, clean, noisy, np.array(ok)


def _match_rates(clips, measurements, ok) -> tuple[float, float]:
    matches = np.array([compare(m, clip.scene).match for clip, m in zip(clips, measurements)])
    return matches[ok].mean(), matches.mean()


def test_most_random_scenes_are_judgeable(world):
    _, _, _, ok = world
    # If the spawner's overlaps grow, this catches it before the judge's bar quietly shrinks.
    assert ok.mean() >= 0.93, f"only {ok.mean():.1%} of scenes show every object whole often enough"


def test_judge_agrees_with_ground_truth(world):
    clips, clean, _, ok = world
    judgeable_rate, overall = _match_rates(clips, clean, ok)
    print(f"clean: {judgeable_rate:.1%} of {ok.sum()} judgeable scenes, {overall:.1%} of all {len(clips)}")
    assert judgeable_rate >= 0.99
    # All scenes, including objects hidden behind others for most of the clip (measured 99.1%).
    assert overall >= 0.97


def test_judge_survives_noise_and_blur(world):
    clips, _, noisy, ok = world
    judgeable_rate, overall = _match_rates(clips, noisy, ok)
    print(f"blur + noise: {judgeable_rate:.1%} of judgeable scenes, {overall:.1%} of all")
    assert judgeable_rate >= 0.95
    assert overall >= 0.95  # measured 99.0%


def test_mismatched_captions_fail(world):
    clips, clean, _, _ = world
    n = len(clips)
    # Video i against scene i + 1 and i + 7: unrelated captions should (almost) never pass.
    pairs = [(i, (i + shift) % n) for shift in (1, 7) for i in range(n)]
    rate = np.mean([compare(clean[i], clips[j].scene).match for i, j in pairs if clips[i].scene != clips[j].scene])
    print(f"mismatched captions matched: {rate:.2%}")
    assert rate < 0.05


def _edits(scene: SceneSpec, rng: np.random.Generator) -> list[tuple[str, SceneSpec]]:
    """One edit per attribute kind: (the check that must fail, the edited scene)."""
    i = int(rng.integers(len(scene.objects)))
    obj = scene.objects[i]

    def other(options, current):
        return str(rng.choice([o for o in options if o != current]))

    def with_object(**change):
        objects = list(scene.objects)
        objects[i] = dataclasses.replace(obj, **change)
        return dataclasses.replace(scene, objects=tuple(objects))

    unused = [c for c in COLORS if c not in {o.color for o in scene.objects}]
    return [
        (f"{i}.color", with_object(color=str(rng.choice(unused)))),
        (f"{i}.shape", with_object(shape=other(SHAPES, obj.shape))),
        (f"{i}.size", with_object(size=other(list(SIZES), obj.size))),
        (f"{i}.motion", with_object(motion=other(MOTIONS, obj.motion))),
        ("camera", dataclasses.replace(scene, camera=other(CAMERAS, scene.camera))),
        ("background", dataclasses.replace(scene, background=other(list(BACKGROUNDS), scene.background))),
    ]


def test_single_attribute_edits_are_caught(world):
    clips, clean, _, ok = world
    rng = np.random.default_rng(0)
    caught: dict[str, list[bool]] = {}
    for clip, m, judged in zip(clips, clean, ok):
        if not judged:
            continue
        for check, edited in _edits(clip.scene, rng):
            kind = check.split(".")[-1]
            caught.setdefault(kind, []).append(not compare(m, edited).checks[check])
    rates = {kind: float(np.mean(v)) for kind, v in caught.items()}
    print("edits caught:", {k: f"{v:.1%}" for k, v in rates.items()})
    assert set(rates) == {"color", "shape", "size", "motion", "camera", "background"}
    assert min(rates.values()) >= 0.95, rates


def test_fitted_gravity_is_the_worlds(world):
    clips, clean, _, ok = world
    fitted = [
        m.objects[obj.color].gravity
        for clip, m, judged in zip(clips, clean, ok)
        if judged
        for obj in clip.scene.objects
        if obj.motion == "bouncing" and obj.color in m.objects
    ]
    assert len(fitted) >= 20
    # Parabolas fitted to pixel centroids recover the simulator's g from pixels alone.
    assert np.median(np.abs(np.array(fitted) / GRAVITY - 1)) < 0.05


@pytest.mark.parametrize(
    "caption",
    [
        "a small red circle moving left",
        "a large blue square bouncing and a small white triangle moving right",
        "a small green triangle staying still on a gray background, the camera pans left",
        "a large yellow circle moving up and a small magenta square moving down, the camera zooms in",
        "a small cyan square moving right, the camera zooms out",
        "a large orange triangle moving down, the camera pans right",
    ],
)
def test_describe_recovers_the_caption(caption):
    clip = render(caption, seed=2)
    seen = parse_caption(describe(clip.video))
    want = parse_caption(caption)
    assert set(seen.objects) == set(want.objects)
    assert (seen.background, seen.camera) == (want.background, want.camera)
    verdict = judge(clip.video, caption)
    assert verdict.match, str(verdict)


@pytest.mark.parametrize("num_frames,height,width,fps",
                         [(8, 32, 32, 8.0), (16, 64, 64, 8.0), (16, 32, 48, 8.0), (24, 32, 32, 12.0)])
def test_other_sizes_and_frame_rates(num_frames, height, width, fps):
    results = []
    for k in range(12):
        scene = sample_scene(np.random.default_rng(1000 + k), split="all", camera_prob=0.3, gray_prob=0.3)
        clip = render_scene(scene, num_frames=num_frames, height=height, width=width, seed=k, fps=fps)
        if judgeable(clip):
            results.append(judge(clip.video, scene, fps=fps).match)
    assert len(results) >= 8 and np.mean(results) >= 0.9


def test_verdict_reports_every_check_and_its_numbers():
    clip = render("a large blue square bouncing and a small red circle moving left", seed=5)
    verdict = judge(clip.video, clip.caption)
    assert isinstance(verdict, Verdict) and verdict.match and verdict.failures == []
    assert list(verdict.checks) == [
        "count", "background", "camera",
        "0.color", "0.shape", "0.size", "0.motion",
        "1.color", "1.shape", "1.size", "1.motion",
    ]
    square, circle = verdict.measurements
    assert abs(square["gravity"] / GRAVITY - 1) < 0.1
    assert abs(square["half_extent"] - SIZES["large"]) < 0.02 and abs(circle["half_extent"] - SIZES["small"]) < 0.02
    assert np.allclose(circle["velocity"], (-SPEED, 0.0), atol=0.02)
    text = str(verdict)
    assert text.startswith("MATCH") and "blue" in text and "g 2.0" in text

    wrong = judge(clip.video, "a large blue circle bouncing and a small red circle moving right")
    assert not wrong.match and set(wrong.failures) == {"0.shape", "1.motion"}
    assert "MISMATCH" in wrong.summary()
    missing = judge(clip.video, "a large green square bouncing")
    assert set(missing.failures) == {"count", "0.color", "0.shape", "0.size", "0.motion"}
    assert missing.measurements == [None]


def test_extra_objects_fail_the_count():
    clip = render("a small red circle moving left and a large cyan square staying still", seed=1)
    verdict = judge(clip.video, "a small red circle moving left")
    assert verdict.failures == ["count"]


def test_score_matches_verdicts():
    scenes = [sample_scene(np.random.default_rng(k), split="all") for k in range(6)]
    videos = torch.stack([render_scene(s, seed=k).video for k, s in enumerate(scenes)])  # (B, F, C, H, W)
    captions = [canonical_caption(s) for s in scenes]
    result = score(videos, captions)
    assert set(result) == {"match", "count", "background", "camera", "color", "shape", "size", "motion", "n"}
    assert result["n"] == 6
    assert result["match"] == np.mean([judge(v, c).match for v, c in zip(videos, captions)])
    shuffled = score(list(videos), captions[1:] + captions[:1])
    assert shuffled["match"] < result["match"] or result["match"] == 0


def test_numpy_and_slight_overshoot_are_accepted():
    clip = render("a small white square moving down on a gray background", seed=4)
    video = clip.video.numpy() * 1.04 - 0.02  # a sampler's overshoot, as numpy
    assert judge(video, clip.scene).match


def _video(*shape, value=0.0):
    return torch.full(shape, value)


@pytest.mark.parametrize(
    "video,match",
    [
        (_video(3, 32, 32), r"single frame"),
        (_video(2, 16, 3, 32, 32), r"batch .* use score"),
        (_video(16, 32, 32, 3), r"permute\(0, 3, 1, 2\)"),
        (_video(16, 1, 32, 32), r"needs RGB"),
        (_video(2, 3, 32, 32), r"at least 4 frames"),
        (_video(16, 3, 4, 4), r"at least 8x8"),
        (_video(16, 3, 32, 32, value=float("nan")), r"NaN"),
        (_video(16, 3, 32, 32, value=-1.0), r"\(video \+ 1\) / 2"),
        (torch.zeros(16, 3, 32, 32, dtype=torch.uint8), r"float\(\) / 255"),
        (np.zeros((16, 3, 32, 32), dtype=np.uint8), r"astype\(np.float32\) / 255"),
        ([[0.0]], r"torch.Tensor or numpy array"),
    ],
)
def test_bad_videos_raise_helpful_errors(video, match):
    with pytest.raises(ValueError, match=match):
        judge(video, "a small red circle moving left")


def test_bad_specs_and_arguments_raise_helpful_errors():
    video = render("a small red circle moving left").video
    with pytest.raises(ValueError, match="canonical form"):
        judge(video, "a red thing wobbling")
    with pytest.raises(ValueError, match="SceneSpec or a canonical caption"):
        judge(video, 42)
    with pytest.raises(ValueError, match="fps must be a positive"):
        judge(video, "a small red circle moving left", fps=0)
    with pytest.raises(ValueError, match="one spec per video"):
        score([video, video], ["a small red circle moving left"])
    with pytest.raises(ValueError, match="for one video use judge"):
        score(video, ["a small red circle moving left"])
    with pytest.raises(ValueError, match="one SceneSpec or caption per video"):
        score([video], "a small red circle moving left")


def test_the_judge_imports_no_simulator():
    """The referee looks at pixels and captions only: no physics, rasterizer or ground truth."""
    allowed = {"minisora.data.scene", "minisora.data.captions", "minisora.eval.measurement", "minisora.eval.judge",
               "minisora.eval.images", "minisora.eval.intervals"}
    package = pathlib.Path(__file__).resolve().parents[1] / "minisora" / "eval"
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("minisora"):
                assert node.module in allowed, f"{path.name} imports {node.module}"
            if isinstance(node, ast.Import):
                assert not any(alias.name.startswith("minisora") for alias in node.names), path.name
