"""Tests for minisora.diffusion: schedules, the noise process, losses, guidance and bad inputs.

Sampler behaviour end to end (perfect denoisers) is in test_diffusion_samplers.py, and the
comparison with diffusers in test_diffusion_diffusers.py.
"""

import math

import pytest
import torch

from minisora.diffusion import (
    PREDICTION_TYPES,
    SCHEDULES,
    DDIMSampler,
    DDPMSampler,
    FlowMatchingSampler,
    NoiseProcess,
    NoiseSchedule,
    classifier_free_guidance,
    convert_prediction,
    expand_like,
    flow_matching_loss,
    flow_path,
    guided_model,
    linear_betas,
    make_schedule,
    min_snr_weights,
    predict_original_sample,
    prediction_target,
    rescale_zero_terminal_snr,
    sample,
    sample_flow_timesteps,
    spaced_timesteps,
    training_loss,
)

# ---------------------------------------------------------------- schedules


def test_linear_schedule_is_ho_et_al_and_scales_with_T():
    s = make_schedule("linear", 1000)
    assert s.betas.dtype == torch.float64 and s.betas.shape == (1000,)
    assert s.betas[0].item() == pytest.approx(1e-4) and s.betas[-1].item() == pytest.approx(0.02)
    # Scaled by 1000/T, a shorter schedule destroys about as much signal by its end.
    short = make_schedule("linear", 250)
    assert short.betas[0].item() == pytest.approx(4e-4) and short.betas[-1].item() == pytest.approx(0.08)
    assert short.alphas_cumprod[-1].item() == pytest.approx(s.alphas_cumprod[-1].item(), rel=0.5)
    assert s.alphas_cumprod[-1] < 1e-4  # x_T is essentially pure noise (Ho et al. §4)


def test_cosine_schedule_follows_eq_17():
    big_t, offset = 1000, 0.008
    s = make_schedule("cosine", big_t)

    def f(u):
        return math.cos((u + offset) / (1 + offset) * math.pi / 2) ** 2

    # Where β is not clipped, ᾱ_t (0-based t) is f((t+1)/T)/f(0) exactly.
    for t in [0, 10, 500, 900, 990]:
        assert s.alphas_cumprod[t].item() == pytest.approx(f((t + 1) / big_t) / f(0), rel=1e-10)
    assert s.betas.max().item() == pytest.approx(0.999)  # the clip acts at the very end
    assert s.betas[-1].item() == pytest.approx(0.999)


@pytest.mark.parametrize("name", sorted(SCHEDULES))
@pytest.mark.parametrize("zero_terminal_snr", [False, True])
def test_alphas_cumprod_strictly_decreasing(name, zero_terminal_snr):
    for big_t in [50, 1000]:
        s = make_schedule(name, big_t, zero_terminal_snr=zero_terminal_snr)
        assert (s.alphas_cumprod[1:] < s.alphas_cumprod[:-1]).all()
        assert (s.alphas == 1 - s.betas).all()
        assert torch.allclose(s.alphas_cumprod, torch.cumprod(s.alphas, 0))
        assert torch.allclose(s.snr, s.alphas_cumprod / (1 - s.alphas_cumprod))
        assert (s.alphas_cumprod_prev[1:] == s.alphas_cumprod[:-1]).all() and s.alphas_cumprod_prev[0] == 1


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_zero_terminal_snr_rescaling(name):
    before = make_schedule(name, 1000)
    after = make_schedule(name, 1000, zero_terminal_snr=True)
    assert after.alphas_cumprod[-1].item() == 0.0 and after.snr[-1].item() == 0.0
    assert after.betas[-1].item() == 1.0
    assert after.alphas_cumprod[0].item() == pytest.approx(before.alphas_cumprod[0].item(), rel=1e-12)
    # Algorithm 1 is an affine map of √ᾱ: new = (old - old_T) · old_0 / (old_0 - old_T).
    old, new = before.alphas_cumprod.sqrt(), after.alphas_cumprod.sqrt()
    expected = (old - old[-1]) * old[0] / (old[0] - old[-1])
    assert torch.allclose(new, expected, atol=1e-12)
    assert torch.allclose(rescale_zero_terminal_snr(before.betas), after.betas)


