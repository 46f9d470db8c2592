"""Builders for manifests the tests feed the player (the same models the server sends)."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

from schedules.model import (
    Announcement,
    Catalogue,
    ContentItem,
    ItemKind,
    OperatingHours,
    Priority,
    Screen,
    ScreenClass,
    TimeRange,
)
from schedules.protocol.device import AssetRef, Manifest

T0 = dt.datetime(2026, 11, 25, 2, 0, tzinfo=dt.UTC)  # 10:00 in Asia/Shanghai


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def asset_item(id_: str, kind: ItemKind, path: Path, duration_s: float = 10) -> tuple[ContentItem, AssetRef]:
    digest = sha(path)
    media = "video/mp4" if kind is ItemKind.VIDEO else "image/png"
    item = ContentItem(id=id_, kind=kind, duration_s=duration_s, asset_sha256=digest, title=id_)
    ref = AssetRef(sha256=digest, size=path.stat().st_size, media_type=media, url=f"/api/v1/assets/{digest}")
    return item, ref


def text_item(id_: str, zh: str, en: str = "", duration_s: float = 10) -> ContentItem:
    text = {"zh": zh, "en": en} if en else {"zh": zh}
    return ContentItem(id=id_, kind=ItemKind.TEXT, duration_s=duration_s, text=text)


def manifest(
    items: list[tuple[ContentItem, AssetRef | None]],
    screen_class: ScreenClass = ScreenClass.OUTDOOR_LARGE,
    hours: OperatingHours | None = None,
    announcements: tuple[Announcement, ...] = (),
    default_item_id: str | None = None,
    version: str = "v1",
) -> Manifest:
    screen = Screen(id="s1", name="东门大屏", screen_class=screen_class, hours=hours or OperatingHours())
    cat = Catalogue(
        items={i.id: i for i, _ in items},
        filler_item_ids=tuple(i.id for i, _ in items),
        announcements=announcements,
    )
    return Manifest(
        version=version,
        generated_at=T0,
        valid_until=T0 + dt.timedelta(days=7),
        screen=screen,
        catalogue=cat,
        assets=tuple(a for _, a in items if a is not None),
        default_item_id=default_item_id,
    )


def office_hours() -> OperatingHours:
    day = (TimeRange(start=dt.time(7), end=dt.time(22)),)
    return OperatingHours(always_on=False, weekly={d: day for d in range(7)})


def emergency(id_: str, item_id: str, start: dt.datetime) -> Announcement:
    return Announcement(id=id_, item_ids=(item_id,), priority=Priority.EMERGENCY, valid_from=start,
                        valid_until=start + dt.timedelta(hours=1))
