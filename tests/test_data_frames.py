"""minisora.data.frames: labelled one-object frames for the image lessons."""

import pytest
import torch

from minisora.data import COLORS, SHAPES
from minisora.data.frames import NUM_LABELS, all_labels, label_names, labels_of, object_frames
from minisora.eval.images import see_image


def test_frames_shapes_labels_and_determinism():
    frames = object_frames(12, height=24, width=40, seed=3)
    assert frames.images.shape == (12, 3, 24, 40) and frames.labels.shape == (12, 2)
    assert frames.images.min() >= 0 and frames.images.max() <= 1
    assert torch.equal(frames.images, object_frames(12, height=24, width=40, seed=3).images)
    assert not torch.equal(frames.images, object_frames(12, height=24, width=40, seed=4).images)
    assert NUM_LABELS == (len(COLORS), len(SHAPES))


def test_labels_say_what_the_frame_shows():
    frames = object_frames(20, seed=0)
    for i in range(len(frames)):
        color, shape = frames.names(i)
        seen = see_image(frames.images[i])
        assert list(seen) == [color] and seen[color]["shape"] == shape and seen[color]["size"] == frames.sizes[i]


def test_label_helpers_round_trip():
    labels = all_labels()
    assert labels.shape == (24, 2) and len({tuple(row.tolist()) for row in labels}) == 24
    for row in labels:
        assert torch.equal(labels_of(*label_names(row)), row)
    with pytest.raises(ValueError, match="unknown color"):
        labels_of("purple", "circle")


def test_errors():
    with pytest.raises(ValueError, match="positive int"):
        object_frames(0)
    with pytest.raises(ValueError, match="at least 8x8"):
        object_frames(2, height=4)
