"""Checkpoints that carry their config: one file rebuilds the network that wrote it (lessons 06-09).

A checkpoint is a plain dict saved with `torch.save`: the network's class name, its config
dataclass as a dict, its state dict on the CPU, and free-form metadata (the command, steps,
losses); a trainer's checkpoint adds a "training" entry (optimizer, EMA, RNG states, data
position: `minisora.train`). Loading uses `torch.load(..., weights_only=True)`, which
unpickles only tensors and plain containers, so a checkpoint from elsewhere cannot run code
on your machine. `minisora.models.load_model` turns one back into a network, through the
registry of `minisora.core.registry`.

Every write is atomic (`atomic_save`): the bytes go to a temporary file in the same folder,
are flushed and fsync'ed, and only then `os.replace` puts the file in place. A process
killed mid-save leaves the previous checkpoint whole, never a half-written file under its name.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import tempfile

import torch
from torch import nn

from minisora.core.registry import network_entry

# Version 2 added the optional "training" entry; version-1 files (the shipped VAE) still load.
FORMAT = "minisora-checkpoint/2"
READABLE_FORMATS = ("minisora-checkpoint/1", FORMAT)
_KEYS = {"format", "class", "config", "state_dict", "metadata"}
_OPTIONAL_KEYS = {"training"}


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


# The process's umask, read once at import: os.umask can only be read by setting it, and setting it
# while other threads create files would race with them.
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def atomic_save(obj, path: str | pathlib.Path) -> pathlib.Path:
    """`torch.save(obj)` to `path` atomically: a temporary file in the same folder, flush, fsync, `os.replace`."""
    path = pathlib.Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(f"cannot create the folder {path.parent} for {path.name} ({error.strerror}); "
                         "choose a path you can write to") from error
    if path.is_dir():
        raise ValueError(f"{path} is a folder; pass a file path such as {path / 'model.pt'}")
    # Same folder, so os.replace is a rename on one file system (atomic), never a copy.
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as error:
        raise ValueError(f"cannot write in {path.parent} ({error.strerror}); "
                         "choose a folder you can write to") from error
    try:
        with os.fdopen(handle, "wb") as file:
            torch.save(obj, file)
            file.flush()
            os.fsync(file.fileno())  # the bytes are on disk before the name points at them
        # mkstemp makes the file private (0600); give it the mode any new file gets here (0644 under umask 022).
        os.chmod(temporary, 0o666 & ~_UMASK)
        os.replace(temporary, path)
    except BaseException:
        pathlib.Path(temporary).unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)  # the rename itself survives a power cut
    return path


def _fsync_folder(folder: pathlib.Path) -> None:
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:  # some systems (Windows) cannot open a folder; the file itself is already synced
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def checkpoint_dict(model: nn.Module, metadata: dict, training: dict | None = None) -> dict:
    """The dict a checkpoint holds for `model` (which must have a dataclass `.config`)."""
    config = getattr(model, "config", None)
    if config is None or not dataclasses.is_dataclass(config):
        raise ValueError(f"{type(model).__name__} has no dataclass .config; "
                         "only minisora networks can be saved this way")
    _check_plain(metadata, "")
    state = {name: tensor.detach().cpu() for name, tensor in model.state_dict().items()}
    checkpoint = {"format": FORMAT, "class": type(model).__name__, "config": dataclasses.asdict(config),
                  "state_dict": state, "metadata": metadata}
    if training is not None:
        checkpoint["training"] = training
    return checkpoint


def save_checkpoint(path: str | pathlib.Path, model: nn.Module, **metadata) -> pathlib.Path:
    """Write `model` (which must have a dataclass `.config`) and `metadata` (numbers, strings, lists)
    to `path`, atomically."""
    return atomic_save(checkpoint_dict(model, metadata), path)


def read_checkpoint(path: str | pathlib.Path) -> dict:
    """The dict `save_checkpoint` wrote, loaded with weights_only=True; a ValueError if it is not one."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}; "
                                "check the path (shipped ones live in the repository's data/)")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # truncated, not a torch file at all, or a pickle that needs code
        raise ValueError(f"{path} could not be loaded with weights_only=True ({type(error).__name__}: "
                         f"{str(error).splitlines()[0] if str(error) else ''}); the file is truncated or corrupt, or "
                         "not a minisora checkpoint (save one with minisora.core.save_checkpoint)") from error
    keys = set(checkpoint) if isinstance(checkpoint, dict) else set()
    if (not isinstance(checkpoint, dict) or checkpoint.get("format") not in READABLE_FORMATS
            or not _KEYS <= keys <= _KEYS | _OPTIONAL_KEYS):
        raise ValueError(f"{path} is not a minisora checkpoint (expected format {FORMAT!r} with keys {sorted(_KEYS)}); "
                         "save one with minisora.core.save_checkpoint")
    return checkpoint


