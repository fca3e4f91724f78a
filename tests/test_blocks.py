"""minisora.blocks: timestep/label embeddings and attention, against closed forms and the plain formula."""

import math

import pytest
import torch
import torch.nn.functional as F

from minisora.blocks import (
    Attention,
    LabelEmbedder,
    TimestepEmbedder,
    TransformerBlock,
    attention_reference,
    timestep_embedding,
)
from minisora.blocks.embeddings import broadcast_timesteps


def test_timestep_embedding_closed_form():
    t = torch.tensor([0.0, 1.0, 250.0])
    emb = timestep_embedding(t, 8)
    freqs = [10_000 ** (-i / 4) for i in range(4)]
    expected = [[math.cos(v * f) for f in freqs] + [math.sin(v * f) for f in freqs] for v in t.tolist()]
    assert emb.shape == (3, 8)
    assert torch.allclose(emb, torch.tensor(expected), atol=1e-5)


def test_timestep_embedding_errors():
    with pytest.raises(ValueError, match="even"):
        timestep_embedding(torch.zeros(2), 7)
    with pytest.raises(ValueError, match=r"\(B,\), one timestep per sample, or \(B, F\)"):
        timestep_embedding(torch.zeros(2, 1, 1), 8)  # (B, F) is one per frame, valid since issue 12


def test_timestep_embedder_shape():
    assert TimestepEmbedder(32, frequency_dim=16)(torch.tensor([0, 999])).shape == (2, 32)


def test_label_embedder_sums_attributes_and_has_null():
    emb = LabelEmbedder((8, 3), 16, dropout_prob=0.0).eval()
    labels = torch.tensor([[2, 1], [8, 3]])  # the second row is null in both attributes
    out = emb(labels)
    expected = emb.tables[0].weight[[2, 8]] + emb.tables[1].weight[[1, 3]]
    assert torch.equal(out, expected)
    assert torch.equal(emb.null_labels(2), torch.tensor([[8, 3], [8, 3]]))


def test_label_embedder_single_attribute_accepts_flat_labels():
    emb = LabelEmbedder(10, 4, dropout_prob=0.0).eval()
    assert torch.equal(emb(torch.tensor([3, 10])), emb(torch.tensor([[3], [10]])))


def test_label_embedder_dropout_only_in_training():
    torch.manual_seed(0)
    emb = LabelEmbedder((8, 3), 4, dropout_prob=0.5)
    labels = torch.zeros(4000, 2, dtype=torch.long)
    null_vector = emb.tables[0].weight[8] + emb.tables[1].weight[3]
    dropped = (emb.train()(labels) == null_vector).all(dim=1).float().mean()
    assert abs(dropped - 0.5) < 0.04  # about half, 1.7% s.e. at n = 4000
    assert not (emb.eval()(labels) == null_vector).all(dim=1).any()


def test_broadcast_timesteps_and_null_labels_by_default():
    assert torch.equal(broadcast_timesteps(7, 3, "cpu"), torch.tensor([7, 7, 7]))
    assert torch.equal(broadcast_timesteps(torch.tensor([1, 2]), 2, "cpu"), torch.tensor([1, 2]))
    with pytest.raises(ValueError, match=r"one timestep per sample, shape \(2,\), or a scalar; got \(3,\)"):
        broadcast_timesteps(torch.tensor([1, 2, 3]), 2, "cpu")
    embedder = LabelEmbedder((8, 3), 16).eval()
    assert torch.equal(embedder.embed_or_null(None, 2, "cpu"), embedder(torch.tensor([[8, 3], [8, 3]])))
    labels = torch.tensor([[1, 2], [0, 0]])
    assert torch.equal(embedder.embed_or_null(labels, 2, "cpu"), embedder(labels))


def test_label_embedder_errors():
    emb = LabelEmbedder((8, 3), 4)
    with pytest.raises(ValueError, match="out of range"):
        emb(torch.tensor([[9, 0]]))
    with pytest.raises(ValueError, match=r"\(B, 2\)"):
        emb(torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="integer"):
        emb(torch.tensor([[1.0, 2.0]]))


