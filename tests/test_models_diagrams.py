"""The lessons' block diagrams are drawn from a config: the numbers on them are the config's."""

import dataclasses

import matplotlib
import pytest

matplotlib.use("Agg")

from minisora.models import DIT_PRESETS, DiT, ViViTConfig  # noqa: E402
from minisora.models.diagrams import draw_adaln_zero_block, draw_dit, draw_unet, draw_vae, draw_vivit  # noqa: E402


def test_the_dit_diagram_says_what_the_config_builds():
    config = dataclasses.replace(DIT_PRESETS["mini/2"], input_size=(8, 8), in_channels=4, num_classes=(8, 3))
    labels = "\n".join(draw_dit(config).diagram_labels)
    model = DiT(config)
    tokens = model.config.input_size[0] // 2 * model.config.input_size[1] // 2
    assert f"{len(model.blocks)} x DiT block" in labels and f"{tokens} tokens of 16" in labels
    assert "width 128, 4 heads" in labels and "8 x 3 classes" in labels and "(4, 8, 8)" in labels
    assert "modulates every block" in labels and "final layer: adaLN" in labels


@pytest.mark.parametrize("conditioning, how",
                         [("in_context", "2 extra tokens"), ("cross_attention", "2-token context")])
def test_other_conditionings_are_drawn_as_they_are_built(conditioning, how):
    config = dataclasses.replace(DIT_PRESETS["S/4"], conditioning=conditioning)
    labels = "\n".join(draw_dit(config).diagram_labels)
    assert how in labels and "final layer: LayerNorm" in labels and "12 x DiT block" in labels
    assert "patchify p = 4:  64 tokens of 64" in labels  # 32x32x4 latents in 4x4 patches


def test_the_block_diagram_names_its_widths():
    labels = "\n".join(draw_adaln_zero_block(64, mlp_ratio=2.0).diagram_labels)
    assert "MLP 64 -> 128 -> 64" in labels and "6 x 64" in labels and "zero-initialized" in labels


def test_the_unet_diagram_follows_its_config():
    from minisora.models import UNET_PRESETS

    labels = "\n".join(draw_unet(dataclasses.replace(UNET_PRESETS["S"], num_classes=(8, 3))).diagram_labels)
    assert "16 ch at 32x32" in labels and "32 ch at 16x16" in labels and "64 ch at 8x8" in labels  # 16 x (1, 2, 4)
    assert "1 x resnet + attention\n64 ch" in labels and "2 x resnet\n16 ch" in labels  # attention at level 2 only
    assert "skips (concatenated)" in labels and "8 x 3 classes" in labels and "resnet, attention, resnet" in labels
    plain = "\n".join(draw_unet(dataclasses.replace(UNET_PRESETS["S"], use_skips=False, mid_attention=False,
                                                    attention_levels=())).diagram_labels)
    assert "skips" not in plain and "+ attention" not in plain and "middle: resnet, resnet" in plain


def test_the_vae_diagram_names_its_latent():
    from minisora.models import VAE_PRESETS

    labels = "\n".join(draw_vae(VAE_PRESETS["f4"]).diagram_labels)
    assert "(4, 8, 8): 4x smaller" in labels and "32x32x3 -> 8x8x4 (12x fewer numbers)" in labels
    assert "32 ch, 8x8" in labels and "2 x resnet\n16 ch, 32x32" in labels  # the decoder has one more resnet


def test_the_vivit_diagram_draws_all_four_variants_with_their_token_counts():
    labels = "\n".join(draw_vivit(ViViTConfig(num_frames=8, image_size=(16, 16), patch_size=4)).diagram_labels)
    for title in ("1. joint", "2. factorized encoder", "3. factorized self-attention", "4. factorized dot-product"):
        assert title in labels
    assert "f·s = 128 tokens" in labels and "mean of 16 -> 8 tokens" in labels and "2 heads within frame" in labels
    tubelets = "\n".join(draw_vivit(ViViTConfig(num_frames=8, image_size=(16, 16), tubelet_frames=2)).diagram_labels)
    assert "2x4x4 tubelets -> 4 x 16 tokens" in tubelets and "f·s = 64 tokens" in tubelets