def test_schedule_errors():
    with pytest.raises(ValueError, match=r"unknown noise schedule 'sigmoid'; choose one of \['cosine', 'linear'"):
        make_schedule("sigmoid")
    with pytest.raises(ValueError, match="num_timesteps >= 21 or the 'cosine' schedule"):
        linear_betas(10)
    with pytest.raises(ValueError, match="num_timesteps must be a positive int"):
        make_schedule("cosine", 0)
    with pytest.raises(ValueError, match=r"every β_t must be in \(0, 1\]"):
        NoiseSchedule(torch.tensor([0.1, 1.5]))
    with pytest.raises(ValueError, match="shape"):
        NoiseSchedule(torch.ones(2, 2) * 0.1)
    with pytest.raises(ValueError, match="only the last β may be 1"):
        NoiseSchedule(torch.tensor([0.1, 1.0, 0.2]))


# ---------------------------------------------------------------- the noise process


def test_add_noise_mean_and_variance():
    process = NoiseProcess(make_schedule("cosine", 1000))
    g = torch.Generator().manual_seed(0)
    n = 20_000
    for t in [0, 100, 500, 999]:
        x0 = torch.full((n, 3), 1.7)
        x_t = process.add_noise(x0, torch.randn(n, 3, generator=g), torch.full((n,), t))
        a = process.schedule.alphas_cumprod[t].item()
        # Mean within 5 standard errors; the sample variance has relative error sqrt(2/n) ~ 1%.
        assert x_t.mean().item() == pytest.approx(a**0.5 * 1.7, abs=5 * ((1 - a) / (3 * n)) ** 0.5)
        assert x_t.var().item() == pytest.approx(1 - a, rel=5 * (2 / (3 * n)) ** 0.5)


def test_add_noise_is_the_composition_of_single_steps():
    """Eq. 4 (the marginal) agrees with applying q(x_t | x_{t-1}) = N(√α_t x_{t-1}, β_t) step by step."""
    process = NoiseProcess(make_schedule("linear", 1000))
    g = torch.Generator().manual_seed(1)
    x0 = torch.linspace(-2, 2, 5).double().repeat(4000)  # (20000,) a rank-1 batch of scalars
    x = x0.clone()
    for t in range(200):
        beta = process.schedule.betas[t].item()
        x = (1 - beta) ** 0.5 * x + beta**0.5 * torch.randn(x.shape, generator=g, dtype=torch.float64)
    marginal = process.add_noise(x0, torch.randn(x0.shape, generator=g, dtype=torch.float64), 199)
    a = process.schedule.alphas_cumprod[199].item()
    for chain in [x, marginal]:
        residual = chain - a**0.5 * x0
        assert residual.mean().item() == pytest.approx(0, abs=5 * ((1 - a) / len(x0)) ** 0.5)
        assert residual.var().item() == pytest.approx(1 - a, rel=0.05)


@pytest.mark.parametrize("shape", [(6, 2), (6, 3, 8, 8), (6, 4, 3, 4, 4)])
def test_add_noise_any_rank_per_sample_timesteps(shape):
    process = NoiseProcess()
    x0, noise = torch.randn(shape), torch.randn(shape)
    t = torch.tensor([0, 1, 10, 500, 998, 999])
    x_t = process.add_noise(x0, noise, t)
    for i in range(shape[0]):
        a = process.schedule.alphas_cumprod[t[i]].float()
        assert torch.allclose(x_t[i], a.sqrt() * x0[i] + (1 - a).sqrt() * noise[i])
    assert torch.equal(process.add_noise(x0, noise, 7), process.add_noise(x0, noise, torch.full((6,), 7)))
    assert expand_like(t, x0).shape == (6,) + (1,) * (len(shape) - 1)


def test_targets_and_conversions_between_predictions():
    process = NoiseProcess(make_schedule("cosine", 1000))
    x0, noise = torch.randn(5, 3, 4, 4, dtype=torch.float64), torch.randn(5, 3, 4, 4, dtype=torch.float64)
    t = torch.tensor([0, 250, 500, 750, 999])
    x_t = process.add_noise(x0, noise, t)
    a = expand_like(process.schedule.alphas_cumprod[t], x0)
    assert torch.equal(process.target(x0, noise, t, "epsilon"), noise)
    assert torch.equal(process.target(x0, noise, t, "sample"), x0)
    v = process.get_velocity(x0, noise, t)
    assert torch.allclose(v, a.sqrt() * noise - (1 - a).sqrt() * x0)  # Salimans & Ho
    assert torch.allclose(process.target(x0, noise, t, "v_prediction"), v)
    for src in PREDICTION_TYPES:
        out = prediction_target(x0, noise, a, src)
        assert torch.allclose(predict_original_sample(out, x_t, a, src), x0)
        for dst in PREDICTION_TYPES:
            assert torch.allclose(convert_prediction(out, x_t, a, src, dst), prediction_target(x0, noise, a, dst))


