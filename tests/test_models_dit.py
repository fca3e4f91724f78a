"""minisora.models.dit: shapes at any size, adaLN-Zero identity at init, guidance, errors, parameter counts."""

import pytest
import torch

from minisora.diffusion import guided_model
from minisora.models import CONDITIONINGS, DIT_PRESETS, DiT, DiTConfig, published_parameter_count
from minisora.models.dit import AdaLNZeroBlock

MINI = DiTConfig(dim=32, depth=2, num_heads=4, patch_size=2, in_channels=4, input_size=8, num_classes=(8, 3))


def randomize(model: DiT, std: float = 0.05) -> DiT:
    """Non-zero weights everywhere, so that every input reaches the output (a trained model's situation)."""
    torch.manual_seed(0)
    for p in model.parameters():
        torch.nn.init.normal_(p, std=std)
    return model.eval()


@pytest.mark.parametrize("conditioning", CONDITIONINGS)
@pytest.mark.parametrize("size", [(8, 8), (8, 16), (12, 4)])
def test_output_shape_equals_input_shape_at_any_size_the_patch_divides(conditioning, size):
    model = DiT(MINI, conditioning=conditioning)
    x = torch.randn(2, 4, *size)
    assert model(x, torch.tensor([0, 999]), torch.tensor([[1, 2], [8, 3]])).shape == x.shape


def test_unlabelled_dit_and_other_channel_counts():
    model = DiT(MINI, num_classes=(), in_channels=3, patch_size=4, input_size=16)
    x = torch.randn(2, 3, 16, 16)
    assert model(x, torch.tensor(5)).shape == x.shape
    with pytest.raises(ValueError, match="no label embedding"):
        model(x, torch.tensor(5), torch.tensor([[0, 0], [1, 1]]))


def test_adaln_zero_blocks_start_as_the_identity_and_the_output_at_zero():
    model = DiT(MINI)
    block = model.blocks[0]
    assert isinstance(block, AdaLNZeroBlock)
    tokens, c = torch.randn(2, 16, 32), torch.randn(2, 32)
    assert torch.equal(block(tokens, c), tokens)
    out = model(torch.randn(2, 4, 8, 8), torch.tensor([3, 500]), torch.tensor([[1, 2], [3, 0]]))
    assert torch.equal(out, torch.zeros_like(out))


def test_time_and_labels_change_a_trained_output_and_none_means_null():
    model = randomize(DiT(MINI))
    x, t, y = torch.randn(1, 4, 8, 8), torch.tensor([10]), torch.tensor([[1, 1]])
    base = model(x, t, y)
    assert not torch.allclose(base, model(x, torch.tensor([900]), y))
    assert not torch.allclose(base, model(x, t, torch.tensor([[2, 1]])))
    assert torch.equal(model(x, t), model(x, t, torch.tensor([[8, 3]])))


def test_labels_are_dropped_to_null_only_in_training():
    model = randomize(DiT(MINI, class_dropout_prob=0.5))
    x, t, y = torch.randn(64, 4, 8, 8), torch.full((64,), 10), torch.tensor([[1, 1]]).repeat(64, 1)
    assert torch.equal(model(x, t, y), model(x, t, y))  # eval: deterministic, no dropout
    model.train()
    torch.manual_seed(1)
    out = model(x, t, y)
    model.eval()
    null, cond = model(x, t), model(x, t, y)
    dropped = [torch.allclose(out[i], null[i], atol=1e-6) for i in range(64)]
    kept = [torch.allclose(out[i], cond[i], atol=1e-6) for i in range(64)]
    assert all(d != k for d, k in zip(dropped, kept))  # each sample is one or the other
    assert 16 < sum(dropped) < 48


@pytest.mark.parametrize("conditioning", CONDITIONINGS)
def test_guidance_scale_one_is_the_conditional_model_and_zero_the_unconditional(conditioning):
    model = randomize(DiT(MINI, conditioning=conditioning))
    x, t, y = torch.randn(3, 4, 8, 8), torch.tensor([5, 50, 500]), torch.tensor([[0, 1], [4, 2], [7, 0]])
    null = torch.tensor([[8, 3]])
    cond, uncond = model(x, t, y), model(x, t)
    assert torch.allclose(guided_model(model, 1.0, labels=null)(x, t, labels=y), cond, atol=1e-5)
    assert torch.allclose(guided_model(model, 0.0, labels=null)(x, t, labels=y), uncond, atol=1e-5)
    # every channel is guided (DiT's reference code guided 3 of 4)
    guided = guided_model(model, 4.0, labels=null)(x, t, labels=y)
    assert torch.allclose(guided, uncond + 4.0 * (cond - uncond), atol=1e-4)


