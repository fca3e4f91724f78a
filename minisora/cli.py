"""The `minisora` command line: it parses arguments and calls the package, nothing more.

    minisora demo --out outputs/demo      render a few captioned Bouncing Shapes videos
    minisora render "a small red circle moving left" --out red.mp4

(`train` and `generate` join when the text-to-video model lands, lesson 09.)
"""

from __future__ import annotations

import argparse
import pathlib
import sys

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
    parser = argparse.ArgumentParser(prog="minisora", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="render a few captioned Bouncing Shapes videos (mp4 + gif)")
    demo.add_argument("--out", type=pathlib.Path, default=pathlib.Path("outputs/demo"))
    demo.add_argument("--random", type=_positive, default=4, help="how many random scenes to add")
    _add_size_arguments(demo)

    one = commands.add_parser("render", help="render one canonical caption to a video file")
    one.add_argument("caption", help='e.g. "a small red circle moving left on a gray background"')
    one.add_argument("--out", type=pathlib.Path, required=True, help="a .mp4 or .gif path")
    _add_size_arguments(one)
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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "demo":
            run_demo(args)
        elif args.command == "render":
            clip = render(args.caption, args.frames, args.height, args.width, seed=args.seed)
            path = save_video(args.out, clip.video, fps=FPS, scale=args.scale)
            print(f"wrote {path}: {clip.caption}")
    except ValueError as error:
        print(f"minisora {args.command}: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
