"""Recipe `text-encoder`: lesson 08's CLIP on Bouncing Shapes clips and their captions, then retrieval scores.

The network: `CLIPModel` (minisora.models.clip), a `TextEncoder` and a ViViT video tower
(a `CLIP_PRESETS` name; "small": 16x32x32 clips in 2x8x8 tubelets). Lesson 09 conditions
its DiT on the text tower alone: `finish` writes it to `text_encoder.pt` beside `last.pt`
(and `load_text_encoder` reads either file).

Data: `clips` training clips (split "train": no held-out (colour, shape, motion) triple),
rendered on the fly in the training process (`DatasetBatches`, num_workers=0, as
`video-vae`). Each clip's caption is its canonical caption with probability
`canonical_prob`, else a free English phrasing — chosen per item from its own seeded
stream, so an item's caption is fixed whatever the batch order. A batch carries the videos
(B, F, 3, H, W) in [-1, 1], the tokenized captions (ids, mask), the canonical captions
("spec") and their group ids within the batch ("groups").

Loss: `clip_loss`. Two clips in a batch can share one canonical caption; with
`mask_duplicates` (the default) they are not each other's negatives (the logit between
them is dropped), since pushing a caption away from a clip it describes teaches the wrong
thing. Logged too: `accuracy`, in-batch top-1 retrieval (a hit is any clip of the caption's
group), averaged over both directions, and `logit_scale`. Each rank contrasts its own
batch (no all-gather of embeddings across ranks, which CLIP does for more negatives).

At the end, `eval_clips` clips of each held-out set are embedded — "seen": the training
split under another seed (combinations the model may have met), "holdout": the holdout
split (every clip shows a (colour, shape, motion) triple training never did) — and
captions retrieve clips and clips captions, with canonical and with free captions:
top-1, top-5 and mean rank in each direction, printed and stored in the metadata.
"""

from __future__ import annotations

import dataclasses
import functools
import pathlib
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from minisora.core.pixels import to_model_range
from minisora.data import BouncingShapes
from minisora.models.clip import CLIP_PRESETS, CLIPModel, save_text_encoder
from minisora.text import Tokenizer, clip_loss, retrieval, similarity
from minisora.train.batches import DatasetBatches
from minisora.train.recipes import Recipe, RecipeRun, register_recipe
from minisora.train.trainer import TrainConfig, Trainer

EVAL_SEED = 321  # held-out clips: another seed than the training clips
EVAL_SPLITS = ("seen", "holdout")
TEXT_ENCODER_FILE = "text_encoder.pt"


@dataclass
class TextEncoderRecipe:
    """Options of the `text-encoder` recipe (and `train`, its TrainConfig)."""

    preset: str = "small"  # a CLIP_PRESETS name
    frames: int = 16
    size: int = 32
    clips: int = 100_000  # distinct training clips, rendered on the fly
    batch_size: int = 32  # the pairs each caption is contrasted with (minus one)
    canonical_prob: float = 0.5  # the share of canonical captions; the rest are free phrasings
    mask_duplicates: bool = True  # clips with the same canonical caption are not each other's negatives
    eval_clips: int = 256  # per held-out set
    num_workers: int = 0
    data_seed: int = 0
    # CLIP trains without an EMA. A constant rate after the warm-up (CLIP decays it by a cosine), so a run
    # can be resumed for more steps (--resume --steps N); a cosine over `steps` would refuse that.
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=3_000, lr=5e-4, warmup=100,
                                                                   max_grad_norm=1.0, ema_decay=None, log_every=20))


class MixedCaptions(Dataset):
    """Bouncing Shapes items whose caption is the canonical one with probability `canonical_prob`, else free."""

    def __init__(self, clips: BouncingShapes, canonical_prob: float, seed: int) -> None:
        if isinstance(canonical_prob, bool) or not isinstance(canonical_prob, (int, float)) or not (
                0.0 <= canonical_prob <= 1.0):
            raise ValueError(f"canonical_prob must be a probability in [0, 1], got {canonical_prob!r}")
        self.clips, self.canonical_prob, self.seed = clips, canonical_prob, seed

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> dict:
        item = self.clips[index]
        # Its own stream (the dataset uses [seed, i] and [seed, i, 1]): the choice never shifts the scene.
        if np.random.default_rng([self.seed, index % len(self), 2]).random() < self.canonical_prob:
            item = {**item, "caption": item["spec"]}  # "spec" is the canonical caption
        return item


