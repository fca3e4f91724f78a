"""minisora.text.encoder: shapes, pinned sizes, padding invariance, the checkpoint round trip, clear errors;
and the text layer's imports."""

import ast
import pathlib

import pytest
import torch

from minisora.core import load_model, registered_networks, save_checkpoint
from minisora.text import TEXT_ENCODER_PRESETS, TextEmbedding, TextEncoder, TextEncoderConfig

CAPTIONS = ["a small red circle bouncing", "a video of one big blue box rising, the camera zooms in",
            "a large green triangle staying still and a small white square moving left on a gray background"]


def tiny(**overrides):
    torch.manual_seed(0)
    return TextEncoder(TEXT_ENCODER_PRESETS["tiny"], depth=2, **overrides).eval()


def test_shapes_and_what_is_returned():
    encoder = tiny()
    out = encoder.encode_text(CAPTIONS)
    L = encoder.config.context_length
    assert isinstance(out, TextEmbedding)
    assert out.tokens.shape == (3, L, 32) and out.mask.shape == (3, L) and out.pooled.shape == (3, 32)
    assert encoder.embed(out.pooled).shape == (3, 32)
    assert encoder.encode_text("a red circle").pooled.shape == (1, 32)


# Pinned so a change to the architecture is a decision, not an accident.
PARAMETER_COUNTS = {"tiny": 17_696, "small": 825_344}


@pytest.mark.parametrize("name", sorted(PARAMETER_COUNTS))
def test_parameter_counts(name):
    assert sum(p.numel() for p in TextEncoder(TEXT_ENCODER_PRESETS[name]).parameters()) == PARAMETER_COUNTS[name]


def test_pooled_is_the_mean_of_the_real_tokens_and_padding_is_zero():
    encoder = tiny()
    out = encoder.encode_text(CAPTIONS)
    for row in range(3):
        real = out.mask[row]
        assert torch.allclose(out.pooled[row], out.tokens[row, real].mean(dim=0), atol=1e-6)
        assert (out.tokens[row, ~real] == 0).all()


def test_padding_changes_neither_the_pooled_vector_nor_the_real_tokens():
    encoder = tiny()
    ids, mask = encoder.tokenizer.encode(CAPTIONS)
    padded = encoder(ids, mask)
    # Less padding: cut every row to the batch's longest caption.
    L = int(mask.sum(dim=1).max())
    short = encoder(ids[:, :L], mask[:, :L])
    assert torch.allclose(short.pooled, padded.pooled, atol=1e-5)
    assert torch.allclose(short.tokens, padded.tokens[:, :L], atol=1e-5)
    # Whatever sits in the padded slots: random words instead of <pad>.
    noisy = ids.clone()
    noisy[~mask] = torch.randint(4, encoder.tokenizer.vocab_size, (int((~mask).sum()),))
    scrambled = encoder(noisy, mask)
    assert torch.allclose(scrambled.pooled, padded.pooled, atol=1e-5)
    assert torch.allclose(scrambled.tokens[mask], padded.tokens[mask], atol=1e-5)
    # Alone or in a batch: the same vector.
    alone = encoder.encode_text(CAPTIONS[0])
    assert torch.allclose(alone.pooled[0], padded.pooled[0], atol=1e-5)
    # The check can fail: counting the padding as real moves the pooled vector.
    careless = encoder(noisy, torch.ones_like(mask))
    assert not torch.allclose(careless.pooled, padded.pooled, atol=1e-3)


def test_words_and_their_order_matter():
    encoder = tiny()
    pooled = encoder.encode_text(["a red circle", "a blue circle", "circle red a"]).pooled
    assert not torch.allclose(pooled[0], pooled[1], atol=1e-4)
    assert not torch.allclose(pooled[0], pooled[2], atol=1e-4)  # positions are seen


def test_dropout_only_in_training():
    encoder = tiny(dropout=0.5)
    ids, mask = encoder.tokenizer.encode(CAPTIONS)
    assert torch.equal(encoder(ids, mask).pooled, encoder(ids, mask).pooled)
    encoder.train()
    assert not torch.equal(encoder(ids, mask).pooled, encoder(ids, mask).pooled)


