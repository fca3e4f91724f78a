"""Recipe `t2v`: lesson 09's text-to-video latent DiT on Bouncing Shapes clips and their captions.

Data: `clips` training clips (split "train": the held-out (colour, shape, motion) triples are
never seen; every motion, camera moves, both backgrounds; `one_object_share` of them with one
object, the rest with the world's 1-3, see `training_clips`), `frames` x `size` x
`size`, rendered once and encoded once by the shipped per-frame video VAE
(data/video_vae_f4.pt, whose gate passed) into latents (N, F, 4, size/4, size/4), kept in
memory. Why a cache: rendering a clip takes ~15 ms and encoding its frames a few more, so
rendering a batch of 32 each step would cost more than the step itself on 2 cores; the
cache costs that once (rendered by `num_workers` processes) and the run then only trains.
Each clip keeps its canonical caption and one free phrasing, tokenized; every time a clip
is drawn, one of the two is used (the canonical one with probability `canonical_prob`),
drawn from torch's generator, which the trainer seeds.

Network: `TextToVideoModel` = the shipped text encoder (data/text_encoder.pt, frozen unless
`train_text`; with `word_tokens` the DiT also reads its word embeddings) + a `VIDEO_DIT_PRESETS`
video DiT (2x2x2 tubelets of the latents: 128 tokens) with full 3-D attention by default: at 128
tokens one joint attention is cheaper than a spatial plus a temporal one and measured better
(lesson 09, section 8). Captions are dropped to "" with probability `text_dropout_prob` for
classifier-free guidance.

Objective (`objective`): "flow", rectified flow (`flow_matching_loss`, the network predicts
ε - x_0 at 1000 t), or "v_prediction" on a DDPM schedule (`training_loss`). With
`object_weight` w > 0, a latent cell weighs 1 + w x the share of its pixels within a pixel of an
object (`minisora.data.object_coverage`, computed from the rendered frames when the cache is
made): the objects cover about a sixth of the pixels and their outlines are what tells a
circle from a square, which the unweighted loss counts no more than the flat background. Sampling,
guidance and the judge's scores live in `minisora.pipeline`; `minisora export` turns the run
into a model file whose metadata names the VAE and records the trained size.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn
from torch.utils.data import ConcatDataset, DataLoader

from minisora.core import data_file, load_model
from minisora.core.checks import check_number, check_probability
from minisora.core.pixels import to_model_range
from minisora.data import BouncingShapes, coverage_weights, object_coverage
from minisora.diffusion import NoiseProcess, flow_matching_loss, make_schedule, training_loss
from minisora.models import VAE, VIDEO_DIT_PRESETS, TextToVideoConfig, TextToVideoModel, load_text_encoder
from minisora.train.batches import TensorBatches
from minisora.train.recipes import Recipe, RecipeRun, register_recipe
from minisora.train.trainer import TrainConfig

OBJECTIVES = ("flow", "v_prediction")


@dataclass
class T2VRecipe:
    """Options of the `t2v` recipe (and `train`, its TrainConfig)."""

    preset: str = "cpu"  # a VIDEO_DIT_PRESETS name
    depth: int | None = None  # None: the preset's
    attention: str | None = "full"  # joint 3-D (lesson 09's ablation: better at 128 tokens); None: the preset's
    tubelet_frames: int | None = None  # None: the preset's (2); 1 = frame patches
    objective: str = "flow"  # "flow" (rectified flow) or "v_prediction" (DDPM schedule)
    noise_schedule: str = "linear"  # v_prediction only
    frames: int = 16
    size: int = 32
    clips: int = 12_000  # training clips, rendered and encoded once (~4 min on 2 cores)
    one_object_share: float = 0.5  # of the clips, this share shows one object; the rest 1-3 (so ~2/3 show one)
    batch_size: int = 32
    canonical_prob: float = 0.5  # the share of canonical captions; the rest are the clip's free phrasing
    text_encoder: str = "text_encoder.pt"  # a data/ file or a path: the encoder the DiT reads
    train_text: bool = False  # True: the text encoder learns with the DiT
    text_dropout_prob: float = 0.1  # captions dropped to "" (classifier-free guidance)
    object_weight: float = 3.0  # latent cells near an object weigh 1 + this in the loss (0: all the same; lesson 09)
    word_tokens: bool = True  # the DiT also reads the encoder's word embeddings (TextToVideoModel.text_condition)
    vae: str = "video_vae_f4.pt"  # a data/ file or a path: the autoencoder of the latents
    num_workers: int = 2  # processes rendering the cache
    data_seed: int = 0
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=7_500, lr=8e-4, warmup=200,
                                                                   schedule="cosine", min_lr_ratio=0.1,
                                                                   ema_decay=0.998, log_every=50, save_every=500))

    def __post_init__(self) -> None:
        check_probability(self.one_object_share, "one_object_share")
        check_number(self.object_weight, "object_weight (0 = every latent cell counts the same)", low=0.0)


def resolve_file(name: str):
    """A data/ file name or a path (anything with a '/')."""
    return data_file(name) if "/" not in name else name


@torch.no_grad()
def encode_clips(vae: VAE, clips: BouncingShapes, device, num_workers: int = 0, batch_size: int = 64) -> dict:
    """Render every clip once and encode it: latents (N, F, C_lat, h, w), the objects' coverage of the
    latent grid (N, F, 1, h, w) in float16 (shares of 16 pixels are exact in it), both captions' strings (N,)."""
    loader = DataLoader(clips, batch_size=batch_size, num_workers=num_workers, collate_fn=list)
    latents, coverage, canonical, free = [], [], [], []
    for items in loader:
        pixels = torch.stack([item["video"] for item in items])  # (b, F, 3, H, W) in [0, 1]
        latents.append(vae.encode(to_model_range(pixels).to(device)).cpu())  # (b, F, C_lat, h, w)
        coverage.append(object_coverage(pixels, vae.config.factor).half())  # (b, F, 1, h, w)
        canonical += [item["spec"] for item in items]
        free += [item["caption"] for item in items]
    return {"latents": torch.cat(latents), "coverage": torch.cat(coverage), "canonical": canonical, "free": free}


