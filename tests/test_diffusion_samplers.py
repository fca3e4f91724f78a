"""Perfect denoisers through every sampler: do they reproduce the data distribution?

For Gaussian-mixture data p(x_0) = Σ_k π_k N(μ_k, diag σ_k²) every quantity a network learns
is known in closed form. With x_t = a x_0 + b ε (DDPM: a = √ᾱ_t, b = √(1 - ᾱ_t); flow: a = 1 - t,
b = t), p_t is the mixture with means a μ_k and variances a² σ_k² + b², and per component

    E[ε | x_t, k] = b (x_t - a μ_k) / (a² σ_k² + b²)      (= -b ∇ log p_t for one Gaussian)
    E[x_0 | x_t, k] = μ_k + a σ_k² (x_t - a μ_k) / (a² σ_k² + b²),

averaged with the posterior responsibilities r_k(x_t) ∝ π_k N(x_t; a μ_k, a² σ_k² + b²). These
are the minimisers of the ε-, x_0- and v-losses (and of the flow-matching loss: v = E[ε - x_0 | x_t]),
i.e. what a perfectly trained network outputs. Any error left is the sampler's.

Two kinds of checks, with N = 4000 samples:

1. Gaussian data: with a perfect denoiser every step is affine in x plus Gaussian noise, so the
   sampler's output distribution is Gaussian with a mean and variance that a short recursion
   (`chain_moments`, written from the papers' formulas) computes exactly, including the sampler's
   discretisation error. The samples must match it within 4.5 Monte Carlo standard errors
   (mean: sd/√N; sd: sd/√(2N), i.e. 5% of sd), and the closed form must be within the sampler's
   documented bias of the data (`std_bias` below, the closed-form value rounded up).
2. A well-separated 2-D mixture (stds 0.5, modes ≥ 7.8 σ apart, so assigning samples to the
   nearest mode misclassifies ~1e-4): mixture weights within 0.04 (5 standard errors of the
   largest, √(0.25/N) = 0.0079); each mode's mean within 0.2 σ_k and its sd within 12% (5-6
   standard errors for the smallest mode, N_k ≈ 800), plus the bias that `chain_moments` gives
   the same sampler on that mode alone (once a sample has chosen its mode, the sampler treats
   the mode like a lone Gaussian), plus `mode_slack` for 20-step samplers (see CONFIGS).
"""

import pytest
import torch

from minisora.diffusion import (
    FLOW_TIME_SCALE,
    DDIMSampler,
    DDPMSampler,
    FlowMatchingSampler,
    make_schedule,
    prediction_target,
    sample,
)

N = 4000


