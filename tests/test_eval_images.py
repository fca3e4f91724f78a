"""minisora.eval.images: the judge on still frames."""

import pytest
import torch

from minisora.data import render
from minisora.data.frames import label_names, object_frames
from minisora.eval.images import image_census, judge_image, score_images, see_image


def test_real_frames_score_perfectly():
    frames = object_frames(40, seed=11)
    names = [label_names(row) for row in frames.labels]
    result = score_images(frames.images, [n[0] for n in names], [n[1] for n in names], frames.sizes)
    assert result == {"match": 1.0, "count": 1.0, "color": 1.0, "shape": 1.0, "size": 1.0, "n": 40}


def test_wrong_wishes_are_caught():
    frames = object_frames(1, seed=0)
    color, shape = frames.names(0)
    other_color = "green" if color != "green" else "red"
    other_shape = "circle" if shape != "circle" else "square"
    assert judge_image(frames.images[0], other_color) == {"count": True, "color": False}
    assert judge_image(frames.images[0], color, other_shape)["shape"] is False


def test_empty_and_crowded_images():
    black = torch.zeros(3, 32, 32)
    assert see_image(black) == {}
    assert judge_image(black, "red", "circle") == {"count": False, "color": False, "shape": False}
    two = render("a small red circle staying still and a large blue square staying still", num_frames=1).video[0]
    assert set(see_image(two)) == {"red", "blue"}
    assert judge_image(two, "red", "circle") == {"count": False, "color": True, "shape": True}
    one = object_frames(1, seed=0)
    census = image_census(torch.stack([black, two, one.images[0]]))
    assert census == {("none", "none"): 2, one.names(0): 1}


def test_errors():
    frames = object_frames(2, seed=0).images
    with pytest.raises(ValueError, match="one per image"):
        score_images(frames, ["red"])
    with pytest.raises(ValueError, match="unknown shape"):
        judge_image(frames[0], "red", "hexagon")
    with pytest.raises(ValueError, match="one image"):
        see_image(frames)