def choose_captions(batch: dict, canonical_prob: float) -> tuple[Tensor, Tensor]:
    """Per row, the canonical caption's ids and mask with probability canonical_prob, else the free one's."""
    use = torch.rand(batch["x"].shape[0], device=batch["x"].device) < canonical_prob  # (B,)
    ids = torch.where(use[:, None], batch["ids_canonical"], batch["ids_free"])  # (B, L)
    mask = torch.where(use[:, None], batch["mask_canonical"], batch["mask_free"])  # (B, L)
    return ids, mask


def t2v_loss(objective: str, canonical_prob: float, process: NoiseProcess | None = None, object_weight: float = 0.0):
    """`loss_fn(model, batch)`: the objective's loss on batch["x"], conditioned on one caption per clip.

    With object_weight > 0 the batch also carries "coverage" (B, F, 1, h, w), and a latent cell
    weighs 1 + object_weight * coverage in the loss (minisora.data.coverage_weights)."""
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {objective!r}; choose one of {OBJECTIVES}")
    check_number(object_weight, "object_weight", low=0.0)

    def loss_fn(model: nn.Module, batch: dict) -> Tensor:
        ids, mask = choose_captions(batch, canonical_prob)
        weights = coverage_weights(batch["coverage"], object_weight) if object_weight > 0 else None
        if objective == "flow":
            return flow_matching_loss(model, batch["x"], ids=ids, mask=mask, element_weights=weights)
        return training_loss(model, batch["x"], process, prediction_type="v_prediction", ids=ids, mask=mask,
                             element_weights=weights)

    return loss_fn


def build_model(options: T2VRecipe) -> TextToVideoModel:
    """The network the options describe, its text encoder loaded from `options.text_encoder`."""
    if options.preset not in VIDEO_DIT_PRESETS:
        raise ValueError(f"unknown video DiT preset {options.preset!r}; choose one of {sorted(VIDEO_DIT_PRESETS)}")
    encoder = load_text_encoder(resolve_file(options.text_encoder))
    overrides = {key: getattr(options, key) for key in ("depth", "attention", "tubelet_frames")
                 if getattr(options, key) is not None}
    latent = options.size // 4  # the f4 VAE
    dit = dataclasses.replace(VIDEO_DIT_PRESETS[options.preset], num_frames=options.frames,
                              input_size=(latent, latent), context_dim=encoder.config.dim, **overrides)
    model = TextToVideoModel(TextToVideoConfig(dit=dit, text=encoder.config, train_text=options.train_text,
                                               text_dropout_prob=options.text_dropout_prob,
                                               word_tokens=options.word_tokens))
    model.text.load_state_dict(encoder.state_dict())
    return model


