"""The video DiT (lesson 09): shapes on any grid, per-frame t, zero starts, text masking, presets, bad input."""

import dataclasses

import pytest
import torch

from minisora.core import load_model, save_checkpoint
from minisora.models import ATTENTIONS, VIDEO_DIT_PRESETS, VideoDiT, VideoDiTConfig

TINY = VideoDiTConfig(num_frames=4, input_size=(4, 4), dim=32, depth=2, num_heads=2, context_dim=16)


def randomize(model: VideoDiT, keep_temporal_zero: bool = False) -> VideoDiT:
    """Every parameter random (so the output is not the zero of the init), optionally the temporal outputs kept 0."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if keep_temporal_zero and ".temporal.to_out" in name:
                continue
            param.copy_(torch.randn(param.shape, generator=generator) * 0.3)
    return model


def text(batch: int, length: int = 5, dim: int = 16, seed: int = 1):
    generator = torch.Generator().manual_seed(seed)
    context = torch.randn(batch, length, dim, generator=generator)
    mask = torch.ones(batch, length, dtype=torch.bool)
    mask[:, -2:] = False  # some padding
    return context, mask, torch.randn(batch, dim, generator=generator)


@pytest.mark.parametrize("attention", ATTENTIONS)
@pytest.mark.parametrize("tubelet_frames", [1, 2])
def test_forward_keeps_the_latent_shape_on_several_grids(attention, tubelet_frames):
    model = randomize(VideoDiT(TINY, attention=attention, tubelet_frames=tubelet_frames))
    for frames, size in ((4, 4), (8, 4), (2, 6)):  # the grid is read at forward time
        x = torch.randn(2, frames, 4, size, size)
        context, mask, pooled = text(2)
        out = model(x, torch.tensor([10.0, 900.0]), context, mask, pooled)
        assert out.shape == x.shape and torch.isfinite(out).all()


def test_the_first_prediction_is_zero():
    """adaLN-Zero and the zero final layer: a fresh model predicts 0 (the mean of the target)."""
    model = VideoDiT(TINY)
    context, mask, pooled = text(2)
    out = model(torch.randn(2, 4, 4, 4, 4), torch.tensor([3.0, 500.0]), context, mask, pooled)
    assert torch.equal(out, torch.zeros_like(out))


def test_zero_temporal_attention_makes_an_image_model():
    """With the temporal output projection at zero (its init), frames do not see each other: shuffling the
    frames shuffles the output. Once it is not zero, they do."""
    config = dataclasses.replace(TINY, tubelet_frames=1)
    x = torch.randn(1, 4, 4, 4, 4)
    order = torch.tensor([2, 0, 3, 1])
    context, mask, pooled = text(1)
    t = torch.tensor([400.0])
    image_model = randomize(VideoDiT(config), keep_temporal_zero=True)
    out, shuffled = image_model(x, t, context, mask, pooled), image_model(x[:, order], t, context, mask, pooled)
    torch.testing.assert_close(shuffled, out[:, order], atol=1e-5, rtol=1e-5)
    video_model = randomize(VideoDiT(config))
    out, shuffled = video_model(x, t, context, mask, pooled), video_model(x[:, order], t, context, mask, pooled)
    assert (shuffled - out[:, order]).abs().max() > 1e-3


def test_per_frame_timesteps_equal_to_the_sample_timestep_change_nothing():
    model = randomize(VideoDiT(TINY))
    x = torch.randn(2, 4, 4, 4, 4)
    context, mask, pooled = text(2)
    t = torch.tensor([100.0, 700.0])
    per_frame = t[:, None].expand(2, 4)
    # The mean of pt equal embeddings is the embedding, up to float32 rounding.
    torch.testing.assert_close(model(x, per_frame, context, mask, pooled), model(x, t, context, mask, pooled),
                               atol=1e-4, rtol=1e-4)
    other = per_frame.clone()
    other[:, 0] = 0.0  # a given first frame (lesson 10): the output changes
    assert (model(x, other, context, mask, pooled) - model(x, t, context, mask, pooled)).abs().max() > 1e-4


def test_padding_of_the_caption_is_invisible():
    model = randomize(VideoDiT(TINY))
    x = torch.randn(2, 4, 4, 4, 4)
    context, mask, pooled = text(2)
    t = torch.tensor([250.0, 250.0])
    noisy = context.clone()
    noisy[~mask] = 100.0  # whatever sits at a padded slot is never read
    torch.testing.assert_close(model(x, t, noisy, mask, pooled), model(x, t, context, mask, pooled))
    shorter = model(x, t, context[:, :3], mask[:, :3], pooled)
    torch.testing.assert_close(shorter, model(x, t, context, mask, pooled), atol=1e-5, rtol=1e-5)


def test_the_caption_changes_the_output():
    model = randomize(VideoDiT(TINY))
    x = torch.randn(1, 4, 4, 4, 4)
    t = torch.tensor([500.0])
    a, b = text(1, seed=1), text(1, seed=2)
    assert (model(x, t, *a) - model(x, t, *b)).abs().max() > 1e-3


def test_every_parameter_learns():
    """The zero inits are not dead ends: after a few steps every trainable tensor has had a gradient."""
    torch.manual_seed(0)
    model = VideoDiT(TINY)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    seen = {name: False for name, _ in model.named_parameters()}
    x, target = torch.randn(4, 4, 4, 4, 4), torch.randn(4, 4, 4, 4, 4)
    context, mask, pooled = text(4)
    for _ in range(4):
        loss = (model(x, torch.rand(4) * 1000, context, mask, pooled) - target).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        for name, param in model.named_parameters():
            seen[name] |= bool(param.grad is not None and param.grad.abs().max() > 0)
        optimizer.step()
    assert [name for name, ok in seen.items() if not ok] == []


def test_unconditional_model_and_call():
    model = randomize(VideoDiT(TINY, context_dim=0))
    assert model.pooled_embed is None and model.blocks[0].cross is None
    out = model(torch.randn(1, 4, 4, 4, 4), torch.tensor([5.0]))
    assert out.shape == (1, 4, 4, 4, 4)


# Parameter counts pinned: a change to the architecture shows here first.
@pytest.mark.parametrize("name, count", [("tiny", 52_608), ("cpu", 2_210_848), ("gpu", 10_791_712)])
def test_preset_parameter_counts(name, count):
    with torch.device("meta"):
        model = VideoDiT(VIDEO_DIT_PRESETS[name])
    assert sum(p.numel() for p in model.parameters()) == count


def test_full_and_spatial_variants_have_no_temporal_layers():
    for attention in ("full", "spatial"):
        model = VideoDiT(TINY, attention=attention)
        assert all(block.temporal is None for block in model.blocks)
    factorized, spatial = VideoDiT(TINY), VideoDiT(TINY, attention="spatial")
    block = factorized.blocks[0]
    temporal = sum(p.numel() for p in [*block.temporal.parameters(), *block.norm_temporal.parameters()])
    assert sum(p.numel() for p in factorized.parameters()) - sum(p.numel() for p in spatial.parameters()) == \
        TINY.depth * temporal


def test_checkpoint_round_trip(tmp_path):
    model = randomize(VideoDiT(TINY))
    path = save_checkpoint(tmp_path / "video_dit.pt", model)
    loaded = load_model(path, expect=VideoDiT)
    x = torch.randn(1, 4, 4, 4, 4)
    context, mask, pooled = text(1)
    torch.testing.assert_close(loaded(x, torch.tensor([7.0]), context, mask, pooled),
                               model(x, torch.tensor([7.0]), context, mask, pooled))


@pytest.mark.parametrize("overrides, words", [
    ({"dim": 30, "num_heads": 4}, "num_heads"),
    ({"attention": "joint"}, "attention"),
    ({"depth": 0}, "depth"),
    ({"depth": -3}, "depth"),
    ({"context_dim": -1}, "context_dim"),
    ({"num_frames": 5}, "num_frames"),
    ({"input_size": (5, 4)}, "height"),
    ({"tubelet_frames": 0}, "tubelet_frames"),
    ({"dim": 36, "num_heads": 4}, "RoPE"),
    ({"mlp_ratio": 0}, "mlp_ratio"),
    ({"num_heads": 2.0}, "num_heads"),
])
def test_bad_configs_are_refused_by_name(overrides, words):
    with pytest.raises(ValueError, match=words):
        VideoDiTConfig(**{**dataclasses.asdict(TINY), **overrides})


def test_bad_inputs_are_refused_by_name():
    model = VideoDiT(TINY)
    context, mask, pooled = text(2)
    t = torch.tensor([1.0, 2.0])
    x = torch.randn(2, 4, 4, 4, 4)
    cases = [
        ((torch.randn(2, 4, 4, 4), t, context, mask, pooled), "x must be latents"),
        ((torch.randn(2, 4, 3, 4, 4), t, context, mask, pooled), "x must be latents"),
        ((torch.randn(0, 4, 4, 4, 4), t[:0], context[:0], mask[:0], pooled[:0]), "B >= 1"),
        ((torch.randn(2, 3, 4, 4, 4), t, context, mask, pooled), "num_frames=3"),
        ((torch.randn(2, 4, 4, 5, 4), t, context, mask, pooled), "height=5"),
        ((torch.zeros(2, 4, 4, 4, 4, dtype=torch.long), t, context, mask, pooled), "float"),
        ((x, t, context, mask, None), "together"),
        ((x, t, context[:, :, :8], mask, pooled), "context must be"),
        ((x, t, context[:1], mask[:1], pooled), "context must be"),
        ((x, t, context, mask, pooled[:, :8]), "pooled must be"),
        ((x, t, context, mask.float(), pooled), "context_mask"),
        ((x, t, context, mask[:, :3], pooled), "context_mask"),
        ((x, torch.ones(3), context, mask, pooled), "t must be"),
        ((x, torch.ones(2, 3), context, mask, pooled), "t must be"),
    ]
    for args, words in cases:
        with pytest.raises(ValueError, match=words):
            model(*args)
    unconditional = VideoDiT(TINY, context_dim=0)
    with pytest.raises(ValueError, match="context_dim=0"):
        unconditional(x, t, context, mask, pooled)
