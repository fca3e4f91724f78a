"""minisora.models.vae: shapes, the Gaussian posterior, the loss, the latent scale, errors."""

import math

import pytest
import torch

from minisora.models import VAE, VAE_PRESETS, DiagonalGaussian, VAEConfig, vae_loss

TINY = VAE_PRESETS["tiny"]


@pytest.mark.parametrize("preset, size", [("tiny", (16, 16)), ("tiny", (8, 24)), ("f4", (32, 32)), ("f4", (16, 40))])
def test_encode_decode_shapes(preset, size):
    vae = VAE(VAE_PRESETS[preset]).eval()
    f, c = vae.config.factor, vae.config.latent_channels
    x = torch.rand(2, 3, *size) * 2 - 1
    z = vae.encode(x)
    assert z.shape == (2, c, size[0] // f, size[1] // f) == (2, *vae.latent_shape(*size))
    assert vae.decode(z).shape == x.shape
    reconstruction, q = vae(x)
    assert reconstruction.shape == x.shape and q.mean.shape == z.shape


def test_factors():
    assert VAE_PRESETS["tiny"].factor == 2 and VAE_PRESETS["f4"].factor == 4 and VAE_PRESETS["f8"].factor == 8


def test_gaussian_kl_closed_form_and_sampling():
    moments = torch.zeros(1, 2, 1, 1)
    moments[0, 0] = 1.0  # μ = 1
    moments[0, 1] = math.log(4.0)  # σ² = 4
    q = DiagonalGaussian(moments)
    assert torch.allclose(q.kl(), torch.tensor([0.5 * (1 + 4 - 1 - math.log(4))]))
    assert q.kl().shape == (1,)
    big = DiagonalGaussian(moments.expand(20000, 2, 1, 1))
    draws = big.sample(torch.Generator().manual_seed(0))
    assert abs(draws.mean() - 1) < 0.05 and abs(draws.std() - 2) < 0.05
    assert torch.equal(big.mode(), big.mean)


def test_scaling_factor_gives_unit_std_and_round_trips():
    torch.manual_seed(0)
    vae = VAE(TINY).eval()
    x = torch.rand(16, 3, 16, 16) * 2 - 1
    factor = vae.fit_scaling_factor(x, batch_size=5)
    assert abs(vae.encode(x).std().item() - 1) < 1e-4 and factor == pytest.approx(vae.scaling_factor.item())
    # decode undoes the scale: decoding the scaled mean equals the decoder on the unscaled mean.
    assert torch.allclose(vae.decode(vae.encode(x)), vae.decoder(vae.posterior(x).mode()), atol=1e-5)
    assert "scaling_factor" in vae.state_dict()


def test_object_weight_counts_object_pixels_more():
    torch.manual_seed(0)
    vae = VAE(TINY)
    x = -torch.ones(4, 3, 16, 16)
    x[:, 0, 4:8, 4:8] = 1.0  # a red square on black
    g = lambda: torch.Generator().manual_seed(1)  # noqa: E731 - the same latent draw for both losses
    plain = vae_loss(vae, x, object_weight=0.0, generator=g())
    weighted = vae_loss(vae, x, object_weight=10.0, generator=g())
    assert weighted["reconstruction"] > plain["reconstruction"]
    assert torch.equal(weighted["kl"], plain["kl"])


def test_clear_errors():
    vae = VAE(VAE_PRESETS["f4"])
    with pytest.raises(ValueError, match="height=30 is not divisible by the VAE's factor 4; use 28 or 32"):
        vae.encode(torch.zeros(1, 3, 30, 32))
    with pytest.raises(ValueError, match="fold the frames into the batch"):
        vae.encode(torch.zeros(1, 16, 3, 32, 32))
    with pytest.raises(ValueError, match="expected latents"):
        vae.decode(torch.zeros(1, 3, 8, 8))
    with pytest.raises(ValueError, match="num_groups"):
        VAEConfig(base_channels=12)


PARAMETER_COUNTS = {"tiny": 167_867, "f4": 242_235, "f8": 3_012_019}


@pytest.mark.parametrize("preset", sorted(PARAMETER_COUNTS))
def test_preset_parameter_counts(preset):
    assert sum(p.numel() for p in VAE(VAE_PRESETS[preset]).parameters()) == PARAMETER_COUNTS[preset]