def training_clips(options: T2VRecipe) -> ConcatDataset:
    """The train-split clips: `one_object_share` of them with one object, the rest with 1-3.

    Why more single objects than the world's 1-in-3: a caption's motion word changes the denoising
    loss little (the object's place in x_t already says most of where it goes), so the model learns
    to follow it late; in a one-object clip nothing else competes for that word."""
    single = round(options.clips * options.one_object_share)
    size = {"num_frames": options.frames, "height": options.size, "width": options.size, "split": "train",
            "caption_style": "free"}
    parts = [BouncingShapes(length=count, max_objects=objects, seed=options.data_seed + offset, **size)
             for count, objects, offset in ((single, 1, 1), (options.clips - single, 3, 0)) if count]
    return ConcatDataset(parts)


def build(options: T2VRecipe, device) -> RecipeRun:
    model = build_model(options)
    vae = load_model(resolve_file(options.vae), expect=VAE, device=device)
    if vae.config.factor != 4 or model.config.dit.in_channels != vae.config.latent_channels:
        raise ValueError(f"{options.vae} is a VAE of factor {vae.config.factor} with {vae.config.latent_channels} "
                         "latent channels; the t2v recipe expects the f4, 4-channel video VAE (video_vae_f4.pt)")
    clips = training_clips(options)
    cache = encode_clips(vae, clips, device, options.num_workers)
    tokenizer = model.tokenizer
    ids_canonical, mask_canonical = tokenizer.encode(cache["canonical"])
    ids_free, mask_free = tokenizer.encode(cache["free"])
    tensors = {"x": cache["latents"], "ids_canonical": ids_canonical, "mask_canonical": mask_canonical,
               "ids_free": ids_free, "mask_free": mask_free}
    if options.object_weight > 0:  # only then: the batches of an unweighted run stay what they were
        tensors["coverage"] = cache["coverage"]
    data = TensorBatches(tensors, options.batch_size, seed=options.train.seed)
    process = NoiseProcess(make_schedule(options.noise_schedule, 1000)) if options.objective == "v_prediction" else None
    loss_fn = t2v_loss(options.objective, options.canonical_prob, process, options.object_weight)
    dit_parameters = sum(p.numel() for p in model.dit.parameters())
    cfg = model.config.dit
    words = ", and its word embeddings" if options.word_tokens else ""
    describe = (f"VideoDiT-{options.preset} ({dit_parameters:,} parameters, {cfg.attention} attention, "
                f"{cfg.tubelet_frames}x{cfg.patch_size}x{cfg.patch_size} tubelets) + text encoder "
                f"({'trained' if options.train_text else 'frozen'}{words}) from {options.text_encoder}; "
                f"{options.objective}; {len(clips):,} clips ({options.one_object_share:.0%} one-object, the rest 1-3) "
                f"{tuple(cache['latents'].shape[1:])} latents from {options.vae}"
                + (f"; object cells weigh 1 + {options.object_weight:g}" if options.object_weight > 0 else ""))

    def finish(trainer) -> dict:
        # The sizes, VAE and objective a pipeline needs are in the metadata's "options" already.
        recent = trainer.losses[-100:]
        return {"final_loss": sum(recent) / len(recent) if recent else None}

    return RecipeRun(model, loss_fn, data, describe, finish)


register_recipe(Recipe(
    name="t2v",
    summary="lesson 09's text-to-video DiT on the shipped video VAE's latents and text encoder (rectified flow)",
    options=T2VRecipe,
    build=build,
    fast={"preset": "tiny", "frames": 4, "size": 16, "clips": 16, "batch_size": 4, "steps": 3, "warmup": 0,
          "num_workers": 0, "save_every": 0, "log_every": 1},
))
