"""minisora.text.clip (the loss against a written-out reference, the logit scale, retrieval on known answers)
and minisora.models.clip (the paired model, its checkpoint, the text tower alone)."""

import dataclasses
import math

import pytest
import torch

from minisora.core import load_model, save_checkpoint
from minisora.models import (
    CLIP_PRESETS,
    VAE,
    VAE_PRESETS,
    CLIPConfig,
    CLIPModel,
    ViViTConfig,
    load_text_encoder,
    save_text_encoder,
)
from minisora.text import TEXT_ENCODER_PRESETS, LogitScale, TextEncoder, clip_loss, retrieval, similarity


def reference_clip_loss(text, video, scale, groups=None):
    """Figure 3 of Radford et al. with loops, in float64: mean over i of -log softmax, both directions;
    with groups, negatives of the pair's own group are skipped."""
    text, video = text.double(), video.double()
    t = [row / math.sqrt(float((row * row).sum())) for row in text]
    v = [row / math.sqrt(float((row * row).sum())) for row in video]
    B = len(t)
    logit = [[scale * float((t[i] * v[j]).sum()) for j in range(B)] for i in range(B)]

    def kept(i, j):
        return groups is None or i == j or groups[i] != groups[j]

    text_to_video = video_to_text = 0.0
    for i in range(B):
        text_to_video += -logit[i][i] + math.log(sum(math.exp(logit[i][j]) for j in range(B) if kept(i, j)))
        video_to_text += -logit[i][i] + math.log(sum(math.exp(logit[j][i]) for j in range(B) if kept(j, i)))
    return (text_to_video / B + video_to_text / B) / 2


def test_clip_loss_equals_the_written_out_reference():
    torch.manual_seed(0)
    text, video = torch.randn(6, 5), torch.randn(6, 5)
    for scale in (1.0, 1 / 0.07, torch.tensor(20.0)):
        assert clip_loss(text, video, scale).item() == pytest.approx(reference_clip_loss(text, video, float(scale)),
                                                                     rel=1e-5)


def test_clip_loss_with_groups_leaves_same_group_pairs_out_of_the_negatives():
    torch.manual_seed(1)
    text, video = torch.randn(6, 5), torch.randn(6, 5)
    groups = ["red", "blue", "red", "green", "blue", "red"]
    masked = clip_loss(text, video, 10.0, groups=groups)
    assert masked.item() == pytest.approx(reference_clip_loss(text, video, 10.0, groups), rel=1e-5)
    assert masked.item() < clip_loss(text, video, 10.0).item()  # fewer negatives, a smaller loss
    # Distinct groups are plain CLIP; integer tensors work as labels too.
    assert torch.allclose(clip_loss(text, video, 10.0, groups=torch.arange(6)), clip_loss(text, video, 10.0))
    as_ids = clip_loss(text, video, 10.0, groups=torch.tensor([0, 1, 0, 2, 1, 0]))
    assert torch.allclose(as_ids, masked)


def test_clip_loss_properties():
    torch.manual_seed(2)
    text, video = torch.randn(4, 8), torch.randn(4, 8)
    # Normalized inside: the length of an embedding does not matter.
    assert torch.allclose(clip_loss(3 * text, video * 0.1, 5.0), clip_loss(text, video, 5.0), atol=1e-6)
    assert torch.allclose(clip_loss(video, text, 5.0), clip_loss(text, video, 5.0), atol=1e-6)  # symmetric
    aligned = torch.eye(4, 8)
    assert clip_loss(aligned, aligned, 100.0).item() < 1e-6  # every pair found with certainty
    assert clip_loss(aligned, aligned, 1.0).item() == pytest.approx(math.log(1 + 3 * math.exp(-1)), rel=1e-5)
    scale = LogitScale()
    loss = clip_loss(text.requires_grad_(), video, scale())
    loss.backward()
    assert scale.log_scale.grad is not None and text.grad.abs().sum() > 0


def test_logit_scale_starts_at_one_over_0_07_and_is_clamped_at_100():
    scale = LogitScale()
    assert scale.log_scale.item() == pytest.approx(math.log(1 / 0.07))
    assert scale().item() == pytest.approx(1 / 0.07, rel=1e-6)
    scale().backward()
    assert scale.log_scale.grad.item() == pytest.approx(1 / 0.07, rel=1e-5)  # d exp(τ)/dτ below the clamp
    with torch.no_grad():
        scale.log_scale.fill_(10.0)
    scale.log_scale.grad = None
    value = scale()
    assert value.item() == pytest.approx(100.0, rel=1e-6) and scale.log_scale.item() == 10.0  # the parameter kept
    value.backward()
    assert scale.log_scale.grad.item() == 0.0  # past the clamp, no gradient pushes it further
    assert LogitScale(0.5, 10.0)().item() == pytest.approx(2.0)


