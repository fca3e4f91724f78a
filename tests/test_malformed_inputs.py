"""Malformed input across the public API: each case must raise a clear error that names the argument.

Issue 17 tried 217 malformed inputs as a new user would; the ones that were silently accepted or
answered from deep inside numpy / torch / einops / PyAV are kept fixed here. Each case is
(what is wrong, the call, the error types allowed, words the message must contain). The words are
the argument's name and, where there is one, the fix. A case that passes today and breaks later
is a regression a learner would meet as a traceback they cannot read.
"""

import math
import warnings

import numpy as np
import pytest
import torch

from minisora import seed_everything
from minisora.blocks import (
    Attention,
    CausalConv3d,
    LabelEmbedder,
    ResBlock,
    apply_rope,
    axial_rope_angles,
    inflate_conv_weight,
    patchify,
    rope_angles,
    sincos_1d,
    sincos_2d,
    timestep_embedding,
    unpatchify_tubelets,
)
from minisora.core import (
    frame_strip,
    load_model,
    read_video,
    register_network,
    save_checkpoint,
    save_video,
    show_video,
    to_model_range,
)
from minisora.data import BouncingShapes, ObjectSpec, SceneSpec, object_frames, parse_caption, render, sample_scene
from minisora.data.scene import Holdout
from minisora.diffusion import (
    DDIMSampler,
    DDPMSampler,
    FlowMatchingSampler,
    NoiseProcess,
    classifier_free_guidance,
    flow_path,
    make_schedule,
    sample,
    sample_flow_timesteps,
)
from minisora.eval import judge, score, score_images, wilson_interval
from minisora.models import (
    DIT_PRESETS,
    UNET_PRESETS,
    VAE,
    VAE_PRESETS,
    VIDEO_DIT_PRESETS,
    VIDEO_VAE_PRESETS,
    CausalVideoVAE,
    DiT,
    DiTConfig,
    UNet,
    UNetConfig,
    VAEConfig,
    VideoDiTConfig,
    ViT,
    ViTConfig,
    ViViTConfig,
)
from minisora.models.dit import published_parameter_count
from minisora.pipeline import TextToVideoPipeline
from minisora.text import TextEncoderConfig, Tokenizer
from minisora.train import TensorBatches, TrainConfig, train_denoiser, train_vae
from minisora.train.export import export_model
from minisora.train.recipes import apply_options, get_recipe, register_recipe
from minisora.train.run import check_out_dir

CAPTION = "a small red circle moving left"
VIDEO = torch.rand(4, 3, 8, 8)  # (F, 3, H, W) in [0, 1]


def tiny_dit() -> DiT:
    return DiT(DiTConfig(input_size=(8, 8), in_channels=3, dim=32, depth=1, num_heads=2, num_classes=(4,)))


def tiny_unet() -> UNet:
    return UNet(UNetConfig(base_channels=8, channel_mults=(1, 2), attention_levels=(), num_heads=1, num_groups=4))


def tiny_vit() -> ViT:
    return ViT(ViTConfig(image_size=(8, 8), patch_size=4, dim=16, depth=1, num_heads=2, num_classes=3))


def train_one_step(**options):
    return train_denoiser(tiny_unet(), torch.randn(4, 3, 8, 8), NoiseProcess(), 1, batch_size=2, progress=False,
                          **options)


