"""One way to build a network's config: a preset (or the defaults) with some fields replaced."""

from __future__ import annotations

import copy
import dataclasses
from typing import TypeVar

T = TypeVar("T")


def configure(cls: type[T], config: T | None, overrides: dict) -> T:
    """A new `cls`: `config` (or the defaults if None) with `overrides` replaced, re-checked (__post_init__).

    Always a copy, never `config` itself: presets are shared module-level objects, and a
    network that kept one as its `.config` would let `model.config.depth = 2` edit the
    preset for every later model. Deep, so that no field (a list someone passed) is shared either.
    """
    base = config if config is not None else cls()
    if type(base) is not cls:  # exactly: a VideoVAEConfig is a VAEConfig, but it does not build a VAE
        raise ValueError(f"expected a {cls.__name__}, got {type(base).__name__}")
    return dataclasses.replace(copy.deepcopy(base), **overrides)


class Presets(dict):
    """A dict of named configs whose missing key lists the valid names (a bare KeyError names none).

    `DIT_PRESETS["XL/3"]` -> KeyError: unknown DiT preset 'XL/3'; choose one of ['B/2', ...].
    """

    def __init__(self, what: str, presets: dict) -> None:
        super().__init__(presets)
        self.what = what

    def __missing__(self, key):
        raise KeyError(f"unknown {self.what} preset {key!r}; choose one of {sorted(self)}")