def _bayes_posterior(alpha_bar_s, alpha_bar_t):
    """q(x_s | x_t, x_0) by Bayes' rule for Gaussians: returns (coef_x0, coef_xt, variance).

    Prior x_s | x_0 ~ N(√ᾱ_s x_0, 1 - ᾱ_s); likelihood x_t | x_s ~ N(√α x_s, 1 - α) with α = ᾱ_t/ᾱ_s.
    Precisions add; the mean is the precision-weighted average of both estimates of x_s.
    """
    alpha = alpha_bar_t / alpha_bar_s
    precision = 1 / (1 - alpha_bar_s) + alpha / (1 - alpha)
    variance = 1 / precision
    return variance * alpha_bar_s**0.5 / (1 - alpha_bar_s), variance * alpha**0.5 / (1 - alpha), variance


@pytest.mark.parametrize("name", ["linear", "cosine"])
def test_posterior_matches_bayes_rule(name):
    process = NoiseProcess(make_schedule(name, 1000))
    ab = process.schedule.alphas_cumprod
    t = torch.arange(1, 1000)
    coef_x0, coef_xt = process.posterior_mean_coefficients(t)
    variance = process.posterior_variance(t)
    want_x0, want_xt, want_var = _bayes_posterior(ab[t - 1], ab[t])
    assert torch.allclose(coef_x0, want_x0, rtol=1e-9) and torch.allclose(coef_xt, want_xt, rtol=1e-9)
    assert torch.allclose(variance, want_var, rtol=1e-9)
    # β̃_t = (1 - ᾱ_{t-1})/(1 - ᾱ_t) β_t (Ho et al. eq. 7), and β̃_0 = 0: x_0 is then known exactly.
    assert torch.allclose(variance, (1 - ab[t - 1]) / (1 - ab[t]) * process.schedule.betas[t], rtol=1e-12)
    assert process.posterior_variance(0).item() == 0.0
    # Between non-adjacent timesteps (what few-step DDPM uses) Bayes agrees too.
    s, t = torch.tensor([0, 10, 400, 7]), torch.tensor([50, 990, 600, 8])
    coef_x0, coef_xt = process.posterior_mean_coefficients(t, s)
    want_x0, want_xt, want_var = _bayes_posterior(ab[s], ab[t])
    assert torch.allclose(coef_x0, want_x0, rtol=1e-9) and torch.allclose(coef_xt, want_xt, rtol=1e-9)
    assert torch.allclose(process.posterior_variance(t, s), want_var, rtol=1e-9)
    x0, x_t = torch.randn(4, 2, 3), torch.randn(4, 2, 3)
    mean, var = process.posterior_mean_variance(x0, x_t, t, s)
    assert torch.allclose(mean, expand_like(want_x0.float(), x0) * x0 + expand_like(want_xt.float(), x0) * x_t)
    assert var.shape == (4, 1, 1)


def test_process_rejects_bad_timesteps():
    process = NoiseProcess(make_schedule("linear", 100))
    x0 = torch.zeros(4, 3, 8, 8)
    with pytest.raises(ValueError, match=r"timesteps must lie in \[0, 99\].*got values in \[0, 100\]"):
        process.add_noise(x0, x0, torch.tensor([0, 1, 2, 100]))
    with pytest.raises(ValueError, match=r"got values in \[-1, 2\]"):
        process.add_noise(x0, x0, torch.tensor([-1, 0, 1, 2]))
    # (4, 1) reads as one timestep per frame, and x has 3 "frames" (its channels): the message says so.
    with pytest.raises(ValueError, match=r"timesteps has shape \(4, 1\) but x of shape \(4, 3, 8, 8\) has 3 frames"):
        process.add_noise(x0, x0, torch.zeros(4, 1, dtype=torch.long))
    with pytest.raises(ValueError, match=r"got shape \(3,\)"):
        process.add_noise(x0, x0, torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match="must be integers.*float times in \\[0, 1\\] belong to flow matching"):
        process.add_noise(x0, x0, torch.rand(4))
    with pytest.raises(ValueError, match="original_samples and noise must have the same shape"):
        process.add_noise(x0, torch.zeros(4, 3, 8, 7), 5)
    with pytest.raises(ValueError, match=r"unknown prediction_type 'eps'; choose one of \['epsilon', 'sample'"):
        process.target(x0, x0, 5, "eps")
    with pytest.raises(ValueError, match="-1 <= s < t"):
        process.posterior_variance(torch.tensor([5]), torch.tensor([5]))


