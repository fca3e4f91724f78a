"""Error paths no other test reached (found by running the suite under coverage).

Issue 17 asked that every `raise` a user can meet be reached by a test. Each case is
(the call, the error type, words the message must hold: the argument and, where there is one,
the fix). Defensive raises that only a broken subclass or a missing GPU can reach are left out.
"""

import numpy as np
import pytest
import torch

from minisora.blocks import (
    CausalConv3d,
    LabelEmbedder,
    ResBlock,
    apply_rope,
    axial_rope_angles,
    inflate_conv_weight,
    rope_angles,
    sincos_1d,
    unpatchify_tubelets,
)
from minisora.core import frame_strip, load_model, register_network, save_checkpoint, show_video
from minisora.data import ObjectSpec, SceneSpec, sample_scene
from minisora.data.scene import Holdout
from minisora.diffusion import DDIMSampler, flow_path, make_schedule, sample, sample_flow_timesteps
from minisora.eval import score, score_images
from minisora.models import (
    VAE,
    VAE_PRESETS,
    VIDEO_VAE_PRESETS,
    CausalVideoVAE,
    DiTConfig,
    UNet,
    UNetConfig,
    VAEConfig,
    VideoDiTConfig,
    ViTConfig,
    ViViTConfig,
)
from minisora.models.dit import published_parameter_count
from minisora.pipeline import TextToVideoPipeline
from minisora.train import train_denoiser, train_vae
from minisora.train.export import export_model
from minisora.train.recipes import apply_options, get_recipe, register_recipe
from minisora.train.run import check_out_dir

RNG = np.random.default_rng(0)


class UnsetScheduler:
    """A diffusers-style scheduler before its set_timesteps: sample() must say what to do."""

    timesteps = None


