"""minisora.train: EMA and the denoiser training loop."""

import pytest
import torch

from minisora.diffusion import NoiseProcess, make_schedule
from minisora.models import UNET_PRESETS, UNet
from minisora.train import EMA, train_denoiser


def test_ema_follows_the_average():
    model = torch.nn.Linear(2, 1, bias=False)
    torch.nn.init.zeros_(model.weight)
    ema = EMA(model, decay=0.5)
    for _ in range(20):
        with torch.no_grad():
            model.weight.fill_(1.0)
        ema.update()
    # With decay capped at 0.5 the average approaches 1 geometrically.
    assert 0.999 < ema.model.weight.min().item() < 1.0
    assert not ema.model.weight.requires_grad
    with pytest.raises(ValueError, match="decay"):
        EMA(model, decay=1.0)


def test_train_denoiser_lowers_the_loss_and_continues():
    torch.manual_seed(0)
    data = torch.zeros(64, 3, 8, 8)
    data[:, 0, 2:6, 2:6] = 1.0  # one red square: an easy distribution
    data = data * 2 - 1
    labels = torch.zeros(64, 2, dtype=torch.long)
    model = UNet(UNET_PRESETS["tiny"], num_classes=(8, 3))
    process = NoiseProcess(make_schedule("linear", 1000))
    history = train_denoiser(model, data, process, 60, labels=labels, batch_size=16, lr=2e-3, warmup=5, progress=False)
    assert len(history.losses) == 60 and history.seconds > 0
    first, last = sum(history.losses[:10]) / 10, sum(history.losses[-10:]) / 10
    assert last < 0.7 * first  # ε-prediction starts at loss ≈ 1 (the output layer is zero)
    again = train_denoiser(model, data, process, 5, labels=labels, batch_size=16, history=history, progress=False)
    assert again is history and len(history.losses) == 65 and history.ema.num_updates == 65


def test_train_denoiser_errors():
    model = UNet(UNET_PRESETS["tiny"])
    process = NoiseProcess()
    with pytest.raises(ValueError, match="labels"):
        train_denoiser(model, torch.zeros(8, 3, 8, 8), process, 1, labels=torch.zeros(4, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="batch_size"):
        train_denoiser(model, torch.zeros(8, 3, 8, 8), process, 1, batch_size=16)


def test_train_vae_lowers_the_reconstruction_loss_and_checks_its_input():
    from minisora.models import VAE, VAE_PRESETS
    from minisora.train import clip_frames, reconstruct_videos, train_vae

    torch.manual_seed(0)
    frames, specs = clip_frames(6, 16, seed=1)
    assert frames.shape == (48, 3, 16, 16) and len(specs) == 6 and -1 <= frames.min() and frames.max() <= 1
    vae = VAE(VAE_PRESETS["tiny"])
    losses = train_vae(vae, frames, 60, batch_size=16, progress=False)
    assert len(losses) == 60 and sum(losses[-10:]) < 0.7 * sum(losses[:10]) and not vae.training
    videos = (frames[:16].reshape(2, 8, 3, 16, 16) + 1) / 2
    assert reconstruct_videos(vae, videos).shape == videos.shape
    with pytest.raises(ValueError, match="batch_size"):
        train_vae(vae, frames, 5, batch_size=100)
