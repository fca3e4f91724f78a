"""The bottom layer: switches, device, seeding, and video display and I/O (imports nothing of ours)."""

from minisora.core.switches import FAST, fast_mode_from_env, get_device, seed_everything
from minisora.core.video import frame_strip, read_video, save_video, show_video

__all__ = [
    "FAST",
    "fast_mode_from_env",
    "get_device",
    "seed_everything",
    "frame_strip",
    "read_video",
    "save_video",
    "show_video",
]