CASES = [
    # blocks
    ("stride above kernel", lambda: CausalConv3d(2, 2, kernel_size=(1, 3, 3), stride=(2, 1, 1)),
     ValueError, "temporal stride 2 larger than the temporal kernel 1"),
    ("kernel of two sizes", lambda: CausalConv3d(2, 2, kernel_size=(3, 3)), ValueError, "kernel_size must be"),
    ("stride-2 conv on 4 frames",
     lambda: CausalConv3d(2, 2, kernel_size=3, stride=(2, 1, 1))(torch.zeros(1, 2, 4, 4, 4)),
     ValueError, "needs 1 + 2n frames, got 4"),
    ("inflating a 3-D weight", lambda: inflate_conv_weight(torch.zeros(2, 2, 3), 3), ValueError,
     "weight must be a Conv2d kernel (O, I, kh, kw)"),
    ("no label classes", lambda: LabelEmbedder((), 8), ValueError, "num_classes must be a positive int"),
    ("label dropout of 1", lambda: LabelEmbedder(4, 8, dropout_prob=1.0), ValueError, "dropout_prob must be in [0, 1)"),
    ("odd sin-cos dim", lambda: sincos_1d(torch.arange(4), 5), ValueError, "even dim >= 2, got 5"),
    ("odd RoPE dim", lambda: rope_angles(torch.arange(4), 3), ValueError, "dim must be even, got 3"),
    ("RoPE grid and dims of other lengths", lambda: axial_rope_angles((2, 2), (4,)), ValueError,
     "one channel count per axis"),
    ("RoPE angles for other tokens", lambda: apply_rope(torch.zeros(1, 5, 8), rope_angles(torch.arange(4), 8)),
     ValueError, "do not fit x"),
    ("tokens that do not tile the video", lambda: unpatchify_tubelets(torch.zeros(1, 5, 24), 2, 2, 4, 4, 4),
     ValueError, "do not tile a 4x4x4 video"),
    ("conditioned ResBlock without emb", lambda: ResBlock(4, 4, emb_dim=8, groups=2)(torch.zeros(1, 4, 4, 4)),
     ValueError, "pass emb=(B, emb_dim)"),
    # core
    ("strip gap of -1", lambda: frame_strip(torch.rand(2, 3, 4, 4), gap=-1), ValueError, "gap must be an integer >= 0"),
    ("show_video of nothing", lambda: show_video([]), ValueError, "pass at least one video"),
    ("uint8 video to show", lambda: show_video(torch.zeros(2, 3, 4, 4, dtype=torch.uint8)), ValueError,
     "use video.float() / 255"),
    ("a list for a video", lambda: show_video([[0.0]]), ValueError, "shape (F, C, H, W)"),
    ("register_network of instances", lambda: register_network(object(), object()), ValueError,
     "register_network takes two classes"),
    # data
    ("four objects", lambda: sample_scene(RNG, max_objects=4), ValueError, "max_objects must be an int from 1 to"),
    ("a probability of 2", lambda: sample_scene(RNG, gray_prob=2.0), ValueError, "gray_prob must be a probability"),
    ("holdout split of an empty set", lambda: sample_scene(RNG, split="holdout", holdout=Holdout()), ValueError,
     "needs a non-empty holdout set"),
    ("a scene of strings", lambda: SceneSpec(objects=("red circle",)), ValueError, "scene objects must be ObjectSpec"),
    # diffusion
    ("flow path of other shapes", lambda: flow_path(torch.zeros(2, 3), torch.zeros(2, 4), 0.5), ValueError,
     "original_samples (2, 3) and noise (2, 4) differ"),
    ("logit-normal of std 0", lambda: sample_flow_timesteps(4, "logit_normal", logit_std=0.0), ValueError,
     "logit_std must be positive"),
    ("clip range of 0", lambda: DDIMSampler(make_schedule("linear", 1000), clip_sample=True, clip_sample_range=0.0),
     ValueError, "clip_sample_range must be positive"),
    ("a scheduler never set", lambda: sample(lambda x, t: x, UnsetScheduler(), (1, 2), None), ValueError,
     "pass num_inference_steps or call set_timesteps"),
    # eval
    ("images without a batch", lambda: score_images(torch.zeros(3, 8, 8), ["red"], ["circle"]), ValueError,
     "expected a batch of images (B, 3, H, W)"),
    ("an unknown colour", lambda: score_images(torch.zeros(1, 3, 8, 8), ["purple"], ["circle"]), ValueError,
     "unknown color 'purple'"),
    ("no videos to score", lambda: score([], []), ValueError, "at least one video"),
    # model configs
    ("DiT width not divisible by 4", lambda: DiTConfig(input_size=(8, 8), dim=30, num_heads=2), ValueError,
     "must be divisible by 4"),
    ("video DiT width not divisible by 4", lambda: VideoDiTConfig(dim=30, num_heads=2), ValueError,
     "must be divisible by 4"),
    ("a published count of another design", lambda: published_parameter_count(
        DiTConfig(input_size=(8, 8), dim=32, num_heads=2, conditioning="cross_attention")), ValueError,
     "conditioning='adaln_zero'"),
    ("U-Net without levels", lambda: UNetConfig(channel_mults=()), ValueError, "channel_mults must be a non-empty"),
    ("U-Net without res blocks", lambda: UNetConfig(num_res_blocks=0), ValueError,
     "num_res_blocks must be a positive int, got 0"),
    ("VAE without levels", lambda: VAEConfig(channel_mults=()), ValueError, "channel_mults must be a non-empty"),
    ("ViT heads that do not divide", lambda: ViTConfig(dim=30, num_heads=4), ValueError, "not divisible by num_heads"),
    ("ViT pooling by max", lambda: ViTConfig(pool="max"), ValueError, "unknown pool 'max'"),
    ("ViT positions by rope", lambda: ViTConfig(positions="rope"), ValueError, "unknown positions 'rope'"),
    ("ViViT heads that do not divide", lambda: ViViTConfig(dim=30, num_heads=4), ValueError,
     "not divisible by num_heads"),
    ("ViViT positions by rope", lambda: ViViTConfig(positions="rope"), ValueError, "choose 'sincos' or 'learned'"),
    # training
    ("train_denoiser on a list", lambda: train_denoiser(torch.nn.Linear(2, 2), [1, 2], None, 1), ValueError,
     "data must be a tensor (N, ...)"),
    ("train_denoiser for -1 steps", lambda: train_denoiser(torch.nn.Linear(2, 2), torch.zeros(4, 2), None, -1),
     ValueError, "steps must be an int >= 0"),
    ("train_vae for 1.5 steps", lambda: train_vae(torch.nn.Linear(2, 2), torch.zeros(4, 2), 1.5), ValueError,
     "steps must be an int >= 0"),
]


