"""`minisora train`: recipes, exact resume through the command line, clear errors; `python -m minisora`."""

import csv
import os
import subprocess
import sys

import pytest

from minisora.cli import main, parse_settings
from minisora.models import DiT, load_model
from minisora.train.recipes import RECIPES, get_recipe, recipe_options


def losses(path):
    rows = list(csv.reader(open(path)))
    assert rows[0] == ["step", "loss", "lr", "grad_norm", "samples_per_s"]
    return [row[:4] for row in rows[1:]]  # samples_per_s is a wall-clock rate


def test_dit_30_steps_equal_15_then_resumed_to_30_loss_for_loss(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MINISORA_FAST", "1")
    monkeypatch.setattr("minisora.train.run.FAST", True)
    assert main(["train", "dit", "--out", str(tmp_path / "a"), "--steps", "30", "--no-progress"]) == 0
    assert main(["train", "dit", "--out", str(tmp_path / "b"), "--steps", "15", "--no-progress"]) == 0
    assert len(losses(tmp_path / "b" / "log.csv")) == 15
    assert main(["train", "dit", "--out", str(tmp_path / "b"), "--steps", "30", "--resume", "--no-progress"]) == 0
    whole, resumed = losses(tmp_path / "a" / "log.csv"), losses(tmp_path / "b" / "log.csv")
    assert len(whole) == 30 and resumed == whole
    assert "resumed" in capsys.readouterr().out
    dit = load_model(tmp_path / "a" / "last.pt", expect=DiT)  # the EMA, ready to sample from
    raw = load_model(tmp_path / "a" / "last.pt", ema=False)
    assert dit.checkpoint_metadata["recipe"] == "dit" and dit.checkpoint_metadata["step"] == 30
    assert any((p - q).abs().max() > 0 for p, q in zip(dit.parameters(), raw.parameters()))


def test_list_names_every_recipe(capsys):
    assert main(["train", "--list"]) == 0
    printed = capsys.readouterr().out
    assert all(name in printed for name in RECIPES) and "lr" in printed and {"dit", "vae"} <= set(RECIPES)


def test_clear_errors(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("minisora.train.run.FAST", True)
    cases = [
        (["train", "gan", "--out", str(tmp_path / "x")], "unknown recipe 'gan'"),
        (["train"], "name a recipe"),
        (["train", "dit"], "--out DIR is required"),
        (["train", "dit", "--out", str(tmp_path / "x"), "--set", "lr"], "not KEY=VALUE"),
        (["train", "dit", "--out", str(tmp_path / "x"), "--set", "colour=red"], "no setting 'colour'"),
        (["train", "dit", "--out", str(tmp_path / "x"), "--set", "lr=fast"], "--set lr='fast': expected float"),
        (["train", "dit", "--out", str(tmp_path / "x"), "--set", "lr=1", "--set", "lr=2"], "given twice"),
        (["train", "dit", "--out", str(tmp_path / "x"), "--resume"], "does not exist; start the run without --resume"),
        (["train", "dit", "--out", str(tmp_path / "x"), "--set", "preset=Q/2", "--steps", "1"], "unknown DiT preset"),
    ]
    (tmp_path / "file").write_text("")
    cases.append((["train", "dit", "--out", str(tmp_path / "file")], "is a file"))
    cases.append((["train", "dit", "--out", str(tmp_path / "file" / "run")], "cannot create the folder"))
    for argv, message in cases:
        assert main(argv) == 2, argv
        assert message in capsys.readouterr().err, argv
    assert main(["train", "vae", "--out", str(tmp_path / "v"), "--steps", "2", "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["train", "vae", "--out", str(tmp_path / "v"), "--steps", "4"]) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert main(["train", "vae", "--out", str(tmp_path / "v"), "--steps", "4",
                 "--resume", "--set", "kl_weight=0.1"]) == 2
    assert "other options (kl_weight: 1e-06 in the checkpoint, 0.1 here)" in capsys.readouterr().err


def test_settings_parse_by_type():
    recipe = get_recipe("dit")
    options = recipe_options(recipe, fast=False, overrides={"lr": "3e-4", "depth": "None", "betas": "0.9,0.95",
                                                            "compile": "true", "preset": "S/2"})
    assert options.train.lr == 3e-4 and options.depth is None and options.train.betas == (0.9, 0.95)
    assert options.train.compile is True and options.preset == "S/2"
    with pytest.raises(ValueError, match="--set compile='maybe': expected bool"):
        recipe_options(recipe, fast=False, overrides={"compile": "maybe"})
    assert parse_settings(["a=1", "b = x=y"]) == {"a": "1", "b": "x=y"}


def test_vae_recipe_stores_its_gate_and_the_true_mean_of_its_last_losses(tmp_path, monkeypatch):
    monkeypatch.setattr("minisora.train.run.FAST", True)
    out = tmp_path / "vae.pt"
    assert main(["train-vae", "--out", str(out), "--preset", "tiny", "--size", "16", "--clips", "4", "--steps", "5",
                 "--gate-clips", "2"]) == 0
    meta = load_model(out).checkpoint_metadata
    assert meta["final_loss_steps"] == 5 and meta["final_loss"] > 0.05  # the mean of 5 steps, not their sum / 100


def test_python_dash_m_minisora_is_the_command(tmp_path):
    result = subprocess.run([sys.executable, "-m", "minisora", "train", "--list"], capture_output=True, text=True,
                            timeout=120, env={**os.environ, "MINISORA_FAST": "1"})
    assert result.returncode == 0 and "dit" in result.stdout and "vae" in result.stdout
