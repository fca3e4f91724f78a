"""Named recipes for `minisora train RECIPE`: what to build, on what data, with which settings (lessons 03, 06-11).

A recipe is an options dataclass (its fields are what `--set key=value` may change, plus
every `TrainConfig` field) and a `build(options, device)` that returns the network, the
loss and the batch stream. Under `MINISORA_FAST=1` a recipe starts from its small sizes
(`fast`), so a test trains it in seconds.

    dit   lesson 06's class-conditional DiT on the shipped VAE's latents of one-object frames
    vae        lesson 03's VAE on Bouncing Shapes frames, with the judge's gate at the end
    video-vae  lesson 07's video VAEs (causal 3-D, inflated from the 2-D VAE; or per frame) on clips, gated
    text-encoder  lesson 08's CLIP (text encoder + ViViT video tower) on captioned clips, with retrieval scores
    t2v        lesson 09's text-to-video DiT on the video VAE's latents, reading the text encoder's tokens
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from torch import nn

from minisora.train.trainer import TrainConfig, Trainer


@dataclass
class RecipeRun:
    """What a recipe builds: the network, `loss_fn(model, batch)`, the batches, and an optional final step."""

    model: nn.Module
    loss_fn: Callable
    data: Iterable
    describe: str = ""
    finish: Callable[[Trainer], dict] | None = None  # after the last step, on every rank: metadata to store


@dataclass
class Recipe:
    """A name, a one-line summary, its options class, the fast-mode overrides and the builder."""

    name: str
    summary: str
    options: type
    build: Callable[[object, object], RecipeRun]
    fast: dict = field(default_factory=dict)


RECIPES: dict[str, Recipe] = {}


def register_recipe(recipe: Recipe) -> Recipe:
    if recipe.name in RECIPES:
        raise ValueError(f"a recipe named {recipe.name!r} is already registered")
    RECIPES[recipe.name] = recipe
    return recipe


def get_recipe(name: str) -> Recipe:
    """The recipe called `name`; a ValueError listing the recipes otherwise."""
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; choose one of {sorted(RECIPES)} (minisora train --list)")
    return RECIPES[name]


def recipe_options(recipe: Recipe, fast: bool, overrides: dict[str, str] | None = None):
    """The recipe's options: defaults, then its fast sizes when `fast`, then `overrides` (strings, parsed by type)."""
    options = recipe.options()
    values = dict(recipe.fast) if fast else {}
    for key, text in (overrides or {}).items():
        values[key] = parse_option(recipe, key, text)
    return apply_options(recipe, options, values)


def option_types(recipe: Recipe) -> dict[str, object]:
    """Every settable key and its type: the recipe's own fields and TrainConfig's."""
    types = {}
    for owner in (TrainConfig, recipe.options):
        hints = typing.get_type_hints(owner)
        for item in dataclasses.fields(owner):
            if item.name != "train":
                types[item.name] = hints[item.name]
    return types


def apply_options(recipe: Recipe, options, values: dict):
    own = {f.name for f in dataclasses.fields(recipe.options)} - {"train"}
    train_fields = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(values) - own - train_fields)
    if unknown:
        raise ValueError(f"recipe {recipe.name!r} has no setting {unknown[0]!r}; settable: "
                         f"{', '.join(sorted(own | train_fields))}")
    train = dataclasses.replace(options.train,
                                **{k: v for k, v in values.items() if k in train_fields and k not in own})
    return dataclasses.replace(options, train=train, **{k: v for k, v in values.items() if k in own})


def parse_option(recipe: Recipe, key: str, text: str):
    """`text` (from `--set key=text`) as the type the option declares; a ValueError naming the key otherwise."""
    types = option_types(recipe)
    if key not in types:
        raise ValueError(f"recipe {recipe.name!r} has no setting {key!r}; settable: {', '.join(sorted(types))}")
    return _parse(text, types[key], key)


def _parse(text: str, kind, key: str):
    args = typing.get_args(kind)
    if type(None) in args:  # X | None
        if text.strip().lower() == "none":
            return None
        kind = next(a for a in args if a is not type(None))
        args = typing.get_args(kind)
    origin = typing.get_origin(kind)
    if origin is tuple:
        parts = [p for p in text.split(",") if p.strip()]
        inner = args[0] if args else str
        return tuple(_parse(p.strip(), inner, key) for p in parts)
    try:
        if kind is bool:
            lowered = text.strip().lower()
            if lowered not in {"true", "false", "1", "0", "yes", "no"}:
                raise ValueError(text)
            return lowered in {"true", "1", "yes"}
        if kind is int:
            return int(text)
        if kind is float:
            return float(text)
    except ValueError:
        raise ValueError(f"--set {key}={text!r}: expected {getattr(kind, '__name__', kind)}") from None
    return text


# The recipes register themselves on import.
from minisora.train.recipes import dit as _dit  # noqa: E402,F401
from minisora.train.recipes import t2v as _t2v  # noqa: E402,F401
from minisora.train.recipes import text_encoder as _text_encoder  # noqa: E402,F401
from minisora.train.recipes import vae as _vae  # noqa: E402,F401
from minisora.train.recipes import video_vae as _video_vae  # noqa: E402,F401