def _split_heads(x, heads):
    B, L, D = x.shape
    return x.reshape(B, L, heads, D // heads).transpose(1, 2)  # (B, h, L, d)


@pytest.mark.parametrize("qk_norm", [False, True])
def test_self_attention_matches_the_plain_formula(qk_norm):
    torch.manual_seed(0)
    attn = Attention(32, num_heads=4, qk_norm=qk_norm)
    x = torch.randn(2, 7, 32)
    q, k, v = (_split_heads(layer(x), 4) for layer in (attn.to_q, attn.to_k, attn.to_v))
    if qk_norm:
        q, k = F.layer_norm(q, (8,)), F.layer_norm(k, (8,))  # the norms' scales start at 1
    expected = attn.to_out(attention_reference(q, k, v).transpose(1, 2).reshape(2, 7, 32))
    assert torch.allclose(attn(x), expected, atol=1e-5)


def test_cross_attention_and_key_padding_mask_match_the_plain_formula():
    torch.manual_seed(0)
    attn = Attention(16, num_heads=2, context_dim=12)
    x, context = torch.randn(3, 5, 16), torch.randn(3, 4, 12)
    mask = torch.tensor([[True, True, False, False], [True] * 4, [True, False, False, False]])  # (B, S)
    q = _split_heads(attn.to_q(x), 2)
    k, v = _split_heads(attn.to_k(context), 2), _split_heads(attn.to_v(context), 2)
    out = attention_reference(q, k, v, mask[:, None, None, :])
    expected = attn.to_out(out.transpose(1, 2).reshape(3, 5, 16))
    assert torch.allclose(attn(x, context, key_padding_mask=mask), expected, atol=1e-5)
    # A masked-out context token changes nothing.
    changed = context.clone()
    changed[0, 3] += 100
    assert torch.allclose(attn(x, changed, key_padding_mask=mask)[0], attn(x, context, key_padding_mask=mask)[0],
                          atol=1e-5)


def _self_attention_by_hand(attn, x, mask=None, is_causal=False):
    """Attention's output on x from its own projections and `attention_reference`; rows with no key -> 0."""
    B, L, D = x.shape
    q, k, v = (_split_heads(layer(x), attn.num_heads) for layer in (attn.to_q, attn.to_k, attn.to_v))
    out = attn.to_out(attention_reference(q, k, v, mask, is_causal).transpose(1, 2).reshape(B, L, D))
    keep = torch.ones(L, L, dtype=torch.bool).tril() if is_causal else torch.ones(L, L, dtype=torch.bool)
    if mask is not None:
        keep = keep & mask
    seen = keep.expand(B, attn.num_heads, L, L).any(dim=-1)[:, 0]  # (B, L)
    return out * seen[..., None]


CAUSAL = torch.ones(4, 4, dtype=torch.bool).tril()  # (L, S), with L = B = 4 on purpose


@pytest.mark.parametrize("case", ["causal_flag", "causal_mask_2d", "full_mask_3d", "padding", "padding_and_causal",
                                  "mask_3d_and_causal"])
def test_self_attention_masks_match_the_reference(case):
    torch.manual_seed(0)
    attn = Attention(16, num_heads=2)
    x = torch.randn(4, 4, 16)  # B = L = 4: a 2-D mask must not be mistaken for a (B, S) padding mask
    padding = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0], [1, 0, 1, 1], [0, 1, 1, 1]]).bool()  # (B, S)
    full = torch.rand(4, 4, 4) > 0.3
    full[..., 0] = True  # every query sees a key (the all-masked rows have their own test)
    calls = {
        "causal_flag": ({"is_causal": True}, None, True),
        "causal_mask_2d": ({"attn_mask": CAUSAL}, CAUSAL, False),
        "full_mask_3d": ({"attn_mask": full}, full[:, None], False),
        "padding": ({"key_padding_mask": padding}, padding[:, None, None, :], False),
        "padding_and_causal": ({"key_padding_mask": padding, "is_causal": True}, padding[:, None, None, :], True),
        "mask_3d_and_causal": ({"attn_mask": full, "is_causal": True}, full[:, None], True),
    }
    kwargs, mask, is_causal = calls[case]
    assert torch.allclose(attn(x, **kwargs), _self_attention_by_hand(attn, x, mask, is_causal), atol=1e-5)


def test_a_causal_2d_mask_and_is_causal_agree_and_differ_from_padding():
    torch.manual_seed(0)
    attn = Attention(16, num_heads=2)
    x = torch.randn(4, 4, 16)
    assert torch.allclose(attn(x, attn_mask=CAUSAL), attn(x, is_causal=True), atol=1e-5)
    # The old contract read any 2-D mask as (B, S) padding: with B = L that silently meant something else.
    assert not torch.allclose(attn(x, attn_mask=CAUSAL), attn(x, key_padding_mask=CAUSAL), atol=1e-3)
    # Causal: the first token sees only itself, so changing later tokens leaves it alone.
    changed = x.clone()
    changed[:, 1:] += 10
    assert torch.allclose(attn(changed, is_causal=True)[:, 0], attn(x, is_causal=True)[:, 0], atol=1e-5)


def test_a_query_with_every_key_masked_gets_zeros_not_nan_and_finite_gradients():
    torch.manual_seed(0)
    attn = Attention(16, num_heads=2, context_dim=8)
    x, context = torch.randn(2, 3, 16, requires_grad=True), torch.randn(2, 5, 8)
    padding = torch.tensor([[False] * 5, [True, True, False, False, False]])  # sample 0 has no real context token
    out = attn(x, context, key_padding_mask=padding)
    assert torch.equal(out[0], torch.zeros(3, 16))  # the layer adds nothing to these tokens
    assert torch.isfinite(out).all() and not torch.equal(out[1], torch.zeros(3, 16))
    out.sum().backward()
    assert torch.isfinite(x.grad).all() and all(torch.isfinite(p.grad).all() for p in attn.parameters())
    # The reference defines the same rows as zeros (softmax over no key would be 0/0).
    q, k = torch.randn(1, 1, 2, 4), torch.randn(1, 1, 3, 4)
    rows = torch.tensor([[False] * 3, [True, False, True]])  # (L, S): query 0 sees nothing
    out = attention_reference(q, k, k, rows)
    assert torch.equal(out[0, 0, 0], torch.zeros(4)) and torch.isfinite(out).all()
    # One row fully masked in a 3-D attn_mask, self-attention: zeros there, the reference elsewhere.
    self_attn, y = Attention(16, num_heads=2), torch.randn(2, 3, 16)
    full = torch.ones(2, 3, 3, dtype=torch.bool)
    full[1, 2] = False
    got = self_attn(y, attn_mask=full)
    assert torch.equal(got[1, 2], torch.zeros(16))
    assert torch.allclose(got, _self_attention_by_hand(self_attn, y, full[:, None]), atol=1e-5)


