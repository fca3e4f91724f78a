"""minisora.models.vit and .vivit: shapes, variants, pinned sizes, inflation, what each attention can see."""

import pytest
import torch

from minisora.blocks import patchify, patchify_tubelets
from minisora.models import VARIANTS, ViT, ViTConfig, ViViT, ViViTConfig, inflate_patch_weights

VIDEO = (2, 8, 3, 16, 16)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("pt", [1, 2])
def test_every_variant_and_patching_classifies(variant, pt):
    model = ViViT(num_frames=8, image_size=(16, 16), tubelet_frames=pt, variant=variant, dim=32, depth=2)
    assert model(torch.randn(*VIDEO)).shape == (2, 6)


def test_non_square_video_and_learned_positions():
    model = ViViT(num_frames=4, image_size=(8, 12), patch_size=4, tubelet_frames=2, positions="learned", dim=32)
    assert model(torch.randn(1, 4, 3, 8, 12)).shape == (1, 6)


# Pinned so a change to the architecture is a decision, not an accident (defaults: dim 64, depth 4, 32x32x8).
PARAMETER_COUNTS = {
    ("joint", 1): 203_590, ("joint", 2): 206_662,
    ("factorized_encoder", 1): 303_558, ("factorized_encoder", 2): 306_630,
    ("factorized_self_attention", 1): 270_662, ("factorized_self_attention", 2): 273_734,
    ("factorized_dot_product", 1): 203_590, ("factorized_dot_product", 2): 206_662,
}


@pytest.mark.parametrize("variant, pt", sorted(PARAMETER_COUNTS))
def test_parameter_counts(variant, pt):
    model = ViViT(variant=variant, tubelet_frames=pt)
    assert sum(p.numel() for p in model.parameters()) == PARAMETER_COUNTS[variant, pt]


def _influence(model, frame, row, col):
    """Which input pixels move the tokens' output at one place (frame, row, col) — by gradient."""
    video = torch.randn(1, 4, 3, 8, 8, requires_grad=True)
    x = model.tokens(video)
    for block in model.blocks[:1]:
        x = block(x)
    f, h, w = model.config.grid
    x[0, frame * h * w + row * w + col].sum().backward()
    return video.grad[0].abs().sum(dim=(1,))  # (F, H, W)


def test_what_one_block_of_each_variant_can_see():
    torch.manual_seed(0)
    seen = {}
    for variant in ("joint", "factorized_self_attention", "factorized_dot_product"):
        model = ViViT(num_frames=4, image_size=(8, 8), patch_size=4, variant=variant, dim=32, depth=1)
        grad = _influence(model, frame=1, row=0, col=0)  # token at frame 1, top-left 4x4 patch
        seen[variant] = grad > 0
    # Joint attention: every pixel of every frame.
    assert seen["joint"].all()
    # Factorized: a token sees its own frame (spatial) and its own place in other frames (temporal)...
    for variant in ("factorized_self_attention", "factorized_dot_product"):
        assert seen[variant][1].all() and seen[variant][:, :4, :4].all()
    # ...but one dot-product block never reaches other places in other frames: its heads attend in space
    # or in time, side by side. The sequential block does: its temporal step reads other frames' tokens
    # after their spatial step has already mixed in every place of those frames.
    assert not seen["factorized_dot_product"][0, 4:, 4:].any()
    assert seen["factorized_self_attention"][0, 4:, 4:].any()


def test_inflation_on_a_static_video():
    torch.manual_seed(0)
    vit = ViT(image_size=(8, 8), patch_size=4, dim=32)
    frame = torch.randn(1, 3, 8, 8)
    static = frame[:, None].expand(1, 4, 3, 8, 8)  # the same frame 4 times
    flat = vit.embed(patchify(frame, 4))  # (1, 4, 32): the 2-D embedding of the frame's 4 patches
    for mode in ("central", "average"):
        model = ViViT(num_frames=4, image_size=(8, 8), patch_size=4, tubelet_frames=2, dim=32)
        model.inflate_from(vit.embed.weight, vit.embed.bias, mode)
        tokens = model.embed(patchify_tubelets(static, 2, 4))  # (1, 2 time slots x 4 patches, 32)
        # Either inflation embeds a static video exactly as the 2-D embedding embeds its frame.
        assert torch.allclose(tokens[:, :4], flat, atol=1e-5) and torch.allclose(tokens[:, 4:], flat, atol=1e-5)
    with pytest.raises(ValueError, match="inflation"):
        inflate_patch_weights(torch.zeros(4, 12), 2, "spread")


def test_clear_errors():
    with pytest.raises(ValueError, match="num_frames=15 is not divisible by the temporal patch size pt 2"):
        ViViTConfig(num_frames=15, tubelet_frames=2)
    with pytest.raises(ValueError, match="unknown variant"):
        ViViTConfig(variant="divided")
    with pytest.raises(ValueError, match="num_heads must be even"):
        ViViTConfig(variant="factorized_dot_product", num_heads=3, dim=63)
    with pytest.raises(ValueError, match="takes videos"):
        ViViT()(torch.randn(1, 16, 3, 32, 32))
    with pytest.raises(ValueError, match="height=30"):
        ViTConfig(image_size=(30, 32))


def test_vit_pools_and_positions():
    x = torch.randn(2, 3, 32, 32)
    for pool in ("cls", "mean"):
        for positions in ("learned", "sincos", "none"):
            assert ViT(pool=pool, positions=positions)(x).shape == (2, 24)
