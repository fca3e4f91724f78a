"""Our video DiT vs diffusers' LatteTransformer3DModel at the same size, forward + backward, in one run;
and the FLOP rate of our training step against this machine's own fp32 matmul rate.

Same depth, width, heads, patch size, frames, text length and caption width; both in
fp32 on the CPU, both with adaLN-single (PixArt's shared modulation) and a caption
projected into cross-attention. The architectures are not identical, and the table says
how: Latte (variant 1 of the paper, as diffusers builds it) gives every layer a spatial
transformer block (self-attention, cross-attention, MLP) *and* a temporal block (attention
and its own MLP), and cuts frames into p x p patches; our block has one MLP after spatial,
temporal and cross-attention. So the FLOPs of one step differ too, and we report both the
time ratio and the time per FLOP. Our row "frame patches" uses Latte's tokens (pt = 1) and
Latte's factorized attention; the row "tubelets" halves the tokens (pt = 2); the row "as t2v
trains" is the shipped recipe's network: tubelets and one full 3-D attention per block.

Runs alternate ours / theirs so a machine that slows down slows both; medians are reported.
The last lines say where the trained network's step spends its time (torch.profiler, self
CPU time by kind of operator): the matmuls run near the machine's rate, the rest does not.

    python bench/bench_video_dit.py --preset cpu --frames 16 --size 8 --batch 8 --repeats 5
    python bench/bench_video_dit.py --preset gpu --batch 8 --repeats 3   # the wider network, on this CPU
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.profiler import ProfilerActivity, profile
from torch.utils.flop_counter import FlopCounterMode

from minisora.models import VIDEO_DIT_PRESETS, VideoDiT


def step_seconds(forward) -> float:
    """One forward + backward of a squared-error loss, timed."""
    start = time.perf_counter()
    forward().square().mean().backward()
    return time.perf_counter() - start


def training_step_flops(forward) -> int:
    """FLOPs of forward + backward (attention as plain matmuls, so the counter sees it)."""
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        forward().square().mean().backward()
    return counter.get_total_flops()


def matmul_rate(n: int = 2048, repeats: int = 5) -> float:
    """FLOP/s of an n x n fp32 matmul, the best of `repeats` (2 n³ FLOPs each)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best


# Which operators do which kind of work: matmuls (the arithmetic the FLOP count is mostly made of),
# the fused attention kernels, and everything that moves memory more than it multiplies.
OPERATOR_KINDS = {
    "matmul": ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm"),
    "attention kernel": ("aten::_scaled_dot_product_flash_attention_for_cpu",
                         "aten::_scaled_dot_product_flash_attention_for_cpu_backward"),
    "GELU": ("aten::gelu", "aten::gelu_backward"),
    "LayerNorm": ("aten::native_layer_norm", "aten::native_layer_norm_backward"),
    "copies (rearrange, cat)": ("aten::copy_", "aten::cat", "aten::clone"),
    "elementwise (mul, add, ...)": ("aten::mul", "aten::add", "aten::add_", "aten::sub", "aten::div", "aten::sum",
                                    "aten::fill_", "aten::mul_"),
}