@pytest.fixture(autouse=True)
def one_thread():
    """Thousands of tiny ops: threads only add overhead, and thrash when CI's cores are busy."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class Mixture:
    """A Gaussian mixture with diagonal covariances: means (K, D), stds (K, D), weights (K,)."""

    def __init__(self, means, stds, weights):
        self.means = torch.tensor(means, dtype=torch.float64)
        self.stds = torch.tensor(stds, dtype=torch.float64).expand_as(self.means)
        self.weights = torch.tensor(weights, dtype=torch.float64)

    def posterior(self, x, a, b):
        """E[x_0 | x_t] and E[ε | x_t] for x_t = a x_0 + b ε; x (B, D), a and b (B, 1)."""
        a, b = a[:, None, :], b[:, None, :]  # (B, 1, 1)
        var = a**2 * self.stds**2 + b**2  # (B, K, D) variance of x_t given the mode
        diff = x[:, None, :] - a * self.means  # (B, K, D)
        log_p = -0.5 * (diff**2 / var + var.log()).sum(-1) + self.weights.log()  # (B, K)
        r = torch.softmax(log_p, dim=1)[..., None]  # (B, K, 1) responsibilities
        x0 = (r * (self.means + a * self.stds**2 * diff / var)).sum(1)  # (B, D)
        eps = (r * b * diff / var).sum(1)  # (B, D)
        return x0, eps

    def assign(self, x):
        """The nearest mode of each sample (in units of that mode's sd). (B,)"""
        return ((x[:, None, :] - self.means) ** 2 / self.stds**2).sum(-1).argmin(1)


def perfect_denoiser(data, schedule, prediction_type):
    """The exact ε-, x_0- or v-network for `data` under `schedule`; x is (B,) or (B, D)."""

    def model(x, t):
        flat = x.reshape(x.shape[0], -1).double()  # (B, D)
        alpha_bar = schedule.alphas_cumprod[t.cpu()][:, None]  # (B, 1)
        x0, eps = data.posterior(flat, alpha_bar.sqrt(), (1 - alpha_bar).sqrt())
        return prediction_target(x0, eps, alpha_bar, prediction_type).reshape(x.shape).to(x.dtype)

    return model


def perfect_velocity(data):
    """The exact flow-matching velocity E[ε - x_0 | x_t] on the path x_t = (1 - t) x_0 + t ε (given 1000 t)."""

    def model(x, t):
        flat, t = x.reshape(x.shape[0], -1).double(), t.double()[:, None] / FLOW_TIME_SCALE
        x0, eps = data.posterior(flat, 1 - t, t)
        return (eps - x0).reshape(x.shape).to(x.dtype)

    return model


def chain_moments(sampler, mu, s):
    """Exact mean and sd of the sampler's output for N(mu, s²) data and a perfect denoiser.

    Each step is x' = p x̂_0 + q ε̂ + r x + σ z with x̂_0, ε̂ affine in x, so N(m, v) -> N(m', v').
    The coefficients are re-derived here from the papers, independently of minisora's code.
    """
    steps = []  # (a, b, p, q, r, sigma) per step
    if isinstance(sampler, FlowMatchingSampler) and sampler.eta == 0:
        grid = sampler.sigmas.tolist()  # the path times, then 0
        for t, t_next in zip(grid[:-1], grid[1:]):  # x' = x + (t' - t)(ε̂ - x̂_0)
            steps.append((1 - t, t, t - t_next, t_next - t, 1.0, 0.0))
    elif isinstance(sampler, FlowMatchingSampler):
        # DDIM (eq. 12, 16) on the variance-preserving path x_t / n_t, n_t = sqrt((1 - t)² + t²), scaled back.
        grid = sampler.sigmas.tolist()
        for t, t_next in zip(grid[:-1], grid[1:]):
            n, n_next = ((1 - t) ** 2 + t**2) ** 0.5, ((1 - t_next) ** 2 + t_next**2) ** 0.5
            a_t, a_s = ((1 - t) / n) ** 2, ((1 - t_next) / n_next) ** 2
            sigma = sampler.eta * ((1 - a_s) / (1 - a_t) * (1 - a_t / a_s)) ** 0.5
            q = max(1 - a_s - sigma**2, 0.0) ** 0.5
            steps.append((1 - t, t, 1 - t_next, n_next * q, 0.0, n_next * sigma))
    else:
        alpha_bars = sampler.schedule.alphas_cumprod.tolist()
        ts = [int(t) for t in sampler.timesteps]
        for i, t in enumerate(ts):
            a_t = alpha_bars[t]
            a_s = alpha_bars[ts[i + 1]] if i + 1 < len(ts) else 1.0
            last = i + 1 == len(ts)
            if isinstance(sampler, DDPMSampler):  # Ho et al. eq. 7 between t and s
                beta = 1 - a_t / a_s
                p, q, r = a_s**0.5 * beta / (1 - a_t), 0.0, (1 - beta) ** 0.5 * (1 - a_s) / (1 - a_t)
                var = beta if sampler.variance == "beta" else (1 - a_s) / (1 - a_t) * beta
                sigma = 0.0 if last else var**0.5
            else:  # Song et al. eq. 12 and 16
                sigma = sampler.eta * ((1 - a_s) / (1 - a_t) * (1 - a_t / a_s)) ** 0.5
                p, q, r = a_s**0.5, max(1 - a_s - sigma**2, 0.0) ** 0.5, 0.0
            steps.append((a_t**0.5, (1 - a_t) ** 0.5, p, q, r, sigma))
    m, v = 0.0, 1.0  # x at the first visited timestep ~ N(0, 1)
    for a, b, p, q, r, sigma in steps:
        big_v = a * a * s * s + b * b
        slope = p * a * s * s / big_v + q * b / big_v + r  # d x' / d x
        intercept = p * mu * b * b / big_v - q * a * b * mu / big_v
        m, v = slope * m + intercept, slope * slope * v + sigma * sigma
    return m, v**0.5


def linear(**kw):
    return make_schedule("linear", 1000, **kw)


def cosine():
    return make_schedule("cosine", 1000)


# (id, sampler factory, num_inference_steps, std_bias, mean_bias, mode_slack).
# std_bias and mean_bias (in units of sd): the closed-form discretisation error of chain_moments for
# the Gaussian test's sd 0.5 and 2.0, rounded up. mode_slack (units of σ_k): extra room for the
# mixture's mode means with 20 steps, where trajectories that first head for the mixture's centre and
# then bend to a mode are cut short. Measured (seeds 0 and 1): the 20-step deterministic samplers end
# each mode 0.23-0.27 σ_k short of its mean and DDIM-20 with η = 1 0.18-0.19 σ_k; with 50-100 steps
# the error falls to Monte Carlo level (≤ 0.15 σ_k), as a first-order solver's O(1/n) error should.
CONFIGS = [
    ("ddpm-1000-beta", lambda: DDPMSampler(linear(), variance="beta"), 1000, 0.01, 0.01, 0.0),
    ("ddpm-1000-beta_tilde", lambda: DDPMSampler(linear(), variance="beta_tilde"), 1000, 0.01, 0.01, 0.0),
    ("ddpm-100-beta_tilde-cosine", lambda: DDPMSampler(cosine(), variance="beta_tilde"), 100, 0.04, 0.01, 0.0),
    ("ddpm-50-beta-trailing", lambda: DDPMSampler(linear(), variance="beta", timestep_spacing="trailing"), 50,
     0.03, 0.01, 0.0),
    ("ddim-50-eta0", lambda: DDIMSampler(linear(), eta=0.0), 50, 0.06, 0.02, 0.0),
    ("ddim-20-eta0", lambda: DDIMSampler(linear(), eta=0.0), 20, 0.14, 0.02, 0.15),
    ("ddim-50-eta1", lambda: DDIMSampler(linear(), eta=1.0), 50, 0.12, 0.01, 0.0),
    ("ddim-20-eta1", lambda: DDIMSampler(linear(), eta=1.0), 20, 0.22, 0.01, 0.1),
    ("ddim-20-eta0-cosine-x0", lambda: DDIMSampler(cosine(), prediction_type="sample"), 20, 0.08, 0.11, 0.15),
    ("ddim-20-eta0-zero_snr-v-trailing", lambda: DDIMSampler(linear(zero_terminal_snr=True),
                                                             prediction_type="v_prediction",
                                                             timestep_spacing="trailing"), 20, 0.14, 0.02, 0.15),
    ("flow-euler-100", FlowMatchingSampler, 100, 0.02, 0.01, 0.0),
    ("flow-euler-20", FlowMatchingSampler, 20, 0.08, 0.01, 0.15),
    ("flow-eta1-100", lambda: FlowMatchingSampler(eta=1.0), 100, 0.04, 0.01, 0.0),
    ("flow-eta1-20", lambda: FlowMatchingSampler(eta=1.0), 20, 0.14, 0.01, 0.1),
    ("flow-eta0.5-20", lambda: FlowMatchingSampler(eta=0.5), 20, 0.09, 0.01, 0.1),
]
PARAMS = [pytest.param(*c[1:5], id=c[0]) for c in CONFIGS]


def run(sampler, data, shape, n):
    if isinstance(sampler, FlowMatchingSampler):
        model = perfect_velocity(data)
    else:
        model = perfect_denoiser(data, sampler.schedule, sampler.prediction_type)
    return sample(model, sampler, shape, n, torch.Generator().manual_seed(0), dtype=torch.float64)


GAUSSIAN = Mixture([[1.5, -1.0]], [[0.5, 2.0]], [1.0])


@pytest.mark.parametrize("make_sampler, n, std_bias, mean_bias", PARAMS)
def test_gaussian_data_matches_the_closed_form_chain(make_sampler, n, std_bias, mean_bias):
    sampler = make_sampler()
    xs = run(sampler, GAUSSIAN, (N, 2), n)  # (N, 2)
    sampler.set_timesteps(n)
    for d in range(2):
        mu, s = GAUSSIAN.means[0, d].item(), GAUSSIAN.stds[0, d].item()
        m, sd = chain_moments(sampler, mu, s)
        # The samples are the chain's exact output distribution, to Monte Carlo error...
        assert abs(xs[:, d].mean().item() - m) <= 4.5 * sd / N**0.5, (d, xs[:, d].mean().item(), m)
        assert abs(xs[:, d].std().item() / sd - 1) <= 4.5 / (2 * N) ** 0.5, (d, xs[:, d].std().item(), sd)
        # ...and that distribution is the data's, up to the sampler's own discretisation error.
        assert abs(m - mu) <= mean_bias * s and abs(sd / s - 1) <= std_bias, (d, m, sd)


@pytest.mark.parametrize("make_sampler, n", [pytest.param(*c[1:3], id=c[0]) for c in CONFIGS[1::5]])
def test_rank_one_batches(make_sampler, n):
    """Scalar data as a (B,) tensor: nothing assumes a rank."""
    data = Mixture([[0.7]], [[0.5]], [1.0])
    sampler = make_sampler()
    xs = run(sampler, data, (N,), n)  # (N,)
    sampler.set_timesteps(n)
    m, sd = chain_moments(sampler, 0.7, 0.5)
    assert xs.shape == (N,)
    assert abs(xs.mean().item() - m) <= 4.5 * sd / N**0.5 and abs(xs.std().item() / sd - 1) <= 4.5 / (2 * N) ** 0.5


MIXTURE = Mixture([[-2.5, 0.0], [2.5, 1.0], [0.0, -3.0]], [[0.5, 0.5]] * 3, [0.5, 0.3, 0.2])


@pytest.mark.parametrize("make_sampler, n, mode_slack", [pytest.param(*c[1:3], c[5], id=c[0]) for c in CONFIGS])
def test_gaussian_mixture_weights_and_modes(make_sampler, n, mode_slack):
    sampler = make_sampler()
    xs = run(sampler, MIXTURE, (N, 2), n)  # (N, 2)
    mode = MIXTURE.assign(xs)
    weights = torch.bincount(mode, minlength=3).double() / N
    assert (weights - MIXTURE.weights).abs().max() <= 0.04, weights
    sampler.set_timesteps(n)
    for k in range(3):
        sel = xs[mode == k]
        for d in range(2):
            mu, s = MIXTURE.means[k, d].item(), MIXTURE.stds[k, d].item()
            m, sd = chain_moments(sampler, mu, s)  # the same sampler on this mode alone
            mean_tol = (0.2 + mode_slack + abs(m - mu) / s) * s
            assert abs(sel[:, d].mean().item() - mu) <= mean_tol, (k, d, sel[:, d].mean())
            assert abs(sel[:, d].std().item() / s - 1) <= 0.12 + abs(sd / s - 1), (k, d, sel[:, d].std())
