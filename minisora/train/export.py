"""`minisora export`: a training run's checkpoint -> one small model file, the kind data/ ships.

    minisora train video-vae --out runs/video_vae_f4t2 --steps 1500
    minisora export runs/video_vae_f4t2 --out data/video_vae_f4t2.pt

A trainer's `last.pt` carries what an exact resume needs (the raw weights and their EMA, the
optimizer's two moments, every RNG state): three to four times the model. The exported file
keeps the copy one samples from (the EMA when the run kept one; `ema=False` for the raw
weights), its config and the run's metadata (recipe, command, options, step, scores), and
loads with `load_model` like any `save_checkpoint` file. It cannot be resumed; keep the run
folder for that.
"""

from __future__ import annotations

import pathlib

from minisora.core.checkpoint import load_model, read_checkpoint, save_checkpoint


def run_checkpoint(source: str | pathlib.Path) -> pathlib.Path:
    """`source` is a run folder (its last.pt) or a trainer checkpoint file."""
    source = pathlib.Path(source)
    if source.is_dir():
        if not (source / "last.pt").is_file():
            raise FileNotFoundError(f"{source} is a folder without a last.pt; pass the --out folder of a "
                                    "`minisora train` run, or a trainer checkpoint file")
        return source / "last.pt"
    if not source.is_file():
        raise FileNotFoundError(f"no run folder or checkpoint at {source}; pass the --out folder of a "
                                "`minisora train` run")
    return source


def export_model(source: str | pathlib.Path, out: str | pathlib.Path, *, ema: bool | None = None,
                 force: bool = False, half: bool = False, command: str = "") -> pathlib.Path:
    """Write the network a run trained (EMA by default) and its metadata to `out`; return `out`.

    A ValueError when `source` holds no training state (it is already a model file), when the
    run was a fast-mode smoke run, when `out` is `source` itself, or when `out` exists and
    `force` is False (nothing is overwritten without being asked). `half` stores the floating-point
    weights as float16 (half the file; `load_model` copies them back into the float32 network, so a
    weight moves by at most 2^-11 of itself): what a file's scores are measured on is the file.
    """
    path = run_checkpoint(source)
    out = pathlib.Path(out)
    if out.suffix != ".pt":
        raise ValueError(f"--out {out} should end in .pt (a checkpoint file), e.g. data/video_vae_f4t2.pt")
    if out.exists() and out.resolve() == path.resolve():
        raise ValueError(f"--out {out} is the run's own checkpoint; write the export to another file")
    if out.is_dir():
        raise ValueError(f"--out {out} is a folder; pass a file name such as {out / 'model.pt'}")
    if out.exists() and not force:
        raise ValueError(f"{out} exists; pass --force to replace it")
    checkpoint = read_checkpoint(path)
    training = checkpoint.get("training")
    if training is None:
        raise ValueError(f"{path} holds no training state: it is already a model file (load it with load_model)")
    metadata = dict(checkpoint["metadata"])
    if metadata.get("fast"):
        raise ValueError(f"{path} is a fast-mode run (MINISORA_FAST=1: tiny sizes, a few steps), not a model to "
                         "ship; train it again with MINISORA_FAST=0")
    model = load_model(path, ema=ema)
    used_ema = ema is not False and training.get("ema") is not None
    # The trainer's clock (seconds in fit, summed over resumes) is training state; keep it, it says what a file cost.
    metadata.update(exported_from=str(path), weights="ema" if used_ema else "raw",
                    train_seconds=float(training.get("seconds", 0.0)), stored_as="float16" if half else "float32")
    if half:
        model = model.half()  # floating-point parameters and buffers; the config (and so load_model) is unchanged
    if command:
        metadata["export_command"] = command
    return save_checkpoint(out, model, **metadata)