def time_by_kind(forward, steps: int = 2) -> dict[str, float]:
    """Share of a training step's self CPU time per kind of operator (OPERATOR_KINDS, the rest: "other")."""
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            forward().square().mean().backward()
    totals = {op.key: op.self_cpu_time_total for op in prof.key_averages()}
    everything = sum(totals.values())
    shares = {kind: sum(totals.get(op, 0.0) for op in ops) / everything for kind, ops in OPERATOR_KINDS.items()}
    shares["other"] = 1 - sum(shares.values())
    return shares


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="cpu", choices=sorted(VIDEO_DIT_PRESETS))
    parser.add_argument("--frames", type=int, default=16, help="latent frames")
    parser.add_argument("--size", type=int, default=8, help="latent height and width")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--text", type=int, default=20, help="caption tokens")
    parser.add_argument("--text-dim", type=int, default=128, help="the caption tokens' width")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    from diffusers import LatteTransformer3DModel  # the peer; installed with the test extra

    torch.manual_seed(0)
    config = dataclasses.replace(VIDEO_DIT_PRESETS[args.preset], num_frames=args.frames,
                                 input_size=(args.size, args.size), context_dim=args.text_dim)
    frame_patches = VideoDiT(config, tubelet_frames=1)
    tubelets = VideoDiT(config, tubelet_frames=2)
    trained = VideoDiT(config, tubelet_frames=2, attention="full")  # the t2v recipe's choice
    latte = LatteTransformer3DModel(
        num_attention_heads=config.num_heads, attention_head_dim=config.dim // config.num_heads,
        in_channels=config.in_channels, out_channels=config.in_channels, num_layers=config.depth,
        cross_attention_dim=config.dim, attention_bias=True, sample_size=args.size, patch_size=config.patch_size,
        activation_fn="gelu-approximate", norm_type="ada_norm_single", norm_elementwise_affine=False, norm_eps=1e-6,
        caption_channels=args.text_dim, video_length=args.frames,
    )
    # Trained-looking weights, not the zero inits (which would be no less work, but be fair).
    for model in (frame_patches, tubelets, trained, latte):
        for p in model.parameters():
            torch.nn.init.normal_(p, std=0.02)
    x = torch.randn(args.batch, args.frames, config.in_channels, args.size, args.size)  # (B, F, C, H, W)
    t = torch.randint(0, 1000, (args.batch,)).float()
    context = torch.randn(args.batch, args.text, args.text_dim)
    # No padding mask on either side: diffusers' Latte repeats the caption per frame but not its mask
    # (a (B, S) mask fails to reshape in 0.42), and with every token real a mask changes nothing.
    mask = None
    pooled = context.mean(dim=1)
    # The t2v model's DiT reads the caption's tokens and then its word embeddings: twice the keys.
    words_too = torch.cat([context, torch.randn_like(context)], dim=1)  # (B, 2 S, text_dim)
    latte_x = x.transpose(1, 2).contiguous()  # diffusers wants (B, C, F, H, W)
    peers = {
        "minisora, frame patches": (frame_patches, lambda: frame_patches(x, t, context, mask, pooled)),
        "diffusers Latte": (latte, lambda: latte(latte_x, timestep=t, encoder_hidden_states=context).sample),
        "minisora, tubelets": (tubelets, lambda: tubelets(x, t, context, mask, pooled)),
        "minisora, as t2v trains": (trained, lambda: trained(x, t, words_too, mask, pooled)),
    }
    for _, forward in peers.values():
        step_seconds(forward)  # warm-up
    times = {name: [] for name in peers}
    for _ in range(args.repeats):
        for name, (_, forward) in peers.items():
            times[name].append(step_seconds(forward))
    median = {name: statistics.median(values) for name, values in times.items()}
    flops = {name: training_step_flops(forward) for name, (_, forward) in peers.items()}
    tokens = {"minisora, frame patches": args.frames, "diffusers Latte": args.frames,
              "minisora, tubelets": args.frames // 2, "minisora, as t2v trains": args.frames // 2}
    spatial = (args.size // config.patch_size) ** 2
    print(f"VideoDiT-{args.preset} vs Latte (width {config.dim}, depth {config.depth}, {config.num_heads} heads, "
          f"patch {config.patch_size}), batch {args.batch} x {args.frames} x {config.in_channels} x {args.size} x "
          f"{args.size}, {args.text} caption tokens, forward + backward, {torch.get_num_threads()} threads, "
          f"median of {args.repeats}")
    for name, seconds in median.items():
        count = sum(p.numel() for p in peers[name][0].parameters())
        print(f"  {name:<25} {seconds * 1000:8.1f} ms/step  {flops[name] / 1e9:6.1f} GFLOP  "
              f"{flops[name] / seconds / 1e9:6.1f} GFLOP/s  {tokens[name] * spatial:4d} tokens  "
              f"({count / 1e6:.2f} M parameters)")
    ratio = median["minisora, frame patches"] / median["diffusers Latte"]
    per_flop = ratio * flops["diffusers Latte"] / flops["minisora, frame patches"]
    print(f"  ratio minisora (frame patches) / diffusers, time: {ratio:.2f}x; time per FLOP: {per_flop:.2f}x")
    peak = matmul_rate()
    for ours in ("minisora, tubelets", "minisora, as t2v trains"):
        achieved = flops[ours] / median[ours]
        print(f"{ours}: {achieved / 1e9:.1f} GFLOP/s; this machine's 2048 x 2048 fp32 matmul: {peak / 1e9:.1f} "
              f"GFLOP/s; ratio {achieved / peak:.2f}")
    shares = time_by_kind(peers["minisora, as t2v trains"][1])
    print("where the step of 'as t2v trains' spends its time (self CPU time): "
          + ", ".join(f"{kind} {share:.0%}" for kind, share in shares.items()))


if __name__ == "__main__":
    main()
