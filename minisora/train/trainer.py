"""One trainer for every network in the course: a loss, a batch stream, AdamW, and checkpoints that resume exactly.

    trainer = Trainer(model, loss_fn, data, TrainConfig(steps=6_000, lr=1e-3), out_dir="runs/dit")
    trainer.fit()                    # logs runs/dit/log.csv, saves runs/dit/last.pt
    trainer = Trainer(...).resume()  # a killed run continues where its checkpoint stopped

`loss_fn(model, batch) -> loss` is any scalar loss (a dict with a "loss" entry also works,
its other entries are kept as metrics): DDPM's ε/v loss, flow matching, the VAE's, CLIP's.
One optimizer step is `grad_accum` micro-batches; each is run under `torch.autocast` (bf16 on
CUDA by default), the gradients are clipped, AdamW steps, the learning rate follows its
schedule and the EMA of the weights follows the weights.

Nothing in the loop waits for the device except every `log_every` steps, when the losses
come to the host together: they are checked for NaN/inf there (training stops with the
step and the last good checkpoint named), written to the CSV log and shown by tqdm.

Exact resume: a checkpoint holds the weights, the EMA, the optimizer's moments, the
schedule, the step, the data position and every generator's state (`minisora.train.rng`);
N steps in one go and N/2 + N/2 across a restart give the same losses bit for bit on a CPU.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import math
import pathlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from minisora.core.checkpoint import atomic_save, check_same_network, checkpoint_dict, read_checkpoint
from minisora.core.checks import check_int
from minisora.core.progress import progress_bar
from minisora.train.batches import batches_from
from minisora.train.distributed import Distributed, all_gather_objects
from minisora.train.ema import EMA
from minisora.train.rng import capture_rng_state, restore_rng_state, seed_global_rngs
from minisora.train.schedule import LR_SCHEDULES, lr_multiplier

PRECISIONS = ("auto", "fp32", "bf16")
LOG_COLUMNS = ("step", "loss", "lr", "grad_norm", "samples_per_s")
TRAINING_STATE_VERSION = 1
# Fields that may change when a run resumes: how long it runs, and how often it reports and saves.
RESUMABLE_FIELDS = ("steps", "log_every", "save_every")


class NonFiniteLossError(RuntimeError):
    """Training stopped because the loss (or the gradient norm) became NaN or infinite."""


@dataclass
class TrainConfig:
    """How to optimize: steps, AdamW, the schedule, clipping, accumulation, EMA, precision, seed, logging."""

    steps: int = 1_000  # optimizer steps in all (a resumed run goes on up to this many)
    lr: float = 1e-3
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    warmup: int = 100  # linear warm-up steps
    schedule: str = "constant"  # then "constant" or "cosine" down to min_lr_ratio * lr
    min_lr_ratio: float = 0.0
    decay_steps: int | None = None  # the cosine's horizon; None: steps (set it to resume a cosine run for longer)
    max_grad_norm: float | None = 1.0  # None: no clipping (the norm is still logged)
    grad_accum: int = 1  # micro-batches per optimizer step
    ema_decay: float | None = 0.999  # None: no EMA
    precision: str = "auto"  # "auto": bf16 autocast on CUDA, fp32 elsewhere
    compile: bool = False  # torch.compile the network for the loop
    seed: int = 0  # fixes the whole run: data order, timesteps, noise, dropout
    log_every: int = 10  # steps between host syncs (NaN check, CSV rows, progress)
    save_every: int = 0  # steps between checkpoints; 0: only at the end

    def __post_init__(self) -> None:
        self.betas = tuple(self.betas)
        for name in ("steps", "warmup", "seed", "save_every"):
            check_int(getattr(self, name), name, minimum=0)
        if self.decay_steps is not None:
            check_int(self.decay_steps, "decay_steps", minimum=1)
        for name in ("grad_accum", "log_every"):
            check_int(getattr(self, name), name, minimum=1)
        for name in ("lr", "weight_decay", "min_lr_ratio"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if self.lr == 0:
            raise ValueError("lr must be positive, got 0")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas!r}")
        if self.schedule not in LR_SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}; choose one of {list(LR_SCHEDULES)}")
        if self.min_lr_ratio > 1:
            raise ValueError(f"min_lr_ratio must be in [0, 1], got {self.min_lr_ratio!r}")
        if self.max_grad_norm is not None and not (isinstance(self.max_grad_norm, (int, float))
                                                   and self.max_grad_norm > 0):
            raise ValueError(f"max_grad_norm must be positive or None (no clipping), got {self.max_grad_norm!r}")
        if self.ema_decay is not None and not (isinstance(self.ema_decay, (int, float)) and 0 <= self.ema_decay < 1):
            raise ValueError(f"ema_decay must be in [0, 1) or None (no EMA), got {self.ema_decay!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"unknown precision {self.precision!r}; choose one of {list(PRECISIONS)}")


def unwrap(model: nn.Module) -> nn.Module:
    """The network inside DistributedDataParallel and torch.compile wrappers (what a checkpoint stores)."""
    while True:
        if hasattr(model, "_orig_mod"):  # torch.compile's OptimizedModule
            model = model._orig_mod
        elif isinstance(model, nn.parallel.DistributedDataParallel):
            model = model.module
        else:
            return model


def _to_device(batch, device: torch.device):
    if isinstance(batch, Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {key: _to_device(value, device) for key, value in batch.items()}
    if isinstance(batch, (list, tuple)) and batch and all(isinstance(item, Tensor) for item in batch):
        return type(batch)(_to_device(item, device) for item in batch)
    return batch  # strings, specs: the loss decides what to do with them


def _batch_size(batch) -> int:
    """How many samples a batch holds: the length of its first tensor (or list)."""
    values = batch.values() if isinstance(batch, dict) else [batch]
    for value in values:
        if isinstance(value, Tensor) and value.ndim > 0:
            return len(value)
    for value in values:
        if isinstance(value, (list, tuple)):
            return len(value)
    return 1


class Trainer:
    """Trains `model` on `loss_fn(model, batch)` over `data`; see the module docstring."""

    def __init__(
        self,
        model: nn.Module,
        loss_fn: Callable[[nn.Module, object], Tensor | dict],
        data: Iterable,
        config: TrainConfig | None = None,
        *,
        out_dir: str | pathlib.Path | None = None,
        device: str | torch.device | None = None,
        distributed: Distributed | None = None,
        progress: bool = True,
        metadata: dict | None = None,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if not callable(loss_fn):
            raise ValueError(f"loss_fn must be a callable loss_fn(model, batch) -> loss, got {type(loss_fn).__name__}")
        self.config = config if config is not None else TrainConfig()
        if not isinstance(self.config, TrainConfig):
            raise ValueError(f"config must be a TrainConfig, got {type(self.config).__name__}")
        self.dist = distributed if distributed is not None else Distributed()
        self.model = unwrap(model)
        self.device = torch.device(device) if device is not None else self.dist.device
        if device is None and distributed is None:  # a single process: train where the model already is
            first = next(self.model.parameters(), None)
            self.device = first.device if first is not None else torch.device("cpu")
        self.model.to(self.device)
        self.loss_fn, self.data, self.progress = loss_fn, data, progress
        self.out_dir = pathlib.Path(out_dir) if out_dir is not None else None
        self.metadata = dict(metadata or {})
        parameters = [p for p in self.model.parameters() if p.requires_grad]
        if not parameters:
            raise ValueError(f"{type(self.model).__name__} has no trainable parameters (all have requires_grad=False)")
        cfg = self.config
        self.optimizer = torch.optim.AdamW(parameters, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, self._lr_multiplier)
        self.ema = EMA(self.model, cfg.ema_decay) if cfg.ema_decay is not None else None
        self.train_model = self._wrap(self.model)
        self.step = 0  # optimizer steps taken
        self.batches_drawn = 0  # the data position (micro-batches, per rank)
        self.losses: list[float] = []  # every step's loss, once it has reached the host
        self.metrics: list[dict[str, float]] = []  # a loss dict's other entries, per step
        self.seconds = 0.0
        self.last_checkpoint: pathlib.Path | None = None
        self._rng_state: dict | None = None  # None until the first fit seeds the run

    # -- set-up ---------------------------------------------------------------------------------
    def _lr_multiplier(self, step: int) -> float:
        cfg = self.config
        horizon = cfg.decay_steps if cfg.decay_steps is not None else cfg.steps
        return lr_multiplier(step, warmup=cfg.warmup, schedule=cfg.schedule, total_steps=horizon,
                             min_lr_ratio=cfg.min_lr_ratio)

    def _wrap(self, model: nn.Module) -> nn.Module:
        if self.dist.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            model = nn.parallel.DistributedDataParallel(model, device_ids=ids)
        if self.config.compile:
            model = torch.compile(model)
        return model

    def _autocast(self):
        precision = self.config.precision
        if precision == "auto":
            precision = "bf16" if self.device.type == "cuda" else "fp32"
        if precision == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)

    @property
    def log_path(self) -> pathlib.Path | None:
        return self.out_dir / "log.csv" if self.out_dir is not None else None

    @property
    def checkpoint_path(self) -> pathlib.Path | None:
        return self.out_dir / "last.pt" if self.out_dir is not None else None

    # -- the loop -------------------------------------------------------------------------------
    def fit(self, steps: int | None = None) -> Trainer:
        """Train `steps` more optimizer steps (default: up to `config.steps` in all); returns self."""
        if steps is None:
            steps = self.config.steps - self.step
        check_int(steps, "steps", minimum=0)
        if steps == 0:
            return self
        cfg, start = self.config, time.perf_counter()
        if self.checkpoint_path is not None and self.dist.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        with self._run_rngs():
            batches = batches_from(self.data, self.batches_drawn, self.dist.rank, self.dist.world_size)
            pending: list[tuple] = []  # (step, loss, lr, grad_norm, samples, metrics) not yet on the host
            interval_start, last = time.perf_counter(), self.step + steps
            bar = progress_bar(total=steps, desc="training", disable=not (self.progress and self.dist.is_main))
            self.train_model.train()
            while self.step < last:
                pending.append(self._optimizer_step(batches))
                done = self.step == last
                if len(pending) >= cfg.log_every or done or (cfg.save_every and self.step % cfg.save_every == 0):
                    now = time.perf_counter()
                    self._flush(pending, now - interval_start, bar)
                    pending, interval_start = [], now
                    if cfg.save_every and self.step % cfg.save_every == 0 or (done and self.checkpoint_path):
                        self._rng_state = capture_rng_state(cuda=self.device.type == "cuda")
                        self.save()
            bar.close()
            self._rng_state = capture_rng_state(cuda=self.device.type == "cuda")
        self.model.eval()
        self.seconds += time.perf_counter() - start
        return self

    def _optimizer_step(self, batches) -> tuple:
        cfg = self.config
        lr = self.optimizer.param_groups[0]["lr"]
        total, samples, metrics = None, 0, {}
        for micro in range(cfg.grad_accum):
            batch = _to_device(next(batches), self.device)
            self.batches_drawn += 1
            samples += _batch_size(batch)
            # DDP all-reduces in backward; between micro-batches there is nothing to average yet.
            syncing = micro == cfg.grad_accum - 1 or not self.dist.enabled
            with (contextlib.nullcontext() if syncing else self.train_model.no_sync()), self._autocast():
                out = self.loss_fn(self.train_model, batch)
            loss = out["loss"] if isinstance(out, dict) else out
            if not isinstance(loss, Tensor) or loss.numel() != 1:
                raise ValueError("loss_fn must return a scalar tensor (or a dict with a scalar 'loss'), "
                                 f"got {type(loss).__name__}{tuple(loss.shape) if isinstance(loss, Tensor) else ''}")
            with contextlib.nullcontext() if syncing else self.train_model.no_sync():
                (loss / cfg.grad_accum).backward()
            detached = loss.detach().float()
            total = detached if total is None else total + detached
            if isinstance(out, dict):
                for key, value in out.items():
                    if key != "loss" and isinstance(value, Tensor) and value.numel() == 1:
                        metrics[key] = metrics.get(key, 0) + value.detach().float() / cfg.grad_accum
        limit = cfg.max_grad_norm if cfg.max_grad_norm is not None else float("inf")
        grad_norm = nn.utils.clip_grad_norm_(self.model.parameters(), limit)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        if self.ema is not None:
            self.ema.update()
        self.step += 1
        return self.step, total / cfg.grad_accum, lr, grad_norm, samples * self.dist.world_size, metrics

    def _flush(self, pending: list[tuple], seconds: float, bar) -> None:
        """Bring a batch of steps' numbers to the host: check them, log them, show them."""
        # One transfer for all of them: the loop never waits for the device in between.
        numbers = torch.stack([torch.stack([loss, norm.float().to(loss.device)]) for _, loss, _, norm, _, _ in pending])
        numbers = numbers.cpu().tolist()
        samples_per_s = sum(row[4] for row in pending) / max(seconds, 1e-9)
        rows = []
        for (step, _, lr, _, _, metrics), (loss, norm) in zip(pending, numbers):
            rows.append((step, loss, lr, norm, samples_per_s))
            self.losses.append(loss)
            if metrics:
                self.metrics.append({key: float(value) for key, value in metrics.items()})
        if self.dist.is_main and self.log_path is not None:
            self._write_log(rows)
        bar.update(len(rows))
        bar.set_postfix(loss=f"{rows[-1][1]:.4f}", lr=f"{rows[-1][2]:.2e}", samples_s=f"{samples_per_s:.0f}")
        for step, loss, _, norm, _ in rows:
            if not (math.isfinite(loss) and math.isfinite(norm)):
                what = f"loss {loss}" if not math.isfinite(loss) else f"gradient norm {norm}"
                where = (f"the last good checkpoint is {self.last_checkpoint}" if self.last_checkpoint is not None
                         else "no checkpoint was saved before it")
                raise NonFiniteLossError(
                    f"training stopped: {what} at step {step}; {where}. Lower lr, check the data for NaN, "
                    "or resume from that checkpoint with other settings")

    def _write_log(self, rows: list[tuple]) -> None:
        new = not self.log_path.exists()
        with open(self.log_path, "a", newline="") as file:
            writer = csv.writer(file)
            if new:
                writer.writerow(LOG_COLUMNS)
            for step, loss, lr, norm, rate in rows:
                writer.writerow([step, repr(loss), repr(lr), repr(norm), f"{rate:.1f}"])

    @contextlib.contextmanager
    def _run_rngs(self):
        """Run the loop on this run's generators; the caller's global generators are left as they were."""
        outside = capture_rng_state(cuda=self.device.type == "cuda")
        if self._rng_state is None:  # a new run: the seed fixes everything (each rank its own stream)
            seed_global_rngs(self.config.seed + 1_000_003 * self.dist.rank)
        else:
            restore_rng_state(self._rng_state)
        try:
            yield
        finally:
            restore_rng_state(outside)

    # -- checkpoints ------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """The whole training state, as plain containers and tensors (see `save`)."""
        rng = all_gather_objects(self._rng_state, self.dist)  # every rank's generators, so each resumes its own
        return {
            "version": TRAINING_STATE_VERSION,
            "step": self.step,
            "batches_drawn": self.batches_drawn,
            "world_size": self.dist.world_size,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "rng": rng,
            "config": dataclasses.asdict(self.config),
            "seconds": self.seconds,
        }

    def save(self, path: str | pathlib.Path | None = None) -> pathlib.Path | None:
        """Write the training state atomically to `path` (default out_dir/last.pt); only rank 0 writes."""
        path = pathlib.Path(path) if path is not None else self.checkpoint_path
        if path is None:
            raise ValueError("no path to save to: pass save(path) or build the Trainer with out_dir=")
        training = self.state_dict()  # a collective under DDP: every rank takes part
        if self.dist.is_main:
            metadata = {**self.metadata, "step": self.step}
            atomic_save(checkpoint_dict(self.model, metadata, training), path)
        self.last_checkpoint = path
        return path

    def load(self, path: str | pathlib.Path) -> Trainer:
        """Continue from the training state at `path`; a ValueError names what differs from this run."""
        checkpoint = read_checkpoint(path)
        training = checkpoint.get("training")
        if training is None:
            raise ValueError(f"{path} holds a network but no training state (it was written by save_checkpoint, "
                             "not by a Trainer); load it with minisora.models.load_model")
        if training.get("version") != TRAINING_STATE_VERSION:
            raise ValueError(f"{path} has training-state version {training.get('version')!r}; this minisora reads "
                             f"version {TRAINING_STATE_VERSION}")
        check_same_network(checkpoint, self.model, path)
        saved, current = training["config"], dataclasses.asdict(self.config)
        changed = [f"{key}: {saved.get(key)!r} in the checkpoint, {value!r} here" for key, value in current.items()
                   if key not in RESUMABLE_FIELDS and _plain(saved.get(key)) != _plain(value)]
        if cfg_cosine_moved(saved, current):
            changed.append(f"steps: {saved.get('steps')!r} in the checkpoint, {current['steps']!r} here, with a cosine "
                           "schedule whose horizon is steps (set decay_steps to fix the horizon)")
        if changed:
            raise ValueError(f"{path} was trained with other settings ({'; '.join(changed)}); an exact resume needs "
                             f"the same ones (only {', '.join(RESUMABLE_FIELDS)} may change)")
        if training["world_size"] != self.dist.world_size:
            raise ValueError(f"{path} was written by {training['world_size']} process(es) and this run has "
                             f"{self.dist.world_size}; resume with the same number of processes")
        if training["step"] > self.config.steps:
            raise ValueError(f"{path} is at step {training['step']}, past steps={self.config.steps}; "
                             f"pass steps >= {training['step']}")
        self.model.load_state_dict(checkpoint["state_dict"])
        self.optimizer.load_state_dict(training["optimizer"])
        self.scheduler.load_state_dict(training["scheduler"])
        if (self.ema is None) != (training["ema"] is None):
            raise ValueError(f"{path} {'has' if training['ema'] is not None else 'has no'} EMA but this run "
                             f"{'has none' if self.ema is None else 'has one'}; set ema_decay as the saved run did")
        if self.ema is not None:
            self.ema.load_state_dict(training["ema"])
        self.step, self.batches_drawn = training["step"], training["batches_drawn"]
        self._rng_state = training["rng"][self.dist.rank]
        self.seconds = training["seconds"]
        self.last_checkpoint = pathlib.Path(path)
        return self

    def resume(self) -> Trainer:
        """`load(out_dir/last.pt)`, and drop log rows after its step (they will be written again, identically)."""
        if self.checkpoint_path is None:
            raise ValueError("resume() needs the Trainer's out_dir (where last.pt and log.csv live)")
        self.load(self.checkpoint_path)
        if self.dist.is_main and self.log_path is not None and self.log_path.exists():
            with open(self.log_path, newline="") as file:
                rows = list(csv.reader(file))
            kept = [row for row in rows[1:] if int(row[0]) <= self.step]
            if len(kept) != len(rows) - 1:
                with open(self.log_path, "w", newline="") as file:
                    csv.writer(file).writerows([rows[0], *kept])
        return self


def cfg_cosine_moved(saved: dict, current: dict) -> bool:
    """A cosine schedule that decays over `steps` changes every rate when `steps` changes."""
    return (current["schedule"] == "cosine" and current.get("decay_steps") is None
            and saved.get("steps") != current["steps"])


def _plain(value):
    return [_plain(v) for v in value] if isinstance(value, (list, tuple)) else value
