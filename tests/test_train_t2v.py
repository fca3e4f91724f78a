"""Recipe `t2v` (lesson 09): the cached latents, both objectives, caption choice, options refused by name."""

import dataclasses

import pytest
import torch

from minisora.core import data_file, load_model, read_checkpoint
from minisora.data import BouncingShapes, object_coverage
from minisora.models import VAE, TextToVideoModel
from minisora.train.recipes import get_recipe, recipe_options
from minisora.train.recipes.t2v import T2VRecipe, build_model, choose_captions, encode_clips, t2v_loss, training_clips
from minisora.train.run import train_recipe


def test_fast_run_trains_and_stores_what_the_pipeline_needs(tmp_path):
    trainer = train_recipe("t2v", tmp_path, progress=False, fast=True)
    assert len(trainer.losses) == 3 and all(torch.isfinite(torch.tensor(trainer.losses)))
    meta = read_checkpoint(tmp_path / "last.pt")["metadata"]
    assert meta["options"]["vae"] == "video_vae_f4.pt" and meta["options"]["objective"] == "flow"
    assert meta["final_loss"] == pytest.approx(sum(trainer.losses) / 3)
    model = load_model(tmp_path / "last.pt", expect=TextToVideoModel)
    shipped = load_model(data_file("text_encoder.pt"))
    # The text tower inside is the shipped encoder, unchanged (frozen).
    torch.testing.assert_close(model.text.state_dict(), shipped.text.state_dict())


def test_v_prediction_objective_trains(tmp_path):
    trainer = train_recipe("t2v", tmp_path, progress=False, fast=True, overrides={"objective": "v_prediction"})
    assert all(torch.isfinite(torch.tensor(trainer.losses)))


def test_the_cache_encodes_every_clip_with_both_captions():
    vae = load_model(data_file("video_vae_f4.pt"), expect=VAE)
    clips = BouncingShapes(length=3, num_frames=4, height=16, width=16, seed=0)
    cache = encode_clips(vae, clips, "cpu", batch_size=2)
    assert cache["latents"].shape == (3, 4, 4, 4, 4)
    assert cache["coverage"].shape == (3, 4, 1, 4, 4) and cache["coverage"].dtype == torch.float16
    assert torch.equal(cache["coverage"][1].float(), object_coverage(clips[1]["video"], 4))  # exact in float16
    assert cache["canonical"] == [clips[i]["spec"] for i in range(3)]
    assert cache["free"] == [clips[i]["caption"] for i in range(3)]


def test_caption_choice_follows_the_probability():
    ids_a, ids_b = torch.zeros(400, 3, dtype=torch.long), torch.ones(400, 3, dtype=torch.long)
    mask = torch.ones(400, 3, dtype=torch.bool)
    batch = {"x": torch.zeros(400, 1), "ids_canonical": ids_a, "mask_canonical": mask, "ids_free": ids_b,
             "mask_free": mask}
    torch.manual_seed(0)
    ids, _ = choose_captions(batch, 0.25)
    share = float((ids[:, 0] == 0).float().mean())
    assert 0.18 < share < 0.32  # 100 expected of 400, sd ~ 8.7
    assert bool((choose_captions(batch, 1.0)[0] == 0).all()) and bool((choose_captions(batch, 0.0)[0] == 1).all())


def test_ablation_options_reach_the_model():
    recipe = get_recipe("t2v")
    options = recipe_options(recipe, fast=True, overrides={"attention": "spatial", "tubelet_frames": "1",
                                                           "train_text": "true"})
    model = build_model(options)
    cfg = model.config
    assert cfg.dit.attention == "spatial" and cfg.dit.tubelet_frames == 1 and cfg.train_text
    assert all(p.requires_grad for p in model.text.parameters())


