"""The `minisora` command line: it parses arguments and calls the package, nothing more.

    minisora demo --out outputs/demo      render a few captioned Bouncing Shapes videos
    minisora render "a small red circle moving left" --out red.mp4
    minisora train RECIPE --out DIR [--steps N] [--resume] [--set key=value ...] [--device cpu|cuda]
    minisora train --list                 the recipes (dit, vae, video-vae, text-encoder; later t2v)
    minisora export DIR --out data/video_vae_f4t2.pt   a run's network (its EMA) as one small model file
    minisora train-vae --out data/vae_f4_32px.pt   the `vae` recipe, saved as one model file (what data/ ships)
    minisora generate "a small red circle moving left" --out red.mp4   text to video with the shipped model
    minisora evaluate --prompts 300 --out scores.json   the judge's table of a text-to-video model
    minisora colab-links --repo you/minisora   point the notebooks' Colab badges and setup cells at a fork

`python -m minisora` is the same command; under `torchrun --nproc_per_node=N -m minisora train ...`
each process trains one data-parallel rank.
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

# What `minisora demo --generate` asks the shipped text-to-video model for (the README's strip): one object
# each (the goal the model is judged on), every motion, both backgrounds, a free phrasing and a camera move.
DEMO_PROMPTS = (
    "a large red circle moving right",
    "a small yellow square bouncing on a gray background",
    "a large blue triangle moving up",
    "there is a big green ball drifting to the left",
    "a large white square moving down on a gray background",
    "a large magenta circle staying still, the camera pans left",
)
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
    parser = argparse.ArgumentParser(prog="minisora",
                                     description=(__doc__ or "The minisora command line.").split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="render a few captioned Bouncing Shapes videos (mp4 + gif)")
    demo.add_argument("--out", type=pathlib.Path, default=pathlib.Path("outputs/demo"))
    demo.add_argument("--random", type=_positive, default=4, help="how many random scenes to add")
    demo.add_argument("--generate", action="store_true",
                      help="also generate the demo prompts with the shipped text-to-video model (data/t2v.pt)")
    demo.add_argument("--strip", type=pathlib.Path,
                      help="with --generate: write a PNG of the generated videos' frames beside their prompts here")
    _add_size_arguments(demo)

    one = commands.add_parser("render", help="render one canonical caption to a video file")
    one.add_argument("caption", help='e.g. "a small red circle moving left on a gray background"')
    one.add_argument("--out", type=pathlib.Path, required=True, help="a .mp4 or .gif path")
    _add_size_arguments(one)

    train = commands.add_parser("train",
                                help="train a recipe (minisora train --list) into a folder; --resume continues it")
    train.add_argument("recipe", nargs="?", help="a recipe name, e.g. dit or vae")
    train.add_argument("--list", action="store_true", help="name the recipes and their settings, then exit")
    train.add_argument("--out", type=pathlib.Path, help="the run's folder: log.csv and last.pt go there")
    train.add_argument("--steps", type=_positive, help="optimizer steps in all (a resumed run goes on up to this)")
    train.add_argument("--resume", action="store_true", help="continue the run saved in --out")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="settings",
                       help="change a recipe or TrainConfig setting, e.g. --set lr=3e-4 (repeatable)")
    train.add_argument("--device", help="cpu or cuda (default: cuda when there is one)")
    train.add_argument("--no-progress", action="store_true", help="no tqdm bar (log.csv still has every step)")

    export = commands.add_parser("export", help="a run's network (the EMA when kept) as one model file, as data/ ships")
    export.add_argument("run", type=pathlib.Path, help="a `minisora train` --out folder, or its last.pt")
    export.add_argument("--out", type=pathlib.Path, required=True, help="the model file to write, e.g. data/x.pt")
    export.add_argument("--raw", action="store_true", help="the raw weights instead of the EMA")
    export.add_argument("--force", action="store_true", help="replace --out if it exists")
    export.add_argument("--half", action="store_true", help="store the weights as float16 (half the file)")

    generate = commands.add_parser("generate", help="a video from a text prompt (the shipped model or --checkpoint)")
    generate.add_argument("prompt", help='e.g. "a small red circle moving left on a gray background"')
    generate.add_argument("--out", type=pathlib.Path, required=True, help="a .mp4 or .gif path")
    generate.add_argument("--checkpoint", type=pathlib.Path, help="a t2v model file or run folder (data/t2v.pt)")
    generate.add_argument("--frames", type=_positive, help="frames (default: the model's trained count)")
    generate.add_argument("--height", type=_positive, help="pixels (default: the model's trained size)")
    generate.add_argument("--width", type=_positive, help="pixels (default: the model's trained size)")
    generate.add_argument("--steps", type=_positive, default=25, help="sampling steps")
    generate.add_argument("--guidance", type=float, help="classifier-free guidance scale (1 = none; default: the "
                                                         "pipeline's)")
    generate.add_argument("--eta", type=float, help="fresh noise per sampling step, DDIM's eta: 0 = the deterministic "
                                                    "sampler, 1 = DDPM's noise (default: the pipeline's)")
    generate.add_argument("--seed", type=int, default=0)
    generate.add_argument("--scale", type=_positive, default=4, help="nearest-neighbour upscaling when saving")
    generate.add_argument("--device", help="cpu or cuda (default: cuda when there is one)")
    generate.add_argument("--no-progress", action="store_true", help="no progress bar")

    evaluate = commands.add_parser("evaluate", help="the judge's table of a t2v model over seen and held-out prompts")
    evaluate.add_argument("--checkpoint", type=pathlib.Path, help="a t2v model file or run folder (data/t2v.pt)")
    evaluate.add_argument("--prompts", type=_positive, default=300, help="an even number: half seen, half held-out")
    evaluate.add_argument("--steps", type=_positive, default=25, help="sampling steps")
    evaluate.add_argument("--guidance", type=float, help="classifier-free guidance scale (default: the pipeline's)")
    evaluate.add_argument("--eta", type=float, help="fresh noise per sampling step, DDIM's eta, 0 to 1 (default: "
                                                    "the pipeline's)")
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.add_argument("--out", type=pathlib.Path, help="a .json file for the table and the settings")
    evaluate.add_argument("--device", help="cpu or cuda (default: cuda when there is one)")

    links = commands.add_parser("colab-links", help="point every notebook's Colab badge and setup cell at a fork")
    links.add_argument("--repo", required=True, help="your GitHub owner/name, e.g. you/minisora")
    links.add_argument("--root", type=pathlib.Path, default=pathlib.Path("."), help="the repository's folder")

    vae = commands.add_parser("train-vae",
                              help="the vae recipe under its old name: train lesson 03's VAE, save one file")
    vae.add_argument("--out", type=pathlib.Path, required=True,
                     help="the checkpoint to write, e.g. data/vae_f4_32px.pt")
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
    if args.generate:
        written += run_demo_generate(args)
    elif args.strip is not None:
        raise ValueError("--strip draws the generated videos: pass --generate too")
    print(f"wrote {len(written)} videos to {args.out}" + (f" and {args.strip}" if args.strip else ""))
    return written


def run_demo_generate(args: argparse.Namespace) -> list[pathlib.Path]:
    """The demo prompts through the shipped text-to-video model: a gif each, prompts.txt, and optionally a strip."""
    from minisora.pipeline import TextToVideoPipeline

    if args.strip is not None:
        _check_out_file(args.strip, (".png",))
    pipe = TextToVideoPipeline.from_pretrained()
    videos = pipe(list(DEMO_PROMPTS), num_inference_steps=25, seed=args.seed)  # (B, F, 3, H, W)
    written = [save_video(args.out / f"generated_{i:02d}.gif", video, fps=pipe.fps, scale=args.scale)
               for i, video in enumerate(videos)]
    lines = [f"generated_{i:02d}: {prompt}" for i, prompt in enumerate(DEMO_PROMPTS)]
    (args.out / "prompts.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    if args.strip is not None:
        draw_strip(videos, DEMO_PROMPTS, args.strip, f"minisora generate, seed {args.seed}, 25 steps")
    return written


def draw_strip(videos, prompts, path: pathlib.Path, title: str) -> pathlib.Path:
    """One row per video: its prompt, then 8 of its frames (a PNG GitHub shows)."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    from minisora.core import frame_strip

    rows = [frame_strip(video, max_frames=8, scale=2) for video in videos]
    figure, axes = plt.subplots(len(rows), 1, figsize=(9, 1.05 * len(rows)), squeeze=False)
    for axis, strip, prompt in zip(axes[:, 0], rows, prompts):
        axis.imshow(strip)
        axis.set_xticks([])
        axis.set_yticks([])
        axis.set_title(f'"{prompt}"', fontsize=9, loc="left")
    figure.suptitle(title, fontsize=8, x=0.99, ha="right")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def parse_settings(settings: list[str]) -> dict[str, str]:
    """`["lr=3e-4", "preset=S/2"]` -> {"lr": "3e-4", "preset": "S/2"}; a ValueError naming a malformed one."""
    parsed = {}
    for item in settings:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set {item!r} is not KEY=VALUE; write e.g. --set lr=3e-4")
        if key.strip() in parsed:
            raise ValueError(f"--set {key.strip()} is given twice; keep one")
        parsed[key.strip()] = value.strip()
    return parsed


