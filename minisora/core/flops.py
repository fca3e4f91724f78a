"""Count the floating-point operations of a call, attention included (lessons 03, 05, 06, 11).

`torch.utils.flop_counter.FlopCounterMode` counts every matmul and convolution it knows a
formula for (2 FLOPs per multiply-add). On the CPU, `F.scaled_dot_product_attention`
dispatches to a fused kernel the counter has no formula for, so attention would count as
zero; inside `sdpa_kernel(SDPBackend.MATH)` the same call runs as plain matmuls, which the
counter sees. The result is exact arithmetic on the architecture: the same on every machine.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode


def count_flops(fn: Callable[[], object], by_operator: bool = False) -> int | dict[str, int]:
    """FLOPs of `fn()` run without gradients; by_operator=True returns {"aten.convolution": n, ...}."""
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter, torch.no_grad():
        fn()
    if by_operator:
        return {str(op): n for op, n in counter.get_flop_counts()["Global"].items()}
    return counter.get_total_flops()
