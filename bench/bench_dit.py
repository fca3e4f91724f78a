"""Our DiT vs diffusers' DiTTransformer2DModel at the same size, forward + backward, in one run;
and the FLOP rate of our training step against this machine's own fp32 matmul rate.

The two networks have the same depth, width, heads, patch size, adaLN-Zero blocks, input and
labels. They cannot share weights: diffusers gives every block its own timestep and label
embedders (DiT's conversion copies the shared ones into each), and its sinusoid spacing
differs slightly. So this compares speed only; `tests/test_models_dit.py` checks our DiT
against the paper's parameter counts. Runs alternate ours / theirs so a machine that slows
down slows both; we report median seconds per step and the ratio ours / diffusers.

The second table counts the FLOPs of one training step (forward + backward, attention
included) with `torch.utils.flop_counter`, divides by the step's time, and compares with
the rate of one large fp32 matmul (what the cores can do at best).

    python bench/bench_dit.py --preset S/2 --size 16 --batch 8 --repeats 5
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from minisora.models import DIT_PRESETS, DiT


def step_seconds(forward, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> float:
    """One forward + backward of a squared-error loss, timed."""
    start = time.perf_counter()
    forward(x, t, y).square().mean().backward()
    return time.perf_counter() - start


def training_step_flops(forward, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> int:
    """FLOPs of forward + backward (attention as plain matmuls, so the counter sees it)."""
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        forward(x, t, y).square().mean().backward()
    return counter.get_total_flops()


def matmul_rate(n: int = 2048, repeats: int = 5) -> float:
    """FLOP/s of an n x n fp32 matmul, the best of `repeats` (2 n³ FLOPs each)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b  # warm-up
    best = min(_timed(lambda: a @ b) for _ in range(repeats))
    return 2 * n**3 / best


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="S/2", choices=sorted(DIT_PRESETS))
    parser.add_argument("--size", type=int, default=16, help="latent height and width")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    from diffusers import DiTTransformer2DModel  # the peer; installed with the test extra

    torch.manual_seed(0)
    config = DIT_PRESETS[args.preset]
    ours = DiT(config, input_size=args.size)
    theirs = DiTTransformer2DModel(
        num_attention_heads=config.num_heads, attention_head_dim=config.dim // config.num_heads,
        in_channels=config.in_channels, out_channels=config.in_channels, num_layers=config.depth,
        sample_size=args.size, patch_size=config.patch_size, num_embeds_ada_norm=config.num_classes[0],
        norm_type="ada_norm_zero", activation_fn="gelu-approximate", attention_bias=True,
    )
    # trained-looking weights, not the zero init (zero gates would skip nothing, but be fair)
    for model in (ours, theirs):
        for p in model.parameters():
            torch.nn.init.normal_(p, std=0.02)
    x = torch.randn(args.batch, config.in_channels, args.size, args.size)
    t = torch.randint(0, 1000, (args.batch,))
    y = torch.randint(0, config.num_classes[0], (args.batch,))
    peers = {
        "minisora": lambda x, t, y: ours(x, t, y[:, None]),
        "diffusers": lambda x, t, y: theirs(x, timestep=t, class_labels=y).sample,
    }
    for forward in peers.values():
        assert forward(x, t, y).shape == x.shape
        step_seconds(forward, x, t, y)  # warm-up

    times = {name: [] for name in peers}
    for _ in range(args.repeats):
        for name, forward in peers.items():
            times[name].append(step_seconds(forward, x, t, y))
    median = {name: statistics.median(values) for name, values in times.items()}
    params = {"minisora": ours, "diffusers": theirs}
    print(f"DiT-{args.preset} (width {config.dim}, depth {config.depth}, {config.num_heads} heads), "
          f"batch {args.batch} x {config.in_channels} x {args.size} x {args.size}, forward + backward, "
          f"{torch.get_num_threads()} threads, median of {args.repeats}")
    for name, seconds in median.items():
        count = sum(p.numel() for p in params[name].parameters())
        print(f"  {name:<10} {seconds * 1000:8.1f} ms/step   ({count / 1e6:.1f} M parameters)")
    print(f"  ratio minisora / diffusers: {median['minisora'] / median['diffusers']:.2f}x")

    flops = training_step_flops(peers["minisora"], x, t, y)
    achieved = flops / median["minisora"]
    peak = matmul_rate()
    print(f"our training step: {flops / 1e9:.1f} GFLOP in {median['minisora'] * 1000:.0f} ms = "
          f"{achieved / 1e9:.1f} GFLOP/s; "
          f"this machine's 2048 x 2048 fp32 matmul: {peak / 1e9:.1f} GFLOP/s; ratio {achieved / peak:.2f}")


if __name__ == "__main__":
    main()
