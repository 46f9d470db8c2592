"""What the demo's slides say, read from ``data/content.toml`` into typed values.

Announcements (停水通知, 老年人健康体检日, 垃圾分类提醒, 冬季消防安全), three merchants' ads
(bakery, pharmacy, laundry), the community's filler slides and the icons are data, edited in
the TOML file; :mod:`signage_demo.media` draws them.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parent / "data"

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class Palette:
    top: RGB
    bottom: RGB
    accent: RGB
    ink: RGB = (255, 255, 255)
    soft_ink: RGB = (235, 240, 245)


@dataclass(frozen=True)
class Slide:
    """One bilingual slide: what it says and how it is coloured."""

    key: str
    tag_zh: str
    tag_en: str
    title_zh: str
    title_en: str
    body_zh: str
    body_en: str
    icon: str  # a key of DemoContent.icons
    palette: Palette
    footer_zh: str
    footer_en: str
    chips: tuple[tuple[str, RGB], ...] = ()  # small labelled colour chips under the body


@dataclass(frozen=True)
class Merchant:
    """A local advertiser and the ad it runs: two scenes, shown as images and as a video."""

    key: str
    name_zh: str
    name_en: str
    category: str
    username: str
    scenes: tuple[Slide, Slide]
    ticker_zh: str = ""
    ticker_en: str = ""


@dataclass(frozen=True)
class Icon:
    glyph: str  # one CJK character drawn in a disc
    colour: RGB
    label_zh: str
    label_en: str


@dataclass(frozen=True)
class DemoContent:
    community_zh: str
    community_en: str
    icons: dict[str, Icon]
    kiosk_category_icons: tuple[str, ...]  # schedules.protocol.kiosk.ServiceCategory ids
    announcements: tuple[Slide, ...]
    merchants: tuple[Merchant, ...]
    fillers: tuple[Slide, ...]


def _rgb(value: list[int]) -> RGB:
    r, g, b = value
    return (r, g, b)


def _slide(raw: dict[str, Any], issuer_zh: str, issuer_en: str) -> Slide:
    palette = {k: _rgb(v) for k, v in raw["palette"].items()}
    return Slide(
        key=raw["key"],
        tag_zh=raw["tag_zh"],
        tag_en=raw["tag_en"],
        title_zh=raw["title_zh"],
        title_en=raw["title_en"],
        body_zh=raw["body_zh"],
        body_en=raw["body_en"],
        icon=raw["icon"],
        palette=Palette(**palette),
        footer_zh=raw.get("footer_zh", f"发布：{issuer_zh}"),
        footer_en=raw.get("footer_en", f"Issued by {issuer_en}"),
        chips=tuple((c["label"], _rgb(c["colour"])) for c in raw.get("chips", ())),
    )


@functools.cache
def content() -> DemoContent:
    """The demo content (read once)."""
    raw = tomllib.loads((DATA_DIR / "content.toml").read_text(encoding="utf-8"))
    issuer, icons = (raw["issuer_zh"], raw["issuer_en"]), raw["icons"].items()
    merchants = []
    for m in raw["merchants"]:
        first, second = (_slide(s, *issuer) for s in m["scenes"])
        fields = {k: v for k, v in m.items() if k != "scenes"}
        merchants.append(Merchant(scenes=(first, second), **fields))
    return DemoContent(
        community_zh=raw["community_zh"],
        community_en=raw["community_en"],
        icons={k: Icon(i["glyph"], _rgb(i["colour"]), i["label_zh"], i["label_en"]) for k, i in icons},
        kiosk_category_icons=tuple(raw["kiosk_category_icons"]),
        announcements=tuple(_slide(s, *issuer) for s in raw["announcements"]),
        merchants=tuple(merchants),
        fillers=tuple(_slide(s, *issuer) for s in raw["fillers"]),
    )


@functools.cache
def layout() -> dict[str, Any]:
    """How slides are laid out, per orientation (``data/layout.toml``)."""
    return tomllib.loads((DATA_DIR / "layout.toml").read_text(encoding="utf-8"))
