"""`minisora train RECIPE`: build a recipe, train it on the trainer, resume it, under torchrun or alone.

    minisora train dit --out runs/dit --steps 6000          # log.csv and last.pt in runs/dit
    minisora train dit --out runs/dit --steps 9000 --resume  # continues the same run to 9,000 steps
    torchrun --standalone --nproc_per_node=2 -m minisora train dit --out runs/dit2

The run's options (the recipe's and TrainConfig's, after fast mode and `--set`) are stored
in the checkpoint; a resume with other options is refused by name, since it would not be
the same run.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib

import torch

from minisora.core import FAST
from minisora.core.checkpoint import read_checkpoint
from minisora.train.distributed import cleanup_distributed, setup_distributed
from minisora.train.recipes import get_recipe, recipe_options
from minisora.train.rng import seed_global_rngs
from minisora.train.trainer import RESUMABLE_FIELDS, Trainer


def _plain(value):
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def check_out_dir(out_dir: pathlib.Path, resume: bool) -> None:
    """A clear error for a folder that cannot hold this run (a file, unwritable, or another run without --resume)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"--out {out_dir} is a file; pass a folder for log.csv and last.pt")
    last = out_dir / "last.pt"
    if resume and not last.is_file():
        raise ValueError(f"--resume: {last} does not exist; start the run without --resume first")
    if not resume and last.exists():
        raise ValueError(f"{out_dir} already holds a run ({last}); pass --resume to continue it, "
                         "or choose another --out")
    if not resume and (out_dir / "log.csv").exists():
        raise ValueError(f"{out_dir} holds a log.csv but no last.pt (a run that never saved); "
                         "remove the folder or choose another --out")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(f"--out {out_dir}: cannot create the folder ({error.strerror}); "
                         "choose a folder you can write to") from error
    if not os.access(out_dir, os.W_OK):
        raise ValueError(f"--out {out_dir}: the folder is not writable; choose a folder you can write to")


def check_same_options(saved: dict, current: dict, path: pathlib.Path) -> None:
    """The saved run's options must equal this run's, apart from how long it runs and how often it reports."""
    saved, current = dict(saved), dict(current)
    saved_train, current_train = dict(saved.pop("train", {})), dict(current.pop("train", {}))
    for key in RESUMABLE_FIELDS:
        saved_train.pop(key, None)
        current_train.pop(key, None)
    changed = [f"{key}: {saved.get(key)!r} in the checkpoint, {value!r} here" for key, value in current.items()
               if saved.get(key) != value]
    changed += [f"{key}: {saved_train.get(key)!r} in the checkpoint, {value!r} here"
                for key, value in current_train.items() if saved_train.get(key) != value]
    if changed:
        raise ValueError(f"{path} was trained with other options ({'; '.join(changed)}); resume with the same "
                         f"--set values and fast mode (MINISORA_FAST), or start a new run")


def train_recipe(name: str, out_dir: str | pathlib.Path, *, steps: int | None = None, resume: bool = False,
                 overrides: dict[str, str] | None = None, device: str | None = None, progress: bool = True,
                 command: str = "", fast: bool | None = None) -> Trainer:
    """Train recipe `name` into `out_dir` (log.csv, last.pt); `resume` continues the run saved there."""
    recipe = get_recipe(name)
    fast = FAST if fast is None else fast
    options = recipe_options(recipe, fast, overrides)
    if steps is not None:
        options = dataclasses.replace(options, train=dataclasses.replace(options.train, steps=steps))
    out_dir = pathlib.Path(out_dir)
    context = setup_distributed(device)
    try:
        check_out_dir(out_dir, resume)  # every rank: one that failed alone would leave the others waiting
        plain_options = _plain(dataclasses.asdict(options))
        if resume:
            checkpoint = read_checkpoint(out_dir / "last.pt")
            check_same_options(checkpoint["metadata"].get("options", {}), plain_options, out_dir / "last.pt")
        seed_global_rngs(options.train.seed)  # the network's initial weights come from the seed too
        run = recipe.build(options, context.device)
        metadata = {"recipe": name, "command": command, "options": plain_options, "fast": bool(fast),
                    "torch": str(torch.__version__)}
        trainer = Trainer(run.model, run.loss_fn, run.data, options.train, out_dir=out_dir, distributed=context,
                          progress=progress, metadata=metadata)
        if context.is_main:
            print(f"{name}: {run.describe}; {options.train.steps} steps, {context.world_size} process(es) on "
                  f"{context.device}" + ("; fast mode" if fast else ""), flush=True)
        if resume:
            trainer.resume()
            if context.is_main:
                print(f"resumed {out_dir / 'last.pt'} at step {trainer.step}", flush=True)
        trainer.fit()
        if run.finish is not None:
            trainer.metadata.update(run.finish(trainer))
            trainer.save()
        if context.is_main:
            print(f"step {trainer.step}: loss {trainer.losses[-1]:.4f}; wrote {out_dir / 'log.csv'} and "
                  f"{out_dir / 'last.pt'}" if trainer.losses else f"nothing to do: {out_dir} is at step {trainer.step}",
                  flush=True)
        return trainer
    finally:
        cleanup_distributed()
