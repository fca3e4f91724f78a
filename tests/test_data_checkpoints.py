"""The checkpoints data/ ships, measured again from the files: their gates, their latent
statistics, their sizes. Nothing here is read from a checkpoint's metadata and trusted;
the metadata is only compared with what is measured."""

import pytest
import torch

from minisora.core import data_file, read_checkpoint
from minisora.core.pixels import to_model_range
from minisora.data import BouncingShapes
from minisora.models import VAE, VAE_PRESETS, VIDEO_VAE_PRESETS, CausalVideoVAE, load_model
from minisora.train import clip_videos, gate, gate_passes, psnr, reconstruct_videos
from minisora.train.recipes.video_vae import GATE_SEED, VideoVAERecipe

MB = 2**20


def measured_gate(vae, num_frames):
    """The judge on the recipes' 100 held-out gate clips (seed 123), before and after `vae`; and the PSNR."""
    videos, specs = clip_videos(100, 32, seed=GATE_SEED, num_frames=num_frames)  # (100, F, 3, 32, 32) in [0, 1]
    reconstructed = reconstruct_videos(vae, videos)
    return gate(vae, videos, specs, reconstructed), psnr(videos, reconstructed)


def assert_scores_as_logged(scores, logged):
    for kind in ("original", "reconstructed"):
        for attribute, value in scores[kind].items():
            # The same clips and weights: equal up to a clip flipping under another torch build.
            assert value == pytest.approx(logged[kind][attribute], abs=0.02), (kind, attribute)


def test_the_2d_vae_passes_its_gate_measured_again():
    vae = load_model(data_file("vae_f4_32px.pt"), expect=VAE)
    scores, _ = measured_gate(vae, num_frames=16)  # the `vae` recipe's gate clips
    assert gate_passes(scores, 0.05), scores
    assert gate_passes(scores, 0.05, attributes=("color", "shape", "size", "count")), scores
    assert_scores_as_logged(scores, vae.checkpoint_metadata["gate"])


# data/'s video VAEs: (file, class, config, latent shape of a 17x32x32 clip, whether it passes its gate).
VIDEO_VAES = {
    "video_vae_f4.pt": (VAE, VAE_PRESETS["f4"], (17, 4, 8, 8), True),  # the one lesson 09 trains on
    "video_vae_f4t2.pt": (CausalVideoVAE, VIDEO_VAE_PRESETS["f4t2"], (9, 4, 8, 8), False),  # lesson 07's causal VAE
}


@pytest.fixture(scope="module", params=sorted(VIDEO_VAES))
def video_vae(request):
    kind = VIDEO_VAES[request.param][0]
    return request.param, load_model(data_file(request.param), expect=kind)


def test_the_video_vaes_are_small_and_made_by_their_commands(video_vae):
    name, vae = video_vae
    _, config, latent, _ = VIDEO_VAES[name]
    path = data_file(name)
    assert path.stat().st_size < 5 * MB
    assert "training" not in read_checkpoint(path)  # a model file, not a run to resume
    meta = vae.checkpoint_metadata
    assert meta["command"].startswith("minisora train video-vae")
    assert meta["export_command"].startswith("minisora export")
    assert vae.config == config and not meta["fast"]
    assert tuple(vae.latent_shape(17, 32, 32)) == latent


def test_the_video_vaes_gates_measured_again(video_vae):
    name, vae = video_vae
    scores, value = measured_gate(vae, num_frames=VideoVAERecipe().frames)
    # Whole caption and motion within 0.05 of the originals: the per-frame VAE passes, the causal one does not.
    assert gate_passes(scores, 0.05) == VIDEO_VAES[name][-1], scores
    meta = vae.checkpoint_metadata
    assert meta["gate_passed"] == VIDEO_VAES[name][-1] and value == pytest.approx(meta["psnr"], abs=0.05)
    assert_scores_as_logged(scores, meta["gate"])


def test_the_video_vaes_latent_statistics_are_those_of_their_training_clips(video_vae):
    _, vae = video_vae
    options = VideoVAERecipe()
    clips = BouncingShapes(length=options.clips, num_frames=options.frames, height=options.size,
                           width=options.size, seed=options.data_seed)
    fit = torch.stack([clips[i]["video"] for i in range(options.fit_clips)])  # (64, 17, 3, 32, 32) in [0, 1]
    stored = vae.shift_factor.clone(), vae.scaling_factor.clone()
    try:
        shift, scale = vae.fit_shift_and_scale(to_model_range(fit), per_channel=True)
    finally:
        vae.shift_factor, vae.scaling_factor = stored  # the module-scoped model stays as loaded
    assert torch.allclose(shift, stored[0], atol=1e-4) and torch.allclose(scale, stored[1], rtol=1e-4)
    with torch.no_grad():
        latents = vae.encode(to_model_range(fit[:16]))  # (16, F', 4, 8, 8), normalized
    per_channel = latents.transpose(0, 2).flatten(1)  # (4, everything else)
    assert per_channel.mean(1).abs().max() < 0.3 and (per_channel.std(1) - 1).abs().max() < 0.3


