"""Tests for the switches in minisora.core: fast mode, device, seeding."""

import random

import numpy as np
import pytest
import torch

import minisora
from minisora.core import fast_mode_from_env, get_device, seed_everything


@pytest.mark.parametrize(
    "environ, expected",
    [
        ({}, False),
        ({"MINISORA_FAST": "1"}, True),
        ({"MINISORA_FAST": "true"}, True),
        ({"CI": "true"}, True),
        ({"CI": "1"}, True),
        ({"CI": "false"}, False),
        ({"CI": "true", "MINISORA_FAST": "0"}, False),  # an explicit switch wins over CI
        ({"MINISORA_FAST": ""}, False),
    ],
)
def test_fast_mode_switch(environ, expected):
    assert fast_mode_from_env(environ) is expected


def test_package_exports_the_switch():
    assert isinstance(minisora.FAST, bool)


def test_get_device_prefers_what_exists():
    device = get_device()
    if torch.cuda.is_available():
        assert device.type == "cuda"
    else:
        assert device.type in {"mps", "cpu"}
    assert get_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            get_device("cuda")


def test_seed_everything_makes_all_generators_repeat():
    generator = seed_everything(123)
    first = (random.random(), np.random.rand(), torch.rand(1).item(), torch.rand(1, generator=generator).item())
    generator = seed_everything(123)
    second = (random.random(), np.random.rand(), torch.rand(1).item(), torch.rand(1, generator=generator).item())
    assert first == second
    with pytest.raises(ValueError, match="non-negative int"):
        seed_everything(-1)


def test_count_flops_counts_convolutions_and_attention():
    import torch.nn.functional as F
    from torch import nn

    from minisora.core import count_flops

    conv = nn.Conv2d(16, 32, 3, padding=1)
    assert count_flops(lambda: conv(torch.randn(1, 16, 8, 8))) == 2 * 16 * 32 * 9 * 8 * 8
    q = torch.randn(1, 4, 64, 16)
    # QKᵀ and (softmax)V: two matmuls of 64 x 64 x 16 per head; the fused CPU kernel alone would count 0.
    assert count_flops(lambda: F.scaled_dot_product_attention(q, q, q)) == 2 * (2 * 4 * 64 * 64 * 16)
    ops = count_flops(lambda: conv(torch.randn(1, 16, 8, 8)), by_operator=True)
    assert list(ops) == ["aten.convolution"]


def test_saved_tensor_bytes_counts_what_backward_needs():
    from torch import nn

    from minisora.core import saved_tensor_bytes

    layer = nn.Linear(100, 50)
    x = torch.randn(32, 100)
    # A linear layer saves its input (32 x 100 floats) for the weight gradient; the weight is a parameter
    # and is saved too (for the input gradient) only when the input requires grad.
    assert saved_tensor_bytes(lambda: layer(x)) == 32 * 100 * 4
    big = saved_tensor_bytes(lambda: layer(torch.randn(64, 100)))
    assert big == 2 * 32 * 100 * 4


def test_configure_returns_a_copy_so_editing_a_models_config_leaves_the_preset_alone():
    import dataclasses

    from minisora.core.config import configure
    from minisora.models import DIT_PRESETS, VAE, VAE_PRESETS, DiT, DiTConfig

    preset = DIT_PRESETS["mini/2"]
    model = DiT(preset)  # no overrides: this used to keep the preset object itself
    assert model.config == preset and model.config is not preset
    model.config.depth = 1
    assert DIT_PRESETS["mini/2"].depth == 6 and DiT(preset).config.depth == 6
    assert VAE(VAE_PRESETS["tiny"]).config is not VAE_PRESETS["tiny"]

    @dataclasses.dataclass
    class Listy:
        sizes: list = dataclasses.field(default_factory=lambda: [1, 2])

    base = Listy()
    configure(Listy, base, {}).sizes.append(3)  # deep: not even a list field is shared
    assert base.sizes == [1, 2]
    assert configure(DiTConfig, None, {"depth": 3}).depth == 3
    with pytest.raises(ValueError, match="expected a DiTConfig, got VAEConfig"):
        configure(DiTConfig, VAE_PRESETS["tiny"], {})
