"""Small builders for engine inputs, so tests read as the situation they describe."""

from __future__ import annotations

import datetime as dt

from schedules.model import (
    Announcement,
    Campaign,
    Catalogue,
    ContentItem,
    ItemKind,
    OperatingHours,
    Orientation,
    Priority,
    Screen,
    ScreenClass,
    Targeting,
    TimeRange,
)

UTC = dt.UTC


def item(id: str, duration: float = 10, kind: ItemKind = ItemKind.IMAGE, **kw: object) -> ContentItem:
    return ContentItem(id=id, kind=kind, duration_s=duration, **kw)  # type: ignore[arg-type]


def screen(
    id: str = "s1",
    cls: ScreenClass = ScreenClass.INDOOR_SMALL,
    tz: str = "Asia/Shanghai",
    hours: OperatingHours | None = None,
    **kw: object,
) -> Screen:
    return Screen(id=id, screen_class=cls, timezone=tz, hours=hours or OperatingHours(), **kw)  # type: ignore[arg-type]


def daily_hours(start: dt.time, end: dt.time, days: range = range(7), **kw: object) -> OperatingHours:
    return OperatingHours(always_on=False, weekly={d: (TimeRange(start=start, end=end),) for d in days}, **kw)  # type: ignore[arg-type]


def campaign(
    id: str,
    advertiser: str | None = None,
    items: tuple[str, ...] = ("ad",),
    share: float | None = 10,
    start: dt.date = dt.date(2026, 1, 1),
    end: dt.date = dt.date(2026, 12, 31),
    **kw: object,
) -> Campaign:
    if "plays_per_hour" in kw:
        share = None
    return Campaign(
        id=id,
        advertiser_id=advertiser or f"adv-{id}",
        item_ids=items,
        flight_start=start,
        flight_end=end,
        share_percent=share,
        **kw,
    )  # type: ignore[arg-type]


def announcement(
    id: str,
    items: tuple[str, ...] = ("notice",),
    priority: Priority = Priority.NORMAL,
    valid_from: dt.datetime = dt.datetime(2026, 1, 1, tzinfo=UTC),
    **kw: object,
) -> Announcement:
    return Announcement(id=id, item_ids=items, priority=priority, valid_from=valid_from, **kw)  # type: ignore[arg-type]


def catalogue(items: list[ContentItem], filler: tuple[str, ...] = ("slide",), **kw: object) -> Catalogue:
    by_id = {i.id: i for i in items}
    return Catalogue(items=by_id, filler_item_ids=filler, **kw)  # type: ignore[arg-type]


BASE_ITEMS = [
    item("slide", 10),
    item("notice", 10, ItemKind.TEXT, text={"en": "Notice", "zh": "通知"}),
    item("ad", 10),
    item("ad2", 10),
    item("alert", 20, ItemKind.TEXT),
]

__all__ = [
    "BASE_ITEMS",
    "UTC",
    "Orientation",
    "Targeting",
    "announcement",
    "campaign",
    "catalogue",
    "daily_hours",
    "item",
    "screen",
]
