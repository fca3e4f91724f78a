"""The diffusion layer: schedules, the noise process, losses, samplers, guidance (lessons 01, 02, 06, 09).

It never imports a network: it receives `model(x, t, **cond)` as a callable. Nothing in it
assumes a tensor rank: images (B, C, H, W), videos (B, F, C, H, W) and points (B, 2) all work.

    schedules   β recipes (linear, scaled_linear, cosine, zero terminal SNR), NoiseSchedule
    frames      timesteps per sample (B,) or per frame (B, F); given frames (Open-Sora's x_mask)
    process     q(x_t | x_0): add_noise, ε / x_0 / v targets and conversions, the posterior
    losses      Algorithm 1's loss with min-SNR-γ weighting and loss masks
    sampler     the sampler contract every sampler keeps (set_timesteps, timesteps, step)
    discrete    its integer-timestep half: what DDPM and DDIM share
    ddpm, ddim  the DDPM (Ho et al. 2020) and DDIM (Song et al. 2021) samplers
    flow        rectified flow / flow matching: path, loss, Euler sampler, the time scale
    guidance    classifier-free guidance
    loop        `sample`, the three-line loop (also around a diffusers scheduler)
"""

from minisora.diffusion.ddim import DDIMSampler
from minisora.diffusion.ddpm import DDPM_VARIANCES, DDPMSampler
from minisora.diffusion.discrete import (
    TIMESTEP_SPACINGS,
    DiscreteSampler,
    spaced_timesteps,
)
from minisora.diffusion.flow import (
    FLOW_TIME_SCALE,
    TIMESTEP_SAMPLINGS,
    FlowMatchingSampler,
    flow_matching_loss,
    flow_path,
    flow_target,
    sample_flow_timesteps,
)
from minisora.diffusion.frames import condition_frames
from minisora.diffusion.guidance import classifier_free_guidance, guided_model
from minisora.diffusion.loop import sample
from minisora.diffusion.losses import min_snr_weights, training_loss
from minisora.diffusion.process import (
    PREDICTION_TYPES,
    NoiseProcess,
    convert_prediction,
    expand_like,
    posterior_coefficients,
    predict_epsilon,
    predict_original_sample,
    prediction_target,
)
from minisora.diffusion.sampler import Sampler
from minisora.diffusion.schedules import (
    SCHEDULES,
    NoiseSchedule,
    cosine_betas,
    linear_betas,
    make_schedule,
    rescale_zero_terminal_snr,
    scaled_linear_betas,
)

__all__ = [
    "DDPM_VARIANCES", "FLOW_TIME_SCALE", "PREDICTION_TYPES", "SCHEDULES", "TIMESTEP_SAMPLINGS", "TIMESTEP_SPACINGS",
    "DDIMSampler", "DDPMSampler", "DiscreteSampler", "FlowMatchingSampler", "NoiseProcess", "NoiseSchedule",
    "Sampler", "classifier_free_guidance", "condition_frames", "convert_prediction", "cosine_betas", "expand_like",
    "flow_matching_loss", "flow_path", "flow_target", "guided_model", "linear_betas", "make_schedule",
    "min_snr_weights", "posterior_coefficients", "predict_epsilon", "predict_original_sample", "prediction_target",
    "rescale_zero_terminal_snr", "sample", "sample_flow_timesteps", "scaled_linear_betas", "spaced_timesteps",
    "training_loss",
]