# ---------------------------------------------------------------- the training loss


def test_training_loss_is_algorithm_1():
    process = NoiseProcess(make_schedule("cosine", 1000))
    x0, noise = torch.randn(8, 2), torch.randn(8, 2)
    t = torch.arange(8) * 100
    seen = {}

    def model(x_t, timesteps, label=None):
        seen.update(x_t=x_t, t=timesteps, label=label)
        return torch.zeros_like(x_t)

    for prediction_type in PREDICTION_TYPES:
        loss = training_loss(model, x0, process, prediction_type=prediction_type, noise=noise, timesteps=t, label=3)
        target = process.target(x0, noise, t, prediction_type)
        assert loss.item() == pytest.approx(target.pow(2).mean().item(), rel=1e-6)
        assert torch.allclose(seen["x_t"], process.add_noise(x0, noise, t))
        assert torch.equal(seen["t"], t) and seen["label"] == 3
    # Drawn from the generator when not given: reproducible, and t in range.
    a = training_loss(model, x0, process, generator=torch.Generator().manual_seed(0))
    b = training_loss(model, x0, process, generator=torch.Generator().manual_seed(0))
    assert a.item() == b.item() and 0 <= seen["t"].min() and seen["t"].max() < 1000
    # Gradients reach the network; rank-agnostic: a video batch works the same way.
    net = torch.nn.Conv3d(3, 3, 1)

    def video_model(x, timesteps):  # (B, F, C, H, W) -> the same shape
        return net(x.transpose(1, 2)).transpose(1, 2)

    loss = training_loss(video_model, torch.randn(2, 4, 3, 8, 8), process, prediction_type="v_prediction",
                         min_snr_gamma=5.0)
    loss.backward()
    assert net.weight.grad is not None and torch.isfinite(loss)


def test_min_snr_weighting_is_the_same_x0_loss_for_every_prediction_type():
    """Hang et al.: whatever the network predicts, the weighted loss is min(SNR, γ) ‖x_0 - x̂_0‖²."""
    process = NoiseProcess(make_schedule("linear", 1000, zero_terminal_snr=True))
    g = torch.Generator().manual_seed(0)
    x0, noise = torch.randn(6, 3, 4, 4, generator=g).double(), torch.randn(6, 3, 4, 4, generator=g).double()
    t = torch.tensor([0, 5, 100, 400, 800, 998])  # SNR from ~1e4 down to ~1e-5
    x_t = process.add_noise(x0, noise, t)
    x0_hat = x0 + 0.1 * torch.randn(x0.shape, generator=g).double()  # any imperfect estimate of x_0
    a = expand_like(process.schedule.alphas_cumprod[t], x0)
    eps_hat = (x_t - a.sqrt() * x0_hat) / (1 - a).sqrt()
    gamma = 5.0
    snr = process.schedule.snr[t]
    want = snr.clamp(max=gamma) * (x0 - x0_hat).pow(2).mean(dim=(1, 2, 3))
    for prediction_type in PREDICTION_TYPES:
        output = prediction_target(x0_hat, eps_hat, a, prediction_type)
        losses = training_loss(lambda x, tt, output=output: output, x0, process, prediction_type=prediction_type,
                               noise=noise, timesteps=t, min_snr_gamma=gamma, reduction="none")
        assert torch.allclose(losses, want, rtol=1e-6), prediction_type
    # The weights themselves, and their limits at SNR = 0 (zero terminal SNR): no 0/0.
    snr = torch.tensor([0.0, 1.0, 5.0, 100.0], dtype=torch.float64)
    assert min_snr_weights(snr, "epsilon", 5.0).tolist() == [1.0, 1.0, 1.0, 0.05]
    assert min_snr_weights(snr, "sample", 5.0).tolist() == [0.0, 1.0, 5.0, 5.0]
    assert torch.allclose(min_snr_weights(snr, "v_prediction", 5.0), torch.tensor([0.0, 0.5, 5 / 6, 5 / 101]).double())


