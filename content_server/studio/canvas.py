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
