"""Block diagrams drawn from a network's config, so a picture in a lesson says what the code builds.

`draw_dit(config)` (lesson 06: patchify, positions, N blocks, final layer) and `draw_adaln_zero_block(dim)`;
`draw_vivit(config)` (lesson 05: the four attention variants side by side); `draw_unet(config)` (lesson 02)
and `draw_vae(config)` (lesson 03). Each returns the matplotlib Figure and sets `figure.diagram_labels`,
the texts it wrote, so tests can check that the picture follows the config.
"""

from minisora.models.diagrams.dit import draw_adaln_zero_block, draw_dit
from minisora.models.diagrams.unet import draw_unet
from minisora.models.diagrams.vae import draw_vae
from minisora.models.diagrams.vivit import draw_vivit

__all__ = ["draw_adaln_zero_block", "draw_dit", "draw_unet", "draw_vae", "draw_vivit"]
