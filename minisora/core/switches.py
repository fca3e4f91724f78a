"""The course-wide switches: fast/full mode, device choice, and seeding.

Every lesson reads `FAST` once, in one visible cell, and picks its sizes from it
(`steps = 300 if FAST else 20_000`), so the same notebook runs in about two minutes
on a laptop CPU (and in CI) and gives the real result in full mode.
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch

from minisora.core.checks import check_seed

_TRUE_WORDS = {"1", "true", "yes", "on"}


def fast_mode_from_env(environ: dict[str, str] | None = None) -> bool:
    """True when MINISORA_FAST is truthy, or when CI is set (CI machines run the fast mode)."""
    environ = os.environ if environ is None else environ
    fast = environ.get("MINISORA_FAST")
    if fast is not None and fast.strip() != "":
        # An explicit MINISORA_FAST wins, so `MINISORA_FAST=0` gives a full run even on CI.
        return fast.strip().lower() in _TRUE_WORDS
    return environ.get("CI", "").strip().lower() not in {"", "0", "false", "no", "off"}


FAST: bool = fast_mode_from_env()


def get_device(prefer: str | None = None) -> torch.device:
    """The best device here: cuda > mps > cpu (or `prefer`, checked to exist)."""
    if prefer is not None:
        device = torch.device(prefer)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError("device 'cuda' was asked for but torch sees no CUDA GPU; "
                             "use get_device() to pick what exists")
        if device.type == "mps" and not _mps_available():
            raise ValueError("device 'mps' was asked for but this torch has no MPS backend; "
                             "use get_device() to pick what exists")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return backend is not None and backend.is_available()


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch (all devices); returns a torch.Generator seeded the same."""
    seed = check_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator
