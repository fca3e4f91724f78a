"""Our attention vs the formula written out vs diffusers' Attention, joint and factorized, in one run.

Video tokens (B, f*s, D) with f frames of s tokens. "Joint" attends over all f*s tokens;
"factorized" attends within each frame (B*f sequences of s) and then across frames at each
place (B*s sequences of f) — ViViT's factorized self-attention. Three implementations of
each, all with the same weights: minisora's `Attention` (F.scaled_dot_product_attention), the
formula written out (`attention_reference`: softmax(QKᵀ/√d)V with the L x L matrix in
memory), and diffusers' `Attention` with its default processor. Forward + backward, median
of interleaved repeats, ratios to ours.

    python bench/bench_attention.py --frames 8 --tokens 64 --dim 128 --heads 4 --batch 8
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from einops import rearrange

from minisora.blocks import Attention, attention_reference


class Written(torch.nn.Module):
    """The same projections as `Attention`, with the attention formula written out."""

    def __init__(self, ours: Attention) -> None:
        super().__init__()
        self.ours = ours

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.ours
        q, k, v = (rearrange(proj(x), "B L (h d) -> B h L d", h=a.num_heads) for proj in (a.to_q, a.to_k, a.to_v))
        return a.to_out(rearrange(attention_reference(q, k, v), "B h L d -> B L (h d)"))


def diffusers_twin(ours: Attention, dim: int, heads: int):
    from diffusers.models.attention_processor import Attention as DiffusersAttention

    twin = DiffusersAttention(dim, heads=heads, dim_head=dim // heads, bias=True, out_bias=True)
    twin.load_state_dict({name.replace("to_out.", "to_out.0."): value for name, value in ours.state_dict().items()})
    return lambda x: twin(x)


def factorized(attend, f: int):
    """Spatial then temporal attention with one module, as ViViT's factorized self-attention does."""

    def run(x: torch.Tensor) -> torch.Tensor:
        B = x.shape[0]
        x = rearrange(attend(rearrange(x, "B (f s) D -> (B f) s D", f=f)), "(B f) s D -> (B s) f D", B=B)
        return rearrange(attend(x), "(B s) f D -> B (f s) D", B=B)

    return run


def seconds(fn, x: torch.Tensor) -> float:
    start = time.perf_counter()
    fn(x).square().mean().backward()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=64, help="tokens per frame (s)")
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()

    torch.manual_seed(0)
    ours = Attention(args.dim, args.heads)
    implementations = {"minisora": ours, "written out": Written(ours)}
    try:
        implementations["diffusers"] = diffusers_twin(ours, args.dim, args.heads)
    except ImportError:
        print("diffusers is not installed: comparing with the written-out formula only")
    x = torch.randn(args.batch, args.frames * args.tokens, args.dim, requires_grad=True)
    with torch.no_grad():
        reference = ours(x)
        for name, fn in implementations.items():
            assert torch.allclose(fn(x), reference, atol=1e-4), f"{name} computes something else"

    L = args.frames * args.tokens
    print(f"B={args.batch}, f={args.frames} frames x s={args.tokens} tokens (L={L}), D={args.dim}, "
          f"{args.heads} heads, forward + backward, {torch.get_num_threads()} threads, median of {args.repeats}")
    for layout in ("joint", "factorized"):
        runs = {name: (fn if layout == "joint" else factorized(fn, args.frames))
                for name, fn in implementations.items()}
        times = {name: [] for name in runs}
        for fn in runs.values():
            seconds(fn, x)  # warm-up
        for _ in range(args.repeats):
            for name, fn in runs.items():
                times[name].append(seconds(fn, x))
        median = {name: statistics.median(t) for name, t in times.items()}
        print(f"  {layout}:")
        for name, value in median.items():
            print(f"    {name:<12} {value * 1000:8.1f} ms   {value / median['minisora']:5.2f}x minisora's time")


if __name__ == "__main__":
    main()
