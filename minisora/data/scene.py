"""What a Bouncing Shapes scene is made of: the vocabulary, the physical constants, and the spec.

A scene is 1-3 objects on a plain background, optionally filmed by a moving camera.
Every attribute has a closed list of values; the specs below validate themselves, so an
impossible scene (four objects, two red ones, a "purple" shape) never reaches the renderer.

Units. Positions live in *world units* where one unit is the frame's shorter side
(so a 32x32 and a 32x64 video show objects of the same pixel size), x to the right,
y downwards, the floor at y = height/unit. Time is in seconds; `fps` converts frames.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from minisora.core.checks import check_int, check_number

# ---- the vocabulary --------------------------------------------------------------------

COLORS: dict[str, tuple[float, float, float]] = {
    "red": (1.0, 0.0, 0.0),
    "green": (0.0, 1.0, 0.0),
    "blue": (0.0, 0.0, 1.0),
    "yellow": (1.0, 1.0, 0.0),
    "magenta": (1.0, 0.0, 1.0),
    "cyan": (0.0, 1.0, 1.0),
    "white": (1.0, 1.0, 1.0),
    "orange": (1.0, 0.5, 0.0),
}
SHAPES: tuple[str, ...] = ("circle", "square", "triangle")
# Half-extent ("radius") of each size class in world units: the circle's radius,
# the square's half-side, the triangle's half-base (and half-height).
SIZES: dict[str, float] = {"small": 0.12, "large": 0.2}
MOTIONS: tuple[str, ...] = ("still", "left", "right", "up", "down", "bouncing")
BACKGROUNDS: dict[str, tuple[float, float, float]] = {"black": (0.0, 0.0, 0.0), "gray": (0.5, 0.5, 0.5)}
CAMERAS: tuple[str, ...] = ("none", "pan left", "pan right", "zoom in", "zoom out")
MAX_OBJECTS = 3

# ---- the physics -------------------------------------------------------------------------

FPS = 8.0  # default frame rate (metadata; the physics is in seconds)
MAX_CLIP_GIB = 4  # a rendered clip larger than this is refused before any work
REFERENCE_FRAMES = 16  # spawn positions keep objects in view for this many frames at FPS
SPEED = 0.2  # world units per second: slow enough that a large object panned the same way stays in view
GRAVITY = 2.0  # world units per second^2, pulling +y (down)
RESTITUTION = 0.8  # fraction of speed kept at each bounce off the floor
# A pan moves the camera at a third of the object speed. With that ratio every apparent
# horizontal velocity (object speed + camera speed) decomposes uniquely, so the judge can
# tell "a still ball while the camera pans" from "a ball moving" by looking at pixels.
PAN_SPEED = SPEED / 3
ZOOM_RATE = 0.12  # zoom scale = exp(+-ZOOM_RATE * t): x1.27 over the 2-second reference clip


def _check_choice(name: str, value: object, allowed) -> None:
    if value not in allowed:
        raise ValueError(f"unknown {name} {value!r}; allowed: {', '.join(map(repr, allowed))}")


@dataclass(frozen=True)
class ObjectSpec:
    """One object: its color, shape, size class and motion (all from the vocabulary above)."""

    color: str
    shape: str
    size: str = "small"
    motion: str = "still"

    def __post_init__(self) -> None:
        _check_choice("color", self.color, COLORS)
        _check_choice("shape", self.shape, SHAPES)
        _check_choice("size", self.size, SIZES)
        _check_choice("motion", self.motion, MOTIONS)

    @property
    def triple(self) -> tuple[str, str, str]:
        """The (color, shape, motion) triple that hold-out splits are made of."""
        return (self.color, self.shape, self.motion)


@dataclass(frozen=True)
class SceneSpec:
    """A whole scene: 1-3 objects with distinct colors, a background and a camera move."""

    objects: tuple[ObjectSpec, ...]
    background: str = "black"
    camera: str = "none"

    def __post_init__(self) -> None:
        # Accept a list for convenience but store a tuple so specs stay hashable.
        object.__setattr__(self, "objects", tuple(self.objects))
        if not 1 <= len(self.objects) <= MAX_OBJECTS:
            raise ValueError(
                f"a scene has 1 to {MAX_OBJECTS} objects, got {len(self.objects)}; "
                f"split larger scenes into several shots"
            )
        for obj in self.objects:
            if not isinstance(obj, ObjectSpec):
                raise ValueError(f"scene objects must be ObjectSpec, got {type(obj).__name__}")
        colors = [obj.color for obj in self.objects]
        if len(set(colors)) != len(colors):
            raise ValueError(
                f"object colors must be distinct within a scene (the judge finds objects by color), "
                f"got {colors}; pick others from {sorted(COLORS)}"
            )
        _check_choice("background", self.background, BACKGROUNDS)
        _check_choice("camera", self.camera, CAMERAS)


@dataclass(frozen=True)
class Holdout:
    """A set of (color, shape, motion) triples kept out of the training split."""

    triples: frozenset[tuple[str, str, str]] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        object.__setattr__(self, "triples", frozenset(tuple(t) for t in self.triples))
        for color, shape, motion in self.triples:
            ObjectSpec(color, shape, "small", motion)  # validates the names

    def __contains__(self, triple: tuple[str, str, str]) -> bool:
        return tuple(triple) in self.triples

    def touches(self, scene: SceneSpec) -> bool:
        """True if any object of the scene is a held-out triple."""
        return any(obj.triple in self.triples for obj in scene.objects)


# Eight triples, one per color, spread over shapes and motions, never seen in training.
DEFAULT_HOLDOUT = Holdout(
    frozenset(
        {
            ("red", "triangle", "bouncing"),
            ("green", "circle", "left"),
            ("blue", "square", "up"),
            ("yellow", "triangle", "still"),
            ("magenta", "circle", "down"),
            ("cyan", "square", "right"),
            ("white", "triangle", "left"),
            ("orange", "circle", "bouncing"),
        }
    )
)


def check_video_size(num_frames: int, height: int, width: int, fps: float = FPS) -> None:
    """Raise a ValueError unless frames, height, width and fps are positive, finite and fit in memory."""
    for name, value in (("num_frames", num_frames), ("height", height), ("width", width)):
        check_int(value, name, minimum=1)
    if min(height, width) < 8:
        raise ValueError(f"frames must be at least 8x8 pixels to draw a shape, got {height}x{width}")
    # fps sets the physics' time step: inf would freeze every motion, 0 divide by zero.
    check_number(fps, "fps", positive=True)
    gib = num_frames * height * width * 3 * 4 / 2**30  # one float32 clip, (F, 3, H, W)
    if gib > MAX_CLIP_GIB:
        raise ValueError(f"num_frames x height x width = {num_frames} x {height} x {width} is {gib:,.1f} GiB as "
                         f"float32, more than {MAX_CLIP_GIB} GiB; ask for fewer frames or smaller frames")
