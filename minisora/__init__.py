"""minisora: Sora's recipe rebuilt from first principles, one lesson at a time.

The package grows with the course (see README): `core` (switches, device, video),
`data` (the Bouncing Shapes world), `eval` (the judge), and later the networks,
the diffusion process and the text-to-video pipeline.
"""

from minisora.core import FAST, get_device, seed_everything

__version__ = "0.1.0"

__all__ = ["FAST", "get_device", "seed_everything", "__version__"]
