"""TextToVideoPipeline, the prompt suite and the judge's table (lesson 09), on a fast-mode t2v run."""

import warnings

import pytest
import torch

from minisora.cli import main
from minisora.core import read_video, save_checkpoint
from minisora.data import DEFAULT_HOLDOUT, parse_caption
from minisora.pipeline import TextToVideoPipeline, evaluate_pipeline, format_table, prompt_suite, score_table
from minisora.pipeline.text_to_video import DEFAULT_ETA, DEFAULT_GUIDANCE, TRAIN_COMMAND
from minisora.train.run import train_recipe

PROMPT = "a small red circle moving left"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A fast-mode t2v run (4 frames of 16x16, a tiny DiT, 3 steps): the real files, tiny sizes."""
    out = tmp_path_factory.mktemp("t2v_run")
    train_recipe("t2v", out, progress=False, fast=True)
    return out


@pytest.fixture(scope="module")
def pipe(run_dir):
    return TextToVideoPipeline.from_pretrained(run_dir)


def test_a_prompt_gives_a_video_of_the_trained_size_in_pixel_range(pipe):
    video = pipe(PROMPT, num_inference_steps=2)
    assert video.shape == (4, 3, 16, 16) and video.dtype == torch.float32
    assert video.min() >= 0 and video.max() <= 1 and not video.requires_grad


def test_a_list_gives_a_batch_and_sizes_can_change(pipe):
    videos = pipe([PROMPT, "there is a big blue box moving up"], num_frames=6, height=24, width=8,
                  num_inference_steps=2)
    assert videos.shape == (2, 6, 3, 24, 8)


def test_same_seed_same_video_other_seed_other_video(pipe):
    a, b = pipe(PROMPT, num_inference_steps=2, seed=5), pipe(PROMPT, num_inference_steps=2, seed=5)
    assert torch.equal(a, b)
    assert not torch.equal(a, pipe(PROMPT, num_inference_steps=2, seed=6))


def test_guidance_changes_the_video(pipe):
    plain = pipe(PROMPT, num_inference_steps=2, guidance_scale=1.0)
    assert not torch.equal(plain, pipe(PROMPT, num_inference_steps=2, guidance_scale=5.0))


def test_eta_adds_fresh_noise_reproducibly(pipe):
    ode = pipe(PROMPT, num_inference_steps=3, eta=0.0)
    noisy = pipe(PROMPT, num_inference_steps=3, eta=1.0)
    assert not torch.equal(ode, noisy)  # the steps' fresh noise changed the video...
    assert torch.equal(noisy, pipe(PROMPT, num_inference_steps=3, eta=1.0))  # ...drawn from the seed
    assert pipe.sampler(0.5).eta == 0.5


def test_v_prediction_models_sample_with_ddim(run_dir, tmp_path):
    pipe = TextToVideoPipeline.from_pretrained(run_dir)
    pipe.objective = "v_prediction"
    assert type(pipe.sampler()).__name__ == "DDIMSampler"
    assert pipe.sampler(1.0).eta == 1.0  # eta is DDIM's own
    assert pipe(PROMPT, num_inference_steps=2).shape == (4, 3, 16, 16)


def test_unknown_words_warn_by_name(pipe):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pipe("a small purple dragon moving left", num_inference_steps=1)
    messages = [str(w.message) for w in caught]
    assert any("'purple'" in m and "'dragon'" in m for m in messages)
    assert caught[0].filename == __file__  # the warning points at the caller's line


@pytest.mark.parametrize("kwargs, words", [
    ({"prompt": ""}, "empty"),
    ({"prompt": "   "}, "empty"),
    ({"prompt": []}, "non-empty list"),
    ({"prompt": [PROMPT, 3]}, "prompt 1"),
    ({"prompt": PROMPT, "num_frames": 5}, "num_frames=4 or 6"),
    ({"prompt": PROMPT, "num_frames": 0}, "num_frames"),
    ({"prompt": PROMPT, "height": 20}, "height=16 or 24"),
    ({"prompt": PROMPT, "width": 4}, "width=8"),
    ({"prompt": PROMPT, "height": 2**20, "width": 2**20}, "GiB"),
    ({"prompt": PROMPT, "seed": -1}, "seed"),
    ({"prompt": PROMPT, "seed": 1.5}, "seed"),
    ({"prompt": PROMPT, "guidance_scale": -1}, "guidance_scale"),
    ({"prompt": PROMPT, "guidance_scale": float("inf")}, "guidance_scale"),
    ({"prompt": PROMPT, "num_inference_steps": 0}, "num_inference_steps"),
    ({"prompt": PROMPT, "eta": -0.1}, "eta must be a number in"),
    ({"prompt": PROMPT, "eta": 1.5}, "eta must be a number in"),
    ({"prompt": PROMPT, "eta": True}, "eta must be a number in"),
    ({"prompt": PROMPT, "eta": "1"}, "eta must be a number in"),
    ({"prompt": " ".join(["red"] * 60)}, "context_length"),
])
def test_bad_requests_are_refused_by_name(pipe, kwargs, words):
    with pytest.raises(ValueError, match=words):
        pipe(**kwargs)


def test_missing_or_wrong_checkpoints_name_the_train_command(tmp_path):
    with pytest.raises(FileNotFoundError, match="minisora train t2v"):
        TextToVideoPipeline.from_pretrained(tmp_path / "nothing.pt")
    from minisora.models import VAE

    vae_file = save_checkpoint(tmp_path / "vae.pt", VAE())
    with pytest.raises(ValueError, match="minisora train t2v"):
        TextToVideoPipeline.from_pretrained(vae_file)
    assert "minisora export" in TRAIN_COMMAND


def test_the_prompt_suite_is_half_seen_half_held_out():
    suite = prompt_suite(40)
    assert [p.split for p in suite].count("holdout") == 20
    for prompt in suite:
        spec = parse_caption(prompt.spec)
        assert len(spec.objects) == prompt.objects and (spec.camera != "none") == prompt.camera
        if prompt.style == "canonical":
            assert prompt.prompt == prompt.spec
        shows_held_out = any((o.color, o.shape, o.motion) in DEFAULT_HOLDOUT for o in spec.objects)
        assert shows_held_out == (prompt.split == "holdout")
    assert {p.style for p in suite} == {"canonical", "free"}
    assert prompt_suite(40) == suite  # fixed by its seed
    with pytest.raises(ValueError, match="even"):
        prompt_suite(7)


def test_evaluate_and_table(pipe):
    suite = prompt_suite(4)
    records = evaluate_pipeline(pipe, suite, num_inference_steps=1, batch_size=3)
    assert len(records) == 4 and all(isinstance(r["match"], bool) for r in records)
    rows = score_table(records)
    overall = [r for r in rows if r["group"] == "all"]
    assert [r["split"] for r in overall] == ["seen", "holdout"] and sum(r["n"] for r in overall) == 4
    for row in rows:
        rate, (low, high) = row["match"]
        assert low <= rate <= high
    assert "whole prompt" in format_table(rows)
    with pytest.raises(ValueError, match="empty"):
        evaluate_pipeline(pipe, [])
    with pytest.raises(ValueError, match="no records"):
        score_table([])


def test_cli_generate_writes_a_video(run_dir, tmp_path, capsys):
    out = tmp_path / "red.gif"
    code = main(["generate", PROMPT, "--checkpoint", str(run_dir), "--out", str(out), "--steps", "2",
                 "--no-progress", "--scale", "1"])
    assert code == 0 and "wrote" in capsys.readouterr().out
    video, _ = read_video(out)
    assert video.shape == (4, 3, 16, 16)


def test_cli_generate_bad_input_exits_2_with_a_message(run_dir, tmp_path, capsys):
    cases = [
        (["generate", PROMPT, "--checkpoint", str(run_dir), "--out", str(tmp_path / "x.avi")], ".mp4 or .gif"),
        (["generate", PROMPT, "--checkpoint", str(tmp_path / "none.pt"), "--out", str(tmp_path / "x.mp4")],
         "minisora train t2v"),
        (["generate", "", "--checkpoint", str(run_dir), "--out", str(tmp_path / "x.mp4")], "empty"),
        (["generate", PROMPT, "--checkpoint", str(run_dir), "--out", str(tmp_path / "x.mp4"), "--frames", "3"],
         "num_frames"),
        (["generate", PROMPT, "--checkpoint", str(run_dir), "--out", "/proc/no/such/x.mp4"], "cannot create"),
        (["generate", PROMPT, "--checkpoint", str(run_dir), "--out", str(tmp_path / "x.mp4"), "--eta", "2"], "eta"),
    ]
    for argv, words in cases:
        assert main(argv) == 2
        assert words in capsys.readouterr().err


def test_cli_evaluate_writes_json(run_dir, tmp_path, capsys):
    out = tmp_path / "scores.json"
    assert main(["evaluate", "--checkpoint", str(run_dir), "--prompts", "2", "--steps", "1", "--out", str(out)]) == 0
    import json

    result = json.loads(out.read_text())
    assert result["prompts"] == 2 and result["rows"][0]["split"] == "seen"
    # The settings the videos were made with, defaults filled in, so they can be made again.
    assert (result["guidance"], result["eta"]) == (DEFAULT_GUIDANCE, DEFAULT_ETA)
    assert [r["split"] for r in result["records"]] == ["seen", "holdout"]
    assert main(["evaluate", "--checkpoint", str(run_dir), "--prompts", "3"]) == 2
    assert "even" in capsys.readouterr().err


def test_cli_generate_with_the_shipped_model_and_the_demo_strip(tmp_path, capsys):
    """What a fresh clone can do after `make lab`: text to video with data/t2v.pt, and `make demo`'s strip."""
    out = tmp_path / "red.mp4"
    assert main(["generate", PROMPT, "--out", str(out), "--no-progress"]) == 0
    video, _ = read_video(out)
    assert video.shape[0] == 16
    strip = tmp_path / "strip.png"
    assert main(["demo", "--out", str(tmp_path / "demo"), "--random", "1", "--frames", "8", "--height", "32",
                 "--width", "32", "--generate", "--strip", str(strip)]) == 0
    assert strip.stat().st_size > 1000 and len(list((tmp_path / "demo").glob("generated_*.gif"))) == 6
    assert main(["demo", "--out", str(tmp_path / "demo2"), "--strip", str(strip)]) == 2
    assert "--generate" in capsys.readouterr().err
