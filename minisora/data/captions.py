"""Captions for Bouncing Shapes scenes: the canonical form, free English phrasings, and parsing.

The canonical form (what `render()` parses and every later model accepts)::

    caption    := object ( " and " object )* [ " on a " background " background" ] [ ", the camera " camera ]
    object     := "a " size " " color " " shape " " motion
    size       := "small" | "large"
    color      := "red" | "green" | "blue" | "yellow" | "magenta" | "cyan" | "white" | "orange"
    shape      := "circle" | "square" | "triangle"
    motion     := "staying still" | "moving left" | "moving right" | "moving up" | "moving down" | "bouncing"
    background := "gray" | "black"            (black is the default and is usually left out)
    camera     := "pans left" | "pans right" | "zooms in" | "zooms out"

    e.g. "a small red circle moving left and a large blue square bouncing on a gray background"

Free captions say the same thing in plain English with a few phrasings per attribute, so a
text encoder has to learn language rather than one template. Every word they use:

    sizes      small, little, tiny | large, big
    shapes     circle, ball, disc | square, box, block | triangle
    still      "staying still", "resting", "sitting still", "not moving"
    left       "moving left", "drifting to the left", "sliding left", "heading left"
    right      "moving right", "drifting to the right", "sliding right", "heading right"
    up         "moving up", "rising", "floating upward", "drifting up"
    down       "moving down", "sinking", "drifting down", "sliding down"
    bouncing   "bouncing", "bouncing on the floor", "hopping up and down", "falling and bouncing"
    articles   "a", "one"
    openers    "", "a video of ", "a clip showing ", "there is "
    joiners    " and ", ", " (the last pair always joined by " and ")
    gray       "on a gray background", "against a gray backdrop", "in front of a gray wall"
    black      "" (usually), "on a black background", "in the dark"
    pan left   "the camera pans left", "the camera moves to the left", "the view pans left"
    pan right  "the camera pans right", "the camera moves to the right", "the view pans right"
    zoom in    "the camera zooms in", "the camera moves closer", "the view zooms in"
    zoom out   "the camera zooms out", "the camera pulls back", "the view zooms out"
    camera joiners ", ", " as ", " while "

`caption_vocabulary()` returns this word list, so tests can hold the docstring to the code.
"""

from __future__ import annotations

import re

import numpy as np

from minisora.data.scene import BACKGROUNDS, CAMERAS, COLORS, MOTIONS, SHAPES, SIZES, ObjectSpec, SceneSpec

CANONICAL_MOTION = {
    "still": "staying still",
    "left": "moving left",
    "right": "moving right",
    "up": "moving up",
    "down": "moving down",
    "bouncing": "bouncing",
}
CANONICAL_CAMERA = {"pan left": "pans left", "pan right": "pans right", "zoom in": "zooms in", "zoom out": "zooms out"}

SIZE_WORDS = {"small": ("small", "little", "tiny"), "large": ("large", "big")}
SHAPE_WORDS = {"circle": ("circle", "ball", "disc"), "square": ("square", "box", "block"), "triangle": ("triangle",)}
MOTION_WORDS = {
    "still": ("staying still", "resting", "sitting still", "not moving"),
    "left": ("moving left", "drifting to the left", "sliding left", "heading left"),
    "right": ("moving right", "drifting to the right", "sliding right", "heading right"),
    "up": ("moving up", "rising", "floating upward", "drifting up"),
    "down": ("moving down", "sinking", "drifting down", "sliding down"),
    "bouncing": ("bouncing", "bouncing on the floor", "hopping up and down", "falling and bouncing"),
}
ARTICLES = ("a", "one")
OPENERS = ("", "a video of ", "a clip showing ", "there is ")
BACKGROUND_WORDS = {
    "gray": ("on a gray background", "against a gray backdrop", "in front of a gray wall"),
    # Black is the default: mostly unsaid, sometimes said.
    "black": ("", "", "", "on a black background", "in the dark"),
}
CAMERA_WORDS = {
    "pan left": ("the camera pans left", "the camera moves to the left", "the view pans left"),
    "pan right": ("the camera pans right", "the camera moves to the right", "the view pans right"),
    "zoom in": ("the camera zooms in", "the camera moves closer", "the view zooms in"),
    "zoom out": ("the camera zooms out", "the camera pulls back", "the view zooms out"),
}
CAMERA_JOINERS = (", ", " as ", " while ")

