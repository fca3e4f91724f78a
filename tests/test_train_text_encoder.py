"""The `text-encoder` recipe through `minisora train` (fast mode: seconds): its checkpoint, the standalone text
encoder beside it, retrieval in the metadata, the batches it trains on, its errors."""

import csv
import dataclasses
import re

import pytest
import torch

from minisora.cli import main
from minisora.data import BouncingShapes, parse_caption
from minisora.models import CLIPModel, load_model, load_text_encoder
from minisora.text import TextEncoder, Tokenizer, clip_loss
from minisora.train.recipes import get_recipe, recipe_options
from minisora.train.recipes.text_encoder import (
    EVAL_SPLITS,
    MixedCaptions,
    batch_groups,
    collate_captioned_clips,
    in_batch_accuracy,
)


@pytest.fixture
def fast(monkeypatch):
    monkeypatch.setenv("MINISORA_FAST", "1")
    monkeypatch.setattr("minisora.train.run.FAST", True)


def test_fast_run_writes_a_clip_checkpoint_and_a_text_encoder_that_loads(tmp_path, fast, capsys):
    out = tmp_path / "run"
    assert main(["train", "text-encoder", "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "CLIPModel tiny" in printed and "retrieval on 8 clips per set" in printed and "holdout free" in printed
    with open(out / "log.csv") as file:
        rows = list(csv.reader(file))
    assert rows[0][:2] == ["step", "loss"] and len(rows) == 1 + 3  # fast mode: 3 steps
    clip = load_model(out / "last.pt", expect=CLIPModel)
    meta = clip.checkpoint_metadata
    assert meta["recipe"] == "text-encoder" and meta["fast"] is True and meta["step"] == 3
    assert set(meta["retrieval"]) == set(EVAL_SPLITS)
    for split in EVAL_SPLITS:
        for style in ("canonical", "free"):
            for direction in ("text_to_video", "video_to_text"):
                scores = meta["retrieval"][split][style][direction]
                assert set(scores) == {"top1", "top5", "mean_rank"}
                assert 0 <= scores["top1"] <= scores["top5"] <= 1 and 1 <= scores["mean_rank"] <= 8
    assert 0 <= meta["final_accuracy"] <= 1 and meta["logit_scale"] == pytest.approx(clip.logit_scale().item())
    assert meta["parameters"] == {"text": 17_696, "video": 26_144, "total": 43_841}
    assert meta["text_encoder_file"] == "text_encoder.pt"
    # Lesson 09 loads the text tower alone, from either file, and both give the trained weights.
    standalone = load_model(out / "text_encoder.pt", expect=TextEncoder)
    from_clip = load_text_encoder(out / "last.pt")
    captions = ["a small red circle bouncing", "a video of one big blue box rising"]
    with torch.no_grad():
        a, b = standalone.encode_text(captions), from_clip.encode_text(captions)
        assert torch.equal(a.pooled, b.pooled) and torch.equal(standalone.embed(a.pooled), clip.encode_text(captions))
    assert standalone.checkpoint_metadata["retrieval"] == meta["retrieval"]
    # It trained: the text tower differs from a fresh one built from the same seed.
    torch.manual_seed(0)
    fresh = CLIPModel(clip.config).text
    assert any((p - q).abs().max() > 0 for p, q in zip(fresh.parameters(), standalone.parameters()))


def losses(path):
    return [row[:4] for row in list(csv.reader(open(path)))[1:]]  # samples_per_s is a wall-clock rate


def test_4_steps_equal_2_then_resumed_to_4_loss_for_loss(tmp_path, fast):
    assert main(["train", "text-encoder", "--out", str(tmp_path / "a"), "--steps", "4", "--no-progress"]) == 0
    assert main(["train", "text-encoder", "--out", str(tmp_path / "b"), "--steps", "2", "--no-progress"]) == 0
    assert main(["train", "text-encoder", "--out", str(tmp_path / "b"), "--steps", "4", "--resume",
                 "--no-progress"]) == 0
    whole, resumed = losses(tmp_path / "a" / "log.csv"), losses(tmp_path / "b" / "log.csv")
    assert len(whole) == 4 and resumed == whole


def test_batches_carry_tokens_specs_and_groups():
    tokenizer = Tokenizer.from_world()
    clips = BouncingShapes(length=4, num_frames=4, height=16, width=16, seed=0)
    items = [clips[0], clips[1], clips[0]]  # a duplicate canonical caption
    batch = collate_captioned_clips(items, tokenizer)
    assert batch["video"].shape == (3, 4, 3, 16, 16) and batch["video"].min() >= -1 and batch["video"].max() <= 1
    assert batch["video"].min() < -0.5  # [-1, 1], not [0, 1]
    assert batch["ids"].shape == batch["mask"].shape == (3, tokenizer.context_length)
    assert tokenizer.decode(batch["ids"]) == [item["caption"] for item in items]
    assert batch["spec"] == [item["spec"] for item in items] and batch["groups"].tolist() == [0, 1, 0]
    assert batch_groups(["x", "y", "y", "z", "x"]).tolist() == [0, 1, 1, 2, 0]


def test_mixed_captions_choose_per_item_and_keep_the_scene():
    clips = BouncingShapes(length=40, num_frames=4, height=16, width=16, seed=3)
    always, never = MixedCaptions(clips, 1.0, seed=3), MixedCaptions(clips, 0.0, seed=3)
    half = MixedCaptions(clips, 0.5, seed=3)
    assert all(always[i]["caption"] == clips[i]["spec"] for i in range(40))
    assert all(never[i]["caption"] == clips[i]["caption"] for i in range(40))
    canonical = [half[i]["caption"] == half[i]["spec"] for i in range(40)]
    assert 8 < sum(canonical) < 32  # both kinds, about half each
    assert [half[i]["caption"] for i in range(40)] == [half[i]["caption"] for i in range(40)]  # fixed per item
    assert torch.equal(half[5]["video"], clips[5]["video"]) and parse_caption(half[5]["spec"])
    with pytest.raises(ValueError, match=r"canonical_prob must be a probability in \[0, 1\], got 1.5"):
        MixedCaptions(clips, 1.5, seed=0)


def test_the_loss_masks_duplicates_and_logs_in_batch_accuracy():
    recipe = get_recipe("text-encoder")
    options = recipe_options(recipe, fast=True)
    tokenizer = Tokenizer.from_world()
    clips = BouncingShapes(length=4, num_frames=4, height=16, width=16, seed=0)
    batch = collate_captioned_clips([clips[0], clips[1], clips[0], clips[2]], tokenizer)
    results = {}
    for mask_duplicates in (True, False):
        torch.manual_seed(0)
        run = recipe.build(dataclasses.replace(options, mask_duplicates=mask_duplicates), "cpu")
        out = run.loss_fn(run.model, batch)
        assert set(out) == {"loss", "accuracy", "logit_scale"}
        results[mask_duplicates] = out["loss"].item()
        with torch.no_grad():
            emb = run.model(batch["video"], batch["ids"], batch["mask"])
        groups = batch["groups"] if mask_duplicates else None
        assert out["loss"].item() == pytest.approx(clip_loss(*emb, groups=groups).item(), rel=1e-5)
    assert results[True] != pytest.approx(results[False])
    # In-batch accuracy: a hit is any clip of the caption's group, both directions averaged.
    emb = torch.eye(4)
    assert in_batch_accuracy(emb, emb, torch.arange(4)).item() == 1.0
    swapped = emb[[1, 0, 2, 3]]  # captions 0 and 1 find each other's clips
    assert in_batch_accuracy(emb, swapped, torch.arange(4)).item() == 0.5
    assert in_batch_accuracy(emb, swapped, torch.tensor([0, 0, 1, 2])).item() == 1.0  # same group: hits


@pytest.mark.parametrize("setting, message", [
    ("preset=huge", "unknown CLIP preset 'huge'"),
    ("frames=5", "frames=5, size=16 do not fit the 'tiny' video tower: .*num_frames=5"),
    ("size=12", "frames=4, size=12 do not fit the 'tiny' video tower"),
    ("canonical_prob=1.5", r"canonical_prob must be a probability in \[0, 1\]"),
    ("eval_clips=1", "eval_clips must be an int >= 2"),
    ("batch_size=64", "batch_size=64 x 1 rank\\(s\\) is more than the 32 samples"),
])
def test_clear_errors(tmp_path, fast, capsys, setting, message):
    assert main(["train", "text-encoder", "--out", str(tmp_path / "run"), "--set", setting, "--no-progress"]) == 2
    assert re.search(message, capsys.readouterr().err)


def test_the_full_options_are_the_recommended_run():
    options = recipe_options(get_recipe("text-encoder"), fast=False)
    assert (options.preset, options.frames, options.size, options.batch_size) == ("small", 16, 32, 32)
    assert options.canonical_prob == 0.5 and options.mask_duplicates and options.eval_clips == 256
    assert options.train.ema_decay is None and options.train.schedule == "constant" and options.train.steps == 3_000