def run_train(args: argparse.Namespace) -> None:
    """`minisora train`: list the recipes, or train one into --out."""
    from minisora.train import recipes
    from minisora.train.run import train_recipe

    if args.list:
        for name, recipe in sorted(recipes.RECIPES.items()):
            print(f"{name:<14}{recipe.summary}")
            print(f"{'':<14}settings: {', '.join(sorted(recipes.option_types(recipe)))}")
        return
    if args.recipe is None:
        raise ValueError(f"name a recipe ({', '.join(sorted(recipes.RECIPES))}) or pass --list")
    if args.out is None:
        raise ValueError("--out DIR is required: the folder for log.csv and last.pt")
    train_recipe(args.recipe, args.out, steps=args.steps, resume=args.resume, overrides=parse_settings(args.settings),
                 device=args.device, progress=not args.no_progress, command="minisora " + shlex.join(args.argv))


def run_export(args: argparse.Namespace) -> pathlib.Path:
    """`minisora export`: the run's network and metadata as one model file."""
    from minisora.core import read_checkpoint
    from minisora.train.export import export_model

    path = export_model(args.run, args.out, ema=False if args.raw else None, force=args.force, half=args.half,
                        command="minisora " + shlex.join(args.argv))
    size = path.stat().st_size / 2**20
    meta = read_checkpoint(path)["metadata"]
    print(f"wrote {path} ({size:.2f} MB): the {meta['weights']} weights of {meta.get('recipe', 'a run')} "
          f"at step {meta.get('step', '?')}")
    return path


