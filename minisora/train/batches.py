"""Where a trainer's batches come from, with a position it can save and resume (lessons 02-11).

The trainer takes any iterable of dict batches. Two sources here also know *where they
are*: batch k of the stream is a pure function of (seed, k), so a checkpoint stores just
the number of batches drawn and a resumed run continues with batch k + 1 — no sampler
state, no worker state.

    TensorBatches    tensors in memory (images, latents, labels), reshuffled every epoch
    DatasetBatches   a map-style Dataset (Bouncing Shapes rendered on the fly) through a
                     DataLoader with worker processes

Under data parallelism each rank draws its own slice of every global batch: the global
batch of `world_size * batch_size` items is the same on every rank, and rank r takes items
[r * batch_size, (r + 1) * batch_size). So 2 ranks of batch b see exactly the items 1 rank of
batch 2b sees, and the ranks never see the same item in one step.

Any other iterable works too: a resumed run then skips the batches already drawn, by
iterating over them (restarting the iterable at each epoch's end).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from minisora.core.checks import check_seed


def _check_batch_size(batch_size: int, available: int, world_size: int) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if batch_size * world_size > available:
        raise ValueError(f"batch_size={batch_size} x {world_size} rank(s) is more than the {available} samples; "
                         f"use batch_size <= {available // world_size} or more data")


def _check_position(start: int, rank: int, world_size: int) -> None:
    if isinstance(start, bool) or not isinstance(start, int) or start < 0:
        raise ValueError(f"start must be a non-negative int (the number of batches already drawn), got {start!r}")
    if not isinstance(world_size, int) or world_size < 1 or not isinstance(rank, int) or not 0 <= rank < world_size:
        raise ValueError(f"need 0 <= rank < world_size, got rank={rank!r}, world_size={world_size!r}")


class EpochOrder:
    """Which items form global batch k: epoch e is the e-th permutation drawn from a generator seeded by `seed`."""

    def __init__(self, num_items: int, global_batch: int, seed: int, shuffle: bool = True) -> None:
        self.num_items, self.global_batch, self.seed, self.shuffle = num_items, global_batch, seed, shuffle
        self.batches_per_epoch = num_items // global_batch  # the ragged tail waits for the next epoch's shuffle

    def batches(self, start: int) -> Iterator[Tensor]:
        """Index tensors (global_batch,) of batches start, start + 1, ... forever."""
        generator = torch.Generator().manual_seed(self.seed)
        epoch, offset = divmod(start, self.batches_per_epoch)
        for _ in range(epoch):  # replay earlier epochs' draws so epoch `epoch` gets its own permutation
            self._order(generator)
        while True:
            order = self._order(generator)
            for k in range(offset, self.batches_per_epoch):
                yield order[k * self.global_batch : (k + 1) * self.global_batch]
            offset = 0

    def _order(self, generator: torch.Generator) -> Tensor:
        return torch.randperm(self.num_items, generator=generator) if self.shuffle else torch.arange(self.num_items)


class TensorBatches:
    """Mini-batches of in-memory tensors sharing their first dimension, e.g. {"x": images, "labels": labels}."""

    def __init__(self, tensors: dict[str, Tensor], batch_size: int, seed: int = 0, shuffle: bool = True) -> None:
        if not isinstance(tensors, dict) or not tensors:
            raise ValueError("tensors must be a non-empty dict of name -> tensor, e.g. {'x': images}")
        lengths = {name: len(t) if isinstance(t, Tensor) and t.ndim > 0 else None for name, t in tensors.items()}
        if None in lengths.values():
            bad = [name for name, n in lengths.items() if n is None]
            raise ValueError(f"tensors[{bad[0]!r}] is not a tensor with a batch dimension; pass tensors (N, ...)")
        if len(set(lengths.values())) != 1:
            raise ValueError(f"the tensors have different first dimensions {lengths}; pass one row per sample in each")
        self.tensors, self.num_items = tensors, next(iter(lengths.values()))
        if self.num_items == 0:
            raise ValueError("the tensors are empty (0 samples); pass at least batch_size samples")
        _check_batch_size(batch_size, self.num_items, 1)
        check_seed(seed)
        self.batch_size, self.seed, self.shuffle = batch_size, seed, shuffle

    def __len__(self) -> int:
        """Batches per epoch on one rank."""
        return self.num_items // self.batch_size

    def batches(self, start: int = 0, rank: int = 0, world_size: int = 1) -> Iterator[dict[str, Tensor]]:
        """Batch dicts from batch number `start` on, forever; this rank's slice of each global batch."""
        _check_position(start, rank, world_size)
        _check_batch_size(self.batch_size, self.num_items, world_size)
        order = EpochOrder(self.num_items, self.batch_size * world_size, self.seed, self.shuffle)
        for index in order.batches(start):
            mine = index[rank * self.batch_size : (rank + 1) * self.batch_size]  # (batch_size,)
            yield {name: tensor[mine] for name, tensor in self.tensors.items()}

    def __iter__(self) -> Iterator[dict[str, Tensor]]:
        return self.batches()


