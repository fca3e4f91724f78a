"""The lessons' block diagrams are drawn from a config: the numbers on them are the config's."""

import dataclasses

import matplotlib
import pytest

matplotlib.use("Agg")

from minisora.models import DIT_PRESETS, DiT  # noqa: E402
from minisora.models.diagrams import draw_adaln_zero_block, draw_dit  # noqa: E402


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
