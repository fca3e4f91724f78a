"""Every random number generator a run draws from, captured and restored (exact resume).

A training step draws from several generators: the data order (a `torch.Generator` of
the batch source, rebuilt from the seed and the data position), and the global ones that
timesteps, noise, label dropout, `nn.Dropout` and the VAE's latent sampling use — Python's
`random`, NumPy's and torch's (CPU and each CUDA device). The trainer seeds the global ones
from the run's seed at the start and saves their states in every checkpoint, so a resumed
run draws exactly the numbers the uninterrupted run would have drawn.

The states are stored as tensors and plain numbers, so the checkpoint still loads with
`torch.load(..., weights_only=True)`.
"""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_global_rngs(seed: int) -> None:
    """Seed Python's, NumPy's and torch's (every device's) global generators from `seed`."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # seeds CUDA's generators too


def capture_rng_state(cuda: bool = False) -> dict:
    """The states of the global generators, as tensors and plain numbers (CUDA's when `cuda`: a run on a GPU)."""
    version, python_state, gauss = random.getstate()
    kind, keys, position, has_gauss, cached = np.random.get_state()
    state = {
        "python": {"version": version, "state": torch.tensor(python_state, dtype=torch.int64), "gauss": gauss},
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "position": int(position),
                  "has_gauss": int(has_gauss), "cached": float(cached)},
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if cuda else [],
    }
    return state


def restore_rng_state(state: dict) -> None:
    """Put the global generators back where `capture_rng_state` found them."""
    if not isinstance(state, dict) or set(state) != {"python", "numpy", "torch", "cuda"}:
        raise ValueError("not an RNG state (expected the dict capture_rng_state() returns: python, numpy, torch, cuda)")
    python = state["python"]
    random.setstate((python["version"], tuple(int(x) for x in python["state"].tolist()), python["gauss"]))
    numpy = state["numpy"]
    np.random.set_state((numpy["kind"], numpy["keys"].numpy().astype(np.uint32), numpy["position"],
                         numpy["has_gauss"], numpy["cached"]))
    torch.set_rng_state(state["torch"])
    if state["cuda"]:
        if not torch.cuda.is_available() or torch.cuda.device_count() < len(state["cuda"]):
            raise ValueError(f"the run was saved with {len(state['cuda'])} CUDA device(s) and this machine has "
                             f"{torch.cuda.device_count() if torch.cuda.is_available() else 0}; an exact resume needs "
                             "the same devices (or start a new run)")
        torch.cuda.set_rng_state_all(state["cuda"])
