"""The judge's table of a text-to-video pipeline: does what it generates show what the prompt says? (lesson 09)

A suite of prompts is drawn from the world's own scene distribution (1-3 objects, every
motion, camera moves, both backgrounds), half from the training split ("seen": combinations
training may have met) and half from the held-out split ("holdout": every scene shows a
(colour, shape, motion) triple training never did), half in canonical wording and half in a
free phrasing. The pipeline generates one video per prompt; `minisora.eval.judge` checks it
against the prompt's canonical caption, attribute by attribute, from pixels alone.

`score_table` groups the verdicts (split x objects, camera, wording) and gives each rate with
its 95 % Wilson interval: at n = 50 a rate of 0.5 is known to about ± 0.14, so two rows whose
intervals overlap are not ranked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from minisora.core.progress import progress_bar
from minisora.data import BouncingShapes, canonical_caption, free_caption
from minisora.eval import judge, wilson_interval

EVAL_SEED = 777  # prompts from another seed than any training or gate set
ATTRIBUTES = ("color", "shape", "size", "motion", "count", "background", "camera")
SPLITS = {"seen": "train", "holdout": "holdout"}


@dataclass(frozen=True)
class EvalPrompt:
    """One prompt of the suite: the text the pipeline reads, the caption the judge checks, and its groups."""

    prompt: str
    spec: str  # the canonical caption
    split: str  # "seen" or "holdout"
    objects: int
    camera: bool
    style: str  # "canonical" or "free"


def prompt_suite(count: int = 300, seed: int = EVAL_SEED, max_objects: int = 3) -> list[EvalPrompt]:
    """`count` prompts: half seen, half held-out; within each, canonical and free wording alternate."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 2 or count % 2:
        raise ValueError(f"count must be an even int >= 2 (half seen, half held-out), got {count!r}")
    prompts = []
    for name, split in SPLITS.items():
        scenes = BouncingShapes(length=count // 2, split=split, max_objects=max_objects, seed=seed)
        for i in range(count // 2):
            scene = scenes.scene(i)
            spec = canonical_caption(scene)
            style = "canonical" if i % 2 == 0 else "free"
            text = spec if style == "canonical" else free_caption(scene, np.random.default_rng([seed, i, 1]))
            prompts.append(EvalPrompt(text, spec, name, len(scene.objects), scene.camera != "none", style))
    return prompts


def evaluate_pipeline(pipe, prompts: Sequence[EvalPrompt], num_inference_steps: int = 25,
                      guidance_scale: float | None = None, seed: int = 0, batch_size: int = 50,
                      progress: bool = False, keep_videos: bool = False,
                      eta: float | None = None) -> list[dict]:
    """Generate one video per prompt (batch k seeded `seed + k`) and judge it: one record per prompt.
    None for guidance_scale or eta: the pipeline's default."""
    if len(prompts) == 0:
        raise ValueError("prompts is empty; pass prompt_suite(...) or a list of EvalPrompt")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    extra = {} if guidance_scale is None else {"guidance_scale": guidance_scale}
    if eta is not None:
        extra["eta"] = eta
    records = []
    starts = range(0, len(prompts), batch_size)
    for k, start in enumerate(progress_bar(starts, disable=not progress, desc="generating")):
        chunk = prompts[start : start + batch_size]
        videos = pipe([p.prompt for p in chunk], num_inference_steps=num_inference_steps, seed=seed + k, **extra)
        for prompt, video in zip(chunk, videos):
            verdict = judge(video, prompt.spec)
            record = {"prompt": prompt, "match": verdict.match, "checks": verdict.checks}
            if keep_videos:
                record["video"] = video
            records.append(record)
    return records


def _rates(records: list[dict]) -> dict:
    """Whole-prompt match and each attribute's accuracy (per object for colour, shape, size, motion), with intervals."""
    out = {"n": len(records)}
    hits = sum(r["match"] for r in records)
    out["match"] = (hits / len(records), wilson_interval(hits, len(records)))
    for attribute in ATTRIBUTES:
        checks = [ok for r in records for name, ok in r["checks"].items() if name.split(".")[-1] == attribute]
        out[attribute] = (sum(checks) / len(checks), wilson_interval(sum(checks), len(checks))) if checks else None
    return out


def score_table(records: list[dict]) -> list[dict]:
    """Rows {"group": name, "n", "match": (rate, (low, high)), attribute: (rate, interval)}, per split and subgroup."""
    if not records:
        raise ValueError("no records to score; run evaluate_pipeline first")
    rows = []
    for split in SPLITS:
        mine = [r for r in records if r["prompt"].split == split]
        groups = [("all", mine)]
        groups += [(f"{k} object{'s' if k > 1 else ''}", [r for r in mine if r["prompt"].objects == k])
                   for k in sorted({r["prompt"].objects for r in mine})]
        groups += [("camera moves", [r for r in mine if r["prompt"].camera]),
                   ("static camera", [r for r in mine if not r["prompt"].camera]),
                   ("canonical wording", [r for r in mine if r["prompt"].style == "canonical"]),
                   ("free wording", [r for r in mine if r["prompt"].style == "free"])]
        rows += [{"split": split, "group": name, **_rates(group)} for name, group in groups if group]
    return rows


def format_table(rows: list[dict], attributes: Sequence[str] = ("color", "shape", "size", "motion")) -> str:
    """The table as text: match with its interval, then each attribute's accuracy."""
    header = f"{'split':<8}{'group':<19}{'n':>4}  {'whole prompt [95% CI]':<23}"
    header += "".join(f"{a:>9}" for a in attributes)
    lines = [header]
    for row in rows:
        rate, (low, high) = row["match"]
        cells = "".join(f"{row[a][0]:>9.2f}" if row[a] is not None else f"{'-':>9}" for a in attributes)
        lines.append(f"{row['split']:<8}{row['group']:<19}{row['n']:>4}  {rate:.2f} [{low:.2f}, {high:.2f}]{'':<8}"
                     + cells)
    return "\n".join(lines)


def as_json(rows: list[dict]) -> list[dict]:
    """The rows with tuples as lists (for a JSON file or a checkpoint's metadata)."""
    def plain(value):
        if isinstance(value, tuple):
            return [plain(v) for v in value]
        return value
    return [{key: plain(value) for key, value in row.items()} for row in rows]

