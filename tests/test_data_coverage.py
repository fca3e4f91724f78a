"""Where the objects are (minisora.data.coverage) and element-weighted losses (lesson 09's object_weight)."""

import pytest
import torch

from minisora.data import BouncingShapes, coverage_weights, object_coverage, object_mask
from minisora.data.scene import ObjectSpec, SceneSpec
from minisora.data.world import render_scene
from minisora.diffusion import NoiseProcess, flow_matching_loss, make_schedule, training_loss


def _clip(background="black", size="large"):
    spec = SceneSpec(objects=(ObjectSpec("red", "square", size, "still"),), background=background)
    return render_scene(spec, num_frames=2, height=32, width=32).video  # (F, 3, H, W) in [0, 1]


@pytest.mark.parametrize("background", ["black", "gray"])
def test_the_mask_is_the_object_and_the_coverage_its_share_of_each_cell(background):
    video = _clip(background)
    mask = object_mask(video)
    # The object's own pixels: red departs from either background by at least 0.5 in the red channel.
    red = (video[:, 0] - video[:, 0].flatten(1).median(dim=1).values[:, None, None]).abs() > 0.25
    assert torch.equal(mask, red) and 0 < mask.float().mean() < 0.5
    undilated = object_coverage(video, 4, dilation=0)  # (F, 1, 8, 8)
    assert undilated.shape == (2, 1, 8, 8)
    # Each cell's share is the mean of its 4 x 4 pixels of the mask.
    torch.testing.assert_close(undilated[:, 0], mask.float().unflatten(1, (8, 4)).unflatten(3, (8, 4)).mean((2, 4)))
    widened = object_coverage(video, 4)
    assert bool((widened >= undilated).all()) and widened.sum() > undilated.sum()  # the ring around counts too


def test_batches_and_clips_agree_and_empty_frames_have_no_coverage():
    clips = BouncingShapes(length=3, num_frames=4, height=16, width=16, seed=0)
    batch = torch.stack([clips[i]["video"] for i in range(3)])  # (B, F, 3, H, W)
    together = object_coverage(batch, 4)
    assert together.shape == (3, 4, 1, 4, 4)
    for i in range(3):
        assert torch.equal(together[i], object_coverage(batch[i], 4))
    assert object_coverage(torch.zeros(2, 3, 16, 16), 4).sum() == 0  # a blank frame has no object


def test_weights_are_one_on_the_background_and_one_plus_w_on_a_covered_cell():
    coverage = torch.tensor([0.0, 0.5, 1.0])
    torch.testing.assert_close(coverage_weights(coverage, 3.0), torch.tensor([1.0, 2.5, 4.0]))
    torch.testing.assert_close(coverage_weights(coverage, 0.0), torch.ones(3))


def test_coverage_errors_name_the_argument():
    video = _clip()
    with pytest.raises(ValueError, match=r"video must have shape \(F, 3, H, W\)"):
        object_mask(video[:, :2])
    with pytest.raises(ValueError, match="video must be a float tensor"):
        object_mask((video * 255).to(torch.uint8))
    with pytest.raises(ValueError, match="factor=3"):
        object_coverage(video, 3)
    with pytest.raises(ValueError, match="dilation"):
        object_coverage(video, 4, dilation=-1)
    with pytest.raises(ValueError, match="threshold"):
        object_mask(video, threshold=0.0)
    with pytest.raises(ValueError, match="object_weight"):
        coverage_weights(torch.zeros(3), -1.0)
    with pytest.raises(ValueError, match=r"coverage must lie in \[0, 1\]"):
        coverage_weights(torch.full((3,), 2.0), 1.0)


B, F = 3, 4
SHAPE = (B, F, 2, 3, 3)  # (B, F, C, H, W)


def _data(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(SHAPE, generator=g, dtype=torch.float64), torch.randn(SHAPE, generator=g, dtype=torch.float64)


def test_element_weights_give_the_weighted_mean_and_uniform_ones_the_plain_loss():
    x0, noise = _data()
    t = torch.rand(B, dtype=torch.float64)
    model = lambda x, t, **_: x * 0.5  # noqa: E731
    plain = flow_matching_loss(model, x0, noise=noise, timesteps=t, reduction="none")
    uniform = flow_matching_loss(model, x0, noise=noise, timesteps=t, reduction="none",
                                 element_weights=torch.full((B, F, 1, 3, 3), 2.0, dtype=torch.float64))
    torch.testing.assert_close(uniform, plain)
    # By hand: each sample's Σ w e² / Σ w, the weights varying over the frame's pixels only.
    weights = 1 + 3 * torch.rand(B, F, 1, 3, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    x_t = (1 - t[:, None, None, None, None]) * x0 + t[:, None, None, None, None] * noise
    squared = (model(x_t, t) - (noise - x0)).pow(2)
    w = weights.expand(SHAPE)
    want = (w * squared).flatten(1).sum(1) / w.flatten(1).sum(1)
    got = flow_matching_loss(model, x0, noise=noise, timesteps=t, reduction="none", element_weights=weights)
    torch.testing.assert_close(got, want)
    assert not torch.allclose(got, plain)
    # With a per-frame mask the weighted mean runs inside each counted frame.
    mask = torch.tensor([[1.0, 1, 0, 0]] * B, dtype=torch.float64)
    framed = flow_matching_loss(model, x0, noise=noise, timesteps=t, loss_mask=mask, element_weights=weights)
    per_frame = (w * squared).flatten(2).sum(2) / w.flatten(2).sum(2)  # (B, F)
    torch.testing.assert_close(framed, per_frame[:, :2].mean())


def test_training_loss_takes_element_weights_too():
    x0, noise = _data()
    process = NoiseProcess(make_schedule("linear", 100))
    t = torch.tensor([3, 50, 99])
    model = lambda x, t, **_: x * 0.5  # noqa: E731
    plain = training_loss(model, x0, process, noise=noise, timesteps=t)
    ones = torch.ones(SHAPE, dtype=torch.float64)
    weighted = training_loss(model, x0, process, noise=noise, timesteps=t, element_weights=ones)
    torch.testing.assert_close(weighted, plain)


def test_element_weight_errors():
    x0, _ = _data()
    model = lambda x, t, **_: x  # noqa: E731
    with pytest.raises(ValueError, match="does not broadcast"):
        flow_matching_loss(model, x0, element_weights=torch.ones(B, 5, 1, 1, 1))
    with pytest.raises(ValueError, match="must be a float tensor"):
        flow_matching_loss(model, x0, element_weights=torch.ones(SHAPE, dtype=torch.long))
    with pytest.raises(ValueError, match="finite and >= 0"):
        flow_matching_loss(model, x0, element_weights=torch.full(SHAPE, -1.0))
    with pytest.raises(ValueError, match="finite and >= 0"):
        flow_matching_loss(model, x0, element_weights=torch.full(SHAPE, float("nan")))
    with pytest.raises(ValueError, match="use loss_mask instead"):
        flow_matching_loss(model, x0, element_weights=torch.zeros(SHAPE))
