"""minisora.core.pixels: the [0, 1] <-> [-1, 1] pair, its clamp, and its refusals."""

import numpy as np
import pytest
import torch

from minisora.core import to_model_range, to_pixel_range


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