def _check_out_file(path: pathlib.Path, suffixes: tuple[str, ...]) -> None:
    """A ValueError naming the fix when `path` cannot be written: a wrong suffix, a folder, an unmakeable parent."""
    if path.suffix.lower() not in suffixes:
        raise ValueError(f"--out {path}: the file must end in {' or '.join(suffixes)}")
    if path.is_dir():
        raise ValueError(f"--out {path} is a folder; pass a file name such as {path / ('video' + suffixes[0])}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(f"--out {path}: cannot create {path.parent} ({error.strerror}); "
                         "choose a folder you can write to") from error
    import os

    if not os.access(path.parent, os.W_OK):
        raise ValueError(f"--out {path}: {path.parent} is not writable; choose a folder you can write to")


def _pipeline(args: argparse.Namespace):
    from minisora.core import get_device
    from minisora.pipeline import TextToVideoPipeline

    return TextToVideoPipeline.from_pretrained(args.checkpoint, device=get_device(args.device))


def run_generate(args: argparse.Namespace) -> pathlib.Path:
    """`minisora generate`: one prompt -> one video file, with a progress bar over the sampling steps."""
    _check_out_file(args.out, (".mp4", ".gif"))
    pipe = _pipeline(args)
    extra = {} if args.guidance is None else {"guidance_scale": args.guidance}
    if args.eta is not None:
        extra["eta"] = args.eta
    start = time.perf_counter()
    video = pipe(args.prompt, num_frames=args.frames, height=args.height, width=args.width,
                 num_inference_steps=args.steps, seed=args.seed, progress=not args.no_progress, **extra)
    path = save_video(args.out, video, fps=pipe.fps, scale=args.scale)
    print(f"wrote {path}: {video.shape[0]} frames of {video.shape[2]}x{video.shape[3]} for {args.prompt!r} "
          f"(seed {args.seed}, {args.steps} steps, {time.perf_counter() - start:.1f} s)")
    return path