@pytest.fixture(scope="module")
def clip_model():
    from minisora.models.clip import CLIPModel

    return load_model(data_file("text_encoder.pt"), expect=CLIPModel)


def test_the_text_encoder_is_small_made_by_its_commands_and_loads_alone(clip_model):
    from minisora.models.clip import load_text_encoder
    from minisora.text import TextEncoder

    path = data_file("text_encoder.pt")
    assert path.stat().st_size < 8 * MB and "training" not in read_checkpoint(path)
    meta = clip_model.checkpoint_metadata
    assert meta["command"].startswith("minisora train text-encoder") and not meta["fast"]
    assert meta["export_command"].startswith("minisora export")
    text = load_text_encoder(path)
    assert isinstance(text, TextEncoder)
    captions = ["a small red circle moving left", "a large blue square bouncing on a gray background"]
    with torch.no_grad():  # the text tower alone gives the pair's text embeddings
        assert torch.equal(text.embed(text.encode_text(captions).pooled), clip_model.encode_text(captions))


def test_the_text_encoder_retrieves_as_logged_and_far_above_chance(clip_model):
    from minisora.train.recipes.text_encoder import TextEncoderRecipe, evaluate_retrieval

    meta, options = clip_model.checkpoint_metadata, TextEncoderRecipe()
    results = evaluate_retrieval(clip_model, meta["eval_clips"], options.frames, options.size, "cpu")
    for split, styles in results.items():
        for style, directions in styles.items():
            for direction, scores in directions.items():
                logged = meta["retrieval"][split][style][direction]
                for name, value in scores.items():
                    tolerance = 0.5 if name == "mean_rank" else 0.02  # the same clips: equal up to float rounding
                    assert value == pytest.approx(logged[name], abs=tolerance), (split, style, direction, name)
    chance_top5 = 5 / meta["eval_clips"]
    for style in ("canonical", "free"):  # held-out (colour, shape, motion) triples: never seen in training
        assert results["holdout"][style]["text_to_video"]["top5"] > chance_top5 + 0.3, results["holdout"][style]


def test_the_text_to_video_model_is_small_and_made_by_its_commands():
    path = data_file("t2v.pt")
    assert path.stat().st_size < 15 * MB
    checkpoint = read_checkpoint(path)
    assert "training" not in checkpoint and checkpoint["class"] == "TextToVideoModel"
    meta = checkpoint["metadata"]
    assert meta["command"].startswith("minisora train t2v") and meta["export_command"].startswith("minisora export")
    assert meta["options"]["vae"] == "video_vae_f4.pt" and not meta["fast"]


def test_the_text_to_video_model_generates_as_scored():
    """The first 50 prompts of data/t2v_scores.json's suite, generated and judged again: the same verdicts."""
    import json

    from minisora.pipeline import TextToVideoPipeline, evaluate_pipeline, prompt_suite

    scores = json.loads(data_file("t2v_scores.json").read_text())
    pipe = TextToVideoPipeline.from_pretrained()
    suite = prompt_suite(scores["prompts"])[:50]  # the first batch of `minisora evaluate` (batch 50, seed + 0)
    records = evaluate_pipeline(pipe, suite, num_inference_steps=scores["steps"], guidance_scale=scores["guidance"],
                                eta=scores["eta"], seed=scores["seed"], batch_size=50)
    logged = scores["records"][:50]
    assert [r["prompt"].spec for r in records] == [entry["spec"] for entry in logged]
    agree = sum(r["match"] == entry["match"] for r, entry in zip(records, logged))
    assert agree >= 47, f"only {agree} of 50 verdicts as logged"  # a few may flip under another torch build
    # What the model does follow (data/README.md: count 0.80 / 0.75 over all 300, 0.76 in these 50): exactly the
    # prompt's objects, by colour, and the prompt's background. Noise or another prompt's video would fail most;
    # the margin leaves room for the few verdicts another torch build may flip.
    count = sum(r["checks"]["count"] for r in records) / len(records)
    background = sum(r["checks"]["background"] for r in records) / len(records)
    assert count >= 0.64 and background >= 0.9, (count, background)
