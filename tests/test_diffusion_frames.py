"""Per-frame timesteps (B, F), loss masks and given frames (issue 12; Open-Sora's x_mask, lesson 10).

Two kinds of checks: a per-frame t whose columns are all equal must give exactly what the
per-sample t gives; a frame that is masked out (or given) must change nothing it should not.
"""

import pytest
import torch

from minisora.diffusion import (
    DDIMSampler,
    DDPMSampler,
    FlowMatchingSampler,
    NoiseProcess,
    Sampler,
    condition_frames,
    expand_like,
    flow_matching_loss,
    flow_path,
    make_schedule,
    posterior_coefficients,
    sample,
    training_loss,
)
from minisora.diffusion.flow import check_flow_timesteps

B, F = 3, 4
SHAPE = (B, F, 2, 3, 3)  # (B, F, C, H, W)


def _video(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(SHAPE, generator=g, dtype=torch.float64), torch.randn(SHAPE, generator=g, dtype=torch.float64)


def test_expand_like_per_sample_and_per_frame():
    x = torch.zeros(SHAPE)
    assert expand_like(torch.zeros(B), x).shape == (B, 1, 1, 1, 1)
    assert expand_like(torch.zeros(B, F), x).shape == (B, F, 1, 1, 1)
    with pytest.raises(ValueError, match=r"values of shape \(3, 5\) cannot broadcast.*shape \(3, 4, 2, 3, 3\)"):
        expand_like(torch.zeros(B, 5), x)


def test_noise_process_per_frame_equals_per_sample_when_columns_are_equal():
    process = NoiseProcess(make_schedule("cosine", 1000))
    x0, noise = _video()
    t = torch.tensor([0, 400, 999])
    columns = t[:, None].expand(B, F)
    assert torch.equal(process.add_noise(x0, noise, columns), process.add_noise(x0, noise, t))
    for prediction_type in ("epsilon", "sample", "v_prediction"):
        assert torch.equal(process.target(x0, noise, columns, prediction_type),
                           process.target(x0, noise, t, prediction_type))
    mean_f, var_f = process.posterior_mean_variance(x0, noise, columns, columns - 1)
    mean, var = process.posterior_mean_variance(x0, noise, t, t - 1)
    assert torch.equal(mean_f, mean) and torch.equal(var_f[:, 0], var[:, 0]) and var_f.shape == (B, F, 1, 1, 1)
    # Different t per frame: each frame is noised at its own level.
    per_frame = torch.tensor([[0, 10, 500, 999]] * B)
    x_t = process.add_noise(x0, noise, per_frame)
    for f in range(F):
        assert torch.equal(x_t[:, f], process.add_noise(x0[:, f], noise[:, f], per_frame[:, f]))


def test_per_frame_timesteps_are_validated_against_the_video():
    process = NoiseProcess(make_schedule("linear", 100))
    x0 = torch.zeros(SHAPE)
    with pytest.raises(ValueError, match=r"timesteps has shape \(3, 5\) but x of shape \(3, 4, 2, 3, 3\) has 4 frames; "
                                         r"pass shape \(3, 4\) \(one per frame\) or \(3,\)"):
        process.add_noise(x0, x0, torch.zeros(B, 5, dtype=torch.long))
    with pytest.raises(ValueError, match=r"timesteps has shape \(3, 2\), one per frame \(B, F\), but x has shape "
                                         r"\(3, 2\): per-frame values need a video x"):
        process.add_noise(torch.zeros(B, 2), torch.zeros(B, 2), torch.zeros(B, 2, dtype=torch.long))
    with pytest.raises(ValueError, match=r"one per sample: shape \(B,\) = \(3,\), or one per frame: shape \(B, F\) = "
                                         r"\(3, 4\), for x of shape \(3, 4, 2, 3, 3\); got shape \(3, 4, 1\)"):
        process.add_noise(x0, x0, torch.zeros(B, F, 1, dtype=torch.long))
    with pytest.raises(ValueError, match=r"timesteps must lie in \[0, 99\]"):
        process.add_noise(x0, x0, torch.full((B, F), 100))
    with pytest.raises(ValueError, match=r"flow-matching timesteps must lie in \[0, 1\]"):
        flow_path(x0, x0, torch.full((B, F), 2.0))
    with pytest.raises(ValueError, match=r"timesteps has shape \(3, 5\) but x .* has 4 frames"):
        check_flow_timesteps(torch.zeros(B, 5), x0)


@pytest.mark.parametrize("min_snr_gamma", [None, 5.0])
def test_training_loss_per_frame_equals_per_sample_when_columns_are_equal(min_snr_gamma):
    process = NoiseProcess(make_schedule("linear", 1000))
    x0, noise = _video()
    t = torch.tensor([3, 300, 900])

    def model(x, timesteps):
        return 0.5 * x

    kwargs = {"prediction_type": "v_prediction", "noise": noise, "min_snr_gamma": min_snr_gamma}
    for reduction in ("mean", "none"):
        per_sample = training_loss(model, x0, process, timesteps=t, reduction=reduction, **kwargs)
        per_frame = training_loss(model, x0, process, timesteps=t[:, None].expand(B, F), reduction=reduction, **kwargs)
        all_count = training_loss(model, x0, process, timesteps=t, loss_mask=torch.ones(B, F, dtype=torch.bool),
                                  reduction=reduction, **kwargs)
        assert torch.allclose(per_frame, per_sample, rtol=1e-12) and torch.allclose(all_count, per_sample, rtol=1e-12)
    flow_t = torch.tensor([0.1, 0.5, 0.9], dtype=torch.float64)
    per_sample = flow_matching_loss(model, x0, noise=noise, timesteps=flow_t)
    per_frame = flow_matching_loss(model, x0, noise=noise, timesteps=flow_t[:, None].expand(B, F))
    assert torch.allclose(per_frame, per_sample, rtol=1e-12)


def test_masked_frames_contribute_nothing():
    """Whatever the network says on a masked frame, the loss does not move; it is the mean over counted frames."""
    process = NoiseProcess(make_schedule("linear", 1000))
    x0, noise = _video()
    t = torch.tensor([[0, 10, 500, 999]] * B)
    mask = torch.tensor([[True, False, True, True], [False, False, False, True], [True, True, True, True]])
    garbage = torch.full(SHAPE, 1e3, dtype=torch.float64)

    def model_a(x, timesteps):
        return torch.zeros_like(x)

    def model_b(x, timesteps):  # the same as model_a on counted frames, garbage on the others
        return torch.where(expand_like(mask, x), torch.zeros_like(x), garbage)

    target = process.target(x0, noise, t)
    frame_errors = target.pow(2).mean(dim=(2, 3, 4))  # (B, F)
    for loss_fn, extra in [(training_loss, (process,)), (flow_matching_loss, ())]:
        kwargs = {"noise": noise, "timesteps": t if extra else t / 1000.0, "loss_mask": mask}
        for reduction in ("mean", "none"):
            a = loss_fn(model_a, x0, *extra, reduction=reduction, **kwargs)
            b = loss_fn(model_b, x0, *extra, reduction=reduction, **kwargs)
            assert torch.equal(a, b), (loss_fn.__name__, reduction)
    # The normalisation: the mean over the counted frames (of the batch, or of each sample).
    want_mean = frame_errors[mask].mean()
    want_each = torch.stack([frame_errors[i][mask[i]].mean() for i in range(B)])
    got_mean = training_loss(model_a, x0, process, noise=noise, timesteps=t, loss_mask=mask)
    got_each = training_loss(model_a, x0, process, noise=noise, timesteps=t, loss_mask=mask, reduction="none")
    assert torch.allclose(got_mean, want_mean) and torch.allclose(got_each, want_each)
    # A float mask weighs frames; a sample with nothing counted gives 0, and so does a batch.
    half = mask.double() * 0.5
    assert torch.allclose(training_loss(model_a, x0, process, noise=noise, timesteps=t, loss_mask=half), want_mean)
    none = torch.zeros(B, F, dtype=torch.bool)
    none[0, 0] = True
    each = training_loss(model_a, x0, process, noise=noise, timesteps=t, loss_mask=none, reduction="none")
    assert torch.equal(each[1:], torch.zeros(2, dtype=torch.float64)) and each[0] == frame_errors[0, 0]
    empty = training_loss(model_a, x0, process, noise=noise, timesteps=t, loss_mask=torch.zeros(B, F))
    assert empty.item() == 0.0
    # A per-sample mask (B,) leaves samples out.
    per_sample = training_loss(model_a, x0, process, noise=noise, timesteps=t, loss_mask=torch.tensor([1.0, 0, 1]),
                               reduction="none")
    assert per_sample[1] == 0 and torch.allclose(per_sample[[0, 2]], frame_errors[[0, 2]].mean(1))


def test_min_snr_weights_per_frame():
    process = NoiseProcess(make_schedule("linear", 1000))
    x0, noise = _video()
    t = torch.tensor([[5, 50, 500, 950]] * B)

    def model(x, timesteps):
        return torch.zeros_like(x)

    got = training_loss(model, x0, process, noise=noise, timesteps=t, min_snr_gamma=5.0, reduction="none")
    snr = process.schedule.snr[t]
    frame_errors = noise.pow(2).mean(dim=(2, 3, 4))  # ε-target, zero output
    want = ((5.0 / snr).clamp(max=1.0) * frame_errors).mean(dim=1)
    assert torch.allclose(got, want)


def test_condition_frames_is_open_soras_convention():
    given = torch.tensor([[True, False, False, False], [True, True, False, False], [False] * 4])
    t, mask = condition_frames(torch.tensor([10, 20, 30]), given)
    assert torch.equal(t, torch.tensor([[0, 10, 10, 10], [0, 0, 20, 20], [30, 30, 30, 30]]))
    assert torch.equal(mask, ~given) and mask.dtype == torch.bool
    t, _ = condition_frames(torch.full((B, F), 0.7), given)  # per-frame float times: flow matching
    assert t.dtype == torch.float32 and t[0, 0] == 0 and t[0, 1] == pytest.approx(0.7)
    # Given frames in flow matching: t = 0 means x_t = x_0 exactly, and they carry no loss.
    x0, noise = (v.float() for v in _video())
    t, mask = condition_frames(torch.tensor([0.3, 0.6, 0.9]), given)
    x_t = flow_path(x0, noise, t)
    assert torch.equal(x_t[given], x0[given]) and not torch.equal(x_t[~given], x0[~given])


def test_condition_frames_errors():
    given = torch.zeros(B, F, dtype=torch.bool)
    with pytest.raises(ValueError, match=r"given must be a bool tensor of shape \(B, F\).*got dtype torch.int64"):
        condition_frames(torch.zeros(B), given.long())
    with pytest.raises(ValueError, match=r"given must be a bool tensor of shape \(B, F\).*shape \(3,\)"):
        condition_frames(torch.zeros(B), given[:, 0])
    with pytest.raises(ValueError, match=r"given must be a bool tensor.*got list"):
        condition_frames(torch.zeros(B), [[True]])
    with pytest.raises(ValueError, match=r"timesteps must have shape \(B,\) = \(3,\) or \(B, F\) = \(3, 4\) like "
                                         r"given, got \(2,\)"):
        condition_frames(torch.zeros(2), given)


def test_loss_mask_errors():
    process = NoiseProcess(make_schedule("linear", 100))
    x0 = torch.zeros(SHAPE)

    def model(x, t):
        return x

    with pytest.raises(ValueError, match=r"loss_mask has shape \(3, 5\) but x of shape \(3, 4, 2, 3, 3\) has 4 frames"):
        training_loss(model, x0, process, loss_mask=torch.ones(B, 5))
    with pytest.raises(ValueError, match=r"loss_mask must be bool or float.*got dtype torch.int64"):
        training_loss(model, x0, process, loss_mask=torch.ones(B, F, dtype=torch.long))
    with pytest.raises(ValueError, match=r"loss_mask values must lie in \[0, 1\]"):
        flow_matching_loss(model, x0, loss_mask=torch.full((B, F), 2.0))
    with pytest.raises(ValueError, match=r"loss_mask has shape \(3, 2\), one per frame \(B, F\), "
                                         r"but x has shape \(3, 2\)"):
        training_loss(model, torch.zeros(B, 2), process, loss_mask=torch.ones(B, 2))
    with pytest.raises(ValueError, match="time_scale must be a positive number"):
        flow_matching_loss(model, x0, time_scale=0.0)
    with pytest.raises(ValueError, match="time_scale must be a positive number"):
        FlowMatchingSampler(time_scale=-1000)


SAMPLERS = [
    ("ddpm", lambda: DDPMSampler(make_schedule("linear", 100))),
    ("ddim-eta1", lambda: DDIMSampler(make_schedule("cosine", 100), eta=1.0)),
    ("flow", FlowMatchingSampler),
]


@pytest.mark.parametrize("make_sampler", [s for _, s in SAMPLERS], ids=[name for name, _ in SAMPLERS])
def test_sample_keeps_given_frames_bit_identical(make_sampler):
    sampler = make_sampler()
    given = torch.randn(SHAPE, generator=torch.Generator().manual_seed(1))
    given_mask = torch.tensor([[True, False, False, False], [True, False, False, True], [False] * 4])
    seen = []

    def model(x, t):
        seen.append((x.clone(), t))
        return 0.1 * x + 0.01  # any network: it need not know the given frames

    out = sample(model, sampler, SHAPE, 5, torch.Generator().manual_seed(0), given=given, given_mask=given_mask)
    assert torch.equal(out[given_mask], given[given_mask])  # exactly the input
    assert not torch.isclose(out[~given_mask], given[~given_mask]).any()  # the others were generated
    free = sample(model, sampler, SHAPE, 5, torch.Generator().manual_seed(0))
    assert torch.equal(out[2], free[2])  # a sample with no given frame is what it would have been
    # The network saw the clean given frames at t = 0, the others at the sampler's t: t is (B, F).
    for (x, t), step_t in zip(seen[-10:-5], sampler.timesteps):
        assert t.shape == (B, F) and torch.equal(x[given_mask], given[given_mask])
        assert torch.equal(t[given_mask], torch.zeros_like(t[given_mask]))
        assert torch.equal(t[~given_mask], step_t.expand(int((~given_mask).sum())))
    assert all(t.shape == (B,) for _, t in seen[-5:])  # without given frames: one t per sample, as always


def test_sample_given_frames_errors():
    sampler = DDIMSampler(make_schedule("linear", 100))
    given, mask = torch.zeros(SHAPE), torch.zeros(B, F, dtype=torch.bool)

    def model(x, t):
        return x

    with pytest.raises(ValueError, match="pass given .* together with given_mask"):
        sample(model, sampler, SHAPE, 2, given=given)
    with pytest.raises(ValueError, match="pass given .* together with given_mask"):
        sample(model, sampler, SHAPE, 2, given_mask=mask)
    with pytest.raises(ValueError, match=r"given has shape \(3, 4, 2, 3, 2\), expected the sample's shape"):
        sample(model, sampler, SHAPE, 2, given=given[..., :2], given_mask=mask)
    with pytest.raises(ValueError, match=r"given_mask must be a bool tensor of shape \(B, F\).*float32.*use"):
        sample(model, sampler, SHAPE, 2, given=given, given_mask=mask.float())
    with pytest.raises(ValueError, match=r"given_mask has shape \(3, 3\), expected \(B, F\) = \(3, 4\)"):
        sample(model, sampler, SHAPE, 2, given=given, given_mask=mask[:, :3])
    with pytest.raises(ValueError, match=r"given frames need a video shape \(B, F, ...\) of rank >= 3"):
        sample(model, sampler, (B, F), 2, given=torch.zeros(B, F), given_mask=mask)


def test_posterior_coefficients_is_eq_7_and_checks_its_inputs():
    ab = make_schedule("linear", 1000).alphas_cumprod
    t, s = 600, 400
    c0, ct, var = posterior_coefficients(ab[t].item(), ab[s].item())
    tensors = posterior_coefficients(ab[[t]], ab[[s]])
    assert [c0, ct, var] == [v.item() for v in tensors]  # floats and tensors: the same numbers
    beta = 1 - ab[t].item() / ab[s].item()
    assert var == pytest.approx((1 - ab[s].item()) / (1 - ab[t].item()) * beta, rel=1e-14)
    assert posterior_coefficients(ab[t].item(), 1.0) == (1.0, 0.0, 0.0)  # the last step: x_0 itself
    with pytest.raises(ValueError, match=r"need 0 <= alpha_bar_t < alpha_bar_s <= 1"):
        posterior_coefficients(0.5, 0.4)
    with pytest.raises(ValueError, match=r"need 0 <= alpha_bar_t < alpha_bar_s <= 1"):
        posterior_coefficients(torch.tensor([0.5, 0.2]), torch.tensor([0.6, 1.5]))


def test_every_sampler_keeps_one_contract():
    """DDPM, DDIM and flow are Samplers; a new one needs only its spacing, its range and its step."""
    for make_sampler in [s for _, s in SAMPLERS]:
        assert isinstance(make_sampler(), Sampler)

    class Halving(Sampler):
        """A toy sampler: timesteps n, ..., 1 (ints) and each step halves x."""

        def _spaced(self, n):
            return torch.arange(n, 0, -1)

        def _check_range(self, steps):
            if int(steps[-1]) < 1:
                raise ValueError("timesteps must be >= 1")

        def step(self, model_output, timestep, sample, generator=None):
            self.step_index(timestep)
            return sample / 2

    toy = Halving()
    out = sample(lambda x, t: x, toy, (2, 3), 3, noise=torch.ones(2, 3))
    assert torch.equal(out, torch.full((2, 3), 0.125)) and toy.previous_timestep(1) == -1
    with pytest.raises(ValueError, match="strictly descending"):
        toy.set_timesteps(timesteps=[1, 2])
    with pytest.raises(ValueError, match="timesteps must be >= 1"):
        toy.set_timesteps(timesteps=[2, 0])
    with pytest.raises(ValueError, match="non-empty 1-D list of ints"):
        toy.set_timesteps(timesteps=[2.0, 1.0])
    with pytest.raises(ValueError, match="call set_timesteps"):
        Halving().step_index(1)
    flow = FlowMatchingSampler()
    for n in [0, 2.0, True]:
        with pytest.raises(ValueError, match="num_inference_steps must be a positive int"):
            flow.set_timesteps(n)
    flow.set_timesteps(2)
    with pytest.raises(ValueError, match=r"one float timestep for the whole batch.*shape \(2,\)"):
        flow.step(torch.zeros(1), flow.timesteps, torch.zeros(1))
    assert flow.previous_timestep(flow.timesteps[-1]) == 0.0 and flow.step_index(1000) == 0
