"""Checkpoints (minisora.core.checkpoint) and load_model (minisora.models.loading): round trips and clear errors."""

import os
import stat

import pytest
import torch

from minisora.core import data_file, read_checkpoint, save_checkpoint
from minisora.models import DIT_PRESETS, UNET_PRESETS, VAE, VAE_PRESETS, DiT, UNet, load_model


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


def test_a_process_killed_in_the_middle_of_a_save_leaves_the_previous_checkpoint_loadable(tmp_path):
    """Really SIGKILL a process while it writes a large checkpoint over a good one."""
    import os
    import signal
    import subprocess
    import sys
    import time

    path = tmp_path / "model.pt"
    script = f"""
import sys, torch
from minisora.core import save_checkpoint
from minisora.models import VAE, VAE_PRESETS
vae = VAE(VAE_PRESETS["tiny"])
save_checkpoint({str(path)!r}, vae, version="good")
print("saved", flush=True)
vae.register_buffer("payload", torch.ones(2**27))  # 512 MB: long enough to write that the kill lands mid-save
save_checkpoint({str(path)!r}, vae, version="new")
"""
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "saved"
        deadline = time.monotonic() + 120
        while not list(tmp_path.glob(".model.pt.*.tmp")):  # the second save has started writing
            assert time.monotonic() < deadline and process.poll() is None, "the second save never started"
            time.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL
    assert read_checkpoint(path)["metadata"] == {"version": "good"}  # the old file, whole
    assert load_model(path, expect=VAE).config == VAE_PRESETS["tiny"]


def test_the_registry_rebuilds_any_layers_networks_and_names_unknown_ones(tmp_path):
    from dataclasses import dataclass

    from minisora.core import register_network, registered_networks

    @dataclass
    class TinyConfig:
        width: int = 3

    class Tiny(torch.nn.Module):
        def __init__(self, config=None):
            super().__init__()
            self.config = config or TinyConfig()
            self.linear = torch.nn.Linear(self.config.width, 1)

    register_network(Tiny, TinyConfig)
    assert register_network(Tiny, TinyConfig) is Tiny  # the same pair again is harmless
    assert {"DiT", "UNet", "VAE", "ViT", "ViViT", "Tiny"} <= set(registered_networks())
    loaded = load_model(save_checkpoint(tmp_path / "t.pt", Tiny(TinyConfig(width=5))))
    assert type(loaded) is Tiny and loaded.config.width == 5
    with pytest.raises(ValueError, match="already registered as 'Tiny'"):
        register_network(type("Tiny", (torch.nn.Module,), {}), TinyConfig)
    with pytest.raises(ValueError, match="is not a dataclass"):
        register_network(Tiny, int)
    checkpoint = read_checkpoint(tmp_path / "t.pt")
    checkpoint["class"] = "Nothing"
    torch.save(checkpoint, tmp_path / "n.pt")
    with pytest.raises(ValueError, match="no network is registered as 'Nothing'; known: .*'DiT'"):
        load_model(tmp_path / "n.pt")
    with pytest.raises(ValueError, match="expect must be a network class"):
        load_model(tmp_path / "t.pt", expect="VAE")
    with pytest.raises(ValueError, match="holds no EMA weights"):
        load_model(tmp_path / "t.pt", ema=True)


def test_atomic_save_refuses_folders_and_unwritable_places(tmp_path):
    from minisora.core import atomic_save

    with pytest.raises(ValueError, match="is a folder"):
        atomic_save({"a": 1}, tmp_path)
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="cannot create the folder"):
        atomic_save({"a": 1}, tmp_path / "file" / "x.pt")
    assert not list(tmp_path.glob(".*.tmp"))


def test_atomic_save_gives_the_file_the_usual_mode_not_a_private_one(tmp_path):
    from minisora.core import atomic_save

    path = atomic_save({"a": 1}, tmp_path / "x.pt")
    (tmp_path / "plain").write_text("")  # the mode any new file gets under this process's umask
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == stat.S_IMODE((tmp_path / "plain").stat().st_mode)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask  # not mkstemp's 0600 (unless the umask is 077)
