"""minisora.blocks.patching: images and videos <-> tokens, both ways, with clear errors."""

import random

import pytest
import torch
from einops import rearrange

from minisora.blocks import (
    patchify,
    patchify_frames,
    patchify_tubelets,
    token_grid,
    uniform_frame_indices,
    unpatchify,
    unpatchify_frames,
    unpatchify_tubelets,
)


def test_round_trips_over_random_sizes():
    rng = random.Random(0)
    for _ in range(40):  # a small property test: random patch sizes, multiples, channels
        p, pt = rng.choice([1, 2, 4, 8]), rng.choice([1, 2, 4])
        c, f = rng.choice([1, 3, 4]), pt * rng.randint(1, 4)
        h, w = p * rng.randint(1, 5), p * rng.randint(1, 5)
        image = torch.randn(2, c, h, w)
        assert torch.equal(unpatchify(patchify(image, p), p, h, w), image)
        video = torch.randn(2, f, c, h, w)
        assert torch.equal(unpatchify_frames(patchify_frames(video, p), p, f, h, w), video)
        assert torch.equal(unpatchify_tubelets(patchify_tubelets(video, pt, p), pt, p, f, h, w), video)


def test_token_counts_and_widths():
    video = torch.randn(1, 8, 3, 16, 24)
    assert patchify_frames(video, 4).shape == (1, 8 * 4 * 6, 4 * 4 * 3)
    assert patchify_tubelets(video, 2, 4).shape == (1, 4 * 4 * 6, 2 * 4 * 4 * 3)
    assert token_grid(8, 16, 24, 2, 4) == (4, 4, 6)


def test_one_patch_is_one_block_of_pixels():
    image = torch.arange(2 * 8 * 12, dtype=torch.float32).reshape(1, 2, 8, 12)
    tokens = patchify(image, 4)  # 2 rows x 3 columns of patches
    # Token 4 = row 1, column 1: pixels 4..7 x 4..7, flattened (p1, p2, C).
    expected = rearrange(image[0, :, 4:8, 4:8], "C p1 p2 -> (p1 p2 C)")
    assert torch.equal(tokens[0, 4], expected)


def test_frame_patches_are_vit_tokens_of_each_frame():
    video = torch.randn(2, 5, 3, 8, 8)
    tokens = patchify_frames(video, 4).reshape(2, 5, 4, 48)  # (B, F, tokens per frame, width)
    for f in range(5):
        assert torch.equal(tokens[:, f], patchify(video[:, f], 4))


def test_a_tubelet_of_pt_1_is_a_frame_patch():
    video = torch.randn(1, 4, 3, 8, 8)
    assert torch.equal(patchify_tubelets(video, 1, 2), patchify_frames(video, 2))


def test_tubelet_holds_pt_frames_of_one_place():
    video = torch.randn(1, 4, 3, 8, 8)
    tokens = patchify_tubelets(video, 2, 4)  # grid (2, 2, 2)
    # Token 1 = first time slot, row 0, column 1: frames 0-1, rows 0-3, columns 4-7.
    expected = rearrange(video[0, 0:2, :, 0:4, 4:8], "pt C p1 p2 -> (pt p1 p2 C)")
    assert torch.equal(tokens[0, 1], expected)


def test_errors_name_the_nearest_sizes():
    with pytest.raises(ValueError, match="height=30 is not divisible by the patch size 4; use height=28 or 32"):
        patchify(torch.zeros(1, 3, 30, 32), 4)
    with pytest.raises(ValueError, match="num_frames=15 is not divisible by the temporal patch size pt 2; "
                                         "use num_frames=14 or 16"):
        patchify_tubelets(torch.zeros(1, 15, 3, 8, 8), 2, 4)
    with pytest.raises(ValueError, match="width=3 .* use width=4"):
        patchify_frames(torch.zeros(1, 2, 3, 8, 3), 4)
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        patchify(torch.zeros(3, 8, 8), 4)
    with pytest.raises(ValueError, match="do not tile"):
        unpatchify(torch.zeros(1, 5, 48), 4, 8, 8)


def test_uniform_frame_indices():
    assert uniform_frame_indices(16, 4).tolist() == [2, 6, 10, 14]
    assert uniform_frame_indices(5, 5).tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="cannot sample"):
        uniform_frame_indices(4, 8)
