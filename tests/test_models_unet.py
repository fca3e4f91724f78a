"""minisora.models.unet: shapes, initialization, errors, pinned sizes, and diffusers' UNet2DModel as an oracle."""

import pytest
import torch

from minisora.models import UNET_PRESETS, UNet, UNetConfig
from minisora.models.diffusers_interop import diffusers_unet_kwargs, to_diffusers_state_dict

TINY = UNET_PRESETS["tiny"]


@pytest.mark.parametrize("size", [(16, 16), (32, 32), (16, 48), (40, 24)])
@pytest.mark.parametrize("preset", ["tiny", "S"])
def test_output_shape_equals_input_shape(preset, size):
    model = UNet(UNET_PRESETS[preset])
    x = torch.randn(2, 3, *size)
    assert model(x, torch.tensor([0, 999])).shape == x.shape


def test_other_channel_counts_and_labels():
    model = UNet(TINY, in_channels=4, out_channels=8, num_classes=(8, 3))
    out = model(torch.randn(3, 4, 8, 8), torch.tensor(10), torch.tensor([[0, 0], [7, 2], [8, 3]]))
    assert out.shape == (3, 8, 8, 8)


def test_output_starts_at_zero_and_blocks_start_as_shortcuts():
    model = UNet(UNET_PRESETS["S"], num_classes=(8, 3))
    out = model(torch.randn(2, 3, 32, 32), torch.tensor([3, 500]), torch.tensor([[1, 2], [3, 0]]))
    assert torch.equal(out, torch.zeros_like(out))
    resnet = model.down[0].resnets[0]
    h = torch.randn(2, resnet.conv1.in_channels, 8, 8)
    assert torch.equal(resnet(h, torch.randn(2, 4 * model.config.base_channels)), resnet.shortcut(h))


def test_time_and_labels_change_the_output_once_trained_weights_are_nonzero():
    torch.manual_seed(0)
    model = UNet(TINY, num_classes=(8, 3)).eval()
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.05)
    x = torch.randn(1, 3, 16, 16)
    base = model(x, torch.tensor([10]), torch.tensor([[1, 1]]))
    assert not torch.allclose(base, model(x, torch.tensor([900]), torch.tensor([[1, 1]])))
    assert not torch.allclose(base, model(x, torch.tensor([10]), torch.tensor([[2, 1]])))
    blind = UNet(TINY, use_time=False).eval()
    blind.load_state_dict(UNet(TINY).state_dict())
    for p in blind.parameters():
        torch.nn.init.normal_(p, std=0.05)
    assert torch.equal(blind(x, torch.tensor([10])), blind(x, torch.tensor([900])))


def test_ablations_build_and_run():
    x = torch.randn(2, 3, 16, 16)
    for overrides in (dict(attention_levels=(), mid_attention=False), dict(use_skips=False), dict(use_time=False)):
        assert UNet(TINY, **overrides)(x, torch.tensor([1, 2])).shape == x.shape
    no_attention = UNet(TINY, attention_levels=(), mid_attention=False)
    assert not any("attn" in name for name, _ in no_attention.named_parameters())


def test_clear_errors():
    model = UNet(UNET_PRESETS["S"])  # halves twice: sizes must be multiples of 4
    with pytest.raises(ValueError, match="height=30 is not divisible by 4.*use 28 or 32"):
        model(torch.randn(1, 3, 30, 32), torch.tensor([0]))
    with pytest.raises(ValueError, match="width=2 is not divisible by 4.*use 4"):
        model(torch.randn(1, 3, 32, 2), torch.tensor([0]))
    with pytest.raises(ValueError, match="expected 3 input channels"):
        model(torch.randn(1, 4, 32, 32), torch.tensor([0]))
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        model(torch.randn(1, 2, 3, 32, 32), torch.tensor([0]))
    with pytest.raises(ValueError, match="no label embedding"):
        model(torch.randn(1, 3, 32, 32), torch.tensor([0]), torch.tensor([[0, 0]]))
    with pytest.raises(ValueError, match=r"t must be one timestep per sample, shape \(2,\), or a scalar"):
        model(torch.randn(2, 3, 32, 32), torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="num_groups"):
        UNetConfig(base_channels=12, num_groups=8)
    with pytest.raises(ValueError, match="attention_levels"):
        UNetConfig(channel_mults=(1, 2), attention_levels=(2,))


# Pinned so a change to the architecture is a decision, not an accident.
PARAMETER_COUNTS = {"tiny": 190_947, "S": 717_507, "B": 9_593_539}


@pytest.mark.parametrize("preset", sorted(PARAMETER_COUNTS))
def test_preset_parameter_counts(preset):
    model = UNet(UNET_PRESETS[preset])
    assert sum(p.numel() for p in model.parameters()) == PARAMETER_COUNTS[preset]


# ---- diffusers' UNet2DModel as an oracle -------------------------------------------------


@pytest.mark.parametrize("preset", ["tiny", "S"])
def test_same_function_as_diffusers_unet2dmodel(preset, diffusers):
    torch.manual_seed(0)
    ours = UNet(UNET_PRESETS[preset]).eval()
    for p in ours.parameters():  # non-zero everywhere, so every layer matters
        torch.nn.init.normal_(p, std=0.05)
    theirs = diffusers.UNet2DModel(**diffusers_unet_kwargs(ours.config, 32)).eval()
    theirs.load_state_dict(to_diffusers_state_dict(ours.state_dict()))  # strict: the same tensors, all of them
    assert sum(p.numel() for p in theirs.parameters()) == sum(p.numel() for p in ours.parameters())
    x, t = torch.randn(2, 3, 32, 32), torch.tensor([5, 700])
    with torch.no_grad():
        assert torch.allclose(ours(x, t), theirs(x, t).sample, atol=1e-5)


def test_interop_refuses_what_diffusers_cannot_hold():
    with pytest.raises(ValueError, match="full U-Net"):
        diffusers_unet_kwargs(UNetConfig(use_skips=False))
    with pytest.raises(ValueError, match="one attention_head_dim"):
        diffusers_unet_kwargs(UNetConfig(channel_mults=(1, 2, 4), attention_levels=(1,)))
    with pytest.raises(ValueError, match="unconditional"):
        to_diffusers_state_dict(UNet(TINY, num_classes=(8, 3)).state_dict())
