"""minisora.blocks.embeddings: per-frame timesteps (B, F) and the flow-matching time scale (issue 12)."""

import pytest
import torch
import torch.nn.functional as F

from minisora.blocks import TimestepEmbedder, timestep_embedding
from minisora.blocks.embeddings import broadcast_timesteps
from minisora.diffusion import FLOW_TIME_SCALE, FlowMatchingSampler, flow_matching_loss


def test_per_frame_timesteps_with_equal_columns_equal_per_sample_ones_repeated():
    t = torch.tensor([0.0, 7.0, 999.0])  # (B,)
    per_frame = t[:, None].expand(3, 4)  # (B, F), every frame at its sample's t
    emb = timestep_embedding(t, 16)
    assert timestep_embedding(per_frame, 16).shape == (3, 4, 16)
    assert torch.equal(timestep_embedding(per_frame, 16), emb[:, None].expand(3, 4, 16))
    torch.manual_seed(0)
    embedder = TimestepEmbedder(32, frequency_dim=16)
    assert embedder(per_frame).shape == (3, 4, 32)
    assert torch.allclose(embedder(per_frame), embedder(t)[:, None].expand(3, 4, 32), atol=1e-6)
    # Frames at different t get their own vectors.
    mixed = torch.tensor([[0.0, 500.0]])
    assert torch.equal(timestep_embedding(mixed, 16)[0, 1], timestep_embedding(torch.tensor([500.0]), 16)[0])


def test_flow_times_zero_and_one_embed_far_apart_only_on_the_time_scale():
    """The issue: raw t = 0 and t = 1 are almost the same vector; FLOW_TIME_SCALE · t pulls them apart."""
    for dim in (32, 256):  # lesson 01's MLP embeds t in 32 dims; DiT and the U-Net use 256 and more
        raw = timestep_embedding(torch.tensor([0.0, 1.0]), dim)
        scaled = timestep_embedding(FLOW_TIME_SCALE * torch.tensor([0.0, 1.0]), dim)
        assert F.cosine_similarity(raw[0], raw[1], dim=0) > 0.9, dim
        assert F.cosine_similarity(scaled[0], scaled[1], dim=0) < 0.5, dim
    similarity = F.cosine_similarity(*timestep_embedding(torch.tensor([0.0, 1.0]), 256), dim=0)
    assert similarity == pytest.approx(0.97, abs=0.01)


def test_what_flow_networks_receive_is_on_the_time_scale():
    """The loss and the sampler hand the network the same 1000 t, so its embedding tells t = 0 from t = 1."""
    seen = []

    def model(x, t):
        seen.append(t)
        return torch.zeros_like(x)

    x0 = torch.randn(2, 3)
    flow_matching_loss(model, x0, timesteps=torch.tensor([0.0, 1.0]))
    assert torch.equal(seen[-1], torch.tensor([0.0, FLOW_TIME_SCALE]))
    emb = timestep_embedding(seen[-1], 256)
    assert F.cosine_similarity(emb[0], emb[1], dim=0) < 0.5
    sampler = FlowMatchingSampler()
    sampler.set_timesteps(4)
    assert torch.equal(sampler.timesteps, FLOW_TIME_SCALE * sampler.sigmas[:-1])
    # time_scale=1.0 gives a network the path time itself, in both.
    flow_matching_loss(model, x0, timesteps=torch.tensor([0.25, 1.0]), time_scale=1.0)
    assert torch.equal(seen[-1], torch.tensor([0.25, 1.0]))
    unscaled = FlowMatchingSampler(time_scale=1.0)
    unscaled.set_timesteps(4)
    assert unscaled.timesteps.tolist() == [1.0, 0.75, 0.5, 0.25]


def test_broadcast_timesteps_per_frame():
    assert torch.equal(broadcast_timesteps(3, 2, "cpu", num_frames=4), torch.tensor([3, 3]))
    per_frame = torch.arange(8).reshape(2, 4)
    assert torch.equal(broadcast_timesteps(per_frame, 2, "cpu", num_frames=4), per_frame)
    assert torch.equal(broadcast_timesteps(torch.tensor([1, 2]), 2, "cpu", num_frames=4), torch.tensor([1, 2]))
    # Without num_frames (the image models, DiT and the U-Net) a per-frame t is refused, as before.
    with pytest.raises(ValueError, match=r"one timestep per sample, shape \(2,\), or a scalar; got \(2, 4\)"):
        broadcast_timesteps(per_frame, 2, "cpu")
    with pytest.raises(ValueError, match=r"one per frame, shape \(2, 3\); got \(2, 4\)"):
        broadcast_timesteps(per_frame, 2, "cpu", num_frames=3)


def test_timestep_embedding_rejects_other_ranks():
    with pytest.raises(ValueError, match=r"t must have shape \(B,\).*or \(B, F\), one per frame; got \(\)"):
        timestep_embedding(torch.tensor(3.0), 8)
    with pytest.raises(ValueError, match=r"t must have shape \(B,\).*got \(2, 3, 4\)"):
        TimestepEmbedder(8, frequency_dim=8)(torch.zeros(2, 3, 4))