def test_training_loss_errors():
    process = NoiseProcess(make_schedule("linear", 100))
    x0 = torch.zeros(4, 2)
    with pytest.raises(ValueError, match="unknown prediction_type 'x0'"):
        training_loss(torch.zeros_like, x0, process, prediction_type="x0")
    with pytest.raises(ValueError, match="model returned shape \\(4, 4\\) for x_t of shape \\(4, 2\\)"):
        training_loss(lambda x, t: torch.cat([x, x], 1), x0, process)
    with pytest.raises(ValueError, match="min_snr_gamma must be positive"):
        training_loss(lambda x, t: x, x0, process, min_snr_gamma=0.0)
    with pytest.raises(ValueError, match="unknown reduction 'sum'"):
        training_loss(lambda x, t: x, x0, process, reduction="sum")
    with pytest.raises(ValueError, match=r"timesteps must lie in \[0, 99\]"):
        training_loss(lambda x, t: x, x0, process, timesteps=torch.tensor([0, 1, 2, 100]))


# ---------------------------------------------------------------- samplers: contract and errors


def test_spaced_timesteps():
    assert spaced_timesteps(1000, 10, "leading").tolist() == list(range(900, -1, -100))
    assert spaced_timesteps(1000, 10, "trailing").tolist() == list(range(999, 0, -100))
    assert spaced_timesteps(1000, 4, "linspace").tolist() == [999, 666, 333, 0]
    assert spaced_timesteps(1000, 3, "trailing").tolist() == [999, 666, 332]
    for spacing in ["leading", "trailing", "linspace"]:
        assert spaced_timesteps(50, 50, spacing).tolist() == list(range(49, -1, -1))


@pytest.mark.parametrize("cls", [DDPMSampler, DDIMSampler])
def test_discrete_sampler_contract_and_errors(cls):
    sampler = cls(make_schedule("linear", 100))
    assert sampler.timesteps.tolist() == list(range(99, -1, -1))  # all T steps until set_timesteps
    sampler.set_timesteps(10)
    assert sampler.timesteps.dtype == torch.long and sampler.timesteps.tolist() == list(range(90, -1, -10))
    sampler.set_timesteps(timesteps=[99, 40, 3])
    assert sampler.previous_timestep(40) == 3 and sampler.previous_timestep(3) == -1
    x = torch.randn(2, 3, 4)
    assert sampler.step(torch.zeros_like(x), sampler.timesteps[0], x).shape == x.shape
    for n in [0, -3, 101]:
        with pytest.raises(ValueError, match=r"num_inference_steps must be an int in \[1, 100\]"):
            sampler.set_timesteps(n)
    with pytest.raises(ValueError, match="num_inference_steps must be an int"):
        sampler.set_timesteps(2.5)
    with pytest.raises(ValueError, match="exactly one of num_inference_steps or timesteps"):
        sampler.set_timesteps()
    with pytest.raises(ValueError, match="strictly descending"):
        sampler.set_timesteps(timesteps=[10, 20])
    with pytest.raises(ValueError, match=r"must lie in \[0, 99\]"):
        sampler.set_timesteps(timesteps=[100, 20])
    with pytest.raises(ValueError, match="timestep 41 is not in sampler.timesteps"):
        sampler.step(torch.zeros_like(x), 41, x)
    with pytest.raises(ValueError, match=r"one integer timestep for the whole batch.*shape \(2,\)"):
        sampler.step(torch.zeros_like(x), torch.tensor([99, 99]), x)
    with pytest.raises(ValueError, match="must have the same shape"):
        sampler.step(torch.zeros(2, 6, 4), 99, x)
    with pytest.raises(ValueError, match="unknown prediction_type 'noise'"):
        cls(prediction_type="noise")
    with pytest.raises(ValueError, match=r"unknown timestep_spacing 'even'; choose one of \['leading', 'trailing'"):
        cls(timestep_spacing="even")