def batch_groups(specs: list[str]) -> Tensor:
    """Canonical captions (B,) -> group ids (B,): equal ids for equal captions, numbered in order of appearance."""
    table: dict[str, int] = {}
    return torch.tensor([table.setdefault(spec, len(table)) for spec in specs], dtype=torch.long)


def collate_captioned_clips(items: list[dict], tokenizer: Tokenizer) -> dict:
    """Items -> {"video" (B, F, 3, H, W) in [-1, 1], "ids" (B, L), "mask" (B, L), "groups" (B,), "caption", "spec"}
    (module level, bound with functools.partial: workers pickle it)."""
    captions, specs = [item["caption"] for item in items], [item["spec"] for item in items]
    ids, mask = tokenizer.encode(captions)
    return {"video": to_model_range(torch.stack([item["video"] for item in items])), "ids": ids, "mask": mask,
            "groups": batch_groups(specs), "caption": captions, "spec": specs}


def in_batch_accuracy(text_emb: Tensor, video_emb: Tensor, groups: Tensor) -> Tensor:
    """Top-1 in-batch retrieval, both directions averaged, as a tensor (no host sync): a hit is any item
    of the query's group."""
    sims = similarity(text_emb, video_emb)  # (B, B)
    text_hits = groups[sims.argmax(dim=1)] == groups  # (B,): each caption's best clip
    video_hits = groups[sims.argmax(dim=0)] == groups  # (B,): each clip's best caption
    return (text_hits.float().mean() + video_hits.float().mean()) / 2


@torch.no_grad()
def embed_clips(model: CLIPModel, videos: Tensor, device, batch_size: int = 64) -> Tensor:
    """videos (N, F, 3, H, W) in [0, 1] -> video embeddings (N, E) on the CPU."""
    chunks = [model.embed_video(to_model_range(videos[i : i + batch_size]).to(device)).float().cpu()
              for i in range(0, len(videos), batch_size)]
    return torch.cat(chunks)


@torch.no_grad()
def embed_captions(model: CLIPModel, captions: list[str], batch_size: int = 256) -> Tensor:
    """Captions (N,) -> text embeddings (N, E) on the CPU."""
    return torch.cat([model.encode_text(captions[i : i + batch_size]).float().cpu()
                      for i in range(0, len(captions), batch_size)])


def evaluate_retrieval(model: CLIPModel, count: int, frames: int, size: int, device) -> dict:
    """{split: {"canonical" | "free": retrieval(...)}} on `count` clips of each held-out set."""
    was_training = model.training
    model.eval()
    results = {}
    for name, split in (("seen", "train"), ("holdout", "holdout")):
        clips = BouncingShapes(length=count, num_frames=frames, height=size, width=size, split=split,
                               caption_style="free", seed=EVAL_SEED)
        items = [clips[i] for i in range(count)]
        videos = embed_clips(model, torch.stack([item["video"] for item in items]), device)  # (N, E)
        specs = [item["spec"] for item in items]
        results[name] = {}
        for style, captions in (("canonical", specs), ("free", [item["caption"] for item in items])):
            texts = embed_captions(model, captions)  # (N, E)
            results[name][style] = retrieval(similarity(texts, videos), specs, specs, ks=(1, 5))
    model.train(was_training)
    return results


def format_retrieval(results: dict, count: int) -> str:
    """The retrieval table `finish` prints."""
    lines = [f"retrieval on {count} clips per set (a hit: any clip of the caption's canonical caption; "
             f"chance top-1 ~ {1 / count:.3f}, mean rank ~ {(count + 1) / 2:.0f}):",
             f"  {'set':<8}{'captions':<11}{'text->video top1/top5/rank':<30}video->text top1/top5/rank"]
    for name, styles in results.items():
        for style, scores in styles.items():
            cells = [f"{s['top1']:.2f} / {s['top5']:.2f} / {s['mean_rank']:.1f}"
                     for s in (scores["text_to_video"], scores["video_to_text"])]
            lines.append(f"  {name:<8}{style:<11}{cells[0]:<30}{cells[1]}")
    return "\n".join(lines)


