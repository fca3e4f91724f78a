"""How much memory a forward pass keeps for its backward pass (lessons 05, 11).

Training memory is dominated by the activations autograd saves between the forward and
the backward pass. `saved_tensor_bytes` counts exactly those, with
`torch.autograd.graph.saved_tensors_hooks`: every tensor autograd packs is measured once
(by its storage), on any device, with no allocator statistics needed. Parameters and their
gradients are not included; on CUDA, `torch.cuda.max_memory_allocated` gives the total.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def saved_tensor_bytes(fn: Callable[[], object]) -> int:
    """Bytes of the distinct tensors autograd saves while running `fn()` (a forward pass with grad on)."""
    seen: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        seen[storage.data_ptr()] = max(seen.get(storage.data_ptr(), 0), storage.nbytes())
        return tensor

    with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        fn()
    return sum(seen.values())
