"""`minisora export`: a run's EMA (or raw weights) and metadata as one model file; refusals by name."""

import pytest
import torch

from minisora.cli import main
from minisora.core import read_checkpoint, save_checkpoint
from minisora.models import VAE, load_model
from minisora.train.export import export_model
from minisora.train.run import train_recipe

# The `vae` recipe at fast-mode sizes, but run as a full-mode run (fast runs are refused by export).
SMALL = {"clips": "8", "gate_clips": "2", "preset": "tiny", "size": "16", "batch_size": "4", "ema_decay": "0.9",
         "log_every": "1"}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "run"
    train_recipe("vae", out, steps=4, overrides=SMALL, progress=False, command="minisora train vae ...", fast=False)
    return out


def test_export_keeps_the_ema_and_the_run_metadata_and_is_smaller(run, tmp_path, capsys):
    assert main(["export", str(run), "--out", str(tmp_path / "vae.pt")]) == 0
    assert "wrote" in capsys.readouterr().out
    exported = read_checkpoint(tmp_path / "vae.pt")
    assert "training" not in exported and exported["metadata"]["weights"] == "ema"
    assert exported["metadata"]["step"] == 4 and exported["metadata"]["recipe"] == "vae"
    assert exported["metadata"]["command"] == "minisora train vae ..." and "gate" in exported["metadata"]
    assert exported["metadata"]["export_command"].startswith("minisora export")
    seconds = read_checkpoint(run / "last.pt")["training"]["seconds"]
    assert seconds > 0 and exported["metadata"]["train_seconds"] == seconds  # what the file cost to train
    assert (tmp_path / "vae.pt").stat().st_size < (run / "last.pt").stat().st_size / 2
    model, ema = load_model(tmp_path / "vae.pt", expect=VAE), load_model(run / "last.pt")
    raw = load_model(run / "last.pt", ema=False)
    assert all(torch.equal(p, q) for p, q in zip(model.state_dict().values(), ema.state_dict().values()))
    assert any(not torch.equal(p, q) for p, q in zip(model.parameters(), raw.parameters()))


def test_raw_exports_the_raw_weights(run, tmp_path):
    path = export_model(run / "last.pt", tmp_path / "raw.pt", ema=False)
    model, raw = load_model(path), load_model(run / "last.pt", ema=False)
    assert read_checkpoint(path)["metadata"]["weights"] == "raw"
    assert all(torch.equal(p, q) for p, q in zip(model.state_dict().values(), raw.state_dict().values()))


def test_refusals(run, tmp_path, capsys):
    (tmp_path / "taken.pt").write_bytes(b"keep me")
    (tmp_path / "empty").mkdir()
    model_file = save_checkpoint(tmp_path / "model.pt", load_model(run / "last.pt"))
    cases = [
        ([str(tmp_path / "nowhere")], "no run folder or checkpoint at"),
        ([str(tmp_path / "empty")], "a folder without a last.pt"),
        ([str(run), "--out", str(tmp_path / "taken.pt")], "exists; pass --force"),
        ([str(run), "--out", str(run / "last.pt"), "--force"], "the run's own checkpoint"),
        ([str(run), "--out", str(tmp_path / "vae.ckpt")], "should end in .pt"),
        ([str(model_file), "--out", str(tmp_path / "again.pt")], "holds no training state"),
    ]
    for argv, message in cases:
        if "--out" not in argv:
            argv = argv + ["--out", str(tmp_path / "x.pt")]
        assert main(["export", *argv]) == 2, argv
        assert message in capsys.readouterr().err, argv
    assert (tmp_path / "taken.pt").read_bytes() == b"keep me"  # nothing overwritten without --force
    assert main(["export", str(run), "--out", str(tmp_path / "taken.pt"), "--force"]) == 0


def test_a_fast_mode_run_is_not_exported(tmp_path):
    train_recipe("vae", tmp_path / "fast", steps=2, overrides={"gate_clips": "2"}, progress=False, fast=True)
    with pytest.raises(ValueError, match="fast-mode run"):
        export_model(tmp_path / "fast", tmp_path / "vae.pt")


def test_half_stores_float16_and_loads_back_into_float32(run, tmp_path):
    assert main(["export", str(run), "--out", str(tmp_path / "half.pt"), "--half"]) == 0
    assert main(["export", str(run), "--out", str(tmp_path / "full.pt")]) == 0
    half, full = read_checkpoint(tmp_path / "half.pt"), read_checkpoint(tmp_path / "full.pt")
    assert half["metadata"]["stored_as"] == "float16" and full["metadata"]["stored_as"] == "float32"
    floats = [k for k, v in full["state_dict"].items() if v.is_floating_point()]
    assert floats and all(half["state_dict"][k].dtype == torch.float16 for k in floats)
    assert (tmp_path / "half.pt").stat().st_size < 0.6 * (tmp_path / "full.pt").stat().st_size
    loaded, reference = load_model(tmp_path / "half.pt", expect=VAE), load_model(tmp_path / "full.pt", expect=VAE)
    for (name, p), q in zip(loaded.state_dict().items(), reference.state_dict().values()):
        assert p.dtype == q.dtype  # float32 again
        torch.testing.assert_close(p, q, rtol=2**-10, atol=1e-7, msg=name)