# The canonical form, as the module docstring shows it (tests hold the two equal). A constant of
# its own, not read from __doc__, because `python -OO` strips docstrings and parse errors print it.
GRAMMAR = '''\
    caption    := object ( " and " object )* [ " on a " background " background" ] [ ", the camera " camera ]
    object     := "a " size " " color " " shape " " motion
    size       := "small" | "large"
    color      := "red" | "green" | "blue" | "yellow" | "magenta" | "cyan" | "white" | "orange"
    shape      := "circle" | "square" | "triangle"
    motion     := "staying still" | "moving left" | "moving right" | "moving up" | "moving down" | "bouncing"
    background := "gray" | "black"            (black is the default and is usually left out)
    camera     := "pans left" | "pans right" | "zooms in" | "zooms out"

    e.g. "a small red circle moving left and a large blue square bouncing on a gray background"'''


def canonical_caption(scene: SceneSpec) -> str:
    """The one canonical caption of a scene (parse_caption inverts it exactly)."""
    parts = [f"a {o.size} {o.color} {o.shape} {CANONICAL_MOTION[o.motion]}" for o in scene.objects]
    text = " and ".join(parts)
    if scene.background != "black":
        text += f" on a {scene.background} background"
    if scene.camera != "none":
        text += f", the camera {CANONICAL_CAMERA[scene.camera]}"
    return text


def free_caption(scene: SceneSpec, rng: np.random.Generator) -> str:
    """A plain-English caption of the scene with randomly chosen phrasings."""

    def pick(options):
        return options[int(rng.integers(len(options)))]

    parts = [
        f"{pick(ARTICLES)} {pick(SIZE_WORDS[o.size])} {o.color} "
        f"{pick(SHAPE_WORDS[o.shape])} {pick(MOTION_WORDS[o.motion])}"
        for o in scene.objects
    ]
    text = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    text = pick(OPENERS) + text
    background = pick(BACKGROUND_WORDS[scene.background])
    if background:
        text += " " + background
    if scene.camera != "none":
        text += pick(CAMERA_JOINERS) + pick(CAMERA_WORDS[scene.camera])
    return text


def caption_vocabulary() -> list[str]:
    """Every word a caption (canonical or free) can contain, sorted."""
    phrases = [*COLORS, *CANONICAL_MOTION.values(), *CANONICAL_CAMERA.values(), "the camera on background and"]
    phrases += [*BACKGROUNDS, *ARTICLES, *OPENERS, *CAMERA_JOINERS]
    for table in (SIZE_WORDS, SHAPE_WORDS, MOTION_WORDS, BACKGROUND_WORDS, CAMERA_WORDS):
        for options in table.values():
            phrases += options
    words = set()
    for phrase in phrases:
        words.update(re.findall(r"[a-z]+", phrase))
    return sorted(words)


_OBJECT = re.compile(
    rf"(?:a|an) ({'|'.join(SIZES)}) ({'|'.join(COLORS)}) ({'|'.join(SHAPES)}) "
    rf"({'|'.join(CANONICAL_MOTION.values())})"
)
_MOTION_FROM_WORDS = {v: k for k, v in CANONICAL_MOTION.items()}
_CAMERA_FROM_WORDS = {v: k for k, v in CANONICAL_CAMERA.items()}


def parse_caption(caption: str) -> SceneSpec:
    """Parse a canonical caption into a SceneSpec; a ValueError shows the grammar if it can't."""
    if not isinstance(caption, str):
        raise ValueError(f"a caption must be a string, got {type(caption).__name__}")
    text = " ".join(caption.lower().strip().rstrip(".").split())
    camera = "none"
    match = re.search(r", the camera (pans left|pans right|zooms in|zooms out)$", text)
    if match:
        camera = _CAMERA_FROM_WORDS[match.group(1)]
        text = text[: match.start()]
    background = "black"
    match = re.search(rf" on a ({'|'.join(BACKGROUNDS)}) background$", text)
    if match:
        background = match.group(1)
        text = text[: match.start()]
    objects = []
    for part in text.split(" and "):
        match = _OBJECT.fullmatch(part)
        if match is None:
            raise ValueError(_explain(caption, part))
        size, color, shape, motion = match.groups()
        objects.append(ObjectSpec(color, shape, size, _MOTION_FROM_WORDS[motion]))
    return SceneSpec(tuple(objects), background=background, camera=camera)


def _explain(caption: str, part: str) -> str:
    return (
        f"cannot parse {part!r} in the caption {caption!r}.\n"
        f"Captions must follow the canonical form:\n\n{GRAMMAR}\n\n"
        f"(allowed motions: {', '.join(MOTIONS)}; cameras: {', '.join(CAMERAS)})"
    )