def config_differences(saved: dict, current: dict) -> list[str]:
    """`field: saved -> current` for every config field that differs (missing fields included)."""
    lines = []
    for key in sorted(set(saved) | set(current), key=str):
        before, after = saved.get(key, "<absent>"), current.get(key, "<absent>")
        if _normalized(before) != _normalized(after):
            lines.append(f"{key}: {before!r} in the checkpoint, {after!r} here")
    return lines


def _normalized(value):
    return [_normalized(v) for v in value] if isinstance(value, (list, tuple)) else value


def check_same_network(checkpoint: dict, model: nn.Module, path: str | pathlib.Path) -> None:
    """A ValueError naming what differs when `checkpoint` was not written by a network built like `model`."""
    name = type(model).__name__
    if checkpoint["class"] != name:
        raise ValueError(f"{path} holds a {checkpoint['class']}, but this run trains a {name}; "
                         "resume with the recipe and settings that wrote it, or start a new run in another folder")
    config = getattr(model, "config", None)
    if config is None or not dataclasses.is_dataclass(config):
        raise ValueError(f"{name} has no dataclass .config; only minisora networks can be checked against a checkpoint")
    differences = config_differences(checkpoint["config"], dataclasses.asdict(config))
    if differences:
        raise ValueError(f"{path} holds a {name} with another config ({'; '.join(differences)}); "
                         "resume with the settings that wrote it, or start a new run in another folder")


def load_model(path: str | pathlib.Path, expect: type[nn.Module] | None = None,
               device: torch.device | str = "cpu", ema: bool | None = None) -> nn.Module:
    """The network saved at `path`, with its config and weights, in eval mode on `device`.

    `expect` (e.g. VAE) turns "the file holds some other network" into a clear error.
    A trainer's checkpoint holds the raw weights and their EMA: `ema=None` (the default) loads
    the EMA when there is one (the copy to sample from), `ema=False` the raw weights.
    The checkpoint's metadata is kept on the network as `.checkpoint_metadata`.
    """
    if expect is not None and not (isinstance(expect, type) and issubclass(expect, nn.Module)):
        raise ValueError(f"expect must be a network class such as minisora.models.VAE, got {expect!r}")
    if ema not in (None, True, False):
        raise ValueError(f"ema must be None (use the EMA if saved), True or False, got {ema!r}")
    checkpoint = read_checkpoint(path)
    name = checkpoint["class"]
    network_class, config_class = network_entry(name)
    if expect is not None and network_class is not expect:
        raise ValueError(f"{path} holds a {name}, not a {expect.__name__}; "
                         f"pass the path of a {expect.__name__} checkpoint")
    try:
        config = config_class(**checkpoint["config"])
    except (TypeError, ValueError) as error:
        raise ValueError(f"{path}: its saved config does not build a {config_class.__name__} ({error}); "
                         "was it written by another version of minisora?") from error
    model = network_class(config)
    state_dict = checkpoint["state_dict"]
    saved_ema = (checkpoint.get("training") or {}).get("ema")
    if ema and saved_ema is None:
        raise ValueError(f"{path} holds no EMA weights (it is not a trainer's checkpoint); "
                         "load it with ema=None or False")
    if ema is not False and saved_ema is not None:
        state_dict = saved_ema["state_dict"]
    missing, unexpected = model.load_state_dict(state_dict, strict=False)
    if missing or unexpected:
        raise ValueError(f"{path}: the weights do not fit a {name} built from the saved config "
                         f"(missing {missing[:3]}, unexpected {unexpected[:3]}); was the file edited or truncated?")
    model.checkpoint_metadata = checkpoint["metadata"]
    return model.to(device).eval()
