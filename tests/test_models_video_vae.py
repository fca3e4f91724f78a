"""minisora.models.video_vae: shapes at every valid frame count, the frame rule's errors, causality, tail inflation
equal to the 2-D VAE per frame, chunked = whole, latent statistics through a checkpoint, parameter counts, errors."""

import pytest
import torch

from minisora.blocks.causal_conv import CausalConv3d, inflate_conv_weight
from minisora.core import data_file, registered_networks, save_checkpoint
from minisora.models import (
    VAE,
    VAE_PRESETS,
    VIDEO_VAE_PRESETS,
    CausalVideoVAE,
    VAEConfig,
    VideoVAEConfig,
    inflate_vae,
    load_model,
    vae_loss,
)

# Three levels (f = 4, so time may shrink 4x) but few channels: fast on a CPU.
SMALL = {"base_channels": 8, "channel_mults": (1, 1, 1), "num_groups": 4, "num_heads": 2}
T4 = VideoVAEConfig(**SMALL, temporal_factor=4)
T2 = VideoVAEConfig(**SMALL, temporal_factor=2)
SMALL_2D = VAEConfig(**SMALL)


def video(frames: int, size: int = 8, batch: int = 2, seed: int = 0) -> torch.Tensor:
    return torch.rand(batch, frames, 3, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def model(config: VideoVAEConfig) -> CausalVideoVAE:
    torch.manual_seed(0)
    return CausalVideoVAE(config).eval()


@pytest.mark.parametrize("config, frames", [(T4, 1), (T4, 5), (T4, 9), (T4, 17), (T2, 1), (T2, 3), (T2, 5),
                                            (VIDEO_VAE_PRESETS["tiny"], 3)])
def test_round_trip_shapes_at_every_valid_frame_count(config, frames):
    vae = model(config)
    x = video(frames)
    z = vae.encode(x)
    latent_frames, h = 1 + (frames - 1) // config.temporal_factor, 8 // config.factor
    assert z.shape == (2, latent_frames, config.latent_channels, h, h) == (2, *vae.latent_shape(frames, 8, 8))
    assert vae.decode(z).shape == x.shape and vae.num_frames(latent_frames) == frames
    reconstruction, q = vae(x)
    assert reconstruction.shape == x.shape and q.mean.shape == (2 * latent_frames, config.latent_channels, h, h)


def test_the_per_frame_design_has_the_same_interface():
    vae = VAE(SMALL_2D).eval()
    x = video(5)
    z = vae.encode(x)
    assert z.shape == (2, 5, 4, 2, 2) == (2, *vae.latent_shape(5, 8, 8)) and vae.decode(z).shape == x.shape
    reconstruction, q = vae(x)  # videos through forward: the frames folded into the batch
    assert reconstruction.shape == x.shape and q.mean.shape == (10, 4, 2, 2)


def test_an_image_is_a_one_frame_video():
    vae = model(T4)
    x = video(1)
    image_latent = vae.encode(x[:, 0])  # (B, C, H, W) -> (B, C_lat, h, w)
    assert image_latent.shape == (2, 4, 2, 2) == (2, *vae.latent_shape(8, 8))
    assert torch.allclose(image_latent, vae.encode(x)[:, 0])
    assert torch.allclose(vae.decode(image_latent), vae.decode(vae.encode(x))[:, 0])


@pytest.mark.parametrize("config, frames, message", [
    (T4, 16, "num_frames=16 is not 1 \\+ a multiple of the temporal factor 4 .*; use num_frames=13 or 17"),
    (T4, 2, "use num_frames=1 or 5"),
    (T2, 4, "num_frames=4 is not 1 \\+ a multiple of the temporal factor 2 .*; use num_frames=3 or 5"),
])
def test_an_invalid_frame_count_names_the_nearest_valid_ones(config, frames, message):
    vae = model(config)
    with pytest.raises(ValueError, match=message):
        vae.encode(video(frames))
    with pytest.raises(ValueError, match=message):
        vae.latent_shape(frames, 8, 8)


@pytest.mark.parametrize("config", [T4, T2])
def test_no_latent_frame_sees_a_later_frame(config):
    """Changing frame k changes no latent frame before k's temporal block ceil(k / t), and does change that one."""
    vae, t = model(config), config.temporal_factor
    x = video(9, batch=1)
    base = vae.encode(x)
    for k in range(9):
        changed = x.clone()
        changed[:, k] += 0.5
        z = vae.encode(changed)
        block = -(-k // t)  # ceil(k / t): frame 0 -> latent 0, frames 1..t -> latent 1, ...
        assert torch.allclose(z[:, :block], base[:, :block], atol=1e-6), k
        assert (z[:, block] - base[:, block]).abs().max() > 1e-4, k


def test_no_decoded_frame_sees_a_later_latent():
    vae = model(T4)
    z = vae.encode(video(13, batch=1))
    base = vae.decode(z)
    for j in range(1, z.shape[1]):
        changed = z.clone()
        changed[:, j] += 1.0
        frames = vae.decode(changed)
        first = 1 + (j - 1) * 4  # latent j's block starts at frame (j - 1) t + 1
        assert torch.allclose(frames[:, :first], base[:, :first], atol=1e-6), j
        assert (frames[:, first] - base[:, first]).abs().max() > 1e-4, j


@pytest.mark.parametrize("temporal_factor, latent_channels", [(4, 4), (2, 4), (1, 4), (4, 6)])
def test_tail_inflation_starts_as_the_2d_vae_per_frame(temporal_factor, latent_channels):
    torch.manual_seed(0)
    vae2d = VAE(SMALL_2D).eval()
    vae3d = inflate_vae(vae2d, temporal_factor=temporal_factor, latent_channels=latent_channels).eval()
    x = video(9, batch=1)
    t = temporal_factor
    with torch.no_grad():
        latent3d = vae3d.posterior(x).mode()  # (F', C_lat, h, w)
        latent2d = vae2d.posterior(x[0, ::t]).mode()  # the 2-D latent of each block's last frame: 0, t, 2t, ...
        assert torch.allclose(latent3d[:, :4], latent2d, atol=1e-5)
        assert torch.equal(latent3d[:, 4:], torch.zeros_like(latent3d[:, 4:]))  # extra channels start unused
        frames3d = vae3d.decode(vae3d.encode(x))[0]  # (F, C, H, W)
        block = [-(-f // t) for f in range(9)]  # every frame of block j is the 2-D decoding of latent j
        assert torch.allclose(frames3d, vae2d.decoder(latent2d)[block], atol=1e-5)


def test_central_inflation_lags_and_is_not_the_2d_vae():
    torch.manual_seed(0)
    vae2d = VAE(SMALL_2D).eval()
    x = video(5, batch=1)
    central = inflate_vae(vae2d, temporal_factor=1, inflation="central").eval()
    tail = inflate_vae(vae2d, temporal_factor=1).eval()
    with torch.no_grad():
        per_frame = vae2d.posterior(x[0]).mode()
        assert torch.allclose(tail.posterior(x).mode(), per_frame, atol=1e-5)
        assert not torch.allclose(central.posterior(x).mode(), per_frame, atol=1e-3)
    w = torch.randn(2, 3, 3, 3)
    assert torch.equal(inflate_conv_weight(w, 3, "tail")[:, :, 2], w)
    assert torch.allclose(inflate_conv_weight(w, 3, "average").sum(dim=2), w)


def test_the_shipped_2d_vae_inflates_exactly():
    vae2d = load_model(data_file("vae_f4_32px.pt"), expect=VAE)
    vae3d = inflate_vae(vae2d, VIDEO_VAE_PRESETS["f4t4"]).eval()
    x = video(5, size=32, batch=1)
    with torch.no_grad():
        assert torch.allclose(vae3d.posterior(x).mode(), vae2d.posterior(x[0, ::4]).mode(), atol=1e-4)


@pytest.mark.parametrize("config, frames, chunk", [(T4, 17, 4), (T4, 17, 8), (T4, 13, 8), (T2, 9, 2), (T2, 9, 6)])
def test_chunked_coding_equals_whole(config, frames, chunk):
    vae = model(config)
    x = video(frames)
    with torch.no_grad():
        whole = vae.encode(x)
        assert torch.allclose(vae.encode(x, chunk_frames=chunk), whole, atol=1e-5)
        assert torch.allclose(vae.decode(whole, chunk_frames=chunk), vae.decode(whole), atol=1e-5)
    # The layers forget the stream afterwards: a whole-clip call is unchanged.
    assert all(not m.streaming and m.context is None for m in vae.modules() if isinstance(m, CausalConv3d))
    assert torch.allclose(vae.encode(x), whole)


def test_shift_and_scale_are_fitted_per_channel_saved_and_reloaded(tmp_path):
    vae = model(T4)
    x = video(9, batch=6)
    shift, scale = vae.fit_shift_and_scale(x, batch_size=4)
    z = vae.encode(x)  # (B, F', C_lat, h, w)
    per_channel = z.transpose(0, 2).flatten(1)  # (C_lat, B F' h w)
    assert torch.allclose(per_channel.mean(dim=1), torch.zeros(4), atol=1e-5)
    assert torch.allclose(per_channel.std(dim=1), torch.ones(4), atol=1e-4)
    assert shift.shape == scale.shape == (4,) and not torch.allclose(scale, scale[0].expand(4))
    # decode undoes them: decoding the normalized mean equals the decoder on the raw mean.
    raw = vae.posterior(x).mode()  # (B F', C_lat, h, w)
    raw = raw.reshape(6, 3, *raw.shape[1:]).permute(0, 2, 1, 3, 4)  # (B, C_lat, F', h, w)
    assert torch.allclose(vae.decode(z), vae.decoder(raw).transpose(1, 2), atol=1e-5)
    save_checkpoint(tmp_path / "video_vae.pt", vae, note="test")
    loaded = load_model(tmp_path / "video_vae.pt", expect=CausalVideoVAE)
    assert torch.equal(loaded.shift_factor, shift) and torch.equal(loaded.scaling_factor, scale)
    assert loaded.config == vae.config and torch.allclose(loaded.encode(x), z)
    one = vae.fit_shift_and_scale(x, per_channel=False)[1]
    assert torch.allclose(one, one[0].expand(4))


@pytest.mark.parametrize("network", [lambda: CausalVideoVAE(T2), lambda: VAE(SMALL_2D),
                                     lambda: CausalVideoVAE(VIDEO_VAE_PRESETS["f4t4c8"])])
def test_load_model_rebuilds_each_design(tmp_path, network):
    original = network().eval()
    save_checkpoint(tmp_path / "m.pt", original)
    loaded = load_model(tmp_path / "m.pt")
    assert type(loaded) is type(original) and loaded.config == original.config
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), original.state_dict().values()))
    assert "CausalVideoVAE" in registered_networks()


def test_vae_loss_on_videos():
    torch.manual_seed(0)
    vae2d = VAE(SMALL_2D)
    x = video(5)
    on_video = vae_loss(vae2d, x, object_weight=10.0, generator=torch.Generator().manual_seed(1))
    on_frames = vae_loss(vae2d, x.flatten(0, 1), object_weight=10.0, generator=torch.Generator().manual_seed(1))
    for key in ("loss", "reconstruction", "kl"):  # per element: a video is its frames
        assert torch.allclose(on_video[key], on_frames[key], rtol=1e-5), key
    vae3d = inflate_vae(vae2d, temporal_factor=4)
    out = vae_loss(vae3d, x, object_weight=10.0, temporal_weight=0.5)
    assert torch.allclose(out["loss"], out["reconstruction"] + 1e-6 * out["kl"] + 0.5 * out["temporal"])
    out["loss"].backward()
    assert all(p.grad is not None for p in vae3d.parameters())
    with pytest.raises(ValueError, match="temporal_weight needs videos"):
        vae_loss(vae2d, x[:, 0], temporal_weight=0.5)


def test_parameter_counts_are_pinned_per_preset():
    counts = {name: sum(p.numel() for p in CausalVideoVAE(config).parameters())
              for name, config in VIDEO_VAE_PRESETS.items()}
    assert counts == {"tiny": 123_971, "f4t2": 702_459, "f4t4": 702_459, "f4t4c8": 712_835}
    # The f4 presets are VAE_PRESETS["f4"] inflated: its 242,235 parameters, every 3x3 kernel 3 frames deep.
    vae2d = VAE(VAE_PRESETS["f4"])
    assert sum(p.numel() for p in vae2d.parameters()) == 242_235
    for name in ("f4t2", "f4t4", "f4t4c8"):
        assert sum(p.numel() for p in inflate_vae(vae2d, VIDEO_VAE_PRESETS[name]).parameters()) == counts[name]


@pytest.mark.parametrize("x, message", [
    ([[0.0]], "x must be a tensor of videos"),
    (torch.zeros(1, 5, 3, 8, 8, dtype=torch.uint8), "x must be a float tensor in \\[-1, 1\\], got dtype torch.uint8"),
    (torch.zeros(3, 8, 8), "x must be videos \\(B, F, 3, H, W\\) or frames \\(B, 3, H, W\\), got \\(3, 8, 8\\)"),
    (torch.zeros(1, 5, 4, 8, 8), "got \\(1, 5, 4, 8, 8\\)"),
    (torch.zeros(1, 3, 5, 8, 8), "is it Conv3d's \\(B, C, F, H, W\\)\\? .* x.transpose\\(1, 2\\)"),
    (torch.zeros(1, 5, 3, 6, 8), "height=6 is not divisible by the VAE's factor 4; use 4 or 8"),
    (torch.zeros(1, 5, 3, 8, 10), "width=10 is not divisible by the VAE's factor 4; use 8 or 12"),
])
def test_malformed_input_is_a_clear_error(x, message):
    with pytest.raises(ValueError, match=message):
        model(T4).encode(x)


def test_other_clear_errors():
    vae = model(T4)
    with pytest.raises(ValueError, match=r"latent must be \(B, F', 4, h, w\) or \(B, 4, h, w\), got \(1, 2, 3, 2, 2\)"):
        vae.decode(torch.zeros(1, 2, 3, 2, 2))
    with pytest.raises(ValueError, match="chunk_frames must be None .* a positive multiple of the temporal factor 4"):
        vae.encode(video(9), chunk_frames=3)
    with pytest.raises(ValueError, match="chunk_frames"):
        vae.decode(vae.encode(video(9)), chunk_frames=0)
    with pytest.raises(ValueError, match="num_frames must be a positive int"):
        vae.latent_shape(0, 8, 8)
    with pytest.raises(ValueError, match="temporal_factor must be a power of 2 from 1 to the spatial factor 4"):
        VideoVAEConfig(temporal_factor=3)
    with pytest.raises(ValueError, match="temporal_factor must be a power of 2 from 1 to the spatial factor 2"):
        VideoVAEConfig(channel_mults=(1, 2), temporal_factor=4)
    with pytest.raises(ValueError, match="kernel_t must be an int >= 2"):
        VideoVAEConfig(kernel_t=1)
    with pytest.raises(ValueError, match="cannot inflate this VAE .*base_channels: 8 in the VAE, 16 here"):
        inflate_vae(VAE(SMALL_2D), VIDEO_VAE_PRESETS["f4t4"])
    with pytest.raises(ValueError, match="latent_channels: 4 in the VAE, 2 here"):
        inflate_vae(VAE(SMALL_2D), latent_channels=2)
    with pytest.raises(ValueError, match="unknown inflation 'middle'"):
        inflate_vae(VAE(SMALL_2D), inflation="middle")
    with pytest.raises(ValueError, match="vae must be a minisora.models.VAE"):
        inflate_vae(vae)
    with pytest.raises(ValueError, match="per_channel must be True or False"):
        vae.fit_shift_and_scale(video(5), per_channel="yes")


def test_a_video_config_is_a_vae_config_but_does_not_build_the_image_vae():
    from minisora.models import VAE, VAEConfig
    from minisora.models.video_vae import VideoVAEConfig

    config = VideoVAEConfig()
    assert isinstance(config, VAEConfig) and config.factor == 4  # the fields and checks of lesson 03's config
    with pytest.raises(ValueError, match="expected a VAEConfig, got VideoVAEConfig"):
        VAE(config)
    with pytest.raises(ValueError, match="every level's channels"):
        VideoVAEConfig(num_groups=7)  # VAEConfig's own check, inherited
