"""Tests for minisora.core.video: save/read round trips, input checks, frame strips, notebook display."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from minisora.core.video import _to_uint8_fhwc, frame_strip, read_video, save_video, show_video


def moving_square(num_frames: int = 16, height: int = 32, width: int = 32) -> torch.Tensor:
    """A bright square sliding right over a smooth dark gradient: (F, 3, H, W) in [0, 1]."""
    video = torch.zeros(num_frames, 3, height, width)
    ramp = torch.linspace(0.0, 0.3, width)
    video[:, 2] = ramp  # a blue gradient background, smooth so H.264 codes it well
    for f in range(num_frames):
        x = f % (width - 8)
        video[f, :, 8:16, x : x + 8] = torch.tensor([1.0, 0.9, 0.2])[:, None, None]
    return video


def palette_clip(num_frames: int = 6) -> torch.Tensor:
    """Pure black/white/red/green squares: colours a GIF palette keeps exactly."""
    video = torch.zeros(num_frames, 3, 16, 16)
    for f in range(num_frames):
        video[f, :, f : f + 4, 0:4] = 1.0  # white square moving down
        video[f, 0, 8:12, f : f + 4] = 1.0  # red square moving right
        video[f, 1, 12:16, 12:16] = 1.0  # static green corner
    return video


# ----- round trips ---------------------------------------------------------------------------


def test_mp4_round_trip(tmp_path):
    video = moving_square()
    path = save_video(tmp_path / "clip.mp4", video, fps=8)
    assert path == tmp_path / "clip.mp4" and path.is_file()
    back, fps = read_video(path)
    assert back.shape == (16, 3, 32, 32)
    assert back.dtype == torch.float32
    assert fps == pytest.approx(8.0)
    # H.264 (and yuv420p's half-resolution colour) is lossy, so only close, not equal.
    assert (back - video).abs().mean().item() < 0.05


def test_gif_round_trip(tmp_path):
    video = palette_clip()
    back, fps = read_video(save_video(tmp_path / "clip.gif", video, fps=8))
    assert back.shape == video.shape
    assert torch.equal(back, video)  # these few pure colours survive the 8-bit palette exactly
    # GIF stores frame durations in whole centiseconds: 125 ms becomes 120 ms, i.e. 8.33 fps.
    assert fps == pytest.approx(8.0, rel=0.1)


def test_save_creates_parent_dirs_and_scales(tmp_path):
    path = save_video(tmp_path / "a" / "b" / "clip.mp4", palette_clip(), scale=3)
    back, _ = read_video(path)
    assert back.shape == (6, 3, 48, 48)


def test_odd_size_is_padded_to_even_for_mp4(tmp_path):
    video = torch.rand(4, 3, 15, 17)
    back, _ = read_video(save_video(tmp_path / "odd.mp4", video))
    assert back.shape == (4, 3, 16, 18)  # H.264 yuv420p needs even sizes; the last row/column is repeated
    back, _ = read_video(save_video(tmp_path / "odd.gif", video))
    assert back.shape == (4, 3, 15, 17)  # GIF keeps the exact size


def test_gray_video_and_numpy_input(tmp_path):
    gray = np.tile(np.linspace(0, 1, 16, dtype=np.float32), (3, 1, 16, 1))  # (F=3, C=1, H=16, W=16)
    gray[1] = 1.0 - gray[1]  # frames must differ, see the next test
    back, _ = read_video(save_video(tmp_path / "gray.gif", gray))
    assert back.shape == (3, 3, 16, 16)
    assert torch.equal(back[:, 0], back[:, 1]) and torch.equal(back[:, 1], back[:, 2])


def test_gif_merges_identical_consecutive_frames(tmp_path):
    """Pillow stores a run of identical frames as one longer frame (playback timing is kept)."""
    video = palette_clip(4)
    video = torch.cat([video[:1], video[:1], video[:1], video[1:]])  # frame 0 three times, then 1..3
    back, _ = read_video(save_video(tmp_path / "still.gif", video))
    assert back.shape[0] == 4
    back, _ = read_video(save_video(tmp_path / "still.mp4", video))
    assert back.shape[0] == 6  # mp4 keeps every frame


def test_values_slightly_outside_unit_range_are_clipped():
    video = torch.full((2, 3, 4, 4), 1.08)  # a sample's overshoot
    video[0] = -0.07
    frames = _to_uint8_fhwc(video)
    assert frames.shape == (2, 4, 4, 3) and frames.dtype == np.uint8
    assert frames[0].max() == 0 and frames[1].min() == 255


@pytest.mark.parametrize("values, fix", [
    ((-1.0, 1.0), r"\(video \+ 1\) / 2"),  # a model's output, not converted: its black background would be lost
    ((0.0, 255.0), r"video / 255"),  # bytes as floats: everything would read back white
    ((-3.0, 40.0), r"rescale it into \[0, 1\]"),
    ((0.0, 1.3), r"rescale it into \[0, 1\]"),  # overshoot beyond clipping: neither conversion fits
])
def test_values_far_outside_unit_range_are_refused_with_the_fix(tmp_path, values, fix):
    video = moving_square().clone()
    video[0], video[1] = values
    with pytest.raises(ValueError, match=r"must be in \[0, 1\].*got \[.*\]; .*" + fix):
        save_video(tmp_path / "clip.mp4", video)
    assert not (tmp_path / "clip.mp4").exists()


def test_read_video_max_frames(tmp_path):
    path = save_video(tmp_path / "clip.mp4", moving_square())
    back, _ = read_video(path, max_frames=5)
    assert back.shape == (5, 3, 32, 32)


# ----- errors --------------------------------------------------------------------------------


def test_channels_first_video_gets_permute_hint():
    with pytest.raises(ValueError, match=r"got \(3, 16, 32, 32\).*permute\(1, 0, 2, 3\)"):
        _to_uint8_fhwc(torch.rand(3, 16, 32, 32))


@pytest.mark.parametrize(
    "video, pattern",
    [
        (torch.rand(3, 32, 32), r"\(F, C, H, W\).*got \(3, 32, 32\).*frame\[None\]"),
        (torch.rand(2, 8, 3, 32, 32), r"got \(2, 8, 3, 32, 32\).*video\[0\]"),
        (torch.rand(8, 4, 32, 32), r"C in \{1, 3\}, got \(8, 4, 32, 32\)"),
        (torch.full((2, 3, 4, 4), float("nan")), r"NaN"),
        (np.zeros((2, 3, 4, 4), dtype=np.uint8), r"dtype uint8.*/ 255"),
    ],
)
def test_bad_videos_raise_helpful_errors(tmp_path, video, pattern):
    with pytest.raises(ValueError, match=pattern):
        save_video(tmp_path / "bad.mp4", video)


def test_unknown_suffix_raises(tmp_path):
    with pytest.raises(ValueError, match=r"'\.avi' is not one of \('\.mp4', '\.gif'\)"):
        save_video(tmp_path / "clip.avi", palette_clip())


@pytest.mark.parametrize("kwargs, pattern", [({"scale": 0}, "scale"), ({"scale": 1.5}, "scale"), ({"fps": 0}, "fps")])
def test_bad_scale_or_fps_raises(tmp_path, kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        save_video(tmp_path / "clip.gif", palette_clip(), **kwargs)


def test_bad_max_frames_raises(tmp_path):
    path = save_video(tmp_path / "clip.gif", palette_clip())
    with pytest.raises(ValueError, match="max_frames must be a positive int"):
        read_video(path, max_frames=0)


def test_missing_file_raises_file_not_found(tmp_path):
    missing = tmp_path / "nope.mp4"
    with pytest.raises(FileNotFoundError, match="nope.mp4"):
        read_video(missing)


# ----- frame strip ---------------------------------------------------------------------------


def test_frame_strip_shape_arithmetic():
    video = torch.rand(16, 3, 10, 12)
    strip = frame_strip(video, max_frames=8, scale=2, gap=1)
    assert strip.shape == (20, 8 * 24 + 7 * 1, 3) and strip.dtype == np.uint8
    assert (strip[:, 24] == 255).all()  # the white separator after the first frame
    # Fewer frames than max_frames: all of them, no gap when gap=0.
    assert frame_strip(video[:3], max_frames=8, scale=1, gap=0).shape == (10, 36, 3)


def test_frame_strip_picks_first_and_last_frame():
    video = torch.zeros(10, 1, 2, 2)
    for f in range(10):
        video[f] = f / 9
    strip = frame_strip(video, max_frames=4, scale=1, gap=0)
    values = strip[0, ::2, 0]  # one pixel per picked frame
    assert values[0] == 0 and values[-1] == 255  # linspace includes both ends
    assert len(values) == 4


@pytest.mark.parametrize("frames, max_frames, scale, gap", [(16, 8, 2, 1), (3, 8, 1, 0), (5, 4, 3, 4), (1, 8, 2, 2)])
def test_frame_strip_is_the_hand_written_strip(frames, max_frames, scale, gap):
    # The strip is laid out by torchvision's make_grid now; it must be the picture we drew by hand before.
    video = torch.rand(frames, 1 if frames == 5 else 3, 6, 7)
    tiles = _to_uint8_fhwc(video)  # (F, H, W, 3)
    picks = np.linspace(0, frames - 1, min(max_frames, frames)).round().astype(int)
    tiles = tiles[picks].repeat(scale, axis=1).repeat(scale, axis=2)
    white = np.full((6 * scale, gap, 3), 255, dtype=np.uint8)
    pieces = [piece for tile in tiles for piece in (white, tile)][1:]  # white between tiles, not around
    assert np.array_equal(frame_strip(video, max_frames=max_frames, scale=scale, gap=gap),
                          np.concatenate(pieces, axis=1))


# ----- notebook display ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def ipython_shell(tmp_path_factory):
    """An in-process IPython shell, so display() publishes rich outputs instead of printing reprs."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    saved = os.environ.get("IPYTHONDIR")
    os.environ["IPYTHONDIR"] = str(tmp_path_factory.mktemp("ipython"))  # keep ~/.ipython untouched
    config = Config()
    config.HistoryManager.hist_file = ":memory:"  # no history database on disk
    yield InteractiveShell.instance(config=config)
    InteractiveShell.clear_instance()
    if saved is None:
        os.environ.pop("IPYTHONDIR", None)
    else:
        os.environ["IPYTHONDIR"] = saved


def test_show_video_emits_html_video_and_png_strip(ipython_shell):
    from IPython.utils.capture import capture_output

    with capture_output() as captured:
        result = show_video(moving_square(8), fps=8, caption="a <square>")
    assert result is None
    html = [out.data["text/html"] for out in captured.outputs if "text/html" in out.data]
    pngs = [out for out in captured.outputs if "image/png" in out.data]
    assert len(html) == 1 and "<video" in html[0] and "data:video/mp4;base64," in html[0]
    assert "a &lt;square&gt;" in html[0] and "<script" not in html[0]
    assert len(pngs) == 1


def test_show_video_list_with_captions(ipython_shell):
    from IPython.utils.capture import capture_output

    clips = [moving_square(4), palette_clip(6)]
    with capture_output() as captured:
        show_video(clips, caption=["first", "second"], scale=1)
    html = next(out.data["text/html"] for out in captured.outputs if "text/html" in out.data)
    assert html.count("<video") == 2 and "first" in html and "second" in html
    with pytest.raises(ValueError, match="2 captions for 1 videos|1 captions for 2 videos"):
        show_video(clips, caption=["only one"])