def test_retrieval_on_a_toy_matrix_with_known_answers():
    # 3 captions x 4 clips; clips 0 and 1 share caption 0's group.
    sims = torch.tensor([[0.1, 0.9, 0.5, 0.2],    # group a: best hit clip 1 (0.9) beats all -> rank 1
                         [0.8, 0.3, 0.4, 0.6],    # group b (clip 2, 0.4): 0.8 and 0.6 beat it -> rank 3
                         [0.2, 0.7, 0.1, 0.65]])  # group c (clip 3, 0.65): 0.7 beats it -> rank 2
    scores = retrieval(sims, ["a", "b", "c"], ["a", "a", "b", "c"], ks=(1, 2, 5))
    assert scores["text_to_video"] == {"top1": pytest.approx(1 / 3), "top2": pytest.approx(2 / 3), "top5": 1.0,
                                       "mean_rank": pytest.approx(2.0)}
    # Clips as queries (columns): clip 0 (a): 0.1 vs b 0.8, c 0.2 -> rank 3; clip 1 (a): 0.9 best -> 1;
    # clip 2 (b): 0.4 vs a 0.5 -> 2; clip 3 (c): 0.65 vs b 0.6, a 0.2 -> 1.
    assert scores["video_to_text"] == {"top1": 0.5, "top2": 0.75, "top5": 1.0, "mean_rank": pytest.approx(7 / 4)}


def test_retrieval_ties_count_against_the_query():
    scores = retrieval(torch.zeros(4, 4), [0, 1, 2, 3], [0, 1, 2, 3])
    assert scores["text_to_video"]["top1"] == 0.0 and scores["text_to_video"]["mean_rank"] == 4.0
    perfect = retrieval(torch.eye(4), torch.arange(4), torch.arange(4), ks=(1,))
    assert perfect["text_to_video"] == perfect["video_to_text"] == {"top1": 1.0, "mean_rank": 1.0}


def test_similarity_is_the_cosine_matrix():
    torch.manual_seed(3)
    text, video = torch.randn(3, 6), torch.randn(5, 6)
    expected = torch.nn.functional.cosine_similarity(text[:, None], video[None], dim=-1)
    assert similarity(text, video).shape == (3, 5) and torch.allclose(similarity(text, video), expected, atol=1e-6)


@pytest.mark.parametrize("args, message", [
    ((torch.randn(4, 8), torch.randn(3, 8), 1.0), "text_emb has 4 rows but video_emb 3"),
    ((torch.randn(4, 8), torch.randn(4, 6), 1.0), "text_emb has width 8 but video_emb 6"),
    ((torch.randn(4), torch.randn(4), 1.0), r"text_emb must have shape \(B, E\)"),
    ((torch.randn(0, 8), torch.randn(0, 8), 1.0), "with B, E >= 1"),
    ((torch.ones(4, 8, dtype=torch.long), torch.randn(4, 8), 1.0), "text_emb must be a float tensor"),
    (([[1.0]], torch.randn(1, 1), 1.0), "text_emb must be a float tensor"),
    ((torch.randn(4, 8), torch.randn(4, 8), 0.0), "logit_scale must be a positive finite number"),
    ((torch.randn(4, 8), torch.randn(4, 8), -1.0), "logit_scale must be a positive finite number"),
    ((torch.randn(4, 8), torch.randn(4, 8), math.inf), "logit_scale must be a positive finite number"),
    ((torch.randn(4, 8), torch.randn(4, 8), True), "logit_scale must be a positive finite number"),
    ((torch.randn(4, 8), torch.randn(4, 8), torch.ones(2)), "logit_scale must be one positive float"),
])
def test_clip_loss_refuses_malformed_input(args, message):
    with pytest.raises(ValueError, match=message):
        clip_loss(*args)


def test_clip_loss_refuses_bad_groups():
    text, video = torch.randn(3, 4), torch.randn(3, 4)
    with pytest.raises(ValueError, match="groups has 2 labels but there are 3 items"):
        clip_loss(text, video, 1.0, groups=["a", "b"])
    with pytest.raises(ValueError, match="groups must be a 1-D integer tensor"):
        clip_loss(text, video, 1.0, groups=torch.zeros(3))
    with pytest.raises(ValueError, match="groups must be a list of labels"):
        clip_loss(text, video, 1.0, groups="abc")
    with pytest.raises(ValueError, match=r"groups\[1\] = 0.5 is not a label"):
        clip_loss(text, video, 1.0, groups=[1, 0.5, 2])


@pytest.mark.parametrize("args, message", [
    ((torch.zeros(2, 2, dtype=torch.long), [0, 1], [0, 1]), "similarity must be a float tensor"),
    ((torch.zeros(2), [0, 1], [0, 1]), "similarity must be a float tensor"),
    ((torch.zeros(0, 2), [], [0, 1]), "similarity is empty"),
    ((torch.full((2, 2), math.nan), [0, 1], [0, 1]), "similarity holds NaN"),
    ((torch.zeros(2, 3), [0, 1], [0, 1]), "video_groups has 2 labels but there are 3 items"),
    ((torch.zeros(2, 2), [0, 1, 2], [0, 1]), "text_groups has 3 labels but there are 2 items"),
    ((torch.zeros(2, 2), [0, 2], [0, 1]), "text 1 has no video of its group"),
    ((torch.zeros(2, 3), [0, 1], [0, 1, 5]), "video 2 has no text of its group"),
])
def test_retrieval_refuses_malformed_input(args, message):
    with pytest.raises(ValueError, match=message):
        retrieval(*args)