def test_qk_norm_builds_and_runs():
    model = DiT(MINI, qk_norm=True)
    assert model(torch.randn(1, 4, 8, 8), torch.tensor([1])).shape == (1, 4, 8, 8)
    assert any("q_norm" in name for name, _ in model.named_parameters())


def test_initialize_weights_handles_linears_without_a_bias():
    from minisora.blocks import Attention

    model = DiT(MINI)
    for block in model.blocks:  # bias-free attention, as many LLMs build it
        block.attn = Attention(32, 4, bias=False)
    model.initialize_weights()  # used to fail on nn.init.zeros_(None)
    assert model.blocks[0].attn.to_q.bias is None
    assert torch.equal(model.blocks[0].mlp.fc1.bias, torch.zeros(128))  # the other biases still zeroed
    assert torch.equal(model.final.linear.weight, torch.zeros_like(model.final.linear.weight))
    x = torch.randn(2, 4, 8, 8)
    assert torch.equal(model(x, torch.tensor([1, 2])), torch.zeros_like(x))  # adaLN-Zero still starts at 0


def test_clear_errors():
    model = DiT(MINI)
    with pytest.raises(ValueError, match=r"height=9 is not divisible by the patch size 2; use height=8 or 10"):
        model(torch.randn(1, 4, 9, 8), torch.tensor([1]))
    with pytest.raises(ValueError, match=r"x must be \(B, 4, H, W\)"):
        model(torch.randn(1, 3, 8, 8), torch.tensor([1]))
    with pytest.raises(ValueError, match="one timestep per sample"):
        model(torch.randn(2, 4, 8, 8), torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match="labels out of range"):
        model(torch.randn(1, 4, 8, 8), torch.tensor([1]), torch.tensor([[9, 0]]))
    with pytest.raises(ValueError, match="unknown conditioning"):
        DiTConfig(conditioning="film")
    with pytest.raises(ValueError, match="not divisible by num_heads"):
        DiTConfig(dim=30, num_heads=4)
    with pytest.raises(ValueError, match="width=30 is not divisible by the patch size 4; use width=28 or 32"):
        DiTConfig(input_size=(32, 30), patch_size=4)


def count_by_hand(config: DiTConfig) -> int:
    """The adaLN-Zero DiT's parameters added up layer by layer (biases included)."""
    d, patch = config.dim, config.patch_size**2 * config.in_channels
    hidden = int(d * config.mlp_ratio)
    attention = 4 * (d * d + d)  # q, k, v, out
    mlp = d * hidden + hidden + hidden * d + d
    modulation = d * 6 * d + 6 * d  # shift, scale, gate for two branches
    blocks = config.depth * (attention + mlp + modulation)
    patch_embed = patch * d + d
    t_embed = 256 * d + d + d * d + d  # 256 sinusoid frequencies -> D -> D
    y_embed = sum(n + 1 for n in config.num_classes) * d  # + 1: the null label
    final = d * 2 * d + 2 * d + d * patch + patch
    return blocks + patch_embed + t_embed + y_embed + final


@pytest.mark.parametrize(
    "preset, count",
    [("S/2", 32_858_896), ("S/8", 33_043_456), ("B/2", 130_303_504), ("L/2", 457_824_272), ("XL/2", 674_816_272)],
)
def test_preset_parameter_counts_pinned_and_by_hand(preset, count):
    config = DIT_PRESETS[preset]
    with torch.device("meta"):  # shapes only
        model = DiT(config)
    assert sum(p.numel() for p in model.parameters()) == count == count_by_hand(config)


def test_published_counts_are_ours_plus_the_frozen_position_table_and_the_sigma_head():
    # DiT's README and paper: DiT-XL/2 has 675 M parameters; its code prints 675,129,632.
    assert published_parameter_count(DIT_PRESETS["XL/2"]) == 675_129_632
    assert round(published_parameter_count(DIT_PRESETS["S/2"]) / 1e6) == 33
