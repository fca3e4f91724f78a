"""minisora.blocks.positions: sin-cos tables against the closed form; RoPE's two defining properties."""

import math

import pytest
import torch

from minisora.blocks import (
    Attention,
    LearnedPositions,
    apply_rope,
    axial_rope_angles,
    rope_angles,
    sincos_1d,
    sincos_2d,
    sincos_3d,
)


def test_sincos_1d_closed_form():
    table = sincos_1d(torch.arange(5), 8)
    for pos in range(5):
        for i in range(4):
            omega = 10_000 ** (-i / 4)
            assert table[pos, i] == pytest.approx(math.sin(pos * omega), abs=1e-6)
            assert table[pos, 4 + i] == pytest.approx(math.cos(pos * omega), abs=1e-6)


def test_sincos_2d_is_row_then_column():
    table = sincos_2d(3, 4, 16)  # 12 positions, row-major
    assert table.shape == (12, 16)
    for r in range(3):
        for c in range(4):
            assert torch.allclose(table[r * 4 + c, :8], sincos_1d(torch.tensor([r]), 8)[0])
            assert torch.allclose(table[r * 4 + c, 8:], sincos_1d(torch.tensor([c]), 8)[0])


def test_sincos_3d_is_separable():
    table = sincos_3d(2, 3, 4, 64)  # temporal 16 channels, spatial 48
    assert table.shape == (24, 64)
    assert torch.allclose(table[:12, 16:], table[12:, 16:])  # the same space in both frames
    assert torch.allclose(table[12, :16], sincos_1d(torch.tensor([1]), 16)[0])
    with pytest.raises(ValueError, match="divisible by 4"):
        sincos_3d(2, 2, 2, 34)


def test_learned_positions():
    positions = LearnedPositions(6, 8)
    x = torch.zeros(2, 6, 8)
    assert torch.equal(positions(x)[0], positions.table[0])
    with pytest.raises(ValueError, match="learned positions for 6"):
        positions(torch.zeros(1, 7, 8))


def test_rope_preserves_norms():
    x = torch.randn(2, 4, 10, 16)
    rotated = apply_rope(x, rope_angles(torch.arange(10), 16))
    assert torch.allclose(rotated.norm(dim=-1), x.norm(dim=-1), atol=1e-5)


def test_rope_scores_depend_only_on_the_offset():
    torch.manual_seed(0)
    q, k = torch.randn(16), torch.randn(16)
    angles = rope_angles(torch.arange(40), 16)
    rq = apply_rope(q.expand(40, 16), angles)  # the same query at every position
    rk = apply_rope(k.expand(40, 16), angles)
    score = rq @ rk.T  # (40, 40): score[m, n] for query at m, key at n
    for offset in (0, 3, -5):
        diagonal = torch.diagonal(score, offset=offset)
        assert torch.allclose(diagonal, diagonal[0].expand_as(diagonal), atol=1e-4)
    assert not torch.allclose(score[0, 1], score[0, 2])


def test_axial_rope_uses_each_axis_in_its_own_channels():
    angles = axial_rope_angles((2, 3, 4), (4, 4, 8))  # (24, 8): 2 pairs time, 2 rows, 4 columns
    assert angles.shape == (24, 8)
    # Moving one column changes only the column channels' angles.
    assert torch.equal(angles[0, :4], angles[1, :4]) and not torch.equal(angles[0, 4:], angles[1, 4:])
    # Moving one frame (12 tokens later) changes only the time channels.
    assert torch.equal(angles[0, 2:], angles[12, 2:]) and not torch.equal(angles[0, :2], angles[12, :2])


def test_attention_with_rope_equals_rotating_q_and_k_by_hand():
    torch.manual_seed(0)
    attn = Attention(16, num_heads=2)
    x = torch.randn(1, 6, 16)
    angles = rope_angles(torch.arange(6), 8)
    q = apply_rope(attn.to_q(x).reshape(1, 6, 2, 8).transpose(1, 2), angles)
    k = apply_rope(attn.to_k(x).reshape(1, 6, 2, 8).transpose(1, 2), angles)
    v = attn.to_v(x).reshape(1, 6, 2, 8).transpose(1, 2)
    weights = (q @ k.transpose(-1, -2) / math.sqrt(8)).softmax(-1)
    expected = attn.to_out((weights @ v).transpose(1, 2).reshape(1, 6, 16))
    assert torch.allclose(attn(x, rope=angles), expected, atol=1e-5)
    with pytest.raises(ValueError, match="self-attention only"):
        Attention(16, 2, context_dim=4)(x, torch.randn(1, 3, 4), rope=angles)
