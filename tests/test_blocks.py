"""minisora.blocks: timestep/label embeddings and attention, against closed forms and the plain formula."""

import math

import pytest
import torch
import torch.nn.functional as F

from minisora.blocks import Attention, LabelEmbedder, TimestepEmbedder, attention_reference, timestep_embedding
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


def test_cross_attention_and_mask_match_the_plain_formula():
    torch.manual_seed(0)
    attn = Attention(16, num_heads=2, context_dim=12)
    x, context = torch.randn(3, 5, 16), torch.randn(3, 4, 12)
    mask = torch.tensor([[True, True, False, False], [True] * 4, [True, False, False, False]])  # (B, S)
    q = _split_heads(attn.to_q(x), 2)
    k, v = _split_heads(attn.to_k(context), 2), _split_heads(attn.to_v(context), 2)
    out = attention_reference(q, k, v, mask[:, None, None, :].expand(3, 2, 5, 4))
    expected = attn.to_out(out.transpose(1, 2).reshape(3, 5, 16))
    assert torch.allclose(attn(x, context, mask), expected, atol=1e-5)
    # A masked-out context token changes nothing.
    changed = context.clone()
    changed[0, 3] += 100
    assert torch.allclose(attn(x, changed, mask)[0], attn(x, context, mask)[0], atol=1e-5)


def test_attention_errors():
    with pytest.raises(ValueError, match="divisible"):
        Attention(30, num_heads=4)
    with pytest.raises(ValueError, match="cross-attention layer"):
        Attention(8, 2, context_dim=4)(torch.randn(1, 3, 8))
    with pytest.raises(ValueError, match="self-attention layer"):
        Attention(8, 2)(torch.randn(1, 3, 8), torch.randn(1, 2, 8))
