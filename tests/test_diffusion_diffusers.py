"""Reference-oracle tests: minisora.diffusion against diffusers' schedulers on identical inputs.

Skipped unless diffusers is installed — except on CI (the CI variable set), where a missing
diffusers is an error: the oracle must not vanish silently. Every scheduler is built from keyword arguments (no
from_pretrained, so this runs offline). diffusers keeps ᾱ in float32 while minisora computes
schedules in float64: the schedules are compared to float32 precision, and to compare the
step *formulas* exactly each diffusers scheduler is handed minisora's ᾱ and float64 inputs,
after which both must agree to ~1e-12, noise included (same generator seed).
"""

import importlib
import os

import pytest
import torch

from minisora.diffusion import (
    FLOW_TIME_SCALE,
    PREDICTION_TYPES,
    DDIMSampler,
    DDPMSampler,
    FlowMatchingSampler,
    NoiseProcess,
    flow_path,
    make_schedule,
    sample,
)

ON_CI = os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no", "off"}  # as minisora.core's FAST
diffusers = importlib.import_module("diffusers") if ON_CI else pytest.importorskip("diffusers")
from diffusers import (  # noqa: E402
    DDIMScheduler,
    DDPMScheduler,
    EulerDiscreteScheduler,
    FlowMatchEulerDiscreteScheduler,
)

# Our schedule names -> diffusers' constructor arguments.
SCHEDULES = {
    "linear": dict(beta_schedule="linear"),
    "cosine": dict(beta_schedule="squaredcos_cap_v2"),
    "scaled_linear": dict(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012),
}
VARIANCES = {"beta": "fixed_large", "beta_tilde": "fixed_small"}


def _same_alphas(theirs, ours):
    """Give a diffusers scheduler minisora's float64 ᾱ, so only the step formulas are compared."""
    theirs.alphas_cumprod = ours.schedule.alphas_cumprod.clone()
    theirs.one = theirs.final_alpha_cumprod = torch.tensor(1.0, dtype=torch.float64)


def _inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(3, 2, 4, 4, generator=g, dtype=torch.float64),
            torch.randn(3, 2, 4, 4, generator=g, dtype=torch.float64))


@pytest.mark.parametrize("name", sorted(SCHEDULES))
@pytest.mark.parametrize("zero_snr", [False, True])
def test_schedules_and_add_noise_match(name, zero_snr):
    ours = NoiseProcess(make_schedule(name, 1000, zero_terminal_snr=zero_snr))
    theirs = DDPMScheduler(num_train_timesteps=1000, rescale_betas_zero_snr=zero_snr, **SCHEDULES[name])
    assert torch.allclose(ours.schedule.alphas_cumprod, theirs.alphas_cumprod.double(), rtol=1e-5, atol=1e-7)
    if not zero_snr:  # diffusers' float32 cumprod makes its rescaled β_t = 1 - ᾱ_t/ᾱ_{t-1} noisy
        assert torch.allclose(ours.schedule.betas, theirs.betas.double(), rtol=1e-5)
    _same_alphas(theirs, ours)
    x0, noise = _inputs()
    t = torch.tensor([0, 500, 999])
    assert torch.allclose(ours.add_noise(x0, noise, t), theirs.add_noise(x0, noise, t), rtol=1e-12, atol=1e-14)
    assert torch.allclose(ours.get_velocity(x0, noise, t), theirs.get_velocity(x0, noise, t), rtol=1e-12,
                          atol=1e-14)


@pytest.mark.parametrize("spacing", ["leading", "trailing", "linspace"])
def test_set_timesteps_matches(spacing):
    for n in [1, 7, 20, 50, 333, 999, 1000]:
        ours, theirs = DDIMSampler(timestep_spacing=spacing), DDIMScheduler(timestep_spacing=spacing)
        ours.set_timesteps(n)
        theirs.set_timesteps(n)
        assert torch.equal(ours.timesteps, theirs.timesteps), (spacing, n)


CASES = [
    (name, zero_snr, prediction)
    for name in SCHEDULES
    for zero_snr in [False, True]
    for prediction in PREDICTION_TYPES
    if not (zero_snr and prediction == "epsilon")  # ε cannot recover x_0 from pure noise (Lin et al.)
]


