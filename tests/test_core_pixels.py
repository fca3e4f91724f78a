"""minisora.core.pixels: the [0, 1] <-> [-1, 1] pair, its clamp, its refusals, and the pixels off the background."""

import numpy as np
import pytest
import torch

from minisora.core import off_background, to_model_range, to_pixel_range


def test_the_two_ranges_map_onto_each_other():
    pixels = torch.linspace(0, 1, 11).reshape(1, 11, 1, 1)  # any shape
    model = to_model_range(pixels)
    assert torch.allclose(model, torch.linspace(-1, 1, 11).reshape(1, 11, 1, 1), atol=1e-6)
    assert torch.allclose(to_pixel_range(model), pixels, atol=1e-6)
    assert to_model_range(torch.zeros(0, 3)).shape == (0, 3)  # nothing to check in an empty tensor


def test_to_pixel_range_clamps_overshoot_and_keeps_nan():
    out = to_pixel_range(torch.tensor([-1.3, -1.0, 0.0, 1.0, 1.2, float("nan")]))
    assert torch.equal(out[:5], torch.tensor([0.0, 0.0, 0.5, 1.0, 1.0]))
    assert out[5].isnan()  # a diverged model still fails where the video is shown or saved


def test_gradients_flow_through_both():
    x = torch.rand(4, requires_grad=True)
    to_pixel_range(to_model_range(x) * 0.5).sum().backward()
    assert torch.allclose(x.grad, torch.full((4,), 0.5))


def test_refusals_name_the_argument_and_the_fix():
    with pytest.raises(ValueError, match=r"x must hold pixels in \[0, 1\], got values in \[-1, 1\]; "
                                         r"it looks converted"):
        to_model_range(torch.tensor([-1.0, 0.0, 1.0]))  # converted twice
    with pytest.raises(ValueError, match=r"got values in \[0, 255\]"):
        to_model_range(torch.tensor([0.0, 255.0]))
    with pytest.raises(ValueError, match=r"values in \[nan, nan\]"):
        to_model_range(torch.tensor([float("nan")]))
    with pytest.raises(ValueError, match=r"x must be a float tensor of pixels in \[0, 1\], got dtype torch.uint8; "
                                         r"for uint8 frames use x.float\(\) / 255"):
        to_model_range(torch.zeros(2, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"x must be a torch.Tensor of pixels in \[-1, 1\], got ndarray"):
        to_pixel_range(np.zeros(2))
    with pytest.raises(ValueError, match="got dtype torch.int64"):
        to_pixel_range(torch.zeros(2, dtype=torch.long))
    assert to_model_range(torch.tensor([1.00001])).item() == pytest.approx(1.00002)  # rounding slack is accepted


def test_off_background_finds_the_pixels_off_each_frames_median_colour():
    frames = torch.full((2, 3, 8, 8), 0.5)  # two gray frames (F, C, H, W)
    frames[0, 0, 2:4, 2:4] = 1.0  # a red-ish square in frame 0
    frames[1, :, 5, 6] = 0.0  # one black pixel in frame 1
    mask = off_background(frames, 0.25)
    assert mask.shape == (2, 1, 8, 8) and mask.dtype == torch.bool
    assert mask[0, 0].sum() == 4 and bool(mask[0, 0, 2:4, 2:4].all())
    assert mask[1, 0].sum() == 1 and bool(mask[1, 0, 5, 6])
    # In the network's range the same pixels, at the threshold scaled by 2.
    assert torch.equal(off_background(to_model_range(frames), 0.5), mask)
    assert not off_background(frames, 0.6).any()  # a difference of 0.5 is not more than 0.6


@pytest.mark.parametrize(("frames", "threshold", "words"), [
    (torch.zeros(8, 8), 0.1, r"frames must have shape \(\.\.\., C, H, W\)"),
    (torch.zeros(3, 8, 8, dtype=torch.uint8), 0.1, "x.float\\(\\) / 255"),
    (torch.zeros(3, 8, 8), 0.0, "threshold must be a positive number"),
    (torch.zeros(3, 8, 8), "0.1", "threshold must be a positive number"),
])
def test_off_background_errors(frames, threshold, words):
    with pytest.raises(ValueError, match=words):
        off_background(frames, threshold)
