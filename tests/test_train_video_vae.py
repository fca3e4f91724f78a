"""The `video-vae` recipe through `minisora train` (fast mode: seconds), its gate in the checkpoint, its errors;
the gate helpers on any autoencoder."""

import csv
import math
import re

import pytest
import torch

from minisora.cli import main
from minisora.models import (
    VAE,
    VAE_PRESETS,
    VIDEO_VAE_PRESETS,
    CausalVideoVAE,
    load_model,
)
from minisora.train import gate_passes, psnr, reconstruct_videos
from minisora.train.recipes import get_recipe, recipe_options


@pytest.fixture
def fast(monkeypatch):
    monkeypatch.setenv("MINISORA_FAST", "1")
    monkeypatch.setattr("minisora.train.run.FAST", True)


def test_fast_run_writes_its_log_and_a_checkpoint_with_the_gate(tmp_path, fast, capsys):
    out = tmp_path / "run"
    assert main(["train", "video-vae", "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "CausalVideoVAE tiny" in printed and "PSNR" in printed and "gate (match and motion within 0.05)" in printed
    with open(out / "log.csv") as file:
        rows = list(csv.reader(file))
    assert rows[0][:2] == ["step", "loss"] and len(rows) == 1 + 3  # fast mode: 3 steps
    vae = load_model(out / "last.pt", expect=CausalVideoVAE)
    meta = vae.checkpoint_metadata
    assert meta["recipe"] == "video-vae" and meta["fast"] is True and meta["step"] == 3
    for key in ("original", "reconstructed"):
        assert {"match", "motion", "color", "n"} <= set(meta["gate"][key]) and meta["gate"][key]["n"] == 2
    assert isinstance(meta["gate_passed"], bool) and meta["gate_passed"] == gate_passes(meta["gate"])
    assert math.isfinite(meta["psnr"]) and meta["latent_shape"] == [3, 4, 8, 8] and meta["final_loss_steps"] == 3
    # The latent statistics were fitted at the end and travel with the weights.
    assert torch.allclose(vae.shift_factor, torch.tensor(meta["shift_factor"]))
    assert torch.allclose(vae.scaling_factor, torch.tensor(meta["scaling_factor"]))
    assert not torch.equal(vae.scaling_factor, torch.ones(4))


def test_with_an_ema_the_gated_copy_is_the_one_that_loads(tmp_path, fast):
    assert main(["train", "video-vae", "--out", str(tmp_path / "run"), "--set", "ema_decay=0.5", "--no-progress"]) == 0
    ema = load_model(tmp_path / "run" / "last.pt")  # the EMA, which the gate scored
    raw = load_model(tmp_path / "run" / "last.pt", ema=False)
    meta = ema.checkpoint_metadata
    for vae in (ema, raw):  # both carry the statistics fitted at the end
        assert torch.allclose(vae.scaling_factor, torch.tensor(meta["scaling_factor"]))
    assert any((p - q).abs().max() > 0 for p, q in zip(ema.parameters(), raw.parameters()))


@pytest.mark.parametrize("settings, network, origin", [
    # The shipped 2-D VAE inflated into the recommended preset (one step on 5-frame clips).
    (["preset=f4t4", "init_from=vae_f4_32px.pt", "size=32", "batch_size=1", "steps=1"], CausalVideoVAE,
     "inflated (tail) from vae_f4_32px.pt"),
    # The per-frame design: the shipped VAE gated on clips as it is (no steps).
    (["design=per-frame", "preset=f4", "init_from=vae_f4_32px.pt", "size=32", "steps=0"], VAE,
     "continued from vae_f4_32px.pt"),
])
def test_both_designs_start_from_the_shipped_vae(tmp_path, fast, settings, network, origin):
    argv = ["train", "video-vae", "--out", str(tmp_path / "run"), "--no-progress"]
    for setting in settings:
        argv += ["--set", setting]
    assert main(argv) == 0
    vae = load_model(tmp_path / "run" / "last.pt")
    assert type(vae) is network and vae.checkpoint_metadata["origin"] == origin
    assert vae.checkpoint_metadata["latent_shape"][1:] == [4, 8, 8]


@pytest.mark.parametrize("setting, message", [
    ("design=gan", "unknown design 'gan'"),
    ("preset=f4t8", "unknown video VAE preset 'f4t8'"),
    ("frames=16", "num_frames=16 is not 1 \\+ a multiple of the temporal factor 2 .*; use num_frames=15 or 17"),
    ("temporal_factor=4", "temporal_factor must be a power of 2 from 1 to the spatial factor 2"),
    ("size=15", "height=15 is not divisible by the VAE's factor 2; use 14 or 16"),
    ("fit_clips=100", "fit_clips=100 is more than the 16 training clips"),
])
def test_clear_errors(tmp_path, fast, capsys, setting, message):
    assert main(["train", "video-vae", "--out", str(tmp_path / "run"), "--set", setting, "--no-progress"]) == 2
    assert re.search(message, capsys.readouterr().err)


def test_per_frame_design_refuses_a_temporal_factor(tmp_path, fast, capsys):
    argv = ["train", "video-vae", "--out", str(tmp_path / "run"), "--set", "design=per-frame", "--set",
            "temporal_factor=2"]
    assert main(argv) == 2
    assert "temporal_factor is for design 'causal'" in capsys.readouterr().err


def test_the_full_options_are_the_recommended_run():
    options = recipe_options(get_recipe("video-vae"), fast=False)
    assert (options.design, options.preset, options.frames, options.size) == ("causal", None, 17, 32)
    assert options.init_from == "vae_f4_32px.pt" and options.inflation == "tail" and options.train.ema_decay is None
    assert options.train.lr == 2e-4 and options.gate_clips == 100


def test_gate_helpers_on_both_designs():
    videos = torch.rand(2, 5, 3, 8, 8)
    for vae in (VAE(VAE_PRESETS["tiny"]).eval(), CausalVideoVAE(VIDEO_VAE_PRESETS["tiny"]).eval()):
        assert reconstruct_videos(vae, videos, batch_size=5).shape == videos.shape  # one clip per call
    scores = {"original": {"match": 0.9, "motion": 1.0}, "reconstructed": {"match": 0.86, "motion": 95 / 100}}
    assert gate_passes(scores) and not gate_passes(scores, tolerance=0.01)
    assert gate_passes(scores, attributes=("match",))
    scores["reconstructed"]["motion"] = 0.9
    assert not gate_passes(scores)
    assert psnr(torch.zeros(2, 3), torch.full((2, 3), 0.1)) == pytest.approx(20.0)
    assert psnr(videos, videos) == math.inf
    with pytest.raises(ValueError, match="differ"):
        psnr(videos, videos[:1])
    with pytest.raises(ValueError, match=r"videos must be a tensor \(B, F, 3, H, W\)"):
        reconstruct_videos(CausalVideoVAE(VIDEO_VAE_PRESETS["tiny"]), videos[0])
