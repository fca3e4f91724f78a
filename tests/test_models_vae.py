"""minisora.models.vae: shapes (frames and videos), the Gaussian posterior, the loss, the latent shift and
scale (and the shipped checkpoint's older layout), errors."""

import math

import pytest
import torch

from minisora.core import data_file, read_checkpoint, save_checkpoint, to_model_range
from minisora.data import render
from minisora.models import VAE, VAE_PRESETS, DiagonalGaussian, VAEConfig, load_model, vae_loss

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
    assert "scaling_factor" in vae.state_dict() and vae.shift_factor.item() == 0


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
    with pytest.raises(ValueError, match=r"expected frames \(B, 3, H, W\) or videos \(B, F, 3, H, W\), got "
                                         r"\(1, 3, 16, 32, 32\); is it Conv3d's \(B, C, F, H, W\)\?"):
        vae.encode(torch.zeros(1, 3, 16, 32, 32))
    with pytest.raises(ValueError, match=r"expected frames .* got \(3, 32, 32\)"):
        vae.encode(torch.zeros(3, 32, 32))
    with pytest.raises(ValueError, match="x must be a tensor"):
        vae.encode([[0.0]])
    with pytest.raises(ValueError, match=r"width=30 is not divisible"):
        vae.encode(torch.zeros(1, 2, 3, 32, 30))
    with pytest.raises(ValueError, match=r"expected latents \(B, 4, h, w\) or \(B, F, 4, h, w\), got \(1, 3, 8, 8\)"):
        vae.decode(torch.zeros(1, 3, 8, 8))
    with pytest.raises(ValueError, match=r"expected latents .* got \(4, 8, 8\)"):
        vae.decode(torch.zeros(4, 8, 8))
    with pytest.raises(ValueError, match="posterior takes frames.*rearrange"):
        vae.posterior(torch.zeros(1, 2, 3, 32, 32))
    with pytest.raises(ValueError, match="num_groups"):
        VAEConfig(base_channels=12)


PARAMETER_COUNTS = {"tiny": 167_867, "f4": 242_235, "f8": 3_012_019}


@pytest.mark.parametrize("preset", sorted(PARAMETER_COUNTS))
def test_preset_parameter_counts(preset):
    assert sum(p.numel() for p in VAE(VAE_PRESETS[preset]).parameters()) == PARAMETER_COUNTS[preset]


def test_videos_are_coded_frame_by_frame():
    torch.manual_seed(0)
    vae = VAE(TINY).eval()
    vae.fit_shift_and_scale(torch.rand(8, 3, 16, 16) * 2 - 1, per_channel=True)
    video = torch.rand(2, 3, 3, 16, 8) * 2 - 1  # (B, F, C, H, W)
    latent = vae.encode(video)
    assert latent.shape == (2, 3, *vae.latent_shape(16, 8)) == (2, *vae.latent_shape(3, 16, 8))
    assert torch.allclose(latent[1, 2], vae.encode(video[1, 2][None])[0], atol=1e-5)  # the same as one frame alone
    decoded = vae.decode(latent)
    assert decoded.shape == video.shape
    assert torch.allclose(decoded[0, 1], vae.decode(latent[0, 1][None])[0], atol=1e-5)
    drawn = vae.encode(video, sample=True, generator=torch.Generator().manual_seed(0))
    assert drawn.shape == latent.shape and not torch.allclose(drawn, latent)


def test_latent_shape_of_frames_and_videos_and_its_errors():
    vae = VAE(VAE_PRESETS["f4"])
    assert vae.latent_shape(32, 48) == (4, 8, 12)  # lesson 03's form: one frame
    assert vae.latent_shape(16, 32, 48) == (16, 4, 8, 12)  # the shared interface: (num_frames, height, width)
    with pytest.raises(ValueError, match=r"takes \(num_frames, height, width\) or \(height, width\), got \(32,\)"):
        vae.latent_shape(32)
    with pytest.raises(ValueError, match="num_frames must be a positive int, got 0"):
        vae.latent_shape(0, 32, 32)
    with pytest.raises(ValueError, match="height must be a positive int, got 32.0"):
        vae.latent_shape(32.0, 32)
    with pytest.raises(ValueError, match="width=30 is not divisible by the VAE's factor 4; use 28 or 32"):
        vae.latent_shape(8, 32, 30)


@pytest.mark.parametrize("per_channel", [False, True])
def test_fit_shift_and_scale_gives_mean_zero_std_one_and_decode_undoes_it(per_channel):
    torch.manual_seed(0)
    vae = VAE(TINY).eval()
    x = torch.rand(6, 2, 3, 16, 16) * 2 - 1  # videos: 12 frames
    shift, scale = vae.fit_shift_and_scale(x, per_channel=per_channel, batch_size=5)
    assert shift.shape == scale.shape == ((4,) if per_channel else ())
    assert torch.equal(shift, vae.shift_factor) and torch.equal(scale, vae.scaling_factor)
    latent = vae.encode(x)  # (6, 2, 4, 8, 8)
    per = latent.transpose(0, 2).flatten(1) if per_channel else latent.reshape(1, -1)  # (C_lat or 1, n)
    assert torch.allclose(per.mean(dim=1), torch.zeros(len(per)), atol=1e-5)
    assert torch.allclose(per.std(dim=1), torch.ones(len(per)), atol=1e-4)
    z = vae.posterior(x[0]).mode()  # the unshifted, unscaled latent
    assert torch.allclose(vae.decode(vae.encode(x[0])), vae.decoder(z), atol=1e-5)
    # Lesson 03's fit goes back to shift 0 and one scale.
    factor = vae.fit_scaling_factor(x)
    assert vae.shift_factor.shape == () and vae.shift_factor.item() == 0
    assert vae.scaling_factor.item() == pytest.approx(factor)


