"""Tests for the minisora command line."""

import pytest

from minisora.cli import DEMO_CAPTIONS, main
from minisora.core import read_video


def test_demo_writes_videos_and_captions(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--random", "1",
                 "--frames", "6", "--height", "32", "--width", "32"]) == 0
    written = sorted(tmp_path.glob("demo_*"))
    assert len(written) == 2 * (len(DEMO_CAPTIONS) + 1)
    video, fps = read_video(tmp_path / "demo_00.mp4")
    assert video.shape[0] == 6 and fps == pytest.approx(8)
    captions = (tmp_path / "captions.txt").read_text().splitlines()
    assert captions[0] == f"demo_00: {DEMO_CAPTIONS[0]}"


def test_render_command_and_a_clear_error(tmp_path, capsys):
    out = tmp_path / "red.gif"
    assert main(["render", "a small red circle moving left", "--out", str(out), "--frames", "4"]) == 0
    assert out.exists()
    assert main(["render", "a purple blob", "--out", str(tmp_path / "x.mp4")]) == 2
    assert "canonical form" in capsys.readouterr().err


def test_train_vae_writes_a_checkpoint_that_loads_with_its_command_and_gate(tmp_path, capsys):
    from minisora.models import VAE, load_model

    out = tmp_path / "vae.pt"
    argv = ["train-vae", "--out", str(out), "--preset", "tiny", "--size", "16", "--clips", "4", "--steps", "3",
            "--gate-clips", "2"]
    assert main(argv) == 0
    vae = load_model(out, expect=VAE)
    meta = vae.checkpoint_metadata
    assert meta["command"] == "minisora " + " ".join(argv) and meta["steps"] == 3
    assert set(meta["gate"]) == {"original", "reconstructed"} and 0 <= meta["gate"]["reconstructed"]["color"] <= 1
    assert vae.scaling_factor.item() != 1.0  # measured from the frames
    printed = capsys.readouterr().out
    assert "scaling_factor" in printed and "wrote" in printed
    assert main(["train-vae", "--out", str(out), "--preset", "f16"]) == 2
    assert "unknown VAE preset 'f16'" in capsys.readouterr().err
