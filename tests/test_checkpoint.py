"""Checkpoints (minisora.core.checkpoint) and load_model (minisora.models.loading): round trips and clear errors."""

import pytest
import torch

from minisora.core import data_file, read_checkpoint, save_checkpoint
from minisora.models import DIT_PRESETS, VAE, VAE_PRESETS, DiT, UNet, UNET_PRESETS, load_model


@pytest.mark.parametrize("build", [lambda: DiT(DIT_PRESETS["mini/2"], input_size=8, num_classes=(8, 3), depth=1),
                                   lambda: VAE(VAE_PRESETS["tiny"]),
                                   lambda: UNet(UNET_PRESETS["tiny"], num_classes=(8, 3))])
def test_a_saved_network_comes_back_with_its_config_weights_and_metadata(tmp_path, build):
    torch.manual_seed(0)
    model = build()
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.05)
    path = save_checkpoint(tmp_path / "sub" / "model.pt", model, steps=7, note="hello", scores={"color": 0.5})
    loaded = load_model(path, expect=type(model))
    assert loaded.config == model.config and not loaded.training
    assert loaded.checkpoint_metadata == {"steps": 7, "note": "hello", "scores": {"color": 0.5}}
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), name


def test_buffers_travel_too(tmp_path):
    vae = VAE(VAE_PRESETS["tiny"])
    vae.scaling_factor.fill_(0.25)
    assert load_model(save_checkpoint(tmp_path / "v.pt", vae)).scaling_factor.item() == 0.25


def test_clear_errors(tmp_path):
    vae_path = save_checkpoint(tmp_path / "v.pt", VAE(VAE_PRESETS["tiny"]))
    with pytest.raises(ValueError, match="holds a VAE, not a DiT"):
        load_model(vae_path, expect=DiT)
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        read_checkpoint(tmp_path / "missing.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "plain.pt")
    with pytest.raises(ValueError, match="not a minisora checkpoint"):
        read_checkpoint(tmp_path / "plain.pt")
    (tmp_path / "text.pt").write_text("not a tensor file")
    with pytest.raises(ValueError, match="weights_only=True"):
        read_checkpoint(tmp_path / "text.pt")
    with pytest.raises(ValueError, match="no dataclass .config"):
        save_checkpoint(tmp_path / "x.pt", torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match=r"metadata \['versions'\]\[0\] is a TorchVersion"):
        save_checkpoint(tmp_path / "x.pt", VAE(VAE_PRESETS["tiny"]), versions=[torch.__version__])
    checkpoint = read_checkpoint(vae_path)
    del checkpoint["state_dict"]["scaling_factor"]
    torch.save(checkpoint, tmp_path / "edited.pt")
    with pytest.raises(ValueError, match="do not fit a VAE"):
        load_model(tmp_path / "edited.pt")


def test_data_file_finds_shipped_files_and_says_where_it_looked(tmp_path, monkeypatch):
    assert data_file("vae_f4_32px.pt").parent.name == "data"  # the VAE the repository ships
    save_checkpoint(tmp_path / "mine.pt", VAE(VAE_PRESETS["tiny"]))
    monkeypatch.setenv("MINISORA_DATA", str(tmp_path))
    assert data_file("mine.pt") == (tmp_path / "mine.pt").resolve()
    with pytest.raises(FileNotFoundError, match="not in any data folder.*MINISORA_DATA"):
        data_file("nothing.pt")