def test_bad_options_are_refused_by_name():
    recipe = get_recipe("t2v")
    options = recipe_options(recipe, fast=True)
    with pytest.raises(ValueError, match="preset"):
        build_model(dataclasses.replace(options, preset="huge"))
    with pytest.raises(ValueError, match="objective"):
        t2v_loss("epsilon", 0.5)
    with pytest.raises(ValueError, match="attention"):
        build_model(dataclasses.replace(options, attention="joint"))
    with pytest.raises(ValueError, match="no setting"):
        recipe_options(recipe, fast=True, overrides={"objectve": "flow"})
    for share in ("1.5", "-0.1", "true"):
        with pytest.raises(ValueError, match="one_object_share"):
            recipe_options(recipe, fast=True, overrides={"one_object_share": share})
    for weight in ("-1", "nan"):
        with pytest.raises(ValueError, match="object_weight"):
            recipe_options(recipe, fast=True, overrides={"object_weight": weight})
    with pytest.raises(ValueError, match="object_weight"):
        t2v_loss("flow", 0.5, object_weight=-1.0)


def test_object_weight_weighs_the_covered_cells(tmp_path):
    """The weighted run trains; its loss is the weighted mean of the same errors (same seed, same batches)."""
    plain = train_recipe("t2v", tmp_path / "plain", progress=False, fast=True, overrides={"object_weight": "0"})
    weighted = train_recipe("t2v", tmp_path / "weighted", progress=False, fast=True, overrides={"object_weight": "3"})
    assert all(torch.isfinite(torch.tensor(weighted.losses)))
    # step 1: the same initial network, batch and noise, other loss weights
    assert weighted.losses[0] != plain.losses[0]
    # One batch by hand: the loss with coverage 0 everywhere is the unweighted one.
    x = torch.randn(2, 4, 4, 4, 4)
    ids = torch.ones(2, 3, dtype=torch.long)
    batch = {"x": x, "ids_canonical": ids, "mask_canonical": ids.bool(), "ids_free": ids, "mask_free": ids.bool(),
             "coverage": torch.zeros(2, 4, 1, 4, 4, dtype=torch.float16)}
    model = lambda x_t, t, **_: x_t  # noqa: E731
    torch.manual_seed(0)
    unweighted = t2v_loss("flow", 0.5)(model, batch)
    torch.manual_seed(0)
    assert torch.equal(t2v_loss("flow", 0.5, object_weight=3.0)(model, batch), unweighted)


def test_training_clips_hold_the_one_object_share_and_only_the_train_split():
    options = T2VRecipe(clips=40, one_object_share=0.25, frames=4, size=16)
    clips = training_clips(options)
    counts = [len(clips.datasets[0].scene(i).objects) for i in range(len(clips.datasets[0]))]
    assert len(clips) == 40 and len(clips.datasets[0]) == 10 and counts == [1] * 10
    several = [len(clips.datasets[1].scene(i).objects) for i in range(30)]
    assert max(several) > 1  # the rest keep the world's 1-3 objects
    assert all(d.split == "train" for d in clips.datasets)
    # the two parts are different scenes (different seeds), and a share of 0 or 1 leaves one part
    assert clips.datasets[0].scene(0) != clips.datasets[1].scene(0)
    assert len(training_clips(dataclasses.replace(options, one_object_share=0.0)).datasets) == 1
    assert len(training_clips(dataclasses.replace(options, one_object_share=1.0)).datasets) == 1


def test_the_recipe_defaults_are_the_measured_choices():
    model = build_model(T2VRecipe(preset="tiny"))
    assert model.config.dit.attention == "full" and model.config.word_tokens and not model.config.train_text


def test_a_resumed_run_is_the_same_run(tmp_path):
    horizon = {"decay_steps": "4"}  # the recipe's cosine schedule: a resumed run keeps the whole run's horizon
    whole = train_recipe("t2v", tmp_path / "whole", steps=4, progress=False, fast=True, overrides=horizon)
    train_recipe("t2v", tmp_path / "split", steps=2, progress=False, fast=True, overrides=horizon)
    resumed = train_recipe("t2v", tmp_path / "split", steps=4, resume=True, progress=False, fast=True,
                           overrides=horizon)
    assert resumed.losses[-2:] == whole.losses[-2:]