def test_reloads_from_its_checkpoint_with_its_vocabulary(tmp_path):
    encoder = tiny()
    path = save_checkpoint(tmp_path / "text.pt", encoder, note="test")
    loaded = load_model(path, expect=TextEncoder)
    assert "TextEncoder" in registered_networks() and loaded.checkpoint_metadata == {"note": "test"}
    assert loaded.config == encoder.config and loaded.tokenizer.tokens == encoder.tokenizer.tokens
    with torch.no_grad():
        a, b = encoder.encode_text(CAPTIONS), loaded.encode_text(CAPTIONS)
        assert torch.equal(a.tokens, b.tokens) and torch.equal(encoder.embed(a.pooled), loaded.embed(b.pooled))
    # A vocabulary of its own travels in the config: the file rebuilds the tokenizer that trained it.
    custom = TextEncoder(TEXT_ENCODER_PRESETS["tiny"], vocabulary=("red", "circle"), context_length=6)
    loaded = load_model(save_checkpoint(tmp_path / "custom.pt", custom))
    assert loaded.tokenizer.vocabulary == ("red", "circle") and loaded.tokenizer.context_length == 6
    assert loaded.token_embed.weight.shape == (6, 32)


def test_presets_are_not_shared_with_the_networks():
    encoder = TextEncoder(TEXT_ENCODER_PRESETS["tiny"])
    encoder.config.depth = 9
    assert TEXT_ENCODER_PRESETS["tiny"].depth == 1


def test_forward_refuses_malformed_input():
    encoder = tiny()
    ids, mask = encoder.tokenizer.encode(CAPTIONS)
    cases = [
        ((ids.float(), mask), "ids must be integer token ids"),
        ((ids.bool(), mask), "ids must be integer token ids"),
        ((ids[0], mask[0]), r"ids must have shape \(B, L\)"),
        ((ids[:0], mask[:0]), r"ids must have shape \(B, L\) with B >= 1"),
        ((torch.cat([ids, ids], 1), torch.cat([mask, mask], 1)), "1 <= L <= context_length=44"),
        ((ids, mask.long()), "mask must be a bool tensor"),
        ((ids, mask[:2]), r"mask \(2, 44\) must have the shape of ids \(3, 44\)"),
        ((ids + 1000, mask), "ids must lie in 0..77"),
        ((ids, torch.zeros_like(mask)), "a row of mask has no real token"),
        ((CAPTIONS, mask), "ids and mask must be tensors"),
    ]
    for args, message in cases:
        with pytest.raises(ValueError, match=message):
            encoder(*args)
    with pytest.raises(ValueError, match=r"pooled must be a tensor \(B, 32\)"):
        encoder.embed(torch.zeros(3, 16))
    with pytest.raises(ValueError, match="texts is empty"):
        encoder.encode_text([])
    with pytest.raises(ValueError, match=r"texts\[0\] is a int"):
        encoder.encode_text([1])


@pytest.mark.parametrize("overrides, message", [
    ({"dim": 30, "num_heads": 4}, "dim=30 is not divisible by num_heads=4"),
    ({"depth": 0}, "depth must be a positive int"),
    ({"embed_dim": 2.0}, "embed_dim must be a positive int"),
    ({"dropout": 1.0}, r"dropout must be in \[0, 1\)"),
    ({"vocabulary": ("red", "red")}, "more than once"),
    ({"context_length": 1}, "context_length must be an int >= 2"),
])
def test_config_errors(overrides, message):
    with pytest.raises(ValueError, match=message):
        TextEncoderConfig(**overrides)


PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "minisora"


def test_the_text_layer_reads_data_only_for_the_grammar_in_the_tokenizer():
    for path in sorted((PACKAGE / "text").glob("*.py")):
        modules = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("minisora."):
                modules.add(node.module)
            elif isinstance(node, ast.Import):
                modules |= {alias.name for alias in node.names if alias.name.startswith("minisora.")}
        layers = {name.split(".")[1] for name in modules}
        assert layers <= {"core", "blocks", "text", "data"}, (path.name, layers)
        data = {name for name in modules if name.split(".")[1] == "data"}
        if path.name == "tokenizer.py":
            assert data == {"minisora.data.captions", "minisora.data.scene"}
        else:
            assert not data, (path.name, data)
