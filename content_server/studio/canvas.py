"""Slide sizes per screen class and orientation, and the smallest text each class can be read at.

Screens of one class share a reading distance: an outdoor screen is read from across a square,
a lobby screen from a few steps, a kiosk from arm's length. So the smallest text size is a property
of the class; the pixel size comes from the class's default (or the registered screens' own size).
"""

from __future__ import annotations

from dataclasses import dataclass

from schedules.model import Orientation, ScreenClass


@dataclass(frozen=True)
class ClassProfile:
    long_side: int
    short_side: int
    min_text_px: int  # at a short side of 1080 px


CLASS_PROFILES: dict[ScreenClass, ClassProfile] = {
    ScreenClass.OUTDOOR_LARGE: ClassProfile(1920, 1080, 36),
    ScreenClass.INDOOR_SMALL: ClassProfile(1920, 1080, 30),
    ScreenClass.KIOSK: ClassProfile(1920, 1080, 28),
}


@dataclass(frozen=True)
class Canvas:
    screen_class: ScreenClass
    orientation: Orientation
    width: int
    height: int

    @property
    def portrait(self) -> bool:
        return self.orientation == Orientation.PORTRAIT

    @property
    def scale(self) -> float:
        """Design units (drawn for a 1080 px short side) to pixels."""
        return min(self.width, self.height) / 1080

    def px(self, design_units: float) -> int:
        return max(1, round(design_units * self.scale))

    @property
    def min_text(self) -> int:
        return self.px(CLASS_PROFILES[self.screen_class].min_text_px)

    @property
    def key(self) -> str:
        return f"{self.screen_class.value}-{self.orientation.value}-{self.width}x{self.height}"


def canvas_for(
    screen_class: ScreenClass, orientation: Orientation, size: tuple[int, int] | None = None
) -> Canvas:
    """The class's default size in ``orientation``, or ``size`` (e.g. a registered screen's own)."""
    if size is None:
        p = CLASS_PROFILES[screen_class]
        size = (
            (p.short_side, p.long_side)
            if orientation == Orientation.PORTRAIT
            else (p.long_side, p.short_side)
        )
    return Canvas(screen_class, orientation, size[0], size[1])


def canvases(screen_class: ScreenClass) -> tuple[Canvas, Canvas]:
    """Landscape and portrait for one class."""
    return canvas_for(screen_class, Orientation.LANDSCAPE), canvas_for(screen_class, Orientation.PORTRAIT)


# --- shapes: slides for screens that are not 16:9 / 9:16 -------------------------------------------

DEFAULT_SIZES: tuple[tuple[int, int], ...] = ((1920, 1080), (1080, 1920))
MAX_RATIO = 4.0  # long side / short side; a flatter screen gets the 4:1 slide, centred by the player
SAME_SHAPE = 0.03  # screens within 3 % of a shape share its slide (1366×768 plays the 16:9 one)
MAX_SHAPES = 6  # slides per page or design: the two defaults and the four most common other shapes


def shape_size(width: int, height: int) -> tuple[int, int]:
    """The slide size for a screen of ``width``×``height`` (as mounted): its shape at a 1080 px short side.

    Text sizes are designed for a 1080 px short side, so every shape keeps that side and only the long
    one changes (rounded to 8 px). Shapes within :data:`SAME_SHAPE` of 16:9 get exactly 1920×1080.
    """
    long_side, short_side = max(width, height), max(1, min(width, height))
    ratio = min(long_side / short_side, MAX_RATIO)
    near_default = abs(ratio / (16 / 9) - 1) <= SAME_SHAPE
    long_px = 1920 if near_default else max(1080, round(1080 * ratio / 8) * 8)
    return (long_px, 1080) if width >= height else (1080, long_px)


def _same_shape(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return (a[0] >= a[1]) == (b[0] >= b[1]) and abs((a[0] / a[1]) / (b[0] / b[1]) - 1) <= SAME_SHAPE


def render_sizes(screens: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """The slide sizes to draw for the registered ``screens`` (their width×height as mounted).

    Always the two defaults (a screen registered later plays the nearest shape until the slide is
    drawn again), then the other shapes by how many screens have them (ties: the smaller size first),
    at most :data:`MAX_SHAPES` in all. Deterministic: the same screens give the same sizes in the same order.
    """
    counts: dict[tuple[int, int], int] = {}
    for w, h in screens:
        size = shape_size(w, h)
        if any(_same_shape(size, d) for d in DEFAULT_SIZES):
            continue
        match = next((s for s in counts if _same_shape(s, size)), size)
        counts[match] = counts.get(match, 0) + 1
    extra = sorted(counts, key=lambda s: (-counts[s], s))[: MAX_SHAPES - len(DEFAULT_SIZES)]
    return DEFAULT_SIZES + tuple(extra)


def size_key(size: tuple[int, int]) -> str:
    """How a slide of ``size`` is named among its renditions: ``landscape`` and ``portrait`` for the
    default sizes (what older rows hold), ``1440x1080`` for the others."""
    if size in DEFAULT_SIZES:
        return Orientation.LANDSCAPE.value if size[0] > size[1] else Orientation.PORTRAIT.value
    return f"{size[0]}x{size[1]}"


def canvas_of_size(screen_class: ScreenClass, size: tuple[int, int]) -> Canvas:
    orientation = Orientation.LANDSCAPE if size[0] >= size[1] else Orientation.PORTRAIT
    return canvas_for(screen_class, orientation, size)