def run_evaluate(args: argparse.Namespace) -> dict:
    """`minisora evaluate`: the judge's table over a prompt suite, printed and optionally written as JSON."""
    import json

    from minisora.pipeline import evaluate_pipeline, format_table, prompt_suite, score_table
    from minisora.pipeline.evaluate import as_json
    from minisora.pipeline.text_to_video import DEFAULT_ETA, DEFAULT_GUIDANCE

    if args.out is not None:
        _check_out_file(args.out, (".json",))
    if args.prompts % 2:
        raise ValueError(f"--prompts {args.prompts}: pass an even number (half seen, half held-out)")
    pipe = _pipeline(args)
    start = time.perf_counter()
    records = evaluate_pipeline(pipe, prompt_suite(args.prompts), num_inference_steps=args.steps,
                                guidance_scale=args.guidance, seed=args.seed, progress=True,
                                eta=args.eta)
    seconds = time.perf_counter() - start
    rows = score_table(records)
    print(format_table(rows))
    print(f"{len(records)} videos in {seconds:.0f} s ({seconds / len(records):.2f} s per video, generation and "
          "judging)")
    result = {"command": "minisora " + shlex.join(args.argv), "checkpoint": str(args.checkpoint or "data/t2v.pt"),
              # The settings used, the pipeline's defaults filled in, so a test can generate the same videos.
              "steps": args.steps, "guidance": DEFAULT_GUIDANCE if args.guidance is None else args.guidance,
              "eta": DEFAULT_ETA if args.eta is None else args.eta, "seed": args.seed,
              "prompts": args.prompts,
              "seconds": seconds, "rows": as_json(rows),
              # Every verdict, so a test can generate some of the same videos again and compare.
              "records": [{"prompt": r["prompt"].prompt, "spec": r["prompt"].spec, "split": r["prompt"].split,
                           "match": r["match"], "failures": [k for k, ok in r["checks"].items() if not ok]}
                          for r in records]}
    if args.out is not None:
        args.out.write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {args.out}")
    return result


def run_train_vae(args: argparse.Namespace) -> pathlib.Path:
    """The `vae` recipe (lesson 03's VAE and its gate), saved as one model file with the command and scores."""
    import tempfile

    import torch  # the heavy imports only for the commands that train

    from minisora.core import save_checkpoint
    from minisora.train.run import train_recipe

    command = "minisora " + shlex.join(args.argv)
    print(command, flush=True)
    start = time.perf_counter()
    settings = {"preset": args.preset, "size": str(args.size), "clips": str(args.clips),
                "gate_clips": str(args.gate_clips), "seed": str(args.seed), "data_seed": str(args.seed),
                "log_every": "100"}
    with tempfile.TemporaryDirectory(prefix="minisora-train-vae-") as run_dir:
        trainer = train_recipe("vae", run_dir, steps=args.steps, overrides=settings, progress=False, command=command,
                               fast=False)
    meta = trainer.metadata
    minutes = (time.perf_counter() - start) / 60
    path = save_checkpoint(args.out, trainer.model, command=command, steps=trainer.step, final_loss=meta["final_loss"],
                           final_loss_steps=meta["final_loss_steps"], gate=meta["gate"], minutes=minutes,
                           torch=str(torch.__version__))
    print(f"wrote {path} after {minutes:.1f} min")
    return path


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # recorded in checkpoints
    try:
        if args.command == "demo":
            run_demo(args)
        elif args.command == "render":
            _check_out_file(args.out, (".mp4", ".gif"))
            clip = render(args.caption, args.frames, args.height, args.width, seed=args.seed)
            path = save_video(args.out, clip.video, fps=FPS, scale=args.scale)
            print(f"wrote {path}: {clip.caption}")
        elif args.command == "train":
            run_train(args)
        elif args.command == "export":
            run_export(args)
        elif args.command == "train-vae":
            run_train_vae(args)
        elif args.command == "generate":
            run_generate(args)
        elif args.command == "evaluate":
            run_evaluate(args)
        elif args.command == "colab-links":
            from minisora.core.course import point_links_at

            changed = point_links_at(args.root, args.repo)
            print(f"pointed {len(changed)} files at https://github.com/{args.repo}")
    except ValueError as error:
        print(f"minisora {args.command}: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # a missing input, or a path the system refused (read-only, virtual, full)
        if error.filename is not None or not isinstance(error.errno, int):
            print(f"minisora {args.command}: {error}", file=sys.stderr)
        else:  # PyAV's and some others' errors name no file: name the output the command was writing
            where = getattr(args, "out", None) or "the output"
            print(f"minisora {args.command}: cannot write {where} ({error.strerror}); "
                  "choose a path you can write to", file=sys.stderr)
        return 2
    except RuntimeError as error:
        from minisora.train import NonFiniteLossError

        if not isinstance(error, NonFiniteLossError):
            raise
        print(f"minisora {args.command}: {error}", file=sys.stderr)  # the step and the last good checkpoint
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