def test_sampler_specific_errors():
    with pytest.raises(ValueError, match=r"unknown DDPM variance 'fixed_small'; choose one of \['beta', 'beta_tilde"):
        DDPMSampler(variance="fixed_small")
    with pytest.raises(ValueError, match=r"eta must be in \[0, 1\]"):
        DDIMSampler(eta=1.5)
    zero_snr = DDIMSampler(make_schedule("linear", 100, zero_terminal_snr=True), timestep_spacing="trailing")
    zero_snr.set_timesteps(10)
    x = torch.randn(2, 2)
    with pytest.raises(ValueError, match="zero terminal SNR.*use prediction_type='v_prediction'"):
        zero_snr.step(torch.zeros_like(x), 99, x)
    flow = FlowMatchingSampler()
    with pytest.raises(ValueError, match="call set_timesteps"):
        flow.step(x, 1.0, x)
    flow.set_timesteps(4)
    with pytest.raises(ValueError, match="timestep 0.3 is not in sampler.timesteps"):
        flow.step(x, 0.3, x)
    with pytest.raises(ValueError, match=r"timesteps must lie in \(0, 1000\], i.e. time_scale · t"):
        flow.set_timesteps(timesteps=[1000.0, 500.0, 0.0])  # the network's units: 1000 t
    with pytest.raises(ValueError, match="strictly descending"):
        flow.set_timesteps(timesteps=[500.0, 1000.0])
    with pytest.raises(ValueError, match="shift must be positive"):
        FlowMatchingSampler(shift=0)
    for eta in (-0.5, 1.01, float("nan"), True, "0.5", None):
        with pytest.raises(ValueError, match=r"eta must be a number in \[0, 1\]"):
            FlowMatchingSampler(eta=eta)