@pytest.mark.parametrize("name, zero_snr, prediction", CASES)
def test_ddpm_step_matches(name, zero_snr, prediction):
    schedule = make_schedule(name, 1000, zero_terminal_snr=zero_snr)
    x, out = _inputs()
    for variance in VARIANCES:
        for n, spacing in [(1000, "leading"), (50, "leading"), (50, "trailing"), (20, "linspace")]:
            for clip in [False, True]:
                ours = DDPMSampler(schedule, prediction_type=prediction, variance=variance, clip_sample=clip,
                                   timestep_spacing=spacing)
                theirs = DDPMScheduler(num_train_timesteps=1000, rescale_betas_zero_snr=zero_snr,
                                       prediction_type=prediction, variance_type=VARIANCES[variance],
                                       clip_sample=clip, timestep_spacing=spacing, **SCHEDULES[name])
                _same_alphas(theirs, ours)
                ours.set_timesteps(n)
                theirs.set_timesteps(n)
                # diffusers adds noise on the last step when it is not t = 0 (trailing/linspace spacing);
                # Algorithm 2 does not (z = 0 on the last step), so the last step is compared where t = 0.
                last = [-1] if int(ours.timesteps[-1]) == 0 else []
                for t in ours.timesteps[[0, 1, n // 2, -2] + last]:
                    a = ours.step(out, t, x, generator=torch.Generator().manual_seed(int(t)))
                    b = theirs.step(out, t, x, generator=torch.Generator().manual_seed(int(t))).prev_sample
                    assert torch.allclose(a, b, rtol=1e-10, atol=1e-12), (variance, n, spacing, clip, int(t))


@pytest.mark.parametrize("name, zero_snr, prediction", CASES)
def test_ddim_step_matches(name, zero_snr, prediction):
    schedule = make_schedule(name, 1000, zero_terminal_snr=zero_snr)
    x, out = _inputs()
    for eta in [0.0, 0.5, 1.0]:
        for n, spacing in [(50, "leading"), (20, "trailing"), (7, "leading"), (1000, "leading")]:
            for clip in [False, True]:
                ours = DDIMSampler(schedule, eta=eta, prediction_type=prediction, clip_sample=clip,
                                   timestep_spacing=spacing)
                theirs = DDIMScheduler(num_train_timesteps=1000, rescale_betas_zero_snr=zero_snr,
                                       prediction_type=prediction, clip_sample=clip, timestep_spacing=spacing,
                                       **SCHEDULES[name])
                _same_alphas(theirs, ours)
                ours.set_timesteps(n)
                theirs.set_timesteps(n)
                for t in ours.timesteps[[0, 1, n // 2, -2, -1]]:
                    a = ours.step(out, t, x, generator=torch.Generator().manual_seed(int(t)))
                    b = theirs.step(out, t, x, eta=eta, generator=torch.Generator().manual_seed(int(t))).prev_sample
                    assert torch.allclose(a, b, rtol=1e-10, atol=1e-12), (eta, n, spacing, clip, int(t))


def _model(x, t):
    """Any fixed function of (x, t) will do: both loops must follow it identically."""
    t = torch.as_tensor(t, dtype=x.dtype).reshape(-1, *([1] * (x.ndim - 1)))
    return 0.3 * x + torch.sin(t / 100)


@pytest.mark.parametrize("which", ["ddpm-1000", "ddpm-100-beta", "ddim-50-eta1", "ddim-20-eta0-v"])
def test_whole_sampling_loops_match(which):
    """Whole trajectories agree, so one generator feeds both the same noise at the same steps."""
    if which.startswith("ddpm"):
        variance = "beta" if which.endswith("beta") else "beta_tilde"
        ours = DDPMSampler(variance=variance)
        theirs, eta = DDPMScheduler(variance_type=VARIANCES[variance], clip_sample=False), None
        n = int(which.split("-")[1])
    else:
        eta = 1.0 if "eta1" in which else 0.0
        prediction = "v_prediction" if which.endswith("-v") else "epsilon"
        ours = DDIMSampler(eta=eta, prediction_type=prediction)
        theirs = DDIMScheduler(clip_sample=False, prediction_type=prediction)
        n = int(which.split("-")[1])
    _same_alphas(theirs, ours)
    mine = sample(_model, ours, (2, 3, 4, 4), n, torch.Generator().manual_seed(0), dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    x = torch.randn((2, 3, 4, 4), generator=g, dtype=torch.float64)
    theirs.set_timesteps(n)
    for t in theirs.timesteps:
        kwargs = {} if eta is None else {"eta": eta}
        x = theirs.step(_model(x, t.expand(2)), t, x, generator=g, **kwargs).prev_sample
    assert torch.allclose(mine, x, rtol=1e-9, atol=1e-10)


def test_float32_defaults_match_without_any_patching():
    """Out of the box, in float32, the two agree to float32 precision for an ε-network."""
    x, out = (v.float() for v in _inputs())
    for ours, theirs, kwargs in [(DDPMSampler(), DDPMScheduler(clip_sample=False), {}),
                                 (DDIMSampler(eta=0.5), DDIMScheduler(clip_sample=False), {"eta": 0.5})]:
        ours.set_timesteps(50)
        theirs.set_timesteps(50)
        for t in ours.timesteps[[0, 25, -1]]:
            a = ours.step(out, t, x, generator=torch.Generator().manual_seed(0))
            b = theirs.step(out, t, x, generator=torch.Generator().manual_seed(0), **kwargs).prev_sample
            assert torch.allclose(a, b, atol=1e-4), (type(ours).__name__, int(t))


@pytest.mark.parametrize("shift", [1.0, 3.0])
def test_flow_matching_matches_flow_match_euler(shift):
    """Same grid (diffusers' default grid ends at 1/1000, so it is passed explicitly), same Euler steps."""
    ours = FlowMatchingSampler(shift=shift)
    ours.set_timesteps(10)
    theirs = FlowMatchEulerDiscreteScheduler(shift=shift)
    theirs.set_timesteps(sigmas=torch.linspace(1, 0, 11)[:-1].tolist())
    assert torch.allclose(ours.timesteps, theirs.timesteps)  # both hand the network FLOW_TIME_SCALE t = 1000 t
    assert torch.allclose(ours.sigmas, theirs.sigmas) and FLOW_TIME_SCALE == theirs.config.num_train_timesteps
    x0, noise = (v.float() for v in _inputs())
    t_ours, t_theirs = ours.sigmas[3], theirs.timesteps[3:4]
    assert torch.allclose(flow_path(x0, noise, t_ours), theirs.scale_noise(x0, t_theirs, noise), atol=1e-6)
    a = b = noise
    for t_ours, t_theirs in zip(ours.timesteps, theirs.timesteps):
        a = ours.step(_model(a, t_ours), t_ours, a)
        b = theirs.step(_model(b, t_theirs), t_theirs, b).prev_sample
    assert torch.allclose(a, b, atol=1e-5)


def _diffusers_loop(scheduler, shape, n, seed, **step_kwargs):
    """diffusers' own pipeline loop (pipelines/ddim/pipeline_ddim.py), around the same `_model`."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g, dtype=torch.float64) * scheduler.init_noise_sigma
    scheduler.set_timesteps(n)
    for t in scheduler.timesteps:
        x_in = scheduler.scale_model_input(x, t)
        x = scheduler.step(_model(x_in, t.expand(shape[0])), t, x, generator=g, **step_kwargs).prev_sample
    return x


def test_sample_runs_a_diffusers_scheduler_unchanged():
    """sample() drives DDIMScheduler itself (taking .prev_sample), and agrees with diffusers' loop and with ours."""
    shape = (2, 3, 4, 4)
    theirs = DDIMScheduler(clip_sample=False)
    got = sample(_model, theirs, shape, 20, torch.Generator().manual_seed(0), dtype=torch.float64)
    want = _diffusers_loop(DDIMScheduler(clip_sample=False), shape, 20, 0)
    assert torch.equal(got, want)
    mine = sample(_model, DDIMSampler(), shape, 20, torch.Generator().manual_seed(0), dtype=torch.float64)
    assert torch.allclose(mine, got, atol=1e-4)  # out of the box: float32 ᾱ in diffusers, float64 in minisora
    # An Euler-type scheduler too: init_noise_sigma and scale_model_input are honoured.
    got = sample(_model, EulerDiscreteScheduler(), shape, 10, torch.Generator().manual_seed(1), dtype=torch.float64)
    assert torch.allclose(got, _diffusers_loop(EulerDiscreteScheduler(), shape, 10, 1), rtol=1e-12, atol=1e-12)


def test_given_frames_stay_fixed_under_a_diffusers_scheduler():
    shape = (2, 4, 3, 4, 4)  # (B, F, C, H, W)
    given = torch.randn(shape, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    given_mask = torch.tensor([[True, False, False, False], [False, False, True, True]])
    seen = []

    def model(x, t):
        seen.append(t)
        return 0.3 * x + torch.sin(torch.as_tensor(t, dtype=x.dtype).mean() / 100)

    out = sample(model, DDIMScheduler(clip_sample=False), shape, 10, torch.Generator().manual_seed(0),
                 dtype=torch.float64, given=given, given_mask=given_mask)
    assert torch.equal(out[given_mask], given[given_mask])
    assert not torch.isclose(out[~given_mask], given[~given_mask]).any()
    assert all(t.shape == (2, 4) and (t[given_mask] == 0).all() for t in seen)