def test_attention_mask_errors_name_the_argument_and_shape():
    attn, cross = Attention(8, 2), Attention(8, 2, context_dim=4)
    x, context = torch.randn(2, 3, 8), torch.randn(2, 5, 4)
    with pytest.raises(ValueError, match=r"key_padding_mask must be a bool tensor \(True = attend\), got dtype "
                                         r"torch.float32; for a 0/1 mask pass mask.bool\(\)"):
        cross(x, context, key_padding_mask=torch.ones(2, 5))
    with pytest.raises(ValueError, match="attn_mask must be a bool tensor.*torch.int64"):
        attn(x, attn_mask=torch.ones(3, 3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"key_padding_mask must have shape \(B, S\) = \(2, 5\), got \(2, 3\)"):
        cross(x, context, key_padding_mask=torch.ones(2, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"attn_mask must have shape \(L, S\) = \(3, 3\) or \(B, L, S\) = "
                                         r"\(2, 3, 3\), got \(2, 3\); a per-sample \(B, S\) padding mask goes "
                                         r"in key_padding_mask"):
        attn(x, attn_mask=torch.ones(2, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"attn_mask must have shape .* got \(2, 2, 3, 3\)$"):
        attn(x, attn_mask=torch.ones(2, 2, 3, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="key_padding_mask must be a bool tensor of shape .* got list"):
        attn(x, key_padding_mask=[[True] * 3] * 2)
    with pytest.raises(ValueError, match="is_causal orders a sequence against itself.*pass attn_mask"):
        cross(x, context, is_causal=True)
    with pytest.raises(ValueError, match="is_causal must be True or False, got 1"):
        attn(x, is_causal=1)
    with pytest.raises(TypeError):  # the old ambiguous `mask` is gone: say which mask you mean
        attn(x, mask=torch.ones(2, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="mask must be a bool tensor"):
        attention_reference(torch.randn(1, 2, 4), torch.randn(1, 3, 4), torch.randn(1, 3, 4), torch.ones(2, 3))


def test_transformer_block_masks_and_cross_attention():
    torch.manual_seed(0)
    plain, crossing = TransformerBlock(16, 2), TransformerBlock(16, 2, context_dim=8)
    # Without context_dim the block is exactly the old one: no new parameters.
    assert sum(p.numel() for p in plain.parameters()) == 2 * 16 + (4 * 16 * 16 + 4 * 16) + 2 * 16 + (
        16 * 64 + 64 + 64 * 16 + 16)
    assert crossing.cross is not None and plain.cross is None
    x, context = torch.randn(2, 4, 16), torch.randn(2, 3, 8)
    padding = torch.tensor([[True, True, False], [True, True, True]])
    # By hand: pre-norm residual self-attention, cross-attention, MLP.
    h = x + crossing.attn(crossing.norm1(x), is_causal=True)
    h = h + crossing.cross(crossing.norm_cross(h), context, key_padding_mask=padding)
    expected = h + crossing.mlp(crossing.norm2(h))
    got = crossing(x, is_causal=True, context=context, context_mask=padding)
    assert torch.allclose(got, expected, atol=1e-6)
    tokens = torch.tensor([[True] * 4, [True, True, True, False]])
    expected = x + plain.attn(plain.norm1(x), key_padding_mask=tokens)
    assert torch.allclose(plain(x, key_padding_mask=tokens), expected + plain.mlp(plain.norm2(expected)), atol=1e-6)
    with pytest.raises(ValueError, match="cross-attends.*pass context"):
        crossing(x)
    with pytest.raises(ValueError, match="no cross-attention.*context_dim"):
        plain(x, context=context)
    with pytest.raises(ValueError, match="no cross-attention"):
        plain(x, context_mask=padding)
    with pytest.raises(ValueError, match="key_padding_mask must be a bool tensor"):
        plain(x, key_padding_mask=tokens.float())


def test_attention_errors():
    with pytest.raises(ValueError, match="divisible"):
        Attention(30, num_heads=4)
    with pytest.raises(ValueError, match="cross-attention layer"):
        Attention(8, 2, context_dim=4)(torch.randn(1, 3, 8))
    with pytest.raises(ValueError, match="self-attention layer"):
        Attention(8, 2)(torch.randn(1, 3, 8), torch.randn(1, 2, 8))