class _BatchIndices:
    """A batch sampler for DataLoader: this rank's index lists of global batches start, start + 1, ..."""

    def __init__(self, order: EpochOrder, start: int, rank: int, batch_size: int) -> None:
        self.order, self.start, self.rank, self.batch_size = order, start, rank, batch_size

    def __iter__(self) -> Iterator[list[int]]:
        for index in self.order.batches(self.start):
            yield index[self.rank * self.batch_size : (self.rank + 1) * self.batch_size].tolist()


class DatasetBatches:
    """Mini-batches of a map-style Dataset, loaded by `num_workers` processes (0: in this process)."""

    def __init__(self, dataset: Dataset, batch_size: int, seed: int = 0, num_workers: int = 0,
                 collate_fn: Callable | None = None, shuffle: bool = True) -> None:
        if not hasattr(dataset, "__getitem__") or not hasattr(dataset, "__len__"):
            raise ValueError(f"dataset must be a map-style Dataset (with __len__ and __getitem__), "
                             f"got {type(dataset).__name__}")
        if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(f"num_workers must be a non-negative int (0 loads in this process), got {num_workers!r}")
        _check_batch_size(batch_size, len(dataset), 1)
        check_seed(seed)
        self.dataset, self.batch_size, self.seed = dataset, batch_size, seed
        self.num_workers, self.collate_fn, self.shuffle = num_workers, collate_fn, shuffle

    def __len__(self) -> int:
        return len(self.dataset) // self.batch_size

    def batches(self, start: int = 0, rank: int = 0, world_size: int = 1) -> Iterator[dict]:
        _check_position(start, rank, world_size)
        _check_batch_size(self.batch_size, len(self.dataset), world_size)
        order = EpochOrder(len(self.dataset), self.batch_size * world_size, self.seed, self.shuffle)
        # The loader gets its own generator, so making an iterator never draws from the global RNG
        # (DataLoader otherwise takes its workers' base seed from it, shifting every later draw).
        loader = DataLoader(self.dataset, batch_sampler=_BatchIndices(order, start, rank, self.batch_size),
                            num_workers=self.num_workers, collate_fn=self.collate_fn,
                            generator=torch.Generator().manual_seed(self.seed),
                            persistent_workers=False)
        yield from loader

    def __iter__(self) -> Iterator[dict]:
        return self.batches()


def batches_from(data: Iterable, start: int = 0, rank: int = 0, world_size: int = 1) -> Iterator:
    """Batches of `data` from number `start` on: a source's own `batches`, or any re-iterable, cycled."""
    if hasattr(data, "batches"):
        return data.batches(start, rank, world_size)
    if world_size > 1:
        raise ValueError(f"{type(data).__name__} cannot give each of {world_size} ranks its own batches; "
                         "wrap the data in minisora.train.TensorBatches or DatasetBatches")
    if not isinstance(data, Iterable):
        raise ValueError(f"data must be an iterable of dict batches, got {type(data).__name__}")
    _check_position(start, rank, world_size)
    return itertools.islice(_cycle(data), start, None)


def _cycle(data: Iterable) -> Iterator:
    while True:
        empty = True
        for batch in data:
            empty = False
            yield batch
        if empty:
            raise ValueError("the data yielded no batches; pass a non-empty iterable (a list or a re-iterable loader)")