def build(options: TextEncoderRecipe, device) -> RecipeRun:
    if options.preset not in CLIP_PRESETS:
        raise ValueError(f"unknown CLIP preset {options.preset!r}; choose one of {sorted(CLIP_PRESETS)}")
    if isinstance(options.eval_clips, bool) or not isinstance(options.eval_clips, int) or options.eval_clips < 2:
        raise ValueError(f"eval_clips must be an int >= 2 (retrieval needs candidates), got {options.eval_clips!r}")
    preset = CLIP_PRESETS[options.preset]
    video = dict(num_frames=options.frames, image_size=(options.size, options.size))
    try:
        model = CLIPModel(preset, video=dataclasses.replace(preset.video, **video))
    except ValueError as error:  # e.g. frames not divisible by the tubelet: say which options to change
        raise ValueError(f"frames={options.frames}, size={options.size} do not fit the {options.preset!r} video "
                         f"tower: {error}") from error
    clips = MixedCaptions(BouncingShapes(length=options.clips, num_frames=options.frames, height=options.size,
                                         width=options.size, split="train", caption_style="free",
                                         seed=options.data_seed),
                          options.canonical_prob, options.data_seed)

    def loss_fn(network: nn.Module, batch: dict) -> dict:
        out = network(batch["video"], batch["ids"], batch["mask"])
        groups = batch["groups"] if options.mask_duplicates else None
        loss = clip_loss(out.text, out.video, out.logit_scale, groups=groups)
        accuracy = in_batch_accuracy(out.text.detach(), out.video.detach(), batch["groups"])
        return {"loss": loss, "accuracy": accuracy, "logit_scale": out.logit_scale.detach()}

    def finish(trainer: Trainer) -> dict:
        network = trainer.ema.model if trainer.ema is not None else trainer.model  # what load_model gives
        results = evaluate_retrieval(network, options.eval_clips, options.frames, options.size, trainer.device)
        print(format_retrieval(results, options.eval_clips))
        recent = trainer.metrics[-100:]
        metadata = {
            "retrieval": results, "eval_clips": options.eval_clips, "eval_seed": EVAL_SEED,
            "final_loss": sum(trainer.losses[-100:]) / len(trainer.losses[-100:]) if trainer.losses else None,
            "final_accuracy": sum(m["accuracy"] for m in recent) / len(recent) if recent else None,
            "logit_scale": float(network.logit_scale().detach()), "parameters": parameter_counts(network),
        }
        if trainer.out_dir is not None and trainer.dist.is_main:
            path = save_text_encoder(network, pathlib.Path(trainer.out_dir) / TEXT_ENCODER_FILE,
                                     recipe="text-encoder", step=trainer.step, **metadata)
            metadata["text_encoder_file"] = path.name
        return metadata

    counts = parameter_counts(model)
    cfg = model.config
    describe = (f"CLIPModel {options.preset} (text {counts['text']:,} + video {counts['video']:,} parameters, "
                f"embed_dim {cfg.embed_dim}); {options.frames}x{options.size}x{options.size} clips, "
                f"{options.clips:,} rendered on the fly, {options.canonical_prob:.0%} canonical captions, "
                f"duplicates {'masked' if options.mask_duplicates else 'kept as negatives'}")
    collate = functools.partial(collate_captioned_clips, tokenizer=model.tokenizer)
    data = DatasetBatches(clips, options.batch_size, seed=options.train.seed, num_workers=options.num_workers,
                          collate_fn=collate)
    return RecipeRun(model, loss_fn, data, describe, finish)


def parameter_counts(model: CLIPModel) -> dict[str, int]:
    """Parameters of the text tower, the video tower and the whole pair."""
    return {"text": sum(p.numel() for p in model.text.parameters()),
            "video": sum(p.numel() for p in model.video.parameters()),
            "total": sum(p.numel() for p in model.parameters())}


register_recipe(Recipe(
    name="text-encoder",
    summary="lesson 08's CLIP: a text encoder and a ViViT video tower, contrastive, with retrieval at the end",
    options=TextEncoderRecipe,
    build=build,
    fast={"preset": "tiny", "frames": 4, "size": 16, "clips": 32, "batch_size": 8, "eval_clips": 8, "steps": 3,
          "warmup": 0},
))
