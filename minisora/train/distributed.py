"""Data parallelism on PyTorch's own engine: `torchrun` starts the processes, DDP averages the gradients (lesson 11).

`torchrun --standalone --nproc_per_node=N -m minisora train ...` starts N copies of the
command with RANK, LOCAL_RANK and WORLD_SIZE in their environment. Each joins one process
group (NCCL between GPUs, gloo on CPUs), wraps the network in DistributedDataParallel —
which broadcasts rank 0's weights at the start and all-reduces (averages) the gradients in
`backward` — and draws its own slice of every batch. Only rank 0 writes the log and the
checkpoints. A rank that dies makes the others' next all-reduce fail instead of waiting
forever; `timeout_s` bounds the wait where the transport cannot tell.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Distributed:
    """Where this process stands: its rank among `world_size` processes and its device."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        """Rank 0: the one that logs and saves."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def launched_by_torchrun(environ: dict | None = None) -> bool:
    """True when torchrun (or another launcher) set WORLD_SIZE > 1 for this process."""
    environ = os.environ if environ is None else environ
    return int(environ.get("WORLD_SIZE", "1")) > 1


def setup_distributed(device: str | torch.device | None = None, timeout_s: float = 120.0) -> Distributed:
    """Join the process group torchrun describes (or stay a single process); pick this rank's device."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    wanted = torch.device(device) if device is not None else None
    use_cuda = torch.cuda.is_available() if wanted is None else wanted.type == "cuda"
    if use_cuda and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but torch sees no CUDA GPU; pass --device cpu")
    if world_size == 1:
        chosen = wanted if wanted is not None else torch.device("cuda" if use_cuda else "cpu")
        return Distributed(device=chosen)
    if use_cuda:
        if local_rank >= torch.cuda.device_count():
            raise ValueError(f"LOCAL_RANK={local_rank} but this machine has {torch.cuda.device_count()} GPU(s); "
                             "start at most that many processes per node")
        torch.cuda.set_device(local_rank)
        chosen = torch.device("cuda", local_rank)
    else:
        chosen = torch.device("cpu")
    if not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo", timeout=datetime.timedelta(seconds=timeout_s))
    return Distributed(rank=rank, world_size=world_size, local_rank=local_rank, device=chosen)


def cleanup_distributed() -> None:
    """Leave the process group (if this process joined one)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def all_gather_objects(value, context: Distributed) -> list:
    """`value` from every rank, in rank order (the value itself when there is one process)."""
    if not context.enabled:
        return [value]
    gathered = [None] * context.world_size
    dist.all_gather_object(gathered, value)
    return gathered