@pytest.mark.parametrize("ks", [(), (0,), (1.0,), 5, (True,)])
def test_retrieval_refuses_bad_ks(ks):
    with pytest.raises(ValueError, match="ks must be a non-empty list of positive ints"):
        retrieval(torch.eye(2), [0, 1], [0, 1], ks=ks)


def test_logit_scale_refuses_bad_settings():
    with pytest.raises(ValueError, match="init_temperature must be a positive number"):
        LogitScale(0.0)
    with pytest.raises(ValueError, match="max_scale must be finite and >= 1/init_temperature"):
        LogitScale(0.07, 10.0)


# -- the paired model (minisora.models.clip) ---------------------------------------------------------------

def tiny_clip():
    torch.manual_seed(0)
    return CLIPModel(CLIP_PRESETS["tiny"]).eval()


CAPTIONS = ["a small red circle bouncing", "one big blue box rising, the camera zooms in"]


def test_clip_model_embeds_both_towers_into_one_space():
    model = tiny_clip()
    video = torch.rand(2, 4, 3, 16, 16) * 2 - 1
    ids, mask = model.tokenizer.encode(CAPTIONS)
    out = model(video, ids, mask)
    assert out.text.shape == out.video.shape == (2, 32) and out.logit_scale.item() == pytest.approx(1 / 0.07)
    assert torch.allclose(out.text, model.encode_text(CAPTIONS), atol=1e-6)
    assert torch.allclose(out.video, model.embed_video(video))
    assert clip_loss(*out).ndim == 0
    with pytest.raises(ValueError, match="one row per pair"):
        model(video[:1], ids, mask)
    with pytest.raises(ValueError, match=r"this ViViT takes videos \(B, 4, 3, 16, 16\)"):
        model(torch.rand(2, 5, 3, 16, 16), ids, mask)


# Pinned: the towers of each preset (text + video + the logit scale).
CLIP_PARAMETERS = {"tiny": (17_696, 26_144, 43_841), "small": (825_344, 496_928, 1_322_273)}


@pytest.mark.parametrize("name", sorted(CLIP_PARAMETERS))
def test_clip_parameter_counts(name):
    model = CLIPModel(CLIP_PRESETS[name])
    counts = tuple(sum(p.numel() for p in part.parameters()) for part in (model.text, model.video, model))
    assert counts == CLIP_PARAMETERS[name]


def test_clip_checkpoint_round_trip_and_the_text_tower_alone(tmp_path):
    model = tiny_clip()
    with torch.no_grad():
        model.logit_scale.log_scale.fill_(3.0)
    path = save_checkpoint(tmp_path / "clip.pt", model, run="x")
    loaded = load_model(path, expect=CLIPModel)
    assert loaded.config == model.config and loaded.logit_scale.log_scale.item() == 3.0
    video = torch.rand(2, 4, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(loaded.embed_video(video), model.embed_video(video))
        text = load_text_encoder(path)
        assert isinstance(text, TextEncoder) and text.checkpoint_metadata == {"run": "x"}
        assert torch.equal(text.embed(text.encode_text(CAPTIONS).pooled), model.encode_text(CAPTIONS))
        standalone = load_model(save_text_encoder(model, tmp_path / "text.pt", run="y"), expect=TextEncoder)
        assert torch.equal(standalone.encode_text(CAPTIONS).tokens, model.text.encode_text(CAPTIONS).tokens)
        assert load_text_encoder(tmp_path / "text.pt").checkpoint_metadata == {"run": "y"}
    save_checkpoint(tmp_path / "vae.pt", VAE(VAE_PRESETS["tiny"]))
    with pytest.raises(ValueError, match="holds a VAE, not a TextEncoder or a CLIPModel"):
        load_text_encoder(tmp_path / "vae.pt")
    with pytest.raises(ValueError, match="model must be a CLIPModel or a TextEncoder, got VAE"):
        save_text_encoder(VAE(VAE_PRESETS["tiny"]), tmp_path / "no.pt")


def test_clip_config_errors():
    with pytest.raises(ValueError, match="text.embed_dim=32 but video.num_classes=6"):
        CLIPConfig(text=TEXT_ENCODER_PRESETS["tiny"], video=ViViTConfig())
    with pytest.raises(ValueError, match="CLIPConfig takes text=TextEncoderConfig and video=ViViTConfig"):
        CLIPConfig(text=TEXT_ENCODER_PRESETS["tiny"], video="vivit")
    with pytest.raises(ValueError, match="max_scale must be finite"):
        CLIPConfig(max_logit_scale=5.0)
    # A checkpoint's nested dicts build the same config.
    assert CLIPConfig(**dataclasses.asdict(CLIP_PRESETS["tiny"])) == CLIP_PRESETS["tiny"]