def test_fit_errors():
    vae = VAE(TINY)
    with pytest.raises(ValueError, match="per_channel must be True or False, got 'yes'"):
        vae.fit_shift_and_scale(torch.zeros(4, 3, 8, 8), per_channel="yes")
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 0"):
        vae.fit_scaling_factor(torch.zeros(4, 3, 8, 8), batch_size=0)
    with pytest.raises(ValueError, match=r"at least 2 frames, got x of shape \(1, 3, 8, 8\)"):
        vae.fit_shift_and_scale(torch.zeros(1, 3, 8, 8))
    with pytest.raises(ValueError, match="expected frames"):
        vae.fit_shift_and_scale(torch.zeros(4, 8, 8))


def test_per_channel_statistics_travel_with_the_weights(tmp_path):
    torch.manual_seed(0)
    vae = VAE(TINY).eval()
    vae.fit_shift_and_scale(torch.rand(8, 3, 16, 16) * 2 - 1, per_channel=True)
    fresh = VAE(TINY)  # holds 0-d statistics: the buffers take the saved (C_lat,) shape
    fresh.load_state_dict(vae.state_dict())
    assert torch.equal(fresh.shift_factor, vae.shift_factor) and torch.equal(fresh.scaling_factor, vae.scaling_factor)
    loaded = load_model(save_checkpoint(tmp_path / "v.pt", vae))
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    assert torch.equal(loaded.encode(x), vae.encode(x))
    # And back: per-channel buffers take a 0-d checkpoint's shape.
    loaded.load_state_dict(VAE(TINY).state_dict())
    assert loaded.scaling_factor.shape == () and loaded.shift_factor.shape == ()
    wrong = vae.state_dict()
    wrong["scaling_factor"] = torch.ones(3)  # neither one number nor one per latent channel
    with pytest.raises(RuntimeError, match="size mismatch for scaling_factor"):
        VAE(TINY).load_state_dict(wrong)


def test_a_checkpoint_from_before_the_shift_loads_with_shift_zero(tmp_path):
    torch.manual_seed(0)
    old = VAE(TINY).state_dict()
    del old["shift_factor"]  # the layout before issue 12: a 0-d scaling_factor alone
    old["scaling_factor"] = torch.tensor(0.5)
    vae = VAE(TINY)
    vae.load_state_dict(old)  # strict: nothing missing, nothing unexpected
    assert vae.shift_factor.item() == 0 and vae.scaling_factor.item() == 0.5
    del old["scaling_factor"]  # with no statistics at all it is not that layout: an error, as for any missing key
    with pytest.raises(RuntimeError, match="Missing key.*scaling_factor"):
        VAE(TINY).load_state_dict(old)


def test_the_shipped_vae_loads_and_encodes_as_before():
    path = data_file("vae_f4_32px.pt")
    saved = read_checkpoint(path)["state_dict"]
    assert "shift_factor" not in saved and saved["scaling_factor"].shape == ()  # written before issue 12
    vae = load_model(path, expect=VAE)
    assert vae.shift_factor.item() == 0 and vae.scaling_factor.item() == pytest.approx(0.9581, abs=1e-4)
    x = to_model_range(render("a large red circle bouncing and a small blue square moving right", num_frames=4).video)
    with torch.no_grad():
        latent = vae.encode(x)  # (4, 4, 8, 8)
        expected = vae.posterior(x).mode() * saved["scaling_factor"]  # what encode computed before issue 12
    assert torch.allclose(latent, expected, atol=1e-6)
    # Numbers the code before issue 12 printed for this input (main at e7d25f1).
    assert latent.mean().item() == pytest.approx(-0.06318, abs=1e-4)
    assert latent.abs().sum().item() == pytest.approx(798.05, rel=1e-4)
    assert torch.allclose(latent[0, :, 3, 3], torch.tensor([0.27923, -0.26882, -0.63798, 1.12467]), atol=1e-4)


def test_a_refit_of_the_same_shape_updates_the_buffers_in_place():
    torch.manual_seed(0)
    vae = VAE(TINY).eval()
    x = torch.rand(4, 3, 16, 16) * 2 - 1
    held = vae.scaling_factor  # e.g. DDP keeps references to a module's buffers
    factor = vae.fit_scaling_factor(x)
    assert vae.scaling_factor is held and held.item() == pytest.approx(factor)
    vae.fit_shift_and_scale(x, per_channel=True)  # a new shape: new buffers
    per_channel = vae.scaling_factor
    vae.fit_shift_and_scale(x * 0.5, per_channel=True)
    assert vae.scaling_factor is per_channel and vae.scaling_factor.shape == (4,)