@pytest.mark.parametrize("call, error, words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_error_path_is_clear(call, error, words):
    with pytest.raises(error) as caught:
        call()
    assert words in str(caught.value), f"the message {str(caught.value)!r} does not say {words!r}"


def test_the_cases_are_valid_calls_when_fixed():
    # The same calls with the problem fixed go through, so each case fails for its stated reason.
    assert CausalConv3d(2, 2, kernel_size=3, stride=(2, 1, 1))(torch.zeros(1, 2, 5, 4, 4)).shape[2] == 3
    assert sincos_1d(torch.arange(4), 6).shape == (4, 6)
    assert sample_scene(np.random.default_rng(0), max_objects=3).objects
    assert ObjectSpec("red", "circle", "small", "left").color == "red"
    assert flow_path(torch.zeros(2, 3), torch.ones(2, 3), 0.5).mean().item() == 0.5


def test_file_and_run_errors_are_clear(tmp_path):
    tiny = UNet(UNetConfig(base_channels=8, channel_mults=(1, 2), attention_levels=(), num_heads=1, num_groups=4))
    with pytest.raises(ValueError, match="non-string key 1; use string keys"):
        save_checkpoint(tmp_path / "bad.pt", tiny, extra={1: "one"})
    path = save_checkpoint(tmp_path / "unet.pt", tiny)
    with pytest.raises(ValueError, match="ema must be None .* True or False, got 'yes'"):
        load_model(path, ema="yes")
    saved = torch.load(path, weights_only=True)
    saved["config"]["base_channels"] = -8                             # a config no UNetConfig accepts
    torch.save(saved, tmp_path / "edited.pt")
    with pytest.raises(ValueError, match="its saved config does not build a UNetConfig .* another version"):
        load_model(tmp_path / "edited.pt")

    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "log.csv").write_text("step,loss\n")
    with pytest.raises(ValueError, match="holds a log.csv but no last.pt .* choose another --out"):
        check_out_dir(tmp_path / "run", resume=False)
    (tmp_path / "folder.pt").mkdir()
    with pytest.raises(ValueError, match="is a folder; pass a file name such as"):
        export_model(path, tmp_path / "folder.pt")

    recipe = get_recipe("dit")
    with pytest.raises(ValueError, match="a recipe named 'dit' is already registered"):
        register_recipe(recipe)
    with pytest.raises(ValueError, match="recipe 'dit' has no setting 'nope'; settable:"):
        apply_options(recipe, recipe.options(), {"nope": 1})

    video_vae = CausalVideoVAE(VIDEO_VAE_PRESETS["tiny"])
    with pytest.raises(ValueError, match="num_frames must be a positive int, got 0"):
        video_vae.num_latent_frames(0)
    with pytest.raises(ValueError, match="latent must be a float tensor, got dtype torch.int64"):
        video_vae.decode(torch.zeros(1, 3, 4, 4, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 0"):
        video_vae.fit_shift_and_scale(torch.zeros(2, 5, 3, 8, 8), batch_size=0)

    with pytest.raises(ValueError, match="model must be a TextToVideoModel, got UNet"):
        TextToVideoPipeline(tiny, VAE(VAE_PRESETS["f4"]))
