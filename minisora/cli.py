"""The `minisora` command line: it parses arguments and calls the package, nothing more.

    minisora demo --out outputs/demo      render a few captioned Bouncing Shapes videos
    minisora render "a small red circle moving left" --out red.mp4
    minisora train-vae --out data/vae_f4_32px.pt   train lesson 03's VAE and save it (what data/ ships)

(`train` and `generate` join when the text-to-video model lands, lesson 09.)
"""

from __future__ import annotations

import argparse
import pathlib
import shlex
import sys
import time

import numpy as np

from minisora.core import save_video
from minisora.data import FPS, render, render_scene, sample_scene

DEMO_CAPTIONS = (
    "a large red circle bouncing and a small blue square moving right",
    "a small yellow triangle moving up and a large cyan circle staying still on a gray background",
    "a large white square moving left and a small magenta triangle bouncing and a small green circle moving down",
    "a large orange triangle staying still, the camera zooms in",
)


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="minisora", description=(__doc__ or "The minisora command line.").split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="render a few captioned Bouncing Shapes videos (mp4 + gif)")
    demo.add_argument("--out", type=pathlib.Path, default=pathlib.Path("outputs/demo"))
    demo.add_argument("--random", type=_positive, default=4, help="how many random scenes to add")
    _add_size_arguments(demo)

    one = commands.add_parser("render", help="render one canonical caption to a video file")
    one.add_argument("caption", help='e.g. "a small red circle moving left on a gray background"')
    one.add_argument("--out", type=pathlib.Path, required=True, help="a .mp4 or .gif path")
    _add_size_arguments(one)

    vae = commands.add_parser("train-vae", help="train lesson 03's VAE on Bouncing Shapes frames and save a checkpoint")
    vae.add_argument("--out", type=pathlib.Path, required=True, help="the checkpoint to write, e.g. data/vae_f4_32px.pt")
    vae.add_argument("--preset", default="f4", help="a VAE_PRESETS name (f = 2, 4 or 8 downsampling)")
    vae.add_argument("--size", type=_positive, default=32, help="frame height and width")
    vae.add_argument("--clips", type=_positive, default=1_500, help="training clips (8 frames of each)")
    vae.add_argument("--steps", type=_positive, default=2_000)
    vae.add_argument("--gate-clips", type=_positive, default=100, help="held-out clips the judge scores at the end")
    vae.add_argument("--seed", type=int, default=0)
    return parser


def _add_size_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--frames", type=_positive, default=32)
    parser.add_argument("--height", type=_positive, default=64)
    parser.add_argument("--width", type=_positive, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scale", type=_positive, default=4, help="nearest-neighbour upscaling when saving")


def run_demo(args: argparse.Namespace) -> list[pathlib.Path]:
    """Render the demo captions plus a few random scenes; write mp4, gif and captions.txt."""
    args.out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    clips = [render(c, args.frames, args.height, args.width, seed=args.seed + i) for i, c in enumerate(DEMO_CAPTIONS)]
    for i in range(args.random):
        scene = sample_scene(rng, split="all", camera_prob=0.3)
        clips.append(render_scene(scene, args.frames, args.height, args.width, seed=args.seed + 100 + i))
    written, lines = [], []
    for i, clip in enumerate(clips):
        for suffix in (".mp4", ".gif"):
            written.append(save_video(args.out / f"demo_{i:02d}{suffix}", clip.video, fps=FPS, scale=args.scale))
        lines.append(f"demo_{i:02d}: {clip.caption}")
    (args.out / "captions.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"wrote {len(written)} videos to {args.out}")
    return written


def run_train_vae(args: argparse.Namespace) -> pathlib.Path:
    """Train a VAE as lesson 03 does, print the judge's gate, save it with the command and scores."""
    import torch  # the heavy imports only for the commands that train

    from minisora.core import save_checkpoint, seed_everything
    from minisora.models import VAE, VAE_PRESETS
    from minisora.train import clip_frames, clip_videos, gate, train_vae

    if args.preset not in VAE_PRESETS:
        raise ValueError(f"unknown VAE preset {args.preset!r}; choose one of {sorted(VAE_PRESETS)}")
    command = "minisora " + shlex.join(args.argv)
    print(command, flush=True)
    seed_everything(args.seed)
    start = time.perf_counter()
    frames, _ = clip_frames(args.clips, args.size, seed=args.seed)
    vae = VAE(VAE_PRESETS[args.preset])
    print(f"{len(frames)} frames {args.size}x{args.size}; VAE {args.preset}: "
          f"{sum(p.numel() for p in vae.parameters()):,} parameters; {args.steps} steps; torch {torch.__version__}")
    losses = train_vae(vae, frames, args.steps, seed=args.seed, progress=False, log_every=100)
    factor = vae.fit_scaling_factor(frames)
    scores = gate(vae, *clip_videos(args.gate_clips, args.size, seed=123))  # held-out clips: another seed
    print(f"scaling_factor {factor:.4f}; the judge on {args.gate_clips} held-out clips (original -> reconstructed):")
    for attribute, original in scores["original"].items():
        print(f"  {attribute:>10}: {original:.2f} -> {scores['reconstructed'][attribute]:.2f}")
    minutes = (time.perf_counter() - start) / 60
    path = save_checkpoint(args.out, vae, command=command, steps=args.steps, final_loss=sum(losses[-100:]) / 100,
                           gate=scores, minutes=minutes, torch=str(torch.__version__))
    print(f"wrote {path} after {minutes:.1f} min")
    return path


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # recorded in checkpoints
    try:
        if args.command == "demo":
            run_demo(args)
        elif args.command == "render":
            clip = render(args.caption, args.frames, args.height, args.width, seed=args.seed)
            path = save_video(args.out, clip.video, fps=FPS, scale=args.scale)
            print(f"wrote {path}: {clip.caption}")
        elif args.command == "train-vae":
            run_train_vae(args)
    except ValueError as error:
        print(f"minisora {args.command}: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
