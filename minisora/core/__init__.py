"""The bottom layer: switches, device, seeding, argument checks, pixel ranges, video display and I/O,
checkpoints, progress bars, FLOP and memory counting (imports nothing of ours)."""

from minisora.core.checkpoint import atomic_save, data_file, load_model, read_checkpoint, save_checkpoint
from minisora.core.flops import count_flops
from minisora.core.memory import saved_tensor_bytes
from minisora.core.pixels import off_background, to_model_range, to_pixel_range
from minisora.core.progress import progress_bar
from minisora.core.registry import register_network, registered_networks
from minisora.core.switches import FAST, fast_mode_from_env, get_device, seed_everything
from minisora.core.video import frame_strip, read_video, save_video, show_video

__all__ = [
    "FAST",
    "atomic_save",
    "load_model",
    "register_network",
    "registered_networks",
    "count_flops",
    "data_file",
    "read_checkpoint",
    "save_checkpoint",
    "saved_tensor_bytes",
    "fast_mode_from_env",
    "get_device",
    "seed_everything",
    "frame_strip",
    "read_video",
    "save_video",
    "show_video",
    "off_background",
    "to_model_range",
    "to_pixel_range",
    "progress_bar",
]