def test_flow_step_with_eta_rejoins_the_line_with_ddim_noise():
    """eta = 0 is the Euler step; eta > 0 is (1 - t') x̂0 + t' (sqrt(1 - c²) ε̂ + c ξ), c from DDIM eq. 16."""
    x, v = torch.randn(3, 4, dtype=torch.float64), torch.randn(3, 4, dtype=torch.float64)
    euler, stochastic = FlowMatchingSampler(), FlowMatchingSampler(eta=0.7)
    for sampler in (euler, stochastic):
        sampler.set_timesteps(4)  # path times 1, 0.75, 0.5, 0.25, then 0
    t, t_next = 0.75, 0.5
    assert torch.allclose(euler.step(v, 750.0, x), x + (t_next - t) * v)
    x0, eps = x - t * v, x + (1 - t) * v
    # DDIM's sigma on the variance-preserving path x / n_t, written with alpha_bar = ((1 - t) / n_t)²:
    n, n_next = ((1 - t) ** 2 + t**2) ** 0.5, ((1 - t_next) ** 2 + t_next**2) ** 0.5
    a, a_next = ((1 - t) / n) ** 2, ((1 - t_next) / n_next) ** 2
    sigma = 0.7 * ((1 - a_next) / (1 - a) * (1 - a / a_next)) ** 0.5  # Song et al. eq. 16
    c = sigma / (1 - a_next) ** 0.5  # the share of x_{t'}'s noise that is fresh
    xi = torch.randn(x.shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    expected = (1 - t_next) * x0 + t_next * ((1 - c**2) ** 0.5 * eps + c * xi)
    got = stochastic.step(v, 750.0, x, generator=torch.Generator().manual_seed(3))
    assert torch.allclose(got, expected) and not torch.allclose(got, euler.step(v, 750.0, x))
    # The last step lands on x̂0 whatever the noise.
    assert torch.allclose(stochastic.step(v, 250.0, x, generator=torch.Generator().manual_seed(4)), x - 0.25 * v)


def test_ddpm_step_is_algorithm_2():
    """With all T steps and an ε-network, step() is line 4 of Algorithm 2 verbatim."""
    schedule = make_schedule("linear", 1000)
    x, eps = torch.randn(4, 3, 5, 5, dtype=torch.float64), torch.randn(4, 3, 5, 5, dtype=torch.float64)
    for variance in ["beta", "beta_tilde"]:
        sampler = DDPMSampler(schedule, variance=variance)
        sampler.set_timesteps(1000)
        for t in [999, 500, 1, 0]:
            alpha, alpha_bar, beta = (schedule.alphas[t].item(), schedule.alphas_cumprod[t].item(),
                                      schedule.betas[t].item())
            beta_tilde = (1 - schedule.alphas_cumprod_prev[t].item()) / (1 - alpha_bar) * beta
            sigma2 = beta if variance == "beta" else beta_tilde
            z = torch.randn(x.shape, generator=torch.Generator().manual_seed(t), dtype=torch.float64)
            want = (x - (1 - alpha) / (1 - alpha_bar) ** 0.5 * eps) / alpha**0.5 + (sigma2**0.5 * z if t > 0 else 0)
            got = sampler.step(eps, t, x, generator=torch.Generator().manual_seed(t))
            assert torch.allclose(got, want, atol=1e-10), (variance, t)


def test_ddim_with_eta_1_is_ddpm_with_beta_tilde():
    """Song et al. §4.1: η = 1 makes the DDIM step the DDPM posterior step (σ² = β̃)."""
    schedule = make_schedule("cosine", 1000)
    ddim, ddpm = DDIMSampler(schedule, eta=1.0), DDPMSampler(schedule, variance="beta_tilde")
    ddim.set_timesteps(25)
    ddpm.set_timesteps(25)
    x, out = torch.randn(3, 2, 4, dtype=torch.float64), torch.randn(3, 2, 4, dtype=torch.float64)
    for t in ddim.timesteps:
        a = ddim.step(out, t, x, generator=torch.Generator().manual_seed(0))
        b = ddpm.step(out, t, x, generator=torch.Generator().manual_seed(0))
        assert torch.allclose(a, b, atol=1e-10)
    eta0 = DDIMSampler(schedule)
    eta0.set_timesteps(25)
    assert torch.equal(eta0.step(out, 480, x, generator=torch.Generator().manual_seed(0)),
                       eta0.step(out, 480, x, generator=torch.Generator().manual_seed(1)))  # deterministic


def test_flow_matching_sampler_and_loss():
    flow = FlowMatchingSampler()
    flow.set_timesteps(4)
    assert flow.sigmas.tolist() == [1.0, 0.75, 0.5, 0.25, 0.0]  # the path times, down to the data
    assert flow.timesteps.tolist() == [1000.0, 750.0, 500.0, 250.0]  # what the network sees: 1000 t
    shifted = FlowMatchingSampler(shift=3.0)
    shifted.set_timesteps(4)
    assert shifted.sigmas[1].item() == pytest.approx(3 * 0.75 / (1 + 2 * 0.75))
    assert shifted.timesteps[1].item() == pytest.approx(1000 * 3 * 0.75 / (1 + 2 * 0.75))
    # A straight path is integrated exactly by Euler: constant velocity ε - x_0 carries ε to x_0.
    x0, noise = torch.randn(5, 2, 3), torch.randn(5, 2, 3)
    for sampler in [flow, shifted]:
        x = noise
        for t in sampler.timesteps:
            assert torch.allclose(sampler.predict_original_sample(noise - x0, t, x), x0, atol=1e-6)
            x = sampler.step(noise - x0, t, x)
        assert torch.allclose(x, x0, atol=1e-6)
    t = torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0])
    assert torch.allclose(flow_path(x0, noise, t), (1 - t[:, None, None]) * x0 + t[:, None, None] * noise)
    loss = flow_matching_loss(lambda x, tt: torch.zeros_like(x), x0, noise=noise, timesteps=t)
    assert loss.item() == pytest.approx((noise - x0).pow(2).mean().item(), rel=1e-6)
    # Logit-normal times (SD3 §3.1): logit(t) ~ N(m, s²).
    ts = sample_flow_timesteps(20_000, "logit_normal", logit_mean=0.5, logit_std=0.8,
                               generator=torch.Generator().manual_seed(0))
    logit = torch.log(ts / (1 - ts))
    assert logit.mean().item() == pytest.approx(0.5, abs=0.03) and logit.std().item() == pytest.approx(0.8, rel=0.03)
    with pytest.raises(ValueError, match="flow-matching timesteps are floats"):
        flow_path(x0, noise, torch.tensor([0, 1, 0, 1, 0]))
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        flow_path(x0, noise, torch.full((5,), 1.5))
    with pytest.raises(ValueError, match=r"unknown timestep_sampling 'cosmap'"):
        flow_matching_loss(lambda x, tt: x, x0, timestep_sampling="cosmap")