def not_a_video(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("this is text, not a video")
    return path


def truncated_gif(tmp_path):
    path = save_video(tmp_path / "clip.gif", torch.rand(8, 3, 16, 16))
    data = path.read_bytes()
    cut = tmp_path / "cut.gif"
    cut.write_bytes(data[: len(data) // 2])
    return cut


# (id, call(tmp_path), error types, words the message must name)
RNG = np.random.default_rng(0)


class UnsetScheduler:
    """A diffusers-style scheduler before its set_timesteps: sample() must say what to do."""

    timesteps = None


CASES = [
    # --- videos in and out (minisora.core.video)
    ("save_video: bytes", lambda p: save_video(p / "v.mp4", VIDEO * 255), ValueError, ["video", "/ 255"]),
    ("save_video: [-1, 1]", lambda p: save_video(p / "v.mp4", VIDEO * 2 - 1), ValueError, ["+ 1) / 2"]),
    ("save_video: NaN", lambda p: save_video(p / "v.mp4", VIDEO * float("nan")), ValueError, ["video", "NaN"]),
    ("save_video: gif fps too high", lambda p: save_video(p / "v.gif", VIDEO, fps=1000), ValueError, ["fps", ".mp4"]),
    ("save_video: fps inf", lambda p: save_video(p / "v.mp4", VIDEO, fps=math.inf), ValueError, ["fps"]),
    ("save_video: fps zero", lambda p: save_video(p / "v.mp4", VIDEO, fps=0), ValueError, ["fps"]),
    ("save_video: fps string", lambda p: save_video(p / "v.mp4", VIDEO, fps="8"), (TypeError, ValueError), ["fps"]),
    ("save_video: scale 0", lambda p: save_video(p / "v.mp4", VIDEO, scale=0), ValueError, ["scale"]),
    ("save_video: 2-D video", lambda p: save_video(p / "v.mp4", VIDEO[0, 0]), ValueError, ["video", "shape"]),
    ("save_video: no frames", lambda p: save_video(p / "v.mp4", VIDEO[:0]), ValueError, ["video", "(0, 3, 8, 8)"]),
    ("save_video: unknown suffix", lambda p: save_video(p / "v.avi", VIDEO), ValueError, ["v.avi", ".mp4"]),
    ("save_video: folder is a file", lambda p: save_video(not_a_video(p) / "v.mp4", VIDEO),
     (FileExistsError, NotADirectoryError, ValueError), ["notes.mp4"]),
    ("read_video: missing file", lambda p: read_video(p / "none.mp4"), FileNotFoundError, ["none.mp4"]),
    ("read_video: not a video", lambda p: read_video(not_a_video(p)), ValueError, ["notes.mp4", "video"]),
    ("read_video: truncated gif", lambda p: read_video(truncated_gif(p)), (ValueError, UserWarning), ["cut.gif"]),
    ("read_video: max_frames 0", lambda p: read_video(save_video(p / "v.gif", VIDEO), max_frames=0), ValueError,
     ["max_frames"]),
    ("frame_strip: max_frames 0", lambda p: frame_strip(VIDEO, max_frames=0), ValueError, ["max_frames"]),
    ("to_model_range: bytes", lambda p: to_model_range(VIDEO * 255), ValueError, ["/ 255"]),
    # --- the world (minisora.data)
    ("render: empty caption", lambda p: render(""), ValueError, ["caption"]),
    ("render: unknown word", lambda p: render("a small purple hexagon moving left"), ValueError, ["hexagon"]),
    ("render: fps inf", lambda p: render(CAPTION, fps=math.inf), ValueError, ["fps"]),
    ("render: fps 0", lambda p: render(CAPTION, fps=0), ValueError, ["fps"]),
    ("render: fps string", lambda p: render(CAPTION, fps="8"), (TypeError, ValueError), ["fps"]),
    ("render: 0 frames", lambda p: render(CAPTION, num_frames=0), ValueError, ["num_frames"]),
    ("render: float frames", lambda p: render(CAPTION, num_frames=2.5), (TypeError, ValueError), ["num_frames"]),
    ("render: height 0", lambda p: render(CAPTION, height=0), ValueError, ["height"]),
    ("render: terabytes", lambda p: render(CAPTION, num_frames=100_000, height=4096, width=4096), ValueError,
     ["num_frames", "GiB"]),
    ("render: negative seed", lambda p: render(CAPTION, seed=-1), ValueError, ["seed"]),
    ("render: float seed", lambda p: render(CAPTION, seed=1.5), (TypeError, ValueError), ["seed"]),
    ("parse_caption: not a string", lambda p: parse_caption(3), (TypeError, ValueError), ["caption", "string"]),
    ("ObjectSpec: unknown shape", lambda p: ObjectSpec(color="red", shape="hexagon", size="small", motion="left"),
     ValueError, ["shape", "hexagon"]),
    ("ObjectSpec: unknown colour", lambda p: ObjectSpec(color="teal", shape="circle", size="small", motion="left"),
     ValueError, ["color", "teal"]),
    ("SceneSpec: no objects", lambda p: SceneSpec(objects=()), ValueError, ["objects"]),
    ("BouncingShapes: unknown split", lambda p: BouncingShapes(length=4, split="dev"), ValueError, ["split", "train"]),
    ("BouncingShapes: negative length", lambda p: BouncingShapes(length=-1), ValueError, ["length"]),
    ("BouncingShapes: negative seed", lambda p: BouncingShapes(length=4, seed=-2), ValueError, ["seed"]),
    ("BouncingShapes: float index", lambda p: BouncingShapes(length=4)[1.5], TypeError, ["index"]),
    ("BouncingShapes: float tensor index", lambda p: BouncingShapes(length=4)[torch.tensor(1.0)], TypeError, ["index"]),
    ("BouncingShapes: index past the end", lambda p: BouncingShapes(length=4)[4], IndexError, ["index", "4"]),
    ("object_frames: num 0", lambda p: object_frames(0), ValueError, ["num"]),
    # --- configs and presets (minisora.models, minisora.text, minisora.train)
    ("DiTConfig: negative depth", lambda p: DiTConfig(depth=-3), ValueError, ["depth"]),
    ("DiTConfig: zero depth", lambda p: DiTConfig(depth=0), ValueError, ["depth"]),
    ("DiTConfig: zero heads", lambda p: DiTConfig(num_heads=0), ValueError, ["num_heads"]),
    ("DiTConfig: heads do not divide dim", lambda p: DiTConfig(dim=30, num_heads=4), ValueError, ["num_heads"]),
    ("DiTConfig: zero classes", lambda p: DiTConfig(num_classes=(0,)), ValueError, ["num_classes"]),
    ("DiTConfig: dropout 2", lambda p: DiTConfig(class_dropout_prob=2.0), ValueError, ["class_dropout_prob"]),
    ("ViTConfig: zero classes", lambda p: ViTConfig(num_classes=0), ValueError, ["num_classes"]),
    ("ViTConfig: patch does not divide", lambda p: ViTConfig(image_size=(30, 30), patch_size=4), ValueError,
     ["patch size", "28"]),
    ("UNetConfig: zero groups", lambda p: UNetConfig(num_groups=0), ValueError, ["num_groups"]),
    ("UNetConfig: zero channels", lambda p: UNetConfig(base_channels=0), ValueError, ["base_channels"]),
    ("VAEConfig: zero latent channels", lambda p: VAEConfig(latent_channels=0), ValueError, ["latent_channels"]),
    ("VideoDiTConfig: unknown attention", lambda p: VideoDiTConfig(attention="sparse"), ValueError,
     ["attention", "factorized"]),
    ("VideoDiTConfig: zero depth", lambda p: VideoDiTConfig(depth=0), ValueError, ["depth"]),
    ("ViViTConfig: unknown variant", lambda p: ViViTConfig(variant="model9"), ValueError, ["variant"]),
    ("TextEncoderConfig: zero dim", lambda p: TextEncoderConfig(dim=0), ValueError, ["dim"]),
    ("DIT_PRESETS: unknown name", lambda p: DIT_PRESETS["XL/3"], KeyError, ["XL/3", "mini/2"]),
    ("UNET_PRESETS: unknown name", lambda p: UNET_PRESETS["huge"], KeyError, ["huge", "tiny"]),
    ("VAE_PRESETS: unknown name", lambda p: VAE_PRESETS["f16"], KeyError, ["f16", "f4"]),
    ("VIDEO_DIT_PRESETS: unknown name", lambda p: VIDEO_DIT_PRESETS["xl"], KeyError, ["xl", "cpu"]),
    ("TrainConfig: negative lr", lambda p: TrainConfig(lr=-1.0), ValueError, ["lr"]),
    ("TrainConfig: negative seed", lambda p: TrainConfig(seed=-1), ValueError, ["seed"]),
    ("TrainConfig: float steps", lambda p: TrainConfig(steps=10.5), (TypeError, ValueError), ["steps"]),
    # --- networks' inputs
    ("DiT: float64 input", lambda p: tiny_dit()(torch.randn(2, 3, 8, 8, dtype=torch.float64), torch.zeros(2),
                                                 torch.zeros(2, 1, dtype=torch.long)), (TypeError, ValueError),
     ["x", "float64", ".float()"]),
    ("DiT: uint8 input", lambda p: tiny_dit()(torch.zeros(2, 3, 8, 8, dtype=torch.uint8), torch.zeros(2),
                                               torch.zeros(2, 1, dtype=torch.long)), (TypeError, ValueError),
     ["x", "uint8"]),
    ("DiT: labels' batch differs", lambda p: tiny_dit()(torch.randn(2, 3, 8, 8), torch.zeros(2),
                                                         torch.zeros(3, 1, dtype=torch.long)), ValueError,
     ["labels", "batch"]),
    ("DiT: wrong channels", lambda p: tiny_dit()(torch.randn(2, 4, 8, 8), torch.zeros(2),
                                                  torch.zeros(2, 1, dtype=torch.long)), ValueError,
     ["x", "3 channels"]),
    ("UNet: float64 input", lambda p: tiny_unet()(torch.randn(1, 3, 8, 8, dtype=torch.float64), torch.zeros(1)),
     (TypeError, ValueError), ["x", "float64"]),
    ("UNet: size the levels cannot halve", lambda p: tiny_unet()(torch.randn(1, 3, 7, 7), torch.zeros(1)),
     ValueError, ["height=7", "use 6 or 8"]),
    ("ViT: wrong image size", lambda p: tiny_vit()(torch.randn(1, 3, 12, 12)), ValueError,
     ["images", "(1, 3, 12, 12)"]),
    ("VAE: wrong channels", lambda p: VAE(VAEConfig(base_channels=8, channel_mults=(1,), num_heads=1, num_groups=4))(
        torch.randn(1, 1, 8, 8)), ValueError, ["(B, 3, H, W)", "(1, 1, 8, 8)"]),
    ("Attention: float 0/1 mask", lambda p: Attention(8, 2)(torch.randn(1, 3, 8), key_padding_mask=torch.ones(1, 3)),
     ValueError, ["key_padding_mask", ".bool()"]),
    ("patchify: size not divisible", lambda p: patchify(torch.randn(1, 3, 9, 9), 4), ValueError, ["patch"]),
    ("sincos_2d: dim not a multiple of 4", lambda p: sincos_2d(2, 2, 6), ValueError, ["dim"]),
    ("timestep_embedding: 3-D timesteps", lambda p: timestep_embedding(torch.zeros(2, 2, 2), 8), ValueError,
     ["t"]),
    # --- checkpoints
    ("load_model: expect a string", lambda p: load_model(p / "x.pt", expect="VAE"), (TypeError, ValueError),
     ["expect", "class"]),
    ("load_model: missing file", lambda p: load_model(p / "none.pt"), FileNotFoundError, ["none.pt"]),
    ("load_model: not a checkpoint", lambda p: load_model(not_a_video(p)), ValueError, ["notes.mp4", "checkpoint"]),
    # --- diffusion
    ("DDPMSampler: schedule as a name", lambda p: DDPMSampler(schedule="cosine"), TypeError,
     ["schedule", "make_schedule"]),
    ("DDIMSampler: schedule as a name", lambda p: DDIMSampler(schedule="linear"), TypeError,
     ["schedule", "make_schedule"]),
    ("make_schedule: unknown name", lambda p: make_schedule("sigmoid"), ValueError, ["sigmoid", "linear"]),
    ("make_schedule: zero steps", lambda p: make_schedule("linear", 0), ValueError, ["timesteps"]),
    ("NoiseProcess: timestep past the end", lambda p: NoiseProcess().add_noise(torch.zeros(1, 2), torch.zeros(1, 2),
                                                                               torch.tensor([5000])), ValueError,
     ["timesteps", "999"]),
    ("sample: shape an int", lambda p: sample(lambda x, t: x, FlowMatchingSampler(), 16, 4), TypeError, ["shape"]),
    ("sample: zero steps", lambda p: sample(lambda x, t: x, FlowMatchingSampler(), (1, 2), 0), ValueError,
     ["num_inference_steps"]),
    ("FlowMatchingSampler: negative shift", lambda p: FlowMatchingSampler(shift=-1.0), ValueError, ["shift"]),
    ("classifier_free_guidance: NaN scale", lambda p: classifier_free_guidance(torch.zeros(1), torch.zeros(1),
                                                                               float("nan")), ValueError,
     ["scale", "finite"]),
    # --- training
    ("train_denoiser: negative seed", lambda p: train_one_step(seed=-1), ValueError, ["seed"]),
    ("train_denoiser: seed a string", lambda p: train_one_step(seed="0"), (TypeError, ValueError), ["seed"]),
    ("train_denoiser: seed a float", lambda p: train_one_step(seed=1.0), (TypeError, ValueError), ["seed"]),
    ("train_denoiser: labels' batch differs", lambda p: train_denoiser(
        tiny_unet(), torch.randn(4, 3, 8, 8), NoiseProcess(), 1, labels=torch.zeros(3, 1, dtype=torch.long),
        batch_size=2, progress=False), ValueError, ["labels", "4"]),
    ("train_denoiser: no data", lambda p: train_denoiser(tiny_unet(), torch.zeros(0, 3, 8, 8), NoiseProcess(), 1,
                                                          batch_size=1, progress=False), ValueError, ["data", "empty"]),
    ("TensorBatches: no samples", lambda p: TensorBatches({"x": torch.zeros(0, 2)}, 1), ValueError, ["0 samples"]),
    ("score_images: no images", lambda p: score_images(torch.zeros(0, 3, 32, 32), []), ValueError,
     ["images", "batch 0"]),
    ("TensorBatches: batch 0", lambda p: TensorBatches({"x": torch.zeros(4, 2)}, 0), ValueError, ["batch_size"]),
    ("TensorBatches: lengths differ", lambda p: TensorBatches({"x": torch.zeros(4, 2), "y": torch.zeros(3)}, 2),
     ValueError, ["y", "4"]),
    ("seed_everything: negative", lambda p: seed_everything(-1), ValueError, ["seed"]),
    ("seed_everything: a string", lambda p: seed_everything("0"), (TypeError, ValueError), ["seed"]),
    # --- the judge and its intervals
    ("judge: wrong shape", lambda p: judge(torch.rand(3, 8, 8), CAPTION), ValueError, ["video", "shape"]),
    ("judge: empty caption", lambda p: judge(torch.rand(4, 3, 32, 32), ""), ValueError, ["caption"]),
    ("wilson_interval: more successes than trials", lambda p: wilson_interval(5, 3), ValueError, ["successes"]),
    ("wilson_interval: no trials", lambda p: wilson_interval(0, 0), ValueError, ["trials"]),
    ("wilson_interval: confidence 1", lambda p: wilson_interval(1, 3, confidence=1.0), ValueError, ["confidence"]),
    # --- the tokenizer
    ("Tokenizer: zero context", lambda p: Tokenizer(["a", "b"], 0), ValueError, ["context_length"]),
    ("Tokenizer.encode: no captions", lambda p: Tokenizer(["a", "b"], 8).encode([]), ValueError, ["texts"]),
    ("Tokenizer.encode: not text", lambda p: Tokenizer(["a", "b"], 8).encode([3]), (TypeError, ValueError),
     ["texts[0]", "str"]),
    # --- error paths no other test reached (found by running the suite under coverage): blocks
    ("stride above kernel", lambda p: CausalConv3d(2, 2, kernel_size=(1, 3, 3), stride=(2, 1, 1)),
     ValueError, ["temporal stride 2 larger than the temporal kernel 1"]),
    ("kernel of two sizes", lambda p: CausalConv3d(2, 2, kernel_size=(3, 3)), ValueError, ["kernel_size must be"]),
    ("stride-2 conv on 4 frames",
     lambda p: CausalConv3d(2, 2, kernel_size=3, stride=(2, 1, 1))(torch.zeros(1, 2, 4, 4, 4)),
     ValueError, ["needs 1 + 2n frames, got 4"]),
    ("inflating a 3-D weight", lambda p: inflate_conv_weight(torch.zeros(2, 2, 3), 3), ValueError,
     ["weight must be a Conv2d kernel (O, I, kh, kw)"]),
    ("no label classes", lambda p: LabelEmbedder((), 8), ValueError, ["num_classes must be a positive int"]),
    ("label dropout of 1", lambda p: LabelEmbedder(4, 8, dropout_prob=1.0), ValueError,
     ["dropout_prob must be in [0, 1)"]),
    ("odd sin-cos dim", lambda p: sincos_1d(torch.arange(4), 5), ValueError, ["even dim >= 2, got 5"]),
    ("odd RoPE dim", lambda p: rope_angles(torch.arange(4), 3), ValueError, ["dim must be even, got 3"]),
    ("RoPE grid and dims of other lengths", lambda p: axial_rope_angles((2, 2), (4,)), ValueError,
     ["one channel count per axis"]),
    ("RoPE angles for other tokens", lambda p: apply_rope(torch.zeros(1, 5, 8), rope_angles(torch.arange(4), 8)),
     ValueError, ["do not fit x"]),
    ("tokens that do not tile the video", lambda p: unpatchify_tubelets(torch.zeros(1, 5, 24), 2, 2, 4, 4, 4),
     ValueError, ["do not tile a 4x4x4 video"]),
    ("conditioned ResBlock without emb", lambda p: ResBlock(4, 4, emb_dim=8, groups=2)(torch.zeros(1, 4, 4, 4)),
     ValueError, ["pass emb=(B, emb_dim)"]),
    # core
    ("strip gap of -1", lambda p: frame_strip(torch.rand(2, 3, 4, 4), gap=-1), ValueError,
     ["gap must be an integer >= 0"]),
    ("show_video of nothing", lambda p: show_video([]), ValueError, ["pass at least one video"]),
    ("uint8 video to show", lambda p: show_video(torch.zeros(2, 3, 4, 4, dtype=torch.uint8)), ValueError,
     ["use video.float() / 255"]),
    ("a list for a video", lambda p: show_video([[0.0]]), ValueError, ["shape (F, C, H, W)"]),
    ("register_network of instances", lambda p: register_network(object(), object()), ValueError,
     ["register_network takes two classes"]),
    # data
    ("four objects", lambda p: sample_scene(RNG, max_objects=4), ValueError, ["max_objects must be an int from 1 to"]),
    ("a probability of 2", lambda p: sample_scene(RNG, gray_prob=2.0), ValueError, ["gray_prob must be a probability"]),
    ("holdout split of an empty set", lambda p: sample_scene(RNG, split="holdout", holdout=Holdout()), ValueError,
     ["needs a non-empty holdout set"]),
    ("a scene of strings", lambda p: SceneSpec(objects=("red circle",)), ValueError,
     ["scene objects must be ObjectSpec"]),
    # diffusion
    ("flow path of other shapes", lambda p: flow_path(torch.zeros(2, 3), torch.zeros(2, 4), 0.5), ValueError,
     ["original_samples (2, 3) and noise (2, 4) differ"]),
    ("logit-normal of std 0", lambda p: sample_flow_timesteps(4, "logit_normal", logit_std=0.0), ValueError,
     ["logit_std must be positive"]),
    ("clip range of 0", lambda p: DDIMSampler(make_schedule("linear", 1000), clip_sample=True, clip_sample_range=0.0),
     ValueError, ["clip_sample_range must be positive"]),
    ("a scheduler never set", lambda p: sample(lambda x, t: x, UnsetScheduler(), (1, 2), None), ValueError,
     ["pass num_inference_steps or call set_timesteps"]),
    # eval
    ("images without a batch", lambda p: score_images(torch.zeros(3, 8, 8), ["red"], ["circle"]), ValueError,
     ["expected a batch of images (B, 3, H, W)"]),
    ("an unknown colour", lambda p: score_images(torch.zeros(1, 3, 8, 8), ["purple"], ["circle"]), ValueError,
     ["unknown color 'purple'"]),
    ("no videos to score", lambda p: score([], []), ValueError, ["at least one video"]),
    # model configs
    ("DiT width not divisible by 4", lambda p: DiTConfig(input_size=(8, 8), dim=30, num_heads=2), ValueError,
     ["must be divisible by 4"]),
    ("video DiT width not divisible by 4", lambda p: VideoDiTConfig(dim=30, num_heads=2), ValueError,
     ["must be divisible by 4"]),
    ("a published count of another design", lambda p: published_parameter_count(
        DiTConfig(input_size=(8, 8), dim=32, num_heads=2, conditioning="cross_attention")), ValueError,
     ["conditioning='adaln_zero'"]),
    ("U-Net without levels", lambda p: UNetConfig(channel_mults=()), ValueError, ["channel_mults must be a non-empty"]),
    ("U-Net without res blocks", lambda p: UNetConfig(num_res_blocks=0), ValueError,
     ["num_res_blocks must be a positive int, got 0"]),
    ("VAE without levels", lambda p: VAEConfig(channel_mults=()), ValueError, ["channel_mults must be a non-empty"]),
    ("ViT heads that do not divide", lambda p: ViTConfig(dim=30, num_heads=4), ValueError,
     ["not divisible by num_heads"]),
    ("ViT pooling by max", lambda p: ViTConfig(pool="max"), ValueError, ["unknown pool 'max'"]),
    ("ViT positions by rope", lambda p: ViTConfig(positions="rope"), ValueError, ["unknown positions 'rope'"]),
    ("ViViT heads that do not divide", lambda p: ViViTConfig(dim=30, num_heads=4), ValueError,
     ["not divisible by num_heads"]),
    ("ViViT positions by rope", lambda p: ViViTConfig(positions="rope"), ValueError, ["choose 'sincos' or 'learned'"]),
    # training
    ("train_denoiser on a list", lambda p: train_denoiser(torch.nn.Linear(2, 2), [1, 2], None, 1), ValueError,
     ["data must be a tensor (N, ...)"]),
    ("train_denoiser for -1 steps", lambda p: train_denoiser(torch.nn.Linear(2, 2), torch.zeros(4, 2), None, -1),
     ValueError, ["steps must be an int >= 0"]),
    ("train_vae for 1.5 steps", lambda p: train_vae(torch.nn.Linear(2, 2), torch.zeros(4, 2), 1.5), ValueError,
     ["steps must be an int >= 0"]),
]


def test_there_are_at_least_sixty_cases():
    assert len(CASES) >= 60, len(CASES)
    assert len({name for name, *_ in CASES}) == len(CASES), "case names must be unique"


@pytest.mark.parametrize("name, call, errors, words", CASES, ids=[case[0] for case in CASES])
def test_malformed_input_gets_a_clear_error(name, call, errors, words, tmp_path):
    errors = errors if isinstance(errors, tuple) else (errors,)
    warning_types = tuple(e for e in errors if issubclass(e, Warning))
    with warnings.catch_warnings():
        warnings.simplefilter("error", warning_types[0]) if warning_types else None
        with pytest.raises(errors) as caught:
            call(tmp_path)
    message = str(caught.value)
    missing = [word for word in words if word.lower() not in message.lower()]
    assert not missing, f"{name}: the message does not name {missing}: {message!r}"


# (id, argv(tmp_path), words stderr must name): every bad command line exits 2 with a message, no traceback
CLI_CASES = [
    ("render: folder is a file", lambda p: ["render", CAPTION, "--out", str(not_a_video(p) / "x.mp4")], ["notes.mp4"]),
    ("render: unknown suffix", lambda p: ["render", CAPTION, "--out", str(p / "x.avi")], ["x.avi", ".mp4"]),
    ("render: unknown word", lambda p: ["render", "a purple blob", "--out", str(p / "x.mp4")], ["purple"]),
    ("render: negative seed", lambda p: ["render", CAPTION, "--out", str(p / "x.mp4"), "--seed", "-1"], ["seed"]),
    ("render: terabytes", lambda p: ["render", CAPTION, "--out", str(p / "x.mp4"), "--frames", "100000",
                                     "--height", "4096", "--width", "4096"], ["num_frames", "GiB"]),
    ("render: zero frames", lambda p: ["render", CAPTION, "--out", str(p / "x.mp4"), "--frames", "0"], ["--frames"]),
    ("export: no run", lambda p: ["export", str(p / "none"), "--out", str(p / "m.pt")], ["none"]),
]


@pytest.mark.parametrize("name, argv, words", CLI_CASES, ids=[case[0] for case in CLI_CASES])
def test_cli_malformed_input_exits_2_with_a_message(name, argv, words, tmp_path, capsys):
    from minisora.cli import main

    try:
        code = main(argv(tmp_path))
    except SystemExit as exit:  # argparse's own errors (a malformed number) exit with its usage line
        code = exit.code
    assert code == 2
    message = capsys.readouterr().err
    assert "minisora" in message and "Traceback" not in message, message
    missing = [word for word in words if word.lower() not in message.lower()]
    assert not missing, f"{name}: stderr does not name {missing}: {message!r}"


def test_the_coverage_cases_are_valid_calls_when_fixed():
    # The same calls with the problem fixed go through, so each case fails for its stated reason.
    assert CausalConv3d(2, 2, kernel_size=3, stride=(2, 1, 1))(torch.zeros(1, 2, 5, 4, 4)).shape[2] == 3
    assert sincos_1d(torch.arange(4), 6).shape == (4, 6)
    assert sample_scene(np.random.default_rng(0), max_objects=3).objects
    assert ObjectSpec("red", "circle", "small", "left").color == "red"
    assert flow_path(torch.zeros(2, 3), torch.ones(2, 3), 0.5).mean().item() == 0.5


def test_file_and_run_errors_are_clear(tmp_path):
    tiny = tiny_unet()
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
