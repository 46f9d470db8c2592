"""Domain model shared by the server and the players: screens, content, announcements, campaigns.

These pydantic models are the scheduling engine's inputs. They are also embedded in the
manifest (see :mod:`schedules.protocol.device`), so a player can compute its own timeline offline.
All datetimes are timezone-aware; local wall-clock concepts (dayparts, operating hours)
are interpreted in the screen's own time zone.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, field_validator, model_validator


def _sorted(values: frozenset[Any]) -> list[Any]:
    return sorted(values)


# a set goes out as a sorted list: its own order depends on how it was built, so the same set
# could give other JSON (a third of screens re-serialised differently after a round trip)
SORTED = PlainSerializer(_sorted, when_used="json")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ScreenClass(StrEnum):
    OUTDOOR_LARGE = "outdoor_large"
    INDOOR_SMALL = "indoor_small"
    KIOSK = "kiosk"


class Orientation(StrEnum):
    LANDSCAPE = "landscape"
    PORTRAIT = "portrait"


class ItemKind(StrEnum):
    IMAGE = "image"
    VIDEO = "video"
    TEXT = "text"
    WEB = "web"  # a page the community controls, on its allowed hosts (protocol 1.2)
    STREAM = "stream"  # a live HLS or RTSP stream (protocol 1.2)


# Kinds a player understands only when it says so (``GET /device/manifest?kinds=web,stream``): an
# older player refuses a whole manifest holding an item of a kind it does not know.
LIVE_KINDS = frozenset({ItemKind.WEB, ItemKind.STREAM})
BASE_KINDS = frozenset(ItemKind) - LIVE_KINDS


class Priority(StrEnum):
    NORMAL = "normal"
    IMPORTANT = "important"
    EMERGENCY = "emergency"


class SlotSource(StrEnum):
    """Why a slot exists: what booked it."""

    ANNOUNCEMENT = "announcement"
    CAMPAIGN = "campaign"
    FILLER = "filler"
    EMERGENCY = "emergency"


class Zone(StrEnum):
    MAIN = "main"
    TICKER = "ticker"


class TimeRange(_Frozen):
    """A local wall-clock range within one day; ``end`` of 00:00 means midnight at the end."""

    start: dt.time
    end: dt.time


class OperatingHours(_Frozen):
    """When the screen is on, per local weekday (0 = Monday). Missing weekday = off all day.

    ``weekly`` applies only with ``always_on=False``. A range ending at 00:00 runs to midnight;
    one ending before it starts runs past midnight (it belongs to the day it starts on).
    """

    always_on: bool = True  # on around the clock (except holidays); weekly is then ignored
    weekly: dict[int, tuple[TimeRange, ...]] = Field(default_factory=dict)
    holidays: tuple[dt.date, ...] = ()  # screen off all day on these local dates

    @field_validator("weekly")
    @classmethod
    def _weekday_keys(cls, v: dict[int, tuple[TimeRange, ...]]) -> dict[int, tuple[TimeRange, ...]]:
        for k in v:
            if not 0 <= k <= 6:
                raise ValueError(f"weekly: weekday {k} is not in 0..6 (0 = Monday)")
        return v


class Screen(_Frozen):
    id: str
    name: str = ""
    screen_class: ScreenClass
    orientation: Orientation = Orientation.LANDSCAPE
    width: int = 1920
    height: int = 1080
    groups: Annotated[frozenset[str], SORTED] = frozenset()
    tags: Annotated[frozenset[str], SORTED] = frozenset()  # "key:value", e.g. "building:3", "floor:B1"
    timezone: str = "Asia/Shanghai"
    hours: OperatingHours = OperatingHours()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"timezone: unknown time zone {v!r}") from exc
        return v


class ContentItem(_Frozen):
    """One playable thing. Images, text, pages and streams have a configured duration; videos their real one.

    Web pages and streams carry their address (and a page its allowed hosts and load timeout);
    those fields are left out of the wire form when unset, so what older players parse is unchanged.
    """

    id: str
    kind: ItemKind
    duration_s: float = Field(gt=0, le=3600)
    asset_sha256: str | None = None  # image/video bytes in the content-addressed store
    text: dict[str, str] = Field(default_factory=dict)  # lang -> text, for TEXT items/tickers
    title: str = ""
    screen_classes: Annotated[frozenset[ScreenClass], SORTED] = frozenset(ScreenClass)
    orientations: Annotated[frozenset[Orientation], SORTED] = frozenset(Orientation)
    url: str | None = Field(None, max_length=2000, exclude_if=lambda v: v is None)  # WEB, STREAM
    allowed_hosts: tuple[str, ...] = Field((), max_length=20, exclude_if=lambda v: not v)  # WEB
    load_timeout_s: float | None = Field(None, gt=0, le=120, exclude_if=lambda v: v is None)  # WEB

    @model_validator(mode="after")
    def _address(self) -> ContentItem:
        if (self.kind in LIVE_KINDS) != (self.url is not None):
            raise ValueError("url: web pages and streams have one, other items none")
        return self


class Targeting(_Frozen):
    """Which screens. Empty sets mean "any"; all given criteria must hold."""

    screen_classes: Annotated[frozenset[ScreenClass], SORTED] = frozenset()
    groups: Annotated[frozenset[str], SORTED] = frozenset()  # screen in any of these groups
    screen_ids: Annotated[frozenset[str], SORTED] = frozenset()
    tag_expr: str | None = None  # e.g. "building:3 AND NOT floor:B1"


class Daypart(_Frozen):
    """Local weekdays (0 = Monday) and a wall-clock range, e.g. weekdays 07:00-09:00."""

    weekdays: Annotated[frozenset[int], SORTED] = frozenset(range(7))
    start: dt.time
    end: dt.time  # 00:00 means end of day


class Announcement(_Frozen):
    id: str
    item_ids: tuple[str, ...]
    priority: Priority = Priority.NORMAL
    valid_from: dt.datetime
    valid_until: dt.datetime | None = None
    targeting: Targeting = Targeting()
    ticker_text: dict[str, str] = Field(default_factory=dict)  # shown on indoor_small tickers


class Campaign(_Frozen):
    """An approved merchant booking. Exactly one of share_percent / plays_per_hour is set."""

    id: str
    advertiser_id: str
    name: str = ""
    category: str = ""  # competitor categories are never adjacent
    item_ids: tuple[str, ...]
    flight_start: dt.date
    flight_end: dt.date  # inclusive, local dates
    dayparts: tuple[Daypart, ...] = ()  # empty = all day
    rrule: str | None = None  # RFC 5545 RRULE limiting active local dates, e.g. "FREQ=WEEKLY;BYDAY=SA,SU"
    targeting: Targeting = Targeting()
    share_percent: float | None = None  # percent of loop time
    plays_per_hour: int | None = None
    frequency_cap_per_hour: int | None = None  # max plays per screen per hour

    @model_validator(mode="after")
    def _one_booking_kind(self) -> Campaign:
        if (self.share_percent is None) == (self.plays_per_hour is None):
            raise ValueError("share_percent/plays_per_hour: set exactly one of them")
        return self


class HouseRules(_Frozen):
    loop_seconds: int = 120
    min_announcement_share: float = 0.0  # percent of loop guaranteed to announcements
    max_ad_share: float = 100.0  # percent of loop ads may take
    min_dwell_s: float = 5.0  # no item shorter than this (outdoor: viewed from a distance)


class HouseRulesOverride(_Frozen):
    """A screen group's own house rules, over its screens' class rules; unset fields keep those.

    A screen in several groups with overrides gets the strictest for residents: the largest
    announcement share and dwell, the smallest ad share, the longest loop.
    """

    loop_seconds: int | None = None
    min_announcement_share: float | None = None
    max_ad_share: float | None = None
    min_dwell_s: float | None = None

    def apply(self, base: HouseRules) -> HouseRules:
        """``base`` with the fields this override sets replaced (a group may also loosen a rule)."""
        return HouseRules(
            loop_seconds=base.loop_seconds if self.loop_seconds is None else self.loop_seconds,
            min_announcement_share=base.min_announcement_share
            if self.min_announcement_share is None
            else self.min_announcement_share,
            max_ad_share=base.max_ad_share if self.max_ad_share is None else self.max_ad_share,
            min_dwell_s=base.min_dwell_s if self.min_dwell_s is None else self.min_dwell_s,
        )


DEFAULT_HOUSE_RULES: dict[ScreenClass, HouseRules] = {
    ScreenClass.OUTDOOR_LARGE: HouseRules(
        loop_seconds=120, min_announcement_share=20, max_ad_share=70, min_dwell_s=8
    ),
    ScreenClass.INDOOR_SMALL: HouseRules(
        loop_seconds=120, min_announcement_share=40, max_ad_share=50, min_dwell_s=5
    ),
    ScreenClass.KIOSK: HouseRules(loop_seconds=90, min_announcement_share=30, max_ad_share=60, min_dwell_s=5),
}


class Catalogue(_Frozen):
    """Everything the engine needs besides the screen and the time range."""

    items: dict[str, ContentItem] = Field(default_factory=dict)
    announcements: tuple[Announcement, ...] = ()
    campaigns: tuple[Campaign, ...] = ()
    filler_item_ids: tuple[str, ...] = ()
    house_rules: dict[ScreenClass, HouseRules] = Field(default_factory=lambda: dict(DEFAULT_HOUSE_RULES))
    # group name -> overrides; left out of the wire form when empty, so older players still parse
    group_house_rules: dict[str, HouseRulesOverride] = Field(default_factory=dict, exclude_if=lambda v: not v)


def for_kinds(catalogue: Catalogue, kinds: frozenset[ItemKind]) -> Catalogue:
    """``catalogue`` without the items of kinds a player does not know, and without announcements
    and campaigns left with nothing to play: the same catalogue when nothing is dropped."""
    dropped = {i for i, item in catalogue.items.items() if item.kind not in kinds}
    if not dropped:
        return catalogue

    def kept(ids: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(i for i in ids if i not in dropped)

    return catalogue.model_copy(
        update={
            "items": {i: item for i, item in catalogue.items.items() if i not in dropped},
            "announcements": tuple(
                a.model_copy(update={"item_ids": kept(a.item_ids)})
                for a in catalogue.announcements
                if kept(a.item_ids)
            ),
            "campaigns": tuple(
                c.model_copy(update={"item_ids": kept(c.item_ids)})
                for c in catalogue.campaigns
                if kept(c.item_ids)
            ),
            "filler_item_ids": kept(catalogue.filler_item_ids),
        }
    )


def screen_house_rules(catalogue: Catalogue, screen: Screen) -> HouseRules:
    """The house rules a screen plays by: its class's, then its groups' overrides (strictest)."""
    base = catalogue.house_rules.get(screen.screen_class) or DEFAULT_HOUSE_RULES[screen.screen_class]
    groups = catalogue.group_house_rules
    overrides = [groups[g] for g in sorted(screen.groups) if g in groups]
    if not overrides:
        return base
    candidates = [o.apply(base) for o in overrides]
    return HouseRules(
        loop_seconds=max(r.loop_seconds for r in candidates),
        min_announcement_share=max(r.min_announcement_share for r in candidates),
        max_ad_share=min(r.max_ad_share for r in candidates),
        min_dwell_s=max(r.min_dwell_s for r in candidates),
    )


class Slot(_Frozen):
    """One placement on a screen's timeline: [start, end) in UTC."""

    start: dt.datetime
    end: dt.datetime
    item_id: str
    zone: Zone = Zone.MAIN
    source: SlotSource
    source_id: str | None = None  # announcement or campaign id