# ---------------------------------------------------------------- the loop and guidance


@pytest.mark.parametrize("sampler", [DDPMSampler(), DDIMSampler(), FlowMatchingSampler()],
                         ids=lambda s: type(s).__name__)
def test_sample_loop_any_rank(sampler):
    seen = []

    def model(x, t, label):
        seen.append(t)
        assert t.shape == (x.shape[0],) and label == "cat"
        return torch.zeros_like(x)

    shape = (2, 3, 1, 4, 4)  # a (B, F, C, H, W) video
    out = sample(model, sampler, shape, 5, torch.Generator().manual_seed(0), label="cat")
    assert out.shape == shape and len(seen) == 5 and torch.isfinite(out).all()
    again = sample(model, sampler, shape, 5, torch.Generator().manual_seed(0), label="cat")
    assert torch.equal(out, again)
    with pytest.raises(ValueError, match=r"noise has shape \(2, 3\), expected \(2, 3, 1, 4, 4\)"):
        sample(model, sampler, shape, 5, noise=torch.zeros(2, 3), label="cat")


def test_classifier_free_guidance_on_every_channel():
    cond, uncond = torch.randn(2, 4, 3, 3), torch.randn(2, 4, 3, 3)
    guided = classifier_free_guidance(cond, uncond, 4.0)
    assert torch.allclose(guided, uncond + 4.0 * (cond - uncond))
    assert torch.equal(classifier_free_guidance(cond, uncond, 1.0), uncond + (cond - uncond))
    assert not torch.isclose(guided, cond).any()  # all 4 channels are guided, not 3 of 4

    calls = []

    def model(x, t, labels, mask=None):
        calls.append(x.shape[0])
        return x * labels[:, None, None, None].float() + t[:, None, None, None] + (0 if mask is None else mask)

    x, t = torch.randn(3, 4, 2, 2), torch.full((3,), 7.0)
    labels, mask = torch.tensor([1, 2, 3]), torch.rand(3, 4, 2, 2)
    wrapped = guided_model(model, 3.0, labels=torch.tensor([0]))  # a batch of 1 null label, repeated
    out = wrapped(x, t, labels=labels, mask=mask)
    assert calls == [6]  # one doubled forward pass
    want = classifier_free_guidance(model(x, t, labels, mask), model(x, t, torch.zeros(3, dtype=torch.long), mask), 3.0)
    assert torch.allclose(out, want)
    with pytest.raises(ValueError, match=r"null values for \['labels'\] but the call passed no such condition"):
        wrapped(x, t)
    with pytest.raises(ValueError, match="cond_out .* and uncond_out .* must have the same shape"):
        classifier_free_guidance(cond, uncond[:1], 2.0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_tensors_with_cpu_schedules_and_generators():
    """Schedules live on the CPU in float64; everything else may live on the GPU in float32."""
    process = NoiseProcess(make_schedule("cosine", 1000))
    x0 = torch.randn(4, 3, 8, 8, device="cuda")
    t = torch.tensor([0, 10, 500, 999], device="cuda")
    x_t = process.add_noise(x0, torch.randn_like(x0), t)
    assert x_t.device.type == "cuda" and x_t.dtype == torch.float32
    mean, var = process.posterior_mean_variance(x0, x_t, t)
    assert mean.device.type == "cuda" and var.device.type == "cuda"

    def model(x, timesteps):
        assert timesteps.device == x.device
        return torch.zeros_like(x)

    loss = training_loss(model, x0, process, min_snr_gamma=5.0, generator=torch.Generator().manual_seed(0))
    assert loss.device.type == "cuda"
    for sampler in [DDPMSampler(process.schedule), DDIMSampler(process.schedule, eta=1.0), FlowMatchingSampler()]:
        cpu = sample(model, sampler, (2, 3, 4, 4), 5, torch.Generator().manual_seed(0))
        gpu = sample(model, sampler, (2, 3, 4, 4), 5, torch.Generator().manual_seed(0), device="cuda")
        assert gpu.device.type == "cuda" and torch.allclose(gpu.cpu(), cpu, atol=1e-5)
    assert flow_matching_loss(model, x0, timestep_sampling="logit_normal").device.type == "cuda"
