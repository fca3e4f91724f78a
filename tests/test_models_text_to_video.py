"""TextToVideoModel (lesson 09): the text encoder inside the denoiser, frozen or trained, caption dropout, files."""

import dataclasses

import pytest
import torch

from minisora.core import load_model, save_checkpoint
from minisora.models import TextToVideoConfig, TextToVideoModel, VideoDiTConfig
from minisora.text.encoder import TEXT_ENCODER_PRESETS

TEXT = TEXT_ENCODER_PRESETS["tiny"]  # dim 32
DIT = VideoDiTConfig(num_frames=4, input_size=(4, 4), dim=32, depth=1, num_heads=2, context_dim=TEXT.dim)
CAPTIONS = ["a small red circle moving left", "a large blue square bouncing on a gray background"]


def tiny(**overrides) -> TextToVideoModel:
    torch.manual_seed(0)
    model = TextToVideoModel(TextToVideoConfig(dit=DIT, text=TEXT), **overrides)
    with torch.no_grad():  # a non-zero DiT, so outputs depend on their inputs
        for param in model.dit.parameters():
            param.copy_(torch.randn_like(param) * 0.2)
    return model


def batch(model, captions=CAPTIONS):
    ids, mask = model.tokenizer.encode(captions)
    return torch.randn(len(captions), 4, 4, 4, 4), torch.tensor([300.0] * len(captions)), ids, mask


def test_frozen_text_gets_no_gradient_and_trained_text_does():
    for train_text in (False, True):
        model = tiny(train_text=train_text).train()
        x, t, ids, mask = batch(model)
        model(x, t, ids, mask).pow(2).mean().backward()
        text_grads = [p.grad for p in model.text.parameters()]
        assert all(p.requires_grad == train_text for p in model.text.parameters())
        if train_text:
            assert any(g is not None and g.abs().max() > 0 for g in text_grads)
        else:
            assert all(g is None for g in text_grads)
        assert all(p.grad is not None for p in model.dit.parameters())


def test_no_caption_is_the_empty_caption():
    model = tiny().eval()
    x, t, ids, mask = batch(model)
    null_ids, null_mask = model.tokenizer.encode(["", ""])
    torch.testing.assert_close(model(x, t), model(x, t, null_ids, null_mask))
    assert (model(x, t) - model(x, t, ids, mask)).abs().max() > 1e-4


def test_caption_dropout_only_in_training():
    model = tiny(text_dropout_prob=0.999).train()
    x, t, ids, mask = batch(model)
    torch.manual_seed(3)
    dropped = model(x, t, ids, mask)
    model.eval()
    torch.testing.assert_close(dropped, model(x, t))  # every caption dropped to "" (p = 0.999)
    assert (model(x, t, ids, mask) - dropped).abs().max() > 1e-4  # eval: the captions are read


def test_trailing_padding_is_trimmed_without_changing_the_output():
    model = tiny().eval()
    x, t, ids, mask = batch(model)
    length = int(mask.sum(dim=1).max())
    torch.testing.assert_close(model(x, t, ids[:, :length], mask[:, :length]), model(x, t, ids, mask))


def test_word_tokens_follow_the_encoder_tokens_in_order_and_masked():
    model = tiny(word_tokens=True).eval()
    x, t, ids, mask = batch(model)
    text = model.encode_text(ids, mask)
    context, context_mask, pooled = model.text_condition(ids[:, :text.mask.shape[1]], text)
    length = text.mask.shape[1]
    assert context.shape == (2, 2 * length, TEXT.dim) and context_mask.shape == (2, 2 * length)
    torch.testing.assert_close(context[:, :length], text.tokens)  # the encoder's tokens come first, unchanged
    assert torch.equal(context_mask[:, length:], text.mask)
    words = context[:, length:]
    assert torch.all(words[~text.mask] == 0)  # padding stays zero, as the encoder's tokens do
    # normalized to the encoder tokens' scale, sqrt(D) per real token (LayerNorm's eps shrinks small vectors: 3 %)
    torch.testing.assert_close(words[text.mask].norm(dim=-1), torch.full((int(text.mask.sum()),), TEXT.dim ** 0.5),
                               rtol=0.03, atol=0.0)
    # a word's vector depends on the word and its place only: swapping one word changes that slot alone
    other, other_mask = model.tokenizer.encode(["a small red circle moving right", CAPTIONS[1]])
    changed = model.text_condition(other[:, :length], model.encode_text(other[:, :length], other_mask[:, :length]))[0]
    moved = (changed[0, length:] - words[0]).norm(dim=-1) > 1e-4
    assert moved.sum() == 1
    # the pooled vector gains the words' mean over the real tokens
    torch.testing.assert_close(pooled, text.pooled + words.sum(dim=1) / text.mask.sum(dim=1, keepdim=True))
    # and the DiT reads them: the same tokens with and without the words give different predictions
    plain = tiny().eval()
    plain.load_state_dict(model.state_dict())
    assert (plain(x, t, ids, mask) - model(x, t, ids, mask)).abs().max() > 1e-4


def test_word_tokens_are_frozen_with_the_encoder_and_train_with_it():
    for train_text in (False, True):
        model = tiny(word_tokens=True, train_text=train_text).train()
        x, t, ids, mask = batch(model)
        model(x, t, ids, mask).pow(2).mean().backward()
        grad = model.text.token_embed.weight.grad
        assert (grad is not None and grad.abs().max() > 0) == train_text


def test_checkpoint_round_trip_rebuilds_both_configs(tmp_path):
    model = tiny().eval()
    path = save_checkpoint(tmp_path / "t2v.pt", model)
    loaded = load_model(path, expect=TextToVideoModel)
    assert loaded.config == model.config
    x, t, ids, mask = batch(model)
    torch.testing.assert_close(loaded(x, t, ids, mask), model(x, t, ids, mask))


@pytest.mark.parametrize("overrides, words", [
    ({"dit": dataclasses.replace(DIT, context_dim=16)}, "context_dim"),
    ({"train_text": 1}, "train_text"),
    ({"word_tokens": "yes"}, "word_tokens"),
    ({"text_dropout_prob": 1.0}, "text_dropout_prob"),
    ({"text_dropout_prob": -0.1}, "text_dropout_prob"),
    ({"dit": "cpu"}, "dit=VideoDiTConfig"),
])
def test_bad_configs_are_refused_by_name(overrides, words):
    with pytest.raises(ValueError, match=words):
        TextToVideoConfig(**{"dit": DIT, "text": TEXT, **overrides})


def test_bad_inputs_are_refused_by_name():
    model = tiny()
    x, t, ids, mask = batch(model)
    with pytest.raises(ValueError, match="together"):
        model(x, t, ids)
    with pytest.raises(ValueError, match="one caption per video"):
        model(x, t, ids[:1], mask[:1])
    with pytest.raises(ValueError, match="x must be latents"):
        model(x[0], t, ids, mask)
    with pytest.raises(ValueError, match="mask must be a bool"):
        model(x, t, ids, mask.float())
    with pytest.raises(ValueError, match="ids must be integer"):
        model(x, t, ids.float(), mask)
