"""Checkpoints that carry their config: one file rebuilds the network that wrote it (lessons 06-09).

A checkpoint is a plain dict saved with `torch.save`: the network's class name, its config
dataclass as a dict, its state dict on the CPU, and free-form metadata (the command, steps,
losses). Loading uses `torch.load(..., weights_only=True)`, which unpickles only tensors and
plain containers, so a checkpoint from elsewhere cannot run code on your machine.
`minisora.models.load_model` turns one back into a network.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib

import torch
from torch import nn

FORMAT = "minisora-checkpoint/1"
_KEYS = {"format", "class", "config", "state_dict", "metadata"}


_PLAIN = (str, int, float, bool, type(None))


def _check_plain(value, where: str) -> None:
    """weights_only=True loads only tensors and plain containers: refuse anything else when saving, not when loading."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"metadata {where} has a non-string key {key!r}; use string keys")
            _check_plain(item, f"{where}[{key!r}]")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_plain(item, f"{where}[{i}]")
    elif type(value) not in _PLAIN:  # exact types: a str subclass such as torch.__version__ would not load
        raise ValueError(f"metadata {where} is a {type(value).__name__}; store plain numbers, strings, lists or dicts "
                         f"(e.g. str(value) or float(value))")


def data_file(name: str) -> pathlib.Path:
    """A file shipped in the repository's `data/` (e.g. "vae_f4_32px.pt"), found from a clone or an editable install.

    Looks in $MINISORA_DATA, then the `data/` beside the package, then ./data and ../data
    (a notebook runs from lessons/ or solutions/). A pip install from an index has no data/:
    clone the repository, or point MINISORA_DATA at a folder holding the file.
    """
    places = []
    if os.environ.get("MINISORA_DATA"):
        places.append(pathlib.Path(os.environ["MINISORA_DATA"]))
    places += [pathlib.Path(__file__).resolve().parents[2] / "data", pathlib.Path("data"), pathlib.Path("../data")]
    for place in places:
        if (place / name).is_file():
            return (place / name).resolve()
    searched = ", ".join(str(place) for place in places)
    raise FileNotFoundError(f"{name} is not in any data folder ({searched}); clone the minisora repository "
                            f"(data/ ships it) or set MINISORA_DATA to the folder that holds it")


def save_checkpoint(path: str | pathlib.Path, model: nn.Module, **metadata) -> pathlib.Path:
    """Write `model` (which must have a dataclass `.config`) and `metadata` (numbers, strings, lists) to `path`."""
    config = getattr(model, "config", None)
    if config is None or not dataclasses.is_dataclass(config):
        raise ValueError(f"{type(model).__name__} has no dataclass .config; only minisora networks can be saved this way")
    _check_plain(metadata, "")
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {name: tensor.detach().cpu() for name, tensor in model.state_dict().items()}
    checkpoint = {"format": FORMAT, "class": type(model).__name__, "config": dataclasses.asdict(config),
                  "state_dict": state, "metadata": metadata}
    torch.save(checkpoint, path)
    return path


def read_checkpoint(path: str | pathlib.Path) -> dict:
    """The dict `save_checkpoint` wrote, loaded with weights_only=True; a ValueError if it is not one."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}; check the path (shipped ones live in the repository's data/)")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a pickle that needs code, or not a torch file at all
        raise ValueError(f"{path} could not be loaded with weights_only=True ({error}); "
                         "it is not a minisora checkpoint (save one with minisora.core.save_checkpoint)") from error
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != FORMAT or set(checkpoint) != _KEYS:
        raise ValueError(f"{path} is not a minisora checkpoint (expected format {FORMAT!r} with keys {sorted(_KEYS)}); "
                         "save one with minisora.core.save_checkpoint")
    return checkpoint
