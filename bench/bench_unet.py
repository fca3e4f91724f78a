"""Our U-Net vs diffusers' UNet2DModel at the same configuration, forward + backward, in one run.

Both networks get the same weights (exported with `minisora.models.diffusers_interop`, so
they compute the same function) and the same batch; runs alternate ours / theirs so any
slowdown of the machine hits both. We report the median seconds per training step and the
ratio ours / diffusers (below 1.0: ours is faster).

    python bench/bench_unet.py --preset S --batch 32 --size 32 --repeats 10
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from minisora.models import UNET_PRESETS, UNet
from minisora.models.diffusers_interop import diffusers_unet_kwargs, to_diffusers_state_dict


def step_seconds(forward, x: torch.Tensor, t: torch.Tensor) -> float:
    """One forward + backward of a squared-error loss, timed."""
    start = time.perf_counter()
    out = forward(x, t)
    out.square().mean().backward()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="S", choices=sorted(UNET_PRESETS))
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()

    from diffusers import UNet2DModel  # the peer; installed with the test extra

    torch.manual_seed(0)
    ours = UNet(UNET_PRESETS[args.preset])
    for p in ours.parameters():  # trained-looking weights, not the zero init
        torch.nn.init.normal_(p, std=0.02)
    theirs = UNet2DModel(**diffusers_unet_kwargs(ours.config, args.size))
    theirs.load_state_dict(to_diffusers_state_dict(ours.state_dict()))
    x = torch.randn(args.batch, 3, args.size, args.size)
    t = torch.randint(0, 1000, (args.batch,))
    with torch.no_grad():
        assert torch.allclose(ours(x, t), theirs(x, t).sample, atol=1e-4), (
            "the two networks must compute the same function"
        )

    peers = {"minisora": ours, "diffusers": lambda x, t: theirs(x, t).sample}
    times = {name: [] for name in peers}
    for forward in peers.values():  # warm-up
        step_seconds(forward, x, t)
    for _ in range(args.repeats):
        for name, forward in peers.items():
            times[name].append(step_seconds(forward, x, t))
    params = sum(p.numel() for p in ours.parameters())
    print(f"U-Net '{args.preset}' ({params / 1e6:.2f} M parameters), "
          f"batch {args.batch} x 3 x {args.size} x {args.size}, "
          f"forward + backward, {torch.get_num_threads()} threads, median of {args.repeats}")
    median = {name: statistics.median(values) for name, values in times.items()}
    for name, seconds in median.items():
        print(f"  {name:<10} {seconds * 1000:8.1f} ms/step")
    print(f"  ratio minisora / diffusers: {median['minisora'] / median['diffusers']:.2f}x")


if __name__ == "__main__":
    main()
