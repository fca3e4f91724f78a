"""One way to build a network's config: a preset (or the defaults) with some fields replaced."""

from __future__ import annotations

import dataclasses
from typing import TypeVar

T = TypeVar("T")


def configure(cls: type[T], config: T | None, overrides: dict) -> T:
    """`config` (or `cls()` if None) with `overrides` replaced; the dataclass re-checks itself (__post_init__)."""
    base = config if config is not None else cls()
    if not isinstance(base, cls):
        raise ValueError(f"expected a {cls.__name__}, got {type(base).__name__}")
    return dataclasses.replace(base, **overrides) if overrides else base
