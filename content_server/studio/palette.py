"""Colour palettes for designed templates; every text/background pair meets WCAG 2.x AA (4.5:1).

Authors pick a palette by name, never free colours, so no combination they can make is hard
to read on a sunlit outdoor screen. :func:`contrast_ratio` is the WCAG formula; a test checks every
pair of every palette with it.
"""

from __future__ import annotations

from dataclasses import dataclass

RGB = tuple[int, int, int]

MIN_CONTRAST = 4.5  # WCAG 2.x AA for normal-size text; large text would need only 3.0


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def relative_luminance(colour: RGB) -> float:
    r, g, b = (_channel(v) for v in colour)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: RGB, b: RGB) -> float:
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def mix(a: RGB, b: RGB, t: float) -> RGB:
    """``a`` moved towards ``b`` by ``t`` (0..1): tints for decoration, never for text."""
    return (
        round(a[0] + (b[0] - a[0]) * t),
        round(a[1] + (b[1] - a[1]) * t),
        round(a[2] + (b[2] - a[2]) * t),
    )


@dataclass(frozen=True)
class Palette:
    key: str
    name_zh: str
    name_en: str
    background: RGB  # the slide
    surface: RGB  # cards on the slide
    ink: RGB  # main text, on background and surface
    soft_ink: RGB  # secondary text, on background and surface
    accent: RGB  # header band, badges
    on_accent: RGB  # text on the accent
    highlight: RGB  # emphasised text (prices, dates) on background and surface

    def text_pairs(self) -> dict[str, tuple[RGB, RGB]]:
        """Every (text colour, ground colour) pair a design may draw."""
        return {
            "ink/background": (self.ink, self.background),
            "ink/surface": (self.ink, self.surface),
            "soft_ink/background": (self.soft_ink, self.background),
            "soft_ink/surface": (self.soft_ink, self.surface),
            "on_accent/accent": (self.on_accent, self.accent),
            "highlight/background": (self.highlight, self.background),
            "highlight/surface": (self.highlight, self.surface),
            "ink/chip": (self.ink, self.chip),
        }

    def problems(self, minimum: float = MIN_CONTRAST) -> dict[str, float]:
        """Pairs under ``minimum``, with their ratios: empty for a usable palette."""
        out: dict[str, float] = {}
        for name, (fg, bg) in self.text_pairs().items():
            ratio = contrast_ratio(fg, bg)
            if ratio < minimum:
                out[name] = round(ratio, 2)
        return out

    @property
    def chip(self) -> RGB:
        """Label pills: the accent faded into the background, strong enough to be seen as a shape."""
        return mix(self.background, self.accent, 0.2)

    @property
    def tint(self) -> RGB:
        """The accent faded into the background: decoration only."""
        return mix(self.background, self.accent, 0.12)


WHITE: RGB = (255, 255, 255)

PALETTES: dict[str, Palette] = {
    p.key: p
    for p in (
        Palette(
            "civic_blue",
            "政务蓝",
            "Civic blue",
            (239, 244, 249),
            WHITE,
            (15, 30, 48),
            (62, 78, 99),
            (13, 71, 135),
            WHITE,
            (13, 71, 135),
        ),
        Palette(
            "festive_red",
            "喜庆红",
            "Festive red",
            (252, 244, 237),
            WHITE,
            (46, 20, 16),
            (106, 58, 48),
            (176, 30, 38),
            WHITE,
            (168, 26, 34),
        ),
        Palette(
            "fresh_green",
            "清新绿",
            "Fresh green",
            (238, 246, 240),
            WHITE,
            (16, 42, 28),
            (58, 88, 70),
            (22, 101, 58),
            WHITE,
            (20, 94, 54),
        ),
        Palette(
            "warm_amber",
            "暖阳橙",
            "Warm amber",
            (255, 247, 228),
            WHITE,
            (48, 34, 8),
            (98, 72, 28),
            (255, 186, 20),
            (40, 28, 0),
            (150, 72, 0),
        ),
        Palette(
            "plum",
            "雅致紫",
            "Plum",
            (246, 240, 249),
            WHITE,
            (38, 20, 48),
            (92, 68, 104),
            (104, 30, 150),
            WHITE,
            (104, 30, 150),
        ),
        Palette(
            "night",
            "夜间深色",
            "Night",
            (16, 22, 36),
            (30, 40, 60),
            (246, 248, 251),
            (192, 202, 218),
            (255, 196, 0),
            (24, 20, 0),
            (255, 206, 64),
        ),
    )
}

DEFAULT_PALETTE = "civic_blue"
